#!/usr/bin/env bash
# Errors and timeouts under the preload against TCP's (issue 12; each
# scenario runs over TCP and through the preload and must print the
# same): SO_RCVTIMEO/SO_SNDTIMEO and python's settimeout on streams and
# accept (sock_timeouts.py); a peer killed with our bytes unread, which
# TCP answers with a reset: POLLERR, ECONNRESET once, then end of stream
# (peer_reset.py); signals during a blocking accept and recv, whose python
# handlers must run (sig_intr.py); a second connect() on a connection that
# went to the kernel is the kernel's, not a new ivt try (reconnect.py);
# a listener closing with a connection queued resets it, also one that
# came over a direct line (queued_close.py).
set -uo pipefail
NEED="python3"
PRELOAD_RING=65536 # fills quickly when the peer does not read
. "$(dirname "$0")/preload-lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

# run_both NAME SCRIPT MIN_IVT_CONNECTS: the script over TCP and through
# the preload (args: a port), outputs compared without the logs' lines
run_both() {
	local name=$1 script=$2 min=$3 mode
	for mode in kernel ivt; do
		next_port
		with $mode "$PY" "$HERE/$script" $PORT >"$T/$name-$mode.log" 2>&1 ||
			{ fail "$name ($mode) exited with $?"; cat "$T/$name-$mode.log"; }
	done
	check_ivt "$T/$name-ivt.log" "$name" "$min"
	diff <(grep -v -e ivt-preload -e 'libivt: ' "$T/$name-kernel.log") \
		<(grep -v -e ivt-preload -e 'libivt: ' "$T/$name-ivt.log") ||
		fail "$name: the preload's calls differ from TCP's"
}

run_both timeouts sock_timeouts.py 1
run_both reset peer_reset.py 3
run_both signals sig_intr.py 1
run_both queued_close queued_close.py 2

for mode in kernel ivt; do
	next_port
	with $mode "$PY" "$HERE/reconnect.py" $PORT >"$T/reconnect-$mode.log" 2>&1 ||
		fail "reconnect ($mode) exited with $?"
done
same_output "$T/reconnect-kernel.log" "$T/reconnect-ivt.log" "reconnect: the preload's calls differ from TCP's"
[ "$(grep -c 'connect .*: kernel' "$T/reconnect-ivt.log")" = 1 ] ||
	fail "reconnect: want one kernel decision, got: $(grep 'ivt-preload' "$T/reconnect-ivt.log")"

finish "preload errors test passed"
