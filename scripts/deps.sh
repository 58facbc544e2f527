#!/usr/bin/env bash
# Installs everything Volley needs to build and test on Debian 12, from Debian packages only.
# V8 comes from Debian's libnode108 + libnode-dev, unpacked into .deps/libnode: installing them
# with apt fails on machines whose nodejs comes from NodeSource (libnode108 depends on
# node-acorn, which wants Debian's nodejs), and the unpacked copy needs only shared libraries
# that apt installs without trouble. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

packages=(
  build-essential cmake pkg-config git ca-certificates curl openssl
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libcurl4-openssl-dev libspdlog-dev libfmt-dev libyaml-cpp-dev libgtest-dev libgmock-dev
  libboost-context-dev libboost-dev nlohmann-json3-dev libcli11-dev libssl-dev
  libicu72 libuv1 libc-ares2 libbrotli1 libnghttp2-14 zlib1g
  nginx wrk python3 python3-httpbin gunicorn iproute2 procps
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

if [ ! -f .deps/libnode/usr/include/node/v8.h ] || \
   ! ls .deps/libnode/usr/lib/x86_64-linux-gnu/libnode.so.108 >/dev/null 2>&1; then
  echo "deps: unpacking libnode (V8) into .deps/libnode"
  rm -rf .deps/libnode .deps/debs
  mkdir -p .deps/debs .deps/libnode
  (cd .deps/debs && apt-get download libnode108 libnode-dev 2>/dev/null) || {
    $SUDO apt-get update -qq
    (cd .deps/debs && apt-get download libnode108 libnode-dev)
  }
  for deb in .deps/debs/*.deb; do dpkg-deb -x "$deb" .deps/libnode; done
fi
echo "deps: ok"
