#!/usr/bin/env bash
# Install the Debian packages ivt needs to build, test and benchmark.
# Idempotent: does nothing when everything is already there.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libxen-dev                       # libxenvchan, libxenstore (+ gnttab, evtchn)
  libibverbs-dev rdma-core ibverbs-utils perftest
  libevent-dev libjansson-dev libcmocka-dev
  libsodium-dev                    # SLURPoE frame authentication (docs/remote.md)
  libxdp-dev libbpf-dev            # SLURPoE AF_XDP path (headers; the libraries are dlopen()ed)
  iproute2                         # ip netns / veth / tc netem for multi-host tests
  iperf3                           # TCP baseline of bench/remote-bench
  valgrind redis-server            # memcheck runs; utmem benchmark baseline
  python3-pytest                   # python/ bindings tests
  dpkg-dev                         # cpack -G DEB (dpkg-shlibdeps), tests/packaging
  gnuplot-nox                      # bench/plot-sweep.sh
  redis-tools iperf3 socat curl python3   # (python3 also: docs/md2man.py); unmodified programs under libivt-preload.so
  netcat-openbsd                   # nc -N: half-close under libivt-preload.so (tests/preload)
  clang libclang-rt-14-dev         # libFuzzer harnesses (scripts/fuzz.sh)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
