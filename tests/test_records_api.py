"""Admin API completeness (issue 3): geo, IP storage, export, stats, pagination under
concurrent inserts, metrics, OpenAPI — against the real MariaDB."""

from __future__ import annotations

import csv
import io
import json
import re
import threading

import pytest
from helpers import SITE, TEST_KEYS, TEST_TOKENS, admin_headers, consent_payload, make_token

from sidecar import codec
from sidecar.openapi import SPEC


def ingest(client, **overrides):
    r = client.post("/v1/consents", json={"token": make_token(consent_payload(**overrides))})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def record(client, rid):
    return client.get(f"/v1/consents/{rid}", headers=admin_headers()).get_json()


# ---- location and IP storage -----------------------------------------------------------

@pytest.fixture(scope="session")
def geo_db(tmp_path_factory):
    """A City database built by the test, so the expected answers are known."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet
    w = MMDBWriter(ip_version=6, database_type="GeoIP2-City", ipv4_compatible=True)
    w.insert_network(IPSet(["193.10.5.0/24"]), {
        "country": {"iso_code": "SE", "names": {"en": "Sweden"}},
        "subdivisions": [{"iso_code": "AB", "names": {"en": "Stockholm County"}}],
        "city": {"names": {"en": "Stockholm", "sv": "Stockholm"}}})
    w.insert_network(IPSet(["2a02:1234:abcd::/48"]), {
        "country": {"iso_code": "DK", "names": {"en": "Denmark"}},
        "city": {"names": {"en": "Aarhus"}}})
    w.insert_network(IPSet(["81.2.69.0/24"]), {"country": {"iso_code": "FI"}})
    path = tmp_path_factory.mktemp("geo") / "test-city.mmdb"
    w.to_db_file(str(path))
    return str(path)


def test_location_from_the_configured_database(make_app, geo_db):
    c = make_app(SP_GEOIP_DB=geo_db).test_client()
    se = record(c, ingest(c, ip="193.10.5.77"))
    assert (se["country"], se["region"], se["city"]) == ("SE", "Stockholm County", "Stockholm")
    dk = record(c, ingest(c, ip="2a02:1234:abcd:12::1"))
    assert (dk["country"], dk["region"], dk["city"]) == ("DK", "", "Aarhus")
    fi = record(c, ingest(c, ip="81.2.69.9"))
    assert (fi["country"], fi["region"], fi["city"]) == ("FI", "", "")
    # filter by country
    items = c.get("/v1/consents?country=se", headers=admin_headers()).get_json()["items"]
    assert [i["id"] for i in items] == [se["id"]]


@pytest.mark.parametrize("ip", ["127.0.0.1", "10.1.2.3", "192.168.0.5", "::1", "fe80::1",
                                "169.254.169.254", "100.64.0.1"])
def test_private_and_loopback_addresses_have_no_location(client, ip):
    rec = record(client, ingest(client, ip=ip))
    assert (rec["country"], rec["region"], rec["city"]) == ("", "", "")
    assert rec["ip"] == ip


def test_default_database_ships_with_the_package(client):
    rec = record(client, ingest(client, ip="81.2.69.142"))  # DB-IP: London
    assert rec["country"] == "GB" and rec["city"]


def test_bad_geoip_path_fails_at_start(make_app):
    from sidecar.config import ConfigError
    with pytest.raises(ConfigError, match="SP_GEOIP_DB"):
        make_app(SP_GEOIP_DB="/nonexistent.mmdb")


@pytest.mark.parametrize("mode,ip,stored", [
    ("full", "193.10.5.77", "193.10.5.77"),
    ("truncated", "193.10.5.77", "193.10.5.0"),
    ("truncated", "2a02:1234:abcd:12::1", "2a02:1234:abcd::"),
    ("none", "193.10.5.77", None),
])
def test_ip_storage_modes_keep_location(make_app, geo_db, sql, mode, ip, stored):
    c = make_app(SP_GEOIP_DB=geo_db, SP_IP_STORAGE=mode).test_client()
    rec = record(c, ingest(c, ip=ip))
    assert rec["ip"] == stored
    assert rec["country"] in ("SE", "DK")  # looked up before truncation
    assert sql("SELECT ip FROM t_sp_consents WHERE id = %s",
               (codec.uuid_to_db(rec["id"]),))[0]["ip"] == stored
    if mode == "truncated":  # erasure by IP matches the address (its keyed fingerprint)
        r = c.post("/v1/erasures", json={"ip": ip}, headers=admin_headers())
        assert r.get_json() == {"erased": 1, "unattributed": 0}


def test_invalid_ip_storage_mode_is_refused(make_app):
    from sidecar.config import ConfigError
    with pytest.raises(ConfigError, match="SP_IP_STORAGE"):
        make_app(SP_IP_STORAGE="partial")


@pytest.mark.parametrize("value", ["-1", "20", "low"])
def test_a_worker_niceness_outside_0_to_19_is_refused(value):
    from sidecar import config
    env = {"SP_DATABASE_URL": "mysql://u:p@127.0.0.1/db", "SP_SECRET_KEYS": TEST_KEYS[0],
           "SP_ADMIN_TOKENS": TEST_TOKENS[0], "SP_SITE_ORIGINS": SITE, "SP_WORKER_NICE": value}
    with pytest.raises(config.ConfigError, match="SP_WORKER_NICE"):
        config.load(env)
    assert config.load({**env, "SP_WORKER_NICE": "0"})["SP_WORKER_NICE"] == 0



def test_the_browser_priority_is_idle_unless_set_to_the_workers():
    from sidecar import config
    env = {"SP_DATABASE_URL": "mysql://u:p@127.0.0.1/db", "SP_SECRET_KEYS": TEST_KEYS[0],
           "SP_ADMIN_TOKENS": TEST_TOKENS[0], "SP_SITE_ORIGINS": SITE}
    assert config.load(env)["SP_BROWSER_PRIORITY"] == "idle"
    assert config.load({**env, "SP_BROWSER_PRIORITY": " Worker "})["SP_BROWSER_PRIORITY"] \
        == "worker"
    with pytest.raises(config.ConfigError, match="SP_BROWSER_PRIORITY must be idle or worker"):
        config.load({**env, "SP_BROWSER_PRIORITY": "high"})


@pytest.mark.parametrize("name,value", [
    ("SP_RENDER_DEFER", "-1"), ("SP_RENDER_DEFER", "3601"), ("SP_RENDER_DEFER", "soon"),
    ("SP_RENDER_DEFER_RATE", "0"), ("SP_RENDER_DEFER_RATE", "1.5")])
def test_a_render_deferral_outside_its_range_is_refused_by_name(name, value):
    from sidecar import config
    env = {"SP_DATABASE_URL": "mysql://u:p@127.0.0.1/db", "SP_SECRET_KEYS": TEST_KEYS[0],
           "SP_ADMIN_TOKENS": TEST_TOKENS[0], "SP_SITE_ORIGINS": SITE}
    assert (config.load(env)["SP_RENDER_DEFER"], config.load(env)["SP_RENDER_DEFER_RATE"]) \
        == (30, 20)
    with pytest.raises(config.ConfigError, match=f"{name} must be a whole number"):
        config.load({**env, name: value})


# ---- filters, pagination ---------------------------------------------------------------

def test_date_filters(client, sql):
    old = ingest(client)
    sql("UPDATE t_sp_consents SET received_at = '2025-01-15 12:00:00' WHERE id = %s",
        (codec.uuid_to_db(old),))
    new = ingest(client)
    h = admin_headers()

    def ids(q):
        return [i["id"] for i in client.get(f"/v1/consents?{q}", headers=h).get_json()["items"]]
    assert ids("to=2025-01-15") == [old]
    assert ids("from=2025-01-16") == [new]
    assert ids("from=2025-01-15&to=2025-01-15") == [old]
    assert ids("from=2025-01-16&to=2025-01-14") == []


def test_pagination_is_stable_under_concurrent_inserts(make_app):
    app = make_app()
    c = app.test_client()
    first = [ingest(c) for _ in range(30)]
    stop = threading.Event()

    def writer():
        wc = app.test_client()
        while not stop.is_set():
            ingest(wc)

    t = threading.Thread(target=writer)
    t.start()
    try:
        seen, cursor = [], None
        while True:
            q = "limit=7" + (f"&cursor={cursor}" if cursor else "")
            page = c.get(f"/v1/consents?{q}", headers=admin_headers()).get_json()
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
    finally:
        stop.set()
        t.join()
    assert len(seen) == len(set(seen)), "a record appeared twice"
    # every record that existed before paging started is there, in newest-first order
    assert [i for i in seen if i in first] == first[::-1]


# ---- export ----------------------------------------------------------------------------

def test_csv_and_ndjson_export(client):
    a = ingest(client, method="reject_all", categories={
        "necessary": True, "preferences": False, "statistics": False, "marketing": False})
    b = ingest(client, user_agent="=HYPERLINK(\"http://evil\")")
    gone = ingest(client)
    h = admin_headers()
    client.delete(f"/v1/consents/{gone}", headers=h)

    r = client.get("/v1/consents/export?format=csv", headers=h)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert [row["id"] for row in rows] == [b, a]
    assert rows[1]["method"] == "reject_all" and rows[1]["marketing"] == "false"
    assert rows[0]["user_agent"].startswith("'=")  # no formula injection in spreadsheets

    r = client.get("/v1/consents/export?format=ndjson&method=reject_all", headers=h)
    assert r.mimetype == "application/x-ndjson"
    lines = [json.loads(x) for x in r.get_data(as_text=True).splitlines()]
    assert [x["id"] for x in lines] == [a] and lines[0]["categories"]["marketing"] is False

    assert client.get("/v1/consents/export?format=xml", headers=h).status_code == 400
    assert client.get("/v1/consents/export").status_code == 401


# ---- statistics ------------------------------------------------------------------------

def test_stats_counts_and_opt_in_rates(make_app, geo_db):
    c = make_app(SP_GEOIP_DB=geo_db).test_client()
    none = {"necessary": True, "preferences": False, "statistics": False, "marketing": False}
    ingest(c, ip="193.10.5.1")                                    # SE, accept all
    ingest(c, ip="193.10.5.2", method="reject_all", categories=none)  # SE, reject
    ingest(c, ip="81.2.69.3", method="custom",
           categories={**none, "statistics": True})                  # FI, stats only
    ingest(c, ip="81.2.69.4", action="withdraw", method="withdraw", categories=none)
    h = admin_headers()

    by_cat = {g["key"]: g for g in
              c.get("/v1/stats?group_by=category", headers=h).get_json()["groups"]}
    assert by_cat["statistics"]["decisions"] == 3 and by_cat["statistics"]["granted"] == 2
    assert by_cat["statistics"]["opt_in_rate"] == pytest.approx(0.6667, abs=1e-4)
    assert by_cat["marketing"]["opt_in_rate"] == pytest.approx(0.3333, abs=1e-4)
    assert by_cat["necessary"]["opt_in_rate"] == 1.0

    by_country = {g["key"]: g for g in
                  c.get("/v1/stats?group_by=country", headers=h).get_json()["groups"]}
    assert by_country["SE"]["total"] == 2 and by_country["SE"]["opt_in_rate"]["marketing"] == 0.5
    assert by_country["FI"]["withdrawals"] == 1 and by_country["FI"]["decisions"] == 1

    by_method = {g["key"]: g["total"] for g in
                 c.get("/v1/stats?group_by=method", headers=h).get_json()["groups"]}
    assert by_method == {"accept_all": 1, "reject_all": 1, "custom": 1, "withdraw": 1}

    days = c.get("/v1/stats?group_by=day", headers=h).get_json()["groups"]
    assert len(days) == 1 and days[0]["total"] == 4
    assert c.get("/v1/stats?group_by=day&to=2000-01-01", headers=h).get_json()["groups"] == []
    assert c.get("/v1/stats?group_by=week", headers=h).status_code == 400


# ---- operability -----------------------------------------------------------------------

def test_metrics_count_ingest_and_errors(client):
    ingest(client)
    client.post("/v1/consents", json={"token": "bad"})
    text = client.get("/metrics").get_data(as_text=True)
    assert 'sp_ingest_total{result="created"}' in text
    assert 'sp_errors_total{code="invalid_signature"}' in text
    assert "sp_ingest_seconds_bucket" in text
    assert "sp_screenshot_queue_depth 0.0" in text  # its render is queued when it is sealed
    assert "sp_ledger_unsealed 1.0" in text
    assert client.get("/v1/integrity", headers=admin_headers()).status_code == 200
    text = client.get("/metrics").get_data(as_text=True)
    assert "sp_screenshot_queue_depth 1.0" in text and "sp_ledger_unsealed 0.0" in text


def test_openapi_describes_exactly_the_served_routes(app, client):
    spec = client.get("/openapi.json").get_json()
    assert spec == json.loads(json.dumps(SPEC))
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((path, method.lower()))
    described = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    assert served == described


def test_admin_operations_require_the_token_as_documented(client):
    spec = client.get("/openapi.json").get_json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if op.get("security"):
                url = re.sub(r"\{\w+\}", "00000000-0000-4000-8000-000000000000", path)
                # `{}` among the schemes: no token needed from this host (/metrics, F16).
                peer = "203.0.113.9" if {} in op["security"] else "127.0.0.1"
                r = client.open(url, method=method.upper(), json={},
                                environ_base={"REMOTE_ADDR": peer})
                assert r.status_code == 401, (method, path)


def test_request_log_is_json_without_secrets(client, caplog):
    import logging
    caplog.set_level(logging.INFO, logger="sidecar.access")
    token = make_token(consent_payload())
    client.post("/v1/consents", json={"token": token})
    client.get("/v1/consents", headers=admin_headers())
    lines = [r for r in caplog.records if r.name == "sidecar.access"]
    assert [r.fields["path"] for r in lines] == ["/v1/consents", "/v1/consents"]
    assert lines[0].fields["status"] == 201 and "ms" in lines[0].fields
    joined = " ".join(json.dumps(r.fields) + r.getMessage() for r in lines)
    assert token not in joined and admin_headers()["Authorization"][7:] not in joined


def _bulk_insert(sql, n: int, start: int):
    sql("INSERT INTO t_sp_consents (id, event_id, subject_id, action, method, categories,"
        " page_url, policy_version, banner_version, language, signals, ip,"
        " occurred_at, received_at, screenshot_status, hash, personal_digest)"
        " SELECT UNHEX(REPLACE(UUID(), '-', '')), UNHEX(REPLACE(UUID(), '-', '')),"
        " UNHEX(REPLACE(UUID(), '-', '')), 'grant', 'accept_all',"
        " 3, CONCAT('http://site.test/p/', seq), '1', 'b', 'en',"  # necessary, preferences
        " 0, '192.0.2.1', NOW(6), NOW(6), 'skipped',"
        f" UNHEX(REPEAT('0', 64)), UNHEX(REPEAT('0', 64)) FROM seq_{start}_to_{start + n - 1}")


def _export_peak(client) -> tuple[int, int]:
    """(rows, peak traced bytes) of a streamed CSV export consumed chunk by chunk."""
    import tracemalloc
    tracemalloc.start()
    r = client.get("/v1/consents/export?format=csv", headers=admin_headers(), buffered=False)
    lines = 0
    for chunk in r.response:
        lines += chunk.count("\n") if isinstance(chunk, str) else chunk.count(b"\n")
    r.close()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return lines - 1, peak


def test_export_memory_stays_flat_for_100k_rows(client, sql):
    _bulk_insert(sql, 10_000, 1)
    rows_small, peak_small = _export_peak(client)
    _bulk_insert(sql, 90_000, 10_001)
    rows_big, peak_big = _export_peak(client)
    print(f"export peak: {peak_small} B for 10k rows, {peak_big} B for 100k rows")
    assert (rows_small, rows_big) == (10_000, 100_000)
    # ten times the rows, about the same memory (a buffered export would need ~10x)
    assert peak_big < peak_small * 1.5 + 256 * 1024, (peak_small, peak_big)


def test_action_and_wp_user_filters(client):
    none = {"necessary": True, "preferences": False, "statistics": False, "marketing": False}
    member = ingest(client, wp_user_id=42)
    withdrawn = ingest(client, wp_user_id=42, action="withdraw", method="withdraw",
                       categories=none)
    ingest(client)
    h = admin_headers()

    def ids(q):
        return [i["id"] for i in client.get(f"/v1/consents?{q}", headers=h).get_json()["items"]]
    assert ids("wp_user_id=42") == [withdrawn, member]
    assert ids("action=withdraw") == [withdrawn]
    assert ids("wp_user_id=42&action=grant") == [member]
    for bad in ("wp_user_id=0", "wp_user_id=x", "action=revoke"):
        assert client.get(f"/v1/consents?{bad}", headers=h).status_code == 400
    r = client.post("/v1/erasures", json={"wp_user_id": 42}, headers=h)
    assert r.get_json() == {"erased": 2} and ids("wp_user_id=42") == []
