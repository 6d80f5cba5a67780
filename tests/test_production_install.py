"""F16 (issue 10): where gunicorn listens comes from SP_BIND, 127.0.0.1:8000 unless told
otherwise. (The production install itself, a fresh venv without extras serving /readyz and
storing a consent, is run from the README by tests/test_readme_install.py.)"""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


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
