<?php
/**
 * The page list on a site where WooCommerce is active, in a process of its own: WooCommerce's
 * two page functions the list uses (`wc_get_page_id`, `wc_get_page_permalink`) are defined here
 * over the page ids given as JSON (`{"cart": 12, "checkout": 13, "myaccount": 0}`), as
 * WooCommerce defines them. Prints the list as JSON. For ScanPagesTest.
 *
 * @package SecurePrivacy
 */

require __DIR__ . '/config.php';
require ABSPATH . 'wp-settings.php';

$GLOBALS['secure_privacy_wc_pages'] = (array) json_decode( (string) $argv[1], true );

/**
 * WooCommerce's page id of a page kind (-1 when not set up, as WooCommerce answers).
 *
 * @param string $page cart | checkout | myaccount | shop | terms.
 */
function wc_get_page_id( $page ) {
	$id = (int) ( $GLOBALS['secure_privacy_wc_pages'][ $page ] ?? 0 );
	return $id > 0 ? $id : -1;
}

/**
 * WooCommerce's permalink of a page kind (the home page when not set up, as WooCommerce does).
 *
 * @param string $page cart | checkout | myaccount | shop | terms.
 */
function wc_get_page_permalink( $page ) {
	$id = wc_get_page_id( $page );
	return $id > 0 ? get_permalink( $id ) : get_home_url();
}

require_once dirname( SECURE_PRIVACY_FILE ) . '/includes/scan-pages.php';
echo wp_json_encode( secure_privacy_scan_pages( 50 ) );
