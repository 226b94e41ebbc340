#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Build everything the Xen host test (run-xen-tests.sh) boots, cached:
#   xen.elf        Debian's Xen 4.17 hypervisor, unpacked for QEMU's -kernel
#   rootfs/        debootstrapped Debian 12 dom0 (slow: minutes, network)
#   root.img       ext4 image of rootfs (booted with snapshot=on, never changes)
#   payload.img    small ext4 disk with what changes often: the project's
#                  binaries, the test scripts, policies and the domU initramfs
# Each step records a hash of its inputs next to its output and is skipped
# when both are unchanged, so a warm run only rebuilds the payload.
#
# Exit codes: 0 ok, 77 the images cannot be had here (no QEMU, no Xen
# package, no network for debootstrap): the ctest wrapper turns that into
# SKIP. Anything else is a real failure.
#
# Environment: IVT_XEN_WORK (default <source>/build-xen-images),
#   IVT_XEN_MIRROR (Debian mirror; default: the host's apt sources),
#   IVT_XEN_SUITE (default bookworm).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
WORK=${IVT_XEN_WORK:-$SRC/build-xen-images}
SUITE=${IVT_XEN_SUITE:-bookworm}
XEN_GZ=/boot/xen-4.17-amd64.gz
DOM0_PKGS="linux-image-amd64,xen-utils-4.17,busybox,kmod,iproute2,procps,rdma-core,\
ibverbs-utils,ibverbs-providers,perftest,libevent-core-2.1-7,libjansson4"
# Xen device drivers a guest needs for grant tables, event channels, XenStore.
XEN_MODS="xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs"
# Project targets copied into the images when they exist in the tree
# (ivt-verbs-pair, verbs-bench and ivt-conformance: for tests/verbs/rxe-test.sh
# in dom0).
IVT_TARGETS="ivtd ivt ivt-preload ivtctl ivt-demo ivt-bench ivt-xs-open ivt-xen-check ivt-verbs-pair verbs-bench \
ivt-conformance"

log() { printf '[build-images] %s\n' "$*" >&2; }
skip() { printf 'SKIP: %s\n' "$*" >&2; exit 77; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

mkdir -p "$WORK/stamps"

# stamp_ok <step> <key>: true when <step> was last built from <key>.
stamp_ok() { [[ -f "$WORK/stamps/$1" && "$(cat "$WORK/stamps/$1")" == "$2" ]]; }
stamp_set() { printf '%s' "$2" >"$WORK/stamps/$1"; }
hash_of() { sha256sum | cut -c1-32; }

# ---- 1. host tools --------------------------------------------------------
need_tools() {
	local missing=""
	command -v qemu-system-x86_64 >/dev/null || missing+=" qemu-system-x86"
	[[ -f $XEN_GZ ]] || missing+=" xen-hypervisor-4.17-amd64"
	command -v debootstrap >/dev/null || missing+=" debootstrap"
	command -v mkfs.ext4 >/dev/null || missing+=" e2fsprogs"
	command -v cpio >/dev/null || missing+=" cpio"
	file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || missing+=" busybox-static"
	command -v cmake >/dev/null || missing+=" cmake"
	printf '%s' "$missing"
}
missing=$(need_tools)
if [[ -n $missing ]]; then
	[[ $(id -u) == 0 ]] || skip "missing host packages:$missing (need root to install)"
	log "installing$missing"
	# shellcheck disable=SC2086
	apt-get install -y $missing >"$WORK/apt.log" 2>&1 ||
		skip "apt-get install$missing failed (see $WORK/apt.log)"
	missing=$(need_tools)
	[[ -z $missing ]] || skip "still missing:$missing"
fi
[[ $(id -u) == 0 ]] || skip "debootstrap and image building need root"

# ---- 2. hypervisor --------------------------------------------------------
if [[ ! -s $WORK/xen.elf || $XEN_GZ -nt $WORK/xen.elf ]]; then
	log "unpacking $XEN_GZ"
	zcat "$XEN_GZ" >"$WORK/xen.elf.tmp" && mv "$WORK/xen.elf.tmp" "$WORK/xen.elf"
fi

# ---- 3. dom0 root file system ---------------------------------------------
# The host's Debian mirror: deb822 .sources first, then one-line sources.list.
host_mirror() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		uri=$(awk '/^URIs:/ {u=$2} /^Suites:/ && u != "" && $0 ~ /'"$SUITE"'( |$)/ {print u; exit}' "$f")
		[[ -n $uri ]] && { echo "$uri"; return; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f $f ]] || continue
		uri=$(awk '$1 == "deb" && $0 ~ / '"$SUITE"' / {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' "$f")
		[[ -n $uri ]] && { echo "$uri"; return; }
	done
	echo http://deb.debian.org/debian
}
MIRROR=${IVT_XEN_MIRROR:-$(host_mirror)}
INIT_STUB="$HERE/dom0-init-stub.sh"
rootfs_key=$(printf '%s\n' "$SUITE" "$MIRROR" "$DOM0_PKGS" | hash_of)
if ! stamp_ok rootfs "$rootfs_key" || [[ ! -x $WORK/rootfs/usr/sbin/xl ]]; then
	log "debootstrap $SUITE from $MIRROR into $WORK/rootfs (takes minutes)"
	rm -rf "$WORK/rootfs.tmp" "$WORK/stamps/rootfs" "$WORK/stamps/rootimg"
	if ! debootstrap --variant=minbase --include="$DOM0_PKGS" "$SUITE" "$WORK/rootfs.tmp" \
		"$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
		tail -n 20 "$WORK/debootstrap.log" >&2
		rm -rf "$WORK/rootfs.tmp"
		skip "debootstrap failed (no network or mirror?), log: $WORK/debootstrap.log"
	fi
	rm -rf "$WORK/rootfs"
	mv "$WORK/rootfs.tmp" "$WORK/rootfs"
	stamp_set rootfs "$rootfs_key"
fi
KVER=$(basename "$(ls -d "$WORK"/rootfs/lib/modules/* | sort -V | tail -n 1)")
[[ -f $WORK/rootfs/boot/vmlinuz-$KVER ]] || die "no kernel vmlinuz-$KVER in rootfs"
mkdir -p "$WORK/boot"
for f in "vmlinuz-$KVER" "initrd.img-$KVER"; do
	cmp -s "$WORK/rootfs/boot/$f" "$WORK/boot/$f" || cp "$WORK/rootfs/boot/$f" "$WORK/boot/$f"
done
ln -sfn "vmlinuz-$KVER" "$WORK/boot/vmlinuz"
ln -sfn "initrd.img-$KVER" "$WORK/boot/initrd.img"

# ---- 4. dom0 root disk ------------------------------------------------------
rootimg_key=$(printf '%s\n' "$rootfs_key" "$(cat "$INIT_STUB")" | hash_of)
if ! stamp_ok rootimg "$rootimg_key" || [[ ! -s $WORK/root.img ]]; then
	log "mkfs root.img from rootfs"
	# PID 1 of the test dom0: mounts the payload disk and runs its script.
	install -m 0755 "$INIT_STUB" "$WORK/rootfs/init-test"
	rm -f "$WORK/root.img.tmp"
	truncate -s 3G "$WORK/root.img.tmp"
	mkfs.ext4 -q -F -L ivt-root -d "$WORK/rootfs" "$WORK/root.img.tmp"
	mv "$WORK/root.img.tmp" "$WORK/root.img"
	stamp_set rootimg "$rootimg_key"
fi

# ---- 5. the project's binaries --------------------------------------------
# A build dir of our own, one per source tree (a shared IVT_XEN_WORK serves
# several checkouts; CMake refuses a build dir made from another source);
# a target that does not exist yet (or fails to build while someone is
# mid-edit) is left out and reported, not fatal.
BUILD="$WORK/ivt-build-$(printf '%s' "$SRC" | sha1sum | cut -c1-10)"
built=""
log "cmake build of the project in $BUILD"
if cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIVT_BUILD_TESTS=ON \
	>"$WORK/cmake-configure.log" 2>&1; then
	targets=$(cmake --build "$BUILD" --target help 2>/dev/null | sed -n 's/^\.\.\. \([^ ]*\).*/\1/p')
	for t in $IVT_TARGETS $(grep '^ivt_plugin_' <<<"$targets" || true); do
		grep -qx "$t" <<<"$targets" || continue
		if cmake --build "$BUILD" --target "$t" -j2 >"$WORK/build-$t.log" 2>&1; then
			built+=" $t"
		else
			log "target $t did not build (log: $WORK/build-$t.log), left out"
		fi
	done
else
	log "cmake configure of the tree failed (log: $WORK/cmake-configure.log):" \
		"no project binaries in the images"
fi
# The raw vchan smoke test does not depend on the tree building.
mkdir -p "$WORK/smoke"
if [[ ! -x $WORK/smoke/ivt-vchan-smoke || $HERE/vchan-smoke.c -nt $WORK/smoke/ivt-vchan-smoke ]]; then
	# shellcheck disable=SC2046
	gcc -std=gnu11 -O2 -g -Wall -Wextra -Wshadow -Werror -o "$WORK/smoke/ivt-vchan-smoke" \
		"$HERE/vchan-smoke.c" $(pkg-config --cflags --libs xenvchan xenstore) ||
		die "vchan-smoke.c does not compile"
fi
log "built:$built"

# ---- 6. payload: binaries, libraries, scripts, domU initramfs ---------------
P="$WORK/payload.tmp"
rm -rf "$P"
mkdir -p "$P/bin" "$P/lib" "$P/plugins" "$P/conf"
for t in $built; do
	[[ -x $BUILD/bin/$t ]] && cp "$BUILD/bin/$t" "$P/bin/"
done
cp "$WORK/smoke/ivt-vchan-smoke" "$P/bin/"
cp -P "$BUILD"/lib/*.so* "$P/lib/" 2>/dev/null || true
# Libraries our programs need that the dom0 rootfs lacks, beside ours
# (dom0-tests.sh sets LD_LIBRARY_PATH).
. "$HERE/ship-libs.sh"
ship_extra_libs "$BUILD" "$P/lib" "$P"/bin/* "$BUILD"/plugins/*.so
cp "$BUILD"/plugins/*.so "$P/plugins/" 2>/dev/null || true
# Scripts, configs and policies from the source tree.
cp "$HERE"/dom0-tests.sh "$HERE"/ivt-checks.sh "$HERE"/preload-checks.sh "$HERE"/domU-init.sh "$P/"
cp "$SRC"/tests/verbs/rxe-test.sh "$SRC"/tests/verbs/rxe-bridge-test.sh \
	"$SRC"/tests/lib/ivt-lib.sh "$P/"
# IVT_XEN_ONLY: check groups to run (dom0-tests.sh), empty = all
echo "${IVT_XEN_ONLY:-}" >"$P/only"
cp "$HERE"/*.cfg "$P/conf/"
cp "$HERE"/policy-*.json "$P/conf/" 2>/dev/null || true
[[ -f $SRC/systemd/ivtd.service ]] && cp "$SRC/systemd/ivtd.service" "$P/conf/"
echo "$KVER" >"$P/kver"

# copy_libs <binary> <destroot>: every shared library it needs, same paths.
copy_libs() {
	local lib
	for lib in $(LD_LIBRARY_PATH="$BUILD/lib" ldd "$1" 2>/dev/null |
		awk '/=> \// {print $3} /^\t\/lib/ {print $1}'); do
		[[ $lib == "$BUILD"/* ]] && continue
		mkdir -p "$2$(dirname "$lib")"
		[[ -e $2$lib ]] || cp -L "$lib" "$2$lib"
	done
}

# domU initramfs: static busybox, Xen modules, project binaries + libs.
D="$WORK/domU-root"
rm -rf "$D"
mkdir -p "$D"/{bin,sbin,dev,proc,sys,tmp,run,etc,lib/modules,opt/ivt/bin,opt/ivt/lib,opt/ivt/plugins}
cp /bin/busybox "$D/bin/busybox"
for a in sh mount mkdir insmod cat echo sleep poweroff dmesg ls ln grep sed awk \
	head tail cut tr seq dd md5sum sha256sum date uname env; do
	ln -s busybox "$D/bin/$a"
done
modsrc="$WORK/rootfs/lib/modules/$KVER"
for m in $XEN_MODS; do
	ko=$(find "$modsrc/kernel" -name "$m.ko*" | head -n 1)
	[[ -n $ko ]] || die "module $m not found under $modsrc"
	case $ko in
	*.xz) xz -dc "$ko" >"$D/lib/modules/$m.ko" ;;
	*.zst) zstd -qdc "$ko" >"$D/lib/modules/$m.ko" ;;
	*) cp "$ko" "$D/lib/modules/$m.ko" ;;
	esac
done
echo "$XEN_MODS" >"$D/lib/modules/order"
cp "$P"/bin/* "$D/opt/ivt/bin/" 2>/dev/null || true
cp "$P"/lib/* "$D/opt/ivt/lib/" 2>/dev/null || true
cp "$P"/plugins/* "$D/opt/ivt/plugins/" 2>/dev/null || true
# Unmodified programs for the preload-xen group, the host's own.
for prog in socat curl; do
	prog_path=$(command -v $prog 2>/dev/null) && cp "$prog_path" "$D/opt/ivt/bin/" ||
		log "$prog is not installed on the host: group preload-xen will fail"
done
for f in "$D"/opt/ivt/bin/* "$D"/opt/ivt/lib/* "$D"/opt/ivt/plugins/*; do
	[[ -f $f ]] && copy_libs "$f" "$D"
done
# glibc dlopen()s libgcc_s for pthread_cancel/unwinding; ldd cannot see it.
gcc_s=$(gcc -print-file-name=libgcc_s.so.1)
gcc_s=$(readlink -f "$gcc_s")
mkdir -p "$D/lib/x86_64-linux-gnu"
cp "$gcc_s" "$D/lib/x86_64-linux-gnu/libgcc_s.so.1"
install -m 0755 "$HERE/domU-init.sh" "$D/init"
(cd "$D" && find . | sort | cpio -o -H newc --quiet | gzip -1) >"$P/domU-initrd.gz"

payload_key=$( (cd "$P" && find . -type f | sort | xargs sha256sum) | hash_of)
if ! stamp_ok payload "$payload_key" || [[ ! -s $WORK/payload.img ]]; then
	log "mkfs payload.img"
	rm -f "$WORK/payload.img.tmp"
	truncate -s 512M "$WORK/payload.img.tmp"
	mkfs.ext4 -q -F -L ivt-payload -d "$P" "$WORK/payload.img.tmp"
	mv "$WORK/payload.img.tmp" "$WORK/payload.img"
	stamp_set payload "$payload_key"
fi
rm -rf "$WORK/payload"
mv "$P" "$WORK/payload"
log "ready: $WORK/{xen.elf,boot/vmlinuz,boot/initrd.img,root.img,payload.img}"
