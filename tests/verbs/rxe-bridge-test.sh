#!/bin/bash
# SPDX-License-Identifier: MIT
#
# ivtd bridging a remote channel over verbs (docs/remote.md, "Bridging over
# RDMA"), for the Xen bed's dom0 or any root shell with rdma_rxe. Two
# network namespaces joined by a veth pair stand for two hosts, one ivtd
# each (SLURPoE between them for the handshake); the queue pairs run on a
# soft-RoCE device bound to a second veth in the initial namespace (rdma_rxe
# before Linux 6.9 works only there; RDMA devices are visible from every
# namespace). One device serves both ivtd, as in rxe-test.sh: rxe loops
# traffic between its own queue pairs back, so two devices on one kernel
# would not put more on a wire. Should the queue pair not come up from
# inside namespaces (the fallback says so), the checks are repeated with
# both ivtd in the initial namespace, and the detail says so.
#   1. both policies say "rdma": "auto": ivt-demo moves $BYTES from B to A,
#      byte-exact, and both ivtd log the channel as bridged over verbs;
#   2. A's policy says "off": B's ivtd logs the fallback with A's reason
#      and the same transfer goes over SLURPoE, byte-exact;
#   3. direct queue pair (VMM-bypass, docs/remote.md "Direct queue pairs"):
#      channel "direct" has "backend": "verbs" on both hosts, so the two
#      ivt-demo processes open their own verbs ends and the ivtd only relay
#      the blobs: $BYTES byte-exact, both ivtd log the direct setup, ivtctl
#      lists it as direct (0 bytes through ivtd) while it runs;
#   4. ib_write_bw on the device in the same run, 64 KiB.
# Output: "IVT-TEST <name> PASS|FAIL <detail>", and a "VERBS-BRIDGE" line
# (MB/s: bridged over verbs, over SLURPoE, direct, ib_write_bw). Exit 0 all passed, 1 a failure, 77 skipped.
#
# Usage: rxe-bridge-test.sh [BUILD_DIR]   ($IVT_BIN_DIR, $IVT_PLUGIN_DIR override)
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shared shell pieces: in the tree, or beside this script (the Xen payload)
if [ -r "$here/../lib/ivt-lib.sh" ]; then . "$here/../lib/ivt-lib.sh"; else . "$here/ivt-lib.sh"; fi
build=${1:-$here/../../build}
bin=${IVT_BIN_DIR:-$build/bin}
export IVT_PLUGIN_DIR=${IVT_PLUGIN_DIR:-$build/plugins}
BYTES=${BRIDGE_TEST_BYTES:-256M}
failed=0
skip() { echo "IVT-TEST verbs-bridge SKIP $*"; exit 77; }
pass() { echo "IVT-TEST $1 PASS ${*:2}" | tee -a "$TMP/results"; }
fail() { echo "IVT-TEST $1 FAIL ${*:2}"; failed=1; }

[ "$(id -u)" = 0 ] || skip "must run as root"
for t in ivtd ivt-demo ivtctl; do [ -x "$bin/$t" ] || { fail verbs-bridge-setup "no $bin/$t"; exit 1; }; done
modprobe rdma_rxe 2>/dev/null || skip "cannot load rdma_rxe"
command -v rdma >/dev/null || skip "no 'rdma' tool"

NS_A=ivtvb-a-$$ NS_B=ivtvb-b-$$
TMP=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rdma link delete ivtvrxa 2>/dev/null
	ip link del ivtvr0 2>/dev/null
	ip link del vbr0 2>/dev/null
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# ---- the RDMA device (initial namespace) --------------------------------
ip link add ivtvr0 type veth peer name ivtvr1 || skip "cannot create a veth"
ip addr add 192.0.2.11/24 dev ivtvr0
ip link set ivtvr0 up
ip link set ivtvr1 up
rdma link add ivtvrxa type rxe netdev ivtvr0 || skip "rdma link add on ivtvr0 failed"
gid_of() { # device: index of its RoCE v2 IPv4 GID, once the port is ACTIVE
	local p=/sys/class/infiniband/$1/ports/1 t
	grep -q ACTIVE "$p/state" 2>/dev/null || return 1
	for t in "$p"/gid_attrs/types/*; do
		[ "$(cat "$t" 2>/dev/null)" = "RoCE v2" ] &&
			grep -q '^0000:0000:0000:0000:0000:ffff:' "$p/gids/${t##*/}" 2>/dev/null &&
			{ echo "${t##*/}"; return 0; }
	done
	return 1
}
for _ in $(seq 50); do
	gid_a=$(gid_of ivtvrxa) && break
	sleep 0.2
done
[ -n "${gid_a:-}" ] || { fail verbs-bridge-setup "no active RoCE v2 GID on ivtvrxa"; exit 1; }

# ---- the two "hosts" ----------------------------------------------------
ip netns add "$NS_A" && ip netns add "$NS_B" || skip "cannot create namespaces"
INIT_NS= # set: both ivtd run in the initial namespace (see the header)
in_ns() { # ns: the command prefix that runs there (none with INIT_NS), in NSX
	NSX=()
	[ -n "$INIT_NS" ] || NSX=(ip netns exec "$1")
}
ip link add vbr0 netns "$NS_A" type veth peer name vbr1 netns "$NS_B" || skip "no veth"
ip -n "$NS_A" link set vbr0 up
ip -n "$NS_B" link set vbr1 up
MAC_A=$(ip netns exec "$NS_A" cat /sys/class/net/vbr0/address)
MAC_B=$(ip netns exec "$NS_B" cat /sys/class/net/vbr1/address)
start_ivtd() { # ns, name, policy, socket, log, rdma device
	in_ns "$1"
	"${NSX[@]}" env IVT_VERBS_DEVICE="$6" "$bin/ivtd" -r local -n "$2" -c "$3" -s "$4" \
		>"$5" 2>&1 &
	PIDS+=($!)
	LAST_PID=$!
	for _ in $(seq 100); do
		[ -S "$4" ] && return 0
		sleep 0.1
	done
	echo "# ivtd $2 did not start:" >&2
	sed 's/^/#   /' "$5" >&2
	return 1
}
# The device's retry counters (rxe hw_counters): a packet lost at the end
# of a burst costs the queue pair's transport timeout (timeout 14: 67 ms),
# completer_retry_err counts those. rxe_note LABEL prints what changed since
# the last rxe_note (IVT-NOTE lines, not checks).
RXE_CNT=/sys/class/infiniband/ivtvrxa/ports/1/hw_counters
rxe_snap() {
	local n
	for n in completer_retry_err rcvd_seq_err out_of_seq_request duplicate_request \
		send_rnr_err rcvd_rnr_err; do
		echo "$n $(cat "$RXE_CNT/$n" 2>/dev/null || echo 0)"
	done
}
rxe_snap >"$TMP/rxe-cnt"
rxe_note() {
	rxe_snap >"$TMP/rxe-cnt.new"
	echo "IVT-NOTE verbs-rxe-counters $1: $(awk 'NR == FNR { old[$1] = $2; next }
		{ printf "%s +%d ", $1, $2 - old[$1] }' "$TMP/rxe-cnt" "$TMP/rxe-cnt.new")"
	mv "$TMP/rxe-cnt.new" "$TMP/rxe-cnt"
}
# One transfer B -> A on channel $1 (default bulk); prints the listener's
# MB/s; $TMP/lis.out, con.out. The processes use the same RDMA device.
transfer() {
	local chan=${1:-bulk}
	in_ns "$NS_A"
	"${NSX[@]}" env IVT_VERBS_DEVICE=ivtvrxa "$bin/ivt-demo" listen "$chan" \
		--socket "$TMP/a.sock" >"$TMP/lis.out" 2>&1 &
	local lis=$!
	sleep 0.5
	in_ns "$NS_B"
	"${NSX[@]}" env IVT_VERBS_DEVICE=ivtvrxa timeout 300 "$bin/ivt-demo" connect "$chan" \
		--socket "$TMP/b.sock" \
		--bytes "$BYTES" --timeout 30000 >"$TMP/con.out" 2>&1
	local crc=$?
	wait "$lis"
	local lrc=$?
	sed 's/^/#   connector: /' "$TMP/con.out" >&2
	sed 's/^/#   listener:  /' "$TMP/lis.out" >&2
	[ $crc = 0 ] && [ $lrc = 0 ] || return 1
	awk '/MB\/s/ { for (i = 1; i < NF; i++) if ($(i + 1) ~ /^MB\/s/) v = $i } END { print v }' \
		"$TMP/lis.out"
}
run_pair() { # rdma setting of A, of B
	rm -f "$TMP"/*.sock
	ivt_two_host_policy "$TMP/a.json" hostB vbr0 "$MAC_B" "$1" verbs
	ivt_two_host_policy "$TMP/b.json" hostA vbr1 "$MAC_A" "$2" verbs
	start_ivtd "$NS_A" hostA "$TMP/a.json" "$TMP/a.sock" "$TMP/ivtd-a.log" ivtvrxa || return 1
	IVTD_A=$LAST_PID
	start_ivtd "$NS_B" hostB "$TMP/b.json" "$TMP/b.sock" "$TMP/ivtd-b.log" ivtvrxa || return 1
	IVTD_B=$LAST_PID
}
stop_pair() {
	kill "$IVTD_A" "$IVTD_B" 2>/dev/null
	wait "$IVTD_A" "$IVTD_B" 2>/dev/null
	sed 's/^/#   ivtd A: /' "$TMP/ivtd-a.log" >&2
	sed 's/^/#   ivtd B: /' "$TMP/ivtd-b.log" >&2
}
pass verbs-bridge-setup "rxe ivtvrxa (GID $gid_a), ivtd in namespaces $NS_A/$NS_B"

# ---- 1. over verbs ---------------------------------------------------------
over_verbs() { grep -q "bridged for .* over verbs" "$TMP/ivtd-a.log" &&
	grep -q "bridged for .* over verbs" "$TMP/ivtd-b.log"; }
where="ivtd in two namespaces"
run_pair auto auto && mbs_v=$(transfer)
ok=$?
if [ $ok = 0 ] && ! over_verbs && grep -q "over SLURPoE, not verbs" "$TMP/ivtd-b.log"; then
	why1=$(grep -o 'over SLURPoE, not verbs.*' "$TMP/ivtd-b.log" | head -n 1)
	stop_pair
	echo "# from namespaces: $why1; again with both ivtd in the initial namespace" >&2
	ip -n "$NS_A" link set vbr0 netns 1
	ip -n "$NS_B" link set vbr1 netns 1
	ip link set vbr0 up # moving a link takes it down
	ip link set vbr1 up
	INIT_NS=1
	where="ivtd in the initial namespace (from namespaces: $why1)"
	run_pair auto auto && mbs_v=$(transfer)
	ok=$?
fi
rxe_note "bridged transfer over verbs (${mbs_v:-?} MB/s)"
if [ $ok = 0 ]; then
	if over_verbs; then
		pass verbs-bridge-transfer "$BYTES B->A byte-exact over verbs: $mbs_v MB/s; $where"
	else
		fail verbs-bridge-transfer "transfer ok ($mbs_v MB/s) but not over verbs: $(grep -h 'SLURPoE' "$TMP"/ivtd-?.log | head -2 | tr '\n' ' ')"
	fi
else
	fail verbs-bridge-transfer "transfer failed: $(tail -n 2 "$TMP/con.out" "$TMP/lis.out" | tr '\n' ' ')"
fi
stop_pair

# ---- 2. A says "off": fallback with the reason -----------------------------
if run_pair off auto && mbs_s=$(transfer); then
	if grep -q "over SLURPoE, not verbs: host hostA: .*rdma" "$TMP/ivtd-b.log"; then
		pass verbs-bridge-fallback "A's policy refuses: B logged '$(grep -o 'over SLURPoE, not verbs.*' "$TMP/ivtd-b.log" | head -1)'; $BYTES byte-exact over SLURPoE: $mbs_s MB/s"
	else
		fail verbs-bridge-fallback "no fallback reason in ivtd B's log"
	fi
else
	fail verbs-bridge-fallback "transfer failed: $(tail -n 2 "$TMP/con.out" "$TMP/lis.out" | tr '\n' ' ')"
fi
stop_pair

# ---- 3. a direct queue pair: ivtd relays the setup only -------------------
if run_pair auto auto; then
	# ivtctl while it runs: the channel listed as direct, nothing through ivtd
	( in_ns "$NS_B"
	  for _ in $(seq 600); do
		"${NSX[@]}" "$bin/ivtctl" -s "$TMP/b.sock" status 2>/dev/null |
			awk '$1 == "direct" && $5 == "direct"' >>"$TMP/direct-status"
		sleep 0.05
	  done ) &
	poller=$!
	PIDS+=($poller)
	rxe_note "before the direct transfer"
	mbs_d=$(transfer direct)
	ok=$?
	rxe_note "direct transfer ($BYTES B, ${mbs_d:-?} MB/s)"
	kill "$poller" 2>/dev/null
	wait "$poller" 2>/dev/null
	st=$(head -n 1 "$TMP/direct-status" 2>/dev/null)
	if [ $ok != 0 ]; then
		fail verbs-direct-transfer "transfer failed: $(tail -n 2 "$TMP/con.out" "$TMP/lis.out" | tr '\n' ' ')"
	elif ! grep -q "direct verbs queue pair set up" "$TMP/ivtd-a.log" ||
		! grep -q "direct verbs queue pair set up" "$TMP/ivtd-b.log"; then
		fail verbs-direct-transfer "transfer ok ($mbs_d MB/s) but not direct"
	elif ! awk '{ if ($6 != 0 || $7 != 0 || $8 != "verbs") bad = 1; n++ } END { exit bad || !n }' \
		"$TMP/direct-status"; then
		fail verbs-direct-transfer "ivtctl did not list it as direct with 0 bytes through ivtd: '$st'"
	else
		pass verbs-direct-transfer "$BYTES B->A byte-exact over the processes' own queue pair: $mbs_d MB/s; ivtctl: '$(echo $st)'; $where"
	fi
else
	fail verbs-direct-transfer "ivtd did not start"
fi
stop_pair

# ---- 4. the device's own rate, same run ------------------------------------
port=18517
wbw_run() { # iterations: client output in $TMP/wbw.txt, its wall seconds in $wsecs
	ib_write_bw -d ivtvrxa -x "$gid_a" -s 65536 -n "$1" -F -p $port >"$TMP/wbw-srv.txt" 2>&1 &
	local srv=$! t0
	PIDS+=($srv)
	for _ in $(seq 150); do ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break; sleep 0.2; done
	t0=$(date +%s%N)
	timeout 120 ib_write_bw -d ivtvrxa -x "$gid_a" -s 65536 -n "$1" -F -p $port 127.0.0.1 \
		>"$TMP/wbw.txt" 2>&1
	wsecs=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.6f", (b - a) / 1e9 }')
	for _ in $(seq 150); do kill -0 "$srv" 2>/dev/null || break; sleep 0.2; done
	kill "$srv" 2>/dev/null
	wait "$srv" 2>/dev/null
	sed 's/^/#   ib_write_bw: /' "$TMP/wbw.txt" >&2
}
r() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }
if command -v ib_write_bw >/dev/null; then
	wbw_run 5000
	# MiB/s from perftest; its TSC estimate fails in some VMs (0.00, or a
	# correlation warning): then from the wall time of a long and a short
	# run (the difference cancels the setup), as rxe-test.sh does.
	wbw=$(awk '$1 == 65536 && NF >= 5 { print $4 }' "$TMP/wbw.txt")
	wsrc=perftest
	if grep -q 'Correlation coefficient' "$TMP/wbw.txt" || [ "$(r "${wbw:-0}" 1)" = 0.00 ]; then
		t1=$wsecs
		wbw_run 500
		wbw=$(awk -v t1="$t1" -v t2="$wsecs" 'BEGIN { if (t1 > t2) printf "%.3f", 65536 * 4500 / (t1 - t2) / 1048576 }')
		wsrc="wall clock of -n 5000 vs -n 500"
	fi
	wbw_mb=$(awk -v m="${wbw:-0}" 'BEGIN { printf "%.1f", m * 1048576 / 1e6 }')
	echo "VERBS-BRIDGE verbs ${mbs_v:-0} slurpoe ${mbs_s:-0} direct ${mbs_d:-0} ib_write_bw $wbw_mb ($wsrc)"
	if grep -q "verbs-direct-transfer PASS" "$TMP/results" 2>/dev/null && [ -n "$wbw" ]; then
		pass verbs-direct-vs-ib_write_bw "direct queue pair $mbs_d MB/s, bridged over verbs ${mbs_v:-?} MB/s, ib_write_bw $wbw_mb MB/s: direct/ib_write_bw $(r "$mbs_d" "$wbw_mb"), direct/bridged $(r "$mbs_d" "${mbs_v:-0}")"
	else
		fail verbs-direct-vs-ib_write_bw "no ratio: direct ${mbs_d:-none}, ib_write_bw '$wbw'"
	fi
	if over_verbs_ok=$(grep -c "verbs-bridge-transfer PASS" "$TMP/results" 2>/dev/null) && [ "$over_verbs_ok" = 1 ] && [ -n "$wbw" ]; then
		pass verbs-bridge-vs-ib_write_bw "ivt-demo through two ivtd: over verbs $mbs_v MB/s, over SLURPoE ${mbs_s:-?} MB/s; ib_write_bw 64 KiB on the device $wbw_mb MB/s ($wsrc); verbs/ib_write_bw $(r "$mbs_v" "$wbw_mb"), verbs/SLURPoE $(r "$mbs_v" "${mbs_s:-0}")"
	else
		fail verbs-bridge-vs-ib_write_bw "no ratio: verbs transfer ${mbs_v:-none} (over verbs: ${over_verbs_ok:-0}), ib_write_bw '$wbw' ($wsrc)"
	fi
else
	fail verbs-bridge-vs-ib_write_bw "perftest not installed"
fi
exit $failed
