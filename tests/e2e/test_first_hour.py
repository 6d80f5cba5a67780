"""A site owner's first hour on a fresh WordPress (issue 12's acceptance), in a real browser:
activate the plugin and see the setup checklist; visitors do not see the banner yet; enter
what `sidecar init` printed and pass Test connection; a visitor's consent then reaches the
sidecar at once (WP-Cron is off: no cron tick delivers it); the record page says when its
screenshot was rendered and whether the render was reused, as the record's data says.

The site is one WordPress with one sidecar on its database, as a real owner has it
(`fresh_site`, tests/e2e/conftest.py): not the session's stack, whose plugin is set up."""

from __future__ import annotations

import time

from helpers import AdminApi, wait_for
from pages import (
    Site,
    admin_get,
    assert_shot_account,
    checklist,
    click_and_load,
    click_css,
    consent_click,
    consent_reply,
    dialog,
    expect_notice,
    login,
    signed_out,
    wait_records,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

PLUGIN_ROW = 'tr[data-plugin="secure-privacy/secure-privacy.php"]'
STEPS = ("connect", "test", "origin", "worker", "policy")


def banner_parts(d) -> dict:
    """What of the plugin the public page open in `d` holds."""
    return {css: bool(d.find_elements(By.CSS_SELECTOR, css))
            for css in ("#sp-consent-config", "#sp-consent", "#sp-preview-note")}


def test_first_hour_on_a_fresh_wordpress(fresh_site, browser):
    s, d = fresh_site, browser
    site = Site(s)
    laps, start = {}, time.monotonic()

    def lap(name: str) -> None:
        laps[name] = round(time.monotonic() - start, 1)

    # ---- activate, and see the checklist --------------------------------------------------
    assert s.wp_eval("echo wp_json_encode(get_option('secure_privacy_settings'));") == "false"
    login(d, s)
    admin_get(d, s, "plugins.php")
    row = d.find_element(By.CSS_SELECTOR, PLUGIN_ROW)
    assert "inactive" in row.get_attribute("class").split()
    row.find_element(By.CSS_SELECTOR, ".activate a").click()
    WebDriverWait(d, 15).until(EC.text_to_be_present_in_element(
        (By.ID, "message"), "Plugin activated."), "plugins.php did not say 'Plugin activated.'")
    assert "active" in d.find_element(By.CSS_SELECTOR, PLUGIN_ROW).get_attribute(
        "class").split()
    assert checklist(d, "#sp-setup-checklist") == dict.fromkeys(STEPS, False)
    notice = d.find_element(By.ID, "sp-setup-checklist")
    assert "0 of 5 steps done." in notice.text
    notice.find_element(By.LINK_TEXT, "Open the settings").click()
    assert checklist(d, "#sp-setup") == dict.fromkeys(STEPS, False)
    assert d.find_element(By.ID, "secure_privacy_sidecar_url").get_attribute("value") == ""
    outbox = d.find_element(By.ID, "sp-outbox")
    assert outbox.find_elements(By.CSS_SELECTOR, ".sp-neutral")
    assert not outbox.find_elements(By.CSS_SELECTOR, ".sp-ok"), outbox.text  # not green
    lap("activated")

    # ---- the banner is not shown to anonymous visitors yet (the administrator sees it,
    # with a note saying visitors do not) ----------------------------------------------------
    d.get(s.wp_url + "/")
    dialog(d)
    assert banner_parts(d) == dict.fromkeys(banner_parts(d), True)
    with signed_out(d, s.wp_url):
        d.get(s.wp_url + "/")
        assert not [c for c in d.get_cookies() if c["name"].startswith("wordpress_")]
        assert "Secure Privacy Demo" in d.title
        assert banner_parts(d) == dict.fromkeys(banner_parts(d), False)
    lap("not shown to visitors")

    # ---- configure with what `sidecar init` printed, and Test connection passes ------------
    printed = s.init_printed
    assert printed["Sidecar URL"] == s.sidecar_url
    admin_get(d, s, "admin.php?page=secure-privacy")
    click_css(d, '[data-sp-tab="secure_privacy_sidecar"]')
    for field, label in (("sidecar_url", "Sidecar URL"), ("secret_keys", "Signing secrets"),
                         ("admin_token", "Admin API token")):
        box = d.find_element(By.ID, f"secure_privacy_{field}")
        box.clear()
        box.send_keys(printed[label])
    click_and_load(d, ".sp-main #submit", "#setting-error-settings_updated")
    # Saved, not tested yet: still no banner for visitors.
    assert checklist(d, "#sp-setup") == {**dict.fromkeys(STEPS, False), "connect": True}
    with signed_out(d, s.wp_url):
        d.get(s.wp_url + "/")
        assert banner_parts(d) == dict.fromkeys(banner_parts(d), False)
    admin_get(d, s, "admin.php?page=secure-privacy")
    result = click_and_load(d, "#sp-test-connection", "#sp-connection-result")
    checks = result.find_elements(By.TAG_NAME, "li")
    assert len(checks) >= 5 and {c.get_attribute("class") for c in checks} == {"sp-ok"}, \
        result.text
    assert f"{s.wp_url} is on the sidecar's SP_SITE_ORIGINS" in result.text
    assert "A screenshot worker is running." in result.text
    assert "verifies this site's signatures" in result.text
    expect_notice(d, "Connected to the sidecar")
    # Every step but the privacy policy, which a fresh WordPress leaves a draft.
    assert s.wp_eval("echo get_post_status((int) get_option('wp_page_for_privacy_policy'));") \
        == "draft"
    assert checklist(d, "#sp-setup") == {**dict.fromkeys(STEPS, True), "policy": False}
    assert d.find_elements(By.CSS_SELECTOR, "#sp-outbox .sp-ok")
    lap("configured")

    # ---- the banner shows, and a consent is delivered at once (WP-Cron is off) -------------
    assert "define('DISABLE_WP_CRON', true);" in (s.wp_dir / "wp-config.php").read_text()
    api = AdminApi(s.sidecar_url, printed["Admin API token"])

    def visitor_consents() -> dict:
        with signed_out(d, s.wp_url):
            d.get(s.wp_url + "/")
            dialog(d)
            assert banner_parts(d) == {"#sp-consent-config": True, "#sp-consent": True,
                                       "#sp-preview-note": False}
            subject, status = consent_click(d, "accept-all")
            assert status == 202 and consent_reply(d)["delivered"] is True
        (rec,) = wait_records(api, 1, timeout=5, subject_id=subject)
        assert site.outbox() == []
        return rec

    first = visitor_consents()
    lap("first consent recorded")

    # ---- the record page: render time and reuse as the record's data says -----------------
    def shot_done(rid: str) -> dict | None:
        body = api.get(f"/v1/consents/{rid}")[1]
        return body if body["screenshot"]["status"] == "done" else None

    first = wait_for(lambda: shot_done(first["id"]), 45, interval=0.5, what="the screenshot")
    lap("first screenshot")
    assert first["screenshot"]["reused"] is False  # the site's first render: made for it
    second = visitor_consents()  # another visitor on the same page: the render is reused
    second = wait_for(lambda: shot_done(second["id"]), 45, interval=0.5,
                      what="the second record's screenshot")
    assert second["screenshot"]["reused"] is True
    assert second["screenshot"]["taken_at"] == first["screenshot"]["taken_at"]
    lap("second consent and its screenshot")

    # Each page against its record as the sidecar answers now: the second consent made the
    # first one's render shared too.
    for rid in (first["id"], second["id"]):
        admin_get(d, s, "admin.php?page=secure-privacy-log")
        img = click_and_load(d, f'tr[data-sp-record="{rid}"] a.row-title', "#sp-screenshot")
        assert wait_for(lambda i=img: d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth", i), 10,
            what="the screenshot in the page") >= 1000
        rec = api.get(f"/v1/consents/{rid}")[1]
        assert rec["screenshot"]["shared"] is rec["screenshot"]["reused"] is True
        assert_shot_account(d, rec)
    lap("record pages")
    print(f"first hour laps (s): {laps}")
