<?php
/**
 * Proof of enforcement (issue 14): the plugin signs the rule-set version in force into every
 * consent (includes/ruleset-version.php, includes/rest.php), the real sidecar of the test
 * stack stores it, an event that waits in the outbox keeps the version of when it was given,
 * and the record page shows it with the scan that tested those rules (the scan API faked at
 * the HTTP boundary).
 *
 * @package SecurePrivacy
 */

final class RulesVersionTest extends SP_WP_TestCase {

	protected function setUp(): void {
		parent::setUp();
		$this->boot_scan_admin();
	}

	protected function tearDown(): void {
		$this->remove_fake_sidecar();
		delete_option( SECURE_PRIVACY_SITE_RULES_OPTION );
		$this->set( array( 'sidecar_url' => getenv( 'SP_TEST_SIDECAR_URL' ) ) );
		parent::tearDown();
	}

	/** The version written out by hand (docs/catalogue.md), not by the plugin's function. */
	private static function expected( string $site_rules_json ): string {
		$catalogue = hash_file( 'sha256', dirname( __DIR__, 3 ) . '/sidecar/catalogue/services.json' );
		return hash( 'sha256', '{"catalogue":"' . $catalogue . '","site_rules":' . $site_rules_json . '}' );
	}

	public function test_every_consent_carries_the_rule_set_version_in_force_when_it_was_given(): void {
		$body = $this->body();
		$this->assertSame( 202, $this->post_consent( $body )->get_status() );
		$this->assertSame( self::expected( '[]' ), $this->sidecar_records( $body['subject_id'] )[0]['rules_version'] );

		secure_privacy_put_site_rule(
			array(
				'kind'     => 'request',
				'pattern'  => '*.Tracker.example',
				'category' => 'marketing',
				'service'  => 'Tracker',
			)
		);
		$body = $this->body();
		$this->assertSame( 202, $this->post_consent( $body )->get_status() );
		$version = $this->sidecar_records( $body['subject_id'] )[0]['rules_version'];
		$this->assertSame( self::expected( '[{"category":"marketing","kind":"request","pattern":".tracker.example","service":"Tracker"}]' ), $version );
		$this->assertSame( secure_privacy_ruleset_version(), $version );
	}

	public function test_the_version_covers_the_rules_as_scans_get_them_not_the_raw_option(): void {
		// An option edited past the plugin's forms: an invalid entry, a duplicate (the later
		// wins). Scans are sent secure_privacy_site_rules(); the version must cover the same.
		$filter = 'sanitize_option_' . SECURE_PRIVACY_SITE_RULES_OPTION;
		remove_filter( $filter, 'secure_privacy_sanitize_site_rules' );
		update_option(
			SECURE_PRIVACY_SITE_RULES_OPTION,
			array(
				array(
					'kind'     => 'bogus',
					'pattern'  => 'x',
					'category' => 'marketing',
				),
				array(
					'kind'     => 'cookie',
					'pattern'  => '_ga*',
					'category' => 'marketing',
				),
				array(
					'kind'     => 'cookie',
					'pattern'  => '_ga*',
					'category' => 'statistics',
				),
			),
			false
		);
		add_filter( $filter, 'secure_privacy_sanitize_site_rules' );
		$this->assertCount( 3, get_option( SECURE_PRIVACY_SITE_RULES_OPTION ) );
		$this->assertSame( array( 'cookie' ), array_column( secure_privacy_site_rules(), 'kind' ) );
		$this->assertSame( self::expected( '[{"category":"statistics","kind":"cookie","pattern":"_ga*"}]' ), secure_privacy_ruleset_version() );
	}

	public function test_an_event_waiting_in_the_outbox_keeps_the_version_of_when_it_was_given(): void {
		$this->set( array( 'sidecar_url' => self::DOWN_URL ) );
		$body = $this->body();
		$this->assertFalse( $this->post_consent( $body )->get_data()['delivered'] );
		secure_privacy_put_site_rule(
			array(
				'kind'     => 'cookie',
				'pattern'  => '_ga*',
				'category' => 'statistics',
			)
		);
		$this->set( array( 'sidecar_url' => getenv( 'SP_TEST_SIDECAR_URL' ) ) );
		$this->assertSame( 1, secure_privacy_flush_outbox( 10, true )[ SECURE_PRIVACY_DELIVERED ] );
		$this->assertSame( self::expected( '[]' ), $this->sidecar_records( $body['subject_id'] )[0]['rules_version'] );
		$this->assertNotSame( self::expected( '[]' ), secure_privacy_ruleset_version() );
	}

	/** The record page's HTML for a record with this version, the scan API answering $scans. */
	private function record_page( ?string $version, array $scans, array &$asked = array() ): string {
		$id = wp_generate_uuid4();
		$this->fake_sidecar(
			'/v1/',
			static function ( string $method, string $path, array $args, string $url ) use ( $id, $version, $scans, &$asked ) {
				if ( '/v1/consents/' . $id === $path ) {
					return array(
						200,
						array(
							'id'            => $id,
							'event_id'      => wp_generate_uuid4(),
							'subject_id'    => wp_generate_uuid4(),
							'action'        => 'grant',
							'method'        => 'accept_all',
							'categories'    => array( 'necessary' => true ),
							'page_url'      => 'http://phpunit.example/',
							'occurred_at'   => '2026-11-30T01:00:00Z',
							'received_at'   => '2026-11-30T01:00:00Z',
							'hash'          => str_repeat( 'a', 64 ),
							'rules_version' => $version,
							'screenshot'    => array( 'status' => 'pending' ),
						),
					);
				}
				if ( '/v1/scans' === $path ) {
					wp_parse_str( (string) wp_parse_url( $url, PHP_URL_QUERY ), $query );
					$asked[] = $query;
					return array(
						200,
						array(
							'items'       => $scans,
							'next_cursor' => null,
						),
					);
				}
				return null;
			}
		);
		wp_set_current_user( 1 );
		ob_start();
		secure_privacy_render_log_record( $id );
		return (string) ob_get_clean();
	}

	public function test_the_record_page_links_the_scan_that_proved_its_rules(): void {
		$version = secure_privacy_ruleset_version();
		$scan    = wp_generate_uuid4();
		$asked   = array();
		$html    = $this->record_page(
			$version,
			array(
				array(
					'id'              => $scan,
					'status'          => 'done',
					'finished_at'     => '2026-11-29T10:00:00Z',
					'violations'      => 0,
					'ruleset_version' => $version,
				),
			),
			$asked
		);
		$this->assertSame( $version, $asked[0]['ruleset_version'] );
		$this->assertStringContainsString( '<code class="sp-hash" id="sp-rules-version">' . $version . '</code>', $html );
		$this->assertStringContainsString( '(the rules in force now)', $html );
		$this->assertMatchesRegularExpression( '/Proved by the scan of <a href="[^"]*scan=' . $scan . '">/', $html );
	}

	public function test_the_record_page_says_when_the_scan_of_its_rules_found_violations(): void {
		$version = str_repeat( 'b', 64 );
		$html    = $this->record_page(
			$version,
			array(
				array(
					'id'          => wp_generate_uuid4(),
					'finished_at' => '2026-11-29T10:00:00Z',
					'violations'  => 2,
				),
			)
		);
		$this->assertStringContainsString( 'which found 2 violations', $html );
		$this->assertStringNotContainsString( 'Proved by', $html );
		$this->assertStringNotContainsString( 'in force now', $html );
	}

	public function test_the_record_page_says_when_no_scan_tested_its_rules_or_it_has_none(): void {
		$this->assertStringContainsString( 'No stored scan tested these rules', $this->record_page( str_repeat( 'c', 64 ), array() ) );
		$this->remove_fake_sidecar();
		$asked = array();
		$html  = $this->record_page( null, array(), $asked );
		$this->assertStringContainsString( 'None: recorded before rule-set versions', $html );
		$this->assertSame( array(), $asked, 'no scan is looked up without a version' );
	}
}
