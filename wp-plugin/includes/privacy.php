<?php
/**
 * WordPress privacy tools: a personal-data exporter and eraser for the consent records of a
 * registered user (by wp_user_id, through the sidecar), and the one-month deadline of each
 * erasure request, recorded when the request is made and shown next to it.
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
 * Export the consent records of the user with this email address, one page at a time.
 * Pages follow the sidecar's cursors, kept between the exporter's requests.
 *
 * @param string $email Email address of the request.
 * @param int    $page  1-based page.
 * @return array{data: array, done: bool}|WP_Error A WP_Error when the sidecar cannot be asked.
 */
function secure_privacy_personal_data_exporter( $email, $page = 1 ) {
	$user = get_user_by( 'email', (string) $email );
	if ( ! $user ) {
		return array(
			'data' => array(),
			'done' => true,
		);
	}
	$page       = max( 1, (int) $page );
	$cursor_key = 'secure_privacy_export_' . md5( $user->ID . '|' . $page );
	$cursor     = $page > 1 ? get_transient( $cursor_key ) : '';
	if ( $page > 1 && ! is_string( $cursor ) ) {
		return array(
			'data' => array(),
			'done' => true,
		);
	}
	$result = secure_privacy_admin_api(
		'GET',
		'/v1/consents',
		array(
			'wp_user_id' => $user->ID,
			'limit'      => SECURE_PRIVACY_EXPORT_PAGE,
			'cursor'     => $cursor,
		)
	);
	if ( is_wp_error( $result ) ) {
		// Surfaces in Tools → Export Personal Data as this exporter's error.
		return new WP_Error( 'secure_privacy_export_failed', $result->get_error_message() );
	}
	$data = array();
	foreach ( (array) ( $result['json']['items'] ?? array() ) as $rec ) {
		$data[] = array(
			'group_id'          => 'secure-privacy-consents',
			'group_label'       => __( 'Consent records', 'secure-privacy' ),
			'group_description' => __( 'Your cookie-consent decisions on this site, as recorded for proof.', 'secure-privacy' ),
			'item_id'           => 'consent-' . (string) ( $rec['id'] ?? '' ),
			'data'              => secure_privacy_export_fields( (array) $rec ),
		);
	}
	$next = $result['json']['next_cursor'] ?? null;
	if ( is_string( $next ) && '' !== $next ) {
		set_transient( 'secure_privacy_export_' . md5( $user->ID . '|' . ( $page + 1 ) ), $next, HOUR_IN_SECONDS );
	}
	return array(
		'data' => $data,
		'done' => ! is_string( $next ) || '' === $next,
	);
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
 * Erase the consent records of the user with this email address in the sidecar, and the
 * user's consents still waiting in the outbox.
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
	$queued = secure_privacy_outbox_erase_user( $user->ID );
	$result = secure_privacy_admin_api( 'POST', '/v1/erasures', array(), array( 'wp_user_id' => (int) $user->ID ) );
	if ( is_wp_error( $result ) ) {
		$out['items_removed']  = $queued;
		$out['items_retained'] = true;
		/* translators: %s: error message. */
		$out['messages'][] = sprintf( __( 'Consent records could not be erased: %s', 'secure-privacy' ), $result->get_error_message() );
		return $out;
	}
	$out['items_removed'] = (int) ( $result['json']['erased'] ?? 0 ) + $queued;
	if ( $out['items_removed'] ) {
		$out['messages'][] = __( 'Consent records were erased; the ledger keeps anonymous tombstones so its integrity can still be proven.', 'secure-privacy' );
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
	global $wpdb;
	$table = secure_privacy_outbox_table();
	// The payload is our own JSON, written with wp_json_encode(): "wp_user_id":<id>, is exact.
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
	$n = $wpdb->query( $wpdb->prepare( "DELETE FROM {$table} WHERE payload LIKE %s", '%' . $wpdb->esc_like( '"wp_user_id":' . $user_id . ',' ) . '%' ) );
	return (int) $n;
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
