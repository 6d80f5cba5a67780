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
 * @param array $payload The consent payload (docs/api.md §2), unsigned.
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
		$result = secure_privacy_send_result( SECURE_PRIVACY_DELIVERED, $status, '' );
		// The sidecar's signed statement of what it recorded, for the visitor to keep.
		$answer = json_decode( (string) wp_remote_retrieve_body( $response ), true );
		if ( is_array( $answer ) && isset( $answer['receipt'], $answer['id'] ) && is_string( $answer['receipt'] ) ) {
			$result['receipt']   = $answer['receipt'];
			$result['record_id'] = (string) $answer['id'];
		}
		return $result;
	}
	$raw   = (string) wp_remote_retrieve_body( $response );
	$error = secure_privacy_sidecar_error( $status, $raw );
	// 401/403 mean keys or clocks of plugin and sidecar disagree: a configuration fault that a
	// fix heals, so the event waits for it rather than being given up. Other 4xx (400, 409,
	// 413, 422) refuse the payload itself: retrying cannot help.
	$retry  = $status >= 500 || in_array( $status, array( 401, 403, 408, 425, 429 ), true ) || $status < 400;
	$result = secure_privacy_send_result( $retry ? SECURE_PRIVACY_RETRY : SECURE_PRIVACY_REJECTED, $status, $error );
	$answer = json_decode( $raw, true );
	if ( 409 === $status && is_array( $answer ) && isset( $answer['error']['record_id'] ) && is_string( $answer['error']['record_id'] ) ) {
		$result['record_id'] = $answer['error']['record_id']; // event_id_conflict: the record holding it.
	}
	return $result;
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

/* ---- admin API (server-side only: the admin token never reaches a browser) -------------- */

/** Seconds an admin screen waits for the sidecar. */
const SECURE_PRIVACY_ADMIN_TIMEOUT = 10;

/**
 * Call the sidecar's admin API with the configured bearer token.
 *
 * @param string     $method HTTP method.
 * @param string     $path   Path below the sidecar URL, e.g. "/v1/consents".
 * @param array      $query  Query arguments; empty values are left out.
 * @param array|null $body   JSON body, or null for none.
 * @param array      $args   Extra wp_remote_request() arguments (e.g. stream, filename).
 * @return array{status: int, json: mixed, body: string, type: string}|WP_Error A WP_Error when the
 *     sidecar is not configured or unreachable, or answers with an error status (its error code
 *     and message; data: status).
 */
function secure_privacy_admin_api( string $method, string $path, array $query = array(), ?array $body = null, array $args = array() ) {
	$settings = secure_privacy_settings();
	if ( '' === $settings['sidecar_url'] || '' === $settings['admin_token'] ) {
		return new WP_Error( 'secure_privacy_not_configured', __( 'Enter the sidecar URL and an admin API token in the settings first.', 'secure-privacy' ), array( 'status' => 0 ) );
	}
	$query = array_filter( $query, static fn( $v ): bool => null !== $v && '' !== $v );
	$url   = $settings['sidecar_url'] . $path . ( $query ? '?' . http_build_query( $query, '', '&', PHP_QUERY_RFC3986 ) : '' );
	$args  = $args + array(
		'method'      => $method,
		'timeout'     => SECURE_PRIVACY_ADMIN_TIMEOUT,
		'redirection' => 0,
		'user-agent'  => 'SecurePrivacy/' . SECURE_PRIVACY_VERSION . '; ' . home_url( '/' ),
		'headers'     => array(
			'Authorization' => 'Bearer ' . $settings['admin_token'],
			'Accept'        => 'application/json',
		),
	);
	if ( null !== $body ) {
		$args['headers']['Content-Type'] = 'application/json';
		$args['body']                    = wp_json_encode( $body );
	}
	$response = wp_remote_request( $url, $args );
	if ( is_wp_error( $response ) ) {
		return new WP_Error(
			'secure_privacy_unreachable',
			/* translators: %s: error message of the HTTP client. */
			sprintf( __( 'The sidecar did not answer: %s', 'secure-privacy' ), $response->get_error_message() ),
			array( 'status' => 0 )
		);
	}
	$status = (int) wp_remote_retrieve_response_code( $response );
	$type   = (string) wp_remote_retrieve_header( $response, 'content-type' );
	$raw    = empty( $args['stream'] ) ? (string) wp_remote_retrieve_body( $response ) : '';
	if ( ! empty( $args['stream'] ) && $status >= 400 && ! empty( $args['filename'] ) && is_readable( $args['filename'] ) ) {
		$raw = (string) file_get_contents( $args['filename'], false, null, 0, 65536 ); // phpcs:ignore WordPress.WP.AlternativeFunctions.file_get_contents_file_get_contents -- a local temp file.
	}
	$json = str_starts_with( $type, 'application/json' ) ? json_decode( $raw, true ) : null;
	if ( $status >= 400 ) {
		$code    = is_array( $json ) && isset( $json['error']['code'] ) && is_string( $json['error']['code'] ) ? $json['error']['code'] : 'http_' . $status;
		$message = is_array( $json ) && isset( $json['error']['message'] ) && is_string( $json['error']['message'] ) ? $json['error']['message'] : secure_privacy_sidecar_error( $status, $raw );
		return new WP_Error( 'secure_privacy_' . $code, $message, array( 'status' => $status ) );
	}
	return array(
		'status' => $status,
		'json'   => $json,
		'body'   => $raw,
		'type'   => $type,
	);
}

/** Seconds the clocks of WordPress and the sidecar may differ before Test connection warns. */
const SECURE_PRIVACY_CLOCK_TOLERANCE = 30;

/**
 * Compare this server's clock with the sidecar's (its HTTP Date header): a token signed here
 * is refused when this clock runs ahead by more than the sidecar's SP_CLOCK_SKEW (60 s by
 * default), and ages faster when it runs behind. Null when the header is missing.
 *
 * @param string $date The sidecar's Date header.
 * @return array{ok: bool, label: string, detail: string}|null
 */
function secure_privacy_clock_check( string $date ): ?array {
	$theirs = '' === $date ? false : strtotime( $date );
	if ( false === $theirs ) {
		return null;
	}
	$ahead = time() - $theirs;
	$ok    = abs( $ahead ) <= SECURE_PRIVACY_CLOCK_TOLERANCE;
	return array(
		'ok'     => $ok,
		'key'    => 'clock',
		'label'  => __( 'Clock', 'secure-privacy' ),
		'detail' => $ok
			? __( 'The clocks of WordPress and the sidecar agree.', 'secure-privacy' )
			/* translators: %d: seconds, positive when WordPress is ahead. */
			: sprintf( __( 'WordPress\'s clock differs from the sidecar\'s by %+d s: consents may be refused as signed in the future or too old. Synchronise both servers with NTP.', 'secure-privacy' ), $ahead ),
	);
}

/** Signing secrets shorter than this many bytes are refused by the sidecar and flagged here. */
const SECURE_PRIVACY_MIN_SECRET_BYTES = 32;

/**
 * Why the signing secrets are not fit to sign consents (a placeholder, or shorter than
 * SECURE_PRIVACY_MIN_SECRET_BYTES), naming the fix; null when they are.
 *
 * @param string $secret_keys The comma-separated signing secrets.
 */
function secure_privacy_weak_secret( string $secret_keys ): ?string {
	foreach ( array_filter( array_map( 'trim', explode( ',', $secret_keys ) ) ) as $secret ) {
		if ( preg_match( '/[<>]|^(change.?me|secret|shared.?secret|password|example|test|x+)$/i', $secret ) ) {
			return __( 'A signing secret is a placeholder. Generate real secrets with `sidecar init` on the sidecar\'s host and paste its signing secret here.', 'secure-privacy' );
		}
		if ( strlen( $secret ) < SECURE_PRIVACY_MIN_SECRET_BYTES ) {
			/* translators: %d: minimum length in bytes. */
			return sprintf( __( 'A signing secret is shorter than %d characters: anyone who guesses it can forge consents. Generate one with `sidecar init` on the sidecar\'s host and use it on both sides.', 'secure-privacy' ), SECURE_PRIVACY_MIN_SECRET_BYTES );
		}
	}
	return null;
}

/**
 * The checks on the sidecar's own state (GET /v1/status): that this site's address is on its
 * SP_SITE_ORIGINS (or every consent's screenshot is skipped) and that a screenshot worker is
 * alive. Each failure names its fix.
 *
 * @param array|WP_Error $status The admin API's answer to GET /v1/status.
 * @param string         $home   This site's home URL.
 * @return array<int, array{ok: bool, label: string, detail: string}>
 */
function secure_privacy_status_checks( $status, string $home ): array {
	if ( is_wp_error( $status ) || ! is_array( $status['json'] ?? null ) ) {
		return array(
			array(
				'ok'     => false,
				'key'    => 'status',
				'label'  => __( 'Sidecar status', 'secure-privacy' ),
				'detail' => is_wp_error( $status ) && 404 === ( $status->get_error_data()['status'] ?? 0 )
					? __( 'The sidecar is too old to report its status (GET /v1/status): update it to the version of this plugin.', 'secure-privacy' )
					: ( is_wp_error( $status ) ? $status->get_error_message() : __( 'The sidecar answered its status with something other than JSON.', 'secure-privacy' ) ),
			),
		);
	}
	$json    = $status['json'];
	$origins = array_map( 'strval', (array) ( $json['site_origins'] ?? array() ) );
	$origin  = secure_privacy_origin_of( $home );
	$on      = in_array( $origin, $origins, true );
	$checks  = array(
		array(
			'ok'     => $on,
			'key'    => 'site_address',
			'label'  => __( 'Site address', 'secure-privacy' ),
			'detail' => $on
				/* translators: %s: the site's origin. */
				? sprintf( __( '%s is on the sidecar\'s SP_SITE_ORIGINS: its pages are screenshotted as proof.', 'secure-privacy' ), $origin )
				/* translators: 1: the site's origin, 2: the origins the sidecar has. */
				: sprintf( __( '%1$s is not on the sidecar\'s SP_SITE_ORIGINS (%2$s): consents are recorded without screenshots. Add %1$s to SP_SITE_ORIGINS and restart the sidecar and its worker.', 'secure-privacy' ), $origin, $origins ? implode( ', ', $origins ) : __( 'none', 'secure-privacy' ) ),
		),
	);
	$alive    = ! empty( $json['worker_alive'] );
	$checks[] = array(
		'ok'     => $alive,
		'key'    => 'worker',
		'label'  => __( 'Screenshot worker', 'secure-privacy' ),
		'detail' => $alive
			? __( 'A screenshot worker is running.', 'secure-privacy' )
			: __( 'No screenshot worker has been seen in the last minute: consents are recorded, but no screenshot is taken and the ledger is not sealed. Start the worker on the sidecar\'s host (`sidecar worker`, or its service).', 'secure-privacy' ),
	);
	return $checks;
}

/**
 * The origin (scheme://host[:port], lower case, default port left out) of a URL, as the
 * sidecar writes SP_SITE_ORIGINS.
 *
 * @param string $url An absolute http(s) URL.
 */
function secure_privacy_origin_of( string $url ): string {
	$parts  = wp_parse_url( $url );
	$scheme = strtolower( (string) ( $parts['scheme'] ?? '' ) );
	$host   = strtolower( (string) ( $parts['host'] ?? '' ) );
	$port   = isset( $parts['port'] ) ? (int) $parts['port'] : 0;
	if ( $port && ( array( 'http' => 80, 'https' => 443 )[ $scheme ] ?? 0 ) !== $port ) {
		$host .= ':' . $port;
	}
	return $scheme . '://' . $host;
}

/**
 * Check the connection: the sidecar's readiness and version, whether the admin token is
 * accepted, and whether it verifies our signature (a signed probe must fail validation, 422,
 * not the signature check, 401).
 *
 * @return array{ok: bool, version: string, checks: array<int, array{ok: bool, label: string, detail: string}>}
 */
function secure_privacy_test_connection(): array {
	$settings = secure_privacy_settings();
	$checks   = array();
	$version  = '';
	if ( '' === $settings['sidecar_url'] ) {
		$checks[] = array(
			'ok'     => false,
			'key'    => 'sidecar_url',
			'label'  => __( 'Sidecar URL', 'secure-privacy' ),
			'detail' => __( 'Not set.', 'secure-privacy' ),
		);
		$result = array(
			'ok'      => false,
			'version' => '',
			'checks'  => $checks,
		);
		secure_privacy_record_connection( $result );
		return $result;
	}
	$base = array(
		'timeout'     => SECURE_PRIVACY_SIDECAR_TIMEOUT,
		'redirection' => 0,
		'headers'     => array(
			'Accept'       => 'application/json',
			'Content-Type' => 'application/json',
		),
	);

	$ready = wp_remote_get( $settings['sidecar_url'] . '/readyz', $base );
	if ( is_wp_error( $ready ) ) {
		$checks[] = array(
			'ok'     => false,
			'key'    => 'readiness',
			'label'  => __( 'Readiness', 'secure-privacy' ),
			'detail' => $ready->get_error_message(),
		);
	} else {
		$status   = (int) wp_remote_retrieve_response_code( $ready );
		$json     = json_decode( (string) wp_remote_retrieve_body( $ready ), true );
		$version  = is_array( $json ) && isset( $json['version'] ) && is_string( $json['version'] ) ? $json['version'] : '';
		$checks[] = array(
			'ok'     => 200 === $status,
			'key'    => 'readiness',
			'label'  => __( 'Readiness', 'secure-privacy' ),
			'detail' => 200 === $status
				/* translators: %s: sidecar version. */
				? sprintf( __( 'Ready, version %s.', 'secure-privacy' ), $version )
				: secure_privacy_sidecar_error( $status, (string) wp_remote_retrieve_body( $ready ) ),
		);
		$clock = secure_privacy_clock_check( (string) wp_remote_retrieve_header( $ready, 'date' ) );
		if ( null !== $clock ) {
			$checks[] = $clock;
		}
	}

	$list     = secure_privacy_admin_api( 'GET', '/v1/consents', array( 'limit' => 1 ) );
	$checks[] = array(
		'ok'     => ! is_wp_error( $list ),
		'key'    => 'admin_token',
		'label'  => __( 'Admin API token', 'secure-privacy' ),
		'detail' => is_wp_error( $list ) ? $list->get_error_message() : __( 'Accepted.', 'secure-privacy' ),
	);
	if ( ! is_wp_error( $list ) ) {
		$checks = array_merge( $checks, secure_privacy_status_checks( secure_privacy_admin_api( 'GET', '/v1/status' ), home_url( '/' ) ) );
	}
	$weak = secure_privacy_weak_secret( $settings['secret_keys'] );
	if ( null !== $weak ) {
		$checks[] = array(
			'ok'     => false,
			'key'    => 'secret_strength',
			'label'  => __( 'Secret strength', 'secure-privacy' ),
			'detail' => $weak,
		);
	}

	try {
		$token = Secure_Privacy_Signer::from_list( $settings['secret_keys'] )->sign( array( 'probe' => true ) );
		$probe = wp_remote_post(
			$settings['sidecar_url'] . '/v1/consents',
			$base + array(
				'body'        => wp_json_encode( array( 'token' => $token ) ),
				'data_format' => 'body',
			)
		);
		$status = is_wp_error( $probe ) ? 0 : (int) wp_remote_retrieve_response_code( $probe );
		$ok     = 422 === $status;
		$detail = $ok ? __( 'The sidecar verifies this site\'s signatures.', 'secure-privacy' )
			: ( is_wp_error( $probe ) ? $probe->get_error_message() : secure_privacy_sidecar_error( $status, (string) wp_remote_retrieve_body( $probe ) ) );
	} catch ( InvalidArgumentException $e ) {
		$ok     = false;
		$detail = __( 'No signing secret is set.', 'secure-privacy' );
	}
	$checks[] = array(
		'ok'     => $ok,
		'key'    => 'signing',
		'label'  => __( 'Signing secret', 'secure-privacy' ),
		'detail' => $detail,
	);

	$result = array(
		'ok'      => ! in_array( false, array_column( $checks, 'ok' ), true ),
		'version' => $version,
		'checks'  => $checks,
	);
	secure_privacy_record_connection( $result );
	return $result;
}
