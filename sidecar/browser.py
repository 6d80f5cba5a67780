"""Headless Chromium through Selenium: local chromedriver, or a remote WebDriver
(SP_SELENIUM_REMOTE_URL, e.g. a Selenium Grid)."""

from __future__ import annotations

import os
import shutil
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chromium.remote_connection import ChromiumRemoteConnection

CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
    "--disable-extensions", "--disable-default-apps", "--no-default-browser-check",
)


def chromium_binary() -> str:
    return os.environ.get("SP_CHROMIUM_BINARY") or shutil.which("chromium") or "/usr/bin/chromium"


def chromedriver_path() -> str:
    return (os.environ.get("SP_CHROMEDRIVER") or shutil.which("chromedriver")
            or "/usr/bin/chromedriver")


def new_driver(width: int = 1280, height: int = 800, remote_url: str = "",
               user_agent: str | None = None, proxy: str | None = None,
               page_load_strategy: str = "normal") -> webdriver.Remote:
    """A fresh headless Chromium with an empty profile, sized `width`×`height`; with
    `proxy`, every request it makes (loopback included) goes through that proxy. With
    `page_load_strategy="eager"`, navigation returns once the document is parsed."""
    opts = webdriver.ChromeOptions()
    opts.page_load_strategy = page_load_strategy
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--window-size={width},{height}")
    if user_agent:
        opts.add_argument(f"--user-agent={user_agent}")
    if proxy:
        # The worker reads the console: Chromium reports refused file:/data: navigations there.
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        opts.add_argument(f"--proxy-server={proxy}")
        # Chromium skips the proxy for localhost unless told not to.
        opts.add_argument("--proxy-bypass-list=<-loopback>")
    if remote_url:
        if os.environ.get("SP_CHROMIUM_BINARY"):
            opts.binary_location = os.environ["SP_CHROMIUM_BINARY"]
        # Chromium's own command set (CDP, console log) over the remote end, as a Grid node
        # running Chrome offers it.
        conn = ChromiumRemoteConnection(remote_url, vendor_prefix="goog", browser_name="chrome",
                                        ignore_proxy=True)
        return webdriver.Remote(command_executor=conn, options=opts)
    profile = tempfile.mkdtemp(prefix="sp-chromium-")
    opts.add_argument(f"--user-data-dir={profile}")
    opts.binary_location = chromium_binary()
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver_path()), options=opts)
    driver._sp_profile = profile
    return driver


def cdp(driver, cmd: str, params: dict | None = None):
    """Run a Chrome DevTools Protocol command, on a local or a remote browser."""
    return driver.execute("executeCdpCommand", {"cmd": cmd, "params": params or {}})["value"]


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
    try:
        driver.quit()
    except Exception:  # noqa: BLE001 - a crashed browser cannot be quit cleanly
        pass
    profile = getattr(driver, "_sp_profile", None)
    if profile:
        shutil.rmtree(profile, ignore_errors=True)
