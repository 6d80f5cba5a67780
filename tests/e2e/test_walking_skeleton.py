"""A visitor's click in a real browser on the real WordPress becomes a signed, stored
consent record with a screenshot, visible through the admin API (issue 2)."""

from __future__ import annotations

import io

import pytest
from helpers import wait_for
from pages import ALL_OFF, ALL_ON, click, consent_cookie, dialog, records_of
from PIL import Image
from selenium.webdriver.common.by import By

# Runs on every WordPress of --wordpress (6.1.9 and 6.5.5): see tests/conftest.py.
pytestmark = pytest.mark.every_wordpress


def test_accept_then_withdraw_in_a_real_browser(fresh_browser, full_stack, admin_api):
    d = fresh_browser
    home = full_stack.wp_url + "/"
    d.get(home)

    # The widget shows bottom-right as a dialog with the three choices.
    rect = dialog(d).rect
    width, height = d.execute_script("return [innerWidth, innerHeight]")
    assert rect["x"] + rect["width"] > width * 0.75, rect
    assert rect["y"] + rect["height"] > height * 0.75, rect
    for action in ("accept-all", "reject-all", "preferences"):
        assert d.find_element(By.CSS_SELECTOR, f'[data-sp-action="{action}"]').is_displayed()
    assert d.execute_script("return window.SecurePrivacy.getConsent()") is None

    click(d, "accept-all")
    cookie = wait_for(lambda: consent_cookie(d), 5, what="the sp_consent cookie")
    subject = cookie["subject_id"]

    (rec,) = records_of(admin_api, subject, 1)
    assert rec["action"] == "grant" and rec["method"] == "accept_all"
    assert rec["ip"] == "127.0.0.1"
    assert rec["categories"] == ALL_ON
    assert rec["page_url"] == home
    assert rec["policy_version"] == "1"
    assert rec["user_agent"] == d.execute_script("return navigator.userAgent")
    assert rec["banner_version"] == cookie["banner_version"]

    # Its screenshot is taken by the worker and served within 30 s.
    def screenshot():
        status, body, headers = admin_api.get(f"/v1/consents/{rec['id']}/screenshot")
        return (body, headers) if status == 200 else None
    image, headers = wait_for(screenshot, 30, interval=0.5, what="the screenshot")
    assert headers["Content-Type"] in ("image/webp", "image/png")
    img = Image.open(io.BytesIO(image))
    assert img.size == (1280, 800) or img.width >= 1000
    status, body, _ = admin_api.get(f"/v1/consents/{rec['id']}")
    assert body["screenshot"]["status"] == "done"
    assert body["screenshot"]["url"] == f"/v1/consents/{rec['id']}/screenshot"

    # The floating button reopens the choices; Withdraw records a withdrawal in one click.
    click(d, "open")
    click(d, "withdraw")
    records = records_of(admin_api, subject, 2)
    latest = records[0]
    assert latest["action"] == "withdraw" and latest["method"] == "withdraw"
    assert latest["categories"] == ALL_OFF
    assert latest["id"] != rec["id"]
    assert d.find_element(By.CSS_SELECTOR, '[data-sp-action="open"]').is_displayed()
