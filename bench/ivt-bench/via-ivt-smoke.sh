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
. "$(dirname "$0")/bench-ivtd.sh"
bench_ivtd "$bin"
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
