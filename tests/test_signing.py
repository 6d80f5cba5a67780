"""Tokens cross the PHP/Python border in both directions (CONTRACT §4).

The PHPUnit suite proves PHP reproduces and verifies the shared vectors; here Python checks
the vectors with the sidecar's serializer and verifies tokens the PHP signer makes right now.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import consent_payload

from sidecar.errors import ApiError
from sidecar.signing import load_consent

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
