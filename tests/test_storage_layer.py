"""The storage layer's shape (issue 11 item 2): one module opens connections, storage runs
without Flask, table names come from one object, transactions commit or roll back, and a
screenshot error says itself whether it is retried."""

from __future__ import annotations

import ast
from pathlib import Path

import pymysql
import pytest

from sidecar import commit, db
from sidecar.db import Tables
from sidecar.screenshots import RefusedPage, RenderError, Worker

SIDECAR = Path(__file__).resolve().parent.parent / "sidecar"
STORAGE = ("db", "commit", "records", "erasure", "stats", "jobs", "ledger")


def _tree(name: str) -> ast.Module:
    return ast.parse((SIDECAR / f"{name}.py").read_text(encoding="utf-8"))


def test_only_db_py_opens_database_connections():
    opened = []
    for path in sorted(SIDECAR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr == "connect"
                    and isinstance(node.value, ast.Name) and node.value.id == "pymysql"):
                opened.append(path.name)
            # db.connect makes its connections from PyMySQL's Connection class directly.
            if isinstance(node, ast.Attribute) and node.attr == "Connection":
                opened.append(path.name)
            if isinstance(node, ast.ImportFrom) and node.module == "pymysql" and any(
                    a.name == "connect" for a in node.names):
                opened.append(path.name)
    assert set(opened) == {"db.py"}, opened


@pytest.mark.parametrize("name", [m for m in STORAGE if m != "db"])
def test_storage_modules_do_not_need_flask(name):
    """Only db.py knows the request's pool and the app's Tables; the rest run in the CLI and
    the worker as they run in a request."""
    imported = set()
    for node in ast.walk(_tree(name)):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert "flask" not in imported and "werkzeug" not in imported


def test_tables_give_the_quoted_names_of_one_prefix():
    t = db.Tables("wp_")
    assert t.consents == t["consents"] == "`wp_sp_consents`"
    assert t.render_jobs == "`wp_sp_render_jobs`"
    assert t.lock("seal") == "wp_sp_seal"
    with pytest.raises(KeyError):
        t["users"]
    with pytest.raises(ValueError):
        db.Tables("wp`; DROP TABLE x; --")


def test_a_transaction_commits_its_block_and_rolls_back_what_raised(test_db, sql):
    sql("CREATE TABLE IF NOT EXISTS t_tx_probe (n INT NOT NULL) ENGINE=InnoDB")
    sql("DELETE FROM t_tx_probe")
    conn = db.connect(test_db)
    try:
        with db.transaction(conn) as cur:
            cur.execute("INSERT INTO t_tx_probe (n) VALUES (1)")
        with pytest.raises(RuntimeError), db.transaction(conn) as cur:
            cur.execute("INSERT INTO t_tx_probe (n) VALUES (2)")
            raise RuntimeError("the block failed")
        with db.transaction(conn) as cur:  # the connection is usable after a rollback
            cur.execute("SELECT COUNT(*) AS n FROM t_tx_probe")
            assert cur.fetchone()["n"] == 1
    finally:
        conn.close()
        sql("DROP TABLE t_tx_probe")


def test_a_streaming_connection_reads_rows_unbuffered(test_db):
    conn = db.connect(test_db, streaming=True)
    try:
        with conn.cursor() as cur:
            assert type(cur).__name__ == "SSDictCursor"
            cur.execute("SELECT 7 AS n")
            assert list(cur) == [{"n": 7}]
    finally:
        conn.close()


def test_connections_share_one_preferred_tls_context(test_db):
    """Each connect used to build a TLS context (CA bundle loaded again: 40-64 ms CPU)."""
    first, second = db.connect(test_db), db.connect(test_db, streaming=True)
    try:
        assert first.ctx is second.ctx is not None
        assert first.ctx.verify_mode == second.ctx.verify_mode  # PyMySQL's preferred mode
        with second.cursor() as cur:
            cur.execute("SELECT 1 AS n")
            assert list(cur) == [{"n": 1}]
    finally:
        first.close()
        second.close()


class _Failing(Worker):
    """The worker's error handling around a render that raises `error`."""

    def __init__(self, error: Exception):
        super().__init__({"SP_TABLE_PREFIX": "t_"})
        self.error, self.failed = error, []

    def render_with_deadline(self, job):
        raise self.error

    def fail(self, job, reason, retry=True):
        self.failed.append((reason, retry))


@pytest.mark.parametrize("error,retry", [
    # a page that merely says "blocked" is retried: the flag decides, not the text
    (RenderError("the consent banner did not show: blocked by the page's script"), True),
    (RenderError("the page did not load within 15 s"), True),
    (RefusedPage("blocked request to http://169.254.169.254/"), False),
    (RefusedPage("the page navigated off the site to https://elsewhere.example/"), False),
])
def test_a_render_error_is_retried_by_its_kind_not_its_message(error, retry):
    w = _Failing(error)
    assert w.render_job({"id": 1, "page_url": "https://site.example/"}) is None
    assert w.failed == [(str(error), retry)]


def test_the_refused_page_errors_of_the_worker_are_final():
    """check_egress raises RefusedPage for a blocked request (not retried)."""

    class Egress:
        blocked = ["http://10.0.0.1/"]

    w = Worker({"SP_TABLE_PREFIX": "t_"})
    w.egress = Egress()
    with pytest.raises(RefusedPage) as e:
        w.check_egress(None)
    assert e.value.retry is False and str(e.value) == "blocked request to http://10.0.0.1/"


class _FlakyCursor:
    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, values):
        self.conn.executed += 1
        if self.conn.failures:
            raise pymysql.err.OperationalError(self.conn.failures.pop(0), "simulated")

    def nextset(self):
        return None


class _FlakyConn:
    """A connection whose first statements fail with the given MySQL error codes."""

    def __init__(self, failures):
        self.failures, self.executed, self.rollbacks = list(failures), 0, 0

    def cursor(self):
        return _FlakyCursor(self)

    def rollback(self):
        self.rollbacks += 1


def _batch():
    return [commit.Pending(tuple(range(26)))]  # the row's values do not matter here


@pytest.mark.parametrize("code", [1213, 1205])
def test_a_deadlock_or_lock_wait_timeout_is_retried_not_answered_503(code):
    """InnoDB rolls back a transaction that deadlocked with the worker's; the same writes are
    tried again (the bench saw ingest batches answered 503 for exactly this)."""
    conn = _FlakyConn([code, code])
    commit.write_batch(conn, Tables("t_"), _batch())
    assert (conn.executed, conn.rollbacks) == (3, 2)


def test_a_deadlock_that_persists_fails_after_three_attempts():
    conn = _FlakyConn([1213] * 5)
    with pytest.raises(pymysql.err.OperationalError):
        commit.write_batch(conn, Tables("t_"), _batch())
    assert conn.executed == commit.ATTEMPTS == 3


def test_other_database_errors_are_not_retried():
    conn = _FlakyConn([2013])  # lost connection: the caller decides (503, new connection)
    with pytest.raises(pymysql.err.OperationalError):
        commit.write_batch(conn, Tables("t_"), _batch())
    assert conn.executed == 1
