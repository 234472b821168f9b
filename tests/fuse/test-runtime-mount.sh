#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A running daxfsd mounts and unmounts when asked ('daxfs mount', 'daxfs umount'):
#   - root asks for a mount: files written there are daxfs files (the socket sees them);
#   - a second mount, an unknown option, and an unprivileged user are refused, each with
#     the reason, and the mount that serves stays;
#   - 'daxfs umount' ends it, daxfsd goes on serving its socket, a second umount fails;
#   - the options given win over the configuration's (ro: writes get EROFS);
#   - a mount someone unmounted with fusermount3 does not block the next request;
#   - finally daxfsd stops with the mount it was asked for still up: it unmounts it and
#     exits with status 0 (fuse-env.sh's cleanup checks both).
source "$(dirname "$0")/fuse-env.sh"

cli() { "$DAXFS_CLI" --socket "$SOCK" "$@"; }
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
# refused WHAT EXPECTED CMD... - CMD fails and says EXPECTED.
refused() {
	local what=$1 want=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		fail "$what was not refused"
	fi
	[[ $out == *"$want"* ]] || fail "$what: expected '$want', got: $out"
}

start_daemon
run_daemon
mounted && fail "mounted before anyone asked"

cli mount "$MNT" || fail "daxfs mount failed"
mounted || fail "daxfs mount returned but $MNT is not mounted"
echo "through the mount" >"$MNT/f"
[[ $(cli cat /f) == "through the mount" ]] || fail "the socket does not see the mount's file"

refused "a second mount" "Device or resource busy" cli mount "$MNT"
refused "an unknown option" "does not know" cli mount -o cache=sometimes "$MNT"
refused "a mount by nobody" "Operation not permitted" \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$DAXFS_CLI" --socket "$SOCK" mount "$MNT"
mounted || fail "a refused request took the mount away"
[[ $(cat "$MNT/f") == "through the mount" ]] || fail "the mount no longer serves"

cli umount "$MNT" || fail "daxfs umount failed"
mounted && fail "still mounted after daxfs umount"
[[ $(cli cat /f) == "through the mount" ]] || fail "the socket stopped serving after umount"
refused "a second umount" "not unmounted" cli umount "$MNT"

cli mount -o cache=always,ro "$MNT" || fail "daxfs mount -o cache=always,ro failed"
[[ $(cat "$MNT/f") == "through the mount" ]] || fail "read-only mount: cannot read"
if echo x 2>"$T/ro.err" >"$MNT/g"; then
	fail "a read-only mount took a write"
fi
grep -q "Read-only file system" "$T/ro.err" || fail "read-only mount: $(cat "$T/ro.err")"

fusermount3 -u "$MNT" || fail "fusermount3 -u failed"
mounted && fail "still mounted after fusermount3 -u"
cli mount "$MNT" || fail "a mount after an unmount from outside was refused"
[[ $(cat "$MNT/f") == "through the mount" ]] || fail "the new mount does not serve"
grep -q "unmounted from outside" "$T/daxfsd.log" || fail "daxfsd did not notice the outside unmount"

# Left mounted: the cleanup stops daxfsd, which must unmount and exit 0.
echo "ok: mount and unmount on request; refusals say why; a stop unmounts"
