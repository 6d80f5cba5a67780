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

		$export = secure_privacy_personal_data_exporter( $this->email, 1 );
		$this->assertTrue( $export['done'] );
		$this->assertCount( 1, $export['data'] );
		$fields = array_column( $export['data'][0]['data'], 'value', 'name' );
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
		$this->assertSame( array(), secure_privacy_personal_data_exporter( $this->email, 1 )['data'] );
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
