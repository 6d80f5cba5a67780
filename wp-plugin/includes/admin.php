<?php
/**
 * Admin screens: the "Secure Privacy" menu and its Settings page (Settings API).
 *
 * Saving goes through options.php, which checks the capability and the nonce and unslashes;
 * secure_privacy_sanitize_settings() sanitizes; every value printed here is escaped.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

const SECURE_PRIVACY_MENU_SLUG = 'secure-privacy';

const SECURE_PRIVACY_CAPABILITY = 'manage_options';

/**
 * Add the top-level menu with its Settings page (admin_menu).
 */
function secure_privacy_admin_menu(): void {
	add_menu_page(
		__( 'Secure Privacy', 'secure-privacy' ),
		__( 'Secure Privacy', 'secure-privacy' ),
		SECURE_PRIVACY_CAPABILITY,
		SECURE_PRIVACY_MENU_SLUG,
		'secure_privacy_render_settings_page',
		'dashicons-shield',
		81
	);
	// Same slug as the parent: the first submenu entry reads "Settings", not "Secure Privacy".
	add_submenu_page(
		SECURE_PRIVACY_MENU_SLUG,
		__( 'Secure Privacy settings', 'secure-privacy' ),
		__( 'Settings', 'secure-privacy' ),
		SECURE_PRIVACY_CAPABILITY,
		SECURE_PRIVACY_MENU_SLUG,
		'secure_privacy_render_settings_page'
	);
}

/**
 * Declare the settings sections and fields (admin_init).
 */
function secure_privacy_admin_settings_fields(): void {
	$page = SECURE_PRIVACY_MENU_SLUG;

	add_settings_section( 'secure_privacy_sidecar', __( 'Sidecar connection', 'secure-privacy' ), 'secure_privacy_render_sidecar_section', $page );
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
			'description' => __( 'One of the sidecar\'s SP_ADMIN_TOKENS; used by the consent log, scan and statistics pages.', 'secure-privacy' ),
		)
	);

	add_settings_section( 'secure_privacy_consent', __( 'Consent', 'secure-privacy' ), '__return_false', $page );
	secure_privacy_add_field(
		'policy_version',
		__( 'Privacy-policy version', 'secure-privacy' ),
		'secure_privacy_consent',
		array(
			'type'        => 'text',
			'maxlength'   => SECURE_PRIVACY_MAX_VERSION_LENGTH,
			'description' => __( 'Change it when the policy changes: every visitor is asked again.', 'secure-privacy' ),
		)
	);
	add_settings_field(
		'secure_privacy_privacy_page_id',
		__( 'Privacy-policy page', 'secure-privacy' ),
		'secure_privacy_render_privacy_page_field',
		$page,
		'secure_privacy_consent',
		array( 'label_for' => 'secure_privacy_privacy_page_id' )
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
}

/**
 * Declare one input field bound to a key of the option.
 *
 * @param string $key     Settings key.
 * @param string $title   Field label.
 * @param string $section Section id.
 * @param array  $args    type (text|url|password|number|checkbox), description, label, placeholder, min, max, maxlength.
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
 * Render the Settings page.
 */
function secure_privacy_render_settings_page(): void {
	if ( ! current_user_can( SECURE_PRIVACY_CAPABILITY ) ) {
		return;
	}
	?>
	<div class="wrap">
		<h1><?php echo esc_html( get_admin_page_title() ); ?></h1>
		<?php settings_errors(); ?>
		<form action="<?php echo esc_url( admin_url( 'options.php' ) ); ?>" method="post">
			<?php
			settings_fields( SECURE_PRIVACY_SETTINGS_GROUP );
			// Tells the sanitizer that empty secret fields mean "unchanged".
			printf( '<input type="hidden" name="%s" value="1">', esc_attr( SECURE_PRIVACY_OPTION . '[' . SECURE_PRIVACY_FORM_MARKER . ']' ) );
			do_settings_sections( SECURE_PRIVACY_MENU_SLUG );
			submit_button();
			?>
		</form>
	</div>
	<?php
}

/**
 * Intro of the sidecar section.
 */
function secure_privacy_render_sidecar_section(): void {
	echo '<p>' . esc_html__( 'Consents are signed here and stored by the sidecar. Until it answers, they wait in the outbox and are retried every minute.', 'secure-privacy' ) . '</p>';
}

/**
 * Render one input field; secrets are never printed back.
 *
 * @param array $args See secure_privacy_add_field().
 */
function secure_privacy_render_field( array $args ): void {
	$settings = secure_privacy_settings();
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
			printf(
				'<input type="%1$s" class="%2$s" id="%3$s" name="%4$s" value="%5$s"%6$s>',
				esc_attr( $args['type'] ),
				'number' === $args['type'] ? 'small-text' : 'regular-text',
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
 * Render the privacy-page selector.
 */
function secure_privacy_render_privacy_page_field(): void {
	wp_dropdown_pages(
		array(
			'name'              => SECURE_PRIVACY_OPTION . '[privacy_page_id]', // Escaped by wp_dropdown_pages().
			'id'                => 'secure_privacy_privacy_page_id',
			'selected'          => (int) secure_privacy_settings()['privacy_page_id'],
			'show_option_none'  => esc_html__( '— The WordPress privacy-policy page —', 'secure-privacy' ),
			'option_none_value' => '0',
			'post_status'       => array( 'publish' ),
		)
	);
	echo '<p class="description">' . esc_html__( 'Linked from the banner.', 'secure-privacy' ) . '</p>';
}
