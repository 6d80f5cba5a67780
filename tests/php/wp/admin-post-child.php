<?php
/**
 * One wp-admin admin-post request in a process of its own, as admin-post.php runs it, signed
 * in as the suite's admin: `php admin-post-child.php <action> '<request JSON>' [interrupt]`.
 * For the export (ExportTest), it reports the export's temporary file and modes on STDERR as
 * JSON once the sidecar's answer is on disk; with "interrupt" the process then dies, as a
 * request does when the browser goes away or PHP's time limit strikes. A redirect's notice
 * stays in the admin's notice transient.
 *
 * @package SecurePrivacy
 */

require __DIR__ . '/config.php';
require ABSPATH . 'wp-settings.php';
require_once ABSPATH . 'wp-admin/includes/admin.php';
require_once dirname( SECURE_PRIVACY_FILE ) . '/includes/admin.php';
require_once dirname( SECURE_PRIVACY_FILE ) . '/includes/admin-log.php';

$secure_privacy_action = (string) $argv[1];
$secure_privacy_mode   = $argv[3] ?? 'complete';
wp_set_current_user( 1 );
$_REQUEST             = (array) json_decode( (string) $argv[2], true );
$_GET                 = $_REQUEST;
$_POST                = $_REQUEST;
$_REQUEST['_wpnonce'] = wp_create_nonce( $secure_privacy_action );
add_action(
	'http_api_debug',
	static function ( $response, $context, $transport, $args ) use ( $secure_privacy_mode ): void {
		if ( empty( $args['filename'] ) || ! is_file( $args['filename'] ) ) {
			return;
		}
		$file = $args['filename'];
		fwrite(
			STDERR,
			wp_json_encode(
				array(
					'file'      => $file,
					'file_mode' => fileperms( $file ) & 0777,
					'dir_mode'  => fileperms( dirname( $file ) ) & 0777,
					'dir'       => dirname( $file ),
					'size'      => filesize( $file ),
				)
			) . "\n"
		);
		if ( 'interrupt' === $secure_privacy_mode ) {
			exit( 3 );
		}
	},
	10,
	4
);
call_user_func( 'secure_privacy_handle_' . substr( $secure_privacy_action, strlen( 'secure_privacy_' ) ) );
