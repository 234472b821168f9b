# SPDX-License-Identifier: MIT
# Sourced by the tests of the fuse suite: a daxfsd of our own on an emulated region in a
# fresh directory under /dev/shm, serving it as a FUSE mount itself (daxfsd --mount), and a
# cleanup that runs on every exit path (failure, SIGTERM from meson's timeout, the
# watchdog) and never leaves a mount behind: the daemon is stopped with SIGTERM (it must
# unmount and exit 0), a mount left behind is a failure (and lazily unmounted), and the
# daemon's log must hold no sanitizer report.
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
watchdog_pid=
daemon_args=()

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
	if [[ -n $daemon_pid ]]; then
		# daxfsd unmounts and ends by itself on SIGTERM; if it hangs, it is killed.
		kill -TERM "$daemon_pid" 2>/dev/null || true
		for _ in $(seq 150); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$daemon_pid" 2>/dev/null; then
			echo "FAIL: daxfsd did not end within 15 s of SIGTERM" >&2
			kill -KILL "$daemon_pid" 2>/dev/null || true
			rc=1
		fi
		if ! wait "$daemon_pid"; then
			echo "FAIL: daxfsd did not exit with status 0" >&2
			rc=1
		fi
	fi
	if mounted; then
		echo "FAIL: $MNT is still mounted after daxfsd stopped" >&2
		fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
		rc=1
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
# forever, so it kills the daemon (the mount's server) first, which fails every request in
# flight.
# Its sleep is killed along with it: a leftover holding stdout would keep meson waiting.
(
	trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
	sleep "${FUSE_TEST_SECONDS:-150}" &
	sleeper=$!
	wait "$sleeper"
	echo "FAIL: watchdog: the test ran longer than ${FUSE_TEST_SECONDS:-150} s" >&2
	[[ -f $T/daemon.pid ]] && kill -KILL "$(cat "$T/daemon.pid")" 2>/dev/null
	fusermount3 -u -z "$MNT" 2>/dev/null
	kill -TERM $$
) &
watchdog_pid=$!

# start_daemon [DAXFSD OPTIONS...] - format a region (REGION_SIZE, 512M by default) and
# keep the options for the daxfsd that start_mount runs on it (the mounting user, root, may
# map).
start_daemon() {
	"$DAXFS_CLI" mkfs --size "${REGION_SIZE:-512M}" "$T/region.img" >/dev/null
	daemon_args=(--region "$T/region.img" --socket "$SOCK" --map-users root "$@")
}

# start_mount [-o MOUNT OPTIONS] - run daxfsd with --mount $MNT (and --mount-options); wait
# until it answers on its socket and the mount is up.
start_mount() {
	local opts=(--mount "$MNT")
	if [[ ${1:-} == -o ]]; then
		opts+=(--mount-options "$2")
		shift 2
	fi
	run_daemon "${opts[@]}" "$@"
	mounted || { echo "FAIL: daxfsd did not mount $MNT" >&2; exit 1; }
}

# run_daemon [DAXFSD OPTIONS...] - run daxfsd with start_daemon's options and these; wait
# until it answers on its socket. (Without --mount: to look at what a mount left behind.)
run_daemon() {
	"$DAXFSD" "${daemon_args[@]}" "$@" >>"$T/daxfsd.log" 2>&1 &
	daemon_pid=$!
	echo "$daemon_pid" >"$T/daemon.pid"
	for _ in $(seq 300); do
		"$DAXFS_CLI" --socket "$SOCK" status >/dev/null 2>&1 && return 0
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "FAIL: daxfsd did not start ($*)" >&2
	exit 1
}

# stop_mount - stop daxfsd (SIGTERM): it must unmount and exit with status 0.
stop_mount() {
	local st=0
	kill -TERM "$daemon_pid"
	wait "$daemon_pid" || st=$?
	daemon_pid=
	rm -f "$T/daemon.pid"
	if ((st != 0)); then
		echo "FAIL: daxfsd exited with status $st" >&2
		exit 1
	fi
	if mounted; then
		echo "FAIL: still mounted after daxfsd stopped" >&2
		exit 1
	fi
}
