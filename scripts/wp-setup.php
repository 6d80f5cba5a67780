<?php
/**
 * Install (first run) and configure (every run) the stack's WordPress.
 * Run by scripts/stack.py with the WordPress root as cwd; parameters come from SP_SETUP_* env.
 * SP_SETUP_PLUGIN=copy: a fresh site (Stack.fresh_site()) as WordPress's installer leaves it,
 * the privacy policy page a draft, the plugin's folder there but not activated nor configured.
 */
define( 'WP_INSTALLING', true );
require getcwd() . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';

$password = getenv( 'SP_SETUP_ADMIN_PASSWORD' );
$fresh    = 'copy' === getenv( 'SP_SETUP_PLUGIN' );
if ( ! is_blog_installed() ) {
	$result = wp_install( 'Secure Privacy Demo', 'admin', 'admin@example.com', true, '', wp_slash( $password ) );
	if ( is_wp_error( $result ) ) {
		fwrite( STDERR, $result->get_error_message() . "\n" );
		exit( 1 );
	}
	// A published privacy-policy page and a few pages to browse (a fresh site keeps
	// WordPress's draft policy page and nothing more).
	$privacy_id = $fresh ? 0 : (int) get_option( 'wp_page_for_privacy_policy' );
	if ( $privacy_id ) {
		wp_update_post( array( 'ID' => $privacy_id, 'post_status' => 'publish' ) );
	}
	foreach ( $fresh ? array() : array( 'About us', 'Contact', 'Shop' ) as $title ) {
		wp_insert_post( array(
			'post_title'   => $title,
			'post_type'    => 'page',
			'post_status'  => 'publish',
			'post_content' => '<!-- wp:paragraph --><p>' . esc_html( $title ) . ' page of the Secure Privacy demo site.</p><!-- /wp:paragraph -->',
		) );
	}
}

// The same database served by a newer WordPress (WP_VERSION=6.5 make demo after 6.1):
// upgrade its schema as wp-admin's "Update database" would.
if ( (int) get_option( 'db_version' ) < (int) $GLOBALS['wp_db_version'] ) {
	wp_upgrade();
}

$user = get_user_by( 'login', 'admin' );
if ( $user && ! wp_check_password( $password, $user->user_pass, $user->ID ) ) {
	wp_set_password( $password, $user->ID );
}
if ( get_stylesheet() !== getenv( 'SP_SETUP_THEME' ) ) {
	switch_theme( getenv( 'SP_SETUP_THEME' ) );
}
update_option( 'permalink_structure', '' );
if ( $fresh ) {
	echo "ok\n";
	exit( 0 );
}

$plugin = 'secure-privacy/secure-privacy.php';
if ( ! is_plugin_active( $plugin ) ) {
	$activated = activate_plugin( $plugin );
	if ( is_wp_error( $activated ) ) {
		fwrite( STDERR, 'activate_plugin: ' . $activated->get_error_message() . "\n" );
		exit( 1 );
	}
}
$settings = json_decode( (string) getenv( 'SP_SETUP_SETTINGS' ), true );
$current  = get_option( 'secure_privacy_settings', array() );
update_option( 'secure_privacy_settings', array_merge( is_array( $current ) ? $current : array(), $settings ) );
echo "ok\n";
