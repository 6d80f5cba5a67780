"""`GET /v1/integrity` and `sidecar verify` on a large ledger (issue 11, "Scale").

    .venv/bin/python bench/integrity.py [--records 100000] [--new 100] [--calls 5]
                                        [--no-full-request]

One private MariaDB (scripts/stack.py, a temp folder, durable commits). It stores
`--records` consents through the ingest code (multi-row INSERTs, tests/helpers.py
`bulk_consents`) and seals them, then prints, in this order:
 1. the endpoint with no checkpoint yet (a site just upgraded): its time and how far its
    budget got (`verified_through`, `complete`);
 2. `GET /v1/integrity?full=1` (the limit lifted): a full verify from the genesis inside
    the request, which is what the endpoint did before checkpoints;
 3. `sidecar verify` (a subprocess): its time, its peak memory (max RSS) and its progress
    lines (stderr); it writes a 'full' checkpoint;
 4. `--calls` times: `--new` more consents ingested, then `GET /v1/integrity` — from the
    checkpoint: time, verified_from/through, recheck slice;
 5. the checkpoint table's size.
The Flask test client calls the app in-process (no HTTP server), as the tests do.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from helpers import (  # noqa: E402
    TEST_KEYS,
    TEST_TOKENS,
    admin_headers,
    bulk_consents,
    consent_payload,
    make_token,
    secret,
)
from stack import Stack, free_port  # noqa: E402

from sidecar import create_app, ledger  # noqa: E402
from sidecar.db import connect  # noqa: E402

# `sidecar verify` as the console script runs it, then its own peak memory (max RSS).
VERIFY_WITH_RSS = """
import resource, sys
from sidecar.cli import main
rc = main(["verify"])
print("maxrss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(rc)
"""


def timed_get(client, url):
    t = time.perf_counter()
    r = client.get(url, headers=admin_headers())
    return (time.perf_counter() - t) * 1000, r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=100000)
    ap.add_argument("--new", type=int, default=100)
    ap.add_argument("--calls", type=int, default=5)
    ap.add_argument("--no-full-request", action="store_true",
                    help="leave out step 2 (minutes at a million records)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sp-bench-integrity-") as tmp:
        stack = Stack(state_dir=Path(tmp), db_port=free_port(), sidecar_port=free_port(),
                      wp_port=free_port())
        try:
            stack.start_db()
            stack.ensure_database("bench")
            url = stack.database_url("bench")
            anchors = Path(tmp) / "anchors.jsonl"
            env = {"SP_DATABASE_URL": url, "SP_SECRET_KEYS": ",".join(TEST_KEYS),
                   "SP_LEDGER_KEYS": secret("bench-ledger-key"),
                   "SP_ADMIN_TOKENS": ",".join(TEST_TOKENS),
                   "SP_SITE_ORIGINS": "http://site.test", "SP_TABLE_PREFIX": "b_",
                   "SP_ANCHOR_FILE": str(anchors)}
            app = create_app(dict(env))
            client = app.test_client()
            t = time.perf_counter()
            bulk_consents(app.config, args.records)
            print(f"stored and sealed {args.records} records in {time.perf_counter() - t:.1f} s")

            ms, r = timed_get(client, "/v1/integrity")
            b = r.get_json()
            print(f"1. no checkpoint yet: {ms:.0f} ms, verified {b['verified_from']}.."
                  f"{b['verified_through']} of {b['chain_end']}, complete={b['complete']},"
                  f" ok={b['ok']}")
            conn = connect(url)
            with conn.cursor() as cur:
                cur.execute("DELETE FROM b_sp_checkpoints")
            conn.commit()

            if not args.no_full_request:
                ledger.FULL_REQUEST_MAX = 10 ** 12
                ms, r = timed_get(client, "/v1/integrity?full=1")
                b = r.get_json()
                print(f"2. ?full=1 (full verify in the request, as before checkpoints):"
                      f" {ms:.0f} ms, records={b['records']}, ok={b['ok']}")
                with conn.cursor() as cur:
                    cur.execute("DELETE FROM b_sp_checkpoints")
                conn.commit()

            t = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", VERIFY_WITH_RSS],
                                 env={**os.environ, **env}, capture_output=True, text=True)
            took = time.perf_counter() - t
            rss = [line.split()[1] for line in out.stderr.splitlines()
                   if line.startswith("maxrss_kb ")]
            print(f"3. sidecar verify: {took:.1f} s, exit {out.returncode}, max RSS"
                  f" {int(rss[0]) // 1024 if rss else '?'} MB; stderr:")
            for line in out.stderr.splitlines():
                if line.startswith("verify:"):
                    print("     " + line)

            for i in range(args.calls):
                for _ in range(args.new):
                    assert client.post("/v1/consents", json={"token": make_token(
                        consent_payload())}).status_code == 201
                ms, r = timed_get(client, "/v1/integrity")
                b = r.get_json()
                print(f"4.{i + 1} +{args.new} records, from checkpoint: {ms:.0f} ms, verified"
                      f" {b['verified_from']}..{b['verified_through']} of {b['chain_end']},"
                      f" complete={b['complete']}, recheck {b['recheck']['from_pos']}.."
                      f"{b['recheck']['through_pos']}, ok={b['ok']}")
            with conn.cursor() as cur:
                cur.execute("ANALYZE TABLE b_sp_checkpoints")
                cur.fetchall()
                cur.execute("SELECT table_rows, data_length + index_length AS bytes FROM"
                            " information_schema.tables WHERE table_schema = DATABASE()"
                            " AND table_name = 'b_sp_checkpoints'")
                row = cur.fetchone()
            conn.close()
            print(f"5. checkpoints: {row['table_rows']} rows, {row['bytes']} bytes")
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
