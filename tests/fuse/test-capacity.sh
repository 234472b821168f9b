#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The namespace's capacity (daxfs(1), df -i): 'daxfs df -i' and statfs on the mount
# (f_files, f_ffree: stat -f) give the same numbers; creating N files with 16-byte names
# through the mount uses N and takes N off the free count; and the count of used matches
# what 'daxfs check' counts in the region once the daemon is stopped.
source "$(dirname "$0")/fuse-env.sh"

REGION_SIZE=64M start_daemon
start_mount

# df_i - "USED FREE TOTAL" from daxfs df -i --json.
df_i() {
	"$DAXFS_CLI" --socket "$SOCK" df -i --json |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["used"], d["free"], d["inodes"])'
}

# agree - df -i and statfs on the mount say the same; sets USED and FREE.
agree() {
	local total free_
	read -r USED FREE total < <(df_i)
	read -r total_m free_ < <(stat -f -c '%c %d' "$MNT")
	if [[ $total != "$total_m" || $FREE != "$free_" ]]; then
		echo "FAIL: df -i says $total inodes, $FREE free; statfs on the mount $total_m, $free_" >&2
		exit 1
	fi
	((USED + FREE == total)) || { echo "FAIL: $USED used + $FREE free != $total" >&2; exit 1; }
}

agree
echo "fresh: $USED used, $FREE free"
((USED == 1 && FREE > 10000)) || { echo "FAIL: a fresh region: $USED used, $FREE free" >&2; exit 1; }
mkdir "$MNT/d"
agree
used0=$USED free0=$FREE
N=300
for ((i = 0; i < N; i++)); do
	printf -v name 'file%012d' "$i"
	: >"$MNT/d/$name"
done
agree
echo "after $N files: $USED used, $FREE free"
if ((USED != used0 + N || FREE != free0 - N)); then
	echo "FAIL: $N files took used from $used0 to $USED and free from $free0 to $FREE" >&2
	exit 1
fi
"$DAXFS_CLI" --socket "$SOCK" df -i | grep -qE "^$SOCK +$((USED + FREE)) +$USED +$FREE " ||
	{ echo "FAIL: daxfs df -i prints:" >&2; "$DAXFS_CLI" --socket "$SOCK" df -i >&2; exit 1; }

# What the engine counts in the region itself.
stop_mount
counted=$("$DAXFS_CLI" check --json "$T/region.img" |
	python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["files"] + d["directories"])')
if ((counted != USED)); then
	echo "FAIL: daxfs check counts $counted files and directories, df -i said $USED used" >&2
	exit 1
fi
echo "daxfs check counts $counted, as df -i said"
