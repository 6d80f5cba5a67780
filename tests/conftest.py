"""Test session fixtures: one private MariaDB (and, for end-to-end tests, one WordPress,
sidecar, worker and browser) per test session, started by the same code as `make demo`.
The end-to-end tests' own fixtures (`site`, `b`, `fresh_browser`, `admin`) are in
tests/e2e/conftest.py, what they do in tests/e2e/pages.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from helpers import (  # noqa: E402
    SITE,
    TEST_KEYS,
    TEST_TOKENS,
    AdminApi,
    require_packages,
    run_sql,
    wipe_tables,
)
from stack import DEBIAN_WP, WP_VERSIONS, Stack, free_port  # noqa: E402

from sidecar import create_app  # noqa: E402
from sidecar.browser import new_driver, quit_driver  # noqa: E402

# ---- WordPress versions (issue 10): every test runs on Debian's 6.1.9; the modules marked
# `every_wordpress` (the in-WordPress PHPUnit suite, the visitor e2e suites) run once more
# on each other version of --wordpress, on a second WordPress beside the first (same MariaDB
# in a database of its own, same sidecar, worker and browser).

def pytest_addoption(parser):
    parser.addoption("--wordpress", default=",".join(WP_VERSIONS),
                     help="WordPress versions the `every_wordpress` modules run on "
                          f"(comma-separated, of {', '.join(WP_VERSIONS)}; default: all)")


def pytest_configure(config):
    config.addinivalue_line("markers", "every_wordpress: run on every WordPress of --wordpress "
                                       "(the full_stack fixture is parametrized)")


def _wordpress_versions(config) -> list[str]:
    versions = [v.strip() for v in config.getoption("--wordpress").split(",") if v.strip()]
    unknown = [v for v in versions if v not in WP_VERSIONS]
    if unknown or not versions:
        raise pytest.UsageError(f"--wordpress: {unknown or 'none'}; known: "
                                f"{', '.join(WP_VERSIONS)}")
    return versions


def pytest_generate_tests(metafunc):
    if (metafunc.definition.get_closest_marker("every_wordpress")
            and "full_stack" in metafunc.fixturenames):
        versions = _wordpress_versions(metafunc.config)
        metafunc.parametrize("full_stack", versions, indirect=True, scope="session",
                             ids=[f"wp{WP_VERSIONS[v]}" for v in versions])


@pytest.fixture(scope="session")
def stack(tmp_path_factory, pytestconfig):
    """A private MariaDB for the whole session; `full_stack` adds the other parts to it."""
    require_packages("mariadb-server", "mariadb-client")
    s = Stack(state_dir=tmp_path_factory.mktemp("stack"), wp_port=free_port(),
              sidecar_port=free_port(), db_port=free_port(), gunicorn_workers=2)
    # Ports of the other WordPress versions, chosen now: the sidecar (started once) must
    # list their origins to screenshot their pages.
    s.other_wp_ports = {v: free_port() for v in _wordpress_versions(pytestconfig)
                        if v != DEBIAN_WP}
    s.extra_sidecar_env["SP_SITE_ORIGINS"] = ",".join(
        [s.wp_url] + [f"http://127.0.0.1:{p}" for p in s.other_wp_ports.values()])
    s.start_db()
    yield s
    s.stop()


def _allow_the_browser_suite(site: Stack) -> None:
    # Every simulated visitor comes from 127.0.0.1: the per-IP limit (120/min by default,
    # tested by PHPUnit on its own site) must not throttle the whole browser suite.
    site.wp_eval("$s = get_option('secure_privacy_settings');"
                 " $s['rate_limit_per_minute'] = 1000;"
                 " update_option('secure_privacy_settings', $s);")


@pytest.fixture(scope="session")
def debian_stack(stack):
    """WordPress 6.1.9 with the plugin, the sidecar under gunicorn and the screenshot worker."""
    require_packages("stack", "chromium", "chromium-driver", "fonts-dejavu-core")
    stack.start_wordpress()
    stack.start_sidecar()
    stack.start_worker()
    _allow_the_browser_suite(stack)
    return stack


@pytest.fixture(scope="session")
def other_wordpress(debian_stack):
    """`version -> Stack` of the other WordPress versions, each started on first use."""
    started = {}

    def get(version: str) -> Stack:
        if version not in started:
            site = debian_stack.other_wordpress(version, debian_stack.other_wp_ports[version])
            started[version] = site
            site.start_wordpress()
            _allow_the_browser_suite(site)
        return started[version]

    yield get
    for site in started.values():
        site.stop()


@pytest.fixture(scope="session")
def full_stack(request, debian_stack):
    """The whole stack, serving WordPress 6.1.9; in `every_wordpress` modules, each version
    of --wordpress in turn (the other versions share the sidecar, worker and database)."""
    version = getattr(request, "param", DEBIAN_WP)
    if version == DEBIAN_WP:
        return debian_stack
    return request.getfixturevalue("other_wordpress")(version)


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
    wipe_tables(test_db, "t_")  # none yet before the first app of the session makes them
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
        return run_sql(test_db, statement, args)
    return run


@pytest.fixture(scope="session")
def browser():
    """One real headless Chromium for the whole session."""
    require_packages("chromium", "chromium-driver", "fonts-dejavu-core")
    driver = new_driver(1280, 800)
    driver.set_page_load_timeout(30)
    yield driver
    quit_driver(driver)


@pytest.fixture(scope="session")
def admin_api(full_stack):
    return AdminApi(full_stack.sidecar_url, full_stack.admin_token)
