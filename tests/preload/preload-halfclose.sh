#!/usr/bin/env bash
# Half-close under the preload against TCP's: a client sends a request,
# shutdown(SHUT_WR), and reads the reply that the server sends only once
# it read the end of stream (half_close.py: both ends, with the readiness
# each sees on the way); the same with real programs, nc -N and socat,
# against half_close.py's server. Each scenario runs over TCP and through
# the preload and must give the same (also the readiness after an
# application's own SHUT_RD/WR/RDWR); through the preload every connect
# must be ivt and every shutdown a real half-close (its log line). Before
# half-close the server waited for the end of stream until the client
# closed, and these clients never closed before the reply came.
set -uo pipefail
NEED="python3 nc socat"
PRELOAD_RING=65536 # the request spans many rings: the end waits behind them
. "$(dirname "$0")/preload-lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
LIMIT=${HALFCLOSE_LIMIT:-60} # s per run: a missing end of stream hangs, it must fail instead

# What the preload said about shutdown: a half-close, never the fallback.
check_half() { # log, what
	grep -q "SHUT_WR): half-close" "$1" && ! grep -q "no half-close" "$1" ||
		{ fail "$2: shutdown was no half-close"; grep "ivt-preload" "$1" | head -5; }
}

for mode in kernel ivt; do
	next_port
	with $mode timeout $LIMIT "$PY" "$HERE/half_close.py" pair $PORT 1000000 >"$T/pair-$mode.log" 2>&1 ||
		{ fail "request, SHUT_WR, reply ($mode)"; cat "$T/pair-$mode.log"; }
done
check_ivt "$T/pair-ivt.log" "request, SHUT_WR, reply" 1
check_half "$T/pair-ivt.log" "request, SHUT_WR, reply"
same_output "$T/pair-kernel.log" "$T/pair-ivt.log" "half-close through the preload differs from TCP's"
grep -q "client read the reply: 1500024 bytes, exact" "$T/pair-ivt.log" ||
	fail "the reply after SHUT_WR did not arrive whole"

for mode in kernel ivt; do
	next_port
	with $mode timeout $LIMIT "$PY" "$HERE/half_close.py" shut $PORT >"$T/shut-$mode.log" 2>&1 ||
		{ fail "own shutdowns ($mode)"; cat "$T/shut-$mode.log"; }
done
check_ivt "$T/shut-ivt.log" "own shutdowns" 1
same_output "$T/shut-kernel.log" "$T/shut-ivt.log" \
	"readiness after the application's own shutdowns differs from TCP's"

head -c 300000 /dev/urandom >"$T/request"
# prog: how each client program is run (stdin the request, stdout the reply)
for prog in "nc -N 127.0.0.1" "socat -t $LIMIT - TCP:127.0.0.1:"; do
	name=${prog%% *}
	for mode in kernel ivt; do
		next_port
		start_bg "$T/$name-srv-$mode.log" $mode timeout $LIMIT "$PY" "$HERE/half_close.py" server $PORT
		SRV=$BG
		wait_listen $mode $PORT "$T/$name-srv-$mode.log"
		target="$prog $PORT"
		[ $name = socat ] && target="$prog$PORT"
		# shellcheck disable=SC2086 # the program and its arguments
		with $mode timeout $LIMIT $target <"$T/request" >"$T/$name-out-$mode" 2>"$T/$name-cli-$mode.log" ||
			fail "$name ($mode) failed"
		wait $SRV || fail "$name's server ($mode) failed"
		sha256sum <"$T/$name-out-$mode" >"$T/$name-sum-$mode"
	done
	check_ivt "$T/$name-cli-$mode.log" "$name" 1
	check_half "$T/$name-cli-$mode.log" "$name"
	cmp -s "$T/$name-sum-kernel" "$T/$name-sum-ivt" || fail "$name: the reply differs from TCP's"
	[ "$(head -c 21 "$T/$name-out-ivt")" = "reply to 300000 bytes" ] ||
		fail "$name: no reply to the whole request through ivt"
	same_output "$T/$name-srv-kernel.log" "$T/$name-srv-ivt.log" \
		"$name: what the server read differs from TCP's"
done

finish "preload half-close test passed"
