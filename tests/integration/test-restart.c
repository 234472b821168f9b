// SPDX-License-Identifier: MIT
/*
 * test-restart - what a namespace holds survives an unmount and a mount, byte for byte and
 * attribute for attribute.
 *
 * Round 1 builds 1,000 random files and directories (a random tree no deeper than 6, random
 * names of 1..255 bytes, sizes from 0 to ~3 MiB with some sparse files and some past 2 MiB,
 * contents from a seeded PRNG written in random pieces, random modes, owners and times set
 * with ns_setattr), keeping an in-memory model of all of it. Round 2 makes random changes:
 * renames (also over existing entries, and the ones that must fail), exchanges, unlinks,
 * rmdirs, truncates, overwrites, punched holes, new entries and attribute changes. After each
 * round the namespace is compared with the model before the unmount and after the mount:
 * every attribute, every byte, every name (a readdir walk finds nothing the model lacks),
 * every path, and the block accounting (the files' blocks are exactly the used blocks).
 *
 * Usage: test-restart [seed]
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
#define REGION_SIZE (512 * MiB)
#define NODES 1000
#define ROUND2_OPS 1500
#define MAX_DEPTH 6
#define MAX_NODES (NODES + ROUND2_OPS + 1)

static uint64_t rng;
static struct ns *ns;
static struct {
	unsigned renames, rename_errs, exchanges, exchange_errs;
} stats;
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

/* ---- the model ---------------------------------------------------------------------------- */

struct node {
	bool live, dir;
	int parent; /* index of the parent node; -1 for the root */
	char name[NS_NAME_MAX + 1];
	uint64_t ino;
	uint32_t perm; /* 07777 bits */
	uint32_t uid, gid;
	int64_t atime, mtime, ctime;
	uint32_t nsub;	 /* directories: live subdirectories */
	uint32_t nchild; /* directories: live entries */
	uint64_t size, cap;
	uint8_t *data;	 /* files: the bytes (zeros in holes) */
	uint64_t blocks; /* as the engine said after the last change */
};

static struct node nodes[MAX_NODES];
static int nnodes;

static struct node *node_new(void)
{
	struct node *n;

	T_ASSERT(nnodes < MAX_NODES);
	n = &nodes[nnodes++];
	memset(n, 0, sizeof(*n));
	return n;
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

static int depth_of(int i)
{
	int d = 0;

	for (; nodes[i].parent >= 0; i = nodes[i].parent)
		d++;
	return d;
}

/* is_ancestor - is node @a node @d or above it? */
static bool is_ancestor(int a, int d)
{
	for (; d >= 0; d = nodes[d].parent)
		if (d == a)
			return true;
	return false;
}

static int child_named(int dir, const char *name)
{
	for (int i = 0; i < nnodes; i++)
		if (nodes[i].live && nodes[i].parent == dir && strcmp(nodes[i].name, name) == 0)
			return i;
	return -1;
}

/* pick - a random live node matching @want (0 any, 1 file, 2 dir), not the root; -1: none. */
static int pick(int want)
{
	if (nnodes < 2)
		return -1;
	for (int tries = 0; tries < 10000; tries++) {
		int i = 1 + (int)rnd((uint64_t)nnodes - 1);

		if (!nodes[i].live || (want == 1 && nodes[i].dir) || (want == 2 && !nodes[i].dir))
			continue;
		return i;
	}
	return -1;
}

/* pick_dir - a random live directory (the root too) no deeper than @max_depth. */
static int pick_dir(int max_depth)
{
	for (int tries = 0; tries < 10000; tries++) {
		int i = rnd(8) == 0 ? 0 : (int)rnd((uint64_t)nnodes);

		if (nodes[i].live && nodes[i].dir && depth_of(i) <= max_depth)
			return i;
	}
	return 0;
}

static void rand_name(char *out)
{
	static const char alnum[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.";
	size_t len = rnd(12) == 0 ? 1 + rnd(NS_NAME_MAX) : 1 + rnd(24);

	do {
		for (size_t i = 0; i < len; i++) {
			int c;

			if (rnd(5))
				c = alnum[rnd(sizeof(alnum) - 1)];
			else
				do
					c = 1 + (int)rnd(255);
				while (c == '/');
			out[i] = (char)c;
		}
		out[len] = '\0';
	} while (strcmp(out, ".") == 0 || strcmp(out, "..") == 0);
}

static void unique_name(int dir, char *out)
{
	do
		rand_name(out);
	while (child_named(dir, out) >= 0);
}

/*
 * path_of - the absolute path of node @i into @buf (@cap bytes); its length. A path that does
 * not fit is not written; only its length is returned.
 */
static size_t path_of(int i, char *buf, size_t cap)
{
	size_t len = 0, pos;

	for (int j = i; j > 0; j = nodes[j].parent)
		len += 1 + strlen(nodes[j].name);
	if (len + 1 > cap)
		return len;
	buf[len] = '\0';
	pos = len;
	for (int j = i; j > 0; j = nodes[j].parent) {
		size_t l = strlen(nodes[j].name);

		pos -= l;
		memcpy(buf + pos, nodes[j].name, l);
		buf[--pos] = '/';
	}
	return len;
}

/* ---- checking ----------------------------------------------------------------------------- */

static void check_attr(int i, const struct ns_attr *a, const char *when)
{
	const struct node *n = &nodes[i];
	uint32_t mode = (n->dir ? S_IFDIR : S_IFREG) | n->perm;
	uint32_t nlink = n->dir ? 2 + n->nsub : 1;

	if (a->ino != n->ino || a->mode != mode || a->uid != n->uid || a->gid != n->gid ||
	    a->nlink != nlink || a->size != (n->dir ? 0 : n->size) || a->blocks != n->blocks ||
	    a->atime != n->atime || a->mtime != n->mtime || a->ctime != n->ctime)
		T_FAIL("%s: node %d (\"%s\"): attributes differ from the model: ino %" PRIu64
		       "/%" PRIu64 " mode %o/%o uid %u/%u gid %u/%u nlink %u/%u size %" PRIu64
		       "/%" PRIu64 " blocks %" PRIu64 "/%" PRIu64 " atime %" PRId64 "/%" PRId64
		       " mtime %" PRId64 "/%" PRId64 " ctime %" PRId64 "/%" PRId64,
		       when, i, n->name, a->ino, n->ino, a->mode, mode, a->uid, n->uid, a->gid,
		       n->gid, a->nlink, nlink, a->size, n->size, a->blocks, n->blocks, a->atime,
		       n->atime, a->mtime, n->mtime, a->ctime, n->ctime);
}

static void check_data(int i, const char *when)
{
	static uint8_t buf[1 << 20];
	const struct node *n = &nodes[i];
	uint64_t nonzero_pages = 0;

	for (uint64_t off = 0; off < n->size;) {
		uint64_t want = n->size - off < sizeof(buf) ? n->size - off : sizeof(buf);
		ssize_t got = ns_read(ns, NULL, n->ino, buf, sizeof(buf), off);

		if (got != (ssize_t)want)
			T_FAIL("%s: node %d: read at %" PRIu64 " = %zd, expected %" PRIu64, when, i,
			       off, got, want);
		if (memcmp(buf, n->data + off, want) != 0) {
			for (uint64_t k = 0; k < want; k++)
				if (buf[k] != n->data[off + k])
					T_FAIL("%s: node %d (ino %" PRIu64 "): byte %" PRIu64
					       " is %#x, expected %#x",
					       when, i, n->ino, off + k, buf[k], n->data[off + k]);
		}
		off += want;
	}
	T_ASSERT(ns_read(ns, NULL, n->ino, buf, 16, n->size) == 0);
	/* Every page holding a non-zero byte has a block. */
	for (uint64_t p = 0; p * PG < n->size; p++) {
		static const uint8_t zero[PG];
		uint64_t len = n->size - p * PG < PG ? n->size - p * PG : PG;

		nonzero_pages += memcmp(n->data + p * PG, zero, len) != 0;
	}
	if (nonzero_pages > n->blocks)
		T_FAIL("%s: node %d: %" PRIu64 " blocks for %" PRIu64 " pages of data", when, i,
		       n->blocks, nonzero_pages);
}

static int ino_cmp(const void *a, const void *b)
{
	uint64_t x = nodes[*(const int *)a].ino, y = nodes[*(const int *)b].ino;

	return x < y ? -1 : x > y;
}

struct walk {
	const int *by_ino; /* live node indices sorted by ino */
	int nlive;
	int dir;
	uint32_t seen;
	bool *listed;
	const char *when;
};

static int walk_entry(void *ctx, const char *name, uint64_t ino, uint32_t mode, uint64_t next)
{
	struct walk *w = ctx;
	int lo = 0, hi = w->nlive - 1, i = -1;

	(void)next;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;

		if (nodes[w->by_ino[mid]].ino == ino) {
			i = w->by_ino[mid];
			break;
		}
		if (nodes[w->by_ino[mid]].ino < ino)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	if (i < 0)
		T_FAIL("%s: readdir of node %d lists \"%s\" (ino %" PRIu64
		       "), which the model does not have",
		       w->when, w->dir, name, ino);
	if (nodes[i].parent != w->dir || strcmp(nodes[i].name, name) != 0 || w->listed[i])
		T_FAIL("%s: readdir of node %d lists \"%s\" (ino %" PRIu64 "): the model has it "
		       "as \"%s\" in node %d%s",
		       w->when, w->dir, name, ino, nodes[i].name, nodes[i].parent,
		       w->listed[i] ? ", and listed already" : "");
	T_ASSERT(mode == (nodes[i].dir ? S_IFDIR : S_IFREG));
	w->listed[i] = true;
	w->seen++;
	return 0;
}

/* verify - the whole namespace against the model. */
static void verify(const char *when)
{
	int *by_ino = calloc(MAX_NODES, sizeof(int)), nlive = 0;
	bool *listed = calloc(MAX_NODES, sizeof(bool));
	uint64_t blocks = 0;
	struct ns_statfs st;
	char path[NS_PATH_MAX];

	T_ASSERT(by_ino && listed);
	for (int i = 0; i < nnodes; i++) {
		struct ns_attr a;

		if (!nodes[i].live)
			continue;
		by_ino[nlive++] = i;
		T_OK(ns_getattr(ns, nodes[i].ino, &a));
		check_attr(i, &a, when);
		if (i > 0) {
			struct ns_attr la;
			size_t len = path_of(i, path, sizeof(path));
			int rc;

			T_OK(ns_lookup(ns, NULL, nodes[nodes[i].parent].ino, nodes[i].name, &la));
			T_ASSERT(la.ino == nodes[i].ino);
			rc = t_resolve(ns, path, &la);
			if (len >= NS_PATH_MAX)
				T_ASSERT(rc == -ENAMETOOLONG);
			else if (rc || la.ino != nodes[i].ino)
				T_FAIL("%s: t_resolve(node %d) = %d", when, i, rc);
		}
		if (!nodes[i].dir) {
			check_data(i, when);
			blocks += nodes[i].blocks;
		}
	}
	/* Nothing that the model does not have. */
	qsort(by_ino, (size_t)nlive, sizeof(int), ino_cmp);
	for (int i = 0; i < nnodes; i++) {
		struct walk w = {by_ino, nlive, i, 0, listed, when};

		if (!nodes[i].live || !nodes[i].dir)
			continue;
		T_OK(ns_readdir(ns, NULL, nodes[i].ino, 0, walk_entry, &w));
		if (w.seen != nodes[i].nchild)
			T_FAIL("%s: node %d lists %u entries, expected %u", when, i, w.seen,
			       nodes[i].nchild);
	}
	for (int k = 0; k < nlive; k++)
		T_ASSERT(by_ino[k] == 0 || listed[by_ino[k]]);
	rcu_barrier_all();
	ns_statfs(ns, &st);
	if (st.files != (uint64_t)nlive || st.orphans != 0 ||
	    st.blocks - st.blocks_free - st.blocks_quarantined != blocks)
		T_FAIL("%s: statfs: %" PRIu64 " files (model %d), %" PRIu64 " orphans, %" PRIu64
		       " blocks used (files hold %" PRIu64 ")",
		       when, st.files, nlive, st.orphans,
		       st.blocks - st.blocks_free - st.blocks_quarantined, blocks);
	free(by_ino);
	free(listed);
}

static void remount(void)
{
	ns_unmount(&ns);
	T_OK(ns_mount(&ns, img, NULL));
}

/* ---- changes, each applied to the engine and the model ------------------------------------ */

static void refresh(int i)
{
	struct ns_attr a;

	T_OK(ns_getattr(ns, nodes[i].ino, &a));
	nodes[i].blocks = a.blocks;
	nodes[i].mtime = a.mtime;
	nodes[i].ctime = a.ctime;
	nodes[i].atime = a.atime;
}

static void do_write(int i, uint64_t off, uint64_t len)
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
}

/* fill_file - contents for a new file: dense, big, or sparse; written in random pieces. */
static void fill_file(int i)
{
	uint64_t r = rnd(1000), size;

	if (r < 15) {
		/* past 2 MiB, in pieces in random order */
		size = 2 * MiB + 1 + rnd(MiB);
		for (uint64_t todo = 6; todo--;) {
			uint64_t off = rnd(size), len = 1 + rnd(size - off);

			do_write(i, off, len < 512 * KiB ? len : 512 * KiB);
		}
		for (uint64_t off = 0; off < size;) {
			uint64_t len = 1 + rnd(700 * KiB);

			if (off + len > size)
				len = size - off;
			do_write(i, off, len);
			off += len;
		}
	} else if (r < 35) {
		/* sparse: a few pieces far apart, sometimes a size past the last one */
		size = 64 * KiB + rnd(3 * MiB);
		for (int k = (int)rnd(4); k >= 0; k--) {
			uint64_t off = rnd(size), len = 1 + rnd(64 * KiB);

			do_write(i, off, len);
		}
		if (rnd(2)) {
			struct ns_setattr sa = {.valid = NS_SET_SIZE,
						.size = nodes[i].size + rnd(MiB)};

			T_OK(ns_setattr(ns, NULL, nodes[i].ino, &sa, NULL));
			data_resize(&nodes[i], sa.size);
		}
	} else {
		size = r < 140 ? 64 * KiB + rnd(MiB) : r < 420 ? PG + rnd(60 * KiB) : rnd(PG);
		for (uint64_t off = 0; off < size;) {
			uint64_t len = 1 + rnd(r < 140 ? 200 * KiB : 16 * KiB);

			if (off + len > size)
				len = size - off;
			do_write(i, off, len);
			off += len;
		}
	}
}

static int create_node(int parent, bool dir)
{
	struct node *n = node_new(), *p = &nodes[parent];
	int i = (int)(n - nodes);
	struct ns_attr a;

	unique_name(parent, n->name);
	n->parent = parent;
	n->dir = dir;
	n->perm = (uint32_t)rnd(010000);
	n->uid = (uint32_t)t_rand(&rng);
	n->gid = (uint32_t)t_rand(&rng);
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
	n->atime = a.atime;
	n->mtime = a.mtime;
	n->ctime = a.ctime;
	p->nchild++;
	p->nsub += dir;
	refresh(parent);
	check_attr(i, &a, "create");
	return i;
}

/* set_attrs - random mode, owner and times with ns_setattr; times always. */
static void set_attrs(int i)
{
	struct node *n = &nodes[i];
	struct ns_setattr sa = {.valid = NS_SET_ATIME | NS_SET_MTIME};
	struct ns_attr a;

	sa.atime = (int64_t)(t_rand(&rng) >> 2) - (INT64_C(1) << 60);
	sa.mtime = rnd(4) ? (int64_t)rnd(UINT64_C(4) << 60) : -(int64_t)rnd(1 << 30);
	if (rnd(2)) {
		sa.valid |= NS_SET_MODE;
		sa.mode = (uint32_t)rnd(010000);
	}
	if (rnd(2)) {
		sa.valid |= NS_SET_UID;
		sa.uid = (uint32_t)t_rand(&rng);
	}
	if (rnd(2)) {
		sa.valid |= NS_SET_GID;
		sa.gid = (uint32_t)t_rand(&rng);
	}
	T_OK(ns_setattr(ns, NULL, n->ino, &sa, &a));
	/* A chown of a file without a mode drops setuid, and setgid with group execute. */
	if (sa.valid & (NS_SET_UID | NS_SET_GID) && !(sa.valid & NS_SET_MODE) && !n->dir) {
		n->perm &= ~(uint32_t)S_ISUID;
		if (n->perm & S_IXGRP)
			n->perm &= ~(uint32_t)S_ISGID;
	}
	if (sa.valid & NS_SET_MODE)
		n->perm = sa.mode;
	if (sa.valid & NS_SET_UID)
		n->uid = sa.uid;
	if (sa.valid & NS_SET_GID)
		n->gid = sa.gid;
	n->atime = sa.atime;
	n->mtime = sa.mtime;
	n->ctime = a.ctime;
	n->blocks = a.blocks;
	check_attr(i, &a, "setattr");
}

static void kill_node(int i)
{
	struct node *n = &nodes[i];

	n->live = false;
	nodes[n->parent].nchild--;
	nodes[n->parent].nsub -= n->dir;
	free(n->data);
	n->data = NULL;
	n->cap = n->size = 0;
}

static void move_node(int i, int dir, const char *name)
{
	struct node *n = &nodes[i];

	nodes[n->parent].nchild--;
	nodes[n->parent].nsub -= n->dir;
	n->parent = dir;
	snprintf(n->name, sizeof(n->name), "%s", name);
	nodes[dir].nchild++;
	nodes[dir].nsub += n->dir;
}

static void op_rename(void)
{
	int s = pick(0), d = pick_dir(1000), t;
	char name[NS_NAME_MAX + 1];
	int want = 0, rc;

	if (s < 0)
		return;
	if (rnd(3) == 0 && nodes[d].nchild) {
		/* onto an existing name of the target directory: its k-th entry */
		uint64_t k = rnd(nodes[d].nchild);

		t = -1;
		for (int c = 1; c < nnodes && t < 0; c++)
			if (nodes[c].live && nodes[c].parent == d && k-- == 0)
				t = c;
		T_ASSERT(t > 0);
		snprintf(name, sizeof(name), "%s", nodes[t].name);
	} else {
		unique_name(d, name);
		t = -1;
	}
	if (t == s)
		want = 0;
	else if (nodes[s].dir && is_ancestor(s, d))
		want = -EINVAL;
	else if (t >= 0 && nodes[s].dir && !nodes[t].dir)
		want = -ENOTDIR;
	else if (t >= 0 && !nodes[s].dir && nodes[t].dir)
		want = -EISDIR;
	else if (t >= 0 && nodes[t].dir && nodes[t].nchild)
		want = -ENOTEMPTY;
	rc = ns_rename(ns, NULL, nodes[nodes[s].parent].ino, nodes[s].name, nodes[d].ino, name, 0);
	if (rc != want)
		T_FAIL("rename of node %d into node %d: %d, expected %d", s, d, rc, want);
	stats.renames++;
	stats.rename_errs += rc != 0;
	if (rc || t == s)
		return;
	refresh(nodes[s].parent);
	if (t >= 0)
		kill_node(t);
	move_node(s, d, name);
	refresh(s);
	refresh(d);
}

static void op_exchange(void)
{
	int a = pick(0), b = pick(0), pa, pb, want = 0, rc;
	char na[NS_NAME_MAX + 1], nb[NS_NAME_MAX + 1];

	if (a < 0 || b < 0 || a == b)
		return;
	pa = nodes[a].parent;
	pb = nodes[b].parent;
	if ((nodes[a].dir && is_ancestor(a, pb)) || (nodes[b].dir && is_ancestor(b, pa)))
		want = -EINVAL;
	rc = ns_rename(ns, NULL, nodes[pa].ino, nodes[a].name, nodes[pb].ino, nodes[b].name,
		       NS_RENAME_EXCHANGE);
	if (rc != want)
		T_FAIL("exchange of nodes %d and %d: %d, expected %d", a, b, rc, want);
	stats.exchanges++;
	stats.exchange_errs += rc != 0;
	if (rc)
		return;
	snprintf(na, sizeof(na), "%s", nodes[a].name);
	snprintf(nb, sizeof(nb), "%s", nodes[b].name);
	move_node(a, pb, nb);
	move_node(b, pa, na);
	refresh(a);
	refresh(b);
	refresh(pa);
	refresh(pb);
}

static void op_remove(bool dir)
{
	int i = pick(dir ? 2 : 1), p, rc;

	if (i < 0)
		return;
	p = nodes[i].parent;
	rc = dir ? ns_rmdir(ns, NULL, nodes[p].ino, nodes[i].name)
		 : ns_unlink(ns, NULL, nodes[p].ino, nodes[i].name);
	if (dir && nodes[i].nchild) {
		T_ERR(rc, ENOTEMPTY);
		return;
	}
	T_OK(rc);
	kill_node(i);
	refresh(p);
}

static void op_truncate(void)
{
	int i = pick(1);
	struct ns_setattr sa = {.valid = NS_SET_SIZE};

	if (i < 0)
		return;
	sa.size = rnd(3) == 0 ? rnd(3 * MiB) : rnd(nodes[i].size + 1);
	T_OK(ns_setattr(ns, NULL, nodes[i].ino, &sa, NULL));
	data_resize(&nodes[i], sa.size);
	refresh(i);
}

static void op_overwrite(void)
{
	int i = pick(1);
	uint64_t off, len;

	if (i < 0)
		return;
	off = rnd(nodes[i].size + 64 * KiB);
	len = 1 + (rnd(4) ? rnd(16 * KiB) : rnd(600 * KiB));
	if (off + len > 3 * MiB + 64 * KiB)
		return;
	do_write(i, off, len);
	refresh(i);
}

static void op_punch(void)
{
	int i = pick(1);
	uint64_t off, len;

	if (i < 0 || nodes[i].size == 0)
		return;
	off = rnd(nodes[i].size);
	len = 1 + rnd(nodes[i].size - off + 3 * PG);
	T_OK(ns_fallocate(ns, NULL, nodes[i].ino, NS_FALLOC_KEEP_SIZE | NS_FALLOC_PUNCH_HOLE, off,
			  len));
	if (off + len > nodes[i].size)
		len = nodes[i].size - off;
	memset(nodes[i].data + off, 0, len);
	refresh(i);
}

static void op_create(void)
{
	int i = create_node(pick_dir(MAX_DEPTH - 1), rnd(5) == 0);

	if (!nodes[i].dir)
		fill_file(i);
	refresh(i);
}

static void op_setattr(void)
{
	int i = pick(0);

	set_attrs(i < 0 ? 0 : i);
}

/* attr_pass - every live node gets explicit times (and maybe mode and owner). */
static void attr_pass(void)
{
	for (int i = 0; i < nnodes; i++)
		if (nodes[i].live)
			set_attrs(i);
}

int main(int argc, char **argv)
{
	struct node *root;
	struct ns_attr a;

	rng = t_seed(argc, argv, 0x7265737461727431ULL);
	t_watchdog(280, "test-restart");
	rcu_thread_online();
	img = t_path("restart.img");
	T_OK(ns_mkfs(img, REGION_SIZE, NULL));
	T_OK(ns_mount(&ns, img, NULL));

	root = node_new();
	root->live = root->dir = true;
	root->parent = -1;
	root->ino = NS_ROOT_INO;
	root->perm = 0755;
	T_OK(ns_getattr(ns, NS_ROOT_INO, &a));
	root->atime = a.atime;
	root->mtime = a.mtime;
	root->ctime = a.ctime;

	/* Round 1: a random tree. */
	while (nnodes <= NODES) {
		int i = create_node(pick_dir(MAX_DEPTH - 1), rnd(7) == 0);

		if (!nodes[i].dir)
			fill_file(i);
		refresh(i);
	}
	for (int i = 0; i < nnodes; i++)
		T_ASSERT(depth_of(i) <= MAX_DEPTH);
	attr_pass();
	verify("round 1, before the unmount");
	remount();
	verify("round 1, after the mount");

	/* Round 2: random changes. */
	for (int op = 0; op < ROUND2_OPS; op++) {
		uint64_t r = rnd(100);

		if (r < 18)
			op_rename();
		else if (r < 23)
			op_exchange();
		else if (r < 35)
			op_remove(false);
		else if (r < 40)
			op_remove(true);
		else if (r < 55)
			op_truncate();
		else if (r < 78)
			op_overwrite();
		else if (r < 83)
			op_punch();
		else if (r < 92)
			op_create();
		else
			op_setattr();
		if (op % 500 == 499)
			verify("round 2, while changing");
	}
	attr_pass();
	verify("round 2, before the unmount");
	remount();
	verify("round 2, after the mount");

	{
		uint64_t bytes = 0, big = 0, dirs = 0, live = 0;
		int depth = 0;

		for (int i = 0; i < nnodes; i++) {
			if (!nodes[i].live)
				continue;
			live++;
			dirs += nodes[i].dir;
			bytes += nodes[i].size;
			big += nodes[i].size > 2 * MiB;
			depth = depth_of(i) > depth ? depth_of(i) : depth;
		}
		printf("ok: %d nodes made, %" PRIu64 " live (%" PRIu64
		       " directories, depth %d), %" PRIu64 " MiB in files, %" PRIu64
		       " past 2 MiB; renames %u (%u refused), exchanges %u (%u "
		       "refused)\n",
		       nnodes, live, dirs, depth, bytes / MiB, big, stats.renames,
		       stats.rename_errs, stats.exchanges, stats.exchange_errs);
	}
	ns_unmount(&ns);
	for (int i = 0; i < nnodes; i++)
		free(nodes[i].data);
	rcu_thread_offline();
	return 0;
}
