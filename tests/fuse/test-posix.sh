#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fuse-posix (POSIX behaviour, every operation with its errors) on a live mount (daxfsd's
# mounts let every user in, each checked as itself), so that another uid's requests are
# checked too; then daxfsd stops, and a daxfsd without the mount finds nothing left.
# Needs $FUSE_POSIX (the program) besides fuse-env.sh's variables.
source "$(dirname "$0")/fuse-env.sh"
: "${FUSE_POSIX:?FUSE_POSIX must name fuse-posix}"

start_daemon
# Long attribute and name timeouts: a change by another client shows before they expire
# only through the invalidation it causes.
start_mount -o attr_timeout=30,entry_timeout=30
allow=()
[[ $(id -u) -eq 0 ]] && allow=(--allow-other)
"$FUSE_POSIX" "$MNT" --cli="$DAXFS_CLI" --socket="$SOCK" "${allow[@]}"
stop_mount
# The mount left nothing behind: no hidden file of an unlinked-while-open one.
run_daemon
left=$("$DAXFS_CLI" --socket "$SOCK" ls /)
if [[ -n $left ]]; then
	echo "FAIL: left in the file system after the test: $left" >&2
	exit 1
fi
echo "test-posix: ok"
