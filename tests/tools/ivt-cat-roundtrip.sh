#!/bin/bash
# SPDX-License-Identifier: MIT
# ivt-cat end to end through a private ivtd (shm on this host):
#  1. IVT_CAT_BYTES (default 1 GiB) of random data go source -> hop A
#     (`ivt-cat listen | ivt-cat connect`, a relay) -> hop B (`listen
#     --exec 'sha256sum'`): the checksum at the far end must equal the
#     source's, and every ivt-cat must exit 0;
#  2. a connector killed mid-stream makes its listener exit 2 (reset),
#     one that ends its input makes it exit 0 (clean EOF);
#     input the peer never took makes the connector exit 2, a request's
#     end half-closes and the answer comes back, and listen -t with nobody
#     coming exits 1;
#  3. usage errors; 4. idle ends do not wake; 5. one-shot listen frees
#     the name once accepted, a message larger than ivt-cat's buffer
#     arrives whole, a negative -r is refused.
# Usage: ivt-cat-roundtrip.sh BIN_DIR PLUGIN_DIR
set -u
bin=$1
export IVT_PLUGIN_DIR=$2
bytes=${IVT_CAT_BYTES:-1G}
dir=$(mktemp -d)
export IVT_SOCKET=$dir/ivtd.sock
trap 'kill $ivtd 2>/dev/null; rm -rf "$dir"' EXIT
cat >"$dir/policy.json" <<'JSON'
{ "version": 1,
  "channels": [ { "name": "cat-msg", "listeners": ["*"], "connectors": ["*"],
                  "backend": "shm", "ring_size": 65536, "message": true },
                { "name": "cat-*", "listeners": ["*"], "connectors": ["*"],
                  "backend": "shm", "ring_size": 1048576 } ] }
JSON
"$bin/ivtd" -c "$dir/policy.json" -s "$IVT_SOCKET" -r local -q >"$dir/ivtd.log" 2>&1 &
ivtd=$!
i=0
while [ ! -S "$IVT_SOCKET" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
fail() { echo "FAIL: $*"; echo "ivtd log:"; cat "$dir/ivtd.log"; exit 1; }
cat_="$bin/ivt-cat"

# 1. two hops, checksum at the far end
"$cat_" listen cat-b -n 1 --exec "sha256sum | cut -d' ' -f1 > $dir/far.sum" &
far=$!
( "$cat_" listen cat-a -n 1 | "$cat_" connect cat-b -t 30000; echo $? >"$dir/relay.rc" ) &
relay=$!
head -c "$bytes" /dev/urandom | tee >(sha256sum | cut -d' ' -f1 >"$dir/src.sum") |
	"$cat_" connect cat-a -t 30000
src_rc=$?
wait $relay
wait $far
far_rc=$?
sleep 0.2 # the tee's checksum process
[ $src_rc = 0 ] || fail "source ivt-cat exited $src_rc"
[ "$(cat "$dir/relay.rc")" = 0 ] || fail "relay exited $(cat "$dir/relay.rc")"
[ $far_rc = 0 ] || fail "far ivt-cat exited $far_rc"
[ -s "$dir/src.sum" ] && [ "$(cat "$dir/src.sum")" = "$(cat "$dir/far.sum")" ] ||
	fail "checksums differ: $(cat "$dir/src.sum") vs $(cat "$dir/far.sum")"
echo "ok: $bytes through two channels, sha256 $(cat "$dir/far.sum")"

# 2. exit status reflects the peer
# A `listen -v` said "connection from" in its stderr file $1 (up to 60 s:
# kill an end only once connected; not a timing assertion, a wait).
wait_connected() {
	local i=0
	while ! grep -q "connection from" "$1" && [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}
# reset_exit NAME connector|listener: a connection on NAME whose given
# end is killed once connected; returns the other end's exit status.
reset_exit() {
	"$cat_" listen "$1" -n 1 -v >/dev/null 2>"$dir/$1.err" &
	local l=$!
	"$cat_" connect "$1" -t 10000 </dev/zero >/dev/null &
	local c=$!
	wait_connected "$dir/$1.err"
	if [ "$2" = connector ]; then
		kill -9 $c
		wait $l
	else
		kill -9 $l
		wait $c
	fi
}
reset_exit cat-kill connector
rc=$?
[ $rc = 2 ] || fail "listener of a killed connector exited $rc, want 2"
"$cat_" listen cat-eof -n 1 >"$dir/eof.out" &
l=$!
echo hello | "$cat_" connect cat-eof -t 10000 || fail "clean connector failed"
wait $l
rc=$?
[ $rc = 0 ] && [ "$(cat "$dir/eof.out")" = hello ] || fail "clean EOF: exit $rc"
# ... the listener killed: its connector exits 2; a CMD failing: exit 2
reset_exit cat-lkill listener
rc=$?
[ $rc = 2 ] || fail "connector of a killed listener exited $rc, want 2"
"$cat_" listen cat-cmd -n 1 --exec 'cat >/dev/null; exit 3' &
l=$!
echo x | "$cat_" connect cat-cmd -t 10000 || fail "connector to a failing CMD failed"
wait $l
rc=$?
[ $rc = 2 ] || fail "listener whose CMD exited 3 exited $rc, want 2"
# ... a listener that stops taking input (its output fails) while the
# connector has more than a ring's worth left: the connector exits 2 (it
# once exited 0, "clean", with 2 of its 3 MB never delivered)
head -c 3000000 /dev/urandom >"$dir/3m.bin"
"$cat_" listen cat-full -n 1 </dev/null >/dev/full 2>/dev/null &
l=$!
"$cat_" connect cat-full -t 10000 <"$dir/3m.bin" 2>"$dir/full.err"
rc=$?
wait $l
[ $rc = 2 ] && grep -q "before taking all input" "$dir/full.err" ||
	fail "connector whose peer stopped early exited $rc: $(cat "$dir/full.err")"
# ... half-close: a request, its end, then the answer CMD wrote after
# reading that end (before half-close the connector closed at the end of
# its input and the answer was lost)
"$cat_" listen cat-rr -n 1 --exec 'sha256sum | cut -d" " -f1' &
l=$!
ans=$("$cat_" connect cat-rr -t 10000 -v <"$dir/3m.bin" 2>"$dir/rr.err")
rc=$?
wait $l
[ $rc = 0 ] && [ "$ans" = "$(sha256sum <"$dir/3m.bin" | cut -d' ' -f1)" ] &&
	grep -q "half-closed" "$dir/rr.err" ||
	fail "request then answer: exit $rc, answer '$ans': $(cat "$dir/rr.err")"
# ... listen -t: nobody came within the time: exit 1 with the reason
out=$("$cat_" -t 300 listen cat-nobody 2>&1)
rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "no connection within 300 ms" ||
	fail "listen -t 300 with no connector: exit $rc, output: $out"
echo "ok: exit 2 on reset or undelivered input, 0 on clean EOF, 1 when nobody came"

# 3. a usage error says what was wrong in a few lines, exit 1
out=$("$cat_" connect 2>&1)
rc=$?
[ $rc = 1 ] && [ "$(echo "$out" | wc -l)" -le 4 ] && echo "$out" | grep -q -- "--help" ||
	fail "usage error: exit $rc, output: $out"
out=$("$cat_" bogus x 2>&1)
[ $? = 1 ] && echo "$out" | grep -q "unknown mode 'bogus'" && [ "$(echo "$out" | wc -l)" -le 4 ] ||
	fail "unknown mode: $out"
echo "ok: usage errors"

# 4. an idle relay sleeps: both ends connected, nothing flows for 2 s.
# ivt-cat once capped its poll at 100 ms (about 20 wake-ups in 2 s);
# now it sleeps until the peer or its input acts. A count, not a time:
# a loaded machine delays wake-ups, it does not add them.
wakeups() { # pid: voluntary context switches of all its threads
	cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s + 0}'
}
mkfifo "$dir/idle.in"
"$cat_" listen cat-idle -n 1 -v <"$dir/idle.in" >/dev/null 2>"$dir/cat-idle.err" &
l=$!
exec 7<>"$dir/idle.in" # the listener's input stays open and silent
# ... and so does the connector's (a FIFO we hold, not a `sleep | ...`
# found again with pgrep and pkill: those names match other runs' processes)
mkfifo "$dir/idle-c.in"
exec 6<>"$dir/idle-c.in"
"$cat_" connect cat-idle -t 10000 <"$dir/idle-c.in" >/dev/null &
c=$!
wait_connected "$dir/cat-idle.err"
sleep 0.5 # let the set-up's own wake-ups pass
l0=$(wakeups $l) c0=$(wakeups $c)
sleep 2
l1=$(wakeups $l) c1=$(wakeups $c)
kill $l $c 2>/dev/null
exec 7>&- 6>&-
[ $((l1 - l0)) -le 6 ] && [ $((c1 - c0)) -le 6 ] ||
	fail "idle ivt-cat woke $((l1 - l0)) (listener) and $((c1 - c0)) (connector) times in 2 s, want <= 6"
echo "ok: idle ends woke $((l1 - l0)) and $((c1 - c0)) times in 2 s"

# 5. listen (one connection) stops listening once it accepted, as nc -l:
# a second connector is not queued behind the first: like any connector to
# a name nobody listens on it waits its -t for a listener, then says so
# (it once was queued, then "did not accept this connection in time")
mkfifo "$dir/one.in"
"$cat_" listen cat-one -v <"$dir/one.in" >/dev/null 2>"$dir/cat-one.err" &
l=$!
exec 8<>"$dir/one.in"
mkfifo "$dir/one-c.in"
exec 6<>"$dir/one-c.in"
"$cat_" connect cat-one -t 10000 <"$dir/one-c.in" >/dev/null &
c=$!
wait_connected "$dir/cat-one.err"
out=$(echo x | "$cat_" connect cat-one -t 2000 2>&1)
rc=$?
exec 8>&- 6>&-
kill $l $c 2>/dev/null
[ $rc = 1 ] && ! echo "$out" | grep -q "in time" &&
	echo "$out" | grep -q "no listener for channel 'cat-one'" ||
	fail "second connector to a one-shot listener: exit $rc: $out"
echo "ok: a one-shot listener frees its name once it accepted ($out)"
# ... a 1 MiB message (4x ivt-cat's buffer, 16x the ring) arrives whole:
# ivt-cat once exited 2 with "message too large" and 10 bytes of output
src_dir=$(cd "$(dirname "$0")/../.." && pwd)
"$cat_" listen cat-msg -n 1 </dev/null >"$dir/msg.out" 2>"$dir/msg.err" &
l=$!
# an ASan build's libivt needs the runtime first in python (not built
# with it); python's own exit-time leaks are not ours
py_env=(IVT_LIB="$bin/../lib/libivt.so" PYTHONPATH="$src_dir/python")
[ -n "${IVT_ASAN_RUNTIME:-}" ] &&
	py_env+=(LD_PRELOAD="$IVT_ASAN_RUNTIME" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0")
env "${py_env[@]}" python3 - <<'PY' || fail "python message sender failed"
import hashlib, os, sys
from ivt import Channel
ch = Channel.open("cat-msg", message=True, timeout_ms=10000)
for n in (10, 1 << 20, 3):
    ch.sendall(b"m" * n)
ch.close()
PY
wait $l
rc=$?
[ $rc = 0 ] && [ "$(stat -c %s "$dir/msg.out")" = $((10 + 1048576 + 3)) ] ||
	fail "message channel: exit $rc, $(stat -c %s "$dir/msg.out") bytes: $(cat "$dir/msg.err")"
echo "ok: a 1 MiB message through ivt-cat listen"
out=$("$cat_" -r -1 listen cat-neg 2>&1)
[ $? = 1 ] && echo "$out" | grep -q "positive byte count" || fail "-r -1: $out"
out=$("$cat_" -r 99999999999999999999 listen cat-neg 2>&1)
[ $? = 1 ] && echo "$out" | grep -q "positive byte count" || fail "-r overflow: $out"
echo "ok: bad -r refused"

# 6. ivtd stopping (SIGTERM) lets its ends go; its log says so instead of
# calling every listener "died" (the ends did nothing wrong)
kill $ivtd; wait $ivtd 2>/dev/null
"$bin/ivtd" -c "$dir/policy.json" -s "$IVT_SOCKET" -r local >"$dir/ivtd2.log" 2>&1 &
ivtd=$!
i=0
while [ ! -S "$IVT_SOCKET" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
"$cat_" listen cat-stop -n 1 </dev/null >/dev/null 2>&1 &
l=$!
i=0
while ! grep -q "cat-stop" "$dir/ivtd2.log" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -TERM $ivtd
wait $ivtd
rc=$?
kill $l 2>/dev/null
grep -q "listener uid:[0-9]* let go (ivtd stopping)" "$dir/ivtd2.log" &&
	! grep -q "died" "$dir/ivtd2.log" && [ $rc = 0 ] ||
	{ cat "$dir/ivtd2.log"; fail "ivtd's SIGTERM: exit $rc, log above"; }
echo "ok: SIGTERM lets the listener go, logged so"
