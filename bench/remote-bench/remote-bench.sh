#!/bin/bash
# remote-bench: a channel bridged between two "hosts" (network namespaces
# joined by a veth pair, each with its own ivtd) against TCP between the
# same namespaces, in the same run (docs/remote.md).
#
#   remote-bench.sh [--bytes N] [--writes L] [--mtu N] [--repeat N]
#                   [--carriers L] [--auth] [--base-bin DIR] [--no-pin] [--tcpx]
#
# Per write size of L (default 64K,1M) `ivt-bench --via-ivt` writes N
# bytes (default 256M) from A through ivtd A -> SLURPoE -> ivtd B to a
# reader in B, which checks every byte (hash per point); the baseline is
# iperf3 over TCP on the same veth with the same write size (no byte
# check) and the same sweep over a local shm channel in A (no network).
# Also prints the CPU both ivtd spent per GB bridged. --base-bin DIR: an
# ivtd built from another tree (e.g. main) is measured in the same run,
# with the same clients and plugins, for a before/after. Medians of
# --repeat runs (default 3). Unless --no-pin, everything of A runs on CPU
# 0 and of B on CPU 1 (taskset), TCP's ends too. --tcpx: the ivtds bridge
# over an "RDMA plugin" (docs/remote.md), the tests' stand-in ivt_tcpx.so
# whose pipe is one TCP connection ($IVT_TCPX_PLUGIN, default the build's):
# the plugin pump's cost on top of TCP. --carriers L (default udp): the
# SLURPoE carriers to bridge over, each measured in every repetition in
# turn ("udp": ivtd's default with the peer's "ip" in the hosts entries;
# "raw": raw Ethernet frames, "carrier": "raw"). --auth: the hosts
# entries name a key file (every frame authenticated, docs/remote.md).
# Needs root.
set -u
BIN=$(realpath "${IVT_BIN_DIR:-$(dirname "$0")/../../build/bin}")
IVT_PLUGIN_DIR=$(realpath "${IVT_PLUGIN_DIR:-$BIN/../plugins}")
export IVT_PLUGIN_DIR
BYTES=256M MTU=1500 REPEAT=3 WRITES=64K,1M BASE_BIN="" PIN=1 TCPX=0 CARRIERS=udp AUTH=0
while [ $# -gt 0 ]; do
	case $1 in
	--bytes) BYTES=$2; shift 2 ;;
	--writes) WRITES=$2; shift 2 ;;
	--mtu) MTU=$2; shift 2 ;;
	--repeat) REPEAT=$2; shift 2 ;;
	--base-bin) BASE_BIN=$2; shift 2 ;;
	--no-pin) PIN=0; shift ;;
	--tcpx) TCPX=1; shift ;;
	--carriers) CARRIERS=$2; shift 2 ;;
	--auth) AUTH=1; shift ;;
	-h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "remote-bench: unknown option $1 (see --help)" >&2; exit 1 ;;
	esac
done
command -v iperf3 >/dev/null || { echo "remote-bench: needs iperf3" >&2; exit 1; }
[ -z "$BASE_BIN" ] || [ -x "$BASE_BIN/ivtd" ] || { echo "remote-bench: no $BASE_BIN/ivtd" >&2; exit 1; }
. "$(dirname "$0")/../../tests/remote/netns-pair.sh"
netns_pair_setup ivtrb rb0 rb1 ivtd ivt-bench
ip -n "$NS_A" link set rb0 mtu "$MTU" && ip -n "$NS_B" link set rb1 mtu "$MTU" || exit 1
ip -n "$NS_A" addr add 10.98.0.1/24 dev rb0 && ip -n "$NS_B" addr add 10.98.0.2/24 dev rb1
RDMA=off CARRIER=SLURPoE
[ "$TCPX" = 1 ] && { netns_pair_tcpx 97; RDMA=auto CARRIER=tcpx; }
CPU_A=() CPU_B=()
[ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ] && CPU_A=(taskset -c 0) CPU_B=(taskset -c 1)
RING=4194304

KEY=$TMP/pair.key
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$KEY" && echo >>"$KEY" && chmod 600 "$KEY"
policy() { # file, peer name, ifname, peer mac, peer ip, carrier ("" for an old ivtd)
	local extra=""
	[ -n "$6" ] && extra=", \"carrier\": \"$6\", \"ip\": \"$5\""
	[ "$AUTH" = 1 ] && extra="$extra, \"key_file\": \"$KEY\""
	cat >"$1" <<EOP
{
  "version": 1,
  "channels": [
    { "name": "bulk-*", "host": "hostA", "listeners": ["uid:*"],
      "connectors": ["uid:*", "host:hostB/uid:*"],
      "ring_size": $RING, "max_ring_size": $RING },
    { "name": "local-*", "listeners": ["uid:*"], "connectors": ["uid:*"],
      "ring_size": $RING, "max_ring_size": $RING }
  ],
  "hosts": [ { "name": "$2", "ifname": "$3", "mac": "$4", "rdma": "$RDMA"$extra } ]
}
EOP
}
IFS=, read -r -a clist <<<"$CARRIERS"
for c in "${clist[@]}"; do
	case $c in raw|udp) ;; *) echo "remote-bench: carrier $c is not raw or udp" >&2; exit 1 ;; esac
	policy "$TMP/a-$c.json" hostB rb0 "$MAC_B" 10.98.0.2 "$c"
	policy "$TMP/b-$c.json" hostA rb1 "$MAC_A" 10.98.0.1 "$c"
done
policy "$TMP/a-base.json" hostB rb0 "$MAC_B" "" "" # --base-bin: no keys it may not know
policy "$TMP/b-base.json" hostA rb1 "$MAC_A" "" ""

run=0
pair_start() { # ivtd binary, policy tag: sets SOCK_A, SOCK_B, IVTD_A, IVTD_B
	run=$((run + 1))
	SOCK_A=$TMP/a$run.sock SOCK_B=$TMP/b$run.sock
	local n s
	for n in A B; do
		local ns=$NS_A name=hostA pol=$TMP/a-$2.json sock=$SOCK_A cpu=("${CPU_A[@]}") ip=1
		[ $n = B ] && ns=$NS_B name=hostB pol=$TMP/b-$2.json sock=$SOCK_B cpu=("${CPU_B[@]}") ip=2
		ip netns exec "$ns" "${cpu[@]}" env IVT_TCPX_ADDR="${TCPX_NET:-}.$ip" \
			"$1" -r local -n "$name" -c "$pol" -s "$sock" \
			>"$TMP/ivtd-$n$run.log" 2>&1 &
		PIDS+=($!)
		eval "IVTD_$n=$!"
		for s in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
		[ -S "$sock" ] || { echo "ivtd $name did not start:"; cat "$TMP/ivtd-$n$run.log"; exit 1; }
	done
}
pair_stop() {
	kill "$IVTD_A" "$IVTD_B" 2>/dev/null
	wait "$IVTD_A" "$IVTD_B" 2>/dev/null
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# One sweep: the writer (listener) in A, the reader in NS with socket SOCK.
# Appends "write MB/s" lines to FILE.
sweep() { # channel prefix, reader socket, reader ns, reader cpu (A|B), file
	local args=(--via-ivt --channel "$1" --rings "$RING" --writes "$WRITES" --bytes "$BYTES"
		--timeout 120)
	local rcpu=("${CPU_B[@]}")
	[ "$4" = A ] && rcpu=("${CPU_A[@]}")
	ip netns exec "$NS_A" "${CPU_A[@]}" env IVT_SOCKET="$SOCK_A" "$BIN/ivt-bench" "${args[@]}" \
		--role listen --csv "$TMP/sweep.csv" >"$TMP/lis.out" 2>&1 &
	local lis=$!
	sleep 0.3
	ip netns exec "$3" "${rcpu[@]}" env IVT_SOCKET="$2" "$BIN/ivt-bench" "${args[@]}" \
		--role connect >"$TMP/con.out" 2>&1
	local crc=$?
	wait "$lis"
	local lrc=$?
	if [ $lrc != 0 ] || [ $crc != 0 ] || ! grep -q "points verified" "$TMP/lis.out"; then
		echo "remote-bench: sweep $1 failed" >&2
		cat "$TMP/lis.out" "$TMP/con.out" "$TMP"/ivtd-*"$run".log >&2
		exit 1
	fi
	awk -F, '$1 == "bandwidth" { print $4, $7 }' "$TMP/sweep.csv" >>"$5"
}

tcp() { # write size -> MB/s
	ip netns exec "$NS_A" "${CPU_A[@]}" iperf3 -s -1 >/dev/null 2>&1 &
	local srv=$!
	sleep 0.3
	ip netns exec "$NS_B" "${CPU_B[@]}" iperf3 -c 10.98.0.1 -n "$BYTES" -l "$1" -f M -J 2>/dev/null |
		python3 -c 'import json,sys; print("%.1f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 8e6))'
	wait "$srv"
}

# Bridged sweep with ivtd binary $1 and policy tag $3 into FILE $2, CPU
# s/GB into $2.cpu.
bridged() {
	pair_start "$1" "$3"
	local a0 b0 a1 b1
	a0=$(cpu_ticks "$IVTD_A") b0=$(cpu_ticks "$IVTD_B")
	sweep bulk "$SOCK_B" "$NS_B" B "$2"
	a1=$(cpu_ticks "$IVTD_A") b1=$(cpu_ticks "$IVTD_B")
	local gb
	gb=$(echo "$nw * $bytes / 1000000000" | bc -l)
	echo "$(( a1 - a0 )) $(( b1 - b0 ))" | awk -v hz="$HZ" -v gb="$gb" \
		'{printf "%.2f %.2f %.2f\n", ($1 + $2) / hz / gb, $1 / hz / gb, $2 / hz / gb}' >>"$2.cpu"
	pair_stop
	# the carrier asked for is the one B dialled with (its log says)
	if [ "$3" != base ] && ! grep -q "dialling over rb1, $3 carrier" "$TMP/ivtd-B$run.log"; then
		echo "remote-bench: ivtd B did not dial over $3:" >&2
		cat "$TMP/ivtd-B$run.log" >&2
		exit 1
	fi
	# ivtd B's word on how its bytes reached the ring (SLURPoE bridges log it)
	sed -n 's/.*: \([0-9]*\) of \([0-9]*\) bytes from the peer went straight.*/\1 \2/p' \
		"$TMP/ivtd-B$run.log" >>"$2.direct"
}

HZ=$(getconf CLK_TCK)
bytes=$(numfmt --from=iec "$BYTES")
IFS=, read -r -a wlist <<<"$WRITES"
nw=${#wlist[@]}
for c in "${clist[@]}"; do : >"$TMP/new-$c" ; : >"$TMP/new-$c.cpu" ; : >"$TMP/new-$c.direct"; done
: >"$TMP/base.direct" ; : >"$TMP/base" ; : >"$TMP/base.cpu" ; : >"$TMP/tcp" ; : >"$TMP/local"
for _ in $(seq "$REPEAT"); do
	for c in "${clist[@]}"; do bridged "$BIN/ivtd" "$TMP/new-$c" "$c"; done
	[ -n "$BASE_BIN" ] && bridged "$BASE_BIN/ivtd" "$TMP/base" base
	for w in "${wlist[@]}"; do echo "$(numfmt --from=iec "$w") $(tcp "$w")" >>"$TMP/tcp"; done
	pair_start "$BIN/ivtd" "${clist[0]}"
	sweep local "$SOCK_A" "$NS_A" B "$TMP/local"
	pair_stop
done

med() { # file, write size in bytes
	awk -v w="$2" '$1 == w { print $2 }' "$1" | median
}
pinned=$([ ${#CPU_A[@]} -gt 0 ] && echo ", A on CPU 0, B on CPU 1" || echo ", unpinned")
echo "ivt channel between two namespaces (veth, MTU $MTU), $BYTES per point, ring $RING," \
	"median of $REPEAT$pinned$([ "$AUTH" = 1 ] && echo ", frames authenticated (key_file)")"
printf "%-46s %8s %10s %8s\n" "path" "write" "MB/s" "/ TCP"
for w in "${wlist[@]}"; do
	wb=$(numfmt --from=iec "$w")
	t=$(med "$TMP/tcp" "$wb")
	row() { printf "%-46s %8s %10.1f %8.2f\n" "$1" "$w" "$2" "$(echo "$2 / $t" | bc -l)"; }
	for c in "${clist[@]}"; do
		lbl=$CARRIER/$c
		[ "$TCPX" = 1 ] && lbl=$CARRIER
		row "ivt-bench via ivtd A -> $lbl -> ivtd B" "$(med "$TMP/new-$c" "$wb")"
	done
	[ -n "$BASE_BIN" ] && row "  the same with the --base-bin ivtd (raw)" "$(med "$TMP/base" "$wb")"
	row "TCP (iperf3 -l $w) on the same veth" "$t"
	row "ivt-bench over local shm in A (ceiling)" "$(med "$TMP/local" "$wb")"
done
cpu() { # file -> "both (A sends, B receives)" medians
	echo "$(cut -d' ' -f1 "$1" | median) s ($(cut -d' ' -f2 "$1" | median) sending A," \
		"$(cut -d' ' -f3 "$1" | median) receiving B)"
}
for c in "${clist[@]}"; do
	echo "CPU of the ivtd per GB bridged over $c: $(cpu "$TMP/new-$c.cpu")"
	awk -v c="$c" '{ d += $1; t += $2 } END { if (t) printf "  bytes that went from a frame straight into the ring at B over %s: %.1f %%\n", c, 100 * d / t }' \
		"$TMP/new-$c.direct"
done
[ -n "$BASE_BIN" ] && echo "  with the --base-bin ivtd:      $(cpu "$TMP/base.cpu")"
exit 0
