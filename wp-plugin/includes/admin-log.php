<?php
/**
 * The Consent log page: records from the sidecar's admin API with filters and pagination, a
 * detail view with the screenshot, CSV/NDJSON export, deletion of one record and erasure by
 * visitor id or IP address. Every call runs on the server: the admin token never reaches the
 * browser, and images and exports are passed through admin-post.php.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/** Records per page of the log. */
const SECURE_PRIVACY_LOG_PER_PAGE = 25;

/**
 * The log filters of the current request, sanitised; only filled ones are returned.
 *
 * @param array $source $_GET or $_POST (slashed).
 * @return array<string, string> Filter name => value, as the sidecar's list endpoint takes them.
 */
function secure_privacy_log_filters( array $source ): array {
	$source  = wp_unslash( $source );
	$filters = array();
	foreach ( array( 'from', 'to' ) as $key ) {
		$date = secure_privacy_sanitize_date( $source[ $key ] ?? '' );
		if ( '' !== $date ) {
			$filters[ $key ] = $date;
		}
	}
	$country = strtoupper( sanitize_text_field( (string) ( $source['country'] ?? '' ) ) );
	if ( 1 === preg_match( '/^[A-Z]{2}$/D', $country ) ) {
		$filters['country'] = $country;
	}
	$method = sanitize_key( (string) ( $source['method'] ?? '' ) );
	if ( in_array( $method, SECURE_PRIVACY_METHODS, true ) ) {
		$filters['method'] = $method;
	}
	$action = sanitize_key( (string) ( $source['consent_action'] ?? '' ) );
	if ( in_array( $action, SECURE_PRIVACY_ACTIONS, true ) ) {
		$filters['action'] = $action;
	}
	$subject = strtolower( sanitize_text_field( (string) ( $source['subject_id'] ?? '' ) ) );
	if ( secure_privacy_is_uuid4( $subject ) ) {
		$filters['subject_id'] = $subject;
	}
	$page_url = esc_url_raw( trim( (string) ( $source['page_url'] ?? '' ) ), array( 'http', 'https' ) );
	if ( '' !== $page_url ) {
		$filters['page_url'] = $page_url;
	}
	$user = absint( $source['wp_user_id'] ?? 0 );
	if ( $user ) {
		$filters['wp_user_id'] = (string) $user;
	}
	return $filters;
}

/**
 * Render the Consent log page (list, or one record with ?consent=<id>).
 */
function secure_privacy_render_log_page(): void {
	if ( ! current_user_can( SECURE_PRIVACY_CAPABILITY ) ) {
		return;
	}
	// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- a read-only view.
	$record_id = isset( $_GET['consent'] ) ? strtolower( sanitize_text_field( wp_unslash( $_GET['consent'] ) ) ) : '';
	echo '<div class="wrap sp-wrap">';
	if ( secure_privacy_is_uuid4( $record_id ) ) {
		secure_privacy_render_log_record( $record_id );
	} else {
		secure_privacy_render_log_list();
	}
	echo '</div>';
}

/**
 * The list view.
 */
function secure_privacy_render_log_list(): void {
	// phpcs:disable WordPress.Security.NonceVerification.Recommended -- a read-only view.
	$filters = secure_privacy_log_filters( $_GET );
	$cursor  = isset( $_GET['cursor'] ) ? sanitize_text_field( wp_unslash( $_GET['cursor'] ) ) : '';
	$cursor  = 1 === preg_match( '/^[A-Za-z0-9_-]{1,64}$/D', $cursor ) ? $cursor : '';
	$page_no = max( 1, absint( $_GET['paged'] ?? 1 ) );
	// phpcs:enable
	$export_url = wp_nonce_url( add_query_arg( array_merge( array( 'action' => 'secure_privacy_export' ), secure_privacy_log_query_args( $filters ) ), admin_url( 'admin-post.php' ) ), 'secure_privacy_export' );

	echo '<h1 class="wp-heading-inline sp-title"><span class="dashicons dashicons-list-view" aria-hidden="true"></span> ' . esc_html__( 'Consent log', 'secure-privacy' ) . '</h1> ';
	printf( '<a class="page-title-action" id="sp-export-csv" href="%s">%s</a> ', esc_url( add_query_arg( 'format', 'csv', $export_url ) ), esc_html__( 'Export CSV', 'secure-privacy' ) );
	printf( '<a class="page-title-action" href="%s">%s</a>', esc_url( add_query_arg( 'format', 'ndjson', $export_url ) ), esc_html__( 'Export NDJSON', 'secure-privacy' ) );
	echo '<hr class="wp-header-end">';
	echo '<p class="sp-lead">' . esc_html__( 'Every consent decision made on this site, newest first, as the sidecar keeps it. Open a record to see its evidence, with a screenshot of the page and its banner as they were offered.', 'secure-privacy' ) . '</p>';

	secure_privacy_render_log_filters( $filters );

	$result = secure_privacy_admin_api( 'GET', '/v1/consents', array_merge( $filters, array( 'limit' => SECURE_PRIVACY_LOG_PER_PAGE, 'cursor' => $cursor ) ) );
	if ( is_wp_error( $result ) ) {
		secure_privacy_admin_render_error( $result );
	} else {
		$items = is_array( $result['json']['items'] ?? null ) ? $result['json']['items'] : array();
		$next  = is_string( $result['json']['next_cursor'] ?? null ) ? $result['json']['next_cursor'] : '';
		secure_privacy_render_log_pagination( $filters, $page_no, $next, count( $items ), 'top' );
		secure_privacy_render_log_table( $items, $filters );
		secure_privacy_render_log_pagination( $filters, $page_no, $next, count( $items ), 'bottom' );
	}
	secure_privacy_render_erase_box();
}

/**
 * Query arguments that carry the filters (action is renamed: "action" is taken by admin-post).
 *
 * @param array $filters secure_privacy_log_filters().
 */
function secure_privacy_log_query_args( array $filters ): array {
	if ( isset( $filters['action'] ) ) {
		$filters['consent_action'] = $filters['action'];
		unset( $filters['action'] );
	}
	return $filters;
}

/**
 * The filter bar.
 *
 * @param array $filters Current filters.
 */
function secure_privacy_render_log_filters( array $filters ): void {
	?>
	<form method="get" class="sp-filters" action="<?php echo esc_url( admin_url( 'admin.php' ) ); ?>">
		<input type="hidden" name="page" value="<?php echo esc_attr( SECURE_PRIVACY_LOG_SLUG ); ?>">
		<div class="sp-filter">
			<label for="sp-filter-from"><?php esc_html_e( 'From', 'secure-privacy' ); ?></label>
			<input type="date" id="sp-filter-from" name="from" value="<?php echo esc_attr( $filters['from'] ?? '' ); ?>">
		</div>
		<div class="sp-filter">
			<label for="sp-filter-to"><?php esc_html_e( 'To', 'secure-privacy' ); ?></label>
			<input type="date" id="sp-filter-to" name="to" value="<?php echo esc_attr( $filters['to'] ?? '' ); ?>">
		</div>
		<div class="sp-filter">
			<label for="sp-filter-method"><?php esc_html_e( 'Method', 'secure-privacy' ); ?></label>
			<select id="sp-filter-method" name="method">
				<option value=""><?php esc_html_e( 'All methods', 'secure-privacy' ); ?></option>
				<?php foreach ( secure_privacy_method_labels() as $method => $label ) : ?>
					<option value="<?php echo esc_attr( $method ); ?>" <?php selected( $filters['method'] ?? '', $method ); ?>><?php echo esc_html( $label ); ?></option>
				<?php endforeach; ?>
			</select>
		</div>
		<div class="sp-filter">
			<label for="sp-filter-action"><?php esc_html_e( 'Action', 'secure-privacy' ); ?></label>
			<select id="sp-filter-action" name="consent_action">
				<option value=""><?php esc_html_e( 'All actions', 'secure-privacy' ); ?></option>
				<?php foreach ( secure_privacy_action_labels() as $action => $label ) : ?>
					<option value="<?php echo esc_attr( $action ); ?>" <?php selected( $filters['action'] ?? '', $action ); ?>><?php echo esc_html( $label ); ?></option>
				<?php endforeach; ?>
			</select>
		</div>
		<div class="sp-filter sp-filter-narrow">
			<label for="sp-filter-country"><?php esc_html_e( 'Country', 'secure-privacy' ); ?></label>
			<input type="text" id="sp-filter-country" name="country" maxlength="2" placeholder="SE" value="<?php echo esc_attr( $filters['country'] ?? '' ); ?>">
		</div>
		<div class="sp-filter sp-filter-wide">
			<label for="sp-filter-subject"><?php esc_html_e( 'Visitor id', 'secure-privacy' ); ?></label>
			<input type="text" id="sp-filter-subject" name="subject_id" spellcheck="false" placeholder="xxxxxxxx-xxxx-4xxx-…" value="<?php echo esc_attr( $filters['subject_id'] ?? '' ); ?>">
		</div>
		<div class="sp-filter sp-filter-wide">
			<label for="sp-filter-page"><?php esc_html_e( 'Page URL', 'secure-privacy' ); ?></label>
			<input type="url" id="sp-filter-page" name="page_url" placeholder="<?php echo esc_attr( home_url( '/' ) ); ?>" value="<?php echo esc_attr( $filters['page_url'] ?? '' ); ?>">
		</div>
		<?php if ( isset( $filters['wp_user_id'] ) ) : ?>
			<input type="hidden" name="wp_user_id" value="<?php echo esc_attr( $filters['wp_user_id'] ); ?>">
		<?php endif; ?>
		<div class="sp-filter sp-filter-buttons">
			<?php submit_button( __( 'Filter', 'secure-privacy' ), 'secondary', '', false, array( 'id' => 'sp-filter-submit' ) ); ?>
			<?php if ( $filters ) : ?>
				<a class="button-link" href="<?php echo esc_url( secure_privacy_admin_page_url( SECURE_PRIVACY_LOG_SLUG ) ); ?>"><?php esc_html_e( 'Clear', 'secure-privacy' ); ?></a>
			<?php endif; ?>
		</div>
	</form>
	<?php
}

/**
 * Cursor pagination: "Newest" and "Older".
 *
 * @param array  $filters Current filters.
 * @param int    $page_no Page number shown (for the label only).
 * @param string $next    Cursor of the next page, '' on the last.
 * @param int    $count   Records on this page.
 * @param string $where   top | bottom.
 */
function secure_privacy_render_log_pagination( array $filters, int $page_no, string $next, int $count, string $where ): void {
	$base = secure_privacy_admin_page_url( SECURE_PRIVACY_LOG_SLUG, secure_privacy_log_query_args( $filters ) );
	echo '<div class="tablenav ' . esc_attr( $where ) . '"><div class="tablenav-pages">';
	/* translators: 1: page number, 2: records on the page. */
	printf( '<span class="displaying-num">%s</span> ', esc_html( sprintf( __( 'Page %1$d · %2$d records', 'secure-privacy' ), $page_no, $count ) ) );
	echo '<span class="pagination-links">';
	if ( $page_no > 1 ) {
		printf( '<a class="first-page button" href="%1$s"><span aria-hidden="true">«</span> %2$s</a> ', esc_url( $base ), esc_html__( 'Newest', 'secure-privacy' ) );
	}
	if ( '' !== $next ) {
		printf(
			'<a class="next-page button" data-sp-next href="%1$s">%2$s <span aria-hidden="true">›</span></a>',
			esc_url(
				add_query_arg(
					array(
						'cursor' => $next,
						'paged'  => $page_no + 1,
					),
					$base
				)
			),
			esc_html__( 'Older', 'secure-privacy' )
		);
	}
	echo '</span></div><br class="clear"></div>';
}

/**
 * The records table.
 *
 * @param array $items   Records.
 * @param array $filters Current filters (for links that narrow them).
 */
function secure_privacy_render_log_table( array $items, array $filters ): void {
	$methods = secure_privacy_method_labels();
	$labels  = secure_privacy_category_labels();
	?>
	<table class="wp-list-table widefat fixed striped sp-log">
		<thead>
			<tr>
				<th scope="col" class="column-primary sp-col-time"><?php esc_html_e( 'Received', 'secure-privacy' ); ?></th>
				<th scope="col" class="sp-col-choice"><?php esc_html_e( 'Choice', 'secure-privacy' ); ?></th>
				<th scope="col" class="sp-col-cats"><?php esc_html_e( 'Categories', 'secure-privacy' ); ?></th>
				<th scope="col" class="sp-col-where"><?php esc_html_e( 'Location', 'secure-privacy' ); ?></th>
				<th scope="col" class="sp-col-page"><?php esc_html_e( 'Page', 'secure-privacy' ); ?></th>
				<th scope="col" class="sp-col-subject"><?php esc_html_e( 'Visitor', 'secure-privacy' ); ?></th>
				<th scope="col" class="sp-col-proof"><?php esc_html_e( 'Proof', 'secure-privacy' ); ?></th>
			</tr>
		</thead>
		<tbody>
		<?php if ( ! $items ) : ?>
			<tr class="no-items"><td colspan="7"><?php echo $filters ? esc_html__( 'No record matches these filters.', 'secure-privacy' ) : esc_html__( 'No consent has been recorded yet.', 'secure-privacy' ); ?></td></tr>
		<?php endif; ?>
		<?php
		foreach ( $items as $rec ) :
			if ( ! is_array( $rec ) || ! isset( $rec['id'] ) ) {
				continue;
			}
			$id        = (string) $rec['id'];
			$view      = secure_privacy_admin_page_url( SECURE_PRIVACY_LOG_SLUG, array( 'consent' => $id ) );
			$subject   = (string) ( $rec['subject_id'] ?? '' );
			$page_url  = (string) ( $rec['page_url'] ?? '' );
			$query     = (string) wp_parse_url( $page_url, PHP_URL_QUERY );
			$path      = (string) wp_parse_url( $page_url, PHP_URL_PATH ) . ( '' !== $query ? '?' . $query : '' );
			$shot      = is_array( $rec['screenshot'] ?? null ) ? $rec['screenshot'] : array();
			$location  = implode( ', ', array_filter( array( (string) ( $rec['city'] ?? '' ), (string) ( $rec['country'] ?? '' ) ) ) );
			$is_revoke = 'withdraw' === ( $rec['action'] ?? '' );
			?>
			<tr data-sp-record="<?php echo esc_attr( $id ); ?>">
				<td class="column-primary sp-col-time" data-colname="<?php esc_attr_e( 'Received', 'secure-privacy' ); ?>">
					<strong><a class="row-title" href="<?php echo esc_url( $view ); ?>"><?php echo esc_html( secure_privacy_admin_local_time( (string) ( $rec['received_at'] ?? '' ) ) ); ?></a></strong>
					<div class="row-actions"><span class="view"><a href="<?php echo esc_url( $view ); ?>"><?php esc_html_e( 'View', 'secure-privacy' ); ?></a></span></div>
				</td>
				<td class="sp-col-choice" data-colname="<?php esc_attr_e( 'Choice', 'secure-privacy' ); ?>">
					<span class="sp-pill sp-pill-<?php echo esc_attr( $is_revoke ? 'withdraw' : (string) ( $rec['method'] ?? '' ) ); ?>"><?php echo esc_html( $methods[ $rec['method'] ?? '' ] ?? (string) ( $rec['method'] ?? '' ) ); ?></span>
				</td>
				<td class="sp-col-cats" data-colname="<?php esc_attr_e( 'Categories', 'secure-privacy' ); ?>">
					<?php secure_privacy_render_category_marks( (array) ( $rec['categories'] ?? array() ), $labels ); ?>
				</td>
				<td class="sp-col-where" data-colname="<?php esc_attr_e( 'Location', 'secure-privacy' ); ?>">
					<?php echo esc_html( '' !== $location ? $location : '—' ); ?><br><code class="sp-muted"><?php echo esc_html( (string) ( $rec['ip'] ?? '' ) ); ?></code>
				</td>
				<td class="sp-col-page" data-colname="<?php esc_attr_e( 'Page', 'secure-privacy' ); ?>">
					<a href="<?php echo esc_url( $page_url ); ?>" title="<?php echo esc_attr( $page_url ); ?>" rel="noreferrer" target="_blank"><?php echo esc_html( '' !== $path ? $path : '/' ); ?></a>
				</td>
				<td class="sp-col-subject" data-colname="<?php esc_attr_e( 'Visitor', 'secure-privacy' ); ?>">
					<a href="<?php echo esc_url( secure_privacy_admin_page_url( SECURE_PRIVACY_LOG_SLUG, array( 'subject_id' => $subject ) ) ); ?>" title="<?php esc_attr_e( 'All records of this visitor', 'secure-privacy' ); ?>"><code><?php echo esc_html( substr( $subject, 0, 8 ) ); ?></code></a>
					<?php if ( ! empty( $rec['wp_user_id'] ) ) : ?>
						<span class="dashicons dashicons-admin-users sp-muted" title="<?php echo esc_attr( sprintf( /* translators: %d: user id. */ __( 'Signed-in user #%d', 'secure-privacy' ), (int) $rec['wp_user_id'] ) ); ?>"></span>
					<?php endif; ?>
				</td>
				<td class="sp-col-proof" data-colname="<?php esc_attr_e( 'Proof', 'secure-privacy' ); ?>">
					<?php secure_privacy_render_screenshot_status( $shot ); ?>
				</td>
			</tr>
		<?php endforeach; ?>
		</tbody>
	</table>
	<?php
}

/**
 * Granted/refused marks per category.
 *
 * @param array $categories Category => bool.
 * @param array $labels     Category labels.
 */
function secure_privacy_render_category_marks( array $categories, array $labels ): void {
	echo '<ul class="sp-cats">';
	foreach ( $labels as $key => $label ) {
		if ( SECURE_PRIVACY_REQUIRED_CATEGORY === $key || ! array_key_exists( $key, $categories ) ) {
			continue;
		}
		$on = true === $categories[ $key ];
		printf(
			'<li class="%1$s" data-sp-cat="%2$s"><span class="dashicons %3$s" aria-hidden="true"></span>%4$s<span class="screen-reader-text">: %5$s</span></li>',
			$on ? 'sp-on' : 'sp-off',
			esc_attr( $key ),
			$on ? 'dashicons-yes' : 'dashicons-no-alt',
			esc_html( $label ),
			$on ? esc_html__( 'granted', 'secure-privacy' ) : esc_html__( 'refused', 'secure-privacy' )
		);
	}
	echo '</ul>';
}

/**
 * The screenshot status as a small label: whether there is a picture, whether it is shared
 * with other consents, and in short why there is none.
 *
 * @param array $shot A record's `screenshot` object.
 */
function secure_privacy_render_screenshot_status( array $shot ): void {
	$status = (string) ( $shot['status'] ?? '' );
	$reason = (string) ( $shot['reason'] ?? '' );
	$labels = array(
		'done'    => array( 'dashicons-format-image', __( 'Screenshot', 'secure-privacy' ) ),
		'pending' => array( 'dashicons-clock', __( 'Pending', 'secure-privacy' ) ),
		'failed'  => array( 'dashicons-warning', __( 'Failed', 'secure-privacy' ) ),
		'skipped' => array( 'dashicons-minus', __( 'Skipped', 'secure-privacy' ) ),
	);
	[ $icon, $label ] = $labels[ $status ] ?? array( 'dashicons-minus', $status );
	if ( 'done' === $status && ! empty( $shot['reused'] ) ) {
		$label = __( 'Shared screenshot', 'secure-privacy' );
	} elseif ( 'retrying' === $reason ) {
		$label = __( 'Pending (retrying)', 'secure-privacy' );
	}
	$short = array(
		'not_on_site_origins' => __( 'page not on SP_SITE_ORIGINS', 'secure-privacy' ),
		'email_in_path'       => __( 'e-mail address in the page address', 'secure-privacy' ),
		'not_queued'          => __( 'no render was queued', 'secure-privacy' ),
	);
	printf( '<span class="sp-shot sp-shot-%1$s"><span class="dashicons %2$s" aria-hidden="true"></span> %3$s</span>', esc_attr( $status ), esc_attr( $icon ), esc_html( $label ) );
	if ( isset( $short[ $reason ] ) ) {
		printf( '<br><span class="sp-muted sp-shot-why">%s</span>', esc_html( $short[ $reason ] ) );
	}
}

/**
 * The erase box under the list.
 */
function secure_privacy_render_erase_box(): void {
	?>
	<div class="postbox sp-box sp-erase" id="sp-erase">
		<h2 class="sp-box-title"><span class="dashicons dashicons-trash" aria-hidden="true"></span> <?php esc_html_e( 'Erase personal data', 'secure-privacy' ); ?></h2>
		<div class="inside">
			<p><?php esc_html_e( 'Answer an erasure request: every record of a visitor id (from their consent cookie) or of an IP address loses its personal data and screenshot, and their consents still waiting in the outbox are removed. The ledger keeps a tombstone, so its integrity can still be proven. This cannot be undone.', 'secure-privacy' ); ?></p>
			<p class="description"><?php esc_html_e( 'An IP address matches exactly that address. Records stored truncated to a network before exact matching existed cannot be told apart from the neighbours\' records: they are erased only when you tick the box.', 'secure-privacy' ); ?></p>
			<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" class="sp-inline-form" data-sp-confirm="<?php esc_attr_e( 'Erase every record of this visitor or address? This cannot be undone.', 'secure-privacy' ); ?>">
				<input type="hidden" name="action" value="secure_privacy_erase">
				<?php wp_nonce_field( 'secure_privacy_erase' ); ?>
				<label class="screen-reader-text" for="sp-erase-by"><?php esc_html_e( 'Erase by', 'secure-privacy' ); ?></label>
				<select name="by" id="sp-erase-by">
					<option value="subject_id"><?php esc_html_e( 'Visitor id', 'secure-privacy' ); ?></option>
					<option value="ip"><?php esc_html_e( 'IP address', 'secure-privacy' ); ?></option>
				</select>
				<label class="screen-reader-text" for="sp-erase-value"><?php esc_html_e( 'Visitor id or IP address', 'secure-privacy' ); ?></label>
				<input type="text" name="value" id="sp-erase-value" class="regular-text" required spellcheck="false">
				<label for="sp-erase-unattributed"><input type="checkbox" name="unattributed" value="1" id="sp-erase-unattributed"> <?php esc_html_e( 'By IP address: also older records of its network', 'secure-privacy' ); ?></label>
				<?php submit_button( __( 'Erase records', 'secure-privacy' ), 'delete', 'submit', false, array( 'id' => 'sp-erase-submit' ) ); ?>
			</form>
		</div>
	</div>
	<?php
}

/**
 * The detail view of one record.
 *
 * @param string $id Record id.
 */
function secure_privacy_render_log_record( string $id ): void {
	$back = secure_privacy_admin_page_url( SECURE_PRIVACY_LOG_SLUG );
	echo '<h1 class="wp-heading-inline sp-title"><span class="dashicons dashicons-media-document" aria-hidden="true"></span> ' . esc_html__( 'Consent record', 'secure-privacy' ) . '</h1> ';
	printf( '<a class="page-title-action" href="%s">%s</a>', esc_url( $back ), esc_html__( '← Back to the log', 'secure-privacy' ) );
	echo '<hr class="wp-header-end">';

	$result = secure_privacy_admin_api( 'GET', '/v1/consents/' . rawurlencode( $id ) );
	if ( is_wp_error( $result ) ) {
		if ( 410 === ( $result->get_error_data()['status'] ?? 0 ) ) {
			echo '<div class="notice notice-info inline"><p>' . esc_html__( 'This record was erased: its personal data and screenshot are gone; a tombstone keeps the ledger verifiable.', 'secure-privacy' ) . '</p></div>';
			return;
		}
		secure_privacy_admin_render_error( $result );
		return;
	}
	$rec     = (array) $result['json'];
	$methods = secure_privacy_method_labels();
	$actions = secure_privacy_action_labels();
	$signals = (array) ( $rec['signals'] ?? array() );
	$user    = ! empty( $rec['wp_user_id'] ) ? get_userdata( (int) $rec['wp_user_id'] ) : false;
	$rows    = array(
		__( 'Record id', 'secure-privacy' )      => '<code>' . esc_html( (string) ( $rec['id'] ?? '' ) ) . '</code>',
		__( 'Event id', 'secure-privacy' )       => '<code>' . esc_html( (string) ( $rec['event_id'] ?? '' ) ) . '</code>',
		__( 'Visitor id', 'secure-privacy' )     => sprintf( '<a href="%s"><code>%s</code></a>', esc_url( secure_privacy_admin_page_url( SECURE_PRIVACY_LOG_SLUG, array( 'subject_id' => (string) ( $rec['subject_id'] ?? '' ) ) ) ), esc_html( (string) ( $rec['subject_id'] ?? '' ) ) ),
		__( 'Decision', 'secure-privacy' )       => esc_html( ( $actions[ $rec['action'] ?? '' ] ?? '' ) . ' · ' . ( $methods[ $rec['method'] ?? '' ] ?? '' ) ),
		__( 'Made at', 'secure-privacy' )        => esc_html( secure_privacy_admin_local_time( (string) ( $rec['occurred_at'] ?? '' ) ) ) . ' <span class="sp-muted">(' . esc_html( (string) ( $rec['occurred_at'] ?? '' ) ) . ')</span>',
		__( 'Received at', 'secure-privacy' )    => esc_html( (string) ( $rec['received_at'] ?? '' ) ),
		__( 'Page', 'secure-privacy' )           => sprintf( '<a href="%1$s" rel="noreferrer" target="_blank">%2$s</a>', esc_url( (string) ( $rec['page_url'] ?? '' ) ), esc_html( (string) ( $rec['page_url'] ?? '' ) ) ),
		__( 'IP address', 'secure-privacy' )     => '<code>' . esc_html( (string) ( $rec['ip'] ?? '—' ) ) . '</code>',
		__( 'Location', 'secure-privacy' )       => esc_html( implode( ', ', array_filter( array( (string) ( $rec['city'] ?? '' ), (string) ( $rec['region'] ?? '' ), (string) ( $rec['country'] ?? '' ) ) ) ) ),
		__( 'Policy version', 'secure-privacy' ) => esc_html( (string) ( $rec['policy_version'] ?? '' ) ),
		__( 'Banner version', 'secure-privacy' ) => '<code>' . esc_html( (string) ( $rec['banner_version'] ?? '' ) ) . '</code>',
		__( 'Language', 'secure-privacy' )       => esc_html( (string) ( $rec['language'] ?? '' ) ),
		__( 'Browser signals', 'secure-privacy' ) => esc_html( sprintf( 'GPC: %s · DNT: %s', ! empty( $signals['gpc'] ) ? __( 'yes', 'secure-privacy' ) : __( 'no', 'secure-privacy' ), ! empty( $signals['dnt'] ) ? __( 'yes', 'secure-privacy' ) : __( 'no', 'secure-privacy' ) ) ),
		__( 'User', 'secure-privacy' )           => $user ? sprintf( '<a href="%1$s">%2$s</a>', esc_url( get_edit_user_link( $user->ID ) ), esc_html( $user->display_name ) ) : esc_html__( 'Not signed in', 'secure-privacy' ),
		__( 'User agent', 'secure-privacy' )     => '<span class="sp-ua">' . esc_html( (string) ( $rec['user_agent'] ?? '' ) ) . '</span>',
		__( 'Record hash', 'secure-privacy' )    => '<code class="sp-hash">' . esc_html( (string) ( $rec['hash'] ?? '' ) ) . '</code>',
		__( 'Rule-set version', 'secure-privacy' ) => secure_privacy_log_ruleset_html( $rec ),
		__( 'Ledger', 'secure-privacy' )         => empty( $rec['chain']['position'] )
			? esc_html__( 'Not sealed into the hash chain yet (the worker seals every second).', 'secure-privacy' )
			/* translators: %s: position of the record in the hash chain. */
			: esc_html( sprintf( __( 'Sealed at position %s of the hash chain', 'secure-privacy' ), number_format_i18n( (int) $rec['chain']['position'] ) ) ),
	);
	?>
	<div class="sp-record">
		<div class="postbox sp-box sp-record-facts">
			<h2 class="sp-box-title"><?php esc_html_e( 'What was decided', 'secure-privacy' ); ?></h2>
			<div class="inside">
				<?php secure_privacy_render_category_marks( (array) ( $rec['categories'] ?? array() ), secure_privacy_category_labels() ); ?>
				<table class="widefat striped sp-facts-table">
					<tbody>
					<?php foreach ( $rows as $label => $html ) : ?>
						<tr><th scope="row"><?php echo esc_html( $label ); ?></th><td><?php echo $html; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- every part escaped above. ?></td></tr>
					<?php endforeach; ?>
					</tbody>
				</table>
			</div>
		</div>
		<div class="postbox sp-box sp-record-proof">
			<h2 class="sp-box-title"><?php esc_html_e( 'What the page offered', 'secure-privacy' ); ?></h2>
			<div class="inside">
				<?php
				$shot = is_array( $rec['screenshot'] ?? null ) ? $rec['screenshot'] : array();
				if ( 'done' === ( $shot['status'] ?? '' ) ) {
					$src = wp_nonce_url(
						add_query_arg(
							array(
								'action' => 'secure_privacy_screenshot',
								'id'     => $id,
							),
							admin_url( 'admin-post.php' )
						),
						'secure_privacy_screenshot'
					);
					printf(
						'<a href="%1$s" target="_blank" class="sp-shot-link"><img id="sp-screenshot" src="%1$s" alt="%2$s"></a>',
						esc_url( $src ),
						esc_attr__( 'Screenshot of the page with the consent banner\'s first layer, as the sidecar\'s browser rendered it for an anonymous visitor', 'secure-privacy' )
					);
				} else {
					echo '<p>';
					secure_privacy_render_screenshot_status( $shot );
					echo '</p>';
				}
				secure_privacy_render_screenshot_account( $rec );
				?>
			</div>
		</div>
		<div class="postbox sp-box sp-record-actions">
			<h2 class="sp-box-title"><?php esc_html_e( 'Erase', 'secure-privacy' ); ?></h2>
			<div class="inside">
				<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" data-sp-confirm="<?php esc_attr_e( 'Delete this record? Its personal data and screenshot are erased for good.', 'secure-privacy' ); ?>">
					<input type="hidden" name="action" value="secure_privacy_delete_consent">
					<input type="hidden" name="id" value="<?php echo esc_attr( $id ); ?>">
					<?php wp_nonce_field( 'secure_privacy_delete_consent' ); ?>
					<?php submit_button( __( 'Delete this record', 'secure-privacy' ), 'delete', 'submit', false, array( 'id' => 'sp-delete-record' ) ); ?>
				</form>
				<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" data-sp-confirm="<?php esc_attr_e( 'Erase every record of this visitor? This cannot be undone.', 'secure-privacy' ); ?>">
					<input type="hidden" name="action" value="secure_privacy_erase">
					<input type="hidden" name="by" value="subject_id">
					<input type="hidden" name="value" value="<?php echo esc_attr( (string) ( $rec['subject_id'] ?? '' ) ); ?>">
					<?php wp_nonce_field( 'secure_privacy_erase' ); ?>
					<?php submit_button( __( 'Erase all records of this visitor', 'secure-privacy' ), 'delete', 'submit', false, array( 'id' => 'sp-erase-subject' ) ); ?>
				</form>
			</div>
		</div>
	</div>
	<?php
}

/**
 * Seconds since the epoch of an RFC 3339 time from the sidecar, or null; with its fraction
 * (the sidecar's times have microseconds), so that two times of the same second still compare
 * the right way round.
 *
 * @param mixed $utc The time, e.g. 2026-01-31T19:20:00.123456Z.
 */
function secure_privacy_utc_seconds( $utc ): ?float {
	if ( ! is_string( $utc ) || '' === $utc ) {
		return null;
	}
	try {
		$time = new DateTimeImmutable( $utc, new DateTimeZone( 'UTC' ) );
	} catch ( Exception $e ) {
		return null;
	}
	return (float) $time->format( 'U.u' );
}

/**
 * What a record's screenshot is, in sentences that claim no more than the record holds: when
 * the picture was rendered against when the decision was made, whether the render was made
 * after this consent was received, or predates it or is shared, which state of the banner it shows, and,
 * without a picture, why not and whether one is still coming.
 *
 * @param array    $rec A record from the sidecar (its `screenshot` object, docs/api.md §4.2).
 * @param int|null $now The current time (for tests); time() when null.
 * @return array<int, array{id: string, class: string, text: string}> Sentences in order.
 */
function secure_privacy_screenshot_account( array $rec, ?int $now = null ): array {
	$shot   = is_array( $rec['screenshot'] ?? null ) ? $rec['screenshot'] : array();
	$status = (string) ( $shot['status'] ?? '' );
	$out    = array();
	$add    = static function ( string $id, string $class, string $text ) use ( &$out ): void {
		$out[] = array(
			'id'    => $id,
			'class' => $class,
			'text'  => $text,
		);
	};
	if ( 'done' !== $status ) {
		$reason = (string) ( $shot['reason'] ?? '' );
		$error  = (string) ( $shot['error'] ?? '' );
		$now    = $now ?? time();
		switch ( $reason ) {
			case 'awaiting_seal':
				$add( 'sp-shot-missing', 'sp-muted', __( 'No picture yet: the record waits to be sealed into the ledger by the sidecar\'s worker, which then renders the page.', 'secure-privacy' ) );
				$received = secure_privacy_utc_seconds( $rec['received_at'] ?? null );
				if ( null !== $received && $now - $received > 2 * MINUTE_IN_SECONDS ) {
					/* translators: %s: a duration, e.g. "3 hours". */
					$add( 'sp-shot-stuck', 'sp-warn', sprintf( __( 'It was received %s ago and is still not sealed, though the worker seals every second: check that the sidecar\'s worker (sidecar worker) is running.', 'secure-privacy' ), secure_privacy_admin_duration( (int) round( $now - $received ) ) ) );
				}
				break;
			case 'awaiting_render':
				$add( 'sp-shot-missing', 'sp-muted', __( 'No picture yet: the record is sealed and its render is queued for the sidecar\'s worker.', 'secure-privacy' ) );
				break;
			case 'retrying':
				/* translators: %s: why the last attempt failed, as the sidecar stored it. */
				$add( 'sp-shot-missing', 'sp-warn', sprintf( __( 'No picture yet: the last attempt to render the page failed (%s). The worker tries again.', 'secure-privacy' ), $error ) );
				break;
			case 'not_on_site_origins':
				$origin = secure_privacy_url_origin( (string) ( $rec['page_url'] ?? '' ) );
				$add(
					'sp-shot-missing',
					'sp-warn',
					sprintf(
						/* translators: 1: the reason the sidecar stored, 2: a site origin such as https://example.com. */
						__( 'No screenshot will be taken for this record: its page is not on the sidecar\'s SP_SITE_ORIGINS, the only sites its browser loads (stored reason: "%1$s"). Add %2$s to SP_SITE_ORIGINS and restart the sidecar: consents given after that get screenshots; this one keeps none.', 'secure-privacy' ),
						$error,
						'' !== $origin ? $origin : __( 'this site\'s origin', 'secure-privacy' )
					)
				);
				break;
			case 'email_in_path':
				/* translators: %s: the reason the sidecar stored. */
				$add( 'sp-shot-missing', 'sp-muted', sprintf( __( 'No screenshot will be taken for this record: the page\'s address holds an e-mail address, and the sidecar does not load such pages (stored reason: "%s").', 'secure-privacy' ), $error ) );
				break;
			case 'not_queued':
				$add( 'sp-shot-missing', 'sp-muted', __( 'No screenshot will be taken for this record: no render was queued for it when it was sealed.', 'secure-privacy' ) );
				break;
			case 'render_failed':
				/* translators: %s: the reason the sidecar stored. */
				$add( 'sp-shot-missing', 'sp-warn', sprintf( __( 'No screenshot: rendering the page failed for good (%s). Later consents on this page get a new attempt; this one keeps none.', 'secure-privacy' ), $error ) );
				break;
			default:
				if ( 'pending' === $status ) {
					$add( 'sp-shot-missing', 'sp-muted', __( 'No picture yet: a render is due.', 'secure-privacy' ) );
				} elseif ( '' !== $error ) {
					/* translators: %s: the reason the sidecar stored. */
					$add( 'sp-shot-missing', 'sp-muted', sprintf( __( 'No screenshot will be taken for this record (stored reason: "%s").', 'secure-privacy' ), $error ) );
				} else {
					$add( 'sp-shot-missing', 'sp-muted', __( 'There is no screenshot for this record.', 'secure-privacy' ) );
				}
		}
		return $out;
	}

	$taken   = secure_privacy_utc_seconds( $shot['taken_at'] ?? null );
	$decided = secure_privacy_utc_seconds( $rec['occurred_at'] ?? null );
	$recvd   = secure_privacy_utc_seconds( $rec['received_at'] ?? null );
	if ( null !== $taken && null !== $decided ) {
		$gap   = secure_privacy_admin_duration( (int) round( abs( $taken - $decided ) ) );
		$local = secure_privacy_admin_local_time( (string) $shot['taken_at'] );
		$after = $taken >= $decided;
		$early = null !== $recvd && $taken < $recvd; // Made before this consent reached the sidecar.
		if ( empty( $shot['reused'] ) ) {
			$text = $after
				/* translators: 1: date and time, 2: a duration, e.g. "3 minutes". */
				? sprintf( __( 'Rendered %1$s, %2$s after the decision and after the sidecar received it.', 'secure-privacy' ), $local, $gap )
				/* translators: 1: date and time, 2: a duration, e.g. "3 minutes". */
				: sprintf( __( 'Rendered %1$s, %2$s before the decision as WordPress timed it, but after the sidecar received it: the two servers\' clocks differ.', 'secure-privacy' ), $local, $gap );
			$add( 'sp-shot-when', '', $text );
		} elseif ( $early ) {
			$add(
				'sp-shot-when',
				'sp-warn',
				$after
					/* translators: 1: date and time, 2: a duration, e.g. "3 minutes". */
					? sprintf( __( 'Rendered %1$s, %2$s after the decision but before the sidecar received it, and reused: it was made for an earlier consent.', 'secure-privacy' ), $local, $gap )
					/* translators: 1: date and time, 2: a duration, e.g. "2 hours". */
					: sprintf( __( 'Rendered %1$s, %2$s before the decision, and reused: it was made for an earlier consent.', 'secure-privacy' ), $local, $gap )
			);
		} else {
			$add(
				'sp-shot-when',
				'',
				$after
					/* translators: 1: date and time, 2: a duration, e.g. "3 minutes". */
					? sprintf( __( 'Rendered %1$s, %2$s after the decision.', 'secure-privacy' ), $local, $gap )
					/* translators: 1: date and time, 2: a duration, e.g. "3 minutes". */
					: sprintf( __( 'Rendered %1$s, %2$s before the decision.', 'secure-privacy' ), $local, $gap )
			);
		}
		if ( ! empty( $shot['reused'] ) ) {
			// A render older than this consent was not taken for it; one made after it arrived
			// was made for it or for another consent it also proves: the record cannot tell.
			$add(
				'sp-shot-shared',
				'',
				$early
					? __( 'One render proves every consent given on the same page with the same banner version, viewport and language within the sidecar\'s freshness window (SP_SCREENSHOT_FRESHNESS): this picture is shared with other consents, not taken for this one.', 'secure-privacy' )
					: __( 'One render proves every consent given on the same page with the same banner version, viewport and language within the sidecar\'s freshness window (SP_SCREENSHOT_FRESHNESS): this picture is shared with other consents. It was rendered after this consent reached the sidecar, for this consent or for another of them.', 'secure-privacy' )
			);
		}
	}
	if ( ! empty( $shot['viewport'] ) ) {
		$add(
			'sp-shot-view',
			'',
			sprintf(
				/* translators: 1: desktop or mobile, 2: width, 3: height in pixels, 4: language code. */
				__( '%1$s view %2$d×%3$d, language %4$s.', 'secure-privacy' ),
				'mobile' === $shot['viewport'] ? __( 'Mobile', 'secure-privacy' ) : __( 'Desktop', 'secure-privacy' ),
				(int) ( $shot['width'] ?? 0 ),
				(int) ( $shot['height'] ?? 0 ),
				(string) ( $rec['language'] ?? '' )
			)
		);
	}
	if ( 'first_layer_anonymous' === ( $shot['shows'] ?? '' ) ) {
		$add( 'sp-shot-shows', '', __( 'It shows the banner\'s first layer as it is offered to an anonymous visitor on this page: not the visitor\'s own choice, the preferences view, or the page as a signed-in user sees it.', 'secure-privacy' ) );
	}
	$method = (string) ( $rec['method'] ?? '' );
	$action = (string) ( $rec['action'] ?? '' );
	if ( 'withdraw' === $action || 'withdraw' === $method ) {
		$add( 'sp-shot-choice', 'sp-muted', __( 'The visitor withdrew consent from the reopened banner, which the picture does not show; the withdrawal itself is in the record.', 'secure-privacy' ) );
	} elseif ( 'custom' === $method ) {
		$add( 'sp-shot-choice', 'sp-muted', __( 'The visitor chose their own settings in the preferences view, which the picture does not show; the choice itself is in the record.', 'secure-privacy' ) );
	} elseif ( in_array( $method, array( 'gpc', 'dnt' ), true ) ) {
		$add( 'sp-shot-choice', 'sp-muted', __( 'The browser\'s privacy signal (GPC or Do Not Track) decided part of this choice; a picture cannot show a signal, which is in the record.', 'secure-privacy' ) );
	} elseif ( 'update' === $action ) {
		$add( 'sp-shot-choice', 'sp-muted', __( 'This decision changed an earlier one from the reopened banner, which the picture does not show.', 'secure-privacy' ) );
	}
	if ( ! empty( $rec['wp_user_id'] ) ) {
		$add( 'sp-shot-user', 'sp-muted', __( 'The visitor was signed in to WordPress; the picture shows the page as an anonymous visitor sees it.', 'secure-privacy' ) );
	}
	if ( array_key_exists( 'banner_version_match', $shot ) ) {
		if ( ! empty( $shot['banner_version_match'] ) ) {
			$add( 'sp-banner-match', 'sp-ok', __( 'The page showed the same banner version the consent was recorded with.', 'secure-privacy' ) );
		} else {
			$add(
				'sp-banner-match',
				'sp-warn',
				sprintf(
					/* translators: 1: banner version the page showed, 2: banner version recorded. */
					__( 'The page showed banner version %1$s, but the consent was recorded with %2$s: the picture may not show what the visitor saw.', 'secure-privacy' ),
					(string) ( $shot['rendered_banner_version'] ?? '' ),
					(string) ( $rec['banner_version'] ?? '' )
				)
			);
		}
	}
	return $out;
}

/**
 * The origin (scheme, host and port) of a URL, or '' when it has none.
 *
 * @param string $url A URL.
 */
function secure_privacy_url_origin( string $url ): string {
	$parts = wp_parse_url( $url );
	if ( ! is_array( $parts ) || empty( $parts['scheme'] ) || empty( $parts['host'] ) ) {
		return '';
	}
	return strtolower( $parts['scheme'] ) . '://' . strtolower( $parts['host'] ) . ( isset( $parts['port'] ) ? ':' . (int) $parts['port'] : '' );
}

/**
 * The record page's account of its screenshot (secure_privacy_screenshot_account()), as a list.
 *
 * @param array $rec A record from the sidecar.
 */
function secure_privacy_render_screenshot_account( array $rec ): void {
	$lines = secure_privacy_screenshot_account( $rec );
	if ( ! $lines ) {
		return;
	}
	echo '<ul class="sp-evidence">';
	foreach ( $lines as $line ) {
		printf( '<li id="%1$s"%2$s>%3$s</li>', esc_attr( $line['id'] ), '' !== $line['class'] ? ' class="' . esc_attr( $line['class'] ) . '"' : '', esc_html( $line['text'] ) );
	}
	echo '</ul>';
}

/**
 * admin-post (GET): pass a record's screenshot through to the browser.
 */
function secure_privacy_handle_screenshot(): void {
	secure_privacy_admin_guard( 'secure_privacy_screenshot' );
	$id = isset( $_GET['id'] ) ? strtolower( sanitize_text_field( wp_unslash( $_GET['id'] ) ) ) : '';
	if ( ! secure_privacy_is_uuid4( $id ) ) {
		wp_die( esc_html__( 'No such record.', 'secure-privacy' ), '', array( 'response' => 404 ) );
	}
	$query  = isset( $_GET['size'] ) && 'thumb' === $_GET['size'] ? array( 'size' => 'thumb' ) : array();
	$result = secure_privacy_admin_api( 'GET', '/v1/consents/' . $id . '/screenshot', $query );
	if ( is_wp_error( $result ) ) {
		$status = (int) ( $result->get_error_data()['status'] ?? 0 );
		wp_die( esc_html( $result->get_error_message() ), '', array( 'response' => $status >= 400 ? $status : 502 ) );
	}
	$type = strtolower( trim( explode( ';', $result['type'] )[0] ) );
	if ( ! in_array( $type, array( 'image/webp', 'image/png', 'image/jpeg' ), true ) ) {
		wp_die( esc_html__( 'The sidecar sent something that is not an image.', 'secure-privacy' ), '', array( 'response' => 502 ) );
	}
	nocache_headers();
	header( 'Content-Type: ' . $type );
	header( 'Cache-Control: private, max-age=3600' );
	header( 'X-Content-Type-Options: nosniff' );
	header( 'Content-Length: ' . strlen( $result['body'] ) );
	echo $result['body']; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- image bytes of a checked type.
	exit;
}

/** Prefix of the private directories exports pass through (in the system's temp dir). */
const SECURE_PRIVACY_EXPORT_DIR_PREFIX = 'secure-privacy-export-';

/**
 * admin-post (GET): an export of the filtered records as a download.
 *
 * The export holds every record with its IP address, so it never lies where another user of
 * the machine could read it: it passes through a file of mode 0600 in a directory of mode
 * 0700 with a random name, removed when the request ends whatever ends it (the download is
 * sent, the sidecar fails, the browser goes away mid-download, a fatal error or a timeout:
 * a shutdown function runs in every case). Directories of a process killed outright are
 * swept by the next export after an hour. (The file lets the sidecar's error answer turn
 * into a notice instead of a broken download.)
 */
function secure_privacy_handle_export(): void {
	secure_privacy_admin_guard( 'secure_privacy_export' );
	$format  = isset( $_GET['format'] ) && 'ndjson' === $_GET['format'] ? 'ndjson' : 'csv';
	$filters = secure_privacy_log_filters( $_GET );
	$back    = secure_privacy_admin_page_url( SECURE_PRIVACY_LOG_SLUG );
	secure_privacy_export_sweep();
	$file = secure_privacy_export_file();
	if ( is_wp_error( $file ) ) {
		secure_privacy_admin_redirect( $back, 'error', $file->get_error_message() );
	}
	register_shutdown_function( 'secure_privacy_export_remove', $file );
	try {
		$result = secure_privacy_admin_api(
			'GET',
			'/v1/consents/export',
			array_merge( $filters, array( 'format' => $format ) ),
			null,
			array(
				'stream'   => true,
				'filename' => $file,
				'timeout'  => 300,
			)
		);
		if ( is_wp_error( $result ) ) {
			secure_privacy_export_remove( $file );
			secure_privacy_admin_redirect( $back, 'error', $result->get_error_message() );
		}
		$name = sprintf( 'consents-%s.%s', gmdate( 'Ymd\THis\Z' ), $format );
		nocache_headers();
		header( 'Content-Type: ' . ( 'csv' === $format ? 'text/csv; charset=utf-8' : 'application/x-ndjson' ) );
		header( 'Content-Disposition: attachment; filename="' . $name . '"' );
		header( 'X-Content-Type-Options: nosniff' );
		header( 'Content-Length: ' . (string) filesize( $file ) );
		readfile( $file ); // phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_readfile -- a download of our private temp file.
	} finally {
		secure_privacy_export_remove( $file );
	}
	exit;
}

/**
 * A new empty file of mode 0600 in a new directory of mode 0700 (random name) in the
 * system's temp dir.
 *
 * @return string|WP_Error Its path, or why it could not be made safely.
 */
function secure_privacy_export_file() {
	$dir = get_temp_dir() . SECURE_PRIVACY_EXPORT_DIR_PREFIX . wp_generate_password( 16, false );
	// phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_mkdir -- must be 0700, made atomically.
	if ( ! @mkdir( $dir, 0700 ) || is_link( $dir ) ) { // phpcs:ignore WordPress.PHP.NoSilencedErrors.Discouraged -- the failure is handled.
		return new WP_Error( 'secure_privacy_export_tmp', __( 'The export could not make a private temporary directory.', 'secure-privacy' ) );
	}
	$file = $dir . '/export';
	// 'x': created here, never an existing file or a link; 0600 set before anything is written.
	$handle = @fopen( $file, 'x' ); // phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_fopen, WordPress.PHP.NoSilencedErrors.Discouraged
	if ( false === $handle || ! chmod( $file, 0600 ) || 0 !== ( fileperms( $dir ) & 0077 ) ) { // phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_chmod
		if ( false !== $handle ) {
			fclose( $handle ); // phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_fclose
		}
		secure_privacy_export_remove( $file );
		return new WP_Error( 'secure_privacy_export_tmp', __( 'The export could not make a private temporary file.', 'secure-privacy' ) );
	}
	fclose( $handle ); // phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_fclose
	return $file;
}

/**
 * Remove an export's file and its directory (a shutdown function: safe to call twice).
 *
 * @param string $file secure_privacy_export_file().
 */
function secure_privacy_export_remove( string $file ): void {
	if ( is_file( $file ) ) {
		unlink( $file ); // phpcs:ignore WordPress.WP.AlternativeFunctions.unlink_unlink -- our temp file.
	}
	$dir = dirname( $file );
	if ( str_starts_with( basename( $dir ), SECURE_PRIVACY_EXPORT_DIR_PREFIX ) && is_dir( $dir ) && ! is_link( $dir ) ) {
		@rmdir( $dir ); // phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_rmdir, WordPress.PHP.NoSilencedErrors.Discouraged -- gone already is fine.
	}
}

/**
 * Remove what exports of processes killed outright (no shutdown function ran) left behind,
 * an hour on.
 */
function secure_privacy_export_sweep(): void {
	foreach ( (array) glob( get_temp_dir() . SECURE_PRIVACY_EXPORT_DIR_PREFIX . '*', GLOB_ONLYDIR ) as $dir ) {
		if ( is_string( $dir ) && ! is_link( $dir ) && is_writable( $dir ) && filemtime( $dir ) < time() - HOUR_IN_SECONDS ) { // phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_is_writable
			secure_privacy_export_remove( $dir . '/export' );
		}
	}
}

/**
 * admin-post (POST): delete one record.
 */
function secure_privacy_handle_delete_consent(): void {
	secure_privacy_admin_guard( 'secure_privacy_delete_consent' );
	$id = isset( $_POST['id'] ) ? strtolower( sanitize_text_field( wp_unslash( $_POST['id'] ) ) ) : '';
	if ( ! secure_privacy_is_uuid4( $id ) ) {
		secure_privacy_admin_redirect( secure_privacy_admin_page_url( SECURE_PRIVACY_LOG_SLUG ), 'error', __( 'No such record.', 'secure-privacy' ) );
	}
	$result = secure_privacy_admin_api( 'DELETE', '/v1/consents/' . $id );
	if ( is_wp_error( $result ) ) {
		secure_privacy_admin_redirect( secure_privacy_admin_page_url( SECURE_PRIVACY_LOG_SLUG, array( 'consent' => $id ) ), 'error', $result->get_error_message() );
	}
	secure_privacy_admin_redirect( secure_privacy_admin_page_url( SECURE_PRIVACY_LOG_SLUG ), 'success', __( 'The record was deleted.', 'secure-privacy' ) );
}

/**
 * admin-post (POST): erase every record of a visitor id or an IP address, in the sidecar and
 * in the outbox (secure_privacy_erase_visitor()), and say how many of each.
 */
function secure_privacy_handle_erase(): void {
	secure_privacy_admin_guard( 'secure_privacy_erase' );
	$by    = isset( $_POST['by'] ) && 'ip' === $_POST['by'] ? 'ip' : 'subject_id';
	$value = isset( $_POST['value'] ) ? trim( sanitize_text_field( wp_unslash( $_POST['value'] ) ) ) : '';
	$back  = secure_privacy_admin_page_url( SECURE_PRIVACY_LOG_SLUG );
	$valid = 'ip' === $by ? false !== filter_var( $value, FILTER_VALIDATE_IP ) : secure_privacy_is_uuid4( $value );
	if ( ! $valid ) {
		secure_privacy_admin_redirect( $back, 'error', 'ip' === $by ? __( 'That is not an IP address.', 'secure-privacy' ) : __( 'That is not a visitor id (a UUID from the consent cookie).', 'secure-privacy' ) );
	}
	$done = secure_privacy_erase_visitor( $by, $value, 'ip' === $by && ! empty( $_POST['unattributed'] ) );
	[ $type, $message ] = secure_privacy_erase_message( $done );
	secure_privacy_admin_redirect( $back, $type, $message );
}

/**
 * The notice after an erasure: records erased in the sidecar and waiting consents removed
 * from the outbox, the sidecar's error if it failed, older records it could not attribute.
 *
 * @param array $done secure_privacy_erase_visitor().
 * @return array{0: string, 1: string} Notice type and text.
 */
function secure_privacy_erase_message( array $done ): array {
	/* translators: %d: number of consents removed from the outbox. */
	$outbox = sprintf( _n( '%d consent waiting in the outbox was removed.', '%d consents waiting in the outbox were removed.', $done['outbox'], 'secure-privacy' ), $done['outbox'] );
	if ( $done['error'] instanceof WP_Error ) {
		/* translators: 1: error message, 2: what happened in the outbox. */
		return array( 'error', sprintf( __( 'The sidecar could not erase the records: %1$s %2$s', 'secure-privacy' ), $done['error']->get_error_message(), $outbox ) );
	}
	/* translators: %d: number of erased records. */
	$text = sprintf( _n( 'Erased %d record.', 'Erased %d records.', $done['erased'], 'secure-privacy' ), $done['erased'] ) . ' ' . $outbox;
	if ( $done['unattributed'] > 0 ) {
		$text .= ' ' . sprintf(
			/* translators: %d: number of records. */
			_n( '%d older record of the same network, stored before addresses could be matched exactly, may belong to this address: tick "also older records of its network" to erase it too.', '%d older records of the same network, stored before addresses could be matched exactly, may belong to this address: tick "also older records of its network" to erase them too.', $done['unattributed'], 'secure-privacy' ),
			$done['unattributed']
		);
		return array( 'warning', $text );
	}
	return array( 'success', $text );
}

/**
 * The record's rule-set version (issue 14, includes/ruleset-version.php) and the scan that
 * tested those rules: the newest finished scan whose report has the same version
 * (GET /v1/scans?ruleset_version=), linked on the Site scan page. "Proved" only when that
 * scan found no violation; otherwise it says how many it found.
 *
 * @param array $rec The record (GET /v1/consents/<id>).
 * @return string HTML, every part escaped.
 */
function secure_privacy_log_ruleset_html( array $rec ): string {
	$version = (string) ( $rec['rules_version'] ?? '' );
	if ( 1 !== preg_match( '/^[0-9a-f]{64}$/D', $version ) ) {
		return esc_html__( 'None: recorded before rule-set versions, or sent by an older version of the plugin.', 'secure-privacy' );
	}
	$html = '<code class="sp-hash" id="sp-rules-version">' . esc_html( $version ) . '</code>';
	if ( function_exists( 'secure_privacy_ruleset_version' ) && secure_privacy_ruleset_version() === $version ) {
		$html .= ' <span class="sp-muted">' . esc_html__( '(the rules in force now)', 'secure-privacy' ) . '</span>';
	}
	$found = secure_privacy_admin_api(
		'GET',
		'/v1/scans',
		array(
			'ruleset_version' => $version,
			'limit'           => 1,
		)
	);
	$scan  = is_wp_error( $found ) ? null : ( $found['json']['items'][0] ?? null );
	$html .= '<br><span id="sp-rules-scan">';
	if ( is_wp_error( $found ) ) {
		$html .= esc_html__( 'The sidecar could not be asked which scans tested these rules.', 'secure-privacy' );
	} elseif ( ! is_array( $scan ) || empty( $scan['id'] ) ) {
		$html .= esc_html__( 'No stored scan tested these rules: run one on the Site scan page.', 'secure-privacy' );
	} else {
		$link       = sprintf(
			'<a href="%1$s">%2$s</a>',
			esc_url( secure_privacy_scan_page_url( (string) $scan['id'] ) ),
			esc_html( secure_privacy_admin_local_time( (string) ( $scan['finished_at'] ?? '' ) ) )
		);
		$violations = (int) ( $scan['violations'] ?? 0 );
		$html      .= 0 === $violations
			/* translators: %s: the date of the scan, linked to its report. */
			? sprintf( esc_html__( 'Proved by the scan of %s: no tracker before consent or after Reject all.', 'secure-privacy' ), $link )
			/* translators: 1: the date of the scan, linked to its report; 2: how many violations it found. */
			: sprintf( esc_html( _n( 'Tested by the scan of %1$s, which found %2$s violation.', 'Tested by the scan of %1$s, which found %2$s violations.', $violations, 'secure-privacy' ) ), $link, esc_html( number_format_i18n( $violations ) ) );
	}
	return $html . '</span>';
}
