#!/bin/bash
# Authenticated bridging (docs/remote.md, trust model): two "hosts"
# (namespaces + veth), each ivtd's policy names the other host with a
# "key_file", so every SLURPoE frame between them carries a tag.
#   1. same key on both sides: 32 MiB byte-exact through both daemons, with
#      loss/dup/reorder on the link;
#   1b. host B's policy also asks for encryption: 8 MiB byte-exact again;
#   1c. ivtd A is killed and restarted mid-transfer: its new engine cannot
#      verify the old connection's frames and answers them with a
#      stateless RESET (host-pair key), so ivtd B sees "Connection reset
#      by peer", not a timeout;
#   2. host B's daemon has another key: B's connector is refused (times
#      out), host A's daemon counts the frames it refused, keeps running;
#   3. policies with a key file open to others, or not 64 hex digits, or
#      a host on the same interface without a key, are refused.
# IVT_AUTH_CARRIER=udp: the same over the UDP carrier (IPv4 addresses on
# the veth, each entry naming the peer's "ip": ivtd's default carrier),
# and B's log must say it dialled over UDP; else raw frames (no address).
# Exit 77 = skipped (not root, no namespaces/veth).
set -u
BIN=${IVT_BIN_DIR:-$(dirname "$0")/../../build/bin}
export IVT_PLUGIN_DIR=${IVT_PLUGIN_DIR:-$BIN/../plugins}
. "$(dirname "$0")/netns-pair.sh"
netns_pair_setup ivta ra0 ra1 ivtd ivt-demo ivtctl
netns_pair_impair "loss 2% duplicate 1% reorder 25% 50% delay 1ms" "loss=2,dup=1,reorder=25,delay_us=1000"
CARRIER=${IVT_AUTH_CARRIER:-raw}
IP_A="" IP_B=""
if [ "$CARRIER" = udp ]; then
	IP_A=10.95.0.1 IP_B=10.95.0.2
	ip -n "$NS_A" addr add $IP_A/24 dev ra0
	ip -n "$NS_B" addr add $IP_B/24 dev ra1
fi

policy() { # file, peer name, ifname, peer mac, key file
	local ip=$IP_B
	[ "$2" = hostA ] && ip=$IP_A
	cat >"$1" <<EOP
{
  "version": 1,
  "channels": [
    { "name": "bulk", "host": "hostA", "listeners": ["uid:*"],
      "connectors": ["uid:*", "host:hostB/uid:*"] }
  ],
  "hosts": [ { "name": "$2", "ifname": "$3", "mac": "$4", "key_file": "$5"${ip:+, \"ip\": \"$ip\"} } ]
}
EOP
}
key() { # file, 64 hex digits
	(umask 077; echo "$2" >"$1")
}
key "$TMP/ab.key" 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
key "$TMP/other.key" ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
policy "$TMP/a.json" hostB ra0 "$MAC_B" "$TMP/ab.key"
policy "$TMP/b.json" hostA ra1 "$MAC_A" "$TMP/ab.key"
policy "$TMP/b-wrong.json" hostA ra1 "$MAC_A" "$TMP/other.key"
SOCK_A=$TMP/a.sock SOCK_B=$TMP/b.sock

# ---- 3. key files are checked with the policy ----------------------------
check() { # expect-substring, policy file
	local out
	out=$("$BIN/ivtctl" check-policy "$2" 2>&1)
	echo "$out" | grep -q "$1" || fail "check-policy $2: expected '$1', got: $out"
}
cp "$TMP/ab.key" "$TMP/open.key"; chmod 644 "$TMP/open.key"
policy "$TMP/p1.json" hostB ra0 "$MAC_B" "$TMP/open.key"
check "chmod 600" "$TMP/p1.json"
key "$TMP/short.key" 0001020304
policy "$TMP/p2.json" hostB ra0 "$MAC_B" "$TMP/short.key"
check "exactly 64 hex digits" "$TMP/p2.json"
sed 's/"hosts": \[/"hosts": [ { "name": "hostC", "ifname": "ra0", "mac": "02:00:00:00:00:0c" },/' \
	"$TMP/a.json" >"$TMP/p3.json"
check "must all have a" "$TMP/p3.json"
check "^ok" "$TMP/a.json"

start_ivtd "$NS_A" hostA "$TMP/a.json" "$SOCK_A" "$TMP/ivtd-a.log" || exit 1
IVTD_A=$LAST_PID
start_ivtd "$NS_B" hostB "$TMP/b.json" "$SOCK_B" "$TMP/ivtd-b.log" || exit 1
IVTD_B=$LAST_PID
grep -q "every frame authenticated" "$TMP/ivtd-a.log" || fail "ivtd A does not say frames are authenticated"

# One channel from B's connector to A's listener, byte-exact.
transfer() { # tag, bytes, what
	ip netns exec "$NS_A" "$BIN/ivt-demo" listen bulk --socket "$SOCK_A" >"$TMP/lis$1.out" 2>&1 &
	LIS=$!
	PIDS+=($LIS)
	sleep 0.3
	ip netns exec "$NS_B" "$BIN/ivt-demo" connect bulk --socket "$SOCK_B" --bytes "$2" \
		--timeout 20000 >"$TMP/con$1.out" 2>&1 || fail "$3 (connector)"
	wait "$LIS" || fail "$3 (listener)"
	grep -q "^OK: " "$TMP/lis$1.out" || fail "$3: listener did not confirm the data"
	echo "--- $1. $2 through both ivtd, $3:"
	sed 's/^/    /' "$TMP/lis$1.out"
}

# ---- 1. the right key ----------------------------------------------------
transfer 1 32M "authenticated frames"
wait_log "$TMP/ivtd-b.log" "host hostA: dialling over ra1, $CARRIER carrier" ||
	fail "ivtd B did not dial over the $CARRIER carrier"

# ---- 1b. host B asks for confidentiality too -----------------------------
kill -TERM "$IVTD_B"; wait "$IVTD_B" 2>/dev/null
sed 's/"key_file"/"encrypt": true, "key_file"/' "$TMP/b.json" >"$TMP/b-enc.json"
start_ivtd "$NS_B" hostB "$TMP/b-enc.json" "$SOCK_B" "$TMP/ivtd-benc.log" || exit 1
IVTD_B=$LAST_PID
grep -q "payloads encrypted" "$TMP/ivtd-benc.log" || fail "ivtd B does not say it encrypts"
transfer 1b 8M "payloads encrypted"

# ---- 1c. ivtd A forgets the connection (restart) -------------------------
ip netns exec "$NS_A" "$BIN/ivt-demo" listen bulk --socket "$SOCK_A" >"$TMP/lis1c.out" 2>&1 &
LIS=$!
PIDS+=($LIS)
sleep 0.3
ip netns exec "$NS_B" "$BIN/ivt-demo" connect bulk --socket "$SOCK_B" --bytes 64G \
	--timeout 20000 >"$TMP/con1c.out" 2>&1 &
CON=$!
PIDS+=($CON)
wait_transfer 30 || fail "1c: the transfer did not start within 30 s"
kill -9 "$IVTD_A"
wait "$IVTD_A" 2>/dev/null
rm -f "$SOCK_A"
start_ivtd "$NS_A" hostA "$TMP/a.json" "$SOCK_A" "$TMP/ivtd-a2.log" || exit 1
IVTD_A=$LAST_PID
deadline=$((SECONDS + 60))
while kill -0 "$CON" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
kill -9 "$CON" "$LIS" 2>/dev/null
echo "--- 1c. ivtd A restarted mid-transfer; ivtd B says:"
grep "peer died" "$TMP/ivtd-benc.log" | sed 's/^/    /'
grep -q "peer died (Connection reset by peer)" "$TMP/ivtd-benc.log" ||
	fail "1c: ivtd B got no RESET from the restarted ivtd A"

# ---- 2. the wrong key ----------------------------------------------------
kill -TERM "$IVTD_B"; wait "$IVTD_B" 2>/dev/null
start_ivtd "$NS_B" hostB "$TMP/b-wrong.json" "$SOCK_B" "$TMP/ivtd-b2.log" || exit 1
IVTD_B=$LAST_PID
ip netns exec "$NS_A" "$BIN/ivt-demo" listen bulk --socket "$SOCK_A" --timeout 8000 \
	>"$TMP/lis2.out" 2>&1 &
LIS=$!
PIDS+=($LIS)
sleep 0.3
if ip netns exec "$NS_B" "$BIN/ivt-demo" connect bulk --socket "$SOCK_B" --bytes 1M \
	--timeout 4000 >"$TMP/con2.out" 2>&1; then
	fail "a daemon with the wrong key got a channel"
fi
echo "--- 2. wrong key: connector says:"
sed 's/^/    /' "$TMP/con2.out"
kill "$LIS" 2>/dev/null
kill -0 "$IVTD_A" 2>/dev/null || fail "ivtd A died"
ip netns exec "$NS_A" "$BIN/ivtctl" -s "$SOCK_A" status >"$TMP/status-a.txt" 2>&1 ||
	fail "ivtd A does not answer STATUS"
sed 's/^/    status A: /' "$TMP/status-a.txt"
[ "$(grep -c "^bulk .*from hostB" "$TMP/status-a.txt")" -le 1 ] || fail "ivtd A bridged for a stranger"
grep -qE "authenticated, [1-9][0-9]* unauthenticated" "$TMP/status-a.txt" ||
	fail "ivtd A did not count the wrong key's frames"
if grep -qE "AddressSanitizer|LeakSanitizer|runtime error" "$TMP"/ivtd-*.log; then
	fail "sanitizer errors in the ivtd logs"
fi
if [ $fails -ne 0 ]; then
	echo "--- ivtd A log"; tail -30 "$TMP/ivtd-a.log"
	echo "--- ivtd B log"; tail -30 "$TMP/ivtd-b2.log"
	echo "$fails check(s) failed"
	exit 1
fi
echo "all authentication checks passed"
