<?php
/**
 * The first hour (issue 12): whether the banner is live for visitors, and the setup checklist.
 *
 * The banner goes live for visitors once Test connection has found, for the current sidecar
 * URL, that the sidecar is ready, takes the admin token and verifies this site's signatures:
 * then a visitor's choice is recorded, not left waiting in the outbox. Until then only
 * administrators see the banner, with a note saying so. The last test's other findings (the
 * site's address on SP_SITE_ORIGINS, a live screenshot worker) and a published privacy policy
 * make up the rest of the checklist, shown as an admin notice and on the settings page until
 * every item is done.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/** Option: the last Test connection, {at, sidecar_url, version, live, checks: key => ok}. */
const SECURE_PRIVACY_CONNECTION_OPTION = 'secure_privacy_connection';

/** The checks of Test connection (their keys) a visitor's consent needs to be recorded. */
const SECURE_PRIVACY_DELIVERY_CHECKS = array( 'readiness', 'admin_token', 'signing' );

/**
 * Keep what Test connection found. When it passes, what waits in the outbox is delivered at
 * once (no cron tick).
 *
 * @param array $result secure_privacy_test_connection()'s result (each check has a `key`).
 */
function secure_privacy_record_connection( array $result ): void {
	$settings = secure_privacy_settings();
	$checks   = array();
	foreach ( $result['checks'] as $check ) {
		$checks[ $check['key'] ?? $check['label'] ] = (bool) $check['ok'];
	}
	$live = '' !== $settings['sidecar_url'];
	foreach ( SECURE_PRIVACY_DELIVERY_CHECKS as $needed ) {
		$live = $live && ! empty( $checks[ $needed ] );
	}
	$was      = secure_privacy_is_live();
	$previous = (array) get_option( SECURE_PRIVACY_CONNECTION_OPTION, array() );
	$went     = $live && ! $was;
	update_option(
		SECURE_PRIVACY_CONNECTION_OPTION,
		array(
			'at'          => time(),
			'sidecar_url' => $settings['sidecar_url'],
			'version'     => (string) $result['version'],
			'live'        => $live || $was,
			'checks'      => $checks,
			// When visitors began to see the banner, and which page caches were purged then.
			'live_since'  => $went ? time() : ( $previous['live_since'] ?? null ),
			'purged'      => $went ? secure_privacy_purge_page_caches() : ( $previous['purged'] ?? array() ),
		),
		true
	);
	if ( $went ) {
		secure_privacy_forget_banner_output();
	}
	if ( $live ) {
		secure_privacy_deliver_after_save();
	}
}

/**
 * Purge the page caches WordPress's caching plugins keep, when the banner goes live: a page
 * cached before then has no banner, and a cache would keep serving it to visitors. Calls each
 * known plugin's own purge-all entry point where that plugin is active, and fires
 * `secure_privacy_went_live` for anything else (a host's or CDN's cache).
 *
 * @return string[] The caches purged, by name.
 */
function secure_privacy_purge_page_caches(): array {
	$purged = array();
	$calls  = array(
		'WP Rocket'            => 'rocket_clean_domain',
		'W3 Total Cache'       => 'w3tc_flush_all',
		'WP Super Cache'       => 'wp_cache_clear_cache',
		'WP Fastest Cache'     => 'wpfc_clear_all_cache',
		'SiteGround Optimizer' => 'sg_cachepress_purge_cache',
	);
	foreach ( $calls as $name => $function ) {
		if ( function_exists( $function ) ) {
			call_user_func( $function );
			$purged[] = $name;
		}
	}
	// Plugins that purge on an action of their own.
	$actions = array(
		'LiteSpeed Cache' => 'litespeed_purge_all',
		'Cache Enabler'   => 'cache_enabler_clear_complete_cache',
		'Hummingbird'     => 'wphb_clear_page_cache',
	);
	foreach ( $actions as $name => $action ) {
		if ( has_action( $action ) ) {
			do_action( $action );
			$purged[] = $name;
		}
	}
	/**
	 * The banner is now shown to visitors: purge any other cache of the site's pages here.
	 *
	 * @param string[] $purged The caches already purged, by name.
	 */
	do_action( 'secure_privacy_went_live', $purged );
	return $purged;
}

/**
 * What the settings page's Setup box says once the banner is live: since when, and which
 * page caches were purged then (a cache WordPress cannot reach must be purged by hand).
 */
function secure_privacy_live_note(): string {
	$connection = get_option( SECURE_PRIVACY_CONNECTION_OPTION );
	if ( ! secure_privacy_is_live() || ! is_array( $connection ) || empty( $connection['live_since'] ) ) {
		return '';
	}
	$since  = wp_date( get_option( 'date_format' ) . ' ' . get_option( 'time_format' ), (int) $connection['live_since'] );
	$purged = (array) ( $connection['purged'] ?? array() );
	return sprintf(
		/* translators: 1: date and time, 2: list of cache plugins or "none found". */
		__( 'Visitors see the banner since %1$s. Page caches purged then: %2$s. If a cache outside WordPress (your host\'s, a CDN) keeps copies of your pages, purge it, or visitors get pages without the banner until those copies expire.', 'secure-privacy' ),
		$since,
		$purged ? implode( ', ', $purged ) : __( 'none found', 'secure-privacy' )
	);
}

/**
 * Deliver what waits in the outbox at once when the banner is live, rather than at the next
 * cron tick: after a passing Test connection, and after the settings form was saved
 * (shutdown, after the redirect is sent).
 */
function secure_privacy_deliver_after_save(): void {
	if ( secure_privacy_is_live() && secure_privacy_outbox_has_pending() ) {
		secure_privacy_flush_outbox( SECURE_PRIVACY_OUTBOX_CRON_BATCH, true );
	}
}

/**
 * Whether the banner is shown to visitors: Test connection has passed its delivery checks for
 * the sidecar URL now set (an autoloaded option: no query). Decided once per request (a page
 * view asks four times), and again when the sidecar URL of secure_privacy_settings() is another;
 * secure_privacy_connection_changed() decides again when the connection or the settings are
 * written, or another site of the network is switched to.
 *
 * @param bool $refresh Decide again.
 */
function secure_privacy_is_live( bool $refresh = false ): bool {
	static $live = null, $for = null;
	$url = secure_privacy_settings()['sidecar_url'];
	if ( null === $live || $refresh || $for !== $url ) {
		$connection = get_option( SECURE_PRIVACY_CONNECTION_OPTION );
		$for        = $url;
		$live       = is_array( $connection ) && ! empty( $connection['live'] ) && '' !== $url
			&& ( $connection['sidecar_url'] ?? '' ) === $url;
	}
	return $live;
}

/**
 * Decide secure_privacy_is_live() again: the connection or the settings were written
 * (after secure_privacy_settings_changed()), or another site was switched to.
 */
function secure_privacy_connection_changed(): void {
	secure_privacy_is_live( true );
}

/**
 * Whether this request shows the banner: to everyone once live, before that to administrators
 * only.
 */
function secure_privacy_banner_shown(): bool {
	return secure_privacy_is_live() || current_user_can( 'manage_options' );
}

/**
 * Before going live, tell the administrator on the public site why visitors do not see the
 * banner yet (wp_footer).
 */
function secure_privacy_print_preview_note(): void {
	if ( secure_privacy_is_live() || ! current_user_can( 'manage_options' ) ) {
		return;
	}
	printf(
		'<div id="sp-preview-note" role="note" style="position:fixed;left:1rem;bottom:1rem;z-index:2147483646;max-width:22rem;padding:.6rem .8rem;background:#1d2327;color:#fff;font:14px/1.4 sans-serif;border-radius:4px">%s <a href="%s" style="color:#fff;text-decoration:underline">%s</a></div>',
		esc_html__( 'Only administrators see the consent banner until Test connection passes: visitors do not see it yet.', 'secure-privacy' ),
		esc_url( admin_url( 'admin.php?page=secure-privacy' ) ),
		esc_html__( 'Open the settings', 'secure-privacy' )
	);
}

/**
 * The setup checklist: each item with whether it is done and what to do.
 *
 * @return array<int, array{key: string, done: bool, label: string, todo: string}>
 */
function secure_privacy_setup_checklist(): array {
	$settings   = secure_privacy_settings();
	$connection = get_option( SECURE_PRIVACY_CONNECTION_OPTION );
	$tested     = is_array( $connection ) && ( $connection['sidecar_url'] ?? '' ) === $settings['sidecar_url'];
	$checks     = $tested ? (array) $connection['checks'] : array();
	$policy     = (int) get_option( 'wp_page_for_privacy_policy' );
	$configured = '' !== $settings['sidecar_url'] && '' !== $settings['secret_keys'] && '' !== $settings['admin_token'];
	return array(
		array(
			'key'   => 'connect',
			'done'  => $configured,
			'label' => __( 'Connect the sidecar', 'secure-privacy' ),
			'todo'  => __( 'Enter the Sidecar URL, the Signing secrets and the Admin API token that `sidecar init` printed, and save.', 'secure-privacy' ),
		),
		array(
			'key'   => 'test',
			'done'  => secure_privacy_is_live(),
			'label' => __( 'Test connection passes', 'secure-privacy' ),
			'todo'  => __( 'Run Test connection. Until it passes, only administrators see the banner.', 'secure-privacy' ),
		),
		array(
			'key'   => 'origin',
			'done'  => ! empty( $checks['site_address'] ),
			'label' => __( 'This site is on the sidecar\'s SP_SITE_ORIGINS', 'secure-privacy' ),
			'todo'  => __( 'Add this site\'s address to SP_SITE_ORIGINS on the sidecar, restart it, and run Test connection again.', 'secure-privacy' ),
		),
		array(
			'key'   => 'worker',
			'done'  => ! empty( $checks['worker'] ),
			'label' => __( 'The screenshot worker runs', 'secure-privacy' ),
			'todo'  => __( 'Start the worker on the sidecar\'s host (`sidecar worker`, or its service), then run Test connection again.', 'secure-privacy' ),
		),
		array(
			'key'   => 'policy',
			'done'  => $policy > 0 && 'publish' === get_post_status( $policy ),
			'label' => __( 'A privacy policy page is published', 'secure-privacy' ),
			'todo'  => __( 'Publish the privacy policy page (Settings → Privacy): the banner links to it only once it is published.', 'secure-privacy' ),
		),
	);
}

/**
 * The checklist as HTML (admin notice and settings page).
 *
 * @param array $items secure_privacy_setup_checklist().
 */
function secure_privacy_render_checklist( array $items ): void {
	echo '<ol class="sp-checklist">';
	foreach ( $items as $item ) {
		printf(
			'<li data-sp-step="%1$s" data-sp-done="%2$d"><span class="dashicons %3$s" aria-hidden="true"></span> <strong>%4$s</strong> — %5$s</li>',
			esc_attr( $item['key'] ),
			$item['done'] ? 1 : 0,
			$item['done'] ? 'dashicons-yes-alt' : 'dashicons-marker',
			esc_html( $item['label'] ),
			$item['done'] ? esc_html__( 'done.', 'secure-privacy' ) : esc_html( $item['todo'] )
		);
	}
	echo '</ol>';
}

/**
 * Admin notice (admin_notices): the checklist, for administrators, until every item is done.
 */
function secure_privacy_setup_notice(): void {
	$screen = function_exists( 'get_current_screen' ) ? get_current_screen() : null;
	if ( ! current_user_can( 'manage_options' ) || ( $screen && 'toplevel_page_secure-privacy' === $screen->id ) ) {
		return; // The settings page shows it in its own box.
	}
	$items = secure_privacy_setup_checklist();
	if ( ! in_array( false, array_column( $items, 'done' ), true ) ) {
		return;
	}
	echo '<div class="notice notice-warning" id="sp-setup-checklist"><p><strong>' . esc_html__( 'Secure Privacy setup', 'secure-privacy' ) . '</strong> — ';
	printf(
		/* translators: 1: steps done, 2: steps in all. */
		esc_html__( '%1$d of %2$d steps done.', 'secure-privacy' ),
		count( array_filter( array_column( $items, 'done' ) ) ),
		count( $items )
	);
	echo ' <a href="' . esc_url( admin_url( 'admin.php?page=' . SECURE_PRIVACY_MENU_SLUG ) ) . '">' . esc_html__( 'Open the settings', 'secure-privacy' ) . '</a></p>';
	secure_privacy_render_checklist( $items );
	echo '</div>';
}
