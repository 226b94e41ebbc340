#!/bin/bash
# SPDX-License-Identifier: MIT
# What a user sees of a policy's mistakes (conf/README.md, ivtctl(1),
# ivtd(8)): `ivtctl check-policy` names the JSON path of a number out of
# range and of an inherited ring size that does not fit, states the 1 MiB
# limit with the file's size, and warns (exit 0) when "root_reserve" is
# more than ivtd can keep; ivtd logs the root_reserve it actually uses,
# and that a store no rule reaches is off; ivtctl names a wrong argument.
# Usage: check-policy.sh BIN_DIR PLUGIN_DIR
set -u
bin=$1
export IVT_PLUGIN_DIR=$2
dir=$(mktemp -d)
ivtd=
trap '[ -z "$ivtd" ] || kill "$ivtd" 2>/dev/null; rm -rf "$dir"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# check EXIT TEXT JSON: check-policy on JSON exits EXIT and prints TEXT
check() {
	printf '%s' "$3" >"$dir/p.json"
	out=$("$bin/ivtctl" check-policy "$dir/p.json" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/    /'
	[ $rc = "$1" ] || fail "exit $rc, not $1, for: $3"
	echo "$out" | grep -qF -- "$2" || fail "no '$2' for: $3"
}
rule='{"name": "a", "listeners": ["*"], "connectors": ["*"]'

echo "1. numbers out of range, inherited ring sizes: the path"
check 1 "p.json:2: channels[0].ring_size: 99999999999999999999 is out of range" \
	"{\"version\": 1, \"channels\": [$rule,
	\"ring_size\": 99999999999999999999}]}"
check 1 "p.json:2: channels[0].max_ring_size: 8192 is smaller than ring_size 65536 (the built-in default)" \
	"{\"version\": 1, \"channels\": [$rule,
	\"max_ring_size\": 8192}]}"

echo "2. root_reserve beyond what ivtd keeps: a warning"
check 0 "warning: $dir/p.json:2: limits.root_reserve: 40000 is more than half of the largest connection table ivtd has (65536 places), so ivtd uses 32768" \
	'{"version": 1,
	"limits": {"root_reserve": 40000}}'

echo "3. a file over 1 MiB: the limit and its size"
{ printf '{"version": 1}'; head -c 1048576 /dev/zero | tr '\0' ' '; } >"$dir/big.json"
out=$("$bin/ivtctl" check-policy "$dir/big.json" 2>&1)
echo "    $out"
[ "$out" = "$dir/big.json: 1048590 bytes; a policy file may have at most 1048576 bytes (1 MiB)" ] ||
	fail "the size error says '$out'"

echo "4. ivtd logs the root_reserve it uses (open file limit 600: 344 places)"
printf '{"version": 1,\n"limits": {"root_reserve": 1000}}' >"$dir/rr.json"
(ulimit -n 600 && exec "$bin/ivtd" -c "$dir/rr.json" -s "$dir/ivtd.sock" -r local) \
	>"$dir/ivtd.log" 2>&1 &
ivtd=$!
for _ in $(seq 100); do [ -S "$dir/ivtd.sock" ] && break; sleep 0.1; done
want="warning: $dir/rr.json:2: limits.root_reserve: 1000 is more than half of ivtd's connection table (344 places), so ivtd uses 172"
grep -F -- "$want" "$dir/ivtd.log" | sed 's/^/    /'
grep -qF -- "$want" "$dir/ivtd.log" || { fail "ivtd does not log the root_reserve it uses"; cat "$dir/ivtd.log"; }
# a policy without a rule for the store: ivtd says it is off, as status does
grep -qF "ivt.utmem: off, no policy rule lets anyone connect" "$dir/ivtd.log" ||
	fail "ivtd does not say the utmem store is off"
grep -qF "store ready" "$dir/ivtd.log" && fail "ivtd calls an unreachable utmem store ready"
kill "$ivtd"
wait "$ivtd"
ivtd=

echo "5. a wrong argument is named"
out=$("$bin/ivtctl" status --bogus 2>&1)
rc=$?
echo "$out" | head -1 | sed 's/^/    /'
[ $rc = 2 ] || fail "ivtctl status --bogus exits $rc, not 2"
echo "$out" | grep -qF -- "unexpected argument '--bogus'" || fail "ivtctl does not name --bogus"
echo "failures: $fails"
[ $fails = 0 ]
