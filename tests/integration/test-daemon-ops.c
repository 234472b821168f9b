// SPDX-License-Identifier: MIT
/*
 * test-daemon-ops - every request of the protocol through libdaxfs against a real daxfsd,
 * with the errors each one gives; the daxfs CLI as a user runs it (put/get, ls, stat
 * --json, mkdir -p, rm -r, mv, truncate, cat, df, status, exit codes and messages); then a
 * graceful restart of the daemon on the same region, after which everything written is
 * still there, byte for byte and attribute for attribute.
 *
 * Usage: test-daemon-ops --daxfsd=PATH --cli=PATH [seed]
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "testutil.h"
#include "wire.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define BIG_DIR_ENTRIES 3000
#define MAX_FILES 64

static struct t_daemon d;
static struct daxfs *fs;
static uint64_t rng;

/* What must survive the restart. */
static struct expect {
	char path[80];
	uint64_t ino;
	uint32_t mode, uid, gid;
	int64_t mtime_ns; /* 0: not checked */
	uint64_t size;
	uint8_t *data; /* files: all their bytes */
} files[MAX_FILES];
static int nfiles;
static uint64_t big_ino[BIG_DIR_ENTRIES];

static void fill_rand(void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t v = t_rand(&rng);

		memcpy(p + i, &v, 8);
	}
	for (; i < len; i++)
		p[i] = (uint8_t)t_rand(&rng);
}

static void *xmalloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	T_ASSERT(p);
	return p;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* expect_file - remember @path as it is now (attributes and, for a file, every byte). */
static void expect_file(const char *path, bool check_mtime)
{
	struct expect *e = &files[nfiles++];
	struct daxfs_stat st;

	T_ASSERT(nfiles <= MAX_FILES);
	snprintf(e->path, sizeof(e->path), "%s", path);
	T_OK(daxfs_stat(fs, path, &st));
	e->ino = st.ino;
	e->mode = st.mode;
	e->uid = st.uid;
	e->gid = st.gid;
	e->mtime_ns = check_mtime ? st.mtime_ns : 0;
	e->size = st.size;
	if (S_ISREG(st.mode)) {
		e->data = xmalloc(st.size);
		T_ASSERT(daxfs_pread(fs, st.ino, e->data, st.size, 0) == (ssize_t)st.size);
	}
}

/* --- connecting --- */

static void test_connect(void)
{
	struct daxfs *x = NULL;

	T_ERR(daxfs_open(&x, t_path("no-such.sock")), ENOENT);
	T_ASSERT(x == NULL);
	T_ASSERT(strstr(daxfs_errormsg(), "no-such.sock"));
	/* A path that is not a socket at all. */
	T_ASSERT(daxfs_open(&x, d.region) < 0 && x == NULL);
	T_OK(daxfs_open(&fs, d.sock));
}

/* --- statfs and stat of the root --- */

static void test_statfs(void)
{
	struct daxfs_statfs sf;
	struct daxfs_stat st;

	T_OK(daxfs_statfs(fs, &sf));
	T_ASSERT(sf.block_size == 4096);
	T_ASSERT(sf.blocks > 100 * MiB / 4096 && sf.blocks <= 512 * MiB / 4096);
	T_ASSERT(sf.blocks_free == sf.blocks); /* nothing written yet */
	T_ASSERT(sf.blocks_quarantined == 0);
	T_ASSERT(sf.files == 1);
	T_ASSERT(sf.log_len > 0 && sf.log_used > 0 && sf.log_used < sf.log_len);
	T_ASSERT(sf.map_trust == 0); /* no --map-users */

	T_OK(daxfs_stat(fs, "/", &st));
	T_ASSERT(S_ISDIR(st.mode) && st.ino == 1 && st.uid == 0 && st.gid == 0);
	T_OK(daxfs_getattr(fs, st.ino, &st));
	T_ASSERT(S_ISDIR(st.mode));
	T_ERR(daxfs_stat(fs, "/", NULL), EINVAL);
	T_ERR(daxfs_statfs(fs, NULL), EINVAL);
}

/* --- names --- */

static void test_names(void)
{
	struct daxfs_stat st, st2, dir, h, x;
	uint64_t f_ino, h_ino;

	T_OK(daxfs_mkdir(fs, "/d", 0755, &dir));
	T_ASSERT(S_ISDIR(dir.mode) && (dir.mode & 07777) == 0755 && dir.uid == 0);
	T_OK(daxfs_stat(fs, "/d", &st));
	T_ASSERT(st.ino == dir.ino && S_ISDIR(st.mode));
	T_ERR(daxfs_mkdir(fs, "/d", 0755, NULL), EEXIST);
	T_ERR(daxfs_mkdir(fs, "/", 0755, NULL), EEXIST);
	T_ERR(daxfs_mkdir(fs, "/nodir/x", 0755, NULL), ENOENT);

	/* CREATE: EXCL, and without EXCL an existing file comes back as it is. */
	T_OK(daxfs_create(fs, "/d/f", 0640, DAXFS_CREATE_EXCL, &st));
	T_ASSERT(S_ISREG(st.mode) && (st.mode & 07777) == 0640 && st.size == 0 && st.nlink == 1);
	T_ASSERT(st.uid == 0 && st.gid == 0 && st.ino != dir.ino);
	f_ino = st.ino;
	T_ERR(daxfs_create(fs, "/d/f", 0644, DAXFS_CREATE_EXCL, NULL), EEXIST);
	T_ASSERT(daxfs_pwrite(fs, f_ino, "hello", 5, 0) == 5);
	T_OK(daxfs_create(fs, "/d/f", 0600, 0, &st2));
	T_ASSERT(st2.ino == f_ino && st2.size == 5 && (st2.mode & 07777) == 0640);
	T_ERR(daxfs_create(fs, "/d", 0644, 0, NULL), EISDIR);
	T_ERR(daxfs_create(fs, "/d", 0644, DAXFS_CREATE_EXCL, NULL), EEXIST);
	T_ERR(daxfs_create(fs, "/", 0644, 0, NULL), EISDIR);
	T_ERR(daxfs_create(fs, "/d/f/x", 0644, 0, NULL), ENOTDIR);
	T_ERR(daxfs_create(fs, "/nodir/x", 0644, 0, NULL), ENOENT);
	T_ERR(daxfs_create(fs, "/d/x", 0644, 0x100, NULL), EINVAL);
	T_OK(daxfs_create(fs, "/d/g", 0644, 0, NULL));

	/* STAT and GETATTR */
	T_OK(daxfs_stat(fs, "//d///f", &st2));
	T_ASSERT(st2.ino == f_ino && st2.size == 5);
	T_OK(daxfs_getattr(fs, f_ino, &st2));
	T_ASSERT(st2.ino == f_ino && st2.size == 5 && S_ISREG(st2.mode));
	T_ERR(daxfs_stat(fs, "/d/nope", &st2), ENOENT);
	T_ERR(daxfs_stat(fs, "/d/f/", &st2), ENOTDIR);
	T_ERR(daxfs_stat(fs, "/d/f/x", &st2), ENOTDIR);
	T_ERR(daxfs_getattr(fs, 999999, &st2), ENOENT);
	T_ERR(daxfs_getattr(fs, 0, &st2), ENOENT);

	/* UNLINK */
	T_ERR(daxfs_unlink(fs, "/d"), EISDIR);
	T_ERR(daxfs_unlink(fs, "/"), EISDIR);
	T_ERR(daxfs_unlink(fs, "/d/nope"), ENOENT);
	T_ERR(daxfs_unlink(fs, "/d/f/"), ENOTDIR);
	T_OK(daxfs_stat(fs, "/d/g", &st2));
	T_OK(daxfs_unlink(fs, "/d/g"));
	T_ERR(daxfs_stat(fs, "/d/g", &x), ENOENT);
	T_ERR(daxfs_getattr(fs, st2.ino, &x), ENOENT);
	T_ERR(daxfs_unlink(fs, "/d/g"), ENOENT);

	/* RMDIR */
	T_ERR(daxfs_rmdir(fs, "/d"), ENOTEMPTY);
	T_ERR(daxfs_rmdir(fs, "/d/f"), ENOTDIR);
	T_ERR(daxfs_rmdir(fs, "/d/nope"), ENOENT);
	T_ERR(daxfs_rmdir(fs, "/"), EBUSY);
	T_OK(daxfs_mkdir(fs, "/d/e", 0700, NULL));
	T_OK(daxfs_rmdir(fs, "/d/e"));
	T_ERR(daxfs_stat(fs, "/d/e", &x), ENOENT);

	/* RENAME */
	T_OK(daxfs_rename(fs, "/d/f", "/d/f2", 0));
	T_ERR(daxfs_stat(fs, "/d/f", &x), ENOENT);
	T_OK(daxfs_stat(fs, "/d/f2", &x));
	T_ASSERT(x.ino == f_ino && x.size == 5);
	T_OK(daxfs_create(fs, "/d/h", 0600, DAXFS_CREATE_EXCL, &h));
	h_ino = h.ino;
	T_ASSERT(daxfs_pwrite(fs, h_ino, "hh", 2, 0) == 2);
	T_ERR(daxfs_rename(fs, "/d/f2", "/d/h", DAXFS_RENAME_NOREPLACE), EEXIST);
	T_OK(daxfs_stat(fs, "/d/f2", &x));
	T_ASSERT(x.ino == f_ino);
	T_OK(daxfs_stat(fs, "/d/h", &x));
	T_ASSERT(x.ino == h_ino);
	T_OK(daxfs_rename(fs, "/d/f2", "/d/h", DAXFS_RENAME_EXCHANGE));
	T_OK(daxfs_stat(fs, "/d/h", &x));
	T_ASSERT(x.ino == f_ino && x.size == 5);
	T_OK(daxfs_stat(fs, "/d/f2", &x));
	T_ASSERT(x.ino == h_ino && x.size == 2);
	T_ERR(daxfs_rename(fs, "/d/f2", "/d/nope", DAXFS_RENAME_EXCHANGE), ENOENT);
	T_ERR(daxfs_rename(fs, "/d/nope", "/d/f3", 0), ENOENT);
	/* A plain rename replaces the target: its old inode is gone. */
	T_OK(daxfs_rename(fs, "/d/f2", "/d/h", 0));
	T_ERR(daxfs_stat(fs, "/d/f2", &x), ENOENT);
	T_OK(daxfs_stat(fs, "/d/h", &x));
	T_ASSERT(x.ino == h_ino && x.size == 2);
	T_ERR(daxfs_getattr(fs, f_ino, &x), ENOENT);
	/* Directories: not into themselves, not over files or non-empty directories. */
	T_OK(daxfs_mkdir(fs, "/d/sub", 0755, NULL));
	T_OK(daxfs_mkdir(fs, "/d/sub/deeper", 0755, NULL));
	T_ERR(daxfs_rename(fs, "/d", "/d/sub/x", 0), EINVAL);
	T_ERR(daxfs_rename(fs, "/d", "/d/sub/deeper/x", 0), EINVAL);
	T_ERR(daxfs_rename(fs, "/d/h", "/d/sub", 0), EISDIR);
	T_ERR(daxfs_rename(fs, "/d/sub", "/d/h", 0), ENOTDIR);
	T_OK(daxfs_mkdir(fs, "/d/full", 0755, NULL));
	T_OK(daxfs_create(fs, "/d/full/z", 0644, 0, NULL));
	T_ERR(daxfs_rename(fs, "/d/sub", "/d/full", 0), ENOTEMPTY);
	T_ERR(daxfs_rename(fs, "/", "/x", 0), EBUSY);
	T_ERR(daxfs_rename(fs, "/d/h", "/d/h2", 0x10), EINVAL);
	/* Across directories, a directory with what it holds. */
	T_OK(daxfs_stat(fs, "/d/sub/deeper", &st));
	T_OK(daxfs_rename(fs, "/d/sub", "/moved", 0));
	T_OK(daxfs_stat(fs, "/moved/deeper", &x));
	T_ASSERT(x.ino == st.ino && S_ISDIR(x.mode));
	T_ERR(daxfs_stat(fs, "/d/sub", &x), ENOENT);

	expect_file("/d", false);
	expect_file("/d/h", true);
	expect_file("/d/full", false);
	expect_file("/d/full/z", true);
	expect_file("/moved/deeper", false);
}

/* --- setattr and truncate --- */

static void test_setattr(void)
{
	struct daxfs_stat st, to = {0}, out, x;
	uint8_t buf[8192];

	T_OK(daxfs_create(fs, "/attr", 0644, DAXFS_CREATE_EXCL, &st));
	to.mode = 0600;
	T_OK(daxfs_setattr(fs, st.ino, DAXFS_SET_MODE, &to, &out));
	T_ASSERT(out.mode == (S_IFREG | 0600) && out.ino == st.ino);
	to.mode = 04751;
	T_OK(daxfs_setattr(fs, st.ino, DAXFS_SET_MODE, &to, &out));
	T_ASSERT(out.mode == (S_IFREG | 04751));
	to.uid = 1234;
	to.gid = 5678;
	/* chown(2) drops setuid (and setgid with group execute), for root too, as Linux does. */
	T_OK(daxfs_setattr(fs, st.ino, DAXFS_SET_UID | DAXFS_SET_GID, &to, &out));
	T_ASSERT(out.uid == 1234 && out.gid == 5678 && out.mode == (S_IFREG | 0751));
	to.mode = 04751;
	T_OK(daxfs_setattr(fs, st.ino, DAXFS_SET_MODE, &to, &out));
	to.size = 10000;
	T_OK(daxfs_setattr(fs, st.ino, DAXFS_SET_SIZE, &to, &out));
	T_ASSERT(out.size == 10000);
	T_ASSERT(daxfs_pread(fs, st.ino, buf, sizeof(buf), 0) == sizeof(buf));
	T_ASSERT(all_zero(buf, sizeof(buf)));
	to.atime_ns = INT64_C(1000000000123);
	to.mtime_ns = INT64_C(2000000000456);
	T_OK(daxfs_setattr(fs, st.ino, DAXFS_SET_ATIME | DAXFS_SET_MTIME, &to, &out));
	T_ASSERT(out.atime_ns == to.atime_ns && out.mtime_ns == to.mtime_ns);
	T_ASSERT(out.ctime_ns >= st.ctime_ns);
	/* Nothing to change: the attributes as they are. */
	T_OK(daxfs_setattr(fs, st.ino, 0, NULL, &out));
	T_ASSERT(out.size == 10000 && out.uid == 1234 && out.mode == (S_IFREG | 04751));
	T_OK(daxfs_getattr(fs, st.ino, &x));
	T_ASSERT(x.size == 10000 && x.uid == 1234 && x.gid == 5678 && x.mtime_ns == to.mtime_ns);
	T_ERR(daxfs_setattr(fs, st.ino, 0x100, &to, NULL), EINVAL); /* an unknown bit */
	T_ERR(daxfs_setattr(fs, st.ino, DAXFS_SET_MODE, NULL, NULL), EINVAL);
	T_ERR(daxfs_setattr(fs, 999999, DAXFS_SET_MODE, &to, NULL), ENOENT);
	T_OK(daxfs_mkdir(fs, "/attrdir", 0755, &x));
	T_ERR(daxfs_setattr(fs, x.ino, DAXFS_SET_SIZE, &to, NULL), EISDIR);
	T_OK(daxfs_setattr(fs, x.ino, DAXFS_SET_MODE, &(struct daxfs_stat){.mode = 01777}, &out));
	T_ASSERT(out.mode == (S_IFDIR | 01777));
	expect_file("/attr", true);
	expect_file("/attrdir", true);

	/* truncate by path: shrink, then grow (the new part reads as zeros). */
	T_OK(daxfs_create(fs, "/trunc", 0644, DAXFS_CREATE_EXCL, &st));
	memset(buf, 'x', 100);
	T_ASSERT(daxfs_pwrite(fs, st.ino, buf, 100, 0) == 100);
	T_OK(daxfs_truncate(fs, "/trunc", 10));
	T_OK(daxfs_stat(fs, "/trunc", &x));
	T_ASSERT(x.size == 10);
	T_ASSERT(daxfs_pread(fs, st.ino, buf, sizeof(buf), 0) == 10);
	T_OK(daxfs_truncate(fs, "/trunc", 5000));
	T_ASSERT(daxfs_pread(fs, st.ino, buf, sizeof(buf), 0) == 5000);
	for (int i = 0; i < 10; i++)
		T_ASSERT(buf[i] == 'x');
	T_ASSERT(all_zero(buf + 10, 4990));
	T_ERR(daxfs_truncate(fs, "/nope", 1), ENOENT);
	T_ERR(daxfs_truncate(fs, "/d", 1), EISDIR);
	expect_file("/trunc", false);
}

/* --- readdir --- */

static void big_name(int i, char *out)
{
	/* 8..255 bytes, so that replies fill up on bytes as well as on entries */
	int len = 8 + (i * 37) % 248;
	int n = snprintf(out, 256, "e%05d-", i);

	memset(out + n, 'a' + i % 26, (size_t)(len - n));
	out[len] = '\0';
}

struct seen {
	uint8_t *hits;
	int count;
	int stop_after; /* >0: return 7 after that many */
	bool bad;
};

static int big_cb(void *ctx, const char *name, uint64_t ino, uint32_t mode)
{
	struct seen *s = ctx;
	char want[256];
	int i;

	if (sscanf(name, "e%05d-", &i) != 1 || i < 0 || i >= BIG_DIR_ENTRIES) {
		fprintf(stderr, "readdir: unexpected name %s\n", name);
		s->bad = true;
		return 0;
	}
	big_name(i, want);
	if (strcmp(name, want) != 0 || ino != big_ino[i] || !S_ISREG(mode) || s->hits[i]) {
		fprintf(stderr, "readdir: entry %s ino %" PRIu64 " mode 0%o (seen %d times)\n",
			name, ino, mode, s->hits[i]);
		s->bad = true;
	}
	s->hits[i]++;
	s->count++;
	if (s->stop_after && s->count == s->stop_after)
		return 7;
	return 0;
}

static int count_cb(void *ctx, const char *name, uint64_t ino, uint32_t mode)
{
	(void)name;
	(void)ino;
	(void)mode;
	(*(int *)ctx)++;
	return 0;
}

static void check_big_dir(void)
{
	struct seen s = {.hits = calloc(BIG_DIR_ENTRIES, 1)};

	T_ASSERT(s.hits);
	T_OK(daxfs_readdir(fs, "/big", big_cb, &s));
	T_ASSERT(!s.bad);
	T_ASSERT(s.count == BIG_DIR_ENTRIES);
	for (int i = 0; i < BIG_DIR_ENTRIES; i++)
		T_ASSERT(s.hits[i] == 1);
	free(s.hits);
}

static void test_readdir(void)
{
	struct seen s = {.stop_after = 10};
	struct daxfs_stat st;
	char name[256], path[300];
	int n = 0;

	T_OK(daxfs_mkdir(fs, "/big", 0755, NULL));
	for (int i = 0; i < BIG_DIR_ENTRIES; i++) {
		big_name(i, name);
		snprintf(path, sizeof(path), "/big/%s", name);
		T_OK(daxfs_create(fs, path, 0644, DAXFS_CREATE_EXCL, &st));
		big_ino[i] = st.ino;
	}
	check_big_dir();

	/* The callback's non-zero return ends the listing and is returned. */
	s.hits = calloc(BIG_DIR_ENTRIES, 1);
	T_ASSERT(s.hits);
	T_ASSERT(daxfs_readdir(fs, "/big", big_cb, &s) == 7);
	T_ASSERT(s.count == 10 && !s.bad);
	free(s.hits);

	T_OK(daxfs_mkdir(fs, "/empty", 0755, NULL));
	T_OK(daxfs_readdir(fs, "/empty", count_cb, &n));
	T_ASSERT(n == 0);
	T_OK(daxfs_readdir(fs, "/d/full", count_cb, &n));
	T_ASSERT(n == 1);
	T_ERR(daxfs_readdir(fs, "/d/h", count_cb, &n), ENOTDIR);
	T_ERR(daxfs_readdir(fs, "/nope", count_cb, &n), ENOENT);
	T_ERR(daxfs_readdir(fs, "/big", NULL, NULL), EINVAL);
}

/* --- copy I/O --- */

static void check_read(uint64_t ino, const uint8_t *want, uint64_t off, size_t len, size_t piece)
{
	uint8_t *got = xmalloc(len);

	for (size_t at = 0; at < len;) {
		size_t n = len - at < piece ? len - at : piece;
		ssize_t r = daxfs_pread(fs, ino, got + at, n, off + at);

		if (r != (ssize_t)n)
			T_FAIL("pread of %zu at %" PRIu64 ": %zd (%s)", n, off + at, r,
			       daxfs_errormsg());
		at += n;
	}
	if (memcmp(got, want, len) != 0)
		T_FAIL("read back %zu bytes at %" PRIu64 " in pieces of %zu: they differ", len, off,
		       piece);
	free(got);
}

static void test_io(void)
{
	static const uint64_t sizes[] = {
		WIRE_INLINE_MAX, WIRE_INLINE_MAX + 1, 100000, 4 * MiB, 4 * MiB + 1, 9 * MiB + 12345,
	};
	static const uint64_t offs[] = {0, 4095, MiB + 7};
	uint8_t small[200], got[300];
	struct daxfs_stat st, x;
	char path[64];

	/* Small, inline. */
	T_OK(daxfs_create(fs, "/io", 0644, DAXFS_CREATE_EXCL, &st));
	fill_rand(small, sizeof(small));
	T_ASSERT(daxfs_pwrite(fs, st.ino, small, 100, 0) == 100);
	T_ASSERT(daxfs_pread(fs, st.ino, got, 100, 0) == 100);
	T_ASSERT(memcmp(got, small, 100) == 0);
	T_ASSERT(daxfs_pread(fs, st.ino, got, 300, 0) == 100); /* short at the end */
	T_ASSERT(daxfs_pread(fs, st.ino, got, 300, 100) == 0);
	T_ASSERT(daxfs_pread(fs, st.ino, got, 300, UINT64_C(1) << 40) == 0);
	T_ASSERT(daxfs_pwrite(fs, st.ino, small + 100, 10, 10) == 10);
	memcpy(small + 10, small + 100, 10);
	T_ASSERT(daxfs_pread(fs, st.ino, got, 300, 0) == 100);
	T_ASSERT(memcmp(got, small, 100) == 0);
	T_ASSERT(daxfs_pwrite(fs, st.ino, small, 0, 0) == 0);
	T_ASSERT(daxfs_pread(fs, st.ino, got, 0, 0) == 0);
	T_OK(daxfs_stat(fs, "/io", &x));
	T_ASSERT(x.size == 100);
	T_ERR(daxfs_pwrite(fs, st.ino, small, 1, UINT64_C(1) << 62), EFBIG);
	T_ERR(daxfs_pread(fs, 999999, got, 10, 0), ENOENT);
	T_ERR(daxfs_pwrite(fs, 999999, got, 10, 0), ENOENT);
	T_ERR(daxfs_pread(fs, 1, got, 10, 0), EISDIR);
	T_ERR(daxfs_pwrite(fs, 1, got, 10, 0), EISDIR);
	T_ERR(daxfs_pread(fs, st.ino, NULL, 10, 0), EINVAL);
	expect_file("/io", true);

	/* Large: through the shared buffer, in several requests; also unaligned. */
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t off = offs[i % 3], len = sizes[i];
		uint8_t *buf = xmalloc(len), *zeros;

		snprintf(path, sizeof(path), "/large-%zu", i);
		T_OK(daxfs_create(fs, path, 0644, DAXFS_CREATE_EXCL, &st));
		fill_rand(buf, len);
		T_ASSERT(daxfs_pwrite(fs, st.ino, buf, len, off) == (ssize_t)len);
		T_OK(daxfs_getattr(fs, st.ino, &x));
		T_ASSERT(x.size == off + len);
		check_read(st.ino, buf, off, len, len);
		check_read(st.ino, buf, off, len, 70001);
		check_read(st.ino, buf, off, len, 3 * MiB + 5);
		if (off) {
			zeros = xmalloc(off);
			T_ASSERT(daxfs_pread(fs, st.ino, zeros, off, 0) == (ssize_t)off);
			T_ASSERT(all_zero(zeros, off));
			free(zeros);
		}
		free(buf);
		expect_file(path, true);
	}

	/* Sparse: one page at 10 MiB; the rest reads as zeros and takes no blocks. */
	{
		uint8_t *buf = xmalloc(10 * MiB + 4096);

		T_OK(daxfs_create(fs, "/sparse", 0644, DAXFS_CREATE_EXCL, &st));
		fill_rand(buf, 4096);
		T_ASSERT(daxfs_pwrite(fs, st.ino, buf, 4096, 10 * MiB) == 4096);
		T_OK(daxfs_getattr(fs, st.ino, &x));
		T_ASSERT(x.size == 10 * MiB + 4096);
		T_ASSERT(x.blocks >= 1 && x.blocks < 10 * MiB / 4096 / 2);
		T_ASSERT(daxfs_pread(fs, st.ino, buf + 4096, 10 * MiB, 0) == (ssize_t)(10 * MiB));
		T_ASSERT(all_zero(buf + 4096, 10 * MiB));
		T_ASSERT(daxfs_pread(fs, st.ino, buf + 4096, 4096, 10 * MiB) == 4096);
		T_ASSERT(memcmp(buf, buf + 4096, 4096) == 0);
		free(buf);
		expect_file("/sparse", false);
	}
}

/* --- fallocate, fsync --- */

static void test_fallocate(void)
{
	uint8_t *pat = xmalloc(MiB), *got = xmalloc(MiB);
	struct daxfs_statfs sf0, sf1;
	struct daxfs_stat st, x;
	uint64_t blocks;

	T_OK(daxfs_statfs(fs, &sf0));
	T_OK(daxfs_create(fs, "/fa", 0644, DAXFS_CREATE_EXCL, &st));
	T_OK(daxfs_fallocate(fs, st.ino, 0, 0, MiB));
	T_OK(daxfs_getattr(fs, st.ino, &x));
	T_ASSERT(x.size == MiB && x.blocks >= MiB / 4096);
	T_ASSERT(daxfs_pread(fs, st.ino, got, MiB, 0) == (ssize_t)MiB && all_zero(got, MiB));
	T_OK(daxfs_fallocate(fs, st.ino, DAXFS_FALLOC_KEEP_SIZE, MiB, MiB));
	T_OK(daxfs_getattr(fs, st.ino, &x));
	T_ASSERT(x.size == MiB && x.blocks >= 2 * MiB / 4096);
	T_OK(daxfs_statfs(fs, &sf1));
	T_ASSERT(sf0.blocks_free - sf1.blocks_free >= 2 * MiB / 4096);
	blocks = x.blocks;

	fill_rand(pat, MiB);
	T_ASSERT(daxfs_pwrite(fs, st.ino, pat, MiB, 0) == (ssize_t)MiB);
	T_OK(daxfs_fallocate(fs, st.ino, DAXFS_FALLOC_PUNCH_HOLE | DAXFS_FALLOC_KEEP_SIZE, 100000,
			     300000));
	T_OK(daxfs_getattr(fs, st.ino, &x));
	T_ASSERT(x.size == MiB);
	/* The whole pages inside [100000, 400000) are freed: 25 .. 97. */
	T_ASSERT(blocks - x.blocks >= 97 - 25);
	memset(pat + 100000, 0, 300000);
	T_ASSERT(daxfs_pread(fs, st.ino, got, MiB, 0) == (ssize_t)MiB);
	T_ASSERT(memcmp(got, pat, MiB) == 0);

	T_ERR(daxfs_fallocate(fs, st.ino, DAXFS_FALLOC_PUNCH_HOLE, 0, 4096), EINVAL);
	T_ERR(daxfs_fallocate(fs, st.ino, 0, 0, 0), EINVAL);
	T_ERR(daxfs_fallocate(fs, st.ino, 4, 0, 4096), EINVAL);
	T_ERR(daxfs_fallocate(fs, 1, 0, 0, 4096), EISDIR);
	T_ERR(daxfs_fallocate(fs, 999999, 0, 0, 4096), ENOENT);
	T_ERR(daxfs_fallocate(fs, st.ino, 0, UINT64_C(1) << 62, 4096), EFBIG);
	T_OK(daxfs_fsync(fs, st.ino));
	T_OK(daxfs_fsync(fs, 1));
	T_ERR(daxfs_fsync(fs, 999999), ENOENT);
	expect_file("/fa", true);
	free(pat);
	free(got);
}

/* --- path errors --- */

static void test_paths(void)
{
	static const char *const relative[] = {"a", "d/h", "", "./d", "/d/../d", "/d/./h"};
	char *p = xmalloc(5000);
	struct daxfs_stat st;
	int n = 0;

	/* A name of 256 bytes is too long; 255 is fine. */
	p[0] = '/';
	memset(p + 1, 'n', 256);
	p[257] = '\0';
	T_ERR(daxfs_stat(fs, p, &st), ENAMETOOLONG);
	T_ERR(daxfs_mkdir(fs, p, 0755, NULL), ENAMETOOLONG);
	T_ERR(daxfs_create(fs, p, 0644, 0, NULL), ENAMETOOLONG);
	T_ERR(daxfs_rename(fs, "/d/h", p, 0), ENAMETOOLONG);
	p[256] = '\0';
	T_OK(daxfs_create(fs, p, 0644, DAXFS_CREATE_EXCL, NULL));
	T_OK(daxfs_stat(fs, p, &st));
	T_OK(daxfs_unlink(fs, p));
	/* A path of 4096 bytes and more (the protocol's limit counts the NUL). */
	for (int i = 0; i < 2100; i++)
		memcpy(p + 2 * i, "/a", 2);
	p[4200] = '\0';
	T_ERR(daxfs_stat(fs, p, &st), ENAMETOOLONG);
	T_ERR(daxfs_mkdir(fs, p, 0755, NULL), ENAMETOOLONG);
	T_ERR(daxfs_unlink(fs, p), ENAMETOOLONG);
	p[4096] = '\0';
	T_ERR(daxfs_stat(fs, p, &st), ENAMETOOLONG);
	p[4094] = '\0'; /* 4094 bytes + NUL: allowed, and /a/a/... does not exist */
	T_ERR(daxfs_stat(fs, p, &st), ENOENT);

	/* Relative paths, "." and ".." are refused. */
	for (size_t i = 0; i < sizeof(relative) / sizeof(relative[0]); i++) {
		const char *r = relative[i];

		T_ERR(daxfs_stat(fs, r, &st), EINVAL);
		T_ERR(daxfs_mkdir(fs, r, 0755, NULL), EINVAL);
		T_ERR(daxfs_create(fs, r, 0644, 0, NULL), EINVAL);
		T_ERR(daxfs_unlink(fs, r), EINVAL);
		T_ERR(daxfs_rmdir(fs, r), EINVAL);
		T_ERR(daxfs_rename(fs, r, "/x", 0), EINVAL);
		T_ERR(daxfs_rename(fs, "/d/h", r, 0), EINVAL);
		T_ERR(daxfs_readdir(fs, r, count_cb, &n), EINVAL);
		T_ERR(daxfs_truncate(fs, r, 0), EINVAL);
	}
	T_ERR(daxfs_stat(fs, NULL, &st), EINVAL);
	T_ERR(daxfs_unlink(fs, NULL), EINVAL);
	/* The session is still fine after all of these. */
	T_OK(daxfs_stat(fs, "/d/h", &st));
	free(p);
}

/* --- the CLI --- */

static json_object *parse_json(const char *text)
{
	json_object *j = json_tokener_parse(text);

	if (!j)
		T_FAIL("not JSON: %s", text);
	return j;
}

static int64_t json_int(json_object *j, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(j, key, &v))
		T_FAIL("no \"%s\" in %s", key, json_object_to_json_string(j));
	return json_object_get_int64(v);
}

static const char *json_str(json_object *j, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(j, key, &v) || !json_object_is_type(v, json_type_string))
		T_FAIL("no string \"%s\" in %s", key, json_object_to_json_string(j));
	return json_object_get_string(v);
}

static void write_local(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "w");

	T_ASSERT(f);
	T_ASSERT(fwrite(buf, 1, len, f) == len);
	T_ASSERT(fclose(f) == 0);
}

/* cli_ok - run the CLI; it must succeed with nothing on stderr. Return: its stdout. */
#define cli_ok(...)                                                                     \
	({                                                                              \
		char *_o, *_e;                                                          \
		int _rc = t_cli(&d, &_o, &_e, __VA_ARGS__, NULL);                       \
		if (_rc != 0 || _e[0])                                                  \
			T_FAIL("daxfs %s: exit %d, stderr: %s", #__VA_ARGS__, _rc, _e); \
		free(_e);                                                               \
		_o;                                                                     \
	})

/* cli_fails - run the CLI; it must exit with @code and say @msg on stderr, nothing on stdout. */
#define cli_fails(code, msg, ...)                                                         \
	do {                                                                              \
		char *_o, *_e;                                                            \
		int _rc = t_cli(&d, &_o, &_e, __VA_ARGS__, NULL);                         \
		if (_rc != (code) || !strstr(_e, (msg)) || _o[0])                         \
			T_FAIL("daxfs %s: exit %d (expected %d), stdout: %s, stderr: %s " \
			       "(expected \"%s\")",                                       \
			       #__VA_ARGS__, _rc, (code), _o, _e, (msg));                 \
		free(_o);                                                                 \
		free(_e);                                                                 \
	} while (0)

/*
 * put_pipe_and_full - `daxfs put -` reads a pipe inline, and a put of a regular file (read
 * one chunk ahead on a second thread) that runs out of space stops with the daemon's error,
 * in bounded time, and gives back every block once the partial file is removed.
 */
static void put_pipe_and_full(const uint8_t *data, size_t len)
{
	char cmd[1024], *o, *e;
	struct daxfs_statfs sf, sf2;
	struct daxfs_stat st;
	uint64_t huge;
	int fd;

	snprintf(cmd, sizeof(cmd), "cat '%s' | '%s' --socket '%s' put - /cli/piped",
		 t_path("local.bin"), t_cli_path(), d.sock);
	{
		const char *argv[] = {"/bin/sh", "-c", cmd, NULL};

		if (t_run(argv, &o, &e) != 0 || e[0])
			T_FAIL("put from a pipe: %s", e);
		free(o);
		free(e);
	}
	T_OK(daxfs_stat(fs, "/cli/piped", &st));
	T_ASSERT(st.size == len);
	check_read(st.ino, data, 0, len, len);
	T_OK(daxfs_unlink(fs, "/cli/piped"));

	/* A sparse local file 8 MiB larger than what is free (root may use the reserve). */
	T_OK(daxfs_statfs(fs, &sf));
	huge = sf.blocks_free * sf.block_size + 8 * MiB;
	fd = open(t_path("huge.bin"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	T_ASSERT(fd >= 0 && ftruncate(fd, (off_t)huge) == 0 && close(fd) == 0);
	cli_fails(1, "daxfs put: /cli/huge: No space left on device", "put", t_path("huge.bin"),
		  "/cli/huge");
	T_ASSERT(unlink(t_path("huge.bin")) == 0);
	T_OK(daxfs_unlink(fs, "/cli/huge"));
	T_OK(daxfs_statfs(fs, &sf2));
	if (sf2.blocks_free != sf.blocks_free)
		T_FAIL("a put that ran out of space leaked blocks: %" PRIu64
		       " free before, %" PRIu64 " after removing it",
		       sf.blocks_free, sf2.blocks_free);
}

static void test_cli(void)
{
	const size_t big = 5 * MiB;
	uint8_t *data = xmalloc(big);
	const char *small = "small text\nsecond line\n";
	struct daxfs_stat st, x;
	struct daxfs_statfs sf, sf2;
	char *out, *back, line[256];
	json_object *j, *e;
	size_t len;

	/* put / get: the bytes make the round trip. */
	fill_rand(data, big);
	write_local(t_path("local.bin"), data, big);
	T_OK(daxfs_mkdir(fs, "/cli", 0755, NULL));
	free(cli_ok("put", t_path("local.bin"), "/cli/big"));
	T_OK(daxfs_stat(fs, "/cli/big", &st));
	T_ASSERT(st.size == big && S_ISREG(st.mode));
	check_read(st.ino, data, 0, big, big);
	free(cli_ok("get", "/cli/big", t_path("back.bin")));
	back = t_read_file(t_path("back.bin"), &len);
	T_ASSERT(len == big && memcmp(back, data, big) == 0);
	free(back);
	free(cli_ok("put", t_path("local.bin"), "/cli/keep"));
	expect_file("/cli/keep", false);
	put_pipe_and_full(data, big);

	/* stat --json */
	out = cli_ok("stat", "--json", "/cli/big");
	j = parse_json(out);
	T_ASSERT(strcmp(json_str(j, "path"), "/cli/big") == 0);
	T_ASSERT(strcmp(json_str(j, "type"), "file") == 0);
	T_ASSERT(json_int(j, "ino") == (int64_t)st.ino);
	T_ASSERT(json_int(j, "size") == (int64_t)big);
	T_ASSERT(json_int(j, "mode") == (int64_t)st.mode);
	T_ASSERT(json_int(j, "nlink") == 1);
	T_ASSERT(json_int(j, "uid") == 0 && json_int(j, "gid") == 0);
	T_ASSERT(json_int(j, "blocks") == (int64_t)st.blocks);
	T_ASSERT(json_int(j, "mtime_ns") == st.mtime_ns);
	json_object_put(j);
	free(out);
	out = cli_ok("stat", "/cli/big");
	T_ASSERT(strstr(out, "regular file") && strstr(out, "5242880"));
	free(out);

	/* ls, ls -l, ls --json */
	free(cli_ok("put", t_path("local.bin"), "/cli/another"));
	out = cli_ok("ls", "/cli");
	T_ASSERT(strcmp(out, "another\nbig\nkeep\n") == 0);
	free(out);
	out = cli_ok("ls", "-l", "/cli");
	T_ASSERT(strstr(out, "-rw-r--r-- 1 root root 5242880 ") && strstr(out, " big\n"));
	T_ASSERT(strstr(out, " another\n") && strstr(out, " keep\n"));
	free(out);
	out = cli_ok("ls", "--json", "/cli");
	j = parse_json(out);
	T_ASSERT(json_object_is_type(j, json_type_array) && json_object_array_length(j) == 3);
	e = json_object_array_get_idx(j, 1);
	T_ASSERT(strcmp(json_str(e, "name"), "big") == 0);
	T_ASSERT(json_int(e, "ino") == (int64_t)st.ino && json_int(e, "size") == (int64_t)big);
	json_object_put(j);
	free(out);

	/* mkdir -p, mv, truncate, cat, rm, rm -r */
	free(cli_ok("mkdir", "-p", "/cli/a/b/c"));
	T_OK(daxfs_stat(fs, "/cli/a/b/c", &x));
	T_ASSERT(S_ISDIR(x.mode));
	free(cli_ok("mkdir", "-p", "/cli/a/b/c"));
	cli_fails(1, "daxfs mkdir: /cli/a: File exists", "mkdir", "/cli/a");
	free(cli_ok("mv", "/cli/big", "/cli/a/big2"));
	T_ERR(daxfs_stat(fs, "/cli/big", &x), ENOENT);
	T_OK(daxfs_stat(fs, "/cli/a/big2", &x));
	T_ASSERT(x.ino == st.ino);
	free(cli_ok("mv", "/cli/a/big2", "/cli/a/b/"));
	T_OK(daxfs_stat(fs, "/cli/a/b/big2", &x));
	T_ASSERT(x.ino == st.ino);
	free(cli_ok("truncate", "1M", "/cli/a/b/big2"));
	T_OK(daxfs_stat(fs, "/cli/a/b/big2", &x));
	T_ASSERT(x.size == MiB);
	check_read(x.ino, data, 0, MiB, MiB);
	cli_fails(2, "bad size", "truncate", "1Q", "/cli/a/b/big2");
	write_local(t_path("small.txt"), small, strlen(small));
	free(cli_ok("put", t_path("small.txt"), "/cli/small"));
	out = cli_ok("cat", "/cli/small");
	T_ASSERT(strcmp(out, small) == 0);
	free(out);
	free(cli_ok("rm", "/cli/small"));
	T_ERR(daxfs_stat(fs, "/cli/small", &x), ENOENT);
	cli_fails(1, "daxfs rm: /cli/a: Is a directory", "rm", "/cli/a");
	T_OK(daxfs_stat(fs, "/cli/a", &x));
	free(cli_ok("rm", "-r", "/cli/a"));
	T_ERR(daxfs_stat(fs, "/cli/a", &x), ENOENT);
	T_ERR(daxfs_getattr(fs, st.ino, &x), ENOENT);

	/* df, status */
	T_OK(daxfs_statfs(fs, &sf));
	out = cli_ok("df");
	T_ASSERT(strstr(out, "Size") && strstr(out, "Used") && strstr(out, d.sock));
	free(out);
	out = cli_ok("df", "--json");
	j = parse_json(out);
	T_ASSERT(json_int(j, "size") == (int64_t)(sf.blocks * sf.block_size));
	/* Frees after a grace period may still come in: nothing is allocating now. */
	T_OK(daxfs_statfs(fs, &sf2));
	T_ASSERT(json_int(j, "free") >= (int64_t)(sf.blocks_free * sf.block_size));
	T_ASSERT(json_int(j, "free") <= (int64_t)(sf2.blocks_free * sf2.block_size));
	json_object_put(j);
	free(out);
	out = cli_ok("status");
	T_ASSERT(strstr(out, d.sock) && strstr(out, "map trust"));
	free(out);
	out = cli_ok("status", "--json");
	j = parse_json(out);
	T_ASSERT(json_int(j, "files") == (int64_t)sf.files);
	T_ASSERT(strcmp(json_str(j, "socket"), d.sock) == 0);
	json_object_put(j);
	free(out);

	/* Failures: a missing path (1), bad usage (2), no daemon (1). */
	cli_fails(1, "daxfs stat: /nope: No such file or directory", "stat", "/nope");
	cli_fails(1, "daxfs ls: /nope: No such file or directory", "ls", "/nope");
	cli_fails(1, "daxfs cat: /nope: No such file or directory", "cat", "/nope");
	cli_fails(1, "No such file or directory", "get", "/nope", t_path("nope.out"));
	T_ASSERT(access(t_path("nope.out"), F_OK) != 0);
	cli_fails(1, "No such file or directory", "put", t_path("no-local-file"), "/cli/x");
	cli_fails(2, "usage: daxfs stat", "stat");
	cli_fails(2, "usage: daxfs mv", "mv", "/cli/keep");
	cli_fails(2, "usage: daxfs ls", "ls", "-Z");
	cli_fails(2, "unknown command 'frobnicate'", "frobnicate");
	{
		const char *argv[] = {t_cli_path(), "--socket", t_path("none.sock"), "status",
				      NULL};
		char *o, *err;

		T_ASSERT(t_run(argv, &o, &err) == 1);
		snprintf(line, sizeof(line), "cannot connect to daxfsd at %s", t_path("none.sock"));
		if (!strstr(err, line) || o[0])
			T_FAIL("daxfs status without a daemon: %s", err);
		free(o);
		free(err);
	}
	free(data);
}

/* --- after the restart --- */

static void verify_all(void)
{
	struct daxfs_stat st;

	for (int i = 0; i < nfiles; i++) {
		struct expect *e = &files[i];

		T_OK(daxfs_stat(fs, e->path, &st));
		if (st.ino != e->ino || st.mode != e->mode || st.uid != e->uid ||
		    st.gid != e->gid || st.size != e->size ||
		    (e->mtime_ns && st.mtime_ns != e->mtime_ns))
			T_FAIL("%s changed across the restart: ino %" PRIu64 "/%" PRIu64
			       " mode 0%o/0%o size %" PRIu64 "/%" PRIu64,
			       e->path, st.ino, e->ino, st.mode, e->mode, st.size, e->size);
		if (e->data)
			check_read(st.ino, e->data, 0, e->size, 3 * MiB);
	}
	check_big_dir();
}

int main(int argc, char **argv)
{
	struct daxfs_stat st;

	t_tools_init(&argc, argv);
	t_require_root("it sets owners; the CLI shows root's files");
	rng = t_seed(argc, argv, 1);
	t_watchdog(240, "test-daemon-ops");
	umask(022); /* the modes the CLI gives what it creates */
	t_region_new(t_path("region"), "512M");
	t_daemon_start(&d, t_path("region"), "daxfsd", NULL);

	test_connect();
	test_statfs();
	test_names();
	test_setattr();
	test_readdir();
	test_io();
	test_fallocate();
	test_paths();
	test_cli();
	verify_all();
	t_daemon_check_alive(&d);

	/* A graceful restart: the open session ends, everything written stays. */
	t_daemon_restart(&d, NULL);
	T_ERR(daxfs_stat(fs, "/d", &st), ECONNRESET);
	T_ERR(daxfs_stat(fs, "/d", &st), ECONNRESET);
	daxfs_close(fs);
	T_OK(daxfs_open(&fs, d.sock));
	verify_all();
	daxfs_close(fs);
	t_daemon_stop(&d);
	for (int i = 0; i < nfiles; i++)
		free(files[i].data);
	printf("ok: %d files, %d directory entries, the CLI, a restart\n", nfiles, BIG_DIR_ENTRIES);
	return 0;
}
