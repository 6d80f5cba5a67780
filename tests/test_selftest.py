"""The scan's self-test (sidecar/selftest.py, issue 14 "Nothing breaks"): console entries read
as the page's own errors, and the comparison of after Reject all against after Accept all
that the report's `self_test` section is built from (sidecar/scan_report.py)."""

from __future__ import annotations

import pytest

from sidecar import selftest
from sidecar.scan_report import ObservationError, build_report

SITE = "http://site.test"
TRACKER = "http://cdn.tracker.test/lib/checkout-kit.js"


def sig(errors=(), landmarks=(), held=(), counts=None, truncated=False) -> dict:
    lms = [dict(zip(("tag", "id", "label"), lm, strict=True)) for lm in landmarks]
    if counts is None:
        counts = {}
        for lm in lms:
            counts[lm["tag"]] = counts.get(lm["tag"], 0) + 1
    return {"errors": [{"message": m, "source": s, "line": 1} for m, s in errors],
            "landmarks": lms, "counts": counts,
            "held": [dict(zip(("tag", "url", "service", "category"), h, strict=True))
                     for h in held],
            "truncated": truncated}


BASE = [("form", "search", "Search"), ("button", None, "Go"), ("a", "top", "Back to top")]
HELD = [("script", TRACKER, "Checkout Kit", "marketing"),
        ("script", None, "Checkout Kit", "marketing")]


# ---- console entries -----------------------------------------------------------------------

def test_console_errors_keep_uncaught_exceptions_and_console_error_not_failed_loads():
    entries = [
        {"level": "SEVERE", "source": "javascript",
         "message": f"{SITE}/shop/ 41:9 Uncaught ReferenceError: CheckoutKit is not defined"},
        {"level": "SEVERE", "source": "console-api",
         "message": f'{SITE}/shop/ 12:17 "payment form could not start"'},
        {"level": "SEVERE", "source": "network",
         "message": f"{TRACKER} - Failed to load resource: net::ERR_TUNNEL_CONNECTION_FAILED"},
        {"level": "WARNING", "source": "console-api", "message": f'{SITE}/ 1:1 "just a warning"'},
        {"level": "SEVERE", "source": "javascript", "message": "Uncaught Error: no location"},
    ]
    assert selftest.console_errors(entries) == [
        {"message": "Uncaught ReferenceError: CheckoutKit is not defined",
         "source": f"{SITE}/shop/", "line": 41},
        {"message": "payment form could not start", "source": f"{SITE}/shop/", "line": 12},
        {"message": "Uncaught Error: no location", "source": None, "line": None},
    ]


def test_console_errors_are_capped_and_cut():
    many = [{"level": "SEVERE", "source": "javascript", "message": "x" * 1000}] * 80
    out = selftest.console_errors(many)
    assert len(out) == selftest.MAX_ERRORS and len(out[0]["message"]) == selftest.MAX_TEXT


# ---- the comparison ------------------------------------------------------------------------

def test_a_page_that_works_the_same_in_both_states_reports_nothing():
    errors = [("Uncaught TypeError: x is null", f"{SITE}/")]  # in both: not blocking's doing
    same = sig(errors=errors, landmarks=BASE)
    r = selftest.compare({**same, "held": sig(held=HELD)["held"]}, same)
    assert r["checked"] is True
    assert (r["errors"], r["missing"], r["fewer"]) == ([], [], {})


def test_an_error_only_after_reject_names_the_held_script_it_mentions():
    reject = sig(errors=[("Uncaught ReferenceError: CheckoutKit is not defined", f"{SITE}/shop/"),
                         ("Uncaught TypeError: x is null", f"{SITE}/")],
                 landmarks=BASE, held=HELD + [("iframe", "https://video.test/embed/1",
                                                "Video", "marketing")])
    accept = sig(errors=[("Uncaught TypeError: x is null", f"{SITE}/")], landmarks=BASE)
    r = selftest.compare(reject, accept)
    (err,) = r["errors"]
    assert err["message"] == "Uncaught ReferenceError: CheckoutKit is not defined"
    assert err["source"] == f"{SITE}/shop/" and err["line"] == 1
    assert err["cause"] == {"service": "Checkout Kit", "host": "cdn.tracker.test",
                            "category": "marketing", "basis": "named"}
    assert err["candidates"] == []


def test_an_error_raised_in_a_held_hosts_script_is_put_on_that_host():
    held = HELD + [("script", "https://other.test/a.js", "Other", "statistics")]
    reject = sig(errors=[("Uncaught TypeError: boom", "http://cdn.tracker.test/lib/x.js")],
                 held=held)
    r = selftest.compare(reject, sig())
    assert r["errors"][0]["cause"]["host"] == "cdn.tracker.test"
    assert r["errors"][0]["cause"]["basis"] == "source"


def test_an_inline_scripts_error_is_not_put_on_a_held_script_of_the_sites_own_host():
    held = [("script", f"{SITE}/wp-content/plugins/kit/kit.js", "Kit", "marketing"),
            ("script", TRACKER, "Checkout Kit", "marketing")]
    reject = sig(errors=[("Uncaught ReferenceError: CheckoutKit is not defined", f"{SITE}/shop/")],
                 held=held)
    r = selftest.compare(reject, sig(), f"{SITE}/shop/")
    assert r["errors"][0]["cause"]["service"] == "Checkout Kit", r["errors"]
    assert r["errors"][0]["cause"]["basis"] == "named"
    # raised in the site's own held script (its very URL): that one
    reject = sig(errors=[("Uncaught TypeError: boom", f"{SITE}/wp-content/plugins/kit/kit.js")],
                 held=held)
    r = selftest.compare(reject, sig(), f"{SITE}/shop/")
    assert r["errors"][0]["cause"]["service"] == "Kit"
    assert r["errors"][0]["cause"]["basis"] == "source"


def test_an_element_missing_after_reject_is_listed_with_the_only_held_item():
    accept = sig(landmarks=BASE + [("form", "payment-form", "Pay now"),
                                   ("button", None, "Pay 20 €")])
    reject = sig(landmarks=BASE, held=HELD)
    r = selftest.compare(reject, accept)
    assert [(m["tag"], m["id"], m["label"], m["count"]) for m in r["missing"]] == [
        ("button", None, "Pay 20 €", 1), ("form", "payment-form", "Pay now", 1)]
    for m in r["missing"]:
        assert m["cause"] == {"service": "Checkout Kit", "host": "cdn.tracker.test",
                              "category": "marketing", "basis": "only_held"}
    assert r["fewer"] == {"button": {"after_accept": 2, "after_reject": 1},
                          "form": {"after_accept": 2, "after_reject": 1}}


def test_with_several_held_items_and_no_evidence_the_candidates_are_listed():
    held = HELD + [("iframe", "https://video.test/embed/1", "Video", "marketing")]
    r = selftest.compare(sig(held=held), sig(landmarks=[("div", "widget-area", "Hello")]))
    (m,) = r["missing"]
    assert m["cause"] is None
    assert [c["service"] for c in m["candidates"]] == ["Checkout Kit", "Video"]


def test_a_missing_element_is_put_on_the_held_item_the_pages_errors_blame():
    held = HELD + [("iframe", "https://video.test/embed/1", "Video", "marketing")]
    reject = sig(errors=[("Uncaught ReferenceError: CheckoutKit is not defined", f"{SITE}/")],
                 held=held)
    r = selftest.compare(reject, sig(landmarks=[("form", "pay", "Pay")]), f"{SITE}/")
    assert r["missing"][0]["cause"] == {"service": "Checkout Kit", "host": "cdn.tracker.test",
                                        "category": "marketing", "basis": "page_error"}


def test_an_element_that_names_a_held_service_is_put_on_it():
    held = HELD + [("iframe", "https://video.test/embed/1", "Video", "marketing")]
    r = selftest.compare(sig(held=held),
                         sig(landmarks=[("div", "checkout-kit-mount", "Card number")]))
    assert r["missing"][0]["cause"]["service"] == "Checkout Kit"
    assert r["missing"][0]["cause"]["basis"] == "named"


def test_ids_made_per_page_view_and_moved_elements_are_not_missing():
    accept = sig(landmarks=[("div", "block-8812731", "Latest posts"), ("button", None, "Go")])
    reject = sig(landmarks=[("div", "block-1029384", "Latest posts"), ("button", None, "Go")])
    r = selftest.compare(reject, accept)
    assert r["missing"] == [] and r["fewer"] == {}


def test_a_state_without_its_signature_is_not_checked():
    r = selftest.compare(None, sig())
    assert r["checked"] is False and r["reason"]


# ---- in the report -------------------------------------------------------------------------

def page(url, reject, accept, reject_error=None):
    return {"url": url, "states": {
        "before_consent": {"cookies": [], "storage": [], "requests": [], "error": None},
        "after_reject": {"cookies": [], "storage": [], "requests": [], "error": reject_error,
                         "selftest": reject},
        "after_accept": {"cookies": [], "storage": [], "requests": [], "error": None,
                         "selftest": accept}}}


SCAN = {"id": "s1", "status": "done", "started_at": "2026-01-01T00:00:00Z",
        "finished_at": "2026-01-01T00:01:00Z", "progress": {"done": 3, "total": 3}}


def test_the_report_lists_only_the_pages_blocking_broke():
    pages = [
        page(f"{SITE}/shop/", sig(errors=[("Uncaught ReferenceError: CheckoutKit is not defined",
                                            f"{SITE}/shop/")], landmarks=BASE, held=HELD),
             sig(landmarks=BASE + [("form", "payment-form", "Pay now")])),
        page(f"{SITE}/", sig(landmarks=BASE, held=HELD), sig(landmarks=BASE)),
        page(f"{SITE}/old/", None, sig(landmarks=BASE)),  # observed before the self-test
        page(f"{SITE}/err/", sig(), sig(landmarks=BASE), reject_error="did not load"),
    ]
    r = build_report(SCAN, pages, site_origins=[SITE])
    st = r["self_test"]
    assert st["pages_checked"] == 2
    assert st["not_checked"] == [f"{SITE}/err/", f"{SITE}/old/"]
    (broken,) = st["broken"]
    assert broken["page"] == f"{SITE}/shop/"
    assert [e["cause"]["service"] for e in broken["errors"]] == ["Checkout Kit"]
    assert [(m["tag"], m["id"]) for m in broken["missing"]] == [("form", "payment-form")]
    assert r["summary"]["broken_pages"] == 1
    # the same observations in another order: the same report
    again = build_report(SCAN, list(reversed(pages)), site_origins=[SITE])
    assert again["report_hash"] == r["report_hash"]


def test_a_report_of_observations_without_the_self_test_still_builds():
    pages = [page(f"{SITE}/", None, None)]
    for state in pages[0]["states"].values():
        state.pop("selftest", None)
    r = build_report(SCAN, pages, site_origins=[SITE])
    assert r["self_test"] == {"pages_checked": 0, "not_checked": [f"{SITE}/"], "broken": []}


@pytest.mark.parametrize("bad, where", [
    ([], "must be an object"),
    ({"errors": "x"}, "selftest.errors: must be a list"),
    ({"errors": [{"message": 3}]}, "errors[0]"),
    ({"landmarks": [{"id": "x"}]}, "landmarks[0]"),
    ({"counts": {"form": "2"}}, "counts.form"),
])
def test_a_malformed_signature_is_refused_with_where(bad, where):
    with pytest.raises(ObservationError, match=r"after_reject.*" + where.replace("[", r"\[")
                       .replace("]", r"\]")):
        build_report(SCAN, [page(f"{SITE}/", bad, sig())], site_origins=[SITE])
