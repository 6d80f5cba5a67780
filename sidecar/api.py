"""Public endpoints: ingest from the plugin, health and readiness."""

from __future__ import annotations

import time

import pymysql
from flask import Blueprint, current_app, jsonify, request

from . import metrics, records, signing
from .db import get_db
from .errors import ApiError
from .validation import validate_consent

bp = Blueprint("api", __name__)


def json_body() -> dict:
    """The request's JSON object; ApiError 422 when the body is not one."""
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_json", "The body must be a JSON object")
    return body


@bp.post("/v1/consents")
def ingest():
    """Verify a signed consent token, store the record once per event_id, return a receipt."""
    cfg = current_app.config
    started = time.perf_counter()
    token = json_body().get("token")
    if not isinstance(token, str) or not token:
        raise ApiError(422, "invalid_payload", "token: is required", field="token")
    payload = signing.load_consent(token, cfg["SECRET_KEYS"], cfg["SP_MAX_TOKEN_AGE"])
    consent = validate_consent(payload)
    rec, created = records.insert_consent(get_db(), consent, cfg)
    metrics.INGEST.labels("created" if created else "duplicate").inc()
    metrics.INGEST_SECONDS.observe(time.perf_counter() - started)
    receipt = signing.sign_receipt({
        "id": rec["id"], "event_id": rec["event_id"], "subject_id": rec["subject_id"],
        "action": rec["action"], "categories": rec["categories"],
        "occurred_at": rec["occurred_at"], "received_at": rec["received_at"],
        "hash": rec["hash"]}, cfg["SECRET_KEYS"])
    return jsonify({"id": rec["id"], "receipt": receipt}), 201 if created else 200


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Ready when the database answers and the schema is there."""
    try:
        records.ping(get_db())
    except pymysql.MySQLError as e:
        raise ApiError(503, "database_unavailable", f"Database not reachable: {e.args[-1]}") \
            from None
    return jsonify({"status": "ready", "version": _version()})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("secure-privacy-sidecar")
    except PackageNotFoundError:
        return "unknown"
