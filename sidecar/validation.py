"""Strict validation of a consent payload (docs/api.md §2). Every problem is a 422 naming
the field; nothing is stored unless everything is valid."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime

from .errors import ApiError
from .urls import page_url_error

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
BCP47 = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$")
ACTIONS = ("grant", "update", "withdraw")
METHODS = ("accept_all", "reject_all", "custom", "withdraw", "gpc", "dnt")
# The consent categories, the always-granted one first: the one list the sidecar has.
CATEGORIES = ("necessary", "preferences", "statistics", "marketing")
SIGNALS = ("gpc", "dnt")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What the database's DATETIME and the RFC 3339 rendering hold (0001 or 9999 with an offset
# would overflow on the way to UTC).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
FIELDS = ("event_id", "subject_id", "action", "method", "categories", "page_url",
          "policy_version", "banner_version", "language", "signals", "ip", "user_agent",
          "wp_user_id", "occurred_at")
# Fields a payload may leave out: the rule-set version the plugin signs in (issue 14,
# sidecar/ruleset.py); plugins from before it send none, and their consents store NULL.
OPTIONAL_FIELDS = ("rules_version",)
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid_payload", f"{field}: {message}", field=field)


def _string(p: dict, field: str, max_len: int, min_len: int = 1) -> str:
    v = p[field]
    if not isinstance(v, str):
        raise invalid(field, "must be a string")
    if not min_len <= len(v) <= max_len:
        raise invalid(field, f"must be {min_len}–{max_len} characters")
    if CONTROL.search(v):
        raise invalid(field, "must not contain control characters")
    if not v.isascii():
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud800" in the JSON)
            raise invalid(field, "must be valid Unicode text") from None
    return v


def _uuid4(p: dict, field: str) -> str:
    v = _string(p, field, 36).lower()
    if not UUID4.match(v):
        raise invalid(field, "must be a UUIDv4")
    return v


def _bool_map(p: dict, field: str, keys: tuple[str, ...]) -> dict:
    v = p[field]
    if not isinstance(v, dict):
        raise invalid(field, "must be an object")
    if set(v) != set(keys):
        raise invalid(field, f"must have exactly the keys {', '.join(keys)}")
    if not all(isinstance(v[k], bool) for k in keys):
        raise invalid(field, "values must be true or false")
    return {k: v[k] for k in keys}


def validate_consent(p) -> dict:
    """Return the payload normalised (lower-case UUIDs, `occurred_at` as aware UTC datetime);
    raise ApiError 422 `invalid_payload` naming the first bad field."""
    if not isinstance(p, dict):
        raise ApiError(422, "invalid_payload", "the payload must be a JSON object")
    for field in FIELDS:
        if field not in p:
            raise invalid(field, "is required")
    extra = sorted(set(p) - set(FIELDS) - set(OPTIONAL_FIELDS))
    if extra:
        raise invalid(extra[0], "is not a known field")
    out = {"event_id": _uuid4(p, "event_id"), "subject_id": _uuid4(p, "subject_id")}
    for field, allowed in (("action", ACTIONS), ("method", METHODS)):
        if p[field] not in allowed:
            raise invalid(field, f"must be one of {', '.join(allowed)}")
        out[field] = p[field]
    cats = _bool_map(p, "categories", CATEGORIES)
    if not cats["necessary"]:
        raise invalid("categories", "necessary is always true")
    out["categories"] = cats
    url = p["page_url"]
    why = page_url_error(url)  # the one rule the plugin applies too (sidecar/urls.py)
    if why:
        raise invalid("page_url", why)
    out["page_url"] = url
    out["policy_version"] = _string(p, "policy_version", 64)
    out["banner_version"] = _string(p, "banner_version", 64)
    lang = _string(p, "language", 35)
    if not BCP47.match(lang):
        raise invalid("language", "must be a BCP 47 language tag")
    out["language"] = lang
    out["signals"] = _bool_map(p, "signals", SIGNALS)
    ip = _string(p, "ip", 45)
    if "%" in ip:  # a zone id ("fe80::1%eth0") names an interface of the plugin's host
        raise invalid("ip", "must be an IPv4 or IPv6 address without a zone id")
    try:
        out["ip"] = str(ipaddress.ip_address(ip))
    except ValueError:
        raise invalid("ip", "must be an IPv4 or IPv6 address") from None
    out["user_agent"] = _string(p, "user_agent", 512, min_len=0)
    uid = p["wp_user_id"]
    if not isinstance(uid, int) or isinstance(uid, bool) or not 0 <= uid < 2**63:
        raise invalid("wp_user_id", "must be a non-negative integer")
    out["wp_user_id"] = uid
    ts = _string(p, "occurred_at", 40)
    if not RFC3339.match(ts):
        raise invalid("occurred_at", "must be an RFC 3339 time")
    try:
        out["occurred_at"] = datetime.fromisoformat(ts.upper().replace("Z", "+00:00"))\
            .astimezone(UTC)
    except (ValueError, OverflowError):
        raise invalid("occurred_at", "is not a valid date and time") from None
    if not EARLIEST <= out["occurred_at"] < LATEST:
        raise invalid("occurred_at", "must be between 1970 and 9999 (UTC)")
    out["rules_version"] = None
    if p.get("rules_version") is not None:  # null is the same as leaving it out
        rv = p["rules_version"]
        if not isinstance(rv, str) or not HEX64.fullmatch(rv.lower()):
            raise invalid("rules_version", "must be a rule-set version: 64 hex digits")
        out["rules_version"] = rv.lower()
    if out["action"] == "withdraw" and any(v for k, v in cats.items() if k != "necessary"):
        raise invalid("categories", "a withdrawal grants no optional category")
    return out
