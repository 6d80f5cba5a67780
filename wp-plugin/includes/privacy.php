<?php
/**
 * WordPress privacy tools: a personal-data exporter and eraser for the consent records of a
 * registered user (by wp_user_id, and the anonymous records of the same browsers by their
 * visitor ids, through the sidecar and in the outbox), the erasure of a visitor's outbox rows
 * for the Consent log's erase form, and the one-month deadline of each erasure request,
 * recorded when the request is made and shown next to it.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/** Days the site has to answer an erasure request (GDPR art. 12(3): one month). */
const SECURE_PRIVACY_ERASURE_DEADLINE_DAYS = 30;

const SECURE_PRIVACY_DEADLINE_META = '_secure_privacy_deadline';

/** Records per exporter page. */
const SECURE_PRIVACY_EXPORT_PAGE = 100;

/**
 * Register the exporter (wp_privacy_personal_data_exporters).
 *
 * @param array $exporters Registered exporters.
 */
function secure_privacy_register_exporter( $exporters ): array {
	$exporters                   = (array) $exporters;
	$exporters['secure-privacy'] = array(
		'exporter_friendly_name' => __( 'Secure Privacy consent records', 'secure-privacy' ),
		'callback'               => 'secure_privacy_personal_data_exporter',
	);
	return $exporters;
}

/**
 * Register the eraser (wp_privacy_personal_data_erasers).
 *
 * @param array $erasers Registered erasers.
 */
function secure_privacy_register_eraser( $erasers ): array {
	$erasers                   = (array) $erasers;
	$erasers['secure-privacy'] = array(
		'eraser_friendly_name' => __( 'Secure Privacy consent records', 'secure-privacy' ),
		'callback'             => 'secure_privacy_personal_data_eraser',
	);
	return $erasers;
}

/**
 * The visitor ids (consent cookies) of a user's browsers: those of the user's records in the
 * sidecar and of the user's consents waiting in the outbox. The anonymous records of these
 * ids (made on the same browser while not signed in) are the user's too.
 *
 * @param int $user_id WordPress user id.
 * @return array{subjects: string[], error: ?WP_Error} error: the sidecar could not be asked
 *     (subjects then holds what the outbox knows).
 */
function secure_privacy_user_subjects( int $user_id ): array {
	$subjects = array();
	foreach ( secure_privacy_outbox_find( 'wp_user_id', (string) $user_id ) as $payload ) {
		$subjects[] = strtolower( (string) ( $payload['subject_id'] ?? '' ) );
	}
	$records = secure_privacy_admin_records( array( 'wp_user_id' => $user_id ) );
	if ( ! is_wp_error( $records ) ) {
		foreach ( $records as $rec ) {
			$subjects[] = strtolower( (string) ( $rec['subject_id'] ?? '' ) );
		}
	}
	$subjects = array_values( array_unique( array_filter( $subjects, 'secure_privacy_is_uuid4' ) ) );
	sort( $subjects );
	return array(
		'subjects' => $subjects,
		'error'    => is_wp_error( $records ) ? $records : null,
	);
}

/**
 * Every record matching $filters in the sidecar, following its cursors (at most 100 pages of 500).
 *
 * @param array $filters List filters of GET /v1/consents.
 * @return array|WP_Error The records, newest first.
 */
function secure_privacy_admin_records( array $filters ) {
	$all    = array();
	$cursor = '';
	for ( $page = 0; $page < 100; $page++ ) {
		$result = secure_privacy_admin_api( 'GET', '/v1/consents', $filters + array( 'limit' => 500, 'cursor' => $cursor ) );
		if ( is_wp_error( $result ) ) {
			return $result;
		}
		$all    = array_merge( $all, (array) ( $result['json']['items'] ?? array() ) );
		$cursor = $result['json']['next_cursor'] ?? null;
		if ( ! is_string( $cursor ) || '' === $cursor ) {
			return $all;
		}
	}
	return $all;
}

/**
 * Export the consent records of the user with this email address, one page at a time: the
 * records made while signed in, then the anonymous records of the same browsers (their
 * visitor ids, secure_privacy_user_subjects()), then the user's consents still waiting in the
 * outbox. Pages follow the sidecar's cursors, kept between the exporter's requests.
 *
 * @param string $email Email address of the request.
 * @param int    $page  1-based page.
 * @return array{data: array, done: bool}|WP_Error A WP_Error when the sidecar cannot be asked.
 */
function secure_privacy_personal_data_exporter( $email, $page = 1 ) {
	$user = get_user_by( 'email', (string) $email );
	$none = array(
		'data' => array(),
		'done' => true,
	);
	if ( ! $user ) {
		return $none;
	}
	$page  = max( 1, (int) $page );
	$key   = static fn( int $n ): string => 'secure_privacy_export_' . md5( $user->ID . '|' . $n );
	$state = 1 === $page ? array( 'q' => 0, 'cursor' => '' ) : get_transient( $key( $page ) );
	if ( ! is_array( $state ) ) {
		return $none;
	}
	if ( 1 === $page ) {
		$linked = secure_privacy_user_subjects( $user->ID );
		if ( $linked['error'] ) {
			return new WP_Error( 'secure_privacy_export_failed', $linked['error']->get_error_message() );
		}
		$state['subjects'] = $linked['subjects'];
	}
	$subjects = (array) $state['subjects'];
	$q        = (int) $state['q'];
	$data     = array();
	if ( $q > count( $subjects ) ) { // Last: what still waits in the outbox.
		foreach ( secure_privacy_user_outbox( $user->ID, $subjects ) as $id => $payload ) {
			$data[] = array(
				'group_id'          => 'secure-privacy-outbox',
				'group_label'       => __( 'Consents waiting for delivery', 'secure-privacy' ),
				'group_description' => __( 'Your cookie-consent decisions this site has not yet delivered to its consent records.', 'secure-privacy' ),
				'item_id'           => 'outbox-' . $id,
				'data'              => secure_privacy_export_fields( (array) $payload ),
			);
		}
		return array(
			'data' => $data,
			'done' => true,
		);
	}
	$filters = 0 === $q ? array( 'wp_user_id' => $user->ID ) : array( 'subject_id' => $subjects[ $q - 1 ] );
	$result  = secure_privacy_admin_api( 'GET', '/v1/consents', $filters + array( 'limit' => SECURE_PRIVACY_EXPORT_PAGE, 'cursor' => (string) $state['cursor'] ) );
	if ( is_wp_error( $result ) ) {
		// Surfaces in Tools → Export Personal Data as this exporter's error.
		return new WP_Error( 'secure_privacy_export_failed', $result->get_error_message() );
	}
	foreach ( (array) ( $result['json']['items'] ?? array() ) as $rec ) {
		// A browser's records made while signed in belong to that user: ours came with q = 0.
		if ( $q > 0 && 0 !== (int) ( $rec['wp_user_id'] ?? 0 ) ) {
			continue;
		}
		$data[] = array(
			'group_id'          => 'secure-privacy-consents',
			'group_label'       => __( 'Consent records', 'secure-privacy' ),
			'group_description' => __( 'Your cookie-consent decisions on this site, as recorded for proof.', 'secure-privacy' ),
			'item_id'           => 'consent-' . (string) ( $rec['id'] ?? '' ),
			'data'              => secure_privacy_export_fields( (array) $rec ),
		);
	}
	$next = $result['json']['next_cursor'] ?? null;
	$more = is_string( $next ) && '' !== $next;
	set_transient(
		$key( $page + 1 ),
		array(
			'q'        => $more ? $q : $q + 1,
			'cursor'   => $more ? $next : '',
			'subjects' => $subjects,
		),
		HOUR_IN_SECONDS
	);
	return array(
		'data' => $data,
		'done' => false,
	);
}

/**
 * The user's consents waiting in the outbox: made while signed in, or anonymously with one
 * of the user's visitor ids.
 *
 * @param int      $user_id  WordPress user id.
 * @param string[] $subjects secure_privacy_user_subjects().
 * @return array<int, array> Row id => payload.
 */
function secure_privacy_user_outbox( int $user_id, array $subjects ): array {
	$rows = secure_privacy_outbox_find( 'wp_user_id', (string) $user_id );
	foreach ( $subjects as $subject ) {
		$rows += secure_privacy_outbox_find( 'subject_id', $subject, true );
	}
	ksort( $rows );
	return $rows;
}

/**
 * The name/value pairs of one record in a personal-data export.
 *
 * @param array $rec The record.
 * @return array<int, array{name: string, value: string}>
 */
function secure_privacy_export_fields( array $rec ): array {
	$granted = array();
	foreach ( (array) ( $rec['categories'] ?? array() ) as $cat => $on ) {
		$granted[] = $cat . ': ' . ( $on ? __( 'granted', 'secure-privacy' ) : __( 'refused', 'secure-privacy' ) );
	}
	$pairs = array(
		__( 'Record id', 'secure-privacy' )      => $rec['id'] ?? '',
		__( 'Date', 'secure-privacy' )           => $rec['occurred_at'] ?? '',
		__( 'Decision', 'secure-privacy' )       => ( $rec['action'] ?? '' ) . ' (' . ( $rec['method'] ?? '' ) . ')',
		__( 'Categories', 'secure-privacy' )     => implode( ', ', $granted ),
		__( 'Page', 'secure-privacy' )           => $rec['page_url'] ?? '',
		__( 'Policy version', 'secure-privacy' ) => $rec['policy_version'] ?? '',
		__( 'Visitor id', 'secure-privacy' )     => $rec['subject_id'] ?? '',
		__( 'IP address', 'secure-privacy' )     => $rec['ip'] ?? '',
		__( 'Location', 'secure-privacy' )       => implode( ', ', array_filter( array( $rec['city'] ?? '', $rec['region'] ?? '', $rec['country'] ?? '' ) ) ),
		__( 'User agent', 'secure-privacy' )     => $rec['user_agent'] ?? '',
	);
	$out = array();
	foreach ( $pairs as $name => $value ) {
		$out[] = array(
			'name'  => $name,
			'value' => (string) $value,
		);
	}
	return $out;
}

/**
 * Erase the consent records of the user with this email address: the records made while
 * signed in, the anonymous records of the same browsers (secure_privacy_user_subjects()),
 * and all of these still waiting in the outbox. The anonymous records and the outbox go
 * first, the signed-in records last: they hold the link to the visitor ids, so a request that
 * fails half-way finds everything again when it is run once more. Whatever could not be
 * erased is reported (items_retained, with a message).
 *
 * @param string $email Email address of the request.
 * @param int    $page  1-based page (one call erases everything).
 * @return array{items_removed: int, items_retained: bool, messages: string[], done: bool}
 */
function secure_privacy_personal_data_eraser( $email, $page = 1 ): array {
	$user = get_user_by( 'email', (string) $email );
	$out  = array(
		'items_removed'  => 0,
		'items_retained' => false,
		'messages'       => array(),
		'done'           => true,
	);
	if ( ! $user ) {
		return $out;
	}
	$linked  = secure_privacy_user_subjects( $user->ID );
	$removed = secure_privacy_outbox_erase_user( $user->ID );
	foreach ( $linked['subjects'] as $subject ) {
		$removed += secure_privacy_outbox_erase( 'subject_id', $subject, true );
	}
	$failed = $linked['error'];
	$others = 0;
	if ( ! $failed ) {
		foreach ( $linked['subjects'] as $subject ) {
			$records = secure_privacy_admin_records( array( 'subject_id' => $subject ) );
			if ( is_wp_error( $records ) ) {
				$failed = $records;
				break;
			}
			foreach ( $records as $rec ) {
				$owner = (int) ( $rec['wp_user_id'] ?? 0 );
				if ( $owner === (int) $user->ID ) {
					continue; // Erased below, last.
				}
				if ( 0 !== $owner ) {
					++$others; // Made on this browser by another signed-in user: theirs.
					continue;
				}
				$result = secure_privacy_admin_api( 'DELETE', '/v1/consents/' . rawurlencode( (string) $rec['id'] ) );
				if ( is_wp_error( $result ) && 410 !== ( $result->get_error_data()['status'] ?? 0 ) ) {
					$failed = $result;
					break 2;
				}
				$removed += is_wp_error( $result ) ? 0 : 1;
			}
		}
	}
	if ( ! $failed ) {
		$result = secure_privacy_admin_api( 'POST', '/v1/erasures', array(), array( 'wp_user_id' => (int) $user->ID ) );
		if ( is_wp_error( $result ) ) {
			$failed = $result;
		} else {
			$removed += (int) ( $result['json']['erased'] ?? 0 );
		}
	}
	$out['items_removed'] = $removed;
	if ( $failed ) {
		$out['items_retained'] = true;
		/* translators: %s: error message. */
		$out['messages'][] = sprintf( __( 'Consent records could not be erased: %s', 'secure-privacy' ), $failed->get_error_message() );
	} elseif ( $removed ) {
		$out['messages'][] = __( 'Consent records were erased; the ledger keeps anonymous tombstones so its integrity can still be proven.', 'secure-privacy' );
	}
	if ( $others ) {
		/* translators: %d: number of records. */
		$out['messages'][] = sprintf( _n( '%d consent record made on the same browser while another user was signed in was kept: it is that user\'s.', '%d consent records made on the same browser while another user was signed in were kept: they are that user\'s.', $others, 'secure-privacy' ), $others );
	}
	return $out;
}

/**
 * Drop the user's consents that still wait in the outbox (they would otherwise arrive after
 * the erasure).
 *
 * @param int $user_id WordPress user id.
 * @return int Rows removed.
 */
function secure_privacy_outbox_erase_user( int $user_id ): int {
	return $user_id > 0 ? secure_privacy_outbox_erase( 'wp_user_id', (string) $user_id ) : 0;
}

/**
 * Whether two IP addresses are the same address, whatever their spelling (IPv6 zeros, case,
 * an IPv4-mapped IPv6 form).
 *
 * @param string $a An address.
 * @param string $b Another.
 */
function secure_privacy_same_ip( string $a, string $b ): bool {
	$bin = static function ( string $ip ) {
		$packed = @inet_pton( trim( $ip ) ); // phpcs:ignore WordPress.PHP.NoSilencedErrors.Discouraged -- false on a non-address is the answer.
		if ( false !== $packed && 16 === strlen( $packed ) && str_starts_with( $packed, str_repeat( "\0", 10 ) . "\xff\xff" ) ) {
			$packed = substr( $packed, 12 ); // ::ffff:a.b.c.d is a.b.c.d.
		}
		return $packed;
	};
	$x = $bin( $a );
	return false !== $x && $x === $bin( $b );
}

/**
 * Drop the outbox rows, waiting or failed, of a visitor: by visitor id, IP address or
 * WordPress user. Such a row holds the visitor's IP and user agent and would otherwise be
 * delivered after the erasure. The outbox's flush lock is taken first (up to 30 s), so no
 * row is on its way to the sidecar meanwhile: what a flush delivered before is in the
 * sidecar, where the caller erases next.
 *
 * @param string $by             subject_id | ip | wp_user_id.
 * @param string $value          The visitor id, address or user id.
 * @param bool   $anonymous_only Only rows made while nobody was signed in (wp_user_id 0).
 * @return int Rows removed.
 */
function secure_privacy_outbox_erase( string $by, string $value, bool $anonymous_only = false ): int {
	global $wpdb;
	$table = secure_privacy_outbox_table();
	$lock  = $table . '_flush'; // The lock secure_privacy_flush_outbox() holds while it delivers.
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	$locked  = '1' === (string) $wpdb->get_var( $wpdb->prepare( 'SELECT GET_LOCK(%s, 30)', $lock ) );
	$removed = 0;
	try {
		foreach ( array_chunk( array_keys( secure_privacy_outbox_find( $by, $value, $anonymous_only ) ), 500 ) as $ids ) {
			// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- integers only.
			$removed += (int) $wpdb->query( "DELETE FROM {$table} WHERE id IN (" . implode( ',', array_map( 'intval', $ids ) ) . ')' );
		}
	} finally {
		if ( $locked ) {
			// phpcs:ignore WordPress.DB.DirectDatabaseQuery
			$wpdb->query( $wpdb->prepare( 'SELECT RELEASE_LOCK(%s)', $lock ) );
		}
	}
	return $removed;
}

/**
 * The outbox rows, waiting or failed, of a visitor (see secure_privacy_outbox_erase()).
 *
 * @param string $by             subject_id | ip | wp_user_id.
 * @param string $value          The visitor id, address or user id.
 * @param bool   $anonymous_only Only rows made while nobody was signed in (wp_user_id 0).
 * @return array<int, array> Row id => payload, oldest first.
 */
function secure_privacy_outbox_find( string $by, string $value, bool $anonymous_only = false ): array {
	global $wpdb;
	$table = secure_privacy_outbox_table();
	$found = array();
	$last  = 0;
	do {
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$rows = (array) $wpdb->get_results( $wpdb->prepare( "SELECT id, payload FROM {$table} WHERE id > %d ORDER BY id LIMIT 500", $last ), ARRAY_A );
		foreach ( $rows as $row ) {
			$last    = (int) $row['id'];
			$payload = json_decode( (string) $row['payload'], true );
			if ( ! is_array( $payload ) || ( $anonymous_only && 0 !== (int) ( $payload['wp_user_id'] ?? 0 ) ) ) {
				continue;
			}
			$field = is_scalar( $payload[ $by ] ?? null ) ? (string) $payload[ $by ] : '';
			if ( 'ip' === $by ) {
				$match = secure_privacy_same_ip( $field, $value );
			} elseif ( 'wp_user_id' === $by ) {
				$match = (int) $value > 0 && (int) $field === (int) $value;
			} else {
				$match = '' !== $field && strtolower( $field ) === strtolower( $value );
			}
			if ( $match ) {
				$found[ $last ] = $payload;
			}
		}
	} while ( 500 === count( $rows ) );
	return $found;
}

/**
 * Erase every consent of a visitor id or an IP address: the rows waiting in the outbox
 * first (nothing of theirs can arrive afterwards), then the records in the sidecar.
 *
 * @param string $by           subject_id | ip.
 * @param string $value        A visitor id or an IP address (validated by the caller).
 * @param bool   $unattributed By IP: also the older records stored truncated to the
 *     address's network without a fingerprint (they cannot be told apart from neighbours').
 * @return array{outbox: int, erased: int, unattributed: int, error: ?WP_Error} error is set
 *     when the sidecar could not erase (the outbox rows are gone all the same).
 */
function secure_privacy_erase_visitor( string $by, string $value, bool $unattributed = false ): array {
	$out  = array(
		'outbox'       => secure_privacy_outbox_erase( $by, $value ),
		'erased'       => 0,
		'unattributed' => 0,
		'error'        => null,
	);
	$body = array( $by => 'ip' === $by ? $value : strtolower( $value ) );
	if ( 'ip' === $by && $unattributed ) {
		$body['unattributed'] = true;
	}
	$result = secure_privacy_admin_api( 'POST', '/v1/erasures', array(), $body );
	if ( is_wp_error( $result ) ) {
		$out['error'] = $result;
		return $out;
	}
	$out['erased']       = (int) ( $result['json']['erased'] ?? 0 );
	$out['unattributed'] = (int) ( $result['json']['unattributed'] ?? 0 );
	return $out;
}

/**
 * Record the deadline of a new erasure request (save_post_user_request).
 *
 * @param int     $post_id Request id.
 * @param WP_Post $post    The request.
 */
function secure_privacy_record_erasure_deadline( $post_id, $post ): void {
	if ( ! $post instanceof WP_Post || 'remove_personal_data' !== $post->post_name || get_post_meta( (int) $post_id, SECURE_PRIVACY_DEADLINE_META, true ) ) {
		return;
	}
	$received = strtotime( $post->post_date_gmt . ' UTC' );
	$received = false === $received || $received <= 0 ? time() : $received;
	update_post_meta( (int) $post_id, SECURE_PRIVACY_DEADLINE_META, gmdate( 'Y-m-d', $received + SECURE_PRIVACY_ERASURE_DEADLINE_DAYS * DAY_IN_SECONDS ) );
}

/**
 * Add the "Answer by" column to Tools → Erase Personal Data (manage_erase-personal-data_columns).
 *
 * @param array $columns Columns.
 */
function secure_privacy_erasure_columns( $columns ): array {
	$columns                           = (array) $columns;
	$columns['secure_privacy_deadline'] = __( 'Answer by', 'secure-privacy' );
	return $columns;
}

/**
 * Print the "Answer by" cell (manage_erase-personal-data_custom_column).
 *
 * @param string          $column The column.
 * @param WP_User_Request $item   The request.
 */
function secure_privacy_erasure_column( $column, $item ): void {
	if ( 'secure_privacy_deadline' !== $column || ! is_object( $item ) ) {
		return;
	}
	$deadline = (string) get_post_meta( (int) $item->ID, SECURE_PRIVACY_DEADLINE_META, true );
	if ( '' === $deadline ) {
		echo '—';
		return;
	}
	secure_privacy_render_deadline( $deadline, 'request-completed' === $item->status );
}

/**
 * A deadline, marked when it is near or past.
 *
 * @param string $deadline  YYYY-MM-DD.
 * @param bool   $completed The request is answered.
 */
function secure_privacy_render_deadline( string $deadline, bool $completed ): void {
	$ts    = strtotime( $deadline . ' 23:59:59 UTC' );
	$left  = false === $ts ? 0 : $ts - time();
	$class = $completed ? 'sp-muted' : ( $left < 0 ? 'sp-bad' : ( $left < 7 * DAY_IN_SECONDS ? 'sp-warn' : '' ) );
	$note  = $completed ? __( 'answered', 'secure-privacy' )
		/* translators: %s: time left, e.g. "3 days". */
		: ( $left < 0 ? __( 'overdue', 'secure-privacy' ) : sprintf( __( '%s left', 'secure-privacy' ), secure_privacy_admin_duration( $left ) ) );
	printf( '<span class="sp-deadline %1$s" data-sp-deadline="%2$s">%3$s <small>(%4$s)</small></span>', esc_attr( $class ), esc_attr( $deadline ), esc_html( secure_privacy_admin_local_time( $deadline . ' 12:00:00', false ) ), esc_html( $note ) );
}

/**
 * Open erasure requests with their deadlines, soonest first (dashboard widget).
 *
 * @param int $limit Most requests shown.
 */
function secure_privacy_render_erasure_deadlines( int $limit ): void {
	$requests = get_posts(
		array(
			'post_type'      => 'user_request',
			'name'           => 'remove_personal_data',
			'post_status'    => array( 'request-pending', 'request-confirmed' ),
			'posts_per_page' => $limit,
			'meta_key'       => SECURE_PRIVACY_DEADLINE_META, // phpcs:ignore WordPress.DB.SlowDBQuery.slow_query_meta_key -- a handful of rows.
			'orderby'        => 'meta_value',
			'order'          => 'ASC',
		)
	);
	echo '<h3>' . esc_html__( 'Erasure requests', 'secure-privacy' ) . '</h3>';
	if ( ! $requests ) {
		echo '<p class="sp-muted">' . esc_html__( 'None open.', 'secure-privacy' ) . '</p>';
		return;
	}
	echo '<ul class="sp-deadlines">';
	foreach ( $requests as $request ) {
		echo '<li><a href="' . esc_url( admin_url( 'erase-personal-data.php' ) ) . '">' . esc_html( $request->post_title ) . '</a> ';
		secure_privacy_render_deadline( (string) get_post_meta( $request->ID, SECURE_PRIVACY_DEADLINE_META, true ), false );
		echo '</li>';
	}
	echo '</ul>';
}
