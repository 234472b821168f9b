#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Round trips through the mount with the tools people copy trees with: a tree on tmpfs
# holding every kind of POSIX object (files of several sizes, an empty one, a directory
# tree, symbolic links relative, absolute and dangling, hard links, a fifo, user
# attributes, access and default ACLs, odd modes, old times) goes onto the mount with
#   - cp -a,
#   - rsync -aHAX,
#   - tar --xattrs --acls (out of a tarball made of the tree),
# and back out again with each tool; every copy must equal the original as the tools see
# it: diff -r (contents and symbolic links' targets), getfattr -d -m- -R (attributes, ACLs
# among them), getfacl -R (ACLs, owners, modes), and a listing of types, modes, link
# counts and modification times (hard links stay one file: rsync -H, tar, cp -a).
# Then daxfs check is clean.
source "$(dirname "$0")/fuse-env.sh"
for tool in rsync getfattr setfattr getfacl setfacl tar python3; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool is missing" >&2; exit 77; }
done

src=$T/src
mkdir -p "$src/dir/sub" "$src/empty-dir"
# (The source must keep user attributes and ACLs itself: tmpfs does, on Linux >= 6.6.)
if ! setfattr -n user.probe -v 1 "$src" 2>/dev/null || ! setfacl -m u:4242:r "$src" 2>/dev/null; then
	echo "SKIP: $T cannot hold user attributes or ACLs" >&2
	exit 77
fi
setfattr -x user.probe "$src"
setfacl -b "$src"
head -c 300000 /dev/urandom >"$src/dir/big"
printf 'small\n' >"$src/dir/small"
: >"$src/empty"
head -c 8192 /dev/urandom >"$src/dir/sub/page2"
ln -s small "$src/dir/rel-link"
ln -s /etc/hostname "$src/abs-link"
ln -s nowhere "$src/dangling"
ln "$src/dir/small" "$src/dir/sub/hard"
mkfifo "$src/fifo"
chmod 0751 "$src/dir/sub"
chmod 0640 "$src/dir/big"
chmod 4755 "$src/dir/small"
setfattr -n user.color -v blue "$src/dir/big"
setfattr -n user.empty "$src/dir/small"
setfattr -n user.bin -v 0x00ff10 "$src/dir/sub"
setfacl -m u:4242:rw,g:4343:r,m::rw "$src/dir/big"
setfacl -d -m u:4242:rwx,g::rx,o::- "$src/dir"
# Every link gets a time of its own: rsync compares times to the second and leaves a link
# made in the same second as its original as it is, with the sub-second part it was made with.
find "$src" -type l -exec touch -h -d '2001-02-03 04:05:06.123456789' {} +
find "$src" -depth -not -type l -exec touch -d '2002-03-04 05:06:07.5' {} +

# shape DIR - types, modes, link counts, sizes (not of directories: each file system has
# its own), mtimes and link targets, by relative path.
shape() {
	(cd "$1" && find . -printf '%p %y %m %n %s %T@ %l\n' |
		awk '$2 == "d" { $5 = "-" } { print }' | sort)
}
# blocks - stdin's blank-line separated blocks (one per file), sorted: readdir order is
# the file system's own.
blocks() {
	python3 -c 'import sys; print("\n\n".join(sorted(b.strip() for b in sys.stdin.read().split("\n\n") if b.strip())))'
}
# same ORIG COPY WHAT - the copy equals the original as the tools see it.
same() {
	local a=$1 b=$2 what=$3
	# (diff cannot compare fifos: shape below does, by type.)
	diff -r --no-dereference -x fifo "$a" "$b" >"$T/diff.out" 2>&1 ||
		{ cat "$T/diff.out" >&2; echo "FAIL: $what: contents differ" >&2; exit 1; }
	diff <(cd "$a" && getfattr -h -d -m- -R . 2>/dev/null | blocks) \
		<(cd "$b" && getfattr -h -d -m- -R . 2>/dev/null | blocks) >"$T/diff.out" ||
		{ cat "$T/diff.out" >&2; echo "FAIL: $what: attributes differ" >&2; exit 1; }
	diff <(cd "$a" && getfacl -R -P . 2>/dev/null | blocks) \
		<(cd "$b" && getfacl -R -P . 2>/dev/null | blocks) \
		>"$T/diff.out" || { cat "$T/diff.out" >&2; echo "FAIL: $what: ACLs differ" >&2; exit 1; }
	diff <(shape "$a") <(shape "$b") >"$T/diff.out" ||
		{ cat "$T/diff.out" >&2; echo "FAIL: $what: types, modes, links or times differ" >&2; exit 1; }
}

start_daemon
start_mount

# In: one copy per tool.
cp -a "$src" "$MNT/cp"
same "$src" "$MNT/cp" "cp -a in"
rsync -aHAX "$src/" "$MNT/rsync/"
same "$src" "$MNT/rsync" "rsync -aHAX in"
(cd "$src" && tar --xattrs --xattrs-include='*' --acls -cf "$T/tree.tar" .)
mkdir "$MNT/tar"
(cd "$MNT/tar" && tar --xattrs --xattrs-include='*' --acls -xpf "$T/tree.tar")
same "$src" "$MNT/tar" "tar --xattrs --acls in"
# The hard link is one file on the mount.
[[ $(stat -c %i "$MNT/rsync/dir/small") == $(stat -c %i "$MNT/rsync/dir/sub/hard") ]] ||
	{ echo "FAIL: rsync -H made two files of one" >&2; exit 1; }

# Out again, each tool from its own copy.
cp -a "$MNT/cp" "$T/out-cp"
same "$src" "$T/out-cp" "cp -a out"
rsync -aHAX "$MNT/rsync/" "$T/out-rsync/"
same "$src" "$T/out-rsync" "rsync -aHAX out"
(cd "$MNT/tar" && tar --xattrs --xattrs-include='*' --acls -cf "$T/back.tar" .)
mkdir "$T/out-tar"
(cd "$T/out-tar" && tar --xattrs --xattrs-include='*' --acls -xpf "$T/back.tar")
same "$src" "$T/out-tar" "tar --xattrs --acls out"

# A default ACL is inherited by what is made under it through the mount.
touch "$MNT/cp/dir/new"
getfacl -p "$MNT/cp/dir/new" | grep -q '^user:4242:rw' ||
	{ getfacl -p "$MNT/cp/dir/new" >&2; echo "FAIL: the default ACL was not inherited" >&2; exit 1; }

stop_mount
"$DAXFS_CLI" check "$T/region.img" >"$T/check.out" 2>&1 ||
	{ cat "$T/check.out" >&2; echo "FAIL: daxfs check after the round trips" >&2; exit 1; }
echo "test-roundtrip: ok"
