#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Crashes of a daemon with a replica (DESIGN §13, docs/format.md §8), with persistence
# tracing of both regions: a pair made by 'daxfs mkfs --replica' is served with
# --persist-trace, a client stores files one after the other (each acknowledged when
# 'daxfs put' exits 0), and the daemon aborts at its Nth persist from then
# ('daxfs inject crash --persist N'), for N = 1, 2, ... up to a point past the workload.
# The traced images hold what each region's media would. For every crash point:
#   - daxfs check finds each image clean;
#   - the replica's image alone (started as a region without its replica: degraded) holds
#     every acknowledged file with its bytes, and so does the region's;
#   - (a crash in the stop that follows the workload is one more point);
#   - started as a pair again, the daemon copies the region to the replica (the pair was
#     left OPEN), serves every acknowledged file, and after a clean stop both images are
#     byte for byte equal.
# Usage: test-replica-crash.sh DAXFSD DAXFS_CLI
set -euo pipefail
daxfsd=$1
cli=$2
SCRATCH=daxfs-replica-crash
# shellcheck source=tests/crash/lib.sh
. "$(dirname "$0")/lib.sh"
sock=$T/d.sock
export DAXFS_SOCKET=$sock
FILES=6

# start REGION [daxfsd options...] - daxfsd on REGION; returns once it answers.
start() {
	local region=$1
	shift
	rm -f "$sock"
	"$daxfsd" --region "$region" --socket "$sock" --fault-injection --log-level info "$@" \
		>>"$T/d.log" 2>&1 &
	pid=$!
	for _ in $(seq 400); do
		kill -0 "$pid" 2>/dev/null || fail "daxfsd exited at start on $region"
		"$cli" status >/dev/null 2>&1 && return 0
		sleep 0.025
	done
	fail "daxfsd did not come up on $region"
}
# verify N - files 1..N read back with their bytes.
verify() {
	for i in $(seq "$1"); do
		"$cli" get "/f$i" - 2>/dev/null | cmp -s - "$T/src$i" ||
			fail "acknowledged file /f$i is missing or wrong ($2)"
	done
}

for i in $(seq $FILES); do
	head -c $((3000 + i * 4096)) /dev/urandom >"$T/src$i"
done
"$cli" mkfs --size 32M --replica "$T/pair.rep" "$T/pair.img" >/dev/null

n=1
points=0
while :; do
	cp "$T/pair.img" "$T/r.img"
	cp "$T/pair.rep" "$T/r.rep"
	: >"$T/d.log"
	start "$T/r.img" --replica "$T/r.rep" --persist-trace "$T/t.img"
	"$cli" inject crash --persist "$n" >/dev/null
	acked=0
	for i in $(seq $FILES); do
		"$cli" put "$T/src$i" "/f$i" >/dev/null 2>&1 || break
		acked=$i
	done
	if [ "$acked" = $FILES ] && kill -0 "$pid" 2>/dev/null; then
		# The stop's own persists (the CLEAN superblocks) may still reach the point.
		kill -TERM "$pid"
		if wait "$pid"; then
			pid=
			break # the workload and the stop made fewer persists: all were covered
		fi
	else
		for _ in $(seq 400); do kill -0 "$pid" 2>/dev/null || break; sleep 0.025; done
		kill -0 "$pid" 2>/dev/null && fail "daxfsd did not crash at persist $n"
		wait "$pid" 2>/dev/null || true
	fi
	pid=
	points=$((points + 1))
	for img in "$T/t.img" "$T/t.img.replica"; do
		out=$("$cli" check "$img" 2>&1) || fail "check of $img after a crash at persist $n: $out"
	done
	# The replica's image alone: every acknowledged file is there.
	cp "$T/t.img.replica" "$T/alone.img"
	start "$T/alone.img"
	verify "$acked" "in the replica's image, crash at persist $n"
	stop
	# The pair again: copied, served, equal after a stop.
	start "$T/t.img" --replica "$T/t.img.replica"
	in_sync
	verify "$acked" "in the pair after a crash at persist $n"
	stop
	cmp -s "$T/t.img" "$T/t.img.replica" ||
		fail "after a crash at persist $n, a resync and a stop, the images differ"
	if [ $n -lt 40 ]; then n=$((n + 1)); else n=$((n + 3)); fi
	[ $points -le 400 ] || fail "more than 400 crash points: the workload never finished"
done
echo "test-replica-crash: $points crash points, every acknowledged file on both images: ok"
