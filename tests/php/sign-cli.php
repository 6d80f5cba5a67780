<?php
/**
 * Sign a JSON payload NOW with the plugin's PHP signer, for the Python cross-checks.
 *
 * Usage: php tests/php/sign-cli.php '<key1,key2,...>' < payload.json
 * Keys oldest first (the last one signs), as in SP_SECRET_KEYS. Prints the token and a newline.
 * Exit status 2 on bad usage or input. JSON objects decode to PHP arrays, so an empty
 * object nested in the payload would be re-encoded as `[]`.
 *
 * @package SecurePrivacy
 */

if ( PHP_SAPI !== 'cli' ) {
	exit( 1 );
}

define( 'ABSPATH', __DIR__ . '/' );
require_once dirname( __DIR__, 2 ) . '/wp-plugin/includes/class-signer.php';

if ( 2 !== $argc ) {
	fwrite( STDERR, "usage: php {$argv[0]} '<keys comma-separated>' < payload.json\n" );
	exit( 2 );
}

try {
	$json = (string) stream_get_contents( STDIN );
	if ( ! json_decode( $json, false, 512, JSON_THROW_ON_ERROR ) instanceof stdClass ) {
		throw new InvalidArgumentException( 'the payload must be a JSON object' );
	}
	$payload = json_decode( $json, true, 512, JSON_THROW_ON_ERROR );
	echo Secure_Privacy_Signer::from_list( $argv[1] )->sign( $payload ), "\n";
} catch ( JsonException | InvalidArgumentException $e ) {
	fwrite( STDERR, 'sign-cli: ' . $e->getMessage() . "\n" );
	exit( 2 );
}
