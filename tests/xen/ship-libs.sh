# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Sourced by build-images.sh and systemd-dom0.sh: the libraries our
# programs need that the dom0 rootfs lacks (cmocka for ivt-conformance,
# libsodium for ivtd and the slurpoe plugin), copied beside ours.
#
#   ship_extra_libs BUILD DESTDIR FILE...
# BUILD is the cmake build dir (its lib/ resolves our own libraries for ldd).
ship_extra_libs() {
	local build=$1 dest=$2 f l
	shift 2
	for f in "$@"; do
		LD_LIBRARY_PATH="$build/lib" ldd "$f" 2>/dev/null | awk '/lib(cmocka|sodium)/ {print $3}'
	done | sort -u | while read -r l; do
		cp -L "$l" "$dest/" || printf 'ship_extra_libs: cannot ship %s\n' "$l" >&2
	done
}
