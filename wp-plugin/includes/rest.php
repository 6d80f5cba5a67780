<?php
/**
 * REST API: `POST /wp-json/secure-privacy/v1/consent`, the widget's consent intake (docs/api.md §3).
 *
 * The body is validated strictly, the server-side fields are added, and the payload is signed
 * and forwarded to the sidecar; whatever the sidecar does, a valid consent is answered 202 and,
 * when not delivered, kept in the outbox.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

const SECURE_PRIVACY_REST_NAMESPACE = 'secure-privacy/v1';

/**
 * Register the plugin's REST routes (runs on rest_api_init).
 */
function secure_privacy_register_rest_routes(): void {
	register_rest_route(
		SECURE_PRIVACY_REST_NAMESPACE,
		'/consent',
		array(
			'methods'             => WP_REST_Server::CREATABLE,
			'callback'            => 'secure_privacy_rest_record_consent',
			// Public on purpose: every visitor, signed in or not, records their own choice.
			'permission_callback' => '__return_true',
			'validate_callback'   => 'secure_privacy_rest_validate_consistency',
			'args'                => secure_privacy_rest_consent_args(),
		)
	);
}

/**
 * The consent route's arguments: all required, each described by a JSON Schema that WordPress
 * checks (rest_validate_request_arg(), run first by every validator below), with a validator
 * that adds what the schema cannot say and answers in the route's own words, and a normaliser.
 * Parameters not listed here are ignored (and never forwarded).
 */
function secure_privacy_rest_consent_args(): array {
	$string = static fn( string $description, string $validate, array $schema, string $sanitize = 'secure_privacy_rest_identity' ): array => array(
		'description'       => $description,
		'type'              => 'string',
		'required'          => true,
		'validate_callback' => $validate,
		'sanitize_callback' => $sanitize,
	) + $schema;
	$flags  = static fn( string $description, array $properties ): array => array(
		'description'          => $description,
		'type'                 => 'object',
		'required'             => true,
		'properties'           => $properties,
		'additionalProperties' => false,
		'validate_callback'    => 'secure_privacy_rest_validate_flags',
		'sanitize_callback'    => 'secure_privacy_rest_sanitize_flags',
	);
	$flag   = array(
		'type'     => 'boolean',
		'required' => true,
	);
	$uuid   = array( 'pattern' => SECURE_PRIVACY_UUID4_PATTERN );

	$version = array(
		'minLength' => 1,
		'maxLength' => SECURE_PRIVACY_MAX_VERSION_LENGTH,
		'pattern'   => SECURE_PRIVACY_VERSION_PATTERN,
	);
	$categories = array_fill_keys( SECURE_PRIVACY_CATEGORIES, $flag );
	$categories[ SECURE_PRIVACY_REQUIRED_CATEGORY ]['enum'] = array( true );

	return array(
		'event_id'       => $string( __( 'UUIDv4 made by the widget for this decision; the idempotency key.', 'secure-privacy' ), 'secure_privacy_rest_validate_uuid', $uuid, 'secure_privacy_rest_sanitize_uuid' ),
		'subject_id'     => $string( __( 'UUIDv4 of the visitor, kept in the consent cookie.', 'secure-privacy' ), 'secure_privacy_rest_validate_uuid', $uuid, 'secure_privacy_rest_sanitize_uuid' ),
		'action'         => $string( __( 'grant, update or withdraw.', 'secure-privacy' ), 'secure_privacy_rest_validate_enum', array( 'enum' => SECURE_PRIVACY_ACTIONS ) ),
		'method'         => $string( __( 'How the choice was made.', 'secure-privacy' ), 'secure_privacy_rest_validate_enum', array( 'enum' => SECURE_PRIVACY_METHODS ) ),
		'categories'     => $flags( __( 'The choice per category; necessary must be true.', 'secure-privacy' ), $categories ),
		'page_url'       => $string(
			__( 'Absolute http(s) URL of the page where the choice was made.', 'secure-privacy' ),
			'secure_privacy_rest_validate_page_url',
			array(
				'format'    => 'uri',
				'maxLength' => SECURE_PRIVACY_MAX_URL_LENGTH,
			)
		),
		'policy_version' => $string( __( 'Privacy-policy version the banner referred to.', 'secure-privacy' ), 'secure_privacy_rest_validate_version', $version ),
		'banner_version' => $string( __( 'Version of the banner shown.', 'secure-privacy' ), 'secure_privacy_rest_validate_version', $version ),
		'language'       => $string(
			__( 'BCP 47 language tag of the banner shown.', 'secure-privacy' ),
			'secure_privacy_rest_validate_language',
			array(
				'maxLength' => SECURE_PRIVACY_MAX_LANGUAGE_LENGTH,
				'pattern'   => SECURE_PRIVACY_LANGUAGE_PATTERN,
			)
		),
		'signals'        => $flags( __( 'Privacy signals the browser sent.', 'secure-privacy' ), array_fill_keys( SECURE_PRIVACY_SIGNALS, $flag ) ),
	);
}

/**
 * Refuse an oversized body of the consent route with 413, before it is parsed (run by
 * secure_privacy_rest_check() from rest_pre_dispatch).
 *
 * @param WP_REST_Request $request A request for the consent route.
 */
function secure_privacy_rest_limit_body_size( WP_REST_Request $request ): ?WP_Error {
	if ( strlen( (string) $request->get_body() ) <= SECURE_PRIVACY_MAX_BODY_BYTES ) {
		return null;
	}
	return new WP_Error(
		'secure_privacy_body_too_large',
		/* translators: %d: size limit in bytes. */
		sprintf( __( 'The request body is larger than %d bytes.', 'secure-privacy' ), SECURE_PRIVACY_MAX_BODY_BYTES ),
		array( 'status' => 413 )
	);
}

/**
 * Record one consent decision: add the server-side fields, forward it, answer 202.
 *
 * Order is kept per visitor: when an earlier event of the same visitor waits in the outbox,
 * this one queues behind it; otherwise it is sent at once, whatever waits for other visitors.
 *
 * @param WP_REST_Request $request A request whose arguments passed validation.
 * @return WP_REST_Response|WP_Error 202 {event_id, delivered}; 409 when this event_id is already
 *     known with another choice (the sidecar's record or the outbox's row); 503 only when the
 *     event could neither be delivered nor kept in the outbox.
 */
function secure_privacy_rest_record_consent( WP_REST_Request $request ) {
	$payload = array();
	foreach ( array( 'event_id', 'subject_id', 'action', 'method', 'categories', 'page_url', 'policy_version', 'banner_version', 'language', 'signals' ) as $field ) {
		$payload[ $field ] = $request->get_param( $field );
	}
	$payload['ip']          = secure_privacy_client_ip();
	$payload['user_agent']  = secure_privacy_clean_user_agent( (string) $request->get_header( 'user_agent' ) );
	$payload['wp_user_id']  = get_current_user_id();
	$payload['occurred_at'] = gmdate( 'Y-m-d\TH:i:s\Z' );
	// The rule-set version in force now (includes/ruleset-version.php): what was blocked
	// when the choice was made. Kept with the payload if it waits in the outbox.
	$rules_version = secure_privacy_ruleset_version();
	if ( '' !== $rules_version ) {
		$payload['rules_version'] = $rules_version;
	}

	$queued = secure_privacy_outbox_payload( $payload['event_id'] );
	if ( null !== $queued && secure_privacy_consent_choice( $queued ) !== secure_privacy_consent_choice( $payload ) ) {
		return secure_privacy_rest_event_conflict( __( 'This event_id is already waiting for delivery with another choice; a new choice needs a new event_id.', 'secure-privacy' ), '' );
	}
	$result = null;
	if ( null !== $queued || secure_privacy_outbox_has_pending_for( $payload['subject_id'] ) ) {
		// The same event again, or earlier events of this visitor wait: it queues behind them.
		if ( null === $queued && ! secure_privacy_outbox_add( $payload, null ) ) {
			return secure_privacy_rest_unavailable();
		}
		secure_privacy_flush_outbox( SECURE_PRIVACY_OUTBOX_REQUEST_BATCH, false, 1 );
		$delivered = ! secure_privacy_outbox_contains( $payload['event_id'] );
	} else {
		$result    = secure_privacy_send_to_sidecar( $payload );
		$delivered = SECURE_PRIVACY_DELIVERED === $result['outcome'];
		if ( 409 === $result['status'] ) {
			// The sidecar holds this event_id with another choice: tell the sender, keep nothing.
			return secure_privacy_rest_event_conflict( $result['error'], (string) ( $result['record_id'] ?? '' ) );
		}
		if ( ! $delivered && ! secure_privacy_outbox_add( $payload, $result ) ) {
			return secure_privacy_rest_unavailable();
		}
		if ( $delivered && secure_privacy_outbox_has_due() ) {
			// The sidecar answers: a good moment for what waits (one unreachable try stops it).
			secure_privacy_flush_outbox( SECURE_PRIVACY_OUTBOX_REQUEST_BATCH, false, 1 );
		}
	}

	$body = array(
		'event_id'  => $payload['event_id'],
		'delivered' => $delivered,
	);
	if ( $delivered && isset( $result['receipt'] ) ) {
		// Signed by the sidecar (id, event, categories, times, record hash): proof the
		// visitor can keep that this choice was recorded.
		$body['record_id'] = $result['record_id'];
		$body['receipt']   = $result['receipt'];
	}
	return new WP_REST_Response( $body, 202 );
}

/**
 * The 409 of an event_id already known with another choice (F17): the sender must not be told
 * its choice was recorded.
 *
 * @param string $detail    Why (the sidecar's message, or the outbox's).
 * @param string $record_id The sidecar's record holding the event_id, or ''.
 */
function secure_privacy_rest_event_conflict( string $detail, string $record_id ): WP_Error {
	$data = array( 'status' => 409 );
	if ( '' !== $record_id ) {
		$data['record_id'] = $record_id;
	}
	return new WP_Error( 'secure_privacy_event_id_conflict', $detail, $data );
}

/**
 * The 503 of a consent that could neither be delivered nor kept.
 */
function secure_privacy_rest_unavailable(): WP_Error {
	return new WP_Error(
		'secure_privacy_unavailable',
		__( 'The consent could not be recorded. Please try again.', 'secure-privacy' ),
		array( 'status' => 503 )
	);
}

/**
 * The User-Agent as valid UTF-8 without control characters, at most 512 characters.
 *
 * @param string $user_agent Raw header value.
 */
function secure_privacy_clean_user_agent( string $user_agent ): string {
	$user_agent = mb_convert_encoding( $user_agent, 'UTF-8', 'UTF-8' ); // Invalid bytes become "?".
	$user_agent = (string) preg_replace( '/[\x00-\x1F\x7F]+/u', ' ', $user_agent );
	return mb_substr( trim( $user_agent ), 0, SECURE_PRIVACY_MAX_USER_AGENT_LENGTH );
}

/* ---- argument validators: true, or a WP_Error naming the problem ---------------------- */

/**
 * The registered schema of argument $param of the route $request matched.
 *
 * @param WP_REST_Request $request The request.
 * @param string          $param   Field name.
 */
function secure_privacy_rest_arg_schema( WP_REST_Request $request, string $param ): array {
	$args = $request->get_attributes()['args'] ?? array();
	return isset( $args[ $param ] ) && is_array( $args[ $param ] ) ? $args[ $param ] : array();
}

/**
 * A field error of the consent route.
 *
 * @param string $param   The field.
 * @param string $message What is wrong, for the developer reading the 400.
 */
function secure_privacy_rest_field_error( string $param, string $message ): WP_Error {
	return new WP_Error(
		'secure_privacy_invalid_field',
		$message,
		array(
			'status' => 400,
			'field'  => $param,
		)
	);
}

/**
 * Whether $value passes the JSON Schema registered for argument $param (WordPress's own
 * check, rest_validate_request_arg(): type, pattern, minLength, maxLength, enum, required
 * properties, additionalProperties).
 *
 * @param mixed           $value   Submitted value.
 * @param WP_REST_Request $request The request.
 * @param string          $param   Field name.
 */
function secure_privacy_rest_schema_valid( $value, $request, string $param ): bool {
	return true === rest_validate_request_arg( $value, $request, $param );
}

/**
 * Validate a UUID version 4 (any case): the schema's `pattern`.
 *
 * @param mixed           $value   Submitted value.
 * @param WP_REST_Request $request The request.
 * @param string          $param   Field name.
 * @return true|WP_Error
 */
function secure_privacy_rest_validate_uuid( $value, $request, $param ) {
	if ( ! secure_privacy_rest_schema_valid( $value, $request, $param ) ) {
		/* translators: %s: field name. */
		return secure_privacy_rest_field_error( $param, sprintf( __( '%s must be a version 4 UUID.', 'secure-privacy' ), $param ) );
	}
	return true;
}

/**
 * Validate a string against the field's registered `enum`.
 *
 * @param mixed           $value   Submitted value.
 * @param WP_REST_Request $request The request.
 * @param string          $param   Field name.
 * @return true|WP_Error
 */
function secure_privacy_rest_validate_enum( $value, $request, $param ) {
	if ( ! secure_privacy_rest_schema_valid( $value, $request, $param ) ) {
		$allowed = secure_privacy_rest_arg_schema( $request, $param )['enum'] ?? array();
		/* translators: 1: field name, 2: comma-separated allowed values. */
		return secure_privacy_rest_field_error( $param, sprintf( __( '%1$s must be one of: %2$s.', 'secure-privacy' ), $param, implode( ', ', $allowed ) ) );
	}
	return true;
}

/**
 * Validate `categories` or `signals`: a JSON object with exactly the keys of the field's
 * registered `properties`, each a JSON boolean; `categories.necessary` must be true.
 *
 * The schema says all of that, but WordPress's `boolean` also takes "true", "0" or 1, and
 * its `object` takes a list or ""; this adds JSON's strictness and names what is wrong.
 *
 * @param mixed           $value   Submitted value.
 * @param WP_REST_Request $request The request.
 * @param string          $param   Field name.
 * @return true|WP_Error
 */
function secure_privacy_rest_validate_flags( $value, $request, $param ) {
	$keys = array_keys( secure_privacy_rest_arg_schema( $request, $param )['properties'] ?? array() );
	if ( ! is_array( $value ) || ( $value && array_is_list( $value ) ) ) {
		/* translators: %s: field name. */
		return secure_privacy_rest_field_error( $param, sprintf( __( '%s must be a JSON object.', 'secure-privacy' ), $param ) );
	}
	$given = array_map( 'strval', array_keys( $value ) );
	if ( array_diff( $given, $keys ) || array_diff( $keys, $given ) ) {
		/* translators: 1: field name, 2: comma-separated keys. */
		return secure_privacy_rest_field_error( $param, sprintf( __( '%1$s must have exactly the keys: %2$s.', 'secure-privacy' ), $param, implode( ', ', $keys ) ) );
	}
	foreach ( $value as $key => $flag ) {
		if ( ! is_bool( $flag ) ) {
			/* translators: %s: field name with key, e.g. categories.marketing. */
			return secure_privacy_rest_field_error( $param, sprintf( __( '%s must be true or false.', 'secure-privacy' ), "{$param}.{$key}" ) );
		}
	}
	if ( ! secure_privacy_rest_schema_valid( $value, $request, $param ) ) {
		// What is left for the schema to refuse: the `enum` of the category always granted.
		return secure_privacy_rest_field_error( $param, __( 'categories.necessary must be true.', 'secure-privacy' ) );
	}
	return true;
}

/**
 * Validate `page_url` by the one page URL rule the sidecar applies too (includes/url.php).
 *
 * @param mixed           $value   Submitted value.
 * @param WP_REST_Request $request The request.
 * @param string          $param   Field name.
 * @return true|WP_Error
 */
function secure_privacy_rest_validate_page_url( $value, $request, $param ) {
	$why = secure_privacy_page_url_error( $value );
	if ( '' !== $why || ! secure_privacy_rest_schema_valid( $value, $request, $param ) ) {
		/* translators: 1: field name, 2: maximum length. */
		$message = sprintf( __( '%1$s must be an absolute http(s) URL of at most %2$d characters.', 'secure-privacy' ), $param, SECURE_PRIVACY_MAX_URL_LENGTH );
		return secure_privacy_rest_field_error( $param, '' === $why ? $message : $message . ' (' . $why . ')' );
	}
	return true;
}

/**
 * Validate `policy_version` / `banner_version`: 1 to 64 characters, no control characters
 * (the schema's minLength, maxLength and pattern).
 *
 * @param mixed           $value   Submitted value.
 * @param WP_REST_Request $request The request.
 * @param string          $param   Field name.
 * @return true|WP_Error
 */
function secure_privacy_rest_validate_version( $value, $request, $param ) {
	if ( ! secure_privacy_rest_schema_valid( $value, $request, $param ) ) {
		/* translators: 1: field name, 2: maximum length. */
		return secure_privacy_rest_field_error( $param, sprintf( __( '%1$s must be a string of 1 to %2$d characters.', 'secure-privacy' ), $param, SECURE_PRIVACY_MAX_VERSION_LENGTH ) );
	}
	return true;
}

/**
 * Validate `language`: a BCP 47-shaped tag such as "en", "sv-SE" or "zh-Hant-TW", at most 35
 * characters (the schema's pattern and maxLength).
 *
 * @param mixed           $value   Submitted value.
 * @param WP_REST_Request $request The request.
 * @param string          $param   Field name.
 * @return true|WP_Error
 */
function secure_privacy_rest_validate_language( $value, $request, $param ) {
	if ( ! secure_privacy_rest_schema_valid( $value, $request, $param ) ) {
		/* translators: %s: field name. */
		return secure_privacy_rest_field_error( $param, sprintf( __( '%s must be a BCP 47 language tag such as sv-SE.', 'secure-privacy' ), $param ) );
	}
	return true;
}

/**
 * Cross-field checks, after every field passed its own: the categories must say what the
 * method says, and only a withdrawal is made with the withdraw method.
 *
 * @param WP_REST_Request $request The request.
 * @return true|WP_Error
 */
function secure_privacy_rest_validate_consistency( WP_REST_Request $request ) {
	$action     = $request->get_param( 'action' );
	$method     = $request->get_param( 'method' );
	$categories = (array) $request->get_param( 'categories' );
	// The widget never grants a category the site does not offer, so accept_all leaves those off.
	$offered    = secure_privacy_settings()['categories_enabled'];
	$optional   = array_intersect_key( $categories, array_flip( $offered ) );

	if ( ( 'withdraw' === $action ) !== ( 'withdraw' === $method ) ) {
		return secure_privacy_rest_invalid_param( 'method', __( 'The withdraw action goes with the withdraw method, and only with it.', 'secure-privacy' ) );
	}
	if ( 'accept_all' === $method && in_array( false, $optional, true ) ) {
		return secure_privacy_rest_invalid_param( 'categories', __( 'accept_all must grant every category.', 'secure-privacy' ) );
	}
	if ( in_array( $method, array( 'reject_all', 'withdraw' ), true ) && in_array( true, $optional, true ) ) {
		/* translators: %s: method name. */
		return secure_privacy_rest_invalid_param( 'categories', sprintf( __( '%s must refuse every optional category.', 'secure-privacy' ), $method ) );
	}
	// The versions must be ones this site has shown (422 otherwise): recorded as served, not as claimed.
	return secure_privacy_rest_validate_served_versions( $request );
}

/**
 * A cross-field error in the shape WordPress gives per-field errors (`rest_invalid_param`
 * with `params` and `details`), so clients handle one shape.
 *
 * @param string $param   The field to blame.
 * @param string $message What is wrong.
 */
function secure_privacy_rest_invalid_param( string $param, string $message ): WP_Error {
	$error = secure_privacy_rest_field_error( $param, $message );
	return new WP_Error(
		'rest_invalid_param',
		/* translators: %s: list of invalid parameters. */
		sprintf( __( 'Invalid parameter(s): %s', 'secure-privacy' ), $param ),
		array(
			'status'  => 400,
			'params'  => array( $param => $message ),
			'details' => array( $param => rest_convert_error_to_response( $error )->get_data() ),
		)
	);
}

/* ---- argument normalisers -------------------------------------------------------------- */

/**
 * Leave a validated value as it is.
 *
 * @param mixed $value Validated value.
 * @return mixed
 */
function secure_privacy_rest_identity( $value ) {
	return $value;
}

/**
 * A validated UUID in lower case.
 *
 * @param mixed $value Validated UUID.
 */
function secure_privacy_rest_sanitize_uuid( $value ): string {
	return strtolower( (string) $value );
}

/**
 * A validated flag object with its keys in the registered (payload) order.
 *
 * @param mixed           $value   Validated object.
 * @param WP_REST_Request $request The request.
 * @param string          $param   Field name.
 */
function secure_privacy_rest_sanitize_flags( $value, $request, $param ): array {
	$keys = array_keys( secure_privacy_rest_arg_schema( $request, $param )['properties'] ?? array() );
	$out  = array();
	foreach ( $keys as $key ) {
		$out[ $key ] = (bool) ( $value[ $key ] ?? false );
	}
	return $out;
}
