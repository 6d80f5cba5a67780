<?php
/**
 * The record page's account of its screenshot (issue 12, finding 7 and 8): every sentence is
 * computed from the record's data and claims no more than it holds: when the picture was
 * rendered against the decision, whether the render is shared or reused, which state of the
 * banner it shows, and why there is no picture (never "reload in a moment" when none is
 * coming).
 *
 * @package SecurePrivacy
 */

final class ScreenshotAccountTest extends SP_WP_TestCase {

	/** The decision's time in every record here. */
	private const DECIDED = '2026-01-31T19:20:00.000000Z';

	public static function setUpBeforeClass(): void {
		require_once dirname( SECURE_PRIVACY_FILE ) . '/includes/admin.php';
		require_once dirname( SECURE_PRIVACY_FILE ) . '/includes/admin-log.php';
	}

	/**
	 * A record as the sidecar answers it, with a done screenshot unless overridden.
	 *
	 * @param array $shot   Screenshot fields to override.
	 * @param array $fields Record fields to override.
	 */
	private function rec( array $shot = array(), array $fields = array() ): array {
		return array_merge(
			array(
				'id'             => wp_generate_uuid4(),
				'action'         => 'grant',
				'method'         => 'accept_all',
				'page_url'       => 'https://shop.example:8443/offer/?utm_source=x',
				'banner_version' => 'b4nn3r',
				'language'       => 'sv-SE',
				'wp_user_id'     => 0,
				'occurred_at'    => self::DECIDED,
				'received_at'    => '2026-01-31T19:20:01.000000Z',
				'screenshot'     => array_merge(
					array(
						'status'                  => 'done',
						'reason'                  => null,
						'error'                   => null,
						'taken_at'                => '2026-01-31T19:23:00.000000Z',
						'reused'                  => false,
						'shared'                  => false,
						'shows'                   => 'first_layer_anonymous',
						'viewport'                => 'desktop',
						'width'                   => 1280,
						'height'                  => 800,
						'rendered_banner_version' => 'b4nn3r',
						'banner_version_match'    => true,
					),
					$shot
				),
			),
			$fields
		);
	}

	/**
	 * The account's sentences by id.
	 *
	 * @param array    $rec A record.
	 * @param int|null $now The time it is read.
	 */
	private function account( array $rec, ?int $now = null ): array {
		$lines = array();
		foreach ( secure_privacy_screenshot_account( $rec, $now ) as $line ) {
			$this->assertArrayNotHasKey( $line['id'], $lines, 'one sentence per id' );
			$lines[ $line['id'] ] = $line;
			foreach ( array( 'reload', 'in a moment', 'right after the decision' ) as $overclaim ) {
				$this->assertStringNotContainsStringIgnoringCase( $overclaim, $line['text'] );
			}
		}
		return $lines;
	}

	/** The no-picture sentence of a record whose screenshot is in state $shot. */
	private function missing( array $shot, array $fields = array(), ?int $now = null ): array {
		$done_only = array(
			'taken_at' => null,
			'reused'   => null,
			'shared'   => null,
			'shows'    => null,
		);
		$rec = $this->rec( array_merge( $done_only, $shot ), $fields );
		foreach ( array( 'viewport', 'width', 'height', 'rendered_banner_version', 'banner_version_match' ) as $key ) {
			unset( $rec['screenshot'][ $key ] );
		}
		$lines = $this->account( $rec, $now );
		$this->assertArrayHasKey( 'sp-shot-missing', $lines );
		$this->assertArrayNotHasKey( 'sp-shot-when', $lines, 'no render time without a render' );
		$this->assertArrayNotHasKey( 'sp-shot-shows', $lines );
		return $lines;
	}

	public function test_a_render_of_its_own_says_how_long_after_the_decision_and_the_receipt(): void {
		$lines = $this->account( $this->rec() );
		$this->assertStringContainsString( '3 mins after the decision and after the sidecar received it.', $lines['sp-shot-when']['text'] );
		$this->assertArrayNotHasKey( 'sp-shot-shared', $lines );
		$this->assertStringContainsString( 'first layer as it is offered to an anonymous visitor', $lines['sp-shot-shows']['text'] );
		$this->assertSame( 'Desktop view 1280×800, language sv-SE.', $lines['sp-shot-view']['text'] );
		$this->assertSame( 'sp-ok', $lines['sp-banner-match']['class'] );
	}

	/**
	 * The account of a record whose render, taken at $taken, is reused and shared.
	 *
	 * @param string $taken  The render's time.
	 * @param array  $fields Record fields to override.
	 */
	private function shared_render( string $taken, array $fields = array() ): array {
		$shot = array(
			'taken_at' => $taken,
			'reused'   => true,
			'shared'   => true,
		);
		return $this->account( $this->rec( $shot, $fields ) );
	}

	public function test_a_reused_render_from_before_the_decision_says_so(): void {
		$lines = $this->shared_render( '2026-01-31T17:20:00.000000Z' );
		$this->assertStringContainsString( '2 hours before the decision, and reused: it was made for an earlier consent.', $lines['sp-shot-when']['text'] );
		$this->assertSame( 'sp-warn', $lines['sp-shot-when']['class'] );
		$this->assertStringContainsString( 'shared with other consents, not taken for this one', $lines['sp-shot-shared']['text'] );
	}

	public function test_a_render_shared_after_this_consent_arrived_claims_neither_to_be_its_own_nor_not(): void {
		// Received at 19:20:01, rendered at 19:20:20, and the render proves other consents:
		// those sealed with this one, or later ones that reused it (the site's first consent
		// reads so once a second one reuses its render). Made for this one or another of them.
		$lines = $this->shared_render( '2026-01-31T19:20:20.000000Z' );
		$this->assertStringEndsWith( '20 seconds after the decision.', $lines['sp-shot-when']['text'] );
		$this->assertStringNotContainsString( 'received', $lines['sp-shot-when']['text'] );
		$this->assertStringNotContainsString( 'not taken for this one', $lines['sp-shot-shared']['text'] );
		$this->assertStringContainsString( 'shared with other consents. It was rendered after this consent reached the sidecar, for this consent or for another of them.', $lines['sp-shot-shared']['text'] );
	}

	public function test_times_within_one_second_compare_with_their_fractions(): void {
		// Rendered 0.5 s before the decision for an earlier consent, within the same second.
		$lines = $this->shared_render(
			'2026-01-31T19:20:00.300000Z',
			array(
				'occurred_at' => '2026-01-31T19:20:00.800000Z',
				'received_at' => '2026-01-31T19:20:00.900000Z',
			)
		);
		$this->assertStringEndsWith( '1 second before the decision, and reused: it was made for an earlier consent.', $lines['sp-shot-when']['text'] );
		$this->assertStringContainsString( 'not taken for this one', $lines['sp-shot-shared']['text'] );
		// Its own render, made after the sidecar received it, yet 0.3 s before the decision as
		// WordPress's clock timed it.
		$own   = array( 'taken_at' => '2026-01-31T19:20:00.500000Z' );
		$lines = $this->account(
			$this->rec(
				$own,
				array(
					'occurred_at' => '2026-01-31T19:20:00.800000Z',
					'received_at' => '2026-01-31T19:20:00.100000Z',
				)
			)
		);
		$this->assertStringContainsString( 'before the decision as WordPress timed it, but after the sidecar received it', $lines['sp-shot-when']['text'] );
		// The gap is rounded, not cut: 2.9 s is 3 seconds.
		$lines = $this->account( $this->rec( array( 'taken_at' => '2026-01-31T19:20:02.900000Z' ) ) );
		$this->assertStringContainsString( ', 3 seconds after the decision', $lines['sp-shot-when']['text'] );
	}

	public function test_a_custom_choice_and_a_signed_in_visitor_are_not_what_the_picture_shows(): void {
		$lines = $this->account(
			$this->rec(
				array(),
				array(
					'method'     => 'custom',
					'wp_user_id' => 7,
				)
			)
		);
		$this->assertStringContainsString( 'preferences view, which the picture does not show', $lines['sp-shot-choice']['text'] );
		$this->assertStringContainsString( 'signed in', $lines['sp-shot-user']['text'] );
		$plain = $this->account( $this->rec() );
		$this->assertArrayNotHasKey( 'sp-shot-choice', $plain );
		$this->assertArrayNotHasKey( 'sp-shot-user', $plain );
	}

	public function test_a_page_not_on_site_origins_names_the_stored_reason_and_the_fix(): void {
		$lines = $this->missing(
			array(
				'status' => 'skipped',
				'reason' => 'not_on_site_origins',
				'error'  => 'page_url is not on SP_SITE_ORIGINS',
			)
		);
		$text = $lines['sp-shot-missing']['text'];
		$this->assertStringContainsString( 'No screenshot will be taken for this record', $text );
		$this->assertStringContainsString( '"page_url is not on SP_SITE_ORIGINS"', $text );
		$this->assertStringContainsString( 'Add https://shop.example:8443 to SP_SITE_ORIGINS', $text );
	}

	public function test_a_failed_render_says_why_and_that_none_is_coming(): void {
		$lines = $this->missing(
			array(
				'status' => 'failed',
				'reason' => 'render_failed',
				'error'  => 'the consent banner did not show on the page',
			)
		);
		$this->assertStringContainsString( 'failed for good (the consent banner did not show on the page)', $lines['sp-shot-missing']['text'] );
		$this->assertStringContainsString( 'this one keeps none', $lines['sp-shot-missing']['text'] );
	}

	public function test_pending_says_what_it_waits_for_and_a_stuck_seal_points_at_the_worker(): void {
		$received = strtotime( '2026-01-31T19:20:01Z' );
		$waiting  = array(
			'status' => 'pending',
			'reason' => 'awaiting_seal',
		);
		$fresh    = $this->missing( $waiting, array(), $received + 5 );
		$this->assertStringContainsString( 'waits to be sealed', $fresh['sp-shot-missing']['text'] );
		$this->assertArrayNotHasKey( 'sp-shot-stuck', $fresh );
		$stuck = $this->missing( $waiting, array(), $received + 600 );
		$this->assertStringContainsString( 'received 10 mins ago', $stuck['sp-shot-stuck']['text'] );
		$this->assertStringContainsString( 'sidecar worker', $stuck['sp-shot-stuck']['text'] );
		$queued = $this->missing(
			array(
				'status' => 'pending',
				'reason' => 'awaiting_render',
			)
		);
		$this->assertStringContainsString( 'queued', $queued['sp-shot-missing']['text'] );
		$retry = $this->missing(
			array(
				'status' => 'pending',
				'reason' => 'retrying',
				'error'  => 'the page did not load within 20 s',
			)
		);
		$this->assertStringContainsString( '(the page did not load within 20 s). The worker tries again.', $retry['sp-shot-missing']['text'] );
		$none = $this->missing(
			array(
				'status' => 'skipped',
				'reason' => 'not_queued',
				'error'  => 'no render was queued for this record',
			)
		);
		$this->assertStringContainsString( 'No screenshot will be taken', $none['sp-shot-missing']['text'] );
	}

	public function test_the_page_escapes_what_the_sidecar_stored_and_labels_the_list(): void {
		ob_start();
		secure_privacy_render_screenshot_account(
			$this->rec(
				array(
					'status'   => 'failed',
					'reason'   => 'render_failed',
					'error'    => '<img src=x onerror=alert(1)>',
					'taken_at' => null,
				)
			)
		);
		$html = ob_get_clean();
		$this->assertStringContainsString( '<li id="sp-shot-missing" class="sp-warn">', $html );
		$this->assertStringNotContainsString( '<img', $html );
		$this->assertStringContainsString( '&lt;img', $html );

		ob_start();
		secure_privacy_render_screenshot_status(
			array(
				'status' => 'done',
				'reused' => true,
			)
		);
		secure_privacy_render_screenshot_status(
			array(
				'status' => 'skipped',
				'reason' => 'not_on_site_origins',
			)
		);
		$labels = wp_strip_all_tags( ob_get_clean() );
		$this->assertStringContainsString( 'Shared screenshot', $labels );
		$this->assertStringContainsString( 'Skipped', $labels );
		$this->assertStringContainsString( 'page not on SP_SITE_ORIGINS', $labels );
	}

	public function test_the_new_texts_are_in_swedish(): void {
		$this->assertTrue( switch_to_locale( 'sv_SE' ) );
		try {
			$lines = $this->account( $this->rec( array( 'reused' => true ) ) );
			$this->assertStringNotContainsString( 'after the decision', $lines['sp-shot-when']['text'] );
			$this->assertStringNotContainsString( 'anonymous visitor', $lines['sp-shot-shows']['text'] );
		} finally {
			restore_previous_locale();
		}
	}
}
