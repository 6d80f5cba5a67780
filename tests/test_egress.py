"""The screenshot browser's egress guard (sidecar/egress.py): which addresses count as public,
and what the running proxy lets through. Unit tests: no browser, no database."""

from __future__ import annotations

import base64
import ipaddress
import logging
import socket
import threading

import pytest
from helpers import TcpCounter

from sidecar import config
from sidecar.egress import (
    PRIME_URL,
    Egress,
    embedded_ipv4,
    is_public,
    parse_hostport,
    public_address,
)

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


def _auth(proxy: Egress, user: str | None = None, password: str | None = None) -> bytes:
    u, p = proxy.credentials
    token = base64.b64encode(f"{user or u}:{password or p}".encode())
    return b"Proxy-Authorization: Basic " + token + b"\r\n"


def _through(proxy: Egress, request: bytes, auth: bytes | None = None,
             host: str = "127.0.0.1") -> bytes:
    """Send `request` to the proxy with its credential (or the header line `auth`)."""
    line, _, rest = request.partition(b"\r\n")
    request = line + b"\r\n" + (_auth(proxy) if auth is None else auth) + rest
    with socket.create_connection((host, proxy.port), timeout=10) as s:
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


# ---- authentication, bind and advertised address (docs/grid.md) ----------------------------

@pytest.mark.parametrize("auth", [
    b"",                                                        # none
    b"Proxy-Authorization: Basic " + base64.b64encode(b"sp-egress:guess") + b"\r\n",
    b"Proxy-Authorization: Bearer x\r\n",
    b"Authorization: Basic " + base64.b64encode(b"sp-egress:x") + b"\r\n",
], ids=["missing", "wrong-password", "wrong-scheme", "server-header"])
def test_a_request_without_the_credential_gets_407_and_reaches_nothing(proxy, site, auth,
                                                                        caplog):
    proxy.reset()
    hits, refused = site.hits, len(proxy.auth_refused)
    with caplog.at_level(logging.INFO, logger="sidecar.egress"):
        for request in (f"GET http://127.0.0.1:{site.port}/ HTTP/1.1\r\n"
                        f"Host: 127.0.0.1:{site.port}\r\n\r\n",
                        f"CONNECT 127.0.0.1:{site.port} HTTP/1.1\r\n\r\n"):
            got = _through(proxy, request.encode(), auth=auth)
            assert got.startswith(b"HTTP/1.1 407 "), got
            assert b'Proxy-Authenticate: Basic realm="sp-egress"' in got
    assert site.hits == hits  # never forwarded
    assert len(proxy.auth_refused) == refused + 2
    assert proxy.blocked == []  # a 407 is no refused destination: it does not fail a render
    logged = [r for r in caplog.records if r.getMessage() == "egress authentication required"]
    assert len(logged) == 2 and logged[0].fields["peer"] == "127.0.0.1"
    assert proxy.credentials[1] not in caplog.text


def test_a_wrong_credential_for_another_proxy_is_refused(site):
    """Every proxy makes its own secret: one worker's credential opens no other worker's."""
    a, b = Egress([f"http://127.0.0.1:{site.port}"]), Egress([f"http://127.0.0.1:{site.port}"])
    try:
        assert a.credentials != b.credentials and len(a.credentials[1]) >= 32
        got = _through(b, f"CONNECT 127.0.0.1:{site.port} HTTP/1.1\r\n\r\n".encode(),
                       auth=_auth(a))
        assert got.startswith(b"HTTP/1.1 407 "), got
    finally:
        a.close()
        b.close()


def test_the_credential_is_never_forwarded(proxy):
    """The site behind the proxy never sees Proxy-Authorization (nor could a third party)."""
    seen = []
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        seen.append(conn.recv(65536))
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    port = srv.getsockname()[1]
    p = Egress([f"http://127.0.0.1:{port}"])
    try:
        got = _through(p, f"GET http://127.0.0.1:{port}/x HTTP/1.1\r\n"
                          f"Host: 127.0.0.1:{port}\r\n\r\n".encode())
        t.join(5)
        assert got.startswith(b"HTTP/1.1 200"), got
        assert seen and seen[0].startswith(b"GET /x HTTP/1.1")
        assert b"proxy-authorization" not in seen[0].lower()
        assert p.credentials[1].encode() not in seen[0]
    finally:
        p.close()
        srv.close()


def test_only_the_proxys_own_challenge_gets_the_credential(site):
    """The browser hands the credential over only for a 407 this proxy just sent for that
    host and port, once per 407 (a server's 401 would otherwise harvest it)."""
    proxy = Egress([f"http://127.0.0.1:{site.port}"])
    try:
        _challenges(proxy, site)
    finally:
        proxy.close()


def _challenges(proxy, site):
    url = f"http://127.0.0.1:{site.port}/page"
    assert not proxy.take_challenge(url)
    _through(proxy, f"GET {url} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), auth=b"")
    _through(proxy, b"CONNECT example.org:443 HTTP/1.1\r\n\r\n", auth=b"")
    assert not proxy.take_challenge(f"http://127.0.0.1:{site.port + 1}/page")
    assert proxy.take_challenge(url)
    assert not proxy.take_challenge(url)  # one answer per 407
    assert not proxy.take_challenge("http://example.org/")  # port 80, not the CONNECT's 443
    assert proxy.take_challenge("https://example.org/login")


def test_the_priming_request_is_answered_by_the_proxy_itself(proxy):
    before = proxy.primed
    got = _through(proxy, f"GET {PRIME_URL} HTTP/1.1\r\nHost: sp-egress.invalid\r\n\r\n"
                   .encode(), auth=b"")
    assert got.startswith(b"HTTP/1.1 407 ") and proxy.primed == before
    got = _through(proxy, f"GET {PRIME_URL} HTTP/1.1\r\nHost: sp-egress.invalid\r\n\r\n"
                   .encode())
    assert got.startswith(b"HTTP/1.1 200 ") and got.endswith(b"ok") and proxy.primed == before + 1


def test_it_listens_where_told_and_tells_the_advertised_address(site):
    """SP_EGRESS_BIND: bound to 127.0.0.2 (another loopback address), it is not on
    127.0.0.1; SP_EGRESS_ADVERTISE is what the browser is told."""
    free = socket.socket()
    free.bind(("127.0.0.2", 0))
    port = free.getsockname()[1]
    free.close()
    p = Egress([f"http://127.0.0.1:{site.port}"], "127.0.0.2", port=port,
               advertise="egress.grid.internal:3128")
    try:
        assert (p.bind, p.port) == ("127.0.0.2", port)
        assert p.url == "http://egress.grid.internal:3128" and p.url.egress is p
        assert p.credentials[1] not in repr(p.url)
        got = _through(p, f"GET http://127.0.0.1:{site.port}/ HTTP/1.1\r\n\r\n".encode(),
                       host="127.0.0.2")
        assert got.startswith(b"HTTP/1.1 200"), got
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        p.close()
    q = Egress([], "127.0.0.2", advertise="10.0.0.5")
    try:
        assert q.url == f"http://10.0.0.5:{q.port}"  # no port given: the bound one
    finally:
        q.close()
    with pytest.raises(ValueError, match="SP_EGRESS_ADVERTISE"):
        Egress([], "0.0.0.0")


GOOD = {"SP_DATABASE_URL": "mysql://u:p@127.0.0.1:3306/db", "SP_SECRET_KEYS": "k" * 0 +
        "Zq8vT3mW9xK2pL7rN4bY6cF1hJ5dG0sA", "SP_ADMIN_TOKENS": "Xy7Kp2Lm9Qr4Tv6Wz8Bn3Cd5Fg1Hj0Sa",
        "SP_SITE_ORIGINS": "https://example.com"}


@pytest.mark.parametrize("bind,advertise,want", [
    ("", "", (("127.0.0.1", 0), None)),
    ("127.0.0.2", "", (("127.0.0.2", 0), None)),
    ("10.0.0.5:3128", "", (("10.0.0.5", 3128), None)),
    ("[::1]:3128", "", (("::1", 3128), None)),
    ("0.0.0.0:3128", "worker-1.grid.internal", (("0.0.0.0", 3128), "worker-1.grid.internal")),
    ("0.0.0.0", "203.0.113.7:40000", (("0.0.0.0", 0), "203.0.113.7:40000")),
])
def test_egress_settings_are_parsed(bind, advertise, want):
    cfg = config.load(env={**GOOD, "SP_EGRESS_BIND": bind, "SP_EGRESS_ADVERTISE": advertise})
    assert (cfg["EGRESS_BIND"], cfg["EGRESS_ADVERTISE"]) == want


@pytest.mark.parametrize("bind,advertise,message", [
    ("egress.local", "", "SP_EGRESS_BIND: 'egress.local' is not an IP address"),
    ("127.0.0.1:70000", "", "SP_EGRESS_BIND: port '70000' is not a number from 0 to 65535"),
    ("127.0.0.1:", "", "SP_EGRESS_BIND: '127.0.0.1:' has an empty port"),
    ("0.0.0.0", "", "SP_EGRESS_BIND: 0.0.0.0 listens on every address; set SP_EGRESS_ADVERTISE"),
    ("::", "", "SP_EGRESS_BIND: :: listens on every address; set SP_EGRESS_ADVERTISE"),
    ("127.0.0.1", "0.0.0.0:3128", "SP_EGRESS_ADVERTISE: 0.0.0.0 is no address a browser"),
    ("127.0.0.1", "bad_host:1", "SP_EGRESS_ADVERTISE: 'bad_host' is not a host name"),
    ("127.0.0.1", "h:x", "SP_EGRESS_ADVERTISE: port 'x' is not a number"),
])
def test_bad_egress_settings_stop_the_start_with_their_name(bind, advertise, message):
    with pytest.raises(config.ConfigError) as e:
        config.load(env={**GOOD, "SP_EGRESS_BIND": bind, "SP_EGRESS_ADVERTISE": advertise})
    assert str(e.value).startswith(message), str(e.value)
    assert "\n" not in str(e.value)


def test_hostport_forms():
    assert parse_hostport("::1", "x") == ("::1", 0)
    assert parse_hostport("[2001:db8::1]:9", "x") == ("2001:db8::1", 9)
    assert parse_hostport("Egress.Example:8", "x", None, literal=False) == ("egress.example", 8)
