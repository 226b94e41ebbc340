#!/bin/bash
# Direct queue pairs between hosts (VMM-bypass, docs/remote.md "Direct
# queue pairs"), end to end on any host: ivt_tcpx.so (tcpx_plugin.c)
# stands in for verbs in the two *processes*, so ivtd only relays the
# setup blobs across hosts and the bytes go process to process. Two
# namespaces, one ivtd each, the channel's rule "backend": "tcpx":
#   1. 64 MiB B->A byte-exact on channel "direct" (ivt_two_host_policy);
#      both ivtd log the direct setup, ivtctl
#      lists the channel as direct over tcpx, and neither ivtd moved a
#      byte of it (bridged byte counters stay 0);
#   2. the connector in B is killed with SIGKILL mid-transfer: ivtd B
#      resets the channel's SLURPoE connection, ivtd A reports the death;
#   3. a clean channel again on the same daemons;
#   4. the listener's host has it on shm: bridged instead, the reason
#      logged on both sides, same transfer;
#   5. B's entry for A says "rdma": "off": no offer (reason logged), and
#      A refuses with its reason, which reaches B's client.
# Exit 77 = skipped (not root, no namespaces/veth).
set -u
BIN=${IVT_BIN_DIR:-$(dirname "$0")/../../build/bin}
. "$(dirname "$0")/netns-pair.sh"
netns_pair_setup ivtd_ dv0 dv1 ivtd ivt-demo ivtctl
IMPAIR_ENV=()
netns_pair_tcpx 78

SOCK_A=$TMP/a.sock SOCK_B=$TMP/b.sock
pair() { netns_pair_tcpx_pair "$@"; } # rdma of A, of B[, backends]
unpair() { netns_pair_stop_ivtd; }
# The processes load the stand-in too, each with its namespace's address.
# (Arrays, not functions: $! must be the process itself, for kill -9.)
IN_A=(ip netns exec "$NS_A" env IVT_TCPX_ADDR=$TCPX_NET.1)
IN_B=(ip netns exec "$NS_B" env IVT_TCPX_ADDR=$TCPX_NET.2)
transfer() { netns_pair_transfer direct "$@"; }

# ---- 1. direct --------------------------------------------------------------
pair auto auto tcpx tcpx
transfer 64M 1 || fail "1: transfer over a direct tcpx pipe"
grep -q "direct tcpx queue pair set up" "$TMP/ivtd-a.log" || fail "1: ivtd A did not set up direct"
grep -q "direct tcpx queue pair set up" "$TMP/ivtd-b.log" || fail "1: ivtd B did not set up direct"
grep -q "bridged for" "$TMP/ivtd-a.log" "$TMP/ivtd-b.log" && fail "1: bridged anyway"

# ---- 2. the connector dies mid-transfer -------------------------------------
"${IN_A[@]}" "$BIN/ivt-demo" listen direct --socket "$SOCK_A" >"$TMP/lis2.out" 2>&1 &
LIS=$!
PIDS+=($LIS)
netns_pair_wait_listener direct
"${IN_B[@]}" "$BIN/ivt-demo" connect direct --socket "$SOCK_B" --bytes 64G \
	--timeout 20000 >"$TMP/con2.out" 2>&1 &
CON=$!
PIDS+=($CON)
deadline=$((SECONDS + 30))
until ip netns exec "$NS_B" "$BIN/ivtctl" -s "$SOCK_B" status >"$TMP/status2" 2>/dev/null &&
	awk '$1 == "direct" && $5 == "direct" && $6 == 0 && $7 == 0 && $8 == "tcpx" { ok = 1 }
	     END { exit !ok }' "$TMP/status2"; do
	[ $SECONDS -lt $deadline ] || { fail "2: ivtctl never listed the channel as direct"; cat "$TMP/status2"; break; }
	sleep 0.1
done
sleep 0.5 # bytes flow meanwhile
# The listener is stopped while the death travels B -> A: running, it sees
# the death on its own data path at once and leaves, and its close could
# reach ivtd B before B handled its connector's end (a loaded B), which
# then logged the peer's close instead. Stopped, the only news of the
# death A can have is B's reset: the checks below test that path.
kill -STOP "$LIS"
kill -9 "$CON"
wait "$CON" 2>/dev/null
wait_log "$TMP/ivtd-b.log" "channel 'direct' to host hostA: local end died (direct)" ||
	fail "2: ivtd B did not see its connector die"
wait_log "$TMP/ivtd-a.log" "channel 'direct' from host hostB: peer died" ||
	fail "2: ivtd A did not report the connector's death"
kill -CONT "$LIS"
deadline=$((SECONDS + 30))
while kill -0 "$LIS" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
kill -0 "$LIS" 2>/dev/null && { fail "2: listener still runs 30 s after the connector died"; kill -9 "$LIS"; }
wait "$LIS"
echo "--- 2: connector killed: listener rc=$?"
sed 's/^/    listener:  /' "$TMP/lis2.out"

# ---- 3. a second clean channel ----------------------------------------------
transfer 8M 3 || fail "3: transfer after a death"
unpair

# ---- 4. the listener's host has the channel on shm: bridged, reasons logged --
pair auto auto shm tcpx
transfer 16M 4 || fail "4: bridged transfer"
grep -q "bridged, not a direct tcpx queue pair: the listener's end here is on shm" \
	"$TMP/ivtd-a.log" || fail "4: ivtd A did not log why not direct"
grep -q "bridged, not a direct tcpx queue pair: the listener's end there is on shm" \
	"$TMP/ivtd-b.log" || fail "4: ivtd B did not log why not direct"
grep -q "queue pair set up" "$TMP/ivtd-b.log" && fail "4: direct anyway"
unpair

# ---- 5. B's policy says "off": no offer; A refuses with its reason ----------
pair auto off tcpx tcpx
# (The listener waits until killed below: one that gave up after 3 s
# could leave before a loaded machine brought B's OPEN to A, and A's
# answer then named no listener instead of the reason.)
"${IN_A[@]}" "$BIN/ivt-demo" listen direct --socket "$SOCK_A" >"$TMP/lis5.out" 2>&1 &
LIS=$!
PIDS+=($LIS)
netns_pair_wait_listener direct
"${IN_B[@]}" "$BIN/ivt-demo" connect direct --socket "$SOCK_B" --bytes 1M --timeout 20000 \
	>"$TMP/con5.out" 2>&1 && fail "5: connected without a direct queue pair"
sed 's/^/    connector: /' "$TMP/con5.out"
grep -q "no direct tcpx queue pair: " "$TMP/ivtd-b.log" || fail "5: ivtd B did not log why no offer"
grep -q "did not ask for a direct queue pair" "$TMP/con5.out" || fail "5: A's reason did not reach the client"
kill "$LIS" 2>/dev/null
wait "$LIS" 2>/dev/null
unpair

if [ $fails -ne 0 ]; then
	echo "--- ivtd A log"; tail -40 "$TMP/ivtd-a.log"
	echo "--- ivtd B log"; tail -40 "$TMP/ivtd-b.log"
	echo "$fails check(s) failed"
	exit 1
fi
echo "all direct checks passed"
