"""Classify what a site scan found: cookies, storage keys and third-party request hosts.

Sources, strongest first: the admin's site rules > WordPress's (and our own) cookies >
the service catalogue (``catalogue/services.json``) > the Open Cookie Database
(``catalogue/open-cookie-database/``) > unknown. Unknown is never guessed as necessary.
The catalogue format, the OCD category mapping and the refresh are in docs/catalogue.md.

The catalogue and the OCD are read and indexed once per process; a ``Classifier`` only
indexes its site rules, so building one per scan is cheap.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CATEGORIES = ("necessary", "preferences", "statistics", "marketing")
ALL_CATEGORIES = CATEGORIES + ("unknown",)
KINDS = ("cookie", "storage", "request")
SOURCES = ("site-rule", "wordpress", "catalogue", "open-cookie-database", "unknown")
# The stricter category wins where one source offers two (a false "necessary" is the
# compliance failure; a false "marketing" costs a site rule).
_STRICTNESS = {"necessary": 0, "preferences": 1, "statistics": 2, "marketing": 3}

OCD_COLUMNS = ("ID", "Platform", "Category", "Cookie / Data Key name", "Domain", "Description",
               "Retention period", "Data Controller", "User Privacy & GDPR Rights Portals",
               "Wildcard match")
# The OCD's README defines Functional as "technical, essential or strictly necessary" and
# Personalization as "preferences"; docs/catalogue.md says why we follow it.
OCD_CATEGORY_MAP = {"Functional": "necessary", "Necessary": "necessary", "Security": "necessary",
                    "Personalization": "preferences", "Analytics": "statistics",
                    "Marketing": "marketing"}
OCD_FILE = "open-cookie-database.csv"

_SERVICE_KEYS = {"id", "name", "vendor", "category", "breaks_if_blocked", "hosts", "urls",
                 "cookies", "host_cookies", "storage", "signatures", "notes"}
_OPTIONAL_KEYS = {"signatures", "notes"}
_LIST_KEYS = ("hosts", "urls", "cookies", "host_cookies", "storage")
_HOSTNAME = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
_HOST_RE = re.compile(rf"^\.?{_HOSTNAME}(?::[0-9]{{1,5}})?$")
_URL_RE = re.compile(rf"^(\.?{_HOSTNAME}(?::[0-9]{{1,5}})?)(/[^\s*?#]*)$")
_COOKIE_RE = re.compile(r"^[^\s;,=\x00-\x1f\x7f]+$")   # what a cookie name can be, and *
_STORAGE_RE = re.compile(r"^[^\x00-\x1f\x7f]+$")         # a storage key can be almost anything
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class CatalogueError(ValueError):
    """The service catalogue or the Open Cookie Database file is malformed."""


class RuleError(ValueError):
    """A site rule is malformed; the message names the rule (by index) and the field."""


@dataclass(frozen=True)
class Classification:
    """What one item is. ``pattern`` is what matched (a host, URL prefix or name glob);
    ``overridden`` is what a site rule replaced, if the item was known otherwise."""

    category: str = "unknown"
    service: str | None = None
    vendor: str | None = None
    source: str = "unknown"
    breaks_if_blocked: bool = False
    pattern: str | None = None
    overridden: Classification | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = {"category": self.category, "service": self.service, "vendor": self.vendor,
             "source": self.source, "breaks_if_blocked": self.breaks_if_blocked,
             "pattern": self.pattern}
        if self.overridden is not None:
            d["overridden"] = self.overridden.to_dict()
        return d


UNKNOWN = Classification()

# WordPress core, WooCommerce and Secure Privacy's own names (source "wordpress").
# (pattern, kind, service, vendor, breaks_if_blocked)
WORDPRESS_NAMES = (
    ("wordpress_test_cookie", "cookie", "WordPress", "WordPress", True),
    ("wordpress_logged_in_*", "cookie", "WordPress", "WordPress", True),
    ("wordpress_sec_*", "cookie", "WordPress", "WordPress", True),
    ("wordpress_*", "cookie", "WordPress", "WordPress", True),
    ("wp-settings-time-*", "cookie", "WordPress", "WordPress", False),
    ("wp-settings-*", "cookie", "WordPress", "WordPress", False),
    ("wp-postpass_*", "cookie", "WordPress", "WordPress", True),
    ("wp_lang", "cookie", "WordPress", "WordPress", False),
    ("comment_author_*", "cookie", "WordPress", "WordPress", False),
    ("wp_woocommerce_session_*", "cookie", "WooCommerce", "Automattic", True),
    ("woocommerce_*", "cookie", "WooCommerce", "Automattic", True),
    ("wc_cart_hash_*", "storage", "WooCommerce", "Automattic", True),
    ("wc_fragments_*", "storage", "WooCommerce", "Automattic", True),
    ("wc_cart_created", "storage", "WooCommerce", "Automattic", True),
    ("sp_consent", "cookie", "Secure Privacy", "Secure Privacy", True),
    ("sp_consent_pending", "storage", "Secure Privacy", "Secure Privacy", True),
    ("sp_policy_notice", "storage", "Secure Privacy", "Secure Privacy", False),
)


# -- host and name matching ---------------------------------------------------------------

def split_host(host: str) -> tuple[str, str | None]:
    """``"Example.COM:8080"`` -> ``("example.com", "8080")``;
    ``"[::1]:80"`` -> ``("::1", "80")``."""
    host = (host or "").strip().lower()
    if host.startswith("["):
        end = host.find("]")
        name, rest = host[1:end], host[end + 1:]
        return name, (rest[1:] or None) if rest.startswith(":") else None
    if host.count(":") == 1:
        name, port = host.split(":")
        return name, port or None
    return host, None


def host_matches(pattern: str, host: str) -> bool:
    """Catalogue host pattern semantics: ``a.example.com`` is that host only; ``.example.com``
    is example.com and every subdomain. A pattern with ``:port`` needs that port; one
    without matches any port."""
    pname, pport = split_host(pattern)
    name, port = split_host(host)
    if pport is not None and pport != port:
        return False
    if pname.startswith("."):
        return name == pname[1:] or name.endswith(pname)
    return name == pname


def _host_keys(host: str) -> list[tuple[str, bool]]:
    """Index keys to look ``host`` up under, most specific first: (key, is_suffix)."""
    name, port = split_host(host)
    keys: list[tuple[str, bool]] = []
    if port:
        keys.append((f"{name}:{port}", False))
    keys.append((name, False))
    labels = name.split(".")
    for i in range(len(labels)):
        base = ".".join(labels[i:])
        if port:
            keys.append((f"{base}:{port}", True))
        keys.append((base, True))
    return keys


def cookie_sent_to(domain: str, pattern: str) -> bool:
    """Would a cookie of ``domain`` reach a host of ``pattern`` (or the other way round)?
    Used for names that mean a service only on that service's own domains."""
    d = split_host(domain.lstrip("."))[0]
    base = split_host(pattern)[0]
    suffix = base.startswith(".")
    base = base.lstrip(".")
    if not d or ("." not in d and d != base):
        return False
    return d == base or base.endswith("." + d) or (suffix and d.endswith("." + base))


def name_pattern_ok(kind: str, pattern: str) -> bool:
    """A cookie (token characters) or storage key (no control characters) name, where ``*``
    stands for any run of characters; at least one character is not ``*``."""
    rx = _STORAGE_RE if kind == "storage" else _COOKIE_RE
    return bool(rx.match(pattern)) and pattern.strip("*") != ""


def glob_literal(pattern: str) -> int:
    return len(pattern.replace("*", ""))


class _NameIndex:
    """Names and ``*`` globs -> entries. Lookups try exact names, then ``prefix*`` globs
    (longest prefix first), then any other glob (longest literal first)."""

    def __init__(self) -> None:
        self.exact: dict[str, list] = {}
        self.prefixes: dict[int, dict[str, list]] = {}
        self.globs: list[tuple[int, re.Pattern, Any]] = []
        self._lengths: list[int] = []

    def add(self, pattern: str, entry: Any) -> None:
        star = pattern.find("*")
        if star < 0:
            self.exact.setdefault(pattern, []).append(entry)
        elif star == len(pattern) - 1:
            prefix = pattern[:-1]
            self.prefixes.setdefault(len(prefix), {}).setdefault(prefix, []).append(entry)
            self._lengths = sorted(self.prefixes, reverse=True)
        else:
            rx = re.compile("".join(".*" if c == "*" else re.escape(c) for c in pattern) + r"\Z",
                            re.S)
            self.globs.append((glob_literal(pattern), rx, entry))
            self.globs.sort(key=lambda g: -g[0])

    def lookup(self, name: str):
        """Yield matching entries, most specific first."""
        yield from self.exact.get(name, ())
        for n in self._lengths:
            if n <= len(name):
                yield from self.prefixes[n].get(name[:n], ())
        for _, rx, entry in self.globs:
            if rx.match(name):
                yield entry


class _HostIndex:
    def __init__(self) -> None:
        self.exact: dict[str, list] = {}
        self.suffix: dict[str, list] = {}

    def add(self, pattern: str, entry: Any) -> None:
        pattern = pattern.lower()
        if pattern.startswith("."):
            self.suffix.setdefault(pattern[1:], []).append(entry)
        else:
            self.exact.setdefault(pattern, []).append(entry)

    def lookup(self, host: str):
        for key, is_suffix in _host_keys(host):
            yield from (self.suffix if is_suffix else self.exact).get(key, ())


# -- the service catalogue ------------------------------------------------------------------

def _pattern_errors(where: str, key: str, values: Any) -> list[str]:
    if not isinstance(values, list):
        return [f"{where}: {key!r} must be a list"]
    errors, seen = [], set()
    for v in values:
        if not isinstance(v, str) or not v:
            errors.append(f"{where}: {key} entry {v!r} must be a non-empty string")
            continue
        if v in seen:
            errors.append(f"{where}: {key} lists {v!r} twice")
        seen.add(v)
        if key == "hosts" and not _HOST_RE.match(v):
            errors.append(f"{where}: host {v!r} is not a lowercase host or .suffix[:port]")
        elif key == "urls" and not _URL_RE.match(v):
            errors.append(f"{where}: url {v!r} is not host/path-prefix (no scheme, query or *)")
        elif key in ("cookies", "host_cookies", "storage") and not name_pattern_ok(
                "storage" if key == "storage" else "cookie", v):
            errors.append(f"{where}: name pattern {v!r} is not a name with optional * globs")
    return errors


def _signature_errors(where: str, values: Any) -> list[str]:
    """``signatures``: literal text (at least 4 characters, no line breaks, no ``</``) that marks
    an inline script as this service's snippet (the plugin's auto-blocking reads them)."""
    if not isinstance(values, list):
        return [f"{where}: 'signatures' must be a list"]
    errors = []
    for v in values:
        if not isinstance(v, str) or len(v) < 4 or "\n" in v or "\r" in v or "</" in v:
            errors.append(f"{where}: signature {v!r} must be literal text of at least 4 "
                          "characters on one line, without '</'")
    if len(set(map(str, values))) != len(values):
        errors.append(f"{where}: signatures repeat")
    return errors


def validate_catalogue(doc: Any) -> list[str]:
    """Every problem of a services.json document, as messages (empty when it is valid)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), list):
        return ["the catalogue must be an object with a list 'services'"]
    if doc.get("format") != 1:
        return [f"unsupported catalogue format {doc.get('format')!r} (expected 1)"]
    errors: list[str] = []
    ids: set[str] = set()
    unscoped: dict[tuple[str, str], str] = {}
    for i, s in enumerate(doc["services"]):
        where = f"services[{i}]"
        if not isinstance(s, dict):
            errors.append(f"{where}: must be an object")
            continue
        where = f"services[{i}] ({s.get('id', '?')})"
        extra = set(s) - _SERVICE_KEYS
        missing = (_SERVICE_KEYS - _OPTIONAL_KEYS) - set(s)
        if extra:
            errors.append(f"{where}: unknown keys {sorted(extra)}")
        if missing:
            errors.append(f"{where}: missing keys {sorted(missing)}")
            continue
        if not isinstance(s["id"], str) or not _ID_RE.match(s["id"]):
            errors.append(f"{where}: id must be lowercase letters, digits and dashes")
        elif s["id"] in ids:
            errors.append(f"{where}: id {s['id']!r} is used twice")
        ids.add(s["id"])
        for key in ("name", "vendor"):
            if not isinstance(s[key], str) or not s[key].strip():
                errors.append(f"{where}: {key} must be a non-empty string")
        if "notes" in s and not isinstance(s["notes"], str):
            errors.append(f"{where}: notes must be a string")
        if s["category"] not in CATEGORIES:
            errors.append(f"{where}: category {s['category']!r} is not one of {CATEGORIES}")
        if not isinstance(s["breaks_if_blocked"], bool):
            errors.append(f"{where}: breaks_if_blocked must be true or false")
        elif s["breaks_if_blocked"] and s["category"] != "necessary":
            errors.append(f"{where}: a service that breaks if blocked must be necessary")
        for key in _LIST_KEYS:
            errors += _pattern_errors(where, key, s[key])
        errors += _signature_errors(where, s.get("signatures", []))
        if isinstance(s["host_cookies"], list) and s["host_cookies"] and not (
                s["hosts"] or s["urls"]):
            errors.append(f"{where}: host_cookies need hosts or urls to be scoped to")
        if not any(isinstance(s[k], list) and s[k] for k in _LIST_KEYS):
            errors.append(f"{where}: names no host, url, cookie or storage key")
        for key, kind in (("cookies", "cookie"), ("storage", "storage")):
            for v in s[key] if isinstance(s[key], list) else ():
                other = unscoped.setdefault((kind, v), s["id"])
                if other != s["id"]:
                    errors.append(f"{where}: {kind} {v!r} is also claimed by {other!r}")
    for kind, key in (("hosts", "host"), ("urls", "url"), ("signatures", "signature")):
        owners: dict[str, str] = {}
        for s in doc["services"]:
            if isinstance(s, dict) and isinstance(s.get(kind), list):
                for v in s[kind]:
                    if isinstance(v, str) and owners.setdefault(v, s.get("id")) != s.get("id"):
                        errors.append(f"{key} {v!r} is claimed by {owners[v]!r} and "
                                      f"{s.get('id')!r}")
    return errors


def _read_package_text(*parts: str) -> bytes:
    return resources.files("sidecar").joinpath("catalogue", *parts).read_bytes()


@dataclass
class _Catalogue:
    services: list[dict]
    sha256: str
    by_url: _HostIndex        # host pattern -> (path prefix, service)
    by_host: _HostIndex
    cookies: _NameIndex       # -> (service, scoped)
    storage: _NameIndex


def parse_catalogue(raw: bytes) -> _Catalogue:
    """Validate and index a services.json document; raises CatalogueError."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise CatalogueError(f"the catalogue is not JSON: {e}") from None
    errors = validate_catalogue(doc)
    if errors:
        raise CatalogueError("invalid service catalogue: " + "; ".join(errors))
    cat = _Catalogue(doc["services"], hashlib.sha256(raw).hexdigest(), _HostIndex(),
                     _HostIndex(), _NameIndex(), _NameIndex())
    for s in doc["services"]:
        for u in s["urls"]:
            host, path = _URL_RE.match(u).groups()
            cat.by_url.add(host, (path, s, u))
        for h in s["hosts"]:
            cat.by_host.add(h, (s, h))
        # Host-scoped names first: within one name a service's own domain is the better match.
        for name in s["host_cookies"]:
            cat.cookies.add(name, (s, name, True))
        for name in s["cookies"]:
            cat.cookies.add(name, (s, name, False))
        for name in s["storage"]:
            cat.storage.add(name, (s, name, False))
    for index in (cat.cookies,):
        for bucket in list(index.exact.values()) + [
                b for d in index.prefixes.values() for b in d.values()]:
            bucket.sort(key=lambda e: not e[2])
    for bucket in cat.by_url.exact.values():
        bucket.sort(key=lambda e: -len(e[0]))
    for bucket in cat.by_url.suffix.values():
        bucket.sort(key=lambda e: -len(e[0]))
    return cat


@functools.cache
def default_catalogue() -> _Catalogue:
    return parse_catalogue(_read_package_text("services.json"))


# -- the Open Cookie Database --------------------------------------------------------------

@dataclass
class _Ocd:
    rows: int
    sha256: str
    source: dict
    names: _NameIndex         # -> (category, platform, vendor, domain, name)


def read_ocd_rows(text: str) -> list[dict[str, str]]:
    """Parse and check OCD CSV text (header, categories, wildcard flags, names);
    raises CatalogueError naming the line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = tuple(reader.fieldnames or ())
    if header != OCD_COLUMNS:
        raise CatalogueError(f"Open Cookie Database columns are {list(header)}, "
                             f"expected {list(OCD_COLUMNS)}")
    rows, ids = [], set()
    for row in reader:
        line = reader.line_num
        if None in row or any(v is None for v in row.values()):
            raise CatalogueError(f"Open Cookie Database line {line}: wrong number of fields")
        if not row["ID"].strip():
            raise CatalogueError(f"Open Cookie Database line {line}: empty ID")
        if row["ID"] in ids:
            raise CatalogueError(f"Open Cookie Database line {line}: ID {row['ID']} repeats")
        ids.add(row["ID"])
        if row["Category"] not in OCD_CATEGORY_MAP:
            raise CatalogueError(f"Open Cookie Database line {line}: category "
                                 f"{row['Category']!r} has no mapping (OCD_CATEGORY_MAP)")
        if row["Wildcard match"] not in ("0", "1"):
            raise CatalogueError(f"Open Cookie Database line {line}: Wildcard match "
                                 f"{row['Wildcard match']!r} is not 0 or 1")
        if not row["Cookie / Data Key name"].strip():
            raise CatalogueError(f"Open Cookie Database line {line}: empty cookie name")
        rows.append(row)
    if not rows:
        raise CatalogueError("Open Cookie Database has no rows")
    return rows


def _ocd_domains(text: str) -> tuple[str, ...]:
    """The OCD's Domain column is free text ("facebook.com (3rd party)", " or demdex.net");
    the host names in it."""
    return tuple(dict.fromkeys(re.findall(r"[a-z0-9-]+(?:\.[a-z0-9-]+)+", text.lower())))


def parse_ocd(raw: bytes, source: dict | None = None) -> _Ocd:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CatalogueError(f"Open Cookie Database is not UTF-8: {e}") from None
    rows = read_ocd_rows(text)
    ocd = _Ocd(len(rows), hashlib.sha256(raw).hexdigest(), source or {}, _NameIndex())
    for row in rows:
        # Wildcard match 1: the name is the fixed start of names that go on with a
        # site-specific part (the OCD's README: `_gac_` covers `_gac_1234`).
        name = row["Cookie / Data Key name"].strip()
        pattern = name.replace("*", "") + ("*" if row["Wildcard match"] == "1" else "")
        vendor = row["Data Controller"].strip() or None
        ocd.names.add(pattern, (OCD_CATEGORY_MAP[row["Category"]], row["Platform"].strip() or None,
                                vendor, _ocd_domains(row["Domain"]), pattern))
    return ocd


@functools.cache
def default_ocd() -> _Ocd:
    try:
        source = json.loads(_read_package_text("open-cookie-database", "SOURCE.json"))
    except FileNotFoundError:
        source = {}
    return parse_ocd(_read_package_text("open-cookie-database", OCD_FILE), source)


# -- site rules -----------------------------------------------------------------------------

def validate_rules(rules: Any) -> list[dict[str, str]]:
    """Site rules as stored with a scan: ``[{"kind", "pattern", "category", "service"?}]``.
    Returns them normalised (hosts lowercased, ``*.x`` written ``.x``); raises RuleError."""
    if rules is None:
        return []
    if not isinstance(rules, list):
        raise RuleError("rules must be a list")
    out = []
    for i, r in enumerate(rules):
        if not isinstance(r, dict):
            raise RuleError(f"rules[{i}] must be an object")
        extra = set(r) - {"kind", "pattern", "category", "service"}
        if extra:
            raise RuleError(f"rules[{i}]: unknown keys {sorted(extra)}")
        kind, pattern, category = r.get("kind"), r.get("pattern"), r.get("category")
        if kind not in KINDS:
            raise RuleError(f"rules[{i}].kind must be one of {list(KINDS)}")
        if category not in CATEGORIES:
            raise RuleError(f"rules[{i}].category must be one of {list(CATEGORIES)}")
        if not isinstance(pattern, str) or not pattern.strip() or len(pattern) > 255:
            raise RuleError(f"rules[{i}].pattern must be a non-empty string of at most 255")
        pattern = pattern.strip()
        if kind == "request":
            pattern = pattern.lower()
            if pattern.startswith("*."):
                pattern = pattern[1:]
            if not _HOST_RE.match(pattern):
                raise RuleError(f"rules[{i}].pattern {pattern!r} is not a host, .suffix or "
                                "*.suffix (with an optional :port)")
        elif not name_pattern_ok(kind, pattern):
            raise RuleError(f"rules[{i}].pattern {pattern!r} is not a name with optional * "
                            "globs (a lone * is not allowed)")
        service = r.get("service")
        if service is not None and (not isinstance(service, str) or len(service) > 100):
            raise RuleError(f"rules[{i}].service must be a string of at most 100 characters")
        rule = {"kind": kind, "pattern": pattern, "category": category}
        if service and service.strip():
            rule["service"] = service.strip()
        out.append(rule)
    return out


@functools.cache
def _wordpress_index() -> dict[str, _NameIndex]:
    idx = {"cookie": _NameIndex(), "storage": _NameIndex()}
    for pattern, kind, service, vendor, breaks in WORDPRESS_NAMES:
        idx[kind].add(pattern, Classification("necessary", service, vendor, "wordpress", breaks,
                                              pattern))
    return idx


# -- the classifier -------------------------------------------------------------------------

class Classifier:
    """``Classifier(rules).classify(kind, name_or_host, host=, url=)`` -> Classification.

    kind "cookie": name, host = the cookie's domain; "storage": key (or IndexedDB name),
    host = its origin's host; "request": the request's host, url = its URL. Raises
    RuleError for malformed rules, ValueError for an unknown kind."""

    def __init__(self, rules: list[dict] | None = None, *, catalogue: _Catalogue | None = None,
                 ocd: _Ocd | None = None) -> None:
        self.rules = validate_rules(rules)
        self.catalogue = catalogue or default_catalogue()
        self.ocd = ocd or default_ocd()
        self._names = {"cookie": _NameIndex(), "storage": _NameIndex()}
        self._hosts = _HostIndex()
        for rule in self.rules:
            if rule["kind"] == "request":
                self._hosts.add(rule["pattern"], rule)
            else:
                self._names[rule["kind"]].add(rule["pattern"], rule)
        self._memo: dict[tuple, Classification] = {}

    def classify(self, kind: str, name_or_host: str, *, host: str | None = None,
                 url: str | None = None) -> Classification:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        name = name_or_host or ""
        path = None
        if kind == "request":
            name = name.lower()
            if url:
                parts = urlsplit(url)
                path = parts.path or "/"
                if not name:
                    name = parts.netloc.rsplit("@", 1)[-1].lower()
        key = (kind, name, (host or "").lower(), path)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._classify(kind, name, (host or "").lower(), path)
            if len(self._memo) < 200_000:
                self._memo[key] = hit
        return hit

    def _classify(self, kind: str, name: str, host: str, path: str | None) -> Classification:
        known = self._wordpress(kind, name) or self._catalogue(kind, name, host, path) \
            or self._ocd(kind, name, host) or UNKNOWN
        rule = self._rule(kind, name)
        if rule is None:
            return known
        return Classification(rule["category"], rule.get("service") or known.service,
                              known.vendor, "site-rule", known.breaks_if_blocked,
                              rule["pattern"], known if known is not UNKNOWN else None)

    def _rule(self, kind: str, name: str) -> dict | None:
        if kind == "request":
            return next(self._hosts.lookup(name), None)
        return next(self._names[kind].lookup(name), None)

    @staticmethod
    def _wordpress(kind: str, name: str) -> Classification | None:
        if kind == "request":
            return None
        return next(_wordpress_index()[kind].lookup(name), None)

    def _catalogue(self, kind: str, name: str, host: str, path: str | None
                   ) -> Classification | None:
        cat = self.catalogue
        if kind == "request":
            if path is not None:
                for prefix, s, pattern in cat.by_url.lookup(name):
                    if path.startswith(prefix):
                        return _from_service(s, pattern)
            for s, pattern in cat.by_host.lookup(name):
                return _from_service(s, pattern)
            return None
        index = cat.cookies if kind == "cookie" else cat.storage
        for s, pattern, scoped in index.lookup(name):
            if not scoped:
                return _from_service(s, pattern)
            if host and any(cookie_sent_to(host, p) for p in s["hosts"] + [
                    _URL_RE.match(u).group(1) for u in s["urls"]]):
                return _from_service(s, pattern)
        return None

    def _ocd(self, kind: str, name: str, host: str) -> Classification | None:
        if kind == "request":
            return None
        # An entry that names a domain holds only for items on that domain: the OCD has
        # short names ("s", "ts", "token") whose meaning depends on who sets them.
        for entries in _grouped(self.ocd.names, name):
            fits = [e for e in entries if not e[3] or (host and any(
                cookie_sent_to(host, d) for d in e[3]))]
            if fits:
                # The OCD repeats some names for several platforms: the strictest wins.
                pick = max(fits, key=lambda e: (_STRICTNESS[e[0]], e[1] or ""))
                break
        else:
            return None
        category, platform, vendor, _, pattern = pick
        return Classification(category, platform, vendor, "open-cookie-database", False, pattern)


def _grouped(index: _NameIndex, name: str):
    """The entries matching ``name``, grouped by specificity (exact, then each glob)."""
    if name in index.exact:
        yield index.exact[name]
    for n in index._lengths:
        if n <= len(name):
            bucket = index.prefixes[n].get(name[:n])
            if bucket:
                yield bucket
    for _, rx, entry in index.globs:
        if rx.match(name):
            yield [entry]


def _from_service(s: dict, pattern: str) -> Classification:
    return Classification(s["category"], s["name"], s["vendor"], "catalogue",
                          s["breaks_if_blocked"], pattern)


def sources_info(classifier: Classifier) -> dict[str, Any]:
    """Which catalogue and OCD versions classified a report (for the auditor)."""
    return {"catalogue_sha256": classifier.catalogue.sha256,
            "open_cookie_database_sha256": classifier.ocd.sha256,
            "open_cookie_database_version": classifier.ocd.source.get("version"),
            "open_cookie_database_rows": classifier.ocd.rows}


def load_catalogue_file(path: str | Path) -> _Catalogue:
    """A catalogue from a file instead of the shipped one; raises CatalogueError."""
    return parse_catalogue(Path(path).read_bytes())


def catalogue_with(extra_services: list[dict]) -> _Catalogue:
    """The shipped catalogue plus more services (same format), for example a test's loopback
    "third party" marked as a payment provider. Validated together: an extra service may not
    claim a host, URL or name a shipped one claims. Raises CatalogueError."""
    doc = json.loads(_read_package_text("services.json"))
    if not isinstance(extra_services, list):
        raise CatalogueError("extra services must be a list")
    doc["services"] = doc["services"] + extra_services
    return parse_catalogue(json.dumps(doc, sort_keys=True).encode())
