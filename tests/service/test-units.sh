#!/bin/sh
# SPDX-License-Identifier: MIT
# The systemd units: 'systemd-analyze verify' accepts them, and 'systemd-analyze security'
# scores daxfsd.service at 2.0 or better (lower is safer).
# usage: test-units.sh SERVICE(configured) SOCKET DAXFSD
set -u
SERVICE=$1 SOCKET=$2 DAXFSD=$3
command -v systemd-analyze >/dev/null ||
	{ echo "SKIP: systemd-analyze is not installed"; exit 77; }
T=$(mktemp -d /tmp/daxfs-test-units.XXXXXX)
trap 'rm -rf "$T"' EXIT

# verify wants ExecStart= to exist: point it at the daxfsd just built. The man pages are
# not installed here, so do not look them up.
sed "s|^ExecStart=[^ ]*|ExecStart=$DAXFSD|" "$SERVICE" >"$T/daxfsd.service"
cp "$SOCKET" "$T/daxfsd.socket"
if ! systemd-analyze verify --man=no "$T/daxfsd.socket" "$T/daxfsd.service" >"$T/verify" 2>&1; then
	echo "FAIL: systemd-analyze verify:"
	cat "$T/verify"
	exit 1
fi
[ -s "$T/verify" ] && { echo "FAIL: systemd-analyze verify warns:"; cat "$T/verify"; exit 1; }
echo "systemd-analyze verify: clean"

systemd-analyze security --offline=true "$T/daxfsd.service" >"$T/security" 2>&1
score=$(sed -n 's/.*Overall exposure level for daxfsd.service: \([0-9.]*\).*/\1/p' "$T/security")
[ -n "$score" ] || { echo "FAIL: no score from systemd-analyze security:"; cat "$T/security"; exit 1; }
echo "systemd-analyze security --offline=true: exposure $score (at most 2.0)"
if ! awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
	grep '✗' "$T/security"
	echo "FAIL: exposure $score is above 2.0"
	exit 1
fi
