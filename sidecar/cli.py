"""`sidecar` console script: serve, worker, migrate, purge, verify (CONTRACT §3)."""

from __future__ import annotations

import argparse
import signal
import sys

from . import config
from .logs import setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sidecar", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="development server (use gunicorn in production)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    sub.add_parser("worker", help="run the screenshot worker until SIGTERM")
    sub.add_parser("migrate", help="apply database migrations")
    args = parser.parse_args(argv)
    setup_logging()
    try:
        cfg = config.load()
    except config.ConfigError as e:
        print(f"sidecar: configuration error: {e}", file=sys.stderr)
        return 2

    from . import db
    if args.command == "migrate":
        applied = db.migrate(cfg["SP_DATABASE_URL"], cfg["SP_TABLE_PREFIX"])
        print(f"migrations applied: {', '.join(applied) or 'none (up to date)'}")
        return 0
    if args.command == "serve":
        from . import create_app
        db.migrate(cfg["SP_DATABASE_URL"], cfg["SP_TABLE_PREFIX"])
        create_app().run(host=args.host, port=args.port)
        return 0
    if args.command == "worker":
        from .screenshots import Worker
        db.migrate(cfg["SP_DATABASE_URL"], cfg["SP_TABLE_PREFIX"])
        worker = Worker(cfg)

        def stop(signum, frame):
            worker.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        worker.run()
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
