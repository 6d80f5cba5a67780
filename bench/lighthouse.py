#!/usr/bin/env python3
"""Lighthouse 12 on the real WordPress, with and without the plugin (issue 14: no
render-blocking request, FCP and LCP unchanged, accessibility 100).

Starts its own private MariaDB + WordPress (scripts/stack.py, free ports, temp folder; no
sidecar: a page view never calls it), with bench/plugin_render.py's must-use plugin (a request
with X-SP-Bench-Inactive: 1 is served without Secure Privacy: the same site and PHP server),
then runs bench/lighthouse.mjs on the front page: mobile preset, simulated throttling, median
of --runs per mode, interleaved. The banner is live, as on a real site.

    .venv/bin/python bench/lighthouse.py [--runs 3] [--theme twentytwentyone] [--check]

--check exits 1 when the plugin adds a render-blocking request, more than 50 ms to the median
FCP or LCP (Lighthouse's simulation varies by about that between identical runs here), or
accessibility is below 100.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))

from plugin_render import MU_PLUGIN  # noqa: E402
from stack import DEBIAN_WP, WP_VERSIONS, Stack, free_port  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="Lighthouse runs per mode")
    ap.add_argument("--theme", default="twentytwentyone")
    ap.add_argument("--wordpress", default=DEBIAN_WP, choices=sorted(WP_VERSIONS))
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="sp-lighthouse-") as tmp:
        stack = Stack(state_dir=Path(tmp), wp_port=free_port(), sidecar_port=free_port(),
                      db_port=free_port(), theme=args.theme, wp_version=args.wordpress)
        try:
            stack.start_db()
            stack.start_wordpress()
            stack.mu_plugin("sp-bench.php", MU_PLUGIN)
            # Visitors see the banner once Test connection has passed (issue 12); no sidecar
            # runs here, so a passed one is stored, as a live site has it.
            stack.wp_eval("update_option('secure_privacy_connection', array('at' => time(),"
                          " 'sidecar_url' => secure_privacy_settings()['sidecar_url'],"
                          " 'version' => 'bench', 'live' => true, 'checks' => array()), true);")
            out = subprocess.run(["node", str(ROOT / "bench" / "lighthouse.mjs"),
                                  stack.wp_url + "/", "--runs", str(args.runs)],
                                 check=True, stdout=subprocess.PIPE, text=True, timeout=1800)
        finally:
            stack.stop()

    result = json.loads(out.stdout)
    result["wordpress"] = WP_VERSIONS[args.wordpress]
    result["theme"] = args.theme
    w, wo, d = result["with"], result["without"], result["delta"]
    print(f"Lighthouse 12, {w['preset']}, median of {w['runs']}, WordPress "
          f"{result['wordpress']}, {args.theme}, front page, first visit")
    for name, r in (("without the plugin", wo), ("with the plugin", w)):
        print(f"  {name:20} FCP {r['fcp_ms']:7.0f} ms  LCP {r['lcp_ms']:7.0f} ms  "
              f"TBT {r['tbt_ms']:5.0f} ms  CLS {r['cls']:.3f}  requests {r['requests']}  "
              f"accessibility {r['accessibility']}  render-blocking {len(r['render_blocking'])}"
              f"  (FCP runs {r['fcp_samples']}, LCP runs {r['lcp_samples']})")
    extra_blocking = sorted(set(w["render_blocking"]) - set(wo["render_blocking"]))
    print(f"  delta: FCP {d['fcp_ms']:+d} ms, LCP {d['lcp_ms']:+d} ms, requests "
          f"{d['requests']:+d}, render-blocking requests added: {extra_blocking or 'none'}")
    print(json.dumps(result))
    missed = extra_blocking or d["fcp_ms"] > 50 or d["lcp_ms"] > 50 or w["accessibility"] < 100
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
