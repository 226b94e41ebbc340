# SPDX-License-Identifier: MIT
# Sourced by via-ivt-smoke.sh and callgrind-64.sh: a private ivtd whose
# policy lets anyone open channels "bench-*" with rings up to 1 MiB.
# bench_ivtd BIN_DIR: sets $dir (a fresh temporary folder, removed with
# ivtd on exit) and $ivtd, exports IVT_SOCKET; returns once ivtd listens.
bench_ivtd() {
	dir=$(mktemp -d)
	export IVT_SOCKET=$dir/ivtd.sock
	trap 'kill $ivtd 2>/dev/null; rm -rf "$dir"' EXIT
	cat >"$dir/policy.json" <<'JSON'
{ "version": 1,
  "defaults": { "ring_size": 65536, "max_ring_size": 1048576 },
  "channels": [ { "name": "bench-*", "listeners": ["*"], "connectors": ["*"],
                  "max_ring_size": 1048576 } ],
  "hosts": [] }
JSON
	"$1/ivtd" -c "$dir/policy.json" -s "$IVT_SOCKET" -r local >"$dir/ivtd.log" 2>&1 &
	ivtd=$!
	i=0
	while [ ! -S "$IVT_SOCKET" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
}
