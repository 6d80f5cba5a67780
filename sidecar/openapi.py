"""`GET /openapi.json`: the sidecar's HTTP API as OpenAPI 3.1 (in prose: docs/api.md §4).
tests/test_records_api.py keeps it in step with the routes the app really serves."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .validation import CATEGORIES

bp = Blueprint("openapi", __name__)

UUID = {"type": "string", "format": "uuid"}
# What the server takes as a visitor id: a version-4 UUID, any case. maxLength: a JSON Schema
# pattern's `$` may match before a final newline (Python's re does), the server never does.
UUID4 = {"type": "string", "format": "uuid", "maxLength": 36,
         "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-"
                    "[0-9a-fA-F]{12}$"}
MAX_WP_USER_ID = 2**64 - 1  # BIGINT UNSIGNED, as WordPress stores user ids
WP_USER_ID = {"type": "integer", "minimum": 1, "maximum": MAX_WP_USER_ID}
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


def _link(operation: str, pointer: str) -> dict:
    """An OpenAPI link: `operation` with record_id taken from this response's body."""
    return {"operationId": operation, "parameters": {"record_id": f"$response.body{pointer}"}}


def _enum(*values: str, default: str | None = None) -> dict:
    schema = {"type": "string", "enum": list(values)}
    if default:
        schema["default"] = default
    return schema


ADMIN = [{"bearer": []}]
AUTH_ERRORS = {"401": _err("No bearer token (`unauthorized`)"),
               "403": _err("Wrong bearer token (`forbidden`)")}
# Every operation that reads or writes the database.
UNAVAILABLE = {"503": _err("The database is not reachable (`database_unavailable`); retry "
                           "after `Retry-After` seconds")}
BAD_PARAMETER = {"400": _err("A query parameter is malformed, or given but empty "
                             "(`invalid_parameter`, the message names it). Leave a filter out "
                             "not to filter.")}
TOO_LARGE = {"413": _err("Body larger than SP_MAX_BODY_BYTES (`payload_too_large`)")}
RECORD_ID = {"name": "record_id", "in": "path", "required": True, "schema": UUID,
             "description": "A record's `id` (anything else is a 404)"}
DATE = {"type": "string", "format": "date"}
FILTERS = [
    _q("subject_id", UUID4, "Only this visitor's records"),
    _q("country", {"type": "string", "pattern": "^[A-Za-z]{2}$", "minLength": 2,
                   "maxLength": 2}, "ISO 3166 country code, any case"),
    _q("from", DATE, "Received on or after this day (UTC)"),
    _q("to", DATE, "Received on or before this day (UTC)"),
    _q("page_url", {"type": "string", "minLength": 1}, "Exact page URL"),
    _q("method", _enum("accept_all", "reject_all", "custom", "withdraw", "gpc", "dnt"),
       "How the choice was made"),
    _q("action", _enum("grant", "update", "withdraw"), "Kind of decision"),
    _q("wp_user_id", WP_USER_ID, "WordPress user id"),
]

RECEIPT = {"type": "object", "required": ["id", "receipt"], "properties": {
    "id": UUID, "receipt": {"type": "string"}}}

SCAN_RULE = {"type": "object", "required": ["kind", "pattern", "category"],
             "additionalProperties": False, "properties": {
                 "kind": _enum("cookie", "storage", "request"),
                 "pattern": {"type": "string", "minLength": 1, "maxLength": 255,
                             "description": "A name (`*` wildcards) or a host"},
                 "category": _enum("necessary", "preferences", "statistics", "marketing"),
                 "service": {"type": ["string", "null"], "maxLength": 100}}}
SCAN_SUMMARY = {"type": "object", "required": ["id", "status", "progress"], "properties": {
    "id": UUID, "status": _enum("queued", "running", "done", "failed"),
    "progress": {"type": "object", "properties": {"done": {"type": "integer"},
                                                  "total": {"type": "integer"}}},
    "max_pages": {"type": "integer"},
    "created_at": {"type": "string", "format": "date-time"},
    "started_at": {"type": ["string", "null"], "format": "date-time"},
    "finished_at": {"type": ["string", "null"], "format": "date-time"},
    "error": {"type": ["string", "null"], "description": "Why the scan failed"},
    "report_hash": {"type": ["string", "null"]},
    "page_list": {"type": ["object", "null"], "description":
                  "Where the pages came from: source request|plugin|fallback, and the error"
                  " that made it fall back to the front page"},
    "items": {"type": ["integer", "null"], "description": "Items in the report (when done)"},
    "violations": {"type": ["integer", "null"]},
    "ruleset_version": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$",
                        "description": "The rule-set version (catalogue and site rules) the "
                                       "scan classified with; a consent's `rules_version`"}}}
SCAN_REPORT = {"type": "object", "required": ["id", "status", "progress", "pages", "items",
                                              "violations"], "properties": {
    **{k: v for k, v in SCAN_SUMMARY["properties"].items() if k not in ("items", "violations")},
    "pages": {"type": "array", "items": {"type": "object", "properties": {
        "url": {"type": "string"}, "states": {"type": "array", "items": _enum(
            "before_consent", "after_reject", "after_accept")}}}},
    "items": {"type": "array", "items": {"type": "object"}, "description":
              "What was found (CONTRACT §8): kind, name, host, resource, category, service,"
              " source, seen (page, state, initiator, plugin)"},
    "violations": {"type": "array", "items": {"type": "object"}, "description":
                   "Items not `necessary` seen before consent or after Reject all"},
    "rules": {"type": "array", "items": SCAN_RULE},
    "skipped": {"type": "array", "items": {"type": "string"}, "description":
                "Pages not reached within SP_SCAN_BUDGET"},
    "requested": {"type": "object", "description": "(before the report) urls and max_pages"}}}

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
                "screenshot": {"type": "object", "required": [
                    "status", "url", "thumb_url", "error", "reason", "taken_at", "reused",
                    "shared", "shows"], "properties": {
                    "status": {"enum": ["pending", "done", "failed", "skipped", "erased"]},
                    "url": {"type": ["string", "null"]},
                    "thumb_url": {"type": ["string", "null"]},
                    "error": {"type": ["string", "null"],
                              "description": "Why it failed or was skipped, as stored; while "
                                             "pending, why the last attempt failed"},
                    "reason": {"enum": [None, "awaiting_seal", "awaiting_render", "retrying",
                                        "not_on_site_origins", "email_in_path", "not_queued",
                                        "skipped", "render_failed", "erased"],
                               "description": "Why there is no picture (null when done); "
                                              "pending only while a render is coming"},
                    "taken_at": {"type": ["string", "null"], "format": "date-time",
                                 "description": "When the render was made (null without one)"},
                    "reused": {"type": ["boolean", "null"],
                               "description": "The render predates this consent or is known "
                                              "to serve other consents too"},
                    "shared": {"type": ["boolean", "null"],
                               "description": "The render is known to serve other consents "
                                              "(sealed with this one, or made for earlier "
                                              "ones)"},
                    "shows": {"enum": [None, "first_layer_anonymous"],
                              "description": "The banner's first layer as offered to an "
                                             "anonymous visitor on that page, at the "
                                             "record's viewport and language: never the "
                                             "visitor's own choice or a signed-in view"},
                    "viewport": {"enum": ["desktop", "mobile"]},
                    "width": {"type": "integer"}, "height": {"type": "integer"},
                    "rendered_banner_version": {"type": "string"},
                    "banner_text_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                    "banner_version_match": {"type": "boolean"}}},
                "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "rules_version": {
                    "type": ["string", "null"], "pattern": "^[0-9a-f]{64}$",
                    "description": "The rule-set version (catalogue and site rules) the "
                                   "plugin enforced when the consent was given; the scan "
                                   "reports with the same ruleset_version proved it. Null: "
                                   "recorded before rule-set versions"},
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
                    "properties": {"token": {
                        "type": "string", "minLength": 1,
                        "description": "itsdangerous URLSafeTimedSerializer token, salt "
                                       "secure-privacy/consent/v1, signed with one of "
                                       "SP_SECRET_KEYS. Any other string is a 401."}}}}}},
                "responses": {
                    "201": _json("Stored", RECEIPT),
                    "200": _json("This event_id was already stored with the same content: "
                                 "the first record's id and receipt", RECEIPT),
                    "401": _err("Not signed with our key (`invalid_signature`) or older than"
                                " SP_MAX_TOKEN_AGE (`expired_token`)"),
                    "409": _err("`event_id_conflict`: the same event_id with different "
                                "content is already recorded; `record_id` names that record"),
                    **TOO_LARGE,
                    "422": _err("Not a JSON object, no `token` (`invalid_json`, "
                                "`invalid_payload` with `field`), or a signed payload with a "
                                "bad field (`invalid_payload` with `field`)"),
                    **UNAVAILABLE,
                },
            },
            "get": {
                "summary": "List records, newest first", "security": ADMIN,
                "operationId": "listConsents",
                "parameters": FILTERS + [
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 500,
                                 "default": 50}, "Page size"),
                    _q("cursor", {"type": "string", "pattern": "^[0-9]{1,20}$",
                                  "maxLength": 20},
                       "`next_cursor` of the previous page: the records before that position")],
                "responses": {"200": {**_json("A page", {"type": "object", "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Record"}},
                    "next_cursor": {"type": ["string", "null"]}}}), "links": {
                        "GetFirstRecord": _link("getConsent", "#/items/0/id"),
                        "GetFirstScreenshot": _link("getScreenshot", "#/items/0/id"),
                        "NextPage": {"operationId": "listConsents", "parameters": {
                            "cursor": "$response.body#/next_cursor"}}}},
                    **BAD_PARAMETER, **AUTH_ERRORS, **UNAVAILABLE},
            },
        },
        "/v1/consents/export": {"get": {
            "summary": "Stream every (filtered) record", "security": ADMIN,
            "parameters": FILTERS + [_q("format", _enum("csv", "ndjson", default="csv"),
                                        "Output format")],
            "responses": {"200": {"description": "CSV or NDJSON, streamed", "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}}}},
                **BAD_PARAMETER, **AUTH_ERRORS, **UNAVAILABLE}}},
        "/v1/consents/{record_id}": {
            "get": {"summary": "One record", "security": ADMIN, "parameters": [RECORD_ID],
                    "operationId": "getConsent",
                    "responses": {"200": _json("The record",
                                               {"$ref": "#/components/schemas/Record"}),
                                  "404": _err("No such record (`not_found`)"),
                                  "410": _err("Erased (`erased`)"), **AUTH_ERRORS,
                                  **UNAVAILABLE}},
            "delete": {"summary": "Erase one record (tombstone)", "security": ADMIN,
                       "operationId": "deleteConsent",
                       "parameters": [RECORD_ID],
                       "responses": {"204": {"description": "Erased"},
                                     "404": _err("No such record (`not_found`)"),
                                     "410": _err("Already erased (`erased`)"), **AUTH_ERRORS,
                                     **UNAVAILABLE}},
        },
        "/v1/consents/{record_id}/screenshot": {"get": {
            "summary": "The proof image (immutable: ETag, 304 on If-None-Match)",
            "security": ADMIN, "operationId": "getScreenshot",
            "parameters": [RECORD_ID, _q("size", _enum("full", "thumb", default="full"),
                                         "Image size (thumb: 320 px wide)")],
            "responses": {"200": {"description": "The image", "content": {
                "image/webp": {"schema": {"type": "string", "format": "binary"}},
                "image/png": {"schema": {"type": "string", "format": "binary"}}}},
                "304": {"description": "Not modified (If-None-Match matched the ETag)"},
                **BAD_PARAMETER,
                "404": _err("No such record (`not_found`), or no screenshot yet "
                            "(`screenshot_not_available`)"),
                "410": _err("Erased (`erased`)"), **AUTH_ERRORS, **UNAVAILABLE}}},
        "/v1/erasures": {"post": {
            "summary": "Erase every record of a subject, an IP or a WordPress user",
            "security": ADMIN,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "description": "Exactly one of subject_id, ip or wp_user_id",
                "oneOf": [
                    {"type": "object", "required": ["subject_id"],
                     "properties": {"subject_id": UUID4, "ip": False, "wp_user_id": False}},
                    {"type": "object", "required": ["ip"], "properties": {
                        "ip": {"type": "string", "anyOf": [{"format": "ipv4"},
                                                           {"format": "ipv6"}]},
                        "unattributed": {
                            "type": "boolean", "default": False, "description":
                            "also erase older records without an IP fingerprint stored"
                            " truncated to this address's /24 or /48"},
                        "subject_id": False, "wp_user_id": False}},
                    {"type": "object", "required": ["wp_user_id"], "properties": {
                        "wp_user_id": WP_USER_ID, "subject_id": False, "ip": False}}]}}}},
            "responses": {"200": _json("How many records were erased", {
                "type": "object", "required": ["erased"],
                "properties": {"erased": {"type": "integer", "minimum": 0},
                               "unattributed": {"type": "integer", "minimum": 0, "description":
                                                "(ip) older records left: stored truncated, "
                                                "without a fingerprint"}}}),
                **TOO_LARGE,
                "422": _err("Not a JSON object (`invalid_json`), or not exactly one valid "
                            "subject_id, ip or wp_user_id, or `unattributed` not a boolean "
                            "(`invalid_payload` with `field`)"),
                **AUTH_ERRORS, **UNAVAILABLE}}},
        "/v1/purge": {"post": {
            "summary": "Apply a retention: tombstone up to 5,000 records received more than"
                       " `days` days ago (oldest first); repeat while `more` is true",
            "security": ADMIN,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["days"], "properties": {
                    "days": {"type": "integer", "minimum": 1, "maximum": 36500}}}}}},
            "responses": {"200": _json("Purged", {"type": "object", "required": [
                "erased", "before", "more"], "properties": {
                "erased": {"type": "integer"}, "before": {"type": "string"},
                "more": {"type": "boolean"}}}),
                **TOO_LARGE,
                "422": _err("Not a JSON object (`invalid_json`), or `days` not an integer"
                            " from 1 to 36500 (`invalid_payload` with `field`)"),
                **AUTH_ERRORS, **UNAVAILABLE}}},
        "/v1/stats": {"get": {
            "summary": "Counts and opt-in rates", "security": ADMIN,
            "parameters": [
                _q("from", DATE, "First day (UTC)"),
                _q("to", DATE, "Last day (UTC)"),
                _q("group_by", _enum("day", "country", "category", "method", default="day"),
                   "Grouping")],
            "responses": {"200": _json("Groups", {"type": "object", "properties": {
                "group_by": {"type": "string"}, "from": {"type": ["string", "null"]},
                "to": {"type": ["string", "null"]}, "groups": {"type": "array"}}}),
                **BAD_PARAMETER, **AUTH_ERRORS, **UNAVAILABLE}}},
        "/v1/status": {"get": {
            "summary": "What Test connection checks: site origins, screenshot workers seen,"
                       " the screenshot queue and the ledger's backlog",
            "security": ADMIN,
            "responses": {"200": _json("Status", {"type": "object", "required": [
                "version", "time", "site_origins", "worker_alive", "workers",
                "screenshot_queue", "unsealed", "ledger_key_derived", "anchor_file",
                "retention_days"], "properties": {
                "version": {"type": "string"}, "time": {"type": "string"},
                "site_origins": {"type": "array", "items": {"type": "string"}},
                "worker_alive": {"type": "boolean", "description":
                                 "A worker wrote its heartbeat within the last 60 s"},
                "workers": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "host": {"type": "string"},
                    "alive": {"type": "boolean"}, "started_at": {"type": "string"},
                    "seen_at": {"type": "string"}, "seen_seconds_ago": {"type": "number"},
                    "renders": {"type": "integer"}}}},
                "screenshot_queue": {"type": "integer"}, "unsealed": {"type": "integer"},
                "ledger_key_derived": {"type": "boolean"}, "anchor_file": {"type": "boolean"},
                "retention_days": {"type": "integer"}}}),
                **AUTH_ERRORS, **UNAVAILABLE}}},
        "/v1/integrity": {"get": {
            "summary": "Seal pending records, then verify incrementally from the newest keyed"
                       " checkpoint, within about a second (docs/ledger.md, Checkpoints)",
            "security": ADMIN,
            "parameters": [
                _q("full", _enum("0", "1", default="0"),
                   "1: verify everything from the genesis in this request (ledgers of at most"
                   " 20,000 sealed records; 409 above, run `sidecar verify`)")],
            "responses": {"200": _json("Verification report", {"type": "object", "properties": {
                "ok": {"type": "boolean", "description": "No problem in what was checked"},
                "records": {"type": "integer"},
                "sealed": {"type": "integer"}, "unsealed": {"type": "integer"},
                "head": {"type": "string", "description": "The keyed chain's head (hex)"},
                "key_ids": {"type": "array", "items": {"type": "string"}},
                "ledger_key_derived": {"type": "boolean", "description":
                                       "True when SP_LEDGER_KEYS is unset"},
                "anchors": {"type": "object", "properties": {
                    "files": {"type": "array", "items": {"type": "string"}},
                    "checked": {"type": "integer"}, "last_pos": {"type": "integer"}}},
                "warnings": {"type": "array", "items": {"type": "string"}},
                "problems": {"type": "array"},
                "checkpoint": {"type": ["object", "null"], "description":
                               "Where verification started: id, pos, kind, verified_at"},
                "verified_from": {"type": "integer"}, "verified_through": {"type": "integer"},
                "chain_end": {"type": "integer"},
                "complete": {"type": "boolean", "description":
                             "False when the time budget ran out before chain_end"},
                "recheck": {"type": ["object", "null"], "description":
                            "The rolling re-check of older positions: from_pos, through_pos,"
                            " at, cycle_started_at, last_cycle_completed_at, problems"},
                "new_checkpoint": {"type": ["integer", "null"]}}}),
                "409": _err("`too_large_for_request`: ?full=1 on a ledger above 20,000 sealed"
                            " records"),
                **BAD_PARAMETER, **AUTH_ERRORS, **UNAVAILABLE}}},
        "/v1/integrity/anchors": {"get": {
            "summary": "This host's ledger anchors (one JSON line per seal), to keep outside"
                       " the database and check with `sidecar verify --anchors FILE`",
            "security": ADMIN,
            "responses": {"200": {"description": "Anchor lines: seal, pos, head, key_id, at",
                                  "content": {"application/x-ndjson": {
                                      "schema": {"type": "string"}}}},
                          "404": _err("No anchor file (`no_anchor_file`)"), **AUTH_ERRORS}}},
        "/v1/scans": {
            "post": {
                "summary": "Queue a site scan: each page in three states (before consent, after"
                           " Reject all, after Accept all), as an anonymous visitor",
                "security": ADMIN, "operationId": "startScan",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": False, "properties": {
                        "urls": {"type": ["array", "null"], "minItems": 1, "maxItems": 500,
                                 "items": {
                            "type": "string", "format": "uri", "maxLength": 2048},
                            "description": "Pages to scan, on SP_SITE_ORIGINS; left out (or"
                                           " null): the"
                                           " site's own page list (the plugin's scan-pages"
                                           " route), or its front page when that fails"},
                        "max_pages": {"type": "integer", "minimum": 1, "maximum": 500,
                                      "default": 50},
                        "rules": {"type": "array", "maxItems": 2000, "description":
                                  "The site rules (the plugin's option), kept with the"
                                  " report", "items": SCAN_RULE}}}}}},
                "responses": {
                    "202": {**_json("Queued", {"type": "object", "required": ["id", "status"],
                                               "properties": {"id": UUID, "status": {
                                                   "const": "queued"}}}),
                            "links": {"GetScan": {"operationId": "getScan", "parameters": {
                                "scan_id": "$response.body#/id"}}}},
                    "413": _err("Body larger than 1 MiB (`payload_too_large`)"),
                    "422": _err("Not a JSON object (`invalid_json`), or a bad field "
                                "(`invalid_payload` with `field`: a URL off SP_SITE_ORIGINS, "
                                "more URLs than max_pages, max_pages not 1 to 500, a malformed "
                                "rule)"),
                    **AUTH_ERRORS, **UNAVAILABLE}},
            "get": {
                "summary": "Scans, newest first (summaries; reports are kept for ever)",
                "security": ADMIN, "operationId": "listScans",
                "parameters": [
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 100,
                                 "default": 20}, "Page size"),
                    _q("cursor", {"type": "string", "pattern": "^[0-9]{1,20}$"},
                       "`next_cursor` of the previous page"),
                    _q("ruleset_version", {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                       "Only the finished scans whose report has this rule-set version (a "
                       "consent's `rules_version`): the scans that tested those rules")],
                "responses": {"200": _json("A page", {"type": "object", "properties": {
                    "items": {"type": "array", "items": SCAN_SUMMARY},
                    "next_cursor": {"type": ["string", "null"]}}}),
                    **BAD_PARAMETER, **AUTH_ERRORS, **UNAVAILABLE}}},
        "/v1/scans/{scan_id}": {"get": {
            "summary": "One scan: its report once done (CONTRACT §8), before that its progress"
                       " and the pages visited so far",
            "security": ADMIN, "operationId": "getScan",
            "parameters": [{"name": "scan_id", "in": "path", "required": True, "schema": UUID,
                            "description": "A scan's `id` (anything else is a 404)"}],
            "responses": {"200": _json("The scan", SCAN_REPORT),
                          "404": _err("No such scan (`not_found`)"), **AUTH_ERRORS,
                          **UNAVAILABLE}}},
        "/healthz": {"get": {"summary": "Liveness (no database access)", "responses": {
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
                "200": {"description": "Prometheus text format", "content": {
                    "text/plain": {"schema": {"type": "string"}}}},
                **AUTH_ERRORS}}},
        "/openapi.json": {"get": {"summary": "This document", "responses": {
            "200": _json("OpenAPI 3.1", {"type": "object"})}}},
    },
}


@bp.get("/openapi.json")
def openapi():
    return jsonify(SPEC)
