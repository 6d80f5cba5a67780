#!/usr/bin/env python3
"""Cost of the plugin's page list for the site scan (issue 13, docs/api.md §3.1) on a big site.

Starts its own private MariaDB + WordPress (scripts/stack.py, free ports, temp folder; no
sidecar), fills it with --posts published posts and pages (1 KB of text each; every 97th has an
iframe from one of five hosts, every 89th a [gallery] shortcode, every 83rd a YouTube URL on a
line of its own), then asks `GET /?rest_route=/secure-privacy/v1/scan-pages&max_pages=N` as the
sidecar does (a token from `sidecar.signing.serializer`) and prints the median time, the
database queries and PHP's peak memory of one answer, and what the list holds.

    .venv/bin/python bench/scan_pages.py [--posts 20000] [--max-pages 50] [--requests 15]
"""

from __future__ import annotations

import argparse
import collections
import json
import secrets
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from stack import Stack, free_port  # noqa: E402

from sidecar.signing import serializer  # noqa: E402

SALT = "secure-privacy/scan-pages/v1"
MU_PLUGIN = """<?php
// Written by bench/scan_pages.py: the cost of each REST answer, in headers.
define('SAVEQUERIES', true);
add_filter('rest_post_dispatch', function ($response) {
    global $wpdb;
    if ($response instanceof WP_REST_Response) {
        $slow = $wpdb->queries;
        usort($slow, function ($a, $b) { return $b[1] <=> $a[1]; });
        $top = array();
        foreach (array_slice($slow, 0, 3) as $q) {
            $sql = substr(preg_replace('/\\s+/', ' ', $q[0]), 0, 90);
            $top[] = sprintf('%.1f ms %s', $q[1] * 1000, $sql);
        }
        $response->header('X-SP-Slowest', implode(' | ', $top));
        $response->header('X-SP-Queries', (string) $wpdb->num_queries);
        $ms = (microtime(true) - $_SERVER['REQUEST_TIME_FLOAT']) * 1000;
        $response->header('X-SP-Server-Ms', sprintf('%.2f', $ms));
        $response->header('X-SP-Peak-Kb', (string) intdiv(memory_get_peak_usage(), 1024));
    }
    return $response;
}, PHP_INT_MAX);
"""


def fill(stack: Stack, posts: int) -> None:
    """`posts` published posts and pages, newest first by date, in one INSERT … SELECT."""
    table = f"`{stack.table_prefix}posts`"
    stack.sql(f"""USE `{stack.db_name}`;
        INSERT INTO {table} (post_author, post_date, post_date_gmt, post_content, post_title,
            post_excerpt, post_status, post_name, to_ping, pinged, post_modified,
            post_modified_gmt, post_content_filtered, post_type, guid)
        SELECT 1, NOW() - INTERVAL seq MINUTE, UTC_TIMESTAMP() - INTERVAL seq MINUTE,
            CASE WHEN seq % 97 = 0 THEN CONCAT('<p>Map</p><iframe src="https://v', seq % 5,
                      '.example/embed"></iframe>')
                 WHEN seq % 89 = 0 THEN 'Photos: [gallery]'
                 WHEN seq % 83 = 0 THEN 'Watch:\n\nhttps://www.youtube.com/watch?v=abc\n\nok'
                 ELSE REPEAT('Lorem ipsum dolor sit amet, consectetur adipiscing. ', 20) END,
            CONCAT('Post ', seq), '', 'publish', CONCAT('bench-', seq), '', '', NOW(), NOW(),
            '', IF(seq % 10 = 0, 'page', 'post'), ''
        FROM seq_1_to_{int(posts)}""")


def ask(url: str, token: str) -> tuple[float, dict, dict]:
    req = urllib.request.Request(url, headers={"X-Secure-Privacy-Token": token})
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:  # noqa: S310 - 127.0.0.1
        body = json.loads(r.read())
        headers = dict(r.headers)
    return (time.perf_counter() - start) * 1000, headers, body


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=20000)
    ap.add_argument("--max-pages", type=int, default=50)
    ap.add_argument("--requests", type=int, default=15)
    args = ap.parse_args()
    keys = [secrets.token_urlsafe(32)]
    with tempfile.TemporaryDirectory(prefix="sp-bench-scan-") as tmp:
        stack = Stack(state_dir=Path(tmp), wp_port=free_port(), sidecar_port=free_port(),
                      db_port=free_port())
        try:
            stack.start_db()
            stack.start_wordpress()
            stack.mu_plugin("sp-bench-scan.php", MU_PLUGIN)
            stack.wp_eval("$s = get_option('secure_privacy_settings', array());"
                          f"$s['secret_keys'] = {json.dumps(keys[0])};"
                          "update_option('secure_privacy_settings', $s);")
            t0 = time.perf_counter()
            fill(stack, args.posts)
            filled_s = time.perf_counter() - t0
            origin = stack.wp_url
            url = (f"{origin}/?rest_route=/secure-privacy/v1/scan-pages"
                   f"&max_pages={args.max_pages}")
            runs = []
            for _ in range(args.requests + 2):  # the first two warm opcache and the DB
                token = serializer(keys, SALT).dumps({"origin": origin,
                                                      "max_pages": args.max_pages})
                runs.append(ask(url, token))
        finally:
            stack.stop()
    runs = runs[2:]
    _, headers, body = runs[-1]
    whys = collections.Counter(p["why"].split(":")[0] for p in body["pages"])
    print(f"page list, {args.posts} published posts and pages ({filled_s:.1f} s to insert), "
          f"max_pages={args.max_pages}, {len(runs)} requests:")
    print(f"  client wall  median {statistics.median(r[0] for r in runs):7.1f} ms   "
          f"max {max(r[0] for r in runs):7.1f} ms")
    server = statistics.median(float(r[1]["X-SP-Server-Ms"]) for r in runs)
    print(f"  server wall  median {server:7.1f} ms")
    print(f"  DB queries   {sorted({int(r[1]['X-SP-Queries']) for r in runs})}   "
          f"PHP peak memory {max(int(r[1]['X-SP-Peak-Kb']) for r in runs) / 1024:.1f} MB")
    print(f"  slowest queries of the last answer: {headers.get('X-SP-Slowest', '')}")
    print(f"  list: {len(body['pages'])} pages, capped={body['capped']}, by reason "
          f"{dict(sorted(whys.items()))}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "scan_pages.json").write_text(json.dumps({
        "posts": args.posts, "max_pages": args.max_pages,
        "median_client_ms": statistics.median(r[0] for r in runs),
        "median_server_ms": server,
        "queries": sorted({int(r[1]["X-SP-Queries"]) for r in runs}),
        "peak_kb": max(int(r[1]["X-SP-Peak-Kb"]) for r in runs),
        "pages": body["pages"], "capped": body["capped"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
