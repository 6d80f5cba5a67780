"""The screenshot queue in the site's database: claiming jobs under a lease, retries with
backoff, the render lock, stored images and renders, and linking consents to their render.
The browser loop that works the queue is `screenshots.Worker`.

Every function takes a connection and the `db.Tables` of the site; each commits what it
did before it returns.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from datetime import timedelta

from .clock import utcnow
from .db import Tables, transaction


def claim(conn, t: Tables, lease_seconds: float) -> dict | None:
    """Take the oldest due job (or one whose worker's lease expired); None if none."""
    now = utcnow()
    lease = now + timedelta(seconds=lease_seconds)
    with transaction(conn) as cur:
        cur.execute(
            f"SELECT id, consent_seq, page_url, render_key, viewport, language,"
            f" banner_version, attempts FROM {t.screenshot_jobs}"
            " WHERE (status = 'queued' AND available_at <= %s)"
            " OR (status = 'running' AND locked_until < %s)"
            " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED", (now, now))
        job = cur.fetchone()
        if job:
            cur.execute(
                f"UPDATE {t.screenshot_jobs} SET status = 'running',"
                " attempts = attempts + 1, locked_until = %s WHERE id = %s",
                (lease, job["id"]))
            job["attempts"] += 1
    return job


def fresh_render(conn, t: Tables, key: str, freshness: int) -> dict | None:
    """The newest render of `key` made within `freshness` seconds, or None."""
    with transaction(conn) as cur:
        cur.execute(f"SELECT id, image_id, banner_version FROM {t.renders}"
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
    """Point this job's consent — and every queued consent with the same key — at
    `render`; return the number of rows changed (consents and jobs)."""
    c, j = t.consents, t.screenshot_jobs
    set_ = ("c.screenshot_status = 'done', c.screenshot_id = %s, c.render_id = %s,"
            " c.screenshot_error = NULL, c.banner_mismatch = (c.banner_version <> %s),"
            " j.status = 'done', j.locked_until = NULL, j.last_error = NULL")
    args = (render["image_id"], render["id"], render["banner_version"])
    with transaction(conn) as cur:
        n = cur.execute(f"UPDATE {c} c JOIN {j} j ON j.consent_seq = c.seq SET {set_}"
                        " WHERE (j.id = %s OR (j.render_key = %s AND j.status = 'queued'))"
                        " AND c.erased_at IS NULL", (*args, job["id"], job["render_key"]))
        # a job whose consent was erased meanwhile has nothing left to prove
        cur.execute(f"UPDATE {j} SET status = 'done', locked_until = NULL WHERE id = %s",
                    (job["id"],))
    return n


def fail(conn, t: Tables, job: dict, reason: str, final: bool, backoff: float) -> None:
    """Record a failed attempt: `final` marks the job and its consent `failed` (the dead
    letter); otherwise the job is queued again after `backoff` * 2^(attempts-1) seconds."""
    with transaction(conn) as cur:
        if final:
            cur.execute(f"UPDATE {t.screenshot_jobs} SET status = 'failed',"
                        " locked_until = NULL, last_error = %s WHERE id = %s",
                        (reason, job["id"]))
            cur.execute(f"UPDATE {t.consents} SET screenshot_status = 'failed',"
                        " screenshot_error = %s WHERE seq = %s AND erased_at IS NULL",
                        (reason, job["consent_seq"]))
        else:
            delay = timedelta(seconds=backoff * 2 ** (job["attempts"] - 1))
            cur.execute(f"UPDATE {t.screenshot_jobs} SET status = 'queued',"
                        " locked_until = NULL, available_at = %s, last_error = %s"
                        " WHERE id = %s", (utcnow() + delay, reason, job["id"]))


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
    return {id, image_id, banner_version} for `link`."""
    text = shot["banner_text"]
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
             shot["ms"], utcnow()))
        render_id = cur.lastrowid
    return {"id": render_id, "image_id": image_id, "banner_version": shot["banner_version"]}
