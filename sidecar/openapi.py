"""`GET /openapi.json`: the sidecar's HTTP API as OpenAPI 3.1 (in prose: docs/api.md §4).
tests/test_records_api.py keeps it in step with the routes the app really serves."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .validation import CATEGORIES

bp = Blueprint("openapi", __name__)

UUID = {"type": "string", "format": "uuid"}
CATS = {"type": "object", "required": list(CATEGORIES),
        "properties": {k: {"type": "boolean"} for k in CATEGORIES},
        "additionalProperties": False}


def _err(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _q(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema,
            "description": description}


ADMIN = [{"bearer": []}]
AUTH_ERRORS = {"401": _err("No bearer token (`unauthorized`)"),
               "403": _err("Wrong bearer token (`forbidden`)")}
RECORD_ID = {"name": "record_id", "in": "path", "required": True, "schema": UUID}
FILTERS = [
    _q("subject_id", UUID, "Only this visitor's records"),
    _q("country", {"type": "string", "pattern": "^[A-Za-z]{2}$"}, "ISO 3166 country code"),
    _q("from", {"type": "string", "format": "date"}, "Received on or after this day (UTC)"),
    _q("to", {"type": "string", "format": "date"}, "Received on or before this day (UTC)"),
    _q("page_url", {"type": "string"}, "Exact page URL"),
    _q("method", {"enum": ["accept_all", "reject_all", "custom", "withdraw", "gpc", "dnt"]},
       "How the choice was made"),
    _q("action", {"enum": ["grant", "update", "withdraw"]}, "Kind of decision"),
    _q("wp_user_id", {"type": "integer", "minimum": 1}, "WordPress user id"),
]

SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "Secure Privacy sidecar", "version": "1",
             "description": "Consent proof: verified, tamper-evident consent records with "
                            "screenshots, in the WordPress site's own database."},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string", "pattern": "^[a-z0-9_]+$"},
                    "message": {"type": "string"},
                    "field": {"type": "string"},
                    "record_id": UUID}}}},
            "Record": {"type": "object", "properties": {
                "id": UUID, "event_id": UUID, "subject_id": UUID,
                "action": {"enum": ["grant", "update", "withdraw"]},
                "method": {"enum": ["accept_all", "reject_all", "custom", "withdraw", "gpc",
                                    "dnt"]},
                "categories": CATS, "page_url": {"type": "string", "format": "uri"},
                "policy_version": {"type": "string"}, "banner_version": {"type": "string"},
                "language": {"type": "string"},
                "signals": {"type": "object", "properties": {"gpc": {"type": "boolean"},
                                                             "dnt": {"type": "boolean"}}},
                "ip": {"type": ["string", "null"]}, "country": {"type": "string"},
                "region": {"type": "string"}, "city": {"type": "string"},
                "user_agent": {"type": "string"}, "wp_user_id": {"type": "integer"},
                "occurred_at": {"type": "string", "format": "date-time"},
                "received_at": {"type": "string", "format": "date-time"},
                "screenshot": {"type": "object", "properties": {
                    "status": {"enum": ["pending", "done", "failed", "skipped", "erased"]},
                    "url": {"type": ["string", "null"]},
                    "error": {"type": ["string", "null"]}}},
                "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "chain": {"type": ["object", "null"], "properties": {
                    "position": {"type": "integer"}, "hash": {"type": "string"}}},
                "erased": {"type": "boolean"}}},
        },
    },
    "paths": {
        "/v1/consents": {
            "post": {
                "summary": "Ingest a signed consent event (from the plugin)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["token"],
                    "properties": {"token": {"type": "string",
                                             "description": "itsdangerous URLSafeTimedSerializer"
                                             " token, salt secure-privacy/consent/v1"}}}}}},
                "responses": {
                    "201": _json("Stored", {"type": "object", "properties": {
                        "id": UUID, "receipt": {"type": "string"}}}),
                    "200": _json("This event_id was already stored: the same id",
                                 {"type": "object"}),
                    "401": _err("`invalid_signature` or `expired_token`"),
                    "409": _err("`event_id_conflict`: this event_id is recorded with another"
                                " choice; `record_id` names that record"),
                    "413": _err("Body too large (`payload_too_large`)"),
                    "422": _err("Not JSON or a bad field (`invalid_json`, `invalid_payload`"
                                " with `field`)"),
                },
            },
            "get": {
                "summary": "List records, newest first", "security": ADMIN,
                "parameters": FILTERS + [
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 500,
                                 "default": 50}, "Page size"),
                    _q("cursor", {"type": "string"}, "next_cursor of the previous page")],
                "responses": {"200": _json("A page", {"type": "object", "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Record"}},
                    "next_cursor": {"type": ["string", "null"]}}}),
                    "400": _err("Bad parameter (`invalid_parameter`)"), **AUTH_ERRORS},
            },
        },
        "/v1/consents/export": {"get": {
            "summary": "Stream every (filtered) record", "security": ADMIN,
            "parameters": FILTERS + [_q("format", {"enum": ["csv", "ndjson"], "default": "csv"},
                                        "Output format")],
            "responses": {"200": {"description": "CSV or NDJSON, streamed", "content": {
                "text/csv": {}, "application/x-ndjson": {}}},
                "400": _err("Bad parameter"), **AUTH_ERRORS}}},
        "/v1/consents/{record_id}": {
            "get": {"summary": "One record", "security": ADMIN, "parameters": [RECORD_ID],
                    "responses": {"200": _json("The record",
                                               {"$ref": "#/components/schemas/Record"}),
                                  "404": _err("No such record (`not_found`)"),
                                  "410": _err("Erased (`erased`)"), **AUTH_ERRORS}},
            "delete": {"summary": "Erase one record (tombstone)", "security": ADMIN,
                       "parameters": [RECORD_ID],
                       "responses": {"204": {"description": "Erased"},
                                     "404": _err("No such record"),
                                     "410": _err("Already erased"), **AUTH_ERRORS}},
        },
        "/v1/consents/{record_id}/screenshot": {"get": {
            "summary": "The proof image", "security": ADMIN,
            "parameters": [RECORD_ID, _q("size", {"enum": ["full", "thumb"]}, "Image size")],
            "responses": {"200": {"description": "The image", "content": {
                "image/webp": {}, "image/png": {}}},
                "404": _err("No such record, or no screenshot yet"),
                "410": _err("Erased"), **AUTH_ERRORS}}},
        "/v1/erasures": {"post": {
            "summary": "Erase every record of a subject, an IP or a WordPress user",
            "security": ADMIN,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "oneOf": [
                    {"type": "object", "required": ["subject_id"],
                     "properties": {"subject_id": UUID}},
                    {"type": "object", "required": ["ip"], "properties": {"ip": {
                        "type": "string"}, "unattributed": {
                        "type": "boolean", "default": False, "description":
                        "also erase older records without an IP fingerprint stored"
                        " truncated to this address's /24 or /48"}}},
                    {"type": "object", "required": ["wp_user_id"], "properties": {
                        "wp_user_id": {"type": "integer", "minimum": 1}}}]}}}},
            "responses": {"200": _json("How many records were erased", {
                "type": "object", "properties": {"erased": {"type": "integer"},
                                                 "unattributed": {"type": "integer"}}}),
                "422": _err("Bad body"), **AUTH_ERRORS}}},
        "/v1/stats": {"get": {
            "summary": "Counts and opt-in rates", "security": ADMIN,
            "parameters": [
                _q("from", {"type": "string", "format": "date"}, "First day (UTC)"),
                _q("to", {"type": "string", "format": "date"}, "Last day (UTC)"),
                _q("group_by", {"enum": ["day", "country", "category", "method"],
                                "default": "day"}, "Grouping")],
            "responses": {"200": _json("Groups", {"type": "object", "properties": {
                "group_by": {"type": "string"}, "groups": {"type": "array"}}}),
                "400": _err("Bad parameter"), **AUTH_ERRORS}}},
        "/v1/integrity": {"get": {
            "summary": "Seal pending records, then verify the whole ledger (docs/ledger.md)",
            "security": ADMIN,
            "responses": {"200": _json("Verification report", {"type": "object", "properties": {
                "ok": {"type": "boolean"}, "records": {"type": "integer"},
                "sealed": {"type": "integer"}, "unsealed": {"type": "integer"},
                "head": {"type": "string", "description": "The keyed chain's head (hex)"},
                "key_ids": {"type": "array", "items": {"type": "string"}},
                "ledger_key_derived": {"type": "boolean", "description":
                                       "True when SP_LEDGER_KEYS is unset"},
                "anchors": {"type": "object", "properties": {
                    "files": {"type": "array", "items": {"type": "string"}},
                    "checked": {"type": "integer"}, "last_pos": {"type": "integer"}}},
                "warnings": {"type": "array", "items": {"type": "string"}},
                "problems": {"type": "array"}}}),
                **AUTH_ERRORS}}},
        "/v1/integrity/anchors": {"get": {
            "summary": "This host's ledger anchors (one JSON line per seal), to keep outside"
                       " the database and check with `sidecar verify --anchors FILE`",
            "security": ADMIN,
            "responses": {"200": {"description": "Anchor lines: seal, pos, head, key_id, at",
                                  "content": {"application/x-ndjson": {}}},
                          "404": _err("No anchor file (`no_anchor_file`)"), **AUTH_ERRORS}}},
        "/healthz": {"get": {"summary": "Liveness", "responses": {
            "200": _json("Alive", {"type": "object"})}}},
        "/readyz": {"get": {"summary": "Readiness (database reachable)", "responses": {
            "200": _json("Ready", {"type": "object"}),
            "503": _err("Database unreachable (`database_unavailable`)")}}},
        "/metrics": {"get": {
            "summary": "Prometheus metrics",
            "description": "Without a token only from this host (a loopback peer not relayed "
                           "by a proxy); otherwise a bearer token of SP_METRICS_TOKENS or "
                           "SP_ADMIN_TOKENS.",
            "security": [{"bearer": []}, {}], "responses": {
                "200": {"description": "Prometheus text format", "content": {"text/plain": {}}},
                **AUTH_ERRORS}}},
        "/openapi.json": {"get": {"summary": "This document", "responses": {
            "200": _json("OpenAPI 3.1", {"type": "object"})}}},
    },
}


@bp.get("/openapi.json")
def openapi():
    return jsonify(SPEC)
