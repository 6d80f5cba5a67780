"""Admin JSON API behind bearer tokens (CONTRACT §5)."""

from __future__ import annotations

import hmac
import re
from datetime import date, datetime, timedelta

from flask import Blueprint, Response, current_app, jsonify, request

from . import records
from .db import get_db
from .errors import ApiError
from .validation import METHODS, UUID4

bp = Blueprint("admin", __name__)


@bp.before_request
def require_admin():
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or not header[7:].strip():
        raise ApiError(401, "unauthorized", "An admin bearer token is required")
    given = header[7:].strip().encode()
    if not any(hmac.compare_digest(given, t.encode())
               for t in current_app.config["ADMIN_TOKENS"]):
        raise ApiError(403, "forbidden", "The bearer token is not valid")


def _date(name: str) -> datetime | None:
    value = request.args.get(name)
    if not value:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time())
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{name}: must be a date (YYYY-MM-DD)") \
            from None


def list_filters() -> dict:
    """Validated filters of the query string; ApiError 400 naming a bad one."""
    args = request.args
    f = {}
    if args.get("subject_id"):
        if not UUID4.match(args["subject_id"].lower()):
            raise ApiError(400, "invalid_parameter", "subject_id: must be a UUIDv4")
        f["subject_id"] = args["subject_id"].lower()
    if args.get("country"):
        if not re.fullmatch(r"[A-Za-z]{2}", args["country"]):
            raise ApiError(400, "invalid_parameter", "country: must be an ISO 3166 code")
        f["country"] = args["country"].upper()
    if args.get("method"):
        if args["method"] not in METHODS:
            raise ApiError(400, "invalid_parameter", f"method: one of {', '.join(METHODS)}")
        f["method"] = args["method"]
    if args.get("page_url"):
        f["page_url"] = args["page_url"]
    f["from"] = _date("from")
    to = _date("to")
    # `to` as a date includes that whole day.
    f["to"] = to + timedelta(days=1) if to and len(args.get("to", "")) == 10 else to
    return f


@bp.get("/v1/consents")
def list_consents():
    try:
        limit = int(request.args.get("limit", 50))
    except ValueError:
        raise ApiError(400, "invalid_parameter", "limit: must be an integer") from None
    if not 1 <= limit <= 500:
        raise ApiError(400, "invalid_parameter", "limit: must be 1–500")
    cursor = None
    if request.args.get("cursor"):
        try:
            cursor = records.decode_cursor(request.args["cursor"])
        except ValueError:
            raise ApiError(400, "invalid_parameter", "cursor: not a cursor from this API") \
                from None
    items, next_seq = records.list_consents(get_db(), list_filters(), limit, cursor)
    return jsonify({"items": [records.public(r) for r in items],
                    "next_cursor": records.encode_cursor(next_seq) if next_seq else None})


def _record_or_error(record_id: str) -> dict:
    rec = records.get(get_db(), record_id) if UUID4.match(record_id) else None
    if rec is None:
        raise ApiError(404, "not_found", "No such consent record")
    if rec["erased"]:
        raise ApiError(410, "erased", "This consent record was erased")
    return rec


@bp.get("/v1/consents/<record_id>")
def get_consent(record_id: str):
    return jsonify(records.public(_record_or_error(record_id)))


@bp.get("/v1/consents/<record_id>/screenshot")
def get_screenshot(record_id: str):
    rec = _record_or_error(record_id)
    shot = records.screenshot_of(get_db(), record_id)
    if shot is None:
        raise ApiError(404, "screenshot_not_available",
                       f"No screenshot yet (status {rec['screenshot']['status']})")
    resp = Response(shot["image"], mimetype=shot["mime"])
    resp.headers["Cache-Control"] = "private, max-age=86400, immutable"
    resp.headers["ETag"] = f'"{shot["sha256"]}"'
    return resp
