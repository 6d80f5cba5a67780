"""Database connections, table names and schema migrations: the only module that opens a
connection.

- `connect(url)` opens one (PyMySQL, DictCursor, autocommit off; `streaming=True` for an
  unbuffered cursor over a large result); `transaction(conn)` is a cursor whose block
  commits, or rolls back when it raises.
- `Tables(prefix)` names the tables (`t.consents` → `` `wp_sp_consents` ``), so storage code
  takes a `Tables` and runs the same under Flask, in the CLI and in the worker.
- Requests use a small per-process pool: a view borrows a connection through `get_db()`
  and gives it back on teardown, rolled back if the view left a transaction open;
  `tables()` is the app's `Tables`.
"""

from __future__ import annotations

import queue
import re
import time
from contextlib import contextmanager
from importlib import resources
from urllib.parse import parse_qs, unquote, urlsplit

import pymysql
import pymysql.cursors
from flask import Flask, current_app, g
from pymysql.constants import CLIENT, SERVER_STATUS

from .config import StartupError

IDLE_PING_SECONDS = 30


def connect_args(url: str) -> dict:
    """PyMySQL keyword arguments for a `mysql://user:pass@host:port/db[?unix_socket=…]` URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mysql+pymysql", "mariadb"):
        raise ValueError("SP_DATABASE_URL must start with mysql://")
    query = parse_qs(parts.query)
    args = {
        "host": parts.hostname or "localhost",
        "port": parts.port or 3306,
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "database": unquote(parts.path.lstrip("/")),
        "charset": "utf8mb4",
        "cursorclass": pymysql.cursors.DictCursor,
        "autocommit": False,
        # Ingest sends its INSERTs and COMMIT in one round trip. Every query in this
        # package binds values with %s placeholders, never by string building.
        "client_flag": CLIENT.MULTI_STATEMENTS,
        "connect_timeout": 5,
        "read_timeout": 30,
        "write_timeout": 30,
    }
    if "unix_socket" in query:
        args["unix_socket"] = query["unix_socket"][0]
    if not args["database"]:
        raise ValueError("SP_DATABASE_URL names no database")
    return args


class _Connection(pymysql.connections.Connection):
    """PyMySQL's connection, but every connection without TLS options of its own shares one
    context for PyMySQL's "preferred" TLS (TLS when the server offers it, unverified), instead
    of loading the system's CA bundle again on each connect (40-64 ms of CPU here)."""

    _preferred_ctx = None

    def _create_ssl_ctx(self, sslp):
        if sslp:
            return super()._create_ssl_ctx(sslp)
        cls = type(self)
        if cls._preferred_ctx is None:
            cls._preferred_ctx = super()._create_ssl_ctx({})
        return cls._preferred_ctx


def connect(target: str | dict, streaming: bool = False) -> pymysql.connections.Connection:
    """A new connection to `target` (an SP_DATABASE_URL or the `connect_args()` of one);
    `streaming`: rows come from an unbuffered cursor as they are read (flat memory)."""
    args = connect_args(target) if isinstance(target, str) else dict(target)
    if streaming:
        args["cursorclass"] = pymysql.cursors.SSDictCursor
    return _Connection(**args)


class Unreachable(StartupError):
    """The database does not take a connection at start (wrong host, port, user, password
    or database name, or it is down); the message names where, never the password."""


def reach(url: str) -> pymysql.connections.Connection:
    """`connect(url)` for a process that is starting: a failure raises `Unreachable` with one
    line `sidecar: cannot reach the database at host:port as user: reason`."""
    try:
        args = connect_args(url)
    except ValueError as e:  # the message names the setting, never the URL (its password)
        raise StartupError(f"sidecar: configuration error: {e}") from None
    try:
        return connect(args)
    except pymysql.MySQLError as e:
        where = args.get("unix_socket") or f"{args['host']}:{args['port']}"
        reason = e.args[1] if len(e.args) > 1 else str(e)
        raise Unreachable(f"sidecar: cannot reach the database at {where} as "
                          f"{args['user'] or '(no user)'}: {reason}") from None


# Under a burst of consents with the worker sealing, an InnoDB redo log of MariaDB's default
# 96 MiB fills within seconds and every durable COMMIT waits while InnoDB flushes to make room:
# bench/ingest.py saw COMMITs stall 166-846 ms (p99 0.1-0.7 s) with it, none over 47 ms with
# 1 GiB (bench/README.md, "The database's redo log").
REDO_LOG_ADVISED = 1 << 30
REDO_LOG_WARN_BELOW = 512 << 20


def durability_advice(conn) -> list[str]:
    """Lines of advice on the database server's settings for durable ingest under bursts
    (empty when there is none, or when the server does not say)."""
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@innodb_log_file_size AS size")
            size = int((cur.fetchone() or {}).get("size") or 0)
        conn.commit()
    except (pymysql.MySQLError, TypeError, ValueError):
        return []
    if not size or size >= REDO_LOG_WARN_BELOW:
        return []
    return [f"advice: the database's InnoDB redo log (innodb_log_file_size) is {size >> 20} MiB;"
            f" under a burst of consents durable COMMITs then stall while InnoDB flushes."
            f" Set it to {REDO_LOG_ADVISED >> 30} GiB (README, \"The database\")."]


@contextmanager
def transaction(conn):
    """A cursor on `conn` in one transaction: COMMIT when the block ends (also by `return`),
    ROLLBACK when it raises (a rollback that fails on a broken connection is not reported
    over the error that broke it)."""
    try:
        with conn.cursor() as cur:
            yield cur
        conn.commit()
    except BaseException:
        rollback_quietly(conn)
        raise


def rollback_quietly(conn) -> None:
    try:
        conn.rollback()
    except pymysql.MySQLError:
        pass


class Tables:
    """The quoted names of the sidecar's tables under one prefix: `Tables("wp_").consents`
    and `Tables("wp_")["consents"]` are `` `wp_sp_consents` ``; `lock("seal")` names a
    named lock of this prefix (`wp_sp_seal`)."""

    NAMES = ("consents", "chain", "seals", "renders", "screenshots", "render_jobs",
             "workers", "checkpoints", "user_agents", "legacy_chain", "wp_users", "migrations",
             "scans")

    def __init__(self, prefix: str):
        if not re.fullmatch(r"[A-Za-z0-9_]*", prefix):
            raise ValueError("a table prefix holds only letters, digits and _")
        self.prefix = prefix
        for name in self.NAMES:
            setattr(self, name, f"`{prefix}sp_{name}`")

    def __getitem__(self, name: str) -> str:
        if name not in self.NAMES:
            raise KeyError(name)
        return getattr(self, name)

    def lock(self, name: str) -> str:
        return f"{self.prefix}sp_{name}"


class Pool:
    """A thread-safe LIFO pool of open connections; at most `size` kept idle."""

    def __init__(self, url: str, size: int = 4):
        self.args = connect_args(url)
        self.idle: queue.LifoQueue = queue.LifoQueue(maxsize=size)

    def get(self) -> pymysql.connections.Connection:
        while True:
            try:
                conn, since = self.idle.get_nowait()
            except queue.Empty:
                return connect(self.args)
            if time.monotonic() - since < IDLE_PING_SECONDS:
                return conn
            try:
                conn.ping(reconnect=False)
                return conn
            except pymysql.MySQLError:
                close_quietly(conn)

    def put(self, conn, broken: bool = False) -> None:
        if broken or not conn.open:
            close_quietly(conn)
            return
        try:
            self.idle.put_nowait((conn, time.monotonic()))
        except queue.Full:
            close_quietly(conn)

    def close(self) -> None:
        while True:
            try:
                conn, _ = self.idle.get_nowait()
            except queue.Empty:
                return
            close_quietly(conn)


def close_quietly(conn) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - already broken; nothing to report
        pass


def init_app(app: Flask) -> None:
    app.extensions["sp_pool"] = Pool(app.config["SP_DATABASE_URL"], app.config["SP_DB_POOL_SIZE"])
    app.extensions["sp_tables"] = Tables(app.config["SP_TABLE_PREFIX"])
    app.teardown_appcontext(_release)


def get_db() -> pymysql.connections.Connection:
    """The request's connection (borrowed on first use)."""
    if "db" not in g:
        g.db = current_app.extensions["sp_pool"].get()
    return g.db


def _release(exc) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        hand_back(current_app.extensions["sp_pool"], conn)


def hand_back(pool: Pool, conn, broken: bool = False) -> None:
    """Return a borrowed connection to `pool`. Views commit what they write; a transaction
    left open is rolled back (no round trip otherwise: the server reports whether one is
    open in every reply)."""
    if not broken and conn.server_status & SERVER_STATUS.SERVER_STATUS_IN_TRANS:
        try:
            conn.rollback()
        except pymysql.MySQLError:
            broken = True
    pool.put(conn, broken=broken)


def tables() -> Tables:
    """The app's table names (its SP_TABLE_PREFIX)."""
    return current_app.extensions["sp_tables"]


# ---- migrations ------------------------------------------------------------------------

def _migrations() -> list[tuple[int, str, str]]:
    found = []
    for entry in resources.files("sidecar.migrations").iterdir():
        m = re.fullmatch(r"(\d{3})_([a-z0-9_]+)\.sql", entry.name)
        if m:
            found.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(url: str, prefix: str) -> list[str]:
    """Apply the numbered SQL migrations not yet applied; return the names applied.
    Safe to run from several sidecars at once (a named lock serialises them)."""
    conn = reach(url)
    t = Tables(prefix)
    applied_now = []
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, 60) AS got", (t.lock("migrate"),))
            if not cur.fetchone()["got"]:
                raise RuntimeError("could not take the migration lock within 60 s")
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {t.migrations} ("
                " version INT UNSIGNED NOT NULL PRIMARY KEY,"
                " name VARCHAR(191) NOT NULL,"
                " applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"
                ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
            cur.execute(f"SELECT version FROM {t.migrations}")
            done = {row["version"] for row in cur.fetchall()}
            for version, name, sql in _migrations():
                if version in done:
                    continue
                for statement in _statements(sql.replace("{prefix}", prefix)):
                    cur.execute(statement)
                cur.execute(f"INSERT INTO {t.migrations} (version, name) VALUES (%s, %s)",
                            (version, name))
                conn.commit()
                applied_now.append(name)
            cur.execute("SELECT RELEASE_LOCK(%s)", (t.lock("migrate"),))
    finally:
        conn.close()
    return applied_now


def _statements(sql: str) -> list[str]:
    """Split a migration on `;` at line ends (migrations keep one statement per `;`)."""
    body = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", body) if s.strip()]
