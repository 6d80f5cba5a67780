<?php
/**
 * The policy and banner versions this site has served, so that a consent records a version
 * the visitor can actually have been shown, not whatever the client claims.
 *
 * Every time the banner configuration is built (secure_privacy_build_banner_output()), its
 * versions are noted with the time first and last served (to the hour): the policy version
 * in force, the announced next one (the widget switches to it on the date, by the browser's
 * clock) and the banner version. A page cache may keep old HTML for days and the widget
 * retries a pending choice on a later visit, so a version once served stays acceptable; the
 * history keeps the SECURE_PRIVACY_MAX_SERVED most recently served versions of each field.
 * Kept in a non-autoloaded option, read by the consent route only.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/** Non-autoloaded option: field => version => {first, last} (Unix times). */
const SECURE_PRIVACY_SERVED_OPTION = 'secure_privacy_served_versions';

/** Most versions kept per field (the least recently served go first). */
const SECURE_PRIVACY_MAX_SERVED = 200;

/** The version fields of a consent and the configuration keys that serve them. */
const SECURE_PRIVACY_VERSION_FIELDS = array(
	'policy_version' => array( 'policyVersion', 'nextPolicyVersion' ),
	'banner_version' => array( 'bannerVersion' ),
);

/**
 * The history of served versions.
 *
 * @return array<string, array<string, array{first: int, last: int}>> field => version => times.
 */
function secure_privacy_served_versions(): array {
	$stored  = get_option( SECURE_PRIVACY_SERVED_OPTION, array() );
	$history = array();
	foreach ( array_keys( SECURE_PRIVACY_VERSION_FIELDS ) as $field ) {
		$history[ $field ] = array();
		foreach ( (array) ( is_array( $stored ) ? ( $stored[ $field ] ?? array() ) : array() ) as $version => $times ) {
			if ( is_array( $times ) && isset( $times['first'], $times['last'] ) ) {
				$history[ $field ][ (string) $version ] = array(
					'first' => (int) $times['first'],
					'last'  => (int) $times['last'],
				);
			}
		}
	}
	return $history;
}

/**
 * Note the versions a banner configuration serves (written only when something is new, or
 * a version's last-served time is over an hour old).
 *
 * @param array    $config The widget configuration (secure_privacy_frontend_config()).
 * @param int|null $now    Unix time (tests).
 */
function secure_privacy_note_served_versions( array $config, ?int $now = null ): void {
	$now     = $now ?? time();
	$history = secure_privacy_served_versions();
	$changed = false;
	foreach ( SECURE_PRIVACY_VERSION_FIELDS as $field => $keys ) {
		foreach ( $keys as $key ) {
			$version = $config[ $key ] ?? '';
			if ( ! is_string( $version ) || '' === $version ) {
				continue;
			}
			if ( ! isset( $history[ $field ][ $version ] ) ) {
				$history[ $field ][ $version ] = array(
					'first' => $now,
					'last'  => $now,
				);
				$changed                       = true;
			} elseif ( $now - $history[ $field ][ $version ]['last'] >= HOUR_IN_SECONDS ) {
				$history[ $field ][ $version ]['last'] = $now;
				$changed                               = true;
			}
		}
		if ( count( $history[ $field ] ) > SECURE_PRIVACY_MAX_SERVED ) {
			uasort( $history[ $field ], static fn( $a, $b ) => $b['last'] <=> $a['last'] );
			$history[ $field ] = array_slice( $history[ $field ], 0, SECURE_PRIVACY_MAX_SERVED, true );
		}
	}
	if ( $changed ) {
		update_option( SECURE_PRIVACY_SERVED_OPTION, $history, false );
	}
}

/**
 * Whether $version of $field ('policy_version' or 'banner_version') has been served here.
 * A version not in the history is looked for once more in what the banner serves now (a
 * banner kept built from before the history existed), which notes it.
 *
 * @param string $field   The consent field.
 * @param string $version The claimed version.
 */
function secure_privacy_version_was_served( string $field, string $version ): bool {
	if ( isset( secure_privacy_served_versions()[ $field ][ $version ] ) ) {
		return true;
	}
	$config = json_decode( secure_privacy_banner_output()['config'], true );
	if ( is_array( $config ) ) {
		secure_privacy_note_served_versions( $config );
	}
	return isset( secure_privacy_served_versions()[ $field ][ $version ] );
}

/**
 * Refuse a consent whose policy or banner version this site never served, with 422 naming
 * the field (called by the route's validate_callback, after every field passed its own).
 *
 * @param WP_REST_Request $request The request.
 * @return true|WP_Error
 */
function secure_privacy_rest_validate_served_versions( WP_REST_Request $request ) {
	foreach ( array_keys( SECURE_PRIVACY_VERSION_FIELDS ) as $field ) {
		$version = (string) $request->get_param( $field );
		if ( ! secure_privacy_version_was_served( $field, $version ) ) {
			/* translators: 1: field name, 2: the version sent. */
			$message = sprintf( __( '%1$s "%2$s" is not a version this site has shown.', 'secure-privacy' ), $field, $version );
			return new WP_Error(
				'secure_privacy_unknown_version',
				$message,
				array(
					'status' => 422,
					'field'  => $field,
					'params' => array( $field => $message ),
				)
			);
		}
	}
	return true;
}
