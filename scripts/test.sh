#!/usr/bin/env bash
# Runs Volley's whole test suite from a fresh clone: installs dependencies (scripts/deps.sh),
# configures and builds into build/ (two jobs), starts the loopback servers the tests need
# (tests/servers/start.sh), runs every unit, integration and e2e test with ctest, stops the
# servers, and exits with ctest's status. The last line printed is ctest's summary line.
#
# Environment: VOLLEY_BUILD_JOBS (default 2), VOLLEY_CTEST_ARGS (extra ctest arguments, e.g.
# "-L e2e" or "-R k6"), VOLLEY_TEST_ENV (servers' env file, default build/test-servers.env).
set -euo pipefail
cd "$(dirname "$0")/.."
exec </dev/null

jobs="${VOLLEY_BUILD_JOBS:-2}"
export VOLLEY_TEST_ENV="${VOLLEY_TEST_ENV:-$PWD/build/test-servers.env}"

echo "== deps"
scripts/deps.sh

echo "== build (build/, -j$jobs)"
cmake -S . -B build
cmake --build build -j"$jobs"

echo "== servers"
trap 'tests/servers/stop.sh >/dev/null 2>&1 || true' EXIT
tests/servers/start.sh

echo "== ctest"
log="build/ctest-output.log"
# --timeout bounds any test without a TIMEOUT of its own (the e2e tests set theirs).
set +e
# shellcheck disable=SC2086
ctest --test-dir build --output-on-failure --timeout 600 ${VOLLEY_CTEST_ARGS:-} 2>&1 | tee "$log"
status="${PIPESTATUS[0]}"
set -e

tests/servers/stop.sh >/dev/null 2>&1 || true
trap - EXIT
# Close on ctest's own summary line, as CI reads it.
summary="$(grep -E '^[0-9]+% tests passed' "$log" | tail -n 1 || true)"
[ -n "$summary" ] && echo "$summary"
exit "$status"
