#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/install-deps waits for apt's locks instead of failing at once: with stand-ins
# for dpkg-query and apt-get first in PATH, an 'apt-get update' that finds the package
# lists locked is tried again until it gets through, and every apt-get call asks apt to
# wait for the dpkg lock (DPkg::Lock::Timeout); a lock held past the wait, or another
# failure, ends it with apt's message and status 1.
# usage: test-install-deps.sh INSTALL_DEPS
set -u
SCRIPT=$1
T=$(mktemp -d /tmp/daxfs-test-install-deps.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
mkdir "$T/bin"
# dpkg-query: every package is installed but lintian.
cat >"$T/bin/dpkg-query" <<'SH'
#!/bin/sh
for a; do p=$a; done
[ "$p" = lintian ] && exit 1
echo "install ok installed"
SH
# apt-get: logs its arguments; update fails with the lists lock $LOCKED_UPDATES times
# (or with another error when $UPDATE_FAILS is set).
cat >"$T/bin/apt-get" <<'SH'
#!/bin/sh
echo "$*" >>"$T/calls"
case " $* " in
*" update "*)
	if [ -n "${UPDATE_FAILS:-}" ]; then
		echo "E: The repository 'x' does not have a Release file." >&2
		exit 100
	fi
	n=$(grep -c ' update' "$T/calls")
	if [ "$n" -le "$LOCKED_UPDATES" ]; then
		echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)" >&2
		exit 100
	fi
	;;
esac
exit 0
SH
printf '#!/bin/sh\nexec "$@"\n' >"$T/bin/sudo"
chmod +x "$T/bin/"*
export T PATH="$T/bin:$PATH"

# run LOCK_WAIT - install-deps with the stand-ins; its status in $rc, stderr in $T/err.
run() {
	rm -f "$T/calls"
	DAXFS_APT_LOCK_WAIT=$1 bash "$SCRIPT" >"$T/out" 2>"$T/err"
	rc=$?
}

# The lists are locked for the first two updates: it waits, then installs.
LOCKED_UPDATES=2 run 60
[ $rc -eq 0 ] || fail "exit $rc with the lock released after two tries: $(cat "$T/err")"
[ "$(grep -c ' update' "$T/calls")" = 3 ] || fail "update tried $(grep -c ' update' "$T/calls") times, want 3"
grep -q "waiting for another apt to release its lock" "$T/err" || fail "it did not say it waits"
grep -qx -- "-o DPkg::Lock::Timeout=60 install -y -qq --no-install-recommends lintian" "$T/calls" ||
	fail "install was not asked to wait for the dpkg lock: $(cat "$T/calls")"
[ "$(grep -c -- '-o DPkg::Lock::Timeout=60 ' "$T/calls")" = "$(wc -l <"$T/calls")" ] ||
	fail "not every apt-get call waits for the dpkg lock: $(cat "$T/calls")"

# Locked for longer than the wait: it gives up, with apt's message.
LOCKED_UPDATES=1000 run 3
[ $rc -eq 1 ] || fail "exit $rc with the lock never released"
grep -q "Could not get lock /var/lib/apt/lists/lock" "$T/err" || fail "no apt message: $(cat "$T/err")"
grep -q ' install ' "$T/calls" && fail "it installed without the package lists"

# Another failure of update: no waiting.
LOCKED_UPDATES=0 UPDATE_FAILS=1 run 60
[ $rc -eq 1 ] && [ "$(grep -c ' update' "$T/calls")" = 1 ] ||
	fail "another update failure: exit $rc after $(grep -c ' update' "$T/calls") tries"

[ $fails -eq 0 ] && echo "install-deps: waits for apt's locks, gives up after the wait"
exit $((fails != 0))
