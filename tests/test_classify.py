"""The site scan's classifier (issue 13, sidecar/classify.py): the service catalogue, the
vendored Open Cookie Database, WordPress's own names and site rules, in that order of
precedence reversed (docs/catalogue.md)."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import runpy
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sidecar import classify
from sidecar.classify import (
    CatalogueError,
    Classifier,
    RuleError,
    parse_catalogue,
    parse_ocd,
    validate_catalogue,
)

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "sidecar" / "catalogue"
OCD_DIR = CATALOGUE / "open-cookie-database"


@pytest.fixture(scope="module")
def c():
    return Classifier()


# -- the catalogue covers what issue 13 names ---------------------------------------------

# (service name, category, breaks_if_blocked, request URLs, cookies as (name, domain), storage)
REQUIRED = [
    ("Google Analytics", "statistics", False,
     ["https://www.google-analytics.com/g/collect?v=2&tid=G-1",
      "https://region1.google-analytics.com/g/collect", "https://analytics.google.com/g/collect"],
     [("_ga", ".example.com"), ("_ga_ABC123", ".example.com"), ("_gid", "example.com"),
      ("_gat_UA-1-1", "example.com")], []),
    ("Google tag (gtag.js)", "statistics", False,
     ["https://www.googletagmanager.com/gtag/js?id=G-ABC"], [], []),
    ("Google Tag Manager", "statistics", False,
     ["https://www.googletagmanager.com/gtm.js?id=GTM-ABC",
      "https://www.googletagmanager.com/ns.html?id=GTM-ABC"], [], []),
    ("Google Ads / DoubleClick", "marketing", False,
     ["https://googleads.g.doubleclick.net/pagead/viewthroughconversion/1/",
      "https://www.googleadservices.com/pagead/conversion.js",
      "https://pagead2.googlesyndication.com/pagead/js/adsbygoogle.js",
      "https://www.google.com/pagead/1p-user-list/1/"],
     [("_gcl_au", ".example.com"), ("_gac_UA-1", ".example.com"), ("IDE", ".doubleclick.net")],
     []),
    ("Meta Pixel", "marketing", False,
     ["https://connect.facebook.net/en_US/fbevents.js",
      "https://www.facebook.com/tr?id=1&ev=PageView"],
     [("_fbp", ".example.com"), ("_fbc", ".example.com")], []),
    ("LinkedIn Insight Tag", "marketing", False,
     ["https://snap.licdn.com/li.lms-analytics/insight.min.js",
      "https://px.ads.linkedin.com/collect/?pid=1", "https://www.linkedin.com/px/li_sync"],
     [("li_fat_id", ".example.com"), ("bcookie", ".linkedin.com"), ("lidc", ".linkedin.com")],
     []),
    ("TikTok Pixel", "marketing", False,
     ["https://analytics.tiktok.com/i18n/pixel/events.js?sdkid=X"],
     [("_ttp", ".example.com"), ("ttcsid_C1ABC", ".example.com"), ("ttwid", ".tiktok.com")], []),
    ("Pinterest Tag", "marketing", False,
     ["https://s.pinimg.com/ct/core.js", "https://ct.pinterest.com/v3/?tid=1"],
     [("_pin_unauth", ".example.com"), ("_pinterest_sess", ".pinterest.com")], []),
    ("Hotjar", "statistics", False,
     ["https://static.hotjar.com/c/hotjar-1.js?sv=6", "https://script.hotjar.com/modules.js",
      "https://ws.hotjar.com/api/v2/client/ws"],
     [("_hjSessionUser_123", ".example.com"), ("_hjSession_123", ".example.com")],
     ["_hjSession_123", "hjViewportId"]),
    ("Microsoft Clarity", "statistics", False,
     ["https://www.clarity.ms/tag/abc", "https://q.clarity.ms/collect"],
     [("_clck", ".example.com"), ("_clsk", ".example.com"), ("CLID", "www.clarity.ms")],
     ["_clck"]),
    ("Matomo Cloud", "statistics", False,
     ["https://cdn.matomo.cloud/example.matomo.cloud/matomo.js",
      "https://example.matomo.cloud/matomo.php?idsite=1"],
     [("_pk_id.1.1fff", "example.com"), ("_pk_ses.1.1fff", "example.com")], []),
    ("YouTube", "marketing", False,
     ["https://www.youtube.com/embed/abc", "https://www.youtube-nocookie.com/embed/abc",
      "https://i.ytimg.com/vi/abc/hqdefault.jpg", "https://youtube.com/iframe_api"],
     [("VISITOR_INFO1_LIVE", ".youtube.com"), ("YSC", ".youtube.com"),
      ("PREF", ".youtube.com")],
     ["yt-remote-device-id", "ytidb::LAST_RESULT_ENTRY_KEY", "yt-player-bandwidth"]),
    ("Vimeo", "statistics", False,
     ["https://player.vimeo.com/video/1", "https://f.vimeocdn.com/p/4.0/js/player.js"],
     [("vuid", ".vimeo.com")], []),
    ("Google Maps", "preferences", False,
     ["https://maps.googleapis.com/maps/api/js?key=x", "https://www.google.com/maps/embed?pb=1",
      "https://maps.gstatic.com/mapfiles/x.png"], [], []),
    ("Google Fonts", "preferences", False,
     ["https://fonts.googleapis.com/css2?family=Roboto", "https://fonts.gstatic.com/s/r.woff2"],
     [], []),
    ("Google reCAPTCHA", "necessary", True,
     ["https://www.google.com/recaptcha/api.js", "https://www.recaptcha.net/recaptcha/api.js",
      "https://www.gstatic.com/recaptcha/releases/x/recaptcha__en.js"],
     [("_GRECAPTCHA", "www.google.com")], ["rc::a", "rc::c"]),
    ("Stripe", "necessary", True,
     ["https://js.stripe.com/v3/", "https://m.stripe.network/inner.html",
      "https://api.stripe.com/v1/tokens"],
     [("__stripe_mid", ".example.com"), ("__stripe_sid", ".example.com"), ("m", "m.stripe.com")],
     []),
    ("PayPal", "necessary", True,
     ["https://www.paypal.com/sdk/js?client-id=x",
      "https://www.paypalobjects.com/api/checkout.js"],
     [("ts", ".paypal.com"), ("tsrce", ".paypal.com")], []),
]


@pytest.mark.parametrize("service, category, breaks, urls, cookies, storage", REQUIRED,
                         ids=[r[0] for r in REQUIRED])
def test_each_required_service_is_classified_by_host_and_by_cookie(
        c, service, category, breaks, urls, cookies, storage):
    got = []
    for url in urls:
        host = url.split("/")[2]
        got.append(("request", url, c.classify("request", host, url=url)))
    for name, domain in cookies:
        got.append(("cookie", name, c.classify("cookie", name, host=domain)))
    for key in storage:
        got.append(("storage", key, c.classify("storage", key, host="example.com")))
    assert urls
    for kind, what, r in got:
        assert (r.service, r.category, r.source, r.breaks_if_blocked) == (
            service, category, "catalogue", breaks), (kind, what, r)
        assert r.vendor and r.pattern


def test_paths_pick_the_service_on_a_shared_host(c):
    """www.google.com serves reCAPTCHA, Maps and Ads under their own paths; any other path
    of that host is not theirs."""
    assert c.classify("request", "www.google.com",
                      url="https://www.google.com/recaptcha/api2/anchor").service == \
        "Google reCAPTCHA"
    assert c.classify("request", "www.google.com",
                      url="https://www.google.com/maps/embed").service == "Google Maps"
    other = c.classify("request", "www.google.com", url="https://www.google.com/xjs/_/js/x")
    assert (other.category, other.source) == ("unknown", "unknown")


def test_host_patterns_mean_exact_host_or_domain_and_subdomains(c):
    assert c.classify("request", "google-analytics.com").service == "Google Analytics"
    assert c.classify("request", "a.b.google-analytics.com:8443").service == "Google Analytics"
    # A look-alike is not a subdomain.
    assert c.classify("request", "evilgoogle-analytics.com").category == "unknown"
    assert c.classify("request", "google-analytics.com.evil.test").category == "unknown"
    # An exact host does not cover its subdomains.
    assert c.classify("request", "x.s.w.org").category == "unknown"
    assert c.classify("request", "s.w.org").service == "WordPress.org emoji CDN"


def test_host_scoped_names_hold_only_on_the_services_domain(c):
    """YSC is YouTube's on .youtube.com; a site's own cookie of that name is not."""
    assert c.classify("cookie", "YSC", host=".youtube.com").service == "YouTube"
    own = c.classify("cookie", "YSC", host="shop.example")
    assert own.service != "YouTube" and own.source != "catalogue"
    assert c.classify("cookie", "ts", host="example.com").service != "PayPal"


# -- the Open Cookie Database ---------------------------------------------------------------

def test_the_vendored_ocd_is_complete_and_matches_its_source_record():
    raw = (OCD_DIR / "open-cookie-database.csv").read_bytes()
    source = json.loads((OCD_DIR / "SOURCE.json").read_text())
    assert source["sha256"] == hashlib.sha256(raw).hexdigest(), \
        "the CSV was edited without scripts/refresh_ocd.py"
    ocd = classify.default_ocd()
    assert ocd.rows == source["rows"] == len(classify.read_ocd_rows(raw.decode())) > 2000
    assert "Apache License" in (OCD_DIR / "LICENSE").read_text()
    notice = (OCD_DIR / "NOTICE").read_text()
    assert "Open Cookie Database" in notice and "Apache" in notice


@pytest.mark.parametrize("name, host, category, service", [
    ("PHPSESSID", "shop.example", "necessary", "PHP.net"),             # Functional
    ("AMCV_ABC%40AdobeOrg", "shop.example", "marketing", "Adobe Audience Manager"),  # wildcard
    ("_chartbeat2", "shop.example", "statistics", "Chartbeat"),          # wildcard, Analytics
    ("tp", ".ml314.com", "marketing", "Bombora"),                       # domain-scoped
    ("XSRF-TOKEN", "shop.example", "necessary", None),                  # Security
])
def test_ocd_lookups_exact_wildcard_and_domain_scoped(c, name, host, category, service):
    r = c.classify("cookie", name, host=host)
    assert (r.category, r.source) == (category, "open-cookie-database"), r
    if service:
        assert r.service == service


def test_ocd_names_scoped_to_a_domain_do_not_label_other_sites_cookies(c):
    """"tp" is Bombora's on .ml314.com; on the site itself it is unknown, not marketing."""
    assert c.classify("cookie", "tp", host="127.0.0.1").source == "unknown"


OCD_HEADER = ",".join(f'"{c}"' if "," in c else c for c in classify.OCD_COLUMNS)


def ocd_csv(*rows: tuple[str, str, str, str, str]) -> bytes:
    """Rows of (id, platform, category, name, wildcard) as an OCD CSV."""
    lines = [OCD_HEADER] + [f"{i},{p},{cat},{n},,desc,1 year,Ctl,https://x.test,{w}"
                            for i, p, cat, n, w in rows]
    return ("\n".join(lines) + "\n").encode()


def test_ocd_category_mapping_and_wildcards_on_a_small_database():
    ocd = parse_ocd(ocd_csv(
        ("1", "P-func", "Functional", "f_exact", "0"),
        ("2", "P-pers", "Personalization", "pers", "0"),
        ("3", "P-ana", "Analytics", "ana_", "1"),
        ("4", "P-mkt", "Marketing", "mkt", "0"),
        ("5", "P-sec", "Security", "sec", "0"),
        ("6", "P-nec", "Necessary", "nec", "0"),
        ("7", "P-dup-a", "Functional", "dup", "0"),
        ("8", "P-dup-b", "Marketing", "dup", "0"),
        ("9", "P-long", "Marketing", "ana_long_", "1"),
    ))
    c = Classifier(ocd=ocd)
    got = {n: (r.category, r.service) for n in
           ("f_exact", "pers", "ana_123", "mkt", "sec", "nec", "dup", "ana_long_x", "ana", "mkt2")
           for r in [c.classify("cookie", n)]}
    assert got == {
        "f_exact": ("necessary", "P-func"), "pers": ("preferences", "P-pers"),
        "ana_123": ("statistics", "P-ana"), "mkt": ("marketing", "P-mkt"),
        "sec": ("necessary", "P-sec"), "nec": ("necessary", "P-nec"),
        "dup": ("marketing", "P-dup-b"),            # the stricter of two
        "ana_long_x": ("marketing", "P-long"),      # the longer wildcard wins
        "ana": ("unknown", None),                   # a wildcard needs its whole fixed start
        "mkt2": ("unknown", None),                  # an exact name is not a prefix
    }


@pytest.mark.parametrize("mutate, message", [
    (lambda t: t.replace("Wildcard match", "Wildcard"), "columns"),
    (lambda t: t.replace(",Marketing,", ",Advertising,", 1), "no mapping"),
    (lambda t: t.replace("1 year,Ctl,https://x.test,0", "1 year,Ctl,https://x.test,yes", 1),
     "Wildcard match"),
    (lambda t: t.replace("2,P", "1,P", 1), "repeats"),
    (lambda t: t.replace(",mkt,", ",,", 1), "empty cookie name"),
    (lambda t: t.replace(",desc,", ",desc,extra,", 1), "number of fields"),
])
def test_a_malformed_ocd_is_refused_naming_the_problem(mutate, message):
    text = ocd_csv(("1", "A", "Functional", "a", "0"), ("2", "P", "Marketing", "mkt", "0"))
    with pytest.raises(CatalogueError, match=message):
        parse_ocd(mutate(text.decode()).encode())


# -- WordPress's own names ------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "wordpress_0123abcd", "wordpress_logged_in_0123abcd", "wordpress_sec_0123abcd",
    "wp-settings-1", "wp-settings-time-1", "comment_author_0123abcd",
    "comment_author_email_0123abcd", "wp_woocommerce_session_0123abcd",
    "woocommerce_cart_hash", "woocommerce_items_in_cart", "wp_lang",
    "wordpress_test_cookie", "sp_consent",
])
def test_wordpress_and_our_own_cookies_are_necessary(c, name):
    r = c.classify("cookie", name, host="127.0.0.1")
    assert (r.category, r.source) == ("necessary", "wordpress"), r


def test_wordpress_beats_the_ocd_and_our_storage_keys_are_known(c):
    # wordpress_test_cookie and the WooCommerce names are in the OCD too (scoped to woocommerce.com)
    assert c.classify("cookie", "wordpress_test_cookie").source == "wordpress"
    for key in ("sp_consent_pending", "sp_policy_notice", "wc_fragments_abc"):
        assert c.classify("storage", key).source == "wordpress"
    assert c.classify("storage", "sp_consent").source == "unknown"  # a cookie name, not a key


def test_unknown_stays_unknown_and_is_never_necessary(c):
    for kind, name, host in (("cookie", "zz_site_thing", "127.0.0.1"),
                             ("storage", "mystery-key", "127.0.0.1:8080"),
                             ("request", "localhost:9001", None)):
        r = c.classify(kind, name, host=host)
        assert (r.category, r.source, r.service, r.breaks_if_blocked) == (
            "unknown", "unknown", None, False)


# -- site rules -----------------------------------------------------------------------------

def test_site_rules_override_catalogue_ocd_and_unknown():
    c = Classifier(rules=[
        {"kind": "cookie", "pattern": "_ga*", "category": "necessary"},
        {"kind": "cookie", "pattern": "PHPSESSID", "category": "preferences"},
        {"kind": "storage", "pattern": "mystery-*", "category": "statistics",
         "service": "Our stats"},
        {"kind": "request", "pattern": "*.Example-CDN.test", "category": "necessary"},
    ])
    ga = c.classify("cookie", "_ga_XYZ")
    assert (ga.category, ga.source, ga.service, ga.pattern) == (
        "necessary", "site-rule", "Google Analytics", "_ga*")
    assert ga.overridden.source == "catalogue" and ga.overridden.category == "statistics"
    php = c.classify("cookie", "PHPSESSID")
    assert (php.category, php.source, php.overridden.source) == (
        "preferences", "site-rule", "open-cookie-database")
    key = c.classify("storage", "mystery-key")
    assert (key.category, key.service, key.overridden) == ("statistics", "Our stats", None)
    cdn = c.classify("request", "img.example-cdn.test")
    assert (cdn.category, cdn.source) == ("necessary", "site-rule")
    assert c.classify("request", "example-cdn.test").source == "site-rule"


def test_a_rule_on_a_breaks_if_blocked_service_keeps_the_flag():
    c = Classifier(rules=[{"kind": "request", "pattern": "js.stripe.com",
                           "category": "marketing"},
                          {"kind": "cookie", "pattern": "sp_consent", "category": "statistics"}])
    r = c.classify("request", "js.stripe.com", url="https://js.stripe.com/v3/")
    assert (r.category, r.source, r.service, r.breaks_if_blocked) == (
        "marketing", "site-rule", "Stripe", True)
    own = c.classify("cookie", "sp_consent")
    assert (own.category, own.source, own.breaks_if_blocked) == ("statistics", "site-rule", True)


def test_storage_rules_take_any_key_and_names_are_case_sensitive():
    """localStorage keys may hold spaces and punctuation; cookie names may not."""
    c = Classifier(rules=[{"kind": "storage", "pattern": "cart state: *", "category": "necessary"},
                          {"kind": "cookie", "pattern": "Site_Pref", "category": "preferences"}])
    assert c.classify("storage", "cart state: v2").source == "site-rule"
    assert c.classify("cookie", "Site_Pref").source == "site-rule"
    assert c.classify("cookie", "site_pref").source != "site-rule"


def test_an_exact_rule_beats_a_glob_and_a_longer_glob_a_shorter():
    c = Classifier(rules=[{"kind": "cookie", "pattern": "a*", "category": "marketing"},
                          {"kind": "cookie", "pattern": "ab*", "category": "statistics"},
                          {"kind": "cookie", "pattern": "abc", "category": "necessary"}])
    assert [c.classify("cookie", n).category for n in ("abc", "abd", "axe")] == [
        "necessary", "statistics", "marketing"]


@pytest.mark.parametrize("rule, message", [
    ({"kind": "pixel", "pattern": "x", "category": "marketing"}, "kind"),
    ({"kind": "cookie", "pattern": "x", "category": "unknown"}, "category"),
    ({"kind": "cookie", "pattern": "x", "category": "ads"}, "category"),
    ({"kind": "cookie", "pattern": "*", "category": "marketing"}, "lone"),
    ({"kind": "cookie", "pattern": " ", "category": "marketing"}, "non-empty"),
    ({"kind": "cookie", "pattern": "a b", "category": "marketing"}, "not a name"),
    ({"kind": "request", "pattern": "https://x.test/", "category": "marketing"}, "not a host"),
    ({"kind": "cookie", "pattern": "x", "category": "marketing", "colour": 1}, "unknown keys"),
    ({"kind": "cookie", "pattern": "x", "category": "marketing", "service": 5}, "service"),
    ("cookie", "must be an object"),
])
def test_malformed_site_rules_are_refused_naming_the_rule(rule, message):
    with pytest.raises(RuleError, match=message) as e:
        Classifier(rules=[{"kind": "cookie", "pattern": "ok", "category": "necessary"}, rule])
    assert "rules[1]" in str(e.value)


def test_an_unknown_kind_is_refused(c):
    with pytest.raises(ValueError, match="kind"):
        c.classify("pixel", "x")


# -- the catalogue file ---------------------------------------------------------------------

def shipped() -> dict:
    return json.loads((CATALOGUE / "services.json").read_text())


def test_the_shipped_catalogue_is_valid():
    assert validate_catalogue(shipped()) == []
    assert {r[0] for r in REQUIRED} <= {s["name"] for s in shipped()["services"]}


def _svc(doc: dict, sid: str) -> dict:
    return next(s for s in doc["services"] if s["id"] == sid)


BAD_ENTRIES = [
    ("category", lambda d: _svc(d, "hotjar").update(category="analytics"), "category"),
    ("breaks-not-necessary", lambda d: _svc(d, "hotjar").update(breaks_if_blocked=True),
     "must be necessary"),
    ("breaks-not-bool", lambda d: _svc(d, "stripe").update(breaks_if_blocked="yes"),
     "true or false"),
    ("host-scheme", lambda d: _svc(d, "hotjar")["hosts"].append("https://x.test"), "host"),
    ("host-upper", lambda d: _svc(d, "hotjar")["hosts"].append("X.test"), "host"),
    ("url-no-path", lambda d: _svc(d, "hotjar")["urls"].append("x.test"), "url"),
    ("url-query", lambda d: _svc(d, "hotjar")["urls"].append("x.test/a?b"), "url"),
    ("cookie-star", lambda d: _svc(d, "hotjar")["cookies"].append("*"), "name pattern"),
    ("cookie-space", lambda d: _svc(d, "hotjar")["cookies"].append("a b"), "name pattern"),
    ("duplicate-id", lambda d: _svc(d, "vimeo").update(id="hotjar"), "used twice"),
    ("missing-key", lambda d: _svc(d, "hotjar").pop("vendor"), "missing keys"),
    ("unknown-key", lambda d: _svc(d, "hotjar").update(colour="red"), "unknown keys"),
    ("cookie-claimed-twice", lambda d: _svc(d, "vimeo")["cookies"].append("_ga"),
     "also claimed"),
    ("host-claimed-twice", lambda d: _svc(d, "vimeo")["hosts"].append(".hotjar.com"),
     "claimed by"),
    ("scoped-without-hosts", lambda d: _svc(d, "google-analytics").update(
        hosts=[], host_cookies=["x"]), "need hosts"),
    ("empty-name", lambda d: _svc(d, "hotjar").update(name=" "), "name"),
    ("not-a-list", lambda d: _svc(d, "hotjar").update(storage="_hj*"), "must be a list"),
    ("format", lambda d: d.update(format=2), "format"),
]


@pytest.mark.parametrize("mutate, message", [b[1:] for b in BAD_ENTRIES],
                         ids=[b[0] for b in BAD_ENTRIES])
def test_a_bad_catalogue_entry_fails(mutate, message):
    doc = copy.deepcopy(shipped())
    mutate(doc)
    errors = validate_catalogue(doc)
    assert any(message in e for e in errors), errors
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(json.dumps(doc).encode())


def test_a_catalogue_that_is_not_json_is_refused():
    with pytest.raises(CatalogueError, match="not JSON"):
        parse_catalogue(b"{nope")


def test_a_test_catalogue_can_stand_in_for_the_shipped_one(tmp_path):
    """How an e2e test marks a loopback "third party" as a payment provider."""
    doc = {"format": 1, "services": [{
        "id": "test-pay", "name": "Test Pay", "vendor": "Test", "category": "necessary",
        "breaks_if_blocked": True, "hosts": ["localhost:9001"], "urls": [], "cookies": [],
        "host_cookies": [], "storage": []}]}
    (tmp_path / "services.json").write_text(json.dumps(doc))
    c = Classifier(catalogue=classify.load_catalogue_file(tmp_path / "services.json"))
    r = c.classify("request", "localhost:9001", url="http://localhost:9001/pay.js")
    assert (r.service, r.category, r.breaks_if_blocked) == ("Test Pay", "necessary", True)
    assert c.classify("request", "localhost:9002").category == "unknown"


def test_extra_services_add_to_the_shipped_catalogue_and_may_not_contradict_it():
    extra = {"id": "test-pay", "name": "Test Pay", "vendor": "Test", "category": "necessary",
             "breaks_if_blocked": True, "hosts": ["localhost:9001"], "urls": [],
             "cookies": ["testpay_sid"], "host_cookies": [], "storage": []}
    c = Classifier(catalogue=classify.catalogue_with([extra]))
    assert c.classify("request", "localhost:9001").breaks_if_blocked is True
    assert c.classify("cookie", "testpay_sid").service == "Test Pay"
    assert c.classify("cookie", "_ga").service == "Google Analytics"
    with pytest.raises(CatalogueError, match="also claimed"):
        classify.catalogue_with([{**extra, "cookies": ["_ga"]}])


def test_classifying_ten_thousand_items_gives_ten_thousand_answers(c):
    """The speed figure is printed by bench/classify.py; here: every item gets an answer."""
    items = bench_items(10_000)
    got = [c.classify(kind, name, host=host, url=url) for kind, name, host, url in items]
    assert len(got) == 10_000
    assert {r.source for r in got} == set(classify.SOURCES) - {"site-rule"}


def bench_items(n: int) -> list[tuple]:
    return runpy.run_path(str(ROOT / "bench" / "classify.py"))["items"](n)


# -- shipped as package data ----------------------------------------------------------------

def test_a_non_editable_install_contains_the_catalogue_and_the_ocd(tmp_path):
    """Build a wheel of this tree, install it into a plain directory, classify from there."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "pyproject.toml").write_bytes((ROOT / "pyproject.toml").read_bytes())
    subprocess.run(["cp", "-r", str(ROOT / "sidecar"), str(src / "sidecar")], check=True)
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run(pip + ["wheel", "--no-deps", "-w", str(tmp_path / "dist"), str(src)],
                   check=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in ("services.json", "open-cookie-database/open-cookie-database.csv",
              "open-cookie-database/LICENSE", "open-cookie-database/NOTICE",
              "open-cookie-database/SOURCE.json"):
        assert f"sidecar/catalogue/{f}" in names, f
    target = tmp_path / "site"
    subprocess.run(pip + ["install", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, timeout=300)
    code = ("import sidecar, sidecar.classify as k; c = k.Classifier(); "
            "print(sidecar.__file__); print(c.classify('cookie', '_ga').service, "
            "c.classify('cookie', 'PHPSESSID').source)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(target)})
    assert out.returncode == 0, out.stderr
    where, answer = out.stdout.strip().splitlines()
    assert where.startswith(str(target)), where
    assert answer == "Google Analytics open-cookie-database"


# -- scripts/refresh_ocd.py -----------------------------------------------------------------

def run_refresh(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "refresh_ocd.py"), *args],
                          capture_output=True, text=True, timeout=60)


def test_refresh_ocd_checks_summarises_and_replaces(tmp_path):
    dest = tmp_path / "ocd"
    dest.mkdir()
    (dest / "open-cookie-database.csv").write_bytes(ocd_csv(
        ("1", "A", "Functional", "a", "0"), ("2", "B", "Analytics", "b", "0"),
        ("3", "C", "Marketing", "c", "0")))
    new = tmp_path / "new.csv"
    new.write_bytes(ocd_csv(("1", "A", "Marketing", "a", "0"), ("3", "C", "Marketing", "c", "0"),
                            ("4", "D", "Personalization", "d_", "1")))
    out = run_refresh(str(new), "--version", "abc (2027-01-01)", "--dest", str(dest))
    assert out.returncode == 0, out.stderr
    assert "rows: 3 -> 3; added 1, removed 1, changed 1 (1 change our category)" in out.stdout
    assert "+ d_ (D, Personalization)" in out.stdout and "- b (B, Analytics)" in out.stdout
    assert "~ a (A, Marketing): Category category necessary -> marketing" in out.stdout
    assert (dest / "open-cookie-database.csv").read_bytes() == new.read_bytes()
    source = json.loads((dest / "SOURCE.json").read_text())
    assert source["version"] == "abc (2027-01-01)" and source["rows"] == 3
    assert source["sha256"] == hashlib.sha256(new.read_bytes()).hexdigest()


def test_refresh_ocd_refuses_a_bad_file_and_changes_nothing(tmp_path):
    dest = tmp_path / "ocd"
    dest.mkdir()
    before = ocd_csv(("1", "A", "Functional", "a", "0"))
    (dest / "open-cookie-database.csv").write_bytes(before)
    bad = tmp_path / "bad.csv"
    bad.write_text("ID,Name\n1,a\n")
    out = run_refresh(str(bad), "--version", "x", "--dest", str(dest))
    assert out.returncode == 1 and "columns" in out.stderr and "nothing was changed" in out.stderr
    assert (dest / "open-cookie-database.csv").read_bytes() == before
    assert not (dest / "SOURCE.json").exists()
    assert run_refresh("http://example.test/x.csv", "--version", "x", "--dest",
                       str(dest)).returncode == 1
