"""The tamper-evident ledger: sealing, verification, erasure keeping it verifiable
(issue 3), against the real MariaDB."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import (
    TEST_KEYS,
    admin_headers,
    chain,
    db_id,
    ingest,
    integrity,
    secret,
    sidecar_cli,
    sidecar_cli_env,
)

from sidecar import codec, config, ledger
from sidecar.db import connect_args

LEDGER_KEYS = config.ledger_keys("", TEST_KEYS)[0]  # what the test apps derive


def verify(test_db, anchors=None, keys=LEDGER_KEYS):
    return ledger.verify(connect_args(test_db), "t_", keys, anchors=anchors)


def cli_verify(test_db, anchors=None):
    return subprocess.run([sys.executable, "-m", "sidecar.cli", "verify"],
                          env=sidecar_cli_env(test_db, anchors or "off"), capture_output=True,
                          text=True)


def stored(sql, where, args):
    """The consent row `where` selects, in its logical form (user agent joined)."""
    return codec.from_db(sql(
        "SELECT c.*, u.user_agent FROM t_sp_consents c LEFT JOIN t_sp_user_agents u"
        f" ON u.id = c.ua_id WHERE c.{where}", args)[0])


def test_sealed_ledger_verifies_and_reports_its_head(client, sql):
    ids = ingest(client, 5)
    report = integrity(client)  # seals the 5 pending records first
    assert report["ok"] is True and report["problems"] == []
    assert (report["records"], report["sealed"], report["unsealed"]) == (5, 5, 0)
    rows = chain(sql)
    assert [r["pos"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["id"] for r in rows] == ids
    assert report["head"] == rows[-1]["mac"]
    seal = sql("SELECT version, first_pos, last_pos, records, head, key_id FROM t_sp_seals")
    assert seal == [{"version": 2, "first_pos": 1, "last_pos": 5, "records": 5,
                     "head": report["head"], "key_id": ledger.key_id(LEDGER_KEYS[-1])}]
    # the sealer wrote nothing into the consent rows (insert-only)
    assert sql("SELECT COUNT(*) AS n FROM t_sp_legacy_chain")[0]["n"] == 0
    # a second batch chains on from the first
    ingest(client, 2)
    report2 = integrity(client)
    assert report2["ok"] and report2["sealed"] == 7 and report2["head"] != report["head"]
    rec = client.get(f"/v1/consents/{ids[0]}", headers=admin_headers()).get_json()
    assert rec["chain"] == {"position": 1, "hash": rows[0]["mac"]}
    result = cli_verify(_url(client))
    assert result.returncode == 0 and "ledger OK" in result.stdout


def _url(client):
    return client.application.config["SP_DATABASE_URL"]


@pytest.mark.parametrize("statement", [
    "UPDATE t_sp_consents SET categories = categories | 8 WHERE seq = %s",  # marketing
    "UPDATE t_sp_consents SET ip = '198.51.100.1' WHERE seq = %s",
    "UPDATE t_sp_consents SET received_at = received_at - INTERVAL 1 DAY WHERE seq = %s",
    "UPDATE t_sp_consents SET method = 'accept_all' WHERE seq = %s",
])
def test_hand_edited_row_is_detected(client, sql, test_db, statement):
    ingest(client, 3, method="reject_all", categories={
        "necessary": True, "preferences": False, "statistics": False, "marketing": False})
    integrity(client)
    target = codec.from_db(
        sql("SELECT seq, id FROM t_sp_consents ORDER BY seq LIMIT 1 OFFSET 1")[0])
    sql(statement, (target["seq"],))
    report = verify(test_db)
    assert report["ok"] is False
    assert target["id"] in {p["id"] for p in report["problems"]}
    result = cli_verify(test_db)
    assert result.returncode == 1
    assert f"TAMPERED record {target['id']}" in result.stdout


def test_deleted_row_is_detected(client, sql, test_db):
    ids = ingest(client, 4)
    integrity(client)
    sql("DELETE FROM t_sp_consents WHERE id = %s", (db_id(ids[1]),))
    report = verify(test_db)
    assert not report["ok"]
    assert any("missing" in p["problem"] for p in report["problems"])
    assert cli_verify(test_db).returncode == 1


def test_deleted_last_row_is_detected(client, sql, test_db):
    ids = ingest(client, 3)
    integrity(client)
    seq = sql("SELECT seq FROM t_sp_consents WHERE id = %s", (db_id(ids[-1]),))[0]["seq"]
    sql("DELETE FROM t_sp_consents WHERE id = %s", (db_id(ids[-1]),))
    report = verify(test_db)
    assert [p["problem"] for p in report["problems"]] == [
        f"the record of this chain position (seq {seq}) is missing: it was deleted"]
    # ... and with its chain entry too, the seal still says where the chain must end
    sql("DELETE FROM t_sp_chain WHERE consent_seq = %s", (seq,))
    seal_id = sql("SELECT id FROM t_sp_seals")[0]["id"]
    report = verify(test_db)
    assert [p["problem"] for p in report["problems"]] == [
        f"seal {seal_id} ends at position 3 but the chain at 2: sealed records are missing"]


def test_reordered_rows_are_detected(client, sql, test_db):
    ids = ingest(client, 3)
    integrity(client)
    # swap the chain places of the first two records
    seqs = {r["id"]: r["seq"] for r in chain(sql)}
    sql("UPDATE t_sp_chain SET consent_seq = 0 WHERE pos = 1")
    sql("UPDATE t_sp_chain SET consent_seq = %s WHERE pos = 2", (seqs[ids[0]],))
    sql("UPDATE t_sp_chain SET consent_seq = %s WHERE pos = 1", (seqs[ids[1]],))
    report = verify(test_db)
    assert not report["ok"]
    assert {p["id"] for p in report["problems"]
            if "chain link does not verify" in p["problem"]} == {ids[0], ids[1]}


def test_unsealed_edit_is_detected_too(client, sql, test_db):
    (rid,) = ingest(client, 1)
    sql("UPDATE t_sp_consents SET policy_version = '99' WHERE id = %s", (db_id(rid),))
    report = verify(test_db)
    assert not report["ok"] and report["problems"][0]["id"] == rid
    assert report["unsealed"] == 1


def test_erasure_keeps_the_ledger_verifiable(client, sql, test_db):
    subject = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
    ids = ingest(client, 2, subject_id=subject) + ingest(client, 2)
    integrity(client)
    h = admin_headers()
    assert client.delete(f"/v1/consents/{ids[2]}", headers=h).status_code == 204
    r = client.post("/v1/erasures", json={"subject_id": subject}, headers=h)
    assert r.get_json() == {"erased": 2}
    for rid in ids[:3]:
        r = client.get(f"/v1/consents/{rid}", headers=h)
        assert r.status_code == 410 and r.get_json()["error"]["code"] == "erased"
        assert client.get(f"/v1/consents/{rid}/screenshot", headers=h).status_code == 410
    listed = [i["id"] for i in client.get("/v1/consents", headers=h).get_json()["items"]]
    assert listed == [ids[3]]
    row = sql("SELECT subject_id, ip, ua_id, page_url, salt, hash, HEX(mac) AS mac"
              " FROM t_sp_consents JOIN t_sp_chain ON consent_seq = seq WHERE id = %s",
              (db_id(ids[0]),))[0]
    assert row["ip"] is None and row["ua_id"] is None and row["page_url"] == ""
    assert sql("SELECT COUNT(*) AS n FROM t_sp_user_agents")[0]["n"] == 1  # ids[3]'s only
    assert row["salt"] is None and codec.uuid_from_db(row["subject_id"]) != subject
    assert len(row["hash"]) == 32 and len(row["mac"]) == 64
    report = integrity(client)
    assert report["ok"] and report["records"] == 4
    # a tombstone is still protected: editing what it keeps is detected
    sql("UPDATE t_sp_consents SET action = 'update' WHERE id = %s", (db_id(ids[0]),))
    assert not verify(test_db)["ok"]


def test_erasure_by_ip_and_validation(client):
    h = admin_headers()
    ingest(client, 2, ip="192.0.2.44")
    ingest(client, 1, ip="192.0.2.45")
    assert client.post("/v1/erasures", json={"ip": "192.0.2.44"}, headers=h).get_json() == \
        {"erased": 2, "unattributed": 0}
    assert client.post("/v1/erasures", json={"ip": "192.0.2.44"}, headers=h).get_json() == \
        {"erased": 0, "unattributed": 0}
    for body in ({}, {"ip": "nope"}, {"subject_id": "x"}, {"ip": "1.2.3.4", "subject_id": "y"},
                 {"wp_user_id": 0}, {"ip": "1.2.3.4", "unattributed": "yes"}):
        r = client.post("/v1/erasures", json=body, headers=h)
        assert r.status_code == 422, body
    assert client.post("/v1/erasures", json={"ip": "1.1.1.1"}).status_code == 401


def test_delete_unknown_or_twice(client):
    h = admin_headers()
    (rid,) = ingest(client, 1)
    assert client.delete(f"/v1/consents/{rid}", headers=h).status_code == 204
    assert client.delete(f"/v1/consents/{rid}", headers=h).status_code == 410
    assert client.delete("/v1/consents/00000000-0000-4000-8000-000000000000",
                         headers=h).status_code == 404


def test_purge_tombstones_records_past_retention(client, test_db):
    old = ingest(client, 2)
    keep = ingest(client, 1)
    integrity(client)
    # Records are hashed with their time, so they cannot be aged by hand (verify would
    # flag it): purge everything received before the record we keep.
    cutoff = client.get(f"/v1/consents/{keep[0]}", headers=admin_headers()).get_json()[
        "received_at"]
    env = sidecar_cli_env(test_db, "off")
    r = subprocess.run([sys.executable, "-m", "sidecar.cli", "purge", "--before", cutoff],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    log = [json.loads(line) for line in r.stderr.splitlines() if line.startswith("{")]
    assert any(e["msg"] == "purge" and e["erased"] == 2 for e in log), r.stderr
    h = admin_headers()
    assert [client.get(f"/v1/consents/{i}", headers=h).status_code for i in old] == [410, 410]
    assert client.get(f"/v1/consents/{keep[0]}", headers=h).status_code == 200
    assert verify(test_db)["ok"]
    # --days counts back from now: nothing here is 30 days old
    r = subprocess.run([sys.executable, "-m", "sidecar.cli", "purge", "--days", "30"], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0 and '"erased":0' in r.stderr
    # without a retention it refuses rather than guessing
    r = subprocess.run([sys.executable, "-m", "sidecar.cli", "purge"], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 2 and "SP_RETENTION_DAYS" in r.stderr


# ---- the two tamperings of the outside audit (issue 10, F12) ---------------------------
# The attacker has write access to the database but not the sidecar's host or its keys.

def _has_chain_table(sql):
    return bool(sql("SHOW TABLES LIKE 't_sp_chain'"))


def _two_seals(client):
    first = ingest(client, 3)
    integrity(client)
    second = ingest(client, 2)
    integrity(client)
    return first, second


def test_truncating_the_last_seal_with_its_records_fails_verify(client, sql, test_db,
                                                               anchor_file):
    _, second = _two_seals(client)
    last = sql("SELECT id, first_pos, last_pos FROM t_sp_seals ORDER BY id DESC LIMIT 1")[0]
    # Delete the last seal's records, their chain entries and the seal row itself.
    if _has_chain_table(sql):
        sql("DELETE c FROM t_sp_consents c JOIN t_sp_chain ch ON ch.consent_seq = c.seq"
            " WHERE ch.pos BETWEEN %s AND %s", (last["first_pos"], last["last_pos"]))
        sql("DELETE FROM t_sp_chain WHERE pos BETWEEN %s AND %s",
            (last["first_pos"], last["last_pos"]))
    else:
        sql("DELETE FROM t_sp_consents WHERE chain_pos BETWEEN %s AND %s",
            (last["first_pos"], last["last_pos"]))
    sql("DELETE FROM t_sp_seals WHERE id = %s", (last["id"],))
    assert sql("SELECT COUNT(*) AS n FROM t_sp_consents WHERE id IN (%s, %s)",
               tuple(db_id(i) for i in second))[0]["n"] == 0
    result = sidecar_cli(test_db, anchor_file, "verify")
    assert result.returncode == 1, result.stdout
    assert "ledger FAILED" in result.stdout
    assert "anchor" in result.stdout
    report = integrity(client)
    assert report["ok"] is False


def _attacker_link(prev, pos, rec_hash):
    """The unkeyed link the old documentation published (all an attacker can compute)."""
    import hashlib
    return hashlib.sha256(f"{prev}:{pos}:{rec_hash}".encode()).hexdigest()


def _rewrite_and_recompute(sql, target_pos=2):
    """Flip one old record's choice, recompute its hash (the record hash is public), then
    every chain link after it and every seal head, with what an attacker can compute."""
    chain = _has_chain_table(sql)
    if chain:
        rows = sql("SELECT ch.pos AS chain_pos, c.seq, LOWER(HEX(c.hash)) AS hash"
                   " FROM t_sp_chain ch"
                   " JOIN t_sp_consents c ON c.seq = ch.consent_seq ORDER BY ch.pos")
    else:
        rows = sql("SELECT chain_pos, seq, hash FROM t_sp_consents WHERE chain_pos IS NOT NULL"
                   " ORDER BY chain_pos")
    target = rows[target_pos - 1]
    row = stored(sql, "seq = %s", (target["seq"],))
    fields = ledger._row_to_fields(row)
    fields["method"], fields["action"] = "reject_all", "withdraw"
    new_hash = ledger.record_hash(fields, row["personal_digest"])
    sql("UPDATE t_sp_consents SET method = 'reject_all', action = 'withdraw', hash = UNHEX(%s)"
        " WHERE seq = %s", (new_hash, target["seq"]))
    head = "0" * 64
    heads = {}
    for r in rows:
        h = new_hash if r["seq"] == target["seq"] else r["hash"]
        head = _attacker_link(head, r["chain_pos"], h)
        heads[r["chain_pos"]] = head
        if chain:
            sql("UPDATE t_sp_chain SET mac = UNHEX(%s) WHERE pos = %s", (head, r["chain_pos"]))
        else:
            sql("UPDATE t_sp_consents SET chain_hash = %s WHERE seq = %s", (head, r["seq"]))
    prev = "0" * 64
    for s in sql("SELECT id, last_pos FROM t_sp_seals ORDER BY id"):
        sql("UPDATE t_sp_seals SET prev_head = %s, head = %s WHERE id = %s",
            (prev, heads[s["last_pos"]], s["id"]))
        prev = heads[s["last_pos"]]
    return row["id"]


def test_rewriting_an_old_record_and_recomputing_the_chain_fails_verify(client, sql, test_db,
                                                                        anchor_file):
    _two_seals(client)
    rid = _rewrite_and_recompute(sql)
    result = sidecar_cli(test_db, anchor_file, "verify")
    assert result.returncode == 1, result.stdout
    assert "ledger FAILED" in result.stdout
    assert rid in result.stdout
    assert integrity(client)["ok"] is False


def test_rewrite_with_the_key_derived_from_wordpress_secrets_is_caught_by_the_anchor(
        client, sql, test_db, anchor_file):
    # Without SP_LEDGER_KEYS the key derives from SP_SECRET_KEYS, which WordPress keeps in
    # its database: an attacker there can recompute every link and seal. Only the anchor
    # outside the database still tells.
    _two_seals(client)
    rows = chain(sql)
    target = stored(sql, "id = %s", (db_id(rows[1]["id"]),))
    fields = ledger._row_to_fields(target)
    fields["method"] = "reject_all"
    new_hash = ledger.record_hash(fields, target["personal_digest"])
    sql("UPDATE t_sp_consents SET method = 'reject_all', hash = UNHEX(%s) WHERE seq = %s",
        (new_hash, target["seq"]))
    key, mac, heads = LEDGER_KEYS[-1], bytes(32), {}
    for r in map(codec.from_db, sql("SELECT ch.pos, c.id, c.hash FROM t_sp_chain ch"
                                    " JOIN t_sp_consents c ON c.seq = ch.consent_seq"
                                    " ORDER BY ch.pos")):
        mac = ledger.chain_mac(key, mac, r["pos"], r["id"], r["hash"])
        heads[r["pos"]] = mac.hex()
        sql("UPDATE t_sp_chain SET mac = %s WHERE pos = %s", (mac, r["pos"]))
    prev = ledger.GENESIS
    for s in sql("SELECT id, last_pos FROM t_sp_seals ORDER BY last_pos"):
        sql("UPDATE t_sp_seals SET prev_head = %s, head = %s WHERE id = %s",
            (prev, heads[s["last_pos"]], s["id"]))
        prev = heads[s["last_pos"]]
    assert verify(test_db)["ok"] is True  # the database alone is consistent again
    report = verify(test_db, anchors=[str(anchor_file)])
    assert not report["ok"]
    assert [p["problem"] for p in report["problems"]][0].startswith(
        "anchored head at position 3 (seal")
    result = sidecar_cli(test_db, anchor_file, "verify")
    assert result.returncode == 1 and "were rewritten" in result.stdout
    assert "WARNING: the ledger key is derived from SP_SECRET_KEYS" in result.stdout
    report = integrity(client)
    assert report["ok"] is False and report["ledger_key_derived"] is True
    assert report["warnings"][0] == ledger.DERIVED_KEY_WARNING


def test_own_ledger_key_is_not_reported_as_derived(make_app, test_db, anchor_file):
    client = make_app(SP_LEDGER_KEYS=secret("sidecar-only-ledger-key")).test_client()
    ingest(client, 2)
    report = integrity(client)
    assert report["ok"] and report["ledger_key_derived"] is False
    assert report["warnings"] == []
    assert report["key_ids"] == [ledger.key_id(secret("sidecar-only-ledger-key").encode())]


def test_rotated_ledger_key_old_seals_verify_under_the_key_they_name(make_app, sql, test_db):
    old = make_app(SP_LEDGER_KEYS=secret("ledger-key-2025")).test_client()
    ingest(old, 2)
    integrity(old)
    new = make_app(SP_LEDGER_KEYS=f"{secret('ledger-key-2025')},{secret('ledger-key-2026')}"
                   ).test_client()
    ingest(new, 2)
    report = integrity(new)
    assert report["ok"], report["problems"]
    ids = [ledger.key_id(secret(f"ledger-key-{y}").encode()) for y in (2025, 2026)]
    assert [s["key_id"] for s in sql("SELECT key_id FROM t_sp_seals ORDER BY id")] == ids
    assert sorted(report["key_ids"]) == sorted(ids)
    # the retired key dropped from the list: its seals can no longer be checked
    report = verify(test_db, keys=[secret("ledger-key-2026").encode()])
    assert not report["ok"]
    assert f"names ledger key {ids[0]}, which is not configured" in \
        report["problems"][0]["problem"]


def test_sealer_never_updates_consent_rows(client, sql, test_db):
    # A trigger refuses any UPDATE of a consent: sealing must not need one.
    sql("CREATE TRIGGER t_no_update BEFORE UPDATE ON t_sp_consents FOR EACH ROW"
        " SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'consent rows are not updated'")
    try:
        ingest(client, 3)
        report = integrity(client)
        assert report["ok"] and report["sealed"] == 3
    finally:
        sql("DROP TRIGGER t_no_update")


def test_record_committing_while_the_sealer_runs_is_sealed_not_skipped(client, sql, test_db):
    import threading

    from helpers import db_conn
    ids = ingest(client, 3)
    row = sql("SELECT * FROM t_sp_consents WHERE id = %s", (db_id(ids[0]),))[0]
    sql("DELETE FROM t_sp_consents WHERE id = %s", (db_id(ids[0]),))
    with db_conn(test_db) as slow:
        # an ingest transaction that took the lowest seq but commits after the others
        with slow.cursor() as cur:
            cur.execute(f"INSERT INTO t_sp_consents ({', '.join(row)}) VALUES"
                        f" ({', '.join(['%s'] * len(row))})", list(row.values()))
        app = client.application
        done = []
        sealer = threading.Thread(target=lambda: done.append(ledger.seal(
            ledger_conn(test_db), app.config)))
        sealer.start()
        sealer.join(0.5)
        assert sealer.is_alive()  # it waits for the uncommitted record, not passes it by
        slow.commit()
        sealer.join(10)
    assert done == [3]
    assert [r["id"] for r in chain(sql)] == ids
    assert verify(test_db)["ok"]


def ledger_conn(test_db):
    import pymysql
    return pymysql.connect(**connect_args(test_db))


def test_anchor_file_is_exported_and_checked_from_a_copy(make_app, sql, test_db, tmp_path):
    client = make_app()
    client = client.test_client()
    _two_seals(client)
    h = admin_headers()
    assert client.get("/v1/integrity/anchors").status_code == 401
    r = client.get("/v1/integrity/anchors", headers=h)
    assert r.status_code == 200 and r.mimetype == "application/x-ndjson"
    lines = [json.loads(line) for line in r.data.decode().splitlines()]
    seals = sql("SELECT id, last_pos, head, key_id FROM t_sp_seals ORDER BY id")
    assert [(a["seal"], a["pos"], a["head"], a["key_id"]) for a in lines] == \
        [(s["id"], s["last_pos"], s["head"], s["key_id"]) for s in seals]
    exported = tmp_path / "exported.jsonl"
    exported.write_bytes(r.data)
    # truncate the newest seal, then verify from the exported copy only
    last = seals[-1]
    sql("DELETE c FROM t_sp_consents c JOIN t_sp_chain ch ON ch.consent_seq = c.seq"
        " WHERE ch.pos > %s", (seals[-2]["last_pos"],))
    sql("DELETE FROM t_sp_chain WHERE pos > %s", (seals[-2]["last_pos"],))
    sql("DELETE FROM t_sp_seals WHERE id = %s", (last["id"],))
    result = sidecar_cli(test_db, "off", "verify", "--anchors", str(exported))
    assert result.returncode == 1
    assert f"anchored position {last['last_pos']} (seal {last['id']}" in result.stdout
    assert "sealed records were removed" in result.stdout
    # without any anchor the truncation is invisible, and verify says so
    result = sidecar_cli(test_db, "off", "verify")
    assert result.returncode == 0 and "WARNING: SP_ANCHOR_FILE is off" in result.stdout


def test_anchors_switched_off_are_reported(make_app):
    client = make_app(SP_ANCHOR_FILE="off").test_client()
    ingest(client, 1)
    report = integrity(client)
    assert report["ok"] and ledger.NO_ANCHOR_WARNING in report["warnings"]
    r = client.get("/v1/integrity/anchors", headers=admin_headers())
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "no_anchor_file"


# ---- records sealed by the old unkeyed chain (before migration 004) ------------------------

def _old_seal(sql, batches):
    """Seal the records as the sealer before migration 004 did (unkeyed, in the rows; since
    migration 007 those columns live in sp_legacy_chain)."""
    rows = sql("SELECT seq, LOWER(HEX(hash)) AS hash FROM t_sp_consents ORDER BY seq")
    pos, head, it = 0, ledger.GENESIS, iter(rows)
    for size in batches:
        prev, first = head, pos + 1
        for _ in range(size):
            r = next(it)
            pos += 1
            head = ledger.legacy_link(head, r["hash"], pos)
            sql("INSERT INTO t_sp_legacy_chain (chain_pos, chain_hash, consent_seq)"
                " VALUES (%s, %s, %s)", (pos, head, r["seq"]))
        sql("INSERT INTO t_sp_seals (version, first_pos, last_pos, records, prev_head, head,"
            " sealed_at) VALUES (1, %s, %s, %s, %s, %s, NOW())", (first, pos, size, prev, head))
        sql("UPDATE t_sp_legacy_chain SET seal_id = LAST_INSERT_ID() WHERE chain_pos >= %s",
            (first,))
    return head


def test_old_unkeyed_chain_is_verified_then_resealed_keyed_in_the_same_positions(
        client, sql, test_db, anchor_file):
    ids = ingest(client, 5)
    old_head = _old_seal(sql, [3, 2])
    newer = ingest(client, 2)
    report = integrity(client)  # the first keyed seal converts, then seals the newer ones
    assert report["ok"], report["problems"]
    assert (report["records"], report["sealed"]) == (7, 7)
    assert report["warnings"] == [ledger.DERIVED_KEY_WARNING]
    assert [r["id"] for r in chain(sql)] == ids + newer
    seals = sql("SELECT version, first_pos, last_pos, head, legacy_head FROM t_sp_seals"
                " ORDER BY version, last_pos")
    assert [(s["version"], s["first_pos"], s["last_pos"]) for s in seals] == \
        [(1, 1, 3), (1, 4, 5), (2, 1, 5), (2, 6, 7)]
    assert seals[2]["legacy_head"] == old_head and seals[3]["legacy_head"] is None
    # the old columns are kept as they were, and still checked
    sql("UPDATE t_sp_legacy_chain lc JOIN t_sp_consents c ON c.seq = lc.consent_seq"
        " SET lc.chain_hash = %s WHERE c.id = %s", ("f" * 64, db_id(ids[1])))
    report = verify(test_db, anchors=[str(anchor_file)])
    assert [(p["id"], p["problem"]) for p in report["problems"]] == \
        [(ids[1], "old chain hash does not link to the record before it")]


def test_tampered_old_chain_is_not_converted(client, sql, test_db):
    ids = ingest(client, 3)
    _old_seal(sql, [3])
    sql("UPDATE t_sp_seals SET head = %s WHERE version = 1", ("e" * 64,))
    ingest(client, 1)
    report = integrity(client)
    assert not report["ok"] and report["sealed"] == 0
    assert sql("SELECT COUNT(*) AS n FROM t_sp_chain")[0]["n"] == 0
    assert any("old seal" in p["problem"] for p in report["problems"])
    assert report["warnings"] == [ledger.DERIVED_KEY_WARNING, "3 record(s) are sealed only by"
                                  " the old unkeyed chain (conversion pending, or refused"
                                  " because the old chain fails)"]
    # the operator may convert anyway to go on sealing; the old problem stays reported
    result = sidecar_cli(test_db, "off", "seal", "--accept-legacy")
    assert result.returncode == 0 and "sealed 4 record(s)" in result.stdout, result.stderr
    assert [r["id"] for r in chain(sql)][:3] == ids
    report = verify(test_db)
    assert report["sealed"] == 4 and report["warnings"] == []
    assert [p["problem"] for p in report["problems"]] == [
        f"old seal {sql('SELECT id FROM t_sp_seals WHERE version = 1')[0]['id']} head does not"
        " match the old chain"]


def test_seal_committed_while_verify_runs_is_no_false_alarm(client, sql, test_db, anchor_file,
                                                            monkeypatch):
    _two_seals(client)
    app = client.application
    real = ledger._anchor_stream

    def seal_in_between(*args):
        # after verify took its snapshot, the worker seals more and anchors them
        ingest(client, 2)
        assert ledger.seal(ledger_conn(test_db), app.config) == 2
        return real(*args)

    monkeypatch.setattr(ledger, "_anchor_stream", seal_in_between)
    report = verify(test_db, anchors=[str(anchor_file)])
    assert report["ok"], report["problems"]
    assert (report["sealed"], report["unsealed"], report["anchors"]["checked"]) == (5, 0, 2)
    monkeypatch.undo()
    report = verify(test_db, anchors=[str(anchor_file)])
    assert report["ok"] and report["sealed"] == 7 and report["anchors"]["checked"] == 3


def test_chain_rows_left_after_their_seal_was_deleted_are_reported(client, sql, test_db):
    _two_seals(client)
    sql("DELETE FROM t_sp_seals ORDER BY id DESC LIMIT 1")
    report = verify(test_db)
    assert [p["problem"] for p in report["problems"]] == [
        "2 chain position(s) from 4 on lie beyond the last seal (position 3): a seal was"
        " deleted"]


def test_unwritable_anchor_file_never_stops_sealing_and_verify_warns(make_app, tmp_path,
                                                                     caplog):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    client = make_app(SP_ANCHOR_FILE=str(blocked / "anchors.jsonl")).test_client()
    ingest(client, 2)
    report = integrity(client)
    assert report["ok"] and report["sealed"] == 2
    assert f"anchor file {blocked / 'anchors.jsonl'} does not exist" in report["warnings"]
    assert "could not append to the anchor file" in caplog.text
