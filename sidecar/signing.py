"""Signed tokens: one serializer per purpose, each with its own salt, keys oldest first.

`consent` verifies what the plugin sends (CONTRACT §4); `receipt` signs what the sidecar
hands back to the visitor as a statement of what was recorded.
"""

from __future__ import annotations

import functools
import hashlib
import json

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode

from .errors import ApiError

CONSENT_SALT = "secure-privacy/consent/v1"
RECEIPT_SALT = "secure-privacy/receipt/v1"


class _Signer(TimestampSigner):
    """itsdangerous's TimestampSigner, deriving each (key, salt) signing key once per process
    instead of once per token (an HMAC per verification saved; same keys, same tokens)."""

    _derived: dict = {}

    def derive_key(self, secret_key=None):
        secret_key = self.secret_keys[-1] if secret_key is None else secret_key
        cache_key = (secret_key, self.salt, self.key_derivation, self.digest_method)
        key = self._derived.get(cache_key)
        if key is None:
            key = self._derived[cache_key] = super().derive_key(secret_key)
        return key


def serializer(keys: list[str], salt: str) -> URLSafeTimedSerializer:
    """The contract's serializer for `salt`; signs with the last key, accepts any of them."""
    return _serializer(tuple(keys), salt)


@functools.lru_cache(maxsize=16)
def _serializer(keys: tuple[str, ...], salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        list(keys), salt=salt, signer=_Signer,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256})


def load_consent(token: str, keys: list[str], max_age: int):
    """Verify a plugin token and return its payload; raise ApiError 401 `expired_token`
    (valid signature, too old) or `invalid_signature` (anything else)."""
    try:
        return serializer(keys, CONSENT_SALT).loads(token, max_age=max_age)
    except SignatureExpired:
        raise ApiError(401, "expired_token", "The consent token is too old") from None
    except BadSignature:
        raise ApiError(401, "invalid_signature", "The consent token's signature is invalid") \
            from None


def sign_receipt(statement: dict, keys: list[str]) -> str:
    """A receipt token for `statement`: the contract's serializer with the receipt salt,
    uncompressed (a receipt is small; zlib costs more than it saves), so any itsdangerous
    client — `load_receipt` included — verifies it."""
    s = serializer(keys, RECEIPT_SALT)
    body = base64_encode(json.dumps(statement, ensure_ascii=False, separators=(",", ":"))
                         .encode("utf-8"))
    return s.make_signer().sign(body).decode("ascii")


def load_receipt(receipt: str, keys: list[str]) -> dict:
    """Verify a receipt (no age limit: a receipt is proof for as long as keys are kept)."""
    return serializer(keys, RECEIPT_SALT).loads(receipt)
