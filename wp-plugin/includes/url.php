<?php
/**
 * The page URL rule: which `page_url` a consent may carry.
 *
 * One rule, written twice: here for the plugin's public route and in `sidecar/urls.py` for
 * the sidecar, both checked against the same vectors (`tests/vectors/urls.json`). What the
 * route admits, the sidecar admits too, so a hostile URL never reaches the outbox.
 *
 * A page URL is what a browser's `location.href` gives (percent-encoded, punycode host):
 * at most 2048 characters of printable ASCII (0x21-0x7E) except the backslash;
 * `http://` or `https://` (any case) and an authority up to the first `/`, `?` or `#`,
 * without userinfo, made of a host and an optional `:port` (1-65535, no leading zero).
 * The host is a DNS name (labels of letters, digits, hyphens and underscores, as browsers
 * accept them, 1-63 characters, no hyphen at either end, at most
 * 253 characters, one optional trailing dot, last label not all digits), a dotted IPv4
 * address (four numbers 0-255 without leading zeros) or a bracketed IPv6 address (hex
 * groups of 1-4 digits, at most one `::`, optionally ending in a dotted IPv4 address, no
 * zone id). Path, query and fragment may hold any of the allowed characters.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

require_once __DIR__ . '/vocabulary.php'; // SECURE_PRIVACY_MAX_URL_LENGTH (also loaded alone, by the unit tests).

/**
 * Why $url is not a page URL by the rule above, or '' when it is one. The reasons are the
 * sidecar's (English, for developers and logs).
 *
 * @param mixed $url The value to check.
 */
function secure_privacy_page_url_error( $url ): string {
	if ( ! is_string( $url ) ) {
		return 'must be a string';
	}
	if ( '' === $url ) {
		return 'must not be empty';
	}
	if ( strlen( $url ) > SECURE_PRIVACY_MAX_URL_LENGTH ) {
		return 'must be at most ' . SECURE_PRIVACY_MAX_URL_LENGTH . ' characters';
	}
	if ( 1 !== preg_match( '/^[\x21-\x5B\x5D-\x7E]+$/D', $url ) ) {
		return 'must be printable ASCII (percent-encoded, punycode host) without spaces, control characters or backslashes';
	}
	if ( 1 !== preg_match( '/^[Hh][Tt][Tt][Pp][Ss]?:\/\/([^\/?#]*)(?:[\/?#].*)?$/sD', $url, $m ) ) {
		return 'must be an absolute http(s) URL (http://host/…)';
	}
	$authority = $m[1];
	if ( str_contains( $authority, '@' ) ) {
		return 'must not carry a user name or password';
	}
	if ( str_starts_with( $authority, '[' ) ) {
		$end = strpos( $authority, ']' );
		if ( false === $end ) {
			return 'has an unclosed [ in its host';
		}
		$rest = (string) substr( $authority, $end + 1 );
		if ( ! secure_privacy_is_ipv6_text( (string) substr( $authority, 1, $end - 1 ) ) ) {
			return 'has a bracketed host that is not an IPv6 address';
		}
	} else {
		$colon = strpos( $authority, ':' );
		$host  = false === $colon ? $authority : substr( $authority, 0, $colon );
		$rest  = false === $colon ? '' : substr( $authority, $colon );
		if ( '' === $host ) {
			return 'must have a host';
		}
		if ( ! secure_privacy_is_ipv4_text( $host ) && ! secure_privacy_is_dns_name( $host ) ) {
			return 'has a host that is neither a DNS name nor an IPv4 address';
		}
	}
	if ( '' !== $rest && ( 1 !== preg_match( '/^:([1-9][0-9]{0,4})$/D', $rest, $p ) || (int) $p[1] > 65535 ) ) {
		return 'has a port that is not a number from 1 to 65535';
	}
	return '';
}

/**
 * Whether $host is a DNS name by the page URL rule.
 *
 * @param string $host The host.
 */
function secure_privacy_is_dns_name( string $host ): bool {
	$name = str_ends_with( $host, '.' ) ? substr( $host, 0, -1 ) : $host;
	if ( '' === $name || strlen( $name ) > 253 ) {
		return false;
	}
	$labels = explode( '.', $name );
	foreach ( $labels as $label ) {
		if ( 1 !== preg_match( '/^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/D', $label ) ) {
			return false;
		}
	}
	return 1 !== preg_match( '/^[0-9]+$/D', (string) end( $labels ) );
}

/**
 * Whether $host is a dotted IPv4 address: four numbers 0-255 without leading zeros.
 *
 * @param string $host The host.
 */
function secure_privacy_is_ipv4_text( string $host ): bool {
	$parts = explode( '.', $host );
	if ( 4 !== count( $parts ) ) {
		return false;
	}
	foreach ( $parts as $part ) {
		if ( 1 !== preg_match( '/^(?:0|[1-9][0-9]{0,2})$/D', $part ) || (int) $part > 255 ) {
			return false;
		}
	}
	return true;
}

/**
 * Whether $text is an IPv6 address in text form (RFC 4291 §2.2), without a zone id.
 *
 * @param string $text The address, without brackets.
 */
function secure_privacy_is_ipv6_text( string $text ): bool {
	if ( str_contains( $text, '.' ) ) { // A dotted IPv4 address stands for the last two groups.
		$i = strrpos( $text, ':' );
		if ( false === $i || ! secure_privacy_is_ipv4_text( substr( $text, $i + 1 ) ) ) {
			return false;
		}
		$text = substr( $text, 0, $i + 1 ) . '0:0';
	}
	if ( substr_count( $text, '::' ) > 1 ) {
		return false;
	}
	if ( str_contains( $text, '::' ) ) { // "::" stands for one group or more.
		[ $left, $right ] = explode( '::', $text, 2 );
		$groups           = array_merge( '' === $left ? array() : explode( ':', $left ), '' === $right ? array() : explode( ':', $right ) );
		if ( count( $groups ) > 7 ) {
			return false;
		}
	} else {
		$groups = explode( ':', $text );
		if ( 8 !== count( $groups ) ) {
			return false;
		}
	}
	foreach ( $groups as $group ) {
		if ( 1 !== preg_match( '/^[0-9A-Fa-f]{1,4}$/D', $group ) ) {
			return false;
		}
	}
	return true;
}
