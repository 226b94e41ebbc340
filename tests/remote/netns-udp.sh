#!/bin/bash
# Channels bridged between two ivtd with "carrier": "udp" (SLURPoE frames
# in UDP datagrams, GSO/GRO; docs/slurpoe.md): two network namespaces
# joined by a veth pair with IPv4 addresses, loss/dup/reorder on the link.
#   1. ivt-demo listens in A, connects in B: 64 MiB byte-exact;
#   2. both ivtd say their frames go over UDP.
# Exit 77 = skipped (not root, no namespaces/veth).
set -u
BIN=${IVT_BIN_DIR:-$(dirname "$0")/../../build/bin}
export IVT_PLUGIN_DIR=${IVT_PLUGIN_DIR:-$BIN/../plugins}
BYTES=${REMOTE_TEST_BYTES:-64M}
. "$(dirname "$0")/netns-pair.sh"
netns_pair_setup ivtu ru0 ru1 ivtd ivt-demo ivtctl
ip -n "$NS_A" addr add 10.96.0.1/24 dev ru0
ip -n "$NS_B" addr add 10.96.0.2/24 dev ru1
netns_pair_impair "loss 5% duplicate 1% reorder 25% 50% delay 1ms" "loss=5,dup=1,reorder=25,delay_us=1000"

# "rdma": "off" is the default; the hosts entry's carrier is UDP.
ivt_two_host_policy "$TMP/a.json" hostB ru0 "$MAC_B" off "" udp
ivt_two_host_policy "$TMP/b.json" hostA ru1 "$MAC_A" off "" udp
SOCK_A=$TMP/a.sock
SOCK_B=$TMP/b.sock
start_ivtd "$NS_A" hostA "$TMP/a.json" "$SOCK_A" "$TMP/ivtd-a.log" || exit 1
start_ivtd "$NS_B" hostB "$TMP/b.json" "$SOCK_B" "$TMP/ivtd-b.log" || exit 1

echo "1. $BYTES A<-B over UDP"
netns_pair_transfer bulk "$BYTES" 1 || fail "bulk transfer over UDP"
grep -q "^OK: " "$TMP/lis1.out" || fail "listener did not confirm the data"
for side in a b; do
	grep -q "frames over UDP" "$TMP/ivtd-$side.log" || fail "ivtd $side does not say UDP"
done
grep -h "frames over" "$TMP"/ivtd-*.log | sed 's/^/    /'
[ $fails -eq 0 ] || { sed 's/^/    ivtd A: /' "$TMP/ivtd-a.log"; sed 's/^/    ivtd B: /' "$TMP/ivtd-b.log"; }
echo "failures: $fails"
[ $fails -eq 0 ]
