<?php
/**
 * Install the suite's WordPress (first run) and activate the plugin; run by bootstrap.php in a
 * process of its own, as WordPress's own test suite does.
 *
 * @package SecurePrivacy
 */

require __DIR__ . '/config.php';
define( 'WP_INSTALLING', true );
require ABSPATH . 'wp-settings.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';

if ( ! is_blog_installed() ) {
	$result = wp_install( 'Secure Privacy PHPUnit', 'admin', 'phpunit@example.com', false, '', 'phpunit-pass' );
	if ( is_wp_error( $result ) ) {
		fwrite( STDERR, $result->get_error_message() . "\n" );
		exit( 1 );
	}
}
$secure_privacy_result = activate_plugin( 'secure-privacy/secure-privacy.php' );
if ( is_wp_error( $secure_privacy_result ) ) {
	fwrite( STDERR, 'activate_plugin: ' . $secure_privacy_result->get_error_message() . "\n" );
	exit( 1 );
}
echo "installed\n";
