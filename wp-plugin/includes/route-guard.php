<?php
/**
 * The gate of the public consent route: which requests WordPress dispatches to it, and the
 * checks each of them passes before its body is parsed (route spelling, body size, origin,
 * rate limit); and no credentialed CORS for foreign origins.
 *
 * The route is recognised with the very test WordPress dispatches by (see
 * secure_privacy_rest_is_consent_route()), so no spelling of the route that WordPress accepts
 * gets past the limits. As a second line, a request that WordPress hands to the consent
 * handler without having passed the gate is checked there (rest_dispatch_request).
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/** The consent route, as registered. */
const SECURE_PRIVACY_CONSENT_ROUTE = '/' . SECURE_PRIVACY_REST_NAMESPACE . '/consent';

/**
 * Whether WordPress dispatches the route string $route to the consent route.
 *
 * WP_REST_Server::match_request_to_handler() (and rest_handle_options_request()) match a
 * route with preg_match( '@^' . $route . '$@i' ): case-insensitive, and `$` also matches
 * before a final newline. This is the same test, so "/Secure-Privacy/v1/CONSENT" and
 * "/secure-privacy/v1/consent\n" are recognised as the route they reach.
 *
 * @param string $route The request's route (WP_REST_Request::get_route()).
 */
function secure_privacy_rest_is_consent_route( string $route ): bool {
	return 1 === preg_match( '@^' . SECURE_PRIVACY_CONSENT_ROUTE . '$@i', $route );
}

/**
 * Gate every request that WordPress would dispatch to the consent route (rest_pre_dispatch,
 * before WordPress matches the handler and parses the JSON body).
 *
 * @param mixed           $result  Response so far; null to let the request through.
 * @param WP_REST_Server  $server  Server instance.
 * @param WP_REST_Request $request The request.
 * @return mixed $result, or the refusal (WP_Error or WP_REST_Response).
 */
function secure_privacy_rest_guard( $result, $server, $request ) {
	if ( null !== $result || ! $request instanceof WP_REST_Request || ! secure_privacy_rest_is_consent_route( (string) $request->get_route() ) ) {
		return $result;
	}
	return secure_privacy_rest_check( $request ) ?? $result;
}

/**
 * Second line (rest_dispatch_request): a request WordPress hands to the consent handler that
 * did not pass the gate (a WordPress whose matching differs from ours) is checked now.
 *
 * @param mixed           $result  Dispatch result so far; null to call the handler.
 * @param WP_REST_Request $request The request.
 * @param string          $route   The matched route regex.
 * @param array           $handler The matched handler.
 * @return mixed $result, or the refusal.
 */
function secure_privacy_rest_guard_handler( $result, $request, $route, $handler ) {
	if ( null !== $result || ! $request instanceof WP_REST_Request || ! is_array( $handler )
		|| 'secure_privacy_rest_record_consent' !== ( $handler['callback'] ?? null ) || secure_privacy_rest_checked( $request ) ) {
		return $result;
	}
	return secure_privacy_rest_check( $request ) ?? $result;
}

/**
 * The checks of the consent route, cheapest first: the route's spelling (404), the body size
 * (413), the origin (403), the per-address rate limit (429).
 *
 * @param WP_REST_Request $request A request for the consent route.
 * @return WP_Error|WP_REST_Response|null The refusal, or null when the request may go on.
 */
function secure_privacy_rest_check( WP_REST_Request $request ) {
	secure_privacy_rest_checked( $request, true );
	// Only the route's own spelling (in any case) is served: a control character after it
	// (e.g. "consent%0A") is no spelling a client of ours sends.
	if ( 0 !== strcasecmp( SECURE_PRIVACY_CONSENT_ROUTE, (string) $request->get_route() ) ) {
		return new WP_Error( 'rest_no_route', __( 'No route was found matching the URL and request method.', 'secure-privacy' ), array( 'status' => 404 ) );
	}
	foreach ( array( 'secure_privacy_rest_limit_body_size', 'secure_privacy_rest_check_origin', 'secure_privacy_rest_rate_limit' ) as $check ) {
		$refusal = $check( $request );
		if ( null !== $refusal ) {
			return $refusal;
		}
	}
	return null;
}

/**
 * Whether $request went through secure_privacy_rest_check() (or mark it so).
 *
 * @param WP_REST_Request $request The request.
 * @param bool            $mark    Mark it as checked.
 */
function secure_privacy_rest_checked( WP_REST_Request $request, bool $mark = false ): bool {
	static $checked = null;
	$checked ??= new WeakMap();
	if ( $mark ) {
		$checked[ $request ] = true;
	}
	return isset( $checked[ $request ] );
}

/**
 * Refuse a consent from a foreign origin with 403: another site must not make its visitors'
 * browsers record consents here (with their address and user agent).
 *
 * @param WP_REST_Request $request A request for the consent route.
 */
function secure_privacy_rest_check_origin( WP_REST_Request $request ): ?WP_Error {
	if ( secure_privacy_origin_allowed( $request->get_header( 'origin' ), $request->get_header( 'sec_fetch_site' ) ) ) {
		return null;
	}
	return new WP_Error(
		'secure_privacy_foreign_origin',
		__( 'Consents are accepted only from the pages of this site.', 'secure-privacy' ),
		array( 'status' => 403 )
	);
}

/**
 * Whether a request with these headers comes from the site's own pages, or from no browser.
 *
 * A browser names the origin of the page that made the request (Origin, on every POST and
 * every cross-origin request) and whether it is another site (Sec-Fetch-Site). A request
 * without Origin comes from no browser page (curl, a server): it could forge anything, so it
 * is let through. `Origin: null` (sandboxed frames, file: pages) is foreign.
 *
 * @param string|null $origin     The Origin header, if any.
 * @param string|null $fetch_site The Sec-Fetch-Site header, if any.
 */
function secure_privacy_origin_allowed( ?string $origin, ?string $fetch_site ): bool {
	if ( 'cross-site' === strtolower( trim( (string) $fetch_site ) ) ) {
		return false;
	}
	if ( null === $origin || '' === trim( $origin ) ) {
		return true;
	}
	$origin = secure_privacy_normalize_origin( $origin );
	return '' !== $origin && in_array( $origin, secure_privacy_allowed_origins(), true );
}

/**
 * The origins whose pages may record consents: the site's own (the origins of its home and
 * WordPress addresses, each over http and https), and those added by the
 * `secure_privacy_allowed_origins` filter. Normalised as secure_privacy_normalize_origin().
 *
 * @return string[]
 */
function secure_privacy_allowed_origins(): array {
	$origins = array();
	foreach ( array( home_url(), site_url(), (string) get_option( 'home' ), (string) get_option( 'siteurl' ) ) as $url ) {
		$origin = secure_privacy_normalize_origin( $url );
		if ( '' !== $origin ) {
			$origins[] = $origin;
			$origins[] = secure_privacy_normalize_origin( preg_replace( '#^https?#', str_starts_with( $origin, 'https:' ) ? 'http' : 'https', $origin ) );
		}
	}
	/**
	 * Filters the origins whose pages may record consents on this site (e.g. a headless
	 * front end on another host). Origins are "scheme://host[:port]".
	 *
	 * @param string[] $origins The site's own origins.
	 */
	$origins = (array) apply_filters( 'secure_privacy_allowed_origins', $origins );
	$origins = array_map( static fn( $o ) => is_string( $o ) ? secure_privacy_normalize_origin( $o ) : '', $origins );
	return array_values( array_unique( array_filter( $origins ) ) );
}

/**
 * "scheme://host[:port]" of an http(s) origin or URL, lower case, without a default port;
 * '' when it is none (e.g. "null").
 *
 * @param string $url An Origin header value or a URL.
 */
function secure_privacy_normalize_origin( string $url ): string {
	$url   = trim( $url );
	$parts = '' === $url || 1 === preg_match( '/[\x00-\x20\x7F]/', $url ) ? false : wp_parse_url( $url );
	if ( ! is_array( $parts ) || empty( $parts['host'] ) || ! in_array( strtolower( $parts['scheme'] ?? '' ), array( 'http', 'https' ), true ) ) {
		return '';
	}
	$scheme = strtolower( $parts['scheme'] );
	$port   = isset( $parts['port'] ) ? (int) $parts['port'] : null;
	if ( ( 'http' === $scheme && 80 === $port ) || ( 'https' === $scheme && 443 === $port ) ) {
		$port = null;
	}
	return $scheme . '://' . strtolower( $parts['host'] ) . ( null === $port ? '' : ':' . $port );
}

/**
 * No credentialed CORS for a foreign origin on the consent route (rest_pre_serve_request,
 * after core's rest_send_cors_headers() echoed the Origin with credentials allowed): the
 * browser then neither sends the consent (the preflight fails) nor lets the foreign page
 * read an answer.
 *
 * @param bool             $served  Whether the request was already served.
 * @param WP_HTTP_Response $result  The response.
 * @param WP_REST_Request  $request The request.
 * @return bool $served, unchanged.
 */
function secure_privacy_rest_cors_headers( $served, $result = null, $request = null ) {
	if ( $request instanceof WP_REST_Request && secure_privacy_rest_is_consent_route( (string) $request->get_route() )
		&& ! secure_privacy_origin_allowed( $request->get_header( 'origin' ), $request->get_header( 'sec_fetch_site' ) )
		&& ! headers_sent() ) {
		foreach ( array( 'Access-Control-Allow-Origin', 'Access-Control-Allow-Credentials', 'Access-Control-Allow-Methods', 'Access-Control-Allow-Headers', 'Access-Control-Expose-Headers' ) as $header ) {
			header_remove( $header );
		}
	}
	return $served;
}
