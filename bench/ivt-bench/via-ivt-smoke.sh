#!/bin/sh
# SPDX-License-Identifier: MIT
# ctest smoke run of `ivt-bench --via-ivt`: a private ivtd with a policy
# for channels "bench-*", both halves on this host (shm), a small sweep.
# Must finish with both halves at exit 0 and every point verified; the
# numbers are not checked. Usage: via-ivt-smoke.sh BIN_DIR PLUGIN_DIR [--zc
# ["--repeat N"]] (--zc: copy send vs reserve/commit, both verified;
# --repeat: N alternating runs of both per point, medians)
set -u
bin=$1
export IVT_PLUGIN_DIR=$2
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
"$bin/ivtd" -c "$dir/policy.json" -s "$IVT_SOCKET" -r local >"$dir/ivtd.log" 2>&1 &
ivtd=$!
i=0
while [ ! -S "$IVT_SOCKET" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
args="--via-ivt --channel bench --rings 4K,1M --writes 64,64K --bytes 4M --timeout 30 ${3:-} ${4:-}"
"$bin/ivt-bench" $args --role listen >"$dir/listen.out" 2>&1 &
l=$!
"$bin/ivt-bench" $args --role connect >"$dir/connect.out" 2>&1
crc=$?
wait $l
lrc=$?
cat "$dir/listen.out" "$dir/connect.out"
[ $lrc = 0 ] && [ $crc = 0 ] && grep -q 'all 4 points verified' "$dir/listen.out" && exit 0
echo "FAIL: listen exit $lrc, connect exit $crc; ivtd log:"
cat "$dir/ivtd.log"
exit 1
