"""Auto-blocking on the real WordPress and Chromium (issue 14, layers 1 to 3): a page nobody
tagged, with a known service's script, iframe and pixel from a loopback "third-party" origin
(hard-coded in the content and enqueued by a test plugin), makes no request to it before
consent, none after Reject all and none on the next page view after a withdrawal; after
Accept all each one loads. A breaks-if-blocked script always loads. The HTML is the same
bytes whatever the visitor's consent. What a tag manager adds at runtime is held by the
widget's guard the same way, and a held embed's placeholder grants its category in one click.
The fixtures (`listener`, `tracked_page`, `tag_manager_page`) are in tests/e2e/conftest.py."""

from __future__ import annotations

import json
import time
import urllib.request
from urllib.parse import quote

import pytest
from helpers import wait_for
from pages import ALL_OFF, ALL_ON, records_of

# Runs on every WordPress of --wordpress (6.1.9 and 6.5.5): see tests/conftest.py.
pytestmark = pytest.mark.every_wordpress


def _tracker_requests(listener) -> list[str]:
    return [p for p in listener.seen() if not p.startswith("/pay/")]


def test_untagged_trackers_wait_for_consent_and_stop_after_withdrawal(b, tracked_page,
                                                                      listener):
    start = len(listener.seen())
    b.get(tracked_page)
    b.dialog()
    # The payment script is needed: it loads before any choice.
    wait_for(lambda: "/pay/sdk.js" in listener.seen()[start:], 10, what="the payment script")
    assert b.js("return window.spRan") == ["sdk"]
    # The page as the browser got it: blocked forms, nothing tagged by the site owner.
    forms = b.js("""return [...document.querySelectorAll('[data-sp-category]')]
        .filter((e) => !e.closest('#sp-consent'))
        .map((e) => [e.tagName, e.getAttribute('type'), e.getAttribute('data-sp-service'),
                     e.hasAttribute('src') ? e.getAttribute('src').split('/').pop() : null,
                     (e.getAttribute('data-sp-src') || '').split('/').pop()]);""")
    assert ["SCRIPT", "text/plain", "Loopback tracker", "content.js", ""] in forms, forms
    assert ["SCRIPT", "text/plain", "Loopback tracker", "enqueued.js", ""] in forms, forms
    assert ["SCRIPT", "text/plain", "Loopback tracker", None, ""] in forms, "the inline part"
    assert ["IFRAME", None, "Loopback tracker", None, "frame.html"] in forms, forms
    assert ["IMG", None, "Loopback tracker", None, "pixel.gif"] in forms, forms
    for css in ("font.css", "enqueued.css"):  # hard-coded and enqueued stylesheets
        assert ["LINK", None, "Loopback tracker", None, css] in forms, forms
    time.sleep(1.5)  # anything the browser would fetch has been asked for by now
    assert _tracker_requests(listener)[:] == [p for p in listener.seen()[:start]
                                              if not p.startswith("/pay/")], \
        "no request to the tracker before consent"
    before = len(_tracker_requests(listener))

    b.click("reject-all")
    assert wait_for(b.cookie, 5, what="the consent cookie")["categories"] == ALL_OFF
    b.get(tracked_page)
    b.el("[data-sp-action='open']")
    time.sleep(1.5)
    assert len(_tracker_requests(listener)) == before, "none after Reject all"

    b.click("open")
    b.click("accept-all")
    assert wait_for(b.cookie, 5, what="the consent cookie")["categories"] == ALL_ON
    want = {"/content.js", "/enqueued.js", "/frame.html", "/pixel.gif", "/font.css",
            "/enqueued.css"}
    wait_for(lambda: want <= set(_tracker_requests(listener)[before:]), 10,
             what=f"{want} after Accept all")
    ran = wait_for(lambda: b.js("return window.spRan && window.spRan.length >= 3 && "
                                "window.spRan"), 5, what="the scripts ran")
    assert sorted(ran) == ["content", "enqueued", "sdk"]
    assert b.js("return window.spInlineAfter") == 1, "the enqueued script's inline part ran"
    frame = b.el("#sp-t-frame")
    assert frame.get_attribute("src").endswith("/frame.html") and frame.is_displayed()

    b.click("open")
    b.click("withdraw")
    wait_for(lambda: b.cookie() and not b.cookie()["categories"]["marketing"], 5,
             what="the withdrawal")
    after = len(_tracker_requests(listener))
    b.get(tracked_page)
    b.el("[data-sp-action='open']")
    time.sleep(1.5)
    assert len(_tracker_requests(listener)) == after, "none on the next page view after withdrawal"


def _get(url: str, cookie: str | None) -> bytes:
    req = urllib.request.Request(url, headers={"Cookie": f"sp_consent={cookie}"} if cookie else {})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def test_every_visitor_gets_the_same_bytes_and_rest_is_untouched(site, tracked_page, listener):
    """Page caches stay valid: no consent, all granted, all refused, a malformed cookie: the
    same bytes (nothing normalised: WordPress prints no per-request nonce for anonymous
    visitors here). The REST API's copy of the page is left as it is."""
    state = {"subject_id": "6f1c1a8e-3b9f-4a57-9b3c-0c7e7e1c2d4f", "policy_version": "1",
             "banner_version": "x", "given_at": "2026-01-01T00:00:00Z"}
    cookies = [None, quote(json.dumps({**state, "categories": ALL_ON})),
               quote(json.dumps({**state, "categories": ALL_OFF})), "garbage"]
    pages = [_get(tracked_page, c) for c in cookies]
    assert b'data-sp-service="Loopback tracker"' in pages[0]
    assert all(p == pages[0] for p in pages[1:])

    page_id = site.eval_json(f"echo wp_json_encode(url_to_postid({json.dumps(tracked_page)}));")
    rest = json.loads(_get(f"{site.url}/?rest_route=/wp/v2/pages/{page_id}", None))
    content = rest["content"]["rendered"]
    assert f'src="{listener.origin}/content.js"' in content
    assert "data-sp-" not in content


# ---- layer 3: what a script adds at runtime (the widget's guard) --------------------------
# The page: `tag_manager_page` (tests/e2e/conftest.py, pages.TAG_MANAGER).


def _runtime_requests(listener, since: int = 0) -> list[str]:
    return [p for p in listener.seen()[since:] if p.startswith("/runtime")]


def test_runtime_injected_tracker_waits_for_consent_none_after_reject(b, tag_manager_page,
                                                                      listener):
    start = len(listener.seen())
    b.get(tag_manager_page)
    b.dialog()
    held = wait_for(lambda: b.js("""const s = [...document.scripts].find((e) =>
            (e.getAttribute('src') || '').endsWith('/runtime.js'));
        const f = document.getElementById('sp-t-runtime-frame');
        return s && f && [s.type, s.getAttribute('data-sp-category'), f.getAttribute('src'),
            f.getAttribute('data-sp-src').split('/').pop(),
            !!(f.previousElementSibling && f.previousElementSibling.matches('.sp-blocked'))];"""),
        10, what="the tag manager's elements")
    assert held == ["text/plain", "marketing", None, "runtime-frame.html", True], held
    time.sleep(1.5)  # anything the browser would fetch has been asked for by now
    assert _runtime_requests(listener, start) == [], "no request before consent"

    b.click("reject-all")
    assert wait_for(b.cookie, 5, what="the consent cookie")["categories"] == ALL_OFF
    b.get(tag_manager_page)
    b.el("[data-sp-action='open']")
    time.sleep(1.5)
    assert _runtime_requests(listener, start) == [], "none after Reject all"

    b.click("open")
    b.click("accept-all")
    wait_for(lambda: sorted(_runtime_requests(listener, start)) == ["/runtime-frame.html",
                                                                    "/runtime.js"],
             10, what="one request each after Accept all")
    assert wait_for(lambda: b.js("return window.spTmOnload"), 5, what="the onload") == 1, \
        "released in place: the tag manager's own element loads, its onload fires"
    assert b.js("return window.spRan").count("runtime") == 1, "it ran once"

    # Granted now: the next page's runtime script is not held at all (one more each).
    b.get(tag_manager_page)
    wait_for(lambda: "runtime" in (b.js("return window.spRan") or []), 10, what="the script ran")
    # The frame's request is not bound to the script's: wait for it (a fixed pause could end
    # first), then count.
    wait_for(lambda: len(_runtime_requests(listener, start)) >= 4, 10,
             what="the second page's runtime script and frame requests")
    assert sorted(_runtime_requests(listener, start)) == ["/runtime-frame.html"] * 2 + \
        ["/runtime.js"] * 2


def test_placeholder_one_click_records_consent_and_loads_the_embed(b, tag_manager_page,
                                                                   listener, admin_api):
    start = len(listener.seen())
    b.get(tag_manager_page)
    b.dialog()
    button = wait_for(lambda: b.js("""const f = document.getElementById('sp-t-runtime-frame');
        const ph = f && f.previousElementSibling;
        return ph && ph.matches('.sp-blocked') && [ph.offsetWidth, ph.offsetHeight,
            ph.querySelector('[data-sp-action="load"]').textContent];"""), 10,
        what="the placeholder")
    assert button == [320, 180, "Load 127.0.0.1 — this allows Marketing"], button
    b.el(".sp-blocked [data-sp-action='load']").click()
    cookie = wait_for(b.cookie, 5, what="the consent cookie")
    assert cookie["categories"] == {**ALL_OFF, "marketing": True}
    (rec,) = records_of(admin_api, cookie["subject_id"], 1)
    assert (rec["action"], rec["method"]) == ("grant", "custom")
    assert rec["categories"] == {**ALL_OFF, "marketing": True}
    wait_for(lambda: "/runtime-frame.html" in _runtime_requests(listener, start), 10,
             what="the embed to load")
    frame = b.el("#sp-t-runtime-frame")
    assert frame.get_attribute("src").endswith("/runtime-frame.html") and frame.is_displayed()
    assert not b.has(".sp-blocked")
    assert not b.has("#sp-consent [role='dialog']"), "the decision closed the dialog"
    assert b.el("[data-sp-action='open']").is_displayed()
