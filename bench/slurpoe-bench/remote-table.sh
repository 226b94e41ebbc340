#!/bin/bash
# remote-table: the README's remote-path table from one run. Runs
# slurpoe-bench (each invocation measures TCP on the same veth too) for
# MTU 1500 and 9000, without and with frame authentication, and with
# busy-poll, and with payloads encrypted too, and over UDP (--udp: GSO
# super-datagrams, UDP_GRO), then prints stream rates (64 KiB, 1 MiB messages), the 64 B
# round trip and the CPU per GB of both sides, each beside TCP's. With
# --ivtd, then a second table through two ivtds (bench/remote-bench,
# --carriers raw,udp: both carriers in each repetition, alternating) at
# MTU 1500 and 9000, without and with authentication, each beside TCP
# (iperf3) on the same veth in the same run; --ivtd-bytes N per point
# (default 128M). --no-slurpoe skips the first table.
#
#   remote-table.sh [--quick] [--repeat N] [--ivtd] [--ivtd-bytes N] [--no-slurpoe]
#                                              (root; default --repeat 3)
set -u
BIN=${IVT_BIN_DIR:-$(dirname "$0")/../../build/bin}
ARGS=(--repeat 3)
REPEAT=3 IVTD=0 IVTD_BYTES=128M SLP=1
while [ $# -gt 0 ]; do
	case $1 in
	--quick) ARGS+=(--quick); shift ;;
	--repeat) ARGS+=(--repeat "$2"); REPEAT=$2; shift 2 ;;
	--ivtd) IVTD=1; shift ;;
	--ivtd-bytes) IVTD_BYTES=$2; shift 2 ;;
	--no-slurpoe) SLP=0; shift ;;
	-h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
slurpoe_table() {
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
}

# One remote-bench run (both carriers) -> a row per carrier.
ivtd_rows() { # label, remote-bench options...
	local label=$1; shift
	"$(dirname "$0")/../remote-bench/remote-bench.sh" --carriers raw,udp --repeat "$REPEAT" \
		--bytes "$IVTD_BYTES" "$@" >"$OUT/ivtd" 2>&1 || { cat "$OUT/ivtd" >&2; exit 1; }
	for c in raw udp; do
		awk -v label="$label" -v c="$c" '
			$0 ~ "-> SLURPoE/" c " ->" { v[$(NF-2)] = $(NF-1); r[$(NF-2)] = $NF }
			/^TCP \(iperf3/ { t[$(NF-2)] = $(NF-1) }
			$0 ~ "per GB bridged over " c ":" { cpu = $(NF-7) }
			END {
				printf "| %s, %s | %s (%.2fx) | %s (%.2fx) | %s / %s | %s s |\n", label, c,
				       v["64K"], r["64K"], v["1M"], r["1M"], t["64K"], t["1M"], cpu
			}' "$OUT/ivtd"
	done
}
ivtd_table() {
	echo "| through two ivtds (median of $REPEAT) | 64 KiB writes MB/s (/TCP) | 1 MiB writes MB/s (/TCP) | TCP MB/s 64K / 1M | CPU s per GB, both ivtds |"
	echo "| --- | --- | --- | --- | --- |"
	ivtd_rows "MTU 1500" --mtu 1500
	ivtd_rows "MTU 1500, authenticated" --mtu 1500 --auth
	ivtd_rows "MTU 9000" --mtu 9000
	ivtd_rows "MTU 9000, authenticated" --mtu 9000 --auth
}
[ "$SLP" = 1 ] && slurpoe_table
[ "$IVTD" = 1 ] && { [ "$SLP" = 1 ] && echo; ivtd_table; }
exit 0
