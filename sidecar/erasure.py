"""Erasing consent records: tombstones by record, subject, IP address, WordPress user or
age. A tombstone keeps its hash and its place in the chain (docs/ledger.md) and loses every
personal field and its screenshot link; a render and its images go with the last record
they prove.

Every function takes a connection and the `db.Tables` of the site; none needs Flask.
"""

from __future__ import annotations

from datetime import datetime

from . import codec, jobs, ledger, renders
from .clock import utcnow
from .config import normalise_origin
from .db import Tables, transaction
from .ips import canonical_ip, ip_fingerprints, stored_ip


def _erase(conn, t: Tables, where: str, args: tuple) -> int:
    """Tombstone matching records: personal fields and salt blanked, screenshot unlinked,
    hash and chain kept (ledger.py). Images no record links to any more are deleted."""
    now = utcnow()
    with transaction(conn) as cur:
        cur.execute(f"SELECT seq, ua_id, wp_user_id FROM {t.consents} WHERE ({where})"
                    " AND erased_at IS NULL FOR UPDATE", args)
        locked = cur.fetchall()
        seqs = [r["seq"] for r in locked]
        if not seqs:
            return 0
        marks = ",".join(["%s"] * len(seqs))
        # The render that proves each: through its render job, or (rows stored before
        # migration 006) its own `render_id`.
        cur.execute(f"SELECT IF(c.render_key IS NULL, c.render_id, j.render_id) AS render_id"
                    f" FROM {t.consents} c LEFT JOIN {t.chain} ch ON ch.consent_seq = c.seq"
                    f" LEFT JOIN {t.render_jobs} j ON c.render_key IS NOT NULL"
                    f" AND {jobs.job_of_consent(t)} WHERE c.seq IN ({marks})", seqs)
        rows = cur.fetchall()
        cur.execute(
            f"UPDATE {t.consents} SET subject_id = %s, page_url = '', ip = NULL, ip_fp = NULL,"
            " country = '',"
            " region = '', city = '', ua_id = NULL, wp_user_id = 0, salt = NULL,"
            " screenshot_id = NULL, render_id = NULL, render_key = NULL, banner_mismatch = NULL,"
            " screenshot_status = 'erased', screenshot_error = NULL,"
            f" erased_at = %s WHERE seq IN ({marks})",
            (codec.uuid_to_db(ledger.ERASED_SUBJECT), now, *seqs))
        _drop_unused_agents(cur, t, sorted({r["ua_id"] for r in locked if r["ua_id"]}))
        users = [(r["wp_user_id"], r["seq"]) for r in locked if r["wp_user_id"]]
        if users:
            cur.execute(f"DELETE FROM {t.wp_users} WHERE (wp_user_id, consent_seq) IN"
                        f" ({','.join(['(%s,%s)'] * len(users))})",
                        [v for u in users for v in u])
        # A render (and its images) proves several consents; it goes with the last of them.
        render_ids = sorted({r["render_id"] for r in rows if r["render_id"]})
        if render_ids:
            kept = jobs.renders_in_use(cur, t, render_ids)
            rm = ",".join(["%s"] * len(render_ids))
            cur.execute(f"SELECT id, image_id, thumb_id FROM {t.renders} WHERE id IN ({rm})",
                        render_ids)
            orphans = [r for r in cur.fetchall() if r["id"] not in kept]
            _scrub_shared(cur, t, render_ids)
            if orphans:
                om = ",".join(["%s"] * len(orphans))
                cur.execute(f"DELETE FROM {t.renders} WHERE id IN ({om})",
                            [o["id"] for o in orphans])
                images = sorted({i for o in orphans for i in (o["image_id"], o["thumb_id"])})
                im = ",".join(["%s"] * len(images))
                cur.execute(
                    f"DELETE FROM {t.screenshots} WHERE id IN ({im})"
                    f" AND id NOT IN (SELECT image_id FROM {t.renders})"
                    f" AND id NOT IN (SELECT thumb_id FROM {t.renders})", images)
    return len(seqs)


def _drop_unused_agents(cur, t: Tables, ids: list) -> None:
    """Delete the user agents (sp_user_agents) of erased records that no record names any
    more: a rare user agent can single a visitor out. The rows are locked first, so an
    ingest that found one of them (INSERT IGNORE holds a shared lock on it) commits its
    record before the check, and a later one waits and writes the row again; the check is a
    locking read, so it sees every committed record."""
    if not ids:
        return
    marks = ",".join(["%s"] * len(ids))
    cur.execute(f"SELECT id FROM {t.user_agents} WHERE id IN ({marks}) FOR UPDATE", ids)
    cur.fetchall()
    cur.execute(f"SELECT DISTINCT ua_id FROM {t.consents} WHERE ua_id IN ({marks})"
                " LOCK IN SHARE MODE", ids)
    used = {r["ua_id"] for r in cur.fetchall()}
    unused = [i for i in ids if i not in used]
    if unused:
        cur.execute(f"DELETE FROM {t.user_agents} WHERE id IN"
                    f" ({','.join(['%s'] * len(unused))})", unused)


def _scrub(url: str) -> str:
    """`url` as a proof URL; the bare origin when even that is personal or unparsable."""
    try:
        clean = renders.proof_url(url)
        return clean if clean is not None else normalise_origin(url) + "/"
    except ValueError:
        return ""


def _scrub_shared(cur, t: Tables, render_ids: list) -> None:
    """The renders of erased records (and their images), before the unused ones are deleted,
    keep nothing of the erased visitor: renders made before proof URLs (renders.py)
    recorded the first visitor's full URL, so it is cleaned here. New renders are clean
    already (a no-op)."""
    if not render_ids:
        return
    marks = ",".join(["%s"] * len(render_ids))
    cur.execute(f"SELECT id, page_url, final_url, image_id, thumb_id FROM {t.renders}"
                f" WHERE id IN ({marks})", render_ids)
    rows = cur.fetchall()
    for r in rows:
        page, final = _scrub(r["page_url"]), _scrub(r["final_url"])
        if (page, final) != (r["page_url"], r["final_url"]):
            cur.execute(f"UPDATE {t.renders} SET page_url = %s, final_url = %s"
                        " WHERE id = %s", (page, final, r["id"]))
    # Images are stored once by content: one may outlive the render that first stored it.
    images = sorted({i for r in rows for i in (r["image_id"], r["thumb_id"])})
    if images:
        cur.execute(f"SELECT id, page_url FROM {t.screenshots} WHERE id IN"
                    f" ({','.join(['%s'] * len(images))})", images)
        for img in cur.fetchall():
            if _scrub(img["page_url"]) != img["page_url"]:
                cur.execute(f"UPDATE {t.screenshots} SET page_url = %s WHERE id = %s",
                            (_scrub(img["page_url"]), img["id"]))


def erase_one(conn, t: Tables, record_id: str) -> int:
    """Erase the record `record_id`; return how many were erased (0 or 1)."""
    return _erase(conn, t, "id = %s", (codec.uuid_to_db(record_id),))


def erase_subject(conn, t: Tables, subject_id: str) -> int:
    """Erase every record of the visitor `subject_id`; return how many."""
    return _erase(conn, t, "subject_id = %s", (codec.uuid_to_db(subject_id),))


def _ip_match(ip: str, keys: list[bytes]) -> tuple[str, tuple, str, tuple]:
    """SQL conditions (exact, unattributed) for the records of the address `ip`.

    exact: the fingerprint under any ledger key (so rotation keeps matching), or, on rows
    stored before fingerprints, `ip` equal to the full address (`full` mode kept it) — unless
    the address is itself a network address of its /24 or /48, which a truncated row shows too.
    unattributed: rows without a fingerprint whose `ip` is the address's /24 or /48 as
    `truncated` mode stored it — maybe this visitor's, maybe another's of the same network."""
    full = canonical_ip(ip)
    net = stored_ip(full, "truncated")
    fps = ip_fingerprints(full, keys)
    exact = f"ip_fp IN ({','.join(['%s'] * len(fps))})"
    exact_args: tuple = tuple(codec.fp_to_db(fp) for fp in fps)
    if full != net:
        exact = f"({exact} OR (ip_fp IS NULL AND ip = %s))"
        exact_args += (full,)
    return exact, exact_args, "(ip_fp IS NULL AND ip = %s)", (net,)


def _erase_found(conn, t: Tables, where: str, args: tuple) -> int:
    """Erase the records `where` finds, found by a plain read and then locked by `seq`:
    the stored `ip` has no index (migration 007), so a locking search would lock every row
    it passes and hold up ingest meanwhile."""
    with transaction(conn) as cur:
        cur.execute(f"SELECT seq FROM {t.consents} WHERE ({where}) AND erased_at IS NULL",
                    args)
        seqs = [r["seq"] for r in cur.fetchall()]
    if not seqs:
        return 0
    return _erase(conn, t, f"seq IN ({','.join(['%s'] * len(seqs))})", tuple(seqs))


def erase_ip(conn, t: Tables, ip: str, keys: list[bytes],
             unattributed: bool = False) -> tuple[int, int]:
    """Erase the records of exactly the address `ip` (its keyed fingerprint, whatever
    SP_IP_STORAGE kept in `ip`); with `unattributed`, also the older rows without a
    fingerprint stored truncated to its /24 or /48. Return (erased, unattributed rows left).
    In `none` mode no fingerprint is kept, so new records are not found by IP."""
    exact, exact_args, legacy, legacy_args = _ip_match(ip, keys)
    if unattributed:
        return _erase_found(conn, t, f"{exact} OR {legacy}", exact_args + legacy_args), 0
    n = _erase_found(conn, t, exact, exact_args)
    with transaction(conn) as cur:
        cur.execute(f"SELECT COUNT(*) AS n FROM {t.consents} WHERE {legacy}"
                    " AND erased_at IS NULL", legacy_args)
        left = int(cur.fetchone()["n"])
    return n, left


def erase_wp_user(conn, t: Tables, wp_user_id: int) -> int:
    """Erase every record of the WordPress user `wp_user_id` (none for 0, the logged-out
    visitors); return how many."""
    where = f"seq IN (SELECT consent_seq FROM {t.wp_users} WHERE wp_user_id = %s)"
    return _erase(conn, t, where, (wp_user_id,)) if wp_user_id > 0 else 0


def purge_older_than(conn, t: Tables, cutoff: datetime, batch: int = 1000,
                     limit: int | None = None) -> int:
    """Tombstone records received before `cutoff`, in batches (oldest first, at most `limit`
    in all when given); return how many."""
    total = 0
    while limit is None or total < limit:
        size = batch if limit is None else min(batch, limit - total)
        with transaction(conn) as cur:
            cur.execute(f"SELECT id FROM {t.consents} WHERE received_at < %s AND"
                        " erased_at IS NULL ORDER BY seq LIMIT %s", (cutoff, size))
            ids = [r["id"] for r in cur.fetchall()]
        if not ids:
            return total
        total += _erase(conn, t, f"id IN ({','.join(['%s'] * len(ids))})", tuple(ids))
    return total


def any_older_than(conn, t: Tables, cutoff: datetime) -> bool:
    """Whether a record received before `cutoff` is not erased yet."""
    with transaction(conn) as cur:
        cur.execute(f"SELECT 1 FROM {t.consents} WHERE received_at < %s"
                    " AND erased_at IS NULL LIMIT 1", (cutoff,))
        return bool(cur.fetchall())
