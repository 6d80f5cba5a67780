"""All SQL for consent records and their screenshots. Views call these functions only."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pymysql

from . import geo
from .config import normalise_origin
from .db import table

# Fields that make up a record's content hash, in this order.
HASHED = ("id", "event_id", "subject_id", "action", "method", "categories", "page_url",
          "policy_version", "banner_version", "language", "signals", "ip", "country", "region",
          "city", "user_agent", "wp_user_id", "occurred_at", "received_at")
COLUMNS = ("seq, id, event_id, subject_id, action, method, categories, page_url, policy_version,"
           " banner_version, language, signals, ip, country, region, city, user_agent,"
           " wp_user_id, occurred_at, received_at, screenshot_status, screenshot_id,"
           " screenshot_error, hash, erased_at")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def rfc3339(dt: datetime | None) -> str | None:
    """A naive UTC datetime as RFC 3339 with microseconds and `Z`."""
    return None if dt is None else dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stored_ip(ip: str, mode: str) -> str | None:
    """The IP as SP_IP_STORAGE keeps it: full, truncated (IPv4 /24, IPv6 /48) or none."""
    if mode == "none":
        return None
    if mode == "truncated":
        addr = ipaddress.ip_address(ip)
        bits = 24 if addr.version == 4 else 48
        return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False).network_address)
    return ip


def may_load(url: str, origins: list[str]) -> bool:
    """True when `url` is http(s) on one of SP_SITE_ORIGINS (the only pages a browser loads)."""
    try:
        return urlsplit(url).scheme in ("http", "https") and normalise_origin(url) in origins
    except ValueError:
        return False


def content_hash(rec: dict) -> str:
    """SHA-256 over the record's content fields in canonical JSON."""
    canon = {k: rec[k] for k in HASHED}
    data = json.dumps(canon, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def insert_consent(conn, payload: dict, cfg: dict) -> tuple[dict, bool]:
    """Store a validated consent and queue its screenshot in one transaction.
    Return (record, created); a repeated `event_id` returns the existing record, created=False."""
    existing = get_by_event(conn, payload["event_id"])
    if existing:
        return existing, False
    now = utcnow()
    # Location is looked up on the full address, before SP_IP_STORAGE truncates it.
    country, region, city = geo.lookup(payload["ip"], cfg["SP_GEOIP_DB"] or None)
    rec = {
        "id": str(uuid.uuid4()),
        **{k: payload[k] for k in ("event_id", "subject_id", "action", "method", "page_url",
                                   "policy_version", "banner_version", "language", "user_agent",
                                   "wp_user_id")},
        "categories": payload["categories"],
        "signals": payload["signals"],
        "ip": stored_ip(payload["ip"], cfg["SP_IP_STORAGE"]),
        "country": country, "region": region, "city": city,
        "occurred_at": rfc3339(payload["occurred_at"].replace(tzinfo=None)),
        "received_at": rfc3339(now),
    }
    rec["hash"] = content_hash(rec)
    shoot = may_load(rec["page_url"], cfg["SITE_ORIGINS"])
    status = "pending" if shoot else "skipped"
    error = None if shoot else "page_url is not on SP_SITE_ORIGINS"
    t = table("consents")
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"INSERT INTO `{t}` (id, event_id, subject_id, action, method, categories,"
                " page_url, policy_version, banner_version, language, signals, ip, country,"
                " region, city, user_agent, wp_user_id, occurred_at, received_at,"
                " screenshot_status, screenshot_error, hash)"
                " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                (rec["id"], rec["event_id"], rec["subject_id"], rec["action"], rec["method"],
                 json.dumps(rec["categories"]), rec["page_url"], rec["policy_version"],
                 rec["banner_version"], rec["language"], json.dumps(rec["signals"]), rec["ip"],
                 country, region, city, rec["user_agent"], rec["wp_user_id"],
                 payload["occurred_at"].replace(tzinfo=None), now, status, error, rec["hash"]))
            seq = cur.lastrowid
            if shoot:
                cur.execute(
                    f"INSERT INTO `{table('screenshot_jobs')}` (consent_seq, page_url, status,"
                    " available_at, created_at) VALUES (%s, %s, 'queued', %s, %s)",
                    (seq, rec["page_url"], now, now))
        conn.commit()
    except pymysql.err.IntegrityError as e:
        conn.rollback()
        if e.args and e.args[0] == 1062:  # duplicate event_id from a concurrent request
            existing = get_by_event(conn, payload["event_id"])
            if existing:
                return existing, False
        raise
    return get(conn, rec["id"]), True


def _fetch_one(conn, where: str, args: tuple) -> dict | None:
    with conn.cursor() as cur:
        cur.execute(f"SELECT {COLUMNS} FROM `{table('consents')}` WHERE {where}", args)
        row = cur.fetchone()
    conn.commit()
    return to_record(row) if row else None


def get(conn, record_id: str) -> dict | None:
    """One record by id (erased ones included: check `erased`), or None."""
    return _fetch_one(conn, "id = %s", (record_id,))


def get_by_event(conn, event_id: str) -> dict | None:
    return _fetch_one(conn, "event_id = %s", (event_id,))


def to_record(row: dict) -> dict:
    """The API form of a row (CONTRACT §5)."""
    shot_url = (f"/v1/consents/{row['id']}/screenshot"
                if row["screenshot_status"] == "done" else None)
    return {
        "id": row["id"], "event_id": row["event_id"], "subject_id": row["subject_id"],
        "action": row["action"], "method": row["method"],
        "categories": json.loads(row["categories"]), "page_url": row["page_url"],
        "policy_version": row["policy_version"], "banner_version": row["banner_version"],
        "language": row["language"], "signals": json.loads(row["signals"]), "ip": row["ip"],
        "country": row["country"], "region": row["region"], "city": row["city"],
        "user_agent": row["user_agent"], "wp_user_id": row["wp_user_id"],
        "occurred_at": rfc3339(row["occurred_at"]), "received_at": rfc3339(row["received_at"]),
        "screenshot": {"status": row["screenshot_status"], "url": shot_url,
                       "error": row["screenshot_error"]},
        "hash": row["hash"],
        "erased": row["erased_at"] is not None,
        "_seq": row["seq"],
    }


def public(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if not k.startswith("_")}


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(str(seq).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Raise ValueError for anything that is not a cursor this API handed out."""
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    if not raw.isdigit():
        raise ValueError(cursor)
    return int(raw)


def list_consents(conn, filters: dict, limit: int, cursor: int | None) -> tuple[list, int | None]:
    """Newest first, keyset-paginated on `seq` (stable under concurrent inserts).
    `filters` holds already validated values; returns (records, next cursor seq or None)."""
    where, args = ["erased_at IS NULL"], []
    for col in ("subject_id", "country", "method", "page_url", "action"):
        if filters.get(col):
            where.append(f"{col} = %s")
            args.append(filters[col])
    if filters.get("from"):
        where.append("received_at >= %s")
        args.append(filters["from"])
    if filters.get("to"):
        where.append("received_at < %s")
        args.append(filters["to"])
    if cursor is not None:
        where.append("seq < %s")
        args.append(cursor)
    with conn.cursor() as cur:
        cur.execute(f"SELECT {COLUMNS} FROM `{table('consents')}` WHERE {' AND '.join(where)}"
                    " ORDER BY seq DESC LIMIT %s", (*args, limit + 1))
        rows = cur.fetchall()
    conn.commit()
    items = [to_record(r) for r in rows[:limit]]
    more = len(rows) > limit
    return items, (items[-1]["_seq"] if more and items else None)


def screenshot_of(conn, record_id: str) -> dict | None:
    """The stored image of a record's screenshot ({mime, image, sha256}) or None."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT s.mime, s.image, s.sha256 FROM `{table('consents')}` c"
            f" JOIN `{table('screenshots')}` s ON s.id = c.screenshot_id"
            " WHERE c.id = %s AND c.erased_at IS NULL AND c.screenshot_status = 'done'",
            (record_id,))
        row = cur.fetchone()
    conn.commit()
    return row


def ping(conn) -> None:
    with conn.cursor() as cur:
        cur.execute(f"SELECT 1 FROM `{table('consents')}` LIMIT 1")
        cur.fetchall()
    conn.commit()
