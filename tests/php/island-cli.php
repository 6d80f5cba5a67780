<?php
/**
 * Print what the plugin puts inline in every page's <head> for the banner, as
 * secure_privacy_print_config() prints it: the configuration island and the <head> snippet
 * (Consent Mode defaults and the runtime guard), for the widget's size budget
 * (tests/js/build.test.js). Default settings, the built-in English texts, a site named "Demo",
 * no site rules: WordPress's few functions it needs are stood in for here.
 *
 * Usage: php tests/php/island-cli.php [site rules as JSON]
 *
 * @package SecurePrivacy
 */

if ( PHP_SAPI !== 'cli' ) {
	exit( 1 );
}

define( 'ABSPATH', __DIR__ . '/' );
define( 'SECURE_PRIVACY_FILE', dirname( __DIR__, 2 ) . '/wp-plugin/secure-privacy.php' );
define( 'SECURE_PRIVACY_VERSION', 'cli' );

// phpcs:disable -- stand-ins for WordPress.
function __( $text ) { return $text; }
function _x( $text ) { return $text; }
function get_option( $name, $default = false ) { return 'secure_privacy_site_rules' === $name ? ( $GLOBALS['argv'][1] ?? $default ) : $default; }
function update_option() { return true; }
function wp_load_alloptions() { return array( 'secure_privacy_site_rules' => 1 ); }
function has_filter() { return false; }
function apply_filters( $hook, $value ) { return $value; }
function determine_locale() { return 'en_US'; }
function is_user_logged_in() { return false; }
function is_ssl() { return true; }
function get_bloginfo() { return 'Demo'; }
function wp_specialchars_decode( $s ) { return $s; }
function rest_url( $path ) { return 'https://example.org/wp-json/' . $path; }
function get_post_status() { return false; }
function get_privacy_policy_url() { return 'https://example.org/privacy-policy/'; }
function wp_json_encode( $data, $flags = 0 ) { return json_encode( $data, $flags ); }
// phpcs:enable

$secure_privacy_dir = dirname( __DIR__, 2 ) . '/wp-plugin/includes/';
require_once $secure_privacy_dir . 'vocabulary.php';
require_once $secure_privacy_dir . 'settings.php';
require_once $secure_privacy_dir . 'blocking.php';
require_once $secure_privacy_dir . 'frontend.php';
if ( ! defined( 'SECURE_PRIVACY_REST_NAMESPACE' ) ) {
	define( 'SECURE_PRIVACY_REST_NAMESPACE', 'secure-privacy/v1' ); // rest.php's, which needs WordPress to load.
}

$secure_privacy_json    = wp_json_encode( secure_privacy_island( secure_privacy_frontend_config() ), JSON_HEX_TAG | JSON_HEX_AMP | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE );
$secure_privacy_snippet = trim( (string) file_get_contents( dirname( SECURE_PRIVACY_FILE ) . '/assets/widget-head.min.js' ) );
// As wp_print_inline_script_tag() prints them (WordPress 6.5).
echo '<script type="application/json" id="sp-consent-config">', $secure_privacy_json, "</script>\n"; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- a CLI tool.
echo '<script id="sp-consent-mode">', $secure_privacy_snippet, "</script>\n"; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- a CLI tool.
