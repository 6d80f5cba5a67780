"""The tamper-evident ledger: record hashes, seals, verification and erasure.

Design (docs/ledger.md): every record carries `hash` over its content, where the personal
fields enter only through `personal_digest` (salted, so it reveals nothing). Ingest inserts
records independently — no shared lock, so it never serialises. A sealer periodically takes
every committed, unsealed record in `seq` order into a hash chain (`chain_pos`,
`chain_hash`) and writes a seal row with the new head. Verification recomputes every
hash and the chain. Erasure blanks the personal fields and the salt but keeps
`personal_digest`, `hash` and the chain, so an erased record still verifies.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets

import pymysql.cursors

from .clock import rfc3339, utcnow

log = logging.getLogger("sidecar.ledger")
GENESIS = "0" * 64
CORE = ("id", "event_id", "action", "method", "categories", "policy_version",
        "banner_version", "language", "signals", "occurred_at", "received_at")
PERSONAL = ("subject_id", "page_url", "ip", "country", "region", "city", "user_agent",
            "wp_user_id")
ERASED_SUBJECT = "00000000-0000-0000-0000-000000000000"


_CANON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canon(obj) -> bytes:
    return _CANON.encode(obj).encode()


def new_salt() -> str:
    return secrets.token_hex(16)


def personal_digest(rec: dict, salt: str) -> str:
    """SHA-256 of the personal fields with a per-record random salt (so a low-entropy field
    such as an IP cannot be guessed back from the digest once the salt is erased)."""
    return hashlib.sha256(_canon({**{k: rec[k] for k in PERSONAL}, "salt": salt})).hexdigest()


def record_hash(rec: dict, digest: str) -> str:
    """SHA-256 of the non-personal fields and the personal digest."""
    return hashlib.sha256(_canon({"v": 1, **{k: rec[k] for k in CORE},
                                  "personal_digest": digest})).hexdigest()


def link(prev: str, rec_hash: str, pos: int) -> str:
    return hashlib.sha256(f"{prev}:{pos}:{rec_hash}".encode()).hexdigest()


def seal(conn, prefix: str, limit: int = 5000) -> int:
    """Chain every committed, unsealed record (oldest first, at most `limit`); return how
    many were sealed. Serialised across processes by a named lock; returns 0 if another
    sealer holds it."""
    t, s = f"`{prefix}sp_consents`", f"`{prefix}sp_seals`"
    with conn.cursor() as cur:
        cur.execute("SELECT GET_LOCK(%s, 0) AS got", (f"{prefix}sp_seal",))
        if not cur.fetchone()["got"]:
            conn.commit()
            return 0
        try:
            cur.execute(f"SELECT last_pos, head FROM {s} ORDER BY id DESC LIMIT 1")
            last = cur.fetchone()
            pos, head = (last["last_pos"], last["head"]) if last else (0, GENESIS)
            cur.execute(f"SELECT seq, hash FROM {t} WHERE seal_id IS NULL ORDER BY seq"
                        " LIMIT %s FOR UPDATE", (limit,))
            rows = cur.fetchall()
            if not rows:
                conn.commit()
                return 0
            prev_head, first_pos = head, pos + 1
            updates = []
            for row in rows:
                pos += 1
                head = link(head, row["hash"], pos)
                updates.append((pos, head, row["seq"]))
            cur.execute(f"INSERT INTO {s} (first_pos, last_pos, records, prev_head, head,"
                        " sealed_at) VALUES (%s, %s, %s, %s, %s, %s)",
                        (first_pos, pos, len(rows), prev_head, head, utcnow()))
            seal_id = cur.lastrowid
            cur.executemany(f"UPDATE {t} SET chain_pos = %s, chain_hash = %s, seal_id = {seal_id}"
                            " WHERE seq = %s", updates)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            cur.execute("SELECT RELEASE_LOCK(%s)", (f"{prefix}sp_seal",))
            cur.fetchall()
    log.info("sealed", extra={"fields": {"records": len(rows), "last_pos": pos}})
    return len(rows)


def _row_to_fields(row: dict) -> dict:
    """The hashed form of a stored row (the same values insert hashed)."""
    rec = {k: row[k] for k in CORE + PERSONAL if k not in ("categories", "signals",
                                                          "occurred_at", "received_at")}
    rec["categories"] = json.loads(row["categories"])
    rec["signals"] = json.loads(row["signals"])
    rec["occurred_at"] = rfc3339(row["occurred_at"])
    rec["received_at"] = rfc3339(row["received_at"])
    return rec


def verify(url_args: dict, prefix: str, max_problems: int = 100) -> dict:
    """Recompute every record's hash and the chain; report what does not match.

    Streams the table on its own unbuffered connection, so memory stays flat. Returns
    {ok, records, sealed, unsealed, head, problems: [{seq, chain_pos, problem}]}.
    """
    conn = pymysql.connect(**{**url_args, "cursorclass": pymysql.cursors.SSDictCursor})
    problems: list[dict] = []
    t, s = f"`{prefix}sp_consents`", f"`{prefix}sp_seals`"

    def problem(row, text):
        if len(problems) < max_problems:
            problems.append({"seq": row.get("seq") if row else None,
                             "chain_pos": row.get("chain_pos") if row else None,
                             "id": row.get("id") if row else None, "problem": text})

    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT id, first_pos, last_pos, records, prev_head, head FROM {s}"
                        " ORDER BY id")
            seals = list(cur.fetchall())
        cols = ", ".join(("seq", "chain_pos", "chain_hash", "seal_id", "hash",
                          "personal_digest", "salt", "erased_at") + CORE + PERSONAL)
        records = sealed = 0
        head, expected_pos = GENESIS, 1
        seal_heads = {x["last_pos"]: x for x in seals}
        with conn.cursor() as cur:
            # Sealed rows in chain order first, then the unsealed tail.
            cur.execute(f"SELECT {cols} FROM {t} ORDER BY chain_pos IS NULL, chain_pos, seq")
            for row in cur:
                records += 1
                fields = _row_to_fields(row)
                if row["erased_at"] is None:
                    if row["salt"] is None or \
                            personal_digest(fields, row["salt"]) != row["personal_digest"]:
                        problem(row, "personal fields do not match the record's digest")
                if record_hash(fields, row["personal_digest"]) != row["hash"]:
                    problem(row, "record content does not match its hash")
                if row["chain_pos"] is None:
                    continue
                sealed += 1
                if row["chain_pos"] != expected_pos:
                    problem(row, f"chain position {row['chain_pos']} where {expected_pos} was"
                                 " expected: a record is missing or was moved")
                    expected_pos = row["chain_pos"]
                head = link(head, row["hash"], row["chain_pos"])
                if head != row["chain_hash"]:
                    problem(row, "chain hash does not link to the record before it")
                    head = row["chain_hash"] or head
                sealed_here = seal_heads.get(row["chain_pos"])
                if sealed_here and sealed_here["head"] != row["chain_hash"]:
                    problem(row, f"seal {sealed_here['id']} head does not match the chain")
                expected_pos += 1
        last_seal = seals[-1] if seals else None
        if last_seal and last_seal["last_pos"] != expected_pos - 1:
            problem(None, f"the last seal ends at {last_seal['last_pos']} but the chain at "
                          f"{expected_pos - 1}: sealed records are missing")
        prev = GENESIS
        for x in seals:
            if x["prev_head"] != prev:
                problem(None, f"seal {x['id']} does not follow the seal before it")
            prev = x["head"]
    finally:
        conn.close()
    return {"ok": not problems, "records": records, "sealed": sealed,
            "unsealed": records - sealed, "head": head if sealed else GENESIS,
            "problems": problems}
