<?php
/**
 * Classify request URLs with the plugin's auto-blocking matcher, for the Python cross-check
 * against the scan's classifier (tests/test_block_catalogue.py).
 *
 * Usage: php tests/php/block-cli.php < cases.json, a JSON object {"rules": [site rules],
 * "urls": [strings]}. Prints a JSON list, per URL null or {category, service, id, breaks, source}.
 *
 * @package SecurePrivacy
 */

if ( PHP_SAPI !== 'cli' ) {
	exit( 1 );
}

define( 'ABSPATH', __DIR__ . '/' );
require_once dirname( __DIR__, 2 ) . '/wp-plugin/includes/vocabulary.php';
require_once dirname( __DIR__, 2 ) . '/wp-plugin/includes/blocking.php';

$secure_privacy_cases = json_decode( (string) file_get_contents( 'php://stdin' ), true );
if ( ! is_array( $secure_privacy_cases ) ) {
	exit( 2 );
}
$secure_privacy_index = array(
	'host'   => array(),
	'suffix' => array(),
);
foreach ( secure_privacy_normalize_site_rules( $secure_privacy_cases['rules'] ?? array() ) as $secure_privacy_rule ) {
	$secure_privacy_index[ str_starts_with( $secure_privacy_rule['pattern'], '.' ) ? 'suffix' : 'host' ][ ltrim( $secure_privacy_rule['pattern'], '.' ) ] ??= $secure_privacy_rule;
}
$secure_privacy_out = array();
foreach ( $secure_privacy_cases['urls'] as $secure_privacy_url ) {
	$secure_privacy_out[] = secure_privacy_classify_url( $secure_privacy_url, secure_privacy_catalogue(), $secure_privacy_index );
}
echo json_encode( $secure_privacy_out ), "\n"; // phpcs:ignore WordPress.WP.AlternativeFunctions.json_encode_json_encode, WordPress.Security.EscapeOutput.OutputNotEscaped -- a CLI tool.
