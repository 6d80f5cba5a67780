#!/usr/bin/env python3
"""Refresh the vendored Open Cookie Database (docs/catalogue.md, "Refreshing the OCD").

    scripts/refresh_ocd.py SOURCE --version "abc1234 (2026-03-01)" [--dry-run]

SOURCE is a path to open-cookie-database.csv or an https URL of it (for example the raw file
of a given upstream commit). The file is checked (the ten columns, a mapped category and a
0/1 wildcard flag on every row, unique IDs) before anything is written; a bad file changes
nothing and exits 1. Prints what changed (rows added, removed, changed, and category moves
in our terms), then replaces sidecar/catalogue/open-cookie-database/open-cookie-database.csv
and rewrites SOURCE.json beside it. Exit 0 also when nothing changed.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import hashlib
import json
import os
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sidecar.classify import OCD_CATEGORY_MAP, OCD_FILE, CatalogueError, read_ocd_rows  # noqa: E402

DEST = ROOT / "sidecar" / "catalogue" / "open-cookie-database"
MAX_BYTES = 50 * 1024 * 1024


def fetch(source: str) -> bytes:
    """The bytes of a local path or an https URL (no other scheme: a refresh is a release
    step, and a plain-http copy could be anything)."""
    if "://" not in source:
        return Path(source).read_bytes()
    if not source.startswith("https://"):
        raise CatalogueError(f"only https URLs or local paths are accepted, not {source!r}")
    with urllib.request.urlopen(source, timeout=60) as response:  # noqa: S310 (https only)
        data = response.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise CatalogueError(f"{source} is larger than {MAX_BYTES} bytes")
    return data


def summarise(old_rows: list[dict], new_rows: list[dict]) -> list[str]:
    """Human lines: counts, then each added/removed/changed cookie name and category move."""
    old = {r["ID"]: r for r in old_rows}
    new = {r["ID"]: r for r in new_rows}
    added = sorted(new.keys() - old.keys(), key=lambda i: new[i]["Cookie / Data Key name"])
    removed = sorted(old.keys() - new.keys(), key=lambda i: old[i]["Cookie / Data Key name"])
    changed = sorted((i for i in old.keys() & new.keys() if old[i] != new[i]),
                     key=lambda i: new[i]["Cookie / Data Key name"])
    ours = lambda r: OCD_CATEGORY_MAP[r["Category"]]  # noqa: E731
    moved = [i for i in changed if ours(old[i]) != ours(new[i])]
    lines = [f"rows: {len(old_rows)} -> {len(new_rows)}; added {len(added)}, removed "
             f"{len(removed)}, changed {len(changed)} ({len(moved)} change our category)"]
    counts_old = collections.Counter(map(ours, old_rows))
    counts_new = collections.Counter(map(ours, new_rows))
    lines.append("by our category: " + ", ".join(
        f"{c} {counts_old.get(c, 0)} -> {counts_new.get(c, 0)}"
        for c in sorted(set(counts_old) | set(counts_new))))
    label = lambda r: f"{r['Cookie / Data Key name']} ({r['Platform']}, {r['Category']})"  # noqa: E731
    lines += [f"+ {label(new[i])}" for i in added]
    lines += [f"- {label(old[i])}" for i in removed]
    for i in changed:
        fields = [k for k in new[i] if old[i].get(k) != new[i][k]]
        move = f" category {ours(old[i])} -> {ours(new[i])}" if i in moved else ""
        lines.append(f"~ {label(new[i])}: {', '.join(fields)}{move}")
    return lines


def write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", help="path or https URL of open-cookie-database.csv")
    ap.add_argument("--version", required=True,
                    help='what upstream calls this copy, e.g. "abc1234 (2026-03-01)"')
    ap.add_argument("--dest", type=Path, default=DEST, help=argparse.SUPPRESS)
    ap.add_argument("--dry-run", action="store_true", help="check and summarise, write nothing")
    args = ap.parse_args(argv)
    try:
        raw = fetch(args.source)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise CatalogueError(f"not UTF-8: {e}") from None
        new_rows = read_ocd_rows(text)
        current = args.dest / OCD_FILE
        old_rows = read_ocd_rows(current.read_text("utf-8")) if current.exists() else []
    except (OSError, CatalogueError) as e:
        print(f"refresh_ocd: {e}; nothing was changed", file=sys.stderr)
        return 1
    for line in summarise(old_rows, new_rows):
        print(line)
    if args.dry_run:
        print("dry run: nothing written")
        return 0
    args.dest.mkdir(parents=True, exist_ok=True)
    write_atomically(current, raw)
    source = {"source": args.source if "://" in args.source else
              "https://github.com/jkwakman/Open-Cookie-Database (open-cookie-database.csv)",
              "version": args.version,
              "retrieved": datetime.date.today().isoformat(),
              "sha256": hashlib.sha256(raw).hexdigest(),
              "rows": len(new_rows)}
    write_atomically(args.dest / "SOURCE.json", (json.dumps(source, indent=2) + "\n").encode())
    print(f"wrote {current.relative_to(ROOT) if current.is_relative_to(ROOT) else current} "
          f"and SOURCE.json ({len(new_rows)} rows, sha256 {source['sha256'][:12]}…)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
