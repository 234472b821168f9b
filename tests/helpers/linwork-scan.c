// SPDX-License-Identifier: MIT
/*
 * linwork-scan - reading the whole tree while it is quiet, and starting it afresh
 * (linwork.h): the states the rounds of the linearizability tests start and end in. Names
 * are looked at themselves (lstat): a symbolic link is read (readlink), never followed, and
 * a file with several names is one inode of the state, met again.
 */
#include <errno.h>
#include <sys/stat.h>

#include <daxfs/daxfs.h>

#include "linwork.h"
#include "testutil.h"

#define TOO_MANY_INODES 20
#define TOO_MANY_ENTRIES 24 /* a round adds at most one per action: 64 fit the model */
#define TOO_DEEP 3

struct scan_ent {
	char name;
	uint64_t ino;
};

struct scan_ctx {
	struct scan_ent e[LC_NAMES + 1];
	unsigned n;
	const char *dir;
};

static int scan_cb(void *ctx, const char *name, uint64_t ino, uint32_t mode)
{
	struct scan_ctx *s = ctx;

	(void)mode;
	if (s->n == LC_NAMES || strlen(name) != 1 || name[0] < 'a' || name[0] >= 'a' + LC_NAMES)
		T_FAIL("scan: %s holds \"%s\", which the workload never makes", s->dir, name);
	s->e[s->n++] = (struct scan_ent){name[0], ino};
	return 0;
}

/* What a scan found that is not a tree: the first such thing, said in @why. */
struct scan_bad {
	char *why;
	size_t len;
	bool bad;
};

static void scan_dir(struct daxfs *fs, struct lc_state *s, const char *dir, uint64_t dino,
		     unsigned depth, struct scan_bad *sb)
{
	struct scan_ctx sc = {.dir = dir};

	T_ASSERT(depth <= LC_INODES_MAX);
	T_OK(daxfs_readdir(fs, dir, scan_cb, &sc));
	for (unsigned i = 0; i < sc.n; i++) {
		struct lc_inode in = {0};
		struct daxfs_statx stx;
		struct daxfs_stat st;
		char path[512];
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%c", depth ? dir : "", sc.e[i].name);
		n = daxfs_statx(fs, path, DAXFS_STAT_NOFOLLOW, &stx);
		st = stx.st;
		/* A name that names nothing, or another inode: not a tree; the rest is read. */
		if (n == -ENOENT || (n == 0 && st.ino != sc.e[i].ino)) {
			if (!sb->bad)
				snprintf(sb->why, sb->len,
					 "readdir of %s lists %c as inode %" PRIu64
					 ", lstat finds %s %" PRIu64,
					 dir, sc.e[i].name, sc.e[i].ino, n ? "no inode" : "inode",
					 n ? 0 : st.ino);
			sb->bad = true;
			continue;
		}
		T_OK(n);
		if (!S_ISDIR(st.mode) && st.size > LC_DATA_MAX)
			T_FAIL("scan: %s has %" PRIu64 " bytes, more than the workload writes",
			       path, st.size);
		if (!S_ISDIR(st.mode) && !S_ISREG(st.mode) && !S_ISLNK(st.mode))
			T_FAIL("scan: %s has mode 0%o, a kind the workload never makes", path,
			       st.mode);
		in.ino = st.ino;
		in.isdir = S_ISDIR(st.mode);
		in.islink = S_ISLNK(st.mode);
		in.perm = (uint16_t)(st.mode & 07777);
		in.nlink = st.nlink;
		if (in.islink) {
			in.size = (uint32_t)st.size;
			n = daxfs_readlink(fs, path, (char *)in.data, LC_DATA_MAX);
			if (n != (ssize_t)st.size)
				T_FAIL("scan: readlink %s: %zd of %u bytes", path, n, in.size);
		} else if (!in.isdir) {
			in.size = (uint32_t)st.size;
			n = daxfs_pread(fs, st.ino, in.data, LC_DATA_MAX, 0);
			if (n != (ssize_t)st.size)
				T_FAIL("scan: read %s: %zd of %u bytes", path, n, in.size);
		}
		if (lc_state_add(s, dino, (uint8_t)(sc.e[i].name - 'a'), &in))
			T_FAIL("scan: %s does not fit the model (%u inodes and entries at most), "
			       "or is another name of an inode it does not match",
			       path, LC_INODES_MAX);
		if (in.isdir)
			scan_dir(fs, s, path, in.ino, depth + 1, sb);
	}
}

bool lw_scan(struct daxfs *fs, struct lc_state *s, char *why, size_t len)
{
	struct scan_bad sb = {why, len, false};
	struct daxfs_stat st;

	T_OK(daxfs_stat(fs, "/", &st));
	T_ASSERT(st.ino == LC_ROOT);
	lc_state_init(s, (uint16_t)(st.mode & 07777));
	s->in[0].nlink = st.nlink;
	scan_dir(fs, s, "/", LC_ROOT, 0, &sb);
	return !sb.bad && lc_state_check(s, why, len);
}

static void remove_tree(struct daxfs *fs, const char *dir, unsigned depth)
{
	struct scan_ctx sc = {.dir = dir};

	T_ASSERT(depth <= LC_INODES_MAX);
	T_OK(daxfs_readdir(fs, dir, scan_cb, &sc));
	for (unsigned i = 0; i < sc.n; i++) {
		struct daxfs_statx stx;
		char path[512];

		snprintf(path, sizeof(path), "%s/%c", depth ? dir : "", sc.e[i].name);
		T_OK(daxfs_statx(fs, path, DAXFS_STAT_NOFOLLOW, &stx));
		if (S_ISDIR(stx.st.mode)) {
			remove_tree(fs, path, depth + 1);
			T_OK(daxfs_rmdir(fs, path));
		} else {
			T_OK(daxfs_unlink(fs, path));
		}
	}
}

void lw_reset(struct daxfs *fs)
{
	static const uint8_t bytes[] = {0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6};
	static const struct {
		const char *path;
		char kind; /* 'd' directory, 'f' file, 'h' another name of @to, 's' link to @to */
		unsigned len;
		const char *to;
	} tree[] = {{"/a", 'd', 0, NULL},  {"/b", 'd', 0, NULL}, {"/a/c", 'f', 6, NULL},
		    {"/c", 'f', 5, NULL},  {"/d", 'f', 0, NULL}, {"/b/d", 'h', 0, "/c"},
		    {"/b/a", 's', 0, "/a"}};
	struct daxfs_stat st, to = {.mode = 0755};

	remove_tree(fs, "/", 0);
	T_OK(daxfs_setattr(fs, LC_ROOT, DAXFS_SET_MODE, &to, NULL));
	for (size_t i = 0; i < sizeof(tree) / sizeof(tree[0]); i++) {
		if (tree[i].kind == 'd') {
			T_OK(daxfs_mkdir(fs, tree[i].path, 0755, NULL));
			continue;
		}
		if (tree[i].kind == 'h') {
			T_OK(daxfs_link(fs, tree[i].to, tree[i].path, NULL));
			continue;
		}
		if (tree[i].kind == 's') {
			T_OK(daxfs_symlink(fs, tree[i].to, tree[i].path, NULL));
			continue;
		}
		T_OK(daxfs_create(fs, tree[i].path, 0644, DAXFS_CREATE_EXCL, &st));
		if (tree[i].len)
			T_ASSERT(daxfs_pwrite(fs, st.ino, bytes, tree[i].len, 0) ==
				 (ssize_t)tree[i].len);
	}
}

static unsigned depth_of(const struct lc_state *s, uint64_t ino)
{
	unsigned d = 0;

	while (ino != LC_ROOT && d <= s->nin) {
		uint64_t up = 0;

		for (unsigned i = 0; i < s->nde; i++)
			if (s->de[i].ino == ino)
				up = s->de[i].dir;
		if (!up)
			break;
		ino = up;
		d++;
	}
	return d;
}

bool lw_too_big(const struct lc_state *s)
{
	if (s->nin > TOO_MANY_INODES || s->nde > TOO_MANY_ENTRIES)
		return true;
	for (unsigned i = 0; i < s->nin; i++)
		if (depth_of(s, s->in[i].ino) > TOO_DEEP)
			return true;
	return false;
}
