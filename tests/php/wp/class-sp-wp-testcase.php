<?php
/**
 * Base of the in-WordPress tests: every test starts from known settings (the real sidecar of
 * the test stack, SP_TEST_SIDECAR_*), an empty outbox and no rate-limit counters.
 *
 * @package SecurePrivacy
 */

use PHPUnit\Framework\TestCase;

abstract class SP_WP_TestCase extends TestCase {

	/** A port nothing listens on: the sidecar is "down". */
	protected const DOWN_URL = 'http://127.0.0.1:9';

	protected function setUp(): void {
		global $wpdb;
		update_option(
			SECURE_PRIVACY_OPTION,
			array(
				'sidecar_url' => getenv( 'SP_TEST_SIDECAR_URL' ),
				'secret_keys' => getenv( 'SP_TEST_SECRET_KEYS' ),
				'admin_token' => getenv( 'SP_TEST_ADMIN_TOKEN' ),
			)
		);
		secure_privacy_outbox_install();
		$wpdb->query( 'DELETE FROM ' . secure_privacy_outbox_table() ); // phpcs:ignore WordPress.DB
		$wpdb->query( 'DELETE FROM ' . secure_privacy_rate_table() ); // phpcs:ignore WordPress.DB
		$_SERVER['REMOTE_ADDR'] = '203.0.113.10';
		wp_set_current_user( 0 );
	}

	/**
	 * Load the site scan's code and the admin screens it links to (as wp-admin does), with no
	 * site rules stored.
	 */
	protected function boot_scan_admin(): void {
		secure_privacy_scan_boot();
		foreach ( array( 'admin.php', 'admin-log.php', 'admin-scan.php' ) as $file ) {
			require_once dirname( SECURE_PRIVACY_FILE ) . '/includes/' . $file;
		}
		delete_option( SECURE_PRIVACY_SITE_RULES_OPTION );
	}

	/**
	 * Run `$check` with home_url() on the test stack's WordPress origin (SP_TEST_SITE_ORIGIN,
	 * which the sidecar has on SP_SITE_ORIGINS) instead of this test site's.
	 */
	protected function as_stack_site( callable $check ) {
		$filter = static fn( string $url, string $path = '' ): string => rtrim( (string) getenv( 'SP_TEST_SITE_ORIGIN' ), '/' ) . '/' . ltrim( $path, '/' );
		add_filter( 'home_url', $filter, 10, 2 );
		try {
			return $check();
		} finally {
			remove_filter( 'home_url', $filter, 10 );
		}
	}

	/** Change some settings (through the sanitize callback). */
	protected function set( array $changes ): void {
		update_option( SECURE_PRIVACY_OPTION, array_merge( get_option( SECURE_PRIVACY_OPTION ), $changes ) );
	}

	/** A valid consent body as the widget sends it (with the versions the banner serves). */
	protected function body( array $overrides = array() ): array {
		$config = json_decode( secure_privacy_banner_output( true )['config'], true );
		return array_merge(
			array(
				'event_id'       => wp_generate_uuid4(),
				'subject_id'     => wp_generate_uuid4(),
				'action'         => 'grant',
				'method'         => 'accept_all',
				'categories'     => array(
					'necessary'   => true,
					'preferences' => true,
					'statistics'  => true,
					'marketing'   => true,
				),
				'page_url'       => 'https://phpunit.example/page/',
				'policy_version' => $config['policyVersion'],
				'banner_version' => $config['bannerVersion'],
				'language'       => 'en-US',
				'signals'        => array(
					'gpc' => false,
					'dnt' => false,
				),
			),
			$overrides
		);
	}

	/** POST the consent route inside WordPress (the real REST server). */
	protected function post_consent( array $body, array $headers = array() ): WP_REST_Response {
		$request = new WP_REST_Request( 'POST', '/secure-privacy/v1/consent' );
		$request->set_header( 'Content-Type', 'application/json' );
		$request->set_header( 'User-Agent', 'PHPUnit agent' );
		foreach ( $headers as $name => $value ) {
			$request->set_header( $name, $value );
		}
		$request->set_body( (string) wp_json_encode( $body ) );
		$result = rest_ensure_response( rest_get_server()->dispatch( $request ) );
		return is_wp_error( $result ) ? rest_convert_error_to_response( $result ) : $result; // As serve_request() does.
	}

	/**
	 * Answer the sidecar's calls under $prefix (e.g. "/v1/scans") with $answer instead of the
	 * real sidecar (the HTTP boundary, through pre_http_request); other calls go through.
	 * $answer( string $method, string $path, array $args, string $url ) returns [status, body array] or null
	 * to let the call through. The filter is removed by remove_fake_sidecar().
	 */
	protected function fake_sidecar( string $prefix, callable $answer ): void {
		$this->fake = static function ( $pre, $args, $url ) use ( $prefix, $answer ) {
			$path = (string) wp_parse_url( (string) $url, PHP_URL_PATH );
			if ( ! str_starts_with( $path, $prefix ) ) {
				return $pre;
			}
			$result = $answer( strtoupper( (string) ( $args['method'] ?? 'GET' ) ), $path, $args, (string) $url );
			if ( null === $result ) {
				return $pre;
			}
			return array(
				'headers'  => array( 'content-type' => 'application/json' ),
				'body'     => (string) wp_json_encode( $result[1] ),
				'response' => array(
					'code'    => $result[0],
					'message' => '',
				),
				'cookies'  => array(),
				'filename' => null,
			);
		};
		add_filter( 'pre_http_request', $this->fake, 10, 3 );
	}

	/** The filter of fake_sidecar(), while one is set. */
	private $fake = null;

	protected function remove_fake_sidecar(): void {
		if ( null !== $this->fake ) {
			remove_filter( 'pre_http_request', $this->fake, 10 );
			$this->fake = null;
		}
	}

	/** Records of a subject in the real sidecar, newest first. */
	protected function sidecar_records( string $subject_id ): array {
		$result = secure_privacy_admin_api( 'GET', '/v1/consents', array( 'subject_id' => $subject_id ) );
		$this->assertIsArray( $result, is_wp_error( $result ) ? $result->get_error_message() : '' );
		return $result['json']['items'];
	}

	/** Rows of the outbox, oldest first. */
	protected function outbox(): array {
		global $wpdb;
		// phpcs:ignore WordPress.DB
		return $wpdb->get_results( 'SELECT * FROM ' . secure_privacy_outbox_table() . ' ORDER BY id', ARRAY_A );
	}
}
