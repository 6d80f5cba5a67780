"""Proof of enforcement end to end (issue 14): a visitor's consent through the real widget and
WordPress carries the rule-set version the plugin computes from its site rules and shipped
catalogue; a scan started by the plugin with the same rules (real sidecar, worker and
Chromium) reports the same version, is found by it, and the wp-admin record page links it."""

from __future__ import annotations

import json
import re

from helpers import run_sql
from pages import admin_get, click_and_load, consent_click, login, records_of, wait_scan
from selenium.webdriver.common.by import By

from sidecar.ruleset import ruleset_version

RULES = ("array(array('kind' => 'request', 'pattern' => '*.Tracker.example',"
         " 'category' => 'marketing', 'service' => 'Tracker'))")


def test_a_consent_and_the_scan_of_its_rules_share_the_rule_set_version(
        fresh_browser, full_stack, admin_api):
    d, stack = fresh_browser, full_stack
    stack.wp_eval(f"secure_privacy_scan_boot(); secure_privacy_save_site_rules({RULES});")
    sid = None
    try:
        version = stack.wp_eval("echo secure_privacy_ruleset_version();").strip()
        assert re.fullmatch(r"[0-9a-f]{64}", version), version

        d.get(stack.wp_url + "/")
        subject, status = consent_click(d, "accept-all")
        assert status == 202
        (rec,) = records_of(admin_api, subject, 1)
        assert rec["rules_version"] == version

        started = json.loads(stack.wp_eval(
            "secure_privacy_scan_boot(); $r = secure_privacy_scan_start(1);"
            " echo wp_json_encode(is_wp_error($r) ? array('error' => $r->get_error_message())"
            " : $r);"))
        assert "id" in started, started
        sid = started["id"]
        report = wait_scan(admin_api, sid, 180, interval=1)
        assert report["ruleset_version"] == version
        assert report["rules"] == [{"kind": "request", "pattern": ".tracker.example",
                                    "category": "marketing", "service": "Tracker"}]
        assert ruleset_version(report["classifier"]["catalogue_sha256"], report["rules"]) \
            == version
        status, body, _ = admin_api.get(f"/v1/scans?ruleset_version={version}")
        assert status == 200 and sid in [s["id"] for s in body["items"]]

        login(d, stack)
        admin_get(d, stack, f"admin.php?page=secure-privacy-log&consent={rec['id']}")
        assert d.find_element(By.ID, "sp-rules-version").text == version
        link = d.find_element(By.CSS_SELECTOR, "#sp-rules-scan a")
        assert f"scan={sid}" in link.get_attribute("href")
        assert d.find_element(By.ID, "sp-rules-scan").text.startswith(
            ("Proved by the scan of", "Tested by the scan of"))
        # the scan's report on the Site scan page (once it has replaced the record page)
        # shows the same version
        assert click_and_load(d, link, ".sp-scan-ruleset").text == version
    finally:
        if sid:  # the session's later tests expect the stack's sidecar without reports
            run_sql(stack.database_url(), f"DELETE FROM `{stack.table_prefix}sp_scans`"
                    " WHERE id = %s", (sid,))
        stack.wp_eval("secure_privacy_scan_boot();"
                      "wp_clear_scheduled_hook(SECURE_PRIVACY_SCAN_CHECK_HOOK);"
                      "delete_option('secure_privacy_site_rules');"
                      "delete_option('secure_privacy_scan_notice');"
                      "delete_option('secure_privacy_scan_state');")
