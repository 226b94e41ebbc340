#!/bin/bash
# Which carrier two ivtd use (docs/remote.md, "Carriers"): two network
# namespaces joined by a veth pair with IPv4 addresses, loss/dup/reorder
# on the link, the hosts entries naming each other's "ip".
#   1. default: B dials A over UDP (GSO/GRO), 64 MiB byte-exact; both
#      logs and `ivtctl status` say which carrier and why, and A's UDP
#      engine carried the frames;
#   1b. a second ivtd on A's interface says another ivtd serves it and
#      leaves the interface alone;
#   2. datagrams from B's namespace carrying B's MAC from an address
#      other than B's "ip", or from B's "ip" but not from port 34997 (the
#      port only a peer engine holds), are refused by A (counted in its
#      status);
#   2b. port 34997 held by another program: ivtd warns, raw frames only;
#   3. mixed: B's entry forces "carrier": "raw", A keeps the default:
#      B dials over raw frames, A takes it, the bytes arrive;
#   4. "carrier": "udp" for a host without an address on the interface
#      is refused with the reason; with the default, no IPv4 address on
#      the interfaces: both log why there is no UDP carrier and bridge
#      over raw frames.
# Exit 77 = skipped (not root, no namespaces/veth).
set -u
BIN=${IVT_BIN_DIR:-$(dirname "$0")/../../build/bin}
export IVT_PLUGIN_DIR=${IVT_PLUGIN_DIR:-$BIN/../plugins}
BYTES=${REMOTE_TEST_BYTES:-64M}
. "$(dirname "$0")/netns-pair.sh"
netns_pair_setup ivtu ru0 ru1 ivtd ivt-demo ivtctl
IP_A=10.96.0.1
IP_B=10.96.0.2
ip -n "$NS_A" addr add $IP_A/24 dev ru0
ip -n "$NS_B" addr add $IP_B/24 dev ru1
netns_pair_impair "loss 5% duplicate 1% reorder 25% 50% delay 1ms" "loss=5,dup=1,reorder=25,delay_us=1000"
SOCK_A=$TMP/a.sock
SOCK_B=$TMP/b.sock

start_both() { # carrier of A's entry for B, of B's entry for A, ip of B, ip of A
	[ -z "${IVTD_A:-}" ] || netns_pair_stop_ivtd 2>/dev/null
	rm -f "$SOCK_A" "$SOCK_B"
	ivt_two_host_policy "$TMP/a.json" hostB ru0 "$MAC_B" off "" "$1" "$3"
	ivt_two_host_policy "$TMP/b.json" hostA ru1 "$MAC_A" off "" "$2" "$4"
	start_ivtd "$NS_A" hostA "$TMP/a.json" "$SOCK_A" "$TMP/ivtd-a.log" || exit 1
	IVTD_A=$LAST_PID
	start_ivtd "$NS_B" hostB "$TMP/b.json" "$SOCK_B" "$TMP/ivtd-b.log" || exit 1
	IVTD_B=$LAST_PID
}
status() { ip netns exec "$1" "$BIN/ivtctl" -s "$2" status 2>&1; }
# frames received by A's engine on CARRIER (its "slurpoe ru0 CARRIER:" line)
rx_frames() { status "$NS_A" "$SOCK_A" | awk -v c="$1:" '$1 == "slurpoe" && $3 == c { print $7 + 0 }'; }
show_logs() { sed 's/^/    ivtd A: /' "$TMP/ivtd-a.log"; sed 's/^/    ivtd B: /' "$TMP/ivtd-b.log"; }

echo "1. default carrier with \"ip\" known: $BYTES A<-B"
start_both "" "" $IP_B $IP_A
netns_pair_transfer bulk "$BYTES" 1 || fail "bulk transfer over the default carrier"
wait_log "$TMP/ivtd-b.log" "host hostA: dialling over ru1, udp carrier: default; its \"ip\" $IP_A is known" ||
	fail "ivtd B does not say it dials over UDP and why"
wait_log "$TMP/ivtd-a.log" "host hostB: connects to us over ru0, udp carrier" ||
	fail "ivtd A does not say hostB came over UDP"
status "$NS_B" "$SOCK_B" | grep -F "peer hostA via ru1: carrier udp (default; its \"ip\" $IP_A is known)" ||
	fail "ivtctl status in B does not show the carrier"
udp_rx=$(rx_frames udp)
echo "    A's UDP engine received ${udp_rx:-?} frames, raw $(rx_frames raw)"
[ "${udp_rx:-0}" -gt 1000 ] || fail "A's UDP engine did not carry the transfer"
[ $fails -eq 0 ] || show_logs

echo "1b. a second ivtd on A's interface: it says so and leaves the interface alone"
start_ivtd "$NS_A" hostA "$TMP/a.json" "$TMP/a-second.sock" "$TMP/ivtd-a-second.log" || exit 1
SECOND=$LAST_PID
wait_log "$TMP/ivtd-a-second.log" "remote channels over ru0 disabled: another ivtd (pid $IVTD_A) already serves ru0 in this network namespace" ||
	{ fail "a second ivtd on ru0 does not say another ivtd serves it"; cat "$TMP/ivtd-a-second.log"; }
kill -TERM "$SECOND"; wait "$SECOND" 2>/dev/null

echo "2. B's MAC from another address in B's namespace: refused by A"
ip -n "$NS_B" addr add 10.96.0.3/24 dev ru1
netns_pair_stop_ivtd # frees port 34997 in B for the forger
start_ivtd "$NS_A" hostA "$TMP/a.json" "$SOCK_A" "$TMP/ivtd-a2.log" || exit 1
IVTD_A=$LAST_PID
ip netns exec "$NS_B" python3 - "$MAC_A" "$MAC_B" $IP_A $IP_B <<'PY' || fail "could not send the forged datagrams"
import socket, sys
mac = lambda m: bytes(int(x, 16) for x in m.split(":"))
frame = mac(sys.argv[1]) + mac(sys.argv[2]) + b"\x88\xb5" + bytes(64)
for src in (("10.96.0.3", 34997), (sys.argv[4], 40000)):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(src)
    for _ in range(3):
        s.sendto(frame, (sys.argv[3], 34997))
    s.close()
PY
refused=0
for _ in $(seq 50); do
	refused=$(status "$NS_A" "$SOCK_A" | awk '$1 == "slurpoe" && $3 == "udp:" { for (i = 1; i < NF; i++) if ($(i+1) == "datagrams") print $i }')
	[ "${refused:-0}" -ge 6 ] && break
	sleep 0.1
done
echo "    datagrams from refused sources at A: ${refused:-?} (a fresh ivtd: none before)"
[ "${refused:-0}" -ge 6 ] || fail "A took B's MAC from another address or port than its \"ip\":34997"
ip -n "$NS_B" addr del 10.96.0.3/24 dev ru1
mv "$TMP/ivtd-a2.log" "$TMP/ivtd-a.log"

echo "2b. port 34997 taken in B's namespace by another program: ivtd B warns"
ip netns exec "$NS_B" python3 -c 'import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 34997))
print("bound", flush=True)
time.sleep(60)' >"$TMP/holder.out" 2>&1 &
HOLDER=$!
PIDS+=($HOLDER)
for _ in $(seq 50); do grep -q bound "$TMP/holder.out" && break; sleep 0.1; done
start_ivtd "$NS_B" hostB "$TMP/b.json" "$SOCK_B" "$TMP/ivtd-b.log" || exit 1
IVTD_B=$LAST_PID
wait_log "$TMP/ivtd-b.log" "warning: remote channels over ru1: no UDP carrier (no SLURPoE over UDP: UDP port 34997 on ru1 is taken: another ivtd probably serves ru1); raw frames only" ||
	fail "ivtd B does not warn that port 34997 is taken"
kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null

echo "3. mixed: B forces raw frames, A the default"
start_both "" raw $IP_B $IP_A
netns_pair_transfer bulk 16M 3 || fail "bulk transfer with B forcing raw frames"
wait_log "$TMP/ivtd-b.log" "host hostA: dialling over ru1, raw carrier: its hosts entry says \"carrier\": \"raw\"" ||
	fail "ivtd B does not say it dials over raw frames"
wait_log "$TMP/ivtd-a.log" "host hostB: connects to us over ru0, raw carrier" ||
	fail "ivtd A does not say hostB came over raw frames"

echo "4. no IPv4 address on the interfaces"
ip -n "$NS_A" addr flush dev ru0
ip -n "$NS_B" addr flush dev ru1
start_both udp "" "" $IP_A
wait_log "$TMP/ivtd-b.log" "remote channels over ru1: no UDP carrier (no SLURPoE over UDP: no IPv4 address on ru1); raw frames only" ||
	fail "ivtd B does not say why it has no UDP carrier"
status "$NS_A" "$SOCK_A" | grep -F "peer hostB via ru0: cannot dial (its hosts entry says \"carrier\": \"udp\" but ru0 has no UDP carrier" ||
	fail "ivtctl status in A does not say why \"carrier\": \"udp\" cannot be had"
start_both "" "" $IP_B $IP_A
netns_pair_transfer bulk 16M 4 || fail "bulk transfer over raw frames without addresses"
wait_log "$TMP/ivtd-b.log" "host hostA: dialling over ru1, raw carrier: default; ru1 has no UDP carrier: no SLURPoE over UDP: no IPv4 address on ru1" ||
	fail "ivtd B does not say why it falls back to raw frames"
netns_pair_stop_ivtd
[ $fails -eq 0 ] || show_logs
echo "failures: $fails"
[ $fails -eq 0 ]
