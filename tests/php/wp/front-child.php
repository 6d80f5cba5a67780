<?php
/**
 * A visitor's request in a process of its own (not wp-admin, not cron, not WP-CLI): prints as
 * JSON which of the site scan's files are loaded after WordPress has loaded, after the REST API
 * has started, and after a plugin was activated. For ScanPagesTest.
 *
 * @package SecurePrivacy
 */

require __DIR__ . '/config.php';
require ABSPATH . 'wp-settings.php';

$secure_privacy_loaded = static function (): array {
	$files = array_map( 'basename', get_included_files() );
	return array_values( array_intersect( array( 'scan.php', 'scan-rules.php', 'scan-pages.php', 'admin-scan.php' ), $files ) );
};
$secure_privacy_steps  = array( 'page_view' => $secure_privacy_loaded() );
rest_get_server();
$secure_privacy_steps['rest'] = $secure_privacy_loaded();
do_action( 'activated_plugin', 'hello.php', false );
$secure_privacy_steps['plugin_activated'] = $secure_privacy_loaded();
echo wp_json_encode( $secure_privacy_steps );
