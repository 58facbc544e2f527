"""Shared pieces of Volley's end-to-end tests (Python 3 standard library only).

The tests run the real `volley` and `volley-agent` binaries against the loopback servers that
tests/servers/start.sh started, and read what those servers logged. Where things are:

  VOLLEY_TEST_ENV      env file written by tests/servers/start.sh (ports, log paths)
  VOLLEY_BIN           the volley binary
  VOLLEY_AGENT_BIN     the volley-agent binary

Each falls back to VOLLEY_*_DEFAULT, which tests/CMakeLists.txt sets to the build tree's files.
A missing file is a test failure with a message saying what to run, never a skip.
"""

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts")

# k6's exit codes (k6 errext/exitcodes).
EXIT_OK = 0
EXIT_THRESHOLDS_FAILED = 99
EXIT_SETUP_TIMEOUT = 100
EXIT_TEARDOWN_TIMEOUT = 101
EXIT_EXTERNAL_ABORT = 105
EXIT_INVALID_CONFIG = 104
EXIT_SCRIPT_EXCEPTION = 107

# Every IPv4 network except 127.0.0.0/8, and IPv6's global unicast range (not ::/0, which an
# implementation mapping IPv4 into IPv6 might read as containing 127.0.0.1): given to Volley as
# k6's blacklistIPs so that a script naming a public host can only ever reach loopback.
NOT_LOOPBACK = [
    "0.0.0.0/2", "64.0.0.0/3", "96.0.0.0/4", "112.0.0.0/5", "120.0.0.0/6", "124.0.0.0/7",
    "126.0.0.0/8", "128.0.0.0/1", "2000::/3",
]


def _setting(name, what, hint):
    """An absolute path from $name, else $name_DEFAULT; fails the test if it does not exist."""
    path = os.environ.get(name) or os.environ.get(name + "_DEFAULT")
    if not path:
        raise AssertionError(f"{what}: neither {name} nor {name}_DEFAULT is set ({hint})")
    if not os.path.exists(path):
        raise AssertionError(f"{what} not found at {path} ({name}); {hint}")
    return path


def volley_bin():
    return _setting("VOLLEY_BIN", "volley binary", "build it: cmake --build build -j2")


def agent_bin():
    return _setting("VOLLEY_AGENT_BIN", "volley-agent binary", "build it: cmake --build build -j2")


def servers():
    """The env file of tests/servers/start.sh as a dict (it holds shell-quoted KEY=value lines)."""
    path = _setting("VOLLEY_TEST_ENV", "test servers' env file",
                    "start them: tests/servers/start.sh (scripts/test.sh does)")
    values = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, _, raw = line.partition("=")
            words = shlex.split(raw)
            values[key] = words[0] if words else ""
    for key in ("VOLLEY_HTTPBIN_PORT", "VOLLEY_HTTPBIN_ACCESS_LOG", "VOLLEY_TLS_PORT",
                "VOLLEY_TLS_ACCESS_LOG"):
        if key not in values:
            raise AssertionError(f"{path} has no {key}: restart tests/servers/start.sh")
    return values


def hosts_config(srv):
    """k6 options (the --config JSON) sending the k6 examples' public hosts to local servers."""
    http = "127.0.0.1:" + srv["VOLLEY_HTTPBIN_PORT"]
    tls = "127.0.0.1:" + srv["VOLLEY_TLS_PORT"]
    return {
        "hosts": {
            "httpbin.org": http,
            "test.k6.io": http,
            "httpbin.org:443": tls,
            "test-api.k6.io:443": tls,
        },
        "insecureSkipTLSVerify": True,
        "blacklistIPs": NOT_LOOPBACK,
    }


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_id():
    """A path segment unique to one test run, to find its requests in a shared access log."""
    return "volley-e2e-" + uuid.uuid4().hex[:12]


class Result:
    def __init__(self, args, returncode, stdout, stderr, seconds):
        self.args, self.returncode, self.stdout, self.stderr = args, returncode, stdout, stderr
        self.seconds = seconds

    def describe(self, tail=4000):
        """The command and the end of its output, for failure messages."""
        return (f"\n$ {' '.join(shlex.quote(a) for a in self.args)}\n"
                f"exit code {self.returncode} after {self.seconds:.1f} s\n"
                f"--- stdout (last {tail} chars) ---\n{self.stdout[-tail:]}\n"
                f"--- stderr (last {tail} chars) ---\n{self.stderr[-tail:]}\n")


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def start(args, cwd, env=None, output=None):
    """Starts a process in its own process group (so a hung run can be killed whole). Its
    stdout and stderr are pipes, or both go to the open file `output` (for a long-lived
    process whose pipes nobody reads while it runs)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    streams = ({"stdout": output, "stderr": subprocess.STDOUT} if output else
               {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE})
    return subprocess.Popen(args, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL, text=True,
                            errors="replace", start_new_session=True, **streams)


def finish(proc, args, timeout_s, started):
    """Waits for proc; past timeout_s kills its group and fails with what it printed."""
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        res = Result(args, None, out, err, time.monotonic() - started)
        raise AssertionError(f"timed out after {timeout_s} s and was killed:" + res.describe())
    return Result(args, proc.returncode, out, err, time.monotonic() - started)


def run(args, cwd, timeout_s, env=None):
    started = time.monotonic()
    return finish(start(args, cwd, env), args, timeout_s, started)


def volley_run(workdir, script, *flags, timeout_s=60, env=None, export="summary.json"):
    """`volley run --no-color [flags] --summary-export <export> <script>` in workdir."""
    args = [volley_bin(), "run", "--no-color", *flags]
    if export:
        args += ["--summary-export", export]
    args.append(script)
    return run(args, workdir, timeout_s, env)


def read_summary(workdir, res, name="summary.json"):
    """The --summary-export file (k6's legacy summary layout) as a dict."""
    path = os.path.join(workdir, name)
    if not os.path.exists(path):
        raise AssertionError(f"no summary export written at {path}" + res.describe())
    with open(path) as f:
        try:
            return json.load(f)
        except ValueError as e:
            raise AssertionError(f"summary export {path} is not JSON: {e}" + res.describe())


def metric(summary, name, field):
    """metrics.<name>.<field> of a summary export; 0 when the metric never got a sample (k6
    leaves such metrics out)."""
    m = summary.get("metrics", {}).get(name)
    if m is None:
        return 0
    if field not in m:
        raise AssertionError(f"summary export metric {name} has no '{field}': {m}")
    return m[field]


def counts(summary):
    """The totals the e2e tests compare: iterations, http_reqs, check passes and fails."""
    return {"iterations": metric(summary, "iterations", "count"),
            "http_reqs": metric(summary, "http_reqs", "count"),
            "check passes": metric(summary, "checks", "passes"),
            "check fails": metric(summary, "checks", "fails")}


def count_log_lines(path, pattern):
    """Lines of the access log at path that match the regex pattern."""
    rx = re.compile(pattern)
    with open(path, errors="replace") as f:
        return sum(1 for line in f if rx.search(line))


def settled_log_counts(path, patterns, want, timeout_s=5.0):
    """Counts per pattern, re-read until they equal want or stop changing. Servers write their
    access log line after the response has gone out, so the last lines can trail the client."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = {k: count_log_lines(path, p) for k, p in patterns.items()}
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


class VolleyTestCase(unittest.TestCase):
    """A test case with a private working directory and the servers' env loaded."""

    maxDiff = None

    def setUp(self):
        self.srv = servers()
        self._tmp = tempfile.TemporaryDirectory(prefix="volley-e2e-")
        self.workdir = self._tmp.name
        self.addCleanup(self._tmp.cleanup)

    def write(self, name, text):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def write_json(self, name, value):
        return self.write(name, json.dumps(value, indent=2))

    def copy_script(self, name):
        """Copies tests/e2e/scripts/<name> into the working directory."""
        with open(os.path.join(SCRIPTS, name)) as f:
            return self.write(name, f.read())

    def assertExit(self, res, code):
        self.assertEqual(res.returncode, code,
                         f"expected exit code {code}, got {res.returncode}" + res.describe())


def main():
    unittest.main(verbosity=2)
