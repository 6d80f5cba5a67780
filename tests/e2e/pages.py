"""What the end-to-end tests do to the site and in the browser, written once (import it:
`from pages import ...`; the fixtures built on it, `site`, `b`, `fresh_browser` and `admin`,
are in tests/e2e/conftest.py).

- the site: settings and options merged in and restored, pages, the outbox (`Site`);
- the visitor: the widget's buttons (`data-sp-action`), the consent cookie (`click`,
  `consent_cookie`, `Visitor`);
- wp-admin: sign-in, pages, requests with the browser's cookies (`login`, `admin_get`,
  `fetch_with_cookies`), the setup checklist (`checklist`), an anonymous visit in between
  (`signed_out`);
- a click that loads another page (a form post, a link): wait for the new page, never read
  the old one (`click_and_load`, `expect_notice`);
- the public consent route: a body as the widget sends it, one request (`route_consent`,
  `send`, `served_versions`);
- the sidecar's records of a visitor (`records`, `records_of`, `wait_records`), and what the
  record page says of its screenshot (`assert_shot_account`);
- auto-blocking's fixtures (issue 14): a loopback "third-party" tracker, a must-use plugin
  that makes it a catalogue service and enqueues its script, pages nobody tagged with its
  script, iframe and pixel, and a tag manager that adds them at runtime (`tracker_answer`,
  `autoblock_plugin`, `untagged_trackers_html`, `make_tag_manager_page`; the `listener`,
  `tracked_page` and `tag_manager_page` fixtures are built on them).
"""

from __future__ import annotations

import base64
import http.server
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, unquote

from helpers import wait_for
from selenium.common.exceptions import (
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

ALL_ON = {"necessary": True, "preferences": True, "statistics": True, "marketing": True}
ALL_OFF = {"necessary": True, "preferences": False, "statistics": False, "marketing": False}

# A blocked (same-origin) marketing iframe, for pages that test blocking.
FRAME_SRC = "/wp-includes/images/blank.gif"
FRAME = (f'<iframe id="sp-test-frame" data-sp-src="{FRAME_SRC}" data-sp-category="marketing" '
         'title="Embedded map" width="400" height="240"></iframe>')

CONSENT_ROUTE = "/?rest_route=/secure-privacy/v1/consent"


def today(days: int = 0) -> str:
    """The UTC date `days` from now, as the settings write dates."""
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%d")


# ---- the site: settings, options, pages, outbox --------------------------------------------

def php_value(value) -> str:
    """A PHP expression for a JSON value (no quoting pitfalls)."""
    data = base64.b64encode(json.dumps(value).encode()).decode()
    return f"json_decode(base64_decode('{data}'), true)"


class Site:
    """The test WordPress, changed through wp_eval."""

    def __init__(self, stack):
        self.stack = stack
        self.url = stack.wp_url

    def eval_json(self, code: str):
        return json.loads(self.stack.wp_eval(code))

    def get_settings(self) -> dict:
        return self.eval_json("echo wp_json_encode(get_option('secure_privacy_settings'));")

    def set_settings(self, **changes) -> None:
        """Merge `changes` into the stored settings (through the sanitize callback)."""
        self.stack.wp_eval("update_option('secure_privacy_settings', array_merge("
                           f"get_option('secure_privacy_settings'), {php_value(changes)}));")

    @contextmanager
    def settings(self, **changes):
        """secure_privacy_settings with `changes` merged in, restored afterwards (with no
        changes: whatever the body changes is put back)."""
        before = self.get_settings()
        if changes:
            self.set_settings(**changes)
        try:
            yield
        finally:
            self.stack.wp_eval(f"update_option('secure_privacy_settings', {php_value(before)});")

    @contextmanager
    def option(self, name: str, value):
        before = self.eval_json(f"echo wp_json_encode(get_option({php_value(name)}));")
        self.stack.wp_eval(f"update_option({php_value(name)}, {php_value(value)});")
        try:
            yield
        finally:
            self.stack.wp_eval(f"update_option({php_value(name)}, {php_value(before)});")

    @contextmanager
    def page(self, title: str, html: str):
        """A published page whose content is `html` as it is (scripts included); its URL."""
        created = self.eval_json(
            "wp_set_current_user(1); kses_remove_filters();"
            "$id = wp_insert_post(array('post_type' => 'page', 'post_status' => 'publish',"
            f" 'post_title' => {php_value(title)},"
            f" 'post_content' => '<!-- wp:html -->' . {php_value(html)} . '<!-- /wp:html -->'));"
            "echo wp_json_encode(array('id' => $id, 'url' => get_permalink($id)));")
        try:
            yield created["url"]
        finally:
            self.stack.wp_eval(f"wp_delete_post({int(created['id'])}, true);")

    @contextmanager
    def pretty_permalinks(self):
        """/wp-json/ URLs (rewrite rules) for the duration."""
        self.stack.wp_eval("update_option('permalink_structure', '/%postname%/');"
                           " flush_rewrite_rules(false);")
        try:
            yield
        finally:
            self.stack.wp_eval("update_option('permalink_structure', '');"
                               " flush_rewrite_rules(false);")

    # -- the plugin's outbox (consents not yet delivered to the sidecar) --
    def outbox(self) -> list[dict]:
        return self.eval_json(
            "global $wpdb; echo wp_json_encode($wpdb->get_results('SELECT event_id, subject_id,"
            " status, last_error FROM ' . secure_privacy_outbox_table() . ' ORDER BY id',"
            " ARRAY_A));")

    def outbox_count(self, event_ids: list) -> int:
        """How many of `event_ids` the outbox holds."""
        return int(self.stack.wp_eval(
            "global $wpdb; $ids = " + php_value(event_ids) + "; $n = 0;"
            " foreach ($ids as $id) { $n += (int) $wpdb->get_var($wpdb->prepare("
            "'SELECT COUNT(*) FROM ' . secure_privacy_outbox_table() . ' WHERE event_id = %s',"
            " $id)); }"
            " echo $n;"))

    def outbox_status(self) -> dict:
        return self.eval_json("echo wp_json_encode(secure_privacy_outbox_status());")

    def clear_outbox(self) -> None:
        self.stack.wp_eval("global $wpdb;"
                           " $wpdb->query('DELETE FROM ' . secure_privacy_outbox_table());")


# ---- the visitor: the widget in the browser ------------------------------------------------

def forget_site(d, wp_url: str) -> None:
    """The browser with no cookies or storage for the site: a first-time visitor."""
    d.get(wp_url + "/wp-includes/images/blank.gif")
    d.delete_all_cookies()
    d.execute_script("localStorage.clear(); sessionStorage.clear();")


def visit_as_new_visitor(d, stack, path: str = "/") -> None:
    forget_site(d, stack.wp_url)
    d.get(stack.wp_url + path)


def click_css(d, css: str, timeout: float = 10):
    """Click the element matching `css` once it is clickable; the element."""
    el = WebDriverWait(d, timeout).until(EC.element_to_be_clickable((By.CSS_SELECTOR, css)),
                                         f"nothing clickable matched {css!r} within {timeout:g} s")
    el.click()
    return el


def click(d, action: str):
    """Click the widget's control `data-sp-action="<action>"` once it is clickable."""
    return click_css(d, f'#sp-consent [data-sp-action="{action}"]')


def dialog(d):
    """The widget's dialog, once visible."""
    return WebDriverWait(d, 10).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, '#sp-consent [role="dialog"]')),
        "the widget's dialog did not show in 10 s")


def consent_cookie(d) -> dict | None:
    """The visitor's `sp_consent` cookie, decoded (None before a choice)."""
    c = d.get_cookie("sp_consent")
    return json.loads(unquote(c["value"])) if c else None


WATCH_FETCH = """
window.__spStatuses = [];
window.__spReplies = [];
const original = window.fetch;
window.fetch = function () {
  return original.apply(this, arguments).then(function (r) {
    if (String(r.url).indexOf('secure-privacy/v1/consent') >= 0) {
      window.__spStatuses.push(r.status);
      r.clone().json().then((j) => window.__spReplies.push(j), () => window.__spReplies.push(null));
    }
    return r;
  });
};
"""


def consent_click(d, action: str = "accept-all") -> tuple[str, int]:
    """Click a banner choice; return the visitor's subject id and the consent POST's status."""
    dialog(d)
    d.execute_script(WATCH_FETCH)
    click(d, action)
    status = wait_for(lambda: (d.execute_script("return window.__spStatuses") or [None])[0],
                      15, interval=0.05, what="the consent POST")
    cookie = wait_for(lambda: consent_cookie(d), 5, what="the sp_consent cookie")
    return cookie["subject_id"], status


def consent_reply(d) -> dict:
    """The JSON body of the consent POST that consent_click() watched."""
    return wait_for(lambda: (d.execute_script("return window.__spReplies") or [None])[0], 5,
                    interval=0.05, what="the consent POST's reply")


class Visitor:
    """The session's browser as one visitor, with the emulations a test asked for (undone by
    `undo`, which the `b` fixture calls)."""

    def __init__(self, driver):
        self.d = driver
        self._scripts = []

    def on_new_document(self, js: str) -> None:
        """Run `js` in every page before the page's own scripts."""
        r = self.d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": js})
        self._scripts.append(r["identifier"])

    def gpc(self) -> None:
        self.on_new_document("Object.defineProperty(Navigator.prototype, 'globalPrivacyControl',"
                             " {get: () => true, configurable: true});")

    def dnt(self) -> None:
        self.on_new_document("Object.defineProperty(Navigator.prototype, 'doNotTrack',"
                             " {get: () => '1', configurable: true});")

    def clock(self, days: float) -> None:
        """The browser's clock `days` ahead (the server's is untouched)."""
        self.on_new_document(f"""(() => {{
            const D = Date, off = {days} * 864e5;
            class Shifted extends D {{
              constructor(...a) {{ if (a.length) super(...a); else super(D.now() + off); }}
              static now() {{ return D.now() + off; }}
            }}
            window.Date = Shifted;
        }})();""")

    def viewport(self, width: int, height: int, scale: float = 1, mobile: bool = False) -> None:
        self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile})

    def undo(self) -> None:
        for ident in self._scripts:
            self.d.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument",
                                   {"identifier": ident})
        self.d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        self.d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
        self.d.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})

    # -- the widget --
    def get(self, url: str) -> None:
        self.d.get(url)

    def js(self, script: str, *args):
        return self.d.execute_script(script, *args)

    def el(self, css: str):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def els(self, css: str):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def dialog(self):
        return dialog(self.d)

    def click(self, action: str) -> None:
        click(self.d, action)

    def has(self, css: str) -> bool:
        return bool(self.els(css))

    def cookie(self) -> dict | None:
        return consent_cookie(self.d)

    def set_cookie(self, state: dict) -> None:
        self.d.add_cookie({"name": "sp_consent", "value": quote(json.dumps(state), safe=""),
                           "path": "/", "sameSite": "Lax"})

    def layer(self) -> list:
        return self.js("return (window.dataLayer || []).map((a) => Array.from(a));")

    def updates(self) -> list:
        return [x[2] for x in self.layer() if x[:2] == ["consent", "update"]]

    def active(self) -> str:
        """What has focus: its data-sp-action, data-sp-category, role or tag."""
        return self.js("const a = document.activeElement; return a.dataset.spAction"
                       " || a.dataset.spCategory || a.getAttribute('role')"
                       " || a.tagName.toLowerCase();")

    def keys(self, *keys) -> None:
        ActionChains(self.d).send_keys(*keys).perform()

    def shift_tab(self) -> None:
        ActionChains(self.d).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()


# ---- wp-admin ------------------------------------------------------------------------------

def login(d, stack, user: str = "admin", password: str | None = None) -> None:
    """Sign in through wp-login.php (tried again when a loaded machine is slow; the last
    failure says what the login page showed)."""
    for attempt in range(3):
        d.get(stack.wp_url + "/wp-login.php")
        d.delete_all_cookies()
        # sets WordPress's test cookie; after signing in, a page without the dashboard's
        # widgets (each asks the sidecar for figures: tests that need them go there)
        d.get(stack.wp_url + "/wp-login.php?redirect_to="
              + quote(stack.wp_url + "/wp-admin/profile.php", safe=""))
        WebDriverWait(d, 15).until(EC.presence_of_element_located((By.ID, "wp-submit")))
        # The fields are filled by script, not typed: wp-login.php focuses and selects the
        # user field 200 ms after load, and on a loaded machine that landed in the middle of
        # typing the password, sending its tail into the user field (a failed sign-in).
        d.execute_script(
            "document.getElementById('user_login').value = arguments[0];"
            "document.getElementById('user_pass').value = arguments[1];",
            user, password or stack.wp_admin_password)
        d.find_element(By.ID, "wp-submit").click()
        try:
            WebDriverWait(d, 45).until(lambda drv: "wp-login.php" not in drv.current_url
                                       or drv.find_elements(By.ID, "login_error"))
        except TimeoutException:
            pass
        if "wp-login.php" not in d.current_url:
            return
        if attempt == 2:
            shown = d.find_elements(By.ID, "login_error")
            said = shown[0].text if shown else "no login error shown"
            raise TimeoutException(f"still on {d.current_url} after signing in: {said}")


def admin_get(d, stack, path: str) -> None:
    """Open wp-admin/<path> and wait for its body."""
    d.get(stack.wp_url + "/wp-admin/" + path)
    WebDriverWait(d, 15).until(EC.presence_of_element_located((By.ID, "wpbody")),
                               f"wp-admin/{path} showed no #wpbody (at {d.current_url})")


def click_and_load(d, target, expect: str, timeout: float = 20):
    """Click `target` (an element, or a CSS selector) whose click loads another page (a form
    post, a link, an admin-post.php redirect) and return the element matching `expect` in the
    NEW page.

    After `.click()` the old page, with every element it had, stays in place until the answer
    arrives: looking for `expect` at once can find the old page's element (the same form's
    earlier result, the previous page of a list), or hit it going stale. So this keeps the old
    page's <html>, clicks, waits until that is gone, then waits for `expect`. On timeout it
    fails saying which of the two did not happen, and where the browser is."""
    el = d.find_element(By.CSS_SELECTOR, target) if isinstance(target, str) else target
    what = target if isinstance(target, str) else (
        f"<{el.tag_name}> {(el.text or el.get_attribute('id') or '').strip()!r}")
    old = d.find_element(By.TAG_NAME, "html")
    el.click()
    try:
        WebDriverWait(d, timeout).until(EC.staleness_of(old))
    except TimeoutException:
        raise AssertionError(f"clicking {what} loaded no new page within {timeout:g} s"
                             f" (still {d.current_url})") from None
    try:
        return WebDriverWait(d, timeout).until(
            EC.presence_of_element_located((By.CSS_SELECTOR, expect)))
    except TimeoutException:
        raise AssertionError(f"the page that clicking {what} loaded ({d.current_url}, "
                             f"{d.title!r}) has no {expect!r} after {timeout:g} s") from None


def accept_confirm(d, timeout: float = 10) -> str:
    """Accept the confirm() the last click asked for; its text. Fails if none shows: a
    destructive form that no longer asks is a finding, not something to click through."""
    try:
        alert = WebDriverWait(d, timeout).until(EC.alert_is_present())
    except TimeoutException:
        raise AssertionError(f"no confirmation dialog showed within {timeout:g} s"
                             f" (at {d.current_url})") from None
    text = alert.text
    alert.accept()
    return text


def expect_notice(d, expected: str, timeout: float = 10) -> str:
    """Wait until the plugin's admin notice (`.sp-flash`) says `expected`; return its text.

    A click that submits a form leaves the old page, and its notice, in place until the
    answer arrives: reading the first `.sp-flash` found can read the page before (or hit
    it going stale). So this waits for the text itself and re-finds the element each time;
    on timeout it fails naming what the notices said."""
    seen: list[str] = []

    def said(drv):
        try:
            texts = [el.text for el in drv.find_elements(By.CSS_SELECTOR, ".sp-flash")]
        except StaleElementReferenceException:
            return False
        seen[:] = texts
        return next((t for t in texts if expected in t), False)

    try:
        return WebDriverWait(d, timeout).until(said)
    except TimeoutException:
        raise AssertionError(
            f"no admin notice said {expected!r} within {timeout:g} s; notices: {seen!r}") from None


def checklist(d, container: str) -> dict:
    """The setup checklist inside `container` (the admin notice `#sp-setup-checklist`, the
    settings page's box `#sp-setup`): {step: done}."""
    box = WebDriverWait(d, 10).until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, container)), f"no setup checklist {container!r} at {d.current_url}")
    return {li.get_attribute("data-sp-step"): li.get_attribute("data-sp-done") == "1"
            for li in box.find_elements(By.CSS_SELECTOR, "li[data-sp-step]")}


@contextmanager
def signed_out(d, wp_url: str):
    """The browser as an anonymous first-time visitor of the site (no cookies, no storage:
    no WordPress login), then signed in again with the cookies it had before."""
    d.get(wp_url + "/wp-includes/images/blank.gif")
    kept = d.get_cookies()
    forget_site(d, wp_url)
    try:
        yield
    finally:
        forget_site(d, wp_url)
        for cookie in kept:
            d.add_cookie(cookie)


def fetch_with_cookies(d, url: str) -> tuple[int, bytes, dict]:
    """GET `url` outside the browser with the browser's cookies: (status, body, headers)."""
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in d.get_cookies())
    req = urllib.request.Request(url, headers={"Cookie": cookie})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


# ---- the public consent route --------------------------------------------------------------

def banner_config(url: str) -> dict:
    """The configuration island (`#sp-consent-config`) of the page at `url`."""
    html = urllib.request.urlopen(url, timeout=10).read().decode()
    m = re.search(r'<script[^>]*id="sp-consent-config"[^>]*>(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


_served: dict = {}


def served_versions(wp_url: str) -> dict:
    """The policy and banner versions the site's banner serves now: the plugin's public route
    accepts only versions it has served. Read once per site."""
    if wp_url not in _served:
        config = banner_config(wp_url + "/")
        _served[wp_url] = {"policy_version": config["policyVersion"],
                           "banner_version": config["bannerVersion"]}
    return dict(_served[wp_url])


def route_consent(wp_url: str, **overrides) -> dict:
    """A valid consent body as the widget on the site sends it to the public route."""
    return {
        "event_id": str(uuid.uuid4()), "subject_id": str(uuid.uuid4()), "action": "grant",
        "method": "accept_all", "categories": dict(ALL_ON),
        "page_url": wp_url + "/", "language": "en-US", "signals": {"gpc": False, "dnt": False},
        **served_versions(wp_url), **overrides,
    }


def send(url: str, body: bytes | None, headers: dict | None = None, method: str = "POST"):
    """(status, JSON, text or None when empty, headers) of one request with a JSON body."""
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            status, raw, hdrs = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        status, raw, hdrs = e.code, e.read(), e.headers
    if not raw:
        return status, None, hdrs
    try:
        data = json.loads(raw)
    except ValueError:
        data = raw.decode(errors="replace")
    return status, data, hdrs


# ---- the sidecar's records -----------------------------------------------------------------

def records(admin_api, **filters) -> list:
    """The sidecar's records matching `filters` (query parameters of /v1/consents), newest
    first, up to 500."""
    query = urllib.parse.urlencode({"limit": 500, **filters})
    status, body, _ = admin_api.get(f"/v1/consents?{query}")
    assert status == 200, body
    return body["items"]


def wait_records(admin_api, n: int, timeout: float = 15, **filters) -> list:
    """`records(admin_api, **filters)` once there are at least `n`."""
    return wait_for(lambda: (lambda items: items if len(items) >= n else None)(
        records(admin_api, **filters)), timeout, what=f"{n} record(s) for {filters}")


def wait_scan(admin_api, scan_id: str, timeout: float = 120, interval: float = 0.5) -> dict:
    """The report of scan `scan_id` once it is done; fails at once if the scan failed."""
    def done():
        status, body, _ = admin_api.get(f"/v1/scans/{scan_id}")
        assert status == 200, body
        assert body["status"] != "failed", body.get("error")
        return body if body["status"] == "done" else None
    return wait_for(done, timeout, interval=interval, what=f"the report of scan {scan_id}")


def records_of(admin_api, subject_id: str, n: int) -> list:
    """The sidecar's records of a subject, newest first, once there are `n`."""
    return wait_records(admin_api, n, subject_id=subject_id)


def wp_local_time(utc: str) -> str:
    """An RFC 3339 UTC time as wp-admin prints it with WordPress's default date and time
    formats ("F j, Y g:i a") and time zone (UTC), e.g. "November 30, 2026 1:50 am"."""
    t = datetime.fromisoformat(utc).astimezone(UTC)
    return f"{t:%B} {t.day}, {t.year} {t.hour % 12 or 12}:{t:%M} {'am' if t.hour < 12 else 'pm'}"


def wp_duration(seconds: float) -> str | None:
    """human_time_diff()'s words for a duration under an hour ("1 second", "3 mins"); None
    beyond."""
    n = int(seconds + 0.5)
    if n < 60:
        n = max(1, n)
        return f"{n} second{'s' if n != 1 else ''}"
    if n < 3600:
        n = max(1, int(n / 60 + 0.5))
        return f"{n} min{'s' if n != 1 else ''}"
    return None


def assert_shot_account(d, rec: dict) -> None:
    """The record page open in `d` says what the record's screenshot object holds, and no
    more: the render time (taken_at) and how long before or after the decision, whether the
    render was made after the sidecar received this consent or reused, the first layer it
    shows; never "right after the decision" or "reload in a moment"."""
    shot = rec["screenshot"]
    text = d.find_element(By.CSS_SELECTOR, ".sp-record-proof").text
    assert "right after the decision" not in text and "reload" not in text
    when = d.find_element(By.ID, "sp-shot-when").text
    taken = datetime.fromisoformat(shot["taken_at"])
    decided = datetime.fromisoformat(rec["occurred_at"])
    received = datetime.fromisoformat(rec["received_at"])
    assert when.startswith(f"Rendered {wp_local_time(shot['taken_at'])}, "), (when, shot)
    gap = wp_duration(abs((taken - decided).total_seconds()))
    assert gap is None or f", {gap} " in when, (when, gap, shot)
    assert ("after the decision" if taken >= decided else "before the decision") in when, when
    assert ("after the sidecar received it" in when) is (not shot["reused"]), (when, shot)
    assert ("reused" in when) is (shot["reused"] and taken < received), (when, rec)
    shared = d.find_elements(By.ID, "sp-shot-shared")
    assert bool(shared) is shot["reused"]
    if shared:  # "not taken for this one" only of a render older than this consent
        assert ("not taken for this one" in shared[0].text) is (taken < received), rec
    assert "anonymous visitor" in d.find_element(By.ID, "sp-shot-shows").text


# ---- the screenshot worker -----------------------------------------------------------------

def stop_worker(worker) -> None:
    """Close a test's own `Worker`: its browser and its egress proxy."""
    worker.recycle()
    if worker.egress is not None:
        worker.egress.close()
        worker.egress = None


class LoopbackSite:
    """A "third party" for a test: an HTTP server of its own on 127.0.0.1 (another port than
    the site's, so another origin; `cross_site` names it `localhost`, another site to the
    browser). `answer(request)` gives each GET or POST its (status, headers, body); a POST's
    body is read first. Every request is kept as (path with query, headers) in `requests`."""

    def __init__(self, answer):
        self.requests: list[tuple[str, object]] = []
        self.lock = threading.Lock()
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                if self.command == "POST":
                    self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with site.lock:
                    site.requests.append((self.path, self.headers))
                status, headers, body = answer(self)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.cross_site = f"http://localhost:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def seen(self) -> list[str]:
        """The paths asked for so far (without their query), in order."""
        with self.lock:
            return [path.split("?")[0] for path, _ in self.requests]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()



# ---- auto-blocking (issue 14): a known service from a loopback "third party" --------------

PIXEL_GIF = bytes.fromhex("47494638396101000100800000ffffff00000021f90401000000002c00000000"
                          "010001000002024401003b")


def tracker_answer(req):
    """What the "third party" serves: a script that says it ran, a pixel, an embed page."""
    path = req.path.split("?")[0]
    if path.endswith(".js"):
        name = path.rsplit("/", 1)[-1][:-3]
        body, ctype = (f"window.spRan = (window.spRan || []).concat({name!r});".encode(),
                       "application/javascript")
    elif path.endswith(".gif"):
        body, ctype = PIXEL_GIF, "image/gif"
    elif path.endswith(".css"):
        body, ctype = b"body { outline: 0; }", "text/css"
    else:
        body, ctype = b"<!doctype html><title>embed</title><p>embed</p>", "text/html"
    return 200, [("Content-Type", ctype), ("Cache-Control", "no-store")], body


AUTOBLOCK_MU_PLUGIN = """<?php
// Written by tests/e2e/pages.py: the loopback origin as a catalogue service (a marketing
// tracker; its /pay/ path a breaks-if-blocked payment provider), and a plugin that enqueues
// the tracker's script with an inline part, and its stylesheet.
add_filter('secure_privacy_catalogue', function ($c) {
    $c['services'][] = array('loopback-tracker', 'Loopback tracker', 'marketing', false);
    $c['host']['127.0.0.1:@PORT@'] = count($c['services']) - 1;
    $c['services'][] = array('loopback-pay', 'Loopback payments', 'necessary', true);
    $c['url']['127.0.0.1:@PORT@'][] = array('/pay/', count($c['services']) - 1);
    return $c;
});
add_action('wp_enqueue_scripts', function () {
    wp_enqueue_script('sp-test-tracker', '@ORIGIN@/enqueued.js', array(), null, true);
    wp_enqueue_style('sp-test-tracker-font', '@ORIGIN@/enqueued.css', array(), null);
    wp_add_inline_script('sp-test-tracker', 'window.spInlineAfter = 1;');
});
"""


@contextmanager
def mu_plugin(stack, code: str, name: str = "sp-test-autoblock.php"):
    """A must-use plugin `name` with `code` for the duration."""
    path = stack.mu_plugin(name, code)
    try:
        yield path
    finally:
        path.unlink()


def autoblock_plugin(stack, listener, extra: str = ""):
    """The must-use plugin that makes `listener` a known tracker (and enqueues its script);
    `extra` PHP is appended."""
    code = AUTOBLOCK_MU_PLUGIN.replace("@PORT@", str(listener.port)).replace(
        "@ORIGIN@", listener.origin)
    return mu_plugin(stack, code + extra)


def untagged_trackers_html(origin: str, pay: bool = True) -> str:
    """A page nobody tagged: the tracker's script, iframe, pixel and stylesheet (a web font's,
    say) hard-coded in the content (and, with `pay`, the breaks-if-blocked payment script from
    the same origin)."""
    return (f'<p>Nobody tagged this page.</p><script src="{origin}/content.js"></script>'
            f'<link rel="stylesheet" id="sp-t-font" href="{origin}/font.css">'
            f'<iframe id="sp-t-frame" src="{origin}/frame.html" width="320" height="180" '
            'title="An embed"></iframe>'
            f'<img id="sp-t-pixel" src="{origin}/pixel.gif" width="1" height="1" alt="">'
            + (f'<script src="{origin}/pay/sdk.js"></script>' if pay else ""))


TAG_MANAGER = """// Written by tests/e2e/pages.py: a tag manager (same origin, allowed) that adds a
// known service's script and embed at runtime, the usual ways.
(function () {
  var origin = document.currentScript.getAttribute('data-origin');
  var s = document.createElement('script');
  s.async = true;
  s.src = origin + '/runtime.js';
  s.onload = function () { window.spTmOnload = (window.spTmOnload || 0) + 1; };
  var first = document.getElementsByTagName('script')[0];
  first.parentNode.insertBefore(s, first);
  var f = document.createElement('iframe');
  f.id = 'sp-t-runtime-frame';
  f.title = 'A runtime embed';
  f.width = 320;
  f.height = 180;
  f.setAttribute('src', origin + '/runtime-frame.html');
  document.querySelector('main, #content, body').appendChild(f);
})();
"""


@contextmanager
def make_tag_manager_page(site: Site, origin: str):
    """A page nobody tagged whose (allowed, same-origin) tag manager adds the tracker at
    `origin`'s script and iframe at runtime; its URL."""
    tm = Path(site.stack.wp_dir) / "wp-content" / "sp-test-tm.js"
    tm.write_text(TAG_MANAGER)
    html = (f'<p>A tag manager runs here.</p><script src="/wp-content/sp-test-tm.js" '
            f'data-origin="{origin}"></script>')
    try:
        with site.page("Tag manager", html) as url:
            yield url
    finally:
        tm.unlink()
