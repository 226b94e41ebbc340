#!/usr/bin/env bash
# Install what ivt needs, build it, and run the main job: ivtd on its
# embedded default (local registry, shm backend: no Xen needed) and a demo
# transfer between two client processes through libivt, then the status.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"

run=$(mktemp -d /tmp/ivt-demo.XXXXXX)
export IVT_SOCKET="$run/ivtd.sock" IVT_PLUGIN_DIR="$PWD/build/plugins"
bytes=${IVT_DEMO_BYTES:-1073741824}

echo "== starting ivtd (policy conf/policy.json, socket $IVT_SOCKET)"
build/bin/ivtd -c conf/policy.json -s "$IVT_SOCKET" &
ivtd_pid=$!
trap 'kill $ivtd_pid 2>/dev/null; wait $ivtd_pid 2>/dev/null; rm -rf "$run"' EXIT
for _ in $(seq 100); do [ -S "$IVT_SOCKET" ] && break; sleep 0.05; done

echo "== demo transfer: $bytes bytes over channel 'demo'"
build/bin/ivt-demo listen demo &
listener=$!
build/bin/ivt-demo connect demo --bytes "$bytes"
wait $listener

echo "== ivtd status"
build/bin/ivtctl -s "$IVT_SOCKET" status
