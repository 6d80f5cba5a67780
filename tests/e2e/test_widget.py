"""The visitor widget in a real Chromium on the real WordPress (issue 5): every behaviour a
visitor, a data-protection authority and an accessibility auditor rely on.

Settings and pages a test changes are restored when it ends (`site`); browser emulations
(signals, clock, viewport, media, blocked URLs) are undone by the `b` fixture (both in
tests/e2e/conftest.py, built on pages.py)."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from helpers import wait_for
from pages import ALL_OFF, ALL_ON, FRAME, FRAME_SRC, records, records_of, today
from selenium.webdriver.common.keys import Keys

# Runs on every WordPress of --wordpress (6.1.9 and 6.5.5): see tests/conftest.py.
pytestmark = pytest.mark.every_wordpress

# A page with a blocked statistics script and a blocked (same-origin) marketing iframe.
STATS_SCRIPT = ('<script type="text/plain" data-sp-category="statistics">'
                "window.spStatsRuns = (window.spStatsRuns || 0) + 1;</script>")


@pytest.fixture(scope="module")
def blocked_page(site):
    with site.page("Blocked things", f"<p>Tracked page.</p>{STATS_SCRIPT}{FRAME}") as url:
        yield url


# ---- first layer, preferences, floating button ------------------------------------------

def test_first_layer_names_site_and_policy_with_three_equal_buttons(b, site, admin_api):
    b.get(site.url + "/")
    dialog = b.dialog()
    assert dialog.get_attribute("aria-modal") == "true"
    assert b.el("#sp-consent-title").text == "We value your privacy"
    body = b.el("#sp-consent-body").text
    assert body.startswith("Secure Privacy Demo uses cookies"), body
    link = b.el("#sp-consent-body a")
    assert link.text == "Privacy policy"
    policy = site.eval_json("echo wp_json_encode(get_privacy_policy_url());")
    assert link.get_attribute("href") == policy

    # Equal prominence: same size, colours and type; no pre-ticked box anywhere.
    looks = b.js("""return ['accept-all', 'reject-all', 'preferences'].map((a) => {
        const el = document.querySelector(`#sp-consent [data-sp-action="${a}"]`);
        const s = getComputedStyle(el), r = el.getBoundingClientRect();
        const first = el.parentNode.firstChild.getBoundingClientRect();
        return [el.textContent, Math.round(r.height), s.backgroundColor, s.color, s.fontSize,
                s.fontWeight, Math.abs(r.width - first.width) < 2];
    });""")
    assert [x[0] for x in looks] == ["Accept all", "Reject all", "Preferences"]
    assert all(x[1:] == looks[0][1:] for x in looks), looks
    assert looks[0][1] >= 44, "at least 44 px high"
    assert not b.els("#sp-consent input")

    # Bottom-right, and nothing recorded or stored before a choice.
    rect = dialog.rect
    width, height = b.js("return [innerWidth, innerHeight]")
    assert width - (rect["x"] + rect["width"]) <= 20, rect
    assert height - (rect["y"] + rect["height"]) <= 20, rect
    assert b.cookie() is None
    assert b.js("return window.SecurePrivacy.getConsent()") is None

    b.click("reject-all")
    cookie = wait_for(b.cookie, 5, what="the consent cookie")
    assert cookie["categories"] == ALL_OFF
    (rec,) = records_of(admin_api, cookie["subject_id"], 1)
    assert (rec["action"], rec["method"], rec["categories"]) == ("grant", "reject_all", ALL_OFF)
    assert rec["language"] == "en-US"


def test_preferences_switches_then_the_floating_button_reopens_with_withdraw(b, site, admin_api):
    b.get(site.url + "/")
    b.dialog()
    b.click("preferences")
    switches = b.js("""const all = document.querySelectorAll('#sp-consent input[data-sp-category]');
        return [...all].map((i) => [
        i.dataset.spCategory, i.getAttribute('role'), i.checked, i.disabled,
        document.querySelector(`label[for="${i.id}"]`).textContent,
        document.getElementById(i.getAttribute('aria-describedby')).textContent.length > 20]);""")
    assert switches == [
        ["necessary", "switch", True, True, "Necessary", True],
        ["preferences", "switch", False, False, "Preferences", True],
        ["statistics", "switch", False, False, "Statistics", True],
        ["marketing", "switch", False, False, "Marketing", True],
    ]
    b.el('#sp-consent label[for="sp-consent-cat-statistics"]').click()  # the label toggles too
    b.click("save")
    fab = b.el('#sp-consent [data-sp-action="open"]')
    assert fab.is_displayed() and fab.get_attribute("aria-label") == "Privacy settings"
    assert fab.rect["x"] > b.js("return innerWidth") - 80
    cookie = b.cookie()
    assert cookie["categories"] == {**ALL_OFF, "statistics": True}
    (rec,) = records_of(admin_api, cookie["subject_id"], 1)
    assert (rec["action"], rec["method"]) == ("grant", "custom")
    assert rec["categories"] == {**ALL_OFF, "statistics": True}

    # Reopened: the choices in force, marketing (the interest-based-ads opt-out) among them.
    fab.click()
    b.dialog()
    checked = b.js("return [...document.querySelectorAll('#sp-consent input')]"
                   ".map((i) => i.checked)")
    assert checked == [True, False, True, False]
    assert b.el('#sp-consent [data-sp-action="withdraw"]').text == "Withdraw consent"
    b.el('#sp-consent input[data-sp-category="marketing"]').click()
    b.click("save")
    # Each decision is its own POST, and WordPress serves several at once: the next one only
    # once this one is recorded, or the sidecar may store them in another order.
    records_of(admin_api, cookie["subject_id"], 2)
    b.click("open")
    b.click("withdraw")  # one click
    records = records_of(admin_api, cookie["subject_id"], 3)
    assert [(r["action"], r["method"]) for r in records] == [
        ("withdraw", "withdraw"), ("update", "custom"), ("grant", "custom")]
    assert records[1]["categories"] == {**ALL_OFF, "statistics": True, "marketing": True}
    assert records[0]["categories"] == ALL_OFF
    assert b.cookie()["categories"] == ALL_OFF
    assert b.el('#sp-consent [data-sp-action="open"]').is_displayed(), "still there for a change"


# ---- keyboard only ---------------------------------------------------------------------

def test_keyboard_only_tab_shift_tab_enter_space_escape(b, site, admin_api):
    b.get(site.url + "/")
    b.dialog()
    assert b.active() == "dialog", "focus moves into the dialog"
    b.keys(Keys.TAB)
    assert b.js("return document.activeElement.textContent") == "Privacy policy"
    order = []
    for _ in range(4):
        b.keys(Keys.TAB)
        order.append(b.active())
    assert order == ["accept-all", "reject-all", "preferences", "a"], "Tab cycles inside the dialog"
    b.shift_tab()
    assert b.active() == "preferences", "Shift+Tab wraps backwards"
    # Visible focus: a 3 px solid ring.
    ring = b.js("const s = getComputedStyle(document.activeElement);"
                " return [s.outlineStyle, s.outlineWidth]")
    assert ring == ["solid", "3px"]

    b.keys(Keys.ENTER)
    assert b.has('#sp-consent [data-sp-action="save"]')
    assert b.active() == "preferences", "focus on the first switch"
    b.keys(Keys.SPACE)
    assert b.js("return document.activeElement.checked") is True
    b.keys(Keys.ESCAPE)
    assert b.has('#sp-consent [data-sp-action="preferences"]'), "Escape leaves the preferences"
    assert b.active() == "preferences"
    b.keys(Keys.ESCAPE)
    assert b.has('#sp-consent [role="dialog"]'), "but a first visit needs a choice"

    b.keys(Keys.ENTER)
    b.keys(Keys.TAB)          # statistics
    b.keys(Keys.SPACE)
    for _ in range(4):        # marketing, accept, reject, save
        b.keys(Keys.TAB)
    assert b.active() == "save"
    b.keys(Keys.ENTER)
    assert not b.has('#sp-consent [role="dialog"]')
    assert b.active() == "open", "focus returns to the floating button"
    assert b.cookie()["categories"] == {**ALL_OFF, "statistics": True}
    records_of(admin_api, b.cookie()["subject_id"], 1)  # recorded before the next decision

    b.keys(Keys.SPACE)        # the floating button opens the choices
    b.dialog()
    assert b.active() == "preferences"
    b.keys(Keys.ESCAPE)
    assert not b.has('#sp-consent [role="dialog"]')
    assert b.active() == "open"
    b.keys(Keys.ENTER)
    b.dialog()
    for _ in range(7):        # statistics, marketing, accept, reject, save, withdraw
        if b.active() == "withdraw":
            break
        b.keys(Keys.TAB)
    assert b.active() == "withdraw"
    b.keys(Keys.ENTER)
    assert b.active() == "open"
    subject = b.cookie()["subject_id"]
    records = records_of(admin_api, subject, 2)
    assert [r["method"] for r in records] == ["withdraw", "custom"]


# ---- blocked scripts and iframes ----------------------------------------------------------

def frame_state(b) -> dict:
    return b.js(f"""const f = document.getElementById('sp-test-frame');
        const prev = f.previousElementSibling;
        const ph = prev && prev.matches('.sp-blocked') ? prev : null;
        let loaded = null; try {{ loaded = f.contentWindow.location.href; }} catch (e) {{}}
        const fetched = performance.getEntriesByType('resource')
          .some((e) => e.name.endsWith('{FRAME_SRC}'));
        return {{src: f.getAttribute('src'), shown: f.offsetWidth > 0, loaded, fetched,
                 frame: [f.offsetWidth, f.offsetHeight],
                 placeholder: ph && ph.querySelector('p').textContent,
                 size: ph && [ph.offsetWidth, ph.offsetHeight]}};""")


def test_blocked_statistics_script_runs_only_after_accept_and_not_after_withdraw(b, blocked_page):
    b.get(blocked_page)
    b.dialog()
    assert b.js("return window.spStatsRuns") is None, "does not run before consent"
    b.click("accept-all")
    assert b.js("return window.spStatsRuns") == 1, "runs after Accept"
    b.get(blocked_page)
    assert b.js("return window.spStatsRuns") == 1, "runs on the next page, once"
    b.click("open")
    b.click("withdraw")
    b.get(blocked_page)
    assert b.js("return window.spStatsRuns") is None, "does not run on the next page after Withdraw"
    still_blocked = "script[type='text/plain'][data-sp-category]"
    assert b.js(f"return document.querySelectorAll(\"{still_blocked}\").length") == 1


def test_blocked_iframe_placeholder_then_loaded_after_consent_not_after_withdraw(b, blocked_page):
    b.get(blocked_page)
    b.dialog()
    before = frame_state(b)
    assert before["src"] is None and not before["shown"] and not before["fetched"], before
    assert before["loaded"] == "about:blank"
    assert before["placeholder"] == "This content is blocked until you allow: Marketing."
    assert before["size"][0] >= 400 and before["size"][1] >= 240, before

    b.click("preferences")
    b.el('#sp-consent input[data-sp-category="statistics"]').click()
    b.click("save")
    assert frame_state(b)["src"] is None, "statistics is not the consent it needs"

    b.el(".sp-blocked [data-sp-action='open']").click()  # the placeholder's way to the choices
    b.dialog()
    b.el('#sp-consent input[data-sp-category="marketing"]').click()
    b.click("save")
    after = wait_for(lambda: (s := frame_state(b))["loaded"] and s["loaded"].endswith(FRAME_SRC)
                     and s, 10,
                     what="the frame to load")
    assert after["src"] == FRAME_SRC and after["shown"] and after["placeholder"] is None
    assert after["frame"] == before["size"], "the placeholder had the frame's size: no shift"

    b.click("open")
    b.click("withdraw")
    gone = frame_state(b)
    assert gone["src"] == "about:blank" and gone["placeholder"], "unloaded at once"
    b.get(blocked_page)
    nxt = frame_state(b)
    assert nxt["src"] is None and not nxt["fetched"], "not loaded on the next page"
    assert nxt["placeholder"]


# ---- telling the page: Google Consent Mode, WP Consent API ------------------------------

def test_consent_mode_default_denied_first_in_head_then_updates(b, site):
    html = urllib.request.urlopen(site.url + "/", timeout=10).read().decode()
    scripts = re.findall(r"<script[^>]*>", html.split("</head>")[0])
    assert scripts[:2] == ['<script type="application/json" id="sp-consent-config">',
                           '<script id="sp-consent-mode">'], \
        "the configuration, then the Consent Mode defaults: the first script that runs"

    b.get(site.url + "/")
    b.dialog()
    layer = b.layer()
    assert layer[0] == ["consent", "default", {
        "ad_storage": "denied", "ad_user_data": "denied", "ad_personalization": "denied",
        "analytics_storage": "denied", "functionality_storage": "denied",
        "personalization_storage": "denied", "security_storage": "granted", "wait_for_update": 500}]
    assert b.updates() == [], "no update before a choice"
    b.click("preferences")
    b.el('#sp-consent input[data-sp-category="statistics"]').click()
    b.click("save")
    stats_only = {"ad_storage": "denied", "ad_user_data": "denied", "ad_personalization": "denied",
                  "analytics_storage": "granted", "functionality_storage": "denied",
                  "personalization_storage": "denied"}
    assert b.updates() == [stats_only]

    b.get(site.url + "/")  # a returning visitor: default, then the stored choice on load
    layer = b.layer()
    assert layer[0][:2] == ["consent", "default"]
    assert b.updates() == [stats_only]
    b.click("open")
    b.click("accept-all")
    assert b.updates()[-1] == dict.fromkeys(stats_only, "granted")


def test_wp_consent_api_registration_type_and_choices(b, site):
    out = site.eval_json(
        "echo wp_json_encode(array("
        " apply_filters('wp_consent_api_registered_' . plugin_basename(SECURE_PRIVACY_FILE),"
        "   false),"
        " apply_filters('wp_get_consent_type', false), plugin_basename(SECURE_PRIVACY_FILE)));")
    assert out == [True, "optin", "secure-privacy/secure-privacy.php"]

    # The WP Consent API's own script defines wp_set_consent before the deferred widget runs.
    stub = ("<script>window.spWp = []; window.wp_set_consent = (c, v) => spWp.push([c, v]);"
            "document.addEventListener('wp_consent_type_defined',"
            " () => spWp.push(['type', window.wp_consent_type]));"
            "</script>")
    with site.page("Consent API", stub) as url:
        b.get(url)
        b.dialog()
        assert b.js("return spWp") == [["type", "optin"]]
        b.click("preferences")
        b.el('#sp-consent input[data-sp-category="marketing"]').click()
        b.click("save")
        assert b.js("return spWp.slice(1)") == [
            ["functional", "allow"], ["preferences", "deny"], ["statistics", "deny"],
            ["statistics-anonymous", "deny"], ["marketing", "allow"]]
        b.get(url)
        assert b.js("return spWp.at(-1)") == ["type", "optin"], "the type comes after the values"
        assert ["marketing", "allow"] in b.js("return spWp")


# ---- signals ------------------------------------------------------------------------------

def test_gpc_keeps_marketing_off_says_so_and_records_method_gpc(b, site, admin_api):
    b.gpc()
    b.get(site.url + "/")
    b.dialog()
    notice = "Your browser sends a Global Privacy Control signal, so marketing stays off."
    assert b.el("#sp-consent .sp-info").text == notice
    b.click("preferences")
    marketing = b.el('#sp-consent input[data-sp-category="marketing"]')
    assert not marketing.is_selected() and not marketing.is_enabled(), "not asked for marketing"
    assert b.el("#sp-consent-cat-marketing-desc").text == notice
    b.click("accept-all")
    cookie = b.cookie()
    assert cookie["categories"] == {**ALL_ON, "marketing": False}
    (rec,) = records_of(admin_api, cookie["subject_id"], 1)
    assert rec["method"] == "gpc" and rec["signals"] == {"gpc": True, "dnt": False}
    assert rec["categories"] == {**ALL_ON, "marketing": False}
    assert b.updates()[-1]["ad_storage"] == "denied"


def test_gpc_overrides_an_earlier_marketing_grant_as_a_recorded_decision(b, site, admin_api):
    b.get(site.url + "/")
    b.click("accept-all")
    subject = b.cookie()["subject_id"]
    records_of(admin_api, subject, 1)  # the grant is stored before the next page's update
    b.gpc()
    b.get(site.url + "/")
    assert not b.has('#sp-consent [role="dialog"]')
    records = records_of(admin_api, subject, 2)
    assert (records[0]["action"], records[0]["method"]) == ("update", "gpc")
    assert records[0]["categories"] == {**ALL_ON, "marketing": False}
    assert b.cookie()["categories"]["marketing"] is False
    assert b.updates()[-1]["ad_user_data"] == "denied"


def test_dnt_is_ignored_by_default_and_decides_when_the_setting_says_so(b, site, admin_api):
    b.dnt()
    b.get(site.url + "/")
    b.dialog()
    assert not b.has("#sp-consent .sp-info")
    b.click("accept-all")
    (rec,) = records_of(admin_api, b.cookie()["subject_id"], 1)
    assert rec["method"] == "accept_all" and rec["signals"]["dnt"] is True
    assert rec["categories"] == ALL_ON

    with site.settings(honor_dnt=True):
        b.d.delete_all_cookies()
        b.get(site.url + "/")
        b.dialog()
        notice = b.el("#sp-consent .sp-info").text
        assert notice.startswith("Your browser sends a Do Not Track signal"), notice
        b.click("accept-all")
        (rec,) = records_of(admin_api, b.cookie()["subject_id"], 1)
        assert rec["method"] == "dnt" and rec["categories"] == {**ALL_ON, "marketing": False}


# ---- state: re-asking, policy changes, page cache -----------------------------------------

def test_asked_again_after_the_lifetime_and_after_a_policy_version_change(b, site, admin_api):
    b.get(site.url + "/")
    subject = str(uuid.uuid4())
    old = (datetime.now(UTC) - timedelta(days=366)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    b.set_cookie({"subject_id": subject, "categories": ALL_ON, "policy_version": "1",
                  "banner_version": "x", "given_at": old})
    b.get(site.url + "/")
    b.dialog()  # 12 months are over
    assert b.js("return window.SecurePrivacy.getConsent()") is None
    b.click("accept-all")
    (rec,) = records_of(admin_api, subject, 1)
    assert rec["action"] == "grant", "the old consent no longer counts"

    b.get(site.url + "/")
    assert not b.has('#sp-consent [role="dialog"]')
    with site.settings(policy_version="7"):
        b.get(site.url + "/")
        b.dialog()
        b.click("reject-all")
        rec = records_of(admin_api, subject, 2)[0]
        assert rec["policy_version"] == "7" and rec["subject_id"] == subject
    with site.settings(consent_lifetime_days=1):
        two_days_ago = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        b.set_cookie({**b.cookie(), "policy_version": "1", "given_at": two_days_ago})
        b.get(site.url + "/")
        b.dialog()  # the configured lifetime


def test_policy_change_notice_then_asked_again_on_the_date_by_the_browser_clock(b, site, admin_api):
    with site.settings(next_policy_version="2", next_policy_effective=today(10),
                       policy_notice_days=30):
        b.get(site.url + "/")
        b.dialog()
        assert b.el("#sp-consent .sp-info").text.startswith("Our privacy policy changes on "), \
            "a first visitor reads it in the dialog"
        b.click("accept-all")
        subject = b.cookie()["subject_id"]
        assert b.cookie()["policy_version"] == "1"
        records_of(admin_api, subject, 1)  # stored before the later decision

        b.get(site.url + "/")
        b.js("localStorage.removeItem('sp_policy_notice')")
        b.get(site.url + "/")
        # .text is empty until the notice is visible (it fades in): wait for it.
        text = wait_for(lambda: b.el('#sp-consent .sp-note[role="status"]').text, 5,
                        what="the policy-change notice")
        date = (datetime.now(UTC) + timedelta(days=10))
        expected = f"Our privacy policy changes on {date:%B} {date.day}, {date.year}."
        assert text.startswith(expected), text
        assert not b.has('#sp-consent [role="dialog"]'), "the consent stands until the date"
        b.click("dismiss")
        b.get(site.url + "/")
        assert not b.has("#sp-consent .sp-note"), "dismissed for good"

        # Ten days later the same cached HTML asks again: the browser's clock decides.
        b.clock(11)
        b.get(site.url + "/")
        b.dialog()
        assert not b.has("#sp-consent .sp-note")
        b.click("accept-all")
        rec = records_of(admin_api, subject, 2)[0]
        assert rec["policy_version"] == "2"
        assert b.cookie()["policy_version"] == "2"


def test_html_is_the_same_for_every_visitor_page_cache_safe(site):
    cookie = quote(json.dumps({"subject_id": str(uuid.uuid4()), "categories": ALL_ON,
                               "policy_version": "1", "banner_version": "x",
                               "given_at": datetime.now(UTC).isoformat()}), safe="")
    with site.settings(next_policy_version="2", next_policy_effective=today(5)):
        pages = []
        for headers in ({}, {"Cookie": f"sp_consent={cookie}"},
                        {"Cookie": f"sp_consent={cookie}", "Sec-GPC": "1", "DNT": "1"}):
            req = urllib.request.Request(site.url + "/?p=1", headers=headers)
            pages.append(urllib.request.urlopen(req, timeout=10).read())
        assert pages[0] == pages[1] == pages[2]
        assert b'"nextPolicyEffective":"' + today(5).encode() in pages[0]


# ---- texts ---------------------------------------------------------------------------------

def test_swedish_texts_by_site_language_and_edited_texts_per_locale(b, site, admin_api):
    with site.option("WPLANG", "sv_SE"):
        b.get(site.url + "/")
        b.dialog()
        assert [e.text for e in b.els("#sp-consent .sp-actions button")] == [
            "Godkänn alla", "Avvisa alla", "Inställningar"]
        assert b.el("#sp-consent-title").text == "Vi värnar om din integritet"
        b.click("preferences")
        assert b.el('label[for="sp-consent-cat-statistics"]').text == "Statistik"
        texts = {"sv_SE": {"acceptAll": "Ja, gärna", "label_statistics": "Besöksstatistik"},
                 "de_DE": {"acceptAll": "Alle akzeptieren"}}
        with site.settings(texts=texts):
            b.get(site.url + "/")
            b.dialog()
            assert b.el('#sp-consent [data-sp-action="accept-all"]').text == "Ja, gärna"
            assert b.el('#sp-consent [data-sp-action="reject-all"]').text == "Avvisa alla"
            b.click("preferences")
            assert b.el('label[for="sp-consent-cat-statistics"]').text == "Besöksstatistik"
            b.click("accept-all")
        (rec,) = records_of(admin_api, b.cookie()["subject_id"], 1)
        assert rec["language"] == "sv-SE"
        b.get(site.url + "/")
        assert b.el('#sp-consent [data-sp-action="open"]').get_attribute("aria-label") == \
            "Integritetsinställningar"


def test_right_to_left_layout_mirrors_inside_and_stays_on_screen(b, site):
    # WordPress writes dir="rtl" on <html> for RTL languages; set it before the widget runs.
    b.on_new_document("document.addEventListener('readystatechange', () => {"
                      " document.documentElement.dir = 'rtl'; }, {once: true});")
    b.get(site.url + "/")
    b.click("accept-all")
    b.click("open")
    b.dialog()
    geo = b.js("""const rect = (css) => document.querySelector(css).getBoundingClientRect();
        const d = rect('#sp-consent [role="dialog"]');
        const x = rect('#sp-consent [data-sp-action="close"]');
        const lab = rect('#sp-consent label'), sw = rect('#sp-consent input');
        return {dir: getComputedStyle(document.getElementById('sp-consent')).direction,
                closeLeft: x.left - d.left < d.right - x.right, labelRight: lab.left > sw.left,
                inside: d.left >= 0 && d.right <= innerWidth,
                overflow: document.documentElement.scrollWidth > innerWidth};""")
    assert geo == {"dir": "rtl", "closeLeft": True, "labelRight": True, "inside": True,
                   "overflow": False}


# ---- robustness ----------------------------------------------------------------------------

def test_choice_survives_a_failed_rest_call_and_is_delivered_from_the_next_page(b, site, admin_api):
    b.d.execute_cdp_cmd("Network.enable", {})
    b.d.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*secure-privacy/v1/consent*"]})
    b.get(site.url + "/")
    b.click("accept-all")
    cookie = b.cookie()
    assert cookie["categories"] == ALL_ON, "the choice holds"
    queue = "return JSON.parse(localStorage.getItem('sp_consent_pending'))"
    pending = wait_for(lambda: b.js(queue), 5, what="the pending event")
    assert len(pending) == 1 and pending[0]["subject_id"] == cookie["subject_id"]
    assert records(admin_api, subject_id=cookie["subject_id"]) == []

    b.d.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    b.get(site.url + "/")
    (rec,) = records_of(admin_api, cookie["subject_id"], 1)
    assert rec["event_id"] == pending[0]["event_id"], "the same decision, recorded once"
    wait_for(lambda: b.js("return localStorage.getItem('sp_consent_pending') === null"), 5,
             what="the queue to empty")


def test_long_page_urls_are_trimmed_so_the_record_is_kept(b, site, admin_api):
    url = site.url + "/?p=1&campaign=" + "x" * 3000
    b.get(url)
    b.click("accept-all")
    (rec,) = records_of(admin_api, b.cookie()["subject_id"], 1)
    assert rec["page_url"] == site.url + "/"


def test_no_layout_shift_no_script_error_no_external_request(b, blocked_page, site):
    b.on_new_document("""window.spErrors = []; window.spShift = 0;
        addEventListener('error', (e) => spErrors.push(String(e.message)));
        new PerformanceObserver((list) => list.getEntries().forEach((e) => {
            if (!e.hadRecentInput) spShift += e.value;   // what CLS counts
        })).observe({type: 'layout-shift', buffered: true});""")
    b.get(blocked_page)
    b.dialog()
    b.click("accept-all")
    b.click("open")
    b.click("withdraw")
    wait_for(lambda: b.js("return document.readyState") == "complete", 5)
    assert b.js("return spErrors") == []
    assert b.js("return spShift") == 0, "cumulative layout shift"
    origins = b.js("return performance.getEntriesByType('resource')"
                   ".map((e) => new URL(e.name).origin)")
    assert set(origins) <= {site.url}, origins
    ours = b.js("return Object.keys(window).filter((k) => k.startsWith('SecurePrivacy'))")
    assert ours == ["SecurePrivacy"]


def test_categories_the_site_switched_off_are_not_offered(b, site):
    with site.settings(categories_enabled=["statistics"]):
        b.get(site.url + "/")
        b.click("preferences")
        assert [e.get_attribute("data-sp-category") for e in b.els("#sp-consent input")] == [
            "necessary", "statistics"]
        b.click("accept-all")
        assert b.cookie()["categories"] == {**ALL_OFF, "statistics": True}
