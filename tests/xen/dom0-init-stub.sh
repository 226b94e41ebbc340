#!/bin/sh
# PID 1 of the Xen test dom0 (installed as /init-test in the root image).
# Kept tiny and stable so the big root image never needs rebuilding: all
# test logic lives on the payload disk (/dev/vdb), see dom0-tests.sh.
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sys /sys 2>/dev/null
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /ivt
if mount -t ext4 /dev/vdb /ivt && [ -f /ivt/dom0-tests.sh ]; then
	/bin/sh /ivt/dom0-tests.sh
else
	echo "IVT-TEST dom0-payload FAIL cannot mount /dev/vdb or no dom0-tests.sh"
fi
sync
echo o >/proc/sysrq-trigger
sleep 30
