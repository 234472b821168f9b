#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Cross-client freshness: in each cache mode, what a libdaxfs client writes, truncates,
# renames, unlinks and creates is seen through the mount (tests/fuse/fuse-fresh.c says what
# "seen" means in each mode). cache=auto runs with its 1 s attribute timeout; cache=always
# with its day-long one, so only the invalidations can make the changes show.
source "$(dirname "$0")/fuse-env.sh"
: "${FUSE_FRESH:?FUSE_FRESH must name fuse-fresh}"

start_daemon
for mode in none auto always; do
	start_mount -o cache=$mode
	"$FUSE_FRESH" "$MNT" "$SOCK" "$mode"
	stop_mount
done
echo "test-fresh: ok"
