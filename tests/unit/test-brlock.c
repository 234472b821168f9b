// SPDX-License-Identifier: MIT
/*
 * test-brlock - the tx lock's reader-writer lock (engine/brlock.c) and the per-thread
 * counters (engine/shard.h).
 *
 * Writers change two plain words together under the write lock; readers, more threads than
 * there are slots so that some share one, check under the read lock that they are equal and
 * count what they saw. A writer must get in while readers keep coming (writers first), and
 * readers must keep getting in between writers. Meanwhile every thread adds to a sharded
 * count, which must come out exact. Under ThreadSanitizer a missing happens-before between a
 * writer's section and a reader's shows as a race on the plain words.
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "brlock.h"
#include "shard.h"
#include "testutil.h"

#define READERS (SHARD_SLOTS + 4)
#define WRITERS 2
#define RUN_MS 1500

static struct brlock lock;
static struct shard_count count;
static uint64_t a, b;	/* plain: written only under the write lock */
static uint64_t writes; /* atomic: write sections done */
static uint64_t reads;	/* atomic: read sections done */
static uint64_t adds;	/* atomic: what the threads added to count */
static bool stop;	/* atomic */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *reader(void *arg)
{
	uint64_t mine = 0;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		brlock_rdlock(&lock);
		if (a != b)
			T_FAIL("a reader saw a writer's section half done: %" PRIu64 " != %" PRIu64,
			       a, b);
		brlock_rdunlock(&lock);
		shard_add(&count, 3);
		mine += 3;
		/* Out of the lock now and then, so that writers get in and readers come mid-write. */
		if ((__atomic_add_fetch(&reads, 1, __ATOMIC_RELAXED) & 7) == 0)
			sched_yield();
	}
	__atomic_add_fetch(&adds, mine, __ATOMIC_RELAXED);
	return NULL;
}

static void *writer(void *arg)
{
	const struct timespec nap = {0, 100000};
	uint64_t mine = 0;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		brlock_wrlock(&lock);
		a++;
		sched_yield(); /* a reader that got in now would see a != b */
		b++;
		brlock_wrunlock(&lock);
		shard_add(&count, -1);
		mine++;
		__atomic_add_fetch(&writes, 1, __ATOMIC_RELAXED);
		/* Let readers in between writes (the readers must not starve either). */
		nanosleep(&nap, NULL);
	}
	__atomic_sub_fetch(&adds, mine, __ATOMIC_RELAXED);
	return NULL;
}

int main(void)
{
	pthread_t r[READERS], w[WRITERS];
	uint64_t t0, w_mid, r_mid;

	t_watchdog(60, "test-brlock");
	brlock_init(&lock);
	for (int i = 0; i < READERS; i++)
		T_ASSERT(pthread_create(&r[i], NULL, reader, NULL) == 0);
	for (int i = 0; i < WRITERS; i++)
		T_ASSERT(pthread_create(&w[i], NULL, writer, NULL) == 0);
	t0 = now_ms();
	while (now_ms() - t0 < RUN_MS / 2)
		sched_yield();
	w_mid = __atomic_load_n(&writes, __ATOMIC_RELAXED);
	r_mid = __atomic_load_n(&reads, __ATOMIC_RELAXED);
	while (now_ms() - t0 < RUN_MS)
		sched_yield();
	__atomic_store_n(&stop, true, __ATOMIC_RELEASE);
	for (int i = 0; i < READERS; i++)
		pthread_join(r[i], NULL);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(w[i], NULL);

	/* Both sides made progress in the second half, with the other side busy all along. */
	if (__atomic_load_n(&writes, __ATOMIC_RELAXED) <= w_mid)
		T_FAIL("writers starved: %" PRIu64 " write sections, none in the second half",
		       writes);
	if (__atomic_load_n(&reads, __ATOMIC_RELAXED) <= r_mid)
		T_FAIL("readers starved: %" PRIu64 " read sections, none in the second half",
		       reads);
	if (a != writes || b != writes)
		T_FAIL("%" PRIu64 " write sections, but a = %" PRIu64 ", b = %" PRIu64, writes, a,
		       b);
	if (shard_sum(&count) != adds)
		T_FAIL("the sharded count says %" PRIu64 ", the threads added %" PRIu64,
		       shard_sum(&count), adds);
	brlock_destroy(&lock);
	printf("%" PRIu64 " read and %" PRIu64 " write sections, %d readers on %d slots\n", reads,
	       writes, READERS, SHARD_SLOTS);
	return 0;
}
