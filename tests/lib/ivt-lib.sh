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

# ivt_port NAME
#   A TCP port for a test server of the script NAME: the start of NAME's
#   own range of 2000 ports (the table below) + this shell's pid mod 2000,
#   so scripts that run side by side (ctest -j) never share a port and runs
#   of one script differ. The ranges once overlapped (each script's base
#   +- 8000): two scripts started together under -j2 picked the same port
#   and one bind failed. A script steps through at most 400 ports above
#   its pick. All stay below the kernel's ephemeral range
#   (ip_local_port_range, 32768 by default): a port in it can be any
#   outgoing connection's local port, and a bind then fails with "Address
#   already in use".
ivt_port() {
	local i lo
	case $1 in
	preload-programs) i=0 ;; preload-idle) i=1 ;; preload-lifecycle) i=2 ;;
	preload-fork) i=3 ;; preload-errors) i=4 ;; preload-halfclose) i=5 ;;
	preload-many) i=6 ;; preload-addrs) i=7 ;; preload-bench) i=8 ;;
	*) echo "ivt_port: no port range for '$1' (add it to tests/lib/ivt-lib.sh)" >&2; return 1 ;;
	esac
	echo $((10000 + i * 2400 + $$ % 2000))
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	[ $((10000 + i * 2400 + 2400)) -le "${lo:-32768}" ] ||
		echo "ivt_port: $1's range reaches the ephemeral ports (from ${lo:-32768})" >&2
}

# ivt_free_port PORT
#   PORT, or the next port above it that nothing listens on (TCP): a
#   server another program left there would make the bind fail.
ivt_free_port() {
	local p=$1
	while ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; do p=$((p + 1)); done
	echo $p
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
