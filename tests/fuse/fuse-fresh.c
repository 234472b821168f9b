// SPDX-License-Identifier: MIT
/*
 * fuse-fresh - changes another client makes are seen through the mount, in the mount's
 * cache mode (tests/fuse/test-fresh.sh runs it once per mode).
 *
 * Each case first makes the mount cache what it will change: a file read through an open
 * descriptor (its pages), a name looked up (its dentry and attributes), a directory listed.
 * Then a libdaxfs client changes it: writes in place, truncates, renames, unlinks, creates.
 * What "seen" means depends on the mode:
 *   none    at once: the next read, stat or listing shows the change (no retry);
 *   auto    at the next open at once, and through a descriptor kept open within the
 *           attribute timeout (the test mounts with 1 s and waits at most 3 s);
 *   always  through the invalidation the change causes (the attribute timeout is a day:
 *           nothing else would drop the cache): within 5 s, from daxfsd's invalidation
 *           thread.
 *
 * Usage: fuse-fresh MOUNTPOINT SOCKET none|auto|always
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include <daxfs/daxfs.h>

#include "testutil.h"

#define KiB 1024

static const char *mnt, *mode;
static struct daxfs *fs;
static unsigned wait_ms; /* how long a change may take to show on an open descriptor */

static const char *P(const char *name)
{
	static char bufs[4][4096];
	static unsigned at;
	char *b = bufs[at++ % 4];

	snprintf(b, 4096, "%s/%s", mnt, name);
	return b;
}

#define SYS(expr)                                                 \
	({                                                        \
		long _r = (long)(expr);                           \
		if (_r < 0)                                       \
			T_FAIL("%s: %s", #expr, strerror(errno)); \
		_r;                                               \
	})

/* until - poll @cond (a statement expression) every 10 ms for wait_ms; Return: it held. */
#define until(cond)                                \
	({                                         \
		bool _ok = false;                  \
		for (unsigned _t = 0;; _t += 10) { \
			if ((cond)) {              \
				_ok = true;        \
				break;             \
			}                          \
			if (_t >= wait_ms)         \
				break;             \
			usleep(10000);             \
		}                                  \
		_ok;                               \
	})

static void make_file(const char *name, char c, size_t len)
{
	char buf[64 * KiB];
	int fd = (int)SYS(open(P(name), O_WRONLY | O_CREAT | O_TRUNC, 0644));

	memset(buf, c, len);
	T_ASSERT(SYS(write(fd, buf, len)) == (long)len);
	SYS(close(fd));
}

static uint64_t ino_of(const char *name)
{
	struct stat st;

	SYS(stat(P(name), &st));
	return st.st_ino;
}

/* page_is - the 4 KiB at @off read through @fd are all @c. */
static bool page_is(int fd, off_t off, char c)
{
	char buf[4 * KiB];

	if (pread(fd, buf, sizeof(buf), off) != (ssize_t)sizeof(buf))
		return false;
	for (size_t i = 0; i < sizeof(buf); i++)
		if (buf[i] != c)
			return false;
	return true;
}

static off_t size_of_fd(int fd)
{
	struct stat st;

	SYS(fstat(fd, &st));
	return st.st_size;
}

static bool exists(const char *name)
{
	struct stat st;

	return stat(P(name), &st) == 0;
}

static bool listed(const char *dir, const char *name)
{
	DIR *d = opendir(P(dir));
	struct dirent *e;
	bool found = false;

	T_ASSERT(d);
	while ((e = readdir(d)))
		found |= strcmp(e->d_name, name) == 0;
	closedir(d);
	return found;
}

/* A write in place (no size change: no transaction, only the data). */
static void case_write(void)
{
	char buf[4 * KiB];
	int fd, fd2;

	make_file("w", 'a', 16 * KiB);
	fd = (int)SYS(open(P("w"), O_RDONLY));
	T_ASSERT(page_is(fd, 4 * KiB, 'a')); /* cached */
	memset(buf, 'b', sizeof(buf));
	T_OK(daxfs_pwrite(fs, ino_of("w"), buf, sizeof(buf), 4 * KiB));
	if (!strcmp(mode, "auto")) {
		fd2 = (int)SYS(open(P("w"), O_RDONLY));
		if (!page_is(fd2, 4 * KiB, 'b'))
			T_FAIL("cache=auto: a new open read the old data after another client's "
			       "write");
		SYS(close(fd2));
	}
	if (!until(page_is(fd, 4 * KiB, 'b')))
		T_FAIL("cache=%s: an open descriptor read the old data %u ms after another "
		       "client's write",
		       mode, wait_ms);
	T_ASSERT(page_is(fd, 0, 'a') && page_is(fd, 8 * KiB, 'a'));
	SYS(close(fd));
	SYS(unlink(P("w")));
	printf("cache=%s: a write by another client is seen\n", mode);
}

static void case_truncate(void)
{
	int fd, fd2;

	make_file("t", 'a', 16 * KiB);
	fd = (int)SYS(open(P("t"), O_RDONLY));
	T_ASSERT(page_is(fd, 8 * KiB, 'a') && size_of_fd(fd) == 16 * KiB);
	T_OK(daxfs_truncate(fs, "/t", 4 * KiB));
	if (!strcmp(mode, "auto")) {
		fd2 = (int)SYS(open(P("t"), O_RDONLY));
		if (size_of_fd(fd2) != 4 * KiB)
			T_FAIL("cache=auto: a new open saw size %lld after another client's "
			       "truncate to 4 KiB",
			       (long long)size_of_fd(fd2));
		SYS(close(fd2));
	}
	if (!until(size_of_fd(fd) == 4 * KiB && !page_is(fd, 8 * KiB, 'a')))
		T_FAIL("cache=%s: %u ms after another client truncated the file to 4 KiB, an "
		       "open descriptor sees size %lld%s",
		       mode, wait_ms, (long long)size_of_fd(fd),
		       page_is(fd, 8 * KiB, 'a') ? " and reads the cut pages" : "");
	/* Grown again by the other client: the gap reads as zeros, not the old bytes. */
	T_OK(daxfs_truncate(fs, "/t", 16 * KiB));
	if (!until(size_of_fd(fd) == 16 * KiB && page_is(fd, 8 * KiB, '\0')))
		T_FAIL("cache=%s: after a truncate and an extension by another client, the cut "
		       "pages do not read as zeros",
		       mode);
	SYS(close(fd));
	SYS(unlink(P("t")));
	printf("cache=%s: a truncate by another client is seen\n", mode);
}

static void case_rename(void)
{
	make_file("r1", 'a', 100);
	T_ASSERT(exists("r1") && !exists("r2")); /* looked up: cached */
	T_OK(daxfs_rename(fs, "/r1", "/r2", 0));
	if (!until(!exists("r1") && exists("r2")))
		T_FAIL("cache=%s: %u ms after another client renamed r1 to r2, the mount has "
		       "r1 %s and r2 %s",
		       mode, wait_ms, exists("r1") ? "present" : "gone",
		       exists("r2") ? "present" : "missing");
	SYS(unlink(P("r2")));
	printf("cache=%s: a rename by another client is seen\n", mode);
}

static void case_unlink(void)
{
	make_file("u", 'a', 100);
	T_ASSERT(exists("u"));
	T_OK(daxfs_unlink(fs, "/u"));
	if (!until(!exists("u")))
		T_FAIL("cache=%s: %u ms after another client unlinked it, the name still shows",
		       mode, wait_ms);
	printf("cache=%s: an unlink by another client is seen\n", mode);
}

static void case_create(void)
{
	struct daxfs_stat st;

	SYS(mkdir(P("d"), 0755));
	T_ASSERT(!listed("d", "new") && !exists("d/new")); /* listed: cached (cache=always) */
	T_OK(daxfs_create(fs, "/d/new", 0644, DAXFS_CREATE_EXCL, &st));
	if (!until(listed("d", "new") && exists("d/new")))
		T_FAIL("cache=%s: %u ms after another client created d/new, the mount %s it", mode,
		       wait_ms, exists("d/new") ? "stats but does not list" : "misses");
	SYS(unlink(P("d/new")));
	SYS(rmdir(P("d")));
	printf("cache=%s: a create by another client is seen\n", mode);
}

int main(int argc, char **argv)
{
	if (argc != 4 ||
	    (strcmp(argv[3], "none") && strcmp(argv[3], "auto") && strcmp(argv[3], "always"))) {
		fprintf(stderr, "usage: fuse-fresh MOUNTPOINT SOCKET none|auto|always\n");
		return 2;
	}
	mnt = argv[1];
	mode = argv[3];
	wait_ms = !strcmp(mode, "none") ? 0 : !strcmp(mode, "auto") ? 3000 : 5000;
	t_watchdog(90, "fuse-fresh");
	T_OK(daxfs_open(&fs, argv[2]));
	case_write();
	case_truncate();
	case_rename();
	case_unlink();
	case_create();
	daxfs_close(fs);
	printf("fuse-fresh (cache=%s): all passed\n", mode);
	return 0;
}
