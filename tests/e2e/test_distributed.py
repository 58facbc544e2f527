#!/usr/bin/env python3
"""One test over many volley-agent processes must behave like the same test on one big machine.

Each test starts its own agents on 127.0.0.1 port 0 (an agent prints "listening PORT") and
checks one promise of a distributed run against what the server saw:

  * exact totals for every executor, split over 3 agents, equal to the same test on one
    embedded agent; every global iteration number once; setup and teardown once, setup's data
    on every VU of every agent; merged http_reqs equal to the server's count
  * VUs split 4+3+3 the same way every time, and weighted by the agents' worker threads
  * shared-iterations of 1000 over 7 agents: exactly 1000
  * one start instant (skew of the first iterations of three agents)
  * Ctrl+C: graceful, then at once; the agents are free for the next test
  * an agent killed mid-test: noticed within 3 s, the test aborted, summary and teardown still
    there, exit code non-zero; --max-lost-agents lets a run go on
  * fail fast, naming the agent: unreachable, busy, wrong token
  * the script's console output and iteration errors on the controller's terminal, once each,
    naming the agent; a flood capped with a count of what was dropped
  * TLS and mutual TLS with a CA made here by openssl; loopback-only without protection; the
    standard gRPC health service
  * agents in their own network namespaces (needs root and `ip netns`; skipped with a message
    where not permitted): a run across them, a cut link, a killed controller
"""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness

TOKEN = "distributed-e2e-token"

# Every iteration GETs /anything/<run id>/it/<scenario>?i=<iterationInTest>&t=<Date.now()>&...
# so the server's log tells which global iterations ran, when, and with which setup data.
SCRIPT = r"""
import http from 'k6/http';
import exec from 'k6/execution';
import { sleep } from 'k6';

const base = `${__ENV.BASE_URL}/anything/${__ENV.RUN_ID}`;

export const options = JSON.parse(__ENV.OPTIONS);

export function setup() {
  http.get(`${base}/setup`);
  return { marker: 'from-setup' };
}

export default function (data) {
  const t = Date.now();
  http.get(`${base}/it/${exec.scenario.name}?i=${exec.scenario.iterationInTest}&t=${t}` +
           `&m=${data ? data.marker : 'none'}&vu=${exec.vu.idInTest}`);
  if (__ENV.SLEEP) sleep(Number(__ENV.SLEEP));
}

export function teardown(data) {
  http.get(`${base}/teardown?m=${data ? data.marker : 'none'}`);
}
"""

REQUEST_RX = re.compile(r'"GET /anything/(?P<rid>[^/ ]+)/(?P<rest>[^ ]*) HTTP/[0-9.]+"')


class Proc:
    """A process whose output (stdout and stderr together) a thread reads line by line, noting
    when each line arrived, so tests can measure how long a reaction took."""

    def __init__(self, args, cwd, name):
        self.args, self.name = args, name
        self.lines = []  # (monotonic time, line)
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(args, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, errors="replace", start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                self.cond.notify_all()
        with self.cond:
            self.lines.append((time.monotonic(), None))
            self.cond.notify_all()

    def text(self):
        with self.cond:
            return "\n".join(l for _, l in self.lines if l is not None)

    def wait_line(self, pattern, timeout_s, since=0.0):
        """(arrival time, match) of the first line matching pattern that arrived after `since`;
        None when the process ended or timeout_s passed first."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while True:
                for t, line in self.lines:
                    if line is not None and t >= since:
                        m = rx.search(line)
                        if m:
                            return t, m
                if self.lines and self.lines[-1][1] is None:
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def wait(self, timeout_s):
        """The exit code, or None if still running after timeout_s."""
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, sig):
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, sig)

    def kill(self):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.reader.join(timeout=5)
        if not self.reader.is_alive():
            self.proc.stdout.close()

    def describe(self):
        return (f"\n$ {' '.join(self.args)}\nexit code {self.proc.poll()}\n"
                f"--- output of {self.name} (last 5000 chars) ---\n{self.text()[-5000:]}\n")


class Distributed(harness.VolleyTestCase):
    def setUp(self):
        super().setUp()
        self.base = "http://127.0.0.1:" + self.srv["VOLLEY_HTTPBIN_PORT"]
        self.token = self.write("token", TOKEN + "\n")
        os.chmod(self.token, 0o600)
        self.script = self.write("dist.js", SCRIPT)

    # ---- helpers ----

    def start_agent(self, *extra, workers=1, prefix=(), listen="127.0.0.1:0", wait=True):
        args = [*prefix, harness.agent_bin(), "--listen", listen, "--workers", str(workers),
                *extra]
        agent = Proc(args, self.workdir, f"agent {listen}")
        self.addCleanup(agent.kill)
        if wait:
            got = agent.wait_line(r"^listening (\d+)$", 20)
            if not got:
                self.fail("volley-agent did not print 'listening PORT'" + agent.describe())
            agent.port = int(got[1].group(1))
            agent.address = f"127.0.0.1:{agent.port}"
        return agent

    def start_agents(self, count, *extra, workers=1):
        return [self.start_agent("--token-file", self.token, *extra, workers=workers)
                for _ in range(count)]

    def controller(self, agents, options, rid, *flags, env=(), export="summary.json",
                   addresses=None):
        """Starts `volley run` over `agents` (none: the embedded agent), with the agents' token
        unless `flags` name another."""
        args = [harness.volley_bin(), "run", "--no-color", "--quiet"]
        if (agents or addresses) and "--token-file" not in flags:
            args += ["--token-file", self.token]
        for a in addresses or [a.address for a in agents]:
            args += ["--agent", a]
        if export:
            args += ["--summary-export", export]
        args += ["-e", f"BASE_URL={self.base}", "-e", f"RUN_ID={rid}",
                 "-e", "OPTIONS=" + json.dumps(options), *env, *flags, self.script]
        proc = Proc(args, self.workdir, "volley run")
        self.addCleanup(proc.kill)
        return proc

    def run_to_end(self, agents, options, rid, *flags, timeout_s=60, **kw):
        proc = self.controller(agents, options, rid, *flags, **kw)
        if proc.wait(timeout_s) is None:
            proc.kill()
            self.fail(f"volley run did not end within {timeout_s} s" + proc.describe())
        proc.reader.join(timeout=5)
        return proc

    def assertExitCode(self, proc, code):
        self.assertEqual(proc.proc.returncode, code,
                         f"exit code of volley run" + proc.describe())

    def summary(self, proc, name="summary.json"):
        path = os.path.join(self.workdir, name)
        self.assertTrue(os.path.exists(path), "no --summary-export written" + proc.describe())
        with open(path) as f:
            return json.load(f)

    def server_requests(self, rid, settle_want=None):
        """The requests of run `rid` in httpbin's access log: [(rest of path, query dict)]."""
        log = self.srv["VOLLEY_HTTPBIN_ACCESS_LOG"]
        deadline = time.monotonic() + 5
        while True:
            out = []
            with open(log, errors="replace") as f:
                for line in f:
                    m = REQUEST_RX.search(line)
                    if m and m.group("rid") == rid:
                        path, _, query = m.group("rest").partition("?")
                        out.append((path, dict(urllib.parse.parse_qsl(query))))
            if settle_want is None or len(out) >= settle_want or time.monotonic() > deadline:
                return out
            time.sleep(0.2)

    @staticmethod
    def per_scenario(requests):
        by = {}
        for path, q in requests:
            if path.startswith("it/"):
                by.setdefault(path[3:], []).append(q)
        return by

    def agent_vus(self, agent, since):
        got = agent.wait_line(r"vus initialised count=(\d+)", 20, since=since)
        self.assertIsNotNone(got, "agent logged no 'vus initialised'" + agent.describe())
        return int(got[1].group(1))

    # ---- exact splitting ----

    EXECUTORS = {
        "shared": {"executor": "shared-iterations", "vus": 10, "iterations": 1000,
                   "maxDuration": "60s"},
        "pervu": {"executor": "per-vu-iterations", "vus": 10, "iterations": 5,
                  "maxDuration": "60s"},
        "car": {"executor": "constant-arrival-rate", "rate": 100, "timeUnit": "1s",
                "duration": "3s", "preAllocatedVUs": 30, "maxVUs": 30},
        "rar": {"executor": "ramping-arrival-rate", "startRate": 0, "timeUnit": "1s",
                "preAllocatedVUs": 30, "maxVUs": 30,
                "stages": [{"duration": "2s", "target": 60}, {"duration": "1s", "target": 60}]},
        "cvus": {"executor": "constant-vus", "vus": 7, "duration": "2s", "env": {"SLEEP": "0.5"}},
        "rvus": {"executor": "ramping-vus", "startVUs": 0, "env": {"SLEEP": "0.5"},
                 "stages": [{"duration": "1s", "target": 5}, {"duration": "1s", "target": 5}],
                 "gracefulRampDown": "0s"},
    }

    def check_run(self, proc, rid, what):
        self.assertExitCode(proc, harness.EXIT_OK)
        summary = self.summary(proc)
        http_reqs = harness.metric(summary, "http_reqs", "count")
        requests = self.server_requests(rid, settle_want=http_reqs)
        self.assertEqual(len(requests), http_reqs,
                         f"{what}: merged http_reqs vs the server's log" + proc.describe())
        # The text summary describes the whole run too, not one agent's share.
        for metric in ("http_reqs", "iterations"):
            shown = re.search(rf"^\s+{metric}\.+: (\d+)\s", proc.text(), re.M)
            self.assertIsNotNone(shown, f"{what}: {metric} in the text summary" + proc.describe())
            self.assertEqual(int(shown.group(1)), harness.metric(summary, metric, "count"),
                             f"{what}: text summary's {metric}" + proc.describe())
        setups = [p for p, _ in requests if p == "setup"]
        teardowns = [q for p, q in requests if p == "teardown"]
        self.assertEqual((len(setups), teardowns), (1, [{"m": "from-setup"}]),
                         f"{what}: setup and teardown once, teardown with setup's data")
        by = self.per_scenario(requests)
        markers = {q["m"] for qs in by.values() for q in qs}
        self.assertEqual(markers, {"from-setup"}, f"{what}: setup data reached every VU")
        self.assertEqual(harness.metric(summary, "iterations", "count"),
                         sum(len(v) for v in by.values()), f"{what}: iterations")
        self.assertEqual(harness.metric(summary, "dropped_iterations", "count"), 0,
                         f"{what}: no dropped iterations" + proc.describe())
        return summary, by

    def test_every_executor_splits_exactly_like_one_machine(self):
        agents = self.start_agents(3)
        options = {"scenarios": self.EXECUTORS}

        rid1 = harness.run_id()
        one = self.run_to_end([], options, rid1, "--workers", "2")
        summary1, by1 = self.check_run(one, rid1, "embedded")
        rid3 = harness.run_id()
        since = time.monotonic()
        three = self.run_to_end(agents, options, rid3)
        summary3, by3 = self.check_run(three, rid3, "3 agents")

        # Deterministic executors: the same global iterations, each exactly once.
        for name, want in (("shared", 1000), ("pervu", 50), ("car", 300)):
            self.assertEqual(len(by3[name]), want, f"{name} over 3 agents" + three.describe())
        for name in ("shared", "car", "rar"):
            got = sorted(int(q["i"]) for q in by3[name])
            self.assertEqual(got, list(range(len(by1[name]))),
                             f"{name}: iterationInTest over 3 agents = 0..n-1 of one machine")
        # VUs: the agents' shares add up to the whole test's.
        total_vus = sum(self.agent_vus(a, since) for a in agents)
        self.assertEqual(total_vus, harness.metric(summary1, "vus_max", "max"),
                         "VUs initialised on 3 agents vs one machine")
        self.assertEqual(harness.metric(summary3, "vus_max", "max"), total_vus)

        # Arrival rate: 100/s in total, interleaved: iteration k starts about k * 10 ms after
        # iteration 0, whichever agent runs it (not 3 bunches of 33).
        starts = {int(q["i"]): int(q["t"]) for q in by3["car"]}
        late = [(k, t - starts[0] - 10 * k) for k, t in sorted(starts.items())
                if abs(t - starts[0] - 10 * k) > 150]
        self.assertLess(len(late), 15, f"constant-arrival-rate iterations off schedule "
                        f"(iteration, ms late): {late[:20]}")

    def test_vus_split_4_3_3_every_time_and_by_worker_threads(self):
        agents = self.start_agents(3)
        big = self.start_agent("--token-file", self.token, workers=2)
        options = {"scenarios": {"c": {"executor": "constant-vus", "vus": 10, "duration": "1s",
                                       "env": {"SLEEP": "0.3"}}}}
        for attempt in range(2):  # the same agents, reused: the same split
            since = time.monotonic()
            proc = self.run_to_end(agents, options, harness.run_id(), export=None)
            self.assertExitCode(proc, harness.EXIT_OK)
            self.assertEqual([self.agent_vus(a, since) for a in agents], [4, 3, 3],
                             f"run {attempt + 1}: VUs of agents in --agent order")
            # The run ends when the last agent is done, not later.
            last_done = max(a.wait_line("test done", 5, since=since)[0] for a in agents)
            ended = proc.lines[-1][0]
            print(f"controller exited {ended - last_done:.2f} s after the last agent's Done")
            self.assertLess(ended - last_done, 1.0, proc.describe())
        # Weighted by worker threads 1:1:2.
        since = time.monotonic()
        trio = [agents[0], agents[1], big]
        proc = self.run_to_end(trio, options, harness.run_id(), export=None)
        self.assertExitCode(proc, harness.EXIT_OK)
        vus = [self.agent_vus(a, since) for a in trio]
        self.assertEqual((sum(vus), vus[2]), (10, 5),
                         f"VUs {vus} for agents with 1, 1 and 2 worker threads")

    def test_shared_iterations_over_seven_agents_are_exactly_1000(self):
        agents = self.start_agents(7)
        rid = harness.run_id()
        options = {"scenarios": {"shared": self.EXECUTORS["shared"]}}
        proc = self.run_to_end(agents, options, rid, timeout_s=90)
        _, by = self.check_run(proc, rid, "7 agents")
        self.assertEqual(sorted(int(q["i"]) for q in by["shared"]), list(range(1000)))

    def test_agents_start_together(self):
        agents = self.start_agents(3)
        rid = harness.run_id()
        options = {"scenarios": {"s": {"executor": "per-vu-iterations", "vus": 6,
                                       "iterations": 1}}}
        proc = self.run_to_end(agents, options, rid)
        _, by = self.check_run(proc, rid, "start")
        starts = sorted(int(q["t"]) for q in by["s"])
        skew_ms = starts[-1] - starts[0]
        print(f"start skew of 6 VUs on 3 agents: {skew_ms} ms (Date.now(), 1 ms resolution)")
        # Idle, the skew is 2-5 ms (scripts/bench-start-skew.sh prints it over several runs). On
        # a loaded 2-core machine, six VU threads in three processes wake at one instant and
        # wait for a core, so this test only catches agents that do not share the instant.
        self.assertLessEqual(skew_ms, 30, f"first iterations' starts (ms): {starts}")

    # ---- lifecycle ----

    def test_thresholds_and_handle_summary_see_the_merged_data(self):
        agents = self.start_agents(3)
        # abortOnFail stops a 20 s test early, and not before delayAbortEval (the merged count
        # passes 30 after 1 s of 30 iterations/s).
        options = {"scenarios": {"car": {"executor": "constant-arrival-rate", "rate": 30,
                                         "duration": "20s", "preAllocatedVUs": 6}},
                   "thresholds": {"iterations": [{"threshold": "count<30", "abortOnFail": True,
                                                  "delayAbortEval": "3s"}]}}
        started = time.monotonic()
        proc = self.run_to_end(agents, options, harness.run_id(), export=None, timeout_s=30)
        took = time.monotonic() - started
        self.assertExitCode(proc, harness.EXIT_THRESHOLDS_FAILED)
        print(f"abortOnFail with delayAbortEval 3s: run ended after {took:.2f} s")
        self.assertGreater(took, 3.0, "delayAbortEval" + proc.describe())
        self.assertLess(took, 10, "abortOnFail" + proc.describe())

        # A threshold only the merged data fails (each agent runs 20 of the 60 iterations), and
        # handleSummary on the controller with k6's data shape, holding the merged totals.
        self.script = self.write("dist_summary.js", SCRIPT + r"""
export function handleSummary(data) {
  return { 'handle-summary.json': JSON.stringify(data) };
}
""")
        rid = harness.run_id()
        options = {"scenarios": {"p": {"executor": "per-vu-iterations", "vus": 6,
                                       "iterations": 10}},
                   "thresholds": {"iterations": ["count<50"]}}
        proc = self.run_to_end(agents, options, rid)
        self.assertExitCode(proc, harness.EXIT_THRESHOLDS_FAILED)
        with open(os.path.join(self.workdir, "handle-summary.json")) as f:
            data = json.load(f)
        values = lambda m: data["metrics"][m]["values"]
        self.assertEqual(data["metrics"]["iterations"]["thresholds"], {"count<50": {"ok": False}})
        self.assertEqual(values("iterations")["count"], 60)
        self.assertEqual(values("http_reqs")["count"], 62)
        self.assertEqual(len(self.server_requests(rid, settle_want=62)), 62)
        self.assertIn("p(95)", values("http_req_duration"))
        self.assertEqual(data["metrics"]["http_req_duration"]["type"], "trend")
        self.assertIn("testRunDurationMs", data["state"])
        self.assertIn("root_group", data)

    def test_ctrl_c_stops_gracefully_then_at_once(self):
        agents = self.start_agents(3)
        # Graceful: iterations of 0.2 s finish, teardown runs, summary printed, exit 105.
        rid = harness.run_id()
        options = {"scenarios": {"c": {"executor": "constant-vus", "vus": 3, "duration": "60s",
                                       "env": {"SLEEP": "0.2"}}}}
        proc = self.controller(agents, options, rid)
        for a in agents:
            self.assertIsNotNone(a.wait_line("test started", 20), a.describe())
        time.sleep(2)
        proc.signal(signal.SIGINT)
        self.assertEqual(proc.wait(15), harness.EXIT_EXTERNAL_ABORT, proc.describe())
        self.summary(proc)
        requests = self.server_requests(rid)
        self.assertEqual(sum(1 for p, _ in requests if p == "teardown"), 1, "teardown once")
        for a in agents:
            self.assertIsNotNone(a.wait_line(r"test stop requested immediate=false", 5), a.describe())

        # A second Ctrl+C stops iterations that gracefulStop would have waited for.
        options = {"scenarios": {"c": {"executor": "constant-vus", "vus": 3, "duration": "60s",
                                       "gracefulStop": "60s", "env": {"SLEEP": "30"}}}}
        since = time.monotonic()
        proc = self.controller(agents, options, harness.run_id(), export=None)
        for a in agents:
            self.assertIsNotNone(a.wait_line("test started", 20, since=since), a.describe())
        time.sleep(1)
        proc.signal(signal.SIGINT)
        self.assertIsNone(proc.wait(2), "one Ctrl+C waits for running iterations"
                          + proc.describe())
        second = time.monotonic()
        proc.signal(signal.SIGINT)
        self.assertEqual(proc.wait(10), harness.EXIT_EXTERNAL_ABORT, proc.describe())
        took = time.monotonic() - second
        print(f"second Ctrl+C: stopped after {took:.2f} s")
        self.assertLess(took, 5)

    # ---- the user's log lines ----

    CONSOLE_SCRIPT = r"""
import exec from 'k6/execution';

export const options = JSON.parse(__ENV.OPTIONS);

export default function () {
  console.log('hello from vu ' + __VU);
  if (__ENV.FLOOD) {
    for (let i = 0; i < Number(__ENV.FLOOD); i++) console.log('flood ' + i);
  }
  if (exec.vu.idInTest === 1 && !__ENV.FLOOD) throw new Error('vu one fails on purpose');
}
"""

    def console_lines(self, proc, rx):
        """The controller's output lines matching the regex rx, as match objects."""
        rx = re.compile(rx)
        return [m for m in (rx.search(l) for l in proc.text().splitlines()) if m]

    def test_console_lines_of_remote_agents_reach_the_controller_once(self):
        agents = self.start_agents(3)
        self.script = self.write("console.js", self.CONSOLE_SCRIPT)
        options = {"scenarios": {"s": {"executor": "per-vu-iterations", "vus": 6,
                                       "iterations": 1, "maxDuration": "20s"}}}
        proc = self.run_to_end(agents, options, harness.run_id(), export=None, timeout_s=30)
        self.assertExitCode(proc, harness.EXIT_OK)

        # Formatted as a local run prints them, with the agent that ran the VU named. __VU
        # counts per agent (k6's idInInstance): agent A's VUs 1 and 2, agent B's 1 and 2, ...
        got = self.console_lines(
            proc, r"^info \[console\] hello from vu (\d+) source=console agent=(\S+)$")
        by_agent = {}
        for m in got:
            by_agent.setdefault(m.group(2), []).append(int(m.group(1)))
        self.assertEqual({a: sorted(v) for a, v in by_agent.items()},
                         {a.address: [1, 2] for a in agents},
                         "each VU's line exactly once, named by its agent" + proc.describe())
        # The error's text runs over several lines (its stack), the agent's name ends it.
        errors = self.console_lines(proc, r"^error \[vu\] iteration error: .*fails on purpose")
        self.assertEqual(len(errors), 1, "the iteration error once" + proc.describe())
        self.assertRegex(proc.text(), r"(?s)fails on purpose.*? agent=127\.0\.0\.1:\d+\n")

        # The embedded agent prints to this terminal itself and forwards nothing.
        proc = self.run_to_end([], options, harness.run_id(), export=None, timeout_s=30)
        self.assertExitCode(proc, harness.EXIT_OK)
        got = self.console_lines(proc, r"^info \[console\] hello from vu (\d+) source=console$")
        self.assertEqual(sorted(int(m.group(1)) for m in got), [1, 2, 3, 4, 5, 6],
                         "embedded: each VU's line exactly once" + proc.describe())
        self.assertNotIn("source=console agent=", proc.text(), proc.describe())

    def test_a_flood_of_console_lines_is_capped_with_a_count_of_the_dropped(self):
        [agent] = self.start_agents(1)
        self.script = self.write("console.js", self.CONSOLE_SCRIPT)
        flood = 5000
        options = {"scenarios": {"s": {"executor": "per-vu-iterations", "vus": 1,
                                       "iterations": 1, "maxDuration": "20s"}}}
        proc = self.run_to_end([agent], options, harness.run_id(), "-e", f"FLOOD={flood}",
                               export=None, timeout_s=30)
        self.assertExitCode(proc, harness.EXIT_OK)
        shown = len(self.console_lines(proc, r"^info \[console\] flood \d+ source=console agent="))
        drops = self.console_lines(
            proc, r"^warning \[agent\] log lines dropped count=(\d+) max_per_s=(\d+) agent=")
        self.assertTrue(drops, "no line counting the dropped ones" + proc.describe())
        dropped = sum(int(m.group(1)) for m in drops)
        limit = int(drops[0].group(2))
        print(f"flood of {flood} lines: {shown} shown, {dropped} dropped, limit {limit}/s")
        # The hello line shares the budget; every line is either shown or counted.
        self.assertEqual(shown + 1 + dropped, flood + 1, proc.describe())
        self.assertLess(shown, flood // 2, "capped per second" + proc.describe())

    # ---- faults ----

    def test_killed_agent_is_noticed_and_the_test_aborted(self):
        agents = self.start_agents(3)
        rid = harness.run_id()
        options = {"scenarios": {"car": {"executor": "constant-arrival-rate", "rate": 30,
                                         "duration": "60s", "preAllocatedVUs": 6}}}
        proc = self.controller(agents, options, rid)
        time.sleep(3)
        killed = time.monotonic()
        agents[1].kill()
        got = proc.wait_line(re.escape(f"agent {agents[1].address} lost"), 10)
        self.assertIsNotNone(got, "the controller did not report the lost agent" + proc.describe())
        noticed = got[0] - killed
        print(f"killed agent noticed after {noticed:.2f} s")
        self.assertLess(noticed, 3)
        code = proc.wait(20)
        self.assertNotIn(code, (None, harness.EXIT_OK), "a run that lost an agent failed"
                         + proc.describe())
        self.summary(proc)
        requests = self.server_requests(rid)
        self.assertEqual(sum(1 for p, _ in requests if p == "teardown"), 1, "teardown once")
        self.assertRegex(proc.text(), "aborting the test")

        # The others are free again; with --max-lost-agents 1 a run survives losing one.
        rid = harness.run_id()
        options = {"scenarios": {"c": {"executor": "constant-vus", "vus": 2, "duration": "4s",
                                       "env": {"SLEEP": "0.2"}}}}
        survivors = [agents[0], agents[2]]
        proc = self.controller(survivors, options, rid, "--max-lost-agents", "1")
        time.sleep(1.5)
        agents[2].kill()
        self.assertEqual(proc.wait(20), harness.EXIT_OK, proc.describe())
        self.assertRegex(proc.text(), re.escape(f"agent {agents[2].address} lost"))

    def test_unreachable_busy_and_wrong_token_fail_fast_naming_the_agent(self):
        [agent] = self.start_agents(1)
        options = {"scenarios": {"c": {"executor": "constant-vus", "vus": 1, "duration": "20s",
                                       "env": {"SLEEP": "0.5"}}}}
        closed = f"127.0.0.1:{harness.free_port()}"
        cases = []
        started = time.monotonic()
        proc = self.run_to_end(None, options, harness.run_id(), export=None,
                               addresses=[agent.address, closed], timeout_s=30)
        cases.append(("cannot reach", proc, closed, time.monotonic() - started))

        busy_run = self.controller([agent], options, harness.run_id(), export=None)
        self.assertIsNotNone(agent.wait_line(r"test started", 20), agent.describe())
        started = time.monotonic()
        proc = self.run_to_end([agent], options, harness.run_id(), export=None)
        cases.append(("busy", proc, agent.address, time.monotonic() - started))
        busy_run.signal(signal.SIGINT)
        busy_run.signal(signal.SIGINT)
        busy_run.wait(10)

        wrong = self.write("wrong-token", "not-the-token\n")
        started = time.monotonic()
        proc = self.run_to_end(None, options, harness.run_id(), "--token-file", wrong,
                               export=None, addresses=[agent.address])
        cases.append(("token", proc, agent.address, time.monotonic() - started))

        for what, proc, name, seconds in cases:
            with self.subTest(what):
                self.assertNotEqual(proc.proc.returncode, harness.EXIT_OK, proc.describe())
                self.assertRegex(proc.text(), rf"agent {re.escape(name)}: .*{what}",
                                 proc.describe())
                self.assertLess(seconds, 5, f"{what}: took {seconds:.1f} s")

    def make_pki(self):
        """A test CA, a server certificate for IP 127.0.0.1 and the name volley-agents.test, and a
        client certificate."""
        if not shutil.which("openssl"):
            self.fail("openssl is needed for the TLS test")
        d = os.path.join(self.workdir, "pki")
        os.makedirs(d)

        def ssl(*args):
            subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True,
                           timeout=30)

        for ca in ("ca", "other-ca"):
            ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", f"/CN=volley test {ca}", "-keyout", f"{ca}.key", "-out", f"{ca}.pem")
        with open(os.path.join(d, "server.ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:volley-agents.test\n"
                    "extendedKeyUsage=serverAuth\n")
        with open(os.path.join(d, "client.ext"), "w") as f:
            f.write("extendedKeyUsage=clientAuth\n")
        for who in ("server", "client"):
            ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN=volley {who}",
                "-keyout", f"{who}.key", "-out", f"{who}.csr")
            ssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", f"{who}.ext", "-out", f"{who}.pem")
        return lambda name: os.path.join(d, name)

    def test_tls_and_mutual_tls_with_a_test_ca(self):
        pki = self.make_pki()
        agent = self.start_agent("--token-file", self.token, "--tls-cert", pki("server.pem"),
                                 "--tls-key", pki("server.key"), "--tls-ca", pki("ca.pem"))
        options = {"scenarios": {"p": {"executor": "per-vu-iterations", "vus": 2,
                                       "iterations": 3}}}
        client = ["--tls-ca", pki("ca.pem"), "--tls-cert", pki("client.pem"),
                  "--tls-key", pki("client.key")]
        rid = harness.run_id()
        proc = self.run_to_end([agent], options, rid, *client)
        self.check_run(proc, rid, "mutual TLS")

        refused = {
            "no client certificate": ["--tls-ca", pki("ca.pem")],
            "agent's CA not trusted": ["--tls-ca", pki("other-ca.pem"), "--tls-cert",
                                       pki("client.pem"), "--tls-key", pki("client.key")],
            "plaintext": [],
        }
        for what, flags in refused.items():
            with self.subTest(what):
                rid = harness.run_id()
                proc = self.run_to_end([agent], options, rid, *flags, export=None,
                                       timeout_s=30)
                self.assertNotEqual(proc.proc.returncode, harness.EXIT_OK, proc.describe())
                self.assertRegex(proc.text(), rf"agent {re.escape(agent.address)}")
                self.assertEqual(self.server_requests(rid), [], "no load for a refused peer")

        # Server-side TLS only (no --tls-ca on the agent): the controller needs just the CA.
        plain = self.start_agent("--token-file", self.token, "--tls-cert", pki("server.pem"),
                                 "--tls-key", pki("server.key"))
        rid = harness.run_id()
        proc = self.run_to_end([plain], options, rid, "--tls-ca", pki("ca.pem"))
        self.check_run(proc, rid, "TLS")

        # --tls-server-name: the certificate's name instead of the dialled address (agents found
        # by dns:/// are dialled by IP); a name the certificate lacks is refused.
        rid = harness.run_id()
        proc = self.run_to_end([plain], options, rid, "--tls-ca", pki("ca.pem"),
                               "--tls-server-name", "volley-agents.test")
        self.check_run(proc, rid, "TLS with --tls-server-name")
        rid = harness.run_id()
        proc = self.run_to_end([plain], options, rid, "--tls-ca", pki("ca.pem"),
                               "--tls-server-name", "not-the-agent.test", export=None,
                               timeout_s=30)
        self.assertNotEqual(proc.proc.returncode, harness.EXIT_OK, proc.describe())
        self.assertEqual(self.server_requests(rid), [], "no load for an agent of another name")

    def test_unprotected_agent_listens_on_loopback_only_and_serves_health(self):
        agent = self.start_agent(listen="0.0.0.0:0", wait=False)
        self.assertEqual(agent.wait(10), 2, agent.describe())
        self.assertRegex(agent.text(), r"--insecure-listen")
        # A client CA without the agent's own certificate would serve plaintext: refused.
        ca = self.write("lonely-ca.pem", "not read\n")
        agent = self.start_agent("--tls-ca", ca, wait=False)
        self.assertEqual(agent.wait(10), 2, agent.describe())
        self.assertRegex(agent.text(), r"--tls-ca needs --tls-cert and --tls-key")

        agent = self.start_agent()
        self.assertEqual(grpc_health_check(agent.port), 1, "grpc.health.v1 status SERVING (1)")

    def test_agents_file_names_the_agents(self):
        agents = self.start_agents(2)
        listing = self.write("agents.yaml", "".join(f"- {a.address}\n" for a in agents))
        rid = harness.run_id()
        options = {"scenarios": {"s": {"executor": "shared-iterations", "vus": 4,
                                       "iterations": 40}}}
        since = time.monotonic()
        proc = self.run_to_end([], options, rid, "--agents-file", listing, "--token-file",
                               self.token)
        _, by = self.check_run(proc, rid, "--agents-file")
        self.assertEqual(len(by["s"]), 40)
        self.assertEqual([self.agent_vus(a, since) for a in agents], [2, 2])
        # dns:/// with a literal address resolves to that one agent.
        rid = harness.run_id()
        proc = self.run_to_end([], options, rid, "--agents", f"dns:///{agents[0].address}",
                               "--token-file", self.token)
        self.check_run(proc, rid, "--agents dns:///")

    # ---- network namespaces ----

    def test_netns_cut_link_and_killed_controller(self):
        net = Netns(self)
        reason = net.unavailable()
        if reason:
            self.skipTest(f"network namespaces not permitted here: {reason}")
        self.addCleanup(net.cleanup)
        target = RecordingServer(net.target_ip)
        self.addCleanup(target.close)
        self.base = f"http://{net.target_ip}:{target.port}"

        agents = []
        for i in range(3):
            a = self.start_agent("--token-file", self.token, prefix=net.exec_prefix(i),
                                 listen=f"{net.agent_ip(i)}:0")
            a.address = f"{net.agent_ip(i)}:{a.port}"
            agents.append(a)

        # 1. A whole run across the namespaces: the server counts what the controller merged.
        rid = harness.run_id()
        options = {"scenarios": {"s": {"executor": "shared-iterations", "vus": 6,
                                       "iterations": 90}}}
        proc = self.run_to_end(agents, options, rid)
        self.assertExitCode(proc, harness.EXIT_OK)
        summary = self.summary(proc)
        self.assertEqual(target.count(rid), harness.metric(summary, "http_reqs", "count"))
        self.assertEqual(target.count(rid, "/it/"), 90)
        self.assertEqual(len(target.sources(rid, "/it/")), 3,
                         "iterations came from three namespaces")

        # 2. Cut agent 2's link mid-test: the controller notices within 3 s and aborts the test;
        #    the cut-off agent notices its controller is gone and stops within 5 s.
        rid = harness.run_id()
        options = {"scenarios": {"car": {"executor": "constant-arrival-rate", "rate": 30,
                                         "duration": "60s", "preAllocatedVUs": 6}}}
        proc = self.controller(agents, options, rid)
        self.assertIsNotNone(agents[2].wait_line("test started", 20), agents[2].describe())
        time.sleep(2)
        cut = time.monotonic()
        net.set_link(2, up=False)
        got = proc.wait_line(re.escape(f"agent {agents[2].address} lost"), 15)
        self.assertIsNotNone(got, "cut link not noticed" + proc.describe())
        print(f"netns: cut link noticed by the controller after {got[0] - cut:.2f} s")
        self.assertLess(got[0] - cut, 3.0)
        self.assertNotIn(proc.wait(20), (None, harness.EXIT_OK), proc.describe())
        self.summary(proc)
        lost = agents[2].wait_line("controller lost", 10, since=cut)
        self.assertIsNotNone(lost, "the cut-off agent did not notice" + agents[2].describe())
        done = agents[2].wait_line("test done", 10, since=cut)
        self.assertIsNotNone(done, agents[2].describe())
        print(f"netns: cut-off agent stopped after {done[0] - cut:.2f} s")
        self.assertLess(done[0] - cut, 5.0)
        net.set_link(2, up=True)

        # 3. Kill the controller mid-test: every agent stops sending within 5 s, and all three
        #    (the cut-off one too) are free for the next test.
        rid = harness.run_id()
        proc = self.controller(agents, options, rid)
        for a in agents:
            self.assertIsNotNone(a.wait_line("test started", 20, since=cut), a.describe())
        time.sleep(2)
        before = target.count(rid)
        killed_wall_ms = time.time() * 1000
        proc.kill()
        time.sleep(6)
        self.assertGreater(before, 0, "load was running before the kill")
        late = [(src, t - killed_wall_ms) for src, t in target.times(rid)
                if t > killed_wall_ms + 5000]
        self.assertEqual(late, [], "requests more than 5 s after the controller was killed")
        last = max((t for _, t in target.times(rid)), default=killed_wall_ms) - killed_wall_ms
        print(f"netns: last request {last / 1000:.2f} s after the controller was killed")

        rid = harness.run_id()
        options = {"scenarios": {"s": {"executor": "shared-iterations", "vus": 3,
                                       "iterations": 30}}}
        proc = self.run_to_end(agents, options, rid)
        self.assertExitCode(proc, harness.EXIT_OK)
        self.assertEqual(target.count(rid, "/it/"), 30)


class Netns:
    """Three network namespaces, each joined to this one by a veth pair: agent i at
    10.213.i.2/24 in namespace vlt<pid>-i, 10.213.i.1 on the host side. The test's HTTP server
    listens on 10.213.0.1, which every namespace reaches through its default route."""

    def __init__(self, test, count=3):
        self.test, self.count = test, count
        self.tag = f"vlt{os.getpid() % 100000}"
        self.target_ip = "10.213.0.1"
        self.created = []

    def ns(self, i):
        return f"{self.tag}-{i}"

    def host_if(self, i):
        return f"{self.tag}h{i}"

    def agent_ip(self, i):
        return f"10.213.{i}.2"

    def exec_prefix(self, i):
        return ["ip", "netns", "exec", self.ns(i)]

    @staticmethod
    def ip(*args, check=True):
        res = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
        if check and res.returncode != 0:
            raise AssertionError(f"ip {' '.join(args)}: {res.stderr.strip()}")
        return res

    def unavailable(self):
        """Why namespaces cannot be made here, or None after making them."""
        if not shutil.which("ip"):
            return "the ip command (iproute2) is missing"
        if os.geteuid() != 0:
            return "not running as root"
        probe = self.ip("netns", "add", self.ns(0), check=False)
        if probe.returncode != 0:
            return f"ip netns add failed: {probe.stderr.strip()}"
        self.created.append(self.ns(0))
        try:
            for i in range(self.count):
                ns, host, peer = self.ns(i), self.host_if(i), f"{self.tag}a{i}"
                if i > 0:
                    self.ip("netns", "add", ns)
                    self.created.append(ns)
                self.ip("link", "add", host, "type", "veth", "peer", "name", peer)
                self.ip("link", "set", peer, "netns", ns)
                self.ip("addr", "add", f"10.213.{i}.1/24", "dev", host)
                self.ip("link", "set", host, "up")
                self.ip("-n", ns, "link", "set", "lo", "up")
                self.ip("-n", ns, "addr", "add", f"{self.agent_ip(i)}/24", "dev", peer)
                self.ip("-n", ns, "link", "set", peer, "up")
                self.ip("-n", ns, "route", "add", "default", "via", f"10.213.{i}.1")
        except AssertionError as e:
            self.cleanup()
            return str(e)
        return None

    def set_link(self, i, up):
        self.ip("link", "set", self.host_if(i), "up" if up else "down")

    def cleanup(self):
        for i in range(self.count):
            self.ip("link", "del", self.host_if(i), check=False)
        for ns in self.created:
            # Processes still inside would keep it alive; the test's cleanups killed them.
            self.ip("netns", "del", ns, check=False)
        self.created = []


class RecordingServer:
    """A small HTTP server that notes each request's path, source address and the t= the
    script put in it (the agent's Date.now())."""

    def __init__(self, host):
        self.requests = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                with outer.lock:
                    outer.requests.append((self.path, self.client_address[0]))
                body = b"ok"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _of(self, rid):
        with self.lock:
            return [(p, src) for p, src in self.requests if f"/anything/{rid}/" in p]

    def count(self, rid, part=""):
        return sum(1 for p, _ in self._of(rid) if part in p)

    def sources(self, rid, part=""):
        return {src for p, src in self._of(rid) if part in p}

    def times(self, rid):
        out = []
        for p, src in self._of(rid):
            q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(p).query))
            if "t" in q:
                out.append((src, int(q["t"])))
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def grpc_health_check(port, timeout_s=5):
    """grpc.health.v1.Health/Check for the whole server over plaintext HTTP/2 (h2c), spoken
    with the standard library: the response's status enum (1 = SERVING), or None."""

    def frame(kind, flags, stream, payload=b""):
        return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + \
            struct.pack(">I", stream) + payload

    def literal(name, value):  # HPACK literal header field without indexing, new name
        name, value = name.encode(), value.encode()
        return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value

    headers = b"".join(literal(k, v) for k, v in (
        (":method", "POST"), (":scheme", "http"), (":path", "/grpc.health.v1.Health/Check"),
        (":authority", f"127.0.0.1:{port}"), ("content-type", "application/grpc"),
        ("te", "trailers")))
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0) +
                  frame(1, 0x4, 1, headers) + frame(0, 0x1, 1, b"\x00\x00\x00\x00\x00"))
        buf = b""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                return None
            buf += chunk
            while len(buf) >= 9:
                length = int.from_bytes(buf[:3], "big")
                if len(buf) < 9 + length:
                    break
                kind, flags = buf[3], buf[4]
                stream = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                payload, buf = buf[9:9 + length], buf[9 + length:]
                if kind == 4 and not flags & 1:
                    s.sendall(frame(4, 1, 0))
                elif kind == 0 and stream == 1 and len(payload) >= 5:
                    message = payload[5:]
                    # HealthCheckResponse { ServingStatus status = 1; } -> 0x08 <varint>
                    return message[1] if message[:1] == b"\x08" else 0
                elif kind in (1, 3) and stream == 1 and flags & 1:
                    return None  # ended without a message
    return None


if __name__ == "__main__":
    harness.main()
