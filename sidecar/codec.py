"""The stored form of a consent record and its logical form, in one place (migration 007,
docs/data-model.md): what the API shows, the exports print and the ledger hashes is the
logical form (UUIDs and hashes as lower-case text, categories and signals as JSON objects);
the database keeps a compact form (16-byte UUIDs, 32-byte hashes, bit sets). Every storage
module converts through these functions only, so the hashes of records written before 007
still verify: they are defined over the logical values, never over the stored bytes.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import uuid

from .validation import CATEGORIES, SIGNALS

# ---- UUIDs: BINARY(16), the 16 bytes of the UUID -------------------------------------------


def uuid_to_db(value: str) -> bytes:
    """A UUID's text (any case) as its 16 bytes; ValueError if it is not one."""
    return uuid.UUID(value).bytes


def uuid_from_db(value: bytes) -> str:
    """The lower-case hyphenated text of 16 stored bytes (how it was given, lower case)."""
    return str(uuid.UUID(bytes=bytes(value)))


# ---- hashes, digests and salts: the bytes their hex text spells ----------------------------


def hex_to_db(value: str | None) -> bytes | None:
    """`hash`, `personal_digest`, `salt` as bytes; '' and None (rows from before migration
    002 kept no digest; erased rows no salt) as NULL."""
    return bytes.fromhex(value) if value else None


def hex_from_db(value: bytes | None, empty: str | None = "") -> str | None:
    """The lower-case hex text of stored bytes; NULL as `empty`."""
    return bytes(value).hex() if value is not None else empty


# The keyed IP fingerprint (ips.py) is HMAC-SHA256; the first 128 bits are kept: enough to
# find one address among any number of visitors, and it stays keyed.
FP_BYTES = 16


def fp_to_db(fingerprint: str | None) -> bytes | None:
    return bytes.fromhex(fingerprint)[:FP_BYTES] if fingerprint else None


# ---- categories and signals: a bit set in the order validation lists them -----------------
# Validation accepts only the complete boolean map (validation._bool_map), so the bits are
# the whole value: bit i is CATEGORIES[i] (SIGNALS[i]).

CATEGORY_BIT = {k: 1 << i for i, k in enumerate(CATEGORIES)}
SIGNAL_BIT = {k: 1 << i for i, k in enumerate(SIGNALS)}


def _bits(value: dict, bits: dict) -> int:
    if set(value) != set(bits) or not all(isinstance(v, bool) for v in value.values()):
        raise ValueError(f"not a complete boolean map of {', '.join(bits)}: {value!r}")
    return sum(bit for k, bit in bits.items() if value[k])


def categories_to_db(value: dict) -> int:
    return _bits(value, CATEGORY_BIT)


def categories_from_db(value: int) -> dict:
    return {k: bool(value & bit) for k, bit in CATEGORY_BIT.items()}


def signals_to_db(value: dict) -> int:
    return _bits(value, SIGNAL_BIT)


def signals_from_db(value: int) -> dict:
    return {k: bool(value & bit) for k, bit in SIGNAL_BIT.items()}


def category_granted_sql(name: str, column: str = "categories") -> str:
    """SQL true where the stored categories grant `name` (a name of CATEGORIES)."""
    return f"({column} & {CATEGORY_BIT[name]} <> 0)"


# ---- user agents: stored once in sp_user_agents, referenced by a 64-bit id ---------------
# The id of a new user agent is a keyed hash (HMAC-SHA256 under the newest ledger key, top
# bit set), so concurrent ingests agree on it without a round trip, and no one without the
# key can make two strings collide. Migration 007 gave the user agents it found ids below
# 2^63 (an unkeyed hash of their bytes, checked row by row), so the two never meet.
UA_CONTEXT = b"secure-privacy/user-agent/v1\n"


@functools.lru_cache(maxsize=1024)  # pure; a site's visitors bring a few hundred agents
def ua_id(user_agent: str, key: bytes) -> int | None:
    """The sp_user_agents id of `user_agent`; None (no row) for the empty string."""
    if not user_agent:
        return None
    digest = hmac.new(key, UA_CONTEXT + user_agent.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") | 1 << 63


# ---- a row read from the database, in its logical form -------------------------------------

_UUIDS = ("id", "event_id", "subject_id")
_HEXES = ("hash", "personal_digest")


def from_db(row: dict) -> dict:
    """Convert, in place, the stored columns present in `row` to their logical form (the
    values the record hash covers and the API shows); return `row`."""
    for k in _UUIDS:
        if row.get(k) is not None:
            row[k] = uuid_from_db(row[k])
    for k in _HEXES:
        if k in row:
            row[k] = hex_from_db(row[k])
    if "salt" in row:
        row["salt"] = hex_from_db(row["salt"], None)
    if "rules_version" in row:  # NULL: recorded before rule-set versions, or by an old plugin
        row["rules_version"] = hex_from_db(row["rules_version"], None)
    if row.get("categories") is not None:
        row["categories"] = categories_from_db(row["categories"])
    if row.get("signals") is not None:
        row["signals"] = signals_from_db(row["signals"])
    if "user_agent" in row and row["user_agent"] is None and row.get("seq") is not None:
        row["user_agent"] = ""  # no sp_user_agents row: the empty string, or erased
    return row


def user_agent_sql(ua: str = "ua") -> str:
    """The select expression of a record's user agent (joined with `user_agent_join`)."""
    return f"{ua}.user_agent AS user_agent"


def user_agent_join(table: str, consent: str = "c", ua: str = "ua") -> str:
    """The LEFT JOIN that brings a record's user agent from `table` (sp_user_agents)."""
    return f" LEFT JOIN {table} {ua} ON {ua}.id = {consent}.ua_id"
