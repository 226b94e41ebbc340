# SPDX-License-Identifier: MIT
# Shell pieces that more than one test or bench script needs (sourced; no
# side effects at source time). Kept once here so the copies cannot drift.
# Shipped next to the scripts that source it: the build tree's bin/ (for
# the benches), share/ivt/ when installed, the Xen bed's payload.

# ivt_two_host_policy FILE PEER IFNAME PEER_MAC RDMA [BACKEND] [CARRIER] [IP]
#   A two-"host" policy: channel "bulk" listened on hostA by local users
#   and connected to by hostB's; one hosts entry for PEER on IFNAME with
#   its MAC and "rdma" (auto, off, ...). With BACKEND also channel
#   "direct", the same with "backend": BACKEND (a direct queue pair
#   between the processes, docs/remote.md). With CARRIER the entry's
#   "carrier" ("udp": SLURPoE in UDP datagrams, docs/slurpoe.md; "raw";
#   "" leaves it out: auto). With IP the entry's "ip" (the peer's IPv4
#   address: auto then dials over UDP, docs/remote.md "Carriers").
ivt_two_host_policy() {
	cat >"$1" <<JSON
{
  "version": 1,
  "channels": [
    { "name": "bulk", "host": "hostA", "listeners": ["uid:*"],
      "connectors": ["uid:*", "host:hostB/uid:*"], "ring_size": 1048576 }${6:+,
    { \"name\": \"direct\", \"host\": \"hostA\", \"backend\": \"$6\", \"listeners\": [\"uid:*\"],
      \"connectors\": [\"uid:*\", \"host:hostB/uid:*\"], \"ring_size\": 1048576 \}}
  ],
  "hosts": [ { "name": "$2", "ifname": "$3", "mac": "$4", "rdma": "$5"${7:+, \"carrier\": \"$7\"}${8:+, \"ip\": \"$8\"} } ]
}
JSON
}

# ivt_port BASE SPAN
#   A TCP port for a test server: BASE + (this shell's pid mod SPAN), so
#   scripts running side by side (each its own BASE) and runs of one
#   script differ. Callers keep BASE + SPAN + the ports they step through
#   below the kernel's ephemeral range (ip_local_port_range, 32768 by
#   default): a port in it can be any outgoing connection's local port,
#   and the server's bind then fails with "Address already in use".
ivt_port() {
	local lo
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	echo $(($1 + ($$ % $2)))
	[ $(($1 + $2 + 100)) -le "${lo:-32768}" ] ||
		echo "ivt_port: $1 + $2 reaches the ephemeral ports (from ${lo:-32768})" >&2
}

# ivt_wait_listen MODE PORT PRELOAD_LOG
#   Waits (up to 10 s) until a server listens on TCP PORT: its kernel
#   socket, and in MODE ivt also the preload's ivt listener (its line in
#   PRELOAD_LOG, IVT_PRELOAD_LOG=1), so a client cannot slip in between
#   the two. No probe connection (iperf3 -s -1 serves exactly one).
#   0, or 1 with a line on stderr.
ivt_wait_listen() {
	for _ in $(seq 200); do
		if ss -Hltn "sport = :$2" 2>/dev/null | grep -q . &&
			{ [ "$1" != ivt ] || grep -q "listen [^ ]*:$2: kernel and ivt" "$3" 2>/dev/null; }; then
			return 0
		fi
		sleep 0.05
	done
	echo "nothing listens on port $2 ($1)" >&2
	return 1
}
