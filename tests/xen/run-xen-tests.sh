#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The Xen host test: build (cached) the images, boot Xen 4.17 + a Debian
# dom0 under QEMU TCG, let dom0-tests.sh run the checks, and turn its
# "IVT-TEST <name> PASS|FAIL <detail>" console lines into a summary.
#
# Output in $IVT_XEN_WORK/runs/<time>/ (and runs/latest): console.log,
# results.txt, summary.txt, artifacts/ (guest logs, bench tables).
# Exit: 0 all planned checks passed, 1 a check failed or never reported,
# 77 QEMU or the images cannot be had here (ctest: SKIP).
#
# Environment: IVT_XEN_WORK, IVT_XEN_TIMEOUT (seconds for the whole boot,
# default 1800), IVT_XEN_QEMU_MEM (MiB, default 3072), and those of
# build-images.sh.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
export IVT_XEN_WORK=${IVT_XEN_WORK:-$SRC/build-xen-images}
WORK=$IVT_XEN_WORK
TIMEOUT=${IVT_XEN_TIMEOUT:-1800}
MEM=${IVT_XEN_QEMU_MEM:-3072}

mkdir -p "$WORK/runs"
# One run at a time per work folder: both would rewrite the same images.
exec 9>"$WORK/run.lock"
flock -n 9 || { echo "ERROR: another run holds $WORK/run.lock" >&2; exit 1; }

t_start=$(date +%s)
"$HERE/build-images.sh"
rc=$?
if [[ $rc == 77 ]]; then
	echo "SKIP: Xen host test: images cannot be built here (see above)"
	exit 77
elif [[ $rc != 0 ]]; then
	echo "FAIL: build-images.sh exited $rc"
	exit 1
fi
t_built=$(date +%s)

RUN="$WORK/runs/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$RUN/artifacts"
ln -sfn "$(basename "$RUN")" "$WORK/runs/latest"
case $WORK in *,*) echo "ERROR: QEMU's -initrd list cannot take a path with a comma: $WORK" >&2; exit 1 ;; esac

# Xen: no "noreboot", so dom0's power-off ends QEMU (-no-reboot).
# dom0: the Debian kernel + initrd as multiboot modules; /init-test is the
# stub from dom0-init-stub.sh that runs /ivt/dom0-tests.sh off vdb.
echo "[run-xen-tests] booting Xen under QEMU TCG (timeout ${TIMEOUT}s), console: $RUN/console.log"
timeout --kill-after=10 "$TIMEOUT" nice -n 5 qemu-system-x86_64 \
	-accel tcg,thread=multi -cpu qemu64,+sse4.1,+sse4.2,+ssse3,+popcnt \
	-m "$MEM" -smp 2 -nographic -no-reboot \
	-kernel "$WORK/xen.elf" \
	-append "dom0_mem=1024M console=com1 com1=115200,8n1 loglvl=warning guest_loglvl=warning" \
	-initrd "$WORK/boot/vmlinuz root=/dev/vda rw console=hvc0 init=/init-test quiet loglevel=3,$WORK/boot/initrd.img" \
	-drive "file=$WORK/root.img,if=virtio,format=raw,snapshot=on" \
	-drive "file=$WORK/payload.img,if=virtio,format=raw,snapshot=on" \
	</dev/null >"$RUN/console.log" 2>&1
qrc=$?
t_end=$(date +%s)

# ---- parse the console --------------------------------------------------
tr -d '\r' <"$RUN/console.log" >"$RUN/console.txt"
# Result lines outside artifacts only (a guest log artifact repeats them).
awk '/^IVT-ARTIFACT-BEGIN / { a = 1 } /^IVT-ARTIFACT-END / { a = 0; next } !a && /^IVT-TEST / { print }' \
	"$RUN/console.txt" >"$RUN/results.txt"
awk -v dir="$RUN/artifacts" '
	/^IVT-ARTIFACT-BEGIN / { name = $2; gsub(/[^A-Za-z0-9._-]/, "_", name); file = dir "/" name; printf "" > file; next }
	/^IVT-ARTIFACT-END / { if (file) close(file); file = ""; next }
	file { print >> file }
' "$RUN/console.txt"
plan=$(grep -a '^IVT-PLAN ' "$RUN/console.txt" | tail -n 1 | cut -d' ' -f2-)

fails=0
{
	echo "Xen host test, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "image build/check: $((t_built - t_start)) s, QEMU boot+tests: $((t_end - t_built)) s, QEMU exit $qrc"
	[[ $qrc == 124 || $qrc == 137 ]] && { echo "QEMU TIMED OUT after ${TIMEOUT}s"; fails=$((fails + 1)); }
	if [[ -z $plan ]]; then
		echo "FAIL: dom0 never printed its plan (boot failed?), see console.log"
		fails=$((fails + 1))
	fi
	for name in $plan; do
		line=$(grep -a "^IVT-TEST $name " "$RUN/results.txt" | tail -n 1)
		verdict=$(cut -d' ' -f3 <<<"$line")
		case $verdict in
		PASS) printf '%-28s PASS %s\n' "$name" "$(cut -d' ' -f4- <<<"$line")" ;;
		FAIL) printf '%-28s FAIL %s\n' "$name" "$(cut -d' ' -f4- <<<"$line")"; fails=$((fails + 1)) ;;
		*) printf '%-28s FAIL never reported\n' "$name"; fails=$((fails + 1)) ;;
		esac
	done
	grep -aq '^IVT-DONE' "$RUN/console.txt" || { echo "dom0 script did not finish (no IVT-DONE)"; fails=$((fails + 1)); }
	ls "$RUN/artifacts" | sed 's/^/artifact: /'
} >"$RUN/summary.txt"
cat "$RUN/summary.txt"
echo "[run-xen-tests] results in $RUN"
[[ $fails == 0 ]] || exit 1
exit 0
