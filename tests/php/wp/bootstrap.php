<?php
/**
 * PHPUnit bootstrap of the in-WordPress suite: installs (in a child process) and loads the
 * real WordPress of the test stack on its own test database, with the plugin active.
 *
 * @package SecurePrivacy
 */

// phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.system_calls_passthru -- test setup.
passthru( escapeshellarg( PHP_BINARY ) . ' ' . escapeshellarg( __DIR__ . '/install.php' ), $secure_privacy_rc );
if ( 0 !== $secure_privacy_rc ) {
	exit( $secure_privacy_rc );
}
require __DIR__ . '/config.php';
// No mail leaves the tests (user and request notifications).
$GLOBALS['wp_filter']['pre_wp_mail'][10][] = array(
	'function'      => '__return_true',
	'accepted_args' => 1,
);
require ABSPATH . 'wp-settings.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';
require_once __DIR__ . '/class-sp-wp-testcase.php';

if ( ! is_plugin_active( 'secure-privacy/secure-privacy.php' ) || ! function_exists( 'secure_privacy_settings' ) ) {
	fwrite( STDERR, "the plugin is not active in the test WordPress\n" );
	exit( 1 );
}
