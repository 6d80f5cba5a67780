"""The site scan report (issue 13, sidecar/scan_report.py): observations of SCAN_INTERFACE §1
in, the CONTRACT §8 report out (docs/scan.md)."""

from __future__ import annotations

import copy
import hashlib
import json
import random

import pytest

from sidecar.classify import RuleError
from sidecar.scan_report import ObservationError, build_report, plugin_slug, report_hash

SITE = "http://127.0.0.1:8080"
THIRD = "http://localhost:9001"
SCAN = {"id": "scan-1", "status": "done", "started_at": "2026-11-30T01:00:00Z",
        "finished_at": "2026-11-30T01:01:00Z", "progress": {"done": 2, "total": 2}}


def state(cookies=(), storage=(), requests=(), error=None) -> dict:
    return {"cookies": list(cookies), "storage": list(storage), "requests": list(requests),
            "error": error}


def cookie(name, domain="127.0.0.1", *, from_="script", set_by=None, http_only=False,
           expires=1790000000.25) -> dict:
    return {"name": name, "domain": domain, "path": "/", "expires": expires,
            "http_only": http_only, "secure": False, "same_site": "Lax", "from": from_,
            "set_by_url": set_by}


def request(url, resource="script", initiator=None, failed=False) -> dict:
    host = url.split("/")[2] if "://" in url else None
    return {"url": url, "host": host, "resource": resource, "initiator": initiator,
            "failed": failed}


def storage(key, area="local", origin=SITE) -> dict:
    return {"area": area, "key": key, "origin": origin}


def page(url, **states) -> dict:
    return {"url": url, "states": states}


PLUGIN_JS = f"{SITE}/wp-content/plugins/acme-stats/js/track.js?ver=1.2"


def fixture_pages() -> list[dict]:
    """Two pages: a first-party analytics cookie from script, an unknown localStorage key, a
    script, iframe and pixel from a loopback "third party" (the pixel sets an HttpOnly
    cookie), a payment script, our own consent cookie after a choice."""
    home = page(
        f"{SITE}/",
        before_consent=state(
            cookies=[cookie("_ga"), cookie("tp_uid", "localhost", from_="set-cookie",
                                           set_by=f"{THIRD}/px.gif", http_only=True)],
            storage=[storage("acme_unknown_key")],
            requests=[request(PLUGIN_JS),  # own origin: never an item
                      request(f"{THIRD}/t.js", "script", PLUGIN_JS),
                      request(f"{THIRD}/frame.html", "iframe", f"{SITE}/"),
                      request(f"{THIRD}/px.gif", "image", f"{THIRD}/t.js", failed=True),
                      request("https://js.stripe.com/v3/", "script",
                              f"{SITE}/wp-content/themes/shopfront/app.js", failed=True),
                      request("data:image/png;base64,AAAA", "image")]),
        after_reject=state(cookies=[cookie("sp_consent")],
                           requests=[request("https://js.stripe.com/v3/", failed=True)]),
        after_accept=state(
            cookies=[cookie("sp_consent"), cookie("_ga"), cookie("_gid")],
            requests=[request("https://www.google-analytics.com/g/collect?v=2", "beacon",
                              "https://www.googletagmanager.com/gtag/js?id=G-1", failed=True),
                      request("https://www.googletagmanager.com/gtag/js?id=G-1",
                              initiator=f"{SITE}/", failed=True)]),
    )
    post = page(
        f"{SITE}/?p=5",
        before_consent=state(requests=[request("https://js.stripe.com/v3/", failed=True)]),
        after_reject=state(),
        after_accept=state(cookies=[cookie("_gid")], error=None),
    )
    return [home, post]


def build(pages=None, rules=None, scan=None, origins=(SITE,)) -> dict:
    return build_report(scan or SCAN, fixture_pages() if pages is None else pages,
                        rules=rules or [], site_origins=list(origins))


def item(report, kind, name, **match) -> dict:
    found = [i for i in report["items"] if i["kind"] == kind and i["name"] == name
             and all(i.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (kind, name, [(i["kind"], i["name"]) for i in report["items"]])
    return found[0]


# -- items and evidence ---------------------------------------------------------------------

def test_the_fixture_items_have_the_right_category_source_and_evidence():
    r = build()
    ga = item(r, "cookie", "_ga")
    assert (ga["category"], ga["source"], ga["service"], ga["from"]) == (
        "statistics", "catalogue", "Google Analytics", "script")
    assert ga["expires"] == 1790000000 and ga["domain"] == "127.0.0.1"
    assert [(s["page"], s["state"]) for s in ga["seen"]] == [
        (f"{SITE}/", "before_consent"), (f"{SITE}/", "after_accept")]

    key = item(r, "storage", "acme_unknown_key")
    assert (key["category"], key["source"], key["area"], key["origins"]) == (
        "unknown", "unknown", "local", [SITE])

    third = item(r, "request", "localhost:9001")
    assert third["resources"] == ["script", "iframe", "image"] and third["resource"] == "script"
    assert (third["category"], third["source"], third["failed"]) == ("unknown", "unknown", False)
    assert {(s["initiator"], s["plugin"]) for s in third["seen"]} == {
        (PLUGIN_JS, "acme-stats"), (f"{SITE}/", None), (f"{THIRD}/t.js", None)}

    set_cookie = item(r, "cookie", "tp_uid")
    assert (set_cookie["http_only"], set_cookie["from"], set_cookie["host"]) == (
        True, "set-cookie", "localhost")
    # The cookie is linked to the request that set it, and through it to that request's initiator.
    assert [(s["set_by"], s["initiator"]) for s in set_cookie["seen"]] == [
        (f"{THIRD}/px.gif", f"{THIRD}/t.js")]

    stripe = item(r, "request", "js.stripe.com")
    assert (stripe["category"], stripe["breaks_if_blocked"], stripe["service"]) == (
        "necessary", True, "Stripe")
    assert stripe["failed"] is True  # attempted counts, even when it failed
    assert {s["plugin"] for s in stripe["seen"]} == {"shopfront", None}

    own = item(r, "cookie", "sp_consent")
    assert (own["category"], own["source"]) == ("necessary", "wordpress")


def test_request_items_are_only_third_party_hosts_and_real_requests():
    r = build()
    hosts = {i["name"] for i in r["items"] if i["kind"] == "request"}
    assert hosts == {"localhost:9001", "js.stripe.com", "www.google-analytics.com",
                     "www.googletagmanager.com"}
    # The page's own origin is own even when site_origins does not list it.
    assert "127.0.0.1:8080" not in {i["name"] for i in build(origins=())["items"]}


@pytest.mark.parametrize("url, own", [
    (f"{SITE}/x.js", True),
    ("http://127.0.0.1:8081/x.js", False),        # a second port is another origin
    ("http://LOCALHOST:9001/x.js", False),
    ("https://127.0.0.1:8080/x.js", True),        # same host and port, other scheme
    ("http://site.example:80/x.js", True),        # the default port is no port
    ("http://[::1]:8080/x.js", False),
])
def test_which_requests_are_third_party(url, own):
    pages = [page(f"{SITE}/", before_consent=state(requests=[request(url)]))]
    r = build_report(SCAN, pages, site_origins=[SITE, "http://site.example"])
    assert (r["items"] == []) is own, r["items"]
    if not own:
        assert r["items"][0]["name"] == url.split("/")[2].lower()


def test_items_are_deduplicated_by_their_keys():
    pages = [page(f"{SITE}/a", before_consent=state(
        cookies=[cookie("x_c"), cookie("x_c"), cookie("x_c", ".127.0.0.1")],
        storage=[storage("k"), storage("k", origin=THIRD), storage("k", area="session")],
        requests=[request(f"{THIRD}/1.js"), request(f"{THIRD}/2.js", "xhr")])),
        page(f"{SITE}/b", after_accept=state(cookies=[cookie("x_c")],
                                            requests=[request(f"{THIRD}/1.js")]))]
    r = build(pages)
    assert [(i["kind"], i["name"], i.get("domain") or i.get("area") or "")
            for i in r["items"]] == [
        ("cookie", "x_c", ".127.0.0.1"), ("cookie", "x_c", "127.0.0.1"),
        ("storage", "k", "local"), ("storage", "k", "session"),
        ("request", "localhost:9001", "")]
    c = item(r, "cookie", "x_c", domain="127.0.0.1")
    assert [(s["page"], s["state"]) for s in c["seen"]] == [
        (f"{SITE}/a", "before_consent"), (f"{SITE}/b", "after_accept")]
    assert item(r, "storage", "k", area="local")["origins"] == [SITE, THIRD]
    req = item(r, "request", "localhost:9001")
    assert req["urls"] == [f"{THIRD}/1.js", f"{THIRD}/2.js"] and req["urls_total"] == 2


def test_a_shared_host_gives_one_item_per_service():
    pages = [page(f"{SITE}/", before_consent=state(requests=[
        request("https://www.google.com/recaptcha/api.js"),
        request("https://www.google.com/maps/embed?pb=1", "iframe")]))]
    r = build(pages)
    got = sorted((i["name"], i["service"], i["category"]) for i in r["items"])
    assert got == [("www.google.com", "Google Maps", "preferences"),
                   ("www.google.com", "Google reCAPTCHA", "necessary")]
    assert [(v["name"], v["category"]) for v in r["violations"]] == [
        ("www.google.com", "preferences")]


# -- violations -----------------------------------------------------------------------------

def test_violations_are_exactly_non_necessary_items_before_consent_or_after_reject():
    r = build()
    got = [(v["kind"], v["name"], v["category"], v["page"], v["state"]) for v in r["violations"]]
    assert got == [
        ("cookie", "_ga", "statistics", f"{SITE}/", "before_consent"),
        ("cookie", "tp_uid", "unknown", f"{SITE}/", "before_consent"),
        ("storage", "acme_unknown_key", "unknown", f"{SITE}/", "before_consent"),
        ("request", "localhost:9001", "unknown", f"{SITE}/", "before_consent"),
    ]
    assert set(r["violations"][0]) == {"name", "kind", "host", "category", "page", "state"}
    assert r["summary"]["violations"] == 4 and r["summary"]["unknown"] == 3


def test_a_necessary_item_before_consent_is_not_a_violation():
    pages = [page(f"{SITE}/", before_consent=state(
        cookies=[cookie("sp_consent"), cookie("wordpress_test_cookie")],
        requests=[request("https://js.stripe.com/v3/")]))]
    assert build(pages)["violations"] == []


def test_a_statistics_item_only_after_accept_is_not_a_violation():
    pages = [page(f"{SITE}/", before_consent=state(), after_reject=state(),
                  after_accept=state(cookies=[cookie("_ga")], requests=[
                      request("https://www.google-analytics.com/g/collect")]))]
    r = build(pages)
    assert r["violations"] == [] and len(r["items"]) == 2


def test_after_reject_counts_and_unknown_counts():
    pages = [page(f"{SITE}/", after_reject=state(storage=[storage("whatever")]))]
    assert [(v["name"], v["state"], v["category"]) for v in build(pages)["violations"]] == [
        ("whatever", "after_reject", "unknown")]


def test_a_site_rule_changes_the_category_and_the_violations():
    rules = [{"kind": "storage", "pattern": "acme_*", "category": "necessary"},
             {"kind": "request", "pattern": "localhost:9001", "category": "marketing",
              "service": "Acme Ads"}]
    r = build(rules=rules)
    key = item(r, "storage", "acme_unknown_key")
    assert (key["category"], key["source"]) == ("necessary", "site-rule")
    third = item(r, "request", "localhost:9001")
    assert (third["category"], third["service"], third["source"]) == (
        "marketing", "Acme Ads", "site-rule")
    assert [v["name"] for v in r["violations"]] == ["_ga", "tp_uid", "localhost:9001"]
    assert r["rules"] == rules
    assert r["rules_hash"] == hashlib.sha256(json.dumps(
        rules, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def test_a_rule_blocking_a_breaks_if_blocked_service_is_flagged():
    r = build(rules=[{"kind": "request", "pattern": ".stripe.com", "category": "marketing"}])
    stripe = item(r, "request", "js.stripe.com")
    assert (stripe["category"], stripe["breaks_if_blocked"], stripe["overridden"]["category"]) \
        == ("marketing", True, "necessary")
    assert [(w["code"], w["name"], w["service"]) for w in r["warnings"]] == [
        ("rule_blocks_breaking_service", "js.stripe.com", "Stripe")]
    assert build()["warnings"] == []


# -- plugin slugs ---------------------------------------------------------------------------

@pytest.mark.parametrize("urls, slug", [
    ((f"{SITE}/wp-content/plugins/acme-stats/js/a.js?ver=1",), "acme-stats"),
    ((f"{SITE}/wp-content/themes/twentytwentyfour/x.js",), "twentytwentyfour"),
    ((None, f"{SITE}/wp-content/plugins/woo.commerce_2/a.js"), "woo.commerce_2"),
    ((f"{SITE}/main.js", f"{SITE}/wp-content/plugins/second/b.js"), "second"),
    ((f"{SITE}/sub/wp-content/plugins/in-subdir/a.js",), "in-subdir"),
    ((f"{SITE}/wp-content/plugins/enc%2Dslug/a.js",), "enc-slug"),
    ((f"{SITE}/wp-content/plugins/a.js",), None),          # a file, not a plugin directory
    ((f"{SITE}/wp-content/mu-plugins/x/a.js",), None),
    ((f"{SITE}/wp-content/plugins/%2E%2E/a.js",), None),
    ((f"{SITE}/?u=/wp-content/plugins/q/a.js",), None),    # in the query, not the path
    ((f"{SITE}/wp-includes/js/jquery.js", None), None),
    ((None,), None),
])
def test_plugin_slug_from_initiator_or_url(urls, slug):
    assert plugin_slug(*urls) == slug


def test_the_request_url_names_the_plugin_when_there_is_no_initiator():
    pages = [page(f"{SITE}/", before_consent=state(requests=[
        request(f"{THIRD}/wp-content/plugins/remote-widget/w.js")]))]
    [seen] = item(build(pages), "request", "localhost:9001")["seen"]
    assert (seen["initiator"], seen["plugin"]) == (None, "remote-widget")


# -- pages, hash, determinism ---------------------------------------------------------------

def test_pages_list_their_captured_states_and_why_one_failed():
    pages = fixture_pages()
    pages[1]["states"]["after_accept"]["error"] = "the widget's accept button did not appear"
    r = build(pages)
    assert r["pages"] == [
        {"url": f"{SITE}/", "states": ["before_consent", "after_reject", "after_accept"],
         "errors": {}},
        {"url": f"{SITE}/?p=5", "states": ["before_consent", "after_reject"],
         "errors": {"after_accept": "the widget's accept button did not appear"}}]
    assert r["summary"]["failed_states"] == 1
    for key in ("id", "status", "progress", "started_at", "finished_at"):
        assert r[key] == SCAN[key]


def test_report_hash_is_sha256_of_the_canonical_json_without_it():
    r = build()
    body = {k: v for k, v in r.items() if k != "report_hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert r["report_hash"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert report_hash(r) == r["report_hash"]
    assert "report_hash" not in json.dumps(body)


def shuffled(pages: list[dict], seed: int) -> list[dict]:
    rng = random.Random(seed)
    pages = copy.deepcopy(pages)
    rng.shuffle(pages)
    for p in pages:
        states = list(p["states"].items())
        rng.shuffle(states)
        p["states"] = dict(states)
        for s in p["states"].values():
            for key in ("cookies", "storage", "requests"):
                rng.shuffle(s[key])
    return pages


def test_the_report_is_the_same_for_any_order_of_the_observations():
    first = build()
    assert build() == first
    for seed in range(5):
        again = build(shuffled(fixture_pages(), seed))
        assert again == first
        assert json.dumps(again) == json.dumps(first)  # the order of lists too, not only sets


def _mutations():
    def edit(fn):
        pages = fixture_pages()
        fn(pages)
        return pages
    home = lambda p: p[0]["states"]  # noqa: E731
    return {
        "cookie flag": edit(lambda p: home(p)["before_consent"]["cookies"][0].update(
            http_only=True)),
        "cookie expiry": edit(lambda p: home(p)["before_consent"]["cookies"][0].update(
            expires=1790000999)),
        "new storage key": edit(lambda p: home(p)["after_accept"]["storage"].append(
            storage("new"))),
        "request resource": edit(lambda p: home(p)["before_consent"]["requests"][1].update(
            resource="xhr")),
        "initiator": edit(lambda p: home(p)["before_consent"]["requests"][2].update(
            initiator=None)),
        "state moved": edit(lambda p: home(p)["after_accept"]["cookies"].append(
            cookie("acme_late"))),
        "page error": edit(lambda p: home(p)["after_reject"].update(error="timeout")),
    }


@pytest.mark.parametrize("name", list(_mutations()))
def test_report_hash_changes_when_anything_changes(name):
    before = build()
    after = build(_mutations()[name])
    assert after["report_hash"] != before["report_hash"]
    assert report_hash(after) == after["report_hash"]


def test_report_hash_covers_rules_and_scan_fields():
    base = build()["report_hash"]
    assert build(rules=[{"kind": "cookie", "pattern": "nothing_matches",
                         "category": "marketing"}])["report_hash"] != base
    assert build(scan={**SCAN, "status": "running"})["report_hash"] != base


def test_the_report_is_plain_json_without_floats():
    """No float anywhere, so any language reproduces the canonical JSON and the hash."""
    def walk(v):
        assert not isinstance(v, float), v
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    r = build()
    walk(r)
    assert json.loads(json.dumps(r)) == r


def test_a_page_listed_twice_has_its_states_merged():
    pages = fixture_pages()
    extra = page(f"{SITE}/?p=5", before_consent=state(storage=[storage("late_key")]))
    r = build(pages + [extra])
    assert [p["url"] for p in r["pages"]] == [f"{SITE}/", f"{SITE}/?p=5"]
    assert item(r, "storage", "late_key")["seen"][0]["page"] == f"{SITE}/?p=5"
    assert item(r, "request", "js.stripe.com")["seen"]  # the first listing's items are kept


# -- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("mutate, where", [
    (lambda p: p[0]["states"].update(after_maybe=state()), "pages[0].states.after_maybe"),
    (lambda p: p[0]["states"]["before_consent"]["cookies"][0].pop("name"),
     "pages[0].states.before_consent.cookies[0]"),
    (lambda p: p[0]["states"]["before_consent"]["cookies"][0].update(expires="soon"),
     "cookies[0]: expires"),
    (lambda p: p[0]["states"]["before_consent"]["storage"][0].update(area="cookie"),
     "storage[0]: area"),
    (lambda p: p[0]["states"]["before_consent"]["requests"][1].update(resource="video"),
     "requests[1]: resource"),
    (lambda p: p[1].pop("url"), "pages[1]: url"),
    (lambda p: p[1].update(states=[]), "pages[1]: states"),
])
def test_malformed_observations_are_refused_naming_where(mutate, where):
    pages = fixture_pages()
    mutate(pages)
    with pytest.raises(ObservationError, match=None) as e:
        build(pages)
    assert where in str(e.value)


def test_bad_rules_and_origins_are_refused():
    with pytest.raises(RuleError, match=r"rules\[0\]"):
        build(rules=[{"kind": "cookie", "pattern": "*", "category": "necessary"}])
    with pytest.raises(ObservationError, match="origin"):
        build(origins=["not an origin"])
