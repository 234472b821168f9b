/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_WAIT_H
#define DAXFS_ENGINE_WAIT_H

/*
 * wait - calls that park instead of waiting (DESIGN §4).
 *
 * An engine operation never waits while it holds a lock that other users' requests need.
 * When it would have to wait (for an inode lock another request holds, for mappers to
 * acknowledge a lease break), it drops every lock it took, queues the caller's waiter on
 * the inode it waits for and returns NS_WAIT. The caller then calls the same operation
 * again, with the same context, once the waiter is woken or once ctx->deadline has passed:
 * the operation starts over, revalidates what it found before, and goes on. Nothing an
 * operation did before it returned NS_WAIT is visible except the lease break it started,
 * which the context remembers.
 *
 * Two kinds of callers:
 * - synchronous (tests, tools, the engine's own callers): pass NULL, or a context made by
 *   ns_ctx_init(); the operation loops internally, blocking in ns_ctx_wait(), and never
 *   returns NS_WAIT;
 * - asynchronous (the daemon's workers): a context made by ns_ctx_init_async() with a wake
 *   callback; NS_WAIT comes back to the caller, which parks the request and calls the
 *   operation again from the callback (or at the deadline, after ns_ctx_cancel()). No
 *   worker is ever blocked by a client.
 */

#include <stdbool.h>
#include <stdint.h>

#include <urcu/list.h>

#include "access.h"

struct ns;
struct ns_inode;

/*
 * What an operation returns when it parked: call it again (see above). Not an errno (those
 * are -1..-4095) and never a count, so it cannot be mistaken for either.
 */
#define NS_WAIT (-4096)

struct ns_waiter;
typedef void (*ns_wake_fn)(struct ns_waiter *w);

struct ns_waiter {
	ns_wake_fn wake; /* NULL: synchronous */
	/* The engine's. */
	struct ns *ns;
	struct cds_list_head node; /* on the inode's wait list, under its wait_lock */
	unsigned reason;	   /* NS_WAKE_* it waits for */
	bool queued;		   /* under the inode's wait_lock */
	bool woken;		   /* synchronous waiters: under ns->wait_mutex */
};

/* A lease break an operation started and will finish when it runs again (lease.c). */
struct ns_brk {
	struct ns_inode *in; /* referenced; NULL when none */
	uint64_t gen, index, count;
	uint64_t deadline; /* mono ns: holders that have not acked by then are expired */
};

struct ns_ctx {
	const struct ns_cred *cred; /* NULL: trusted (no permission checks, reserves usable) */
	uint32_t umask; /* create: mode bits cleared unless the directory has a default ACL */
	struct ns_waiter waiter;
	uint64_t deadline; /* after NS_WAIT: mono ns to call again by if not woken; 0: none */
	/* The engine's. */
	struct ns_inode *parked_on; /* referenced while parked */
	struct ns_brk brk;
};

/* ns_ctx_init - a synchronous context for @cred (may be NULL: trusted). */
void ns_ctx_init(struct ns_ctx *c, const struct ns_cred *cred);

/* ns_ctx_init_async - an asynchronous context: operations return NS_WAIT; @wake resumes. */
void ns_ctx_init_async(struct ns_ctx *c, const struct ns_cred *cred, ns_wake_fn wake);

/*
 * ns_ctx_wait - block until the waiter an operation queued is woken, or until
 * c->deadline. Context: a synchronous context after NS_WAIT. Locking: takes none of the
 * engine's locks but ns->wait_mutex.
 */
void ns_ctx_wait(struct ns *ns, struct ns_ctx *c);

/*
 * ns_ctx_cancel - take the waiter of a parked asynchronous call off its queue (its deadline
 * passed, or the caller gives up).
 * Context: any thread, once, after NS_WAIT and before the call is made again.
 * Return: true when it was still queued (its wake will not come); false when a wake is under
 *         way: the wake callback runs, or ran, and the caller must leave the call to it
 *         (the context is the waker's until its callback returns).
 */
bool ns_ctx_cancel(struct ns *ns, struct ns_ctx *c);

/*
 * ns_ctx_release - the caller will not call again: give up a lease break the call started
 * and what it holds. Harmless after a call that completed.
 */
void ns_ctx_release(struct ns *ns, struct ns_ctx *c);

#endif
