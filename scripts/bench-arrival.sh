#!/usr/bin/env bash
# Open-model benchmark: `volley run` with one constant-arrival-rate scenario (http.get of the
# bench nginx) at a fixed rate for a bounded time, then prints what Volley's CPU cost per request
# was (user + system of the volley process, all its threads, as wait4 reports them) and how far
# the achieved rate fell from the scheduled one, with dropped iterations and start delays.
#
# Environment: BENCH_RATE (iterations/s, default 5000), BENCH_SECONDS (default 10),
# BENCH_VUS (preAllocatedVUs = maxVUs, default 200), VOLLEY_BUILD_DIR (default build),
# VOLLEY_BUILD_JOBS (default 2). Reuses running servers from tests/servers if their env file
# (VOLLEY_TEST_ENV, default build/test-servers.env) names a live bench nginx, else starts the
# bench nginx alone and stops it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
exec </dev/null

rate="${BENCH_RATE:-5000}"
seconds="${BENCH_SECONDS:-10}"
vus="${BENCH_VUS:-200}"
build="${VOLLEY_BUILD_DIR:-build}"

[ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" >/dev/null
cmake --build "$build" -j"${VOLLEY_BUILD_JOBS:-2}" --target volley >/dev/null

env_file="${VOLLEY_TEST_ENV:-$PWD/build/test-servers.env}"
bench_url="$( [ -f "$env_file" ] && (. "$env_file"; echo "${VOLLEY_BENCH_URL:-}") || true)"
if [ -z "$bench_url" ] || ! curl -fs -o /dev/null --max-time 2 "$bench_url"; then
  export VOLLEY_TEST_ENV="$PWD/$build/bench-servers.env"
  export VOLLEY_TEST_SERVERS_DIR="$PWD/$build/bench-servers"
  trap 'tests/servers/stop.sh >/dev/null 2>&1 || true' EXIT
  tests/servers/start.sh bench
  env_file="$VOLLEY_TEST_ENV"
fi
bench_url="$(. "$env_file"; echo "$VOLLEY_BENCH_URL")"

/usr/bin/python3 - "$(realpath "$build/controller/volley")" "$bench_url" "$rate" "$seconds" "$vus" <<'EOF'
import json, os, subprocess, sys, tempfile, threading, signal, time

volley, url, rate, seconds, vus = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
work = tempfile.mkdtemp(prefix="volley-bench-arrival-")
script = os.path.join(work, "arrival.js")
with open(script, "w") as f:
    f.write(f"""
import http from 'k6/http';
export const options = {{
  discardResponseBodies: true,
  scenarios: {{
    arrival: {{ executor: 'constant-arrival-rate', rate: {rate}, timeUnit: '1s',
               duration: '{seconds}s', preAllocatedVUs: {vus}, maxVUs: {vus}, gracefulStop: '2s' }},
  }},
}};
export default function () {{ http.get('{url}'); }}
""")
summary_path = os.path.join(work, "summary.json")
args = [volley, "run", "--quiet", "--no-color", "--summary-export", summary_path, script]
log = open(os.path.join(work, "volley.log"), "w+")
started = time.monotonic()
proc = subprocess.Popen(args, cwd=work, stdout=log, stderr=subprocess.STDOUT,
                        start_new_session=True)
limit = threading.Timer(seconds + 120, lambda: os.killpg(proc.pid, signal.SIGKILL))
limit.start()
_, status, usage = os.wait4(proc.pid, 0)
limit.cancel()
wall = time.monotonic() - started
code = os.waitstatus_to_exitcode(status)
if code != 0 or not os.path.exists(summary_path):
    log.seek(0)
    sys.exit(f"bench-arrival: volley exited {code}:\n{log.read()[-3000:]}")
m = json.load(open(summary_path))["metrics"]
get = lambda name, field: m.get(name, {}).get(field, 0)
iterations = get("iterations", "count")
requests = get("http_reqs", "count")
failed = get("http_req_failed", "passes")
dropped = get("dropped_iterations", "count")
scheduled = rate * seconds
cpu = usage.ru_utime + usage.ru_stime
achieved = iterations / seconds
delay = m.get("iteration_start_delay", {})
print(f"constant-arrival-rate {rate}/s for {seconds}s, {vus} VUs, against {url}")
print(f"  scheduled iterations   {scheduled}")
print(f"  started + completed    {iterations}   (dropped {dropped}, http_reqs {requests}, failed {failed})")
print(f"  achieved rate          {achieved:.1f}/s   error {100.0 * (achieved - rate) / rate:+.3f}%")
print(f"  start delay (ms)       avg {delay.get('avg', 0):.3f}  p(95) {delay.get('p(95)', 0):.3f}  max {delay.get('max', 0):.3f}")
print(f"  volley CPU             {cpu:.2f} s user+sys over {wall:.1f} s wall (init and summary included)")
if requests:
    print(f"  CPU per request        {1e6 * cpu / requests:.1f} us   ({requests / cpu:.0f} requests per CPU-second)")
EOF
