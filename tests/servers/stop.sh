#!/usr/bin/env bash
# Stops the servers that tests/servers/start.sh recorded in the env file, and removes the file.
# Safe to run when nothing is running. Logs stay under the servers directory for reading.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
. "$here/lib.sh"

[ -f "$env_file" ] || { echo "servers: nothing to stop ($env_file absent)"; exit 0; }
# The file is ours, written with printf %q; sourcing it in a subshell reads it back exactly.
pids="$(. "$env_file"; echo "${VOLLEY_TLS_PID:-} ${VOLLEY_BENCH_PID:-} ${VOLLEY_HTTPBIN_PID:-}")"
stop_pids $pids
rm -f "$env_file"
echo "servers: stopped"
