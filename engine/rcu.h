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

static inline void rcu_thread_online(void)
{
	urcu_memb_register_thread();
}

static inline void rcu_thread_offline(void)
{
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

/* rcu_barrier_all - wait until every callback queued so far has run. */
static inline void rcu_barrier_all(void)
{
	urcu_memb_barrier();
#ifdef DAXFS_TSAN
	RCU_TSAN_ACQUIRE(&rcu_tsan_barrier);
#endif
}

#endif
