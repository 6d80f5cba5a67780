"""`sidecar` console script: init, check, serve, worker, migrate, purge, verify, seal
(docs/api.md §5)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys

from . import config, envfile
from .logs import setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sidecar", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="write an env file with new secrets and print what to"
                          " enter in WordPress")
    envfile.add_arguments(init)
    sub.add_parser("check", help="check the settings and that the database takes a connection")
    serve = sub.add_parser("serve", help="development server (use gunicorn in production)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    sub.add_parser("worker", help="run the screenshot worker until SIGTERM")
    sub.add_parser("migrate", help="apply database migrations")
    purge = sub.add_parser("purge", help="erase (as tombstones) records older than a retention")
    purge.add_argument("--days", type=int, default=None,
                       help="retention in days (default: SP_RETENTION_DAYS)")
    purge.add_argument("--before", default=None,
                       help="erase records received before this UTC time (RFC 3339) instead")
    verify = sub.add_parser("verify", help="verify the ledger; exit 1 if anything was tampered"
                            " with")
    verify.add_argument("--anchors", action="append", metavar="FILE",
                        help="anchor file(s) to check the chain against, e.g. exported from"
                             " GET /v1/integrity/anchors (default: SP_ANCHOR_FILE)")
    verify.add_argument("--quiet", action="store_true", help="no progress on stderr")
    verify.add_argument("--no-checkpoint", action="store_true",
                        help="do not record a 'full' checkpoint when everything verifies")
    seal = sub.add_parser("seal", help="seal pending records into the hash chain now")
    seal.add_argument("--sweep", action="store_true",
                      help="search the whole table for unsealed records, not the recent part")
    seal.add_argument("--accept-legacy", action="store_true",
                      help="convert records of the old unkeyed chain into the keyed chain even"
                           " though that chain fails verification (verify keeps reporting it)")
    args = parser.parse_args(argv)
    if args.command == "init":
        return envfile.init(args)
    setup_logging()
    from . import db
    try:  # every command starts with good settings and a database that answers
        cfg = config.load()
        conn = db.reach(cfg["SP_DATABASE_URL"])
        advice = db.durability_advice(conn)
        conn.close()
    except config.StartupError as e:
        print(e, file=sys.stderr)
        return 2
    except config.ConfigError as e:
        print(f"sidecar: configuration error: {e}", file=sys.stderr)
        return 2
    if args.command == "check":
        print("sidecar: settings OK, database reachable")
        for line in advice:
            print(f"sidecar: {line}")
        return 0
    if args.command == "migrate":
        applied = db.migrate(cfg["SP_DATABASE_URL"], cfg["SP_TABLE_PREFIX"])
        print(f"migrations applied: {', '.join(applied) or 'none (up to date)'}")
        return 0
    if args.command == "verify":
        return _verify(cfg, args.anchors, args.quiet, not args.no_checkpoint)
    if args.command == "seal":
        from . import jobs
        conn = db.connect(cfg["SP_DATABASE_URL"])
        n = 0
        try:
            while (sealed := jobs.seal(conn, cfg, sweep=args.sweep,
                                         accept_legacy=args.accept_legacy)) > 0:
                n += sealed
        finally:
            conn.close()
        print(f"sealed {n} record(s)")
        return 0
    if args.command == "purge":
        return _purge(cfg, args.days, args.before)
    if args.command == "serve":
        from . import create_app
        db.migrate(cfg["SP_DATABASE_URL"], cfg["SP_TABLE_PREFIX"])
        create_app().run(host=args.host, port=args.port)
        return 0
    if args.command == "worker":
        from .screenshots import Worker
        db.migrate(cfg["SP_DATABASE_URL"], cfg["SP_TABLE_PREFIX"])
        # Screenshots are background work: the worker and the browsers it starts yield the
        # CPU to ingest, whose latency a visitor's request waits on.
        if cfg["SP_WORKER_NICE"]:
            os.nice(cfg["SP_WORKER_NICE"])
        worker = Worker(cfg)
        try:  # the egress proxy listens where told, or the worker does not start
            worker.open_egress()
        except config.ConfigError as e:
            print(f"sidecar: configuration error: {e}", file=sys.stderr)
            return 2
        for line in advice:  # started: the worker's seals are the writes that meet a burst
            logging.getLogger("sidecar.worker").warning(line)

        def stop(signum, frame):
            worker.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        worker.run()
        return 0
    return 2


def _verify(cfg: dict, anchors: list[str] | None, quiet: bool, write: bool = True) -> int:
    import time

    from . import ledger
    if anchors is None:
        anchors = [cfg["ANCHOR_FILE"]] if cfg["ANCHOR_FILE"] else []
    started = time.monotonic()

    def progress(n: int) -> None:
        if not quiet:
            took = time.monotonic() - started
            print(f"verify: {n} records checked, {took:.0f} s ({n / max(took, 1e-9):,.0f}/s)",
                  file=sys.stderr, flush=True)

    report = ledger.full_verify(cfg, anchors=anchors, progress=progress, write=write)
    if not quiet:
        took = time.monotonic() - started
        print(f"verify: done, {report['records']} records ({report['sealed']} sealed) in"
              f" {took:.1f} s ({report['records'] / max(took, 1e-9):,.0f}/s)",
              file=sys.stderr, flush=True)
    if cfg["LEDGER_KEYS_DERIVED"]:
        report["warnings"].insert(0, ledger.DERIVED_KEY_WARNING)
    if not anchors:
        report["warnings"].insert(0, ledger.NO_ANCHOR_WARNING)
    for w in report["warnings"]:
        print(f"WARNING: {w}")
    for p in report["problems"]:
        where = f"record {p['id']} (seq {p['seq']}, chain position {p['chain_pos']})" \
            if p["id"] else "ledger"
        print(f"TAMPERED {where}: {p['problem']}")
    print(json.dumps({k: v for k, v in report.items() if k not in ("problems", "warnings")}))
    print("ledger OK" if report["ok"] else "ledger FAILED verification")
    return 0 if report["ok"] else 1


def _purge(cfg: dict, days: int | None, before: str | None) -> int:
    """Tombstone records older than the retention; cron-friendly (quiet, exit 0 when done)."""
    import logging
    from datetime import UTC, datetime, timedelta

    from . import db, erasure
    from .clock import utcnow
    if before:
        try:
            cutoff = datetime.fromisoformat(before.replace("Z", "+00:00"))
        except ValueError:
            print("sidecar purge: --before must be an RFC 3339 time", file=sys.stderr)
            return 2
        if cutoff.tzinfo:
            cutoff = cutoff.astimezone(UTC).replace(tzinfo=None)
        days = None
    else:
        if days is None:
            days = cfg.get("SP_RETENTION_DAYS")
        if not days or int(days) <= 0:
            print("sidecar purge: give --days N or set SP_RETENTION_DAYS", file=sys.stderr)
            return 2
        cutoff = utcnow() - timedelta(days=int(days))
    conn = db.connect(cfg["SP_DATABASE_URL"])
    try:
        n = erasure.purge_older_than(conn, db.Tables(cfg["SP_TABLE_PREFIX"]), cutoff)
    finally:
        conn.close()
    logging.getLogger("sidecar.purge").info("purge", extra={"fields": {
        "retention_days": days, "cutoff": cutoff.isoformat() + "Z", "erased": n}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
