"""PHPUnit inside the real WordPress (issue 6): the plugin's sanitising, signing, REST route,
rate limit, outbox and privacy tools, on a database of their own, forwarding to the test
stack's real sidecar."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from conftest import require_packages

ROOT = Path(__file__).resolve().parent.parent


def test_phpunit_in_wordpress(full_stack):
    require_packages("phpunit")
    full_stack.ensure_database("sp_phpunit")
    env = dict(
        os.environ,
        SP_WP_DIR=str(full_stack.wp_dir),
        SP_TEST_DB_HOST=f"127.0.0.1:{full_stack.db_port}",
        SP_TEST_DB_NAME="sp_phpunit",
        SP_TEST_DB_USER=full_stack.db_user,
        SP_TEST_DB_PASSWORD=full_stack.db_password,
        SP_TEST_HOME="http://phpunit.example",
        SP_TEST_SIDECAR_URL=full_stack.sidecar_url,
        SP_TEST_SECRET_KEYS=full_stack.secret_keys,
        SP_TEST_ADMIN_TOKEN=full_stack.admin_token,
    )
    out = subprocess.run(["phpunit", "-c", str(ROOT / "tests/php/wp/phpunit.xml")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    report = out.stdout + out.stderr
    assert out.returncode == 0, report
    ran = re.search(r"OK \((\d+) tests?, (\d+) assertions?\)", report)
    assert ran and int(ran.group(1)) >= 30, report
