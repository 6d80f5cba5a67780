"""SECURITY.md's least database privileges are enough, and they make the ledger append-only.

The grants are read from SECURITY.md itself, so the page cannot drift from what runs: a
user with exactly those grants ingests, seals, verifies, lists, exports, erases, and does
the screenshot worker's queue work; and cannot change or delete a chain link or a seal.
"""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path

import pymysql
import pytest
from helpers import admin_headers, consent_payload, make_token
from PIL import Image

from sidecar import config, jobs
from sidecar.db import connect_args
from sidecar.screenshots import Worker

ROOT = Path(__file__).resolve().parent.parent
USER, PASSWORD = "sp_least", "least-privilege-test"


def runtime_grants(db: str, prefix: str) -> list[str]:
    """The GRANT statements SECURITY.md gives the running sidecar's user, for `db`/`prefix`."""
    text = (ROOT / "SECURITY.md").read_text()
    block = re.search(r"## The least database privileges.*?```sql\n(.*?)```", text, re.S).group(1)
    grants = [line.split("--")[0].strip() for line in block.splitlines()
              if line.startswith("GRANT") and "'sp'@" in line]
    assert len(grants) >= 5, block
    return [g.replace("wordpress.", f"`{db}`.").replace("`wp_sp_", f"`{prefix}sp_")
            .replace("'sp'@'host'", f"'{USER}'@'127.0.0.1'") for g in grants]


@pytest.fixture
def least_url(stack, test_db, make_app):
    make_app()  # migrations applied by the stronger user, as SECURITY.md says
    db = test_db.rsplit("/", 1)[1]
    stack.sql(f"DROP USER IF EXISTS '{USER}'@'127.0.0.1';"
              f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}';"
              + "".join(g + ";" for g in runtime_grants(db, "t_")))
    yield test_db.replace(f"{stack.db_user}:{stack.db_password}@", f"{USER}:{PASSWORD}@")
    stack.sql(f"DROP USER IF EXISTS '{USER}'@'127.0.0.1';")


def test_the_documented_grants_run_ingest_ledger_reads_and_erasure(make_app, least_url):
    app = make_app(SP_DATABASE_URL=least_url, SP_AUTO_MIGRATE="0")
    client = app.test_client()
    subject = str(uuid.uuid4())
    ids = []
    for _ in range(3):
        r = client.post("/v1/consents", json={"token": make_token(consent_payload(
            subject_id=subject))})
        assert r.status_code == 201, r.get_json()
        ids.append(r.get_json()["id"])
    h = admin_headers()
    integrity = client.get("/v1/integrity", headers=h).get_json()
    assert integrity["ok"] is True and integrity["sealed"] >= 3, integrity
    assert client.get(f"/v1/consents?subject_id={subject}", headers=h).status_code == 200
    assert client.get("/v1/consents/export?format=ndjson", headers=h).status_code == 200
    assert client.get("/v1/stats?group_by=method", headers=h).status_code == 200
    assert client.delete(f"/v1/consents/{ids[0]}", headers=h).status_code == 204
    r = client.post("/v1/erasures", json={"subject_id": subject}, headers=h)
    assert r.status_code == 200 and r.get_json()["erased"] == 2, r.get_json()
    assert client.get("/v1/integrity", headers=h).get_json()["ok"] is True


def test_the_documented_grants_run_the_workers_queue(make_app, least_url):
    app = make_app()
    assert app.test_client().post("/v1/consents", json={"token": make_token(
        consent_payload())}).status_code == 201
    cfg = config.load(overrides={**{k: v for k, v in app.config.items() if k.startswith("SP_")},
                                 "SP_DATABASE_URL": least_url})
    worker = Worker(cfg)
    worker.next_seal = float("inf")  # run_once: its heartbeat only; sealing is asserted here
    assert worker.run_once() is False  # no job before the record is sealed
    assert jobs.seal(worker.db(), cfg) == 1  # sealing queues the render job
    job = worker.claim()
    assert job is not None
    png = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(png, "PNG")
    render = worker.save_render(job, {"png": png.getvalue(), "banner_text": "Accept all",
                                      "banner_version": "b", "final_url": job["page_url"],
                                      "ms": 1})
    assert worker.link(job, render) >= 1
    worker.conn.close()


@pytest.mark.parametrize("statement", [
    "UPDATE `t_sp_chain` SET mac = mac",
    "DELETE FROM `t_sp_chain`",
    "UPDATE `t_sp_seals` SET head = head",
    "DELETE FROM `t_sp_seals`",
    "DELETE FROM `t_sp_consents`",
])
def test_the_documented_grants_keep_the_ledger_append_only(least_url, statement):
    conn = pymysql.connect(**connect_args(least_url))
    try:
        with conn.cursor() as cur, pytest.raises(pymysql.err.OperationalError) as refused:
            cur.execute(statement)
        assert refused.value.args[0] == 1142, refused.value  # command denied to user
    finally:
        conn.close()
