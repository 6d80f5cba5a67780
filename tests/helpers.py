"""Helpers shared by the test modules (import them: `from helpers import ...`)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime

import pymysql
import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from sidecar import codec
from sidecar.db import connect_args
from sidecar.signing import CONSENT_SALT, serializer


def secret(label: str) -> str:
    """A test secret the sidecar accepts (random-looking, 45+ bytes), named by `label` and
    the same in every run: the sidecar refuses placeholder and short secrets at start."""
    return f"{label}-{hashlib.sha256(label.encode()).hexdigest()[:32]}"


TEST_KEYS = [secret("old-test-key"), secret("current-test-key")]
TEST_TOKENS = [secret("admin-token-one"), secret("admin-token-two")]
SITE = "http://site.test"


class db_conn:
    """`with db_conn(url) as conn:` a direct connection, closed afterwards."""

    def __init__(self, url):
        self.conn = pymysql.connect(**connect_args(url))

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc):
        self.conn.close()


def run_sql(url: str, statement: str, args=()) -> list:
    """Run one SQL statement on a connection of its own, commit; the rows."""
    with db_conn(url) as conn, conn.cursor() as cur:
        cur.execute(statement, args)
        rows = cur.fetchall()
        conn.commit()
        return rows


def wipe_tables(url: str, prefix: str) -> list[str]:
    """Empty every sidecar table under `prefix`, as the database lists them (a table a new
    migration adds is emptied too), but the record of applied migrations; their names."""
    like = (prefix + "sp_").replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"
    with db_conn(url) as conn, conn.cursor() as cur:
        cur.execute("SHOW TABLES LIKE %s", (like,))
        names = [next(iter(row.values())) for row in cur.fetchall()]
        names = [n for n in names if n != f"{prefix}sp_migrations"]
        for name in names:
            cur.execute(f"DELETE FROM `{name}`")
        conn.commit()
    return names


def require_packages(*names: str) -> None:
    """Fail (not with a confusing assertion later) naming the Debian packages that are missing
    (scripts/syspkgs.py, the list install.sh installs from; tests/conftest.py puts scripts/ on
    the path)."""
    from syspkgs import message, missing

    gone = missing(*names)
    if gone:
        pytest.fail("Missing system packages:\n" + message(gone), pytrace=False)


def consent_payload(**overrides) -> dict:
    """A valid consent payload as the plugin signs it."""
    p = {
        "event_id": str(uuid.uuid4()),
        "subject_id": str(uuid.uuid4()),
        "action": "grant",
        "method": "accept_all",
        "categories": {"necessary": True, "preferences": True, "statistics": True,
                       "marketing": True},
        "page_url": SITE + "/about/",
        "policy_version": "3",
        "banner_version": "b4nn3r",
        "language": "en-US",
        "signals": {"gpc": False, "dnt": False},
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (test)",
        "wp_user_id": 0,
        "occurred_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    p.update(overrides)
    return p


def make_token(payload, keys=None, age: int = 0) -> str:
    """Sign `payload` like the plugin does, `age` seconds ago."""
    s = serializer(keys or TEST_KEYS, CONSENT_SALT)
    signer = s.make_signer()
    signer.get_timestamp = lambda: int(time.time()) - age
    return signer.sign(s.dump_payload(payload)).decode("ascii")


def admin_headers(token: str = TEST_TOKENS[-1]) -> dict:
    return {"Authorization": f"Bearer {token}"}


def wait_for(check, timeout: float, interval: float = 0.25, what: str = "condition"):
    """Poll `check()` until it returns something truthy; fail the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dumps(obj) -> str:
    return json.dumps(obj)


class AdminApi:
    """The sidecar's admin API as an operator's script would call it."""

    def __init__(self, base: str, token: str):
        self.base, self.token = base, token

    def get(self, path: str) -> tuple[int, dict | bytes, dict]:
        req = urllib.request.Request(self.base + path,
                                     headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                body, status, headers = r.read(), r.status, dict(r.headers)
        except urllib.error.HTTPError as e:
            body, status, headers = e.read(), e.code, dict(e.headers)
        if headers.get("Content-Type", "").startswith("application/json"):
            body = json.loads(body)
        return status, body, headers


class _Counter:
    """A socket on 127.0.0.1 (bound by the subclass) that counts what reaches it (`hits`)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.port = sock.getsockname()[1]
        self.hits = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                got = self._receive()
            except OSError:  # closed
                return
            self.hits += 1
            self._answer(got)

    def _receive(self):
        raise NotImplementedError

    def _answer(self, got) -> None:
        pass

    def close(self):
        self.sock.close()


class TcpCounter(_Counter):
    """A TCP listener on 127.0.0.1 that counts the connections it receives; with `reply`, it
    reads each request and answers with those bytes before closing."""

    def __init__(self, reply: bytes | None = None):
        self.reply = reply
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        super().__init__(sock)

    def _receive(self):
        return self.sock.accept()[0]

    def _answer(self, conn) -> None:
        try:
            if self.reply is not None:
                conn.recv(65536)
                conn.sendall(self.reply)
        finally:
            conn.close()


class UdpCounter(_Counter):
    """A UDP socket on 127.0.0.1 that counts the datagrams it receives: a server that never
    answers."""

    def __init__(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        super().__init__(sock)

    def _receive(self):
        return self.sock.recvfrom(65536)


def post_chunked(app, body: bytes) -> tuple[int, dict]:
    """POST a consent body without a Content-Length (chunked, as gunicorn hands such a body
    on), so the Flask view serves it rather than the WSGI fast path."""
    environ = EnvironBuilder(method="POST", path="/v1/consents", input_stream=io.BytesIO(body),
                             content_type="application/json").get_environ()
    del environ["CONTENT_LENGTH"]
    environ.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True})
    out, status, _ = run_wsgi_app(app, environ, buffered=True)
    return int(status.split()[0]), json.loads(b"".join(out))


def bulk_consents(cfg: dict, n: int, batch: int = 1000, seal: bool = True) -> None:
    """Store `n` valid consents straight through the ingest code (`commit.insert_consent`,
    multi-row INSERTs of `batch` rows; pages off SP_SITE_ORIGINS, so no screenshot jobs),
    then seal them all: a large ledger in seconds, for the checkpoint tests and benches."""
    from sidecar import commit, db, ledger
    from sidecar.validation import validate_consent

    class Collect:
        def __init__(self):
            self.items = []

        def write(self, item):
            self.items.append(item)

    t = db.Tables(cfg["SP_TABLE_PREFIX"])
    conn = db.connect(cfg["SP_DATABASE_URL"])
    try:
        for done in range(0, n, batch):
            rows = Collect()
            for _ in range(min(batch, n - done)):
                payload = validate_consent(consent_payload(page_url="http://elsewhere.test/p"))
                commit.insert_consent(lambda: conn, t, payload, cfg, committer=rows)
            commit.write_batch(conn, t, rows.items)
        while seal and ledger.seal(conn, cfg, limit=20000) > 0:
            pass
    finally:
        conn.close()


# ---- the ledger's tests (test_ledger.py, test_checkpoints.py) ------------------------------

def ingest(client, n=1, **overrides):
    """Post `n` valid consents through the test app; their record ids."""
    ids = []
    for _ in range(n):
        r = client.post("/v1/consents", json={"token": make_token(consent_payload(**overrides))})
        assert r.status_code == 201, r.get_json()
        ids.append(r.get_json()["id"])
    return ids


def integrity(client):
    r = client.get("/v1/integrity", headers=admin_headers())
    assert r.status_code == 200
    return r.get_json()


def chain(sql):
    """The keyed chain in position order, with each record's id."""
    return [codec.from_db(r) for r in sql(
        "SELECT ch.pos, LOWER(HEX(ch.mac)) AS mac, c.id, c.seq FROM t_sp_chain ch"
        " JOIN t_sp_consents c ON c.seq = ch.consent_seq ORDER BY ch.pos")]


def db_id(rid):
    """A record's id as the consent table stores it (codec.py)."""
    return codec.uuid_to_db(rid)


def sidecar_cli_env(test_db, anchors):
    return dict(os.environ, SP_DATABASE_URL=test_db, SP_TABLE_PREFIX="t_",
                SP_SECRET_KEYS=",".join(TEST_KEYS), SP_ADMIN_TOKENS=TEST_TOKENS[0],
                SP_SITE_ORIGINS="http://site.test", SP_ANCHOR_FILE=str(anchors))


def sidecar_cli(test_db, anchors, *args):
    """`sidecar <args>` run on the test database (tables t_, the test keys)."""
    return subprocess.run([sys.executable, "-m", "sidecar.cli", *args],
                          env=sidecar_cli_env(test_db, anchors), capture_output=True, text=True)
