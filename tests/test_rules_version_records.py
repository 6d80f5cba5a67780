"""Every consent carries the rule-set version the plugin signed in (issue 14, "Proof of
enforcement"): the optional payload field `rules_version`, stored compactly (migration 011),
covered by the record hash for new records only (old ones verify unchanged), shown in the
record JSON and both exports; rows from before the migration read null."""

from __future__ import annotations

import csv
import io
import json

import pytest
from helpers import admin_headers, consent_payload, ingest, integrity, make_token, run_sql

from sidecar import db, ledger
from sidecar.ruleset import shipped_ruleset_version

VERSION = shipped_ruleset_version([{"kind": "cookie", "pattern": "_ga*",
                                    "category": "statistics"}])


def post(client, **overrides):
    return client.post("/v1/consents",
                       json={"token": make_token(consent_payload(**overrides))})


def record(client, rid):
    r = client.get(f"/v1/consents/{rid}", headers=admin_headers())
    assert r.status_code == 200
    return r.get_json()


def test_a_consent_with_a_rules_version_stores_and_shows_it(client, sql):
    r = post(client, rules_version=VERSION)
    assert r.status_code == 201, r.get_json()
    rec = record(client, r.get_json()["id"])
    assert rec["rules_version"] == VERSION
    stored = sql("SELECT rules_version FROM t_sp_consents")[0]["rules_version"]
    assert stored == bytes.fromhex(VERSION)  # 32 bytes, not 64 hex characters
    # In the list too.
    items = client.get("/v1/consents", headers=admin_headers()).get_json()["items"]
    assert [i["rules_version"] for i in items] == [VERSION]


def test_upper_case_hex_is_stored_lower_case(client):
    rid = post(client, rules_version=VERSION.upper()).get_json()["id"]
    assert record(client, rid)["rules_version"] == VERSION


def test_a_consent_without_a_rules_version_is_still_accepted(client):
    """Plugins from before rule-set versions send none (and null means the same)."""
    old = post(client)
    assert old.status_code == 201, old.get_json()
    assert record(client, old.get_json()["id"])["rules_version"] is None
    null = post(client, rules_version=None)
    assert null.status_code == 201, null.get_json()
    assert record(client, null.get_json()["id"])["rules_version"] is None


@pytest.mark.parametrize("bad", ["", "abc", VERSION[:-1], VERSION + "0", "g" * 64,
                                 VERSION + "\n", VERSION[:32] + " " + VERSION[32:-1],
                                 " " + VERSION[1:], 12, True, [VERSION], {"v": VERSION}])
def test_a_bad_rules_version_is_422_naming_it_and_stores_nothing(client, sql, bad):
    r = post(client, rules_version=bad)
    assert r.status_code == 422
    body = r.get_json()["error"]
    assert (body["code"], body["field"]) == ("invalid_payload", "rules_version")
    assert sql("SELECT COUNT(*) AS n FROM t_sp_consents")[0]["n"] == 0


def test_other_unknown_fields_are_still_refused(client):
    r = post(client, rules_versions=VERSION)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "rules_versions"


def test_the_record_hash_covers_the_rules_version_of_new_records_only(client, sql):
    with_v = post(client, rules_version=VERSION).get_json()["id"]
    without = post(client).get_json()["id"]
    assert integrity(client)["ok"] is True
    rows = {r["id"]: r for r in (record(client, with_v), record(client, without))}
    # A record without a version hashes exactly as before (version 1 of the hash) ...
    fields = {k: rows[without][k] for k in ledger.CORE + ledger.PERSONAL}
    digest = sql("SELECT personal_digest FROM t_sp_consents WHERE rules_version IS NULL"
                 )[0]["personal_digest"].hex()
    assert ledger.record_hash(fields, digest) == rows[without]["hash"]
    assert ledger.record_hash({**fields, "rules_version": None}, digest) == rows[without]["hash"]
    # ... one with a version is version 2: editing the stored version breaks the record.
    fields = {k: rows[with_v][k] for k in ledger.CORE + ledger.PERSONAL}
    digest = sql("SELECT personal_digest FROM t_sp_consents WHERE rules_version IS NOT NULL"
                 )[0]["personal_digest"].hex()
    assert ledger.record_hash({**fields, "rules_version": VERSION}, digest) \
        == rows[with_v]["hash"] != ledger.record_hash(fields, digest)
    sql("UPDATE t_sp_consents SET rules_version = %s WHERE rules_version IS NOT NULL",
        (bytes(32),))
    report = client.get("/v1/integrity?full=1", headers=admin_headers()).get_json()
    assert report["ok"] is False
    assert any("does not match its hash" in p for p in map(str, report["problems"]))
    # Dropping it (making the record look older) is caught the same way.
    sql("UPDATE t_sp_consents SET rules_version = NULL")
    report = client.get("/v1/integrity?full=1", headers=admin_headers()).get_json()
    assert report["ok"] is False


def test_exports_show_the_rules_version_as_the_last_column(client):
    post(client, rules_version=VERSION)
    post(client)
    r = client.get("/v1/consents/export?format=csv", headers=admin_headers())
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0][-1] == "rules_version" and rows[0][-2] == "hash"
    assert sorted(row[-1] for row in rows[1:]) == sorted(["", VERSION])
    r = client.get("/v1/consents/export?format=ndjson", headers=admin_headers())
    lines = [json.loads(x) for x in r.get_data(as_text=True).splitlines()]
    assert sorted(str(x["rules_version"]) for x in lines) == sorted(["None", VERSION])


def test_an_erased_record_keeps_its_rules_version_and_verifies(client):
    rid = post(client, rules_version=VERSION).get_json()["id"]
    assert client.delete(f"/v1/consents/{rid}", headers=admin_headers()).status_code == 204
    assert integrity(client)["ok"] is True
    assert client.get("/v1/integrity?full=1", headers=admin_headers()).get_json()["ok"]


def test_migration_011_on_rows_stored_before_it(make_app, test_db):
    """Rows written before the column existed read null (recorded before rule-set versions)
    and still verify; new rows carry the version."""
    p = "m11_"
    app = make_app(SP_TABLE_PREFIX=p)
    client = app.test_client()
    for name in [next(iter(r.values())) for r in run_sql(test_db, f"SHOW TABLES LIKE '{p}%%'")]:
        if name != f"{p}sp_migrations":
            run_sql(test_db, f"DELETE FROM `{name}`")
    old_ids = ingest(client, n=3)
    assert integrity(client)["ok"] is True
    # The schema as migration 010 left it, with these rows in it.
    run_sql(test_db, f"ALTER TABLE `{p}sp_consents` DROP COLUMN rules_version")
    run_sql(test_db, f"DELETE FROM `{p}sp_migrations` WHERE version = 11")
    assert db.migrate(test_db, p) == ["011_rules_version.sql"]
    assert db.migrate(test_db, p) == []  # once
    client = make_app(SP_TABLE_PREFIX=p).test_client()
    for rid in old_ids:
        assert record(client, rid)["rules_version"] is None
    new = post(client, rules_version=VERSION).get_json()["id"]
    assert record(client, new)["rules_version"] == VERSION
    report = client.get("/v1/integrity?full=1", headers=admin_headers()).get_json()
    assert report["ok"] is True, report["problems"]
    assert report["records"] == 4


def _finish_scan(client, test_db, rules):
    """A scan queued through the API with `rules`, claimed and finished with the real
    report builder (no browser: no pages); its id and report."""
    from sidecar import scans
    from sidecar.db import Tables, connect
    from sidecar.scan_report import build_report
    sid = client.post("/v1/scans", json={"urls": ["http://site.test/"], "rules": rules},
                      headers=admin_headers()).get_json()["id"]
    conn = connect(test_db)
    try:
        scan = scans.claim(conn, Tables("t_"), "test-worker", 60)
        assert scan["id"] == sid
        report = build_report({"id": sid, "status": "done"}, [], rules=scan["rules"])
        from sidecar.clock import utcnow
        assert scans.finish(conn, Tables("t_"), scan, report, utcnow())
    finally:
        conn.close()
    return sid, report


def test_scans_are_found_by_the_rules_version_a_consent_carries(client, test_db):
    rules = [{"kind": "cookie", "pattern": "_ga*", "category": "statistics"}]
    sid, report = _finish_scan(client, test_db, rules)
    assert report["ruleset_version"] == VERSION  # the scan's = what the plugin signs in
    other, _ = _finish_scan(client, test_db, [])
    shown = client.get(f"/v1/scans/{sid}", headers=admin_headers()).get_json()
    assert shown["ruleset_version"] == VERSION
    found = client.get(f"/v1/scans?ruleset_version={VERSION}",
                       headers=admin_headers()).get_json()["items"]
    assert [(s["id"], s["ruleset_version"]) for s in found] == [(sid, VERSION)]
    everything = client.get("/v1/scans", headers=admin_headers()).get_json()["items"]
    assert [s["id"] for s in everything] == [other, sid]
    bad = client.get("/v1/scans?ruleset_version=XYZ", headers=admin_headers())
    assert bad.status_code == 400
    assert bad.get_json()["error"]["code"] == "invalid_parameter"
    assert bad.get_json()["error"]["message"].startswith("ruleset_version:")
