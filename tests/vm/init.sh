#!/bin/busybox sh
# The guest's /init (tests/vm/run-vm.sh puts it in the initramfs): mount the basics, load the
# NVDIMM modules, run /guest-test.sh and power off. The last line the host looks for is
# "daxfs-vm: guest tests exited with N".
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

mount -t tmpfs tmpfs /run
mkdir -p /dev/shm /dev/pts
mount -t tmpfs tmpfs /dev/shm
ln -sf /proc/self/fd /dev/fd
echo "root:x:0:0:root:/root:/bin/sh" >/etc/passwd
echo "root:x:0:" >/etc/group
mkdir -p /root

echo "daxfs-vm: kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPUs"
for m in $(cat /modules/order); do
	insmod "/modules/$m.ko" || echo "daxfs-vm: insmod $m failed"
done

. /etc/daxfs-vm.env
cd /tmp
sh /guest-test.sh
rc=$?
echo "daxfs-vm: guest tests exited with $rc"
sync
poweroff -f
