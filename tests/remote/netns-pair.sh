# Sourced by the two-host tests in this folder: two network namespaces
# ("hosts" A and B) joined by a veth pair, with loss/reordering on the link.
#
#   netns_pair_setup PREFIX IF_A IF_B TOOL...
#       checks $BIN/TOOL exist, creates $NS_A/$NS_B and the veth, sets
#       $TMP, $PIDS (killed on exit), $MAC_A, $MAC_B; exits 77 (skip) when
#       namespaces cannot be made here.
#   netns_pair_impair "NETEM ARGS" "SLURPOE IMPAIR SPEC"
#       tc netem on both ends if the kernel has it, else sets IMPAIR_ENV to
#       the SLURPoE user-space stand-in for the ivtd processes to use.
#   start_ivtd NS NAME POLICY SOCKET LOG
#       starts ivtd in NS (with IMPAIR_ENV), waits for its socket; the pid
#       is in LAST_PID and killed on exit.
#   netns_pair_tcpx SUBNET
#       the plugin directory $IVT_PLUGIN_DIR: shm, slurpoe and the tcpx
#       stand-in for an RDMA plugin (tcpx_plugin.c, $IVT_TCPX_PLUGIN), no
#       real one; A is 10.SUBNET.0.1, B 10.SUBNET.0.2 for its TCP.
#   netns_pair_tcpx_pair RDMA_A RDMA_B [BACKEND_A BACKEND_B]
#       after netns_pair_tcpx: both policies by ivt_two_host_policy (the
#       hosts' "rdma", the channel "direct"'s backend), then ivtd A and B
#   netns_pair_stop_ivtd   stops $IVTD_A and $IVTD_B, checks their logs
#       ($TMP/ivtd-a.log, ivtd-b.log) for sanitizer reports
#   netns_pair_transfer CHANNEL BYTES TAG
#       ivt-demo listens on CHANNEL in A (ivtd socket $SOCK_A) and, once
#       ivtd A lists it, sends BYTES from B ($SOCK_B); shows both outputs
#       ($TMP/lisTAG.out, conTAG.out). True when both exit 0 and the
#       connector says OK. The processes run through the arrays $IN_A,
#       $IN_B (default: ip netns exec; a test may add env).
#   fail TEXT   counts a failed check in $fails
# It brings tests/lib/ivt-lib.sh along (ivt_two_host_policy, ...).

. "$(dirname "${BASH_SOURCE[0]}")/../lib/ivt-lib.sh"

netns_pair_cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
	rm -rf "$TMP"
}

netns_pair_setup() {
	local prefix=$1
	IF_A=$2
	IF_B=$3
	shift 3
	for t in "$@"; do
		[ -x "$BIN/$t" ] || { echo "no $BIN/$t"; exit 1; }
	done
	NS_A=$prefix-a-$$
	NS_B=$prefix-b-$$
	IN_A=(ip netns exec "$NS_A")
	IN_B=(ip netns exec "$NS_B")
	TMP=$(mktemp -d)
	PIDS=()
	trap netns_pair_cleanup EXIT INT TERM

	[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
	ip netns add "$NS_A" 2>/dev/null || { echo "SKIP: cannot create network namespaces"; exit 77; }
	ip netns add "$NS_B" || exit 77
	ip link add "$IF_A" netns "$NS_A" type veth peer name "$IF_B" netns "$NS_B" 2>/dev/null ||
		{ echo "SKIP: cannot create veth"; exit 77; }
	ip -n "$NS_A" link set "$IF_A" up
	ip -n "$NS_B" link set "$IF_B" up
	MAC_A=$(ip netns exec "$NS_A" cat "/sys/class/net/$IF_A/address")
	MAC_B=$(ip netns exec "$NS_B" cat "/sys/class/net/$IF_B/address")
}

netns_pair_impair() {
	local netem=$1 spec=$2
	IMPAIR_ENV=()
	# shellcheck disable=SC2086 # netem arguments are words
	if ip netns exec "$NS_A" tc qdisc add dev "$IF_A" root netem $netem 2>/dev/null &&
	   ip netns exec "$NS_B" tc qdisc add dev "$IF_B" root netem $netem; then
		echo "impairment: netem $netem (both sides)"
	else
		IMPAIR_ENV=(IVT_SLURPOE_IMPAIR=$spec)
		echo "impairment: no netem in this kernel; ${IMPAIR_ENV[*]} in both ivtd"
	fi
}

start_ivtd() { # ns, name, policy, socket, log
	ip netns exec "$1" env "${IMPAIR_ENV[@]}" "$BIN/ivtd" -r local -n "$2" -c "$3" -s "$4" \
		>"$5" 2>&1 &
	PIDS+=($!)
	LAST_PID=$!
	for _ in $(seq 50); do
		[ -S "$4" ] && return 0
		sleep 0.1
	done
	echo "ivtd $2 did not start:"; cat "$5"; return 1
}

# Wait (at most $1 s) until ivtd A (socket $SOCK_A) shows the 'bulk'
# channel from hostB bridged with bytes arrived: only then is there a
# transfer to interrupt (a fixed sleep races with a slow start under load).
wait_transfer() {
	local deadline=$((SECONDS + $1))
	while [ $SECONDS -lt $deadline ]; do
		ip netns exec "$NS_A" "$BIN/ivtctl" -s "$SOCK_A" status 2>/dev/null |
			awk '$1 == "bulk" && $2 == "from" && $5 == "bridged" && $7 + 0 > 0 { ok = 1 }
			     END { exit !ok }' && return 0
		sleep 0.1
	done
	return 1
}

# Until ivtd A lists CHANNEL's listener (a fixed sleep races with a slow start).
netns_pair_wait_listener() { # channel
	for _ in $(seq 100); do
		ip netns exec "$NS_A" "$BIN/ivtctl" -s "$SOCK_A" status 2>/dev/null |
			grep -q "^$1 .*listening" && return 0
		sleep 0.1
	done
	return 1
}

netns_pair_transfer() { # channel, bytes, tag
	"${IN_A[@]}" "$BIN/ivt-demo" listen "$1" --socket "$SOCK_A" >"$TMP/lis$3.out" 2>&1 &
	local lis=$!
	PIDS+=($lis)
	netns_pair_wait_listener "$1"
	"${IN_B[@]}" "$BIN/ivt-demo" connect "$1" --socket "$SOCK_B" --bytes "$2" \
		--timeout 20000 >"$TMP/con$3.out" 2>&1
	local crc=$?
	wait "$lis"
	local lrc=$?
	echo "--- $3: connector rc=$crc listener rc=$lrc"
	sed 's/^/    connector: /' "$TMP/con$3.out"
	sed 's/^/    listener:  /' "$TMP/lis$3.out"
	[ $crc -eq 0 ] && [ $lrc -eq 0 ] && grep -q "^OK: " "$TMP/con$3.out"
}

netns_pair_tcpx() {
	local built=${IVT_PLUGIN_DIR:-$BIN/../plugins}
	local tcpx=${IVT_TCPX_PLUGIN:-$BIN/../tests/remote/xport-plugins/ivt_tcpx.so}
	[ -f "$tcpx" ] || { echo "no $tcpx"; exit 1; }
	mkdir "$TMP/plugins"
	ln -s "$built/ivt_shm.so" "$built/ivt_slurpoe.so" "$tcpx" "$TMP/plugins/"
	export IVT_PLUGIN_DIR=$TMP/plugins
	TCPX_NET=10.$1.0
	ip -n "$NS_A" addr add "$TCPX_NET.1/24" dev "$IF_A"
	ip -n "$NS_B" addr add "$TCPX_NET.2/24" dev "$IF_B"
}

# After netns_pair_tcpx, with $TMP/a.json and b.json written: ivtd A and B
# (sockets $SOCK_A, $SOCK_B), each telling the stand-in its address.
netns_pair_tcpx_ivtd() {
	IMPAIR_ENV=(IVT_TCPX_ADDR=$TCPX_NET.1)
	start_ivtd "$NS_A" hostA "$TMP/a.json" "$SOCK_A" "$TMP/ivtd-a.log" || exit 1
	IVTD_A=$LAST_PID
	IMPAIR_ENV=(IVT_TCPX_ADDR=$TCPX_NET.2)
	start_ivtd "$NS_B" hostB "$TMP/b.json" "$SOCK_B" "$TMP/ivtd-b.log" || exit 1
	IVTD_B=$LAST_PID
}

netns_pair_tcpx_pair() { # rdma of A, of B, backend at A, at B
	rm -f "$SOCK_A" "$SOCK_B"
	ivt_two_host_policy "$TMP/a.json" hostB "$IF_A" "$MAC_B" "$1" "${3:-}"
	ivt_two_host_policy "$TMP/b.json" hostA "$IF_B" "$MAC_A" "$2" "${4:-}"
	netns_pair_tcpx_ivtd
}

netns_pair_stop_ivtd() {
	kill -TERM "$IVTD_A" "$IVTD_B"
	wait "$IVTD_A" "$IVTD_B" 2>/dev/null
	if grep -qE "AddressSanitizer|LeakSanitizer|runtime error" "$TMP/ivtd-a.log" "$TMP/ivtd-b.log"; then
		fail "sanitizer errors in the ivtd logs"
	fi
}

fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# wait_log FILE TEXT: TEXT shows up in FILE within 10 s (a daemon logs an
# event it learns after the process that saw it first may have exited)
wait_log() {
	local end=$((SECONDS + 10))
	until grep -qF -- "$2" "$1"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}
