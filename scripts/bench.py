#!/usr/bin/env python3
"""Requests per CPU-second of wrk, a bare libcurl loop and Volley against one nginx.

Run by scripts/bench.sh, which starts the bench nginx and builds the binaries. Each round runs
every load generator once, in turn, for a bounded time, as a child of this process; the table
shows each tool's median round by requests per CPU-second, with every round's rate beside it
(the machine may be shared: one round is noisy). A run's CPU time is what
os.wait4 reports for it (user + system, its threads and any children it reaped included), so
the three are measured the same way. The nginx worker's CPU over the same interval is shown
for context. Python 3 standard library only.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time


# Every run also stops at this many requests (volley: iterations, in scripts/bench.js).
MAX_REQUESTS = 5_000_000


class Run:
    def __init__(self, name):
        self.name = name
        self.requests = None
        self.wall_s = None
        self.cpu_s = None
        self.server_cpu_s = None
        self.error = None

    @property
    def per_cpu_s(self):
        if self.requests is None or not self.cpu_s:
            return None
        return self.requests / self.cpu_s


def proc_cpu_s(pid):
    """utime + stime of one process (all its threads) from /proc, in seconds; 0 if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid):
    pids = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return pids


def kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def measure(run, args, limit_s, server_pid, cwd=None):
    """Runs args to completion (killed at limit_s) and fills run's wall and CPU seconds.
    Returns the command's output."""
    server = [server_pid] + children(server_pid) if server_pid else []
    server_before = sum(proc_cpu_s(p) for p in server)
    out = tempfile.TemporaryFile(mode="w+")
    started = time.monotonic()
    proc = subprocess.Popen(args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    killer = threading.Timer(limit_s, kill_group, (proc.pid,))
    killer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    run.wall_s = time.monotonic() - started
    run.cpu_s = usage.ru_utime + usage.ru_stime
    run.server_cpu_s = sum(proc_cpu_s(p) for p in server) - server_before
    out.seek(0)
    text = out.read()
    if proc.returncode != 0:
        run.error = f"exit code {proc.returncode} (limit {limit_s} s)"
        print(f"--- {run.name} output (last 2000 chars) ---\n{text[-2000:]}", file=sys.stderr)
    return text


def bench_wrk(a):
    run = Run("wrk")
    text = measure(run, ["wrk", "-t1", f"-c{a.connections}", f"-d{a.seconds}s", a.url],
                   a.seconds + 30, a.server_pid)
    m = re.search(r"(\d+) requests in", text)
    if m:
        run.requests = int(m.group(1))
    elif not run.error:
        run.error = "no 'N requests in' line in wrk's output"
    return run


def bench_bare(name, path, a):
    """curl_loop or loop_http (tests/bench): they print "requests N" among other lines."""
    run = Run(name)
    if not os.access(path, os.X_OK):
        run.error = f"not built ({path})"
        return run
    text = measure(run, [path, "--url", a.url, "--connections", str(a.connections),
                         "--duration", str(a.seconds), "--requests", str(MAX_REQUESTS)],
                   a.seconds + 30, a.server_pid)
    m = re.search(r"^requests\s+(\d+)$", text, re.MULTILINE)
    if m:
        run.requests = int(m.group(1))
    elif not run.error:
        run.error = f"no 'requests N' line in {name}'s output"
    return run


def bench_volley(a):
    run = Run("volley")
    if not os.access(a.volley, os.X_OK):
        run.error = f"not built ({a.volley})"
        return run
    with tempfile.TemporaryDirectory(prefix="volley-bench-") as tmp:
        export = os.path.join(tmp, "summary.json")
        measure(run, [a.volley, "run", "--quiet", "--no-color", "-e", f"BENCH_URL={a.url}",
                      "-e", f"BENCH_VUS={a.connections}", "-e", f"BENCH_SECONDS={a.seconds}",
                      "--summary-export", export, a.script],
                a.seconds + 60, a.server_pid)
        try:
            with open(export) as f:
                run.requests = json.load(f)["metrics"]["http_reqs"]["count"]
        except (OSError, ValueError, KeyError) as e:
            run.error = run.error or f"no http_reqs in the summary export: {e}"
    return run


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--server-pid", type=int, default=0, help="nginx master, for its CPU")
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--connections", type=int, default=50, help="wrk -c, curl connections, VUs")
    p.add_argument("--runs", type=int, default=1, help="rounds; the table shows medians")
    p.add_argument("--curl-loop", required=True)
    p.add_argument("--loop-http", help="Volley's loop without V8 (tests/bench), if built")
    p.add_argument("--volley", required=True)
    p.add_argument("--script", required=True)
    a = p.parse_args()

    benches = [("wrk", lambda: bench_wrk(a)),
               ("curl_loop", lambda: bench_bare("curl_loop", a.curl_loop, a))]
    if a.loop_http and os.access(a.loop_http, os.X_OK):
        benches.append(("loop_http", lambda: bench_bare("loop_http", a.loop_http, a)))
    benches.append(("volley", lambda: bench_volley(a)))
    rounds = {name: [] for name, _ in benches}
    for i in range(max(1, a.runs)):
        for name, bench in benches:
            print(f"bench: {name} ({a.seconds} s, {a.connections} connections, "
                  f"round {i + 1}/{max(1, a.runs)})...", flush=True)
            rounds[name].append(bench())

    def median_run(runs):
        ok = sorted((r for r in runs if r.per_cpu_s is not None), key=lambda r: r.per_cpu_s)
        return ok[(len(ok) - 1) // 2] if ok else runs[-1]

    runs = [median_run(rounds[name]) for name, _ in benches]
    print()
    print(f"{'tool':<10} {'requests':>10} {'wall s':>7} {'CPU s':>7} {'req/s':>9} "
          f"{'req/CPU-s':>10} {'nginx CPU s':>11}  note")
    for r in runs:
        rate = r.requests / r.wall_s if r.requests is not None and r.wall_s else None
        every = ", ".join(fmt(x.per_cpu_s, ",.0f") for x in rounds[r.name])
        note = r.error or (f"median of {len(rounds[r.name])}: {every}" if a.runs > 1 else "")
        print(f"{r.name:<10} {fmt(r.requests, 'd'):>10} {fmt(r.wall_s, '.1f'):>7} "
              f"{fmt(r.cpu_s, '.2f'):>7} {fmt(rate, ',.0f'):>9} {fmt(r.per_cpu_s, ',.0f'):>10} "
              f"{fmt(r.server_cpu_s, '.2f'):>11}  {note}")
    by_name = {r.name: r for r in runs}
    volley = by_name["volley"].per_cpu_s
    print()
    for other in [n for n in ("wrk", "curl_loop", "loop_http") if n in by_name]:
        base = by_name[other].per_cpu_s
        ratio = volley / base if volley and base else None
        print(f"requests per CPU-second, volley / {other}: {fmt(ratio, '.2f')}")
    return 1 if any(r.error for rs in rounds.values() for r in rs) else 0


if __name__ == "__main__":
    sys.exit(main())
