#!/usr/bin/env bash
# Real programs through libivt-preload.so, against a private ivtd. Every
# scenario runs twice, over the kernel and with the preload, and must give
# the same result; with the preload, the log must show that every TCP
# connection became an ivt channel (a silent fall-back to TCP fails).
set -uo pipefail
NEED="redis-server redis-benchmark redis-cli iperf3 socat curl python3"
. "$(dirname "$0")/preload-lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

# ---- epoll echo: edge- and level-triggered, several connections ------
for trig in et lt; do
	for mode in kernel ivt; do
		next_port
		start_bg "$T/echo-srv-$trig-$mode.log" $mode "$BIN/epoll-echo" server $PORT $trig
		wait_listen $mode $PORT "$T/echo-srv-$trig-$mode.log"
		out=$(with $mode "$BIN/epoll-echo" client $PORT 3000000 4 2>"$T/echo-cli-$trig-$mode.log")
		rc=$?
		kill $BG
		echo "epoll-echo $trig $mode: $out"
		[ $rc -eq 0 ] || { fail "epoll-echo $trig $mode (rc $rc)"; cat "$T/echo-cli-$trig-$mode.log"; }
		[ "$out" = "ok 4 connections x 3000000 bytes echoed" ] || fail "epoll-echo $trig $mode: '$out'"
		[ $mode = ivt ] && check_ivt "$T/echo-cli-$trig-$mode.log" "epoll-echo $trig" 4
	done
done

# ---- ping-pong with a server whose epoll_wait never sleeps (timeout 0) --
for mode in kernel ivt; do
	next_port
	start_bg "$T/busy-srv-$mode.log" $mode "$PY" "$HERE/busy_pingpong.py" server $PORT
	wait_listen $mode $PORT "$T/busy-srv-$mode.log"
	out=$(with $mode "$PY" "$HERE/busy_pingpong.py" client $PORT 200 2>"$T/busy-cli-$mode.log")
	echo "busy ping-pong $mode: $out"
	[ "$out" = "ok 200" ] || { fail "busy ping-pong $mode: '$out'"; cat "$T/busy-cli-$mode.log"; }
	kill $BG 2>/dev/null
	[ $mode = ivt ] && check_ivt "$T/busy-cli-$mode.log" "busy ping-pong" 1
done

# ---- redis: SET/GET, several clients, pipelining on and off ---------
dd if=/dev/urandom bs=1k count=200 2>/dev/null | base64 -w0 >"$T/value"
for mode in kernel ivt; do
	next_port
	start_bg "$T/redis-$mode.log" $mode redis-server --port $PORT --bind 127.0.0.1 \
		--save "" --appendonly no --protected-mode no
	wait_listen $mode $PORT "$T/redis-$mode.log" # the ivt listener too
	blog="$T/bench-$mode.log"
	for pipe in 1 16; do
		with $mode redis-benchmark -p $PORT -t set,get -n 20000 -c 8 -P $pipe -d 1024 --csv \
			>"$T/bench-$mode-$pipe.out" 2>>"$blog" || fail "redis-benchmark $mode -P $pipe"
		grep -q "GET" "$T/bench-$mode-$pipe.out" || fail "redis-benchmark $mode -P $pipe: no GET result"
	done
	# the same bytes come back: a 270 KiB value through SET and GET
	with $mode redis-cli -p $PORT -x set big <"$T/value" >/dev/null 2>>"$blog"
	with $mode redis-cli -p $PORT --raw get big 2>>"$blog" | tr -d '\n' >"$T/got-$mode"
	cmp -s "$T/value" "$T/got-$mode" || fail "redis $mode: GET returned other bytes"
	n=$(redis-cli -p $PORT info stats | tr -d '\r' | sed -n 's/^total_commands_processed://p')
	[ "${n:-0}" -ge 80000 ] || fail "redis $mode: only ${n:-0} commands processed"
	echo "redis $mode: $(tr "\n" " " <"$T/bench-$mode-1.out") commands: $n"
	[ $mode = ivt ] && check_ivt "$blog" "redis-benchmark" 16
	kill $BG
	wait $BG 2>/dev/null
done

# ---- iperf3: control connection + data streams (select) -------------
for mode in kernel ivt; do
	next_port
	start_bg "$T/iperf-srv-$mode.log" $mode iperf3 -s -1 -p $PORT
	wait_listen $mode $PORT "$T/iperf-srv-$mode.log"
	with $mode iperf3 -c 127.0.0.1 -p $PORT -t 2 -P 2 -J >"$T/iperf-$mode.json" \
		2>"$T/iperf-cli-$mode.log" || fail "iperf3 $mode"
	bytes=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(int(d["end"]["sum_received"]["bytes"]))' "$T/iperf-$mode.json" 2>/dev/null)
	[ "${bytes:-0}" -gt 0 ] || fail "iperf3 $mode: nothing received"
	echo "iperf3 $mode: ${bytes:-0} bytes received in 2 s"
	[ $mode = ivt ] && check_ivt "$T/iperf-cli-$mode.log" "iperf3" 3
	wait $BG 2>/dev/null
done

# ---- iperf3 keeps flowing: a stream must not stall ------------------
# iperf3's client writes until EAGAIN, then selects for POLLOUT. Two lost
# wake-ups once stopped a stream at 0 bits/s for good: a room kick
# consumed inside a send (tx_sent), and a data kick consumed inside a
# receive that then found a frame header alone (test_libivt_manual_rearm).
# A stall lasts to the end, so each run's last interval must carry bytes
# (no timing: a starved scheduler slows an interval, it does not empty
# the last one).
FLOW_RUNS="1 2 3 4"
for run in $FLOW_RUNS; do
	next_port
	start_bg "$T/iperf-srv-flow$run.log" ivt iperf3 -s -1 -p $PORT
	wait_listen ivt $PORT "$T/iperf-srv-flow$run.log"
	with ivt iperf3 -c 127.0.0.1 -p $PORT -t 2 -i 0.25 -J >"$T/iperf-flow$run.json" \
		2>"$T/iperf-cli-flow$run.log" || fail "iperf3 flow run $run"
	last=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(int(d["intervals"][-1]["sum"]["bytes"]))' "$T/iperf-flow$run.json" 2>/dev/null)
	[ "${last:-0}" -gt 0 ] || fail "iperf3 through ivt stalled (run $run: the last interval moved nothing)"
	check_ivt "$T/iperf-cli-flow$run.log" "iperf3 flow" 2
	wait $BG 2>/dev/null
done
[ -n "$FLOW_RUNS" ] && echo "iperf3 ivt: 4 flow runs checked"

# ---- python http.server (a thread per connection) + curl and socat ---
mkdir -p "$T/www"
dd if=/dev/urandom of="$T/www/file" bs=1M count=3 2>/dev/null
for mode in kernel ivt; do
	next_port
	(cd "$T/www" && start_bg "$T/http-$mode.log" $mode "$PY" -m http.server $PORT --bind 127.0.0.1 &&
		echo $BG >"$T/http.pid")
	BG=$(cat "$T/http.pid")
	PIDS+=($BG)
	wait_listen $mode $PORT "$T/http-$mode.log"
	# curl hangs at start-up (setlocale's lock) with libasan.so preloaded,
	# without ivt too: under ASan socat alone fetches the file
	if [ -z "${IVT_ASAN_RUNTIME:-}" ]; then
		with $mode curl -sf -o "$T/curl-$mode" "http://127.0.0.1:$PORT/file" 2>"$T/curl-$mode.log" ||
			fail "curl $mode"
		cmp -s "$T/www/file" "$T/curl-$mode" || fail "curl $mode: other bytes"
	fi
	printf 'GET /file HTTP/1.0\r\n\r\n' |
		with $mode socat -t 5 - TCP:127.0.0.1:$PORT >"$T/socat-$mode" 2>"$T/socat-$mode.log" ||
		fail "socat $mode"
	# the body follows the first empty line
	"$PY" -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.stdout.buffer.write(d.split(b"\r\n\r\n",1)[1])' \
		"$T/socat-$mode" >"$T/socat-body-$mode" 2>/dev/null
	cmp -s "$T/www/file" "$T/socat-body-$mode" || fail "socat $mode: other bytes"
	echo "http.server $mode: curl and socat got the same $(stat -c %s "$T/www/file") bytes"
	if [ $mode = ivt ]; then
		[ -z "${IVT_ASAN_RUNTIME:-}" ] && check_ivt "$T/curl-$mode.log" "curl" 1
		check_ivt "$T/socat-$mode.log" "socat" 1
	fi
	kill $BG
done

# ---- write, close, return from main: the peer reads a clean end -----
# close() leaves the channel's last release to the monitor thread; a
# program that exited right after once took that close down with it, and
# its peer read a reset after the bytes (8 of 8 runs) instead of the end.
for mode in kernel ivt; do
	next_port
	start_bg "$T/dump-srv-$mode.log" $mode "$PY" "$HERE/count_server.py" $PORT 3
	wait_listen $mode $PORT "$T/dump-srv-$mode.log"
	for i in 1 2 3; do
		with $mode "$BIN/epoll-echo" dump $PORT 100000 2>>"$T/dump-cli-$mode.log" ||
			fail "dump client $mode"
	done
	wait $BG
	ends=$(grep -c "^got 100000 then end" "$T/dump-srv-$mode.log")
	echo "close at exit $mode: $ends of 3 connections read to a clean end"
	[ "$ends" = 3 ] || { fail "close at exit $mode"; grep "^got" "$T/dump-srv-$mode.log"; }
	[ $mode = ivt ] && check_ivt "$T/dump-cli-$mode.log" "close at exit" 3
done

echo "ivtd granted: $("$BIN/ivtctl" -s "$IVT_SOCKET" status 2>/dev/null | grep -i granted | head -1)"
finish "all preload scenarios passed"
