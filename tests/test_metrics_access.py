"""F16 (issue 10): the sidecar's unauthenticated endpoints published with the image.
`/metrics` answers a scraper on this host as before, anyone else only with a bearer token;
`/openapi.json` stays public and carries nothing of the configuration."""

from __future__ import annotations

import json

import pytest
from helpers import TEST_KEYS, TEST_TOKENS, secret

OUTSIDE = {"REMOTE_ADDR": "203.0.113.9"}
METRICS_TOKEN = secret("metrics-scrape-token")
RETIRED_TOKEN = secret("retired-scrape-token")


@pytest.fixture
def client(make_app):
    return make_app(SP_METRICS_TOKENS=f"{RETIRED_TOKEN}, {METRICS_TOKEN}").test_client()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_metrics_from_another_host_needs_a_bearer_token(client):
    r = client.get("/metrics", environ_base=OUTSIDE)
    assert r.status_code == 401
    assert r.get_json()["error"]["code"] == "unauthorized"
    assert b"sp_ingest" not in r.data
    r = client.get("/metrics", environ_base=OUTSIDE, headers=bearer("guessed"))
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    r = client.get("/metrics", environ_base=OUTSIDE, headers={"Authorization": "Basic eDp5"})
    assert r.status_code == 401


@pytest.mark.parametrize("token", [METRICS_TOKEN, RETIRED_TOKEN, TEST_TOKENS[0]])
def test_metrics_tokens_and_admin_tokens_let_a_scraper_in(client, token):
    r = client.get("/metrics", environ_base=OUTSIDE, headers=bearer(token))
    assert r.status_code == 200, r.data
    assert b"sp_http_requests_total" in r.data or b"sp_screenshot_queue_depth" in r.data


@pytest.mark.parametrize("peer", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_metrics_from_this_host_need_no_token(client, peer):
    r = client.get("/metrics", environ_base={"REMOTE_ADDR": peer})
    assert r.status_code == 200, r.data
    assert b"sp_screenshot_queue_depth" in r.data


@pytest.mark.parametrize("header", [{"X-Forwarded-For": "203.0.113.9"},
                                    {"Forwarded": "for=203.0.113.9"},
                                    {"X-Real-IP": "203.0.113.9"}])
def test_metrics_relayed_by_a_proxy_on_this_host_need_a_token(client, header):
    r = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers=header)
    assert r.status_code == 401
    r = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"},
                   headers={**header, **bearer(METRICS_TOKEN)})
    assert r.status_code == 200


def test_metrics_without_metrics_tokens_still_take_an_admin_token(make_app):
    c = make_app().test_client()
    assert c.get("/metrics", environ_base=OUTSIDE).status_code == 401
    assert c.get("/metrics", environ_base=OUTSIDE,
                 headers=bearer(TEST_TOKENS[-1])).status_code == 200


def test_openapi_is_public_and_reveals_no_setting(make_app, test_db):
    secrets = {"SP_SECRET_KEYS": secret("sk"), "SP_ADMIN_TOKENS": secret("adm"),
               "SP_LEDGER_KEYS": secret("lk"), "SP_METRICS_TOKENS": secret("mt")}
    c = make_app(**secrets).test_client()
    r = c.get("/openapi.json", environ_base=OUTSIDE)
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    spec = json.loads(text)
    for value in [*secrets.values(), *TEST_KEYS, *TEST_TOKENS, test_db,
                  test_db.split("@")[0].split("//")[1], test_db.split("@")[1]]:
        assert value not in text, value
    assert "servers" not in spec  # no address of this deployment
    # /metrics says how to get in.
    assert spec["paths"]["/metrics"]["get"]["security"] == [{"bearer": []}, {}]
