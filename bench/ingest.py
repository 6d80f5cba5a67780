"""Ingest benchmark (issues 3 and 11): the whole system as a site runs it.

    .venv/bin/python bench/ingest.py [--seconds 15] [--connections 16] [--workers N]
                                     [--runs N] [--pause-worker | --no-worker] [--pages 8]
                                     [--redo-log 1G]

One private stack (scripts/stack.py, free ports, a temp folder): MariaDB with durable commits
(innodb_flush_log_at_trx_commit=1), the real WordPress, the sidecar under gunicorn as
gunicorn.conf.py runs it, and the screenshot worker (`sidecar worker`: it seals the ledger
every second and renders pages with headless Chromium). Consents name pages of that
WordPress, whose origin is on SP_SITE_ORIGINS, so every consent queues real screenshot work.

Each run (`--runs N` repeats it in the same process), in this order:
 1. two raw baselines, each one PyMySQL connection doing durable single-row inserts
    (autocommit off, COMMIT after each row) for `--seconds`: a narrow row (id, event_id,
    JSON body, time) and the full `sp_consents` row (every column of a real stored record,
    in a table created LIKE ours);
 2. the load: wrk posts distinct, valid signed tokens with `--connections` connections on
    127.0.0.1 for `--seconds`, for `--pages` pages of the site not rendered before (90 %
    desktop, 10 % mobile user agents, the site's real banner version), while the processlist
    is sampled every 0.1 s;
 3. the drain: the unsealed backlog when the load stops and the time until it is sealed;
    then the screenshot queue, its jobs by status and the renders created.
Prints consents/s, p50/p99, non-2xx, that every 201 left exactly one row, the ratios to both
baselines, the drain figures and the screenshot figures, and with several runs a summary.
`--redo-log 1G` sets MariaDB's InnoDB redo log size first (README, "The database"); the
stack line prints the size in force. `--pause-worker` SIGSTOPs the worker (and its browser)
for the load and SIGCONTs it when the load stops; `--no-worker` never starts it (nothing is
sealed or rendered: the old bench).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pymysql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from stack import Stack, free_port  # noqa: E402

from sidecar import records  # noqa: E402
from sidecar.db import Tables, connect_args  # noqa: E402
from sidecar.signing import CONSENT_SALT, serializer  # noqa: E402

DESKTOP = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
           " Chrome/120.0 Safari/537.36")
MOBILE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15"
          " (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")

TARGET_RATIO, TARGET_P99_MS, TARGET_DRAIN_S = 1.0, 50.0, 5.0


def payload(i: int, page: str, banner: str, rng: random.Random) -> dict:
    return {
        "event_id": str(uuid.uuid4()), "subject_id": str(uuid.uuid4()), "action": "grant",
        "method": "accept_all" if i % 3 else "custom",
        "categories": {"necessary": True, "preferences": bool(i % 2), "statistics": True,
                       "marketing": bool(i % 3)},
        "page_url": page, "policy_version": "1", "banner_version": banner,
        "language": "en-US", "signals": {"gpc": False, "dnt": False},
        "ip": f"81.2.{i % 250}.{i % 200 + 1}",
        "user_agent": MOBILE if rng.random() < 0.1 else DESKTOP, "wp_user_id": 0,
        "occurred_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def scalar(conn, sql: str, args=()):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        row = cur.fetchone()
    conn.commit()
    return None if row is None else next(iter(row.values()))


# ---- raw baselines ---------------------------------------------------------------------
def timed_inserts(conn, seconds: float, insert) -> dict:
    """Call insert(cur, n) and COMMIT, one row at a time, for `seconds`."""
    lat, n = [], 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            insert(cur, n)
        conn.commit()
        lat.append(time.perf_counter() - t0)
        n += 1
    elapsed = time.perf_counter() - start
    lat.sort()
    return {"rps": n / elapsed, "rows": n, "p50_ms": lat[len(lat) // 2] * 1000,
            "p99_ms": lat[int(len(lat) * 0.99)] * 1000}


def narrow_baseline(url: str, seconds: float, make_payload) -> dict:
    """Durable single-row inserts of a narrow row: id, event_id (unique), JSON body, time."""
    conn = pymysql.connect(**connect_args(url))
    try:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS bench_narrow")
            cur.execute("CREATE TABLE bench_narrow (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT"
                        " PRIMARY KEY, event_id CHAR(36) NOT NULL, body JSON NOT NULL,"
                        " created_at DATETIME(6) NOT NULL, UNIQUE KEY uniq_event (event_id))"
                        " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci")
        conn.commit()

        def insert(cur, n):
            p = make_payload(n)
            cur.execute("INSERT INTO bench_narrow (event_id, body, created_at)"
                        " VALUES (%s, %s, %s)", (p["event_id"], json.dumps(p), datetime.now(UTC)))

        result = timed_inserts(conn, seconds, insert)
        with conn.cursor() as cur:
            cur.execute("DROP TABLE bench_narrow")
        conn.commit()
        return result
    finally:
        conn.close()


def _fresh_like(value):
    """A new random value shaped like `value` (a unique or per-record column)."""
    if isinstance(value, bytes | bytearray):
        return os.urandom(len(value))
    if isinstance(value, str):
        if re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", value):
            return str(uuid.uuid4())
        return os.urandom(len(value)).hex()[:len(value)]
    return value


def full_baseline(url: str, prefix: str, seconds: float) -> dict:
    """Durable single-row inserts of the full `sp_consents` row: every column (but the
    auto-increment and generated ones) of a record the sidecar really stored, into a table
    created LIKE ours, with fresh values in its unique and per-record columns. Read from the
    live schema, so it follows the table wherever migrations take it."""
    table = f"{prefix}sp_consents"
    conn = pymysql.connect(**connect_args(url))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COLUMN_NAME AS c, EXTRA AS e FROM information_schema.COLUMNS"
                        " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s"
                        " ORDER BY ORDINAL_POSITION", (table,))
            cols = [r["c"] for r in cur.fetchall()
                    if "auto_increment" not in r["e"] and "GENERATED" not in r["e"].upper()]
            cur.execute("SELECT DISTINCT COLUMN_NAME AS c FROM information_schema.STATISTICS"
                        " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND NON_UNIQUE = 0",
                        (table,))
            fresh = {r["c"] for r in cur.fetchall()} | {
                "subject_id", "hash", "personal_digest", "salt", "ip_fp"}
            cur.execute(f"SELECT * FROM `{table}` ORDER BY seq DESC LIMIT 1")
            template = cur.fetchone()
            if template is None:
                raise RuntimeError(f"{table} is empty: no record to copy the full row from")
            cur.execute("DROP TABLE IF EXISTS bench_full")
            cur.execute(f"CREATE TABLE bench_full LIKE `{table}`")
        conn.commit()
        sql = (f"INSERT INTO bench_full ({', '.join(f'`{c}`' for c in cols)})"
               f" VALUES ({', '.join(['%s'] * len(cols))})")
        now_cols = {c for c in cols if isinstance(template[c], datetime)}

        def insert(cur, n):
            now = datetime.now(UTC).replace(tzinfo=None)
            cur.execute(sql, [_fresh_like(template[c]) if c in fresh and template[c] is not None
                              else now if c in now_cols else template[c] for c in cols])

        result = timed_inserts(conn, seconds, insert)
        result["columns"] = len(cols)
        with conn.cursor() as cur:
            cur.execute("DROP TABLE bench_full")
        conn.commit()
        return result
    finally:
        conn.close()


# ---- what the database does during the load ----------------------------------------------
class ProcesslistSampler(threading.Thread):
    """Samples the busy statements of the other connections every `every` seconds."""

    def __init__(self, url: str, every: float = 0.1):
        super().__init__(daemon=True)
        self.conn = pymysql.connect(**{**connect_args(url), "autocommit": True})
        self.every, self.stop = every, threading.Event()
        self.samples, self.seen = 0, {}

    @staticmethod
    def shape(info: str) -> str:
        text = re.sub(r"\s+", " ", info).strip()
        text = re.sub(r"'[^']*'|\b\d+(\.\d+)?\b", "?", text)
        return text[:90]

    def run(self) -> None:
        while not self.stop.wait(self.every):
            with self.conn.cursor() as cur:
                cur.execute("SELECT STATE AS state, INFO AS info, TIME_MS AS ms"
                            " FROM information_schema.PROCESSLIST WHERE COMMAND <> 'Sleep'"
                            " AND ID <> CONNECTION_ID() AND INFO IS NOT NULL")
                rows = cur.fetchall()
            self.samples += 1
            for r in rows:
                key = self.shape(r["info"])
                seen = self.seen.setdefault(key, {"samples": 0, "max_ms": 0.0, "states": set()})
                seen["samples"] += 1
                seen["max_ms"] = max(seen["max_ms"], float(r["ms"] or 0))
                if r["state"]:
                    seen["states"].add(r["state"])

    def finish(self, top: int = 6) -> list[dict]:
        self.stop.set()
        self.join()
        self.conn.close()
        busiest = sorted(self.seen.items(), key=lambda kv: -kv[1]["samples"])[:top]
        return [{"statement": k, "in_samples": v["samples"], "of": self.samples,
                 "max_ms": round(v["max_ms"], 1), "states": sorted(v["states"])}
                for k, v in busiest]


# ---- the site ----------------------------------------------------------------------------
def make_pages(stack: Stack, count: int, tag: str) -> list[str]:
    ids = json.loads(stack.wp_eval(
        f"$ids = array(); for ($i = 1; $i <= {count}; $i++) {{"
        " $ids[] = wp_insert_post(array('post_type' => 'page', 'post_status' => 'publish',"
        f" 'post_title' => 'Bench {tag} page ' . $i, 'post_content' => str_repeat("
        "'<p>Some text of a page a visitor reads before choosing.</p>', 5))); }"
        " echo json_encode($ids);"))
    return [f"{stack.wp_url}/?page_id={i}" for i in ids]


def banner_version(page: str) -> str:
    html = urllib.request.urlopen(page, timeout=30).read().decode()
    return json.loads(re.search(r'id="sp-consent-config">(.*?)</script>', html, re.S)
                      .group(1))["bannerVersion"]


def jobs_by_status(conn, prefix: str, after_id: int) -> dict:
    with conn.cursor() as cur:
        cur.execute(f"SELECT status, COUNT(*) AS n FROM `{prefix}sp_render_jobs`"
                    " WHERE id > %s GROUP BY status", (after_id,))
        rows = cur.fetchall()
    conn.commit()
    return {r["status"]: int(r["n"]) for r in rows}


def unsealed(conn, prefix: str) -> int:
    from sidecar import ledger
    return ledger.unsealed_count(conn, prefix)


def wait_for(check, timeout: float, every: float = 0.05) -> float | None:
    """Seconds until check() is true, None if it was not within `timeout`."""
    t0 = time.perf_counter()
    while not check():
        if time.perf_counter() - t0 > timeout:
            return None
        time.sleep(every)
    return time.perf_counter() - t0


def cpu_seconds(stack: Stack) -> dict:
    """CPU seconds used so far by each part's process group (the part and its children,
    reaped ones included), this bench with wrk, and the whole machine (/proc/stat)."""
    names = {proc.pid: name for name, proc in stack.procs.items()}
    names[os.getpgrp()] = "bench+wrk"
    tick = os.sysconf("SC_CLK_TCK")
    used = dict.fromkeys(names.values(), 0.0)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            comm, f = stat.read_text().split(" (", 1)[1].rsplit(")", 1)
            f = f.split()
        except (OSError, IndexError, ValueError):
            continue
        name = names.get(int(f[2]))
        if name:
            seconds = sum(int(x) for x in f[11:15]) / tick
            used[name] += seconds
            if name == "worker":  # the worker's own Python apart from its browser
                part = "worker:browser" if comm.startswith("chrom") else "worker:python"
                used[part] = used.get(part, 0.0) + seconds
    cpu = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    used["machine"] = sum(int(x) for i, x in enumerate(cpu) if i not in (3, 4)) / tick
    return used


def signal_worker(stack: Stack, sig: int) -> None:
    """`sig` to the worker's process group: the worker, chromedriver and Chromium."""
    os.killpg(stack.procs["worker"].pid, sig)


# ---- one run -----------------------------------------------------------------------------
def one_run(n: int, args, stack: Stack, pages: list[str], banner: str, state: Path) -> dict:
    url, prefix = stack.database_url(), stack.table_prefix
    rng = random.Random(n)

    def make_payload(i: int) -> dict:
        return payload(i, rng.choice(pages), banner, rng)

    print(f"\n== run {n}: baselines, 2 x {args.seconds:.0f} s ...", flush=True)
    narrow = narrow_baseline(url, args.seconds, make_payload)
    full = full_baseline(url, prefix, args.seconds)

    tokdir = state / f"tokens-{n}"
    tokdir.mkdir()
    s = serializer(stack.secret_keys.split(","), CONSENT_SALT)
    per = args.tokens // args.threads
    for t in range(args.threads):
        (tokdir / f"tokens_{t}.txt").write_text(
            "\n".join(s.dumps(make_payload(t * per + i)) for i in range(per)) + "\n")

    conn = pymysql.connect(**connect_args(url))
    before_seq = scalar(conn, f"SELECT COALESCE(MAX(seq), 0) AS n FROM `{prefix}sp_consents`")
    before_job = scalar(conn, "SELECT COALESCE(MAX(id), 0) AS n FROM"
                              f" `{prefix}sp_render_jobs`")
    before_render = scalar(conn, f"SELECT COALESCE(MAX(id), 0) AS n FROM `{prefix}sp_renders`")
    worker = "none" if args.no_worker else "paused" if args.pause_worker else "running"
    print(f"== run {n}: load, wrk {args.connections} connections, {args.seconds:.0f} s, "
          f"{len(pages)} new pages, worker {worker} ...", flush=True)
    if args.pause_worker:
        signal_worker(stack, signal.SIGSTOP)
    sampler = ProcesslistSampler(url)
    sampler.start()
    cpu0 = cpu_seconds(stack)
    started = time.perf_counter()
    try:
        out = subprocess.run(
            ["wrk", "-t", str(args.threads), "-c", str(args.connections),
             "-d", f"{args.seconds:.0f}s", "--latency", "-s", str(ROOT / "bench/ingest.lua"),
             stack.sidecar_url], capture_output=True, text=True,
            env=dict(os.environ, SP_TOKENS_DIR=str(tokdir)))
    finally:
        stopped = time.perf_counter()
        cpu1 = cpu_seconds(stack)
        processlist = sampler.finish()
        if args.pause_worker:
            signal_worker(stack, signal.SIGCONT)
    shutil.rmtree(tokdir, ignore_errors=True)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("{")), None)
    if out.returncode or line is None:
        raise RuntimeError(f"wrk failed:\n{out.stdout}\n{out.stderr}")
    w = json.loads(line)

    # Drain: the ledger first (the figure with a target), then the screenshot queue.
    drain = {}
    if not args.no_worker:
        backlog = unsealed(conn, prefix)
        jobs_at_stop = jobs_by_status(conn, prefix, before_job)
        waited = wait_for(lambda: unsealed(conn, prefix) == 0, args.drain_timeout)
        drain = {"unsealed_at_stop": backlog,
                 "seal_drain_s": None if waited is None
                 else round(time.perf_counter() - stopped, 2)}
        queue_s = wait_for(lambda: not {"queued", "running"} & jobs_by_status(
            conn, prefix, before_job).keys(), args.drain_timeout, every=0.5)
        drain.update({
            "jobs_at_stop": jobs_at_stop,
            "queue_drain_s": None if queue_s is None
            else round(time.perf_counter() - stopped, 1)})

    stored = scalar(conn, f"SELECT COUNT(*) AS n FROM `{prefix}sp_consents` WHERE seq > %s",
                    (before_seq,))
    distinct = scalar(conn, f"SELECT COUNT(DISTINCT event_id) AS n FROM `{prefix}sp_consents`"
                            " WHERE seq > %s", (before_seq,))
    jobs_end = jobs_by_status(conn, prefix, before_job)
    renders = scalar(conn, f"SELECT COUNT(*) AS n FROM `{prefix}sp_renders` WHERE id > %s",
                     (before_render,))
    shots = records.screenshot_counts(conn, Tables(prefix), before_seq)
    conn.close()

    if w["non2xx"]:  # what the sidecar logged about them
        log = (stack.log_dir / "sidecar.log").read_text(errors="replace").splitlines()
        errors = [ln for ln in log if re.search(r'"level": ?"error"|Traceback|WORKER', ln)]
        print("\n".join(dict.fromkeys(ln[:300] for ln in errors[-200:])), flush=True)
        db_log = (stack.log_dir / "mariadb.log").read_text(errors="replace").splitlines()
        print("\n".join([ln[:160] for ln in db_log if re.search(
            r"DEADLOCK|TRANSACTION \d|^(INSERT|UPDATE|SELECT|DELETE) |Lock wait", ln)][-16:]),
            flush=True)
    rps = w["requests"] / (w["duration_us"] / 1e6)
    return {
        "run": n, "worker": worker,
        "consents_per_s": round(rps, 1),
        "p50_ms": round(w["p50_us"] / 1000, 2), "p99_ms": round(w["p99_us"] / 1000, 2),
        "max_ms": round(w["max_us"] / 1000, 2),
        "requests": w["requests"], "created_201": w["created"], "repeated_200": w["repeated"],
        "non2xx": w["non2xx"], "non2xx_codes": w["codes"],
        "socket_errors": w["connect_errors"] + w["read_errors"] + w["write_errors"]
        + w["timeouts"],
        "rows_stored": stored, "distinct_event_ids": distinct,
        # wrk stops with up to one request per connection in flight: stored and committed,
        # its 201 not counted. So: no event twice, a row for every 201, at most that many more.
        "in_flight_at_stop": stored - w["created"],
        "one_row_per_201": stored == distinct
        and 0 <= stored - w["created"] <= args.connections,
        "narrow_rps": round(narrow["rps"], 1), "narrow_p99_ms": round(narrow["p99_ms"], 2),
        "full_rps": round(full["rps"], 1), "full_p99_ms": round(full["p99_ms"], 2),
        "full_columns": full["columns"],
        "ratio_narrow": round(rps / narrow["rps"], 3), "ratio_full": round(rps / full["rps"], 3),
        **drain,
        "jobs_end": jobs_end, "renders_created": renders, "consent_screenshots": shots,
        "cpu_ms_per_request": {k: round((cpu1[k] - cpu0.get(k, 0.0)) * 1000 / w["requests"], 3)
                               for k in cpu1},
        "cpu_cores_busy": round((cpu1["machine"] - cpu0["machine"]) / (stopped - started), 2),
        "processlist": processlist,
    }


def report(r: dict) -> None:
    print(json.dumps(r, indent=2, default=str))
    drain = r.get("seal_drain_s")
    print(f"run {r['run']} (worker {r['worker']}): {r['consents_per_s']:,.0f} consents/s, "
          f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, non-2xx {r['non2xx']}, "
          f"201s {r['created_201']}, rows {r['rows_stored']} ({r['in_flight_at_stop']} in "
          f"flight at stop), distinct event_ids {r['distinct_event_ids']}: one row per 201 "
          f"{'ok' if r['one_row_per_201'] else 'MISMATCH'}")
    print(f"  baselines: narrow {r['narrow_rps']:,.0f}/s, full {r['full_rps']:,.0f}/s; "
          f"ratio {r['ratio_narrow']} (narrow), {r['ratio_full']} (full)")
    if r["worker"] != "none":
        print(f"  unsealed at stop {r['unsealed_at_stop']}, sealed "
              f"{'after ' + str(drain) + ' s' if drain is not None else 'NOT within timeout'}; "
              f"jobs at stop {r['jobs_at_stop']}, at end {r['jobs_end']}, queue empty "
              f"{'after ' + str(r['queue_drain_s']) + ' s' if r['queue_drain_s'] is not None else 'NOT within timeout'}; "  # noqa: E501
              f"renders {r['renders_created']}")
    print(f"  CPU ms per request during the load: {r['cpu_ms_per_request']} "
          f"({r['cpu_cores_busy']} cores busy)")
    missed = []
    if r["ratio_narrow"] < TARGET_RATIO:
        missed.append(f"ratio {r['ratio_narrow']} < {TARGET_RATIO}")
    if r["p99_ms"] > TARGET_P99_MS:
        missed.append(f"p99 {r['p99_ms']} ms > {TARGET_P99_MS:.0f}")
    if r["non2xx"] or r["socket_errors"]:
        missed.append(f"{r['non2xx']} non-2xx, {r['socket_errors']} socket errors")
    if r["worker"] != "none" and (drain is None or drain > TARGET_DRAIN_S):
        missed.append(f"backlog sealed after {drain} s > {TARGET_DRAIN_S:.0f}")
    print(f"  targets: {'all met' if not missed else 'MISSED: ' + '; '.join(missed)}",
          flush=True)


def summary(results: list[dict]) -> None:
    print("\n| run | worker | consents/s | p50 | p99 | non-2xx | 201 = rows | narrow/s | full/s |"
          " ratio narrow | ratio full | unsealed at stop | sealed after | jobs done/queued/failed"
          " | renders |")
    print("|---" * 15 + "|")
    for r in results:
        j = r["jobs_end"]
        print(f"| {r['run']} | {r['worker']} | {r['consents_per_s']:,.0f} | {r['p50_ms']} ms |"
              f" {r['p99_ms']} ms | {r['non2xx']} |"
              f" {'yes' if r['one_row_per_201'] else 'NO'} ({r['created_201']:,}) |"
              f" {r['narrow_rps']:,.0f} | {r['full_rps']:,.0f} | {r['ratio_narrow']} |"
              f" {r['ratio_full']} | {r.get('unsealed_at_stop', '-')} |"
              f" {r.get('seal_drain_s', '-')} s |"
              f" {j.get('done', 0)}/{j.get('queued', 0) + j.get('running', 0)}/"
              f"{j.get('failed', 0)} | {r['renders_created']} |")
    if len(results) > 1:
        for key in ("consents_per_s", "p99_ms", "ratio_narrow", "ratio_full", "seal_drain_s"):
            vals = [r[key] for r in results if r.get(key) is not None]
            if vals:
                print(f"{key}: min {min(vals)}, median {statistics.median(vals)}, "
                      f"max {max(vals)}")


def _size(text: str) -> int:
    """`1G`, `512M` or bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper()
    try:
        return int(text[:-1]) * units[text[-1]] if text[-1:] in units else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (1G, 512M or bytes)") from None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=15, help="per baseline and per load")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--workers", type=int, default=None, help="gunicorn workers")
    ap.add_argument("--threads-per-worker", type=int, default=None, help="gunicorn threads")
    ap.add_argument("--worker-class", default=None, help="gunicorn worker class")
    ap.add_argument("--tokens", type=int, default=60000, help="signed tokens per run")
    ap.add_argument("--runs", type=int, default=1, help="runs in this process")
    ap.add_argument("--pages", type=int, default=8, help="new site pages per run")
    ap.add_argument("--drain-timeout", type=float, default=180)
    ap.add_argument("--redo-log", type=_size, default=None, metavar="SIZE",
                    help="set MariaDB's innodb_log_file_size (e.g. 1G, as README's \"The"
                         " database\" advises) before the runs; default: the server's own"
                         " (96M)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--pause-worker", action="store_true",
                      help="SIGSTOP the screenshot worker during the load (SIGCONT after)")
    mode.add_argument("--no-worker", action="store_true",
                      help="do not start the screenshot worker at all")
    ap.add_argument("--seal-only", action="store_true",
                    help="diagnosis: the site is not on SP_SITE_ORIGINS, so consents are stored"
                         " with their screenshot skipped; the worker seals but renders nothing")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("bench: wrk is missing (scripts/install.sh installs it)", file=sys.stderr)
        return 2

    state = Path(tempfile.mkdtemp(prefix="sp-bench-"))
    stack = Stack(state_dir=state, db_port=free_port(), sidecar_port=free_port(),
                  wp_port=free_port())
    if args.seal_only:
        stack.extra_sidecar_env["SP_SITE_ORIGINS"] = f"http://127.0.0.1:{free_port()}"
    if args.workers:
        stack.gunicorn_workers = args.workers
    if args.threads_per_worker:
        stack.gunicorn_threads = args.threads_per_worker
    if args.worker_class:
        stack.gunicorn_worker_class = args.worker_class
    try:
        stack.start_db()
        stack.start_wordpress()
        stack.start_sidecar()
        if not args.no_worker:
            stack.start_worker()
        stack.sql("GRANT PROCESS ON *.* TO 'wordpress'@'127.0.0.1'")  # the processlist sampler
        stack.sql("SET GLOBAL innodb_print_all_deadlocks = ON")  # into mariadb.log
        if args.redo_log:  # MariaDB >= 10.9 resizes its redo log online
            stack.sql(f"SET GLOBAL innodb_log_file_size = {args.redo_log}")
        conn = pymysql.connect(**connect_args(stack.database_url()))
        durable = scalar(conn, "SELECT CONCAT('innodb_flush_log_at_trx_commit=',"
                               " @@innodb_flush_log_at_trx_commit, ', log_bin=', @@log_bin,"
                               " ', innodb_log_file_size=', @@innodb_log_file_size DIV 1048576,"
                               " ' MiB')")
        print(f"stack: MariaDB ({durable}), WordPress {stack.wp_url}, gunicorn "
              f"{stack.gunicorn_workers or 'gunicorn.conf.py'} workers "
              f"({stack.gunicorn_worker_class or 'gunicorn.conf.py class'}), "
              f"SP_SITE_ORIGINS={stack.sidecar_env()['SP_SITE_ORIGINS']}, screenshot worker "
              f"{'not started' if args.no_worker else 'started'}", flush=True)

        # Warm-up: one consent through the whole pipeline, so the full-row baseline has a
        # real record to copy and the worker's browser is started, as on a live site.
        warm = make_pages(stack, 1, "warm-up")
        banner = banner_version(warm[0])
        s = serializer(stack.secret_keys.split(","), CONSENT_SALT)
        token = s.dumps(payload(0, warm[0], banner, random.Random(0)))
        req = urllib.request.Request(stack.sidecar_url + "/v1/consents",
                                     data=json.dumps({"token": token}).encode(),
                                     headers={"Content-Type": "application/json"})
        assert urllib.request.urlopen(req, timeout=30).status == 201
        if not args.no_worker and not args.seal_only:
            t = wait_for(lambda: jobs_by_status(conn, stack.table_prefix, 0).get("done"), 120,
                         every=0.2)
            if t is None:
                raise RuntimeError("warm-up: the screenshot worker did not render within 120 s"
                                   f" (see {stack.log_dir / 'worker.log'})")
            print(f"warm-up: first screenshot done after {t:.1f} s", flush=True)
        conn.close()

        results = []
        for n in range(1, args.runs + 1):
            pages = make_pages(stack, args.pages, f"run-{n}")
            results.append(one_run(n, args, stack, pages, banner, state))
            report(results[-1])
        summary(results)
        return 0
    finally:
        stack.stop()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
