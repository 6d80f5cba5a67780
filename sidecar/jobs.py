"""The screenshot queue in the site's database: render jobs written by each seal for the
records it took (one job per render, its range of chain positions extended as records
come), claiming jobs under a lease, retries with backoff, the render lock, stored images
and renders. A job is also the set-wise link between consents and their proof:
`records.py` finds a consent's render through the job of its render key whose range holds
the consent's chain position. No function here writes a consent row. The browser loop
that works the queue is `screenshots.Worker`.

Every function takes a connection (or, for `queue_renders`, the seal's cursor) and the
`db.Tables` of the site; each commits what it did before it returns.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from datetime import timedelta

from . import codec, ledger, renders
from .clock import utcnow
from .db import Tables, transaction

JOB_COLUMNS = ("id, render_key, page_url, viewport, language, banner_version, attempts,"
               " created_at")


def job_of_consent(t: Tables) -> str:
    """The JOIN condition between a consent `c` at chain position `ch` and its render job
    `j`: the job of its render key whose range of positions holds `ch.pos`."""
    return (f"j.id = (SELECT j2.id FROM {t.render_jobs} j2 WHERE j2.key16 = c.render_key"
            " AND j2.first_pos <= ch.pos ORDER BY j2.first_pos DESC LIMIT 1)"
            " AND ch.pos <= j.last_pos")


def renders_in_use(cur, t: Tables, render_ids: list) -> set:
    """Those of `render_ids` that still prove a consent not erased (through a render job,
    or for rows stored before migration 006 through `render_id`). One indexed look-up per
    render that stops at the first consent found."""
    kept = set()
    for render_id in render_ids:
        cur.execute(f"SELECT 1 FROM {t.render_jobs} j"
                    f" JOIN {t.chain} ch ON ch.pos BETWEEN j.first_pos AND j.last_pos"
                    f" JOIN {t.consents} c ON c.seq = ch.consent_seq AND c.render_key = j.key16"
                    " WHERE j.render_id = %s AND c.erased_at IS NULL LIMIT 1", (render_id,))
        found = cur.fetchall()
        if not found:
            cur.execute(f"SELECT 1 FROM {t.consents} WHERE render_id = %s"
                        " AND erased_at IS NULL LIMIT 1", (render_id,))
            found = cur.fetchall()
        if found:
            kept.add(render_id)
    return kept


def queue_renders(cur, t: Tables, freshness: int, first_pos: int, last_pos: int) -> int:
    """In the transaction of the seal of chain positions first_pos..last_pos: give the
    records of each render key among them a render job. The key's newest job covers them
    (its range is extended to `last_pos`) while it is queued or running, or done with a
    render made within `freshness` seconds before the newest of them (the render is
    reused, nothing is rendered); otherwise a new job is queued. Return the number of new
    jobs."""
    cur.execute(f"SELECT c.render_key AS key16, MIN(c.seq) AS seq, COUNT(*) AS n,"
                f" MIN(ch.pos) AS first, MAX(c.received_at) AS newest FROM {t.chain} ch"
                f" JOIN {t.consents} c ON c.seq = ch.consent_seq"
                " WHERE ch.pos BETWEEN %s AND %s AND c.render_key IS NOT NULL"
                " AND c.erased_at IS NULL GROUP BY c.render_key", (first_pos, last_pos))
    keys = cur.fetchall()
    if not keys:
        return 0
    # The newest job of each key (its last range), locked: one query for all keys.
    marks = ",".join(["%s"] * len(keys))
    cur.execute(f"SELECT j.id, j.key16, j.status, r.created_at AS rendered"
                f" FROM {t.render_jobs} j JOIN (SELECT key16, MAX(first_pos) AS first_pos"
                f" FROM {t.render_jobs} WHERE key16 IN ({marks}) GROUP BY key16) n"
                " ON n.key16 = j.key16 AND n.first_pos = j.first_pos"
                f" LEFT JOIN {t.renders} r ON r.id = j.render_id FOR UPDATE",
                [bytes(k["key16"]) for k in keys])
    newest = {bytes(r["key16"]): r for r in cur.fetchall()}
    extend, added = [], []
    for k in keys:
        job = newest.get(bytes(k["key16"]))
        if job and (job["status"] in ("queued", "running") or (
                job["status"] == "done" and job["rendered"] is not None
                and job["rendered"] >= k["newest"] - timedelta(seconds=freshness))):
            extend.append((job["id"], k["n"]))
        else:
            added.append(k)
    if extend:  # their ranges take in this seal: one UPDATE for all
        cases = " ".join(["WHEN %s THEN %s"] * len(extend))
        cur.execute(f"UPDATE {t.render_jobs} SET last_pos = %s, consents = consents +"
                    f" CASE id {cases} END WHERE id IN ({','.join(['%s'] * len(extend))})",
                    [last_pos, *(v for pair in extend for v in pair),
                     *(job_id for job_id, _ in extend)])
    if not added:
        return 0
    marks = ",".join(["%s"] * len(added))
    cur.execute(f"SELECT c.seq, c.page_url, {codec.user_agent_sql()}, c.language,"
                f" c.banner_version FROM {t.consents} c{codec.user_agent_join(t.user_agents)}"
                f" WHERE c.seq IN ({marks})", [k["seq"] for k in added])
    samples = {r["seq"]: r for r in cur.fetchall()}
    now = utcnow()
    rows = []
    for k in added:
        c = samples[k["seq"]]
        proof = renders.proof_url(c["page_url"])
        if proof is None:  # ingest gives no key to such a page; an old row may have one
            continue
        viewport = renders.viewport_for(c["user_agent"])
        rows.append((bytes(k["key16"]), k["first"], last_pos,
                     renders.render_key(proof, c["banner_version"], viewport, c["language"]),
                     proof[:2048], viewport, c["language"], c["banner_version"], k["n"],
                     now, now))
    cur.executemany(
        f"INSERT INTO {t.render_jobs} (key16, first_pos, last_pos, render_key, page_url,"
        " viewport, language, banner_version, consents, status, available_at, created_at)"
        " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,'queued',%s,%s)", rows)
    return len(rows)


def seal(conn, cfg: dict, **kwargs) -> int:
    """Seal pending records into the ledger (ledger.seal) and queue, in the same
    transaction, the renders that prove them. Every sealer goes through here."""
    t = Tables(cfg["SP_TABLE_PREFIX"])
    freshness = int(cfg.get("SP_SCREENSHOT_FRESHNESS", 86400))

    def on_sealed(cur, seal_id, first_pos, last_pos):
        queue_renders(cur, t, freshness, first_pos, last_pos)

    return ledger.seal(conn, cfg, on_sealed=on_sealed, **kwargs)


def claim(conn, t: Tables, lease_seconds: float) -> dict | None:
    """Take the oldest due job (or one whose worker's lease expired); None if none."""
    now = utcnow()
    lease = now + timedelta(seconds=lease_seconds)
    with transaction(conn) as cur:
        cur.execute(
            f"SELECT {JOB_COLUMNS} FROM {t.render_jobs}"
            " WHERE (status = 'queued' AND available_at <= %s)"
            " OR (status = 'running' AND locked_until < %s)"
            " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED", (now, now))
        job = cur.fetchone()
        if job:
            cur.execute(
                f"UPDATE {t.render_jobs} SET status = 'running',"
                " attempts = attempts + 1, locked_until = %s WHERE id = %s",
                (lease, job["id"]))
            job["attempts"] += 1
    return job


def fresh_render(conn, t: Tables, key: str, freshness: int) -> dict | None:
    """The newest render of `key` made within `freshness` seconds, or None."""
    with transaction(conn) as cur:
        cur.execute(f"SELECT id, image_id, banner_version, created_at FROM {t.renders}"
                    " WHERE render_key = %s AND created_at >= %s"
                    " ORDER BY id DESC LIMIT 1",
                    (key, utcnow() - timedelta(seconds=freshness)))
        return cur.fetchone()


@contextmanager
def render_lock(conn, t: Tables, key: str, timeout: float):
    """Hold the named lock of render key `key` (waiting up to `timeout` s), so two workers
    do not render the same thing at once."""
    lock = t.lock(f"render_{key[:40]}")
    with conn.cursor() as cur:
        cur.execute("SELECT GET_LOCK(%s, %s) AS got", (lock, timeout))
        cur.fetchall()
    try:
        yield
    finally:
        with conn.cursor() as cur:
            cur.execute("SELECT RELEASE_LOCK(%s)", (lock,))
            cur.fetchall()
        conn.commit()


def link(conn, t: Tables, job: dict, render: dict) -> int:
    """Mark this job, and every queued job of the same render key, done with `render`
    (set-wise: the consents of all of them are proven by it); return how many jobs."""
    with transaction(conn) as cur:
        return cur.execute(
            f"UPDATE {t.render_jobs} SET status = 'done', render_id = %s,"
            " locked_until = NULL, last_error = NULL, finished_at = %s"
            " WHERE id = %s OR (render_key = %s AND status = 'queued')",
            (render["id"], utcnow(), job["id"], job["render_key"]))


def fail(conn, t: Tables, job: dict, reason: str, final: bool, backoff: float) -> None:
    """Record a failed attempt. `final` marks the job failed (the dead letter), and with it
    every queued job of the same render key (the same page would fail the same way);
    otherwise they are all queued again after `backoff` * 2^(attempts-1) seconds."""
    same = "(id = %s OR (render_key = %s AND status = 'queued'))"
    with transaction(conn) as cur:
        if final:
            cur.execute(f"UPDATE {t.render_jobs} SET status = 'failed', locked_until = NULL,"
                        f" last_error = %s, finished_at = %s WHERE {same}",
                        (reason, utcnow(), job["id"], job["render_key"]))
        else:
            delay = timedelta(seconds=backoff * 2 ** (job["attempts"] - 1))
            cur.execute(f"UPDATE {t.render_jobs} SET status = 'queued', locked_until = NULL,"
                        f" available_at = %s, last_error = %s WHERE {same}",
                        (utcnow() + delay, reason, job["id"], job["render_key"]))


# A worker writes its row at least this often; one not seen for WORKER_GONE seconds is gone.
HEARTBEAT_SECONDS = 10
WORKER_GONE = 60


def heartbeat(conn, t: Tables, name: str, host: str, pid: int, started_at, renders: int) -> None:
    """Record that worker `name` is alive (its row is written, or its time updated)."""
    with transaction(conn) as cur:
        cur.execute(f"INSERT INTO {t.workers} (name, host, pid, started_at, seen_at, renders)"
                    " VALUES (%s, %s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE"
                    " seen_at = VALUES(seen_at), renders = VALUES(renders)",
                    (name[:191], host[:191], pid, started_at, utcnow(), renders))


def workers(conn, t: Tables) -> list[dict]:
    """The workers seen in the last day, most recent first, each with `alive` (seen within
    WORKER_GONE seconds) and `seen_seconds_ago`."""
    now = utcnow()
    with transaction(conn) as cur:
        cur.execute(f"SELECT name, host, pid, started_at, seen_at, renders FROM {t.workers}"
                    " WHERE seen_at >= %s ORDER BY seen_at DESC LIMIT 20",
                    (now - timedelta(days=1),))
        rows = cur.fetchall()
    for r in rows:
        ago = max(0.0, (now - r["seen_at"]).total_seconds())
        r.update(seen_seconds_ago=round(ago, 1), alive=ago <= WORKER_GONE)
    return rows


def queue_depth(conn, t: Tables) -> int:
    """Render jobs queued or running."""
    with transaction(conn) as cur:
        cur.execute(f"SELECT COUNT(*) AS n FROM {t.render_jobs}"
                    " WHERE status IN ('queued', 'running')")
        return int(cur.fetchone()["n"])


def store_image(conn, t: Tables, data: bytes, mime: str, width: int, height: int,
                page_url: str) -> int:
    """Store an encoded picture once per content; return its id."""
    digest = hashlib.sha256(data).hexdigest()
    with transaction(conn) as cur:
        cur.execute(f"INSERT IGNORE INTO {t.screenshots} (sha256, mime, width,"
                    " height, image, page_url, created_at) VALUES (%s,%s,%s,%s,%s,%s,%s)",
                    (digest, mime, width, height, data, page_url[:2048], utcnow()))
        cur.execute(f"SELECT id FROM {t.screenshots} WHERE sha256 = %s", (digest,))
        return cur.fetchone()["id"]


def save_render(conn, t: Tables, job: dict, shot: dict, width: int, height: int,
                image_id: int, thumb_id: int) -> dict:
    """Record the render of `job` (`shot` as `Worker.render` returns it, its images stored);
    return {id, image_id, banner_version, created_at} for `link`."""
    text = shot["banner_text"]
    now = utcnow()
    with transaction(conn) as cur:
        cur.execute(
            f"INSERT INTO {t.renders} (render_key, page_url, final_url, viewport,"
            " width, height, language, banner_version, banner_text, banner_text_hash,"
            " image_id, thumb_id, render_ms, created_at)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (job["render_key"], job["page_url"][:2048], shot["final_url"][:2048],
             job["viewport"], width, height, job["language"],
             shot["banner_version"][:64], text,
             hashlib.sha256(text.encode("utf-8")).hexdigest(), image_id, thumb_id,
             shot["ms"], now))
        render_id = cur.lastrowid
    return {"id": render_id, "image_id": image_id, "banner_version": shot["banner_version"],
            "created_at": now}
