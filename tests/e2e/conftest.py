"""Fixtures of the end-to-end tests, on top of the session's stack and browser
(tests/conftest.py). What they do is in pages.py; fixtures live here, not imported into
test modules (an imported fixture shadows the test's argument of the same name)."""

from __future__ import annotations

import pytest
from helpers import require_packages
from pages import (
    LoopbackSite,
    Site,
    Visitor,
    autoblock_plugin,
    forget_site,
    login,
    make_tag_manager_page,
    tracker_answer,
    untagged_trackers_html,
)


@pytest.fixture(scope="module")
def site(full_stack):
    """The test WordPress: settings, options and pages a test changes and restores."""
    return Site(full_stack)


@pytest.fixture
def fresh_browser(browser, full_stack):
    """The session's browser with no cookies or storage for the site: a first-time visitor."""
    forget_site(browser, full_stack.wp_url)
    return browser


@pytest.fixture
def b(fresh_browser):
    """The browser as one first-time visitor; the emulations a test asks for are undone."""
    v = Visitor(fresh_browser)
    try:
        yield v
    finally:
        v.undo()


@pytest.fixture
def admin(browser, full_stack):
    """The session's browser, signed in to wp-admin as the site's administrator."""
    login(browser, full_stack)
    return browser


@pytest.fixture
def fresh_site(stack, browser):
    """A site owner's fresh WordPress with its own sidecar, on the session's MariaDB (a
    database of its own): WordPress just installed, the plugin copied in but not activated;
    the sidecar made by `sidecar init` for this site's origin, migrated, started under
    gunicorn with its screenshot worker (the README's install section). The Stack's
    `init_printed` holds the three values `sidecar init` printed for wp-admin."""
    require_packages("stack", "chromium", "chromium-driver", "fonts-dejavu-core")
    site = stack.fresh_site()
    try:
        site.start_wordpress()
        site.init_printed = site.init_sidecar()
        site.start_sidecar()
        site.start_worker()
        yield site
    finally:
        site.stop()


# ---- auto-blocking (issue 14) ---------------------------------------------------------------

@pytest.fixture(scope="module")
def listener():
    """A "third party" on 127.0.0.1 that counts every request it gets, by path."""
    listener = LoopbackSite(tracker_answer)
    yield listener
    listener.stop()


@pytest.fixture(scope="module")
def tracked_page(site, full_stack, listener):
    """A page nobody tagged with the tracker's script, iframe and pixel and a payment script
    from `listener`, which the must-use plugin makes a known service (and whose script it
    enqueues on every page) for the module."""
    with autoblock_plugin(full_stack, listener), \
            site.page("Untagged trackers", untagged_trackers_html(listener.origin)) as url:
        yield url


@pytest.fixture(scope="module")
def tag_manager_page(site, full_stack, tracked_page, listener):
    """A page nobody tagged whose (allowed) tag manager adds the loopback tracker's script and
    iframe at runtime; the catalogue filter of `tracked_page` is in force."""
    with make_tag_manager_page(site, listener.origin) as url:
        yield url
