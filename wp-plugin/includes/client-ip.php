<?php
/**
 * The visitor's IP address: REMOTE_ADDR, or what the site's own trusted proxies say it is.
 * Recorded with each consent and used for the per-address rate limit.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/**
 * The visitor's IP address, or '' when none can be determined.
 *
 * Without a trusted proxy header (the default) it is REMOTE_ADDR. Behind a CDN or load
 * balancer the site owner names the header its proxies set (e.g. X-Forwarded-For) and the
 * proxies' addresses (`trusted_proxies`, CIDR ranges; loopback by default). The header is
 * believed only when the connection comes from one of those proxies: from anywhere else it
 * may be forged, and REMOTE_ADDR is the visitor. Then the list in the header is read from the
 * right, skipping the trusted proxies' own hops, and the first other address is the
 * visitor's: entries further left were written by the client and may be forged. A malformed
 * entry ends the walk (the last good hop is taken).
 *
 * @param array|null $server $_SERVER, or another array of its shape (tests).
 */
function secure_privacy_client_ip( ?array $server = null ): string {
	// phpcs:ignore WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- validated as IPs below.
	$server = null === $server ? wp_unslash( $_SERVER ) : $server;
	$remote = isset( $server['REMOTE_ADDR'] ) && is_string( $server['REMOTE_ADDR'] ) ? secure_privacy_parse_ip( $server['REMOTE_ADDR'] ) : '';
	$ip     = $remote;
	$header = secure_privacy_settings()['trusted_proxy_header'];

	if ( '' !== $header && '' !== $remote && secure_privacy_ip_is_trusted_proxy( $remote ) ) {
		$key   = 'HTTP_' . strtoupper( str_replace( '-', '_', $header ) );
		$value = isset( $server[ $key ] ) && is_string( $server[ $key ] ) ? $server[ $key ] : '';
		$hops  = '' === trim( $value ) ? array() : array_reverse( explode( ',', $value ) );
		foreach ( $hops as $hop ) {
			$hop_ip = secure_privacy_parse_ip( $hop );
			if ( '' === $hop_ip ) {
				break;
			}
			$ip = $hop_ip;
			if ( ! secure_privacy_ip_is_trusted_proxy( $hop_ip ) ) {
				break;
			}
		}
	}
	/**
	 * Filters the visitor IP recorded with a consent and used for rate limiting.
	 *
	 * @param string $ip     The address determined as described above, or ''.
	 * @param string $remote REMOTE_ADDR (validated), or ''.
	 */
	$ip = apply_filters( 'secure_privacy_client_ip', $ip, $remote );
	return is_string( $ip ) ? secure_privacy_parse_ip( $ip ) : '';
}

/**
 * One address as a proxy header or REMOTE_ADDR writes it ("203.0.113.7", "203.0.113.7:4711",
 * "[2001:db8::1]:443", `for="[2001:db8::1]"`), normalised; '' when it is not an IP address.
 *
 * @param string $value The raw address.
 */
function secure_privacy_parse_ip( string $value ): string {
	$value = trim( $value, " \t\"" );
	if ( str_starts_with( strtolower( $value ), 'for=' ) ) {
		$value = trim( substr( $value, 4 ), '"' );
	}
	if ( 1 === preg_match( '/^\[([0-9A-Fa-f:.]+)\](?::\d+)?$/D', $value, $m ) ) {
		$value = $m[1];
	} elseif ( 1 === preg_match( '/^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/D', $value, $m ) ) {
		$value = $m[1];
	}
	if ( false === filter_var( $value, FILTER_VALIDATE_IP ) ) {
		return '';
	}
	return (string) inet_ntop( (string) inet_pton( $value ) );
}

/**
 * Whether $ip is one of the site's own proxies, trusted to name the visitor's address: inside
 * a range of the `trusted_proxies` setting (loopback by default) or of the
 * `secure_privacy_trusted_proxies` filter.
 *
 * @param string $ip A valid IP address.
 */
function secure_privacy_ip_is_trusted_proxy( string $ip ): bool {
	$ranges = secure_privacy_split_ranges( secure_privacy_settings()['trusted_proxies'] );
	/**
	 * Filters the address ranges (CIDR) of the proxies trusted to name the visitor's address,
	 * e.g. to add a CDN's published ranges.
	 *
	 * @param string[] $ranges CIDR ranges (from the trusted_proxies setting).
	 */
	foreach ( (array) apply_filters( 'secure_privacy_trusted_proxies', $ranges ) as $range ) {
		if ( is_string( $range ) && secure_privacy_ip_in_range( $ip, $range ) ) {
			return true;
		}
	}
	return false;
}

/**
 * Whether $ip is inside the CIDR range $range (same address family only).
 *
 * @param string $ip    A valid IP address.
 * @param string $range e.g. "10.0.0.0/8" or "2001:db8::/32"; a bare address is a /32 or /128.
 */
function secure_privacy_ip_in_range( string $ip, string $range ): bool {
	[ $net, $bits ] = array_pad( explode( '/', $range, 2 ), 2, null );
	$ip_bin         = @inet_pton( $ip ); // phpcs:ignore WordPress.PHP.NoSilencedErrors -- false is handled.
	$net_bin        = @inet_pton( (string) $net ); // phpcs:ignore WordPress.PHP.NoSilencedErrors
	if ( false === $ip_bin || false === $net_bin || strlen( $ip_bin ) !== strlen( $net_bin ) ) {
		return false;
	}
	$bits = null === $bits ? strlen( $ip_bin ) * 8 : (int) $bits;
	if ( $bits < 0 || $bits > strlen( $ip_bin ) * 8 ) {
		return false;
	}
	$bytes = intdiv( $bits, 8 );
	if ( substr( $ip_bin, 0, $bytes ) !== substr( $net_bin, 0, $bytes ) ) {
		return false;
	}
	$rest = $bits % 8;
	if ( 0 === $rest ) {
		return true;
	}
	$mask = ( 0xFF << ( 8 - $rest ) ) & 0xFF;
	return ( ord( $ip_bin[ $bytes ] ) & $mask ) === ( ord( $net_bin[ $bytes ] ) & $mask );
}
