// SPDX-License-Identifier: MIT
/*
 * test-crash - kill a process that is changing the namespace at a random moment, then check
 * that what it was told is durable is there, and nothing else (DESIGN §9).
 *
 * The parent formats one emulated region. Each round forks a child that mounts it and runs a
 * random workload (create, mkdir, writes of up to 3 MiB into files of up to 5 MiB, overwrite,
 * truncate, fallocate, punch, rename also over an existing name, unlink, rmdir, fsync,
 * checkpoint). Before starting an operation the child writes its description into a log
 * shared with the parent (MAP_SHARED memory made before the fork) and bumps "started"; when
 * the operation returns success it bumps "acked". The parent SIGKILLs the child at a random
 * moment: at once (during the mount), or 0-30 ms into the workload; in a quarter of the rounds
 * the child arms a POSIX timer that SIGKILLs it a few microseconds into a chosen operation,
 * mostly a namespace change, which a random moment rarely catches in flight. Then:
 *  - ns_check reports no problem (a torn tail is a note),
 *  - the mounted namespace equals the model of every acknowledged operation, except that the
 *    one operation in flight may be present or not: whole for a namespace change (create,
 *    rename...), byte by byte for data (a write's new bytes may be partly present), and its
 *    size either before or after (or at a batch boundary in between, for writes and
 *    allocations that extend the file).
 * The parent then adopts what it found for the operation in flight, and the next round goes
 * on from there: the region and the model persist across rounds. When a write in flight did
 * not get the file to its end, the parent grows the file by truncate to where the write would
 * have ended: what the write copied past the size it kept must read as zeros (a file shows no
 * bytes it never wrote), then shrinks it back.
 *
 * Usage: test-crash [rounds] [seed]   (200 rounds; $DAXFS_TEST_SEED also sets the seed)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "namespace.h"
#include "nstest.h"
#include "rcu.h"
#include "testutil.h"

#define MiB_ (UINT64_C(1) << 20)
#define REGION_SIZE (64 * MiB_)
#define PAGE_SZ UINT64_C(4096)
#define CHUNK_PAGES UINT64_C(512)

#define NAMES_MAX 48		      /* names in the namespace, at most */
#define NODES_MAX (NAMES_MAX + 4)     /* model slots */
#define PATH_LEN 48		      /* "/d12/d3/d7/f15" and the like */
#define DEPTH_MAX 4		      /* deepest name, counted from the root */
#define FILE_MAX (5 * MiB_)	      /* largest file size */
#define TOTAL_MAX (12 * MiB_)	      /* sum of all file sizes */
#define WRITE_MAX (3 * MiB_)	      /* largest single write */
#define FREE_MARGIN (2 * CHUNK_PAGES) /* blocks kept free: no ENOSPC */
#define OPS_MAX 4096		      /* per round; the child idles after that */
#define KILL_MAX_US 30000

enum op_type {
	OP_CREATE,
	OP_MKDIR,
	OP_WRITE,
	OP_TRUNCATE,
	OP_FALLOC,
	OP_FALLOC_KEEP,
	OP_PUNCH,
	OP_RENAME,
	OP_UNLINK,
	OP_RMDIR,
	OP_FSYNC,
	OP_CHECKPOINT,
	OP_NTYPES,
};

static const char *const op_names[OP_NTYPES] = {
	"create", "mkdir",  "write",  "truncate", "fallocate", "fallocate-keep-size",
	"punch",  "rename", "unlink", "rmdir",	  "fsync",     "checkpoint",
};

/* One operation, as the child announces it before starting it. */
struct op {
	uint32_t type;
	uint32_t pad;
	uint64_t off, len; /* write, fallocate, punch: range; truncate: len is the new size */
	uint64_t seed;	   /* write: the data */
	char path[PATH_LEN];
	char path2[PATH_LEN]; /* rename: the new name */
};

struct shared {
	atomic_uint_fast64_t started; /* ops[0, started) were announced */
	atomic_uint_fast64_t acked;   /* ops[0, acked) returned success */
	atomic_int mounted;
	struct op ops[OPS_MAX];
};

/* --- the model --- */

struct node {
	bool used, dir;
	char path[PATH_LEN];
	uint64_t size, cap;
	uint8_t *data; /* files: size bytes (cap allocated) */
};

struct model {
	struct node n[NODES_MAX];
};

static uint64_t round_no;
static bool sizes_only; /* the child: its model tracks names and sizes, not bytes */
static uint64_t the_seed;

#define FAILR(...)                                                                             \
	do {                                                                                   \
		fprintf(stderr, "round %" PRIu64 " (seed %" PRIu64 "): ", round_no, the_seed); \
		T_FAIL(__VA_ARGS__);                                                           \
	} while (0)

static void gen_data(uint64_t seed, uint8_t *buf, size_t len)
{
	uint64_t x = seed | 1;

	for (size_t i = 0; i < len; i += 8) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		uint64_t v = x * UINT64_C(2685821657736338717);

		memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
	}
}

static int m_find(const struct model *m, const char *path)
{
	for (int i = 0; i < NODES_MAX; i++)
		if (m->n[i].used && strcmp(m->n[i].path, path) == 0)
			return i;
	return -1;
}

static unsigned m_count(const struct model *m)
{
	unsigned c = 0;

	for (int i = 0; i < NODES_MAX; i++)
		c += m->n[i].used;
	return c;
}

static uint64_t m_total(const struct model *m)
{
	uint64_t t = 0;

	for (int i = 0; i < NODES_MAX; i++)
		if (m->n[i].used && !m->n[i].dir)
			t += m->n[i].size;
	return t;
}

/* is_below - is @path strictly inside directory @dir ("/" holds everything)? */
static bool is_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return strcmp(path, "/") != 0;
	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

static unsigned depth_of(const char *path)
{
	unsigned d = 0;

	if (strcmp(path, "/") == 0)
		return 0;
	for (const char *p = path; *p; p++)
		d += *p == '/';
	return d;
}

/* height - how many levels the subtree of @path has below it (0 for a file or empty dir). */
static unsigned height(const struct model *m, const char *path)
{
	unsigned h = 0, base = depth_of(path);

	for (int i = 0; i < NODES_MAX; i++)
		if (m->n[i].used && is_below(m->n[i].path, path) &&
		    depth_of(m->n[i].path) - base > h)
			h = depth_of(m->n[i].path) - base;
	return h;
}

static bool has_children(const struct model *m, const char *path)
{
	for (int i = 0; i < NODES_MAX; i++)
		if (m->n[i].used && is_below(m->n[i].path, path))
			return true;
	return false;
}

static void parent_of(const char *path, char *out)
{
	const char *slash = strrchr(path, '/');
	size_t n = (size_t)(slash - path);

	if (n == 0) {
		strcpy(out, "/");
		return;
	}
	memcpy(out, path, n);
	out[n] = '\0';
}

static void node_reserve(struct node *nd, uint64_t size)
{
	if (size <= nd->cap)
		return;
	uint64_t cap = nd->cap ? nd->cap : 65536;

	while (cap < size)
		cap *= 2;
	nd->data = realloc(nd->data, cap);
	T_ASSERT(nd->data);
	nd->cap = cap;
}

/* node_resize - set the size; bytes that appear read as zeros. */
static void node_resize(struct node *nd, uint64_t size)
{
	if (size > nd->size) {
		node_reserve(nd, size);
		memset(nd->data + nd->size, 0, size - nd->size);
	}
	nd->size = size;
}

static void node_drop(struct node *nd, bool shallow)
{
	if (!shallow)
		free(nd->data);
	memset(nd, 0, sizeof(*nd));
}

static void m_add(struct model *m, const char *path, bool dir)
{
	for (int i = 0; i < NODES_MAX; i++) {
		if (m->n[i].used)
			continue;
		memset(&m->n[i], 0, sizeof(m->n[i]));
		m->n[i].used = true;
		m->n[i].dir = dir;
		snprintf(m->n[i].path, PATH_LEN, "%s", path);
		return;
	}
	FAILR("model full");
}

/*
 * m_apply - what @op does to the model. @shallow: name changes only, and data buffers are
 * shared with another model (never freed or written): used to build "the state had the op in
 * flight completed" next to the real model.
 */
static void m_apply(struct model *m, const struct op *op, bool shallow)
{
	int i = m_find(m, op->path);
	struct node *nd = i >= 0 ? &m->n[i] : NULL;

	switch (op->type) {
	case OP_CREATE:
	case OP_MKDIR:
		T_ASSERT(!nd);
		m_add(m, op->path, op->type == OP_MKDIR);
		return;
	case OP_UNLINK:
	case OP_RMDIR:
		T_ASSERT(nd);
		node_drop(nd, shallow);
		return;
	case OP_RENAME: {
		int j = m_find(m, op->path2);
		char from[PATH_LEN];
		size_t flen = strlen(op->path);

		T_ASSERT(nd);
		if (j >= 0)
			node_drop(&m->n[j], shallow);
		snprintf(from, sizeof(from), "%s", op->path);
		for (int k = 0; k < NODES_MAX; k++) {
			struct node *c = &m->n[k];
			char np[2 * PATH_LEN];

			if (!c->used || (strcmp(c->path, from) != 0 && !is_below(c->path, from)))
				continue;
			snprintf(np, sizeof(np), "%s%s", op->path2, c->path + flen);
			T_ASSERT(strlen(np) < PATH_LEN);
			memcpy(c->path, np, strlen(np) + 1);
		}
		return;
	}
	case OP_FSYNC:
	case OP_CHECKPOINT:
		return;
	default:
		break;
	}
	/* Data operations. */
	T_ASSERT(nd && !nd->dir && !shallow);
	if (sizes_only) {
		uint64_t end = op->off + op->len;

		if (op->type == OP_TRUNCATE)
			nd->size = op->len;
		else if ((op->type == OP_WRITE || op->type == OP_FALLOC) && end > nd->size)
			nd->size = end;
		return;
	}
	switch (op->type) {
	case OP_WRITE: {
		uint64_t end = op->off + op->len;

		if (end > nd->size)
			node_resize(nd, end);
		gen_data(op->seed, nd->data + op->off, op->len);
		break;
	}
	case OP_TRUNCATE:
		node_resize(nd, op->len);
		break;
	case OP_FALLOC:
		if (op->off + op->len > nd->size)
			node_resize(nd, op->off + op->len);
		break;
	case OP_FALLOC_KEEP:
		break;
	case OP_PUNCH:
		if (op->off < nd->size) {
			uint64_t end = op->off + op->len < nd->size ? op->off + op->len : nd->size;

			memset(nd->data + op->off, 0, end - op->off);
		}
		break;
	default:
		FAILR("bad op type %u", op->type);
	}
}

static void m_free(struct model *m)
{
	for (int i = 0; i < NODES_MAX; i++)
		if (m->n[i].used)
			node_drop(&m->n[i], false);
}

static bool is_data_op(unsigned type)
{
	return type == OP_WRITE || type == OP_TRUNCATE || type == OP_FALLOC ||
	       type == OP_FALLOC_KEEP || type == OP_PUNCH;
}

static void op_describe(const struct op *op, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s%s%s off %" PRIu64 " len %" PRIu64, op_names[op->type], op->path,
		 op->type == OP_RENAME ? " -> " : "", op->type == OP_RENAME ? op->path2 : "",
		 op->off, op->len);
}

/* --- the child: a random workload --- */

static int pick_node(const struct model *m, uint64_t *rng, int want_dir)
{
	int idx[NODES_MAX], n = 0;

	for (int i = 0; i < NODES_MAX; i++)
		if (m->n[i].used && (want_dir < 0 || m->n[i].dir == (want_dir != 0)))
			idx[n++] = i;
	return n ? idx[t_rand(rng) % (uint64_t)n] : -1;
}

/* pick_dir - an existing directory ("/" or a node) no deeper than @max_depth. */
static bool pick_dir(const struct model *m, uint64_t *rng, unsigned max_depth, char *out)
{
	int i;

	if (t_rand(rng) % 4 == 0) {
		strcpy(out, "/");
		return true;
	}
	i = pick_node(m, rng, 1);
	if (i < 0 || depth_of(m->n[i].path) > max_depth) {
		strcpy(out, "/");
		return true;
	}
	strcpy(out, m->n[i].path);
	return true;
}

static void join(char *out, const char *dir, const char *name)
{
	const char *d = strcmp(dir, "/") == 0 ? "" : dir;
	size_t dl = strlen(d), nl = strlen(name);

	if (dl + 1 + nl >= PATH_LEN)
		T_FAIL("path %s/%s is too long for the model", d, name);
	memcpy(out, d, dl);
	out[dl] = '/';
	memcpy(out + dl + 1, name, nl + 1);
}

/* blocks_needed - worst case of new blocks for bytes [off, end): whole 2 MiB chunks. */
static uint64_t blocks_needed(uint64_t off, uint64_t end)
{
	uint64_t first = off / PAGE_SZ / CHUNK_PAGES, last = (end - 1) / PAGE_SZ / CHUNK_PAGES;

	return (last - first + 1) * CHUNK_PAGES;
}

static bool space_for(struct ns *ns, uint64_t off, uint64_t end)
{
	struct ns_statfs st;

	ns_statfs(ns, &st);
	return st.blocks_free >= blocks_needed(off, end) + FREE_MARGIN;
}

static uint64_t pick_len(uint64_t *rng)
{
	unsigned r = (unsigned)(t_rand(rng) % 100);

	if (r < 60)
		return 1 + t_rand(rng) % 16384;
	if (r < 90)
		return 16384 + t_rand(rng) % (512 * 1024);
	return 512 * 1024 + t_rand(rng) % (WRITE_MAX - 512 * 1024);
}

/* pick_op - a random operation that the model says succeeds; false: try another. */
static bool pick_op(const struct model *m, struct ns *ns, uint64_t *rng, struct op *op)
{
	unsigned r = (unsigned)(t_rand(rng) % 100);
	char dir[PATH_LEN], name[16];
	int i;

	memset(op, 0, sizeof(*op));
	op->seed = t_rand(rng);
	if (r < 12) {
		op->type = r < 8 ? OP_CREATE : OP_MKDIR;
		if (m_count(m) >= NAMES_MAX)
			return false;
		pick_dir(m, rng, DEPTH_MAX - 1, dir);
		snprintf(name, sizeof(name), "%c%u", op->type == OP_CREATE ? 'f' : 'd',
			 (unsigned)(t_rand(rng) % 16));
		join(op->path, dir, name);
		return m_find(m, op->path) < 0;
	}
	if (r < 70) {
		const struct node *nd;
		uint64_t size, end;

		i = pick_node(m, rng, 0);
		if (i < 0)
			return false;
		nd = &m->n[i];
		size = nd->size;
		strcpy(op->path, nd->path);
		if (r < 42) {
			unsigned where = (unsigned)(t_rand(rng) % 10);

			op->type = OP_WRITE;
			op->len = pick_len(rng);
			if (where < 4 && size > 0) /* overwrite */
				op->off = t_rand(rng) % size;
			else if (where < 7) /* append */
				op->off = size;
			else
				op->off = t_rand(rng) % FILE_MAX;
			if (op->off + op->len > FILE_MAX)
				return false;
			end = op->off + op->len;
			if (end > size && m_total(m) - size + end > TOTAL_MAX)
				return false;
			return space_for(ns, op->off, end);
		}
		if (r < 50) {
			op->type = OP_TRUNCATE;
			if (t_rand(rng) % 2)
				op->len = size ? t_rand(rng) % size : 0;
			else
				op->len = size + t_rand(rng) % (FILE_MAX - size + 1);
			return op->len <= size || m_total(m) - size + op->len <= TOTAL_MAX;
		}
		if (r < 62) {
			op->type = r < 57 ? OP_FALLOC : OP_FALLOC_KEEP;
			op->off = t_rand(rng) % FILE_MAX;
			op->len = 1 + t_rand(rng) % (1 * MiB_);
			end = op->off + op->len;
			if (end > FILE_MAX)
				return false;
			if (op->type == OP_FALLOC && end > size &&
			    m_total(m) - size + end > TOTAL_MAX)
				return false;
			return space_for(ns, op->off, end);
		}
		if (r < 67) {
			if (size == 0)
				return false;
			op->type = OP_PUNCH;
			op->off = t_rand(rng) % size;
			op->len = 1 + t_rand(rng) % (size - op->off + 65536);
			return true;
		}
		op->type = OP_FSYNC;
		return true;
	}
	if (r < 84) {
		const struct node *src;
		int j;

		op->type = OP_RENAME;
		i = pick_node(m, rng, -1);
		if (i < 0)
			return false;
		src = &m->n[i];
		strcpy(op->path, src->path);
		j = t_rand(rng) % 3 == 0 ? pick_node(m, rng, src->dir) : -1;
		if (j >= 0) {
			strcpy(op->path2, m->n[j].path);
		} else {
			pick_dir(m, rng, DEPTH_MAX - 1, dir);
			snprintf(name, sizeof(name), "%c%u", src->dir ? 'd' : 'f',
				 (unsigned)(t_rand(rng) % 16));
			join(op->path2, dir, name);
		}
		if (strcmp(op->path, op->path2) == 0 || is_below(op->path2, op->path))
			return false;
		parent_of(op->path2, dir);
		if (depth_of(dir) + 1 + height(m, op->path) > DEPTH_MAX)
			return false;
		j = m_find(m, op->path2);
		if (j >= 0 && (m->n[j].dir != src->dir || has_children(m, op->path2)))
			return false;
		return true;
	}
	if (r < 93) {
		op->type = OP_UNLINK;
		i = pick_node(m, rng, 0);
		if (i < 0)
			return false;
		strcpy(op->path, m->n[i].path);
		return true;
	}
	if (r < 98) {
		op->type = OP_RMDIR;
		i = pick_node(m, rng, 1);
		if (i < 0 || has_children(m, m->n[i].path))
			return false;
		strcpy(op->path, m->n[i].path);
		return true;
	}
	op->type = OP_CHECKPOINT;
	return true;
}

static int file_ino(struct ns *ns, const char *path, uint64_t *ino)
{
	struct ns_attr a;
	int rc = t_resolve(ns, path, &a);

	*ino = a.ino;
	return rc;
}

/* do_op - run @op on the engine. Return: 0, or a negative errno. */
static int do_op(struct ns *ns, const struct op *op, uint8_t *buf)
{
	char name[NS_NAME_MAX + 1], name2[NS_NAME_MAX + 1];
	uint64_t dir, dir2, ino;
	int rc;

	switch (op->type) {
	case OP_CREATE:
	case OP_MKDIR:
	case OP_UNLINK:
	case OP_RMDIR:
		rc = t_resolve_parent(ns, op->path, &dir, name);
		if (rc)
			return rc;
		if (op->type == OP_CREATE)
			return ns_create(ns, NULL, dir, name, 0644, NULL);
		if (op->type == OP_MKDIR)
			return ns_mkdir(ns, NULL, dir, name, 0755, NULL);
		if (op->type == OP_UNLINK)
			return ns_unlink(ns, NULL, dir, name);
		return ns_rmdir(ns, NULL, dir, name);
	case OP_RENAME:
		rc = t_resolve_parent(ns, op->path, &dir, name);
		if (rc == 0)
			rc = t_resolve_parent(ns, op->path2, &dir2, name2);
		if (rc)
			return rc;
		return ns_rename(ns, NULL, dir, name, dir2, name2, 0);
	case OP_CHECKPOINT:
		return ns_checkpoint(ns);
	default:
		break;
	}
	rc = file_ino(ns, op->path, &ino);
	if (rc)
		return rc;
	switch (op->type) {
	case OP_WRITE: {
		ssize_t n;

		gen_data(op->seed, buf, op->len);
		n = ns_write(ns, NULL, ino, buf, op->len, op->off);
		if (n < 0)
			return (int)n;
		return (uint64_t)n == op->len ? 0 : -EIO;
	}
	case OP_TRUNCATE: {
		struct ns_setattr sa = {.valid = NS_SET_SIZE, .size = op->len};

		return ns_setattr(ns, NULL, ino, &sa, NULL);
	}
	case OP_FALLOC:
		return ns_fallocate(ns, NULL, ino, 0, op->off, op->len);
	case OP_FALLOC_KEEP:
		return ns_fallocate(ns, NULL, ino, NS_FALLOC_KEEP_SIZE, op->off, op->len);
	case OP_PUNCH:
		return ns_fallocate(ns, NULL, ino, NS_FALLOC_KEEP_SIZE | NS_FALLOC_PUNCH_HOLE,
				    op->off, op->len);
	case OP_FSYNC:
		return ns_fsync(ns, NULL, ino);
	default:
		return -EINVAL;
	}
}

static void quiet_sink(enum log_level level, const char *msg, void *ctx)
{
	const char *who = ctx;

	if (level <= LOG_LVL_WARNING)
		fprintf(stderr, "[%s] <%d>%s\n", who, (int)level, msg);
}

/*
 * arm_self_kill - SIGKILL this process @ns nanoseconds from now (a POSIX timer: the kernel
 * delivers it with microsecond precision, wherever the operation has got to by then).
 */
static void arm_self_kill(uint64_t ns)
{
	struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGKILL};
	struct itimerspec its = {.it_value = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)}};
	timer_t t;

	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	if (timer_create(CLOCK_MONOTONIC, &sev, &t) || timer_settime(t, 0, &its, NULL)) {
		fprintf(stderr, "child: timer: %s\n", strerror(errno));
		_exit(2);
	}
}

/*
 * child_main - mount, then run random operations until killed. @kill_at (0: never): arm a
 * SIGKILL @kill_ns after announcing operation number @kill_at (counted from 1).
 */
static _Noreturn void child_main(struct model *m, struct shared *sh, const char *path,
				 uint64_t seed, uint64_t kill_at, uint64_t kill_ns)
{
	struct ns_mount_opts mo = {0};
	struct ns *ns;
	uint8_t *buf = malloc(WRITE_MAX);
	uint64_t rng = seed | 1;
	int rc;

	log_set_sink(quiet_sink, "child");
	sizes_only = true;
	rcu_thread_online();
	if (!buf)
		_exit(2);
	rc = ns_mount(&ns, path, &mo);
	if (rc) {
		fprintf(stderr, "child: mount: %s\n", strerror(-rc));
		_exit(2);
	}
	atomic_store(&sh->mounted, 1);
	for (uint64_t n = 0; n < OPS_MAX; n++) {
		struct op op;
		char what[200];

		/* The operation the timer is for: mostly a namespace change (they are quick). */
		for (unsigned tries = 0;; tries++) {
			if (!pick_op(m, ns, &rng, &op))
				continue;
			if (n + 1 != kill_at || kill_at % 3 == 0 || tries > 1000 ||
			    !is_data_op(op.type))
				break;
		}
		sh->ops[n] = op;
		atomic_store_explicit(&sh->started, n + 1, memory_order_release);
		if (n + 1 == kill_at)
			arm_self_kill(kill_ns);
		rc = do_op(ns, &op, buf);
		if (rc) {
			op_describe(&op, what, sizeof(what));
			fprintf(stderr, "child: op %" PRIu64 " (%s) failed: %s\n", n, what,
				strerror(-rc));
			_exit(2);
		}
		atomic_store_explicit(&sh->acked, n + 1, memory_order_release);
		m_apply(m, &op, false);
	}
	for (;;)
		pause();
}

/* --- the parent: what the region holds --- */

struct entry {
	char path[PATH_LEN];
	bool dir;
	uint64_t ino, size;
};

struct actual {
	struct entry e[NODES_MAX];
	unsigned n;
};

struct walk_ctx {
	struct ns *ns;
	struct actual *a;
	const char *dir;
};

static void walk(struct ns *ns, struct actual *a, const char *dir, uint64_t ino);

static int walk_one(void *vctx, const char *name, uint64_t ino, uint32_t mode, uint64_t next_cookie)
{
	struct walk_ctx *c = vctx;
	struct entry *e;
	struct ns_attr at;
	char path[PATH_LEN];

	(void)next_cookie;
	if (strlen(c->dir) + 1 + strlen(name) >= PATH_LEN)
		FAILR("unexpected long name \"%s\" in %s", name, c->dir);
	join(path, c->dir, name);
	if (c->a->n == NODES_MAX)
		FAILR("more names than the workload ever makes (at %s)", path);
	T_OK(ns_getattr(c->ns, ino, &at));
	e = &c->a->e[c->a->n++];
	snprintf(e->path, PATH_LEN, "%s", path);
	e->dir = S_ISDIR(mode);
	e->ino = ino;
	e->size = at.size;
	if (S_ISDIR(at.mode) != e->dir)
		FAILR("%s: entry type and inode type differ", path);
	return 0;
}

static void walk(struct ns *ns, struct actual *a, const char *dir, uint64_t ino)
{
	struct walk_ctx c = {ns, a, dir};
	unsigned first = a->n, last;

	T_OK(ns_readdir(ns, NULL, ino, 0, walk_one, &c));
	last = a->n;
	for (unsigned i = first; i < last; i++) {
		if (a->e[i].dir) {
			char sub[PATH_LEN];

			strcpy(sub, a->e[i].path);
			walk(ns, a, sub, a->e[i].ino);
		}
	}
}

static const struct entry *a_find(const struct actual *a, const char *path)
{
	for (unsigned i = 0; i < a->n; i++)
		if (strcmp(a->e[i].path, path) == 0)
			return &a->e[i];
	return NULL;
}

static uint8_t *readbuf;

static void read_file(struct ns *ns, const struct entry *e)
{
	ssize_t n;

	if (e->size > FILE_MAX)
		FAILR("%s: size %" PRIu64 " is larger than any the workload makes", e->path,
		      e->size);
	if (e->size == 0)
		return;
	n = ns_read(ns, NULL, e->ino, readbuf, e->size, 0);
	if (n != (ssize_t)e->size)
		FAILR("%s: read %zd of %" PRIu64 " bytes", e->path, n, e->size);
}

/*
 * The op in flight, for a data operation: which file, which sizes it may have, and which
 * bytes may differ from the model (and what they may be instead).
 */
struct slack {
	const struct op *op;
	const uint8_t *alt; /* bytes [alt_off, alt_end): write data, or NULL: zeros (punch) */
	uint64_t alt_off, alt_end;
	uint64_t size_lo, size_hi; /* truncate: exactly one of the two */
	bool either_size;
};

/*
 * compare - does the region match @m (with @s, the op in flight, for one file)?
 * Return: true; false with *@why saying the first difference.
 */
static bool compare(struct ns *ns, const struct model *m, const struct actual *a,
		    const struct slack *s, char *why, size_t whylen)
{
	if (m_count(m) != a->n) {
		snprintf(why, whylen, "the model has %u names, the region %u", m_count(m), a->n);
		return false;
	}
	for (int i = 0; i < NODES_MAX; i++) {
		const struct node *nd = &m->n[i];
		const struct entry *e;
		bool target;

		if (!nd->used)
			continue;
		e = a_find(a, nd->path);
		if (!e || e->dir != nd->dir) {
			snprintf(why, whylen, "%s %s is %s", nd->dir ? "directory" : "file",
				 nd->path, e ? "of the other type" : "missing");
			return false;
		}
		if (nd->dir)
			continue;
		target = s && strcmp(s->op->path, nd->path) == 0;
		if (!target && e->size != nd->size) {
			snprintf(why, whylen, "%s has size %" PRIu64 ", expected %" PRIu64,
				 nd->path, e->size, nd->size);
			return false;
		}
		if (target && (s->either_size ? e->size != s->size_lo && e->size != s->size_hi
					      : e->size < s->size_lo || e->size > s->size_hi)) {
			snprintf(why, whylen,
				 "%s has size %" PRIu64 ", expected %s %" PRIu64 " and %" PRIu64,
				 nd->path, e->size, s->either_size ? "one of" : "between",
				 s->size_lo, s->size_hi);
			return false;
		}
		read_file(ns, e);
		if (!target) {
			if (e->size && memcmp(readbuf, nd->data, e->size) != 0) {
				uint64_t k = 0;

				while (readbuf[k] == nd->data[k])
					k++;
				snprintf(why, whylen,
					 "%s differs at byte %" PRIu64 " (0x%02x, expected 0x%02x)",
					 nd->path, k, readbuf[k], nd->data[k]);
				return false;
			}
			continue;
		}
		for (uint64_t k = 0; k < e->size; k++) {
			uint8_t want = k < nd->size ? nd->data[k] : 0;
			bool in_alt = k >= s->alt_off && k < s->alt_end;
			uint8_t alt = in_alt && s->alt ? s->alt[k - s->alt_off] : 0;

			if (readbuf[k] == want || (in_alt && readbuf[k] == alt))
				continue;
			snprintf(why, whylen,
				 "%s (in flight) differs at byte %" PRIu64
				 " (0x%02x, expected 0x%02x%s)",
				 nd->path, k, readbuf[k], want, in_alt ? " or the new byte" : "");
			return false;
		}
	}
	return true;
}

/* adopt - the model takes the size and bytes the region has for the data op's file. */
static void adopt(struct ns *ns, struct model *m, const struct actual *a, const char *path)
{
	struct node *nd = &m->n[m_find(m, path)];
	const struct entry *e = a_find(a, path);

	read_file(ns, e);
	node_reserve(nd, e->size);
	if (e->size)
		memcpy(nd->data, readbuf, e->size);
	nd->size = e->size;
}

/* Every operation of the run, for the report of a failure. */
struct hist {
	uint64_t round;
	bool fly;
	struct op op;
};
static struct hist *history;
static size_t nhistory, caphistory;

static void hist_add(const struct op *op, bool fly)
{
	if (nhistory == caphistory) {
		caphistory = caphistory ? caphistory * 2 : 1024;
		history = realloc(history, caphistory * sizeof(*history));
		T_ASSERT(history);
	}
	history[nhistory++] = (struct hist){round_no, fly, *op};
}

/* dump_history - the operations on the names of @m's files that differ, oldest first. */
static void dump_history(void)
{
	char what[200];

	fprintf(stderr, "operations of the run (rounds: in flight when killed marked *):\n");
	for (size_t i = 0; i < nhistory; i++) {
		op_describe(&history[i].op, what, sizeof(what));
		fprintf(stderr, "  %3" PRIu64 "%c %s\n", history[i].round,
			history[i].fly ? '*' : ' ', what);
	}
}

/*
 * probe_grow - the write in flight did not get its size to @end: whatever it copied past the
 * size @size it kept is not part of the file. Grow the file to @end (a truncate, as a user
 * would): the bytes past @size must read as zeros. Then shrink it back.
 */
static void probe_grow(struct ns *ns, const char *path, uint64_t size, uint64_t end)
{
	struct ns_setattr grow = {.valid = NS_SET_SIZE, .size = end};
	struct ns_setattr back = {.valid = NS_SET_SIZE, .size = size};
	struct ns_attr a;
	ssize_t n;

	T_OK(t_resolve(ns, path, &a));
	T_OK(ns_setattr(ns, NULL, a.ino, &grow, NULL));
	n = ns_read(ns, NULL, a.ino, readbuf, end - size, size);
	if (n != (ssize_t)(end - size))
		FAILR("%s: read %zd bytes past %" PRIu64 " after growing it", path, n, size);
	for (uint64_t k = 0; k < end - size; k++)
		if (readbuf[k])
			FAILR("%s: a write was in flight to [.., %" PRIu64
			      ") and the size stayed %" PRIu64 "; grown by truncate, byte %" PRIu64
			      " reads 0x%02x instead of zero",
			      path, end, size, size + k, readbuf[k]);
	T_OK(ns_setattr(ns, NULL, a.ino, &back, NULL));
}

static void dump(const struct model *m, const struct actual *a)
{
	if (getenv("CRASH_HISTORY"))
		dump_history();
	fprintf(stderr, "model:\n");
	for (int i = 0; i < NODES_MAX; i++)
		if (m->n[i].used)
			fprintf(stderr, "  %s%s %" PRIu64 "\n", m->n[i].path,
				m->n[i].dir ? "/" : "", m->n[i].size);
	fprintf(stderr, "region:\n");
	for (unsigned i = 0; i < a->n; i++)
		fprintf(stderr, "  %s%s %" PRIu64 "\n", a->e[i].path, a->e[i].dir ? "/" : "",
			a->e[i].size);
}

/* verify - the mounted region against @m and the op in flight (NULL: none); adopts it. */
static void verify(struct ns *ns, struct model *m, const struct op *fly)
{
	static struct actual a;
	char why[400], why2[400], what[200];
	struct ns_attr root;

	memset(&a, 0, sizeof(a));
	T_OK(ns_getattr(ns, NS_ROOT_INO, &root));
	walk(ns, &a, "/", NS_ROOT_INO);
	if (fly)
		op_describe(fly, what, sizeof(what));
	if (!fly || fly->type == OP_FSYNC || fly->type == OP_CHECKPOINT ||
	    fly->type == OP_FALLOC_KEEP) {
		if (!compare(ns, m, &a, NULL, why, sizeof(why))) {
			dump(m, &a);
			FAILR("after the crash: %s (in flight: %s)", why, fly ? what : "nothing");
		}
		return;
	}
	if (is_data_op(fly->type)) {
		const struct node *nd = &m->n[m_find(m, fly->path)];
		uint64_t end = fly->off + fly->len;
		struct slack s = {.op = fly, .size_lo = nd->size, .size_hi = nd->size};
		uint8_t *wbuf = NULL;

		switch (fly->type) {
		case OP_WRITE:
			wbuf = malloc(fly->len);
			T_ASSERT(wbuf);
			gen_data(fly->seed, wbuf, fly->len);
			s.alt = wbuf;
			s.alt_off = fly->off;
			s.alt_end = end;
			if (end > nd->size)
				s.size_hi = end;
			break;
		case OP_TRUNCATE:
			s.size_hi = fly->len;
			s.either_size = true;
			break;
		case OP_FALLOC:
			if (end > nd->size)
				s.size_hi = end;
			break;
		case OP_PUNCH:
			s.alt_off = fly->off;
			s.alt_end = end;
			break;
		}
		if (!compare(ns, m, &a, &s, why, sizeof(why))) {
			dump(m, &a);
			FAILR("after the crash: %s (in flight: %s)", why, what);
		}
		free(wbuf);
		adopt(ns, m, &a, fly->path);
		if (fly->type == OP_WRITE && m->n[m_find(m, fly->path)].size < end)
			probe_grow(ns, fly->path, m->n[m_find(m, fly->path)].size, end);
		return;
	}
	/* A namespace change: all or nothing. */
	if (compare(ns, m, &a, NULL, why, sizeof(why)))
		return;
	{
		struct model after = *m;

		m_apply(&after, fly, true);
		if (!compare(ns, &after, &a, NULL, why2, sizeof(why2))) {
			dump(m, &a);
			FAILR("after the crash the region matches neither the state before the op "
			      "in flight (%s) nor after it (%s); in flight: %s",
			      why, why2, what);
		}
	}
	m_apply(m, fly, false);
}

/* --- rounds --- */

struct check_lines {
	char first[600];
	unsigned problems;
};

static void check_line(void *ctx, enum check_severity sev, const char *msg)
{
	struct check_lines *cl = ctx;

	if (sev != CHECK_PROBLEM)
		return;
	if (!cl->problems++)
		snprintf(cl->first, sizeof(cl->first), "%s", msg);
	fprintf(stderr, "check: problem: %s\n", msg);
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void sleep_us(uint64_t us)
{
	struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	const char *path;
	struct shared *sh;
	struct model *m;
	uint64_t rounds = argc > 1 ? strtoull(argv[1], NULL, 0) : 200, rng;
	uint64_t in_flight = 0, acked_total = 0, mid_mount = 0, fly_by_type[OP_NTYPES] = {0};
	uint64_t self_hits = 0;

	t_watchdog(200, "test-crash");
	the_seed = t_seed(argc > 1 ? argc - 1 : argc, argc > 1 ? argv + 1 : argv, 0xc7a54);
	rng = the_seed;
	log_set_sink(quiet_sink, "parent");
	rcu_thread_online();
	path = t_path("crash.img");
	T_OK(ns_mkfs(path, REGION_SIZE, NULL));
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(sh != MAP_FAILED);
	m = calloc(1, sizeof(*m));
	readbuf = malloc(FILE_MAX);
	T_ASSERT(m && readbuf);

	for (round_no = 0; round_no < rounds; round_no++) {
		uint64_t child_seed = t_rand(&rng), started, acked;
		unsigned how = (unsigned)(t_rand(&rng) % 20);
		uint64_t delay = t_rand(&rng) % (KILL_MAX_US + 1);
		/*
		 * A quarter of the rounds: the child kills itself a few microseconds into
		 * operation kill_at, so quick namespace changes get caught in flight too, not
		 * only the long writes that a random moment mostly hits.
		 */
		uint64_t kill_at = how >= 2 && how < 7 ? 1 + t_rand(&rng) % 40 : 0;
		uint64_t kill_ns = t_rand(&rng) % (how % 2 ? 20000 : 150000);
		struct check_lines cl = {{0}, 0};
		struct check_result res;
		struct ns *ns;
		int status;
		pid_t pid;

		atomic_store(&sh->started, 0);
		atomic_store(&sh->acked, 0);
		atomic_store(&sh->mounted, 0);
		fflush(NULL);
		/*
		 * Without exec, the child must get liburcu in a usable state: no registered
		 * reader (it registers itself) and fresh call_rcu / hash-table worker threads.
		 */
		rcu_thread_offline();
		urcu_memb_call_rcu_before_fork();
		pid = fork();
		T_ASSERT(pid >= 0);
		if (pid == 0) {
			urcu_memb_call_rcu_after_fork_child();
			child_main(m, sh, path, child_seed, kill_at, kill_ns);
		}
		urcu_memb_call_rcu_after_fork_parent();
		rcu_thread_online();
		if (how == 0) {
			/* at once: before or during the mount */
		} else if (how == 1) {
			sleep_us(delay % 3000);
		} else if (kill_at) {
			/*
			 * The child's own timer kills it; wait for that. On a loaded machine the
			 * child may take long to get to operation kill_at: then kill it anyway.
			 */
			uint64_t t0 = mono_us();

			while (mono_us() - t0 < 10000000) {
				if (waitpid(pid, &status, WNOHANG) == pid)
					goto dead;
				sleep_us(200);
			}
		} else {
			/* Wait for the mount (bounded), then let the workload run a while. */
			for (unsigned w = 0; w < 20000 && !atomic_load(&sh->mounted); w++) {
				if (waitpid(pid, &status, WNOHANG) == pid)
					FAILR("the child exited before it was killed (status %#x)",
					      status);
				sleep_us(100);
			}
			sleep_us(delay);
		}
		T_ASSERT(kill(pid, SIGKILL) == 0);
		T_ASSERT(waitpid(pid, &status, 0) == pid);
	dead:
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			FAILR("the child failed on its own (status %#x)", status);
		started = atomic_load(&sh->started);
		acked = atomic_load(&sh->acked);
		T_ASSERT(started == acked || started == acked + 1);
		mid_mount += !atomic_load(&sh->mounted);
		for (uint64_t i = 0; i < acked; i++) {
			m_apply(m, &sh->ops[i], false);
			hist_add(&sh->ops[i], false);
		}
		if (started > acked)
			hist_add(&sh->ops[acked], true);
		acked_total += acked;
		in_flight += started > acked;
		self_hits += kill_at && started == kill_at && acked + 1 == kill_at;
		if (started > acked)
			fly_by_type[sh->ops[acked].type]++;

		T_OK(ns_check(path, check_line, &cl, &res));
		if (res.problems)
			FAILR("daxfs check found %" PRIu64 " problems after the crash; first: %s",
			      res.problems, cl.first);
		T_OK(ns_mount(&ns, path, NULL));
		{
			struct ns_statfs st;

			ns_statfs(ns, &st);
			if (st.orphans)
				FAILR("%" PRIu64 " orphan inodes after the crash", st.orphans);
		}
		verify(ns, m, started > acked ? &sh->ops[acked] : NULL);
		ns_unmount(&ns);
	}
	printf("%" PRIu64 " rounds, %" PRIu64 " acknowledged operations, %" PRIu64
	       " killed with one in flight, %" PRIu64 " killed before or during the mount; "
	       "final namespace: %u names, %" PRIu64 " bytes\n",
	       rounds, acked_total, in_flight, mid_mount, m_count(m), m_total(m));
	printf("killed by its own timer inside the chosen operation: %" PRIu64 " rounds\n",
	       self_hits);
	printf("in flight when killed:");
	for (unsigned t = 0; t < OP_NTYPES; t++)
		printf(" %s %" PRIu64, op_names[t], fly_by_type[t]);
	printf("\n");
	m_free(m);
	free(m);
	free(history);
	free(readbuf);
	munmap(sh, sizeof(*sh));
	return 0;
}
