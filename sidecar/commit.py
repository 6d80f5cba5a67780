"""Writing consents: the row of a validated consent, inserted alone or through the group
committer that shares one COMMIT among the concurrent requests of a process. Ingest only
inserts: the row names the render that will prove it (`render_key`), and the worker queues
that render when the record is sealed (jobs.queue_renders), without touching the row."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid

import pymysql

from . import codec, geo, ledger, metrics, records, renders
from .clock import rfc3339, utcnow
from .db import Tables, close_quietly, connect, connect_args, rollback_quietly
from .ips import ip_fingerprint, stored_ip

log = logging.getLogger("sidecar.records")

CONSENT_INSERT = (
    "INSERT INTO {consents} (id, event_id, subject_id, action, method, categories,"
    " page_url, render_key, policy_version, banner_version, language, signals, ip, country,"
    " region, city, ua_id, wp_user_id, occurred_at, received_at, screenshot_status,"
    " screenshot_error, hash, personal_digest, salt, ip_fp, rules_version) VALUES ")
CONSENT_ROW = "(" + ",".join(["%s"] * 27) + ")"
# Each user agent is stored once (codec.ua_id); its row is written before the consents that
# name it, in the same transaction and round trip.
UA_INSERT = "INSERT IGNORE INTO {user_agents} (id, user_agent) VALUES "
# The records of signed-in visitors are found by WordPress user through sp_wp_users (one
# row each), not an index over every consent (most have no user).
WP_USER_INSERT = "INSERT INTO {wp_users} (wp_user_id, consent_seq) VALUES "
WP_USER_ROW = "(%s, (SELECT seq FROM {consents} WHERE id = %s))"
_NAMES = [c.strip() for c in CONSENT_INSERT.split("(", 1)[1].split(")", 1)[0].split(",")]
_ID, _WP_USER = _NAMES.index("id"), _NAMES.index("wp_user_id")  # in a consent row
# InnoDB rolled the transaction (or, for a lock wait timeout, the statement) back because of
# another transaction, not because of this data: the same writes are tried again.
TRANSIENT = (1213, 1205)  # ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT
ATTEMPTS = 3


def write_batch(conn, t: Tables, batch: list) -> None:
    """Insert the consents of `batch` (Pending items) as one multi-row INSERT and COMMIT, in
    one round trip; the server stops at the first failing statement, so COMMIT runs only
    when the INSERT succeeded. A deadlock or lock wait timeout (another transaction's doing)
    is retried up to ATTEMPTS times. Raises, rolled back, otherwise."""
    values: list = []
    # In id order, so two batches naming the same new user agents lock them in one order.
    agents = sorted({item.ua for item in batch if item.ua})
    sql = ""
    if agents:
        sql = UA_INSERT.format(user_agents=t.user_agents) + ",".join(["(%s,%s)"] * len(agents))
        sql += ";\n"
        values.extend(v for agent in agents for v in agent)
    sql += CONSENT_INSERT.format(consents=t.consents) + ",".join([CONSENT_ROW] * len(batch))
    for item in batch:
        values.extend(item.consent)
    users = [(item.consent[_WP_USER], item.consent[_ID]) for item in batch
             if item.consent[_WP_USER]]
    if users:
        sql += ";\n" + WP_USER_INSERT.format(wp_users=t.wp_users) + ",".join(
            [WP_USER_ROW.format(consents=t.consents)] * len(users))
        values.extend(v for user in users for v in user)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with conn.cursor() as cur:
                cur.execute(sql + ";\nCOMMIT", values)
                while cur.nextset():
                    pass
            return
        except pymysql.err.OperationalError as e:
            rollback_quietly(conn)
            if not e.args or e.args[0] not in TRANSIENT or attempt == ATTEMPTS:
                raise
            log.warning("ingest transaction retried", extra={"fields": {
                "mysql_error": e.args[0], "attempt": attempt, "rows": len(batch)}})
        except BaseException:
            rollback_quietly(conn)
            raise


class Pending:
    """One consent on its way to the database: its row, its user agent's (id, text) or None,
    and for the group committer the event it waits on and what writing it raised."""

    __slots__ = ("consent", "ua", "done", "error")

    def __init__(self, consent: tuple, event: bool = True, ua: tuple | None = None):
        self.consent, self.ua = consent, ua
        self.done = threading.Event() if event else None
        self.error: BaseException | None = None


class GroupCommitter:
    """Group commit: the concurrent requests of one worker process hand their rows to one
    committer, which writes whatever has queued up as one multi-row INSERT and one
    COMMIT (one round trip, one log flush for all). A request answers only after its batch
    committed. A failing batch (a repeated event_id) is retried row by row, so a bad row fails
    alone."""

    MAX_BATCH = 64

    def __init__(self, url: str, prefix: str):
        self.args, self.tables = connect_args(url), Tables(prefix)
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
            write_batch(self.conn, self.tables, batch)
        except pymysql.err.IntegrityError:
            raise
        except BaseException:
            conn, self.conn = self.conn, None  # maybe broken: a new connection next time
            close_quietly(conn)
            raise


def insert_consent(conn, t: Tables, payload: dict, cfg: dict,
                   committer: GroupCommitter | None = None) -> tuple[dict, bool]:
    """Store a validated consent (its screenshot is queued when it is sealed), through
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
        "rules_version": payload.get("rules_version"),
    }
    salt = ledger.new_salt()
    digest = ledger.personal_digest(rec, salt)
    rec["hash"] = ledger.record_hash(rec, digest)
    shoot = renders.may_load(rec["page_url"], cfg["SITE_ORIGINS"])
    error = None if shoot else "page_url is not on SP_SITE_ORIGINS"
    # The render loads and records the proof URL: nothing of this visitor's own (renders.py).
    proof = renders.proof_url(rec["page_url"]) if shoot else None
    if shoot and proof is None:
        shoot, error = False, "page_url holds an e-mail address in its path; not rendered"
    status = "pending" if shoot else "skipped"
    key16 = None
    if shoot:
        viewport = renders.viewport_for(rec["user_agent"])
        key16 = bytes.fromhex(renders.render_key(proof, rec["banner_version"], viewport,
                                                 rec["language"]))[:16]
    agent = codec.ua_id(rec["user_agent"], cfg["LEDGER_KEYS"][-1])
    consent = (codec.uuid_to_db(rec["id"]), codec.uuid_to_db(rec["event_id"]),
               codec.uuid_to_db(rec["subject_id"]), rec["action"], rec["method"],
               codec.categories_to_db(rec["categories"]), rec["page_url"], key16,
               rec["policy_version"], rec["banner_version"], rec["language"],
               codec.signals_to_db(rec["signals"]), rec["ip"],
               country, region, city, agent, rec["wp_user_id"], occurred, now,
               status, error, codec.hex_to_db(rec["hash"]), codec.hex_to_db(digest),
               codec.hex_to_db(salt), codec.fp_to_db(
                   ip_fingerprint(payload["ip"], cfg["SP_IP_STORAGE"], cfg["LEDGER_KEYS"])),
               codec.hex_to_db(rec["rules_version"]))
    ua = (agent, rec["user_agent"]) if agent is not None else None
    try:
        if committer is not None:
            committer.write(Pending(consent, ua=ua))
        else:
            write_batch(conn(), t, [Pending(consent, event=False, ua=ua)])
    except pymysql.err.IntegrityError as e:
        if e.args and e.args[0] == 1062:  # the event is already recorded
            existing = records.get_by_event(conn(), t, payload["event_id"])
            if existing:
                return existing, False
        raise
    rec.update(screenshot={"status": status, "url": None, "thumb_url": None, "error": error},
               erased=False, chain=None)
    return rec, True
