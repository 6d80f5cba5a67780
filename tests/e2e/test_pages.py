"""The e2e helpers that wait for a page a click loads (pages.click_and_load): in the session's
real Chromium against a loopback server whose answer comes late, as wp-admin's form posts do
on a loaded machine. No WordPress needed: seconds."""

from __future__ import annotations

import time

import pytest
from pages import LoopbackSite, click_and_load

# The old page already holds what the new one will: an earlier result of the same form. On a
# loaded machine the navigation can start after `.click()` has returned (chromedriver then
# does not wait for it); here the button submits 300 ms late, so that happens every time.
OLD = (b"<!doctype html><title>form</title><p id='result'>old result</p>"
       b"<form method='post' action='/slow'><button id='go' type='button'"
       b" onclick='setTimeout(() => this.form.submit(), 300)'>Go</button></form>"
       b"<button id='stay' type='button'>Stay</button>")
NEW = b"<!doctype html><title>answer</title><p id='result'>new result</p>"


def _answer(req):
    path = req.path.split("?")[0]
    if path == "/slow":
        time.sleep(1.5)  # the answer takes its time: the old page stays meanwhile
        return 200, [("Content-Type", "text/html")], NEW
    if path == "/slow-empty":
        time.sleep(0.5)
        return 200, [("Content-Type", "text/html")], b"<!doctype html><title>empty</title>"
    return 200, [("Content-Type", "text/html"), ("Cache-Control", "no-store")], OLD


@pytest.fixture(scope="module")
def slow_site():
    site = LoopbackSite(_answer)
    yield site
    site.stop()


def test_click_and_load_returns_the_new_pages_element_not_the_old_ones(browser, slow_site):
    d = browser
    d.get(slow_site.origin + "/")
    result = click_and_load(d, "#go", "#result")
    assert result.text == "new result"
    assert d.title == "answer"


def test_click_and_load_fails_naming_what_did_not_happen(browser, slow_site):
    d = browser
    d.get(slow_site.origin + "/")
    with pytest.raises(AssertionError, match=r"clicking #stay loaded no new page within 1 s"):
        click_and_load(d, "#stay", "#result", timeout=1)
    d.execute_script("document.forms[0].action = '/slow-empty'")
    with pytest.raises(AssertionError,
                       match=r"the page that clicking #go loaded .*'empty'.* has no '#result'"):
        click_and_load(d, "#go", "#result", timeout=2)
