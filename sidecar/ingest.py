"""Consent intake, `POST /v1/consents` (docs/api.md §4.1): the one hot path of the sidecar,
called for every visitor's every choice.

`handle()` is the whole intake: parse the body, verify the token, validate, store durably
(through the group committer when the worker runs requests concurrently), sign the receipt.
`FastPath` serves it straight from WSGI, in front of Flask: a well-formed request of a known
length goes through here without Flask's request context, URL matching, response object and
hooks (a third of the CPU an ingest cost under Flask), with the same answers, the same JSON
error bodies, the same log line and the same metrics. Everything else, and a body whose
length is not given up front, goes to Flask (whose view calls `handle()` as well).
"""

from __future__ import annotations

import json
import logging
import time
from http import HTTPStatus

from flask import Flask

from . import commit, errors, logs, metrics, signing
from .db import hand_back
from .errors import ApiError
from .validation import validate_consent

log = logging.getLogger("sidecar.ingest")
PATH = "/v1/consents"
_ANSWER = json.JSONEncoder(separators=(",", ":"))


def handle(app: Flask, body: bytes, conn) -> tuple[int, dict]:
    """(HTTP status, JSON answer) for an intake request's body; raises ApiError for what the
    client must fix. `conn()` gives a database connection (only when one is needed)."""
    cfg = app.config
    started = time.perf_counter()
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested past the parser's depth
        data = None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_json", "The body must be a JSON object")
    token = data.get("token")
    if not isinstance(token, str) or not token:
        raise ApiError(422, "invalid_payload", "token: is required", field="token")
    payload = signing.load_consent(token, cfg["SECRET_KEYS"], cfg["SP_MAX_TOKEN_AGE"],
                                   cfg["SP_CLOCK_SKEW"])
    consent = validate_consent(payload)
    rec, created = commit.insert_consent(conn, app.extensions["sp_tables"], consent, cfg,
                                         app.extensions.get("sp_committer"))
    if not created:
        _check_same_event(consent, rec)
    metrics.child(metrics.INGEST, "created" if created else "duplicate").inc()
    metrics.INGEST_SECONDS.observe(time.perf_counter() - started)
    receipt = signing.sign_receipt({
        "id": rec["id"], "event_id": rec["event_id"], "subject_id": rec["subject_id"],
        "action": rec["action"], "categories": rec["categories"],
        "occurred_at": rec["occurred_at"], "received_at": rec["received_at"],
        "hash": rec["hash"]}, cfg["SECRET_KEYS"])
    return (201 if created else 200), {"id": rec["id"], "receipt": receipt}


# What the visitor's browser chose, as the widget sends it; an honest retry of an event
# repeats these exactly. ip, user_agent, wp_user_id and occurred_at are the plugin's, and may
# differ between the first attempt and a retry.
CLIENT_FIELDS = ("event_id", "subject_id", "action", "method", "categories", "page_url",
                 "policy_version", "banner_version", "language", "signals")
# Blanked by an erasure, so not comparable afterwards (erasure.py _erase).
ERASED_FIELDS = ("subject_id", "page_url")


def _check_same_event(consent: dict, rec: dict) -> None:
    """An event_id arriving again must carry the same choice: else 409 `event_id_conflict`
    naming the record that holds the event_id, so no sender is told a discarded choice was
    recorded (docs/api.md §4.1: only the same event again is answered 200 with the same id)."""
    differ = [f for f in CLIENT_FIELDS
              if not (rec.get("erased") and f in ERASED_FIELDS) and consent[f] != rec[f]]
    if differ:
        metrics.child(metrics.INGEST, "conflict").inc()
        raise ApiError(409, "event_id_conflict",
                       f"event_id {consent['event_id']} is already recorded as record "
                       f"{rec['id']} with a different {', '.join(differ)}; a new choice needs "
                       "a new event_id", record_id=rec["id"])


class _Borrowed:
    """A pool connection borrowed on first use (group commit needs none); `release()` hands
    it back."""

    __slots__ = ("app", "conn")

    def __init__(self, app: Flask):
        self.app, self.conn = app, None

    def __call__(self):
        if self.conn is None:
            self.conn = self.app.extensions["sp_pool"].get()
        return self.conn

    def release(self, broken: bool) -> None:
        if self.conn is not None:
            hand_back(self.app.extensions["sp_pool"], self.conn, broken)
            self.conn = None


_STATUS_LINES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}


class FastPath:
    """WSGI middleware serving `POST /v1/consents` with `handle()`; the rest goes to `app`."""

    def __init__(self, app: Flask):
        self.app, self.flask_wsgi = app, app.wsgi_app
        self.max_body = app.config["SP_MAX_BODY_BYTES"]

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.flask_wsgi(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            length = -1
        if length < 0:  # chunked or unknown length: Flask reads and limits it
            return self.flask_wsgi(environ, start_response)
        started = time.perf_counter()
        conn = _Borrowed(self.app)
        broken, code, headers = False, None, []
        try:
            if length > self.max_body:
                raise ApiError(413, "payload_too_large",
                               f"The body is larger than {self.max_body} bytes")
            status, answer = handle(self.app, environ["wsgi.input"].read(length), conn)
        except Exception as e:  # noqa: BLE001 - answered as errors.answer says, and logged
            broken = not isinstance(e, ApiError)  # a failed query may leave it unusable
            status, answer, extra, code = errors.answer(e, log)
            headers.extend(extra)
        finally:
            conn.release(broken)
        out = _ANSWER.encode(answer).encode() + b"\n"
        start_response(_STATUS_LINES[status], [
            ("Content-Type", "application/json"), ("Content-Length", str(len(out))),
            *headers])
        logs.request_line("POST", PATH, status, (time.perf_counter() - started) * 1000, code)
        return [out]
