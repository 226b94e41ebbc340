#!/bin/bash
# remote-table: the README's remote-path table from one run. Runs
# slurpoe-bench (each invocation measures TCP on the same veth too) for
# MTU 1500 and 9000, without and with frame authentication, and with
# busy-poll, and with payloads encrypted too, and over UDP (--udp: GSO
# super-datagrams, UDP_GRO), then prints stream rates (64 KiB, 1 MiB messages), the 64 B
# round trip and the CPU per GB of both sides, each beside TCP's.
#
#   remote-table.sh [--quick] [--repeat N]     (root; default --repeat 3)
set -u
BIN=${IVT_BIN_DIR:-$(dirname "$0")/../../build/bin}
ARGS=(--repeat 3)
while [ $# -gt 0 ]; do
	case $1 in
	--quick) ARGS+=(--quick); shift ;;
	--repeat) ARGS+=(--repeat "$2"); shift 2 ;;
	-h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "remote-table: unknown option $1" >&2; exit 1 ;;
	esac
done
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
row() { # label, slurpoe-bench options...
	local label=$1; shift
	"$BIN/slurpoe-bench" "${ARGS[@]}" "$@" >"$OUT/run" 2>&1 || { cat "$OUT/run" >&2; exit 1; }
	# main table: size | slp tcp ratio | rdma ratio | slp-rtt tcp-rtt ratio
	awk -v label="$label" '
		$1 == "64K" && !k64 { s64 = $3; t64 = $4; k64 = 1 }
		$1 == "1M" && !k1m { s1m = $3; t1m = $4; k1m = 1 }
		$1 == "64" && !k64b { srtt = $10; trtt = $11; k64b = 1 }
		/^stream CPU/ { cpu = 1 }
		cpu && $1 == "64K" { sgb = $5; tcpu = ($7 + $8) / 1024; cpu = 0 }
		END {
			printf "| %s | %s (%.2fx) | %s (%.2fx) | %s | %s | %s s | %.2f s |\n", label,
			       s64, s64 / t64, s1m, s1m / t1m, t64 " / " t1m, srtt " / " trtt, sgb, tcpu
		}' "$OUT/run"
}
echo "| SLURPoE on veth (median of runs) | 64 KiB stream MB/s (/TCP) | 1 MiB stream MB/s (/TCP) | TCP MB/s 64K / 1M | 64 B round trip: SLURPoE / TCP | CPU s per GB, SLURPoE (64 KiB) | same, TCP |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
row "MTU 1500" --mtu 1500
row "MTU 1500, authenticated" --mtu 1500 --auth
row "MTU 1500, authenticated + encrypted" --mtu 1500 --encrypt
row "MTU 1500, busy-poll 50 us" --mtu 1500 --busy-poll 50
row "MTU 9000" --mtu 9000
row "MTU 9000, authenticated" --mtu 9000 --auth
row "MTU 9000, authenticated + encrypted" --mtu 9000 --encrypt
row "MTU 1500, over UDP" --mtu 1500 --udp
row "MTU 1500, over UDP, authenticated" --mtu 1500 --udp --auth
row "MTU 1500, over UDP, busy-poll 50 us" --mtu 1500 --udp --busy-poll 50
row "MTU 9000, over UDP" --mtu 9000 --udp
row "MTU 9000, over UDP, authenticated" --mtu 9000 --udp --auth
