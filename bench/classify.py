"""Classifier speed (issue 13): time to classify N distinct scan items (cookies, storage keys,
request URLs) with the shipped catalogue and Open Cookie Database, cold (nothing memoised).

    ./.venv/bin/python bench/classify.py [N]      # default 10000
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path


def items(n: int, seed: int = 13) -> list[tuple[str, str, str | None, str | None]]:
    """n distinct (kind, name, host, url) a scan of a busy site could report: known trackers,
    OCD names (exact and wildcard), WordPress's own cookies, and names nobody knows."""
    rng = random.Random(seed)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from sidecar.classify import default_ocd
    ocd_names = list(default_ocd().names.exact) + [
        p for d in default_ocd().names.prefixes.values() for p in d]
    out: list[tuple] = []
    makers = [
        lambda i: ("cookie", f"_ga_{i:X}", ".example.com", None),
        lambda i: ("cookie", f"wordpress_logged_in_{i:x}", "example.com", None),
        lambda i: ("cookie", f"{rng.choice(ocd_names)}{i}", "example.com", None),
        lambda i: ("cookie", rng.choice(ocd_names), f"s{i}.example.com", None),
        lambda i: ("cookie", f"site_cookie_{i}", "example.com", None),
        lambda i: ("storage", f"yt-remote-{i}", "www.youtube-nocookie.com", None),
        lambda i: ("storage", f"app-state-{i}", "example.com", None),
        lambda i: ("request", "www.google.com", None, f"https://www.google.com/recaptcha/{i}.js"),
        lambda i: ("request", f"r{i}.google-analytics.com", None,
                   f"https://r{i}.google-analytics.com/g/collect"),
        lambda i: ("request", f"cdn{i}.unknown-cdn.net", None, f"https://cdn{i}.unknown-cdn.net/a.js"),
    ]
    for i in range(n):
        out.append(makers[i % len(makers)](i))
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    from sidecar import classify
    t0 = time.perf_counter()
    classify.default_catalogue()
    classify.default_ocd()
    t1 = time.perf_counter()
    work = items(n)
    c = classify.Classifier(rules=[{"kind": "cookie", "pattern": "site_cookie_1*",
                                    "category": "necessary"}])
    t2 = time.perf_counter()
    for kind, name, host, url in work:
        c.classify(kind, name, host=host, url=url)
    t3 = time.perf_counter()
    print(f"load catalogue + OCD: {(t1 - t0) * 1000:.0f} ms (once per process)")
    print(f"classify {n} distinct items: {(t3 - t2) * 1000:.0f} ms "
          f"({n / (t3 - t2):,.0f} items/s)")
    pages, sightings = site(50)
    from sidecar.scan_report import build_report
    t4 = time.perf_counter()
    report = build_report({"id": "bench", "status": "done"}, pages,
                          site_origins=["http://127.0.0.1:8080"])
    t5 = time.perf_counter()
    print(f"build_report, 50 pages x 3 states, {sightings} sightings -> "
          f"{len(report['items'])} items, {len(report['violations'])} violations: "
          f"{(t5 - t4) * 1000:.0f} ms")


def site(n_pages: int) -> tuple[list[dict], int]:
    """A busy site's observations: per page and state 20 cookies, 10 storage keys and 60
    requests, half of them shared by every page (theme, analytics), half page-specific."""
    origin = "http://127.0.0.1:8080"
    pages, sightings = [], 0
    for p in range(n_pages):
        states = {}
        for s in ("before_consent", "after_reject", "after_accept"):
            cookies = [{"name": f"{'_ga' if i % 2 else 'site'}_{i if i < 10 else p * 100 + i}",
                        "domain": ".127.0.0.1", "expires": 1.8e9, "from": "script"}
                       for i in range(20)]
            storage = [{"area": "local", "key": f"key_{i if i < 5 else p * 100 + i}",
                        "origin": origin} for i in range(10)]
            requests = [{"url": f"https://cdn{i if i < 30 else p * 100 + i}.example.net/x.js",
                         "host": f"cdn{i if i < 30 else p * 100 + i}.example.net",
                         "resource": "script", "failed": True,
                         "initiator": f"{origin}/wp-content/plugins/p{i % 7}/a.js"}
                        for i in range(60)]
            states[s] = {"cookies": cookies, "storage": storage, "requests": requests,
                         "error": None}
            sightings += 90
        pages.append({"url": f"{origin}/?p={p}", "states": states})
    return pages, sightings


if __name__ == "__main__":
    main()
