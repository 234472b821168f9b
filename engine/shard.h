/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_SHARD_H
#define DAXFS_ENGINE_SHARD_H

/*
 * shard - per-thread slots for what every transaction writes and few read: a count split
 * over SHARD_SLOTS cache lines, each thread adding to its own slot, so that threads on
 * different CPUs do not pass one line back and forth. Threads beyond SHARD_SLOTS share
 * slots (still exact: the adds are atomic). Reading sums the slots: a value as of some
 * moment while it reads, as any relaxed counter.
 */

#include <stdint.h>

#include "compiler.h"

#define SHARD_SLOTS 32

/* shard_of_thread - the calling thread's slot, fixed for its life. */
unsigned shard_of_thread(void);

struct shard_count {
	struct {
		int64_t v CACHE_ALIGNED; /* atomic */
	} slot[SHARD_SLOTS];
};

static inline void shard_add(struct shard_count *c, int64_t d)
{
	__atomic_add_fetch(&c->slot[shard_of_thread()].v, d, __ATOMIC_RELAXED);
}

/*
 * shard_sum - the count. The slots are read one after the other, so a change on a slot read
 * already is missed while its undoing on a later slot is not: a count that only goes up and
 * down by pairs (files made and removed) may read below its true value, and below zero,
 * which this returns as 0.
 */
static inline uint64_t shard_sum(const struct shard_count *c)
{
	int64_t sum = 0;

	for (unsigned i = 0; i < SHARD_SLOTS; i++)
		sum += __atomic_load_n(&c->slot[i].v, __ATOMIC_RELAXED);
	return sum < 0 ? 0 : (uint64_t)sum;
}

#endif
