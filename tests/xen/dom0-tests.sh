#!/bin/sh
# The Xen host test, run in dom0 by /init-test from the payload disk (/ivt).
# Brings up the Xen toolstack, runs each check and prints one line per
# check on the serial console, which run-xen-tests.sh parses:
#   IVT-PLAN <name>...                  the checks that will report
#   IVT-TEST <name> PASS|FAIL <detail>  one result
#   IVT-ARTIFACT-BEGIN <file> ... IVT-ARTIFACT-END <file>   saved as a file
#   IVT-DONE                            the script got to the end
T=/ivt
export PATH=/usr/lib/xen-4.17/bin:/usr/sbin:/usr/bin:/sbin:/bin:$T/bin
export LD_LIBRARY_PATH=$T/lib
export IVT_PLUGIN_DIR=$T/plugins
KVER=$(cat $T/kver)
CONLOG=/var/log/xen/console

result() { # result <name> PASS|FAIL <detail>...
	r_name=$1 r_verdict=$2
	shift 2
	echo "IVT-TEST $r_name $r_verdict $*"
}
artifact() { # artifact <name> <file>
	echo "IVT-ARTIFACT-BEGIN $1"
	cat "$2"
	echo "IVT-ARTIFACT-END $1"
}
have() { [ -x "$T/bin/$1" ]; }

# ---- Xen toolstack, as the recipe in docs/xen-testbed.md ----------------
mkdir -p /dev/pts /run /tmp /var/run/xen /var/lib/xen $CONLOG
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
ip link set lo up # perftest (rxe-test.sh) sets its connections up over 127.0.0.1
for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs; do modprobe $m; done
mount -t xenfs xenfs /proc/xen
oxenstored --pid-file /run/xenstored.pid
xen-init-dom0 >/tmp/init-dom0.log 2>&1
xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=$CONLOG

# Check groups; $T/only (IVT_XEN_ONLY on the host) picks some for a
# quicker debugging run, empty means all.
ONLY=$(cat $T/only 2>/dev/null)
want() { [ -z "$ONLY" ] || case " $ONLY " in *" $1 "*) true ;; *) false ;; esac; }
PLAN="dom0-hello"
want bed && PLAN="$PLAN vchan-smoke-dom0-domU vchan-smoke-domU-domU rdma-rxe"
{ want bed || want vchan; } && PLAN="$PLAN vchan-conformance"
{ want ivt || want accept || want restart || want bench || want preload-xen; } && PLAN="$PLAN ivtd-start"
want ivt && PLAN="$PLAN ivt-xs-advertise ivt-domU-domU-256M ivt-dom0-domU-256M \
ivt-demo-domU-domU ivt-policy-deny ivt-destroy-cleanup"
want accept && PLAN="$PLAN ivt-accept-many ivt-accept-destroy"
want restart && PLAN="$PLAN ivt-restart-adopt"
want preload-xen && PLAN="$PLAN preload-xen-socat preload-xen-curl preload-xen-fallback \
preload-xen-loopback preload-xen-halfclose"
want bench && PLAN="$PLAN ivt-bench-vchan"
# rxe-test.sh's own lines (tests/verbs/rxe-test.sh, ivt-verbs-pair) and its exit code
want verbs && PLAN="$PLAN verbs-rxe-setup verbs-stream-s2c-256MiB verbs-stream-c2s-32MiB \
verbs-graceful-close verbs-rdma-write verbs-rdma-read verbs-rdma-write-visible \
verbs-rdma-refused-at-origin verbs-rdma-stale-key verbs-hostile-blob \
verbs-peer-killed-while-idle verbs-peer-killed-while-sending verbs-vs-ib_write_bw \
verbs-vs-ib_send_lat verbs-rxe"
# ivtd bridging over verbs (tests/verbs/rxe-bridge-test.sh), about a minute
want bridge && PLAN="$PLAN verbs-bridge-setup verbs-bridge-transfer verbs-bridge-fallback \
verbs-bridge-vs-ib_write_bw verbs-direct-transfer verbs-direct-vs-ib_write_bw"
echo "IVT-PLAN $PLAN"

# ---- helpers for guests ---------------------------------------------------
# domu_create <name>: create a paused PV guest, print its domid
domu_create() {
	xl create -p $T/conf/domU.cfg "name=\"$1\"" "kernel=\"/boot/vmlinuz-$KVER\"" \
		>/tmp/xl-create-$1.log 2>&1 || { cat /tmp/xl-create-$1.log; return 1; }
	xl domid "$1"
}
# domu_job <name> <domid> <shell command>: what the guest's /init runs
domu_job() {
	xenstore-write /local/domain/$2/data/ivt-test/cmd "$3" &&
		xenstore-chmod -r /local/domain/$2/data/ivt-test n$2
}
# domu_wait <name> <seconds>: wait for the guest to power off; destroy it
# if it is still running after that; relay its IVT-TEST lines and log.
domu_wait() {
	i=0
	while xl domid "$1" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt "$2" ]; then
			echo "IVT-NOTE $1 still running after $2 s, destroying"
			xl destroy "$1"
			break
		fi
		sleep 1
	done
	sleep 1 # let xenconsoled flush the log
	tr -d '\r' <$CONLOG/guest-$1.log | grep '^IVT-TEST '
	artifact "guest-$1.log" $CONLOG/guest-$1.log
}

# ---- checks ---------------------------------------------------------------
if xl info >/tmp/xl-info 2>&1; then
	result dom0-hello PASS "hello from dom0: $(grep -E '^xen_version' /tmp/xl-info | tr -s ' ')"
else
	result dom0-hello FAIL "xl info: $(head -n 3 /tmp/xl-info | tr '\n' ' ')"
fi

# Raw libxenvchan, no ivt: dom0 serves, a domU reads 256 MiB.
if ! want bed; then
	:
elif a=$(domu_create smoke-a); then
	domu_job smoke-a $a "ivt-vchan-smoke client 0 /local/domain/0/data/vchan/smoke"
	xl unpause smoke-a
	timeout 300 ivt-vchan-smoke server vchan-smoke-dom0-domU $a \
		/local/domain/0/data/vchan/smoke 256 ||
		echo "IVT-NOTE vchan-smoke-dom0-domU server exit $?"
	domu_wait smoke-a 60
else
	result vchan-smoke-dom0-domU FAIL "xl create failed"
fi

# Raw libxenvchan between two guests: b serves, c reads.
if ! want bed; then
	:
elif b=$(domu_create smoke-b) && c=$(domu_create smoke-c); then
	domu_job smoke-b $b "ivt-vchan-smoke server vchan-smoke-domU-domU $c /local/domain/$b/data/vchan/smoke 256"
	domu_job smoke-c $c "ivt-vchan-smoke client $b /local/domain/$b/data/vchan/smoke"
	xl unpause smoke-b
	xl unpause smoke-c
	domu_wait smoke-b 300
	domu_wait smoke-c 30
else
	result vchan-smoke-domU-domU FAIL "xl create failed"
fi

# Soft-RoCE in dom0: the module and a device come up (then removed again:
# rxe-test.sh below makes its own).
if want bed; then
	ip link add ivtbed0 type dummy && ip link set ivtbed0 up
	if modprobe rdma_rxe 2>/tmp/rxe.log && rdma link add rxe0 type rxe netdev ivtbed0 2>>/tmp/rxe.log; then
		result rdma-rxe PASS "$(rdma link show 2>&1 | head -n 1); $(ibv_devices 2>&1 | tail -n +3 | tr -s ' \n' ' ')"
	else
		result rdma-rxe FAIL "$(tr '\n' ' ' </tmp/rxe.log)"
	fi
	rdma link delete rxe0 2>/dev/null
	ip link del ivtbed0 2>/dev/null
fi

# The plugin conformance suite on vchan, both ends in dom0 (tests/conformance):
# a result. Should it hang, each thread's kernel wait point goes into the log.
if want bed || want vchan; then
	stdbuf -oL -eL env IVT_CONF_DOMID=0 ivt-conformance vchan >/tmp/conf-vchan.log 2>&1 &
	cpid=$!
	i=0
	while kill -0 $cpid 2>/dev/null && [ $i -lt 180 ]; do
		sleep 1
		i=$((i + 1))
	done
	if kill -0 $cpid 2>/dev/null; then
		for t in /proc/$cpid/task/*; do
			echo "hung thread ${t##*/}: $(cat $t/wchan 2>/dev/null) | $(tr '\n' ' ' <$t/stack 2>/dev/null)"
		done >>/tmp/conf-vchan.log
		kill -9 $cpid
	fi
	wait $cpid
	rc=$?
	ok=$(grep -c '^\[       OK \]' /tmp/conf-vchan.log)
	skipped=$(sed -n 's/^\[  SKIPPED \] \(test_.*\)/\1/p' /tmp/conf-vchan.log | sort -u | tr '\n' ' ')
	# 8 tests; two skip by design: the forged blob (vchan meets its peer
	# at a XenStore path, there is no blob) and native RDMA (not declared)
	if [ $rc = 0 ] && grep -q PASSED /tmp/conf-vchan.log && [ "$ok" -ge 6 ]; then
		result vchan-conformance PASS "ivt-conformance vchan in dom0: $ok tests passed in $i s; skipped: $skipped"
	else
		result vchan-conformance FAIL "exit $rc after $i s, $ok passed: $(grep -E 'FAILED|ERROR|SKIPPED|hung' /tmp/conf-vchan.log | head -4 | tr '\n' ' ')"
	fi
	artifact conf-vchan.log /tmp/conf-vchan.log
fi

# The verbs plugin on soft-RoCE: tests/verbs/rxe-test.sh as it is (its
# IVT-TEST lines go straight to the console), verbs-rxe = its exit code.
if want verbs; then
	t0=$(date +%s)
	# all of it on the console as it comes: a hang shows where it is
	{
		IVT_BIN_DIR=$T/bin IVT_PLUGIN_DIR=$T/plugins timeout 1500 bash $T/rxe-test.sh $T 2>&1
		echo $? >/tmp/rxe-test.rc
	} | tee /tmp/rxe-test.log
	rc=$(cat /tmp/rxe-test.rc)
	artifact rxe-test.log /tmp/rxe-test.log
	grep -E '^(VERBS-BENCH|#)' /tmp/rxe-test.log >/tmp/bench-verbs-rxe.txt
	artifact bench-verbs-rxe.txt /tmp/bench-verbs-rxe.txt
	if [ $rc = 0 ]; then
		result verbs-rxe PASS "rxe-test.sh passed in $(($(date +%s) - t0)) s"
	else
		result verbs-rxe FAIL "rxe-test.sh exit $rc after $(($(date +%s) - t0)) s: $(grep 'IVT-TEST .* FAIL' /tmp/rxe-test.log | cut -d' ' -f2 | tr '\n' ' ')"
	fi
fi

# ivtd bridging a remote channel over verbs (docs/remote.md): its own
# IVT-TEST lines; the log is an artifact.
if want bridge; then
	IVT_BIN_DIR=$T/bin IVT_PLUGIN_DIR=$T/plugins BRIDGE_TEST_BYTES=64M timeout 900 \
		bash $T/rxe-bridge-test.sh $T 2>&1 | tee /tmp/rxe-bridge.log
	artifact rxe-bridge.log /tmp/rxe-bridge.log
fi

# ---- the project: ivtd brokering vchan channels between domains ---------
if want ivt || want accept || want restart || want bench || want preload-xen; then
	. $T/ivt-checks.sh
fi

echo "IVT-DONE"
