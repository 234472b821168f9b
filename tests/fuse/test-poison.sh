#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Poison injected into a file under the mount (daxfsd --fault-injection): the file's page
# at 16 KiB is poisoned at its region offset (from 'daxfs stat --json' extents). In each
# cache mode (none, auto, always, the last with the kernel keeping pages across opens and
# for a day of attribute timeout):
#   - a file held open (and read, so its pages are cached) since before the injection: the
#     invalidation the poison caused dropped the cached page, so reading it again fails
#     with EIO, while the pages around it still read;
#   - cat of the file fails with EIO; dd of the ranges before and after the poisoned page
#     succeeds with the right bytes, dd of the poisoned page fails with EIO.
source "$(dirname "$0")/fuse-env.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 is missing" >&2; exit 77; }

# (Not through a pipe into grep -q: with pipefail, daxfsd writing the rest of its help into
# the closed pipe would make the test skip.)
if ! grep -q -- --fault-injection <<<"$("$DAXFSD" --help 2>&1)"; then
	echo "SKIP: this daxfsd has no --fault-injection" >&2
	exit 77
fi
start_daemon --fault-injection
start_mount
if ! "$DAXFS_CLI" --socket "$SOCK" inject clear >/dev/null 2>&1; then
	echo "SKIP: this daxfs has no 'daxfs inject' (fault injection)" >&2
	exit 77
fi
stop_mount

# check_file NAME - cat fails with EIO; the good ranges read right; the bad page fails.
check_file() {
	local f=$MNT/$1 err
	if err=$(cat "$f" 2>&1 >/dev/null); then
		echo "FAIL: cat of a poisoned file succeeded" >&2
		exit 1
	fi
	[[ $err == *"Input/output error"* ]] || { echo "FAIL: cat said: $err" >&2; exit 1; }
	cmp <(dd if="$f" bs=4096 count=4 status=none) <(head -c 16384 "$T/pattern")
	cmp <(dd if="$f" bs=4096 skip=5 status=none) <(tail -c +20481 "$T/pattern")
	if err=$(dd if="$f" of=/dev/null bs=4096 skip=4 count=1 status=none 2>&1); then
		echo "FAIL: dd of the poisoned page succeeded" >&2
		exit 1
	fi
	[[ $err == *"Input/output error"* ]] || { echo "FAIL: dd said: $err" >&2; exit 1; }
}

head -c 65536 /dev/urandom >"$T/pattern"

for mode in none auto always; do
	echo "cache=$mode"
	start_mount -o cache=$mode
	cp "$T/pattern" "$MNT/victim-$mode"
	python3 - "$MNT/victim-$mode" "$T/pattern" "$DAXFS_CLI" "$SOCK" "$mode" <<'PY'
import errno, json, os, subprocess, sys, time
path, pattern, cli, sock, mode = sys.argv[1:]
want = open(pattern, "rb").read()
fd = os.open(path, os.O_RDONLY)
assert os.pread(fd, 65536, 0) == want  # every page cached now (cache=none: read through)
name = "/" + os.path.basename(path)
st = json.loads(subprocess.run([cli, "--socket", sock, "--json", "stat", name],
                               check=True, capture_output=True).stdout)
e = next(e for e in st["extents"] if e["file_offset"] <= 16384 < e["file_offset"] + e["length"])
off = e["region_offset"] + 16384 - e["file_offset"]
subprocess.run([cli, "--socket", sock, "inject", "poison", "--offset", str(off),
                "--length", "4096"], check=True)
# The invalidation reaches the kernel from daxfsd's invalidation thread, a moment after the
# poison is handled (as a real machine check would): give it 5 s.
deadline = time.monotonic() + 5
while True:
    try:
        os.pread(fd, 4096, 16384)
    except OSError as err:
        if err.errno != errno.EIO:
            raise
        break
    if mode == "none":
        sys.exit("FAIL: cache=none read a poisoned page without EIO")
    if time.monotonic() > deadline:
        sys.exit("FAIL: the open file still read its poisoned page (cached) after 5 s: "
                 "no invalidation")
    time.sleep(0.01)
assert os.pread(fd, 16384, 0) == want[:16384]
assert os.pread(fd, 65536 - 20480, 20480) == want[20480:]
os.close(fd)
print("open file: EIO on the poisoned page, the rest reads")
PY
	check_file "victim-$mode"
	stop_mount
done
echo "test-poison: ok"
