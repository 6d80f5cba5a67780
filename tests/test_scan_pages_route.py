"""The plugin's page list for the site scan (issue 13, SCAN_INTERFACE §5), over real HTTP on
the stack's WordPress, as the sidecar will fetch it: a token made by
`sidecar.signing.serializer(SP_SECRET_KEYS, "secure-privacy/scan-pages/v1")` over
`{"origin", "max_pages"}` in the `X-Secure-Privacy-Token` header of
`GET <origin>/?rest_route=/secure-privacy/v1/scan-pages&max_pages=N`. The route's details are
proven in tests/php/wp/ScanPagesTest.php; this proves the two sides agree."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from sidecar.signing import serializer

SALT = "secure-privacy/scan-pages/v1"


def _get(url: str, token: str | None) -> tuple[int, dict, dict]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if token is not None:
        request.add_header("X-Secure-Privacy-Token", token)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - 127.0.0.1
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


def test_the_sidecars_token_gets_the_page_list_and_nothing_else_does(full_stack):
    keys = full_stack.secret_keys.split(",")
    origin = full_stack.wp_url
    url = f"{origin}/?rest_route=/secure-privacy/v1/scan-pages&max_pages=5"
    token = serializer(keys, SALT).dumps({"origin": origin, "max_pages": 5})

    status, headers, body = _get(url, token)
    assert status == 200, body
    assert "no-store" in headers.get("Cache-Control", "")
    assert 1 <= len(body["pages"]) <= 5
    assert body["pages"][0] == {"url": origin + "/", "why": "front_page", "group": "front_page"}
    assert {p["why"] for p in body["pages"]} >= {"front_page", "login"}
    assert all(p["url"].startswith(origin + "/") for p in body["pages"])
    groups = [p["group"] for p in body["pages"]]
    assert len(groups) == len(set(groups))
    assert isinstance(body["capped"], bool)

    status, headers, body = _get(url, None)
    assert status == 401 and body["code"] == "secure_privacy_missing_token"
    assert "no-store" in headers.get("Cache-Control", ""), "no cache keeps a refusal either"
    assert _get(url, serializer(["not-the-secret-" * 3], SALT).dumps(
        {"origin": origin, "max_pages": 5}))[0] == 401
    # A consent token (another salt) or a token for another site or size is no pass either.
    assert _get(url, serializer(keys, "secure-privacy/consent/v1").dumps(
        {"origin": origin, "max_pages": 5}))[0] == 401
    assert _get(url, serializer(keys, SALT).dumps(
        {"origin": "http://elsewhere.example", "max_pages": 5}))[0] == 401
    assert _get(url.replace("max_pages=5", "max_pages=500"), token)[0] == 401
