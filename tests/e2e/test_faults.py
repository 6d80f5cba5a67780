"""Faults lose nothing (issue 10, item 2), short form: consent traffic through the real
WordPress route while the sidecar is SIGKILLed, MariaDB is stopped, Chromium or chromedriver
is killed mid-screenshot and a page never finishes loading. Exact counts per fault (sent,
202, stored, duplicates, lost) are printed and written to `faults.json` in the test's tmp
dir. The scenarios are `bench/faults.py`'s (`make test-faults` runs them longer).

They run on the session's `full_stack` and give it back whole: every part running and
ready, the rate limit as it was, the outbox drained, the test pages removed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import faults  # noqa: E402

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def fault(full_stack, tmp_path_factory, request):
    """`fault(name)`: the counts of one scenario, run once per module on the session's stack
    (open to load from 127.0.0.1); named apart from the shared `site` fixture."""
    limit = faults.allow_load(full_stack, 0)
    out = tmp_path_factory.mktemp("faults") / "faults.json"
    results: dict = {}
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    def run(name: str) -> dict:
        if name not in results:
            started = time.monotonic()
            counts = faults.FAULTS[name](full_stack, **faults.SHORT[name])
            counts["took_s"] = round(time.monotonic() - started, 1)
            results[name] = counts
            out.write_text(json.dumps(results, indent=1, default=str))
            line = (f"faults {name}: sent={counts['sent']} 202={counts['accepted']}"
                    f" stored={counts['stored']} duplicates={counts['duplicates']}"
                    f" lost={counts['lost']} unrecorded={counts['unrecorded']}"
                    f" statuses={counts['statuses']} ({counts['took_s']} s; {out})")
            if capture is None:
                print(line)
            else:
                with capture.global_and_fixture_disabled():
                    print("\n" + line, flush=True)
        return results[name]

    yield run
    for name in ("mariadb", "sidecar"):
        if not full_stack.alive(name):
            full_stack.restart_part(name)
    full_stack.restart_part("worker")  # with the stack's own settings, whatever happened
    faults.remove_test_pages(full_stack)
    faults.allow_load(full_stack, limit)
    faults.drain_outbox(full_stack, 60)
    assert faults.ready(full_stack) == 200


def assert_nothing_lost(c: dict) -> None:
    assert c["sent"] > 0 and c["accepted"] > 0, c
    assert c["duplicates"] == 0, c
    assert c["lost"] == 0, c
    assert c["wrong_answers"] == 0, c
    # After the widget's retry and the outbox drain, every event sent is stored once.
    assert c["unrecorded"] == 0 and c["stored"] == c["sent"], c
    assert c["outbox_pending"] == 0 and c["outbox_failed"] == 0, c


def test_sidecar_sigkilled_during_traffic_every_202_is_stored_exactly_once(fault):
    c = fault("sidecar_kill")
    assert_nothing_lost(c)
    # Visitors never saw the crash: the plugin kept what it could not deliver.
    assert c["accepted"] == c["sent"], c
    assert c["accepted_via_outbox"] > 0, c


def test_mariadb_stopped_during_traffic_every_202_is_stored_exactly_once(fault):
    c = fault("db_stop")
    assert_nothing_lost(c)
    # WordPress itself needs the database: some visitors were refused and retried.
    assert c["accepted"] < c["sent"] and c["retried_202"] == c["retried"], c
    assert c["direct"]["lost"] == 0 and c["direct"]["duplicates"] == 0, c


def test_sidecar_answers_503_fast_while_mariadb_is_down_and_readyz_recovers_by_itself(fault):
    c = fault("db_stop")
    down = c["sidecar_while_down"]
    assert down["requests"] >= 5 and down["statuses"] == {"503": down["requests"]}, c
    assert down["max_ms"] < 2000 and down["readyz_max_ms"] < 2000, c
    assert down["readyz"] == [503], c
    assert c["readyz_recovered_s_after_db_start"] is not None, c
    assert c["gunicorn_worker_timeouts"] == 0 and c["screenshot_worker_survived"], c
    assert not c["problems"], c["problems"]


def job(fault, name: str) -> dict:
    c = fault("browser")
    assert_nothing_lost(c)
    return c["jobs"][name]


def test_chromium_killed_mid_screenshot_the_job_is_retried_and_done_once(fault):
    j = job(fault, "chromium_killed")
    assert j.get("killed_pids"), j
    assert (j["status"], j["screenshot_status"], j["attempts"], j["renders"]) == \
        ("done", "done", 2, 1), j


def test_chromedriver_killed_mid_screenshot_the_worker_keeps_serving(fault):
    j = job(fault, "chromedriver_killed")
    assert j.get("killed_pids"), j
    assert (j["status"], j["screenshot_status"], j["attempts"], j["renders"]) == \
        ("done", "done", 2, 1), j
    assert fault("browser")["worker_survived"]


def test_a_page_that_never_finishes_loading_is_shot_once_and_later_jobs_are_done(fault):
    for name in ("never_loads", "later_0", "later_1"):
        j = job(fault, name)
        assert (j["status"], j["screenshot_status"], j["attempts"], j["renders"]) == \
            ("done", "done", 1, 1), (name, j)
    assert fault("browser")["worker_survived"]
    assert not fault("browser")["problems"], fault("browser")["problems"]
