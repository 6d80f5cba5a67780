"""What a site owner installs starts (issue 10, item 6): the README's production install —
`pip install /path/to/this/repo` into a fresh venv, no extras — runs
`gunicorn -c /path/to/this/repo/gunicorn.conf.py 'sidecar:create_app()'` from another
directory, answers /readyz and stores a signed consent. Not the dev venv: its `[test]` extra
once hid a missing dependency (gunicorn's gevent worker needs `packaging`).

Also F16: where gunicorn listens comes from SP_BIND, 127.0.0.1:8000 unless told otherwise."""

from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import SITE, TEST_KEYS, TEST_TOKENS, consent_payload, make_token
from stack import free_port

ROOT = Path(__file__).resolve().parent.parent
# pip builds in the source tree (build/, *.egg-info): build from a copy of the repository.
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "node_modules", ".demo", "build",
                                     "*.egg-info", "__pycache__", ".pytest_cache",
                                     ".ruff_cache", "bench")


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def test_a_venv_without_extras_serves_readyz_and_stores_a_consent(stack, tmp_path):
    src, venv, elsewhere = tmp_path / "repo", tmp_path / "sp", tmp_path / "run"
    shutil.copytree(ROOT, src, ignore=NOT_SOURCES)
    elsewhere.mkdir()
    # The README: python3 -m venv /opt/sp && /opt/sp/bin/pip install /path/to/this/repo
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin/pip"), "install", "-q", str(src)],
                         capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-3000:]
    # A production install: none of the test extra's packages.
    dev = subprocess.run([str(venv / "bin/python"), "-c", "import pytest"], capture_output=True)
    assert dev.returncode != 0, "pytest is in the production venv: it is not a clean install"

    stack.ensure_database("sp_production")
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SP_", "VIRTUAL_ENV", "PYTHON", "GUNICORN"))}
    env.update(SP_DATABASE_URL=stack.database_url("sp_production"), SP_TABLE_PREFIX="wp_",
               SP_SECRET_KEYS=",".join(TEST_KEYS), SP_ADMIN_TOKENS=",".join(TEST_TOKENS),
               SP_SITE_ORIGINS=SITE, SP_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1",
               PATH=f"{venv / 'bin'}:{os.environ['PATH']}")
    migrate = subprocess.run([str(venv / "bin/sidecar"), "migrate"], cwd=elsewhere, env=env,
                             capture_output=True, text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stderr
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([str(venv / "bin/gunicorn"), "-c", str(src / "gunicorn.conf.py"),
                                 "sidecar:create_app()"], cwd=elsewhere, env=env, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while _get(base + "/readyz")[0] != 200:
            assert proc.poll() is None, f"gunicorn exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no /readyz:\n{log.read_text()[-3000:]}"
            time.sleep(0.3)
        assert "Using worker: gevent" in log.read_text(), log.read_text()[-2000:]

        payload = consent_payload()
        req = urllib.request.Request(base + "/v1/consents", method="POST",
                                     data=json.dumps({"token": make_token(payload)}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 201
            assert json.loads(r.read())["id"]
        rows = stack_sql(stack, "sp_production",
                         f"SELECT COUNT(*) FROM wp_sp_consents WHERE event_id = "
                         f"'{payload['event_id']}'")
        assert rows == "1"
        # The app the venv serves is the installed one, not the repository's sources.
        where = subprocess.run([str(venv / "bin/python"), "-c",
                                "import sidecar; print(sidecar.__file__)"], cwd=elsewhere,
                               capture_output=True, text=True, env=env).stdout
        assert str(venv) in where, where
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(20)


def stack_sql(stack, database: str, statement: str) -> str:
    out = subprocess.run(["mariadb", "--no-defaults", f"--socket={stack.db_socket}", "-uroot",
                          "-N", "-B", database, "-e", statement],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.mark.parametrize("value, bind", [
    (None, ["127.0.0.1:8000"]),
    ("", ["127.0.0.1:8000"]),
    ("0.0.0.0:8000", ["0.0.0.0:8000"]),
    ("127.0.0.1:9001, unix:/run/sp.sock", ["127.0.0.1:9001", "unix:/run/sp.sock"]),
])
def test_gunicorn_listens_on_loopback_unless_sp_bind_says_otherwise(monkeypatch, value, bind):
    monkeypatch.delenv("SP_BIND", raising=False)
    if value is not None:
        monkeypatch.setenv("SP_BIND", value)
    assert runpy.run_path(str(ROOT / "sidecar" / "gunicorn_conf.py"))["bind"] == bind


def test_the_repository_gunicorn_conf_is_the_packaged_one():
    """`-c gunicorn.conf.py` (the image, the test stack) and `-c python:sidecar.gunicorn_conf`
    (any directory, the systemd units) are the same settings and hooks."""
    shim = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    packaged = runpy.run_path(str(ROOT / "sidecar" / "gunicorn_conf.py"))
    for name in ("bind", "worker_class", "workers", "timeout", "on_starting"):
        assert name in shim and name in packaged, name


def test_the_image_takes_its_bind_from_sp_bind_only():
    """The Dockerfile passes no --bind of its own (it would override SP_BIND)."""
    text = (ROOT / "Dockerfile").read_text()
    cmd = [line for line in text.splitlines() if line.startswith("CMD")]
    assert cmd and "--bind" not in cmd[-1] and '"-b"' not in cmd[-1], cmd
    assert "SP_BIND=0.0.0.0:8000" in text
