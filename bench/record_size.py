"""Bytes per stored consent record (issue 11, "Scale"): a quick measurement.

    .venv/bin/python bench/record_size.py [--records 100000] [--state DIR] [--keep]

Starts a private MariaDB (scripts/stack.py), migrates, stores `--records` consents through
the sidecar's own code path (commit.insert_consent builds each row, commit.write_batch
writes them 500 per transaction), seals them all into the ledger, runs ANALYZE TABLE and
prints, per table the sidecar writes for a record (`sp_consents`, `sp_chain`, and any
other table that holds rows), information_schema's data_length + index_length and the
.ibd file size, each divided by the number of records. Payloads are realistic: ~120-byte
browser user agents from a small set (Zipf-like), page URLs of ~200 pages of one site,
IPv4 and some IPv6 addresses, a mix of actions and methods.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import secrets
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import pymysql  # noqa: E402
from stack import Stack, free_port  # noqa: E402

from sidecar import commit, config, db, ledger  # noqa: E402
from sidecar.validation import validate_consent  # noqa: E402

SITE = "https://shop.example.org"
UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    f" Chrome/{v}.0.0.0 Safari/537.36" for v in range(118, 131)
] + [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like"
    f" Gecko) Version/17.{v} Safari/605.1.15" for v in range(0, 6)
] + [
    f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_{v} like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1" for v in range(0, 6)
] + [
    f"Mozilla/5.0 (Linux; Android 14; SM-S91{v}B) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/129.0.0.0 Mobile Safari/537.36" for v in range(0, 8)
] + [
    f"Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"
    for v in range(115, 132)
]
PAGES = [f"{SITE}/" ] + [f"{SITE}/products/item-{n}/" for n in range(150)] + [
    f"{SITE}/blog/2026/{m:02d}/some-article-title-{m}/" for m in range(1, 13)] + [
    f"{SITE}/category/shoes/?page={n}" for n in range(1, 30)]
METHODS = [("grant", "accept_all")] * 6 + [("grant", "reject_all")] * 3 + [
    ("grant", "custom"), ("update", "custom"), ("withdraw", "withdraw")]


# The rule-set versions a site's plugin signs in (--rules-version): a few, as rules change.
RULES_VERSIONS = [hashlib.sha256(f"rules {n}".encode()).hexdigest() for n in range(3)]


def payload(rnd: random.Random, t: datetime, rules_version: bool = False) -> dict:
    action, method = rnd.choice(METHODS)
    opt = action != "withdraw" and method != "reject_all"
    cats = {"necessary": True, "preferences": opt and rnd.random() < .9,
            "statistics": opt and rnd.random() < .8, "marketing": opt and rnd.random() < .7}
    ip = (f"{rnd.randint(1, 223)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}."
          f"{rnd.randint(1, 254)}" if rnd.random() < .8 else
          f"2a02:{rnd.randint(0, 65535):x}:{rnd.randint(0, 65535):x}::{rnd.randint(1, 65535):x}")
    return validate_consent({
        "event_id": str(uuid.uuid4()), "subject_id": str(uuid.uuid4()),
        "action": action, "method": method, "categories": cats,
        "page_url": rnd.choice(PAGES), "policy_version": "7", "banner_version": "2026-11-02",
        "language": rnd.choice(["en-US", "de-DE", "fr"]),
        "signals": {"gpc": rnd.random() < .05, "dnt": rnd.random() < .1}, "ip": ip,
        "user_agent": UAS[min(int(rnd.paretovariate(1.2)) - 1, len(UAS) - 1)],
        "wp_user_id": rnd.randint(1, 500) if rnd.random() < .05 else 0,
        "occurred_at": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        **({"rules_version": rnd.choice(RULES_VERSIONS)} if rules_version else {})})


class Collect:
    def __init__(self):
        self.items = []

    def write(self, item):
        self.items.append(item)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--state", default=None)
    ap.add_argument("--keep", action="store_true", help="leave MariaDB running")
    ap.add_argument("--ip-storage", default="full")
    ap.add_argument("--render-key", action="store_true",
                    help="fill render_key (16 bytes) of pending records, as migration 006's"
                         " ingest does")
    ap.add_argument("--rules-version", action="store_true",
                    help="every consent carries a rule-set version (issue 14), as the"
                         " plugin signs it in")
    ap.add_argument("--measure-only", action="store_true",
                    help="an existing --state: migrate, seal and measure, store nothing")
    a = ap.parse_args()
    state = Path(a.state or tempfile.mkdtemp(prefix="sp-size-"))
    s = Stack(state_dir=state, wp_port=free_port(), sidecar_port=free_port(),
              db_port=free_port())
    s.start_db()
    try:
        url = s.database_url()
        cfg = config.load(overrides={
            "SP_DATABASE_URL": url, "SP_SECRET_KEYS": secrets.token_urlsafe(48),
            "SP_ADMIN_TOKENS": secrets.token_urlsafe(48),
            "SP_SITE_ORIGINS": SITE, "SP_TABLE_PREFIX": "wp_", "SP_ANCHOR_FILE": "off",
            "SP_IP_STORAGE": a.ip_storage})
        db.migrate(url, "wp_")
        if a.render_key:
            commit.CONSENT_INSERT = commit.CONSENT_INSERT.replace(") VALUES ",
                                                                  ", render_key) VALUES ")
            commit.CONSENT_ROW = "(" + ",".join(["%s"] * 26) + ")"
        t = db.Tables("wp_")
        conn = db.connect(url)
        rnd = random.Random(11)
        t0, start = time.monotonic(), datetime.now(UTC) - timedelta(days=30)
        done = 0
        if a.measure_only:
            with conn.cursor() as cur:
                cur.execute(f"SELECT COUNT(*) AS n FROM {t.consents}")
                done = a.records = cur.fetchone()["n"]
            conn.commit()
        while done < a.records:
            c = Collect()
            n = min(500, a.records - done)
            for i in range(n):
                commit.insert_consent(lambda: conn, t, payload(
                    rnd, start + timedelta(seconds=(done + i) * 7), a.rules_version), cfg,
                    committer=c)
            if a.render_key:  # what 006's ingest adds: the render's key, 16 bytes
                for item in c.items:
                    row = list(item.consent)
                    key = hashlib.md5(row[6].encode()).digest() if row[19] == "pending" \
                        else None
                    item.consent = (*row, key)
            commit.write_batch(conn, t, c.items)
            done += n
        print(f"stored {done} records in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        while ledger.seal(conn, cfg, limit=5000, sweep=True):
            pass
        report = ledger.verify(url, "wp_", cfg["LEDGER_KEYS"])
        print(f"verify: ok={report['ok']} records={report['records']}"
              f" sealed={report['sealed']}", file=sys.stderr)
        root = pymysql.connect(unix_socket=str(s.db_socket), user="root",
                               cursorclass=pymysql.cursors.DictCursor)
        with conn.cursor() as cur, root.cursor() as rcur:
            cur.execute("SHOW TABLES")
            names = [next(iter(r.values())) for r in cur.fetchall()]
            total = 0
            datadir = state / "mariadb" / "data" / s.db_name
            print(f"{'table':<24}{'rows':>9}{'data B/rec':>12}{'index B/rec':>12}"
                  f"{'.ibd B/rec':>12}")
            for name in sorted(names):
                cur.execute(f"ANALYZE TABLE `{name}`")
                cur.fetchall()
                cur.execute("SELECT table_rows, data_length, index_length FROM"
                            " information_schema.tables WHERE table_schema = DATABASE()"
                            " AND table_name = %s", (name,))
                r = cur.fetchone()
                cur.execute(f"SELECT COUNT(*) AS n FROM `{name}`")
                rows = cur.fetchone()["n"]
                ibd = datadir / f"{name}.ibd"
                size = ibd.stat().st_size if ibd.exists() else 0
                if not rows or name.endswith(("migrations", "seals")):
                    continue
                per = (r["data_length"] + r["index_length"]) / done
                total += per
                print(f"{name:<24}{rows:>9}{r['data_length'] / done:>12.0f}"
                      f"{r['index_length'] / done:>12.0f}{size / done:>12.0f}")
                rcur.execute("SELECT index_name, stat_value * @@innodb_page_size AS b FROM"
                             " mysql.innodb_index_stats WHERE database_name = %s AND"
                             " table_name = %s AND stat_name = 'size'", (s.db_name, name))
                for ix in rcur.fetchall():
                    print(f"    {ix['index_name']:<28}{ix['b'] / done:>8.1f} B/rec")
            print(f"total (data + index) per record: {total:.0f} bytes")
        conn.close()
    finally:
        if not a.keep:
            s.stop()
        else:
            print(f"MariaDB left running: {s.database_url()} (state {state})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
