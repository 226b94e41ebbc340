#!/bin/sh
# SPDX-License-Identifier: MIT
# Instructions per 64-byte ivt_send and ivt_recv through the whole library
# over shm: a private ivtd, `ivt-bench --via-ivt` with 64 B writes on a
# 1 MiB ring, one half under callgrind (the writer, then the reader), the
# other half native. Prints Ir per call (inclusive) of ivt_send/ivt_recv.
# Usage: callgrind-64.sh BUILD_DIR [BYTES]   (default 64M: 131072 calls)
# Needs valgrind and python3. Under emulation (QEMU TCG, the Xen bed)
# every instruction costs time, so this predicts the bed's 64 B points.
set -eu
b=$(cd "$1" && pwd)
bytes=${2:-64M}
export IVT_PLUGIN_DIR=$b/plugins
. "$(dirname "$0")/bench-ivtd.sh"
bench_ivtd "$b/bin"
args="--via-ivt --channel bench-cg --rings 1M --writes 64 --bytes $bytes --timeout 600"
cg="valgrind --tool=callgrind --callgrind-out-file"
# the writer under callgrind, then the reader
$cg="$dir/send.cg" "$b/bin/ivt-bench" $args --role listen >"$dir/l1" 2>&1 &
p=$!
"$b/bin/ivt-bench" $args --role connect >"$dir/c1" 2>&1
wait $p
"$b/bin/ivt-bench" $args --role listen >"$dir/l2" 2>&1 &
p=$!
$cg="$dir/recv.cg" "$b/bin/ivt-bench" $args --role connect >"$dir/c2" 2>&1
wait $p
grep -q 'all 1 points verified' "$dir/l1" && grep -q 'all 1 points verified' "$dir/l2" ||
	{ echo "callgrind-64: a sweep failed"; cat "$dir"/l1 "$dir"/l2; exit 1; }
# callgrind's call records: "cfn=(id) name", "calls=N ...", then the
# line with the callee's inclusive cost
python3 - "$dir/send.cg" ivt_send "$dir/recv.cg" ivt_recv <<'PY'
import re, sys
def per_call(path, fn):
    names, calls, ir, cur, pending = {}, 0, 0, None, False
    for line in open(path):
        m = re.match(r'(c?fn)=\((\d+)\)(?: (.*))?', line)
        if m:
            if m.group(3):
                names[m.group(2)] = m.group(3).strip()
            if m.group(1) == 'cfn':
                cur = names.get(m.group(2))
            continue
        if line.startswith('calls='):
            pending = cur == fn
            if pending:
                calls += int(line.split('=')[1].split()[0])
            continue
        if pending:
            ir += int(line.split()[1])
            pending = False
    return calls, ir
a = sys.argv[1:]
for path, fn in zip(a[::2], a[1::2]):
    c, ir = per_call(path, fn)
    print("%-9s %7d calls, %5.0f instructions per call (64 B, shm, inclusive)" % (fn, c, ir / c if c else 0))
PY
