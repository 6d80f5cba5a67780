"""The page URL rule: which `page_url` a consent may carry (docs/api.md §2).

One rule, written twice: here for the sidecar and in `wp-plugin/includes/url.php` for the
plugin, both checked against the same vectors (`tests/vectors/urls.json`). The plugin refuses
at its public route what the sidecar would refuse, so a hostile URL never reaches the outbox,
and everything in the sidecar that parses a stored `page_url` (`urllib.parse.urlsplit` in
renders, records and screenshots) only ever sees URLs it parses without raising.

A page URL is what a browser's `location.href` gives, which is already ASCII
(percent-encoded path, punycoded host):

- at most 2048 characters, each printable ASCII (0x21-0x7E) but not a backslash: no
  whitespace, no control characters, no non-ASCII;
- `http://` or `https://` (scheme in any case), then the authority up to the first `/`,
  `?` or `#`; nothing else after the scheme (`http:/x`, `http:x` are refused);
- the authority is a host and an optional `:port`, no userinfo (`@` is refused);
- the host is one of:
  - a DNS name: dot-separated labels of letters, digits, hyphens and underscores (browsers
    accept `my_site.local`), 1-63 characters each, not starting or ending with a hyphen,
    253 characters at most, one optional trailing dot; punycode labels (`xn--…`) are such
    labels; the last label is not all digits (that would be an IPv4 address);
  - a dotted IPv4 address: four decimal numbers 0-255 without leading zeros;
  - a bracketed IPv6 address (`[2001:db8::1]`): 1-4 hex digits per group, eight groups
    or fewer with one `::`, optionally ending in a dotted IPv4 address; no zone id;
- the port, when given, is a decimal number 1-65535 without leading zeros;
- path, query and fragment may hold any of the characters above.
"""

from __future__ import annotations

import functools
import re

MAX_LENGTH = 2048
_CHARS = re.compile(r"[!-\[\]-~]*\Z")  # printable ASCII 0x21-0x7E except backslash (0x5C)
_SHAPE = re.compile(r"(?i:https?)://([^/?#]*)([/?#].*)?\Z", re.S)
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\Z")
_OCTET = re.compile(r"(?:0|[1-9][0-9]{0,2})\Z")
_HEXGROUP = re.compile(r"[0-9A-Fa-f]{1,4}\Z")
_PORT = re.compile(r"[1-9][0-9]{0,4}\Z")


def page_url_error(url: object) -> str | None:
    """Why `url` is not a page URL by the rule above, or None when it is one."""
    if not isinstance(url, str):
        return "must be a string"
    return _str_error(url)


# Consents name the same pages over and over: the answer for a URL is kept (a pure function
# of the string; bounded, so many distinct URLs only evict).
@functools.lru_cache(maxsize=4096)
def _str_error(url: str) -> str | None:
    if not url:
        return "must not be empty"
    if len(url) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    if not _CHARS.match(url):
        return ("must be printable ASCII (percent-encoded, punycode host) without spaces, "
                "control characters or backslashes")
    m = _SHAPE.match(url)
    if not m:
        return "must be an absolute http(s) URL (http://host/…)"
    authority = m.group(1)
    if "@" in authority:
        return "must not carry a user name or password"
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            return "has an unclosed [ in its host"
        host, rest = authority[:end + 1], authority[end + 1:]
        if not is_ipv6(host[1:-1]):
            return "has a bracketed host that is not an IPv6 address"
    else:
        host, _, port = authority.partition(":")
        rest = ":" + port if _ else ""
        if not host:
            return "must have a host"
        if not (is_ipv4(host) or is_dns_name(host)):
            return "has a host that is neither a DNS name nor an IPv4 address"
    if rest:
        if not rest.startswith(":") or not _PORT.match(rest[1:]) or int(rest[1:]) > 65535:
            return "has a port that is not a number from 1 to 65535"
    return None


def is_page_url(url: object) -> bool:
    return page_url_error(url) is None


def is_dns_name(host: str) -> bool:
    name = host[:-1] if host.endswith(".") else host
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    return all(_LABEL.match(label) for label in labels) and not labels[-1].isdigit()


def is_ipv4(host: str) -> bool:
    parts = host.split(".")
    return len(parts) == 4 and all(_OCTET.match(p) and int(p) <= 255 for p in parts)


def is_ipv6(text: str) -> bool:
    """An IPv6 address in text form (RFC 4291 §2.2), without a zone id."""
    if "." in text:  # a dotted IPv4 address stands for the last two groups
        i = text.rfind(":")
        if i < 0 or not is_ipv4(text[i + 1:]):
            return False
        text = text[:i + 1] + "0:0"
    if text.count("::") > 1:
        return False
    if "::" in text:  # "::" stands for one group or more
        left, right = text.split("::")
        groups = (left.split(":") if left else []) + (right.split(":") if right else [])
        if len(groups) > 7:
            return False
    else:
        groups = text.split(":")
        if len(groups) != 8:
            return False
    return all(_HEXGROUP.match(g) for g in groups)
