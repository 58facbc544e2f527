#!/usr/bin/env bash
# Compares requests per CPU-second of wrk, a bare libcurl multi loop (tests/bench/
# curl_loop.cc), Volley's loop and HTTP client without V8 (loop_http, when built) and
# `volley run` (scripts/bench.js: http.get + check), each for BENCH_SECONDS
# (default 10) with BENCH_CONNECTIONS (default 50) connections or VUs, against the bench nginx
# on loopback, and prints a table with the ratios volley/wrk and volley/curl_loop.
# Reuses running servers from tests/servers if their env file is there, else starts the bench
# nginx alone and stops it afterwards. Builds volley, curl_loop and loop_http first (two jobs)
# in BENCH_BUILD_DIR (default build; RelWithDebInfo when configured here). BENCH_RUNS rounds
# (default 3) run the tools in turn, and the table shows each tool's median round: the machine
# is shared and one round is noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
exec </dev/null

seconds="${BENCH_SECONDS:-10}"
connections="${BENCH_CONNECTIONS:-50}"
command -v wrk >/dev/null || { echo "bench: wrk missing: run scripts/deps.sh" >&2; exit 1; }

build="${BENCH_BUILD_DIR:-build}"
[ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=(--target volley)
for t in curl_loop loop_http merge_bench; do [ -f "tests/bench/$t.cc" ] && targets+=(--target "$t"); done
cmake --build "$build" -j"${VOLLEY_BUILD_JOBS:-2}" "${targets[@]}"

env_file="${VOLLEY_TEST_ENV:-$PWD/$build/test-servers.env}"
bench_url="$( [ -f "$env_file" ] && (. "$env_file"; echo "${VOLLEY_BENCH_URL:-}") || true)"
if [ -z "$bench_url" ] || ! curl -fs -o /dev/null --max-time 2 "$bench_url"; then
  export VOLLEY_TEST_ENV="$PWD/$build/bench-servers.env"
  export VOLLEY_TEST_SERVERS_DIR="$PWD/$build/bench-servers"
  trap 'tests/servers/stop.sh >/dev/null 2>&1 || true' EXIT
  tests/servers/start.sh bench
  env_file="$VOLLEY_TEST_ENV"
fi
bench_url="$(. "$env_file"; echo "$VOLLEY_BENCH_URL")"
bench_pid="$(. "$env_file"; echo "$VOLLEY_BENCH_PID")"

/usr/bin/python3 scripts/bench.py --url "$bench_url" --server-pid "$bench_pid" \
  --seconds "$seconds" --connections "$connections" --runs "${BENCH_RUNS:-3}" \
  --curl-loop "$build/tests/bench/curl_loop" --loop-http "$build/tests/bench/loop_http" \
  --volley "$build/controller/volley" \
  --script scripts/bench.js

# The controller's merge stage: agent batches of 2,000 series merged per second by one thread.
if [ -x "$build/tests/bench/merge_bench" ]; then
  "$build/tests/bench/merge_bench" --seconds "${BENCH_MERGE_SECONDS:-3}"
fi
