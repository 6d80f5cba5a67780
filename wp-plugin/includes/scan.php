<?php
/**
 * The site scan from WordPress's side (issue 13): starting a scan on the sidecar
 * (`POST /v1/scans` with the site rules), reading scans back, the WP-cron re-scan (weekly by
 * default, and a few minutes after a plugin or theme is activated or updated), and the admin
 * notice when a finished scan found items or violations that the one before did not.
 *
 * What is kept: the option `secure_privacy_scan_state` (not autoloaded) holds the scans this
 * site started and has not seen finish, and of the newest finished scan seen only its id, its
 * finish time and a set of short hashes of its item and violation keys; the option
 * `secure_privacy_scan_notice` (not autoloaded) holds the pending notice's counts. Reports
 * themselves stay in the sidecar.
 *
 * Loaded in wp-admin, WP-cron, WP-CLI and REST requests only (secure_privacy_scan_boot()).
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/** The recurring re-scan (weekly by default). */
const SECURE_PRIVACY_SCAN_HOOK = 'secure_privacy_scan';

/** The single re-scan after a plugin or theme was activated or updated. */
const SECURE_PRIVACY_RESCAN_HOOK = 'secure_privacy_rescan';

/** Looks at the scans this site started until they are finished. */
const SECURE_PRIVACY_SCAN_CHECK_HOOK = 'secure_privacy_scan_check';

const SECURE_PRIVACY_SCAN_STATE_OPTION = 'secure_privacy_scan_state';

const SECURE_PRIVACY_SCAN_NOTICE_OPTION = 'secure_privacy_scan_notice';

/** How often the automatic re-scan runs: never, or a WP-cron recurrence. */
const SECURE_PRIVACY_SCAN_FREQUENCIES = array( 'off', 'daily', 'weekly' );

/** Seconds from a plugin or theme change to its re-scan (changes within them share one scan). */
const SECURE_PRIVACY_RESCAN_DELAY = 5 * MINUTE_IN_SECONDS;

/** Seconds between two looks at a running scan. */
const SECURE_PRIVACY_SCAN_CHECK_INTERVAL = 2 * MINUTE_IN_SECONDS;

/** A started scan not finished after this many seconds is no longer waited for. */
const SECURE_PRIVACY_SCAN_GIVE_UP = 6 * HOUR_IN_SECONDS;

/** Most item and violation keys remembered of the last scan. */
const SECURE_PRIVACY_SCAN_MAX_KEYS = 5000;

/**
 * Whether $id looks like a scan id of the sidecar (safe in a URL path).
 *
 * @param mixed $id Candidate.
 */
function secure_privacy_scan_id_ok( $id ): bool {
	return is_string( $id ) && 1 === preg_match( '/^[A-Za-z0-9_-]{1,64}$/D', $id );
}

/**
 * Start a scan on the sidecar with this site's rules.
 *
 * @param int    $max_pages Most pages (0 = the sidecar's default).
 * @param string $trigger   manual | schedule | change (kept with the pending scan).
 * @return array|WP_Error The sidecar's answer ({id, status}), or its error.
 */
function secure_privacy_scan_start( int $max_pages = 0, string $trigger = 'manual' ) {
	$body = array( 'rules' => secure_privacy_site_rules() );
	if ( $max_pages > 0 ) {
		$body['max_pages'] = min( $max_pages, SECURE_PRIVACY_SCAN_PAGES_LIMIT_ADMIN );
	}
	$result = secure_privacy_admin_api( 'POST', '/v1/scans', array(), $body );
	if ( is_wp_error( $result ) ) {
		return $result;
	}
	$json = is_array( $result['json'] ) ? $result['json'] : array();
	$id   = $json['id'] ?? null;
	$id   = is_int( $id ) ? (string) $id : $id;
	if ( ! secure_privacy_scan_id_ok( $id ) ) {
		return new WP_Error( 'secure_privacy_bad_answer', __( 'The sidecar started a scan but answered without a usable scan id.', 'secure-privacy' ), array( 'status' => $result['status'] ) );
	}
	$json['id']                 = $id;
	$state                      = secure_privacy_scan_state();
	$state['pending'][ $id ]    = array(
		'at'      => time(),
		'trigger' => $trigger,
	);
	secure_privacy_scan_save_state( $state );
	if ( ! wp_next_scheduled( SECURE_PRIVACY_SCAN_CHECK_HOOK ) ) {
		wp_schedule_single_event( time() + SECURE_PRIVACY_SCAN_CHECK_INTERVAL, SECURE_PRIVACY_SCAN_CHECK_HOOK );
	}
	return $json;
}

/** Most pages a scan started from wp-admin may ask for. */
const SECURE_PRIVACY_SCAN_PAGES_LIMIT_ADMIN = 500;

/**
 * One scan's report (also while it runs), or the sidecar's error.
 *
 * @param string $id Scan id.
 * @return array|WP_Error
 */
function secure_privacy_scan_get( string $id ) {
	if ( ! secure_privacy_scan_id_ok( $id ) ) {
		return new WP_Error( 'secure_privacy_bad_scan_id', __( 'That is not a scan id.', 'secure-privacy' ), array( 'status' => 400 ) );
	}
	$result = secure_privacy_admin_api( 'GET', '/v1/scans/' . rawurlencode( $id ) );
	if ( is_wp_error( $result ) ) {
		return $result;
	}
	if ( ! is_array( $result['json'] ) ) {
		return new WP_Error( 'secure_privacy_bad_answer', __( 'The sidecar answered the scan with something other than a JSON object.', 'secure-privacy' ), array( 'status' => $result['status'] ) );
	}
	return $result['json'];
}

/**
 * The scans, newest first ({items, next_cursor}), or the sidecar's error.
 *
 * @param string $cursor A cursor from an earlier page.
 * @return array|WP_Error
 */
function secure_privacy_scan_list( string $cursor = '' ) {
	$result = secure_privacy_admin_api( 'GET', '/v1/scans', array( 'cursor' => $cursor ) );
	if ( is_wp_error( $result ) ) {
		return $result;
	}
	$json = is_array( $result['json'] ) ? $result['json'] : array();
	return array(
		'items'       => array_values( array_filter( is_array( $json['items'] ?? null ) ? $json['items'] : array(), 'is_array' ) ),
		'next_cursor' => is_string( $json['next_cursor'] ?? null ) ? $json['next_cursor'] : '',
	);
}

/**
 * The automatic scan's frequency from the settings.
 */
function secure_privacy_scan_frequency(): string {
	$frequency = secure_privacy_settings()['scan_frequency'] ?? 'weekly';
	return in_array( $frequency, SECURE_PRIVACY_SCAN_FREQUENCIES, true ) ? $frequency : 'weekly';
}

/**
 * Keep the recurring re-scan scheduled as the settings say (admin_init, activation, and after
 * the frequency is changed): none when off, else one with that recurrence, first run one
 * period from now.
 */
function secure_privacy_scan_schedule_cron(): void {
	$frequency = secure_privacy_scan_frequency();
	$next      = wp_next_scheduled( SECURE_PRIVACY_SCAN_HOOK );
	if ( 'off' === $frequency ) {
		if ( $next ) {
			wp_clear_scheduled_hook( SECURE_PRIVACY_SCAN_HOOK );
		}
		return;
	}
	if ( $next && wp_get_schedule( SECURE_PRIVACY_SCAN_HOOK ) === $frequency ) {
		return;
	}
	wp_clear_scheduled_hook( SECURE_PRIVACY_SCAN_HOOK );
	$period = wp_get_schedules()[ $frequency ]['interval'] ?? WEEK_IN_SECONDS;
	wp_schedule_event( time() + (int) $period, $frequency, SECURE_PRIVACY_SCAN_HOOK );
}

/**
 * A plugin or theme was activated (activated_plugin, switch_theme): re-scan in a few minutes,
 * unless automatic scans are off. Several changes in a row share one scan.
 */
function secure_privacy_scan_after_change(): void {
	if ( 'off' === secure_privacy_scan_frequency() || wp_next_scheduled( SECURE_PRIVACY_RESCAN_HOOK ) ) {
		return;
	}
	wp_schedule_single_event( time() + SECURE_PRIVACY_RESCAN_DELAY, SECURE_PRIVACY_RESCAN_HOOK );
}

/**
 * A plugin or theme was updated (upgrader_process_complete): re-scan as after an activation.
 *
 * @param mixed $upgrader The upgrader.
 * @param mixed $extra    {type: plugin|theme|core|translation, action: install|update, …}.
 */
function secure_privacy_scan_after_upgrade( $upgrader = null, $extra = array() ): void {
	$extra = is_array( $extra ) ? $extra : array();
	if ( in_array( $extra['type'] ?? '', array( 'plugin', 'theme' ), true ) && 'update' === ( $extra['action'] ?? '' ) ) {
		secure_privacy_scan_after_change();
	}
}

/**
 * The cron run of a re-scan (recurring or after a change): start a scan unless one this site
 * started is still under way.
 *
 * @param string $trigger schedule | change.
 */
function secure_privacy_scan_cron_run( string $trigger = 'schedule' ): void {
	if ( 'off' === secure_privacy_scan_frequency() ) {
		return;
	}
	foreach ( secure_privacy_scan_state()['pending'] as $pending ) {
		if ( time() - (int) ( $pending['at'] ?? 0 ) < SECURE_PRIVACY_SCAN_GIVE_UP ) {
			return; // That scan will be compared when it finishes.
		}
	}
	$result = secure_privacy_scan_start( 0, $trigger );
	if ( is_wp_error( $result ) ) {
		secure_privacy_log( 'the automatic site scan could not be started: ' . $result->get_error_message() );
	}
}

/**
 * The re-scan after a plugin or theme change (its own hook, so it never replaces the weekly one).
 */
function secure_privacy_scan_cron_rescan(): void {
	secure_privacy_scan_cron_run( 'change' );
}

/**
 * The cron look at the scans this site started: each finished one is compared with the scan
 * before (secure_privacy_scan_observe()); while any runs, look again later.
 */
function secure_privacy_scan_cron_check(): void {
	$state = secure_privacy_scan_state();
	foreach ( $state['pending'] as $id => $pending ) {
		$report = secure_privacy_scan_get( (string) $id );
		if ( is_wp_error( $report ) ) {
			$status = (int) ( $report->get_error_data()['status'] ?? 0 );
			if ( 404 === $status || 410 === $status || time() - (int) ( $pending['at'] ?? 0 ) > SECURE_PRIVACY_SCAN_GIVE_UP ) {
				secure_privacy_scan_forget_pending( (string) $id );
			}
			continue;
		}
		if ( in_array( $report['status'] ?? '', array( 'done', 'failed' ), true ) ) {
			secure_privacy_scan_observe( $report, false );
		} elseif ( time() - (int) ( $pending['at'] ?? 0 ) > SECURE_PRIVACY_SCAN_GIVE_UP ) {
			secure_privacy_scan_forget_pending( (string) $id );
		}
	}
	if ( secure_privacy_scan_state()['pending'] && ! wp_next_scheduled( SECURE_PRIVACY_SCAN_CHECK_HOOK ) ) {
		wp_schedule_single_event( time() + SECURE_PRIVACY_SCAN_CHECK_INTERVAL, SECURE_PRIVACY_SCAN_CHECK_HOOK );
	}
}

/**
 * The scan state (see the file comment), normalised.
 *
 * @return array{pending: array<string, array{at: int, trigger: string}>, last_id: string, last_finished_at: string, keys: string[]}
 */
function secure_privacy_scan_state(): array {
	$stored = get_option( SECURE_PRIVACY_SCAN_STATE_OPTION, array() );
	$stored = is_array( $stored ) ? $stored : array();
	return array(
		'pending'          => is_array( $stored['pending'] ?? null ) ? $stored['pending'] : array(),
		'last_id'          => is_string( $stored['last_id'] ?? null ) ? $stored['last_id'] : '',
		'last_finished_at' => is_string( $stored['last_finished_at'] ?? null ) ? $stored['last_finished_at'] : '',
		'keys'             => is_array( $stored['keys'] ?? null ) ? array_values( array_filter( $stored['keys'], 'is_string' ) ) : array(),
	);
}

/**
 * Store the scan state (not autoloaded: a visitor's page view never needs it).
 *
 * @param array $state secure_privacy_scan_state() shape.
 */
function secure_privacy_scan_save_state( array $state ): void {
	update_option( SECURE_PRIVACY_SCAN_STATE_OPTION, $state, false );
}

/**
 * Stop waiting for a scan.
 *
 * @param string $id Scan id.
 */
function secure_privacy_scan_forget_pending( string $id ): void {
	$state = secure_privacy_scan_state();
	unset( $state['pending'][ $id ] );
	secure_privacy_scan_save_state( $state );
}

/**
 * The keys of a report's items (kind, name, host) and violations (the same, plus the state),
 * each as a short hash: what is remembered of a report to tell what a later one adds.
 *
 * @param array $report A scan report (CONTRACT §8).
 * @return array{items: string[], violations: string[]}
 */
function secure_privacy_scan_report_keys( array $report ): array {
	$key  = static fn( string $prefix, array $entry, string $extra = '' ): string => substr(
		hash( 'sha256', $prefix . "\0" . (string) ( $entry['kind'] ?? '' ) . "\0" . (string) ( $entry['name'] ?? '' ) . "\0" . (string) ( $entry['host'] ?? '' ) . "\0" . $extra ),
		0,
		16
	);
	$keys = array(
		'items'      => array(),
		'violations' => array(),
	);
	foreach ( is_array( $report['items'] ?? null ) ? $report['items'] : array() as $item ) {
		if ( is_array( $item ) ) {
			$keys['items'][] = $key( 'i', $item );
		}
	}
	foreach ( is_array( $report['violations'] ?? null ) ? $report['violations'] : array() as $violation ) {
		if ( is_array( $violation ) ) {
			$keys['violations'][] = $key( 'v', $violation, (string) ( $violation['state'] ?? '' ) );
		}
	}
	return array_map( static fn( array $list ): array => array_values( array_unique( $list ) ), $keys );
}

/**
 * Take note of a finished scan: it stops being waited for, and when it is newer than the last
 * one seen, what it found that the last did not raise the admin notice (unless the admin is
 * looking at this very report: $viewed), and it becomes the one later scans are compared with.
 * The first scan is compared with nothing: all it found is new.
 *
 * @param array $report A scan report.
 * @param bool  $viewed Whether an admin is being shown this report now.
 * @return array{items: int, violations: int}|null What was new, or null when the report is
 *     not a finished scan newer than the last one seen.
 */
function secure_privacy_scan_observe( array $report, bool $viewed ): ?array {
	$id       = $report['id'] ?? null;
	$id       = is_int( $id ) ? (string) $id : $id;
	$finished = is_string( $report['finished_at'] ?? null ) ? $report['finished_at'] : '';
	if ( ! secure_privacy_scan_id_ok( $id ) ) {
		return null;
	}
	$state = secure_privacy_scan_state();
	unset( $state['pending'][ $id ] );
	$status = $report['status'] ?? '';
	if ( 'done' !== $status || $id === $state['last_id'] || ( '' !== $state['last_finished_at'] && strcmp( $finished, $state['last_finished_at'] ) < 0 ) ) {
		secure_privacy_scan_save_state( $state );
		if ( $viewed ) {
			secure_privacy_scan_clear_notice( $id );
		}
		return null;
	}
	$keys  = secure_privacy_scan_report_keys( $report );
	$known = array_flip( $state['keys'] );
	$new   = array(
		'items'      => count( array_filter( $keys['items'], static fn( string $k ): bool => ! isset( $known[ $k ] ) ) ),
		'violations' => count( array_filter( $keys['violations'], static fn( string $k ): bool => ! isset( $known[ $k ] ) ) ),
	);
	$state['last_id']          = $id;
	$state['last_finished_at'] = $finished;
	$state['keys']             = array_slice( array_merge( $keys['violations'], $keys['items'] ), 0, SECURE_PRIVACY_SCAN_MAX_KEYS );
	secure_privacy_scan_save_state( $state );
	if ( $viewed ) {
		delete_option( SECURE_PRIVACY_SCAN_NOTICE_OPTION );
	} elseif ( $new['items'] || $new['violations'] ) {
		update_option(
			SECURE_PRIVACY_SCAN_NOTICE_OPTION,
			array(
				'scan_id'    => $id,
				'items'      => $new['items'],
				'violations' => $new['violations'],
			),
			false
		);
	}
	return $new;
}

/**
 * The pending notice: {scan_id, items, violations}, or null.
 */
function secure_privacy_scan_notice_data(): ?array {
	$notice = get_option( SECURE_PRIVACY_SCAN_NOTICE_OPTION, null );
	if ( ! is_array( $notice ) || ! secure_privacy_scan_id_ok( $notice['scan_id'] ?? null ) ) {
		return null;
	}
	return array(
		'scan_id'    => $notice['scan_id'],
		'items'      => (int) ( $notice['items'] ?? 0 ),
		'violations' => (int) ( $notice['violations'] ?? 0 ),
	);
}

/**
 * Drop the notice once its report (or a later one: $id null) has been seen or it is dismissed.
 *
 * @param string|null $id Only when the notice is about this scan; null for any.
 */
function secure_privacy_scan_clear_notice( ?string $id = null ): void {
	$notice = secure_privacy_scan_notice_data();
	if ( null !== $notice && ( null === $id || $notice['scan_id'] === $id ) ) {
		delete_option( SECURE_PRIVACY_SCAN_NOTICE_OPTION );
	}
}
