"""The public consent route over real HTTP, on the real WordPress under `php -S` (issue 10):
every spelling of the route that WordPress dispatches keeps the rate limit and the body limit
(F2); another site's pages can neither record consents nor read an answer, in a real Chromium,
while the widget on the site still records (F5)."""

from __future__ import annotations

import http.server
import itertools
import json
import re
import threading
import time

import pytest
from helpers import wait_for
from pages import (
    CONSENT_ROUTE,
    click,
    consent_cookie,
    records,
    records_of,
    route_consent,
    send,
)

BODY_LIMIT = 8192


_visitors = itertools.count(1)


def new_visitor() -> dict:
    """A visitor address no other request of this session used: a reused one would carry
    its earlier count into the same rate-limit minute."""
    n = next(_visitors)
    return {"X-Forwarded-For": f"198.51.{100 + n // 250}.{n % 250 + 1}"}


def window_start():
    """Wait, if need be, so that the next few seconds fall inside one rate-limit minute."""
    left = 60 - time.time() % 60
    if left < 4:
        time.sleep(left + 0.5)


def no_records(admin_api, subject_ids: list) -> bool:
    return all(records(admin_api, subject_id=s) == [] for s in subject_ids)


# ---- F2 -------------------------------------------------------------------------------------

LIMITED_FORMS = {
    "rest_route": "/?rest_route=/secure-privacy/v1/consent",
    "rest_route upper case": "/?rest_route=/SECURE-PRIVACY/V1/CONSENT",
    "rest_route trailing slash": "/?rest_route=/secure-privacy/v1/consent/",
}
REFUSED_FORMS = {
    "rest_route %0A": "/?rest_route=/secure-privacy/v1/consent%0A",
    "rest_route %0D%0A": "/?rest_route=/secure-privacy/v1/consent%0D%0A",
    "rest_route %00": "/?rest_route=/secure-privacy/v1/consent%00",
    "rest_route upper %0A": "/?rest_route=/Secure-Privacy/v1/Consent%0A",
}


def check_forms(site, admin_api, limited: dict, refused: dict):
    wp = site.url
    for name, path in limited.items():
        window_start()
        visitor = new_visitor()
        statuses = [send(wp + path, json.dumps(route_consent(wp)).encode(), visitor)[0]
                    for _ in range(5)]
        assert statuses == [202, 202, 202, 429, 429], (name, statuses)
        big = route_consent(wp, page_url=wp + "/?" + "a" * BODY_LIMIT)
        status, data, _ = send(wp + path, json.dumps(big).encode(),
                               {"X-Forwarded-For": "192.0.2.200"})
        assert (status, data["code"]) == (413, "secure_privacy_body_too_large"), (name, data)
    sent = []
    for name, path in refused.items():
        body = route_consent(wp)
        status, data, _ = send(wp + path, json.dumps(body).encode())
        assert status == 404, (name, status, data)
        big = route_consent(wp, page_url=wp + "/?" + "a" * BODY_LIMIT)
        assert send(wp + path, json.dumps(big).encode())[0] == 404, name
        sent += [body, big]
    assert no_records(admin_api, [b["subject_id"] for b in sent])
    assert site.outbox_count([b["event_id"] for b in sent]) == 0


def test_every_route_spelling_wordpress_dispatches_keeps_the_limits_over_http(site, admin_api):
    # Each visitor is named by X-Forwarded-For from the (trusted, loopback) php -S peer.
    with site.settings(rate_limit_per_minute=3, trusted_proxy_header="X-Forwarded-For",
                       trusted_proxies="127.0.0.1"):
        check_forms(site, admin_api, LIMITED_FORMS, REFUSED_FORMS)
        with site.pretty_permalinks():
            # WordPress's rewrite rule (^wp-json/(.*)?) stops at the newline: "%0A" reaches
            # the route as its own spelling, and so is limited like it; "%0D%0A" leaves "\r".
            check_forms(site, admin_api,
                        {"wp-json": "/wp-json/secure-privacy/v1/consent",
                         "wp-json upper case": "/wp-json/SECURE-PRIVACY/v1/consent",
                         "wp-json %0A": "/wp-json/secure-privacy/v1/consent%0A"},
                        {"wp-json %0D%0A": "/wp-json/secure-privacy/v1/consent%0D%0A",
                         "wp-json %00": "/wp-json/secure-privacy/v1/consent%00"})


# ---- F5 -------------------------------------------------------------------------------------

CORS_HEADERS = ("Access-Control-Allow-Origin", "Access-Control-Allow-Credentials")


def test_a_foreign_origin_gets_403_and_no_cors_over_http(site, admin_api):
    wp = site.url
    url = wp + CONSENT_ROUTE
    foreign = "http://evil.example"

    preflight = {"Origin": foreign, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}
    status, _, headers = send(url, None, preflight, method="OPTIONS")
    assert status == 403
    assert not [h for h in CORS_HEADERS if headers.get(h)], dict(headers)

    body = route_consent(wp)
    status, data, headers = send(url, json.dumps(body).encode(), {"Origin": foreign})
    assert (status, data["code"]) == (403, "secure_privacy_foreign_origin"), data
    assert not [h for h in CORS_HEADERS if headers.get(h)], dict(headers)
    cross = route_consent(wp)
    status, _, _ = send(url, json.dumps(cross).encode(), {"Sec-Fetch-Site": "cross-site"})
    assert status == 403
    time.sleep(1)
    assert no_records(admin_api, [body["subject_id"], cross["subject_id"]])
    assert site.outbox_count([body["event_id"], cross["event_id"]]) == 0

    # The site's own pages and non-browser clients are served as before.
    own = route_consent(wp)
    status, data, headers = send(url, json.dumps(own).encode(), {"Origin": wp})
    assert status == 202, data
    assert headers.get("Access-Control-Allow-Origin") == wp
    plain = route_consent(wp)
    assert send(url, json.dumps(plain).encode())[0] == 202
    records_of(admin_api, own["subject_id"], 1)
    records_of(admin_api, plain["subject_id"], 1)


class _Page(http.server.BaseHTTPRequestHandler):
    html = b""

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.html)

    def log_message(self, *args):
        pass


@pytest.fixture
def foreign_site():
    """A page on another origin: http://localhost:<port> (the WordPress is http://127.0.0.1:…)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_another_sites_page_in_chromium_cannot_record_but_the_widget_can(
        fresh_browser, full_stack, site, admin_api, foreign_site):
    server, origin = foreign_site
    wp = full_stack.wp_url
    url = wp + CONSENT_ROUTE
    cors, simple = route_consent(wp), route_consent(wp)
    _Page.html = f"""<!doctype html><title>other site</title><script>
    window.results = {{}};
    fetch({json.dumps(url)}, {{method: 'POST', credentials: 'include', mode: 'cors',
        headers: {{'Content-Type': 'application/json'}}, body: {json.dumps(json.dumps(cors))}}})
      .then((r) => r.text().then((t) => {{ window.results.cors = 'read ' + r.status + ' ' + t; }}),
            (e) => {{ window.results.cors = 'refused: ' + e.name; }});
    fetch({json.dumps(url)}, {{method: 'POST', credentials: 'include', mode: 'no-cors',
        headers: {{'Content-Type': 'text/plain'}}, body: {json.dumps(json.dumps(simple))}}})
      .then((r) => {{ window.results.simple = r.type; }},
            (e) => {{ window.results.simple = 'refused'; }});
    </script>""".encode()
    log = full_stack.log_dir / "wordpress.log"  # php -S: "[status]: METHOD path" per request
    seen = log.stat().st_size
    d = fresh_browser
    d.get(origin + "/")
    results = wait_for(lambda: (lambda r: r if len(r) == 2 else None)(
        d.execute_script("return window.results")), 15, what="the foreign page's requests")
    assert results["cors"] == "refused: TypeError", results
    assert results["simple"] == "opaque", results  # sent, but the page learns nothing
    # The server refused both: the preflight of the credentialed fetch, and the simple POST.
    lines = wait_for(lambda: (lambda t: t if "POST" in t and "OPTIONS" in t else None)(
        log.read_bytes()[seen:].decode(errors="replace")), 5, what="the requests in the log")
    assert re.search(r"\[403\]: OPTIONS /\?rest_route=/secure-privacy/v1/consent", lines), lines
    assert re.search(r"\[403\]: POST /\?rest_route=/secure-privacy/v1/consent", lines), lines
    time.sleep(1)
    assert no_records(admin_api, [cors["subject_id"], simple["subject_id"]])
    assert site.outbox_count([cors["event_id"], simple["event_id"]]) == 0

    # The widget on the site itself still records (its fetch carries the site's Origin).
    d.get(wp + "/")
    click(d, "accept-all")
    subject = wait_for(lambda: consent_cookie(d), 5, what="the consent cookie")["subject_id"]
    (rec,) = records_of(admin_api, subject, 1)
    assert rec["method"] == "accept_all"
