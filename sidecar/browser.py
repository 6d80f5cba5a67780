"""Headless Chromium through Selenium: local chromedriver, or a remote WebDriver
(SP_SELENIUM_REMOTE_URL, e.g. a Selenium Grid)."""

from __future__ import annotations

import os
import shutil
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

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
               user_agent: str | None = None) -> webdriver.Remote:
    """A fresh headless Chromium with an empty profile, sized `width`×`height`."""
    opts = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--window-size={width},{height}")
    if user_agent:
        opts.add_argument(f"--user-agent={user_agent}")
    if remote_url:
        return webdriver.Remote(command_executor=remote_url, options=opts)
    profile = tempfile.mkdtemp(prefix="sp-chromium-")
    opts.add_argument(f"--user-data-dir={profile}")
    opts.binary_location = chromium_binary()
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver_path()), options=opts)
    driver._sp_profile = profile
    return driver


def quit_driver(driver) -> None:
    """Quit the browser and remove its temporary profile; never raises."""
    try:
        driver.quit()
    except Exception:  # noqa: BLE001 - a crashed browser cannot be quit cleanly
        pass
    profile = getattr(driver, "_sp_profile", None)
    if profile:
        shutil.rmtree(profile, ignore_errors=True)
