<?php
/**
 * The visitor's address: REMOTE_ADDR by default, the trusted proxy header when configured.
 *
 * @package SecurePrivacy
 */

final class ClientIpTest extends SP_WP_TestCase {

	public function test_remote_addr_by_default_and_headers_ignored(): void {
		$server = array( 'REMOTE_ADDR' => '198.51.100.7', 'HTTP_X_FORWARDED_FOR' => '1.2.3.4' );
		$this->assertSame( '198.51.100.7', secure_privacy_client_ip( $server ) );
		$this->assertSame( '', secure_privacy_client_ip( array( 'REMOTE_ADDR' => 'not-an-ip' ) ) );
	}

	/** @dataProvider chains */
	public function test_right_most_untrusted_address_of_the_header( string $header, string $remote, string $expected ): void {
		$this->set( array( 'trusted_proxy_header' => 'X-Forwarded-For', 'trusted_proxies' => '10.0.0.0/8, 192.168.0.0/16, 127.0.0.1' ) );
		$this->assertSame( $expected, secure_privacy_client_ip( array( 'REMOTE_ADDR' => $remote, 'HTTP_X_FORWARDED_FOR' => $header ) ) );
	}

	public static function chains(): array {
		return array(
			'client behind two internal proxies' => array( '203.0.113.9, 10.0.0.2', '10.0.0.1', '203.0.113.9' ),
			'a forged entry left of the client'  => array( '1.1.1.1, 203.0.113.9, 10.0.0.2', '10.0.0.1', '203.0.113.9' ),
			'ports and IPv6 brackets'            => array( '[2001:db8::5]:443, 192.168.1.1:8080', '127.0.0.1', '2001:db8::5' ),
			'a hop outside the trusted proxies'  => array( '203.0.113.9, 172.16.0.5', '10.0.0.1', '172.16.0.5' ),
			'garbage stops the walk'             => array( '203.0.113.9, bogus, 10.0.0.2', '10.0.0.1', '10.0.0.2' ),
			'an all-internal chain'              => array( '192.168.0.10, 10.0.0.2', '10.0.0.1', '192.168.0.10' ),
			'no header: the peer'                => array( '', '198.51.100.3', '198.51.100.3' ),
		);
	}

	public function test_a_single_value_header(): void {
		$this->set( array( 'trusted_proxy_header' => 'CF-Connecting-IP', 'trusted_proxies' => '172.16.0.0/12' ) );
		$this->assertSame( '2001:db8::1', secure_privacy_client_ip( array( 'REMOTE_ADDR' => '172.16.0.1', 'HTTP_CF_CONNECTING_IP' => '2001:DB8:0::1' ) ) );
	}

	public function test_cidr_matching(): void {
		$this->assertTrue( secure_privacy_ip_in_range( '10.255.1.2', '10.0.0.0/8' ) );
		$this->assertFalse( secure_privacy_ip_in_range( '11.0.0.1', '10.0.0.0/8' ) );
		$this->assertTrue( secure_privacy_ip_in_range( '172.31.255.255', '172.16.0.0/12' ) );
		$this->assertFalse( secure_privacy_ip_in_range( '172.32.0.0', '172.16.0.0/12' ) );
		$this->assertTrue( secure_privacy_ip_in_range( 'fd00::1', 'fc00::/7' ) );
		$this->assertFalse( secure_privacy_ip_in_range( '10.0.0.1', 'fc00::/7' ) );
	}

	/* ---- F15: the header counts only on connections from the trusted proxies ---------- */

	public static function direct_connections(): array {
		return array(
			'a public peer forging the header'       => array( '198.51.100.66', '203.0.113.1', '198.51.100.66' ),
			'a private peer that is not a proxy'     => array( '192.168.5.5', '203.0.113.1', '192.168.5.5' ),
			'an IPv6 peer forging the header'        => array( '2001:db8:66::1', '203.0.113.1', '2001:db8:66::1' ),
			'the trusted proxy: the header counts'   => array( '10.1.2.3', '203.0.113.1', '203.0.113.1' ),
			'a trusted IPv6 proxy'                   => array( '2001:db8:cafe::10', '203.0.113.1', '203.0.113.1' ),
		);
	}

	/** @dataProvider direct_connections */
	public function test_the_header_is_believed_only_from_a_trusted_proxy( string $remote, string $header, string $expected ): void {
		$this->set( array( 'trusted_proxy_header' => 'X-Forwarded-For', 'trusted_proxies' => '10.0.0.0/8, 2001:db8:cafe::/48' ) );
		$this->assertSame( $expected, secure_privacy_client_ip( array( 'REMOTE_ADDR' => $remote, 'HTTP_X_FORWARDED_FOR' => $header ) ) );
	}

	public function test_by_default_only_a_proxy_on_the_same_host_is_trusted(): void {
		$this->set( array( 'trusted_proxy_header' => 'X-Forwarded-For' ) );
		$this->assertSame( '127.0.0.0/8, ::1', secure_privacy_settings()['trusted_proxies'] );
		$this->assertSame( '203.0.113.1', secure_privacy_client_ip( array( 'REMOTE_ADDR' => '127.0.0.1', 'HTTP_X_FORWARDED_FOR' => '203.0.113.1' ) ) );
		$this->assertSame( '10.0.0.1', secure_privacy_client_ip( array( 'REMOTE_ADDR' => '10.0.0.1', 'HTTP_X_FORWARDED_FOR' => '203.0.113.1' ) ) );
		$this->set( array( 'trusted_proxies' => '' ) ); // None: the header is never believed.
		$this->assertSame( '127.0.0.1', secure_privacy_client_ip( array( 'REMOTE_ADDR' => '127.0.0.1', 'HTTP_X_FORWARDED_FOR' => '203.0.113.1' ) ) );
	}

	public function test_a_site_that_named_a_header_before_the_setting_existed_keeps_its_private_network(): void {
		$stored = get_option( SECURE_PRIVACY_OPTION );
		unset( $stored['trusted_proxies'] );
		$stored['trusted_proxy_header'] = 'X-Forwarded-For';
		$this->assertSame( SECURE_PRIVACY_PRIVATE_PROXIES, secure_privacy_normalize_settings( $stored )['trusted_proxies'] );
		$stored['trusted_proxy_header'] = '';
		$this->assertSame( SECURE_PRIVACY_DEFAULT_PROXIES, secure_privacy_normalize_settings( $stored )['trusted_proxies'] );
	}

	public function test_the_trusted_proxies_setting_keeps_valid_ranges_only(): void {
		$this->set( array( 'trusted_proxies' => "10.0.0.0/8,  2001:DB8::/32\n192.0.2.1; bogus, 10.0.0.0/33, 1.2.3.4/x, ::1" ) );
		$this->assertSame( '10.0.0.0/8, 2001:db8::/32, 192.0.2.1, ::1', secure_privacy_settings()['trusted_proxies'] );
	}

	public function test_a_forged_header_from_a_direct_peer_cannot_dodge_the_rate_limit(): void {
		$this->set( array( 'rate_limit_per_minute' => 1, 'trusted_proxy_header' => 'X-Forwarded-For', 'trusted_proxies' => '10.0.0.0/8' ) );
		$_SERVER['REMOTE_ADDR'] = '198.51.100.77';
		$statuses               = array();
		foreach ( array( '203.0.113.1', '203.0.113.2' ) as $forged ) {
			$_SERVER['HTTP_X_FORWARDED_FOR'] = $forged;
			$statuses[]                      = $this->post_consent( $this->body() )->get_status();
		}
		unset( $_SERVER['HTTP_X_FORWARDED_FOR'] );
		$this->assertSame( array( 202, 429 ), $statuses );
	}
}
