#!/usr/bin/env bash
# Servers that fork after accept() (docs/preload.md, "fork"): the parent
# closes its copy without touching it and the child serves (socat's fork
# option, python's ForkingTCPServer), and the other way round, a parent
# that serves while its child only closes its copy. Each over TCP and
# through the preload; the echoed bytes must be the same, and every client
# connection must have gone over ivt.
set -uo pipefail
NEED="socat python3"
. "$(dirname "$0")/preload-lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
SIZE=1048576

run() { # what, who serves (child|parent), server command...: 3 clients
	local what=$1 who=$2 mode; shift 2
	for mode in kernel ivt; do
		next_port
		local srv=("${@//PORT/$PORT}")
		start_bg "$T/$what-srv-$mode.log" $mode "${srv[@]}"
		local s=$BG
		wait_listen $mode $PORT "$T/$what-srv-$mode.log"
		out=$(with $mode "$PY" "$HERE/fork_echo.py" client $PORT $SIZE 3 2>"$T/$what-cli-$mode.log")
		echo "$what $mode: $out"
		[ "$out" = "ok 3" ] || { fail "$what $mode: '$out'"; tail -5 "$T/$what-srv-$mode.log"; }
		kill $s 2>/dev/null
		wait $s 2>/dev/null
		[ $mode = ivt ] || continue
		check_ivt "$T/$what-cli-$mode.log" "$what" 3
		# the preload's word: children took the streams over, or none did
		n=$(grep -c "fork: process .* takes over" "$T/$what-srv-$mode.log")
		[ $who = child ] && [ "$n" -lt 3 ] && fail "$what: $n of 3 streams taken over by a child"
		[ $who = parent ] && [ "$n" -ne 0 ] && fail "$what: a child took a stream over"
		! grep -q "ENOTCONN" "$T/$what-srv-$mode.log" || fail "$what: ENOTCONN in the server"
	done
}

run socat-fork child socat TCP-LISTEN:PORT,reuseaddr,fork,bind=127.0.0.1 SYSTEM:cat
run forking-tcp-server child "$PY" "$HERE/fork_echo.py" forking PORT
run parent-serves parent "$PY" "$HERE/fork_echo.py" parent PORT 3

finish "preload fork test passed"
