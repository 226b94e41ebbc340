#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The Debian packages, end to end: build them (cmake -DCMAKE_INSTALL_PREFIX=/usr,
# cpack -G DEB), check their contents, install them with dpkg -i into a
# scratch root (its own dpkg database; the real system is not touched),
# start the installed ivtd, and run hello.c built two ways against the
# installed files only: `pkg-config --cflags --libs libivt` and a CMake
# project with find_package(ivt). Exit 0 pass, 1 fail, 77 skip.
#
# Usage: deb-test.sh SOURCE_DIR [WORK_DIR]   (WORK_DIR is removed after)
set -u
src=$(cd "$1" && pwd)
work=${2:-$(mktemp -d /tmp/ivt-deb.XXXXXX)}
mkdir -p "$work"
ivtd_pid=
cleanup() {
	[ -n "$ivtd_pid" ] && kill "$ivtd_pid" 2>/dev/null && wait "$ivtd_pid" 2>/dev/null
	[ -n "${IVT_KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
for t in cpack dpkg dpkg-deb dpkg-shlibdeps pkg-config cc; do
	command -v $t >/dev/null || { echo "SKIP: no $t (apt-get install dpkg-dev pkg-config)"; exit 77; }
done

build=$work/build
echo "== build with prefix /usr"
cmake -S "$src" -B "$build" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DIVT_BUILD_TESTS=OFF >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; fail configure; }
cmake --build "$build" -j2 >"$work/build.log" 2>&1 || { tail -50 "$work/build.log"; fail build; }
(cd "$build" && cpack -G DEB >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail cpack; }
debs=$(ls "$build"/*.deb)
echo "$debs"
[ "$(echo "$debs" | wc -l)" = 3 ] || fail "expected 3 packages"

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
libdir=usr/lib/$multiarch
has() { # package file...
	local deb f
	deb=$(ls "$build"/$1)
	shift
	for f in "$@"; do
		dpkg-deb -c "$deb" | grep -E " \./$f( -> .*)?$" >/dev/null || fail "$deb lacks $f"
	done
}
has ivtd_*.deb usr/sbin/ivtd usr/bin/ivtctl usr/bin/ivt-demo "$libdir/ivt/plugins/ivt_shm.so" \
	etc/ivt/policy.json usr/lib/systemd/system/ivtd.service usr/share/doc/ivtd/examples/policy.json usr/share/man/man8/ivtd.8 \
	usr/share/man/man8/ivtctl.8 usr/share/man/man1/ivt-demo.1
has libivt1_*.deb "$libdir/libivt.so.1"
# Debian's rule: package libivtN ships the SONAME libivt.so.N, and the real
# file is libivt.so.N.x.y (it was libivt.so.0.1.0 under SONAME 1).
real=$(dpkg-deb -c "$build"/libivt1_*.deb | grep -oE "$libdir/libivt\.so\.[0-9.]+$" |
	grep -v '^.*\.so\.1$')
[[ "$real" =~ /libivt\.so\.1\.[0-9]+\.[0-9]+$ ]] || fail "libivt1's real file is $real, not libivt.so.1.x.y"
soname=$(readelf -d "$build/lib/libivt.so.1" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = libivt.so.1 ] || fail "SONAME is '$soname', package libivt1 wants libivt.so.1"
has libivt-dev_*.deb usr/include/ivt/ivt.h usr/include/ivt/plugin.h "$libdir/libivt.so" \
	"$libdir/pkgconfig/libivt.pc" "$libdir/cmake/ivt/ivtConfig.cmake" usr/share/man/man3/libivt.3
dpkg-deb -I "$build"/ivtd_*.deb | grep -q 'Depends:.*libivt1' || fail "ivtd does not depend on libivt1"
dpkg-deb -I "$build"/ivtd_*.deb conffiles | grep -q /etc/ivt/policy.json || fail "policy not a conffile"
echo "ok: package contents"

echo "== dpkg -i into a scratch root"
root=$work/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
# The scratch database knows none of the system's libraries: skip that
# check. libivt1's postinst (CPack's: ldconfig) cannot run chrooted into a
# root without a shell; run it in place (it only refreshes ld.so.cache).
dpkg --root="$root" --force-depends --force-not-root --force-script-chrootless \
	-i $debs >"$work/dpkg.log" 2>&1 ||
	{ cat "$work/dpkg.log"; fail "dpkg -i"; }
dpkg --root="$root" -l | grep -E '^ii +(ivtd|libivt1|libivt-dev) ' | sed 's/  */ /g'
[ "$(dpkg --root="$root" -l | grep -cE '^ii +(ivtd|libivt1|libivt-dev) ')" = 3 ] || fail "not installed"

echo "== the installed ivtd"
plugins=$root/$libdir/ivt/plugins
sock=$work/ivtd.sock
cat >"$work/policy.json" <<'JSON'
{ "version": 1, "channels": [ { "name": "pkgtest", "listeners": ["uid:*"], "connectors": ["uid:*"] } ] }
JSON
"$root/usr/sbin/ivtd" --version || fail "ivtd --version"
"$root/usr/sbin/ivtd" -c "$work/policy.json" -s "$sock" -p "$plugins" -r local -q &
ivtd_pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || fail "ivtd did not start"
export IVT_SOCKET=$sock IVT_PLUGIN_DIR=$plugins LD_LIBRARY_PATH=$root/$libdir
"$root/usr/bin/ivtctl" status --json | grep -q '"shm": true' || fail "ivtctl status --json"

echo "== a program built with pkg-config --cflags --libs libivt"
flags=$(PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_LIBDIR=$root/$libdir/pkgconfig \
	pkg-config --cflags --libs libivt) || fail "pkg-config libivt"
echo "pkg-config: $flags"
cc -o "$work/hello" "$src/tests/packaging/hello.c" $flags || fail "compile with pkg-config"
"$work/hello" pkgtest || fail "hello (pkg-config) through the installed ivtd"

echo "== a CMake project with find_package(ivt)"
mkdir -p "$work/proj"
cp "$src/tests/packaging/hello.c" "$work/proj/"
cat >"$work/proj/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(hello C)
find_package(ivt 0.1 REQUIRED)
add_executable(hello hello.c)
target_link_libraries(hello PRIVATE ivt::ivt)
CM
cmake -S "$work/proj" -B "$work/proj/b" -DCMAKE_PREFIX_PATH="$root/usr" >/dev/null ||
	fail "find_package(ivt)"
cmake --build "$work/proj/b" >/dev/null || fail "build with ivt::ivt"
"$work/proj/b/hello" pkgtest || fail "hello (find_package) through the installed ivtd"
echo "PASS: packages build, install and work"
