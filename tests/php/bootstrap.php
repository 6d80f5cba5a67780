<?php
/**
 * PHPUnit bootstrap for the plugin's WordPress-free unit tests.
 *
 * The signer needs no WordPress; ABSPATH only satisfies the plugin files' direct-access guard.
 *
 * @package SecurePrivacy
 */

if ( ! defined( 'ABSPATH' ) ) {
	define( 'ABSPATH', __DIR__ . '/' );
}

require_once dirname( __DIR__, 2 ) . '/wp-plugin/includes/class-signer.php';
require_once dirname( __DIR__, 2 ) . '/wp-plugin/includes/url.php';
require_once dirname( __DIR__, 2 ) . '/wp-plugin/includes/ruleset-version.php';
