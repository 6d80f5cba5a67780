#!/usr/bin/env bash
# Install what the stack and the tests need, and nothing twice:
# Debian packages (only the missing ones), the Python venv from pyproject.toml,
# and the npm packages of package.json. Used by `make demo`, `make test`, CI and the Dockerfile.
#   scripts/install.sh            everything (demo + tests)
#   scripts/install.sh sidecar    only what the sidecar image needs (Dockerfile)
#   scripts/install.sh image      only the tools of scripts/image-check.sh (podman, debootstrap)
set -euo pipefail
cd "$(dirname "$0")/.."

MODE="${1:-all}"
case "$MODE" in all|sidecar|image) ;; *) echo "usage: $0 [all|sidecar|image]" >&2; exit 2;; esac
PY="${PYTHON:-python3}"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
apt_install() {  # apt_install PKG...: Debian packages, without the recommended extras
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
command -v "$PY" >/dev/null 2>&1 || { echo "install: Debian packages: python3"; apt_install python3; }

# Debian packages: the one list is scripts/syspkgs.py (what each is for, and the file or
# command that proves it is there; tests name a missing one from the same list).
# --no-install-recommends keeps images small, so the list names what we use even when a
# package we install only recommends it (wordpress -> wordpress-l10n, chromium -> fonts).
names="$("$PY" scripts/syspkgs.py missing "$MODE")"
read -r -a missing <<<"$(echo $names)"
if [ ${#missing[@]} -gt 0 ]; then
  echo "install: Debian packages: ${missing[*]}"
  apt_install "${missing[@]}"
  # Debian starts the system MariaDB on install where it can; the stack never uses it.
  "$PY" scripts/syspkgs.py check "$MODE"   # fails naming anything apt did not bring
fi
[ "$MODE" = image ] && exit 0

VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "install: creating $VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
# Reinstall only when pyproject.toml changed since the last install.
stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)-$MODE"
if [ ! -f "$stamp" ]; then
  extra=""; [ "$MODE" = sidecar ] || extra="[test]"
  echo "install: python packages"
  "$VENV/bin/pip" install -q -e ".$extra"
  rm -f "$VENV"/.installed-*; touch "$stamp"
fi

if [ "$MODE" != sidecar ] && [ -f package.json ]; then
  lockstamp="node_modules/.installed-$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -c1-16)"
  if [ ! -f "$lockstamp" ]; then
    echo "install: npm packages"
    if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --silent; else npm install --no-audit --no-fund --silent; fi
    touch "$lockstamp"
  fi
fi
