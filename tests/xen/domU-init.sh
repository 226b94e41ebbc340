#!/bin/sh
# /init of the test domU initramfs: load the Xen drivers, fetch the job dom0
# wrote to our XenStore node data/ivt-test/cmd, run it, power off.
# Output goes to hvc0, which xenconsoled logs in dom0 for dom0-tests.sh.
export PATH=/bin:/opt/ivt/bin
export LD_LIBRARY_PATH=/opt/ivt/lib
export IVT_PLUGIN_DIR=/opt/ivt/plugins
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmpfs /tmp
for m in $(cat /lib/modules/order); do
	insmod /lib/modules/$m.ko || echo "IVT-DOMU insmod $m failed"
done
mkdir -p /proc/xen && mount -t xenfs xenfs /proc/xen
domid=$(ivt-vchan-smoke domid)
cmd=$(ivt-vchan-smoke xs-read data/ivt-test/cmd)
echo "IVT-DOMU start domid=$domid"
echo "IVT-DOMU cmd: $cmd"
DOMID=$domid sh -c "$cmd"
echo "IVT-DOMU done rc=$?"
poweroff -f
