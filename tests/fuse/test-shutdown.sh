#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Stopping daxfsd unmounts its FUSE mount cleanly, even while programs use it:
#   - a program holds a file that was unlinked while open (it lives on with no name, an
#     orphan in the engine, still readable through its descriptor), another one has its
#     working directory in the mount;
#   - SIGTERM: daxfsd exits with status 0 within the test's bound (fuse-env.sh), the mount
#     is gone from /proc/mounts, the holder's next read fails (ENOTCONN) instead of
#     hanging, and the daemon's log (ASan build: leaks) has no sanitizer report;
#   - a daxfsd started again without the mount finds nothing but what was closed, intact,
#     and daxfs check finds no orphan left behind.
source "$(dirname "$0")/fuse-env.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 is missing" >&2; exit 77; }

start_daemon
start_mount
mkdir "$MNT/dir"
head -c 200000 /dev/urandom >"$T/data"
cp "$T/data" "$MNT/dir/kept"
echo "open and unlinked" >"$MNT/dir/ghost"

# The holder: opens ghost, says so, waits for its cue, then reads once more.
mkfifo "$T/cue" "$T/ready" "$T/unlinked" "$T/read"
python3 - "$MNT/dir/ghost" "$T/cue" "$T/ready" "$T/unlinked" "$T/read" >"$T/holder.out" 2>&1 <<'PY' &
import errno, os, sys
path, cue, ready, unlinked, done = sys.argv[1:]
fd = os.open(path, os.O_RDONLY)
open(ready, "w").close()
open(unlinked).read()  # rm has run: the data is still ours
print("unlinked read:", os.pread(fd, 64, 0).decode().strip())
sys.stdout.flush()
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # the next read must ask daxfsd
open(done, "w").close()
open(cue).read()  # daxfsd has stopped
try:
    os.pread(fd, 64, 0)
    print("read succeeded")
except OSError as e:
    print("read failed:", errno.errorcode.get(e.errno, e.errno))
PY
holder=$!
cat "$T/ready" >/dev/null
rm "$MNT/dir/ghost"
(cd "$MNT/dir" && exec sleep 60) &
sitter=$!
[[ ! -e $MNT/dir/ghost ]] || { echo "FAIL: ghost still visible after rm" >&2; exit 1; }
# No name anywhere for it, through the mount or the socket; the holder still reads it.
names=$("$DAXFS_CLI" --socket "$SOCK" ls /dir)
[[ $names == kept ]] || { echo "FAIL: /dir holds, through the socket: $names" >&2; exit 1; }
echo >"$T/unlinked"
cat "$T/read" >/dev/null # before daxfsd stops

stop_mount
echo >"$T/cue"
wait "$holder"
kill "$sitter" 2>/dev/null || true
wait "$sitter" 2>/dev/null || true
out=$(cat "$T/holder.out")
[[ $out == $'unlinked read: open and unlinked\nread failed: ENOTCONN' ]] ||
	{ echo "FAIL: the holder's reads: $out" >&2; exit 1; }

run_daemon
left=$("$DAXFS_CLI" --socket "$SOCK" ls /dir)
if [[ $left != kept ]]; then
	echo "FAIL: after a clean stop /dir holds: $left" >&2
	exit 1
fi
"$DAXFS_CLI" --socket "$SOCK" get /dir/kept "$T/kept"
cmp "$T/data" "$T/kept"
stop_mount
"$DAXFS_CLI" check "$T/region.img" >"$T/check.out" 2>&1 || { cat "$T/check.out" >&2; exit 1; }
if grep -q "unlinked while open" "$T/check.out"; then
	echo "FAIL: the closed orphan is still in the region" >&2
	exit 1
fi
echo "test-shutdown: ok"
