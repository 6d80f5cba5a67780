"""The Site scan page in a real browser on the real WordPress (issue 13): the new-findings
notice links to the report and is dismissed for good, the site rules are listed, added and
deleted through the page's own forms (capability + nonce), and the page is accessible
(axe-core). A scan started on the page is run by the stack's real sidecar and worker (which
fetch the plugin's own page list), its progress followed by the page's poll until the report
shows; a category set on an item there is a site rule that the next scan applies. Grouping
and ordering of reports are proven in tests/php/wp/ScanAdminTest.php."""

from __future__ import annotations

import json

from helpers import run_sql
from pages import admin_get, click_and_load, expect_notice
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from test_admin import assert_no_serious_axe_violation

RULE = {"kind": "cookie", "pattern": "_sp_e2e", "category": "statistics"}


def _options(stack) -> dict:
    return json.loads(stack.wp_eval(
        "echo wp_json_encode(array("
        "'rules' => get_option('secure_privacy_site_rules', null),"
        "'notice' => get_option('secure_privacy_scan_notice', null)));"))


def test_notice_rules_and_page_in_the_browser(admin, full_stack):
    d, stack = admin, full_stack
    stack.wp_eval(
        "update_option('secure_privacy_site_rules', array(array('kind' => 'cookie',"
        " 'pattern' => '_sp_e2e', 'category' => 'statistics')), false);"
        "update_option('secure_privacy_scan_notice', array('scan_id' => 'e2e-scan',"
        " 'items' => 2, 'violations' => 1), false);")
    try:
        admin_get(d, stack, "index.php")
        notice = d.find_element(By.CSS_SELECTOR, ".sp-scan-notice")
        assert "2 new items and 1 new violation" in notice.text
        review = notice.find_element(By.CSS_SELECTOR, "a.button-primary").get_attribute("href")
        assert "page=secure-privacy-scan" in review and "scan=e2e-scan" in review

        admin_get(d, stack, "admin.php?page=secure-privacy-scan")
        assert d.find_element(By.CSS_SELECTOR, ".sp-scan h1").text.strip() == "Site scan"
        assert d.find_elements(By.ID, "sp-scan-start")
        assert stack.admin_token not in d.page_source
        # The sidecar's answer about the scans (a report, or its error message): never blank.
        assert d.find_elements(
            By.CSS_SELECTOR, ".sp-scan-report, .sp-sidecar-error, .sp-scan .notice")
        assert_no_serious_axe_violation(d, ".sp-scan")

        d.find_element(By.CSS_SELECTOR, 'tr[data-sp-rule="cookie:_sp_e2e"] button').click()
        expect_notice(d, "Site rule deleted")
        assert _options(stack)["rules"] == []

        Select(d.find_element(By.ID, "sp-rule-add-kind")).select_by_value("request")
        d.find_element(By.ID, "sp-rule-add-pattern").send_keys("*.Tracker.example")
        Select(d.find_element(By.ID, "sp-rule-add-category")).select_by_value("marketing")
        d.find_element(By.ID, "sp-rule-add-service").send_keys("Tracker <b>Ads</b>")
        d.find_element(By.ID, "sp-rule-add-submit").click()
        expect_notice(d, "Site rule saved")
        assert _options(stack)["rules"] == [{"kind": "request", "pattern": "*.tracker.example",
                                             "category": "marketing", "service": "Tracker Ads"}]
        assert d.find_elements(By.CSS_SELECTOR, 'tr[data-sp-rule="request:*.tracker.example"]')

        admin_get(d, stack, "index.php")
        # Dismiss goes through admin-post.php and back: a page opened before it is back could
        # cut the request short (and the notice stay).
        click_and_load(d, ".sp-scan-notice a.button:not(.button-primary)", "#wpbody")
        admin_get(d, stack, "index.php")
        assert not d.find_elements(By.CSS_SELECTOR, ".sp-scan-notice")
        assert _options(stack)["notice"] is None
    finally:
        stack.wp_eval("delete_option('secure_privacy_site_rules');"
                      "delete_option('secure_privacy_scan_notice');")


def _scan_from_the_page(d, stack) -> None:
    """Start a scan of one page (the plugin's list: the front page) and wait for its report."""
    admin_get(d, stack, "admin.php?page=secure-privacy-scan")
    box = d.find_element(By.ID, "sp-scan-max")
    box.clear()
    box.send_keys("1")
    d.find_element(By.ID, "sp-scan-start").click()
    expect_notice(d, "The scan has started")  # the new page: the old one has the last report
    # The page's poll (admin-ajax.php) reloads it once the worker is done.
    progress: list[str] = []

    def report_shown(drv):
        try:
            facts = drv.find_elements(By.CSS_SELECTOR, ".sp-scan-facts")
            if facts:
                return facts[0].text
            progress[:] = [e.text for e in drv.find_elements(By.CSS_SELECTOR,
                                                              "[data-sp-scan-text]")]
        except StaleElementReferenceException:  # the poll reloaded the page meanwhile
            pass
        return False

    try:
        facts = WebDriverWait(d, 180, poll_frequency=1).until(report_shown)
    except TimeoutException:
        raise AssertionError(f"no scan report on the Site scan page after 180 s;"
                             f" progress said {progress!r}") from None
    assert "Done" in facts, facts


def test_a_scan_started_on_the_page_and_a_site_rule_set_there_changes_the_next_report(
        admin, full_stack):
    d, stack = admin, full_stack
    scans = f"`{stack.table_prefix}sp_scans`"
    (last,) = run_sql(stack.database_url(), f"SELECT COALESCE(MAX(seq), 0) AS seq FROM {scans}")
    try:
        _scan_from_the_page(d, stack)
        assert stack.admin_token not in d.page_source
        row = d.find_element(By.CSS_SELECTOR, 'tr[data-sp-item="cookie:sp_consent"]')
        assert row.find_element(By.CSS_SELECTOR, ".sp-col-source").text == "WordPress"
        assert_no_serious_axe_violation(d, ".sp-scan")

        Select(row.find_element(By.NAME, "category")).select_by_value("preferences")
        row.find_element(By.CSS_SELECTOR, ".sp-rule-form button").click()
        expect_notice(d, "Site rule saved")
        assert {"kind": "cookie", "pattern": "sp_consent", "category": "preferences",
                "service": "Secure Privacy"} in _options(stack)["rules"]

        _scan_from_the_page(d, stack)
        row = d.find_element(By.CSS_SELECTOR, 'tr[data-sp-item="cookie:sp_consent"]')
        assert row.find_element(By.CSS_SELECTOR, ".sp-col-source").text == "Site rule"
        assert "Preferences" in row.find_element(By.CSS_SELECTOR, ".sp-col-category .sp-pill").text
    finally:  # the session's later tests expect the stack's sidecar without these reports
        run_sql(stack.database_url(), f"DELETE FROM {scans} WHERE seq > %s", (last["seq"],))
        stack.wp_eval("secure_privacy_scan_boot();"
                      "wp_clear_scheduled_hook(SECURE_PRIVACY_SCAN_CHECK_HOOK);"
                      "delete_option('secure_privacy_site_rules');"
                      "delete_option('secure_privacy_scan_notice');"
                      "delete_option('secure_privacy_scan_state');")
