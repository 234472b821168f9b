#!/bin/sh
# SPDX-License-Identifier: MIT
# Socket activation: systemd-socket-activate owns the SOCK_SEQPACKET socket and starts
# daxfsd on the first connection; daxfsd serves clients on the socket it was handed (it
# binds nothing itself), and the socket file stays systemd's after it exits.
# usage: test-activate.sh DAXFSD DAXFS_CLI
set -u
DAXFSD=$1 CLI=$2
command -v systemd-socket-activate >/dev/null ||
	{ echo "SKIP: systemd-socket-activate is not installed"; exit 77; }
T=$(mktemp -d /tmp/daxfs-test-activate.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$T"' EXIT
"$CLI" mkfs --size 64M "$T/region" >/dev/null || { echo "FAIL: mkfs"; exit 1; }

# --socket names a path daxfsd would bind: it must not, since it was handed one.
systemd-socket-activate --seqpacket -l "$T/act.sock" \
	"$DAXFSD" --region "$T/region" --socket "$T/not-bound.sock" 2>"$T/log" &
pid=$!
i=0
while [ ! -S "$T/act.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -S "$T/act.sock" ] || { echo "FAIL: systemd-socket-activate did not listen"; cat "$T/log"; exit 1; }

for n in 1 2 3; do
	if ! "$CLI" --socket "$T/act.sock" status >"$T/status$n" 2>&1; then
		echo "FAIL: daxfs status #$n on the activated socket:"
		cat "$T/status$n" "$T/log"
		exit 1
	fi
done
echo "daxfs status served 3 times on the activated socket"
grep -q "listening on the socket systemd passed" "$T/log" ||
	{ echo "FAIL: daxfsd did not say it took the passed socket:"; cat "$T/log"; exit 1; }
[ -e "$T/not-bound.sock" ] && { echo "FAIL: daxfsd bound --socket anyway"; exit 1; }

kill -TERM $pid
wait $pid
rc=$?
pid=
[ $rc -eq 0 ] || { echo "FAIL: exit status $rc after SIGTERM"; cat "$T/log"; exit 1; }
[ -S "$T/act.sock" ] || { echo "FAIL: daxfsd removed the socket file it was handed"; exit 1; }
echo "SIGTERM: exit 0, the handed socket file left to its owner"
