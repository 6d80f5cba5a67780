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

/** Text keys of the banner that the site owner may override per language. */
const SECURE_PRIVACY_TEXT_KEYS = array( 'title', 'body', 'acceptAll', 'rejectAll', 'preferences', 'save', 'withdraw', 'open', 'close', 'privacyLink', 'gpcNotice', 'dntNotice', 'policyNotice', 'blocked' );

/** Longest overridable banner text, in characters (the body; every other text gets a fifth). */
const SECURE_PRIVACY_MAX_TEXT_LENGTH = 2000;

const SECURE_PRIVACY_POSITIONS = array( 'bottom-right', 'bottom-left' );

/** The proxies trusted by default: a reverse proxy on the same host. */
const SECURE_PRIVACY_DEFAULT_PROXIES = '127.0.0.0/8, ::1';

/**
 * The proxies trusted by a site that named a proxy header before `trusted_proxies` existed:
 * its own private network (what was trusted then), now checked against REMOTE_ADDR.
 */
const SECURE_PRIVACY_PRIVATE_PROXIES = '127.0.0.0/8, ::1, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, 169.254.0.0/16, fc00::/7, fe80::/10';

/**
 * Autoloaded option: the digest of the stored settings (secure_privacy_settings_digest()) once
 * they were found to be normal, so a page view reads them as they are instead of normalising
 * them again.
 */
const SECURE_PRIVACY_SETTINGS_DIGEST_OPTION = 'secure_privacy_settings_digest';

/**
 * Part of that digest: raise it when secure_privacy_normalize_settings() changes what it keeps
 * or how, so settings found normal before are normalised again (a new setting does it alone).
 */
const SECURE_PRIVACY_SETTINGS_FORMAT = 1;

/** Most trusted proxy ranges kept. */
const SECURE_PRIVACY_MAX_PROXY_RANGES = 64;

/**
 * Every setting with its default; the keys are the only ones ever stored.
 *
 * @return array{sidecar_url: string, secret_keys: string, admin_token: string, policy_version: string, next_policy_version: string, next_policy_effective: string, policy_notice_days: int, privacy_page_id: int, consent_lifetime_days: int, honor_gpc: bool, honor_dnt: bool, categories_enabled: string[], texts: array<string, array<string, string>>, primary_color: string, position: string, trusted_proxy_header: string, trusted_proxies: string, rate_limit_per_minute: int, retention_days: int, scan_frequency: string}
 */
function secure_privacy_settings_defaults(): array {
	return array(
		'sidecar_url'           => '',    // Base URL of the sidecar, e.g. http://127.0.0.1:8000.
		'secret_keys'           => '',    // Comma-separated signing secrets, oldest first, the last signs (= SP_SECRET_KEYS).
		'admin_token'           => '',    // Bearer token for the sidecar's admin API (one of SP_ADMIN_TOKENS).
		'policy_version'        => '1',   // Privacy-policy version in force; changing it asks every visitor again.
		'next_policy_version'   => '',    // Announced version, in force from next_policy_effective ('' = none).
		'next_policy_effective' => '',    // YYYY-MM-DD (UTC) the announced version takes effect.
		'policy_notice_days'    => 30,    // Days before that date the banner announces the change.
		'privacy_page_id'       => 0,     // 0 = the WordPress privacy-policy page.
		'consent_lifetime_days' => 365,   // Days a choice is kept before the banner asks again.
		'honor_gpc'             => true,  // Treat Global Privacy Control as a refusal.
		'honor_dnt'             => false, // Treat Do Not Track as a refusal.
		'categories_enabled'    => SECURE_PRIVACY_OPTIONAL_CATEGORIES, // Optional categories offered.
		'texts'                 => array(), // locale => text key => override; a missing or '' text is the built-in default.
		'primary_color'         => '#1d4ed8', // Buttons and accents of the banner.
		'position'              => 'bottom-right', // bottom-right | bottom-left.
		'trusted_proxy_header'  => '',    // '' = REMOTE_ADDR; e.g. X-Forwarded-For behind a CDN or load balancer.
		'trusted_proxies'       => SECURE_PRIVACY_DEFAULT_PROXIES, // Addresses/CIDRs of those proxies; the header counts only from them.
		'rate_limit_per_minute' => 120,   // Consents accepted per visitor IP per minute (0 = unlimited).
		'retention_days'        => 1825,  // How long consent records are kept (the sidecar's purge applies it).
		'scan_frequency'        => 'weekly', // Automatic site scan: off | daily | weekly (+ after plugin/theme changes unless off).
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
		$settings = secure_privacy_normal_settings( is_array( $stored ) ? $stored : array() );
		$settings = secure_privacy_apply_policy_schedule( $settings, time() );
	}
	return $settings;
}

/**
 * The stored settings normalised. What the sanitize callback stored is normal already, and
 * normalising it again (URL escaping, text sanitizing, address parsing) cost ~25 us on every
 * page view: once the stored value has been found normal, its
 * digest is kept (an autoloaded option, written once per change of the settings), and a value
 * with that digest is used as it is. Anything else (written around the sanitizer, by an older
 * version of the plugin, or changed in the database) is normalised, as before.
 *
 * @param array $stored The stored option.
 * @return array See secure_privacy_settings_defaults().
 */
function secure_privacy_normal_settings( array $stored ): array {
	$digest = secure_privacy_settings_digest( $stored );
	if ( get_option( SECURE_PRIVACY_SETTINGS_DIGEST_OPTION ) === $digest ) {
		return $stored;
	}
	$clean = secure_privacy_normalize_settings( $stored );
	if ( $clean === $stored ) {
		update_option( SECURE_PRIVACY_SETTINGS_DIGEST_OPTION, $digest, true );
	}
	return $clean;
}

/**
 * The digest of a settings value as this version of the plugin normalises it: the value, the
 * plugin's version, SECURE_PRIVACY_SETTINGS_FORMAT and the settings' keys.
 *
 * @param array $settings A settings value.
 */
function secure_privacy_settings_digest( array $settings ): string {
	// phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.serialize_serialize -- a digest of the value.
	return md5( SECURE_PRIVACY_VERSION . '|' . SECURE_PRIVACY_SETTINGS_FORMAT . '|' . implode( ',', array_keys( secure_privacy_settings_defaults() ) ) . '|' . serialize( $settings ) );
}

/**
 * The settings as of $now: once the announced policy version's effective date (UTC) has come,
 * it is the version in force and nothing is announced any more. Pure; the stored option is
 * brought up to date by the daily maintenance cron, but readers never depend on that.
 *
 * @param array $settings Normalised settings.
 * @param int   $now      Unix time.
 * @return array The settings with the schedule applied.
 */
function secure_privacy_apply_policy_schedule( array $settings, int $now ): array {
	if ( '' !== $settings['next_policy_version'] && '' !== $settings['next_policy_effective']
		&& $settings['next_policy_effective'] <= gmdate( 'Y-m-d', $now ) ) {
		$settings['policy_version']        = $settings['next_policy_version'];
		$settings['next_policy_version']   = '';
		$settings['next_policy_effective'] = '';
	}
	return $settings;
}

/**
 * Whether the banner should announce the next policy version on day $now: a version and date
 * are set, the date is still ahead, and it is at most `policy_notice_days` away.
 *
 * @param array $settings secure_privacy_settings().
 * @param int   $now      Unix time.
 */
function secure_privacy_policy_notice_due( array $settings, int $now ): bool {
	if ( '' === $settings['next_policy_version'] || '' === $settings['next_policy_effective'] ) {
		return false;
	}
	$effective = strtotime( $settings['next_policy_effective'] . ' 00:00:00 UTC' );
	return false !== $effective && $effective > $now && $effective - $now <= (int) $settings['policy_notice_days'] * DAY_IN_SECONDS;
}

/**
 * Drop the per-request cache and the built banner after the option was written or deleted;
 * then read the site rules again (they may be kept in the settings) and decide again whether
 * the banner is live (the sidecar URL is a setting).
 */
function secure_privacy_settings_changed(): void {
	secure_privacy_settings( true );
	secure_privacy_forget_banner_output();
	secure_privacy_site_rules_changed();
	secure_privacy_connection_changed();
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
		// Saved from the form: what waits in the outbox goes out now, not at a cron tick.
		add_action( 'shutdown', 'secure_privacy_deliver_after_save' );
		foreach ( array( 'secret_keys', 'admin_token' ) as $secret ) {
			if ( '' === $clean[ $secret ] ) {
				$clean[ $secret ] = $saved[ $secret ];
			}
		}
		// A form shows only some settings (and the texts of some languages): the rest stay.
		foreach ( array_keys( $clean ) as $key ) {
			if ( ! array_key_exists( $key, $input ) ) {
				$clean[ $key ] = $saved[ $key ];
			}
		}
		// Languages in the form are replaced as a whole (emptied ones fall back to the defaults).
		$kept = $saved['texts'];
		foreach ( array_keys( is_array( $input['texts'] ?? null ) ? $input['texts'] : array() ) as $locale ) {
			unset( $kept[ $locale ] );
		}
		$clean['texts'] = array_merge( $kept, $clean['texts'] );
		ksort( $clean['texts'] );
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
			case 'next_policy_version':
				$version       = is_scalar( $value ) ? sanitize_text_field( (string) $value ) : '';
				$version       = mb_substr( $version, 0, SECURE_PRIVACY_MAX_VERSION_LENGTH );
				$clean[ $key ] = '' === $version ? $default : $version;
				break;

			case 'next_policy_effective':
				$clean[ $key ] = secure_privacy_sanitize_date( $value );
				break;

			case 'policy_notice_days':
				$clean[ $key ] = is_numeric( $value ) ? min( max( (int) $value, 0 ), 365 ) : $default;
				break;

			case 'categories_enabled':
				$given         = is_array( $value ) ? array_map( 'strval', array_filter( $value, 'is_scalar' ) ) : array();
				$clean[ $key ] = array_values( array_intersect( SECURE_PRIVACY_OPTIONAL_CATEGORIES, $given ) );
				break;

			case 'texts':
				$clean[ $key ] = secure_privacy_sanitize_texts( $value );
				break;

			case 'primary_color':
				$color         = is_string( $value ) ? sanitize_hex_color( trim( $value ) ) : null;
				$clean[ $key ] = $color ? strtolower( $color ) : $default;
				break;

			case 'position':
				$clean[ $key ] = in_array( $value, SECURE_PRIVACY_POSITIONS, true ) ? $value : $default;
				break;

			case 'trusted_proxy_header':
				$clean[ $key ] = secure_privacy_sanitize_header_name( $value );
				break;

			case 'trusted_proxies':
				$clean[ $key ] = implode( ', ', secure_privacy_split_ranges( $value ) );
				break;

			case 'rate_limit_per_minute':
				$clean[ $key ] = is_numeric( $value ) ? min( max( (int) $value, 0 ), 100000 ) : $default;
				break;

			case 'retention_days':
				$days          = is_scalar( $value ) ? absint( $value ) : 0;
				$clean[ $key ] = $days ? min( $days, 36500 ) : $default;
				break;

			case 'scan_frequency':
				$clean[ $key ] = in_array( $value, array( 'off', 'daily', 'weekly' ), true ) ? $value : $default;
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
	if ( ! array_key_exists( 'trusted_proxies', $input ) && '' !== $clean['trusted_proxy_header'] ) {
		// Saved before the setting existed: keep trusting the private network it trusted then.
		$clean['trusted_proxies'] = SECURE_PRIVACY_PRIVATE_PROXIES;
	}
	return $clean;
}

/**
 * The valid addresses and CIDR ranges in a comma-, space- or line-separated list, normalised
 * ("10.0.0.0/8", "2001:db8::/32", a bare address as itself); invalid entries are dropped.
 *
 * @param mixed $value e.g. "10.0.0.0/8, 2001:db8::/32 192.0.2.1".
 * @return string[]
 */
function secure_privacy_split_ranges( $value ): array {
	$ranges = array();
	foreach ( preg_split( '/[\s,;]+/', is_string( $value ) ? $value : '', -1, PREG_SPLIT_NO_EMPTY ) as $entry ) {
		[ $address, $bits ] = array_pad( explode( '/', $entry, 2 ), 2, null );
		$bin                = @inet_pton( $address ); // phpcs:ignore WordPress.PHP.NoSilencedErrors -- false is handled.
		if ( false === $bin || false === filter_var( $address, FILTER_VALIDATE_IP ) ) {
			continue;
		}
		$max = strlen( $bin ) * 8;
		if ( null !== $bits && ( 1 !== preg_match( '/^\d{1,3}$/D', $bits ) || (int) $bits > $max ) ) {
			continue;
		}
		$ranges[] = inet_ntop( $bin ) . ( null === $bits ? '' : '/' . (int) $bits );
	}
	return array_slice( array_values( array_unique( $ranges ) ), 0, SECURE_PRIVACY_MAX_PROXY_RANGES );
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

/**
 * A calendar date YYYY-MM-DD that exists, or ''.
 *
 * @param mixed $value Submitted date.
 */
function secure_privacy_sanitize_date( $value ): string {
	$date = is_string( $value ) ? trim( $value ) : '';
	if ( 1 !== preg_match( '/^(\d{4})-(\d{2})-(\d{2})$/D', $date, $m ) || ! checkdate( (int) $m[2], (int) $m[3], (int) $m[1] ) ) {
		return '';
	}
	return $date;
}

/**
 * An HTTP header name (RFC 9110 token characters), as typed, or '' (= use REMOTE_ADDR).
 *
 * @param mixed $value Submitted header name, e.g. "X-Forwarded-For".
 */
function secure_privacy_sanitize_header_name( $value ): string {
	$name = is_string( $value ) ? trim( $value ) : '';
	return 1 === preg_match( "/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/D", $name ) ? $name : '';
}

/**
 * Whether a banner text is a paragraph (multi-line, up to SECURE_PRIVACY_MAX_TEXT_LENGTH)
 * rather than a label (one line, a fifth of that).
 *
 * @param string $key A text key (SECURE_PRIVACY_TEXT_KEYS, label_*, description_*).
 * @return bool
 */
function secure_privacy_is_long_text( string $key ): bool {
	return in_array( $key, array( 'body', 'gpcNotice', 'dntNotice', 'policyNotice', 'blocked' ), true )
		|| str_starts_with( $key, 'description_' );
}

/**
 * Banner text overrides: locale => text key => plain text. Unknown locales shapes and keys are
 * dropped, and so are empty texts (an absent text means the built-in, translated default).
 *
 * @param mixed $value Submitted texts.
 * @return array<string, array<string, string>>
 */
function secure_privacy_sanitize_texts( $value ): array {
	$keys = secure_privacy_text_keys();
	$out  = array();
	foreach ( is_array( $value ) ? $value : array() as $locale => $texts ) {
		if ( ! is_string( $locale ) || 1 !== preg_match( '/^[a-z]{2,3}(?:_[A-Z]{2})?(?:_[A-Za-z0-9]+)?$/D', $locale ) || ! is_array( $texts ) ) {
			continue;
		}
		foreach ( $keys as $key ) {
			if ( ! isset( $texts[ $key ] ) || ! is_scalar( $texts[ $key ] ) ) {
				continue;
			}
			$long = secure_privacy_is_long_text( $key );
			$text = $long ? sanitize_textarea_field( (string) $texts[ $key ] ) : sanitize_text_field( (string) $texts[ $key ] );
			$text = mb_substr( trim( $text ), 0, $long ? SECURE_PRIVACY_MAX_TEXT_LENGTH : SECURE_PRIVACY_MAX_TEXT_LENGTH / 5 );
			if ( '' !== $text ) {
				$out[ $locale ][ $key ] = $text;
			}
		}
	}
	ksort( $out );
	return $out;
}

/**
 * Every overridable text key: the banner texts, then label_<cat> and description_<cat> of each
 * category (necessary included).
 *
 * @return string[]
 */
function secure_privacy_text_keys(): array {
	$keys = SECURE_PRIVACY_TEXT_KEYS;
	foreach ( SECURE_PRIVACY_CATEGORIES as $category ) {
		$keys[] = 'label_' . $category;
		$keys[] = 'description_' . $category;
	}
	return $keys;
}
