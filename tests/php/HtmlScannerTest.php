<?php
/**
 * The page pass's tokenizer (Secure_Privacy_HTML_Scanner) without WordPress: what it must skip
 * whole (comments, raw-text elements) and what it must never do (loop for ever). BlockingTest
 * (tests/php/wp) checks its bytes against WordPress's own tag processor.
 *
 * @package SecurePrivacy
 */

use PHPUnit\Framework\TestCase;

final class HtmlScannerTest extends TestCase {

	public static function setUpBeforeClass(): void {
		if ( ! function_exists( 'esc_attr' ) ) {
			eval( 'function esc_attr( $s ) { return htmlspecialchars( (string) $s, ENT_QUOTES, "UTF-8" ); }' ); // phpcs:ignore Squiz.PHP.Eval -- a stand-in for WordPress's.
		}
		require_once dirname( __DIR__, 2 ) . '/wp-plugin/includes/class-html-scanner.php';
	}

	/** Blocks every script and frame whose src or text names "tracker". */
	private function rewrite( string $html ): string {
		return ( new Secure_Privacy_HTML_Scanner( $html ) )->rewrite(
			static function ( string $tag, callable $attr, string $text ): array {
				$src = $attr( 'src' );
				if ( ! str_contains( is_string( $src ) ? $src : $text, 'tracker' ) ) {
					return array();
				}
				return 'SCRIPT' === $tag ? array( array( 'set', 'type', 'text/plain' ) ) : array( array( 'remove', 'src' ), array( 'set', 'data-sp-src', $src ) );
			}
		);
	}

	public function test_a_script_that_ends_the_input_with_a_dash_or_a_lt_ends_the_pass(): void {
		// It went round for ever (PHP until max_execution_time: the page never came). In a child
		// process with a 5 s limit, so a regression fails here instead of hanging the suite.
		$code = 'define( "ABSPATH", "/" ); function esc_attr( $s ) { return $s; } require ' . var_export( dirname( __DIR__, 2 ) . '/wp-plugin/includes/class-html-scanner.php', true ) . ';'
			. ' foreach ( array( "<SCRIPT>-", "<script>x<", "<p><script src=tracker>--" ) as $h ) { echo ( new Secure_Privacy_HTML_Scanner( $h ) )->rewrite( fn() => array( array( "set", "type", "text/plain" ) ) ), "|"; }';
		$out  = shell_exec( escapeshellarg( PHP_BINARY ) . ' -d max_execution_time=5 -r ' . escapeshellarg( $code ) . ' 2>&1' );
		$this->assertSame( '<SCRIPT>-|<script>x<|<p><script src=tracker>--|', $out, 'unclosed: left as it is, and the pass ends' );
	}

	public function test_what_comments_and_raw_text_hold_is_not_a_tag(): void {
		$inert = '<!-- <script src="https://tracker.example/a.js"></script> --><!-- a -- b --!>'
			. '<!---><!--><!DOCTYPE html><?xml x="<iframe src=tracker>"?>'
			. '<style media="a>b">p::after{content:"<script src=tracker>"}</style >'
			. '<title><img src="https://tracker.example/p.gif"></title><TEXTAREA a=b></textarea/>'
			. '<noembed><iframe src="https://tracker.example/e"></noembed><xmp><script src=tracker></XMP>';
		$this->assertSame( $inert, $this->rewrite( $inert ) );
	}

	public function test_a_closer_followed_by_a_form_feed_does_not_end_raw_text(): void {
		$html = "<style></style\f><script src=\"https://tracker.example/a.js\"></script></style><script src=\"https://tracker.example/b.js\"></script>";
		$this->assertSame( "<style></style\f><script src=\"https://tracker.example/a.js\"></script></style><script type=\"text/plain\" src=\"https://tracker.example/b.js\"></script>", $this->rewrite( $html ) );
	}

	public function test_scripts_are_found_after_comments_and_raw_text_and_end_where_the_tag_processor_ends_them(): void {
		$html = '<!-- x --><style>a{}</style><script src="https://tracker.example/a.js"></script>'
			. '<script>var a = 1 < 2 && b-- > 0; // </scripts></script><iframe src="https://tracker.example/e"></iframe>'
			. '<script>"<!--<script>"; x()</script> tracker() --></script>' // Escaped, double-escaped, escaped, unescaped: ends at the last closer.
			. '<script>q = "</</script>"; tracker();</script>'; // After '</' the tag processor steps over the '<': ends at the second.
		$this->assertSame(
			'<!-- x --><style>a{}</style><script type="text/plain" src="https://tracker.example/a.js"></script>'
			. '<script>var a = 1 < 2 && b-- > 0; // </scripts></script><iframe data-sp-src="https://tracker.example/e" ></iframe>'
			. '<script type="text/plain">"<!--<script>"; x()</script> tracker() --></script>'
			. '<script type="text/plain">q = "</</script>"; tracker();</script>',
			$this->rewrite( $html )
		);
	}
}
