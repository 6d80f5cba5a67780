<?php
/**
 * The banner's per-page output: built once, kept in an autoloaded option, rebuilt when what it
 * is made of changes, never kept where it may differ per request.
 *
 * @package SecurePrivacy
 */

final class BannerTest extends SP_WP_TestCase {

	protected function setUp(): void {
		parent::setUp();
		secure_privacy_forget_banner_output();
	}

	/**
	 * The configuration the widget reads, as a page view would print it now, with its texts (a
	 * list in the order of SECURE_PRIVACY_ISLAND_TEXT_KEYS) by key, those left out ('') dropped.
	 */
	private function config(): array {
		$config = json_decode( secure_privacy_banner_output( true )['config'], true );
		if ( ! isset( $config['texts'] ) ) {
			return $config; // A stale entry planted by a test.
		}
		$this->assertSame( SECURE_PRIVACY_ISLAND_TEXT_KEYS, array_keys( secure_privacy_banner_texts() ), 'every text has its place in the list' );
		$this->assertSame( array_keys( SECURE_PRIVACY_ISLAND_TEXT_KEYS ), array_keys( $config['texts'] ), 'a list, one entry per text' );
		$config['texts'] = array_filter( array_combine( SECURE_PRIVACY_ISLAND_TEXT_KEYS, $config['texts'] ), 'strlen' );
		return $config;
	}

	public function test_a_page_view_reuses_the_built_output_without_a_query(): void {
		global $wpdb;
		$built = secure_privacy_banner_output( true );
		$this->assertSame( secure_privacy_build_banner_output(), $built );
		$this->assertIsArray( get_option( SECURE_PRIVACY_BANNER_CACHE_OPTION ) );
		$this->assertSame( 'yes', $wpdb->get_var( $wpdb->prepare( "SELECT autoload FROM {$wpdb->options} WHERE option_name = %s", SECURE_PRIVACY_BANNER_CACHE_OPTION ) ) ); // phpcs:ignore WordPress.DB

		$queries = $wpdb->num_queries;
		$again   = secure_privacy_banner_output( true );
		$this->assertSame( $queries, $wpdb->num_queries, 'the kept output is read without a query' );
		$this->assertSame( $built, $again );
		$this->assertStringContainsString( '--sp-primary:#1d4ed8', $again['css'] );
		$this->assertStringContainsString( '"consent","default"', $again['snippet'] );
	}

	public function test_the_island_leaves_out_what_the_widget_assumes_and_keeps_what_differs(): void {
		$this->set( array( 'honor_gpc' => true, 'honor_dnt' => false, 'next_policy_version' => '', 'consent_lifetime_days' => 365, 'position' => 'bottom-right', 'primary_color' => '' ) );
		$lean = $this->config();
		foreach ( array( 'nextPolicyVersion', 'nextPolicyEffective', 'policyNoticeDays', 'lifetimeDays', 'honorGpc', 'honorDnt', 'position', 'css' ) as $key ) {
			$this->assertArrayNotHasKey( $key, $lean, "$key is the widget's default" );
		}
		$this->assertArrayNotHasKey( 'dntNotice', $lean['texts'], 'DNT is not honoured: its notice is never shown' );
		$this->assertArrayNotHasKey( 'policyNotice', $lean['texts'], 'no policy change announced' );
		$this->assertArrayHasKey( 'gpcNotice', $lean['texts'] );
		$this->assertArrayNotHasKey( 'required', $lean['categories'][0] );
		$this->assertArrayNotHasKey( 'categoryKeys', $lean, 'every category shown: the widget reads the keys from them' );
		$this->assertSame( SECURE_PRIVACY_CATEGORIES, array_column( $lean['categories'], 'key' ) );
		$this->assertSame( secure_privacy_frontend_config()['bannerVersion'], $lean['bannerVersion'], 'the version still covers every text' );

		$this->set( array( 'honor_gpc' => false, 'honor_dnt' => true, 'next_policy_version' => '2', 'next_policy_effective' => '2099-01-01', 'policy_notice_days' => 10, 'consent_lifetime_days' => 30, 'position' => 'bottom-left', 'primary_color' => '#aa3300' ) );
		$full = $this->config();
		$this->assertSame( array( '2', '2099-01-01', 10, 30, false, true, 'bottom-left' ), array( $full['nextPolicyVersion'], $full['nextPolicyEffective'], $full['policyNoticeDays'], $full['lifetimeDays'], $full['honorGpc'], $full['honorDnt'], $full['position'] ) );
		$this->assertStringContainsString( '--sp-primary:#aa3300', $full['css'] );
		$this->assertArrayHasKey( 'dntNotice', $full['texts'] );
		$this->assertArrayHasKey( 'policyNotice', $full['texts'] );
		$this->assertArrayNotHasKey( 'gpcNotice', $full['texts'], 'GPC is not honoured: its notice is never shown' );
	}

	public function test_the_guard_host_list_follows_the_site_rules_on_the_next_view(): void {
		delete_option( SECURE_PRIVACY_SITE_RULES_OPTION );
		$block = $this->config()['block'];
		$this->assertContains( '.facebook.net', explode( ' ', $block['marketing'] ) );
		$this->assertStringNotContainsString( 'example.org', wp_json_encode( $block ) );
		update_option( SECURE_PRIVACY_SITE_RULES_OPTION, array( array( 'kind' => 'request', 'pattern' => '*.example.org', 'category' => 'statistics' ) ), true );
		$this->assertContains( '.example.org', explode( ' ', $this->config()['block']['statistics'] ), 'a new rule is in the next page' );
		delete_option( SECURE_PRIVACY_SITE_RULES_OPTION );
		$this->assertStringNotContainsString( 'example.org', wp_json_encode( $this->config()['block'] ) );
	}

	public function test_changed_settings_site_name_and_pages_show_on_the_next_view(): void {
		$this->assertSame( 'Accept all', $this->config()['texts']['acceptAll'] );
		$this->set( array( 'texts' => array( 'en_US' => array( 'acceptAll' => 'Yes please' ) ), 'primary_color' => '#000000' ) );
		$this->assertSame( 'Yes please', $this->config()['texts']['acceptAll'] );
		$this->assertStringContainsString( '--sp-primary:#000000', secure_privacy_banner_output( true )['css'] );

		$name = get_option( 'blogname' );
		update_option( 'blogname', 'Renamed Site' );
		$this->assertStringStartsWith( 'Renamed Site ', $this->config()['texts']['body'] );
		update_option( 'blogname', $name );

		$page = wp_insert_post( array( 'post_type' => 'page', 'post_status' => 'publish', 'post_title' => 'Privacy' ) );
		$this->set( array( 'privacy_page_id' => $page ) );
		$this->assertSame( get_permalink( $page ), $this->config()['privacyUrl'] );
		wp_update_post( array( 'ID' => $page, 'post_status' => 'draft' ) );
		// The island leaves out an empty privacyUrl (the widget's default).
		$this->assertSame( get_privacy_policy_url(), $this->config()['privacyUrl'] ?? '', 'an unpublished page is no longer linked' );
		wp_delete_post( $page, true );
	}

	public function test_the_announced_version_is_not_kept_past_its_day(): void {
		$this->set( array( 'policy_version' => '3', 'next_policy_version' => '4', 'next_policy_effective' => gmdate( 'Y-m-d', time() + 2 * DAY_IN_SECONDS ) ) );
		$this->assertSame( '3', $this->config()['policyVersion'] );
		$cache = get_option( SECURE_PRIVACY_BANNER_CACHE_OPTION );
		$key   = array_key_first( $cache );
		$this->assertSame( gmdate( 'Y-m-d', time() + 2 * DAY_IN_SECONDS ), $cache[ $key ]['until'] );

		// An entry kept until today (its version took effect today) is not used any more.
		$cache[ $key ]['config'] = '{"stale":true}';
		$cache[ $key ]['until']  = gmdate( 'Y-m-d' );
		update_option( SECURE_PRIVACY_BANNER_CACHE_OPTION, $cache );
		$this->assertArrayNotHasKey( 'stale', $this->config() );
		$cache[ $key ]['config'] = '{"stale":true}';
		$cache[ $key ]['until']  = gmdate( 'Y-m-d', time() + DAY_IN_SECONDS );
		update_option( SECURE_PRIVACY_BANNER_CACHE_OPTION, $cache );
		$this->assertSame( array( 'stale' => true ), $this->config(), 'an entry is used until its day' );
	}

	public function test_what_may_differ_per_request_is_built_every_time(): void {
		$filter = static fn( $text, $original ) => 'Accept all' === $original ? 'Filtered' : $text;
		add_filter( 'gettext', $filter, 10, 2 );
		$this->assertNull( secure_privacy_banner_cache_key() );
		$this->assertSame( 'Filtered', $this->config()['texts']['acceptAll'] );
		remove_filter( 'gettext', $filter, 10 );
		$this->assertSame( 'Accept all', $this->config()['texts']['acceptAll'] );

		$user = wp_insert_user( array( 'user_login' => 'banner-' . wp_generate_password( 6, false ), 'user_pass' => wp_generate_password() ) );
		wp_set_current_user( $user );
		$this->assertNull( secure_privacy_banner_cache_key() );
		$this->assertNotEmpty( $this->config()['restNonce'], 'a signed-in visitor gets a nonce of their own' );
		wp_set_current_user( 0 );
		$this->assertArrayNotHasKey( 'restNonce', $this->config() );
		wp_delete_user( $user );
	}
}
