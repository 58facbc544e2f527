#!/usr/bin/env python3
"""k6 scenarios end to end: every executor, side by side, on one embedded agent and split over
three volley-agent processes, with the totals compared against the exact numbers k6's schedules
give. Each test runs the local and the three-agent variant at the same time (two processes), so
the suite pays for the wall-clock time once.

  constant-arrival-rate 200/s for 10 s       -> 2,000 iterations (+-1), nothing dropped
  arrival-rate, one slow VU per worker       -> the other worker's free VU runs it, no drops
  a scenario after one that ended            -> reuses its VUs (vus_max 3, not 5), __ITER goes on
  minIterationDuration                       -> iterations 300 ms apart, not in iteration_duration
  ramping-vus cut mid-sleep, then back up    -> the same VUs go on: init ran vus_max times
  seven scenarios of all six executors       -> exact per-scenario counts (iterations{scenario:x}),
                                                exec/env/tags/startTime, gracefulRampDown,
                                                dropped_iterations, unique idInTest/iterationInTest
  --vus/--iterations, --vus/--duration, stages -> the "default" scenario, exact counts
  exec.test.abort()                          -> exit 108
  broken scenarios                           -> every problem at once, exit 104
"""

import json
import os
import re
import time

import harness

EXIT_SCRIPT_ABORTED = 108
AGENTS = 3


class Scenarios(harness.VolleyTestCase):
    # ---- helpers -----------------------------------------------------------------------------

    def start_agents(self, count):
        """Starts `count` volley-agents on 127.0.0.1 port 0 (each prints "listening PORT");
        returns the --agent/--token-file flags and the agents' log paths."""
        token = self.write("token", harness.run_id() + "\n")
        os.chmod(token, 0o600)
        procs = []
        for i in range(count):
            log = os.path.join(self.workdir, f"agent{i}.log")
            with open(log, "w") as out:
                proc = harness.start([harness.agent_bin(), "--listen", "127.0.0.1:0",
                                      "--token-file", token], self.workdir, output=out)
            self.addCleanup(self.stop_agent, proc)
            procs.append((proc, log))
        flags, logs = ["--token-file", token], []
        for proc, log in procs:
            flags += ["--agent", f"127.0.0.1:{self.wait_port(proc, log)}"]
            logs.append(log)
        return flags, logs

    def wait_port(self, proc, log, timeout_s=20):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with open(log, errors="replace") as f:
                m = re.search(r"^listening (\d+)$", f.read(), re.M)
            if m:
                return int(m.group(1))
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        with open(log, errors="replace") as f:
            self.fail(f"volley-agent did not print its port (exit {proc.poll()}):\n{f.read()[-3000:]}")

    @staticmethod
    def stop_agent(proc):
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=10)
        except Exception:
            harness.kill_group(proc)
            proc.wait()

    def run_both(self, script, flags, timeout_s):
        """Runs `script` with the embedded agent and over three agents at the same time; returns
        {"local": (result, summary), "agents": (result, summary)}."""
        agent_flags, _ = self.start_agents(AGENTS)
        started = time.monotonic()
        procs = {}
        for name, extra in (("local", []), ("agents", agent_flags)):
            args = [harness.volley_bin(), "run", "--no-color", *extra, *flags,
                    "--summary-export", f"summary-{name}.json", script]
            procs[name] = (args, harness.start(args, self.workdir))
        out = {}
        for name, (args, proc) in procs.items():
            res = harness.finish(proc, args, timeout_s, started)
            summary = None
            if os.path.exists(os.path.join(self.workdir, f"summary-{name}.json")):
                summary = harness.read_summary(self.workdir, res, f"summary-{name}.json")
            out[name] = (res, summary)
        return out

    # ---- tests -------------------------------------------------------------------------------

    def test_constant_arrival_rate_200_per_second_for_10s(self):
        bench = self.srv.get("VOLLEY_BENCH_URL")
        self.assertTrue(bench, "no VOLLEY_BENCH_URL in the servers' env file: restart "
                               "tests/servers/start.sh with the bench server")
        script = self.write("car.js", """
import http from 'k6/http';
export const options = {
  discardResponseBodies: true,
  // Thresholds may name the metrics only agents emit.
  thresholds: { iteration_start_delay: ['max>=0'], dropped_iterations: ['count<1'] },
  scenarios: {
    car: { executor: 'constant-arrival-rate', rate: 200, timeUnit: '1s', duration: '10s',
           preAllocatedVUs: 30, maxVUs: 30 },
  },
};
export default function () { http.get(__ENV.URL); }
""")
        for name, (res, summary) in self.run_both(script, ["-e", f"URL={bench}"], 60).items():
            with self.subTest(run=name):
                self.assertExit(res, harness.EXIT_OK)
                iterations = harness.metric(summary, "iterations", "count")
                self.assertLessEqual(abs(iterations - 2000), 1, "iterations" + res.describe())
                self.assertEqual(harness.metric(summary, "http_reqs", "count"), iterations,
                                 res.describe())
                self.assertEqual(harness.metric(summary, "dropped_iterations", "count"), 0,
                                 res.describe())
                # How late iterations started: a trend the user sees.
                delay = summary["metrics"].get("iteration_start_delay")
                self.assertIsNotNone(delay, "no iteration_start_delay" + res.describe())
                self.assertIn("p(95)", delay)
                self.assertIn("max>=0", delay.get("thresholds", {}), res.describe())

    def test_arrival_rate_uses_a_free_vu_on_any_worker(self):
        # Two workers, one VU each: VU 1 is slow (350 ms), VU 2 fast. Worker 0's dispatcher gets
        # every other iteration (one each 200 ms), so its own VU is often busy; the iteration
        # must start on worker 1's free VU, as in k6's single pool, not be dropped.
        script = self.write("pool.js", """
import { sleep } from 'k6';
export const options = { scenarios: { pool: {
  executor: 'constant-arrival-rate', rate: 10, timeUnit: '1s', duration: '3s',
  preAllocatedVUs: 2, maxVUs: 2 } } };
export default function () { sleep(__VU === 1 ? 0.35 : 0.01); }
""")
        res = harness.volley_run(self.workdir, script, "--quiet", "--workers", "2",
                                 timeout_s=60)
        self.assertExit(res, harness.EXIT_OK)
        summary = harness.read_summary(self.workdir, res)
        self.assertEqual(harness.metric(summary, "iterations", "count"), 30, res.describe())
        self.assertNotIn("dropped_iterations", summary["metrics"], res.describe())

    def test_a_later_scenario_reuses_the_vus_of_one_that_ended(self):
        # first: 3 VUs for 1 s, no gracefulStop; second starts at 1 s with 2 VUs. k6 hands the
        # first scenario's VUs to the second: vus_max is 3, not 5, __ITER counts on across the
        # scenarios, and exec.vu.iterationInScenario starts again at 0.
        script = self.write("reuse.js", """
import { check, sleep } from 'k6';
import exec from 'k6/execution';
export const options = { scenarios: {
  first: { executor: 'constant-vus', vus: 3, duration: '1s', gracefulStop: '0s', exec: 'first' },
  second: { executor: 'per-vu-iterations', vus: 2, iterations: 1, startTime: '1s',
            exec: 'second' },
} };
export function first() { sleep(0.2); }
export function second() {
  check(null, {
    'a VU of the first scenario': () => __VU >= 1 && __VU <= 3,
    '__ITER counts on': () => __ITER > 0 && exec.vu.iterationInInstance === __ITER,
    'iterationInScenario starts at 0': () => exec.vu.iterationInScenario === 0,
  });
}
""")
        for name, (res, summary) in self.run_both(script, ["--quiet"], 60).items():
            with self.subTest(run=name):
                self.assertExit(res, harness.EXIT_OK)
                self.assertEqual(harness.metric(summary, "vus_max", "max"), 3, res.describe())
                self.assertEqual(harness.metric(summary, "checks", "passes"), 6, res.describe())
                self.assertEqual(harness.metric(summary, "checks", "fails"), 0, res.describe())

    def test_min_iteration_duration_spaces_iterations(self):
        # Iterations take a few ms; minIterationDuration makes each VU wait out 300 ms before its
        # next one, outside iteration_duration (as k6).
        script = self.write("minit.js", """
import { check } from 'k6';
export const options = { minIterationDuration: '300ms', scenarios: {
  s: { executor: 'per-vu-iterations', vus: 2, iterations: 3 },
} };
let last = 0;
export default function () {
  const now = Date.now();
  check(null, { 'spaced by minIterationDuration': () => last === 0 || now - last >= 295 });
  last = now;
}
""")
        for name, (res, summary) in self.run_both(script, ["--quiet"], 60).items():
            with self.subTest(run=name):
                self.assertExit(res, harness.EXIT_OK)
                self.assertEqual(harness.metric(summary, "iterations", "count"), 6,
                                 res.describe())
                self.assertEqual(harness.metric(summary, "checks", "passes"), 6, res.describe())
                self.assertLess(harness.metric(summary, "iteration_duration", "max"), 250,
                                res.describe())
    def test_interrupted_vus_keep_their_state_when_scheduled_again(self):
        # 3 VUs for 1 s, 1 VU for 1 s, 3 VUs for 1 s; gracefulRampDown 0s cuts VUs 2 and 3 in
        # their 0.8 s sleep at 1 s. As in k6, each VU is initialised once, before the test: at
        # 2 s the same two VUs come back with their module state, so `initialised` is seen
        # false exactly vus_max times and `calls` goes on with __ITER. Iterations: VU 1 starts 8
        # (every 0.4 s up to 2.8 s); VUs 2 and 3 complete 2, lose 1, then complete 3 each.
        script = self.write("rampback.js", """
import { check, sleep } from 'k6';
import { Counter } from 'k6/metrics';
const inits = new Counter('vu_inits');
const resumed = new Counter('vus_resumed');
let initialised = false;  // false only in a VU whose init context has just run
let calls = 0;
let lastStart = 0;
export const options = { scenarios: { ramp: {
  executor: 'ramping-vus', startVUs: 3, gracefulRampDown: '0s',
  stages: [{ duration: '1s', target: 3 }, { duration: '0s', target: 1 },
           { duration: '1s', target: 1 }, { duration: '0s', target: 3 },
           { duration: '1s', target: 3 }] } } };
export default function () {
  const now = Date.now();
  if (!initialised) { initialised = true; inits.add(1); }
  calls++;
  if (lastStart > 0 && now - lastStart > 600) resumed.add(1);
  lastStart = now;
  check(null, { 'module state kept': () => calls === __ITER + 1 });
  sleep(0.4);
}
""")
        for name, (res, summary) in self.run_both(script, [], 60).items():
            with self.subTest(run=name):
                self.assertExit(res, harness.EXIT_OK)
                vus_max = harness.metric(summary, "vus_max", "max")
                self.assertEqual(vus_max, 3, res.describe())
                self.assertEqual(harness.metric(summary, "vu_inits", "count"), vus_max,
                                 "init context runs" + res.describe())
                self.assertEqual(harness.metric(summary, "vus_resumed", "count"), 2,
                                 res.describe())
                self.assertEqual(harness.metric(summary, "checks", "fails"), 0, res.describe())
                self.assertEqual(harness.metric(summary, "iterations", "count"), 18,
                                 res.describe())
                lines = re.findall(r"(\d+) complete and (\d+) interrupted iterations", res.stderr)
                self.assertTrue(lines, "no progress line" + res.describe())
                self.assertEqual(lines[-1], ("18", "2"), res.describe())

    def test_all_executors_side_by_side(self):
        rid = harness.run_id()
        httpbin = "http://127.0.0.1:" + self.srv["VOLLEY_HTTPBIN_PORT"]
        script = self.write("all.js", """
import http from 'k6/http';
import { sleep, check } from 'k6';
import exec from 'k6/execution';

const names = ['shared', 'pervu', 'constvus', 'ramp', 'rampdown', 'car', 'rar', 'drops'];
const thresholds = { 'iterations{kind:arrival}': ['count>=0'], 'checks{scenario:car}': ['rate==1'],
                     'dropped_iterations{scenario:drops}': ['count>=0'] };
for (const n of names) thresholds[`iterations{scenario:${n}}`] = ['count>=0'];

export const options = {
  thresholds,
  scenarios: {
    shared: { executor: 'shared-iterations', vus: 3, iterations: 30, exec: 'record' },
    pervu: { executor: 'per-vu-iterations', vus: 4, iterations: 5, exec: 'record' },
    constvus: { executor: 'constant-vus', vus: 2, duration: '2s', exec: 'half' },
    ramp: { executor: 'ramping-vus', startVUs: 0, exec: 'half',
            stages: [{ duration: '0s', target: 2 }, { duration: '1s', target: 2 },
                     { duration: '0s', target: 4 }, { duration: '1s', target: 4 }] },
    rampdown: { executor: 'ramping-vus', startVUs: 2, exec: 'long', gracefulRampDown: '200ms',
                gracefulStop: '1s',
                stages: [{ duration: '1s', target: 2 }, { duration: '0s', target: 1 },
                         { duration: '1s', target: 1 }] },
    car: { executor: 'constant-arrival-rate', rate: 20, timeUnit: '1s', duration: '2s',
           preAllocatedVUs: 5, startTime: '1s', exec: 'arrive', env: { WHO: 'car' },
           tags: { kind: 'arrival' } },
    rar: { executor: 'ramping-arrival-rate', startRate: 0, timeUnit: '1s', preAllocatedVUs: 5,
           exec: 'arrive', env: { WHO: 'rar' }, tags: { kind: 'arrival' },
           stages: [{ duration: '1s', target: 20 }, { duration: '1s', target: 20 }] },
    drops: { executor: 'constant-arrival-rate', rate: 50, timeUnit: '1s', duration: '2s',
             preAllocatedVUs: 1, maxVUs: 1, exec: 'slow' },
  },
};

export function record() {
  http.get(`${__ENV.BASE}/anything/${__ENV.RID}/${exec.scenario.name}` +
           `?it=${exec.scenario.iterationInTest}&vu=${exec.vu.idInTest}`);
}
export function half() { sleep(0.5); }
export function long() { sleep(0.7); }
export function slow() { sleep(0.1); }
export function arrive() {
  check(null, {
    'scenario env': () => __ENV.WHO === exec.scenario.name,
    'vu iteration counts agree': () => exec.vu.iterationInInstance === exec.vu.iterationInScenario,
    'startTime honoured': () => exec.scenario.name !== 'car' ||
        exec.scenario.startTime - (Date.now() - exec.instance.currentTestRunDuration) >= 990,
  });
}
""")
        runs = self.run_both(script, ["-e", f"BASE={httpbin}", "-e", f"RID={rid}"], 90)
        want = {"shared": 30, "pervu": 20, "constvus": 8, "ramp": 12,
                # VU 2 of rampdown is descheduled at 1 s in its 0.7..1.4 s iteration and cut at
                # 1.2 s (gracefulRampDown): 3 + 1 complete, not 5.
                "rampdown": 4, "car": 40,
                # 10 during the ramp, then one per 50 ms: the 30th falls on the end and is not run.
                "rar": 29}
        for name, (res, summary) in runs.items():
            with self.subTest(run=name):
                self.assertExit(res, harness.EXIT_OK)
                got = {n: harness.metric(summary, f"iterations{{scenario:{n}}}", "count")
                       for n in want}
                self.assertEqual(got, want, "iterations per scenario" + res.describe())
                self.assertEqual(harness.metric(summary, "iterations{kind:arrival}", "count"), 69)
                self.assertEqual(harness.metric(summary, "checks{scenario:car}", "fails"), 0,
                                 res.describe())
                self.assertEqual(harness.metric(summary, "checks{scenario:car}", "passes"), 120)
                # 100 scheduled at 50/s; one VU busy 100 ms per iteration cannot start them all:
                # each is run or dropped, never delayed.
                ran = harness.metric(summary, "iterations{scenario:drops}", "count")
                dropped = harness.metric(summary, "dropped_iterations{scenario:drops}", "count")
                self.assertEqual(ran + dropped, 100, f"ran {ran} dropped {dropped}" + res.describe())
                self.assertGreater(dropped, 50, res.describe())

        # The warning about dropped iterations comes once per agent, with the scenario's name.
        res = runs["local"][0]
        self.assertEqual(len(re.findall(r"insufficient VUs", res.stderr)), 1, res.describe())
        # One progress line per scenario, as k6 draws them (the last drawing, all done).
        for pattern in (r"shared +✓ \[=+\] 3 VUs +\S+/10m0s +30/30 shared iters",
                        r"pervu +✓ \[=+\] 4 VUs +\S+/10m0s +20/20 iters, 5 per VU",
                        r"constvus +✓ \[=+\] 2 VUs +\S+/2s",
                        r"ramp +✓ \[=+\] 0/4 VUs +\S+/2s",
                        r"car +✓ \[=+\] 0/5 VUs +\S+/2s +20\.00 iters/s"):
            self.assertRegex(res.stderr, pattern, res.describe())

        # The server saw every request of the two runs' record() iterations.
        want_lines = 2 * (30 + 20)
        lines = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with open(self.srv["VOLLEY_HTTPBIN_ACCESS_LOG"], errors="replace") as f:
                lines = [line for line in f if f"/anything/{rid}/" in line]
            if len(lines) >= want_lines:
                break
            time.sleep(0.2)
        self.assertEqual(len(lines), want_lines, "requests in the access log")

    def test_unique_numbers_across_agents(self):
        rid = harness.run_id()
        httpbin = "http://127.0.0.1:" + self.srv["VOLLEY_HTTPBIN_PORT"]
        agent_flags, logs = self.start_agents(AGENTS)
        script = self.write("ids.js", """
import http from 'k6/http';
import exec from 'k6/execution';
export const options = {
  scenarios: {
    shared: { executor: 'shared-iterations', vus: 5, iterations: 60 },
    pervu: { executor: 'per-vu-iterations', vus: 4, iterations: 5 },
    car: { executor: 'constant-arrival-rate', rate: 25, duration: '1s', preAllocatedVUs: 6 },
  },
};
export default function () {
  http.get(`${__ENV.BASE}/anything/${__ENV.RID}/${exec.scenario.name}` +
           `?it=${exec.scenario.iterationInTest}&vu=${exec.vu.idInTest}`);
}
""")
        res = harness.volley_run(self.workdir, script, *agent_flags, "-e", f"BASE={httpbin}",
                                 "-e", f"RID={rid}", timeout_s=60)
        self.assertExit(res, harness.EXIT_OK)
        rx = re.compile(rf"/anything/{rid}/(\w+)\?it=(\d+)&vu=(\d+) ")
        want_total = 60 + 20 + 25
        seen = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with open(self.srv["VOLLEY_HTTPBIN_ACCESS_LOG"], errors="replace") as f:
                seen = [m.groups() for m in map(rx.search, f) if m]
            if len(seen) >= want_total:
                break
            time.sleep(0.2)
        by = {}
        for scenario, it, vu in seen:
            by.setdefault(scenario, []).append((int(it), int(vu)))
        self.assertEqual({k: len(v) for k, v in by.items()},
                         {"shared": 60, "pervu": 20, "car": 25}, res.describe())
        # exec.scenario.iterationInTest: each number once across the three agents.
        for scenario in ("shared", "car"):
            self.assertEqual(sorted(i for i, _ in by[scenario]), list(range(len(by[scenario]))),
                             f"{scenario} iterationInTest" + res.describe())
        self.assertEqual(len({i for i, _ in by["pervu"]}), 20, res.describe())
        # exec.vu.idInTest: four distinct per-vu-iterations VUs, five iterations each, and no id
        # shared between scenarios (a VU runs one scenario).
        per_vu = {}
        for _, vu in by["pervu"]:
            per_vu[vu] = per_vu.get(vu, 0) + 1
        self.assertEqual(sorted(per_vu.values()), [5, 5, 5, 5], f"pervu VU ids {per_vu}")
        ids = {s: {vu for _, vu in v} for s, v in by.items()}
        self.assertFalse(ids["shared"] & ids["pervu"] or ids["shared"] & ids["car"]
                         or ids["pervu"] & ids["car"], f"VU ids shared by scenarios: {ids}")
        # (Unique, 1-based, but not dense: as in k6, each agent numbers its own VUs on its
        # stripe of the global numbers, and its VU count need not be its stripe's share.)
        self.assertGreaterEqual(min(min(v) for v in ids.values()), 1, f"ids {ids}")
        for log in logs:
            with open(log, errors="replace") as f:
                self.assertRegex(f.read(), r"(?i)segment", f"{log} ran no share")

    def test_shortcut_options_become_the_default_scenario(self):
        script = self.write("short.js", """
import { sleep } from 'k6';
import exec from 'k6/execution';
export default function () {
  if (exec.scenario.name !== 'default') throw new Error('scenario ' + exec.scenario.name);
  sleep(0.5);
}
""")
        stages = self.write("stages.js", """
import { sleep } from 'k6';
export const options = { stages: [{ duration: '0s', target: 2 }, { duration: '1s', target: 2 }] };
export default function () { sleep(0.5); }
""")
        cases = {  # flags -> iterations of the default scenario
            "iterations": (["--vus", "2", "--iterations", "10"], script, 10),  # shared-iterations
            "duration": (["--vus", "3", "--duration", "2s"], script, 12),  # constant-vus: 4 each
            "stages": ([], stages, 4),  # ramping-vus: 2 VUs for 1 s
        }
        started = time.monotonic()
        procs = {}
        for name, (flags, path, _) in cases.items():
            args = [harness.volley_bin(), "run", "--no-color", "--quiet", *flags,
                    "--summary-export", f"summary-{name}.json", path]
            procs[name] = (args, harness.start(args, self.workdir))
        for name, (args, proc) in procs.items():
            with self.subTest(case=name):
                res = harness.finish(proc, args, 60, started)
                self.assertExit(res, harness.EXIT_OK)
                summary = harness.read_summary(self.workdir, res, f"summary-{name}.json")
                self.assertEqual(harness.metric(summary, "iterations", "count"), cases[name][2],
                                 res.describe())

    def test_abort_exits_108(self):
        script = self.write("abort.js", """
import exec from 'k6/execution';
import { sleep } from 'k6';
export const options = { scenarios: { s: { executor: 'constant-vus', vus: 3, duration: '20s' } } };
export default function () {
  if (exec.scenario.iterationInTest >= 5) exec.test.abort('enough iterations');
  sleep(0.1);
}
""")
        for name, (res, _) in self.run_both(script, [], 60).items():
            with self.subTest(run=name):
                self.assertExit(res, EXIT_SCRIPT_ABORTED)
                self.assertIn("enough iterations", res.stderr, res.describe())
                self.assertLess(res.seconds, 15, "abort must stop the test" + res.describe())

    def test_invalid_scenarios_are_reported_together(self):
        script = self.write("bad.js", """
export const options = { scenarios: {
  a: { executor: 'constant-vus', vus: -1 },
  b: { executor: 'ramping-arrival-rate', stages: [{ duration: '1s', target: 1 }], exec: 'nope' },
  c: { executor: 'shared-iterations', vus: 5, iterations: 2 },
} };
export default function () {}
""")
        res = harness.volley_run(self.workdir, script, export=None, timeout_s=30)
        self.assertExit(res, harness.EXIT_INVALID_CONFIG)
        for problem in (r"scenarios\.a: .*vus", r"scenarios\.a: .*duration",
                        r"scenarios\.b: .*nope", r"scenarios\.b: .*preAllocatedVUs",
                        r"scenarios\.c: .*iterations.*vus"):
            self.assertRegex(res.stderr, problem, res.describe())


if __name__ == "__main__":
    harness.main()
