#!/usr/bin/env bash
# Build the libFuzzer harnesses (tests/fuzz) and run each for SECONDS.
#
#   scripts/fuzz.sh SECONDS [HARNESS...]
#
# Builds with clang, ASan+UBSan and libFuzzer into build-fuzz/ (or
# $IVT_FUZZ_BUILD), then runs every harness (or the ones named, e.g.
# "ring ctrl_msg") for SECONDS each, $IVT_FUZZ_JOBS at a time (default: the
# number of CPUs). Each starts from its seed corpus in
# tests/fuzz/corpus/<harness>/ (never modified) plus what earlier runs
# found in build-fuzz/corpus/<harness>/. A crash, sanitizer report, leak,
# timeout (-timeout=25 s per input) or failed property leaves its input in
# build-fuzz/artifacts/<harness>/; reproduce with
#   build-fuzz/bin/fuzz_<harness> build-fuzz/artifacts/<harness>/crash-...
# The last line is exactly "N harnesses, M executions, K crashes"; the exit
# status is 1 when K > 0 (2 for usage or build errors).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }
if [ $# -lt 1 ] || ! [[ "$1" =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ]; then
  usage >&2
  exit 2
fi
secs=$1
shift
build=${IVT_FUZZ_BUILD:-build-fuzz}
jobs=${IVT_FUZZ_JOBS:-$(nproc)}

# Warnings are the gcc build's business (-Werror there); clang may add its own.
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIVT_FUZZ=ON \
  -DIVT_WERROR=OFF >/dev/null || exit 2
cmake --build "$build" --target fuzz -j"$jobs" >"$build/fuzz-build.log" 2>&1 || {
  tail -n 40 "$build/fuzz-build.log" >&2
  exit 2
}

if [ $# -gt 0 ]; then
  harnesses=("$@")
else
  harnesses=()
  for f in "$build"/bin/fuzz_*; do harnesses+=("${f##*/fuzz_}"); done
fi
for h in "${harnesses[@]}"; do
  [ -x "$build/bin/fuzz_$h" ] || { echo "fuzz.sh: no harness '$h'" >&2; exit 2; }
done

run_one() { # harness -> writes $build/logs/$h.{log,rc}
  local h=$1 seeds=tests/fuzz/corpus/$1 work=$build/corpus/$1 art=$build/artifacts/$1
  mkdir -p "$work" "$art" "$seeds"
  local rc=0
  "$build/bin/fuzz_$h" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$art/" "$work" "$seeds" \
    </dev/null >"$build/logs/$h.log" 2>&1 || rc=$?
  echo "$rc" >"$build/logs/$h.rc"
}

mkdir -p "$build/logs"
running=0
for h in "${harnesses[@]}"; do
  run_one "$h" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true

total=0 crashes=0
printf '%-16s %14s %s\n' harness executions result
for h in "${harnesses[@]}"; do
  log=$build/logs/$h.log
  rc=$(cat "$build/logs/$h.rc" 2>/dev/null || echo 99)
  # Final stats when libFuzzer got to print them, else its last status line.
  n=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
  [ -n "$n" ] || n=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
  n=${n:-0}
  total=$((total + n))
  if [ "$rc" = 0 ]; then
    printf '%-16s %14s ok\n' "$h" "$n"
  else
    crashes=$((crashes + 1))
    printf '%-16s %14s CRASH (exit %s), input in %s\n' "$h" "$n" "$rc" "$build/artifacts/$h/"
    grep -E 'ERROR|SUMMARY|check failed|#[0-4] 0x' "$log" | head -n 8 | cut -c1-160 | sed 's/^/    /' || true
  fi
done
echo "${#harnesses[@]} harnesses, $total executions, $crashes crashes"
[ "$crashes" -eq 0 ]
