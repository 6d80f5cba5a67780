<?php
/**
 * Auto-blocking on the server (issue 14, layers 1 and 2): what the service catalogue
 * (data/catalogue.php, generated from sidecar/catalogue/services.json) or a site rule knows
 * as a tracker is sent in the widget's blocked form, with no tagging by the site owner:
 *
 * - scripts enqueued through WordPress (script_loader_tag: the tag with its inline
 *   before/after parts and translations; scripts that depend on a blocked one too);
 * - one pass over the final HTML of front-end pages (an output buffer; the tokenizer
 *   Secure_Privacy_HTML_Scanner, a port of WP_HTML_Tag_Processor's rules, with the tag
 *   processor making the edits on WordPress 6.3+): `<script src>`, inline scripts with a
 *   known signature, `<iframe src>` and tracking `<img>`. docs/blocking.md has the details.
 *
 * Blocked forms: `<script type="text/plain" data-sp-category="…" data-sp-service="…">` (the
 * original type in data-sp-type), `<iframe data-sp-src="…" data-sp-category="…">` and
 * `<img data-sp-src="…" data-sp-category="…">` without `src`. The widget releases them once
 * their category is granted. The decision never reads the visitor's cookie: every visitor
 * gets the same bytes, so page caches stay valid. A breaks-if-blocked service (payment,
 * captcha) is never blocked, even when a site rule says so; wp-admin warns instead.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/** Where another part of the plugin may keep the admin's site rules (docs/catalogue.md). */

/** A request rule's host pattern: host, `.suffix` (from `*.suffix`), an optional `:port`. */
const SECURE_PRIVACY_RULE_HOST_PATTERN = '/^\.?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*(?::[0-9]{1,5})?$/D';

/**
 * The catalogue's blocking index (data/catalogue.php, its format there), read once per request.
 * The `secure_privacy_catalogue` filter may add services in that format (e.g. a test's
 * loopback "third party"); it runs once per request.
 *
 * @return array{sha256: string, services: array, host: array, suffix: array, url: array, url_suffix: array, signatures: array, needles: array, signature_pattern?: string, needle_pattern?: string}
 */
function secure_privacy_catalogue(): array {
	static $catalogue = null;
	if ( null === $catalogue ) {
		$catalogue = require dirname( __DIR__ ) . '/data/catalogue.php';
		if ( function_exists( 'has_filter' ) && has_filter( 'secure_privacy_catalogue' ) ) {
			/**
			 * Filters the blocking catalogue (data/catalogue.php's format).
			 *
			 * @param array $catalogue The catalogue.
			 */
			$catalogue = (array) apply_filters( 'secure_privacy_catalogue', $catalogue );
			// Built again from the filtered signatures and needles when they are needed.
			unset( $catalogue['signature_pattern'], $catalogue['needle_pattern'] );
		}
	}
	return $catalogue;
}

/**
 * The admin's request rules, normalised: [['pattern' => host|.suffix[:port], 'category' =>
 * …, 'service' => …], …]. Read defensively from wherever they are kept (a `site_rules`
 * setting, or the secure_privacy_site_rules option when it is autoloaded: reading an option
 * that is not costs a query on every page view); anything malformed is left out.
 *
 * @return array<int, array{pattern: string, category: string, service: string}>
 */
function secure_privacy_blocking_rules(): array {
	$raw = function_exists( 'secure_privacy_settings' ) ? ( secure_privacy_settings()['site_rules'] ?? null ) : null;
	if ( null === $raw ) {
		$all = wp_load_alloptions();
		$raw = isset( $all[ SECURE_PRIVACY_SITE_RULES_OPTION ] ) ? get_option( SECURE_PRIVACY_SITE_RULES_OPTION ) : null;
	}
	return secure_privacy_normalize_site_rules( $raw );
}

/**
 * The request rules of a stored value (a list, `{"rules": [...]}`, or either as JSON).
 *
 * @param mixed $raw Stored value.
 * @return array<int, array{pattern: string, category: string, service: string}>
 */
function secure_privacy_normalize_site_rules( $raw ): array {
	if ( is_string( $raw ) && '' !== $raw ) {
		$raw = json_decode( $raw, true );
	}
	if ( is_array( $raw ) && isset( $raw['rules'] ) ) {
		$raw = $raw['rules'];
	}
	if ( ! is_array( $raw ) ) {
		return array();
	}
	$rules = array();
	foreach ( $raw as $rule ) {
		if ( ! is_array( $rule ) || 'request' !== ( $rule['kind'] ?? '' ) || ! is_string( $rule['pattern'] ?? null ) ) {
			continue;
		}
		$pattern = strtolower( trim( $rule['pattern'] ) );
		if ( str_starts_with( $pattern, '*.' ) ) {
			$pattern = substr( $pattern, 1 );
		}
		$category = $rule['category'] ?? '';
		if ( ! in_array( $category, SECURE_PRIVACY_CATEGORIES, true ) || 1 !== preg_match( SECURE_PRIVACY_RULE_HOST_PATTERN, $pattern ) ) {
			continue;
		}
		$rules[] = array(
			'pattern'  => $pattern,
			'category' => $category,
			'service'  => is_string( $rule['service'] ?? null ) ? trim( $rule['service'] ) : '',
		);
	}
	return $rules;
}

/**
 * The site rules indexed like the catalogue's hosts: ['host' => key => rule, 'suffix' => …],
 * the first rule for a pattern winning, and 'key' (what the lookups' memos depend on).
 * Built once per request; secure_privacy_site_rules_changed() rebuilds it when the rules are
 * written.
 *
 * @param bool $refresh Read the rules again.
 */
function secure_privacy_rule_index( bool $refresh = false ): array {
	static $key = null, $index = null;
	if ( null !== $index && ! $refresh ) {
		return $index;
	}
	$rules = secure_privacy_blocking_rules();
	$now   = serialize( $rules ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.serialize_serialize -- a cache key.
	if ( $now !== $key ) {
		$key   = $now;
		$index = array(
			'host'   => array(),
			'suffix' => array(),
		);
		foreach ( $rules as $rule ) {
			$which = str_starts_with( $rule['pattern'], '.' ) ? 'suffix' : 'host';
			$index[ $which ][ ltrim( $rule['pattern'], '.' ) ] ??= $rule;
		}
		$index['key'] = md5( $now );
	}
	return $index;
}

/**
 * Read the site rules again after they (or the settings holding them) were written.
 */
function secure_privacy_site_rules_changed(): void {
	secure_privacy_rule_index( true );
}

/**
 * The host, port and path of an absolute http(s) or protocol-relative URL; null for anything
 * else (a relative URL is the site's own).
 *
 * @param string $url A URL as an attribute holds it (decoded).
 * @return array{0: string, 1: ?string, 2: string}|null
 */
function secure_privacy_url_parts( string $url ): ?array {
	$url = trim( $url, " \t\n\r\f" );
	if ( str_starts_with( $url, '//' ) ) {
		$url = 'https:' . $url;
	} elseif ( 0 !== strncasecmp( $url, 'http://', 7 ) && 0 !== strncasecmp( $url, 'https://', 8 ) ) {
		return null;
	}
	$parts = parse_url( $url ); // phpcs:ignore WordPress.WP.AlternativeFunctions.parse_url_parse_url -- an absolute URL (wp_parse_url's only addition is for relative ones); also runs without WordPress (tests/php/block-cli.php).
	if ( ! is_array( $parts ) || empty( $parts['host'] ) ) {
		return null;
	}
	return array(
		strtolower( trim( $parts['host'], '[]' ) ),
		isset( $parts['port'] ) ? (string) $parts['port'] : null,
		'' !== ( $parts['path'] ?? '' ) ? $parts['path'] : '/',
	);
}

/**
 * Index keys to look a host up under, most specific first: [key, is_suffix] (as
 * sidecar/classify.py's _host_keys).
 *
 * @param string      $host Lowercase host.
 * @param string|null $port Port, if the URL names one.
 */
function secure_privacy_host_keys( string $host, ?string $port ): array {
	$keys = array();
	if ( null !== $port ) {
		$keys[] = array( "$host:$port", false );
	}
	$keys[] = array( $host, false );
	$labels = explode( '.', $host );
	$n      = count( $labels );
	for ( $i = 0; $i < $n; $i++ ) {
		$base = implode( '.', array_slice( $labels, $i ) );
		if ( null !== $port ) {
			$keys[] = array( "$base:$port", true );
		}
		$keys[] = array( $base, true );
	}
	return $keys;
}

/**
 * What the catalogue and the site rules say about a URL, as the scan's classifier does: a URL
 * pattern before a host, the more specific host first; a site rule replaces the category (and
 * the name, when it gives one) but never forgets breaks_if_blocked.
 *
 * @param string $url     The URL.
 * @param array  $catalogue secure_privacy_catalogue().
 * @param array  $rules   secure_privacy_rule_index().
 * @return array{category: string, service: string, id: string, breaks: bool, source: string}|null
 */
function secure_privacy_classify_url( string $url, array $catalogue, array $rules ): ?array {
	$parts = secure_privacy_url_parts( $url );
	if ( null === $parts ) {
		return null;
	}
	return secure_privacy_classify_parts( $parts, secure_privacy_host_keys( $parts[0], $parts[1] ), $catalogue, $rules );
}

/**
 * secure_privacy_classify_url() of a URL already taken apart.
 *
 * @param array $parts     secure_privacy_url_parts() of the URL.
 * @param array $keys      secure_privacy_host_keys() of its host and port.
 * @param array $catalogue secure_privacy_catalogue().
 * @param array $rules     secure_privacy_rule_index().
 * @return array{category: string, service: string, id: string, breaks: bool, source: string}|null
 */
function secure_privacy_classify_parts( array $parts, array $keys, array $catalogue, array $rules ): ?array {
	list( $host, , $path ) = $parts;
	$found = null;
	foreach ( $keys as list( $key, $is_suffix ) ) {
		foreach ( $catalogue[ $is_suffix ? 'url_suffix' : 'url' ][ $key ] ?? array() as list( $prefix, $index ) ) {
			if ( str_starts_with( $path, $prefix ) ) {
				$found = $index;
				break 2;
			}
		}
	}
	if ( null === $found ) {
		foreach ( $keys as list( $key, $is_suffix ) ) {
			$index = $catalogue[ $is_suffix ? 'suffix' : 'host' ][ $key ] ?? null;
			if ( null !== $index ) {
				$found = $index;
				break;
			}
		}
	}
	$known = null;
	if ( null !== $found ) {
		$s     = $catalogue['services'][ $found ];
		$known = array(
			'category' => $s[2],
			'service'  => $s[1],
			'id'       => $s[0],
			'breaks'   => $s[3],
			'source'   => 'catalogue',
		);
	}
	foreach ( $keys as list( $key, $is_suffix ) ) {
		$rule = $rules[ $is_suffix ? 'suffix' : 'host' ][ $key ] ?? null;
		if ( null !== $rule ) {
			return array(
				'category' => $rule['category'],
				'service'  => '' !== $rule['service'] ? $rule['service'] : ( $known['service'] ?? $host ),
				'id'       => $known['id'] ?? '',
				'breaks'   => $known['breaks'] ?? false,
				'source'   => 'site-rule',
			);
		}
	}
	return $known;
}

/**
 * The blocked form's category and service for a URL, or null when it loads as it is (not a
 * known service, necessary, or breaks if blocked).
 *
 * @param string $url The URL.
 * @return array{category: string, service: string}|null
 */
function secure_privacy_url_block( string $url ): ?array {
	static $memo = array(), $hosts = array(), $key = null;
	$rules = secure_privacy_rule_index();
	if ( $rules['key'] !== $key ) {
		$memo  = array();
		$hosts = array();
		$key   = $rules['key'];
	}
	if ( array_key_exists( $url, $memo ) ) {
		return $memo[ $url ];
	}
	// Most URLs of a page are on hosts nothing names (the site's own): that is decided once per
	// host, and their URLs are not classified.
	$parts = secure_privacy_url_parts( $url );
	$found = null;
	if ( null !== $parts ) {
		$host = $parts[0] . ':' . $parts[1];
		$keys = null;
		if ( ! isset( $hosts[ $host ] ) ) {
			$keys  = secure_privacy_host_keys( $parts[0], $parts[1] );
			$known = secure_privacy_keys_are_known( $keys, secure_privacy_catalogue(), $rules );
			if ( count( $hosts ) < 500 ) {
				$hosts[ $host ] = $known;
			}
		}
		if ( $hosts[ $host ] ?? $known ) {
			$found = secure_privacy_classify_parts( $parts, $keys ?? secure_privacy_host_keys( $parts[0], $parts[1] ), secure_privacy_catalogue(), $rules );
		}
	}
	$block = null;
	if ( null !== $found && ! $found['breaks'] && SECURE_PRIVACY_REQUIRED_CATEGORY !== $found['category'] ) {
		$block = array(
			'category' => $found['category'],
			'service'  => $found['service'],
		);
	}
	if ( count( $memo ) < 500 ) {
		$memo[ $url ] = $block;
	}
	return $block;
}

/**
 * The blocked form for an inline script whose text carries a catalogue signature, or null.
 *
 * @param string $text The script's text.
 * @return array{category: string, service: string}|null
 */
function secure_privacy_inline_block( string $text ): ?array {
	if ( '' === $text ) {
		return null;
	}
	static $any = null; // The catalogue is read once per request.
	$catalogue = secure_privacy_catalogue();
	$any     ??= $catalogue['signature_pattern'] ?? secure_privacy_literals_pattern( array_keys( $catalogue['signatures'] ) );
	// Most scripts (the page's own, the theme's) carry no signature: one search says so (20
	// str_contains() of the text cost twice as much). Which one decides is still the first in
	// the catalogue's order, below.
	if ( 0 === preg_match( $any, $text ) ) {
		return null;
	}
	foreach ( $catalogue['signatures'] as $signature => $index ) {
		if ( str_contains( $text, (string) $signature ) ) {
			$s = $catalogue['services'][ $index ];
			if ( $s[3] || SECURE_PRIVACY_REQUIRED_CATEGORY === $s[2] ) {
				return null;
			}
			return array(
				'category' => $s[2],
				'service'  => $s[1],
			);
		}
	}
	return null;
}

/**
 * A regular expression that matches where any of $literals occurs (exactly: str_contains() of
 * one of them). Each is anchored at its first `(`, `_`, `/`, `-` or `.`, with the text before
 * that as a lookbehind: the search then stops only at those characters instead of at every
 * `g`, `c` or `s` of a script (PCRE's start-character optimisation), several times faster.
 *
 * @param array $literals Texts (array keys: a numeric one may be an int).
 */
function secure_privacy_literals_pattern( array $literals ): string {
	$alternatives = array();
	foreach ( $literals as $literal ) {
		$literal = (string) $literal;
		$at      = 0;
		foreach ( array( '(', '_', '/', '-', '.' ) as $c ) {
			$i = strpos( $literal, $c );
			if ( false !== $i ) {
				$at = $i;
				break;
			}
		}
		$alternatives[] = ( $at > 0 ? '(?<=' . preg_quote( substr( $literal, 0, $at ), '~' ) . ')' : '' ) . preg_quote( substr( $literal, $at ), '~' );
	}
	return $alternatives ? '~' . implode( '|', $alternatives ) . '~' : '~(?!)~';
}

/**
 * Whether a script `type` is JavaScript a browser would run (absent, empty, a JavaScript MIME
 * type or `module`).
 *
 * @param mixed $type get_attribute( 'type' ).
 */
function secure_privacy_is_js_type( $type ): bool {
	if ( ! is_string( $type ) ) {
		return true; // Absent, or a bare `type`.
	}
	$type = strtolower( trim( $type ) );
	return '' === $type || 'module' === $type || 1 === preg_match( '#^(?:text|application)/(?:x-)?(?:javascript|ecmascript|jscript|livescript)(?:\s*;.*)?$#D', $type );
}

/**
 * Whether an `<img>` is a tracking image: from a statistics or marketing service, or sized 1x1
 * (or less) or hidden.
 *
 * @param callable $attr     fn( name ): attribute value, true, or null.
 * @param string   $category The service's category.
 */
function secure_privacy_is_pixel( callable $attr, string $category ): bool {
	if ( 'statistics' === $category || 'marketing' === $category || null !== $attr( 'hidden' ) ) {
		return true;
	}
	$w     = $attr( 'width' );
	$h     = $attr( 'height' );
	$style = is_string( $attr( 'style' ) ) ? strtolower( preg_replace( '/\s+/', '', $attr( 'style' ) ) ) : '';
	return ( is_string( $w ) && is_string( $h ) && is_numeric( $w ) && is_numeric( $h ) && (float) $w <= 1 && (float) $h <= 1 )
		|| str_contains( $style, 'display:none' ) || str_contains( $style, 'visibility:hidden' );
}

/**
 * The attribute edits that turn one element into its blocked form, or [] to leave it:
 * ['set', name, value] and ['remove', name], applied in order.
 *
 * @param string   $tag   Tag name, upper case.
 * @param callable $attr  fn( name ): the attribute's decoded value, true (no value), or null.
 * @param string   $text  A SCRIPT's text.
 * @param array    $force A block to apply to any script (layer 1: the handle's), or null.
 */
function secure_privacy_block_edits( string $tag, callable $attr, string $text, ?array $force = null ): array {
	if ( null !== $attr( 'data-sp-category' ) ) {
		return array(); // Tagged by hand, or blocked already.
	}
	if ( 'SCRIPT' === $tag ) {
		$type = $attr( 'type' );
		if ( ! secure_privacy_is_js_type( $type ) ) {
			return array();
		}
		$src   = $attr( 'src' );
		$block = $force ?? ( is_string( $src ) && '' !== trim( $src ) ? secure_privacy_url_block( $src ) : secure_privacy_inline_block( $text ) );
		if ( null === $block ) {
			return array();
		}
		$edits = array( array( 'set', 'type', 'text/plain' ) );
		if ( is_string( $type ) && '' !== trim( $type ) ) {
			$edits[] = array( 'set', 'data-sp-type', $type );
		}
		$edits[] = array( 'set', 'data-sp-category', $block['category'] );
		$edits[] = array( 'set', 'data-sp-service', $block['service'] );
		return $edits;
	}
	if ( 'LINK' === $tag ) {
		return secure_privacy_link_edits( $attr );
	}
	if ( 'IFRAME' !== $tag && 'IMG' !== $tag ) {
		return array();
	}
	$src = $attr( 'src' );
	if ( ! is_string( $src ) || '' === trim( $src ) || null !== $attr( 'data-sp-src' ) ) {
		return array();
	}
	$block = secure_privacy_url_block( $src );
	if ( null === $block || ( 'IMG' === $tag && ! secure_privacy_is_pixel( $attr, $block['category'] ) ) ) {
		return array();
	}
	return secure_privacy_moved_url_edits( 'src', $src, $block );
}

/**
 * The edits of a blocked element that loads by a URL attribute (an iframe's or pixel's src, a
 * link's href): the URL moves to data-sp-src, which the widget puts back once granted.
 *
 * @param string $name  The attribute: 'src' or 'href'.
 * @param string $url   Its value.
 * @param array  $block The service's category and name (secure_privacy_url_block()).
 */
function secure_privacy_moved_url_edits( string $name, string $url, array $block ): array {
	return array(
		array( 'remove', $name ),
		array( 'set', 'data-sp-src', $url ),
		array( 'set', 'data-sp-category', $block['category'] ),
		array( 'set', 'data-sp-service', $block['service'] ),
	);
}

/**
 * The edits that block a `<link>` to a service until its category is granted: a stylesheet
 * (Google Fonts, the most common: the visitor's IP reaches Google with the first page view),
 * and the hints that fetch or connect ahead (`preload`, `modulepreload`, `prefetch`,
 * `preconnect`, `dns-prefetch`). Its href moves to data-sp-src; the widget puts it back once
 * granted. Other links (icons, feeds, canonical, alternate) are left alone.
 *
 * @param callable $attr fn( name ): the attribute's decoded value, true (no value), or null.
 */
function secure_privacy_link_edits( callable $attr ): array {
	$rel  = $attr( 'rel' );
	$href = $attr( 'href' );
	if ( ! is_string( $rel ) || ! is_string( $href ) || '' === trim( $href ) || null !== $attr( 'data-sp-src' )
		|| ! preg_match( '/(?:^|\s)(?:stylesheet|preload|modulepreload|prefetch|preconnect|dns-prefetch)(?:\s|$)/i', $rel ) ) {
		return array();
	}
	$block = secure_privacy_url_block( $href );
	return null === $block ? array() : secure_privacy_moved_url_edits( 'href', $href, $block );
}

/**
 * Whether WordPress's tag processor makes the page pass's edits: 6.3+ (6.2's does not remove
 * a repeated attribute, so `<iframe src=a src=b>` would keep loading b).
 */
function secure_privacy_tag_processor_edits(): bool {
	static $memo = array(); // By version: version_compare() on every page pass adds up.
	$version = (string) ( $GLOBALS['wp_version'] ?? get_bloginfo( 'version' ) );
	$memo[ $version ] ??= class_exists( 'WP_HTML_Tag_Processor' ) && version_compare( $version, '6.3', '>=' );
	return $memo[ $version ];
}

/**
 * $html with every element secure_privacy_block_edits() names turned into its blocked form.
 *
 * The document is tokenized by Secure_Privacy_HTML_Scanner, a port of the rules of WordPress
 * 6.5's WP_HTML_Tag_Processor that reads in full only the tags blocking may change or that
 * hold raw text: a whole-page WP_HTML_Tag_Processor pass costs four times as much CPU (500 us
 * against 120 us on the bench's front page), more than the page-overhead budget. Where
 * WordPress's tag processor makes them right (6.3+), it makes the edits, on each changed
 * element. All three ways give the same bytes (BlockingTest).
 *
 * @param string      $html  A page or a fragment.
 * @param array|null  $force Block every script with this (layer 1), or null.
 * @param string|null $mode  Tests: 'scanner' (the port alone, as on 6.1), 'edits' (the port
 *                           finds, the tag processor edits), 'processor' (a whole-page tag
 *                           processor pass, WordPress 6.5+); null: 'edits' on 6.3+, else
 *                           'scanner'.
 */
function secure_privacy_block_html( string $html, ?array $force = null, ?string $mode = null ): string {
	$decide = null === $force ? 'secure_privacy_block_edits' : static function ( string $tag, callable $attr, string $text ) use ( $force ): array {
		if ( 'SCRIPT' !== $tag ) {
			return array();
		}
		return secure_privacy_block_edits( $tag, $attr, $text, $force );
	};
	$mode = $mode ?? ( secure_privacy_tag_processor_edits() ? 'edits' : 'scanner' );
	if ( 'processor' !== $mode ) {
		if ( ! class_exists( 'Secure_Privacy_HTML_Scanner', false ) ) {
			require __DIR__ . '/class-html-scanner.php';
		}
		return ( new Secure_Privacy_HTML_Scanner( $html ) )->rewrite( $decide, 'edits' === $mode );
	}
	$p = new WP_HTML_Tag_Processor( $html );
	while ( $p->next_tag() ) {
		$tag = (string) $p->get_tag();
		if ( 'SCRIPT' !== $tag && 'IFRAME' !== $tag && 'IMG' !== $tag && 'LINK' !== $tag ) {
			continue;
		}
		$ops = $decide( $tag, array( $p, 'get_attribute' ), 'SCRIPT' === $tag ? $p->get_modifiable_text() : '' );
		foreach ( $ops as $op ) {
			if ( 'remove' === $op[0] ) {
				$p->remove_attribute( $op[1] );
			} else {
				$p->set_attribute( $op[1], $op[2] );
			}
		}
	}
	return $p->get_updated_html();
}

/**
 * Whether this page may contain something to block: a URL in it (`//host[:port]`, anywhere:
 * attributes and script text alike) has a host the catalogue or a site rule knows, or it
 * contains one of the catalogue's signatures that name no host (`fbq(`). A host written only
 * JSON-escaped (`https:\/\/host`) is no tag's. Keeps the tokenizer off pages that name no
 * known service: finding the URLs is one cheap regular-expression search, not a rewrite.
 *
 * @param string $html The page.
 */
function secure_privacy_page_mentions_services( string $html ): bool {
	static $needles = null; // The catalogue is read once per request.
	$catalogue = secure_privacy_catalogue();
	$url  = '~//([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::([0-9]{1,5}))?~i';
	$seen = array();
	$at   = 0;
	// The first few URLs one by one (where a tracker is enqueued, its host's dns-prefetch hint
	// is among them, at the top of <head>, and the rest of the page is not searched), then
	// all the others at once.
	for ( $i = 0; $i < 8 && 1 === preg_match( $url, $html, $hit, PREG_OFFSET_CAPTURE, $at ); $i++ ) {
		$at = $hit[0][1] + strlen( $hit[0][0] );
		if ( secure_privacy_mentions_known_host( $hit[0][0], $hit[1][0], $hit[2][0] ?? null, $seen, $catalogue ) ) {
			return true;
		}
	}
	if ( 8 === $i && preg_match_all( $url, $html, $m, PREG_SET_ORDER, $at ) ) {
		foreach ( $m as $hit ) {
			if ( secure_privacy_mentions_known_host( $hit[0], $hit[1], $hit[2] ?? null, $seen, $catalogue ) ) {
				return true;
			}
		}
	}
	// One search for the four needles (four str_contains() of a 30 KB page cost 20 us).
	$needles ??= $catalogue['needle_pattern'] ?? secure_privacy_literals_pattern( $catalogue['needles'] );
	return 0 !== preg_match( $needles, $html );
}

/**
 * For secure_privacy_page_mentions_services(): whether a `//host[:port]` it found is on a
 * known host, each one decided once.
 *
 * @param string      $found     The `//host[:port]` text.
 * @param string      $host      Its host.
 * @param string|null $port      Its port, if any.
 * @param array       $seen      The texts decided so far (updated).
 * @param array       $catalogue secure_privacy_catalogue().
 */
function secure_privacy_mentions_known_host( string $found, string $host, ?string $port, array &$seen, array $catalogue ): bool {
	$key = strtolower( $found );
	if ( isset( $seen[ $key ] ) ) {
		return false;
	}
	$seen[ $key ] = true;
	return secure_privacy_host_is_known( strtolower( $host ), $port, $catalogue, secure_privacy_rule_index() );
}

/**
 * Whether the catalogue or a site rule names a host (under any of its keys): otherwise no URL
 * on it is blocked.
 *
 * @param string      $host      Lowercase host.
 * @param string|null $port      Port, if the URL names one.
 * @param array       $catalogue secure_privacy_catalogue().
 * @param array       $rules     secure_privacy_rule_index().
 */
function secure_privacy_host_is_known( string $host, ?string $port, array $catalogue, array $rules ): bool {
	return secure_privacy_keys_are_known( secure_privacy_host_keys( $host, $port ), $catalogue, $rules );
}

/**
 * secure_privacy_host_is_known() of a host's keys.
 *
 * @param array $keys      secure_privacy_host_keys() of the host.
 * @param array $catalogue secure_privacy_catalogue().
 * @param array $rules     secure_privacy_rule_index().
 */
function secure_privacy_keys_are_known( array $keys, array $catalogue, array $rules ): bool {
	foreach ( $keys as list( $k, $is_suffix ) ) {
		if ( $is_suffix ? isset( $catalogue['suffix'][ $k ] ) || isset( $catalogue['url_suffix'][ $k ] ) || isset( $rules['suffix'][ $k ] )
			: isset( $catalogue['host'][ $k ] ) || isset( $catalogue['url'][ $k ] ) || isset( $rules['host'][ $k ] ) ) {
			return true;
		}
	}
	return false;
}

// -- Layer 1: scripts enqueued through WordPress ----------------------------------------------

/**
 * The blocked form for an enqueued handle: its own source's, else that of a script it depends
 * on (it would fail without it, and must run after it), categories joined. Null to leave it.
 *
 * @param string $handle Script handle.
 * @param array  $seen   Handles on the way (dependency cycles).
 * @return array{category: string, service: string}|null
 */
function secure_privacy_handle_block( string $handle, array $seen = array() ): ?array {
	static $memo = array(), $key = null;
	if ( SECURE_PRIVACY_WIDGET_HANDLE === $handle ) {
		return null;
	}
	$item = wp_scripts()->registered[ $handle ] ?? null;
	$now  = secure_privacy_rule_index()['key'] . ( null === $item ? '' : "\n" . $item->src . "\n" . implode( ',', (array) $item->deps ) );
	if ( isset( $memo[ $handle ] ) && $memo[ $handle ][0] === $now ) {
		return $memo[ $handle ][1];
	}
	if ( null === $item || isset( $seen[ $handle ] ) || SECURE_PRIVACY_WIDGET_HANDLE === $handle ) {
		return null;
	}
	$seen[ $handle ] = true;
	$block           = is_string( $item->src ) && '' !== $item->src ? secure_privacy_url_block( $item->src ) : null;
	$categories      = null === $block ? array() : array( $block['category'] );
	$service         = $block['service'] ?? '';
	foreach ( (array) $item->deps as $dep ) {
		$from = secure_privacy_handle_block( (string) $dep, $seen );
		if ( null !== $from ) {
			$categories = array_merge( $categories, explode( ' ', $from['category'] ) );
			$service    = '' !== $service ? $service : $from['service'];
		}
	}
	$block           = $categories ? array(
		'category' => implode( ' ', array_values( array_intersect( SECURE_PRIVACY_CATEGORIES, $categories ) ) ),
		'service'  => $service,
	) : null;
	$memo[ $handle ] = array( $now, $block );
	return $block;
}

/**
 * Turn an enqueued tracker's script tag, with its inline parts, into the blocked form
 * (script_loader_tag). The page pass would find the external script too; this also covers
 * the inline parts and dependent scripts, which carry no signature.
 *
 * @param string $tag    The script tag(s) of a handle.
 * @param string $handle Its handle.
 */
function secure_privacy_block_enqueued_script( $tag, $handle ): string {
	$tag   = (string) $tag;
	$block = secure_privacy_handle_block( (string) $handle );
	if ( null === $block || ! wp_script_is( SECURE_PRIVACY_WIDGET_HANDLE, 'enqueued' ) || ! secure_privacy_blocking_active() ) {
		return $tag; // Not a tracker, or no widget on this page to release it.
	}
	return secure_privacy_block_html( $tag, $block );
}

// -- Layer 3: the widget's runtime guard --------------------------------------------------------

/**
 * The host patterns the widget's guard (assets/widget-head.js) holds scripts and iframes by,
 * as the configuration island's `block`: category => space-separated patterns, each `host`,
 * `.suffix` (the host and any below it) or either with a `/path` prefix, a port where the
 * rule names one. Every catalogue and site-rule pattern is decided as secure_privacy_url_block()
 * decides a URL on its host (and path): a blocked one goes under its category; one that loads
 * (necessary, breaks-if-blocked, a site rule's exception) goes under `necessary` only where a
 * blocked pattern would otherwise catch its host. The guard looks a URL up as the plugin does:
 * a path pattern first, then the most specific host. Hosts only, no service names: it is printed
 * in every page.
 *
 * @return array<string, string>
 */
function secure_privacy_guard_patterns(): array {
	$catalogue = secure_privacy_catalogue();
	$rules     = secure_privacy_rule_index();
	$patterns  = array(); // pattern => [host key (with port), path or ''].
	foreach ( array( 'host', 'suffix' ) as $which ) {
		$dot = 'suffix' === $which ? '.' : '';
		foreach ( array_merge( array_keys( $catalogue[ $which ] ?? array() ), array_keys( $rules[ $which ] ?? array() ) ) as $key ) {
			$patterns[ $dot . $key ] = array( $dot . $key, '' );
		}
		foreach ( $catalogue[ 'suffix' === $which ? 'url_suffix' : 'url' ] ?? array() as $key => $list ) {
			foreach ( $list as list( $prefix ) ) {
				$patterns[ $dot . $key . $prefix ] = array( $dot . $key, $prefix );
			}
		}
	}
	$verdict = array();
	foreach ( $patterns as $pattern => list( $key, $path ) ) {
		$block               = secure_privacy_url_block( 'https://' . ltrim( $key, '.' ) . ( '' !== $path ? $path : '/' ) );
		$verdict[ $pattern ] = $block['category'] ?? SECURE_PRIVACY_REQUIRED_CATEGORY;
	}
	// Leave out what the guard would decide the same way without it (a host under a suffix of
	// the same category, an exception nothing blocked would catch): fewer bytes in every page.
	foreach ( array_keys( $verdict ) as $pattern ) {
		$rest = $verdict;
		unset( $rest[ $pattern ] );
		list( $key, $path ) = $patterns[ $pattern ];
		if ( secure_privacy_guard_lookup( $rest, ltrim( $key, '.' ), '' !== $path ? $path : '/' ) === $verdict[ $pattern ] ) {
			$verdict = $rest;
		}
	}
	$out = array();
	foreach ( $verdict as $pattern => $category ) {
		$out[ $category ][] = $pattern;
	}
	ksort( $out );
	return array_map( static fn( array $list ): string => implode( ' ', $list ), $out );
}

/**
 * The category the guard (widget-head.js) gives a host and path by `$patterns` (pattern =>
 * category): a path pattern first (the most specific host, then the longest path), then the
 * most specific host; `necessary` when none matches.
 *
 * @param array<string, string> $patterns Pattern => category.
 * @param string                $host     Host, with ":port" where the URL names one.
 * @param string                $path     Path.
 */
function secure_privacy_guard_lookup( array $patterns, string $host, string $path ): string {
	$parts = explode( ':', $host, 2 );
	$keys  = array();
	foreach ( secure_privacy_host_keys( $parts[0], $parts[1] ?? null ) as list( $k, $is_suffix ) ) {
		$keys[] = ( $is_suffix ? '.' : '' ) . $k;
	}
	$found = SECURE_PRIVACY_REQUIRED_CATEGORY;
	$best  = INF;
	foreach ( $patterns as $pattern => $category ) {
		$slash  = strpos( $pattern . '/', '/' );
		$prefix = (string) substr( $pattern, $slash );
		$i      = array_search( substr( $pattern, 0, $slash ), $keys, true );
		$score  = ( '' !== $prefix ? 0 : 99 ) + (int) $i - strlen( $prefix ) / 1e4;
		if ( false !== $i && str_starts_with( $path, $prefix ) && $score < $best ) {
			$best  = $score;
			$found = $category;
		}
	}
	return $found;
}

// -- Layer 2: the page pass ---------------------------------------------------------------------

/**
 * Whether this request's front-end HTML is ours to block: the banner is live (so the widget
 * can release what is blocked) and it is a page view (not wp-admin, REST, AJAX, a feed,
 * robots.txt, a sitemap, an embed, trackback, AMP, cron or the CLI).
 */
function secure_privacy_blocking_active(): bool {
	if ( is_admin() || wp_doing_ajax() || wp_doing_cron() || ( defined( 'REST_REQUEST' ) && REST_REQUEST )
		|| ( defined( 'XMLRPC_REQUEST' ) && XMLRPC_REQUEST ) || ( defined( 'WP_CLI' ) && WP_CLI ) ) {
		return false;
	}
	if ( ! function_exists( 'secure_privacy_banner_shown' ) || ! secure_privacy_banner_shown() ) {
		return false;
	}
	if ( is_feed() || is_robots() || is_embed() || is_trackback() || '' !== (string) get_query_var( 'sitemap' ) ) {
		return false;
	}
	if ( ( function_exists( 'amp_is_request' ) && amp_is_request() ) || ( function_exists( 'is_amp_endpoint' ) && is_amp_endpoint() ) ) {
		return false;
	}
	/**
	 * Filters whether auto-blocking runs on this request.
	 *
	 * @param bool $active Whether it runs.
	 */
	return (bool) apply_filters( 'secure_privacy_blocking_active', true );
}

/**
 * Start the page pass's output buffer (template_redirect, late: after redirects, before the
 * template prints anything). Buffers started later (inside ours) hand their output to it;
 * buffers started earlier (page caches) receive the blocked page.
 */
function secure_privacy_start_page_buffer(): void {
	if ( secure_privacy_blocking_active() ) {
		ob_start( 'secure_privacy_page_buffer' );
	}
}

/**
 * The output buffer's callback: the page with its trackers blocked. Output flushed before the
 * end is held back (a tag may be cut in two), and the whole page is done at once (so output
 * flushed and then thrown away with ob_end_clean() on this very buffer is lost).
 *
 * @param string $buffer This chunk.
 * @param int    $phase  PHP_OUTPUT_HANDLER_* flags.
 */
function secure_privacy_page_buffer( $buffer, $phase = PHP_OUTPUT_HANDLER_FINAL ): string {
	static $held = '';
	if ( $phase & PHP_OUTPUT_HANDLER_CLEAN ) {
		// ob_clean(): this chunk is thrown away, what was flushed before stays. ob_end_clean()
		// on this buffer: all of it (PHP discards whatever the callback returns then).
		if ( $phase & PHP_OUTPUT_HANDLER_FINAL ) {
			$held = '';
		}
		return '';
	}
	if ( ! ( $phase & PHP_OUTPUT_HANDLER_FINAL ) ) {
		$held .= (string) $buffer;
		return '';
	}
	$page = $held . (string) $buffer;
	$held = '';
	return secure_privacy_block_page( $page );
}

/**
 * A finished response body with its trackers blocked, or unchanged when it is not an HTML
 * page, the widget was not printed in it (nothing could release what is blocked), or it names
 * no known service.
 *
 * @param string     $page    The response body.
 * @param array|null $headers The response headers (headers_list() when null).
 */
function secure_privacy_block_page( string $page, ?array $headers = null ): string {
	if ( '' === $page || ! secure_privacy_response_is_html( $headers ?? headers_list() ) ) {
		return $page;
	}
	if ( function_exists( 'wp_script_is' ) && ! wp_script_is( SECURE_PRIVACY_WIDGET_HANDLE, 'done' ) ) {
		return $page;
	}
	if ( ! secure_privacy_page_mentions_services( $page ) ) {
		return $page;
	}
	return secure_privacy_block_html( $page );
}

/**
 * Whether the response is HTML: no Content-Type set, or text/html or XHTML (the last one set).
 *
 * @param string[] $headers "Name: value" lines, as headers_list() gives them.
 */
function secure_privacy_response_is_html( array $headers ): bool {
	foreach ( array_reverse( $headers ) as $header ) {
		if ( 0 === strncasecmp( $header, 'Content-Type:', 13 ) ) {
			$type = strtolower( trim( explode( ';', substr( $header, 13 ) )[0] ) );
			return 'text/html' === $type || 'application/xhtml+xml' === $type;
		}
	}
	return true;
}

// -- The admin's warning -------------------------------------------------------------------------

/**
 * Site rules that would block a breaks-if-blocked service, which stays unblocked:
 * [['rule' => pattern, 'category' => …, 'service' => name], …].
 */
function secure_privacy_blocking_warnings(): array {
	$catalogue = secure_privacy_catalogue();
	$warnings  = array();
	foreach ( secure_privacy_blocking_rules() as $rule ) {
		if ( SECURE_PRIVACY_REQUIRED_CATEGORY === $rule['category'] ) {
			continue;
		}
		$rule_host = explode( ':', ltrim( $rule['pattern'], '.' ) )[0];
		$suffix    = str_starts_with( $rule['pattern'], '.' );
		$hosts     = array();
		foreach ( array( 'host', 'suffix', 'url', 'url_suffix' ) as $map ) {
			foreach ( $catalogue[ $map ] as $key => $value ) {
				$indexes = is_array( $value ) ? array_column( $value, 1 ) : array( $value );
				foreach ( $indexes as $index ) {
					if ( $catalogue['services'][ $index ][3] ) {
						$hosts[ explode( ':', (string) $key )[0] ][] = array( $index, 'suffix' === $map || 'url_suffix' === $map );
					}
				}
			}
		}
		foreach ( $hosts as $host => $entries ) {
			foreach ( $entries as list( $index, $host_is_suffix ) ) {
				$host = (string) $host;
				$hits = $host === $rule_host
					|| ( $suffix && str_ends_with( $host, '.' . $rule_host ) )
					|| ( $host_is_suffix && str_ends_with( $rule_host, '.' . $host ) );
				if ( $hits ) {
					$warnings[ $rule['pattern'] . '|' . $index ] = array(
						'rule'     => $rule['pattern'],
						'category' => $rule['category'],
						'service'  => $catalogue['services'][ $index ][1],
					);
				}
			}
		}
	}
	return array_values( $warnings );
}

/**
 * Warn administrators, in wp-admin, about site rules that auto-blocking does not follow
 * because the service would break the site (admin_notices).
 */
function secure_privacy_blocking_notice(): void {
	if ( ! current_user_can( 'manage_options' ) ) {
		return;
	}
	$warnings = secure_privacy_blocking_warnings();
	if ( ! $warnings ) {
		return;
	}
	echo '<div class="notice notice-warning"><p>';
	esc_html_e( 'Secure Privacy does not block these services although a site rule says so, because the site needs them to work (payment, captcha, login):', 'secure-privacy' );
	echo '</p><ul>';
	foreach ( $warnings as $w ) {
		printf(
			'<li>%s</li>',
			esc_html(
				sprintf(
					/* translators: 1: a host pattern, 2: a consent category, 3: a service name. */
					__( 'Rule %1$s (%2$s) would block %3$s.', 'secure-privacy' ),
					$w['rule'],
					$w['category'],
					$w['service']
				)
			)
		);
	}
	echo '</ul></div>';
}
