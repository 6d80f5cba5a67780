"""The site owner's cockpit in a real browser on the real WordPress (issue 6): settings reach
the widget, the consent log shows records and their screenshots, export, delete, erase, the
WordPress privacy tools, policy versioning, and no consent lost while the sidecar is down."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import time
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import wait_for
from pages import (
    accept_confirm,
    admin_get,
    assert_shot_account,
    click,
    click_and_load,
    click_css,
    consent_click,
    expect_notice,
    fetch_with_cookies,
    login,
    php_value,
    records,
    route_consent,
    send,
    visit_as_new_visitor,
    wait_records,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

ROOT = Path(__file__).resolve().parents[2]


# ---- helpers ------------------------------------------------------------------------------

@pytest.fixture(scope="module", autouse=True)
def keep_settings(site):
    """Whatever these tests change, the stack's settings are put back afterwards."""
    with site.settings():
        yield
    site.stack.wp_eval("delete_option('secure_privacy_policy_edited');")


def screenshot_dir() -> Path | None:
    """docs/screenshots when SP_ADMIN_SCREENSHOTS=1 (refreshing the docs), else None."""
    if os.environ.get("SP_ADMIN_SCREENSHOTS") != "1":
        return None
    path = ROOT / "docs" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_page(d, name: str, element: str | None = None):
    """Screenshot the page (or one element of it) as docs/screenshots/admin-<name>.png."""
    folder = screenshot_dir()
    if folder is None:
        return
    height = d.execute_script(
        "const c = document.querySelector('#wpbody-content > .wrap') ||"
        " document.getElementById('wpbody-content');"
        "return c ? c.getBoundingClientRect().bottom + scrollY + 60 : 900")
    d.set_window_size(1440, min(max(int(height), 900), 1800))
    d.execute_script("window.scrollTo(0, 0)")
    time.sleep(0.3)
    target = folder / f"admin-{name}.png"
    if element:
        d.find_element(By.CSS_SELECTOR, element).screenshot(str(target))
    else:
        d.save_screenshot(str(target))
    d.set_window_size(1280, 800)


# ---- settings -----------------------------------------------------------------------------

def test_settings_save_sanitised_and_policy_version_reaches_the_widget(admin, full_stack, site):
    d = admin
    admin_get(d, full_stack, "admin.php?page=secure-privacy")
    click_css(d, '[data-sp-tab="secure_privacy_consent"]')
    version = d.find_element(By.ID, "secure_privacy_policy_version")
    version.clear()
    version.send_keys("7.1 <b>x</b>")
    click_css(d, '[data-sp-tab="secure_privacy_network"]')
    header = d.find_element(By.ID, "secure_privacy_trusted_proxy_header")
    header.clear()
    header.send_keys("X-Forwarded-For: evil")  # not a header name: dropped by the sanitizer
    limit = d.find_element(By.ID, "secure_privacy_rate_limit_per_minute")
    limit.clear()
    limit.send_keys("300")
    click_css(d, '[data-sp-tab="secure_privacy_banner"]')
    marketing = d.find_element(By.ID, "secure_privacy_category_marketing")
    if marketing.is_selected():
        marketing.click()
    Select(d.find_element(By.ID, "secure_privacy_position")).select_by_value("bottom-left")
    d.execute_script("document.getElementById('secure_privacy_primary_color').value = '#AA3300'")
    click_css(d, '[data-sp-tab="secure_privacy_texts"]')
    accept = d.find_element(By.ID, "secure_privacy_text_en_US_acceptAll")
    accept.clear()
    accept.send_keys("Sure, go ahead")
    click_and_load(d, ".sp-main #submit", "#setting-error-settings_updated")

    s = site.get_settings()
    assert s["policy_version"] == "7.1 x"  # tags stripped
    assert s["trusted_proxy_header"] == ""
    assert s["rate_limit_per_minute"] == 300
    assert s["categories_enabled"] == ["preferences", "statistics"]
    assert s["position"] == "bottom-left"
    assert s["primary_color"] == "#aa3300"
    assert s["texts"]["en_US"] == {"acceptAll": "Sure, go ahead"}
    # The secrets were not printed into the form, and saving it kept them.
    assert s["secret_keys"] and s["admin_token"] == full_stack.admin_token
    assert full_stack.admin_token not in d.page_source

    # A new visitor's banner refers to the new version, and so does the record.
    visit_as_new_visitor(d, full_stack)
    config = json.loads(d.find_element(By.ID, "sp-consent-config").get_attribute("textContent"))
    assert config["policyVersion"] == "7.1 x"


def test_banner_texts_colour_and_position_reach_the_widget(browser, full_stack, site):
    site.set_settings(texts={"en_US": {"acceptAll": "Sure, go ahead"}},
                      primary_color="#aa3300", position="bottom-left")
    d = browser
    visit_as_new_visitor(d, full_stack)
    button = WebDriverWait(d, 10).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, '#sp-consent [data-sp-action="accept-all"]')))
    assert button.text == "Sure, go ahead"
    dialog = d.find_element(By.CSS_SELECTOR, '#sp-consent [role="dialog"]')
    assert dialog.rect["x"] < d.execute_script("return innerWidth") / 4
    assert "170, 51, 0" in button.value_of_css_property("background-color")


def test_test_connection_reports_readiness_and_version(admin, full_stack):
    d = admin
    admin_get(d, full_stack, "admin.php?page=secure-privacy")
    # The page may already show this user's last result (kept 10 minutes): the new page's.
    result = click_and_load(d, "#sp-test-connection", "#sp-connection-result")
    assert re.search(r"Ready, version \S+", result.text), result.text
    assert "Accepted." in result.text
    assert "verifies this site's signatures" in result.text
    assert f"{full_stack.wp_url} is on the sidecar's SP_SITE_ORIGINS" in result.text
    assert "A screenshot worker is running." in result.text
    expect_notice(d, "Connected to the sidecar")


def _site_workers(full_stack) -> list[int]:
    """The pids of every `sidecar worker` writing heartbeats for this site (its database and
    table prefix), found through /proc: the stack's own, and any a test started."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            env = dict(e.split(b"=", 1) for e in (entry / "environ").read_bytes().split(b"\0")
                       if b"=" in e)
        except OSError:
            continue
        if b"worker" in argv and any(a.endswith((b"sidecar", b"sidecar.cli")) for a in argv) \
                and env.get(b"SP_DATABASE_URL", b"").decode() == full_stack.database_url() \
                and env.get(b"SP_TABLE_PREFIX", b"").decode() == full_stack.table_prefix:
            pids.append(int(entry.name))
    return pids


def test_test_connection_fails_naming_the_fix_when_no_worker_runs(admin, full_stack):
    """The site's workers stopped (SIGSTOP) and their last heartbeats two minutes old, as if
    they had died."""
    import signal

    from helpers import run_sql
    workers = _site_workers(full_stack)
    assert full_stack.procs["worker"].pid in workers, workers
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    try:
        run_sql(full_stack.database_url(), f"UPDATE {full_stack.table_prefix}sp_workers"
                " SET seen_at = seen_at - INTERVAL 2 MINUTE")
        admin_get(admin, full_stack, "admin.php?page=secure-privacy")
        # (the page shows an earlier test's result: the new page's is read)
        result = click_and_load(admin, "#sp-test-connection", "#sp-connection-result")
        assert "No screenshot worker has been seen in the last minute" in result.text
        assert "Start the worker on the sidecar's host" in result.text
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGCONT)


def test_admin_actions_need_capability_and_nonce(browser, full_stack):
    """Without a nonce (or signed out) the admin-post actions refuse and change nothing."""
    d = browser
    visit_as_new_visitor(d, full_stack)  # signed out
    status, body, _ = fetch_with_cookies(
        d, full_stack.wp_url + "/wp-admin/admin-post.php?action=secure_privacy_export&format=csv")
    assert b"consent" not in body.lower() or status != 200
    login(d, full_stack)
    status, body, _ = fetch_with_cookies(
        d, full_stack.wp_url + "/wp-admin/admin-post.php?action=secure_privacy_export&format=csv")
    assert status == 403, (status, body[:200])
    assert not body.startswith(b"id,event_id")


# ---- consent log --------------------------------------------------------------------------

def test_log_lists_a_consent_with_its_screenshot_and_exports_csv(browser, full_stack, site,
                                                                 admin_api):
    d = browser
    site.set_settings(policy_version="1",
                      categories_enabled=["preferences", "statistics", "marketing"])
    visit_as_new_visitor(d, full_stack, "/?page_id=2")
    subject, status = consent_click(d, "accept-all")
    assert status == 202
    (rec,) = wait_records(admin_api, 1, subject_id=subject)

    login(d, full_stack)
    admin_get(d, full_stack, f"admin.php?page=secure-privacy-log&subject_id={subject}")
    row = d.find_element(By.CSS_SELECTOR, f'tr[data-sp-record="{rec["id"]}"]')
    assert "Accept all" in row.text
    assert row.find_element(By.CSS_SELECTOR, '[data-sp-cat="marketing"]').get_attribute(
        "class") == "sp-on"
    assert "127.0.0.1" in row.text

    # The detail view shows the screenshot once the worker took it (served through WordPress).
    def shot_taken():
        status, body, _ = admin_api.get(f"/v1/consents/{rec['id']}")
        return body["screenshot"]["status"] == "done"
    wait_for(shot_taken, 45, interval=0.5, what="the worker's screenshot")

    def shot_loaded():
        admin_get(d, full_stack, f"admin.php?page=secure-privacy-log&consent={rec['id']}")
        imgs = d.find_elements(By.ID, "sp-screenshot")
        if not imgs:
            return None
        return d.execute_script(
            "const i = arguments[0]; return i.complete && i.naturalWidth > 0 ? "
            "[i.naturalWidth, i.currentSrc] : null", imgs[0])
    width, src = wait_for(shot_loaded, 15, interval=1, what="the screenshot in the log")
    assert width >= 1000
    assert "admin-post.php" in src and full_stack.admin_token not in d.page_source
    facts = d.find_element(By.CSS_SELECTOR, ".sp-facts-table").text
    assert subject in facts and rec["hash"] in facts and "?page_id=2" in facts
    assert "hash chain" in facts  # the record's place in the ledger (or that it is pending)
    # The evidence: viewport, and whether the page showed the banner that was recorded.
    _, shot, _ = admin_api.get(f"/v1/consents/{rec['id']}")
    evidence = d.find_element(By.CSS_SELECTOR, ".sp-evidence").text
    assert f"{shot['screenshot']['width']}×{shot['screenshot']['height']}" in evidence
    match = d.find_element(By.ID, "sp-banner-match")
    assert match.get_attribute("class") == (
        "sp-ok" if shot["screenshot"]["banner_version_match"] else "sp-warn")
    assert_shot_account(d, shot)
    assert_no_serious_axe_violation(d, ".sp-record")
    save_page(d, "consent-record")

    # A second visitor on the same page: its record reuses the render and its page says so;
    # both pages say what their records hold.
    visit_as_new_visitor(d, full_stack, "/?page_id=2")
    other, _ = consent_click(d, "accept-all")
    (rec2,) = wait_records(admin_api, 1, subject_id=other)

    def shot_of(rid):
        body = admin_api.get(f"/v1/consents/{rid}")[1]
        return body if body["screenshot"]["status"] == "done" else None
    second = wait_for(lambda: shot_of(rec2["id"]), 45, interval=0.5, what="the second shot")
    assert second["screenshot"]["reused"] is True
    login(d, full_stack)
    assert second["screenshot"]["taken_at"] == shot["screenshot"]["taken_at"]
    for body in (second, admin_api.get(f"/v1/consents/{rec['id']}")[1]):
        admin_get(d, full_stack, f"admin.php?page=secure-privacy-log&consent={body['id']}")
        assert_shot_account(d, body)

    # CSV export through WordPress, with the log's filters.
    admin_get(d, full_stack, f"admin.php?page=secure-privacy-log&subject_id={subject}")
    href = d.find_element(By.ID, "sp-export-csv").get_attribute("href")
    status, body, headers = fetch_with_cookies(d, href)
    assert status == 200, body[:300]
    assert headers["Content-Type"].startswith("text/csv")
    assert "attachment" in headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [r["id"] for r in rows] == [rec["id"]]
    assert rows[0]["subject_id"] == subject and rows[0]["marketing"] == "true"


def assert_no_serious_axe_violation(d, include: str) -> None:
    """axe-core (node_modules) on the elements matching `include` of the current page."""
    if not d.execute_script("return !!window.axe"):
        d.execute_script((ROOT / "node_modules" / "axe-core" / "axe.min.js").read_text())
    d.set_script_timeout(60)
    result = d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        axe.run({include: [[arguments[0]]]}, {resultTypes: ['violations']})
          .then((r) => done(r.violations.filter((v) => ['serious', 'critical']
            .includes(v.impact)).map((v) => v.id + ': ' + v.nodes.map((n) => n.target)
            .join(' '))))
          .catch((e) => done(['error: ' + e]));""", include)
    assert result == [], result


def test_delete_one_record_and_erase_a_visitor(browser, full_stack, admin_api):
    d = browser
    visit_as_new_visitor(d, full_stack)
    victim, _ = consent_click(d, "reject-all")
    visit_as_new_visitor(d, full_stack)
    subject, _ = consent_click(d, "accept-all")
    click(d, "open")
    click(d, "withdraw")
    (one,) = wait_records(admin_api, 1, subject_id=victim)
    wait_records(admin_api, 2, subject_id=subject)

    login(d, full_stack)
    admin_get(d, full_stack, f"admin.php?page=secure-privacy-log&consent={one['id']}")
    d.find_element(By.ID, "sp-delete-record").click()
    assert accept_confirm(d).startswith("Delete this record?")
    expect_notice(d, "The record was deleted.")
    status, body, _ = admin_api.get(f"/v1/consents/{one['id']}")
    assert status == 410 and body["error"]["code"] == "erased"

    admin_get(d, full_stack, "admin.php?page=secure-privacy-log")
    d.find_element(By.ID, "sp-erase-value").send_keys(subject)
    d.find_element(By.ID, "sp-erase-submit").click()
    assert "cannot be undone" in accept_confirm(d)
    expect_notice(d, "Erased 2 records.")
    assert records(admin_api, subject_id=subject) == []

    # A bad value is refused with a message, nothing erased.
    d.find_element(By.ID, "sp-erase-value").send_keys("not-an-id")
    d.find_element(By.ID, "sp-erase-submit").click()
    assert "cannot be undone" in accept_confirm(d)
    expect_notice(d, "not a visitor id")


# ---- WordPress privacy tools --------------------------------------------------------------

def privacy_request(d, full_stack, page: str, email: str):
    """Add a request for `email` on a Tools → Export/Erase Personal Data page, without the
    confirmation e-mail; return its row in the requests table."""
    admin_get(d, full_stack, page)
    d.find_element(By.ID, "username_or_email_for_privacy_request").send_keys(email)
    confirm = d.find_elements(By.ID, "send_confirmation_email")
    if confirm and confirm[0].is_selected():
        confirm[0].click()
    click_and_load(d, "#submit", "#wpbody")
    return WebDriverWait(d, 10).until(EC.presence_of_element_located(
        (By.XPATH, f"//tr[.//a[contains(., '{email}')]]")),
        f"no request of {email} listed on {page} after adding it")


def test_privacy_exporter_and_eraser_for_a_signed_in_user(browser, full_stack, admin_api):
    d = browser
    name = "carol" + uuid.uuid4().hex[:6]
    email = f"{name}@example.com"
    user_id = int(full_stack.wp_eval(
        f"echo wp_create_user({php_value(name)}, 'Carol-pass-123', {php_value(email)});"))

    # Carol consents while signed in: the record carries her user id.
    login(d, full_stack, name, "Carol-pass-123")
    d.get(full_stack.wp_url + "/")
    d.execute_script("localStorage.clear();")
    d.delete_cookie("sp_consent")
    d.get(full_stack.wp_url + "/")
    subject, status = consent_click(d, "accept-all")
    assert status == 202
    (rec,) = wait_records(admin_api, 1, wp_user_id=user_id)
    assert rec["subject_id"] == subject

    login(d, full_stack)
    # Tools → Export Personal Data: request without confirmation email, then download.
    row = privacy_request(d, full_stack, "export-personal-data.php", email)
    # "Download personal data" runs every exporter through admin-ajax, then zips the result
    # into wp-content/uploads (needs php-zip) and downloads it.
    exports = Path(full_stack.wp_dir) / "wp-content" / "uploads" / "wp-personal-data-exports"
    before = set(exports.glob("*.zip")) if exports.exists() else set()
    button = row.find_element(By.CSS_SELECTOR, ".export-personal-data-handle")
    d.execute_script("arguments[0].click()", button)
    new_zip = wait_for(lambda: set(exports.glob("*.zip")) - before if exports.exists() else None,
                       30, what="the personal-data export file (is php-zip installed?)")
    with zipfile.ZipFile(next(iter(new_zip))) as z:
        html = z.read("index.html").decode()
    assert "Consent records" in html and rec["id"] in html and subject in html

    # Tools → Erase Personal Data: the deadline column, then a forced erasure.
    row = privacy_request(d, full_stack, "erase-personal-data.php", email)
    deadline = row.find_element(By.CSS_SELECTOR, "[data-sp-deadline]").get_attribute(
        "data-sp-deadline")
    expected = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")
    assert deadline == expected
    save_page(d, "erase-personal-data")
    button = row.find_element(By.CSS_SELECTOR, ".remove-personal-data-handle")
    d.execute_script("arguments[0].click()", button)
    wait_for(lambda: not records(admin_api, wp_user_id=user_id), 30,
             what="the user's records to be erased")
    status, _, _ = admin_api.get(f"/v1/consents/{rec['id']}")
    assert status == 410


# ---- policy versioning --------------------------------------------------------------------

def test_editing_the_privacy_policy_offers_a_version_bump(admin, full_stack, site):
    d = admin
    site.set_settings(policy_version="4", next_policy_version="", next_policy_effective="",
                      policy_notice_days=14)
    full_stack.wp_eval(
        "$id = (int) get_option('wp_page_for_privacy_policy');"
        "wp_update_post(array('ID' => $id,"
        " 'post_content' => 'New policy ' . wp_generate_uuid4()));")
    admin_get(d, full_stack, "index.php")
    notice = d.find_element(By.ID, "sp-policy-notice")
    assert "version 5" in notice.text
    d.find_element(By.ID, "sp-policy-bump").click()
    expect_notice(d, "Policy version 5 is announced")
    s = site.get_settings()
    assert s["policy_version"] == "4" and s["next_policy_version"] == "5"
    assert s["next_policy_effective"] == (datetime.now(UTC) + timedelta(days=14)).strftime(
        "%Y-%m-%d")
    assert not d.find_elements(By.ID, "sp-policy-notice")


# ---- nothing lost -------------------------------------------------------------------------

def test_nothing_lost_while_the_sidecar_is_down(browser, full_stack, site, admin_api):
    d = browser
    site.set_settings(policy_version="1", next_policy_version="",
                      categories_enabled=["preferences", "statistics", "marketing"])
    full_stack.stop_part("sidecar")
    subjects = []
    try:
        started = time.monotonic()
        for i in range(50):
            visit_as_new_visitor(d, full_stack)
            subject, status = consent_click(d, "reject-all" if i % 3 == 2 else "accept-all")
            assert status == 202
            subjects.append(subject)
        took = time.monotonic() - started
        waiting = site.outbox_status()
        assert waiting["pending"] == 50, waiting
        assert took < 50 * 3, f"visitors were slowed down: {took:.1f}s for 50 consents"

        # The admin sees the outbox.
        login(d, full_stack)
        admin_get(d, full_stack, "admin.php?page=secure-privacy")
        assert d.find_element(By.CSS_SELECTOR, "[data-sp-outbox-pending]").get_attribute(
            "data-sp-outbox-pending") == "50"
        save_page(d, "settings-outbox")
    finally:
        full_stack.start_sidecar()

    def all_arrived():
        full_stack.run_wp_cron()
        found = {r["subject_id"] for r in records(admin_api) if r["subject_id"] in subjects}
        return found if len(found) == 50 else None
    wait_for(all_arrived, 120, interval=3, what="all 50 consents to reach the sidecar")
    for subject in subjects:
        items = records(admin_api, subject_id=subject)
        assert len(items) == 1, (subject, items)  # exactly once
    assert site.outbox_status()["pending"] == 0


# ---- statistics ---------------------------------------------------------------------------

def test_statistics_page_and_dashboard_widget(admin, full_stack, admin_api):
    d = admin
    body = route_consent(full_stack.wp_url)
    status, answer, _ = send(f"{full_stack.wp_url}/?rest_route=/secure-privacy/v1/consent",
                             json.dumps(body).encode())
    assert status == 202 and answer["delivered"], answer
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    status, body, _ = admin_api.get(f"/v1/stats?from={today}&to={today}&group_by=day")
    decisions = sum(g["decisions"] for g in body["groups"])
    assert decisions > 0
    admin_get(d, full_stack, "admin.php?page=secure-privacy-stats&range=7")
    shown = d.find_element(By.CSS_SELECTOR, '[data-sp-card="decisions"]').text.replace(",", "")
    status, week, _ = admin_api.get(
        f"/v1/stats?from={(datetime.now(UTC) - timedelta(days=6)).strftime('%Y-%m-%d')}"
        f"&to={today}&group_by=day")
    assert int(shown) == sum(g["decisions"] for g in week["groups"])
    rates = d.find_element(By.CSS_SELECTOR, "#sp-chart-rates svg")
    assert rates.get_attribute("role") == "img"
    assert d.find_elements(By.CSS_SELECTOR, "#sp-chart-rates polyline, #sp-chart-rates circle")
    bars = d.find_elements(By.CSS_SELECTOR, "#sp-chart-volume rect")
    assert bars, "no column for today's decisions"
    cats = d.find_element(By.ID, "sp-chart-categories").text
    assert "Marketing" in cats and "%" in cats
    save_page(d, "statistics")

    # The same figures with the same definitions: the widget's 30 days and the page's
    # 30-day range agree, at once (nothing cached), also right after a new decision.
    status, answer, _ = send(f"{full_stack.wp_url}/?rest_route=/secure-privacy/v1/consent",
                             json.dumps(route_consent(full_stack.wp_url)).encode())
    assert status == 202 and answer["delivered"], answer
    admin_get(d, full_stack, "admin.php?page=secure-privacy-stats&range=30")
    page_total = int(d.find_element(By.CSS_SELECTOR, '[data-sp-card="decisions"]')
                     .text.replace(",", ""))
    accept = d.find_element(By.CSS_SELECTOR, ".sp-card-accept").text
    accepted = int(re.search(r"([\d,]+) of ([\d,]+) decisions", accept).group(1)
                   .replace(",", ""))
    assert f"of {page_total:,} decisions" in accept, accept
    methods = d.find_element(By.ID, "sp-chart-methods").text
    from decimal import ROUND_HALF_UP, Decimal
    pct = Decimal(100 * accepted) / Decimal(page_total)  # as PHP's number_format rounds it
    share = f"{pct.quantize(Decimal('0.1') if 0 < pct < 10 else Decimal('1'), ROUND_HALF_UP)}%"
    assert f"{accepted:,} ({share} of decisions)" in methods, (accepted, share, methods)
    admin_get(d, full_stack, "index.php")
    widget = d.find_element(By.ID, "secure_privacy_dashboard")
    assert int(widget.find_element(By.CSS_SELECTOR, '[data-sp-card="dashboard-decisions"]')
               .text.replace(",", "")) == page_total
    assert "Outbox" in widget.text
    save_page(d, "dashboard-widget", "#secure_privacy_dashboard")


def test_log_filters_and_pagination(admin, full_stack, admin_api):
    d = admin
    admin_get(d, full_stack, "admin.php?page=secure-privacy-log&method=reject_all")
    methods = {el.text for el in d.find_elements(By.CSS_SELECTOR, ".sp-log .sp-pill")}
    assert methods <= {"Reject all"}
    # Page 2 follows the sidecar's cursor: no record repeats. Enough records for two pages
    # whatever ran before (alone, this module's earlier tests leave fewer than 26).
    for _ in range(26 - len(records(admin_api))):
        status, answer, _ = send(f"{full_stack.wp_url}/?rest_route=/secure-privacy/v1/consent",
                                 json.dumps(route_consent(full_stack.wp_url)).encode())
        assert status == 202 and answer["delivered"], answer
    admin_get(d, full_stack, "admin.php?page=secure-privacy-log")
    first = {el.get_attribute("data-sp-record") for el in d.find_elements(
        By.CSS_SELECTOR, "tr[data-sp-record]")}
    # The next page's rows, not the first page's still on screen until it arrives.
    click_and_load(d, "[data-sp-next]", "tr[data-sp-record]")
    second = {el.get_attribute("data-sp-record") for el in d.find_elements(
        By.CSS_SELECTOR, "tr[data-sp-record]")}
    assert len(first) == 25 and second and not first & second


# ---- screenshots for the docs -------------------------------------------------------------

def test_admin_screenshots(admin, full_stack):
    """Refresh docs/screenshots/admin-*.png (SP_ADMIN_SCREENSHOTS=1); else only render-check."""
    d = admin
    for name, path in [("settings", "admin.php?page=secure-privacy"),
                       ("settings-texts", "admin.php?page=secure-privacy#secure_privacy_texts"),
                       ("consent-log", "admin.php?page=secure-privacy-log")]:
        admin_get(d, full_stack, path)
        assert not d.find_elements(By.CSS_SELECTOR, ".sp-sidecar-error"), name
        assert "Fatal error" not in d.page_source and "Warning:" not in d.page_source
        save_page(d, name)


def test_the_plugins_retention_turns_older_records_into_tombstones(admin, full_stack,
                                                                     admin_api):
    """Issue 12: "Record retention (days)" reaches the sidecar through the daily upkeep."""
    from helpers import run_sql

    from sidecar import codec
    wp = full_stack.wp_url
    old, recent = route_consent(wp), route_consent(wp)
    for body in (old, recent):
        status, answer, _ = send(f"{wp}/?rest_route=/secure-privacy/v1/consent",
                                 json.dumps(body).encode())
        assert status == 202 and answer["delivered"], answer
    (rec,) = wait_records(admin_api, 1, subject_id=old["subject_id"])
    days = int(full_stack.wp_eval("echo secure_privacy_settings()['retention_days'];"))
    run_sql(full_stack.database_url(), f"UPDATE {full_stack.table_prefix}sp_consents SET"
            f" received_at = received_at - INTERVAL {days + 1} DAY WHERE id = %s",
            (codec.uuid_to_db(rec["id"]),))
    full_stack.wp_eval("secure_privacy_daily_maintenance();")
    assert admin_api.get(f"/v1/consents/{rec['id']}")[0] == 410  # a tombstone now
    assert len(records(admin_api, subject_id=recent["subject_id"])) == 1
    admin_get(admin, full_stack, "admin.php?page=secure-privacy#secure_privacy_consent")
    text = admin.find_element(By.TAG_NAME, "body").get_attribute("textContent")
    assert re.search(rf"Last applied .*ago: \d+ records? older than {days} days", text), \
        text[-3000:]
