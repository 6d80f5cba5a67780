"""PHPUnit inside the real WordPress (issue 6): the plugin's sanitising, signing, REST route,
rate limit, outbox and privacy tools, on a database of their own, forwarding to the test
stack's real sidecar."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from helpers import require_packages
from stack import WP_VERSIONS

ROOT = Path(__file__).resolve().parent.parent

# Runs on every WordPress of --wordpress (6.1.9 and 6.5.5): see tests/conftest.py.
pytestmark = pytest.mark.every_wordpress


def test_phpunit_in_wordpress(full_stack):
    require_packages("phpunit")
    served = full_stack.wp_eval("echo get_bloginfo('version');").strip()
    assert served == WP_VERSIONS[full_stack.wp_version]
    # A test database per WordPress version: each installs its own schema there.
    db = "sp_phpunit_" + full_stack.wp_version.replace(".", "_")
    full_stack.ensure_database(db)
    env = dict(
        os.environ,
        SP_WP_DIR=str(full_stack.wp_dir),
        SP_TEST_DB_HOST=f"127.0.0.1:{full_stack.db_port}",
        SP_TEST_DB_NAME=db,
        SP_TEST_DB_USER=full_stack.db_user,
        SP_TEST_DB_PASSWORD=full_stack.db_password,
        SP_TEST_HOME="http://phpunit.example",
        SP_TEST_SIDECAR_URL=full_stack.sidecar_url,
        SP_TEST_SITE_ORIGIN=full_stack.wp_url,  # on the sidecar's SP_SITE_ORIGINS
        SP_TEST_SECRET_KEYS=full_stack.secret_keys,
        SP_TEST_ADMIN_TOKEN=full_stack.admin_token,
    )
    out = subprocess.run(["phpunit", "-c", str(ROOT / "tests/php/wp/phpunit.xml")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    report = out.stdout + out.stderr
    assert out.returncode == 0, report
    ran = re.search(r"OK \((\d+) tests?, (\d+) assertions?\)", report)
    assert ran and int(ran.group(1)) >= 30, report


def test_plugin_states_the_wordpress_range_the_suites_run_on():
    """`Requires at least` is the oldest WordPress the suites run on, `Tested up to` the
    newest, in the plugin header and in readme.txt alike."""
    oldest, newest = min(WP_VERSIONS, key=_key), max(WP_VERSIONS, key=_key)
    for name in ("secure-privacy.php", "readme.txt"):
        text = (ROOT / "wp-plugin" / name).read_text()
        fields = dict(re.findall(r"^[ *]*(Requires at least|Tested up to|Requires PHP):\s*(\S+)",
                                 text, re.M))
        assert fields == {"Requires at least": oldest, "Tested up to": newest,
                          "Requires PHP": "8.1"}, (name, fields)


def _key(version: str) -> tuple:
    return tuple(int(p) for p in version.split("."))
