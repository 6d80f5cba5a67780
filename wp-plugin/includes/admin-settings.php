<?php
/**
 * The Settings page (Settings API), its status box (connection test, outbox) and their actions.
 *
 * Saving goes through options.php, which checks the capability and the nonce and unslashes;
 * secure_privacy_sanitize_settings() sanitizes; every value printed here is escaped.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/**
 * The settings tabs: section id => tab label.
 *
 * @return array<string, string>
 */
function secure_privacy_settings_tabs(): array {
	return array(
		'secure_privacy_sidecar' => __( 'Connection', 'secure-privacy' ),
		'secure_privacy_banner'  => __( 'Banner', 'secure-privacy' ),
		'secure_privacy_texts'   => __( 'Texts', 'secure-privacy' ),
		'secure_privacy_consent' => __( 'Consent & policy', 'secure-privacy' ),
		'secure_privacy_network' => __( 'Advanced', 'secure-privacy' ),
	);
}

/**
 * Declare the settings sections and fields (admin_init).
 */
function secure_privacy_admin_settings_fields(): void {
	$page = SECURE_PRIVACY_MENU_SLUG;
	$tabs = secure_privacy_settings_tabs();

	add_settings_section( 'secure_privacy_sidecar', $tabs['secure_privacy_sidecar'], 'secure_privacy_render_sidecar_section', $page );
	secure_privacy_add_field(
		'sidecar_url',
		__( 'Sidecar URL', 'secure-privacy' ),
		'secure_privacy_sidecar',
		array(
			'type'        => 'url',
			'placeholder' => 'http://127.0.0.1:8000',
			'description' => __( 'Base URL of the Secure Privacy sidecar. Consents are sent to its /v1/consents endpoint.', 'secure-privacy' ),
		)
	);
	secure_privacy_add_field(
		'secret_keys',
		__( 'Signing secrets', 'secure-privacy' ),
		'secure_privacy_sidecar',
		array(
			'type'        => 'password',
			'description' => __( 'Comma-separated, oldest first; the last one signs. Must be the sidecar\'s SP_SECRET_KEYS. To rotate, append a new secret here and there, then drop the old one from both.', 'secure-privacy' ),
		)
	);
	secure_privacy_add_field(
		'admin_token',
		__( 'Admin API token', 'secure-privacy' ),
		'secure_privacy_sidecar',
		array(
			'type'        => 'password',
			'description' => __( 'One of the sidecar\'s SP_ADMIN_TOKENS; used by the consent log, statistics and privacy tools, on the server only.', 'secure-privacy' ),
		)
	);

	add_settings_section( 'secure_privacy_banner', $tabs['secure_privacy_banner'], 'secure_privacy_render_banner_section', $page );
	add_settings_field(
		'secure_privacy_categories_enabled',
		__( 'Categories offered', 'secure-privacy' ),
		'secure_privacy_render_categories_field',
		$page,
		'secure_privacy_banner'
	);
	secure_privacy_add_field(
		'primary_color',
		__( 'Accent colour', 'secure-privacy' ),
		'secure_privacy_banner',
		array(
			'type'        => 'color',
			'description' => __( 'Buttons and highlights of the banner. Keep enough contrast with white text.', 'secure-privacy' ),
		)
	);
	secure_privacy_add_field(
		'position',
		__( 'Position', 'secure-privacy' ),
		'secure_privacy_banner',
		array(
			'type'    => 'select',
			'options' => array(
				'bottom-right' => __( 'Bottom right', 'secure-privacy' ),
				'bottom-left'  => __( 'Bottom left', 'secure-privacy' ),
			),
		)
	);
	add_settings_field(
		'secure_privacy_privacy_page_id',
		__( 'Privacy-policy page', 'secure-privacy' ),
		'secure_privacy_render_privacy_page_field',
		$page,
		'secure_privacy_banner',
		array( 'label_for' => 'secure_privacy_privacy_page_id' )
	);

	add_settings_section( 'secure_privacy_texts', $tabs['secure_privacy_texts'], 'secure_privacy_render_texts_section', $page );

	add_settings_section( 'secure_privacy_consent', $tabs['secure_privacy_consent'], '__return_false', $page );
	secure_privacy_add_field(
		'policy_version',
		__( 'Privacy-policy version', 'secure-privacy' ),
		'secure_privacy_consent',
		array(
			'type'        => 'text',
			'maxlength'   => SECURE_PRIVACY_MAX_VERSION_LENGTH,
			'description' => __( 'The version in force. Changing it asks every visitor again.', 'secure-privacy' ),
		)
	);
	secure_privacy_add_field(
		'next_policy_version',
		__( 'Next policy version', 'secure-privacy' ),
		'secure_privacy_consent',
		array(
			'type'        => 'text',
			'maxlength'   => SECURE_PRIVACY_MAX_VERSION_LENGTH,
			'description' => __( 'An announced new version; it replaces the current one on its effective date. Leave empty when none is planned.', 'secure-privacy' ),
		)
	);
	secure_privacy_add_field(
		'next_policy_effective',
		__( 'Effective date', 'secure-privacy' ),
		'secure_privacy_consent',
		array(
			'type'        => 'date',
			'description' => __( 'Day (UTC) the next version takes effect; from then on visitors are asked again.', 'secure-privacy' ),
		)
	);
	secure_privacy_add_field(
		'policy_notice_days',
		__( 'Notice period (days)', 'secure-privacy' ),
		'secure_privacy_consent',
		array(
			'type'        => 'number',
			'min'         => 0,
			'max'         => 365,
			'description' => __( 'How many days before the effective date the banner announces the change.', 'secure-privacy' ),
		)
	);
	secure_privacy_add_field(
		'consent_lifetime_days',
		__( 'Consent lifetime (days)', 'secure-privacy' ),
		'secure_privacy_consent',
		array(
			'type'        => 'number',
			'min'         => 1,
			'max'         => 3650,
			'description' => __( 'After this many days the banner asks again.', 'secure-privacy' ),
		)
	);
	secure_privacy_add_field(
		'honor_gpc',
		__( 'Global Privacy Control', 'secure-privacy' ),
		'secure_privacy_consent',
		array(
			'type'  => 'checkbox',
			'label' => __( 'Treat a Global Privacy Control signal as a refusal of optional cookies.', 'secure-privacy' ),
		)
	);
	secure_privacy_add_field(
		'honor_dnt',
		__( 'Do Not Track', 'secure-privacy' ),
		'secure_privacy_consent',
		array(
			'type'  => 'checkbox',
			'label' => __( 'Treat a Do Not Track signal as a refusal of optional cookies.', 'secure-privacy' ),
		)
	);
	secure_privacy_add_field(
		'retention_days',
		__( 'Record retention (days)', 'secure-privacy' ),
		'secure_privacy_consent',
		array(
			'type'        => 'number',
			'min'         => 1,
			'max'         => 36500,
			'description' => __( 'How long consent records are kept as proof. Every day the plugin asks the sidecar to turn older records into tombstones (as erasure does: the proof of their order stays, nothing personal).', 'secure-privacy' ) . ' ' . secure_privacy_last_purge_text(),
		)
	);

	add_settings_section( 'secure_privacy_network', $tabs['secure_privacy_network'], '__return_false', $page );
	secure_privacy_add_field(
		'trusted_proxy_header',
		__( 'Trusted proxy header', 'secure-privacy' ),
		'secure_privacy_network',
		array(
			'type'        => 'text',
			'placeholder' => 'X-Forwarded-For',
			'description' => __( 'Only behind a CDN or load balancer that sets this header. Empty: the address of the connection (REMOTE_ADDR) is recorded. The header is believed only on connections from the trusted proxies below; the right-most address in it that is not a trusted proxy is taken.', 'secure-privacy' ),
		)
	);
	secure_privacy_add_field(
		'trusted_proxies',
		__( 'Trusted proxies', 'secure-privacy' ),
		'secure_privacy_network',
		array(
			'type'        => 'text',
			'placeholder' => SECURE_PRIVACY_DEFAULT_PROXIES,
			'description' => __( 'Addresses or CIDR ranges of your proxies (CDN, load balancer), separated by commas. A connection from anywhere else is recorded with its own address, whatever the header says.', 'secure-privacy' ),
		)
	);
	secure_privacy_add_field(
		'rate_limit_per_minute',
		__( 'Rate limit (per minute)', 'secure-privacy' ),
		'secure_privacy_network',
		array(
			'type'        => 'number',
			'min'         => 0,
			'max'         => 100000,
			'description' => __( 'Consent requests accepted per visitor address and minute; 0 turns the limit off. Visitors over it get HTTP 429 and their browser sends the choice again later.', 'secure-privacy' ),
		)
	);
}

/**
 * Declare one input field bound to a key of the option.
 *
 * @param string $key     Settings key.
 * @param string $title   Field label.
 * @param string $section Section id.
 * @param array  $args    type (text|url|password|number|checkbox|date|color|select), description,
 *                        label, placeholder, min, max, maxlength, options.
 */
function secure_privacy_add_field( string $key, string $title, string $section, array $args ): void {
	$id = 'secure_privacy_' . $key;
	add_settings_field(
		$id,
		$title,
		'secure_privacy_render_field',
		SECURE_PRIVACY_MENU_SLUG,
		$section,
		$args + array(
			'key'       => $key,
			'label_for' => $id,
		)
	);
}

/**
 * Render the Settings page: tabs over the sections of one form, and the status box.
 */
function secure_privacy_render_settings_page(): void {
	global $wp_settings_sections;
	if ( ! current_user_can( SECURE_PRIVACY_CAPABILITY ) ) {
		return;
	}
	$tabs     = secure_privacy_settings_tabs();
	$sections = $wp_settings_sections[ SECURE_PRIVACY_MENU_SLUG ] ?? array();
	?>
	<div class="wrap sp-wrap">
		<h1 class="sp-title"><span class="dashicons dashicons-shield" aria-hidden="true"></span> <?php echo esc_html( get_admin_page_title() ); ?></h1>
		<?php settings_errors(); ?>
		<nav class="nav-tab-wrapper sp-tabs" aria-label="<?php esc_attr_e( 'Settings sections', 'secure-privacy' ); ?>">
			<?php foreach ( $tabs as $id => $label ) : ?>
				<a href="#<?php echo esc_attr( $id ); ?>" class="nav-tab" data-sp-tab="<?php echo esc_attr( $id ); ?>"><?php echo esc_html( $label ); ?></a>
			<?php endforeach; ?>
		</nav>
		<div class="sp-columns">
			<form class="sp-main" action="<?php echo esc_url( admin_url( 'options.php' ) ); ?>" method="post">
				<?php
				settings_fields( SECURE_PRIVACY_SETTINGS_GROUP );
				// Tells the sanitizer that this is the full form: empty secret fields mean "unchanged".
				printf( '<input type="hidden" name="%s" value="1">', esc_attr( SECURE_PRIVACY_OPTION . '[' . SECURE_PRIVACY_FORM_MARKER . ']' ) );
				foreach ( $sections as $id => $section ) {
					printf( '<section class="sp-panel" id="%s" data-sp-panel>', esc_attr( $id ) );
					printf( '<h2>%s</h2>', esc_html( $section['title'] ) );
					if ( is_callable( $section['callback'] ) ) {
						call_user_func( $section['callback'], $section );
					}
					echo '<table class="form-table" role="presentation">';
					do_settings_fields( SECURE_PRIVACY_MENU_SLUG, $id );
					echo '</table></section>';
				}
				submit_button();
				?>
			</form>
			<aside class="sp-side">
				<?php secure_privacy_render_setup_box(); ?>
				<?php secure_privacy_render_status_box(); ?>
			</aside>
		</div>
	</div>
	<?php
}

/**
 * The setup checklist (includes/setup.php) while any step is left, and once the banner is
 * live, since when and which page caches were purged then.
 */
function secure_privacy_render_setup_box(): void {
	$items = secure_privacy_setup_checklist();
	$left  = in_array( false, array_column( $items, 'done' ), true );
	$live  = secure_privacy_live_note();
	if ( ! $left && '' === $live ) {
		return;
	}
	?>
	<div class="postbox sp-box" id="sp-setup">
		<h2 class="sp-box-title"><?php esc_html_e( 'Setup', 'secure-privacy' ); ?></h2>
		<div class="inside">
		<?php
		if ( $left ) {
			secure_privacy_render_checklist( $items );
		}
		if ( '' !== $live ) {
			echo '<p id="sp-live-note">' . esc_html( $live ) . '</p>';
		}
		?>
		</div>
	</div>
	<?php
}

/**
 * The status box: connection test and the outbox.
 */
function secure_privacy_render_status_box(): void {
	$outbox = secure_privacy_outbox_status();
	?>
	<div class="postbox sp-box">
		<h2 class="sp-box-title"><?php esc_html_e( 'Sidecar', 'secure-privacy' ); ?></h2>
		<div class="inside">
			<p><?php esc_html_e( 'Checks that the sidecar is ready, accepts the admin token and verifies this site\'s signatures, that this site is on its SP_SITE_ORIGINS and that its screenshot worker runs.', 'secure-privacy' ); ?></p>
			<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>">
				<input type="hidden" name="action" value="secure_privacy_test_connection">
				<?php wp_nonce_field( 'secure_privacy_test_connection' ); ?>
				<?php submit_button( __( 'Test connection', 'secure-privacy' ), 'secondary', 'submit', false, array( 'id' => 'sp-test-connection' ) ); ?>
			</form>
			<?php secure_privacy_render_connection_result(); ?>
		</div>
	</div>
	<div class="postbox sp-box" id="sp-outbox">
		<h2 class="sp-box-title"><?php esc_html_e( 'Outbox', 'secure-privacy' ); ?></h2>
		<div class="inside">
			<?php secure_privacy_render_outbox_summary( $outbox ); ?>
			<?php secure_privacy_render_outbox_failed( $outbox ); ?>
			<?php if ( $outbox['pending'] || $outbox['failed'] ) : ?>
				<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>">
					<input type="hidden" name="action" value="secure_privacy_retry_outbox">
					<?php wp_nonce_field( 'secure_privacy_retry_outbox' ); ?>
					<?php
					if ( $outbox['pending'] ) {
						submit_button( __( 'Deliver now', 'secure-privacy' ), 'secondary', 'submit', false );
					}
					if ( $outbox['failed'] ) {
						echo ' ';
						submit_button( __( 'Retry refused consents', 'secure-privacy' ), 'secondary', 'requeue', false, array( 'id' => 'sp-outbox-requeue' ) );
					}
					?>
				</form>
			<?php endif; ?>
		</div>
	</div>
	<?php
}

/**
 * The outbox in a few lines (settings status box and dashboard widget).
 *
 * @param array $outbox secure_privacy_outbox_status().
 */
function secure_privacy_render_outbox_summary( array $outbox ): void {
	if ( ! $outbox['pending'] && ! $outbox['failed'] ) {
		if ( ! secure_privacy_is_live() ) {
			// Nothing has been delivered anywhere yet: nothing to be green about.
			echo '<p class="sp-neutral">' . esc_html__( 'Empty. Consents are delivered once the sidecar is connected and Test connection passes.', 'secure-privacy' ) . '</p>';
			return;
		}
		echo '<p class="sp-ok"><span class="dashicons dashicons-yes-alt" aria-hidden="true"></span> ' . esc_html__( 'Empty: every consent reached the sidecar.', 'secure-privacy' ) . '</p>';
		return;
	}
	echo '<dl class="sp-facts">';
	printf( '<dt>%s</dt><dd data-sp-outbox-pending="%d">%s</dd>', esc_html__( 'Waiting', 'secure-privacy' ), (int) $outbox['pending'], esc_html( number_format_i18n( $outbox['pending'] ) ) );
	if ( null !== $outbox['oldest_age'] ) {
		printf( '<dt>%s</dt><dd>%s</dd>', esc_html__( 'Oldest', 'secure-privacy' ), esc_html( secure_privacy_admin_duration( (int) $outbox['oldest_age'] ) ) );
	}
	if ( $outbox['failed'] ) {
		printf( '<dt>%s</dt><dd class="sp-bad">%s</dd>', esc_html__( 'Refused', 'secure-privacy' ), esc_html( number_format_i18n( $outbox['failed'] ) ) );
	}
	if ( '' !== $outbox['last_error'] ) {
		printf( '<dt>%s</dt><dd><code>%s</code></dd>', esc_html__( 'Last error', 'secure-privacy' ), esc_html( $outbox['last_error'] ) );
	}
	echo '</dl>';
	echo '<p class="description">' . esc_html__( 'Waiting consents are delivered in order every minute by WP-Cron and after later consents; none is dropped.', 'secure-privacy' ) . '</p>';
}

/**
 * The consents the sidecar refused (kept as failed, never retried by themselves), newest
 * first, each with the sidecar's reason, so the admin sees what was not recorded and why.
 *
 * @param array $outbox secure_privacy_outbox_status().
 */
function secure_privacy_render_outbox_failed( array $outbox ): void {
	if ( ! $outbox['failed'] ) {
		return;
	}
	$rows = secure_privacy_outbox_failed_rows( 20 );
	echo '<h3>' . esc_html__( 'Refused by the sidecar', 'secure-privacy' ) . '</h3>';
	echo '<p class="description">' . esc_html__( 'These consents were not recorded: the sidecar refused them as invalid. They no longer hold up other consents. Fix the cause, then retry them.', 'secure-privacy' ) . '</p>';
	echo '<table class="widefat striped sp-outbox-failed" id="sp-outbox-failed"><thead><tr>';
	printf( '<th scope="col">%s</th><th scope="col">%s</th><th scope="col">%s</th><th scope="col">%s</th>', esc_html__( 'Event', 'secure-privacy' ), esc_html__( 'Queued (UTC)', 'secure-privacy' ), esc_html__( 'Attempts', 'secure-privacy' ), esc_html__( 'Reason', 'secure-privacy' ) );
	echo '</tr></thead><tbody>';
	foreach ( $rows as $row ) {
		printf(
			'<tr data-sp-event="%1$s"><td><code>%1$s</code></td><td>%2$s</td><td>%3$s</td><td><code>%4$s</code></td></tr>',
			esc_attr( $row['event_id'] ),
			esc_html( $row['created_at'] ),
			esc_html( number_format_i18n( $row['attempts'] ) ),
			esc_html( $row['last_error'] )
		);
	}
	echo '</tbody></table>';
	if ( $outbox['failed'] > count( $rows ) ) {
		/* translators: %d: number of refused consents not listed. */
		echo '<p class="description">' . esc_html( sprintf( __( '… and %d more.', 'secure-privacy' ), $outbox['failed'] - count( $rows ) ) ) . '</p>';
	}
}

/**
 * The last connection test of this user, if any.
 */
function secure_privacy_render_connection_result(): void {
	$result = get_transient( 'secure_privacy_connection_' . get_current_user_id() );
	if ( ! is_array( $result ) || ! isset( $result['checks'] ) ) {
		return;
	}
	echo '<ul class="sp-checks" id="sp-connection-result">';
	foreach ( $result['checks'] as $check ) {
		printf(
			'<li class="%1$s"><span class="dashicons %2$s" aria-hidden="true"></span> <strong>%3$s</strong> %4$s</li>',
			$check['ok'] ? 'sp-ok' : 'sp-bad',
			$check['ok'] ? 'dashicons-yes-alt' : 'dashicons-warning',
			esc_html( $check['label'] ),
			esc_html( $check['detail'] )
		);
	}
	echo '</ul>';
	if ( isset( $result['checked_at'] ) ) {
		/* translators: %s: time since the test, e.g. "2 mins". */
		echo '<p class="description">' . esc_html( sprintf( __( 'Checked %s ago.', 'secure-privacy' ), human_time_diff( (int) $result['checked_at'] ) ) ) . '</p>';
	}
}

/**
 * admin-post: run the connection test and show its result on the settings page.
 */
function secure_privacy_handle_test_connection(): void {
	secure_privacy_admin_guard( 'secure_privacy_test_connection' );
	$result               = secure_privacy_test_connection();
	$result['checked_at'] = time();
	set_transient( 'secure_privacy_connection_' . get_current_user_id(), $result, 10 * MINUTE_IN_SECONDS );
	secure_privacy_admin_redirect(
		secure_privacy_admin_page_url( SECURE_PRIVACY_MENU_SLUG ),
		$result['ok'] ? 'success' : 'error',
		$result['ok']
			/* translators: %s: sidecar version. */
			? sprintf( __( 'Connected to the sidecar, version %s.', 'secure-privacy' ), $result['version'] )
			: __( 'The connection test failed; see the Sidecar box for details.', 'secure-privacy' )
	);
}

/**
 * admin-post: deliver everything waiting now ("Deliver now"), after putting the refused rows
 * back in the queue when asked to ("Retry refused consents"). Delivers as cron does: no row
 * holds up the others.
 */
function secure_privacy_handle_retry_outbox(): void {
	secure_privacy_admin_guard( 'secure_privacy_retry_outbox' );
	if ( isset( $_POST['requeue'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification.Missing -- checked by secure_privacy_admin_guard().
		secure_privacy_outbox_requeue_failed();
	}
	$counts = secure_privacy_run_outbox_cron();
	$left   = secure_privacy_outbox_status()['pending'];
	secure_privacy_admin_redirect(
		secure_privacy_admin_page_url( SECURE_PRIVACY_MENU_SLUG ),
		$left ? 'warning' : 'success',
		/* translators: 1: delivered consents, 2: consents still waiting. */
		sprintf( __( 'Delivered %1$d consent(s); %2$d still waiting.', 'secure-privacy' ), $counts[ SECURE_PRIVACY_DELIVERED ], $left )
	);
}

/**
 * Intro of the sidecar section.
 */
function secure_privacy_render_sidecar_section(): void {
	echo '<p>' . esc_html__( 'Consents are signed here and stored by the sidecar. Until it answers, they wait in the outbox and are retried every minute.', 'secure-privacy' ) . '</p>';
}

/**
 * Intro of the banner section.
 */
function secure_privacy_render_banner_section(): void {
	echo '<p>' . esc_html__( 'What visitors are offered and where the banner sits. Necessary cookies are always on.', 'secure-privacy' ) . '</p>';
}

/**
 * Render one input field; secrets are never printed back.
 *
 * @param array $args See secure_privacy_add_field().
 */
function secure_privacy_render_field( array $args ): void {
	$settings = secure_privacy_stored_settings();
	$key      = $args['key'];
	$id       = $args['label_for'];
	$name     = SECURE_PRIVACY_OPTION . '[' . $key . ']';
	$value    = $settings[ $key ];

	switch ( $args['type'] ) {
		case 'checkbox':
			// The hidden 0 is posted when the box is unticked, so unticking sticks.
			printf(
				'<input type="hidden" name="%1$s" value="0"><label for="%2$s"><input type="checkbox" id="%2$s" name="%1$s" value="1" %3$s> %4$s</label>',
				esc_attr( $name ),
				esc_attr( $id ),
				checked( (bool) $value, true, false ),
				esc_html( $args['label'] )
			);
			break;

		case 'select':
			printf( '<select id="%1$s" name="%2$s">', esc_attr( $id ), esc_attr( $name ) );
			foreach ( $args['options'] as $option => $label ) {
				printf( '<option value="%1$s" %2$s>%3$s</option>', esc_attr( $option ), selected( $value, $option, false ), esc_html( $label ) );
			}
			echo '</select>';
			break;

		case 'password':
			$saved = '' !== $value;
			if ( 'secret_keys' === $key && $saved ) {
				$count       = count( Secure_Privacy_Signer::split_keys( $value ) );
				$placeholder = sprintf(
					/* translators: %d: number of saved secrets. */
					_n( '%d secret saved; leave empty to keep it', '%d secrets saved; leave empty to keep them', $count, 'secure-privacy' ),
					$count
				);
			} else {
				$placeholder = $saved ? __( 'Saved; leave empty to keep it', 'secure-privacy' ) : __( 'Not set', 'secure-privacy' );
			}
			printf(
				'<input type="password" class="regular-text" id="%1$s" name="%2$s" value="" placeholder="%3$s" autocomplete="new-password" spellcheck="false">',
				esc_attr( $id ),
				esc_attr( $name ),
				esc_attr( $placeholder )
			);
			break;

		default:
			$extra = '';
			foreach ( array( 'placeholder', 'min', 'max', 'maxlength' ) as $attribute ) {
				if ( isset( $args[ $attribute ] ) ) {
					$extra .= sprintf( ' %s="%s"', $attribute, esc_attr( (string) $args[ $attribute ] ) );
				}
			}
			$class = array(
				'number' => 'small-text',
				'color'  => 'sp-color',
				'date'   => '',
			)[ $args['type'] ] ?? 'regular-text';
			printf(
				'<input type="%1$s" class="%2$s" id="%3$s" name="%4$s" value="%5$s"%6$s>',
				esc_attr( $args['type'] ),
				esc_attr( $class ),
				esc_attr( $id ),
				esc_attr( $name ),
				esc_attr( (string) $value ),
				$extra // Built from escaped parts above.
			);
	}

	if ( ! empty( $args['description'] ) ) {
		echo '<p class="description">' . esc_html( $args['description'] ) . '</p>';
	}
}

/**
 * The stored settings, without the policy schedule applied (the form edits what is stored).
 */
function secure_privacy_stored_settings(): array {
	$stored = get_option( SECURE_PRIVACY_OPTION, array() );
	return secure_privacy_normalize_settings( is_array( $stored ) ? $stored : array() );
}

/**
 * Render the category checkboxes (necessary is shown, always on).
 */
function secure_privacy_render_categories_field(): void {
	$enabled = secure_privacy_stored_settings()['categories_enabled'];
	$name    = SECURE_PRIVACY_OPTION . '[categories_enabled][]';
	$labels  = secure_privacy_category_labels();
	echo '<fieldset><legend class="screen-reader-text">' . esc_html__( 'Categories offered', 'secure-privacy' ) . '</legend>';
	printf( '<label class="sp-check"><input type="checkbox" checked disabled> %s <span class="sp-muted">%s</span></label>', esc_html( $labels[ SECURE_PRIVACY_REQUIRED_CATEGORY ] ), esc_html__( '(always on)', 'secure-privacy' ) );
	// The empty value keeps the key in the form when every box is unticked.
	printf( '<input type="hidden" name="%s" value="">', esc_attr( $name ) );
	foreach ( SECURE_PRIVACY_OPTIONAL_CATEGORIES as $category ) {
		printf(
			'<label class="sp-check"><input type="checkbox" name="%1$s" value="%2$s" id="secure_privacy_category_%2$s" %3$s> %4$s</label>',
			esc_attr( $name ),
			esc_attr( $category ),
			checked( in_array( $category, $enabled, true ), true, false ),
			esc_html( $labels[ $category ] )
		);
	}
	echo '<p class="description">' . esc_html__( 'Switch off a category the site does not use; the banner then does not ask for it. Labels and descriptions are edited on the Texts tab.', 'secure-privacy' ) . '</p></fieldset>';
}

/**
 * Render the privacy-page selector.
 */
function secure_privacy_render_privacy_page_field(): void {
	wp_dropdown_pages(
		array(
			'name'              => SECURE_PRIVACY_OPTION . '[privacy_page_id]', // Escaped by wp_dropdown_pages().
			'id'                => 'secure_privacy_privacy_page_id',
			'selected'          => (int) secure_privacy_stored_settings()['privacy_page_id'],
			'show_option_none'  => esc_html__( '— The WordPress privacy-policy page —', 'secure-privacy' ),
			'option_none_value' => '0',
			'post_status'       => array( 'publish' ),
		)
	);
	echo '<p class="description">' . esc_html__( 'Linked from the banner. Editing this page offers to announce a new policy version.', 'secure-privacy' ) . '</p>';
}

/**
 * The locales whose texts the Texts tab shows: the site's, English, the shipped Swedish,
 * those already customised, and one picked with ?sp_locale=.
 *
 * @return string[]
 */
function secure_privacy_admin_text_locales(): array {
	$locales = array( get_locale(), 'en_US', 'sv_SE' );
	$locales = array_merge( $locales, array_keys( secure_privacy_stored_settings()['texts'] ) );
	// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- only selects what to show.
	$extra = isset( $_GET['sp_locale'] ) ? sanitize_text_field( wp_unslash( $_GET['sp_locale'] ) ) : '';
	if ( '' !== $extra && in_array( $extra, get_available_languages(), true ) ) {
		$locales[] = $extra;
	}
	return array_values( array_unique( $locales ) );
}

/**
 * The Texts tab: one block per language with every overridable text; the placeholder of each
 * field is the built-in text in that language.
 */
function secure_privacy_render_texts_section(): void {
	echo '<p>' . esc_html__( 'Leave a field empty to use the built-in text, shown as its placeholder. Texts are plain text.', 'secure-privacy' ) . '</p>';
	$texts   = secure_privacy_stored_settings()['texts'];
	$locales = secure_privacy_admin_text_locales();
	$labels  = secure_privacy_admin_text_labels();
	$first   = true;
	foreach ( $locales as $locale ) {
		$defaults = secure_privacy_admin_default_texts( $locale );
		$name     = secure_privacy_admin_locale_name( $locale );
		$custom   = count( $texts[ $locale ] ?? array() );
		printf(
			'<details class="sp-locale" data-sp-locale="%1$s" %2$s><summary><strong>%3$s</strong> <code>%1$s</code> <span class="sp-muted">%4$s</span></summary>',
			esc_attr( $locale ),
			$first ? 'open' : '',
			esc_html( $name ),
			/* translators: %d: number of customised texts. */
			esc_html( sprintf( _n( '%d custom text', '%d custom texts', $custom, 'secure-privacy' ), $custom ) )
		);
		echo '<table class="form-table sp-texts" role="presentation">';
		foreach ( secure_privacy_text_keys() as $key ) {
			$id    = 'secure_privacy_text_' . $locale . '_' . $key;
			$field = SECURE_PRIVACY_OPTION . '[texts][' . $locale . '][' . $key . ']';
			$value = $texts[ $locale ][ $key ] ?? '';
			$long  = secure_privacy_is_long_text( $key );
			printf( '<tr><th scope="row"><label for="%1$s">%2$s</label></th><td>', esc_attr( $id ), esc_html( $labels[ $key ] ?? $key ) );
			if ( $long ) {
				printf( '<textarea class="large-text" rows="3" id="%1$s" name="%2$s" placeholder="%3$s">%4$s</textarea>', esc_attr( $id ), esc_attr( $field ), esc_attr( $defaults[ $key ] ?? '' ), esc_textarea( $value ) );
			} else {
				printf( '<input type="text" class="regular-text" id="%1$s" name="%2$s" placeholder="%3$s" value="%4$s">', esc_attr( $id ), esc_attr( $field ), esc_attr( $defaults[ $key ] ?? '' ), esc_attr( $value ) );
			}
			echo '</td></tr>';
		}
		echo '</table></details>';
		$first = false;
	}
	$available = array_diff( get_available_languages(), $locales );
	if ( $available ) {
		printf( '<p class="sp-add-locale"><label for="sp-add-locale">%s</label> <select id="sp-add-locale" data-sp-add-locale="%s"><option value="">—</option>', esc_html__( 'Edit texts for another language:', 'secure-privacy' ), esc_url( secure_privacy_admin_page_url( SECURE_PRIVACY_MENU_SLUG ) ) );
		foreach ( $available as $locale ) {
			printf( '<option value="%1$s">%2$s</option>', esc_attr( $locale ), esc_html( secure_privacy_admin_locale_name( $locale ) . ' (' . $locale . ')' ) );
		}
		echo '</select></p>';
	}
}

/**
 * A language's own name for a locale, e.g. "Svenska"; the locale itself when unknown.
 *
 * @param string $locale WordPress locale.
 */
function secure_privacy_admin_locale_name( string $locale ): string {
	if ( class_exists( 'Locale' ) ) {
		$name = (string) Locale::getDisplayName( $locale, $locale );
		return '' !== $name ? mb_convert_case( mb_substr( $name, 0, 1 ), MB_CASE_TITLE ) . mb_substr( $name, 1 ) : $locale;
	}
	$names = array(
		'en_US' => 'English (United States)',
		'sv_SE' => 'Svenska',
	);
	return $names[ $locale ] ?? $locale;
}

/**
 * Field labels of the Texts tab.
 *
 * @return array<string, string>
 */
function secure_privacy_admin_text_labels(): array {
	$labels = array(
		'title'        => __( 'Title', 'secure-privacy' ),
		'body'         => __( 'Message', 'secure-privacy' ),
		'acceptAll'    => __( '"Accept all" button', 'secure-privacy' ),
		'rejectAll'    => __( '"Reject all" button', 'secure-privacy' ),
		'preferences'  => __( '"Preferences" button', 'secure-privacy' ),
		'save'         => __( '"Save choices" button', 'secure-privacy' ),
		'withdraw'     => __( '"Withdraw consent" button', 'secure-privacy' ),
		'open'         => __( 'Floating button label', 'secure-privacy' ),
		'close'        => __( 'Close button label', 'secure-privacy' ),
		'privacyLink'  => __( 'Privacy-policy link', 'secure-privacy' ),
		'gpcNotice'    => __( 'Global Privacy Control notice', 'secure-privacy' ),
		'dntNotice'    => __( 'Do Not Track notice', 'secure-privacy' ),
		'policyNotice' => __( 'Policy change notice', 'secure-privacy' ),
		'blocked'      => __( 'Placeholder of blocked content ({categories} = the categories needed)', 'secure-privacy' ),
		'visitorId'    => __( 'Visitor id, in the preferences', 'secure-privacy' ),
		'copy'         => __( '"Copy" button of the visitor id', 'secure-privacy' ),
		'copied'       => __( 'Said once the visitor id is copied', 'secure-privacy' ),
	);
	foreach ( secure_privacy_category_labels() as $category => $label ) {
		/* translators: %s: category name. */
		$labels[ 'label_' . $category ] = sprintf( __( '%s: name', 'secure-privacy' ), $label );
		/* translators: %s: category name. */
		$labels[ 'description_' . $category ] = sprintf( __( '%s: description', 'secure-privacy' ), $label );
	}
	return $labels;
}

/**
 * The built-in texts in $locale (the banner's translated defaults), keyed like the overrides.
 *
 * @param string $locale WordPress locale.
 * @return array<string, string>
 */
function secure_privacy_admin_default_texts( string $locale ): array {
	$switched = $locale !== determine_locale() && switch_to_locale( $locale );
	$texts    = function_exists( 'secure_privacy_banner_texts' ) ? (array) secure_privacy_banner_texts() : array();
	if ( function_exists( 'secure_privacy_categories' ) ) {
		foreach ( (array) secure_privacy_categories() as $category ) {
			if ( isset( $category['key'] ) ) {
				$texts[ 'label_' . $category['key'] ]       = (string) ( $category['label'] ?? '' );
				$texts[ 'description_' . $category['key'] ] = (string) ( $category['description'] ?? '' );
			}
		}
	}
	if ( $switched ) {
		restore_previous_locale();
	}
	return array_map( 'strval', array_filter( $texts, 'is_scalar' ) );
}
