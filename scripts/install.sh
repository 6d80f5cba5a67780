#!/usr/bin/env bash
# Install what the stack and the tests need, and nothing twice:
# Debian packages (only the missing ones), the Python venv from pyproject.toml,
# and the npm packages of package.json. Used by `make demo`, `make test`, CI and the Dockerfile.
#   scripts/install.sh            everything (demo + tests)
#   scripts/install.sh sidecar    only what the sidecar image needs (Dockerfile)
set -euo pipefail
cd "$(dirname "$0")/.."

MODE="${1:-all}"
# libmaxminddb-dev: maxminddb builds its C reader against it (about 10x faster lookups).
SIDECAR_PKGS=(chromium chromium-driver fonts-dejavu-core libmaxminddb-dev)
STACK_PKGS=(mariadb-server mariadb-client php-cli php-mysql php-xml php-mbstring php-curl php-zip
            wordpress wordpress-theme-twentytwentyone
            wordpress-theme-twentytwentythree phpunit gettext nodejs rsync wrk)
if [ "$MODE" = sidecar ]; then PKGS=("${SIDECAR_PKGS[@]}"); else PKGS=("${SIDECAR_PKGS[@]}" "${STACK_PKGS[@]}"); fi

missing=()
for p in "${PKGS[@]}"; do
  # nodejs may come from outside Debian (e.g. NodeSource or a preinstalled Node): accept any `node`.
  if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install: Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts the system MariaDB on install where it can; the stack never uses it.
fi

VENV="${VENV:-.venv}"
PY="${PYTHON:-python3}"
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
