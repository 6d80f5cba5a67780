"""The README's install section runs when pasted (issue 12; issue 10 item 6 before it): its
first shell block of "Putting it on an existing WordPress", exactly as written but for the
five values the reader sets in its first lines, in bash (`-e`: any failing line fails the
test), from another directory, into a fresh venv without extras (not the dev venv: its
`[test]` extra once hid a missing dependency, gunicorn's gevent worker needs `packaging`),
against the test session's MariaDB. The block returns with the sidecar and the worker running
in the background; the sidecar answers /readyz and stores a consent signed with the secret
`sidecar init` printed for WordPress."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import SITE, consent_payload, make_token, run_sql
from stack import free_port

ROOT = Path(__file__).resolve().parent.parent
# pip builds in the source tree (build/, *.egg-info): build from a copy of the repository.
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "node_modules", ".demo", "build",
                                     "*.egg-info", "__pycache__", ".pytest_cache",
                                     ".ruff_cache", "bench")
MARKER = "<!-- tests/test_readme_install.py runs this block as written"


def readme_block() -> str:
    """The shell block after MARKER in the README's install section."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Putting it on an existing WordPress"):]
    section = section[:section.index("\n## ", 1)]
    after = section[section.index(MARKER):]
    m = re.search(r"```sh\n(.*?)```", after, re.S)
    assert m, "no ```sh block after the marker"
    return m.group(1)


def set_values(block: str, values: dict[str, str]) -> str:
    """What the reader does: give the variables of the first lines their site's values."""
    for name, value in values.items():
        pattern = re.compile(rf"(^|\s){name}=(\S+)", re.M)
        assert len(pattern.findall(block)) == 1, f"{name}= is set once in the README block"
        block = pattern.sub(lambda m, n=name, v=value: f"{m.group(1)}{n}='{v}'", block)
    return block


def test_the_readme_install_section_runs_as_pasted(stack, tmp_path):
    src, home, elsewhere = tmp_path / "repo", tmp_path / "sp", tmp_path / "run"
    shutil.copytree(ROOT, src, ignore=NOT_SOURCES)
    elsewhere.mkdir()
    stack.ensure_database("sp_readme")
    port = free_port()
    block = set_values(readme_block(), {
        "SITE_ORIGIN": SITE, "DATABASE_URL": stack.database_url("sp_readme"),
        "TABLE_PREFIX": "wp_", "SIDECAR_BIND": f"127.0.0.1:{port}",
        "SP_REPO": str(src), "SP_HOME": str(home)})
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SP_", "VIRTUAL_ENV", "PYTHON", "GUNICORN", "XDG_"))}
    env.update(HOME=str(tmp_path), WEB_CONCURRENCY="1")
    started = time.monotonic()
    try:
        r = subprocess.run(["bash", "-e", "-c", block], cwd=elsewhere, env=env,
                           capture_output=True, text=True, timeout=600)
        took = time.monotonic() - started
        log = (home / "sidecar.log").read_text() if (home / "sidecar.log").exists() else ""
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}\n{log[-3000:]}"
        assert r.stdout.splitlines()[-1].startswith('{"status":"ready"'), r.stdout
        print(f"README install block: {took:.1f} s")

        # What `sidecar init` printed for WordPress is what the sidecar runs with.
        shown = dict(re.findall(r"^  ([A-Za-z ]+): +(\S+)$", r.stdout, re.M))
        assert shown["Sidecar URL"] == f"http://127.0.0.1:{port}", r.stdout
        base = shown["Sidecar URL"]
        payload = consent_payload(page_url=SITE + "/")
        req = urllib.request.Request(
            base + "/v1/consents", method="POST",
            data=json.dumps({"token": make_token(payload, [shown["Signing secrets"]])}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 201
            rid = json.loads(resp.read())["id"]
        req = urllib.request.Request(base + f"/v1/consents/{rid}", headers={
            "Authorization": f"Bearer {shown['Admin API token']}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert json.loads(resp.read())["event_id"] == payload["event_id"]
        rows = run_sql(stack.database_url("sp_readme"),
                       "SELECT COUNT(*) AS n FROM wp_sp_consents")
        assert rows == [{"n": 1}]

        # A production install: gevent workers, none of the test extra's packages, and the
        # app served is the installed one, not the repository's sources.
        assert "Using worker: gevent" in log, log[-2000:]
        py = str(home / "bin/python")
        assert subprocess.run([py, "-c", "import pytest"], capture_output=True).returncode
        where = subprocess.run([py, "-c", "import sidecar; print(sidecar.__file__)"],
                               cwd=elsewhere, capture_output=True, text=True).stdout
        assert where.startswith(str(home)), where
        # The worker runs in the background, started by the block.
        assert _alive(int((home / "worker.pid").read_text())), \
            (home / "worker.log").read_text()[-2000:]
    finally:
        for name in ("sidecar.pid", "worker.pid"):
            _stop(home / name)


def _stop(pidfile: Path) -> None:
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    pytest.fail(f"{pidfile.name}: pid {pid} did not stop on SIGTERM")


def _alive(pid: int) -> bool:
    """Running, not a zombie (the block's background processes are orphans once it ends)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"
