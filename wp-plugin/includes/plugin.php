<?php
/**
 * Lifecycle: the boot function that wires every hook, activation and deactivation.
 *
 * Each concern file only defines functions; the hooks that call them are all listed here.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/**
 * Register every hook of the plugin (runs on plugins_loaded).
 */
function secure_privacy_boot(): void {
	add_action( 'init', 'secure_privacy_maybe_load_textdomain' );
	add_action( 'rest_api_init', 'secure_privacy_load_textdomain' );
	add_action( 'change_locale', 'secure_privacy_reload_textdomain' );

	// Settings (includes/settings.php).
	// The sanitizer runs on every write of the option, from wherever it comes; registering the
	// setting (the settings form's options.php) is only needed in wp-admin and REST, not on a
	// visitor's page view.
	add_filter( 'sanitize_option_' . SECURE_PRIVACY_OPTION, 'secure_privacy_sanitize_settings' );
	add_action( 'admin_init', 'secure_privacy_register_settings' );
	add_action( 'rest_api_init', 'secure_privacy_register_settings' );
	add_action( 'add_option_' . SECURE_PRIVACY_OPTION, 'secure_privacy_settings_changed', 10, 0 );
	add_action( 'update_option_' . SECURE_PRIVACY_OPTION, 'secure_privacy_settings_changed', 10, 0 );
	add_action( 'delete_option_' . SECURE_PRIVACY_OPTION, 'secure_privacy_settings_changed', 10, 0 );

	// Consent intake (includes/rest.php, includes/route-guard.php, includes/rate-limit.php).
	// The gate runs before core answers OPTIONS (rest_pre_dispatch, 10) and before the body is
	// parsed; the CORS filter runs after core's rest_send_cors_headers (rest_pre_serve_request, 10).
	add_action( 'rest_api_init', 'secure_privacy_register_rest_routes' );
	add_filter( 'rest_pre_dispatch', 'secure_privacy_rest_guard', 5, 3 );
	add_filter( 'rest_dispatch_request', 'secure_privacy_rest_guard_handler', 5, 4 );
	add_filter( 'rest_pre_serve_request', 'secure_privacy_rest_cors_headers', 11, 3 );

	// Outbox delivery (includes/outbox.php) and daily upkeep. The tables and the cron events are
	// also made lazily (in wp-admin, and when a consent is queued), for sites where the plugin
	// was switched on without its activation hook.
	add_filter( 'cron_schedules', 'secure_privacy_cron_schedules' );
	add_action( SECURE_PRIVACY_CRON_HOOK, 'secure_privacy_run_outbox_cron', 10, 0 );
	add_action( SECURE_PRIVACY_DAILY_HOOK, 'secure_privacy_daily_maintenance', 10, 0 );
	// Not on a visitor's page view: that costs nothing beyond the banner.
	add_action( 'admin_init', 'secure_privacy_schedule_outbox_cron' );
	add_action( 'admin_init', 'secure_privacy_outbox_maybe_install' );
	add_action( 'rest_api_init', 'secure_privacy_outbox_maybe_install' );
	add_action( 'wp_initialize_site', 'secure_privacy_initialize_site', 20 );

	// Privacy tools (includes/privacy.php) and policy versioning (includes/policy.php).
	add_filter( 'wp_privacy_personal_data_exporters', 'secure_privacy_register_exporter' );
	add_filter( 'wp_privacy_personal_data_erasers', 'secure_privacy_register_eraser' );
	add_action( 'save_post_user_request', 'secure_privacy_record_erasure_deadline', 10, 2 );
	add_action( 'post_updated', 'secure_privacy_policy_page_updated', 10, 3 );

	// Banner (includes/frontend.php): configuration and Consent Mode defaults first in <head>,
	// before any tag can read the consent state; the footer copy is only a fallback.
	add_action( 'wp_head', 'secure_privacy_print_head', 1 );
	add_action( 'wp_enqueue_scripts', 'secure_privacy_enqueue_assets' );
	add_filter( 'script_loader_tag', 'secure_privacy_defer_widget_script', 10, 2 );
	add_action( 'wp_footer', 'secure_privacy_print_config', 5 );
	// Auto-blocking (includes/blocking.php): enqueued trackers as their tags are printed, then
	// one pass over the whole page from a buffer started after redirects, before any output.
	add_filter( 'script_loader_tag', 'secure_privacy_block_enqueued_script', 20, 2 );
	add_action( 'template_redirect', 'secure_privacy_start_page_buffer', PHP_INT_MAX );
	// (The settings' own hooks above also read the site rules again and decide whether the
	// banner is live: secure_privacy_settings_changed().)
	foreach ( array( 'add_option_', 'update_option_', 'delete_option_' ) as $hook ) {
		add_action( $hook . SECURE_PRIVACY_SITE_RULES_OPTION, 'secure_privacy_site_rules_changed', 10, 0 );
		add_action( $hook . SECURE_PRIVACY_CONNECTION_OPTION, 'secure_privacy_connection_changed', 10, 0 );
	}
	// Until Test connection has passed, only administrators see the banner (includes/setup.php).
	add_action( 'wp_footer', 'secure_privacy_print_preview_note' );
	add_action( 'switch_blog', 'secure_privacy_connection_changed', 10, 0 );
	// WP Consent API: this plugin is the consent manager and the region is opt-in.
	add_filter( 'wp_consent_api_registered_' . plugin_basename( SECURE_PRIVACY_FILE ), '__return_true' );
	add_filter( 'wp_get_consent_type', 'secure_privacy_consent_type' );
	add_action( 'clean_post_cache', 'secure_privacy_forget_privacy_url', 10, 2 );
	add_action( 'upgrader_process_complete', 'secure_privacy_forget_banner_output', 10, 0 );

	// Site scan (includes/scan*.php): loaded in wp-admin, WP-cron and WP-CLI, and when a plugin
	// or theme is activated or updated (which may happen over REST or in cron); the page-list
	// route's file only when the REST API starts. Never on a visitor's page view or consent.
	if ( is_admin() || wp_doing_cron() || ( defined( 'WP_CLI' ) && WP_CLI ) ) {
		secure_privacy_scan_boot();
	}
	add_action( 'activated_plugin', 'secure_privacy_scan_changed', 10, 0 );
	add_action( 'switch_theme', 'secure_privacy_scan_changed', 10, 0 );
	add_action( 'upgrader_process_complete', 'secure_privacy_scan_upgraded', 10, 2 );
	add_action( 'rest_api_init', 'secure_privacy_scan_rest_routes' );

	// Admin screens (includes/admin*.php, loaded in wp-admin only).
	if ( is_admin() ) {
		add_action( 'admin_menu', 'secure_privacy_admin_menu' );
		add_action( 'admin_init', 'secure_privacy_admin_settings_fields' );
		add_action( 'admin_enqueue_scripts', 'secure_privacy_admin_enqueue' );
		add_action( 'admin_notices', 'secure_privacy_admin_render_flash' );
		add_action( 'admin_notices', 'secure_privacy_policy_notice' );
		add_action( 'admin_notices', 'secure_privacy_setup_notice' );
		add_action( 'admin_notices', 'secure_privacy_blocking_notice' );
		add_action( 'wp_dashboard_setup', 'secure_privacy_dashboard_setup' );
		add_filter( 'manage_erase-personal-data_columns', 'secure_privacy_erasure_columns' );
		add_action( 'manage_erase-personal-data_custom_column', 'secure_privacy_erasure_column', 10, 2 );
		add_filter( 'plugin_action_links_' . plugin_basename( SECURE_PRIVACY_FILE ), 'secure_privacy_action_links' );
		add_filter( 'plugin_row_meta', 'secure_privacy_row_meta', 10, 2 );
		// The forms of the admin screens post to admin-post.php (includes/admin*.php).
		add_action( 'admin_post_secure_privacy_test_connection', 'secure_privacy_handle_test_connection' );
		add_action( 'admin_post_secure_privacy_retry_outbox', 'secure_privacy_handle_retry_outbox' );
		add_action( 'admin_post_secure_privacy_screenshot', 'secure_privacy_handle_screenshot' );
		add_action( 'admin_post_secure_privacy_export', 'secure_privacy_handle_export' );
		add_action( 'admin_post_secure_privacy_delete_consent', 'secure_privacy_handle_delete_consent' );
		add_action( 'admin_post_secure_privacy_erase', 'secure_privacy_handle_erase' );
		add_action( 'admin_post_secure_privacy_policy_bump', 'secure_privacy_handle_policy_bump' );
		// Site scan page (includes/admin-scan.php).
		add_action( 'admin_notices', 'secure_privacy_scan_render_notice' );
		add_action( 'admin_post_secure_privacy_scan_start', 'secure_privacy_handle_scan_start' );
		add_action( 'admin_post_secure_privacy_scan_rule', 'secure_privacy_handle_scan_rule' );
		add_action( 'admin_post_secure_privacy_scan_rule_delete', 'secure_privacy_handle_scan_rule_delete' );
		add_action( 'admin_post_secure_privacy_scan_schedule', 'secure_privacy_handle_scan_schedule' );
		add_action( 'admin_post_secure_privacy_scan_dismiss', 'secure_privacy_handle_scan_dismiss' );
		add_action( 'wp_ajax_secure_privacy_scan_progress', 'secure_privacy_ajax_scan_progress' );
	}
}

/**
 * Load the site scan's code and wire its hooks (once per request): the re-scan cron events,
 * keeping the recurring one scheduled, the site rules' sanitizer.
 */
function secure_privacy_scan_boot(): void {
	static $booted = false;
	if ( $booted ) {
		return;
	}
	$booted = true;
	require_once __DIR__ . '/scan-rules.php';
	require_once __DIR__ . '/scan.php';
	add_filter( 'sanitize_option_' . SECURE_PRIVACY_SITE_RULES_OPTION, 'secure_privacy_sanitize_site_rules' );
	add_action( SECURE_PRIVACY_SCAN_HOOK, 'secure_privacy_scan_cron_run', 10, 0 );
	add_action( SECURE_PRIVACY_RESCAN_HOOK, 'secure_privacy_scan_cron_rescan', 10, 0 );
	add_action( SECURE_PRIVACY_SCAN_CHECK_HOOK, 'secure_privacy_scan_cron_check', 10, 0 );
	add_action( 'admin_init', 'secure_privacy_scan_schedule_cron' );
}

/**
 * A plugin or theme was activated (activated_plugin, switch_theme): re-scan soon.
 */
function secure_privacy_scan_changed(): void {
	secure_privacy_scan_boot();
	secure_privacy_scan_after_change();
}

/**
 * Plugins or themes were installed or updated (upgrader_process_complete): re-scan soon after
 * an update.
 *
 * @param mixed $upgrader The upgrader.
 * @param mixed $extra    What was upgraded.
 */
function secure_privacy_scan_upgraded( $upgrader = null, $extra = array() ): void {
	secure_privacy_scan_boot();
	secure_privacy_scan_after_upgrade( $upgrader, $extra );
}

/**
 * On a REST request (rest_api_init): the page-list route the sidecar asks
 * (includes/scan-pages.php; it needs nothing of the rest of the scan's code).
 */
function secure_privacy_scan_rest_routes(): void {
	require_once __DIR__ . '/scan-pages.php';
	secure_privacy_scan_pages_register_route();
}

/**
 * Reload the translations after switch_to_locale() (change_locale).
 */
function secure_privacy_reload_textdomain(): void {
	unload_textdomain( 'secure-privacy' );
	secure_privacy_load_textdomain();
}

/**
 * Say on the Plugins screen what deleting the plugin keeps (plugin_row_meta).
 *
 * @param array  $meta Row meta.
 * @param string $file Plugin file.
 */
function secure_privacy_row_meta( $meta, $file ): array {
	$meta = (array) $meta;
	if ( plugin_basename( SECURE_PRIVACY_FILE ) === $file ) {
		$meta[] = esc_html__( 'Deleting the plugin removes its settings and outbox; consent records stay in the sidecar until erased there.', 'secure-privacy' );
	}
	return $meta;
}

/**
 * A "Settings" link on the Plugins screen (plugin_action_links_{plugin}).
 *
 * @param array $links Action links.
 */
function secure_privacy_action_links( $links ): array {
	$links = (array) $links;
	array_unshift( $links, sprintf( '<a href="%s">%s</a>', esc_url( admin_url( 'admin.php?page=' . SECURE_PRIVACY_MENU_SLUG ) ), esc_html__( 'Settings', 'secure-privacy' ) ) );
	return $links;
}

/**
 * Load the translations on init, except on a visitor's page view: that needs them only to
 * build the banner, which is kept built (secure_privacy_build_banner_output() loads them).
 */
function secure_privacy_maybe_load_textdomain(): void {
	if ( is_admin() || wp_doing_cron() || ( defined( 'WP_CLI' ) && WP_CLI ) ) {
		secure_privacy_load_textdomain();
	}
}

/**
 * Load the translations shipped in languages/ (translations from
 * wp-content/languages/plugins/ take precedence).
 */
function secure_privacy_load_textdomain(): void {
	load_plugin_textdomain( 'secure-privacy', false, dirname( plugin_basename( SECURE_PRIVACY_FILE ) ) . '/languages' );
}

/** Daily upkeep: rate-limit counters, the policy version that took effect. */
const SECURE_PRIVACY_DAILY_HOOK = 'secure_privacy_daily';

/**
 * Activation: on every site of the network when network-activated, else on this one.
 *
 * @param bool $network_wide Network activation.
 */
function secure_privacy_activate( $network_wide = false ): void {
	// plugins_loaded has already run on the activation request, so the boot hooks are not there yet.
	add_filter( 'cron_schedules', 'secure_privacy_cron_schedules' );
	secure_privacy_for_each_site( (bool) $network_wide, 'secure_privacy_activate_site' );
}

/**
 * Deactivation: stop the cron events (on every site when network-deactivated). The outbox
 * keeps its rows until uninstall.
 *
 * @param bool $network_wide Network deactivation.
 */
function secure_privacy_deactivate( $network_wide = false ): void {
	secure_privacy_for_each_site( (bool) $network_wide, 'secure_privacy_deactivate_site' );
}

/**
 * Create the tables and schedule the cron events of the current site.
 */
function secure_privacy_activate_site(): void {
	secure_privacy_outbox_install();
	secure_privacy_schedule_outbox_cron();
	secure_privacy_scan_boot();
	secure_privacy_scan_schedule_cron();
}

/**
 * Unschedule the current site's cron events.
 */
function secure_privacy_deactivate_site(): void {
	wp_clear_scheduled_hook( SECURE_PRIVACY_CRON_HOOK );
	wp_clear_scheduled_hook( SECURE_PRIVACY_DAILY_HOOK );
	foreach ( array( 'secure_privacy_scan', 'secure_privacy_rescan', 'secure_privacy_scan_check' ) as $hook ) {
		wp_clear_scheduled_hook( $hook );
	}
}

/**
 * Run $callback on every site of the network ($network_wide on multisite), else on this site.
 *
 * @param bool     $network_wide All sites.
 * @param callable $callback     Runs with the site switched to.
 */
function secure_privacy_for_each_site( bool $network_wide, callable $callback ): void {
	if ( ! $network_wide || ! is_multisite() ) {
		$callback();
		return;
	}
	foreach ( get_sites(
		array(
			'fields' => 'ids',
			'number' => 0,
		)
	) as $site_id ) {
		switch_to_blog( (int) $site_id );
		$callback();
		restore_current_blog();
	}
}

/**
 * A site added to a network where the plugin is network-active gets its tables (wp_initialize_site).
 *
 * @param WP_Site $site The new site.
 */
function secure_privacy_initialize_site( $site ): void {
	if ( ! function_exists( 'is_plugin_active_for_network' ) ) {
		require_once ABSPATH . 'wp-admin/includes/plugin.php';
	}
	if ( $site instanceof WP_Site && is_plugin_active_for_network( plugin_basename( SECURE_PRIVACY_FILE ) ) ) {
		switch_to_blog( (int) $site->blog_id );
		secure_privacy_activate_site();
		restore_current_blog();
	}
}

/**
 * The daily upkeep.
 */
function secure_privacy_daily_maintenance(): void {
	secure_privacy_rate_cleanup();
	secure_privacy_policy_promote();
	secure_privacy_apply_retention();
}

/**
 * Write a line to the PHP error log and fire `secure_privacy_log` for other handlers.
 *
 * @param string $message What happened; never secrets or personal data.
 */
function secure_privacy_log( string $message ): void {
	/**
	 * Fires when the plugin logs an operational problem (e.g. a consent the sidecar refused).
	 *
	 * @param string $message The message.
	 */
	do_action( 'secure_privacy_log', $message );
	// phpcs:ignore WordPress.PHP.DevelopmentFunctions.error_log_error_log -- operators must see refused consents.
	error_log( 'Secure Privacy: ' . $message );
}
