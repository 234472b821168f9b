# SPDX-License-Identifier: MIT
# Sourced by the tests of the fuse suite: a daxfsd of our own on an emulated region in a
# fresh directory under /dev/shm, a daxfs FUSE mount of it, and a cleanup that runs on every
# exit path (failure, SIGTERM from meson's timeout, the watchdog) and never leaves a mount
# behind: the mount process is stopped, the mountpoint lazily unmounted, the daemon stopped
# with SIGTERM (it must exit 0), and the daemon's and the mount's logs must hold no
# sanitizer report.
#
# The programs come from meson in $DAXFSD and $DAXFS_CLI. Set before sourcing:
#   FUSE_TEST_SECONDS  the watchdog (default 150)
set -euo pipefail

: "${DAXFSD:?DAXFSD must name daxfsd}" "${DAXFS_CLI:?DAXFS_CLI must name the daxfs CLI}"

if [[ ! -c /dev/fuse ]]; then
	echo "SKIP: no /dev/fuse here" >&2
	exit 77
fi
if ! command -v fusermount3 >/dev/null; then
	echo "SKIP: fusermount3 is missing (scripts/install-deps installs fuse3)" >&2
	exit 77
fi

T=$(mktemp -d /dev/shm/daxfs-fuse.XXXXXX)
chmod 755 "$T" # other uids reach the socket and the mount (allow_other tests)
MNT=$T/mnt
SOCK=$T/daxfsd.sock
mkdir "$MNT"
daemon_pid=
mount_pid=
watchdog_pid=

mounted() {
	grep -q " $MNT " /proc/self/mounts
}

# has_sanitizer_report FILE - whether FILE holds an ASan/UBSan/LSan report.
has_sanitizer_report() {
	grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:|SUMMARY: .*Sanitizer' "$1"
}

fuse_cleanup() {
	local rc=$? f
	trap - EXIT TERM INT
	[[ -n $watchdog_pid ]] && kill "$watchdog_pid" 2>/dev/null && wait "$watchdog_pid" 2>/dev/null
	if mounted; then
		fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	fi
	if [[ -n $mount_pid ]]; then
		# Unmounted: the mount process ends by itself; if it hangs, it is killed.
		for _ in $(seq 100); do kill -0 "$mount_pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$mount_pid" 2>/dev/null; then
			echo "FAIL: the mount process did not end after the unmount" >&2
			kill -KILL "$mount_pid" 2>/dev/null || true
			rc=1
		fi
		wait "$mount_pid" 2>/dev/null || true
	fi
	if [[ -n $daemon_pid ]]; then
		kill -TERM "$daemon_pid" 2>/dev/null || true
		if ! wait "$daemon_pid"; then
			echo "FAIL: daxfsd did not exit with status 0" >&2
			rc=1
		fi
	fi
	for f in "$T"/*.log; do
		[[ -f $f ]] || continue
		if has_sanitizer_report "$f"; then
			echo "FAIL: sanitizer report in $(basename "$f")" >&2
			rc=1
		fi
		if ((rc != 0)); then
			echo "--- $(basename "$f") (last 40 lines)" >&2
			tail -n 40 "$f" >&2
		fi
	done
	if mounted; then
		echo "FAIL: $MNT is still mounted; not removing $T" >&2
		exit 1
	fi
	rm -rf --one-file-system "$T"
	exit "$rc"
}
trap fuse_cleanup EXIT
trap 'echo "FAIL: terminated (timeout?)" >&2; exit 1' TERM INT

# The watchdog: a hung FUSE request would keep the test (and bash's traps) waiting
# forever, so it kills the mount process first, which fails every request in flight.
# Its sleep is killed along with it: a leftover holding stdout would keep meson waiting.
(
	trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
	sleep "${FUSE_TEST_SECONDS:-150}" &
	sleeper=$!
	wait "$sleeper"
	echo "FAIL: watchdog: the test ran longer than ${FUSE_TEST_SECONDS:-150} s" >&2
	[[ -f $T/mount.pid ]] && kill -KILL "$(cat "$T/mount.pid")" 2>/dev/null
	fusermount3 -u -z "$MNT" 2>/dev/null
	kill -TERM $$
) &
watchdog_pid=$!

# start_daemon [DAXFSD OPTIONS...] - format a 512 MiB region and run daxfsd on it (the
# mounting user, root, may map: the mount then holds read grants and gets events).
start_daemon() {
	"$DAXFS_CLI" mkfs --size "${REGION_SIZE:-512M}" "$T/region.img" >/dev/null
	"$DAXFSD" --region "$T/region.img" --socket "$SOCK" --map-users root "$@" \
		>"$T/daxfsd.log" 2>&1 &
	daemon_pid=$!
	for _ in $(seq 300); do
		"$DAXFS_CLI" --socket "$SOCK" status >/dev/null 2>&1 && return 0
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "FAIL: daxfsd did not start" >&2
	exit 1
}

# start_mount [MOUNT OPTIONS...] - daxfs mount -f on $MNT; wait until it is mounted.
start_mount() {
	"$DAXFS_CLI" --socket "$SOCK" mount -f "$@" "$MNT" >>"$T/mount.log" 2>&1 &
	mount_pid=$!
	echo "$mount_pid" >"$T/mount.pid"
	for _ in $(seq 300); do
		mounted && return 0
		kill -0 "$mount_pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "FAIL: daxfs mount did not mount $MNT" >&2
	exit 1
}

# stop_mount - daxfs umount; the mount process must then exit with status 0.
stop_mount() {
	local st=0
	"$DAXFS_CLI" umount "$MNT"
	wait "$mount_pid" || st=$?
	mount_pid=
	rm -f "$T/mount.pid"
	if ((st != 0)); then
		echo "FAIL: the mount process exited with status $st" >&2
		exit 1
	fi
	if mounted; then
		echo "FAIL: still mounted after daxfs umount" >&2
		exit 1
	fi
}
