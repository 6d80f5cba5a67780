"""The screenshot worker: seals new records into the ledger and queues one render job per
render key among them (`jobs.seal`), claims jobs from that durable queue in the site's
database (`jobs.py` holds the queue's SQL), renders the page fresh in one warm headless
Chromium, and stores the picture as proof. It never writes a consent row: a consent finds
its render through the job of its key in its seal (`records.py`).

- Jobs are claimed with `SELECT … FOR UPDATE SKIP LOCKED` and a lease (`locked_until`), so
  any number of workers on any number of machines share the queue; a job whose worker died
  is claimed again when its lease expires. Failures retry with exponential backoff and end
  as `failed` (the dead letter) after SP_SCREENSHOT_ATTEMPTS.
- One render serves every consent with the same key (proof URL, banner version,
  viewport, language) within SP_SCREENSHOT_FRESHNESS seconds; a render job is written per
  key and seal, not per consent, and a render completes every queued job of its key; a named
  lock per key keeps two workers from rendering the same thing at once.
- The browser loads the proof URL (`renders.proof_url`: the page without the visitor's click
  ids, campaign tags or personal parameters), and the render and its images record exactly
  that URL, so a render shared by several visitors holds nothing of any one of them.
- The browser's network goes through `egress.Egress` (SSRF guard); a render that loads past
  its hard time limit kills the browser, which is started afresh for the next job. A page
  whose load never completes (a stalled resource) is stopped at SP_SCREENSHOT_TIMEOUT and
  shot as it stands once its banner shows. A crashed or killed Chromium or chromedriver fails
  the attempt (retried with backoff), never the worker.
- When no render job is due, the worker advances a site scan by one page (`scanrun.step`,
  its own browser: `scanner.Scanner`), so proof screenshots never wait behind a scan.
- Renders and scan pages wait out a burst of consents (`RenderPacer`): while the worker's
  seals show SP_RENDER_DEFER_RATE consents a second or more, it seals but starts no browser
  work, for at most SP_RENDER_DEFER seconds per burst. A page load costs the site's web
  server, the browser and the database far more than a consent does, and at a traffic peak
  that is CPU the visitors' consent requests need; the renders are made when the burst
  passes (their `taken_at` says when), and a burst longer than the bound gets its renders
  then, at the browser's low priority.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import threading
import time

import pymysql
import urllib3
from PIL import Image
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.support.ui import WebDriverWait

from . import browser, jobs, ledger, renders, scanrun, scans
from .clock import utcnow
from .config import ConfigError
from .db import Tables, connect
from .egress import Egress
from .scanner import Scanner

log = logging.getLogger("sidecar.worker")
WIDGET_JS = """
const root = document.getElementById('sp-consent');
const dialog = root && root.querySelector('[role="dialog"]');
if (!dialog) return null;
const r = dialog.getBoundingClientRect();
if (!(r.width > 0 && r.height > 0) || getComputedStyle(dialog).visibility === 'hidden'
    || getComputedStyle(dialog).opacity < 0.99) return null;
let version = '';
try { version = JSON.parse(document.getElementById('sp-consent-config').textContent)
        .bannerVersion || ''; } catch (e) {}
return {text: dialog.innerText, version: version};
"""
# What Chromium logs when a page tries to open a local file or a data: URL as the top frame.
REFUSED_NAVIGATION = ("Not allowed to load local resource", "Not allowed to navigate top frame")
RECYCLE_AFTER = 200
SEAL_EVERY = 1.0
THUMB_WIDTH = 320
# MariaDB errors of a user without grants on a table (1142), or of a missing table (1146):
# scans pause for SCANS_PAUSE seconds instead of failing every idle loop of the worker.
NO_SCAN_TABLE = (1142, 1146)
SCANS_PAUSE = 300


class RenderError(Exception):
    """The page could not be shown as proof; the message says why. `retry` says whether
    another attempt may succeed (a page that loaded too slowly may load in time later)."""

    retry = True


class RefusedPage(RenderError):
    """The page went, or tried to go, where the browser must not (a blocked request or
    navigation, off the site): not retried, as it would do the same again."""

    retry = False


class RenderPacer:
    """Whether browser work waits for a burst of consents to pass (module docstring).

    `sealed(n, now)` is told every seal's count; the rate is that count over the time since
    the previous seal this worker made (a worker among several sees its own share). A burst
    begins at the first seal at or above `rate` consents a second and ends at the first one
    below it; browser work waits while a burst is younger than `defer` seconds."""

    def __init__(self, defer: float, rate: float):
        self.defer = defer
        self.rate = rate
        self.last_seal: float | None = None  # monotonic time of the previous seal
        self.burst_since: float | None = None
        self.last_rate = 0.0

    def sealed(self, count: int, now: float) -> None:
        previous, self.last_seal = self.last_seal, now
        if previous is None:
            return
        # A seal right after a full batch (a backlog) comes at once: at least 10 ms apart.
        self.last_rate = count / max(now - previous, 0.01)
        if self.last_rate >= self.rate:
            if self.burst_since is None:
                self.burst_since = now
                log.info("renders wait: a burst of consents", extra={"fields": {
                    "consents_per_s": round(self.last_rate), "for_at_most_s": self.defer}})
        elif self.burst_since is not None:
            log.info("renders resume: the burst passed", extra={"fields": {
                "after_s": round(now - self.burst_since, 1)}})
            self.burst_since = None

    def waiting(self, now: float) -> bool:
        return self.burst_since is not None and now - self.burst_since < self.defer


class Worker:
    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.tables = Tables(cfg["SP_TABLE_PREFIX"])
        self.freshness = int(cfg.get("SP_SCREENSHOT_FRESHNESS", 86400))
        self.conn = None
        self.driver = None
        self.egress: Egress | None = None
        self.shots = 0
        self.renders = 0
        self.stopping = False
        self.next_seal = 0.0  # monotonic time of the next seal
        self.next_beat = 0.0  # monotonic time of the next heartbeat (jobs.heartbeat)
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.started_at = utcnow()
        self.scan: dict | None = None  # the site scan this worker is advancing (scanrun.py)
        self._scanner: Scanner | None = None
        self.scans_paused_until = 0.0  # monotonic; see scan_step
        self.pacer = RenderPacer(cfg.get("SP_RENDER_DEFER", 30),
                                 cfg.get("SP_RENDER_DEFER_RATE", 20))

    # ---- database (the queue's SQL is in jobs.py) ------------------------------------
    def db(self):
        if self.conn is None or not self.conn.open:
            self.conn = connect(self.cfg["SP_DATABASE_URL"])
        return self.conn

    def claim(self) -> dict | None:
        """Take the oldest due job (or one whose worker's lease expired); None if none."""
        return jobs.claim(self.db(), self.tables, self.cfg["SP_SCREENSHOT_LEASE"])

    def fresh_render(self, key: str) -> dict | None:
        return jobs.fresh_render(self.db(), self.tables, key, self.freshness)

    def link(self, job: dict, render: dict) -> int:
        """Mark this job and every queued job of its key done with `render`; return how
        many jobs."""
        return jobs.link(self.db(), self.tables, job, render)

    def fail(self, job: dict, reason: str, retry: bool = True) -> None:
        """Retry with exponential backoff, or give up after SP_SCREENSHOT_ATTEMPTS."""
        reason = reason[:250]
        final = not retry or job["attempts"] >= self.cfg["SP_SCREENSHOT_ATTEMPTS"]
        jobs.fail(self.db(), self.tables, job, reason, final,
                  self.cfg.get("SP_SCREENSHOT_BACKOFF", 5))
        log.warning("screenshot failed", extra={"fields": {
            "job": job["id"], "attempt": job["attempts"], "final": final, "reason": reason}})

    def store_image(self, img: Image.Image, page_url: str) -> int:
        """Store a picture once per content (WebP); return its id."""
        out = io.BytesIO()
        img.save(out, "WEBP", quality=80, method=4)
        return jobs.store_image(self.db(), self.tables, out.getvalue(), "image/webp",
                                img.width, img.height, page_url)

    def save_render(self, job: dict, shot: dict) -> dict:
        img = Image.open(io.BytesIO(shot["png"]))
        img.load()
        img = img.convert("RGB")
        thumb = img.resize((THUMB_WIDTH, max(1, round(img.height * THUMB_WIDTH / img.width))),
                           Image.LANCZOS)
        image_id = self.store_image(img, job["page_url"])
        thumb_id = self.store_image(thumb, job["page_url"])
        return jobs.save_render(self.db(), self.tables, job, shot, img.width, img.height,
                                image_id, thumb_id)

    # ---- browser --------------------------------------------------------------------
    @property
    def scanner(self) -> Scanner:
        if self._scanner is None:
            self._scanner = Scanner(self.cfg, self.open_egress())
        return self._scanner

    def browser(self):
        if self.driver is None:
            self.open_egress()
            # eager: get() returns once the document is parsed; render() waits for the rest.
            # A render can wait; a visitor's consent request cannot (SP_BROWSER_PRIORITY).
            self.driver = browser.new_driver(
                remote_url=self.cfg["SP_SELENIUM_REMOTE_URL"], proxy=self.egress.url,
                page_load_strategy="eager",
                idle=self.cfg.get("SP_BROWSER_PRIORITY", "idle") == "idle")
            self.driver.set_page_load_timeout(self.cfg["SP_SCREENSHOT_TIMEOUT"])
            self.driver.set_script_timeout(10)
            self.shots = 0
        return self.driver

    def open_egress(self) -> Egress:
        """The worker's egress proxy, the SSRF guard both browsers go through
        (SP_SITE_ORIGINS, in tests also SP_SCAN_TEST_ORIGINS, or public addresses), started
        once where SP_EGRESS_BIND says; a ConfigError naming the setting if it cannot listen
        there (the worker checks at start)."""
        if self.egress is None:
            try:
                self.egress = Egress.from_config(
                    self.cfg, self.cfg["SITE_ORIGINS"] + self.cfg.get("SCAN_TEST_ORIGINS", []))
            except OSError as e:
                host, port = self.cfg.get("EGRESS_BIND") or ("127.0.0.1", 0)
                where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                raise ConfigError(f"SP_EGRESS_BIND: cannot listen on {where}:"
                                  f" {e.strerror or e}") from None
        return self.egress

    def recycle(self) -> None:
        if self.driver is not None:
            browser.quit_driver(self.driver)
            self.driver = None

    def render(self, job: dict) -> dict:
        """Load the page with no cookies or storage at the job's viewport, wait until the
        consent banner shows, and return {png, banner_text, banner_version, final_url, ms}.
        Raises RenderError (what the page did wrong; RefusedPage, not to be retried, when it
        went where it must not) or WebDriverException (browser)."""
        d = self.browser()
        self.egress.reset()
        width, height = renders.VIEWPORTS[job["viewport"]]
        mobile = job["viewport"] == "mobile"
        browser.cdp(d, "Network.clearBrowserCookies", {})
        browser.cdp(d, "Storage.clearDataForOrigin", {"origin": "*", "storageTypes": "all"})
        browser.cdp(d, "Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
        # The banner's final state at once: the widget skips its entrance transition.
        browser.cdp(d, "Emulation.setEmulatedMedia", {
            "features": [{"name": "prefers-reduced-motion", "value": "reduce"}]})
        browser.cdp(d, "Network.setUserAgentOverride", {
            "userAgent": renders.MOBILE_RENDER_UA if mobile else self.desktop_ua(d),
            "acceptLanguage": job["language"] or "en"})
        # Straight from the last render's page to this one: a detour through about:blank
        # cost a new renderer process each time (0.48 -> 0.30 s of browser CPU per render,
        # bench/README.md). Cookies and storage are cleared above either way, and a stale
        # consent could not pass for the banner: the render waits for the banner to show.
        browser.console_log(d)  # start with an empty console
        started = time.perf_counter()
        timeout = self.cfg["SP_SCREENSHOT_TIMEOUT"]
        try:
            d.get(job["page_url"])  # returns once the document is parsed (eager)
        except TimeoutException:
            raise RenderError(f"the page did not load within {timeout} s") from None
        self.check_egress(d)
        try:
            banner = WebDriverWait(d, 10, poll_frequency=0.05).until(
                lambda drv: drv.execute_script(WIDGET_JS))
        except TimeoutException:
            self.check_egress(d)
            raise RenderError("the consent banner did not show on the page") from None
        # Images, styles and fonts finish loading as they did for the visitor. A resource that
        # never finishes (a stalled image or tracker) would hold the load event back for ever,
        # while the visitor saw the page and its banner: at the page-load timeout, loading
        # stops and the page is taken as it stands.
        left = max(0.5, timeout - (time.perf_counter() - started))
        try:
            WebDriverWait(d, left, poll_frequency=0.1).until(
                lambda drv: drv.execute_script("return document.readyState") == "complete")
        except TimeoutException:
            d.execute_script("window.stop();")
            log.warning("page still loading; screenshot taken after stopping it", extra={
                "fields": {"job": job["id"], "timeout": timeout}})
        self.check_egress(d)
        self.check_egress(d)
        png = d.get_screenshot_as_png()
        self.shots += 1
        self.renders += 1
        return {"png": png, "banner_text": banner["text"], "banner_version": banner["version"],
                "final_url": d.current_url,
                "ms": int((time.perf_counter() - started) * 1000)}

    def desktop_ua(self, d) -> str:
        if not hasattr(self, "_desktop_ua"):
            self._desktop_ua = d.execute_script("return navigator.userAgent").replace(
                "HeadlessChrome", "Chrome")
        return self._desktop_ua

    def check_egress(self, d) -> None:
        """Fail the render if the page went (or tried to go) anywhere it must not."""
        if self.egress.blocked:
            raise RefusedPage(f"blocked request to {self.egress.blocked[0]}")
        for entry in browser.console_log(d):
            message = entry.get("message", "")
            if any(marker in message for marker in REFUSED_NAVIGATION):
                raise RefusedPage(f"blocked navigation: {message[:200]}")
        # location.href, not current_url: on a refused redirect Chromium shows its error page
        # (chrome-error://) while current_url still names the page that redirected.
        for url in (d.current_url, d.execute_script("return location.href")):
            if not renders.may_load(url, self.cfg["SITE_ORIGINS"]):
                raise RefusedPage(f"the page navigated off the site to {url[:200]}")

    def render_with_deadline(self, job: dict) -> dict:
        """render(), but a browser that hangs past the hard limit is killed (the call then
        fails with a WebDriverException and the browser is started afresh)."""
        limit = self.cfg["SP_SCREENSHOT_TIMEOUT"] + 20
        driver = self.browser()
        timer = threading.Timer(limit, browser.kill_driver, (driver,))
        timer.daemon = True
        timer.start()
        try:
            return self.render(job)
        finally:
            timer.cancel()

    # ---- loop -----------------------------------------------------------------------
    def run_once(self) -> bool:
        """Seal new records when a seal is due (queueing the renders that prove them, in the
        same transaction), then process one job; return False when none was due."""
        if time.monotonic() >= self.next_beat:
            jobs.heartbeat(self.db(), self.tables, self.name, socket.gethostname(),
                           os.getpid(), self.started_at, self.renders)
            self.next_beat = time.monotonic() + jobs.HEARTBEAT_SECONDS
        if time.monotonic() >= self.next_seal:
            sealed = jobs.seal(self.db(), self.cfg)
            self.pacer.sealed(sealed, time.monotonic())
            # ... and verifies the chain from its last keyed checkpoint (throttled inside;
            # docs/ledger.md "Checkpoints").
            ledger.maybe_advance_checkpoint(self.db(), self.cfg)
            # A full batch means a backlog (after a pause or an outage): seal on at once.
            self.next_seal = time.monotonic() + (0 if sealed >= ledger.SEAL_BATCH else SEAL_EVERY)
        if self.pacer.waiting(time.monotonic()):
            return False  # a burst of consents: seal on, start no page load (RenderPacer)
        job = self.claim()
        if job is None:
            return self.scan_step()
        try:
            self.process(job)
        except pymysql.MySQLError:
            raise  # the job's lease brings it back once the database answers again
        except Exception as e:  # noqa: BLE001 - one job must never stop the worker
            log.exception("screenshot job failed unexpectedly")
            self.recycle()
            self.fail(job, f"worker error: {type(e).__name__}: {e}".splitlines()[0])
        return True

    def scan_step(self) -> bool:
        """Advance a site scan by one page; False when there is none to work on."""
        if time.monotonic() < self.scans_paused_until:
            return False
        try:
            return scanrun.step(self)
        except pymysql.MySQLError as e:
            if e.args and e.args[0] in NO_SCAN_TABLE:
                # A database user without the scans table's grants (an upgrade that did not
                # add them): screenshots go on; scans wait, and the log says why.
                log.warning("site scans paused: the database user may not use the scans"
                            " table (grant it as SECURITY.md says)", extra={"fields": {
                                "error": str(e.args[-1])[:200]}})
                self.scans_paused_until = time.monotonic() + SCANS_PAUSE
                self.scan = None
                return False
            raise  # the scan's lease brings it back once the database answers again
        except Exception as e:  # noqa: BLE001 - one scan must never stop the worker
            log.exception("scan failed unexpectedly")
            scan = self.scan
            if self._scanner is not None:
                self._scanner.close()
            if scan is not None:
                scans.fail(self.db(), self.tables, scan,
                           f"worker error: {type(e).__name__}: {e}".splitlines()[0])
            self.scan = None
            return True

    def process(self, job: dict) -> None:
        if not renders.may_load(job["page_url"], self.cfg["SITE_ORIGINS"]):
            self.fail(job, "page_url is not on SP_SITE_ORIGINS", retry=False)
            return
        # What is loaded is what the render records: the proof URL, nothing of the visitor's
        # own (renders.py). Jobs hold it already (queue_renders); this keeps it so.
        job["page_url"] = renders.proof_url(job["page_url"])
        if job["page_url"] is None:
            self.fail(job, "page_url holds an e-mail address in its path; not rendered",
                      retry=False)
            return
        render = self.fresh_render(job["render_key"])
        if render is None:
            with jobs.render_lock(self.db(), self.tables, job["render_key"],
                                  self.cfg["SP_SCREENSHOT_TIMEOUT"] + 30):
                render = self.fresh_render(job["render_key"])  # another worker may have
                if render is None:
                    render = self.render_job(job)
        if render is not None:
            linked = self.link(job, render)
            log.info("screenshot linked", extra={"fields": {
                "job": job["id"], "render": render["id"], "jobs": linked}})
        if self.shots >= RECYCLE_AFTER:
            self.recycle()

    def render_job(self, job: dict) -> dict | None:
        try:
            shot = self.render_with_deadline(job)
        except RenderError as e:
            self.fail(job, str(e), retry=e.retry)
            return None
        except WebDriverException as e:
            self.recycle()
            self.fail(job, f"browser error: {(e.msg or type(e).__name__).splitlines()[0]}")
            return None
        except (urllib3.exceptions.HTTPError, OSError) as e:
            # chromedriver itself is gone (crashed, or killed by the hard time limit): its
            # connection breaks instead of a WebDriver error. A new browser takes the retry.
            self.recycle()
            self.fail(job, f"browser error: chromedriver connection lost ({type(e).__name__})")
            return None
        return self.save_render(job, shot)

    def run(self, idle_sleep: float = 0.5) -> None:
        """Work until `stopping` is set; the current job always finishes first."""
        log.info("worker started", extra={"fields": {
            "scan_browsers": self.cfg.get("SP_SCAN_BROWSERS")}})
        try:
            while not self.stopping:
                try:
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
            if self.scan is not None:  # stopping between two pages: the scan goes on elsewhere
                try:
                    scans.release(self.db(), self.tables, self.scan)
                except pymysql.MySQLError:
                    pass  # its lease brings it back
                self.scan = None
            if self._scanner is not None:
                self._scanner.close()
            if self.egress is not None:
                self.egress.close()
            if self.conn is not None:
                self.conn.close()
            log.info("worker stopped", extra={"fields": {"renders": self.renders}})
