<?php
/**
 * The rule-set version (issue 14, "Proof of enforcement"; docs/catalogue.md "Rule-set version"):
 * the hex sha256 of the canonical JSON of
 * `{"catalogue": <sha256 of the shipped services.json>, "site_rules": <the site rules>}`.
 * The plugin adds it to every consent it signs (`rules_version`, includes/rest.php); the
 * sidecar's scan reports carry the same value (`ruleset_version`, sidecar/ruleset.py), so a
 * record names the rules in force when it was given and the scan that proved them.
 * Shared vectors: tests/vectors/ruleset.json.
 *
 * Loaded on every request (the consent route needs it), so it reads nothing until asked,
 * and then the site rules option (not autoloaded: one query per consent).
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/**
 * The sha256 (hex) of the service catalogue this plugin ships, as written by
 * scripts/export_ruleset_version.py into data/ruleset-version.php ('' when the file is missing
 * or broken: then consents carry no version rather than a wrong one).
 */
function secure_privacy_catalogue_sha256(): string {
	static $sha = null;
	if ( null === $sha ) {
		$file = dirname( __DIR__ ) . '/data/ruleset-version.php';
		$data = is_readable( $file ) ? include $file : null;
		$sha  = is_array( $data ) && is_string( $data['catalogue_sha256'] ?? null ) && 1 === preg_match( '/^[0-9a-f]{64}$/D', $data['catalogue_sha256'] )
			? $data['catalogue_sha256'] : '';
	}
	return $sha;
}

/**
 * Site rules in the form the version covers, the sidecar's normalisation
 * (sidecar/classify.py validate_rules): patterns and services trimmed, request hosts lower
 * case with `*.x` written `.x`, an empty service left out, keys sorted; the order kept (of two globs that match one name
 * equally, the first decides). Entries that are not rules are left out, as the plugin's
 * reader of the option does (includes/scan-rules.php).
 *
 * @param array $rules The site rules as stored.
 * @return array<int, array<string, string>>
 */
function secure_privacy_ruleset_canonical_rules( array $rules ): array {
	$out = array();
	foreach ( $rules as $rule ) {
		if ( ! is_array( $rule ) || ! is_string( $rule['kind'] ?? null ) || ! is_string( $rule['pattern'] ?? null ) || ! is_string( $rule['category'] ?? null ) ) {
			continue;
		}
		$pattern = secure_privacy_ruleset_strip( $rule['pattern'] );
		if ( 'request' === $rule['kind'] ) {
			$pattern = strtolower( $pattern );
			if ( str_starts_with( $pattern, '*.' ) ) {
				$pattern = substr( $pattern, 1 );
			}
		}
		$item    = array(
			'category' => $rule['category'],
			'kind'     => $rule['kind'],
			'pattern'  => $pattern,
		);
		$service = isset( $rule['service'] ) && is_string( $rule['service'] ) ? secure_privacy_ruleset_strip( $rule['service'] ) : '';
		if ( '' !== $service ) {
			$item['service'] = $service;
		}
		$out[] = $item;
	}
	return $out;
}

/**
 * Text without the whitespace Python's str.strip() removes at either end (the sidecar trims
 * rules so): ASCII whitespace, U+001C-U+001F, U+0085 and every Unicode space or separator.
 * Text that is not UTF-8 is returned as it is (and then gives no version).
 *
 * @param string $text Text.
 */
function secure_privacy_ruleset_strip( string $text ): string {
	$stripped = preg_replace( '/^[\x{9}-\x{d}\x{1c}-\x{20}\x{85}\p{Z}]+|[\x{9}-\x{d}\x{1c}-\x{20}\x{85}\p{Z}]+$/Du', '', $text );
	return is_string( $stripped ) ? $stripped : $text;
}

/**
 * The rule-set version of a catalogue digest and site rules; '' if they cannot be encoded
 * (a digest that is not 64 lower-case hex digits, text that is not UTF-8).
 *
 * @param string $catalogue_sha256 The catalogue's sha256 (hex).
 * @param array  $rules            The site rules as stored.
 */
function secure_privacy_ruleset_version_of( string $catalogue_sha256, array $rules ): string {
	$canonical = secure_privacy_ruleset_canonical_json( $catalogue_sha256, $rules );
	return '' === $canonical ? '' : hash( 'sha256', $canonical );
}

/**
 * The bytes the version is taken over: keys sorted (written so above), no whitespace,
 * non-ASCII as \uXXXX, "/" not escaped — what Python's
 * json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=True) gives.
 *
 * @param string $catalogue_sha256 The catalogue's sha256 (hex).
 * @param array  $rules            The site rules as stored.
 */
function secure_privacy_ruleset_canonical_json( string $catalogue_sha256, array $rules ): string {
	if ( 1 !== preg_match( '/^[0-9a-f]{64}$/D', $catalogue_sha256 ) ) {
		return '';
	}
	$json = json_encode(
		array(
			'catalogue'  => $catalogue_sha256,
			'site_rules' => secure_privacy_ruleset_canonical_rules( $rules ),
		),
		JSON_UNESCAPED_SLASHES
	);
	return is_string( $json ) ? $json : '';
}

/**
 * The rule-set version in force now: the shipped catalogue and the site rules exactly as the
 * plugin reads them and sends them with every scan (secure_privacy_site_rules(), sanitized on
 * read: includes/scan-rules.php, loaded here only when a consent is being recorded); ''
 * when unknown.
 */
function secure_privacy_ruleset_version(): string {
	require_once __DIR__ . '/scan-rules.php';
	return secure_privacy_ruleset_version_of( secure_privacy_catalogue_sha256(), secure_privacy_site_rules() );
}
