<?php
/**
 * Per-address rate limit of the consent route: a fixed one-minute window per visitor address
 * (IPv4) or /64 network (IPv6).
 *
 * Counted in the persistent object cache when the site has one, else in `{prefix}sp_rate_limit`
 * with one atomic statement per request. Generous by default (120 a minute), because many
 * visitors may share one address behind a NAT; the widget keeps a refused choice and retries.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

const SECURE_PRIVACY_RATE_WINDOW = 60;

/**
 * The rate-limit table's name, with this site's prefix.
 */
function secure_privacy_rate_table(): string {
	global $wpdb;
	return $wpdb->prefix . 'sp_rate_limit';
}

/**
 * The unit a visitor address is counted in: an IPv4 address on its own, an IPv6 address by
 * its /64 (one subscriber's or host's network: rotating addresses inside it is free), an
 * IPv4-mapped IPv6 address as its IPv4 address.
 *
 * @param string $ip A normalised IP address, or ''.
 * @return string e.g. "203.0.113.7", "2001:db8:1:2::/64", or ''.
 */
function secure_privacy_rate_key( string $ip ): string {
	$bin = '' === $ip ? false : @inet_pton( $ip ); // phpcs:ignore WordPress.PHP.NoSilencedErrors -- false is handled.
	if ( false === $bin || 4 === strlen( $bin ) ) {
		return $ip;
	}
	if ( str_starts_with( $bin, str_repeat( "\0", 10 ) . "\xff\xff" ) ) {
		return (string) inet_ntop( substr( $bin, 12 ) );
	}
	return inet_ntop( substr( $bin, 0, 8 ) . str_repeat( "\0", 8 ) ) . '/64';
}

/**
 * Count one request of $key in the current window.
 *
 * @param string $key The visitor's unit (secure_privacy_rate_key(); '' counts as one shared unknown visitor).
 * @param int    $now Unix time.
 * @return int The number of requests of $key in this window, this one included
 *     (0 when it could not be counted: then the request is let through).
 */
function secure_privacy_rate_hit( string $key, int $now ): int {
	global $wpdb;
	$window = intdiv( $now, SECURE_PRIVACY_RATE_WINDOW );
	$bucket = hash( 'sha256', wp_salt( 'nonce' ) . '|' . $key . '|' . $window ); // No address is stored.

	if ( wp_using_ext_object_cache() ) {
		wp_cache_add( $bucket, 0, 'secure_privacy_rate', 2 * SECURE_PRIVACY_RATE_WINDOW );
		$hits = wp_cache_incr( $bucket, 1, 'secure_privacy_rate' );
		return false === $hits ? 0 : (int) $hits;
	}

	$table = secure_privacy_rate_table();
	// LAST_INSERT_ID(expr) hands the row's new count back as the insert id: one round trip.
	$sql = $wpdb->prepare(
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- the table name is ours.
		"INSERT INTO {$table} (bucket, hits, expires_at) VALUES (%s, LAST_INSERT_ID(1), %d) ON DUPLICATE KEY UPDATE hits = LAST_INSERT_ID(hits + 1)",
		$bucket,
		( $window + 1 ) * SECURE_PRIVACY_RATE_WINDOW
	);
	$suppress = $wpdb->suppress_errors( true ); // A missing table must not print; the request goes on.
	// phpcs:ignore WordPress.DB.PreparedSQL.NotPrepared, WordPress.DB.DirectDatabaseQuery -- prepared above; a counter, not cacheable.
	$ok = $wpdb->query( $sql );
	$wpdb->suppress_errors( $suppress );
	return false === $ok ? 0 : (int) $wpdb->insert_id;
}

/**
 * Seconds until the current window ends (the Retry-After of a 429).
 *
 * @param int $now Unix time.
 */
function secure_privacy_rate_retry_after( int $now ): int {
	return SECURE_PRIVACY_RATE_WINDOW - $now % SECURE_PRIVACY_RATE_WINDOW;
}

/**
 * Drop counters of past windows (daily maintenance).
 */
function secure_privacy_rate_cleanup(): void {
	global $wpdb;
	$table = secure_privacy_rate_table();
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
	$wpdb->query( $wpdb->prepare( "DELETE FROM {$table} WHERE expires_at < %d", time() ) );
}

/**
 * Refuse a consent request over the visitor's limit with 429 and Retry-After (run by
 * secure_privacy_rest_check() from rest_pre_dispatch).
 *
 * @param WP_REST_Request $request A request for the consent route.
 * @return WP_REST_Response|null The 429, or null.
 */
function secure_privacy_rest_rate_limit( WP_REST_Request $request ): ?WP_REST_Response {
	$limit = (int) secure_privacy_settings()['rate_limit_per_minute'];
	if ( 'POST' !== $request->get_method() || $limit <= 0 ) {
		return null;
	}
	$now = time();
	if ( secure_privacy_rate_hit( secure_privacy_rate_key( secure_privacy_client_ip() ), $now ) <= $limit ) {
		return null;
	}
	$retry    = secure_privacy_rate_retry_after( $now );
	$response = rest_convert_error_to_response(
		new WP_Error(
			'secure_privacy_rate_limited',
			__( 'Too many consent requests from this address. Your choice is kept and sent again shortly.', 'secure-privacy' ),
			array( 'status' => 429 )
		)
	);
	$response->header( 'Retry-After', (string) $retry );
	return $response;
}
