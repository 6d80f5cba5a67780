"""GET /v1/status: what the plugin's Test connection checks (issue 12) — the site origins
this sidecar renders and whether a screenshot worker is alive, from the workers' heartbeats
in the real MariaDB."""

from __future__ import annotations

from fake_worker import run_worker
from helpers import SITE, admin_headers


def status(client) -> dict:
    r = client.get("/v1/status", headers=admin_headers())
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_status_says_no_worker_until_one_has_run_and_again_once_it_is_silent(make_app, sql):
    app = make_app()
    c = app.test_client()
    before = status(c)
    assert before["site_origins"] == [SITE]
    assert (before["worker_alive"], before["workers"]) == (False, [])
    run_worker(app)
    (w,) = status(c)["workers"]
    assert w["alive"] and w["seen_seconds_ago"] < 30 and ":" in w["name"]
    assert status(c)["worker_alive"] is True
    sql("UPDATE t_sp_workers SET seen_at = seen_at - INTERVAL 2 MINUTE")
    after = status(c)
    assert after["worker_alive"] is False and after["workers"][0]["alive"] is False


def test_status_needs_an_admin_token(client):
    assert client.get("/v1/status").status_code == 401
    assert client.get("/v1/status", headers={"Authorization": "Bearer nope"}).status_code \
        == 403


def test_purge_applies_a_retention_in_bounded_steps(make_app, sql, monkeypatch):
    from helpers import consent_payload, make_token

    from sidecar import admin
    app = make_app()
    c = app.test_client()
    ids = []
    for _ in range(3):
        r = c.post("/v1/consents", json={"token": make_token(consent_payload())})
        ids.append(r.get_json()["id"])
    from sidecar import codec
    sql("UPDATE t_sp_consents SET received_at = received_at - INTERVAL 40 DAY WHERE id IN"
        " (%s, %s)", (codec.uuid_to_db(ids[0]), codec.uuid_to_db(ids[1])))
    monkeypatch.setattr(admin, "PURGE_LIMIT", 1)
    first = c.post("/v1/purge", json={"days": 30}, headers=admin_headers()).get_json()
    assert (first["erased"], first["more"]) == (1, True)
    second = c.post("/v1/purge", json={"days": 30}, headers=admin_headers()).get_json()
    assert (second["erased"], second["more"]) == (1, False)
    assert [c.get(f"/v1/consents/{i}", headers=admin_headers()).status_code for i in ids] \
        == [410, 410, 200]  # tombstones; the recent record stays
    for bad in ({}, {"days": 0}, {"days": "30"}, {"days": True}, {"days": 36501}):
        r = c.post("/v1/purge", json=bad, headers=admin_headers())
        assert r.status_code == 422 and r.get_json()["error"]["field"] == "days", bad
