<?php
/**
 * The sidecar client: sign a consent payload and POST it to `{sidecar_url}/v1/consents`.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/** Seconds to wait for the sidecar; a visitor's request waits this long at most. */
const SECURE_PRIVACY_SIDECAR_TIMEOUT = 3;

/** The sidecar accepted the record (201) or already had it (200). */
const SECURE_PRIVACY_DELIVERED = 'delivered';

/** Not delivered now, worth retrying: no answer, 5xx, 429, or the plugin/sidecar pair is misconfigured. */
const SECURE_PRIVACY_RETRY = 'retry';

/** The sidecar refused this payload for good (a 4xx about the payload); retrying cannot help. */
const SECURE_PRIVACY_REJECTED = 'rejected';

/**
 * Sign $payload now with the newest key and send it to the sidecar.
 *
 * @param array $payload The consent payload (CONTRACT §4), unsigned.
 * @return array{outcome: string, status: int, error: string} outcome is one of
 *     SECURE_PRIVACY_DELIVERED / _RETRY / _REJECTED; status is the HTTP status (0 without
 *     an answer); error says why it was not delivered ('' when it was).
 */
function secure_privacy_send_to_sidecar( array $payload ): array {
	$settings = secure_privacy_settings();
	if ( '' === $settings['sidecar_url'] ) {
		return secure_privacy_send_result( SECURE_PRIVACY_RETRY, 0, 'The sidecar URL is not configured.' );
	}
	try {
		$token = Secure_Privacy_Signer::from_list( $settings['secret_keys'] )->sign( $payload );
	} catch ( InvalidArgumentException $e ) {
		return secure_privacy_send_result( SECURE_PRIVACY_RETRY, 0, 'No signing secret is configured.' );
	} catch ( JsonException $e ) {
		return secure_privacy_send_result( SECURE_PRIVACY_REJECTED, 0, 'The payload cannot be encoded as JSON: ' . $e->getMessage() );
	}

	// Not wp_safe_remote_post(): the sidecar usually listens on 127.0.0.1, which that refuses.
	$response = wp_remote_post(
		$settings['sidecar_url'] . '/v1/consents',
		array(
			'timeout'     => SECURE_PRIVACY_SIDECAR_TIMEOUT,
			'redirection' => 0,
			'user-agent'  => 'SecurePrivacy/' . SECURE_PRIVACY_VERSION . '; ' . home_url( '/' ),
			'headers'     => array(
				'Content-Type' => 'application/json',
				'Accept'       => 'application/json',
			),
			'body'        => wp_json_encode( array( 'token' => $token ) ),
			'data_format' => 'body',
		)
	);
	if ( is_wp_error( $response ) ) {
		return secure_privacy_send_result( SECURE_PRIVACY_RETRY, 0, $response->get_error_message() );
	}

	$status = (int) wp_remote_retrieve_response_code( $response );
	if ( $status >= 200 && $status < 300 ) {
		return secure_privacy_send_result( SECURE_PRIVACY_DELIVERED, $status, '' );
	}
	$error = secure_privacy_sidecar_error( $status, wp_remote_retrieve_body( $response ) );
	// 401/403 mean keys or clocks of plugin and sidecar disagree: a configuration fault that a
	// fix heals, so the event waits for it rather than being given up.
	$retry = $status >= 500 || in_array( $status, array( 401, 403, 408, 425, 429 ), true ) || $status < 400;
	return secure_privacy_send_result( $retry ? SECURE_PRIVACY_RETRY : SECURE_PRIVACY_REJECTED, $status, $error );
}

/**
 * The result array of secure_privacy_send_to_sidecar().
 */
function secure_privacy_send_result( string $outcome, int $status, string $error ): array {
	return array(
		'outcome' => $outcome,
		'status'  => $status,
		'error'   => $error,
	);
}

/**
 * A one-line description of a sidecar error answer, e.g. "HTTP 422 invalid_payload: ...".
 *
 * @param int    $status HTTP status.
 * @param string $body   Response body; the sidecar sends {"error": {"code", "message"}}.
 */
function secure_privacy_sidecar_error( int $status, string $body ): string {
	$error = "HTTP {$status}";
	$json  = json_decode( $body, true );
	if ( is_array( $json ) && isset( $json['error'] ) && is_array( $json['error'] ) ) {
		$code    = isset( $json['error']['code'] ) && is_string( $json['error']['code'] ) ? $json['error']['code'] : '';
		$message = isset( $json['error']['message'] ) && is_string( $json['error']['message'] ) ? $json['error']['message'] : '';
		$detail  = implode( ': ', array_filter( array( $code, $message ), 'strlen' ) );
		$error  .= '' === $detail ? '' : ' ' . $detail;
	}
	return $error;
}
