<?php
/**
 * Site rules (issue 13): the admin's own classification of what a scan finds, kept in the
 * option `secure_privacy_site_rules` (autoloaded: auto-blocking reads its request rules on
 * every page view) as a list of
 * `{"kind": "cookie"|"storage"|"request", "pattern": "_ga*"|"cdn.example.com", "category": "statistics", "service"?: "…"}`
 * and sent as `rules` with every `POST /v1/scans`, where they take precedence over every other
 * source. An option of its own, not a key of `secure_privacy_settings`: a change of that
 * option rebuilds the banner, which a rule does not need.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;


/**
 * The stored site rules, each valid (the option is sanitized again on read).
 *
 * @return array<int, array{kind: string, pattern: string, category: string, service?: string}>
 */
function secure_privacy_site_rules(): array {
	$stored = get_option( SECURE_PRIVACY_SITE_RULES_OPTION, array() );
	return secure_privacy_sanitize_site_rules( is_array( $stored ) ? $stored : array() );
}

/**
 * Sanitize callback of the option: the valid rules, in order, the later of two with the same
 * kind and pattern winning, at most SECURE_PRIVACY_MAX_SITE_RULES; invalid entries are dropped.
 *
 * @param mixed $value The rules to store.
 * @return array The list to store.
 */
function secure_privacy_sanitize_site_rules( $value ): array {
	$rules = array();
	foreach ( is_array( $value ) ? $value : array() as $raw ) {
		$rule = secure_privacy_validate_site_rule( $raw );
		if ( ! is_wp_error( $rule ) ) {
			$key = $rule['kind'] . "\0" . $rule['pattern'];
			unset( $rules[ $key ] ); // The later one wins and moves to the end.
			$rules[ $key ] = $rule;
		}
	}
	return array_slice( array_values( $rules ), -SECURE_PRIVACY_MAX_SITE_RULES );
}

/**
 * One rule, normalised, or why it is refused.
 *
 * A cookie name or storage key is 1-200 characters of valid UTF-8 without control characters,
 * with no space at either end; a request's host is lower case letters, digits, dots and
 * hyphens (an IPv6 address in brackets) with an optional ":port". `*` stands for any
 * characters. The category is one of the consent categories (not "unknown"); the service
 * name is optional plain text up to 100 characters.
 *
 * @param mixed $raw {kind, pattern, category, service?}.
 * @return array{kind: string, pattern: string, category: string, service?: string}|WP_Error
 */
function secure_privacy_validate_site_rule( $raw ) {
	$error = static fn( string $code, string $message ): WP_Error => new WP_Error( 'secure_privacy_rule_' . $code, $message, array( 'status' => 422 ) );
	if ( ! is_array( $raw ) ) {
		return $error( 'shape', __( 'A site rule must be an object with kind, pattern and category.', 'secure-privacy' ) );
	}
	$kind = $raw['kind'] ?? null;
	if ( ! in_array( $kind, SECURE_PRIVACY_SCAN_KINDS, true ) ) {
		/* translators: %s: the allowed kinds. */
		return $error( 'kind', sprintf( __( 'The kind of a site rule must be one of: %s.', 'secure-privacy' ), implode( ', ', SECURE_PRIVACY_SCAN_KINDS ) ) );
	}
	$category = $raw['category'] ?? null;
	if ( ! in_array( $category, SECURE_PRIVACY_CATEGORIES, true ) ) {
		/* translators: %s: the allowed categories. */
		return $error( 'category', sprintf( __( 'The category of a site rule must be one of: %s.', 'secure-privacy' ), implode( ', ', SECURE_PRIVACY_CATEGORIES ) ) );
	}
	$pattern = $raw['pattern'] ?? null;
	$pattern = is_string( $pattern ) ? ( 'request' === $kind ? strtolower( trim( $pattern ) ) : $pattern ) : '';
	$length  = mb_strlen( $pattern, 'UTF-8' );
	if ( 0 === $length || $length > SECURE_PRIVACY_MAX_RULE_PATTERN_LENGTH ) {
		/* translators: %d: the longest pattern, in characters. */
		return $error( 'pattern', sprintf( __( 'The pattern of a site rule must have 1 to %d characters.', 'secure-privacy' ), SECURE_PRIVACY_MAX_RULE_PATTERN_LENGTH ) );
	}
	$valid = 'request' === $kind
		? 1 === preg_match( '/^(?:[a-z0-9*](?:[a-z0-9.*-]*[a-z0-9*])?|\[[0-9a-f:.*]+\])(?::[0-9]{1,5})?$/D', $pattern )
		: mb_check_encoding( $pattern, 'UTF-8' ) && 1 !== preg_match( '/[\x00-\x1F\x7F]/', $pattern ) && trim( $pattern ) === $pattern;
	if ( ! $valid ) {
		return $error(
			'pattern',
			'request' === $kind
				? __( 'The pattern of a request rule must be a host name such as cdn.example.com or *.example.com, with an optional :port.', 'secure-privacy' )
				: __( 'The pattern of a cookie or storage rule must be a name without control characters or surrounding spaces; * stands for any characters.', 'secure-privacy' )
		);
	}
	$rule    = array(
		'kind'     => $kind,
		'pattern'  => $pattern,
		'category' => $category,
	);
	$service = $raw['service'] ?? null;
	if ( null !== $service && ! is_string( $service ) ) {
		return $error( 'service', __( 'The service of a site rule must be text.', 'secure-privacy' ) );
	}
	$service = trim( sanitize_text_field( (string) $service ) );
	if ( mb_strlen( $service, 'UTF-8' ) > SECURE_PRIVACY_MAX_RULE_SERVICE_LENGTH ) {
		/* translators: %d: the longest service name, in characters. */
		return $error( 'service', sprintf( __( 'The service name of a site rule must have at most %d characters.', 'secure-privacy' ), SECURE_PRIVACY_MAX_RULE_SERVICE_LENGTH ) );
	}
	if ( '' !== $service ) {
		$rule['service'] = $service;
	}
	return $rule;
}

/**
 * Add a rule, or replace the one with the same kind and pattern.
 *
 * @param mixed $raw The rule.
 * @return array|WP_Error The rule as stored, or why it was refused (nothing is changed then).
 */
function secure_privacy_put_site_rule( $raw ) {
	$rule = secure_privacy_validate_site_rule( $raw );
	if ( is_wp_error( $rule ) ) {
		return $rule;
	}
	$rules = secure_privacy_site_rules();
	if ( count( $rules ) >= SECURE_PRIVACY_MAX_SITE_RULES && null === secure_privacy_find_site_rule( $rules, $rule['kind'], $rule['pattern'] ) ) {
		/* translators: %d: the most rules. */
		return new WP_Error( 'secure_privacy_rule_limit', sprintf( __( 'There are already %d site rules: delete some first.', 'secure-privacy' ), SECURE_PRIVACY_MAX_SITE_RULES ), array( 'status' => 422 ) );
	}
	$rules[] = $rule;
	secure_privacy_save_site_rules( $rules );
	return $rule;
}

/**
 * Delete the rule with this kind and pattern; whether there was one.
 *
 * @param string $kind    Kind.
 * @param string $pattern Pattern.
 */
function secure_privacy_delete_site_rule( string $kind, string $pattern ): bool {
	$rules = secure_privacy_site_rules();
	$index = secure_privacy_find_site_rule( $rules, $kind, $pattern );
	if ( null === $index ) {
		return false;
	}
	unset( $rules[ $index ] );
	secure_privacy_save_site_rules( $rules );
	return true;
}

/**
 * Store the rules (sanitized), autoloaded: auto-blocking (includes/blocking.php) reads the
 * request rules on every page view, and an option that is not autoloaded would cost a query
 * there.
 *
 * @param array $rules Rules.
 */
function secure_privacy_save_site_rules( array $rules ): void {
	$rules = secure_privacy_sanitize_site_rules( $rules );
	// A row kept without autoload (by hand, or by an earlier version) is replaced, not
	// flipped: WordPress caches an option whose autoload update_option() turned on under its
	// own key, which delete_option() then leaves behind (stale rules after deleting them).
	if ( null !== get_option( SECURE_PRIVACY_SITE_RULES_OPTION, null ) && ! array_key_exists( SECURE_PRIVACY_SITE_RULES_OPTION, wp_load_alloptions() ) ) {
		delete_option( SECURE_PRIVACY_SITE_RULES_OPTION );
	}
	if ( null === get_option( SECURE_PRIVACY_SITE_RULES_OPTION, null ) ) {
		add_option( SECURE_PRIVACY_SITE_RULES_OPTION, $rules, '', 'yes' );
	} else {
		update_option( SECURE_PRIVACY_SITE_RULES_OPTION, $rules );
	}
}

/**
 * Index of the rule with this kind and pattern (host patterns in any case), or null.
 *
 * @param array  $rules   Rules.
 * @param string $kind    Kind.
 * @param string $pattern Pattern.
 */
function secure_privacy_find_site_rule( array $rules, string $kind, string $pattern ): ?int {
	$pattern = 'request' === $kind ? strtolower( trim( $pattern ) ) : $pattern;
	foreach ( $rules as $index => $rule ) {
		if ( $rule['kind'] === $kind && $rule['pattern'] === $pattern ) {
			return (int) $index;
		}
	}
	return null;
}
