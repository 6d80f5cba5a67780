<?php
/**
 * The plugin's one vocabulary: consent categories (with their labels), actions, methods,
 * browser signals, the UUID shape and the length limits. Every other file reads them from
 * here; the sidecar's copy is `sidecar/validation.py` (see docs/api.md, "The consent payload").
 *
 * Loaded without WordPress too (the plain PHPUnit suite): only constants and functions that
 * call WordPress when they run.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/** The consent categories, in payload and display order; the first is always granted. */
const SECURE_PRIVACY_CATEGORIES = array( 'necessary', 'preferences', 'statistics', 'marketing' );

/** Option: the admin's site rules (includes/scan-rules.php keeps them, includes/blocking.php reads them). */
const SECURE_PRIVACY_SITE_RULES_OPTION = 'secure_privacy_site_rules';

/** The category that is always on (the visitor cannot refuse it). */
const SECURE_PRIVACY_REQUIRED_CATEGORY = 'necessary';

/** The categories a visitor chooses, in display order (a site may switch any of them off). */
const SECURE_PRIVACY_OPTIONAL_CATEGORIES = array( 'preferences', 'statistics', 'marketing' );

/** The optional categories' colour in every chart (WCAG AA against white). */
const SECURE_PRIVACY_CATEGORY_COLORS = array(
	'preferences' => '#7c3aed',
	'statistics'  => '#0e7490',
	'marketing'   => '#c2410c',
);

/** Ledger actions of a consent event. */
const SECURE_PRIVACY_ACTIONS = array( 'grant', 'update', 'withdraw' );

/** How a choice was made: a banner button, a withdrawal, or an honoured browser signal. */
const SECURE_PRIVACY_METHODS = array( 'accept_all', 'reject_all', 'custom', 'withdraw', 'gpc', 'dnt' );

/** Privacy signals a browser sends (Global Privacy Control, Do Not Track). */
const SECURE_PRIVACY_SIGNALS = array( 'gpc', 'dnt' );

/**
 * A version 4 UUID in any case, as a JSON Schema `pattern` (like the two below). It ends in `(?![\s\S])` rather
 * than `$`: WordPress matches patterns without PCRE's D flag, where `$` also matches before
 * a final newline; this end matches only at the very end, in PCRE and ECMAScript alike.
 */
const SECURE_PRIVACY_UUID4_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}(?![\s\S])';

/** A policy or banner version: no control characters (the length is checked apart). */
const SECURE_PRIVACY_VERSION_PATTERN = '^[^\x00-\x1F\x7F]*(?![\s\S])';

/** A BCP 47-shaped language tag such as "en", "sv-SE" or "zh-Hant-TW". */
const SECURE_PRIVACY_LANGUAGE_PATTERN = '^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*(?![\s\S])';

/** Largest accepted request body of the consent route; a real consent body is well under 1 KB. */
const SECURE_PRIVACY_MAX_BODY_BYTES = 8192;

/** Longest page URL accepted (the rule itself is in includes/url.php). */
const SECURE_PRIVACY_MAX_URL_LENGTH = 2048;

/** Longest language tag accepted. */
const SECURE_PRIVACY_MAX_LANGUAGE_LENGTH = 35;

/** Longest User-Agent kept with a consent, in characters (longer ones are cut). */
const SECURE_PRIVACY_MAX_USER_AGENT_LENGTH = 512;

/** Longest policy or banner version, in characters (settings and the REST route alike). */
const SECURE_PRIVACY_MAX_VERSION_LENGTH = 64;

/**
 * Whether $value is a version 4 UUID (any case).
 *
 * @param mixed $value Candidate.
 */
function secure_privacy_is_uuid4( $value ): bool {
	return is_string( $value ) && 1 === preg_match( '/' . SECURE_PRIVACY_UUID4_PATTERN . '/', $value );
}

/**
 * The categories' labels, translated, in SECURE_PRIVACY_CATEGORIES order.
 *
 * @return array<string, string>
 */
function secure_privacy_category_labels(): array {
	return array(
		'necessary'   => _x( 'Necessary', 'consent category', 'secure-privacy' ),
		'preferences' => _x( 'Preferences', 'consent category', 'secure-privacy' ),
		'statistics'  => _x( 'Statistics', 'consent category', 'secure-privacy' ),
		'marketing'   => _x( 'Marketing', 'consent category', 'secure-privacy' ),
	);
}

/**
 * The categories' built-in descriptions for visitors, translated.
 *
 * @return array<string, string>
 */
function secure_privacy_category_descriptions(): array {
	return array(
		'necessary'   => __( 'Needed for the site to work, for example to keep you signed in and to remember your privacy choices. Always on.', 'secure-privacy' ),
		'preferences' => __( 'Remember your settings, such as language or region, between visits.', 'secure-privacy' ),
		'statistics'  => __( 'Help us understand how visitors use the site, so we can improve it.', 'secure-privacy' ),
		'marketing'   => __( 'Show you relevant ads and measure campaigns, also on other sites. Switching this off is your opt-out of interest-based ads.', 'secure-privacy' ),
	);
}

/**
 * Human labels of the consent methods, translated.
 *
 * @return array<string, string>
 */
function secure_privacy_method_labels(): array {
	return array(
		'accept_all' => __( 'Accept all', 'secure-privacy' ),
		'reject_all' => __( 'Reject all', 'secure-privacy' ),
		'custom'     => __( 'Custom choice', 'secure-privacy' ),
		'withdraw'   => __( 'Withdrawal', 'secure-privacy' ),
		'gpc'        => __( 'Global Privacy Control', 'secure-privacy' ),
		'dnt'        => __( 'Do Not Track', 'secure-privacy' ),
	);
}

/**
 * Human labels of the consent actions, translated.
 *
 * @return array<string, string>
 */
function secure_privacy_action_labels(): array {
	return array(
		'grant'    => __( 'Grant', 'secure-privacy' ),
		'update'   => __( 'Update', 'secure-privacy' ),
		'withdraw' => __( 'Withdraw', 'secure-privacy' ),
	);
}

/* ---- site scan (CONTRACT §8) --------------------------------------------------------------- */

/** What a scan reports and a site rule matches: a cookie by name, a storage key, a request's host. */
const SECURE_PRIVACY_SCAN_KINDS = array( 'cookie', 'storage', 'request' );

/** The browser states a page is scanned in; the first two are before any consent. */
const SECURE_PRIVACY_SCAN_STATES = array( 'before_consent', 'after_reject', 'after_accept' );

/** The category a scan gives what nobody has classified; never a site rule's category. */
const SECURE_PRIVACY_SCAN_UNKNOWN = 'unknown';

/** Longest site-rule pattern (a cookie name, storage key or host, `*` as wildcard), in characters. */
const SECURE_PRIVACY_MAX_RULE_PATTERN_LENGTH = 200;

/** Longest service name of a site rule, in characters. */
const SECURE_PRIVACY_MAX_RULE_SERVICE_LENGTH = 100;

/** Most site rules kept. */
const SECURE_PRIVACY_MAX_SITE_RULES = 500;

/**
 * Human labels of the scan's kinds, translated.
 *
 * @return array<string, string>
 */
function secure_privacy_scan_kind_labels(): array {
	return array(
		'cookie'  => __( 'Cookie', 'secure-privacy' ),
		'storage' => __( 'Storage', 'secure-privacy' ),
		'request' => __( 'Request', 'secure-privacy' ),
	);
}

/**
 * Human labels of the scan's browser states, translated.
 *
 * @return array<string, string>
 */
function secure_privacy_scan_state_labels(): array {
	return array(
		'before_consent' => __( 'Before consent', 'secure-privacy' ),
		'after_reject'   => __( 'After Reject all', 'secure-privacy' ),
		'after_accept'   => __( 'After Accept all', 'secure-privacy' ),
	);
}
