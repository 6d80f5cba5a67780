"""One hostile request must never stop consent delivery (issue 10: F1, F13, F17).

The sidecar answers 4xx, never 5xx, to any payload carried by a valid token (the database
being up), on both intake paths: the WSGI fast path (a body of known length) and the Flask
view (a chunked body). What it refuses leaves nothing behind."""

from __future__ import annotations

import json
import random
import string
import zlib
from pathlib import Path

import pytest
from helpers import SITE, TEST_KEYS, consent_payload, make_token, post_chunked
from itsdangerous.encoding import base64_encode

from sidecar.signing import CONSENT_SALT, serializer

VECTORS = json.loads((Path(__file__).parent / "vectors/urls.json").read_text())
AUDIT_URLS = ["http://[x]/", "http://[::1/", "http://a\u2100b/"]


def post_fast(app, body: bytes):
    r = app.test_client().post("/v1/consents", data=body, content_type="application/json")
    assert r.headers.get("Content-Length")  # it did not stream: the fast path answered
    return r.status_code, r.get_json()


PATHS = {"fast": post_fast, "view": post_chunked}


def sign_json(payload) -> str:
    """A valid token for `payload` written as JSON with \\u escapes (so lone surrogates
    travel too), compressed when that is shorter, as itsdangerous does."""
    raw = json.dumps(payload).encode("ascii")
    small = zlib.compress(raw, 9)
    data = b"." + base64_encode(small) if len(small) < len(raw) - 1 else base64_encode(raw)
    return serializer(TEST_KEYS, CONSENT_SALT).make_signer().sign(data).decode("ascii")


def body_for(payload) -> bytes:
    return json.dumps({"token": sign_json(payload)}).encode()


def count(sql, table="consents"):
    return sql(f"SELECT COUNT(*) AS n FROM t_sp_{table}")[0]["n"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("url", AUDIT_URLS)
def test_audit_page_urls_are_422_not_500(app, sql, path, url):
    """F1: these passed the plugin's old check and made the sidecar's urlsplit raise (500),
    which the plugin retried at the head of its outbox for ever."""
    status, answer = PATHS[path](app, body_for(consent_payload(page_url=url)))
    assert status == 422, answer
    assert answer["error"]["code"] == "invalid_payload"
    assert answer["error"]["field"] == "page_url"
    assert count(sql) == 0


@pytest.mark.parametrize("path", PATHS)
def test_15_kb_of_brackets_is_422_invalid_json_with_one_log_line(app, path, caplog):
    """F13: 15 KB of "[" hit the JSON parser's recursion limit: a 500 and a traceback."""
    caplog.set_level("INFO")
    status, answer = PATHS[path](app, b"[" * 15000)
    assert status == 422 and answer["error"]["code"] == "invalid_json", answer
    assert not [r for r in caplog.records if r.exc_info], "no traceback is logged"
    assert len([r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]) == 0


@pytest.mark.parametrize("path", PATHS)
def test_deeply_nested_json_inside_a_valid_token_is_4xx(app, sql, path):
    """The token compresses 100 000 nested lists into a few hundred bytes; its payload, or a
    field of it, nested that deep is refused like any other bad payload."""
    deep = json.loads("[" * 500 + "]" * 500)
    for body in (body_for(json.loads("[" * 900 + "]" * 900)),  # parses, is not an object
                 json.dumps({"token": sign_json("@")}).encode().replace(
                     b"@", b"[" * 1000),  # not signed any more: 401
                 _deep_token_body(100000),
                 body_for(consent_payload(categories=deep)),
                 body_for(consent_payload(page_url=deep)),
                 json.dumps({"token": "x", "n": deep}).encode(),
                 b'{"token": ' + b"[" * 20000 + b"]" * 20000 + b"}"):
        status, answer = PATHS[path](app, body)
        assert 400 <= status < 500, (status, answer)
    assert count(sql) == 0


def _deep_token_body(depth: int) -> bytes:
    raw = ("[" * depth + "]" * depth).encode()
    token = serializer(TEST_KEYS, CONSENT_SALT).make_signer().sign(
        b"." + base64_encode(zlib.compress(raw, 9))).decode()
    return json.dumps({"token": token}).encode()


def _random_json(rng: random.Random, depth: int = 0):
    kind = rng.randrange(12 if depth < 4 else 7)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice((True, False))
    if kind == 2:
        return rng.choice((0, -1, 1, 2**63, -(2**63), 2**64, 10**300, 7))
    if kind == 3:
        return rng.choice((0.5, -0.0, 1e308, float("nan"), float("inf")))
    if kind == 4:  # text: ASCII, Unicode, astral, lone surrogates, controls, huge
        alphabet = rng.choice((string.printable, "åäö€\u2100\u202e\ufeff\u00a0",
                               "\U0001F600\U0001F4A9", "\ud800\udfff", "\x00\x1b\x7f\n"))
        n = rng.choice((0, 1, 5, 36, 64, 65, 512, 513, 2048, 5000))
        return "".join(rng.choice(alphabet) for _ in range(n))
    if kind == 5:
        return rng.choice(VECTORS["invalid"])["url"]
    if kind == 6:
        return rng.choice(("grant", "withdraw", "accept_all", "custom", "en", "sv-SE",
                           "::1", "fe80::1%eth0", "203.0.113.7", "1970-01-01T00:00:00Z",
                           "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00",
                           "2024-02-30T00:00:00Z", SITE + "/x"))
    if kind in (7, 8):
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["necessary", "preferences", "statistics", "marketing", "gpc", "dnt", "x", ""]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randrange(5))}


def _hostile_payload(rng: random.Random):
    if rng.random() < 0.05:
        return _random_json(rng)
    p = consent_payload()
    for _ in range(rng.choice((0, 1, 1, 1, 2, 3))):
        field = rng.choice([*p, "extra"])
        roll = rng.random()
        if roll < 0.15:
            p.pop(field, None)
        elif roll < 0.3 and isinstance(p.get(field), dict):
            p[field] = {k: _random_json(rng) if rng.random() < 0.3 else v
                        for k, v in p[field].items()}
        else:
            p[field] = _random_json(rng)
    return p


def test_any_token_valid_payload_is_answered_below_500_and_nothing_partial_is_stored(
        make_app, sql):
    """F1 (generative): 700 payloads, each signed with a valid key: random JSON of every type,
    nesting, huge and Unicode strings (lone surrogates and astral characters included),
    hostile URLs, odd times and addresses, fields missing or extra. Every answer, through
    either path, is below 500; every 201 is one record with its screenshot job (or a
    skipped screenshot), and nothing else is stored."""
    app = make_app()
    rng = random.Random(20261129)
    created = 0
    seen = {}
    for i in range(700):
        payload = _hostile_payload(rng)
        body = body_for(payload)
        status, answer = (post_fast if i % 3 else post_chunked)(app, body)
        assert status < 500, (status, answer, json.dumps(payload)[:300])
        assert status in (200, 201, 409, 413, 422), (status, answer)
        seen[status] = seen.get(status, 0) + 1
        created += status == 201
    assert seen.get(422, 0) > 300 and created > 20, seen
    assert count(sql) == created
    # every stored consent either names the render that will prove it or says why it is skipped
    assert sql("SELECT COUNT(*) AS n FROM t_sp_consents WHERE (render_key IS NOT NULL AND"
               " screenshot_status = 'pending') OR (render_key IS NULL AND"
               " screenshot_status = 'skipped' AND screenshot_error <> '')")[0]["n"] == created


@pytest.mark.parametrize("path", PATHS)
def test_same_event_id_with_another_choice_is_409_naming_the_record(app, sql, path):
    """F17: a replayed event_id with the opposite choice was answered 200 with the first
    record, telling the sender its discarded choice was recorded."""
    p = consent_payload()
    status, first = PATHS[path](app, body_for(p))
    assert status == 201
    reject = dict(p, method="reject_all", categories={"necessary": True, "preferences": False,
                                                      "statistics": False, "marketing": False})
    for other in (reject, dict(p, page_url=SITE + "/other/"), dict(p, language="sv"),
                  dict(p, subject_id=consent_payload()["subject_id"]),
                  dict(p, signals={"gpc": True, "dnt": False})):
        status, answer = PATHS[path](app, body_for(other))
        assert status == 409, answer
        assert answer["error"]["code"] == "event_id_conflict"
        assert answer["error"]["record_id"] == first["id"]
        assert first["id"] in answer["error"]["message"]
    # an honest retry: the plugin's fields (ip, user agent, time) may differ, the choice not
    retry = dict(p, ip="198.51.100.9", user_agent="other", occurred_at="2020-01-01T00:00:00Z",
                 wp_user_id=3, event_id=p["event_id"].upper())
    status, again = PATHS[path](app, body_for(retry))
    assert status == 200 and again["id"] == first["id"]
    assert count(sql) == 1


def test_an_erased_event_replayed_is_judged_on_what_the_erasure_kept(app, sql):
    from helpers import admin_headers
    c = app.test_client()
    p = consent_payload()
    first = c.post("/v1/consents", json={"token": make_token(p)}).get_json()
    assert c.delete(f"/v1/consents/{first['id']}", headers=admin_headers()).status_code == 204
    again = c.post("/v1/consents", json={"token": make_token(p)})
    assert again.status_code == 200 and again.get_json()["id"] == first["id"]
    other = c.post("/v1/consents", json={"token": make_token(dict(p, action="update",
                                                                     method="custom"))})
    assert other.status_code == 409


EDGES = [  # (overrides, expected status)
    ({"occurred_at": "1970-01-01T00:00:00Z"}, 201),
    ({"occurred_at": "9998-12-31T23:59:59Z"}, 201),
    ({"occurred_at": "9999-12-31T23:59:59-23:59"}, 422),  # overflowed on the way to UTC
    ({"occurred_at": "0001-01-01T00:00:00+01:00"}, 422),
    ({"occurred_at": "1969-12-31T23:59:59Z"}, 422),
    ({"wp_user_id": 2**63 - 1}, 201),
    ({"wp_user_id": 2**63}, 422),
    ({"user_agent": "\U0001F600" * 512}, 201),
    ({"user_agent": "\ud800"}, 422),  # a lone surrogate: not storable text
    ({"policy_version": "\udfff" * 3}, 422),
    ({"ip": "fe80::1%eth0"}, 422),
    ({"ip": "::ffff:203.0.113.9"}, 201),
    ({"page_url": "http://[::ffff:192.0.2.1]:8080/a?b#c"}, 201),
    ({"page_url": "http://xn--bcher-kva.example/"}, 201),
    ({"page_url": "http://b\u00fccher.example/"}, 422),
    ({"page_url": "http://site.test:0/"}, 422),
    ({"page_url": "http://user@site.test/"}, 422),
    ({"language": "x" * 36}, 422),
]


def test_edge_payloads_get_their_answer_on_both_paths(make_app, sql):
    """Boundaries of what the database and the record format hold: inside is 201, outside
    422, never 500 (0001/9999 with an offset overflowed; lone surrogates failed to encode)."""
    app = make_app(SP_IP_STORAGE="truncated")
    stored = 0
    for path, post in PATHS.items():
        for overrides, expected in EDGES:
            status, answer = post(app, body_for(consent_payload(**overrides)))
            assert status == expected, (path, overrides, answer)
            stored += expected == 201
            assert count(sql) == stored, (path, overrides)
