<?php
/**
 * The outbox: consent events the sidecar has not accepted yet, kept in `{prefix}sp_outbox`
 * and retried by WP-cron (every minute) and after later consent requests.
 *
 * Rows hold the UNSIGNED payload: tokens expire after SP_MAX_TOKEN_AGE, so each delivery
 * attempt signs afresh (the token's age is then only the transport's), while `occurred_at`
 * inside the payload keeps the original time. Times in the table are UTC.
 *
 * No row can hold up the rows behind it: order is kept per visitor (`subject_id`), not across
 * visitors. A row the sidecar refuses as invalid (a 4xx retrying cannot fix) leaves the queue
 * at once, marked failed with the sidecar's reason for the admin; a row that meets a 5xx or no
 * answer backs off alone, holding back only the later rows of its own visitor.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/** Schema version of the outbox table; bump it with every change to secure_privacy_outbox_install(). */
const SECURE_PRIVACY_DB_VERSION = '3';

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

/**
 * Attempts in a row that found the sidecar unreachable (no answer, or 503) after which a run
 * stops: the sidecar is down, and each further try would cost a timeout.
 */
const SECURE_PRIVACY_OUTBOX_MAX_DOWN = 3;

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
  subject_id char(36) NOT NULL DEFAULT '',
  payload longtext NOT NULL,
  status varchar(20) NOT NULL DEFAULT 'pending',
  attempts int(10) unsigned NOT NULL DEFAULT 0,
  last_error varchar(255) NOT NULL DEFAULT '',
  next_attempt_at datetime NOT NULL,
  created_at datetime NOT NULL,
  PRIMARY KEY  (id),
  UNIQUE KEY event_id (event_id),
  KEY status_next_attempt (status,next_attempt_at),
  KEY subject_status (subject_id,status,id)
) {$charset};"
	);
	secure_privacy_outbox_backfill_subjects();
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
 * Fill `subject_id` of rows queued before the column existed (schema 2), from their payload.
 */
function secure_privacy_outbox_backfill_subjects(): void {
	global $wpdb;
	$table = secure_privacy_outbox_table();
	do {
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- the table name is ours.
		$rows = (array) $wpdb->get_results( "SELECT id, payload FROM {$table} WHERE subject_id = '' LIMIT 500", ARRAY_A );
		foreach ( $rows as $row ) {
			$payload = json_decode( (string) $row['payload'], true );
			$subject = is_array( $payload ) && isset( $payload['subject_id'] ) && is_string( $payload['subject_id'] ) && '' !== $payload['subject_id']
				? substr( $payload['subject_id'], 0, 36 ) : 'unknown-' . $row['id'];
			// phpcs:ignore WordPress.DB.DirectDatabaseQuery
			$wpdb->update( $table, array( 'subject_id' => $subject ), array( 'id' => (int) $row['id'] ) );
		}
	} while ( count( $rows ) === 500 );
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
 *     was not tried because earlier events of the same visitor wait (it then queues behind
 *     them, due at once).
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
		"INSERT INTO {$table} (event_id, subject_id, payload, status, attempts, last_error, next_attempt_at, created_at)
		VALUES (%s, %s, %s, %s, %d, %s, %s, %s)
		ON DUPLICATE KEY UPDATE id = id",
		(string) $payload['event_id'],
		(string) $payload['subject_id'],
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
 * Whether an event of this visitor waits for delivery (a new one must queue behind it).
 *
 * @param string $subject_id The visitor's consent id.
 */
function secure_privacy_outbox_has_pending_for( string $subject_id ): bool {
	global $wpdb;
	$table = secure_privacy_outbox_table();
	// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared, WordPress.DB.DirectDatabaseQuery
	return null !== $wpdb->get_var( $wpdb->prepare( "SELECT id FROM {$table} WHERE subject_id = %s AND status = %s LIMIT 1", $subject_id, SECURE_PRIVACY_OUTBOX_PENDING ) );
}

/**
 * Whether any waiting event is due now (its backoff over).
 */
function secure_privacy_outbox_has_due(): bool {
	global $wpdb;
	$table = secure_privacy_outbox_table();
	// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared, WordPress.DB.DirectDatabaseQuery
	return null !== $wpdb->get_var( $wpdb->prepare( "SELECT id FROM {$table} WHERE status = %s AND next_attempt_at <= %s LIMIT 1", SECURE_PRIVACY_OUTBOX_PENDING, gmdate( 'Y-m-d H:i:s' ) ) );
}

/**
 * The payload kept in the outbox for an event, or null when the event is not there.
 *
 * @param string $event_id The event's id.
 */
function secure_privacy_outbox_payload( string $event_id ): ?array {
	global $wpdb;
	$table = secure_privacy_outbox_table();
	// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared, WordPress.DB.DirectDatabaseQuery
	$json = $wpdb->get_var( $wpdb->prepare( "SELECT payload FROM {$table} WHERE event_id = %s", $event_id ) );
	if ( null === $json ) {
		return null;
	}
	$payload = json_decode( (string) $json, true );
	return is_array( $payload ) ? $payload : array();
}

/**
 * The fields of a payload that come from the visitor's browser, by which two sends of one
 * event_id are the same event (the plugin's own fields, ip, user agent, user and time, may
 * differ between honest retries). The sidecar compares the same fields (ingest.CLIENT_FIELDS).
 *
 * @param array $payload A consent payload.
 */
function secure_privacy_consent_choice( array $payload ): array {
	$choice = array();
	foreach ( array( 'event_id', 'subject_id', 'action', 'method', 'categories', 'page_url', 'policy_version', 'banner_version', 'language', 'signals' ) as $field ) {
		$choice[ $field ] = $payload[ $field ] ?? null;
	}
	return $choice;
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
 * Deliver waiting events. Order is kept per visitor: only the oldest waiting row of each
 * `subject_id` is tried, and once it is delivered (deleted) or refused (marked failed), that
 * visitor's next row follows in the same run. Across visitors, rows that were tried fewer
 * times go first, so rows that keep failing never stand in front of new ones. A row that meets
 * a retryable failure backs off alone; only SECURE_PRIVACY_OUTBOX_MAX_DOWN attempts in a row
 * that found the sidecar unreachable (no answer, 503) stop the run. Rows whose backoff runs
 * are left alone unless $ignore_backoff. Only one flush runs at a time per site (a MySQL named
 * lock), so no event is sent twice at once; the sidecar's idempotency on event_id covers the rest.
 *
 * @param int  $limit          Most delivery attempts in this run.
 * @param bool $ignore_backoff Try rows even if their backoff still runs (cron, "Deliver now").
 * @param int  $max_down       Unreachable answers in a row that stop the run.
 * @return array{delivered: int, retry: int, rejected: int, stopped: bool} Rows per outcome; stopped
 *     when the sidecar was found unreachable.
 */
function secure_privacy_flush_outbox( int $limit = SECURE_PRIVACY_OUTBOX_CRON_BATCH, bool $ignore_backoff = false, int $max_down = SECURE_PRIVACY_OUTBOX_MAX_DOWN ): array {
	global $wpdb;

	$counts = array(
		SECURE_PRIVACY_DELIVERED => 0,
		SECURE_PRIVACY_RETRY     => 0,
		SECURE_PRIVACY_REJECTED  => 0,
		'stopped'                => false,
	);
	$table  = secure_privacy_outbox_table();
	$lock   = $table . '_flush';
	// '0' means another request holds the lock; null (no GET_LOCK on this database) lets us go on.
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	if ( '0' === $wpdb->get_var( $wpdb->prepare( 'SELECT GET_LOCK(%s, 0)', $lock ) ) ) {
		return $counts;
	}

	try {
		$limit = max( 1, $limit );
		$due   = $ignore_backoff ? '' : $wpdb->prepare( ' AND o.next_attempt_at <= %s', gmdate( 'Y-m-d H:i:s' ) );
		// The head row of each visitor: no earlier waiting row of the same subject_id.
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery
		$heads = (array) $wpdb->get_results(
			$wpdb->prepare(
				// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- the table name is ours, $due is prepared.
				"SELECT o.id, o.event_id, o.subject_id, o.payload, o.attempts FROM {$table} o WHERE o.status = %s{$due}
				AND NOT EXISTS (SELECT 1 FROM {$table} e WHERE e.subject_id = o.subject_id AND e.status = %s AND e.id < o.id)
				ORDER BY o.attempts ASC, o.id ASC LIMIT %d",
				SECURE_PRIVACY_OUTBOX_PENDING,
				SECURE_PRIVACY_OUTBOX_PENDING,
				$limit
			),
			ARRAY_A
		);
		$tried = 0;
		$down  = 0;
		foreach ( $heads as $row ) {
			// This visitor's rows, one after the other, while they go through.
			while ( null !== $row && $tried < $limit ) {
				$result = secure_privacy_outbox_attempt( $row );
				++$tried;
				++$counts[ $result['outcome'] ];
				$unreachable = SECURE_PRIVACY_RETRY === $result['outcome'] && in_array( (int) $result['status'], array( 0, 503 ), true );
				$down        = $unreachable ? $down + 1 : 0;
				if ( $down >= max( 1, $max_down ) ) {
					$counts['stopped'] = true;
					return $counts;
				}
				$row = SECURE_PRIVACY_RETRY === $result['outcome'] ? null : secure_privacy_outbox_next_of( (string) $row['subject_id'], (int) $row['id'] );
			}
			if ( $tried >= $limit ) {
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
 * Send one outbox row and record the outcome on it.
 *
 * @param array $row The row (id, event_id, subject_id, payload, attempts).
 * @return array What secure_privacy_send_to_sidecar() returned.
 */
function secure_privacy_outbox_attempt( array $row ): array {
	$payload = json_decode( (string) $row['payload'], true );
	$result  = is_array( $payload )
		? secure_privacy_send_to_sidecar( $payload )
		: secure_privacy_send_result( SECURE_PRIVACY_REJECTED, 0, 'The stored payload is not valid JSON.' );
	secure_privacy_outbox_record_attempt( $row, $result );
	return $result;
}

/**
 * The next waiting row of a visitor after row $after_id, whatever its backoff (it never had
 * one of its own: it waited behind the row just delivered or refused), or null.
 *
 * @param string $subject_id The visitor's consent id.
 * @param int    $after_id   The row just handled.
 */
function secure_privacy_outbox_next_of( string $subject_id, int $after_id ): ?array {
	global $wpdb;
	$table = secure_privacy_outbox_table();
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	$row = $wpdb->get_row(
		$wpdb->prepare(
			// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- the table name is ours.
			"SELECT id, event_id, subject_id, payload, attempts FROM {$table} WHERE subject_id = %s AND status = %s AND id > %d ORDER BY id ASC LIMIT 1",
			$subject_id,
			SECURE_PRIVACY_OUTBOX_PENDING,
			$after_id
		),
		ARRAY_A
	);
	return is_array( $row ) ? $row : null;
}

/**
 * The failed rows, newest first, for the admin: what the sidecar refused and why.
 *
 * @param int $limit Most rows.
 * @return array<int, array{id: int, event_id: string, subject_id: string, attempts: int, last_error: string, created_at: string}>
 */
function secure_privacy_outbox_failed_rows( int $limit = 20 ): array {
	global $wpdb;
	$table = secure_privacy_outbox_table();
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	$rows = (array) $wpdb->get_results(
		$wpdb->prepare(
			// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- the table name is ours.
			"SELECT id, event_id, subject_id, attempts, last_error, created_at FROM {$table} WHERE status = %s ORDER BY id DESC LIMIT %d",
			SECURE_PRIVACY_OUTBOX_FAILED,
			max( 1, $limit )
		),
		ARRAY_A
	);
	return array_map(
		static fn( array $r ): array => array(
			'id'         => (int) $r['id'],
			'event_id'   => (string) $r['event_id'],
			'subject_id' => (string) $r['subject_id'],
			'attempts'   => (int) $r['attempts'],
			'last_error' => (string) $r['last_error'],
			'created_at' => (string) $r['created_at'],
		),
		$rows
	);
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
	$head   = $wpdb->get_row( $wpdb->prepare( "SELECT last_error, next_attempt_at FROM {$table} WHERE status = %s ORDER BY attempts > 0 DESC, next_attempt_at ASC, id ASC LIMIT 1", SECURE_PRIVACY_OUTBOX_PENDING ) );
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
 * The cron event's callback (and "Deliver now"): deliver everything waiting, batch after
 * batch, for at most SECURE_PRIVACY_OUTBOX_CRON_BUDGET seconds. Cron tries rows whatever their
 * backoff: one attempt a minute is gentle, and it is what brings the outbox home after an
 * outage. It goes on while batches make progress; a row that keeps failing comes last in
 * each batch (fewest attempts first), so it never holds up the others.
 *
 * @return array{delivered: int, retry: int, rejected: int, stopped: bool} Rows per outcome.
 */
function secure_privacy_run_outbox_cron(): array {
	$until = microtime( true ) + SECURE_PRIVACY_OUTBOX_CRON_BUDGET;
	$total = array(
		SECURE_PRIVACY_DELIVERED => 0,
		SECURE_PRIVACY_RETRY     => 0,
		SECURE_PRIVACY_REJECTED  => 0,
		'stopped'                => false,
	);
	do {
		$counts = secure_privacy_flush_outbox( SECURE_PRIVACY_OUTBOX_CRON_BATCH, true );
		foreach ( array( SECURE_PRIVACY_DELIVERED, SECURE_PRIVACY_RETRY, SECURE_PRIVACY_REJECTED ) as $key ) {
			$total[ $key ] += $counts[ $key ];
		}
		$total['stopped'] = $counts['stopped'];
		$progress         = $counts[ SECURE_PRIVACY_DELIVERED ] + $counts[ SECURE_PRIVACY_REJECTED ];
	} while ( $progress > 0 && ! $counts['stopped'] && secure_privacy_outbox_has_pending() && microtime( true ) < $until );
	return $total;
}
