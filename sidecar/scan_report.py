"""Turn a site scan's observations (what the browser saw on each page, in each consent state)
into the report of CONTRACT §8: deduplicated, classified items with their evidence, the
violations, and a ``report_hash`` over the canonical JSON of everything else.

The report depends only on its inputs: the same observations in any order give the same
report and hash. docs/scan.md describes every field.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any
from urllib.parse import unquote, urlsplit

from sidecar import selftest
from sidecar.classify import Classifier, sources_info
from sidecar.ruleset import ruleset_version

STATES = ("before_consent", "after_reject", "after_accept")
BEFORE_CONSENT_STATES = ("before_consent", "after_reject")  # non-necessary here = a violation
KIND_ORDER = {"cookie": 0, "storage": 1, "request": 2}
RESOURCES = ("script", "iframe", "xhr", "beacon", "image", "font", "other")
STORAGE_AREAS = ("local", "session", "indexeddb")
_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}
_PLUGIN_RE = re.compile(r"/wp-content/(plugins|themes)/([^/?#]+)/")
_SLUG_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
MAX_URLS_PER_ITEM = 20


class ObservationError(ValueError):
    """The observations are malformed; the message names where (``pages[2].states...``)."""


def canonical_json(value: Any) -> bytes:
    """The bytes ``report_hash`` is taken over: sorted keys, no whitespace, ASCII only."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def sha256_hex(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def report_hash(report: dict) -> str:
    """sha256 over the canonical JSON of the report without its ``report_hash``."""
    return sha256_hex({k: v for k, v in report.items() if k != "report_hash"})


def plugin_slug(*urls: str | None) -> str | None:
    """The plugin or theme slug of the first URL under ``/wp-content/plugins/<slug>/`` or
    ``/wp-content/themes/<slug>/``, else None."""
    for url in urls:
        if not url:
            continue
        path = urlsplit(url).path if "://" in url else url
        m = _PLUGIN_RE.search(path)
        if m:
            slug = unquote(m.group(2))
            if _SLUG_RE.match(slug) and slug not in (".", ".."):
                return slug
    return None


def url_host(url: str) -> str | None:
    """``hostname[:port]`` of an http(s)/ws(s) URL, the port only when not the default;
    None for other schemes (data:, blob:, about:) and unparsable URLs."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            return None
        port = parts.port
    except ValueError:
        return None
    return normal_host(parts.hostname, str(port) if port else None, scheme)


def normal_host(hostname: str, port: str | None = None, scheme: str | None = None) -> str:
    name = hostname.lower().rstrip(".")
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"
    if port and port != _DEFAULT_PORTS.get(scheme or "", None):
        return f"{name}:{port}"
    return name


def _normal_host_field(host: str, url: str) -> str:
    """The observation's ``host`` as we compare hosts: lowercase, no default port."""
    derived = url_host(url)
    if derived is not None:
        return derived
    return host.lower()


# -- input checking -------------------------------------------------------------------------

def _need(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise ObservationError(f"{where}: {what}")


def _opt_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _check_page(i: int, page: Any) -> None:
    where = f"pages[{i}]"
    _need(isinstance(page, dict), where, "must be an object")
    _need(isinstance(page.get("url"), str) and page["url"].strip() != "", where,
          "url must be a non-empty string")
    states = page.get("states")
    _need(isinstance(states, dict), where, "states must be an object")
    for name, state in states.items():
        w = f"{where}.states.{name}"
        _need(name in STATES, w, f"unknown state (expected one of {list(STATES)})")
        _need(isinstance(state, dict), w, "must be an object")
        _need(_opt_str(state.get("error")), w, "error must be a string or null")
        for key in ("cookies", "storage", "requests"):
            _need(isinstance(state.get(key, []), list), w, f"{key} must be a list")
        why = selftest.check(state.get("selftest"), f"{w}.selftest")
        _need(why is None, w, f"selftest is malformed ({why})")
        for j, c in enumerate(state.get("cookies", [])):
            wc = f"{w}.cookies[{j}]"
            _need(isinstance(c, dict), wc, "must be an object")
            _need(isinstance(c.get("name"), str) and c["name"] != "", wc,
                  "name must be a non-empty string")
            _need(isinstance(c.get("domain"), str), wc, "domain must be a string")
            _need(c.get("from") in ("set-cookie", "script", None), wc,
                  "from must be set-cookie, script or null")
            exp = c.get("expires")
            _need(exp is None or (isinstance(exp, int | float) and not isinstance(exp, bool)
                                  and math.isfinite(exp)), wc, "expires must be a number or null")
            for key in ("path", "same_site", "set_by_url"):
                _need(_opt_str(c.get(key)), wc, f"{key} must be a string or null")
        for j, s in enumerate(state.get("storage", [])):
            ws = f"{w}.storage[{j}]"
            _need(isinstance(s, dict), ws, "must be an object")
            _need(s.get("area") in STORAGE_AREAS, ws, f"area must be one of {list(STORAGE_AREAS)}")
            _need(isinstance(s.get("key"), str), ws, "key must be a string")
            _need(_opt_str(s.get("origin")), ws, "origin must be a string or null")
        for j, r in enumerate(state.get("requests", [])):
            wr = f"{w}.requests[{j}]"
            _need(isinstance(r, dict), wr, "must be an object")
            _need(isinstance(r.get("url"), str) and r["url"] != "", wr,
                  "url must be a non-empty string")
            _need(_opt_str(r.get("host")), wr, "host must be a string or null")
            _need(r.get("resource") is None or r.get("resource") in RESOURCES, wr,
                  f"resource must be one of {list(RESOURCES)} or null")
            _need(_opt_str(r.get("initiator")), wr, "initiator must be a string or null")


# -- building -------------------------------------------------------------------------------

def _state_rank(state: str) -> int:
    return STATES.index(state)


def _seen_key(s: dict) -> tuple:
    return (s["page"], _state_rank(s["state"]), s.get("initiator") or "", s.get("plugin") or "",
            s.get("set_by") or "")


def _merge_pages(pages: list[dict]) -> dict[str, dict[str, dict]]:
    """url -> state -> state observations; a page listed twice has its states merged."""
    merged: dict[str, dict[str, dict]] = {}
    for page in pages:
        states = merged.setdefault(page["url"], {})
        for name, obs in page["states"].items():
            if name not in states:
                states[name] = {"cookies": [], "storage": [], "requests": [], "error": None}
            into = states[name]
            for key in ("cookies", "storage", "requests"):
                into[key] = into[key] + list(obs.get(key) or [])
            if obs.get("error") and not into["error"]:
                into["error"] = obs["error"]
            # The self-test's signature: one per state; of a page observed twice, the same
            # one whatever the order (the least in canonical JSON).
            mine = obs.get("selftest")
            if mine is not None and (into.get("selftest") is None or canonical_json(mine)
                                     < canonical_json(into["selftest"])):
                into["selftest"] = mine
    return merged


def build_report(scan: dict, pages: list[dict], rules: list[dict] | None = None,
                 site_origins: list[str] | None = None, *,
                 classifier: Classifier | None = None) -> dict:
    """The CONTRACT §8 report of a scan. ``scan`` gives id, status, started_at,
    finished_at, progress; ``pages`` are the scanner's observations (SCAN_INTERFACE §1);
    ``rules`` the site rules; ``site_origins`` the site's own origins (requests to them
    are not items). Raises ObservationError for malformed observations and
    sidecar.classify.RuleError for malformed rules."""
    if not isinstance(pages, list):
        raise ObservationError("pages must be a list")
    for i, page in enumerate(pages):
        _check_page(i, page)
    classifier = classifier or Classifier(rules)
    own_hosts = set()
    for origin in site_origins or ():
        h = url_host(origin)
        if h is None:
            raise ObservationError(f"site origin {origin!r} is not an http(s) origin")
        own_hosts.add(h)

    merged = _merge_pages(pages)
    items: dict[tuple, dict] = {}

    def item_for(key: tuple, make) -> dict:
        item = items.get(key)
        if item is None:
            item = items[key] = make()
            item["_seen"] = {}
        return item

    def see(item: dict, page: str, state: str, initiator: str | None, plugin: str | None,
            **extra) -> None:
        entry = {"page": page, "state": state, "initiator": initiator, "plugin": plugin, **extra}
        item["_seen"][_seen_key(entry)] = entry

    for page_url, states in merged.items():
        page_host = url_host(page_url)
        page_own = own_hosts | ({page_host} if page_host else set())
        for state, obs in states.items():
            by_url: dict[str, str | None] = {}
            for r in obs["requests"]:
                if r.get("initiator") and r["url"] not in by_url:
                    by_url[r["url"]] = r["initiator"]
            for c in obs["cookies"]:
                domain = c["domain"]
                host = domain.lstrip(".").lower()
                key = ("cookie", c["name"], domain.lower())
                item = item_for(key, lambda c=c, domain=domain, host=host: _new_item(
                    "cookie", c["name"], host, classifier.classify("cookie", c["name"], host=host),
                    domain=domain.lower(), http_only=False, secure=False, same_site=None,
                    path=None, expires=None, **{"from": None}))
                _fold_cookie(item, c)
                set_by = c.get("set_by_url") or None
                initiator = by_url.get(set_by) if set_by else None
                see(item, page_url, state, initiator, plugin_slug(initiator, set_by),
                    set_by=set_by)
            for s in obs["storage"]:
                origin = s.get("origin") or None
                key = ("storage", s["area"], s["key"])
                item = item_for(key, lambda s=s: {"kind": "storage", "name": s["key"],
                                                  "area": s["area"], "origins": set()})
                if origin:
                    item["origins"].add(origin)
                see(item, page_url, state, None, None)
            for r in obs["requests"]:
                host = _normal_host_field(r.get("host") or "", r["url"])
                if not host or host in page_own or url_host(r["url"]) is None:
                    continue  # the site's own origin, or not a network request (data:, blob:)
                cls = classifier.classify("request", host, url=r["url"])
                key = ("request", host, cls.service or "")
                item = item_for(key, lambda host=host: {
                    "kind": "request", "name": host, "resources": set(), "urls": set(),
                    "failed": True, "_cls": set()})
                item["_cls"].add(cls)
                item["resources"].add(r.get("resource") or "other")
                item["urls"].add(r["url"])
                item["failed"] = item["failed"] and bool(r.get("failed"))
                initiator = r.get("initiator") or None
                see(item, page_url, state, initiator, plugin_slug(initiator, r["url"]))

    out_items = [_finish_item(item, classifier) for item in items.values()]
    out_items.sort(key=_item_key)
    violations = sorted(
        ({"name": it["name"], "kind": it["kind"], "host": it["host"], "category": it["category"],
          "page": page, "state": state}
         for it in out_items if it["category"] != "necessary"
         for page, state in sorted({(s["page"], s["state"]) for s in it["seen"]
                                    if s["state"] in BEFORE_CONSENT_STATES},
                                   key=lambda ps: (ps[0], _state_rank(ps[1])))),
        key=lambda v: (KIND_ORDER[v["kind"]], v["name"], v["host"], v["page"],
                       _state_rank(v["state"])))
    warnings = [
        {"code": "rule_blocks_breaking_service", "kind": it["kind"], "name": it["name"],
         "host": it["host"], "service": it["service"], "category": it["category"],
         "message": f"a site rule makes {it['service'] or it['name']} {it['category']}, but it "
                    "breaks the site if blocked"}
        for it in out_items
        if it["source"] == "site-rule" and it["breaks_if_blocked"]
        and it["category"] != "necessary"]

    report_pages = []
    for url in sorted(merged):
        states = merged[url]
        report_pages.append({
            "url": url,
            "states": [s for s in STATES if s in states and not states[s]["error"]],
            "errors": {s: states[s]["error"] for s in STATES if s in states and states[s]["error"]},
        })
    self_test = _self_test(merged)
    used_rules = classifier.rules
    report = {
        "id": scan.get("id"),
        "status": scan.get("status"),
        "progress": scan.get("progress"),
        "started_at": scan.get("started_at"),
        "finished_at": scan.get("finished_at"),
        "pages": report_pages,
        "items": out_items,
        "violations": violations,
        "warnings": warnings,
        "self_test": self_test,
        "rules": used_rules,
        "rules_hash": sha256_hex(used_rules),
        # What a consent's `rules_version` names (sidecar/ruleset.py): this catalogue and
        # these rules, so an auditor can tie a record to the scan that proved its rules.
        "ruleset_version": ruleset_version(classifier.catalogue.sha256, used_rules),
        "classifier": sources_info(classifier),
        "summary": {
            "pages": len(report_pages),
            "failed_states": sum(len(p["errors"]) for p in report_pages),
            "items": len(out_items),
            "unknown": sum(1 for it in out_items if it["category"] == "unknown"),
            "violations": len(violations),
            "items_in_violation": len({(v["kind"], v["name"], v["host"]) for v in violations}),
            "broken_pages": len(self_test["broken"]),
        },
    }
    report["report_hash"] = report_hash(report)
    return report


def _self_test(merged: dict[str, dict[str, dict]]) -> dict:
    """The self-test section (sidecar/selftest.py): each page whose after_reject and
    after_accept states were both captured with their signature is compared; the pages where
    blocking broke something are listed in `broken`, sorted by URL."""
    checked, not_checked, broken = 0, [], []
    for url in sorted(merged):
        states = merged[url]
        reject, accept = states.get("after_reject"), states.get("after_accept")
        usable = [s for s in (reject, accept) if s and not s["error"]]
        result = selftest.compare(reject.get("selftest") if len(usable) == 2 else None,
                                  accept.get("selftest") if len(usable) == 2 else None,
                                  url)
        if not result["checked"]:
            not_checked.append(url)
            continue
        checked += 1
        if result["errors"] or result["missing"] or result["fewer"]:
            broken.append({"page": url, **{k: result[k] for k in (
                "errors", "missing", "fewer", "truncated")}})
    return {"pages_checked": checked, "not_checked": not_checked, "broken": broken}


def _new_item(kind: str, name: str, host: str, cls, **extra) -> dict:
    item = {"kind": kind, "name": name, "host": host, "resource": None,
            "category": cls.category, "service": cls.service, "vendor": cls.vendor,
            "source": cls.source, "breaks_if_blocked": cls.breaks_if_blocked,
            "pattern": cls.pattern}
    if cls.overridden is not None:
        item["overridden"] = {k: v for k, v in cls.overridden.to_dict().items()
                              if k in ("category", "service", "source", "pattern")}
    item.update(extra)
    return item


def _fold_cookie(item: dict, c: dict) -> None:
    """Merge one sighting of a cookie into its item (the same result in any order)."""
    item["http_only"] = item["http_only"] or bool(c.get("http_only"))
    item["secure"] = item["secure"] or bool(c.get("secure"))
    if c.get("from") == "set-cookie" or (c.get("from") == "script" and item["from"] is None):
        item["from"] = c["from"]
    exp = c.get("expires")
    if exp is not None and exp > 0:  # CDP reports a session cookie as -1
        exp = int(exp)
        item["expires"] = exp if item["expires"] is None else max(item["expires"], exp)
    for key in ("same_site", "path"):
        v = c.get(key)
        if v is not None and (item[key] is None or v < item[key]):
            item[key] = v


def _finish_item(item: dict, classifier: Classifier) -> dict:
    """Sort the evidence and settle what depends on every sighting (so that the order of
    the observations never shows in the report)."""
    seen = item.pop("_seen")
    if item["kind"] == "storage":
        origins = sorted(item.pop("origins"))
        hosts = sorted(h for h in map(url_host, origins) if h)
        host = hosts[0] if hosts else ""
        item = _new_item("storage", item["name"], host,
                         classifier.classify("storage", item["name"], host=host),
                         area=item["area"], origins=origins)
    elif item["kind"] == "request":
        # One host and service, possibly matched by several patterns: the first pattern.
        cls = min(item.pop("_cls"), key=lambda c: (c.pattern or "", c.category))
        resources = sorted(item["resources"], key=RESOURCES.index)
        urls = sorted(item["urls"])
        item = _new_item("request", item["name"], item["name"], cls, resources=resources,
                         urls=urls[:MAX_URLS_PER_ITEM], urls_total=len(urls),
                         failed=item["failed"])
        item["resource"] = resources[0]
    item["seen"] = [seen[k] for k in sorted(seen)]
    return item


def _item_key(item: dict) -> tuple:
    return (KIND_ORDER[item["kind"]], item["name"], item["host"], item.get("area") or "",
            item.get("domain") or "", item["service"] or "")
