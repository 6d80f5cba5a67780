"""Public endpoints: ingest from the plugin, health and readiness."""

from __future__ import annotations

import logging

import pymysql
from flask import Blueprint, current_app, jsonify, request

from . import records
from .db import get_db, tables
from .errors import ApiError
from .ingest import handle

log = logging.getLogger("sidecar.api")

bp = Blueprint("api", __name__)


def json_body() -> dict:
    """The request's JSON object; ApiError 422 when the body is not one."""
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_json", "The body must be a JSON object")
    return body


@bp.post("/v1/consents")
def ingest():
    """Verify a signed consent token, store the record once per event_id, return a receipt.
    Requests of a known length are served by ingest.FastPath before they reach Flask; this
    view serves the others (e.g. a chunked body) with the same `ingest.handle()`."""
    # Read to the end: werkzeug stops a body of unknown length at MAX_CONTENT_LENGTH and
    # raises 413 (payload_too_large) only on the read after that; get_data() would hand back
    # the first bytes, which then failed as bad JSON (422) instead.
    body = b"".join(iter(lambda: request.stream.read(65536), b""))
    status, answer = handle(current_app, body, get_db)
    return jsonify(answer), status


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Ready when the database answers and the schema is there."""
    try:
        records.ping(get_db(), tables())
    except pymysql.MySQLError as e:
        # /readyz is public: the driver's text names the database host, so it goes to the log.
        log.warning("database not reachable", extra={"fields": {"error": str(e.args[-1])}})
        raise ApiError(503, "database_unavailable", "The database is not reachable") from None
    return jsonify({"status": "ready", "version": _version()})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("secure-privacy-sidecar")
    except PackageNotFoundError:
        return "unknown"
