"""Admin JSON API behind bearer tokens (docs/api.md §4.2)."""

from __future__ import annotations

import csv
import hmac
import importlib
import io
import ipaddress
import json
import re
import uuid
from datetime import date, datetime, time, timedelta
from time import monotonic

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context

from . import erasure, jobs, ledger, records, renders, ruleset, scanrun, scans
from . import stats as statistics
from .clock import rfc3339, utcnow
from .db import get_db, hand_back, tables
from .errors import ApiError
from .openapi import MAX_WP_USER_ID
from .validation import ACTIONS, CATEGORIES, METHODS, UUID4

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


# Query parameters (issue 10): one rule for every admin endpoint, the one sidecar/openapi.py
# states. A parameter left out does not filter; one given empty (`?country=`) or malformed is
# a 400 `invalid_parameter` naming it, never silently ignored: an auditor who asked for a
# filter must not get the unfiltered set back.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGITS = re.compile(r"[0-9]{1,20}")
_COUNTRY = re.compile(r"[A-Za-z]{2}")



def _bad(name: str, message: str) -> ApiError:
    return ApiError(400, "invalid_parameter", f"{name}: {message}")


def _arg(name: str) -> str | None:
    """Query parameter `name`: None when left out; 400 when given but empty."""
    value = request.args.get(name)
    if value == "":
        raise _bad(name, "must not be empty (leave it out not to filter)")
    return value


def _choice(name: str, allowed, default: str | None = None) -> str | None:
    value = _arg(name)
    if value is None:
        return default
    if value not in allowed:
        raise _bad(name, f"one of {', '.join(allowed)}")
    return value


def _int(name: str, low: int, high: int) -> int | None:
    value = _arg(name)
    if value is None:
        return None
    if not _DIGITS.fullmatch(value) or not low <= int(value) <= high:
        raise _bad(name, f"an integer from {low} to {high}")
    return int(value)


def _date(name: str) -> date | None:
    value = _arg(name)
    if value is None:
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise _bad(name, "must be a date (YYYY-MM-DD)") from None


def list_filters() -> dict:
    """Validated filters of the query string; ApiError 400 naming a bad one."""
    f = {}
    subject = _arg("subject_id")
    if subject is not None:
        if not UUID4.fullmatch(subject.lower()):
            raise _bad("subject_id", "must be a UUIDv4")
        f["subject_id"] = subject.lower()
    country = _arg("country")
    if country is not None:
        if not _COUNTRY.fullmatch(country):
            raise _bad("country", "must be an ISO 3166 code")
        f["country"] = country.upper()
    for name, allowed in (("method", METHODS), ("action", ACTIONS)):
        if (value := _choice(name, allowed)) is not None:
            f[name] = value
    if (page_url := _arg("page_url")) is not None:
        f["page_url"] = page_url
    if (user := _int("wp_user_id", 1, MAX_WP_USER_ID)) is not None:
        f["wp_user_id"] = user
    f["from"], f["to"] = _date_range()
    return f


def _date_range() -> tuple[datetime | None, datetime | None]:
    """`from` and `to` of the query string as [start, end): `to` includes its whole day."""
    start, end = _date("from"), _date("to")
    return (datetime.combine(start, time.min) if start else None,
            datetime.combine(end + timedelta(days=1), time.min)
            if end and end < date.max else None)


@bp.get("/v1/consents")
def list_consents():
    limit = _int("limit", 1, 500) or 50
    cursor = _arg("cursor")
    if cursor is not None:
        try:
            cursor = records.decode_cursor(cursor)
        except ValueError:
            raise _bad("cursor", "not a cursor from this API") from None
    items, next_seq = records.list_consents(get_db(), tables(), list_filters(), limit,
                                             cursor)
    return jsonify({"items": [records.public(r) for r in items],
                    "next_cursor": records.encode_cursor(next_seq) if next_seq else None})


def _record_or_error(record_id: str) -> dict:
    """The record of a path's id (the route's converter took only UUIDs, in lower case)."""
    rec = records.get(get_db(), tables(), record_id) if UUID4.fullmatch(record_id) else None
    if rec is None:
        raise ApiError(404, "not_found", "No such consent record")
    if rec["erased"]:
        raise ApiError(410, "erased", "This consent record was erased")
    return rec


@bp.get("/v1/consents/<uuid:record_id>")
def get_consent(record_id: uuid.UUID):
    return jsonify(records.public(_record_or_error(str(record_id))))


@bp.get("/v1/consents/<uuid:record_id>/screenshot")
def get_screenshot(record_id: uuid.UUID):
    """The proof image (`?size=thumb`: 320 px wide). Images never change once stored, so
    they are cacheable by content hash (ETag; 304 on If-None-Match)."""
    size = _choice("size", ("full", "thumb"), "full")
    record_id = str(record_id)
    rec = _record_or_error(record_id)
    shot = records.screenshot_of(get_db(), tables(), record_id, thumb=size == "thumb")
    if shot is None:
        raise ApiError(404, "screenshot_not_available",
                       f"No screenshot yet (status {rec['screenshot']['status']})")
    resp = Response(shot["image"], mimetype=shot["mime"])
    resp.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    resp.set_etag(shot["sha256"])
    return resp.make_conditional(request)


@bp.delete("/v1/consents/<uuid:record_id>")
def delete_consent(record_id: uuid.UUID):
    """Erase one record (tombstone: personal fields and screenshot gone, hash kept)."""
    record_id = str(record_id)
    _record_or_error(record_id)
    erasure.erase_one(get_db(), tables(), record_id)
    current_app.logger.info("erased", extra={"fields": {"record": record_id, "erased": 1}})
    return "", 204


@bp.post("/v1/erasures")
def erasures():
    """Erase every record of a subject, an IP or a WordPress user:
    `{"subject_id": …}`, `{"ip": …}` or `{"wp_user_id": …}` → `{"erased": n}`.

    An IP matches exactly that address (its keyed fingerprint), never its whole /24 or /48;
    the answer adds `unattributed`: older records without a fingerprint stored truncated to
    the address's network, which may or may not be this visitor's. `"unattributed": true`
    in the body erases those too."""
    from .api import json_body
    body = json_body()
    keys = [k for k in ("subject_id", "ip", "wp_user_id") if k in body]
    if len(keys) != 1:
        raise ApiError(422, "invalid_payload",
                       "give exactly one of subject_id, ip or wp_user_id", field="subject_id")
    key, value = keys[0], body[keys[0]]
    also = body.get("unattributed", False)  # meaningful with ip only
    if key == "ip" and not isinstance(also, bool):
        raise ApiError(422, "invalid_payload", "unattributed: true or false",
                       field="unattributed")
    conn = get_db()
    if key == "subject_id":
        if not isinstance(value, str) or not UUID4.fullmatch(value.lower()):
            raise ApiError(422, "invalid_payload", "subject_id: must be a UUIDv4", field=key)
        n = erasure.erase_subject(conn, tables(), value.lower())
    elif key == "ip":
        try:
            addr = ipaddress.ip_address(value if isinstance(value, str) else "")
            if getattr(addr, "scope_id", None):  # fe80::1%eth0: a zone is no visitor's IP
                raise ValueError(value)
            ip = str(addr)
        except ValueError:
            raise ApiError(422, "invalid_payload", "ip: must be an IPv4 or IPv6 address",
                           field=key) from None
        n, left = erasure.erase_ip(conn, tables(), ip, current_app.config["LEDGER_KEYS"],
                                   also)
        current_app.logger.info("erasure", extra={"fields": {
            "by": key, "erased": n, "unattributed": left}})
        return jsonify({"erased": n, "unattributed": left})
    else:
        if isinstance(value, float) and value.is_integer():  # 7.0: an integer in JSON
            value = int(value)
        if (not isinstance(value, int) or isinstance(value, bool)
                or not 1 <= value <= MAX_WP_USER_ID):
            raise ApiError(422, "invalid_payload", "wp_user_id: must be a positive integer",
                           field=key)
        n = erasure.erase_wp_user(conn, tables(), value)
    current_app.logger.info("erasure", extra={"fields": {"by": key, "erased": n}})
    return jsonify({"erased": n})


# Records one POST /v1/purge tombstones at most: the caller repeats while `more` is true.
PURGE_LIMIT = 5000
MAX_RETENTION_DAYS = 36500


@bp.post("/v1/purge")
def purge():
    """Apply a retention: `{"days": n}` tombstones (as erasure does) up to PURGE_LIMIT records
    received more than n days ago, oldest first → `{"erased", "before", "more"}`. The plugin's
    daily cron sends its "Record retention (days)" setting here."""
    from .api import json_body
    body = json_body()
    days = body.get("days")
    if isinstance(days, float) and days.is_integer():
        days = int(days)
    if not isinstance(days, int) or isinstance(days, bool) or \
            not 1 <= days <= MAX_RETENTION_DAYS:
        raise ApiError(422, "invalid_payload",
                       f"days: must be an integer from 1 to {MAX_RETENTION_DAYS}", field="days")
    cutoff = utcnow() - timedelta(days=days)
    conn = get_db()
    n = erasure.purge_older_than(conn, tables(), cutoff, limit=PURGE_LIMIT)
    more = erasure.any_older_than(conn, tables(), cutoff)
    current_app.logger.info("purge", extra={"fields": {"days": days, "erased": n,
                                                       "more": more}})
    return jsonify({"erased": n, "before": rfc3339(cutoff), "more": more})


CSV_FIELDS = ("id", "event_id", "subject_id", "action", "method", *CATEGORIES,
              "page_url", "policy_version", "banner_version",
              "language", "gpc", "dnt", "ip", "country", "region", "city", "user_agent",
              "wp_user_id", "occurred_at", "received_at", "screenshot_status", "hash",
              "rules_version")


def _csv_row(rec: dict) -> list:
    flat = {**rec, **rec["categories"], **rec["signals"],
            "screenshot_status": rec["screenshot"]["status"]}
    row = []
    for f in CSV_FIELDS:
        v = flat[f]
        v = "" if v is None else ("true" if v is True else "false" if v is False else str(v))
        # Spreadsheets run cells starting with these as formulas (CSV injection).
        row.append("'" + v if v[:1] in ("=", "+", "-", "@", "\t", "\r") else v)
    return row


@bp.get("/v1/consents/export")
def export():
    """All (filtered) records, streamed as CSV or NDJSON with flat memory."""
    fmt = _choice("format", ("csv", "ndjson"), "csv")
    filters = list_filters()
    cfg = current_app.config
    rows = records.stream_consents(cfg["SP_DATABASE_URL"], tables(), filters)

    def generate():
        if fmt == "ndjson":
            for rec in rows:
                yield json.dumps(records.public(rec), ensure_ascii=False) + "\n"
            return
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(CSV_FIELDS)
        for i, rec in enumerate(rows):
            writer.writerow(_csv_row(rec))
            if i % 200 == 199:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    mime = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
    resp = Response(stream_with_context(generate()), mimetype=mime)
    resp.headers["Content-Disposition"] = f'attachment; filename="consents-{stamp}.{fmt}"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/v1/stats")
def stats():
    group_by = _choice("group_by", ("day", "country", "category", "method"), "day")
    groups = statistics.stats(get_db(), tables(), group_by, *_date_range())
    return jsonify({"group_by": group_by, "from": request.args.get("from"),
                    "to": request.args.get("to"), "groups": groups})


@bp.get("/v1/status")
def status():
    """What the plugin's Test connection checks: the site origins this sidecar screenshots,
    whether a screenshot worker is alive, the queue and the ledger's backlog."""
    from .api import _version
    cfg, conn, t = current_app.config, get_db(), tables()
    seen = jobs.workers(conn, t)
    return jsonify({
        "version": _version(), "time": rfc3339(utcnow()),
        "site_origins": cfg["SITE_ORIGINS"],
        "worker_alive": any(w["alive"] for w in seen),
        "workers": [{"name": w["name"], "host": w["host"], "alive": w["alive"],
                     "started_at": rfc3339(w["started_at"]), "seen_at": rfc3339(w["seen_at"]),
                     "seen_seconds_ago": w["seen_seconds_ago"], "renders": w["renders"]}
                    for w in seen],
        "screenshot_queue": jobs.queue_depth(conn, t),
        "unsealed": records.unsealed_count(conn, t),
        "ledger_key_derived": cfg["LEDGER_KEYS_DERIVED"],
        "anchor_file": bool(cfg["ANCHOR_FILE"]),
        "retention_days": cfg["SP_RETENTION_DAYS"]})


@bp.get("/v1/integrity")
def integrity():
    """Seal what is pending, then verify incrementally within about a second: from the
    newest keyed checkpoint to the end of the chain, plus the next slice of the rolling
    re-check of older records (docs/ledger.md, "Checkpoints"). The answer says exactly what
    it checked. `?full=1` verifies everything from the genesis, on ledgers of at most
    FULL_REQUEST_MAX positions (409 above: that is `sidecar verify`'s job)."""
    cfg = current_app.config
    full = _choice("full", ("0", "1"), "0") == "1"
    began = monotonic()
    jobs.seal(get_db(), cfg)
    if full:
        end = ledger.sealed_end(get_db(), cfg["SP_TABLE_PREFIX"])
        if end > ledger.FULL_REQUEST_MAX:
            raise ApiError(409, "too_large_for_request",
                           f"The ledger holds {end} sealed records; a full verification above"
                           f" {ledger.FULL_REQUEST_MAX} runs as `sidecar verify` (with"
                           " progress), not in a request")
        report = ledger.full_verify(cfg)
        report.update(checkpoint=None, verified_from=0, verified_through=report["through_pos"],
                      chain_end=report["end"], recheck=None)
        for k in ("from_pos", "through_pos", "end", "walked", "chain_records"):
            report.pop(k)
    else:
        # A second connection of the pool streams the seals beside the chain.
        pool = current_app.extensions["sp_pool"]
        second = pool.get()
        try:
            report = ledger.advance_checkpoint(
                cfg, get_db(), budget=ledger.REQUEST_BUDGET, recheck=ledger.REQUEST_RECHECK,
                deadline=began + ledger.REQUEST_SECONDS,
                recheck_deadline=began + ledger.REQUEST_SECONDS
                + ledger.REQUEST_RECHECK_SECONDS, second=second)
        except BaseException:
            hand_back(pool, second, broken=True)
            raise
        hand_back(pool, second)
    report["ledger_key_derived"] = cfg["LEDGER_KEYS_DERIVED"]
    if cfg["LEDGER_KEYS_DERIVED"]:
        report["warnings"].insert(0, ledger.DERIVED_KEY_WARNING)
    if not cfg["ANCHOR_FILE"]:
        report["warnings"].insert(0, ledger.NO_ANCHOR_WARNING)
    return jsonify(report)


@bp.get("/v1/integrity/anchors")
def integrity_anchors():
    """This host's anchor file (one JSON line per seal), for `sidecar verify --anchors`."""
    path = current_app.config["ANCHOR_FILE"]
    if not path:
        raise ApiError(404, "no_anchor_file", "SP_ANCHOR_FILE is off on this sidecar")
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the generator
    except FileNotFoundError:
        raise ApiError(404, "no_anchor_file", "No seal has been anchored on this host yet") \
            from None

    def generate():
        with f:
            while chunk := f.read(65536):
                yield chunk

    resp = Response(generate(), mimetype="application/x-ndjson")
    resp.headers["Content-Disposition"] = \
        f'attachment; filename="anchors-{utcnow().strftime("%Y%m%dT%H%M%SZ")}.jsonl"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


# ---- site scans (issue 13, CONTRACT §5 and §8) ------------------------------------------
SCAN_BODY_BYTES = 1024 * 1024  # a request may list up to 500 URLs and the site's rules
SCAN_URL_MAX = 2048
RULE_KINDS = ("cookie", "storage", "request")
RULE_CATEGORIES = ("necessary", "preferences", "statistics", "marketing")
MAX_RULES = 2000


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid_payload", f"{field}: {message}", field=field)


def scan_request(body: dict, origins: list[str]) -> tuple[list[str] | None, int, list]:
    """(urls or None, max_pages, rules) of a `POST /v1/scans` body; ApiError 422 naming the
    first bad field."""
    unknown = sorted(set(body) - {"urls", "max_pages", "rules"})
    if unknown:
        raise _invalid(unknown[0], "unknown field (allowed: urls, max_pages, rules)")
    max_pages = body.get("max_pages", scanrun.DEFAULT_MAX_PAGES)
    if type(max_pages) is not int or not 1 <= max_pages <= scanrun.MAX_PAGES:
        raise _invalid("max_pages", f"an integer from 1 to {scanrun.MAX_PAGES}")
    urls = body.get("urls")
    if urls is not None:
        if not isinstance(urls, list) or not urls:
            raise _invalid("urls", "a non-empty list of page URLs (leave it out to scan the"
                                   " pages the site lists)")
        kept = []
        for i, url in enumerate(urls):
            if not isinstance(url, str) or not url or len(url) > SCAN_URL_MAX:
                raise _invalid(f"urls[{i}]", f"a URL of at most {SCAN_URL_MAX} characters")
            if not renders.may_load(url, origins):
                raise _invalid(f"urls[{i}]", "not a page on SP_SITE_ORIGINS"
                                             f" ({', '.join(origins)})")
            if url not in kept:
                kept.append(url)
        if len(kept) > max_pages:
            raise _invalid("urls", f"{len(kept)} URLs, more than max_pages ({max_pages})")
        urls = kept
    rules = body.get("rules", [])
    if not isinstance(rules, list) or len(rules) > MAX_RULES:
        raise _invalid("rules", f"a list of at most {MAX_RULES} site rules")
    for i, rule in enumerate(rules):
        where = f"rules[{i}]"
        if not isinstance(rule, dict):
            raise _invalid(where, "an object {kind, pattern, category[, service]}")
        extra = sorted(set(rule) - {"kind", "pattern", "category", "service"})
        if extra:
            raise _invalid(f"{where}.{extra[0]}", "unknown field")
        if rule.get("kind") not in RULE_KINDS:
            raise _invalid(f"{where}.kind", f"one of {', '.join(RULE_KINDS)}")
        pattern = rule.get("pattern")
        if not isinstance(pattern, str) or not pattern.strip() or len(pattern) > 255:
            raise _invalid(f"{where}.pattern", "a non-empty string of at most 255 characters")
        if rule.get("category") not in RULE_CATEGORIES:
            raise _invalid(f"{where}.category", f"one of {', '.join(RULE_CATEGORIES)}")
        service = rule.get("service")
        if service is not None and (not isinstance(service, str) or len(service) > 100):
            raise _invalid(f"{where}.service", "a string of at most 100 characters, or null")
    _classifier_takes(rules)
    return urls, max_pages, rules


def _classifier_takes(rules: list) -> None:
    """Refuse now (422) the rules the report's classifier would refuse at the end of the scan
    (sidecar.classify.validate_rules: e.g. a request rule that is no host, a lone `*`)."""
    try:
        classify = importlib.import_module("sidecar.classify")
    except ImportError:  # pragma: no cover - without the classifier, the checks above
        return
    try:
        classify.validate_rules(rules)
    except classify.RuleError as e:
        m = re.match(r"rules(\[\d+\](\.\w+)?)?", str(e))
        raise ApiError(422, "invalid_payload", str(e),
                       field=m.group(0) if m else "rules") from None


@bp.post("/v1/scans")
def start_scan():
    request.max_content_length = SCAN_BODY_BYTES
    from .api import json_body
    urls, max_pages, rules = scan_request(json_body(), current_app.config["SITE_ORIGINS"])
    scan_id = scans.enqueue(get_db(), tables(), urls, max_pages, rules)
    resp = jsonify({"id": scan_id, "status": "queued"})
    resp.status_code = 202
    resp.headers["Location"] = f"/v1/scans/{scan_id}"
    return resp


@bp.get("/v1/scans")
def list_scans():
    limit = _int("limit", 1, 100) or 20
    cursor = _arg("cursor")
    if cursor is not None and not _DIGITS.fullmatch(cursor):
        raise _bad("cursor", "not a cursor from this API")
    version = _arg("ruleset_version")
    if version is not None and not ruleset.VERSION_RE.fullmatch(version):
        raise _bad("ruleset_version", "must be a rule-set version: 64 lower-case hex digits")
    rows, next_seq = scans.list_scans(get_db(), tables(), limit,
                                      int(cursor) if cursor else None, version)
    items = []
    for r in rows:
        item = scans.summary(r)
        item.update(items=r["n_items"], violations=r["n_violations"])
        items.append(item)
    return jsonify({"items": items, "next_cursor": str(next_seq) if next_seq else None})


@bp.get("/v1/scans/<uuid:scan_id>")
def get_scan(scan_id: uuid.UUID):
    """The scan's report once done (as stored, with its hash); before that, its progress and
    the pages visited so far."""
    row = scans.get(get_db(), tables(), str(scan_id))
    if row is None:
        raise ApiError(404, "not_found", "No such scan")
    head = scans.summary(row)
    if row["report"] is not None:
        return jsonify({**row["report"], **{k: v for k, v in head.items()
                                             if k not in row["report"]}})
    pages = [{"url": p["url"], "states": list(p["states"])} for p in row["observations"] or []]
    return jsonify({**head, "pages": pages, "items": [], "violations": [],
                    "rules": row["rules"], "requested": {"urls": row["urls"],
                                                        "max_pages": row["max_pages"]}})
