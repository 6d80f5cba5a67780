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
from collections.abc import Callable, Iterator
from datetime import timedelta

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


def seal(conn, cfg: dict, limit: int = 5000, sweep: bool = False,
         accept_legacy: bool = False) -> int:
    """Append every committed record not yet in the chain (oldest `seq` first, at most
    `limit`) to the keyed chain and write one seal; return how many were sealed.

    Never updates a consent row. Serialised across processes by a named lock; returns 0 if
    another sealer holds it. `sweep` searches the whole table instead of the recent part.
    Records sealed by the old unkeyed chain are first converted (once, after verifying it;
    `accept_legacy` converts even when it fails, so that sealing can go on)."""
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


def read_anchors(path: str, limit: int | None = None) -> Iterator[dict]:
    """The anchors of one file, in file order, from its first `limit` bytes (a line not
    complete within them is left out); a malformed line is yielded as {"bad": line number}."""
    read = 0
    with open(path, "rb") as f:
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
                yield {"bad": n, "file": path}
                continue
            a["file"] = path
            yield a


# ---- verification -------------------------------------------------------------------------

def _row_to_fields(row: dict) -> dict:
    """The hashed form of a row read back in its logical form (`codec.from_db`): the same
    values insert hashed."""
    rec = {k: row[k] for k in CORE + PERSONAL if k not in ("occurred_at", "received_at")}
    rec["occurred_at"] = rfc3339(row["occurred_at"])
    rec["received_at"] = rfc3339(row["received_at"])
    return rec


_COLS = "lc.chain_pos, lc.chain_hash, " + codec.user_agent_sql() + ", " + ", ".join(
    f"r.{col}" for col in ("seq", "hash", "personal_digest", "salt", "erased_at") + CORE
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
           progress: Callable[[int], None] | None = None) -> dict:
    """Recompute every record's hash, the keyed chain, every seal and every anchored head;
    report what does not match.

    Streams the tables on unbuffered connections of their own, so memory stays flat.
    Returns {ok, records, sealed, unsealed, head, key_ids, anchors, warnings, problems}."""
    t, c, s = _tables(prefix)
    lc = _legacy_table(prefix)
    keys_by_id = {key_id(k): k for k in keys}
    problems: list[dict] = []
    warnings: list[str] = []

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
    conn, seal_conn = connect(url_args, streaming=True), connect(url_args, streaming=True)
    records = sealed = 0
    head, used_keys = GENESIS, set()
    anchor_state = {"files": list(anchors or []), "checked": 0, "last_pos": 0}
    missing: list[str] = []
    try:
        with conn.cursor() as cur:
            # One snapshot for the chain and the records; the seals, read on a second
            # connection, are bounded by the chain's end in this snapshot.
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            cur.execute(f"SELECT MAX(last_pos) AS n FROM {s} WHERE version = {KEYED}")
            end = cur.fetchall()[0]["n"] or 0
            cur.execute(f"SELECT COUNT(*) AS n, MIN(pos) AS first FROM {c} WHERE pos > %s",
                        (end,))
            beyond = cur.fetchall()[0]
            if beyond["n"] and not legacy_only:
                problem(None, f"{beyond['n']} chain position(s) from {beyond['first']} on lie"
                              f" beyond the last seal (position {end}): a seal was deleted")
            cur.execute(f"SELECT id, last_pos, prev_head, head FROM {s} WHERE version = 1")
            legacy = _Legacy({x["last_pos"]: x for x in cur.fetchall()})
        if not legacy_only:
            anchor_iter = _anchor_stream(sizes, problem, warnings, missing)
            next_anchor = next(anchor_iter, None)
            with seal_conn.cursor() as scur, conn.cursor() as cur:
                scur.execute(f"SELECT id, first_pos, last_pos, records, prev_head, head, key_id,"
                             f" legacy_head FROM {s} WHERE version = {KEYED} AND last_pos <= %s"
                             " ORDER BY last_pos", (end,))
                seal_row = scur.fetchone()
                expected_pos, prev_seal_head = 1, GENESIS
                cur.execute(f"SELECT ch.pos, ch.consent_seq, ch.mac, {_COLS}"
                            f" FROM {c} ch LEFT JOIN {t} r ON r.seq = ch.consent_seq"
                            f" LEFT JOIN {lc} lc ON lc.consent_seq = r.seq"
                            + codec.user_agent_join(Tables(prefix).user_agents, "r") +
                            " WHERE ch.pos <= %s ORDER BY ch.pos", (end,))
                for row in cur:
                    codec.from_db(row)
                    pos = row["pos"]
                    sealed += 1
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
                        records += 1
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
                    if progress and sealed % 100000 == 0:
                        progress(sealed)
                while seal_row:
                    problem(None, f"seal {seal_row['id']} ends at position"
                                  f" {seal_row['last_pos']} but the chain at {expected_pos - 1}:"
                                  " sealed records are missing")
                    seal_row = scur.fetchone()
                while next_anchor:
                    anchor_state["checked"] += 1
                    anchor_state["last_pos"] = next_anchor["pos"]
                    problem(None, f"anchored position {next_anchor['pos']} (seal"
                                  f" {next_anchor.get('seal')}, {next_anchor.get('at')}, in"
                                  f" {next_anchor['file']}) is beyond the end of the chain at"
                                  f" {expected_pos - 1}: sealed records were removed")
                    next_anchor = next(anchor_iter, None)
        # Records not in the keyed chain: old-chain records first (in old order), then new.
        where = "WHERE lc.chain_pos IS NOT NULL" if legacy_only else \
            f"LEFT JOIN {c} ch ON ch.consent_seq = r.seq WHERE ch.consent_seq IS NULL"
        pending_legacy = 0
        with conn.cursor() as cur:
            cur.execute(f"SELECT {_COLS} FROM {t} r"
                        f" LEFT JOIN {lc} lc ON lc.consent_seq = r.seq"
                        + codec.user_agent_join(Tables(prefix).user_agents, "r") + f" {where}"
                        " ORDER BY lc.chain_pos IS NULL, lc.chain_pos, r.seq")
            for row in cur:
                codec.from_db(row)
                records += 1
                _check_record(row, problem)
                if row["chain_pos"] is not None:
                    pending_legacy += 1
                    legacy.feed(row, problem)
                if progress and records % 100000 == 0:
                    progress(records)
        legacy.finish(problem)
    finally:
        conn.close()
        seal_conn.close()
    if pending_legacy and not legacy_only:
        warnings.append(f"{pending_legacy} record(s) are sealed only by the old unkeyed chain"
                        " (conversion pending, or refused because the old chain fails)")
    if sealed:
        warnings.extend(f"anchor file {path} does not exist" for path in missing)
    if not legacy_only and anchors is not None:
        if not anchor_state["checked"] and sealed:
            warnings.append("no anchors were checked: truncation of the newest records"
                            " cannot be detected without the anchor file")
        elif anchor_state["last_pos"] < sealed:
            warnings.append(f"the newest anchor is at position {anchor_state['last_pos']},"
                            f" the chain ends at {sealed}: removal of positions after the"
                            " newest anchor would not be detected (another host may seal"
                            " with its own anchor file)")
    return {"ok": not problems, "records": records, "sealed": sealed,
            "unsealed": records - sealed, "head": head, "key_ids": sorted(used_keys),
            "anchors": {"files": anchor_state["files"], "checked": anchor_state["checked"],
                        "last_pos": anchor_state["last_pos"]},
            "warnings": warnings, "problems": problems}


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


def _anchor_stream(sizes: dict, problem, warnings: list[str],
                   missing: list[str]) -> Iterator[dict]:
    """Anchors of the files `sizes` names (path -> bytes to read, None if it did not
    exist), in position order (each file is written in that order)."""
    import heapq

    def one(path):
        last = 0
        if sizes[path] is None:
            missing.append(path)
            return
        try:
            for a in read_anchors(path, sizes[path]):
                if "bad" in a:
                    problem(None, f"anchor file {path} line {a['bad']} is not an anchor")
                    continue
                if a["pos"] < last:
                    warnings.append(f"anchor file {path}: position {a['pos']} after {last}"
                                    " (out of order, not checked)")
                    continue
                last = a["pos"]
                yield a
        except FileNotFoundError:
            missing.append(path)
        except OSError as e:
            warnings.append(f"anchor file {path} cannot be read: {e}")

    return heapq.merge(*(one(p) for p in sizes), key=lambda a: a["pos"])
