"""How the worker starts its local browser (sidecar/browser.py), without starting one: the
environment it gets, the user it runs as, the launcher. The real Chromium processes are
checked in tests/e2e/test_browser_isolation.py."""

from __future__ import annotations

import os
import pwd

import pytest
from helpers import TEST_KEYS, TEST_TOKENS

from sidecar import browser, config


def test_browser_env_is_built_from_nothing(monkeypatch, tmp_path):
    for key, value in {"SP_SECRET_KEYS": "k", "SP_DATABASE_URL": "mysql://u:p@h/db",
                       "SP_ADMIN_TOKENS": "t", "SP_LEDGER_KEYS": "l", "AWS_SECRET_ACCESS_KEY": "a",
                       "http_proxy": "http://u:p@proxy:3128", "LD_PRELOAD": "/tmp/evil.so",
                       "PYTHONPATH": "/x", "PATH": "/opt/venv/bin:/usr/bin",
                       "LANG": "sv_SE.UTF-8", "LC_TIME": "de_DE.UTF-8", "TZ": "Europe/Stockholm",
                       "FONTCONFIG_FILE": "/etc/fonts/fonts.conf"}.items():
        monkeypatch.setenv(key, value)
    env = browser.browser_env(str(tmp_path))
    assert env == {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path / "tmp"), "XDG_CONFIG_HOME": str(tmp_path / ".config"),
        "XDG_CACHE_HOME": str(tmp_path / ".cache"), "LANG": "sv_SE.UTF-8",
        "LC_TIME": "de_DE.UTF-8", "TZ": "Europe/Stockholm",
        "FONTCONFIG_FILE": "/etc/fonts/fonts.conf"}


def test_browser_env_has_a_locale_when_the_worker_has_none(monkeypatch, tmp_path):
    monkeypatch.delenv("LANG", raising=False)
    assert browser.browser_env(str(tmp_path))["LANG"] == "C.UTF-8"


@pytest.mark.parametrize("name", ["root", "0", "no-such-user-sp-test"])
def test_browser_user_refuses_root_and_unknown_names(name):
    with pytest.raises(browser.BrowserSetupError, match="SP_BROWSER_USER"):
        browser.resolve_user(name)


def test_browser_user_by_name_or_number():
    nobody = pwd.getpwnam("nobody")
    assert browser.resolve_user("nobody") == browser.RunAs("nobody", nobody.pw_uid,
                                                            nobody.pw_gid)
    assert browser.resolve_user(" 54321 ") == browser.RunAs("54321", 54321, 54321)


def test_a_root_worker_runs_its_browser_as_nobody_or_the_configured_user(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.delenv("SP_BROWSER_USER", raising=False)
    assert browser.browser_user().uid == pwd.getpwnam("nobody").pw_uid
    monkeypatch.setenv("SP_BROWSER_USER", "54321")
    assert browser.browser_user().uid == 54321
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert browser.browser_user() is None  # not root: the worker's own user


def test_bad_browser_user_stops_the_worker_at_start(monkeypatch):
    settings = {"SP_DATABASE_URL": "mysql://u:p@127.0.0.1/db", "SP_SECRET_KEYS": TEST_KEYS[0],
                "SP_ADMIN_TOKENS": TEST_TOKENS[0], "SP_SITE_ORIGINS": "https://example.com"}
    with pytest.raises(config.ConfigError, match="SP_BROWSER_USER must not be root"):
        config.load(env={}, overrides={**settings, "SP_BROWSER_USER": "root"})
    assert config.load(env={}, overrides={**settings, "SP_BROWSER_USER": "nobody"})


def test_launcher_drops_to_the_user_with_no_new_privileges(monkeypatch):
    assert browser._launcher(None) == ([], {})
    user = browser.RunAs("x", 54321, 54322)
    prefix, popen_kw = browser._launcher(user)
    if not prefix:
        pytest.skip("no setpriv here")
    assert prefix[0].endswith("/setpriv") and popen_kw == {}
    assert {"--reuid=54321", "--regid=54322", "--clear-groups", "--no-new-privs"} <= set(prefix)
    assert prefix[-1] == "--"
    monkeypatch.setattr(browser.shutil, "which", lambda *a, **k: None)
    assert browser._launcher(user) == ([], {"user": 54321, "group": 54322,
                                            "extra_groups": []})


def test_driver_service_puts_the_launcher_first(monkeypatch):
    monkeypatch.setenv("SE_CHROMEDRIVER", "/somewhere/else/chromedriver")
    service = browser._DriverService(["/usr/bin/setpriv", "--reuid=1", "--"],
                                     "/usr/bin/chromedriver", port=4444)
    assert service.path == "/usr/bin/setpriv"
    args = service.command_line_args()
    assert args[:3] == ["--reuid=1", "--", "/usr/bin/chromedriver"] and "--port=4444" in args
    plain = browser._DriverService([], "/usr/bin/chromedriver", port=4444)
    assert plain.path == "/usr/bin/chromedriver"
    assert "--port=4444" in plain.command_line_args()
    assert not {"/usr/bin/setpriv", "--"} & set(plain.command_line_args())
