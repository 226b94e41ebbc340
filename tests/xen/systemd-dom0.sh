#!/bin/bash
# SPDX-License-Identifier: MIT
#
# systemd for real: boot the Xen bed's dom0 (Xen 4.17 under QEMU TCG) with
# systemd as PID 1 and run the installed systemd/ivtd.service there:
# Type=notify start, systemctl reload, restart after a crash, stop, a
# channel through the sandboxed ivtd, and `systemd-analyze security`.
# ctest -L xen runs it (test xen_systemd, after xen_host); by hand:
#   tests/xen/systemd-dom0.sh BUILD_DIR
# where BUILD_DIR holds this tree's build (bin/ivtd, ivtctl, ivt-demo,
# lib/libivt.so*, plugins/). Needs the cached dom0 rootfs that
# build-images.sh made in $IVT_XEN_WORK/rootfs; derives from it (once per
# rootfs, cached in $IVT_XEN_WORK/systemd/) a root image with systemd,
# systemd-sysv and dbus installed, leaving the shared images alone. About
# 2 minutes (plus 2 the first time). Results: the IVT-TEST lines and
# artifacts in $IVT_XEN_WORK/systemd/runs/latest/. Exit 0 all passed, 1 a
# check failed, 77 no cached bed or no network for apt (ctest: SKIP).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "${1:?usage: systemd-dom0.sh BUILD_DIR}" && pwd)
WORK=${IVT_XEN_WORK:-$SRC/build-xen-images}
S=$WORK/systemd
mkdir -p "$S"
[ -d "$WORK/rootfs" ] && [ -f "$WORK/xen.elf" ] && [ -f "$WORK/stamps/rootfs" ] ||
	{ echo "SKIP: no cached bed in $WORK (run tests/xen/run-xen-tests.sh first)"; exit 77; }
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: no qemu-system-x86_64"; exit 77; }
# One user of the work folder at a time, as run-xen-tests.sh.
exec 9>"$WORK/run.lock"
flock 9

# ---- root image with systemd (cached per base rootfs) ---------------------
if ! cmp -s "$WORK/stamps/rootfs" "$S/base-stamp" || [ ! -f "$S/root.img" ]; then
	rm -f "$S/root.img" "$S/base-stamp"
	echo "[systemd-dom0] deriving a systemd root from $WORK/rootfs"
	rm -rf "$S/rootfs"
	cp -a "$WORK/rootfs" "$S/rootfs" || exit 1
	cp /etc/resolv.conf "$S/rootfs/etc/resolv.conf"
	for m in proc sys dev; do mount --bind /$m "$S/rootfs/$m"; done
	DEBIAN_FRONTEND=noninteractive chroot "$S/rootfs" apt-get install -y -qq \
		--no-install-recommends systemd systemd-sysv dbus >"$S/apt.log" 2>&1
	arc=$?
	for m in dev sys proc; do umount "$S/rootfs/$m"; done
	[ $arc = 0 ] || { tail "$S/apt.log"; echo "SKIP: cannot install systemd into the dom0 root"; exit 77; }
	# The check runs once the system is up; its lines go to the console.
	cat >"$S/rootfs/etc/systemd/system/ivt-check.service" <<'UNIT'
[Unit]
Description=ivt systemd checks (payload disk)
After=multi-user.target xen.service
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'mkdir -p /ivt && mount /dev/vdb /ivt && exec /bin/sh /ivt/systemd-checks.sh'
StandardOutput=tty
StandardError=tty
TTYPath=/dev/hvc0
[Install]
WantedBy=default.target
UNIT
	mkdir -p "$S/rootfs/etc/systemd/system/default.target.wants"
	ln -sf /etc/systemd/system/ivt-check.service "$S/rootfs/etc/systemd/system/default.target.wants/"
	ln -sf /dev/null "$S/rootfs/etc/systemd/system/serial-getty@hvc0.service"
	ln -sf /dev/null "$S/rootfs/etc/systemd/system/getty@tty1.service"
	truncate -s 4G "$S/root.img.tmp"
	mkfs.ext4 -q -F -d "$S/rootfs" "$S/root.img.tmp" || exit 1
	mv "$S/root.img.tmp" "$S/root.img"
	cp "$WORK/stamps/rootfs" "$S/base-stamp"
fi

[ "${IVT_SYSTEMD_PREP_ONLY:-0}" = 1 ] && exit 0

# ---- payload: this tree's binaries, the unit, the checks -------------------
P=$S/payload
rm -rf "$P" && mkdir -p "$P/bin" "$P/lib" "$P/plugins"
cp "$BUILD"/bin/{ivtd,ivtctl,ivt-demo} "$P/bin/" || exit 1
cp -a "$BUILD"/lib/libivt.so* "$P/lib/"
cp "$BUILD"/plugins/*.so "$P/plugins/"
# libsodium (ivtd, slurpoe plugin) is not in the dom0 rootfs: ship it too
. "$HERE/ship-libs.sh"
ship_extra_libs "$BUILD" "$P/lib" "$P"/bin/* "$P"/plugins/*.so
cp "$SRC/systemd/ivtd.service" "$SRC/conf/policy.json" "$HERE/systemd-checks.sh" "$P/"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt")
echo "${prefix:-/usr/local}" >"$P/prefix"
rm -f "$S/payload.img" && truncate -s 256M "$S/payload.img"
mkfs.ext4 -q -F -d "$P" "$S/payload.img" || exit 1

# ---- boot ------------------------------------------------------------------
RUN=$S/runs/$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN/artifacts" && ln -sfn "$(basename "$RUN")" "$S/runs/latest"
echo "[systemd-dom0] booting (console: $RUN/console.log)"
timeout --kill-after=10 "${IVT_XEN_TIMEOUT:-1200}" nice -n 5 qemu-system-x86_64 \
	-accel tcg,thread=multi -cpu qemu64,+sse4.1,+sse4.2,+ssse3,+popcnt \
	-m 2048 -smp 2 -nographic -no-reboot \
	-kernel "$WORK/xen.elf" \
	-append "dom0_mem=1024M console=com1 com1=115200,8n1 loglvl=warning guest_loglvl=warning" \
	-initrd "$WORK/boot/vmlinuz root=/dev/vda rw console=hvc0 quiet loglevel=3 systemd.show_status=1,$WORK/boot/initrd.img" \
	-drive "file=$S/root.img,if=virtio,format=raw,snapshot=on" \
	-drive "file=$S/payload.img,if=virtio,format=raw,snapshot=on" \
	</dev/null >"$RUN/console.log" 2>&1
echo "[systemd-dom0] QEMU exit $?"
tr -d '\r' <"$RUN/console.log" >"$RUN/console.txt"
awk -v dir="$RUN/artifacts" '
	/^IVT-ARTIFACT-BEGIN / { name = $2; file = dir "/" name; printf "" > file; next }
	/^IVT-ARTIFACT-END / { if (file) close(file); file = ""; next }
	file { print >> file }
' "$RUN/console.txt"
grep -a '^IVT-TEST ' "$RUN/console.txt" | tee "$RUN/results.txt"
grep -aq '^IVT-DONE' "$RUN/console.txt" || { echo "checks did not finish (no IVT-DONE)"; exit 1; }
! grep -q ' FAIL ' "$RUN/results.txt"
