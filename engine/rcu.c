// SPDX-License-Identifier: MIT
/*
 * Per-thread batches for rcu_defer_free() (rcu.h).
 *
 * A thread that is online gathers memory-only callbacks in its open batch. A full batch is
 * submitted: one call_rcu whose callback, after the grace period, marks it READY; the owner
 * runs READY batches, oldest first, at its next rcu_defer_free(). When the owner goes
 * offline, it marks the batches still WAITING as ORPHAN and liburcu's thread runs them
 * when their grace period ends. The state word is the one place the two threads meet:
 * whoever changes it from WAITING decides who runs the batch.
 */
#include <stdbool.h>
#include <stdlib.h>

#include "rcu.h"

#ifdef DAXFS_TSAN
/* The one token that tells TSan a grace period orders finished readers before reclaim. */
char rcu_tsan_token;
/* Orders the end of callbacks before rcu_barrier_all() returns. */
char rcu_tsan_barrier;
#endif

#define BATCH_LEN 64

enum { BATCH_WAITING, BATCH_READY, BATCH_ORPHAN };

struct rcu_batch {
	struct rcu_head rcu;
	struct rcu_batch *next; /* the owner's submitted list */
	int state;		/* BATCH_*; see above */
	unsigned n;
	struct rcu_head *heads[BATCH_LEN];
};

/* The calling thread's batches; only that thread touches them, except a batch's state. */
struct rcu_local {
	bool on;      /* between rcu_thread_online() and rcu_thread_offline() */
	bool running; /* in batch_run(): callbacks that defer more must not reclaim */
	struct rcu_batch *open;
	struct rcu_batch *first, *last; /* submitted, oldest first */
	struct rcu_batch *spare;	/* one run batch kept for the next open one */
};

static __thread struct rcu_local rl;

static void batch_run(struct rcu_batch *b)
{
	for (unsigned i = 0; i < b->n; i++)
		b->heads[i]->func(b->heads[i]);
	b->n = 0;
}

/* grace_cb - liburcu's thread, a grace period after the submit: READY, or run an orphan. */
static void grace_cb(struct rcu_head *head)
{
	struct rcu_batch *b = caa_container_of(head, struct rcu_batch, rcu);
	int expect = BATCH_WAITING;

	RCU_TSAN_ACQUIRE(b);
	if (__atomic_compare_exchange_n(&b->state, &expect, BATCH_READY, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		return;
	batch_run(b);
	free(b);
}

void rcu_local_submit(void)
{
	struct rcu_batch *b = rl.open;

	if (!rl.on || !b || b->n == 0)
		return;
	rl.open = NULL;
	b->next = NULL;
	b->state = BATCH_WAITING;
	if (rl.last)
		rl.last->next = b;
	else
		rl.first = b;
	rl.last = b;
	RCU_TSAN_RELEASE(b);
	urcu_memb_call_rcu(&b->rcu, grace_cb);
}

void rcu_local_reclaim(void)
{
	struct rcu_batch *b;

	if (!rl.on || rl.running)
		return;
	rl.running = true;
	while ((b = rl.first) && __atomic_load_n(&b->state, __ATOMIC_ACQUIRE) == BATCH_READY) {
		rl.first = b->next;
		if (!rl.first)
			rl.last = NULL;
		batch_run(b);
		if (rl.spare)
			free(b);
		else
			rl.spare = b;
	}
	rl.running = false;
}

void rcu_defer_free(struct rcu_head *head, void (*cb)(struct rcu_head *))
{
	struct rcu_batch *b;

	if (!rl.on)
		goto direct;
	b = rl.open;
	if (!b) {
		b = rl.spare ? rl.spare : malloc(sizeof(*b));
		if (!b)
			goto direct;
		rl.spare = NULL;
		b->n = 0;
		rl.open = b;
	}
	RCU_TSAN_RELEASE(head);
	head->func = cb;
	b->heads[b->n++] = head;
	if (b->n == BATCH_LEN) {
		rcu_local_submit();
		rcu_local_reclaim();
	}
	return;
direct:
	rcu_defer(head, cb);
}

void rcu_local_start(void)
{
	rl.on = true;
}

void rcu_local_stop(void)
{
	struct rcu_batch *b, *next;

	if (!rl.on)
		return;
	rcu_local_submit();
	b = rl.first;
	free(rl.spare);
	/* From here on, what the callbacks below defer goes straight to liburcu. */
	rl = (struct rcu_local){0};
	for (; b; b = next) {
		int expect = BATCH_WAITING;

		next = b->next;
		if (__atomic_compare_exchange_n(&b->state, &expect, BATCH_ORPHAN, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			continue; /* grace_cb runs and frees it */
		batch_run(b);
		free(b);
	}
}
