<?php
/**
 * Auto-blocking on the server (issue 14, layers 1 and 2): enqueued scripts and one pass over
 * the final page turn what the catalogue or a site rule knows into the widget's blocked forms;
 * breaks-if-blocked services always load; other responses are left alone; the bytes never
 * depend on the visitor's consent.
 *
 * @package SecurePrivacy
 */

final class BlockingTest extends SP_WP_TestCase {

	private const FIXTURES = __DIR__ . '/fixtures/';

	protected function setUp(): void {
		parent::setUp();
		delete_option( SECURE_PRIVACY_SITE_RULES_OPTION );
		$admin = get_users(
			array(
				'role'   => 'administrator',
				'number' => 1,
			)
		);
		// The banner is shown (to an administrator before going live): blocking is on.
		wp_set_current_user( $admin[0]->ID );
	}

	protected function tearDown(): void {
		delete_option( SECURE_PRIVACY_SITE_RULES_OPTION );
		unset( $_COOKIE['sp_consent'] );
		parent::tearDown();
	}

	/**
	 * The ways this WordPress can block a page: the port alone (6.1), the port finding and the
	 * tag processor editing (6.2+, the default there), a whole-page tag processor pass (6.5+).
	 */
	private function modes(): array {
		if ( ! class_exists( 'WP_HTML_Tag_Processor' ) ) {
			return array( 'scanner' );
		}
		return method_exists( 'WP_HTML_Tag_Processor', 'get_modifiable_text' ) ? array( 'processor', 'edits', 'scanner' ) : array( 'edits', 'scanner' );
	}

	/** $html blocked in each way, asserting they agree byte for byte. */
	private function block( string $html ): string {
		$outputs = array();
		foreach ( $this->modes() as $mode ) {
			$outputs[ $mode ] = secure_privacy_block_html( $html, null, $mode );
			$this->assertSame( reset( $outputs ), $outputs[ $mode ], "$mode agrees with " . array_key_first( $outputs ) );
		}
		$this->assertSame( secure_privacy_block_html( $html ), reset( $outputs ) );
		return reset( $outputs );
	}

	/** The attributes of the one element of $tag in $html (a DOM parser of its own). */
	private function attrs( string $html, string $tag ): array {
		$doc = new DOMDocument();
		libxml_use_internal_errors( true );
		$doc->loadHTML( '<!DOCTYPE html><html><body>' . $html . '</body></html>' );
		libxml_clear_errors();
		$el  = $doc->getElementsByTagName( $tag )->item( 0 );
		$out = array();
		foreach ( $el->attributes as $a ) {
			$out[ $a->name ] = $a->value;
		}
		return $out;
	}

	/** Every service the issue names, by a script, an iframe and a pixel on one of its URLs. */
	public static function services(): array {
		return array(
			'Google Analytics'     => array( 'https://www.google-analytics.com/analytics.js', 'statistics' ),
			'Google tag (gtag.js)' => array( 'https://www.googletagmanager.com/gtag/js?id=G-1', 'statistics' ),
			'Google Tag Manager'   => array( 'https://www.googletagmanager.com/gtm.js?id=GTM-1', 'statistics' ),
			'Google Ads / DoubleClick' => array( 'https://googleads.g.doubleclick.net/pagead/viewthroughconversion/1/', 'marketing' ),
			'Meta Pixel'           => array( 'https://connect.facebook.net/en_US/fbevents.js', 'marketing' ),
			'LinkedIn Insight Tag' => array( 'https://snap.licdn.com/li.lms-analytics/insight.min.js', 'marketing' ),
			'TikTok Pixel'         => array( 'https://analytics.tiktok.com/i18n/pixel/events.js', 'marketing' ),
			'Pinterest Tag'        => array( 'https://s.pinimg.com/ct/core.js', 'marketing' ),
			'Hotjar'               => array( 'https://static.hotjar.com/c/hotjar-1.js', 'statistics' ),
			'Microsoft Clarity'    => array( 'https://www.clarity.ms/tag/abc', 'statistics' ),
			'Matomo Cloud'         => array( 'https://cdn.matomo.cloud/site.matomo.cloud/matomo.js', 'statistics' ),
			'YouTube'              => array( 'https://www.youtube.com/embed/abc', 'marketing' ),
			'Vimeo'                => array( 'https://player.vimeo.com/video/1', 'statistics' ),
			'Google Maps'          => array( 'https://maps.googleapis.com/maps/api/js?key=k', 'preferences' ),
		);
	}

	public function test_every_named_service_is_blocked_as_script_iframe_and_pixel(): void {
		$catalogue = secure_privacy_catalogue();
		$names     = array_column( $catalogue['services'], 1 );
		foreach ( self::services() as $service => list( $url, $category ) ) {
			$this->assertContains( $service, $names );
			$src  = esc_url( $url );
			$page = "<script src=\"$src\"></script><iframe src=\"$src\" width=\"560\" height=\"315\"></iframe><img src=\"$src\" width=\"1\" height=\"1\" alt=\"\">";
			$out  = $this->block( $page );

			$script = $this->attrs( $out, 'script' );
			$this->assertSame( 'text/plain', $script['type'], $service );
			$this->assertSame( $category, $script['data-sp-category'], $service );
			$this->assertSame( $service, $script['data-sp-service'] );
			$this->assertSame( $url, $script['src'], 'the widget loads this src once granted' );

			foreach ( array( 'iframe', 'img' ) as $tag ) {
				$el = $this->attrs( $out, $tag );
				$this->assertArrayNotHasKey( 'src', $el, "$service $tag" );
				$this->assertSame( $url, $el['data-sp-src'], "$service $tag" );
				$this->assertSame( $category, $el['data-sp-category'] );
				$this->assertSame( $service, $el['data-sp-service'] );
			}
		}
	}

	public function test_a_services_stylesheet_and_fetch_ahead_links_are_blocked_other_links_left(): void {
		$font    = 'https://fonts.googleapis.com/css2?family=Roboto&display=swap';
		$blocked = array(
			'<link rel="stylesheet" id="theme-fonts-css" href="' . esc_url( $font ) . '" media="all">' => $font,
			"<link rel='preconnect' href='https://fonts.gstatic.com' crossorigin>"   => 'https://fonts.gstatic.com',
			'<link rel="dns-prefetch" href="//www.googletagmanager.com">'            => '//www.googletagmanager.com',
			'<LINK REL="Preload" as="script" href="https://connect.facebook.net/en_US/fbevents.js">' => 'https://connect.facebook.net/en_US/fbevents.js',
			'<link rel="modulepreload prefetch" href="https://static.hotjar.com/c/hotjar-1.js">' => 'https://static.hotjar.com/c/hotjar-1.js',
		);
		foreach ( $blocked as $html => $url ) {
			$el = $this->attrs( $this->block( "<p>Before</p>$html<p>after</p>" ), 'link' );
			$this->assertArrayNotHasKey( 'href', $el, $html );
			$this->assertSame( $url, $el['data-sp-src'], $html );
			$this->assertNotEmpty( $el['data-sp-category'] );
			$this->assertNotEmpty( $el['data-sp-service'] );
		}
		$font = $this->attrs( $this->block( '<head>' . array_key_first( $blocked ) . '<title>t</title></head>' ), 'link' );
		$this->assertSame( array( 'preferences', 'Google Fonts' ), array( $font['data-sp-category'], $font['data-sp-service'] ) );
		// Left alone: links that fetch nothing from a service, the site's own stylesheet, a
		// service that breaks if blocked, a link tagged by hand.
		$kept = '<link rel="canonical" href="https://fonts.googleapis.com/x"><link rel="alternate" type="application/rss+xml" href="https://www.facebook.com/feed">'
			. '<link rel="stylesheet" href="/wp-content/themes/t/style.css"><link rel="preconnect" href="https://js.stripe.com">'
			. '<link rel="stylesheet" data-sp-src="https://fonts.googleapis.com/css?family=A" data-sp-category="preferences"><link href="https://fonts.googleapis.com/no-rel">';
		$this->assertSame( "$kept<p>after</p>", $this->block( "$kept<p>after</p>" ) );
	}

	public function test_breaks_if_blocked_services_load_even_when_a_site_rule_says_block(): void {
		update_option(
			SECURE_PRIVACY_SITE_RULES_OPTION,
			array(
				array( 'kind' => 'request', 'pattern' => '*.stripe.com', 'category' => 'marketing' ),
				array( 'kind' => 'request', 'pattern' => '.google.com', 'category' => 'marketing' ),
			)
		);
		$page = '<script src="https://js.stripe.com/v3/"></script><iframe src="https://js.stripe.com/v3/m.html"></iframe>'
			. '<script src="https://www.google.com/recaptcha/api.js"></script><script src="https://www.paypal.com/sdk/js?client-id=x"></script>'
			. '<script src="https://challenges.cloudflare.com/turnstile/v0/api.js"></script><script src="https://js.hcaptcha.com/1/api.js"></script>';
		$this->assertSame( $page, $this->block( $page ) );

		$warned = array_map( static fn( $w ) => $w['rule'] . ' ' . $w['service'], secure_privacy_blocking_warnings() );
		$this->assertContains( '.stripe.com Stripe', $warned );
		$this->assertContains( '.google.com Google reCAPTCHA', $warned );
		ob_start();
		secure_privacy_blocking_notice();
		$notice = (string) ob_get_clean();
		$this->assertStringContainsString( 'Rule .stripe.com (marketing) would block Stripe.', $notice );
	}

	public function test_site_rules_block_new_hosts_and_can_release_a_catalogue_service(): void {
		$page = '<script src="https://tracker.example/t.js"></script><iframe src="https://www.youtube.com/embed/a"></iframe>';
		$this->assertStringNotContainsString( 'data-sp-category', $this->block( '<script src="https://tracker.example/t.js"></script>' ) );
		update_option(
			SECURE_PRIVACY_SITE_RULES_OPTION,
			array(
				array( 'kind' => 'request', 'pattern' => 'tracker.example', 'category' => 'statistics', 'service' => 'Our tracker' ),
				array( 'kind' => 'request', 'pattern' => 'www.youtube.com', 'category' => 'necessary' ),
				array( 'kind' => 'cookie', 'pattern' => '_ga', 'category' => 'necessary' ),
				array( 'kind' => 'request', 'pattern' => 'bad pattern', 'category' => 'marketing' ),
				'not a rule',
			)
		);
		$out = $this->block( $page );
		$this->assertStringContainsString( '<script data-sp-category="statistics" data-sp-service="Our tracker" type="text/plain" src="https://tracker.example/t.js">', $out );
		$this->assertStringContainsString( '<iframe src="https://www.youtube.com/embed/a">', $out, 'the admin said necessary' );
		$this->assertSame( array(), secure_privacy_blocking_warnings() );
	}

	public function test_site_rules_are_read_from_the_settings_or_an_autoloaded_option_only(): void {
		global $wpdb;
		$this->assertSame( array(), secure_privacy_blocking_rules() );
		$queries = $wpdb->num_queries;
		secure_privacy_blocking_rules();
		secure_privacy_catalogue();
		$this->assertSame( $queries, $wpdb->num_queries, 'no query for absent rules or the catalogue' );

		update_option( SECURE_PRIVACY_SITE_RULES_OPTION, wp_json_encode( array( 'rules' => array( array( 'kind' => 'request', 'pattern' => '*.Example.org', 'category' => 'marketing' ) ) ) ), true );
		$this->assertSame( array( array( 'pattern' => '.example.org', 'category' => 'marketing', 'service' => '' ) ), secure_privacy_blocking_rules() );
		update_option( SECURE_PRIVACY_SITE_RULES_OPTION, array( array( 'kind' => 'request', 'pattern' => 'x.example', 'category' => 'unknown' ) ) );
		$this->assertSame( array(), secure_privacy_blocking_rules(), 'a rule with a category we do not have is left out' );
	}

	public function test_the_fixture_page_comes_out_as_the_tag_processor_makes_it(): void {
		$page     = (string) file_get_contents( self::FIXTURES . 'blocking-page.html' );
		$expected = (string) file_get_contents( self::FIXTURES . 'blocking-page.expected.html' );
		$out      = $this->block( $page ); // Both tokenizers agree, where both exist.
		if ( $expected !== $out ) {
			file_put_contents( sys_get_temp_dir() . '/sp-blocking-page.actual.html', $out ); // phpcs:ignore WordPress.WP.AlternativeFunctions
		}
		$this->assertSame( $expected, $out, 'expected made by WP_HTML_Tag_Processor (6.5); got ' . sys_get_temp_dir() . '/sp-blocking-page.actual.html' );
	}

	public function test_the_fixture_page_blocks_what_it_should_and_nothing_else(): void {
		$out = $this->block( (string) file_get_contents( self::FIXTURES . 'blocking-page.html' ) );
		// Blocked: loaders, their inline snippets, embeds, pixels (also inside noscript).
		foreach ( array(
			"<script data-sp-category=\"statistics\" data-sp-service=\"Google tag (gtag.js)\" data-sp-type=\"text/javascript\" type=\"text/plain\" src='https://www.googletagmanager.com/gtag/js?id=G-TEST&#038;l=dataLayer'",
			'<script data-sp-category="statistics" data-sp-service="Google Tag Manager" type="text/plain">(function(w,d,s,l,i)',
			"<script data-sp-category=\"marketing\" data-sp-service=\"Meta Pixel\" type=\"text/plain\">\n!function(f,b,e,v,n,t,s)",
			'<script data-sp-category="statistics" data-sp-service="Hotjar" data-sp-type="module" type="text/plain" src=',
			'<img data-sp-category="marketing" data-sp-service="Meta Pixel" data-sp-src="https://www.facebook.com/tr?id=123&amp;ev=PageView&amp;noscript=1" height="1"',
			'<iframe data-sp-category="marketing" data-sp-service="YouTube" data-sp-src="https://www.youtube-nocookie.com/embed/abc?rel=0" width="560" height="315"  title="A video" allowfullscreen>',
			'<IFRAME data-sp-category="statistics" data-sp-service="Vimeo" data-sp-src="https://player.vimeo.com/video/1"  WIDTH=640>',
			'<iframe data-sp-category="marketing" data-sp-service="YouTube" data-sp-src="https://www.youtube.com/embed/dup"  ></iframe>',
			'<iframe data-sp-category="preferences" data-sp-service="Google Maps" data-sp-src="https://www.google.com/maps/embed?pb=1"  loading="lazy">',
			'<img data-sp-category="marketing" data-sp-service="LinkedIn Insight Tag" data-sp-src="https://px.ads.linkedin.com/collect/?pid=1&amp;fmt=gif"  width="1" height="1" alt="">',
			'<img data-sp-category="preferences" data-sp-service="Gravatar" data-sp-src="https://secure.gravatar.com/avatar/pixel"  width="1"',
			'<script data-sp-category="statistics" data-sp-service="Microsoft Clarity" type="text/plain" src="https://www.clarity.ms/tag/after-abrupt">',
			'<script data-sp-category="marketing" data-sp-service="Microsoft Advertising (UET)" type="text/plain" src="//bat.bing.com/bat.js">',
			"<script data-sp-category=\"marketing\" data-sp-service=\"LinkedIn Insight Tag\" type=\"text/plain\">\n  document.write('<!--<script src=\"https://snap.licdn.com/",
		) as $blocked ) {
			$this->assertStringContainsString( $blocked, $out );
		}
		// Left alone: comments, raw text, JSON, hand-tagged, necessary, first-party, visible images.
		foreach ( array(
			'<!-- <script src="https://www.google-analytics.com/analytics.js"></script> a comment -->',
			'<title>A page with <iframe src="https://www.youtube.com/embed/in-title"></iframe> in its title</title>',
			"<script>\nwindow.dataLayer = window.dataLayer || [];",
			'<script type="application/ld+json">',
			'<script type="text/plain" data-sp-category="statistics" src="https://www.clarity.ms/tag/hand-tagged">',
			'<script src="https://js.stripe.com/v3/"></script>',
			'<script src="https://www.google.com/recaptcha/api.js" async defer>',
			'<iframe src="https://js.stripe.com/v3/controller.html">',
			'<script src="/wp-includes/js/jquery/jquery.min.js?ver=3.6.1" id="jquery-core-js">',
			'<img src="https://secure.gravatar.com/avatar/abc?s=96" width="96" height="96" alt="Avatar">',
			'<img src="/wp-content/uploads/photo.jpg" alt="Our own">',
			'<textarea><script src="https://connect.facebook.net/in-textarea.js"></script></textarea>',
			'<style>.x{background:url(https://www.facebook.com/tr?id=1)} /* <img src="https://www.facebook.com/tr?id=2"> */</style>',
			"<script>var _paq = window._paq || [];",
		) as $kept ) {
			$this->assertStringContainsString( $kept, $out );
		}
	}

	public function test_enqueued_trackers_their_inline_parts_and_dependents_are_blocked(): void {
		wp_register_script( 'sp-test-pixel', 'https://connect.facebook.net/en_US/fbevents.js', array(), null, false ); // phpcs:ignore WordPress.WP.EnqueuedResourceParameters
		wp_add_inline_script( 'sp-test-pixel', 'window.before = 1;', 'before' );
		wp_add_inline_script( 'sp-test-pixel', 'window.after = 1;' );
		wp_register_script( 'sp-test-uses-pixel', '/wp-content/plugins/x/track.js', array( 'sp-test-pixel' ), '1', false );
		wp_register_script( 'sp-test-stripe', 'https://js.stripe.com/v3/', array(), null, false ); // phpcs:ignore WordPress.WP.EnqueuedResourceParameters
		wp_register_script( 'sp-test-own', '/wp-content/plugins/x/own.js', array(), '1', false );
		$print = static function (): string {
			wp_scripts()->done = array_diff( wp_scripts()->done, array( 'sp-test-pixel', 'sp-test-uses-pixel', 'sp-test-stripe', 'sp-test-own' ) );
			ob_start();
			wp_scripts()->do_items( array( 'sp-test-uses-pixel', 'sp-test-stripe', 'sp-test-own' ) );
			return (string) ob_get_clean();
		};
		$this->assertStringNotContainsString( 'data-sp-category', $print(), 'no widget on the page to release them: left as they are' );
		secure_privacy_enqueue_assets();
		$out = $print();
		wp_dequeue_script( SECURE_PRIVACY_WIDGET_HANDLE );
		wp_dequeue_style( SECURE_PRIVACY_WIDGET_HANDLE );
		foreach ( array( 'sp-test-pixel', 'sp-test-uses-pixel', 'sp-test-stripe', 'sp-test-own' ) as $h ) {
			wp_deregister_script( $h );
		}

		$this->assertSame( 4, substr_count( $out, 'data-sp-category="marketing" data-sp-service="Meta Pixel"' ), $out );
		$this->assertMatchesRegularExpression( '~<script data-sp-category="marketing" data-sp-service="Meta Pixel"[^>]*type="text/plain"[^>]*>\s*window.before = 1;~', $out );
		$this->assertMatchesRegularExpression( '~<script data-sp-category="marketing" data-sp-service="Meta Pixel"[^>]*type="text/plain"[^>]*src=\'?"?https://connect.facebook.net/en_US/fbevents.js~', $out );
		$this->assertMatchesRegularExpression( '~<script data-sp-category="marketing" data-sp-service="Meta Pixel"[^>]*type="text/plain"[^>]*>\s*window.after = 1;~', $out );
		$this->assertMatchesRegularExpression( '~<script data-sp-category="marketing" data-sp-service="Meta Pixel"[^>]*src=\'?"?http://phpunit.example/wp-content/plugins/x/track.js~', $out, 'a script that needs the blocked one waits for it' );
		$this->assertMatchesRegularExpression( '~<script (type=\'text/javascript\' )?src=\'?"?https://js.stripe.com/v3/~', $out );
		$this->assertMatchesRegularExpression( '~<script (type=\'text/javascript\' )?src=\'?"?http://phpunit.example/wp-content/plugins/x/own.js~', $out );
	}

	public function test_nothing_is_blocked_where_the_widget_cannot_release_it(): void {
		$page = '<!DOCTYPE html><script src="https://connect.facebook.net/en_US/fbevents.js"></script>';
		$this->assertSame( $page, secure_privacy_block_page( $page, array() ), 'the widget was not printed on this page' );
		$this->with_widget_printed(
			function () use ( $page ) {
				$this->assertStringContainsString( 'data-sp-category="marketing"', secure_privacy_block_page( $page, array() ) );
				$this->assertStringContainsString( 'data-sp-category', secure_privacy_block_page( $page, array( 'Content-Type: text/html; charset=UTF-8' ) ) );
				foreach ( array( 'Content-Type: application/json; charset=UTF-8', 'Content-Type: application/rss+xml; charset=UTF-8', 'Content-Type: text/xml', 'Content-type: text/plain' ) as $type ) {
					$this->assertSame( $page, secure_privacy_block_page( $page, array( 'X-Other: 1', $type ) ), $type );
				}
				wp_set_current_user( 0 ); // Not live: visitors see no banner, so nothing is blocked.
				$this->assertFalse( secure_privacy_blocking_active() );
			}
		);
	}

	public function test_feeds_robots_embeds_sitemaps_and_amp_start_no_buffer(): void {
		global $wp_query;
		$this->assertTrue( secure_privacy_blocking_active() );
		foreach ( array( 'is_feed', 'is_robots', 'is_embed', 'is_trackback' ) as $flag ) {
			$wp_query->$flag = true;
			$level           = ob_get_level();
			secure_privacy_start_page_buffer();
			$this->assertSame( $level, ob_get_level(), $flag );
			$wp_query->$flag = false;
		}
		set_query_var( 'sitemap', 'posts' );
		$this->assertFalse( secure_privacy_blocking_active(), 'sitemap' );
		set_query_var( 'sitemap', '' );
		add_filter( 'secure_privacy_blocking_active', '__return_false' );
		$this->assertFalse( secure_privacy_blocking_active() );
		remove_filter( 'secure_privacy_blocking_active', '__return_false' );
		$this->assertTrue( secure_privacy_blocking_active() );
	}

	public function test_the_page_buffer_coexists_with_outer_and_inner_buffers_and_flushes(): void {
		$this->with_widget_printed(
			function () {
				$outer_seen = null;
				ob_start(
					static function ( $buffer ) use ( &$outer_seen ) {
						$outer_seen = $buffer;
						return $buffer;
					}
				); // A page cache, started first.
				$level = ob_get_level();
				secure_privacy_start_page_buffer();
				$this->assertSame( $level + 1, ob_get_level() );
				echo '<!DOCTYPE html><p>start</p><script src="https://connect.fa';
				ob_flush(); // Someone flushes half a tag out: it is held back.
				echo 'cebook.net/en_US/fbevents.js"></script>';
				ob_start( static fn( $b ) => str_replace( '<p>inner</p>', '<p>inner, rewritten</p><iframe src="https://www.youtube.com/embed/x"></iframe>', $b ) ); // An optimiser, started later.
				echo '<p>inner</p>';
				ob_end_flush();
				ob_end_flush(); // Ours.
				$page = (string) ob_get_clean(); // The page cache's.
				$this->assertSame( $page, $outer_seen );
				$this->assertSame( '<!DOCTYPE html><p>start</p><script data-sp-category="marketing" data-sp-service="Meta Pixel" type="text/plain" src="https://connect.facebook.net/en_US/fbevents.js"></script><p>inner, rewritten</p><iframe data-sp-category="marketing" data-sp-service="YouTube" data-sp-src="https://www.youtube.com/embed/x" ></iframe>', $page );
			}
		);
	}

	public function test_ob_clean_drops_only_what_was_not_flushed(): void {
		$this->with_widget_printed(
			function () {
				ob_start();
				secure_privacy_start_page_buffer();
				echo '<p>flushed</p><img src="https://px.ads.link';
				ob_flush(); // Held back until the end: half a tag.
				echo 'edin.com/collect/?pid=1" width="1" height="1"><p>cleaned</p>';
				ob_clean(); // Throws away what came since the flush, not the flushed part.
				echo 'edin.com/collect/?pid=2" width="1" height="1"><p>kept</p>';
				ob_end_flush();
				$this->assertSame( '<p>flushed</p><img data-sp-category="marketing" data-sp-service="LinkedIn Insight Tag" data-sp-src="https://px.ads.linkedin.com/collect/?pid=2"  width="1" height="1"><p>kept</p>', ob_get_clean() );
			}
		);
	}

	public function test_the_html_is_the_same_whatever_the_visitors_consent(): void {
		$page = (string) file_get_contents( self::FIXTURES . 'blocking-page.html' );
		$this->with_widget_printed(
			function () use ( $page ) {
				wp_set_current_user( 0 );
				update_option( SECURE_PRIVACY_CONNECTION_OPTION, array( 'live' => true, 'sidecar_url' => secure_privacy_settings()['sidecar_url'] ) );
				$outputs = array();
				foreach ( array( null, '{"categories":{"necessary":true,"statistics":true,"marketing":true}}', '{"categories":{"necessary":true}}' ) as $cookie ) {
					if ( null === $cookie ) {
						unset( $_COOKIE['sp_consent'] );
					} else {
						$_COOKIE['sp_consent'] = rawurlencode( $cookie );
					}
					$this->assertTrue( secure_privacy_blocking_active() );
					$outputs[] = secure_privacy_block_page( $page, array() );
				}
				delete_option( SECURE_PRIVACY_CONNECTION_OPTION );
				$this->assertStringContainsString( 'data-sp-category', $outputs[0] );
				$this->assertSame( $outputs[0], $outputs[1] );
				$this->assertSame( $outputs[0], $outputs[2] );
			}
		);
	}

	public function test_the_tokenizer_runs_only_on_pages_that_name_a_known_host_or_signature(): void {
		$this->assertFalse( secure_privacy_page_mentions_services( '<p>Hello</p><script>var s = {"baseUrl":"https:\/\/s.w.org\/images\/"};</script><a href="https://example.org/">x</a>' ) );
		$this->assertTrue( secure_privacy_page_mentions_services( '<script src="//WWW.Google-Analytics.com/analytics.js"></script>' ) );
		$this->assertTrue( secure_privacy_page_mentions_services( '<img src="https://region1.google-analytics.com/g/collect">' ) );
		$this->assertTrue( secure_privacy_page_mentions_services( '<script>fbq(\'track\', \'Purchase\');</script>' ) );
		$this->assertFalse( secure_privacy_page_mentions_services( '<iframe src="https://tracker.example:8080/x"></iframe>' ) );
		update_option( SECURE_PRIVACY_SITE_RULES_OPTION, array( array( 'kind' => 'request', 'pattern' => 'tracker.example:8080', 'category' => 'marketing' ) ) );
		$this->assertTrue( secure_privacy_page_mentions_services( '<iframe src="https://tracker.example:8080/x"></iframe>' ) );
		$this->assertFalse( secure_privacy_page_mentions_services( '<iframe src="https://tracker.example/x"></iframe>' ), 'another port' );
	}

	public function test_the_tag_processor_edits_only_where_it_removes_repeated_attributes(): void {
		global $wp_version;
		$was = $wp_version;
		try {
			$wp_version = '6.2.2'; // phpcs:ignore WordPress.WP.GlobalVariablesOverride
			$this->assertFalse( secure_privacy_tag_processor_edits(), '6.2 keeps a repeated src it was asked to remove' );
			$wp_version = '6.3.0'; // phpcs:ignore WordPress.WP.GlobalVariablesOverride
			$this->assertSame( class_exists( 'WP_HTML_Tag_Processor' ), secure_privacy_tag_processor_edits() );
		} finally {
			$wp_version = $was; // phpcs:ignore WordPress.WP.GlobalVariablesOverride
		}
		$out = $this->block( '<iframe src="https://www.youtube.com/embed/a" SRC="https://www.youtube.com/embed/b" src=c></iframe>' );
		$this->assertStringNotContainsString( ' src', strtolower( str_replace( 'data-sp-src', '', $out ) ), $out );
	}

	/** Run $check as on a page where the widget's script was printed. */
	private function with_widget_printed( callable $check ): void {
		$scripts         = wp_scripts();
		$done            = $scripts->done;
		$scripts->done[] = SECURE_PRIVACY_WIDGET_HANDLE;
		try {
			$check();
		} finally {
			$scripts->done = $done;
		}
	}
}
