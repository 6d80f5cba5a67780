<?php
/**
 * The first hour (issue 12, includes/setup.php): the banner is live for visitors only once
 * Test connection has passed for the sidecar URL now set, the outbox goes out at once when it
 * does, and the checklist says what is left.
 *
 * @package SecurePrivacy
 */

final class SetupTest extends SP_WP_TestCase {

	protected function setUp(): void {
		parent::setUp();
		delete_option( SECURE_PRIVACY_CONNECTION_OPTION );
	}

	protected function tearDown(): void {
		wp_set_current_user( 0 );
		// The other tests run with the banner live, as a connected site does.
		$this->as_stack_site( 'secure_privacy_test_connection' );
	}

	private function admin(): int {
		$id = wp_insert_user(
			array(
				'user_login' => 'a' . wp_generate_password( 8, false ),
				'user_pass'  => wp_generate_password( 16 ),
				'user_email' => wp_generate_password( 6, false ) . '@example.com',
				'role'       => 'administrator',
			)
		);
		return (int) $id;
	}

	private function step( string $key ): bool {
		return (bool) array_column( secure_privacy_setup_checklist(), 'done', 'key' )[ $key ];
	}

	public function test_before_test_connection_only_administrators_see_the_banner(): void {
		$this->assertFalse( secure_privacy_is_live() );
		$this->assertFalse( secure_privacy_banner_shown() );
		wp_set_current_user( $this->admin() );
		$this->assertTrue( secure_privacy_banner_shown() );
		ob_start();
		secure_privacy_print_preview_note();
		$this->assertStringContainsString( 'Only administrators see the consent banner until Test connection passes', (string) ob_get_clean() );
	}

	public function test_a_passing_test_puts_the_banner_live_for_that_sidecar_url_only(): void {
		$this->as_stack_site( 'secure_privacy_test_connection' );
		$this->assertTrue( secure_privacy_is_live() );
		$this->assertTrue( secure_privacy_banner_shown() );
		ob_start();
		secure_privacy_print_preview_note();
		$this->assertSame( '', ob_get_clean() );
		$this->set( array( 'sidecar_url' => self::DOWN_URL ) );
		$this->assertFalse( secure_privacy_is_live() ); // Another sidecar: test it first.
		$this->assertFalse( secure_privacy_test_connection()['ok'] );
		$this->assertFalse( secure_privacy_is_live() );
	}

	public function test_a_page_view_reads_the_connection_once_and_every_write_decides_again(): void {
		$reads = 0;
		$count = static function ( $value ) use ( &$reads ) {
			++$reads;
			return $value;
		};
		add_filter( 'option_' . SECURE_PRIVACY_CONNECTION_OPTION, $count );
		try {
			$this->assertFalse( secure_privacy_is_live() );
			$live = array(
				'live'        => true,
				'sidecar_url' => secure_privacy_settings()['sidecar_url'],
			);
			update_option( SECURE_PRIVACY_CONNECTION_OPTION, $live );
			$reads = 0;
			for ( $i = 0; $i < 4; $i++ ) { // Enqueue, blocking, an enqueued tracker, the footer note.
				$this->assertTrue( secure_privacy_is_live() );
				$this->assertTrue( secure_privacy_banner_shown() );
			}
			$this->assertSame( 0, $reads, 'decided when the connection was written, read no more' );
			// The settings read again without their hooks (written around them): decided again.
			global $wpdb;
			$raw   = get_option( SECURE_PRIVACY_OPTION );
			$write = static function ( array $value ) use ( $wpdb ): void {
				$wpdb->update( $wpdb->options, array( 'option_value' => maybe_serialize( $value ) ), array( 'option_name' => SECURE_PRIVACY_OPTION ) ); // phpcs:ignore WordPress.DB
				wp_cache_delete( 'alloptions', 'options' );
				secure_privacy_settings( true );
			};
			$write( array( 'sidecar_url' => self::DOWN_URL ) + $raw );
			$this->assertFalse( secure_privacy_is_live(), 'the sidecar URL read is another' );
			$write( $raw );
			$this->assertTrue( secure_privacy_is_live() );
			$this->set( array( 'sidecar_url' => self::DOWN_URL ) );
			$this->assertFalse( secure_privacy_is_live(), 'another sidecar URL: not live' );
			$this->set( array( 'sidecar_url' => $live['sidecar_url'] ) );
			$this->assertTrue( secure_privacy_is_live() );
			update_option( SECURE_PRIVACY_CONNECTION_OPTION, array( 'live' => false ) + $live );
			$this->assertFalse( secure_privacy_is_live() );
			delete_option( SECURE_PRIVACY_CONNECTION_OPTION );
			$this->assertFalse( secure_privacy_is_live() );
			add_option( SECURE_PRIVACY_CONNECTION_OPTION, $live );
			$this->assertTrue( secure_privacy_is_live() );
		} finally {
			remove_filter( 'option_' . SECURE_PRIVACY_CONNECTION_OPTION, $count );
		}
	}

	public function test_a_failing_signature_check_keeps_the_banner_back(): void {
		$this->set( array( 'secret_keys' => wp_generate_password( 40, false ) ) ); // Not the sidecar's.
		$result = $this->as_stack_site( 'secure_privacy_test_connection' );
		$this->assertFalse( array_column( $result['checks'], 'ok', 'key' )['signing'] );
		$this->assertFalse( secure_privacy_is_live() );
	}

	public function test_the_first_passing_test_delivers_the_outbox_at_once(): void {
		$this->set( array( 'sidecar_url' => self::DOWN_URL ) );
		$body = $this->body();
		$this->assertSame( 202, $this->post_consent( $body )->get_status() );
		$this->assertCount( 1, $this->outbox() );
		$this->set( array( 'sidecar_url' => (string) getenv( 'SP_TEST_SIDECAR_URL' ) ) );
		$this->as_stack_site( 'secure_privacy_test_connection' );
		$this->assertSame( array(), $this->outbox() ); // No cron tick needed.
		$this->assertCount( 1, $this->sidecar_records( $body['subject_id'] ) );
	}

	public function test_the_checklist_follows_the_last_test_and_the_policy_page(): void {
		$this->assertFalse( $this->step( 'test' ) );
		$this->assertTrue( $this->step( 'connect' ) );
		$this->as_stack_site( 'secure_privacy_test_connection' );
		$this->assertTrue( $this->step( 'test' ) );
		$this->assertTrue( $this->step( 'origin' ) );
		$this->assertTrue( $this->step( 'worker' ) );
		secure_privacy_test_connection(); // This test site itself is not on SP_SITE_ORIGINS.
		$this->assertFalse( $this->step( 'origin' ) );

		$draft = wp_insert_post(
			array(
				'post_type'   => 'page',
				'post_title'  => 'Privacy Policy',
				'post_status' => 'draft',
			)
		);
		update_option( 'wp_page_for_privacy_policy', $draft );
		$this->assertFalse( $this->step( 'policy' ) ); // WordPress's default: a draft.
		wp_publish_post( $draft );
		$this->assertTrue( $this->step( 'policy' ) );
		wp_delete_post( $draft, true );
	}

	public function test_going_live_purges_the_page_caches_of_active_cache_plugins_once(): void {
		// A page cached before going live has no banner. Stand-ins for two cache plugins'
		// purge entry points (WP Rocket's function, LiteSpeed's action), counting calls.
		if ( ! function_exists( 'rocket_clean_domain' ) ) {
			eval( 'function rocket_clean_domain() { $GLOBALS["sp_test_purges"][] = "rocket"; }' ); // phpcs:ignore Squiz.PHP.Eval.Discouraged
		}
		$GLOBALS['sp_test_purges'] = array();
		$litespeed                 = static function () {
			$GLOBALS['sp_test_purges'][] = 'litespeed';
		};
		add_action( 'litespeed_purge_all', $litespeed );
		$told = array();
		$hook = static function ( $purged ) use ( &$told ) {
			$told[] = $purged;
		};
		add_action( 'secure_privacy_went_live', $hook );
		try {
			$this->assertSame( '', secure_privacy_live_note() );
			$this->as_stack_site( 'secure_privacy_test_connection' );
			$this->assertSame( array( 'rocket', 'litespeed' ), $GLOBALS['sp_test_purges'] );
			$this->assertSame( array( array( 'WP Rocket', 'LiteSpeed Cache' ) ), $told );
			$note = secure_privacy_live_note();
			$this->assertStringContainsString( 'Page caches purged then: WP Rocket, LiteSpeed Cache.', $note );
			$this->assertStringContainsString( 'If a cache outside WordPress', $note );

			$this->as_stack_site( 'secure_privacy_test_connection' ); // Already live: no purge.
			$this->assertCount( 2, $GLOBALS['sp_test_purges'] );
			$this->assertSame( $note, secure_privacy_live_note() ); // The first time is kept.
		} finally {
			remove_action( 'litespeed_purge_all', $litespeed );
			remove_action( 'secure_privacy_went_live', $hook );
		}
	}
}
