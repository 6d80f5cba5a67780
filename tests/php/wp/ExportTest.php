<?php
/**
 * The wp-admin export (issue 10, F8): the CSV of every record passes through a private file
 * that never outlives the request, however the request ends.
 *
 * @package SecurePrivacy
 */

final class ExportTest extends SP_WP_TestCase {

	/**
	 * Export as wp-admin does, in admin-post-child.php; return [exit code, stdout, the export file it reported].
	 *
	 * @param string $mode complete | interrupt.
	 */
	private function export( string $mode ): array {
		$proc = proc_open(
			array( PHP_BINARY, __DIR__ . '/admin-post-child.php', 'secure_privacy_export', '{"format":"csv"}', $mode ),
			array(
				1 => array( 'pipe', 'w' ),
				2 => array( 'pipe', 'w' ),
			),
			$pipes
		);
		$out  = stream_get_contents( $pipes[1] );
		$err  = stream_get_contents( $pipes[2] );
		$code = proc_close( $proc );
		preg_match( '/^\{"file".*$/m', $err, $m );
		$this->assertNotEmpty( $m, "the export never wrote its file:\n" . $err . $out );
		return array( $code, $out, json_decode( $m[0], true ) );
	}

	public function test_an_interrupted_export_leaves_no_file_and_none_is_ever_readable_by_others(): void {
		$this->post_consent( $this->body() ); // At least one record with an IP address.
		[ $code, , $seen ] = $this->export( 'interrupt' );
		$this->assertSame( 3, $code, 'the request died mid-export' );
		$this->assertGreaterThan( 0, $seen['size'] );
		$this->assertSame( 0600, $seen['file_mode'], sprintf( 'file mode %o', $seen['file_mode'] ) );
		$this->assertSame( 0700, $seen['dir_mode'], sprintf( 'directory mode %o', $seen['dir_mode'] ) );
		$this->assertFileDoesNotExist( $seen['file'] );
		$this->assertDirectoryDoesNotExist( $seen['dir'] );
	}

	public function test_a_completed_export_is_downloaded_and_its_file_removed(): void {
		$body = $this->body();
		$this->post_consent( $body );
		[ $code, $out, $seen ] = $this->export( 'complete' );
		$this->assertSame( 0, $code );
		$this->assertStringStartsWith( 'id,event_id,subject_id,', $out );
		$this->assertStringContainsString( $body['subject_id'], $out );
		$this->assertFileDoesNotExist( $seen['file'] );
		$this->assertDirectoryDoesNotExist( $seen['dir'] );
	}

	public function test_what_a_killed_export_left_is_swept_an_hour_on(): void {
		require_once dirname( SECURE_PRIVACY_FILE ) . '/includes/admin.php';
		require_once dirname( SECURE_PRIVACY_FILE ) . '/includes/admin-log.php';
		$file = secure_privacy_export_file();
		$this->assertIsString( $file );
		$fresh = secure_privacy_export_file();
		touch( dirname( $file ), time() - 2 * HOUR_IN_SECONDS );
		secure_privacy_export_sweep();
		$this->assertDirectoryDoesNotExist( dirname( $file ) );
		$this->assertFileExists( $fresh, 'a running export keeps its file' );
		secure_privacy_export_remove( $fresh );
		$this->assertDirectoryDoesNotExist( dirname( $fresh ) );
	}
}
