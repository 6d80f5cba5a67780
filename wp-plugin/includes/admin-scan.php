<?php
/**
 * The Site scan page (issue 13): start a scan, watch its progress, read the report grouped by
 * service or plugin with violations first, set a category per item (a site rule), manage the
 * site rules, the automatic re-scan's frequency, and the history of scans; and the admin
 * notice when an automatic scan found something new. Every sidecar call runs on the server
 * (the progress poll goes through admin-ajax.php): the admin token never reaches the browser.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/** Seen-at entries shown per item before "more". */
const SECURE_PRIVACY_SCAN_SEEN_SHOWN = 3;

/**
 * Render the Site scan page (?scan=<id> shows that scan, else the newest).
 */
function secure_privacy_render_scan_page(): void {
	if ( ! current_user_can( SECURE_PRIVACY_CAPABILITY ) ) {
		return;
	}
	// phpcs:disable WordPress.Security.NonceVerification.Recommended -- a read-only view.
	$wanted = isset( $_GET['scan'] ) ? sanitize_text_field( wp_unslash( $_GET['scan'] ) ) : '';
	$cursor = isset( $_GET['cursor'] ) ? sanitize_text_field( wp_unslash( $_GET['cursor'] ) ) : '';
	// phpcs:enable
	$cursor  = 1 === preg_match( '/^[A-Za-z0-9_.=-]{1,200}$/D', $cursor ) ? $cursor : '';
	$history = secure_privacy_scan_list( $cursor );
	$id      = secure_privacy_scan_id_ok( $wanted ) ? $wanted : '';
	if ( '' === $id && '' === $cursor && ! is_wp_error( $history ) && $history['items'] ) {
		$newest = $history['items'][0]['id'] ?? '';
		$id     = secure_privacy_scan_id_ok( is_int( $newest ) ? (string) $newest : $newest ) ? (string) $newest : '';
	}
	$report = '' === $id ? null : secure_privacy_scan_get( $id );
	if ( is_array( $report ) && in_array( $report['status'] ?? '', array( 'done', 'failed' ), true ) ) {
		$report['id'] = $report['id'] ?? $id;
		secure_privacy_scan_observe( $report, true ); // The admin is looking at it: no notice.
	}

	echo '<div class="wrap sp-wrap sp-scan">';
	echo '<h1 class="wp-heading-inline sp-title"><span class="dashicons dashicons-search" aria-hidden="true"></span> ' . esc_html__( 'Site scan', 'secure-privacy' ) . '</h1>';
	echo '<hr class="wp-header-end">';
	echo '<p class="sp-lead">' . esc_html__( 'The scan visits this site\'s pages as an anonymous visitor, three times each: before any choice, after Reject all and after Accept all. It lists every cookie, stored key and third-party request, says which category each belongs to and where that came from, and flags what runs before consent or after a refusal.', 'secure-privacy' ) . '</p>';

	secure_privacy_scan_render_controls();
	if ( is_wp_error( $report ) ) {
		secure_privacy_admin_render_error( $report );
	} elseif ( is_array( $report ) ) {
		secure_privacy_scan_render_report( $report + array( 'id' => $id ) );
	} elseif ( ! is_wp_error( $history ) ) {
		echo '<div class="notice notice-info inline"><p>' . esc_html__( 'No scan has been run yet. Start the first one above.', 'secure-privacy' ) . '</p></div>';
	}
	secure_privacy_scan_render_rules( secure_privacy_site_rules() );
	if ( is_wp_error( $history ) ) {
		secure_privacy_admin_render_error( $history );
	} else {
		secure_privacy_scan_render_history( $history['items'], $id, $history['next_cursor'], '' !== $cursor );
	}
	echo '</div>';
}

/**
 * The "Start a scan" and "Automatic scans" forms.
 */
function secure_privacy_scan_render_controls(): void {
	$frequency = secure_privacy_scan_frequency();
	$labels    = array(
		'weekly' => __( 'Weekly, and after a plugin or theme is activated or updated', 'secure-privacy' ),
		'daily'  => __( 'Daily, and after a plugin or theme is activated or updated', 'secure-privacy' ),
		'off'    => __( 'Off', 'secure-privacy' ),
	);
	?>
	<div class="sp-scan-controls">
		<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" class="sp-inline-form postbox sp-box">
			<input type="hidden" name="action" value="secure_privacy_scan_start">
			<?php wp_nonce_field( 'secure_privacy_scan_start' ); ?>
			<label for="sp-scan-max"><?php esc_html_e( 'Pages to visit at most', 'secure-privacy' ); ?></label>
			<input type="number" id="sp-scan-max" name="max_pages" min="1" max="<?php echo esc_attr( (string) SECURE_PRIVACY_SCAN_PAGES_LIMIT_ADMIN ); ?>" value="50" class="small-text">
			<?php submit_button( __( 'Start a scan', 'secure-privacy' ), 'primary', 'submit', false, array( 'id' => 'sp-scan-start' ) ); ?>
		</form>
		<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" class="sp-inline-form postbox sp-box">
			<input type="hidden" name="action" value="secure_privacy_scan_schedule">
			<?php wp_nonce_field( 'secure_privacy_scan_schedule' ); ?>
			<label for="sp-scan-frequency"><?php esc_html_e( 'Automatic scans', 'secure-privacy' ); ?></label>
			<select id="sp-scan-frequency" name="scan_frequency">
				<?php foreach ( $labels as $value => $label ) : ?>
					<option value="<?php echo esc_attr( $value ); ?>" <?php selected( $frequency, $value ); ?>><?php echo esc_html( $label ); ?></option>
				<?php endforeach; ?>
			</select>
			<?php submit_button( __( 'Save', 'secure-privacy' ), 'secondary', 'submit', false, array( 'id' => 'sp-scan-frequency-save' ) ); ?>
		</form>
	</div>
	<?php
}

/**
 * One scan: its progress while it runs, else its summary and its items grouped.
 *
 * @param array $report A scan report (CONTRACT §8).
 */
function secure_privacy_scan_render_report( array $report ): void {
	$id       = (string) $report['id'];
	$status   = (string) ( $report['status'] ?? '' );
	$progress = is_array( $report['progress'] ?? null ) ? $report['progress'] : array();
	$started  = (string) ( $report['started_at'] ?? $report['created_at'] ?? '' );
	echo '<section class="sp-scan-report" aria-labelledby="sp-scan-heading">';
	printf(
		'<h2 id="sp-scan-heading">%s</h2>',
		esc_html(
			'' !== $started
				/* translators: %s: date and time the scan started. */
				? sprintf( __( 'Scan of %s', 'secure-privacy' ), secure_privacy_admin_local_time( $started ) )
				: __( 'Scan', 'secure-privacy' )
		)
	);
	if ( in_array( $status, array( 'queued', 'running' ), true ) ) {
		$poll = add_query_arg(
			array(
				'action' => 'secure_privacy_scan_progress',
				'scan'   => $id,
				'nonce'  => wp_create_nonce( 'secure_privacy_scan_progress' ),
			),
			admin_url( 'admin-ajax.php' )
		);
		$done  = (int) ( $progress['done'] ?? 0 );
		$total = (int) ( $progress['total'] ?? 0 );
		?>
		<div class="sp-scan-progress" data-sp-scan-progress="<?php echo esc_url( $poll ); ?>">
			<p role="status" aria-live="polite" data-sp-scan-text><?php echo esc_html( secure_privacy_scan_progress_text( $status, $done, $total ) ); ?></p>
			<progress max="<?php echo esc_attr( (string) max( 1, $total ) ); ?>" value="<?php echo esc_attr( (string) $done ); ?>" aria-label="<?php esc_attr_e( 'Scan progress', 'secure-privacy' ); ?>"></progress>
			<p><a href="<?php echo esc_url( secure_privacy_admin_page_url( SECURE_PRIVACY_SCAN_SLUG, array( 'scan' => $id ) ) ); ?>"><?php esc_html_e( 'Refresh', 'secure-privacy' ); ?></a></p>
		</div>
		<?php
		echo '</section>';
		return;
	}
	if ( 'failed' === $status ) {
		$error = $report['error'] ?? '';
		$error = is_array( $error ) ? (string) ( $error['message'] ?? '' ) : (string) $error;
		printf(
			'<div class="notice notice-error inline sp-scan-failed"><p><strong>%1$s</strong> %2$s</p></div>',
			esc_html__( 'This scan failed.', 'secure-privacy' ),
			esc_html( '' !== $error ? $error : __( 'The sidecar gave no reason.', 'secure-privacy' ) )
		);
	}
	secure_privacy_scan_render_summary( $report );
	$groups = secure_privacy_scan_group_items( $report );
	if ( ! $groups ) {
		if ( 'done' === $status ) {
			echo '<p>' . esc_html__( 'The scan found no cookie, stored key or third-party request.', 'secure-privacy' ) . '</p>';
		}
		echo '</section>';
		return;
	}
	$counter = 0;
	foreach ( $groups as $group ) {
		secure_privacy_scan_render_group( $group, $id, $counter );
	}
	echo '</section>';
}

/**
 * The line that says how far a scan is.
 *
 * @param string $status queued | running.
 * @param int    $done   Pages done.
 * @param int    $total  Pages in all (0 while not known).
 */
function secure_privacy_scan_progress_text( string $status, int $done, int $total ): string {
	if ( 'queued' === $status ) {
		return __( 'Waiting for the scan worker to start…', 'secure-privacy' );
	}
	if ( $total > 0 ) {
		/* translators: 1: pages done, 2: pages in all. */
		return sprintf( __( 'Scanning: %1$d of %2$d pages done.', 'secure-privacy' ), $done, $total );
	}
	return __( 'Scanning: listing the pages…', 'secure-privacy' );
}

/**
 * The scan's facts: status, times, pages, items, violations, report and rules hashes.
 *
 * @param array $report A scan report.
 */
function secure_privacy_scan_render_summary( array $report ): void {
	$pages      = is_array( $report['pages'] ?? null ) ? $report['pages'] : array();
	$items      = is_array( $report['items'] ?? null ) ? $report['items'] : array();
	$violations = is_array( $report['violations'] ?? null ) ? $report['violations'] : array();
	$facts      = array(
		array( __( 'Status', 'secure-privacy' ), secure_privacy_scan_status_label( (string) ( $report['status'] ?? '' ) ), '' ),
		array( __( 'Finished', 'secure-privacy' ), is_string( $report['finished_at'] ?? null ) ? secure_privacy_admin_local_time( $report['finished_at'] ) : '—', '' ),
		array( __( 'Pages', 'secure-privacy' ), (string) count( $pages ), '' ),
		array( __( 'Items', 'secure-privacy' ), (string) count( $items ), '' ),
		array( __( 'Violations', 'secure-privacy' ), (string) count( $violations ), '' ),
		array( __( 'Report hash', 'secure-privacy' ), (string) ( $report['report_hash'] ?? '—' ), 'sp-hash' ),
	);
	if ( isset( $report['rules_hash'] ) && is_string( $report['rules_hash'] ) ) {
		$facts[] = array( __( 'Site rules hash', 'secure-privacy' ), $report['rules_hash'], 'sp-hash' );
	}
	if ( isset( $report['ruleset_version'] ) && is_string( $report['ruleset_version'] ) ) {
		// What the consents given under these rules carry as rules_version (the record page).
		$facts[] = array( __( 'Rule-set version', 'secure-privacy' ), $report['ruleset_version'], 'sp-hash sp-scan-ruleset' );
	}
	echo '<dl class="sp-facts sp-scan-facts">';
	foreach ( $facts as [ $label, $value, $class ] ) {
		printf( '<dt>%1$s</dt><dd class="%3$s">%2$s</dd>', esc_html( $label ), esc_html( $value ), esc_attr( $class ) );
	}
	echo '</dl>';
	$page_list = is_array( $report['page_list'] ?? null ) ? $report['page_list'] : array();
	if ( 'fallback' === ( $page_list['source'] ?? '' ) ) {
		printf(
			'<div class="notice notice-error inline sp-scan-page-list"><p><strong>%1$s</strong> %2$s</p></div>',
			esc_html__( 'Only the front page was scanned: the site\'s page list could not be used.', 'secure-privacy' ),
			esc_html( is_string( $page_list['error'] ?? null ) ? $page_list['error'] : '' )
		);
	}
	// The classifier's warnings, e.g. a site rule that makes a breaks-if-blocked service optional.
	$warnings = array_filter( is_array( $report['warnings'] ?? null ) ? $report['warnings'] : array(), static fn( $w ): bool => is_array( $w ) && is_string( $w['message'] ?? null ) );
	if ( $warnings ) {
		echo '<div class="notice notice-warning inline sp-scan-warnings"><ul>';
		foreach ( $warnings as $warning ) {
			echo '<li>' . esc_html( $warning['message'] ) . '</li>';
		}
		echo '</ul></div>';
	}
	secure_privacy_scan_render_self_test( $report );
	$skipped = is_array( $report['skipped'] ?? null ) ? $report['skipped'] : array();
	if ( $skipped ) {
		printf(
			'<div class="notice notice-warning inline sp-scan-skipped"><p>%s</p></div>',
			esc_html(
				sprintf(
					/* translators: %d: number of pages. */
					_n( '%d page was not reached within the scan\'s time budget (SP_SCAN_BUDGET on the sidecar).', '%d pages were not reached within the scan\'s time budget (SP_SCAN_BUDGET on the sidecar).', count( $skipped ), 'secure-privacy' ),
					count( $skipped )
				)
			)
		);
	}
	if ( $violations ) {
		printf(
			'<div class="notice notice-warning inline"><p>%s</p></div>',
			esc_html(
				sprintf(
					/* translators: %d: number of violations. */
					_n( '%d time something that is not necessary ran before consent or after Reject all. Block it until consent, or if it really is necessary, set its category below.', '%d times something that is not necessary ran before consent or after Reject all. Block them until consent, or if one really is necessary, set its category below.', count( $violations ), 'secure-privacy' ),
					count( $violations )
				)
			)
		);
	}
	if ( $pages ) {
		echo '<details class="sp-details"><summary>' . esc_html(
			/* translators: %d: number of pages. */
			sprintf( _n( '%d page scanned', '%d pages scanned', count( $pages ), 'secure-privacy' ), count( $pages ) )
		) . '</summary><ul class="sp-scan-pages">';
		foreach ( $pages as $page ) {
			$url = is_array( $page ) ? (string) ( $page['url'] ?? '' ) : (string) $page;
			printf( '<li><a href="%1$s" rel="noreferrer" target="_blank">%2$s</a></li>', esc_url( $url ), esc_html( $url ) );
		}
		echo '</ul></details>';
	}
}

/**
 * The self-test's findings (issue 14, "Nothing breaks"; docs/scan.md "self_test"): per page,
 * what shows after Accept all but is missing after Reject all, and the errors only after
 * Reject all, each with the blocked item that likely caused it, as warnings a site owner can
 * act on. Nothing when no page broke.
 *
 * @param array $report A scan report.
 */
function secure_privacy_scan_render_self_test( array $report ): void {
	$section = is_array( $report['self_test'] ?? null ) ? $report['self_test'] : array();
	$broken  = array_values( array_filter( is_array( $section['broken'] ?? null ) ? $section['broken'] : array(), static fn( $b ): bool => is_array( $b ) && is_string( $b['page'] ?? null ) ) );
	if ( ! $broken ) {
		return;
	}
	echo '<div class="notice notice-warning inline sp-scan-selftest"><p><strong>' . esc_html(
		sprintf(
			/* translators: %d: number of pages. */
			_n( 'Blocking may break %d page: after Reject all it lacks something it has after Accept all.', 'Blocking may break %d pages: after Reject all they lack something they have after Accept all.', count( $broken ), 'secure-privacy' ),
			count( $broken )
		)
	) . '</strong></p><ul>';
	foreach ( $broken as $page ) {
		$url  = (string) $page['page'];
		$link = sprintf( '<a href="%1$s" rel="noreferrer" target="_blank">%2$s</a>', esc_url( $url ), esc_html( $url ) );
		foreach ( is_array( $page['missing'] ?? null ) ? $page['missing'] : array() as $missing ) {
			if ( ! is_array( $missing ) ) {
				continue;
			}
			printf(
				'<li class="sp-selftest-missing">%1$s %2$s</li>',
				/* translators: 1: what is missing, e.g. the form “Checkout” (#checkout); 2: the page's address (a link). */
				sprintf( esc_html__( 'After Reject all, %1$s is missing on %2$s.', 'secure-privacy' ), esc_html( secure_privacy_selftest_element( $missing ) ), $link ), // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- escaped parts.
				esc_html( secure_privacy_selftest_cause( $missing ) )
			);
		}
		foreach ( is_array( $page['errors'] ?? null ) ? $page['errors'] : array() as $error ) {
			if ( ! is_array( $error ) || ! is_string( $error['message'] ?? null ) ) {
				continue;
			}
			printf(
				'<li class="sp-selftest-error">%1$s %2$s</li>',
				/* translators: 1: the page's address (a link); 2: the error message. */
				sprintf( esc_html__( 'After Reject all, %1$s shows an error it does not show after Accept all: “%2$s”.', 'secure-privacy' ), $link, esc_html( $error['message'] ) ), // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- escaped parts.
				esc_html( secure_privacy_selftest_cause( $error ) )
			);
		}
	}
	echo '</ul><p>' . esc_html__( 'If the page needs it to work, set its category to Necessary below (a site rule), or load it only where it is needed. A payment, captcha or login service the catalogue knows is never blocked.', 'secure-privacy' ) . '</p></div>';
}

/**
 * A missing landmark in words: "the form “Checkout” (#checkout)".
 *
 * @param array $missing A `self_test.broken[].missing[]` entry.
 */
function secure_privacy_selftest_element( array $missing ): string {
	$nouns = array(
		'form'     => __( 'the form', 'secure-privacy' ),
		'button'   => __( 'the button', 'secure-privacy' ),
		'input'    => __( 'the field', 'secure-privacy' ),
		'select'   => __( 'the field', 'secure-privacy' ),
		'textarea' => __( 'the field', 'secure-privacy' ),
		'iframe'   => __( 'the embedded frame', 'secure-privacy' ),
		'video'    => __( 'the video', 'secure-privacy' ),
		'audio'    => __( 'the audio player', 'secure-privacy' ),
	);
	$tag   = is_string( $missing['tag'] ?? null ) ? strtolower( $missing['tag'] ) : '';
	$noun  = $nouns[ $tag ] ?? __( 'the element', 'secure-privacy' );
	$label = is_string( $missing['label'] ?? null ) ? trim( $missing['label'] ) : '';
	$id    = is_string( $missing['id'] ?? null ) ? $missing['id'] : '';
	$text  = '' !== $label ? sprintf( '%1$s “%2$s”', $noun, $label ) : $noun;
	if ( '' !== $id ) {
		$text .= ' (#' . $id . ')';
	}
	$count = (int) ( $missing['count'] ?? 1 );
	if ( $count > 1 ) {
		/* translators: 1: the element in words; 2: how many. */
		$text = sprintf( __( '%1$s (%2$d of them)', 'secure-privacy' ), $text, $count );
	}
	return $text;
}

/**
 * The likely cause of a self-test finding in words.
 *
 * @param array $finding A `self_test.broken[].missing[]` or `.errors[]` entry.
 */
function secure_privacy_selftest_cause( array $finding ): string {
	$labels = secure_privacy_category_labels();
	$name   = static function ( array $held ) use ( $labels ): string {
		$service  = is_string( $held['service'] ?? null ) && '' !== $held['service'] ? $held['service'] : '';
		$host     = is_string( $held['host'] ?? null ) ? $held['host'] : '';
		$category = $labels[ $held['category'] ?? '' ] ?? (string) ( $held['category'] ?? '' );
		$who      = '' !== $service && '' !== $host ? sprintf( '%1$s (%2$s)', $service, $host ) : ( '' !== $service ? $service : $host );
		/* translators: 1: service (host); 2: consent category. */
		return sprintf( __( '%1$s, blocked until %2$s is allowed', 'secure-privacy' ), $who, $category );
	};
	$cause = is_array( $finding['cause'] ?? null ) ? $finding['cause'] : null;
	if ( $cause ) {
		$why = array(
			'source'     => __( 'the error comes from its script', 'secure-privacy' ),
			'named'      => __( 'it is named there', 'secure-privacy' ),
			'only_held'  => __( 'the only thing blocked on this page', 'secure-privacy' ),
			'page_error' => __( 'the page\'s error after Reject all names it', 'secure-privacy' ),
		);
		$basis = $why[ $cause['basis'] ?? '' ] ?? '';
		/* translators: 1: the blocked service and why; 2: how the cause was found. */
		return sprintf( __( 'Likely cause: %1$s (%2$s).', 'secure-privacy' ), $name( $cause ), $basis );
	}
	$candidates = array_map( $name, array_filter( is_array( $finding['candidates'] ?? null ) ? $finding['candidates'] : array(), 'is_array' ) );
	if ( ! $candidates ) {
		return '';
	}
	/* translators: %s: list of blocked services. */
	return sprintf( __( 'Blocked on this page: %s.', 'secure-privacy' ), implode( '; ', $candidates ) );
}

/**
 * A scan status in words.
 *
 * @param string $status queued | running | done | failed.
 */
function secure_privacy_scan_status_label( string $status ): string {
	return array(
		'queued'  => __( 'Queued', 'secure-privacy' ),
		'running' => __( 'Running', 'secure-privacy' ),
		'done'    => __( 'Done', 'secure-privacy' ),
		'failed'  => __( 'Failed', 'secure-privacy' ),
	)[ $status ] ?? $status;
}

/**
 * Where a classification came from, in words.
 *
 * @param string $source catalogue | open-cookie-database | wordpress | site-rule | unknown.
 */
function secure_privacy_scan_source_label( string $source ): string {
	return array(
		'catalogue'            => __( 'Service catalogue', 'secure-privacy' ),
		'open-cookie-database' => __( 'Open Cookie Database', 'secure-privacy' ),
		'wordpress'            => __( 'WordPress', 'secure-privacy' ),
		'site-rule'            => __( 'Site rule', 'secure-privacy' ),
		'unknown'              => __( 'Unknown', 'secure-privacy' ),
	)[ $source ] ?? $source;
}

/**
 * The report's items grouped by service (when one is known), else by the plugin or theme most
 * often seen setting or calling it, else "not attributed"; each item with its violations. Groups
 * with violations come first (most first), then by name; in a group, items with violations first.
 *
 * @param array $report A scan report.
 * @return array<int, array{key: string, type: string, label: string, vendor: string, violations: int, items: array}>
 */
function secure_privacy_scan_group_items( array $report ): array {
	$violations = array();
	foreach ( is_array( $report['violations'] ?? null ) ? $report['violations'] : array() as $violation ) {
		if ( is_array( $violation ) ) {
			$violations[ secure_privacy_scan_item_key( $violation ) ][] = $violation;
		}
	}
	$groups = array();
	foreach ( is_array( $report['items'] ?? null ) ? $report['items'] : array() as $item ) {
		if ( ! is_array( $item ) || ! in_array( $item['kind'] ?? '', SECURE_PRIVACY_SCAN_KINDS, true ) ) {
			continue;
		}
		$item['violations'] = $violations[ secure_privacy_scan_item_key( $item ) ] ?? array();
		$service            = is_string( $item['service'] ?? null ) ? trim( $item['service'] ) : '';
		$plugin             = secure_privacy_scan_item_plugin( $item );
		if ( '' !== $service ) {
			$key   = 'service:' . strtolower( $service );
			$type  = 'service';
			$label = $service;
		} elseif ( '' !== $plugin ) {
			$key   = 'plugin:' . $plugin;
			$type  = 'plugin';
			$label = $plugin;
		} else {
			$key   = 'none';
			$type  = 'none';
			$label = __( 'Not attributed to a service or plugin', 'secure-privacy' );
		}
		if ( ! isset( $groups[ $key ] ) ) {
			$groups[ $key ] = array(
				'key'        => $key,
				'type'       => $type,
				'label'      => $label,
				'vendor'     => is_string( $item['vendor'] ?? null ) ? $item['vendor'] : '',
				'violations' => 0,
				'items'      => array(),
			);
		}
		$groups[ $key ]['items'][]     = $item;
		$groups[ $key ]['violations'] += count( $item['violations'] );
	}
	foreach ( $groups as &$group ) {
		// Stable: items with violations first, the report's order otherwise.
		$order = array_flip( array_keys( $group['items'] ) );
		uksort(
			$group['items'],
			static fn( $a, $b ): int => ( (int) ! $group['items'][ $a ]['violations'] <=> (int) ! $group['items'][ $b ]['violations'] ) ?: $order[ $a ] <=> $order[ $b ]
		);
		$group['items'] = array_values( $group['items'] );
	}
	unset( $group );
	$groups = array_values( $groups );
	usort(
		$groups,
		static fn( array $a, array $b ): int => ( $b['violations'] <=> $a['violations'] )
			?: ( ( 'none' === $a['type'] ) <=> ( 'none' === $b['type'] ) )
			?: strcasecmp( $a['label'], $b['label'] )
	);
	return $groups;
}

/**
 * The key that ties a violation to its item: kind, name and host.
 *
 * @param array $entry An item or a violation.
 */
function secure_privacy_scan_item_key( array $entry ): string {
	return (string) ( $entry['kind'] ?? '' ) . "\0" . (string) ( $entry['name'] ?? '' ) . "\0" . (string) ( $entry['host'] ?? '' );
}

/**
 * The plugin or theme slug most often seen behind an item, or ''.
 *
 * @param array $item A report item.
 */
function secure_privacy_scan_item_plugin( array $item ): string {
	$counts = array();
	foreach ( is_array( $item['seen'] ?? null ) ? $item['seen'] : array() as $seen ) {
		$slug = is_array( $seen ) && is_string( $seen['plugin'] ?? null ) ? $seen['plugin'] : '';
		if ( '' !== $slug ) {
			$counts[ $slug ] = ( $counts[ $slug ] ?? 0 ) + 1;
		}
	}
	if ( ! $counts ) {
		return '';
	}
	arsort( $counts );
	return (string) array_key_first( $counts );
}

/**
 * One group's table.
 *
 * @param array  $group   From secure_privacy_scan_group_items().
 * @param string $scan_id The scan shown (the rule forms come back to it).
 * @param int    $counter Running number for unique ids (by reference).
 */
function secure_privacy_scan_render_group( array $group, string $scan_id, int &$counter ): void {
	$heading_id = 'sp-scan-group-' . ( ++$counter );
	$title      = array(
		'service' => $group['label'],
		/* translators: %s: plugin or theme slug. */
		'plugin'  => sprintf( __( 'Plugin or theme: %s', 'secure-privacy' ), $group['label'] ),
		'none'    => $group['label'],
	)[ $group['type'] ];
	?>
	<div class="sp-scan-group<?php echo $group['violations'] ? ' sp-scan-group-violations' : ''; ?>" data-sp-scan-group="<?php echo esc_attr( $group['key'] ); ?>">
		<h3 id="<?php echo esc_attr( $heading_id ); ?>">
			<?php echo esc_html( $title ); ?>
			<?php if ( '' !== $group['vendor'] && 'service' === $group['type'] ) : ?>
				<span class="sp-muted">· <?php echo esc_html( $group['vendor'] ); ?></span>
			<?php endif; ?>
			<?php if ( $group['violations'] ) : ?>
				<span class="sp-pill sp-pill-violation"><?php echo esc_html( sprintf( /* translators: %d: number of violations. */ _n( '%d violation', '%d violations', $group['violations'], 'secure-privacy' ), $group['violations'] ) ); ?></span>
			<?php endif; ?>
		</h3>
		<table class="wp-list-table widefat fixed striped sp-scan-items" aria-labelledby="<?php echo esc_attr( $heading_id ); ?>">
			<thead>
				<tr>
					<th scope="col" class="sp-col-item"><?php esc_html_e( 'Item', 'secure-privacy' ); ?></th>
					<th scope="col" class="sp-col-category"><?php esc_html_e( 'Category', 'secure-privacy' ); ?></th>
					<th scope="col" class="sp-col-source"><?php esc_html_e( 'Source', 'secure-privacy' ); ?></th>
					<th scope="col" class="sp-col-violation"><?php esc_html_e( 'Before consent', 'secure-privacy' ); ?></th>
					<th scope="col" class="sp-col-seen"><?php esc_html_e( 'Where seen', 'secure-privacy' ); ?></th>
					<th scope="col" class="sp-col-initiator"><?php esc_html_e( 'Initiator / plugin', 'secure-privacy' ); ?></th>
				</tr>
			</thead>
			<tbody>
			<?php
			foreach ( $group['items'] as $item ) {
				secure_privacy_scan_render_item( $item, $scan_id, $counter );
			}
			?>
			</tbody>
		</table>
	</div>
	<?php
}

/**
 * One item's row.
 *
 * @param array  $item    A report item with its `violations`.
 * @param string $scan_id The scan shown.
 * @param int    $counter Running number for unique ids (by reference).
 */
function secure_privacy_scan_render_item( array $item, string $scan_id, int &$counter ): void {
	$kinds      = secure_privacy_scan_kind_labels();
	$states     = secure_privacy_scan_state_labels();
	$categories = secure_privacy_category_labels();
	$kind       = (string) $item['kind'];
	$name       = (string) ( $item['name'] ?? '' );
	$host       = is_string( $item['host'] ?? null ) ? $item['host'] : '';
	$pattern    = 'request' === $kind && '' !== $host ? $host : $name;
	$category   = (string) ( $item['category'] ?? SECURE_PRIVACY_SCAN_UNKNOWN );
	$select_id  = 'sp-rule-' . ( ++$counter );
	$seen       = array();
	$behind     = array();
	foreach ( is_array( $item['seen'] ?? null ) ? $item['seen'] : array() as $entry ) {
		if ( ! is_array( $entry ) ) {
			continue;
		}
		$page  = (string) ( $entry['page'] ?? '' );
		$state = (string) ( $entry['state'] ?? '' );
		$seen[ $page . "\0" . $state ] = array( $page, $state );
		foreach ( array( 'plugin', 'initiator' ) as $field ) {
			if ( is_string( $entry[ $field ] ?? null ) && '' !== $entry[ $field ] ) {
				$behind[ $field . ':' . $entry[ $field ] ] = array( $field, $entry[ $field ] );
			}
		}
	}
	$violation_states = array_unique( array_map( static fn( $v ): string => (string) ( $v['state'] ?? '' ), $item['violations'] ) );
	?>
	<tr class="<?php echo $item['violations'] ? 'sp-violation' : ''; ?>" data-sp-item="<?php echo esc_attr( $kind . ':' . $pattern ); ?>">
		<td class="sp-col-item" data-colname="<?php esc_attr_e( 'Item', 'secure-privacy' ); ?>">
			<span class="sp-muted"><?php echo esc_html( $kinds[ $kind ] ); ?></span>
			<code class="sp-item-name"><?php echo esc_html( '' !== $name ? $name : $host ); ?></code>
			<?php if ( 'request' !== $kind && '' !== $host ) : ?>
				<br><span class="sp-muted"><?php echo esc_html( $host ); ?></span>
			<?php endif; ?>
			<?php if ( 'request' === $kind && is_string( $item['resource'] ?? null ) ) : ?>
				<br><span class="sp-muted"><?php echo esc_html( $item['resource'] ); ?></span>
			<?php endif; ?>
		</td>
		<td class="sp-col-category" data-colname="<?php esc_attr_e( 'Category', 'secure-privacy' ); ?>">
			<span class="sp-pill sp-cat-<?php echo esc_attr( $category ); ?>"><?php echo esc_html( $categories[ $category ] ?? __( 'Unknown', 'secure-privacy' ) ); ?></span>
			<?php if ( ! empty( $item['breaks_if_blocked'] ) ) : ?>
				<br><span class="sp-warn"><?php esc_html_e( 'The site breaks if this is blocked.', 'secure-privacy' ); ?></span>
			<?php endif; ?>
			<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" class="sp-rule-form">
				<input type="hidden" name="action" value="secure_privacy_scan_rule">
				<?php wp_nonce_field( 'secure_privacy_scan_rule', '_wpnonce', false ); ?>
				<input type="hidden" name="scan" value="<?php echo esc_attr( $scan_id ); ?>">
				<input type="hidden" name="kind" value="<?php echo esc_attr( $kind ); ?>">
				<input type="hidden" name="pattern" value="<?php echo esc_attr( $pattern ); ?>">
				<?php if ( is_string( $item['service'] ?? null ) && '' !== $item['service'] ) : ?>
					<input type="hidden" name="service" value="<?php echo esc_attr( $item['service'] ); ?>">
				<?php endif; ?>
				<label class="screen-reader-text" for="<?php echo esc_attr( $select_id ); ?>"><?php echo esc_html( sprintf( /* translators: %s: cookie name, storage key or host. */ __( 'Category of %s', 'secure-privacy' ), $pattern ) ); ?></label>
				<select id="<?php echo esc_attr( $select_id ); ?>" name="category" required>
					<?php if ( ! isset( $categories[ $category ] ) ) : ?>
						<option value="" selected disabled><?php esc_html_e( 'Choose…', 'secure-privacy' ); ?></option>
					<?php endif; ?>
					<?php foreach ( $categories as $value => $label ) : ?>
						<option value="<?php echo esc_attr( $value ); ?>" <?php selected( $category, $value ); ?>><?php echo esc_html( $label ); ?></option>
					<?php endforeach; ?>
				</select>
				<button type="submit" class="button button-small"><?php esc_html_e( 'Set', 'secure-privacy' ); ?></button>
			</form>
		</td>
		<td class="sp-col-source" data-colname="<?php esc_attr_e( 'Source', 'secure-privacy' ); ?>"><?php echo esc_html( secure_privacy_scan_source_label( (string) ( $item['source'] ?? 'unknown' ) ) ); ?></td>
		<td class="sp-col-violation" data-colname="<?php esc_attr_e( 'Before consent', 'secure-privacy' ); ?>">
			<?php if ( $violation_states ) : ?>
				<?php foreach ( $violation_states as $state ) : ?>
					<span class="sp-pill sp-pill-violation"><?php echo esc_html( sprintf( /* translators: %s: browser state, e.g. "Before consent". */ __( 'Violation: %s', 'secure-privacy' ), $states[ $state ] ?? $state ) ); ?></span>
				<?php endforeach; ?>
			<?php else : ?>
				<span class="sp-ok"><?php esc_html_e( 'No violation', 'secure-privacy' ); ?></span>
			<?php endif; ?>
		</td>
		<td class="sp-col-seen" data-colname="<?php esc_attr_e( 'Where seen', 'secure-privacy' ); ?>">
			<?php secure_privacy_scan_render_seen( array_values( $seen ), $states ); ?>
		</td>
		<td class="sp-col-initiator" data-colname="<?php esc_attr_e( 'Initiator / plugin', 'secure-privacy' ); ?>">
			<?php if ( ! $behind ) : ?>
				<span class="sp-muted">—</span>
			<?php endif; ?>
			<ul class="sp-scan-behind">
			<?php foreach ( array_slice( array_values( $behind ), 0, 4 ) as [ $field, $value ] ) : ?>
				<li><?php echo 'plugin' === $field ? '<strong>' . esc_html( $value ) . '</strong>' : '<span class="sp-ua">' . esc_html( $value ) . '</span>'; ?></li>
			<?php endforeach; ?>
			</ul>
		</td>
	</tr>
	<?php
}

/**
 * The pages and states an item was seen in, the first few shown, the rest behind "more".
 *
 * @param array $seen   [page, state] pairs.
 * @param array $states State labels.
 */
function secure_privacy_scan_render_seen( array $seen, array $states ): void {
	$line = static function ( array $pair ) use ( $states ): string {
		[ $page, $state ] = $pair;
		$query            = (string) wp_parse_url( $page, PHP_URL_QUERY );
		$path             = (string) wp_parse_url( $page, PHP_URL_PATH ) . ( '' !== $query ? '?' . $query : '' );
		return sprintf( '<li><a href="%1$s" title="%2$s" rel="noreferrer" target="_blank">%3$s</a> · %4$s</li>', esc_url( $page ), esc_attr( $page ), esc_html( '' !== $path ? $path : '/' ), esc_html( $states[ $state ] ?? $state ) );
	};
	echo '<ul class="sp-scan-seen">' . implode( '', array_map( $line, array_slice( $seen, 0, SECURE_PRIVACY_SCAN_SEEN_SHOWN ) ) ) . '</ul>'; // Escaped in $line.
	if ( count( $seen ) > SECURE_PRIVACY_SCAN_SEEN_SHOWN ) {
		printf(
			'<details><summary>%1$s</summary><ul class="sp-scan-seen">%2$s</ul></details>',
			esc_html( sprintf( /* translators: %d: number of further places. */ __( '%d more', 'secure-privacy' ), count( $seen ) - SECURE_PRIVACY_SCAN_SEEN_SHOWN ) ),
			implode( '', array_map( $line, array_slice( $seen, SECURE_PRIVACY_SCAN_SEEN_SHOWN ) ) ) // Escaped in $line.
		);
	}
}

/**
 * The site rules, each with a Delete button.
 *
 * @param array $rules secure_privacy_site_rules().
 */
function secure_privacy_scan_render_rules( array $rules ): void {
	$kinds      = secure_privacy_scan_kind_labels();
	$categories = secure_privacy_category_labels();
	?>
	<section class="sp-scan-rules" aria-labelledby="sp-rules-heading">
		<h2 id="sp-rules-heading"><?php esc_html_e( 'Site rules', 'secure-privacy' ); ?></h2>
		<p class="description"><?php esc_html_e( 'Your own categories for what the scan finds. They take precedence over the catalogue and apply from the next scan.', 'secure-privacy' ); ?></p>
		<table class="wp-list-table widefat fixed striped sp-rules">
			<thead>
				<tr>
					<th scope="col"><?php esc_html_e( 'Kind', 'secure-privacy' ); ?></th>
					<th scope="col"><?php esc_html_e( 'Pattern', 'secure-privacy' ); ?></th>
					<th scope="col"><?php esc_html_e( 'Category', 'secure-privacy' ); ?></th>
					<th scope="col"><?php esc_html_e( 'Service', 'secure-privacy' ); ?></th>
					<th scope="col"><span class="screen-reader-text"><?php esc_html_e( 'Actions', 'secure-privacy' ); ?></span></th>
				</tr>
			</thead>
			<tbody>
			<?php if ( ! $rules ) : ?>
				<tr class="no-items"><td colspan="5"><?php esc_html_e( 'No site rule yet: set a category on an item of a report.', 'secure-privacy' ); ?></td></tr>
			<?php endif; ?>
			<?php foreach ( $rules as $rule ) : ?>
				<tr data-sp-rule="<?php echo esc_attr( $rule['kind'] . ':' . $rule['pattern'] ); ?>">
					<td><?php echo esc_html( $kinds[ $rule['kind'] ] ); ?></td>
					<td><code><?php echo esc_html( $rule['pattern'] ); ?></code></td>
					<td><?php echo esc_html( $categories[ $rule['category'] ] ); ?></td>
					<td><?php echo esc_html( $rule['service'] ?? '—' ); ?></td>
					<td>
						<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>">
							<input type="hidden" name="action" value="secure_privacy_scan_rule_delete">
							<?php wp_nonce_field( 'secure_privacy_scan_rule_delete', '_wpnonce', false ); ?>
							<input type="hidden" name="kind" value="<?php echo esc_attr( $rule['kind'] ); ?>">
							<input type="hidden" name="pattern" value="<?php echo esc_attr( $rule['pattern'] ); ?>">
							<button type="submit" class="button button-small sp-rule-delete"><?php esc_html_e( 'Delete', 'secure-privacy' ); ?><span class="screen-reader-text"> <?php echo esc_html( $rule['pattern'] ); ?></span></button>
						</form>
					</td>
				</tr>
			<?php endforeach; ?>
			</tbody>
		</table>
		<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" class="sp-inline-form sp-rule-add">
			<input type="hidden" name="action" value="secure_privacy_scan_rule">
			<?php wp_nonce_field( 'secure_privacy_scan_rule', '_wpnonce', false ); ?>
			<div class="sp-filter">
				<label for="sp-rule-add-kind"><?php esc_html_e( 'Kind', 'secure-privacy' ); ?></label>
				<select id="sp-rule-add-kind" name="kind">
					<?php foreach ( $kinds as $value => $label ) : ?>
						<option value="<?php echo esc_attr( $value ); ?>"><?php echo esc_html( $label ); ?></option>
					<?php endforeach; ?>
				</select>
			</div>
			<div class="sp-filter">
				<label for="sp-rule-add-pattern"><?php esc_html_e( 'Pattern', 'secure-privacy' ); ?></label>
				<input type="text" id="sp-rule-add-pattern" name="pattern" required maxlength="<?php echo esc_attr( (string) SECURE_PRIVACY_MAX_RULE_PATTERN_LENGTH ); ?>" spellcheck="false" placeholder="_ga* · cdn.example.com" aria-describedby="sp-rule-add-help">
			</div>
			<div class="sp-filter">
				<label for="sp-rule-add-category"><?php esc_html_e( 'Category', 'secure-privacy' ); ?></label>
				<select id="sp-rule-add-category" name="category">
					<?php foreach ( $categories as $value => $label ) : ?>
						<option value="<?php echo esc_attr( $value ); ?>"><?php echo esc_html( $label ); ?></option>
					<?php endforeach; ?>
				</select>
			</div>
			<div class="sp-filter">
				<label for="sp-rule-add-service"><?php esc_html_e( 'Service (optional)', 'secure-privacy' ); ?></label>
				<input type="text" id="sp-rule-add-service" name="service" maxlength="<?php echo esc_attr( (string) SECURE_PRIVACY_MAX_RULE_SERVICE_LENGTH ); ?>">
			</div>
			<?php submit_button( __( 'Add rule', 'secure-privacy' ), 'secondary', 'submit', false, array( 'id' => 'sp-rule-add-submit' ) ); ?>
			<p class="description" id="sp-rule-add-help"><?php esc_html_e( 'A cookie name or storage key, or a request\'s host (with :port if not the default); * stands for any characters. A rule with the same kind and pattern is replaced.', 'secure-privacy' ); ?></p>
		</form>
	</section>
	<?php
}

/**
 * The history of scans, newest first, a page at a time.
 *
 * @param array  $items   Scan summaries from GET /v1/scans.
 * @param string $current The scan shown above.
 * @param string $next    Cursor of the next (older) page, '' on the last.
 * @param bool   $older   Whether this is a later page (offers "Newest").
 */
function secure_privacy_scan_render_history( array $items, string $current, string $next = '', bool $older = false ): void {
	$count = static function ( $value ): string {
		if ( is_array( $value ) ) {
			return (string) count( $value );
		}
		return is_numeric( $value ) ? (string) (int) $value : '—';
	};
	?>
	<section class="sp-scan-history" aria-labelledby="sp-history-heading">
		<h2 id="sp-history-heading"><?php esc_html_e( 'History', 'secure-privacy' ); ?></h2>
		<table class="wp-list-table widefat fixed striped sp-scans">
			<thead>
				<tr>
					<th scope="col"><?php esc_html_e( 'Started', 'secure-privacy' ); ?></th>
					<th scope="col"><?php esc_html_e( 'Status', 'secure-privacy' ); ?></th>
					<th scope="col"><?php esc_html_e( 'Pages', 'secure-privacy' ); ?></th>
					<th scope="col"><?php esc_html_e( 'Items', 'secure-privacy' ); ?></th>
					<th scope="col"><?php esc_html_e( 'Violations', 'secure-privacy' ); ?></th>
				</tr>
			</thead>
			<tbody>
			<?php if ( ! $items ) : ?>
				<tr class="no-items"><td colspan="5"><?php esc_html_e( 'No scan yet.', 'secure-privacy' ); ?></td></tr>
			<?php endif; ?>
			<?php
			foreach ( $items as $scan ) :
				$id = $scan['id'] ?? '';
				$id = is_int( $id ) ? (string) $id : $id;
				if ( ! secure_privacy_scan_id_ok( $id ) ) {
					continue;
				}
				$started  = (string) ( $scan['started_at'] ?? $scan['created_at'] ?? '' );
				$progress = is_array( $scan['progress'] ?? null ) ? $scan['progress'] : array();
				?>
				<tr data-sp-scan="<?php echo esc_attr( $id ); ?>"<?php echo $id === $current ? ' class="sp-current"' : ''; ?>>
					<td>
						<a href="<?php echo esc_url( secure_privacy_admin_page_url( SECURE_PRIVACY_SCAN_SLUG, array( 'scan' => $id ) ) ); ?>"<?php echo $id === $current ? ' aria-current="page"' : ''; ?>><?php echo esc_html( '' !== $started ? secure_privacy_admin_local_time( $started ) : $id ); ?></a>
					</td>
					<td><?php echo esc_html( secure_privacy_scan_status_label( (string) ( $scan['status'] ?? '' ) ) ); ?></td>
					<td><?php echo esc_html( $count( $scan['pages'] ?? $progress['total'] ?? null ) ); ?></td>
					<td><?php echo esc_html( $count( $scan['items'] ?? null ) ); ?></td>
					<td><?php echo esc_html( $count( $scan['violations'] ?? null ) ); ?></td>
				</tr>
			<?php endforeach; ?>
			</tbody>
		</table>
		<?php if ( '' !== $next || $older ) : ?>
			<p class="sp-scan-history-nav">
				<?php if ( $older ) : ?>
					<a class="button" href="<?php echo esc_url( secure_privacy_scan_page_url() ); ?>"><span aria-hidden="true">«</span> <?php esc_html_e( 'Newest', 'secure-privacy' ); ?></a>
				<?php endif; ?>
				<?php if ( '' !== $next ) : ?>
					<a class="button" data-sp-older href="<?php echo esc_url( secure_privacy_admin_page_url( SECURE_PRIVACY_SCAN_SLUG, array_filter( array( 'cursor' => $next, 'scan' => $current ) ) ) ); ?>"><?php esc_html_e( 'Older scans', 'secure-privacy' ); ?> <span aria-hidden="true">›</span></a>
				<?php endif; ?>
			</p>
		<?php endif; ?>
	</section>
	<?php
}

/**
 * The admin notice after an automatic scan found new items or violations (admin_notices).
 */
function secure_privacy_scan_render_notice(): void {
	if ( ! current_user_can( SECURE_PRIVACY_CAPABILITY ) || ! function_exists( 'secure_privacy_scan_notice_data' ) ) {
		return;
	}
	$notice = secure_privacy_scan_notice_data();
	if ( null === $notice ) {
		return;
	}
	/* translators: %d: number of items. */
	$items = sprintf( _n( '%d new item', '%d new items', $notice['items'], 'secure-privacy' ), $notice['items'] );
	/* translators: %d: number of violations. */
	$violations = sprintf( _n( '%d new violation', '%d new violations', $notice['violations'], 'secure-privacy' ), $notice['violations'] );
	if ( $notice['items'] && $notice['violations'] ) {
		/* translators: 1: "3 new items", 2: "1 new violation". */
		$found = sprintf( __( '%1$s and %2$s', 'secure-privacy' ), $items, $violations );
	} else {
		$found = $notice['items'] ? $items : $violations;
	}
	$dismiss = wp_nonce_url( add_query_arg( 'action', 'secure_privacy_scan_dismiss', admin_url( 'admin-post.php' ) ), 'secure_privacy_scan_dismiss' );
	printf(
		'<div class="notice notice-%1$s sp-scan-notice"><p><strong>%2$s</strong> %3$s</p><p><a class="button button-primary" href="%4$s">%5$s</a> <a class="button" href="%6$s">%7$s</a></p></div>',
		$notice['violations'] ? 'error' : 'warning',
		esc_html__( 'Secure Privacy site scan:', 'secure-privacy' ),
		/* translators: %s: "3 new items and 1 new violation". */
		esc_html( sprintf( __( 'the latest automatic scan found %s that the scan before did not.', 'secure-privacy' ), $found ) ),
		esc_url( secure_privacy_admin_page_url( SECURE_PRIVACY_SCAN_SLUG, array( 'scan' => $notice['scan_id'] ) ) ),
		esc_html__( 'Review the scan', 'secure-privacy' ),
		esc_url( $dismiss ),
		esc_html__( 'Dismiss', 'secure-privacy' )
	);
}

/**
 * The URL of the Site scan page, showing $scan_id when given.
 *
 * @param string $scan_id A scan id or ''.
 */
function secure_privacy_scan_page_url( string $scan_id = '' ): string {
	return secure_privacy_admin_page_url( SECURE_PRIVACY_SCAN_SLUG, secure_privacy_scan_id_ok( $scan_id ) ? array( 'scan' => $scan_id ) : array() );
}

/**
 * Start a scan (admin-post: secure_privacy_scan_start).
 */
function secure_privacy_handle_scan_start(): void {
	secure_privacy_admin_guard( 'secure_privacy_scan_start' );
	$max    = absint( wp_unslash( $_POST['max_pages'] ?? 0 ) ); // phpcs:ignore WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- absint.
	$result = secure_privacy_scan_start( min( $max, SECURE_PRIVACY_SCAN_PAGES_LIMIT_ADMIN ), 'manual' );
	if ( is_wp_error( $result ) ) {
		/* translators: %s: the sidecar's error message. */
		secure_privacy_admin_redirect( secure_privacy_scan_page_url(), 'error', sprintf( __( 'The scan could not be started: %s', 'secure-privacy' ), $result->get_error_message() ) );
	}
	secure_privacy_admin_redirect( secure_privacy_scan_page_url( $result['id'] ), 'success', __( 'The scan has started. This page shows its progress.', 'secure-privacy' ) );
}

/**
 * Save a category for one item as a site rule (admin-post: secure_privacy_scan_rule).
 */
function secure_privacy_handle_scan_rule(): void {
	secure_privacy_admin_guard( 'secure_privacy_scan_rule' );
	$post = wp_unslash( $_POST );
	$scan = sanitize_text_field( (string) ( $post['scan'] ?? '' ) );
	$rule = array(
		'kind'     => is_string( $post['kind'] ?? null ) ? $post['kind'] : '',
		'pattern'  => is_string( $post['pattern'] ?? null ) ? $post['pattern'] : '',
		'category' => is_string( $post['category'] ?? null ) ? $post['category'] : '',
	);
	if ( isset( $post['service'] ) && is_string( $post['service'] ) ) {
		$rule['service'] = $post['service'];
	}
	$saved = secure_privacy_put_site_rule( $rule );
	if ( is_wp_error( $saved ) ) {
		/* translators: %s: why the rule was refused. */
		secure_privacy_admin_redirect( secure_privacy_scan_page_url( $scan ), 'error', sprintf( __( 'The rule was not saved: %s', 'secure-privacy' ), $saved->get_error_message() ) );
	}
	secure_privacy_admin_redirect(
		secure_privacy_scan_page_url( $scan ),
		'success',
		/* translators: 1: cookie name, storage key or host, 2: category. */
		sprintf( __( 'Site rule saved: %1$s is %2$s. The next scan applies it.', 'secure-privacy' ), $saved['pattern'], secure_privacy_category_labels()[ $saved['category'] ] )
	);
}

/**
 * Delete a site rule (admin-post: secure_privacy_scan_rule_delete).
 */
function secure_privacy_handle_scan_rule_delete(): void {
	secure_privacy_admin_guard( 'secure_privacy_scan_rule_delete' );
	$post    = wp_unslash( $_POST );
	$deleted = secure_privacy_delete_site_rule( is_string( $post['kind'] ?? null ) ? $post['kind'] : '', is_string( $post['pattern'] ?? null ) ? $post['pattern'] : '' );
	secure_privacy_admin_redirect(
		secure_privacy_scan_page_url(),
		$deleted ? 'success' : 'error',
		$deleted ? __( 'Site rule deleted. The next scan no longer applies it.', 'secure-privacy' ) : __( 'There is no such site rule.', 'secure-privacy' )
	);
}

/**
 * Change the automatic scan's frequency (admin-post: secure_privacy_scan_schedule).
 */
function secure_privacy_handle_scan_schedule(): void {
	secure_privacy_admin_guard( 'secure_privacy_scan_schedule' );
	$frequency = sanitize_key( wp_unslash( $_POST['scan_frequency'] ?? '' ) ); // phpcs:ignore WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- sanitize_key.
	if ( ! in_array( $frequency, SECURE_PRIVACY_SCAN_FREQUENCIES, true ) ) {
		secure_privacy_admin_redirect( secure_privacy_scan_page_url(), 'error', __( 'Choose one of the offered frequencies.', 'secure-privacy' ) );
	}
	$stored                   = get_option( SECURE_PRIVACY_OPTION, array() );
	$stored                   = is_array( $stored ) ? $stored : array();
	$stored['scan_frequency'] = $frequency;
	update_option( SECURE_PRIVACY_OPTION, $stored );
	secure_privacy_scan_schedule_cron();
	secure_privacy_admin_redirect( secure_privacy_scan_page_url(), 'success', 'off' === $frequency ? __( 'Automatic scans are off.', 'secure-privacy' ) : __( 'Automatic scans are scheduled.', 'secure-privacy' ) );
}

/**
 * Dismiss the new-findings notice (admin-post: secure_privacy_scan_dismiss).
 */
function secure_privacy_handle_scan_dismiss(): void {
	secure_privacy_admin_guard( 'secure_privacy_scan_dismiss' );
	secure_privacy_scan_clear_notice();
	wp_safe_redirect( wp_get_referer() ? wp_get_referer() : secure_privacy_scan_page_url() );
	exit;
}

/**
 * What the progress poll answers for one scan, as [HTTP status, data].
 *
 * @param string $id Scan id.
 * @return array{0: int, 1: array}
 */
function secure_privacy_scan_progress_data( string $id ): array {
	$report = secure_privacy_scan_get( $id );
	if ( is_wp_error( $report ) ) {
		$status = (int) ( $report->get_error_data()['status'] ?? 0 );
		return array( $status >= 400 && $status < 500 ? $status : 502, array( 'message' => $report->get_error_message() ) );
	}
	$status   = (string) ( $report['status'] ?? '' );
	$progress = is_array( $report['progress'] ?? null ) ? $report['progress'] : array();
	$done     = (int) ( $progress['done'] ?? 0 );
	$total    = (int) ( $progress['total'] ?? 0 );
	if ( in_array( $status, array( 'done', 'failed' ), true ) ) {
		$report['id'] = $report['id'] ?? $id;
		secure_privacy_scan_observe( $report, true );
	}
	return array(
		200,
		array(
			'status' => $status,
			'done'   => $done,
			'total'  => $total,
			'text'   => in_array( $status, array( 'queued', 'running' ), true ) ? secure_privacy_scan_progress_text( $status, $done, $total ) : secure_privacy_scan_status_label( $status ),
		),
	);
}

/**
 * The progress poll of the Site scan page (wp_ajax_secure_privacy_scan_progress): capability
 * and nonce, then the sidecar's GET /v1/scans/<id> reduced to status and progress.
 */
function secure_privacy_ajax_scan_progress(): void {
	if ( ! current_user_can( SECURE_PRIVACY_CAPABILITY ) ) {
		wp_send_json_error( array( 'message' => __( 'Sorry, you are not allowed to do that.', 'secure-privacy' ) ), 403 );
	}
	check_ajax_referer( 'secure_privacy_scan_progress', 'nonce' );
	$id = sanitize_text_field( wp_unslash( $_GET['scan'] ?? '' ) ); // phpcs:ignore WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- sanitize_text_field.
	[ $status, $data ] = secure_privacy_scan_progress_data( $id );
	if ( 200 === $status ) {
		wp_send_json_success( $data );
	}
	wp_send_json_error( $data, $status );
}
