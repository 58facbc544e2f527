#!/usr/bin/env python3
"""k6's own example scripts, run unchanged, must give what k6 v0.48.0 gave (expected.json).

Usage: test_k6_examples.py [--list-only] [SCRIPT.js ...]   (no scripts: every one)

The examples live outside the repository: $VOLLEY_K6_EXAMPLES, else ../shared/k6-examples
next to the repository's top. Each script runs against local httpbin and the local TLS front
through k6's `hosts` option (see harness.hosts_config). A script that sets no executor of its
own runs --vus 1 --iterations 5; one with stages or scenarios runs as written (stages.js takes
its own 20 s, since per-iteration numbers do not depend on length and running the script's
own stages is the point). The summary export then gives, per iteration: http_reqs, check
passes and check fails, compared with expected.json together with the exit code.
"""

import json
import os
import re
import subprocess
import sys
import unittest

import harness

ITERATIONS = 5
# Keys of k6 options that choose an executor; a script that sets one keeps its own plan.
OWN_PLAN = re.compile(r"\b(stages|scenarios|iterations|duration)\s*:")


def examples_dir():
    path = os.environ.get("VOLLEY_K6_EXAMPLES")
    if not path:
        try:
            top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=harness.REPO,
                                 capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            top = harness.REPO
        path = os.path.join(os.path.dirname(top), "shared", "k6-examples")
    return os.path.abspath(path)


def load_expected(directory):
    path = os.path.join(directory, "expected.json")
    if not os.path.isfile(path):
        raise AssertionError(f"k6 examples not found: no {path} (set VOLLEY_K6_EXAMPLES)")
    with open(path) as f:
        return json.load(f)


class ExampleList(unittest.TestCase):
    def test_every_example_has_expectations(self):
        directory = examples_dir()
        expected = load_expected(directory)
        scripts = sorted(n for n in os.listdir(directory) if n.endswith(".js"))
        self.assertTrue(scripts, f"no *.js in {directory}")
        self.assertEqual(scripts, sorted(expected), f"scripts in {directory} vs expected.json")


class Example(harness.VolleyTestCase):
    script = None  # set on the generated subclasses

    def run_example(self):
        directory = examples_dir()
        want = load_expected(directory)[self.script]
        with open(os.path.join(directory, self.script)) as f:
            source = f.read()

        # The script runs from its own directory, unchanged, as `k6 run` would run it.
        config = self.write_json("hosts.json", harness.hosts_config(self.srv))
        flags = ["--config", config]
        own_plan = bool(OWN_PLAN.search(source))
        if not own_plan:
            flags += ["--vus", "1", "--iterations", str(ITERATIONS)]
        export = os.path.join(self.workdir, "summary.json")
        res = harness.run([harness.volley_bin(), "run", "--no-color", *flags,
                           "--summary-export", export, self.script],
                          cwd=directory, timeout_s=120 if own_plan else 60)

        self.assertExit(res, want["exit_code"])
        summary = harness.read_summary(self.workdir, res)
        iterations = harness.metric(summary, "iterations", "count")
        if own_plan:
            self.assertGreater(iterations, 0, "no iteration completed" + res.describe())
        else:
            self.assertEqual(iterations, ITERATIONS, "iterations.count" + res.describe())

        got = harness.counts(summary)
        del got["iterations"]  # checked above, against this script's own plan
        wanted = {
            "http_reqs": want["http_reqs_per_iteration"] * iterations,
            "check passes": want["check_passes_per_iteration"] * iterations,
            "check fails": want["check_fails_per_iteration"] * iterations,
        }
        self.assertEqual({k: float(v) for k, v in got.items()},
                         {k: float(v) for k, v in wanted.items()},
                         f"totals over {iterations} iterations (expected.json per iteration x "
                         f"iterations)" + res.describe())


def make_case(script):
    name = "test_" + re.sub(r"\W", "_", script[:-3])
    cls = type("Example_" + script[:-3], (Example,), {"script": script})
    setattr(cls, name, lambda self: self.run_example())
    return cls


def main():
    args = sys.argv[1:]
    suite = unittest.TestSuite()
    loader = unittest.defaultTestLoader
    if args == ["--list-only"]:
        suite.addTests(loader.loadTestsFromTestCase(ExampleList))
    else:
        if not args:
            suite.addTests(loader.loadTestsFromTestCase(ExampleList))
            try:
                args = sorted(load_expected(examples_dir()))
            except AssertionError as e:
                print(f"FAIL: {e}", file=sys.stderr)
                return 1
        for script in args:
            suite.addTests(loader.loadTestsFromTestCase(make_case(script)))
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
