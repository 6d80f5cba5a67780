"""The browser and its authenticating egress proxy (docs/grid.md), with the real Chromium and
chromedriver but no site stack: the credential goes to the proxy only, never to a site that
asks for a login, and a fresh browser context authenticates once primed: over the local
browser's own DevTools endpoint (the default for a local browser, and the scanner's), and over
WebDriver BiDi (a remote browser's way, asked for here with `bidi=True`)."""

from __future__ import annotations

import time

import pytest
from pages import LoopbackSite

from sidecar import browser
from sidecar.egress import Egress
from sidecar.scanner import Scanner


def _answer(req):
    if req.path.startswith("/login"):
        # A login prompt that even names the proxy's realm: still not the proxy's.
        return 401, [("WWW-Authenticate", 'Basic realm="sp-egress"'),
                     ("Content-Type", "text/html")], b"<h1>login required</h1>"
    return 200, [("Content-Type", "text/html")], b"<h1>page</h1>"


@pytest.fixture(scope="module")
def server():
    srv = LoopbackSite(_answer)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def site(server):
    return server.origin


def seen(server) -> list[tuple]:
    """(path, Authorization, Proxy-Authorization) of each request the site got."""
    with server.lock:
        return [(p, h.get("Authorization"), h.get("Proxy-Authorization"))
                for p, h in server.requests]


def forget(server) -> None:
    with server.lock:
        server.requests.clear()


@pytest.fixture(scope="module", params=["devtools", "bidi"])
def guarded(site, request):
    egress = Egress([site])
    d = browser.new_driver(proxy=egress.url, page_load_strategy="eager",
                           bidi=request.param == "bidi")
    d.set_page_load_timeout(6)
    d._sp_test_mechanism = request.param
    yield d, egress
    browser.quit_driver(d)
    egress.close()


def has_bidi(d) -> bool:
    return isinstance(d.caps.get("webSocketUrl"), str)


def test_a_sites_login_prompt_never_gets_the_proxy_credential(guarded, site, server):
    """A 401 ends at once as without the proxy's authentication (headless Chromium shows
    its error page for an unanswered login prompt), never held until a timeout, and no
    request carries the proxy's credential to the site."""
    d, egress = guarded
    forget(server)
    started = time.perf_counter()
    d.get(site + "/login")
    assert time.perf_counter() - started < 3
    assert d.execute_script("return location.href") == "chrome-error://chromewebdata/"
    got = seen(server)
    assert [p for p, _, _ in got if p == "/login"], got
    assert all(auth is None and proxy_auth is None for _, auth, proxy_auth in got), got


def test_pages_load_authenticated_and_the_credential_stays_at_the_proxy(guarded, site, server):
    d, egress = guarded
    forget(server)
    refused = len(egress.auth_refused)
    started = time.perf_counter()
    d.get(site + "/page")
    assert d.find_element("tag name", "h1").text == "page"
    assert time.perf_counter() - started < 3  # answered at once, not after a timeout
    assert len(egress.auth_refused) == refused  # the credential was sent unasked
    got = seen(server)
    assert got and all(a is None and p is None for _, a, p in got), got


@pytest.mark.parametrize("primed", [True, False])
def test_a_fresh_context_authenticates_once_primed(guarded, site, server, primed):
    """A scan state's fresh browser context has its own credential cache: primed, it loads
    pages; not primed, its request is refused at once (407, nothing fetched). Over DevTools
    (`Target.createBrowserContext`, `BrowserTarget.prime_proxy_auth`) or over BiDi (a user
    context, `browser.prime_proxy_auth`)."""
    d, egress = guarded
    home = d.current_window_handle
    target = None
    if d._sp_test_mechanism == "bidi":
        context = d.browser.create_user_context()
    else:
        target = browser.BrowserTarget(d)
        context = target.call("Target.createBrowserContext",
                              {"disposeOnDetach": True})["browserContextId"]
    forget(server)
    try:
        if target is None:
            tab = d.browsing_context.create(type="tab", user_context=context)
            if primed:
                browser.prime_proxy_auth(d, tab)
        else:
            tab = target.call("Target.createTarget", {
                "url": "about:blank", "browserContextId": context})["targetId"]
            if primed:
                target.prime_proxy_auth(tab, egress)
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
            assert seen(server) == []
    finally:
        d.switch_to.window(home)
        if target is None:
            d.browser.remove_user_context(context)
        else:
            target.call("Target.disposeBrowserContext", {"browserContextId": context})
            target.close()


def test_a_local_browser_authenticates_without_webdriver_bidi(guarded):
    """WebDriver BiDi is on only where it is asked for (a remote browser's way): a local
    browser answers the proxy over its own DevTools endpoint, so chromedriver runs no BiDi
    mapper in it (the mapper handled every DevTools event of every tab: CPU the scan
    spent for nothing)."""
    d, _ = guarded
    assert has_bidi(d) == (d._sp_test_mechanism == "bidi")


def test_a_local_scanners_profiles_authenticate_over_devtools(site, server):
    """The site scanner's local browser: no WebDriver BiDi, and each profile it makes (a
    browser context; a lane's reused one, and each that replaces it) loads pages through the
    authenticating proxy at once, in every tab."""
    egress = Egress([site])
    scanner = Scanner({"SITE_ORIGINS": [site], "SP_SCAN_BROWSERS": 1,
                       "SP_SCREENSHOT_TIMEOUT": 6}, egress)
    try:
        d = scanner.browser()
        assert not has_bidi(d)
        assert scanner.target is not None
        for replace in (False, True, False):
            if replace:
                scanner.discard_profile()
            context, tab = scanner.new_context(d)
            try:
                d.switch_to.window(tab)
                refused = len(egress.auth_refused)
                forget(server)
                d.get(site + "/page")
                assert d.find_element("tag name", "h1").text == "page"
                assert egress.auth_refused[refused:] == []
                assert seen(server) and all(a is None and p is None
                                            for _, a, p in seen(server))
            finally:
                scanner.end_job(d, context, tab, None)
    finally:
        scanner.close()
        egress.close()
