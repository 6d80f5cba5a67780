<?php
/**
 * The option's sanitizing (register_setting callback) and the policy schedule.
 *
 * @package SecurePrivacy
 */

final class SettingsTest extends SP_WP_TestCase {

	public function test_unknown_keys_are_dropped_and_defaults_merged(): void {
		update_option( SECURE_PRIVACY_OPTION, array( 'evil' => 'x', 'honor_dnt' => '1' ) );
		$stored = get_option( SECURE_PRIVACY_OPTION );
		$this->assertArrayNotHasKey( 'evil', $stored );
		$this->assertTrue( $stored['honor_dnt'] );
		$this->assertSame( 120, $stored['rate_limit_per_minute'] );
		$this->assertSame( array( 'preferences', 'statistics', 'marketing' ), $stored['categories_enabled'] );
		$this->assertSame( 'bottom-right', $stored['position'] );
	}

	public function test_every_value_is_coerced_to_its_type_and_range(): void {
		$this->set(
			array(
				'primary_color'         => 'red; background:url(x)',
				'position'              => 'top-center',
				'trusted_proxy_header'  => "X-Forwarded-For\r\nSet-Cookie: a",
				'rate_limit_per_minute' => '-5',
				'policy_notice_days'    => '9999',
				'categories_enabled'    => array( 'marketing', 'necessary', 'bogus', 'statistics' ),
				'next_policy_effective' => '2025-02-30',
				'policy_version'        => '<b>2</b>',
				'retention_days'        => 'abc',
			)
		);
		$s = get_option( SECURE_PRIVACY_OPTION );
		$this->assertSame( '#1d4ed8', $s['primary_color'] );
		$this->assertSame( 'bottom-right', $s['position'] );
		$this->assertSame( '', $s['trusted_proxy_header'] );
		$this->assertSame( 0, $s['rate_limit_per_minute'] );
		$this->assertSame( 365, $s['policy_notice_days'] );
		$this->assertSame( array( 'statistics', 'marketing' ), $s['categories_enabled'] );
		$this->assertSame( '', $s['next_policy_effective'] );
		$this->assertSame( '2', $s['policy_version'] );
		$this->assertSame( 1825, $s['retention_days'] );

		$this->set( array( 'primary_color' => '#AbC', 'trusted_proxy_header' => 'CF-Connecting-IP', 'position' => 'bottom-left' ) );
		$s = get_option( SECURE_PRIVACY_OPTION );
		$this->assertSame( '#abc', $s['primary_color'] );
		$this->assertSame( 'CF-Connecting-IP', $s['trusted_proxy_header'] );
		$this->assertSame( 'bottom-left', $s['position'] );
	}

	public function test_texts_keep_known_keys_as_plain_text_and_drop_empty_ones(): void {
		$this->set(
			array(
				'texts' => array(
					'sv_SE'       => array(
						'acceptAll'         => ' <b>Ja</b> tack ',
						'body'              => "Rad ett\nRad två <script>x</script>",
						'rejectAll'         => '',
						'label_marketing'   => 'Reklam',
						'evilKey'           => 'x',
					),
					'../../etc'   => array( 'title' => 'x' ),
					'de_DE'       => array( 'title' => '' ),
				),
			)
		);
		$texts = get_option( SECURE_PRIVACY_OPTION )['texts'];
		$this->assertSame( array( 'sv_SE' ), array_keys( $texts ) );
		$this->assertSame( 'Ja tack', $texts['sv_SE']['acceptAll'] );
		$this->assertSame( "Rad ett\nRad två", $texts['sv_SE']['body'] );
		$this->assertSame( 'Reklam', $texts['sv_SE']['label_marketing'] );
		$this->assertArrayNotHasKey( 'rejectAll', $texts['sv_SE'] );
		$this->assertArrayNotHasKey( 'evilKey', $texts['sv_SE'] );
	}

	public function test_the_form_keeps_secrets_and_what_it_does_not_show(): void {
		$this->set( array( 'texts' => array( 'sv_SE' => array( 'title' => 'Hej' ), 'de_DE' => array( 'title' => 'Hallo' ) ) ) );
		$before = get_option( SECURE_PRIVACY_OPTION );
		// What options.php passes for a form with only some fields, secrets left empty.
		$clean = secure_privacy_sanitize_settings(
			array(
				SECURE_PRIVACY_FORM_MARKER => '1',
				'secret_keys'              => '',
				'admin_token'              => '',
				'honor_dnt'                => '1',
				'texts'                    => array( 'sv_SE' => array( 'title' => '' ) ),
			)
		);
		$this->assertSame( $before['secret_keys'], $clean['secret_keys'] );
		$this->assertSame( $before['admin_token'], $clean['admin_token'] );
		$this->assertSame( $before['sidecar_url'], $clean['sidecar_url'] );
		$this->assertTrue( $clean['honor_dnt'] );
		$this->assertSame( array( 'de_DE' => array( 'title' => 'Hallo' ) ), $clean['texts'] );
		$this->assertArrayNotHasKey( SECURE_PRIVACY_FORM_MARKER, $clean );
	}

	public function test_settings_are_autoloaded_and_read_without_a_query(): void {
		global $wpdb;
		$this->assertSame( 'yes', $wpdb->get_var( $wpdb->prepare( "SELECT autoload FROM {$wpdb->options} WHERE option_name = %s", SECURE_PRIVACY_OPTION ) ) ); // phpcs:ignore WordPress.DB
		secure_privacy_settings( true );
		$queries = $wpdb->num_queries;
		secure_privacy_settings();
		secure_privacy_settings();
		$this->assertSame( $queries, $wpdb->num_queries );
	}

	public function test_saved_settings_are_read_without_normalising_them_again(): void {
		global $wpdb;
		$this->set( array( 'policy_version' => '7', 'texts' => array( 'sv_SE' => array( 'title' => 'Hej' ) ) ) );
		$stored = get_option( SECURE_PRIVACY_OPTION );
		$this->assertSame( $stored, secure_privacy_settings( true ), 'the first read finds them normal' );
		$sanitized = 0;
		$count     = static function ( $value ) use ( &$sanitized ) {
			++$sanitized;
			return $value;
		};
		add_filter( 'sanitize_text_field', $count );
		add_filter( 'clean_url', $count );
		try {
			$queries = $wpdb->num_queries;
			$this->assertSame( $stored, secure_privacy_settings( true ) );
			$this->assertSame( 0, $sanitized, 'a page view does not sanitize the saved settings again' );
			$this->assertSame( $queries, $wpdb->num_queries, 'nor write or read anything' );
			$this->assertSame( $stored, secure_privacy_normalize_settings( $stored ), 'they are normal' );
			$this->assertGreaterThan( 0, $sanitized );
		} finally {
			remove_filter( 'sanitize_text_field', $count );
			remove_filter( 'clean_url', $count );
		}
	}

	public function test_settings_written_around_the_sanitizer_are_normalised_on_every_read(): void {
		global $wpdb;
		$this->set( array( 'primary_color' => '#abcdef' ) );
		$this->assertSame( '#abcdef', secure_privacy_settings( true )['primary_color'] );
		$this->assertNotFalse( get_option( SECURE_PRIVACY_SETTINGS_DIGEST_OPTION ) );
		$raw = get_option( SECURE_PRIVACY_OPTION );
		// Changed in the database (an import, a migration, an older plugin version): the digest
		// kept for the saved value does not match it.
		foreach (
			array(
				array( 'primary_color' => 'red; background:url(x)', 'evil' => 'x' ),
				array( 'rate_limit_per_minute' => '-5' ),
				array( 'position' => 'bottom-left' ), // Normal, but not what the digest was made for.
			) as $changes
		) {
			$wpdb->update( $wpdb->options, array( 'option_value' => maybe_serialize( array_merge( $raw, $changes ) ) ), array( 'option_name' => SECURE_PRIVACY_OPTION ) ); // phpcs:ignore WordPress.DB
			wp_cache_delete( 'alloptions', 'options' );
			$s = secure_privacy_settings( true );
			$this->assertSame( secure_privacy_normalize_settings( array_merge( $raw, $changes ) ), $s, wp_json_encode( $changes ) );
		}
		$this->assertSame( '#1d4ed8', secure_privacy_normalize_settings( array_merge( $raw, array( 'primary_color' => 'red; background:url(x)' ) ) )['primary_color'] );
		$this->assertSame( 'bottom-left', $s['position'] );
		// Saved before a setting existed: it gets its default.
		unset( $raw['scan_frequency'] );
		$wpdb->update( $wpdb->options, array( 'option_value' => maybe_serialize( $raw ) ), array( 'option_name' => SECURE_PRIVACY_OPTION ) ); // phpcs:ignore WordPress.DB
		wp_cache_delete( 'alloptions', 'options' );
		$this->assertSame( 'weekly', secure_privacy_settings( true )['scan_frequency'] );
	}

	public function test_the_privacy_url_costs_a_page_view_no_query_and_follows_page_edits(): void {
		global $wpdb, $wp_rewrite;
		$structure = (string) get_option( 'permalink_structure' );
		$wp_rewrite->set_permalink_structure( '/%postname%/' ); // Slugs show in page URLs.
		try {
			$this->check_privacy_url();
		} finally {
			$wp_rewrite->set_permalink_structure( $structure );
		}
	}

	private function check_privacy_url(): void {
		global $wpdb;
		$parent = wp_insert_post( array( 'post_type' => 'page', 'post_status' => 'publish', 'post_title' => 'Legal', 'post_name' => 'legal' ) );
		$page   = wp_insert_post( array( 'post_type' => 'page', 'post_status' => 'publish', 'post_title' => 'Privacy', 'post_name' => 'privacy', 'post_parent' => $parent ) );
		$this->set( array( 'privacy_page_id' => $page ) );
		$url = secure_privacy_privacy_url();
		$this->assertSame( home_url( '/legal/privacy/' ), $url );

		// The next page view: the pages are not in the (non-persistent) object cache any more.
		clean_post_cache( $page );
		wp_cache_delete( $page, 'posts' );
		secure_privacy_privacy_url(); // Resolved again after the cache clean, stored.
		wp_cache_delete( $page, 'posts' );
		wp_cache_delete( $parent, 'posts' );
		$queries = $wpdb->num_queries;
		$this->assertSame( $url, secure_privacy_privacy_url() );
		$this->assertSame( $queries, $wpdb->num_queries, 'a stored privacy URL is read without a query' );

		wp_update_post( array( 'ID' => $page, 'post_name' => 'privacy-notice' ) );
		$this->assertSame( home_url( '/legal/privacy-notice/' ), secure_privacy_privacy_url() );
		wp_update_post( array( 'ID' => $parent, 'post_name' => 'terms' ) );
		$this->assertSame( home_url( '/terms/privacy-notice/' ), secure_privacy_privacy_url(), 'a renamed parent page changes the URL' );

		wp_update_post( array( 'ID' => $page, 'post_status' => 'draft' ) );
		$this->assertSame( get_privacy_policy_url(), secure_privacy_privacy_url(), 'an unpublished page is not linked' );

		wp_update_post( array( 'ID' => $page, 'post_status' => 'publish' ) );
		$filter = static fn() => 'https://example.org/privacy-elsewhere/';
		$this->set( array( 'privacy_page_id' => 0 ) );
		add_filter( 'privacy_policy_url', $filter );
		$this->assertSame( 'https://example.org/privacy-elsewhere/', secure_privacy_privacy_url(), 'a filtered URL is resolved on every view' );
		remove_filter( 'privacy_policy_url', $filter );
		wp_delete_post( $page, true );
		wp_delete_post( $parent, true );
	}

	public function test_the_announced_version_takes_effect_on_its_day(): void {
		$this->set( array( 'policy_version' => '3', 'next_policy_version' => '4', 'next_policy_effective' => '2030-06-01', 'policy_notice_days' => 30 ) );
		$s      = secure_privacy_normalize_settings( get_option( SECURE_PRIVACY_OPTION ) );
		$before = secure_privacy_apply_policy_schedule( $s, strtotime( '2030-05-31 23:59:59 UTC' ) );
		$after  = secure_privacy_apply_policy_schedule( $s, strtotime( '2030-06-01 00:00:00 UTC' ) );
		$this->assertSame( '3', $before['policy_version'] );
		$this->assertSame( '4', $after['policy_version'] );
		$this->assertSame( '', $after['next_policy_version'] );
		$this->assertFalse( secure_privacy_policy_notice_due( $s, strtotime( '2030-05-01 00:00:00 UTC' ) ) );
		$this->assertTrue( secure_privacy_policy_notice_due( $s, strtotime( '2030-05-03 00:00:00 UTC' ) ) );
	}

	public function test_next_version_and_the_edited_policy_page(): void {
		$this->assertSame( '2', secure_privacy_next_version( '1' ) );
		$this->assertSame( '2024.10', secure_privacy_next_version( '2024.9' ) );
		$this->assertSame( 'v3-beta', secure_privacy_next_version( 'v2-beta' ) );
		$this->assertSame( 'spring-2', secure_privacy_next_version( 'spring' ) );

		delete_option( SECURE_PRIVACY_POLICY_EDITED_OPTION );
		$page = wp_insert_post( array( 'post_type' => 'page', 'post_status' => 'publish', 'post_title' => 'Policy', 'post_content' => 'v1' ) );
		$this->set( array( 'privacy_page_id' => $page ) );
		wp_update_post( array( 'ID' => $page, 'post_title' => 'Policy' ) );
		$this->assertFalse( get_option( SECURE_PRIVACY_POLICY_EDITED_OPTION ), 'an edit that changes nothing offers nothing' );
		wp_update_post( array( 'ID' => $page, 'post_content' => 'v2' ) );
		$this->assertNotFalse( get_option( SECURE_PRIVACY_POLICY_EDITED_OPTION ) );
		wp_delete_post( $page, true );
		delete_option( SECURE_PRIVACY_POLICY_EDITED_OPTION );
	}

	public function test_swedish_is_shipped_and_follows_a_locale_switch(): void {
		$this->assertTrue( switch_to_locale( 'sv_SE' ), 'WordPress has no sv_SE core translation (' . WP_LANG_DIR . '/sv_SE.mo): Debian package wordpress-l10n is missing, run scripts/install.sh' );
		$this->assertSame( 'Samtyckeslogg', __( 'Consent log', 'secure-privacy' ) );
		$this->assertSame( 'Raderade 2 poster.', sprintf( _n( 'Erased %d record.', 'Erased %d records.', 2, 'secure-privacy' ), 2 ) );
		restore_previous_locale();
		$this->assertSame( 'Consent log', __( 'Consent log', 'secure-privacy' ) );
	}
}
