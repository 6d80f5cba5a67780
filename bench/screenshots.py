"""Screenshot pipeline benchmark (issue 4).

    .venv/bin/python bench/screenshots.py [--consents 10000] [--pages 50]

In one run on the real WordPress: makes `--pages` pages, records `--consents` consents
spread over them (90 % desktop, 10 % mobile user agents, the pages' real banner version),
then runs one `sidecar worker` until the queue is drained, sampling the resident memory of
the worker and everything it started (chromedriver, Chromium and its renderers). Prints:

- renders / consents (target <= 1 %), against the naive one render per consent;
- warm render p50 (target <= 0.5 s on a local page; the first, cold render excluded);
- peak memory of worker + browser (target <= 600 MB), as PSS: resident memory with shared
  pages counted once;
- time for the queue to drain, against the naive time (consents x warm render p50).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pymysql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from stack import Stack, free_port  # noqa: E402

from sidecar import create_app, jobs, ledger, records  # noqa: E402
from sidecar.browser import process_tree  # noqa: E402
from sidecar.db import Tables, connect_args  # noqa: E402
from sidecar.signing import CONSENT_SALT, serializer  # noqa: E402

DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126 Safari/537.36"
MOBILE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1"


def tree_memory(pid: int) -> tuple[int, int]:
    """Memory of `pid` and all its descendants as PSS (proportional set size): each shared
    page counted once across the processes that share it, so Chromium's many processes
    sharing one binary are not counted many times over (their RSS sum would be).
    Returns (pss, summed rss) in bytes."""
    total = rss = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total, rss


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--consents", type=int, default=10000)
    ap.add_argument("--pages", type=int, default=50)
    args = ap.parse_args()
    state = Path(tempfile.mkdtemp(prefix="sp-bench-shots-"))
    stack = Stack(state_dir=state, db_port=free_port(), sidecar_port=free_port(),
                  wp_port=free_port(), gunicorn_workers=2)
    try:
        stack.start_db()
        stack.start_wordpress()
        ids = json.loads(stack.wp_eval(
            f"$ids = array(); for ($i = 1; $i <= {args.pages}; $i++) {{"
            " $ids[] = wp_insert_post(array('post_type' => 'page', 'post_status' => 'publish',"
            " 'post_title' => 'Bench page ' . $i, 'post_content' => str_repeat("
            "'<p>Some text of a page a visitor reads before choosing.</p>', 5))); }"
            " echo json_encode($ids);"))
        pages = [f"{stack.wp_url}/?page_id={i}" for i in ids]
        html = urllib.request.urlopen(pages[0]).read().decode()
        banner = json.loads(re.search(
            r'id="sp-consent-config">(.*?)</script>', html, re.S).group(1))["bannerVersion"]

        import logging
        logging.getLogger("sidecar.access").setLevel(logging.WARNING)
        app = create_app({"SP_DATABASE_URL": stack.database_url(),
                          "SP_SECRET_KEYS": stack.secret_keys,
                          "SP_ADMIN_TOKENS": stack.admin_tokens,
                          "SP_SITE_ORIGINS": stack.wp_url})
        client = app.test_client()
        s = serializer(stack.secret_keys.split(","), CONSENT_SALT)
        rng = random.Random(7)
        t0 = time.perf_counter()
        for _ in range(args.consents):
            p = {"event_id": str(uuid.uuid4()), "subject_id": str(uuid.uuid4()),
                 "action": "grant", "method": "accept_all",
                 "categories": {"necessary": True, "preferences": True, "statistics": True,
                                "marketing": True},
                 "page_url": rng.choice(pages), "policy_version": "1",
                 "banner_version": banner, "language": "en-US",
                 "signals": {"gpc": False, "dnt": False}, "ip": "81.2.69.142",
                 "user_agent": MOBILE if rng.random() < 0.1 else DESKTOP, "wp_user_id": 0,
                 "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            r = client.post("/v1/consents", json={"token": s.dumps(p)})
            assert r.status_code == 201, r.get_json()
        print(f"recorded {args.consents} consents over {len(pages)} pages in "
              f"{time.perf_counter() - t0:.1f} s")

        env = stack.sidecar_env()
        started = time.perf_counter()
        worker = subprocess.Popen([str(ROOT / ".venv/bin/sidecar"), "worker"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        conn = pymysql.connect(**connect_args(stack.database_url()))
        peak = peak_rss = 0
        while True:
            pss, rss = tree_memory(worker.pid)
            peak, peak_rss = max(peak, pss), max(peak_rss, rss)
            # Render jobs are written when the records are sealed: done when every record is
            # sealed and no job is queued or running.
            left = ledger.unsealed_count(conn, "wp_") + jobs.queue_depth(conn, Tables("wp_"))
            if not left:
                break
            if worker.poll() is not None:
                print("bench: the worker died", file=sys.stderr)
                return 1
            time.sleep(0.2)
        drained = time.perf_counter() - started
        worker.terminate()
        worker.wait(30)
        with conn.cursor() as cur:
            cur.execute("SELECT render_ms FROM wp_sp_renders ORDER BY id")
            render_ms = [r["render_ms"] for r in cur.fetchall()]
        statuses = records.screenshot_counts(conn, Tables("wp_"))
        conn.close()
        warm = render_ms[1:] or render_ms
        p50 = statistics.median(warm) / 1000
        naive = args.consents * p50
        result = {
            "consents": args.consents, "pages": len(pages), "renders": len(render_ms),
            "renders_per_consent": round(len(render_ms) / args.consents, 5),
            "warm_render_p50_s": round(p50, 3),
            "cold_render_s": round(render_ms[0] / 1000, 3) if render_ms else None,
            "peak_pss_mb": round(peak / 2**20, 1),
            "peak_rss_sum_mb": round(peak_rss / 2**20, 1), "drain_s": round(drained, 1),
            "naive_drain_s": round(naive, 1),
            "drain_vs_naive": round(drained / naive, 4) if naive else None,
            "statuses": statuses,
        }
        print(json.dumps(result, indent=2))
        print(f"renders/consents = {result['renders_per_consent']:.2%} (target <= 1%; naive "
              f"100%)  warm p50 = {p50:.3f} s (target <= 0.5)  peak memory (PSS) = "
              f"{result['peak_pss_mb']} MB (target <= 600)  drain = {drained:.1f} s "
              f"(naive {naive:.0f} s, ratio {result['drain_vs_naive']})")
        return 0
    finally:
        stack.stop()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
