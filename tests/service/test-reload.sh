#!/bin/sh
# SPDX-License-Identifier: MIT
# SIGHUP: daxfsd reads its config file again, applies log_level, lease_break_timeout and
# map_users/map_groups (new connections see the new trust), logs each changed key that
# needs a restart, keeps the running configuration when the file turned bad, and serves on.
# usage: test-reload.sh DAXFSD DAXFS_CLI
set -u
DAXFSD=$1 CLI=$2
fails=0
T=$(mktemp -d /tmp/daxfs-test-reload.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; [ $fails -eq 0 ] || cat "$T/log"; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
"$CLI" mkfs --size 64M "$T/region" >/dev/null || { echo "FAIL: mkfs"; exit 1; }
UID_=$(id -u)

conf() {
	cat >"$T/daxfsd.conf" <<CONF
[daemon]
socket = $T/sock
${1:+log_level = $1}
workers = $2
lease_break_timeout = $3
[region r]
path = $T/region
$4
CONF
}
trust() { "$CLI" --socket "$T/sock" --json status | sed -n 's/.*"map_trust":"\([^"]*\)".*/\1/p'; }
# hup PATTERN - SIGHUP, then wait for PATTERN in the log.
hup() {
	kill -HUP $pid
	i=0
	while ! grep -qF -- "$1" "$T/log" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	grep -qF -- "$1" "$T/log" || fail "after SIGHUP, no '$1' in the log: $(cat "$T/log")"
}

conf notice 4 5000 ""
"$DAXFSD" --config "$T/daxfsd.conf" 2>"$T/log" &
pid=$!
i=0
while [ ! -S "$T/sock" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
[ "$(trust)" = none ] || fail "trust before the reload: $(trust), want none"
grep -q "connected" "$T/log" && fail "info lines logged at level notice"

# Reloadable keys change; workers (not reloadable) is logged as needing a restart.
conf info 8 1000 "map_users = $UID_"
hup "SIGHUP: reloaded $T/daxfsd.conf (log level info, lease break timeout 1000 ms, map trust for new sessions: users $UID_ (rw)"
grep -qF "SIGHUP: workers changed in $T/daxfsd.conf but cannot change while running; restart daxfsd to apply it" "$T/log" ||
	fail "no 'workers ... restart' line: $(cat "$T/log")"
[ "$(trust)" = read-write ] || fail "trust after the reload: $(trust), want read-write"
grep -q "session .*connected" "$T/log" || fail "log_level = info not applied by SIGHUP"

# Read-only trust by group.
conf info 8 1000 "map_groups = $(id -g):ro"
hup "map trust for new sessions: users none; groups $(id -g) (ro)"
[ "$(trust)" = read-only ] || fail "trust after the second reload: $(trust), want read-only"

# log_level gone from the file: back to the default (notice), no more info lines.
conf "" 8 1000 "map_groups = $(id -g):ro"
hup "SIGHUP: reloaded $T/daxfsd.conf (log level notice"
before=$(grep -c "connected" "$T/log")
trust >/dev/null
[ "$(grep -c "connected" "$T/log")" = "$before" ] || fail "info lines after log_level went back to notice"

# A bad file: logged, the running configuration kept, still serving.
conf info 8 0 ""
hup "SIGHUP: $T/daxfsd.conf:5: bad lease_break_timeout '0' (1..86400000); keeping the running configuration"
[ "$(trust)" = read-only ] || fail "a bad file changed the trust: $(trust)"

kill -TERM $pid
wait $pid
rc=$?
pid=
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM"
echo "SIGHUP: 4 reloads checked; $fails failures"
[ $fails -eq 0 ]
