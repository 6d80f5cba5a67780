"""The browser and its authenticating egress proxy (docs/grid.md), with the real Chromium and
chromedriver but no site stack: the credential goes to the proxy only, never to a site that
asks for a login, and a fresh BiDi user context authenticates once primed."""

from __future__ import annotations

import http.server
import threading
import time

import pytest

from sidecar import browser
from sidecar.egress import Egress


class _Site(http.server.BaseHTTPRequestHandler):
    seen: list = []

    def do_GET(self):  # noqa: N802 - http.server's name
        _Site.seen.append((self.path, self.headers.get("Authorization"),
                           self.headers.get("Proxy-Authorization")))
        if self.path.startswith("/login"):
            # A login prompt that even names the proxy's realm: still not the proxy's.
            body = b"<h1>login required</h1>"
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="sp-egress"')
        else:
            body = b"<h1>page</h1>"
            self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def guarded(site):
    egress = Egress([site])
    d = browser.new_driver(proxy=egress.url, page_load_strategy="eager")
    d.set_page_load_timeout(6)
    yield d, egress
    browser.quit_driver(d)
    egress.close()


def test_a_sites_login_prompt_never_gets_the_proxy_credential(guarded, site):
    """A 401 ends at once as without the proxy's authentication (headless Chromium shows
    its error page for an unanswered login prompt), never held until a timeout, and no
    request carries the proxy's credential to the site."""
    d, egress = guarded
    _Site.seen.clear()
    started = time.perf_counter()
    d.get(site + "/login")
    assert time.perf_counter() - started < 3
    assert d.execute_script("return location.href") == "chrome-error://chromewebdata/"
    assert [p for p, _, _ in _Site.seen if p == "/login"], _Site.seen
    assert all(auth is None and proxy_auth is None for _, auth, proxy_auth in _Site.seen), \
        _Site.seen


def test_pages_load_authenticated_and_the_credential_stays_at_the_proxy(guarded, site):
    d, egress = guarded
    _Site.seen.clear()
    refused = len(egress.auth_refused)
    started = time.perf_counter()
    d.get(site + "/page")
    assert d.find_element("tag name", "h1").text == "page"
    assert time.perf_counter() - started < 3  # answered at once, not after a timeout
    assert len(egress.auth_refused) == refused  # the credential was sent unasked
    assert _Site.seen and all(a is None and p is None for _, a, p in _Site.seen), _Site.seen


@pytest.mark.parametrize("primed", [True, False])
def test_a_fresh_user_context_authenticates_once_primed(guarded, site, primed):
    """A scan state's fresh BiDi user context has its own credential cache: primed, it
    loads pages; not primed, its request is refused at once (407, nothing fetched)."""
    d, egress = guarded
    home = d.current_window_handle
    context = d.browser.create_user_context()
    _Site.seen.clear()
    try:
        tab = d.browsing_context.create(type="tab", user_context=context)
        if primed:
            browser.prime_proxy_auth(d, tab)
        d.switch_to.window(tab)
        refused = len(egress.auth_refused)
        started = time.perf_counter()
        d.get(site + "/page")
        assert time.perf_counter() - started < 3
        if primed:
            assert d.find_element("tag name", "h1").text == "page"
            assert len(egress.auth_refused) == refused
        else:
            assert not d.find_elements("tag name", "h1")
            assert f"GET {site}/page" in egress.auth_refused[refused:]
            assert _Site.seen == []
    finally:
        d.switch_to.window(home)
        d.browser.remove_user_context(context)
