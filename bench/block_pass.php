<?php
/**
 * Auto-blocking's page pass (layer 2) alone, in a tight loop: a deterministic measure of its
 * CPU cost, which bench/plugin_render.py's whole-request ratios (noisy on a shared machine)
 * cannot give. Runs the plugin's own blocking.php and scanner on a fixed page, without
 * WordPress (what they need of it is stood in for here, as in tests/php/block-cli.php).
 *
 * Usage: [SP_PLUGIN_DIR=dir] php bench/block_pass.php [page.html] [iterations]
 *   SP_PLUGIN_DIR: another copy of wp-plugin/ to measure (before/after: `git archive <commit>
 *   wp-plugin | tar -x -C /tmp/before`, then SP_PLUGIN_DIR=/tmp/before/wp-plugin).
 *   page.html defaults to bench/fixtures/tracker-page.html: the front page of
 *   bench/plugin_render.py --trackers (WordPress 6.1, twentytwentyone) as the plugin's pass
 *   receives it: gtag.js enqueued with its config, the Meta Pixel and its <noscript> pixel, a
 *   YouTube embed, a LinkedIn pixel; 36 KB.
 *
 * Prints the median and minimum CPU µs per pass (7 rounds), and the same for a page that names no
 * known service (the pre-check alone), and a digest of the output (unchanged bytes across
 * changes to the pass are checked by the tests; this shows it too).
 *
 * @package SecurePrivacy
 */

if ( PHP_SAPI !== 'cli' ) {
	exit( 1 );
}

define( 'ABSPATH', __DIR__ . '/' );
// phpcs:disable -- stand-ins for WordPress.
function esc_attr( $s ) { return htmlspecialchars( (string) $s, ENT_QUOTES, 'UTF-8' ); }
function wp_load_alloptions() { return array(); }
function get_option( $name, $default = false ) { return $default; }
function get_bloginfo() { return '6.1.9'; }
// phpcs:enable
$secure_privacy_dir = ( getenv( 'SP_PLUGIN_DIR' ) ?: dirname( __DIR__ ) . '/wp-plugin' ) . '/includes/';
require_once $secure_privacy_dir . 'vocabulary.php';
require_once $secure_privacy_dir . 'blocking.php';
require_once $secure_privacy_dir . 'class-html-scanner.php';
const SECURE_PRIVACY_WIDGET_HANDLE = 'secure-privacy-widget';

$page  = (string) file_get_contents( $argv[1] ?? __DIR__ . '/fixtures/tracker-page.html' );
$iters = (int) ( $argv[2] ?? 2000 );
$plain = preg_replace( '~(?:https?:)?//[a-z0-9.-]*(?:googletagmanager|facebook|youtube|linkedin|google|gstatic|wp\.com|gravatar)[a-z0-9.-]*~i', '//example.org', $page );
$plain = str_replace( 'fbq(', 'fbx(', $plain );
$html  = array( 'Content-Type: text/html; charset=UTF-8' );

/** This process's CPU time (user + system), µs. */
function secure_privacy_cpu(): float {
	$r = getrusage();
	return ( $r['ru_utime.tv_sec'] + $r['ru_stime.tv_sec'] ) * 1e6 + $r['ru_utime.tv_usec'] + $r['ru_stime.tv_usec'];
}

/**
 * Median and minimum CPU µs per call of $fn over 7 rounds of $n calls (CPU time, not wall: on
 * a shared machine the wall time counts the waits for a core).
 */
function secure_privacy_bench( callable $fn, int $n ): array {
	$rounds = array();
	for ( $r = 0; $r < 7; $r++ ) {
		$t0 = secure_privacy_cpu();
		for ( $i = 0; $i < $n; $i++ ) {
			$fn();
		}
		$rounds[] = ( secure_privacy_cpu() - $t0 ) / $n;
	}
	sort( $rounds );
	return array( $rounds[3], $rounds[0] );
}

$out = secure_privacy_block_page( $page, $html );
printf( "page %d bytes, %d changed, output md5 %s\n", strlen( $page ), $out !== $page ? 1 : 0, md5( $out ) );
list( $median, $min ) = secure_privacy_bench( static fn() => secure_privacy_block_page( $page, $html ), $iters );
printf( "tracker page: %.1f us per pass CPU (median of 7 rounds of %d; min %.1f)\n", $median, $iters, $min );
$same = secure_privacy_block_page( $plain, $html ) === $plain;
list( $median, $min ) = secure_privacy_bench( static fn() => secure_privacy_block_page( $plain, $html ), $iters );
printf( "same page, no known service (%s): %.1f us per pass (min %.1f)\n", $same ? 'unchanged' : 'CHANGED', $median, $min );
