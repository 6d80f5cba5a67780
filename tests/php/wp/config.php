<?php
/**
 * WordPress configuration of the in-WordPress PHPUnit suite: the stack's WordPress code
 * (SP_WP_DIR) on a database of its own (SP_TEST_DB_*), table prefix `sptests_`.
 * Shared by install.php and bootstrap.php; never used by a served site.
 *
 * @package SecurePrivacy
 */

foreach ( array( 'SP_WP_DIR', 'SP_TEST_DB_HOST', 'SP_TEST_DB_NAME', 'SP_TEST_DB_USER', 'SP_TEST_DB_PASSWORD', 'SP_TEST_HOME' ) as $secure_privacy_var ) {
	if ( false === getenv( $secure_privacy_var ) ) {
		fwrite( STDERR, "tests/php/wp needs {$secure_privacy_var} (run it through tests/test_plugin_phpunit.py)\n" );
		exit( 2 );
	}
}

define( 'ABSPATH', rtrim( (string) getenv( 'SP_WP_DIR' ), '/' ) . '/' );
define( 'DB_NAME', getenv( 'SP_TEST_DB_NAME' ) );
define( 'DB_USER', getenv( 'SP_TEST_DB_USER' ) );
define( 'DB_PASSWORD', getenv( 'SP_TEST_DB_PASSWORD' ) );
define( 'DB_HOST', getenv( 'SP_TEST_DB_HOST' ) );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
foreach ( array( 'AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY', 'AUTH_SALT', 'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT' ) as $secure_privacy_salt ) {
	define( $secure_privacy_salt, 'phpunit-' . $secure_privacy_salt );
}
define( 'WP_HOME', getenv( 'SP_TEST_HOME' ) );
define( 'WP_SITEURL', getenv( 'SP_TEST_HOME' ) );
define( 'DISABLE_WP_CRON', true );
define( 'WP_HTTP_BLOCK_EXTERNAL', true );
define( 'WP_ACCESSIBLE_HOSTS', '127.0.0.1' ); // The test stack's sidecar.
define( 'AUTOMATIC_UPDATER_DISABLED', true );
define( 'WP_DEBUG', false ); // WordPress 6.1's own PHP 8.2 deprecations are not ours to fail on.
$_SERVER['HTTP_HOST']   = (string) wp_parse_url_host_for_tests( getenv( 'SP_TEST_HOME' ) );
$_SERVER['SERVER_NAME'] = $_SERVER['HTTP_HOST'];
$_SERVER['REQUEST_URI'] = '/';
$table_prefix           = 'sptests_'; // phpcs:ignore WordPress.WP.GlobalVariablesOverride.Prohibited

/**
 * The host[:port] of a URL (parse_url, before WordPress is loaded).
 *
 * @param string $url URL.
 */
function wp_parse_url_host_for_tests( string $url ): string {
	$parts = parse_url( $url ); // phpcs:ignore WordPress.WP.AlternativeFunctions.parse_url_parse_url
	return ( $parts['host'] ?? 'localhost' ) . ( isset( $parts['port'] ) ? ':' . $parts['port'] : '' );
}
