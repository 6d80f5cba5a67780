"""Headless Chromium through Selenium: local chromedriver, or a remote WebDriver
(SP_SELENIUM_REMOTE_URL, e.g. a Selenium Grid).

A local browser loads pages that arrive in requests, so it gets as little as possible:

- its environment is built from nothing (`browser_env`): no SP_* setting, key, token,
  database URL or proxy setting of the worker, only PATH, a HOME and TMPDIR of its own,
  the locale, TZ and fontconfig;
- when the worker runs as root, chromedriver and Chromium run as an unprivileged user
  (SP_BROWSER_USER, default `nobody`) through `setpriv` with no_new_privs, in a temporary
  folder that user owns;
- Chromium's sandbox is on whenever the kernel lets that user create the namespaces it
  needs (`sandbox_available`, checked at run time); only where it cannot is `--no-sandbox`
  used, and the worker logs a warning saying so;
- WebRTC may send no UDP the egress proxy cannot see (STUN, host candidates), and QUIC is
  off: every byte leaves through `egress.Egress`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chromium.remote_connection import ChromiumRemoteConnection
from selenium.webdriver.remote.websocket_connection import WebSocketConnection

log = logging.getLogger("sidecar.browser")

CHROMIUM_FLAGS = (
    "--headless=new", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
    "--disable-extensions", "--disable-default-apps", "--no-default-browser-check",
)
# The scanner's browser keeps cross-site frames in their page's renderer, so that every
# request a third-party frame makes shows in the page's DevTools Network events (with site
# isolation, an out-of-process frame's requests are not in the performance log). It holds no
# user data to isolate: every job starts in an empty, anonymous profile (sidecar/scanner.py).
CAPTURE_FLAGS = ("--disable-site-isolation-trials",
                 "--disable-features=IsolateOrigins,site-per-process")
# WebRTC may use no UDP that does not go through the proxy (and the proxy speaks TCP only):
# no STUN to arbitrary hosts, no host candidates; TURN over TCP meets the egress guard.
# Profile preferences (they also reach a remote browser); Chromium 156 ignores the
# --force-webrtc-ip-handling-policy switch here (measured: STUN still went out with it).
WEBRTC_PREFS = {
    "webrtc.ip_handling_policy": "disable_non_proxied_udp",
    "webrtc.multiple_routes_enabled": False,
    "webrtc.nonproxied_udp_enabled": False,
}
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
ENV_PASSED = ("LANG", "LANGUAGE", "TZ", "FONTCONFIG_FILE", "FONTCONFIG_PATH")
DEFAULT_USER = "nobody"
# unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET): what Chromium's namespace sandbox
# needs from the kernel, tried as the browser's user under the same launcher.
_PROBE = ("import ctypes, sys; libc = ctypes.CDLL(None, use_errno=True);"
          " sys.exit(0 if libc.unshare(0x10000000 | 0x20000000 | 0x40000000) == 0 else 1)")
_sandbox: dict = {}


class BrowserSetupError(ValueError):
    """The local browser cannot be started as configured; the message names the setting."""


@dataclass(frozen=True)
class RunAs:
    """The unprivileged user a root worker starts its browser as."""
    name: str
    uid: int
    gid: int


def resolve_user(name: str) -> RunAs:
    """The user `name` (a login name or a numeric uid); refuse root."""
    name = name.strip()
    try:
        pw = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
        uid, gid = pw.pw_uid, pw.pw_gid
    except KeyError:
        if not name.isdigit():
            raise BrowserSetupError(f"SP_BROWSER_USER: no user {name!r} on this machine") from None
        uid = gid = int(name)
    if uid == 0 or gid == 0:
        raise BrowserSetupError("SP_BROWSER_USER must not be root (uid or gid 0)")
    return RunAs(name, uid, gid)


def browser_user() -> RunAs | None:
    """Whom a local browser runs as: None (the worker's own user) unless the worker is
    root; then SP_BROWSER_USER, or `nobody`."""
    if os.geteuid() != 0:
        return None
    return resolve_user(os.environ.get("SP_BROWSER_USER", "").strip() or DEFAULT_USER)


def browser_env(home: str) -> dict[str, str]:
    """The whole environment of chromedriver and Chromium, built from nothing."""
    env = {"PATH": SAFE_PATH, "HOME": home, "TMPDIR": os.path.join(home, "tmp"),
           "XDG_CONFIG_HOME": os.path.join(home, ".config"),
           "XDG_CACHE_HOME": os.path.join(home, ".cache"), "LANG": "C.UTF-8"}
    for key, value in os.environ.items():
        if value and (key in ENV_PASSED or key.startswith("LC_")):
            env[key] = value
    return env


def _launcher(user: RunAs | None) -> tuple[list[str], dict]:
    """(argv prefix, Popen keywords) that start a program as `user`."""
    if user is None:
        return [], {}
    setpriv = shutil.which("setpriv", path=SAFE_PATH + ":/usr/sbin:/sbin")
    if setpriv:
        return [setpriv, f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups",
                "--inh-caps=-all", "--no-new-privs", "--"], {}
    # Without util-linux's setpriv: the same user, without no_new_privs.
    return [], {"user": user.uid, "group": user.gid, "extra_groups": []}


def sandbox_available(user: RunAs | None) -> bool:
    """Whether Chromium's sandbox can work for `user` here (cached per process): the kernel
    must let an unprivileged user make user, PID and network namespaces (not so, e.g.,
    under Docker's default seccomp profile or with user namespaces turned off)."""
    if user not in _sandbox:
        prefix, popen_kw = _launcher(user)
        argv = [*prefix, os.path.realpath(sys.executable), "-I", "-S", "-c", _PROBE]
        try:
            ok = subprocess.run(argv, env={"PATH": SAFE_PATH}, cwd="/", capture_output=True,
                                stdin=subprocess.DEVNULL, timeout=15,
                                **popen_kw).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
        _sandbox[user] = ok
        if not ok:
            log.warning("browser sandbox off: this kernel (or seccomp profile) does not let"
                        " an unprivileged user create the namespaces Chromium's sandbox"
                        " needs; the browser runs with --no-sandbox", extra={"fields": {
                            "user": user.name if user else None, "uid": os.geteuid()
                            if user is None else user.uid}})
    return _sandbox[user]


class _DriverService(Service):
    """chromedriver, started through `launcher` (setpriv to another user) when given."""

    def __init__(self, launcher: list[str], driver: str, idle: bool = False, **kwargs):
        super().__init__(executable_path=launcher[0] if launcher else driver, **kwargs)
        self._before = [*launcher[1:], driver] if launcher else []
        self.idle = idle

    def env_path(self) -> str | None:
        return None  # SE_CHROMEDRIVER must not replace the launcher

    def command_line_args(self) -> list[str]:
        return [*self._before, *super().command_line_args()]

    def start(self):
        super().start()
        if self.idle:
            # Before the session starts Chromium: the browser and every process it forks
            # inherit the policy from chromedriver.
            os.sched_setscheduler(self.process.pid, os.SCHED_IDLE, os.sched_param(0))


def chromium_binary() -> str:
    return os.environ.get("SP_CHROMIUM_BINARY") or shutil.which("chromium") or "/usr/bin/chromium"


def chromedriver_path() -> str:
    return (os.environ.get("SP_CHROMEDRIVER") or shutil.which("chromedriver")
            or "/usr/bin/chromedriver")


def new_driver(width: int = 1280, height: int = 800, remote_url: str = "",
               user_agent: str | None = None, proxy: str | None = None,
               page_load_strategy: str = "normal", idle: bool = False,
               capture: bool = False, egress=None,
               bidi: bool | None = None) -> webdriver.Remote:
    """A fresh headless Chromium with an empty profile, sized `width`×`height`; with
    `proxy`, every request it makes (loopback included) goes through that proxy, answering
    the challenge of `egress` (the `egress.Egress` behind it; default: `proxy.egress`, as
    `Egress.url` carries it) with its credential. With
    `page_load_strategy="eager"`, navigation returns once the document is parsed. A local
    one starts isolated (module docstring); with `idle`, it runs under SCHED_IDLE: it gets
    the CPU only when nothing else of normal priority wants it. With `capture` (the site
    scanner), the DevTools Network events are kept in the performance log.

    How the credential is given (docs/grid.md): a local browser answers over its own
    DevTools endpoint (`BrowserTarget.prime_proxy_auth`; the scanner primes each fresh
    browser context the same way), a remote one, or one asked for with `bidi=True`, over
    WebDriver BiDi (`answer_proxy_auth`, `prime_proxy_auth`; each fresh BiDi user context
    primed with `prime_proxy_auth`). WebDriver BiDi is on only then: chromedriver's BiDi
    mapper runs inside the browser and handles every DevTools event of every tab (measured:
    about half the CPU a scanned page costs)."""
    if egress is None:
        egress = getattr(proxy, "egress", None)
    auth = bool(proxy and egress is not None and egress.credentials)
    over_bidi = bool(remote_url) or bool(bidi)
    driver = _new_driver(width, height, remote_url, user_agent, proxy, page_load_strategy,
                         idle, capture, bidi=bool(bidi) or (auth and over_bidi))
    if auth:
        try:
            if over_bidi:
                answer_proxy_auth(driver, remote_url, *egress.credentials,
                                  challenged=egress.take_challenge)
                driver._sp_egress = egress
                prime_proxy_auth(driver)
            else:
                target = BrowserTarget(driver)
                try:
                    target.prime_proxy_auth(driver.current_window_handle, egress,
                                            navigate=True)
                finally:
                    target.close()
        except BaseException:
            quit_driver(driver)
            raise
    return driver


def _new_driver(width, height, remote_url, user_agent, proxy, page_load_strategy,
                idle: bool, capture: bool, bidi: bool) -> webdriver.Remote:
    opts = webdriver.ChromeOptions()
    if bidi:
        opts.enable_bidi = True
    opts.page_load_strategy = page_load_strategy
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    opts.add_experimental_option("prefs", dict(WEBRTC_PREFS))
    opts.add_argument(f"--window-size={width},{height}")
    if user_agent:
        opts.add_argument(f"--user-agent={user_agent}")
    logging_prefs = {"performance": "ALL"} if capture else {}
    if bidi:
        opts.enable_bidi = True
    if capture:
        for flag in CAPTURE_FLAGS:
            opts.add_argument(flag)
    if proxy:
        # The worker reads the console: Chromium reports refused file:/data: navigations there.
        logging_prefs["browser"] = "ALL"
        opts.add_argument(f"--proxy-server={proxy}")
        # Chromium skips the proxy for localhost unless told not to.
        opts.add_argument("--proxy-bypass-list=<-loopback>")
    if logging_prefs:
        opts.set_capability("goog:loggingPrefs", logging_prefs)
    if remote_url:
        # The remote end's user and sandbox are its own (a Grid node runs as its own user).
        opts.add_argument("--no-sandbox")
        if os.environ.get("SP_CHROMIUM_BINARY"):
            opts.binary_location = os.environ["SP_CHROMIUM_BINARY"]
        # Chromium's own command set (CDP, console log) over the remote end, as a Grid node
        # running Chrome offers it.
        conn = ChromiumRemoteConnection(remote_url, vendor_prefix="goog", browser_name="chrome",
                                        ignore_proxy=True)
        return webdriver.Remote(command_executor=conn, options=opts)
    user = browser_user()
    sandbox = sandbox_available(user)
    if not sandbox:
        opts.add_argument("--no-sandbox")
    base = tempfile.mkdtemp(prefix="sp-chromium-")
    home, profile = os.path.join(base, "home"), os.path.join(base, "profile")
    try:
        for path in (home, os.path.join(home, "tmp"), profile):
            os.mkdir(path, 0o700)
        if user is not None:
            for path in (base, home, os.path.join(home, "tmp"), profile):
                os.chown(path, user.uid, user.gid)
        opts.add_argument(f"--user-data-dir={profile}")
        opts.binary_location = chromium_binary()
        launcher, popen_kw = _launcher(user)
        service = _DriverService(launcher, chromedriver_path(), idle=idle,
                                 env=browser_env(home), popen_kw=popen_kw)
        driver = webdriver.Chrome(service=service, options=opts)
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    driver._sp_profile = base
    log.info("browser started", extra={"fields": {
        "pid": service.process.pid, "user": user.name if user else None,
        "uid": user.uid if user else os.geteuid(), "sandbox": sandbox}})
    return driver


class _AuthRequired:
    """`network.authRequired` for Selenium's WebSocketConnection (params as they came)."""
    event_class = "network.authRequired"

    @staticmethod
    def from_json(params: dict) -> dict:
        return params


def bidi_url(driver, remote_url: str = "") -> str:
    """The session's WebDriver BiDi WebSocket URL. A remote end names itself as it sees
    itself; when that is a loopback address while the remote end is elsewhere (a
    standalone chromedriver on another host), its host is the one in `remote_url`."""
    url = driver.caps.get("webSocketUrl")
    if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
        raise BrowserSetupError("the WebDriver remote end offers no WebDriver BiDi"
                                " (webSocketUrl); the egress proxy's authentication needs it")
    if remote_url:
        ws, remote = urlsplit(url), urlsplit(remote_url)
        if _loopback_name(ws.hostname) and not _loopback_name(remote.hostname):
            url = urlunsplit(ws._replace(netloc=f"{remote.hostname}:{ws.port or remote.port}"
                                         if ":" not in (remote.hostname or "")
                                         else f"[{remote.hostname}]:{ws.port or remote.port}"))
            driver.caps["webSocketUrl"] = url  # Selenium's own BiDi calls go there too
    return url


def _loopback_name(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def answer_proxy_auth(driver, remote_url: str, username: str, password: str, *,
                      challenged) -> None:
    """Let the browser answer the egress proxy's 407 challenge to the priming request
    (`prime_proxy_auth`) with (`username`, `password`), over WebDriver BiDi
    (`network.addIntercept` at `authRequired` for that URL only): Chromium takes no
    credentials in --proxy-server, and once it has answered a proxy's challenge it sends
    the credential to that proxy unasked. Chromium's BiDi reports neither the status nor
    whether a proxy or a server asked, so the credential also goes only when the proxy
    itself just sent a 407 for that host and port (`challenged(url)`, one answer per 407);
    anything else is cancelled, and no other URL is intercepted: a site's 401 never gets
    the secret. Works alike for a local chromedriver and a remote end (a Grid routes the
    WebSocket)."""
    from .egress import PRIME_URL
    conn = WebSocketConnection(bidi_url(driver, remote_url), 30, 0.01)
    credentials = {"type": "password", "username": username, "password": password}
    # Only the priming request is intercepted: any other challenge (a site's 401) gets the
    # browser's default at once, never a paused request behind a waiting WebDriver command.
    intercept = conn.send_cmd("network.addIntercept", {
        "phases": ["authRequired"], "urlPatterns": [{"type": "string", "pattern": PRIME_URL}]})
    if "error" in intercept:
        conn.close()
        raise BrowserSetupError(f"WebDriver BiDi network.addIntercept: {intercept['error']}")
    intercept_id = intercept["result"]["intercept"]

    def on_auth(params: dict) -> None:
        if intercept_id not in (params.get("intercepts") or []):
            return
        url = (params.get("request") or {}).get("url", "")
        if challenged(url):
            answer = {"action": "provideCredentials", "credentials": credentials}
        else:
            log.warning("authentication request cancelled (not the egress proxy's)",
                        extra={"fields": {"url": url[:300]}})
            answer = {"action": "cancel"}
        conn.send_cmd("network.continueWithAuth",
                      {"request": params["request"]["request"], **answer})

    conn.add_callback(_AuthRequired, on_auth)
    sub = conn.send_cmd("session.subscribe", {"events": ["network.authRequired"]})
    if "error" in sub:
        conn.close()
        raise BrowserSetupError(f"WebDriver BiDi session.subscribe: {sub['error']}")
    driver._sp_auth_conn = conn


PRIME_TIMEOUT = 15


def prime_proxy_auth(driver, context: str | None = None) -> None:
    """Have the browser authenticate to its egress proxy once, now, in browsing context
    `context` (default: the current window): Chromium then sends the credential with every
    request of that profile without being asked again. Needed because chromedriver runs a
    session's commands one at a time: a challenge met while a WebDriver command waits for a
    page (`get`) would be answered only after that command timed out. Navigates there over
    BiDi, which no WebDriver command holds up. A new BiDi user context has a credential
    cache of its own: call this with its first tab before loading a page there. Nothing to
    do for a driver without an authenticating proxy."""
    from .egress import PRIME_URL
    egress = getattr(driver, "_sp_egress", None)
    if egress is None:
        return
    conn = driver._sp_auth_conn
    before = egress.primed
    reply = conn.send_cmd("browsingContext.navigate", {
        "context": context or driver.current_window_handle, "url": PRIME_URL,
        "wait": "none"})
    deadline = time.monotonic() + PRIME_TIMEOUT
    while egress.primed == before and time.monotonic() < deadline:
        time.sleep(0.01)
    if egress.primed == before:
        raise BrowserSetupError("the browser did not authenticate to the egress proxy at"
                                f" {egress.url} ({reply.get('error') or 'no answer'}):"
                                " check SP_EGRESS_ADVERTISE is reachable from the browser")


class BrowserTarget:
    """The browser-level DevTools session of a local Chromium (chromedriver's
    `debuggerAddress`, on this host's loopback), for what a page's session may not do:
    `Target.createBrowserContext` (a fresh, empty profile), `Target.createTarget` in it,
    `Target.disposeBrowserContext`, and answering the egress proxy's challenge in a tab
    (`prime_proxy_auth`, over a flat session of that tab). One caller at a time (a lane of
    the scanner)."""

    def __init__(self, driver, timeout: float = 10.0):
        import json
        import urllib.request

        import websocket  # websocket-client: Selenium's own dependency
        addr = driver.capabilities["goog:chromeOptions"]["debuggerAddress"]
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://{addr}/json/version", timeout=timeout) as r:
            url = json.loads(r.read())["webSocketDebuggerUrl"]
        self._json = json
        self.timeout = timeout
        # No Origin header: Chromium lets such (non-browser) clients in.
        self.ws = websocket.create_connection(url, timeout=timeout, suppress_origin=True,
                                              http_no_proxy=["localhost", "127.0.0.1"])
        self.next_id = 0

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(self._json.dumps(msg))
        return self.next_id

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             on_event=None) -> dict:
        """The result of `method` (in the flat `session` of a tab when given); the events
        that arrive meanwhile go to `on_event(message)` (dropped without)."""
        from selenium.common.exceptions import WebDriverException
        mid = self.send(method, params, session)
        while True:
            msg = self._json.loads(self.ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise WebDriverException(f"{method}: {msg['error'].get('message')}")
                return msg.get("result") or {}
            if on_event is not None and "method" in msg:
                on_event(msg)

    def prime_proxy_auth(self, target_id: str, egress, timeout: float = 0.0,
                         navigate: bool = False) -> None:
        """Have the tab `target_id` (and so its browser context) authenticate to `egress`
        now, over DevTools: a flat session of the tab intercepts the priming request only
        (`Fetch.enable` with `handleAuthRequests`, the pattern PRIME_URL), has the tab's
        `about:blank` fetch it (no navigation, so no renderer process is started for it;
        with `navigate`, for a tab on another page such as chromedriver's first `data:,`,
        whose fetch Chromium refuses, the tab loads it instead), and answers
        `Fetch.authRequired` with the credential once, only when the challenge comes from
        a proxy (`authChallenge.source`) and `egress` itself just sent a 407 for that host
        and port (`egress.take_challenge`); anything else is cancelled. Chromium then sends
        the credential to the proxy with every later request of that context, unasked."""
        from .egress import PRIME_URL
        timeout = timeout or PRIME_TIMEOUT
        username, password = egress.credentials
        before = egress.primed
        session = self.call("Target.attachToTarget",
                            {"targetId": target_id, "flatten": True})["sessionId"]
        answered: list[bool] = []

        def on_event(msg: dict) -> None:
            if msg.get("sessionId") != session:
                return
            p = msg.get("params") or {}
            if msg["method"] == "Fetch.requestPaused":
                self.send("Fetch.continueRequest", {"requestId": p["requestId"]}, session)
            elif msg["method"] == "Fetch.authRequired":
                url = (p.get("request") or {}).get("url", "")
                challenge = p.get("authChallenge") or {}
                if not answered and challenge.get("source") == "Proxy" and url == PRIME_URL \
                        and egress.take_challenge(url):
                    answer = {"response": "ProvideCredentials", "username": username,
                              "password": password}
                    answered.append(True)
                else:
                    log.warning("authentication request cancelled (not the egress proxy's)",
                                extra={"fields": {"url": url[:300]}})
                    answer = {"response": "CancelAuth"}
                self.send("Fetch.continueWithAuth", {"requestId": p["requestId"],
                                                     "authChallengeResponse": answer}, session)

        old = self.ws.gettimeout()
        self.ws.settimeout(timeout)
        try:
            self.call("Fetch.enable", {"patterns": [{"urlPattern": PRIME_URL}],
                                       "handleAuthRequests": True}, session)
            try:
                if navigate:
                    got = self.call("Page.navigate", {"url": PRIME_URL}, session, on_event)
                    outcome = got.get("errorText") or "ok"
                else:
                    # A proxy challenge is answered only for a request that may carry
                    # credentials ('include').
                    got = self.call("Runtime.evaluate", {
                        "expression": f"fetch({PRIME_URL!r}, {{mode: 'no-cors',"
                                      " cache: 'no-store', credentials: 'include'})"
                                      ".then(() => 'ok', e => String(e))",
                        "awaitPromise": True, "returnByValue": True}, session, on_event)
                    outcome = (got.get("result") or {}).get("value")
            except Exception as e:  # noqa: BLE001 - a timeout: say what it means
                outcome = f"{type(e).__name__}: {e}"
            if not answered or outcome != "ok" or egress.primed == before:
                raise BrowserSetupError(
                    "the browser did not authenticate to the egress proxy at"
                    f" {egress.url} ({outcome if outcome != 'ok' else 'no challenge answered'})")
            self.call("Fetch.disable", {}, session)
        finally:
            self.ws.settimeout(old)
            try:
                self.call("Target.detachFromTarget", {"sessionId": session})
            except Exception:  # noqa: BLE001 - the tab is gone: its context is removed next
                pass

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001 - the browser is gone
            pass


def cdp(driver, cmd: str, params: dict | None = None):
    """Run a Chrome DevTools Protocol command, on a local or a remote browser."""
    return driver.execute("executeCdpCommand", {"cmd": cmd, "params": params or {}})["value"]


def performance_log(driver) -> list[dict]:
    """The DevTools events (`{"method", "params"}`) since the last call (needs `capture`)."""
    import json
    return [json.loads(e["message"])["message"]
            for e in driver.execute("getLog", {"type": "performance"})["value"]]


def console_log(driver) -> list[dict]:
    """The browser console entries since the last call (needs goog:loggingPrefs)."""
    return driver.execute("getLog", {"type": "browser"})["value"]


def kill_driver(driver) -> None:
    """Kill a hung local browser and its driver outright (the worker's hard time limit);
    the next WebDriver call on it fails, and the worker starts a new one. For a remote
    browser, end its session instead."""
    service = getattr(driver, "service", None)
    proc = getattr(service, "process", None)
    if proc is not None:
        _kill_tree(proc.pid)
    else:
        try:
            driver.quit()
        except Exception:  # noqa: BLE001
            pass


def process_tree(pid: int) -> list[int]:
    """`pid` and every process below it, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo.extend(children.get(p, []))
    return seen


def _kill_tree(pid: int) -> None:
    """SIGKILL `pid` and every process below it (chromedriver → chromium → renderers)."""
    import signal
    for p in process_tree(pid):
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def quit_driver(driver) -> None:
    """Quit the browser and remove its temporary profile; never raises."""
    conn = getattr(driver, "_sp_auth_conn", None)
    if conn is not None:
        try:
            conn.close()
        except Exception:  # noqa: BLE001
            pass
    try:
        driver.quit()
    except Exception:  # noqa: BLE001 - a crashed browser cannot be quit cleanly
        pass
    profile = getattr(driver, "_sp_profile", None)
    if profile:
        shutil.rmtree(profile, ignore_errors=True)
