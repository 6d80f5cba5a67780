<?php
/**
 * The PHP signer against the shared itsdangerous vectors (tests/vectors/signing.json).
 *
 * @package SecurePrivacy
 */

use PHPUnit\Framework\TestCase;

final class SignerTest extends TestCase {

	private const MAX_AGE = 300;

	private static array $vectors;

	public static function setUpBeforeClass(): void {
		$json          = file_get_contents( dirname( __DIR__ ) . '/vectors/signing.json' );
		self::$vectors = json_decode( $json, true, 512, JSON_THROW_ON_ERROR );
	}

	private function signer(): Secure_Privacy_Signer {
		return new Secure_Privacy_Signer( self::$vectors['keys'], self::$vectors['salt'] );
	}

	/** Verifying "now" as seen from the vectors' fixed signing time. */
	private function vector_now(): int {
		return self::$vectors['timestamp'] + 10;
	}

	public static function uncompressed_vectors(): iterable {
		self::setUpBeforeClass();
		foreach ( self::$vectors['valid'] as $vector ) {
			if ( ! str_starts_with( $vector['token'], '.' ) ) {
				yield $vector['name'] => array( $vector );
			}
		}
	}

	public static function valid_vectors(): iterable {
		self::setUpBeforeClass();
		foreach ( self::$vectors['valid'] as $vector ) {
			yield $vector['name'] => array( $vector );
		}
	}

	public static function invalid_vectors(): iterable {
		self::setUpBeforeClass();
		foreach ( self::$vectors['invalid'] as $vector ) {
			yield $vector['name'] => array( $vector );
		}
	}

	public function test_the_vectors_use_the_contract_salt(): void {
		$this->assertSame( Secure_Privacy_Signer::SALT, self::$vectors['salt'] );
	}

	/**
	 * @dataProvider uncompressed_vectors
	 */
	public function test_sign_reproduces_an_uncompressed_vector_byte_for_byte( array $vector ): void {
		// Sign with the keys that made the vector: its newest key is the one that signed it.
		$keys   = 'older key, uncompressed' === $vector['name'] ? array_slice( self::$vectors['keys'], 0, 1 ) : self::$vectors['keys'];
		$signer = new Secure_Privacy_Signer( $keys, self::$vectors['salt'] );

		$this->assertSame( $vector['token'], $signer->sign( $vector['payload'], self::$vectors['timestamp'] ) );
	}

	/**
	 * @dataProvider valid_vectors
	 */
	public function test_unsign_returns_the_exact_payload_of_a_valid_vector( array $vector ): void {
		$this->assertSame( $vector['payload'], $this->signer()->unsign( $vector['token'], self::MAX_AGE, $this->vector_now() ) );
	}

	public function test_the_compressed_vector_really_is_compressed(): void {
		$compressed = array_filter( self::$vectors['valid'], static fn( $v ) => str_starts_with( $v['token'], '.' ) );
		$this->assertCount( 1, $compressed );
	}

	/**
	 * @dataProvider invalid_vectors
	 */
	public function test_unsign_rejects_an_invalid_vector_as_a_bad_signature( array $vector ): void {
		try {
			$this->signer()->unsign( $vector['token'], self::MAX_AGE, $this->vector_now() );
			$this->fail( 'The token was accepted.' );
		} catch ( Secure_Privacy_Bad_Signature $e ) {
			$this->assertSame( Secure_Privacy_Bad_Signature::class, get_class( $e ), 'refused for the wrong reason: ' . $e->getMessage() );
		}
	}

	public function test_an_old_token_raises_the_expired_exception(): void {
		$vector = self::$vectors['valid'][0];

		try {
			$this->signer()->unsign( $vector['token'], self::MAX_AGE, self::$vectors['timestamp'] + self::MAX_AGE + 1 );
			$this->fail( 'The expired token was accepted.' );
		} catch ( Secure_Privacy_Expired_Signature $e ) {
			$this->assertSame( self::$vectors['timestamp'], $e->signed_at );
		}
	}

	public function test_a_token_at_exactly_max_age_is_still_valid(): void {
		$vector = self::$vectors['valid'][0];

		$payload = $this->signer()->unsign( $vector['token'], self::MAX_AGE, self::$vectors['timestamp'] + self::MAX_AGE );

		$this->assertSame( $vector['payload'], $payload );
	}

	public function test_a_token_from_the_future_is_refused_as_expired(): void {
		$this->expectException( Secure_Privacy_Expired_Signature::class );

		$this->signer()->unsign( self::$vectors['valid'][0]['token'], self::MAX_AGE, self::$vectors['timestamp'] - 1 );
	}

	public function test_a_fresh_token_round_trips(): void {
		$payload = self::$vectors['valid'][0]['payload'];
		$signer  = $this->signer();

		$this->assertSame( $payload, $signer->unsign( $signer->sign( $payload ), self::MAX_AGE ) );
	}

	public function test_a_token_signed_with_a_retired_key_is_refused(): void {
		$old    = new Secure_Privacy_Signer( array( 'retired-key' ) );
		$signer = new Secure_Privacy_Signer( array( 'current-key' ) );

		$this->expectException( Secure_Privacy_Bad_Signature::class );

		$signer->unsign( $old->sign( array( 'a' => 1 ) ), self::MAX_AGE );
	}

	public function test_the_salt_separates_purposes(): void {
		$other = new Secure_Privacy_Signer( self::$vectors['keys'], 'another-purpose' );

		$this->expectException( Secure_Privacy_Bad_Signature::class );

		$this->signer()->unsign( $other->sign( array( 'a' => 1 ) ), self::MAX_AGE );
	}

	public function test_a_validly_signed_non_object_payload_is_a_bad_payload(): void {
		// Sign the JSON number 1 by hand, the way itsdangerous would.
		$value  = Secure_Privacy_Signer::b64encode( '1' ) . '.' . Secure_Privacy_Signer::b64encode( pack( 'N', time() ) );
		$key    = hash_hmac( 'sha256', Secure_Privacy_Signer::SALT, self::$vectors['keys'][1], true );
		$forged = $value . '.' . Secure_Privacy_Signer::b64encode( hash_hmac( 'sha256', $value, $key, true ) );

		$this->expectException( Secure_Privacy_Bad_Payload::class );

		$this->signer()->unsign( $forged, self::MAX_AGE );
	}

	public function test_from_list_splits_commas_and_newlines_and_signs_with_the_last_key(): void {
		$this->assertSame( array( 'a', 'b c', 'd' ), Secure_Privacy_Signer::split_keys( " a ,\nb c\r\n, ,d\n" ) );

		$token = Secure_Privacy_Signer::from_list( "old-secret-2026-01,\nnew-secret-2026-11\n" )
			->sign( self::$vectors['valid'][0]['payload'], self::$vectors['timestamp'] );

		$this->assertSame( self::$vectors['valid'][0]['token'], $token );
	}

	public function test_a_signer_needs_a_key(): void {
		$this->expectException( InvalidArgumentException::class );

		Secure_Privacy_Signer::from_list( " , \n" );
	}

	public static function scan_page_vectors(): iterable {
		self::setUpBeforeClass();
		foreach ( self::$vectors['scan_pages']['valid'] as $vector ) {
			yield $vector['name'] => array( $vector );
		}
	}

	public static function invalid_scan_page_vectors(): iterable {
		self::setUpBeforeClass();
		foreach ( self::$vectors['scan_pages']['invalid'] as $vector ) {
			yield $vector['name'] => array( $vector );
		}
	}

	/**
	 * A page-list token made by the sidecar (`sidecar.signing.serializer(keys,
	 * "secure-privacy/scan-pages/v1")`) verifies with the PHP signer under that salt.
	 *
	 * @dataProvider scan_page_vectors
	 */
	public function test_a_scan_page_token_of_the_sidecar_verifies_in_php( array $vector ): void {
		$scan   = self::$vectors['scan_pages'];
		$signer = new Secure_Privacy_Signer( $scan['keys'], 'secure-privacy/scan-pages/v1' );

		$this->assertSame( 'secure-privacy/scan-pages/v1', $scan['salt'] );
		$this->assertSame( $vector['payload'], $signer->unsign( $vector['token'], self::MAX_AGE, $scan['timestamp'] + 10 ) );
		// And PHP signs it byte for byte as the sidecar does (its newest key).
		if ( 'sidecar serializer, newest key' === $vector['name'] ) {
			$this->assertSame( $vector['token'], $signer->sign( $vector['payload'], $scan['timestamp'] ) );
		}
	}

	/**
	 * @dataProvider invalid_scan_page_vectors
	 */
	public function test_a_scan_page_token_under_another_salt_or_key_is_refused( array $vector ): void {
		$scan = self::$vectors['scan_pages'];

		$this->expectException( Secure_Privacy_Bad_Signature::class );

		( new Secure_Privacy_Signer( $scan['keys'], $scan['salt'] ) )->unsign( $vector['token'], self::MAX_AGE, $scan['timestamp'] + 10 );
	}

	public function test_base64url_round_trips_every_length(): void {
		foreach ( range( 0, 7 ) as $length ) {
			$data = $length ? random_bytes( $length ) : '';
			$this->assertSame( $data, Secure_Privacy_Signer::b64decode( Secure_Privacy_Signer::b64encode( $data ) ) );
		}
		$this->assertNull( Secure_Privacy_Signer::b64decode( 'ab+/' ) );
	}
}
