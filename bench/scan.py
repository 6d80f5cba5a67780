"""Site scan benchmark (issue 13): a 50-page WordPress site, three states per page.

    .venv/bin/python bench/scan.py [--pages 50] [--no-baseline] [--keep]

One private stack (scripts/stack.py, free ports, a temp folder): MariaDB, the real WordPress
(served by `php -S` with PHP_CLI_SERVER_WORKERS, as scripts/stack.py starts it), the sidecar
under gunicorn and the real worker (`sidecar worker`, which runs the scan with its own
headless Chromium through its egress guard). A small "third-party" HTTP server listens on a
second loopback port and is let through by the test-only SP_SCAN_TEST_ORIGINS (as
`127.0.0.1:<port>` and, cross-site, `localhost:<port>`).

The site: `--pages` published pages (wp_eval), each different: some load a script from the
third party (it sends a beacon), some frame it (same- or cross-site), some carry its pixel,
some set a first-party cookie from script or write localStorage, some nothing but text. Every
third-party answer sets the HttpOnly cookie `tp_uid`.

Then `POST /v1/scans` with the pages' URLs and `GET /v1/scans/<id>` until it is done, while
the PSS of the worker's whole process tree (worker, chromedriver, Chromium and its children;
`/proc/<pid>/smaps_rollup`) is sampled every 0.2 s. Printed: pages/s, the total (from the
POST to the stored report), the time per state (from the worker's log: each state's own
wall time, and the wall time per page), peak PSS, and a check that the report holds what the
pages set. The baseline, in the same run: the same pages loaded once each, plainly, one
after the other, by one headless Chromium (no proxy, no capture, no settle window): the
floor of "visit every page once".
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from stack import Stack, free_port  # noqa: E402

from sidecar import browser  # noqa: E402

TARGET_SECONDS = 60.0
STATES = ("before_consent", "after_reject", "after_accept")
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
       b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


class ThirdParty:
    """A "third-party" service on 127.0.0.1 (its own port): a script that sends a beacon, a
    frame, a pixel; every answer sets the HttpOnly cookie `tp_uid`."""

    def __init__(self):
        outer = self
        self.hits = 0

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.hits += 1
                path = self.path.split("?")[0]
                if path == "/tracker.js":
                    body, ctype = (f"navigator.sendBeacon('{outer.origin}/collect', 'v=1');"
                                   .encode(), "application/javascript")
                elif path.endswith(".html"):
                    body, ctype = b"<!doctype html><p>widget</p><img src='/in-frame.gif'>", \
                        "text/html"
                else:
                    body, ctype = GIF, "image/gif"
                if self.command == "POST":
                    self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Set-Cookie", "tp_uid=abc; Path=/; Max-Age=86400; HttpOnly")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        port = self.server.server_address[1]
        self.origin = f"http://127.0.0.1:{port}"
        self.cross_site = f"http://localhost:{port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def page_html(i: int, tp: ThirdParty) -> tuple[str, dict]:
    """Page i's content and what it should make the scan see."""
    parts = [f"<p>Bench page {i}: some text a visitor reads before choosing.</p>" * 3]
    has = {"script": i % 4 == 0, "iframe": i % 5 == 1, "xframe": i % 10 == 3,
           "pixel": i % 3 == 2, "cookie": i % 4 == 1, "storage": i % 6 == 5}
    if has["cookie"]:
        parts.append("<script>document.cookie = '_ga=GA1.1.1.2; path=/; max-age=31536000';"
                     "</script>")
    if has["storage"]:
        parts.append("<script>localStorage.setItem('bench_key', '1');</script>")
    if has["script"]:
        parts.append(f'<script src="{tp.origin}/tracker.js"></script>')
    if has["iframe"]:
        parts.append(f'<iframe src="{tp.origin}/frame.html" width="300" height="80"></iframe>')
    if has["xframe"]:
        parts.append(f'<iframe src="{tp.cross_site}/xframe.html" width="300" height="80">'
                     "</iframe>")
    if has["pixel"]:
        parts.append(f'<img src="{tp.origin}/px.gif?p={i}" width="1" height="1" alt="">')
    return "".join(parts), has


def make_site(stack: Stack, tp: ThirdParty, count: int) -> list[tuple[str, dict]]:
    pages = [page_html(i, tp) for i in range(count)]
    code = ("wp_set_current_user(1); kses_remove_filters(); $out = array();"
            f" foreach (json_decode({json.dumps(json.dumps([h for h, _ in pages]))}) as $i => $h)"
            " { $id = wp_insert_post(array('post_type' => 'page', 'post_status' => 'publish',"
            " 'post_title' => 'Bench scan page ' . $i,"
            " 'post_content' => '<!-- wp:html -->' . $h . '<!-- /wp:html -->'));"
            " $out[] = get_permalink($id); } echo wp_json_encode($out);")
    urls = json.loads(stack.wp_eval(code))
    return list(zip(urls, (has for _, has in pages), strict=True))


def cpu_seconds(pid: int) -> float:
    """CPU time of `pid` and every process below it, with the reaped children's (whose
    time their parent holds): the renderers of closed contexts count too."""
    total = 0
    for p in browser.process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        except (OSError, ValueError, IndexError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds(pid: int) -> float:
    """CPU time of `pid` itself (its threads; not its children): the worker's Python."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:13]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def pss_kib(pid: int) -> int:
    """PSS of `pid` and every process below it (KiB)."""
    total = 0
    for p in browser.process_tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def process_kind(pid: int) -> str:
    """chromedriver, the Chromium browser process, or a Chromium child by its --type (and
    utility sub-type)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            # Chromium's children rewrite their command line into one space-separated string.
            argv = f.read().replace(b"\0", b" ").decode(errors="replace").split()
    except OSError:
        return "gone"
    name = os.path.basename(argv[0]) if argv else "?"
    if "chromedriver" in name:
        return "chromedriver"
    if "chrom" not in name:
        return "worker" if "python" in name else name
    kind = next((a[7:] for a in argv if a.startswith("--type=")), "browser")
    if kind == "utility":
        sub = next((a.split("=", 1)[1] for a in argv if a.startswith("--utility-sub-type=")),
                   "")
        return f"utility {sub.rsplit('.', 1)[-1]}"
    return kind


class PssSampler(threading.Thread):
    """Every `every` s: the PSS of the tree (its peak), and each process's CPU time as last
    seen (by kind: `cpu_by_kind`; a process's last < `every` s before it exits is missed)."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak = self.samples = 0
        self.peak_procs = 0
        self.cpu: dict[int, tuple[str, float, float]] = {}  # pid -> (kind, first, last)
        self.stop = threading.Event()

    def run(self):
        tick = os.sysconf("SC_CLK_TCK")
        while not self.stop.is_set():
            kib = pss_kib(self.pid)
            self.samples += 1
            tree = browser.process_tree(self.pid)
            if kib > self.peak:
                self.peak = kib
                self.peak_procs = len(tree)
            for p in tree:
                try:
                    with open(f"/proc/{p}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    used = (int(fields[11]) + int(fields[12])) / tick
                except (OSError, ValueError, IndexError):
                    continue
                if p in self.cpu:
                    kind, first, _ = self.cpu[p]
                    if kind in ("sh", "dash", "bash"):  # the chromium wrapper, until it execs
                        kind = process_kind(p)
                    self.cpu[p] = (kind, first, used)
                else:
                    # A process seen first now started since the last sample (or is the
                    # tree at the first sample): its CPU so far counts.
                    self.cpu[p] = (process_kind(p), 0.0 if self.samples > 1 else used, used)
            self.stop.wait(self.every)

    def cpu_by_kind(self) -> dict[str, tuple[int, float]]:
        out: dict[str, tuple[int, float]] = {}
        for kind, first, last in self.cpu.values():
            n, total = out.get(kind, (0, 0.0))
            out[kind] = (n + 1, total + last - first)
        return dict(sorted(out.items(), key=lambda kv: -kv[1][1]))


def api(stack: Stack, method: str, path: str, body=None):
    req = urllib.request.Request(
        stack.sidecar_url + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {stack.admin_token}",
                 "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def worker_log_lines(stack: Stack, offset: int) -> list[dict]:
    with open(stack.log_dir / "worker.log", "rb") as f:
        f.seek(offset)
        out = []
        for line in f.read().decode(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out


def baseline(urls: list[str]) -> float:
    """Every page loaded once, plainly, one after the other, by one headless Chromium
    (page load strategy normal: until the load event)."""
    d = browser.new_driver()
    try:
        d.get(urls[0])  # warm: the browser's own start is not part of the floor
        t0 = time.monotonic()
        for url in urls:
            d.get(url)
        return time.monotonic() - t0
    finally:
        browser.quit_driver(d)


def check_report(report: dict, site: list[tuple[str, dict]], tp: ThirdParty) -> list[str]:
    """What the pages set, found in the report; a list of problems (empty: all found)."""
    problems = []
    pages = {p["url"]: p for p in report["pages"]}
    for url, _ in site:
        p = pages.get(url)
        if p is None:
            problems.append(f"{url}: not in the report")
        elif p.get("errors"):
            problems.append(f"{url}: {p['errors']}")
    tp_host = tp.origin.split("://")[1]

    def seen_on(key) -> set:  # over every item of that kind and name (any host)
        return {(s["page"], s["state"]) for i in report["items"]
                if (i["kind"], i["name"]) == key for s in i["seen"]}

    want = {
        ("request", tp_host): [u for u, h in site if h["script"] or h["iframe"] or h["pixel"]],
        ("cookie", "_ga"): [u for u, h in site if h["cookie"]],
        ("storage", "bench_key"): [u for u, h in site if h["storage"]],
        ("request", tp.cross_site.split("://")[1]): [u for u, h in site if h["xframe"]],
        # Only same-site answers may set it: the cross-site frame's (localhost) cookie is
        # SameSite=Lax by default, and a browser refuses it in a cross-site frame.
        ("cookie", "tp_uid"): [u for u, h in site if any(
            h[k] for k in ("script", "iframe", "pixel"))],
    }
    for key, urls in want.items():
        seen = seen_on(key)
        missing = [(u, s) for u in urls for s in STATES if (u, s) not in seen]
        extra = {u for u, _ in seen} - set(urls)
        if missing:
            problems.append(f"{key}: not seen on {len(missing)} page states, e.g. {missing[:2]}")
        if extra:
            problems.append(f"{key}: seen on pages that do not set it: {sorted(extra)[:2]}")
    consent = seen_on(("cookie", "sp_consent"))
    if {s for _, s in consent} != {"after_reject", "after_accept"} or \
            len(consent) != 2 * len(site):
        problems.append(f"sp_consent: seen in {len(consent)} page states, not exactly the"
                        f" {2 * len(site)} after a click")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=50)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (logs)")
    ap.add_argument("--env", action="append", default=[],
                    help="KEY=VALUE for the worker (e.g. SP_SCAN_TABS=4)")
    args = ap.parse_args()

    state = Path(tempfile.mkdtemp(prefix="sp-bench-scan-"))
    tp = ThirdParty()
    extra = dict(kv.split("=", 1) for kv in args.env)
    stack = Stack(state_dir=state, db_port=free_port(), sidecar_port=free_port(),
                  wp_port=free_port(),
                  extra_sidecar_env={"SP_SCAN_TEST_ORIGINS": f"{tp.origin},{tp.cross_site}",
                                     "SP_SCAN_BUDGET": "3600", **extra})
    try:
        stack.start(worker=False)
        site = make_site(stack, tp, args.pages)
        urls = [u for u, _ in site]
        php_workers = "4"  # scripts/stack.py: PHP_CLI_SERVER_WORKERS
        print(f"stack: WordPress {stack.wp_url} (php -S, PHP_CLI_SERVER_WORKERS={php_workers}),"
              f" third party {tp.origin} and {tp.cross_site}; {len(urls)} pages; "
              f"{os.cpu_count()} cores; worker settings {extra or 'default'}", flush=True)
        floor = None if args.no_baseline else baseline(urls)
        worker = stack.start_worker()
        offset = (stack.log_dir / "worker.log").stat().st_size
        sampler = PssSampler(worker.pid)
        sampler.start()
        parts = {"worker + browser": worker.pid, "WordPress (php)": stack.procs["wordpress"].pid,
                 "sidecar (gunicorn)": stack.procs["sidecar"].pid,
                 "MariaDB": stack.procs["mariadb"].pid}
        cpu0 = {k: cpu_seconds(p) for k, p in parts.items()}
        worker_py0 = own_cpu_seconds(worker.pid)
        load0 = os.getloadavg()[0]
        t0 = time.monotonic()
        scan_id = api(stack, "POST", "/v1/scans", {"urls": urls, "max_pages": len(urls)})["id"]
        first_page = None
        while True:
            body = api(stack, "GET", f"/v1/scans/{scan_id}")
            if first_page is None and body.get("progress", {}).get("done"):
                first_page = time.monotonic() - t0
            if body["status"] in ("done", "failed"):
                break
            if time.monotonic() - t0 > 3600:
                raise RuntimeError("the scan did not finish within an hour")
            time.sleep(0.1)
        total = time.monotonic() - t0
        cpu = {k: cpu_seconds(p) - cpu0[k] for k, p in parts.items()}
        worker_py = own_cpu_seconds(worker.pid) - worker_py0
        load1 = os.getloadavg()[0]
        sampler.stop.set()
        sampler.join()
        if body["status"] != "done":
            print(f"scan failed: {body.get('error')}")
            return 1
        lines = worker_log_lines(stack, offset)
        state_ms = {s: [] for s in STATES}
        page_ms = []
        for e in lines:
            if e.get("msg") == "scan page":
                page_ms.append(e["ms"])
                for s, ms in (e.get("state_ms") or {}).items():
                    state_ms[s].append(ms)
        n = len(body["pages"])
        met = "met" if total <= TARGET_SECONDS else "MISSED"
        print(f"\nscan of {n} pages x 3 states: {total:.1f} s total, {n / total:.2f} pages/s"
              f" (target <= {TARGET_SECONDS:.0f} s: {met})")
        if first_page is not None:
            print(f"  first page stored after {first_page:.1f} s (browser start included)")
        if page_ms:
            print(f"  per page (wall, the worker's log, queueing included): median"
                  f" {statistics.median(page_ms) / 1000:.2f} s, max {max(page_ms) / 1000:.2f} s")
        for s in STATES:
            if state_ms[s]:
                v = state_ms[s]
                print(f"  {s:15s} median {statistics.median(v)/1000:.2f} s, p90 "
                      f"{sorted(v)[int(len(v) * 0.9)]/1000:.2f} s, max {max(v)/1000:.2f} s")
        print(f"  peak PSS, worker + chromedriver + Chromium: {sampler.peak / 1024:.0f} MiB"
              f" ({sampler.peak_procs} processes; {sampler.samples} samples)")
        print(f"  CPU used during the scan: {sum(cpu.values()):.0f} s in all ("
              + ", ".join(f"{k} {v:.0f} s" for k, v in cpu.items())
              + f"); load average {load0:.1f} at the start, {load1:.1f} at the end"
              f" (other work on this machine included)")
        states = 3 * n
        print(f"  CPU per page-state: {sum(cpu.values()) / states:.3f} s in all; worker +"
              f" browser {cpu['worker + browser'] / states:.3f} s (the worker's Python"
              f" {worker_py / states:.3f} s, chromedriver + Chromium"
              f" {(cpu['worker + browser'] - worker_py) / states:.3f} s)")
        print("  CPU by process kind (sampled every 0.2 s; count, CPU s per page-state): "
              + ", ".join(f"{k} {n} {v / states:.3f}"
                          for k, (n, v) in sampler.cpu_by_kind().items()))
        if floor is not None:
            print(f"baseline: the same {len(urls)} pages loaded once each, plainly, by one "
                  f"browser: {floor:.1f} s ({len(urls) / floor:.2f} pages/s)")
        problems = check_report(body, site, tp)
        print(f"report: {body['summary']}; what the pages set: "
              f"{'all found' if not problems else 'PROBLEMS'}")
        for p in problems[:20]:
            print(f"  {p}")
        return 1 if problems else 0
    finally:
        stack.stop()
        tp.close()
        if args.keep:
            print(f"kept: {state}")
        else:
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
