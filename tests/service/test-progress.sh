#!/bin/sh
# SPDX-License-Identifier: MIT
# Progress of long commands on a terminal: daxfs put and get that take over a second
# (writes and replies slowed by fault injection) show a redrawn line with percent, rate and
# ETA on stderr under a pseudo-terminal (script(1)); without a terminal they print nothing
# on stderr; --no-progress hides it on a terminal, --progress shows it without one (a line
# at a time); scrub, check and mkfs show theirs too.
# usage: test-progress.sh DAXFSD DAXFS_CLI
set -u
DAXFSD=$1 CLI=$2
command -v script >/dev/null || { echo "SKIP: script (util-linux) is not installed"; exit 77; }
T=$(mktemp -d /tmp/daxfs-test-progress.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$CLI" mkfs --size 256M "$T/region" >/dev/null || { echo "FAIL: mkfs"; exit 1; }
"$DAXFSD" --region "$T/region" --socket "$T/sock" --fault-injection 2>"$T/log" &
pid=$!
i=0
while ! "$CLI" --socket "$T/sock" status >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 200 ] || { echo "FAIL: daxfsd did not start"; cat "$T/log"; exit 1; }
	sleep 0.05
done
D="$CLI --socket $T/sock"
head -c 32M /dev/urandom >"$T/big"

# on_tty CMD - run CMD under a pseudo-terminal; what it printed goes to $T/tty.
on_tty() { script -qfec "$1" /dev/null >"$T/tty" 2>&1 </dev/null; }

# Each 4 MiB write (the CLI's chunk) of a new file now waits 2 x 150 ms: a 32 MiB put takes
# over 2 s, so that the line shows (after a second) with work still to do.
$D inject delay data-write 150000 >/dev/null || { echo "FAIL: inject delay"; exit 1; }
on_tty "$D put $T/big /big" || fail "put on a terminal failed: $(cat "$T/tty")"
# "\r" redraws; percent, done of total, rate, ETA; then the final line.
grep -q "$(printf '\r')put /big .*%  .* of 32.0 MiB  .*/s  ETA " "$T/tty" ||
	fail "put on a terminal shows no progress line: $(od -c "$T/tty" | head -20)"
grep -q "put /big  100%  32.0 MiB of 32.0 MiB  .*  in 0:0" "$T/tty" ||
	fail "put on a terminal: no final line: $(od -c "$T/tty" | head -20)"

$D put "$T/big" /big2 >"$T/out" 2>"$T/err" || fail "put without a terminal failed"
[ -s "$T/err" ] && fail "put without a terminal printed: $(cat "$T/err")"

on_tty "$D --no-progress put $T/big /big3" || fail "put --no-progress failed"
grep -q "put /big3" "$T/tty" && fail "put --no-progress on a terminal showed: $(cat "$T/tty")"

$D --progress put "$T/big" /big4 2>"$T/err" || fail "put --progress failed"
grep -q "^put /big4  .*%" "$T/err" && grep -q "^put /big4  100%.* in 0:0" "$T/err" ||
	fail "put --progress without a terminal: '$(cat "$T/err")'"
grep -q "$(printf '\r')" "$T/err" && fail "put --progress without a terminal redraws with \\r"
$D inject clear >/dev/null

# Every reply (on the ring too) now waits 250 ms: the 8 reads of a 32 MiB get take 2 s.
$D inject delay send 250000 >/dev/null || { echo "FAIL: inject delay send"; exit 1; }
on_tty "$D get /big $T/back" || fail "get on a terminal failed: $(cat "$T/tty")"
grep -q "$(printf '\r')get /big .*%" "$T/tty" ||
	fail "get on a terminal shows no progress: $(od -c "$T/tty" | head -20)"
$D get /big "$T/back2" 2>"$T/err" || fail "get without a terminal failed"
[ -s "$T/err" ] && fail "get without a terminal printed: $(cat "$T/err")"
$D inject clear >/dev/null
cmp -s "$T/big" "$T/back" && cmp -s "$T/big" "$T/back2" || fail "what get brought back differs"

# Scrub, check and mkfs (made long enough to show here with --progress).
on_tty "$D --progress scrub" || fail "scrub failed: $(cat "$T/tty")"
grep -q "scrub  100%  .* of " "$T/tty" || fail "scrub shows no progress: $(cat "$T/tty")"
kill -TERM $pid
wait $pid || fail "daxfsd did not exit 0"
pid=
on_tty "$CLI --progress check $T/region" || fail "check failed: $(cat "$T/tty")"
grep -q "check $T/region: checking files  100%" "$T/tty" ||
	fail "check shows no progress: $(cat "$T/tty")"
"$CLI" --progress mkfs --size 512M "$T/region2" >/dev/null 2>"$T/err" || fail "mkfs failed"
grep -q "^mkfs $T/region2: zeroing the log  100%" "$T/err" ||
	fail "mkfs shows no progress: $(cat "$T/err")"
"$CLI" mkfs --force "$T/region2" >/dev/null 2>"$T/err" || fail "mkfs --force failed"
[ -s "$T/err" ] && fail "mkfs without a terminal printed: $(cat "$T/err")"

[ $fails -eq 0 ] && echo "progress: shown on a terminal, not without, forced both ways"
exit $((fails != 0))
