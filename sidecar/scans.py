"""Site scans in the site's database (`<prefix>sp_scans`, migration 010): the queue and the
kept reports. SQL only; the worker's side is `scanrun.py`, the browser's `scanner.py`.

A scan is claimed like a render job (`jobs.claim`): `SELECT … FOR UPDATE SKIP LOCKED` and a
lease (`locked_until`) that the worker renews after every page. A scan whose worker died is
taken over when its lease expires and goes on at the first page not yet stored (the pages
done are kept in `observations`); one taken over `attempts_limit` times is failed with that
reason rather than crash the next worker the same way. Reports are kept for ever: nothing
here deletes or overwrites a finished scan.

Every function takes a connection and the `db.Tables` of the site; each commits what it did.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from .clock import rfc3339, utcnow
from .db import Tables, transaction

SUMMARY = ("seq, id, status, max_pages, progress_done, progress_total, started_at,"
           " finished_at, created_at, error, report_hash, page_list, ruleset_version")


def enqueue(conn, t: Tables, urls: list[str] | None, max_pages: int, rules: list) -> str:
    """Queue a scan; return its id."""
    scan_id = str(uuid.uuid4())
    with transaction(conn) as cur:
        cur.execute(f"INSERT INTO {t.scans} (id, status, urls, max_pages, rules,"
                    " progress_total, created_at) VALUES (%s, 'queued', %s, %s, %s, %s, %s)",
                    (scan_id, None if urls is None else json.dumps(urls), max_pages,
                     json.dumps(rules), len(urls) if urls else 0, utcnow()))
    return scan_id


def claim(conn, t: Tables, worker: str, lease_seconds: float,
          attempts_limit: int = 3) -> dict | None:
    """Take the oldest queued scan, or one whose worker's lease expired (its worker died);
    None if none. A scan taken over `attempts_limit` times already is failed instead, with
    the reason, and the next one is looked at."""
    while True:
        now = utcnow()
        with transaction(conn) as cur:
            cur.execute(f"SELECT * FROM {t.scans} WHERE status = 'queued'"
                        " OR (status = 'running' AND locked_until < %s)"
                        " ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED", (now,))
            row = cur.fetchone()
            if row is None:
                return None
            if row["status"] == "running" and row["attempts"] >= attempts_limit:
                cur.execute(f"UPDATE {t.scans} SET status = 'failed', locked_until = NULL,"
                            " finished_at = %s, error = %s WHERE seq = %s",
                            (now, f"the worker running this scan stopped {row['attempts']}"
                                  " times (its lease expired); not tried again", row["seq"]))
                continue
            cur.execute(f"UPDATE {t.scans} SET status = 'running', attempts = attempts + 1,"
                        " locked_until = %s, worker = %s,"
                        " started_at = COALESCE(started_at, %s) WHERE seq = %s",
                        (now + timedelta(seconds=lease_seconds), worker[:191], now,
                         row["seq"]))
        row["attempts"] += 1
        row["status"], row["worker"] = "running", worker[:191]
        row["started_at"] = row["started_at"] or now
        return _decode(row)


def _decode(row: dict) -> dict:
    for name in ("urls", "rules", "page_list", "pages", "observations", "report"):
        if name in row:
            row[name] = json.loads(row[name]) if row[name] is not None else None
    return row


def _mine(scan: dict) -> tuple[str, tuple]:
    """The condition that `scan` is still held by the worker that claimed it (another may
    have taken it over after its lease expired)."""
    return ("seq = %s AND status = 'running' AND attempts = %s",
            (scan["seq"], scan["attempts"]))


def set_pages(conn, t: Tables, scan: dict, pages: list[str], page_list: dict,
              lease_seconds: float) -> bool:
    """Record the pages the scan will visit and where the list came from; False when the
    scan is no longer this worker's."""
    cond, args = _mine(scan)
    with transaction(conn) as cur:
        n = cur.execute(f"UPDATE {t.scans} SET pages = %s, page_list = %s,"
                        f" progress_total = %s, locked_until = %s WHERE {cond}",
                        (json.dumps(pages), json.dumps(page_list), len(pages),
                         utcnow() + timedelta(seconds=lease_seconds), *args))
    return n == 1


def add_page(conn, t: Tables, scan: dict, observations: list, lease_seconds: float) -> bool:
    """Store the observations of the pages done so far (progress = their number) and renew
    the lease; False when the scan is no longer this worker's."""
    cond, args = _mine(scan)
    with transaction(conn) as cur:
        n = cur.execute(f"UPDATE {t.scans} SET observations = %s, progress_done = %s,"
                        f" locked_until = %s WHERE {cond}",
                        (json.dumps(observations, separators=(",", ":")), len(observations),
                         utcnow() + timedelta(seconds=lease_seconds), *args))
    return n == 1


def finish(conn, t: Tables, scan: dict, report: dict, finished_at) -> bool:
    """Mark the scan done with its report (kept for ever)."""
    cond, args = _mine(scan)
    with transaction(conn) as cur:
        n = cur.execute(f"UPDATE {t.scans} SET status = 'done', report = %s, report_hash = %s,"
                        " ruleset_version = %s,"
                        f" finished_at = %s, locked_until = NULL, error = NULL WHERE {cond}",
                        (json.dumps(report, separators=(",", ":")), report.get("report_hash"),
                         report.get("ruleset_version"), finished_at, *args))
    return n == 1


def fail(conn, t: Tables, scan: dict, reason: str) -> bool:
    """Mark the scan failed with `reason` (the pages done stay stored)."""
    cond, args = _mine(scan)
    with transaction(conn) as cur:
        n = cur.execute(f"UPDATE {t.scans} SET status = 'failed', error = %s,"
                        f" finished_at = %s, locked_until = NULL WHERE {cond}",
                        (reason[:1000], utcnow(), *args))
    return n == 1


def release(conn, t: Tables, scan: dict) -> bool:
    """Give a scan back to the queue (the worker is stopping): another worker, or this one
    started again, goes on at the next page at once, and the stop does not count as a
    worker that died (`attempts`)."""
    cond, args = _mine(scan)
    with transaction(conn) as cur:
        n = cur.execute(f"UPDATE {t.scans} SET status = 'queued', locked_until = NULL,"
                        f" attempts = attempts - 1, worker = NULL WHERE {cond}", args)
    return n == 1


def get(conn, t: Tables, scan_id: str) -> dict | None:
    """One scan, all columns decoded; None if there is none with this id."""
    with transaction(conn) as cur:
        cur.execute(f"SELECT * FROM {t.scans} WHERE id = %s", (scan_id,))
        row = cur.fetchone()
    return _decode(row) if row else None


def list_scans(conn, t: Tables, limit: int, before_seq: int | None,
               ruleset_version: str | None = None) -> tuple[list, int | None]:
    """Summaries, newest first, of the scans before position `before_seq` (the cursor), only
    the finished ones of that rule-set version when one is given (`idx_ruleset`); (rows,
    cursor of the next page or None). A finished scan's summary counts its report's items
    and violations in SQL (JSON_LENGTH), without loading reports."""
    conds, args = [], []
    if before_seq:
        conds.append("seq < %s")
        args.append(before_seq)
    if ruleset_version:
        conds.append("ruleset_version = %s")
        args.append(ruleset_version)
    where = ("WHERE " + " AND ".join(conds)) if conds else ""
    with transaction(conn) as cur:
        cur.execute(f"SELECT {SUMMARY}, JSON_LENGTH(report, '$.items') AS n_items,"
                    f" JSON_LENGTH(report, '$.violations') AS n_violations FROM {t.scans}"
                    f" {where} ORDER BY seq DESC LIMIT %s", (*args, limit + 1))
        rows = cur.fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    for r in rows:
        r["page_list"] = json.loads(r["page_list"]) if r["page_list"] else None
    return rows, (rows[-1]["seq"] if more and rows else None)


def summary(row: dict) -> dict:
    """The public summary of a scan row (list entries, and the head of `GET /v1/scans/<id>`)."""
    return {"id": row["id"], "status": row["status"],
            "progress": {"done": row["progress_done"], "total": row["progress_total"]},
            "max_pages": row["max_pages"],
            "created_at": rfc3339(row["created_at"]), "started_at": rfc3339(row["started_at"]),
            "finished_at": rfc3339(row["finished_at"]), "error": row["error"],
            "report_hash": row["report_hash"], "page_list": row["page_list"],
            # The report's rule-set version (sidecar/ruleset.py); null until done, and for
            # reports made before rule-set versions.
            "ruleset_version": row.get("ruleset_version")}
