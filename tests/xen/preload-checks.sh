# Group preload-xen (docs/preload.md, "Xen guests"): unmodified socat and
# curl in two guests under libivt-preload.so. Sourced by ivt-checks.sh
# (its helpers, ivtd running). Guest s listens on TCP ports 8080 and
# 8081; guest c dials s's address, which dom0 (the toolstack) gives s in
# its vif backend node; ivtd maps it and brokers a vchan. The guests have
# no network device at all, so a connection that fell back to the kernel
# cannot succeed: every byte that arrives came over ivt, and the checks
# also demand the preload's "ivt" decision and ivtd's grant. A third
# socat pair checks half-close over vchan (request, SHUT_WR, answer). socat's
# server answers a request line with the body alone (socat's address
# syntax eats the backslashes of a status line), hence curl --http0.9.

PRE=/opt/ivt/lib/libivt-preload.so
PRE_MIB=8

check_preload_xen() {
	if ! s=$(domu_create pre-s) || ! c=$(domu_create pre-c); then
		result preload-xen-socat FAIL "xl create failed"
		result preload-xen-curl FAIL "xl create failed"
		result preload-xen-fallback FAIL "xl create failed"
		result preload-xen-loopback FAIL "xl create failed"
		result preload-xen-halfclose FAIL "xl create failed"
		return
	fi
	ip_s=10.71.0.$s
	# What libxl writes for vif "ip=": dom0's backend node, never the guest's.
	xenstore-write /local/domain/0/backend/vif/$s/0/ip "$ip_s"
	env="IVT_PRELOAD_LOG=1 LD_PRELOAD=$PRE"
	domu_job pre-s $s "busybox ifconfig lo 127.0.0.1 up;
$env socat -u TCP-LISTEN:8082,bind=127.0.0.1 OPEN:/tmp/lo,creat & lo=\$!;
dd if=/dev/urandom of=/tmp/body bs=1M count=$PRE_MIB 2>/dev/null;
echo \"body md5 \$(md5sum </tmp/body)\";
$env socat -u TCP-LISTEN:8080,reuseaddr OPEN:/tmp/got,creat,trunc && echo \"got md5 \$(md5sum </tmp/got)\";
$env socat TCP-LISTEN:8081,reuseaddr SYSTEM:'head -n 1 >/dev/null; cat /tmp/body';
$env socat TCP-LISTEN:8083,reuseaddr SYSTEM:md5sum;
kill \$lo; echo server-done"
	domu_job pre-c $c "dd if=/dev/urandom of=/tmp/data bs=1M count=$PRE_MIB 2>/dev/null;
echo \"data md5 \$(md5sum </tmp/data)\";
i=0; until $env socat -u FILE:/tmp/data TCP:$ip_s:8080; do i=\$((i+1)); [ \$i -ge 90 ] && break; sleep 1; done;
$env socat -u FILE:/tmp/data TCP:$ip_s:8082; echo \"loopback rc \$?\";
i=0; until $env curl --http0.9 -sS -o /tmp/page http://$ip_s:8081/; do i=\$((i+1)); [ \$i -ge 90 ] && break; sleep 1; done;
echo \"page md5 \$(md5sum </tmp/page)\";
i=0; until $env socat -t 60 - TCP:$ip_s:8083 </tmp/data >/tmp/sum; do i=\$((i+1)); [ \$i -ge 90 ] && break; sleep 1; done;
echo \"halfclose md5 \$(cat /tmp/sum)\";
$env socat -u FILE:/tmp/data TCP:10.71.1.1:8080; echo \"unknown rc \$?\""
	xl unpause pre-s
	xl unpause pre-c
	domu_wait pre-c 300
	domu_wait pre-s 60
	xenstore-rm /local/domain/0/backend/vif/$s
	sent=$(guest_line pre-c '^data md5 ' | cut -d' ' -f3)
	got=$(guest_line pre-s '^got md5 ' | cut -d' ' -f3)
	body=$(guest_line pre-s '^body md5 ' | cut -d' ' -f3)
	page=$(guest_line pre-c '^page md5 ' | cut -d' ' -f3)
	via8080=$(guest_line pre-c "connect $ip_s:8080: ivt tcp.8080 at $ip_s \\(backend vchan, peer dom:$s\\)")
	via8081=$(guest_line pre-c "connect $ip_s:8081: ivt tcp.8081 at $ip_s \\(backend vchan, peer dom:$s\\)")
	# ivtd's word: each connection brokered between the two guests
	granted=$(grep -c "accept 'tcp.808[01].dom$s' by dom:$s: connection from dom:$c" /tmp/ivtd.log)
	if [ -n "$sent" ] && [ "$sent" = "$got" ] && [ -n "$via8080" ] && [ "$granted" -ge 1 ] &&
		guest_has pre-s "accept: ivt connection on tcp\\.808[01][^ ]* from 0\\.0\\.0\\.0:[0-9]+ \\(peer dom:$c\\)"; then
		result preload-xen-socat PASS "$PRE_MIB MiB socat -> socat md5 $got; '$via8080'; connections ivtd brokered from dom$c to dom$s: $granted"
	else
		result preload-xen-socat FAIL "sent '$sent' got '$got'; c: '$(guest_line pre-c 'connect .*:8080')'" \
			"s: '$(guest_line pre-s 'listen|accept|rror')'; ivtd brokered: $granted"
	fi
	if [ -n "$body" ] && [ "$body" = "$page" ] && [ -n "$via8081" ] && [ "$granted" -ge 2 ]; then
		result preload-xen-curl PASS "curl GET of $PRE_MIB MiB from socat's server md5 $page; '$via8081'"
	else
		result preload-xen-curl FAIL "body '$body' page '$page'; c: '$(guest_line pre-c 'connect .*:8081|curl')'"
	fi
	# half-close over vchan: c's socat sends the data, shuts its write
	# side down at its end and prints what s's md5sum answered after
	# reading that end (before half-close nothing came back)
	hsum=$(guest_line pre-c '^halfclose md5 ' | cut -d' ' -f3)
	if [ -n "$sent" ] && [ "$hsum" = "$sent" ] &&
		guest_has pre-c "shutdown\\(fd [0-9]+, SHUT_WR\\): half-close"; then
		result preload-xen-halfclose PASS "socat request, SHUT_WR, md5sum's answer $hsum over vchan"
	else
		result preload-xen-halfclose FAIL "sent '$sent' answer '$hsum'; c: '$(guest_line pre-c 'shutdown|:8083')'"
	fi
	lo=$(guest_line pre-c "connect $ip_s:8082: kernel \\(ivt tcp.8082: .*dom$s's tcp.8082 listens on 127.0.0.1 \\(loopback\\) only")
	if [ -n "$lo" ] && guest_has pre-c '^loopback rc [1-9]' &&
		guest_has pre-s 'listen 127.0.0.1:8082: kernel and ivt tcp.8082'; then
		result preload-xen-loopback PASS "s's socat bound to 127.0.0.1 is not reachable from c: '$lo'"
	else
		result preload-xen-loopback FAIL "c: '$(guest_line pre-c 'connect .*:8082')' '$(guest_line pre-c '^loopback rc')'" \
			"s: '$(guest_line pre-s '8082')'"
	fi
	unk=$(guest_line pre-c 'connect 10.71.1.1:8080: kernel \(not an address of this host: .*no guest on this host has address 10.71.1.1')
	if [ -n "$unk" ] && guest_has pre-c '^unknown rc [1-9]'; then
		result preload-xen-fallback PASS "an address no guest has: '$unk', then the kernel's connect failed as it would without the preload (no network)"
	else
		result preload-xen-fallback FAIL "c: '$(guest_line pre-c 'connect 10.71.1.1')' '$(guest_line pre-c '^unknown rc')'"
	fi
}
