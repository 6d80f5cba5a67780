#!/usr/bin/env python3
"""The Debian packages the stack, the suites, the benchmarks and the image need: one list,
read by scripts/install.sh (what to install) and by the tests (which package a missing tool
comes from, so a suite fails naming it instead of with a confusing assertion).

Each package has a probe: the file, command or PHP extension the code actually uses. A
package counts as present when its probe passes (so a Node.js from NodeSource, or a Python
from pyenv with its own headers, is accepted), else when dpkg says it is installed and it
has no probe. Standard library only: install.sh runs it before the venv exists.

    python3 scripts/syspkgs.py missing GROUP...   names of the missing packages, one a line
    python3 scripts/syspkgs.py check GROUP...     exit 1 with a message naming what is missing
Groups: sidecar (what the image runs and builds with), stack (MariaDB, PHP, WordPress), test
(tools the suites call), bench, image (scripts/image-check.sh); `all` = sidecar stack test
bench.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig

WP = "/usr/share/wordpress"

# package: (group, probe, why). Probes: "cmd:NAME" (on PATH), "/absolute/path" (exists),
# "php:EXT" (extension loaded by php-cli), "py:MODULE" (importable by this python),
# "pyinc:HEADER" (in this python's include dir), "" (dpkg status only).
PACKAGES: dict[str, tuple[str, str, str]] = {
    # --- sidecar: the image and `make demo` --------------------------------------------
    "python3-venv": ("sidecar", "py:ensurepip", "install.sh makes the venv with it"),
    "python3-dev": ("sidecar", "pyinc:Python.h", "maxminddb builds its C reader"),
    "gcc": ("sidecar", "cmd:gcc", "maxminddb builds its C reader"),
    "libmaxminddb-dev": ("sidecar", "",
                         "maxminddb builds its C reader against it (10x faster lookups)"),
    "ca-certificates": ("sidecar", "/etc/ssl/certs/ca-certificates.crt", "pip over HTTPS"),
    "chromium": ("sidecar", "cmd:chromium", "the screenshot worker and the e2e browser"),
    "chromium-driver": ("sidecar", "cmd:chromedriver", "Selenium drives chromium with it"),
    # chromium only recommends fonts: without one, pages render as boxes.
    "fonts-dejavu-core": ("sidecar", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                          "text in screenshots"),
    # --- stack: MariaDB, PHP and WordPress ----------------------------------------------
    "mariadb-server": ("stack", "cmd:mariadb-install-db", "the stack's private database"),
    "mariadb-client": ("stack", "cmd:mariadb", "the stack runs SQL as root with it"),
    "php-cli": ("stack", "cmd:php", "WordPress under php -S; the PHP signer tests"),
    "php-mysql": ("stack", "php:mysqli", "WordPress's database driver"),
    "php-xml": ("stack", "php:dom", "WordPress (DOM, SimpleXML); PHPUnit"),
    "php-mbstring": ("stack", "php:mbstring", "the plugin's text handling; PHPUnit"),
    "php-curl": ("stack", "php:curl", "WordPress's HTTP client (plugin -> sidecar)"),
    "php-zip": ("stack", "php:zip", "WordPress unpacking archives"),
    "wordpress": ("stack", f"{WP}/wp-load.php", "the site the stack serves"),
    # Recommended by `wordpress`, so --no-install-recommends left it out (issue 10, item 5):
    # without it switch_to_locale('sv_SE') is false and the Swedish tests fail.
    "wordpress-l10n": ("stack", f"{WP}/wp-content/languages/sv_SE.mo",
                       "WordPress's own translations (Swedish tests)"),
    "wordpress-theme-twentytwentyone": ("stack", f"{WP}/wp-content/themes/twentytwentyone",
                                        "the stack's default theme"),
    "wordpress-theme-twentytwentythree": ("stack",
                                          f"{WP}/wp-content/themes/twentytwentythree",
                                          "the block theme of the widget tests and bench"),
    # --- test: tools the suites call ----------------------------------------------------
    "phpunit": ("test", "cmd:phpunit", "the PHP suites"),
    "gettext": ("test", "cmd:msgfmt", "tests/test_plugin_i18n.py (xgettext, msgcat, msgfmt)"),
    "nodejs": ("test", "cmd:node", "the widget's tests and build"),
    # Debian ships npm apart from nodejs (NodeSource's nodejs includes it).
    "npm": ("test", "cmd:npm", "installs the JS test tools (package-lock.json)"),
    "systemd": ("test", "cmd:systemd-analyze",
                "tests/test_startup.py verifies deploy/systemd/ (systemd-analyze verify)"),
    # --- bench --------------------------------------------------------------------------
    "wrk": ("bench", "cmd:wrk", "bench/ingest.py's load generator"),
    # --- image: scripts/image-check.sh ----------------------------------------------------
    "debootstrap": ("image", "cmd:debootstrap", "the debian:12-slim base"),
    "podman": ("image", "cmd:podman", "builds the Dockerfile"),
}
GROUPS = ("sidecar", "stack", "test", "bench", "image")
ALL = ("sidecar", "stack", "test", "bench")


def _dpkg_installed(package: str) -> bool:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package],
                             capture_output=True, text=True)
    except FileNotFoundError:
        return False
    return "install ok installed" in out.stdout


def _php_extensions() -> set[str]:
    if not shutil.which("php"):
        return set()
    out = subprocess.run(["php", "-m"], capture_output=True, text=True)
    return {line.strip().lower() for line in out.stdout.splitlines()}


def probe_ok(probe: str, _php: dict = {}) -> bool:  # noqa: B006 (a cache on purpose)
    kind, _, arg = probe.partition(":") if not probe.startswith("/") else ("path", "", probe)
    if kind == "path":
        return os.path.exists(arg)
    if kind == "cmd":
        return shutil.which(arg) is not None
    if kind == "php":
        if "ext" not in _php:
            _php["ext"] = _php_extensions()
        return arg in _php["ext"]
    if kind == "py":
        import importlib.util
        return importlib.util.find_spec(arg) is not None
    if kind == "pyinc":
        return os.path.exists(os.path.join(sysconfig.get_paths()["include"], arg))
    raise ValueError(f"unknown probe {probe!r}")


def packages(*groups: str) -> list[str]:
    wanted = set()
    for g in groups:
        if g == "all":
            wanted.update(ALL)
        elif g in GROUPS:
            wanted.add(g)
        else:
            raise ValueError(f"unknown group {g!r} (one of {', '.join(GROUPS)}, all)")
    return [p for p, (g, _, _) in PACKAGES.items() if g in wanted]


def missing(*names_or_groups: str) -> list[str]:
    """The missing ones among these packages (or the packages of these groups)."""
    names = []
    for n in names_or_groups:
        names += [n] if n in PACKAGES else packages(n)
    out = []
    for name in names:
        probe = PACKAGES[name][1]
        present = probe_ok(probe) if probe else _dpkg_installed(name)
        if not present:
            out.append(name)
    return out


def message(names: list[str]) -> str:
    """One line per missing package: which package, what is missing, what needs it."""
    lines = []
    for n in names:
        _, probe, why = PACKAGES[n]
        what = probe.replace("cmd:", "command ").replace("php:", "PHP extension ") \
            .replace("pyinc:", "header ").replace("py:", "Python module ")
        lines.append(f"  Debian package {n} is missing ({what or 'dpkg'}; needed for {why})")
    return ("\n".join(lines) + "\n  run: bash scripts/install.sh   (or: apt-get install "
            f"--no-install-recommends {' '.join(names)})")


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("missing", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        gone = missing(*argv[1:])
    except ValueError as e:
        print(f"syspkgs: {e}", file=sys.stderr)
        return 2
    if argv[0] == "missing":
        print("\n".join(gone))
        return 0
    if gone:
        print("Missing system packages:\n" + message(gone), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
