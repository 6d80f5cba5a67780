"""Scale benchmark (issue 11): the ledger and its storage at a million records.

    .venv/bin/python bench/scale.py [--records 1000000 | --records 100000,1000000]
                                    [--procs N] [--keep DIR] [--json out.json]

A private MariaDB (scripts/stack.py: its own data directory in a fresh temp folder under
/var/tmp, 127.0.0.1 only, durable commits; the buffer pool is raised to `--buffer-pool`,
1G by default, and the script prints what the server says) and the sidecar under gunicorn as
gunicorn.conf.py runs it. No WordPress and no screenshot worker: nothing renders, so the
screenshot work ingest queues stays in the tables, as it does on a site whose worker is
behind.

Records are made by the product's own code: each payload goes through
`sidecar.validation.validate_consent` and `sidecar.commit.insert_consent` exactly as ingest
does, with a committer that collects the items `insert_consent` hands to `committer.write()`
and writes every `--batch` of them with `commit.write_batch` (one multi-row INSERT per table,
one COMMIT). Payloads vary as a site's do: 40 pages of the site origin (on SP_SITE_ORIGINS,
some with query strings and fragments), desktop and mobile user agents, several languages,
every action and method the widget sends, GPC/DNT signals, IPv4 and IPv6, returning visitors
and logged-in users.

For each size (several, comma-separated, are reached one after the other by adding records):
 1. the generation rate (records/s);
 2. `sidecar seal` (the CLI) over the records added: seconds, records/s, peak RSS;
 3. `ANALYZE TABLE` on every table named `<prefix>sp_%` in information_schema (none listed
    here), then data + index bytes per record of each and in total against the target of
    800 bytes per record, and each table's .ibd file on disk as a cross-check (the
    information_schema figures are InnoDB's page-count estimates);
 4. `GET /v1/integrity` over HTTP with the admin token, `--integrity-runs` times (3), with
    the key fields of its JSON;
 5. `sidecar verify` (the CLI, as a subprocess): seconds, its progress lines from stderr as
    they come, its result line, and its peak RSS (os.wait4 of that one process), so the
    sizes show whether memory stays flat.
Then a summary table; `--json PATH` writes the same figures. `--keep DIR` uses DIR for the
stack and leaves it there: a second run tops the records up to the sizes asked instead of
starting from zero (by default everything is made afresh and removed at the end).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pymysql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from stack import VENV_BIN, Stack, free_port  # noqa: E402

from sidecar import commit, config  # noqa: E402
from sidecar.db import Tables, connect  # noqa: E402
from sidecar.validation import validate_consent  # noqa: E402

TARGET_BYTES = 800  # per record, every table the sidecar writes (issue 11)
TARGET_INTEGRITY_S = 1.0
SITE = "https://www.example-shop.test"

# ---- payloads: what a busy site's visitors send ------------------------------------------
PAGES = [
    "/", "/shop/", "/shop/page/2/", "/shop/page/3/", "/cart/", "/checkout/", "/my-account/",
    "/about-us/", "/contact/", "/privacy-policy/", "/cookie-policy/", "/terms-and-conditions/",
    "/blog/", "/blog/page/2/", "/blog/2026/03/spring-collection-lookbook/",
    "/blog/2026/05/how-we-choose-our-suppliers/", "/blog/2026/08/care-guide-for-wool/",
    "/product-category/women/", "/product-category/men/", "/product-category/accessories/",
    "/product-category/sale/", "/product/merino-crew-neck-sweater/",
    "/product/organic-cotton-t-shirt-white/", "/product/linen-shirt-sky-blue/",
    "/product/leather-belt-brown/", "/product/wool-scarf-charcoal/",
    "/product/recycled-denim-jacket/", "/product/canvas-tote-bag/", "/faq/",
    "/shipping-and-returns/", "/size-guide/", "/stores/", "/stores/berlin/",
    "/stores/amsterdam/", "/careers/", "/gift-cards/", "/newsletter/", "/sustainability/",
    "/?s=sweater&post_type=product", "/?page_id=2",
]
QUERIES = ["", "", "", "", "", "?utm_source=newsletter&utm_medium=email&utm_campaign=autumn-sale",
           "?utm_source=google&utm_medium=cpc&gclid=EAIaIQobChMI8vLk3Z2Q-AIVh4BQBh0x3wXvEAAYASAAEgL",
           "?fbclid=IwAR2xY7mQ0pLr8vK3nT5hUaZ1cE9dWbJ4sF6gHiKoP", "?orderby=price&paged=2",
           "?color=blue&size=m", "#reviews", "#content"]
DESKTOP_UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/129.0.0.0 Safari/537.36 Edg/129.0.2792.79",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/130.0.0.0 Safari/537.36",
]
MOBILE_UAS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like"
    " Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML,"
    " like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/130.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko)"
    " SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " CriOS/130.0.6723.90 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/130.0.6723.102 Mobile Safari/537.36",
]
LANGUAGES = ["en-US"] * 5 + ["en-GB"] * 2 + ["de-DE"] * 3 + ["fr-FR", "nl-NL", "es-ES", "it"]
BANNERS = ["3f9c2a7e1b40", "8d41e07c52fa"]  # the banner changed once in the period
POLICY = "2026-03"
CATS = ("necessary", "preferences", "statistics", "marketing")


def make_payload(rng: random.Random, subjects: list[str], now: datetime) -> dict:
    """One consent as the widget and the plugin send it (decisionFor / eventAction of
    wp-plugin/assets/widget.js): the choice, the signals honoured, and the plugin's fields."""
    gpc, dnt = rng.random() < 0.06, rng.random() < 0.12
    forced = "gpc" if gpc else "dnt" if dnt else ""  # this site honours DNT too
    returning = subjects and rng.random() < 0.2
    subject = rng.choice(subjects) if returning else str(uuid.uuid4())
    if not returning:
        subjects.append(subject)
        if len(subjects) > 5000:
            del subjects[:1000]
    r = rng.random()
    if returning and r < 0.08:
        action, method, cats = "withdraw", "withdraw", dict.fromkeys(CATS, False)
    else:
        action = "update" if returning else "grant"
        if r < 0.6:
            method, cats = "accept_all", dict.fromkeys(CATS, True)
        elif r < 0.85:
            method, cats = "reject_all", dict.fromkeys(CATS, False)
        else:
            method, cats = "custom", {k: rng.random() < 0.5 for k in CATS}
        if forced and cats["marketing"]:  # an honoured signal keeps marketing off
            cats["marketing"] = False
            if method == "accept_all":
                method = forced
        if forced and returning and r > 0.97:
            method = forced  # the signal itself changed an earlier choice
    cats["necessary"] = True
    if rng.random() < 0.15:
        ip = (f"2a02:{rng.randrange(0x1000, 0xffff):x}:{rng.randrange(0xffff):x}:"
              f"{rng.randrange(0xffff):x}::{rng.randrange(1, 0xffff):x}")
    else:
        ip = f"{rng.choice((31, 46, 62, 77, 80, 84, 88, 91, 93, 109, 176, 185, 217))}." \
             f"{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    mobile = rng.random() < 0.55
    occurred = now - timedelta(seconds=rng.random() * 3)
    return {
        "event_id": str(uuid.uuid4()), "subject_id": subject, "action": action,
        "method": method, "categories": cats,
        "page_url": SITE + rng.choice(PAGES) + rng.choice(QUERIES),
        "policy_version": POLICY, "banner_version": BANNERS[rng.random() < 0.7],
        "language": rng.choice(LANGUAGES), "signals": {"gpc": gpc, "dnt": dnt}, "ip": ip,
        "user_agent": rng.choice(MOBILE_UAS if mobile else DESKTOP_UAS),
        "wp_user_id": rng.randrange(1, 20000) if rng.random() < 0.04 else 0,
        "occurred_at": occurred.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
    }


# ---- generation: the product's own insert path, batched ----------------------------------
class BatchCommitter:
    """Collects what `commit.insert_consent` hands to `committer.write(item)` and writes every
    `size` items with `commit.write_batch` (one transaction), as the group committer does."""

    def __init__(self, conn, tables: Tables, size: int, counter=None):
        self.conn, self.tables, self.size, self.counter = conn, tables, size, counter
        self.items: list = []

    def write(self, item, *args, **kwargs) -> None:
        self.items.append(item)
        if len(self.items) >= self.size:
            self.flush()

    def flush(self) -> None:
        if self.items:
            commit.write_batch(self.conn, self.tables, self.items)
            if self.counter is not None:
                with self.counter.get_lock():
                    self.counter.value += len(self.items)
            self.items = []


def _generate_part(env: dict, count: int, seed: int, batch: int, counter) -> int:
    """One process's share: `count` records, validated and inserted as ingest does."""
    cfg = config.load(env=env)
    tables = Tables(cfg["SP_TABLE_PREFIX"])
    conn = connect(cfg["SP_DATABASE_URL"])
    rng = random.Random(seed)
    subjects: list[str] = []
    committer = BatchCommitter(conn, tables, batch, counter)
    try:
        now = datetime.now(UTC)
        for i in range(count):
            if i % 1000 == 0:
                now = datetime.now(UTC)
            consent = validate_consent(make_payload(rng, subjects, now))
            commit.insert_consent(lambda: conn, tables, consent, cfg, committer=committer)
        committer.flush()
    finally:
        conn.close()
    return count


def generate(env: dict, count: int, procs: int, batch: int, seed: int) -> dict:
    """Add `count` records with `procs` processes; progress every 10 s."""
    counter = multiprocessing.Value("q", 0)
    shares = [count // procs + (1 if p < count % procs else 0) for p in range(procs)]
    ctx = multiprocessing.get_context("fork")
    started = time.perf_counter()
    workers = [ctx.Process(target=_generate_part, args=(env, n, seed * 1000 + p, batch, counter))
               for p, n in enumerate(shares) if n]
    for w in workers:
        w.start()
    last = started
    while any(w.is_alive() for w in workers):
        time.sleep(0.5)
        if time.perf_counter() - last >= 10:
            last = time.perf_counter()
            done = counter.value
            print(f"  generate: {done:,} / {count:,} records, {done / (last - started):,.0f}/s",
                  flush=True)
    for w in workers:
        w.join()
    failed = [w.exitcode for w in workers if w.exitcode]
    if failed:
        raise RuntimeError(f"a generator process failed (exit codes {failed})")
    seconds = time.perf_counter() - started
    return {"records": count, "seconds": round(seconds, 1), "per_s": round(count / seconds),
            "processes": len(workers), "batch": batch}


# ---- measurements ---------------------------------------------------------------------------
def run_cli(argv: list[str], env: dict, show=None) -> dict:
    """Run a CLI as a subprocess; each stderr line goes to `show(line)` as it comes. Returns
    seconds, exit status, stdout, stderr lines and the peak RSS of that process (os.wait4
    gives the rusage of exactly this child)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    err: list[str] = []

    def pump():
        for line in proc.stderr:
            err.append(line.rstrip("\n"))
            if show:
                show(line.rstrip("\n"), time.perf_counter() - started)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    return {"seconds": round(seconds, 2), "exit": proc.returncode, "stdout": out,
            "stderr": err, "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2)}


def seal(env: dict, added: int) -> dict:
    r = run_cli([str(VENV_BIN / "sidecar"), "seal"], env)
    if r["exit"]:
        raise RuntimeError("sidecar seal failed:\n" + "\n".join(r["stderr"][-20:]))
    line = r["stdout"].strip().splitlines()[-1] if r["stdout"].strip() else ""
    rate = round(added / r["seconds"]) if added and r["seconds"] else None
    print(f"  seal (sidecar seal): {line!r} in {r['seconds']} s"
          f" ({rate or '-'} records/s), peak RSS {r['peak_rss_mb']} MB", flush=True)
    return {"seconds": r["seconds"], "records": added,
            "per_s": rate,
            "peak_rss_mb": r["peak_rss_mb"], "cpu_s": r["cpu_s"], "output": line}


def storage(conn, stack: Stack, records: int) -> dict:
    """ANALYZE every table of the sidecar (by prefix, from information_schema), then data
    and index bytes of each, per record, and its .ibd file on disk."""
    like = stack.table_prefix.replace("_", "\\_") + "sp\\_%"
    with conn.cursor() as cur:
        cur.execute("SELECT TABLE_NAME AS t FROM information_schema.TABLES"
                    " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE %s"
                    " ORDER BY TABLE_NAME", (like,))
        names = [r["t"] for r in cur.fetchall()]
        for name in names:
            cur.execute(f"ANALYZE TABLE `{name}`")
            cur.fetchall()
        cur.execute("SELECT TABLE_NAME AS t, ENGINE AS engine, ROW_FORMAT AS row_format,"
                    " TABLE_ROWS AS est_rows, DATA_LENGTH AS data, INDEX_LENGTH AS idx,"
                    " DATA_FREE AS free FROM information_schema.TABLES"
                    " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE %s"
                    " ORDER BY TABLE_NAME", (like,))
        rows = cur.fetchall()
        cur.execute("SELECT @@datadir AS d, DATABASE() AS db")
        where = cur.fetchone()
        tables = []
        for r in rows:
            cur.execute(f"SELECT COUNT(*) AS n FROM `{r['t']}`")
            n = cur.fetchone()["n"]
            ibd = Path(where["d"]) / where["db"] / f"{r['t']}.ibd"
            try:
                st = ibd.stat()
                ibd_bytes, ibd_alloc = st.st_size, st.st_blocks * 512
            except OSError:
                ibd_bytes = ibd_alloc = None
            total = int(r["data"] or 0) + int(r["idx"] or 0)
            tables.append({
                "table": r["t"], "rows": int(n), "engine": r["engine"],
                "row_format": r["row_format"], "data_bytes": int(r["data"] or 0),
                "index_bytes": int(r["idx"] or 0), "free_bytes": int(r["free"] or 0),
                "bytes_per_record": round(total / records, 1),
                "ibd_bytes": ibd_bytes, "ibd_allocated_bytes": ibd_alloc,
                "ibd_bytes_per_record": round(ibd_bytes / records, 1) if ibd_bytes else None})
    conn.commit()
    indexes = index_sizes(conn, like)
    total = sum(t["data_bytes"] + t["index_bytes"] for t in tables)
    ibd_total = sum(t["ibd_bytes"] or 0 for t in tables)
    per = total / records
    print(f"  storage after ANALYZE TABLE ({len(tables)} tables named {stack.table_prefix}sp_*"
          f" in information_schema), per record of {records:,}:", flush=True)
    print(f"    {'table':<28} {'rows':>10} {'data':>12} {'index':>12} {'B/record':>9}"
          f" {'.ibd file':>13} {'.ibd B/rec':>10}  format")
    for t in tables:
        print(f"    {t['table']:<28} {t['rows']:>10,} {t['data_bytes']:>12,}"
              f" {t['index_bytes']:>12,} {t['bytes_per_record']:>9,.1f}"
              f" {t['ibd_bytes'] or 0:>13,} {t['ibd_bytes_per_record'] or 0:>10,.1f}"
              f"  {t['row_format']}")
    print(f"    {'total':<28} {'':>10} {sum(t['data_bytes'] for t in tables):>12,}"
          f" {sum(t['index_bytes'] for t in tables):>12,} {per:>9,.1f} {ibd_total:>13,}"
          f" {ibd_total / records:>10,.1f}")
    if indexes:
        print("    by index (InnoDB persistent statistics, pages x page size; PRIMARY is the"
              " table's data):")
        for t in tables:
            mine = [x for x in indexes if x["table"] == t["table"] and x["bytes"] > 16384]
            if mine:
                print(f"      {t['table']}: " + ", ".join(
                    f"{x['index']} {x['bytes'] / records:,.1f}" for x in mine) + " B/record")
    print(f"    target <= {TARGET_BYTES} B/record: {per:,.0f} B/record = "
          f"{per / TARGET_BYTES:.2f}x the target ({'met' if per <= TARGET_BYTES else 'MISSED'});"
          f" .ibd files {ibd_total / records:,.0f} B/record = "
          f"{ibd_total / records / TARGET_BYTES:.2f}x", flush=True)
    return {"tables": tables, "indexes": indexes,
            "total_bytes": total, "bytes_per_record": round(per, 1),
            "target_bytes_per_record": TARGET_BYTES,
            "ratio_to_target": round(per / TARGET_BYTES, 2),
            "ibd_total_bytes": ibd_total, "ibd_bytes_per_record": round(ibd_total / records, 1),
            "ibd_ratio_to_target": round(ibd_total / records / TARGET_BYTES, 2)}


def index_sizes(conn, like: str) -> list[dict]:
    """Bytes of each index of the tables matching `like` (mysql.innodb_index_stats, read
    after ANALYZE TABLE; the bench grants the stack's user SELECT on it). Empty if unreadable."""
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT table_name AS t, index_name AS i, stat_value * @@innodb_page_size"
                        " AS b FROM mysql.innodb_index_stats WHERE database_name = DATABASE()"
                        " AND table_name LIKE %s AND stat_name = 'size'"
                        " ORDER BY table_name, stat_value DESC", (like,))
            rows = cur.fetchall()
        conn.commit()
    except pymysql.MySQLError as e:
        conn.rollback()
        print(f"    (index sizes not read: {e})")
        return []
    return [{"table": r["t"], "index": r["i"], "bytes": int(r["b"])} for r in rows]


def key_fields(report: dict) -> dict:
    """The scalar fields of an integrity answer, lists as their length (problems and
    warnings can be long), one level of dicts kept: whatever shape the answer takes."""
    out = {}
    for k, v in report.items():
        if isinstance(v, list):
            out[k] = len(v) if k in ("problems", "warnings") else v[:5]
        elif isinstance(v, dict):
            out[k] = {k2: v2 for k2, v2 in v.items() if not isinstance(v2, list | dict)}
        else:
            out[k] = v
    return out


def integrity(stack: Stack, runs: int, timeout: float, label: str = "#") -> dict:
    result = []
    for n in range(1, runs + 1):
        req = urllib.request.Request(stack.sidecar_url + "/v1/integrity",
                                     headers={"Authorization": f"Bearer {stack.admin_token}"})
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                body, status = r.read(), r.status
        except urllib.error.HTTPError as e:
            body, status = e.read(), e.code
        except (urllib.error.URLError, OSError) as e:  # gunicorn killed the worker, …
            body, status = str(e).encode(), None
        seconds = time.perf_counter() - started
        try:
            fields = key_fields(json.loads(body))
        except ValueError:
            fields = {"body": body[:300].decode(errors="replace")}
        print(f"  GET /v1/integrity {label}{n}: HTTP {status} in {seconds:.2f} s: "
              f"{json.dumps(fields, default=str)}", flush=True)
        result.append({"seconds": round(seconds, 2), "status": status, "fields": fields})
    times = [r["seconds"] for r in result if r["status"] == 200]
    timeouts = [ln for ln in (stack.log_dir / "sidecar.log").read_text(
        errors="replace").splitlines() if "WORKER TIMEOUT" in ln]
    if timeouts:
        print(f"  sidecar log: {len(timeouts)} WORKER TIMEOUT line(s) so far: gunicorn killed"
              " the worker serving the request at its timeout, so no answer came"
              " (--gunicorn-timeout N times it without the kill)", flush=True)
    return {"runs": result, "min_s": min(times) if times else None,
            "median_s": statistics.median(times) if times else None,
            "max_s": max(times) if times else None, "worker_timeouts_in_log": len(timeouts)}


def verify(env: dict) -> dict:
    def show(line, at):
        print(f"    [{at:7.1f} s] {line}", flush=True)

    print("  sidecar verify (stderr as it comes):", flush=True)
    r = run_cli([str(VENV_BIN / "sidecar"), "verify"], env, show)
    result_line = next((ln for ln in r["stdout"].splitlines() if ln.startswith("{")), None)
    summary = json.loads(result_line) if result_line else None
    for ln in r["stdout"].splitlines():
        print(f"    stdout: {ln[:300]}")
    print(f"  sidecar verify: exit {r['exit']} in {r['seconds']} s, peak RSS "
          f"{r['peak_rss_mb']} MB, CPU {r['cpu_s']} s", flush=True)
    return {"seconds": r["seconds"], "exit": r["exit"], "peak_rss_mb": r["peak_rss_mb"],
            "cpu_s": r["cpu_s"], "progress_lines": len(r["stderr"]), "result": summary,
            "last_lines": r["stdout"].splitlines()[-3:]}


# ---- the run -----------------------------------------------------------------------------------
def scalar(conn, sql: str):
    with conn.cursor() as cur:
        cur.execute(sql)
        row = cur.fetchone()
    conn.commit()
    return next(iter(row.values()))


def set_buffer_pool(stack: Stack, conn, size: str) -> str:
    """Resize the buffer pool online (scripts/stack.py starts MariaDB with 256M) and wait
    until MariaDB says the resize is over."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    n = int(size[:-1]) * units[size[-1].upper()] if size[-1].upper() in units else int(size)
    stack.sql(f"SET GLOBAL innodb_buffer_pool_size = {n}")
    deadline = time.monotonic() + 120
    while scalar(conn, "SELECT @@innodb_buffer_pool_size") < n and time.monotonic() < deadline:
        time.sleep(0.5)
    while time.monotonic() < deadline:
        with conn.cursor() as cur:
            cur.execute("SHOW STATUS LIKE 'Innodb_buffer_pool_resize_status'")
            row = cur.fetchone()
        conn.commit()
        if not row or not row["Value"] or "ompleted" in row["Value"] or "finished" in row["Value"]:
            break
        time.sleep(0.5)
    return scalar(conn, "SELECT CONCAT('innodb_buffer_pool_size=',"
                        " ROUND(@@innodb_buffer_pool_size / 1048576), 'M',"
                        " ', innodb_flush_log_at_trx_commit=', @@innodb_flush_log_at_trx_commit,"
                        " ', log_bin=', @@log_bin, ', innodb_file_per_table=',"
                        " @@innodb_file_per_table, ', innodb_default_row_format=',"
                        " @@innodb_default_row_format, ', ', VERSION())")


def git_commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                         capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "sidecar"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return out.stdout.strip() + (" (sidecar/ modified)" if dirty else "")


def after(i: dict | None) -> str:
    if not i:
        return "-"
    run = i["runs"][0]
    return f"{run['seconds']} s" if run["status"] == 200 else f"failed ({run['status']})"


def summary(results: list[dict]) -> None:
    print("\n| records | generated/s | seal | B/record (data+index) | vs 800 | .ibd B/record |"
          " /v1/integrity (min/median/max) | verify | verify peak RSS |"
          " /v1/integrity after verify |")
    print("|---:" * 10 + "|")
    for r in results:
        s, i, v, g = r["storage"], r["integrity"], r["verify"], r["generate"]
        seal_text = f"{r['seal']['seconds']} s ({r['seal']['per_s'] or '-'}/s)"
        it = (f"{i['min_s']} / {i['median_s']} / {i['max_s']} s" if i["min_s"] is not None
              else "failed: " + ", ".join(str(x["status"]) for x in i["runs"]))
        print(f"| {r['records']:,} | {g['per_s']:,} | {seal_text} | {s['bytes_per_record']:,.0f} |"
              f" {s['ratio_to_target']}x | {s['ibd_bytes_per_record']:,.0f} | {it} |"
              f" {v['seconds']} s (exit {v['exit']}) | {v['peak_rss_mb']} MB |"
              f" {after(r.get('integrity_after_verify'))} |")
    if len(results) > 1:
        a, b = results[0], results[-1]
        print(f"verify peak RSS {a['verify']['peak_rss_mb']} MB at {a['records']:,} ->"
              f" {b['verify']['peak_rss_mb']} MB at {b['records']:,} records;"
              f" verify time x{b['verify']['seconds'] / a['verify']['seconds']:.1f},"
              f" records x{b['records'] / a['records']:.1f}")
        if a["integrity"]["median_s"] and b["integrity"]["median_s"]:
            print(f"/v1/integrity median {a['integrity']['median_s']} s ->"
                  f" {b['integrity']['median_s']} s (target <= {TARGET_INTEGRITY_S} s at any"
                  " size)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", default="1000000",
                    help="record count, or several comma-separated (reached one after another)")
    ap.add_argument("--procs", type=int, default=os.cpu_count() or 2,
                    help="generator processes (default: one per core)")
    ap.add_argument("--batch", type=int, default=1000, help="records per write_batch")
    ap.add_argument("--buffer-pool", default="1G", help="innodb_buffer_pool_size")
    ap.add_argument("--integrity-runs", type=int, default=3)
    ap.add_argument("--http-timeout", type=float, default=3600)
    ap.add_argument("--no-integrity-after-verify", dest="integrity_after_verify",
                    action="store_false",
                    help="skip the one GET /v1/integrity after `sidecar verify`")
    ap.add_argument("--gunicorn-timeout", type=int, default=None,
                    help="override gunicorn.conf.py's worker timeout (GUNICORN_CMD_ARGS), to"
                         " time a /v1/integrity that the default timeout kills")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--keep", metavar="DIR", type=Path, default=None,
                    help="stack folder to use and keep (reused: records are topped up)")
    ap.add_argument("--json", metavar="PATH", type=Path, default=None)
    args = ap.parse_args()
    try:
        sizes = sorted({int(x.replace("_", "")) for x in args.records.split(",") if x.strip()})
    except ValueError:
        ap.error("--records takes numbers, e.g. 100000 or 100000,1000000")
    if not sizes or sizes[0] <= 0:
        ap.error("--records must be positive")

    state = args.keep.resolve() if args.keep else Path(
        tempfile.mkdtemp(prefix="sp-scale-", dir="/var/tmp" if os.path.isdir("/var/tmp")
                         else None))
    extra = {"SP_SITE_ORIGINS": SITE}
    if args.gunicorn_timeout:
        extra["GUNICORN_CMD_ARGS"] = f"--timeout {args.gunicorn_timeout}"
    stack = Stack(state_dir=state, db_port=free_port(), sidecar_port=free_port(),
                  extra_sidecar_env=extra)
    out = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": git_commit(),
           "cpus": os.cpu_count(), "state_dir": str(state), "kept": bool(args.keep),
           "gunicorn_timeout": args.gunicorn_timeout or "gunicorn.conf.py",
           "sizes": []}
    try:
        stack.start_db()
        stack.sql("GRANT SELECT ON mysql.innodb_index_stats TO 'wordpress'@'127.0.0.1'")
        conn = connect(stack.database_url())
        out["mariadb"] = set_buffer_pool(stack, conn, args.buffer_pool)
        stack.start_sidecar()  # runs `sidecar migrate` first
        env = stack.sidecar_env()
        prefix = stack.table_prefix
        print(f"stack: {state} ({'kept: --keep' if args.keep else 'fresh, removed at the end'})"
              f"\n  MariaDB 127.0.0.1:{stack.db_port}: {out['mariadb']}"
              f"\n  sidecar {stack.sidecar_url} (gunicorn.conf.py"
              + (f", --timeout {args.gunicorn_timeout}" if args.gunicorn_timeout else "")
              + f"), SP_SITE_ORIGINS={SITE},"
              f" no screenshot worker\n  commit {out['commit']}, {os.cpu_count()} CPUs,"
              f" generator: {args.procs} processes x batches of {args.batch}", flush=True)
        for size in sizes:
            have = scalar(conn, f"SELECT COUNT(*) FROM {Tables(prefix).consents}")
            print(f"\n== {size:,} records ({have:,} there) ==", flush=True)
            if have > size:
                print(f"  skipped: the tables already hold {have:,} records (--keep)")
                continue
            gen = generate(env, size - have, args.procs, args.batch, args.seed + have) \
                if size > have else {"records": 0, "seconds": 0, "per_s": 0}
            if gen["records"]:
                print(f"  generated {gen['records']:,} records in {gen['seconds']} s:"
                      f" {gen['per_s']:,} records/s ({gen['processes']} processes)", flush=True)
            sealed = seal(env, size - have)  # also what an interrupted --keep run left
            load = os.getloadavg()
            print(f"  load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (machine shared?)",
                  flush=True)
            r = {"records": size, "load_before_measuring": [round(x, 2) for x in load],
                 "generate": gen, "seal": sealed,
                 "storage": storage(conn, stack, size),
                 "integrity": integrity(stack, args.integrity_runs, args.http_timeout),
                 "verify": verify(env)}
            if args.integrity_after_verify:  # an answer that a verify run's checkpoint speeds up
                r["integrity_after_verify"] = integrity(stack, 1, args.http_timeout,
                                                        "after sidecar verify #")
            out["sizes"].append(r)
            if args.json:  # after every size, so a long run leaves what it measured
                args.json.write_text(json.dumps(out, indent=2, default=str))
        conn.close()
        summary(out["sizes"])
        if args.json:
            args.json.write_text(json.dumps(out, indent=2, default=str))
            print(f"figures written to {args.json}")
        return 0
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
