"""Site scans without a browser (issue 13): the `/v1/scans` API (auth, validation, queued
scans with progress, newest-first list with cursor), the scan queue in the database
(claim, lease take-over, progress, the report kept), the plugin's page list, and the
loopback-third-party test setting (off by default). The browser part is
tests/e2e/test_scan.py."""

from __future__ import annotations

import http.server
import json
import sys
import threading
import types
from datetime import timedelta

import pytest
from helpers import SITE, TEST_KEYS, TEST_TOKENS, admin_headers

from sidecar import config, scanrun, scans
from sidecar.db import Tables, connect
from sidecar.egress import Egress
from sidecar.screenshots import Worker
from sidecar.signing import serializer

T = Tables("t_")


def post(client, body, token=TEST_TOKENS[-1]):
    return client.post("/v1/scans", json=body, headers=admin_headers(token))


def get(client, path, token=TEST_TOKENS[-1]):
    return client.get(path, headers=admin_headers(token))


# ---- the API ----------------------------------------------------------------------------

def test_scan_endpoints_require_the_admin_token(client):
    some = "/v1/scans/00000000-0000-4000-8000-000000000000"
    for method, path in (("POST", "/v1/scans"), ("GET", "/v1/scans"), ("GET", some)):
        r = client.open(path, method=method, json={})
        assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
        r = client.open(path, method=method, json={},
                        headers={"Authorization": "Bearer not-a-token"})
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("body,field", [
    ({"urls": ["http://elsewhere.test/"]}, "urls[0]"),
    ({"urls": [SITE + "/", "https://site.test/"]}, "urls[1]"),  # another scheme, another origin
    ({"urls": ["file:///etc/passwd"]}, "urls[0]"),
    ({"urls": [SITE + "/", 5]}, "urls[1]"),
    ({"urls": []}, "urls"),
    ({"urls": SITE + "/"}, "urls"),
    ({"urls": [SITE + f"/p{i}" for i in range(3)], "max_pages": 2}, "urls"),
    ({"max_pages": 0}, "max_pages"),
    ({"max_pages": 501}, "max_pages"),
    ({"max_pages": "5"}, "max_pages"),
    ({"max_pages": True}, "max_pages"),
    ({"max_pages": 2.5}, "max_pages"),
    ({"rules": {"kind": "cookie"}}, "rules"),
    ({"rules": ["_ga"]}, "rules[0]"),
    ({"rules": [{"kind": "pixel", "pattern": "_ga", "category": "statistics"}]},
     "rules[0].kind"),
    ({"rules": [{"kind": "cookie", "pattern": "", "category": "statistics"}]},
     "rules[0].pattern"),
    ({"rules": [{"kind": "cookie", "pattern": "_ga", "category": "unknown"}]},
     "rules[0].category"),
    ({"rules": [{"kind": "cookie", "pattern": "_ga", "category": "statistics", "x": 1}]},
     "rules[0].x"),
    ({"rules": [{"kind": "cookie", "pattern": "_ga", "category": "statistics", "service": 3}]},
     "rules[0].service"),
    ({"url": [SITE + "/"]}, "url"),
])
def test_bad_scan_requests_are_422_naming_the_field_and_store_nothing(client, sql, body, field):
    r = post(client, body)
    assert r.status_code == 422, r.get_json()
    err = r.get_json()["error"]
    assert err["code"] == "invalid_payload" and err["field"] == field, err
    assert sql("SELECT COUNT(*) AS n FROM t_sp_scans")[0]["n"] == 0


def test_rules_the_classifier_would_refuse_are_refused_before_the_scan(client, sql,
                                                                      monkeypatch):
    """The report's classifier (sidecar.classify, h/classify's) has the last word on a rule:
    what it refuses is a 422 now, not a failed scan at the end. Its validate_rules is faked
    here; the real one is used when it is there."""
    module = types.ModuleType("sidecar.classify")

    class RuleError(ValueError):
        pass

    def validate_rules(rules):
        for i, r in enumerate(rules):
            if r["pattern"] == "*":
                raise RuleError(f"rules[{i}].pattern '*' is not a name with optional * globs")
        return rules

    module.RuleError, module.validate_rules = RuleError, validate_rules
    monkeypatch.setitem(sys.modules, "sidecar.classify", module)
    ok = {"kind": "cookie", "pattern": "_ga", "category": "statistics"}
    r = post(client, {"rules": [ok, {**ok, "pattern": "*"}]})
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["error"]["field"] == "rules[1].pattern"
    assert "is not a name" in r.get_json()["error"]["message"]
    assert sql("SELECT COUNT(*) AS n FROM t_sp_scans")[0]["n"] == 0
    assert post(client, {"rules": [ok]}).status_code == 202


def test_a_body_that_is_not_an_object_is_422(client):
    r = client.post("/v1/scans", data="[1]", headers={**admin_headers(),
                                                      "Content-Type": "application/json"})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "invalid_json"


def test_a_queued_scan_is_visible_with_its_progress(client):
    rules = [{"kind": "cookie", "pattern": "_hj*", "category": "statistics",
              "service": "Hotjar"}]
    r = post(client, {"urls": [SITE + "/", SITE + "/?p=2", SITE + "/"], "max_pages": 5,
                      "rules": rules})
    assert r.status_code == 202, r.get_json()
    body = r.get_json()
    assert body["status"] == "queued" and r.headers["Location"] == f"/v1/scans/{body['id']}"
    scan = get(client, f"/v1/scans/{body['id']}").get_json()
    assert scan["id"] == body["id"] and scan["status"] == "queued"
    assert scan["progress"] == {"done": 0, "total": 2}  # the URLs given, once each
    assert scan["pages"] == [] and scan["items"] == [] and scan["violations"] == []
    assert scan["rules"] == rules and scan["report_hash"] is None
    assert scan["requested"] == {"urls": [SITE + "/", SITE + "/?p=2"], "max_pages": 5}
    assert scan["created_at"].endswith("Z") and scan["started_at"] is None
    (item,) = get(client, "/v1/scans").get_json()["items"]
    assert item["id"] == body["id"] and item["status"] == "queued"
    assert item["progress"] == {"done": 0, "total": 2} and item["items"] is None


def test_an_empty_body_scans_the_sites_own_list_with_the_default_cap(client):
    r = post(client, {})
    assert r.status_code == 202
    scan = get(client, f"/v1/scans/{r.get_json()['id']}").get_json()
    assert scan["requested"] == {"urls": None, "max_pages": 50}
    r = post(client, {"urls": None, "max_pages": 7})  # null, as openapi.json allows
    assert r.status_code == 202
    scan = get(client, f"/v1/scans/{r.get_json()['id']}").get_json()
    assert scan["requested"] == {"urls": None, "max_pages": 7}


def test_unknown_scan_is_404(client):
    r = get(client, "/v1/scans/00000000-0000-4000-8000-000000000000")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    assert get(client, "/v1/scans/not-a-uuid").status_code == 404


def test_scan_list_is_newest_first_with_a_cursor(client):
    ids = [post(client, {"urls": [SITE + f"/?p={i}"]}).get_json()["id"] for i in range(5)]
    first = get(client, "/v1/scans?limit=2").get_json()
    assert [s["id"] for s in first["items"]] == ids[::-1][:2]
    second = get(client, f"/v1/scans?limit=2&cursor={first['next_cursor']}").get_json()
    third = get(client, f"/v1/scans?limit=2&cursor={second['next_cursor']}").get_json()
    assert [s["id"] for s in second["items"] + third["items"]] == ids[::-1][2:]
    assert third["next_cursor"] is None
    for bad in ("limit=0", "limit=101", "cursor=abc", "cursor="):
        r = get(client, f"/v1/scans?{bad}")
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_parameter"


def test_a_large_request_within_a_mebibyte_is_taken(client):
    """SP_MAX_BODY_BYTES (16 KiB, for consents) does not cut a scan of 500 long URLs."""
    urls = [SITE + f"/?p={i}&x={'a' * 100}" for i in range(500)]
    r = post(client, {"urls": urls, "max_pages": 500})
    assert r.status_code == 202, r.get_json()


# ---- the queue --------------------------------------------------------------------------

@pytest.fixture
def db(app, test_db):
    conn = connect(test_db)
    yield conn
    conn.close()


def test_claim_takes_the_oldest_and_a_held_scan_is_not_taken_twice(client, db):
    a = post(client, {"urls": [SITE + "/a"]}).get_json()["id"]
    b = post(client, {"urls": [SITE + "/b"]}).get_json()["id"]
    first = scans.claim(db, T, "w1", 60)
    second = scans.claim(db, T, "w2", 60)
    assert (first["id"], second["id"]) == (a, b)
    assert first["urls"] == [SITE + "/a"] and first["attempts"] == 1
    assert scans.claim(db, T, "w3", 60) is None
    assert get(client, f"/v1/scans/{a}").get_json()["status"] == "running"


def test_progress_is_stored_per_page_and_a_dead_workers_scan_goes_on_elsewhere(client, db, sql):
    sid = post(client, {"urls": [SITE + "/a", SITE + "/b"]}).get_json()["id"]
    scan = scans.claim(db, T, "w1", 60)
    assert scans.set_pages(db, T, scan, [SITE + "/a", SITE + "/b"],
                           {"source": "request", "error": None}, 60)
    page = {"url": SITE + "/a", "states": {"before_consent": {}, "after_reject": {},
                                           "after_accept": {}}}
    assert scans.add_page(db, T, scan, [page], 60)
    shown = get(client, f"/v1/scans/{sid}").get_json()
    assert shown["progress"] == {"done": 1, "total": 2}
    assert shown["pages"] == [{"url": SITE + "/a",
                               "states": ["before_consent", "after_reject", "after_accept"]}]
    # The worker dies: its lease runs out, another worker takes the scan over where it was.
    sql("UPDATE t_sp_scans SET locked_until = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND")
    again = scans.claim(db, T, "w2", 60)
    assert again["id"] == sid and again["attempts"] == 2
    assert [p["url"] for p in again["observations"]] == [SITE + "/a"]
    assert again["pages"] == [SITE + "/a", SITE + "/b"]
    # The first worker, back, may no longer write to it.
    assert not scans.add_page(db, T, scan, [page, page], 60)
    assert get(client, f"/v1/scans/{sid}").get_json()["progress"]["done"] == 1


def test_a_stopping_worker_gives_its_scan_back_without_counting_it_as_died(app, client, db):
    sid = post(client, {"urls": [SITE + "/a", SITE + "/b"]}).get_json()["id"]
    worker = Worker(config.load(overrides={k: v for k, v in app.config.items()
                                           if k.startswith("SP_")}))
    worker.scan = scans.claim(worker.db(), T, worker.name, 600)
    worker.stopping = True  # SIGTERM between two pages
    worker.run()
    assert worker.scan is None
    shown = get(client, f"/v1/scans/{sid}").get_json()
    assert shown["status"] == "queued"
    again = scans.claim(db, T, "next", 60)  # at once, not after the lease
    assert again["id"] == sid and again["attempts"] == 1


def test_a_scan_whose_worker_died_three_times_fails_with_the_reason(client, db, sql):
    sid = post(client, {"urls": [SITE + "/a"]}).get_json()["id"]
    for _ in range(3):
        assert scans.claim(db, T, "w", 60)["id"] == sid
        sql("UPDATE t_sp_scans SET locked_until = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND")
    assert scans.claim(db, T, "w", 60) is None
    scan = get(client, f"/v1/scans/{sid}").get_json()
    assert scan["status"] == "failed" and "stopped 3 times" in scan["error"]
    assert scan["finished_at"] is not None


class FakeWorker:
    """What scanrun needs of a worker, with a scanner that returns canned observations."""

    def __init__(self, cfg, conn):
        self.cfg, self.conn, self.tables = cfg, conn, T
        self.name, self.scan = "fake", None
        self.visited = []
        outer = self

        class _Scanner:
            def scan_page(self, url):
                outer.visited.append(url)
                return {"url": url, "states": {s: {"cookies": [], "storage": [], "requests": [],
                                                   "error": None} for s in
                                               ("before_consent", "after_reject",
                                                "after_accept")}}

            def close(self):
                pass

        self.scanner = _Scanner()

    def db(self):
        return self.conn


@pytest.fixture
def fake_report(monkeypatch):
    """A stand-in `sidecar.scan_report` (h/classify builds the real one) that records its
    arguments and returns a report with a hash."""
    calls = []

    def build_report(scan, pages, rules, site_origins):
        calls.append({"scan": scan, "pages": pages, "rules": rules, "site_origins": site_origins})
        report = {**scan, "pages": [{"url": p["url"], "states": list(p["states"])}
                                    for p in pages], "items": [], "violations": [],
                  "rules": rules}
        report["report_hash"] = scanrun.hashlib.sha256(scanrun.canonical(report)).hexdigest()
        return report

    module = types.ModuleType("sidecar.scan_report")
    module.build_report = build_report
    monkeypatch.setitem(sys.modules, "sidecar.scan_report", module)
    return calls


def app_cfg(app) -> dict:
    return dict(app.config)


def test_worker_steps_a_scan_page_by_page_and_keeps_the_report(app, client, db, sql,
                                                                fake_report):
    rules = [{"kind": "storage", "pattern": "my_key", "category": "preferences"}]
    sid = post(client, {"urls": [SITE + "/a", SITE + "/b"], "rules": rules}).get_json()["id"]
    w = FakeWorker(app_cfg(app), db)
    assert scanrun.step(w)  # claims, resolves the pages
    assert get(client, f"/v1/scans/{sid}").get_json()["progress"] == {"done": 0, "total": 2}
    assert scanrun.step(w)  # page 1
    shown = get(client, f"/v1/scans/{sid}").get_json()
    assert shown["status"] == "running" and shown["progress"] == {"done": 1, "total": 2}
    assert scanrun.step(w) and scanrun.step(w)  # page 2, then the report
    assert w.visited == [SITE + "/a", SITE + "/b"] and w.scan is None
    assert not scanrun.step(w)
    (call,) = fake_report
    assert call["rules"] == rules and call["site_origins"] == [SITE]
    assert [p["url"] for p in call["pages"]] == [SITE + "/a", SITE + "/b"]
    assert call["scan"]["id"] == sid and call["scan"]["progress"] == {"done": 2, "total": 2}
    report = get(client, f"/v1/scans/{sid}").get_json()
    assert report["status"] == "done" and report["finished_at"]
    assert report["page_list"] == {"source": "request", "error": None}
    assert report["skipped"] == [] and report["budget_exhausted"] is False
    (row,) = sql("SELECT report, report_hash FROM t_sp_scans")
    stored = json.loads(row["report"])
    assert stored["page_list"] == report["page_list"]  # in the report, under its hash
    assert row["report_hash"] == stored["report_hash"] == report["report_hash"]
    assert stored["report_hash"] == scanrun.hashlib.sha256(scanrun.canonical(
        {k: v for k, v in stored.items() if k != "report_hash"})).hexdigest()
    (item,) = get(client, "/v1/scans").get_json()["items"]
    assert item["status"] == "done" and item["items"] == 0 and item["violations"] == 0


def test_a_scan_out_of_time_reports_the_pages_it_skipped(app, client, db, sql, fake_report):
    sid = post(client, {"urls": [SITE + "/a", SITE + "/b"]}).get_json()["id"]
    w = FakeWorker(app_cfg(app), db)
    scanrun.step(w)
    scanrun.step(w)
    sql("UPDATE t_sp_scans SET started_at = started_at - INTERVAL 1 HOUR")
    w.scan["started_at"] -= timedelta(hours=1)
    scanrun.step(w)
    report = get(client, f"/v1/scans/{sid}").get_json()
    assert report["status"] == "done" and report["skipped"] == [SITE + "/b"]
    assert report["budget_exhausted"] is True and w.visited == [SITE + "/a"]


class PipelinedScanner:
    """What scanrun needs of a scanner that visits several pages at once (sidecar/scanner.py
    Scanner.submit): the test decides when each page is done."""

    window = 3

    def __init__(self):
        from concurrent.futures import Future
        self.Future = Future
        self.submitted, self.futures = [], {}
        self.inflight, self.inflight_scan, self.page_ms = {}, None, {}
        self.closed = 0

    def submit(self, url):
        self.submitted.append(url)
        self.futures[url] = self.Future()
        return self.futures[url]

    def finish(self, url):
        self.futures[url].set_result({"url": url, "states": {s: {
            "cookies": [], "storage": [], "requests": [], "error": None} for s in (
                "before_consent", "after_reject", "after_accept")}})

    def close(self):
        self.closed += 1
        self.inflight, self.inflight_scan = {}, None


def test_the_worker_keeps_several_pages_in_flight_and_stores_each_as_it_is_done(
        app, client, db, sql, fake_report, monkeypatch):
    monkeypatch.setattr(scanrun, "STEP_WAIT", 0.01, raising=False)
    urls = [f"{SITE}/{c}" for c in "abcde"]
    sid = post(client, {"urls": urls}).get_json()["id"]
    w = FakeWorker(app_cfg(app), db)
    w.scanner = s = PipelinedScanner()
    assert scanrun.step(w)  # claims, resolves the pages
    assert scanrun.step(w)  # three pages at once; none done yet: nothing stored
    assert s.submitted == urls[:3]
    assert get(client, f"/v1/scans/{sid}").get_json()["progress"] == {"done": 0, "total": 5}
    s.finish(urls[2])  # the third page is done first, then the first
    s.finish(urls[0])
    assert scanrun.step(w)  # one page stored per step; a fourth page started
    assert get(client, f"/v1/scans/{sid}").get_json()["progress"]["done"] == 1
    assert s.submitted == urls[:4]
    assert scanrun.step(w)
    shown = get(client, f"/v1/scans/{sid}").get_json()
    assert shown["progress"]["done"] == 2 and s.submitted == urls
    assert {p["url"] for p in shown["pages"]} == {urls[0], urls[2]}
    for u in (urls[1], urls[3], urls[4]):
        s.finish(u)
    for _ in range(4):
        scanrun.step(w)
    assert w.scan is None and s.closed == 1 and s.submitted == urls  # each page once
    report = get(client, f"/v1/scans/{sid}").get_json()
    assert report["status"] == "done" and sorted(p["url"] for p in report["pages"]) == urls


def test_pipelined_pages_not_started_within_the_budget_are_skipped(app, client, db, sql,
                                                                     fake_report, monkeypatch):
    monkeypatch.setattr(scanrun, "STEP_WAIT", 0.01, raising=False)
    urls = [f"{SITE}/{c}" for c in "abcde"]
    sid = post(client, {"urls": urls}).get_json()["id"]
    w = FakeWorker(app_cfg(app), db)
    w.scanner = s = PipelinedScanner()
    scanrun.step(w)
    scanrun.step(w)
    sql("UPDATE t_sp_scans SET started_at = started_at - INTERVAL 1 HOUR")
    w.scan["started_at"] -= timedelta(hours=1)
    for u in urls[:3]:  # the pages in flight when the time ran out still count
        s.finish(u)
    for _ in range(4):
        scanrun.step(w)
    report = get(client, f"/v1/scans/{sid}").get_json()
    assert report["status"] == "done" and report["skipped"] == urls[3:]
    assert report["budget_exhausted"] is True and s.submitted == urls[:3]


def test_without_the_report_builder_the_scan_fails_and_keeps_its_evidence(app, client, db,
                                                                          monkeypatch):
    monkeypatch.setitem(sys.modules, "sidecar.scan_report", None)  # import fails
    sid = post(client, {"urls": [SITE + "/a"]}).get_json()["id"]
    w = FakeWorker(app_cfg(app), db)
    for _ in range(3):
        scanrun.step(w)
    shown = get(client, f"/v1/scans/{sid}").get_json()
    assert shown["status"] == "failed" and "report could not be built" in shown["error"]
    assert shown["pages"] == [{"url": SITE + "/a", "states": ["before_consent",
                                                              "after_reject", "after_accept"]}]


# ---- the plugin's page list ---------------------------------------------------------------

class PageListServer:
    """A stand-in for the plugin's scan-pages route that checks the signed token."""

    def __init__(self, answer=None, status=200, redirect=None):
        outer = self
        self.seen = []

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.seen.append(self.path)
                if redirect:
                    self.send_response(302)
                    self.send_header("Location", redirect)
                    self.end_headers()
                    return
                token = self.headers.get("X-Secure-Privacy-Token", "")
                try:
                    payload = serializer(TEST_KEYS, scanrun.SCAN_PAGES_SALT).loads(
                        token, max_age=300)
                    ok = payload == {"origin": outer.origin, "max_pages": outer.asked()}
                except Exception:  # noqa: BLE001
                    ok = False
                body = json.dumps(answer(outer.origin) if ok and answer else
                                  {"code": "rest_forbidden"}).encode()
                self.send_response(status if ok else 401)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def asked(self) -> int:
        from urllib.parse import parse_qs, urlsplit
        return int(parse_qs(urlsplit(self.seen[-1]).query)["max_pages"][0])

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _scan(max_pages=50):
    return {"urls": None, "max_pages": max_pages}


def test_the_page_list_comes_from_the_plugin_with_a_signed_token():
    srv = PageListServer(lambda o: {"pages": [
        {"url": o + "/", "why": "front_page", "group": "front"},
        {"url": o + "/?p=2", "why": "template:single-post", "group": "post"},
        {"url": "http://evil.test/", "why": "sitemap", "group": "x"},  # off the origin: dropped
        {"url": o + "/?p=3", "why": "sitemap", "group": "y"}], "capped": False})
    try:
        cfg = {"SITE_ORIGINS": [srv.origin], "SECRET_KEYS": TEST_KEYS}
        pages, note = scanrun.resolve_pages(cfg, _scan(2))
        assert note == {"source": "plugin", "error": None}
        assert pages == [srv.origin + "/", srv.origin + "/?p=2"]
        assert "rest_route=%2Fsecure-privacy%2Fv1%2Fscan-pages" in srv.seen[-1]
        assert srv.asked() == 2
    finally:
        srv.close()


@pytest.mark.parametrize("case", ["refused", "bad_token", "not_json", "redirect", "down"])
def test_without_the_plugins_list_the_front_page_is_scanned_and_the_report_says_why(case):
    srv = PageListServer(
        answer=(lambda o: ["not", "pages"]) if case == "not_json" else (lambda o: {"pages": []}),
        status=200, redirect="http://127.0.0.1:9/" if case == "redirect" else None)
    origin = srv.origin
    keys = [k + "-other" for k in TEST_KEYS] if case == "bad_token" else TEST_KEYS
    if case == "down":
        srv.close()
    try:
        cfg = {"SITE_ORIGINS": [origin], "SECRET_KEYS": keys}
        pages, note = scanrun.resolve_pages(cfg, _scan())
        assert pages == [origin + "/"]
        assert note["source"] == "fallback" and origin in note["error"]
        assert "front page was scanned instead" in note["error"]
        if case in ("refused", "bad_token"):
            assert "HTTP 401" in note["error"] if case == "bad_token" else "no page" in \
                note["error"]
    finally:
        if case != "down":
            srv.close()


# ---- the test-only loopback origins -----------------------------------------------------

BASE = {"SP_DATABASE_URL": "mysql://u:p@127.0.0.1/db", "SP_SECRET_KEYS": TEST_KEYS[-1],
        "SP_ADMIN_TOKENS": TEST_TOKENS[-1], "SP_SITE_ORIGINS": "http://127.0.0.1:8080"}


def test_loopback_test_origins_are_off_by_default_and_refused_by_the_egress_guard():
    from helpers import TcpCounter
    cfg = config.load(env=BASE)
    assert cfg["SCAN_TEST_ORIGINS"] == []
    worker = Worker(cfg)
    guard = worker.open_egress()
    listener = TcpCounter()
    try:
        assert guard.allowed == {"http://127.0.0.1:8080"}
        addr, _ = guard._decide("http", "127.0.0.1", listener.port)
        assert addr is None  # loopback stays refused
    finally:
        guard.close()
        listener.close()


def test_loopback_test_origins_when_set_let_exactly_those_through():
    cfg = config.load(env={**BASE, "SP_SCAN_TEST_ORIGINS": "http://localhost:9001,"
                                                            "http://127.0.0.1:9002"})
    assert cfg["SCAN_TEST_ORIGINS"] == ["http://localhost:9001", "http://127.0.0.1:9002"]
    guard = Worker(cfg).open_egress()
    try:
        assert guard._decide("http", "127.0.0.1", 9002)[0] == "127.0.0.1"
        assert guard._decide("http", "127.0.0.1", 9003)[0] is None
        assert guard._decide("http", "169.254.169.254", 80)[0] is None
    finally:
        guard.close()


@pytest.mark.parametrize("value", ["http://example.com:9001", "http://10.0.0.1:9001",
                                   "http://127.0.0.1", "ftp://127.0.0.1:9001"])
def test_test_origins_must_be_loopback_with_a_port(value):
    with pytest.raises(config.ConfigError, match="SP_SCAN_TEST_ORIGINS"):
        config.load(env={**BASE, "SP_SCAN_TEST_ORIGINS": value})


def test_egress_refusals_carry_the_marker_the_scanner_reads():
    import socket
    guard = Egress(["http://127.0.0.1:1"])
    try:
        s = socket.create_connection(("127.0.0.1", guard.port))
        import base64
        token = base64.b64encode(":".join(guard.credentials).encode())
        s.sendall(b"GET http://169.254.169.254/ HTTP/1.1\r\nHost: x\r\n"
                  b"Proxy-Authorization: Basic " + token + b"\r\n\r\n")
        reply = s.recv(4096)
        s.close()
        assert reply.startswith(b"HTTP/1.1 403")
        assert b"X-Secure-Privacy-Egress: refused" in reply
    finally:
        guard.close()


def test_a_worker_without_grants_on_the_scans_table_pauses_scans_not_screenshots(
        app, monkeypatch, caplog):
    import logging

    import pymysql
    calls = []

    def denied(worker):
        calls.append(1)
        raise pymysql.err.OperationalError(1142, "SELECT command denied for table t_sp_scans")

    monkeypatch.setattr(scanrun, "step", denied)
    caplog.set_level(logging.WARNING, logger="sidecar.worker")
    worker = Worker(config.load(overrides={k: v for k, v in app.config.items()
                                           if k.startswith("SP_")}))
    worker.next_seal = float("inf")
    try:
        assert worker.run_once() is False and worker.run_once() is False
    finally:
        worker.conn.close()
    assert len(calls) == 1  # paused after the first refusal
    assert any("site scans paused" in r.getMessage() for r in caplog.records)


def test_scan_browsers_is_auto_by_default_or_one_to_eight():
    assert config.load(env=BASE)["SP_SCAN_BROWSERS"] == config.auto_scan_browsers()
    assert config.load(env={**BASE, "SP_SCAN_BROWSERS": "auto"})["SP_SCAN_BROWSERS"] in range(1, 5)
    assert config.load(env={**BASE, "SP_SCAN_BROWSERS": "1"})["SP_SCAN_BROWSERS"] == 1
    assert config.load(env={**BASE, "SP_SCAN_BROWSERS": "3"})["SP_SCAN_BROWSERS"] == 3
    assert config.load(env={**BASE, "SP_SCAN_BROWSERS": "8"})["SP_SCAN_BROWSERS"] == 8
    for bad in ("9", "0", "many"):
        with pytest.raises(config.ConfigError, match="SP_SCAN_BROWSERS"):
            config.load(env={**BASE, "SP_SCAN_BROWSERS": bad})


def test_auto_scan_browsers_are_two_per_core_at_most_four_within_free_memory():
    assert config.auto_scan_browsers(cpus=1, available_mib=8000) == 2
    assert config.auto_scan_browsers(cpus=2, available_mib=24000) == 4
    assert config.auto_scan_browsers(cpus=16, available_mib=64000) == 4
    # 1 GiB is left to the rest; 400 MiB per browser
    assert config.auto_scan_browsers(cpus=4, available_mib=1024 + 2 * 400) == 2
    assert config.auto_scan_browsers(cpus=4, available_mib=900) == 1  # never none
    assert config.auto_scan_browsers(cpus=2, available_mib=None) == 4  # no /proc/meminfo
