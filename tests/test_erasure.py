"""Erasure leaves nothing of the erased visitor and nothing less of anyone else (issue 10,
F3 and F7) — against the real MariaDB; the screenshot worker's database side runs for real,
its browser is replaced by a fixed picture (tests/e2e/test_screenshots.py runs Chromium)."""

from __future__ import annotations

import hashlib

import pytest
from fake_worker import run_worker
from helpers import SITE, admin_headers, consent_payload, make_token, secret

from sidecar import codec, renders


def ingest(client, **overrides) -> str:
    r = client.post("/v1/consents", json={"token": make_token(consent_payload(**overrides))})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def record(client, rid) -> dict:
    return client.get(f"/v1/consents/{rid}", headers=admin_headers()).get_json()


def erase(client, **body) -> dict:
    r = client.post("/v1/erasures", json=body, headers=admin_headers())
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def tables_holding(sql, needle: str) -> list[str]:
    """The sidecar tables (prefix t_) in which any column holds `needle`."""
    found = []
    for row in sql("SHOW TABLES LIKE 't\\_sp\\_%%'"):
        name = next(iter(row.values()))
        for r in sql(f"SELECT * FROM `{name}`"):
            text = " ".join(v.decode("latin-1") if isinstance(v, bytes) else str(v)
                            for v in r.values())
            if needle.lower() in text.lower():
                found.append(name)
                break
    return found


# ---- F3: a shared render holds nothing of any one visitor ------------------------------
@pytest.mark.parametrize("url,proof", [
    (SITE + "/offer/?gclid=Cj0KCQ-1&utm_term=alice%40example.com&utm_source=g",
     SITE + "/offer/"),
    (SITE + "/?page_id=2&fbclid=IwAR9&email=bob@example.org&colour=red#top",
     SITE + "/?colour=red&page_id=2"),
    (SITE + "/search/?s=shoes&msclkid=7a&lang=sv&_wpnonce=f00d",
     SITE + "/search/?lang=sv&s=shoes"),
    ("HTTP://User:pw@Site.Test:80/a?x=carol%2Bx@mail.example", "http://site.test/a"),
    (SITE + "/profile/dave@example.com/", None),
])
def test_proof_url_keeps_nothing_of_the_visitor(url, proof):
    assert renders.proof_url(url) == proof


def test_erasing_one_visitor_leaves_no_trace_in_a_render_another_visitor_shares(
        make_app, sql):
    app = make_app()
    c = app.test_client()
    first_url = SITE + "/offer/?gclid=GCLID-OF-ALICE&utm_term=alice%40example.com"
    alice = ingest(c, page_url=first_url, ip="198.51.100.1")
    bob = ingest(c, page_url=SITE + "/offer/?fbclid=FBCLID-OF-BOB", ip="198.51.100.2")
    worker = run_worker(app)
    # One render for both, of the page as nobody in particular sees it; that is what the
    # browser was asked to load, and what the render and its images record.
    assert worker.loaded == [SITE + "/offer/"]
    (render,) = sql("SELECT id, page_url, final_url FROM t_sp_renders")
    assert render["page_url"] == render["final_url"] == SITE + "/offer/"
    assert {r["page_url"] for r in sql("SELECT page_url FROM t_sp_screenshots")} == \
        {SITE + "/offer/"}
    assert record(c, alice)["screenshot"]["status"] == "done"

    assert erase(c, subject_id=record(c, alice)["subject_id"]) == {"erased": 1}
    for needle in ("GCLID-OF-ALICE", "alice@example.com", "alice%40example.com",
                   "198.51.100.1"):
        assert tables_holding(sql, needle) == [], needle
    shot = record(c, bob)["screenshot"]
    assert shot["status"] == "done"
    r = c.get(f"/v1/consents/{bob}/screenshot", headers=admin_headers())
    assert r.status_code == 200 and r.mimetype == "image/webp"


def test_erasure_cleans_a_shared_render_made_before_proof_urls(make_app, sql):
    """Renders stored by earlier versions recorded the first visitor's full URL, and were
    linked from each consent row (`render_id`, before migration 006)."""
    app = make_app()
    c = app.test_client()
    alice = ingest(c, page_url=SITE + "/offer/?gclid=OLD-GCLID")
    bob = ingest(c, page_url=SITE + "/offer/")
    run_worker(app)
    sql("UPDATE t_sp_consents SET render_id = (SELECT MIN(id) FROM t_sp_renders),"
        " render_key = NULL, screenshot_status = 'done'")
    legacy = SITE + "/offer/?gclid=OLD-GCLID&utm_term=alice%40example.com"
    sql("UPDATE t_sp_renders SET page_url = %s, final_url = %s", (legacy, legacy))
    sql("UPDATE t_sp_screenshots SET page_url = %s", (legacy,))
    erase(c, subject_id=record(c, alice)["subject_id"])
    assert tables_holding(sql, "OLD-GCLID") == []
    assert sql("SELECT page_url, final_url FROM t_sp_renders") == [
        {"page_url": SITE + "/offer/", "final_url": SITE + "/offer/"}]
    assert record(c, bob)["screenshot"]["status"] == "done"


def test_a_page_url_with_an_address_in_its_path_is_not_rendered(make_app, sql):
    app = make_app()
    c = app.test_client()
    rid = ingest(c, page_url=SITE + "/u/erin@example.com/")
    shot = record(c, rid)["screenshot"]
    assert shot["status"] == "skipped" and "e-mail" in shot["error"]
    run_worker(app)  # seals the record: no render job for it
    assert sql("SELECT COUNT(*) AS n FROM t_sp_render_jobs")[0]["n"] == 0


# ---- F7: erasure by IP erases that address, not its network ----------------------------

def test_truncated_storage_erases_only_the_exact_address(make_app, sql):
    c = make_app(SP_IP_STORAGE="truncated").test_client()
    mine = [ingest(c, ip="193.10.5.77") for _ in range(2)]
    neighbour = ingest(c, ip="193.10.5.78")
    v6_mine = ingest(c, ip="2a02:1234:abcd:12::1")
    v6_other = ingest(c, ip="2a02:1234:abcd:99::1")
    assert {record(c, i)["ip"] for i in (*mine, neighbour)} == {"193.10.5.0"}

    assert erase(c, ip="193.10.5.77") == {"erased": 2, "unattributed": 0}
    # another spelling of the same IPv6 address is the same address
    assert erase(c, ip="2a02:1234:abcd:12:0:0:0:1") == {"erased": 1, "unattributed": 0}
    for i in (*mine, v6_mine):
        assert c.get(f"/v1/consents/{i}", headers=admin_headers()).status_code == 410
    for i in (neighbour, v6_other):
        assert record(c, i)["erased"] is False
    fp = {codec.uuid_from_db(r["id"]): r["ip_fp"]
          for r in sql("SELECT id, ip_fp FROM t_sp_consents")}
    assert fp[mine[0]] is None and len(fp[neighbour]) == 16  # erased: its fingerprint too


def test_the_fingerprint_is_keyed_and_matches_under_every_ledger_key(make_app, sql):
    old = make_app(SP_IP_STORAGE="truncated", SP_LEDGER_KEYS=secret("ledger-key-1")).test_client()
    rid = ingest(old, ip="193.10.5.77")
    (row,) = sql("SELECT ip, ip_fp FROM t_sp_consents WHERE id = %s",
                 (codec.uuid_to_db(rid),))
    assert row["ip"] == "193.10.5.0" and len(row["ip_fp"]) == 16  # 128 bits of the HMAC
    assert row["ip_fp"] != hashlib.sha256(b"193.10.5.77").digest()[:16]
    # The key rotated: the old key is still listed (oldest first), so the record is found.
    new = make_app(SP_IP_STORAGE="truncated",
                   SP_LEDGER_KEYS=f"{secret('ledger-key-1')},{secret('ledger-key-2')}",
                   ).test_client()
    other = ingest(new, ip="193.10.5.77")
    assert erase(new, ip="193.10.5.77") == {"erased": 2, "unattributed": 0}
    # Without the key that made it, a fingerprint matches nothing.
    rid = ingest(old, ip="193.10.5.80")
    only_new = make_app(SP_IP_STORAGE="truncated",
                        SP_LEDGER_KEYS=secret("ledger-key-2")).test_client()
    assert erase(only_new, ip="193.10.5.80")["erased"] == 0
    assert record(old, rid)["erased"] is False and other


def test_rows_stored_before_fingerprints_are_reported_not_silently_erased(make_app, sql):
    c = make_app(SP_IP_STORAGE="truncated").test_client()
    legacy = [ingest(c, ip="193.10.5.77"), ingest(c, ip="193.10.5.78")]
    sql("UPDATE t_sp_consents SET ip_fp = NULL")  # as stored before migration 005
    fresh = ingest(c, ip="193.10.5.77")
    assert erase(c, ip="193.10.5.77") == {"erased": 1, "unattributed": 2}
    assert [record(c, i)["erased"] for i in legacy] == [False, False]
    assert c.get(f"/v1/consents/{fresh}", headers=admin_headers()).status_code == 410
    # The operator decides: erase the /24's unattributable rows too.
    assert erase(c, ip="193.10.5.77", unattributed=True) == {"erased": 2, "unattributed": 0}

    # Old rows of `full` mode hold the whole address: they are matched exactly.
    f = make_app(SP_IP_STORAGE="full").test_client()
    mine, theirs = ingest(f, ip="198.51.100.7"), ingest(f, ip="198.51.100.8")
    sql("UPDATE t_sp_consents SET ip_fp = NULL")
    assert erase(f, ip="198.51.100.7") == {"erased": 1, "unattributed": 0}
    assert record(f, theirs)["erased"] is False and mine


def test_none_mode_keeps_nothing_derived_from_the_address(make_app, sql):
    c = make_app(SP_IP_STORAGE="none").test_client()
    rid = ingest(c, ip="193.10.5.77")
    assert sql("SELECT ip, ip_fp FROM t_sp_consents WHERE id = %s",
               (codec.uuid_to_db(rid),)) == [
        {"ip": None, "ip_fp": None}]
    assert erase(c, ip="193.10.5.77") == {"erased": 0, "unattributed": 0}


# ---- user agents are stored once (migration 007): erasure leaves none of the visitor's -------

def test_erasure_deletes_a_user_agent_no_record_names_any_more_and_the_user_link(make_app, sql):
    c = make_app().test_client()
    shared = "Mozilla/5.0 (X11; Linux x86_64) Shared/1.0"
    rare = "RareBrowser/9.9 (custom build 4f1c-alice)"
    mine = [ingest(c, user_agent=rare, subject_id="9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                   wp_user_id=42),
            ingest(c, user_agent=shared, subject_id="9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")]
    theirs = ingest(c, user_agent=shared)
    assert sql("SELECT COUNT(*) AS n FROM t_sp_user_agents")[0]["n"] == 2  # stored once each
    assert [record(c, i)["user_agent"] for i in (*mine, theirs)] == [rare, shared, shared]
    assert tables_holding(sql, "RareBrowser") == ["t_sp_user_agents"]

    assert sql("SELECT wp_user_id FROM t_sp_wp_users") == [{"wp_user_id": 42}]
    assert erase(c, subject_id="9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d") == {"erased": 2}
    assert tables_holding(sql, "RareBrowser") == []  # no record names it: deleted
    assert not sql("SELECT wp_user_id FROM t_sp_wp_users")  # nor links the user to it
    assert record(c, theirs)["user_agent"] == shared  # still named by another record
    assert c.get("/v1/integrity", headers=admin_headers()).get_json()["ok"] is True
    # the same string arriving again is stored again
    again = ingest(c, user_agent=rare)
    assert record(c, again)["user_agent"] == rare


def test_erasure_keeps_a_user_agent_an_ingest_in_flight_just_used(make_app, sql, test_db):
    """An ingest that found the user agent already stored (INSERT IGNORE) and has not
    committed yet: erasing the only other record that names it must not delete the row
    from under it. The erasure waits for the ingest, then sees its record."""
    import threading

    from helpers import db_conn

    from sidecar import commit, db
    from sidecar.validation import validate_consent

    app = make_app()
    c = app.test_client()
    agent = "LonelyBrowser/1.0"
    first = ingest(c, user_agent=agent)

    class Collect:
        def write(self, item):
            self.item = item

    got = Collect()
    cfg = dict(app.config)
    rec, _ = commit.insert_consent(None, db.Tables("t_"),
                                   validate_consent(consent_payload(user_agent=agent)), cfg,
                                   committer=got)
    t = db.Tables("t_")
    with db_conn(test_db) as slow:
        with slow.cursor() as cur:  # ingest's statements, not committed yet
            cur.execute(commit.UA_INSERT.format(user_agents=t.user_agents) + "(%s,%s)",
                        got.item.ua)
            cur.execute(commit.CONSENT_INSERT.format(consents=t.consents)
                        + commit.CONSENT_ROW, got.item.consent)
        done = []
        eraser = threading.Thread(target=lambda: done.append(
            c.delete(f"/v1/consents/{first}", headers=admin_headers()).status_code))
        eraser.start()
        eraser.join(0.5)
        assert eraser.is_alive()  # waits for the ingest holding the user agent's row
        slow.commit()
        eraser.join(10)
    assert done == [204]
    assert record(c, rec["id"])["user_agent"] == agent
    assert c.get("/v1/integrity", headers=admin_headers()).get_json()["ok"] is True


def test_erasure_by_ip_does_not_wait_for_unrelated_ingests(make_app, sql, test_db):
    """Without an index on the stored `ip` (migration 007), the rows an IP erasure must look
    at are found by a plain read first and locked by `seq`: an uncommitted ingest of another
    visitor does not hold the erasure up (nor would the erasure hold up ingest)."""
    import threading

    from helpers import db_conn

    from sidecar import commit, db
    from sidecar.validation import validate_consent

    app = make_app(SP_IP_STORAGE="none")
    c = app.test_client()
    ingest(c, ip="192.0.2.10")

    class Collect:
        def write(self, item):
            self.item = item

    got = Collect()
    commit.insert_consent(None, db.Tables("t_"), validate_consent(consent_payload(
        ip="198.51.100.99")), dict(app.config), committer=got)
    t = db.Tables("t_")
    with db_conn(test_db) as slow:
        with slow.cursor() as cur:  # another visitor's ingest, not committed yet
            if got.item.ua:
                cur.execute(commit.UA_INSERT.format(user_agents=t.user_agents) + "(%s,%s)",
                            got.item.ua)
            cur.execute(commit.CONSENT_INSERT.format(consents=t.consents)
                        + commit.CONSENT_ROW, got.item.consent)
        done = []
        eraser = threading.Thread(target=lambda: done.append(erase(c, ip="192.0.2.10")))
        eraser.start()
        eraser.join(5)
        blocked = eraser.is_alive()
        slow.commit()
        eraser.join(60)
    assert not blocked
    assert done == [{"erased": 0, "unattributed": 0}]  # `none` keeps nothing to match
