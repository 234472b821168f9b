#!/bin/sh
# SPDX-License-Identifier: MIT
# daxfsd --config: every key accepted, each kind of bad value refused with its message
# (file, line, key) and exit status 2, flags over the file, the shipped example valid.
# usage: test-config.sh DAXFSD DAXFS_CLI EXAMPLE_CONF
set -u
DAXFSD=$1 CLI=$2 EXAMPLE=$3
T=$(mktemp -d /tmp/daxfs-test-config.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$CLI" mkfs --size 64M "$T/region" >/dev/null || { echo "FAIL: mkfs"; exit 1; }
GROUP=$(id -gn)

# serve CONF [FLAGS...] - run daxfsd, see 'daxfs status' answer on $T/sock, SIGTERM, exit 0.
serve() {
	conf=$1
	shift
	rm -f "$T/sock"
	"$DAXFSD" --config "$conf" "$@" 2>"$T/log" &
	pid=$!
	i=0
	while [ ! -S "$T/sock" ] && [ $i -lt 200 ] && kill -0 $pid 2>/dev/null; do
		sleep 0.05
		i=$((i + 1))
	done
	sockmode=$(stat -c '%a %G' "$T/sock" 2>/dev/null)
	if ! "$CLI" --socket "$T/sock" status >"$T/status" 2>&1; then
		fail "$conf: daxfs status failed: $(cat "$T/status" "$T/log")"
	fi
	kill -TERM $pid 2>/dev/null
	wait $pid
	rc=$?
	[ $rc -eq 0 ] || fail "$conf: daxfsd exit $rc after SIGTERM: $(cat "$T/log")"
}

# Every key, each with a valid value other than its default.
cat >"$T/all.conf" <<CONF
[daemon]
socket = $T/sock
socket_mode = 0660
socket_group = $GROUP
log_level = info
workers = 4
lease_break_timeout = 2000
fault_injection = yes
persist_trace = $T/durable.img
poll_us = 0
max_sessions = 8
max_sessions_per_user = 4
ring_threads = 3

[region test]
path = $T/region
kind = emulated
size = 64M
map_users = $(id -u):ro
map_groups = $GROUP
badblock_poll_interval = 60
CONF
serve "$T/all.conf"
grep -q "mounted $T/region (emulated" "$T/log" || fail "all keys: no 'mounted' line: $(cat "$T/log")"
grep -q "4 workers, at most 8 sessions, 4 per user, poll 0 us, 3 ring threads" "$T/log" ||
	fail "all keys: workers/max_sessions/poll_us/ring_threads not applied: $(cat "$T/log")"
grep -q "session 1: pid" "$T/log" || fail "all keys: log_level = info not applied"
[ "$sockmode" = "660 $GROUP" ] || fail "all keys: socket mode and group '$sockmode', want '660 $GROUP'"

# The shipped example, its region and socket overridden by flags (flags win).
serve "$EXAMPLE" --region "$T/region" --socket "$T/sock" --kind emulated
grep -q "listening on $T/sock (mode 0666" "$T/log" ||
	fail "example: not listening on the flag's socket: $(cat "$T/log")"
# ring_threads left at 0: half the CPUs daxfsd may run on, 1 or 2.
rings=$(($(nproc) / 2))
rings=$((rings < 1 ? 1 : rings > 2 ? 2 : rings))
grep -q ", $rings ring threads;" "$T/log" ||
	fail "example: not $rings ring threads for $(nproc) CPUs: $(cat "$T/log")"

# A flag overrides the file: workers = 4 in the file, --workers 2 wins.
serve "$T/all.conf" --workers 2
grep -q " 2 workers" "$T/log" || fail "--workers did not override the file: $(cat "$T/log")"

# bad CONF_BODY EXPECTED_MESSAGE - daxfsd refuses it with exit 2 and the message.
n=0
bad() {
	n=$((n + 1))
	printf '%s\n' "$1" >"$T/bad$n.conf"
	"$DAXFSD" --config "$T/bad$n.conf" >"$T/out" 2>&1
	rc=$?
	[ $rc -eq 2 ] || fail "case $n: exit $rc, not 2 ($1)"
	grep -qF -- "$2" "$T/out" || fail "case $n: want '$2', got '$(cat "$T/out")'"
}
B="$T/bad"
R="[region r]
path = $T/region"
bad "[daemon]
socket =" "${B}1.conf:2: bad socket '' (a path)"
bad "[daemon]
socket_mode = 0999" "${B}2.conf:2: bad socket_mode '0999' (octal, e.g. 0660)"
bad "[daemon]
socket_mode = 01777" "${B}3.conf:2: bad socket_mode '01777'"
bad "[daemon]
socket_group = no-such-group-xyz" "${B}4.conf:2: bad socket_group 'no-such-group-xyz' (a group name or gid: no such group)"
bad "[daemon]
log_level = loud" "${B}5.conf:2: bad log_level 'loud' (err, warning, notice, info, debug, or 3..7)"
bad "[daemon]
workers = 0" "${B}6.conf:2: bad workers '0' (1..1024)"
bad "[daemon]
workers = 2000" "${B}7.conf:2: bad workers '2000' (1..1024)"
bad "[daemon]
workers = four" "${B}8.conf:2: bad workers 'four' (1..1024)"
bad "[daemon]
lease_break_timeout = -1" "${B}9.conf:2: bad lease_break_timeout '-1' (1..86400000)"
bad "[daemon]
fault_injection = maybe" "${B}10.conf:2: bad fault_injection 'maybe' (true or false)"
bad "[daemon]
fault_injection = 2" "${B}11.conf:2: bad fault_injection '2' (true or false)"
bad "[daemon]
poll_us = 1000001" "${B}12.conf:2: bad poll_us '1000001' (0..1000000)"
bad "[daemon]
max_sessions = 0" "${B}13.conf:2: bad max_sessions '0' (1..1000000)"
bad "[region r]
path =" "${B}14.conf:2: bad path '' (a path)"
bad "$R
kind = pmem" "${B}15.conf:3: bad kind 'pmem' (devdax, fsdax, emulated or auto)"
bad "$R
size = 12Q" "${B}16.conf:3: bad size '12Q' (a size such as 64M or 2G)"
bad "$R
map_users = no-such-user-xyz" "${B}17.conf:3: bad map_users 'no-such-user-xyz' ("
bad "$R
map_groups = root:rx" "${B}18.conf:3: bad map_groups 'root:rx' ("
bad "$R
badblock_poll_interval = 1s" "${B}19.conf:3: bad badblock_poll_interval '1s' (0..604800)"
bad "[daemon]
workers = 4
[server]
x = 1" "${B}20.conf:3: unknown section [server] (known: [daemon], [region NAME])"
bad "[daemon]
[nothing]" "${B}21.conf:2: unknown section [nothing]"
bad "[daemon]
threads = 4" "${B}22.conf:2: unknown key 'threads' in [daemon]"
bad "$R
workers = 4" "${B}23.conf:3: unknown key 'workers' in [region NAME]"
bad "$R
[region s]
path = /x" "${B}24.conf:3: [region s]: only one region per daemon in this version ([region r] came first)"
bad "[region]
path = /x" "${B}25.conf:1: [region] needs a name: [region NAME]"
bad "workers = 4" "${B}26.conf:1: key 'workers' outside a section"
bad "[daemon]
workers 4" "${B}27.conf:2: syntax error"
bad "[region r]
kind = auto" "${B}28.conf: [region r] has no path"
bad "[daemon]
workers = 4
workers = 5" "${B}29.conf:3: workers given twice (first on line 2)"

# A region of another kind than 'kind' says: it does not start (exit 1), saying why.
printf '[region r]\npath = %s\nkind = devdax\n' "$T/region" >"$T/kind.conf"
"$DAXFSD" --config "$T/kind.conf" --socket "$T/sock" >"$T/out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -qF "is a regular file, not a devdax device" "$T/out" ||
	fail "kind = devdax on a file: exit $rc, '$(cat "$T/out")'"

# A missing file.
"$DAXFSD" --config "$T/none.conf" >"$T/out" 2>&1
rc=$?
[ $rc -eq 2 ] || fail "missing file: exit $rc, not 2"
grep -qF "$T/none.conf: cannot read it: No such file or directory" "$T/out" ||
	fail "missing file: got '$(cat "$T/out")'"

# A bad flag still says which flag.
"$DAXFSD" --region "$T/region" --workers 0 >"$T/out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -qF "bad --workers '0' (1..1024)" "$T/out" ||
	fail "bad flag: exit $rc, '$(cat "$T/out")'"

echo "$n bad configs, a missing file, a bad flag, 3 good configs checked; $fails failures"
[ $fails -eq 0 ]
