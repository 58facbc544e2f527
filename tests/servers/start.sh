#!/usr/bin/env bash
# Starts the loopback servers that Volley's e2e tests and benchmark run against, and writes
# their ports and log paths to an env file (KEY=value lines, shell-quoted) that tests read:
#
#   httpbin  Debian's python3-httpbin under gunicorn, plain HTTP, with an access log
#   tls      nginx with a throw-away self-signed certificate and http2, proxy_pass to httpbin,
#            with its own access log
#   bench    nginx answering a small static body, no access log, for scripts/bench.sh
#
# Usage: tests/servers/start.sh [httpbin] [tls] [bench]     (default: all three; tls needs httpbin)
# Environment:
#   VOLLEY_TEST_ENV          env file to write   (default: build/test-servers.env)
#   VOLLEY_TEST_SERVERS_DIR  state, configs, logs (default: build/test-servers)
#
# Every server runs in the foreground of its own background process (nginx with `daemon off`
# and its own prefix directory, never the system config), so tests/servers/stop.sh can stop it
# by pid. Starting again first stops whatever the env file names.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
. "$here/lib.sh"

want=("$@")
[ "${#want[@]}" -gt 0 ] || want=(httpbin tls bench)
wants() { local w; for w in "${want[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1; }
for w in "${want[@]}"; do
  case "$w" in httpbin|tls|bench) ;; *) die "unknown server '$w' (httpbin, tls, bench)";; esac
done
if wants tls && ! wants httpbin; then die "tls proxies to httpbin: start both"; fi

"$here/stop.sh" >/dev/null 2>&1 || true
rm -rf "$servers_dir/httpbin" "$servers_dir/tls" "$servers_dir/bench"
mkdir -p "$servers_dir"
env_lines=()
started_pids=()
started_ok=0
on_exit() {
  [ "$started_ok" = 1 ] && return 0
  stop_pids "${started_pids[@]}"
  echo "servers: start failed; logs are under $servers_dir" >&2
}
trap on_exit EXIT

# Starts one server on a fresh free port: $1 name, $2 readiness URL template with PORT, then
# a function that launches the server on port $PORT in the background and sets $pid. A port
# can be taken between choosing and binding it, so a server that dies or never answers is
# retried on another port.
start_on_free_port() {
  local name="$1" probe="$2" launch="$3" attempt
  for attempt in 1 2 3 4 5; do
    PORT="$(free_port)"
    $launch
    if wait_ready "$pid" "$PORT" "${probe//PORT/$PORT}" 30; then
      started_pids+=("$pid")
      echo "servers: $name listening on 127.0.0.1:$PORT (pid $pid)"
      return 0
    fi
    echo "servers: $name did not come up on port $PORT (attempt $attempt), retrying" >&2
    stop_pids "$pid"
  done
  die "$name would not start; see $servers_dir/$name"
}

# --- httpbin under gunicorn ----------------------------------------------------------------
launch_httpbin() {
  local dir="$servers_dir/httpbin"
  mkdir -p "$dir"
  # gthread workers keep connections alive, as a real httpbin.org does; several threads let
  # a few VUs run at once. --access-logfile is what the count tests read.
  (cd "$dir" && exec "$PYTHON" "$GUNICORN" --bind "127.0.0.1:$PORT" \
      --worker-class gthread --workers 2 --threads 8 --keep-alive 5 --graceful-timeout 5 \
      --access-logfile "$dir/access.log" --error-logfile "$dir/error.log" \
      --pid "$dir/gunicorn.pid" httpbin:app </dev/null >"$dir/stdout.log" 2>&1) &
  pid=$!
}
if wants httpbin; then
  [ -x "$GUNICORN" ] || die "$GUNICORN not found: run scripts/deps.sh (gunicorn, python3-httpbin)"
  "$PYTHON" -c 'import httpbin' 2>/dev/null ||
    die "$PYTHON cannot import httpbin: run scripts/deps.sh (python3-httpbin)"
  start_on_free_port httpbin "http://127.0.0.1:PORT/get" launch_httpbin
  httpbin_port=$PORT
  env_lines+=("VOLLEY_HTTPBIN_PORT=$PORT" "VOLLEY_HTTPBIN_URL=http://127.0.0.1:$PORT"
              "VOLLEY_HTTPBIN_ACCESS_LOG=$servers_dir/httpbin/access.log"
              "VOLLEY_HTTPBIN_PID=$pid")
fi

# --- nginx, TLS + HTTP/2 front for httpbin ---------------------------------------------------
launch_tls() {
  local dir="$servers_dir/tls"
  write_nginx_conf "$dir" <<EOF
  upstream httpbin {
    server 127.0.0.1:$httpbin_port;
    keepalive 16;
  }
  server {
    listen 127.0.0.1:$PORT ssl http2;
    ssl_certificate $dir/cert.pem;
    ssl_certificate_key $dir/key.pem;
    access_log $dir/access.log volley;
    location / {
      proxy_pass http://httpbin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-Proto https;
      proxy_buffering off;
    }
  }
EOF
  launch_nginx "$dir"
}
if wants tls; then
  dir="$servers_dir/tls"
  mkdir -p "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,DNS:httpbin.org,DNS:test-api.k6.io,IP:127.0.0.1" \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" >/dev/null 2>&1 ||
    die "openssl could not make a self-signed certificate"
  start_on_free_port tls "https://127.0.0.1:PORT/get" launch_tls
  env_lines+=("VOLLEY_TLS_PORT=$PORT" "VOLLEY_TLS_URL=https://127.0.0.1:$PORT"
              "VOLLEY_TLS_ACCESS_LOG=$dir/access.log" "VOLLEY_TLS_CERT=$dir/cert.pem"
              "VOLLEY_TLS_PID=$pid")
fi

# --- nginx, static response for benchmarks -------------------------------------------------
launch_bench() {
  local dir="$servers_dir/bench"
  write_nginx_conf "$dir" <<EOF
  server {
    listen 127.0.0.1:$PORT;
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 60s;
    location / {
      default_type text/plain;
      return 200 "hello from volley bench\n";
    }
  }
EOF
  launch_nginx "$dir"
}
if wants bench; then
  start_on_free_port bench "http://127.0.0.1:PORT/" launch_bench
  env_lines+=("VOLLEY_BENCH_PORT=$PORT" "VOLLEY_BENCH_URL=http://127.0.0.1:$PORT/"
              "VOLLEY_BENCH_PID=$pid")
fi

# The env file appears only once every server answers, so its presence means "ready".
env_lines+=("VOLLEY_TEST_SERVERS_DIR=$servers_dir")
mkdir -p "$(dirname "$env_file")"
{
  echo "# Written by tests/servers/start.sh; read by tests/e2e and scripts/bench.sh."
  for line in "${env_lines[@]}"; do printf '%s=%q\n' "${line%%=*}" "${line#*=}"; done
} >"$env_file.tmp"
mv "$env_file.tmp" "$env_file"
started_ok=1
echo "servers: env file $env_file"
