<?php
/**
 * Signed consent tokens (docs/api.md §2): a byte-compatible PHP port of itsdangerous 2.x
 *
 *     URLSafeTimedSerializer(keys, salt="secure-privacy/consent/v1",
 *         signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256})
 *
 * Token layout: base64url(json) "." base64url(timestamp) "." base64url(hmac-sha256),
 * base64url without "=" padding; a payload part starting with "." is zlib-compressed.
 * This signer never compresses but verifies compressed tokens from Python clients.
 *
 * Self-contained (no WordPress function is used), so PHPUnit and the CLI helper in
 * tests/php/ load this file alone.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/**
 * Base of every token error (itsdangerous `BadData`).
 */
class Secure_Privacy_Bad_Data extends RuntimeException {}

/**
 * The token is malformed or its signature matches none of the keys (itsdangerous `BadSignature`).
 */
class Secure_Privacy_Bad_Signature extends Secure_Privacy_Bad_Data {}

/**
 * The signature is valid but older than the allowed age, or from the future
 * (itsdangerous `SignatureExpired`, also a bad signature).
 */
class Secure_Privacy_Expired_Signature extends Secure_Privacy_Bad_Signature {

	/**
	 * Unix time the token was signed at.
	 *
	 * @var int
	 */
	public int $signed_at;

	/**
	 * @param string $message   Why the token is refused.
	 * @param int    $signed_at Unix time the token was signed at.
	 */
	public function __construct( string $message, int $signed_at ) {
		parent::__construct( $message );
		$this->signed_at = $signed_at;
	}
}

/**
 * The signature is valid but the payload cannot be decoded (itsdangerous `BadPayload`).
 */
class Secure_Privacy_Bad_Payload extends Secure_Privacy_Bad_Data {}

/**
 * Signs and verifies consent tokens with a list of secrets (oldest first, the last one signs).
 */
final class Secure_Privacy_Signer {

	/** The salt of consent tokens; another purpose would get another salt. */
	public const SALT = 'secure-privacy/consent/v1';

	/** Flags that make json_encode() write what Python's json.dumps(ensure_ascii=False, separators=(",", ":")) writes. */
	public const JSON_FLAGS = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_LINE_TERMINATORS | JSON_PRESERVE_ZERO_FRACTION | JSON_THROW_ON_ERROR;

	/** Largest decompressed payload accepted from a compressed token, in bytes. */
	private const MAX_DECOMPRESSED_BYTES = 1048576;

	private const SEP = '.';

	/**
	 * Secrets, oldest first.
	 *
	 * @var string[]
	 */
	private array $keys;

	private string $salt;

	/**
	 * @param string[] $keys Secrets, oldest first; the last one signs. Empty entries are ignored.
	 * @param string   $salt Namespace of the tokens.
	 * @throws InvalidArgumentException When no non-empty secret is given.
	 */
	public function __construct( array $keys, string $salt = self::SALT ) {
		$keys = array_values(
			array_filter(
				array_map( 'strval', $keys ),
				static fn( string $key ): bool => '' !== $key
			)
		);
		if ( ! $keys ) {
			throw new InvalidArgumentException( 'At least one signing secret is required.' );
		}
		$this->keys = $keys;
		$this->salt = $salt;
	}

	/**
	 * A signer for a comma- or newline-separated list of secrets, as SP_SECRET_KEYS holds them.
	 *
	 * @param string $list Secrets, oldest first; surrounding whitespace is trimmed.
	 * @throws InvalidArgumentException When the list holds no secret.
	 */
	public static function from_list( string $list, string $salt = self::SALT ): self {
		return new self( self::split_keys( $list ), $salt );
	}

	/**
	 * The secrets in a comma- or newline-separated list, trimmed, empty ones dropped.
	 *
	 * @return string[]
	 */
	public static function split_keys( string $list ): array {
		$parts = preg_split( '/[,\r\n]+/', $list );
		return array_values( array_filter( array_map( 'trim', $parts ? $parts : array() ), 'strlen' ) );
	}

	/**
	 * Sign $payload with the newest key.
	 *
	 * @param array    $payload   JSON-serialisable data (an empty PHP array encodes as `[]`).
	 * @param int|null $timestamp Unix time to sign at; now by default.
	 * @return string The token, ASCII only.
	 * @throws JsonException When the payload cannot be encoded (e.g. invalid UTF-8).
	 * @throws InvalidArgumentException When the timestamp is negative.
	 */
	public function sign( array $payload, ?int $timestamp = null ): string {
		$timestamp = $timestamp ?? time();
		if ( $timestamp < 0 ) {
			throw new InvalidArgumentException( 'The timestamp must not be negative.' );
		}
		$value = self::b64encode( json_encode( $payload, self::JSON_FLAGS ) )
			. self::SEP . self::b64encode( ltrim( pack( 'J', $timestamp ), "\0" ) );
		$key   = $this->keys[ count( $this->keys ) - 1 ];
		return $value . self::SEP . self::b64encode( $this->signature( $key, $value ) );
	}

	/**
	 * Verify $token against every key and return its payload.
	 *
	 * @param string   $token   A token from sign() or from itsdangerous (compressed or not).
	 * @param int      $max_age Largest accepted age in seconds.
	 * @param int|null $now     Unix time to measure the age against; now by default.
	 * @return array The payload.
	 * @throws Secure_Privacy_Expired_Signature When the token is older than $max_age or from the future.
	 * @throws Secure_Privacy_Bad_Signature     When the token is malformed or no key matches.
	 * @throws Secure_Privacy_Bad_Payload       When the signed payload is not a JSON object.
	 */
	public function unsign( string $token, int $max_age, ?int $now = null ): array {
		$pos = strrpos( $token, self::SEP );
		if ( false === $pos ) {
			throw new Secure_Privacy_Bad_Signature( 'No "." found in the token.' );
		}
		$value     = substr( $token, 0, $pos );
		$signature = self::b64decode( substr( $token, $pos + 1 ) );
		if ( null === $signature || ! $this->matches_a_key( $value, $signature ) ) {
			throw new Secure_Privacy_Bad_Signature( 'The signature does not match.' );
		}

		$pos = strrpos( $value, self::SEP );
		if ( false === $pos ) {
			throw new Secure_Privacy_Bad_Signature( 'The timestamp is missing.' );
		}
		$body      = substr( $value, 0, $pos );
		$ts_bytes  = self::b64decode( substr( $value, $pos + 1 ) );
		if ( null === $ts_bytes || strlen( $ts_bytes ) > 8 ) {
			throw new Secure_Privacy_Bad_Signature( 'The timestamp is malformed.' );
		}
		$signed_at = 0;
		foreach ( str_split( $ts_bytes ) as $byte ) {
			$signed_at = ( $signed_at << 8 ) | ord( $byte );
		}
		$age = ( $now ?? time() ) - $signed_at;
		if ( $age > $max_age ) {
			throw new Secure_Privacy_Expired_Signature( "The signature age {$age} > {$max_age} seconds.", $signed_at );
		}
		if ( $age < 0 ) {
			throw new Secure_Privacy_Expired_Signature( "The signature age {$age} < 0 seconds.", $signed_at );
		}

		return $this->load_payload( $body );
	}

	/**
	 * URL-safe base64 without "=" padding, as itsdangerous writes it.
	 */
	public static function b64encode( string $data ): string {
		return rtrim( strtr( base64_encode( $data ), '+/', '-_' ), '=' );
	}

	/**
	 * Decode URL-safe base64 with or without padding; null when $data is not base64url.
	 */
	public static function b64decode( string $data ): ?string {
		if ( 1 !== preg_match( '/^[A-Za-z0-9_-]*={0,2}$/D', $data ) ) {
			return null;
		}
		$data    = rtrim( $data, '=' );
		$decoded = base64_decode( strtr( $data, '-_', '+/' ) . str_repeat( '=', ( 4 - strlen( $data ) % 4 ) % 4 ), true );
		return false === $decoded ? null : $decoded;
	}

	/**
	 * Whether $signature is the HMAC of $value under any key (newest tried first).
	 */
	private function matches_a_key( string $value, string $signature ): bool {
		foreach ( array_reverse( $this->keys ) as $key ) {
			if ( hash_equals( $this->signature( $key, $value ), $signature ) ) {
				return true;
			}
		}
		return false;
	}

	/**
	 * itsdangerous Signer.get_signature with key_derivation="hmac" and sha256, raw bytes.
	 */
	private function signature( string $secret, string $value ): string {
		$derived = hash_hmac( 'sha256', $this->salt, $secret, true );
		return hash_hmac( 'sha256', $value, $derived, true );
	}

	/**
	 * Decode the (verified) payload part: base64url, zlib when it starts with ".", JSON object.
	 *
	 * @throws Secure_Privacy_Bad_Payload When any step fails.
	 */
	private function load_payload( string $body ): array {
		$compressed = str_starts_with( $body, self::SEP );
		$json       = self::b64decode( $compressed ? substr( $body, 1 ) : $body );
		if ( null === $json ) {
			throw new Secure_Privacy_Bad_Payload( 'The payload is not valid base64.' );
		}
		if ( $compressed ) {
			// phpcs:ignore WordPress.PHP.NoSilencedErrors.Discouraged -- failure is reported below.
			$json = @gzuncompress( $json, self::MAX_DECOMPRESSED_BYTES );
			if ( false === $json ) {
				throw new Secure_Privacy_Bad_Payload( 'The payload could not be decompressed.' );
			}
		}
		try {
			$payload = json_decode( $json, true, 512, JSON_THROW_ON_ERROR );
		} catch ( JsonException $e ) {
			throw new Secure_Privacy_Bad_Payload( 'The payload is not valid JSON.', 0, $e );
		}
		if ( ! is_array( $payload ) ) {
			throw new Secure_Privacy_Bad_Payload( 'The payload is not a JSON object.' );
		}
		return $payload;
	}
}
