#!/bin/sh
# Run in dom0 by ivt-check.service (systemd as PID 1; see systemd-dom0.sh):
# install this tree's ivtd and systemd/ivtd.service as a package would,
# then drive the unit through systemctl. One IVT-TEST line per check.
T=/ivt
export PATH=/usr/lib/xen-4.17/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
result() { n=$1 v=$2; shift 2; echo "IVT-TEST $n $v $*"; }
artifact() { echo "IVT-ARTIFACT-BEGIN $1"; cat "$2"; echo "IVT-ARTIFACT-END $1"; }
prop() { systemctl show -p "$1" --value ivtd; }
echo "IVT-PLAN systemd-pid1 xen-toolstack ivtd-start ivtd-status ivtd-channel ivtd-reload ivtd-restart ivtd-stop ivtd-security"

[ "$(ps -o comm= -p 1)" = systemd ] && result systemd-pid1 PASS "$(systemctl --version | head -n1)" ||
	result systemd-pid1 FAIL "PID 1 is $(ps -o comm= -p 1)"
# The Debian xen init script (xen.service via the sysv generator) brings up
# xenstored; wait for it like ivtd's After= would.
for i in $(seq 60); do xenstore-read /local/domain/0/name >/dev/null 2>&1 && break; sleep 1; done
xenstore-read /local/domain/0/name >/dev/null 2>&1 && result xen-toolstack PASS "xen.service $(systemctl is-active xen)" ||
	result xen-toolstack FAIL "no XenStore; xen.service $(systemctl is-active xen)"

# Install as the package would (cmake --install): binaries, plugins, unit, policy.
prefix=$(cat $T/prefix)
install -m 755 $T/bin/ivtd /usr/sbin/ivtd
install -m 755 $T/bin/ivtctl $T/bin/ivt-demo /usr/local/bin/
cp -a $T/lib/*.so* /usr/local/lib/ && ldconfig
mkdir -p "$prefix/lib/ivt/plugins" /etc/ivt
cp $T/plugins/*.so "$prefix/lib/ivt/plugins/"
cp $T/policy.json /etc/ivt/policy.json
cp $T/ivtd.service /lib/systemd/system/ivtd.service
systemctl daemon-reload

systemctl start ivtd
st=$(systemctl is-active ivtd)
[ "$st" = active ] && result ivtd-start PASS "Type=notify: active, MainPID $(prop MainPID), status '$(prop StatusText)'" ||
	result ivtd-start FAIL "state $st; $(journalctl -u ivtd --no-pager | tail -n 3 | tr '\n' ' ')"

out=$(runuser -u nobody -- ivtctl status 2>&1 | head -n 3 | tr '\n' ' ')
case $out in *backends:*vchan=yes*) result ivtd-status PASS "as nobody: $out" ;;
	*) result ivtd-status FAIL "as nobody: $out" ;; esac

runuser -u nobody -- ivt-demo listen demo >/tmp/listen.log 2>&1 &
lp=$!
sleep 1
runuser -u nobody -- ivt-demo connect demo --bytes 64M >/tmp/connect.log 2>&1
crc=$?
wait $lp
lrc=$?
[ $crc = 0 ] && [ $lrc = 0 ] && result ivtd-channel PASS "64 MiB between two local processes through the sandboxed ivtd: $(tail -n 1 /tmp/connect.log)" ||
	result ivtd-channel FAIL "connect $crc listen $lrc: $(tail -n 2 /tmp/connect.log /tmp/listen.log | tr '\n' ' ')"

pid=$(prop MainPID)
systemctl reload ivtd
rrc=$?
[ $rrc = 0 ] && [ "$(systemctl is-active ivtd)" = active ] && [ "$(prop MainPID)" = "$pid" ] &&
	journalctl -u ivtd --no-pager | grep -q "reloaded policy" &&
	result ivtd-reload PASS "systemctl reload: same pid $pid, '$(prop StatusText)'" ||
	result ivtd-reload FAIL "rc $rrc, state $(systemctl is-active ivtd), pid $pid -> $(prop MainPID)"

kill -SEGV "$pid"
for i in $(seq 30); do
	np=$(prop MainPID)
	[ "$np" != 0 ] && [ "$np" != "$pid" ] && [ "$(systemctl is-active ivtd)" = active ] && break
	sleep 1
done
[ "$np" != "$pid" ] && [ "$np" != 0 ] && [ "$(systemctl is-active ivtd)" = active ] &&
	result ivtd-restart PASS "SIGSEGV to $pid: restarted as $np (NRestarts=$(prop NRestarts))" ||
	result ivtd-restart FAIL "after SIGSEGV: state $(systemctl is-active ivtd), pid $np"

systemctl stop ivtd
st=$(systemctl is-active ivtd)
res=$(prop Result)
[ "$st" = inactive ] && [ "$res" = success ] && result ivtd-stop PASS "inactive, result $res" ||
	result ivtd-stop FAIL "state $st, result $res"

systemd-analyze security ivtd.service --no-pager >/tmp/security.txt 2>&1
score=$(grep -a "Overall exposure" /tmp/security.txt)
[ -n "$score" ] && result ivtd-security PASS "$score" || result ivtd-security FAIL "$(tail -n 2 /tmp/security.txt)"
artifact systemd-analyze-security.txt /tmp/security.txt
journalctl -u ivtd --no-pager >/tmp/journal.txt 2>&1
artifact ivtd-journal.txt /tmp/journal.txt
echo IVT-DONE
systemctl poweroff
