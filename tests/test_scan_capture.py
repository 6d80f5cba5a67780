"""How the scanner reads the DevTools events of one tab (sidecar/scanner.py `Capture`), on
synthetic events in the shapes Chromium sends: no browser. The real browser is
tests/e2e/test_scan.py."""

from __future__ import annotations

from sidecar.egress import REFUSED_HEADER
from sidecar.scanner import Capture, host_of

PAGE = "http://site.test/shop/"
MAIN = "MAINFRAME"


def sent(rid, url, kind="Script", frame=MAIN, initiator=None, redirect=None):
    p = {"requestId": rid, "request": {"url": url}, "type": kind, "frameId": frame,
         "initiator": initiator or {"type": "parser", "url": PAGE}}
    if redirect is not None:
        p["redirectResponse"] = {"headers": redirect}
    return {"method": "Network.requestWillBeSent", "params": p}


def extra(rid, set_cookie):
    return {"method": "Network.responseReceivedExtraInfo",
            "params": {"requestId": rid, "headers": {"set-cookie": set_cookie}}}


def test_set_cookie_seen_before_its_request_still_names_the_response():
    cap = Capture(MAIN.lower())  # the tab id; Chromium's frame ids are upper case
    cap.feed([extra("7", "uid=1; Path=/; HttpOnly\nother=2; Domain=.cdn.test"),
              sent("7", "http://cdn.test:8080/px.gif", "Image")])
    uid = {"name": "uid", "domain": "cdn.test"}
    assert cap.cookie_source(uid) == ("set-cookie", "http://cdn.test:8080/px.gif")
    assert cap.cookie_source({"name": "other", "domain": ".cdn.test"})[0] == "set-cookie"
    # same name, another site's cookie: not this response's
    assert cap.cookie_source({"name": "uid", "domain": "site.test"}) == ("script", None)


def test_a_redirect_hop_that_set_a_cookie_is_named_not_the_final_one():
    cap = Capture(MAIN)
    cap.feed([sent("9", "http://a.test/r", "Image"), extra("9", "hop=1"),
              sent("9", "http://b.test/final.gif", "Image", redirect={"Location": "x"})])
    assert cap.cookie_source({"name": "hop", "domain": "a.test"}) == (
        "set-cookie", "http://a.test/r")


def test_without_any_response_headers_the_source_is_unknown():
    cap = Capture(MAIN)
    cap.feed([sent("1", PAGE, "Document", initiator={"type": "other"})])
    assert cap.cookie_source({"name": "_ga", "domain": "site.test"}) == (None, None)


def test_requests_types_initiators_and_failures():
    stack = {"callFrames": [], "parent": {"callFrames": [
        {"url": "http://site.test/wp-content/plugins/foo/a.js", "lineNumber": 3}]}}
    cap = Capture(MAIN)
    cap.feed([
        sent("1", PAGE, "Document", initiator={"type": "other"}),
        sent("2", "http://t.test/f.html", "Document", frame="CHILD"),
        sent("3", "https://t.test/c", "Ping", initiator={"type": "script", "stack": stack}),
        sent("4", "http://10.0.0.1/admin", "XHR"),
        {"method": "Network.responseReceived", "params": {
            "requestId": "4", "response": {"headers": {REFUSED_HEADER: "refused"}}}},
        sent("5", "https://js.stripe.com/v3/", "Script"),
        {"method": "Network.loadingFailed", "params": {"requestId": "5"}},
        sent("6", "data:image/gif;base64,R0lG", "Image"),
        sent("8", "http://t.test/font.woff2", "Font"),
        sent("8b", "http://t.test/x.css", "Stylesheet"),
        sent("8c", "http://t.test/api", "Fetch"),
    ])
    got = {r["url"]: r for r in cap.request_list()}
    assert "data:image/gif;base64,R0lG" not in got  # not a network request
    assert [got[u]["resource"] for u in (PAGE, "http://t.test/f.html", "https://t.test/c",
                                         "http://10.0.0.1/admin", "https://js.stripe.com/v3/",
                                         "http://t.test/font.woff2", "http://t.test/x.css",
                                         "http://t.test/api")] == [
        "other", "iframe", "beacon", "xhr", "script", "font", "other", "xhr"]
    assert got[PAGE]["initiator"] is None
    assert got["https://t.test/c"]["initiator"] == \
        "http://site.test/wp-content/plugins/foo/a.js"  # the top script of the async parent
    assert got["http://t.test/f.html"]["initiator"] == PAGE
    failed = {u for u, r in got.items() if r["failed"]}
    assert failed == {"http://10.0.0.1/admin", "https://js.stripe.com/v3/"}


def test_requests_before_the_click_are_not_the_states():
    cap = Capture(MAIN)
    cap.feed([sent("1", "http://t.test/a.js")])
    cap.order.clear()  # what Scanner.click does
    cap.feed([sent("2", "http://t.test/b.js")])
    assert [r["url"] for r in cap.request_list()] == ["http://t.test/b.js"]


def test_hosts_keep_only_ports_that_are_not_the_default():
    assert host_of("http://Example.COM:80/x") == "example.com"
    assert host_of("https://example.com:8443/") == "example.com:8443"
    assert host_of("http://[::1]:9000/") == "[::1]:9000"
    assert host_of("http://127.0.0.1:8080/?p=1") == "127.0.0.1:8080"


def test_a_job_of_a_closed_scanner_starts_no_browser(monkeypatch):
    """A job still queued or starting when the worker closes the scanner (it stops, or its
    scan was taken over) must not start a browser that nobody will quit."""
    from sidecar import browser, scanner
    started = []
    monkeypatch.setattr(browser, "new_driver", lambda **kw: started.append(kw))
    s = scanner.Scanner({"SITE_ORIGINS": ["http://site.test"], "SP_SCAN_BROWSERS": 2}, None)
    assert len(s.lanes) == 2
    generation = s.generation
    s.close()
    for lane in s.lanes:
        found, _ = lane.scan_states_with_deadline(PAGE, ("after_accept",), generation)
        assert found["after_accept"]["error"] == "the scan was stopped"
    assert started == []
