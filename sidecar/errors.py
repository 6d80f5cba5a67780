"""The one JSON error path: `{"error": {"code": ..., "message": ...}}` (docs/api.md §4)."""

from __future__ import annotations

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


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(e: ApiError):
        g.error_code = e.code
        return jsonify(e.to_dict()), e.status

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        code = {413: "payload_too_large", 405: "method_not_allowed"}.get(e.code, _snake(e.name))
        message = e.description or e.name
        g.error_code = code
        resp = jsonify(ApiError(e.code, code, message).to_dict())
        resp.status_code = e.code
        if e.code == 405 and getattr(e, "valid_methods", None):
            resp.headers["Allow"] = ", ".join(e.valid_methods)
        return resp

    @app.errorhandler(pymysql.err.OperationalError)
    def database_unavailable(e: Exception):
        app.logger.error("database unavailable", extra={"fields": {"error": str(e)[:200]}})
        g.error_code = DATABASE_UNAVAILABLE
        body = ApiError(503, DATABASE_UNAVAILABLE, "The database is not available; retry "
                                                     "later").to_dict()
        return jsonify(body), 503, {"Retry-After": "5"}

    @app.errorhandler(Exception)
    def unexpected(e: Exception):
        app.logger.exception("unhandled error")
        g.error_code = "internal_error"
        return jsonify(ApiError(500, "internal_error", "Internal server error").to_dict()), 500
