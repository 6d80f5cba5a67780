<?php
/**
 * The banner on the public site: widget assets plus its configuration as a JSON island,
 * `<script type="application/json" id="sp-consent-config">`, printed in the footer.
 *
 * The markup is the same for every anonymous visitor (page-cache safe): all per-visitor
 * state lives in the consent cookie and is read by the widget.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

const SECURE_PRIVACY_WIDGET_HANDLE = 'secure-privacy-widget';

const SECURE_PRIVACY_CONFIG_ID = 'sp-consent-config';

/**
 * Enqueue the widget's CSS and deferred footer JS (wp_enqueue_scripts).
 */
function secure_privacy_enqueue_assets(): void {
	wp_enqueue_style(
		SECURE_PRIVACY_WIDGET_HANDLE,
		plugins_url( 'assets/widget.css', SECURE_PRIVACY_FILE ),
		array(),
		SECURE_PRIVACY_VERSION
	);
	wp_enqueue_script(
		SECURE_PRIVACY_WIDGET_HANDLE,
		plugins_url( 'assets/widget.js', SECURE_PRIVACY_FILE ),
		array(),
		SECURE_PRIVACY_VERSION,
		array(
			'in_footer' => true,
			'strategy'  => 'defer',
		)
	);
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
 * Print the widget configuration in the footer, before the footer scripts (wp_footer, priority 5).
 */
function secure_privacy_print_config(): void {
	if ( ! wp_script_is( SECURE_PRIVACY_WIDGET_HANDLE, 'enqueued' ) ) {
		return;
	}
	// JSON_HEX_TAG/AMP keep "</script>" and "<!--" out of the island; JSON.parse reads them back.
	$json = wp_json_encode( secure_privacy_frontend_config(), JSON_HEX_TAG | JSON_HEX_AMP | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE );
	wp_print_inline_script_tag(
		(string) $json,
		array(
			'type' => 'application/json',
			'id'   => SECURE_PRIVACY_CONFIG_ID,
		)
	);
}

/**
 * The widget configuration: the shape the widget is built against.
 *
 * Texts are plain text (the widget must insert them as text, not HTML).
 *
 * @return array{restUrl: string, policyVersion: string, bannerVersion: string, language: string, privacyUrl: string, lifetimeDays: int, honorGpc: bool, honorDnt: bool, cookieSecure: bool, restNonce?: string, categories: array, texts: array}
 */
function secure_privacy_frontend_config(): array {
	$settings   = secure_privacy_settings();
	$categories = secure_privacy_categories();
	$texts      = secure_privacy_banner_texts();

	$config = array(
		'restUrl'       => rest_url( SECURE_PRIVACY_REST_NAMESPACE . '/consent' ),
		'policyVersion' => $settings['policy_version'],
		'bannerVersion' => secure_privacy_banner_version( $settings['policy_version'], $categories, $texts ),
		'language'      => secure_privacy_bcp47( determine_locale() ),
		'privacyUrl'    => secure_privacy_privacy_url(),
		'lifetimeDays'  => (int) $settings['consent_lifetime_days'],
		'honorGpc'      => (bool) $settings['honor_gpc'],
		'honorDnt'      => (bool) $settings['honor_dnt'],
		'cookieSecure'  => is_ssl(),
	);
	// Signed-in visitors need the nonce for the REST call to carry their user id; their pages
	// are not page-cached, so the nonce never leaks into an anonymous visitor's HTML.
	if ( is_user_logged_in() ) {
		$config['restNonce'] = wp_create_nonce( 'wp_rest' );
	}
	$config['categories'] = $categories;
	$config['texts']      = $texts;

	/**
	 * Filters the widget configuration printed on every public page.
	 *
	 * @param array $config The configuration.
	 */
	return apply_filters( 'secure_privacy_frontend_config', $config );
}

/**
 * The consent categories in display order, translated.
 *
 * @return array<int, array{key: string, label: string, description: string, required: bool}>
 */
function secure_privacy_categories(): array {
	return array(
		array(
			'key'         => 'necessary',
			'label'       => _x( 'Necessary', 'consent category', 'secure-privacy' ),
			'description' => __( 'Needed for the site to work, for example to keep you signed in and to remember your privacy choices. Always on.', 'secure-privacy' ),
			'required'    => true,
		),
		array(
			'key'         => 'preferences',
			'label'       => _x( 'Preferences', 'consent category', 'secure-privacy' ),
			'description' => __( 'Remember your settings, such as language or region, between visits.', 'secure-privacy' ),
			'required'    => false,
		),
		array(
			'key'         => 'statistics',
			'label'       => _x( 'Statistics', 'consent category', 'secure-privacy' ),
			'description' => __( 'Help us understand how visitors use the site, so we can improve it.', 'secure-privacy' ),
			'required'    => false,
		),
		array(
			'key'         => 'marketing',
			'label'       => _x( 'Marketing', 'consent category', 'secure-privacy' ),
			'description' => __( 'Show you relevant ads and measure campaigns, also on other sites.', 'secure-privacy' ),
			'required'    => false,
		),
	);
}

/**
 * The banner's texts, translated, as plain text.
 *
 * @return array<string, string>
 */
function secure_privacy_banner_texts(): array {
	$site = wp_specialchars_decode( get_bloginfo( 'name' ), ENT_QUOTES );
	return array(
		'title'       => __( 'We value your privacy', 'secure-privacy' ),
		'body'        => sprintf(
			/* translators: %s: site name. */
			__( '%s uses cookies and similar technologies to make the site work and, with your consent, to remember your preferences, to measure traffic and for marketing. Choose what you allow; you can change your mind at any time.', 'secure-privacy' ),
			'' !== $site ? $site : __( 'This site', 'secure-privacy' )
		),
		'acceptAll'   => __( 'Accept all', 'secure-privacy' ),
		'rejectAll'   => __( 'Reject all', 'secure-privacy' ),
		'preferences' => __( 'Preferences', 'secure-privacy' ),
		'save'        => __( 'Save choices', 'secure-privacy' ),
		'withdraw'    => __( 'Withdraw consent', 'secure-privacy' ),
		'open'        => __( 'Privacy settings', 'secure-privacy' ),
		'close'       => __( 'Close', 'secure-privacy' ),
		'privacyLink' => __( 'Privacy policy', 'secure-privacy' ),
		'gpcNotice'   => __( 'Your browser sends a Global Privacy Control signal, so optional cookies stay off unless you switch them on.', 'secure-privacy' ),
	);
}

/**
 * Version of what the visitor is shown: the first 16 hex digits of the SHA-256 of the
 * policy version, the categories and the texts (so it differs per language).
 *
 * @param string $policy_version Policy version.
 * @param array  $categories     secure_privacy_categories().
 * @param array  $texts          secure_privacy_banner_texts().
 */
function secure_privacy_banner_version( string $policy_version, array $categories, array $texts ): string {
	$shown = wp_json_encode( array( $policy_version, $categories, $texts ), JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE );
	return substr( hash( 'sha256', (string) $shown ), 0, 16 );
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
 */
function secure_privacy_privacy_url(): string {
	$page_id = (int) secure_privacy_settings()['privacy_page_id'];
	if ( $page_id && 'publish' === get_post_status( $page_id ) ) {
		return (string) get_permalink( $page_id );
	}
	return get_privacy_policy_url();
}
