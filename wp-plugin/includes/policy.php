<?php
/**
 * Policy versioning: when the privacy-policy page is edited, the admin is offered to announce
 * a new policy version in one click (effective after the notice period).
 *
 * The edit is remembered in a small non-autoloaded option, read on admin screens only.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/** Non-autoloaded option: the time the policy page was last edited and not yet answered. */
const SECURE_PRIVACY_POLICY_EDITED_OPTION = 'secure_privacy_policy_edited';

/**
 * The id of the privacy-policy page the banner links to (0 when none).
 */
function secure_privacy_policy_page_id(): int {
	$id = (int) secure_privacy_settings()['privacy_page_id'];
	return $id ? $id : (int) get_option( 'wp_page_for_privacy_policy' );
}

/**
 * Remember an edit of the published privacy-policy page (post_updated).
 *
 * @param int     $post_id     Post id.
 * @param WP_Post $post_after  The post after the update.
 * @param WP_Post $post_before The post before it.
 */
function secure_privacy_policy_page_updated( $post_id, $post_after, $post_before ): void {
	if ( (int) $post_id !== secure_privacy_policy_page_id() || ! $post_after instanceof WP_Post || 'publish' !== $post_after->post_status ) {
		return;
	}
	if ( $post_before instanceof WP_Post && $post_before->post_content === $post_after->post_content && $post_before->post_title === $post_after->post_title ) {
		return;
	}
	update_option( SECURE_PRIVACY_POLICY_EDITED_OPTION, time(), false );
}

/**
 * The version after $version: its last number plus one ("1" → "2", "2024.3" → "2024.4"),
 * else "-2" appended.
 *
 * @param string $version Current version.
 */
function secure_privacy_next_version( string $version ): string {
	if ( 1 === preg_match( '/^(.*?)(\d+)(\D*)$/D', $version, $m ) ) {
		return mb_substr( $m[1] . ( (int) $m[2] + 1 ) . $m[3], 0, SECURE_PRIVACY_MAX_VERSION_LENGTH );
	}
	return mb_substr( $version . '-2', 0, SECURE_PRIVACY_MAX_VERSION_LENGTH );
}

/**
 * The announcement the one-click bump would make now.
 *
 * @return array{version: string, effective: string}
 */
function secure_privacy_proposed_bump(): array {
	$settings = secure_privacy_settings();
	$base     = '' !== $settings['next_policy_version'] ? $settings['next_policy_version'] : $settings['policy_version'];
	return array(
		'version'   => secure_privacy_next_version( $base ),
		'effective' => gmdate( 'Y-m-d', time() + (int) $settings['policy_notice_days'] * DAY_IN_SECONDS ),
	);
}

/**
 * Offer the bump after the policy page was edited (admin_notices, for admins).
 */
function secure_privacy_policy_notice(): void {
	if ( ! current_user_can( SECURE_PRIVACY_CAPABILITY ) || ! get_option( SECURE_PRIVACY_POLICY_EDITED_OPTION ) ) {
		return;
	}
	$bump = secure_privacy_proposed_bump();
	$days = (int) secure_privacy_settings()['policy_notice_days'];
	?>
	<div class="notice notice-warning sp-policy-notice" id="sp-policy-notice">
		<p><strong><?php esc_html_e( 'The privacy policy was edited.', 'secure-privacy' ); ?></strong>
		<?php
		echo esc_html(
			sprintf(
				/* translators: 1: new version, 2: effective date, 3: notice days. */
				__( 'If the change matters to visitors, announce policy version %1$s, effective %2$s: the banner tells visitors %3$d days ahead and asks everyone again from that day.', 'secure-privacy' ),
				$bump['version'],
				secure_privacy_admin_local_time( $bump['effective'] . ' 12:00:00', false ),
				$days
			)
		);
		?>
		</p>
		<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" class="sp-inline-form">
			<input type="hidden" name="action" value="secure_privacy_policy_bump">
			<?php wp_nonce_field( 'secure_privacy_policy_bump' ); ?>
			<button type="submit" name="decision" value="bump" class="button button-primary" id="sp-policy-bump">
				<?php
				/* translators: %s: new version. */
				echo esc_html( sprintf( __( 'Announce version %s', 'secure-privacy' ), $bump['version'] ) );
				?>
			</button>
			<button type="submit" name="decision" value="dismiss" class="button"><?php esc_html_e( 'Not needed (a minor edit)', 'secure-privacy' ); ?></button>
		</form>
	</div>
	<?php
}

/**
 * admin-post: announce the next version (or dismiss the offer).
 */
function secure_privacy_handle_policy_bump(): void {
	secure_privacy_admin_guard( 'secure_privacy_policy_bump' );
	$decision = isset( $_POST['decision'] ) ? sanitize_key( wp_unslash( $_POST['decision'] ) ) : '';
	delete_option( SECURE_PRIVACY_POLICY_EDITED_OPTION );
	$back = wp_get_referer() ? wp_get_referer() : admin_url();
	if ( 'bump' !== $decision ) {
		secure_privacy_admin_redirect( $back, 'info', __( 'The policy version stays as it is.', 'secure-privacy' ) );
	}
	$bump     = secure_privacy_proposed_bump();
	$settings = get_option( SECURE_PRIVACY_OPTION, array() );
	$settings = is_array( $settings ) ? $settings : array();
	// Effective today (no notice period): the new version is in force at once.
	if ( $bump['effective'] <= gmdate( 'Y-m-d' ) ) {
		$settings['policy_version']        = $bump['version'];
		$settings['next_policy_version']   = '';
		$settings['next_policy_effective'] = '';
	} else {
		$settings['next_policy_version']   = $bump['version'];
		$settings['next_policy_effective'] = $bump['effective'];
	}
	update_option( SECURE_PRIVACY_OPTION, $settings );
	secure_privacy_admin_redirect(
		$back,
		'success',
		/* translators: 1: version, 2: date. */
		sprintf( __( 'Policy version %1$s is announced, effective %2$s.', 'secure-privacy' ), $bump['version'], secure_privacy_admin_local_time( $bump['effective'] . ' 12:00:00', false ) )
	);
}

/**
 * Daily: store the policy version that has taken effect, so the settings page shows it.
 */
function secure_privacy_policy_promote(): void {
	$stored = get_option( SECURE_PRIVACY_OPTION, array() );
	if ( ! is_array( $stored ) ) {
		return;
	}
	$normal = secure_privacy_normalize_settings( $stored );
	$now    = secure_privacy_apply_policy_schedule( $normal, time() );
	if ( $now['policy_version'] !== $normal['policy_version'] ) {
		update_option( SECURE_PRIVACY_OPTION, array_merge( $stored, array_intersect_key( $now, array_flip( array( 'policy_version', 'next_policy_version', 'next_policy_effective' ) ) ) ) );
	}
}
