<?php
/**
 * The plugin's page URL rule (wp-plugin/includes/url.php) against the vectors the sidecar's
 * rule (sidecar/urls.py) is checked against too: tests/vectors/urls.json.
 *
 * @package SecurePrivacy
 */

use PHPUnit\Framework\TestCase;

final class UrlRuleTest extends TestCase {

	private static function vectors(): array {
		return json_decode( (string) file_get_contents( dirname( __DIR__ ) . '/vectors/urls.json' ), true, 512, JSON_THROW_ON_ERROR );
	}

	public static function valid_urls(): iterable {
		foreach ( self::vectors()['valid'] as $i => $url ) {
			yield $i . ' ' . substr( $url, 0, 60 ) => array( $url );
		}
	}

	public static function invalid_urls(): iterable {
		foreach ( self::vectors()['invalid'] as $i => $vector ) {
			yield $i . ' ' . $vector['why'] => array( $vector['url'] );
		}
	}

	public static function not_strings(): iterable {
		foreach ( self::vectors()['not_strings'] as $i => $value ) {
			yield (string) $i => array( $value );
		}
	}

	/**
	 * @dataProvider valid_urls
	 */
	public function test_valid_page_urls_pass( string $url ): void {
		$this->assertSame( '', secure_privacy_page_url_error( $url ) );
	}

	/**
	 * The audit's F1 inputs (http://[x]/, http://[::1/, http://a℀b/) among them: they passed
	 * the old wp_parse_url check and made the sidecar answer 500.
	 *
	 * @dataProvider invalid_urls
	 */
	public function test_hostile_page_urls_are_refused_with_a_reason( string $url ): void {
		$this->assertNotSame( '', secure_privacy_page_url_error( $url ) );
	}

	/**
	 * @dataProvider not_strings
	 * @param mixed $value A JSON value that is not a string.
	 */
	public function test_a_page_url_that_is_not_a_string_is_refused( $value ): void {
		$this->assertSame( 'must be a string', secure_privacy_page_url_error( $value ) );
	}
}
