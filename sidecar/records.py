"""Reading consent records: one record, a filtered page with its cursor, a stream for
export, a record's screenshot image, and the counts health and metrics read. Views call
these functions only.

Every function takes a connection and the `db.Tables` of the site; none needs Flask.
"""

from __future__ import annotations

import re

from . import codec, jobs, ledger
from .clock import rfc3339
from .db import Tables, connect, transaction

_OWN = ("seq", "id", "event_id", "subject_id", "action", "method", "categories", "page_url",
        "policy_version", "banner_version", "language", "signals", "ip", "country", "region",
        "city", "wp_user_id", "occurred_at", "received_at", "hash", "erased_at",
        "rules_version")
# The proof of a consent with a render key is read from the render job of its key whose
# range holds its chain position (jobs.queue_renders): the worker never writes the row. Rows
# stored before migration 006, and skipped or erased ones (no key), keep their own columns.
# `pending` only while a render is coming: the record is not sealed yet, or its job is
# queued or running. A record that has neither a job nor a render coming (sealed without a
# job, or an old row whose queue entry is gone) reads as skipped, with that reason.
NOT_QUEUED = "no render was queued for this record"
_NO_JOB = "c.render_key IS NOT NULL AND j.id IS NULL AND ch.pos IS NOT NULL"
_STATUS = (
    "CASE WHEN c.render_key IS NULL AND c.screenshot_status = 'pending' THEN 'skipped'"
    " WHEN c.render_key IS NULL THEN c.screenshot_status"
    " WHEN j.status IN ('done', 'failed') THEN j.status"
    f" WHEN {_NO_JOB} THEN 'skipped' ELSE 'pending' END")
_PROOF = (
    f" {_STATUS} AS screenshot_status,"
    " CASE WHEN c.render_key IS NULL AND c.screenshot_status = 'pending'"
    f" THEN '{NOT_QUEUED}' WHEN c.render_key IS NULL THEN c.screenshot_error"
    f" WHEN {_NO_JOB} THEN '{NOT_QUEUED}'"
    " WHEN j.status <> 'done' THEN j.last_error END AS screenshot_error,"
    " CASE WHEN c.render_key IS NULL THEN c.banner_mismatch"
    " ELSE c.banner_version <> r.banner_version END AS banner_mismatch,"
    " j.attempts AS job_attempts")
# Whether the render is known to prove other consents: its job covers more than this one
# (`j.consents`: every consent of its key sealed while it was open, or while its render was
# fresh — so later reuse counts too), or it was made before this consent arrived. Rows
# stored before migration 006: another old row links it (one seek on `idx_render`).
_SHARED = (
    "CASE WHEN r.id IS NULL THEN NULL WHEN j.id IS NOT NULL THEN j.consents > 1"
    " OR r.created_at < c.received_at"
    " ELSE EXISTS (SELECT 1 FROM {consents} c2 WHERE c2.render_id = r.id"
    " AND c2.seq <> c.seq) END")
COLUMNS = ", ".join(f"c.{col}" for col in _OWN) + ", " + codec.user_agent_sql() + "," + \
    _PROOF + (
    ", ch.pos AS chain_pos, LOWER(HEX(ch.mac)) AS chain_hash,"
    " r.viewport, r.width, r.height, r.banner_version AS rendered_banner_version,"
    " r.banner_text_hash, r.created_at AS taken_at")


def columns(t: Tables) -> str:
    """COLUMNS, and whether the render is known to prove other consents (`render_shared`)."""
    shared = _SHARED.format(consents=t.consents)
    return f"{COLUMNS}, {shared} AS render_shared"


def _from(t: Tables) -> str:
    """The FROM clause every record read uses: the consent, its place in the ledger's chain
    and the render that proves it (through its render job, or for old rows `render_id`)."""
    return (f"{t.consents} c LEFT JOIN {t.chain} ch ON ch.consent_seq = c.seq"
            f" LEFT JOIN {t.render_jobs} j ON c.render_key IS NOT NULL"
            f" AND {jobs.job_of_consent(t)}"
            f" LEFT JOIN {t.renders} r ON r.id = IF(c.render_key IS NULL, c.render_id,"
            " IF(j.status = 'done', j.render_id, NULL))"
            + codec.user_agent_join(t.user_agents))


def _fetch_one(conn, t: Tables, where: str, args: tuple) -> dict | None:
    with transaction(conn) as cur:
        cur.execute(f"SELECT {columns(t)} FROM {_from(t)} WHERE c.{where}",
                    tuple(codec.uuid_to_db(a) for a in args))
        row = cur.fetchone()
    return to_record(row) if row else None


def get(conn, t: Tables, record_id: str) -> dict | None:
    """One record by id (erased ones included: check `erased`), or None."""
    return _fetch_one(conn, t, "id = %s", (record_id,))


def get_by_event(conn, t: Tables, event_id: str) -> dict | None:
    """The record of the widget's `event_id` (erased ones included), or None."""
    return _fetch_one(conn, t, "event_id = %s", (event_id,))


# What every render shows: the page loaded with no cookies or storage (an anonymous visitor's
# first visit) at the record's viewport and language, with the banner's first layer as it is
# offered. Never the visitor's own choice, the preferences view, or a signed-in page.
SHOWS = "first_layer_anonymous"


def _missing_reason(status: str, error: str | None, row: dict) -> str | None:
    """Why a record has no picture (yet), as a code (docs/api.md §4.2); None when done."""
    error = error or ""
    if status == "done":
        return None
    if status == "pending":
        if row["chain_pos"] is None:
            return "awaiting_seal"
        return "retrying" if row.get("job_attempts") and error else "awaiting_render"
    if "SP_SITE_ORIGINS" in error:
        return "not_on_site_origins"
    if status == "failed":
        return "render_failed"
    if status == "skipped":
        if "e-mail address" in error:
            return "email_in_path"
        return "not_queued" if error == NOT_QUEUED else "skipped"
    return status  # erased


def to_record(row: dict) -> dict:
    """The API form of a row (docs/api.md §4.2), plus `_seq` for pagination."""
    codec.from_db(row)
    status = row["screenshot_status"]
    done = status == "done"
    shot_url = f"/v1/consents/{row['id']}/screenshot" if done else None
    shot = {"status": status, "url": shot_url,
            "thumb_url": f"{shot_url}?size=thumb" if done else None,
            "error": row["screenshot_error"],
            "reason": _missing_reason(status, row["screenshot_error"], row),
            "taken_at": None, "reused": None, "shared": None, "shows": None}
    if done and row.get("viewport"):
        shared = bool(row["render_shared"])
        shot.update({
            "taken_at": rfc3339(row["taken_at"]),
            # Not made for this consent alone: made before it was received, or known to
            # prove other consents.
            "reused": shared or row["taken_at"] < row["received_at"],
            "shared": shared, "shows": SHOWS,
            "viewport": row["viewport"], "width": row["width"], "height": row["height"],
            "rendered_banner_version": row["rendered_banner_version"],
            "banner_text_hash": row["banner_text_hash"],
            # False flags evidence that shows a different banner than the one recorded.
            "banner_version_match": not row["banner_mismatch"]})
    return {
        "id": row["id"], "event_id": row["event_id"], "subject_id": row["subject_id"],
        "action": row["action"], "method": row["method"],
        "categories": row["categories"], "page_url": row["page_url"],
        "policy_version": row["policy_version"], "banner_version": row["banner_version"],
        "language": row["language"], "signals": row["signals"], "ip": row["ip"],
        "country": row["country"], "region": row["region"], "city": row["city"],
        "user_agent": row["user_agent"], "wp_user_id": row["wp_user_id"],
        "occurred_at": rfc3339(row["occurred_at"]), "received_at": rfc3339(row["received_at"]),
        # The rule-set version the plugin signed in (sidecar/ruleset.py); null: recorded
        # before rule-set versions, or sent by a plugin without them.
        "rules_version": row["rules_version"],
        "screenshot": shot,
        "hash": row["hash"],
        "chain": ({"position": row["chain_pos"], "hash": row["chain_hash"]}
                  if row["chain_pos"] else None),
        "erased": row["erased_at"] is not None,
        "_seq": row["seq"],
    }


def public(rec: dict) -> dict:
    """A record as the API shows it (without the internal `_seq`)."""
    return {k: v for k, v in rec.items() if not k.startswith("_")}


CURSOR = re.compile(r"[0-9]{1,20}")


def encode_cursor(seq: int) -> str:
    """The cursor of the page after `seq`: its position in decimal. Every string of digits is
    a cursor (records before that position), so the OpenAPI pattern says exactly which
    cursors the API takes."""
    return str(seq)


def decode_cursor(cursor: str) -> int:
    """Raise ValueError for anything that is not a cursor (1-20 ASCII digits)."""
    if not CURSOR.fullmatch(cursor):
        raise ValueError(cursor)
    return int(cursor)


def _where(filters: dict, t: Tables) -> tuple[list[str], list]:
    where, args = ["c.erased_at IS NULL"], []
    if filters.get("wp_user_id"):
        where.append(f"c.seq IN (SELECT consent_seq FROM {t.wp_users} WHERE wp_user_id = %s)")
        args.append(filters["wp_user_id"])
    for col in ("subject_id", "country", "method", "page_url", "action"):
        if filters.get(col):
            where.append(f"c.{col} = %s")
            args.append(codec.uuid_to_db(filters[col]) if col == "subject_id"
                        else filters[col])
    if filters.get("from"):
        where.append("c.received_at >= %s")
        args.append(filters["from"])
    if filters.get("to"):
        where.append("c.received_at < %s")
        args.append(filters["to"])
    return where, args


def list_consents(conn, t: Tables, filters: dict, limit: int,
                  cursor: int | None) -> tuple[list, int | None]:
    """Newest first, keyset-paginated on `seq` (stable under concurrent inserts).
    `filters` holds already validated values; returns (records, next cursor seq or None)."""
    where, args = _where(filters, t)
    if cursor is not None:
        where.append("c.seq < %s")
        args.append(cursor)
    with transaction(conn) as cur:
        cur.execute(f"SELECT {columns(t)} FROM {_from(t)} WHERE {' AND '.join(where)}"
                    " ORDER BY c.seq DESC LIMIT %s", (*args, limit + 1))
        rows = cur.fetchall()
    items = [to_record(r) for r in rows[:limit]]
    more = len(rows) > limit
    return items, (items[-1]["_seq"] if more and items else None)


def stream_consents(url: str | dict, t: Tables, filters: dict):
    """Yield every matching record, newest first, from an unbuffered cursor on a connection
    of its own to `url` (memory stays flat however many rows there are)."""
    where, args = _where(filters, t)
    conn = connect(url, streaming=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT {columns(t)} FROM {_from(t)}"
                        f" WHERE {' AND '.join(where)} ORDER BY c.seq DESC", args)
            for row in cur:
                yield to_record(row)
    finally:
        conn.close()


def screenshot_of(conn, t: Tables, record_id: str, thumb: bool = False) -> dict | None:
    """The stored image ({mime, image, sha256}) of a record's screenshot or its thumbnail,
    or None when there is none (yet)."""
    image_col = "r.thumb_id" if thumb else "r.image_id"
    with transaction(conn) as cur:
        cur.execute(
            f"SELECT s.mime, s.image, s.sha256 FROM {_from(t)}"
            f" JOIN {t.screenshots} s ON s.id = {image_col}"
            " WHERE c.id = %s AND c.erased_at IS NULL", (codec.uuid_to_db(record_id),))
        row = cur.fetchone()
    return row


def screenshot_counts(conn, t: Tables, after_seq: int = 0) -> dict:
    """How many records after `after_seq` have each screenshot status, as reads show it."""
    with transaction(conn) as cur:
        cur.execute(f"SELECT {_STATUS} AS s, COUNT(*) AS n FROM {_from(t)} WHERE c.seq > %s"
                    " GROUP BY s", (after_seq,))
        return {r["s"]: int(r["n"]) for r in cur.fetchall()}


def unsealed_count(conn, t: Tables) -> int:
    """Records not yet sealed into the ledger's chain."""
    return ledger.unsealed_count(conn, t.prefix)


def ping(conn, t: Tables) -> None:
    """Raise unless the database answers and the consents table is there."""
    with transaction(conn) as cur:
        cur.execute(f"SELECT 1 FROM {t.consents} LIMIT 1")
        cur.fetchall()
