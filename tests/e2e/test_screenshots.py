"""The screenshot proof pipeline (issue 4) with real Chromium and the real WordPress: what
the picture shows, dedupe, crash and hang recovery, remote WebDriver, SSRF safety.

These tests use tables of their own (prefix `sx_`) in the stack's database and their own
workers, so the stack's worker never takes their jobs.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import (
    TEST_TOKENS,
    TcpCounter,
    admin_headers,
    consent_payload,
    make_token,
    run_sql,
    secret,
    wait_for,
    wipe_tables,
)
from pages import banner_config, stop_worker
from PIL import Image
from stack import free_port

from sidecar import config, create_app
from sidecar.egress import Egress
from sidecar.screenshots import Worker

ROOT = Path(__file__).resolve().parents[2]
SHOT_KEY = secret("shot-key")
DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126 Safari/537.36"
MOBILE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1"

TEST_PAGES = {
    # The front page, but the first request for ?id=X waits ?s= seconds.
    "sp-test-slow.php": "<?php $f = sys_get_temp_dir() . '/sp-slow-' . "
                        "preg_replace('/\\W/', '', $_GET['id']);"
                        " if (!file_exists($f)) { touch($f); sleep((int) $_GET['s']); }"
                        " require __DIR__ . '/index.php';",
    "sp-test-redirect.php": "<?php header('Location: ' . $_GET['to'], true, 302);",
    "sp-test-jsnav.php": "<!doctype html><p>moving</p><script>setTimeout(function () {"
                         " location.href = <?php echo json_encode($_GET['to']); ?>; }, 50);"
                         "</script>",
    "sp-test-iframe.php": "<!doctype html><iframe src=\"<?php echo htmlspecialchars("
                          "$_GET['to']); ?>\"></iframe>",
}


@pytest.fixture(scope="module")
def shots(full_stack):
    """An app and worker settings on tables `sx_*` of the stack's database."""
    for name, code in TEST_PAGES.items():
        (full_stack.wp_dir / name).write_text(code)
    settings = {
        "SP_DATABASE_URL": full_stack.database_url(), "SP_TABLE_PREFIX": "sx_",
        "SP_SECRET_KEYS": SHOT_KEY, "SP_ADMIN_TOKENS": TEST_TOKENS[-1],
        "SP_SITE_ORIGINS": full_stack.wp_url, "SP_SCREENSHOT_TIMEOUT": "8",
        "SP_SCREENSHOT_BACKOFF": "1", "SP_SCREENSHOT_LEASE": "10",
        "SP_ANCHOR_FILE": str(full_stack.state_dir / "anchors-sx.jsonl"),
    }
    app = create_app(settings)
    yield Shots(full_stack, app, settings)
    app.extensions["sp_pool"].close()


class Shots:
    def __init__(self, stack, app, settings):
        self.stack, self.app, self.settings = stack, app, settings
        self.client = app.test_client()

    def sql(self, statement, args=()):
        return run_sql(self.stack.database_url(), statement, args)

    def clean(self):
        wipe_tables(self.stack.database_url(), "sx_")

    def ingest(self, page, **overrides) -> str:
        url = page if page.startswith("http") else self.stack.wp_url + page
        p = consent_payload(page_url=url, **overrides)
        r = self.client.post("/v1/consents",
                             json={"token": make_token(p, keys=[SHOT_KEY])})
        assert r.status_code == 201, r.get_json()
        return r.get_json()["id"]

    def record(self, rid) -> dict:
        return self.client.get(f"/v1/consents/{rid}", headers=admin_headers()).get_json()

    def image(self, rid, size="full"):
        r = self.client.get(f"/v1/consents/{rid}/screenshot?size={size}",
                            headers=admin_headers())
        assert r.status_code == 200, r.get_json()
        return r

    def worker(self, **overrides) -> Worker:
        return Worker(config.load(overrides={**self.settings, **overrides}))

    def drain(self, worker: Worker, timeout: float = 60):
        """Run the worker until no job is queued or running."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                busy = worker.run_once()
                left = self.sql("SELECT COUNT(*) AS n FROM sx_sp_render_jobs"
                                " WHERE status IN ('queued', 'running')")[0]["n"]
                if not left:
                    return
                if not busy:
                    time.sleep(0.2)
            pytest.fail("the screenshot queue did not drain")
        finally:
            stop_worker(worker)

    def banner_version(self, page="/") -> str:
        return banner_config(self.stack.wp_url + page)["bannerVersion"]


@pytest.fixture
def sx(shots):
    shots.clean()
    return shots


def blue_share(img: Image.Image, box) -> float:
    """Share of pixels in `box` close to the widget's button blue (#1d4ed8)."""
    region = img.convert("RGB").crop(box)
    px = list(region.get_flattened_data())
    near = sum(1 for r, g, b in px if abs(r - 29) < 40 and abs(g - 78) < 40 and abs(b - 216) < 40)
    return near / len(px)


def test_screenshot_shows_the_banner_the_visitor_saw(sx):
    version = sx.banner_version("/?page_id=2")
    rid = sx.ingest("/?page_id=2", banner_version=version, user_agent=DESKTOP_UA)
    sx.drain(sx.worker())
    rec = sx.record(rid)
    shot = rec["screenshot"]
    assert shot["status"] == "done" and shot["viewport"] == "desktop"
    assert (shot["width"], shot["height"]) == (1280, 800)
    assert shot["rendered_banner_version"] == version and shot["banner_version_match"] is True
    r = sx.image(rid)
    assert r.mimetype == "image/webp" and "immutable" in r.headers["Cache-Control"]
    img = Image.open(io.BytesIO(r.data))
    assert img.size == (1280, 800)
    # The banner's blue buttons are in the bottom-right corner, not elsewhere.
    assert blue_share(img, (800, 450, 1280, 800)) > 0.03
    assert blue_share(img, (0, 0, 640, 400)) < 0.005
    # What the banner said is stored with its hash.
    (render,) = sx.sql("SELECT banner_text, banner_text_hash, final_url FROM sx_sp_renders")
    assert "Accept all" in render["banner_text"] and "Reject all" in render["banner_text"]
    assert render["banner_text_hash"] == hashlib.sha256(
        render["banner_text"].encode()).hexdigest() == shot["banner_text_hash"]
    # thumbnail and conditional GET
    thumb = Image.open(io.BytesIO(sx.image(rid, "thumb").data))
    assert thumb.width == 320 and thumb.height == 200
    again = sx.client.get(f"/v1/consents/{rid}/screenshot", headers={
        **admin_headers(), "If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304


def test_one_render_serves_many_consents(sx):
    version = sx.banner_version("/?page_id=2")
    ids = [sx.ingest("/?page_id=2", banner_version=version, user_agent=DESKTOP_UA)
           for _ in range(4)]
    ids.append(sx.ingest("/?page_id=2&utm_source=news#top", banner_version=version,
                         user_agent=DESKTOP_UA))
    mobile = sx.ingest("/?page_id=2", banner_version=version, user_agent=MOBILE_UA)
    stale = sx.ingest("/?page_id=2", banner_version="an-older-banner", user_agent=DESKTOP_UA)
    worker = sx.worker()
    sx.drain(worker)
    assert worker.renders == 3  # desktop, mobile, and the other banner version's key
    recs = [sx.record(i) for i in ids]
    assert {r["screenshot"]["status"] for r in recs} == {"done"}
    assert len({sx.image(i).headers["ETag"] for i in ids}) == 1
    m = sx.record(mobile)["screenshot"]
    assert (m["viewport"], m["width"], m["height"]) == ("mobile", 390, 844)
    assert Image.open(io.BytesIO(sx.image(mobile).data)).size == (390, 844)
    # A consent recorded with another banner than the page shows is flagged.
    s = sx.record(stale)["screenshot"]
    assert s["status"] == "done" and s["banner_version_match"] is False
    assert s["rendered_banner_version"] == version
    # Images are stored once by content.
    assert sx.sql("SELECT COUNT(*) AS n FROM sx_sp_screenshots")[0]["n"] <= 6
    # Later consents within the freshness window reuse the render without a browser.
    late = sx.ingest("/?page_id=2", banner_version=version, user_agent=DESKTOP_UA)
    worker2 = sx.worker()
    sx.drain(worker2)
    assert worker2.renders == 0 and sx.record(late)["screenshot"]["status"] == "done"
    # Erasing every consent a render proves deletes it and its images.
    r = sx.client.post("/v1/erasures", json={"ip": "203.0.113.7"}, headers=admin_headers())
    assert r.get_json()["erased"] == 8
    assert sx.sql("SELECT COUNT(*) AS n FROM sx_sp_renders")[0]["n"] == 0
    assert sx.sql("SELECT COUNT(*) AS n FROM sx_sp_screenshots")[0]["n"] == 0


def test_a_shared_render_keeps_nothing_of_an_erased_visitor(sx):
    """Issue 10, F3: the browser loads the page without the visitor's click ids and
    addresses, the render records what it loaded, and erasing one of the visitors it proves
    leaves none of their URL in any table while the other keeps the proof."""
    version = sx.banner_version("/?page_id=2")
    alice = sx.ingest("/?page_id=2&gclid=GCLID-OF-ALICE&utm_term=alice%40example.com",
                      banner_version=version, user_agent=DESKTOP_UA, ip="198.51.100.1")
    bob = sx.ingest("/?page_id=2&fbclid=FBCLID-OF-BOB", banner_version=version,
                    user_agent=DESKTOP_UA, ip="198.51.100.2")
    worker = sx.worker()
    sx.drain(worker)
    assert worker.renders == 1
    proof = sx.stack.wp_url + "/?page_id=2"
    # final_url is where Chromium ended up: it was asked for the proof URL, not Alice's.
    assert sx.sql("SELECT page_url, final_url FROM sx_sp_renders") == [
        {"page_url": proof, "final_url": proof}]
    subject = sx.record(alice)["subject_id"]
    r = sx.client.post("/v1/erasures", json={"subject_id": subject}, headers=admin_headers())
    assert r.get_json() == {"erased": 1}
    for t in ("consents", "render_jobs", "screenshots", "renders", "seals"):
        text = repr(sx.sql(f"SELECT * FROM sx_sp_{t}"))
        for needle in ("GCLID-OF-ALICE", "alice@example.com", "alice%40example.com",
                       "198.51.100.1"):
            assert needle not in text, (t, needle)
    assert sx.record(bob)["screenshot"]["status"] == "done"
    assert sx.image(bob).mimetype == "image/webp"


def test_hung_page_times_out_and_is_retried(sx):
    rid = sx.ingest(f"/sp-test-slow.php?id=hang{time.time_ns()}&s=14", user_agent=DESKTOP_UA)
    worker = sx.worker()
    sx.drain(worker, timeout=90)
    (job,) = sx.sql("SELECT status, attempts, last_error FROM sx_sp_render_jobs")
    assert job["status"] == "done" and job["attempts"] == 2
    assert sx.record(rid)["screenshot"]["status"] == "done"


def test_worker_killed_mid_job_loses_nothing(sx):
    rid = sx.ingest(f"/sp-test-slow.php?id=kill{time.time_ns()}&s=3", user_agent=DESKTOP_UA)
    env = dict(os.environ, **{**sx.settings, "SP_SCREENSHOT_TIMEOUT": "20"})
    first = subprocess.Popen([sys.executable, "-m", "sidecar.cli", "worker"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        wait_for(lambda: sx.sql("SELECT COUNT(*) AS n FROM sx_sp_render_jobs"
                                " WHERE status = 'running'")[0]["n"] == 1,
                 30, what="the first worker to take the job")
        os.killpg(first.pid, signal.SIGKILL)  # the worker and its browser, mid-render
        first.wait()
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert sx.record(rid)["screenshot"]["status"] == "pending"
    second = subprocess.Popen([sys.executable, "-m", "sidecar.cli", "worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        wait_for(lambda: sx.record(rid)["screenshot"]["status"] == "done", 60,
                 what="the second worker to finish the job after the lease expired")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    (job,) = sx.sql("SELECT status, attempts FROM sx_sp_render_jobs")
    assert job == {"status": "done", "attempts": 2}
    assert sx.sql("SELECT COUNT(*) AS n FROM sx_sp_renders")[0]["n"] == 1


def test_remote_webdriver(sx, monkeypatch):
    """A remote end (a standalone chromedriver, as a Grid node would be) renders through the
    worker's egress proxy bound where SP_EGRESS_BIND says and named as SP_EGRESS_ADVERTISE
    says, and authenticates to it (docs/grid.md)."""
    made = []
    real = Egress.from_config.__func__
    monkeypatch.setattr(Egress, "from_config", classmethod(
        lambda cls, *a, **kw: made.append(real(cls, *a, **kw)) or made[-1]))
    port = free_port()
    driver = subprocess.Popen(["chromedriver", f"--port={port}"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _open(port), 10, what="chromedriver")
        rid = sx.ingest("/?page_id=2", user_agent=DESKTOP_UA)
        worker = sx.worker(SP_SELENIUM_REMOTE_URL=f"http://127.0.0.1:{port}",
                           SP_EGRESS_BIND="127.0.0.2", SP_EGRESS_ADVERTISE="127.0.0.2")
        sx.drain(worker)
        assert worker.renders == 1
        [egress] = made
        assert egress.bind == "127.0.0.2" and egress.url.startswith("http://127.0.0.2:")
        assert egress.primed >= 1  # the browser authenticated at start ...
        assert egress.blocked == []  # ... and the page loaded through the guard
        assert sx.record(rid)["screenshot"]["status"] == "done"
        img = Image.open(io.BytesIO(sx.image(rid).data))
        assert blue_share(img, (800, 450, 1280, 800)) > 0.03
    finally:
        driver.terminate()
        driver.wait(10)


def _open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def tcp_counter():
    """A TCP listener on 127.0.0.1 that counts the connections it receives."""
    lst = TcpCounter()
    yield lst
    lst.close()


@pytest.mark.parametrize("page,target", [
    ("/sp-test-redirect.php?to={u}", "local"),
    ("/sp-test-jsnav.php?to={u}", "local"),
    ("/sp-test-iframe.php?to={u}", "local"),
    ("/sp-test-redirect.php?to={u}", "metadata"),
    ("/sp-test-jsnav.php?to={u}", "metadata"),
    ("/sp-test-jsnav.php?to={u}", "file"),
    ("/sp-test-redirect.php?to={u}", "file"),
])
def test_ssrf_attempts_fail_the_job_and_reach_nothing(sx, tcp_counter, page, target, caplog):
    import logging
    from urllib.parse import quote
    caplog.set_level(logging.WARNING, logger="sidecar.worker")
    url = {"local": f"http://127.0.0.1:{tcp_counter.port}/admin",
           "metadata": "http://169.254.169.254/latest/meta-data/",
           "file": "file:///etc/passwd"}[target]
    rid = sx.ingest(page.format(u=quote(url, safe="")), user_agent=DESKTOP_UA)
    sx.drain(sx.worker())
    shot = sx.record(rid)["screenshot"]
    assert shot["status"] == "failed", shot
    assert re.search(r"blocked|off the site", shot["error"]), shot["error"]
    assert tcp_counter.hits == 0
    # An SSRF attempt is final at once. (An attempt before it may have failed otherwise, e.g.
    # the browser timing out on a loaded machine: that one is retried, as it should be.)
    failures = [r.fields for r in caplog.records if r.getMessage() == "screenshot failed"]
    (job,) = sx.sql("SELECT attempts FROM sx_sp_render_jobs")
    assert job["attempts"] == len(failures)
    blocked = [f for f in failures if re.search(r"blocked|off the site", f["reason"])]
    assert blocked and all(f["final"] for f in blocked), failures
    assert failures[-1] is blocked[0]
