<?php
/**
 * The plugin's rule-set version (wp-plugin/includes/ruleset-version.php) against the vectors
 * the sidecar's (sidecar/ruleset.py) is checked against too: tests/vectors/ruleset.json.
 *
 * @package SecurePrivacy
 */

use PHPUnit\Framework\TestCase;

final class RulesetVersionTest extends TestCase {

	public static function vectors(): iterable {
		$doc = json_decode( (string) file_get_contents( dirname( __DIR__ ) . '/vectors/ruleset.json' ), true, 512, JSON_THROW_ON_ERROR );
		foreach ( $doc['vectors'] as $vector ) {
			yield $vector['name'] => array( $vector );
		}
	}

	/**
	 * @dataProvider vectors
	 */
	public function test_the_canonical_json_and_version_match_the_shared_vector( array $vector ): void {
		$this->assertSame( $vector['canonical'], secure_privacy_ruleset_canonical_json( $vector['catalogue'], $vector['rules'] ) );
		$this->assertSame( $vector['version'], secure_privacy_ruleset_version_of( $vector['catalogue'], $vector['rules'] ) );
	}

	public function test_a_malformed_catalogue_digest_gives_no_version(): void {
		$this->assertSame( '', secure_privacy_ruleset_version_of( 'ABC', array() ) );
		$this->assertSame( '', secure_privacy_ruleset_version_of( str_repeat( 'A', 64 ), array() ) );
	}

	public function test_the_shipped_catalogue_digest_is_read_from_the_generated_file(): void {
		$this->assertSame(
			hash_file( 'sha256', dirname( __DIR__, 2 ) . '/sidecar/catalogue/services.json' ),
			secure_privacy_catalogue_sha256()
		);
	}
}
