<?php
/**
 * The public consent route inside WordPress, forwarding to the real sidecar of the test stack.
 *
 * @package SecurePrivacy
 */

final class RestRouteTest extends SP_WP_TestCase {

	public function test_a_valid_consent_is_signed_delivered_and_stored_once(): void {
		$body     = $this->body();
		$response = $this->post_consent( $body );
		$this->assertSame( 202, $response->get_status() );
		$data = $response->get_data();
		$this->assertSame( $body['event_id'], $data['event_id'] );
		$this->assertTrue( $data['delivered'] );

		$again = $this->post_consent( $body ); // The widget retrying the same event.
		$this->assertSame( 202, $again->get_status() );
		$records = $this->sidecar_records( $body['subject_id'] );
		$this->assertCount( 1, $records );
		// The visitor's receipt: signed by the sidecar with the shared keys, stating the record.
		$this->assertSame( $records[0]['id'], $data['record_id'] );
		$receipt = Secure_Privacy_Signer::from_list( (string) getenv( 'SP_TEST_SECRET_KEYS' ), 'secure-privacy/receipt/v1' )
			->unsign( $data['receipt'], 60 );
		$this->assertSame( $records[0]['id'], $receipt['id'] );
		$this->assertSame( $records[0]['hash'], $receipt['hash'] );
		$this->assertSame( $body['categories'], $receipt['categories'] );
		$this->assertSame( '203.0.113.10', $records[0]['ip'] );
		$this->assertSame( 'PHPUnit agent', $records[0]['user_agent'] );
		$this->assertSame( 0, $records[0]['wp_user_id'] );
		$this->assertSame( array(), $this->outbox() );
	}

	public function test_the_signer_speaks_the_sidecars_serializer(): void {
		$signer = Secure_Privacy_Signer::from_list( (string) getenv( 'SP_TEST_SECRET_KEYS' ) );
		$token  = $signer->sign( array( 'probe' => 'ü/é' ) );
		$this->assertSame( array( 'probe' => 'ü/é' ), $signer->unsign( $token, 60 ) );
		$this->assertTrue( secure_privacy_test_connection()['ok'] );
	}

	public function test_a_signed_in_user_is_recorded(): void {
		$user = wp_insert_user( array( 'user_login' => 'u' . wp_generate_password( 6, false ), 'user_pass' => 'x-Pass-123', 'user_email' => wp_generate_password( 6, false ) . '@example.com' ) );
		wp_set_current_user( $user );
		$body = $this->body();
		$this->assertSame( 202, $this->post_consent( $body )->get_status() );
		$this->assertSame( $user, $this->sidecar_records( $body['subject_id'] )[0]['wp_user_id'] );
		wp_set_current_user( 0 );
		wp_delete_user( $user );
	}

	/** @dataProvider bad_bodies */
	public function test_invalid_bodies_are_refused_with_400( array $overrides, string $field ): void {
		$response = $this->post_consent( $this->body( $overrides ) );
		$this->assertSame( 400, $response->get_status() );
		$this->assertStringContainsString( $field, (string) wp_json_encode( $response->get_data() ) );
		$this->assertSame( array(), $this->outbox() );
	}

	public static function bad_bodies(): array {
		return array(
			'event id not a uuid'       => array( array( 'event_id' => 'nope' ), 'event_id' ),
			'unknown action'            => array( array( 'action' => 'maybe' ), 'action' ),
			'page url not http'         => array( array( 'page_url' => 'javascript:alert(1)' ), 'page_url' ),
			'necessary refused'         => array( array( 'categories' => array( 'necessary' => false, 'preferences' => true, 'statistics' => true, 'marketing' => true ) ), 'categories' ),
			'accept all but refused'    => array( array( 'categories' => array( 'necessary' => true, 'preferences' => false, 'statistics' => true, 'marketing' => true ) ), 'categories' ),
			'withdraw with wrong method' => array( array( 'action' => 'withdraw' ), 'method' ),
			'language not a tag'        => array( array( 'language' => 'en_US!' ), 'language' ),
		);
	}

	public function test_accept_all_leaves_categories_the_site_does_not_offer_off(): void {
		$this->set( array( 'categories_enabled' => array( 'preferences', 'statistics' ) ) );
		$body = $this->body( array( 'categories' => array( 'necessary' => true, 'preferences' => true, 'statistics' => true, 'marketing' => false ) ) );
		$this->assertSame( 202, $this->post_consent( $body )->get_status() );
	}

	public function test_an_oversized_body_is_refused_with_413(): void {
		$body               = $this->body();
		$body['page_url']  .= '?' . str_repeat( 'a', SECURE_PRIVACY_MAX_BODY_BYTES );
		$this->assertSame( 413, $this->post_consent( $body )->get_status() );
	}

	public function test_rate_limit_per_address_answers_429_with_retry_after(): void {
		$this->set( array( 'rate_limit_per_minute' => 3 ) );
		for ( $i = 0; $i < 3; $i++ ) {
			$this->assertSame( 202, $this->post_consent( $this->body() )->get_status() );
		}
		$limited = $this->post_consent( $this->body() );
		$this->assertSame( 429, $limited->get_status() );
		$retry = (int) $limited->get_headers()['Retry-After'];
		$this->assertGreaterThanOrEqual( 1, $retry );
		$this->assertLessThanOrEqual( 60, $retry );
		$_SERVER['REMOTE_ADDR'] = '203.0.113.11'; // Another visitor is not affected.
		$this->assertSame( 202, $this->post_consent( $this->body() )->get_status() );
		$this->set( array( 'rate_limit_per_minute' => 0 ) ); // 0 = no limit.
		$_SERVER['REMOTE_ADDR'] = '203.0.113.10';
		$this->assertSame( 202, $this->post_consent( $this->body() )->get_status() );
	}

	public function test_the_rate_limit_counts_the_proxied_visitor_not_the_proxy(): void {
		$this->set( array( 'rate_limit_per_minute' => 1, 'trusted_proxy_header' => 'X-Forwarded-For' ) );
		$_SERVER['REMOTE_ADDR']          = '10.0.0.1';
		$_SERVER['HTTP_X_FORWARDED_FOR'] = '198.51.100.1';
		$this->assertSame( 202, $this->post_consent( $this->body() )->get_status() );
		$_SERVER['HTTP_X_FORWARDED_FOR'] = '198.51.100.2';
		$body = $this->body();
		$this->assertSame( 202, $this->post_consent( $body )->get_status() );
		$this->assertSame( '198.51.100.2', $this->sidecar_records( $body['subject_id'] )[0]['ip'] );
		unset( $_SERVER['HTTP_X_FORWARDED_FOR'] );
	}
}
