"""The site scan (issue 13) on the real stack: the test WordPress, MariaDB, Chromium. A scan
is started through the API and run by a real worker; what the browser saw in each of the
three states is checked against fixture pages that:

- set a first-party analytics cookie (`_ga`) from script and write a localStorage key no
  catalogue knows;
- load a script, an iframe and a pixel from a "third party": a second loopback origin
  (another port, let through by the test-only SP_SCAN_TEST_ORIGINS), whose answers set an
  HttpOnly cookie; the script sends a beacon;
- load a payment script (js.stripe.com: no network here, so the attempt fails, and counts);
- print a marker only for signed-in users (the scanner is anonymous: it never sees it);
- redirect, or frame, to a private address (SSRF: nothing is reached).

Tables of their own (prefix `sc_`) and a worker of their own, as tests/e2e/test_screenshots.py
does. The report built from it (sidecar/scan_report.py) is checked in
`test_scan_report_classifies_what_was_seen`.
"""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from helpers import TEST_TOKENS, TcpCounter, admin_headers, run_sql, secret, wipe_tables
from pages import LoopbackSite, stop_worker

from sidecar import config, create_app
from sidecar.screenshots import Worker

SCAN_KEY = secret("scan-key")
STATES = ("before_consent", "after_reject", "after_accept")
MARKER_PLUGIN = "sp-test-signed-in-marker.php"
REDIRECT = "sp-scan-redirect.php"
NO_WIDGET = "sp-scan-no-widget.html"  # a static page: no consent widget on it


PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9"
         b"\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00"
         b"\x02\x02D\x01\x00;")


def third_party() -> LoopbackSite:
    """A tiny "third-party" service on 127.0.0.1 (its own port): a script that sends a
    beacon, a frame, a pixel; every answer sets the HttpOnly cookie `tp_uid`."""
    def answer(req):
        path = req.path.split("?")[0]
        if path == "/tracker.js":
            body = (f"navigator.sendBeacon('{tp.origin}/collect', 'v=1');").encode()
            ctype = "application/javascript"
        elif path == "/frame.html":
            body, ctype = b"<!doctype html><p>widget</p>", "text/html"
        elif path == "/xframe.html":  # framed cross-site (as localhost): its requests
            body = b"<!doctype html><p>video</p><img src='/in-xframe.gif' alt=''>"
            ctype = "text/html"
        else:
            body, ctype = PIXEL, "image/gif"
        return 200, [("Content-Type", ctype),
                     ("Set-Cookie", "tp_uid=abc; Path=/; Max-Age=86400; HttpOnly")], body

    tp = LoopbackSite(answer)
    return tp


def fixture_html(tp: str, cross_site: str) -> str:
    return (
        "<p>Scan fixture</p>"
        "<script>document.cookie = '_ga=GA1.1.12345.67890; path=/; max-age=31536000';"
        " localStorage.setItem('sp_test_mystery_key', '1');</script>"
        f'<script src="{tp}/tracker.js"></script>'
        f'<iframe src="{tp}/frame.html" width="300" height="100"></iframe>'
        f'<img src="{tp}/px.gif?ev=pageview" width="1" height="1" alt="">'
        f'<iframe src="{cross_site}/xframe.html" width="300" height="100"></iframe>'
        '<script src="https://js.stripe.com/v3/"></script>')


@pytest.fixture(scope="module")
def scanning(full_stack, site):
    """The fixture pages, the third party, the SSRF listener, an app and worker settings on
    tables `sc_*` of the stack's database."""
    tp = third_party()
    listener = TcpCounter()
    private = f"http://127.0.0.1:{listener.port}/admin"
    marker = full_stack.mu_plugin(
        MARKER_PLUGIN,
        "<?php add_action('wp_footer', function () { if (is_user_logged_in()) {"
        " echo '<p id=\"sp-signed-in-marker\">SIGNED-IN-MARKER</p><script>document.cookie ="
        " \"sp_signed_in_marker=1; path=/\";</script><img src=\"" + tp.origin +
        "/signed-in-marker.gif\" alt=\"\">'; } });")
    (full_stack.wp_dir / REDIRECT).write_text(
        "<?php header('Location: ' . $_GET['to'], true, 302);")
    # no widget; frames to a private address and to the cloud metadata address
    (full_stack.wp_dir / NO_WIDGET).write_text(
        f'<!doctype html><p>no widget</p><img src="{tp.origin}/px.gif?ev=static" alt="">'
        f'<iframe src="{private}"></iframe>'
        '<iframe src="http://169.254.169.254/latest/meta-data/"></iframe>')
    settings = {
        "SP_DATABASE_URL": full_stack.database_url(), "SP_TABLE_PREFIX": "sc_",
        "SP_SECRET_KEYS": SCAN_KEY, "SP_ADMIN_TOKENS": TEST_TOKENS[-1],
        "SP_SITE_ORIGINS": full_stack.wp_url, "SP_SCREENSHOT_TIMEOUT": "10",
        "SP_SCAN_TEST_ORIGINS": f"{tp.origin},{tp.cross_site}",
        "SP_ANCHOR_FILE": str(full_stack.state_dir / "anchors-sc.jsonl"),
    }
    app = create_app(settings)
    wipe_tables(full_stack.database_url(), "sc_")
    with site.page("Scan fixture", fixture_html(tp.origin, tp.cross_site)) as fixture:
        yield Scanning(full_stack, app, settings, tp, listener, fixture,
                       f"{full_stack.wp_url}/{REDIRECT}?to={quote(private, safe='')}")
    app.extensions["sp_pool"].close()
    marker.unlink()
    (full_stack.wp_dir / REDIRECT).unlink()
    (full_stack.wp_dir / NO_WIDGET).unlink()
    tp.stop()
    listener.close()


class Scanning:
    def __init__(self, stack, app, settings, tp, listener, fixture, redirect):
        self.stack, self.app, self.settings = stack, app, settings
        self.tp, self.listener = tp, listener
        self.fixture, self.redirect = fixture, redirect
        self.no_widget = f"{stack.wp_url}/{NO_WIDGET}"
        self.client = app.test_client()
        self._result = None

    def sql(self, statement, args=()):
        return run_sql(self.stack.database_url(), statement, args)

    def run_scan(self, urls: list[str], **settings) -> tuple[str, float, list]:
        """Start a scan through the API and let a real worker run it (`settings` override
        its settings); (id, seconds, the progress seen through the API after each step)."""
        r = self.client.post("/v1/scans", json={"urls": urls}, headers=admin_headers())
        assert r.status_code == 202, r.get_json()
        scan_id = r.get_json()["id"]
        worker = Worker(config.load(overrides={**self.settings, **settings}))
        worker.next_seal = float("inf")  # the stack's worker seals; this one scans
        progress, step_times = [], []
        started = time.monotonic()
        try:
            while time.monotonic() - started < 240:
                worker.run_once()
                shown = self.client.get(f"/v1/scans/{scan_id}", headers=admin_headers())
                body = shown.get_json()
                progress.append((body["status"], body["progress"]["done"],
                                 body["progress"]["total"]))
                step_times.append(time.monotonic())
                if body["status"] in ("done", "failed"):
                    break
            else:
                pytest.fail("the scan did not finish in 240 s")
        finally:
            if worker._scanner is not None:
                worker._scanner.close()
            stop_worker(worker)
        # when the first page was stored (pages run several at a time: not one page's time)
        first = next(i for i, p in enumerate(progress) if p[1] == 1)
        self.first_page_seconds = step_times[first] - started
        return scan_id, time.monotonic() - started, progress

    def result(self):
        """One scan of the three pages for the whole module (each test reads its part)."""
        if self._result is None:
            consents = self.consent_count()
            scan_id, took, progress = self.run_scan([self.fixture, self.redirect,
                                                     self.no_widget])
            (row,) = self.sql("SELECT status, error, observations FROM sc_sp_scans"
                              " WHERE id = %s", (scan_id,))
            import json
            pages = {p["url"]: p for p in json.loads(row["observations"])}
            self._result = {"id": scan_id, "took": took, "progress": progress, "row": row,
                            "pages": pages, "consents_before": consents,
                            "consents_after": self.consent_count(),
                            "tp_paths": [path for path, _ in list(self.tp.requests)]}
            print(f"\nscan of 3 pages x 3 states: {took:.1f} s; the first page stored after"
                  f" {self.first_page_seconds:.1f} s")
        return self._result

    def consent_count(self) -> int:
        return self.sql(f"SELECT COUNT(*) AS n FROM {self.stack.table_prefix}sp_consents")[0]["n"]


def _cookie(state, name):
    found = [c for c in state["cookies"] if c["name"] == name]
    return found[0] if found else None


def _requests(state, path):
    return [r for r in state["requests"] if path in r["url"]]


def test_scan_runs_through_the_api_with_progress_and_stores_the_observations(scanning):
    res = scanning.result()
    # progress seen through the API: the page list first, then page after page
    assert ("running", 0, 3) in res["progress"], res["progress"]
    assert {("running", n, 3) for n in (1, 2)} <= set(res["progress"]), res["progress"]
    assert set(res["pages"]) == {scanning.fixture, scanning.redirect, scanning.no_widget}
    for page in res["pages"].values():
        assert list(page["states"]) == list(STATES)
    assert res["row"]["status"] == "done", res["row"]["error"]


def test_each_state_records_cookies_storage_and_requests(scanning):
    check_fixture_page(scanning, scanning.result()["pages"][scanning.fixture])


def test_three_browsers_see_the_same_states_at_once(scanning):
    scan_id, took, _ = scanning.run_scan([scanning.fixture], SP_SCAN_BROWSERS="3")
    (row,) = scanning.sql("SELECT observations FROM sc_sp_scans WHERE id = %s", (scan_id,))
    import json
    (page,) = json.loads(row["observations"])
    check_fixture_page(scanning, page)
    print(f"\nthe fixture page's three states with three browsers: {took:.1f} s")


def check_fixture_page(scanning, page: dict) -> None:
    tp_host = scanning.tp.origin.split("://")[1]
    for name in STATES:
        state = page["states"][name]
        assert state["error"] is None, (name, state["error"])
        ga = _cookie(state, "_ga")
        assert ga and ga["from"] == "script" and ga["set_by_url"] is None, (name, ga)
        assert ga["http_only"] is False and ga["expires"] and ga["domain"] == "127.0.0.1"
        # the third party's HttpOnly cookie, from its responses' Set-Cookie
        tp_uid = _cookie(state, "tp_uid")
        assert tp_uid and tp_uid["http_only"] is True and tp_uid["from"] == "set-cookie", \
            (name, tp_uid)
        assert tp_uid["set_by_url"].startswith(scanning.tp.origin)
        assert {"area": "local", "key": "sp_test_mystery_key",
                "origin": scanning.stack.wp_url} in state["storage"], (name, state["storage"])
        (script,) = _requests(state, "/tracker.js")
        (frame,) = _requests(state, "/frame.html")
        (pixel,) = _requests(state, "/px.gif")
        assert (script["resource"], frame["resource"], pixel["resource"]) == \
            ("script", "iframe", "image")
        for r in (script, frame, pixel):
            assert r["host"] == tp_host and r["failed"] is False
            assert r["initiator"] == scanning.fixture, r  # the page's parser asked
        # a cross-site frame's own requests are seen too
        (xframe,) = _requests(state, "/xframe.html")
        (inside,) = _requests(state, "/in-xframe.gif")
        assert xframe["resource"] == "iframe" and xframe["host"] == tp_host.replace(
            "127.0.0.1", "localhost")
        assert inside["resource"] == "image" and inside["initiator"] == xframe["url"]
        (beacon,) = _requests(state, "/collect")
        assert beacon["resource"] == "beacon" and beacon["initiator"] == script["url"]
        (stripe,) = [r for r in state["requests"] if r["host"] == "js.stripe.com"]
        assert stripe["resource"] == "script" and stripe["failed"] is True  # attempted
        (doc,) = [r for r in state["requests"] if r["url"] == scanning.fixture]
        assert doc["resource"] == "other"
        assert doc["host"] == scanning.stack.wp_url.split("://")[1] and not doc["failed"]
    # the widget's own choice, after each click
    assert _cookie(page["states"]["before_consent"], "sp_consent") is None
    for name in ("after_reject", "after_accept"):
        assert _cookie(page["states"][name], "sp_consent")["from"] == "script"


def test_every_state_starts_in_a_fresh_profile(scanning):
    """Nothing is carried over: the page scanned after the fixture page's clicks (same
    origin) has neither the consent cookie nor cookies it did not set itself."""
    res = scanning.result()
    assert _cookie(res["pages"][scanning.fixture]["states"]["before_consent"],
                   "sp_consent") is None
    later = res["pages"][scanning.no_widget]["states"]["before_consent"]
    assert later["error"] is None and later["requests"]
    for name in ("sp_consent", "_ga"):
        assert _cookie(later, name) is None, name
    assert _cookie(later, "tp_uid")["set_by_url"].startswith(scanning.tp.origin + "/px.gif")
    assert {s["key"] for s in later["storage"]}.isdisjoint({"sp_test_mystery_key",
                                                            "sp_consent_pending"})


def test_a_state_the_widget_does_not_offer_is_reported_not_reached(scanning):
    states = scanning.result()["pages"][scanning.no_widget]["states"]
    before = states["before_consent"]
    assert before["error"] is None and _requests(before, "px.gif?ev=static")
    for name, button in (("after_reject", "reject-all"), ("after_accept", "accept-all")):
        state = states[name]
        assert f"{button} button" in state["error"] and "not on the page" in state["error"]
        assert state["cookies"] == state["storage"] == state["requests"] == []


def test_the_scanners_clicks_record_no_consent(scanning):
    res = scanning.result()
    assert res["consents_after"] == res["consents_before"]


def test_the_scanner_is_never_signed_in(scanning, admin):
    res = scanning.result()
    # The marker shows for a signed-in user ...
    admin.get(scanning.fixture)
    assert "SIGNED-IN-MARKER" in admin.page_source
    # ... and never to the scanner.
    for page in res["pages"].values():
        for name, state in page["states"].items():
            assert not _cookie(state, "sp_signed_in_marker"), (page["url"], name)
            assert not _requests(state, "signed-in-marker"), (page["url"], name)
            assert not any(c["name"].startswith("wordpress_logged_in") for c in state["cookies"])
    assert not any("signed-in-marker" in p for p in res["tp_paths"])
    assert any("/tracker.js" in p for p in res["tp_paths"])


def test_a_page_that_redirects_or_frames_to_a_private_address_reaches_nothing(scanning):
    res = scanning.result()
    assert scanning.listener.hits == 0
    private = f"127.0.0.1:{scanning.listener.port}"
    redirect = res["pages"][scanning.redirect]
    for name, state in redirect["states"].items():
        assert state["error"] and "off the site" in state["error"], (name, state["error"])
        assert state["cookies"] == [] and state["storage"] == []
        hops = [r for r in state["requests"] if r["host"] == private]
        assert hops and all(r["failed"] for r in hops), (name, state["requests"])
    framed = res["pages"][scanning.no_widget]["states"]["before_consent"]
    assert framed["error"] is None, framed["error"]
    for host in (private, "169.254.169.254"):
        (frame,) = [r for r in framed["requests"] if r["host"] == host]
        assert frame["resource"] == "iframe" and frame["failed"] is True, frame


def test_scan_report_classifies_what_was_seen(scanning):
    res = scanning.result()
    report = scanning.client.get(f"/v1/scans/{res['id']}", headers=admin_headers()).get_json()
    assert report["status"] == "done" and len(report["report_hash"]) == 64
    assert report["page_list"] == {"source": "request", "error": None}
    items = {(i["kind"], i["name"]): i for i in report["items"]}
    tp_host = scanning.tp.origin.split("://")[1]
    ga = items[("cookie", "_ga")]
    assert ga["category"] == "statistics" and ga["source"] in ("catalogue",
                                                                "open-cookie-database")
    assert ga["from"] == "script"
    assert {(s["page"], s["state"]) for s in ga["seen"]} >= {
        (scanning.fixture, s) for s in STATES}
    mystery = items[("storage", "sp_test_mystery_key")]
    assert mystery["category"] == "unknown" and mystery["source"] == "unknown"
    tp_uid = items[("cookie", "tp_uid")]
    assert tp_uid["http_only"] is True and tp_uid["from"] == "set-cookie"
    third = items[("request", tp_host)]
    assert third["category"] == "unknown"
    assert {s["initiator"] for s in third["seen"]} >= {scanning.fixture}
    stripe = items[("request", "js.stripe.com")]
    assert stripe["category"] == "necessary" and stripe["breaks_if_blocked"] is True
    # own-origin requests are no items
    assert ("request", scanning.stack.wp_url.split("://")[1]) not in items
    # violations: exactly the items not necessary seen before consent or after reject
    expected = {(i["kind"], i["name"], s["page"], s["state"]) for i in report["items"]
                if i["category"] != "necessary" for s in i["seen"]
                if s["state"] in ("before_consent", "after_reject")}
    got = {(v["kind"], v["name"], v["page"], v["state"]) for v in report["violations"]}
    assert got == expected and ("cookie", "_ga", scanning.fixture, "before_consent") in got
    # The self-test: the fixture page works the same after Reject all as after Accept all
    # (nothing on it is blocked); the pages whose states were not reached are not checked.
    assert report["self_test"] == {"pages_checked": 1, "broken": [], "not_checked": sorted(
        [scanning.redirect, scanning.no_widget])}, report["self_test"]


def test_the_page_list_comes_from_the_sites_plugin_or_else_its_front_page(scanning):
    """The worker asks the real WordPress for its page list with a token signed with the
    site's secret. Until the plugin's scan-pages route (h/scanpage) is on this branch, the
    answer is a 404 and the front page is scanned, saying why."""
    from pathlib import Path

    from sidecar import scanrun
    stack = scanning.stack
    cfg = {"SITE_ORIGINS": [stack.wp_url], "SECRET_KEYS": stack.secret_keys.split(",")}
    pages, note = scanrun.resolve_pages(cfg, {"urls": None, "max_pages": 5})
    route = Path(__file__).resolve().parents[2] / "wp-plugin" / "includes" / "scan-pages.php"
    if route.exists():
        assert note == {"source": "plugin", "error": None}, note
        assert 1 <= len(pages) <= 5 and all(p.startswith(stack.wp_url + "/") for p in pages)
        # a token signed with another secret gets nothing
        other = {**cfg, "SECRET_KEYS": [k + "-other" for k in cfg["SECRET_KEYS"]]}
        pages, note = scanrun.resolve_pages(other, {"urls": None, "max_pages": 5})
        assert note["source"] == "fallback" and "HTTP 401" in note["error"]
    else:
        assert note["source"] == "fallback" and "HTTP 404" in note["error"], note
    assert pages == [stack.wp_url + "/"] or note["source"] == "plugin"
