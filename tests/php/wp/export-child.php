<?php
/**
 * A wp-admin export request in a process of its own (ExportTest): the admin downloads the
 * CSV export; with "interrupt", the process dies once the sidecar's answer is on disk, as a
 * request does when the browser goes away or PHP's time limit strikes. It reports the
 * export's temporary file and modes on STDERR as JSON.
 *
 * @package SecurePrivacy
 */

require __DIR__ . '/config.php';
require ABSPATH . 'wp-settings.php';
require_once dirname( SECURE_PRIVACY_FILE ) . '/includes/admin.php';
require_once dirname( SECURE_PRIVACY_FILE ) . '/includes/admin-log.php';

$secure_privacy_mode = $argv[1] ?? 'complete';
wp_set_current_user( 1 );
$_GET['format']       = 'csv';
$_REQUEST['_wpnonce'] = wp_create_nonce( 'secure_privacy_export' );
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
secure_privacy_handle_export();
