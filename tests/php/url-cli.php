<?php
/**
 * Judge page URLs with the plugin's rule, for the Python cross-check (tests/test_urls.py).
 *
 * Usage: php tests/php/url-cli.php < urls.json (a JSON list of strings). Prints a JSON list
 * of the reasons ('' for a valid URL), in the same order.
 *
 * @package SecurePrivacy
 */

if ( PHP_SAPI !== 'cli' ) {
	exit( 1 );
}

define( 'ABSPATH', __DIR__ . '/' );
require_once dirname( __DIR__, 2 ) . '/wp-plugin/includes/url.php';

$secure_privacy_urls = json_decode( (string) file_get_contents( 'php://stdin' ), true );
if ( ! is_array( $secure_privacy_urls ) ) {
	exit( 2 );
}
echo json_encode( array_map( 'secure_privacy_page_url_error', $secure_privacy_urls ) ), "\n"; // phpcs:ignore WordPress.WP.AlternativeFunctions.json_encode_json_encode, WordPress.Security.EscapeOutput.OutputNotEscaped -- a CLI tool.
