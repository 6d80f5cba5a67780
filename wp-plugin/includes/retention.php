<?php
/**
 * Record retention (issue 12): the daily upkeep asks the sidecar to turn records older than
 * "Record retention (days)" into tombstones (POST /v1/purge, in bounded steps), and keeps when
 * that last ran and what it did, for the settings page.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/** Option: the last purge, {at, ok, erased, before, more, error}. */
const SECURE_PRIVACY_PURGE_OPTION = 'secure_privacy_last_purge';

/** Calls to POST /v1/purge in one run (each tombstones up to 5,000 records). */
const SECURE_PRIVACY_PURGE_STEPS = 20;

/**
 * Apply the retention now; return what the last purge option now says. Does nothing before
 * the sidecar is connected (includes/setup.php).
 *
 * @return array{at: int, ok: bool, erased: int, before: string, more: bool, error: string}|null
 */
function secure_privacy_apply_retention(): ?array {
	if ( ! secure_privacy_is_live() ) {
		return null;
	}
	$days   = (int) secure_privacy_settings()['retention_days'];
	$report = array(
		'at'     => time(),
		'ok'     => true,
		'erased' => 0,
		'before' => '',
		'more'   => false,
		'error'  => '',
		'days'   => $days,
	);
	for ( $step = 0; $step < SECURE_PRIVACY_PURGE_STEPS; $step++ ) {
		$result = secure_privacy_admin_api( 'POST', '/v1/purge', array(), array( 'days' => $days ) );
		if ( is_wp_error( $result ) ) {
			$report['ok']    = false;
			$report['error'] = $result->get_error_message();
			secure_privacy_log( 'retention purge failed: ' . $report['error'] );
			break;
		}
		$json              = (array) $result['json'];
		$report['erased'] += (int) ( $json['erased'] ?? 0 );
		$report['before']  = (string) ( $json['before'] ?? '' );
		$report['more']    = ! empty( $json['more'] );
		if ( ! $report['more'] ) {
			break;
		}
	}
	update_option( SECURE_PRIVACY_PURGE_OPTION, $report, false );
	return $report;
}

/**
 * When the retention was last applied, in words (settings page).
 */
function secure_privacy_last_purge_text(): string {
	$last = get_option( SECURE_PRIVACY_PURGE_OPTION );
	if ( ! is_array( $last ) ) {
		return __( 'Not applied yet: the daily upkeep applies it once the sidecar is connected.', 'secure-privacy' );
	}
	$ago = human_time_diff( (int) $last['at'] );
	if ( empty( $last['ok'] ) ) {
		/* translators: 1: time since, e.g. "3 hours", 2: the error. */
		return sprintf( __( 'Last applied %1$s ago, and it failed: %2$s', 'secure-privacy' ), $ago, (string) $last['error'] );
	}
	/* translators: 1: time since, e.g. "3 hours", 2: number of records, 3: retention in days. */
	$text = sprintf( _n( 'Last applied %1$s ago: %2$s record older than %3$d days became a tombstone.', 'Last applied %1$s ago: %2$s records older than %3$d days became tombstones.', (int) $last['erased'], 'secure-privacy' ), $ago, number_format_i18n( (int) $last['erased'] ), (int) ( $last['days'] ?? 0 ) );
	if ( ! empty( $last['more'] ) ) {
		$text .= ' ' . __( 'More remain; the next run goes on.', 'secure-privacy' );
	}
	return $text;
}
