"""Evidence that says exactly what it is (issue 12, finding 7 and 8): a record's screenshot
object says when its picture was rendered, whether that render predates it or is known to be
shared with other consents, what state of the banner it shows, and why there is no picture
(and whether one is still coming) — against the real MariaDB, with the worker's database
side for real and a fixed picture for its browser (tests/fake_worker.py)."""

from __future__ import annotations

import json
from datetime import datetime

import jsonschema_rs
from fake_worker import run_worker
from helpers import SITE, admin_headers, consent_payload, make_token

from sidecar import codec, db, jobs
from sidecar.openapi import SPEC
from sidecar.screenshots import RefusedPage, RenderError

GONE = ("taken_at", "reused", "shared", "shows")


def ingest(client, **overrides) -> str:
    r = client.post("/v1/consents", json={"token": make_token(consent_payload(**overrides))})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def record(client, rid) -> dict:
    r = client.get(f"/v1/consents/{rid}", headers=admin_headers())
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def shot(client, rid) -> dict:
    return record(client, rid)["screenshot"]


def when(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")


def seal_only(app) -> None:
    """Seal what is pending (writing its render jobs) without working the queue."""
    conn = db.connect(app.config["SP_DATABASE_URL"])
    try:
        jobs.seal(conn, app.config)
    finally:
        conn.close()


def assert_no_picture(s: dict, status: str, reason: str, error: str | None) -> None:
    assert (s["status"], s["reason"], s["error"], s["url"]) == (status, reason, error, None), s
    assert all(s[k] is None for k in GONE), s  # nothing claimed about a picture there is not


def test_a_render_made_for_one_consent_is_not_reused_and_says_what_it_shows(
        make_app):
    app = make_app()
    c = app.test_client()
    rid = ingest(c)
    run_worker(app)
    rec = record(c, rid)
    s = rec["screenshot"]
    assert s["status"] == "done" and s["reason"] is None and s["error"] is None
    assert when(s["taken_at"]) >= when(rec["received_at"])  # rendered after it was received
    assert (s["reused"], s["shared"]) == (False, False)
    assert s["shows"] == "first_layer_anonymous"


def test_a_render_shared_by_the_consents_of_one_seal_is_reused_for_each(make_app):
    app = make_app()
    c = app.test_client()
    rids = [ingest(c, page_url=SITE + f"/offer/?utm_source=n{i}") for i in range(3)]
    assert len(run_worker(app).loaded) == 1
    shots = [shot(c, rid) for rid in rids]
    assert {(s["reused"], s["shared"]) for s in shots} == {(True, True)}
    assert len({s["taken_at"] for s in shots}) == 1


def test_an_older_render_reused_for_a_later_consent_predates_it_and_says_so(make_app, sql):
    app = make_app()
    c = app.test_client()
    first = ingest(c)
    run_worker(app)
    later = ingest(c)
    assert run_worker(app).loaded == []  # the seal linked the fresh render
    rec = record(c, later)
    s = rec["screenshot"]
    assert when(s["taken_at"]) < when(rec["received_at"])
    assert (s["reused"], s["shared"], s["reason"]) == (True, True, None)
    assert s["taken_at"] == shot(c, first)["taken_at"]

    # Once that render is out of its window, a new consent gets a render of its own, and no
    # earlier job of the key is mistaken for sharing it.
    sql("UPDATE t_sp_renders SET created_at = created_at - INTERVAL 2 DAY")
    newest = ingest(c)
    assert run_worker(app).loaded == [SITE + "/about/"]
    assert (shot(c, newest)["reused"], shot(c, newest)["shared"]) == (False, False)
    assert shot(c, later)["shared"] is True


def test_an_old_row_linking_its_render_directly_is_shared_when_another_row_links_it(
        make_app, sql):
    """Rows stored before migration 006 name their render in `render_id`, without a job."""
    app = make_app()
    c = app.test_client()
    a, b = ingest(c), ingest(c, page_url=SITE + "/other/")
    run_worker(app)
    (render,) = sql("SELECT id FROM t_sp_renders WHERE page_url = %s", (SITE + "/about/",))
    sql("UPDATE t_sp_consents SET render_key = NULL, render_id = %s, screenshot_status ="
        " 'done' WHERE id = %s", (render["id"], codec.uuid_to_db(a)))
    assert (shot(c, a)["status"], shot(c, a)["shared"]) == ("done", False)
    sql("UPDATE t_sp_consents SET render_key = NULL, render_id = %s, screenshot_status ="
        " 'done' WHERE id = %s", (render["id"], codec.uuid_to_db(b)))
    assert shot(c, a)["shared"] is True and shot(c, b)["reused"] is True


def test_a_page_not_on_site_origins_is_skipped_with_the_exact_reason(make_app):
    app = make_app()
    c = app.test_client()
    rid = ingest(c, page_url="https://elsewhere.example/about/")
    run_worker(app)
    assert_no_picture(shot(c, rid), "skipped", "not_on_site_origins",
                      "page_url is not on SP_SITE_ORIGINS")
    mail = ingest(c, page_url=SITE + "/unsubscribe/ann@example.com/")
    run_worker(app)
    assert_no_picture(shot(c, mail), "skipped", "email_in_path",
                      "page_url holds an e-mail address in its path; not rendered")


def test_a_failed_render_says_why(make_app):
    app = make_app()
    c = app.test_client()
    rid = ingest(c)
    run_worker(app, failure=RefusedPage("blocked request to http://tracker.test/x.js"))
    assert_no_picture(shot(c, rid), "failed", "render_failed",
                      "blocked request to http://tracker.test/x.js")


def test_pending_only_while_a_render_is_coming_and_it_says_what_it_waits_for(make_app, sql):
    app = make_app(SP_SCREENSHOT_BACKOFF="3600")
    c = app.test_client()
    rid = ingest(c)
    assert_no_picture(shot(c, rid), "pending", "awaiting_seal", None)  # not sealed yet
    seal_only(app)
    assert record(c, rid)["chain"] is not None
    assert_no_picture(shot(c, rid), "pending", "awaiting_render", None)  # job queued
    run_worker(app, failure=RenderError("the page did not load within 20 s"))
    # A retry is due (in an hour here): still coming, with the last attempt's reason.
    assert_no_picture(shot(c, rid), "pending", "retrying", "the page did not load within 20 s")
    assert sql("SELECT status, attempts FROM t_sp_render_jobs") == [
        {"status": "queued", "attempts": 1}]


def test_a_sealed_record_with_no_render_coming_is_never_pending(make_app, sql):
    """No job for a sealed record, or an old row whose queue entry is gone: nothing will
    render it, so it must not read as pending ("reload in a moment")."""
    app = make_app()
    c = app.test_client()
    orphan = ingest(c)
    seal_only(app)
    sql("DELETE FROM t_sp_render_jobs")
    assert_no_picture(shot(c, orphan), "skipped", "not_queued",
                      "no render was queued for this record")
    old = ingest(c)
    sql("UPDATE t_sp_consents SET render_key = NULL WHERE id = %s", (codec.uuid_to_db(old),))
    assert_no_picture(shot(c, old), "skipped", "not_queued",
                      "no render was queued for this record")


def test_list_and_ndjson_export_carry_the_same_screenshot_object(make_app):
    app = make_app()
    c = app.test_client()
    done = ingest(c)
    run_worker(app)
    skipped = ingest(c, page_url="https://elsewhere.example/")
    items = c.get("/v1/consents", headers=admin_headers()).get_json()["items"]
    listed = {i["id"]: i["screenshot"] for i in items}
    assert listed[done] == shot(c, done) and listed[skipped] == shot(c, skipped)
    r = c.get("/v1/consents/export?format=ndjson", headers=admin_headers())
    exported = {rec["id"]: rec["screenshot"] for rec in map(json.loads, r.text.splitlines())}
    assert exported == listed
    assert listed[done]["shows"] == "first_layer_anonymous"
    assert listed[skipped]["reason"] == "not_on_site_origins"
    # What /openapi.json promises (schemathesis checks the running sidecar against it).
    schema = jsonschema_rs.Draft202012Validator(SPEC["components"]["schemas"]["Record"],
                                                validate_formats=True)
    for item in items:
        errors = [e.message for e in schema.iter_errors(item)]
        assert errors == [], (item["screenshot"], errors)
    assert not schema.is_valid({**items[0], "screenshot": {"status": "done"}})
