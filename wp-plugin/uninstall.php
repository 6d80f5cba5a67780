<?php
/**
 * Uninstall: remove the plugin's option, schema version, cron event and outbox table.
 *
 * WordPress runs this file alone (the plugin is not loaded), so names are spelled out here.
 * Consent records are the sidecar's and stay in its tables.
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
	delete_option( 'secure_privacy_db_version' );
	wp_clear_scheduled_hook( 'secure_privacy_flush_outbox' );
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery.SchemaChange, WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- our own table.
	$wpdb->query( "DROP TABLE IF EXISTS {$wpdb->prefix}sp_outbox" );
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
