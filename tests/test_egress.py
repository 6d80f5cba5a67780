"""The screenshot browser's egress guard (sidecar/egress.py): which addresses count as public,
and what the running proxy lets through. Unit tests: no browser, no database."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from helpers import TcpCounter

from sidecar.egress import Egress, embedded_ipv4, is_public, public_address

# (address, public?, why)
ADDRESSES = [
    # IPv4
    ("8.8.8.8", True, "global unicast"),
    ("1.1.1.1", True, "global unicast"),
    ("192.31.196.1", True, "AS112, globally reachable"),
    ("0.0.0.0", False, "this host"),
    ("0.1.2.3", False, "this network"),
    ("10.1.2.3", False, "private"),
    ("100.64.0.1", False, "shared address space (CGN)"),
    ("127.0.0.1", False, "loopback"),
    ("127.255.255.254", False, "loopback"),
    ("169.254.169.254", False, "link-local: cloud metadata"),
    ("172.16.0.1", False, "private"),
    ("172.31.255.255", False, "private"),
    ("192.0.0.9", False, "IETF protocol assignments"),
    ("192.0.2.1", False, "documentation TEST-NET-1"),
    ("192.88.99.1", False, "6to4 relay anycast"),
    ("192.168.1.1", False, "private"),
    ("198.18.0.1", False, "benchmarking"),
    ("198.51.100.1", False, "documentation TEST-NET-2"),
    ("203.0.113.1", False, "documentation TEST-NET-3"),
    ("224.0.0.251", False, "multicast (mDNS)"),
    ("239.255.255.250", False, "multicast (SSDP)"),
    ("240.0.0.1", False, "reserved"),
    ("255.255.255.255", False, "broadcast"),
    # IPv6
    ("2606:4700:4700::1111", True, "global unicast"),
    ("2a00:1450:4001::1", True, "global unicast"),
    ("::", False, "unspecified"),
    ("::1", False, "loopback"),
    ("::7f00:1", False, "IPv4-compatible ::127.0.0.1"),
    ("::808:808", False, "IPv4-compatible ::8.8.8.8 (deprecated, not routable)"),
    ("::ffff:127.0.0.1", False, "IPv4-mapped loopback"),
    ("::ffff:169.254.169.254", False, "IPv4-mapped metadata"),
    ("::ffff:8.8.8.8", True, "IPv4-mapped public address: it is that IPv4 address"),
    ("::ffff:0:7f00:1", False, "IPv4-translated ::ffff:0:127.0.0.1"),
    ("::ffff:0:808:808", False, "IPv4-translated (SIIT), not routable"),
    ("64:ff9b::7f00:1", False, "NAT64 of 127.0.0.1"),
    ("64:ff9b::a9fe:a9fe", False, "NAT64 of 169.254.169.254"),
    ("64:ff9b::c0a8:101", False, "NAT64 of 192.168.1.1"),
    ("64:ff9b::808:808", True, "NAT64 of 8.8.8.8 (DNS64 networks)"),
    ("64:ff9b:1::808:808", False, "local-use NAT64 64:ff9b:1::/48"),
    ("64:ff9b:1:2::7f00:1", False, "local-use NAT64 64:ff9b:1::/48"),
    ("2002:7f00:1::", False, "6to4 of 127.0.0.1"),
    ("2002:a9fe:a9fe::1", False, "6to4 of 169.254.169.254"),
    ("2002:a00:1::1", False, "6to4 of 10.0.0.1"),
    ("2002:808:808::1", True, "6to4 of 8.8.8.8"),
    ("2001::1", False, "Teredo"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False, "Teredo"),
    ("2001:2::1", False, "benchmarking"),
    ("2001:10::1", False, "ORCHID"),
    ("2001:20::1", False, "ORCHIDv2"),
    ("2001:db8::1", False, "documentation"),
    ("3fff::1", False, "documentation (RFC 9637)"),
    ("5f00::1", False, "SRv6 SIDs"),
    ("100::1", False, "discard-only"),
    ("fc00::1", False, "unique local"),
    ("fd12:3456:789a::1", False, "unique local"),
    ("fe80::1", False, "link-local"),
    ("fec0::1", False, "site-local (deprecated)"),
    ("feff::1", False, "site-local (deprecated)"),
    ("ff02::1", False, "multicast"),
    ("ff0e::1", False, "multicast, global scope"),
    ("4000::1", False, "outside global unicast 2000::/3"),
]


@pytest.mark.parametrize("addr,public,why", ADDRESSES, ids=[a[0] for a in ADDRESSES])
def test_only_globally_routable_unicast_is_public(addr, public, why):
    assert is_public(ipaddress.ip_address(addr)) is public, why


@pytest.mark.parametrize("addr,public,why", ADDRESSES, ids=[a[0] for a in ADDRESSES])
def test_public_address_refuses_every_special_form(addr, public, why):
    """The same table through name resolution (an IP literal resolves to itself)."""
    got = public_address(addr, 80)
    if public:
        assert got and ipaddress.ip_address(got) == ipaddress.ip_address(addr), why
    else:
        assert got is None, why


@pytest.mark.parametrize("addr,embedded", [
    ("::ffff:10.0.0.1", "10.0.0.1"),
    ("64:ff9b::7f00:1", "127.0.0.1"),
    ("2002:a9fe:a9fe::1", "169.254.169.254"),
    ("2606:4700:4700::1111", None),
    ("::7f00:1", None),  # IPv4-compatible: refused outright, not judged by its IPv4
])
def test_embedded_ipv4_is_found(addr, embedded):
    got = embedded_ipv4(ipaddress.IPv6Address(addr))
    assert (str(got) if got else None) == embedded


def test_scoped_link_local_is_refused():
    assert not is_public(ipaddress.ip_address("fe80::1"))
    assert public_address("fe80::1%1", 80) in (None, "")  # refused, or not resolvable here


def test_unresolvable_name_is_not_an_address():
    assert public_address("no-such-host.invalid", 80) == ""


def counter() -> TcpCounter:
    """A TCP listener on 127.0.0.1 that counts connections and answers one HTTP 200."""
    return TcpCounter(reply=b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


@pytest.fixture(scope="module")
def site():
    """The site (on loopback, as in the tests and the demo)."""
    c = counter()
    yield c
    c.close()


@pytest.fixture(scope="module")
def internal():
    """Something else on loopback the browser must never reach."""
    c = counter()
    yield c
    c.close()


@pytest.fixture(scope="module")
def proxy(site):
    p = Egress([f"http://127.0.0.1:{site.port}"])
    yield p
    p.close()


def _through(proxy: Egress, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as s:
        s.sendall(request)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


@pytest.mark.parametrize("host", [
    "127.0.0.1", "[::ffff:127.0.0.1]", "[::7f00:1]", "[::ffff:0:7f00:1]", "[64:ff9b::7f00:1]",
    "[2002:7f00:1::]", "[fec0::1]", "[2001::1]", "[::1]",
])
def test_proxy_refuses_special_forms_and_reaches_nothing(proxy, internal, host):
    proxy.reset()
    hits = internal.hits
    got = _through(proxy, f"GET http://{host}:{internal.port}/x HTTP/1.1\r\n"
                          f"Host: {host}:{internal.port}\r\n\r\n".encode())
    assert got.startswith(b"HTTP/1.1 403"), got
    got = _through(proxy, f"CONNECT {host}:{internal.port} HTTP/1.1\r\n\r\n".encode())
    assert got.startswith(b"HTTP/1.1 403"), got
    assert len(proxy.blocked) == 2
    assert internal.hits == hits


def test_site_origin_on_loopback_still_goes_through(proxy, site):
    """SP_SITE_ORIGINS are trusted whatever they resolve to (the tests and the demo run the
    site on 127.0.0.1)."""
    proxy.reset()
    hits = site.hits
    got = _through(proxy, f"GET http://127.0.0.1:{site.port}/ HTTP/1.1\r\n"
                          f"Host: 127.0.0.1:{site.port}\r\n\r\n".encode())
    assert got.startswith(b"HTTP/1.1 200") and got.endswith(b"ok"), got
    assert proxy.blocked == []
    assert site.hits == hits + 1
