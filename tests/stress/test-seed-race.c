// SPDX-License-Identifier: MIT
/*
 * The seed race (shared/seed/, DESIGN §5), forced 1,000 times: memory-failure handling has
 * found a block's owner through the rmap and sits inside its RCU read section, between the
 * lookup and the owner's xtable lock, while the file system frees the file's mapping
 * (truncate, punch, unlink) and hands out a block to another file. Jan Kara's answer must
 * hold: the RCU read section keeps the block from being reused and the inode from being
 * freed, and the revalidation under the xtable lock sees that the owner changed, so the
 * poison lands on free space and never on the old owner (or on the new file).
 *
 * A test hook at NS_HOOK_POISON_AFTER_RMAP parks the poison thread in that window while the
 * main thread does the freeing. Every fourth round checks the other side: a block that was
 * freed (after the grace period) and reused by file B is poisoned; the report names B's
 * page, B reads EIO there, and a whole-page rewrite repairs it onto a fresh block.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "check.h"
#include "config.h"
#include "blockmap.h"
#include "log.h"
#include "nsint.h"
#include "nsmap.h"
#include "lease.h"
#include "poison.h"
#include "rcu.h"
#include "testutil.h"
#include "util.h"

#define ROUNDS 1000
#define REGION_SIZE (64 * MiB)
#define PAGE FMT_BLOCK_SIZE
#define HOOK_WAIT_SECONDS 5
#define AUDIT_EVERY 100
#define MAX_HITS 8

enum kind {
	K_TRUNCATE, /* A is truncated to 0 inside the window */
	K_PUNCH,    /* A's page is punched inside the window */
	K_UNLINK,   /* A is unlinked (its inode freed after a grace period) inside the window */
	K_REUSE,    /* no window: X freed and reused by B first, then poisoned */
	K_COUNT,
};

static const char *const kind_names[K_COUNT] = {"truncate", "punch", "unlink", "reuse"};

/* One round's shared state, under lock. */
struct round {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ns *ns;
	unsigned nr;
	enum kind kind;
	uint64_t x;	/* the block poisoned */
	uint64_t ino_a; /* the file that owned X when the poison thread looked it up */
	uint64_t ino_b; /* the file created inside the window (or that reuses X) */
	bool delay;	/* park the poison thread at the hook on its first call for X */
	int hook_state; /* 0: not reached, 1: parked, 2: released by the main thread */
	bool hook_timeout;
	unsigned hook_calls;
	int64_t poison_rc;
	struct poison_hit hits[MAX_HITS];
	unsigned nhits;
	char bad[256]; /* first attribution problem seen by the report callback */
};

static struct round R;
static uint64_t quarantined[ROUNDS]; /* X of each round */

static void deadline_in(struct timespec *ts, unsigned seconds)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += seconds;
}

/*
 * hook - parks the poison thread (inside its RCU read section, right after the rmap lookup
 * that found X's owner) until the main thread has freed X's mapping and allocated for B.
 */
static void hook(void *ctx, enum ns_hook h, uint64_t block)
{
	struct round *r = ctx;
	struct timespec dl;

	if (h != NS_HOOK_POISON_AFTER_RMAP)
		return;
	pthread_mutex_lock(&r->lock);
	r->hook_calls++;
	if (r->delay && block == r->x && r->hook_state == 0) {
		r->hook_state = 1;
		pthread_cond_broadcast(&r->cond);
		deadline_in(&dl, HOOK_WAIT_SECONDS);
		while (r->hook_state != 2) {
			if (pthread_cond_timedwait(&r->cond, &r->lock, &dl) == ETIMEDOUT) {
				r->hook_timeout = true;
				break;
			}
		}
	}
	pthread_mutex_unlock(&r->lock);
}

/*
 * entry_block - the block behind page @idx of @ino, or UINT64_MAX (no such file, a hole);
 * *@e gets the entry. Locking: takes RCU and the file's xtable lock.
 */
static uint64_t entry_block(struct ns *ns, uint64_t ino, uint64_t idx, xt_entry *e)
{
	struct ns_inode *in;
	uint64_t first, blk = UINT64_MAX;

	*e = XT_EMPTY;
	rcu_read_begin();
	in = ns_inode_find(ns, ino);
	if (in) {
		xt_lock(&in->map);
		*e = __xt_load(&in->map, idx, &first, NULL);
		if (xt_is_value(*e) && !bm_is_hole(*e))
			blk = bm_to_block(*e) + (idx - first);
		xt_unlock(&in->map);
	}
	rcu_read_end();
	return blk;
}

static bool rmap_owned(struct ns *ns, uint64_t block, struct rmap_owner *own)
{
	bool found;

	rcu_read_begin();
	found = rmap_lookup(ns_rmap(ns), block, own);
	rcu_read_end();
	return found;
}

/*
 * report - poison_handle's callback. For an owned block it runs with the page's entry lock
 * held: the file must map the block at that page right now, poisoned and locked.
 */
static void report(void *ctx, const struct poison_hit *hit)
{
	struct round *r = ctx;
	struct rmap_owner own;
	char bad[256] = "";

	if (hit->owned) {
		xt_entry e;
		uint64_t blk = entry_block(r->ns, hit->ino, hit->index, &e);

		if (blk != hit->block)
			snprintf(bad, sizeof(bad),
				 "owned hit: inode %" PRIu64 " page %" PRIu64 " maps block %" PRIu64
				 ", not %" PRIu64,
				 hit->ino, hit->index, blk, hit->block);
		else if (!bm_is_poison(e) || !bm_is_locked(e))
			snprintf(bad, sizeof(bad),
				 "owned hit: inode %" PRIu64 " page %" PRIu64
				 " entry is not poisoned and locked (%#" PRIx64 ")",
				 hit->ino, hit->index, (uint64_t)e);
		else if (rmap_owned(r->ns, hit->block, &own))
			snprintf(bad, sizeof(bad), "owned hit: block %" PRIu64 " still in the rmap",
				 hit->block);
	} else if (!hit->metadata && rmap_owned(r->ns, hit->block, &own)) {
		snprintf(bad, sizeof(bad),
			 "free hit: block %" PRIu64 " is owned by inode %" PRIu64 " page %" PRIu64,
			 hit->block, own.inode->ino, own.index);
	}
	if (!hit->metadata && !alloc_is_quarantined(ns_alloc(r->ns), hit->block))
		snprintf(bad, sizeof(bad), "block %" PRIu64 " reported but not quarantined",
			 hit->block);
	pthread_mutex_lock(&r->lock);
	if (r->nhits < MAX_HITS)
		r->hits[r->nhits] = *hit;
	r->nhits++;
	if (bad[0] && !r->bad[0])
		memcpy(r->bad, bad, sizeof(bad));
	pthread_mutex_unlock(&r->lock);
}

static void *poison_main(void *arg)
{
	struct round *r = arg;
	int64_t rc;

	rcu_thread_online();
	rc = poison_handle(r->ns, r->x * PAGE, PAGE, POISON_SRC_INJECTED, report, r);
	pthread_mutex_lock(&r->lock);
	r->poison_rc = rc;
	pthread_mutex_unlock(&r->lock);
	rcu_thread_offline();
	return NULL;
}

static void fill(uint8_t *buf, unsigned round, unsigned tag)
{
	for (unsigned i = 0; i < PAGE; i++)
		buf[i] = (uint8_t)(round * 31 + tag * 7 + i * 13 + (i >> 8));
}

static uint64_t make_file(struct ns *ns, const char *name, const uint8_t *data)
{
	struct ns_attr at;

	T_OK(ns_create(ns, NULL, NS_ROOT_INO, name, 0644, &at));
	T_ASSERT(ns_write(ns, NULL, at.ino, data, PAGE, 0) == (ssize_t)PAGE);
	return at.ino;
}

static void expect_data(struct ns *ns, uint64_t ino, const uint8_t *data, const char *what)
{
	uint8_t got[PAGE];
	ssize_t n = ns_read(ns, NULL, ino, got, PAGE, 0);

	if (n != (ssize_t)PAGE || memcmp(got, data, PAGE) != 0)
		T_FAIL("round %u (%s): %s reads back %zd bytes, %s", R.nr, kind_names[R.kind], what,
		       n, n == (ssize_t)PAGE ? "different data" : "short");
}

static void audit_line(void *ctx, enum check_severity sev, const char *msg)
{
	(void)ctx;
	if (sev == CHECK_PROBLEM)
		fprintf(stderr, "audit: %s\n", msg);
}

static void audit(struct ns *ns, const char *when)
{
	uint64_t problems = ns_audit(ns, audit_line, NULL);

	if (problems)
		T_FAIL("audit %s: %" PRIu64 " problems", when, problems);
}

static void start_round(struct ns *ns, unsigned nr, enum kind kind)
{
	pthread_mutex_lock(&R.lock);
	R.ns = ns;
	R.nr = nr;
	R.kind = kind;
	R.x = UINT64_MAX;
	R.ino_a = R.ino_b = 0;
	R.delay = false;
	R.hook_state = 0;
	R.hook_timeout = false;
	R.hook_calls = 0;
	R.poison_rc = 0;
	R.nhits = 0;
	R.bad[0] = '\0';
	pthread_mutex_unlock(&R.lock);
}

/* check_hits - exactly one report, for X, not a metadata block, consistent attribution. */
static struct poison_hit check_hits(void)
{
	if (R.bad[0])
		T_FAIL("round %u (%s): %s", R.nr, kind_names[R.kind], R.bad);
	if (R.nhits != 1)
		T_FAIL("round %u (%s): %u reports for one block", R.nr, kind_names[R.kind],
		       R.nhits);
	if (R.hits[0].block != R.x || R.hits[0].metadata || R.hits[0].already)
		T_FAIL("round %u (%s): report for block %" PRIu64 " (X %" PRIu64 ") already %d",
		       R.nr, kind_names[R.kind], R.hits[0].block, R.x, R.hits[0].already);
	if (R.poison_rc != 1)
		T_FAIL("round %u (%s): poison_handle = %" PRId64, R.nr, kind_names[R.kind],
		       R.poison_rc);
	return R.hits[0];
}

/*
 * window_round - the seed race: the poison thread has found A as X's owner and is parked in
 * its RCU read section; A's mapping goes away and B gets a block meanwhile.
 */
static void window_round(struct ns *ns, unsigned nr, enum kind kind)
{
	uint8_t da[PAGE], db[PAGE], zero[PAGE] = {0}, got[PAGE];
	struct rmap_owner own;
	struct timespec dl;
	struct ns_attr at;
	pthread_t th;
	xt_entry e;
	uint64_t yb;
	int rc = 0;

	fill(da, nr, 1);
	fill(db, nr, 2);
	R.ino_a = make_file(ns, "a", da);
	R.x = entry_block(ns, R.ino_a, 0, &e);
	T_ASSERT(R.x != UINT64_MAX && bm_has_block(e));
	quarantined[nr] = R.x;
	R.delay = true;
	T_ASSERT(pthread_create(&th, NULL, poison_main, &R) == 0);

	/* Wait until the poison thread holds A (found through the rmap) inside RCU. */
	pthread_mutex_lock(&R.lock);
	deadline_in(&dl, HOOK_WAIT_SECONDS);
	while (R.hook_state == 0 && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&R.cond, &R.lock, &dl);
	pthread_mutex_unlock(&R.lock);
	if (R.hook_state == 0)
		T_FAIL("round %u (%s): the poison thread never found X's owner A", nr,
		       kind_names[kind]);

	/* Free A's mapping of X while the poison thread looks at A. */
	switch (kind) {
	case K_TRUNCATE: {
		struct ns_setattr sa = {.valid = NS_SET_SIZE, .size = 0};

		T_OK(ns_setattr(ns, NULL, R.ino_a, &sa, NULL));
		break;
	}
	case K_PUNCH:
		T_OK(ns_fallocate(ns, NULL, R.ino_a, NS_FALLOC_PUNCH_HOLE | NS_FALLOC_KEEP_SIZE, 0,
				  PAGE));
		break;
	case K_UNLINK:
		T_OK(ns_unlink(ns, NULL, NS_ROOT_INO, "a"));
		break;
	default:
		T_FAIL("bad kind");
	}
	T_ASSERT(!rmap_owned(ns, R.x, &own));
	/* Another file takes a block: never X, whose free waits for the poison thread. */
	R.ino_b = make_file(ns, "b", db);
	yb = entry_block(ns, R.ino_b, 0, &e);
	if (yb == R.x)
		T_FAIL("round %u (%s): B got block X %" PRIu64
		       " while a poison handler was still inside its RCU read section",
		       nr, kind_names[kind], R.x);
	if (alloc_is_free(ns_alloc(ns), R.x))
		T_FAIL("round %u (%s): X %" PRIu64 " is free before the grace period ended", nr,
		       kind_names[kind], R.x);
	T_ASSERT(!alloc_is_quarantined(ns_alloc(ns), R.x));

	pthread_mutex_lock(&R.lock);
	R.hook_state = 2;
	pthread_cond_broadcast(&R.cond);
	pthread_mutex_unlock(&R.lock);
	T_ASSERT(pthread_join(th, NULL) == 0);

	if (R.hook_timeout)
		T_FAIL("round %u (%s): the hook timed out", nr, kind_names[kind]);
	{
		struct poison_hit hit = check_hits();

		/* X had no owner any more when the poison was recorded: never A, never B. */
		if (hit.owned)
			T_FAIL("round %u (%s): poison attributed to inode %" PRIu64 " page %" PRIu64
			       " (A %" PRIu64 ", B %" PRIu64 ")",
			       nr, kind_names[kind], hit.ino, hit.index, R.ino_a, R.ino_b);
	}
	T_ASSERT(alloc_is_quarantined(ns_alloc(ns), R.x));
	T_ASSERT(!alloc_is_free(ns_alloc(ns), R.x));
	T_ASSERT(!rmap_owned(ns, R.x, &own));
	expect_data(ns, R.ino_b, db, "B");
	T_ASSERT(entry_block(ns, R.ino_b, 0, &e) == yb && bm_has_block(e));

	/* What became of A. */
	switch (kind) {
	case K_TRUNCATE:
		T_OK(ns_getattr(ns, R.ino_a, &at));
		T_ASSERT(at.size == 0 && at.blocks == 0);
		T_ASSERT(ns_read(ns, NULL, R.ino_a, got, PAGE, 0) == 0);
		break;
	case K_PUNCH:
		T_OK(ns_getattr(ns, R.ino_a, &at));
		T_ASSERT(at.size == PAGE && at.blocks == 0);
		T_ASSERT(ns_read(ns, NULL, R.ino_a, got, PAGE, 0) == (ssize_t)PAGE);
		T_ASSERT(memcmp(got, zero, PAGE) == 0);
		break;
	default:
		T_ERR(ns_getattr(ns, R.ino_a, &at), ENOENT);
		break;
	}
	if (kind != K_UNLINK)
		T_OK(ns_unlink(ns, NULL, NS_ROOT_INO, "a"));
	T_OK(ns_unlink(ns, NULL, NS_ROOT_INO, "b"));
}

/*
 * reuse_round - the other order: X is freed (grace period over) and B takes it; poison then
 * belongs to B's page, which reads EIO until a whole-page write moves it to a fresh block.
 */
static void reuse_round(struct ns *ns, unsigned nr)
{
	struct ns_setattr sa = {.valid = NS_SET_SIZE, .size = 0};
	uint8_t da[PAGE], db[PAGE], dn[PAGE], got[PAGE];
	struct rmap_owner own;
	struct poison_hit hit;
	pthread_t th;
	xt_entry e;
	uint64_t nb;

	fill(da, nr, 1);
	fill(db, nr, 2);
	fill(dn, nr, 3);
	/* Every earlier free has landed: A and then B take the lowest free block. */
	rcu_barrier_all();
	R.ino_a = make_file(ns, "a", da);
	R.x = entry_block(ns, R.ino_a, 0, &e);
	T_ASSERT(R.x != UINT64_MAX && bm_has_block(e));
	quarantined[nr] = R.x;
	T_OK(ns_setattr(ns, NULL, R.ino_a, &sa, NULL));
	T_ASSERT(!rmap_owned(ns, R.x, &own));
	rcu_barrier_all();
	T_ASSERT(alloc_is_free(ns_alloc(ns), R.x));
	R.ino_b = make_file(ns, "b", db);
	if (entry_block(ns, R.ino_b, 0, &e) != R.x)
		T_FAIL("round %u: B did not get the freed block X %" PRIu64, nr, R.x);

	T_ASSERT(pthread_create(&th, NULL, poison_main, &R) == 0);
	T_ASSERT(pthread_join(th, NULL) == 0);
	hit = check_hits();
	if (!hit.owned || hit.ino != R.ino_b || hit.index != 0)
		T_FAIL("round %u (reuse): poison of X %" PRIu64
		       " reported owned %d by inode %" PRIu64 " page %" PRIu64
		       ", expected B %" PRIu64 " page 0",
		       nr, R.x, hit.owned, hit.ino, hit.index, R.ino_b);
	T_ASSERT(alloc_is_quarantined(ns_alloc(ns), R.x));
	T_ERR(ns_read(ns, NULL, R.ino_b, got, PAGE, 0), EIO);
	/* A partial write into the poisoned page cannot repair it. */
	T_ERR(ns_write(ns, NULL, R.ino_b, dn, 100, 10), EIO);
	T_ERR(ns_read(ns, NULL, R.ino_b, got, PAGE, 0), EIO);

	/* Repair by rewrite: the whole page, onto a fresh block. */
	T_ASSERT(ns_write(ns, NULL, R.ino_b, dn, PAGE, 0) == (ssize_t)PAGE);
	expect_data(ns, R.ino_b, dn, "B after the rewrite");
	nb = entry_block(ns, R.ino_b, 0, &e);
	T_ASSERT(nb != UINT64_MAX && nb != R.x && bm_has_block(e));
	T_ASSERT(alloc_is_quarantined(ns_alloc(ns), R.x));
	T_ASSERT(!rmap_owned(ns, R.x, &own));
	T_ASSERT(rmap_owned(ns, nb, &own) && own.inode->ino == R.ino_b && own.index == 0);

	T_OK(ns_unlink(ns, NULL, NS_ROOT_INO, "a"));
	T_OK(ns_unlink(ns, NULL, NS_ROOT_INO, "b"));
}

static void check_line(void *ctx, enum check_severity sev, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "check: %s%s\n", sev == CHECK_PROBLEM ? "PROBLEM: " : "", msg);
}

static void all_quarantined(struct ns *ns, const char *when)
{
	for (unsigned i = 0; i < ROUNDS; i++)
		if (!alloc_is_quarantined(ns_alloc(ns), quarantined[i]))
			T_FAIL("%s: X of round %u (block %" PRIu64 ") is not quarantined", when, i,
			       quarantined[i]);
}

int main(void)
{
	const char *path;
	struct check_result res;
	struct ns_statfs st;
	unsigned counts[K_COUNT] = {0};
	struct ns *ns;
	uint64_t t0 = mono_ns();

#if !DAXFS_TEST_HOOKS
	printf("skipped: the engine was built without test hooks (-Dtest_hooks=false)\n");
	return T_SKIP;
#endif
	t_watchdog(300, "test-seed-race");
	log_set_level(LOG_LVL_WARNING);
	rcu_thread_online();
	pthread_mutex_init(&R.lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&R.cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	path = t_path("seed-race.region");
	T_OK(ns_mkfs(path, REGION_SIZE, NULL));
	T_OK(ns_mount(&ns, path, NULL));
	ns_set_hook(ns, hook, &R);

	for (unsigned nr = 0; nr < ROUNDS; nr++) {
		enum kind kind = nr % 4 == 3 ? K_REUSE : (enum kind)((nr - nr / 4) % 3);

		start_round(ns, nr, kind);
		if (kind == K_REUSE)
			reuse_round(ns, nr);
		else
			window_round(ns, nr, kind);
		counts[kind]++;
		if ((nr + 1) % AUDIT_EVERY == 0)
			audit(ns, "between rounds");
	}
	ns_set_hook(ns, NULL, NULL);
	rcu_barrier_all();
	all_quarantined(ns, "after the rounds");
	audit(ns, "after the rounds");
	ns_statfs(ns, &st);
	T_ASSERT(st.blocks_quarantined == ROUNDS);
	T_ASSERT(st.blocks_free == st.blocks - ROUNDS);

	/* Quarantine survives a restart, and the region checks clean. */
	ns_unmount(&ns);
	T_OK(ns_mount(&ns, path, NULL));
	all_quarantined(ns, "after remount");
	audit(ns, "after remount");
	ns_unmount(&ns);
	T_OK(ns_check(path, check_line, NULL, &res));
	if (res.problems)
		T_FAIL("ns_check: %" PRIu64 " problems", res.problems);
	T_ASSERT(res.blocks_quarantined == ROUNDS);

	rcu_thread_offline();
	printf("test-seed-race: %u rounds (truncate %u, punch %u, unlink %u, reuse %u) in %.1f s\n",
	       ROUNDS, counts[K_TRUNCATE], counts[K_PUNCH], counts[K_UNLINK], counts[K_REUSE],
	       (double)(mono_ns() - t0) / 1e9);
	return 0;
}
