"""The screenshot browser's only way out: a filtering HTTP proxy (127.0.0.1 unless
SP_EGRESS_BIND says otherwise, for browsers on a Selenium Grid: docs/grid.md).

Chromium runs with `--proxy-server` pointing here and `--proxy-bypass-list=<-loopback>`, so
every request it makes — top-level navigations, redirects, JS navigations, iframes,
sub-resources, WebSockets — passes this check first:

- requests to an origin in SP_SITE_ORIGINS go through;
- requests to any other origin go through only if every address the host resolves to is
  globally routable unicast (`is_public`); loopback, private, link-local (cloud metadata at
  169.254.169.254), shared, reserved, documentation, multicast and the IPv6 forms that
  carry or reach such an address (IPv4-compatible, -mapped, -translated, NAT64, 6to4,
  Teredo, site-local, unique-local) are refused with 403, and the refusal is recorded so
  the job fails with the reason;
- the proxy connects to the address it checked, so a DNS answer cannot change in between;
- every request must carry this proxy's per-instance credential (`Proxy-Authorization`,
  a random secret made at start): without it, or with a wrong one, the answer is
  407 and nothing is looked up or fetched; the browser answers the challenge over its own
  DevTools endpoint when local, over WebDriver BiDi when remote (`browser.new_driver`,
  docs/grid.md). The credential is never forwarded.

`file:` and `data:` top-level pages never reach a proxy; the worker refuses them by checking
the URL the browser ends up on.
"""

from __future__ import annotations

import base64
import collections
import hmac
import ipaddress
import logging
import re
import secrets
import select
import socket
import socketserver
import threading
import time
from urllib.parse import urlsplit

from .config import normalise_origin

log = logging.getLogger("sidecar.egress")
HEAD_LIMIT = 64 * 1024
# On every answer the proxy gives itself (a refusal): the scanner marks such requests failed.
REFUSED_HEADER = "X-Secure-Privacy-Egress"


UNRESOLVED = ""

# IPv4 ranges that are not globally routable unicast (IANA special-purpose registry, plus
# multicast and the reserved class E). A screenshot browser has no business in any of them.
_V4_REFUSED = tuple(ipaddress.IPv4Network(n) for n in (
    "0.0.0.0/8",        # "this network"
    "10.0.0.0/8",       # private
    "100.64.0.0/10",    # shared address space (carrier-grade NAT)
    "127.0.0.0/8",      # loopback
    "169.254.0.0/16",   # link-local, cloud metadata
    "172.16.0.0/12",    # private
    "192.0.0.0/24",     # IETF protocol assignments
    "192.0.2.0/24",     # documentation (TEST-NET-1)
    "192.88.99.0/24",   # 6to4 relay anycast (deprecated)
    "192.168.0.0/16",   # private
    "198.18.0.0/15",    # benchmarking
    "198.51.100.0/24",  # documentation (TEST-NET-2)
    "203.0.113.0/24",   # documentation (TEST-NET-3)
    "224.0.0.0/4",      # multicast
    "240.0.0.0/4",      # reserved, and the limited broadcast 255.255.255.255
))
# IPv6: only global unicast (2000::/3) may be public at all. Everything outside it is
# refused: ::/128, ::1, IPv4-compatible ::a.b.c.d, IPv4-translated ::ffff:0:a.b.c.d,
# 64:ff9b:1::/48 (local-use NAT64), 100::/64 (discard), fc00::/7, fe80::/10, fec0::/10
# (site-local), ff00::/8 (multicast). Inside it, these are refused too:
_V6_GLOBAL = ipaddress.IPv6Network("2000::/3")
_V6_REFUSED = tuple(ipaddress.IPv6Network(n) for n in (
    "2001::/23",        # IETF protocol assignments: Teredo 2001::/32, benchmarking, ORCHID
    "2001:db8::/32",    # documentation
    "3fff::/20",        # documentation (RFC 9637)
    "5f00::/16",        # segment routing (SRv6) SIDs
))
# IPv6 forms that stand for an IPv4 address: judged by that address.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known NAT64 prefix (DNS64)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address
    leads to; None for any other address."""
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True only for a globally routable unicast address (or an IPv6 form of one)."""
    if isinstance(ip, ipaddress.IPv6Address):
        v4 = embedded_ipv4(ip)
        if v4 is not None:
            return is_public(v4)
        return ip in _V6_GLOBAL and not any(ip in net for net in _V6_REFUSED)
    return not any(ip in net for net in _V4_REFUSED)


def public_address(host: str, port: int) -> str | None:
    """The first address of `host` if ALL its addresses are public (`is_public`); None if
    any is not (the SSRF case); UNRESOLVED if the name does not resolve (nothing to reach)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return UNRESOLVED
    addrs = [info[4][0] for info in infos]
    for a in addrs:
        try:
            ip = ipaddress.ip_address(a.split("%")[0])
        except ValueError:
            return None
        if not is_public(ip):
            return None
    return addrs[0] if addrs else UNRESOLVED


REALM = "sp-egress"
# The browser's first request: answered by the proxy itself (once authenticated), never
# forwarded (.invalid never resolves). It makes the browser answer the challenge before any
# WebDriver command waits on a page (browser.prime_proxy_auth).
PRIME_HOST = "sp-egress.invalid"
PRIME_URL = f"http://{PRIME_HOST}/ready"
CHALLENGE_TTL = 10.0  # s a 407 of ours may take to come back to the browser's handler
USERNAME = "sp-egress"


class ProxyURL(str):
    """The proxy's address as the browser is told it (`http://host:port`), carrying the
    `Egress` behind it: `browser.new_driver(proxy=egress.url)` takes its credential from
    there. Its repr never shows the credential."""

    egress: Egress | None = None

    def __new__(cls, url: str, egress: Egress | None = None):
        self = super().__new__(cls, url)
        self.egress = egress
        return self

    @property
    def credentials(self) -> tuple[str, str] | None:
        return self.egress.credentials if self.egress else None

    def __repr__(self) -> str:  # never the password in a log line or a traceback
        return f"ProxyURL({str(self)!r})"


def parse_hostport(value: str, name: str, default_port: int | None = 0,
                   literal: bool = True) -> tuple[str, int | None]:
    """(host, port) from `host`, `host:port`, `[v6]` or `[v6]:port`; `literal` = the host
    must be an IP address (a bind address). ValueError naming `name` on anything else."""
    value = value.strip()
    if not value:
        raise ValueError(f"{name} is empty")
    host, port_s = value, ""
    if value.startswith("["):
        host, sep, tail = value[1:].partition("]")
        if not sep or (tail and not tail.startswith(":")):
            raise ValueError(f"{name}: {value!r} is not host[:port] ([v6-address]:port for IPv6)")
        port_s = tail[1:]
        if tail and not port_s:
            raise ValueError(f"{name}: {value!r} has an empty port")
    elif value.count(":") == 1:
        host, port_s = value.split(":")
        if not port_s:
            raise ValueError(f"{name}: {value!r} has an empty port")
    elif ":" in value and _is_ip(value):
        host = value
    elif ":" in value:
        raise ValueError(f"{name}: {value!r}: write an IPv6 address in brackets, [addr]:port")
    port = default_port
    if port_s:
        if not port_s.isdigit() or not 0 <= int(port_s) <= 65535:
            raise ValueError(f"{name}: port {port_s!r} is not a number from 0 to 65535")
        port = int(port_s)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if literal or value.startswith("["):
            raise ValueError(f"{name}: {host!r} is not an IP address"
                             + (" (bind to an address, e.g. 0.0.0.0 or 10.0.0.5)" if literal
                                else "")) from None
        label = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)\Z", re.I)
        if len(host) > 253 or not all(label.match(part) for part in host.rstrip(".").split(".")):
            raise ValueError(f"{name}: {host!r} is not a host name or IP address") from None
        return host.lower(), port
    if not literal and ip.is_unspecified:
        raise ValueError(f"{name}: {host} is no address a browser can connect to")
    return str(ip), port


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


class Egress:
    """A running filtering proxy; `blocked` lists what it refused since the last `reset()`.

    `bind` (an IP address) and `port` (0: any free one) are where it listens; `advertise`
    ("host" or "host:port") is the address the browser is told (`url`), for a browser on
    another host behind NAT or in a container; by default the bind address (loopback when
    bound to a wildcard address is refused: tell `advertise`). Every request must carry the
    credential in `credentials` (made here; `auth=False` is for tests of the filter alone);
    `auth_refused` lists the requests refused for lack of it."""

    def __init__(self, allowed_origins: list[str], bind: str = "127.0.0.1", *, port: int = 0,
                 advertise: str | None = None, auth: bool = True):
        self.allowed = set(allowed_origins)
        self.blocked: list[str] = []
        self.auth_refused: list[str] = []
        self._challenges: collections.deque = collections.deque(maxlen=256)
        self.primed = 0  # authenticated requests for PRIME_URL
        self.lock = threading.Lock()
        bind_host, _ = parse_hostport(bind, "egress bind address")
        if advertise:
            adv_host, adv_port = parse_hostport(advertise, "egress advertised address",
                                                default_port=None, literal=False)
        elif ipaddress.ip_address(bind_host).is_unspecified:
            raise ValueError(f"egress: bound to {bind_host}, the browser needs an address to"
                             " connect to: set SP_EGRESS_ADVERTISE")
        else:
            adv_host, adv_port = bind_host, None
        self.credentials = (USERNAME, secrets.token_urlsafe(32)) if auth else None
        self._token = (base64.b64encode(":".join(self.credentials).encode()).decode()
                       if auth else "")
        egress = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                egress._handle(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        if ":" in bind_host:
            Server.address_family = socket.AF_INET6
        self.server = Server((bind_host, port), Handler)
        self.bind = bind_host
        self.port = self.server.server_address[1]
        self.advertised = (adv_host, adv_port or self.port)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name="sp-egress")
        self.thread.start()
        if auth is False:
            log.warning("egress proxy without authentication", extra={"fields": {
                "bind": bind_host, "port": self.port}})

    @classmethod
    def from_config(cls, cfg: dict, allowed_origins: list[str] | None = None) -> Egress:
        """The worker's proxy, where SP_EGRESS_BIND / SP_EGRESS_ADVERTISE say (config.py)."""
        host, port = cfg.get("EGRESS_BIND") or ("127.0.0.1", 0)
        return cls(cfg["SITE_ORIGINS"] if allowed_origins is None else allowed_origins, host,
                   port=port, advertise=cfg.get("EGRESS_ADVERTISE"))

    @property
    def url(self) -> ProxyURL:
        """`http://host:port` the browser is to use (with `.credentials`)."""
        host, port = self.advertised
        host = f"[{host}]" if ":" in host else host
        return ProxyURL(f"http://{host}:{port}", self)

    def take_challenge(self, url: str) -> bool:
        """Whether this proxy answered a request for `url`'s host and port with 407 in the
        last CHALLENGE_TTL seconds (and forget that one). The browser hands over the
        credential only then: a 401 from a server (also reported to it as "authentication
        required") must never get it."""
        try:
            parts = urlsplit(url)
            key = ((parts.hostname or "").lower(),
                   parts.port or {"http": 80, "ws": 80, "https": 443, "wss": 443}[parts.scheme])
        except (ValueError, KeyError):
            return False
        now = time.monotonic()
        with self.lock:
            while self._challenges and now - self._challenges[0][0] > CHALLENGE_TTL:
                self._challenges.popleft()
            for i, (_, k) in enumerate(self._challenges):
                if k == key:
                    del self._challenges[i]
                    return True
        return False

    def reset(self) -> None:
        with self.lock:
            self.blocked = []
            self.auth_refused = []

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---- one client connection ------------------------------------------------------
    def _authorised(self, header_lines: list[str]) -> str | None:
        """None if the request carries this proxy's credential, else why not."""
        if self.credentials is None:
            return None
        values = [h.split(":", 1)[1].strip() for h in header_lines
                  if h.lower().startswith("proxy-authorization:")]
        if not values:
            return "no credential"
        scheme, _, token = values[0].partition(" ")
        if len(values) == 1 and scheme.lower() == "basic" and hmac.compare_digest(
                token.strip().encode("latin-1"), self._token.encode()):
            return None
        return "wrong credential"

    def _challenge(self, client: socket.socket, what: str, why: str,
                   key: tuple[str, int] | None) -> None:
        """407: nothing looked up, nothing fetched; logged (a browser's first request of a
        session comes without the credential: that is how HTTP authentication starts)."""
        with self.lock:
            self.auth_refused.append(what)
            if key is not None:
                self._challenges.append((time.monotonic(), key))
        try:
            peer = client.getpeername()[0]
        except OSError:
            peer = None
        level = logging.INFO if why == "no credential" else logging.WARNING
        log.log(level, "egress authentication required", extra={"fields": {
            "reason": why, "peer": peer, "target": what[:300]}})
        try:
            client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                           + REFUSED_HEADER.encode() + b": authentication\r\n"
                           b'Proxy-Authenticate: Basic realm="' + REALM.encode() + b'"\r\n'
                           b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        except OSError:
            pass

    def _decide(self, scheme: str, host: str, port: int) -> tuple[str | None, str]:
        """(address to connect to or None, origin) for a request."""
        origin_host = f"[{host}]" if ":" in host else host
        try:
            origin = normalise_origin(f"{scheme}://{origin_host}:{port}")
        except ValueError:
            return None, f"{scheme}://{origin_host}:{port}"
        if origin in self.allowed:
            try:
                return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0], origin
            except OSError:
                return UNRESOLVED, origin
        return public_address(host, port), origin

    def _refuse(self, client: socket.socket, what: str, addr: str | None) -> None:
        """403 for a forbidden destination (recorded: it fails the render); 502 for a name
        that does not resolve (nothing could be reached, so nothing to report)."""
        if addr == UNRESOLVED:
            reply = b"HTTP/1.1 502 Bad Gateway\r\n" + REFUSED_HEADER.encode() + b": unresolved\r\n"
        else:
            reply = b"HTTP/1.1 403 Forbidden\r\n" + REFUSED_HEADER.encode() + b": refused\r\n"
            with self.lock:
                self.blocked.append(what)
            log.warning("egress blocked", extra={"fields": {"target": what[:300]}})
        try:
            client.sendall(reply + b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        except OSError:
            pass

    def _handle(self, client: socket.socket) -> None:
        client.settimeout(30)
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(8192)
                if not chunk:
                    return
                head += chunk
                if len(head) > HEAD_LIMIT:
                    return
            head, _, rest = head.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            why = self._authorised(lines[1:])
            if why:
                return self._challenge(client, f"{method} {target[:200]}", why,
                                       _target_key(method, target))
            if _target_key(method, target) == (PRIME_HOST, 80):
                with self.lock:
                    self.primed += 1
                client.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                               b"Content-Length: 2\r\nConnection: close\r\n\r\nok")
                return
            if method.upper() == "CONNECT":
                host, _, port_s = target.rpartition(":")
                host = host.strip("[]")
                port = int(port_s)
                addr, origin = self._decide("https", host, port)
                if not addr:
                    return self._refuse(client, f"CONNECT {origin}", addr)
                upstream = socket.create_connection((addr, port), timeout=15)
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if rest:
                    upstream.sendall(rest)
                return _pipe(client, upstream)
            parts = urlsplit(target)
            if parts.scheme != "http" or not parts.hostname:
                return self._refuse(client, f"{method} {target[:200]}", None)
            port = parts.port or 80
            addr, origin = self._decide("http", parts.hostname, port)
            if not addr:
                return self._refuse(client, f"{method} {target[:200]}", addr)
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            headers = [h for h in lines[1:] if h and not h.lower().startswith(
                ("proxy-connection:", "connection:", "keep-alive:", "proxy-authorization:"))]
            upgrade = any(h.lower().startswith("upgrade:") for h in headers)
            headers.append("Connection: upgrade" if upgrade else "Connection: close")
            request = f"{method} {path} {version}\r\n" + "\r\n".join(headers) + "\r\n\r\n"
            upstream = socket.create_connection((addr, port), timeout=15)
            upstream.sendall(request.encode("latin-1") + rest)
            _pipe(client, upstream)
        except (OSError, ValueError):
            return
        finally:
            try:
                client.close()
            except OSError:
                pass


def _target_key(method: str, target: str) -> tuple[str, int] | None:
    """(host, port) a proxy request is for: `CONNECT host:port` or `GET http://host/...`."""
    try:
        if method.upper() == "CONNECT":
            host, _, port = target.rpartition(":")
            return host.strip("[]").lower(), int(port)
        parts = urlsplit(target)
        return (parts.hostname or "").lower(), parts.port or 80
    except ValueError:
        return None


def _pipe(a: socket.socket, b: socket.socket, idle: float = 30.0) -> None:
    """Relay bytes both ways until either side closes (or nothing moves for `idle` s)."""
    try:
        socks = [a, b]
        while True:
            ready, _, _ = select.select(socks, [], [], idle)
            if not ready:
                return
            for s in ready:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    finally:
        b.close()
