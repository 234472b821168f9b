// SPDX-License-Identifier: MIT
/*
 * fuse-posix - POSIX behaviour of a live daxfs FUSE mount (tests/fuse/test-posix.sh runs it).
 *
 * Every operation the mount implements, with its errors: create, open, read, write, stat,
 * chmod / chown / truncate / utimensat, mkdir, rmdir, unlink, rename (plain, NOREPLACE,
 * EXCHANGE, WHITEOUT refused), link, symlink and mknod of every type (moved across
 * directories, looped, too long, a hard-linked file unlinked by both names while open),
 * readdir of a large directory, statfs, fallocate (allocate, KEEP_SIZE, PUNCH_HOLE), fsync;
 * and what programs rely on:
 * open-unlink-read, rename over an open file, sparse files, truncate while open, O_APPEND,
 * MAP_SHARED stores visible to read(2) after msync, 8 MiB transfers. As root on a mount with
 * allow_other: another uid is refused a 0600 file and owns what it creates. With --cli and
 * --socket: a truncate by another daxfs client reaches a file open (and cached) on the mount.
 *
 * Usage: fuse-posix MOUNTPOINT [--cli=PATH --socket=PATH] [seed]
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <stdarg.h>
#include <time.h>

#include "daemon.h"
#include "testutil.h"

#define KiB (1UL << 10)
#define MiB (1UL << 20)

static const char *mnt, *cli, *sock;
static uint64_t rng;

/* P - "<mnt>/<fmt>" in one of four rotating buffers. */
static const char *P(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *P(const char *fmt, ...)
{
	static char bufs[4][4096];
	static unsigned at;
	char *b = bufs[at++ % 4];
	int n = snprintf(b, 4096, "%s/", mnt);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b + n, 4096 - (size_t)n, fmt, ap);
	va_end(ap);
	return b;
}

/* SYS - a system call that must succeed (returns >= 0). */
#define SYS(expr)                                                 \
	({                                                        \
		long _r = (long)(expr);                           \
		if (_r < 0)                                       \
			T_FAIL("%s: %s", #expr, strerror(errno)); \
		_r;                                               \
	})

/* FAILS - a system call that must fail with @err. */
#define FAILS(expr, err)                                                                        \
	do {                                                                                    \
		errno = 0;                                                                      \
		long _r = (long)(expr);                                                         \
		if (_r >= 0 || errno != (err))                                                  \
			T_FAIL("%s = %ld (%s), expected %s", #expr, _r, strerror(errno), #err); \
	} while (0)

static void fill(void *buf, size_t len)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)t_rand(&rng);
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = (int)SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));

	T_ASSERT((size_t)SYS(write(fd, buf, len)) == len);
	SYS(close(fd));
}

/* read_all - @path's contents (malloc'd), *@len its size. */
static char *read_all(const char *path, size_t *len)
{
	int fd = (int)SYS(open(path, O_RDONLY));
	struct stat st;
	char *buf;

	SYS(fstat(fd, &st));
	buf = malloc((size_t)st.st_size + 1);
	T_ASSERT(buf);
	*len = 0;
	for (;;) {
		ssize_t n = SYS(read(fd, buf + *len, (size_t)st.st_size + 1 - *len));

		if (n == 0)
			break;
		*len += (size_t)n;
		T_ASSERT(*len <= (size_t)st.st_size);
	}
	SYS(close(fd));
	return buf;
}

static bool all_zero(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* --- names --- */

static void test_names(void)
{
	char longname[300];
	struct stat st;
	int fd;

	SYS(mkdir(P("n"), 0755));
	FAILS(mkdir(P("n"), 0755), EEXIST);
	fd = (int)SYS(open(P("n/f"), O_CREAT | O_EXCL | O_RDWR, 0640));
	SYS(stat(P("n/f"), &st));
	T_ASSERT(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0640 && st.st_size == 0);
	T_ASSERT(st.st_nlink == 1);
	SYS(close(fd));
	FAILS(open(P("n/f"), O_CREAT | O_EXCL | O_RDWR, 0640), EEXIST);
	FAILS(open(P("n/missing"), O_RDONLY), ENOENT);
	FAILS(open(P("n/f/x"), O_RDONLY), ENOTDIR);
	FAILS(open(P("n"), O_WRONLY), EISDIR);
	FAILS(stat(P("n/missing/x"), &st), ENOENT);
	memset(longname, 'a', 256);
	longname[256] = '\0';
	FAILS(open(P("n/%s", longname), O_CREAT | O_RDWR, 0644), ENAMETOOLONG);
	longname[255] = '\0';
	fd = (int)SYS(open(P("n/%s", longname), O_CREAT | O_RDWR, 0644));
	SYS(close(fd));
	SYS(unlink(P("n/%s", longname)));

	SYS(mkdir(P("n/d"), 0755));
	FAILS(rmdir(P("n")), ENOTEMPTY);
	FAILS(rmdir(P("n/f")), ENOTDIR);
	FAILS(unlink(P("n/d")), EISDIR);
	FAILS(unlink(P("n/missing")), ENOENT);
	FAILS(rmdir(P("n/missing")), ENOENT);
	/* Format v2: hard links, symbolic links, fifos through the mount. */
	SYS(link(P("n/f"), P("n/g")));
	SYS(stat(P("n/g"), &st));
	T_ASSERT(st.st_nlink == 2);
	FAILS(link(P("n/d"), P("n/dl")), EPERM);
	SYS(symlink("f", P("n/s")));
	{
		char t[16];

		T_ASSERT(readlink(P("n/s"), t, sizeof(t)) == 1 && t[0] == 'f');
		SYS(lstat(P("n/s"), &st));
		T_ASSERT(S_ISLNK(st.st_mode));
		SYS(stat(P("n/s"), &st));
		T_ASSERT(S_ISREG(st.st_mode) && st.st_nlink == 2);
	}
	SYS(mknod(P("n/p"), S_IFIFO | 0644, 0));
	SYS(stat(P("n/p"), &st));
	T_ASSERT(S_ISFIFO(st.st_mode));
	SYS(mknod(P("n/c"), S_IFCHR | 0600, makedev(1, 7)));
	SYS(stat(P("n/c"), &st));
	T_ASSERT(S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 7);
	SYS(unlink(P("n/c")));
	SYS(unlink(P("n/g")));
	SYS(unlink(P("n/s")));
	SYS(unlink(P("n/p")));
	/* mknod of a regular file is a create */
	SYS(mknod(P("n/r"), S_IFREG | 0600, 0));
	SYS(stat(P("n/r"), &st));
	T_ASSERT(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600);
	FAILS(mknod(P("n/r"), S_IFREG | 0600, 0), EEXIST);

	/* rename: plain, over a file, NOREPLACE, EXCHANGE, WHITEOUT, into itself */
	write_file(P("n/a"), "AAAA", 4);
	write_file(P("n/b"), "BB", 2);
	SYS(rename(P("n/a"), P("n/d/a2")));
	FAILS(stat(P("n/a"), &st), ENOENT);
	SYS(stat(P("n/d/a2"), &st));
	T_ASSERT(st.st_size == 4);
	FAILS(renameat2(AT_FDCWD, P("n/b"), AT_FDCWD, P("n/d/a2"), RENAME_NOREPLACE), EEXIST);
	SYS(renameat2(AT_FDCWD, P("n/b"), AT_FDCWD, P("n/d/a2"), RENAME_EXCHANGE));
	SYS(stat(P("n/b"), &st));
	T_ASSERT(st.st_size == 4);
	SYS(stat(P("n/d/a2"), &st));
	T_ASSERT(st.st_size == 2);
	FAILS(renameat2(AT_FDCWD, P("n/b"), AT_FDCWD, P("n/c"), RENAME_EXCHANGE), ENOENT);
	FAILS(renameat2(AT_FDCWD, P("n/b"), AT_FDCWD, P("n/c"), RENAME_WHITEOUT), EINVAL);
	FAILS(rename(P("n"), P("n/d/inside")), EINVAL);
	FAILS(rename(P("n/d"), P("n/b")), ENOTDIR);
	FAILS(rename(P("n/b"), P("n/d")), EISDIR);
	SYS(rename(P("n/b"), P("n/d/a2"))); /* over a file */
	SYS(stat(P("n/d/a2"), &st));
	T_ASSERT(st.st_size == 4);
	FAILS(stat(P("n/b"), &st), ENOENT);
	/* a directory renamed: what is under it follows */
	SYS(rename(P("n/d"), P("n/e")));
	SYS(stat(P("n/e/a2"), &st));
	T_ASSERT(st.st_size == 4);
	FAILS(stat(P("n/d/a2"), &st), ENOENT);
	SYS(unlink(P("n/e/a2")));
	SYS(rmdir(P("n/e")));
	SYS(unlink(P("n/f")));
	SYS(unlink(P("n/r")));
	SYS(rmdir(P("n")));
	FAILS(stat(P("n"), &st), ENOENT);
}

/* --- attributes --- */

static void test_attrs(void)
{
	struct timespec ts[2] = {{.tv_sec = 1000000000, .tv_nsec = 123456789},
				 {.tv_sec = 1200000000, .tv_nsec = 987654321}};
	struct timespec before;
	struct stat st;
	char buf[8192];

	write_file(P("attr"), "x", 1);
	SYS(chmod(P("attr"), 0604));
	SYS(stat(P("attr"), &st));
	T_ASSERT((st.st_mode & 07777) == 0604);
	SYS(chown(P("attr"), 65534, 65534));
	SYS(stat(P("attr"), &st));
	T_ASSERT(st.st_uid == 65534 && st.st_gid == 65534);
	SYS(chown(P("attr"), 0, 0));
	SYS(truncate(P("attr"), 8192));
	SYS(stat(P("attr"), &st));
	T_ASSERT(st.st_size == 8192);
	SYS(truncate(P("attr"), 3));
	SYS(stat(P("attr"), &st));
	T_ASSERT(st.st_size == 3);
	{
		int fd = (int)SYS(open(P("attr"), O_RDONLY));

		T_ASSERT(SYS(read(fd, buf, sizeof(buf))) == 3);
		T_ASSERT(buf[0] == 'x' && buf[1] == 0 && buf[2] == 0);
		SYS(close(fd));
	}
	SYS(utimensat(AT_FDCWD, P("attr"), ts, 0));
	SYS(stat(P("attr"), &st));
	T_ASSERT(st.st_atim.tv_sec == ts[0].tv_sec && st.st_atim.tv_nsec == ts[0].tv_nsec);
	T_ASSERT(st.st_mtim.tv_sec == ts[1].tv_sec && st.st_mtim.tv_nsec == ts[1].tv_nsec);
	clock_gettime(CLOCK_REALTIME, &before);
	SYS(utimensat(AT_FDCWD, P("attr"), NULL, 0));
	SYS(stat(P("attr"), &st));
	T_ASSERT(st.st_mtim.tv_sec >= before.tv_sec - 1);
	FAILS(truncate(P("."), 0), EISDIR);
	FAILS(chmod(P("missing"), 0644), ENOENT);
	SYS(unlink(P("attr")));
}

/* --- directories --- */

static void test_readdir(void)
{
	enum { N = 300 };
	static bool seen[N];
	struct dirent *de;
	unsigned count = 0;
	DIR *d;

	SYS(mkdir(P("many"), 0755));
	for (int i = 0; i < N; i++)
		write_file(P("many/file-%03d-with-a-longer-name", i), "x", 1);
	d = opendir(P("many"));
	T_ASSERT(d);
	while ((de = readdir(d))) {
		int i;
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		T_ASSERT(sscanf(de->d_name, "file-%d-", &i) == 1 && i >= 0 && i < N);
		T_ASSERT(!seen[i]);
		seen[i] = true;
		T_ASSERT(de->d_type == DT_REG);
		SYS(fstatat(dirfd(d), de->d_name, &st, 0));
		T_ASSERT(st.st_ino == de->d_ino && st.st_size == 1);
		count++;
	}
	closedir(d);
	T_ASSERT(count == N);
	for (int i = 0; i < N; i++)
		SYS(unlink(P("many/file-%03d-with-a-longer-name", i)));
	SYS(rmdir(P("many")));
}

static void test_statfs(void)
{
	struct statvfs a, b;
	static char buf[8 * MiB];

	SYS(statvfs(mnt, &a));
	T_ASSERT(a.f_bsize == 4096 && a.f_blocks > 0 && a.f_bfree <= a.f_blocks);
	T_ASSERT(a.f_namemax == 255);
	fill(buf, sizeof(buf));
	write_file(P("space"), buf, sizeof(buf));
	SYS(statvfs(mnt, &b));
	/* Blocks of files removed just before come back after a grace period: some slack. */
	if (b.f_bfree + sizeof(buf) / 4096 > a.f_bfree + 512)
		T_FAIL("8 MiB written, free blocks went from %lu to %lu", (unsigned long)a.f_bfree,
		       (unsigned long)b.f_bfree);
	SYS(unlink(P("space")));
}

/* --- data --- */

static void test_large_io(void)
{
	static char w[8 * MiB + 123], r[8 * MiB + 123];
	size_t len;
	char *got;
	int fd;

	fill(w, sizeof(w));
	write_file(P("big"), w, sizeof(w));
	got = read_all(P("big"), &len);
	T_ASSERT(len == sizeof(w) && memcmp(got, w, len) == 0);
	free(got);
	fd = (int)SYS(open(P("big"), O_RDWR));
	/* odd offsets and lengths, across block and 1 MiB boundaries */
	T_ASSERT(SYS(pread(fd, r, 3 * MiB + 7, MiB - 5)) == (long)(3 * MiB + 7));
	T_ASSERT(memcmp(r, w + MiB - 5, 3 * MiB + 7) == 0);
	fill(w + 4093, 10000);
	T_ASSERT(SYS(pwrite(fd, w + 4093, 10000, 4093)) == 10000);
	SYS(fsync(fd));
	SYS(fdatasync(fd));
	T_ASSERT(SYS(pread(fd, r, sizeof(r), 0)) == (long)sizeof(r));
	T_ASSERT(memcmp(r, w, sizeof(w)) == 0);
	T_ASSERT(SYS(pread(fd, r, 100, sizeof(w))) == 0); /* end of file */
	SYS(close(fd));
	SYS(unlink(P("big")));
}

static void test_open_unlink(void)
{
	char buf[64 * KiB], got[64 * KiB];
	struct stat st;
	int fd;

	SYS(mkdir(P("ou"), 0755));
	fill(buf, sizeof(buf));
	write_file(P("ou/f"), buf, sizeof(buf));
	fd = (int)SYS(open(P("ou/f"), O_RDWR));
	SYS(unlink(P("ou/f")));
	FAILS(stat(P("ou/f"), &st), ENOENT);
	/* the directory looks empty, but the data lives on for the open handle */
	{
		DIR *d = opendir(P("ou"));
		struct dirent *de;

		T_ASSERT(d);
		while ((de = readdir(d)))
			T_ASSERT(strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0);
		closedir(d);
	}
	T_ASSERT(SYS(pread(fd, got, sizeof(got), 0)) == (long)sizeof(got));
	T_ASSERT(memcmp(got, buf, sizeof(buf)) == 0);
	T_ASSERT(SYS(pwrite(fd, "new", 3, 0)) == 3);
	T_ASSERT(SYS(pread(fd, got, 3, 0)) == 3 && memcmp(got, "new", 3) == 0);
	SYS(fstat(fd, &st));
	T_ASSERT(st.st_size == (off_t)sizeof(buf));
	/* a new file may take the name meanwhile */
	write_file(P("ou/f"), "other", 5);
	SYS(unlink(P("ou/f")));
	SYS(close(fd));
	/* the last close removed it: the directory is really empty */
	SYS(rmdir(P("ou")));
}

/*
 * test_types_faces - every file type moved, linked, looped and unlinked through the mount:
 * renames of a fifo, a symbolic link and a device into another directory (never EXDEV),
 * a hard link of a fifo, a symbolic link loop (ELOOP), a target one byte too long
 * (ENAMETOOLONG) and a long one kept in a block, and a hard-linked file unlinked by both
 * names while open (link count 0, its data still there until the close).
 */
static void test_types_faces(void)
{
	static char target[4097];
	char got[4096], data[] = "kept while open";
	struct stat st;
	int fd;

	SYS(mkdir(P("ty"), 0755));
	SYS(mkdir(P("ty/a"), 0755));
	SYS(mkdir(P("ty/b"), 0755));
	SYS(mknod(P("ty/a/fifo"), S_IFIFO | 0640, 0));
	SYS(mknod(P("ty/a/dev"), S_IFBLK | 0600, makedev(8, 3)));
	SYS(symlink("../a/fifo", P("ty/a/link")));
	SYS(rename(P("ty/a/fifo"), P("ty/b/fifo")));
	SYS(rename(P("ty/a/dev"), P("ty/b/dev")));
	SYS(rename(P("ty/a/link"), P("ty/b/link")));
	SYS(lstat(P("ty/b/fifo"), &st));
	T_ASSERT(S_ISFIFO(st.st_mode) && (st.st_mode & 07777) == 0640 && st.st_nlink == 1);
	SYS(lstat(P("ty/b/dev"), &st));
	T_ASSERT(S_ISBLK(st.st_mode) && major(st.st_rdev) == 8 && minor(st.st_rdev) == 3);
	SYS(lstat(P("ty/b/link"), &st));
	T_ASSERT(S_ISLNK(st.st_mode) && st.st_size == 9);
	T_ASSERT(readlink(P("ty/b/link"), got, sizeof(got)) == 9 && !memcmp(got, "../a/fifo", 9));
	FAILS(stat(P("ty/b/link"), &st), ENOENT); /* ../a/fifo moved away: dangling */
	/* A hard link of a fifo, across directories: one inode, two names. */
	SYS(link(P("ty/b/fifo"), P("ty/a/fifo2")));
	SYS(lstat(P("ty/b/fifo"), &st));
	T_ASSERT(st.st_nlink == 2);
	SYS(unlink(P("ty/b/fifo")));
	SYS(lstat(P("ty/a/fifo2"), &st));
	T_ASSERT(S_ISFIFO(st.st_mode) && st.st_nlink == 1);
	/* Loops and lengths. */
	SYS(symlink("loop", P("ty/loop")));
	FAILS(open(P("ty/loop"), O_RDONLY), ELOOP);
	FAILS(stat(P("ty/loop"), &st), ELOOP);
	memset(target, 'x', sizeof(target) - 1);
	FAILS(symlink(target, P("ty/toolong")), ENAMETOOLONG);
	target[3000] = '\0';
	SYS(symlink(target, P("ty/long")));
	T_ASSERT(readlink(P("ty/long"), got, sizeof(got)) == 3000 && !memcmp(got, target, 3000));
	/* A hard-linked file unlinked by both names while open. */
	write_file(P("ty/a/h1"), data, sizeof(data));
	SYS(link(P("ty/a/h1"), P("ty/b/h2")));
	fd = (int)SYS(open(P("ty/b/h2"), O_RDWR));
	SYS(unlink(P("ty/a/h1")));
	SYS(fstat(fd, &st));
	T_ASSERT(st.st_nlink == 1);
	SYS(unlink(P("ty/b/h2")));
	SYS(fstat(fd, &st));
	T_ASSERT(st.st_nlink == 0 && st.st_size == (off_t)sizeof(data));
	T_ASSERT(SYS(pread(fd, got, sizeof(got), 0)) == (long)sizeof(data));
	T_ASSERT(memcmp(got, data, sizeof(data)) == 0);
	SYS(close(fd));
	FAILS(lstat(P("ty/b/h2"), &st), ENOENT);
	SYS(unlink(P("ty/b/dev")));
	SYS(unlink(P("ty/b/link")));
	SYS(unlink(P("ty/a/fifo2")));
	SYS(unlink(P("ty/loop")));
	SYS(unlink(P("ty/long")));
	SYS(rmdir(P("ty/a")));
	SYS(rmdir(P("ty/b")));
	SYS(rmdir(P("ty")));
}

static void test_rename_over_open(void)
{
	char buf[16 * KiB], got[16 * KiB];
	size_t len;
	char *s;
	int fd;

	SYS(mkdir(P("ro"), 0755));
	fill(buf, sizeof(buf));
	write_file(P("ro/target"), buf, sizeof(buf));
	write_file(P("ro/src"), "replacement", 11);
	fd = (int)SYS(open(P("ro/target"), O_RDONLY));
	SYS(rename(P("ro/src"), P("ro/target")));
	s = read_all(P("ro/target"), &len);
	T_ASSERT(len == 11 && memcmp(s, "replacement", 11) == 0);
	free(s);
	FAILS(access(P("ro/src"), F_OK), ENOENT);
	T_ASSERT(SYS(pread(fd, got, sizeof(got), 0)) == (long)sizeof(got));
	T_ASSERT(memcmp(got, buf, sizeof(buf)) == 0);
	SYS(close(fd));
	SYS(unlink(P("ro/target")));
	SYS(rmdir(P("ro")));
}

static void test_sparse(void)
{
	static char buf[1 * MiB];
	struct stat st;
	int fd;

	fd = (int)SYS(open(P("sparse"), O_RDWR | O_CREAT | O_TRUNC, 0644));
	T_ASSERT(SYS(pwrite(fd, "end", 3, 100 * MiB)) == 3);
	SYS(fstat(fd, &st));
	T_ASSERT(st.st_size == (off_t)(100 * MiB + 3));
	T_ASSERT((uint64_t)st.st_blocks * 512 < 8 * MiB); /* not 100 MiB allocated */
	memset(buf, 1, sizeof(buf));
	T_ASSERT(SYS(pread(fd, buf, sizeof(buf), 50 * MiB)) == (long)sizeof(buf));
	T_ASSERT(all_zero(buf, sizeof(buf)));
	T_ASSERT(SYS(pread(fd, buf, 10, 100 * MiB)) == 3 && memcmp(buf, "end", 3) == 0);
	/* fallocate: allocate + extend, KEEP_SIZE, PUNCH_HOLE, and what it does not do */
	SYS(ftruncate(fd, 0));
	SYS(fallocate(fd, 0, 0, 64 * KiB));
	SYS(fstat(fd, &st));
	T_ASSERT(st.st_size == (off_t)(64 * KiB) && st.st_blocks * 512 >= (blkcnt_t)(64 * KiB));
	SYS(fallocate(fd, FALLOC_FL_KEEP_SIZE, 64 * KiB, 64 * KiB));
	SYS(fstat(fd, &st));
	T_ASSERT(st.st_size == (off_t)(64 * KiB) && st.st_blocks * 512 >= (blkcnt_t)(128 * KiB));
	memset(buf, 7, 64 * KiB);
	T_ASSERT(SYS(pwrite(fd, buf, 64 * KiB, 0)) == (long)(64 * KiB));
	SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 8 * KiB, 16 * KiB));
	T_ASSERT(SYS(pread(fd, buf, 64 * KiB, 0)) == (long)(64 * KiB));
	T_ASSERT(buf[0] == 7 && buf[8 * KiB - 1] == 7 && buf[24 * KiB] == 7);
	T_ASSERT(all_zero(buf + 8 * KiB, 16 * KiB));
	FAILS(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4 * KiB), EOPNOTSUPP);
	SYS(close(fd));
	SYS(unlink(P("sparse")));
}

/* O_TRUNC (the shell's '>'): the open empties the file, atomically. */
static void test_o_trunc(void)
{
	char buf[16];
	int fd;

	write_file(P("otrunc"), "abcdefgh", 8);
	fd = (int)SYS(open(P("otrunc"), O_WRONLY | O_TRUNC));
	T_ASSERT(SYS(write(fd, "x", 1)) == 1);
	SYS(close(fd));
	fd = (int)SYS(open(P("otrunc"), O_RDONLY));
	T_ASSERT(SYS(read(fd, buf, sizeof(buf))) == 1 && buf[0] == 'x');
	SYS(close(fd));
	SYS(unlink(P("otrunc")));
}

static void test_truncate_open(void)
{
	char buf[16 * KiB];
	struct stat st;
	int fd;

	memset(buf, 'q', sizeof(buf));
	write_file(P("tr"), buf, sizeof(buf));
	fd = (int)SYS(open(P("tr"), O_RDWR));
	T_ASSERT(SYS(pread(fd, buf, sizeof(buf), 0)) == (long)sizeof(buf)); /* now cached */
	SYS(truncate(P("tr"), 100));
	SYS(fstat(fd, &st));
	T_ASSERT(st.st_size == 100);
	T_ASSERT(SYS(pread(fd, buf, sizeof(buf), 0)) == 100);
	SYS(ftruncate(fd, 8192));
	memset(buf, 1, sizeof(buf));
	T_ASSERT(SYS(pread(fd, buf, sizeof(buf), 0)) == 8192);
	T_ASSERT(buf[99] == 'q' && all_zero(buf + 100, 8192 - 100));
	SYS(close(fd));
	SYS(unlink(P("tr")));
}

static void test_append(void)
{
	int a = (int)SYS(open(P("app"), O_WRONLY | O_CREAT | O_APPEND, 0644));
	int b = (int)SYS(open(P("app"), O_WRONLY | O_APPEND));
	size_t len;
	char *s;

	for (int i = 0; i < 5; i++) {
		SYS(write(a, "aa", 2));
		SYS(write(b, "b", 1));
	}
	SYS(lseek(a, 0, SEEK_SET));
	SYS(write(a, "E", 1)); /* O_APPEND ignores the offset */
	SYS(close(a));
	SYS(close(b));
	s = read_all(P("app"), &len);
	T_ASSERT(len == 16 && memcmp(s, "aabaabaabaabaabE", 16) == 0);
	free(s);
	SYS(unlink(P("app")));
}

static void test_mmap(void)
{
	const size_t len = 3 * 4096 + 100;
	char got[3 * 4096 + 100], *p;
	int fd, fd2;

	fd = (int)SYS(open(P("mm"), O_RDWR | O_CREAT | O_TRUNC, 0644));
	SYS(ftruncate(fd, (off_t)len));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	T_ASSERT(p != MAP_FAILED);
	fill(p, len);
	SYS(msync(p, len, MS_SYNC));
	/* another descriptor: read(2) sees the stores */
	fd2 = (int)SYS(open(P("mm"), O_RDONLY));
	T_ASSERT(SYS(pread(fd2, got, len, 0)) == (long)len);
	T_ASSERT(memcmp(got, p, len) == 0);
	/* and writes through write(2) show in the mapping */
	T_ASSERT(SYS(pwrite(fd, "XYZ", 3, 4096)) == 3);
	T_ASSERT(memcmp(p + 4096, "XYZ", 3) == 0);
	SYS(munmap(p, len));
	SYS(close(fd));
	SYS(close(fd2));
	/* after every close: still there (through the daemon, not just the page cache) */
	fd = (int)SYS(open(P("mm"), O_RDONLY));
	T_ASSERT(SYS(pread(fd, got, 3, 4096)) == 3 && memcmp(got, "XYZ", 3) == 0);
	SYS(close(fd));
	SYS(unlink(P("mm")));
}

/* --- another user (root on an allow_other mount) --- */

static int as_nobody(void *arg)
{
	struct stat st;
	int fd;

	(void)arg;
	errno = 0;
	if (open(P("perm/secret"), O_RDONLY) >= 0 || errno != EACCES) {
		fprintf(stderr, "FAIL: uid 65534 opened a 0600 root file (%s)\n", strerror(errno));
		return 1;
	}
	if (open(P("perm/closed/x"), O_CREAT | O_WRONLY, 0644) >= 0 || errno != EACCES) {
		fprintf(stderr, "FAIL: uid 65534 created in a 0755 root dir (%s)\n",
			strerror(errno));
		return 1;
	}
	fd = open(P("perm/open/mine"), O_CREAT | O_WRONLY, 0600);
	if (fd < 0 || write(fd, "mine", 4) != 4 || fstat(fd, &st) < 0) {
		fprintf(stderr, "FAIL: uid 65534 create in a 0777 dir: %s\n", strerror(errno));
		return 1;
	}
	close(fd);
	if (st.st_uid != 65534) {
		fprintf(stderr, "FAIL: a file uid 65534 created is owned by %u\n",
			(unsigned)st.st_uid);
		return 1;
	}
	if (chown(P("perm/open/mine"), 0, 0) == 0 || errno != EPERM) {
		fprintf(stderr, "FAIL: uid 65534 gave a file to root (%s)\n", strerror(errno));
		return 1;
	}
	/*
	 * A file created with mode 0 is still writable through the descriptor that created
	 * it, ftruncate included: the handle keeps what open(2) allowed.
	 */
	fd = open(P("perm/open/mode0"), O_CREAT | O_RDWR, 0);
	if (fd < 0 || ftruncate(fd, 8192) < 0 || pwrite(fd, "z", 1, 100) != 1 ||
	    ftruncate(fd, 10) < 0 || fstat(fd, &st) < 0 || st.st_size != 10) {
		fprintf(stderr, "FAIL: uid 65534 ftruncate of its mode-0 file: %s\n",
			strerror(errno));
		return 1;
	}
	close(fd);
	errno = 0;
	if (open(P("perm/open/mode0"), O_RDWR) >= 0 || errno != EACCES) {
		fprintf(stderr, "FAIL: uid 65534 reopened its mode-0 file (%s)\n", strerror(errno));
		return 1;
	}
	if (unlink(P("perm/open/mode0")) < 0) {
		fprintf(stderr, "FAIL: uid 65534 unlink: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

static void test_other_user(bool allow_other)
{
	struct stat st;

	if (geteuid() != 0 || !allow_other) {
		printf("other-user: skipped (needs root and an allow_other mount)\n");
		return;
	}
	SYS(mkdir(P("perm"), 0755));
	SYS(mkdir(P("perm/closed"), 0755));
	SYS(mkdir(P("perm/open"), 0777));
	SYS(chmod(P("perm/open"), 0777));
	write_file(P("perm/secret"), "s", 1);
	SYS(chmod(P("perm/secret"), 0600));
	t_wait_child(t_fork_as(65534, as_nobody, NULL), 30000, "as uid 65534");
	SYS(stat(P("perm/open/mine"), &st));
	T_ASSERT(st.st_uid == 65534 && st.st_size == 4);
	SYS(unlink(P("perm/open/mine")));
	SYS(unlink(P("perm/secret")));
	SYS(rmdir(P("perm/open")));
	SYS(rmdir(P("perm/closed")));
	SYS(rmdir(P("perm")));
	printf("other user (allow_other): ok\n");
}

/* --- another client of the daemon --- */

static int run(const char *const *argv)
{
	pid_t pid = fork();
	int status;

	T_ASSERT(pid >= 0);
	if (pid == 0) {
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	T_ASSERT(waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void test_other_client(void)
{
	char buf[16 * KiB];
	struct stat st;
	int fd;

	if (!cli || !sock) {
		printf("other-client: skipped (no --cli and --socket)\n");
		return;
	}
	memset(buf, 'o', sizeof(buf));
	write_file(P("shared"), buf, sizeof(buf));
	fd = (int)SYS(open(P("shared"), O_RDONLY));
	T_ASSERT(SYS(pread(fd, buf, sizeof(buf), 0)) == (long)sizeof(buf)); /* cached now */
	{
		const char *trunc0[] = {cli, "--socket", sock, "truncate", "0", "/shared", NULL};
		const char *trunc16[] = {cli, "--socket", sock, "truncate", "16K", "/shared", NULL};

		T_ASSERT(run(trunc0) == 0);
		T_ASSERT(run(trunc16) == 0);
	}
	/*
	 * Well within the attribute timeout (test-posix.sh mounts with 30 s): only the
	 * invalidation the truncate caused can have dropped the cached 'o' pages. It reaches
	 * the kernel from daxfsd's invalidation thread, a moment after the truncate: 5 s.
	 */
	for (int i = 0;; i++) {
		SYS(fstat(fd, &st));
		T_ASSERT(SYS(pread(fd, buf, sizeof(buf), 0)) >= 0);
		if (st.st_size == (off_t)(16 * KiB) && all_zero(buf, sizeof(buf)))
			break;
		if (i == 500)
			T_FAIL("after another client truncated the file, the mount shows size %lld "
			       "and %s data for 5 s",
			       (long long)st.st_size, all_zero(buf, sizeof(buf)) ? "zero" : "old");
		usleep(10000);
	}
	SYS(close(fd));
	SYS(unlink(P("shared")));
	printf("truncate by another client reaches an open file: ok\n");
}

int main(int argc, char **argv)
{
	bool allow_other = false;
	int nargs = 0;
	char *args[4];

	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--cli=", 6) == 0)
			cli = argv[i] + 6;
		else if (strncmp(argv[i], "--socket=", 9) == 0)
			sock = argv[i] + 9;
		else if (strcmp(argv[i], "--allow-other") == 0)
			allow_other = true;
		else if (nargs < 3)
			args[nargs++] = argv[i];
	}
	if (nargs < 1) {
		fprintf(stderr, "usage: fuse-posix MOUNTPOINT [--cli=PATH --socket=PATH] "
				"[--allow-other] [seed]\n");
		return 2;
	}
	mnt = args[0];
	args[0] = argv[0];
	rng = t_seed(nargs, args, 8);
	t_watchdog(120, "fuse-posix");
	test_names();
	printf("names: ok\n");
	test_attrs();
	printf("attributes: ok\n");
	test_readdir();
	printf("readdir: ok\n");
	test_statfs();
	printf("statfs: ok\n");
	test_large_io();
	printf("large I/O: ok\n");
	test_open_unlink();
	printf("open-unlink-read: ok\n");
	test_rename_over_open();
	printf("rename over an open file: ok\n");
	test_types_faces();
	printf("types moved, linked, looped, unlinked while open: ok\n");
	test_sparse();
	printf("sparse + fallocate: ok\n");
	test_truncate_open();
	printf("truncate while open: ok\n");
	test_o_trunc();
	printf("O_TRUNC: ok\n");
	test_append();
	printf("O_APPEND: ok\n");
	test_mmap();
	printf("mmap + msync: ok\n");
	test_other_user(allow_other);
	test_other_client();
	printf("fuse-posix: all passed\n");
	return 0;
}
