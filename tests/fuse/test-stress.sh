#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Many requests at once through the mount and the socket, bounded in count (and by the
# watchdog): four writers on the mount share eight names in one directory (create, write,
# rename, read, unlink: names change under each other, parallel directory operations), two
# of them write the same file at once (the engine parks one of them on the inode lock and
# the park thread answers it), and a libdaxfs client (the CLI) truncates, copies in and
# removes the same files meanwhile (invalidations queued from the socket's workers).
# Errors of single commands are expected (a name another loop took away); what must hold:
# nothing hangs, daxfsd stops cleanly (exit 0, unmounted, no sanitizer report), no hidden
# name is left and 'daxfs check' finds the region consistent.
source "$(dirname "$0")/fuse-env.sh"

start_daemon
start_mount -o cache=always
mkdir "$MNT/d"
head -c 300000 /dev/urandom >"$T/blob"
loops=${FUSE_STRESS_LOOPS:-150}

writer() { # ID
	local i n
	for ((i = 0; i < loops; i++)); do
		n=$(((i * 7 + $1) % 8))
		{
			cp "$T/blob" "$MNT/d/f$n"
			mv "$MNT/d/f$n" "$MNT/d/g$n"
			cat "$MNT/d/g$n" >/dev/null
			ls -l "$MNT/d" >/dev/null
			rm -f "$MNT/d/g$n"
		} 2>/dev/null || true
	done
}
same_file() { # ID
	local i
	for ((i = 0; i < loops; i++)); do
		dd if="$T/blob" of="$MNT/d/shared" bs=64k seek="$1" conv=notrunc status=none \
			2>/dev/null || true
	done
}
other_client() {
	local i n
	for ((i = 0; i < loops; i++)); do
		n=$((i % 8))
		{
			"$DAXFS_CLI" --socket "$SOCK" truncate 4K "/d/g$n"
			"$DAXFS_CLI" --socket "$SOCK" put "$T/blob" "/d/f$n"
			"$DAXFS_CLI" --socket "$SOCK" truncate 1K /d/shared
			"$DAXFS_CLI" --socket "$SOCK" rm "/d/f$n"
		} >/dev/null 2>&1 || true
	done
}

pids=()
for w in 0 1 2 3; do
	writer "$w" &
	pids+=($!)
done
same_file 0 &
pids+=($!)
same_file 1 &
pids+=($!)
other_client &
pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done
echo "load done"

# Open and unlinked: no name shows anywhere, and after the stop nothing of it is left.
exec 7<"$MNT/d/shared"
rm "$MNT/d/shared"
if "$DAXFS_CLI" --socket "$SOCK" ls /d | grep -q shared; then
	echo "FAIL: an unlinked open file still has a name" >&2
	exit 1
fi
exec 7<&-
stop_mount
run_daemon
stop_mount
"$DAXFS_CLI" check "$T/region.img" >"$T/check.out" 2>&1 ||
	{ cat "$T/check.out" >&2; echo "FAIL: daxfs check after the stress" >&2; exit 1; }
if grep -q "unlinked while open" "$T/check.out"; then
	echo "FAIL: an orphan was left in the region" >&2
	exit 1
fi
echo "test-stress: ok"
