// SPDX-License-Identifier: MIT
/*
 * blockmap - entry locks and their hashed wait queues on top of the generic xtable
 * (blockmap.h), the way fs/dax.c keeps get_unlocked_entry / dax_lock_entry / dax_wake_entry
 * next to lib/xarray.c.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "blockmap.h"

#define BM_WAIT_BUCKETS 256
#define BM_WAIT_SECONDS 1 /* a waiter looks again at least this often */

/* A hashed wait queue for entry locks. */
struct bm_wait_bucket {
	pthread_mutex_t mutex;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	uint64_t seq;	     /* bumped by every wake; under mutex */
	unsigned waiters;    /* written under mutex, read atomically by wakers */
};

static struct bm_wait_bucket bm_wait_table[BM_WAIT_BUCKETS];
static pthread_once_t bm_wait_once = PTHREAD_ONCE_INIT;

/*
 * wait_table_init - set up the wait buckets once per process.
 * Context: pthread_once(). Locking: none.
 */
static void wait_table_init(void)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	for (unsigned i = 0; i < BM_WAIT_BUCKETS; i++) {
		pthread_mutex_init(&bm_wait_table[i].mutex, NULL);
		pthread_cond_init(&bm_wait_table[i].cond, &attr);
	}
	pthread_condattr_destroy(&attr);
}

/*
 * wait_bucket - the wait queue of the entry of @xt whose first index is @first.
 * Context: any thread. Locking: none.
 * Return: the bucket.
 */
static struct bm_wait_bucket *wait_bucket(const struct xtable *xt, uint64_t first)
{
	uint64_t h = (uint64_t)(uintptr_t)xt ^ (first * UINT64_C(0x9e3779b97f4a7c15));

	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	pthread_once(&bm_wait_once, wait_table_init);
	return &bm_wait_table[h % BM_WAIT_BUCKETS];
}

/*
 * wake_entry - wake every waiter on the entry of @xt whose first index is @first.
 * Context: any thread.
 * Locking: the table lock (a waiter registers under it, so none is missed); takes the
 *          bucket mutex when the bucket has waiters.
 */
static void wake_entry(struct xtable *xt, uint64_t first)
{
	struct bm_wait_bucket *b = wait_bucket(xt, first);

	if (!__atomic_load_n(&b->waiters, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&b->mutex);
	b->seq++;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->mutex);
}

/*
 * wait_entry - sleep until the entry of @xt whose first index is @first may have been
 * unlocked, replaced or removed, or at most BM_WAIT_SECONDS.
 * Context: any thread, not inside an RCU read section.
 * Locking: the table lock is held on entry and on return, dropped while sleeping. The bucket
 *          mutex is taken before the table lock is dropped, so a wake that follows the
 *          unlock cannot be missed.
 */
static void wait_entry(struct xtable *xt, uint64_t first)
{
	struct bm_wait_bucket *b = wait_bucket(xt, first);
	struct timespec deadline;
	uint64_t seq;

	pthread_mutex_lock(&b->mutex);
	seq = b->seq;
	__atomic_store_n(&b->waiters, b->waiters + 1, __ATOMIC_RELAXED);
	xt_unlock(xt);

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += BM_WAIT_SECONDS;
	while (b->seq == seq) {
		if (pthread_cond_timedwait(&b->cond, &b->mutex, &deadline) == ETIMEDOUT)
			break;
	}
	__atomic_store_n(&b->waiters, b->waiters - 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&b->mutex);
	xt_lock(xt);
}

/*
 * on_evict - the xtable's evict hook: a locked entry that leaves the tree wakes its waiters,
 * who then find it gone or different.
 * Context: any thread. Locking: the table lock.
 */
static void on_evict(struct xtable *xt, uint64_t first, xt_entry old)
{
	if (bm_is_locked(old))
		wake_entry(xt, first);
}

void bm_init(struct xtable *xt)
{
	xt_init(xt);
	xt_set_evict(xt, on_evict);
}

bm_entry __bm_lock_entry(struct xtable *xt, uint64_t index)
{
	for (;;) {
		struct xt_cursor cur;
		bm_entry e = __xt_peek(xt, index, &cur);

		if (!xt_is_value(e))
			return e;
		if (!(e & BM_LOCKED)) {
			/* In place, same slot: the xtable keeps its siblings and marks. */
			__xt_poke(xt, &cur, e | BM_LOCKED);
			return e | BM_LOCKED;
		}
		wait_entry(xt, cur.first);
	}
}

bm_entry __bm_get_unlocked(struct xtable *xt, uint64_t index)
{
	for (;;) {
		struct xt_cursor cur;
		bm_entry e = __xt_peek(xt, index, &cur);

		if (!bm_is_locked(e))
			return e;
		wait_entry(xt, cur.first);
	}
}

void __bm_unlock_entry(struct xtable *xt, uint64_t index)
{
	struct xt_cursor cur;
	bm_entry e = __xt_peek(xt, index, &cur);

	if (!bm_is_locked(e))
		return;
	__xt_poke(xt, &cur, bm_unlocked(e));
	wake_entry(xt, cur.first);
}

void bm_unlock_entry(struct xtable *xt, uint64_t index)
{
	xt_lock(xt);
	__bm_unlock_entry(xt, index);
	xt_unlock(xt);
}

void bm_lock_range(struct xtable *xt, uint64_t start, uint64_t end)
{
	uint64_t i = start;
	unsigned order;

	if (start >= end)
		return;
	xt_lock(xt);
	while (xt_find(xt, &i, end - 1, XT_MARK_ANY, &order) != XT_EMPTY) {
		uint64_t first = i;

		/* Waits while another thread holds it; retries from the lookup after waking. */
		if (__bm_lock_entry(xt, first) == XT_EMPTY)
			continue;
		__xt_load(xt, first, &i, &order);
		i += UINT64_C(1) << order;
		if (i == 0 || i >= end)
			break;
	}
	xt_unlock(xt);
}

void bm_unlock_range(struct xtable *xt, uint64_t start, uint64_t end)
{
	uint64_t i = start;
	unsigned order;
	bm_entry e;

	if (start >= end)
		return;
	xt_lock(xt);
	while ((e = xt_find(xt, &i, end - 1, XT_MARK_ANY, &order)) != XT_EMPTY) {
		if (bm_is_locked(e))
			__bm_unlock_entry(xt, i);
		i += UINT64_C(1) << order;
		if (i == 0 || i >= end)
			break;
	}
	xt_unlock(xt);
}
