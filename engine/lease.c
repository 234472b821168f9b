// SPDX-License-Identifier: MIT
/*
 * Grants and lease breaks (DESIGN §6).
 *
 * An invalidation runs with the file's inode lock and the entry locks of the range held:
 * it tells every holder whose grant overlaps the range, waits (bounded) for their acks, and
 * for holders that did not ack in time makes the blocks that the transaction frees wait for
 * those holders to be deleted (their process gone) instead of returning to the allocator.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lease.h"
#include "fault.h"
#include "log.h"
#include "nsint.h"
#include "stats.h"
#include "util.h"

/* Blocks held back for holders that did not let go; freed when the last of them is deleted. */
struct ns_hold {
	unsigned refs; /* expired grants that point here; under grant_lock */
	size_t n;
	struct ns_run *runs;
	/* The holders' processes (grant ops with a pid), for the HOLD records (hold.c). */
	struct ns_proc *procs;
	size_t nprocs;
	bool persisted; /* HOLD records were logged: its end logs RELEASE */
};

struct ns_grant {
	struct cds_list_head node; /* on the inode's list, under grant_lock */
	struct ns_inode *in;	   /* referenced */
	uint64_t ino, index, count;
	unsigned mode;
	const struct ns_grant_ops *ops;
	void *holder;
	uint64_t gen;	    /* the inode's lease generation when made */
	uint64_t wait_gen;  /* invalidation sent, not acked yet */
	uint64_t acked_gen; /* last invalidation acked */
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

/* grant_file - a reference on the regular file @ino and a zeroed grant for it. */
static int grant_file(struct ns *ns, uint64_t ino, struct ns_inode **inp, struct ns_grant **gp)
{
	struct ns_inode *in = ns_inode_get(ns, ino);

	if (!in)
		return -ENOENT;
	if (S_ISDIR(in->type)) {
		ns_inode_put(ns, in);
		return -EISDIR;
	}
	*gp = calloc(1, sizeof(**gp));
	if (!*gp) {
		ns_inode_put(ns, in);
		return -ENOMEM;
	}
	*inp = in;
	return 0;
}

/*
 * grant_add - fill @g and put it on @in's list.
 * Locking: caller holds @in's inode lock (no invalidation runs meanwhile); takes the grant lock.
 */
static void grant_add(struct ns *ns, struct ns_inode *in, struct ns_grant *g, uint64_t index,
		      uint64_t count, unsigned mode, const struct ns_grant_ops *ops, void *holder)
{
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
	pthread_mutex_unlock(&ns->grant_lock);
	stats_add(STAT_GRANTS, 1);
}

int ns_grant_new(struct ns *ns, uint64_t ino, uint64_t index, uint64_t count, unsigned mode,
		 const struct ns_grant_ops *ops, void *holder, struct ns_grant **out)
{
	struct ns_inode *in;
	struct ns_grant *g;
	int rc;

	*out = NULL;
	if (!grant_range_ok(index, count, mode))
		return -EINVAL;
	rc = grant_file(ns, ino, &in, &g);
	if (rc)
		return rc;
	pthread_mutex_lock(&in->lock);
	if (__atomic_load_n(&in->dying, __ATOMIC_ACQUIRE))
		rc = -ENOENT;
	else
		grant_add(ns, in, g, index, count, mode, ops, holder);
	pthread_mutex_unlock(&in->lock);
	if (rc) {
		free(g);
		ns_inode_put(ns, in);
		return rc;
	}
	*out = g;
	return 0;
}

/*
 * describe - the runs of pages [index, index + count) of @in.
 * Locking: inode lock held (so entries only change by poison marking).
 */
static int describe(struct ns *ns, struct ns_inode *in, uint64_t index, uint64_t count,
		    struct ns_extent **ext, size_t *next)
{
	struct ns_extent *v = NULL, *last = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	rcu_read_begin();
	for (uint64_t p = index; p < index + count; p++) {
		uint64_t first, blk = 0;
		unsigned flags = NS_EXT_HOLE;
		xt_entry e = __xt_load(&in->map, p, &first, NULL);

		if (xt_is_value(e) && !xt_is_hole(e)) {
			blk = xt_to_block(e) + (p - first);
			flags = xt_is_poison(e) && alloc_is_quarantined(ns->alloc, blk)
					? NS_EXT_POISON
					: 0;
		}
		if (last && last->flags == flags && last->index + last->count == p &&
		    (flags == NS_EXT_HOLE || last->block + last->count == blk)) {
			last->count++;
			continue;
		}
		if (n == cap) {
			struct ns_extent *nv;

			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
		}
		last = &v[n++];
		*last = (struct ns_extent){p, flags == NS_EXT_HOLE ? 0 : blk, 1, flags};
	}
	rcu_read_end();
	if (rc) {
		free(v);
		return rc;
	}
	*ext = v;
	*next = n;
	return 0;
}

/*
 * Device-DAX (DESIGN §7). A devdax node maps only whole multiples of its alignment (2 MiB),
 * so a mapping there is made of whole huge blocks: ns_map widens the range to the file's
 * huge blocks (chunks of 512 pages) that it touches, makes each of them that holds data one
 * aligned huge extent of the file, moving its pages onto a fresh huge block when it is not,
 * and grants the widened range. The client can reach all of it, so the grant covers all of
 * it: a truncate, punch or poison anywhere in those 2 MiB reaches the client, and no block
 * that another file owns, or may own later, is ever inside a client's huge mapping.
 */

/*
 * map_unit - pages per mapping unit of @ns's region.
 * Context: any thread. Locking: none (the alignment is fixed after open).
 * Return: 1 (4 KiB mappings), FMT_CHUNK_BLOCKS (a devdax alignment that divides 2 MiB), or
 *         0 for an alignment daxfs cannot map (larger than 2 MiB).
 */
static uint64_t map_unit(struct ns *ns)
{
	uint64_t align = region_alignment(ns->r);

	if (align <= FMT_BLOCK_SIZE)
		return 1;
	return FMT_CHUNK_SIZE % align == 0 ? FMT_CHUNK_BLOCKS : 0;
}

enum chunk_shape {
	CHUNK_HUGE,  /* every page mapped, page i of the chunk on block i of an aligned chunk */
	CHUNK_EMPTY, /* no page mapped */
	CHUNK_MIXED, /* anything else: holes next to data, or blocks out of place */
};

/*
 * chunk_shape - how @in maps the 512 pages from page @c (a multiple of 512).
 * Context: thread registered with RCU. Locking: caller holds @in's inode lock.
 * Return: the shape.
 */
static enum chunk_shape chunk_shape(struct ns_inode *in, uint64_t c)
{
	enum chunk_shape shape = CHUNK_HUGE;
	uint64_t base = UINT64_MAX, holes = 0;

	rcu_read_begin();
	for (uint64_t p = c; p < c + FMT_CHUNK_BLOCKS; p++) {
		uint64_t first, blk;
		xt_entry e = __xt_load(&in->map, p, &first, NULL);

		if (!xt_is_value(e) || xt_is_hole(e)) {
			holes++;
			continue;
		}
		blk = xt_to_block(e) + (p - first);
		if (base == UINT64_MAX)
			base = blk - (p - c);
		if (blk != base + (p - c) || !IS_ALIGNED(base, (uint64_t)FMT_CHUNK_BLOCKS))
			shape = CHUNK_MIXED;
	}
	rcu_read_end();
	if (holes == FMT_CHUNK_BLOCKS)
		return CHUNK_EMPTY;
	return holes ? CHUNK_MIXED : shape;
}

/*
 * chunk_move - put pages [@c, @c + 512) of @in on one fresh huge block: copy the pages that
 * have data, zero the others, and replace the chunk's entries in one transaction. Mappers of
 * the chunk let go first (a lease break), so no store lands on the old blocks after the copy.
 * Context: thread registered with RCU, outside a read section. Locking: caller holds @in's
 *          inode lock; takes the chunk's entry locks, the grant lock, the allocator lock.
 * Return: 0; -EROFS (read-only mount); -ENOSPC (no entirely free huge block); -EIO (a page
 *         of the chunk is poisoned, or the transaction failed); -ENOMEM. Logged.
 */
static int chunk_move(struct ns *ns, struct ns_inode *in, uint64_t c)
{
	static __thread char bounce[FMT_BLOCK_SIZE];
	struct ns_hold *hold = NULL;
	struct fmt_map *rec;
	struct mlog_tx tx;
	uint64_t blk, bad = UINT64_MAX;
	int rc;

	rc = ns_writable(ns);
	if (rc) {
		log_notice("inode %lu: pages %lu..%lu are not on one huge block, which a devdax "
			   "mapping needs, and a read-only mount cannot move them",
			   (unsigned long)in->ino, (unsigned long)c,
			   (unsigned long)(c + FMT_CHUNK_BLOCKS - 1));
		return rc;
	}
	ns_lock_pages(in, c, c + FMT_CHUNK_BLOCKS);
	rc = ns_invalidate_range(ns, in, c, FMT_CHUNK_BLOCKS, &hold);
	if (rc)
		goto out_unlock;
	rc = ns_alloc_huge(ns, &blk);
	if (rc) {
		log_notice("inode %lu: no free 2 MiB block to move pages %lu..%lu onto, which a "
			   "devdax mapping needs",
			   (unsigned long)in->ino, (unsigned long)c,
			   (unsigned long)(c + FMT_CHUNK_BLOCKS - 1));
		goto out_unlock;
	}
	rcu_read_begin();
	for (uint64_t p = c; p < c + FMT_CHUNK_BLOCKS; p++) {
		char *dst = region_at(ns->r, (blk + (p - c)) * FMT_BLOCK_SIZE);
		uint64_t first;
		xt_entry e = __xt_load(&in->map, p, &first, NULL);

		if (!xt_is_value(e) || xt_is_hole(e)) {
			region_memset(ns->r, dst, 0, FMT_BLOCK_SIZE,
				      REGION_NODRAIN | REGION_NONTEMPORAL);
		} else if (xt_is_poison(e) &&
			   alloc_is_quarantined(ns->alloc, xt_to_block(e) + (p - first))) {
			bad = p;
			break;
		} else {
			/*
			 * Through a bounce page, SIGBUS-safely: poison nobody knew of yet stops
			 * the move like known poison (the fault is queued for poison_drain())
			 * instead of failing the region.
			 */
			const char *src =
				region_at(ns->r, (xt_to_block(e) + (p - first)) * FMT_BLOCK_SIZE);

			if (region_copy_safe(ns->r, bounce, src, FMT_BLOCK_SIZE, NULL)) {
				bad = p;
				break;
			}
			region_memcpy(ns->r, dst, bounce, FMT_BLOCK_SIZE, REGION_NODRAIN);
		}
	}
	rcu_read_end();
	region_drain(ns->r);
	if (bad != UINT64_MAX) {
		log_notice("inode %lu: page %lu is poisoned: its 2 MiB cannot move onto one huge "
			   "block, which a devdax mapping needs",
			   (unsigned long)in->ino, (unsigned long)bad);
		alloc_free(ns->alloc, blk, FMT_CHUNK_BLOCKS);
		rc = -EIO;
		goto out_unlock;
	}
	mlog_tx_init(&tx);
	rec = mlog_tx_add(&tx, FMT_REC_MAP, sizeof(*rec));
	if (rec)
		*rec = (struct fmt_map){in->ino, c, blk, FMT_CHUNK_BLOCKS, 9};
	/* The old blocks are freed after a grace period, or held for expired mappers. */
	rc = ns_tx_run_held(ns, &tx, hold);
	hold = NULL;
	mlog_tx_release(&tx);
	if (rc) {
		if (rc != -EIO)
			alloc_free(ns->alloc, blk, FMT_CHUNK_BLOCKS);
		log_notice("inode %lu: moving pages %lu..%lu onto a huge block failed: %s",
			   (unsigned long)in->ino, (unsigned long)c,
			   (unsigned long)(c + FMT_CHUNK_BLOCKS - 1), strerror(-rc));
	} else {
		log_info("inode %lu: pages %lu..%lu moved onto huge block %lu for a devdax mapping",
			 (unsigned long)in->ino, (unsigned long)c,
			 (unsigned long)(c + FMT_CHUNK_BLOCKS - 1), (unsigned long)blk);
	}
out_unlock:
	ns_hold_put(ns, hold);
	ns_unlock_pages(in, c, c + FMT_CHUNK_BLOCKS);
	return rc;
}

/*
 * shape_range - make every chunk of pages [@lo, @hi) (512-page aligned) that has data one
 * huge extent of @in (chunk_move). Context, Locking, Return: as chunk_move.
 */
static int shape_range(struct ns *ns, struct ns_inode *in, uint64_t lo, uint64_t hi)
{
	int rc;

	for (uint64_t c = lo; c < hi; c += FMT_CHUNK_BLOCKS) {
		if (chunk_shape(in, c) != CHUNK_MIXED)
			continue;
		rc = chunk_move(ns, in, c);
		if (rc)
			return rc;
	}
	return 0;
}

int ns_map(struct ns *ns, uint64_t ino, uint64_t index, uint64_t count, unsigned mode,
	   const struct ns_grant_ops *ops, void *holder, struct ns_grant **out,
	   struct ns_extent **ext, size_t *next)
{
	uint64_t unit = map_unit(ns), lo = index, hi;
	struct ns_inode *in;
	struct ns_grant *g;
	int rc = 0;

	*out = NULL;
	*ext = NULL;
	*next = 0;
	if (!grant_range_ok(index, count, mode))
		return -EINVAL;
	if (unit == 0) {
		log_notice("region %s: its mapping alignment of %lu bytes is larger than 2 MiB: "
			   "daxfs cannot map files there (copy I/O works)",
			   region_path(ns->r), (unsigned long)region_alignment(ns->r));
		return -EOPNOTSUPP;
	}
	/* devdax: whole huge blocks, which the client maps and so is granted */
	hi = index + count;
	if (unit > 1) {
		lo = ALIGN_DOWN(index, unit);
		hi = ALIGN_UP(hi, unit);
		if (hi > NS_PAGES_MAX)
			return -EFBIG;
	}
	for (int attempt = 0; attempt < 4; attempt++) {
		bool holes = false;

		if (mode & NS_GRANT_WRITE) {
			rc = ns_fallocate(ns, ino, 0, index * FMT_BLOCK_SIZE,
					  count * FMT_BLOCK_SIZE);
			if (rc)
				return rc;
		}
		rc = grant_file(ns, ino, &in, &g);
		if (rc)
			return rc;
		pthread_mutex_lock(&in->lock);
		if (__atomic_load_n(&in->dying, __ATOMIC_ACQUIRE))
			rc = -ENOENT;
		else if (unit > 1)
			rc = shape_range(ns, in, lo, hi);
		if (rc == 0)
			rc = describe(ns, in, lo, hi - lo, ext, next);
		for (size_t i = 0; rc == 0 && i < *next; i++)
			holes |= (*ext)[i].flags & NS_EXT_HOLE;
		if (rc == 0 && (!(mode & NS_GRANT_WRITE) || !holes)) {
			grant_add(ns, in, g, lo, hi - lo, mode, ops, holder);
			pthread_mutex_unlock(&in->lock);
			*out = g;
			return 0;
		}
		/* Punched between the allocation and the lock: allocate again. */
		pthread_mutex_unlock(&in->lock);
		free(g);
		free(*ext);
		*ext = NULL;
		*next = 0;
		ns_inode_put(ns, in);
		if (rc)
			return rc;
	}
	return -EAGAIN;
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

/*
 * The namespace whose grant lock this thread holds while it runs a holder's callback: an
 * ack from inside the callback ("now") must not take that lock again.
 */
static __thread struct ns *in_callback;

/* ack_locked - ns_grant_ack with the grant lock held. */
static void ack_locked(struct ns *ns, struct ns_grant *g, uint64_t gen)
{
	/* It answers a lease break in time (after the timeout the grant is expired). */
	if (g->wait_gen > g->acked_gen && gen >= g->wait_gen && !g->expired)
		stats_add(STAT_LEASE_BREAKS_ACKED, 1);
	if (gen > g->acked_gen)
		g->acked_gen = gen;
	pthread_cond_broadcast(&ns->grant_cond);
}

void ns_grant_ack(struct ns *ns, struct ns_grant *g, uint64_t gen)
{
	if (in_callback == ns) {
		/* From a callback: this thread holds the grant lock already. */
		ack_locked(ns, g, gen);
		return;
	}
	pthread_mutex_lock(&ns->grant_lock);
	ack_locked(ns, g, gen);
	pthread_mutex_unlock(&ns->grant_lock);
}

static void hold_free_cb(struct rcu_head *head);

struct hold_release {
	struct rcu_head rcu;
	struct ns *ns;
	struct ns_hold *h;
};

static void hold_free_cb(struct rcu_head *head)
{
	struct hold_release *hr;

	rcu_cb_begin(head);
	hr = caa_container_of(head, struct hold_release, rcu);
	for (size_t i = 0; i < hr->h->n; i++)
		alloc_free(hr->ns->alloc, hr->h->runs[i].block, hr->h->runs[i].count);
	free(hr->h->runs);
	free(hr->h->procs);
	free(hr->h);
	free(hr);
	rcu_cb_end();
}

/*
 * hold_put - drop one reference.
 * Locking: grant_lock held.
 * Return: @h when that was the last one: the caller ends it with hold_end() once it has
 *         dropped grant_lock (a RELEASE record is a transaction); NULL otherwise.
 */
static struct ns_hold *hold_put(struct ns *ns, struct ns_hold *h)
{
	uint64_t blocks = 0;

	if (--h->refs)
		return NULL;
	for (size_t i = 0; i < h->n; i++)
		blocks += h->runs[i].count;
	ns->held_blocks -= blocks;
	return h;
}

/*
 * hold_end - the last holder of @h is gone: log the end of its HOLD records, then give its
 * blocks back after a grace period. With @keep (the daemon stops while the holders may
 * still run), the records stay: the next mount holds the blocks again.
 * Context: not under grant_lock; as ns_tx_run when @h was persisted.
 */
static void hold_end(struct ns *ns, struct ns_hold *h, bool keep)
{
	struct hold_release *hr;

	if (h->persisted && keep) {
		free(h->runs);
		free(h->procs);
		free(h);
		return;
	}
	if (h->persisted && ns_hold_release_persist(ns, h->runs, h->n)) {
		/* Not recorded: freeing them now could hand them out while the log holds them. */
		free(h->runs);
		free(h->procs);
		free(h);
		return;
	}
	hr = malloc(sizeof(*hr));
	if (!hr) {
		/* Keep them out of use rather than risk handing them out early. */
		log_warn("out of memory releasing %zu held block runs; they stay unused until "
			 "restart",
			 h->n);
		free(h->runs);
		free(h->procs);
		free(h);
		return;
	}
	hr->ns = ns;
	hr->h = h;
	rcu_defer(&hr->rcu, hold_free_cb);
}

void ns_hold_put(struct ns *ns, struct ns_hold *h)
{
	struct ns_hold *ended;

	if (!h)
		return;
	pthread_mutex_lock(&ns->grant_lock);
	ended = hold_put(ns, h);
	pthread_mutex_unlock(&ns->grant_lock);
	if (ended)
		hold_end(ns, ended, false);
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
	/* The ended ones go to the front of g->holds (this grant's references are gone). */
	for (size_t i = 0; i < g->nholds; i++) {
		struct ns_hold *ended = hold_put(ns, g->holds[i]);

		if (ended)
			g->holds[nended++] = ended;
	}
	pthread_cond_broadcast(&ns->grant_cond);
	pthread_mutex_unlock(&ns->grant_lock);
	for (size_t i = 0; i < nended; i++)
		hold_end(ns, g->holds[i], keep);
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

uint64_t ns_held_blocks(struct ns *ns)
{
	uint64_t n;

	pthread_mutex_lock(&ns->grant_lock);
	n = ns->held_blocks;
	pthread_mutex_unlock(&ns->grant_lock);
	return n;
}

/*
 * hold_add_proc - remember @g's holder process in @h, for HOLD records that outlive a
 * restart. Not fatal when unknown (no pid op, the process gone, no memory): the hold still
 * lasts as long as the daemon. Locking: grant_lock held.
 */
static void hold_add_proc(struct ns_hold *h, struct ns_grant *g)
{
	struct ns_proc p = {0}, *v;

	if (!g->ops->pid)
		return;
	p.pid = (uint32_t)g->ops->pid(g->holder);
	if (p.pid == 0 || ns_proc_start(p.pid, &p.start))
		return;
	for (size_t i = 0; i < h->nprocs; i++)
		if (h->procs[i].pid == p.pid && h->procs[i].start == p.start)
			return;
	v = realloc(h->procs, (h->nprocs + 1) * sizeof(*v));
	if (!v)
		return;
	h->procs = v;
	h->procs[h->nprocs++] = p;
}

/* --- the protocol, called by the namespace --- */

int ns_invalidate_range(struct ns *ns, struct ns_inode *in, uint64_t index, uint64_t count,
			struct ns_hold **hold)
{
	char ino_s[24], ms_s[24], pid_s[24];
	struct timespec deadline;
	struct ns_grant *g;
	uint64_t gen, timeout_ms = __atomic_load_n(&ns->lease_timeout_ms, __ATOMIC_RELAXED);
	bool any = false, waiting, created = false;
	int rc = 0;

	pthread_mutex_lock(&ns->grant_lock);
	gen = ++in->lease_gen;
	cds_list_for_each_entry (g, &in->grants, node) {
		uint64_t lo = MAX(index, g->index), hi = MIN(index + count, g->index + g->count);

		if (g->expired || !overlaps(g, index, count))
			continue;
		g->wait_gen = gen;
		any = true;
		stats_add(STAT_LEASE_BREAKS, 1);
		in_callback = ns;
		g->ops->invalidate(g->holder, g, in->ino, lo, hi - lo, gen);
		in_callback = NULL;
	}
	if (any && fault_enabled()) {
		/* Not under grant_lock: the acks that come meanwhile must be taken. */
		pthread_mutex_unlock(&ns->grant_lock);
		fault_at(FAULT_LEASE_BREAK);
		pthread_mutex_lock(&ns->grant_lock);
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)(timeout_ms / 1000);
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	if (any)
		stats_add(STAT_PARKED, 1);
	while (any) {
		waiting = false;
		cds_list_for_each_entry (g, &in->grants, node) {
			if (g->wait_gen == gen && g->acked_gen < gen && !g->expired)
				waiting = true;
		}
		if (!waiting)
			break;
		if (pthread_cond_timedwait(&ns->grant_cond, &ns->grant_lock, &deadline) !=
		    ETIMEDOUT)
			continue;
		/* Whoever has not acked by now loses its session. */
		cds_list_for_each_entry (g, &in->grants, node) {
			if (g->wait_gen != gen || g->acked_gen >= gen || g->expired)
				continue;
			g->expired = true;
			stats_add(STAT_LEASE_BREAKS_EXPIRED, 1);
			log_event(LOG_LVL_NOTICE, LOG_EV_LEASE_TIMEOUT,
				  LOG_KV({"REGION", region_path(ns->r)},
					 {"INODE", log_u64(ino_s, in->ino)},
					 {"TIMEOUT_MS", log_u64(ms_s, timeout_ms)},
					 {"PID", log_u64(pid_s, g->ops->pid ? (uint64_t)g->ops->pid(
										      g->holder)
									    : 0)}),
				  "%s: lease break on inode %" PRIu64 " timed out after %" PRIu64
				  " ms; dropping the holder",
				  region_path(ns->r), in->ino, timeout_ms);
			in_callback = ns;
			g->ops->expired(g->holder, g);
			in_callback = NULL;
		}
		break;
	}
	if (any)
		stats_add(STAT_PARKED, -1);
	/*
	 * Holders that lost their session may still touch the range until their process is
	 * gone: whatever the transaction frees there waits for them (DESIGN §6).
	 */
	cds_list_for_each_entry (g, &in->grants, node) {
		struct ns_hold **holds;

		if (!g->expired || !overlaps(g, index, count))
			continue;
		if (!*hold) {
			*hold = calloc(1, sizeof(**hold));
			if (!*hold) {
				rc = -ENOMEM;
				break;
			}
			(*hold)->refs = 1; /* the caller's, until its transaction is done */
			created = true;
		}
		holds = realloc(g->holds, (g->nholds + 1) * sizeof(*holds));
		if (!holds) {
			rc = -ENOMEM;
			break;
		}
		g->holds = holds;
		g->holds[g->nholds++] = *hold;
		(*hold)->refs++;
		hold_add_proc(*hold, g);
	}
	if (created && (*hold)->refs == 1) {
		free(*hold);
		*hold = NULL;
	}
	pthread_mutex_unlock(&ns->grant_lock);
	return rc;
}

size_t ns_hold_procs(struct ns *ns, struct ns_hold *h, struct ns_proc **out)
{
	size_t n = 0;

	*out = NULL;
	pthread_mutex_lock(&ns->grant_lock);
	if (h->nprocs) {
		*out = malloc(h->nprocs * sizeof(**out));
		if (*out) {
			n = h->nprocs;
			memcpy(*out, h->procs, n * sizeof(**out));
		}
	}
	pthread_mutex_unlock(&ns->grant_lock);
	return n;
}

void ns_hold_runs(struct ns *ns, struct ns_hold *h, struct ns_txctx *tc, bool logged)
{
	struct ns_proc *procs;
	struct ns_run *runs;
	uint64_t blocks = 0;
	bool persisted = logged;
	size_t nprocs;

	/* HOLD records the freeing transaction could not carry follow it (hold.c). */
	if (!logged) {
		nprocs = ns_hold_procs(ns, h, &procs);
		if (nprocs)
			persisted = ns_hold_persist(ns, procs, nprocs, tc->frees, tc->nfrees);
		free(procs);
	}

	pthread_mutex_lock(&ns->grant_lock);
	h->persisted |= persisted;
	runs = realloc(h->runs, (h->n + tc->nfrees) * sizeof(*runs));
	if (runs) {
		memcpy(runs + h->n, tc->frees, tc->nfrees * sizeof(*runs));
		h->runs = runs;
		h->n += tc->nfrees;
		for (size_t i = 0; i < tc->nfrees; i++)
			blocks += tc->frees[i].count;
		ns->held_blocks += blocks;
	} else {
		log_warn("out of memory holding blocks for an expired lease; they stay unused "
			 "until restart");
	}
	pthread_mutex_unlock(&ns->grant_lock);
	tc->nfrees = 0;
}

void ns_notify_poison(struct ns *ns, struct ns_inode *in, uint64_t index)
{
	struct ns_grant *g;

	pthread_mutex_lock(&ns->grant_lock);
	cds_list_for_each_entry (g, &in->grants, node) {
		if (!g->expired && overlaps(g, index, 1)) {
			in_callback = ns;
			g->ops->poison(g->holder, g, in->ino, index, 1);
			in_callback = NULL;
		}
	}
	pthread_mutex_unlock(&ns->grant_lock);
}
