#!/usr/bin/env bash
# Start skew across agents: runs the distributed e2e test that starts 6 VUs (per-vu-iterations,
# one iteration each) on 3 volley-agents on loopback, BENCH_RUNS times (default 5), and prints
# each run's skew between the first and the last iteration start (Date.now() in the script,
# 1 ms resolution), then the median and the worst. Needs a built tree (VOLLEY_BUILD_DIR, default
# build) and the test servers (started here when their env file is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
exec </dev/null

build="${VOLLEY_BUILD_DIR:-build}"
runs="${BENCH_RUNS:-5}"
[ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" >/dev/null
cmake --build "$build" -j"${VOLLEY_BUILD_JOBS:-2}" >/dev/null

export VOLLEY_TEST_ENV="${VOLLEY_TEST_ENV:-$PWD/$build/test-servers.env}"
if [ ! -f "$VOLLEY_TEST_ENV" ]; then
  trap 'tests/servers/stop.sh >/dev/null 2>&1 || true' EXIT
  tests/servers/start.sh >/dev/null
fi

skews=()
for _ in $(seq "$runs"); do
  line="$(cd "$build" && ctest -R 'e2e.distributed.agents_start_together' -V 2>&1 |
          grep -o 'start skew of .* ms (' || true)"
  ms="$(echo "$line" | grep -o '[0-9]\+ ms' | head -1 | cut -d' ' -f1)"
  [ -n "$ms" ] || { echo "bench-start-skew: the test printed no skew" >&2; exit 1; }
  echo "run: skew_ms=$ms"
  skews+=("$ms")
done
printf '%s\n' "${skews[@]}" | sort -n | awk '{a[NR]=$1} END {
  printf "start skew over %d runs (6 VUs, 3 agents): median %d ms, worst %d ms\n",
         NR, a[int((NR+1)/2)], a[NR] }'
