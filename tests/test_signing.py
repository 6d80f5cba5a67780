"""Tokens cross the PHP/Python border in both directions (docs/api.md §2).

The PHPUnit suite proves PHP reproduces and verifies the shared vectors; here Python checks
the vectors with the sidecar's serializer and verifies tokens the PHP signer makes right now.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import TEST_KEYS, TEST_TOKENS, consent_payload

from sidecar.errors import ApiError
from sidecar.signing import CONSENT_SALT, load_consent

ROOT = Path(__file__).resolve().parent.parent
VECTORS = json.loads((ROOT / "tests/vectors/signing.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["name"])
def test_valid_vectors_verify(vector):
    assert load_consent(vector["token"], VECTORS["keys"], max_age=10**10) == vector["payload"]


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["name"])
def test_invalid_vectors_are_rejected(vector):
    with pytest.raises(ApiError) as e:
        load_consent(vector["token"], VECTORS["keys"], max_age=10**10)
    assert e.value.code == "invalid_signature"


def test_vectors_are_expired_under_the_default_age():
    with pytest.raises(ApiError) as e:
        load_consent(VECTORS["valid"][0]["token"], VECTORS["keys"], max_age=300)
    assert e.value.code == "expired_token"


SCAN = VECTORS["scan_pages"]


@pytest.mark.parametrize("vector", SCAN["valid"], ids=lambda v: v["name"])
def test_scan_page_vectors_verify_with_the_sidecar_serializer(vector):
    """The page-list tokens (SCAN_INTERFACE §5) are what `sidecar.signing.serializer` makes
    under the scan-pages salt; tests/php/SignerTest.php verifies the same ones in PHP."""
    from sidecar.signing import serializer

    assert SCAN["salt"] == "secure-privacy/scan-pages/v1"
    assert serializer(SCAN["keys"], SCAN["salt"]).loads(vector["token"]) == vector["payload"]


@pytest.mark.parametrize("vector", SCAN["invalid"], ids=lambda v: v["name"])
def test_invalid_scan_page_vectors_are_refused_by_the_sidecar_serializer(vector):
    from itsdangerous import BadSignature

    from sidecar.signing import serializer

    with pytest.raises(BadSignature):
        serializer(SCAN["keys"], SCAN["salt"]).loads(vector["token"])


def php_sign(payload: dict, keys: list[str]) -> str:
    assert shutil.which("php"), "php-cli is installed by scripts/install.sh"
    out = subprocess.run(["php", str(ROOT / "tests/php/sign-cli.php"), ",".join(keys)],
                         input=json.dumps(payload, ensure_ascii=False), capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def test_php_tokens_verify_in_python():
    keys = ["retired-key", "current-key"]
    payload = consent_payload(user_agent="Mozilla/5.0 Åäö \"q\" </script> ☃",
                              page_url="https://example.com/a/b?c=d&e=f#g")
    token = php_sign(payload, keys)
    assert load_consent(token, keys, max_age=60) == payload
    # signed with the newest key: a sidecar that only knows the retired key rejects it
    with pytest.raises(ApiError) as e:
        load_consent(token, keys[:1], max_age=60)
    assert e.value.code == "invalid_signature"


def _itsdangerous(keys, salt):
    import hashlib

    from itsdangerous import URLSafeTimedSerializer
    return URLSafeTimedSerializer(keys, salt=salt, signer_kwargs={
        "key_derivation": "hmac", "digest_method": hashlib.sha256})


def _mutations(token: str):
    """The token altered the ways an attacker or a broken proxy might: every character
    replaced, characters dropped and added, parts swapped, padding and junk added."""
    alphabet = "AZaz09-_.=+/ é"
    for i in range(len(token)):
        for c in alphabet[i % 3::3]:
            if c != token[i]:
                yield token[:i] + c + token[i + 1:]
        yield token[:i] + token[i + 1:]
    payload, ts, sig = token.rsplit(".", 2)
    yield from (f"{payload}.{sig}.{ts}", f"{ts}.{payload}.{sig}", token + ".", "." + token,
                token + "==", token + "\n", token.replace(".", "..", 1), "", ".", "..", "a.b.c")


def test_fast_verification_accepts_nothing_itsdangerous_rejects():
    """sidecar.signing verifies tokens without itsdangerous's per-call objects; for valid,
    old-key, compressed, expired, future and thousands of altered tokens it must agree with
    itsdangerous itself: the same payload, or a rejection."""
    import time

    from itsdangerous import BadData

    from sidecar import signing
    keys = ["old-key", "new-key"]
    salt = signing.CONSENT_SALT
    small = consent_payload()
    big = consent_payload(user_agent="x" * 400, page_url="https://example.com/" + "p" * 600)
    tokens = [_itsdangerous(keys, salt).dumps(small),  # newest key
              _itsdangerous(keys[:1], salt).dumps(small),  # the old key, still accepted
              _itsdangerous(keys, salt).dumps(big),  # long enough to be compressed
              _itsdangerous(["other"], salt).dumps(small),  # a key we do not hold
              _itsdangerous(keys, "another-salt").dumps(small)]
    assert tokens[2].startswith(".")
    now = time.time()
    for offset in (-400, 400):  # expired, and from the future
        real = time.time
        time.time = lambda off=offset: now + off  # noqa: E731 - itsdangerous reads time.time
        try:
            tokens.append(_itsdangerous(keys, salt).dumps(small))
        finally:
            time.time = real
    checked = 0
    for base in tokens:
        for token in [base, *_mutations(base)]:
            try:
                expected = _itsdangerous(keys, salt).loads(token, max_age=300)
            except BadData:
                expected = signing._MISS
            fast = signing._fast_loads(token, tuple(keys), salt, 300)
            assert fast is signing._MISS or fast == expected, token
            checked += 1
    assert checked > 3000
    # and the valid ones do take the fast path
    assert signing._fast_loads(tokens[0], tuple(keys), salt, 300) == small
    assert signing._fast_loads(tokens[1], tuple(keys), salt, 300) == small
    assert signing._fast_loads(tokens[2], tuple(keys), salt, 300) == big
    for token in tokens[3:]:
        assert signing._fast_loads(token, tuple(keys), salt, 300) is signing._MISS


def test_receipts_are_what_itsdangerous_signs():
    from sidecar import signing
    keys = ["old-key", "new-key"]
    statement = {"id": "r1", "categories": {"necessary": True}, "note": "é"}
    receipt = signing.sign_receipt(statement, keys)
    assert _itsdangerous(keys, signing.RECEIPT_SALT).loads(receipt) == statement
    assert _itsdangerous(keys[1:], signing.RECEIPT_SALT).loads(receipt) == statement  # newest
    # byte for byte what itsdangerous's own signer makes in the same second
    import base64
    import json as _json
    body = base64.urlsafe_b64encode(_json.dumps(statement, ensure_ascii=False,
                                                separators=(",", ":")).encode()).rstrip(b"=")
    ts_part = receipt.rsplit(".", 2)[1]
    signer = _itsdangerous(keys, signing.RECEIPT_SALT).make_signer()
    signer.get_timestamp = lambda: int.from_bytes(base64.urlsafe_b64decode(
        ts_part + "=" * (-len(ts_part) % 4)), "big")
    assert signer.sign(body).decode() == receipt


def test_a_signed_payload_that_is_not_json_is_422_not_500():
    from itsdangerous.encoding import base64_encode

    from sidecar import signing
    keys = ["k"]
    token = signing.serializer(keys, signing.CONSENT_SALT).make_signer().sign(
        base64_encode(b"{not json")).decode()
    with pytest.raises(ApiError) as e:
        load_consent(token, keys, max_age=300)
    assert (e.value.status, e.value.code, e.value.field) == (422, "invalid_payload", "token")


def _signed_at(keys, payload, when: float) -> str:
    s = _itsdangerous(keys, CONSENT_SALT)
    signer = s.make_signer()
    signer.get_timestamp = lambda: int(when)
    return signer.sign(s.dump_payload(payload)).decode("ascii")


def _both_paths(monkeypatch, token, keys, skew):
    """load_consent's answer through the fast verifier and through itsdangerous alone:
    the payload, or the ApiError's (status, code)."""
    from sidecar import signing
    out = []
    for fast in (True, False):
        with monkeypatch.context() as m:
            if not fast:
                m.setattr(signing, "_fast_loads", lambda *a, **k: signing._MISS)
            try:
                out.append(signing.load_consent(token, keys, 300, skew))
            except ApiError as e:
                out.append((e.status, e.code))
    return out


def test_token_signed_seconds_ahead_is_accepted_within_the_clock_skew(monkeypatch):
    """F18: WordPress's clock 5 s ahead of the sidecar's must not put consents into the
    outbox; SP_CLOCK_SKEW (default 60) bounds how far ahead a token may be, the same for the
    fast verifier and for itsdangerous."""
    import time
    keys = ["k1", "k2"]
    p = consent_payload()
    now = int(time.time())
    monkeypatch.setattr(time, "time", lambda: float(now))
    for ahead, skew, accepted in ((5, 60, True), (60, 60, True), (61, 60, False),
                                  (5, 0, False), (3600, 60, False), (0, 0, True),
                                  (-300, 60, True), (-301, 60, False)):
        token = _signed_at(keys, p, now + ahead)
        fast, slow = _both_paths(monkeypatch, token, keys, skew)
        assert fast == slow, (ahead, skew, fast, slow)
        assert (fast == p) is accepted, (ahead, skew, fast)
        if not accepted:
            assert fast == (401, "expired_token"), (ahead, skew)


def test_a_token_from_beyond_year_9999_is_401_not_500(monkeypatch):
    keys = ["k"]
    token = _signed_at(keys, consent_payload(), 2**40)
    assert _both_paths(monkeypatch, token, keys, 60) == [(401, "expired_token")] * 2


def test_clock_skew_setting_is_checked():
    from sidecar.config import ConfigError, load
    base = {"SP_DATABASE_URL": "mysql://u:p@h/d", "SP_SECRET_KEYS": TEST_KEYS[0],
            "SP_ADMIN_TOKENS": TEST_TOKENS[0], "SP_SITE_ORIGINS": "http://a.test"}
    assert load(base)["SP_CLOCK_SKEW"] == 60
    assert load({**base, "SP_CLOCK_SKEW": "0"})["SP_CLOCK_SKEW"] == 0
    for bad in ("-1", "x", "3601"):
        with pytest.raises(ConfigError, match="SP_CLOCK_SKEW"):
            load({**base, "SP_CLOCK_SKEW": bad})
