#!/bin/bash
# remote-bench: a channel bridged between two "hosts" (network namespaces
# joined by a veth pair, each with its own ivtd) against TCP between the
# same namespaces, in the same run (docs/remote.md).
#
#   remote-bench.sh [--bytes N] [--mtu N] [--repeat N]
#
# ivt-demo sends N bytes (default 512M) through ivtd B -> SLURPoE -> ivtd A
# and checks every byte; the baseline is iperf3 over TCP on the same veth
# (no byte check) and ivt-demo over a local shm channel in namespace A
# (the same byte check, no network). Also prints the CPU both ivtd spent
# per GB moved. Medians of --repeat runs (default 3). Needs root.
set -u
BIN=${IVT_BIN_DIR:-$(dirname "$0")/../../build/bin}
export IVT_PLUGIN_DIR=${IVT_PLUGIN_DIR:-$BIN/../plugins}
BYTES=512M MTU=1500 REPEAT=3
while [ $# -gt 0 ]; do
	case $1 in
	--bytes) BYTES=$2; shift 2 ;;
	--mtu) MTU=$2; shift 2 ;;
	--repeat) REPEAT=$2; shift 2 ;;
	-h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "remote-bench: unknown option $1 (see --help)" >&2; exit 1 ;;
	esac
done
command -v iperf3 >/dev/null || { echo "remote-bench: needs iperf3" >&2; exit 1; }
. "$(dirname "$0")/../../tests/remote/netns-pair.sh"
netns_pair_setup ivtrb rb0 rb1 ivtd ivt-demo
ip -n "$NS_A" link set rb0 mtu "$MTU" && ip -n "$NS_B" link set rb1 mtu "$MTU" || exit 1
ip -n "$NS_A" addr add 10.98.0.1/24 dev rb0 && ip -n "$NS_B" addr add 10.98.0.2/24 dev rb1
IMPAIR_ENV=()

policy() { # file, peer name, ifname, peer mac
	cat >"$1" <<EOP
{
  "version": 1,
  "channels": [
    { "name": "bulk", "host": "hostA", "listeners": ["uid:*"],
      "connectors": ["uid:*", "host:hostB/uid:*"],
      "ring_size": 4194304, "max_ring_size": 4194304 }
  ],
  "hosts": [ { "name": "$2", "ifname": "$3", "mac": "$4" } ]
}
EOP
}
policy "$TMP/a.json" hostB rb0 "$MAC_B"
policy "$TMP/b.json" hostA rb1 "$MAC_A"
SOCK_A=$TMP/a.sock SOCK_B=$TMP/b.sock
start_ivtd "$NS_A" hostA "$TMP/a.json" "$SOCK_A" "$TMP/ivtd-a.log" || exit 1
IVTD_A=$LAST_PID
start_ivtd "$NS_B" hostB "$TMP/b.json" "$SOCK_B" "$TMP/ivtd-b.log" || exit 1
IVTD_B=$LAST_PID

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
mbps() { sed -n 's/.* \([0-9.]*\) MB\/s.*/\1/p' "$1" | head -1; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

demo() { # listener socket, connector socket, connector ns -> MB/s seen by the listener
	ip netns exec "$NS_A" "$BIN/ivt-demo" listen bulk --socket "$1" >"$TMP/lis.out" 2>&1 &
	local lis=$!
	sleep 0.3
	ip netns exec "$3" "$BIN/ivt-demo" connect bulk --socket "$2" --bytes "$BYTES" \
		--timeout 20000 >"$TMP/con.out" 2>&1
	wait "$lis"
	grep -q "^OK: " "$TMP/lis.out" || { echo "remote-bench: transfer failed" >&2; cat "$TMP"/*.out >&2; exit 1; }
	mbps "$TMP/lis.out"
}

tcp() {
	ip netns exec "$NS_A" iperf3 -s -1 >/dev/null 2>&1 &
	local srv=$!
	sleep 0.3
	ip netns exec "$NS_B" iperf3 -c 10.98.0.1 -n "$BYTES" -f M -J 2>/dev/null |
		python3 -c 'import json,sys; print("%.1f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 8e6))'
	wait "$srv"
}

HZ=$(getconf CLK_TCK)
bytes=$(numfmt --from=iec "$BYTES")
: >"$TMP/remote" ; : >"$TMP/tcp" ; : >"$TMP/local" ; : >"$TMP/cpu"
for _ in $(seq "$REPEAT"); do
	a0=$(cpu_ticks "$IVTD_A") b0=$(cpu_ticks "$IVTD_B")
	demo "$SOCK_A" "$SOCK_B" "$NS_B" >>"$TMP/remote"
	a1=$(cpu_ticks "$IVTD_A") b1=$(cpu_ticks "$IVTD_B")
	echo "$(( (a1 - a0 + b1 - b0) ))" | awk -v hz="$HZ" -v b="$bytes" '{printf "%.2f\n", $1 / hz / (b / 1e9)}' >>"$TMP/cpu"
	tcp >>"$TMP/tcp"
	demo "$SOCK_A" "$SOCK_A" "$NS_A" >>"$TMP/local"
done
r=$(median <"$TMP/remote") t=$(median <"$TMP/tcp") l=$(median <"$TMP/local") c=$(median <"$TMP/cpu")
echo "ivt channel between two namespaces (veth, MTU $MTU), $BYTES, median of $REPEAT"
printf "%-44s %10s %8s\n" "path" "MB/s" "/ TCP"
printf "%-44s %10.1f %8.2f\n" "ivt-demo via ivtd B -> SLURPoE -> ivtd A" "$r" "$(echo "$r / $t" | bc -l)"
printf "%-44s %10.1f %8.2f\n" "TCP (iperf3) on the same veth" "$t" 1
printf "%-44s %10.1f %8.2f\n" "ivt-demo over local shm in A (ceiling)" "$l" "$(echo "$l / $t" | bc -l)"
echo "CPU of both ivtd per GB bridged: ${c} s"
