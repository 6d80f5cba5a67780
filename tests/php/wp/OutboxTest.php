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

	/** Event ids the fake sidecar answers 500 for (see poison()). */
	private array $poisoned = array();

	protected function tearDown(): void {
		remove_all_filters( 'pre_http_request' );
		$this->poisoned = array();
		parent::tearDown();
	}

	/**
	 * Make the sidecar answer 500 for these events only (a payload the sidecar cannot handle,
	 * as `http://[x]/` was before the one URL rule): the real sidecar serves every other one.
	 */
	private function poison( string ...$event_ids ): void {
		$this->poisoned = array_merge( $this->poisoned, $event_ids );
		if ( has_filter( 'pre_http_request' ) ) {
			return;
		}
		add_filter(
			'pre_http_request',
			function ( $pre, $args, $url ) {
				if ( ! str_ends_with( (string) $url, '/v1/consents' ) || 'POST' !== ( $args['method'] ?? 'POST' ) ) {
					return $pre;
				}
				$token   = (string) ( json_decode( (string) $args['body'], true )['token'] ?? '' );
				$payload = json_decode( (string) base64_decode( strtr( explode( '.', $token )[0], '-_', '+/' ) ), true );
				if ( is_array( $payload ) && in_array( $payload['event_id'] ?? '', $this->poisoned, true ) ) {
					return array(
						'headers'  => array(),
						'body'     => '{"error":{"code":"internal_error","message":"Internal server error"}}',
						'response' => array(
							'code'    => 500,
							'message' => 'Internal Server Error',
						),
						'cookies'  => array(),
						'filename' => null,
					);
				}
				return $pre;
			},
			10,
			3
		);
	}

	/** A body of one visitor: grant, update or withdraw. */
	private function of( string $subject, string $action = 'grant' ): array {
		return $this->body(
			array(
				'subject_id' => $subject,
				'action'     => $action,
				'method'     => 'withdraw' === $action ? 'withdraw' : 'custom',
				'categories' => array( 'necessary' => true, 'preferences' => 'update' === $action, 'statistics' => false, 'marketing' => false ),
			)
		);
	}

	public function test_a_row_the_sidecar_answers_500_does_not_stop_other_visitors_consents(): void {
		// F1: the audit's row got 500 at the head of a FIFO outbox, and nothing after it was
		// ever delivered, by cron, "Deliver now" or later requests.
		$poison = $this->of( wp_generate_uuid4() );
		$this->poison( $poison['event_id'] );
		$this->assertFalse( $this->post_consent( $poison )->get_data()['delivered'] );
		$this->assertSame( array( $poison['event_id'] ), array_column( $this->outbox(), 'event_id' ) );

		// Other visitors are delivered at once, while the poisoned row waits.
		$later = $this->of( wp_generate_uuid4() );
		$this->assertTrue( $this->post_consent( $later )->get_data()['delivered'] );
		$this->assertCount( 1, $this->sidecar_records( $later['subject_id'] ) );

		// Rows of other visitors queued during an outage go out with cron, around the poisoned one.
		$this->set( array( 'sidecar_url' => self::DOWN_URL ) );
		$queued = array( $this->of( wp_generate_uuid4() ), $this->of( wp_generate_uuid4() ) );
		foreach ( $queued as $body ) {
			$this->assertFalse( $this->post_consent( $body )->get_data()['delivered'] );
		}
		$this->set( array( 'sidecar_url' => getenv( 'SP_TEST_SIDECAR_URL' ) ) );
		for ( $run = 0; $run < 3; $run++ ) { // Cron runs, each meeting the poisoned row again.
			$counts = secure_privacy_run_outbox_cron();
			$this->assertFalse( $counts['stopped'] );
		}
		foreach ( $queued as $body ) {
			$this->assertCount( 1, $this->sidecar_records( $body['subject_id'] ) );
		}
		$rows = $this->outbox();
		$this->assertSame( array( $poison['event_id'] ), array_column( $rows, 'event_id' ) );
		$this->assertSame( 'pending', $rows[0]['status'] );
		$this->assertStringContainsString( 'HTTP 500', $rows[0]['last_error'] );
		$this->assertGreaterThan( gmdate( 'Y-m-d H:i:s' ), $rows[0]['next_attempt_at'], 'it backs off' );

		// "Deliver now" after the fault is fixed delivers it too.
		$this->poisoned = array();
		secure_privacy_run_outbox_cron();
		$this->assertSame( array(), $this->outbox() );
		$this->assertCount( 1, $this->sidecar_records( $poison['subject_id'] ) );
	}

	public function test_a_visitors_later_consents_wait_behind_their_own_failing_row_in_order(): void {
		$subject = wp_generate_uuid4();
		$first   = $this->of( $subject );
		$this->poison( $first['event_id'] );
		$this->post_consent( $first );
		$second = $this->of( $subject, 'update' );
		$third  = $this->of( $subject, 'withdraw' );
		$this->assertFalse( $this->post_consent( $second )->get_data()['delivered'], 'queued behind its own visitor' );
		$this->assertFalse( $this->post_consent( $third )->get_data()['delivered'] );
		secure_privacy_run_outbox_cron();
		$this->assertSame( array(), $this->sidecar_records( $subject ), 'nothing overtakes the visitor\'s first choice' );
		$this->assertSame( array( $first['event_id'], $second['event_id'], $third['event_id'] ), array_column( $this->outbox(), 'event_id' ) );

		$this->poisoned = array();
		secure_privacy_run_outbox_cron();
		$this->assertSame( array(), $this->outbox() );
		$this->assertSame( array( $third['event_id'], $second['event_id'], $first['event_id'] ), array_column( $this->sidecar_records( $subject ), 'event_id' ), 'delivered in the order made' );
	}

	public function test_a_row_the_sidecar_refuses_as_invalid_leaves_the_head_marked_failed_with_the_reason(): void {
		// The audit's payload, queued (as an older plugin version did) before the one URL rule.
		$this->set( array( 'sidecar_url' => self::DOWN_URL ) );
		$subject = wp_generate_uuid4();
		$bad     = $this->of( $subject ) + array( 'ip' => '203.0.113.1', 'user_agent' => 'x', 'wp_user_id' => 0, 'occurred_at' => gmdate( 'Y-m-d\TH:i:s\Z' ) );
		$bad['page_url'] = 'http://[x]/';
		$this->assertTrue( secure_privacy_outbox_add( $bad, null ) );
		$after = $this->of( $subject, 'update' );
		$other = $this->of( wp_generate_uuid4() );
		$this->post_consent( $after );
		$this->post_consent( $other );
		$this->set( array( 'sidecar_url' => getenv( 'SP_TEST_SIDECAR_URL' ) ) );

		$counts = secure_privacy_run_outbox_cron();
		$this->assertSame( 1, $counts[ SECURE_PRIVACY_REJECTED ] );
		$this->assertSame( 2, $counts[ SECURE_PRIVACY_DELIVERED ] );
		$rows = $this->outbox();
		$this->assertCount( 1, $rows );
		$this->assertSame( array( $bad['event_id'], 'failed' ), array( $rows[0]['event_id'], $rows[0]['status'] ) );
		$this->assertStringContainsString( 'HTTP 422 invalid_payload: page_url', $rows[0]['last_error'] );
		$this->assertCount( 1, $this->sidecar_records( $subject ), 'the visitor\'s next choice went on' );
		$this->assertCount( 1, $this->sidecar_records( $other['subject_id'] ) );

		// wp-admin shows it, with the sidecar's reason.
		require_once dirname( SECURE_PRIVACY_FILE ) . '/includes/admin.php';
		require_once dirname( SECURE_PRIVACY_FILE ) . '/includes/admin-settings.php';
		ob_start();
		secure_privacy_render_outbox_failed( secure_privacy_outbox_status() );
		$html = (string) ob_get_clean();
		$this->assertStringContainsString( 'data-sp-event="' . $bad['event_id'] . '"', $html );
		$this->assertStringContainsString( 'HTTP 422 invalid_payload: page_url', $html );
		$this->assertSame( 1, secure_privacy_outbox_requeue_failed() );
		secure_privacy_run_outbox_cron();
		$this->assertSame( 'failed', $this->outbox()[0]['status'], 'refused again, and still not in the way' );
	}

	public function test_an_unreachable_sidecar_stops_a_run_after_three_tries(): void {
		$this->set( array( 'sidecar_url' => self::DOWN_URL ) );
		for ( $i = 0; $i < 5; $i++ ) {
			$this->post_consent( $this->of( wp_generate_uuid4() ) );
		}
		$counts = secure_privacy_run_outbox_cron();
		$this->assertTrue( $counts['stopped'] );
		$this->assertSame( SECURE_PRIVACY_OUTBOX_MAX_DOWN, $counts[ SECURE_PRIVACY_RETRY ] );
		$this->assertCount( 5, $this->outbox() );
	}

	public function test_the_same_event_id_with_another_choice_is_409_and_not_kept(): void {
		// F17: the sender was told 202 delivered with the first record's receipt.
		$body  = $this->body();
		$first = $this->post_consent( $body );
		$this->assertTrue( $first->get_data()['delivered'] );
		$other = array_merge( $body, array( 'method' => 'reject_all', 'categories' => array( 'necessary' => true, 'preferences' => false, 'statistics' => false, 'marketing' => false ) ) );
		$answer = $this->post_consent( $other );
		$this->assertSame( 409, $answer->get_status() );
		$this->assertSame( 'secure_privacy_event_id_conflict', $answer->get_data()['code'] );
		$this->assertSame( $first->get_data()['record_id'], $answer->get_data()['data']['record_id'] );
		$this->assertArrayNotHasKey( 'receipt', $answer->get_data() );
		$this->assertSame( array(), $this->outbox(), 'not kept, not retried' );
		$again = $this->post_consent( $body ); // An honest retry of the same choice.
		$this->assertSame( 202, $again->get_status() );
		$this->assertSame( $first->get_data()['record_id'], $again->get_data()['record_id'] );
		$this->assertCount( 1, $this->sidecar_records( $body['subject_id'] ) );
	}

	public function test_an_event_id_waiting_in_the_outbox_with_another_choice_is_409(): void {
		$this->set( array( 'sidecar_url' => self::DOWN_URL ) );
		$body = $this->body();
		$this->post_consent( $body );
		$other  = array_merge( $body, array( 'page_url' => 'https://phpunit.example/elsewhere/' ) );
		$answer = $this->post_consent( $other );
		$this->assertSame( 409, $answer->get_status() );
		$rows = $this->outbox();
		$this->assertCount( 1, $rows );
		$this->assertSame( 'https://phpunit.example/page/', json_decode( $rows[0]['payload'], true )['page_url'] );
		$this->assertSame( 202, $this->post_consent( $body )->get_status(), 'the same choice again is fine' );
		$this->assertCount( 1, $this->outbox() );
	}

	public function test_the_audit_urls_are_refused_at_the_route_and_never_queued(): void {
		foreach ( array( 'http://[x]/', 'http://[::1/', "http://a\u{2100}b/" ) as $url ) {
			$answer = $this->post_consent( $this->body( array( 'page_url' => $url ) ) );
			$this->assertSame( 400, $answer->get_status(), $url );
		}
		$this->assertSame( array(), $this->outbox() );
	}

	public function test_test_connection_reports_a_clock_difference_with_the_sidecar(): void {
		$this->assertTrue( secure_privacy_clock_check( gmdate( 'D, d M Y H:i:s', time() - 2 ) . ' GMT' )['ok'] );
		$ahead = secure_privacy_clock_check( gmdate( 'D, d M Y H:i:s', time() - 120 ) . ' GMT' );
		$this->assertFalse( $ahead['ok'] );
		$this->assertMatchesRegularExpression( '/\+12[01] s/', $ahead['detail'] );
		$this->assertNull( secure_privacy_clock_check( '' ) );
		$labels = array_column( secure_privacy_test_connection()['checks'], 'ok', 'label' );
		$this->assertTrue( $labels['Clock'] ?? null, 'the real sidecar sends Date, and its clock is ours' );
	}

	public function test_an_outbox_of_schema_2_gets_subject_ids_from_its_payloads(): void {
		global $wpdb;
		$table = secure_privacy_outbox_table();
		// phpcs:disable WordPress.DB
		$wpdb->query( "ALTER TABLE {$table} DROP INDEX subject_status, DROP COLUMN subject_id" );
		$body = $this->body() + array( 'ip' => '203.0.113.1', 'user_agent' => 'x', 'wp_user_id' => 0, 'occurred_at' => gmdate( 'Y-m-d\TH:i:s\Z' ) );
		$wpdb->insert(
			$table,
			array(
				'event_id'        => $body['event_id'],
				'payload'         => wp_json_encode( $body ),
				'next_attempt_at' => gmdate( 'Y-m-d H:i:s' ),
				'created_at'      => gmdate( 'Y-m-d H:i:s' ),
			)
		);
		// phpcs:enable
		update_option( SECURE_PRIVACY_DB_VERSION_OPTION, '2' );
		secure_privacy_outbox_maybe_install();
		$this->assertSame( SECURE_PRIVACY_DB_VERSION, get_option( SECURE_PRIVACY_DB_VERSION_OPTION ) );
		$this->assertSame( $body['subject_id'], $this->outbox()[0]['subject_id'] );
		secure_privacy_run_outbox_cron();
		$this->assertSame( array(), $this->outbox() );
		$this->assertCount( 1, $this->sidecar_records( $body['subject_id'] ) );
	}
}
