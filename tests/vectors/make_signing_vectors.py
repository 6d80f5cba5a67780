"""Regenerate tests/vectors/signing.json, the shared PHP/Python token vectors.

Run: .venv/bin/python tests/vectors/make_signing_vectors.py
The vectors fix the signing time so PHP can reproduce each token byte for byte.
"""

import hashlib
import json
from pathlib import Path

from itsdangerous import URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode

SALT = "secure-privacy/consent/v1"
KEYS = ["old-secret-2026-01", "new-secret-2026-11"]
TIMESTAMP = 1764000000  # 2025-11-24T16:00:00Z, fixed so tokens are reproducible


def serializer(keys):
    s = URLSafeTimedSerializer(
        keys,
        salt=SALT,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
    )
    return s


def sign(keys, payload, compress=True):
    """Sign like itsdangerous at TIMESTAMP; compress=False skips zlib, as the PHP signer does."""
    s = serializer(keys)
    signer = s.make_signer()
    signer.get_timestamp = lambda: TIMESTAMP
    if compress:
        body = s.dump_payload(payload)
    else:
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        body = base64_encode(text.encode())
    return signer.sign(body).decode("ascii")


SMALL = {
    "event_id": "3f1c9a4e-8b7d-4c2a-9e5f-1a2b3c4d5e6f",
    "subject_id": "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "action": "grant",
    "method": "accept_all",
    "categories": {"necessary": True, "preferences": True, "statistics": True, "marketing": True},
    "page_url": "http://127.0.0.1:8080/?p=1&x=a/b",
    "policy_version": "1",
    "banner_version": "b1e2",
    "language": "sv-SE",
    "signals": {"gpc": False, "dnt": False},
    "ip": "127.0.0.1",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Åäö \"quoted\" <tag>",
    "wp_user_id": 0,
    "occurred_at": "2026-11-29T10:00:00Z",
}

# Repetitive enough that itsdangerous compresses it (token starts with ".").
LARGE = dict(SMALL, user_agent="Mozilla/5.0 " * 40, page_url="http://127.0.0.1:8080/" + "a" * 200)


SCAN_PAGES_SALT = "secure-privacy/scan-pages/v1"
SCAN_PAGES_PAYLOAD = {"origin": "http://127.0.0.1:8080", "max_pages": 50}


def scan_pages_vectors():
    """Page-list tokens (SCAN_INTERFACE §5) made by the very serializer the sidecar signs them
    with, `sidecar.signing.serializer(keys, "secure-privacy/scan-pages/v1")`, at TIMESTAMP."""
    from sidecar.signing import serializer as sidecar_serializer

    def sign_with(keys, payload):
        s = sidecar_serializer(keys, SCAN_PAGES_SALT)
        signer = s.make_signer()
        signer.get_timestamp = lambda: TIMESTAMP
        return signer.sign(s.dump_payload(payload)).decode("ascii")

    token = sign_with(KEYS, SCAN_PAGES_PAYLOAD)
    vectors = {
        "salt": SCAN_PAGES_SALT,
        "keys": KEYS,
        "timestamp": TIMESTAMP,
        "valid": [
            {"name": "sidecar serializer, newest key", "payload": SCAN_PAGES_PAYLOAD,
             "token": token},
            {"name": "sidecar serializer, older key", "payload": SCAN_PAGES_PAYLOAD,
             "token": sign_with(KEYS[:1], SCAN_PAGES_PAYLOAD)},
        ],
        "invalid": [
            {"name": "consent salt", "token": sign(KEYS, SCAN_PAGES_PAYLOAD, compress=False)},
            {"name": "unknown key",
             "token": sign_with(["not-a-configured-key"], SCAN_PAGES_PAYLOAD)},
        ],
    }
    s = sidecar_serializer(KEYS, SCAN_PAGES_SALT)
    for v in vectors["valid"]:
        assert s.loads(v["token"]) == v["payload"], v["name"]
    return vectors


def main():
    good = sign(KEYS, SMALL, compress=False)
    compressed = sign(KEYS, LARGE)
    assert compressed.startswith("."), compressed
    assert not good.startswith(".")
    old_key_only = sign(KEYS[:1], SMALL, compress=False)
    wrong_key = sign(["not-a-configured-key"], SMALL, compress=False)
    head, sig = good.rsplit(".", 1)
    tampered_sig = head + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
    payload_part, rest = good.split(".", 1)
    swap = "x" if payload_part[-2] != "x" else "y"
    tampered_payload = payload_part[:-2] + swap + payload_part[-1] + "." + rest
    vectors = {
        "salt": SALT,
        "keys": KEYS,
        "timestamp": TIMESTAMP,
        "valid": [
            {"name": "newest key, uncompressed", "payload": SMALL, "token": good},
            {"name": "zlib-compressed", "payload": LARGE, "token": compressed},
            {"name": "older key, uncompressed", "payload": SMALL, "token": old_key_only},
        ],
        "invalid": [
            {"name": "unknown key", "token": wrong_key},
            {"name": "tampered signature", "token": tampered_sig},
            {"name": "tampered payload", "token": tampered_payload},
            {"name": "not a token", "token": "hello"},
        ],
    }
    vectors["scan_pages"] = scan_pages_vectors()
    # Verify what we wrote with the serializer the sidecar uses.
    s = serializer(KEYS)
    for v in vectors["valid"]:
        assert s.loads(v["token"]) == v["payload"], v["name"]
    out = Path(__file__).with_name("signing.json")
    out.write_text(json.dumps(vectors, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
