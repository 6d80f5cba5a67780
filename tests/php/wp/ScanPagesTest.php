<?php
/**
 * The site scan's page list (issue 13, SCAN_INTERFACE §5, includes/scan-pages.php): the route
 * answers only a fresh token for this site signed with the shared secrets under the
 * scan-pages salt, and lists the front page, the login page, one URL per template and post
 * type, posts with scripts, iframes, embeds and shortcodes, and what the sitemap adds, one per
 * group, capped.
 *
 * @package SecurePrivacy
 */

final class ScanPagesTest extends SP_WP_TestCase {

	/** Posts made by a test, deleted after it. */
	private array $posts = array();

	protected function setUp(): void {
		parent::setUp();
		secure_privacy_scan_boot();
		require_once dirname( SECURE_PRIVACY_FILE ) . '/includes/scan-pages.php';
		rest_get_server(); // Registers the routes (rest_api_init).
		add_shortcode( 'sp_fixture_gallery', '__return_empty_string' ); // As a plugin registers its own.
	}

	protected function tearDown(): void {
		remove_shortcode( 'sp_fixture_gallery' );
		foreach ( $this->posts as $id ) {
			wp_delete_post( $id, true );
		}
		parent::tearDown();
	}

	private function token( array $payload, ?int $at = null, string $salt = SECURE_PRIVACY_SCAN_PAGES_SALT, ?string $keys = null ): string {
		return Secure_Privacy_Signer::from_list( $keys ?? (string) getenv( 'SP_TEST_SECRET_KEYS' ), $salt )->sign( $payload, $at );
	}

	private function good_payload( int $max = 50 ): array {
		return array(
			'origin'    => secure_privacy_origin_of( home_url( '/' ) ),
			'max_pages' => $max,
		);
	}

	/** GET the route inside WordPress (the real REST server), as the sidecar asks it. */
	private function get( ?string $token, array $query = array() ): WP_REST_Response {
		$request = new WP_REST_Request( 'GET', '/secure-privacy/v1/scan-pages' );
		$request->set_query_params( $query );
		if ( null !== $token ) {
			$request->set_header( 'X-Secure-Privacy-Token', $token );
		}
		$result   = rest_ensure_response( rest_get_server()->dispatch( $request ) );
		$response = is_wp_error( $result ) ? rest_convert_error_to_response( $result ) : $result;
		// As WP_REST_Server::serve_request() does after dispatching.
		return apply_filters( 'rest_post_dispatch', $response, rest_get_server(), $request );
	}

	private function post( string $content, string $type = 'post' ): int {
		wp_set_current_user( 1 ); // An administrator may post scripts and iframes (unfiltered_html).
		$id            = (int) wp_insert_post(
			array(
				'post_type'    => $type,
				'post_status'  => 'publish',
				'post_title'   => 'Scan fixture ' . wp_generate_password( 6, false ),
				'post_content' => $content,
			)
		);
		wp_set_current_user( 0 );
		$this->assertStringContainsString( $content, get_post_field( 'post_content', $id ), 'stored as written' );
		$this->posts[] = $id;
		return $id;
	}

	/** The list as the route answers a good token. */
	private function pages( int $max = 50 ): array {
		$response = $this->get( $this->token( $this->good_payload( $max ) ), array( 'max_pages' => $max ) );
		$this->assertSame( 200, $response->get_status(), wp_json_encode( $response->get_data() ) );
		return $response->get_data();
	}

	private function why_of( array $list, string $url ): ?string {
		foreach ( $list['pages'] as $page ) {
			if ( $page['url'] === $url ) {
				return $page['why'];
			}
		}
		return null;
	}

	public function test_a_visitors_request_loads_none_of_the_scan_and_rest_only_the_route(): void {
		$out = shell_exec( escapeshellarg( PHP_BINARY ) . ' ' . escapeshellarg( __DIR__ . '/front-child.php' ) );
		$this->assertSame(
			array(
				'page_view'        => array(),
				'rest'             => array( 'scan-pages.php' ),
				'plugin_activated' => array( 'scan.php', 'scan-rules.php', 'scan-pages.php' ),
			),
			json_decode( (string) $out, true ),
			(string) $out
		);
		wp_clear_scheduled_hook( SECURE_PRIVACY_RESCAN_HOOK ); // The child scheduled one.
	}

	public function test_without_a_token_the_route_is_401(): void {
		$response = $this->get( null );
		$this->assertSame( 401, $response->get_status() );
		$this->assertSame( 'secure_privacy_missing_token', $response->get_data()['code'] );
		$this->assertSame( 'no-store, private', $response->get_headers()['Cache-Control'], 'no cache keeps a refusal either' );
		$this->assertArrayNotHasKey( 'pages', $response->get_data() );
	}

	public function test_a_forged_token_is_401(): void {
		$cases = array(
			'another key'      => $this->token( $this->good_payload(), null, SECURE_PRIVACY_SCAN_PAGES_SALT, wp_generate_password( 40, false ) ),
			'the consent salt' => $this->token( $this->good_payload(), null, Secure_Privacy_Signer::SALT ),
			'another site'     => $this->token( array( 'origin' => 'https://elsewhere.example' ) + $this->good_payload() ),
			'garbage'          => 'not.a.token',
		);
		foreach ( $cases as $name => $token ) {
			$response = $this->get( $token, array( 'max_pages' => 50 ) );
			$this->assertSame( 401, $response->get_status(), $name );
			$this->assertSame( 'secure_privacy_invalid_token', $response->get_data()['code'], $name );
		}
	}

	public function test_a_token_signed_for_another_number_of_pages_is_401(): void {
		$response = $this->get( $this->token( $this->good_payload( 5 ) ), array( 'max_pages' => 500 ) );
		$this->assertSame( 401, $response->get_status() );
	}

	public function test_an_expired_token_is_401_and_a_slightly_fast_clock_is_tolerated(): void {
		$old = $this->get( $this->token( $this->good_payload(), time() - 301 ), array( 'max_pages' => 50 ) );
		$this->assertSame( 401, $old->get_status() );
		$this->assertSame( 'secure_privacy_expired_token', $old->get_data()['code'] );
		$future = $this->get( $this->token( $this->good_payload(), time() + 120 ), array( 'max_pages' => 50 ) );
		$this->assertSame( 401, $future->get_status() );
		$this->assertSame( 200, $this->get( $this->token( $this->good_payload(), time() - 290 ), array( 'max_pages' => 50 ) )->get_status() );
		$this->assertSame( 200, $this->get( $this->token( $this->good_payload(), time() + 30 ), array( 'max_pages' => 50 ) )->get_status() );
	}

	public function test_a_good_token_gets_the_list_uncached(): void {
		$response = $this->get( $this->token( $this->good_payload( 7 ) ) ); // max_pages from the token.
		$this->assertSame( 200, $response->get_status() );
		$this->assertSame( 'no-store, private', $response->get_headers()['Cache-Control'] );
		$this->assertLessThanOrEqual( 7, count( $response->get_data()['pages'] ) );
		$this->assertIsBool( $response->get_data()['capped'] );
	}

	public function test_the_sidecars_own_token_is_accepted(): void {
		$vectors = json_decode( (string) file_get_contents( dirname( __DIR__, 2 ) . '/vectors/signing.json' ), true )['scan_pages'];
		$this->set( array( 'secret_keys' => implode( ',', $vectors['keys'] ) ) );
		$token = $vectors['valid'][0]['token'];
		$this->assertSame( 50, secure_privacy_scan_pages_authorize( $token, '50', 'http://127.0.0.1:8080/', $vectors['timestamp'] + 10 ) );
		$this->assertSame( 50, secure_privacy_scan_pages_authorize( $token, null, 'http://127.0.0.1:8080', $vectors['timestamp'] + 10 ) );
		$this->assertWPErrorCode( 'secure_privacy_expired_token', secure_privacy_scan_pages_authorize( $token, null, 'http://127.0.0.1:8080', $vectors['timestamp'] + 400 ) );
		$this->assertWPErrorCode( 'secure_privacy_invalid_token', secure_privacy_scan_pages_authorize( $token, null, 'http://127.0.0.1:8081', $vectors['timestamp'] + 10 ) );
		$this->assertWPErrorCode( 'secure_privacy_invalid_token', secure_privacy_scan_pages_authorize( $token, array( '50' ), 'http://127.0.0.1:8080', $vectors['timestamp'] + 10 ) );
		$loose = Secure_Privacy_Signer::from_list( implode( ',', $vectors['keys'] ), SECURE_PRIVACY_SCAN_PAGES_SALT )->sign( array( 'origin' => 'HTTP://127.0.0.1:8080/', 'max_pages' => 3 ) );
		$this->assertSame( 3, secure_privacy_scan_pages_authorize( $loose, null, 'http://127.0.0.1:8080', time() ), 'the origin is compared as an origin' );
	}

	private function assertWPErrorCode( string $code, $result ): void {
		$this->assertInstanceOf( WP_Error::class, $result );
		$this->assertSame( $code, $result->get_error_code() );
		$this->assertSame( 401, $result->get_error_data()['status'] );
	}

	public function test_the_list_holds_front_page_login_and_posts_with_iframes_embeds_and_shortcodes(): void {
		$embed     = $this->post( "Watch this:\n\nhttps://www.youtube.com/watch?v=dQw4w9WgXcQ\n\nNice." );
		$iframe    = $this->post( '<p>Map:</p><iframe src="https://maps.example.net/embed?x=1" width="600"></iframe>' );
		$shortcode = $this->post( 'Photos: [sp_fixture_gallery ids="1,2"]' );
		$escaped   = $this->post( 'Write [[sp_fixture_gallery]] to show a gallery. [not_a_shortcode]' );
		$script    = $this->post( '<script src="https://cdn.tracker.example/t.js"></script>', 'page' );

		$this->post( '<p>About us.</p>', 'page' ); // The newest page.
		$plain     = $this->post( '<p>Just text with a <a href="https://example.org/">link</a>.</p>' ); // The newest post.

		$list = $this->pages();
		$urls = array_column( $list['pages'], 'url' );
		$this->assertSame( array( 'url' => home_url( '/' ), 'why' => 'front_page', 'group' => 'front_page' ), $list['pages'][0] );
		$this->assertSame( 'login', $this->why_of( $list, wp_login_url() ) );
		$this->assertSame( 'content:iframe', $this->why_of( $list, get_permalink( $iframe ) ) );
		$this->assertSame( 'content:shortcode', $this->why_of( $list, get_permalink( $shortcode ) ) );
		$this->assertSame( 'content:embed', $this->why_of( $list, get_permalink( $embed ) ) );
		$this->assertSame( 'content:script', $this->why_of( $list, get_permalink( $script ) ) );
		$this->assertNotContains( get_permalink( $escaped ), $urls, 'an escaped shortcode is text' );
		$this->assertSame( 'template:single-post', $this->why_of( $list, get_permalink( $plain ) ) );
		foreach ( $list['pages'] as $page ) {
			$this->assertStringStartsWith( home_url( '/' ), $page['url'] );
			$this->assertNotSame( '', $page['group'] );
		}
	}

	public function test_embed_blocks_of_every_age_count_as_embeds(): void {
		$block  = $this->post( '<!-- wp:embed {"url":"https://vimeo.com/76979871","type":"video","providerNameSlug":"vimeo"} --><figure class="wp-block-embed"><div class="wp-block-embed__wrapper">https://vimeo.com/76979871</div></figure><!-- /wp:embed -->' );
		$legacy = $this->post( '<!-- wp:core-embed/spotify {"url":"https://open.spotify.com/track/1"} --><figure>https://open.spotify.com/track/1</figure><!-- /wp:core-embed/spotify -->' );
		$this->post( '<p>Newest post, plain.</p>' );
		$this->assertSame( array( 'why' => 'embed', 'signature' => 'embed=vimeo.com' ), secure_privacy_scan_content_features( get_post_field( 'post_content', $block ) ) );
		$list = $this->pages();
		$this->assertSame( 'content:embed', $this->why_of( $list, get_permalink( $block ) ) );
		$this->assertSame( 'content:embed', $this->why_of( $list, get_permalink( $legacy ) ) );
	}

	public function test_woocommerces_cart_checkout_and_account_pages_are_listed_when_it_is_active(): void {
		$cart     = $this->post( '<!-- wp:shortcode -->[woocommerce_cart]<!-- /wp:shortcode -->', 'page' );
		$checkout = $this->post( '[woocommerce_checkout]', 'page' );
		$out      = shell_exec( escapeshellarg( PHP_BINARY ) . ' ' . escapeshellarg( __DIR__ . '/woocommerce-child.php' ) . ' ' . escapeshellarg( (string) wp_json_encode( array( 'cart' => $cart, 'checkout' => $checkout, 'myaccount' => 0 ) ) ) );
		$list     = json_decode( (string) $out, true );
		$this->assertIsArray( $list, (string) $out );
		$this->assertSame( array( 'url' => get_permalink( $cart ), 'why' => 'woocommerce:cart', 'group' => 'woocommerce:cart' ), $list['pages'][2] );
		$this->assertSame( array( 'url' => get_permalink( $checkout ), 'why' => 'woocommerce:checkout', 'group' => 'woocommerce:checkout' ), $list['pages'][3] );
		$this->assertNotContains( 'woocommerce:account', array_column( $list['pages'], 'why' ), 'no account page set up' );
		$this->assertNotContains( 'woocommerce:cart', array_column( $this->pages()['pages'], 'why' ), 'not without WooCommerce' );
	}

	public function test_one_url_per_post_type_template_the_newest(): void {
		$older = $this->post( '<p>Older.</p>' );
		$newer = $this->post( '<p>Newer.</p>' );
		$list  = $this->pages();
		$this->assertSame( 'template:single-post', $this->why_of( $list, get_permalink( $newer ) ) );
		$this->assertNull( $this->why_of( $list, get_permalink( $older ) ) );
		$this->assertContains( 'single:post', array_column( $list['pages'], 'group' ) );
	}

	public function test_pages_of_the_same_pattern_are_grouped_one_url_per_group(): void {
		$first  = $this->post( '<iframe src="https://video.example.com/embed/1"></iframe>' );
		$second = $this->post( '<iframe src="https://video.example.com/embed/2"></iframe>' );
		$other  = $this->post( '<iframe src="https://maps.example.net/embed"></iframe>' );
		$list   = $this->pages();
		$groups = array_column( $list['pages'], 'group' );
		$this->assertSame( array_unique( $groups ), $groups, 'one URL per group' );
		$urls = array_column( $list['pages'], 'url' );
		$this->assertCount( 1, array_intersect( array( get_permalink( $first ), get_permalink( $second ) ), $urls ), 'same kind of content, same host: one of them' );
		$this->assertContains( get_permalink( $other ), $urls );
	}

	public function test_more_posts_of_an_existing_group_cost_no_more_queries(): void {
		$count = static function (): int {
			global $wpdb;
			wp_cache_flush(); // As a request of its own finds it: no post cached.
			$before = $wpdb->num_queries;
			secure_privacy_scan_pages( 50 );
			return $wpdb->num_queries - $before;
		};
		for ( $i = 0; $i < 5; $i++ ) {
			$this->post( '<iframe src="https://same.example/embed/' . $i . '"></iframe>' );
		}
		$few = $count();
		for ( $i = 0; $i < 25; $i++ ) {
			$this->post( '<iframe src="https://same.example/embed/x' . $i . '"></iframe>' );
		}
		$this->assertLessThanOrEqual( $few + 1, $count(), 'no query per candidate post' );
	}

	public function test_the_list_is_capped_at_max_pages(): void {
		for ( $i = 0; $i < 4; $i++ ) {
			$this->post( '<iframe src="https://host' . $i . '.example/"></iframe>' );
		}
		$list = $this->pages( 3 );
		$this->assertCount( 3, $list['pages'] );
		$this->assertTrue( $list['capped'] );
		$this->assertSame( array( 'front_page', 'login' ), array_slice( array_column( $list['pages'], 'why' ), 0, 2 ) );
		$all = $this->pages( 500 );
		$this->assertFalse( $all['capped'] );
		// Exactly full after the first stages: what later stages would add still marks it capped.
		$first = count( array_filter( $all['pages'], static fn( $p ) => ! str_starts_with( $p['why'], 'content:' ) && ! str_starts_with( $p['group'], 'taxonomy:' ) && 'author' !== $p['group'] && 'sitemap' !== $p['why'] && ! str_starts_with( $p['group'], 'template:' ) && ! str_starts_with( $p['group'], 'archive:' ) ) );
		$exact = $this->pages( $first );
		$this->assertCount( $first, $exact['pages'] );
		$this->assertTrue( $exact['capped'], 'the iframe posts did not fit' );
	}

	public function test_the_sitemap_adds_what_no_group_holds(): void {
		add_filter( 'wp_sitemaps_enabled', '__return_true' ); // The test site is not public.
		wp_register_sitemap_provider( 'spfake', new class() extends WP_Sitemaps_Provider {
			public function __construct() {
				$this->name        = 'spfake';
				$this->object_type = 'spfake';
			}

			public function get_url_list( $page_num, $object_subtype = '' ) {
				return array( array( 'loc' => home_url( '/listing/a/' ) ), array( 'loc' => home_url( '/listing/b/' ) ) );
			}

			public function get_max_num_pages( $object_subtype = '' ) {
				return 1;
			}
		} );
		$list = $this->pages();
		$this->assertSame( 'sitemap', $this->why_of( $list, home_url( '/listing/a/' ) ) );
		$this->assertNull( $this->why_of( $list, home_url( '/listing/b/' ) ), 'one per group' );
		remove_filter( 'wp_sitemaps_enabled', '__return_true' );
		$this->assertNull( $this->why_of( $this->pages(), home_url( '/listing/a/' ) ), 'no sitemap, nothing from it' );
	}
}
