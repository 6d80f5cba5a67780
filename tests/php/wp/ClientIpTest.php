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
		$this->set( array( 'trusted_proxy_header' => 'X-Forwarded-For' ) );
		$this->assertSame( $expected, secure_privacy_client_ip( array( 'REMOTE_ADDR' => $remote, 'HTTP_X_FORWARDED_FOR' => $header ) ) );
	}

	public static function chains(): array {
		return array(
			'client behind two internal proxies' => array( '203.0.113.9, 10.0.0.2', '10.0.0.1', '203.0.113.9' ),
			'a forged entry left of the client'  => array( '1.1.1.1, 203.0.113.9, 10.0.0.2', '10.0.0.1', '203.0.113.9' ),
			'ports and IPv6 brackets'            => array( '[2001:db8::5]:443, 192.168.1.1:8080', '127.0.0.1', '2001:db8::5' ),
			'garbage stops the walk'             => array( '203.0.113.9, bogus, 10.0.0.2', '10.0.0.1', '10.0.0.2' ),
			'an all-internal chain'              => array( '192.168.0.10, 10.0.0.2', '10.0.0.1', '192.168.0.10' ),
			'no header: the peer'                => array( '', '198.51.100.3', '198.51.100.3' ),
		);
	}

	public function test_a_single_value_header(): void {
		$this->set( array( 'trusted_proxy_header' => 'CF-Connecting-IP' ) );
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
}
