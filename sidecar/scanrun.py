"""Running a site scan in the worker (issue 13): the page list, one page per step, the
report. The worker (`screenshots.Worker.run_once`) serves render jobs first and advances a
scan by one page when none is due, so proof screenshots never wait for a whole scan.

- **The page list.** A scan with `urls` visits those. Without, the worker asks each
  SP_SITE_ORIGINS origin for the plugin's own list (SCAN_INTERFACE §5: `GET
  <origin>/?rest_route=/secure-privacy/v1/scan-pages&max_pages=N` with a token signed with
  the newest SP_SECRET_KEYS key, salt `secure-privacy/scan-pages/v1`, valid 300 s). When that
  fails, the origin's front page is scanned instead, and the report says so:
  `page_list: {"source": "plugin"|"fallback"|"request", "error": …}`. Only pages on the
  origin are taken, at most `max_pages` in all.
- **Budget.** SP_SCAN_BUDGET seconds from the scan's start: pages not reached by then are
  left out of the report and listed in `skipped` (the report says why).
- **Progress** (`progress.done` / `.total`) and the observations are stored after every page
  (`scans.add_page`), and the lease renewed: a scan whose worker died goes on elsewhere at
  the next page.
- **The report** is `sidecar.scan_report.build_report` (the classifier's side), stored with
  its hash for ever.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import time
import urllib.error
import urllib.request
from concurrent.futures import FIRST_COMPLETED, wait
from urllib.parse import urlencode

from . import renders, scans, signing
from .clock import rfc3339, utcnow

log = logging.getLogger("sidecar.scan")

SCAN_PAGES_SALT = "secure-privacy/scan-pages/v1"
PAGE_LIST_ROUTE = "/secure-privacy/v1/scan-pages"
PAGE_LIST_TIMEOUT = 15
PAGE_LIST_MAX_BYTES = 2 * 1024 * 1024
DEFAULT_MAX_PAGES = 50
MAX_PAGES = 500
STEP_WAIT = 1.0  # s a scan step waits for a page in flight before the worker looks at renders
ATTEMPTS = 3  # a scan whose worker died this many times is failed (scans.claim)


def lease_seconds(cfg: dict) -> int:
    """How long a worker holds a scan between two pages: three page states, each with up to
    two page loads, and room to spare."""
    return 3 * (2 * int(cfg.get("SP_SCREENSHOT_TIMEOUT", 20)) + 30) + 30


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(req.full_url, code, f"redirected to {newurl[:200]}",
                                     headers, fp)


def page_list_token(keys: list[str], origin: str, max_pages: int) -> str:
    return signing.serializer(keys, SCAN_PAGES_SALT).dumps(
        {"origin": origin, "max_pages": max_pages})


def fetch_page_list(origin: str, keys: list[str], max_pages: int) -> tuple[list[str], str | None]:
    """(the plugin's page URLs for `origin`, None) or ([], why not)."""
    url = f"{origin}/?{urlencode({'rest_route': PAGE_LIST_ROUTE, 'max_pages': max_pages})}"
    req = urllib.request.Request(url, headers={
        "X-Secure-Privacy-Token": page_list_token(keys, origin, max_pages),
        "Accept": "application/json", "User-Agent": "secure-privacy-sidecar/scan"})
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=PAGE_LIST_TIMEOUT) as r:
            body = r.read(PAGE_LIST_MAX_BYTES + 1)
    except urllib.error.HTTPError as e:
        return [], f"the plugin's page list answered HTTP {e.code} ({e.msg})"
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        return [], f"the plugin's page list could not be fetched: {reason}"
    if len(body) > PAGE_LIST_MAX_BYTES:
        return [], "the plugin's page list is larger than 2 MiB"
    try:
        data = json.loads(body)
        pages = data["pages"]
        urls = [p["url"] for p in pages]
        if not all(isinstance(u, str) for u in urls):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return [], "the plugin's page list is not the expected JSON ({\"pages\": [{\"url\"…}]})"
    kept = []
    for u in urls:
        if renders.may_load(u, [origin]) and u not in kept:
            kept.append(u)
    if not kept:
        return [], "the plugin's page list holds no page on this origin"
    return kept[:max_pages], None


def resolve_pages(cfg: dict, scan: dict) -> tuple[list[str], dict]:
    """(pages to visit, page_list note) for a claimed scan."""
    if scan["urls"]:
        return list(scan["urls"])[:scan["max_pages"]], {"source": "request", "error": None}
    pages, errors, sources = [], [], []
    for origin in cfg["SITE_ORIGINS"]:
        left = scan["max_pages"] - len(pages)
        if left <= 0:
            break
        found, error = fetch_page_list(origin, cfg["SECRET_KEYS"], left)
        if error:
            log.warning("scan page list failed; front page instead", extra={"fields": {
                "origin": origin, "error": error}})
            errors.append(f"{origin}: {error}; the front page was scanned instead")
            found = [origin + "/"]
        sources.append("fallback" if error else "plugin")
        pages.extend(u for u in found if u not in pages)
    note = {"source": "fallback" if "fallback" in sources else "plugin",
            "error": "; ".join(errors) or None}
    return pages[:scan["max_pages"]], note


def canonical(obj) -> bytes:
    """The canonical JSON a report's hash is taken over (as sidecar.scan_report's)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def finish(worker, scan: dict) -> None:
    """Build and store the report of a scan whose pages are all done (or out of budget)."""
    conn, t = worker.db(), worker.tables
    finished_at = utcnow()
    pages = scan["observations"] or []
    done = {p["url"] for p in pages}
    skipped = [u for u in scan["pages"] or [] if u not in done]
    try:
        scan_report = importlib.import_module("sidecar.scan_report")  # the classifier's side
        report = scan_report.build_report(
            scan={"id": scan["id"], "status": "done", "started_at": rfc3339(scan["started_at"]),
                  "finished_at": rfc3339(finished_at),
                  "progress": {"done": len(pages), "total": len(scan["pages"] or [])}},
            pages=pages, rules=scan["rules"] or [], site_origins=cfg_origins(worker.cfg))
    except Exception as e:  # noqa: BLE001 - the scan fails with the reason; evidence stays
        log.exception("scan report could not be built")
        scans.fail(conn, t, scan, f"the report could not be built: {type(e).__name__}: {e}")
        return
    # What only the scanner knows, in the report and covered by its hash.
    extra = {"page_list": scan["page_list"], "skipped": skipped,
             "budget_exhausted": bool(skipped)}
    if any(k not in report for k in extra):
        report = {**{k: v for k, v in report.items() if k != "report_hash"}, **{
            k: v for k, v in extra.items() if k not in report}}
        rehash = getattr(scan_report, "report_hash", None) or (
            lambda r: hashlib.sha256(canonical(
                {k: v for k, v in r.items() if k != "report_hash"})).hexdigest())
        report["report_hash"] = rehash(report)
    if scans.finish(conn, t, scan, report, finished_at):
        log.info("scan done", extra={"fields": {"scan": scan["id"], "pages": len(pages),
                                                "skipped": len(skipped)}})


def cfg_origins(cfg: dict) -> list[str]:
    return list(cfg["SITE_ORIGINS"])


def step(worker) -> bool:
    """Advance the worker's scan by one step (claiming one when it has none): resolve the
    page list, or visit the next page, or build the report. False when there is no scan."""
    cfg, conn, t = worker.cfg, worker.db(), worker.tables
    lease = lease_seconds(cfg)
    scan = worker.scan
    if scan is None:
        scan = scans.claim(conn, t, worker.name, lease, ATTEMPTS)
        if scan is None:
            return False
        scan["observations"] = scan["observations"] or []
        worker.scan = scan
        log.info("scan claimed", extra={"fields": {"scan": scan["id"],
                                                   "attempt": scan["attempts"]}})
    if scan["pages"] is None:
        pages, note = resolve_pages(cfg, scan)
        scan["pages"], scan["page_list"] = pages, note
        if not scans.set_pages(conn, t, scan, pages, note, lease):
            worker.scan = None
        return True
    scanner = worker.scanner
    if not hasattr(scanner, "submit"):  # a scanner that visits one page per call
        return _step_one(worker, scan, lease)
    if scanner.inflight_scan != scan["id"]:  # another scan's pages: not this one's
        if scanner.inflight:
            scanner.close()
        scanner.inflight_scan = scan["id"]
    inflight = scanner.inflight
    done = {p["url"] for p in scan["observations"]}
    todo = [u for u in scan["pages"] if u not in done and u not in inflight]
    spent = (utcnow() - scan["started_at"]).total_seconds()
    over = spent >= int(cfg.get("SP_SCAN_BUDGET", 900))
    if not inflight and (not todo or over):
        finish(worker, scan)
        worker.scan = None
        scanner.close()  # its memory back until the next scan
        return True
    # Keep the browsers busy: several pages in flight; a page not started within the budget
    # is not started at all (it is `skipped`).
    def fill():
        while todo and not over and len(inflight) < scanner.window:
            url = todo.pop(0)
            inflight[url] = (time.monotonic(), scanner.submit(url))

    fill()
    # Back to the worker within STEP_WAIT: render jobs are served between two steps.
    wait([f for _, f in inflight.values()], timeout=STEP_WAIT, return_when=FIRST_COMPLETED)
    # One page stored per step (progress goes up one by one); another page already done is
    # stored by the next step, which then does not wait.
    finished = next((u for u, (_, f) in inflight.items() if f.done()), None)
    if finished is None:
        return True
    began, future = inflight.pop(finished)
    fill()  # the next page takes its place at once
    observed = future.result()
    scan["observations"].append(observed)
    _log_page(scan, observed, began, scanner.page_ms.pop(finished, {}))
    if not scans.add_page(conn, t, scan, scan["observations"], lease):
        log.warning("scan taken over by another worker", extra={"fields": {
            "scan": scan["id"]}})
        scanner.close()
        worker.scan = None
    return True


def _log_page(scan: dict, observed: dict, began: float, state_ms: dict) -> None:
    log.info("scan page", extra={"fields": {
        "scan": scan["id"], "page": observed["url"][:300],
        "ms": int((time.monotonic() - began) * 1000), "state_ms": state_ms,
        "errors": [s for s, v in observed["states"].items() if v.get("error")]}})


def _step_one(worker, scan: dict, lease: int) -> bool:
    """One page per step, with a scanner that has only `scan_page`."""
    cfg, conn, t = worker.cfg, worker.db(), worker.tables
    done = {p["url"] for p in scan["observations"]}
    todo = [u for u in scan["pages"] if u not in done]
    spent = (utcnow() - scan["started_at"]).total_seconds()
    if not todo or spent >= int(cfg.get("SP_SCAN_BUDGET", 900)):
        finish(worker, scan)
        worker.scan = None
        worker.scanner.close()  # its memory back until the next scan
        return True
    began = time.monotonic()
    observed = worker.scanner.scan_page(todo[0])
    scan["observations"].append(observed)
    _log_page(scan, observed, began, dict(getattr(worker.scanner, "state_ms", {}) or {}))
    if not scans.add_page(conn, t, scan, scan["observations"], lease):
        log.warning("scan taken over by another worker", extra={"fields": {
            "scan": scan["id"]}})
        worker.scan = None
    return True
