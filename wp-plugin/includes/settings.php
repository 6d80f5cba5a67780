<?php
/**
 * The plugin's one option, `secure_privacy_settings`: defaults, sanitizing and reading.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

const SECURE_PRIVACY_OPTION = 'secure_privacy_settings';

/** Settings API group (the `option_page` of the settings form). */
const SECURE_PRIVACY_SETTINGS_GROUP = 'secure_privacy';

/**
 * Form-only marker: when present, empty secret fields mean "keep the saved secret".
 * Never stored.
 */
const SECURE_PRIVACY_FORM_MARKER = '_form';

/** Longest policy version, in characters (the REST route accepts the same). */
const SECURE_PRIVACY_MAX_VERSION_LENGTH = 64;

/**
 * Every setting with its default; the keys are the only ones ever stored.
 *
 * @return array{sidecar_url: string, secret_keys: string, admin_token: string, policy_version: string, privacy_page_id: int, consent_lifetime_days: int, honor_gpc: bool, honor_dnt: bool}
 */
function secure_privacy_settings_defaults(): array {
	return array(
		'sidecar_url'           => '',    // Base URL of the sidecar, e.g. http://127.0.0.1:8000.
		'secret_keys'           => '',    // Comma-separated signing secrets, oldest first, the last signs (= SP_SECRET_KEYS).
		'admin_token'           => '',    // Bearer token for the sidecar's admin API (one of SP_ADMIN_TOKENS).
		'policy_version'        => '1',   // Privacy-policy version; changing it asks every visitor again.
		'privacy_page_id'       => 0,     // 0 = the WordPress privacy-policy page.
		'consent_lifetime_days' => 365,   // Days a choice is kept before the banner asks again.
		'honor_gpc'             => true,  // Treat Global Privacy Control as a refusal.
		'honor_dnt'             => false, // Treat Do Not Track as a refusal.
	);
}

/**
 * Register the option with the Settings API (runs on init, so REST and WP-CLI writes are sanitized too).
 */
function secure_privacy_register_settings(): void {
	register_setting(
		SECURE_PRIVACY_SETTINGS_GROUP,
		SECURE_PRIVACY_OPTION,
		array(
			'type'              => 'array',
			'description'       => __( 'Secure Privacy settings.', 'secure-privacy' ),
			'default'           => secure_privacy_settings_defaults(),
			'sanitize_callback' => 'secure_privacy_sanitize_settings',
			'show_in_rest'      => false, // Holds secrets.
		)
	);
}

/**
 * The settings of this request: the stored option normalised (defaults merged, unknown keys
 * dropped, types coerced), cached per request. Normalising on read keeps values written
 * around the sanitize callback (e.g. before the setting was registered) safe to use.
 *
 * @param bool $refresh Re-read the option instead of returning the cached copy.
 * @return array See secure_privacy_settings_defaults() for the keys and types.
 */
function secure_privacy_settings( bool $refresh = false ): array {
	static $settings = null;
	if ( null === $settings || $refresh ) {
		$stored   = get_option( SECURE_PRIVACY_OPTION, array() );
		$settings = secure_privacy_normalize_settings( is_array( $stored ) ? $stored : array() );
	}
	return $settings;
}

/**
 * Drop the per-request cache after the option was written or deleted.
 */
function secure_privacy_settings_changed(): void {
	secure_privacy_settings( true );
}

/**
 * Sanitize callback of the option: secure_privacy_normalize_settings() plus the settings
 * form's rules. Idempotent (WordPress may run it twice on one save).
 *
 * From the settings form (SECURE_PRIVACY_FORM_MARKER set) an empty secret keeps the saved one,
 * because the form never prints secrets back; programmatic writes store exactly what they pass.
 * An invalid sidecar URL keeps the saved one and reports a settings error.
 *
 * @param mixed $input The submitted value (already unslashed by options.php).
 * @return array The value to store.
 */
function secure_privacy_sanitize_settings( $input ): array {
	$input = is_array( $input ) ? $input : array();
	$clean = secure_privacy_normalize_settings( $input );
	$saved = get_option( SECURE_PRIVACY_OPTION, array() ); // Still the old value during a save.
	$saved = secure_privacy_normalize_settings( is_array( $saved ) ? $saved : array() );

	if ( '' === $clean['sidecar_url'] && isset( $input['sidecar_url'] ) && is_string( $input['sidecar_url'] ) && '' !== trim( $input['sidecar_url'] ) ) {
		$clean['sidecar_url'] = $saved['sidecar_url'];
		if ( function_exists( 'add_settings_error' ) ) {
			add_settings_error(
				SECURE_PRIVACY_OPTION,
				'secure_privacy_sidecar_url',
				__( 'The sidecar URL must be an absolute http or https URL; the previous value was kept.', 'secure-privacy' )
			);
		}
	}
	if ( ! empty( $input[ SECURE_PRIVACY_FORM_MARKER ] ) ) {
		foreach ( array( 'secret_keys', 'admin_token' ) as $secret ) {
			if ( '' === $clean[ $secret ] ) {
				$clean[ $secret ] = $saved[ $secret ];
			}
		}
	}
	return $clean;
}

/**
 * Defaults merged in, unknown keys dropped, every value coerced to its type and range.
 * Pure: reads nothing but $input.
 *
 * @param array $input Raw settings.
 * @return array See secure_privacy_settings_defaults().
 */
function secure_privacy_normalize_settings( array $input ): array {
	$clean = secure_privacy_settings_defaults();

	foreach ( $clean as $key => $default ) {
		if ( ! array_key_exists( $key, $input ) ) {
			continue;
		}
		$value = $input[ $key ];
		switch ( $key ) {
			case 'sidecar_url':
				$clean[ $key ] = secure_privacy_sanitize_sidecar_url( $value );
				break;

			case 'secret_keys':
				$clean[ $key ] = is_scalar( $value ) ? implode( ',', Secure_Privacy_Signer::split_keys( (string) $value ) ) : '';
				break;

			case 'admin_token':
				$clean[ $key ] = is_scalar( $value ) ? trim( (string) $value ) : '';
				break;

			case 'policy_version':
				$version       = is_scalar( $value ) ? sanitize_text_field( (string) $value ) : '';
				$version       = mb_substr( $version, 0, SECURE_PRIVACY_MAX_VERSION_LENGTH );
				$clean[ $key ] = '' === $version ? $default : $version;
				break;

			case 'privacy_page_id':
				$clean[ $key ] = is_scalar( $value ) ? absint( $value ) : 0;
				break;

			case 'consent_lifetime_days':
				$days          = is_scalar( $value ) ? absint( $value ) : 0;
				$clean[ $key ] = $days ? min( $days, 3650 ) : $default;
				break;

			case 'honor_gpc':
			case 'honor_dnt':
				$clean[ $key ] = in_array( $value, array( true, 1, '1', 'true', 'on', 'yes' ), true );
				break;
		}
	}
	return $clean;
}

/**
 * An http(s) base URL without trailing slash, or '' when $value is empty or not such a URL.
 *
 * @param mixed $value Submitted URL.
 */
function secure_privacy_sanitize_sidecar_url( $value ): string {
	$url   = is_string( $value ) ? trim( $value ) : '';
	$parts = '' === $url || preg_match( '/[\x00-\x20\x7F]/', $url ) ? false : wp_parse_url( $url );
	if ( ! is_array( $parts ) || empty( $parts['host'] ) || ! in_array( strtolower( $parts['scheme'] ?? '' ), array( 'http', 'https' ), true ) ) {
		return '';
	}
	return untrailingslashit( esc_url_raw( $url, array( 'http', 'https' ) ) );
}
