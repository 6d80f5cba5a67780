"""Test session fixtures: one private MariaDB (and, for end-to-end tests, one WordPress,
sidecar, worker and browser) per test session, started by the same code as `make demo`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from helpers import SITE, TEST_KEYS, TEST_TOKENS, AdminApi, db_conn  # noqa: E402
from stack import Stack, free_port  # noqa: E402
from syspkgs import message as missing_message  # noqa: E402
from syspkgs import missing as missing_packages  # noqa: E402

from sidecar import create_app  # noqa: E402
from sidecar.browser import new_driver, quit_driver  # noqa: E402


def require_packages(*names: str) -> None:
    """Fail (not with a confusing assertion later) naming the Debian packages that are missing
    (scripts/syspkgs.py, the list install.sh installs from)."""
    gone = missing_packages(*names)
    if gone:
        pytest.fail("Missing system packages:\n" + missing_message(gone), pytrace=False)


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """A private MariaDB for the whole session; `full_stack` adds the other parts to it."""
    require_packages("mariadb-server", "mariadb-client")
    s = Stack(state_dir=tmp_path_factory.mktemp("stack"), wp_port=free_port(),
              sidecar_port=free_port(), db_port=free_port(), gunicorn_workers=2)
    s.start_db()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def full_stack(stack):
    """WordPress with the plugin, the sidecar under gunicorn and the screenshot worker."""
    require_packages("stack", "chromium", "chromium-driver", "fonts-dejavu-core")
    stack.start_wordpress()
    stack.start_sidecar()
    stack.start_worker()
    # Every simulated visitor comes from 127.0.0.1: the per-IP limit (120/min by default,
    # tested by PHPUnit on its own site) must not throttle the whole browser suite.
    stack.wp_eval("$s = get_option('secure_privacy_settings');"
                  " $s['rate_limit_per_minute'] = 1000;"
                  " update_option('secure_privacy_settings', $s);")
    return stack


@pytest.fixture(scope="session")
def test_db(stack):
    """Database URL of a database of its own for the sidecar's API tests."""
    stack.ensure_database("sp_test")
    return stack.database_url("sp_test")


@pytest.fixture
def anchor_file(tmp_path):
    """The ledger's anchor file of this test's apps (outside the database, like on a host)."""
    return tmp_path / "anchors.jsonl"


@pytest.fixture
def make_app(test_db, anchor_file):
    """Build sidecar apps on the (emptied) test database; keyword args override settings."""
    with db_conn(test_db) as conn, conn.cursor() as cur:
        for name in ("consents", "screenshot_jobs", "screenshots", "seals", "chain", "renders"):
            if _exists(cur, f"t_sp_{name}"):  # the first app of the session creates them
                cur.execute(f"DELETE FROM t_sp_{name}")
        conn.commit()
    apps = []

    def build(**overrides):
        app = create_app({
            "SP_DATABASE_URL": test_db,
            "SP_SECRET_KEYS": ",".join(TEST_KEYS),
            "SP_ADMIN_TOKENS": ",".join(TEST_TOKENS),
            "SP_SITE_ORIGINS": SITE,
            "SP_TABLE_PREFIX": "t_",
            "SP_ANCHOR_FILE": str(anchor_file),
            **overrides,
        })
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["sp_pool"].close()


def _exists(cur, name: str) -> bool:
    cur.execute("SHOW TABLES LIKE %s", (name,))
    return bool(cur.fetchall())


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def sql(test_db):
    """Run one SQL statement on the test database; returns the rows."""
    def run(statement, args=()):
        with db_conn(test_db) as conn, conn.cursor() as cur:
            cur.execute(statement, args)
            rows = cur.fetchall()
            conn.commit()
            return rows
    return run


@pytest.fixture(scope="session")
def browser():
    """One real headless Chromium for the whole session."""
    require_packages("chromium", "chromium-driver", "fonts-dejavu-core")
    driver = new_driver(1280, 800)
    driver.set_page_load_timeout(30)
    yield driver
    quit_driver(driver)


@pytest.fixture
def fresh_browser(browser, full_stack):
    """The session's browser with no cookies or storage for the site: a first-time visitor."""
    browser.get(full_stack.wp_url + "/wp-includes/images/blank.gif")
    browser.delete_all_cookies()
    browser.execute_script("localStorage.clear(); sessionStorage.clear();")
    return browser


@pytest.fixture(scope="session")
def admin_api(full_stack):
    return AdminApi(full_stack.sidecar_url, full_stack.admin_token)
