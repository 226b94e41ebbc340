#!/usr/bin/env bash
# Servers on one port bound to different addresses (docs/preload.md,
# "Addresses"): a preloaded client reaches the one TCP would, through ivt
# (its log says so: no silent fall-back), and is refused where TCP is.
# Each case runs over the kernel and through the preload; both must give
# the same answer.
set -uo pipefail
NEED="python3 ss"
. "$(dirname "$0")/preload-lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

# server: mode, address, tag[, v6only]; its log is $T/srv-<tag>-<mode>.log
server() {
	local mode=$1 addr=$2 tag=$3
	start_bg "$T/srv-$tag-$mode.log" $mode "$PY" "$HERE/tag_server.py" "$addr" $PORT "$tag" ${4:-}
	for _ in $(seq 200); do
		grep -q "listen .*:$PORT: kernel and ivt" "$T/srv-$tag-$mode.log" 2>/dev/null && return
		[ $mode = kernel ] && ss -Hltn "sport = :$PORT" | grep -qF "$addr" && return
		sleep 0.05
	done
	fail "server $tag ($addr:$PORT, $mode) does not listen"
}
# expect: mode, address dialled, wanted answer ("refused" or its first
# word, the tag), and for ivt: ivt|kernel, the way the preload must take
expect() {
	local mode=$1 addr=$2 want=$3 how=${4:-}
	local log="$T/cli-$mode-$N.log"
	out=$(with $mode "$PY" "$HERE/tag_client.py" "$addr" $PORT 2>"$log")
	echo "$mode $addr:$PORT -> $out"
	[ "${out%% *}" = "$want" ] || fail "$mode: $addr:$PORT answered '$out', want $want"
	# the same addresses as over TCP (the server's getsockname/getpeername)
	echo "$out" >"$T/out-$mode-$N"
	[ $mode = ivt ] && ! cmp -s "$T/out-kernel-$N" "$T/out-ivt-$N" &&
		fail "$addr:$PORT: '$out' through ivt, '$(cat "$T/out-kernel-$N")' over TCP"
	N=$((N + 1))
	if [ $mode = ivt ]; then
		grep -q "connect .*: $how" "$log" ||
			{ fail "$addr:$PORT did not go $how"; grep ivt-preload "$log"; }
	fi
}
BASE=$PORT # both modes use the same ports, one after the other
stop() { for p in "$@"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }

for mode in kernel ivt; do
	N=0
	PORT=$BASE
	# two servers bound to two loopback addresses: each client its own
	next_port
	server $mode 127.0.0.1 A; a=$BG
	server $mode 127.0.0.2 B; b=$BG
	# the log names the channel as ivtd does (tcp.P.<addr>), not tcp.P
	[ $mode = ivt ] && ! grep -q "listen 127.0.0.2:$PORT: kernel and ivt tcp\.$PORT\.127\.0\.0\.2$" \
		"$T/srv-B-$mode.log" && fail "the listen log does not name tcp.$PORT.127.0.0.2"
	expect $mode 127.0.0.1 A "ivt tcp\."
	expect $mode 127.0.0.2 B "ivt tcp\."
	expect $mode ::ffff:127.0.0.2 B "ivt tcp\."   # v4-mapped: the IPv4 address
	expect $mode 127.0.0.3 refused kernel          # nobody there, as TCP
	expect $mode 0.0.0.0 A "ivt tcp\."             # the kernel dials 127.0.0.1
	stop $a; expect $mode 127.0.0.1 refused kernel # B does not take A's address
	expect $mode 127.0.0.2 B "ivt tcp\."
	stop $b

	# 0.0.0.0 and [::] IPv6-only side by side (as nginx does): by family
	next_port
	server $mode 0.0.0.0 V4; a=$BG
	server $mode :: V6 v6only; b=$BG
	expect $mode 127.0.0.1 V4 "ivt tcp\."
	expect $mode 127.0.0.2 V4 "ivt tcp\."
	expect $mode ::1 V6 "ivt tcp\."
	stop $a $b
	# bound to ::1 and to 127.0.0.1
	next_port
	server $mode ::1 L6; a=$BG
	server $mode 127.0.0.1 L4; b=$BG
	expect $mode ::1 L6 "ivt tcp\."
	expect $mode 127.0.0.1 L4 "ivt tcp\."
	stop $a $b

	# an IPv4 wildcard takes no IPv6 connection, as TCP
	next_port
	server $mode 0.0.0.0 V4; a=$BG
	expect $mode 127.0.0.2 V4 "ivt tcp\."
	expect $mode ::1 refused kernel
	stop $a

	# an IPv6-only wildcard takes no IPv4 connection, as TCP
	next_port
	server $mode :: V6 v6only; a=$BG
	expect $mode ::1 V6 "ivt tcp\."
	expect $mode 127.0.0.1 refused kernel
	stop $a
done
echo "ivtd: $("$BIN/ivtctl" -s "$IVT_SOCKET" status 2>/dev/null | grep -i granted | head -1)"
finish "every client reached the server TCP would"
