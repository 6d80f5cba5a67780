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
	add_action( 'init', 'secure_privacy_load_textdomain' );

	// Settings (includes/settings.php) and their admin page (includes/admin.php).
	add_action( 'init', 'secure_privacy_register_settings' );
	add_action( 'add_option_' . SECURE_PRIVACY_OPTION, 'secure_privacy_settings_changed', 10, 0 );
	add_action( 'update_option_' . SECURE_PRIVACY_OPTION, 'secure_privacy_settings_changed', 10, 0 );
	add_action( 'delete_option_' . SECURE_PRIVACY_OPTION, 'secure_privacy_settings_changed', 10, 0 );
	if ( is_admin() ) {
		add_action( 'admin_menu', 'secure_privacy_admin_menu' );
		add_action( 'admin_init', 'secure_privacy_admin_settings_fields' );
	}

	// Consent intake (includes/rest.php).
	add_action( 'rest_api_init', 'secure_privacy_register_rest_routes' );
	add_filter( 'rest_pre_dispatch', 'secure_privacy_rest_limit_body_size', 10, 3 );

	// Outbox delivery (includes/outbox.php). The table and the cron event are also made
	// lazily, for sites where the plugin was switched on without its activation hook.
	add_filter( 'cron_schedules', 'secure_privacy_cron_schedules' );
	add_action( SECURE_PRIVACY_CRON_HOOK, 'secure_privacy_run_outbox_cron', 10, 0 );
	add_action( 'init', 'secure_privacy_schedule_outbox_cron' );
	add_action( 'init', 'secure_privacy_outbox_maybe_install' );

	// Banner (includes/frontend.php).
	add_action( 'wp_enqueue_scripts', 'secure_privacy_enqueue_assets' );
	add_filter( 'script_loader_tag', 'secure_privacy_defer_widget_script', 10, 2 );
	add_action( 'wp_footer', 'secure_privacy_print_config', 5 );
}

/**
 * Load the translations shipped in languages/ (translations from
 * wp-content/languages/plugins/ take precedence).
 */
function secure_privacy_load_textdomain(): void {
	load_plugin_textdomain( 'secure-privacy', false, dirname( plugin_basename( SECURE_PRIVACY_FILE ) ) . '/languages' );
}

/**
 * Activation: create the outbox table and schedule its delivery.
 */
function secure_privacy_activate(): void {
	secure_privacy_outbox_install();
	// plugins_loaded has already run on the activation request, so the boot hooks are not there yet.
	add_filter( 'cron_schedules', 'secure_privacy_cron_schedules' );
	secure_privacy_schedule_outbox_cron();
}

/**
 * Deactivation: stop the delivery cron. The outbox keeps its rows until uninstall.
 */
function secure_privacy_deactivate(): void {
	wp_clear_scheduled_hook( SECURE_PRIVACY_CRON_HOOK );
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
