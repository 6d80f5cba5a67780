<?php
/**
 * Server-rendered SVG charts for the statistics page and the dashboard widget: no library,
 * no external request, readable without JavaScript, each with a title and a text alternative.
 *
 * The functions return markup built only from escaped parts and numbers.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/**
 * A line chart of rates (0–1) over days, one line per series, gaps where a day has no value.
 *
 * @param string[] $days   The x axis, YYYY-MM-DD, in order.
 * @param array    $series Each: {label: string, color: string, values: array<int, float|null>} aligned with $days.
 * @param string   $title  Accessible title.
 * @param array    $opts   width, height.
 */
function secure_privacy_svg_rate_chart( array $days, array $series, string $title, array $opts = array() ): string {
	$w      = (int) ( $opts['width'] ?? 720 );
	$h      = (int) ( $opts['height'] ?? 240 );
	$left   = 44;
	$right  = 24; // Room for the last day's label, centred on the right edge.
	$top    = 12;
	$bottom = 28;
	$plot_w = $w - $left - $right;
	$plot_h = $h - $top - $bottom;
	$n      = count( $days );
	$x      = static fn( int $i ): float => $left + ( $n > 1 ? $i * $plot_w / ( $n - 1 ) : $plot_w / 2 );
	$y      = static fn( float $v ): float => $top + ( 1 - max( 0.0, min( 1.0, $v ) ) ) * $plot_h;

	$svg = sprintf(
		'<svg class="sp-chart" viewBox="0 0 %1$d %2$d" width="100%%" role="img" aria-labelledby="%3$s-t" preserveAspectRatio="xMidYMid meet"><title id="%3$s-t">%4$s</title>',
		$w,
		$h,
		esc_attr( 'sp' . substr( md5( $title ), 0, 8 ) ),
		esc_html( $title )
	);
	foreach ( array( 0, 0.25, 0.5, 0.75, 1 ) as $tick ) {
		$ty   = $y( $tick );
		$svg .= sprintf( '<line x1="%1$d" x2="%2$d" y1="%3$.1f" y2="%3$.1f" class="sp-grid"/>', $left, $w - $right, $ty );
		$svg .= sprintf( '<text x="%1$d" y="%2$.1f" class="sp-axis" text-anchor="end">%3$s</text>', $left - 6, $ty + 4, esc_html( number_format_i18n( $tick * 100 ) . '%' ) );
	}
	$svg .= secure_privacy_svg_day_labels( $days, $x, $h - 8 );
	foreach ( $series as $line ) {
		$color    = sanitize_hex_color( (string) $line['color'] ) ? $line['color'] : '#2271b1';
		$segments = array();
		$current  = array();
		foreach ( array_values( $line['values'] ) as $i => $v ) {
			if ( null === $v ) {
				if ( $current ) {
					$segments[] = $current;
				}
				$current = array();
				continue;
			}
			$current[] = sprintf( '%.1f,%.1f', $x( $i ), $y( (float) $v ) );
		}
		if ( $current ) {
			$segments[] = $current;
		}
		foreach ( $segments as $points ) {
			if ( 1 === count( $points ) ) {
				[ $px, $py ] = explode( ',', $points[0] );
				$svg        .= sprintf( '<circle cx="%1$s" cy="%2$s" r="3" fill="%3$s"/>', esc_attr( $px ), esc_attr( $py ), esc_attr( $color ) );
				continue;
			}
			$svg .= sprintf( '<polyline points="%1$s" fill="none" stroke="%2$s" stroke-width="2.5" stroke-linejoin="round" stroke-linecap="round"/>', esc_attr( implode( ' ', $points ) ), esc_attr( $color ) );
		}
	}
	return $svg . '</svg>';
}

/**
 * A column chart of counts over days: stacked decisions and withdrawals.
 *
 * @param string[] $days   The x axis, YYYY-MM-DD.
 * @param array    $stacks Each: {label, color, values: int[]} aligned with $days, bottom first.
 * @param string   $title  Accessible title.
 * @param array    $opts   width, height, compact (no axes: a sparkline).
 */
function secure_privacy_svg_column_chart( array $days, array $stacks, string $title, array $opts = array() ): string {
	$compact = ! empty( $opts['compact'] );
	$w       = (int) ( $opts['width'] ?? 720 );
	$h       = (int) ( $opts['height'] ?? 200 );
	$left    = $compact ? 2 : 44;
	$right   = $compact ? 2 : 12;
	$top     = $compact ? 2 : 12;
	$bottom  = $compact ? 2 : 28;
	$plot_w  = $w - $left - $right;
	$plot_h  = $h - $top - $bottom;
	$n       = max( 1, count( $days ) );
	$max     = 0;
	foreach ( array_keys( $days ) as $i ) {
		$max = max( $max, array_sum( array_map( static fn( array $s ): int => (int) ( $s['values'][ $i ] ?? 0 ), $stacks ) ) );
	}
	$scale = secure_privacy_nice_max( $max );
	$slot  = $plot_w / $n;
	$bar   = max( 1.0, $slot * 0.72 );

	$svg = sprintf(
		'<svg class="sp-chart%5$s" viewBox="0 0 %1$d %2$d" width="100%%" role="img" aria-labelledby="%3$s-t" preserveAspectRatio="xMidYMid meet"><title id="%3$s-t">%4$s</title>',
		$w,
		$h,
		esc_attr( 'sp' . substr( md5( $title . $w ), 0, 8 ) ),
		esc_html( $title ),
		$compact ? ' sp-spark' : ''
	);
	if ( ! $compact ) {
		foreach ( array( 0, 0.5, 1 ) as $tick ) {
			$ty   = $top + ( 1 - $tick ) * $plot_h;
			$svg .= sprintf( '<line x1="%1$d" x2="%2$d" y1="%3$.1f" y2="%3$.1f" class="sp-grid"/>', $left, $w - $right, $ty );
			$svg .= sprintf( '<text x="%1$d" y="%2$.1f" class="sp-axis" text-anchor="end">%3$s</text>', $left - 6, $ty + 4, esc_html( number_format_i18n( $tick * $scale ) ) );
		}
		$svg .= secure_privacy_svg_day_labels( $days, static fn( int $i ): float => $left + ( $i + 0.5 ) * $slot, $h - 8 );
	}
	foreach ( array_keys( $days ) as $i ) {
		$base = $top + $plot_h;
		foreach ( $stacks as $stack ) {
			$v = (int) ( $stack['values'][ $i ] ?? 0 );
			if ( $v <= 0 ) {
				continue;
			}
			$bh    = $v / $scale * $plot_h;
			$base -= $bh;
			$svg  .= sprintf(
				'<rect x="%1$.1f" y="%2$.1f" width="%3$.1f" height="%4$.1f" rx="1.5" fill="%5$s"><title>%6$s</title></rect>',
				$left + $i * $slot + ( $slot - $bar ) / 2,
				$base,
				$bar,
				$bh,
				esc_attr( (string) $stack['color'] ),
				esc_html( $days[ $i ] . ' · ' . $stack['label'] . ': ' . number_format_i18n( $v ) )
			);
		}
	}
	return $svg . '</svg>';
}

/**
 * Date labels under an x axis: at most about eight, evenly spread, always the last one.
 *
 * @param string[] $days The days.
 * @param callable $x    Index → x coordinate.
 * @param int      $y    Baseline of the labels.
 */
function secure_privacy_svg_day_labels( array $days, callable $x, int $y ): string {
	$n     = count( $days );
	$step  = max( 1, (int) ceil( $n / 8 ) );
	$out   = '';
	$short = get_option( 'date_format' ) === 'Y-m-d' ? 'm-d' : 'M j';
	foreach ( array_values( $days ) as $i => $day ) {
		if ( $i % $step && $i !== $n - 1 ) {
			continue;
		}
		if ( $i === $n - 1 && $i % $step && $n - 1 - ( intdiv( $i, $step ) * $step ) < $step / 2 ) {
			continue; // Too close to the label before it.
		}
		$ts   = strtotime( $day . ' 12:00:00 UTC' );
		$out .= sprintf( '<text x="%1$.1f" y="%2$d" class="sp-axis" text-anchor="middle">%3$s</text>', $x( $i ), $y, esc_html( false === $ts ? $day : wp_date( $short, $ts, new DateTimeZone( 'UTC' ) ) ) );
	}
	return $out;
}

/**
 * A round upper bound for an axis: 1, 2, 5 × 10^k, at least 1.
 *
 * @param int|float $max The largest value.
 */
function secure_privacy_nice_max( $max ): float {
	if ( $max <= 1 ) {
		return 1.0;
	}
	$exp = 10 ** floor( log10( $max ) );
	foreach ( array( 1, 2, 2.5, 5, 10 ) as $m ) {
		if ( $m * $exp >= $max ) {
			return (float) ( $m * $exp );
		}
	}
	return (float) ( 10 * $exp );
}

/**
 * Horizontal bars (HTML meters): label, bar, value — for categories, countries and methods.
 *
 * @param array $rows Each: {label: string, value: float (0–1 for rates, else count), text: string, color?: string}.
 * @param float $max  The value of a full bar.
 * @param string $title Accessible caption.
 */
function secure_privacy_html_bars( array $rows, float $max, string $title ): string {
	$out = sprintf( '<div class="sp-bars" role="list" aria-label="%s">', esc_attr( $title ) );
	foreach ( $rows as $row ) {
		$pct  = $max > 0 ? max( 0.0, min( 100.0, (float) $row['value'] / $max * 100 ) ) : 0.0;
		$out .= sprintf(
			'<div class="sp-bar-row" role="listitem"><span class="sp-bar-label">%1$s</span><span class="sp-bar-track"><span class="sp-bar-fill" style="width:%2$.1f%%;background:%3$s"></span></span><span class="sp-bar-value">%4$s</span></div>',
			esc_html( (string) $row['label'] ),
			$pct,
			esc_attr( sanitize_hex_color( (string) ( $row['color'] ?? '' ) ) ? $row['color'] : '#2271b1' ),
			esc_html( (string) $row['text'] )
		);
	}
	return $out . '</div>';
}

/**
 * A rate (0–1 or null) as a percentage for people ("64%", "—").
 *
 * @param float|null $rate The rate.
 */
function secure_privacy_format_rate( $rate ): string {
	return null === $rate ? '—' : number_format_i18n( (float) $rate * 100, (float) $rate * 100 < 10 && $rate > 0 ? 1 : 0 ) . '%';
}
