<?php
/**
 * Admin shell: the "Secure Privacy" menu, the plugin's admin assets (on its own screens only),
 * one-time notices, and the guard every admin write passes through.
 *
 * Every admin write does, in this order: capability check → nonce check → wp_unslash +
 * sanitize → (work) → escape on output. secure_privacy_admin_guard() does the first two.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

const SECURE_PRIVACY_MENU_SLUG = 'secure-privacy';

const SECURE_PRIVACY_LOG_SLUG = 'secure-privacy-log';

const SECURE_PRIVACY_STATS_SLUG = 'secure-privacy-stats';

const SECURE_PRIVACY_SCAN_SLUG = 'secure-privacy-scan';

const SECURE_PRIVACY_CAPABILITY = 'manage_options';

const SECURE_PRIVACY_ADMIN_HANDLE = 'secure-privacy-admin';

/**
 * Add the top-level menu and its pages (admin_menu).
 */
function secure_privacy_admin_menu(): void {
	add_menu_page(
		__( 'Secure Privacy', 'secure-privacy' ),
		__( 'Secure Privacy', 'secure-privacy' ),
		SECURE_PRIVACY_CAPABILITY,
		SECURE_PRIVACY_MENU_SLUG,
		'secure_privacy_render_settings_page',
		'dashicons-shield',
		81
	);
	// Same slug as the parent: the first submenu entry reads "Settings", not "Secure Privacy".
	add_submenu_page(
		SECURE_PRIVACY_MENU_SLUG,
		__( 'Secure Privacy settings', 'secure-privacy' ),
		__( 'Settings', 'secure-privacy' ),
		SECURE_PRIVACY_CAPABILITY,
		SECURE_PRIVACY_MENU_SLUG,
		'secure_privacy_render_settings_page'
	);
	add_submenu_page(
		SECURE_PRIVACY_MENU_SLUG,
		__( 'Consent log', 'secure-privacy' ),
		__( 'Consent log', 'secure-privacy' ),
		SECURE_PRIVACY_CAPABILITY,
		SECURE_PRIVACY_LOG_SLUG,
		'secure_privacy_render_log_page'
	);
	add_submenu_page(
		SECURE_PRIVACY_MENU_SLUG,
		__( 'Site scan', 'secure-privacy' ),
		__( 'Site scan', 'secure-privacy' ),
		SECURE_PRIVACY_CAPABILITY,
		SECURE_PRIVACY_SCAN_SLUG,
		'secure_privacy_render_scan_page'
	);
	add_submenu_page(
		SECURE_PRIVACY_MENU_SLUG,
		__( 'Consent statistics', 'secure-privacy' ),
		__( 'Statistics', 'secure-privacy' ),
		SECURE_PRIVACY_CAPABILITY,
		SECURE_PRIVACY_STATS_SLUG,
		'secure_privacy_render_stats_page'
	);
}

/**
 * Whether $hook_suffix is one of the plugin's screens, or a core screen the plugin adds to
 * (the dashboard's widget, the erasure requests' deadline column).
 *
 * @param string $hook_suffix The admin page's hook suffix.
 */
function secure_privacy_is_own_screen( string $hook_suffix ): bool {
	foreach ( array( SECURE_PRIVACY_MENU_SLUG, SECURE_PRIVACY_LOG_SLUG, SECURE_PRIVACY_SCAN_SLUG, SECURE_PRIVACY_STATS_SLUG ) as $slug ) {
		if ( str_ends_with( $hook_suffix, '_page_' . $slug ) ) {
			return true;
		}
	}
	return in_array( $hook_suffix, array( 'index.php', 'erase-personal-data.php' ), true );
}

/**
 * Enqueue the admin CSS and JS on the plugin's screens only (admin_enqueue_scripts).
 *
 * @param string $hook_suffix The admin page's hook suffix.
 */
function secure_privacy_admin_enqueue( $hook_suffix ): void {
	if ( ! secure_privacy_is_own_screen( (string) $hook_suffix ) ) {
		return;
	}
	wp_enqueue_style( SECURE_PRIVACY_ADMIN_HANDLE, plugins_url( 'assets/admin.css', SECURE_PRIVACY_FILE ), array(), SECURE_PRIVACY_VERSION );
	if ( str_contains( $hook_suffix, '_page_' ) ) {
		wp_enqueue_script( SECURE_PRIVACY_ADMIN_HANDLE, plugins_url( 'assets/admin.js', SECURE_PRIVACY_FILE ), array(), SECURE_PRIVACY_VERSION, true );
	}
}

/**
 * Capability check, then nonce check, for an admin-post action; dies (403) on failure.
 *
 * @param string $action The nonce action (and admin-post action name).
 */
function secure_privacy_admin_guard( string $action ): void {
	if ( ! current_user_can( SECURE_PRIVACY_CAPABILITY ) ) {
		wp_die( esc_html__( 'Sorry, you are not allowed to do that.', 'secure-privacy' ), '', array( 'response' => 403 ) );
	}
	check_admin_referer( $action );
}

/**
 * Keep a notice for the current user's next admin screen, then redirect there and exit.
 *
 * @param string $url     Where to go (an admin URL).
 * @param string $type    success | error | warning | info.
 * @param string $message Plain text.
 */
function secure_privacy_admin_redirect( string $url, string $type, string $message ): void {
	set_transient( 'secure_privacy_notice_' . get_current_user_id(), array( $type, $message ), 5 * MINUTE_IN_SECONDS );
	wp_safe_redirect( $url );
	exit;
}

/**
 * Print (once) the notice kept by secure_privacy_admin_redirect() (admin_notices).
 */
function secure_privacy_admin_render_flash(): void {
	$key    = 'secure_privacy_notice_' . get_current_user_id();
	$notice = get_transient( $key );
	if ( ! is_array( $notice ) || 2 !== count( $notice ) ) {
		return;
	}
	delete_transient( $key );
	[ $type, $message ] = $notice;
	$type               = in_array( $type, array( 'success', 'error', 'warning', 'info' ), true ) ? $type : 'info';
	printf( '<div class="notice notice-%1$s is-dismissible sp-flash"><p>%2$s</p></div>', esc_attr( $type ), esc_html( (string) $message ) );
}

/**
 * URL of one of the plugin's admin pages.
 *
 * @param string $slug  Page slug.
 * @param array  $query Extra query arguments.
 */
function secure_privacy_admin_page_url( string $slug, array $query = array() ): string {
	return add_query_arg( array_merge( array( 'page' => $slug ), $query ), admin_url( 'admin.php' ) );
}

/**
 * An error box for a failed sidecar call.
 *
 * @param WP_Error $error The error.
 */
function secure_privacy_admin_render_error( WP_Error $error ): void {
	$settings_link = sprintf( '<a href="%s">%s</a>', esc_url( secure_privacy_admin_page_url( SECURE_PRIVACY_MENU_SLUG ) ), esc_html__( 'Check the settings', 'secure-privacy' ) );
	printf(
		'<div class="notice notice-error inline sp-sidecar-error"><p><strong>%1$s</strong> %2$s</p><p>%3$s</p></div>',
		esc_html__( 'The sidecar could not be asked.', 'secure-privacy' ),
		esc_html( $error->get_error_message() ),
		$settings_link // Escaped above.
	);
}

/**
 * A UTC timestamp from the sidecar ("2024-05-01T12:00:00Z" or "2024-05-01 12:00:00") in the
 * site's time zone and formats.
 *
 * @param string $utc  The time.
 * @param bool   $time Include the time of day.
 */
function secure_privacy_admin_local_time( string $utc, bool $time = true ): string {
	$ts = strtotime( str_ends_with( $utc, 'Z' ) ? $utc : $utc . ' UTC' );
	if ( false === $ts ) {
		return $utc;
	}
	$format = get_option( 'date_format' ) . ( $time ? ' ' . get_option( 'time_format' ) : '' );
	return wp_date( $format, $ts );
}

/**
 * A duration in words ("3 minutes"), for ages of outbox rows and deadlines.
 *
 * @param int $seconds Seconds.
 */
function secure_privacy_admin_duration( int $seconds ): string {
	return human_time_diff( 0, max( 1, $seconds ) );
}
