// SPDX-License-Identifier: MIT
/*
 * test-logwrap - a small metadata log (2 MiB areas) compacted over and over while a set of
 * long-lived files and directories is kept and changed.
 *
 * Churn (short-lived files with long names created in the long-lived directories, written,
 * punched, truncated, renamed over each other and unlinked) runs next to changes of the
 * long-lived set (overwrites, extensions, truncates, renames, attribute changes) until the
 * log has been checkpointed at least 10 times (ns_statfs().checkpoints). Everything is checked
 * against an in-memory model after every checkpoint, before the unmount and after the mount;
 * then the same again on the remounted namespace: another 10 checkpoints, another restart.
 *
 * Usage: test-logwrap [seed]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "namespace.h"
#include "nstest.h"
#include "rcu.h"
#include "testutil.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define PG UINT64_C(4096)
#define REGION_SIZE (64 * MiB)
#define LOG_LEN (2 * MiB)
#define KEEP_DIRS 8
#define KEEP_FILES 40
#define TEMPS 24
#define CHECKPOINTS 10
#define MAX_NODES 4096

static uint64_t rng;
static struct ns *ns;
static const char *img;

static uint64_t rnd(uint64_t n)
{
	return t_rand(&rng) % n;
}

static void fill_rand(uint8_t *p, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t v = t_rand(&rng);

		memcpy(p + i, &v, 8);
	}
	for (; i < len; i++)
		p[i] = (uint8_t)t_rand(&rng);
}

/* ---- the model: a slot per node; slots of removed nodes are reused ------------------------ */

struct node {
	bool live, dir, temp;
	int parent;
	char name[NS_NAME_MAX + 1];
	uint64_t ino;
	uint32_t perm, uid, gid;
	int64_t atime, mtime, ctime;
	uint32_t nsub, nchild;
	uint64_t size, cap, blocks;
	uint8_t *data;
};

static struct node nodes[MAX_NODES];
static int nnodes;
static int keep_dirs[KEEP_DIRS + 1]; /* [0] is the root */
static int keep_files[KEEP_FILES];
static int temps[TEMPS]; /* a ring of short-lived files; -1: empty */
static unsigned temp_next;

static int node_new(void)
{
	for (int i = 1; i < nnodes; i++)
		if (!nodes[i].live) {
			memset(&nodes[i], 0, sizeof(nodes[i]));
			return i;
		}
	T_ASSERT(nnodes < MAX_NODES);
	memset(&nodes[nnodes], 0, sizeof(nodes[nnodes]));
	return nnodes++;
}

static void data_resize(struct node *n, uint64_t size)
{
	if (size > n->cap) {
		uint64_t cap = size + size / 4 + PG;

		n->data = realloc(n->data, cap);
		T_ASSERT(n->data);
		memset(n->data + n->cap, 0, cap - n->cap);
		n->cap = cap;
	}
	if (size < n->size)
		memset(n->data + size, 0, n->size - size);
	n->size = size;
}

static int child_named(int dir, const char *name)
{
	for (int i = 0; i < nnodes; i++)
		if (nodes[i].live && nodes[i].parent == dir && strcmp(nodes[i].name, name) == 0)
			return i;
	return -1;
}

static void unique_name(int dir, char *out, size_t len)
{
	static const char chars[] =
		"abcdefghijklmnopqrstuvwxyz0123456789-_.ABCDEFGHIJKLMNOPQRSTUVWXYZ";

	do {
		for (size_t i = 0; i < len; i++)
			out[i] = chars[rnd(sizeof(chars) - 1)];
		out[len] = '\0';
	} while (strcmp(out, ".") == 0 || strcmp(out, "..") == 0 || child_named(dir, out) >= 0);
}

static void refresh(int i)
{
	struct ns_attr a;

	T_OK(ns_getattr(ns, nodes[i].ino, &a));
	nodes[i].blocks = a.blocks;
	nodes[i].atime = a.atime;
	nodes[i].mtime = a.mtime;
	nodes[i].ctime = a.ctime;
}

/* ---- checking ----------------------------------------------------------------------------- */

static void check_node(int i, const char *when)
{
	static uint8_t buf[1 << 20];
	const struct node *n = &nodes[i];
	uint32_t mode = (n->dir ? S_IFDIR : S_IFREG) | n->perm;
	uint32_t nlink = n->dir ? 2 + n->nsub : 1;
	struct ns_attr a;

	T_OK(ns_getattr(ns, n->ino, &a));
	if (a.mode != mode || a.uid != n->uid || a.gid != n->gid || a.nlink != nlink ||
	    a.size != (n->dir ? 0 : n->size) || a.blocks != n->blocks || a.atime != n->atime ||
	    a.mtime != n->mtime || a.ctime != n->ctime)
		T_FAIL("%s: node %d (ino %" PRIu64 "): attributes differ: mode %o/%o uid %u/%u "
		       "gid %u/%u nlink %u/%u size %" PRIu64 "/%" PRIu64 " blocks %" PRIu64
		       "/%" PRIu64 " atime %" PRId64 "/%" PRId64 " mtime %" PRId64 "/%" PRId64
		       " ctime %" PRId64 "/%" PRId64,
		       when, i, n->ino, a.mode, mode, a.uid, n->uid, a.gid, n->gid, a.nlink, nlink,
		       a.size, n->size, a.blocks, n->blocks, a.atime, n->atime, a.mtime, n->mtime,
		       a.ctime, n->ctime);
	if (i > 0) {
		struct ns_attr la;

		T_OK(ns_lookup(ns, NULL, nodes[n->parent].ino, n->name, &la));
		T_ASSERT(la.ino == n->ino);
	}
	for (uint64_t off = 0; !n->dir && off <= n->size;) {
		uint64_t want = n->size - off < sizeof(buf) ? n->size - off : sizeof(buf);
		ssize_t got = ns_read(ns, NULL, n->ino, buf, sizeof(buf), off);

		if (got != (ssize_t)want)
			T_FAIL("%s: node %d: read at %" PRIu64 " = %zd, expected %" PRIu64, when, i,
			       off, got, want);
		if (memcmp(buf, n->data + off, want) != 0)
			for (uint64_t k = 0; k < want; k++)
				if (buf[k] != n->data[off + k])
					T_FAIL("%s: node %d (ino %" PRIu64 "): byte %" PRIu64
					       " is %#x, expected %#x",
					       when, i, n->ino, off + k, buf[k], n->data[off + k]);
		if (want == 0)
			break;
		off += want;
	}
}

struct walk {
	int dir;
	uint32_t seen;
	const char *when;
};

static int walk_entry(void *ctx, const char *name, uint64_t ino, uint32_t mode, uint64_t next)
{
	struct walk *w = ctx;
	int i = child_named(w->dir, name);

	(void)next;
	if (i < 0 || nodes[i].ino != ino || mode != (nodes[i].dir ? S_IFDIR : S_IFREG))
		T_FAIL("%s: readdir of node %d lists \"%s\" (ino %" PRIu64
		       "), which the model does not have",
		       w->when, w->dir, name, ino);
	w->seen++;
	return 0;
}

static void verify(const char *when)
{
	uint64_t blocks = 0, live = 0;
	struct ns_statfs st;

	for (int i = 0; i < nnodes; i++) {
		struct walk w = {i, 0, when};

		if (!nodes[i].live)
			continue;
		live++;
		check_node(i, when);
		blocks += nodes[i].dir ? 0 : nodes[i].blocks;
		if (!nodes[i].dir)
			continue;
		T_OK(ns_readdir(ns, NULL, nodes[i].ino, 0, walk_entry, &w));
		if (w.seen != nodes[i].nchild)
			T_FAIL("%s: node %d lists %u entries, expected %u", when, i, w.seen,
			       nodes[i].nchild);
	}
	rcu_barrier_all();
	ns_statfs(ns, &st);
	if (st.files != live || st.orphans != 0 ||
	    st.blocks - st.blocks_free - st.blocks_quarantined != blocks)
		T_FAIL("%s: statfs: %" PRIu64 " files (model %" PRIu64 "), %" PRIu64
		       " orphans, %" PRIu64 " blocks used (files hold %" PRIu64 ")",
		       when, st.files, live, st.orphans,
		       st.blocks - st.blocks_free - st.blocks_quarantined, blocks);
}

/* ---- changes ------------------------------------------------------------------------------ */

static int make(int parent, bool dir, size_t name_len, bool temp)
{
	int i = node_new();
	struct node *n = &nodes[i], *p = &nodes[parent];
	struct ns_attr a;

	unique_name(parent, n->name, name_len);
	n->parent = parent;
	n->dir = dir;
	n->temp = temp;
	n->perm = (uint32_t)rnd(010000);
	n->uid = (uint32_t)rnd(100000);
	n->gid = (uint32_t)rnd(100000);
	if (dir)
		T_OK(ns_mkdir(ns, T_AS(n->uid, n->gid), p->ino, n->name, n->perm, &a));
	else
		T_OK(ns_create(ns, T_AS(n->uid, n->gid), p->ino, n->name, n->perm, &a));
	/* A set-group-id directory hands down its group (and the bit, to directories). */
	if (p->perm & S_ISGID) {
		n->gid = p->gid;
		if (dir)
			n->perm |= S_ISGID;
	}
	n->ino = a.ino;
	n->live = true;
	p->nchild++;
	p->nsub += dir;
	refresh(i);
	refresh(parent);
	return i;
}

static void write_at(int i, uint64_t off, uint64_t len)
{
	struct node *n = &nodes[i];
	ssize_t got;

	if (off + len > n->size)
		data_resize(n, off + len);
	fill_rand(n->data + off, len);
	got = ns_write(ns, NULL, n->ino, n->data + off, len, off);
	if (got != (ssize_t)len)
		T_FAIL("ns_write(node %d, NULL, %" PRIu64 " at %" PRIu64 ") = %zd", i, len, off,
		       got);
	refresh(i);
}

static void truncate_to(int i, uint64_t size)
{
	struct ns_setattr sa = {.valid = NS_SET_SIZE, .size = size};

	T_OK(ns_setattr(ns, NULL, nodes[i].ino, &sa, NULL));
	data_resize(&nodes[i], size);
	refresh(i);
}

static void punch(int i, uint64_t off, uint64_t len)
{
	struct node *n = &nodes[i];

	T_OK(ns_fallocate(ns, NULL, n->ino, NS_FALLOC_KEEP_SIZE | NS_FALLOC_PUNCH_HOLE, off, len));
	if (off < n->size)
		memset(n->data + off, 0, (off + len > n->size ? n->size : off + len) - off);
	refresh(i);
}

static void unlink_node(int i)
{
	struct node *n = &nodes[i];
	int p = n->parent;

	T_OK(ns_unlink(ns, NULL, nodes[p].ino, n->name));
	n->live = false;
	nodes[p].nchild--;
	free(n->data);
	n->data = NULL;
	n->size = n->cap = 0;
	refresh(p);
}

/* rename_node - @i to @name in @dir (which has no entry @name, or a file @victim there). */
static void rename_node(int i, int dir, const char *name, int victim)
{
	struct node *n = &nodes[i];
	int old = n->parent;

	T_OK(ns_rename(ns, NULL, nodes[old].ino, n->name, nodes[dir].ino, name, 0));
	if (victim >= 0) {
		nodes[victim].live = false;
		nodes[dir].nchild--;
		free(nodes[victim].data);
		nodes[victim].data = NULL;
		nodes[victim].size = nodes[victim].cap = 0;
	}
	nodes[old].nchild--;
	nodes[old].nsub -= n->dir;
	n->parent = dir;
	snprintf(n->name, sizeof(n->name), "%s", name);
	nodes[dir].nchild++;
	nodes[dir].nsub += n->dir;
	refresh(i);
	refresh(old);
	refresh(dir);
}

static void set_attrs(int i)
{
	struct node *n = &nodes[i];
	struct ns_setattr sa = {.valid = NS_SET_MODE | NS_SET_UID | NS_SET_GID | NS_SET_ATIME};
	struct ns_attr a;

	sa.mode = (uint32_t)rnd(010000);
	sa.uid = (uint32_t)t_rand(&rng);
	sa.gid = (uint32_t)t_rand(&rng);
	sa.atime = (int64_t)rnd(UINT64_C(1) << 62);
	if (rnd(2)) {
		sa.valid |= NS_SET_MTIME;
		sa.mtime = -(int64_t)rnd(UINT64_C(1) << 40);
	}
	T_OK(ns_setattr(ns, NULL, n->ino, &sa, &a));
	n->perm = sa.mode;
	n->uid = sa.uid;
	n->gid = sa.gid;
	refresh(i);
	T_ASSERT(n->atime == sa.atime && (!(sa.valid & NS_SET_MTIME) || n->mtime == sa.mtime));
}

/* churn_once - one short-lived file through its life, and one change to the long-lived set. */
static void churn_once(void)
{
	int dir = keep_dirs[rnd(KEEP_DIRS + 1)], t, f;
	unsigned slot = temp_next++ % TEMPS;
	uint64_t r;

	/* The oldest temp goes: unlinked, or replaced by a rename of another one. */
	if (temps[slot] >= 0) {
		unsigned other = (slot + 1 + (unsigned)rnd(TEMPS - 1)) % TEMPS;
		int o = temps[other];

		if (o >= 0 && rnd(4) == 0) {
			char name[NS_NAME_MAX + 1];

			/* @o takes the name and stays in the ring at @other */
			snprintf(name, sizeof(name), "%s", nodes[temps[slot]].name);
			rename_node(o, nodes[temps[slot]].parent, name, temps[slot]);
		} else {
			unlink_node(temps[slot]);
		}
		temps[slot] = -1;
	}
	t = make(dir, false, 100 + rnd(NS_NAME_MAX - 99), true);
	temps[slot] = t;
	write_at(t, rnd(2) ? 0 : rnd(8 * KiB), 1 + rnd(16 * KiB));
	r = rnd(8);
	if (r == 0)
		punch(t, rnd(nodes[t].size), 1 + rnd(3 * PG));
	else if (r == 1)
		truncate_to(t, rnd(nodes[t].size + PG));
	else if (r == 2)
		T_OK(ns_fsync(ns, NULL, nodes[t].ino));

	/*
	 * A change to something that stays. The files past 2 MiB (the first two) are not cut, so
	 * their 2 MiB extents stay whole and go through every checkpoint.
	 */
	f = keep_files[rnd(KEEP_FILES)];
	r = rnd(10);
	if ((r == 3 || r == 4) && (f == keep_files[0] || f == keep_files[1]))
		f = keep_files[2 + rnd(KEEP_FILES - 2)];
	switch (r) {
	case 0:
	case 1:
	case 2: /* overwrite in place (lazy mtime) or extend */
		write_at(f, rnd(nodes[f].size + PG), 1 + rnd(8 * KiB));
		break;
	case 3:
		truncate_to(f, rnd(2) ? rnd(nodes[f].size + 1) : nodes[f].size + rnd(64 * KiB));
		break;
	case 4:
		if (nodes[f].size)
			punch(f, rnd(nodes[f].size), 1 + rnd(4 * PG));
		break;
	case 5: {
		char name[NS_NAME_MAX + 1];
		int to = keep_dirs[rnd(KEEP_DIRS + 1)];

		unique_name(to, name, 1 + rnd(40));
		rename_node(f, to, name, -1);
		break;
	}
	case 6:
		set_attrs(rnd(3) ? f : keep_dirs[rnd(KEEP_DIRS + 1)]);
		break;
	default:
		break;
	}
}

/* churn - until @n more checkpoints happened, checking everything after each. */
static void churn(uint64_t n, const char *what)
{
	struct ns_statfs st;
	uint64_t start, seen, iters = 0;
	char when[96];

	ns_statfs(ns, &st);
	start = seen = st.checkpoints;
	while (seen < start + n) {
		churn_once();
		iters++;
		T_ASSERT(iters < 400000);
		ns_statfs(ns, &st);
		if (st.checkpoints != seen) {
			seen = st.checkpoints;
			snprintf(when, sizeof(when), "%s, after checkpoint %" PRIu64, what, seen);
			verify(when);
		}
	}
	printf("%s: %" PRIu64 " checkpoints in %" PRIu64 " iterations\n", what, seen - start,
	       iters);
}

static void remount(const char *what)
{
	char when[96];
	struct ns_statfs st;

	snprintf(when, sizeof(when), "%s, before the unmount", what);
	verify(when);
	ns_unmount(&ns);
	T_OK(ns_mount(&ns, img, NULL));
	ns_statfs(ns, &st);
	T_ASSERT(st.checkpoints == 0 && st.log_len == LOG_LEN);
	snprintf(when, sizeof(when), "%s, after the mount", what);
	verify(when);
}

int main(int argc, char **argv)
{
	struct ns_mkfs_opts mo = {.log_len = LOG_LEN};
	struct ns_attr a;

	rng = t_seed(argc, argv, 0x6c6f67777261700aULL);
	t_watchdog(280, "test-logwrap");
	rcu_thread_online();
	img = t_path("logwrap.img");
	T_OK(ns_mkfs(img, REGION_SIZE, &mo));
	T_OK(ns_mount(&ns, img, NULL));

	nnodes = 1;
	nodes[0].live = nodes[0].dir = true;
	nodes[0].parent = -1;
	nodes[0].ino = NS_ROOT_INO;
	T_OK(ns_getattr(ns, NS_ROOT_INO, &a));
	nodes[0].perm = a.mode & 07777;
	refresh(0);

	/* The long-lived set: nested directories, files of up to 256 KiB and two past 2 MiB. */
	keep_dirs[0] = 0;
	for (int k = 1; k <= KEEP_DIRS; k++)
		keep_dirs[k] = make(keep_dirs[rnd((uint64_t)k)], true, 1 + rnd(60), false);
	for (int k = 0; k < KEEP_FILES; k++) {
		int f = make(keep_dirs[rnd(KEEP_DIRS + 1)], false, 1 + rnd(60), false);
		uint64_t size = k < 2 ? 2 * MiB + rnd(MiB) : rnd(256 * KiB);

		keep_files[k] = f;
		for (uint64_t off = 0; off < size;) {
			uint64_t len = 1 + rnd(64 * KiB);

			write_at(f, off, off + len > size ? size - off : len);
			off += len;
		}
		if (k % 5 == 4)
			truncate_to(f, size + rnd(MiB)); /* a sparse tail */
	}
	for (int k = 0; k < TEMPS; k++)
		temps[k] = -1;
	verify("the long-lived set");

	churn(CHECKPOINTS, "round 1");
	remount("round 1");
	churn(CHECKPOINTS, "round 2");
	remount("round 2");

	ns_unmount(&ns);
	for (int i = 0; i < nnodes; i++)
		free(nodes[i].data);
	rcu_thread_offline();
	printf("ok\n");
	return 0;
}
