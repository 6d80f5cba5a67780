"""The one JSON error path: `{"error": {"code": ..., "message": ...}}` (docs/api.md §4)."""

from __future__ import annotations

import logging
import re

import pymysql
from flask import Flask, g, jsonify
from werkzeug.exceptions import HTTPException

DATABASE_UNAVAILABLE = "database_unavailable"


class ApiError(Exception):
    """An error the client should see: HTTP status, snake_case code, human message and,
    for validation errors, the offending field."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 record_id: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.record_id = record_id

    def to_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.record_id:
            body["record_id"] = self.record_id
        return {"error": body}


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def answer(e: BaseException, log: logging.Logger) -> tuple[int, dict, list, str]:
    """The answer to a request that raised `e`: (HTTP status, JSON body, extra headers,
    error code). Logs what the operator must see on `log`. Flask's error handlers and the
    ingest fast path (ingest.FastPath) both answer through here."""
    if isinstance(e, ApiError):
        return e.status, e.to_dict(), [], e.code
    if isinstance(e, HTTPException):
        code = {413: "payload_too_large", 405: "method_not_allowed"}.get(e.code, _snake(e.name))
        headers = []
        if e.code == 405 and getattr(e, "valid_methods", None):
            headers.append(("Allow", ", ".join(e.valid_methods)))
        return e.code, ApiError(e.code, code, e.description or e.name).to_dict(), headers, code
    if isinstance(e, pymysql.err.OperationalError):
        log.error("database unavailable", extra={"fields": {"error": str(e)[:200]}})
        body = ApiError(503, DATABASE_UNAVAILABLE, "The database is not available; retry "
                                                     "later").to_dict()
        return 503, body, [("Retry-After", "5")], DATABASE_UNAVAILABLE
    log.error("unhandled error", exc_info=e)
    return 500, ApiError(500, "internal_error", "Internal server error").to_dict(), [], \
        "internal_error"


def init_app(app: Flask) -> None:
    def handle(e: Exception):
        status, body, headers, code = answer(e, app.logger)
        g.error_code = code
        resp = jsonify(body)
        resp.status_code = status
        for name, value in headers:
            resp.headers[name] = value
        return resp

    # Flask picks the handler of the most specific class; all four answer the same way.
    for cls in (ApiError, HTTPException, pymysql.err.OperationalError, Exception):
        app.register_error_handler(cls, handle)
