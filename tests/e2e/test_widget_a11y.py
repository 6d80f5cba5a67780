"""The widget for an accessibility auditor (WCAG 2.2 AA) in a real Chromium on the real
WordPress: axe-core in the page, 320 px and 200% zoom, reduced motion, the site's colour, and
the screenshots for the documentation (issue 5)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from pages import FRAME, Visitor, today
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
BLOCKING = ("serious", "critical")

# Runs on every WordPress of --wordpress (6.1.9 and 6.5.5): see tests/conftest.py.
pytestmark = pytest.mark.every_wordpress


def axe(b: Visitor, include: str) -> dict:
    """axe-core's verdict on the elements matching `include`: violations by impact, rules passed."""
    if not b.js("return !!window.axe"):
        b.js(AXE.read_text())
    b.js("document.getAnimations().forEach((a) => a.finish())")  # colours as they end up
    b.d.set_script_timeout(60)
    result = b.d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        axe.run({include: [[arguments[0]]]}, {resultTypes: ['violations', 'passes', 'incomplete']})
          .then((r) => done({
            violations: r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.map((n) => n.target.join(' ') + ': ' + n.failureSummary)})),
            passes: r.passes.map((p) => p.id),
            incomplete: r.incomplete.map((p) => ({id: p.id, impact: p.impact,
              nodes: p.nodes.map((n) => n.target.join(' ') + ': '
                                 + n.any.map((c) => c.message).join(' '))}))}))
          .catch((e) => done({error: String(e)}));""", include)
    assert "error" not in result, result
    return result


def assert_accessible(b: Visitor, include: str, must_pass: set[str]) -> list:
    result = axe(b, include)
    blocking = [v for v in result["violations"] if v["impact"] in BLOCKING]
    assert blocking == [], blocking
    unsure = [v for v in result["incomplete"] if v["impact"] in BLOCKING]
    assert unsure == [], f"axe could not decide: {unsure}"
    assert must_pass <= set(result["passes"]), (must_pass - set(result["passes"]), result)
    return result["violations"]


def test_axe_finds_no_serious_or_critical_violation_in_any_state(b, site):
    # Tall enough that no text scrolls under the sticky buttons (axe cannot see through them).
    b.viewport(1280, 1100)
    minor = []
    with site.page("Embedded map", f"<p>Map below.</p>{FRAME}") as page, \
         site.settings(next_policy_version="2", next_policy_effective=today(10)):
        b.get(page)
        b.dialog()
        core = {"aria-dialog-name", "button-name", "color-contrast", "link-name",
                "aria-allowed-attr"}
        minor += assert_accessible(b, "#sp-consent", core)  # the banner
        minor += assert_accessible(b, ".sp-blocked", {"button-name", "color-contrast"})
        b.click("preferences")
        minor += assert_accessible(b, "#sp-consent", core | {"label", "aria-allowed-role"})
        b.click("save")  # the floating button
        minor += assert_accessible(b, "#sp-consent", {"button-name", "aria-allowed-attr"})
        b.js("localStorage.clear()")
        b.get(page)
        assert b.has("#sp-consent .sp-note")
        minor += assert_accessible(b, "#sp-consent", {"button-name", "color-contrast", "link-name"})
        b.click("open")
        b.dialog()
        minor += assert_accessible(b, "#sp-consent", core | {"label"})  # reopened, with withdraw
    assert minor == [], minor


def test_axe_with_gpc_and_a_light_site_colour(b, site):
    with site.settings(primary_color="#ffd60a"):  # a yellow white text cannot sit on
        b.viewport(1280, 1100)
        b.gpc()
        b.get(site.url + "/")
        b.dialog()
        colours = b.js("""const s = getComputedStyle(document.querySelector('#sp-consent .sp-btn'));
            return [s.backgroundColor, s.color];""")
        assert colours == ["rgb(255, 214, 10)", "rgb(31, 35, 40)"], "dark text on a light button"
        assert_accessible(b, "#sp-consent", {"color-contrast"})
        b.click("preferences")
        assert_accessible(b, "#sp-consent", {"color-contrast", "label"})
        b.el('#sp-consent input[data-sp-category="statistics"]').click()
        accent = b.js("return getComputedStyle(document.querySelector('#sp-consent input:checked'))"
                      ".backgroundColor")
        assert accent != "rgb(255, 214, 10)", "switches use the darkened accent (3:1 and more)"


def reachability(b: Visitor) -> dict:
    """Every visible control of the widget: on screen once scrolled to, and the one hit there."""
    return b.js("""
        const out = {overflowPage: document.documentElement.scrollWidth > innerWidth, controls: {}};
        const d = document.querySelector('#sp-consent [role="dialog"]');
        if (d) out.overflowDialog = d.scrollWidth > d.clientWidth;
        const all = '#sp-consent button, #sp-consent input, #sp-consent a';
        for (const el of document.querySelectorAll(all)) {
          if (el.closest('[hidden]')) continue;
          el.scrollIntoView({block: 'nearest', inline: 'nearest'});
          const r = el.getBoundingClientRect();
          const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
          const name = el.dataset.spAction || el.dataset.spCategory || 'link';
          out.controls[name] = r.left >= 0 && r.right <= innerWidth
            && r.top >= 0 && r.bottom <= innerHeight
            && (hit === el || el.contains(hit) || (hit && hit.htmlFor === el.id))
            && el.scrollWidth <= el.clientWidth + 1;
        }
        return out;""")


@pytest.mark.parametrize("width,height,scale", [(320, 640, 1), (640, 400, 2)],
                         ids=["320px", "200%-zoom-of-1280x800"])
def test_usable_at_320px_wide_and_at_200_percent_zoom(b, site, width, height, scale):
    b.viewport(width, height, scale)
    b.get(site.url + "/")
    b.dialog()
    assert b.js("return innerWidth") == width
    first = reachability(b)
    assert first == {"overflowPage": False, "overflowDialog": False, "controls": {
        "link": True, "accept-all": True, "reject-all": True, "preferences": True}}, first
    b.click("preferences")
    prefs = reachability(b)
    assert not prefs["overflowPage"] and not prefs["overflowDialog"], prefs
    assert prefs["controls"] == dict.fromkeys(
        ["link", "necessary", "preferences", "statistics", "marketing", "accept-all",
         "reject-all", "save"], True), prefs
    b.el('#sp-consent input[data-sp-category="marketing"]').click()
    b.click("save")
    assert b.cookie()["categories"]["marketing"] is True
    fab = reachability(b)
    assert fab == {"overflowPage": False, "controls": {"open": True}}, fab
    b.click("open")
    again = reachability(b)
    assert all(again["controls"].values()), again
    assert {"withdraw", "close"} <= set(again["controls"]), again
    b.click("withdraw")
    assert b.cookie()["categories"]["marketing"] is False


def test_reduced_motion_stops_the_animation(b, site):
    animation = ("return getComputedStyle(document.querySelector('#sp-consent [role=dialog]'))"
                 ".animationName")
    b.get(site.url + "/")
    assert b.js(animation) == "sp-in"
    b.d.execute_cdp_cmd("Emulation.setEmulatedMedia", {
        "features": [{"name": "prefers-reduced-motion", "value": "reduce"}]})
    b.d.delete_all_cookies()
    b.get(site.url + "/")
    assert b.js(animation) == "none"


def test_the_site_can_put_the_widget_bottom_left(b, site):
    with site.settings(position="bottom-left"):
        b.get(site.url + "/")
        assert b.dialog().rect["x"] <= 20
        b.click("reject-all")
        assert b.el('#sp-consent [data-sp-action="open"]').rect["x"] <= 20


def test_screenshots_of_banner_preferences_and_button(b, site, tmp_path):
    """docs/screenshots/widget-*.png; rewritten only with SP_WIDGET_SCREENSHOTS=1 (else checked
    in a temporary folder), so a test run leaves the tree as it was."""
    out = SCREENSHOTS if os.environ.get("SP_WIDGET_SCREENSHOTS") == "1" else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 800), (375, 812)):
        b.viewport(width, height, 1, mobile=width < 500)
        b.d.delete_all_cookies()
        b.get(site.url + "/?p=1")
        b.dialog()
        b.js("document.activeElement.blur()")
        shots = {}
        for name, then in (("banner", "preferences"), ("preferences", "save"), ("button", None)):
            b.js("return document.getAnimations().forEach((a) => a.finish())")
            png = b.d.get_screenshot_as_png()
            path = out / f"widget-{name}-{width}.png"
            path.write_bytes(png)
            shots[name] = Image.open(io.BytesIO(png)).convert("RGB")
            if then:
                b.click(then)
                if then == "preferences":
                    b.el('#sp-consent input[data-sp-category="statistics"]').click()
                b.js("document.activeElement.blur()")
        for name, img in shots.items():
            assert img.size == (width, height), (name, img.size)
        # The primary colour of the buttons is in each picture, bottom right.
        x, y = b.js("const r = document.querySelector('#sp-consent .sp-fab')"
                    ".getBoundingClientRect(); return [Math.round(r.left + 8),"
                    " Math.round(r.top + r.height / 2)]")
        assert x > width - 80 and y > height - 80, (x, y)
        fab = shots["button"].getpixel((x, y))
        assert fab == (29, 78, 216), fab
        banner = shots["banner"].crop((width // 2, height // 2, width, height)).getcolors(1 << 20)
        assert any(c == (29, 78, 216) and n > 500 for n, c in banner), "the banner's buttons"
