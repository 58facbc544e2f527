#!/usr/bin/env python3
"""File uploads as k6 sends them: scripts/upload.js posts a multipart form (a text field, a
binary file opened with open(path, 'b') holding bytes 0..255, and a text file) to httpbin's
/post, and checks with k6 checks what httpbin parsed; every check must pass.
"""

import os

import harness

VUS, ITERATIONS_PER_VU, CHECKS_PER_ITERATION = 2, 3, 5
ITERATIONS = VUS * ITERATIONS_PER_VU


class Uploads(harness.VolleyTestCase):
    def test_multipart_form_with_binary_file_reaches_httpbin(self):
        script = self.copy_script("upload.js")
        with open(os.path.join(self.workdir, "bytes.bin"), "wb") as f:
            f.write(bytes(range(256)))
        base = "http://127.0.0.1:" + self.srv["VOLLEY_HTTPBIN_PORT"]
        res = harness.volley_run(self.workdir, script, "-e", f"BASE_URL={base}")
        self.assertExit(res, harness.EXIT_OK)
        summary = harness.read_summary(self.workdir, res)
        self.assertEqual(
            harness.counts(summary),
            {"iterations": ITERATIONS, "http_reqs": ITERATIONS,
             "check passes": ITERATIONS * CHECKS_PER_ITERATION, "check fails": 0},
            "summary export" + res.describe())


if __name__ == "__main__":
    harness.main()
