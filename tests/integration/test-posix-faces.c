// SPDX-License-Identifier: MIT
/*
 * test-posix-faces - what format version 2 adds, through libdaxfs and the daxfs CLI against
 * a real daxfsd (the engine's own rules are test-posix's):
 *
 *  - every new type made, listed, stat'd, renamed, linked where that applies, and removed:
 *    symbolic links (statx with and without NOFOLLOW, readlink, paths through them, ELOOP,
 *    ENAMETOOLONG), hard links (nlink, one name removed, the data kept), fifos, sockets and
 *    devices (rdev, EPERM for a device made by someone else), and EXDEV never (a rename
 *    across directories just works);
 *  - extended attributes: set / get / list / remove, the flags, ENODATA, ERANGE, E2BIG,
 *    EOPNOTSUPP, and a 64 KiB value (through the shared buffer) read back byte for byte;
 *  - O_APPEND: two sessions appending at once lose nothing and never overlap;
 *  - times: "now" by a user who may write, explicit ones refused to him (EPERM);
 *  - the CLI: ln [-s], readlink, ls -l (types, "->" targets, device numbers), stat, mknod,
 *    mkfifo, chmod, chown, touch, xattr get|set|list|rm, each with the error a user
 *    causes said clearly and nothing changed;
 *  - all of it again after a restart of the daemon;
 *  - daxfs badblocks names every path of a poisoned file with two names, from the root.
 *
 * Usage: test-posix-faces --daxfsd=PATH --cli=PATH [seed]
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "testutil.h"

#define NOBODY 65534

static struct t_daemon d;

/* cli_ok - the CLI with these arguments succeeds; its stdout (malloc'd, or NULL). */
#define CLI_OK(out, ...)                                                                  \
	do {                                                                              \
		char *_e = NULL;                                                          \
		int _st = t_cli(&d, out, &_e, __VA_ARGS__, NULL);                         \
		if (_st != 0)                                                             \
			T_FAIL("daxfs %s: exit %d: %s", #__VA_ARGS__, _st, _e ? _e : ""); \
		free(_e);                                                                 \
	} while (0)

/* CLI_FAILS - the CLI fails and says @needle on stderr. */
#define CLI_FAILS(needle, ...)                                                                   \
	do {                                                                                     \
		char *_o = NULL, *_e = NULL;                                                     \
		int _st = t_cli(&d, &_o, &_e, __VA_ARGS__, NULL);                                \
		if (_st == 0 || !_e || !strstr(_e, needle))                                      \
			T_FAIL("daxfs %s: exit %d, stderr \"%s\" (wanted \"%s\")", #__VA_ARGS__, \
			       _st, _e ? _e : "", needle);                                       \
		free(_o);                                                                        \
		free(_e);                                                                        \
	} while (0)

static void check_types(struct daxfs *fs)
{
	struct daxfs_statx x;
	struct daxfs_stat st;
	char buf[4096];

	T_OK(daxfs_statx(fs, "/t/link", DAXFS_STAT_NOFOLLOW, &x));
	T_ASSERT(S_ISLNK(x.st.mode) && x.st.size == strlen("file"));
	T_OK(daxfs_statx(fs, "/t/link", 0, &x));
	T_ASSERT(S_ISREG(x.st.mode) && x.st.nlink == 2);
	T_ASSERT(daxfs_readlink(fs, "/t/link", buf, sizeof(buf)) == 4 &&
		 memcmp(buf, "file", 4) == 0);
	T_ERR(daxfs_readlink(fs, "/t/file", buf, sizeof(buf)), EINVAL);
	/* Through a link to a directory, and a loop. */
	T_OK(daxfs_stat(fs, "/dirlink/file", &st));
	T_ASSERT(st.ino == x.st.ino);
	T_ERR(daxfs_stat(fs, "/t/loop", &st), ELOOP);
	/* Hard links: one inode, two names. */
	T_OK(daxfs_stat(fs, "/t/hard", &st));
	T_ASSERT(st.ino == x.st.ino && st.nlink == 2);
	T_ASSERT(daxfs_pread(fs, st.ino, buf, 5, 0) == 5 && memcmp(buf, "hello", 5) == 0);
	/* Special files. */
	T_OK(daxfs_statx(fs, "/t/fifo", 0, &x));
	T_ASSERT(S_ISFIFO(x.st.mode) && (x.st.mode & 0777) == 0640);
	T_OK(daxfs_statx(fs, "/t/sock", 0, &x));
	T_ASSERT(S_ISSOCK(x.st.mode));
	T_OK(daxfs_statx(fs, "/t/tty", 0, &x));
	T_ASSERT(S_ISCHR(x.st.mode) && major(x.rdev) == 4 && minor(x.rdev) == 64);
	T_OK(daxfs_statx(fs, "/t/disk", 0, &x));
	T_ASSERT(S_ISBLK(x.st.mode) && major(x.rdev) == 8 && minor(x.rdev) == 1);
	T_ERR(daxfs_pread(fs, x.st.ino, buf, 1, 0), EINVAL);
}

static void check_xattrs(struct daxfs *fs, const uint8_t *big)
{
	uint8_t *got = malloc(65536);
	struct daxfs_stat st;
	char list[256];
	ssize_t n;

	T_OK(daxfs_stat(fs, "/t/file", &st));
	T_ASSERT(daxfs_getxattr(fs, st.ino, "user.color", got, 100) == 4 &&
		 memcmp(got, "blue", 4) == 0);
	T_ASSERT(daxfs_getxattr(fs, st.ino, "user.big", NULL, 0) == 65536);
	T_ASSERT(daxfs_getxattr(fs, st.ino, "user.big", got, 65536) == 65536);
	T_ASSERT(memcmp(got, big, 65536) == 0);
	T_ERR(daxfs_getxattr(fs, st.ino, "user.big", got, 1000), ERANGE);
	n = daxfs_listxattr(fs, st.ino, list, sizeof(list));
	T_ASSERT(n == (ssize_t)(sizeof("user.big") + sizeof("user.color")));
	T_ASSERT(memcmp(list, "user.big\0user.color\0", (size_t)n) == 0);
	T_ASSERT(daxfs_listxattr(fs, st.ino, NULL, 0) == n);
	free(got);
}

struct appender {
	char c;
};

#define RECORD 512
#define RECORDS 200

static void *append_thread(void *arg)
{
	struct appender *a = arg;
	struct daxfs_stat st;
	char rec[RECORD];
	struct daxfs *fs;

	memset(rec, a->c, sizeof(rec));
	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_stat(fs, "/t/log", &st));
	for (int i = 0; i < RECORDS; i++)
		T_ASSERT(daxfs_append(fs, st.ino, rec, sizeof(rec)) == RECORD);
	daxfs_close(fs);
	return NULL;
}

/* As nobody: devices are root's; times by permission. */
static int nobody(void *arg)
{
	struct daxfs_stat st, to = {0};
	struct daxfs *fs;

	(void)arg;
	T_OK(daxfs_open(&fs, d.sock));
	T_ERR(daxfs_mknod(fs, "/pub/mydev", S_IFCHR | 0666, makedev(1, 3), NULL), EPERM);
	T_OK(daxfs_mknod(fs, "/pub/myfifo", S_IFIFO | 0600, 0, NULL));
	T_OK(daxfs_stat(fs, "/pub/shared", &st));
	T_OK(daxfs_setattr(fs, st.ino, DAXFS_SET_ATIME_NOW | DAXFS_SET_MTIME_NOW, NULL, NULL));
	to.mtime_ns = 1;
	T_ERR(daxfs_setattr(fs, st.ino, DAXFS_SET_MTIME, &to, NULL), EPERM);
	/* Someone else's file, not readable and writable for nobody: no hard link to it. */
	T_ERR(daxfs_link(fs, "/t/file", "/pub/stolen", NULL), EPERM);
	T_ERR(daxfs_setxattr(fs, st.ino, "trusted.x", "x", 1, 0), EPERM);
	daxfs_close(fs);
	return 0;
}

static void test_cli(void)
{
	char *out = NULL;

	CLI_OK(NULL, "mkdir", "/c");
	CLI_OK(NULL, "touch", "/c/f");
	CLI_OK(NULL, "ln", "/c/f", "/c/g");
	CLI_OK(NULL, "ln", "-s", "f", "/c/l");
	CLI_OK(NULL, "mkfifo", "-m", "600", "/c/p");
	CLI_OK(NULL, "mknod", "/c/null", "c", "1", "3");
	CLI_OK(NULL, "chmod", "640", "/c/f");
	CLI_OK(NULL, "chown", "1234:5678", "/c/f");
	CLI_OK(NULL, "touch", "-d", "1000000000", "/c/g");
	CLI_OK(&out, "ls", "-l", "-n", "/c");
	if (!strstr(out, "-rw-r----- 2 1234 5678") || !strstr(out, "l -> f") ||
	    !strstr(out, "prw------- 1") || !strstr(out, "crw") || !strstr(out, "1, 3 "))
		T_FAIL("ls -l:\n%s", out);
	free(out);
	CLI_OK(&out, "readlink", "/c/l");
	T_ASSERT(strcmp(out, "f\n") == 0);
	free(out);
	CLI_OK(&out, "stat", "/c/l");
	T_ASSERT(strstr(out, "type: symlink") && strstr(out, "target: f"));
	free(out);
	CLI_OK(&out, "stat", "/c/g");
	T_ASSERT(strstr(out, "links: 2") && strstr(out, "2001-09-09"));
	free(out);
	CLI_OK(NULL, "xattr", "set", "/c/f", "user.k", "value");
	CLI_OK(&out, "xattr", "get", "/c/f", "user.k");
	T_ASSERT(strcmp(out, "value") == 0);
	free(out);
	CLI_OK(&out, "xattr", "list", "/c/f");
	T_ASSERT(strcmp(out, "user.k\n") == 0);
	free(out);
	/* What a user gets wrong, said clearly, nothing changed. */
	CLI_FAILS("exists", "xattr", "set", "--create", "/c/f", "user.k", "other");
	CLI_FAILS("no such attribute", "xattr", "get", "/c/f", "user.none");
	CLI_FAILS("not a namespace", "xattr", "set", "/c/f", "other.k", "v");
	CLI_FAILS("exists", "ln", "-s", "x", "/c/l");
	CLI_FAILS("not a symbolic link", "readlink", "/c/f");
	CLI_FAILS("bad mode", "chmod", "99x", "/c/f");
	CLI_FAILS("no user", "chown", "no-such-user-here", "/c/f");
	CLI_FAILS("unknown type", "mknod", "/c/x", "q");
	CLI_OK(&out, "xattr", "get", "/c/f", "user.k");
	T_ASSERT(strcmp(out, "value") == 0);
	free(out);
	CLI_OK(NULL, "xattr", "rm", "/c/f", "user.k");
	CLI_FAILS("no such attribute", "xattr", "rm", "/c/f", "user.k");
	CLI_OK(NULL, "rm", "/c/f");
	CLI_OK(&out, "stat", "/c/g");
	T_ASSERT(strstr(out, "links: 1"));
	free(out);
	/* Each type moved to another directory (one file system: never EXDEV), then removed. */
	CLI_OK(NULL, "mkdir", "/c2");
	CLI_OK(NULL, "mv", "/c/l", "/c2/l");
	CLI_OK(NULL, "mv", "/c/p", "/c2/p");
	CLI_OK(NULL, "mv", "/c/null", "/c2/null");
	CLI_OK(&out, "ls", "-l", "-n", "/c2");
	if (!strstr(out, "l -> f") || !strstr(out, "prw------- 1") || !strstr(out, "crw") ||
	    !strstr(out, "1, 3 "))
		T_FAIL("ls -l after mv:\n%s", out);
	free(out);
	CLI_OK(&out, "ls", "/c");
	T_ASSERT(strcmp(out, "g\n") == 0);
	free(out);
	CLI_OK(&out, "readlink", "/c2/l");
	T_ASSERT(strcmp(out, "f\n") == 0);
	free(out);
	/* The moved link's relative target now names nothing; a loop is ELOOP. */
	CLI_FAILS("No such file", "cat", "/c2/l");
	CLI_OK(NULL, "ln", "-s", "loop", "/c2/loop");
	CLI_FAILS("Too many levels of symbolic links", "cat", "/c2/loop");
	CLI_OK(&out, "ls", "-l", "/c2/loop");
	T_ASSERT(out[0] == 'l' && strstr(out, "loop -> loop"));
	free(out);
	/* rm, even -r, of a link to a directory removes the link and nothing it names. */
	CLI_OK(NULL, "mkdir", "/c2/dir");
	CLI_OK(NULL, "touch", "/c2/dir/kept");
	CLI_OK(NULL, "ln", "-s", "dir", "/c2/dl");
	CLI_OK(&out, "ls", "/c2/dl");
	T_ASSERT(strcmp(out, "kept\n") == 0);
	free(out);
	CLI_OK(NULL, "rm", "-r", "/c2/dl");
	CLI_OK(&out, "ls", "/c2/dir");
	T_ASSERT(strcmp(out, "kept\n") == 0);
	free(out);
	CLI_OK(NULL, "rm", "-r", "/c2/dir");
	CLI_OK(NULL, "rm", "/c2/l", "/c2/p", "/c2/null", "/c2/loop");
	CLI_OK(&out, "ls", "/c2");
	T_ASSERT(out[0] == '\0');
	free(out);
}

int main(int argc, char **argv)
{
	uint8_t *big = malloc(65536);
	struct appender ap[2] = {{'a'}, {'b'}};
	struct daxfs_stat st;
	pthread_t t[2];
	struct daxfs *fs;
	char *name, buf[8];
	uint64_t rng;
	int status;
	pid_t pid;

	t_tools_init(&argc, argv);
	t_require_root("it makes devices and becomes uid 65534");
	rng = t_seed(argc, argv, 7);
	t_watchdog(240, "test-posix-faces");
	t_open_scratch_to_all();
	t_region_new(t_path("region"), "128M");
	t_daemon_start(&d, t_path("region"), "daxfsd", NULL);
	T_OK(daxfs_open(&fs, d.sock));

	/* Every type, made through the library. */
	T_OK(daxfs_mkdir(fs, "/t", 0755, NULL));
	T_OK(daxfs_create(fs, "/t/file", 0644, DAXFS_CREATE_EXCL, &st));
	T_ASSERT(daxfs_pwrite(fs, st.ino, "hello", 5, 0) == 5);
	T_OK(daxfs_symlink(fs, "file", "/t/link", &st));
	T_ASSERT(S_ISLNK(st.mode));
	T_OK(daxfs_symlink(fs, "/t", "/dirlink", NULL));
	T_OK(daxfs_symlink(fs, "loop", "/t/loop", NULL));
	T_ERR(daxfs_symlink(fs, "", "/t/empty", NULL), ENOENT);
	name = malloc(5000);
	memset(name, 'n', 4999);
	name[4999] = 0;
	T_ERR(daxfs_symlink(fs, name, "/t/long", NULL), ENAMETOOLONG);
	free(name);
	T_OK(daxfs_link(fs, "/t/file", "/t/hard", &st));
	T_ASSERT(st.nlink == 2);
	T_ERR(daxfs_link(fs, "/t", "/t/dirhard", NULL), EPERM);
	T_ERR(daxfs_link(fs, "/t/file", "/t/hard", NULL), EEXIST);
	T_OK(daxfs_mknod(fs, "/t/fifo", S_IFIFO | 0640, 0, NULL));
	T_OK(daxfs_mknod(fs, "/t/sock", S_IFSOCK | 0600, 0, NULL));
	T_OK(daxfs_mknod(fs, "/t/tty", S_IFCHR | 0620, makedev(4, 64), NULL));
	T_OK(daxfs_mknod(fs, "/t/disk", S_IFBLK | 0660, makedev(8, 1), NULL));
	/* Renames of each across directories: one file system, never EXDEV. */
	T_OK(daxfs_mkdir(fs, "/t2", 0755, NULL));
	T_OK(daxfs_rename(fs, "/t/fifo", "/t2/fifo", 0));
	T_OK(daxfs_rename(fs, "/t2/fifo", "/t/fifo", 0));
	T_OK(daxfs_rename(fs, "/t/link", "/t2/link", 0));
	T_OK(daxfs_rename(fs, "/t2/link", "/t/link", 0));
	check_types(fs);

	/* Extended attributes. */
	for (size_t i = 0; i < 65536; i++)
		big[i] = (uint8_t)t_rand(&rng);
	T_OK(daxfs_stat(fs, "/t/file", &st));
	T_OK(daxfs_setxattr(fs, st.ino, "user.color", "blue", 4, DAXFS_XATTR_CREATE));
	T_ERR(daxfs_setxattr(fs, st.ino, "user.color", "red", 3, DAXFS_XATTR_CREATE), EEXIST);
	T_ERR(daxfs_setxattr(fs, st.ino, "user.none", "red", 3, DAXFS_XATTR_REPLACE), ENODATA);
	T_ERR(daxfs_setxattr(fs, st.ino, "os2.x", "x", 1, 0), EOPNOTSUPP);
	T_ERR(daxfs_setxattr(fs, st.ino, "user.big", big, 65537, 0), E2BIG);
	T_OK(daxfs_setxattr(fs, st.ino, "user.big", big, 65536, 0));
	T_OK(daxfs_setxattr(fs, st.ino, "user.gone", "x", 1, 0));
	T_OK(daxfs_removexattr(fs, st.ino, "user.gone"));
	T_ERR(daxfs_removexattr(fs, st.ino, "user.gone"), ENODATA);
	T_ERR(daxfs_getxattr(fs, st.ino, "user.gone", buf, sizeof(buf)), ENODATA);
	check_xattrs(fs, big);

	/* O_APPEND from two sessions at once. */
	T_OK(daxfs_create(fs, "/t/log", 0644, DAXFS_CREATE_EXCL, &st));
	for (int i = 0; i < 2; i++)
		T_ASSERT(pthread_create(&t[i], NULL, append_thread, &ap[i]) == 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	{
		char *all = malloc(2 * RECORDS * RECORD);

		T_OK(daxfs_stat(fs, "/t/log", &st));
		T_ASSERT(st.size == 2 * RECORDS * RECORD);
		T_ASSERT(daxfs_pread(fs, st.ino, all, st.size, 0) == (ssize_t)st.size);
		for (size_t r = 0; r < 2 * RECORDS; r++)
			for (size_t i = 1; i < RECORD; i++)
				T_ASSERT(all[r * RECORD + i] == all[r * RECORD]);
		free(all);
	}

	/* Someone else. */
	T_OK(daxfs_mkdir(fs, "/pub", 01777, NULL));
	T_OK(daxfs_create(fs, "/pub/shared", 0666, DAXFS_CREATE_EXCL, NULL));
	pid = t_fork_as(NOBODY, nobody, NULL);
	T_ASSERT(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);

	test_cli();
	daxfs_close(fs);

	/* All of it after a restart. */
	t_daemon_restart(&d, NULL);
	T_OK(daxfs_open(&fs, d.sock));
	check_types(fs);
	check_xattrs(fs, big);
	T_OK(daxfs_unlink(fs, "/t/hard"));
	T_OK(daxfs_stat(fs, "/t/file", &st));
	T_ASSERT(st.nlink == 1);
	for (const char *const *p = (const char *const[]){"/t/link", "/t/fifo", "/t/sock", "/t/tty",
							  "/t/disk", NULL};
	     *p; p++)
		T_OK(daxfs_unlink(fs, *p));
	daxfs_close(fs);

	/* A poisoned page of a file with two names: badblocks lists both, from the root. */
	{
		const char *fi[] = {"--fault-injection", NULL};
		struct daxfs_extent *ext;
		size_t count;
		char *out = NULL, page[4096];

		t_daemon_restart(&d, fi);
		T_OK(daxfs_open(&fs, d.sock));
		T_OK(daxfs_mkdir(fs, "/bb", 0755, NULL));
		T_OK(daxfs_mkdir(fs, "/bb/sub", 0755, NULL));
		T_OK(daxfs_create(fs, "/bb/sub/f", 0644, DAXFS_CREATE_EXCL, &st));
		memset(page, 'p', sizeof(page));
		T_ASSERT(daxfs_pwrite(fs, st.ino, page, sizeof(page), 0) == sizeof(page));
		T_OK(daxfs_link(fs, "/bb/sub/f", "/bb/g", NULL));
		T_OK(daxfs_extents(fs, st.ino, &ext, &count));
		T_ASSERT(count == 1);
		T_OK(daxfs_inject(fs, DAXFS_INJECT_POISON, NULL, ext[0].region_off, 4096, NULL));
		free(ext);
		CLI_OK(&out, "badblocks");
		if (!strstr(out, "/bb/sub/f at file offset 0") ||
		    !strstr(out, "/bb/g at file offset 0"))
			T_FAIL("badblocks does not name both paths:\n%s", out);
		free(out);
		daxfs_close(fs);
	}
	t_daemon_stop(&d);
	{
		const char *argv2[] = {t_cli_path(), "check", d.region, NULL};
		char *out = NULL;

		T_ASSERT(t_run(argv2, &out, NULL) == 0);
		free(out);
	}
	free(big);
	printf("ok\n");
	return 0;
}
