"""The site scanner's profile reuse (issue 13): a lane keeps one browser context for many
jobs and empties it after each (sidecar/scanner.py, `Scanner.end_job`), so every job must
start exactly as a brand-new profile does. A page (and a cross-site frame in it) first
reports what it finds of the browser's state — cookies, localStorage, sessionStorage, the
window name, IndexedDB databases, Cache Storage, service workers, history — then plants one
of each, and an HttpOnly cookie comes with every answer; a script with a long cache
lifetime is in the page. The next job in the same profile must report what the first job
(in a brand-new profile) reported, send no planted cookie, and fetch the script again.

Real Chromium, a real egress proxy, two loopback origins; no WordPress needed.
"""

from __future__ import annotations

import json
import time
from urllib.parse import unquote

import pytest
from pages import LoopbackSite

from sidecar.egress import Egress
from sidecar.scanner import Scanner

PROBE = """
(async function () {
  const who = %s, found = {}, planted = [];
  const step = async (name, fn) => { try { await fn(); planted.push(name); } catch (e) {} };
  found.cookie = document.cookie;
  try { found.local = Object.keys(localStorage); } catch (e) { found.local = 'denied'; }
  try { found.session = Object.keys(sessionStorage); } catch (e) { found.session = 'denied'; }
  found.name = window.name;
  found.history = history.length;
  try { found.idb = (await indexedDB.databases()).map(d => d.name); }
  catch (e) { found.idb = 'denied'; }
  try { found.caches = await caches.keys(); } catch (e) { found.caches = 'denied'; }
  try { found.sw = (await navigator.serviceWorker.getRegistrations()).length; }
  catch (e) { found.sw = 'denied'; }
  await fetch('/report/' + who + '?' + encodeURIComponent(JSON.stringify(found)));
  await step('cookie', () => { document.cookie = 'planted_' + who + '=1; max-age=86400; path=/'; });
  await step('local', () => localStorage.setItem('planted', '1'));
  await step('session', () => sessionStorage.setItem('planted', '1'));
  await step('name', () => { window.name = 'planted'; });
  await step('idb', () => new Promise((ok, bad) => {
    const r = indexedDB.open('planted-db'); r.onsuccess = ok; r.onerror = bad; }));
  await step('caches', async () => (await caches.open('planted')).put('/x', new Response('x')));
  await step('sw', () => navigator.serviceWorker.register('/sw.js'));
  await fetch('/planted/' + who + '?' + planted.join(','));
})();
"""


def answer(req):
    path = req.path.split("?")[0]
    headers = [("Set-Cookie", "srv_uid=1; Path=/; Max-Age=86400; HttpOnly")]
    if path == "/page":
        port = req.server.server_address[1]
        body = (f'<!doctype html><title>profile</title><script src="/cached.js"></script>'
                f"<script>{PROBE % json.dumps('top')}</script>"
                f'<iframe src="http://localhost:{port}/frame"></iframe>').encode()
        return 200, [*headers, ("Content-Type", "text/html")], body
    if path == "/frame":
        body = f"<!doctype html><script>{PROBE % json.dumps('frame')}</script>".encode()
        return 200, [*headers, ("Content-Type", "text/html")], body
    if path == "/cached.js":
        return 200, [*headers, ("Content-Type", "application/javascript"),
                     ("Cache-Control", "public, max-age=86400, immutable")], b"window.c = 1;"
    if path == "/sw.js":
        return 200, [("Content-Type", "application/javascript")], b"self.onfetch = null;"
    return 204, headers, b""


@pytest.fixture(scope="module")
def server():
    srv = LoopbackSite(answer)
    yield srv
    srv.stop()


def reports(server, since: int) -> dict:
    """{who: what it found} and {who: what it planted} from the requests after `since`."""
    with server.lock:
        got = list(server.requests[since:])
    found, planted = {}, {}
    for path, _ in got:
        where, _, query = path.partition("?")
        if where.startswith("/report/"):
            found[where.rsplit("/", 1)[1]] = json.loads(unquote(query))
        elif where.startswith("/planted/"):
            planted[where.rsplit("/", 1)[1]] = set(filter(None, query.split(",")))
    return found, planted


def job(scanner, server, url: str) -> tuple[dict, dict, list, list]:
    """(what the page and its frame found, what they planted, the requests the server got,
    the storage the scanner reported) of one job."""
    since = len(server.requests)
    state = scanner.scan_states(url, ("before_consent",), {})["before_consent"]
    assert state["error"] is None, state["error"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(reports(server, since)[1]) < 2:
        time.sleep(0.1)
    found, planted = reports(server, since)
    with server.lock:
        got = list(server.requests[since:])
    return found, planted, got, state["storage"]


def test_each_job_in_a_reused_profile_starts_as_a_brand_new_profile(server):
    egress = Egress([server.origin, server.cross_site])
    scanner = Scanner({"SITE_ORIGINS": [server.origin], "SP_SCAN_BROWSERS": 1,
                       "SP_SCREENSHOT_TIMEOUT": 10}, egress)
    url = server.origin + "/page"
    try:
        first, planted, _, storage = job(scanner, server, url)
        profile = scanner.profile
        assert profile is not None
        # The page could plant every kind of state (or the test would prove nothing) ...
        assert planted["top"] >= {"cookie", "local", "session", "name", "idb", "caches", "sw"}
        assert planted["frame"] >= {"local", "session", "name", "idb"}, planted
        # The scan reports what the page and its cross-site frame stored (in its partition).
        for origin in (server.origin, server.cross_site):
            for area, key in (("local", "planted"), ("session", "planted"),
                              ("indexeddb", "planted-db")):
                assert {"area": area, "key": key, "origin": origin} in storage, storage
        # ... and a brand-new profile has none of it.
        assert first["top"]["cookie"] == "" and first["top"]["local"] == [], first
        for _ in range(2):
            again, planted_again, requests, _ = job(scanner, server, url)
            assert scanner.profile == profile  # the same profile, reused
            assert again == first  # what the page and its frame find: exactly as new
            assert planted_again == planted
            # no cookie of an earlier job was sent: the first request to either origin
            # (the page, the cross-site frame) carries none
            for first_path in ("/page", "/frame"):
                headers = next(h for p, h in requests if p == first_path)
                assert headers.get("Cookie") is None, (first_path, headers.get("Cookie"))
            # the long-cached script was asked for again
            assert [p for p, _ in requests if p == "/cached.js"] == ["/cached.js"]
        assert scanner.profile_jobs == 3
    finally:
        scanner.close()
        egress.close()


def test_a_profile_is_replaced_after_its_jobs_or_when_it_cannot_be_emptied(server, monkeypatch,
                                                                          caplog):
    import sidecar.scanner as scanner_module
    monkeypatch.setattr(scanner_module, "PROFILE_JOBS", 2)
    egress = Egress([server.origin, server.cross_site])
    scanner = Scanner({"SITE_ORIGINS": [server.origin], "SP_SCAN_BROWSERS": 1,
                       "SP_SCREENSHOT_TIMEOUT": 10}, egress)
    url = server.origin + "/page"
    try:
        job(scanner, server, url)
        first = scanner.profile
        job(scanner, server, url)
        assert scanner.profile is None  # served PROFILE_JOBS jobs: removed
        # A reset that leaves a cookie behind throws the profile away (here a new profile's
        # first job: it had jobs left).
        real = scanner_module.browser.cdp

        def keep_cookies(d, cmd, params=None):
            if cmd in ("Network.clearBrowserCookies", "Storage.clearDataForOrigin",
                       "Storage.clearDataForStorageKey"):  # ("all" includes cookies)
                return {}
            return real(d, cmd, params)

        monkeypatch.setattr(scanner_module.browser, "cdp", keep_cookies)
        made = []
        real_new = scanner.new_context
        monkeypatch.setattr(scanner, "new_context",
                            lambda d: made.append(real_new(d)) or made[-1])
        job(scanner, server, url)
        assert made and made[0][0] not in (None, first) and scanner.profile_jobs == 1
        assert scanner.profile is None
        assert "scan profile not empty after its reset" in caplog.text
    finally:
        scanner.close()
        egress.close()
