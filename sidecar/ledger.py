"""The tamper-evident ledger: record hashes, keyed seals, anchors, verification, erasure.

Design (docs/ledger.md): every record carries `hash` over its content, where the personal
fields enter only through `personal_digest` (salted, so it reveals nothing). Ingest inserts
records independently and never waits for the sealer. The sealer never updates a consent
row: it appends the records committed since its last run to `<prefix>sp_chain` (position,
record, keyed link) in one multi-row INSERT and writes one seal row, both under the
sidecar-only ledger key (HMAC-SHA256), then appends the new head to an anchor file outside
the database. Verification recomputes every hash and link, checks every seal and every
anchored head. Erasure blanks the personal fields and the salt but keeps `personal_digest`
and `hash`, so an erased record still verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pymysql
import pymysql.cursors

from . import codec
from .clock import rfc3339, utcnow
from .db import Tables, connect

log = logging.getLogger("sidecar.ledger")
GENESIS = "0" * 64
CORE = ("id", "event_id", "action", "method", "categories", "policy_version",
        "banner_version", "language", "signals", "occurred_at", "received_at")
PERSONAL = ("subject_id", "page_url", "ip", "country", "region", "city", "user_agent",
            "wp_user_id")
ERASED_SUBJECT = "00000000-0000-0000-0000-000000000000"
# A record committed this long after the sealer passed its `seq` is still found: each run
# looks back to what the seal of at least this many seconds ago had reached.
LOOKBACK_SECONDS = 10
DERIVED_KEY_WARNING = (
    "the ledger key is derived from SP_SECRET_KEYS, which WordPress also holds: someone"
    " with the site's database may read it and recompute seals (only the anchors then"
    " detect a rewrite). Set SP_LEDGER_KEYS on the sidecar only.")
NO_ANCHOR_WARNING = ("SP_ANCHOR_FILE is off: nothing outside the database anchors the head,"
                     " so removing the newest seals with their records is not detected")
KEYED = 2  # sp_seals.version of keyed seals; version 1 rows are the old unkeyed seals
SEAL_BATCH = 5000  # records one seal takes at most


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
    """SHA-256 of the non-personal fields and the personal digest. A record with a rule-set
    version (`rules_version`, issue 14) hashes it too, as version 2; one without (every record
    stored before it, and those of plugins that send none) keeps version 1, byte for byte."""
    version = rec.get("rules_version")
    core = {"v": 1, **{k: rec[k] for k in CORE}, "personal_digest": digest}
    if version is not None:
        core.update(v=2, rules_version=version)
    return hashlib.sha256(_canon(core)).hexdigest()


# ---- keyed chain ------------------------------------------------------------------------

def key_id(key: bytes) -> str:
    """The public name of a ledger key (16 hex digits), stored in each seal it made."""
    return hmac.new(key, b"secure-privacy/ledger/key-id", hashlib.sha256).hexdigest()[:16]


def chain_mac(key: bytes, prev: bytes, pos: int, record_id: str, rec_hash: str) -> bytes:
    """The keyed link of chain position `pos`: HMAC-SHA256 over the previous link, the
    position, the record's id and its hash."""
    return hmac.new(key, b"sp-chain/2:" + prev + f":{pos}:{record_id}:{rec_hash}".encode(),
                    hashlib.sha256).digest()


def legacy_link(prev: str, rec_hash: str, pos: int) -> str:
    """The unkeyed link of the version 1 chain (kept to verify records sealed before 004)."""
    return hashlib.sha256(f"{prev}:{pos}:{rec_hash}".encode()).hexdigest()


def _tables(prefix: str) -> tuple[str, str, str]:
    t = Tables(prefix)
    return t.consents, t.chain, t.seals


def _legacy_table(prefix: str) -> str:
    """The old unkeyed chain's positions and links (migration 007 moved them out of the
    consent rows): one row per record sealed before migration 004."""
    return Tables(prefix).legacy_chain


def _scan_from(cur, s: str) -> int:
    """The `seq` after which unsealed records are searched: what the newest seal at least
    LOOKBACK_SECONDS old had reached (so a record that committed late is still found)."""
    cutoff = utcnow() - timedelta(seconds=LOOKBACK_SECONDS)
    cur.execute(f"SELECT max_seq, scan_from, sealed_at FROM {s} WHERE version = {KEYED}"
                " ORDER BY id DESC LIMIT 100")
    rows = cur.fetchall()
    for row in rows:
        if row["sealed_at"] <= cutoff:
            return row["max_seq"] or 0
    return (rows[-1]["scan_from"] or 0) if len(rows) == 100 else 0


def sealed_end(conn, prefix: str) -> int:
    """The chain position the newest keyed seal ends at (0 before the first)."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT MAX(last_pos) AS n FROM {_tables(prefix)[2]} WHERE version = {KEYED}")
        n = cur.fetchone()["n"]
    conn.commit()
    return int(n or 0)


def unsealed_count(conn, prefix: str) -> int:
    """Committed records not yet in the chain (those the next seal will take)."""
    t, c, s = _tables(prefix)
    with conn.cursor() as cur:
        start = _scan_from(cur, s)
        cur.execute(f"SELECT COUNT(*) AS n FROM {t} r LEFT JOIN {c} ch ON ch.consent_seq = r.seq"
                    " WHERE r.seq > %s AND ch.consent_seq IS NULL", (start,))
        n = cur.fetchone()["n"]
    conn.commit()
    return int(n)


def seal(conn, cfg: dict, limit: int = SEAL_BATCH, sweep: bool = False,
         accept_legacy: bool = False,
         on_sealed: Callable[[object, int, int, int], None] | None = None) -> int:
    """Append every committed record not yet in the chain (oldest `seq` first, at most
    `limit`) to the keyed chain and write one seal; return how many were sealed.

    Never updates a consent row. Serialised across processes by a named lock; returns 0 if
    another sealer holds it. `sweep` searches the whole table instead of the recent part.
    Records sealed by the old unkeyed chain are first converted (once, after verifying it;
    `accept_legacy` converts even when it fails, so that sealing can go on).
    `on_sealed(cursor, seal_id, first_pos, last_pos)` runs in the seal's transaction, so
    what it writes (the render jobs of the sealed records) commits with the seal or not at
    all: every record is handed to it exactly once."""
    prefix = cfg["SP_TABLE_PREFIX"]
    t, c, s = _tables(prefix)
    key = cfg["LEDGER_KEYS"][-1]
    lock = Tables(prefix).lock("seal")
    conn.commit()  # no snapshot from before the lock
    with conn.cursor() as cur:
        cur.execute("SELECT GET_LOCK(%s, 0) AS got", (lock,))
        if not cur.fetchone()["got"]:
            conn.commit()
            return 0
        try:
            done = _convert_legacy(conn, cfg, accept_legacy)
            if done is None:  # the old chain fails verification: refuse to vouch for it
                return 0
            conn.commit()
            cur.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cur.execute(f"SELECT last_pos, head FROM {s} WHERE version = {KEYED}"
                        " ORDER BY last_pos DESC LIMIT 1")
            last = cur.fetchone()
            pos, head = (last["last_pos"], last["head"]) if last else (0, GENESIS)
            start = 0 if sweep else _scan_from(cur, s)
            # Locking read: a record inserted but not yet committed in the range is waited
            # for, rather than passed over.
            cur.execute(f"SELECT r.seq, r.id, r.hash FROM {t} r LEFT JOIN {c} ch"
                        " ON ch.consent_seq = r.seq WHERE r.seq > %s AND ch.consent_seq IS NULL"
                        " ORDER BY r.seq LIMIT %s LOCK IN SHARE MODE", (start, limit))
            rows = cur.fetchall()
            if not rows:
                conn.commit()
                return done
            seal_id, new_head = _append(cur, cfg, key, pos, head, rows, start)
            if on_sealed is not None:
                on_sealed(cur, seal_id, pos + 1, pos + len(rows))
            conn.commit()
            new_pos = pos + len(rows)
            _anchor(cfg, seal_id, new_pos, new_head)
        except BaseException:
            conn.rollback()
            raise
        finally:
            cur.execute("SELECT RELEASE_LOCK(%s)", (lock,))
            cur.fetchall()
            conn.commit()
    log.info("sealed", extra={"fields": {"records": len(rows), "last_pos": new_pos}})
    return done + len(rows)


def _append(cur, cfg, key, pos, head, rows, scan_from, legacy_head=None) -> tuple[int, str]:
    """Insert the chain rows for `rows` after (pos, head) and their seal, in one multi-row
    INSERT and one single-row INSERT; return (seal id, new head)."""
    t, c, s = _tables(cfg["SP_TABLE_PREFIX"])
    prev_head, first_pos = head, pos + 1
    mac = bytes.fromhex(head)
    links = []
    for row in rows:
        pos += 1
        codec.from_db(row)
        mac = chain_mac(key, mac, pos, row["id"], row["hash"])
        links.append((pos, row["seq"], mac))
    cur.executemany(f"INSERT INTO {c} (pos, consent_seq, mac) VALUES (%s, %s, %s)", links)
    new_head = mac.hex()
    cur.execute(f"INSERT INTO {s} (version, first_pos, last_pos, records, prev_head, head,"
                " key_id, max_seq, scan_from, legacy_head, sealed_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (KEYED, first_pos, pos, len(rows), prev_head, new_head, key_id(key),
                 max(r["seq"] for r in rows), scan_from, legacy_head, utcnow()))
    return cur.lastrowid, new_head


def _convert_legacy(conn, cfg, accept: bool = False) -> int | None:
    """Re-seal records of the old unkeyed chain into the keyed chain, keeping their
    positions, after verifying the old chain; return how many were converted (0 when there
    is nothing to convert) or None when the old chain does not verify."""
    prefix = cfg["SP_TABLE_PREFIX"]
    t, c, s = _tables(prefix)
    lc = _legacy_table(prefix)
    key = cfg["LEDGER_KEYS"][-1]
    with conn.cursor() as cur:
        cur.execute(f"SELECT last_pos, head, legacy_head FROM {s} WHERE version = {KEYED}"
                    " ORDER BY last_pos DESC LIMIT 1")
        last = cur.fetchone()
        if last and last["legacy_head"] is None:
            conn.commit()
            return 0  # keyed sealing has begun: conversion is over
        cur.execute(f"SELECT MAX(chain_pos) AS n FROM {lc}")
        legacy_end = cur.fetchone()["n"] or 0
        pos, head = (last["last_pos"], last["head"]) if last else (0, GENESIS)
        conn.commit()
        if legacy_end <= pos:
            return 0
        report = verify(cfg["SP_DATABASE_URL"], prefix, cfg["LEDGER_KEYS"],
                        legacy_only=True)
        if not report["ok"] and accept:
            log.warning("ledger: converting the old unkeyed chain although it fails"
                        " verification (--accept-legacy); verify keeps reporting its problems",
                        extra={"fields": {"problems": report["problems"][:5]}})
        elif not report["ok"]:
            log.error("ledger: the unkeyed chain sealed before migration 004 fails"
                      " verification; it is not converted and nothing is sealed until the"
                      " problems are resolved (run `sidecar verify`)",
                      extra={"fields": {"problems": report["problems"][:5]}})
            return None
        converted = 0
        while pos < legacy_end:
            cur.execute(f"SELECT r.seq, r.id, r.hash, lc.chain_pos, lc.chain_hash FROM {lc} lc"
                        f" JOIN {t} r ON r.seq = lc.consent_seq"
                        " WHERE lc.chain_pos > %s ORDER BY lc.chain_pos LIMIT 5000", (pos,))
            rows = cur.fetchall()
            if not rows:
                break
            if not accept and (rows[0]["chain_pos"] != pos + 1
                               or rows[-1]["chain_pos"] != pos + len(rows)):
                conn.rollback()
                log.error("ledger: old chain positions changed during conversion")
                return None
            seal_id, head = _append(cur, cfg, key, pos, head, rows, 0,
                                    rows[-1]["chain_hash"])
            conn.commit()
            pos += len(rows)
            _anchor(cfg, seal_id, pos, head)
            converted += len(rows)
        log.info("ledger: old unkeyed chain verified and converted to keyed seals",
                 extra={"fields": {"records": converted, "last_pos": pos}})
        return converted


# ---- anchors: the head outside the database -----------------------------------------------

def _anchor(cfg: dict, seal_id: int, pos: int, head: str) -> None:
    """Append (position, head) of a committed seal to the anchor file, one JSON line per
    seal in one write (O_APPEND). A failure is logged, never fatal to sealing."""
    path = cfg.get("ANCHOR_FILE")
    if not path:
        return
    line = json.dumps({"seal": seal_id, "pos": pos, "head": head,
                       "key_id": key_id(cfg["LEDGER_KEYS"][-1]),
                       "at": rfc3339(utcnow())}, separators=(",", ":")) + "\n"
    try:
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except OSError as e:
        if (path, str(e)) not in _anchor_errors:  # once per process, not every second
            _anchor_errors.add((path, str(e)))
            log.error("ledger: could not append to the anchor file; seals go on without",
                      extra={"fields": {"path": path, "error": str(e)}})


_anchor_errors: set = set()


def read_anchors(path: str, limit: int | None = None, offset: int = 0) -> Iterator[dict]:
    """The anchors of one file, in file order, from its first `limit` bytes (a line not
    complete within them is left out); a malformed line is yielded as {"bad": line number}.
    From `offset` (a byte offset, see `_anchor_offset`) the line cut there is skipped and
    line numbers count from it."""
    read = offset
    with open(path, "rb") as f:
        if offset:
            f.seek(offset - 1)
            read += len(f.readline()) - 1  # the rest of the line `offset` falls into
        for n, line in enumerate(f, 1):
            read += len(line)
            if (limit is not None and read > limit) or not line.endswith(b"\n"):
                return
            if not line.strip():
                continue
            try:
                a = json.loads(line)
                if not (isinstance(a.get("pos"), int) and isinstance(a.get("head"), str)):
                    raise ValueError
            except ValueError:
                yield {"bad": n, "file": path, "offset": offset}
                continue
            a["file"] = path
            yield a


def _anchor_offset(path: str, size: int, after: int, window: int = 65536) -> int:
    """A byte offset of anchor file `path` (its first `size` bytes, written in position
    order) after which every anchor beyond position `after` lies, found by bisection
    (reading a few lines, however long the file): where an incremental verification
    begins reading it."""
    lo, hi = 0, size
    with open(path, "rb") as f:
        while hi - lo > window:
            mid = (lo + hi) // 2
            f.seek(mid)
            f.readline()
            line = f.readline()
            try:
                pos = json.loads(line)["pos"] if f.tell() <= size else None
            except (ValueError, KeyError, TypeError):
                pos = None
            if isinstance(pos, int) and pos <= after:
                lo = mid
            else:  # beyond `after`, or not an anchor: search before it
                hi = mid
    return lo


# ---- verification -------------------------------------------------------------------------

def _row_to_fields(row: dict) -> dict:
    """The hashed form of a row read back in its logical form (`codec.from_db`): the same
    values insert hashed."""
    rec = {k: row[k] for k in CORE + PERSONAL if k not in ("occurred_at", "received_at")}
    rec["occurred_at"] = rfc3339(row["occurred_at"])
    rec["received_at"] = rfc3339(row["received_at"])
    rec["rules_version"] = row.get("rules_version")
    return rec


_COLS = "lc.chain_pos, lc.chain_hash, " + codec.user_agent_sql() + ", " + ", ".join(
    f"r.{col}" for col in ("seq", "hash", "personal_digest", "salt", "erased_at",
                           "rules_version") + CORE
    + PERSONAL if col != "user_agent")


class _Legacy:
    """Recomputes the old unkeyed chain over record hashes, in old position order, and
    checks it against the old seals (version 1) and the conversion seals."""

    def __init__(self, seals: dict):
        self.seals = seals  # last_pos -> seal row (a fixed set: no more are written)
        self.head, self.pos = GENESIS, 0

    def feed(self, row: dict, problem) -> None:
        pos = row["chain_pos"]
        if pos != self.pos + 1:
            problem(row, f"old chain position {pos} where {self.pos + 1} was expected: a"
                         " record sealed before the keyed chain is missing or was moved")
        self.head, self.pos = legacy_link(self.head, row["hash"], pos), pos
        if row["chain_hash"] != self.head:  # the walk goes on from the recomputed link
            problem(row, "old chain hash does not link to the record before it")
        old = self.seals.get(pos)
        if old and old["head"] != self.head:
            problem(row, f"old seal {old['id']} head does not match the old chain")

    def finish(self, problem) -> None:
        beyond = [p for p in self.seals if p > self.pos]
        if beyond:
            problem(None, f"an old seal ends at position {max(beyond)} but the old chain at"
                          f" {self.pos}: records sealed before the keyed chain are missing")


def verify(url_args: str | dict, prefix: str, keys: list[bytes], anchors: list[str] | None = None,
           max_problems: int = 100, legacy_only: bool = False,
           progress: Callable[[int], None] | None = None, start: dict | None = None,
           through: int | None = None, deadline: float | None = None,
           unsealed: str | None = "all", unsealed_limit: int | None = None,
           conns: tuple | None = None) -> dict:
    """Recompute every record's hash, the keyed chain, every seal and every anchored head;
    report what does not match.

    By default from the genesis to the newest seal, then every record not in the chain.
    `start` {pos, head, records, key_ids, what} begins after chain position `pos` instead: a
    checkpoint that vouches for positions 1…pos (their link at `pos` must still be `head`;
    head None takes the stored link as it is: a re-check slice of old positions). `through`
    stops after that position, `deadline` (time.monotonic()) when the time is up; the report
    then says `complete: false` and how far it got. `unsealed`: "all" checks every record
    not in the keyed chain, "recent" those after the newest seal's records, None none.

    Streams the tables on unbuffered cursors, so memory stays flat: on two connections of
    its own, or on `conns` (two open connections, left open; its snapshot is ended). Returns
    {ok, records, sealed, unsealed, head, key_ids, anchors, warnings, problems} and
    {from_pos, through_pos, end, complete, walked, chain_records}."""
    t, c, s = _tables(prefix)
    joins = _record_joins(prefix)
    keys_by_id = {key_id(k): k for k in keys}
    problems: list[dict] = []
    warnings: list[str] = []
    start = start or {}
    from_pos = int(start.get("pos") or 0)

    def problem(row, text):
        if len(problems) < max_problems:
            problems.append({"seq": row.get("seq") if row else None,
                             "chain_pos": row.get("pos", row.get("chain_pos")) if row else None,
                             "id": row.get("id") if row else None, "problem": text})

    # Only anchors written before the database snapshot below count: each was appended
    # after its seal committed, so the snapshot must hold it.
    sizes = {}
    for path in anchors or []:
        try:
            sizes[path] = os.path.getsize(path)
        except OSError:
            sizes[path] = None
    own = conns is None
    conn, seal_conn = conns or (connect(url_args, streaming=True),
                                connect(url_args, streaming=True))
    walked = chain_records = checked = 0
    head, used_keys = GENESIS, set(start.get("key_ids") or ())
    anchor_state = {"files": list(anchors or []), "checked": 0, "last_pos": 0}
    missing: list[str] = []
    stopped = False
    end = stop = 0
    pending_legacy = 0
    try:
        with _ss(conn) as cur:
            # One snapshot for the chain and the records; the seals, read on a second
            # connection, are bounded by the chain's end in this snapshot.
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            cur.execute(f"SELECT MAX(last_pos) AS n FROM {s} WHERE version = {KEYED}")
            end = cur.fetchall()[0]["n"] or 0
            stop = end if through is None else min(through, end)
            cur.execute(f"SELECT COUNT(*) AS n, MIN(pos) AS first FROM {c} WHERE pos > %s",
                        (end,))
            beyond = cur.fetchall()[0]
            if beyond["n"] and not legacy_only and stop >= end:
                problem(None, f"{beyond['n']} chain position(s) from {beyond['first']} on lie"
                              f" beyond the last seal (position {end}): a seal was deleted")
            cur.execute(f"SELECT id, last_pos, prev_head, head FROM {s} WHERE version = 1")
            legacy = _Legacy({x["last_pos"]: x for x in cur.fetchall()})
            prev_seal_head: str | None = GENESIS
            if from_pos:
                head = _start_at(cur, t, c, s, joins, start, from_pos, end, legacy, problem)
                cur.execute(f"SELECT head FROM {s} WHERE version = {KEYED} AND last_pos = %s",
                            (from_pos,))
                at = cur.fetchall()
                prev_seal_head = at[0]["head"] if at else None
            # The seal that covers `stop` bounds the seals read (a stream cut short is drained).
            cur.execute(f"SELECT MIN(last_pos) AS n FROM {s} WHERE version = {KEYED}"
                        " AND last_pos >= %s", (stop,))
            seal_stop = min(cur.fetchall()[0]["n"] or end, end)
        if not legacy_only:
            anchor_iter, before = _anchor_stream(sizes, problem, warnings, missing, from_pos)
            next_anchor = next(anchor_iter, None)
            if from_pos and before:
                # Anchors up to the start were checked when it was verified; the newest of
                # them is checked again here (one indexed read): a rewrite of any position
                # before it changes its link.
                newest = max(before.values(), key=lambda a: a["pos"])
                with _ss(conn) as cur:
                    cur.execute(f"SELECT mac FROM {c} WHERE pos = %s", (newest["pos"],))
                    at = cur.fetchall()
                if newest["pos"] > end:
                    problem(None, f"anchored position {newest['pos']} (seal"
                                  f" {newest.get('seal')}, {newest.get('at')}, in"
                                  f" {newest['file']}) is beyond the end of the chain at"
                                  f" {end}: sealed records were removed")
                elif not at:  # reported as "not in the chain"
                    _check_anchor(newest, -1, "", problem)
                else:
                    _check_anchor(newest, newest["pos"], bytes(at[0]["mac"]).hex(), problem)
                anchor_state["checked"] += 1
                anchor_state["last_pos"] = newest["pos"]
            with _ss(seal_conn) as scur, _ss(conn) as cur:
                scur.execute(f"SELECT id, first_pos, last_pos, records, prev_head, head, key_id,"
                             f" legacy_head FROM {s} WHERE version = {KEYED} AND last_pos > %s"
                             " AND last_pos <= %s ORDER BY last_pos", (from_pos, seal_stop))
                seal_row = scur.fetchone()
                expected_pos = from_pos + 1
                for row in _chain_rows(cur, t, c, joins, from_pos, stop):
                    pos = row["pos"]
                    walked += 1
                    if pos != expected_pos:
                        problem(row, f"chain position {pos} where {expected_pos} was expected:"
                                     " a record's chain entry is missing or was moved")
                    while seal_row and seal_row["last_pos"] < pos:
                        problem(None, f"seal {seal_row['id']} ends at position"
                                      f" {seal_row['last_pos']}, which the chain lacks")
                        prev_seal_head = seal_row["head"]
                        seal_row = scur.fetchone()
                    key = None
                    if seal_row is None or seal_row["first_pos"] > pos:
                        problem(row, "no seal covers this chain position")
                    else:
                        if pos == seal_row["first_pos"] and (
                                seal_row["prev_head"] != head or prev_seal_head != head):
                            problem(row, f"seal {seal_row['id']} does not follow the chain"
                                         " before it")
                        key = keys_by_id.get(seal_row["key_id"])
                        if key is None and pos == seal_row["first_pos"]:
                            problem(row, f"seal {seal_row['id']} names ledger key"
                                         f" {seal_row['key_id']}, which is not configured"
                                         " (SP_LEDGER_KEYS)")
                        used_keys.add(seal_row["key_id"])
                    if row["seq"] is None:
                        problem(row, f"the record of this chain position (seq"
                                     f" {row['consent_seq']}) is missing: it was deleted")
                    else:
                        chain_records += 1
                        _check_record(row, problem)
                        if row["chain_pos"] is not None:
                            legacy.feed(row, problem)
                        if key is not None:
                            mac = chain_mac(key, bytes.fromhex(head), pos, row["id"],
                                            row["hash"])
                            if not hmac.compare_digest(mac, bytes(row["mac"] or b"")):
                                problem(row, "the keyed chain link does not verify: the record"
                                             " or the chain was rewritten")
                    head = bytes(row["mac"] or b"").hex()
                    if seal_row and pos == seal_row["last_pos"]:
                        if seal_row["head"] != head:
                            problem(row, f"seal {seal_row['id']} head does not match the chain")
                        if seal_row["legacy_head"] is not None and \
                                seal_row["legacy_head"] != legacy.head:
                            problem(row, f"conversion seal {seal_row['id']} does not match"
                                         " the old chain it converted")
                        prev_seal_head = seal_row["head"]
                        seal_row = scur.fetchone()
                    while next_anchor and next_anchor["pos"] <= pos:
                        _check_anchor(next_anchor, pos, head, problem)
                        anchor_state["checked"] += 1
                        anchor_state["last_pos"] = next_anchor["pos"]
                        next_anchor = next(anchor_iter, None)
                    expected_pos = pos + 1
                    if progress and walked % 100000 == 0:
                        progress(walked)
                    if deadline is not None and walked % 256 == 0 \
                            and time.monotonic() > deadline:
                        stopped = True
                        break
                if stopped:
                    pass  # what is left unread is not claimed (`complete: false`)
                elif stop < end:
                    if expected_pos - 1 < stop:
                        problem(None, f"chain positions {expected_pos} to {stop} are missing")
                else:
                    while seal_row:
                        problem(None, f"seal {seal_row['id']} ends at position"
                                      f" {seal_row['last_pos']} but the chain at"
                                      f" {expected_pos - 1}: sealed records are missing")
                        seal_row = scur.fetchone()
                    while next_anchor:
                        anchor_state["checked"] += 1
                        anchor_state["last_pos"] = next_anchor["pos"]
                        problem(None, f"anchored position {next_anchor['pos']} (seal"
                                      f" {next_anchor.get('seal')}, {next_anchor.get('at')}, in"
                                      f" {next_anchor['file']}) is beyond the end of the chain"
                                      f" at {expected_pos - 1}: sealed records were removed")
                        next_anchor = next(anchor_iter, None)
        # Records not in the keyed chain: old-chain records first (in old order), then new.
        if unsealed and not stopped:
            pending_legacy, checked, stopped, whole = _check_unsealed(
                conn, t, c, s, joins, unsealed if not legacy_only else "legacy", unsealed_limit,
                legacy, problem, progress, deadline)
            if not from_pos and not stopped and stop >= end and whole:
                legacy.finish(problem)
    finally:
        _release(own, conn, seal_conn)
    through_pos = from_pos + walked if not legacy_only else 0
    if pending_legacy and not legacy_only:
        warnings.append(f"{pending_legacy} record(s) are sealed only by the old unkeyed chain"
                        " (conversion pending, or refused because the old chain fails)")
    if through_pos:
        warnings.extend(f"anchor file {path} does not exist" for path in missing)
    if not legacy_only and anchors is not None:
        if not anchor_state["checked"] and through_pos:
            warnings.append("no anchors were checked: truncation of the newest records"
                            " cannot be detected without the anchor file")
        elif anchor_state["last_pos"] < through_pos and not stopped and stop >= end:
            warnings.append(f"the newest anchor is at position {anchor_state['last_pos']},"
                            f" the chain ends at {through_pos}: removal of positions after the"
                            " newest anchor would not be detected (another host may seal"
                            " with its own anchor file)")
    base = int(start.get("records", from_pos) or 0)
    records = base + chain_records + checked
    sealed = through_pos
    return {"ok": not problems, "records": records, "sealed": sealed,
            "unsealed": records - sealed, "head": head, "key_ids": sorted(used_keys),
            "anchors": {"files": anchor_state["files"], "checked": anchor_state["checked"],
                        "last_pos": anchor_state["last_pos"]},
            "warnings": warnings, "problems": problems,
            "from_pos": from_pos, "through_pos": through_pos, "end": end,
            "complete": not stopped and stop >= end, "walked": walked,
            "chain_records": base + chain_records}


CHAIN_CHUNK = 2000


def _ss(conn):
    """An unbuffered cursor (rows as they are read), on any connection."""
    return conn.cursor(pymysql.cursors.SSDictCursor)


def _release(own: bool, *conns) -> None:
    """Close the connections verify() opened; end the transactions on those it was lent."""
    for conn in conns:
        if own:
            conn.close()
        else:
            conn.rollback()


def _record_joins(prefix: str) -> str:
    """What a record `r` read with _COLS joins: its old-chain row (`lc`) and user agent."""
    t = Tables(prefix)
    return (f" LEFT JOIN {t.legacy_chain} lc ON lc.consent_seq = r.seq"
            + codec.user_agent_join(t.user_agents, "r"))


def _chain_rows(cur, t: str, c: str, joins: str, after: int,
                through: int) -> Iterator[dict]:
    """The chain rows after position `after` through `through`, each with its record in its
    logical form, in position order: one query per CHAIN_CHUNK positions (in the same
    snapshot), so that a walk stopped by its deadline leaves at most one chunk unread."""
    while after < through:
        upto = min(after + CHAIN_CHUNK, through)
        cur.execute(f"SELECT ch.pos, ch.consent_seq, ch.mac, {_COLS}"
                    f" FROM {c} ch LEFT JOIN {t} r ON r.seq = ch.consent_seq{joins}"
                    " WHERE ch.pos > %s AND ch.pos <= %s ORDER BY ch.pos", (after, upto))
        for row in cur:
            yield codec.from_db(row)
        after = upto


def _start_at(cur, t: str, c: str, s: str, joins: str, start: dict, from_pos: int,
              end: int, legacy: _Legacy, problem) -> str:
    """The link to go on from at `from_pos` (where a checkpoint or a re-check slice
    begins), checked against what the checkpoint verified; sets the old chain's state."""
    what = start.get("what") or f"position {from_pos}"
    cur.execute(f"SELECT ch.mac, lc.chain_pos, lc.chain_hash FROM {c} ch LEFT JOIN {t} r"
                f" ON r.seq = ch.consent_seq{joins} WHERE ch.pos = %s", (from_pos,))
    at = cur.fetchall()
    if from_pos > end or not at:
        problem(None, f"{what} vouches for chain position {from_pos}, but the chain ends"
                      f" at {end}: sealed records were removed" if from_pos > end else
                      f"chain position {from_pos} ({what}) is missing")
        return start.get("head") or GENESIS
    stored = bytes(at[0]["mac"]).hex()
    if start.get("head") is not None and not hmac.compare_digest(stored, start["head"]):
        problem(None, f"the chain's link at position {from_pos} is not the one {what}"
                      f" verified: records at or before position {from_pos} were rewritten")
    if at[0]["chain_pos"] is not None:  # inside the converted old chain
        legacy.pos, legacy.head = at[0]["chain_pos"], at[0]["chain_hash"]
    return stored


def _check_unsealed(conn, t: str, c: str, s: str, joins: str, mode: str, limit: int | None,
                    legacy: _Legacy, problem, progress,
                    deadline) -> tuple[int, int, bool, bool]:
    """Check the records not in the keyed chain ("all", "recent": those after the newest
    seal's highest `seq`, or "legacy": those of the old chain); return (old-chain records,
    records checked, whether some were left unchecked, whether the whole table was
    searched). Old-chain records are walked in their old order, except in "recent" mode
    (which reads in `seq` order, so that its LIMIT bounds the work)."""
    with _ss(conn) as cur:
        after = 0
        if mode == "recent":
            cur.execute(f"SELECT max_seq FROM {s} WHERE version = {KEYED}"
                        " ORDER BY last_pos DESC LIMIT 1")
            newest = cur.fetchall()
            after = (newest[0]["max_seq"] or 0) if newest else 0
        if mode == "recent" and after == 0:
            mode = "all"  # nothing sealed yet: search the whole table
        order = "lc.chain_pos IS NULL, lc.chain_pos, r.seq"
        if mode == "legacy":
            where = "WHERE lc.chain_pos IS NOT NULL"
        elif mode == "all":
            where = f"LEFT JOIN {c} ch ON ch.consent_seq = r.seq WHERE ch.consent_seq IS NULL"
        else:
            where = (f"LEFT JOIN {c} ch ON ch.consent_seq = r.seq WHERE r.seq > {int(after)}"
                     " AND ch.consent_seq IS NULL")
            order = "r.seq"
        whole = mode != "recent"
        sql = f"SELECT {_COLS} FROM {t} r{joins} {where} ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit) + 1}"
        cur.execute(sql)
        old = checked = 0
        for row in cur:
            if limit is not None and checked >= limit:
                return old, checked, True, whole
            checked += 1
            codec.from_db(row)
            _check_record(row, problem)
            if row["chain_pos"] is not None:
                old += 1
                if whole:
                    legacy.feed(row, problem)
            if progress and checked % 100000 == 0:
                progress(checked)
            if deadline is not None and checked % 256 == 0 and time.monotonic() > deadline:
                return old, checked, True, whole
    return old, checked, False, whole


def _check_record(row: dict, problem) -> None:
    fields = _row_to_fields(row)
    if row["erased_at"] is None:
        if row["salt"] is None or personal_digest(fields, row["salt"]) != row["personal_digest"]:
            problem(row, "personal fields do not match the record's digest")
    if record_hash(fields, row["personal_digest"]) != row["hash"]:
        problem(row, "record content does not match its hash")


def _check_anchor(anchor: dict, pos: int, head: str, problem) -> None:
    where = f"(seal {anchor.get('seal')}, {anchor.get('at')}, in {anchor['file']})"
    if anchor["pos"] != pos:
        problem(None, f"anchored position {anchor['pos']} {where} is not in the chain")
    elif not hmac.compare_digest(anchor["head"], head):
        problem(None, f"anchored head at position {pos} {where} is not the chain's: records"
                      f" at or before position {pos} were rewritten")


def _anchor_stream(sizes: dict, problem, warnings: list[str], missing: list[str],
                   after: int = 0) -> tuple[Iterator[dict], dict]:
    """Anchors of the files `sizes` names (path -> bytes to read, None if it did not
    exist) beyond position `after`, in position order (each file is written in that order),
    and {path: the newest anchor at or before `after`} (filled as the stream starts)."""
    import heapq

    before: dict = {}

    def one(path):
        last = 0
        if sizes[path] is None:
            missing.append(path)
            return
        try:
            offset = _anchor_offset(path, sizes[path], after) if after else 0
            for a in read_anchors(path, sizes[path], offset):
                if "bad" in a:
                    where = f" (counting from byte {a['offset']})" if a["offset"] else ""
                    problem(None, f"anchor file {path} line {a['bad']}{where} is not an anchor")
                    continue
                if a["pos"] < last:
                    warnings.append(f"anchor file {path}: position {a['pos']} after {last}"
                                    " (out of order, not checked)")
                    continue
                last = a["pos"]
                if a["pos"] <= after:
                    before[path] = a
                    continue
                yield a
        except FileNotFoundError:
            missing.append(path)
        except OSError as e:
            warnings.append(f"anchor file {path} cannot be read: {e}")

    return heapq.merge(*(one(p) for p in sizes), key=lambda a: a["pos"]), before


# ---- keyed checkpoints: verifying incrementally -------------------------------------------
# A checkpoint row says "chain positions 1…pos were verified (their records, links, seals
# and the anchors up to there) and the link at pos is head", under an HMAC with the ledger
# key, so that a row written by anyone without the key is recognised (docs/ledger.md).

CHECKPOINT_FIELDS = ("kind", "pos", "head", "records", "key_ids", "recheck_pos", "recheck_at",
                     "recheck_cycle_at", "recheck_done_at", "started_at", "finished_at",
                     "key_id")
CHECKPOINTS_KEPT = 100  # newest incremental checkpoints kept; full ones are all kept
CHECKPOINTS_READ = 500  # newest rows read (and checked) per verification
CHECKPOINT_EVERY = 30.0  # seconds between the worker's incremental verifications
CHECKPOINT_CATCHUP = 5.0  # ... while it has not reached the chain's end
WORKER_BUDGET, WORKER_RECHECK, WORKER_SECONDS = 200_000, 20_000, 2.0
REQUEST_BUDGET, REQUEST_RECHECK = 20_000, 5_000  # GET /v1/integrity, within:
REQUEST_SECONDS, REQUEST_RECHECK_SECONDS = 0.5, 0.2
FULL_REQUEST_MAX = 20_000  # ?full=1 on larger ledgers: `sidecar verify` instead


def checkpoint_mac(key: bytes, cp: dict) -> bytes:
    """HMAC-SHA256 over the canonical JSON of every field of a checkpoint but id and mac."""
    fields = {k: rfc3339(cp[k]) if hasattr(cp[k], "strftime") else cp[k]
              for k in CHECKPOINT_FIELDS}
    return hmac.new(key, b"sp-checkpoint/1:" + _canon(fields), hashlib.sha256).digest()


def read_checkpoints(conn, prefix: str, keys: list[bytes]) -> dict:
    """The newest checkpoint rows, checked: {best: the valid one furthest along (or None),
    valid: [valid rows, newest first], problems: rows whose MAC does not verify under the
    configured key they name (written without the key), warnings, readable}."""
    t = Tables(prefix)
    keys_by_id = {key_id(k): k for k in keys}
    out: dict = {"best": None, "valid": [], "problems": [], "warnings": [], "readable": True}
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT * FROM {t.checkpoints} ORDER BY id DESC LIMIT %s",
                        (CHECKPOINTS_READ + 1,))
            rows = cur.fetchall()
        conn.commit()
    except pymysql.MySQLError as e:
        conn.rollback()
        out["readable"] = False
        out["warnings"].append(f"checkpoints cannot be read ({e.args[-1] if e.args else e}):"
                               " verifying from the genesis within this call's budget")
        _log_once("ledger: checkpoints cannot be read; every verification starts from the"
                  " genesis (grant SELECT, INSERT, DELETE on the checkpoints table)", e)
        return out
    unknown: dict = {}
    for row in rows[:CHECKPOINTS_READ]:
        key = keys_by_id.get(row["key_id"])
        if key is None:
            unknown.setdefault(row["key_id"], []).append(row["id"])
        elif not hmac.compare_digest(checkpoint_mac(key, row), bytes(row["mac"] or b"")):
            out["problems"].append({
                "seq": None, "chain_pos": row["pos"], "id": None,
                "problem": f"checkpoint {row['id']} (position {row['pos']},"
                           f" {rfc3339(row['finished_at'])}) does not verify under ledger key"
                           f" {row['key_id']}: it was not written by the sidecar (ignored)"})
        else:
            out["valid"].append(row)
    for kid, ids in unknown.items():
        out["warnings"].append(f"{len(ids)} checkpoint(s) (ids {', '.join(map(str, ids[:5]))}"
                               f"{', …' if len(ids) > 5 else ''}) name ledger key {kid}, which"
                               " is not configured (SP_LEDGER_KEYS): ignored")
    if len(rows) > CHECKPOINTS_READ:
        out["warnings"].append(f"more than {CHECKPOINTS_READ} checkpoint rows: only the newest"
                               f" {CHECKPOINTS_READ} were read")
    if out["valid"]:
        out["best"] = max(out["valid"], key=lambda r: (r["pos"], r["id"]))
    return out


def _write_checkpoint(conn, prefix: str, key: bytes, cp: dict, warnings: list[str]) -> int | None:
    """Insert checkpoint `cp` under `key`; its id, or None (with a warning) if it could not
    be written (e.g. the database user lacks INSERT on the table)."""
    t = Tables(prefix)
    cp = {**cp, "key_id": key_id(key)}
    cp["mac"] = checkpoint_mac(key, cp)
    cols = (*CHECKPOINT_FIELDS, "mac")
    try:
        with conn.cursor() as cur:
            cur.execute(f"INSERT INTO {t.checkpoints} ({', '.join(cols)}) VALUES"
                        f" ({', '.join(['%s'] * len(cols))})", [cp[k] for k in cols])
            new_id = cur.lastrowid
        conn.commit()
        return new_id
    except pymysql.MySQLError as e:
        conn.rollback()
        warnings.append(f"no checkpoint was written ({e.args[-1] if e.args else e})")
        _log_once("ledger: a checkpoint could not be written", e)
        return None


_logged: set = set()


def _log_once(message: str, error: Exception) -> None:
    """Log an error once per process (not every few seconds)."""
    if (message, str(error)) not in _logged:
        _logged.add((message, str(error)))
        log.error(message, extra={"fields": {"error": str(error)}})


def _prune_checkpoints(conn, prefix: str, valid: list[dict]) -> None:
    """Delete valid incremental checkpoints older than the newest CHECKPOINTS_KEPT (rows
    that do not verify are left, and reported, for someone to look at)."""
    old = [r["id"] for r in valid if r["kind"] == "incremental"][CHECKPOINTS_KEPT:]
    if not old:
        return
    try:
        with conn.cursor() as cur:
            cur.execute(f"DELETE FROM {Tables(prefix).checkpoints} WHERE id IN"
                        f" ({', '.join(['%s'] * len(old))})", old)
        conn.commit()
    except pymysql.MySQLError as e:
        conn.rollback()
        log.warning("ledger: old checkpoints could not be deleted",
                    extra={"fields": {"error": str(e)}})


def _public_checkpoint(cp: dict | None) -> dict | None:
    return None if cp is None else {
        "id": cp["id"], "pos": cp["pos"], "kind": cp["kind"],
        "verified_at": rfc3339(cp["finished_at"])}


def advance_checkpoint(cfg: dict, conn=None, budget: int = WORKER_BUDGET,
                       recheck: int = WORKER_RECHECK, deadline: float | None = None,
                       recheck_deadline: float | None = None, write: bool = True,
                       second=None) -> dict:
    """Verify incrementally: from the newest checkpoint that verifies under a configured
    key (rows that do not are reported and ignored) to the end of the newest seal, at most
    `budget` positions and until `deadline`; then re-check the next `recheck` old positions
    of the rolling re-check (round robin from the genesis, until `recheck_deadline`). When
    neither found a problem, write a new checkpoint there. Returns the report of
    `GET /v1/integrity`: verify()'s fields and `checkpoint`, `verified_from`,
    `verified_through`, `chain_end`, `complete`, `recheck`, `new_checkpoint`.

    Runs on `conn` and `second` (opened here when not given; connecting costs tens of
    milliseconds of CPU, as PyMySQL builds a TLS context for each connection)."""
    prefix, url, keys = cfg["SP_TABLE_PREFIX"], cfg["SP_DATABASE_URL"], cfg["LEDGER_KEYS"]
    anchors = [cfg["ANCHOR_FILE"]] if cfg.get("ANCHOR_FILE") else []
    started = utcnow()
    own, own_second = conn is None, second is None
    conn = connect(url) if own else conn
    second = connect(url) if own_second else second
    try:
        cps = read_checkpoints(conn, prefix, keys)
        cp = cps["best"]
        start = None if cp is None else {
            "pos": cp["pos"], "head": cp["head"], "records": cp["records"],
            "key_ids": [k for k in cp["key_ids"].split(",") if k],
            "what": f"checkpoint {cp['id']} ({cp['kind']}, {rfc3339(cp['finished_at'])})"}
        from_pos = cp["pos"] if cp else 0
        report = verify(url, prefix, keys, anchors, start=start, through=from_pos + budget,
                        deadline=deadline, unsealed="recent", unsealed_limit=budget,
                        conns=(conn, second))
        rc = None
        if cp is not None and cp["pos"] and recheck > 0:
            rc_from = cp["recheck_pos"] if cp["recheck_pos"] < cp["pos"] else 0
            part = verify(url, prefix, keys, anchors, start={"pos": rc_from, "head": None},
                          through=min(rc_from + recheck, cp["pos"]),
                          deadline=recheck_deadline, unsealed=None, conns=(conn, second))
            now = utcnow()
            done = part["through_pos"] >= cp["pos"] and not part["problems"]
            rc = {"from_pos": rc_from, "through_pos": part["through_pos"], "at": now,
                  "cycle_started_at": now if rc_from == 0 else cp["recheck_cycle_at"],
                  "last_cycle_completed_at": now if done else cp["recheck_done_at"],
                  "problems": part["problems"]}
            if part["problems"]:
                log.error("ledger: the rolling re-check of old records found a problem",
                          extra={"fields": {"from_pos": rc_from, "problems":
                                            part["problems"][:5]}})
        chain_problems = report["problems"] + (rc["problems"] if rc else [])
        if report["problems"]:
            log.error("ledger: incremental verification found a problem", extra={"fields": {
                "from_pos": from_pos, "problems": report["problems"][:5]}})
        new_id = None
        moved = report["through_pos"] > from_pos or (
            rc is not None and rc["through_pos"] != cp["recheck_pos"])
        if write and cps["readable"] and not chain_problems and moved:
            new = {"kind": "incremental", "pos": report["through_pos"], "head": report["head"],
                   "records": report["chain_records"], "key_ids": ",".join(report["key_ids"]),
                   "recheck_pos": 0, "recheck_at": None, "recheck_cycle_at": None,
                   "recheck_done_at": None, "started_at": started, "finished_at": utcnow()}
            if rc is not None:
                new.update(recheck_pos=rc["through_pos"], recheck_at=rc["at"],
                           recheck_cycle_at=rc["cycle_started_at"],
                           recheck_done_at=rc["last_cycle_completed_at"])
            elif cp is not None:
                new.update({k: cp[k] for k in ("recheck_pos", "recheck_at", "recheck_cycle_at",
                                                "recheck_done_at")})
            new_id = _write_checkpoint(conn, prefix, keys[-1], new, report["warnings"])
            if new_id is not None:
                _prune_checkpoints(conn, prefix, cps["valid"])
    finally:
        if own_second:
            second.close()
        if own:
            conn.close()
    return _answer(report, cps, cp, rc, new_id)


def _answer(report: dict, cps: dict, cp: dict | None, rc: dict | None,
            new_id: int | None) -> dict:
    """The integrity report of an incremental verification (what it checked, and only
    that)."""
    problems = cps["problems"] + report["problems"] + (rc["problems"] if rc else [])
    warnings = cps["warnings"] + report["warnings"]
    if report["from_pos"]:
        warnings.append(
            f"positions 1 to {report['from_pos']} were verified when checkpoint {cp['id']} was"
            f" written ({rfc3339(cp['finished_at'])}) and are re-checked in rotation"
            + (f" (this call re-checked {rc['from_pos'] + 1} to {rc['through_pos']})"
               if rc and rc["through_pos"] > rc["from_pos"] else "")
            + "; `sidecar verify` checks everything at once")
    if not report["complete"]:
        warnings.insert(0, f"verified through position {report['through_pos']} of"
                           f" {report['end']} within this call's budget: later positions were"
                           " not checked (the next call goes on from there; `sidecar verify`"
                           " checks everything)")
    out = {k: report[k] for k in ("records", "sealed", "unsealed", "head", "key_ids",
                                  "anchors")}
    out.update({"ok": not problems, "warnings": warnings, "problems": problems[:100],
                "checkpoint": _public_checkpoint(cp), "verified_from": report["from_pos"],
                "verified_through": report["through_pos"], "chain_end": report["end"],
                "complete": report["complete"], "new_checkpoint": new_id})
    state = rc if rc is not None else cp and {
        "from_pos": None, "through_pos": cp["recheck_pos"], "at": cp["recheck_at"],
        "cycle_started_at": cp["recheck_cycle_at"],
        "last_cycle_completed_at": cp["recheck_done_at"], "problems": []}
    out["recheck"] = state and {
        **{k: state[k] for k in ("from_pos", "through_pos")},
        **{k: rfc3339(state[k]) for k in ("at", "cycle_started_at", "last_cycle_completed_at")},
        "problems": len(state["problems"])}
    return out


def full_verify(cfg: dict, anchors: list[str] | None = None,
                progress: Callable[[int], None] | None = None, write: bool = True) -> dict:
    """Verify everything from the genesis (`sidecar verify`); when nothing is wrong, write
    a 'full' checkpoint (which also completes a re-check cycle). verify()'s report plus
    `new_checkpoint`."""
    started = utcnow()
    url, prefix, keys = cfg["SP_DATABASE_URL"], cfg["SP_TABLE_PREFIX"], cfg["LEDGER_KEYS"]
    if anchors is None:
        anchors = [cfg["ANCHOR_FILE"]] if cfg.get("ANCHOR_FILE") else []
    report = verify(url, prefix, keys, anchors=anchors, progress=progress)
    report["new_checkpoint"] = None
    conn = connect(url)
    try:
        cps = read_checkpoints(conn, prefix, keys)  # rows written without the key
        if write and report["ok"] and report["through_pos"]:
            now = utcnow()
            report["new_checkpoint"] = _write_checkpoint(conn, prefix, keys[-1], {
                "kind": "full", "pos": report["through_pos"], "head": report["head"],
                "records": report["chain_records"], "key_ids": ",".join(report["key_ids"]),
                "recheck_pos": 0, "recheck_at": now, "recheck_cycle_at": started,
                "recheck_done_at": now, "started_at": started, "finished_at": now},
                report["warnings"])
    finally:
        conn.close()
    report["problems"] = (cps["problems"] + report["problems"])[:100]
    report["warnings"] += cps["warnings"] if cps["readable"] else []
    report["ok"] = not report["problems"]
    return report


_next_checkpoint: dict = {}


def maybe_advance_checkpoint(conn, cfg: dict) -> dict | None:
    """The screenshot worker's call after each seal: advance the checkpoint every
    CHECKPOINT_EVERY seconds (every CHECKPOINT_CATCHUP while behind the chain's end).
    A database error is raised (the worker reconnects); any other is logged."""
    key = (cfg["SP_DATABASE_URL"], cfg["SP_TABLE_PREFIX"])
    now = time.monotonic()
    if now < _next_checkpoint.get(key, 0.0):
        return None
    _next_checkpoint[key] = now + CHECKPOINT_EVERY
    try:
        report = advance_checkpoint(cfg, conn, deadline=now + WORKER_SECONDS,
                                    recheck_deadline=now + 1.5 * WORKER_SECONDS)
    except pymysql.MySQLError:
        raise
    except Exception:  # noqa: BLE001 - verification must never stop the screenshots
        log.exception("ledger: incremental verification failed")
        return None
    if not report["complete"] and report["new_checkpoint"] is not None:
        _next_checkpoint[key] = time.monotonic() + CHECKPOINT_CATCHUP
    return report
