#!/usr/bin/env bash
# From a fresh clone to a finished load test: installs dependencies, builds volley (build/,
# two jobs), starts a local httpbin on a free loopback port, runs scripts/quickstart.js against
# it (a live progress line, then k6's end-of-test summary), and stops the server.
# Extra arguments go to `volley run`, e.g. scripts/quickstart.sh --vus 20 --iterations 1000
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"${VOLLEY_BUILD_JOBS:-2}" --target volley

# Its own env file and folder, so it never disturbs a test run's servers.
export VOLLEY_TEST_ENV="$PWD/build/quickstart-servers.env"
export VOLLEY_TEST_SERVERS_DIR="$PWD/build/quickstart-servers"
trap 'tests/servers/stop.sh >/dev/null 2>&1 || true' EXIT
tests/servers/start.sh httpbin
base_url="$(. "$VOLLEY_TEST_ENV"; echo "$VOLLEY_HTTPBIN_URL")"

echo
printf '$ volley run -e BASE_URL=%s' "$base_url"
[ "$#" -eq 0 ] || printf ' %q' "$@"
echo " scripts/quickstart.js"
set +e
build/controller/volley run -e "BASE_URL=$base_url" "$@" scripts/quickstart.js
status=$?
set -e
exit "$status"
