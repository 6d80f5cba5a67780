"""Fault suite (issue 10, item 2): consent traffic through the real WordPress route while a
part of the stack fails, then exact counts per fault.

    .venv/bin/python bench/faults.py [--short] [--json PATH]     (make test-faults)

Starts its own stack (MariaDB, WordPress with the plugin, gunicorn, worker, Chromium) on free
ports of 127.0.0.1 and runs each fault with bounded load; `tests/e2e/test_faults.py` runs the
same functions in a short form on the test session's stack. Each visitor thread posts a
consent like the widget does (`restUrl` of the page's widget configuration, with plain
permalinks `?rest_route=/secure-privacy/v1/consent`, same-site Origin) and waits for the
answer; an event that was not answered 202 is sent once more with the same event_id after
the fault, as the widget does from the visitor's next page. The plugin's outbox is then
drained by the plugin's own cron callback, and the rows of `<prefix>sp_consents` are counted
by event_id:

    sent        events sent during the fault
    accepted    of those, answered 202 by WordPress (the rest: `statuses`)
    stored      events with a record
    duplicates  events with more than one record            (must be 0)
    lost        events answered 202 without exactly one record (must be 0)
    unrecorded  events with no record at all after the retry  (must be 0)

Faults:
  sidecar_kill   gunicorn (master and workers) SIGKILLed during traffic, restarted;
  db_stop        MariaDB stopped during traffic, started again on the same data directory
                 (db_kill, long run only: SIGKILLed instead, so it restarts by crash recovery);
                 the sidecar is probed directly meanwhile (POST /v1/consents, /readyz):
                 503 fast, no hanging worker, /readyz recovers on its own;
  browser        Chromium (and then chromedriver) SIGKILLed mid-screenshot, and a page with
                 a resource that never finishes loading: each job finished exactly once,
                 the worker process keeps serving later jobs.
Exit status 1 if any count or check fails.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pymysql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from stack import Stack, free_port  # noqa: E402

from sidecar import codec, jobs  # noqa: E402
from sidecar.browser import process_tree  # noqa: E402
from sidecar.db import Tables, connect_args  # noqa: E402
from sidecar.signing import CONSENT_SALT, serializer  # noqa: E402

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126 Safari/537.36 sp-faults"
# Test-only site code (never shipped with the plugin): written into the stack's WordPress.
MU_PLUGIN = """<?php
// Written by bench/faults.py for the fault suite; not part of the plugin.
// ?sp_test_slow=N&sp_test_id=X : the first request for X waits N s (at most 10) before the page.
// ?sp_test_stall=PORT          : the page carries an image from 127.0.0.1:PORT (the fault
//                                suite's stall server) that never finishes loading.
if ( isset( $_GET['sp_test_slow'], $_GET['sp_test_id'] ) ) {
	$sp_id     = preg_replace( '/\\W/', '', (string) $_GET['sp_test_id'] );
	$sp_marker = sys_get_temp_dir() . '/sp-test-slow-' . $sp_id;
	if ( ! file_exists( $sp_marker ) ) {
		touch( $sp_marker );
		sleep( min( 10, max( 0, (int) $_GET['sp_test_slow'] ) ) );
	}
}
if ( isset( $_GET['sp_test_stall'] ) ) {
	add_action( 'wp_footer', static function () {
		$src = 'http://127.0.0.1:' . (int) $_GET['sp_test_stall'] . '/stall.gif';
		echo '<img alt="" width="1" height="1" src="' . esc_url( $src ) . '">';
	} );
}
"""


class StallServer:
    """An origin of the site (as a CDN would be) whose every answer promises 100 kB and
    sends a byte every half second: a page using it never fires its load event. Each answer
    ends when the browser goes away, or after 60 s. Not php -S: there, one stalled request
    holds up the other requests its worker process accepted, which no real server does."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                until = time.monotonic() + 60
                try:
                    while time.monotonic() < until:
                        self.wfile.write(b"G")
                        self.wfile.flush()
                        time.sleep(0.5)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- the visitor's side -------------------------------------------------------------------

def site_config(stack: Stack, path: str = "/") -> dict:
    """The widget configuration the page prints (restUrl, policy and banner version...)."""
    with urllib.request.urlopen(stack.wp_url + path, timeout=30) as r:
        html = r.read().decode()
    m = re.search(r'<script type="application/json" id="sp-consent-config">(.*?)</script>',
                  html, re.S)
    if not m:
        raise RuntimeError(f"no widget configuration on {stack.wp_url + path}")
    return json.loads(m.group(1))


def consent_body(cfg: dict, page_url: str, i: int = 0) -> dict:
    """A consent as the widget posts it."""
    reject = i % 3 == 2
    return {
        "event_id": str(uuid.uuid4()), "subject_id": str(uuid.uuid4()), "action": "grant",
        "method": "reject_all" if reject else "accept_all",
        "categories": {"necessary": True, "preferences": not reject,
                       "statistics": not reject, "marketing": not reject},
        "page_url": page_url, "policy_version": cfg["policyVersion"],
        "banner_version": cfg["bannerVersion"], "language": cfg.get("language") or "en-US",
        "signals": {"gpc": False, "dnt": False},
    }


def post(url: str, body: dict, origin: str, timeout: float = 20) -> tuple[int, dict | None]:
    """POST JSON; (status, JSON answer or None). Status 0: no answer (refused, reset, timeout)."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", "Origin": origin, "User-Agent": UA})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw, status = r.read(), r.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    except (urllib.error.URLError, OSError):
        return 0, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


class Traffic:
    """`visitors` threads, each posting consents back to back through the WordPress route
    until stop() (or `max_seconds`); every event and its answer is kept in `events`."""

    def __init__(self, stack: Stack, cfg: dict, visitors: int = 3, page_url: str | None = None,
                 max_seconds: float = 600, pause: float = 0.05):
        self.stack, self.cfg, self.visitors = stack, cfg, visitors
        self.page_url = page_url or stack.wp_url + "/"
        self.max_seconds, self.pause = max_seconds, pause
        self.events: list[dict] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> Traffic:
        self.t0 = time.monotonic()
        for n in range(self.visitors):
            t = threading.Thread(target=self._visitor, args=(n,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def _visitor(self, n: int) -> None:
        i = n
        while not self.stopping.is_set() and time.monotonic() - self.t0 < self.max_seconds:
            body = consent_body(self.cfg, self.page_url, i)
            started = time.monotonic()
            status, answer = post(self.cfg["restUrl"], body, self.stack.wp_url)
            event = {"body": body, "status": status, "t": started - self.t0,
                     "latency": time.monotonic() - started,
                     "delivered": bool(answer and answer.get("delivered")),
                     "answer_ok": status != 202 or bool(
                         answer and answer.get("event_id") == body["event_id"])}
            with self.lock:
                self.events.append(event)
            i += self.visitors
            # A visitor clicks now and then; after a failure the widget waits before its retry.
            time.sleep(self.pause if status == 202 else max(self.pause, 0.5))

    def stop(self) -> list[dict]:
        self.stopping.set()
        for t in self.threads:
            t.join(60)
        return self.events


def retry_unaccepted(stack: Stack, cfg: dict, events: list[dict]) -> dict:
    """Send every event not answered 202 once more, same body (the widget's retry)."""
    retried = [e for e in events if e["status"] != 202]

    def send(e):
        status, answer = post(cfg["restUrl"], e["body"], stack.wp_url)
        e["retry_status"] = status
        return status == 202 and bool(answer and answer.get("event_id") == e["body"]["event_id"])
    with ThreadPoolExecutor(3) as pool:
        ok = sum(pool.map(send, retried))
    return {"retried": len(retried), "retried_202": ok}


# ---- the site's side ------------------------------------------------------------------------

def drain_outbox(stack: Stack, timeout: float = 180) -> dict:
    """Run the plugin's own outbox delivery (its cron callback) until nothing is pending."""
    deadline = time.monotonic() + timeout
    while True:
        status = json.loads(stack.wp_eval(
            "do_action( SECURE_PRIVACY_CRON_HOOK );"
            " echo wp_json_encode( secure_privacy_outbox_status() );"))
        if not status["pending"] or time.monotonic() > deadline:
            return status
        time.sleep(1)


def db(stack: Stack):
    return pymysql.connect(**connect_args(stack.database_url()))


def records_by_event(stack: Stack, event_ids: list[str]) -> dict[str, int]:
    """Rows of `<prefix>sp_consents` per event_id."""
    found: dict[str, int] = {}
    conn = db(stack)
    try:
        with conn.cursor() as cur:
            for i in range(0, len(event_ids), 500):
                chunk = event_ids[i:i + 500]
                cur.execute(f"SELECT event_id, COUNT(*) AS n FROM `{stack.table_prefix}sp_consents`"
                            f" WHERE event_id IN ({', '.join(['%s'] * len(chunk))})"
                            " GROUP BY event_id", [codec.uuid_to_db(e) for e in chunk])
                found.update({codec.uuid_from_db(r["event_id"]): r["n"]
                              for r in cur.fetchall()})
        conn.commit()
    finally:
        conn.close()
    return found


def tally(stack: Stack, events: list[dict], outbox: dict) -> dict:
    """The counts of one fault, after the retry and the drain."""
    rows = records_by_event(stack, [e["body"]["event_id"] for e in events])
    statuses: dict[str, int] = {}
    for e in events:
        statuses[str(e["status"])] = statuses.get(str(e["status"]), 0) + 1
    accepted = [e for e in events if e["status"] == 202]
    ever_accepted = [e for e in events if 202 in (e["status"], e.get("retry_status"))]
    return {
        "sent": len(events),
        "accepted": len(accepted),
        "statuses": statuses,
        "accepted_via_outbox": sum(1 for e in accepted if not e["delivered"]),
        "stored": sum(1 for e in events if rows.get(e["body"]["event_id"], 0) >= 1),
        "duplicates": sum(1 for e in events if rows.get(e["body"]["event_id"], 0) > 1),
        "lost": sum(1 for e in ever_accepted if rows.get(e["body"]["event_id"], 0) != 1),
        "unrecorded": sum(1 for e in events if not rows.get(e["body"]["event_id"])),
        "wrong_answers": sum(1 for e in events if not e["answer_ok"]),
        "max_latency_s": round(max((e["latency"] for e in events), default=0), 2),
        "outbox_pending": outbox["pending"], "outbox_failed": outbox["failed"],
    }


def problems(counts: dict) -> list[str]:
    """What is wrong with a fault's counts ([] when nothing)."""
    out = [f"{k} = {counts[k]}" for k in ("duplicates", "lost", "unrecorded", "wrong_answers",
                                          "outbox_pending", "outbox_failed") if counts.get(k)]
    if not counts.get("sent") or not counts.get("accepted"):
        out.append("no traffic was accepted at all")
    return out + counts.get("problems", [])


def ready(stack: Stack, timeout: float = 3) -> int:
    try:
        with urllib.request.urlopen(stack.sidecar_url + "/readyz", timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return 0


def wait(check, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    return None


def settle(stack: Stack, cfg: dict, traffic: Traffic) -> dict:
    """After a fault: retry what was not accepted, drain the outbox, count."""
    events = traffic.stop()
    retry = retry_unaccepted(stack, cfg, events)
    outbox = drain_outbox(stack)
    return {**tally(stack, events, outbox), **retry}


# ---- fault 1: the sidecar is SIGKILLed and restarted ------------------------------------------

def sidecar_kill(stack: Stack, kills: int = 1, lead: float = 3, down: float = 2,
                 between: float = 3, visitors: int = 3) -> dict:
    cfg = site_config(stack)
    traffic = Traffic(stack, cfg, visitors).start()
    restarts = []
    try:
        time.sleep(lead)
        for _ in range(kills):
            stack.kill_part("sidecar")
            time.sleep(down)
            started = time.monotonic()
            stack.restart_part("sidecar")
            restarts.append(round(time.monotonic() - started, 1))
            time.sleep(between)
    finally:
        if not stack.alive("sidecar"):
            stack.restart_part("sidecar")
    counts = settle(stack, cfg, traffic)
    counts.update(kills=kills, down_s=down, restart_s=restarts,
                  traffic_s=round(traffic.events[-1]["t"], 1) if traffic.events else 0)
    return counts


# ---- fault 2: MariaDB stops ------------------------------------------------------------------

class Probe:
    """Direct requests to the sidecar while the database is away: a signed consent (POST
    /v1/consents) and GET /readyz, one after the other, each timed."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.signer = serializer(stack.secret_keys.split(","), CONSENT_SALT)
        self.samples: list[dict] = []
        self.stopping = threading.Event()

    def start(self) -> Probe:
        self.t0 = time.monotonic()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stopping.is_set():
            payload = consent_body({"policyVersion": "1", "bannerVersion": "faults"},
                                   self.stack.wp_url + "/?sp_probe=1")
            payload.update(ip="127.0.0.1", user_agent=UA, wp_user_id=0,
                           occurred_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
            started = time.monotonic()
            status, _ = post(self.stack.sidecar_url + "/v1/consents",
                             {"token": self.signer.dumps(payload)}, self.stack.wp_url, 15)
            mid = time.monotonic()
            readyz = ready(self.stack, 15)
            self.samples.append({"t": started - self.t0, "event_id": payload["event_id"],
                                 "status": status, "latency": mid - started,
                                 "readyz": readyz, "readyz_latency": time.monotonic() - mid})
            time.sleep(0.1)

    def stop(self) -> list[dict]:
        self.stopping.set()
        self.thread.join(60)
        return self.samples


def log_size(stack: Stack, name: str) -> int:
    path = stack.log_dir / f"{name}.log"
    return path.stat().st_size if path.exists() else 0


def log_since(stack: Stack, name: str, offset: int) -> str:
    with open(stack.log_dir / f"{name}.log", "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def db_stop(stack: Stack, down: float = 8, lead: float = 3, after: float = 4,
            visitors: int = 3, kill: bool = False) -> dict:
    """MariaDB shut down (or, with `kill`, SIGKILLed: crash recovery on restart) for
    `down` s during traffic, then started again on the same data directory and port."""
    cfg = site_config(stack)
    sidecar_log = log_size(stack, "sidecar")
    worker_pid = stack.procs["worker"].pid if stack.alive("worker") else None
    traffic = Traffic(stack, cfg, visitors).start()
    probe = Probe(stack).start()
    marks = {}
    try:
        time.sleep(lead)
        marks["stop"] = time.monotonic() - probe.t0
        if kill:
            stack.kill_part("mariadb")
        else:
            stack.stop_part("mariadb")
        marks["stopped"] = time.monotonic() - probe.t0
        time.sleep(down)
        marks["start"] = time.monotonic() - probe.t0
        stack.restart_part("mariadb")
        marks["started"] = time.monotonic() - probe.t0
        recovered = wait(lambda: ready(stack) == 200, 60)
        marks["readyz_ok"] = time.monotonic() - probe.t0 if recovered else None
        time.sleep(after)
    finally:
        if not stack.alive("mariadb"):
            stack.restart_part("mariadb")
        samples = probe.stop()
    counts = settle(stack, cfg, traffic)
    # While MariaDB was down (stop finished .. restart began): what the sidecar answered.
    down_samples = [s for s in samples if marks["stopped"] <= s["t"] and
                    s["t"] + s["latency"] + s["readyz_latency"] <= marks["start"]]
    statuses: dict[str, int] = {}
    for s in down_samples:
        statuses[str(s["status"])] = statuses.get(str(s["status"]), 0) + 1
    lat = sorted(s["latency"] for s in down_samples)
    rlat = sorted(s["readyz_latency"] for s in down_samples)
    direct_rows = records_by_event(stack, [s["event_id"] for s in samples])
    direct_created = [s for s in samples if s["status"] in (200, 201)]
    counts.update(
        down_s=round(marks["start"] - marks["stopped"], 1),
        sidecar_while_down={
            "requests": len(down_samples), "statuses": statuses,
            "p50_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
            "max_ms": round(lat[-1] * 1000, 1) if lat else None,
            "readyz": sorted({s["readyz"] for s in down_samples}),
            "readyz_max_ms": round(rlat[-1] * 1000, 1) if rlat else None,
        },
        readyz_recovered_s_after_db_start=(round(marks["readyz_ok"] - marks["started"], 1)
                                           if marks.get("readyz_ok") else None),
        direct={"sent": len(samples), "created": len(direct_created),
                "lost": sum(1 for s in direct_created if direct_rows.get(s["event_id"]) != 1),
                "duplicates": sum(1 for n in direct_rows.values() if n > 1)},
    )
    # gunicorn kills a worker stuck in one request for `timeout` s and logs WORKER TIMEOUT.
    hung = log_since(stack, "sidecar", sidecar_log).count("WORKER TIMEOUT")
    worker_alive = worker_pid is not None and stack.alive("worker") and \
        stack.procs["worker"].pid == worker_pid
    counts.update(gunicorn_worker_timeouts=hung, screenshot_worker_survived=worker_alive)
    bad = []
    if hung:
        bad.append(f"{hung} gunicorn worker(s) hung until killed (WORKER TIMEOUT)")
    if not worker_alive:
        bad.append("the screenshot worker process died while MariaDB was down")
    if not down_samples:
        bad.append("no direct request to the sidecar completed while MariaDB was down")
    if statuses.keys() - {"503"}:
        bad.append(f"the sidecar answered {statuses} while MariaDB was down (want only 503)")
    if lat and lat[-1] > 2.0:
        bad.append(f"a consent POST took {lat[-1]:.2f} s while MariaDB was down")
    if rlat and rlat[-1] > 2.0:
        bad.append(f"/readyz took {rlat[-1]:.2f} s while MariaDB was down")
    if any(s["readyz"] != 503 for s in down_samples):
        bad.append("/readyz did not fail while MariaDB was down")
    if not marks.get("readyz_ok"):
        bad.append("/readyz did not recover within 60 s of MariaDB's start")
    if counts["direct"]["lost"] or counts["direct"]["duplicates"]:
        bad.append(f"direct consents: {counts['direct']}")
    counts["problems"] = bad
    return counts


# ---- fault 3: the browser --------------------------------------------------------------------

def install_test_pages(stack: Stack) -> None:
    stack.mu_plugin("sp-test-faults.php", MU_PLUGIN)


def remove_test_pages(stack: Stack) -> None:
    (stack.wp_dir / "wp-content" / "mu-plugins" / "sp-test-faults.php").unlink(missing_ok=True)


def browser_pids(stack: Stack) -> dict[str, list[int]]:
    """The worker's chromedriver and Chromium main processes (renderers left out)."""
    found: dict[str, list[int]] = {"chromedriver": [], "chromium": []}
    proc = stack.procs.get("worker")
    if proc is None:
        return found
    for pid in process_tree(proc.pid):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        # Chromium's children rewrite their command line into argv[0] ("chromium --type=...").
        name = os.path.basename(argv[0].decode(errors="replace").split(" ")[0])
        if name == "chromedriver":
            found["chromedriver"].append(pid)
        elif name in ("chromium", "chrome") and b"--type=" not in b" ".join(argv):
            found["chromium"].append(pid)
    return found


def job_of(stack: Stack, event_id: str) -> dict | None:
    conn = db(stack)
    p = stack.table_prefix
    try:
        with conn.cursor() as cur:
            # The consent's render job: the one of its render key whose range holds its
            # chain position (the join records.py reads the proof through).
            cur.execute(
                f"SELECT j.id, j.status, j.attempts, j.last_error, j.render_key,"
                f" j.status AS screenshot_status, j.render_id"
                f" FROM `{p}sp_consents` c JOIN `{p}sp_chain` ch ON ch.consent_seq = c.seq"
                f" JOIN `{p}sp_render_jobs` j ON {jobs.job_of_consent(Tables(p))}"
                " WHERE c.event_id = %s", (codec.uuid_to_db(event_id),))
            rows = cur.fetchall()
            for row in rows:
                cur.execute(f"SELECT COUNT(*) AS n FROM `{p}sp_renders` WHERE render_key = %s",
                            (row["render_key"],))
                row["renders"] = cur.fetchone()["n"]
        conn.commit()
    finally:
        conn.close()
    return rows[0] if len(rows) == 1 else ({"jobs": len(rows)} if rows else None)


def browser_faults(stack: Stack, timeout: int = 8, visitors: int = 1,
                   later_jobs: int = 3, slow: int = 4) -> dict:
    """Kill Chromium, then chromedriver, each mid-render of a slow page; then a page whose
    image never finishes; then `later_jobs` ordinary pages. The stack's worker runs with a
    page-load timeout of `timeout` s for this and is started as before afterwards."""
    install_test_pages(stack)
    stall = StallServer()
    stack.restart_part("worker", env={"SP_SCREENSHOT_TIMEOUT": str(timeout),
                                      "SP_SCREENSHOT_BACKOFF": "1",
                                      "SP_SITE_ORIGINS": f"{stack.wp_url},{stall.origin}"})
    worker_pid = stack.procs["worker"].pid
    cfg = site_config(stack)
    nonce = uuid.uuid4().hex[:12]
    traffic = Traffic(stack, cfg, visitors, pause=0.5).start()
    cases: dict[str, dict] = {}
    bad: list[str] = []

    def consent(name: str, page: str) -> str:
        body = consent_body(cfg, stack.wp_url + page)
        status, _ = post(cfg["restUrl"], body, stack.wp_url)
        if status != 202:
            bad.append(f"{name}: the consent was answered {status}")
        cases[name] = {"event_id": body["event_id"], "page": page}
        return body["event_id"]

    try:
        for victim in ("chromium", "chromedriver"):
            event = consent(f"{victim}_killed",
                            f"/?sp_test_slow={slow}&sp_test_id={victim}{nonce}")
            running = wait(lambda e=event: (job_of(stack, e) or {}).get("status") == "running",
                           60)
            time.sleep(min(1.5, slow / 2))  # into the page load
            pids = browser_pids(stack)[victim]
            if not running or not pids:
                bad.append(f"{victim}: no running job or no process to kill ({pids})")
                continue
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            cases[f"{victim}_killed"]["killed_pids"] = pids
        consent("never_loads", f"/?sp_test_stall={stall.port}&sp_test_id={nonce}")
        for i in range(later_jobs):
            consent(f"later_{i}", f"/?p=1&sp_test_later={nonce}{i}")

        def settled():
            jobs = {n: job_of(stack, c["event_id"]) for n, c in cases.items()}
            if all(j and j.get("status") in ("done", "failed") for j in jobs.values()):
                return jobs
            return None
        jobs = wait(settled, 60 + 8 * timeout, interval=1) or {
            n: job_of(stack, c["event_id"]) for n, c in cases.items()}
    finally:
        worker_alive = stack.alive("worker") and stack.procs["worker"].pid == worker_pid
        counts = settle(stack, cfg, traffic)
        stack.restart_part("worker")
        remove_test_pages(stack)
        stall.close()
        for victim in ("chromium", "chromedriver"):  # the slow pages' markers (mu-plugin)
            (Path(tempfile.gettempdir()) / f"sp-test-slow-{victim}{nonce}").unlink(
                missing_ok=True)
    for name, job in jobs.items():
        cases[name].update(job or {"status": None})
        want_attempts = 2 if name.endswith("_killed") else 1
        if not job or job.get("status") != "done" or job.get("screenshot_status") != "done":
            bad.append(f"{name}: job not done exactly once: {job}")
        elif job["renders"] != 1 or not job["render_id"]:
            bad.append(f"{name}: {job['renders']} renders for its key")
        elif job["attempts"] != want_attempts:
            bad.append(f"{name}: {job['attempts']} attempts, want {want_attempts}")
    if not worker_alive:
        bad.append("the worker process died")
    counts.update(jobs=cases, worker_survived=worker_alive, problems=bad)
    return counts


# ---- the long run ------------------------------------------------------------------------------

LONG = {"sidecar_kill": dict(kills=4, lead=5, down=5, between=8, visitors=4),
        "db_stop": dict(down=60, lead=5, after=10, visitors=4),
        "browser": dict(timeout=10, visitors=2, later_jobs=6),
        "db_kill": dict(down=15, lead=5, after=5, visitors=4, kill=True)}
SHORT = {"sidecar_kill": dict(kills=1, lead=3, down=2, between=3),
         "db_stop": dict(down=6, lead=3, after=2),
         "browser": dict(timeout=6, later_jobs=2, slow=3)}
FAULTS = {"sidecar_kill": sidecar_kill, "db_stop": db_stop, "browser": browser_faults,
          "db_kill": db_stop}


def allow_load(stack: Stack, limit: int = 0) -> int:
    """Set the plugin's per-IP rate limit (0: none; every visitor here is 127.0.0.1); return
    the limit it had."""
    return int(stack.wp_eval(
        "$s = get_option('secure_privacy_settings'); $old = (int) $s['rate_limit_per_minute'];"
        f" $s['rate_limit_per_minute'] = {int(limit)};"
        " update_option('secure_privacy_settings', $s); echo $old;"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--short", action="store_true", help="the short form make test runs")
    ap.add_argument("--only", choices=sorted(FAULTS), action="append")
    ap.add_argument("--json", type=Path, help="write the counts here as well")
    args = ap.parse_args()
    plan = SHORT if args.short else LONG
    state = Path(tempfile.mkdtemp(prefix="sp-faults-"))
    stack = Stack(state_dir=state, wp_port=free_port(), sidecar_port=free_port(),
                  db_port=free_port(), gunicorn_workers=2)
    results: dict[str, dict] = {}
    failed = False
    try:
        print(f"faults: starting a stack in {state} ...", flush=True)
        stack.start()
        allow_load(stack, 0)
        for name in args.only or plan:
            options = plan.get(name, LONG[name])
            print(f"faults: {name} {options} ...", flush=True)
            started = time.monotonic()
            counts = FAULTS[name](stack, **options)
            counts["took_s"] = round(time.monotonic() - started, 1)
            results[name] = counts
            wrong = problems(counts)
            failed |= bool(wrong)
            print(json.dumps({name: counts}, indent=1, default=str), flush=True)
            print(f"faults: {name}: {'FAILED ' + '; '.join(wrong) if wrong else 'ok'}",
                  flush=True)
    finally:
        stack.stop()
    out = args.json or Path(tempfile.gettempdir()) / f"sp-faults-{int(time.time())}.json"
    out.write_text(json.dumps(results, indent=1, default=str))
    print(f"faults: counts written to {out}")
    if failed:
        print(f"faults: the stack's state and logs are kept in {state}")
    else:
        shutil.rmtree(state, ignore_errors=True)
    for name, c in results.items():
        print(f"  {name:13s} sent={c['sent']} 202={c['accepted']} stored={c['stored']}"
              f" duplicates={c['duplicates']} lost={c['lost']} unrecorded={c['unrecorded']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
