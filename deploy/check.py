#!/usr/bin/env python3
"""Sanity checks of deploy/ that need no docker or cluster (run by ctest as deploy.sanity):
every RUN of deploy/Dockerfile is valid shell (bash -n), and the binaries it copies out of its
build tree are where this build tree has them (argument: the CMake build directory)."""

import os
import re
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
build_dir = sys.argv[1]
with open(os.path.join(here, "Dockerfile")) as f:
    text = re.sub(r"\\\n", " ", f.read())

problems = []
for line in text.splitlines():
    m = re.match(r"\s*RUN\s+(.*)", line)
    if m:
        res = subprocess.run(["bash", "-n", "-c", m.group(1)], capture_output=True, text=True)
        if res.returncode != 0:
            problems.append(f"RUN is not valid shell: {m.group(1)[:80]}...\n{res.stderr}")

copies = re.findall(r"COPY --from=build (.*) /usr/local/bin/", text)
binaries = copies[0].split() if copies else []
if not binaries:
    problems.append("no COPY --from=build ... /usr/local/bin/ line")
for path in binaries:
    rel = os.path.relpath(path, "/build")
    if not os.access(os.path.join(build_dir, rel), os.X_OK):
        problems.append(f"Dockerfile copies {path}, but this build has no {rel}")

for p in problems:
    print("FAIL:", p)
print("deploy: ok" if not problems else f"deploy: {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
