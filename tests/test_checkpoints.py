"""Incremental verification from keyed checkpoints (issue 11, "Scale"): `GET /v1/integrity`
verifies from the newest checkpoint that carries a valid MAC, re-checks old positions in
rotation, and says exactly what it checked; `sidecar verify` checks everything. Against the
real MariaDB."""

from __future__ import annotations

import hmac

import pytest
from helpers import (
    admin_headers,
    bulk_consents,
    chain,
    consent_payload,
    db_id,
    ingest,
    integrity,
    make_token,
    sidecar_cli,
)

from sidecar import ledger
from sidecar.clock import utcnow


@pytest.fixture(autouse=True)
def _fresh_process_state():
    """The worker's throttle and the log-once memory, as in a new process."""
    ledger._next_checkpoint.clear()
    ledger._logged.clear()
    yield
    ledger._next_checkpoint.clear()
    ledger._logged.clear()


def checkpoints(sql):
    return sql("SELECT * FROM t_sp_checkpoints ORDER BY id")


def seal(client):
    """Seal pending records without verifying (as the worker's sealer does between its
    checkpoints)."""
    from sidecar.db import connect
    conn = connect(client.application.config["SP_DATABASE_URL"])
    try:
        return ledger.seal(conn, client.application.config)
    finally:
        conn.close()


def edit(sql, record_id):
    """Change a sealed record's choice in place (its hash no longer matches)."""
    sql("UPDATE t_sp_consents SET method = 'reject_all' WHERE id = %s", (db_id(record_id),))


def test_integrity_writes_a_keyed_checkpoint_and_goes_on_from_it(client, sql):
    ingest(client, 3)
    first = integrity(client)
    assert first["ok"] and first["verified_from"] == 0 and first["verified_through"] == 3
    assert first["complete"] is True and first["checkpoint"] is None
    (cp,) = checkpoints(sql)
    assert (cp["kind"], cp["pos"], cp["head"], cp["records"]) == ("incremental", 3,
                                                                   first["head"], 3)
    key = client.application.config["LEDGER_KEYS"][-1]
    assert cp["key_id"] == ledger.key_id(key)
    assert hmac.compare_digest(bytes(cp["mac"]), ledger.checkpoint_mac(key, cp))
    ingest(client, 2)
    second = integrity(client)
    assert second["ok"], second["problems"]
    assert second["checkpoint"] == {"id": cp["id"], "pos": 3, "kind": "incremental",
                                    "verified_at": ledger.rfc3339(cp["finished_at"])}
    assert (second["verified_from"], second["verified_through"], second["chain_end"]) == \
        (3, 5, 5)
    assert (second["records"], second["sealed"], second["unsealed"]) == (5, 5, 0)
    assert second["recheck"]["from_pos"] == 0 and second["recheck"]["through_pos"] == 3
    assert any(w.startswith("positions 1 to 3 were verified when checkpoint") for w in
               second["warnings"])
    assert second["key_ids"] == first["key_ids"]


def _forge(sql, row, **changes):
    """Insert a copy of checkpoint `row` with `changes` (an attacker without the key)."""
    forged = {k: v for k, v in row.items() if k != "id"}
    forged.update(changes)
    sql(f"INSERT INTO t_sp_checkpoints ({', '.join(forged)}) VALUES"
        f" ({', '.join(['%s'] * len(forged))})", tuple(forged.values()))
    return sql("SELECT MAX(id) AS id FROM t_sp_checkpoints")[0]["id"]


def test_forged_checkpoint_is_ignored_and_reported(client, sql, test_db):
    ingest(client, 3)
    integrity(client)  # the real checkpoint: position 3
    ids = ingest(client, 2)
    seal(client)
    edit(sql, ids[1])  # position 5, after the real checkpoint
    real = checkpoints(sql)[-1]
    end = chain(sql)[-1]
    # A checkpoint vouching for position 5, with a MAC made without the ledger key.
    fields = {**real, "pos": 5, "head": end["mac"], "records": 5}
    forged = _forge(sql, real, pos=5, head=end["mac"], records=5,
                    mac=ledger.checkpoint_mac(b"guessed-key", fields))
    report = integrity(client)
    assert report["ok"] is False
    assert report["checkpoint"]["id"] == real["id"] and report["verified_from"] == 3
    assert ids[1] in {p["id"] for p in report["problems"]}  # not skipped over
    assert any(p["problem"].startswith(f"checkpoint {forged} (position 5") and
               "was not written by the sidecar" in p["problem"] for p in report["problems"])
    assert report["new_checkpoint"] is None
    result = sidecar_cli(test_db, "off", "verify")  # the full verify reports the row as well
    assert result.returncode == 1
    assert f"TAMPERED ledger: checkpoint {forged} (position 5" in result.stdout


def test_checkpoint_under_a_key_not_configured_is_ignored_with_a_warning(client, sql):
    ingest(client, 3)
    integrity(client)
    ids = ingest(client, 1)
    seal(client)
    edit(sql, ids[0])
    real = checkpoints(sql)[-1]
    other = b"some-other-ledger-key"
    fields = {**real, "pos": 4, "head": chain(sql)[-1]["mac"], "key_id": ledger.key_id(other)}
    _forge(sql, real, pos=4, head=fields["head"], key_id=fields["key_id"],
           mac=ledger.checkpoint_mac(other, fields))
    report = integrity(client)
    assert report["verified_from"] == 3 and report["ok"] is False
    assert [p["id"] for p in report["problems"]] == [ids[0]]
    assert any(f"name ledger key {ledger.key_id(other)}, which is not configured" in w
               for w in report["warnings"])


def test_record_edited_after_the_checkpoint_is_caught_by_integrity(client, sql):
    ingest(client, 3)
    integrity(client)
    ids = ingest(client, 2)
    seal(client)
    edit(sql, ids[0])
    report = integrity(client)
    assert report["verified_from"] == 3 and report["ok"] is False
    assert [(p["id"], p["chain_pos"]) for p in report["problems"]] == [(ids[0], 4)]
    # nothing is vouched for past a problem: no new checkpoint
    assert [c["pos"] for c in checkpoints(sql)] == [3]


def test_record_edited_before_the_checkpoint_is_caught_by_the_rolling_recheck_andsidecar_cli(
        client, sql, test_db, caplog):
    ids = ingest(client, 6)
    integrity(client)  # checkpoint at 6: the record below was verified before the edit
    edit(sql, ids[4])  # position 5
    cfg = client.application.config
    seen = []
    for _ in range(4):  # slices of two positions: 1-2, 3-4, 5-6 (found), 5-6 again
        report = ledger.advance_checkpoint(cfg, recheck=2)
        assert report["verified_from"] == 6  # the incremental pass alone cannot see it
        seen.append((report["recheck"]["from_pos"], report["recheck"]["through_pos"],
                     [p["id"] for p in report["problems"]]))
    assert seen == [(0, 2, []), (2, 4, []), (4, 6, [ids[4]]), (4, 6, [ids[4]])]
    assert "the rolling re-check of old records found a problem" in caplog.text
    assert [c["recheck_pos"] for c in checkpoints(sql)][-1] == 4  # not moved past it
    # the request's own re-check slice finds it too, and says where it came from
    report = integrity(client)
    assert report["ok"] is False and report["recheck"]["problems"] == 1
    result = sidecar_cli(test_db, "off", "verify")
    assert result.returncode == 1 and f"TAMPERED record {ids[4]}" in result.stdout


def test_recheck_wraps_around_and_records_the_completed_cycle(client, sql):
    ingest(client, 4)
    integrity(client)
    cfg = client.application.config
    before = utcnow()
    r1 = ledger.advance_checkpoint(cfg, recheck=3)
    r2 = ledger.advance_checkpoint(cfg, recheck=3)
    r3 = ledger.advance_checkpoint(cfg, recheck=3)
    assert [(r["recheck"]["from_pos"], r["recheck"]["through_pos"]) for r in (r1, r2, r3)] == \
        [(0, 3), (3, 4), (0, 3)]
    assert r1["recheck"]["last_cycle_completed_at"] is None
    assert r2["recheck"]["last_cycle_completed_at"] >= ledger.rfc3339(before)
    assert r3["recheck"]["cycle_started_at"] > r2["recheck"]["cycle_started_at"]


def test_truncation_after_the_checkpoint_is_caught_by_the_anchors(client, sql):
    ingest(client, 3)
    integrity(client)
    ingest(client, 2)
    seal(client)  # anchored at 5, no checkpoint there
    last = sql("SELECT id, first_pos FROM t_sp_seals ORDER BY id DESC LIMIT 1")[0]
    sql("DELETE c FROM t_sp_consents c JOIN t_sp_chain ch ON ch.consent_seq = c.seq"
        " WHERE ch.pos >= %s", (last["first_pos"],))
    sql("DELETE FROM t_sp_chain WHERE pos >= %s", (last["first_pos"],))
    sql("DELETE FROM t_sp_seals WHERE id = %s", (last["id"],))
    report = integrity(client)
    assert report["ok"] is False and report["verified_from"] == 3
    assert any(p["problem"].startswith(f"anchored position 5 (seal {last['id']}") and
               "sealed records were removed" in p["problem"] for p in report["problems"])


def test_truncation_below_the_checkpoint_is_caught(make_app, sql):
    client = make_app(SP_ANCHOR_FILE="off").test_client()  # the checkpoint alone tells
    ingest(client, 3)
    integrity(client)
    ingest(client, 2)
    integrity(client)  # checkpoint at 5
    sql("DELETE c FROM t_sp_consents c JOIN t_sp_chain ch ON ch.consent_seq = c.seq"
        " WHERE ch.pos > 3")
    sql("DELETE FROM t_sp_chain WHERE pos > 3")
    sql("DELETE FROM t_sp_seals ORDER BY id DESC LIMIT 1")
    report = integrity(client)
    assert report["ok"] is False
    assert any("vouches for chain position 5, but the chain ends at 3" in p["problem"]
               for p in report["problems"])


def test_rewritten_chain_below_the_checkpoint_is_caught_by_its_head(client, sql,
                                                                   anchor_file):
    # The attacker edits record 2 and recomputes every later link with a guessed key (and
    # the seals): the link at the checkpoint's position is no longer the one it verified.
    ids = ingest(client, 4)
    integrity(client)
    edit(sql, ids[1])
    sql("UPDATE t_sp_chain SET mac = UNHEX(SHA2(CONCAT(pos, 'x'), 256)) WHERE pos >= 2")
    report = ledger.advance_checkpoint(client.application.config, recheck=0)
    assert report["verified_from"] == 4
    assert [p["problem"] for p in report["problems"]] == [
        "the chain's link at position 4 is not the one checkpoint"
        f" {report['checkpoint']['id']} (incremental,"
        f" {report['checkpoint']['verified_at']}) verified: records at or before position 4"
        " were rewritten",
        # ... and the newest anchor before the checkpoint is checked again as well
        f"anchored head at position 4 (seal {sql('SELECT MAX(id) AS n FROM t_sp_seals')[0]['n']},"
        f" {report['problems'][1]['problem'].split(', ')[1]}, in {anchor_file}) is not the"
        " chain's: records at or before position 4 were rewritten"]


def test_integrity_budget_never_claims_more_than_it_checked(client, sql, monkeypatch):
    ingest(client, 8)
    monkeypatch.setattr(ledger, "REQUEST_BUDGET", 3)
    seen = []
    for _ in range(3):
        r = integrity(client)
        seen.append((r["verified_from"], r["verified_through"], r["complete"], r["sealed"]))
        if not r["complete"]:
            assert r["warnings"][1].startswith(  # after the derived-key warning
                f"verified through position {r['verified_through']} of 8 within")
    assert seen == [(0, 3, False, 3), (3, 6, False, 6), (6, 8, True, 8)]
    assert r["ok"] and r["records"] == 8


def test_full_verify_on_request_is_refused_above_the_limit(client, sql, monkeypatch):
    ingest(client, 3)
    r = client.get("/v1/integrity?full=1", headers=admin_headers())
    assert r.status_code == 200
    body = r.get_json()
    assert body["ok"] and body["verified_from"] == 0 and body["verified_through"] == 3
    assert [(c["kind"], c["pos"]) for c in checkpoints(sql)] == [("full", 3)]
    monkeypatch.setattr(ledger, "FULL_REQUEST_MAX", 2)
    r = client.get("/v1/integrity?full=1", headers=admin_headers())
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "too_large_for_request"
    assert "sidecar verify" in r.get_json()["error"]["message"]
    r = client.get("/v1/integrity?full=yes", headers=admin_headers())
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_parameter"


def test_old_incremental_checkpoints_are_pruned_full_ones_kept(client, sql, monkeypatch):
    monkeypatch.setattr(ledger, "CHECKPOINTS_KEPT", 2)
    ingest(client, 2)
    assert client.get("/v1/integrity?full=1", headers=admin_headers()).status_code == 200
    for _ in range(5):
        ingest(client, 1)
        integrity(client)
    kinds = [(c["kind"], c["pos"]) for c in checkpoints(sql)]
    assert kinds[0] == ("full", 2) and len(kinds) <= 4 and kinds[-1] == ("incremental", 7)


def test_worker_advances_the_checkpoint_throttled(client, sql, monkeypatch):
    from helpers import db_conn
    ingest(client, 3)
    cfg = client.application.config
    ledger._next_checkpoint.clear()
    with db_conn(cfg["SP_DATABASE_URL"]) as conn:
        assert ledger.seal(conn, cfg) == 3
        first = ledger.maybe_advance_checkpoint(conn, cfg)
        assert first["verified_through"] == 3 and first["new_checkpoint"]
        assert ledger.maybe_advance_checkpoint(conn, cfg) is None  # within CHECKPOINT_EVERY
    assert [c["pos"] for c in checkpoints(sql)] == [3]


def test_large_ledger_endpoint_checks_only_what_follows_the_checkpoint(client, sql, test_db):
    """20,000 sealed records, verified in full once by `sidecar verify` (progress on stderr,
    a 'full' checkpoint); the endpoint then verifies only the five records after it and one
    re-check slice."""
    cfg = client.application.config
    bulk_consents(cfg, 20000)
    result = sidecar_cli(test_db, "off", "verify")
    assert result.returncode == 0, result.stdout
    assert "verify: done, 20000 records (20000 sealed) in" in result.stderr
    assert [(c["kind"], c["pos"]) for c in checkpoints(sql)] == [("full", 20000)]
    for _ in range(5):
        assert client.post("/v1/consents", json={"token": make_token(consent_payload())}
                           ).status_code == 201
    report = integrity(client)
    assert report["ok"], report["problems"]
    assert report["checkpoint"]["kind"] == "full" and report["checkpoint"]["pos"] == 20000
    assert (report["verified_from"], report["verified_through"], report["complete"]) == \
        (20000, 20005, True)
    assert (report["records"], report["sealed"]) == (20005, 20005)
    assert report["recheck"]["from_pos"] == 0
    assert report["recheck"]["through_pos"] <= ledger.REQUEST_RECHECK



def test_worker_loop_seals_and_writes_a_checkpoint(client, sql):
    import threading

    from sidecar import config
    from sidecar.screenshots import Worker
    ingest(client, 2, page_url="http://elsewhere.test/")  # no screenshot work
    app = client.application
    cfg = config.load(overrides={k: v for k, v in app.config.items() if k.startswith("SP_")})
    worker = Worker(cfg)
    loop = threading.Thread(target=worker.run, kwargs={"idle_sleep": 0.05})
    loop.start()
    try:
        for _ in range(100):
            if checkpoints(sql):
                break
            threading.Event().wait(0.05)
    finally:
        worker.stopping = True
        loop.join(10)
    assert [(c["kind"], c["pos"]) for c in checkpoints(sql)] == [("incremental", 2)]


def test_anchor_file_is_read_from_the_checkpoint_on_by_bisection(tmp_path):
    """A long anchor file is not read from its start on every call: the reader bisects to
    the anchors after the checkpoint and still finds the newest one at or before it."""
    import json
    path = tmp_path / "anchors.jsonl"
    lines = [json.dumps({"seal": n, "pos": 3 * n, "head": f"{n:064x}", "key_id": "k",
                         "at": "2026-11-29T20:00:00.000000Z"}) for n in range(1, 20001)]
    path.write_text("\n".join(lines) + "\n")
    size = path.stat().st_size
    assert size > 1_000_000
    for after in (0, 1, 3, 29999, 30000, 59999, 60000, 70000):
        problems, warnings, missing = [], [], []
        stream, before = ledger._anchor_stream(
            {str(path): size}, lambda row, text, out=problems: out.append(text), warnings,
            missing, after)
        got = [a["pos"] for a in stream]
        assert got == [3 * n for n in range(1, 20001) if 3 * n > after], after
        newest = max((3 * n for n in range(1, 20001) if 3 * n <= after), default=None)
        assert (before[str(path)]["pos"] if before else None) == newest, after
        assert problems == warnings == missing == []
        # it starts reading at most one bisection window before the first line it needs
        first = sum(len(line) + 1 for line in lines[:after // 3])
        offset = ledger._anchor_offset(str(path), size, after) if after else 0
        assert 0 <= first - offset <= 65536, (after, first, offset)


def test_integrity_answers_without_a_usable_checkpoint_table(client, sql, caplog):
    # A sidecar user not granted the table yet (SECURITY.md), or 008 not applied: the
    # endpoint verifies from the genesis within its budget, says so, and logs it once.
    ingest(client, 3)
    sql("RENAME TABLE t_sp_checkpoints TO t_sp_checkpoints_away")
    try:
        first, second = integrity(client), integrity(client)
    finally:
        sql("RENAME TABLE t_sp_checkpoints_away TO t_sp_checkpoints")
    for report in (first, second):
        assert report["ok"] and report["complete"] and report["verified_from"] == 0
        assert report["verified_through"] == 3 and report["new_checkpoint"] is None
        assert any(w.startswith("checkpoints cannot be read") for w in report["warnings"])
    assert caplog.text.count("checkpoints cannot be read; every verification starts") == 1


def test_unsealed_record_after_the_newest_seal_is_checked_incrementally(client, sql):
    ingest(client, 3)
    integrity(client)
    (rid,) = ingest(client, 1)  # not sealed: no integrity call, no worker
    sql("UPDATE t_sp_consents SET policy_version = '99' WHERE id = %s", (db_id(rid),))
    report = ledger.advance_checkpoint(client.application.config)
    assert report["verified_from"] == 3 and report["unsealed"] == 1
    assert [p["id"] for p in report["problems"]] == [rid]
