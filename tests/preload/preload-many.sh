#!/usr/bin/env bash
# Many connections in one epoll through the preload (issue 12): an
# epoll_wait that returned at once looked at the rings of at most 256
# idle streams, and armed the others only before a sleep. A program that
# never sleeps then never saw the replies on the rest: redis-benchmark
# with 300+ clients stopped for good (rps=0) once its idle clients kept
# EPOLLOUT ready. busy-client is that pattern made exact: one fd always
# ready, 300 connections, 292 of them idle, and every echo must come back.
set -uo pipefail
NEED="redis-server redis-benchmark redis-cli"
PRELOAD_RING=65536 # 600 rings: keep the shared memory small
# Every connect may be queued before the server accepts one: a full
# backlog (default 128, 64 per identity) sends a connect over TCP, so
# whether all of them went through ivt depended on how fast the server
# got the CPU (under ASan -j2 a few fell back). With room for all, the
# "none over TCP" checks below test the preload, not the scheduler.
PRELOAD_BACKLOG=1024
. "$(dirname "$0")/preload-lib.sh"
CONNS=300 # more idle streams than the 256 a look took

for mode in kernel ivt; do
	next_port
	start_bg "$T/echo-srv-$mode.log" $mode "$BIN/epoll-echo" server $PORT lt
	wait_listen $mode $PORT "$T/echo-srv-$mode.log"
	out=$(with $mode timeout 60 "$BIN/busy-client" $PORT $CONNS 3 2>"$T/busy-cli-$mode.log")
	rc=$?
	kill $BG
	echo "busy-client $mode: $out"
	[ $rc -eq 0 ] && [ "$out" = "ok $CONNS connections x 3 rounds" ] ||
		{ fail "busy-client $mode (rc $rc): '$out'"; grep -v ivt-preload "$T/busy-cli-$mode.log"; }
	[ $mode = ivt ] && check_ivt "$T/busy-cli-$mode.log" "busy-client" $CONNS
done

# The reported case: 500 clients, each run bounded (a hang is rc 124).
# The client runs without IVT_PRELOAD_LOG: its connect line names the
# peer, and waiting for that makes each connect wait for the server's
# accept (slow with 500). The server's log counts the ivt connections.
next_port
start_bg "$T/redis.log" ivt redis-server --port $PORT --bind 127.0.0.1 \
	--save "" --appendonly no --protected-mode no
wait_listen ivt $PORT "$T/redis.log"
for i in 1 2; do
	env LD_PRELOAD="$PRELOAD_LIST" "${PRELOAD_ASAN[@]}" timeout 25 \
		redis-benchmark -p $PORT -q -n 20000 -t ping_inline -c 500 \
		>"$T/bench-$i.out" 2>"$T/bench-$i.log"
	rc=$?
	echo "redis-benchmark -c 500 run $i: rc $rc $(tr '\r' '\n' <"$T/bench-$i.out" | grep -a "requests per second" | tail -1)"
	[ $rc -eq 0 ] || fail "redis-benchmark -c 500 run $i: rc $rc (124: hung)"
done
kill $BG
wait $BG 2>/dev/null
# 500 clients and a config connection per run, none over TCP
n=$(grep -c "accept: ivt connection" "$T/redis.log")
echo "redis-server: $n ivt connections accepted"
[ "$n" -ge 1000 ] || fail "redis-server: $n ivt connections accepted (want >= 1000): fell back to TCP"

finish "many-connection preload test passed"
