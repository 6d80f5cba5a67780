"""The site scanner's browser part: visit one page in three states and record what it sets
and calls, over the DevTools protocol (SCAN_INTERFACE §1 is the shape returned).

- **A fresh profile per state.** A page's states start with nothing from another page or
  state: no cookie, localStorage, sessionStorage, IndexedDB, Cache Storage, service worker,
  HTTP cache, history or window name (`tests/e2e/test_scan_profile.py` plants each in a page
  and in a cross-site frame and finds none in the next job). A warm headless Chromium
  (`browser.new_driver(capture=True)`) gives each lane one DevTools browser context, its
  *profile* (`Target.createBrowserContext` over the local browser's own endpoint,
  `browser.BrowserTarget`, which also answers the egress proxy's challenge in it once), with
  one tab; the HTTP cache is off in it (`Network.setCacheDisabled`), and after every job the
  profile is emptied (`Scanner.end_job`: the tab leaves the page and forgets its history and
  window name, other tabs close, `Network.clearBrowserCookies`, the HTTP cache, and
  `Storage.clearDataForOrigin` / `clearDataForStorageKey` "all" for every origin the job's
  requests reached, first-party and in third-party frames' partitions) and checked (a cookie
  left: the profile is thrown away). A new context, or a new tab, costs a renderer process
  (~0.9 CPU s for a context's first, here); a reused tab keeps its renderer: a job costs a
  third of what it did in a context of its own (bench/README.md "One profile per lane"). A
  profile is still replaced after PROFILE_JOBS jobs and after any error. A remote browser
  (Selenium Grid) gets a fresh WebDriver BiDi user context per job instead.
  `before_consent` is the first page view of the job `after_reject` then clicks in, captured
  before the click; `after_accept` has a job of its own.
- **Several pages at once.** SP_SCAN_BROWSERS browsers, each working through the queued
  jobs of the pages in flight (`Scanner.submit`); the worker stores each page as it is done.
- **Always anonymous.** A profile has no WordPress login cookie, and the scanner never
  signs in, so analytics that skip signed-in users are seen.
- **The states.**
  - `before_consent`: load the page, wait until its network settles, capture.
  - `after_reject` / `after_accept`: click the site's own widget button
    (`[data-sp-action="reject-all"]` / `"accept-all"`) on the page's first view (after
    `before_consent` was captured there; in the `after_accept` job, as soon as the button is
    drawn), let it settle, then load the page again (the *next page view*, where a choice
    applied at load time takes effect) and let that settle. The state holds every request
    made from the click on (the requests of the first view before the click belong to
    `before_consent`), and the cookies and storage as they are at the end.
- **Captured.** Every cookie of the context, HttpOnly and third-party ones too
  (`Network.getAllCookies`), each marked `set-cookie` when a response's `Set-Cookie` header
  (`Network.responseReceivedExtraInfo`) named it (with that response's URL) and `script`
  otherwise; localStorage and sessionStorage keys and IndexedDB database names of the page
  and of every frame in it (up to MAX_FRAMES), read over DevTools by each frame's storage key
  (a third-party frame's partition included: no frame switching); every request
  attempted (`Network.requestWillBeSent`: also those that failed or that the egress guard
  refused) with host, resource type and initiator (the script on top of the initiating stack,
  or the document whose parser asked).
- **Nothing reaches what it must not.** The browser's network goes through the worker's
  `egress.Egress` (the screenshot worker's SSRF guard); a refused request is recorded as
  attempted and failed; a page that navigates off the site gets the state's `error`.
- **No consent records.** The widget's POST to the plugin's consent route is blocked
  (`Network.setBlockedURLs`): a scanner's clicks are not visitors' consents and must not
  enter the site's ledger. (The widget then keeps its choice in its outbox,
  localStorage `sp_consent_pending`, as it does for any visitor whose send failed.)
- **The self-test's signature** (`after_reject`, `after_accept`): the console errors of the
  state's page view and a signature of its visible elements (`sidecar/selftest.py`), with
  no extra page load.
"""

from __future__ import annotations

import copy
import logging
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import urlsplit

from selenium.common.exceptions import (
    InvalidArgumentException,
    JavascriptException,
    TimeoutException,
    WebDriverException,
)

from . import browser, renders, selftest
from .egress import REFUSED_HEADER, Egress

log = logging.getLogger("sidecar.scanner")

STATES = ("before_consent", "after_reject", "after_accept")
BUTTON = {"after_reject": "reject-all", "after_accept": "accept-all"}
# A page's jobs, each starting in an empty profile (see the module docstring).
JOBS = (("before_consent", "after_reject"), ("after_accept",))
# Requests the scanner's browser must not make: the consent route (see module docstring).
BLOCKED_URLS = ["*secure-privacy/v1/consent*", "*secure-privacy%2Fv1%2Fconsent*"]
RESOURCE = {"Script": "script", "Image": "image", "XHR": "xhr", "Fetch": "xhr",
            "Ping": "beacon", "Font": "font"}
MAX_REQUESTS = 2000  # per state; a page that makes more is cut there (and says so)
QUIET = 0.4          # s without a new request (and none in flight) = the network settled
BUTTON_WAIT = 2.0    # s the widget's button may take to show once the page settled
CLICK_QUIET = 0.15   # s of quiet after a click (what it starts runs again on the next view)
QUIET_MAX = 1.5      # s without a new request = settled, even with requests in flight
SETTLE_MAX = 6.0     # s at most spent waiting for the network to settle
POLL = 0.05          # s between two reads of the tab's DevTools events (~1 ms CPU each)
PROFILE_JOBS = 40    # jobs one lane's profile serves before it is replaced by a new one
MAX_FRAMES = 100     # frames of a page whose storage is read
CLICK_JS = """
const el = document.querySelector(arguments[0]);
if (!el) return false;
el.click();
return true;
"""


def host_of(url: str) -> str:
    """`hostname[:port]`, the port only when it is not the scheme's default."""
    p = urlsplit(url)
    host = (p.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(p.scheme)
    try:
        port = p.port
    except ValueError:
        port = None
    return host if port in (None, default) else f"{host}:{port}"


def _initiator(init: dict) -> str | None:
    """The URL responsible for a request: the script on top of the initiating JavaScript
    stack (or of its async parents), else the document or stylesheet whose parser asked."""
    stack = init.get("stack")
    while stack:
        for frame in stack.get("callFrames") or []:
            if frame.get("url"):
                return frame["url"]
        stack = stack.get("parent")
    return init.get("url") or None


def _header(headers: dict, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value
    return None


class Capture:
    """What one tab's performance log says, read event by event."""

    def __init__(self, main_frame: str):
        self.main_frame = main_frame.upper()
        self.requests: dict[str, list[dict]] = {}   # requestId -> its hops (redirects)
        self.order: list[dict] = []                  # requests kept for the state, in order
        self.recording = True
        self.inflight: set[str] = set()
        self.last_request = time.monotonic()
        # (cookie name, requestId, redirect hop, Domain attribute) of every Set-Cookie seen
        self.set_cookies: list[tuple[str, str, int, str | None]] = []
        self.extra_info = 0
        self.truncated = False
        self.loads = 0  # the tab's load events seen

    def feed(self, events: list[dict]) -> None:
        for ev in events:
            method, p = ev.get("method"), ev.get("params") or {}
            if method == "Network.requestWillBeSent":
                self._request(p)
            elif method == "Network.responseReceived":
                if _header(p.get("response", {}).get("headers"), REFUSED_HEADER):
                    self._failed(p.get("requestId"))
                self.inflight.discard(p.get("requestId"))
            elif method == "Network.loadingFinished":
                self.inflight.discard(p.get("requestId"))
            elif method == "Network.loadingFailed":
                self._failed(p.get("requestId"))
                self.inflight.discard(p.get("requestId"))
            elif method == "Network.responseReceivedExtraInfo":
                self._set_cookie(p)
            elif method == "Page.loadEventFired":
                self.loads += 1

    def _request(self, p: dict) -> None:
        rid, url = p.get("requestId"), p.get("request", {}).get("url", "")
        hops = self.requests.setdefault(rid, [])
        if p.get("redirectResponse") and hops and _header(
                p["redirectResponse"].get("headers"), REFUSED_HEADER):
            hops[-1]["failed"] = True
        self.inflight.add(rid)
        self.last_request = time.monotonic()
        if urlsplit(url).scheme not in ("http", "https", "ws", "wss"):
            hops.append({"url": url, "skip": True})
            return
        kind = p.get("type") or "Other"
        if kind == "Document":
            resource = "other" if (p.get("frameId") or "").upper() == self.main_frame \
                else "iframe"
        else:
            resource = RESOURCE.get(kind, "other")
        entry = {"url": url, "host": host_of(url), "resource": resource,
                 "initiator": _initiator(p.get("initiator") or {}), "failed": False}
        hops.append(entry)
        if self.recording:
            if len(self.order) >= MAX_REQUESTS:
                self.truncated = True
            else:
                self.order.append(entry)

    def _failed(self, rid) -> None:
        hops = self.requests.get(rid)
        if hops:
            hops[-1]["failed"] = True

    def _set_cookie(self, p: dict) -> None:
        self.extra_info += 1
        value = _header(p.get("headers"), "set-cookie")
        if not value:
            return
        # The request's URL is looked up when the cookies are read: this event may come
        # before the request's own in the log. A redirect's hops share the requestId: the
        # hop seen last is the one that answered (the first when none is seen yet).
        rid = p.get("requestId")
        hop = max(0, len(self.requests.get(rid) or []) - 1)
        for line in value.split("\n"):
            name = line.split(";", 1)[0].split("=", 1)[0].strip()
            domain = None
            for attr in line.split(";")[1:]:
                key, _, val = attr.partition("=")
                if key.strip().lower() == "domain" and val.strip():
                    domain = val.strip().lstrip(".").lower()
            if name:
                self.set_cookies.append((name, rid, hop, domain))

    def settled(self, since: float, quiet: float = QUIET) -> bool:
        idle = time.monotonic() - max(self.last_request, since)
        return (idle >= quiet and not self.inflight) or idle >= QUIET_MAX

    def cookie_source(self, cookie: dict) -> tuple[str | None, str | None]:
        """(from, set_by_url) of a stored cookie."""
        domain = (cookie.get("domain") or "").lstrip(".").lower()
        for name, rid, hop, attr in reversed(self.set_cookies):
            if name != cookie["name"]:
                continue
            hops = self.requests.get(rid) or []
            url = hops[hop]["url"] if hop < len(hops) and not hops[hop].get("skip") else None
            host = (urlsplit(url).hostname or "").lower() if url else ""
            if attr == domain or host == domain or (attr is None and not url):
                return "set-cookie", url
        # No response set it: a script did. Without any response headers seen, the
        # protocol could not tell.
        return ("script" if self.extra_info else None), None

    def request_list(self) -> list[dict]:
        seen, out = set(), []
        for r in self.order:
            item = {k: r[k] for k in ("url", "host", "resource", "initiator", "failed")}
            key = tuple(item.values())
            if key not in seen:
                seen.add(key)
                out.append(item)
        return out


class StateError(Exception):
    """The state could not be reached or captured; the message says why."""


class NotReached(StateError):
    """The state cannot be reached on this page (the widget's button is not there)."""


class OffSite(StateError):
    """The page went (or tried to go) off the site: redirected, navigated, or refused."""


class Scanner:
    """Visits pages in the three states with warm browsers (each started on first use).

    SP_SCAN_BROWSERS browsers (lanes) work at once: this one and `others`. A page is two
    jobs, `before_consent` + `after_reject` in one empty profile (the state before any
    choice is exactly what the reject state's first page view shows, so it is captured there,
    before the click), and `after_accept` in another; `submit` queues a page's jobs for the
    next free lane, so several pages are in flight and no browser waits for another's settle
    window."""

    def __init__(self, cfg: dict, egress: Egress, lane: bool = False):
        self.cfg = cfg
        self.egress = egress
        self.driver = None
        self.target: browser.BrowserTarget | None = None
        # The lane's reused profile (a local browser's context; module docstring), its tab
        # and the jobs it served.
        self.profile: str | None = None
        self.tab: str | None = None
        self.profile_jobs = 0
        self.timeout = int(cfg.get("SP_SCREENSHOT_TIMEOUT", 20))
        self.allowed = list(cfg["SITE_ORIGINS"])
        self.state_ms: dict[str, int] = {}  # wall time of each state of the last page
        self.page_ms: dict[str, dict[str, int]] = {}  # url -> its states' wall times
        count = 1 if lane else max(1, int(cfg.get("SP_SCAN_BROWSERS") or 2))
        self.others = [Scanner(cfg, egress, lane=True) for _ in range(count - 1)]
        self.lanes = [self, *self.others]
        self._executor = None
        self._free: queue.Queue | None = None
        self._lock = threading.Lock()
        # Bumped by close(): a job of an earlier generation starts no browser (a job still
        # running when the worker stops must not leave a browser behind).
        self.generation = 0
        # The pages of the worker's current scan in flight (scanrun.step):
        # url -> (monotonic time submitted, Future).
        self.inflight: dict[str, tuple[float, Future]] = {}
        self.inflight_scan: str | None = None

    @property
    def window(self) -> int:
        """How many pages scanrun keeps in flight: one more than there are lanes, so a lane
        that finishes finds the next page's job waiting."""
        return len(self.lanes) + 1

    # ---- browser --------------------------------------------------------------------
    def browser(self, generation: int | None = None):
        if generation is not None and generation != self.generation:
            raise StateError("the scan was stopped")
        if self.driver is None:
            # Background work like renders: the same CPU priority (SP_BROWSER_PRIORITY).
            remote = self.cfg.get("SP_SELENIUM_REMOTE_URL", "")
            # A local browser's contexts are made, and primed with the egress proxy's
            # credential, over its own DevTools endpoint (no BiDi mapper: browser.new_driver);
            # a remote one's over WebDriver BiDi (browser.prime_proxy_auth).
            self.driver = browser.new_driver(
                remote_url=remote, proxy=self.egress.url,
                page_load_strategy="eager", capture=True, bidi=bool(remote),
                idle=self.cfg.get("SP_BROWSER_PRIORITY", "idle") == "idle")
            try:
                self.target = None if remote else browser.BrowserTarget(self.driver)
            except Exception:
                browser.quit_driver(self.driver)
                self.driver = None
                raise
            if generation is not None and generation != self.generation:
                self.close_browser()  # closed while it started
                raise StateError("the scan was stopped")
            self.driver.set_page_load_timeout(self.timeout)
            self.driver.set_script_timeout(10)
            self.home = self.driver.current_window_handle
            ua = self.driver.execute_script("return navigator.userAgent")
            self.user_agent = ua.replace("HeadlessChrome", "Chrome")
        return self.driver

    def close(self) -> None:
        """Cancel the pages not started, and quit every lane's browser (a job still running
        on one fails with a browser error; its page is never stored)."""
        with self._lock:
            executor, self._executor = self._executor, None
            self.inflight, self.inflight_scan = {}, None
            for lane in self.lanes:
                lane.generation += 1
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        for lane in self.lanes:
            lane.close_browser()

    def close_browser(self) -> None:
        """Quit this lane's browser (the next job on it starts a new one)."""
        self.profile, self.tab, self.profile_jobs = None, None, 0
        if self.target is not None:
            self.target.close()
            self.target = None
        if self.driver is not None:
            browser.quit_driver(self.driver)
            self.driver = None

    # ---- pages ----------------------------------------------------------------------
    def submit(self, url: str) -> Future:
        """Queue the page's jobs; the future's result is the page's observations
        (SCAN_INTERFACE §1), and `page_ms[url]` its states' wall times."""
        with self._lock:
            if self._executor is None:
                self._free = queue.Queue()
                for lane in self.lanes:
                    self._free.put(lane)
                self._executor = ThreadPoolExecutor(len(self.lanes),
                                                    thread_name_prefix="sp-scan")
            parts = [self._executor.submit(self._job, url, states, self.generation)
                     for states in JOBS]
        page: Future = Future()
        page.set_running_or_notify_cancel()
        left = [len(parts)]

        def one_done(_):
            with self._lock:
                left[0] -= 1
                if left[0]:
                    return
            found, ms = {}, {}
            for part, states in zip(parts, JOBS, strict=True):
                if part.cancelled():
                    found.update({s: _empty("cancelled") for s in states})
                    continue
                try:
                    states, timing = part.result()
                except Exception as e:  # noqa: BLE001 - never leave the page unanswered
                    states = {s: _empty(f"scanner error: {type(e).__name__}: {e}"[:300])
                              for s in JOBS[parts.index(part)]}
                    timing = {}
                found.update(states)
                ms.update(timing)
            self.page_ms[url] = {s: ms[s] for s in STATES if s in ms}
            page.set_result({"url": url, "states": {s: found[s] for s in STATES}})

        for part in parts:
            part.add_done_callback(one_done)
        return page

    def scan_page(self, url: str) -> dict:
        """The page's observations in its three states (SCAN_INTERFACE §1). A state that
        could not be captured has its `error` and what was seen until then; a browser that
        hangs past the hard limit is killed (and started afresh for the next job)."""
        observed = self.submit(url).result()
        self.state_ms = self.page_ms.pop(url, {})
        return observed

    def _job(self, url: str, states: tuple[str, ...], generation: int) -> tuple[dict, dict]:
        free = self._free
        lane = free.get()
        try:
            return lane.scan_states_with_deadline(url, states, generation)
        finally:
            free.put(lane)

    def scan_states_with_deadline(self, url: str, states: tuple[str, ...],
                                  generation: int | None = None) -> tuple[dict, dict]:
        """({state: observations}, {state: wall ms}) of `states` in one empty profile."""
        began = time.monotonic()
        timing: dict[str, int] = {}
        limit = len(states) * (2 * self.timeout + 2 * SETTLE_MAX + 20)
        try:
            d = self.browser(generation)
        except StateError as e:
            return {s: _empty(str(e)) for s in states}, {s: 0 for s in states}
        except WebDriverException as e:
            error = f"browser error: {(e.msg or type(e).__name__).splitlines()[0]}"
            return {s: _empty(error) for s in states}, {s: 0 for s in states}
        timer = threading.Timer(limit, browser.kill_driver, (d,))
        timer.daemon = True
        timer.start()
        try:
            return self.scan_states(url, states, timing, generation), timing
        except StateError as e:
            return {s: _empty(str(e)) for s in states}, _fill(timing, states, began)
        except Exception as e:  # noqa: BLE001 - a crashed or killed browser fails its states
            log.warning("scan state failed", extra={"fields": {
                "url": url[:300], "states": list(states),
                "error": f"{type(e).__name__}: {e}"[:300]}})
            self.close_browser()
            msg = getattr(e, "msg", None) or str(e) or type(e).__name__
            error = f"browser error: {msg.splitlines()[0][:300]}"
            return {s: _empty(error) for s in states}, _fill(timing, states, began)
        finally:
            timer.cancel()

    def scan_state_with_deadline(self, url: str, state: str) -> dict:
        """One state in a context of its own."""
        found, timing = self.scan_states_with_deadline(url, (state,))
        self.state_ms.update(timing)
        return found[state]

    def scan_state(self, url: str, state: str) -> dict:
        return self.scan_states(url, (state,), {})[state]

    def scan_states(self, url: str, states: tuple[str, ...], timing: dict,
                    generation: int | None = None) -> dict:
        """`states` one after the other in one empty profile: `before_consent` (if
        asked, first) is captured once the page's first view settled; a clicked state
        clicks its button there, and goes on with the next page view."""
        if not renders.may_load(url, self.allowed):
            raise StateError("the page is not on SP_SITE_ORIGINS")
        began = time.monotonic()
        d = self.browser(generation)
        context, tab = self.new_context(d)
        cap: Capture | None = None
        try:
            d.switch_to.window(tab)
            # No response body is kept for DevTools (none is read): the browser copies less.
            browser.cdp(d, "Network.enable", {"maxTotalBufferSize": 0,
                                              "maxResourceBufferSize": 0,
                                              "maxPostDataSize": 0})
            # No HTTP (or memory) cache: every request a page makes is made, as on a first
            # visit, whatever an earlier job of this profile loaded.
            browser.cdp(d, "Network.setCacheDisabled", {"cacheDisabled": True})
            browser.cdp(d, "Network.setBlockedURLs", {"urls": BLOCKED_URLS})
            browser.cdp(d, "Network.setUserAgentOverride", {"userAgent": self.user_agent})
            browser.performance_log(d)  # start with this tab's events only
            browser.console_log(d)
            cap = Capture(tab)
            found: dict[str, dict] = {}
            try:
                # A job that captures nothing before its click (after_accept) clicks as soon
                # as the document is parsed (the widget has drawn its banner by then): what the
                # first view still loads belongs to before_consent, seen in the other job.
                self.load(d, cap, url, settle=states[0] not in BUTTON)
            except StateError as e:
                # The first page view failed: every state here starts with it, so every
                # state says so, with what was seen (as each would in a job of its own).
                snap = self.snapshot(d, cap, str(e), isinstance(e, OffSite))
                for s in states:
                    found[s] = copy.deepcopy(snap)
                return found
            for state in states:
                if state not in BUTTON:  # the self-test compares the clicked states only
                    found[state] = self.snapshot(d, cap, signature=False)
                    timing[state] = int((time.monotonic() - began) * 1000)
                    began = time.monotonic()
                    continue
                error = off_site = None
                try:
                    self.click(d, cap, BUTTON[state])
                    self.load(d, cap, url)  # the next page view
                except NotReached as e:  # no widget button: nothing of this state was seen
                    found[state] = _empty(str(e))
                    timing[state] = int((time.monotonic() - began) * 1000)
                    continue
                except StateError as e:
                    error = str(e)
                    off_site = isinstance(e, OffSite)
                found[state] = self.snapshot(d, cap, error, off_site)
                timing[state] = int((time.monotonic() - began) * 1000)
            return found
        finally:
            self.end_job(d, context, tab, cap)

    def snapshot(self, d, cap: Capture, error: str | None = None,
                 off_site: bool = False, signature: bool = True) -> dict:
        """The state as it is now: the context's cookies and the page's storage (none off
        the site: nothing more is read from the page it went to) and the requests recorded."""
        cookies = [] if off_site else self.cookies(d, cap)
        storage = [] if off_site else self.storage(d)
        if cap.truncated:
            error = error or f"more than {MAX_REQUESTS} requests: the list is cut there"
        found = {"cookies": cookies, "storage": storage, "requests": cap.request_list(),
                 "error": error}
        if signature and not off_site and not error:  # the self-test's (sidecar/selftest.py)
            found["selftest"] = selftest.read_state(d, getattr(cap, "console", []))
        return found

    def new_context(self, d) -> tuple[str, str]:
        """(the job's profile, its tab): the lane's reused profile and tab (made now if there
        are none), empty since `end_job`; a remote browser's, a fresh user context."""
        if self.target is None:
            context = d.browser.create_user_context()
            tab = d.browsing_context.create(type="tab", user_context=context)
            if self.egress.credentials:
                # A fresh user context has its own proxy credential cache (docs/grid.md).
                browser.prime_proxy_auth(d, tab)
            return context, tab
        if self.profile is None:
            self.profile = self.target.call("Target.createBrowserContext",
                                            {"disposeOnDetach": True})["browserContextId"]
            self.profile_jobs = 0
            try:
                self.tab = self.target.call("Target.createTarget", {
                    "url": "about:blank", "browserContextId": self.profile})["targetId"]
                if self.egress.credentials:
                    # Each browser context has its own proxy credential cache (docs/grid.md).
                    self.target.prime_proxy_auth(self.tab, self.egress)
            except Exception:
                self.discard_profile()
                raise
        self.profile_jobs += 1
        return self.profile, self.tab

    def discard_profile(self) -> None:
        """Remove the lane's profile and its tab (the next job makes new ones)."""
        profile, self.profile, self.tab = self.profile, None, None
        if profile is not None and self.target is not None:
            self.target.call("Target.disposeBrowserContext", {"browserContextId": profile})

    def end_job(self, d, context, tab: str, cap: Capture | None) -> None:
        """Leave the profile and its tab empty for the next job, or remove them: the tab
        leaves its page (no script of it runs on) and forgets its history and window name,
        every other tab of the profile closes (windows the page opened), its cookies and
        HTTP cache are cleared and every origin its requests reached loses all it stored,
        first-party and in the partitions of third-party frames (`storage_keys`; "all":
        localStorage, sessionStorage, IndexedDB, Cache Storage, service workers, …). A
        cookie still there after that, a job that ended off the site, an error, or
        PROFILE_JOBS jobs served: the profile is removed instead."""
        try:
            if self.target is None:
                d.switch_to.window(self.home)
                d.browser.remove_user_context(context)
                return
            keep = True
            try:
                d.switch_to.window(tab)
                keys = self.storage_keys(d, cap)
                d.get("about:blank")
                browser.cdp(d, "Page.resetNavigationHistory", {})
                d.execute_script("window.name = '';")
                for info in self.target.call("Target.getTargets", {}).get("targetInfos", []):
                    if info.get("browserContextId") == context and info.get("type") == \
                            "page" and info["targetId"] != tab:
                        self.target.call("Target.closeTarget", {"targetId": info["targetId"]})
                browser.cdp(d, "Network.clearBrowserCookies", {})
                browser.cdp(d, "Network.clearBrowserCache", {})
                for origin in sorted(_origins(cap)):
                    browser.cdp(d, "Storage.clearDataForOrigin",
                                {"origin": origin, "storageTypes": "all"})
                for key in sorted(keys):
                    try:
                        browser.cdp(d, "Storage.clearDataForStorageKey",
                                    {"storageKey": key, "storageTypes": "all"})
                    except InvalidArgumentException:
                        pass  # a key no storage can have
                left = browser.cdp(d, "Network.getAllCookies", {}).get("cookies", [])
                if left:
                    log.warning("scan profile not empty after its reset: replaced",
                                extra={"fields": {"cookies": len(left)}})
                    keep = False
            except (WebDriverException, OffSite):
                keep = False
            if not keep or self.profile_jobs >= PROFILE_JOBS:
                d.switch_to.window(self.home)
                self.discard_profile()
        except Exception:  # noqa: BLE001 - the browser is gone; the next state starts one
            self.close_browser()

    def storage_keys(self, d, cap: Capture | None) -> set[str]:
        """The storage keys (Chromium's serialized `StorageKey`) the job's origins may have
        stored under besides their own first-party one: a third-party frame's storage is
        partitioned by the page's site (`<origin>/^0<top-level site>`), a same-site frame
        inside a cross-site one's by that (`<origin>/^31`); and the key of every frame still
        in the page, as the browser names it (so a change of that format is cleared too).
        Raises OffSite when the tab is not on a page of the site (its partitions would be
        another site's: the profile is removed instead)."""
        main, frames = self.frame_keys(d)
        url = main.get("url") or ""
        if not renders.may_load(url, self.allowed):
            raise OffSite(f"the job ended on {url[:200]}")
        p = urlsplit(url)
        registrable = main.get("domainAndRegistry") or p.hostname or ""
        site = f"{p.scheme}://{registrable}"
        keys = set()
        for origin in _origins(cap):
            o = urlsplit(origin)
            same_site = o.scheme == p.scheme and (
                o.hostname == registrable or (o.hostname or "").endswith("." + registrable))
            keys.add(f"{origin}/^31" if same_site else f"{origin}/^0{site}")
        return keys | set(frames)

    def frame_keys(self, d) -> tuple[dict, dict[str, str]]:
        """(the tab's main frame, {storage key: origin} of the page and of every frame in it
        that can store anything: an http(s) origin; up to MAX_FRAMES), as the browser names
        the keys (`Storage.getStorageKeyForFrame`)."""
        tree = browser.cdp(d, "Page.getFrameTree", {})["frameTree"]
        todo, keys = [tree], {}
        while todo and len(keys) < MAX_FRAMES:
            node = todo.pop(0)
            todo.extend(node.get("childFrames") or [])
            frame = node["frame"]
            origin = frame.get("securityOrigin") or ""
            if not origin.startswith(("http://", "https://")):
                continue  # opaque (sandboxed, data:): no storage of its own
            try:
                key = browser.cdp(d, "Storage.getStorageKeyForFrame",
                                  {"frameId": frame["id"]}).get("storageKey")
            except WebDriverException:
                continue  # the frame went away meanwhile
            if key and key not in keys:
                keys[key] = origin
        return tree["frame"], keys

    def load(self, d, cap: Capture, url: str, settle: bool = True) -> None:
        """Load `url` and, with `settle`, wait for its load event and then for its network to
        settle; raises StateError when it cannot, OffSite when it is not on the site."""
        started = time.monotonic()
        cap.feed(browser.performance_log(d))  # what came before this page view
        loads = cap.loads
        try:
            d.get(url)  # returns once the document is parsed (eager)
        except TimeoutException:
            d.execute_script("window.stop();")
            cap.feed(browser.performance_log(d))
            raise StateError(f"the page did not load within {self.timeout} s") from None
        left = max(0.5, self.timeout - (time.monotonic() - started))
        deadline = time.monotonic() + (left if settle else 0)
        polls = 0
        # Until the page's load event: seen in the log it is read anyway (no script run in
        # the page each poll); once a second the page itself is asked too.
        while time.monotonic() < deadline:
            cap.feed(browser.performance_log(d))
            if cap.loads > loads:
                break
            polls += 1
            if polls % 20 == 0:
                try:
                    if d.execute_script("return document.readyState") == "complete":
                        break
                except JavascriptException:
                    break
            time.sleep(POLL)
        if settle:
            self.settle(d, cap)
        else:
            cap.feed(browser.performance_log(d))
        why = self.off_site(d, cap)
        if why:
            if not settle:
                self.settle(d, cap)  # the refused hops, to say where it went
            raise OffSite(why)

    def settle(self, d, cap: Capture, quiet: float = QUIET) -> None:
        since = time.monotonic()
        while time.monotonic() - since < SETTLE_MAX:
            time.sleep(POLL)
            cap.feed(browser.performance_log(d))
            if cap.settled(since, quiet):
                return

    def click(self, d, cap: Capture, action: str) -> None:
        selector = f'[data-sp-action="{action}"]'
        # The widget draws its banner when the document is parsed (a deferred script): once
        # the page has loaded, a button still missing after BUTTON_WAIT is not coming.
        deadline = time.monotonic() + BUTTON_WAIT
        limit = time.monotonic() + self.timeout
        while True:
            try:
                if d.execute_script(CLICK_JS, selector):
                    break
                if d.execute_script("return document.readyState") != "complete":
                    deadline = max(deadline, min(limit, time.monotonic() + BUTTON_WAIT))
            except JavascriptException:
                pass
            if time.monotonic() > deadline:
                raise NotReached(f"the consent widget's {action} button ({selector}) is not"
                                 " on the page")
            time.sleep(POLL)
        # From the click on, requests belong to this state; those of the first load do not.
        cap.order.clear()
        cap.truncated = False
        # What the click starts is recorded even if the next page view cuts it short (an
        # attempt counts), so a short quiet suffices before loading the page again.
        self.settle(d, cap, quiet=CLICK_QUIET)

    def off_site(self, d, cap: Capture | None = None) -> str | None:
        """Why the tab is not on a page of the site (it was redirected or navigated away),
        or None. The console entries read here are the page view's, for the self-test."""
        try:
            where = d.execute_script("return location.href")
        except WebDriverException:
            where = d.current_url
        console = browser.console_log(d)
        if cap is not None:
            cap.console = console
        for entry in console:
            message = entry.get("message", "")
            if "Not allowed to load local resource" in message or \
                    "Not allowed to navigate top frame" in message:
                return f"blocked navigation: {message[:200]}"
        if not renders.may_load(where, self.allowed):
            return f"the page navigated off the site to {where[:200]}"
        return None

    def cookies(self, d, cap: Capture) -> list[dict]:
        out = []
        for c in browser.cdp(d, "Network.getAllCookies", {}).get("cookies", []):
            source, set_by = cap.cookie_source(c)
            expires = c.get("expires")
            out.append({"name": c["name"], "domain": c.get("domain"), "path": c.get("path"),
                        "expires": None if c.get("session") or expires is None
                        or expires < 0 else float(expires),
                        "http_only": bool(c.get("httpOnly")), "secure": bool(c.get("secure")),
                        "same_site": c.get("sameSite"), "from": source,
                        "set_by_url": set_by})
        return out

    def storage(self, d) -> list[dict]:
        """The localStorage and sessionStorage keys and IndexedDB database names of the page
        and of every frame in it, read over DevTools by each frame's storage key (a
        third-party frame's partition included), as {"area", "key", "origin"}."""
        found: list[dict] = []
        seen = set()
        for key, origin in self.frame_keys(d)[1].items():
            got = []
            for area, local in (("local", True), ("session", False)):
                try:
                    items = browser.cdp(d, "DOMStorage.getDOMStorageItems", {"storageId": {
                        "storageKey": key, "isLocalStorage": local}}).get("entries") or []
                except WebDriverException:
                    items = []
                got += [(area, item[0]) for item in items if item]
            try:
                names = browser.cdp(d, "IndexedDB.requestDatabaseNames",
                                    {"storageKey": key}).get("databaseNames") or []
            except WebDriverException:
                names = []
            got += [("indexeddb", name) for name in names]
            for area, name in got:
                if (area, name, origin) not in seen:
                    seen.add((area, name, origin))
                    found.append({"area": area, "key": name, "origin": origin})
        return found


def _origins(cap: Capture | None) -> set[str]:
    """The origins (scheme://host[:port]) of every request the job's tab made."""
    out = set()
    for hops in (cap.requests.values() if cap is not None else ()):
        for hop in hops:
            p = urlsplit(hop["url"])
            if p.scheme in ("http", "https") and p.netloc:
                out.add(f"{p.scheme}://{p.netloc}")
    return out


def _fill(timing: dict, states, began: float) -> dict:
    left = int((time.monotonic() - began) * 1000) - sum(timing.values())
    return {**{s: max(0, left) for s in states}, **timing}


def _empty(error: str) -> dict:
    return {"cookies": [], "storage": [], "requests": [], "error": error}
