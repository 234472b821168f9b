// SPDX-License-Identifier: MIT
/*
 * Grants and lease breaks (DESIGN §6).
 *
 * A lease break never waits under a lock: the operation that must free or move blocks a
 * client maps calls ns_break_leases() with the file's inode lock held; the first call sends
 * INVALIDATE to every grant that overlaps the range, makes new grants of the file wait, and
 * parks the operation (NS_WAIT) until the holders ack; the operation drops its locks and
 * runs again when an ack wakes it or its deadline passes. The run that finds every holder
 * acked, or expires those that did not ack in time, goes on to its transaction; blocks it
 * frees that expired holders may still touch wait for those holders to be deleted (their
 * process gone) instead of returning to the allocator (hold.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fault.h"
#include "lease.h"
#include "log.h"
#include "nsint.h"
#include "observe.h"
#include "stats.h"
#include "util.h"

struct ns_grant {
	struct cds_list_head node; /* on the inode's list, under grant_lock */
	struct ns_inode *in;	   /* referenced */
	uint64_t ino, index, count;
	unsigned mode;
	const struct ns_grant_ops *ops;
	void *holder;
	uint64_t gen;	    /* the inode's lease generation when made */
	uint64_t wait_gen;  /* last lease break sent to it */
	uint64_t acked_gen; /* last lease break acked */
	bool expired;
	struct ns_hold **holds; /* held block sets this grant keeps out of use */
	size_t nholds;
};

static bool overlaps(const struct ns_grant *g, uint64_t index, uint64_t count)
{
	return g->index < index + count && index < g->index + g->count;
}

static bool grant_range_ok(uint64_t index, uint64_t count, unsigned mode)
{
	return count && index < NS_PAGES_MAX && count <= NS_PAGES_MAX - index && mode &&
	       !(mode & ~(unsigned)(NS_GRANT_READ | NS_GRANT_WRITE));
}

/*
 * The namespace whose grant lock this thread holds while it runs a holder's callback: an
 * ack from inside the callback ("now") must not take that lock again.
 */
static __thread struct ns *in_callback;

int ns_grants_blocked(struct ns *ns, struct ns_ctx *c, struct ns_inode *in)
{
	int rc = 0;

	pthread_mutex_lock(&ns->grant_lock);
	/* Under the grant lock: the end of the break wakes us after this check, not before. */
	if (in->revokers && (!c->brk.in || c->brk.in != in))
		rc = ns_park(ns, c, in, NS_WAKE_LEASE, 0);
	pthread_mutex_unlock(&ns->grant_lock);
	return rc;
}

int ns_grant_add(struct ns *ns, struct ns_inode *in, uint64_t index, uint64_t count, unsigned mode,
		 const struct ns_grant_ops *ops, void *holder, struct ns_grant **out)
{
	struct ns_grant *g;

	if (!grant_range_ok(index, count, mode))
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	if (!ns_inode_tryget(in)) {
		free(g);
		return -ENOENT;
	}
	*g = (struct ns_grant){.in = in,
			       .ino = in->ino,
			       .index = index,
			       .count = count,
			       .mode = mode,
			       .ops = ops,
			       .holder = holder};
	pthread_mutex_lock(&ns->grant_lock);
	g->gen = in->lease_gen;
	cds_list_add_tail(&g->node, &in->grants);
	__atomic_add_fetch(&in->ngrants, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&ns->grant_lock);
	stats_add(STAT_GRANTS, 1);
	*out = g;
	return 0;
}

static int grant_new(struct ns *ns, struct ns_ctx *c, uint64_t ino, uint64_t index, uint64_t count,
		     unsigned mode, const struct ns_grant_ops *ops, void *holder,
		     struct ns_grant **out)
{
	struct ns_inode *in;
	int rc;

	if (!grant_range_ok(index, count, mode))
		return -EINVAL;
	in = ns_inode_get(ns, ino);
	if (!in)
		return -ENOENT;
	rc = S_ISDIR(in->type) ? -EISDIR : ns_ilock(ns, c, in);
	if (rc) {
		ns_inode_put(ns, in);
		return rc;
	}
	if (__atomic_load_n(&in->dying, __ATOMIC_ACQUIRE))
		rc = -ENOENT;
	if (rc == 0)
		rc = ns_grants_blocked(ns, c, in);
	if (rc == 0)
		rc = ns_grant_add(ns, in, index, count, mode, ops, holder, out);
	ns_iunlock(in);
	ns_inode_put(ns, in);
	return rc;
}

int ns_grant_new(struct ns *ns, struct ns_ctx *c, uint64_t ino, uint64_t index, uint64_t count,
		 unsigned mode, const struct ns_grant_ops *ops, void *holder, struct ns_grant **out)
{
	struct ns_ctx local;
	int64_t rc;

	*out = NULL;
	c = ns_ctx_enter(ns, c, &local);
	do
		rc = grant_new(ns, c, ino, index, count, mode, ops, holder, out);
	while (ns_ctx_again(ns, c, rc));
	return (int)ns_ctx_leave(ns, c, &local, rc);
}

uint64_t ns_grant_generation(const struct ns_grant *g)
{
	return g->gen;
}

void ns_grant_range(const struct ns_grant *g, uint64_t *ino, uint64_t *index, uint64_t *count)
{
	*ino = g->ino;
	*index = g->index;
	*count = g->count;
}

void ns_grant_ack(struct ns *ns, struct ns_grant *g, uint64_t gen)
{
	bool locked = in_callback != ns;

	/* From a callback, this thread holds the grant lock already. */
	if (locked)
		pthread_mutex_lock(&ns->grant_lock);
	/* It answers a lease break in time (after the timeout the grant is expired). */
	if (g->wait_gen > g->acked_gen && gen >= g->wait_gen && !g->expired)
		stats_add(STAT_LEASE_BREAKS_ACKED, 1);
	if (gen > g->acked_gen)
		g->acked_gen = gen;
	ns_wake(g->in, NS_WAKE_LEASE);
	if (locked)
		pthread_mutex_unlock(&ns->grant_lock);
}

/* grant_delete - ns_grant_delete, or with @keep ns_grant_abandon. */
static void grant_delete(struct ns *ns, struct ns_grant **gp, bool keep)
{
	struct ns_grant *g = *gp;
	size_t nended = 0;

	if (!g)
		return;
	pthread_mutex_lock(&ns->grant_lock);
	cds_list_del(&g->node);
	__atomic_sub_fetch(&g->in->ngrants, 1, __ATOMIC_RELEASE);
	/* The ended ones go to the front of g->holds (this grant's references are gone). */
	for (size_t i = 0; i < g->nholds; i++) {
		struct ns_hold *ended = ns_hold_put_locked(ns, g->holds[i]);

		if (ended)
			g->holds[nended++] = ended;
	}
	/* A lease break may wait for this grant's ack: it need not any more. */
	ns_wake(g->in, NS_WAKE_LEASE);
	pthread_mutex_unlock(&ns->grant_lock);
	for (size_t i = 0; i < nended; i++)
		ns_hold_end(ns, g->holds[i], keep);
	ns_inode_put(ns, g->in);
	free(g->holds);
	free(g);
	*gp = NULL;
	stats_add(STAT_GRANTS, -1);
}

void ns_grant_delete(struct ns *ns, struct ns_grant **gp)
{
	grant_delete(ns, gp, false);
}

void ns_grant_abandon(struct ns *ns, struct ns_grant **gp)
{
	grant_delete(ns, gp, true);
}

void ns_set_lease_timeout(struct ns *ns, uint64_t ms)
{
	__atomic_store_n(&ns->lease_timeout_ms, ms, __ATOMIC_RELAXED);
}

/* --- the protocol, called by the operations that free or move blocks --- */

/*
 * send_break - tell every live grant overlapping @b's range that has not heard of a break at
 * least as new as @b's to let go. Locking: grant_lock held.
 */
static void send_break(struct ns *ns, struct ns_inode *in, const struct ns_brk *b)
{
	struct ns_grant *g;

	cds_list_for_each_entry (g, &in->grants, node) {
		uint64_t lo = MAX(b->index, g->index),
			 hi = MIN(b->index + b->count, g->index + g->count);

		if (g->expired || !overlaps(g, b->index, b->count) || g->wait_gen >= b->gen)
			continue;
		g->wait_gen = b->gen;
		stats_add(STAT_LEASE_BREAKS, 1);
		in_callback = ns;
		g->ops->invalidate(g->holder, g, in->ino, lo, hi - lo, b->gen);
		in_callback = NULL;
	}
}

/* pending - has a live grant overlapping @b's range not acked it yet? Locking: grant_lock. */
static bool pending(struct ns_inode *in, const struct ns_brk *b)
{
	struct ns_grant *g;

	cds_list_for_each_entry (g, &in->grants, node) {
		if (!g->expired && overlaps(g, b->index, b->count) && g->acked_gen < b->gen)
			return true;
	}
	return false;
}

/*
 * expire - whoever has not acked @b by its deadline loses its session.
 * Locking: grant_lock held.
 */
static void expire(struct ns *ns, struct ns_inode *in, const struct ns_brk *b)
{
	uint64_t timeout_ms = __atomic_load_n(&ns->lease_timeout_ms, __ATOMIC_RELAXED);
	char ino_s[24], ms_s[24], pid_s[24];
	struct ns_grant *g;

	cds_list_for_each_entry (g, &in->grants, node) {
		if (g->expired || !overlaps(g, b->index, b->count) || g->acked_gen >= b->gen)
			continue;
		g->expired = true;
		stats_add(STAT_LEASE_BREAKS_EXPIRED, 1);
		log_event(
			LOG_LVL_NOTICE, LOG_EV_LEASE_TIMEOUT,
			LOG_KV({"REGION", region_path(ns->r)}, {"INODE", log_u64(ino_s, in->ino)},
			       {"TIMEOUT_MS", log_u64(ms_s, timeout_ms)},
			       {"PID", log_u64(pid_s, g->ops->pid ? (uint64_t)g->ops->pid(g->holder)
								  : 0)}),
			"%s: lease break on inode %" PRIu64 " timed out after %" PRIu64
			" ms; dropping the holder",
			region_path(ns->r), in->ino, timeout_ms);
		in_callback = ns;
		g->ops->expired(g->holder, g);
		in_callback = NULL;
	}
}

/*
 * hold_expired - holders that lost their session may still touch the range until their
 * process is gone: whatever the coming transaction frees there waits for them (DESIGN §6).
 * Locking: grant_lock held. Return: 0, -ENOMEM.
 */
static int hold_expired(struct ns_inode *in, uint64_t index, uint64_t count, struct ns_hold **hold)
{
	struct ns_grant *g;

	cds_list_for_each_entry (g, &in->grants, node) {
		struct ns_hold **holds;

		if (!g->expired || !overlaps(g, index, count))
			continue;
		if (!*hold) {
			*hold = ns_hold_new(); /* the caller's reference, until its transaction */
			if (!*hold)
				return -ENOMEM;
		}
		holds = realloc(g->holds, (g->nholds + 1) * sizeof(*holds));
		if (!holds)
			return -ENOMEM;
		g->holds = holds;
		g->holds[g->nholds++] = *hold;
		ns_hold_get(*hold);
		if (g->ops->pid)
			ns_hold_add_proc(*hold, (uint32_t)g->ops->pid(g->holder));
	}
	return 0;
}

int ns_break_leases(struct ns *ns, struct ns_ctx *c, struct ns_inode *in, uint64_t index,
		    uint64_t count, struct ns_hold **hold)
{
	uint64_t timeout_ms = __atomic_load_n(&ns->lease_timeout_ms, __ATOMIC_RELAXED);
	struct ns_brk *b = &c->brk;
	struct ns_grant *g;
	bool any = false;
	int rc;

	/* A break this operation started on another inode or range (it found a new victim). */
	if (b->in && (b->in != in || b->index != index || b->count != count))
		ns_brk_end(ns, c);
	/*
	 * No grant on the file: nothing to break, wait for or hold, without the namespace's
	 * grant lock (every unlink and truncate comes here). Grants are added under the inode
	 * lock, which the caller holds, so none can come meanwhile; one going away is harmless.
	 */
	if (!b->in && __atomic_load_n(&in->ngrants, __ATOMIC_ACQUIRE) == 0)
		return 0;
	pthread_mutex_lock(&ns->grant_lock);
	if (!b->in) {
		cds_list_for_each_entry (g, &in->grants, node)
			any |= !g->expired && overlaps(g, index, count);
		if (any && in->revokers && in->last_brk.index <= index &&
		    index + count <= in->last_brk.index + in->last_brk.count) {
			/* A break under way covers the range: wait for the same acks. */
			ns_inode_tryget(in);
			*b = in->last_brk;
			b->in = in;
			in->revokers++;
		} else if (any) {
			ns_inode_tryget(in); /* the caller holds a reference: this cannot fail */
			*b = (struct ns_brk){in, ++in->lease_gen, index, count,
					     mono_ns() + timeout_ms * 1000000ULL};
			in->revokers++;
			in->last_brk = *b;
			send_break(ns, in, b);
			if (fault_enabled()) {
				/* Not under grant_lock: the acks that come meanwhile must be taken. */
				pthread_mutex_unlock(&ns->grant_lock);
				fault_at(FAULT_LEASE_BREAK);
				pthread_mutex_lock(&ns->grant_lock);
			}
		}
	} else {
		/* Grants made since the break started (none should be: revokers) hear of it too. */
		send_break(ns, in, b);
	}
	if (b->in && pending(in, b)) {
		if (mono_ns() < b->deadline) {
			rc = ns_park(ns, c, in, NS_WAKE_LEASE, b->deadline);
			pthread_mutex_unlock(&ns->grant_lock);
			return rc;
		}
		expire(ns, in, b);
	}
	rc = hold_expired(in, index, count, hold);
	if (rc && *hold) {
		struct ns_hold *ended = ns_hold_put_locked(ns, *hold);

		*hold = NULL;
		pthread_mutex_unlock(&ns->grant_lock);
		if (ended)
			ns_hold_end(ns, ended, false);
		return rc;
	}
	pthread_mutex_unlock(&ns->grant_lock);
	return rc;
}

/*
 * notify_poison - the page_poisoned hook: tell the holders of page @index of @in that it is
 * poisoned. Locking: caller holds the page's xtable lock (and the poison lock); takes the
 * grant lock.
 */
/* The page whose POISON this thread keeps from the mappers (ns_grants_quiet). */
static __thread struct {
	uint64_t ino, index;
} quiet = {0, UINT64_MAX};

void ns_grants_quiet(uint64_t ino, uint64_t index)
{
	quiet.ino = ino;
	quiet.index = index;
}

static void notify_poison(struct ns *ns, struct ns_inode *in, uint64_t index)
{
	struct ns_grant *g;

	if (in->ino == quiet.ino && index == quiet.index)
		return; /* moved to a good block in the same transaction: INVALIDATE follows */

	pthread_mutex_lock(&ns->grant_lock);
	cds_list_for_each_entry (g, &in->grants, node) {
		if (!g->expired && overlaps(g, index, 1)) {
			in_callback = ns;
			g->ops->poison(g->holder, g, in->ino, index, 1);
			in_callback = NULL;
		}
	}
	pthread_mutex_unlock(&ns->grant_lock);
	/* A frontend that caches the page (the FUSE mount) drops it too. */
	ns_observe(ns, &(struct ns_change){NS_CHANGE_POISON, NULL, in->ino, index * FMT_BLOCK_SIZE,
					   FMT_BLOCK_SIZE, NULL, 0});
}

bool ns_block_write_mapped(struct ns *ns, uint64_t block)
{
	struct rmap_owner own;
	struct ns_grant *g;
	bool mapped = false;

	rcu_read_begin();
	if (rmap_lookup(&ns->rmap, block, &own)) {
		pthread_mutex_lock(&ns->grant_lock);
		cds_list_for_each_entry (g, &own.inode->grants, node)
			if (!g->expired && (g->mode & NS_GRANT_WRITE) && overlaps(g, own.index, 1))
				mapped = true;
		pthread_mutex_unlock(&ns->grant_lock);
	}
	rcu_read_end();
	return mapped;
}

void ns_grants_repaired(struct ns *ns, struct ns_inode *in, uint64_t index)
{
	struct ns_grant *g;

	pthread_mutex_lock(&ns->grant_lock);
	cds_list_for_each_entry (g, &in->grants, node) {
		if (!g->expired && overlaps(g, index, 1)) {
			/* A notice, not a break: no new generation, nothing waits for the ack. */
			in_callback = ns;
			g->ops->invalidate(g->holder, g, in->ino, index, 1, g->wait_gen);
			in_callback = NULL;
		}
	}
	pthread_mutex_unlock(&ns->grant_lock);
	ns_observe(ns, &(struct ns_change){NS_CHANGE_POISON, NULL, in->ino, index * FMT_BLOCK_SIZE,
					   FMT_BLOCK_SIZE, NULL, 0});
}

void ns_lease_register(struct ns *ns)
{
	ns->hooks.page_poisoned = notify_poison;
}
