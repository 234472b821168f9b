// SPDX-License-Identifier: MIT
/*
 * test-posix - what format version 2 adds to the engine (engine/namespace.h), each rule as a
 * user of a POSIX file system would notice it, and each checked again after an unmount and
 * mount and after a checkpoint (a snapshot rewrites everything):
 *
 *   symbolic links (short targets inline, long ones in a block; readlink; walks that follow
 *   them, relative and absolute; ELOOP; ENAMETOOLONG; lstat), hard links (nlink, data shared,
 *   unlink of one name, rename over one, EPERM on directories, protected_hardlinks), files
 *   unlinked while open (readable, writable, gone at the last close, and removed at the next
 *   mount after a "crash"), special files (fifo, socket, devices with rdev; devices only by
 *   the super user; no reads through them), extended attributes (namespaces, flags, limits
 *   and errors as Linux returns them, 64 KiB values), POSIX ACLs (enforced, the mask, chmod,
 *   default ACLs inherited, an ACL the mode says all of is not kept), O_APPEND from two
 *   threads, utimensat's "now" and explicit times, and ftruncate through a descriptor open
 *   for writing on a file of mode 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "check.h"
#include "format.h"
#include "namespace.h"
#include "nstest.h"
#include "rcu.h"
#include "testutil.h"

#define MiB (UINT64_C(1) << 20)
#define ROOT NS_ROOT_INO

static struct ns *ns;
static const char *img;

static struct ns_cred user(uint32_t uid, uint32_t gid)
{
	return (struct ns_cred){.uid = uid, .gid = gid};
}

/* as - a synchronous context of @cred (the caller keeps @cred alive). */
static struct ns_ctx *as(struct ns_ctx *c, const struct ns_cred *cred)
{
	ns_ctx_init(c, cred);
	return c;
}

static void remount(void)
{
	ns_unmount(&ns);
	T_OK(ns_mount(&ns, img, NULL));
}

/* checkpoint_remount - every record rewritten by a snapshot, then replayed. */
static void checkpoint_remount(void)
{
	T_OK(ns_checkpoint(ns));
	remount();
}

static uint64_t mk(uint64_t dir, const char *name, uint32_t mode)
{
	struct ns_attr a;

	T_OK(ns_create(ns, NULL, dir, name, mode, &a));
	return a.ino;
}

static uint64_t mkd(uint64_t dir, const char *name, uint32_t mode)
{
	struct ns_attr a;

	T_OK(ns_mkdir(ns, NULL, dir, name, mode, &a));
	return a.ino;
}

static struct ns_attr stat_path(const char *path, unsigned flags)
{
	struct ns_path p;

	T_OK(ns_walk(ns, NULL, path, flags, &p));
	return p.attr;
}

static void put(uint64_t ino, const char *s)
{
	T_ASSERT(ns_write(ns, NULL, ino, s, strlen(s), 0) == (ssize_t)strlen(s));
}

static void expect(uint64_t ino, const char *s)
{
	char buf[256] = {0};

	T_ASSERT(ns_read(ns, NULL, ino, buf, sizeof(buf) - 1, 0) == (ssize_t)strlen(s));
	if (strcmp(buf, s) != 0)
		T_FAIL("read \"%s\", expected \"%s\"", buf, s);
}

static void check_clean(void)
{
	struct check_result res;

	ns_unmount(&ns);
	T_OK(ns_check(img, NULL, NULL, &res));
	if (res.problems)
		T_FAIL("daxfs check found %" PRIu64 " problems", res.problems);
	T_ASSERT(res.format_version == 2);
	T_OK(ns_mount(&ns, img, NULL));
}

/* --- symbolic links --- */

static void test_symlinks(void)
{
	char longt[4096], buf[4096];
	struct ns_attr a;
	uint64_t d = mkd(ROOT, "sl", 0755), f = mk(d, "file", 0644);

	put(f, "target data");
	T_OK(ns_symlink(ns, NULL, d, "rel", "file", &a));
	T_ASSERT(S_ISLNK(a.mode) && (a.mode & 0777) == 0777 && a.size == 4 && a.nlink == 1);
	T_OK(ns_symlink(ns, NULL, ROOT, "abs", "/sl/file", NULL));
	T_OK(ns_symlink(ns, NULL, ROOT, "todir", "sl", NULL));
	T_OK(ns_symlink(ns, NULL, ROOT, "dangling", "/nowhere", NULL));
	T_OK(ns_symlink(ns, NULL, ROOT, "loop1", "loop2", NULL));
	T_OK(ns_symlink(ns, NULL, ROOT, "loop2", "/loop1", NULL));
	T_OK(ns_symlink(ns, NULL, ROOT, "self", "self/x", NULL));
	/* A long target lives in a block: one that resolves (slashes repeat), one that does not. */
	memset(longt, '/', 3000);
	strcpy(longt + 3000, "sl");
	T_OK(ns_symlink(ns, NULL, ROOT, "longdots", longt, NULL));
	memset(longt, 'x', 3000);
	longt[3000] = 0;
	T_OK(ns_symlink(ns, NULL, ROOT, "long", longt, &a));
	T_ASSERT(a.size == 3000 && a.blocks == 1);
	T_ERR(ns_symlink(ns, NULL, ROOT, "empty", "", NULL), ENOENT);
	memset(buf, 'y', 4096);
	buf[4095] = 0;
	T_OK(ns_symlink(ns, NULL, ROOT, "max", buf, NULL)); /* 4095 bytes: the most */
	{
		char *big = malloc(4097);

		memset(big, 'z', 4096);
		big[4096] = 0;
		T_ERR(ns_symlink(ns, NULL, ROOT, "toolong", big, NULL), ENAMETOOLONG);
		free(big);
	}
	T_ERR(ns_symlink(ns, NULL, ROOT, "abs", "x", NULL), EEXIST);

	for (int round = 0; round < 3; round++) {
		struct ns_attr l;

		/* Followed: relative from the link's directory, absolute from the root. */
		a = stat_path("/sl/rel", 0);
		T_ASSERT(a.ino == f);
		T_ASSERT(stat_path("/abs", 0).ino == f);
		T_ASSERT(stat_path("/todir/file", 0).ino == f);
		T_ASSERT(stat_path("/todir/rel", 0).ino == f);
		/* Not followed as the last component when the link itself is asked for. */
		l = stat_path("/abs", NS_WALK_NOFOLLOW);
		T_ASSERT(S_ISLNK(l.mode) && l.size == strlen("/sl/file"));
		/* ... but followed when a slash comes after it. */
		T_ASSERT(S_ISDIR(stat_path("/todir/", NS_WALK_NOFOLLOW).mode));
		{
			struct ns_path p;

			T_ERR(ns_walk(ns, NULL, "/dangling", 0, &p), ENOENT);
			T_ERR(ns_walk(ns, NULL, "/loop1", 0, &p), ELOOP);
			T_ERR(ns_walk(ns, NULL, "/self", 0, &p), ELOOP);
			T_ERR(ns_walk(ns, NULL, "/abs/x", 0, &p), ENOTDIR);
		}
		T_ASSERT(ns_readlink(ns, l.ino, buf, sizeof(buf)) == 8 &&
			 memcmp(buf, "/sl/file", 8) == 0);
		/* readlink truncates, as readlink(2), and writes no NUL. */
		memset(buf, '#', 8);
		T_ASSERT(ns_readlink(ns, l.ino, buf, 3) == 3 && memcmp(buf, "/sl#", 4) == 0);
		l = stat_path("/long", NS_WALK_NOFOLLOW);
		T_ASSERT(ns_readlink(ns, l.ino, buf, sizeof(buf)) == 3000 &&
			 memcmp(buf, longt, 3000) == 0);
		T_ASSERT(stat_path("/longdots", 0).ino == d);
		T_ERR(ns_readlink(ns, f, buf, sizeof(buf)), EINVAL);
		/* No data through a link. */
		T_ERR(ns_read(ns, NULL, l.ino, buf, 10, 0), EINVAL);
		T_ERR(ns_write(ns, NULL, l.ino, "x", 1, 0), EINVAL);
		if (round == 0)
			remount();
		else if (round == 1)
			checkpoint_remount();
	}
	/* Removing links never touches their targets; the long one gives its block back. */
	T_OK(ns_unlink(ns, NULL, ROOT, "long"));
	T_OK(ns_unlink(ns, NULL, ROOT, "abs"));
	expect(f, "target data");
	check_clean();
}

/* --- hard links --- */

static void test_hardlinks(void)
{
	struct ns_cred u1 = user(1001, 1001), u2 = user(1002, 1002);
	struct ns_ctx c;
	struct ns_attr a;
	uint64_t d = mkd(ROOT, "hl", 0777), d2 = mkd(ROOT, "hl2", 0777), f = mk(d, "a", 0644),
		 sub = mkd(d, "sub", 0755);

	put(f, "shared");
	T_OK(ns_link(ns, NULL, f, d, "b", &a));
	T_ASSERT(a.ino == f && a.nlink == 2);
	T_OK(ns_link(ns, NULL, f, d2, "c", &a));
	T_ASSERT(a.nlink == 3);
	T_ASSERT(stat_path("/hl/b", 0).ino == f && stat_path("/hl2/c", 0).nlink == 3);
	T_ERR(ns_link(ns, NULL, sub, d2, "dirlink", NULL), EPERM);
	T_ERR(ns_link(ns, NULL, f, d, "a", NULL), EEXIST);
	/* Written through one name, read through another. */
	put(stat_path("/hl2/c", 0).ino, "SHARED");
	remount();
	expect(stat_path("/hl/b", 0).ino, "SHARED");
	T_ASSERT(stat_path("/hl/a", 0).nlink == 3);
	/* One name goes, the others keep the data. */
	T_OK(ns_unlink(ns, NULL, d, "a"));
	T_ASSERT(stat_path("/hl/b", 0).nlink == 2);
	expect(f, "SHARED");
	/* A rename over a name of a linked file removes only that name. */
	T_OK(ns_create(ns, NULL, d, "other", 0644, NULL));
	T_OK(ns_rename(ns, NULL, d, "other", d2, "c", 0));
	T_ASSERT(stat_path("/hl/b", 0).nlink == 1);
	expect(f, "SHARED");
	checkpoint_remount();
	T_ASSERT(stat_path("/hl/b", 0).nlink == 1 && stat_path("/hl/b", 0).ino == f);
	/*
	 * protected_hardlinks: someone else's file may be linked only by who may read and
	 * write it, and never a set-user-id one.
	 */
	{
		uint64_t theirs;
		struct ns_attr ta;

		T_OK(ns_create(ns, T_AS(1001, 1001), d, "theirs", 0600, &ta));
		theirs = ta.ino;
		T_ERR(ns_link(ns, as(&c, &u2), theirs, d, "stolen", NULL), EPERM);
		T_OK(ns_link(ns, as(&c, &u1), theirs, d, "mine", NULL));
		T_OK(ns_setattr(ns, NULL, theirs,
				&(struct ns_setattr){.valid = NS_SET_MODE, .mode = 04666}, NULL));
		T_ERR(ns_link(ns, as(&c, &u2), theirs, d, "stolen", NULL), EPERM);
		T_OK(ns_setattr(ns, NULL, theirs,
				&(struct ns_setattr){.valid = NS_SET_MODE, .mode = 0666}, NULL));
		T_OK(ns_link(ns, as(&c, &u2), theirs, d, "allowed", NULL));
	}
	check_clean();
}

/* --- open, unlinked files --- */

static void test_orphans(void)
{
	uint64_t d = mkd(ROOT, "orph", 0755), f = mk(d, "f", 0644), g;
	struct ns_statfs s0, s1;
	struct ns_attr a;
	char buf[1 << 16];

	memset(buf, 'o', sizeof(buf));
	T_ASSERT(ns_write(ns, NULL, f, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf));
	T_OK(ns_link(ns, NULL, f, d, "g", NULL));
	T_OK(ns_open(ns, NULL, f));
	T_OK(ns_open(ns, NULL, f));
	T_OK(ns_close(ns, NULL, f)); /* one of two opens: still open, still named */
	/* Both names go while it is open: it stays, readable and writable by number. */
	T_OK(ns_unlink(ns, NULL, d, "f"));
	T_OK(ns_unlink(ns, NULL, d, "g"));
	T_OK(ns_getattr(ns, f, &a));
	T_ASSERT(a.nlink == 0 && a.size == sizeof(buf));
	T_ASSERT(ns_write(ns, NULL, f, "new", 3, 0) == 3);
	T_ASSERT(ns_read(ns, NULL, f, buf, 3, 0) == 3 && memcmp(buf, "new", 3) == 0);
	T_ERR(ns_link(ns, NULL, f, d, "back", NULL), ENOENT);
	/* The last close removes it. */
	ns_statfs(ns, &s0);
	T_ASSERT(ns_close(ns, NULL, f) == 1);
	T_OK(ns_getattr(ns, f, &a)); /* until the closer removes it */
	T_OK(ns_remove_orphan(ns, NULL, f));
	T_OK(ns_remove_orphan(ns, NULL, f)); /* again: nothing to do */
	T_ERR(ns_getattr(ns, f, &a), ENOENT);
	T_ERR(ns_close(ns, NULL, f), ENOENT);
	remount(); /* the frees wait for a grace period; a remount has them done */
	ns_statfs(ns, &s1);
	T_ASSERT(s1.blocks_free >= s0.blocks_free + sizeof(buf) / 4096);

	/* Open, unlinked, then the daemon stops without a close: the next mount removes it. */
	g = mk(d, "g", 0644);
	T_ASSERT(ns_write(ns, NULL, g, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf));
	T_OK(ns_open(ns, NULL, g));
	T_OK(ns_unlink(ns, NULL, d, "g"));
	ns_statfs(ns, &s0);
	{
		struct check_result res;

		ns_unmount(&ns);
		T_OK(ns_check(img, NULL, NULL, &res));
		T_ASSERT(res.problems == 0); /* an orphan to remove is a note, not damage */
		T_OK(ns_mount(&ns, img, NULL));
	}
	T_ERR(ns_getattr(ns, g, &a), ENOENT);
	ns_statfs(ns, &s1);
	T_ASSERT(s1.blocks_free >= s0.blocks_free + sizeof(buf) / 4096);
	T_ERR(ns_open(ns, NULL, d), EISDIR);
	check_clean();
}

/* --- special files --- */

static void test_specials(void)
{
	struct ns_cred u1 = user(1001, 1001);
	uint64_t d = mkd(ROOT, "dev", 0777);
	struct ns_ctx c;
	struct ns_attr a;
	char buf[8];

	T_OK(ns_mknod(ns, NULL, d, "fifo", S_IFIFO | 0640, 0, &a));
	T_ASSERT(S_ISFIFO(a.mode) && (a.mode & 07777) == 0640 && a.rdev == 0);
	T_OK(ns_mknod(ns, NULL, d, "sock", S_IFSOCK | 0600, 0, NULL));
	T_OK(ns_mknod(ns, NULL, d, "null", S_IFCHR | 0666, makedev(1, 3), NULL));
	T_OK(ns_mknod(ns, NULL, d, "disk", S_IFBLK | 0660, makedev(259, 7), NULL));
	T_OK(ns_mknod(ns, NULL, d, "plain", 0644, 0, &a)); /* type 0: a regular file */
	T_ASSERT(S_ISREG(a.mode));
	T_ERR(ns_mknod(ns, NULL, d, "dir", S_IFDIR | 0755, 0, NULL), EPERM);
	T_ERR(ns_mknod(ns, as(&c, &u1), d, "mydev", S_IFCHR | 0666, makedev(1, 3), NULL), EPERM);
	T_OK(ns_mknod(ns, as(&c, &u1), d, "myfifo", S_IFIFO | 0666, 0, NULL));
	for (int round = 0; round < 2; round++) {
		a = stat_path("/dev/null", 0);
		T_ASSERT(S_ISCHR(a.mode) && major(a.rdev) == 1 && minor(a.rdev) == 3);
		a = stat_path("/dev/disk", 0);
		T_ASSERT(S_ISBLK(a.mode) && major(a.rdev) == 259 && minor(a.rdev) == 7);
		T_ASSERT(S_ISSOCK(stat_path("/dev/sock", 0).mode));
		T_ASSERT(stat_path("/dev/myfifo", 0).uid == 1001);
		T_ERR(ns_read(ns, NULL, a.ino, buf, 1, 0), EINVAL);
		T_ERR(ns_setattr(ns, NULL, a.ino, &(struct ns_setattr){.valid = NS_SET_SIZE}, NULL),
		      EINVAL);
		checkpoint_remount();
	}
	T_OK(ns_rename(ns, NULL, d, "fifo", ROOT, "fifo2", 0));
	T_OK(ns_unlink(ns, NULL, ROOT, "fifo2"));
	check_clean();
}

/* --- extended attributes --- */

static void test_xattrs(void)
{
	struct ns_cred u1 = user(1001, 1001), u2 = user(1002, 1002);
	uint64_t d, f, l, sticky;
	uint8_t *big = malloc(65537), *got = malloc(65537);
	char list[1024];
	struct ns_ctx c;
	ssize_t n;

	d = mkd(ROOT, "xa", 0777);
	T_OK(ns_create(ns, T_AS(1001, 1001), d, "f", 0644, NULL));
	f = stat_path("/xa/f", 0).ino;
	T_OK(ns_symlink(ns, NULL, d, "l", "f", NULL));
	l = stat_path("/xa/l", NS_WALK_NOFOLLOW).ino;
	T_OK(ns_setxattr(ns, NULL, f, "user.a", "one", 3, 0));
	T_OK(ns_setxattr(ns, NULL, f, "user.empty", "", 0, 0));
	T_OK(ns_setxattr(ns, NULL, f, "trusted.t", "tt", 2, 0));
	T_OK(ns_setxattr(ns, NULL, f, "security.s", "ss", 2, 0));
	/* Flags: CREATE on an existing one, REPLACE on a missing one, both. */
	T_ERR(ns_setxattr(ns, NULL, f, "user.a", "x", 1, NS_XATTR_CREATE), EEXIST);
	T_ERR(ns_setxattr(ns, NULL, f, "user.b", "x", 1, NS_XATTR_REPLACE), ENODATA);
	T_ERR(ns_setxattr(ns, NULL, f, "user.b", "x", 1, NS_XATTR_CREATE | NS_XATTR_REPLACE),
	      EINVAL);
	T_OK(ns_setxattr(ns, NULL, f, "user.a", "uno", 3, NS_XATTR_REPLACE));
	/* Names and sizes as Linux answers them. */
	T_ERR(ns_setxattr(ns, NULL, f, "other.x", "x", 1, 0), EOPNOTSUPP);
	T_ERR(ns_setxattr(ns, NULL, f, "user.", "x", 1, 0), EINVAL);
	T_ERR(ns_setxattr(ns, NULL, f, "", "x", 1, 0), ERANGE);
	memset(list, 'n', 300);
	memcpy(list, "user.", 5);
	list[256] = 0; /* 256 bytes */
	T_ERR(ns_setxattr(ns, NULL, f, list, "x", 1, 0), ERANGE);
	list[255] = 0; /* 255: the most */
	T_OK(ns_setxattr(ns, NULL, f, list, "long name", 9, 0));
	T_OK(ns_removexattr(ns, NULL, f, list));
	T_ERR(ns_setxattr(ns, NULL, f, "user.big", big, 65537, 0), E2BIG);
	for (size_t i = 0; i < 65536; i++)
		big[i] = (uint8_t)(i * 7 + i / 251);
	T_OK(ns_setxattr(ns, NULL, f, "user.big", big, 65536, 0)); /* 18 chunks */
	T_ERR(ns_getxattr(ns, NULL, f, "user.big", got, 100), ERANGE);
	/* Users: user.* by permission, trusted.* hidden, security.* read-only. */
	T_ERR(ns_setxattr(ns, as(&c, &u2), f, "user.a", "x", 1, 0), EACCES);
	T_OK(ns_setxattr(ns, as(&c, &u1), f, "user.mine", "m", 1, 0));
	T_ASSERT(ns_getxattr(ns, as(&c, &u2), f, "user.mine", got, 10) == 1);
	T_ERR(ns_getxattr(ns, as(&c, &u2), f, "trusted.t", got, 10), ENODATA);
	T_ERR(ns_setxattr(ns, as(&c, &u1), f, "trusted.u", "x", 1, 0), EPERM);
	T_ERR(ns_setxattr(ns, as(&c, &u1), f, "security.u", "x", 1, 0), EPERM);
	T_ASSERT(ns_getxattr(ns, as(&c, &u2), f, "security.s", got, 10) == 2);
	/* user.* only on files and directories. */
	T_ERR(ns_setxattr(ns, NULL, l, "user.x", "x", 1, 0), EPERM);
	T_ERR(ns_getxattr(ns, NULL, l, "user.x", got, 10), ENODATA);
	T_OK(ns_setxattr(ns, NULL, l, "trusted.onlink", "x", 1, 0));
	/* A sticky directory's user attributes are its owner's. */
	T_OK(ns_mkdir(ns, T_AS(1001, 1001), d, "sticky", 01777, NULL));
	sticky = stat_path("/xa/sticky", 0).ino;
	T_ERR(ns_setxattr(ns, as(&c, &u2), sticky, "user.x", "x", 1, 0), EPERM);
	T_OK(ns_setxattr(ns, as(&c, &u1), sticky, "user.x", "x", 1, 0));

	for (int round = 0; round < 3; round++) {
		size_t want;

		T_ASSERT(ns_getxattr(ns, NULL, f, "user.a", got, 10) == 3 &&
			 memcmp(got, "uno", 3) == 0);
		T_ASSERT(ns_getxattr(ns, NULL, f, "user.empty", got, 10) == 0);
		T_ASSERT(ns_getxattr(ns, NULL, f, "user.big", NULL, 0) == 65536);
		T_ASSERT(ns_getxattr(ns, NULL, f, "user.big", got, 65536) == 65536 &&
			 memcmp(got, big, 65536) == 0);
		T_ERR(ns_getxattr(ns, NULL, f, "user.none", got, 10), ENODATA);
		/* The list: sorted names with their NULs; trusted only for the super user. */
		want = sizeof("security.s") + sizeof("trusted.t") + sizeof("user.a") +
		       sizeof("user.big") + sizeof("user.empty") + sizeof("user.mine");
		n = ns_listxattr(ns, NULL, f, NULL, 0);
		T_ASSERT(n == (ssize_t)want);
		T_ASSERT(ns_listxattr(ns, NULL, f, list, sizeof(list)) == (ssize_t)want);
		T_ASSERT(memcmp(list, "security.s\0trusted.t\0user.a\0user.big\0", 37) == 0);
		T_ERR(ns_listxattr(ns, NULL, f, list, 5), ERANGE);
		T_ASSERT(ns_listxattr(ns, as(&c, &u2), f, list, sizeof(list)) ==
			 (ssize_t)(want - sizeof("trusted.t")));
		if (round == 0)
			remount();
		else if (round == 1)
			checkpoint_remount();
	}
	T_OK(ns_removexattr(ns, NULL, f, "user.big"));
	T_ERR(ns_removexattr(ns, NULL, f, "user.big"), ENODATA);
	/* An inode holds at most 256 KiB of attributes. */
	for (int i = 0;; i++) {
		char name[32];
		int rc;

		snprintf(name, sizeof(name), "user.fill%d", i);
		rc = ns_setxattr(ns, NULL, f, name, big, 65536, 0);
		if (rc == -ENOSPC) {
			T_ASSERT(i == 3);
			break;
		}
		T_OK(rc);
	}
	free(big);
	free(got);
	check_clean();
}

/* --- POSIX ACLs --- */

/* acl_xattr - a Linux ACL value from (tag, perm, id) triples. */
static size_t acl_xattr(uint8_t *buf, const uint32_t (*e)[3], size_t n)
{
	uint32_t v = 2;

	memcpy(buf, &v, 4);
	for (size_t i = 0; i < n; i++) {
		uint16_t tag = (uint16_t)e[i][0], perm = (uint16_t)e[i][1];
		uint32_t id = e[i][2];

		memcpy(buf + 4 + 8 * i, &tag, 2);
		memcpy(buf + 6 + 8 * i, &perm, 2);
		memcpy(buf + 8 + 8 * i, &id, 4);
	}
	return 4 + 8 * n;
}

#define U_OBJ 0x01
#define U_NAMED 0x02
#define G_OBJ 0x04
#define G_NAMED 0x08
#define MASK 0x10
#define OTHER 0x20
#define NOID 0xffffffffu

static void test_acls(void)
{
	struct ns_cred owner = user(1001, 1001), named = user(1002, 1002), grp = user(1003, 1005),
		       other = user(1004, 1004);
	uint8_t v[256];
	struct ns_ctx c;
	struct ns_attr a;
	uint64_t d, f, sub, nf;
	char buf[8];
	size_t len;

	d = mkd(ROOT, "acl", 0777);
	T_OK(ns_create(ns, T_AS(1001, 1001), d, "f", 0640, &a));
	f = a.ino;
	/* u::rw-, u:1002:r--, g::r--, g:1005:rw-, m::rw-, o::--- */
	{
		const uint32_t e[][3] = {{U_OBJ, 6, NOID},   {U_NAMED, 4, 1002}, {G_OBJ, 4, NOID},
					 {G_NAMED, 6, 1005}, {MASK, 6, NOID},	 {OTHER, 0, NOID}};

		len = acl_xattr(v, e, 6);
	}
	T_ERR(ns_setxattr(ns, as(&c, &named), f, "system.posix_acl_access", v, len, 0), EPERM);
	T_OK(ns_setxattr(ns, as(&c, &owner), f, "system.posix_acl_access", v, len, 0));
	T_OK(ns_getattr(ns, f, &a));
	T_ASSERT((a.mode & 0777) == 0660); /* the group bits are the mask */
	for (int round = 0; round < 2; round++) {
		/* The named user reads, the named group writes, others nothing. */
		T_OK(ns_read(ns, as(&c, &named), f, buf, 1, 0));
		T_ERR(ns_write(ns, as(&c, &named), f, "x", 1, 0), EACCES);
		T_OK(ns_write(ns, as(&c, &grp), f, "x", 1, 0));
		T_ERR(ns_read(ns, as(&c, &other), f, buf, 1, 0), EACCES);
		T_OK(ns_access(ns, as(&c, &named), f, NS_MAY_READ));
		T_ERR(ns_access(ns, as(&c, &named), f, NS_MAY_WRITE), EACCES);
		checkpoint_remount();
	}
	/* chmod g-w rewrites the mask: the named group loses write. */
	T_OK(ns_setattr(ns, as(&c, &owner), f,
			&(struct ns_setattr){.valid = NS_SET_MODE, .mode = 0640}, NULL));
	T_ERR(ns_write(ns, as(&c, &grp), f, "x", 1, 0), EACCES);
	T_OK(ns_read(ns, as(&c, &grp), f, buf, 1, 0));
	T_ASSERT(ns_getxattr(ns, NULL, f, "system.posix_acl_access", v, sizeof(v)) == (ssize_t)len);
	/* An ACL the mode says all of is not kept: the mode is set instead. */
	{
		const uint32_t e[][3] = {{U_OBJ, 7, NOID}, {G_OBJ, 5, NOID}, {OTHER, 1, NOID}};

		len = acl_xattr(v, e, 3);
	}
	T_OK(ns_setxattr(ns, NULL, f, "system.posix_acl_access", v, len, 0));
	T_ERR(ns_getxattr(ns, NULL, f, "system.posix_acl_access", v, sizeof(v)), ENODATA);
	T_OK(ns_getattr(ns, f, &a));
	T_ASSERT((a.mode & 0777) == 0751);
	/* A malformed ACL: an unknown version (as Linux: EOPNOTSUPP), a named user but no mask. */
	v[0] = 3;
	T_ERR(ns_setxattr(ns, NULL, f, "system.posix_acl_access", v, len, 0), EOPNOTSUPP);
	{
		const uint32_t e[][3] = {
			{U_OBJ, 7, NOID}, {U_NAMED, 7, 1002}, {G_OBJ, 5, NOID}, {OTHER, 1, NOID}};

		len = acl_xattr(v, e, 4);
	}
	T_ERR(ns_setxattr(ns, NULL, f, "system.posix_acl_access", v, len, 0), EINVAL);
	/* Default ACL: only on directories; inherited, limited by the create mode. */
	{
		const uint32_t e[][3] = {{U_OBJ, 7, NOID},
					 {U_NAMED, 7, 1002},
					 {G_OBJ, 5, NOID},
					 {MASK, 7, NOID},
					 {OTHER, 5, NOID}};

		len = acl_xattr(v, e, 5);
	}
	T_ERR(ns_setxattr(ns, NULL, f, "system.posix_acl_default", v, len, 0), EACCES);
	T_OK(ns_setxattr(ns, NULL, d, "system.posix_acl_default", v, len, 0));
	T_OK(ns_create(ns, as(&c, &owner), d, "inherits", 0640, &a));
	nf = a.ino;
	T_ASSERT((a.mode & 0777) == 0640); /* umask not applied; group bits: mask r-- */
	T_ASSERT(ns_getxattr(ns, NULL, nf, "system.posix_acl_access", NULL, 0) > 0);
	T_ERR(ns_getxattr(ns, NULL, nf, "system.posix_acl_default", NULL, 0), ENODATA);
	T_OK(ns_read(ns, as(&c, &named), nf, buf, 1, 0));	    /* u:1002 through the mask */
	T_ERR(ns_write(ns, as(&c, &named), nf, "x", 1, 0), EACCES); /* mask r-- */
	T_OK(ns_mkdir(ns, as(&c, &owner), d, "subdir", 0750, &a));
	sub = a.ino;
	T_ASSERT(ns_getxattr(ns, NULL, sub, "system.posix_acl_default", NULL, 0) == (ssize_t)len);
	T_ASSERT(ns_getxattr(ns, NULL, sub, "system.posix_acl_access", NULL, 0) > 0);
	/* Without a default ACL the umask applies. */
	c.umask = 022;
	T_OK(ns_create(ns, as(&c, &owner), sub, "x", 0666, &a)); /* sub has a default ACL */
	ns_ctx_init(&c, &owner);
	c.umask = 027;
	T_OK(ns_create(ns, &c, mkd(ROOT, "aclplain", 0777), "umasked", 0666, &a));
	T_ASSERT((a.mode & 0777) == 0640);
	/* ACLs are not for symbolic links. */
	T_OK(ns_symlink(ns, NULL, d, "sl", "f", &a));
	T_ERR(ns_setxattr(ns, NULL, a.ino, "system.posix_acl_access", v, len, 0), EOPNOTSUPP);
	check_clean();
	T_OK(ns_read(ns, as(&c, &named), nf, buf, 1, 0));
}

/* --- O_APPEND, times, ftruncate --- */

struct appender {
	uint64_t ino;
	char c;
};

#define RECORD 100
#define RECORDS 300

static void *append_thread(void *arg)
{
	struct appender *ap = arg;
	char rec[RECORD];

	rcu_thread_online();
	memset(rec, ap->c, sizeof(rec));
	for (int i = 0; i < RECORDS; i++)
		T_ASSERT(ns_write_at(ns, NULL, ap->ino, rec, sizeof(rec), NS_WRITE_APPEND, NULL) ==
			 RECORD);
	rcu_thread_offline();
	return NULL;
}

static void test_writes(void)
{
	struct ns_cred owner = user(1001, 1001), w = user(1002, 1002);
	struct appender ap[2];
	pthread_t t[2];
	struct ns_ctx c;
	struct ns_attr a, b;
	uint64_t f, at;
	char *buf;

	f = mk(ROOT, "append", 0644);
	put(f, "head");
	T_ASSERT(ns_write_at(ns, NULL, f, "tail", 4, NS_WRITE_APPEND, &at) == 4 && at == 4);
	T_OK(ns_setattr(ns, NULL, f, &(struct ns_setattr){.valid = NS_SET_SIZE, .size = 0}, NULL));
	for (int i = 0; i < 2; i++) {
		ap[i] = (struct appender){f, (char)('A' + i)};
		T_ASSERT(pthread_create(&t[i], NULL, append_thread, &ap[i]) == 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	T_OK(ns_getattr(ns, f, &a));
	T_ASSERT(a.size == 2 * RECORDS * RECORD);
	buf = malloc(a.size);
	T_ASSERT(ns_read(ns, NULL, f, buf, a.size, 0) == (ssize_t)a.size);
	/* Every record whole: no two writers ever wrote at the same offset. */
	for (size_t r = 0; r < 2 * RECORDS; r++)
		for (size_t i = 1; i < RECORD; i++)
			T_ASSERT(buf[r * RECORD + i] == buf[r * RECORD]);
	free(buf);

	/* utimensat: "now" by anyone who may write; explicit times by the owner only. */
	T_OK(ns_create(ns, T_AS(1001, 1001), ROOT, "times", 0666, &a));
	T_OK(ns_setattr(ns, NULL, a.ino,
			&(struct ns_setattr){.valid = NS_SET_ATIME | NS_SET_MTIME,
					     .atime = 1000000000,
					     .mtime = 2000000000},
			NULL));
	T_OK(ns_setattr(ns, as(&c, &w), a.ino,
			&(struct ns_setattr){.valid = NS_SET_ATIME_NOW | NS_SET_MTIME_NOW}, &b));
	T_ASSERT(b.mtime > 2000000000 && b.atime > 1000000000);
	T_ERR(ns_setattr(ns, as(&c, &w), a.ino,
			 &(struct ns_setattr){.valid = NS_SET_MTIME, .mtime = 5}, NULL),
	      EPERM);
	T_OK(ns_setattr(ns, as(&c, &owner), a.ino,
			&(struct ns_setattr){.valid = NS_SET_MTIME, .mtime = 5}, &b));
	T_ASSERT(b.mtime == 5 && b.atime > 1000000000); /* atime left alone (UTIME_OMIT) */
	T_OK(ns_setattr(ns, NULL, a.ino, &(struct ns_setattr){.valid = NS_SET_MODE, .mode = 0644},
			NULL));
	T_ERR(ns_setattr(ns, as(&c, &w), a.ino, &(struct ns_setattr){.valid = NS_SET_MTIME_NOW},
			 NULL),
	      EACCES);
	T_ERR(ns_setattr(ns, NULL, a.ino,
			 &(struct ns_setattr){.valid = NS_SET_MTIME | NS_SET_MTIME_NOW}, NULL),
	      EINVAL);

	/* A write or truncate by anyone but root drops set-user-id (and exec set-group-id). */
	T_OK(ns_create(ns, T_AS(1001, 1001), ROOT, "suid", 06777, &a));
	T_OK(ns_write(ns, NULL, a.ino, "root", 4, 0)); /* root's write keeps them */
	T_OK(ns_getattr(ns, a.ino, &b));
	T_ASSERT((b.mode & 07777) == 06777);
	T_OK(ns_write(ns, as(&c, &w), a.ino, "user", 4, 0));
	T_OK(ns_getattr(ns, a.ino, &b));
	T_ASSERT((b.mode & 07777) == 00777);
	T_OK(ns_setattr(ns, NULL, a.ino, &(struct ns_setattr){.valid = NS_SET_MODE, .mode = 02777},
			NULL));
	T_OK(ns_setattr(ns, as(&c, &w), a.ino,
			&(struct ns_setattr){.valid = NS_SET_SIZE, .size = 1}, &b));
	T_ASSERT((b.mode & 07777) == 00777);

	/* ftruncate of a file created with mode 0 through the descriptor that created it. */
	T_OK(ns_create(ns, T_AS(1001, 1001), ROOT, "mode0", 0, &a));
	T_ERR(ns_setattr(ns, as(&c, &owner), a.ino,
			 &(struct ns_setattr){.valid = NS_SET_SIZE, .size = 100}, NULL),
	      EACCES);
	{
		struct ns_cred handle = owner;

		handle.flags |=
			NS_CRED_OPEN; /* what the descriptor of open(O_CREAT|O_RDWR) allows */
		T_OK(ns_setattr(ns, as(&c, &handle), a.ino,
				&(struct ns_setattr){.valid = NS_SET_SIZE, .size = 100}, &b));
	}
	T_ASSERT(b.size == 100);
	check_clean();
}

/*
 * test_unknown_feature - a region with an incompat feature this code does not know is
 * refused, naming it: how code that knows only version 1 refuses a version 2 region.
 */
static void test_unknown_feature(void)
{
	const char *path = t_path("future.img");
	struct fmt_super sb;
	struct ns *n2;
	int fd;

	T_OK(ns_mkfs(path, 32 * MiB, NULL));
	fd = open(path, O_RDWR);
	T_ASSERT(fd >= 0);
	T_ASSERT(pread(fd, &sb, sizeof(sb), 0) == sizeof(sb));
	T_ASSERT(sb.incompat == FMT_INCOMPAT_POSIX);
	sb.incompat |= UINT64_C(1) << 40;
	sb.csum = fmt_super_csum(&sb);
	T_ASSERT(pwrite(fd, &sb, sizeof(sb), 0) == sizeof(sb));
	T_ASSERT(pwrite(fd, &sb, sizeof(sb), (off_t)fmt_backup_off(32 * MiB)) == sizeof(sb));
	close(fd);
	T_ERR(ns_mount(&n2, path, NULL), EOPNOTSUPP);
}

int main(void)
{
	t_watchdog(300, "test-posix");
	rcu_thread_online();
	img = t_path("posix.img");
	T_OK(ns_mkfs(img, 128 * MiB, NULL));
	T_OK(ns_mount(&ns, img, NULL));
	test_symlinks();
	printf("symbolic links: ok\n");
	test_hardlinks();
	printf("hard links: ok\n");
	test_orphans();
	printf("open unlinked files: ok\n");
	test_specials();
	printf("special files: ok\n");
	test_xattrs();
	printf("extended attributes: ok\n");
	test_acls();
	printf("ACLs: ok\n");
	test_writes();
	printf("append, times, ftruncate: ok\n");
	test_unknown_feature();
	printf("an unknown feature refused: ok\n");
	ns_unmount(&ns);
	rcu_thread_offline();
	return 0;
}
