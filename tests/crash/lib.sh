# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# What the crash scripts that drive daxfsd share. Source it with $daxfsd and $cli set and
# SCRATCH naming the scratch directory's prefix in /dev/shm. It makes $T (removed at exit,
# with the daemon in $pid killed) and gives:
#   fail MSG...  print MSG and the daemon log's tail ($T/d.log), exit 1
#   stop         SIGTERM the daemon in $pid and require a clean exit
#   in_sync      wait (60 s at most) until `daxfs status` says the replica is in sync
T=$(mktemp -d "/dev/shm/$SCRATCH.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	[ -f "$T/d.log" ] && tail -20 "$T/d.log" >&2
	exit 1
}
stop() {
	kill -TERM "$pid"
	wait "$pid" || fail "daxfsd did not exit cleanly"
	pid=
}
in_sync() {
	for _ in $(seq 2400); do
		"${cli:?}" status | grep -q "^replica .*, in sync" && return 0
		sleep 0.025
	done
	fail "the replica is not in sync after 60 s: $("$cli" status | grep replica)"
}
