"""The admin API's parameters do exactly what /openapi.json says (issue 10, found by
schemathesis): a filter given empty or malformed is a 400, never silently dropped or a 500;
what the document calls valid is taken."""

from __future__ import annotations

import pytest
from helpers import admin_headers, consent_payload, make_token

from sidecar.openapi import SPEC


def post(client, payload):
    return client.post("/v1/consents", json={"token": make_token(payload)})


@pytest.mark.parametrize("path", ["/v1/consents", "/v1/consents/export"])
@pytest.mark.parametrize("name", ["subject_id", "country", "from", "to", "page_url", "method",
                                  "action", "wp_user_id"])
def test_an_empty_filter_is_a_bad_request_not_ignored(client, path, name):
    post(client, consent_payload())
    r = client.get(f"{path}?{name}=", headers=admin_headers())
    assert r.status_code == 400, r.get_data(as_text=True)[:200]
    assert r.get_json()["error"]["code"] == "invalid_parameter"
    assert r.get_json()["error"]["message"].startswith(f"{name}:")


@pytest.mark.parametrize("query", [
    "cursor=", "limit=", "limit=5_0", "limit=%D9%A5", "cursor=MTIz%3D", "wp_user_id=%C2%B2",
    "wp_user_id=18446744073709551616", "country=SE%0A", "from=20250115",
    "from=2025-01-15T10:00:00", "to=2025-W03", "subject_id=e3e70682-c209-1cac-a29f-6fbed82c07cd",
])
def test_malformed_list_parameters_are_400_never_500(client, query):
    r = client.get(f"/v1/consents?{query}", headers=admin_headers())
    assert r.status_code == 400, (query, r.status_code, r.get_data(as_text=True)[:200])
    assert r.get_json()["error"]["code"] == "invalid_parameter"


@pytest.mark.parametrize("query", ["group_by=", "from=", "to=", "to=2025-13-01"])
def test_stats_refuses_empty_or_impossible_dates(client, query):
    r = client.get(f"/v1/stats?{query}", headers=admin_headers())
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_parameter"


def test_the_last_representable_day_is_a_valid_upper_bound(client):
    post(client, consent_payload())
    for path in ("/v1/stats?to=9999-12-31", "/v1/consents?to=9999-12-31&from=0001-01-01"):
        r = client.get(path, headers=admin_headers())
        assert r.status_code == 200, (path, r.get_data(as_text=True)[:200])
    assert len(client.get("/v1/consents?to=9999-12-31", headers=admin_headers())
               .get_json()["items"]) == 1


def test_cursor_is_a_decimal_position_that_pages_through(client):
    ids = [post(client, consent_payload()).get_json()["id"] for _ in range(3)]
    page1 = client.get("/v1/consents?limit=2", headers=admin_headers()).get_json()
    assert page1["next_cursor"].isdigit()
    page2 = client.get(f"/v1/consents?limit=2&cursor={page1['next_cursor']}",
                       headers=admin_headers()).get_json()
    assert [i["id"] for i in page1["items"] + page2["items"]] == ids[::-1]
    cursor = SPEC["paths"]["/v1/consents"]["get"]["parameters"][-1]
    assert cursor["name"] == "cursor" and cursor["schema"]["pattern"] == "^[0-9]{1,20}$"


def test_screenshot_size_given_empty_or_unknown_is_a_documented_400(client):
    rid = post(client, consent_payload()).get_json()["id"]
    for size in ("", "null", "huge"):
        r = client.get(f"/v1/consents/{rid}/screenshot?size={size}", headers=admin_headers())
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_parameter"
    documented = SPEC["paths"]["/v1/consents/{record_id}/screenshot"]["get"]["responses"]
    assert "400" in documented


def test_export_route_advertises_no_delete_and_refuses_one(client):
    r = client.open("/v1/consents/export", method="OPTIONS", headers=admin_headers())
    assert "DELETE" not in r.headers["Allow"]
    r = client.delete("/v1/consents/export", headers=admin_headers())
    assert r.status_code == 405


def test_record_paths_take_only_uuids(client):
    for rid in ("export-x", "e3e70682-c209-1cac-a29f-6fbed82c07cd", "../x"):
        r = client.get(f"/v1/consents/{rid}", headers=admin_headers())
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("body", [{"ip": ""}, {"ip": "fe80::1%eth0"}, {"ip": "1.2.3"},
                                  {"wp_user_id": 2**64}, {"wp_user_id": 1.5},
                                  {"subject_id": "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d\n"}])
def test_erasure_refuses_what_the_document_calls_invalid(client, body):
    r = client.post("/v1/erasures", json=body, headers=admin_headers())
    assert r.status_code == 422 and r.get_json()["error"]["field"] == next(iter(body))


def test_erasure_takes_an_integral_json_number_as_a_user_id(client):
    post(client, consent_payload(wp_user_id=161))
    r = client.post("/v1/erasures", data='{"wp_user_id": 161.0}', headers=admin_headers(),
                    content_type="application/json")
    assert r.status_code == 200 and r.get_json()["erased"] == 1
