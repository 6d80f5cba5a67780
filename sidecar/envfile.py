"""`sidecar init`: write a sidecar's env file with new secrets, and say what WordPress needs.

The file is both a systemd `EnvironmentFile=` and a shell file (`set -a; . ./sidecar.env`):
one `NAME='value'` a line. It is made with mode 0600 and never overwritten without `--force`
(a second run would otherwise replace the secrets WordPress and the ledger depend on)."""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import tempfile
from datetime import UTC, datetime
from urllib.parse import urlsplit

from . import config

# wp-admin → Secure Privacy → Settings → Connection (wp-plugin/includes/admin-settings.php)
WP_LABELS = ("Sidecar URL", "Signing secrets", "Admin API token")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", nargs="?", default="sidecar.env",
                   help="env file to write (default: ./sidecar.env)")
    p.add_argument("--database-url", required=True, metavar="URL",
                   help="the site's database: mysql://user:password@host:port/dbname")
    p.add_argument("--site-origin", required=True, action="append", metavar="ORIGIN",
                   help="the WordPress site's origin, e.g. https://www.example.org (its home"
                        " URL's scheme, host and port); repeat for more")
    p.add_argument("--table-prefix", default="wp_", help="the site's table prefix (wp_)")
    p.add_argument("--bind", default="127.0.0.1:8000",
                   help="where gunicorn listens, SP_BIND (127.0.0.1:8000: this host only)")
    p.add_argument("--url", default=None,
                   help="the sidecar's URL as WordPress reaches it (default: from --bind)")
    p.add_argument("--anchor-file", default=None, metavar="FILE",
                   help="SP_ANCHOR_FILE (default: the sidecar's own default for this user)")
    p.add_argument("--retention-days", type=int, default=None, metavar="N",
                   help="SP_RETENTION_DAYS: `sidecar purge` (the daily timer) erases records"
                        " older than N days (default: not set, records are kept)")
    p.add_argument("--force", action="store_true", help="replace an existing file")


def new_secret() -> str:
    """64 URL-safe characters from 48 random bytes, never one the sidecar would refuse."""
    while True:
        value = secrets.token_urlsafe(48)
        if config.weak_secret(value) is None:
            return value


def quote(value: str) -> str:
    """A value as systemd's EnvironmentFile= and a POSIX shell both read it back."""
    if "\n" in value or "\r" in value:
        raise ValueError("a value may not span lines")
    if "'" not in value:
        return f"'{value}'"
    return '"' + re.sub(r'(["\\`$])', r"\\\1", value) + '"'


def write_secret_file(path: str, text: str, replace: bool) -> None:
    """Write `text` to `path` with mode 0600 from the first byte; raise FileExistsError if
    `path` exists and not `replace` (then atomically: a new file, renamed over the old)."""
    if not replace:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        return
    fd, tmp = tempfile.mkstemp(prefix=".sidecar-env-", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def sidecar_url(bind: str) -> str:
    if bind.startswith(("unix:", "fd://")):
        return "(the URL of the proxy in front of " + bind + ")"
    host, _, port = bind.rpartition(":")
    if host in ("", "0.0.0.0", "[::]", "::"):
        host = "<this host's address>"
    return f"http://{host}:{port or 8000}"


def init(args: argparse.Namespace) -> int:
    def fail(message: str) -> int:
        print(f"sidecar init: {message}", file=sys.stderr)
        return 2

    from .db import connect_args
    try:
        connect_args(args.database_url)
    except ValueError as e:
        return fail(f"--database-url: {e}")
    try:
        origins = [config.normalise_origin(o) for o in args.site_origin]
    except ValueError as e:
        return fail(f"--site-origin: {e}")
    if not re.fullmatch(r"[A-Za-z0-9_]*", args.table_prefix):
        return fail("--table-prefix may hold only letters, digits and _")
    path = os.path.abspath(args.path)
    if os.path.exists(path) and not args.force:
        return fail(f"{path} exists; it holds the secrets WordPress and the ledger use. "
                    "Give --force to replace it (then update WordPress too).")
    anchor = args.anchor_file or config.anchor_file("", args.database_url, args.table_prefix,
                                                    dict(os.environ))
    values = {
        "SP_DATABASE_URL": args.database_url,
        "SP_TABLE_PREFIX": args.table_prefix,
        "SP_SITE_ORIGINS": ",".join(origins),
        "SP_SECRET_KEYS": new_secret(),
        "SP_ADMIN_TOKENS": new_secret(),
        "SP_LEDGER_KEYS": new_secret(),
        "SP_METRICS_TOKENS": new_secret(),
        "SP_ANCHOR_FILE": os.path.abspath(os.path.expanduser(anchor)),
        "SP_BIND": args.bind,
    }
    if args.retention_days is not None:
        if args.retention_days < 0:
            return fail("--retention-days must be 0 (keep) or more")
        values["SP_RETENTION_DAYS"] = str(args.retention_days)
    try:
        config.load(env=values)  # what the sidecar will read must pass its own checks
        lines = [f"{k}={quote(v)}" for k, v in values.items()]
    except (config.ConfigError, ValueError) as e:
        return fail(str(e))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join([
        f"# Secure Privacy sidecar settings, made by `sidecar init` on {stamp}.",
        "# Secret (mode 0600). SP_SECRET_KEYS and one of SP_ADMIN_TOKENS go into WordPress;",
        "# SP_LEDGER_KEYS never leaves this host. Every setting: README, Sidecar configuration.",
        *lines, ""])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        write_secret_file(path, text, replace=args.force)
    except FileExistsError:
        return fail(f"{path} exists; give --force to replace it")
    url = args.url or sidecar_url(args.bind)
    width = max(len(label) for label in WP_LABELS) + 1
    print(f"Wrote {path} (mode 0600).")
    print("In wp-admin → Secure Privacy → Settings → Connection, enter:")
    for label, value in zip(WP_LABELS, (url, values["SP_SECRET_KEYS"],
                                        values["SP_ADMIN_TOKENS"]), strict=True):
        print(f"  {label + ':':<{width}} {value}")
    if urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1"):
        print(f"({url} reaches the sidecar only from this host: run WordPress here too, or"
              " give --bind and --url.)")
    return 0
