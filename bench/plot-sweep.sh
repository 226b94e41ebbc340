#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Plot ivt-bench's shm sweep (ring size x write size) from its --csv output
# as a PNG: MB/s against write size, one line per ring size, with the
# baselines measured in the same run (memcpy of large buffers, Unix
# socketpair, TCP loopback) dashed. Needs gnuplot (gnuplot-nox).
#
# Usage: plot-sweep.sh SWEEP.csv OUT.png [TITLE]
#   e.g. ivt-bench --csv sweep.csv && bench/plot-sweep.sh sweep.csv docs/shm-sweep.png
set -eu
[ $# -ge 2 ] || { sed -n 4,10p "$0" | sed 's/^# \{0,1\}//'; exit 2; }
csv=$1 png=$2 title=${3:-"ivt shm channel bandwidth by ring size (ivt-bench)"}
command -v gnuplot >/dev/null || { echo "plot-sweep.sh: needs gnuplot (apt-get install gnuplot-nox)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One data file per series: "<msg_size> <mb_per_s>", sorted by size.
awk -F, -v dir="$tmp" 'NR > 1 && $1 == "bandwidth" && $7 != "" {
	if ($2 == "shm") name = sprintf("shm-%012d", $3); else name = "base-" $2
	print $4, $7 >> (dir "/" name ".dat")
}' "$csv"
ls "$tmp"/shm-*.dat >/dev/null 2>&1 || { echo "plot-sweep.sh: no shm bandwidth rows in $csv" >&2; exit 1; }

human() { # bytes -> 4K, 256K, 1M
	local b=$1
	if [ $((b % 1048576)) -eq 0 ]; then echo "$((b / 1048576))M"
	elif [ $((b % 1024)) -eq 0 ]; then echo "$((b / 1024))K"
	else echo "$b"; fi
}
plots=()
for f in "$tmp"/shm-*.dat; do
	ring=$((10#$(basename "$f" .dat | sed 's/shm-//')))
	sort -n -o "$f" "$f"
	plots+=("'$f' using 1:2 with linespoints lw 2 title 'shm, ring $(human "$ring")'")
done
dt=2
for b in memcpy-stream unix tcp; do
	f=$tmp/base-$b.dat
	[ -s "$f" ] || continue
	sort -n -o "$f" "$f"
	plots+=("'$f' using 1:2 with lines dt $dt lw 2 lc rgb 'gray30' title '$b (baseline)'")
	dt=$((dt + 1))
done
spec=$(IFS=,; echo "${plots[*]}")
gnuplot <<GP
set terminal pngcairo size 900,560 font ",10" noenhanced
set output '$png'
set title "$title"
set logscale xy 2
set xlabel 'write size (bytes)'
set ylabel 'MB/s'
set format x '%.0b%B'
set key outside right top
set grid
plot $spec
GP
echo "wrote $png"
