<?php
/**
 * Nothing lost: a down sidecar never fails or slows the visitor; the outbox delivers later,
 * in order, exactly once.
 *
 * @package SecurePrivacy
 */

final class OutboxTest extends SP_WP_TestCase {

	public function test_a_down_sidecar_queues_the_event_and_answers_202_fast(): void {
		$this->set( array( 'sidecar_url' => self::DOWN_URL ) );
		$body    = $this->body();
		$started = microtime( true );
		$answer  = $this->post_consent( $body );
		$this->assertLessThan( 1.5, microtime( true ) - $started );
		$this->assertSame( 202, $answer->get_status() );
		$this->assertFalse( $answer->get_data()['delivered'] );
		$rows = $this->outbox();
		$this->assertCount( 1, $rows );
		$this->assertSame( $body['event_id'], $rows[0]['event_id'] );
		$this->assertSame( 'pending', $rows[0]['status'] );
		$payload = json_decode( $rows[0]['payload'], true );
		$this->assertSame( '203.0.113.10', $payload['ip'] );
		$this->assertMatchesRegularExpression( '/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/', $payload['occurred_at'] );
		$status = secure_privacy_outbox_status();
		$this->assertSame( 1, $status['pending'] );
		$this->assertNotSame( '', $status['last_error'] );
	}

	public function test_later_events_queue_behind_and_cron_delivers_all_in_order_once(): void {
		$this->set( array( 'sidecar_url' => self::DOWN_URL ) );
		$subject = wp_generate_uuid4();
		$events  = array();
		foreach ( array( 'grant', 'update', 'withdraw' ) as $action ) {
			$body     = $this->body(
				array(
					'subject_id' => $subject,
					'action'     => $action,
					'method'     => 'withdraw' === $action ? 'withdraw' : 'custom',
					'categories' => array( 'necessary' => true, 'preferences' => 'update' === $action, 'statistics' => false, 'marketing' => false ),
				)
			);
			$events[] = $body['event_id'];
			$this->assertSame( 202, $this->post_consent( $body )->get_status() );
		}
		$this->assertSame( $events, array_column( $this->outbox(), 'event_id' ) );

		$this->set( array( 'sidecar_url' => getenv( 'SP_TEST_SIDECAR_URL' ) ) );
		secure_privacy_run_outbox_cron();
		$this->assertSame( array(), $this->outbox() );
		$records = $this->sidecar_records( $subject );
		// Newest first: received in the order they were made.
		$this->assertSame( array_reverse( $events ), array_column( $records, 'event_id' ) );

		secure_privacy_run_outbox_cron(); // Nothing left, nothing sent twice.
		$this->assertCount( 3, $this->sidecar_records( $subject ) );
	}

	public function test_a_request_does_not_retry_during_the_backoff_but_cron_does(): void {
		$this->set( array( 'sidecar_url' => self::DOWN_URL ) );
		$this->post_consent( $this->body() );
		$this->set( array( 'sidecar_url' => getenv( 'SP_TEST_SIDECAR_URL' ) ) );
		$counts = secure_privacy_flush_outbox( 10 );
		$this->assertSame( 0, array_sum( $counts ), 'the head row is backing off' );
		$counts = secure_privacy_flush_outbox( 10, true );
		$this->assertSame( 1, $counts[ SECURE_PRIVACY_DELIVERED ] );
	}

	public function test_a_refused_event_is_kept_as_failed_and_can_be_requeued(): void {
		$payload = $this->body() + array( 'ip' => '203.0.113.1', 'user_agent' => 'x', 'wp_user_id' => 0, 'occurred_at' => 'not a time' );
		$result  = secure_privacy_send_to_sidecar( $payload );
		$this->assertSame( SECURE_PRIVACY_REJECTED, $result['outcome'] );
		$this->assertTrue( secure_privacy_outbox_add( $payload, $result ) );
		$status = secure_privacy_outbox_status();
		$this->assertSame( array( 0, 1 ), array( $status['pending'], $status['failed'] ) );
		$this->assertSame( 0, array_sum( secure_privacy_flush_outbox( 10, true ) ), 'failed rows are not retried by themselves' );
		$this->assertSame( 1, secure_privacy_outbox_requeue_failed() );
		$this->assertSame( 1, secure_privacy_outbox_status()['pending'] );
	}

	public function test_wrong_secret_is_retried_not_dropped(): void {
		$this->set( array( 'secret_keys' => 'not-the-sidecars-secret' ) );
		$body = $this->body();
		$this->assertSame( 202, $this->post_consent( $body )->get_status() );
		$this->assertSame( 'pending', $this->outbox()[0]['status'] );
		$this->set( array( 'secret_keys' => getenv( 'SP_TEST_SECRET_KEYS' ) ) );
		secure_privacy_run_outbox_cron();
		$this->assertCount( 1, $this->sidecar_records( $body['subject_id'] ) );
	}

	public function test_backoff_doubles_up_to_an_hour(): void {
		$this->assertSame( 30, secure_privacy_outbox_backoff( 1 ) );
		$this->assertSame( 60, secure_privacy_outbox_backoff( 2 ) );
		$this->assertSame( 3600, secure_privacy_outbox_backoff( 20 ) );
	}
}
