<?php
/**
 * The banner on the public site: Google Consent Mode defaults and the widget configuration at
 * the top of <head>, the widget's CSS and deferred JS, and the WP Consent API registration.
 *
 * The markup is the same for every anonymous visitor (page-cache safe): all per-visitor state
 * lives in the consent cookie, and everything that depends on the date (the policy-change
 * notice, the switch to the next policy version) is decided by the widget with the browser's
 * clock from the schedule in the configuration.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

const SECURE_PRIVACY_WIDGET_HANDLE = 'secure-privacy-widget';

const SECURE_PRIVACY_CONFIG_ID = 'sp-consent-config';

const SECURE_PRIVACY_CONSENT_MODE_ID = 'sp-consent-mode';

/** Autoloaded option: the banner output last built (secure_privacy_banner_output). */
const SECURE_PRIVACY_BANNER_CACHE_OPTION = 'secure_privacy_banner_cache';

/** Autoloaded option: the privacy-policy URLs last resolved (secure_privacy_privacy_url). */
const SECURE_PRIVACY_PRIVACY_URL_OPTION = 'secure_privacy_privacy_url';

/**
 * The shape of the configuration island, part of the banner cache's key: raised when the
 * island gains or changes a field the widget relies on, so no output built before is served
 * (2: `categoryKeys`; 3: `block` and `css`; 4: fields at the widget's defaults left out; 5:
 * `texts` as a list in the order of SECURE_PRIVACY_ISLAND_TEXT_KEYS, `categoryKeys` left out when
 * every category is shown).
 */
const SECURE_PRIVACY_CONFIG_FORMAT = 5;

/**
 * The banner texts' keys (secure_privacy_banner_texts()) in the order the island lists their
 * texts: the island's `texts` is a list, which widget.js reads by position (its T_* constants),
 * so the keys are not repeated in every page (issue 14's size budget).
 */
const SECURE_PRIVACY_ISLAND_TEXT_KEYS = array( 'title', 'body', 'acceptAll', 'rejectAll', 'preferences', 'save', 'withdraw', 'open', 'close', 'privacyLink', 'gpcNotice', 'dntNotice', 'policyNotice', 'blocked', 'load', 'content', 'visitorId', 'copy', 'copied' );

/** The built-in primary colour (contrast 6.7:1 with white). */
const SECURE_PRIVACY_DEFAULT_COLOR = '#1d4ed8';

/**
 * The WP Consent API consent type (wp_get_consent_type): opt-in, nothing before a choice.
 *
 * @return string
 */
function secure_privacy_consent_type(): string {
	return 'optin';
}

/**
 * The file name of a widget asset in assets/: the minified build, or the readable source with
 * SCRIPT_DEBUG.
 *
 * @param string $name 'widget.js', 'widget.css' or 'widget-head.js'.
 */
function secure_privacy_asset_name( string $name ): string {
	if ( defined( 'SCRIPT_DEBUG' ) && SCRIPT_DEBUG ) {
		return $name;
	}
	$dot = (int) strrpos( $name, '.' );
	return substr( $name, 0, $dot ) . '.min' . substr( $name, $dot );
}

/**
 * Enqueue the widget's deferred footer JS (wp_enqueue_scripts). Its stylesheet is built into
 * widget.min.js, which injects it with the site's colours (the island's `css`): no
 * render-blocking request in <head>. With SCRIPT_DEBUG the readable widget.js has none, and
 * widget.css is linked instead.
 */
function secure_privacy_enqueue_assets(): void {
	if ( ! secure_privacy_banner_shown() ) {
		return; // Not live yet: only administrators see it (includes/setup.php).
	}
	$output = secure_privacy_banner_output();
	$assets = $output['assets'];
	if ( defined( 'SCRIPT_DEBUG' ) && SCRIPT_DEBUG ) {
		wp_enqueue_style( SECURE_PRIVACY_WIDGET_HANDLE, $assets . 'widget.css', array(), SECURE_PRIVACY_VERSION );
		wp_add_inline_style( SECURE_PRIVACY_WIDGET_HANDLE, $output['css'] );
	}
	// Deferred, so it runs after the WP Consent API's footer script defined wp_set_consent.
	wp_enqueue_script(
		SECURE_PRIVACY_WIDGET_HANDLE,
		$assets . secure_privacy_asset_name( 'widget.js' ),
		array(),
		SECURE_PRIVACY_VERSION,
		array(
			'in_footer' => true,
			'strategy'  => 'defer',
		)
	);
}

/**
 * What the banner prints on a public page besides its static assets: the configuration island
 * (JSON), the site's colours (CSS), the Consent Mode snippet (JS), and the assets' base URL.
 *
 * Building them reads and normalises the settings, translates two dozen texts and resolves
 * URLs: a fifth of a millisecond that every page view would pay again for the same result.
 * So they are kept in one autoloaded option, one entry per variant (locale, http/https, home
 * and plugins URLs, site name, permalinks, privacy page: all in the key), and rebuilt when
 * anything they are made of changes: the settings (secure_privacy_settings_changed), any page
 * (secure_privacy_forget_privacy_url), plugin or translation updates
 * (upgrader_process_complete), the day an announced policy version takes effect. Signed-in
 * visitors (their nonce), SCRIPT_DEBUG and sites where another plugin filters the texts, the
 * configuration or the URLs (e.g. per language) get them built on every view instead.
 *
 * @param bool $refresh Look again instead of returning this request's copy.
 * @return array{config: string, css: string, snippet: string, assets: string}
 */
function secure_privacy_banner_output( bool $refresh = false ): array {
	static $output = null;
	if ( null !== $output && ! $refresh ) {
		return $output;
	}
	$key = secure_privacy_banner_cache_key();
	if ( null === $key ) {
		$output = secure_privacy_build_banner_output();
		return $output;
	}
	$cache = get_option( SECURE_PRIVACY_BANNER_CACHE_OPTION );
	$cache = is_array( $cache ) ? $cache : array();
	$entry = $cache[ $key ] ?? null;
	if ( is_array( $entry ) && is_string( $entry['config'] ?? null ) && is_string( $entry['css'] ?? null ) && is_string( $entry['snippet'] ?? null ) && is_string( $entry['assets'] ?? null )
		&& ( '' === ( $entry['until'] ?? '' ) || gmdate( 'Y-m-d' ) < $entry['until'] ) ) {
		$output = array(
			'config'  => $entry['config'],
			'css'     => $entry['css'],
			'snippet' => $entry['snippet'],
			'assets'  => $entry['assets'],
		);
		return $output;
	}
	$output = secure_privacy_build_banner_output();
	unset( $cache[ $key ] );
	$cache[ $key ] = $output + array( 'until' => secure_privacy_policy_schedule( secure_privacy_settings() )['nextPolicyEffective'] );
	// A few variants at most (languages, http and https): keep the newest eight.
	update_option( SECURE_PRIVACY_BANNER_CACHE_OPTION, array_slice( $cache, -8, null, true ), true );
	return $output;
}

/**
 * The banner cache's key for this request, or null when the output must be built afresh.
 */
function secure_privacy_banner_cache_key(): ?string {
	if ( ( defined( 'SCRIPT_DEBUG' ) && SCRIPT_DEBUG ) || is_user_logged_in() ) {
		return null;
	}
	foreach ( array( 'secure_privacy_frontend_config', 'gettext', 'gettext_secure-privacy', 'gettext_with_context', 'gettext_with_context_secure-privacy', 'rest_url', 'rest_url_prefix', 'privacy_policy_url', 'page_link', '_get_page_link', 'plugins_url', 'secure_privacy_catalogue' ) as $hook ) {
		if ( has_filter( $hook ) ) {
			return null;
		}
	}
	// The guard's patterns (secure_privacy_guard_patterns) come from the catalogue and the site rules.
	return md5( implode( "\n", array( SECURE_PRIVACY_VERSION, SECURE_PRIVACY_CONFIG_FORMAT, secure_privacy_catalogue()['sha256'] ?? '', secure_privacy_rule_index()['key'] ?? '', determine_locale(), is_ssl() ? 'https' : 'http', get_option( 'home' ), WP_PLUGIN_URL, get_option( 'blogname' ), get_option( 'permalink_structure' ), get_option( 'wp_page_for_privacy_policy' ) ) ) );
}

/**
 * Build what secure_privacy_banner_output() returns (with the translations loaded: a page view
 * does not load them otherwise).
 *
 * @return array{config: string, css: string, snippet: string, assets: string}
 */
function secure_privacy_build_banner_output(): array {
	if ( ! is_textdomain_loaded( 'secure-privacy' ) ) {
		secure_privacy_load_textdomain();
	}
	$config = secure_privacy_frontend_config();
	// The consent route accepts the versions served here, and no others.
	secure_privacy_note_served_versions( $config );
	// JSON_HEX_TAG/AMP keep "</script>" and "<!--" out of the island; JSON.parse reads them back.
	$json = wp_json_encode( secure_privacy_island( $config ), JSON_HEX_TAG | JSON_HEX_AMP | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE );
	// phpcs:ignore WordPress.WP.AlternativeFunctions.file_get_contents_file_get_contents -- a local plugin file.
	$snippet = file_get_contents( dirname( SECURE_PRIVACY_FILE ) . '/assets/' . secure_privacy_asset_name( 'widget-head.js' ) );
	return array(
		'config'  => (string) $json,
		'css'     => secure_privacy_color_css( secure_privacy_settings()['primary_color'] ?? '' ),
		'snippet' => trim( (string) $snippet ),
		'assets'  => plugins_url( 'assets/', SECURE_PRIVACY_FILE ),
	);
}

/**
 * The configuration as printed in every page: without what the widget would assume anyway
 * (its defaults: no announced policy version, 365 days, no policy link, GPC honoured, DNT not, `bottom-right`, the
 * built-in colour, not https-only cookies) and without what it can never show with these
 * settings (the DNT and GPC notices when that signal is not honoured, the policy-change notice
 * when none is announced; `required`, which the widget reads from `categoryKeys`' first key;
 * `categoryKeys` itself when every category is shown, which the widget then reads from them),
 * and with the texts as a list in the order of SECURE_PRIVACY_ISLAND_TEXT_KEYS (no key names).
 * Decided from the configuration alone, after its filter: every visitor of the page gets the
 * same bytes. Issue 14: the island counts in the widget's 6 KB.
 *
 * @param array $config secure_privacy_frontend_config().
 */
function secure_privacy_island( array $config ): array {
	$defaults = array(
		'nextPolicyVersion'   => '',
		'nextPolicyEffective' => '',
		'lifetimeDays'        => 365,
		'privacyUrl'          => '',
		'honorGpc'            => true,
		'honorDnt'            => false,
		'cookieSecure'        => false,
		'position'            => 'bottom-right',
		'css'                 => '',
	);
	if ( '' === ( $config['nextPolicyVersion'] ?? '' ) ) {
		$defaults['policyNoticeDays'] = $config['policyNoticeDays'] ?? null;
		unset( $config['texts']['policyNotice'] );
	}
	foreach ( $defaults as $key => $value ) {
		if ( array_key_exists( $key, $config ) && $value === $config[ $key ] ) {
			unset( $config[ $key ] );
		}
	}
	if ( false === ( $config['honorGpc'] ?? true ) ) {
		unset( $config['texts']['gpcNotice'] );
	}
	if ( true !== ( $config['honorDnt'] ?? false ) ) {
		unset( $config['texts']['dntNotice'] );
	}
	if ( isset( $config['categories'] ) && is_array( $config['categories'] ) ) {
		foreach ( $config['categories'] as $i => $category ) {
			if ( is_array( $category ) ) {
				unset( $config['categories'][ $i ]['required'] );
			}
		}
	}
	// `categoryKeys` when the categories shown are all of them, in that order: the widget's default.
	if ( array_column( $config['categories'] ?? array(), 'key' ) === ( $config['categoryKeys'] ?? null ) ) {
		unset( $config['categoryKeys'] );
	}
	// The texts by position, '' for one left out above (never shown with these settings).
	$texts           = is_array( $config['texts'] ?? null ) ? $config['texts'] : array();
	$config['texts'] = array_map( static fn( $key ) => (string) ( $texts[ $key ] ?? '' ), SECURE_PRIVACY_ISLAND_TEXT_KEYS );
	return $config;
}

/**
 * Forget the built banner output (settings changed, plugin or translations updated).
 */
function secure_privacy_forget_banner_output(): void {
	delete_option( SECURE_PRIVACY_BANNER_CACHE_OPTION );
}

/**
 * Add `defer` to the widget's script tag where WordPress does not (before 6.3, which
 * ignores the `strategy` argument) (script_loader_tag).
 *
 * @param string $tag    The script tag.
 * @param string $handle Its handle.
 */
function secure_privacy_defer_widget_script( $tag, $handle ): string {
	$tag = (string) $tag;
	if ( SECURE_PRIVACY_WIDGET_HANDLE !== $handle || 1 === preg_match( '/\sdefer[\s=>]/', $tag ) ) {
		return $tag;
	}
	return (string) preg_replace( '/<script\s/', '<script defer ', $tag, 1 );
}

/**
 * Print, first thing in <head> (wp_head, priority 1): the widget configuration as a JSON island
 * and the inline Google Consent Mode v2 snippet (everything denied by default, then the stored
 * choice of a returning visitor), so any Google tag printed later starts from them.
 */
function secure_privacy_print_head(): void {
	secure_privacy_print_config();
}

/**
 * Print the configuration island and the Consent Mode snippet, once per page: normally from
 * wp_head; the wp_footer hook in plugin.php is the fallback for a theme that omits wp_head.
 */
function secure_privacy_print_config(): void {
	static $printed = false;
	if ( $printed || ! wp_script_is( SECURE_PRIVACY_WIDGET_HANDLE, 'enqueued' ) ) {
		return;
	}
	$printed = true;
	$output  = secure_privacy_banner_output();
	wp_print_inline_script_tag(
		$output['config'],
		array(
			'type' => 'application/json',
			'id'   => SECURE_PRIVACY_CONFIG_ID,
		)
	);
	if ( '' !== $output['snippet'] ) {
		wp_print_inline_script_tag( $output['snippet'], array( 'id' => SECURE_PRIVACY_CONSENT_MODE_ID ) );
	}
}

/**
 * The widget configuration: the shape the widget is built against.
 *
 * Texts are plain text (the widget inserts them as text, never as HTML). The policy schedule
 * (`nextPolicyVersion` from `nextPolicyEffective`, a UTC date, announced `policyNoticeDays`
 * before) is passed as data, not applied here, so a cached page stays right.
 *
 * @return array{restUrl: string, policyVersion: string, nextPolicyVersion: string, nextPolicyEffective: string, policyNoticeDays: int, bannerVersion: string, language: string, privacyUrl: string, lifetimeDays: int, honorGpc: bool, honorDnt: bool, cookieSecure: bool, position: string, restNonce?: string, categories: array, texts: array}
 */
function secure_privacy_frontend_config(): array {
	$settings   = secure_privacy_settings();
	$locale     = determine_locale();
	$categories = secure_privacy_shown_categories( $settings, $locale );
	$texts      = secure_privacy_site_texts( $settings, $locale );
	$schedule   = secure_privacy_policy_schedule( $settings );

	$config = array(
		'restUrl'             => rest_url( SECURE_PRIVACY_REST_NAMESPACE . '/consent' ),
		'policyVersion'       => $schedule['policyVersion'],
		'nextPolicyVersion'   => $schedule['nextPolicyVersion'],
		'nextPolicyEffective' => $schedule['nextPolicyEffective'],
		'policyNoticeDays'    => $schedule['policyNoticeDays'],
		'bannerVersion'       => secure_privacy_banner_version( $schedule, $categories, $texts ),
		'language'            => secure_privacy_bcp47( $locale ),
		'privacyUrl'          => secure_privacy_privacy_url(),
		'lifetimeDays'        => max( 1, (int) ( $settings['consent_lifetime_days'] ?? 365 ) ),
		'honorGpc'            => (bool) ( $settings['honor_gpc'] ?? true ),
		'honorDnt'            => (bool) ( $settings['honor_dnt'] ?? false ),
		'cookieSecure'        => is_ssl(),
		'position'            => 'bottom-left' === ( $settings['position'] ?? '' ) ? 'bottom-left' : 'bottom-right',
	);
	// Signed-in visitors need the nonce for the REST call to carry their user id; their pages
	// are not page-cached, so the nonce never leaks into an anonymous visitor's HTML.
	if ( is_user_logged_in() ) {
		$config['restNonce'] = wp_create_nonce( 'wp_rest' );
	}
	$config['categories'] = $categories;
	// Every category of the payload, the always-granted one first: the widget sends all of
	// them (those not shown as refused), and the consent route wants exactly these keys.
	$config['categoryKeys'] = SECURE_PRIVACY_CATEGORIES;
	$config['texts']        = $texts;
	// The site's colours, which the widget adds to the stylesheet it injects ('' for the
	// built-in colour: the stylesheet has it).
	$css           = secure_privacy_color_css( $settings['primary_color'] ?? '' );
	$config['css'] = secure_privacy_color_css( '' ) !== $css ? $css : '';
	// What the runtime guard in the <head> snippet holds (auto-blocking layer 3).
	$config['block'] = (object) secure_privacy_guard_patterns();

	/**
	 * Filters the widget configuration printed on every public page.
	 *
	 * @param array $config The configuration.
	 */
	return apply_filters( 'secure_privacy_frontend_config', $config );
}

/**
 * The policy versions as the widget needs them: the version in force, and the announced next
 * version with its effective date (YYYY-MM-DD, UTC) and notice period, or '' when none is
 * announced (or its date is not a valid one).
 *
 * @param array $settings secure_privacy_settings().
 * @return array{policyVersion: string, nextPolicyVersion: string, nextPolicyEffective: string, policyNoticeDays: int}
 */
function secure_privacy_policy_schedule( array $settings ): array {
	$next = (string) ( $settings['next_policy_version'] ?? '' );
	$date = (string) ( $settings['next_policy_effective'] ?? '' );
	$ok   = '' !== $next && 1 === preg_match( '/^(\d{4})-(\d{2})-(\d{2})$/D', $date, $m ) && checkdate( (int) $m[2], (int) $m[3], (int) $m[1] );
	return array(
		'policyVersion'       => (string) ( $settings['policy_version'] ?? '1' ),
		'nextPolicyVersion'   => $ok ? $next : '',
		'nextPolicyEffective' => $ok ? $date : '',
		'policyNoticeDays'    => max( 0, (int) ( $settings['policy_notice_days'] ?? 30 ) ),
	);
}

/**
 * The consent categories in display order, translated (the built-in defaults, every category).
 *
 * @return array<int, array{key: string, label: string, description: string, required: bool}>
 */
function secure_privacy_categories(): array {
	$labels       = secure_privacy_category_labels();
	$descriptions = secure_privacy_category_descriptions();
	$categories   = array();
	foreach ( SECURE_PRIVACY_CATEGORIES as $key ) {
		$categories[] = array(
			'key'         => $key,
			'label'       => $labels[ $key ],
			'description' => $descriptions[ $key ],
			'required'    => SECURE_PRIVACY_REQUIRED_CATEGORY === $key,
		);
	}
	return $categories;
}

/**
 * The categories the banner shows: necessary, then the enabled optional ones, with the site's
 * label and description overrides for $locale.
 *
 * @param array  $settings secure_privacy_settings().
 * @param string $locale   WordPress locale.
 * @return array<int, array{key: string, label: string, description: string, required: bool}>
 */
function secure_privacy_shown_categories( array $settings, string $locale ): array {
	$enabled   = $settings['categories_enabled'] ?? null;
	$enabled   = is_array( $enabled ) ? array_map( 'strval', $enabled ) : SECURE_PRIVACY_OPTIONAL_CATEGORIES;
	$overrides = secure_privacy_text_overrides( $settings, $locale );
	$shown     = array();
	foreach ( secure_privacy_categories() as $category ) {
		if ( ! $category['required'] && ! in_array( $category['key'], $enabled, true ) ) {
			continue;
		}
		foreach ( array( 'label', 'description' ) as $field ) {
			$override = $overrides[ $field . '_' . $category['key'] ] ?? '';
			if ( '' !== $override ) {
				$category[ $field ] = $override;
			}
		}
		$shown[] = $category;
	}
	return $shown;
}

/**
 * The banner's built-in texts, translated, as plain text. `{date}` in policyNotice and
 * `{categories}` in blocked are filled in by the widget.
 *
 * @return array<string, string>
 */
function secure_privacy_banner_texts(): array {
	$site = wp_specialchars_decode( get_bloginfo( 'name' ), ENT_QUOTES );
	return array(
		'title'        => __( 'We value your privacy', 'secure-privacy' ),
		'body'         => sprintf(
			/* translators: %s: site name. */
			__( '%s uses cookies and similar technologies to make the site work and, with your consent, to remember your preferences, to measure traffic and for marketing. Choose what you allow; you can change your mind at any time.', 'secure-privacy' ),
			'' !== $site ? $site : __( 'This site', 'secure-privacy' )
		),
		'acceptAll'    => __( 'Accept all', 'secure-privacy' ),
		'rejectAll'    => __( 'Reject all', 'secure-privacy' ),
		'preferences'  => __( 'Preferences', 'secure-privacy' ),
		'save'         => __( 'Save choices', 'secure-privacy' ),
		'withdraw'     => __( 'Withdraw consent', 'secure-privacy' ),
		'open'         => __( 'Privacy settings', 'secure-privacy' ),
		'close'        => __( 'Close', 'secure-privacy' ),
		'privacyLink'  => __( 'Privacy policy', 'secure-privacy' ),
		'gpcNotice'    => __( 'Your browser sends a Global Privacy Control signal, so marketing stays off.', 'secure-privacy' ),
		'dntNotice'    => __( 'Your browser sends a Do Not Track signal, so marketing stays off.', 'secure-privacy' ),
		/* translators: {date} is replaced with the date the new privacy policy takes effect; keep it as it is. */
		'policyNotice' => __( 'Our privacy policy changes on {date}. We will ask for your consent again then.', 'secure-privacy' ),
		/* translators: {categories} is replaced with category names, e.g. "Marketing"; keep it as it is. */
		'blocked'      => __( 'This content is blocked until you allow: {categories}.', 'secure-privacy' ),
		/* translators: {service} is replaced with a service's name, e.g. "YouTube", {categories} with category names, e.g. "Marketing"; keep them as they are. */
		'load'         => __( 'Load {service} — this allows {categories}', 'secure-privacy' ),
		/* translators: what a blocked embed is called when its service is not known, in "Load {service} — this allows …". */
		'content'      => __( 'content', 'secure-privacy' ),
		'visitorId'    => __( 'Your visitor id, to quote if you ask to see or erase your records:', 'secure-privacy' ),
		'copy'         => __( 'Copy', 'secure-privacy' ),
		'copied'       => __( 'Copied.', 'secure-privacy' ),
	);
}

/**
 * The texts the banner shows: the built-in texts with the site's overrides for $locale.
 *
 * @param array  $settings secure_privacy_settings().
 * @param string $locale   WordPress locale.
 * @return array<string, string>
 */
function secure_privacy_site_texts( array $settings, string $locale ): array {
	$texts = secure_privacy_banner_texts();
	foreach ( secure_privacy_text_overrides( $settings, $locale ) as $key => $text ) {
		if ( isset( $texts[ $key ] ) && is_string( $text ) && '' !== $text ) {
			$texts[ $key ] = $text;
		}
	}
	return $texts;
}

/**
 * The site's text overrides for $locale ("sv_SE"), else for its language ("sv"), else none.
 *
 * @param array  $settings secure_privacy_settings().
 * @param string $locale   WordPress locale.
 * @return array<string, string>
 */
function secure_privacy_text_overrides( array $settings, string $locale ): array {
	$all = $settings['texts'] ?? array();
	if ( ! is_array( $all ) ) {
		return array();
	}
	$language = strtok( $locale, '_' );
	foreach ( array( $locale, $language ) as $key ) {
		if ( isset( $all[ $key ] ) && is_array( $all[ $key ] ) ) {
			return array_filter( $all[ $key ], 'is_string' );
		}
	}
	return array();
}

/**
 * Version of what the visitor is shown: the first 16 hex digits of the SHA-256 of the policy
 * schedule, the categories and the texts (so it differs per language and per edit).
 *
 * @param array $schedule   secure_privacy_policy_schedule().
 * @param array $categories The categories shown.
 * @param array $texts      The texts shown.
 */
function secure_privacy_banner_version( array $schedule, array $categories, array $texts ): string {
	$shown = wp_json_encode( array( $schedule, $categories, $texts ), JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE );
	return substr( hash( 'sha256', (string) $shown ), 0, 16 );
}

/**
 * The CSS custom properties of the site's colour: --sp-primary for buttons, --sp-on-primary
 * (white or near-black, whichever contrasts more: at least 4.58:1 on any colour) for their
 * text, and --sp-accent (the colour darkened until it has 4.5:1 on white) for links, switches
 * and the focus ring.
 *
 * @param string $color A hex colour, "#rgb" or "#rrggbb"; anything else is the default.
 */
function secure_privacy_color_css( string $color ): string {
	$rgb = secure_privacy_hex_rgb( $color ) ?? secure_privacy_hex_rgb( SECURE_PRIVACY_DEFAULT_COLOR );
	$on  = secure_privacy_contrast( $rgb, array( 255, 255, 255 ) ) >= secure_privacy_contrast( $rgb, array( 31, 35, 40 ) ) ? '#fff' : '#1f2328';

	$accent = $rgb;
	while ( secure_privacy_contrast( $accent, array( 255, 255, 255 ) ) < 4.5 ) {
		$accent = array_map( static fn( $c ) => (int) floor( $c * 0.9 ), $accent );
	}
	$hex = static fn( array $c ): string => vsprintf( '#%02x%02x%02x', $c );
	return sprintf( '#sp-consent,.sp-blocked{--sp-primary:%s;--sp-on-primary:%s;--sp-accent:%s}', $hex( $rgb ), $on, $hex( $accent ) );
}

/**
 * [r, g, b] of "#rgb" or "#rrggbb", or null.
 *
 * @param string $color The colour.
 * @return int[]|null
 */
function secure_privacy_hex_rgb( string $color ): ?array {
	if ( 1 !== preg_match( '/^#([0-9a-f]{3}|[0-9a-f]{6})$/iD', trim( $color ), $m ) ) {
		return null;
	}
	$hex = 3 === strlen( $m[1] ) ? preg_replace( '/(.)/', '$1$1', $m[1] ) : $m[1];
	return array_map( 'hexdec', str_split( $hex, 2 ) );
}

/**
 * WCAG 2 contrast ratio of two sRGB colours.
 *
 * @param int[] $a [r, g, b].
 * @param int[] $b [r, g, b].
 */
function secure_privacy_contrast( array $a, array $b ): float {
	$luminance = static function ( array $rgb ): float {
		$lin = array_map(
			static function ( $c ) {
				$c /= 255;
				return $c <= 0.04045 ? $c / 12.92 : ( ( $c + 0.055 ) / 1.055 ) ** 2.4;
			},
			$rgb
		);
		return 0.2126 * $lin[0] + 0.7152 * $lin[1] + 0.0722 * $lin[2];
	};
	$la = $luminance( $a );
	$lb = $luminance( $b );
	return ( max( $la, $lb ) + 0.05 ) / ( min( $la, $lb ) + 0.05 );
}

/**
 * A WordPress locale as a BCP 47 tag: "sv_SE" → "sv-SE", "de_DE_formal" → "de-DE", "fi" → "fi".
 *
 * @param string $locale WordPress locale.
 */
function secure_privacy_bcp47( string $locale ): string {
	$parts = explode( '_', $locale );
	$tag   = strtolower( $parts[0] );
	if ( 1 !== preg_match( '/^[a-z]{2,8}$/D', $tag ) ) {
		return 'en';
	}
	if ( isset( $parts[1] ) && 1 === preg_match( '/^(?:[A-Za-z]{2}|[0-9]{3})$/D', $parts[1] ) ) {
		$tag .= '-' . strtoupper( $parts[1] );
	}
	return $tag;
}

/**
 * The privacy-policy URL: the page chosen in the settings when published, else WordPress's
 * own privacy-policy page, else ''.
 *
 * Resolving it reads the page from the database, which a page view must not pay for (many
 * themes never load that page), so the answer is kept in a small autoloaded option, keyed by
 * everything it depends on besides the pages themselves; any change to a page clears it
 * (secure_privacy_forget_privacy_url). When a plugin filters page links or the privacy URL
 * (e.g. per language), it is resolved on every view instead.
 */
function secure_privacy_privacy_url(): string {
	$page_id = (int) ( secure_privacy_settings()['privacy_page_id'] ?? 0 );
	if ( has_filter( 'privacy_policy_url' ) || has_filter( 'page_link' ) || has_filter( '_get_page_link' ) ) {
		return secure_privacy_resolve_privacy_url( $page_id );
	}
	$key   = implode( '|', array( $page_id, (int) get_option( 'wp_page_for_privacy_policy' ), (string) get_option( 'permalink_structure' ), (string) get_option( 'home' ), is_ssl() ? 's' : '' ) );
	$cache = get_option( SECURE_PRIVACY_PRIVACY_URL_OPTION );
	$cache = is_array( $cache ) ? $cache : array();
	if ( isset( $cache[ $key ] ) && is_string( $cache[ $key ] ) ) {
		return $cache[ $key ];
	}
	$url           = secure_privacy_resolve_privacy_url( $page_id );
	$cache[ $key ] = $url;
	// A handful of variants at most (http and https, a changed setting): keep the newest four.
	update_option( SECURE_PRIVACY_PRIVACY_URL_OPTION, array_slice( $cache, -4, null, true ), true );
	return $url;
}

/**
 * Resolve the privacy-policy URL from the pages (reads the database).
 *
 * @param int $page_id The page chosen in the settings, 0 for WordPress's own.
 */
function secure_privacy_resolve_privacy_url( int $page_id ): string {
	if ( $page_id && 'publish' === get_post_status( $page_id ) ) {
		return (string) get_permalink( $page_id );
	}
	return get_privacy_policy_url();
}

/**
 * Forget the resolved privacy-policy URL and the banner built with it when a page changes: its
 * status, slug, parent or existence may change the URL (clean_post_cache).
 *
 * @param int          $post_id Post id.
 * @param WP_Post|null $post    The post.
 */
function secure_privacy_forget_privacy_url( $post_id = 0, $post = null ): void {
	if ( null === $post || ( $post instanceof WP_Post && 'page' === $post->post_type ) ) {
		delete_option( SECURE_PRIVACY_PRIVACY_URL_OPTION );
		secure_privacy_forget_banner_output();
	}
}
