#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Ordinary programs on a live daxfs mount: cp -a of the project's source tree and diff -r
# back, tar create and extract (both ways), and sqlite3 running a transaction-heavy script
# in the rollback-journal and WAL modes, with PRAGMA integrity_check = ok. Then the mount is
# stopped and started again: everything is still there (it lives in daxfsd, not in the page
# cache); the second mount does not poll /dev/fuse (--poll-us 0), so its threads take every
# request from sleep. Needs $SRC_DIR (the checkout) besides fuse-env.sh's variables.
source "$(dirname "$0")/fuse-env.sh"
: "${SRC_DIR:?SRC_DIR must name the source tree}"
for p in sqlite3 tar diff; do
	if ! command -v "$p" >/dev/null; then
		echo "SKIP: $p is missing (scripts/install-deps installs it)" >&2
		exit 77
	fi
done

start_daemon
start_mount

# A snapshot of the source first: others may edit the checkout while we compare.
mkdir "$T/src"
for d in common engine daemon lib tools include tests docs fuzz bench scripts; do
	[[ -d $SRC_DIR/$d ]] && cp -a "$SRC_DIR/$d" "$T/src/"
done
cp -a "$SRC_DIR/meson.build" "$SRC_DIR/README.md" "$T/src/"

echo "cp -a and diff -r"
cp -a "$T/src" "$MNT/src"
diff -r "$T/src" "$MNT/src"
# cp -a kept modes and modification times
a=$(cd "$T/src" && find . -printf '%p %m %T@\n' | sort)
b=$(cd "$MNT/src" && find . -printf '%p %m %T@\n' | sort)
if [[ $a != "$b" ]]; then
	diff <(echo "$a") <(echo "$b") | head -20 >&2
	echo "FAIL: cp -a did not keep modes or times" >&2
	exit 1
fi

echo "tar"
tar -C "$MNT" -cf "$MNT/src.tar" src
mkdir "$MNT/untar"
tar -C "$MNT/untar" -xf "$MNT/src.tar"
diff -r "$T/src" "$MNT/untar/src"
tar -C "$T/src" -cf "$T/local.tar" .
mkdir "$MNT/untar2"
tar -C "$MNT/untar2" -xf "$T/local.tar"
diff -r "$T/src" "$MNT/untar2"

# sqlite_script N - N transactions of inserts, updates and deletes, with checks.
sqlite_script() {
	echo "CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT);"
	echo "CREATE INDEX t_k ON t(k);"
	for ((i = 0; i < $1; i++)); do
		echo "BEGIN;"
		for ((j = 0; j < 20; j++)); do
			echo "INSERT INTO t(k, v) VALUES($((i * 20 + j)), printf('%0500d', $i));"
		done
		echo "UPDATE t SET v = v || 'x' WHERE k >= $((i * 20 - 100)) AND k % 7 = $((i % 7));"
		echo "DELETE FROM t WHERE k = $((i * 20 - 3));"
		echo "COMMIT;"
	done
	echo "BEGIN; INSERT INTO t(k, v) VALUES(-1, 'rolled back'); ROLLBACK;"
	echo "PRAGMA integrity_check;"
	echo "SELECT count(*), sum(k) FROM t WHERE k >= 0;"
}

for mode in delete wal; do
	echo "sqlite3 (journal_mode=$mode)"
	db=$MNT/test-$mode.db
	# The same script on tmpfs says what to expect.
	expect=$( (echo "PRAGMA journal_mode=$mode;"; sqlite_script 50) | sqlite3 "$T/ref-$mode.db")
	out=$( (echo "PRAGMA journal_mode=$mode;"; sqlite_script 50) | sqlite3 "$db")
	if [[ $out != "$expect" || $out != *$'\nok\n'* ]]; then
		echo "FAIL: sqlite3 printed:" >&2
		echo "$out" >&2
		echo "expected (the same script on tmpfs):" >&2
		echo "$expect" >&2
		exit 1
	fi
	[[ $(sqlite3 "$db" "PRAGMA integrity_check;") == ok ]]
done

echo "remount"
sum_before=$(cd "$MNT" && find . -type f -print0 | sort -z | xargs -0 cat | md5sum)
stop_mount
start_mount --poll-us 0
sum_after=$(cd "$MNT" && find . -type f -print0 | sort -z | xargs -0 cat | md5sum)
[[ $sum_before == "$sum_after" ]] || { echo "FAIL: contents changed across a remount" >&2; exit 1; }
diff -r "$T/src" "$MNT/src"
[[ $(sqlite3 "$MNT/test-wal.db" "PRAGMA integrity_check;") == ok ]]
stop_mount
echo "test-programs: ok"
