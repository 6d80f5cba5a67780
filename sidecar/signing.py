"""Signed tokens: one serializer per purpose, each with its own salt, keys oldest first.

`consent` verifies what the plugin sends (docs/api.md §2); `receipt` signs what the sidecar
hands back to the visitor as a statement of what was recorded.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import time
import zlib

from itsdangerous import (
    BadPayload,
    BadSignature,
    SignatureExpired,
    URLSafeTimedSerializer,
)
from itsdangerous.encoding import base64_decode, base64_encode, bytes_to_int, int_to_bytes

from .errors import ApiError

CONSENT_SALT = "secure-privacy/consent/v1"
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
RECEIPT_SALT = "secure-privacy/receipt/v1"


def serializer(keys: list[str], salt: str) -> URLSafeTimedSerializer:
    """The serializer of docs/api.md §2 for `salt`; signs with the last key, accepts any."""
    return _serializer(tuple(keys), salt)


@functools.lru_cache(maxsize=16)
def _serializer(keys: tuple[str, ...], salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        list(keys), salt=salt,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256})


@functools.lru_cache(maxsize=16)
def _derived_keys(keys: tuple[str, ...], salt: str) -> tuple[bytes, ...]:
    """The HMAC keys itsdangerous derives from `keys` for `salt`, newest first."""
    signer = _serializer(keys, salt).make_signer()
    return tuple(signer.derive_key(key) for key in reversed(keys))


_MISS = object()


def _fast_loads(token: str, keys: tuple[str, ...], salt: str, max_age: int, skew: int = 0):
    """The payload of a token that is well-formed, signed by one of `keys`, not older than
    `max_age` seconds and not more than `skew` seconds from the future (the signer's clock
    may run ahead of ours); _MISS for anything else, which
    itsdangerous then judges (and words). The same steps as itsdangerous's
    URLSafeTimedSerializer.loads, without its per-call objects: it accepts nothing
    itsdangerous would not (tests/test_signing.py compares them on valid, tampered and
    malformed tokens)."""
    try:
        signed = token.encode("utf-8")
        value, sig = signed.rsplit(b".", 1)
        sig = base64_decode(sig)
        if not any(hmac.compare_digest(sig, hmac.new(key, value, hashlib.sha256).digest())
                   for key in _derived_keys(keys, salt)):
            return _MISS
        payload, ts = value.rsplit(b".", 1)
        age = int(time.time()) - bytes_to_int(base64_decode(ts))
        if not -skew <= age <= max_age:
            return _MISS
        compressed = payload.startswith(b".")
        data = base64_decode(payload[1:] if compressed else payload)
        return json.loads((zlib.decompress(data) if compressed else data).decode("utf-8"))
    except Exception:  # noqa: BLE001 - malformed: itsdangerous says how
        return _MISS


def load_consent(token: str, keys: list[str], max_age: int, skew: int = 0):
    """Verify a plugin token and return its payload; raise ApiError 401 `expired_token`
    (valid signature, too old or more than `skew` seconds from the future) or
    `invalid_signature` (a bad token), 422 `invalid_payload` (signed with our key, but what
    it carries is not JSON: a broken signer). `skew` (SP_CLOCK_SKEW) is how far the
    plugin's clock may run ahead of the sidecar's."""
    payload = _fast_loads(token, tuple(keys), CONSENT_SALT, max_age, skew)
    if payload is not _MISS:
        return payload
    s = serializer(keys, CONSENT_SALT)
    try:
        return s.loads(token, max_age=max_age)
    except SignatureExpired as e:
        # itsdangerous refuses any token from the future ("age < 0"); it raises this only
        # after the signature checked out, so one within the skew is accepted here, exactly
        # as _fast_loads does.
        ahead = int(e.date_signed.timestamp()) - int(time.time()) if e.date_signed else -1
        if 0 <= ahead <= skew:
            try:
                return s.load_payload(e.payload)
            except BadPayload:
                raise ApiError(422, "invalid_payload", "token: the signed payload is not JSON",
                               field="token") from None
        if ahead > 0:
            raise ApiError(401, "expired_token", "The consent token is signed in the future, "
                           "beyond SP_CLOCK_SKEW: the clocks of WordPress and the sidecar "
                           "disagree") from None
        raise ApiError(401, "expired_token", "The consent token is too old") from None
    except (ValueError, OverflowError, OSError):
        # A timestamp no datetime holds (years beyond 9999): itsdangerous fails building
        # SignatureExpired for it.
        raise ApiError(401, "expired_token", "The consent token's timestamp is out of range") \
            from None
    except BadSignature:
        raise ApiError(401, "invalid_signature", "The consent token's signature is invalid") \
            from None
    except BadPayload:
        raise ApiError(422, "invalid_payload", "token: the signed payload is not JSON",
                       field="token") from None


def sign_receipt(statement: dict, keys: list[str]) -> str:
    """A receipt token for `statement`: what the consent serializer with the receipt salt
    makes, uncompressed (a receipt is small; zlib costs more than it saves), so any
    itsdangerous client — `load_receipt` included — verifies it. Built directly (payload,
    timestamp, HMAC of the newest key), as itsdangerous's TimestampSigner.sign does."""
    value = (base64_encode(_COMPACT.encode(statement).encode("utf-8")) + b"."
             + base64_encode(int_to_bytes(int(time.time()))))
    key = _derived_keys(tuple(keys), RECEIPT_SALT)[0]
    return (value + b"." + base64_encode(hmac.new(key, value, hashlib.sha256).digest())
            ).decode("ascii")


def load_receipt(receipt: str, keys: list[str]) -> dict:
    """Verify a receipt (no age limit: a receipt is proof for as long as keys are kept)."""
    return serializer(keys, RECEIPT_SALT).loads(receipt)
