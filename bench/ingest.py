"""Ingest benchmark (issue 3): the sidecar under gunicorn vs a raw PyMySQL insert loop.

    .venv/bin/python bench/ingest.py [--seconds 15] [--connections 16] [--workers N] [--seal]

In one run, on a private MariaDB with durable commits (innodb_flush_log_at_trx_commit=1):
 (a) baseline: one PyMySQL connection inserting single rows into a table shaped like
     `sp_consents`, committing each (durable), for the same number of seconds;
 (b) the sidecar under gunicorn ingesting distinct, valid signed tokens from wrk with
     `--connections` concurrent connections on 127.0.0.1.
Prints both rates, `ingest_ratio = sidecar_rps / raw_rps`, p50/p99 and non-2xx counts, and
checks that every 201 left exactly one durable row. With `--seal`, a sealer seals the
ledger every second during the load, as the screenshot worker does, and the run also
prints the unsealed backlog when the load stops and how long sealing it took.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pymysql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from stack import Stack, free_port  # noqa: E402

from sidecar.db import connect_args  # noqa: E402
from sidecar.signing import CONSENT_SALT, serializer  # noqa: E402

SITE = "http://127.0.0.1:9"  # an origin on SP_SITE_ORIGINS: screenshot jobs are queued too


def payload(i: int) -> dict:
    return {
        "event_id": str(uuid.uuid4()), "subject_id": str(uuid.uuid4()), "action": "grant",
        "method": "accept_all" if i % 3 else "custom",
        "categories": {"necessary": True, "preferences": bool(i % 2), "statistics": True,
                       "marketing": bool(i % 3)},
        "page_url": f"{SITE}/page-{i % 50}/", "policy_version": "3",
        "banner_version": "b4nn3r0123456789", "language": "en-US",
        "signals": {"gpc": False, "dnt": False}, "ip": f"81.2.{i % 250}.{i % 200 + 1}",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) bench", "wp_user_id": 0,
        "occurred_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def raw_baseline(url: str, seconds: float) -> dict:
    """Durable single-row inserts, one connection, commit each: rows per second."""
    conn = pymysql.connect(**connect_args(url))
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_raw")
        cur.execute("CREATE TABLE bench_raw LIKE wp_sp_consents")
    conn.commit()
    lat, n = [], 0
    cols = ("id, event_id, subject_id, action, method, categories, page_url, policy_version,"
            " banner_version, language, signals, ip, country, region, city, user_agent,"
            " wp_user_id, occurred_at, received_at, screenshot_status, hash, personal_digest,"
            " salt")
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        p = payload(n)
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute(f"INSERT INTO bench_raw ({cols}) VALUES ({', '.join(['%s'] * 23)})", (
                str(uuid.uuid4()), p["event_id"], p["subject_id"], p["action"], p["method"],
                json.dumps(p["categories"]), p["page_url"], p["policy_version"],
                p["banner_version"], p["language"], json.dumps(p["signals"]), p["ip"], "GB",
                "England", "London", p["user_agent"], 0, datetime.now(UTC), datetime.now(UTC),
                "pending", "0" * 64, "0" * 64, "0" * 32))
        conn.commit()
        lat.append(time.perf_counter() - t0)
        n += 1
    elapsed = time.perf_counter() - start
    with conn.cursor() as cur:
        cur.execute("DROP TABLE bench_raw")
    conn.close()
    lat.sort()
    return {"rps": n / elapsed, "n": n, "p50_ms": lat[len(lat) // 2] * 1000,
            "p99_ms": lat[int(len(lat) * 0.99)] * 1000}


class Sealer(threading.Thread):
    """Seals every second on its own connection, like the screenshot worker's loop."""

    def __init__(self, url: str, prefix: str, secret_keys: str, ledger_keys: str):
        super().__init__(daemon=True)
        from sidecar import config
        self.cfg = config.load(env={"SP_DATABASE_URL": url, "SP_TABLE_PREFIX": prefix,
                                    "SP_SECRET_KEYS": secret_keys, "SP_LEDGER_KEYS": ledger_keys,
                                    "SP_ADMIN_TOKENS": "x", "SP_SITE_ORIGINS": SITE,
                                    "SP_ANCHOR_FILE": "off"})
        self.conn = pymysql.connect(**connect_args(url))
        self.stop, self.sealed, self.seals = threading.Event(), 0, 0

    def run(self) -> None:
        from sidecar import ledger
        while not self.stop.is_set():
            n = ledger.seal(self.conn, self.cfg)
            self.sealed, self.seals = self.sealed + n, self.seals + (n > 0)
            if n < 5000:
                self.stop.wait(1.0)

    def unsealed(self, conn) -> int:
        from sidecar import ledger
        return ledger.unsealed_count(conn, self.cfg["SP_TABLE_PREFIX"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=None, help="gunicorn workers")
    ap.add_argument("--tokens", type=int, default=60000)
    ap.add_argument("--threads-per-worker", type=int, default=None, help="gunicorn threads")
    ap.add_argument("--worker-class", default=None, help="gunicorn worker class (sync, gthread)")
    ap.add_argument("--seal", action="store_true",
                    help="seal the ledger every second during the load, as the worker does")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("bench: wrk is missing (scripts/install.sh installs it)", file=sys.stderr)
        return 2

    state = Path(tempfile.mkdtemp(prefix="sp-bench-"))
    stack = Stack(state_dir=state, db_port=free_port(), sidecar_port=free_port(),
                  wp_port=free_port())
    if args.workers:
        stack.gunicorn_workers = args.workers
    if args.threads_per_worker:
        stack.gunicorn_threads = args.threads_per_worker
    if args.worker_class:
        stack.gunicorn_worker_class = args.worker_class
    stack.extra_sidecar_env["SP_SITE_ORIGINS"] = SITE
    try:
        stack.start_db()
        stack.start_sidecar()
        url = stack.database_url()
        keys = stack.secret_keys.split(",")

        print(f"baseline: raw PyMySQL durable inserts, 1 connection, {args.seconds:.0f} s ...")
        raw = raw_baseline(url, args.seconds)

        tokdir = state / "tokens"
        tokdir.mkdir()
        s = serializer(keys, CONSENT_SALT)
        per = args.tokens // args.threads
        for t in range(args.threads):
            (tokdir / f"tokens_{t}.txt").write_text(
                "\n".join(s.dumps(payload(t * per + i)) for i in range(per)) + "\n")
        conn = pymysql.connect(**connect_args(url))
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) AS n FROM wp_sp_consents")
            before = cur.fetchone()["n"]
        conn.commit()
        sealer = None
        if args.seal:
            sealer = Sealer(url, stack.table_prefix, stack.secret_keys, stack.ledger_keys)
            sealer.start()

        print(f"sidecar: gunicorn {stack.gunicorn_workers or 'default'} "
              f"{stack.gunicorn_worker_class or 'default'} workers (gunicorn.conf.py unless "
              f"given), wrk "
              f"{args.connections} "
              f"connections, {args.seconds:.0f} s ...")
        out = subprocess.run(
            ["wrk", "-t", str(args.threads), "-c", str(args.connections),
             "-d", f"{args.seconds:.0f}s", "--latency", "-s", str(ROOT / "bench/ingest.lua"),
             stack.sidecar_url], capture_output=True, text=True,
            env=dict(os.environ, SP_TOKENS_DIR=str(tokdir)))
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("{")), None)
        if out.returncode or line is None:
            print(out.stdout, out.stderr, file=sys.stderr)
            return 1
        w = json.loads(line)
        sealing = {}
        if sealer:
            backlog = sealer.unsealed(conn)
            t0 = time.perf_counter()
            while sealer.unsealed(conn) > 0 and time.perf_counter() - t0 < 120:
                time.sleep(0.05)
            sealing = {"unsealed_at_stop": backlog,
                       "drain_s": round(time.perf_counter() - t0, 2),
                       "sealed": sealer.sealed, "seals": sealer.seals}
            sealer.stop.set()
            sealer.join()
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) AS n FROM wp_sp_consents")
            stored = cur.fetchone()["n"] - before
        conn.close()
        sidecar_rps = w["requests"] / (w["duration_us"] / 1e6)
        repeats = max(0, w["requests"] - per * args.threads)
        result = {
            "raw_rps": round(raw["rps"], 1), "raw_p50_ms": round(raw["p50_ms"], 2),
            "raw_p99_ms": round(raw["p99_ms"], 2),
            "sidecar_rps": round(sidecar_rps, 1),
            "sidecar_p50_ms": round(w["p50_us"] / 1000, 2),
            "sidecar_p99_ms": round(w["p99_us"] / 1000, 2),
            "sidecar_max_ms": round(w["max_us"] / 1000, 2),
            "requests": w["requests"], "non2xx": w["non2xx"],
            "socket_errors": w["connect_errors"] + w["timeouts"],
            "rows_stored": stored, "repeated_tokens": repeats,
            "ingest_ratio": round(sidecar_rps / raw["rps"], 3),
            **sealing,
        }
        print(json.dumps(result, indent=2))
        print(f"ingest_ratio = {result['ingest_ratio']}  (target >= 1.0)  "
              f"p50 = {result['sidecar_p50_ms']} ms  p99 = {result['sidecar_p99_ms']} ms "
              f"(target <= 50)  non-2xx = {result['non2xx']}")
        if stored + repeats < w["requests"] - w["non2xx"]:
            print("WARNING: fewer rows than successful requests", file=sys.stderr)
        return 0
    finally:
        stack.stop()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
