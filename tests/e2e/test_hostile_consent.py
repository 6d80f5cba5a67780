"""One hostile request must never stop consent delivery (issue 10, F1/F13/F17), through the
real WordPress route, the real sidecar under gunicorn and the real MariaDB."""

from __future__ import annotations

import json
import uuid

from pages import ALL_OFF, ALL_ON, CONSENT_ROUTE, records_of, route_consent, send

AUDIT_URLS = ["http://[x]/", "http://[::1/", "http://a\u2100b/"]
HEADERS = {"User-Agent": "e2e hostile"}


def post(url: str, body: bytes, headers: dict | None = None) -> tuple[int, dict]:
    """(status, JSON answer) of one POST."""
    return send(url, body, {**HEADERS, **(headers or {})})[:2]


def consent(site, subject: str | None = None, **overrides) -> tuple[dict, tuple[int, dict]]:
    """A reject-all from the site's own page through the public route: the body, the answer."""
    body = route_consent(site.url, subject_id=subject or str(uuid.uuid4()), method="reject_all",
                         categories=dict(ALL_OFF), language="en", **overrides)
    answer = post(site.url + CONSENT_ROUTE, json.dumps(body).encode(), {"Origin": site.url})
    return body, answer


def test_the_audits_hostile_page_urls_never_stop_later_consents(site, admin_api):
    stack = site.stack
    site.clear_outbox()
    # The audit's attack: anonymous POSTs to the public route. Refused at the door now.
    for url in AUDIT_URLS:
        _, (status, answer) = consent(site, page_url=url)
        assert status == 400, answer
        assert "page_url" in json.dumps(answer)
    assert site.outbox() == []

    # And a row of that kind already in the outbox (queued by a plugin before this rule)
    # leaves the head as failed, with the sidecar's reason, instead of blocking everything.
    poison_subject = str(uuid.uuid4())
    poison = {"event_id": str(uuid.uuid4()), "subject_id": poison_subject, "action": "grant",
              "method": "reject_all", "categories": ALL_OFF,
              "page_url": "http://[x]/", "policy_version": "1", "banner_version": "b",
              "language": "en", "signals": {"gpc": False, "dnt": False}, "ip": "203.0.113.5",
              "user_agent": "x", "wp_user_id": 0, "occurred_at": "2026-01-01T00:00:00Z"}
    stack.wp_eval(f"var_export(secure_privacy_outbox_add(json_decode({json.dumps(json.dumps(poison))}"
                  ", true), null));")
    # The sidecar itself, straight: 422 for the URL (it was 500), 422 for 15 KB of "[" (F13).
    status, answer = post(stack.sidecar_url + "/v1/consents", b"[" * 15000)
    assert (status, answer["error"]["code"]) == (422, "invalid_json")

    later = [consent(site) for _ in range(5)]
    for _body, (status, answer) in later:
        assert status == 202 and answer["delivered"] is True, answer
    body, (status, answer) = consent(site, subject=poison_subject)  # the same visitor again
    assert status == 202 and answer["delivered"] is True, answer
    stack.run_wp_cron()

    (rec,) = records_of(admin_api, poison_subject, 1)
    assert rec["event_id"] == body["event_id"]
    for other, _ in later:
        assert len(records_of(admin_api, other["subject_id"], 1)) == 1
    (row,) = site.outbox()
    assert row["event_id"] == poison["event_id"] and row["status"] == "failed"
    assert row["last_error"].startswith("HTTP 422 invalid_payload: page_url"), row


def test_a_replayed_event_id_with_another_choice_is_409_through_wordpress(site, admin_api):
    """F17: it was 202 delivered with the first record's receipt."""
    body, (status, first) = consent(site)
    assert status == 202 and first["delivered"], first
    flipped = dict(body, method="accept_all", categories=ALL_ON)
    status, answer = post(site.url + CONSENT_ROUTE, json.dumps(flipped).encode(),
                          {"Origin": site.url})
    assert status == 409, answer
    assert answer["code"] == "secure_privacy_event_id_conflict"
    assert answer["data"]["record_id"] == first["record_id"]
    assert "receipt" not in answer
    assert [r["method"] for r in records_of(admin_api, body["subject_id"], 1)] == ["reject_all"]
