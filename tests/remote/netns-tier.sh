#!/bin/bash
# ivtd's utmem store stacked over another host's ivtd store (docs/utmem.md,
# "Tiering between hosts"): two network namespaces joined by a veth pair
# stand for two hosts. ivtd A has a small store and "lower_tier": "hostB";
# ivtd B has a larger one and lets host:hostA/ivtd use "ivt.utmem".
#   1. a client in A puts more than A holds through libivt's ivt_store
#      API: every put is stored (the overflow in B, over SLURPoE) and
#      every value reads back byte-exact; `ivtctl status` on B shows
#      host:hostA/ivtd holding the pages;
#   2. ivtd B is killed: puts that would overflow are refused with
#      -ENOSPC (no other error, no hang), values stored in A still read
#      back, and ivtd A keeps running.
# Impairment: netem if the kernel has it, else IVT_SLURPOE_IMPAIR. Exit 77
# = skipped (not root, no namespaces/veth).
set -u
BIN=${IVT_BIN_DIR:-$(dirname "$0")/../../build/bin}
export IVT_PLUGIN_DIR=${IVT_PLUGIN_DIR:-$BIN/../plugins}
. "$(dirname "$0")/netns-pair.sh"
netns_pair_setup ivtt tv0 tv1 ivtd ivtctl ivt-tier-client
netns_pair_impair "loss 2% reorder 10% 50% delay 1ms" "loss=2,reorder=10,delay_us=1000"

# A: 256 KiB store, overflow to hostB. B: 64 MiB store; A's daemon may use
# it with a 32 MiB quota.
cat >"$TMP/a.json" <<EOF
{
  "version": 1,
  "channels": [
    { "name": "ivt.utmem", "listeners": [], "connectors": ["uid:*"], "backend": "shm" }
  ],
  "hosts": [ { "name": "hostB", "ifname": "tv0", "mac": "$MAC_B" } ],
  "utmem": { "capacity_bytes": 262144, "lower_tier": "hostB" }
}
EOF
cat >"$TMP/b.json" <<EOF
{
  "version": 1,
  "channels": [
    { "name": "ivt.utmem", "listeners": [], "connectors": ["uid:*", "host:hostA/ivtd"],
      "backend": "shm", "quota_bytes": 33554432 }
  ],
  "hosts": [ { "name": "hostA", "ifname": "tv1", "mac": "$MAC_A" } ],
  "utmem": { "capacity_bytes": 67108864 }
}
EOF
SOCK_A=$TMP/a.sock
SOCK_B=$TMP/b.sock

status_a() { ip netns exec "$NS_A" "$BIN/ivtctl" -s "$SOCK_A" status 2>&1; }
status_b() { ip netns exec "$NS_B" "$BIN/ivtctl" -s "$SOCK_B" status 2>&1; }

start_ivtd "$NS_B" hostB "$TMP/b.json" "$SOCK_B" "$TMP/ivtd-b.log" || exit 1
IVTD_B=$LAST_PID
start_ivtd "$NS_A" hostA "$TMP/a.json" "$SOCK_A" "$TMP/ivtd-a.log" || exit 1
IVTD_A=$LAST_PID

# The lower tier connects on its own; wait until A says it is up.
for _ in $(seq 150); do
	status_a | grep -q "utmem lower tier: host hostB up" && break
	sleep 0.2
done
status_a | grep -q "utmem lower tier: host hostB up" || fail "A's lower tier never came up"

# ---- 1. 200 x 4 KiB (~820 KiB) into A's 256 KiB store --------------------
N=200
SIZE=4096
HOLD=$TMP/hold
ip netns exec "$NS_A" env IVT_SOCKET="$SOCK_A" "$BIN/ivt-tier-client" fill $N $SIZE "$HOLD" \
	>"$TMP/fill.out" 2>&1 &
FILL=$!
PIDS+=($FILL)
for _ in $(seq 600); do
	[ -e "$HOLD" ] && break
	kill -0 "$FILL" 2>/dev/null || break
	sleep 0.1
done
echo "--- 1. $N x $SIZE bytes through A (capacity 256 KiB, lower tier hostB)"
sed 's/^/    client: /' "$TMP/fill.out"
[ -e "$HOLD" ] || fail "the client did not store and read back every value"
status_b >"$TMP/status-b.txt"
status_a >"$TMP/status-a.txt"
sed -n '/^utmem/,$p' "$TMP/status-a.txt" | sed 's/^/    status A: /'
sed -n '/^utmem/,$p' "$TMP/status-b.txt" | sed 's/^/    status B: /'
line=$(grep "host:hostA/ivtd *domain" "$TMP/status-b.txt" | head -1)
pages=$(echo "$line" | sed -n 's/.* pages \([0-9]*\) .*/\1/p')
[ -n "$pages" ] && [ "$pages" -gt 0 ] ||
	fail "status on B does not show host:hostA/ivtd holding pages"
below=$(grep -o "below: puts [0-9]*" "$TMP/status-a.txt" | head -1 | awk '{print $3}')
[ -n "$below" ] && [ "$below" -gt 0 ] || fail "status on A shows no put passed below"
rm -f "$HOLD"
wait "$FILL"
[ $? -eq 0 ] || fail "fill client failed"
grep -q "^OK" "$TMP/fill.out" || fail "fill client did not confirm"

# ---- 2. ivtd B dies: overflow is refused cleanly -------------------------
kill -9 "$IVTD_B"
wait "$IVTD_B" 2>/dev/null
t0=$SECONDS
ip netns exec "$NS_A" env IVT_SOCKET="$SOCK_A" timeout 120 "$BIN/ivt-tier-client" overflow \
	$N $SIZE >"$TMP/over.out" 2>&1
rc=$?
echo "--- 2. ivtd B killed: $N x $SIZE bytes through A: rc=$rc after $((SECONDS - t0)) s"
sed 's/^/    client: /' "$TMP/over.out"
[ $rc -eq 0 ] || fail "overflow puts were not refused cleanly (rc=$rc)"
kill -0 "$IVTD_A" 2>/dev/null || fail "ivtd A died"
status_a >"$TMP/status-a2.txt" || fail "ivtd A no longer answers STATUS"
grep "utmem lower tier" "$TMP/status-a2.txt" | sed 's/^/    status A: /'

# ivtd A stops cleanly; no sanitizer reports.
kill -TERM "$IVTD_A"
wait "$IVTD_A"
rc=$?
[ $rc -eq 0 ] || fail "ivtd A exited with $rc on SIGTERM"
if grep -qE "AddressSanitizer|LeakSanitizer|runtime error" "$TMP/ivtd-a.log" "$TMP/ivtd-b.log"; then
	fail "sanitizer report in an ivtd log"
fi
if [ $fails -ne 0 ]; then
	echo "--- ivtd A log (tail)"; tail -40 "$TMP/ivtd-a.log"
	echo "--- ivtd B log (tail)"; tail -40 "$TMP/ivtd-b.log"
	echo "FAILED: $fails"
	exit 1
fi
echo "PASS"
