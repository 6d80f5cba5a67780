"""The sidecar's HTTP API against a real MariaDB (docs/api.md §2 and §4)."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from helpers import (
    SITE,
    TEST_KEYS,
    TEST_TOKENS,
    admin_headers,
    consent_payload,
    make_token,
    post_chunked,
)

from sidecar import codec
from sidecar.signing import load_receipt


def post(client, payload=None, token=None, **kw):
    return client.post("/v1/consents", json={"token": token or make_token(payload)}, **kw)


def count(sql):
    return sql("SELECT COUNT(*) AS n FROM t_sp_consents")[0]["n"]


def test_ingest_stores_record_and_returns_verifiable_receipt(client, sql):
    p = consent_payload()
    r = post(client, p)
    assert r.status_code == 201
    body = r.get_json()
    rec = client.get(f"/v1/consents/{body['id']}", headers=admin_headers()).get_json()
    for field in ("event_id", "subject_id", "action", "method", "categories", "page_url",
                  "policy_version", "banner_version", "language", "signals", "ip",
                  "user_agent", "wp_user_id"):
        assert rec[field] == p[field], field
    assert rec["occurred_at"].startswith(p["occurred_at"][:19])
    assert rec["screenshot"] == {"status": "pending", "url": None, "thumb_url": None,
                                 "error": None, "reason": "awaiting_seal", "taken_at": None,
                                 "reused": None, "shared": None, "shows": None}
    assert len(rec["hash"]) == 64
    receipt = load_receipt(body["receipt"], TEST_KEYS)
    assert receipt["id"] == body["id"] and receipt["event_id"] == p["event_id"]
    assert receipt["hash"] == rec["hash"] and receipt["categories"] == p["categories"]
    # ingest only inserted the consent, naming its render; sealing queues the render job
    assert sql("SELECT COUNT(*) AS n FROM t_sp_render_jobs")[0]["n"] == 0
    assert sql("SELECT render_key IS NOT NULL AS k FROM t_sp_consents") == [{"k": 1}]
    assert client.get("/v1/integrity", headers=admin_headers()).status_code == 200
    jobs = sql("SELECT page_url, status, consents FROM t_sp_render_jobs")
    assert jobs == [{"page_url": p["page_url"], "status": "queued", "consents": 1}]


def test_same_event_twice_is_one_record(client, sql):
    p = consent_payload()
    first = post(client, p)
    again = post(client, p)  # a fresh token for the same event (plugin retry)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["id"] == again.get_json()["id"]
    assert count(sql) == 1


def test_older_key_still_verifies(client):
    assert post(client, token=make_token(consent_payload(), keys=TEST_KEYS[:1])).status_code == 201


@pytest.mark.parametrize("token,code", [
    (make_token(consent_payload(), keys=["someone-elses-key"]), "invalid_signature"),
    (make_token(consent_payload())[:-3] + "abc", "invalid_signature"),
    ("not.a.token", "invalid_signature"),
    (make_token(consent_payload(), age=301), "expired_token"),
])
def test_bad_tokens_are_401(client, sql, token, code):
    r = post(client, token=token)
    assert r.status_code == 401
    assert r.get_json()["error"]["code"] == code
    assert count(sql) == 0


def test_tampered_payload_is_401(client, sql):
    p = consent_payload()
    _, timestamp, signature = make_token(p).rsplit(".", 2)
    p["categories"]["marketing"] = False  # the visitor's choice, altered in transit
    forged = base64.urlsafe_b64encode(json.dumps(p).encode()).decode().rstrip("=")
    r = post(client, token=f"{forged}.{timestamp}.{signature}")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "invalid_signature"
    assert count(sql) == 0


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'"token"', b'{"token": 5}', b"{}"])
def test_malformed_bodies_are_422(client, sql, body):
    r = client.post("/v1/consents", data=body, content_type="application/json")
    assert r.status_code == 422
    assert r.get_json()["error"]["code"] in ("invalid_json", "invalid_payload")
    assert count(sql) == 0


@pytest.mark.parametrize("field,value", [
    ("event_id", "not-a-uuid"),
    ("event_id", 12),
    ("subject_id", "3f1c9a4e-8b7d-1c2a-9e5f-1a2b3c4d5e6f"),  # UUIDv1, not v4
    ("action", "maybe"),
    ("method", "shrug"),
    ("categories", {"necessary": True}),
    ("categories", {"necessary": False, "preferences": False, "statistics": False,
                    "marketing": False}),
    ("categories", {"necessary": True, "preferences": "yes", "statistics": False,
                    "marketing": False}),
    ("page_url", "javascript:alert(1)"),
    ("page_url", "/relative/path"),
    ("page_url", "http://x/" + "a" * 2048),
    ("policy_version", ""),
    ("policy_version", 3),
    ("language", "english please"),
    ("signals", {"gpc": "no", "dnt": False}),
    ("ip", "999.1.1.1"),
    ("wp_user_id", "0"),
    ("wp_user_id", -1),
    ("wp_user_id", True),
    ("occurred_at", "yesterday"),
    ("occurred_at", "2026-11-29 10:00:00"),
    ("user_agent", None),
])
def test_wrong_fields_are_422_naming_the_field(client, sql, field, value):
    r = post(client, consent_payload(**{field: value}))
    assert r.status_code == 422, r.get_json()
    err = r.get_json()["error"]
    assert err["code"] == "invalid_payload" and err["field"] == field
    assert field in err["message"]
    assert count(sql) == 0


def test_missing_and_unknown_fields_are_422(client, sql):
    p = consent_payload()
    del p["language"]
    assert post(client, p).get_json()["error"]["field"] == "language"
    r = post(client, consent_payload(extra="x"))
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "extra"
    assert count(sql) == 0


def test_withdraw_may_not_grant_categories(client):
    r = post(client, consent_payload(action="withdraw", method="withdraw"))
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "categories"


def test_oversized_body_is_413(client, sql):
    r = client.post("/v1/consents", data=b'{"token": "' + b"a" * 20000 + b'"}',
                    content_type="application/json")
    assert r.status_code == 413
    assert r.get_json()["error"]["code"] == "payload_too_large"
    assert count(sql) == 0


def test_page_off_site_origins_is_stored_but_never_shot(client, sql):
    r = post(client, consent_payload(page_url="http://169.254.169.254/latest/meta-data/"))
    assert r.status_code == 201
    rec = client.get(f"/v1/consents/{r.get_json()['id']}", headers=admin_headers()).get_json()
    assert rec["screenshot"]["status"] == "skipped"
    assert client.get("/v1/integrity", headers=admin_headers()).status_code == 200
    assert sql("SELECT COUNT(*) AS n FROM t_sp_render_jobs")[0]["n"] == 0
    assert sql("SELECT render_key FROM t_sp_consents") == [{"render_key": None}]


NO_SUCH = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize("path", ["/v1/consents", f"/v1/consents/{NO_SUCH}",
                                  f"/v1/consents/{NO_SUCH}/screenshot"])
def test_admin_api_needs_a_valid_bearer_token(client, path):
    r = client.get(path)
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    r = client.get(path, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    r = client.get(path, headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert r.status_code == 401
    # every configured token works (rotation)
    for token in TEST_TOKENS:
        assert client.get(path, headers=admin_headers(token)).status_code in (200, 404)


def test_unknown_record_is_404(client):
    for rid in ("00000000-0000-4000-8000-000000000000", "nope"):
        r = client.get(f"/v1/consents/{rid}", headers=admin_headers())
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


def test_screenshot_is_404_until_taken(client):
    rid = post(client, consent_payload()).get_json()["id"]
    r = client.get(f"/v1/consents/{rid}/screenshot", headers=admin_headers())
    assert r.status_code == 404
    assert r.get_json()["error"]["code"] == "screenshot_not_available"


def test_list_newest_first_with_filters_and_cursor(client):
    subject = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
    ids = [post(client, consent_payload(subject_id=subject, method=m)).get_json()["id"]
           for m in ("accept_all", "reject_all", "custom")]
    post(client, consent_payload())  # someone else
    h = admin_headers()
    page1 = client.get(f"/v1/consents?subject_id={subject}&limit=2", headers=h).get_json()
    assert [i["id"] for i in page1["items"]] == ids[::-1][:2]
    page2 = client.get(f"/v1/consents?subject_id={subject}&limit=2&cursor={page1['next_cursor']}",
                       headers=h).get_json()
    assert [i["id"] for i in page2["items"]] == ids[:1] and page2["next_cursor"] is None
    only = client.get("/v1/consents?method=reject_all", headers=h).get_json()["items"]
    assert [i["id"] for i in only] == [ids[1]]
    assert len(client.get(f"/v1/consents?page_url={SITE}/about/", headers=h)
               .get_json()["items"]) == 4


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=x", "cursor=%%%",
                                   "subject_id=abc", "country=Sweden", "method=nope",
                                   "from=yesterday"])
def test_bad_list_parameters_are_400(client, query):
    r = client.get(f"/v1/consents?{query}", headers=admin_headers())
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_parameter"


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.get_json()["status"] == "ready"


def test_readyz_fails_without_database(test_db):
    from sidecar import create_app
    app = create_app({"SP_DATABASE_URL": "mysql://nobody:x@127.0.0.1:1/none",
                      "SP_SECRET_KEYS": TEST_KEYS[0], "SP_ADMIN_TOKENS": TEST_TOKENS[0],
                      "SP_SITE_ORIGINS": SITE,
                      "SP_AUTO_MIGRATE": "0"})
    r = app.test_client().get("/readyz")
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "database_unavailable"
    # Public: it names no database host, port or user.
    assert "127.0.0.1" not in r.get_data(as_text=True) and "nobody" not in r.get_data(as_text=True)


def test_unknown_route_is_json_404(client):
    r = client.get("/nowhere")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("group_commit", ["off", "on"])
def test_concurrent_ingest_keeps_duplicates_apart(make_app, sql, group_commit):
    """Concurrent requests, some repeating an event_id at the same moment: one record per
    event (the repeats answer 200 with its id), and every 201 left its row and its job —
    each request on its own transaction, or sharing commits through the group committer."""
    import threading
    app = make_app(SP_GROUP_COMMIT=group_commit)
    assert ("sp_committer" in app.extensions) == (group_commit == "on")
    payloads = [consent_payload() for _ in range(24)]
    dup = payloads[5]
    results = []
    lock = threading.Lock()

    def send(p):
        r = app.test_client().post("/v1/consents", json={"token": make_token(p)})
        with lock:
            results.append((p["event_id"], r.status_code, r.get_json()["id"]))

    threads = [threading.Thread(target=send, args=(p,)) for p in payloads + [dup, dup]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(code for _, code, _ in results) == [200] * 2 + [201] * 24
    assert len({rid for ev, _, rid in results if ev == dup["event_id"]}) == 1
    rows = sql("SELECT id, event_id FROM t_sp_consents")
    assert len(rows) == 24
    assert {codec.uuid_from_db(r["id"]) for r in rows} == \
        {rid for _, code, rid in results if code == 201}
    # one render job per render key, not per consent: together they cover all 24
    app.test_client().get("/v1/integrity", headers=admin_headers())
    keys = sql("SELECT COUNT(DISTINCT render_key) AS n FROM t_sp_consents")[0]["n"]
    jobs = sql("SELECT COUNT(*) AS n, SUM(consents) AS c FROM t_sp_render_jobs")[0]
    assert (jobs["n"], int(jobs["c"])) == (keys, 24)


@pytest.mark.parametrize("group_commit", ["off", "on"])
def test_ingest_without_database_is_503_and_retryable(group_commit):
    """The plugin retries 5xx from its outbox: a database outage must not look like a 500 bug."""
    from sidecar import create_app
    app = create_app({"SP_DATABASE_URL": "mysql://nobody:x@127.0.0.1:1/none",
                      "SP_SECRET_KEYS": ",".join(TEST_KEYS), "SP_ADMIN_TOKENS": TEST_TOKENS[0],
                      "SP_SITE_ORIGINS": SITE, "SP_AUTO_MIGRATE": "0",
                      "SP_GROUP_COMMIT": group_commit})
    r = app.test_client().post("/v1/consents", json={"token": make_token(consent_payload())})
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    assert r.get_json()["error"]["code"] == "database_unavailable"


def test_a_group_commit_batch_with_a_repeated_event_fails_alone(make_app, sql):
    """One batch holding a repeated event_id: the batch's single transaction fails, so each
    consent is written alone; only the repeat carries the duplicate-key error."""
    import pymysql

    from sidecar.commit import Pending
    app = make_app(SP_GROUP_COMMIT="on")
    committer = app.extensions["sp_committer"]
    assert post(app.test_client(), consent_payload()).status_code == 201  # committer running
    seen = count(sql)

    def item(event_id):
        p = consent_payload(event_id=event_id)
        values = (uuid.uuid4().bytes, codec.uuid_to_db(p["event_id"]),
                  codec.uuid_to_db(p["subject_id"]), "grant", "accept_all",
                  codec.categories_to_db(p["categories"]), p["page_url"], None, "1", "b", "en",
                  0, None, "", "", "", None, 0, "2026-01-01 00:00:00", "2026-01-01 00:00:00",
                  "skipped", None, bytes(32), bytes(32), bytes(16), None, None)
        return Pending(values)

    first = str(uuid.uuid4())
    batch = [item(first), item(str(uuid.uuid4())), item(first), item(str(uuid.uuid4()))]
    committer.commit(batch)
    assert all(i.done.is_set() for i in batch)
    assert [type(i.error) for i in batch] == [type(None), type(None),
                                              pymysql.err.IntegrityError, type(None)]
    assert batch[2].error.args[0] == 1062
    assert count(sql) == seen + 3


def test_a_group_commit_batch_fails_at_once_when_the_database_is_down(monkeypatch):
    """No per-row retries against a database that is not there: one connection attempt, and
    every request of the batch gets the outage (503 for the client, who retries)."""
    import pymysql

    from sidecar import commit
    attempts = []
    real_connect = commit.connect

    def connect(args):
        attempts.append(args["port"])
        return real_connect(args)

    monkeypatch.setattr(commit, "connect", connect)
    committer = commit.GroupCommitter("mysql://nobody:x@127.0.0.1:1/none", "t_")
    batch = [commit.Pending((str(uuid.uuid4()),)) for _ in range(5)]
    committer.commit(batch)
    assert attempts == [1]
    assert all(isinstance(i.error, pymysql.err.OperationalError) and i.done.is_set()
               for i in batch)


def test_a_body_of_unknown_length_goes_through_the_flask_view(app, sql):
    """The fast path serves bodies whose length is given; a chunked one (no Content-Length,
    as gunicorn hands it on) is read and limited by Flask, whose view stores it the same way."""
    body = json.dumps({"token": make_token(consent_payload())}).encode()
    status, answer = post_chunked(app, body)
    assert status == 201 and answer["id"], answer
    assert count(sql) == 1
    status, answer = post_chunked(app, b'{"token": "' + b"a" * 20000 + b'"}')
    assert status == 413 and answer["error"]["code"] == "payload_too_large"
    assert count(sql) == 1
