<?php
/**
 * WordPress privacy tools: exporter, eraser, and the erasure deadline.
 *
 * @package SecurePrivacy
 */

final class PrivacyTest extends SP_WP_TestCase {

	private int $user;

	private string $email;

	protected function setUp(): void {
		parent::setUp();
		$this->email = 'p' . wp_generate_password( 8, false ) . '@example.com';
		$this->user  = wp_insert_user( array( 'user_login' => 'p' . wp_generate_password( 8, false ), 'user_pass' => 'x-Pass-123', 'user_email' => $this->email ) );
	}

	protected function tearDown(): void {
		require_once ABSPATH . 'wp-admin/includes/user.php';
		wp_delete_user( $this->user );
	}

	public function test_exporter_and_eraser_are_registered_with_wordpress(): void {
		$this->assertArrayHasKey( 'secure-privacy', apply_filters( 'wp_privacy_personal_data_exporters', array() ) );
		$this->assertArrayHasKey( 'secure-privacy', apply_filters( 'wp_privacy_personal_data_erasers', array() ) );
	}

	public function test_export_then_erase_the_users_records(): void {
		wp_set_current_user( $this->user );
		$body = $this->body();
		$this->post_consent( $body );
		wp_set_current_user( 0 );

		$export = $this->export_all();
		$this->assertCount( 1, $export );
		$fields = array_column( $export[0]['data'], 'value', 'name' );
		$this->assertSame( $body['subject_id'], $fields['Visitor id'] );
		$this->assertSame( 'https://phpunit.example/page/', $fields['Page'] );

		// One more consent waits in the outbox while the sidecar is down: erased too.
		$this->set( array( 'sidecar_url' => self::DOWN_URL ) );
		wp_set_current_user( $this->user );
		$this->post_consent( $this->body() );
		wp_set_current_user( 0 );
		$this->assertCount( 1, $this->outbox() );
		$this->set( array( 'sidecar_url' => getenv( 'SP_TEST_SIDECAR_URL' ) ) );

		$erased = secure_privacy_personal_data_eraser( $this->email, 1 );
		$this->assertSame( 2, $erased['items_removed'] );
		$this->assertFalse( $erased['items_retained'] );
		$this->assertSame( array(), $this->outbox() );
		$this->assertSame( array(), $this->sidecar_records( $body['subject_id'] ) );
		$this->assertSame( array(), $this->export_all() );
	}

	/** Every item of the exporter, page after page until it is done. */
	private function export_all(): array {
		$items = array();
		for ( $page = 1; $page < 50; $page++ ) {
			$export = secure_privacy_personal_data_exporter( $this->email, $page );
			$this->assertIsArray( $export, is_wp_error( $export ) ? $export->get_error_message() : '' );
			$items = array_merge( $items, $export['data'] );
			if ( $export['done'] ) {
				return $items;
			}
		}
		$this->fail( 'the exporter never said done' );
	}

	/** Post a consent as $user (0: nobody signed in) with the sidecar up or down. */
	private function consent_as( int $user, array $body, bool $sidecar_up = true ): void {
		$this->set( array( 'sidecar_url' => $sidecar_up ? getenv( 'SP_TEST_SIDECAR_URL' ) : self::DOWN_URL ) );
		wp_set_current_user( $user );
		$this->assertSame( 202, $this->post_consent( $body )->get_status() );
		wp_set_current_user( 0 );
		$this->set( array( 'sidecar_url' => getenv( 'SP_TEST_SIDECAR_URL' ) ) );
	}

	public function test_export_and_erasure_cover_the_anonymous_records_of_the_users_browser(): void {
		$browser = wp_generate_uuid4(); // One consent cookie: before, while and after signing in.
		$other   = wp_insert_user( array( 'user_login' => 'o' . wp_generate_password( 8, false ), 'user_pass' => 'x-Pass-123', 'user_email' => 'o' . wp_generate_password( 8, false ) . '@example.com' ) );
		$before  = $this->body( array( 'subject_id' => $browser ) );
		$this->consent_as( 0, $before );
		$this->consent_as( $this->user, $this->body( array( 'subject_id' => $browser ) ) );
		$this->consent_as( $other, $this->body( array( 'subject_id' => $browser ) ) ); // A shared computer.
		$queued = $this->body( array( 'subject_id' => $browser ) );
		$this->consent_as( 0, $queued, false ); // Waits in the outbox.
		$stranger = $this->body();
		$this->consent_as( 0, $stranger, false );
		$this->assertCount( 2, $this->outbox() );

		$items = $this->export_all();
		$ids   = array_column( $items, 'item_id' );
		$this->assertCount( 3, $items, implode( ', ', $ids ) ); // Signed in, anonymous, waiting.
		$this->assertContains( 'secure-privacy-outbox', array_column( $items, 'group_id' ) );
		$ips = array_map( static fn( $i ) => array_column( $i['data'], 'value', 'name' )['IP address'], $items );
		$this->assertSame( array( '203.0.113.10' ), array_values( array_unique( $ips ) ) );

		$erased = secure_privacy_personal_data_eraser( $this->email, 1 );
		$this->assertSame( 3, $erased['items_removed'], implode( ' ', $erased['messages'] ) );
		$this->assertFalse( $erased['items_retained'] );
		$left = $this->sidecar_records( $browser );
		$this->assertSame( array( $other ), array_map( 'intval', array_column( $left, 'wp_user_id' ) ), 'the other user\'s record is theirs' );
		$this->assertStringContainsString( 'another user', implode( ' ', $erased['messages'] ) );
		$this->assertSame( array( $stranger['event_id'] ), array_column( $this->outbox(), 'event_id' ) );
		$this->assertSame( array(), $this->export_all() );
		require_once ABSPATH . 'wp-admin/includes/user.php';
		wp_delete_user( $other );
	}

	public function test_the_eraser_says_what_it_retained_when_the_sidecar_refuses(): void {
		$browser = wp_generate_uuid4();
		$this->consent_as( 0, $this->body( array( 'subject_id' => $browser ) ) );
		$this->consent_as( $this->user, $this->body( array( 'subject_id' => $browser ) ) );
		// The sidecar refuses the admin token: nothing can be erased there.
		$this->set( array( 'admin_token' => 'not-a-token' ) );
		$erased = secure_privacy_personal_data_eraser( $this->email, 1 );
		$this->assertTrue( $erased['items_retained'] );
		$this->assertStringContainsString( 'could not be erased', implode( ' ', $erased['messages'] ) );
		$this->set( array( 'admin_token' => getenv( 'SP_TEST_ADMIN_TOKEN' ) ) );
		$this->assertCount( 2, $this->sidecar_records( $browser ) );
		// Run again once the sidecar answers: the link to the browser was kept, all is found.
		$erased = secure_privacy_personal_data_eraser( $this->email, 1 );
		$this->assertSame( array( 2, false ), array( $erased['items_removed'], $erased['items_retained'] ) );
		$this->assertSame( array(), $this->sidecar_records( $browser ) );
	}

	public function test_erasing_a_visitor_removes_their_waiting_consents_from_the_outbox(): void {
		$visitor = $this->body();
		$this->consent_as( 0, $visitor, false );
		$_SERVER['REMOTE_ADDR'] = '2001:db8::77';
		$by_ip                  = $this->body();
		$this->consent_as( 0, $by_ip, false );
		$_SERVER['REMOTE_ADDR'] = '203.0.113.99';
		$bystander              = $this->body();
		$this->consent_as( 0, $bystander, false );

		// The Consent log's erase form, as wp-admin runs it.
		$proc = proc_open(
			array( PHP_BINARY, __DIR__ . '/admin-post-child.php', 'secure_privacy_erase', (string) wp_json_encode( array( 'by' => 'subject_id', 'value' => $visitor['subject_id'] ) ) ),
			array( 2 => array( 'pipe', 'w' ) ),
			$pipes
		);
		$err = stream_get_contents( $pipes[2] );
		$this->assertSame( 0, proc_close( $proc ), $err );
		wp_cache_flush(); // The notice was stored by the other process.
		$this->assertSame( array( 'success', 'Erased 0 records. 1 consent waiting in the outbox was removed.' ), get_transient( 'secure_privacy_notice_1' ) );
		delete_transient( 'secure_privacy_notice_1' );
		$this->assertSame( array( $by_ip['event_id'], $bystander['event_id'] ), array_column( $this->outbox(), 'event_id' ) );
		// Another spelling of the same IPv6 address.
		$this->assertSame( 1, secure_privacy_erase_visitor( 'ip', '2001:DB8:0:0::77' )['outbox'] );
		$this->assertSame( array( $bystander['event_id'] ), array_column( $this->outbox(), 'event_id' ) );

		secure_privacy_run_outbox_cron(); // Nothing of the erased visitors is delivered later.
		$this->assertSame( array(), $this->sidecar_records( $visitor['subject_id'] ) );
		$this->assertSame( array(), $this->sidecar_records( $by_ip['subject_id'] ) );
		$this->assertCount( 1, $this->sidecar_records( $bystander['subject_id'] ) );
	}

	public function test_the_eraser_reports_retained_items_when_the_sidecar_is_down(): void {
		$this->set( array( 'sidecar_url' => self::DOWN_URL ) );
		$erased = secure_privacy_personal_data_eraser( $this->email, 1 );
		$this->assertTrue( $erased['items_retained'] );
		$this->assertNotEmpty( $erased['messages'] );
	}

	public function test_an_erasure_request_gets_its_30_day_deadline(): void {
		$request = wp_create_user_request( $this->email, 'remove_personal_data', array(), 'confirmed' );
		$this->assertIsInt( $request );
		$this->assertSame( gmdate( 'Y-m-d', time() + 30 * DAY_IN_SECONDS ), get_post_meta( $request, SECURE_PRIVACY_DEADLINE_META, true ) );
		$export = wp_create_user_request( 'other-' . $this->email, 'export_personal_data' );
		$this->assertSame( '', get_post_meta( $export, SECURE_PRIVACY_DEADLINE_META, true ) );
		wp_delete_post( $request, true );
		wp_delete_post( $export, true );
	}
}
