"""Migration 007 (compact records) on a database the code before it wrote: every record
reads back through the API exactly as before, still verifies (hashes over the same logical
values), the old unkeyed chain is still verified and converted, erasure by IP still finds
the converted fingerprints; the migration survives a crash at any step and refuses a row it
cannot convert losslessly."""

from __future__ import annotations

import json
from datetime import datetime

import pymysql
import pytest
from helpers import TEST_KEYS, admin_headers, run_sql

from sidecar import config, db, ledger, records
from sidecar.ips import ip_fingerprint

P = "m7_"
KEYS = config.ledger_keys("", TEST_KEYS)[0]  # what the test apps derive
OLD_COLUMNS = ("id, event_id, subject_id, action, method, categories, page_url,"
               " policy_version, banner_version, language, signals, ip, country, region, city,"
               " user_agent, wp_user_id, occurred_at, received_at, screenshot_status,"
               " screenshot_error, hash, personal_digest, salt, ip_fp, erased_at")


def _old_schema(url: str) -> None:
    """The tables as every migration before 007 left them (none of 007 applied)."""
    tables = [next(iter(r.values())) for r in run_sql(url, f"SHOW TABLES LIKE '{P}%%'")]
    for name in tables:
        run_sql(url, f"DROP TABLE `{name}`")
    conn = db.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE TABLE `{P}sp_migrations` (version INT UNSIGNED NOT NULL"
                        " PRIMARY KEY, name VARCHAR(191) NOT NULL, applied_at DATETIME(6)"
                        " NOT NULL DEFAULT CURRENT_TIMESTAMP(6))")
            for version, name, sql in db._migrations():
                if version >= 7:
                    continue
                for statement in db._statements(sql.replace("{prefix}", P)):
                    cur.execute(statement)
                cur.execute(f"INSERT INTO `{P}sp_migrations` (version, name) VALUES (%s, %s)",
                            (version, name))
        conn.commit()
    finally:
        conn.close()


RECORDS = [  # logical values, as the API showed them before 007
    {"id": "0b5c3f7e-8f61-4d0a-9a43-3f3e1b2c4d5e", "action": "grant", "method": "accept_all",
     "categories": {"necessary": True, "preferences": True, "statistics": True,
                    "marketing": True},
     "signals": {"gpc": False, "dnt": False}, "ip": "203.0.113.7",
     "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0", "wp_user_id": 0,
     "country": "SE", "region": "Skåne", "city": "Malmö", "status": "done", "error": None},
    {"id": "1c6d4a8f-9a72-4e1b-8b54-4a4f2c3d5e6f", "action": "grant", "method": "custom",
     "categories": {"necessary": True, "preferences": False, "statistics": True,
                    "marketing": False},
     "signals": {"gpc": True, "dnt": False}, "ip": "2a02:1234:abcd:12::1",
     "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0 ", "wp_user_id": 7,
     "country": "", "region": "", "city": "", "status": "skipped",
     "error": "page_url is not on SP_SITE_ORIGINS"},
    {"id": "2d7e5b9a-ab83-4f2c-9c65-5b5a3d4e6f70", "action": "withdraw", "method": "withdraw",
     "categories": {"necessary": True, "preferences": False, "statistics": False,
                    "marketing": False},
     "signals": {"gpc": False, "dnt": True}, "ip": "198.51.100.9",
     "user_agent": "mozilla/5.0 (x11; linux x86_64) firefox/131.0", "wp_user_id": 0,
     "country": "DK", "region": "", "city": "", "status": "pending", "error": None},
    {"id": "3e8f6cab-bc94-4a3d-8d76-6c6b4e5f7081", "action": "update", "method": "reject_all",
     "categories": {"necessary": True, "preferences": False, "statistics": False,
                    "marketing": False},
     "signals": {"gpc": False, "dnt": False}, "ip": "203.0.113.8", "user_agent": "",
     "wp_user_id": 0, "country": "", "region": "", "city": "", "status": "pending",
     "error": None, "erase": True},
    {"id": "4f907dbc-cda5-4b4e-9e87-7d7c5f608192", "action": "grant", "method": "gpc",
     "categories": {"necessary": True, "preferences": False, "statistics": False,
                    "marketing": False},
     "signals": {"gpc": True, "dnt": True}, "ip": "203.0.113.7",
     "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0", "wp_user_id": 0,
     "country": "SE", "region": "", "city": "", "status": "pending", "error": None},
]


def _logical(n: int, r: dict) -> dict:
    return {"id": r["id"], "event_id": f"5a0b8ecd-dea6-4c5f-8f98-8e8d60719{n:03d}",
            "subject_id": f"6b1c9fde-efb7-4d60-a0a9-9f9e7182a{n:03d}",
            "action": r["action"], "method": r["method"], "categories": r["categories"],
            "page_url": f"https://site.test/page-{n}/?q=ü", "policy_version": "3",
            "banner_version": "b4nn3r", "language": "sv-SE", "signals": r["signals"],
            "ip": r["ip"], "country": r["country"], "region": r["region"], "city": r["city"],
            "user_agent": r["user_agent"], "wp_user_id": r["wp_user_id"],
            "occurred_at": f"2026-10-0{n + 1}T08:00:00.123456Z",
            "received_at": f"2026-10-0{n + 1}T08:00:01.654321Z"}


def _write_as_before(url: str) -> list[dict]:
    """Insert RECORDS as the code before 007 stored them (text UUIDs, JSON, hex hashes and
    fingerprints); erase the one marked so as it erased; seal the first two with the old
    unkeyed chain (before migration 004). Return what the API showed of each."""
    shown = []
    for n, r in enumerate(RECORDS):
        rec = _logical(n, r)
        salt = ledger.new_salt()
        digest = ledger.personal_digest(rec, salt)
        rec["hash"] = ledger.record_hash(rec, digest)
        fp = ip_fingerprint(rec["ip"], "full", KEYS)
        t = {k: datetime.fromisoformat(rec[k].replace("Z", "")) for k in ("occurred_at",
                                                                         "received_at")}
        if r.get("erase"):  # a tombstone as _erase left it
            vals = (rec["id"], rec["event_id"], ledger.ERASED_SUBJECT, rec["action"],
                    rec["method"], json.dumps(rec["categories"]), "", "3", "b4nn3r", "sv-SE",
                    json.dumps(rec["signals"]), None, "", "", "", "", 0, t["occurred_at"],
                    t["received_at"], "erased", None, rec["hash"], digest, None, None,
                    datetime(2026, 11, 1))
        else:
            vals = (rec["id"], rec["event_id"], rec["subject_id"], rec["action"],
                    rec["method"], json.dumps(rec["categories"]), rec["page_url"], "3",
                    "b4nn3r", "sv-SE", json.dumps(rec["signals"]), rec["ip"], rec["country"],
                    rec["region"], rec["city"], rec["user_agent"], rec["wp_user_id"],
                    t["occurred_at"], t["received_at"], r["status"], r["error"], rec["hash"],
                    digest, salt, fp, None)
        run_sql(url, f"INSERT INTO `{P}sp_consents` ({OLD_COLUMNS}) VALUES"
                     f" ({','.join(['%s'] * 26)})", vals)
        shown.append({**rec, "erased": bool(r.get("erase")), "status": r["status"],
                      "error": r["error"]})
    head = ledger.GENESIS
    for pos, rec in enumerate(shown[:2], 1):
        head = ledger.legacy_link(head, rec["hash"], pos)
        run_sql(url, f"UPDATE `{P}sp_consents` SET chain_pos = %s, chain_hash = %s"
                     " WHERE id = %s", (pos, head, rec["id"]))
    run_sql(url, f"INSERT INTO `{P}sp_seals` (version, first_pos, last_pos, records,"
                 " prev_head, head, sealed_at) VALUES (1, 1, 2, 2, %s, %s, NOW())",
            (ledger.GENESIS, head))
    run_sql(url, f"UPDATE `{P}sp_consents` SET seal_id = LAST_INSERT_ID()"
                 " WHERE chain_pos IS NOT NULL")
    return shown


def _api_view(rec: dict) -> dict:
    keys = ("id", "event_id", "subject_id", "action", "method", "categories", "page_url",
            "policy_version", "banner_version", "language", "signals", "ip", "country",
            "region", "city", "user_agent", "wp_user_id", "occurred_at", "received_at", "hash")
    # A row the old code left `pending` with no queue entry reads as skipped now: nothing
    # will render it (records.NOT_QUEUED), whatever form the row is stored in.
    shot = {"status": rec["status"], "error": rec["error"]}
    if shot == {"status": "pending", "error": None}:
        shot = {"status": "skipped", "error": records.NOT_QUEUED}
    return {**{k: rec[k] for k in keys}, "screenshot": shot}


def _check_migrated(client, url, shown) -> None:
    h = admin_headers()
    report = ledger.verify(url, P, KEYS)
    assert report["ok"], report["problems"]
    assert (report["records"], report["sealed"]) == (5, 0)
    for rec in shown:
        r = client.get(f"/v1/consents/{rec['id']}", headers=h)
        if rec["erased"]:
            assert r.status_code == 410
            continue
        got = r.get_json()
        got["screenshot"] = {k: got["screenshot"][k] for k in ("status", "error")}
        assert {k: got[k] for k in _api_view(rec)} == _api_view(rec)
    r = client.get("/v1/consents?wp_user_id=7", headers=h).get_json()  # via sp_wp_users
    assert [i["id"] for i in r["items"]] == [RECORDS[1]["id"]]
    lines = client.get("/v1/consents/export?format=ndjson", headers=h).data.decode()
    exported = {(x := json.loads(line))["id"]: x for line in lines.splitlines()}
    assert set(exported) == {r["id"] for r in shown if not r["erased"]}
    # the first keyed seal verifies the old chain (now in sp_legacy_chain) and converts it
    report = client.get("/v1/integrity", headers=h).get_json()
    assert report["ok"] and (report["records"], report["sealed"]) == (5, 5), report
    assert run_sql(url, f"SELECT chain_pos, legacy_head IS NOT NULL AS conv FROM"
                        f" `{P}sp_legacy_chain` lc JOIN `{P}sp_seals` s ON s.version = 2"
                        " AND s.first_pos = 1 ORDER BY chain_pos") == [
        {"chain_pos": 1, "conv": 1}, {"chain_pos": 2, "conv": 1}]
    # three distinct user agents, stored once each, byte for byte (case, trailing space)
    agents = sorted(r["user_agent"] for r in run_sql(url, f"SELECT user_agent FROM"
                                                          f" `{P}sp_user_agents`"))
    assert agents == sorted({r["user_agent"] for r in shown if r["user_agent"]})
    stats = client.get("/v1/stats?group_by=category", headers=h).get_json()["groups"]
    assert {g["key"]: g["granted"] for g in stats} == {
        "necessary": 4, "preferences": 1, "statistics": 2, "marketing": 1}
    # the converted 128-bit fingerprints still find exactly the address's records
    r = client.post("/v1/erasures", json={"ip": "203.0.113.7"}, headers=h)
    assert r.get_json() == {"erased": 2, "unattributed": 0}
    report = client.get("/v1/integrity", headers=h).get_json()
    assert report["ok"] and report["records"] == 5
    # the user agent only the erased records named is gone with them
    assert sorted(r["user_agent"] for r in run_sql(url, f"SELECT user_agent FROM"
                                                         f" `{P}sp_user_agents`")) == \
        sorted([RECORDS[1]["user_agent"], RECORDS[2]["user_agent"]])


def _columns(url: str) -> set[str]:
    return {r["COLUMN_NAME"] for r in run_sql(
        url, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA ="
             " DATABASE() AND TABLE_NAME = %s", (f"{P}sp_consents",))}


@pytest.fixture
def old_db(test_db, make_app):
    make_app()  # the session's own tables (prefix t_) exist; ours are apart (m7_)
    _old_schema(test_db)
    return test_db


def _app(make_app):
    return make_app(SP_TABLE_PREFIX=P)  # migrates (007), as a sidecar does at start


def test_records_written_before_read_and_verify_the_same_after_migration_007(old_db,
                                                                             make_app):
    shown = _write_as_before(old_db)
    assert "user_agent" in _columns(old_db)
    client = _app(make_app).test_client()
    assert "user_agent" not in _columns(old_db) and "chain_pos" not in _columns(old_db)
    _check_migrated(client, old_db, shown)


@pytest.mark.parametrize("crash_after", ["the copy", "the swap"])
def test_migration_007_finishes_after_a_crash_midway(old_db, make_app, crash_after):
    shown = _write_as_before(old_db)
    sql = dict((v, s) for v, _, s in db._migrations())[7].replace("{prefix}", P)
    statements = db._statements(sql)
    marker = (f"INSERT INTO `{P}sp_consents_007`" if crash_after == "the copy"
              else "RENAME TABLE")
    stop = next(i for i, s in enumerate(statements) if marker in s) + 3  # SET, PREPARE, EXECUTE
    conn = db.connect(old_db)
    try:
        with conn.cursor() as cur:
            for statement in statements[:stop]:
                cur.execute(statement)
        conn.commit()
    finally:
        conn.close()  # the process dies here; 007 is not recorded as applied
    client = _app(make_app).test_client()
    tables = {next(iter(r.values())) for r in run_sql(old_db, f"SHOW TABLES LIKE '{P}%%'")}
    assert not {f"{P}sp_consents_006", f"{P}sp_consents_007"} & tables
    _check_migrated(client, old_db, shown)


def test_migration_007_refuses_a_row_it_cannot_convert_and_changes_nothing(old_db, make_app):
    _write_as_before(old_db)
    run_sql(old_db, f"UPDATE `{P}sp_consents` SET categories = '{{\"necessary\": true}}'"
                    " WHERE id = %s", (RECORDS[4]["id"],))
    with pytest.raises(pymysql.err.ProgrammingError, match="sp007_conversion_failed_at_seq_5"):
        db.migrate(old_db, P)
    assert "user_agent" in _columns(old_db)  # the live table is still the old one
    assert run_sql(old_db, f"SELECT COUNT(*) AS n FROM `{P}sp_consents`")[0]["n"] == 5


def test_migration_007_on_an_empty_table(old_db, make_app):
    client = _app(make_app).test_client()
    assert "ua_id" in _columns(old_db)
    assert client.get("/v1/integrity", headers=admin_headers()).get_json()["ok"] is True


def test_stored_vocabularies_match_validation(make_app, test_db):
    """action, method and screenshot status are ENUMs and categories and signals bit sets
    (migration 007, codec.py): a value validation accepts must have its place there, so a
    new method or category needs a migration, and this test says so."""
    from sidecar import codec, validation
    make_app()
    types = {r["COLUMN_NAME"]: r["COLUMN_TYPE"] for r in run_sql(
        test_db, "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE"
                 " TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 't_sp_consents'")}
    for column, values in (("action", validation.ACTIONS), ("method", validation.METHODS)):
        assert types[column] == "enum(" + ",".join(f"'{v}'" for v in values) + ")", column
    assert types["screenshot_status"] == "enum('pending','done','failed','skipped','erased')"
    # 007 converted the JSON of exactly these names, in this order (bit i = name i)
    assert list(codec.CATEGORY_BIT) == ["necessary", "preferences", "statistics", "marketing"]
    assert list(codec.SIGNAL_BIT) == ["gpc", "dnt"]
    assert types["categories"].startswith("tinyint") and len(codec.CATEGORY_BIT) <= 8
