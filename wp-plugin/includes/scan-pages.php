<?php
/**
 * The site scan's page list (issue 13, SCAN_INTERFACE §5):
 * `GET /wp-json/secure-privacy/v1/scan-pages?max_pages=N` (or `?rest_route=…`), which the
 * sidecar asks when a scan names no URLs. It answers only a request carrying, in the header
 * `X-Secure-Privacy-Token`, a token signed with the shared signing secrets under the salt
 * `secure-privacy/scan-pages/v1` over `{"origin": <this site's home origin>, "max_pages": N}`,
 * at most 300 s old; anything else is 401.
 *
 * The list: the front page, the login page, WooCommerce's cart, checkout and account pages,
 * the newest published item of each public post type, pages and posts whose content has
 * scripts, iframes, embeds or shortcodes, one URL per page template, post-type archive,
 * taxonomy and the author archive, and what the core sitemap's providers add. Each URL has a
 * `group` (its URL pattern: one single item per post type, one archive per taxonomy, one page
 * per kind of embedded content, …); one URL per group, at most `max_pages` URLs, in that order
 * of importance. Every query is bounded (LIMIT), so a site of any size answers quickly; past
 * SECURE_PRIVACY_SCAN_PAGES_BUDGET seconds the rest is left out and the list says `capped`.
 *
 * Loaded only on REST requests (rest_api_init): a visitor's page view does not compile it.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/** The salt of page-list tokens (the consent tokens have their own). */
const SECURE_PRIVACY_SCAN_PAGES_SALT = 'secure-privacy/scan-pages/v1';

/** Seconds a page-list token stays valid. */
const SECURE_PRIVACY_SCAN_PAGES_MAX_AGE = 300;

/** Seconds the sidecar's clock may run ahead of this one (the sidecar's SP_CLOCK_SKEW default). */
const SECURE_PRIVACY_SCAN_PAGES_CLOCK_SKEW = 60;

/** The header that carries the token. */
const SECURE_PRIVACY_SCAN_PAGES_HEADER = 'X-Secure-Privacy-Token';

/** Pages listed when the token names no number. */
const SECURE_PRIVACY_SCAN_PAGES_DEFAULT = 50;

/** Most pages one list may hold. */
const SECURE_PRIVACY_SCAN_PAGES_LIMIT = 500;

/** Most posts whose content is looked at for scripts, iframes, embeds and shortcodes. */
const SECURE_PRIVACY_SCAN_CONTENT_ROWS = 200;

/** The newest published items of each post type whose content is searched (bounds the scan of a big site). */
const SECURE_PRIVACY_SCAN_CONTENT_WINDOW = 5000;

/** Posts read per query while looking at content (bounds the memory of one query). */
const SECURE_PRIVACY_SCAN_CONTENT_BATCH = 50;

/** Seconds the list may take to build; what is left when they are up is left out (capped). */
const SECURE_PRIVACY_SCAN_PAGES_BUDGET = 5.0;

/**
 * Register the page-list route (rest_api_init, from secure_privacy_scan_rest_routes()).
 */
function secure_privacy_scan_pages_register_route(): void {
	register_rest_route(
		SECURE_PRIVACY_REST_NAMESPACE,
		'/scan-pages',
		array(
			'methods'             => WP_REST_Server::READABLE,
			'callback'            => 'secure_privacy_scan_pages_respond',
			// The token is the authentication: the sidecar is not a WordPress user.
			'permission_callback' => 'secure_privacy_scan_pages_permission',
		)
	);
	add_filter( 'rest_post_dispatch', 'secure_privacy_scan_pages_no_store', 10, 3 );
}

/**
 * No cache may keep an answer of the page-list route, a refusal included (rest_post_dispatch).
 *
 * @param mixed           $response The response.
 * @param WP_REST_Server  $server   Server.
 * @param WP_REST_Request $request  The request.
 * @return mixed The response.
 */
function secure_privacy_scan_pages_no_store( $response, $server, $request ) {
	if ( $response instanceof WP_REST_Response && $request instanceof WP_REST_Request
		&& 0 === strcasecmp( '/' . SECURE_PRIVACY_REST_NAMESPACE . '/scan-pages', untrailingslashit( (string) $request->get_route() ) ) ) {
		$response->header( 'Cache-Control', 'no-store, private' );
	}
	return $response;
}

/**
 * Permission of the page-list route: a valid token for this site (see the file comment).
 *
 * @param WP_REST_Request $request The request.
 * @return true|WP_Error 401 when the token is missing, forged, expired or for another site or
 *     another number of pages.
 */
function secure_privacy_scan_pages_permission( WP_REST_Request $request ) {
	$max = secure_privacy_scan_pages_authorize( (string) $request->get_header( SECURE_PRIVACY_SCAN_PAGES_HEADER ), $request->get_param( 'max_pages' ), home_url( '/' ), time() );
	if ( is_wp_error( $max ) ) {
		return $max;
	}
	$request->set_param( 'max_pages', $max );
	return true;
}

/**
 * Check a page-list token; the number of pages it allows, or why not.
 *
 * @param string $token     The header's value.
 * @param mixed  $max_pages The query's max_pages (null when absent).
 * @param string $home      This site's home URL.
 * @param int    $now       Unix time.
 * @return int|WP_Error The number of pages (1 to SECURE_PRIVACY_SCAN_PAGES_LIMIT), or a 401.
 */
function secure_privacy_scan_pages_authorize( string $token, $max_pages, string $home, int $now ) {
	$refuse = static fn( string $code, string $message ): WP_Error => new WP_Error( $code, $message, array( 'status' => 401 ) );
	if ( '' === trim( $token ) ) {
		/* translators: %s: header name. */
		return $refuse( 'secure_privacy_missing_token', sprintf( __( 'The page list needs a signed token in the %s header.', 'secure-privacy' ), SECURE_PRIVACY_SCAN_PAGES_HEADER ) );
	}
	try {
		$signer = Secure_Privacy_Signer::from_list( secure_privacy_settings()['secret_keys'], SECURE_PRIVACY_SCAN_PAGES_SALT );
		// Accepted from SECURE_PRIVACY_SCAN_PAGES_CLOCK_SKEW seconds ahead to MAX_AGE old.
		$payload = $signer->unsign( trim( $token ), SECURE_PRIVACY_SCAN_PAGES_MAX_AGE + SECURE_PRIVACY_SCAN_PAGES_CLOCK_SKEW, $now + SECURE_PRIVACY_SCAN_PAGES_CLOCK_SKEW );
	} catch ( InvalidArgumentException $e ) {
		return $refuse( 'secure_privacy_not_configured', __( 'No signing secret is configured in the plugin.', 'secure-privacy' ) );
	} catch ( Secure_Privacy_Expired_Signature $e ) {
		return $refuse( 'secure_privacy_expired_token', __( 'The page-list token has expired (or comes from a clock that runs ahead).', 'secure-privacy' ) );
	} catch ( Secure_Privacy_Bad_Data $e ) {
		return $refuse( 'secure_privacy_invalid_token', __( 'The page-list token is not signed with this site\'s signing secret.', 'secure-privacy' ) );
	}
	// Compared as origins ("HTTP://Example.com:80/" is http://example.com): both are signed or ours.
	$origin = isset( $payload['origin'] ) && is_string( $payload['origin'] ) ? secure_privacy_origin_of( $payload['origin'] ) : '';
	if ( ! hash_equals( secure_privacy_origin_of( $home ), $origin ) ) {
		return $refuse( 'secure_privacy_invalid_token', __( 'The page-list token is for another site.', 'secure-privacy' ) );
	}
	$signed = $payload['max_pages'] ?? SECURE_PRIVACY_SCAN_PAGES_DEFAULT;
	if ( ! is_int( $signed ) || $signed < 1 || $signed > SECURE_PRIVACY_SCAN_PAGES_LIMIT ) {
		return $refuse( 'secure_privacy_invalid_token', __( 'The page-list token names no valid number of pages.', 'secure-privacy' ) );
	}
	if ( null !== $max_pages && ( ! is_scalar( $max_pages ) || (string) $signed !== (string) $max_pages ) ) {
		return $refuse( 'secure_privacy_invalid_token', __( 'The page-list token was signed for another number of pages.', 'secure-privacy' ) );
	}
	return $signed;
}

/**
 * The page-list route's answer: 200 {"pages": [...], "capped": bool} (never cached: see
 * secure_privacy_scan_pages_no_store()).
 *
 * @param WP_REST_Request $request A request that passed the permission check.
 */
function secure_privacy_scan_pages_respond( WP_REST_Request $request ): WP_REST_Response {
	$max = (int) $request->get_param( 'max_pages' );
	return new WP_REST_Response( secure_privacy_scan_pages( $max > 0 ? $max : SECURE_PRIVACY_SCAN_PAGES_DEFAULT ) );
}

/**
 * The pages a scan should visit (see the file comment).
 *
 * @param int $max Most pages.
 * @return array{pages: array<int, array{url: string, why: string, group: string}>, capped: bool}
 */
function secure_privacy_scan_pages( int $max ): array {
	$list = array(
		'max'    => max( 1, min( $max, SECURE_PRIVACY_SCAN_PAGES_LIMIT ) ),
		'origin' => secure_privacy_origin_of( home_url( '/' ) ),
		'pages'  => array(),
		'groups' => array(),
		'urls'   => array(),
		'capped' => false,
	);
	$add     = static function ( $url, string $why, string $group ) use ( &$list ): void {
		secure_privacy_scan_pages_add( $list, $url, $why, $group );
	};
	$started = microtime( true );
	// Out of time: what was not looked at yet is left out, and the list says so.
	$late = static function () use ( &$list, $started ): bool {
		if ( microtime( true ) - $started > SECURE_PRIVACY_SCAN_PAGES_BUDGET ) {
			$list['capped'] = true;
			return true;
		}
		return false;
	};
	// Whether to stop reading content: out of time, or the list is full (then what is left
	// unread may hold new groups: the list says it was capped).
	$full = static function () use ( &$list, $late ): bool {
		if ( $late() ) {
			return true;
		}
		if ( count( $list['pages'] ) >= $list['max'] ) {
			$list['capped'] = true;
			return true;
		}
		return false;
	};

	$add( home_url( '/' ), 'front_page', 'front_page' );
	$add( wp_login_url(), 'login', 'login' );
	secure_privacy_scan_pages_woocommerce( $add );
	$types = secure_privacy_scan_pages_post_types();
	secure_privacy_scan_pages_singles( $types, $add );
	// The later stages run on a full list too (each is bounded): a URL of a new group that no
	// longer fits is what marks the list as capped.
	if ( ! $late() ) {
		$taken = static function ( string $group ) use ( &$list ): bool {
			return isset( $list['groups'][ $group ] );
		};
		secure_privacy_scan_pages_content( $types, $add, $full, $taken );
	}
	if ( ! $late() ) {
		secure_privacy_scan_pages_templates( $types, $add );
	}
	if ( ! $late() ) {
		secure_privacy_scan_pages_sitemap( $add );
	}
	return array(
		'pages'  => $list['pages'],
		'capped' => $list['capped'],
	);
}

/**
 * Add one URL to the list: unless its group or URL is there already, or it is not on the
 * site's home origin; when the list is full, note that it was capped instead.
 *
 * @param array  $list  The list being built (by reference).
 * @param mixed  $url   The URL (anything else than a string is ignored).
 * @param string $why   Why it is in the list.
 * @param string $group Its URL pattern's key.
 */
function secure_privacy_scan_pages_add( array &$list, $url, string $why, string $group ): void {
	if ( ! is_string( $url ) || isset( $list['groups'][ $group ] ) || isset( $list['urls'][ $url ] )
		|| 1 !== preg_match( '#^https?://[^\x00-\x20\x7F]+$#iD', $url ) || secure_privacy_origin_of( $url ) !== $list['origin'] ) {
		return;
	}
	if ( count( $list['pages'] ) >= $list['max'] ) {
		$list['capped'] = true;
		return;
	}
	$list['groups'][ $group ] = true;
	$list['urls'][ $url ]     = true;
	$list['pages'][]          = array(
		'url'   => $url,
		'why'   => $why,
		'group' => $group,
	);
}

/**
 * The public post types whose items have pages of their own (attachments left out).
 *
 * @return string[]
 */
function secure_privacy_scan_pages_post_types(): array {
	$types = get_post_types(
		array(
			'public'             => true,
			'publicly_queryable' => true,
		)
	);
	// "page" is public but not publicly_queryable (it is queried by pagename).
	$types['page'] = 'page';
	unset( $types['attachment'] );
	return array_values( array_filter( $types, 'is_string' ) );
}

/**
 * WooCommerce's cart, checkout and account pages, when WooCommerce is active and has them.
 *
 * @param callable $add secure_privacy_scan_pages_add() bound to the list.
 */
function secure_privacy_scan_pages_woocommerce( callable $add ): void {
	if ( ! function_exists( 'wc_get_page_permalink' ) || ! function_exists( 'wc_get_page_id' ) ) {
		return;
	}
	foreach ( array(
		'cart'      => 'woocommerce:cart',
		'checkout'  => 'woocommerce:checkout',
		'myaccount' => 'woocommerce:account',
	) as $page => $why ) {
		if ( (int) wc_get_page_id( $page ) > 0 ) {
			$add( wc_get_page_permalink( $page ), $why, $why );
		}
	}
}

/**
 * The newest published item of each post type (one query of one row each).
 *
 * @param string[] $types Post types.
 * @param callable $add   Adds to the list.
 */
function secure_privacy_scan_pages_singles( array $types, callable $add ): void {
	$skip = array_filter( array( (int) get_option( 'page_on_front' ), (int) get_option( 'page_for_posts' ) ) );
	foreach ( $types as $type ) {
		$ids = get_posts(
			array(
				'post_type'              => $type,
				'post_status'            => 'publish',
				'has_password'           => false,
				'posts_per_page'         => 1,
				'orderby'                => 'date',
				'order'                  => 'DESC',
				'fields'                 => 'ids',
				'post__not_in'           => $skip,
				'ignore_sticky_posts'    => true,
				'no_found_rows'          => true,
				'update_post_meta_cache' => false,
				'update_post_term_cache' => false,
			)
		);
		if ( ! $ids ) {
			continue;
		}
		$why = array(
			'post' => 'template:single-post',
			'page' => 'template:page',
		)[ $type ] ?? 'post_type:' . $type;
		$add( get_permalink( (int) $ids[0] ), $why, 'single:' . $type );
	}
}

/**
 * Published posts and pages, newest first, whose content has a script, an iframe, an embed
 * (block or a URL of an oEmbed provider on a line of its own) or a registered shortcode. Posts
 * with the same kinds of content from the same hosts (or shortcodes) share a group.
 *
 * One query picks, among the newest SECURE_PRIVACY_SCAN_CONTENT_WINDOW published items of each
 * post type, the ids of the newest SECURE_PRIVACY_SCAN_CONTENT_ROWS candidates (byte-wise LIKE
 * tests, no content read into PHP); their content is then read by id,
 * SECURE_PRIVACY_SCAN_CONTENT_BATCH at a time, and looked at in PHP.
 *
 * @param string[] $types Post types.
 * @param callable $add   Adds to the list.
 * @param callable $full  Whether the list is full.
 * @param callable $taken Whether a group is in the list already.
 */
function secure_privacy_scan_pages_content( array $types, callable $add, callable $full, callable $taken ): void {
	global $wpdb;
	if ( ! $types ) {
		return;
	}
	// The newest of each type, read along the type_status_date index (no sort of the table).
	$newest = implode(
		' UNION ALL ',
		array_fill( 0, count( $types ), "(SELECT ID FROM {$wpdb->posts} WHERE post_type = %s AND post_status = 'publish' ORDER BY post_date DESC, ID DESC LIMIT %d)" )
	);
	$window = array();
	foreach ( $types as $type ) {
		array_push( $window, $type, SECURE_PRIVACY_SCAN_CONTENT_WINDOW );
	}
	// phpcs:disable WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared, WordPress.DB.PreparedSQLPlaceholders -- bounded reads of core's table, placeholders built above.
	$ids = $wpdb->get_col(
		$wpdb->prepare(
			"SELECT p.ID FROM ($newest) newest JOIN {$wpdb->posts} p ON p.ID = newest.ID
			WHERE p.post_password = ''
			AND (BINARY p.post_content LIKE %s OR BINARY p.post_content LIKE %s OR BINARY p.post_content LIKE %s
				OR BINARY p.post_content LIKE %s OR BINARY p.post_content LIKE %s OR BINARY p.post_content LIKE %s
				OR BINARY p.post_content LIKE %s OR BINARY p.post_content LIKE %s OR BINARY p.post_content LIKE %s)
			ORDER BY p.post_date DESC, p.ID DESC LIMIT %d",
			array_merge( $window, array( '%<script%', '%<SCRIPT%', '%<iframe%', '%<IFRAME%', '%<!-- wp:embed%', '%<!-- wp:core-embed%', '%[%', "%\nhttp%", 'http%', SECURE_PRIVACY_SCAN_CONTENT_ROWS ) )
		)
	);
	foreach ( array_chunk( array_map( 'intval', (array) $ids ), SECURE_PRIVACY_SCAN_CONTENT_BATCH ) as $chunk ) {
		if ( $full() ) {
			return;
		}
		$content = $wpdb->get_results(
			"SELECT ID, post_content FROM {$wpdb->posts} WHERE ID IN (" . implode( ',', $chunk ) . ')',
			OBJECT_K
		);
		// phpcs:enable
		foreach ( $chunk as $id ) { // Newest first, as the ids came.
			$found = isset( $content[ $id ] ) ? secure_privacy_scan_content_features( (string) $content[ $id ]->post_content ) : null;
			if ( $found && ! $taken( 'content:' . $found['signature'] ) ) {
				$add( get_permalink( $id ), 'content:' . $found['why'], 'content:' . $found['signature'] );
			}
		}
	}
}

/**
 * What in a post's content makes its page worth scanning: the first reason (script, iframe,
 * embed, shortcode) and a signature of all of them (kind and host, or shortcode tag), sorted.
 *
 * @param string $content Raw post_content.
 * @return array{why: string, signature: string}|null Null when it has none of them.
 */
function secure_privacy_scan_content_features( string $content ): ?array {
	$found = array();
	if ( preg_match_all( '/<(script|iframe)\b[^>]*>/i', $content, $tags, PREG_SET_ORDER ) ) {
		foreach ( $tags as $tag ) {
			$src                                       = preg_match( '/\ssrc\s*=\s*(["\']?)([^"\'\s>]+)\1/i', $tag[0], $m ) ? $m[2] : '';
			$found[ strtolower( $tag[1] ) ][ secure_privacy_scan_content_host( $src ) ] = true;
		}
	}
	// The embed block, and its names before WordPress 5.6 (core-embed/youtube, …).
	if ( preg_match_all( '/<!-- wp:(?:core-)?embed(?:\/[a-z0-9-]+)?\s+(\{.*?\})\s*\/?-->/s', $content, $blocks ) ) {
		foreach ( $blocks[1] as $attrs ) {
			$attrs                                                      = json_decode( $attrs, true );
			$found['embed'][ secure_privacy_scan_content_host( (string) ( $attrs['url'] ?? '' ) ) ] = true;
		}
	}
	if ( preg_match_all( '/^[ \t]*(https?:\/\/[^\s"<>]+)[ \t]*\r?$/mi', $content, $lines ) ) {
		foreach ( $lines[1] as $url ) {
			if ( _wp_oembed_get_object()->get_provider( $url, array( 'discover' => false ) ) ) {
				$found['embed'][ secure_privacy_scan_content_host( $url ) ] = true;
			}
		}
	}
	// With no shortcode registered, get_shortcode_regex() would match any "[".
	if ( str_contains( $content, '[' ) && ! empty( $GLOBALS['shortcode_tags'] ) && preg_match_all( '/' . get_shortcode_regex() . '/', $content, $codes, PREG_SET_ORDER ) ) {
		foreach ( $codes as $code ) {
			if ( '' !== $code[2] && ( '[' !== $code[1] || ']' !== ( $code[6] ?? '' ) ) ) { // [[tag]] is an escaped shortcode: text.
				$found['shortcode'][ strtolower( $code[2] ) ] = true;
			}
		}
	}
	$parts = array();
	foreach ( array( 'script', 'iframe', 'embed', 'shortcode' ) as $kind ) {
		$names = array_keys( $found[ $kind ] ?? array() );
		sort( $names );
		foreach ( $names as $name ) {
			$parts[] = $kind . '=' . $name;
		}
	}
	if ( ! $parts ) {
		return null;
	}
	$signature = implode( ',', $parts );
	return array(
		'why'       => strtok( $parts[0], '=' ),
		'signature' => strlen( $signature ) > 120 ? substr( hash( 'sha256', $signature ), 0, 16 ) : $signature,
	);
}

/**
 * The host of a script's, iframe's or embed's URL: "self" for this site or a relative URL,
 * "inline" for none.
 *
 * @param string $url The src or embed URL.
 */
function secure_privacy_scan_content_host( string $url ): string {
	if ( '' === $url ) {
		return 'inline';
	}
	$host = strtolower( (string) wp_parse_url( $url, PHP_URL_HOST ) );
	return '' === $host || strtolower( (string) wp_parse_url( home_url( '/' ), PHP_URL_HOST ) ) === $host ? 'self' : $host;
}

/**
 * One URL per page template in use, per post-type archive, per public taxonomy (its largest
 * term) and the author archive.
 *
 * @param string[] $types Post types.
 * @param callable $add   Adds to the list.
 */
function secure_privacy_scan_pages_templates( array $types, callable $add ): void {
	global $wpdb;
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery -- a bounded read of core's tables.
	$templates = $wpdb->get_results(
		"SELECT pm.meta_value AS template, MAX(p.ID) AS id FROM {$wpdb->postmeta} pm
		JOIN {$wpdb->posts} p ON p.ID = pm.post_id
		WHERE pm.meta_key = '_wp_page_template' AND pm.meta_value NOT IN ('', 'default')
		AND p.post_status = 'publish' AND p.post_password = ''
		GROUP BY pm.meta_value ORDER BY id DESC LIMIT 50"
	);
	foreach ( (array) $templates as $row ) {
		$name = sanitize_title( preg_replace( '/\.php$/', '', basename( (string) $row->template ) ) );
		$add( get_permalink( (int) $row->id ), 'template:' . $name, 'template:' . $name );
	}
	foreach ( $types as $type ) {
		$object = get_post_type_object( $type );
		if ( $object && $object->has_archive ) {
			$add( get_post_type_archive_link( $type ), 'template:archive-' . $type, 'archive:' . $type );
		}
	}
	foreach ( get_taxonomies(
		array(
			'public'             => true,
			'publicly_queryable' => true,
		)
	) as $taxonomy ) {
		if ( 'post_format' === $taxonomy ) {
			continue;
		}
		$terms = get_terms(
			array(
				'taxonomy'               => $taxonomy,
				'number'                 => 1,
				'orderby'                => 'count',
				'order'                  => 'DESC',
				'hide_empty'             => true,
				'update_term_meta_cache' => false,
			)
		);
		if ( is_array( $terms ) && $terms ) {
			$link = get_term_link( $terms[0] );
			$why  = array(
				'category' => 'template:category',
				'post_tag' => 'template:tag',
			)[ $taxonomy ] ?? 'template:taxonomy-' . $taxonomy;
			$add( is_wp_error( $link ) ? null : $link, $why, 'taxonomy:' . $taxonomy );
		}
	}
	$newest = get_posts(
		array(
			'post_type'      => 'post',
			'posts_per_page' => 1,
			'no_found_rows'  => true,
			'has_password'   => false,
		)
	);
	if ( $newest ) {
		$add( get_author_posts_url( (int) $newest[0]->post_author ), 'template:author', 'author' );
	}
}

/**
 * What the core sitemap's providers list that no group holds yet: a couple of URLs of each
 * provider and subtype (the providers' own bounded queries, no HTTP).
 *
 * @param callable $add Adds to the list.
 */
function secure_privacy_scan_pages_sitemap( callable $add ): void {
	if ( ! function_exists( 'wp_sitemaps_get_server' ) ) {
		return;
	}
	$server = wp_sitemaps_get_server();
	if ( ! $server->sitemaps_enabled() ) {
		return;
	}
	$few = static fn(): int => 2;
	add_filter( 'wp_sitemaps_max_urls', $few );
	try {
		foreach ( $server->registry->get_providers() as $name => $provider ) {
			$subtypes = array_keys( (array) $provider->get_object_subtypes() );
			foreach ( $subtypes ? $subtypes : array( '' ) as $subtype ) {
				$group = array(
					'posts'      => 'single:' . $subtype,
					'taxonomies' => 'taxonomy:' . $subtype,
					'users'      => 'author',
				)[ $name ] ?? 'sitemap:' . $name . ( '' === $subtype ? '' : ':' . $subtype );
				foreach ( (array) $provider->get_url_list( 1, (string) $subtype ) as $entry ) {
					$add( is_array( $entry ) ? ( $entry['loc'] ?? null ) : null, 'sitemap', $group );
				}
			}
		}
	} finally {
		remove_filter( 'wp_sitemaps_max_urls', $few );
	}
}
