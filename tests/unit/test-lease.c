// SPDX-License-Identifier: MIT
/*
 * test-lease - grants and the lease break of DESIGN §6, for each way a file loses blocks:
 * truncate, punch (fallocate PUNCH_HOLE | KEEP_SIZE), unlink, rename over an existing file,
 * and repair by rewrite of a poisoned page.
 *
 *   ack        four holders map the range: each gets INVALIDATE for its part of the range
 *              with the same new generation; another thread acks after a delay (stale
 *              generations first, which do not count); the operation returns only after
 *              the last ack, and the freed blocks are not free before it returns (they are
 *              after a grace period). A grant next to the range gets nothing.
 *   durable    held blocks outlive the mount: the HOLD records ride in the freeing
 *              transaction; after an unmount (grant abandoned) and a mount they stay out of
 *              use while the holder's process (a child) runs, ns_holds_check() releases them
 *              once it is killed, and a remount after that keeps them free
 *   timeout    a holder that never acks: with a 200 ms lease-break timeout the operation
 *              returns after ~200 ms, the holder's expired callback ran, the blocks the
 *              operation freed are held (ns_held_blocks) and stay out of the allocator, even
 *              after a grace period, until the holder's grant is deleted. A holder that did
 *              ack is not expired; later breaks do not wait for the expired holder.
 *   in-cb      a holder that acks from inside its invalidate callback ("now").
 *   errors     ns_grant_new on a missing inode, a directory, count 0, bad modes.
 *   repair     a whole-page write over a poisoned page sends INVALIDATE for that page to its
 *              mappers (and waits for them), not to the mappers of other pages.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "log.h"
#include "mlog.h"
#include "nsint.h"
#include "nsmap.h"
#include "pagemap.h"
#include "poison.h"
#include "lease.h"
#include "testutil.h"

#define PAGE ((uint64_t)FMT_BLOCK_SIZE)
#define MiB (UINT64_C(1) << 20)
#define REGION_SIZE (32 * MiB)
#define FILE_PAGES 16
#define MAX_HOLDERS 6
#define DELAY_MS 150	 /* before the first acks */
#define LAST_DELAY_MS 60 /* between those and the last ack */
#define TIMEOUT_MS 200	 /* lease-break timeout of the timeout cases */
#define SLACK_MS 3000	 /* how late an operation may return (sanitizers, loaded machines) */

static void sink(enum log_level level, const char *msg, void *ctx)
{
	(void)level;
	(void)ctx;
	if (getenv("TEST_VERBOSE"))
		fprintf(stderr, "<%d>%s\n", (int)level, msg);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* ---- holders ---- */

/* Callbacks come from the thread running the operation; the test reads under @mu. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

struct holder {
	const char *name;
	struct ns *ns;
	struct ns_grant *g;
	uint64_t ino, index, count; /* the grant */
	bool ack_in_callback;
	/* under mu */
	unsigned invalidates, poisons, expired;
	uint64_t inv_ino, inv_index, inv_count, inv_gen;
	uint64_t p_ino, p_index, p_count;
};

static void h_poison(void *holder, struct ns_grant *g, uint64_t ino, uint64_t index, uint64_t count)
{
	struct holder *h = holder;

	T_ASSERT(g == h->g);
	pthread_mutex_lock(&mu);
	h->poisons++;
	h->p_ino = ino;
	h->p_index = index;
	h->p_count = count;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void h_invalidate(void *holder, struct ns_grant *g, uint64_t ino, uint64_t index,
			 uint64_t count, uint64_t gen)
{
	struct holder *h = holder;

	T_ASSERT(g == h->g);
	pthread_mutex_lock(&mu);
	h->invalidates++;
	h->inv_ino = ino;
	h->inv_index = index;
	h->inv_count = count;
	h->inv_gen = gen;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	if (h->ack_in_callback)
		ns_grant_ack(h->ns, g, gen);
}

static void h_expired(void *holder, struct ns_grant *g)
{
	struct holder *h = holder;

	T_ASSERT(g == h->g);
	pthread_mutex_lock(&mu);
	h->expired++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static const struct ns_grant_ops ops = {h_poison, h_invalidate, h_expired};

static void grant(struct ns *ns, struct holder *h, const char *name, uint64_t ino, uint64_t index,
		  uint64_t count)
{
	memset(h, 0, sizeof(*h));
	h->name = name;
	h->ns = ns;
	h->ino = ino;
	h->index = index;
	h->count = count;
	T_OK(ns_grant_new(ns, NULL, ino, index, count, NS_GRANT_READ, &ops, h, &h->g));
	T_ASSERT(h->g);
}

static unsigned invalidates(struct holder *h)
{
	unsigned n;

	pthread_mutex_lock(&mu);
	n = h->invalidates;
	pthread_mutex_unlock(&mu);
	return n;
}

/* ---- the thread that acks ---- */

struct acker {
	struct ns *ns;
	struct holder *hs[MAX_HOLDERS];
	unsigned n;		    /* holders to ack, in this order */
	unsigned want[MAX_HOLDERS]; /* the invalidate count to wait for, per holder */
	unsigned delay_ms, last_delay_ms;
	const uint64_t *blocks; /* blocks the operation frees: not free before it returns */
	unsigned nblocks;
	int *op_done; /* atomic */
	pthread_t thread;
};

static void blocks_not_free(struct ns *ns, const uint64_t *blocks, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (alloc_is_free(ns->alloc, blocks[i]))
			T_FAIL("block %" PRIu64 " is free while its lease break is pending",
			       blocks[i]);
}

static void *acker_main(void *arg)
{
	struct acker *a = arg;
	uint64_t gens[MAX_HOLDERS];
	struct timespec deadline;

	rcu_thread_online();
	deadline = t_deadline_s(10);
	pthread_mutex_lock(&mu);
	for (unsigned i = 0; i < a->n; i++) {
		while (a->hs[i]->invalidates < a->want[i])
			if (t_cond_wait_s(&cv, &mu, &deadline) == ETIMEDOUT)
				T_FAIL("holder %s got no INVALIDATE", a->hs[i]->name);
		gens[i] = a->hs[i]->inv_gen;
	}
	pthread_mutex_unlock(&mu);
	if (a->delay_ms) {
		sleep_ms(a->delay_ms);
		T_ASSERT(!__atomic_load_n(a->op_done, __ATOMIC_ACQUIRE));
		blocks_not_free(a->ns, a->blocks, a->nblocks);
		/* Acks of an older generation do not count. */
		for (unsigned i = 0; i < a->n; i++)
			ns_grant_ack(a->ns, a->hs[i]->g, gens[i] - 1);
		sleep_ms(20);
		T_ASSERT(!__atomic_load_n(a->op_done, __ATOMIC_ACQUIRE));
	}
	for (unsigned i = 0; i + 1 < a->n; i++)
		ns_grant_ack(a->ns, a->hs[i]->g, gens[i]);
	if (a->last_delay_ms) {
		sleep_ms(a->last_delay_ms);
		T_ASSERT(!__atomic_load_n(a->op_done, __ATOMIC_ACQUIRE));
		blocks_not_free(a->ns, a->blocks, a->nblocks);
	}
	if (a->n)
		ns_grant_ack(a->ns, a->hs[a->n - 1]->g, gens[a->n - 1]);
	rcu_thread_offline();
	return NULL;
}

static void acker_start(struct acker *a)
{
	T_ASSERT(pthread_create(&a->thread, NULL, acker_main, a) == 0);
}

static void acker_join(struct acker *a)
{
	T_ASSERT(pthread_join(a->thread, NULL) == 0);
}

/* ---- files ---- */

static uint8_t pat(unsigned tag, uint64_t off)
{
	return (uint8_t)(tag * 29 + (off / PAGE) * 13 + off % 253);
}

static uint64_t make_file(struct ns *ns, const char *name, uint64_t pages, unsigned tag)
{
	uint8_t buf[FILE_PAGES * PAGE];
	struct ns_attr a;

	T_ASSERT(pages <= FILE_PAGES);
	for (uint64_t i = 0; i < pages * PAGE; i++)
		buf[i] = pat(tag, i);
	T_OK(ns_create(ns, NULL, NS_ROOT_INO, name, 0644, &a));
	T_ASSERT(ns_write(ns, NULL, a.ino, buf, pages * PAGE, 0) == (ssize_t)(pages * PAGE));
	return a.ino;
}

/* check_page - page @idx of @ino reads the pattern of @tag (tag 0: zeros). */
static void check_page(struct ns *ns, uint64_t ino, uint64_t idx, unsigned tag)
{
	uint8_t buf[PAGE];

	T_ASSERT(ns_read(ns, NULL, ino, buf, PAGE, idx * PAGE) == (ssize_t)PAGE);
	for (uint64_t i = 0; i < PAGE; i++)
		if (buf[i] != (tag ? pat(tag, idx * PAGE + i) : 0))
			T_FAIL("inode %" PRIu64 " page %" PRIu64 " byte %" PRIu64 " is wrong", ino,
			       idx, i);
}

static uint64_t blocks_of(struct ns *ns, uint64_t ino)
{
	struct ns_attr a;

	T_OK(ns_getattr(ns, ino, &a));
	return a.blocks;
}

/* ---- the operations ---- */

enum op { OP_TRUNCATE, OP_PUNCH, OP_UNLINK, OP_RENAME, OP_COUNT };

static const char *const op_names[] = {"truncate", "punch", "unlink", "rename-over"};

struct opcase {
	enum op op;
	char victim[32], other[32];
	uint64_t ino, other_ino;
	uint64_t first, count; /* pages the operation invalidates */
	uint64_t freed[FILE_PAGES];
	unsigned nfreed;
};

static void op_setup(struct ns *ns, struct opcase *c, enum op op, const char *suffix)
{
	memset(c, 0, sizeof(*c));
	c->op = op;
	snprintf(c->victim, sizeof(c->victim), "%s-%s", op_names[op], suffix);
	snprintf(c->other, sizeof(c->other), "%s-%s-src", op_names[op], suffix);
	c->ino = make_file(ns, c->victim, FILE_PAGES, 1);
	c->other_ino = make_file(ns, c->other, 4, 2);
	switch (op) {
	case OP_TRUNCATE:
		c->first = 8;
		c->count = NS_PAGES_MAX - 8;
		break;
	case OP_PUNCH:
		c->first = 4;
		c->count = 8;
		break;
	default:
		c->first = 0;
		c->count = NS_PAGES_MAX;
		break;
	}
	for (uint64_t p = c->first; p < FILE_PAGES && p - c->first < c->count; p++)
		c->freed[c->nfreed++] = t_page_block(ns, c->ino, p, NULL);
}

static int op_run(struct ns *ns, struct opcase *c)
{
	struct ns_setattr sa = {.valid = NS_SET_SIZE, .size = 8 * PAGE};

	switch (c->op) {
	case OP_TRUNCATE:
		return ns_setattr(ns, NULL, c->ino, &sa, NULL);
	case OP_PUNCH:
		return ns_fallocate(ns, NULL, c->ino, NS_FALLOC_PUNCH_HOLE | NS_FALLOC_KEEP_SIZE,
				    4 * PAGE, 8 * PAGE);
	case OP_UNLINK:
		return ns_unlink(ns, NULL, NS_ROOT_INO, c->victim);
	case OP_RENAME:
		return ns_rename(ns, NULL, NS_ROOT_INO, c->other, NS_ROOT_INO, c->victim, 0);
	case OP_COUNT:
		break;
	}
	return -EINVAL;
}

/* op_verify - the operation's visible effect. */
static void op_verify(struct ns *ns, struct opcase *c)
{
	struct ns_attr a;

	switch (c->op) {
	case OP_TRUNCATE:
		T_OK(ns_getattr(ns, c->ino, &a));
		T_ASSERT(a.size == 8 * PAGE && a.blocks == 8);
		for (uint64_t p = 0; p < 8; p++)
			check_page(ns, c->ino, p, 1);
		break;
	case OP_PUNCH:
		T_OK(ns_getattr(ns, c->ino, &a));
		T_ASSERT(a.size == FILE_PAGES * PAGE && a.blocks == FILE_PAGES - 8);
		for (uint64_t p = 0; p < FILE_PAGES; p++)
			check_page(ns, c->ino, p, p >= 4 && p < 12 ? 0 : 1);
		break;
	case OP_UNLINK:
		T_ERR(ns_lookup(ns, NULL, NS_ROOT_INO, c->victim, &a), ENOENT);
		T_ERR(ns_getattr(ns, c->ino, &a), ENOENT);
		break;
	case OP_RENAME:
		T_OK(ns_lookup(ns, NULL, NS_ROOT_INO, c->victim, &a));
		T_ASSERT(a.ino == c->other_ino);
		T_ERR(ns_lookup(ns, NULL, NS_ROOT_INO, c->other, &a), ENOENT);
		T_ERR(ns_getattr(ns, c->ino, &a), ENOENT);
		check_page(ns, c->other_ino, 3, 2);
		break;
	case OP_COUNT:
		break;
	}
}

/* The part of grant [gi, gi + gc) that the operation's range covers. */
static void expect_range(const struct opcase *c, const struct holder *h)
{
	uint64_t lo = c->first > h->index ? c->first : h->index;
	uint64_t c_end = c->first + c->count, h_end = h->index + h->count;
	uint64_t hi = c_end < h_end ? c_end : h_end;

	if (h->invalidates != 1 || h->inv_ino != c->ino || h->inv_index != lo ||
	    h->inv_count != hi - lo)
		T_FAIL("%s, holder %s: %u invalidates, last inode %" PRIu64 " pages %" PRIu64
		       "+%" PRIu64 "; want 1, inode %" PRIu64 " pages %" PRIu64 "+%" PRIu64,
		       op_names[c->op], h->name, h->invalidates, h->inv_ino, h->inv_index,
		       h->inv_count, c->ino, lo, hi - lo);
}

static void check_free(struct ns *ns, const struct opcase *c, bool want_free)
{
	for (unsigned i = 0; i < c->nfreed; i++)
		if (alloc_is_free(ns->alloc, c->freed[i]) != want_free)
			T_FAIL("%s: block %" PRIu64 " is %sfree", op_names[c->op], c->freed[i],
			       want_free ? "not " : "");
}

/* ---- (a), (c), (d): four holders ack late, a fifth maps something else ---- */

static void case_ack(struct ns *ns, enum op op)
{
	struct holder h[5];
	struct acker a = {0};
	struct opcase c;
	int done = 0;
	uint64_t t0, t1;

	op_setup(ns, &c, op, "ack");
	grant(ns, &h[0], "h0", c.ino, 0, FILE_PAGES);
	grant(ns, &h[1], "h1", c.ino, 8, 2);
	grant(ns, &h[2], "h2", c.ino, 10, 100);
	grant(ns, &h[3], "h3", c.ino, 6, 4);
	/* Next to the range: after the truncated end, beside the hole, another file. */
	if (op == OP_TRUNCATE)
		grant(ns, &h[4], "h4", c.ino, 0, 8);
	else if (op == OP_PUNCH)
		grant(ns, &h[4], "h4", c.ino, 12, 4);
	else
		grant(ns, &h[4], "h4", c.other_ino, 0, 4);

	a.ns = ns;
	a.n = 4;
	for (unsigned i = 0; i < 4; i++) {
		a.hs[i] = &h[i];
		a.want[i] = 1;
	}
	a.delay_ms = DELAY_MS;
	a.last_delay_ms = LAST_DELAY_MS;
	a.blocks = c.freed;
	a.nblocks = c.nfreed;
	a.op_done = &done;
	T_ASSERT(c.nfreed == 8 || (op >= OP_UNLINK && c.nfreed == FILE_PAGES));
	acker_start(&a);
	t0 = now_ms();
	T_OK(op_run(ns, &c));
	t1 = now_ms();
	__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
	acker_join(&a);
	if (t1 - t0 < DELAY_MS + LAST_DELAY_MS)
		T_FAIL("%s returned after %" PRIu64 " ms, before the last ack", op_names[op],
		       t1 - t0);
	T_ASSERT(t1 - t0 < DELAY_MS + LAST_DELAY_MS + SLACK_MS);
	pthread_mutex_lock(&mu);
	for (unsigned i = 0; i < 4; i++) {
		expect_range(&c, &h[i]);
		T_ASSERT(h[i].inv_gen == h[0].inv_gen);
		T_ASSERT(h[i].inv_gen > ns_grant_generation(h[i].g));
		T_ASSERT(h[i].expired == 0 && h[i].poisons == 0);
	}
	T_ASSERT(h[4].invalidates == 0 && h[4].expired == 0);
	pthread_mutex_unlock(&mu);
	T_ASSERT(ns_held_blocks(ns) == 0);
	rcu_barrier_all();
	check_free(ns, &c, true);
	op_verify(ns, &c);
	for (unsigned i = 0; i < 5; i++) {
		ns_grant_delete(ns, &h[i].g);
		T_ASSERT(h[i].g == NULL);
	}
	rcu_barrier_all();
	T_ASSERT(ns_held_blocks(ns) == 0);
	printf("ok %s: four holders, acks after %u ms, took %" PRIu64 " ms\n", op_names[op],
	       DELAY_MS + LAST_DELAY_MS, t1 - t0);
}

/* ---- (b), (c): a holder that never acks ---- */

static void case_timeout(struct ns *ns, enum op op)
{
	struct holder mute, prompt;
	struct acker a = {0};
	struct opcase c;
	int done = 0;
	uint64_t t0, t1, before, took;

	ns_set_lease_timeout(ns, TIMEOUT_MS);
	op_setup(ns, &c, op, "timeout");
	before = blocks_of(ns, c.ino);
	grant(ns, &mute, "mute", c.ino, 2, FILE_PAGES);
	grant(ns, &prompt, "prompt", c.ino, 0, FILE_PAGES);
	a.ns = ns;
	a.n = 1;
	a.hs[0] = &prompt;
	a.want[0] = 1;
	a.op_done = &done;
	acker_start(&a);
	t0 = now_ms();
	T_OK(op_run(ns, &c));
	t1 = now_ms();
	__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
	acker_join(&a);
	took = t1 - t0;
	if (took < TIMEOUT_MS || took > TIMEOUT_MS + SLACK_MS)
		T_FAIL("%s with a holder that does not ack took %" PRIu64 " ms (timeout %u ms)",
		       op_names[op], took, TIMEOUT_MS);
	pthread_mutex_lock(&mu);
	T_ASSERT(mute.invalidates == 1 && mute.expired == 1);
	T_ASSERT(prompt.invalidates == 1 && prompt.expired == 0);
	pthread_mutex_unlock(&mu);
	op_verify(ns, &c);
	if (op == OP_TRUNCATE || op == OP_PUNCH)
		T_ASSERT(before - blocks_of(ns, c.ino) == c.nfreed);
	/* What the operation freed is held for the expired holder, grace period or not. */
	T_ASSERT(ns_held_blocks(ns) == c.nfreed);
	check_free(ns, &c, false);
	rcu_barrier_all();
	check_free(ns, &c, false);
	T_ASSERT(ns_held_blocks(ns) == c.nfreed);
	ns_grant_delete(ns, &prompt.g);

	if (op == OP_TRUNCATE) {
		/* A later break does not wait for the expired holder, and holds what it frees. */
		struct ns_setattr sa = {.valid = NS_SET_SIZE, .size = 0};
		uint64_t kept[8];

		for (unsigned p = 0; p < 8; p++)
			kept[p] = t_page_block(ns, c.ino, p, NULL);
		ns_set_lease_timeout(ns, 5000);
		t0 = now_ms();
		T_OK(ns_setattr(ns, NULL, c.ino, &sa, NULL));
		t1 = now_ms();
		T_ASSERT(t1 - t0 < 2500);
		pthread_mutex_lock(&mu);
		T_ASSERT(mute.invalidates == 1 && mute.expired == 1);
		pthread_mutex_unlock(&mu);
		T_ASSERT(blocks_of(ns, c.ino) == 0);
		T_ASSERT(ns_held_blocks(ns) == FILE_PAGES);
		rcu_barrier_all();
		for (unsigned p = 0; p < 8; p++)
			T_ASSERT(!alloc_is_free(ns->alloc, kept[p]));
		check_free(ns, &c, false);
		ns_grant_delete(ns, &mute.g);
		rcu_barrier_all();
		for (unsigned p = 0; p < 8; p++)
			T_ASSERT(alloc_is_free(ns->alloc, kept[p]));
	} else {
		ns_grant_delete(ns, &mute.g);
		rcu_barrier_all();
	}
	/* The holder is gone: the blocks are back. */
	T_ASSERT(ns_held_blocks(ns) == 0);
	check_free(ns, &c, true);
	ns_set_lease_timeout(ns, 5000);
	printf("ok %s: a holder that never acks, returned after %" PRIu64 " ms\n", op_names[op],
	       took);
}

/* ---- held blocks outlive the mount ---- */

static pid_t hold_pid; /* the process the durable-hold holder says it is */

static pid_t h_pid(void *holder)
{
	(void)holder;
	return hold_pid;
}

static const struct ns_grant_ops pid_ops = {h_poison, h_invalidate, h_expired, h_pid};

struct walk_recs {
	unsigned n;
	uint16_t type[4096];
	uint16_t flags[4096];
};

static int walk_rec(void *ctx, const struct fmt_rec *rec, const void *payload, size_t plen)
{
	struct walk_recs *w = ctx;

	(void)payload;
	(void)plen;
	if (w->n < 4096) {
		w->type[w->n] = rec->type;
		w->flags[w->n] = rec->flags;
		w->n++;
	}
	return 0;
}

/*
 * A holder that never acks and whose process (a child) still runs: the truncate's HOLD
 * records go in the truncate's own transaction; across an unmount (the grant abandoned)
 * and a mount the blocks stay out of use while the child lives; ns_holds_check() releases
 * them once it is gone, and a remount after that keeps them free.
 */
static void case_hold_durable(struct ns **nsp, const char *path)
{
	struct ns_setattr sa = {.valid = NS_SET_SIZE, .size = 0};
	struct walk_recs *w = calloc(1, sizeof(*w));
	struct mlog_walk_info info;
	struct ns *ns = *nsp;
	struct holder mute;
	struct ns_attr a;
	uint64_t kept[FILE_PAGES];
	uint8_t page[PAGE] = {7};
	int status;
	bool in_tx = false;

	T_ASSERT(w);
	/*
	 * The holder's process: it execs, so it keeps no fd of ours (the region's lock), and
	 * dies with the test whatever ends it.
	 */
	hold_pid = fork();
	T_ASSERT(hold_pid >= 0);
	if (hold_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl("/bin/sleep", "sleep", "60", (char *)NULL);
		_exit(127);
	}
	T_OK(ns_create(ns, NULL, NS_ROOT_INO, "durable", 0644, &a));
	for (unsigned p = 0; p < FILE_PAGES; p++)
		T_ASSERT(ns_write(ns, NULL, a.ino, page, PAGE, p * PAGE) == (ssize_t)PAGE);
	for (unsigned p = 0; p < FILE_PAGES; p++)
		kept[p] = t_page_block(ns, a.ino, p, NULL);
	memset(&mute, 0, sizeof(mute));
	mute.name = "durable";
	mute.ns = ns;
	T_OK(ns_grant_new(ns, NULL, a.ino, 0, FILE_PAGES, NS_GRANT_READ, &pid_ops, &mute, &mute.g));
	ns_set_lease_timeout(ns, TIMEOUT_MS);
	T_OK(ns_setattr(ns, NULL, a.ino, &sa, NULL));
	ns_set_lease_timeout(ns, 5000);
	T_ASSERT(ns_held_blocks(ns) == FILE_PAGES);

	/* In the log: HOLD records inside the transaction whose UNMAP freed the blocks. */
	T_OK(mlog_walk(ns->r, mlog_super(ns->log), walk_rec, w, &info));
	for (unsigned i = 1; i < w->n; i++)
		if (w->type[i] == FMT_REC_HOLD && !(w->flags[i - 1] & FMT_REC_END))
			in_tx = true;
	T_ASSERT(in_tx);

	/* The daemon stops while the holder may still run: abandon, unmount, mount. */
	ns_grant_abandon(ns, &mute.g);
	ns_unmount(nsp);
	T_OK(ns_mount(nsp, path, NULL));
	ns = *nsp;
	T_ASSERT(ns_held_blocks(ns) == FILE_PAGES);
	T_ASSERT(ns_holds_check(ns) == FILE_PAGES);
	for (unsigned p = 0; p < FILE_PAGES; p++)
		T_ASSERT(!alloc_is_free(ns->alloc, kept[p]));

	/* The holder's process exits: the next check releases the blocks, for good. */
	T_ASSERT(kill(hold_pid, SIGKILL) == 0);
	T_ASSERT(waitpid(hold_pid, &status, 0) == hold_pid);
	T_ASSERT(ns_holds_check(ns) == 0);
	rcu_barrier_all();
	T_ASSERT(ns_held_blocks(ns) == 0);
	for (unsigned p = 0; p < FILE_PAGES; p++)
		T_ASSERT(alloc_is_free(ns->alloc, kept[p]));
	ns_unmount(nsp);
	T_OK(ns_mount(nsp, path, NULL));
	ns = *nsp;
	T_ASSERT(ns_held_blocks(ns) == 0);
	for (unsigned p = 0; p < FILE_PAGES; p++)
		T_ASSERT(alloc_is_free(ns->alloc, kept[p]));
	T_OK(ns_unlink(ns, NULL, NS_ROOT_INO, "durable"));
	free(w);
	printf("ok held blocks outlive an unmount while the holder's process runs\n");
}

/* ---- a holder that acks from inside its callback ---- */

static void case_ack_in_callback(struct ns *ns)
{
	struct ns_setattr sa = {.valid = NS_SET_SIZE, .size = 8 * PAGE};
	struct holder h;
	struct opcase c;
	uint64_t t0, t1;

	op_setup(ns, &c, OP_TRUNCATE, "in-cb");
	grant(ns, &h, "sync", c.ino, 0, FILE_PAGES);
	h.ack_in_callback = true;
	t0 = now_ms();
	T_OK(ns_setattr(ns, NULL, c.ino, &sa, NULL));
	t1 = now_ms();
	T_ASSERT(t1 - t0 < 1000);
	T_ASSERT(invalidates(&h) == 1 && h.expired == 0);
	T_ASSERT(ns_held_blocks(ns) == 0);
	rcu_barrier_all();
	check_free(ns, &c, true);
	ns_grant_delete(ns, &h.g);
	printf("ok an ack from inside the invalidate callback\n");
}

/* ---- (e) ---- */

static void case_errors(struct ns *ns)
{
	static char not_null;
	struct ns_grant *g = (struct ns_grant *)&not_null;
	struct holder h = {0};
	struct ns_attr d;
	uint64_t ino = make_file(ns, "errors", 1, 3);

	T_ERR(ns_grant_new(ns, NULL, 987654, 0, 1, NS_GRANT_READ, &ops, &h, &g), ENOENT);
	T_ASSERT(g == NULL);
	T_ERR(ns_grant_new(ns, NULL, NS_ROOT_INO, 0, 1, NS_GRANT_READ, &ops, &h, &g), EISDIR);
	T_OK(ns_mkdir(ns, NULL, NS_ROOT_INO, "dir", 0755, &d));
	T_ERR(ns_grant_new(ns, NULL, d.ino, 0, 1, NS_GRANT_WRITE, &ops, &h, &g), EISDIR);
	T_ERR(ns_grant_new(ns, NULL, ino, 0, 0, NS_GRANT_READ, &ops, &h, &g), EINVAL);
	T_ERR(ns_grant_new(ns, NULL, ino, 0, 1, 0, &ops, &h, &g), EINVAL);
	T_ERR(ns_grant_new(ns, NULL, ino, 0, 1, 0x4, &ops, &h, &g), EINVAL);
	T_ERR(ns_grant_new(ns, NULL, ino, NS_PAGES_MAX, 1, NS_GRANT_READ, &ops, &h, &g), EINVAL);
	T_ERR(ns_grant_new(ns, NULL, ino, 1, UINT64_MAX, NS_GRANT_READ, &ops, &h, &g), EINVAL);
	T_ASSERT(g == NULL);
	/* A file that is gone. */
	T_OK(ns_unlink(ns, NULL, NS_ROOT_INO, "errors"));
	T_ERR(ns_grant_new(ns, NULL, ino, 0, 1, NS_GRANT_READ, &ops, &h, &g), ENOENT);
	/* The largest range, and deleting NULL. */
	ino = make_file(ns, "errors2", 1, 3);
	T_OK(ns_grant_new(ns, NULL, ino, 0, NS_PAGES_MAX, NS_GRANT_READ | NS_GRANT_WRITE, &ops, &h,
			  &g));
	ns_grant_delete(ns, &g);
	T_ASSERT(g == NULL);
	ns_grant_delete(ns, &g);
	printf("ok grant errors\n");
}

/* ---- (f) ---- */

static void case_repair(struct ns *ns)
{
	struct holder in, out;
	struct acker a = {0};
	uint8_t page[PAGE], buf[PAGE];
	uint64_t ino = make_file(ns, "repair", 8, 4), bad = t_page_block(ns, ino, 3, NULL), t0, t1;
	int done = 0;

	grant(ns, &in, "in", ino, 2, 3);
	grant(ns, &out, "out", ino, 4, 4);
	T_ASSERT(poison_handle(ns, bad * PAGE, PAGE, POISON_SRC_INJECTED, NULL, NULL) == 1);
	pthread_mutex_lock(&mu);
	T_ASSERT(in.poisons == 1 && in.p_ino == ino && in.p_index == 3 && in.p_count == 1);
	T_ASSERT(out.poisons == 0 && in.invalidates == 0);
	pthread_mutex_unlock(&mu);
	T_ERR(ns_read(ns, NULL, ino, buf, PAGE, 3 * PAGE), EIO);

	a.ns = ns;
	a.n = 1;
	a.hs[0] = &in;
	a.want[0] = 1;
	a.delay_ms = DELAY_MS;
	a.op_done = &done;
	acker_start(&a);
	memset(page, 0xc3, sizeof(page));
	t0 = now_ms();
	T_ASSERT(ns_write(ns, NULL, ino, page, PAGE, 3 * PAGE) == (ssize_t)PAGE);
	t1 = now_ms();
	__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
	acker_join(&a);
	T_ASSERT(t1 - t0 >= DELAY_MS);
	pthread_mutex_lock(&mu);
	T_ASSERT(in.invalidates == 1 && in.inv_ino == ino && in.inv_index == 3 &&
		 in.inv_count == 1 && in.inv_gen > ns_grant_generation(in.g));
	T_ASSERT(in.expired == 0);
	T_ASSERT(out.invalidates == 0 && out.poisons == 0);
	pthread_mutex_unlock(&mu);
	T_ASSERT(ns_read(ns, NULL, ino, buf, PAGE, 3 * PAGE) == (ssize_t)PAGE);
	T_ASSERT(memcmp(buf, page, PAGE) == 0);
	T_ASSERT(t_page_block(ns, ino, 3, NULL) != bad);
	T_ASSERT(alloc_is_quarantined(ns->alloc, bad));
	check_page(ns, ino, 2, 4);
	check_page(ns, ino, 4, 4);
	ns_grant_delete(ns, &in.g);
	ns_grant_delete(ns, &out.g);
	rcu_barrier_all();
	T_ASSERT(alloc_is_quarantined(ns->alloc, bad));
	printf("ok repair by rewrite invalidates the page's mappers (%" PRIu64 " ms)\n", t1 - t0);
}

int main(int argc, char **argv)
{
	const char *path;
	struct ns *ns;

	(void)argc;
	(void)argv;
	setvbuf(stdout, NULL, _IOLBF, 0);
	t_watchdog(60, "test-lease");
	rcu_thread_online();
	log_set_sink(sink, NULL);
	path = t_path("lease");
	T_OK(ns_mkfs(path, REGION_SIZE, NULL));
	T_OK(ns_mount(&ns, path, NULL));
	case_errors(ns);
	for (enum op op = 0; op < OP_COUNT; op++)
		case_ack(ns, op);
	for (enum op op = 0; op < OP_COUNT; op++)
		case_timeout(ns, op);
	case_ack_in_callback(ns);
	case_repair(ns);
	case_hold_durable(&ns, path);
	ns_unmount(&ns);
	log_set_sink(NULL, NULL);
	rcu_thread_offline();
	return 0;
}
