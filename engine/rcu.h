/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_RCU_H
#define DAXFS_ENGINE_RCU_H

/*
 * The engine's one RCU flavor (liburcu "memb") behind a few wrappers, with the
 * ThreadSanitizer annotations of shared/notes/tsan-and-rcu.md, so the rest of the code
 * reads as plain RCU and a TSan build reports only real races.
 *
 * Every thread that calls rcu_read_begin() must have called rcu_thread_online() first and
 * calls rcu_thread_offline() before it exits.
 */

#define _LGPL_SOURCE
#include <urcu/urcu-memb.h>

#if defined(__SANITIZE_THREAD__)
#define DAXFS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DAXFS_TSAN 1
#endif
#endif

#ifdef DAXFS_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
extern char rcu_tsan_token;
extern char rcu_tsan_barrier;
#define RCU_TSAN_RELEASE(p) __tsan_release((void *)(p))
#define RCU_TSAN_ACQUIRE(p) __tsan_acquire((void *)(p))
#else
#define RCU_TSAN_RELEASE(p) ((void)(p))
#define RCU_TSAN_ACQUIRE(p) ((void)(p))
#endif

/* Publish / read RCU-protected words with C11 atomics (TSan understands these). */
#define rcu_publish(slot, v) __atomic_store_n(&(slot), (v), __ATOMIC_RELEASE)
#define rcu_fetch(slot) __atomic_load_n(&(slot), __ATOMIC_ACQUIRE)

void rcu_local_start(void);
void rcu_local_stop(void);

static inline void rcu_thread_online(void)
{
	urcu_memb_register_thread();
	rcu_local_start();
}

/* rcu_thread_offline - hands what rcu_defer_free() still holds to liburcu's thread first. */
static inline void rcu_thread_offline(void)
{
	rcu_local_stop();
	urcu_memb_unregister_thread();
}

static inline void rcu_read_begin(void)
{
	urcu_memb_read_lock();
}

static inline void rcu_read_end(void)
{
#ifdef DAXFS_TSAN
	RCU_TSAN_RELEASE(&rcu_tsan_token);
#endif
	urcu_memb_read_unlock();
}

/* rcu_wait_grace - wait for every reader that started before the call. Never with a lock held. */
static inline void rcu_wait_grace(void)
{
	urcu_memb_synchronize_rcu();
#ifdef DAXFS_TSAN
	RCU_TSAN_ACQUIRE(&rcu_tsan_token);
#endif
}

/* rcu_defer - run @cb(@head) after a grace period, on liburcu's call_rcu thread. */
static inline void rcu_defer(struct rcu_head *head, void (*cb)(struct rcu_head *))
{
	RCU_TSAN_RELEASE(head);
	urcu_memb_call_rcu(head, cb);
}

/*
 * rcu_defer_free - as rcu_defer() for a callback that only releases memory: it calls free(),
 * pthread_*_destroy() and rcu_defer_free(), takes no lock and touches no shared state, so it
 * may run anywhere, even under the caller's locks.
 *
 * On a thread that is online, callbacks gather in a batch of the thread's own; a full batch
 * waits for its grace period with one call_rcu, and the thread runs it itself on a later
 * rcu_defer_free(). So the memory goes back to the allocator of the thread that took it,
 * without a cross-thread free per object (issue 13: that cost a third of a CPU per thread
 * making files). rcu_thread_offline() hands what is left to liburcu's thread;
 * rcu_barrier_all() covers the calling thread's batches, and other threads' frees may run
 * later than it returns (they are memory only).
 */
void rcu_defer_free(struct rcu_head *head, void (*cb)(struct rcu_head *));

/* rcu_cb_begin - first statement of every rcu_defer() callback. */
static inline void rcu_cb_begin(struct rcu_head *head)
{
	RCU_TSAN_ACQUIRE(head);
#ifdef DAXFS_TSAN
	RCU_TSAN_ACQUIRE(&rcu_tsan_token);
#endif
}

/*
 * rcu_cb_end - last statement of an rcu_defer() callback that touches state other threads
 * later tear down (the allocator): tells TSan that rcu_barrier_all() orders it.
 */
static inline void rcu_cb_end(void)
{
#ifdef DAXFS_TSAN
	RCU_TSAN_RELEASE(&rcu_tsan_barrier);
#endif
}

/*
 * rcu_local_submit / rcu_local_reclaim - the calling thread's batches (rcu.c): submit the
 * open one for its grace period; run those whose grace period has ended. For
 * rcu_barrier_all(); no-ops on a thread that is not online.
 */
void rcu_local_submit(void);
void rcu_local_reclaim(void);

/*
 * rcu_barrier_all - wait until every callback queued so far has run: every rcu_defer() one,
 * and the calling thread's rcu_defer_free() ones.
 */
static inline void rcu_barrier_all(void)
{
	rcu_local_submit();
	urcu_memb_barrier();
	rcu_local_reclaim();
#ifdef DAXFS_TSAN
	RCU_TSAN_ACQUIRE(&rcu_tsan_barrier);
#endif
}

#endif
