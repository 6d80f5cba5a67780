"""Proof of enforcement end to end (issue 14): a re-scan of pages nobody tagged, with
auto-blocking on, shows zero tracker violations, and the consent a visitor then gives carries
the rule-set version of that scan; the scan's self-test says what blocking broke.

On the real WordPress, sidecar, worker and Chromium: the loopback tracker of
tests/e2e/test_autoblock.py (a catalogue service through the shared must-use plugin, and a
site rule naming its host, so the sidecar's report knows it as marketing too) hard-coded in
a page's content (script, iframe, pixel, stylesheet), enqueued on every page by the test
plugin (script and stylesheet), and
injected at runtime by a tag manager; and a "checkout" page whose form is made by a script the
blocker holds (a known marketing service's script, on the site's own host), which an inline
script then calls. The stack's worker scans those pages, started through the plugin's own
sidecar client with the site's rules:

- no request to the tracker before consent or after Reject all (no violation at all), while
  after Accept all every one of them is attempted (the scan is not blind to it);
- the self-test lists the checkout page (its form, fields and button missing and an error
  after Reject all, put on the held script) and no other page, and the Site scan page in
  wp-admin shows it as a warning;
- a consent through the widget records the scan's `ruleset_version`, and its record page in
  wp-admin links that scan as proving the rules.
"""

from __future__ import annotations

import json

import pytest
from helpers import run_sql
from pages import (
    admin_get,
    autoblock_plugin,
    consent_click,
    login,
    make_tag_manager_page,
    php_value,
    records_of,
    untagged_trackers_html,
    wait_scan,
)
from selenium.webdriver.common.by import By

KIT_DIR = "sp-test-kit"
KIT_JS = """// Written by tests/e2e/test_enforcement.py: a checkout script that makes the form.
window.CheckoutKit = {
  mount: function (where) {
    var f = document.createElement('form');
    f.id = 'sp-kit-checkout';
    f.setAttribute('aria-label', 'Checkout');
    f.innerHTML = '<input name="card" placeholder="Card number">' +
      '<button type="submit">Pay now</button>';
    document.querySelector(where).appendChild(f);
  }
};
"""
# The site's own host's /wp-content/sp-test-kit/ as a marketing service (a plugin's local
# copy of a tracker, say): the blocker holds its script until Marketing is granted.
KIT_SERVICE = """
add_filter('secure_privacy_catalogue', function ($c) {
    $c['services'][] = array('sp-test-kit', 'Checkout Kit', 'marketing', false);
    $c['url'][@HOST@][] = array('/wp-content/sp-test-kit/', count($c['services']) - 1);
    return $c;
});
"""


def _kit_html(wp_url: str) -> str:
    return ('<p>Checkout</p><div id="sp-kit-mount"></div>'
            f'<script src="{wp_url}/wp-content/{KIT_DIR}/checkout-kit.js"></script>'
            "<script>window.addEventListener('load', function () {"
            " CheckoutKit.mount('#sp-kit-mount'); });</script>")


@pytest.fixture(scope="module")
def enforced(site, full_stack, listener):
    """The pages, the must-use plugin, and a site rule for the tracker's host."""
    stack = full_stack
    host = stack.wp_url.split("://", 1)[1]
    kit = stack.wp_dir / "wp-content" / KIT_DIR
    kit.mkdir(exist_ok=True)
    (kit / "checkout-kit.js").write_text(KIT_JS)
    rule = [{"kind": "request", "pattern": f"127.0.0.1:{listener.port}",
             "category": "marketing", "service": "Loopback tracker"}]
    stack.wp_eval(f"secure_privacy_scan_boot(); secure_privacy_save_site_rules({php_value(rule)});")
    try:
        with autoblock_plugin(stack, listener, KIT_SERVICE.replace("@HOST@", repr(host))), \
                site.page("Untagged trackers",
                          untagged_trackers_html(listener.origin, pay=False)) as tracked, \
                make_tag_manager_page(site, listener.origin) as tm, \
                site.page("Checkout", _kit_html(stack.wp_url)) as checkout:
            yield {"tracked": tracked, "tm": tm, "checkout": checkout}
    finally:
        (kit / "checkout-kit.js").unlink()
        kit.rmdir()
        stack.wp_eval("secure_privacy_scan_boot(); delete_option('secure_privacy_site_rules');")


def test_a_rescan_proves_enforcement_and_the_consent_names_its_rule_set(
        enforced, full_stack, fresh_browser, admin_api, listener):
    stack, d = full_stack, fresh_browser
    pages = [enforced["tracked"], enforced["tm"], enforced["checkout"]]
    version = stack.wp_eval("echo secure_privacy_ruleset_version();").strip()
    # A scan of the untagged pages, started by the plugin's own sidecar client with the
    # site's rules (as secure_privacy_scan_start() does, with the pages named).
    started = json.loads(stack.wp_eval(
        "secure_privacy_scan_boot(); $r = secure_privacy_admin_api('POST', '/v1/scans',"
        f" array(), array('urls' => {php_value(pages)},"
        " 'rules' => secure_privacy_site_rules()));"
        " echo wp_json_encode(is_wp_error($r) ? array('error' => $r->get_error_message())"
        " : $r['json']);"))
    assert "id" in started, started
    sid = started["id"]
    try:
        report = wait_scan(admin_api, sid, 120)
        assert {p["url"] for p in report["pages"]} == set(pages)
        assert all(not p["errors"] for p in report["pages"]), report["pages"]

        # Zero violations: nothing that is not necessary before consent or after Reject all.
        assert report["violations"] == [] and report["summary"]["violations"] == 0, \
            report["violations"]
        # ... and not because the scan was blind: after Accept all, each one is attempted
        # (the worker's egress guard refuses a loopback "third party": attempts count).
        tracker = f"127.0.0.1:{listener.port}"
        (item,) = [i for i in report["items"] if i["kind"] == "request" and i["name"] == tracker]
        assert (item["category"], item["source"]) == ("marketing", "site-rule"), item
        assert {s["state"] for s in item["seen"]} == {"after_accept"}, item["seen"]
        assert {s["page"] for s in item["seen"]} == set(pages), "enqueued on every page"
        assert {"script", "iframe", "image"} <= set(item["resources"]), item["resources"]
        paths = {u.split(tracker, 1)[1].split("?")[0] for u in item["urls"]}
        assert {"/content.js", "/enqueued.js", "/frame.html", "/pixel.gif", "/runtime.js",
                "/runtime-frame.html", "/font.css", "/enqueued.css"} <= paths, paths

        # The self-test: the checkout page broke after Reject all, no other page did.
        st = report["self_test"]
        assert st["pages_checked"] == 3 and st["not_checked"] == [], st
        (broken,) = st["broken"]
        assert broken["page"] == enforced["checkout"], st["broken"]
        (error,) = broken["errors"]
        assert error["message"] == "Uncaught ReferenceError: CheckoutKit is not defined", error
        assert error["source"] == enforced["checkout"] and error["line"] > 0, error
        kit = {"service": "Checkout Kit", "host": stack.wp_url.split("://", 1)[1],
               "category": "marketing"}
        assert error["cause"] == {**kit, "basis": "named"}, error
        missing = {(m["tag"], m["id"], m["label"]): m for m in broken["missing"]}
        assert set(missing) == {("form", "sp-kit-checkout", "Checkout"),
                                ("input", None, "card"), ("button", None, "Pay now")}, missing
        assert all(m["cause"] == {**kit, "basis": "page_error"} for m in missing.values())
        # one fewer of each after Reject all (the theme's search form is there in both)
        assert {t: c["after_accept"] - c["after_reject"] for t, c in broken["fewer"].items()} \
            == {"form": 1, "input": 1, "button": 1}, broken["fewer"]

        # A visitor's consent through the widget carries the scan's rule-set version.
        assert report["ruleset_version"] == version
        d.get(enforced["tracked"])
        subject, status = consent_click(d, "accept-all")
        assert status == 202
        (rec,) = records_of(admin_api, subject, 1)
        assert rec["rules_version"] == report["ruleset_version"]

        # wp-admin: the record page links the scan as proving its rules; the Site scan page
        # shows what blocking broke.
        login(d, stack)
        admin_get(d, stack, f"admin.php?page=secure-privacy-log&consent={rec['id']}")
        assert d.find_element(By.ID, "sp-rules-version").text == version
        proof = d.find_element(By.ID, "sp-rules-scan")
        assert proof.text.startswith("Proved by the scan of"), proof.text
        assert "no tracker before consent or after Reject all" in proof.text
        assert f"scan={sid}" in proof.find_element(By.TAG_NAME, "a").get_attribute("href")
        admin_get(d, stack, f"admin.php?page=secure-privacy-scan&scan={sid}")
        warning = d.find_element(By.CSS_SELECTOR, ".sp-scan-selftest").text
        assert "Blocking may break 1 page" in warning, warning
        assert (f"After Reject all, the form “Checkout” (#sp-kit-checkout) is missing on "
                f"{enforced['checkout']}. Likely cause: Checkout Kit") in warning, warning
        assert "shows an error it does not show after Accept all: “Uncaught ReferenceError:" \
            " CheckoutKit is not defined”" in warning, warning
    finally:  # the session's later tests expect the stack's sidecar without reports
        run_sql(stack.database_url(), f"DELETE FROM `{stack.table_prefix}sp_scans`"
                " WHERE id = %s", (sid,))
        stack.wp_eval("secure_privacy_scan_boot();"
                      "wp_clear_scheduled_hook(SECURE_PRIVACY_SCAN_CHECK_HOOK);"
                      "delete_option('secure_privacy_scan_state');")
