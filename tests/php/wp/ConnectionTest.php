<?php
/**
 * Test connection tells the truth (issue 12): the site's address on SP_SITE_ORIGINS, a live
 * screenshot worker and real signing secrets, each failure naming its fix.
 *
 * @package SecurePrivacy
 */

final class ConnectionTest extends SP_WP_TestCase {

	private function status( array $json ): array {
		return array(
			'status' => 200,
			'json'   => $json,
			'body'   => '',
		);
	}

	private static function by_label( array $checks ): array {
		return array_column( $checks, null, 'label' );
	}

	public function test_the_origin_of_a_url_is_written_as_sp_site_origins_writes_it(): void {
		$this->assertSame( 'https://example.org', secure_privacy_origin_of( 'HTTPS://Example.ORG:443/blog/?p=1' ) );
		$this->assertSame( 'http://127.0.0.1:8080', secure_privacy_origin_of( 'http://127.0.0.1:8080/' ) );
		$this->assertSame( 'http://example.org', secure_privacy_origin_of( 'http://example.org:80' ) );
	}

	public function test_a_site_not_on_sp_site_origins_fails_naming_the_fix(): void {
		$checks = self::by_label(
			secure_privacy_status_checks(
				$this->status(
					array(
						'site_origins' => array( 'https://example.com' ),
						'worker_alive' => true,
					)
				),
				'https://shop.example.org/'
			)
		);
		$site = $checks['Site address'];
		$this->assertFalse( $site['ok'] );
		$this->assertStringContainsString( 'https://shop.example.org is not on the sidecar\'s SP_SITE_ORIGINS (https://example.com)', $site['detail'] );
		$this->assertStringContainsString( 'Add https://shop.example.org to SP_SITE_ORIGINS', $site['detail'] );
		$this->assertTrue( $checks['Screenshot worker']['ok'] );
	}

	public function test_no_live_worker_fails_naming_the_fix(): void {
		$checks = self::by_label(
			secure_privacy_status_checks(
				$this->status(
					array(
						'site_origins' => array( 'https://shop.example.org' ),
						'worker_alive' => false,
					)
				),
				'https://shop.example.org/'
			)
		);
		$this->assertTrue( $checks['Site address']['ok'] );
		$this->assertFalse( $checks['Screenshot worker']['ok'] );
		$this->assertStringContainsString( 'sidecar worker', $checks['Screenshot worker']['detail'] );
	}

	public function test_a_sidecar_without_a_status_endpoint_is_named_too_old(): void {
		$checks = secure_privacy_status_checks( new WP_Error( 'secure_privacy_not_found', 'Not found', array( 'status' => 404 ) ), home_url( '/' ) );
		$this->assertFalse( $checks[0]['ok'] );
		$this->assertStringContainsString( 'too old', $checks[0]['detail'] );
	}

	/** @dataProvider weak_secrets */
	public function test_placeholder_and_short_secrets_are_flagged( string $secrets, string $says ): void {
		$this->assertStringContainsString( $says, (string) secure_privacy_weak_secret( $secrets ) );
	}

	public static function weak_secrets(): array {
		return array(
			'the README placeholder' => array( '<shared secret>', 'placeholder' ),
			'changeme'               => array( 'changeme', 'placeholder' ),
			'short'                  => array( 'Zq8-short-but-random', 'shorter than 32' ),
			'an old short key kept'  => array( 'tiny,' . str_repeat( 'k', 40 ), 'shorter than 32' ),
		);
	}

	public function test_a_long_random_secret_is_not_flagged(): void {
		$this->assertNull( secure_privacy_weak_secret( wp_generate_password( 48, false ) ) );
	}

	public function test_against_the_real_sidecar_every_check_passes(): void {
		$result = $this->as_stack_site( 'secure_privacy_test_connection' );
		$labels = array_column( $result['checks'], 'ok', 'label' );
		$this->assertTrue( $labels['Site address'] ?? null, (string) wp_json_encode( $result ) );
		$this->assertTrue( $labels['Screenshot worker'] ?? null, (string) wp_json_encode( $result ) );
		$this->assertArrayNotHasKey( 'Secret strength', $labels );
		$this->assertTrue( $result['ok'] );
		// This test site itself (phpunit.example) is not on the sidecar's origins.
		$here = array_column( secure_privacy_test_connection()['checks'], 'ok', 'label' );
		$this->assertFalse( $here['Site address'] );
	}
}
