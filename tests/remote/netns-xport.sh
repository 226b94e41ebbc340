#!/bin/bash
# Bridging a remote channel over an RDMA plugin, end to end on any host
# (docs/remote.md, "Bridging over RDMA"): ivt_tcpx.so (tcpx_plugin.c)
# stands in for verbs, so the negotiation, the pump and the end-of-channel
# rules run without an RDMA device. Two namespaces, one ivtd each:
#   1. both policies "rdma": "auto": 64 MiB B->A byte-exact, both ivtd log
#      "over tcpx", ivtctl lists the channel over tcpx;
#   2. the connector in B is killed with SIGKILL mid-transfer: the listener
#      in A gets ECONNRESET (the SLURPoE connection was reset), not an end
#      of stream;
#   3. the listener closes after reading: the connector's clean end;
#   4. A's policy "off": B logs the fallback with A's reason and the same
#      transfer goes over SLURPoE.
# Exit 77 = skipped (not root, no namespaces/veth).
set -u
BIN=${IVT_BIN_DIR:-$(dirname "$0")/../../build/bin}
. "$(dirname "$0")/netns-pair.sh"
netns_pair_setup ivtx xv0 xv1 ivtd ivt-demo ivtctl
IMPAIR_ENV=()
# Only shm, slurpoe and the stand-in: a real RDMA plugin must not win here.
netns_pair_tcpx 77

SOCK_A=$TMP/a.sock SOCK_B=$TMP/b.sock
pair() { netns_pair_tcpx_pair "$@"; } # rdma of A, of B[, backends]
unpair() { netns_pair_stop_ivtd; }
transfer() { netns_pair_transfer bulk "$@"; }

# ---- 1. over the plugin ----------------------------------------------------
pair auto auto
transfer 64M 1 || fail "1: transfer over tcpx"
grep -q "bridged for .* over tcpx" "$TMP/ivtd-a.log" || fail "1: ivtd A did not bridge over tcpx"
grep -q "bridged for .* over tcpx" "$TMP/ivtd-b.log" || fail "1: ivtd B did not bridge over tcpx"

# ---- 2. the connector dies mid-transfer: a death, not an end of stream ----
ip netns exec "$NS_A" "$BIN/ivt-demo" listen bulk --socket "$SOCK_A" >"$TMP/lis2.out" 2>&1 &
LIS=$!
PIDS+=($LIS)
netns_pair_wait_listener bulk
ip netns exec "$NS_B" "$BIN/ivt-demo" connect bulk --socket "$SOCK_B" --bytes 64G \
	--timeout 20000 >"$TMP/con2.out" 2>&1 &
CON=$!
PIDS+=($CON)
deadline=$((SECONDS + 30))
until ip netns exec "$NS_B" "$BIN/ivtctl" -s "$SOCK_B" status 2>/dev/null |
	awk '$1 == "bulk" && $5 == "bridged" && $6 + 0 > 0 && $8 == "tcpx" { ok = 1 } END { exit !ok }'; do
	[ $SECONDS -lt $deadline ] || { fail "2: no bytes over tcpx within 30 s"; break; }
	sleep 0.1
done
kill -9 "$CON"
wait "$CON" 2>/dev/null
deadline=$((SECONDS + 30))
while kill -0 "$LIS" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
kill -0 "$LIS" 2>/dev/null && { fail "2: listener still runs 30 s after the connector died"; kill -9 "$LIS"; }
wait "$LIS"
rc=$?
echo "--- 2: connector killed: listener rc=$rc"
sed 's/^/    listener:  /' "$TMP/lis2.out"
[ $rc -ne 0 ] || fail "2: the listener did not notice its connector's death"
grep -qiE "reset|went away without closing" "$TMP/lis2.out" || fail "2: the listener's error is not ECONNRESET"

# ---- 3. a second clean channel on the same daemons --------------------------
transfer 8M 3 || fail "3: transfer after a death"
unpair

# ---- 4. the listener's host says "off": fallback, with its reason -----------
pair off auto
transfer 16M 4 || fail "4: transfer over SLURPoE"
grep -q 'over SLURPoE, not tcpx: host hostA: the "hosts" entry of hostB here does not say' \
	"$TMP/ivtd-b.log" || fail "4: ivtd B did not log A's reason"
grep -q "bridged for .* over tcpx" "$TMP/ivtd-b.log" && fail "4: bridged over tcpx anyway"
unpair

if [ $fails -ne 0 ]; then
	echo "--- ivtd A log"; tail -30 "$TMP/ivtd-a.log"
	echo "--- ivtd B log"; tail -30 "$TMP/ivtd-b.log"
	echo "$fails check(s) failed"
	exit 1
fi
echo "all xport checks passed"
