#!/usr/bin/env bash
# Run every suite; exit non-zero if any failed or if a suite ran no test at all.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
failed=()

run() {  # run NAME CMD...: run a suite, remember its failure
  local name="$1"; shift
  echo "=== $name: $*"
  "$@"
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    # pytest exits 5 when it collected no test: that is a failure here, not a pass.
    [ "$rc" -eq 5 ] && echo "=== $name: no tests were collected"
    failed+=("$name (exit $rc)")
  fi
}

# Name a missing Debian package up front (the suites needing it also fail naming it).
run packages "$VENV/bin/python" scripts/syspkgs.py check sidecar stack test
run lint "$VENV/bin/ruff" check sidecar tests scripts bench
run js npm test --silent
run php phpunit -c tests/php/phpunit.xml
run python "$VENV/bin/python" -m pytest -p no:cacheprovider "$@"

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED suites: ${failed[*]}"
  exit 1
fi
echo "all suites passed"
