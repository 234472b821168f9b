/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_BRLOCK_H
#define DAXFS_ENGINE_BRLOCK_H

/*
 * brlock - a reader-writer lock for many short readers and rare writers (the tx lock:
 * every transaction reads it, a checkpoint writes it). A reader writes only its thread's
 * slot, a cache line of its own, so readers on different CPUs do not pass a line back and
 * forth as they do on one pthread_rwlock_t. A writer says it wants the lock, then waits
 * until every slot is empty: readers that come meanwhile back off and wait for it
 * (writers first, as PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP). Not recursive: a reader
 * must not take it again while a writer may be waiting. Lock and unlock on the same thread.
 * A writer's wait is bounded by the readers' hold times: they take no wait under it
 * (docs/locking.md).
 */

#include <pthread.h>
#include <stdint.h>

#include "compiler.h"
#include "shard.h"

struct brlock_slot {
	uint32_t readers CACHE_ALIGNED; /* atomic: readers holding the lock through it */
};

struct brlock {
	struct brlock_slot slot[SHARD_SLOTS]; /* by shard_of_thread() */
	uint32_t writer CACHE_ALIGNED;	      /* atomic: a writer wants or holds the lock */
	pthread_mutex_t wlock; /* held by the writer; readers that met one wait on it */
};

void brlock_init(struct brlock *l);
void brlock_destroy(struct brlock *l);
void brlock_rdlock(struct brlock *l);
void brlock_rdunlock(struct brlock *l);
void brlock_wrlock(struct brlock *l);
void brlock_wrunlock(struct brlock *l);

#endif
