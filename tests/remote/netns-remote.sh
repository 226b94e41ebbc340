#!/bin/bash
# Channels bridged between hosts by ivtd over SLURPoE (docs/remote.md):
# two network namespaces joined by a veth pair stand for two hosts, each
# with its own ivtd (own socket, own policy naming the other in "hosts").
#   1. ivt-demo listens in A, ivt-demo connects in B: 256 MiB byte-exact
#      (the connector sends, the listener checks every byte and a checksum)
#      with loss 5 %, dup 1 %, reorder 25 % on the SLURPoE frames; both
#      policies say "rdma": "auto": without an RDMA device ivtd B logs why
#      the channel stays on SLURPoE;
#   1b. an ivt_listen listener in A (ivt-cat listen --exec) accepts two
#      connectors from B at once, each its own channel: both streams
#      arrive byte-exact (sha256) and CMD sees "host:hostB/uid:0"; each
#      connector's end of input is a half-close through both daemons
#      and CMD's answer (the checksum) comes back after it;
#   1c. a listener in A in message mode, a connector in B that did not
#      ask: ivtd A's OPEN_OK carries the mode, B's client is told it;
#   2. a local client of a refused / unknown remote channel gets the
#      peer's reason;
#   2b. the connector in B is killed with SIGKILL: the listener in A gets
#      ECONNRESET;
#   3. ivtd A is killed with SIGKILL mid-transfer: the client in B must
#      fail with "Connection reset" within the retry budget, and ivtd B
#      must keep running (STATUS answers).
# Impairment: netem if the kernel has it, else IVT_SLURPOE_IMPAIR (ivtd
# impairs its own transmissions, netem's semantics). Exit 77 = skipped
# (not root, no namespaces/veth).
set -u
BIN=${IVT_BIN_DIR:-$(dirname "$0")/../../build/bin}
export IVT_PLUGIN_DIR=${IVT_PLUGIN_DIR:-$BIN/../plugins}
BYTES=${REMOTE_TEST_BYTES:-256M}
. "$(dirname "$0")/netns-pair.sh"
netns_pair_setup ivtr rv0 rv1 ivtd ivt-demo ivtctl ivt-cat
netns_pair_impair "loss 5% duplicate 1% reorder 25% 50% delay 1ms" "loss=5,dup=1,reorder=25,delay_us=1000"

# The same channel rules on both hosts; "host" says where listeners live.
policy() { # file, peer name, ifname, peer mac
	cat >"$1" <<EOF
{
  "version": 1,
  "channels": [
    { "name": "bulk", "host": "hostA", "listeners": ["uid:*"],
      "connectors": ["uid:*", "host:hostB/uid:*"],
      "ring_size": 1048576, "max_ring_size": 4194304 },
    { "name": "closed", "host": "hostA", "listeners": ["uid:*"],
      "connectors": ["uid:*", "host:hostC/*"] }
  ],
  "hosts": [ { "name": "$2", "ifname": "$3", "mac": "$4", "rdma": "auto" } ]
}
EOF
}
policy "$TMP/a.json" hostB rv0 "$MAC_B"
policy "$TMP/b.json" hostA rv1 "$MAC_A"
SOCK_A=$TMP/a.sock
SOCK_B=$TMP/b.sock


now() { date +%s.%N; }
t_start=$(now)

start_ivtd "$NS_A" hostA "$TMP/a.json" "$SOCK_A" "$TMP/ivtd-a.log" || exit 1
IVTD_A=$LAST_PID
start_ivtd "$NS_B" hostB "$TMP/b.json" "$SOCK_B" "$TMP/ivtd-b.log" || exit 1
IVTD_B=$LAST_PID

# ---- 1. 256 MiB byte-exact through both daemons -------------------------
t0=$(now)
ip netns exec "$NS_A" "$BIN/ivt-demo" listen bulk --socket "$SOCK_A" >"$TMP/lis.out" 2>&1 &
LIS=$!
PIDS+=($LIS)
sleep 0.3
ip netns exec "$NS_B" "$BIN/ivt-demo" connect bulk --socket "$SOCK_B" --bytes "$BYTES" \
	--timeout 20000 >"$TMP/con.out" 2>&1
crc=$?
wait "$LIS"
lrc=$?
t1=$(now)
echo "--- 1. $BYTES A<-B through both ivtd: connector rc=$crc listener rc=$lrc ($(echo "$t1 - $t0" | bc) s)"
sed 's/^/    connector: /' "$TMP/con.out"
sed 's/^/    listener:  /' "$TMP/lis.out"
[ $crc -eq 0 ] && [ $lrc -eq 0 ] || fail "bulk transfer"
grep -q "^OK: " "$TMP/lis.out" || fail "listener did not confirm the data"
ip netns exec "$NS_B" "$BIN/ivtctl" -s "$SOCK_B" status >"$TMP/status-b.txt" 2>&1 ||
	fail "ivtctl status on B"
grep -q "peer hostA via rv1" "$TMP/status-b.txt" || fail "status on B does not show peer hostA"
sed 's/^/    status B: /' "$TMP/status-b.txt"
# "rdma": "auto" on both sides: without an RDMA device here the dialer
# says why the channel stays on SLURPoE (docs/remote.md).
if grep -q "over SLURPoE: no RDMA plugin available" "$TMP/ivtd-b.log"; then
	echo "    fallback: $(grep -o 'over SLURPoE: no RDMA.*' "$TMP/ivtd-b.log" | head -n 1)"
elif ! grep -q "bridged for .* over " "$TMP/ivtd-b.log"; then
	fail "rdma auto: neither bridged over an RDMA plugin nor a reason for SLURPoE"
fi

# ---- 1b. one listener in A accepts two connectors from B -----------------
# CMD answers each connector with the checksum it read: the connector's
# end of input is a half-close through both daemons (ivt-cat -v says so),
# and the answer comes back to it after its own end.
ip netns exec "$NS_A" "$BIN/ivt-cat" listen bulk -s "$SOCK_A" -n 2 \
	--exec "s=\$(sha256sum | cut -d' ' -f1); echo \$IVT_PEER \$s >> $TMP/acc.out; echo \$s" \
	>"$TMP/lis1b.out" 2>&1 &
LIS1B=$!
PIDS+=($LIS1B)
c1b=()
for k in 1 2; do
	head -c 4M /dev/urandom >"$TMP/src$k"
	ip netns exec "$NS_B" "$BIN/ivt-cat" connect bulk -s "$SOCK_B" -t 20000 -v \
		<"$TMP/src$k" >"$TMP/ans1b-$k" 2>"$TMP/con1b-$k.out" &
	c1b+=($!)
	PIDS+=($!)
done
rc1b=0
for p in "${c1b[@]}"; do wait "$p" || rc1b=1; done
wait "$LIS1B" || rc1b=1
echo "--- 1b. two connectors from B accepted by one listener in A: rc=$rc1b"
sed 's/^/    accepted: /' "$TMP/acc.out"
[ $rc1b -eq 0 ] || { cat "$TMP"/con1b-*.out "$TMP/lis1b.out"; fail "1b: accept of two remote connectors"; }
[ "$(grep -c '^host:hostB/uid:0 ' "$TMP/acc.out")" = 2 ] || fail "1b: peer identities"
# ... and each connector knows where its peer is: the far host's ivtd
# (its listener's own identity does not cross hosts; it once read "")
for k in 1 2; do
	grep -q "connected to bulk (host:hostA/ivtd, backend" "$TMP/con1b-$k.out" ||
		fail "1b: connector $k's peer identity: $(head -1 "$TMP/con1b-$k.out")"
done
for k in 1 2; do
	sum=$(sha256sum <"$TMP/src$k" | cut -d' ' -f1)
	grep -q "$sum" "$TMP/acc.out" || fail "1b: stream $k did not arrive byte-exact"
	grep -q "half-closed" "$TMP/con1b-$k.out" && [ "$(cat "$TMP/ans1b-$k")" = "$sum" ] ||
		fail "1b: connector $k: no half-close through the daemons, or no answer after it"
done

# ---- 1c. the far listener's message mode reaches the connector ----------
# (Python bindings: neither tool speaks IVT_MESSAGE.) The listener in A
# asks for message mode, the connector in B does not: ivtd A's OPEN_OK
# says so and ivtd B tells its client; B sends two messages, A gets them
# whole, B learns the mode (ivt_next_msg_size works only on message ends).
PYIVT="env PYTHONPATH=$(dirname "$0")/../../python IVT_LIB=$BIN/../lib/libivt.so.1"
# an ASan build's libivt needs the runtime first in python (not built with it);
# python's own exit-time leaks are not ours
[ -n "${IVT_ASAN_RUNTIME:-}" ] &&
	PYIVT="$PYIVT LD_PRELOAD=$IVT_ASAN_RUNTIME ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
ip netns exec "$NS_A" $PYIVT python3 -c "
import ivt
with ivt.Channel.open('bulk', listen=True, message=True, socket_path='$SOCK_A') as c:
    print([c.recv() for _ in range(2)])
    c.send(b'back')
" >"$TMP/lis1c.out" 2>&1 &
LIS1C=$!
PIDS+=($LIS1C)
sleep 0.3
ip netns exec "$NS_B" $PYIVT python3 -c "
import ivt
with ivt.Channel.open('bulk', socket_path='$SOCK_B', timeout_ms=20000) as c:
    c.send(b'one'); c.send(b'second')
    print('next', c.next_msg_size(), c.recv())
" >"$TMP/con1c.out" 2>&1
rc1c=$?
wait "$LIS1C" || rc1c=1
echo "--- 1c. message mode across hosts, told to the connector: rc=$rc1c"
sed 's/^/    listener:  /' "$TMP/lis1c.out"
sed 's/^/    connector: /' "$TMP/con1c.out"
[ $rc1c -eq 0 ] || fail "1c: message mode across hosts"
grep -q "^\[b'one', b'second'\]$" "$TMP/lis1c.out" || fail "1c: the listener did not get two whole messages"
grep -q "^next 4 b'back'$" "$TMP/con1c.out" || fail "1c: the connector was not told message mode"

# ---- 2. refusals come back with the peer's reason ------------------------
ip netns exec "$NS_A" "$BIN/ivt-demo" listen closed --socket "$SOCK_A" >"$TMP/lis2.out" 2>&1 &
LIS2=$!
PIDS+=($LIS2)
sleep 0.3
ip netns exec "$NS_B" "$BIN/ivt-demo" connect closed --socket "$SOCK_B" --bytes 1M \
	--timeout 3000 >"$TMP/con2.out" 2>&1
rc=$?
echo "--- 2. connector refused by host A's policy: rc=$rc"
sed 's/^/    connector: /' "$TMP/con2.out"
[ $rc -ne 0 ] || fail "a connector not allowed by A's policy got through"
grep -qi "host hostA" "$TMP/con2.out" || grep -q "hostB/uid" "$TMP/con2.out" ||
	fail "the refusal does not carry host A's reason"
kill "$LIS2" 2>/dev/null

# ---- 2b. the connector process dies: the listener sees the death --------
ip netns exec "$NS_A" "$BIN/ivt-demo" listen bulk --socket "$SOCK_A" >"$TMP/lis4.out" 2>&1 &
LIS4=$!
PIDS+=($LIS4)
sleep 0.3
ip netns exec "$NS_B" "$BIN/ivt-demo" connect bulk --socket "$SOCK_B" --bytes 64G \
	--timeout 20000 >"$TMP/con4.out" 2>&1 &
CON4=$!
PIDS+=($CON4)
wait_transfer 30 || fail "2b: the transfer did not start within 30 s"
kill -9 "$CON4"
wait "$CON4" 2>/dev/null
deadline=$((SECONDS + 30))
while kill -0 "$LIS4" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
if kill -0 "$LIS4" 2>/dev/null; then
	fail "the listener in A still runs 30 s after its connector in B was killed"
	kill -9 "$LIS4"
fi
wait "$LIS4"
rc=$?
echo "--- 2b. connector in B killed: listener rc=$rc"
sed 's/^/    listener:  /' "$TMP/lis4.out"
[ $rc -ne 0 ] || fail "the listener did not notice its connector's death"
grep -qiE "reset|went away without closing" "$TMP/lis4.out" || fail "the listener's error is not ECONNRESET"

# ---- 3. ivtd A dies mid-transfer ----------------------------------------
ip netns exec "$NS_A" "$BIN/ivt-demo" listen bulk --socket "$SOCK_A" >"$TMP/lis3.out" 2>&1 &
LIS3=$!
PIDS+=($LIS3)
sleep 0.3
ip netns exec "$NS_B" "$BIN/ivt-demo" connect bulk --socket "$SOCK_B" --bytes 64G \
	--timeout 20000 >"$TMP/con3.out" 2>&1 &
CON3=$!
PIDS+=($CON3)
wait_transfer 30 || fail "3: the transfer did not start within 30 s"
t0=$(now)
kill -9 "$IVTD_A"
wait "$IVTD_A" 2>/dev/null
deadline=$((SECONDS + 60))
while kill -0 "$CON3" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
if kill -0 "$CON3" 2>/dev/null; then
	fail "the connector in B still runs 60 s after ivtd A died"
	kill -9 "$CON3"
fi
wait "$CON3"
rc=$?
t1=$(now)
echo "--- 3. ivtd A killed mid-transfer: connector rc=$rc after $(echo "$t1 - $t0" | bc) s"
sed 's/^/    connector: /' "$TMP/con3.out"
[ $rc -ne 0 ] || fail "the connector did not notice the death"
grep -qiE "reset|went away without closing" "$TMP/con3.out" || fail "the connector's error is not ECONNRESET"
kill -0 "$IVTD_B" 2>/dev/null || fail "ivtd B died"
ip netns exec "$NS_B" "$BIN/ivtctl" -s "$SOCK_B" status >"$TMP/status-b2.txt" 2>&1 ||
	fail "ivtd B no longer answers STATUS"
grep -q "peers_died\|ends died" "$TMP/status-b2.txt" || true

# ivtd B stops cleanly (frees its engine and bridges; sanitizer builds
# report leaks here), and neither daemon logged a sanitizer error.
kill -TERM "$IVTD_B"
wait "$IVTD_B"
rc=$?
[ $rc -eq 0 ] || fail "ivtd B exited with $rc on SIGTERM"
if grep -qE "AddressSanitizer|LeakSanitizer|runtime error" "$TMP/ivtd-a.log" "$TMP/ivtd-b.log"; then
	fail "sanitizer errors in the ivtd logs"
fi

t_end=$(now)
echo "total $(echo "$t_end - $t_start" | bc) s"
if [ $fails -ne 0 ]; then
	echo "--- ivtd A log"; tail -40 "$TMP/ivtd-a.log"
	echo "--- ivtd B log"; tail -40 "$TMP/ivtd-b.log"
	echo "$fails check(s) failed"
	exit 1
fi
echo "all remote checks passed"
exit 0
