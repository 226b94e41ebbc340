#!/usr/bin/env bash
# preload-bench [--quick] [--ring BYTES]
#
# Unmodified redis-server/redis-benchmark and iperf3 over plain TCP
# loopback and through libivt-preload.so (ivt shm channels tcp.P), in the
# same run, against a private ivtd. Servers are pinned to CPU 0 and
# clients to CPU 1 (taskset) so both runs see the same placement.
# Prints one table with the ratio ivt / TCP (higher is better).
#   redis GET/SET, 1 client, no pipelining, 1 KiB values
#   redis GET/SET, 50 clients, pipeline 16, 1 KiB values
#   iperf3, one stream, Gbit/s
# Environment: IVT_BIN_DIR (ivtd), IVT_LIB_DIR (libivt-preload.so),
# IVT_PLUGIN_DIR; defaults: next to this script. Exit 77 if a program is
# missing, 1 if the preload fell back to TCP anywhere.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shell pieces shared with the tests: beside us in the build tree, or installed
for f in "$HERE/ivt-lib.sh" "$HERE/../share/ivt/ivt-lib.sh" "$HERE/../../tests/lib/ivt-lib.sh"; do
	[ -r "$f" ] && { . "$f"; break; }
done
command -v ivt_wait_listen >/dev/null || { echo "preload-bench: no ivt-lib.sh beside it" >&2; exit 2; }
BIN=${IVT_BIN_DIR:-$HERE}
LIB=${IVT_LIB_DIR:-$HERE/../lib}
export IVT_PLUGIN_DIR=${IVT_PLUGIN_DIR:-$HERE/../plugins}
QUICK=0
RING=4194304
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--ring) RING=$2; shift ;;
	-h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "preload-bench: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
for p in redis-server redis-benchmark iperf3 taskset; do
	command -v $p >/dev/null || { echo "preload-bench: $p missing (scripts/install-deps.sh)"; exit 77; }
done
[ -r "$LIB/libivt-preload.so" ] || {
	echo "preload-bench: no $LIB/libivt-preload.so (run build/bin/preload-bench, or set IVT_LIB_DIR)" >&2
	exit 2
}
N1=20000; N50=200000; SECS=5
[ $QUICK = 1 ] && { N1=2000; N50=20000; SECS=1; }
CPUS=$(nproc)
SRV="taskset -c 0"; CLI="taskset -c $((CPUS > 1 ? 1 : 0))"

T=$(mktemp -d /tmp/preload-bench.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null; done; wait 2>/dev/null; [ -n "${IVT_BENCH_KEEP:-}" ] || rm -rf "$T"' EXIT
cat >"$T/policy.json" <<JSON
{"version": 1, "channels": [{"name": "tcp.*", "listeners": ["*"], "connectors": ["*"],
  "backend": "shm", "ring_size": $RING, "max_ring_size": $RING}]}
JSON
"$BIN/ivtd" -r local -c "$T/policy.json" -s "$T/ivtd.sock" >"$T/ivtd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$T/ivtd.sock" ] && break; sleep 0.1; done
export IVT_SOCKET=$T/ivtd.sock
PORT=$(ivt_port preload-bench) || exit 2 # its own range, away from the preload tests'
fellback=0

run() { # mode, command...: with the preload (and its log) for mode ivt
	local mode=$1; shift
	if [ "$mode" = ivt ]; then
		env LD_PRELOAD="$LIB/libivt-preload.so" IVT_PRELOAD_LOG=1 "$@" 2>>"$T/ivt.log"
	else
		"$@"
	fi
}
bg() { # mode, command...: in the background; BG is the program's own pid
	local mode=$1; shift
	if [ "$mode" = ivt ]; then
		env LD_PRELOAD="$LIB/libivt-preload.so" IVT_PRELOAD_LOG=1 "$@" 2>>"$T/ivt.log" &
	else
		"$@" &
	fi
	BG=$!
	PIDS+=($BG)
}
# mode, port: the server listens (ivt-lib.sh).
wait_listen() { ivt_wait_listen "$1" "$2" "$T/ivt.log"; }

declare -A R
for mode in tcp ivt; do
	PORT=$(ivt_free_port $((PORT + 1)))
	bg $mode $SRV redis-server --port $PORT --bind 127.0.0.1 --save "" --appendonly no \
		--protected-mode no >"$T/redis-$mode.log"
	RP=$BG
	wait_listen $mode $PORT
	while IFS=, read -r test rps _; do
		R[$mode,c1,${test//\"/}]=${rps//\"/}
	done < <(run $mode $CLI redis-benchmark -p $PORT -t set,get -n $N1 -c 1 -P 1 -d 1024 --csv | tail -n +2)
	while IFS=, read -r test rps _; do
		R[$mode,c50,${test//\"/}]=${rps//\"/}
	done < <(run $mode $CLI redis-benchmark -p $PORT -t set,get -n $N50 -c 50 -P 16 -d 1024 --csv | tail -n +2)
	kill $RP
	wait $RP 2>/dev/null
	PORT=$(ivt_free_port $((PORT + 1)))
	bg $mode $SRV iperf3 -s -1 -p $PORT >"$T/iperf-$mode.log"
	wait_listen $mode $PORT
	run $mode $CLI iperf3 -c 127.0.0.1 -p $PORT -t $SECS -J >"$T/iperf-$mode.json"
	R[$mode,iperf]=$(python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))' "$T/iperf-$mode.json" 2>/dev/null) ||
		{ echo "preload-bench: iperf3 $mode failed:"; grep -m1 error "$T/iperf-$mode.json"; }
done
if grep -q "connect .*: kernel" "$T/ivt.log"; then
	fellback=1
	echo "preload-bench: the preload fell back to TCP:"; grep "connect .*: kernel" "$T/ivt.log" | head -3
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
printf '%-40s %14s %14s %8s\n' "preload-bench (server CPU 0, client CPU ${CLI##* })" "TCP loopback" "ivt preload" "ivt/TCP"
for c in c1 c50; do
	for t in GET SET; do
		label="redis $t ops/s, $([ $c = c1 ] && echo '1 client, no pipeline' || echo '50 clients, pipeline 16')"
		printf '%-40s %14s %14s %8s\n' "$label" "${R[tcp,$c,$t]:-?}" "${R[ivt,$c,$t]:-?}" \
			"$(ratio "${R[ivt,$c,$t]:-0}" "${R[tcp,$c,$t]:-0}")"
	done
done
printf '%-40s %14s %14s %8s\n' "iperf3 Gbit/s, 1 stream" "${R[tcp,iperf]:-?}" "${R[ivt,iperf]:-?}" \
	"$(ratio "${R[ivt,iperf]:-0}" "${R[tcp,iperf]:-0}")"
printf 'ring %s bytes per direction; values 1 KiB\n' "$RING"
exit $fellback
