<?php
/**
 * The outbox: consent events the sidecar has not accepted yet, kept in `{prefix}sp_outbox`
 * and retried by WP-cron (every minute) and after later consent requests.
 *
 * Rows hold the UNSIGNED payload: tokens expire after SP_MAX_TOKEN_AGE, so each delivery
 * attempt signs afresh, while `occurred_at` inside the payload keeps the original time.
 * Times in the table are UTC.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/** Schema version of the outbox table; bump it with every change to secure_privacy_outbox_install(). */
const SECURE_PRIVACY_DB_VERSION = '2';

const SECURE_PRIVACY_DB_VERSION_OPTION = 'secure_privacy_db_version';

const SECURE_PRIVACY_CRON_HOOK = 'secure_privacy_flush_outbox';

const SECURE_PRIVACY_CRON_SCHEDULE = 'secure_privacy_every_minute';

/** A row waiting for (re)delivery. */
const SECURE_PRIVACY_OUTBOX_PENDING = 'pending';

/** A row the sidecar refused for good; kept for the operator, never retried automatically. */
const SECURE_PRIVACY_OUTBOX_FAILED = 'failed';

/** Rows delivered at the end of a consent request, so a visitor never waits long. */
const SECURE_PRIVACY_OUTBOX_REQUEST_BATCH = 10;

/** Rows delivered per batch of a cron run. */
const SECURE_PRIVACY_OUTBOX_CRON_BATCH = 100;

/** Seconds a cron run keeps delivering batches. */
const SECURE_PRIVACY_OUTBOX_CRON_BUDGET = 20;

/**
 * The outbox table's name, with this site's prefix.
 */
function secure_privacy_outbox_table(): string {
	global $wpdb;
	return $wpdb->prefix . 'sp_outbox';
}

/**
 * Create or upgrade the plugin's tables (outbox, rate-limit counters) and record the schema version.
 */
function secure_privacy_outbox_install(): void {
	global $wpdb;
	require_once ABSPATH . 'wp-admin/includes/upgrade.php';

	$table   = secure_privacy_outbox_table();
	$charset = $wpdb->get_charset_collate();
	// dbDelta's format: one column per line, two spaces after PRIMARY KEY.
	dbDelta(
		"CREATE TABLE {$table} (
  id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  event_id char(36) NOT NULL,
  payload longtext NOT NULL,
  status varchar(20) NOT NULL DEFAULT 'pending',
  attempts int(10) unsigned NOT NULL DEFAULT 0,
  last_error varchar(255) NOT NULL DEFAULT '',
  next_attempt_at datetime NOT NULL,
  created_at datetime NOT NULL,
  PRIMARY KEY  (id),
  UNIQUE KEY event_id (event_id),
  KEY status_next_attempt (status,next_attempt_at)
) {$charset};"
	);
	$rate = secure_privacy_rate_table();
	dbDelta(
		"CREATE TABLE {$rate} (
  bucket char(64) NOT NULL,
  hits int(10) unsigned NOT NULL DEFAULT 0,
  expires_at int(10) unsigned NOT NULL,
  PRIMARY KEY  (bucket),
  KEY expires_at (expires_at)
) {$charset};"
	);
	update_option( SECURE_PRIVACY_DB_VERSION_OPTION, SECURE_PRIVACY_DB_VERSION );
}

/**
 * Install the table when the recorded schema version is not the current one (runs on init).
 */
function secure_privacy_outbox_maybe_install(): void {
	if ( get_option( SECURE_PRIVACY_DB_VERSION_OPTION ) !== SECURE_PRIVACY_DB_VERSION ) {
		secure_privacy_outbox_install();
	}
}

/**
 * Keep an event the sidecar did not accept: pending for a retry, or failed when it was refused
 * for good (and then logged). An event already in the outbox is left as it is.
 *
 * @param array $payload The unsigned consent payload.
 * @param array $result  What secure_privacy_send_to_sidecar() returned for it, or null when it
 *     was not tried because earlier events wait (it then queues behind them, due at once).
 * @return bool Whether the event is in the outbox now.
 */
function secure_privacy_outbox_add( array $payload, ?array $result ): bool {
	global $wpdb;

	$tried    = null !== $result;
	$result   = $result ?? secure_privacy_send_result( SECURE_PRIVACY_RETRY, 0, '' );
	$rejected = SECURE_PRIVACY_REJECTED === $result['outcome'];
	$table    = secure_privacy_outbox_table();
	$sql      = $wpdb->prepare(
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- the table name is ours.
		"INSERT INTO {$table} (event_id, payload, status, attempts, last_error, next_attempt_at, created_at)
		VALUES (%s, %s, %s, %d, %s, %s, %s)
		ON DUPLICATE KEY UPDATE id = id",
		(string) $payload['event_id'],
		(string) wp_json_encode( $payload, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE ),
		$rejected ? SECURE_PRIVACY_OUTBOX_FAILED : SECURE_PRIVACY_OUTBOX_PENDING,
		$tried ? 1 : 0,
		mb_substr( $result['error'], 0, 255 ),
		gmdate( 'Y-m-d H:i:s', time() + ( $tried ? secure_privacy_outbox_backoff( 1 ) : 0 ) ),
		gmdate( 'Y-m-d H:i:s' )
	);
	// wpdb would log the failed query, visitor IP and User-Agent included; we log without them.
	$suppress = $wpdb->suppress_errors( true );
	// phpcs:ignore WordPress.DB.PreparedSQL.NotPrepared, WordPress.DB.DirectDatabaseQuery -- prepared above; a queue, not cacheable.
	$stored = $wpdb->query( $sql );
	if ( false === $stored ) {
		// The table may have been dropped behind the schema option's back: make it and retry once.
		secure_privacy_outbox_install();
		// phpcs:ignore WordPress.DB.PreparedSQL.NotPrepared, WordPress.DB.DirectDatabaseQuery
		$stored = $wpdb->query( $sql );
	}
	$wpdb->suppress_errors( $suppress );
	if ( false === $stored ) {
		secure_privacy_log( sprintf( 'could not keep consent event %s in the outbox: %s', $payload['event_id'], $wpdb->last_error ) );
		return false;
	}
	if ( $rejected ) {
		secure_privacy_log( sprintf( 'the sidecar refused consent event %s (kept as failed in the outbox): %s', $payload['event_id'], $result['error'] ) );
	}
	secure_privacy_schedule_outbox_cron(); // Whatever happened to the cron events, this row gets delivered.
	return true;
}

/**
 * Whether any event waits for delivery.
 */
function secure_privacy_outbox_has_pending(): bool {
	global $wpdb;
	$table = secure_privacy_outbox_table();
	// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared, WordPress.DB.DirectDatabaseQuery
	return null !== $wpdb->get_var( $wpdb->prepare( "SELECT id FROM {$table} WHERE status = %s LIMIT 1", SECURE_PRIVACY_OUTBOX_PENDING ) );
}

/**
 * Whether the event is still in the outbox (waiting or failed).
 *
 * @param string $event_id The event's id.
 */
function secure_privacy_outbox_contains( string $event_id ): bool {
	global $wpdb;
	$table = secure_privacy_outbox_table();
	// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared, WordPress.DB.DirectDatabaseQuery
	return null !== $wpdb->get_var( $wpdb->prepare( "SELECT id FROM {$table} WHERE event_id = %s", $event_id ) );
}

/**
 * Seconds to wait before attempt number $attempts + 1: 30 s, doubling, at most an hour.
 * Events are never given up on account of age.
 *
 * @param int $attempts Attempts made so far (at least 1).
 */
function secure_privacy_outbox_backoff( int $attempts ): int {
	return (int) min( HOUR_IN_SECONDS, 30 * 2 ** min( max( $attempts, 1 ) - 1, 10 ) );
}

/**
 * Deliver pending events in the order they arrived. A delivered row is deleted; a refused one
 * is marked failed and logged; on any retryable failure the head row backs off and the run
 * stops, since the sidecar is evidently unwell. Nothing is tried while the head row's backoff
 * runs, unless $ignore_backoff. Only one flush runs at a time per site (a MySQL named lock), so
 * no event is sent twice at once; the sidecar's idempotency on event_id covers the rest.
 *
 * @param int  $limit          Most rows to try in this run.
 * @param bool $ignore_backoff Try the head row even if its backoff still runs (cron, "Retry now").
 * @return array{delivered: int, retry: int, rejected: int} Rows per outcome.
 */
function secure_privacy_flush_outbox( int $limit = SECURE_PRIVACY_OUTBOX_CRON_BATCH, bool $ignore_backoff = false ): array {
	global $wpdb;

	$counts = array(
		SECURE_PRIVACY_DELIVERED => 0,
		SECURE_PRIVACY_RETRY     => 0,
		SECURE_PRIVACY_REJECTED  => 0,
	);
	$table  = secure_privacy_outbox_table();
	$lock   = $table . '_flush';
	// '0' means another request holds the lock; null (no GET_LOCK on this database) lets us go on.
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	if ( '0' === $wpdb->get_var( $wpdb->prepare( 'SELECT GET_LOCK(%s, 0)', $lock ) ) ) {
		return $counts;
	}

	try {
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery
		$rows = $wpdb->get_results(
			$wpdb->prepare(
				// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- the table name is ours.
				"SELECT id, event_id, payload, attempts, next_attempt_at FROM {$table} WHERE status = %s ORDER BY id ASC LIMIT %d",
				SECURE_PRIVACY_OUTBOX_PENDING,
				max( 1, $limit )
			),
			ARRAY_A
		);
		$rows = (array) $rows;
		if ( $rows && ! $ignore_backoff && $rows[0]['next_attempt_at'] > gmdate( 'Y-m-d H:i:s' ) ) {
			return $counts;
		}

		foreach ( $rows as $row ) {
			$payload = json_decode( (string) $row['payload'], true );
			$result  = is_array( $payload )
				? secure_privacy_send_to_sidecar( $payload )
				: secure_privacy_send_result( SECURE_PRIVACY_REJECTED, 0, 'The stored payload is not valid JSON.' );
			++$counts[ $result['outcome'] ];
			secure_privacy_outbox_record_attempt( $row, $result );
			if ( SECURE_PRIVACY_RETRY === $result['outcome'] ) {
				break;
			}
		}
	} finally {
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery
		$wpdb->query( $wpdb->prepare( 'SELECT RELEASE_LOCK(%s)', $lock ) );
	}
	return $counts;
}

/**
 * What the admin sees of the outbox: waiting and failed rows, the oldest waiting one's age,
 * the last delivery error and when the next attempt is due.
 *
 * @return array{pending: int, failed: int, oldest: string|null, oldest_age: int|null, last_error: string, next_attempt: string|null}
 *     Times as 'Y-m-d H:i:s' UTC, the age in seconds.
 */
function secure_privacy_outbox_status(): array {
	global $wpdb;
	$table = secure_privacy_outbox_table();
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
	$counts = $wpdb->get_results( "SELECT status, COUNT(*) AS n, MIN(created_at) AS oldest FROM {$table} GROUP BY status", OBJECT_K );
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
	$head   = $wpdb->get_row( $wpdb->prepare( "SELECT last_error, next_attempt_at FROM {$table} WHERE status = %s ORDER BY id ASC LIMIT 1", SECURE_PRIVACY_OUTBOX_PENDING ) );
	$oldest = isset( $counts[ SECURE_PRIVACY_OUTBOX_PENDING ] ) ? (string) $counts[ SECURE_PRIVACY_OUTBOX_PENDING ]->oldest : null;
	return array(
		'pending'      => isset( $counts[ SECURE_PRIVACY_OUTBOX_PENDING ] ) ? (int) $counts[ SECURE_PRIVACY_OUTBOX_PENDING ]->n : 0,
		'failed'       => isset( $counts[ SECURE_PRIVACY_OUTBOX_FAILED ] ) ? (int) $counts[ SECURE_PRIVACY_OUTBOX_FAILED ]->n : 0,
		'oldest'       => $oldest,
		'oldest_age'   => null === $oldest ? null : max( 0, time() - (int) strtotime( $oldest . ' UTC' ) ),
		'last_error'   => $head ? (string) $head->last_error : '',
		'next_attempt' => $head ? (string) $head->next_attempt_at : null,
	);
}

/**
 * Put every failed row back in the queue (after the operator fixed what made the sidecar refuse).
 *
 * @return int Rows requeued.
 */
function secure_privacy_outbox_requeue_failed(): int {
	global $wpdb;
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	$n = $wpdb->update(
		secure_privacy_outbox_table(),
		array(
			'status'          => SECURE_PRIVACY_OUTBOX_PENDING,
			'next_attempt_at' => gmdate( 'Y-m-d H:i:s' ),
		),
		array( 'status' => SECURE_PRIVACY_OUTBOX_FAILED )
	);
	return (int) $n;
}

/**
 * Apply the outcome of one delivery attempt to its outbox row.
 *
 * @param array $row    The row (id, event_id, attempts).
 * @param array $result What secure_privacy_send_to_sidecar() returned.
 */
function secure_privacy_outbox_record_attempt( array $row, array $result ): void {
	global $wpdb;
	$table = secure_privacy_outbox_table();
	$where = array( 'id' => (int) $row['id'] );

	if ( SECURE_PRIVACY_DELIVERED === $result['outcome'] ) {
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery
		$wpdb->delete( $table, $where, array( '%d' ) );
		return;
	}

	$attempts = (int) $row['attempts'] + 1;
	$changes  = array(
		'attempts'   => $attempts,
		'last_error' => mb_substr( $result['error'], 0, 255 ),
	);
	if ( SECURE_PRIVACY_REJECTED === $result['outcome'] ) {
		$changes['status'] = SECURE_PRIVACY_OUTBOX_FAILED;
		secure_privacy_log( sprintf( 'the sidecar refused consent event %s (kept as failed in the outbox): %s', $row['event_id'], $result['error'] ) );
	} else {
		$changes['next_attempt_at'] = gmdate( 'Y-m-d H:i:s', time() + secure_privacy_outbox_backoff( $attempts ) );
	}
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	$wpdb->update( $table, $changes, $where, null, array( '%d' ) );
}

/**
 * Add the every-minute schedule the delivery cron runs on.
 *
 * @param array $schedules Schedules known to WP-cron.
 */
function secure_privacy_cron_schedules( $schedules ): array {
	$schedules = is_array( $schedules ) ? $schedules : array();
	$schedules[ SECURE_PRIVACY_CRON_SCHEDULE ] = array(
		'interval' => MINUTE_IN_SECONDS,
		'display'  => __( 'Every minute (Secure Privacy outbox)', 'secure-privacy' ),
	);
	return $schedules;
}

/**
 * Schedule the delivery cron and the daily upkeep unless they are scheduled already (activation, and every init).
 */
function secure_privacy_schedule_outbox_cron(): void {
	if ( ! wp_next_scheduled( SECURE_PRIVACY_CRON_HOOK ) ) {
		wp_schedule_event( time(), SECURE_PRIVACY_CRON_SCHEDULE, SECURE_PRIVACY_CRON_HOOK );
	}
	if ( ! wp_next_scheduled( SECURE_PRIVACY_DAILY_HOOK ) ) {
		wp_schedule_event( time() + HOUR_IN_SECONDS, 'daily', SECURE_PRIVACY_DAILY_HOOK );
	}
}

/**
 * The cron event's callback: deliver everything waiting, batch after batch, for at most
 * SECURE_PRIVACY_OUTBOX_CRON_BUDGET seconds. Cron tries the head row whatever its backoff:
 * one attempt a minute is gentle, and it is what brings the outbox home after an outage.
 */
function secure_privacy_run_outbox_cron(): void {
	$until = microtime( true ) + SECURE_PRIVACY_OUTBOX_CRON_BUDGET;
	do {
		$counts = secure_privacy_flush_outbox( SECURE_PRIVACY_OUTBOX_CRON_BATCH, true );
		$tried  = array_sum( $counts );
	} while ( $tried >= SECURE_PRIVACY_OUTBOX_CRON_BATCH && 0 === $counts[ SECURE_PRIVACY_RETRY ] && microtime( true ) < $until );
}
