<?php
/**
 * Plugin Name:       Secure Privacy
 * Description:       Cookie consent banner with a tamper-evident consent ledger kept by the Secure Privacy sidecar.
 * Version:           0.1.0
 * Requires at least: 6.1
 * Tested up to:      6.5
 * Requires PHP:      8.1
 * Author:            Secure Privacy
 * License:           GPL-2.0-or-later
 * License URI:       https://www.gnu.org/licenses/gpl-2.0.html
 * Text Domain:       secure-privacy
 * Domain Path:       /languages
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

define( 'SECURE_PRIVACY_VERSION', '0.1.0' );
define( 'SECURE_PRIVACY_FILE', __FILE__ );

require_once __DIR__ . '/includes/plugin.php';
require_once __DIR__ . '/includes/vocabulary.php';
require_once __DIR__ . '/includes/settings.php';
require_once __DIR__ . '/includes/class-signer.php';
require_once __DIR__ . '/includes/url.php';
require_once __DIR__ . '/includes/sidecar.php';
require_once __DIR__ . '/includes/setup.php';
require_once __DIR__ . '/includes/retention.php';
require_once __DIR__ . '/includes/outbox.php';
require_once __DIR__ . '/includes/client-ip.php';
require_once __DIR__ . '/includes/rate-limit.php';
require_once __DIR__ . '/includes/rest.php';
require_once __DIR__ . '/includes/ruleset-version.php';
require_once __DIR__ . '/includes/route-guard.php';
require_once __DIR__ . '/includes/served-versions.php';
require_once __DIR__ . '/includes/frontend.php';
require_once __DIR__ . '/includes/blocking.php';
require_once __DIR__ . '/includes/privacy.php';
require_once __DIR__ . '/includes/policy.php';
// Screens of wp-admin only: a visitor's page view does not compile them.
if ( is_admin() ) {
	require_once __DIR__ . '/includes/admin.php';
	require_once __DIR__ . '/includes/admin-settings.php';
	require_once __DIR__ . '/includes/admin-log.php';
	require_once __DIR__ . '/includes/charts.php';
	require_once __DIR__ . '/includes/admin-stats.php';
	require_once __DIR__ . '/includes/admin-scan.php';
}

// register_activation_hook() and register_deactivation_hook(), with the plugin's basename
// worked out once (plugin_basename() costs a few microseconds on every request).
$secure_privacy_basename = plugin_basename( __FILE__ );
add_action( 'activate_' . $secure_privacy_basename, 'secure_privacy_activate' );
add_action( 'deactivate_' . $secure_privacy_basename, 'secure_privacy_deactivate' );
unset( $secure_privacy_basename );

add_action( 'plugins_loaded', 'secure_privacy_boot' );
