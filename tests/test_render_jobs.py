"""Screenshot work keyed by render, not by consent (issue 11): ingest only inserts, the
worker never writes a consent row, one render job per render key and seal is the set-wise
link between consents and their proof — against the real MariaDB, with the worker's
database side for real and a fixed picture for its browser (tests/fake_worker.py)."""

from __future__ import annotations

from fake_worker import run_worker
from helpers import SITE, admin_headers, consent_payload, make_token

from sidecar.screenshots import RefusedPage


def ingest(client, **overrides) -> str:
    r = client.post("/v1/consents", json={"token": make_token(consent_payload(**overrides))})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def shot(client, rid) -> dict:
    return client.get(f"/v1/consents/{rid}", headers=admin_headers()).get_json()["screenshot"]


def test_the_worker_never_writes_a_consent_row_and_queues_one_job_per_render(make_app, sql):
    app = make_app()
    c = app.test_client()
    offer = [ingest(c, page_url=SITE + f"/offer/?utm_source=n{i}") for i in range(5)]
    about = ingest(c, page_url=SITE + "/about/")
    before = sql("SELECT * FROM t_sp_consents ORDER BY seq")
    worker = run_worker(app)
    assert sql("SELECT * FROM t_sp_consents ORDER BY seq") == before
    assert sorted(worker.loaded) == [SITE + "/about/", SITE + "/offer/"]
    jobs = sql("SELECT page_url, consents, status FROM t_sp_render_jobs ORDER BY page_url")
    assert jobs == [
        {"page_url": SITE + "/about/", "consents": 1, "status": "done"},
        {"page_url": SITE + "/offer/", "consents": 5, "status": "done"}]
    shots = [shot(c, rid) for rid in offer]
    assert {s["status"] for s in shots} == {"done"}
    assert len({s["taken_at"] for s in shots}) == 1  # one render proves all five
    assert shot(c, about)["status"] == "done" and shot(c, about)["taken_at"]
    r = c.get(f"/v1/consents/{offer[3]}/screenshot?size=thumb", headers=admin_headers())
    assert r.status_code == 200 and r.mimetype == "image/webp"
    from sidecar import db, records  # the counts the benches print read the same status
    conn = db.connect(app.config["SP_DATABASE_URL"])
    try:
        assert records.screenshot_counts(conn, db.Tables("t_")) == {"done": 6}
    finally:
        conn.close()


def test_a_fresh_render_is_reused_when_the_record_is_sealed(make_app, sql):
    app = make_app()
    c = app.test_client()
    first = ingest(c)
    assert run_worker(app).loaded == [SITE + "/about/"]
    later = ingest(c)
    assert shot(c, later)["status"] == "pending"  # not sealed yet
    worker = run_worker(app)
    assert worker.loaded == []  # nothing rendered again: the seal linked the fresh render
    # one job row for the render, its range extended over the later record
    assert sql("SELECT status, consents FROM t_sp_render_jobs") == [
        {"status": "done", "consents": 2}]
    assert shot(c, later)["taken_at"] == shot(c, first)["taken_at"]


def test_a_render_older_than_the_freshness_window_is_not_reused(make_app, sql):
    app = make_app(SP_SCREENSHOT_FRESHNESS="60")
    c = app.test_client()
    ingest(c)
    run_worker(app)
    sql("UPDATE t_sp_renders SET created_at = created_at - INTERVAL 2 MINUTE")
    later = ingest(c)
    assert run_worker(app).loaded == [SITE + "/about/"]
    assert sql("SELECT COUNT(*) AS n FROM t_sp_renders")[0]["n"] == 2
    assert shot(c, later)["status"] == "done"


def test_a_refused_page_fails_every_consent_of_its_key_with_the_reason(make_app, sql):
    app = make_app()
    c = app.test_client()
    rids = [ingest(c, page_url=SITE + "/shop/") for _ in range(3)]
    other = ingest(c, page_url=SITE + "/about/")
    run_worker(app, failure=RefusedPage("blocked request to http://tracker.test/x.js"))
    for rid in rids + [other]:
        s = shot(c, rid)
        assert (s["status"], s["error"], s["url"]) == \
            ("failed", "blocked request to http://tracker.test/x.js", None), s
    assert sql("SELECT status, attempts FROM t_sp_render_jobs ORDER BY id") == [
        {"status": "failed", "attempts": 1}, {"status": "failed", "attempts": 1}]
    r = c.get(f"/v1/consents/{rids[0]}/screenshot", headers=admin_headers())
    assert r.status_code == 404


def test_an_erased_record_shows_no_screenshot_and_others_of_its_render_keep_theirs(
        make_app, sql):
    app = make_app()
    c = app.test_client()
    alice, bob = ingest(c), ingest(c)
    run_worker(app)
    assert c.delete(f"/v1/consents/{alice}", headers=admin_headers()).status_code == 204
    assert c.get(f"/v1/consents/{alice}", headers=admin_headers()).status_code == 410
    assert c.get(f"/v1/consents/{alice}/screenshot", headers=admin_headers()).status_code \
        in (404, 410)
    assert sql("SELECT render_key, screenshot_status FROM t_sp_consents WHERE erased_at IS"
               " NOT NULL") == [{"render_key": None, "screenshot_status": "erased"}]
    assert shot(c, bob)["status"] == "done"
    assert sql("SELECT COUNT(*) AS n FROM t_sp_renders")[0]["n"] == 1
    # the render, and its images, go with the last consent it proves
    assert c.delete(f"/v1/consents/{bob}", headers=admin_headers()).status_code == 204
    assert sql("SELECT COUNT(*) AS n FROM t_sp_renders")[0]["n"] == 0
    assert sql("SELECT COUNT(*) AS n FROM t_sp_screenshots")[0]["n"] == 0


def test_migration_006_converts_the_old_per_consent_queue(make_app, sql):
    """A site upgrading with screenshots still queued in the old per-consent table: the
    sealed consent gets a render job in its seal, the unsealed one gets its job when it is
    sealed, and both end with their proof."""
    from sidecar import db, jobs, renders
    app = make_app()
    c = app.test_client()
    url, cfg = app.config["SP_DATABASE_URL"], app.config
    proof = SITE + "/about/"
    key = renders.render_key(proof, "b4nn3r", "desktop", "en-US")
    sealed = ingest(c)
    sql("UPDATE t_sp_consents SET render_key = NULL")
    conn = db.connect(url)
    try:
        assert jobs.seal(conn, cfg) == 1  # no render key: no job, as before 006
    finally:
        conn.close()
    unsealed = ingest(c)
    sql("UPDATE t_sp_consents SET render_key = NULL")
    # The schema as 005 left it: the old queue, one job per consent, no render_key column.
    sql("DROP TABLE t_sp_render_jobs")
    sql("ALTER TABLE t_sp_consents DROP COLUMN render_key")
    sql("DELETE FROM t_sp_migrations WHERE version = 6")
    sql("CREATE TABLE t_sp_screenshot_jobs (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT"
        " PRIMARY KEY, consent_seq BIGINT UNSIGNED NOT NULL, page_url VARCHAR(2048) NOT NULL,"
        " render_key CHAR(64) NOT NULL DEFAULT '', viewport VARCHAR(16) NOT NULL DEFAULT"
        " 'desktop', language VARCHAR(35) NOT NULL DEFAULT '', banner_version VARCHAR(64)"
        " NOT NULL DEFAULT '', status VARCHAR(16) NOT NULL DEFAULT 'queued', attempts INT"
        " UNSIGNED NOT NULL DEFAULT 0, available_at DATETIME(6) NOT NULL, locked_until"
        " DATETIME(6) NULL, last_error VARCHAR(255) NULL, created_at DATETIME(6) NOT NULL)")
    sql("INSERT INTO t_sp_screenshot_jobs (consent_seq, page_url, render_key, language,"
        " banner_version, status, available_at, created_at) SELECT seq, %s, %s, 'en-US',"
        " 'b4nn3r', 'queued', NOW(6), NOW(6) FROM t_sp_consents", (proof, key))

    assert db.migrate(url, "t_") == ["006_render_jobs.sql"]
    assert sql("SHOW TABLES LIKE 't\\_sp\\_screenshot\\_jobs'") == ()
    assert sql("SELECT COUNT(*) AS n FROM t_sp_consents WHERE render_key = UNHEX(LEFT(%s, 32))",
               (key,))[0]["n"] == 2
    assert sql("SELECT render_key, status, consents FROM t_sp_render_jobs") == [
        {"render_key": key, "status": "queued", "consents": 1}]
    assert shot(c, sealed)["status"] == shot(c, unsealed)["status"] == "pending"
    assert run_worker(app).loaded == [proof]
    assert shot(c, sealed)["status"] == shot(c, unsealed)["status"] == "done"
    # the open job took in the unsealed one when it was sealed
    assert sql("SELECT status, consents FROM t_sp_render_jobs") == [
        {"status": "done", "consents": 2}]


def test_consents_trickling_in_one_per_seal_share_one_job_row_per_render(make_app, sql):
    """A quiet site seals one record at a time: the job rows still grow with renders, not
    with consents."""
    app = make_app()
    c = app.test_client()
    rids = []
    for _ in range(6):
        rids.append(ingest(c))
        run_worker(app)
    assert sql("SELECT COUNT(*) AS n FROM t_sp_seals WHERE version = 2")[0]["n"] == 6
    assert sql("SELECT status, consents FROM t_sp_render_jobs") == [
        {"status": "done", "consents": 6}]
    assert sql("SELECT COUNT(*) AS n FROM t_sp_renders")[0]["n"] == 1
    assert {shot(c, rid)["status"] for rid in rids} == {"done"}


def test_one_seal_extends_the_jobs_of_known_keys_and_adds_jobs_for_new_ones(make_app, sql):
    app = make_app()
    c = app.test_client()
    for page in ("/a/", "/b/"):
        ingest(c, page_url=SITE + page)
    run_worker(app)
    for page in ("/a/", "/b/", "/c/"):
        ingest(c, page_url=SITE + page)
    assert run_worker(app).loaded == [SITE + "/c/"]  # /a/ and /b/ reuse their fresh renders
    assert sql("SELECT page_url, consents, status FROM t_sp_render_jobs ORDER BY page_url") == [
        {"page_url": SITE + "/a/", "consents": 2, "status": "done"},
        {"page_url": SITE + "/b/", "consents": 2, "status": "done"},
        {"page_url": SITE + "/c/", "consents": 1, "status": "done"}]


def test_a_backlog_is_sealed_batch_after_batch_without_waiting(make_app, sql):
    """After a pause or an outage the worker seals full batches back to back, not one batch
    a second."""
    import time

    from fake_worker import FakeBrowserWorker
    from helpers import bulk_consents

    from sidecar import config, ledger
    app = make_app()
    bulk_consents(app.config, ledger.SEAL_BATCH + 1, seal=False)
    w = FakeBrowserWorker(config.load(overrides={
        k: v for k, v in app.config.items() if k.startswith("SP_")}))
    w.loaded = []
    try:
        w.run_once()
        assert sql("SELECT COUNT(*) AS n FROM t_sp_chain")[0]["n"] == ledger.SEAL_BATCH
        assert w.next_seal <= time.monotonic()  # a full batch: the next seal is due now
        w.run_once()
        assert sql("SELECT COUNT(*) AS n FROM t_sp_chain")[0]["n"] == ledger.SEAL_BATCH + 1
        assert w.next_seal > time.monotonic()
    finally:
        w.conn.close()


def test_the_pacer_holds_browser_work_through_a_burst_for_at_most_its_bound():
    from sidecar.screenshots import RenderPacer
    p = RenderPacer(defer=30, rate=20)
    p.sealed(500, 100.0)  # the first seal has no interval to measure a rate over
    assert not p.waiting(100.0)
    p.sealed(19, 101.0)  # 19 a second: under the rate
    assert not p.waiting(101.0)
    p.sealed(40, 102.0)  # 40 a second: a burst begins
    assert p.waiting(102.0) and p.burst_since == 102.0
    p.sealed(3000, 102.5)  # still bursting: the burst keeps its start
    assert p.waiting(131.9) and p.burst_since == 102.0
    assert not p.waiting(132.0)  # never longer than the bound, however long the burst
    p.sealed(5, 133.0)  # the burst passed
    assert p.burst_since is None and not p.waiting(133.0)
    p.sealed(5000, 133.0)  # a seal right after another: no division by zero
    assert p.waiting(133.0)
    assert not RenderPacer(defer=0, rate=20).waiting(0.0)


def test_a_burst_of_consents_is_sealed_but_rendered_only_after_it(make_app, sql):
    """During a burst the worker seals (the ledger's promise) and starts no page load; the
    same job is rendered once the burst passed."""
    import time

    from fake_worker import FakeBrowserWorker

    from sidecar import config
    app = make_app()
    c = app.test_client()
    w = FakeBrowserWorker(config.load(overrides={
        **{k: v for k, v in app.config.items() if k.startswith("SP_")},
        "SP_RENDER_DEFER": "30", "SP_RENDER_DEFER_RATE": "20"}))
    w.loaded = []
    try:
        w.pacer.sealed(0, time.monotonic() - 1.0)  # the previous seal, a second ago
        for i in range(25):
            ingest(c, page_url=SITE + f"/sale/?utm_source=n{i}")
        assert w.run_once() is False  # 25 consents in about a second: a burst
        assert sql("SELECT COUNT(*) AS n FROM t_sp_chain")[0]["n"] == 25  # sealed
        assert w.loaded == []
        assert sql("SELECT status, consents FROM t_sp_render_jobs") == [
            {"status": "queued", "consents": 25}]
        w.next_seal = 0.0
        time.sleep(0.1)
        assert w.run_once() is True  # nothing new sealed: the burst passed
        assert w.loaded == [SITE + "/sale/"]
        assert sql("SELECT status FROM t_sp_render_jobs") == [{"status": "done"}]
    finally:
        w.conn.close()
