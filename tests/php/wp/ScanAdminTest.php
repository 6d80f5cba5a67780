<?php
/**
 * The site scan in wp-admin (issue 13): site rules (validated, sent with every scan), the Site
 * scan page (report grouped by service or plugin with violations first, sidecar errors shown),
 * saving a category as a site rule (capability and nonce), the re-scan cron events and the
 * notice when a finished scan found something the one before did not. The sidecar's scan API
 * is faked at the HTTP boundary (pre_http_request).
 *
 * @package SecurePrivacy
 */

/** Thrown instead of redirecting or dying, so a handler can be run in the test's process. */
final class SP_Scan_Test_Exit extends RuntimeException {}

final class ScanAdminTest extends SP_WP_TestCase {

	protected function setUp(): void {
		parent::setUp();
		$this->boot_scan_admin();
		delete_option( SECURE_PRIVACY_SCAN_STATE_OPTION );
		delete_option( SECURE_PRIVACY_SCAN_NOTICE_OPTION );
		foreach ( array( SECURE_PRIVACY_SCAN_HOOK, SECURE_PRIVACY_RESCAN_HOOK, SECURE_PRIVACY_SCAN_CHECK_HOOK ) as $hook ) {
			wp_clear_scheduled_hook( $hook );
		}
		add_filter( 'wp_redirect', array( $this, 'stop_redirect' ) );
		add_filter( 'wp_die_handler', array( $this, 'die_handler' ) );
	}

	protected function tearDown(): void {
		$this->remove_fake_sidecar();
		remove_filter( 'wp_redirect', array( $this, 'stop_redirect' ) );
		remove_filter( 'wp_die_handler', array( $this, 'die_handler' ) );
		$_POST    = array();
		$_REQUEST = array();
		$_GET     = array();
		wp_set_current_user( 0 );
		parent::tearDown();
	}

	public function stop_redirect( $location ) {
		throw new SP_Scan_Test_Exit( 'redirect: ' . $location );
	}

	public function die_handler() {
		return static function ( $message ) {
			throw new SP_Scan_Test_Exit( 'die: ' . ( is_string( $message ) ? $message : 'error' ) );
		};
	}

	/** Run an admin-post handler with $post as the form, as user $user; what ended it. */
	private function submit( string $action, array $post, int $user = 1, bool $nonce = true ): string {
		wp_set_current_user( $user );
		$_POST = $post + ( $nonce ? array( '_wpnonce' => wp_create_nonce( $action ) ) : array() );
		$_REQUEST = $_POST;
		try {
			call_user_func( 'secure_privacy_handle_' . substr( $action, strlen( 'secure_privacy_' ) ) );
		} catch ( SP_Scan_Test_Exit $e ) {
			return $e->getMessage();
		}
		$this->fail( 'the handler neither redirected nor died' );
	}

	private function flash(): array {
		return (array) get_transient( 'secure_privacy_notice_' . get_current_user_id() );
	}

	/** A finished report (CONTRACT §8) as the sidecar serves it. */
	private function report( string $id = 'scan-a', array $changes = array() ): array {
		$home = 'http://phpunit.example/';
		$seen = static fn( string $state, ?string $plugin = null, string $page = 'http://phpunit.example/' ): array => array(
			'page'      => $page,
			'state'     => $state,
			'initiator' => $plugin ? "http://phpunit.example/wp-content/plugins/{$plugin}/x.js" : null,
			'plugin'    => $plugin,
		);
		return array_merge(
			array(
				'id'          => $id,
				'status'      => 'done',
				'progress'    => array(
					'done'  => 2,
					'total' => 2,
				),
				'started_at'  => '2026-11-30T01:00:00Z',
				'finished_at' => '2026-11-30T01:02:00Z',
				'report_hash' => str_repeat( 'a', 64 ),
				'rules_hash'  => str_repeat( 'b', 64 ),
				'pages'       => array(
					array(
						'url'    => $home,
						'states' => SECURE_PRIVACY_SCAN_STATES,
					),
					array(
						'url'    => $home . '?p=5',
						'states' => SECURE_PRIVACY_SCAN_STATES,
					),
				),
				'items'       => array(
					array( 'kind' => 'cookie', 'name' => 'wordpress_test_cookie', 'host' => 'phpunit.example', 'resource' => null, 'category' => 'necessary', 'service' => null, 'source' => 'wordpress', 'seen' => array( $seen( 'before_consent' ) ) ),
					array( 'kind' => 'request', 'name' => 'www.google-analytics.com', 'host' => 'www.google-analytics.com', 'resource' => 'script', 'category' => 'statistics', 'service' => 'Google Analytics', 'vendor' => 'Google', 'source' => 'catalogue', 'seen' => array( $seen( 'after_accept', 'site-kit' ) ) ),
					array( 'kind' => 'cookie', 'name' => '_ga', 'host' => 'phpunit.example', 'resource' => null, 'category' => 'statistics', 'service' => 'Google Analytics', 'vendor' => 'Google', 'source' => 'catalogue', 'seen' => array( $seen( 'before_consent', 'site-kit' ) ) ),
					array( 'kind' => 'storage', 'name' => 'acme_pref', 'host' => 'phpunit.example', 'resource' => null, 'category' => 'preferences', 'service' => null, 'source' => 'site-rule', 'seen' => array( $seen( 'after_accept', 'acme-widgets' ) ) ),
					array( 'kind' => 'storage', 'name' => 'mystery_key', 'host' => 'phpunit.example', 'resource' => null, 'category' => 'unknown', 'service' => null, 'source' => 'unknown', 'seen' => array( $seen( 'after_reject', 'acme-widgets', $home . '?p=5' ) ) ),
				),
				'violations'  => array(
					array( 'name' => '_ga', 'kind' => 'cookie', 'host' => 'phpunit.example', 'category' => 'statistics', 'page' => $home, 'state' => 'before_consent' ),
					array( 'name' => 'mystery_key', 'kind' => 'storage', 'host' => 'phpunit.example', 'category' => 'unknown', 'page' => $home . '?p=5', 'state' => 'after_reject' ),
				),
			),
			$changes
		);
	}

	/** Fake the scan API: the list, and each report in $reports by id. */
	private function fake_scans( array $reports, array &$posted = null ): void {
		$posted = array();
		$this->fake_sidecar(
			'/v1/scans',
			static function ( string $method, string $path, array $args ) use ( $reports, &$posted ): array {
				if ( 'POST' === $method ) {
					$posted[] = json_decode( (string) $args['body'], true );
					return array( 202, array( 'id' => 'scan-new', 'status' => 'queued' ) );
				}
				if ( '/v1/scans' === $path ) {
					return array( 200, array( 'items' => array_values( array_map( static fn( $r ) => array_intersect_key( $r, array_flip( array( 'id', 'status', 'started_at', 'finished_at', 'progress' ) ) ), $reports ) ), 'next_cursor' => null ) );
				}
				$id = substr( $path, strlen( '/v1/scans/' ) );
				return isset( $reports[ $id ] ) ? array( 200, $reports[ $id ] ) : array( 404, array( 'error' => array( 'code' => 'not_found', 'message' => 'No such scan.' ) ) );
			}
		);
	}

	private function render_page( array $get = array() ): string {
		wp_set_current_user( 1 );
		$_GET = $get;
		ob_start();
		secure_privacy_render_scan_page();
		return (string) ob_get_clean();
	}

	/* ---- site rules ------------------------------------------------------------------------ */

	public function test_a_valid_rule_is_normalised(): void {
		$this->assertSame(
			array( 'kind' => 'request', 'pattern' => 'cdn.example.com:8443', 'category' => 'marketing', 'service' => 'Acme Ads' ),
			secure_privacy_validate_site_rule( array( 'kind' => 'request', 'pattern' => ' CDN.Example.com:8443 ', 'category' => 'marketing', 'service' => ' Acme Ads ', 'extra' => 1 ) )
		);
		$this->assertSame(
			array( 'kind' => 'cookie', 'pattern' => '_ga*', 'category' => 'statistics' ),
			secure_privacy_validate_site_rule( array( 'kind' => 'cookie', 'pattern' => '_ga*', 'category' => 'statistics', 'service' => '' ) )
		);
		$this->assertSame( 'Ünïcode key', secure_privacy_validate_site_rule( array( 'kind' => 'storage', 'pattern' => 'Ünïcode key', 'category' => 'preferences' ) )['pattern'] );
	}

	public function test_invalid_rules_are_refused_with_a_reason(): void {
		$base  = array( 'kind' => 'cookie', 'pattern' => '_ga', 'category' => 'statistics' );
		$cases = array(
			'kind'     => array( 'kind' => 'header' ),
			'category' => array( 'category' => 'unknown' ),
			'pattern'  => array( 'pattern' => '' ),
		);
		$cases['too long']        = array( 'pattern' => str_repeat( 'a', SECURE_PRIVACY_MAX_RULE_PATTERN_LENGTH + 1 ) );
		$cases['control']         = array( 'pattern' => "_ga\n" );
		$cases['spaces']          = array( 'pattern' => ' _ga' );
		$cases['host with path']  = array( 'kind' => 'request', 'pattern' => 'example.com/x' );
		$cases['host with space'] = array( 'kind' => 'request', 'pattern' => 'exa mple.com' );
		$cases['pattern array']   = array( 'pattern' => array( '_ga' ) );
		$cases['service long']    = array( 'service' => str_repeat( 's', SECURE_PRIVACY_MAX_RULE_SERVICE_LENGTH + 1 ) );
		foreach ( $cases as $name => $change ) {
			$result = secure_privacy_validate_site_rule( array_merge( $base, $change ) );
			$this->assertInstanceOf( WP_Error::class, $result, $name );
			$this->assertNotSame( '', $result->get_error_message(), $name );
		}
		$this->assertInstanceOf( WP_Error::class, secure_privacy_validate_site_rule( 'cookie' ) );
		$this->assertSame( array(), secure_privacy_site_rules(), 'nothing was stored' );
	}

	public function test_the_option_keeps_only_valid_rules_and_the_latest_per_pattern(): void {
		update_option(
			SECURE_PRIVACY_SITE_RULES_OPTION,
			array(
				array( 'kind' => 'cookie', 'pattern' => '_ga', 'category' => 'marketing' ),
				array( 'kind' => 'cookie', 'pattern' => 'bad', 'category' => 'nope' ),
				'junk',
				array( 'kind' => 'cookie', 'pattern' => '_ga', 'category' => 'statistics' ),
			),
			false
		);
		$this->assertSame( array( array( 'kind' => 'cookie', 'pattern' => '_ga', 'category' => 'statistics' ) ), get_option( SECURE_PRIVACY_SITE_RULES_OPTION ) );
		$this->assertSame( 'statistics', secure_privacy_put_site_rule( array( 'kind' => 'request', 'pattern' => 'A.example', 'category' => 'statistics' ) )['category'] );
		$this->assertSame( 'necessary', secure_privacy_put_site_rule( array( 'kind' => 'request', 'pattern' => 'a.example', 'category' => 'necessary' ) )['category'] );
		$this->assertCount( 2, secure_privacy_site_rules() );
		// Stored autoloaded (auto-blocking reads it on every page view without a query), and
		// a row that was not is replaced rather than flipped: deleting leaves nothing cached.
		$this->assertArrayHasKey( SECURE_PRIVACY_SITE_RULES_OPTION, wp_load_alloptions() );
		delete_option( SECURE_PRIVACY_SITE_RULES_OPTION );
		$this->assertSame( array(), secure_privacy_site_rules() );
		secure_privacy_put_site_rule( array( 'kind' => 'cookie', 'pattern' => '_ga', 'category' => 'statistics' ) );
		secure_privacy_put_site_rule( array( 'kind' => 'request', 'pattern' => 'a.example', 'category' => 'necessary' ) );
		$this->assertTrue( secure_privacy_delete_site_rule( 'request', 'A.EXAMPLE' ) );
		$this->assertFalse( secure_privacy_delete_site_rule( 'request', 'a.example' ) );
		$this->assertCount( 1, secure_privacy_site_rules() );
	}

	public function test_every_scan_is_started_with_the_site_rules(): void {
		secure_privacy_put_site_rule( array( 'kind' => 'storage', 'pattern' => 'mystery_key', 'category' => 'preferences' ) );
		$this->fake_scans( array(), $posted );
		$started = secure_privacy_scan_start( 20 );
		$this->assertSame( 'scan-new', $started['id'] );
		$this->assertSame(
			array(
				'rules'     => array( array( 'kind' => 'storage', 'pattern' => 'mystery_key', 'category' => 'preferences' ) ),
				'max_pages' => 20,
			),
			$posted[0]
		);
		$this->assertArrayHasKey( 'scan-new', secure_privacy_scan_state()['pending'] );
		$this->assertNotFalse( wp_next_scheduled( SECURE_PRIVACY_SCAN_CHECK_HOOK ) );
		delete_option( SECURE_PRIVACY_SITE_RULES_OPTION );
		secure_privacy_scan_start();
		$this->assertSame( array( 'rules' => array() ), $posted[1] );
		$this->assertSame( '{"rules":[]}', wp_json_encode( $posted[1] ), 'an empty list, not an object' );
	}

	/* ---- the page ------------------------------------------------------------------------- */

	public function test_the_report_is_grouped_by_service_or_plugin_with_violations_first(): void {
		$this->fake_scans( array( 'scan-a' => $this->report() ) );
		$html = $this->render_page();
		preg_match_all( '/data-sp-scan-group="([^"]+)"/', $html, $groups );
		$this->assertSame( array( 'plugin:acme-widgets', 'service:google analytics', 'none' ), $groups[1] );
		preg_match_all( '/data-sp-item="([^"]+)"/', $html, $items );
		$this->assertSame( array( 'storage:mystery_key', 'storage:acme_pref', 'cookie:_ga', 'request:www.google-analytics.com', 'cookie:wordpress_test_cookie' ), $items[1], 'violations first in each group' );
		$this->assertStringContainsString( 'Violation: Before consent', $html );
		$this->assertStringContainsString( 'Violation: After Reject all', $html );
		$this->assertStringContainsString( 'Plugin or theme: acme-widgets', $html );
		$this->assertStringContainsString( 'Service catalogue', $html );
		$this->assertStringContainsString( str_repeat( 'a', 64 ), $html, 'the report hash' );
		$this->assertStringContainsString( 'wp-content/plugins/site-kit/x.js', $html, 'the initiator' );
		// Accessible: column headers, a label for every category select.
		$this->assertGreaterThanOrEqual( 18, substr_count( $html, '<th scope="col"' ) );
		preg_match_all( '/<select id="(sp-rule-\d+)" name="category" required>/', $html, $selects );
		$this->assertCount( 5, $selects[1] );
		foreach ( $selects[1] as $id ) {
			$this->assertStringContainsString( 'for="' . $id . '"', $html );
		}
		// The unknown item's select asks for a choice; the history lists the scan.
		$this->assertStringContainsString( 'Choose…', $html );
		$this->assertStringContainsString( 'data-sp-scan="scan-a" class="sp-current"', $html );
		$this->assertStringNotContainsString( (string) getenv( 'SP_TEST_ADMIN_TOKEN' ), $html );
	}

	public function test_the_history_pages_back_through_older_scans(): void {
		$asked = array();
		$this->fake_sidecar(
			'/v1/scans',
			static function ( string $method, string $path, array $args, string $url ) use ( &$asked ): array {
				if ( '/v1/scans' !== $path ) {
					return array( 404, array( 'error' => array( 'code' => 'not_found', 'message' => 'No such scan.' ) ) );
				}
				$asked[] = (string) wp_parse_url( $url, PHP_URL_QUERY );
				return array( 200, array( 'items' => array( array( 'id' => 'scan-9', 'status' => 'done', 'started_at' => '2026-11-01T00:00:00Z', 'pages' => 40, 'items' => 12, 'violations' => 3 ) ), 'next_cursor' => 'c2Nhbi04' ) );
			}
		);
		$html = $this->render_page();
		$this->assertMatchesRegularExpression( '/data-sp-older href="[^"]*cursor=c2Nhbi04/', $html );
		$this->assertStringNotContainsString( 'Newest</a>', $html, 'the first page has no way back' );
		$this->assertMatchesRegularExpression( '#<td>40</td>\s*<td>12</td>\s*<td>3</td>#', $html, 'pages, items and violations of a summary' );
		$html = $this->render_page( array( 'cursor' => 'c2Nhbi04' ) );
		$this->assertSame( 'cursor=c2Nhbi04', end( $asked ) );
		$this->assertStringContainsString( 'Newest</a>', $html );
		$this->render_page( array( 'cursor' => '"><script>' ) );
		$this->assertSame( '', end( $asked ), 'a malformed cursor is dropped' );
	}

	public function test_a_rule_is_added_with_a_pattern_through_the_rules_form(): void {
		$this->fake_scans( array() );
		$html = $this->render_page();
		foreach ( array( 'sp-rule-add-kind', 'sp-rule-add-pattern', 'sp-rule-add-category', 'sp-rule-add-service' ) as $id ) {
			$this->assertStringContainsString( 'for="' . $id . '"', $html );
			$this->assertStringContainsString( 'id="' . $id . '"', $html );
		}
		$this->submit( 'secure_privacy_scan_rule', array( 'kind' => 'cookie', 'pattern' => '_hj*', 'category' => 'statistics', 'service' => '' ) );
		$this->submit( 'secure_privacy_scan_rule', array( 'kind' => 'request', 'pattern' => 'https://cdn.example.com/x.js', 'category' => 'marketing', 'service' => 'CDN' ) );
		$this->assertSame( 'error', $this->flash()[0], 'a URL is not a host' );
		$this->assertSame( array( array( 'kind' => 'cookie', 'pattern' => '_hj*', 'category' => 'statistics' ) ), secure_privacy_site_rules() );
		$this->assertStringContainsString( 'data-sp-rule="cookie:_hj*"', $this->render_page() );
	}

	public function test_a_running_scan_shows_its_progress_in_a_status_region(): void {
		$this->fake_scans(
			array(
				'scan-r' => array(
					'id'         => 'scan-r',
					'status'     => 'running',
					'progress'   => array(
						'done'  => 3,
						'total' => 12,
					),
					'started_at' => '2026-11-30T01:00:00Z',
				),
			)
		);
		$html = $this->render_page( array( 'scan' => 'scan-r' ) );
		$this->assertMatchesRegularExpression( '/role="status"[^>]*>Scanning: 3 of 12 pages done\./', $html );
		$this->assertStringContainsString( 'admin-ajax.php?action=secure_privacy_scan_progress', str_replace( '&#038;', '&', $html ) );
		$this->assertStringContainsString( '<progress max="12" value="3"', $html );
		[ $status, $data ] = secure_privacy_scan_progress_data( 'scan-r' );
		$this->assertSame( 200, $status );
		$this->assertSame( 'running', $data['status'] );
		$this->assertSame( 'Scanning: 3 of 12 pages done.', $data['text'] );
		$this->assertSame( array( 404, array( 'message' => 'No such scan.' ) ), secure_privacy_scan_progress_data( 'scan-gone' ) );
	}

	public function test_sidecar_errors_are_shown_with_their_message(): void {
		$this->fake_sidecar( '/v1/scans', static fn() => array( 503, array( 'error' => array( 'code' => 'database_unavailable', 'message' => 'The database is down for maintenance.' ) ) ) );
		$html = $this->render_page();
		$this->assertStringContainsString( 'The database is down for maintenance.', $html );
		$this->assertStringContainsString( 'sp-sidecar-error', $html );
		$this->assertStringContainsString( 'Start a scan', $html, 'the page is still there' );
		$this->set( array( 'sidecar_url' => self::DOWN_URL ) );
		$this->remove_fake_sidecar();
		$this->assertStringContainsString( 'The sidecar did not answer', $this->render_page() );
	}

	public function test_a_scan_without_the_sites_page_list_or_out_of_time_says_so(): void {
		$this->fake_scans(
			array(
				'scan-p' => $this->report(
					'scan-p',
					array(
						'page_list'        => array( 'source' => 'fallback', 'error' => "http://phpunit.example: the plugin's page list answered HTTP 401 (Unauthorized); the front page was scanned instead" ),
						'skipped'          => array( 'http://phpunit.example/a/', 'http://phpunit.example/b/' ),
						'budget_exhausted' => true,
						'warnings'         => array( array( 'code' => 'rule_blocks_breaking_service', 'kind' => 'request', 'name' => 'js.stripe.com', 'message' => 'A site rule makes Stripe <marketing>: blocking it breaks payments.' ) ),
					)
				),
			)
		);
		$html = $this->render_page( array( 'scan' => 'scan-p' ) );
		$this->assertStringContainsString( 'Only the front page was scanned', $html );
		$this->assertStringContainsString( 'answered HTTP 401 (Unauthorized)', $html );
		$this->assertStringContainsString( '2 pages were not reached within the scan&#039;s time budget', $html );
		$this->assertStringContainsString( '<li>A site rule makes Stripe &lt;marketing&gt;: blocking it breaks payments.</li>', $html );
		$this->remove_fake_sidecar();
		$this->fake_scans( array( 'scan-a' => $this->report( 'scan-a', array( 'page_list' => array( 'source' => 'plugin', 'error' => null ) ) ) ) );
		$html = $this->render_page( array( 'scan' => 'scan-a' ) );
		$this->assertStringNotContainsString( 'Only the front page was scanned', $html );
		$this->assertStringNotContainsString( 'sp-scan-skipped', $html );
		$this->assertStringNotContainsString( 'sp-scan-warnings', $html );
	}

	public function test_what_blocking_broke_is_shown_as_warnings_a_site_owner_understands(): void {
		$kit = array(
			'service'  => 'Checkout <Kit>',
			'host'     => 'cdn.kit.example',
			'category' => 'marketing',
		);
		$this->fake_scans(
			array(
				'scan-b' => $this->report(
					'scan-b',
					array(
						'self_test' => array(
							'pages_checked' => 2,
							'not_checked'   => array(),
							'broken'        => array(
								array(
									'page'    => 'http://phpunit.example/shop/',
									'missing' => array(
										array( 'tag' => 'form', 'id' => 'checkout', 'label' => 'Checkout', 'count' => 1, 'cause' => $kit + array( 'basis' => 'only_held' ), 'candidates' => array() ),
										array( 'tag' => 'button', 'id' => null, 'label' => 'Pay now', 'count' => 2, 'cause' => null, 'candidates' => array( $kit, array( 'service' => 'Video', 'host' => 'video.example', 'category' => 'statistics' ) ) ),
									),
									'errors'  => array(
										array( 'message' => 'Uncaught ReferenceError: <CheckoutKit> is not defined', 'source' => 'http://phpunit.example/shop/', 'line' => 3, 'cause' => $kit + array( 'basis' => 'named' ), 'candidates' => array() ),
									),
									'fewer'   => array( 'form' => array( 'after_accept' => 2, 'after_reject' => 1 ) ),
								),
							),
						),
					)
				),
			)
		);
		$html = $this->render_page( array( 'scan' => 'scan-b' ) );
		$this->assertStringContainsString( 'Blocking may break 1 page: after Reject all it lacks something it has after Accept all.', $html );
		$link = '<a href="http://phpunit.example/shop/" rel="noreferrer" target="_blank">http://phpunit.example/shop/</a>';
		$this->assertStringContainsString( "After Reject all, the form “Checkout” (#checkout) is missing on {$link}. Likely cause: Checkout &lt;Kit&gt; (cdn.kit.example), blocked until Marketing is allowed (the only thing blocked on this page).", $html );
		$this->assertStringContainsString( "After Reject all, the button “Pay now” (2 of them) is missing on {$link}. Blocked on this page: Checkout &lt;Kit&gt; (cdn.kit.example), blocked until Marketing is allowed; Video (video.example), blocked until Statistics is allowed.", $html );
		$this->assertStringContainsString( "After Reject all, {$link} shows an error it does not show after Accept all: “Uncaught ReferenceError: &lt;CheckoutKit&gt; is not defined”. Likely cause: Checkout &lt;Kit&gt; (cdn.kit.example), blocked until Marketing is allowed (it is named there).", $html );
		$this->remove_fake_sidecar();
		$this->fake_scans( array( 'scan-a' => $this->report( 'scan-a', array( 'self_test' => array( 'pages_checked' => 2, 'not_checked' => array(), 'broken' => array() ) ) ) ) );
		$this->assertStringNotContainsString( 'sp-scan-selftest', $this->render_page( array( 'scan' => 'scan-a' ) ) );
	}

	public function test_a_failed_scan_says_why(): void {
		$this->fake_scans( array( 'scan-f' => $this->report( 'scan-f', array( 'status' => 'failed', 'error' => 'The browser could not start.' ) ) ) );
		$this->assertStringContainsString( 'The browser could not start.', $this->render_page( array( 'scan' => 'scan-f' ) ) );
	}

	/* ---- saving a category ------------------------------------------------------------------ */

	public function test_setting_a_category_on_an_item_saves_a_site_rule(): void {
		$end = $this->submit( 'secure_privacy_scan_rule', array( 'scan' => 'scan-a', 'kind' => 'storage', 'pattern' => 'mystery_key', 'category' => 'preferences' ) );
		$this->assertStringStartsWith( 'redirect: ', $end );
		$this->assertStringContainsString( 'page=secure-privacy-scan&scan=scan-a', $end );
		$this->assertSame( array( array( 'kind' => 'storage', 'pattern' => 'mystery_key', 'category' => 'preferences' ) ), secure_privacy_site_rules() );
		$this->assertSame( 'success', $this->flash()[0] );
		// The same item again: the rule is replaced, not doubled.
		$this->submit( 'secure_privacy_scan_rule', array( 'kind' => 'storage', 'pattern' => 'mystery_key', 'category' => 'marketing', 'service' => 'Acme' ) );
		$this->assertSame( array( array( 'kind' => 'storage', 'pattern' => 'mystery_key', 'category' => 'marketing', 'service' => 'Acme' ) ), secure_privacy_site_rules() );
	}

	public function test_a_bad_category_is_refused_with_its_reason_and_stores_nothing(): void {
		$this->submit( 'secure_privacy_scan_rule', array( 'kind' => 'storage', 'pattern' => 'mystery_key', 'category' => 'unknown' ) );
		$this->assertSame( array(), secure_privacy_site_rules() );
		$this->assertSame( 'error', $this->flash()[0] );
		$this->assertStringContainsString( 'category', $this->flash()[1] );
	}

	public function test_saving_a_rule_needs_the_nonce_and_the_capability(): void {
		$form = array( 'kind' => 'cookie', 'pattern' => '_ga', 'category' => 'necessary' );
		$this->assertStringStartsWith( 'die: ', $this->submit( 'secure_privacy_scan_rule', $form, 1, false ) );
		$editor = (int) wp_insert_user(
			array(
				'user_login' => 'e' . wp_generate_password( 8, false ),
				'user_pass'  => wp_generate_password( 16 ),
				'user_email' => wp_generate_password( 6, false ) . '@example.com',
				'role'       => 'editor',
			)
		);
		$this->assertStringStartsWith( 'die: ', $this->submit( 'secure_privacy_scan_rule', $form, $editor ) );
		$this->assertSame( array(), secure_privacy_site_rules() );
		wp_delete_user( $editor );
	}

	public function test_a_scan_is_started_from_the_page_and_its_error_shown(): void {
		$this->fake_scans( array(), $posted );
		$end = $this->submit( 'secure_privacy_scan_start', array( 'max_pages' => '30' ) );
		$this->assertStringContainsString( 'scan=scan-new', $end );
		$this->assertSame( 30, $posted[0]['max_pages'] );
		$this->remove_fake_sidecar();
		$this->fake_sidecar( '/v1/scans', static fn() => array( 422, array( 'error' => array( 'code' => 'url_not_allowed', 'message' => 'http://x.example is not on SP_SITE_ORIGINS.' ) ) ) );
		$this->submit( 'secure_privacy_scan_start', array() );
		$this->assertSame( array( 'error', 'The scan could not be started: http://x.example is not on SP_SITE_ORIGINS.' ), $this->flash() );
	}

	/* ---- re-scan and notice ----------------------------------------------------------------- */

	private function notice_html(): string {
		wp_set_current_user( 1 );
		ob_start();
		secure_privacy_scan_render_notice();
		return (string) ob_get_clean();
	}

	public function test_the_notice_appears_only_when_a_scan_finds_new_items_or_violations(): void {
		$first = $this->report( 'scan-1' );
		secure_privacy_scan_observe( $first, false );
		$this->assertSame( array( 'items' => 5, 'violations' => 2 ), array_intersect_key( (array) secure_privacy_scan_notice_data(), array_flip( array( 'items', 'violations' ) ) ), 'the first scan: all is new' );
		secure_privacy_scan_clear_notice();

		$same = $this->report( 'scan-2', array( 'finished_at' => '2026-12-07T01:00:00Z' ) );
		$this->assertSame( array( 'items' => 0, 'violations' => 0 ), secure_privacy_scan_observe( $same, false ) );
		$this->assertNull( secure_privacy_scan_notice_data() );
		$this->assertSame( '', $this->notice_html() );

		$more                 = $this->report( 'scan-3', array( 'finished_at' => '2026-12-14T01:00:00Z' ) );
		$more['items'][]      = array( 'kind' => 'request', 'name' => 'px.tracker.example', 'host' => 'px.tracker.example', 'resource' => 'image', 'category' => 'marketing', 'service' => null, 'source' => 'unknown', 'seen' => array() );
		$more['violations'][] = array( 'name' => 'px.tracker.example', 'kind' => 'request', 'host' => 'px.tracker.example', 'category' => 'marketing', 'page' => 'http://phpunit.example/', 'state' => 'before_consent' );
		$more['items']        = array_values( array_filter( $more['items'], static fn( $i ) => '_ga' !== $i['name'] ) ); // Gone: not "new".
		secure_privacy_scan_observe( $more, false );
		$html = $this->notice_html();
		$this->assertStringContainsString( '1 new item and 1 new violation', $html );
		$this->assertStringContainsString( 'page=secure-privacy-scan&#038;scan=scan-3', $html );
		$this->assertStringContainsString( 'action=secure_privacy_scan_dismiss', $html );

		// An older report seen later changes nothing; viewing the new one clears the notice.
		$this->assertNull( secure_privacy_scan_observe( $this->report( 'scan-0', array( 'finished_at' => '2026-11-01T00:00:00Z' ) ), false ) );
		$this->assertSame( 'scan-3', secure_privacy_scan_state()['last_id'] );
		$this->fake_scans( array( 'scan-3' => $more ) );
		$this->render_page( array( 'scan' => 'scan-3' ) );
		$this->assertSame( '', $this->notice_html() );
		$this->assertLessThanOrEqual( SECURE_PRIVACY_SCAN_MAX_KEYS, count( secure_privacy_scan_state()['keys'] ) );
		$this->assertSame( 16, strlen( secure_privacy_scan_state()['keys'][0] ), 'only short hashes are kept, not the report' );
	}

	public function test_the_cron_check_compares_a_finished_scan_and_raises_the_notice(): void {
		secure_privacy_scan_observe( $this->report( 'scan-1' ), true ); // Seen by the admin.
		$this->assertNull( secure_privacy_scan_notice_data() );
		$later            = $this->report( 'scan-2', array( 'finished_at' => '2026-12-07T01:00:00Z' ) );
		$later['items'][] = array( 'kind' => 'cookie', 'name' => '_fbp', 'host' => 'phpunit.example', 'category' => 'marketing', 'service' => 'Meta Pixel', 'source' => 'catalogue', 'seen' => array() );
		$running          = array(
			'id'       => 'scan-2',
			'status'   => 'running',
			'progress' => array( 'done' => 1, 'total' => 2 ),
		);
		$this->fake_scans( array( 'scan-2' => $running ) );
		secure_privacy_scan_cron_run(); // Starts "scan-new" (the fake's POST).
		$state = secure_privacy_scan_state();
		$this->assertSame( array( 'scan-new' ), array_keys( $state['pending'] ) );
		$this->assertSame( 'schedule', $state['pending']['scan-new']['trigger'] );
		// Waiting for it: no second scan is started.
		secure_privacy_scan_cron_run();
		$this->assertCount( 1, secure_privacy_scan_state()['pending'] );

		$state['pending'] = array( 'scan-2' => array( 'at' => time(), 'trigger' => 'change' ) );
		secure_privacy_scan_save_state( $state );
		secure_privacy_scan_cron_check();
		$this->assertNull( secure_privacy_scan_notice_data(), 'still running' );
		$this->assertArrayHasKey( 'scan-2', secure_privacy_scan_state()['pending'] );
		$this->remove_fake_sidecar();
		$this->fake_scans( array( 'scan-2' => $later ) );
		secure_privacy_scan_cron_check();
		$this->assertSame( array( 'scan_id' => 'scan-2', 'items' => 1, 'violations' => 0 ), secure_privacy_scan_notice_data() );
		$this->assertSame( array(), secure_privacy_scan_state()['pending'] );
	}

	public function test_activating_or_updating_a_plugin_or_theme_schedules_a_rescan_soon(): void {
		$this->assertFalse( wp_next_scheduled( SECURE_PRIVACY_RESCAN_HOOK ) );
		do_action( 'activated_plugin', 'hello.php', false );
		$next = wp_next_scheduled( SECURE_PRIVACY_RESCAN_HOOK );
		$this->assertNotFalse( $next );
		$this->assertEqualsWithDelta( time() + SECURE_PRIVACY_RESCAN_DELAY, $next, 5 );
		do_action( 'switch_theme', 'twentytwentyfour', null, null );
		$this->assertSame( $next, wp_next_scheduled( SECURE_PRIVACY_RESCAN_HOOK ), 'changes in a row share one re-scan' );
		$this->assertSame( 1, count( array_filter( _get_cron_array(), static fn( $hooks ) => isset( $hooks[ SECURE_PRIVACY_RESCAN_HOOK ] ) ) ) );

		wp_clear_scheduled_hook( SECURE_PRIVACY_RESCAN_HOOK );
		// Called directly: core's own upgrader_process_complete callbacks ask WordPress.org.
		$this->assertSame( 10, has_action( 'upgrader_process_complete', 'secure_privacy_scan_upgraded' ) );
		secure_privacy_scan_upgraded( null, array( 'type' => 'translation', 'action' => 'update' ) );
		$this->assertFalse( wp_next_scheduled( SECURE_PRIVACY_RESCAN_HOOK ), 'a translation update changes no script' );
		secure_privacy_scan_upgraded( null, array( 'type' => 'plugin', 'action' => 'install' ) );
		$this->assertFalse( wp_next_scheduled( SECURE_PRIVACY_RESCAN_HOOK ), 'an installed plugin runs nothing until activated' );
		secure_privacy_scan_upgraded( null, array( 'type' => 'theme', 'action' => 'update', 'themes' => array( 'x' ) ) );
		$this->assertNotFalse( wp_next_scheduled( SECURE_PRIVACY_RESCAN_HOOK ) );

		wp_clear_scheduled_hook( SECURE_PRIVACY_RESCAN_HOOK );
		$this->set( array( 'scan_frequency' => 'off' ) );
		do_action( 'activated_plugin', 'hello.php', false );
		$this->assertFalse( wp_next_scheduled( SECURE_PRIVACY_RESCAN_HOOK ), 'automatic scans are off' );
	}

	public function test_the_recurring_scan_follows_the_frequency_setting(): void {
		secure_privacy_scan_schedule_cron();
		$this->assertSame( 'weekly', wp_get_schedule( SECURE_PRIVACY_SCAN_HOOK ), 'weekly by default' );
		$end = $this->submit( 'secure_privacy_scan_schedule', array( 'scan_frequency' => 'daily' ) );
		$this->assertStringStartsWith( 'redirect: ', $end );
		$this->assertSame( 'daily', secure_privacy_settings( true )['scan_frequency'] );
		$this->assertSame( 'daily', wp_get_schedule( SECURE_PRIVACY_SCAN_HOOK ) );
		$this->submit( 'secure_privacy_scan_schedule', array( 'scan_frequency' => 'off' ) );
		$this->assertFalse( wp_next_scheduled( SECURE_PRIVACY_SCAN_HOOK ) );
		$this->submit( 'secure_privacy_scan_schedule', array( 'scan_frequency' => 'hourly' ) );
		$this->assertSame( 'error', $this->flash()[0] );
		$this->assertSame( 'off', secure_privacy_settings( true )['scan_frequency'] );
		$this->set( array( 'scan_frequency' => 'weekly' ) );
	}

	public function test_activation_schedules_the_weekly_scan_and_deactivation_clears_every_scan_event(): void {
		secure_privacy_activate_site();
		$this->assertSame( 'weekly', wp_get_schedule( SECURE_PRIVACY_SCAN_HOOK ) );
		secure_privacy_scan_after_change();
		secure_privacy_deactivate_site();
		$this->assertFalse( wp_next_scheduled( SECURE_PRIVACY_SCAN_HOOK ) );
		$this->assertFalse( wp_next_scheduled( SECURE_PRIVACY_RESCAN_HOOK ) );
		secure_privacy_activate_site(); // The other tests run on an active plugin.
	}
}
