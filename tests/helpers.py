"""Helpers shared by the test modules (import them: `from helpers import ...`)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime

import pymysql
import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from sidecar.db import connect_args
from sidecar.signing import CONSENT_SALT, serializer

TEST_KEYS = ["old-test-key", "current-test-key"]
TEST_TOKENS = ["admin-token-one", "admin-token-two"]
SITE = "http://site.test"


class db_conn:
    """`with db_conn(url) as conn:` a direct connection, closed afterwards."""

    def __init__(self, url):
        self.conn = pymysql.connect(**connect_args(url))

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc):
        self.conn.close()


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


def records_of(admin_api, subject_id: str, n: int) -> list:
    """The sidecar's records of a subject, newest first, once there are `n`."""
    def check():
        status, body, _ = admin_api.get(f"/v1/consents?subject_id={subject_id}")
        assert status == 200, body
        return body["items"] if len(body["items"]) >= n else None
    return wait_for(check, 15, what=f"{n} record(s) of subject {subject_id}")


_served: dict = {}


def served_versions(wp_url: str) -> dict:
    """The policy and banner versions the site's banner serves now (its configuration island):
    the plugin's public route accepts only versions it has served. Read once per site."""
    if wp_url not in _served:
        html = urllib.request.urlopen(wp_url + "/", timeout=10).read().decode()
        config = json.loads(re.search(r'<script[^>]*id="sp-consent-config"[^>]*>(.*?)</script>',
                                      html, re.S).group(1))
        _served[wp_url] = {"policy_version": config["policyVersion"],
                           "banner_version": config["bannerVersion"]}
    return dict(_served[wp_url])


def post_chunked(app, body: bytes) -> tuple[int, dict]:
    """POST a consent body without a Content-Length (chunked, as gunicorn hands such a body
    on), so the Flask view serves it rather than the WSGI fast path."""
    environ = EnvironBuilder(method="POST", path="/v1/consents", input_stream=io.BytesIO(body),
                             content_type="application/json").get_environ()
    del environ["CONTENT_LENGTH"]
    environ.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True})
    out, status, _ = run_wsgi_app(app, environ, buffered=True)
    return int(status.split()[0]), json.loads(b"".join(out))
