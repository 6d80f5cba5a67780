"""The public consent route over real HTTP, on the real WordPress under `php -S` (issue 10):
every spelling of the route that WordPress dispatches keeps the rate limit and the body limit
(F2); another site's pages can neither record consents nor read an answer, in a real Chromium,
while the widget on the site still records (F5)."""

from __future__ import annotations

import base64
import contextlib
import http.server
import itertools
import json
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import unquote

import pytest
from helpers import records_of, served_versions, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

ROUTE = "/secure-privacy/v1/consent"
BODY_LIMIT = 8192


def php_value(value) -> str:
    data = base64.b64encode(json.dumps(value).encode()).decode()
    return f"json_decode(base64_decode('{data}'), true)"


@contextlib.contextmanager
def settings(stack, **changes):
    """The plugin's settings with `changes` merged in, restored afterwards."""
    before = stack.wp_eval("echo wp_json_encode(get_option('secure_privacy_settings'));")
    stack.wp_eval("update_option('secure_privacy_settings', array_merge("
                  f"get_option('secure_privacy_settings'), {php_value(changes)}));")
    try:
        yield
    finally:
        stack.wp_eval(f"update_option('secure_privacy_settings', json_decode({before!r}, true));")


@contextlib.contextmanager
def pretty_permalinks(stack):
    """/wp-json/ URLs (rewrite rules) for the duration."""
    stack.wp_eval("update_option('permalink_structure', '/%postname%/');"
                  " flush_rewrite_rules(false);")
    try:
        yield
    finally:
        stack.wp_eval("update_option('permalink_structure', ''); flush_rewrite_rules(false);")


def consent(wp_url: str, **overrides) -> dict:
    """A valid consent body as the widget on the site sends it."""
    body = {
        "event_id": str(uuid.uuid4()), "subject_id": str(uuid.uuid4()), "action": "grant",
        "method": "accept_all",
        "categories": {"necessary": True, "preferences": True, "statistics": True,
                       "marketing": True},
        "page_url": wp_url + "/", "language": "en-US", "signals": {"gpc": False, "dnt": False},
        **served_versions(wp_url),
    }
    body.update(overrides)
    return body


def send(url: str, body: bytes | None, headers: dict | None = None, method: str = "POST"):
    """(status, JSON or text, headers) of one request."""
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            status, raw, hdrs = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        status, raw, hdrs = e.code, e.read(), e.headers
    try:
        data = json.loads(raw)
    except ValueError:
        data = raw.decode(errors="replace")
    return status, data, hdrs


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


def outbox_has(stack, event_ids: list) -> int:
    return int(stack.wp_eval(
        "global $wpdb; $ids = " + php_value(event_ids) + "; $n = 0;"
        " foreach ($ids as $id) { $n += (int) $wpdb->get_var($wpdb->prepare("
        "'SELECT COUNT(*) FROM ' . secure_privacy_outbox_table() . ' WHERE event_id = %s', $id)); }"
        " echo $n;"))


def no_records(admin_api, subject_ids: list) -> bool:
    return all(admin_api.get(f"/v1/consents?subject_id={s}")[1]["items"] == [] for s in subject_ids)


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


def check_forms(stack, admin_api, limited: dict, refused: dict):
    wp = stack.wp_url
    for name, path in limited.items():
        window_start()
        visitor = new_visitor()
        statuses = [send(wp + path, json.dumps(consent(wp)).encode(), visitor)[0] for _ in range(5)]
        assert statuses == [202, 202, 202, 429, 429], (name, statuses)
        big = consent(wp, page_url=wp + "/?" + "a" * BODY_LIMIT)
        status, data, _ = send(wp + path, json.dumps(big).encode(),
                               {"X-Forwarded-For": "192.0.2.200"})
        assert (status, data["code"]) == (413, "secure_privacy_body_too_large"), (name, data)
    sent = []
    for name, path in refused.items():
        body = consent(wp)
        status, data, _ = send(wp + path, json.dumps(body).encode())
        assert status == 404, (name, status, data)
        big = consent(wp, page_url=wp + "/?" + "a" * BODY_LIMIT)
        assert send(wp + path, json.dumps(big).encode())[0] == 404, name
        sent += [body, big]
    assert no_records(admin_api, [b["subject_id"] for b in sent])
    assert outbox_has(stack, [b["event_id"] for b in sent]) == 0


def test_every_route_spelling_wordpress_dispatches_keeps_the_limits_over_http(full_stack,
                                                                             admin_api):
    # Each visitor is named by X-Forwarded-For from the (trusted, loopback) php -S peer.
    with settings(full_stack, rate_limit_per_minute=3, trusted_proxy_header="X-Forwarded-For",
                  trusted_proxies="127.0.0.1"):
        check_forms(full_stack, admin_api, LIMITED_FORMS, REFUSED_FORMS)
        with pretty_permalinks(full_stack):
            # WordPress's rewrite rule (^wp-json/(.*)?) stops at the newline: "%0A" reaches
            # the route as its own spelling, and so is limited like it; "%0D%0A" leaves "\r".
            check_forms(full_stack, admin_api,
                        {"wp-json": "/wp-json/secure-privacy/v1/consent",
                         "wp-json upper case": "/wp-json/SECURE-PRIVACY/v1/consent",
                         "wp-json %0A": "/wp-json/secure-privacy/v1/consent%0A"},
                        {"wp-json %0D%0A": "/wp-json/secure-privacy/v1/consent%0D%0A",
                         "wp-json %00": "/wp-json/secure-privacy/v1/consent%00"})


# ---- F5 -------------------------------------------------------------------------------------

CORS_HEADERS = ("Access-Control-Allow-Origin", "Access-Control-Allow-Credentials")


def test_a_foreign_origin_gets_403_and_no_cors_over_http(full_stack, admin_api):
    wp = full_stack.wp_url
    url = wp + "/?rest_route=" + ROUTE
    foreign = "http://evil.example"

    preflight = {"Origin": foreign, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}
    status, _, headers = send(url, None, preflight, method="OPTIONS")
    assert status == 403
    assert not [h for h in CORS_HEADERS if headers.get(h)], dict(headers)

    body = consent(wp)
    status, data, headers = send(url, json.dumps(body).encode(), {"Origin": foreign})
    assert (status, data["code"]) == (403, "secure_privacy_foreign_origin"), data
    assert not [h for h in CORS_HEADERS if headers.get(h)], dict(headers)
    cross = consent(wp)
    status, _, _ = send(url, json.dumps(cross).encode(), {"Sec-Fetch-Site": "cross-site"})
    assert status == 403
    time.sleep(1)
    assert no_records(admin_api, [body["subject_id"], cross["subject_id"]])
    assert outbox_has(full_stack, [body["event_id"], cross["event_id"]]) == 0

    # The site's own pages and non-browser clients are served as before.
    own = consent(wp)
    status, data, headers = send(url, json.dumps(own).encode(), {"Origin": wp})
    assert status == 202, data
    assert headers.get("Access-Control-Allow-Origin") == wp
    plain = consent(wp)
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
        fresh_browser, full_stack, admin_api, foreign_site):
    server, origin = foreign_site
    wp = full_stack.wp_url
    url = wp + "/?rest_route=" + ROUTE
    cors, simple = consent(wp), consent(wp)
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
    assert outbox_has(full_stack, [cors["event_id"], simple["event_id"]]) == 0

    # The widget on the site itself still records (its fetch carries the site's Origin).
    d.get(wp + "/")
    WebDriverWait(d, 10).until(EC.element_to_be_clickable(
        (By.CSS_SELECTOR, '#sp-consent [data-sp-action="accept-all"]'))).click()
    cookie = wait_for(lambda: d.get_cookie("sp_consent"), 5, what="the consent cookie")
    subject = json.loads(unquote(cookie["value"]))["subject_id"]
    (rec,) = records_of(admin_api, subject, 1)
    assert rec["method"] == "accept_all"
