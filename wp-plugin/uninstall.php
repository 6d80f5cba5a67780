<?php
/**
 * Uninstall: remove the plugin's options (settings, site rules, scan state), cron events, tables (outbox, rate-limit counters),
 * transients and the erasure-deadline post meta, on every site of a network.
 *
 * WordPress runs this file alone (the plugin is not loaded), so names are spelled out here.
 * Consent records are the sidecar's: they stay in its tables until erased there (consent log
 * → Erase, or the sidecar's admin API), because they are the site's proof of consent.
 *
 * @package SecurePrivacy
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

/**
 * Remove the plugin's data from the current site.
 */
function secure_privacy_uninstall_site(): void {
	global $wpdb;
	delete_option( 'secure_privacy_settings' );
	delete_option( 'secure_privacy_settings_digest' );
	delete_option( 'secure_privacy_db_version' );
	delete_option( 'secure_privacy_policy_edited' );
	delete_option( 'secure_privacy_privacy_url' );
	delete_option( 'secure_privacy_banner_cache' );
	delete_option( 'secure_privacy_served_versions' );
	delete_option( 'secure_privacy_site_rules' );
	delete_option( 'secure_privacy_scan_state' );
	delete_option( 'secure_privacy_scan_notice' );
	wp_clear_scheduled_hook( 'secure_privacy_flush_outbox' );
	wp_clear_scheduled_hook( 'secure_privacy_daily' );
	wp_clear_scheduled_hook( 'secure_privacy_scan' );
	wp_clear_scheduled_hook( 'secure_privacy_rescan' );
	wp_clear_scheduled_hook( 'secure_privacy_scan_check' );
	delete_post_meta_by_key( '_secure_privacy_deadline' );
	// phpcs:disable WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- our own tables and transients.
	$wpdb->query( "DROP TABLE IF EXISTS {$wpdb->prefix}sp_outbox" );
	$wpdb->query( "DROP TABLE IF EXISTS {$wpdb->prefix}sp_rate_limit" );
	$wpdb->query( "DELETE FROM {$wpdb->options} WHERE option_name LIKE '\\_transient\\_secure\\_privacy\\_%' OR option_name LIKE '\\_transient\\_timeout\\_secure\\_privacy\\_%'" );
	// phpcs:enable
}

if ( is_multisite() ) {
	foreach ( get_sites( array( 'fields' => 'ids', 'number' => 0 ) ) as $secure_privacy_site_id ) {
		switch_to_blog( (int) $secure_privacy_site_id );
		secure_privacy_uninstall_site();
		restore_current_blog();
	}
} else {
	secure_privacy_uninstall_site();
}
