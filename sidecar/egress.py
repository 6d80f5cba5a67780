"""The screenshot browser's only way out: a filtering HTTP proxy on 127.0.0.1.

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
- the proxy connects to the address it checked, so a DNS answer cannot change in between.

`file:` and `data:` top-level pages never reach a proxy; the worker refuses them by checking
the URL the browser ends up on.
"""

from __future__ import annotations

import ipaddress
import logging
import select
import socket
import socketserver
import threading
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


class Egress:
    """A running filtering proxy; `blocked` lists what it refused since the last `reset()`."""

    def __init__(self, allowed_origins: list[str], bind: str = "127.0.0.1"):
        self.allowed = set(allowed_origins)
        self.blocked: list[str] = []
        self.lock = threading.Lock()
        egress = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                egress._handle(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server((bind, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name="sp-egress")
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self.lock:
            self.blocked = []

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---- one client connection ------------------------------------------------------
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
                ("proxy-connection:", "connection:", "keep-alive:"))]
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
