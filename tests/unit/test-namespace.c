// SPDX-License-Identifier: MIT
/*
 * test-namespace - every operation of the engine's namespace API (engine/namespace.h) and the
 * errors it documents, on emulated regions in a scratch dir under /dev/shm (poisoned pages,
 * -EIO, are test-poison's; damaged logs, -EUCLEAN, the crash tests'):
 *
 *   names (mkdir/create), lookups and absolute paths, readdir cookies, unlink and rmdir,
 *   rename in all its forms (and walks racing renames over the name they walk to), setattr
 *   and truncate, read/write at any offset, fallocate and punch-hole, fsync, files that grow
 *   past 2 MiB (2 MiB extents), running out of data blocks, running out of metadata log, and
 *   a read-only mount.
 *
 * The namespace built along the way is walked whole (names, attributes, bytes) before and
 * after an unmount and mount, and again through a read-only mount.
 *
 * Usage: test-namespace [seed]
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "namespace.h"
#include "nstest.h"
#include "nsint.h"
#include "nsmap.h"
#include "poison.h"
#include "lease.h" /* one white-box check: the order of a big file's block-map entries */
#include "rcu.h"
#include "testutil.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define PG UINT64_C(4096)
#define ROOT NS_ROOT_INO
#define NO_INO UINT64_C(987654321)

static uint64_t rng;

/* ---- small helpers ------------------------------------------------------------------------ */

static uint64_t rnd(uint64_t n)
{
	return t_rand(&rng) % n;
}

static void fill_rand(void *buf, size_t len)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(t_rand(&rng) >> 56);
}

static void *xmalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (!p)
		T_FAIL("out of memory (%zu bytes)", n);
	return p;
}

static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct ns_attr attr_of(struct ns *ns, uint64_t ino)
{
	struct ns_attr a;

	T_OK(ns_getattr(ns, ino, &a));
	return a;
}

static uint64_t mkfile(struct ns *ns, uint64_t dir, const char *name)
{
	struct ns_attr a;

	T_OK(ns_create(ns, NULL, dir, name, 0644, &a));
	return a.ino;
}

static uint64_t mkdirn(struct ns *ns, uint64_t dir, const char *name)
{
	struct ns_attr a;

	T_OK(ns_mkdir(ns, NULL, dir, name, 0755, &a));
	return a.ino;
}

/* ino_at - the inode @name in @dir names, 0 when there is none. */
static uint64_t ino_at(struct ns *ns, uint64_t dir, const char *name)
{
	struct ns_attr a;
	int rc = ns_lookup(ns, NULL, dir, name, &a);

	if (rc == -ENOENT)
		return 0;
	T_OK(rc);
	return a.ino;
}

static void write_at(struct ns *ns, uint64_t ino, const void *buf, size_t len, uint64_t off)
{
	ssize_t n = ns_write(ns, NULL, ino, buf, len, off);

	if (n != (ssize_t)len)
		T_FAIL("ns_write(ino %" PRIu64 ", NULL, %zu bytes at %" PRIu64 ") = %zd", ino, len,
		       off, n);
}

/* check_file - @ino's size is @size and its bytes are @model; read whole and in odd pieces. */
static void check_file(struct ns *ns, uint64_t ino, const uint8_t *model, uint64_t size)
{
	struct ns_attr a = attr_of(ns, ino);
	uint8_t *buf = xmalloc(size + 4 * PG);
	uint8_t tail[16];

	if (a.size != size)
		T_FAIL("ino %" PRIu64 ": size %" PRIu64 ", expected %" PRIu64, ino, a.size, size);
	T_ASSERT(ns_read(ns, NULL, ino, buf, size + 64, 0) == (ssize_t)size);
	for (uint64_t i = 0; i < size; i++)
		if (buf[i] != model[i])
			T_FAIL("ino %" PRIu64 ": byte %" PRIu64 " is %#x, expected %#x", ino, i,
			       buf[i], model[i]);
	for (uint64_t off = 0; off < size;) {
		uint64_t len = 1 + rnd(3 * PG + 100);
		uint64_t want = off + len > size ? size - off : len;

		memset(buf, 0x5a, len);
		T_ASSERT(ns_read(ns, NULL, ino, buf, len, off) == (ssize_t)want);
		T_ASSERT(memcmp(buf, model + off, want) == 0);
		off += len;
	}
	T_ASSERT(ns_read(ns, NULL, ino, tail, sizeof(tail), size) == 0);
	free(buf);
}

/* blocks_free - free blocks once every queued deferred free has happened. */
static uint64_t blocks_free(struct ns *ns)
{
	struct ns_statfs st;

	rcu_barrier_all();
	ns_statfs(ns, &st);
	return st.blocks_free;
}

static void attr_eq(const struct ns_attr *a, const struct ns_attr *b, const char *what)
{
	if (a->ino != b->ino || a->mode != b->mode || a->uid != b->uid || a->gid != b->gid ||
	    a->nlink != b->nlink || a->size != b->size || a->blocks != b->blocks ||
	    a->atime != b->atime || a->mtime != b->mtime || a->ctime != b->ctime)
		T_FAIL("%s: attributes differ: ino %" PRIu64 "/%" PRIu64 " mode %o/%o uid %u/%u "
		       "gid %u/%u nlink %u/%u size %" PRIu64 "/%" PRIu64 " blocks %" PRIu64
		       "/%" PRIu64 " atime %" PRId64 "/%" PRId64 " mtime %" PRId64 "/%" PRId64
		       " ctime %" PRId64 "/%" PRId64,
		       what, a->ino, b->ino, a->mode, b->mode, a->uid, b->uid, a->gid, b->gid,
		       a->nlink, b->nlink, a->size, b->size, a->blocks, b->blocks, a->atime,
		       b->atime, a->mtime, b->mtime, a->ctime, b->ctime);
}

/* ---- directory listings ------------------------------------------------------------------- */

struct ent {
	char name[NS_NAME_MAX + 1];
	uint64_t ino;
	uint32_t mode;
	uint64_t next;
};

struct list {
	struct ent *v;
	size_t n, cap;
	size_t stop_after; /* 0: never stop */
	int stop_rc;
};

static int collect(void *ctx, const char *name, uint64_t ino, uint32_t mode, uint64_t next)
{
	struct list *l = ctx;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		T_ASSERT(l->v);
	}
	T_ASSERT(strlen(name) <= NS_NAME_MAX);
	snprintf(l->v[l->n].name, sizeof(l->v[l->n].name), "%s", name);
	l->v[l->n].ino = ino;
	l->v[l->n].mode = mode;
	l->v[l->n].next = next;
	l->n++;
	if (l->stop_after && l->n == l->stop_after)
		return l->stop_rc;
	return 0;
}

/* list_dir - every entry of @dir, in cookie order. */
static void list_dir(struct ns *ns, uint64_t dir, struct list *l)
{
	memset(l, 0, sizeof(*l));
	T_OK(ns_readdir(ns, NULL, dir, 0, collect, l));
}

/* ---- a whole-tree snapshot: names, attributes and content hashes -------------------------- */

struct snode {
	uint64_t parent;
	char name[NS_NAME_MAX + 1];
	struct ns_attr a;
	uint64_t hash;
};

struct snap {
	struct snode *v;
	size_t n, cap;
};

static uint64_t hash_file(struct ns *ns, uint64_t ino, uint64_t size)
{
	static uint8_t buf[1 << 20];
	uint64_t h = 0xcbf29ce484222325ULL;

	for (uint64_t off = 0; off < size;) {
		ssize_t n = ns_read(ns, NULL, ino, buf, sizeof(buf), off);

		T_ASSERT(n > 0);
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 0x100000001b3ULL;
		off += (uint64_t)n;
	}
	return h;
}

static void snap_dir(struct ns *ns, struct snap *s, uint64_t dir)
{
	struct list l;

	list_dir(ns, dir, &l);
	for (size_t i = 0; i < l.n; i++) {
		struct snode *sn;
		struct ns_attr la;

		if (s->n == s->cap) {
			s->cap = s->cap ? 2 * s->cap : 256;
			s->v = realloc(s->v, s->cap * sizeof(*s->v));
			T_ASSERT(s->v);
		}
		sn = &s->v[s->n++];
		sn->parent = dir;
		memcpy(sn->name, l.v[i].name, sizeof(sn->name));
		sn->a = attr_of(ns, l.v[i].ino);
		T_OK(ns_lookup(ns, NULL, dir, sn->name, &la));
		attr_eq(&la, &sn->a, sn->name);
		T_ASSERT((sn->a.mode & S_IFMT) == l.v[i].mode);
		sn->hash = S_ISREG(sn->a.mode) ? hash_file(ns, sn->a.ino, sn->a.size) : 0;
		if (S_ISDIR(sn->a.mode))
			snap_dir(ns, s, sn->a.ino);
	}
	free(l.v);
}

static int snode_cmp(const void *a, const void *b)
{
	const struct snode *x = a, *y = b;

	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void take_snap(struct ns *ns, struct snap *s)
{
	struct snode *root;

	memset(s, 0, sizeof(*s));
	s->cap = 256;
	s->v = xmalloc(s->cap * sizeof(*s->v));
	root = &s->v[s->n++];
	root->parent = 0;
	root->a = attr_of(ns, ROOT);
	snap_dir(ns, s, ROOT);
	qsort(s->v, s->n, sizeof(*s->v), snode_cmp);
}

static void snap_eq(const struct snap *a, const struct snap *b)
{
	if (a->n != b->n)
		T_FAIL("the tree has %zu entries, expected %zu", b->n, a->n);
	for (size_t i = 0; i < a->n; i++) {
		if (a->v[i].parent != b->v[i].parent || strcmp(a->v[i].name, b->v[i].name))
			T_FAIL("entry %zu: \"%s\" in %" PRIu64 ", expected \"%s\" in %" PRIu64, i,
			       b->v[i].name, b->v[i].parent, a->v[i].name, a->v[i].parent);
		attr_eq(&a->v[i].a, &b->v[i].a, a->v[i].name);
		if (a->v[i].hash != b->v[i].hash)
			T_FAIL("\"%s\": the contents differ", a->v[i].name);
	}
}

/* ---- mkdir / create ----------------------------------------------------------------------- */

static void test_names(struct ns *ns)
{
	static const char *bad[] = {"", ".", "..", "a/b", "/", "x/"};
	char n255[NS_NAME_MAX + 1], n256[NS_NAME_MAX + 2];
	struct ns_attr a, s, d, g;
	struct list l;
	uint64_t dir = mkdirn(ns, ROOT, "names");
	int64_t t0 = wall_ns();

	T_OK(ns_create(ns, T_AS(11, 12), dir, "f", 0640, &a));
	T_ASSERT(a.ino > ROOT && a.mode == (S_IFREG | 0640) && a.uid == 11 && a.gid == 12);
	T_ASSERT(a.nlink == 1 && a.size == 0 && a.blocks == 0);
	T_ASSERT(a.ctime >= t0 && a.mtime == a.ctime && a.atime == a.ctime);
	g = attr_of(ns, a.ino);
	attr_eq(&a, &g, "getattr after create");
	T_OK(ns_lookup(ns, NULL, dir, "f", &g));
	attr_eq(&a, &g, "lookup after create");
	d = attr_of(ns, dir);
	T_ASSERT(d.nlink == 2 && d.mtime == a.ctime && d.ctime == a.ctime);

	T_OK(ns_mkdir(ns, T_AS(5, 6), dir, "sub", 0700, &s));
	T_ASSERT(s.ino != a.ino && s.mode == (S_IFDIR | 0700) && s.nlink == 2);
	T_ASSERT(s.uid == 5 && s.gid == 6 && s.size == 0);
	T_ASSERT(attr_of(ns, dir).nlink == 3);
	T_OK(ns_create(ns, NULL, dir, "allbits", 07777, &g));
	T_ASSERT(g.mode == (S_IFREG | 07777));
	T_OK(ns_create(ns, NULL, dir, "caf\xc3\xa9 \x01\x7f~", 0600, NULL));
	T_ASSERT(ino_at(ns, dir, "caf\xc3\xa9 \x01\x7f~") != 0);

	T_ERR(ns_create(ns, NULL, dir, "f", 0644, NULL), EEXIST);
	T_ERR(ns_mkdir(ns, NULL, dir, "f", 0755, NULL), EEXIST);
	T_ERR(ns_create(ns, NULL, dir, "sub", 0644, NULL), EEXIST);
	T_ERR(ns_mkdir(ns, NULL, dir, "sub", 0755, NULL), EEXIST);
	T_ERR(ns_create(ns, NULL, NO_INO, "x", 0644, NULL), ENOENT);
	T_ERR(ns_mkdir(ns, NULL, NO_INO, "x", 0755, NULL), ENOENT);
	T_ERR(ns_create(ns, NULL, a.ino, "x", 0644, NULL), ENOTDIR);
	T_ERR(ns_mkdir(ns, NULL, a.ino, "x", 0755, NULL), ENOTDIR);

	memset(n255, 'n', NS_NAME_MAX);
	n255[NS_NAME_MAX] = '\0';
	memset(n256, 'm', NS_NAME_MAX + 1);
	n256[NS_NAME_MAX + 1] = '\0';
	T_ERR(ns_create(ns, NULL, dir, n256, 0644, NULL), ENAMETOOLONG);
	T_ERR(ns_mkdir(ns, NULL, dir, n256, 0755, NULL), ENAMETOOLONG);
	T_ERR(ns_lookup(ns, NULL, dir, n256, &g), ENAMETOOLONG);
	T_OK(ns_create(ns, NULL, dir, n255, 0644, &g));
	T_ASSERT(ino_at(ns, dir, n255) == g.ino);
	n255[0] = 'd';
	T_OK(ns_mkdir(ns, NULL, dir, n255, 0755, NULL));

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		T_ERR(ns_create(ns, NULL, dir, bad[i], 0644, NULL), EINVAL);
		T_ERR(ns_mkdir(ns, NULL, dir, bad[i], 0755, NULL), EINVAL);
	}
	T_ERR(ns_create(ns, NULL, dir, "m", S_IFREG | 0644, NULL), EINVAL);
	T_ERR(ns_create(ns, NULL, dir, "m", 010000, NULL), EINVAL);
	T_ERR(ns_create(ns, NULL, dir, "m", 0170644, NULL), EINVAL);
	T_ERR(ns_mkdir(ns, NULL, dir, "m", S_IFDIR | 0755, NULL), EINVAL);
	T_ERR(ns_mkdir(ns, NULL, dir, "m", 020000, NULL), EINVAL);
	T_ERR(ns_getattr(ns, NO_INO, &g), ENOENT);

	/* The failures left nothing behind. */
	list_dir(ns, dir, &l);
	T_ASSERT(l.n == 6);
	T_ASSERT(ino_at(ns, dir, "m") == 0 && ino_at(ns, dir, "x") == 0);
	T_ASSERT(attr_of(ns, dir).nlink == 4);
	free(l.v);
}

/* ---- lookups and paths -------------------------------------------------------------------- */

static void test_paths(struct ns *ns)
{
	static const char *einval[] = {"p/q", "", "p", "/p/./q", "/p/../p", "/.", "/..", "/p/q/."};
	char path[NS_PATH_MAX + 8], name[NS_NAME_MAX + 1];
	struct ns_attr a;
	uint64_t p = mkdirn(ns, ROOT, "p"), q = mkdirn(ns, p, "q");
	uint64_t file = mkfile(ns, q, "file"), f2 = mkfile(ns, p, "f2"), dir;
	size_t len;

	/* ns_lookup */
	T_OK(ns_lookup(ns, NULL, ROOT, "p", &a));
	T_ASSERT(a.ino == p && S_ISDIR(a.mode));
	T_ERR(ns_lookup(ns, NULL, p, "nope", &a), ENOENT);
	T_ERR(ns_lookup(ns, NULL, NO_INO, "q", &a), ENOENT);
	T_ERR(ns_lookup(ns, NULL, file, "x", &a), ENOTDIR);
	T_ERR(ns_lookup(ns, NULL, p, "", &a), EINVAL);
	T_ERR(ns_lookup(ns, NULL, p, ".", &a), EINVAL);
	T_ERR(ns_lookup(ns, NULL, p, "..", &a), EINVAL);
	T_ERR(ns_lookup(ns, NULL, ROOT, "p/q", &a), EINVAL);

	/* ns_resolve */
	T_OK(t_resolve(ns, "/", &a));
	T_ASSERT(a.ino == ROOT && S_ISDIR(a.mode));
	T_OK(t_resolve(ns, "///", &a));
	T_ASSERT(a.ino == ROOT);
	T_OK(t_resolve(ns, "/p/q/file", &a));
	T_ASSERT(a.ino == file && S_ISREG(a.mode));
	T_OK(t_resolve(ns, "//p///q//file", &a));
	T_ASSERT(a.ino == file);
	T_OK(t_resolve(ns, "/p/q/", &a));
	T_ASSERT(a.ino == q);
	T_OK(t_resolve(ns, "/p//q//", &a));
	T_ASSERT(a.ino == q);
	T_OK(t_resolve(ns, "/p/f2", &a));
	T_ASSERT(a.ino == f2);
	T_ERR(t_resolve(ns, "/nope", &a), ENOENT);
	T_ERR(t_resolve(ns, "/p/nope", &a), ENOENT);
	T_ERR(t_resolve(ns, "/nope/q", &a), ENOENT);
	T_ERR(t_resolve(ns, "/p/q/file/x", &a), ENOTDIR);
	T_ERR(t_resolve(ns, "/p/f2/x/y", &a), ENOTDIR);
	for (size_t i = 0; i < sizeof(einval) / sizeof(einval[0]); i++)
		T_ERR(t_resolve(ns, einval[i], &a), EINVAL);

	/* 4095 bytes resolve; 4096 (no room for the NUL) are too long. */
	len = (size_t)snprintf(path, sizeof(path), "/p");
	while (len < NS_PATH_MAX - 2)
		path[len++] = '/';
	path[len++] = 'q';
	path[len] = '\0';
	T_ASSERT(strlen(path) == NS_PATH_MAX - 1);
	T_OK(t_resolve(ns, path, &a));
	T_ASSERT(a.ino == q);
	memmove(path + 3, path + 2, len - 1);
	T_ASSERT(strlen(path) == NS_PATH_MAX);
	T_ERR(t_resolve(ns, path, &a), ENAMETOOLONG);
	T_ERR(t_resolve_parent(ns, path, &dir, name), ENAMETOOLONG);
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	T_ERR(t_resolve(ns, path, &a), ENAMETOOLONG);

	/* A component of 256 bytes is too long; 255 is only missing. */
	len = (size_t)snprintf(path, sizeof(path), "/p/");
	memset(path + len, 'c', NS_NAME_MAX + 1);
	path[len + NS_NAME_MAX + 1] = '\0';
	T_ERR(t_resolve(ns, path, &a), ENAMETOOLONG);
	T_ERR(t_resolve_parent(ns, path, &dir, name), ENAMETOOLONG);
	path[len + NS_NAME_MAX] = '\0';
	T_ERR(t_resolve(ns, path, &a), ENOENT);
	T_OK(t_resolve_parent(ns, path, &dir, name));
	T_ASSERT(dir == p && strlen(name) == NS_NAME_MAX && name[0] == 'c');

	/* ns_resolve_parent */
	T_OK(t_resolve_parent(ns, "/p/q/file", &dir, name));
	T_ASSERT(dir == q && strcmp(name, "file") == 0);
	/* A trailing slash asks for a directory (POSIX): a file there is ENOTDIR. */
	T_ERR(t_resolve_parent(ns, "/p/q/file//", &dir, name), ENOTDIR);
	T_ERR(t_resolve(ns, "/p/q/file/", &a), ENOTDIR);
	T_OK(t_resolve(ns, "/p/q/", &a));
	T_OK(t_resolve_parent(ns, "/p/q//", &dir, name));
	T_ASSERT(dir == p && strcmp(name, "q") == 0);
	T_OK(t_resolve_parent(ns, "/p/q/new/", &dir, name));
	T_ASSERT(dir == q && strcmp(name, "new") == 0);
	T_OK(t_resolve_parent(ns, "//p", &dir, name));
	T_ASSERT(dir == ROOT && strcmp(name, "p") == 0);
	T_OK(t_resolve_parent(ns, "/p//q/new", &dir, name));
	T_ASSERT(dir == q && strcmp(name, "new") == 0);
	T_ERR(t_resolve_parent(ns, "/", &dir, name), EINVAL);
	T_ERR(t_resolve_parent(ns, "///", &dir, name), EINVAL);
	T_ERR(t_resolve_parent(ns, "/nope/x", &dir, name), ENOENT);
	T_ERR(t_resolve_parent(ns, "/p/q/file/x", &dir, name), ENOTDIR);
	T_ERR(t_resolve_parent(ns, "p/q", &dir, name), EINVAL);
	T_ERR(t_resolve_parent(ns, "/p/..", &dir, name), EINVAL);
	T_ERR(t_resolve_parent(ns, "/p/.", &dir, name), EINVAL);
	T_ERR(t_resolve_parent(ns, "", &dir, name), EINVAL);
}

/* ---- readdir ------------------------------------------------------------------------------ */

#define RD_FILES 200
#define RD_DIRS 20

static void check_listing(const struct list *l, const bool *want, const uint64_t *inos,
			  size_t nwant)
{
	bool seen[RD_FILES + RD_DIRS + 20] = {false};
	size_t count = 0;

	for (size_t i = 0; i < l->n; i++) {
		unsigned k;

		T_ASSERT(sscanf(l->v[i].name, "e%u", &k) == 1 && k < RD_FILES + RD_DIRS + 20);
		if (!want[k] || seen[k])
			T_FAIL("readdir: \"%s\" listed %s", l->v[i].name,
			       seen[k] ? "twice" : "but it does not exist");
		seen[k] = true;
		T_ASSERT(l->v[i].ino == inos[k]);
		T_ASSERT(l->v[i].mode == (k % 11 == 0 ? S_IFDIR : S_IFREG));
		if (i)
			T_ASSERT(l->v[i].next > l->v[i - 1].next);
		count++;
	}
	T_ASSERT(count == nwant);
}

static void test_readdir(struct ns *ns)
{
	enum { N = RD_FILES + RD_DIRS };
	bool want[N + 20] = {false};
	uint64_t inos[N + 20] = {0};
	struct list l, rest;
	size_t nwant = 0;
	uint64_t dir = mkdirn(ns, ROOT, "rd"), empty = mkdirn(ns, ROOT, "rd-empty");
	uint64_t cookie;
	char name[32];

	for (unsigned k = 0; k < N; k++) {
		snprintf(name, sizeof(name), "e%u", k);
		inos[k] = k % 11 == 0 ? mkdirn(ns, dir, name) : mkfile(ns, dir, name);
		want[k] = true;
		nwant++;
	}

	/* Everything, exactly once. */
	list_dir(ns, dir, &l);
	check_listing(&l, want, inos, nwant);
	for (size_t i = 0; i < l.n; i++)
		T_ASSERT(strcmp(l.v[i].name, ".") && strcmp(l.v[i].name, ".."));

	/* Stop early: the callback's value comes back; resume from its cookie. */
	memset(&rest, 0, sizeof(rest));
	rest.stop_after = 50;
	rest.stop_rc = 42;
	T_ASSERT(ns_readdir(ns, NULL, dir, 0, collect, &rest) == 42);
	T_ASSERT(rest.n == 50);
	cookie = rest.v[49].next;
	rest.stop_after = 0;
	T_OK(ns_readdir(ns, NULL, dir, cookie, collect, &rest));
	check_listing(&rest, want, inos, nwant);
	free(rest.v);

	/* Pages of 7 entries, each resumed from the last cookie. */
	memset(&rest, 0, sizeof(rest));
	cookie = 0;
	for (;;) {
		size_t before = rest.n;
		int rc;

		rest.stop_after = before + 7;
		rest.stop_rc = 1;
		rc = ns_readdir(ns, NULL, dir, cookie, collect, &rest);
		T_ASSERT(rc == 0 || rc == 1);
		if (rest.n == before)
			break;
		cookie = rest.v[rest.n - 1].next;
		if (rc == 0)
			break;
	}
	check_listing(&rest, want, inos, nwant);
	free(rest.v);

	/* Changes between the pages: removed entries vanish, new ones show up once. */
	cookie = l.v[99].next;
	for (unsigned k = 1; k < N; k += 7) {
		snprintf(name, sizeof(name), "e%u", k);
		if (k % 11 == 0)
			T_OK(ns_rmdir(ns, NULL, dir, name));
		else
			T_OK(ns_unlink(ns, NULL, dir, name));
		want[k] = false;
		nwant--;
	}
	for (unsigned k = N; k < N + 20; k++) {
		snprintf(name, sizeof(name), "e%u", k);
		inos[k] = k % 11 == 0 ? mkdirn(ns, dir, name) : mkfile(ns, dir, name);
		want[k] = true;
		nwant++;
	}
	memset(&rest, 0, sizeof(rest));
	T_OK(ns_readdir(ns, NULL, dir, cookie, collect, &rest));
	for (size_t i = 0; i < rest.n; i++) {
		unsigned k;

		T_ASSERT(sscanf(rest.v[i].name, "e%u", &k) == 1 && want[k]);
	}
	for (unsigned k = N; k < N + 20; k++) {
		bool found = false;

		for (size_t i = 0; i < rest.n; i++) {
			snprintf(name, sizeof(name), "e%u", k);
			found |= strcmp(rest.v[i].name, name) == 0;
		}
		T_ASSERT(found);
	}
	free(rest.v);
	free(l.v);
	list_dir(ns, dir, &l);
	check_listing(&l, want, inos, nwant);

	/* A cookie past the end lists nothing; an empty directory lists nothing. */
	memset(&rest, 0, sizeof(rest));
	T_OK(ns_readdir(ns, NULL, dir, l.v[l.n - 1].next, collect, &rest));
	T_ASSERT(rest.n == 0);
	T_OK(ns_readdir(ns, NULL, dir, UINT64_C(1) << 40, collect, &rest));
	T_ASSERT(rest.n == 0);
	T_OK(ns_readdir(ns, NULL, empty, 0, collect, &rest));
	T_ASSERT(rest.n == 0);
	free(l.v);
	T_ASSERT(ino_at(ns, dir, "e1") == 0);
	T_ERR(ns_readdir(ns, NULL, inos[2], 0, collect, &rest), ENOTDIR);
	T_ERR(ns_readdir(ns, NULL, NO_INO, 0, collect, &rest), ENOENT);
	T_ERR(ns_readdir(ns, NULL, inos[1], 0, collect, &rest), ENOENT);
	T_ASSERT(rest.n == 0);
}

/* ---- unlink / rmdir ----------------------------------------------------------------------- */

static void test_remove(struct ns *ns)
{
	uint8_t data[5 * PG], b[16];
	char n256[NS_NAME_MAX + 2];
	struct ns_setattr sa = {.valid = NS_SET_UID, .uid = 1};
	uint64_t u = mkdirn(ns, ROOT, "rm"), x = mkfile(ns, u, "x"), y = mkdirn(ns, u, "y");
	uint64_t z = mkfile(ns, y, "z"), e = mkdirn(ns, u, "e"), free0;

	fill_rand(data, sizeof(data));
	write_at(ns, x, data, sizeof(data), 0);
	T_ASSERT(attr_of(ns, x).blocks == 5);
	free0 = blocks_free(ns);

	T_ERR(ns_unlink(ns, NULL, u, "nope"), ENOENT);
	T_ERR(ns_rmdir(ns, NULL, u, "nope"), ENOENT);
	T_ERR(ns_unlink(ns, NULL, NO_INO, "x"), ENOENT);
	T_ERR(ns_rmdir(ns, NULL, NO_INO, "y"), ENOENT);
	T_ERR(ns_unlink(ns, NULL, u, "y"), EISDIR);
	T_ERR(ns_rmdir(ns, NULL, u, "x"), ENOTDIR);
	T_ERR(ns_rmdir(ns, NULL, u, "y"), ENOTEMPTY);
	T_ERR(ns_unlink(ns, NULL, x, "a"), ENOTDIR);
	T_ERR(ns_rmdir(ns, NULL, x, "a"), ENOTDIR);
	T_ERR(ns_unlink(ns, NULL, u, ""), EINVAL);
	T_ERR(ns_unlink(ns, NULL, u, ".."), EINVAL);
	T_ERR(ns_rmdir(ns, NULL, u, "."), EINVAL);
	memset(n256, 'r', sizeof(n256) - 1);
	n256[sizeof(n256) - 1] = '\0';
	T_ERR(ns_unlink(ns, NULL, u, n256), ENAMETOOLONG);
	T_ERR(ns_rmdir(ns, NULL, u, n256), ENAMETOOLONG);
	/* The failures changed nothing. */
	T_ASSERT(ino_at(ns, u, "x") == x && ino_at(ns, u, "y") == y && ino_at(ns, y, "z") == z);
	T_ASSERT(attr_of(ns, u).nlink == 4);
	check_file(ns, x, data, sizeof(data));

	T_OK(ns_rmdir(ns, NULL, u, "e"));
	T_ASSERT(ino_at(ns, u, "e") == 0 && attr_of(ns, u).nlink == 3);
	T_ERR(ns_getattr(ns, e, &(struct ns_attr){0}), ENOENT);
	T_ERR(ns_rmdir(ns, NULL, u, "e"), ENOENT);

	T_OK(ns_unlink(ns, NULL, u, "x"));
	T_ASSERT(ino_at(ns, u, "x") == 0 && attr_of(ns, u).nlink == 3);
	T_ERR(ns_getattr(ns, x, &(struct ns_attr){0}), ENOENT);
	T_ERR(ns_read(ns, NULL, x, b, sizeof(b), 0), ENOENT);
	T_ERR(ns_write(ns, NULL, x, b, sizeof(b), 0), ENOENT);
	T_ERR(ns_setattr(ns, NULL, x, &sa, NULL), ENOENT);
	T_ERR(ns_fallocate(ns, NULL, x, 0, 0, PG), ENOENT);
	T_ERR(ns_fsync(ns, NULL, x), ENOENT);
	T_ERR(ns_unlink(ns, NULL, u, "x"), ENOENT);
	T_ASSERT(blocks_free(ns) == free0 + 5);

	T_OK(ns_unlink(ns, NULL, y, "z"));
	T_OK(ns_rmdir(ns, NULL, u, "y"));
	T_ASSERT(attr_of(ns, u).nlink == 2);
	T_OK(ns_rmdir(ns, NULL, ROOT, "rm"));
	T_ASSERT(ino_at(ns, ROOT, "rm") == 0);
}

/* ---- rename ------------------------------------------------------------------------------- */

static void test_rename(struct ns *ns)
{
	uint8_t sdata[3 * PG], tdata[64 * PG];
	char n256[NS_NAME_MAX + 2];
	uint64_t rn = mkdirn(ns, ROOT, "rn"), d1 = mkdirn(ns, rn, "d1"), d2 = mkdirn(ns, rn, "d2");
	uint64_t a, s, t, m, empty, e2, f1, f2, f3, deep, free0;
	uint32_t n1, n2;

	/* Plain, in one directory. */
	a = mkfile(ns, d1, "a");
	T_OK(ns_rename(ns, NULL, d1, "a", d1, "b", 0));
	T_ASSERT(ino_at(ns, d1, "a") == 0 && ino_at(ns, d1, "b") == a);
	/* Into another directory. */
	T_OK(ns_rename(ns, NULL, d1, "b", d2, "c", 0));
	T_ASSERT(ino_at(ns, d1, "b") == 0 && ino_at(ns, d2, "c") == a);
	T_ASSERT(attr_of(ns, d1).nlink == 2 && attr_of(ns, d2).nlink == 2);

	/* Over an existing file: the old target goes, with its blocks. */
	s = mkfile(ns, d1, "s");
	t = mkfile(ns, d2, "t");
	fill_rand(sdata, sizeof(sdata));
	fill_rand(tdata, sizeof(tdata));
	write_at(ns, s, sdata, sizeof(sdata), 0);
	write_at(ns, t, tdata, sizeof(tdata), 0);
	T_ASSERT(attr_of(ns, t).blocks == 64);
	free0 = blocks_free(ns);
	T_OK(ns_rename(ns, NULL, d1, "s", d2, "t", 0));
	T_ASSERT(ino_at(ns, d1, "s") == 0 && ino_at(ns, d2, "t") == s);
	T_ERR(ns_getattr(ns, t, &(struct ns_attr){0}), ENOENT);
	T_ASSERT(blocks_free(ns) == free0 + 64);
	check_file(ns, s, sdata, sizeof(sdata));

	/* A directory over an empty directory. */
	m = mkdirn(ns, d1, "m");
	mkfile(ns, m, "inner");
	empty = mkdirn(ns, d2, "empty");
	n1 = attr_of(ns, d1).nlink;
	n2 = attr_of(ns, d2).nlink;
	T_ASSERT(n1 == 3 && n2 == 3);
	T_OK(ns_rename(ns, NULL, d1, "m", d2, "empty", 0));
	T_ASSERT(ino_at(ns, d1, "m") == 0 && ino_at(ns, d2, "empty") == m);
	T_ERR(ns_getattr(ns, empty, &(struct ns_attr){0}), ENOENT);
	T_ASSERT(attr_of(ns, d1).nlink == n1 - 1 && attr_of(ns, d2).nlink == n2);
	{
		struct ns_attr at;

		T_OK(t_resolve(ns, "/rn/d2/empty/inner", &at));
	}

	/* Non-empty target, and type mismatches: nothing changes. */
	e2 = mkdirn(ns, d1, "e2");
	T_ERR(ns_rename(ns, NULL, d1, "e2", d2, "empty", 0), ENOTEMPTY);
	T_ERR(ns_rename(ns, NULL, d2, "t", d1, "e2", 0), EISDIR);
	T_ERR(ns_rename(ns, NULL, d1, "e2", d2, "t", 0), ENOTDIR);
	T_ASSERT(ino_at(ns, d1, "e2") == e2 && ino_at(ns, d2, "empty") == m);
	T_ASSERT(ino_at(ns, d2, "t") == s);

	/* A directory into itself or below itself. */
	deep = mkdirn(ns, m, "deep");
	T_ERR(ns_rename(ns, NULL, d2, "empty", m, "x", 0), EINVAL);
	T_ERR(ns_rename(ns, NULL, d2, "empty", deep, "x", 0), EINVAL);
	T_ERR(ns_rename(ns, NULL, rn, "d2", deep, "x", 0), EINVAL);
	T_ERR(ns_rename(ns, NULL, ROOT, "rn", d1, "x", 0), EINVAL);
	T_ASSERT(ino_at(ns, d2, "empty") == m && ino_at(ns, m, "deep") == deep);

	/* NOREPLACE */
	f1 = mkfile(ns, d1, "f1");
	f2 = mkfile(ns, d1, "f2");
	T_ERR(ns_rename(ns, NULL, d1, "f1", d1, "f2", NS_RENAME_NOREPLACE), EEXIST);
	T_ERR(ns_rename(ns, NULL, d1, "e2", d2, "empty", NS_RENAME_NOREPLACE), EEXIST);
	T_ASSERT(ino_at(ns, d1, "f1") == f1 && ino_at(ns, d1, "f2") == f2);
	T_OK(ns_rename(ns, NULL, d1, "f1", d1, "f3", NS_RENAME_NOREPLACE));
	f3 = f1;
	T_ASSERT(ino_at(ns, d1, "f1") == 0 && ino_at(ns, d1, "f3") == f3);

	/* EXCHANGE: a file and a directory in different directories swap places. */
	n1 = attr_of(ns, d1).nlink;
	n2 = attr_of(ns, d2).nlink;
	T_OK(ns_rename(ns, NULL, d1, "f3", d2, "empty", NS_RENAME_EXCHANGE));
	T_ASSERT(ino_at(ns, d1, "f3") == m && ino_at(ns, d2, "empty") == f3);
	T_ASSERT(attr_of(ns, d1).nlink == n1 + 1 && attr_of(ns, d2).nlink == n2 - 1);
	{
		struct ns_attr at;

		T_OK(t_resolve(ns, "/rn/d1/f3/deep", &at));
		T_ASSERT(at.ino == deep);
	}
	/* Two files in one directory. */
	T_OK(ns_rename(ns, NULL, d2, "t", d2, "empty", NS_RENAME_EXCHANGE));
	T_ASSERT(ino_at(ns, d2, "t") == f3 && ino_at(ns, d2, "empty") == s);
	T_ASSERT(attr_of(ns, d2).nlink == n2 - 1);
	T_ERR(ns_rename(ns, NULL, d2, "t", d2, "nope", NS_RENAME_EXCHANGE), ENOENT);
	T_ERR(ns_rename(ns, NULL, d1, "f3", deep, "y", NS_RENAME_EXCHANGE), ENOENT);
	/* A directory swapped with something below it. */
	mkfile(ns, deep, "y");
	T_ERR(ns_rename(ns, NULL, d1, "f3", deep, "y", NS_RENAME_EXCHANGE), EINVAL);
	T_ERR(ns_rename(ns, NULL, deep, "y", d1, "f3", NS_RENAME_EXCHANGE), EINVAL);
	T_OK(ns_unlink(ns, NULL, deep, "y"));
	T_ASSERT(ino_at(ns, d1, "f3") == m);

	/* Bad flags and names. */
	T_ERR(ns_rename(ns, NULL, d1, "f2", d1, "g", NS_RENAME_EXCHANGE | NS_RENAME_NOREPLACE),
	      EINVAL);
	T_ERR(ns_rename(ns, NULL, d1, "f2", d1, "g", 4), EINVAL);
	T_ERR(ns_rename(ns, NULL, d1, "", d1, "g", 0), EINVAL);
	T_ERR(ns_rename(ns, NULL, d1, "f2", d1, "..", 0), EINVAL);
	T_ERR(ns_rename(ns, NULL, d1, ".", d1, "g", 0), EINVAL);
	T_ERR(ns_rename(ns, NULL, d1, "f2", d1, "a/b", 0), EINVAL);
	memset(n256, 'q', sizeof(n256) - 1);
	n256[sizeof(n256) - 1] = '\0';
	T_ERR(ns_rename(ns, NULL, d1, "f2", d1, n256, 0), ENAMETOOLONG);
	T_ERR(ns_rename(ns, NULL, d1, "nope", d1, "g", 0), ENOENT);
	T_ERR(ns_rename(ns, NULL, NO_INO, "f2", d1, "g", 0), ENOENT);
	T_ERR(ns_rename(ns, NULL, d1, "f2", NO_INO, "g", 0), ENOENT);
	T_ERR(ns_rename(ns, NULL, f2, "x", d1, "g", 0), ENOTDIR);
	T_ERR(ns_rename(ns, NULL, d1, "f2", f2, "g", 0), ENOTDIR);
	T_ASSERT(ino_at(ns, d1, "f2") == f2 && ino_at(ns, d1, "g") == 0);

	/* The same file: nothing happens. */
	{
		struct ns_attr before = attr_of(ns, f2), da = attr_of(ns, d1), after;

		T_OK(ns_rename(ns, NULL, d1, "f2", d1, "f2", 0));
		after = attr_of(ns, f2);
		attr_eq(&before, &after, "rename to itself");
		after = attr_of(ns, d1);
		attr_eq(&da, &after, "the directory of a rename to itself");
	}

	/* Moving directories keeps the parents' link counts. */
	n1 = attr_of(ns, d1).nlink;
	n2 = attr_of(ns, d2).nlink;
	T_OK(ns_rename(ns, NULL, d1, "e2", d2, "e2", 0));
	T_ASSERT(attr_of(ns, d1).nlink == n1 - 1 && attr_of(ns, d2).nlink == n2 + 1);
	T_OK(ns_rename(ns, NULL, d2, "e2", d2, "e3", 0));
	T_ASSERT(attr_of(ns, d2).nlink == n2 + 1);
	T_OK(ns_rename(ns, NULL, d2, "e3", rn, "e4", 0));
	T_ASSERT(attr_of(ns, d2).nlink == n2 && attr_of(ns, rn).nlink == 5);
	T_OK(ns_rename(ns, NULL, rn, "d1", d2, "d1", 0));
	T_ASSERT(attr_of(ns, rn).nlink == 4 && attr_of(ns, d2).nlink == n2 + 1);
	{
		struct ns_attr at;

		T_OK(t_resolve(ns, "/rn/d2/d1/f3/deep", &at));
		T_ASSERT(at.ino == deep);
		T_ERR(t_resolve(ns, "/rn/d1", &at), ENOENT);
	}
	T_ASSERT(ino_at(ns, rn, "e4") == e2);
}

/* ---- setattr ------------------------------------------------------------------------------ */

/*
 * A name a rename replaces is never missing (POSIX): walks of it while files are renamed
 * over it, again and again, find the old file or the new one, never -ENOENT. The walk
 * reads the attributes of what its lookup found after the lookup; a file replaced in
 * between made it answer -ENOENT (found by tests/stress/test-lincheck).
 */
struct replacer {
	struct ns *ns;
	uint64_t dir;
	unsigned stop;	  /* atomic */
	unsigned renames; /* atomic */
};

static void *replace_main(void *arg)
{
	struct replacer *r = arg;

	rcu_thread_online();
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		mkfile(r->ns, r->dir, "new");
		T_OK(ns_rename(r->ns, NULL, r->dir, "new", r->dir, "name", 0));
		__atomic_fetch_add(&r->renames, 1, __ATOMIC_RELAXED);
	}
	rcu_thread_offline();
	return NULL;
}

static void test_rename_walks(struct ns *ns)
{
	struct replacer r = {.ns = ns, .dir = mkdirn(ns, ROOT, "rwalk")};
	unsigned walks = 0, missing = 0;
	struct ns_attr a;
	pthread_t th;

	mkfile(ns, r.dir, "name");
	T_ASSERT(pthread_create(&th, NULL, replace_main, &r) == 0);
	while (__atomic_load_n(&r.renames, __ATOMIC_RELAXED) < 10000 && walks < 50000000) {
		missing += t_resolve(ns, "/rwalk/name", &a) == -ENOENT;
		walks++;
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	T_ASSERT(pthread_join(th, NULL) == 0);
	if (missing)
		T_FAIL("%u of %u walks of a name renames replace found it missing (%u renames)",
		       missing, walks, __atomic_load_n(&r.renames, __ATOMIC_RELAXED));
}

static void test_setattr(struct ns *ns)
{
	uint8_t data[3 * PG], model[3 * PG];
	struct ns_setattr sa;
	struct ns_attr a, b;
	uint64_t dir = mkdirn(ns, ROOT, "sa"), f = mkfile(ns, dir, "f"), free0;
	int64_t t0;

	a = attr_of(ns, f);
	t0 = wall_ns();
	sa = (struct ns_setattr){.valid = NS_SET_MODE | NS_SET_UID | NS_SET_GID | NS_SET_ATIME |
					  NS_SET_MTIME,
				 .mode = 04751,
				 .uid = 1000,
				 .gid = 2000,
				 .atime = 123456789,
				 .mtime = -5};
	T_OK(ns_setattr(ns, NULL, f, &sa, &b));
	T_ASSERT(b.mode == (S_IFREG | 04751) && b.uid == 1000 && b.gid == 2000);
	T_ASSERT(b.atime == 123456789 && b.mtime == -5 && b.ctime >= t0 && b.ctime >= a.ctime);
	T_ASSERT(b.size == 0 && b.nlink == 1 && b.ino == f);
	a = attr_of(ns, f);
	attr_eq(&a, &b, "getattr after setattr");

	/* One field at a time leaves the others, but a chgrp drops setuid, as chown(2) does. */
	sa = (struct ns_setattr){.valid = NS_SET_GID, .gid = 7};
	T_OK(ns_setattr(ns, NULL, f, &sa, &b));
	T_ASSERT(b.gid == 7 && b.uid == 1000 && b.mode == (S_IFREG | 0751) && b.mtime == -5);
	sa = (struct ns_setattr){.valid = NS_SET_MODE, .mode = 0};
	T_OK(ns_setattr(ns, NULL, f, &sa, &b));
	T_ASSERT(b.mode == S_IFREG && b.gid == 7);
	sa = (struct ns_setattr){.valid = 0};
	T_OK(ns_setattr(ns, NULL, f, &sa, &b));
	T_ASSERT(b.mode == S_IFREG && b.atime == 123456789);

	/* Directories: mode keeps the type. */
	sa = (struct ns_setattr){.valid = NS_SET_MODE | NS_SET_UID, .mode = 01777, .uid = 3};
	T_OK(ns_setattr(ns, NULL, dir, &sa, &b));
	T_ASSERT(b.mode == (S_IFDIR | 01777) && b.uid == 3 && b.nlink == 2);

	/* Errors change nothing. */
	a = attr_of(ns, f);
	sa = (struct ns_setattr){.valid = NS_SET_MODE | NS_SET_UID, .mode = 010000, .uid = 9};
	T_ERR(ns_setattr(ns, NULL, f, &sa, NULL), EINVAL);
	sa = (struct ns_setattr){.valid = NS_SET_MODE, .mode = S_IFREG | 0644};
	T_ERR(ns_setattr(ns, NULL, f, &sa, NULL), EINVAL);
	sa = (struct ns_setattr){.valid = 1U << 12 | NS_SET_UID, .uid = 9};
	T_ERR(ns_setattr(ns, NULL, f, &sa, NULL), EINVAL);
	sa = (struct ns_setattr){.valid = NS_SET_UID, .uid = 9};
	T_ERR(ns_setattr(ns, NULL, NO_INO, &sa, NULL), ENOENT);
	sa = (struct ns_setattr){.valid = NS_SET_SIZE | NS_SET_UID, .size = 10, .uid = 9};
	T_ERR(ns_setattr(ns, NULL, dir, &sa, NULL), EISDIR);
	sa = (struct ns_setattr){.valid = NS_SET_SIZE | NS_SET_UID, .size = NS_FILE_SIZE_MAX + 1};
	T_ERR(ns_setattr(ns, NULL, f, &sa, NULL), EFBIG);
	b = attr_of(ns, f);
	attr_eq(&a, &b, "after failed setattrs");
	T_ASSERT(attr_of(ns, dir).uid == 3);

	/* Grow: zeros, no blocks, a new mtime. */
	free0 = blocks_free(ns);
	sa = (struct ns_setattr){.valid = NS_SET_SIZE, .size = 10000};
	T_OK(ns_setattr(ns, NULL, f, &sa, &b));
	T_ASSERT(b.size == 10000 && b.blocks == 0 && b.mtime >= t0 && b.ctime == b.mtime);
	memset(model, 0, sizeof(model));
	check_file(ns, f, model, 10000);

	/* Shrink frees the pages past the end; growing again shows zeros there. */
	fill_rand(data, sizeof(data));
	write_at(ns, f, data, sizeof(data), 0);
	T_ASSERT(attr_of(ns, f).blocks == 3 && blocks_free(ns) == free0 - 3);
	sa = (struct ns_setattr){.valid = NS_SET_SIZE, .size = 5000};
	T_OK(ns_setattr(ns, NULL, f, &sa, &b));
	T_ASSERT(b.size == 5000 && b.blocks == 2);
	T_ASSERT(blocks_free(ns) == free0 - 2);
	memcpy(model, data, 5000);
	check_file(ns, f, model, 5000);
	sa = (struct ns_setattr){.valid = NS_SET_SIZE | NS_SET_MTIME, .size = 3 * PG, .mtime = 77};
	T_OK(ns_setattr(ns, NULL, f, &sa, &b));
	T_ASSERT(b.size == 3 * PG && b.blocks == 2 && b.mtime == 77);
	check_file(ns, f, model, 3 * PG);
	/* A shrink inside the last page, then a grow inside it. */
	sa = (struct ns_setattr){.valid = NS_SET_SIZE, .size = 4100};
	T_OK(ns_setattr(ns, NULL, f, &sa, &b));
	T_ASSERT(b.blocks == 2);
	sa.size = 4200;
	T_OK(ns_setattr(ns, NULL, f, &sa, &b));
	memset(model + 4100, 0, sizeof(model) - 4100);
	check_file(ns, f, model, 4200);
	sa.size = 0;
	T_OK(ns_setattr(ns, NULL, f, &sa, &b));
	T_ASSERT(b.size == 0 && b.blocks == 0 && blocks_free(ns) == free0);
	T_ASSERT(ns_read(ns, NULL, f, data, 10, 0) == 0);

	/* The largest size there is: a hole of 1 PiB. */
	sa.size = NS_FILE_SIZE_MAX;
	T_OK(ns_setattr(ns, NULL, f, &sa, &b));
	T_ASSERT(b.size == NS_FILE_SIZE_MAX && b.blocks == 0);
	memset(data, 1, 10);
	T_ASSERT(ns_read(ns, NULL, f, data, 64, NS_FILE_SIZE_MAX - 10) == 10);
	T_ASSERT(memcmp(data, model + PG * 2, 10) == 0);
	sa.size = 0;
	T_OK(ns_setattr(ns, NULL, f, &sa, &b));
}

/* ---- read / write ------------------------------------------------------------------------- */

#define RW_SPAN (900 * KiB)
#define RW_OPS 300

static void test_rw(struct ns *ns)
{
	uint8_t *model = xmalloc(2 * MiB), *buf = xmalloc(64 * KiB);
	bool touched[(RW_SPAN + 64 * KiB) / PG] = {false};
	struct ns_setattr sa = {.valid = NS_SET_SIZE};
	uint64_t dir = mkdirn(ns, ROOT, "rw"), f = mkfile(ns, dir, "f"), size = 0;
	uint64_t sp, g, d2;
	struct ns_attr a;

	/* Random writes against a model, with the page-granular block count. */
	for (int op = 0; op < RW_OPS; op++) {
		uint64_t off = rnd(4) == 0 ? rnd(RW_SPAN / PG) * PG : rnd(RW_SPAN);
		uint64_t len = rnd(3) == 0 ? 1 + rnd(64) : 1 + rnd(40000);
		uint64_t pages = 0;

		fill_rand(buf, len);
		write_at(ns, f, buf, len, off);
		memcpy(model + off, buf, len);
		for (uint64_t p = off / PG; p <= (off + len - 1) / PG; p++)
			touched[p] = true;
		if (off + len > size)
			size = off + len;
		a = attr_of(ns, f);
		T_ASSERT(a.size == size);
		for (uint64_t p = 0; p < sizeof(touched); p++)
			pages += touched[p];
		if (a.blocks != pages)
			T_FAIL("op %d: %" PRIu64 " blocks, expected %" PRIu64, op, a.blocks, pages);
		if (op % 50 == 49)
			check_file(ns, f, model, size);
		/* Random reads, some past the end. */
		for (int k = 0; k < 4; k++) {
			uint64_t roff = rnd(size + 8192), rlen = rnd(20000);
			uint64_t want =
				roff >= size ? 0 : (roff + rlen > size ? size - roff : rlen);

			T_ASSERT(ns_read(ns, NULL, f, buf, rlen, roff) == (ssize_t)want);
			T_ASSERT(memcmp(buf, model + roff, want) == 0);
		}
	}
	check_file(ns, f, model, size);
	T_ASSERT(ns_read(ns, NULL, f, buf, 10, size - 1) == 1 && buf[0] == model[size - 1]);
	T_ASSERT(ns_read(ns, NULL, f, buf, 10, size + 100) == 0);
	T_ASSERT(ns_read(ns, NULL, f, buf, 0, 0) == 0);
	T_ASSERT(ns_write(ns, NULL, f, buf, 0, size + 5000) == 0);
	T_ASSERT(attr_of(ns, f).size == size);

	/* A sparse file: one block, zeros everywhere else. */
	sp = mkfile(ns, dir, "sparse");
	fill_rand(buf, 100);
	write_at(ns, sp, buf, 100, MiB + 10);
	a = attr_of(ns, sp);
	T_ASSERT(a.size == MiB + 110 && a.blocks == 1);
	memset(model, 0, MiB + 10);
	memcpy(model + MiB + 10, buf, 100);
	check_file(ns, sp, model, MiB + 110);

	/* Writing past the end leaves zeros in the gap, even over bytes a shrink cut off. */
	g = mkfile(ns, dir, "gap");
	memset(buf, 0xee, PG);
	write_at(ns, g, buf, PG, 0);
	sa.size = 100;
	T_OK(ns_setattr(ns, NULL, g, &sa, NULL));
	write_at(ns, g, "0123456789", 10, 5000);
	memset(model, 0, 8192);
	memset(model, 0xee, 100);
	memcpy(model + 5000, "0123456789", 10);
	check_file(ns, g, model, 5010);
	sa.size = 4000;
	T_OK(ns_setattr(ns, NULL, g, &sa, NULL));
	write_at(ns, g, "ab", 2, 4090);
	memset(model + 4000, 0, 90);
	memcpy(model + 4090, "ab", 2);
	check_file(ns, g, model, 4092);

	/* Errors. */
	d2 = mkdirn(ns, dir, "d");
	T_ERR(ns_read(ns, NULL, d2, buf, 10, 0), EISDIR);
	T_ERR(ns_write(ns, NULL, d2, buf, 10, 0), EISDIR);
	T_ERR(ns_read(ns, NULL, NO_INO, buf, 10, 0), ENOENT);
	T_ERR(ns_write(ns, NULL, NO_INO, buf, 10, 0), ENOENT);
	T_ERR(ns_write(ns, NULL, g, buf, 1, NS_FILE_SIZE_MAX), EFBIG);
	T_ERR(ns_write(ns, NULL, g, buf, 2, NS_FILE_SIZE_MAX - 1), EFBIG);
	T_ERR(ns_write(ns, NULL, g, buf, 1, UINT64_MAX - 1), EFBIG);
	check_file(ns, g, model, 4092);
	/* The very last byte a file can have. */
	T_ASSERT(ns_write(ns, NULL, g, "z", 1, NS_FILE_SIZE_MAX - 1) == 1);
	T_ASSERT(attr_of(ns, g).size == NS_FILE_SIZE_MAX);
	T_ASSERT(ns_read(ns, NULL, g, buf, 10, NS_FILE_SIZE_MAX - 2) == 2);
	T_ASSERT(buf[0] == 0 && buf[1] == 'z');
	sa.size = 4092;
	T_OK(ns_setattr(ns, NULL, g, &sa, NULL));
	check_file(ns, g, model, 4092);
	T_ASSERT(attr_of(ns, g).blocks == 1);
	free(buf);
	free(model);
}

/* ---- fallocate ---------------------------------------------------------------------------- */

static void test_fallocate(struct ns *ns)
{
	uint8_t model[8 * PG], data[4 * PG];
	struct ns_setattr sa = {.valid = NS_SET_SIZE};
	uint64_t dir = mkdirn(ns, ROOT, "fa"), dirty, f, k, e, h, free0;
	struct ns_attr a;

	/* Leave dirty free blocks behind for the allocations below to reuse. */
	dirty = mkfile(ns, dir, "dirty");
	memset(model, 0xa5, sizeof(model));
	for (int i = 0; i < 64; i++)
		write_at(ns, dirty, model, sizeof(model), (uint64_t)i * sizeof(model));
	T_OK(ns_unlink(ns, NULL, dir, "dirty"));
	free0 = blocks_free(ns);

	/* Without KEEP_SIZE: the size grows; the blocks read as zeros. */
	f = mkfile(ns, dir, "f");
	T_OK(ns_fallocate(ns, NULL, f, 0, 0, 3 * PG + 100));
	a = attr_of(ns, f);
	T_ASSERT(a.size == 3 * PG + 100 && a.blocks == 4);
	T_ASSERT(blocks_free(ns) == free0 - 4);
	memset(model, 0, sizeof(model));
	check_file(ns, f, model, 3 * PG + 100);
	/* Past the end: the gap is zeros too. */
	T_OK(ns_fallocate(ns, NULL, f, 0, 6 * PG, 10));
	a = attr_of(ns, f);
	T_ASSERT(a.size == 6 * PG + 10 && a.blocks == 5);
	check_file(ns, f, model, 6 * PG + 10);

	/* KEEP_SIZE: blocks without size; later writes need no new blocks. */
	k = mkfile(ns, dir, "k");
	free0 = blocks_free(ns);
	T_OK(ns_fallocate(ns, NULL, k, NS_FALLOC_KEEP_SIZE, 0, 16 * PG));
	a = attr_of(ns, k);
	T_ASSERT(a.size == 0 && a.blocks == 16 && blocks_free(ns) == free0 - 16);
	write_at(ns, k, "hello", 5, 0);
	a = attr_of(ns, k);
	T_ASSERT(a.size == 5 && a.blocks == 16 && blocks_free(ns) == free0 - 16);
	sa.size = 16 * PG;
	T_OK(ns_setattr(ns, NULL, k, &sa, NULL));
	{
		uint8_t *big = xmalloc(16 * PG);

		memcpy(big, "hello", 5);
		check_file(ns, k, big, 16 * PG);
		free(big);
	}

	/* Over existing data: the data stays. */
	e = mkfile(ns, dir, "e");
	fill_rand(data, 3 * PG);
	write_at(ns, e, data, 3 * PG, 0);
	T_OK(ns_fallocate(ns, NULL, e, 0, PG, 4 * PG));
	a = attr_of(ns, e);
	T_ASSERT(a.size == 5 * PG && a.blocks == 5);
	memcpy(model, data, 3 * PG);
	check_file(ns, e, model, 5 * PG);
	memset(model, 0, sizeof(model));

	/* Punch: partial pages zeroed, whole pages freed, the size kept. */
	h = mkfile(ns, dir, "h");
	fill_rand(data, sizeof(data));
	write_at(ns, h, data, sizeof(data), 0);
	memcpy(model, data, sizeof(data));
	free0 = blocks_free(ns);
	T_OK(ns_fallocate(ns, NULL, h, NS_FALLOC_KEEP_SIZE | NS_FALLOC_PUNCH_HOLE, 100,
			  2 * PG + 200));
	memset(model + 100, 0, 2 * PG + 200);
	a = attr_of(ns, h);
	T_ASSERT(a.size == 4 * PG && a.blocks == 3 && blocks_free(ns) == free0 + 1);
	check_file(ns, h, model, 4 * PG);
	/* Inside one page: no block goes. */
	T_OK(ns_fallocate(ns, NULL, h, NS_FALLOC_KEEP_SIZE | NS_FALLOC_PUNCH_HOLE, 3 * PG + 7, 9));
	memset(model + 3 * PG + 7, 0, 9);
	T_ASSERT(attr_of(ns, h).blocks == 3);
	check_file(ns, h, model, 4 * PG);
	/* Past the end: nothing changes. */
	T_OK(ns_fallocate(ns, NULL, h, NS_FALLOC_KEEP_SIZE | NS_FALLOC_PUNCH_HOLE, 10 * PG, PG));
	T_ASSERT(attr_of(ns, h).blocks == 3 && attr_of(ns, h).size == 4 * PG);
	/* The whole file. */
	T_OK(ns_fallocate(ns, NULL, h, NS_FALLOC_KEEP_SIZE | NS_FALLOC_PUNCH_HOLE, 0, 4 * PG));
	memset(model, 0, sizeof(model));
	T_ASSERT(attr_of(ns, h).blocks == 0 && blocks_free(ns) == free0 + 4);
	check_file(ns, h, model, 4 * PG);
	/* A hole refilled by a write. */
	write_at(ns, h, "xy", 2, PG + 1);
	memcpy(model + PG + 1, "xy", 2);
	T_ASSERT(attr_of(ns, h).blocks == 1);
	check_file(ns, h, model, 4 * PG);

	/* Errors, which change nothing. */
	a = attr_of(ns, h);
	T_ERR(ns_fallocate(ns, NULL, h, 0, 0, 0), EINVAL);
	T_ERR(ns_fallocate(ns, NULL, h, NS_FALLOC_KEEP_SIZE | NS_FALLOC_PUNCH_HOLE, 0, 0), EINVAL);
	T_ERR(ns_fallocate(ns, NULL, h, NS_FALLOC_PUNCH_HOLE, 0, PG), EINVAL);
	T_ERR(ns_fallocate(ns, NULL, h, 0x4, 0, PG), EINVAL);
	T_ERR(ns_fallocate(ns, NULL, h, 0x10 | NS_FALLOC_KEEP_SIZE, 0, PG), EINVAL);
	T_ERR(ns_fallocate(ns, NULL, h, 0, NS_FILE_SIZE_MAX, 1), EFBIG);
	T_ERR(ns_fallocate(ns, NULL, h, NS_FALLOC_KEEP_SIZE, NS_FILE_SIZE_MAX - PG, 2 * PG), EFBIG);
	T_ERR(ns_fallocate(ns, NULL, dir, 0, 0, PG), EISDIR);
	T_ERR(ns_fallocate(ns, NULL, NO_INO, 0, 0, PG), ENOENT);
	{
		struct ns_attr b = attr_of(ns, h);

		attr_eq(&a, &b, "after failed fallocates");
	}
	check_file(ns, h, model, 4 * PG);
}

/* ---- fsync -------------------------------------------------------------------------------- */

static void test_fsync(struct ns *ns)
{
	uint64_t dir = mkdirn(ns, ROOT, "fs"), f = mkfile(ns, dir, "f");
	struct ns_statfs s0, s1, s2;
	struct ns_attr a, b;

	write_at(ns, f, "0123456789", 10, 0);
	T_OK(ns_fsync(ns, NULL, f));
	a = attr_of(ns, f);
	/* A pure overwrite changes mtime lazily; fsync makes it durable with one record. */
	write_at(ns, f, "ab", 2, 3);
	b = attr_of(ns, f);
	T_ASSERT(b.mtime > a.mtime && b.ctime == b.mtime && b.size == 10);
	ns_statfs(ns, &s0);
	T_OK(ns_fsync(ns, NULL, f));
	ns_statfs(ns, &s1);
	T_ASSERT(s1.checkpoints == s0.checkpoints && s1.log_used > s0.log_used);
	T_OK(ns_fsync(ns, NULL, f));
	T_OK(ns_fsync(ns, NULL, dir));
	ns_statfs(ns, &s2);
	T_ASSERT(s2.checkpoints == s1.checkpoints && s2.log_used == s1.log_used);
	a = attr_of(ns, f);
	attr_eq(&a, &b, "fsync");
	T_ERR(ns_fsync(ns, NULL, NO_INO), ENOENT);
	/* Left dirty for the remount to flush. */
	write_at(ns, f, "c", 1, 9);
}

/* ---- files past 2 MiB --------------------------------------------------------------------- */

/* entry_order - the order of the block-map entry of page @idx of @ino (white box). */
static unsigned entry_order(struct ns *ns, uint64_t ino, uint64_t idx, uint64_t *first)
{
	struct ns_inode *in;
	unsigned order = 99;
	xt_entry e;

	rcu_read_begin();
	in = ns_inode_find(ns, ino);
	T_ASSERT(in);
	e = __xt_load(&in->map, idx, first, &order);
	T_ASSERT(xt_is_value(e) && !bm_is_hole(e));
	rcu_read_end();
	return order;
}

static void test_big(struct ns *ns)
{
	const uint64_t size = 8 * MiB, piece = 256 * KiB;
	uint8_t *model = xmalloc(size);
	uint64_t dir = mkdirn(ns, ROOT, "big"), f = mkfile(ns, dir, "f"), g, free0, first;
	struct ns_attr a;

	fill_rand(model, size);
	free0 = blocks_free(ns);
	for (uint64_t off = 0; off < size; off += piece)
		write_at(ns, f, model + off, piece, off);
	a = attr_of(ns, f);
	T_ASSERT(a.size == size && a.blocks == 2048);
	T_ASSERT(blocks_free(ns) == free0 - 2048);
	for (uint64_t idx = 512; idx < 2048; idx += 200) {
		T_ASSERT(entry_order(ns, f, idx, &first) == 9);
		T_ASSERT(first == idx / 512 * 512);
	}
	check_file(ns, f, model, size);

	/* A hole punched into a 2 MiB extent: the rest of it stays. */
	T_OK(ns_fallocate(ns, NULL, f, NS_FALLOC_KEEP_SIZE | NS_FALLOC_PUNCH_HOLE, 3 * MiB + 5,
			  PG * 3));
	memset(model + 3 * MiB + 5, 0, PG * 3);
	T_ASSERT(attr_of(ns, f).blocks == 2046 && blocks_free(ns) == free0 - 2046);
	check_file(ns, f, model, size);
	/* Overwrite across extents, and a shrink into the middle of one. */
	fill_rand(model + 2 * MiB - 1000, 3 * MiB);
	write_at(ns, f, model + 2 * MiB - 1000, 3 * MiB, 2 * MiB - 1000);
	T_ASSERT(attr_of(ns, f).blocks == 2048);
	{
		struct ns_setattr sa = {.valid = NS_SET_SIZE, .size = 5 * MiB + 3};

		T_OK(ns_setattr(ns, NULL, f, &sa, &a));
		T_ASSERT(a.blocks == 1280 + 1);
		sa.size = size;
		T_OK(ns_setattr(ns, NULL, f, &sa, &a));
		memset(model + 5 * MiB + 3, 0, size - 5 * MiB - 3);
	}
	check_file(ns, f, model, size);

	/* One write of 6 MiB: every chunk a 2 MiB extent, the first one too. */
	g = mkfile(ns, dir, "g");
	write_at(ns, g, model, 6 * MiB, 0);
	a = attr_of(ns, g);
	T_ASSERT(a.size == 6 * MiB && a.blocks == 1536);
	for (uint64_t idx = 0; idx < 1536; idx += 100)
		T_ASSERT(entry_order(ns, g, idx, &first) == 9);
	check_file(ns, g, model, 6 * MiB);
	T_ASSERT(blocks_free(ns) == free0 - 1281 - 1536);
	/* Kept whole: the checkpoint and the remounts in main() carry 2 MiB extents. */
	free(model);
}

/* ---- out of data blocks ------------------------------------------------------------------- */

#define SP_FILES 64
#define SP_MAX (1 * MiB)

struct mfile {
	uint64_t ino;
	uint8_t *data;
	uint64_t size;
};

static void test_enospc_data(void)
{
	struct mfile files[SP_FILES] = {{0}};
	uint8_t *buf = xmalloc(96 * KiB);
	struct ns_setattr sa = {.valid = NS_SET_SIZE};
	struct ns_statfs st, st2;
	struct ns_attr a;
	struct ns *ns;
	uint64_t gap, free0;
	int nf = 0;
	char name[32];

	T_OK(ns_mkfs(t_path("enospc.img"), 16 * MiB, NULL));
	T_OK(ns_mount(&ns, t_path("enospc.img"), NULL));
	ns_statfs(ns, &st);
	T_ASSERT(st.blocks > 0 && st.blocks_free == st.blocks && st.blocks_quarantined == 0);

	/* Write unaligned pieces until the data area is full. */
	for (;;) {
		struct mfile *m;
		uint64_t len = 1 + rnd(96 * KiB);
		ssize_t n;

		if (nf == 0 || files[nf - 1].size >= SP_MAX) {
			T_ASSERT(nf < SP_FILES);
			snprintf(name, sizeof(name), "f%d", nf);
			files[nf].ino = mkfile(ns, ROOT, name);
			files[nf].data = xmalloc(SP_MAX + 96 * KiB);
			nf++;
		}
		m = &files[nf - 1];
		fill_rand(buf, len);
		n = ns_write(ns, NULL, m->ino, buf, len, m->size);
		if (n > 0 && (uint64_t)n <= len) {
			memcpy(m->data + m->size, buf, (size_t)n);
			m->size += (uint64_t)n;
		} else if (n != -ENOSPC) {
			T_FAIL("ns_write = %zd", n);
		}
		check_file(ns, m->ino, m->data, m->size);
		if (n == -ENOSPC)
			break;
	}
	ns_statfs(ns, &st);
	T_ASSERT(st.blocks_free == 0);

	/* With no block free: nothing that needs one changes anything. */
	gap = mkfile(ns, ROOT, "gap");
	T_ERR(ns_write(ns, NULL, gap, "x", 1, 10000), ENOSPC);
	a = attr_of(ns, gap);
	T_ASSERT(a.size == 0 && a.blocks == 0);
	T_ERR(ns_fallocate(ns, NULL, gap, 0, 0, PG), ENOSPC);
	a = attr_of(ns, gap);
	T_ASSERT(a.size == 0 && a.blocks == 0);
	T_ERR(ns_fallocate(ns, NULL, gap, NS_FALLOC_KEEP_SIZE, 0, PG), ENOSPC);
	T_ASSERT(attr_of(ns, gap).blocks == 0);
	for (int i = 0; i < nf; i++)
		check_file(ns, files[i].ino, files[i].data, files[i].size);
	/* A size needs no block. */
	sa.size = MiB;
	T_OK(ns_setattr(ns, NULL, gap, &sa, NULL));
	T_ASSERT(ns_read(ns, NULL, gap, buf, 100, 5000) == 100 && buf[0] == 0 && buf[99] == 0);
	sa.size = 0;
	T_OK(ns_setattr(ns, NULL, gap, &sa, NULL));

	/* Unlinking gives the space back (after the grace period of the frees). */
	T_ASSERT(attr_of(ns, files[0].ino).blocks == (files[0].size + PG - 1) / PG);
	T_OK(ns_unlink(ns, NULL, ROOT, "f0"));
	free(files[0].data);
	files[0].data = NULL;
	rcu_barrier_all();
	ns_statfs(ns, &st);
	T_ASSERT(st.blocks_free == (files[0].size + PG - 1) / PG);
	T_ASSERT(ns_write(ns, NULL, gap, "x", 1, 10000) == 1);
	T_ASSERT(attr_of(ns, gap).size == 10001);

	/* Everything as written, also after a remount. */
	free0 = blocks_free(ns);
	for (int i = 1; i < nf; i++)
		check_file(ns, files[i].ino, files[i].data, files[i].size);
	ns_unmount(&ns);
	T_OK(ns_mount(&ns, t_path("enospc.img"), NULL));
	ns_statfs(ns, &st2);
	T_ASSERT(st2.blocks_free == free0 && st2.orphans == 0);
	for (int i = 1; i < nf; i++) {
		check_file(ns, files[i].ino, files[i].data, files[i].size);
		free(files[i].data);
	}
	ns_unmount(&ns);
	free(buf);
}

/* ---- out of metadata log ------------------------------------------------------------------ */

static void long_name(char *name, unsigned i)
{
	int n = snprintf(name, NS_NAME_MAX + 1, "%08u-", i);

	memset(name + n, 'L', NS_NAME_MAX - (size_t)n);
	name[NS_NAME_MAX] = '\0';
}

static void check_log_full_dir(struct ns *ns, const bool *live, unsigned n)
{
	struct list l;
	unsigned count = 0;
	bool *seen = xmalloc(n);

	list_dir(ns, ROOT, &l);
	for (size_t i = 0; i < l.n; i++) {
		unsigned k;

		T_ASSERT(sscanf(l.v[i].name, "%u-", &k) == 1 && k < n && live[k] && !seen[k]);
		T_ASSERT(strlen(l.v[i].name) == NS_NAME_MAX);
		seen[k] = true;
	}
	for (unsigned k = 0; k < n; k++)
		count += live[k];
	T_ASSERT(l.n == count);
	free(l.v);
	free(seen);
}

static void test_log_full(void)
{
	struct ns_mkfs_opts mo = {.log_len = 2 * MiB};
	enum { MAX_FILES = 20000 };
	bool *live = xmalloc(MAX_FILES);
	char name[NS_NAME_MAX + 1];
	struct ns_statfs st;
	struct ns *ns;
	unsigned n = 0, nlive;
	int rc;

	T_OK(ns_mkfs(t_path("logfull.img"), 64 * MiB, &mo));
	T_OK(ns_mount(&ns, t_path("logfull.img"), NULL));
	ns_statfs(ns, &st);
	T_ASSERT(st.log_len == 2 * MiB);
	for (;;) {
		T_ASSERT(n < MAX_FILES);
		long_name(name, n);
		rc = ns_create(ns, NULL, ROOT, name, 0644, NULL);
		if (rc == -ENOSPC)
			break;
		T_OK(rc);
		live[n++] = true;
	}
	nlive = n;
	/* The failed create left nothing; other growth fails the same way. */
	T_ERR(ns_lookup(ns, NULL, ROOT, name, &(struct ns_attr){0}), ENOENT);
	T_ERR(ns_mkdir(ns, NULL, ROOT, name, 0755, NULL), ENOSPC);
	ns_statfs(ns, &st);
	T_ASSERT(st.files == nlive + 1 && st.checkpoints >= 1);
	check_log_full_dir(ns, live, n);
	/* The namespace itself still fits an area. */
	T_OK(ns_checkpoint(ns));

	/* Removing names makes room again. */
	for (unsigned k = 0; k < 10; k++) {
		long_name(name, k * 7);
		T_OK(ns_unlink(ns, NULL, ROOT, name));
		live[k * 7] = false;
		nlive--;
	}
	for (unsigned k = 0; k < 5; k++) {
		long_name(name, n);
		T_OK(ns_create(ns, NULL, ROOT, name, 0644, NULL));
		live[n++] = true;
		nlive++;
	}
	check_log_full_dir(ns, live, n);
	ns_statfs(ns, &st);
	T_ASSERT(st.files == nlive + 1);

	ns_unmount(&ns);
	T_OK(ns_mount(&ns, t_path("logfull.img"), NULL));
	check_log_full_dir(ns, live, n);
	ns_statfs(ns, &st);
	T_ASSERT(st.files == nlive + 1 && st.orphans == 0);
	long_name(name, n);
	T_OK(ns_create(ns, NULL, ROOT, name, 0644, NULL));
	T_OK(ns_unlink(ns, NULL, ROOT, name));
	check_log_full_dir(ns, live, n);
	ns_unmount(&ns);
	free(live);
}

/* ---- read-only mount ---------------------------------------------------------------------- */

static void test_rdonly(const char *path, const struct snap *want)
{
	struct ns_setattr sa = {.valid = NS_SET_UID, .uid = 5};
	struct ns_mount_opts mo = {.rdonly = true};
	struct ns_statfs st;
	struct ns_attr a, f;
	struct snap s;
	struct ns *ns;
	uint8_t buf[16];

	T_OK(ns_mount(&ns, path, &mo));
	take_snap(ns, &s);
	snap_eq(want, &s);
	free(s.v);
	T_OK(t_resolve(ns, "/rw/gap", &f));
	T_OK(t_resolve(ns, "/rn/d2", &a));
	T_ERR(ns_mkdir(ns, NULL, ROOT, "new", 0755, NULL), EROFS);
	T_ERR(ns_create(ns, NULL, ROOT, "new", 0644, NULL), EROFS);
	T_ERR(ns_unlink(ns, NULL, a.ino, "t"), EROFS);
	T_ERR(ns_rmdir(ns, NULL, ROOT, "rd-empty"), EROFS);
	T_ERR(ns_rename(ns, NULL, a.ino, "t", a.ino, "t2", 0), EROFS);
	T_ERR(ns_rename(ns, NULL, a.ino, "t", a.ino, "empty", NS_RENAME_EXCHANGE), EROFS);
	T_ERR(ns_setattr(ns, NULL, f.ino, &sa, NULL), EROFS);
	sa = (struct ns_setattr){.valid = NS_SET_SIZE, .size = 0};
	T_ERR(ns_setattr(ns, NULL, f.ino, &sa, NULL), EROFS);
	T_ERR(ns_write(ns, NULL, f.ino, "x", 1, 0), EROFS);
	T_ERR(ns_write(ns, NULL, f.ino, "x", 1, f.size + 100), EROFS);
	T_ERR(ns_fallocate(ns, NULL, f.ino, 0, 0, 10 * PG), EROFS);
	T_ERR(ns_fallocate(ns, NULL, f.ino, NS_FALLOC_KEEP_SIZE | NS_FALLOC_PUNCH_HOLE, 0, PG),
	      EROFS);
	T_ERR(ns_checkpoint(ns), EROFS);
	/* Reads work. */
	T_ASSERT(ns_read(ns, NULL, f.ino, buf, 2, 0) == 2 && buf[0] == 0xee);
	ns_statfs(ns, &st);
	T_ASSERT(st.files == want->n && st.orphans == 0);
	take_snap(ns, &s);
	snap_eq(want, &s);
	free(s.v);
	ns_unmount(&ns);
}

int main(int argc, char **argv)
{
	const char *img;
	struct ns_statfs st0, st1;
	struct snap before, after;
	struct ns *ns;

	rng = t_seed(argc, argv, 0x6e616d6573706163ULL);
	t_watchdog(110, "test-namespace");
	rcu_thread_online();
	img = t_path("main.img");

	T_ERR(ns_mkfs(t_path("tiny.img"), 8 * MiB, NULL), EFBIG);
	T_OK(ns_mkfs(img, 128 * MiB, NULL));
	T_ERR(ns_mkfs(img, 0, NULL), EEXIST);
	T_OK(ns_mount(&ns, img, NULL));
	{
		struct ns_attr r = attr_of(ns, ROOT);

		T_ASSERT(r.mode == (S_IFDIR | 0755) && r.nlink == 2 && r.uid == 0 && r.size == 0);
	}

	test_names(ns);
	test_paths(ns);
	test_readdir(ns);
	test_remove(ns);
	test_rename(ns);
	test_rename_walks(ns);
	test_setattr(ns);
	test_rw(ns);
	test_fallocate(ns);
	test_fsync(ns);
	test_big(ns);

	/* Everything above survives an unmount and mount, names, attributes and bytes. */
	take_snap(ns, &before);
	rcu_barrier_all();
	ns_statfs(ns, &st0);
	ns_unmount(&ns);
	T_OK(ns_mount(&ns, img, NULL));
	take_snap(ns, &after);
	snap_eq(&before, &after);
	free(after.v);
	ns_statfs(ns, &st1);
	T_ASSERT(st1.orphans == 0 && st1.files == st0.files && st1.files == before.n);
	T_ASSERT(st1.blocks_free == st0.blocks_free && st1.blocks == st0.blocks);
	/* A checkpoint is the same namespace too. */
	T_OK(ns_checkpoint(ns));
	ns_unmount(&ns);
	T_OK(ns_mount(&ns, img, NULL));
	take_snap(ns, &after);
	snap_eq(&before, &after);
	free(after.v);
	ns_unmount(&ns);

	test_rdonly(img, &before);
	free(before.v);

	test_enospc_data();
	test_log_full();

	rcu_thread_offline();
	printf("ok\n");
	return 0;
}
