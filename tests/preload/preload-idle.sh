#!/usr/bin/env bash
# An idle program under the preload sleeps (issue 12): redis-server with
# ivt connections open, some of them stalled with the server's replies
# waiting for room, must not wake up more than an idle redis does. The
# old monitor re-polled waiting writers every 2 ms (~1000 wake-ups and
# 3-50% of a CPU per second). Then the stalled clients read on and must
# get every byte: the room kick that ends the wait is not lost.
set -uo pipefail
NEED="redis-server redis-cli python3"
. "$(dirname "$0")/preload-lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
SECS=3
# Bounds, generous: an idle redis (hz 10) wakes ~10 times a second and
# uses no measurable CPU; the 2 ms re-poll woke >300 times a second.
MAX_WAKEUPS=$((SECS * 60))
MAX_TICKS=$((SECS * $(getconf CLK_TCK) / 20)) # 5% of a CPU

wakeups() { # voluntary context switches of every thread of $1
	cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s + 0}'
}
ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; }

for mode in kernel ivt; do
	next_port
	start_bg "$T/redis-$mode.log" $mode redis-server --port $PORT --bind 127.0.0.1 \
		--save "" --appendonly no --protected-mode no
	SRV=$BG
	wait_port $PORT || { fail "redis $mode did not start"; continue; }
	GO=$T/go-$mode
	CLI=()
	for i in 1 2 3; do
		start_bg "$T/stall-$mode-$i.log" $mode "$PY" "$HERE/stall_client.py" $PORT "$GO"
		CLI+=($BG)
	done
	# and two clients that only sit there
	for i in 1 2; do
		(sleep $((SECS + 5))) | with $mode redis-cli -p $PORT >"$T/idle-$mode-$i.log" 2>&1 &
		PIDS+=($!)
	done
	for _ in $(seq 100); do
		[ "$(cat "$T"/stall-$mode-*.log 2>/dev/null | grep -c stalled)" -ge 3 ] && break
		sleep 0.1
	done
	sleep 1 # let everything settle into its wait
	w0=$(wakeups $SRV) t0=$(ticks $SRV)
	sleep $SECS
	w=$(($(wakeups $SRV) - w0)) t=$(($(ticks $SRV) - t0))
	echo "idle redis-server $mode, 5 connections (3 stalled): $w wake-ups, $t CPU ticks in $SECS s"
	if [ $mode = ivt ]; then
		[ "$w" -le $MAX_WAKEUPS ] || fail "idle $mode: $w wake-ups in $SECS s (bound $MAX_WAKEUPS)"
		[ "$t" -le $MAX_TICKS ] || fail "idle $mode: $t CPU ticks in $SECS s (bound $MAX_TICKS)"
	fi
	touch "$GO"
	for i in 0 1 2; do
		wait ${CLI[$i]}
		rc=$?
		log=$T/stall-$mode-$((i + 1)).log
		[ $rc -eq 0 ] && grep -q "^ok 6000" "$log" || { fail "stalled client $mode $i (rc $rc)"; cat "$log"; }
		[ $mode = ivt ] && check_ivt "$log" "stalled client" 1
	done
	kill $SRV
	wait $SRV 2>/dev/null
done

finish "idle preload test passed"
