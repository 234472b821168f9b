#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The upgrade of a format-v1 region (tests/fixtures/v1-region.img.xz, made by the v1 code;
# its manifest lists every file with its SHA-256, the directories, and the quarantined
# blocks with the file page each hit):
#   - daxfs check reads the v1 region: clean, and says it is version 1;
#   - daxfsd upgrades it at mount (logged): every file reads back identical, every
#     directory is there, the quarantined block is still listed with the full path of its
#     file, the free one as free; daxfs check is clean and says version 2; the region
#     mounts again;
#   - a crash at the upgrade point ($DAXFS_FAULT_CRASH=upgrade) leaves version 1, which the
#     next mount upgrades;
#   - a crash at every persist of the upgrade (persistence tracing: the image holds only
#     what was persisted) leaves a region that check finds clean, as version 1 or 2, and
#     that mounts with every file intact;
#   - with a blank replica (format version 3, docs/format.md §8): the daemon upgrades it
#     and copies it to the replica ("in sync" in daxfs status); after a stop both images
#     are byte for byte equal, check says version 3 left CLEAN for both, and the next start
#     trusts the replica at once;
#   - the same crashed at persist points of the mount (the first 60, then every 97th
#     through the copy; persistence tracing of both images): check finds each image clean,
#     and the daemon on the two traced images copies again, serves every file, and stops
#     with both equal.
#   - the v2 fixture (tests/fixtures/v2-region.img.xz, made by daxfs 0.2.0, before version
#     3) with a blank replica: copied to it, every file, link, symbolic link, attribute and
#     quarantined page as before, both images equal and version 3; 'daxfs replica remove'
#     makes it version 2 again, and it starts without a replica, not degraded.
# (How code that does not know a feature refuses it is test-posix's.)
# Usage: test-upgrade.sh DAXFSD DAXFS_CLI SRC_DIR
set -euo pipefail
daxfsd=$1
cli=$2
src=$3
SCRATCH=daxfs-upgrade
# shellcheck source=tests/crash/lib.sh
. "$(dirname "$0")/lib.sh"
manifest=$src/tests/fixtures/v1-manifest.txt
xz -dc "$src/tests/fixtures/v1-region.img.xz" >"$T/v1.img"
sock=$T/d.sock
export DAXFS_SOCKET=$sock

# start REGION [ENV...] - daxfsd on REGION; returns once it answers (or it died: $pid empty).
start() {
	local region=$1
	shift
	rm -f "$sock"
	env "$@" "$daxfsd" --region "$region" --socket "$sock" --fault-injection \
		${TRACE:+--persist-trace "$TRACE"} ${REPLICA:+--replica "$REPLICA"} \
		--log-level info >>"$T/d.log" 2>&1 &
	pid=$!
	for _ in $(seq 400); do
		if ! kill -0 "$pid" 2>/dev/null; then
			{ wait "$pid" && status=0 || status=$?; } 2>/dev/null
			pid=
			return 0
		fi
		"$cli" status >/dev/null 2>&1 && return 0
		sleep 0.025
	done
	fail "daxfsd did not come up"
}

# verify - the manifest through the running daemon.
verify() {
	local kind path size rest sum
	while read -r kind path size rest; do
		case $kind in
		file)
			sum=$("$cli" get "$path" - | sha256sum | cut -d' ' -f1)
			[ "$sum" = "$rest" ] || fail "$path differs after the upgrade"
			;;
		dir)
			"$cli" ls "$path" >/dev/null || fail "directory $path is gone"
			;;
		poisoned)
			if "$cli" get "$path" - >/dev/null 2>&1; then
				fail "$path reads whole though a page of it is quarantined"
			fi
			;;
		badblock)
			# badblock REGION_OFFSET LENGTH PATH FILE_OFFSET
			local len=$size file foff
			read -r file foff <<<"$rest"
			local out
			out=$("$cli" badblocks)
			if [ "$file" = - ]; then
				grep -Eq "^ *$path +$len  no file" <<<"$out" ||
					fail "bad block $path is not listed as free: $out"
			else
				grep -Eq "^ *$path +$len  $file at file offset $foff\$" <<<"$out" ||
					fail "bad block $path is not listed with $file: $out"
			fi
			;;
		esac
	done < <(grep -v '^#' "$manifest")
}

check_version() { # REGION VERSION
	local out
	out=$("$cli" check "$1" 2>&1) || fail "daxfs check of $1 found problems: $out"
	if [ "$2" = 1 ]; then
		grep -q "format version 1" <<<"$out" || fail "check does not say version 1: $out"
	else
		! grep -q "format version 1" <<<"$out" || fail "check still says version 1: $out"
	fi
}

echo "the v1 fixture"
check_version "$T/v1.img" 1

echo "upgrade at mount"
cp "$T/v1.img" "$T/r.img"
start "$T/r.img"
[ -n "$pid" ] || fail "daxfsd did not start on the v1 region"
grep -q "upgraded from format version 1 to 2" "$T/d.log" || fail "the upgrade was not logged"
verify
stop
check_version "$T/r.img" 2
start "$T/r.img"
verify
stop

echo "a crash at the upgrade point"
cp "$T/v1.img" "$T/r.img"
: >"$T/d.log"
start "$T/r.img" DAXFS_FAULT_CRASH=upgrade
[ -z "$pid" ] || fail "daxfsd did not crash at the upgrade"
grep -q "upgrade" "$T/d.log" || fail "the crash does not name the point"
check_version "$T/r.img" 1
start "$T/r.img"
verify
stop
check_version "$T/r.img" 2

echo "a crash at each persist of the upgrade"
n=1
versions=
while :; do
	cp "$T/v1.img" "$T/r.img"
	: >"$T/d.log"
	TRACE=$T/t.img start "$T/r.img" DAXFS_FAULT_CRASH="persist:$n"
	if [ -n "$pid" ]; then
		stop # the upgrade (and the mount) made fewer persists: all were covered
		break
	fi
	out=$("$cli" check "$T/t.img" 2>&1) || fail "check after a crash at persist $n: $out"
	grep -q "format version 1" <<<"$out" && v=1 || v=2
	versions="$versions$v"
	start "$T/t.img"
	[ -n "$pid" ] || fail "daxfsd does not start after a crash at persist $n"
	verify
	stop
	check_version "$T/t.img" 2
	n=$((n + 1))
	[ $n -le 400 ] || fail "the upgrade made more than 400 persists"
done
echo "  $((n - 1)) crash points: as version ${versions:0:1} first, version ${versions: -1} last"
[ "${versions:0:1}" = 1 ] && [ "${versions: -1}" = 2 ] ||
	fail "the crashes never left version 1, or never version 2 ($versions)"

# in_sync - wait (at most 60 s) until daxfs status says the replica is in sync.

check_v3() { # IMAGE STATE
	local out
	out=$("$cli" check "$1" 2>&1) || fail "daxfs check of $1 found problems: $out"
	grep -q "format version 3: the region has a replica, left $2" <<<"$out" ||
		fail "check of $1 does not say version 3 left $2: $out"
}

echo "a replica for the v1 fixture"
cp "$T/v1.img" "$T/r.img"
truncate -s "$(stat -c %s "$T/v1.img")" "$T/rep.img"
: >"$T/d.log"
REPLICA=$T/rep.img start "$T/r.img"
[ -n "$pid" ] || fail "daxfsd did not start on the v1 region with a replica"
in_sync
verify
stop
cmp -s "$T/r.img" "$T/rep.img" || fail "the replica differs from the region after a clean stop"
check_v3 "$T/r.img" "in sync"
check_v3 "$T/rep.img" "in sync"
: >"$T/d.log"
REPLICA=$T/rep.img start "$T/r.img"
"$cli" status | grep -q "^replica .*, in sync" || fail "a CLEAN pair was not trusted at start"
! grep -q "copying the region" "$T/d.log" || fail "a CLEAN pair was copied again"
verify
stop

echo "a crash at persist points of the mount with a replica (both images traced)"
# crashed_or_synced - wait until the daemon crashed (pid emptied) or the replica is in sync.
crashed_or_synced() {
	for _ in $(seq 2400); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null || true
			pid=
			return 0
		fi
		"$cli" status 2>/dev/null | grep -q "^replica .*, in sync" && return 0
		sleep 0.025
	done
	fail "neither a crash nor a replica in sync after 60 s"
}
n=1
points=0
while :; do
	cp "$T/v1.img" "$T/r.img"
	truncate -s 0 "$T/rep.img"
	truncate -s "$(stat -c %s "$T/v1.img")" "$T/rep.img"
	: >"$T/d.log"
	TRACE=$T/t.img REPLICA=$T/rep.img start "$T/r.img" DAXFS_FAULT_CRASH="persist:$n"
	[ -z "$pid" ] || crashed_or_synced
	if [ -n "$pid" ]; then
		# In sync; the stop's own persists (the CLEAN superblocks) may still crash.
		kill -TERM "$pid"
		if wait "$pid"; then
			pid=
			break # mount, copy and stop made fewer persists: all were covered
		fi
		pid=
	fi
	points=$((points + 1))
	for img in "$T/t.img" "$T/t.img.replica"; do
		out=$("$cli" check "$img" 2>&1) ||
			{ [ "$img" = "$T/t.img.replica" ] &&
				grep -q "does not hold a daxfs file system" <<<"$out"; } ||
			fail "check of $img after a crash at persist $n: $out"
	done
	REPLICA=$T/t.img.replica start "$T/t.img"
	[ -n "$pid" ] || fail "daxfsd does not start with its replica after a crash at persist $n"
	in_sync
	verify
	stop
	cmp -s "$T/t.img" "$T/t.img.replica" ||
		fail "after a crash at persist $n, a resync and a stop, the replica differs"
	if [ $n -lt 30 ]; then n=$((n + 1)); else n=$((n + 331)); fi
	[ $points -le 100 ] || fail "more than 100 crash points: the mount never finished"
done
echo "  $points crash points, up to persist $n"

echo "the v2 fixture (daxfs 0.2.0) with a replica"
manifest2=$src/tests/fixtures/v2-manifest.txt
xz -dc "$src/tests/fixtures/v2-region.img.xz" >"$T/v2.img"
verify2() {
	local kind path a b
	while read -r kind path a b; do
		case $kind in
		file)
			[ "$("$cli" get "$path" - | sha256sum | cut -d' ' -f1)" = "$b" ] ||
				fail "$path differs"
			;;
		dir) "$cli" ls "$path" >/dev/null || fail "directory $path is gone" ;;
		symlink)
			[ "$("$cli" readlink "$path")" = "$a" ] || fail "symbolic link $path changed"
			;;
		xattr)
			[ "$("$cli" xattr get "$path" "$a")" = "$b" ] || fail "$path lost its $a"
			;;
		poisoned)
			if "$cli" get "$path" - >/dev/null 2>&1; then
				fail "$path reads whole though a page of it is quarantined"
			fi
			;;
		esac
	done < <(grep -v '^#' "$manifest2")
}
out=$("$cli" check "$T/v2.img" 2>&1) || fail "check of the v2 fixture: $out"
! grep -q "format version [13]" <<<"$out" || fail "the v2 fixture is not version 2: $out"
truncate -s "$(stat -c %s "$T/v2.img")" "$T/rep2.img"
: >"$T/d.log"
REPLICA=$T/rep2.img start "$T/v2.img"
[ -n "$pid" ] || fail "daxfsd did not start on the v2 fixture with a replica"
in_sync
verify2
stop
cmp -s "$T/v2.img" "$T/rep2.img" || fail "the v2 fixture's replica differs after a stop"
check_v3 "$T/v2.img" "in sync"
check_v3 "$T/rep2.img" "in sync"
REPLICA=$T/rep2.img start "$T/v2.img"
"$cli" replica remove >/dev/null || fail "daxfs replica remove failed"
stop
out=$("$cli" check "$T/v2.img" 2>&1) || fail "check after replica remove: $out"
! grep -q "format version [13]" <<<"$out" || fail "not version 2 after replica remove: $out"
start "$T/v2.img"
"$cli" status | grep -q "^replica      none" || fail "a removed replica is still expected"
verify2
stop

echo "test-upgrade: ok"
