#!/bin/sh
# guest-test.sh - the vm suite's tests, run inside the QEMU guest by its /init (busybox sh),
# as root, with an emulated 1 GiB NVDIMM. $DAXFSD, $DAXFS and $VM_CLIENT are the project's
# programs (/etc/daxfs-vm.env). Every step prints what it checks; the first failure ends the
# run with exit 1. It runs the steps $VM_STEPS lists ("1 2 3 4 6", "1 5"):
#   1. ndctl makes namespace0.0 a device-DAX: /dev/dax0.0, 2 MiB aligned; 'daxfs devices'
#      lists it
#   2. 'daxfs mkfs' and daxfsd on /dev/dax0.0 through libpmem2: the kind and the persist
#      granularity libpmem2 reports ('daxfs status')
#   3. mappings through libdaxfs made of 2 MiB pages (/proc/self/smaps): a 6 MiB file, a
#      16 KiB file, a part of a file, and a file whose blocks interleave with another's,
#      which daxfsd moves onto a huge block before mapping it; stores, persist
#   4. a restart of daxfsd keeps all of it
#   5. real poison: MADV_HWPOISON on a page of a mapped file, SIGBUS BUS_MCEERR_AR in the
#      process that touches it; the kernel tells daxfsd too (it asks for early notices:
#      BUS_MCEERR_AO), which is what makes the toucher's report believed; EIO on copy
#      reads, POISON to the other mapper, quarantine, 'daxfs badblocks'; quarantine
#      survives a restart; once the file is removed, 'daxfs badblocks clear' (libpmem2's
#      devdax bad-block list) returns the range to use: MADV_HWPOISON is a kernel mark,
#      this emulated NVDIMM's memory reads back fine
#   6. fsdax: the namespace again as fsdax, ext4 mounted -o dax on /dev/pmem0, daxfs on a
#      file there (MAP_SYNC, 4 KiB mappings): mkfs, daxfsd, a mapping, a restart
#   7. poisoned metadata, offline: fsdax again; the pmem disk is told the sector under the
#      region's first log block is bad (its badblocks list, which DAX faults honour: the
#      page cannot be mapped). 'daxfs check' reports it with its offset and exits 3,
#      daxfsd refuses to start (exit 1, saying where), 'daxfs mkfs --force' fails saying
#      why: none of them crashes
#   8. a replica on a second NVDIMM (/dev/dax1.0): mkfs --replica, daxfsd --replica; a
#      mapped page poisoned with MADV_HWPOISON is repaired from the replica: copy reads
#      and a new mapping read the right bytes, the other mapper gets INVALIDATE (no
#      POISON), badblocks lists it as repaired, scrub --compare is clean, check is clean
#      on both devices
set -u
export DAXFS_SOCKET=/run/daxfsd.sock
dev=/dev/dax0.0
region=$dev
log=/tmp/daxfsd.log
pid=

step() { echo "== $*"; }
fail() {
	echo "FAIL: $*"
	if [ -s "$log" ]; then
		echo "-- daxfsd's log:"
		cat "$log"
	fi
	exit 1
}
run() {
	echo "\$ $*"
	"$@" || fail "'$*' exited with $?"
}

start_daxfsd() {
	"$DAXFSD" --region "$region" --socket "$DAXFS_SOCKET" --map-users root --log-level info \
		"$@" >>"$log" 2>&1 &
	pid=$!
	i=0
	while [ ! -S "$DAXFS_SOCKET" ] || ! "$DAXFS" status >/dev/null 2>&1; do
		kill -0 "$pid" 2>/dev/null || fail "daxfsd exited at start"
		i=$((i + 1))
		[ $i -lt 300 ] || fail "daxfsd did not answer within 30 s"
		sleep 0.1
	done
	echo "daxfsd $pid serves $region"
}

stop_daxfsd() {
	kill -TERM "$pid" 2>/dev/null || fail "daxfsd is not running"
	wait "$pid"
	rc=$?
	[ $rc -eq 0 ] || fail "daxfsd exited with $rc at SIGTERM"
	pid=
	rm -f "$DAXFS_SOCKET"
}

step1() {
	step "1. a device-DAX from the NVDIMM"
	run ndctl create-namespace -f -e namespace0.0 -m devdax
	[ -c $dev ] || fail "$dev is not a character device"
	align=$(cat /sys/bus/dax/devices/dax0.0/align 2>/dev/null || echo unknown)
	echo "$dev: $(cat /sys/bus/dax/devices/dax0.0/size) bytes, align $align"
	[ "$align" = 2097152 ] || fail "$dev is aligned to $align, not 2 MiB"
	run "$DAXFS" devices
	"$DAXFS" devices | grep -q "dax0.0" || fail "'daxfs devices' does not list dax0.0"
	"$DAXFS" --json devices | grep -q '"devdax"' || fail "'daxfs --json devices' says no devdax"
}

step2() {
	step "2. mkfs and daxfsd on $dev through libpmem2"
	run "$DAXFS" mkfs "$dev"
	# daxfs status says what libpmem2 reports for the region: kind, granularity, map unit
	start_daxfsd
	st=$("$DAXFS" --json status) || fail "daxfs status failed"
	echo "$st"
	gran=$(echo "$st" | sed -n 's/.*"granularity":"\([^"]*\)".*/\1/p')
	echo "libpmem2 reports the persist granularity of $dev as: ${gran:-?}"
	echo "$st" | grep -q '"kind":"devdax"' || fail "daxfsd did not open $dev as devdax"
	echo "$st" | grep -q '"alignment":2097152' || fail "daxfsd does not see a 2 MiB alignment"
	[ -n "$gran" ] || fail "daxfs status shows no granularity"
	[ "$gran" != page ] || fail "a devdax region should not need msync (granularity page)"
	run "$DAXFS" status
	stop_daxfsd
	start_daxfsd
}

step3() {
	step "3. mappings of 2 MiB pages, stores and persist"
	# 6 MiB: the file grows past 2 MiB as it is mapped, onto huge extents
	run "$VM_CLIENT" --huge write /big.dat 0 6291456 1
	# 16 KiB: a small file, on a huge block of its own for the mapping
	run "$VM_CLIENT" --huge write /small.dat 0 16384 2
	# a part in the middle of a file: the view is widened to whole 2 MiB, the client sees its part
	run "$VM_CLIENT" --huge write /part.dat 8192 12288 3
	# copy writes in turns interleave two files' blocks; mapping one moves it onto a huge block
	run "$VM_CLIENT" interleave /frag-a.dat /frag-b.dat 64
	run "$DAXFS" put /etc/daxfs-vm.env /env.txt
	run "$VM_CLIENT" --huge write /frag-a.dat 65536 65536 4
	grep -q "moved onto huge block" "$log" || fail "daxfsd did not log moving /frag-a.dat"
	grep "moved onto huge block" "$log"
	run "$VM_CLIENT" --huge verify /big.dat 0 6291456 1
	run "$VM_CLIENT" --huge verify /small.dat 0 16384 2
	run "$VM_CLIENT" --huge verify /part.dat 8192 12288 3
	run "$VM_CLIENT" --huge verify /frag-a.dat 65536 65536 4
	run "$DAXFS" ls -l /
}

step4() {
	step "4. a restart keeps the data"
	stop_daxfsd
	start_daxfsd
	run "$VM_CLIENT" --huge verify /big.dat 0 6291456 1
	run "$VM_CLIENT" --huge verify /small.dat 0 16384 2
	run "$VM_CLIENT" --huge verify /part.dat 8192 12288 3
	run "$VM_CLIENT" --huge verify /frag-a.dat 65536 65536 4
	"$DAXFS" cat /env.txt | cmp - /etc/daxfs-vm.env || fail "/env.txt changed across the restart"
	echo "/env.txt reads back the same through the copy path"
	stop_daxfsd
}

step5() {
	step "5. real poison (MADV_HWPOISON) on a mapped file"
	run "$DAXFS" mkfs --force "$dev"
	start_daxfsd
	run "$VM_CLIENT" --huge write /big.dat 0 6291456 1
	run "$VM_CLIENT" --huge write /small.dat 0 16384 2
	run "$VM_CLIENT" --huge poison /big.dat 600
	"$DAXFS" cat /big.dat >/dev/null 2>/tmp/cat.err && fail "'daxfs cat' of the poisoned file worked"
	cat /tmp/cat.err
	grep -q "Input/output error" /tmp/cat.err || fail "'daxfs cat' did not fail with EIO"
	run "$DAXFS" badblocks
	"$DAXFS" badblocks | grep -q "/big.dat" || fail "'daxfs badblocks' does not name /big.dat"
	run "$DAXFS" status
	kill -0 "$pid" 2>/dev/null || fail "daxfsd died"
	grep -i poison "$log"
	# A report is evidence, not a command: the daemon's own copy of the page reads fine
	# here, so what quarantined it is the kernel's notice to daxfsd (BUS_MCEERR_AO). The
	# toucher's report may come before that notice (then it is logged as not confirmed)
	# or after it (confirmed: already quarantined).
	grep -q "poison (machine check (SIGBUS))" "$log" ||
		fail "daxfsd was not told of the poison by the kernel (early kill)"
	stop_daxfsd
	start_daxfsd
	"$DAXFS" badblocks | grep -q "/big.dat" || fail "the quarantine did not survive a restart"
	echo "the quarantine survives a restart"
	run "$VM_CLIENT" --huge verify /small.dat 0 16384 2
	# The pages that sat on the bad blocks are gone with the file: the range clears.
	range=$("$DAXFS" badblocks | awk '/\/big.dat/ { print $1, $2; exit }')
	[ -n "$range" ] || fail "no bad range listed"
	set -- $range
	"$DAXFS" badblocks clear --offset "$1" --length "$2" && fail "a clear under /big.dat's pages worked"
	run "$DAXFS" rm /big.dat
	run "$DAXFS" badblocks clear --offset "$1" --length "$2"
	"$DAXFS" badblocks | grep -q "no bad blocks" || fail "the range is still quarantined"
	stop_daxfsd
	start_daxfsd
	"$DAXFS" badblocks | grep -q "no bad blocks" || fail "the clear did not survive a restart"
	run "$VM_CLIENT" --huge write /again.dat 0 6291456 5
	run "$VM_CLIENT" --huge verify /again.dat 0 6291456 5
	stop_daxfsd
	run "$DAXFS" check "$region"
}

step6() {
	step "6. fsdax: ext4 -o dax, daxfs on a file there"
	run ndctl create-namespace -f -e namespace0.0 -m fsdax
	[ -b /dev/pmem0 ] || fail "no /dev/pmem0"
	run mkfs.ext4 -q -F /dev/pmem0
	mkdir -p /mnt/pmem
	run mount -t ext4 -o dax /dev/pmem0 /mnt/pmem
	grep /mnt/pmem /proc/mounts
	region=/mnt/pmem/region.img
	run "$DAXFS" mkfs --size 256M "$region"
	start_daxfsd
	st=$("$DAXFS" --json status) || fail "daxfs status failed"
	echo "$st" | grep -E '"(kind|granularity|alignment)"'
	echo "$st" | grep -q '"kind":"fsdax"' || fail "daxfsd did not open $region as fsdax (MAP_SYNC)"
	run "$VM_CLIENT" write /fs.dat 0 3145728 7
	run "$VM_CLIENT" write /fs-small.dat 4096 8192 8
	stop_daxfsd
	start_daxfsd
	run "$VM_CLIENT" verify /fs.dat 0 3145728 7
	run "$VM_CLIENT" verify /fs-small.dat 4096 8192 8
	stop_daxfsd
	run umount /mnt/pmem
}

step7() {
	step "7. poisoned metadata: check, daxfsd and mkfs on a bad log block (fsdax)"
	run ndctl create-namespace -f -e namespace0.0 -m fsdax
	[ -b /dev/pmem0 ] || fail "no /dev/pmem0"
	run mkfs.ext4 -q -F /dev/pmem0
	mkdir -p /mnt/pmem
	run mount -t ext4 -o dax /dev/pmem0 /mnt/pmem
	region=/mnt/pmem/region.img
	run "$DAXFS" mkfs --size 64M "$region"
	run "$DAXFS" check "$region"
	# The first block of log area 0 (docs/format.md: at 2 MiB) holds its first record.
	phys=$("$VM_CLIENT" fiemap "$region" 2097152) || fail "FIEMAP of $region failed"
	echo "byte 2097152 of $region is byte $phys of /dev/pmem0"
	echo "$((phys / 512)) 8" >/sys/block/pmem0/badblocks || fail "cannot add to the badblocks list"
	echo "/sys/block/pmem0/badblocks: $(cat /sys/block/pmem0/badblocks)"
	"$DAXFS" check "$region" >/tmp/check.out 2>&1
	rc=$?
	cat /tmp/check.out
	[ $rc -eq 3 ] || fail "daxfs check exited $rc on a poisoned log, not 3"
	grep -q "offset 2097152" /tmp/check.out || fail "daxfs check does not say where the poison is"
	"$DAXFSD" --region "$region" --socket "$DAXFS_SOCKET" >/tmp/poisoned.log 2>&1
	rc=$?
	cat /tmp/poisoned.log
	[ $rc -eq 1 ] || fail "daxfsd on a poisoned log exited $rc, not 1"
	grep -q "media error at offset 2097152" /tmp/poisoned.log || fail "daxfsd did not say where"
	"$DAXFS" mkfs --force "$region" >/tmp/mkfs.out 2>&1
	rc=$?
	cat /tmp/mkfs.out
	[ $rc -eq 1 ] || fail "mkfs --force over a poisoned log exited $rc, not 1"
	grep -q "media error" /tmp/mkfs.out || fail "mkfs did not say why"
	run umount /mnt/pmem
}

step8() {
	step "8. a replica on a second NVDIMM repairs real poison (MADV_HWPOISON)"
	run ndctl create-namespace -f -e namespace1.0 -m devdax
	[ -c /dev/dax1.0 ] || fail "/dev/dax1.0 is not a character device"
	run "$DAXFS" mkfs --force --replica /dev/dax1.0 "$dev"
	start_daxfsd --replica /dev/dax1.0
	"$DAXFS" status | grep -q "^replica .*, in sync" || fail "the replica is not in sync"
	run "$VM_CLIENT" --huge write /big.dat 0 6291456 1
	run "$VM_CLIENT" --huge write /small.dat 0 16384 2
	run "$VM_CLIENT" --huge repaired /big.dat 600 1
	run "$VM_CLIENT" --huge verify /big.dat 0 6291456 1
	run "$VM_CLIENT" --huge verify /small.dat 0 16384 2
	"$DAXFS" cat /big.dat >/dev/null || fail "'daxfs cat' of the repaired file failed"
	run "$DAXFS" badblocks
	"$DAXFS" badblocks | grep -q "repaired from the replica: /big.dat" ||
		fail "'daxfs badblocks' does not list /big.dat's block as repaired"
	run "$DAXFS" replica
	run "$DAXFS" scrub --compare
	kill -0 "$pid" 2>/dev/null || fail "daxfsd died"
	grep -iE "repaired|moved" "$log"
	stop_daxfsd
	run "$DAXFS" check "$region"
	run "$DAXFS" check /dev/dax1.0
}

for n in $VM_STEPS; do
	"step$n"
done
echo "-- daxfsd's log:"
cat "$log"
echo "guest steps $VM_STEPS passed"
