// SPDX-License-Identifier: MIT
#include <sched.h>
#include <stdbool.h>
#include <time.h>

#include <urcu/arch.h>

#include "brlock.h"

#define WRITER_SPINS 64	      /* polls of the slots before a writer yields between them */
#define WRITER_YIELDS 256     /* yields before it sleeps between them */
#define WRITER_SLEEP_NS 20000 /* its sleep then */

void brlock_init(struct brlock *l)
{
	for (unsigned i = 0; i < SHARD_SLOTS; i++)
		l->slot[i].readers = 0;
	l->writer = 0;
	pthread_mutex_init(&l->wlock, NULL);
}

void brlock_destroy(struct brlock *l)
{
	pthread_mutex_destroy(&l->wlock);
}

void brlock_rdlock(struct brlock *l)
{
	uint32_t *n = &l->slot[shard_of_thread()].readers;

	for (;;) {
		/* Dekker with brlock_wrlock: our count, then its flag (both sequentially consistent). */
		__atomic_add_fetch(n, 1, __ATOMIC_SEQ_CST);
		if (!__atomic_load_n(&l->writer, __ATOMIC_SEQ_CST))
			return;
		/* A writer waits for the slots to empty: step aside, and wait until it is done. */
		__atomic_sub_fetch(n, 1, __ATOMIC_RELEASE);
		pthread_mutex_lock(&l->wlock);
		pthread_mutex_unlock(&l->wlock);
	}
}

void brlock_rdunlock(struct brlock *l)
{
	__atomic_sub_fetch(&l->slot[shard_of_thread()].readers, 1, __ATOMIC_RELEASE);
}

/* readers_gone - whether no slot holds a reader (acquire: their sections happened before). */
static bool readers_gone(struct brlock *l)
{
	for (unsigned i = 0; i < SHARD_SLOTS; i++)
		if (__atomic_load_n(&l->slot[i].readers, __ATOMIC_SEQ_CST))
			return false;
	return true;
}

void brlock_wrlock(struct brlock *l)
{
	const struct timespec nap = {0, WRITER_SLEEP_NS};

	pthread_mutex_lock(&l->wlock);
	__atomic_store_n(&l->writer, 1, __ATOMIC_SEQ_CST);
	for (unsigned i = 0; !readers_gone(l); i++) {
		if (i < WRITER_SPINS)
			caa_cpu_relax();
		else if (i < WRITER_SPINS + WRITER_YIELDS)
			sched_yield();
		else
			nanosleep(&nap, NULL);
	}
}

void brlock_wrunlock(struct brlock *l)
{
	__atomic_store_n(&l->writer, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&l->wlock);
}
