"""The screenshot worker: claims jobs from the durable queue in the site's database, loads
the consent's page fresh in one warm headless Chromium, and stores the image as proof.

Jobs are claimed with `SELECT … FOR UPDATE SKIP LOCKED`, so any number of workers on any
number of machines can share the queue; a job whose worker died becomes claimable again
when its lock expires.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
from datetime import timedelta

import pymysql
from PIL import Image
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.support.ui import WebDriverWait

from . import browser, ledger
from .clock import utcnow
from .db import connect_args
from .records import may_load

log = logging.getLogger("sidecar.worker")
WIDGET_READY_JS = """
const root = document.getElementById('sp-consent');
if (!root) return false;
const dialog = root.querySelector('[role="dialog"]');
if (!dialog) return false;
const r = dialog.getBoundingClientRect();
return r.width > 0 && r.height > 0 && getComputedStyle(dialog).visibility !== 'hidden';
"""
RECYCLE_AFTER = 200
SEAL_EVERY = 1.0


class Worker:
    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.prefix = cfg["SP_TABLE_PREFIX"]
        self.conn = None
        self.driver = None
        self.shots = 0
        self.stopping = False

    # ---- queue ----------------------------------------------------------------------
    def t(self, name: str) -> str:
        return f"`{self.prefix}sp_{name}`"

    def db(self):
        if self.conn is None or not self.conn.open:
            self.conn = pymysql.connect(**connect_args(self.cfg["SP_DATABASE_URL"]))
        return self.conn

    def claim(self) -> dict | None:
        """Take the oldest due job (or one whose worker's lock expired); None if none."""
        conn = self.db()
        now = utcnow()
        lease = now + timedelta(seconds=self.cfg["SP_SCREENSHOT_TIMEOUT"] * 3 + 30)
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT id, consent_seq, page_url, attempts FROM {self.t('screenshot_jobs')}"
                " WHERE (status = 'queued' AND available_at <= %s)"
                " OR (status = 'running' AND locked_until < %s)"
                " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED", (now, now))
            job = cur.fetchone()
            if job:
                cur.execute(
                    f"UPDATE {self.t('screenshot_jobs')} SET status = 'running',"
                    " attempts = attempts + 1, locked_until = %s WHERE id = %s",
                    (lease, job["id"]))
                job["attempts"] += 1
        conn.commit()
        return job

    def finish(self, job: dict, image_id: int) -> None:
        conn = self.db()
        with conn.cursor() as cur:
            cur.execute(f"UPDATE {self.t('consents')} SET screenshot_status = 'done',"
                        " screenshot_id = %s, screenshot_error = NULL"
                        " WHERE seq = %s AND erased_at IS NULL", (image_id, job["consent_seq"]))
            cur.execute(f"UPDATE {self.t('screenshot_jobs')} SET status = 'done',"
                        " locked_until = NULL, last_error = NULL WHERE id = %s", (job["id"],))
        conn.commit()

    def fail(self, job: dict, reason: str, retry: bool = True) -> None:
        """Retry with exponential backoff, or give up after SP_SCREENSHOT_ATTEMPTS."""
        reason = reason[:250]
        conn = self.db()
        final = not retry or job["attempts"] >= self.cfg["SP_SCREENSHOT_ATTEMPTS"]
        with conn.cursor() as cur:
            if final:
                cur.execute(f"UPDATE {self.t('screenshot_jobs')} SET status = 'failed',"
                            " locked_until = NULL, last_error = %s WHERE id = %s",
                            (reason, job["id"]))
                cur.execute(f"UPDATE {self.t('consents')} SET screenshot_status = 'failed',"
                            " screenshot_error = %s WHERE seq = %s", (reason, job["consent_seq"]))
            else:
                delay = timedelta(seconds=5 * 2 ** (job["attempts"] - 1))
                cur.execute(f"UPDATE {self.t('screenshot_jobs')} SET status = 'queued',"
                            " locked_until = NULL, available_at = %s, last_error = %s"
                            " WHERE id = %s", (utcnow() + delay, reason, job["id"]))
        conn.commit()
        log.warning("screenshot failed", extra={"fields": {
            "job": job["id"], "attempt": job["attempts"], "final": final, "reason": reason}})

    def store_image(self, png: bytes, page_url: str) -> int:
        """Store the picture once per content (WebP); return its id."""
        img = Image.open(io.BytesIO(png))
        img.load()
        out = io.BytesIO()
        img.convert("RGB").save(out, "WEBP", quality=80, method=4)
        data = out.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        conn = self.db()
        with conn.cursor() as cur:
            cur.execute(f"INSERT IGNORE INTO {self.t('screenshots')} (sha256, mime, width,"
                        " height, image, page_url, created_at) VALUES (%s,%s,%s,%s,%s,%s,%s)",
                        (digest, "image/webp", img.width, img.height, data, page_url[:2048],
                         utcnow()))
            cur.execute(f"SELECT id FROM {self.t('screenshots')} WHERE sha256 = %s", (digest,))
            image_id = cur.fetchone()["id"]
        conn.commit()
        return image_id

    # ---- browser --------------------------------------------------------------------
    def browser(self):
        if self.driver is None:
            self.driver = browser.new_driver(remote_url=self.cfg["SP_SELENIUM_REMOTE_URL"])
            self.driver.set_page_load_timeout(self.cfg["SP_SCREENSHOT_TIMEOUT"])
            self.shots = 0
        return self.driver

    def recycle(self) -> None:
        if self.driver is not None:
            browser.quit_driver(self.driver)
            self.driver = None

    def render(self, url: str) -> bytes:
        """PNG of `url` loaded with no cookies or storage, once the consent widget shows."""
        d = self.browser()
        d.execute_cdp_cmd("Network.clearBrowserCookies", {})
        d.execute_cdp_cmd("Storage.clearDataForOrigin",
                          {"origin": "*", "storageTypes": "all"})
        d.get("about:blank")
        d.get(url)
        try:
            WebDriverWait(d, 10).until(lambda drv: drv.execute_script(WIDGET_READY_JS))
        except TimeoutException:
            raise RenderError("the consent widget did not render on the page") from None
        time.sleep(0.3)  # let the dialog's entrance transition settle
        self.shots += 1
        return d.get_screenshot_as_png()

    # ---- loop -----------------------------------------------------------------------
    def run_once(self) -> bool:
        """Process one job; return False when the queue had nothing due."""
        job = self.claim()
        if job is None:
            return False
        if not may_load(job["page_url"], self.cfg["SITE_ORIGINS"]):
            self.fail(job, "page_url is not on SP_SITE_ORIGINS", retry=False)
            return True
        try:
            png = self.render(job["page_url"])
        except RenderError as e:
            self.fail(job, str(e))
            return True
        except WebDriverException as e:
            self.recycle()
            self.fail(job, f"browser error: {e.msg or type(e).__name__}")
            return True
        self.finish(job, self.store_image(png, job["page_url"]))
        log.info("screenshot stored", extra={"fields": {"job": job["id"]}})
        if self.shots >= RECYCLE_AFTER:
            self.recycle()
        return True

    def run(self, idle_sleep: float = 0.5) -> None:
        """Work until `stopping` is set; the current job always finishes first."""
        log.info("worker started")
        next_seal = 0.0
        try:
            while not self.stopping:
                try:
                    if time.monotonic() >= next_seal:
                        # The worker also seals new records into the ledger's hash chain.
                        ledger.seal(self.db(), self.prefix)
                        next_seal = time.monotonic() + SEAL_EVERY
                    busy = self.run_once()
                except pymysql.MySQLError as e:
                    log.error("database error", extra={"fields": {"error": str(e)}})
                    self.conn = None
                    busy = False
                    time.sleep(2)
                if not busy:
                    time.sleep(idle_sleep)
        finally:
            self.recycle()
            if self.conn is not None:
                self.conn.close()
            log.info("worker stopped")


class RenderError(Exception):
    """The page loaded but did not show what the proof needs."""
