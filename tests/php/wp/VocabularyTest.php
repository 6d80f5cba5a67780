<?php
/**
 * The one vocabulary (includes/vocabulary.php) and the consent route's JSON Schema.
 *
 * @package SecurePrivacy
 */

final class VocabularyTest extends SP_WP_TestCase {

	public function test_every_label_list_names_exactly_the_vocabulary(): void {
		$this->assertSame( SECURE_PRIVACY_CATEGORIES, array_keys( secure_privacy_category_labels() ) );
		$this->assertSame( SECURE_PRIVACY_CATEGORIES, array_keys( secure_privacy_category_descriptions() ) );
		$this->assertSame( SECURE_PRIVACY_CATEGORIES, array_column( secure_privacy_categories(), 'key' ) );
		$this->assertSame( SECURE_PRIVACY_METHODS, array_keys( secure_privacy_method_labels() ) );
		$this->assertSame( SECURE_PRIVACY_ACTIONS, array_keys( secure_privacy_action_labels() ) );
		$this->assertSame( SECURE_PRIVACY_OPTIONAL_CATEGORIES, array_keys( SECURE_PRIVACY_CATEGORY_COLORS ) );
		$this->assertSame( SECURE_PRIVACY_REQUIRED_CATEGORY, SECURE_PRIVACY_CATEGORIES[0] );
		$this->assertSame( SECURE_PRIVACY_OPTIONAL_CATEGORIES, array_values( array_diff( SECURE_PRIVACY_CATEGORIES, array( SECURE_PRIVACY_REQUIRED_CATEGORY ) ) ) );
		$this->assertSame( SECURE_PRIVACY_OPTIONAL_CATEGORIES, secure_privacy_settings_defaults()['categories_enabled'] );
	}

	public function test_the_banner_island_lists_every_category_of_the_payload(): void {
		$this->set( array( 'categories_enabled' => array( 'statistics' ) ) );
		$config = json_decode( secure_privacy_banner_output( true )['config'], true );
		$this->assertSame( array( 'necessary', 'statistics' ), array_column( $config['categories'], 'key' ) );
		$this->assertSame( SECURE_PRIVACY_CATEGORIES, $config['categoryKeys'] );
	}

	public function test_a_banner_built_before_the_island_listed_every_category_is_not_served(): void {
		$this->set( array( 'categories_enabled' => array( 'statistics' ) ) );
		$built  = secure_privacy_banner_output( true );
		$config = json_decode( $built['config'], true );
		unset( $config['categoryKeys'] );
		// The key such an output was kept under before the island's format was part of it.
		$old_key = md5( implode( "\n", array( SECURE_PRIVACY_VERSION, determine_locale(), is_ssl() ? 'https' : 'http', get_option( 'home' ), WP_PLUGIN_URL, get_option( 'blogname' ), get_option( 'permalink_structure' ), get_option( 'wp_page_for_privacy_policy' ) ) ) );
		$old     = array( 'config' => (string) wp_json_encode( $config ) ) + $built + array( 'until' => '' );
		update_option( SECURE_PRIVACY_BANNER_CACHE_OPTION, array( $old_key => $old ) );

		$served = json_decode( secure_privacy_banner_output( true )['config'], true );
		$this->assertSame( SECURE_PRIVACY_CATEGORIES, $served['categoryKeys'] ?? null );
	}

	public function test_the_consent_route_describes_its_fields_by_json_schema(): void {
		$args = secure_privacy_rest_consent_args();
		$this->assertSame( SECURE_PRIVACY_UUID4_PATTERN, $args['event_id']['pattern'] );
		$this->assertSame( SECURE_PRIVACY_UUID4_PATTERN, $args['subject_id']['pattern'] );
		$this->assertSame( SECURE_PRIVACY_METHODS, $args['method']['enum'] );
		$this->assertSame( SECURE_PRIVACY_ACTIONS, $args['action']['enum'] );
		$this->assertSame( SECURE_PRIVACY_MAX_URL_LENGTH, $args['page_url']['maxLength'] );
		$this->assertSame( SECURE_PRIVACY_MAX_VERSION_LENGTH, $args['policy_version']['maxLength'] );
		$this->assertSame( SECURE_PRIVACY_MAX_LANGUAGE_LENGTH, $args['language']['maxLength'] );
		$this->assertFalse( $args['categories']['additionalProperties'] );
		$this->assertFalse( $args['signals']['additionalProperties'] );
		$this->assertSame( SECURE_PRIVACY_CATEGORIES, array_keys( $args['categories']['properties'] ) );
		$this->assertSame( array( true ), $args['categories']['properties']['necessary']['enum'] );
		// WordPress itself refuses by these schemas (the route's validators run them first).
		$this->assertInstanceOf( WP_Error::class, rest_validate_value_from_schema( 'not-a-uuid', $args['event_id'] ) );
		$this->assertTrue( rest_validate_value_from_schema( strtoupper( wp_generate_uuid4() ), $args['event_id'] ) );
		$this->assertInstanceOf( WP_Error::class, rest_validate_value_from_schema( array( 'gpc' => false, 'dnt' => false, 'x' => true ), $args['signals'] ) );
	}

	public function test_the_consent_route_uses_only_schema_keywords_this_wordpress_knows(): void {
		$known = array_merge( rest_get_allowed_schema_keywords(), array( 'required', 'validate_callback', 'sanitize_callback' ) );
		$walk  = function ( array $schema, string $path ) use ( &$walk, $known ): void {
			foreach ( $schema as $keyword => $value ) {
				$this->assertContains( $keyword, $known, "{$path}: {$keyword}" );
				if ( 'properties' === $keyword ) {
					foreach ( $value as $name => $property ) {
						$walk( $property, "{$path}.{$name}" );
					}
				}
			}
		};
		foreach ( secure_privacy_rest_consent_args() as $name => $schema ) {
			$walk( $schema, $name );
		}
	}

	/** Values WordPress's schema alone would let through, or that only a final newline breaks. */
	public static function strict_refusals(): array {
		$uuid = '2f1c7a52-9a43-4c1e-8d0b-3c5e7f9a1b2c';
		return array(
			'uuid with a final newline'    => array( array( 'event_id' => $uuid . "\n" ), 'event_id', 'event_id must be a version 4 UUID.' ),
			'uuid of version 1'            => array( array( 'subject_id' => '2f1c7a52-9a43-1c1e-8d0b-3c5e7f9a1b2c' ), 'subject_id', 'subject_id must be a version 4 UUID.' ),
			'version with a final newline' => array( array( 'policy_version' => "1\n" ), 'policy_version', 'policy_version must be a string of 1 to 64 characters.' ),
			'version with a tab'           => array( array( 'banner_version' => "a\tb" ), 'banner_version', 'banner_version must be a string of 1 to 64 characters.' ),
			'version too long'             => array( array( 'policy_version' => str_repeat( 'é', 65 ) ), 'policy_version', 'policy_version must be a string of 1 to 64 characters.' ),
			'empty version'                => array( array( 'banner_version' => '' ), 'banner_version', 'banner_version must be a string of 1 to 64 characters.' ),
			'language with a final newline' => array( array( 'language' => "en\n" ), 'language', 'language must be a BCP 47 language tag such as sv-SE.' ),
			'language too long'            => array( array( 'language' => 'en-' . implode( '-', array_fill( 0, 8, 'abcd' ) ) ), 'language', 'language must be a BCP 47 language tag such as sv-SE.' ),
			'a boolean as a string'        => array( array( 'signals' => array( 'gpc' => 'false', 'dnt' => false ) ), 'signals', 'signals.gpc must be true or false.' ),
			'a boolean as a number'        => array( array( 'signals' => array( 'gpc' => 0, 'dnt' => false ) ), 'signals', 'signals.gpc must be true or false.' ),
			'an extra category'            => array( array( 'categories' => array( 'necessary' => true, 'preferences' => true, 'statistics' => true, 'marketing' => true, 'x' => true ) ), 'categories', 'categories must have exactly the keys: necessary, preferences, statistics, marketing.' ),
			'categories as a list'         => array( array( 'categories' => array( true, true, true, true ) ), 'categories', 'categories must be a JSON object.' ),
			'categories as a string'       => array( array( 'categories' => '' ), 'categories', 'categories must be a JSON object.' ),
			'necessary refused'            => array( array( 'categories' => array( 'necessary' => false, 'preferences' => false, 'statistics' => false, 'marketing' => false ), 'method' => 'reject_all' ), 'categories', 'categories.necessary must be true.' ),
			'method not in the list'       => array( array( 'method' => 'ACCEPT_ALL' ), 'method', 'method must be one of: accept_all, reject_all, custom, withdraw, gpc, dnt.' ),
			'page url with a final newline' => array( array( 'page_url' => "https://phpunit.example/\n" ), 'page_url', 'page_url must be an absolute http(s) URL of at most 2048 characters.' ),
		);
	}

	/** @dataProvider strict_refusals */
	public function test_the_route_keeps_its_strict_rules_and_messages( array $overrides, string $field, string $message ): void {
		$response = $this->post_consent( $this->body( $overrides ) );
		$this->assertSame( 400, $response->get_status() );
		$data = $response->get_data();
		$this->assertSame( 'rest_invalid_param', $data['code'] );
		$this->assertStringStartsWith( $message, $data['data']['params'][ $field ] );
		$this->assertSame( array(), $this->outbox() );
	}

	public function test_an_upper_case_uuid_is_accepted_and_stored_in_lower_case(): void {
		$subject  = wp_generate_uuid4();
		$response = $this->post_consent( $this->body( array( 'subject_id' => strtoupper( $subject ) ) ) );
		$this->assertSame( 202, $response->get_status() );
		$this->assertSame( $subject, $this->sidecar_records( $subject )[0]['subject_id'] );
	}
}
