#!/usr/bin/env python3
"""k6's exit codes, from `volley run` (scripts are in tests/e2e/scripts/):

  99   a threshold failed                      threshold_fail.js
  104  invalid options                         invalid_options.js, and --vus -1 on the CLI
  104  --config that is not valid JSON (stderr names file and line)
  107  syntax error (stderr names file:line:col), exception in setup(), a missing import
  255  a missing script, a bad -e name (-e KEY alone sets KEY to "", as in k6)
  105  SIGINT mid-run; the summary is still printed and exported
"""

import signal
import time

import harness


class ExitCodes(harness.VolleyTestCase):
    def httpbin_env(self, rid):
        return ["-e", "BASE_URL=http://127.0.0.1:" + self.srv["VOLLEY_HTTPBIN_PORT"],
                "-e", f"RUN_ID={rid}"]

    def test_threshold_failure_exits_99(self):
        script = self.copy_script("threshold_fail.js")
        res = harness.volley_run(self.workdir, script)
        self.assertExit(res, harness.EXIT_THRESHOLDS_FAILED)
        summary = harness.read_summary(self.workdir, res)
        self.assertEqual(harness.metric(summary, "checks", "fails"), 3, res.describe())
        self.assertIn("checks", res.stdout, "the summary names the failed threshold's metric"
                      + res.describe())
        self.assertIn("thresholds on metrics 'checks' have been crossed", res.stderr,
                      "k6's closing error names the crossed metrics" + res.describe())

    def test_negative_vus_in_options_exits_104(self):
        script = self.copy_script("invalid_options.js")
        res = harness.volley_run(self.workdir, script, export=None, timeout_s=30)
        self.assertExit(res, harness.EXIT_INVALID_CONFIG)

    def test_negative_vus_flag_exits_104(self):
        script = self.copy_script("threshold_fail.js")
        res = harness.volley_run(self.workdir, script, "--vus", "-1", "--iterations", "1",
                                 export=None, timeout_s=30)
        self.assertExit(res, harness.EXIT_INVALID_CONFIG)

    def test_syntax_error_exits_107_with_position(self):
        script = self.copy_script("syntax_error.js")
        res = harness.volley_run(self.workdir, script, export=None, timeout_s=30)
        self.assertExit(res, harness.EXIT_SCRIPT_EXCEPTION)
        # The bad token is on line 4; engines differ on the column, so any column will do.
        self.assertRegex(res.stderr, r"syntax_error\.js:4:\d+",
                         "stderr names file:line:col of the syntax error" + res.describe())

    def test_missing_import_exits_107(self):
        # k6 throws a script exception for an import it cannot resolve; only a missing script
        # itself is a usage error (255).
        script = self.write("imports_missing.js",
                            "import x from './not_there.js';\nexport default function () {}\n")
        res = harness.volley_run(self.workdir, script, export=None, timeout_s=30)
        self.assertExit(res, harness.EXIT_SCRIPT_EXCEPTION)
        self.assertIn("not_there.js", res.stderr, res.describe())
        res = harness.volley_run(self.workdir, "no_such_script.js", export=None, timeout_s=30)
        self.assertExit(res, 255)

    def test_env_flag_as_k6_parses_it(self):
        # `-e KEY` sets KEY to ""; a name k6 would not accept is an error naming it.
        script = self.write("env.js", "export const options = { iterations: 1 };\n"
                            "export default function () {\n"
                            "  if (__ENV.EMPTY !== '' || __ENV.SET !== 'a=b') throw new Error('env');\n"
                            "}\n")
        res = harness.volley_run(self.workdir, script, "-e", "EMPTY", "-e", "SET=a=b",
                                 "--no-summary", export=None, timeout_s=30)
        self.assertExit(res, 0)
        self.assertNotIn("iteration error", res.stderr, res.describe())
        res = harness.volley_run(self.workdir, script, "-e", "1BAD=x", export=None, timeout_s=30)
        self.assertExit(res, 255)
        self.assertIn("1BAD", res.stderr, res.describe())

    def test_invalid_config_json_exits_104_with_position(self):
        script = self.copy_script("threshold_fail.js")
        config = self.write("config.json", '{\n  "hosts": {\n    "a": 1,\n  }\n}\n')
        res = harness.volley_run(self.workdir, script, "--config", config, export=None,
                                 timeout_s=30)
        self.assertExit(res, harness.EXIT_INVALID_CONFIG)
        self.assertRegex(res.stderr, r"config\.json: invalid JSON: .*line 4",
                         "the error names the file and where the JSON breaks" + res.describe())

    def test_every_options_problem_of_every_source_is_reported_at_once(self):
        script = self.write("bad_options.js", """
export const options = {
  vus: 'ten',
  scenarios: { s: { executor: 'constant-vus', vus: -1, duration: '1s' } },
  thresholds: { http_req_duration: ['p(95) <<< 3'] },
};
export default function () {}
""")
        config = self.write("bad.json", '{"iterations": "many"}')
        res = harness.volley_run(self.workdir, script, "--config", config, "--duration", "5x",
                                 export=None, timeout_s=30)
        self.assertExit(res, harness.EXIT_INVALID_CONFIG)
        for problem in (r"bad\.json: iterations: expected an integer",
                        r"bad_options\.js: vus: expected an integer",
                        r"--duration: invalid duration \"5x\"",
                        r"scenarios\.s: \"vus\" must be more than 0",
                        r"thresholds: invalid threshold \"p\(95\) <<< 3\""):
            self.assertRegex(res.stderr, problem, res.describe())

    def test_bad_flag_values_are_named(self):
        script = self.write("ok.js", "export default function () {}\n")
        cases = [
            (["--agent", "127.0.0.1"], 104, r'agent address "127\.0\.0\.1" is not HOST:PORT'),
            (["--agents-file", "missing.yaml"], 104, r"--agents-file missing\.yaml: no such file"),
            (["--log-level", "loud"], 255, r"--log-level: loud not in"),
        ]
        for flags, code, message in cases:
            with self.subTest(flags=flags):
                res = harness.volley_run(self.workdir, script, *flags, export=None, timeout_s=30)
                self.assertExit(res, code)
                self.assertRegex(res.stdout + res.stderr, message, res.describe())

    def test_exception_in_setup_exits_107(self):
        rid = harness.run_id()
        script = self.copy_script("setup_throws.js")
        res = harness.volley_run(self.workdir, script, *self.httpbin_env(rid), export=None,
                                 timeout_s=30)
        self.assertExit(res, harness.EXIT_SCRIPT_EXCEPTION)
        self.assertIn("volley-e2e setup exploded", res.stdout + res.stderr,
                      "the exception's message is shown" + res.describe())
        time.sleep(0.5)
        log = self.srv["VOLLEY_HTTPBIN_ACCESS_LOG"]
        self.assertEqual(harness.count_log_lines(log, f"/anything/{rid}/"), 0,
                         "no iteration may run after setup() failed" + res.describe())

    def test_setup_and_teardown_timeouts_exit_100_and_101(self):
        # setupTimeout cuts a setup() asleep; teardownTimeout cuts a busy loop in teardown(),
        # whose run's summary is still printed. k6: exit codes 100 and 101.
        cases = [
            ("setup", "export function setup() { sleep(60); }", harness.EXIT_SETUP_TIMEOUT),
            ("teardown", "export function teardown() { for (;;) {} }",
             harness.EXIT_TEARDOWN_TIMEOUT),
        ]
        for stage, fn, code in cases:
            with self.subTest(stage=stage):
                script = self.write(f"{stage}_timeout.js", f"""
import {{ sleep }} from 'k6';
export const options = {{ iterations: 2, {stage}Timeout: '1s' }};
export default function () {{}}
{fn}
""")
                res = harness.volley_run(self.workdir, script, timeout_s=30)
                self.assertExit(res, code)
                self.assertIn(f"{stage}() execution timed out after 1 seconds", res.stderr,
                              res.describe())
                self.assertLess(res.seconds, 20, res.describe())
                if stage == "teardown":
                    summary = harness.read_summary(self.workdir, res)
                    self.assertEqual(harness.metric(summary, "iterations", "count"), 2,
                                     res.describe())

    def test_sigint_during_setup_exits_105(self):
        script = self.write("setup_sleeps.js", """
import { sleep } from 'k6';
export function setup() { console.log('setup started'); sleep(60); }
export default function () {}
""")
        args = [harness.volley_bin(), "run", "--no-color", script]
        started = time.monotonic()
        proc = harness.start(args, self.workdir)
        self.addCleanup(harness.kill_group, proc)
        time.sleep(2)
        proc.send_signal(signal.SIGINT)
        res = harness.finish(proc, args, 20, started)
        self.assertExit(res, harness.EXIT_EXTERNAL_ABORT)
        self.assertIn("setup() interrupted by signal", res.stderr, res.describe())
        self.assertLess(res.seconds, 15, "Ctrl+C cuts setup's sleep" + res.describe())

    def test_sigint_mid_run_exits_105_with_summary(self):
        rid = harness.run_id()
        script = self.copy_script("interrupted.js")
        args = [harness.volley_bin(), "run", "--no-color", *self.httpbin_env(rid),
                "--summary-export", "summary.json", script]
        started = time.monotonic()
        proc = harness.start(args, self.workdir)
        self.addCleanup(harness.kill_group, proc)

        # Mid-run means requests are flowing: wait for the first in httpbin's log.
        log = self.srv["VOLLEY_HTTPBIN_ACCESS_LOG"]
        deadline = started + 30
        while harness.count_log_lines(log, f"/anything/{rid}/tick") < 5:
            if proc.poll() is not None or time.monotonic() > deadline:
                res = harness.finish(proc, args, 10, started)
                self.fail("no requests reached httpbin before SIGINT" + res.describe())
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)

        # Iterations take ~0.1 s, so a graceful stop is quick; the 60 s plan must not finish.
        res = harness.finish(proc, args, 30, started)
        self.assertExit(res, harness.EXIT_EXTERNAL_ABORT)
        self.assertLess(res.seconds, 50, "stopped on SIGINT, not at the end of the plan")
        self.assertRegex(res.stdout, r"http_reqs\b", "the summary is printed" + res.describe())
        self.assertRegex(res.stdout, r"iterations\b", "the summary is printed" + res.describe())
        summary = harness.read_summary(self.workdir, res)
        self.assertGreater(harness.metric(summary, "http_reqs", "count"), 0, res.describe())


if __name__ == "__main__":
    harness.main()
