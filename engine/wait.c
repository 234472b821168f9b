// SPDX-License-Identifier: MIT
/*
 * Parked calls (wait.h): contexts, the waiters queued on an inode, and inode locks that
 * park their callers instead of blocking them.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "nsint.h"
#include "stats.h"
#include "util.h"

void ns_ctx_init(struct ns_ctx *c, const struct ns_cred *cred)
{
	memset(c, 0, sizeof(*c));
	c->cred = cred;
	CDS_INIT_LIST_HEAD(&c->waiter.node);
}

void ns_ctx_init_async(struct ns_ctx *c, const struct ns_cred *cred, ns_wake_fn wake)
{
	ns_ctx_init(c, cred);
	c->waiter.wake = wake;
}

int ns_park(struct ns *ns, struct ns_ctx *c, struct ns_inode *in, unsigned reason,
	    uint64_t deadline)
{
	struct ns_waiter *w = &c->waiter;

	/* The context keeps @in alive until the call runs again (or is cancelled). */
	if (!ns_inode_tryget(in))
		return -ENOENT;
	c->parked_on = in;
	c->deadline = deadline;
	stats_add(STAT_PARKED, 1);
	w->ns = ns;
	w->reason = reason;
	pthread_mutex_lock(&in->wait_lock);
	cds_list_add_tail(&w->node, &in->waiters);
	w->queued = true;
	__atomic_store_n(&in->nwaiters, in->nwaiters + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&in->wait_lock);
	return NS_WAIT;
}

/* wake_one - resume one dequeued waiter. Afterwards @w may be reused or gone. */
static void wake_one(struct ns_waiter *w)
{
	struct ns *ns = w->ns;

	if (w->wake) {
		w->wake(w);
		return;
	}
	pthread_mutex_lock(&ns->wait_mutex);
	w->woken = true;
	pthread_cond_broadcast(&ns->wait_cond);
	pthread_mutex_unlock(&ns->wait_mutex);
}

void ns_wake(struct ns_inode *in, unsigned reason)
{
	struct ns_waiter *w, *tmp;
	CDS_LIST_HEAD(woken);

	if (!__atomic_load_n(&in->nwaiters, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&in->wait_lock);
	cds_list_for_each_entry_safe (w, tmp, &in->waiters, node) {
		if (!(w->reason & reason))
			continue;
		cds_list_del(&w->node);
		cds_list_add_tail(&w->node, &woken);
		w->queued = false;
		__atomic_store_n(&in->nwaiters, in->nwaiters - 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&in->wait_lock);
	/*
	 * Out of the lock: a wake callback queues work, a synchronous waiter returns. A waiter
	 * taken off the queue is its waker's until woken: ns_ctx_cancel() says so to whoever
	 * gives up on it meanwhile, who then waits for this wake. Nothing of @w is touched
	 * after wake_one(): it may be reused at once.
	 */
	cds_list_for_each_entry_safe (w, tmp, &woken, node) {
		cds_list_del_init(&w->node);
		wake_one(w);
	}
}

bool ns_ctx_cancel(struct ns *ns, struct ns_ctx *c)
{
	struct ns_inode *in = c->parked_on;
	bool was = false;

	(void)ns;
	if (!in)
		return false;
	pthread_mutex_lock(&in->wait_lock);
	if (c->waiter.queued) {
		cds_list_del_init(&c->waiter.node);
		c->waiter.queued = false;
		__atomic_store_n(&in->nwaiters, in->nwaiters - 1, __ATOMIC_RELEASE);
		was = true;
	}
	pthread_mutex_unlock(&in->wait_lock);
	return was;
}

/* unpark - the call runs again: forget where it was parked. */
static void unpark(struct ns *ns, struct ns_ctx *c)
{
	if (!c->parked_on)
		return;
	ns_ctx_cancel(ns, c);
	ns_inode_put(ns, c->parked_on);
	c->parked_on = NULL;
	c->deadline = 0;
	stats_add(STAT_PARKED, -1);
}

void ns_ctx_wait(struct ns *ns, struct ns_ctx *c)
{
	struct timespec ts;
	bool woken;

	pthread_mutex_lock(&ns->wait_mutex);
	while (!(woken = c->waiter.woken)) {
		if (!c->deadline) {
			pthread_cond_wait(&ns->wait_cond, &ns->wait_mutex);
			continue;
		}
		ts.tv_sec = (time_t)(c->deadline / 1000000000ULL);
		ts.tv_nsec = (long)(c->deadline % 1000000000ULL);
		if (pthread_cond_timedwait(&ns->wait_cond, &ns->wait_mutex, &ts) == ETIMEDOUT) {
			woken = c->waiter.woken;
			break;
		}
	}
	pthread_mutex_unlock(&ns->wait_mutex);
	/*
	 * At the deadline: unless the waiter is still queued (then no wake comes), a waker took
	 * it off and is about to wake it: wait for that, so that the waiter is not reused under
	 * the waker's hands.
	 */
	if (!woken && !ns_ctx_cancel(ns, c)) {
		pthread_mutex_lock(&ns->wait_mutex);
		while (!c->waiter.woken)
			pthread_cond_wait(&ns->wait_cond, &ns->wait_mutex);
		pthread_mutex_unlock(&ns->wait_mutex);
	}
	pthread_mutex_lock(&ns->wait_mutex);
	c->waiter.woken = false;
	pthread_mutex_unlock(&ns->wait_mutex);
	unpark(ns, c);
}

/*
 * ns_brk_end - the lease break @c started is over (its operation completed or gave up): new
 * grants of its inode may be made again, and the MAPs waiting for that go on.
 * Locking: takes the grant lock (lease.c keeps revokers under it).
 */
void ns_brk_end(struct ns *ns, struct ns_ctx *c)
{
	struct ns_inode *in = c->brk.in;

	if (!in)
		return;
	pthread_mutex_lock(&ns->grant_lock);
	in->revokers--;
	/* MAPs waiting for the break to end may go on. */
	ns_wake(in, NS_WAKE_LEASE);
	pthread_mutex_unlock(&ns->grant_lock);
	memset(&c->brk, 0, sizeof(c->brk));
	ns_inode_put(ns, in);
}

void ns_ctx_release(struct ns *ns, struct ns_ctx *c)
{
	unpark(ns, c);
	ns_brk_end(ns, c);
}

struct ns_ctx *ns_ctx_enter(struct ns *ns, struct ns_ctx *c, struct ns_ctx *local)
{
	if (!c) {
		ns_ctx_init(local, NULL);
		return local;
	}
	unpark(ns, c);
	return c;
}

bool ns_ctx_again(struct ns *ns, struct ns_ctx *c, int64_t rc)
{
	if (rc != NS_WAIT) {
		ns_brk_end(ns, c);
		return false;
	}
	if (c->waiter.wake)
		return false;
	ns_ctx_wait(ns, c);
	return true;
}

int64_t ns_ctx_leave(struct ns *ns, struct ns_ctx *c, struct ns_ctx *local, int64_t rc)
{
	if (c == local)
		ns_ctx_release(ns, c);
	return rc;
}

int ns_ctx_run_ino(struct ns *ns, struct ns_ctx *c, uint64_t ino,
		   int (*op)(struct ns *ns, struct ns_ctx *c, uint64_t ino))
{
	struct ns_ctx local;
	int64_t rc;

	c = ns_ctx_enter(ns, c, &local);
	do
		rc = op(ns, c, ino);
	while (ns_ctx_again(ns, c, rc));
	return (int)ns_ctx_leave(ns, c, &local, rc);
}

/* --- inode locks --- */

bool ns_itrylock(struct ns_inode *in)
{
	return pthread_mutex_trylock(&in->lock) == 0;
}

void ns_iunlock(struct ns_inode *in)
{
	pthread_mutex_unlock(&in->lock);
	ns_wake(in, NS_WAKE_UNLOCK);
}

int ns_ilock(struct ns *ns, struct ns_ctx *c, struct ns_inode *in)
{
	if (ns_itrylock(in))
		return 0;
	return ns_ilock_wait(ns, c, in);
}

int ns_ilock_wait(struct ns *ns, struct ns_ctx *c, struct ns_inode *in)
{
	int rc = ns_park(ns, c, in, NS_WAKE_UNLOCK, 0);

	if (rc != NS_WAIT)
		return rc;
	/*
	 * The holder may have dropped it between the try and the queueing, seeing no waiter:
	 * if it is free now, wake ourselves (through the holder's path) rather than sleep.
	 */
	if (ns_itrylock(in))
		ns_iunlock(in);
	return NS_WAIT;
}
