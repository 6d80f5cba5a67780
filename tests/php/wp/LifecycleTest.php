<?php
/**
 * Activation, deactivation and uninstall.
 *
 * @package SecurePrivacy
 */

final class LifecycleTest extends SP_WP_TestCase {

	private function table_exists( string $table ): bool {
		global $wpdb;
		return $table === $wpdb->get_var( $wpdb->prepare( 'SHOW TABLES LIKE %s', $table ) ); // phpcs:ignore WordPress.DB
	}

	public function test_activation_creates_tables_and_cron_and_deactivation_stops_cron(): void {
		secure_privacy_scan_changed(); // A re-scan was due: deactivation drops it too.
		secure_privacy_deactivate();
		$this->assertFalse( wp_next_scheduled( SECURE_PRIVACY_CRON_HOOK ) );
		$this->assertFalse( wp_next_scheduled( SECURE_PRIVACY_SCAN_HOOK ) );
		$this->assertFalse( wp_next_scheduled( SECURE_PRIVACY_RESCAN_HOOK ) );
		$this->assertFalse( wp_next_scheduled( SECURE_PRIVACY_DAILY_HOOK ) );
		secure_privacy_activate();
		$this->assertIsInt( wp_next_scheduled( SECURE_PRIVACY_CRON_HOOK ) );
		$this->assertIsInt( wp_next_scheduled( SECURE_PRIVACY_DAILY_HOOK ) );
		$this->assertSame( 'weekly', wp_get_schedule( SECURE_PRIVACY_SCAN_HOOK ), 'the automatic site scan' );
		$this->assertTrue( $this->table_exists( secure_privacy_outbox_table() ) );
		$this->assertTrue( $this->table_exists( secure_privacy_rate_table() ) );
		$this->assertSame( SECURE_PRIVACY_DB_VERSION, get_option( SECURE_PRIVACY_DB_VERSION_OPTION ) );
	}

	public function test_a_queued_consent_brings_back_a_lost_cron_event(): void {
		wp_clear_scheduled_hook( SECURE_PRIVACY_CRON_HOOK );
		$this->set( array( 'sidecar_url' => self::DOWN_URL ) );
		$this->post_consent( $this->body() );
		$this->assertIsInt( wp_next_scheduled( SECURE_PRIVACY_CRON_HOOK ) );
	}

	public function test_uninstall_removes_options_tables_and_meta(): void {
		update_option( SECURE_PRIVACY_POLICY_EDITED_OPTION, time(), false );
		set_transient( 'secure_privacy_stats_x', array( 1 ), 60 );
		$post = wp_insert_post( array( 'post_type' => 'post', 'post_title' => 'x', 'post_status' => 'draft' ) );
		update_post_meta( $post, SECURE_PRIVACY_DEADLINE_META, '2030-01-01' );
		secure_privacy_scan_boot();
		secure_privacy_put_site_rule( array( 'kind' => 'cookie', 'pattern' => '_ga', 'category' => 'statistics' ) );
		update_option( SECURE_PRIVACY_SCAN_STATE_OPTION, array( 'last_id' => 'x' ), false );
		update_option( SECURE_PRIVACY_SCAN_NOTICE_OPTION, array( 'scan_id' => 'x' ), false );
		secure_privacy_scan_schedule_cron();
		secure_privacy_scan_after_change();
		secure_privacy_settings( true ); // Found normal: its digest is kept.
		$this->assertNotFalse( get_option( SECURE_PRIVACY_SETTINGS_DIGEST_OPTION ) );

		define( 'WP_UNINSTALL_PLUGIN', 'secure-privacy/secure-privacy.php' );
		include WP_PLUGIN_DIR . '/secure-privacy/uninstall.php';
		wp_cache_flush(); // Uninstall runs in a request of its own; this one cached the old values.

		$this->assertSame( 'gone', get_option( SECURE_PRIVACY_OPTION, 'gone' ) );
		$this->assertFalse( get_option( SECURE_PRIVACY_DB_VERSION_OPTION ) );
		$this->assertFalse( get_option( SECURE_PRIVACY_POLICY_EDITED_OPTION ) );
		$this->assertFalse( get_transient( 'secure_privacy_stats_x' ) );
		$this->assertSame( '', get_post_meta( $post, SECURE_PRIVACY_DEADLINE_META, true ) );
		$this->assertFalse( $this->table_exists( secure_privacy_outbox_table() ) );
		$this->assertFalse( $this->table_exists( secure_privacy_rate_table() ) );
		$this->assertFalse( wp_next_scheduled( SECURE_PRIVACY_CRON_HOOK ) );
		foreach ( array( SECURE_PRIVACY_SITE_RULES_OPTION, SECURE_PRIVACY_SCAN_STATE_OPTION, SECURE_PRIVACY_SCAN_NOTICE_OPTION, SECURE_PRIVACY_SETTINGS_DIGEST_OPTION ) as $option ) {
			$this->assertSame( 'gone', get_option( $option, 'gone' ), $option );
		}
		$this->assertFalse( wp_next_scheduled( SECURE_PRIVACY_SCAN_HOOK ) );
		$this->assertFalse( wp_next_scheduled( SECURE_PRIVACY_RESCAN_HOOK ) );

		wp_delete_post( $post, true );
		secure_privacy_activate(); // Back to an installed plugin for the tests after this one.
	}
}
