#!/usr/bin/env python3
"""Volley's counts must equal the server's: scripts/counts.js does setup 1 request, 3 VUs x 20
iterations x 2 requests, teardown 1 request, on paths marked with a fresh run id; the summary
export and the access logs must agree on every number.

Cases: plain HTTP to httpbin; HTTPS through the nginx TLS front (which must see HTTP/2, as k6
negotiates it by ALPN); the same test split over two volley-agent processes; and an agent that
does nothing for a controller with the wrong token. Plus k6's cookie API against httpbin.
"""

import os
import socket
import subprocess
import time

import harness

VUS, ITERATIONS_PER_VU, REQUESTS_PER_ITERATION = 3, 20, 2
ITERATIONS = VUS * ITERATIONS_PER_VU
HTTP_REQS = ITERATIONS * REQUESTS_PER_ITERATION + 2  # + setup + teardown


class Counts(harness.VolleyTestCase):
    def run_counts(self, base_url, extra_flags=(), timeout_s=90):
        rid = harness.run_id()
        script = self.copy_script("counts.js")
        res = harness.volley_run(self.workdir, script, *extra_flags,
                                 "-e", f"BASE_URL={base_url}", "-e", f"RUN_ID={rid}",
                                 timeout_s=timeout_s)
        self.assertExit(res, harness.EXIT_OK)
        summary = harness.read_summary(self.workdir, res)

        self.assertEqual(
            harness.counts(summary),
            {"iterations": ITERATIONS, "http_reqs": HTTP_REQS,
             "check passes": ITERATIONS, "check fails": 0},
            "summary export" + res.describe())
        return rid, res

    def assert_log_counts(self, log, rid, res, protocol=r"HTTP/[0-9.]+",
                          vus_numbered_in_test=True):
        # One request line per request: "GET /anything/<rid>/a?vu=1&iter=0 HTTP/1.1".
        line = lambda path: rf'"GET /anything/{rid}/{path} {protocol}"'
        patterns = {"a": line(r"a\?[^ ]*"), "b": line("b"), "setup": line("setup"),
                    "teardown": line(r"teardown\?marker=from-setup")}
        want = {"a": ITERATIONS, "b": ITERATIONS, "setup": 1, "teardown": 1}
        got = harness.settled_log_counts(log, patterns, want)
        self.assertEqual(got, want, f"requests of run {rid} in {log}" + res.describe())

        # per-vu-iterations: each VU runs iterations 0..19 exactly once. __VU numbers VUs within
        # one instance, so a split test may repeat VU numbers; __ITER counts still hold.
        pairs = []
        with open(log, errors="replace") as f:
            for text in f:
                start = text.find(f"/anything/{rid}/a?")
                if start >= 0:
                    query = text[start:].split(" ", 1)[0].split("?", 1)[1]
                    fields = dict(kv.split("=", 1) for kv in query.split("&"))
                    pairs.append((int(fields["vu"]), int(fields["iter"])))
        iters = sorted(it for _, it in pairs)
        self.assertEqual(iters, sorted(list(range(ITERATIONS_PER_VU)) * VUS),
                         "__ITER values seen by the server: 0..19 once per VU")
        if vus_numbered_in_test:
            self.assertEqual(sorted(pairs), [(vu, it) for vu in range(1, VUS + 1)
                                             for it in range(ITERATIONS_PER_VU)],
                             "(__VU, __ITER) pairs seen by the server")

    def test_http_counts_match_server_log(self):
        base = "http://127.0.0.1:" + self.srv["VOLLEY_HTTPBIN_PORT"]
        rid, res = self.run_counts(base)
        self.assert_log_counts(self.srv["VOLLEY_HTTPBIN_ACCESS_LOG"], rid, res)

    def test_https_h2_counts_match_tls_front_log(self):
        base = "https://127.0.0.1:" + self.srv["VOLLEY_TLS_PORT"]
        config = self.write_json("tls.json", {"insecureSkipTLSVerify": True})
        rid, res = self.run_counts(base, ["--config", config])
        self.assert_log_counts(self.srv["VOLLEY_TLS_ACCESS_LOG"], rid, res, protocol="HTTP/2.0")
        # nginx passed each request on to httpbin exactly once.
        self.assert_log_counts(self.srv["VOLLEY_HTTPBIN_ACCESS_LOG"], rid, res)

    def test_cookie_api_against_httpbin(self):
        # scripts/cookies.js: every one of its 10 checks passes in its one iteration.
        script = self.copy_script("cookies.js")
        base = "http://127.0.0.1:" + self.srv["VOLLEY_HTTPBIN_PORT"]
        res = harness.volley_run(self.workdir, script, "-e", f"BASE_URL={base}")
        self.assertExit(res, harness.EXIT_OK)
        summary = harness.read_summary(self.workdir, res)
        self.assertEqual({"passes": harness.metric(summary, "checks", "passes"),
                          "fails": harness.metric(summary, "checks", "fails")},
                         {"passes": 10, "fails": 0}, "checks of cookies.js" + res.describe())

    def start_agents(self, count, token):
        """Starts `count` volley-agents on free loopback ports; returns (port, proc, log) each."""
        agents = []
        for i in range(count):
            port = harness.free_port()
            # The token on both sides, as a real deployment has it.
            args = [harness.agent_bin(), "--listen", f"127.0.0.1:{port}", "--token-file", token]
            log = os.path.join(self.workdir, f"agent{i}.log")
            with open(log, "w") as out:
                proc = harness.start(args, self.workdir, output=out)
            self.addCleanup(self.stop_agent, proc)
            agents.append((port, proc, log))
        for port, proc, log in agents:
            self.wait_listening(port, proc, log)
        return agents

    def test_two_agents_together_do_the_same_work(self):
        token = self.write("token", harness.run_id() + "\n")
        os.chmod(token, 0o600)
        agents = self.start_agents(2, token)

        flags = ["--token-file", token]
        for port, _, _ in agents:
            flags += ["--agent", f"127.0.0.1:{port}"]
        base = "http://127.0.0.1:" + self.srv["VOLLEY_HTTPBIN_PORT"]
        rid, res = self.run_counts(base, flags)
        self.assert_log_counts(self.srv["VOLLEY_HTTPBIN_ACCESS_LOG"], rid, res,
                               vus_numbered_in_test=False)

        # Each agent ran a share: its lifecycle log names the execution segment it was given.
        for i, (port, proc, log) in enumerate(agents):
            self.stop_agent(proc)
            with open(log, errors="replace") as f:
                out = f.read()
            self.assertRegex(out, r"(?i)segment",
                             f"agent {i} (127.0.0.1:{port}) shows no sign of having run a share; "
                             f"its output:\n{out[-3000:]}" + res.describe())

    def test_agent_refuses_a_wrong_token(self):
        agent_token = self.write("agent-token", harness.run_id() + "\n")
        wrong_token = self.write("wrong-token", harness.run_id() + "\n")
        [(port, _, _)] = self.start_agents(1, agent_token)

        rid = harness.run_id()
        script = self.copy_script("counts.js")
        base = "http://127.0.0.1:" + self.srv["VOLLEY_HTTPBIN_PORT"]
        res = harness.volley_run(self.workdir, script, "--token-file", wrong_token,
                                 "--agent", f"127.0.0.1:{port}", "-e", f"BASE_URL={base}",
                                 "-e", f"RUN_ID={rid}", export=None, timeout_s=60)
        self.assertNotEqual(res.returncode, 0, "a run with the wrong token must fail"
                            + res.describe())
        time.sleep(0.5)
        self.assertEqual(harness.count_log_lines(self.srv["VOLLEY_HTTPBIN_ACCESS_LOG"],
                                                 f"/anything/{rid}/"), 0,
                         "no request may be sent for a controller with the wrong token"
                         + res.describe())

    def wait_listening(self, port, proc, log, timeout_s=20):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                with open(log, errors="replace") as f:
                    self.fail(f"volley-agent exited ({proc.returncode}) before listening on "
                              f"127.0.0.1:{port}; its output:\n{f.read()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        self.fail(f"volley-agent did not listen on 127.0.0.1:{port} within {timeout_s} s")

    @staticmethod
    def stop_agent(proc):
        """SIGTERM, then SIGKILL to its group after 10 s."""
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            harness.kill_group(proc)
            proc.wait()


if __name__ == "__main__":
    harness.main()
