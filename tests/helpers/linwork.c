// SPDX-License-Identifier: MIT
/*
 * linwork - the clients, the mapper, the scan and the reset of the linearizability tests
 * (linwork.h).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

#include <daxfs/daxfs.h>

#include "linwork.h"
#include "testutil.h"

#define PAGE 4096
#define LEASE_DROP_WAIT_MS 400 /* longer than the tests' --lease-break-timeout */

struct client {
	struct lw *w;
	unsigned id;
	struct daxfs *fs;
	uint64_t rng;
	const struct lw_round_opts *o;
	pthread_t th;
	struct lc_op ops[LW_OPS_MAX];
	size_t nops;
	uint64_t inos[8]; /* inode numbers it saw lately, for getattr */
	unsigned ninos;
	/* Paths that named a file, a symbolic link, nothing lately (in any round). */
	struct lc_path files[8], links[8], holes[8];
	unsigned nfiles, nlinks, nholes;
	bool lost; /* a request lost the daemon */
};

struct mapper {
	struct lw *w;
	struct daxfs *fs;
	uint64_t rng;
	const struct lw_round_opts *o;
	pthread_t th;
	struct daxfs_map *map;
	bool invalidated; /* set by the event callback */
};

struct lw {
	char sock[512];
	struct daxfs *admin;
	struct client c[LW_CLIENTS_MAX];
	struct mapper m;
	pthread_barrier_t start;
	unsigned stop;	    /* atomic: the clients are done; the mapper stops */
	uint32_t mapped;    /* atomic: the path the mapper maps (lw_path_code), 0: none */
	unsigned tags;	    /* atomic: the byte value of the next write */
	struct lc_op *hist; /* the last round's history */
	struct lw_stats st; /* updated between rounds, and by the mapper (atomics) */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static uint64_t rnd(uint64_t *rng, uint64_t n)
{
	return t_rand(rng) % n;
}

static void path_str(const struct lc_path *p, char *buf, size_t len)
{
	lc_path_str(p, buf, len);
}

/* A path in one word, for the mapper to tell the clients. */
static uint32_t path_code(const struct lc_path *p)
{
	uint32_t c = p->depth;

	for (unsigned i = 0; i < p->depth; i++)
		c |= (uint32_t)p->name[i] << (8 + 4 * i);
	return c;
}

static struct lc_path path_decode(uint32_t c)
{
	struct lc_path p = {.depth = (uint8_t)(c & 0xff)};

	for (unsigned i = 0; i < p.depth; i++)
		p.name[i] = (uint8_t)((c >> (8 + 4 * i)) & 0xf);
	return p;
}

/* rnd_path - half one deep, most of the rest two, a few three. */
static struct lc_path rnd_path(uint64_t *rng)
{
	uint64_t r = rnd(rng, 100);
	struct lc_path p = {.depth = r < 50 ? 1 : r < 94 ? 2 : 3};

	for (unsigned i = 0; i < p.depth; i++)
		p.name[i] = (uint8_t)rnd(rng, LC_NAMES);
	return p;
}

static void to_attr(const struct daxfs_stat *st, struct lc_attr *a)
{
	*a = (struct lc_attr){st->ino, st->mode, st->nlink, st->size};
}

/* --- recording --- */

static bool transport_error(long rc)
{
	return rc == -ECONNRESET || rc == -ETIMEDOUT || rc == -EPIPE || rc == -ENOTCONN ||
	       rc == -ECONNREFUSED;
}

static struct lc_op *rec_begin(struct client *c, enum lc_kind kind)
{
	struct lc_op *op;

	T_ASSERT(c->nops < LW_OPS_MAX);
	op = &c->ops[c->nops++];
	memset(op, 0, sizeof(*op));
	op->client = c->id;
	op->kind = kind;
	op->call = now_ns();
	return op;
}

/* rec_end - the reply @rc came. Return: false when the client must stop (lost daemon). */
static bool rec_end(struct client *c, struct lc_op *op, long rc)
{
	op->ret = now_ns();
	if (rc >= 0)
		return true;
	if (transport_error(rc)) {
		if (!c->o->crash)
			T_FAIL("client %u: %s: the daemon went away (%s)", c->id, daxfs_errormsg(),
			       strerror((int)-rc));
		op->ret = LC_PENDING;
		c->lost = true;
		return false;
	}
	op->err = (int)-rc;
	if (op->err == EPROTO || op->err == ENOMEM || op->err == EIO || op->err == ENOSPC ||
	    op->err == EROFS)
		T_FAIL("client %u: a request failed for a reason the workload never causes: %s "
		       "(%s)",
		       c->id, strerror(op->err), daxfs_errormsg());
	return true;
}

static void saw_ino(struct client *c, uint64_t ino)
{
	c->inos[c->ninos++ % 8] = ino;
}

/* saw_path - @p named a file or a symbolic link (@mode), or nothing (0), just now: a
 * likely name to link, to read the target of, or to make. */
static void saw_path(struct client *c, const struct lc_path *p, uint32_t mode)
{
	if (S_ISLNK(mode))
		c->links[c->nlinks++ % 8] = *p;
	else if (S_ISREG(mode))
		c->files[c->nfiles++ % 8] = *p;
	else if (mode == 0)
		c->holes[c->nholes++ % 8] = *p;
}

/* seen_path - 3 times in 4 one of the paths in @seen (@n so far), if any; else @p. */
static struct lc_path seen_path(struct client *c, const struct lc_path *seen, unsigned n,
				struct lc_path p)
{
	if (n && rnd(&c->rng, 4))
		p = seen[rnd(&c->rng, n < 8 ? n : 8)];
	return p;
}

/* --- the requests --- */

static bool do_stat(struct client *c, const struct lc_path *p, struct lc_attr *out)
{
	struct lc_op *op = rec_begin(c, LC_STAT);
	struct daxfs_stat st;
	char path[64];
	int rc;

	op->path = *p;
	path_str(p, path, sizeof(path));
	rc = daxfs_stat(c->fs, path, &st);
	if (!rec_end(c, op, rc))
		return false;
	if (rc == -ENOENT)
		saw_path(c, p, 0);
	if (rc == 0) {
		to_attr(&st, &op->attr);
		saw_ino(c, st.ino);
		saw_path(c, p, st.mode);
		if (out)
			*out = op->attr;
	}
	return true;
}

struct dir_ctx {
	struct lc_op *op;
	bool overflow;
};

static int dir_cb(void *ctx, const char *name, uint64_t ino, uint32_t mode)
{
	struct dir_ctx *d = ctx;

	if (d->op->nents == LC_ENTS_MAX || strlen(name) != 1 || name[0] < 'a' ||
	    name[0] >= 'a' + LC_NAMES) {
		d->overflow = true;
		return 0;
	}
	d->op->ents[d->op->nents++] =
		(struct lc_dent){ino, (uint8_t)(name[0] - 'a'), S_ISDIR(mode), S_ISLNK(mode)};
	return 0;
}

static bool do_readdir(struct client *c, const struct lc_path *p)
{
	struct lc_op *op = rec_begin(c, LC_READDIR);
	struct dir_ctx d = {op, false};
	char path[64];
	int rc;

	op->path = *p;
	path_str(p, path, sizeof(path));
	rc = daxfs_readdir(c->fs, path, dir_cb, &d);
	if (!rec_end(c, op, rc))
		return false;
	if (d.overflow)
		T_FAIL("readdir %s: an entry the workload never makes", path);
	if (rc)
		op->nents = 0;
	return true;
}

/* do_lstat - the path's last component itself (a symbolic link is not followed). */
static bool do_lstat(struct client *c, const struct lc_path *p, struct lc_attr *out)
{
	struct lc_op *op = rec_begin(c, LC_LSTAT);
	struct daxfs_statx stx;
	char path[64];
	int rc;

	op->path = *p;
	path_str(p, path, sizeof(path));
	rc = daxfs_statx(c->fs, path, DAXFS_STAT_NOFOLLOW, &stx);
	if (!rec_end(c, op, rc))
		return false;
	if (rc == -ENOENT)
		saw_path(c, p, 0);
	if (rc == 0) {
		to_attr(&stx.st, &op->attr);
		saw_ino(c, stx.st.ino);
		saw_path(c, p, stx.st.mode);
		if (out)
			*out = op->attr;
	}
	return true;
}

/* do_readlink - the target of a link a path named lately, most often. */
static bool do_readlink(struct client *c, const struct lc_path *p)
{
	struct lc_op *op = rec_begin(c, LC_READLINK);
	char path[64];
	ssize_t n;

	op->path = seen_path(c, c->links, c->nlinks, *p);
	path_str(&op->path, path, sizeof(path));
	n = daxfs_readlink(c->fs, path, (char *)op->rdata, LC_DATA_MAX);
	if (!rec_end(c, op, n))
		return false;
	if (n >= 0)
		op->count = (uint32_t)n;
	return true;
}

static bool do_create(struct client *c, const struct lc_path *p, bool dir)
{
	struct lc_op *op = rec_begin(c, dir ? LC_MKDIR : LC_CREATE);
	struct daxfs_stat st;
	char path[64];
	int rc;

	op->path = *p;
	path_str(p, path, sizeof(path));
	if (dir) {
		op->mode = rnd(&c->rng, 2) ? 0755 : 0700;
		rc = daxfs_mkdir(c->fs, path, op->mode, &st);
	} else {
		op->mode = rnd(&c->rng, 2) ? 0644 : 0600;
		op->flags = rnd(&c->rng, 2) ? LC_CREATE_EXCL : 0;
		rc = daxfs_create(c->fs, path, op->mode,
				  op->flags & LC_CREATE_EXCL ? DAXFS_CREATE_EXCL : 0, &st);
	}
	if (!rec_end(c, op, rc))
		return false;
	if (rc == 0) {
		to_attr(&st, &op->attr);
		saw_ino(c, st.ino);
	}
	return true;
}

static bool do_remove(struct client *c, const struct lc_path *p, bool dir)
{
	struct lc_op *op = rec_begin(c, dir ? LC_RMDIR : LC_UNLINK);
	char path[64];

	op->path = *p;
	path_str(p, path, sizeof(path));
	return rec_end(c, op, dir ? daxfs_rmdir(c->fs, path) : daxfs_unlink(c->fs, path));
}

/*
 * aim - now and then the path of the file the mapper maps instead of @p: renaming over it,
 * unlinking or truncating it waits for its slow acknowledgement.
 */
static struct lc_path aim(struct client *c, struct lc_path p, unsigned pct)
{
	uint32_t mapped = __atomic_load_n(&c->w->mapped, __ATOMIC_ACQUIRE);

	return mapped && rnd(&c->rng, 100) < pct ? path_decode(mapped) : p;
}

/* do_link - another name for the file (or symbolic link: not followed) at @p: where
 * nothing was lately, or beside it. */
static bool do_link(struct client *c, const struct lc_path *p)
{
	struct lc_op *op = rec_begin(c, LC_LINK);
	struct daxfs_stat st;
	char p1[64], p2[64];
	int rc;

	op->path = *p;
	/* The new name: most often where nothing was lately; else beside the old one. */
	op->path2 = op->path;
	op->path2.name[op->path2.depth - 1] = (uint8_t)rnd(&c->rng, LC_NAMES);
	op->path2 = seen_path(c, c->holes, c->nholes, op->path2);
	path_str(&op->path, p1, sizeof(p1));
	path_str(&op->path2, p2, sizeof(p2));
	rc = daxfs_link(c->fs, p1, p2, &st);
	if (!rec_end(c, op, rc))
		return false;
	if (rc == 0) {
		to_attr(&st, &op->attr);
		saw_ino(c, st.ino);
		saw_path(c, &op->path2, st.mode);
	}
	return true;
}

/*
 * do_symlink - a symbolic link at @p to one name: relative (from the link's directory) or
 * absolute, whatever is there now or later, if anything (a dangling link); 1 time in 10
 * to itself (a loop: ELOOP). The model follows targets of any depth, but a walk through
 * links to longer targets can grow with each link it follows (/a -> "/a/b"), and the
 * checker keeps a walk's components in a small table: one name each, the walk never grows.
 */
static bool do_symlink(struct client *c, const struct lc_path *p)
{
	struct lc_op *op = rec_begin(c, LC_SYMLINK);
	uint64_t r = rnd(&c->rng, 100);
	struct daxfs_stat st;
	uint8_t name;
	char path[64];
	int rc;

	op->path = seen_path(c, c->holes, c->nholes, *p);
	name = r < 10 ? op->path.name[op->path.depth - 1] : (uint8_t)rnd(&c->rng, LC_NAMES);
	if (r >= 10 && r < 55)
		op->data[op->len++] = '/';
	op->data[op->len++] = (uint8_t)('a' + name);
	path_str(&op->path, path, sizeof(path));
	/* data[] is zeros past the target (rec_begin): a string. */
	rc = daxfs_symlink(c->fs, (const char *)op->data, path, &st);
	if (!rec_end(c, op, rc))
		return false;
	if (rc == 0) {
		to_attr(&st, &op->attr);
		saw_ino(c, st.ino);
		saw_path(c, &op->path, st.mode);
	}
	return true;
}

static bool do_rename(struct client *c)
{
	struct lc_op *op = rec_begin(c, LC_RENAME);
	uint64_t r = rnd(&c->rng, 100);
	char p1[64], p2[64];

	op->path = rnd_path(&c->rng);
	op->path2 = aim(c, rnd_path(&c->rng), 40);
	op->flags = r < 80 ? 0 : r < 90 ? LC_RENAME_NOREPLACE : LC_RENAME_EXCHANGE;
	path_str(&op->path, p1, sizeof(p1));
	path_str(&op->path2, p2, sizeof(p2));
	return rec_end(
		c, op,
		daxfs_rename(c->fs, p1, p2,
			     (op->flags & LC_RENAME_NOREPLACE ? DAXFS_RENAME_NOREPLACE : 0) |
				     (op->flags & LC_RENAME_EXCHANGE ? DAXFS_RENAME_EXCHANGE : 0)));
}

static bool do_setattr(struct client *c, uint64_t ino, bool size)
{
	struct lc_op *op = rec_begin(c, size ? LC_TRUNCATE : LC_CHMOD);
	struct daxfs_stat to = {0}, st;
	int rc;

	op->ino = ino;
	if (size) {
		uint64_t r = rnd(&c->rng, 4);

		op->len = r == 0 ? 0 : (uint32_t)rnd(&c->rng, LC_DATA_MAX + 1);
		to.size = op->len;
		rc = daxfs_setattr(c->fs, ino, DAXFS_SET_SIZE, &to, &st);
	} else {
		op->mode = (uint32_t)rnd(&c->rng, 01000);
		to.mode = op->mode;
		rc = daxfs_setattr(c->fs, ino, DAXFS_SET_MODE, &to, &st);
	}
	if (!rec_end(c, op, rc))
		return false;
	if (rc == 0)
		to_attr(&st, &op->attr);
	return true;
}

static bool do_write(struct client *c, uint64_t ino)
{
	struct lc_op *op = rec_begin(c, LC_WRITE);
	uint8_t tag = (uint8_t)(1 + __atomic_fetch_add(&c->w->tags, 1, __ATOMIC_RELAXED) % 255);
	ssize_t n;

	op->ino = ino;
	op->off = (uint32_t)rnd(&c->rng, LC_DATA_MAX - 15);
	op->len = 1 + (uint32_t)rnd(&c->rng, 16);
	memset(op->data, tag, op->len);
	n = daxfs_pwrite(c->fs, ino, op->data, op->len, op->off);
	if (!rec_end(c, op, n))
		return false;
	if (n >= 0)
		op->count = (uint32_t)n;
	return true;
}

static bool do_read(struct client *c, uint64_t ino)
{
	struct lc_op *op = rec_begin(c, LC_READ);
	ssize_t n;

	op->ino = ino;
	op->off = rnd(&c->rng, 4) ? 0 : (uint32_t)rnd(&c->rng, LC_DATA_MAX);
	op->len = LC_DATA_MAX - op->off;
	n = daxfs_pread(c->fs, ino, op->rdata, op->len, op->off);
	if (!rec_end(c, op, n))
		return false;
	if (n >= 0)
		op->count = (uint32_t)n;
	return true;
}

static bool do_getattr(struct client *c, uint64_t ino)
{
	struct lc_op *op = rec_begin(c, LC_GETATTR);
	struct daxfs_stat st;
	int rc;

	op->ino = ino;
	rc = daxfs_getattr(c->fs, ino, &st);
	if (!rec_end(c, op, rc))
		return false;
	if (rc == 0)
		to_attr(&st, &op->attr);
	return true;
}

/* The actions and how often each comes, in % (they add up to 100; chmod, truncate, write
 * and read first stat a path for its inode number, following symbolic links; a link first
 * lstats the name it links, and is sent only for a file or a symbolic link). */
enum action {
	A_STAT,
	A_READDIR,
	A_CREATE,
	A_MKDIR,
	A_UNLINK,
	A_RMDIR,
	A_RENAME,
	A_CHMOD,
	A_WRITE,
	A_TRUNCATE,
	A_READ,
	A_GETATTR,
	A_LSTAT,
	A_READLINK,
	A_LINK,
	A_SYMLINK,
	A_COUNT,
};

static const unsigned action_pct[A_COUNT] = {
	[A_STAT] = 8,	[A_READDIR] = 5,  [A_CREATE] = 8,   [A_MKDIR] = 5,
	[A_UNLINK] = 7, [A_RMDIR] = 4,	  [A_RENAME] = 10,  [A_CHMOD] = 8,
	[A_WRITE] = 10, [A_READ] = 7,	  [A_TRUNCATE] = 5, [A_GETATTR] = 6,
	[A_LSTAT] = 3,	[A_READLINK] = 3, [A_LINK] = 6,	    [A_SYMLINK] = 5,
};

static enum action rnd_action(struct client *c)
{
	unsigned r = (unsigned)rnd(&c->rng, 100), k = 0;

	while (k + 1 < A_COUNT && r >= action_pct[k]) {
		r -= action_pct[k];
		k++;
	}
	return (enum action)k;
}

/* action - one random action: one request, or a stat and a request by the inode it found. */
static bool action(struct client *c)
{
	enum action act = rnd_action(c);
	struct lc_path p = rnd_path(&c->rng);
	struct lc_attr a = {0};

	switch (act) {
	case A_STAT:
		return do_stat(c, &p, NULL);
	case A_READDIR:
		p.depth = rnd(&c->rng, 3) == 0 ? 0 : p.depth > 2 ? 2 : p.depth;
		return do_readdir(c, &p);
	case A_CREATE:
	case A_MKDIR:
		return do_create(c, &p, act == A_MKDIR);
	case A_UNLINK:
	case A_RMDIR:
		if (act == A_UNLINK)
			p = aim(c, p, 25);
		return do_remove(c, &p, act == A_RMDIR);
	case A_RENAME:
		return do_rename(c);
	case A_LSTAT:
		return do_lstat(c, &p, NULL);
	case A_READLINK:
		return do_readlink(c, &p);
	case A_LINK:
		/* An lstat first, as a user would: a name for what is a file or a link now. */
		p = aim(c, seen_path(c, c->files, c->nfiles, p), 25);
		if (!do_lstat(c, &p, &a))
			return false;
		return a.ino && !S_ISDIR(a.mode) ? do_link(c, &p) : true;
	case A_SYMLINK:
		return do_symlink(c, &p);
	case A_GETATTR:
		return do_getattr(c, c->ninos ? c->inos[rnd(&c->rng, c->ninos < 8 ? c->ninos : 8)]
					      : LC_ROOT);
	default:
		break;
	}
	if (act == A_CHMOD && rnd(&c->rng, 8) == 0)
		p.depth = 0; /* "/" */
	if (act == A_TRUNCATE)
		p = aim(c, p, 30);
	if (!do_stat(c, &p, &a))
		return false;
	if (!a.ino)
		return true;
	switch (act) {
	case A_CHMOD:
	case A_TRUNCATE:
		return do_setattr(c, a.ino, act == A_TRUNCATE);
	case A_WRITE:
		return do_write(c, a.ino);
	default:
		return do_read(c, a.ino);
	}
}

static void *client_main(void *arg)
{
	struct client *c = arg;

	pthread_barrier_wait(&c->w->start);
	for (unsigned i = 0; i < c->o->actions && !c->lost; i++)
		if (!action(c))
			break;
	return NULL;
}

/* --- the mapper --- */

static void mapper_event(void *ctx, const struct daxfs_event *ev)
{
	struct mapper *m = ctx;

	if (ev->type == DAXFS_EVENT_INVALIDATE)
		m->invalidated = true;
}

static void mapper_open(struct mapper *m)
{
	T_OK(daxfs_open(&m->fs, m->w->sock));
	daxfs_set_event_callback(m->fs, mapper_event, m);
}

/* mapper_lost - its session is gone (dropped, or the daemon died): start another. */
static void mapper_lost(struct mapper *m)
{
	__atomic_store_n(&m->w->mapped, 0, __ATOMIC_RELEASE);
	daxfs_map_delete(&m->map);
	daxfs_close(m->fs);
	m->fs = NULL;
	if (!m->o->crash)
		mapper_open(m);
}

/* mapper_map - map a random file, read-only, its first page. */
static void mapper_map(struct mapper *m)
{
	struct lc_path p = rnd_path(&m->rng);
	struct daxfs_stat st;
	char path[64];
	int rc;

	if (p.depth > 2)
		p.depth = 2;
	path_str(&p, path, sizeof(path));
	rc = daxfs_stat(m->fs, path, &st);
	if (rc == 0 && S_ISREG(st.mode))
		rc = daxfs_map_new(m->fs, st.ino, 0, PAGE, DAXFS_MAP_READ, &m->map);
	if (transport_error(rc)) {
		mapper_lost(m);
		return;
	}
	if (rc == 0) {
		m->invalidated = false;
		__atomic_fetch_add(&m->w->st.maps, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&m->w->mapped, path_code(&p), __ATOMIC_RELEASE);
	} else {
		sleep_ms(1);
	}
}

static void *mapper_main(void *arg)
{
	struct mapper *m = arg;

	while (!__atomic_load_n(&m->w->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd pfd;
		int rc;

		if (!m->fs)
			break; /* the daemon died */
		if (!m->map) {
			mapper_map(m);
			continue;
		}
		pfd = (struct pollfd){.fd = daxfs_event_fd(m->fs), .events = POLLIN};
		if (poll(&pfd, 1, 2) <= 0)
			continue;
		/* An INVALIDATE came: let the request that sent it wait. */
		if (rnd(&m->rng, 100) < m->o->drop_pct) {
			sleep_ms(LEASE_DROP_WAIT_MS);
			__atomic_fetch_add(&m->w->st.dropped, 1, __ATOMIC_RELAXED);
		} else {
			sleep_ms((unsigned)rnd(&m->rng, m->o->ack_ms_max + 1));
		}
		rc = daxfs_process_events(m->fs);
		if (rc < 0) {
			if (!transport_error(rc))
				T_FAIL("the mapper's events: %s", strerror(-rc));
			mapper_lost(m);
			continue;
		}
		if (m->invalidated) {
			__atomic_fetch_add(&m->w->st.lease_breaks, 1, __ATOMIC_RELAXED);
			__atomic_store_n(&m->w->mapped, 0, __ATOMIC_RELEASE);
			daxfs_map_delete(&m->map);
		}
	}
	__atomic_store_n(&m->w->mapped, 0, __ATOMIC_RELEASE);
	daxfs_map_delete(&m->map);
	return NULL;
}

/* --- rounds --- */

struct lw *lw_new(const char *sock)
{
	struct lw *w = calloc(1, sizeof(*w));

	T_ASSERT(w);
	setenv("DAXFS_SPIN_US", "0", 1);
	snprintf(w->sock, sizeof(w->sock), "%s", sock);
	w->hist = calloc(LW_CLIENTS_MAX * LW_OPS_MAX, sizeof(*w->hist));
	T_ASSERT(w->hist);
	lw_reopen(w);
	return w;
}

static void close_all(struct lw *w)
{
	daxfs_map_delete(&w->m.map);
	daxfs_close(w->m.fs);
	w->m.fs = NULL;
	daxfs_close(w->admin);
	w->admin = NULL;
	for (unsigned i = 0; i < LW_CLIENTS_MAX; i++) {
		daxfs_close(w->c[i].fs);
		w->c[i].fs = NULL;
	}
}

void lw_reopen(struct lw *w)
{
	close_all(w);
	T_OK(daxfs_open(&w->admin, w->sock));
	for (unsigned i = 0; i < LW_CLIENTS_MAX; i++)
		T_OK(daxfs_open(&w->c[i].fs, w->sock));
	w->m.w = w;
	mapper_open(&w->m);
}

void lw_delete(struct lw **wp)
{
	struct lw *w = *wp;

	if (!w)
		return;
	close_all(w);
	free(w->hist);
	free(w);
	*wp = NULL;
}

struct daxfs *lw_admin(struct lw *w)
{
	return w->admin;
}

const struct lw_stats *lw_stats(const struct lw *w)
{
	return &w->st;
}

bool lw_round(struct lw *w, const struct lw_round_opts *o, uint64_t seed, const struct lc_op **ops,
	      size_t *nops, uint64_t *t0)
{
	uint64_t rng = seed ? seed : 1;
	bool lost = false;
	size_t n = 0;

	T_ASSERT(o->clients && o->clients <= LW_CLIENTS_MAX);
	T_ASSERT(pthread_barrier_init(&w->start, NULL, o->clients) == 0);
	__atomic_store_n(&w->stop, 0, __ATOMIC_RELEASE);
	if (o->mapper && w->m.fs) {
		w->m.o = o;
		w->m.rng = t_rand(&rng) | 1;
		T_ASSERT(pthread_create(&w->m.th, NULL, mapper_main, &w->m) == 0);
	}
	for (unsigned i = 0; i < o->clients; i++) {
		struct client *c = &w->c[i];

		c->w = w;
		c->id = i;
		c->o = o;
		c->rng = t_rand(&rng) | 1;
		c->nops = 0;
		c->ninos = 0;
		c->lost = false;
		T_ASSERT(c->fs);
		T_ASSERT(pthread_create(&c->th, NULL, client_main, c) == 0);
	}
	for (unsigned i = 0; i < o->clients; i++)
		T_ASSERT(pthread_join(w->c[i].th, NULL) == 0);
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
	if (o->mapper && w->m.o == o)
		T_ASSERT(pthread_join(w->m.th, NULL) == 0);
	w->m.o = NULL;
	pthread_barrier_destroy(&w->start);

	*t0 = UINT64_MAX;
	for (unsigned i = 0; i < o->clients; i++) {
		struct client *c = &w->c[i];

		lost |= c->lost;
		for (size_t k = 0; k < c->nops; k++) {
			w->hist[n] = c->ops[k];
			w->st.kinds[c->ops[k].kind]++;
			if (c->ops[k].ret != LC_PENDING) {
				w->st.ok[c->ops[k].kind] += c->ops[k].err == 0;
				w->st.eloop += c->ops[k].err == ELOOP;
			}
			if (c->ops[k].call < *t0)
				*t0 = c->ops[k].call;
			n++;
		}
	}
	w->st.ops += n;
	*ops = w->hist;
	*nops = n;
	return lost;
}
