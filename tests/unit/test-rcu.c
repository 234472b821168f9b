// SPDX-License-Identifier: MIT
/*
 * test-rcu - rcu_defer_free() (engine/rcu.c): memory-only callbacks that gather in per-thread
 * batches and run, after a grace period, on the thread that deferred them.
 *
 * Writers replace objects in a table of RCU-published slots and defer the old ones; some go
 * offline and online again every so often (their batches are then orphaned to liburcu's
 * thread), and some callbacks defer another object from inside the callback. Readers hold
 * read sections, some of them long, and check every object they reach is still alive. At the
 * end every deferred object must have been freed exactly once, none before its readers were
 * done, and most on the thread that deferred it.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "rcu.h"
#include "testutil.h"

#define NSLOTS 64
#define WRITERS 3
#define READERS 2
#define RUN_SECONDS 2
#define LIVE UINT64_C(0x11fe11fe11fe11fe)
#define DEAD UINT64_C(0xdeaddeaddeaddead)

struct obj {
	struct rcu_head rcu;
	uint64_t magic;
	pthread_t owner; /* the thread that deferred it */
	bool nest;	 /* its callback defers one more object */
	bool steady;	 /* deferred by a writer that stays online */
};

static struct obj *slots[NSLOTS];
static uint64_t deferred, freed, nested, steady, steady_by_owner;
static __thread bool thread_steady;
static volatile bool stop;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct obj *obj_new(bool nest)
{
	struct obj *o = calloc(1, sizeof(*o));

	T_ASSERT(o);
	o->magic = LIVE;
	o->nest = nest;
	return o;
}

static void obj_defer(struct obj *o);

static void obj_free_cb(struct rcu_head *head)
{
	struct obj *o;

	rcu_cb_begin(head);
	o = caa_container_of(head, struct obj, rcu);
	if (o->magic != LIVE)
		T_FAIL("callback ran twice for %p (magic %#" PRIx64 ")", (void *)o, o->magic);
	o->magic = DEAD;
	if (o->steady) {
		__atomic_add_fetch(&steady, 1, __ATOMIC_RELAXED);
		if (pthread_equal(o->owner, pthread_self()))
			__atomic_add_fetch(&steady_by_owner, 1, __ATOMIC_RELAXED);
	}
	if (o->nest) {
		/* A callback that frees more, as inode_free_cb does with the inode's nodes. */
		__atomic_add_fetch(&nested, 1, __ATOMIC_RELAXED);
		obj_defer(obj_new(false));
	}
	free(o);
	__atomic_add_fetch(&freed, 1, __ATOMIC_RELAXED);
}

static void obj_defer(struct obj *o)
{
	o->owner = pthread_self();
	o->steady = thread_steady;
	__atomic_add_fetch(&deferred, 1, __ATOMIC_RELAXED);
	rcu_defer_free(&o->rcu, obj_free_cb);
}

static void *writer_main(void *arg)
{
	uint64_t rnd = (uint64_t)(uintptr_t)arg * 7919 + 1, n = 0;
	bool cycles = (uintptr_t)arg == 0; /* one writer goes offline and online again */

	thread_steady = !cycles;
	rcu_thread_online();
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		unsigned i = (unsigned)(t_rand(&rnd) % NSLOTS);
		struct obj *old = __atomic_exchange_n(&slots[i], obj_new(t_rand(&rnd) % 16 == 0),
						      __ATOMIC_ACQ_REL);

		if (old)
			obj_defer(old);
		if (cycles && ++n % 20000 == 0) {
			/* Leaves batches behind: liburcu's thread must run them. */
			rcu_thread_offline();
			rcu_thread_online();
		}
	}
	rcu_thread_offline();
	return NULL;
}

static void *reader_main(void *arg)
{
	uint64_t rnd = (uint64_t)(uintptr_t)arg * 104729 + 3, k = 0;

	rcu_thread_online();
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		unsigned i = (unsigned)(t_rand(&rnd) % NSLOTS);
		/* Now and then a long read section, across many batches of the writers. */
		unsigned spins = ++k % 512 == 0 ? 200000 : 50;
		struct obj *o;

		rcu_read_begin();
		o = rcu_fetch(slots[i]);
		for (unsigned s = 0; o && s < spins; s++) {
			uint64_t m = __atomic_load_n(&o->magic, __ATOMIC_RELAXED);

			if (m != LIVE)
				T_FAIL("reader saw a freed object (magic %#" PRIx64 ")", m);
		}
		rcu_read_end();
	}
	rcu_thread_offline();
	return NULL;
}

int main(void)
{
	pthread_t w[WRITERS], r[READERS];
	uint64_t deadline, run_steady, run_by_owner;

	t_watchdog(120, "test-rcu");
	rcu_thread_online();
	for (uintptr_t i = 0; i < READERS; i++)
		T_ASSERT(pthread_create(&r[i], NULL, reader_main, (void *)i) == 0);
	for (uintptr_t i = 0; i < WRITERS; i++)
		T_ASSERT(pthread_create(&w[i], NULL, writer_main, (void *)i) == 0);
	sleep(RUN_SECONDS);
	/* Until they go offline, writers that stay online hand nothing to liburcu's thread. */
	run_by_owner = __atomic_load_n(&steady_by_owner, __ATOMIC_RELAXED);
	run_steady = __atomic_load_n(&steady, __ATOMIC_RELAXED);
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(w[i], NULL);
	for (int i = 0; i < READERS; i++)
		pthread_join(r[i], NULL);

	for (int i = 0; i < NSLOTS; i++) {
		if (slots[i])
			obj_defer(slots[i]);
		slots[i] = NULL;
	}
	/* The main thread's own batches run in rcu_barrier_all; orphans' nested ones later. */
	deadline = now_ms() + 30000;
	while (__atomic_load_n(&freed, __ATOMIC_RELAXED) !=
	       __atomic_load_n(&deferred, __ATOMIC_RELAXED)) {
		if (now_ms() > deadline)
			T_FAIL("%" PRIu64 " objects deferred, %" PRIu64 " freed after 30 s",
			       deferred, freed);
		rcu_barrier_all();
	}
	printf("test-rcu: %" PRIu64 " objects freed, %" PRIu64 " deferred from callbacks; while "
	       "they ran, the writers that stay online had %" PRIu64 " freed, %" PRIu64
	       " on the thread that deferred them\n",
	       freed, nested, run_steady, run_by_owner);
	T_ASSERT(nested > 0);
	/*
	 * The batches did their job: a thread that stays online frees what it deferred itself
	 * (the count of frees and of those on the owner are read a moment apart).
	 */
	T_ASSERT(run_steady > 0);
	T_ASSERT(run_by_owner >= run_steady / 100 * 99);
	rcu_thread_offline();
	return 0;
}
