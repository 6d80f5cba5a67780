<?php
/**
 * The Statistics page and the dashboard widget: opt-in rates over time and per category,
 * country and method, from the sidecar's /v1/stats, drawn as server-rendered SVG.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/** Seconds the dashboard widget keeps its numbers. */

/**
 * The sidecar's stats for a range and grouping. Never cached: the dashboard widget and the
 * Statistics page read the same figures, with the same definitions, at the moment they show.
 *
 * @param string $from     YYYY-MM-DD.
 * @param string $to       YYYY-MM-DD (inclusive).
 * @param string $group_by day | country | category | method.
 * @return array|WP_Error The groups.
 */
function secure_privacy_fetch_stats( string $from, string $to, string $group_by ) {
	$result = secure_privacy_admin_api(
		'GET',
		'/v1/stats',
		array(
			'from'     => $from,
			'to'       => $to,
			'group_by' => $group_by,
		)
	);
	if ( is_wp_error( $result ) ) {
		return $result;
	}
	return is_array( $result['json']['groups'] ?? null ) ? $result['json']['groups'] : array();
}

/**
 * Every day from $from to $to (inclusive), YYYY-MM-DD.
 *
 * @param string $from First day.
 * @param string $to   Last day.
 * @return string[]
 */
function secure_privacy_days( string $from, string $to ): array {
	$days = array();
	$ts   = strtotime( $from . ' 00:00:00 UTC' );
	$end  = strtotime( $to . ' 00:00:00 UTC' );
	while ( false !== $ts && false !== $end && $ts <= $end && count( $days ) < 3700 ) {
		$days[] = gmdate( 'Y-m-d', $ts );
		$ts    += DAY_IN_SECONDS;
	}
	return $days;
}

/**
 * The per-day groups aligned on every day of the range (days without records are empty).
 *
 * @param array    $groups Per-day groups from the sidecar.
 * @param string[] $days   The range's days.
 * @return array<string, array{decisions: int, withdrawals: int, opt_in_rate: array}>
 */
function secure_privacy_align_days( array $groups, array $days ): array {
	$by_day = array();
	foreach ( $groups as $group ) {
		if ( is_array( $group ) && isset( $group['key'] ) ) {
			$by_day[ substr( (string) $group['key'], 0, 10 ) ] = $group;
		}
	}
	$out = array();
	foreach ( $days as $day ) {
		$g           = $by_day[ $day ] ?? array();
		$out[ $day ] = array(
			'decisions'   => (int) ( $g['decisions'] ?? 0 ),
			'withdrawals' => (int) ( $g['withdrawals'] ?? 0 ),
			'opt_in_rate' => is_array( $g['opt_in_rate'] ?? null ) ? $g['opt_in_rate'] : array(),
		);
	}
	return $out;
}

/**
 * The range chosen on the statistics page: ?range=7|30|90|365 or ?from=&to=.
 *
 * @return array{from: string, to: string, range: string}
 */
function secure_privacy_stats_range(): array {
	// phpcs:disable WordPress.Security.NonceVerification.Recommended -- a read-only view.
	$from  = secure_privacy_sanitize_date( wp_unslash( $_GET['from'] ?? '' ) );
	$to    = secure_privacy_sanitize_date( wp_unslash( $_GET['to'] ?? '' ) );
	$range = isset( $_GET['range'] ) ? absint( $_GET['range'] ) : 30;
	// phpcs:enable
	if ( '' !== $from && '' !== $to && $from <= $to ) {
		return array(
			'from'  => $from,
			'to'    => $to,
			'range' => 'custom',
		);
	}
	$range = in_array( $range, array( 7, 30, 90, 365 ), true ) ? $range : 30;
	return array(
		'from'  => gmdate( 'Y-m-d', time() - ( $range - 1 ) * DAY_IN_SECONDS ),
		'to'    => gmdate( 'Y-m-d' ),
		'range' => (string) $range,
	);
}

/**
 * Render the Statistics page.
 */
function secure_privacy_render_stats_page(): void {
	if ( ! current_user_can( SECURE_PRIVACY_CAPABILITY ) ) {
		return;
	}
	$range = secure_privacy_stats_range();
	echo '<div class="wrap sp-wrap">';
	echo '<h1 class="wp-heading-inline sp-title"><span class="dashicons dashicons-chart-area" aria-hidden="true"></span> ' . esc_html__( 'Consent statistics', 'secure-privacy' ) . '</h1>';
	echo '<hr class="wp-header-end">';
	secure_privacy_render_range_picker( $range );

	$daily = secure_privacy_fetch_stats( $range['from'], $range['to'], 'day' );
	if ( is_wp_error( $daily ) ) {
		secure_privacy_admin_render_error( $daily );
		echo '</div>';
		return;
	}
	$cats      = secure_privacy_fetch_stats( $range['from'], $range['to'], 'category' );
	$countries = secure_privacy_fetch_stats( $range['from'], $range['to'], 'country' );
	$methods   = secure_privacy_fetch_stats( $range['from'], $range['to'], 'method' );
	$days      = secure_privacy_days( $range['from'], $range['to'] );
	$aligned   = secure_privacy_align_days( $daily, $days );
	$labels    = secure_privacy_category_labels();
	$enabled   = secure_privacy_settings()['categories_enabled'];

	$decisions   = array_sum( array_column( $aligned, 'decisions' ) );
	$withdrawals = array_sum( array_column( $aligned, 'withdrawals' ) );
	// One definition throughout: a decision is a grant or an update; every share below is a
	// share of the decisions, and withdrawals are counted apart.
	$by_method = array();
	foreach ( is_wp_error( $methods ) ? array() : $methods as $group ) {
		$by_method[ (string) ( $group['key'] ?? '' ) ] = (int) ( $group['decisions'] ?? 0 );
	}
	$by_cat = array();
	foreach ( is_wp_error( $cats ) ? array() : $cats as $group ) {
		$by_cat[ (string) ( $group['key'] ?? '' ) ] = $group;
	}

	// Summary cards.
	echo '<div class="sp-cards">';
	secure_privacy_render_card( __( 'Decisions', 'secure-privacy' ), number_format_i18n( $decisions ), __( 'grants and updates', 'secure-privacy' ), 'decisions' );
	$accept = $decisions ? ( $by_method['accept_all'] ?? 0 ) / $decisions : null;
	$reject = $decisions ? ( $by_method['reject_all'] ?? 0 ) / $decisions : null;
	/* translators: 1: decisions with this method, 2: all decisions. */
	$of = __( '%1$s of %2$s decisions', 'secure-privacy' );
	secure_privacy_render_card( __( 'Accepted all', 'secure-privacy' ), secure_privacy_format_rate( $accept ), sprintf( $of, number_format_i18n( $by_method['accept_all'] ?? 0 ), number_format_i18n( $decisions ) ), 'accept' );
	secure_privacy_render_card( __( 'Rejected all', 'secure-privacy' ), secure_privacy_format_rate( $reject ), sprintf( $of, number_format_i18n( $by_method['reject_all'] ?? 0 ), number_format_i18n( $decisions ) ), 'reject' );
	secure_privacy_render_card( __( 'Withdrawals', 'secure-privacy' ), number_format_i18n( $withdrawals ), __( 'consents taken back', 'secure-privacy' ), 'withdrawals' );
	echo '</div>';

	if ( ! $decisions && ! $withdrawals ) {
		echo '<div class="notice notice-info inline"><p>' . esc_html__( 'No consent was recorded in this period yet.', 'secure-privacy' ) . '</p></div>';
	}

	// Opt-in rate over time.
	$series = array();
	foreach ( SECURE_PRIVACY_OPTIONAL_CATEGORIES as $cat ) {
		$color = SECURE_PRIVACY_CATEGORY_COLORS[ $cat ];
		if ( ! in_array( $cat, $enabled, true ) && empty( $by_cat[ $cat ]['granted'] ) ) {
			continue;
		}
		$values = array();
		foreach ( $aligned as $day ) {
			$values[] = $day['decisions'] ? ( isset( $day['opt_in_rate'][ $cat ] ) ? (float) $day['opt_in_rate'][ $cat ] : null ) : null;
		}
		$series[] = array(
			'label'  => $labels[ $cat ],
			'color'  => $color,
			'values' => $values,
			'key'    => $cat,
		);
	}
	echo '<div class="sp-grid-2">';
	echo '<div class="postbox sp-box sp-chart-box" id="sp-chart-rates"><h2 class="sp-box-title">' . esc_html__( 'Opt-in rate per day', 'secure-privacy' ) . '</h2><div class="inside">';
	secure_privacy_render_legend( $series );
	echo secure_privacy_svg_rate_chart( $days, $series, __( 'Share of decisions that granted each category, per day', 'secure-privacy' ) ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- built from escaped parts.
	echo '</div></div>';

	$stacks = array(
		array(
			'label'  => __( 'Decisions', 'secure-privacy' ),
			'color'  => '#2271b1',
			'values' => array_values( array_column( $aligned, 'decisions' ) ),
		),
		array(
			'label'  => __( 'Withdrawals', 'secure-privacy' ),
			'color'  => '#d63638',
			'values' => array_values( array_column( $aligned, 'withdrawals' ) ),
		),
	);
	echo '<div class="postbox sp-box sp-chart-box" id="sp-chart-volume"><h2 class="sp-box-title">' . esc_html__( 'Decisions per day', 'secure-privacy' ) . '</h2><div class="inside">';
	secure_privacy_render_legend( $stacks );
	echo secure_privacy_svg_column_chart( $days, $stacks, __( 'Decisions and withdrawals per day', 'secure-privacy' ) ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- built from escaped parts.
	echo '</div></div>';
	echo '</div>';

	echo '<div class="sp-grid-3">';
	// Per category.
	$rows = array();
	foreach ( SECURE_PRIVACY_OPTIONAL_CATEGORIES as $cat ) {
		$color  = SECURE_PRIVACY_CATEGORY_COLORS[ $cat ];
		$rate   = $by_cat[ $cat ]['opt_in_rate'] ?? null;
		$rows[] = array(
			'label' => $labels[ $cat ],
			'value' => (float) $rate,
			'text'  => secure_privacy_format_rate( $rate ),
			'color' => $color,
		);
	}
	echo '<div class="postbox sp-box" id="sp-chart-categories"><h2 class="sp-box-title">' . esc_html__( 'Opt-in rate per category', 'secure-privacy' ) . '</h2><div class="inside">';
	echo secure_privacy_html_bars( $rows, 1.0, __( 'Opt-in rate per category', 'secure-privacy' ) ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- built from escaped parts.
	echo '</div></div>';

	// Per country.
	$rows = array();
	$max  = 0;
	foreach ( array_slice( is_wp_error( $countries ) ? array() : $countries, 0, 10 ) as $group ) {
		$key    = (string) ( $group['key'] ?? '' );
		$rate   = secure_privacy_mean_rate( (array) ( $group['opt_in_rate'] ?? array() ), $enabled );
		$total  = (int) ( $group['decisions'] ?? 0 );
		$max    = max( $max, $total );
		$rows[] = array(
			'label' => '' === $key ? __( 'Unknown', 'secure-privacy' ) : $key,
			'value' => $total,
			/* translators: 1: number of decisions, 2: mean opt-in rate. */
			'text'  => sprintf( __( '%1$s · %2$s opt-in', 'secure-privacy' ), number_format_i18n( $total ), secure_privacy_format_rate( $rate ) ),
			'color' => '#2271b1',
		);
	}
	echo '<div class="postbox sp-box" id="sp-chart-countries"><h2 class="sp-box-title">' . esc_html__( 'Top countries', 'secure-privacy' ) . '</h2><div class="inside">';
	echo $rows ? secure_privacy_html_bars( $rows, (float) $max, __( 'Decisions per country', 'secure-privacy' ) ) : '<p class="sp-muted">' . esc_html__( 'No data yet.', 'secure-privacy' ) . '</p>'; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- built from escaped parts.
	echo '<p class="description">' . esc_html__( 'Opt-in: mean of the offered categories.', 'secure-privacy' ) . '</p></div></div>';

	// Per method: shares of the decisions, as the cards above.
	$rows   = array();
	$mnames = secure_privacy_method_labels();
	arsort( $by_method );
	foreach ( array_filter( $by_method ) as $method => $count ) {
		$rows[] = array(
			'label' => $mnames[ $method ] ?? $method,
			'value' => $count,
			/* translators: 1: count, 2: share of all decisions. */
			'text'  => sprintf( __( '%1$s (%2$s of decisions)', 'secure-privacy' ), number_format_i18n( $count ), secure_privacy_format_rate( $decisions ? $count / $decisions : null ) ),
			'color' => '#50575e',
		);
	}
	echo '<div class="postbox sp-box" id="sp-chart-methods"><h2 class="sp-box-title">' . esc_html__( 'How visitors chose', 'secure-privacy' ) . '</h2><div class="inside">';
	echo $rows ? secure_privacy_html_bars( $rows, (float) max( 1, $decisions ), __( 'Decisions per method', 'secure-privacy' ) ) : '<p class="sp-muted">' . esc_html__( 'No data yet.', 'secure-privacy' ) . '</p>'; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- built from escaped parts.
	/* translators: %s: number of withdrawals. */
	echo '<p class="description">' . esc_html( sprintf( __( 'Shares of the decisions (grants and updates). Withdrawals are counted apart: %s.', 'secure-privacy' ), number_format_i18n( $withdrawals ) ) ) . '</p>';
	echo '</div></div>';
	echo '</div>';

	secure_privacy_render_daily_table( $aligned, $series );
	echo '</div>';
}

/**
 * The mean of the rates of the offered categories (null when none has a rate).
 *
 * @param array    $rates   Category => rate|null.
 * @param string[] $enabled Offered categories.
 */
function secure_privacy_mean_rate( array $rates, array $enabled ): ?float {
	$values = array();
	foreach ( $enabled as $cat ) {
		if ( isset( $rates[ $cat ] ) && is_numeric( $rates[ $cat ] ) ) {
			$values[] = (float) $rates[ $cat ];
		}
	}
	return $values ? array_sum( $values ) / count( $values ) : null;
}

/**
 * The range presets and a custom range form.
 *
 * @param array $range secure_privacy_stats_range().
 */
function secure_privacy_render_range_picker( array $range ): void {
	echo '<form method="get" class="sp-range" action="' . esc_url( admin_url( 'admin.php' ) ) . '">';
	printf( '<input type="hidden" name="page" value="%s">', esc_attr( SECURE_PRIVACY_STATS_SLUG ) );
	echo '<span class="sp-range-presets">';
	foreach ( array(
		7   => __( '7 days', 'secure-privacy' ),
		30  => __( '30 days', 'secure-privacy' ),
		90  => __( '90 days', 'secure-privacy' ),
		365 => __( '12 months', 'secure-privacy' ),
	) as $days => $label ) {
		printf(
			'<a class="button%1$s" href="%2$s"%3$s>%4$s</a>',
			(string) $days === $range['range'] ? ' button-primary' : '',
			esc_url( secure_privacy_admin_page_url( SECURE_PRIVACY_STATS_SLUG, array( 'range' => $days ) ) ),
			(string) $days === $range['range'] ? ' aria-current="true"' : '',
			esc_html( $label )
		);
	}
	echo '</span> <label for="sp-range-from" class="screen-reader-text">' . esc_html__( 'From', 'secure-privacy' ) . '</label>';
	printf( '<input type="date" id="sp-range-from" name="from" value="%s"> – ', esc_attr( $range['from'] ) );
	echo '<label for="sp-range-to" class="screen-reader-text">' . esc_html__( 'To', 'secure-privacy' ) . '</label>';
	printf( '<input type="date" id="sp-range-to" name="to" value="%s"> ', esc_attr( $range['to'] ) );
	submit_button( __( 'Show', 'secure-privacy' ), 'secondary', '', false );
	echo '</form>';
}

/**
 * One summary card.
 *
 * @param string $label Caption.
 * @param string $value The number.
 * @param string $note  Small print.
 * @param string $slug  Class suffix.
 */
function secure_privacy_render_card( string $label, string $value, string $note, string $slug ): void {
	printf(
		'<div class="sp-card sp-card-%1$s"><span class="sp-card-label">%2$s</span><span class="sp-card-value" data-sp-card="%1$s">%3$s</span><span class="sp-card-note">%4$s</span></div>',
		esc_attr( $slug ),
		esc_html( $label ),
		esc_html( $value ),
		esc_html( $note )
	);
}

/**
 * A chart legend.
 *
 * @param array $series Each with label and color.
 */
function secure_privacy_render_legend( array $series ): void {
	echo '<ul class="sp-legend">';
	foreach ( $series as $s ) {
		printf( '<li><span class="sp-swatch" style="background:%1$s"></span>%2$s</li>', esc_attr( (string) $s['color'] ), esc_html( (string) $s['label'] ) );
	}
	echo '</ul>';
}

/**
 * The numbers behind the charts, as a table (also the charts' text alternative).
 *
 * @param array $aligned secure_privacy_align_days().
 * @param array $series  The rate series shown.
 */
function secure_privacy_render_daily_table( array $aligned, array $series ): void {
	echo '<details class="sp-details"><summary>' . esc_html__( 'Show the numbers per day', 'secure-privacy' ) . '</summary>';
	echo '<table class="widefat striped sp-daily"><thead><tr><th scope="col">' . esc_html__( 'Day', 'secure-privacy' ) . '</th><th scope="col">' . esc_html__( 'Decisions', 'secure-privacy' ) . '</th><th scope="col">' . esc_html__( 'Withdrawals', 'secure-privacy' ) . '</th>';
	foreach ( $series as $s ) {
		echo '<th scope="col">' . esc_html( $s['label'] ) . '</th>';
	}
	echo '</tr></thead><tbody>';
	foreach ( array_reverse( $aligned, true ) as $day => $row ) {
		if ( ! $row['decisions'] && ! $row['withdrawals'] ) {
			continue;
		}
		printf( '<tr><th scope="row">%1$s</th><td>%2$s</td><td>%3$s</td>', esc_html( $day ), esc_html( number_format_i18n( $row['decisions'] ) ), esc_html( number_format_i18n( $row['withdrawals'] ) ) );
		foreach ( $series as $s ) {
			echo '<td>' . esc_html( secure_privacy_format_rate( $row['opt_in_rate'][ $s['key'] ] ?? null ) ) . '</td>';
		}
		echo '</tr>';
	}
	echo '</tbody></table></details>';
}

/**
 * Register the dashboard widget (wp_dashboard_setup).
 */
function secure_privacy_dashboard_setup(): void {
	if ( current_user_can( SECURE_PRIVACY_CAPABILITY ) ) {
		wp_add_dashboard_widget( 'secure_privacy_dashboard', __( 'Consent at a glance', 'secure-privacy' ), 'secure_privacy_render_dashboard_widget' );
	}
}

/**
 * The dashboard widget: the last 30 days, the outbox and open erasure requests.
 */
function secure_privacy_render_dashboard_widget(): void {
	$from  = gmdate( 'Y-m-d', time() - 29 * DAY_IN_SECONDS );
	$to    = gmdate( 'Y-m-d' );
	$daily = secure_privacy_fetch_stats( $from, $to, 'day' );
	echo '<div class="sp-dash">';
	if ( is_wp_error( $daily ) ) {
		echo '<p class="sp-bad">' . esc_html( $daily->get_error_message() ) . '</p>';
	} else {
		$days    = secure_privacy_days( $from, $to );
		$aligned = secure_privacy_align_days( $daily, $days );
		$cats    = secure_privacy_fetch_stats( $from, $to, 'category' );
		$total   = array_sum( array_column( $aligned, 'decisions' ) );
		echo '<div class="sp-dash-head"><div><span class="sp-card-value" data-sp-card="dashboard-decisions">' . esc_html( number_format_i18n( $total ) ) . '</span><span class="sp-card-note">' . esc_html__( 'decisions in the last 30 days', 'secure-privacy' ) . '</span></div>';
		echo secure_privacy_svg_column_chart( // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- built from escaped parts.
			$days,
			array(
				array(
					'label'  => __( 'Decisions', 'secure-privacy' ),
					'color'  => '#2271b1',
					'values' => array_values( array_column( $aligned, 'decisions' ) ),
				),
			),
			__( 'Decisions per day, last 30 days', 'secure-privacy' ),
			array(
				'width'   => 180,
				'height'  => 44,
				'compact' => true,
			)
		);
		echo '</div>';
		$labels = secure_privacy_category_labels();
		$rows   = array();
		foreach ( is_wp_error( $cats ) ? array() : $cats as $group ) {
			$key = (string) ( $group['key'] ?? '' );
			if ( isset( SECURE_PRIVACY_CATEGORY_COLORS[ $key ] ) ) {
				$rows[] = array(
					'label' => $labels[ $key ],
					'value' => (float) ( $group['opt_in_rate'] ?? 0 ),
					'text'  => secure_privacy_format_rate( $group['opt_in_rate'] ?? null ),
					'color' => SECURE_PRIVACY_CATEGORY_COLORS[ $key ],
				);
			}
		}
		echo secure_privacy_html_bars( $rows, 1.0, __( 'Opt-in rate per category', 'secure-privacy' ) ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- built from escaped parts.
	}
	echo '<h3>' . esc_html__( 'Outbox', 'secure-privacy' ) . '</h3>';
	secure_privacy_render_outbox_summary( secure_privacy_outbox_status() );
	secure_privacy_render_erasure_deadlines( 5 );
	printf(
		'<p class="sp-dash-links"><a href="%1$s">%2$s</a> · <a href="%3$s">%4$s</a></p>',
		esc_url( secure_privacy_admin_page_url( SECURE_PRIVACY_STATS_SLUG ) ),
		esc_html__( 'Statistics', 'secure-privacy' ),
		esc_url( secure_privacy_admin_page_url( SECURE_PRIVACY_LOG_SLUG ) ),
		esc_html__( 'Consent log', 'secure-privacy' )
	);
	echo '</div>';
}
