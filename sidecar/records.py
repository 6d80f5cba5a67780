"""All SQL for consent records and their screenshots. Views call these functions only."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import queue
import re
import threading
import time
import uuid
from datetime import datetime
from urllib.parse import urlsplit

import pymysql
from flask import current_app

from . import geo, ledger, metrics, renders
from .clock import rfc3339, utcnow
from .config import normalise_origin
from .db import close_quietly, connect, connect_args, rollback_quietly, table
from .urls import is_page_url
from .validation import CATEGORIES

log = logging.getLogger("sidecar.records")
_OWN = ("seq", "id", "event_id", "subject_id", "action", "method", "categories", "page_url",
        "policy_version", "banner_version", "language", "signals", "ip", "country", "region",
        "city", "user_agent", "wp_user_id", "occurred_at", "received_at", "screenshot_status",
        "screenshot_id", "screenshot_error", "banner_mismatch", "hash", "erased_at")
COLUMNS = ", ".join(f"c.{col}" for col in _OWN) + (
    ", ch.pos AS chain_pos, LOWER(HEX(ch.mac)) AS chain_hash,"
    " r.viewport, r.width, r.height, r.banner_version AS rendered_banner_version,"
    " r.banner_text_hash, r.created_at AS taken_at")


def _from() -> str:
    """The FROM clause every record read uses: the consent, its place in the ledger's chain
    and the render that proves it."""
    return (f"`{table('consents')}` c LEFT JOIN `{table('chain')}` ch ON ch.consent_seq = c.seq"
            f" LEFT JOIN `{table('renders')}` r ON r.id = c.render_id")
CATEGORY_KEYS = CATEGORIES


def stored_ip(ip: str, mode: str) -> str | None:
    """The IP as SP_IP_STORAGE keeps it: full, truncated (IPv4 /24, IPv6 /48) or none."""
    if mode == "none":
        return None
    if mode == "truncated":
        addr = ipaddress.ip_address(ip)
        bits = 24 if addr.version == 4 else 48
        return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False).network_address)
    return ip


IP_FP_CONTEXT = b"secure-privacy/ip-fingerprint/v1\n"


def _canonical_ip(ip: str) -> str:
    addr = ipaddress.ip_address(ip)
    if addr.version == 6 and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return addr.compressed


def ip_fingerprints(ip: str, keys: list[bytes]) -> list[str]:
    """The keyed fingerprint of the full address `ip` under each ledger key (newest last):
    HMAC-SHA256 of its canonical form. Only the sidecar holds the keys, so the fingerprint
    cannot be reversed by trying the 2^32 IPv4 addresses with database access alone."""
    raw = IP_FP_CONTEXT + _canonical_ip(ip).encode()
    return [hmac.new(k, raw, hashlib.sha256).hexdigest() for k in keys]


def ip_fingerprint(ip: str, mode: str, keys: list[bytes]) -> str | None:
    """What a new record keeps to be found by its exact IP: the newest key's fingerprint,
    or None in `none` mode (nothing derived from the address is kept at all)."""
    return None if mode == "none" else ip_fingerprints(ip, keys[-1:])[0]


def may_load(url: str, origins: list[str]) -> bool:
    """True when `url` is a page URL by the one rule (sidecar/urls.py) on one of
    SP_SITE_ORIGINS (the only pages a browser loads)."""
    if not is_page_url(url):
        return False
    try:
        return urlsplit(url).scheme in ("http", "https") and normalise_origin(url) in origins
    except ValueError:
        return False


CONSENT_INSERT = (
    "INSERT INTO `{prefix}sp_consents` (id, event_id, subject_id, action, method, categories,"
    " page_url, policy_version, banner_version, language, signals, ip, country, region, city,"
    " user_agent, wp_user_id, occurred_at, received_at, screenshot_status, screenshot_error,"
    " hash, personal_digest, salt, ip_fp) VALUES ")
CONSENT_ROW = "(" + ",".join(["%s"] * 25) + ")"
JOB_INSERT = (
    "INSERT INTO `{prefix}sp_screenshot_jobs` (consent_seq, page_url, render_key, viewport,"
    " language, banner_version, status, available_at, created_at) VALUES ")
JOB_ROW = ("((SELECT seq FROM `{prefix}sp_consents` WHERE id = %s),"
           " %s, %s, %s, %s, %s, 'queued', %s, %s)")


def write_batch(conn, prefix: str, batch: list) -> None:
    """Insert the consents and jobs of `batch` (Pending items) and COMMIT, in one round trip;
    the server stops at the first failing statement, so COMMIT runs only when every INSERT
    succeeded. Raises, rolled back, otherwise."""
    values: list = []
    sql = CONSENT_INSERT.format(prefix=prefix) + ",".join([CONSENT_ROW] * len(batch))
    for item in batch:
        values.extend(item.consent)
    jobs = [item.job for item in batch if item.job]
    if jobs:
        sql += ";\n" + JOB_INSERT.format(prefix=prefix) + ",".join(
            [JOB_ROW.format(prefix=prefix)] * len(jobs))
        for job in jobs:
            values.extend(job)
    try:
        with conn.cursor() as cur:
            cur.execute(sql + ";\nCOMMIT", values)
            while cur.nextset():
                pass
    except BaseException:
        rollback_quietly(conn)
        raise


class Pending:
    """One consent on its way to the database: its row, its screenshot job's row (or None),
    and for the group committer the event it waits on and what writing it raised."""

    __slots__ = ("consent", "job", "done", "error")

    def __init__(self, consent: tuple, job: tuple | None, event: bool = True):
        self.consent, self.job = consent, job
        self.done = threading.Event() if event else None
        self.error: BaseException | None = None


class GroupCommitter:
    """Group commit: the concurrent requests of one worker process hand their rows to one
    committer, which writes whatever has queued up as one multi-row INSERT per table and one
    COMMIT (one round trip, one log flush for all). A request answers only after its batch
    committed. A failing batch (a repeated event_id) is retried row by row, so a bad row fails
    alone."""

    MAX_BATCH = 64

    def __init__(self, url: str, prefix: str):
        self.args, self.prefix = connect_args(url), prefix
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.conn = None
        self.owner_pid = 0
        self.lock = threading.Lock()

    def write(self, item: Pending, timeout: float = 30) -> None:
        """Write `item` durably, or raise what writing it raised."""
        if self.owner_pid != os.getpid():  # gunicorn forks workers: one committer each
            with self.lock:
                if self.owner_pid != os.getpid():
                    self.queue, self.conn = queue.SimpleQueue(), None
                    threading.Thread(target=self._run, daemon=True, name="sp-commit").start()
                    self.owner_pid = os.getpid()
        self.queue.put(item)
        if not item.done.wait(timeout):
            # Unknown whether it committed: the client retries, and event_id keeps it single.
            raise pymysql.err.OperationalError(2013, f"no commit within {timeout} s")
        if item.error is not None:
            raise item.error

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            time.sleep(0)  # let requests that are ready queue up behind the first one
            while len(batch) < self.MAX_BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self.commit(batch)
            except BaseException as e:  # noqa: BLE001 - the committer must live on
                log.exception("group commit failed")
                for item in batch:
                    item.error = item.error or e
                    item.done.set()

    def commit(self, batch: list) -> None:
        """Write `batch` in one transaction. When the database is unreachable every item
        fails with that error at once; when the batch fails otherwise (a repeated event_id),
        each item is written alone, so only the failing ones carry an error. Then wake every
        waiting request."""
        try:
            self._write(batch)
        except pymysql.err.OperationalError as e:
            for item in batch:
                item.error = e
        except BaseException as e:  # noqa: BLE001 - handed to the requests
            if len(batch) == 1:
                batch[0].error = e
            else:
                for item in batch:
                    try:
                        self._write([item])
                    except BaseException as e1:  # noqa: BLE001 - handed to the request
                        item.error = e1
        metrics.INGEST_BATCH.observe(len(batch))
        for item in batch:
            item.done.set()

    def _write(self, batch: list) -> None:
        if self.conn is None or not self.conn.open:
            self.conn = connect(self.args)
        try:
            write_batch(self.conn, self.prefix, batch)
        except pymysql.err.IntegrityError:
            raise
        except BaseException:
            conn, self.conn = self.conn, None  # maybe broken: a new connection next time
            close_quietly(conn)
            raise


def insert_consent(conn, payload: dict, cfg: dict,
                   committer: GroupCommitter | None = None) -> tuple[dict, bool]:
    """Store a validated consent and queue its screenshot in one transaction, through
    `committer` when given (sharing the commit with concurrent requests), else on `conn()`.
    Return (record, created); a repeated `event_id` returns the existing record, created=False."""
    now = utcnow()
    # Location is looked up on the full address, before SP_IP_STORAGE truncates it.
    country, region, city = geo.lookup(payload["ip"], cfg["SP_GEOIP_DB"] or None)
    occurred = payload["occurred_at"].replace(tzinfo=None)
    rec = {
        "id": str(uuid.uuid4()),
        **{k: payload[k] for k in ("event_id", "subject_id", "action", "method", "categories",
                                   "page_url", "policy_version", "banner_version", "language",
                                   "signals", "user_agent", "wp_user_id")},
        "ip": stored_ip(payload["ip"], cfg["SP_IP_STORAGE"]),
        "country": country, "region": region, "city": city,
        "occurred_at": rfc3339(occurred), "received_at": rfc3339(now),
    }
    salt = ledger.new_salt()
    digest = ledger.personal_digest(rec, salt)
    rec["hash"] = ledger.record_hash(rec, digest)
    shoot = may_load(rec["page_url"], cfg["SITE_ORIGINS"])
    error = None if shoot else "page_url is not on SP_SITE_ORIGINS"
    # The render loads and records the proof URL: nothing of this visitor's own (renders.py).
    proof = renders.proof_url(rec["page_url"]) if shoot else None
    if shoot and proof is None:
        shoot, error = False, "page_url holds an e-mail address in its path; not rendered"
    status = "pending" if shoot else "skipped"
    consent = (rec["id"], rec["event_id"], rec["subject_id"], rec["action"], rec["method"],
               json.dumps(rec["categories"]), rec["page_url"], rec["policy_version"],
               rec["banner_version"], rec["language"], json.dumps(rec["signals"]), rec["ip"],
               country, region, city, rec["user_agent"], rec["wp_user_id"], occurred, now,
               status, error, rec["hash"], digest, salt,
               ip_fingerprint(payload["ip"], cfg["SP_IP_STORAGE"], cfg["LEDGER_KEYS"]))
    job = None
    if shoot:
        viewport = renders.viewport_for(rec["user_agent"])
        job = (rec["id"], proof,
               renders.render_key(proof, rec["banner_version"], viewport, rec["language"]),
               viewport, rec["language"], rec["banner_version"], now, now)
    try:
        if committer is not None:
            committer.write(Pending(consent, job))
        else:
            write_batch(conn(), cfg["SP_TABLE_PREFIX"], [Pending(consent, job, event=False)])
    except pymysql.err.IntegrityError as e:
        if e.args and e.args[0] == 1062:  # the event is already recorded
            existing = get_by_event(conn(), payload["event_id"])
            if existing:
                return existing, False
        raise
    rec.update(screenshot={"status": status, "url": None, "thumb_url": None, "error": error},
               erased=False, chain=None)
    return rec, True


def _fetch_one(conn, where: str, args: tuple) -> dict | None:
    with conn.cursor() as cur:
        cur.execute(f"SELECT {COLUMNS} FROM {_from()} WHERE c.{where}", args)
        row = cur.fetchone()
    conn.commit()
    return to_record(row) if row else None


def get(conn, record_id: str) -> dict | None:
    """One record by id (erased ones included: check `erased`), or None."""
    return _fetch_one(conn, "id = %s", (record_id,))


def get_by_event(conn, event_id: str) -> dict | None:
    return _fetch_one(conn, "event_id = %s", (event_id,))


def to_record(row: dict) -> dict:
    """The API form of a row (docs/api.md §4.2), plus `_seq` for pagination."""
    done = row["screenshot_status"] == "done"
    shot_url = f"/v1/consents/{row['id']}/screenshot" if done else None
    shot = {"status": row["screenshot_status"], "url": shot_url,
            "thumb_url": f"{shot_url}?size=thumb" if done else None,
            "error": row["screenshot_error"]}
    if done and row.get("viewport"):
        shot.update({
            "taken_at": rfc3339(row["taken_at"]), "viewport": row["viewport"],
            "width": row["width"], "height": row["height"],
            "rendered_banner_version": row["rendered_banner_version"],
            "banner_text_hash": row["banner_text_hash"],
            # False flags evidence that shows a different banner than the one recorded.
            "banner_version_match": not row["banner_mismatch"]})
    return {
        "id": row["id"], "event_id": row["event_id"], "subject_id": row["subject_id"],
        "action": row["action"], "method": row["method"],
        "categories": json.loads(row["categories"]), "page_url": row["page_url"],
        "policy_version": row["policy_version"], "banner_version": row["banner_version"],
        "language": row["language"], "signals": json.loads(row["signals"]), "ip": row["ip"],
        "country": row["country"], "region": row["region"], "city": row["city"],
        "user_agent": row["user_agent"], "wp_user_id": row["wp_user_id"],
        "occurred_at": rfc3339(row["occurred_at"]), "received_at": rfc3339(row["received_at"]),
        "screenshot": shot,
        "hash": row["hash"],
        "chain": ({"position": row["chain_pos"], "hash": row["chain_hash"]}
                  if row["chain_pos"] else None),
        "erased": row["erased_at"] is not None,
        "_seq": row["seq"],
    }


def public(rec: dict) -> dict:
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


def _where(filters: dict) -> tuple[list[str], list]:
    where, args = ["c.erased_at IS NULL"], []
    for col in ("subject_id", "country", "method", "page_url", "action", "wp_user_id"):
        if filters.get(col):
            where.append(f"c.{col} = %s")
            args.append(filters[col])
    if filters.get("from"):
        where.append("c.received_at >= %s")
        args.append(filters["from"])
    if filters.get("to"):
        where.append("c.received_at < %s")
        args.append(filters["to"])
    return where, args


def list_consents(conn, filters: dict, limit: int, cursor: int | None) -> tuple[list, int | None]:
    """Newest first, keyset-paginated on `seq` (stable under concurrent inserts).
    `filters` holds already validated values; returns (records, next cursor seq or None)."""
    where, args = _where(filters)
    if cursor is not None:
        where.append("c.seq < %s")
        args.append(cursor)
    with conn.cursor() as cur:
        cur.execute(f"SELECT {COLUMNS} FROM {_from()} WHERE {' AND '.join(where)}"
                    " ORDER BY c.seq DESC LIMIT %s", (*args, limit + 1))
        rows = cur.fetchall()
    conn.commit()
    items = [to_record(r) for r in rows[:limit]]
    more = len(rows) > limit
    return items, (items[-1]["_seq"] if more and items else None)


def stream_consents(conn_args: dict, filters: dict, prefix: str):
    """Yield every matching record, newest first, from an unbuffered cursor on a connection
    of its own (memory stays flat however many rows there are)."""
    where, args = _where(filters)
    conn = connect(conn_args, streaming=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT {COLUMNS} FROM `{prefix}sp_consents` c"
                        f" LEFT JOIN `{prefix}sp_chain` ch ON ch.consent_seq = c.seq"
                        f" LEFT JOIN `{prefix}sp_renders` r ON r.id = c.render_id"
                        f" WHERE {' AND '.join(where)} ORDER BY c.seq DESC", args)
            for row in cur:
                yield to_record(row)
    finally:
        conn.close()


# ---- erasure ---------------------------------------------------------------------------

def _erase(conn, where: str, args: tuple) -> int:
    """Tombstone matching records: personal fields and salt blanked, screenshot unlinked,
    hash and chain kept (ledger.py). Images no record links to any more are deleted."""
    t = table("consents")
    now = utcnow()
    with conn.cursor() as cur:
        cur.execute(f"SELECT seq, render_id FROM `{t}` WHERE ({where}) AND erased_at IS NULL"
                    " FOR UPDATE", args)
        rows = cur.fetchall()
        if not rows:
            conn.commit()
            return 0
        seqs = [r["seq"] for r in rows]
        marks = ",".join(["%s"] * len(seqs))
        cur.execute(
            f"UPDATE `{t}` SET subject_id = %s, page_url = '', ip = NULL, ip_fp = NULL,"
            " country = '',"
            " region = '', city = '', user_agent = '', wp_user_id = 0, salt = NULL,"
            " screenshot_id = NULL, render_id = NULL, banner_mismatch = NULL,"
            " screenshot_status = 'erased', screenshot_error = NULL,"
            f" erased_at = %s WHERE seq IN ({marks})", (ledger.ERASED_SUBJECT, now, *seqs))
        cur.execute(f"DELETE FROM `{table('screenshot_jobs')}` WHERE consent_seq IN ({marks})",
                    seqs)
        # A render (and its images) proves several consents; it goes with the last of them.
        render_ids = sorted({r["render_id"] for r in rows if r["render_id"]})
        if render_ids:
            rm = ",".join(["%s"] * len(render_ids))
            cur.execute(f"SELECT id, image_id, thumb_id FROM `{table('renders')}` WHERE id IN"
                        f" ({rm}) AND id NOT IN (SELECT render_id FROM `{t}` WHERE render_id"
                        f" IN ({rm}))", (*render_ids, *render_ids))
            orphans = cur.fetchall()
            _scrub_shared(cur, render_ids)
            if orphans:
                om = ",".join(["%s"] * len(orphans))
                cur.execute(f"DELETE FROM `{table('renders')}` WHERE id IN ({om})",
                            [o["id"] for o in orphans])
                images = sorted({i for o in orphans for i in (o["image_id"], o["thumb_id"])})
                im = ",".join(["%s"] * len(images))
                cur.execute(
                    f"DELETE FROM `{table('screenshots')}` WHERE id IN ({im})"
                    f" AND id NOT IN (SELECT image_id FROM `{table('renders')}`)"
                    f" AND id NOT IN (SELECT thumb_id FROM `{table('renders')}`)", images)
    conn.commit()
    return len(rows)


def _scrub(url: str) -> str:
    """`url` as a proof URL; the bare origin when even that is personal or unparsable."""
    try:
        clean = renders.proof_url(url)
        return clean if clean is not None else normalise_origin(url) + "/"
    except ValueError:
        return ""


def _scrub_shared(cur, render_ids: list) -> None:
    """The renders of erased records (and their images), before the unused ones are deleted,
    keep nothing of the erased visitor: renders made before proof URLs (renders.py)
    recorded the first visitor's full URL, so it is cleaned here. New renders are clean
    already (a no-op)."""
    if not render_ids:
        return
    marks = ",".join(["%s"] * len(render_ids))
    cur.execute(f"SELECT id, page_url, final_url, image_id, thumb_id FROM `{table('renders')}`"
                f" WHERE id IN ({marks})", render_ids)
    rows = cur.fetchall()
    for r in rows:
        page, final = _scrub(r["page_url"]), _scrub(r["final_url"])
        if (page, final) != (r["page_url"], r["final_url"]):
            cur.execute(f"UPDATE `{table('renders')}` SET page_url = %s, final_url = %s"
                        " WHERE id = %s", (page, final, r["id"]))
    # Images are stored once by content: one may outlive the render that first stored it.
    images = sorted({i for r in rows for i in (r["image_id"], r["thumb_id"])})
    if images:
        cur.execute(f"SELECT id, page_url FROM `{table('screenshots')}` WHERE id IN"
                    f" ({','.join(['%s'] * len(images))})", images)
        for img in cur.fetchall():
            if _scrub(img["page_url"]) != img["page_url"]:
                cur.execute(f"UPDATE `{table('screenshots')}` SET page_url = %s WHERE id = %s",
                            (_scrub(img["page_url"]), img["id"]))


def erase_one(conn, record_id: str) -> int:
    return _erase(conn, "id = %s", (record_id,))


def erase_subject(conn, subject_id: str) -> int:
    return _erase(conn, "subject_id = %s", (subject_id,))


def _ip_match(ip: str, keys: list[bytes]) -> tuple[str, tuple, str, tuple]:
    """SQL conditions (exact, unattributed) for the records of the address `ip`.

    exact: the fingerprint under any ledger key (so rotation keeps matching), or, on rows
    stored before fingerprints, `ip` equal to the full address (`full` mode kept it) — unless
    the address is itself a network address of its /24 or /48, which a truncated row shows too.
    unattributed: rows without a fingerprint whose `ip` is the address's /24 or /48 as
    `truncated` mode stored it — maybe this visitor's, maybe another's of the same network."""
    full = _canonical_ip(ip)
    net = stored_ip(full, "truncated")
    fps = ip_fingerprints(full, keys)
    exact = f"ip_fp IN ({','.join(['%s'] * len(fps))})"
    exact_args: tuple = tuple(fps)
    if full != net:
        exact = f"({exact} OR (ip_fp IS NULL AND ip = %s))"
        exact_args += (full,)
    return exact, exact_args, "(ip_fp IS NULL AND ip = %s)", (net,)


def erase_ip(conn, ip: str, keys: list[bytes], unattributed: bool = False) -> tuple[int, int]:
    """Erase the records of exactly the address `ip` (its keyed fingerprint, whatever
    SP_IP_STORAGE kept in `ip`); with `unattributed`, also the older rows without a
    fingerprint stored truncated to its /24 or /48. Return (erased, unattributed rows left).
    In `none` mode no fingerprint is kept, so new records are not found by IP."""
    exact, exact_args, legacy, legacy_args = _ip_match(ip, keys)
    if unattributed:
        return _erase(conn, f"{exact} OR {legacy}", exact_args + legacy_args), 0
    n = _erase(conn, exact, exact_args)
    with conn.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) AS n FROM `{table('consents')}` WHERE {legacy}"
                    " AND erased_at IS NULL", legacy_args)
        left = int(cur.fetchone()["n"])
    conn.commit()
    return n, left


def erase_wp_user(conn, wp_user_id: int) -> int:
    return _erase(conn, "wp_user_id = %s", (wp_user_id,)) if wp_user_id > 0 else 0


def purge_older_than(conn, cutoff: datetime, batch: int = 1000) -> int:
    """Tombstone records received before `cutoff`, in batches; return how many."""
    total = 0
    while True:
        with conn.cursor() as cur:
            cur.execute(f"SELECT id FROM `{table('consents')}` WHERE received_at < %s AND"
                        " erased_at IS NULL ORDER BY seq LIMIT %s", (cutoff, batch))
            ids = [r["id"] for r in cur.fetchall()]
        conn.commit()
        if not ids:
            return total
        total += _erase(conn, f"id IN ({','.join(['%s'] * len(ids))})", tuple(ids))


# ---- statistics ------------------------------------------------------------------------

GROUPS = {
    "day": "DATE(received_at)",
    "country": "country",
    "method": "method",
}


def stats(conn, group_by: str, start: datetime | None, end: datetime | None) -> list[dict]:
    """Counts and opt-in rates per group. Decisions are grant/update records; the rate of a
    category is the share of decisions that granted it. Withdrawals are counted apart."""
    # Erased records keep their non-personal fields, so they still count (country blank).
    where, args = ["1 = 1"], []
    if start:
        where.append("received_at >= %s")
        args.append(start)
    if end:
        where.append("received_at < %s")
        args.append(end)
    # JSON_EXTRACT, not JSON_VALUE: MariaDB's JSON_VALUE turns true into 1.
    cat = ", ".join(
        f"SUM(action <> 'withdraw' AND JSON_EXTRACT(categories, '$.{k}') = 'true') AS `{k}`"
        for k in CATEGORY_KEYS)
    key = GROUPS.get(group_by, "'all'")
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {key} AS k, COUNT(*) AS total, SUM(action <> 'withdraw') AS decisions,"
            f" SUM(action = 'withdraw') AS withdrawals, {cat}"
            f" FROM `{table('consents')}` WHERE ({') AND ('.join(where)})"
            f" GROUP BY k ORDER BY {'k' if group_by == 'day' else 'total DESC, k'}", args)
        rows = cur.fetchall()
    conn.commit()
    out = []
    for r in rows:
        decisions = int(r["decisions"] or 0)
        granted = {k: int(r[k] or 0) for k in CATEGORY_KEYS}
        out.append({
            "key": r["k"].isoformat() if hasattr(r["k"], "isoformat") else r["k"],
            "total": int(r["total"]), "decisions": decisions,
            "withdrawals": int(r["withdrawals"] or 0), "granted": granted,
            "opt_in_rate": {k: (round(v / decisions, 4) if decisions else None)
                            for k, v in granted.items()},
        })
    if group_by == "category":
        all_ = out[0] if out else {"decisions": 0, "granted": dict.fromkeys(CATEGORY_KEYS, 0)}
        out = [{"key": k, "decisions": all_["decisions"], "granted": all_["granted"][k],
                "opt_in_rate": (round(all_["granted"][k] / all_["decisions"], 4)
                                if all_["decisions"] else None)} for k in CATEGORY_KEYS]
    return out


# ---- screenshots and health ------------------------------------------------------------

def screenshot_of(conn, record_id: str, thumb: bool = False) -> dict | None:
    """The stored image ({mime, image, sha256}) of a record's screenshot or its thumbnail,
    or None when there is none (yet)."""
    image_col = "r.thumb_id" if thumb else "c.screenshot_id"
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT s.mime, s.image, s.sha256 FROM {_from()}"
            f" JOIN `{table('screenshots')}` s ON s.id = {image_col}"
            " WHERE c.id = %s AND c.erased_at IS NULL AND c.screenshot_status = 'done'",
            (record_id,))
        row = cur.fetchone()
    conn.commit()
    return row


def _count(conn, sql: str) -> int:
    with conn.cursor() as cur:
        cur.execute(sql)
        n = cur.fetchone()["n"]
    conn.commit()
    return int(n)


def queue_depth(conn) -> int:
    """Screenshot jobs queued or running."""
    return _count(conn, f"SELECT COUNT(*) AS n FROM `{table('screenshot_jobs')}`"
                        " WHERE status IN ('queued', 'running')")


def unsealed_count(conn) -> int:
    """Records not yet sealed into the ledger's chain."""
    return ledger.unsealed_count(conn, current_app.config["SP_TABLE_PREFIX"])


def ping(conn) -> None:
    with conn.cursor() as cur:
        cur.execute(f"SELECT 1 FROM `{table('consents')}` LIMIT 1")
        cur.fetchall()
    conn.commit()
