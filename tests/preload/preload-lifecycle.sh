#!/usr/bin/env bash
# A connection's life under the preload against TCP's (issue 12; each
# scenario runs over TCP and through the preload and must give the same):
# connect returns once the connection is queued at the listener, before
# the server accepts (accept_late.py).
set -uo pipefail
NEED="python3"
PORT_BASE=18400 # away from the other preload scripts, which may run alongside
. "$(dirname "$0")/preload-lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

for mode in kernel ivt; do
	next_port
	GO=$T/go-$mode
	start_bg "$T/late-srv-$mode.log" $mode "$PY" "$HERE/accept_late.py" server $PORT "$GO"
	SRV=$BG
	wait_listen $mode $PORT "$T/late-srv-$mode.log"
	with $mode "$PY" "$HERE/accept_late.py" client $PORT "$GO" >"$T/late-cli-$mode.log" 2>&1
	grep -q "^ok" "$T/late-cli-$mode.log" || { fail "accept late ($mode)"; cat "$T/late-cli-$mode.log"; }
	[ $mode = ivt ] && check_ivt "$T/late-cli-$mode.log" "connects before the accept" 2
	wait $SRV || fail "accept-late server ($mode) failed"
done

finish "preload lifecycle test passed"
