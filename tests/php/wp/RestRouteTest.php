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
		$this->assertTrue( $this->as_stack_site( 'secure_privacy_test_connection' )['ok'] );
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
		$this->set( array( 'rate_limit_per_minute' => 1, 'trusted_proxy_header' => 'X-Forwarded-For', 'trusted_proxies' => '10.0.0.0/8' ) );
		$_SERVER['REMOTE_ADDR']          = '10.0.0.1';
		$_SERVER['HTTP_X_FORWARDED_FOR'] = '198.51.100.1';
		$this->assertSame( 202, $this->post_consent( $this->body() )->get_status() );
		$_SERVER['HTTP_X_FORWARDED_FOR'] = '198.51.100.2';
		$body = $this->body();
		$this->assertSame( 202, $this->post_consent( $body )->get_status() );
		$this->assertSame( '198.51.100.2', $this->sidecar_records( $body['subject_id'] )[0]['ip'] );
		unset( $_SERVER['HTTP_X_FORWARDED_FOR'] );
	}

	/* ---- F2: every spelling of the route that WordPress dispatches to it is limited ---- */

	/** POST $body (a string, as sent) to the route string $route through the real REST server. */
	private function post_raw( string $route, string $body, array $headers = array() ): WP_REST_Response {
		$request = new WP_REST_Request( 'POST', $route );
		$request->set_header( 'Content-Type', 'application/json' );
		$request->set_header( 'User-Agent', 'PHPUnit agent' );
		foreach ( $headers as $name => $value ) {
			$request->set_header( $name, $value );
		}
		$request->set_body( $body );
		$result = rest_ensure_response( rest_get_server()->dispatch( $request ) );
		return is_wp_error( $result ) ? rest_convert_error_to_response( $result ) : $result;
	}

	/** Wait, if need be, so that the next few seconds fall in one rate-limit window. */
	private function start_of_a_window(): void {
		$left = SECURE_PRIVACY_RATE_WINDOW - time() % SECURE_PRIVACY_RATE_WINDOW;
		if ( $left < 4 ) {
			sleep( $left );
		}
	}

	public static function route_spellings(): array {
		return array(
			'canonical'  => array( '/secure-privacy/v1/consent' ),
			'upper case' => array( '/SECURE-PRIVACY/V1/CONSENT' ),
			'mixed case' => array( '/Secure-Privacy/v1/Consent' ),
		);
	}

	/** @dataProvider route_spellings */
	public function test_every_spelling_that_reaches_the_route_keeps_the_rate_limit_and_body_limit( string $route ): void {
		$this->start_of_a_window();
		$this->set( array( 'rate_limit_per_minute' => 3 ) );
		$_SERVER['REMOTE_ADDR'] = '198.51.100.' . wp_rand( 1, 250 );
		$statuses               = array();
		for ( $i = 0; $i < 5; $i++ ) {
			$statuses[] = $this->post_raw( $route, (string) wp_json_encode( $this->body() ) )->get_status();
		}
		$this->assertSame( array( 202, 202, 202, 429, 429 ), $statuses );

		$this->set( array( 'rate_limit_per_minute' => 0 ) );
		$big = $this->body();
		$big['page_url'] .= '?' . str_repeat( 'a', SECURE_PRIVACY_MAX_BODY_BYTES );
		$this->assertSame( 413, $this->post_raw( $route, (string) wp_json_encode( $big ) )->get_status() );
		// Refused before the JSON is parsed: broken JSON over the limit is a 413, not a 400.
		$this->assertSame( 413, $this->post_raw( $route, str_repeat( '[', SECURE_PRIVACY_MAX_BODY_BYTES + 1 ) )->get_status() );
	}

	public static function control_character_routes(): array {
		return array(
			'trailing LF'   => array( "/secure-privacy/v1/consent\n" ),
			'trailing CRLF' => array( "/secure-privacy/v1/consent\r\n" ),
			'trailing NUL'  => array( "/secure-privacy/v1/consent\0" ),
			'upper LF'      => array( "/SECURE-PRIVACY/v1/consent\n" ),
		);
	}

	/** @dataProvider control_character_routes */
	public function test_a_route_with_a_trailing_control_character_records_nothing( string $route ): void {
		$this->set( array( 'rate_limit_per_minute' => 1 ) );
		$body     = $this->body();
		$response = $this->post_raw( $route, (string) wp_json_encode( $body ) );
		$this->assertSame( 404, $response->get_status() );
		$this->assertSame( 'rest_no_route', $response->get_data()['code'] );
		$this->assertSame( array(), $this->sidecar_records( $body['subject_id'] ) );
		$this->assertSame( array(), $this->outbox() );
	}

	public function test_the_route_matcher_is_the_one_wordpress_dispatches_by(): void {
		// Whatever WordPress's own regex sends to the route, the gate sees as the route.
		foreach ( array( '/secure-privacy/v1/consent', "/secure-privacy/v1/consent\n", '/SECURE-privacy/V1/consent' ) as $route ) {
			$this->assertSame( 1, preg_match( '@^' . SECURE_PRIVACY_CONSENT_ROUTE . '$@i', $route ) );
			$this->assertTrue( secure_privacy_rest_is_consent_route( $route ), $route );
		}
		foreach ( array( '/secure-privacy/v1/consents', '/secure-privacy/v1/consent/x', "/secure-privacy/v1/consent\r\n", '//secure-privacy/v1/consent' ) as $route ) {
			$this->assertFalse( secure_privacy_rest_is_consent_route( $route ), $route );
		}
		$routes = rest_get_server()->get_routes( SECURE_PRIVACY_REST_NAMESPACE );
		$this->assertArrayHasKey( SECURE_PRIVACY_CONSENT_ROUTE, $routes );
	}

	public function test_a_request_the_handler_gets_without_the_gate_is_checked_there(): void {
		// A WordPress that matched differently would hand the handler an unchecked request.
		$this->set( array( 'rate_limit_per_minute' => 1 ) );
		$had = remove_filter( 'rest_pre_dispatch', 'secure_privacy_rest_guard', 5 );
		try {
			$this->assertSame( 202, $this->post_consent( $this->body() )->get_status() );
			$this->assertSame( 429, $this->post_consent( $this->body() )->get_status() );
			$this->assertSame( 403, $this->post_consent( $this->body(), array( 'Origin' => 'https://evil.example' ) )->get_status() );
		} finally {
			if ( $had ) {
				add_filter( 'rest_pre_dispatch', 'secure_privacy_rest_guard', 5, 3 );
			}
		}
	}

	/* ---- F5: consents only from the site's own pages ---------------------------------- */

	public static function foreign_origins(): array {
		return array(
			'another site'          => array( array( 'Origin' => 'https://evil.example' ) ),
			'another port'          => array( array( 'Origin' => 'http://phpunit.example:8080' ) ),
			'a look-alike host'     => array( array( 'Origin' => 'http://phpunit.example.evil.example' ) ),
			'a sandboxed frame'     => array( array( 'Origin' => 'null' ) ),
			'cross-site, no Origin' => array( array( 'Sec-Fetch-Site' => 'cross-site' ) ),
			'cross-site, own Origin' => array( array( 'Origin' => 'http://phpunit.example', 'Sec-Fetch-Site' => 'cross-site' ) ),
		);
	}

	/** @dataProvider foreign_origins */
	public function test_a_foreign_origin_is_refused_with_403_and_nothing_is_recorded_or_queued( array $headers ): void {
		$body     = $this->body();
		$response = $this->post_consent( $body, $headers );
		$this->assertSame( 403, $response->get_status() );
		$this->assertSame( 'secure_privacy_foreign_origin', $response->get_data()['code'] );
		$this->assertSame( array(), $this->sidecar_records( $body['subject_id'] ) );
		$this->assertSame( array(), $this->outbox() );
	}

	public static function own_origins(): array {
		return array(
			'the home origin'           => array( array( 'Origin' => 'http://phpunit.example' ) ),
			'the same over https'       => array( array( 'Origin' => 'https://phpunit.example' ) ),
			'default port, upper case'  => array( array( 'Origin' => 'HTTP://PHPUNIT.EXAMPLE:80' ) ),
			'same-origin fetch'         => array( array( 'Origin' => 'http://phpunit.example', 'Sec-Fetch-Site' => 'same-origin' ) ),
			'no browser (no Origin)'    => array( array() ),
		);
	}

	/** @dataProvider own_origins */
	public function test_the_sites_own_origin_and_non_browsers_are_accepted( array $headers ): void {
		$this->assertSame( 202, $this->post_consent( $this->body(), $headers )->get_status() );
	}

	public function test_more_origins_can_be_allowed_by_filter(): void {
		$allow = static fn( array $origins ): array => array_merge( $origins, array( 'https://shop.phpunit.example' ) );
		add_filter( 'secure_privacy_allowed_origins', $allow );
		try {
			$this->assertSame( 202, $this->post_consent( $this->body(), array( 'Origin' => 'https://shop.phpunit.example' ) )->get_status() );
		} finally {
			remove_filter( 'secure_privacy_allowed_origins', $allow );
		}
		$this->assertSame( 403, $this->post_consent( $this->body(), array( 'Origin' => 'https://shop.phpunit.example' ) )->get_status() );
	}

	public function test_a_foreign_preflight_is_refused(): void {
		$preflight = static function ( string $origin ): WP_REST_Response {
			$request = new WP_REST_Request( 'OPTIONS', SECURE_PRIVACY_CONSENT_ROUTE );
			$request->set_header( 'Origin', $origin );
			$request->set_header( 'Access-Control-Request-Method', 'POST' );
			$result = rest_ensure_response( rest_get_server()->dispatch( $request ) );
			return is_wp_error( $result ) ? rest_convert_error_to_response( $result ) : $result;
		};
		$this->assertSame( 403, $preflight( 'https://evil.example' )->get_status() );
		$this->assertSame( 200, $preflight( 'http://phpunit.example' )->get_status() );
	}

	/* ---- F14: IPv6 counted per /64 ---------------------------------------------------- */

	public function test_rotating_ipv6_addresses_inside_one_64_shares_one_limit(): void {
		$this->start_of_a_window();
		$this->set( array( 'rate_limit_per_minute' => 2 ) );
		$statuses = array();
		foreach ( array( '2001:db8:aa:1::1', '2001:db8:aa:1::2', '2001:db8:aa:1:ffff:ffff:ffff:fffe', '2001:db8:aa:1:1234::9' ) as $ip ) {
			$_SERVER['REMOTE_ADDR'] = $ip;
			$statuses[]             = $this->post_consent( $this->body() )->get_status();
		}
		$this->assertSame( array( 202, 202, 429, 429 ), $statuses );
		$_SERVER['REMOTE_ADDR'] = '2001:db8:aa:2::1'; // The next /64 is another visitor.
		$this->assertSame( 202, $this->post_consent( $this->body() )->get_status() );
	}

	public function test_rate_keys(): void {
		$this->assertSame( '203.0.113.7', secure_privacy_rate_key( '203.0.113.7' ) );
		$this->assertSame( '2001:db8:aa:1::/64', secure_privacy_rate_key( '2001:db8:aa:1:ffff::1' ) );
		$this->assertSame( '2001:db8:aa:1::/64', secure_privacy_rate_key( '2001:db8:aa:1::2' ) );
		$this->assertSame( '203.0.113.7', secure_privacy_rate_key( '::ffff:203.0.113.7' ) );
		$this->assertSame( '', secure_privacy_rate_key( '' ) );
	}

	/* ---- F19: only versions the site has served are recorded -------------------------- */

	public static function unserved_versions(): array {
		return array(
			'a made-up banner version' => array( 'banner_version', 'b1' ),
			'a made-up policy version' => array( 'policy_version', '99' ),
		);
	}

	/** @dataProvider unserved_versions */
	public function test_a_version_the_site_never_served_is_refused_with_422( string $field, string $version ): void {
		$body     = $this->body( array( $field => $version ) );
		$response = $this->post_consent( $body );
		$this->assertSame( 422, $response->get_status() );
		$this->assertSame( 'secure_privacy_unknown_version', $response->get_data()['code'] );
		$this->assertSame( $field, $response->get_data()['data']['field'] );
		$this->assertSame( array(), $this->sidecar_records( $body['subject_id'] ) );
		$this->assertSame( array(), $this->outbox() );
	}

	public function test_versions_once_served_stay_acceptable_and_the_record_has_them(): void {
		$old = $this->body(); // Served now: policy 1 and its banner.
		$this->set( array( 'policy_version' => '2', 'next_policy_version' => '3', 'next_policy_effective' => gmdate( 'Y-m-d', time() + 5 * DAY_IN_SECONDS ) ) );
		$new = $this->body();
		$this->assertSame( '2', $new['policy_version'] );
		$this->assertNotSame( $old['banner_version'], $new['banner_version'] );

		// A cached page still shows the old banner: its consent is recorded as it was shown.
		$this->assertSame( 202, $this->post_consent( $old )->get_status() );
		$record = $this->sidecar_records( $old['subject_id'] )[0];
		$this->assertSame( array( $old['policy_version'], $old['banner_version'] ), array( $record['policy_version'], $record['banner_version'] ) );
		// The announced version: the widget switches to it on the date by the browser's clock.
		$this->assertSame( 202, $this->post_consent( $this->body( array( 'policy_version' => '3' ) ) )->get_status() );
		$this->assertSame( 202, $this->post_consent( $new )->get_status() );

		$history = secure_privacy_served_versions();
		foreach ( array( '1', '2', '3' ) as $version ) {
			$this->assertArrayHasKey( $version, $history['policy_version'] );
		}
		$this->assertLessThanOrEqual( $history['banner_version'][ $new['banner_version'] ]['last'], $history['banner_version'][ $old['banner_version'] ]['first'] );
	}

	public function test_the_history_keeps_the_most_recently_served_versions(): void {
		$history = secure_privacy_served_versions();
		update_option( SECURE_PRIVACY_SERVED_OPTION, array(), false );
		try {
			for ( $i = 0; $i < SECURE_PRIVACY_MAX_SERVED + 5; $i++ ) {
				secure_privacy_note_served_versions( array( 'bannerVersion' => 'v' . $i ), 1000 + $i );
			}
			$kept = secure_privacy_served_versions()['banner_version'];
			$this->assertCount( SECURE_PRIVACY_MAX_SERVED, $kept );
			$this->assertArrayNotHasKey( 'v0', $kept );
			$this->assertArrayHasKey( 'v' . ( SECURE_PRIVACY_MAX_SERVED + 4 ), $kept );
		} finally {
			update_option( SECURE_PRIVACY_SERVED_OPTION, $history, false );
		}
	}
}
