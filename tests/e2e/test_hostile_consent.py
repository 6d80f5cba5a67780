"""One hostile request must never stop consent delivery (issue 10, F1/F13/F17), through the
real WordPress route, the real sidecar under gunicorn and the real MariaDB."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

from helpers import records_of, served_versions

AUDIT_URLS = ["http://[x]/", "http://[::1/", "http://a\u2100b/"]


def post(url: str, body: bytes, headers: dict | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "e2e hostile", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def consent(stack, subject: str | None = None, **overrides) -> tuple[dict, tuple[int, dict]]:
    body = {"event_id": str(uuid.uuid4()), "subject_id": subject or str(uuid.uuid4()),
            "action": "grant", "method": "reject_all",
            "categories": {"necessary": True, "preferences": False, "statistics": False,
                           "marketing": False},
            "page_url": stack.wp_url + "/", "language": "en",
            "signals": {"gpc": False, "dnt": False}, **served_versions(stack.wp_url), **overrides}
    answer = post(stack.wp_url + "/?rest_route=/secure-privacy/v1/consent",
                  json.dumps(body).encode(), {"Origin": stack.wp_url})
    return body, answer


def outbox(stack) -> list[dict]:
    return json.loads(stack.wp_eval(
        "global $wpdb; echo wp_json_encode($wpdb->get_results('SELECT event_id, subject_id,"
        " status, last_error FROM ' . secure_privacy_outbox_table() . ' ORDER BY id',"
        " ARRAY_A));"))


def test_the_audits_hostile_page_urls_never_stop_later_consents(full_stack, admin_api):
    stack = full_stack
    stack.wp_eval("global $wpdb; $wpdb->query('DELETE FROM ' . secure_privacy_outbox_table());")
    # The audit's attack: anonymous POSTs to the public route. Refused at the door now.
    for url in AUDIT_URLS:
        _, (status, answer) = consent(stack, page_url=url)
        assert status == 400, answer
        assert "page_url" in json.dumps(answer)
    assert outbox(stack) == []

    # And a row of that kind already in the outbox (queued by a plugin before this rule)
    # leaves the head as failed, with the sidecar's reason, instead of blocking everything.
    poison_subject = str(uuid.uuid4())
    poison = {"event_id": str(uuid.uuid4()), "subject_id": poison_subject, "action": "grant",
              "method": "reject_all", "categories": {"necessary": True, "preferences": False,
                                                     "statistics": False, "marketing": False},
              "page_url": "http://[x]/", "policy_version": "1", "banner_version": "b",
              "language": "en", "signals": {"gpc": False, "dnt": False}, "ip": "203.0.113.5",
              "user_agent": "x", "wp_user_id": 0, "occurred_at": "2026-01-01T00:00:00Z"}
    stack.wp_eval(f"var_export(secure_privacy_outbox_add(json_decode({json.dumps(json.dumps(poison))}"
                  ", true), null));")
    # The sidecar itself, straight: 422 for the URL (it was 500), 422 for 15 KB of "[" (F13).
    status, answer = post(stack.sidecar_url + "/v1/consents", b"[" * 15000)
    assert (status, answer["error"]["code"]) == (422, "invalid_json")

    later = [consent(stack) for _ in range(5)]
    for _body, (status, answer) in later:
        assert status == 202 and answer["delivered"] is True, answer
    body, (status, answer) = consent(stack, subject=poison_subject)  # the same visitor again
    assert status == 202 and answer["delivered"] is True, answer
    stack.run_wp_cron()

    (rec,) = records_of(admin_api, poison_subject, 1)
    assert rec["event_id"] == body["event_id"]
    for other, _ in later:
        assert len(records_of(admin_api, other["subject_id"], 1)) == 1
    (row,) = outbox(stack)
    assert row["event_id"] == poison["event_id"] and row["status"] == "failed"
    assert row["last_error"].startswith("HTTP 422 invalid_payload: page_url"), row


def test_a_replayed_event_id_with_another_choice_is_409_through_wordpress(full_stack,
                                                                          admin_api):
    """F17: it was 202 delivered with the first record's receipt."""
    body, (status, first) = consent(full_stack)
    assert status == 202 and first["delivered"], first
    flipped = dict(body, method="accept_all",
                   categories={"necessary": True, "preferences": True, "statistics": True,
                               "marketing": True})
    status, answer = post(full_stack.wp_url + "/?rest_route=/secure-privacy/v1/consent",
                          json.dumps(flipped).encode(), {"Origin": full_stack.wp_url})
    assert status == 409, answer
    assert answer["code"] == "secure_privacy_event_id_conflict"
    assert answer["data"]["record_id"] == first["record_id"]
    assert "receipt" not in answer
    assert [r["method"] for r in records_of(admin_api, body["subject_id"], 1)] == ["reject_all"]
