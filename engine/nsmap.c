// SPDX-License-Identifier: MIT
/*
 * MAP: a grant of a file range and the extents it covers, made in one step under the inode
 * lock so that no lease break falls between the two; on device-DAX, the shaping of the range
 * into aligned huge extents first (DESIGN §7).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "nsint.h"
#include "nsmap.h"
#include "poison.h"
#include "util.h"

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
		bm_entry e = __xt_load(&in->map, p, &first, NULL);

		if (xt_is_value(e) && !bm_is_hole(e)) {
			blk = bm_to_block(e) + (p - first);
			flags = bm_is_poison(e) && alloc_is_quarantined(ns->alloc, blk)
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
		bm_entry e = __xt_load(&in->map, p, &first, NULL);

		if (!xt_is_value(e) || bm_is_hole(e)) {
			holes++;
			continue;
		}
		blk = bm_to_block(e) + (p - first);
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
 * chunk_move - put pages [@chunk, @chunk + 512) of @in on one fresh huge block: copy the
 * pages that have data, zero the others, and replace the chunk's entries in one transaction.
 * Mappers of the chunk let go first (a lease break, which may park @c).
 * Context: thread registered with RCU, outside a read section. Locking: caller holds @in's
 *          inode lock; takes the chunk's entry locks, the grant lock, the allocator lock.
 * Return: 0; NS_WAIT; -EROFS (read-only mount); -ENOSPC (no entirely free huge block); -EIO
 *         (a page of the chunk is poisoned, or the transaction failed); -ENOMEM. Logged.
 */
static int chunk_move(struct ns *ns, struct ns_ctx *c, struct ns_inode *in, uint64_t chunk)
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
			   (unsigned long)in->ino, (unsigned long)chunk,
			   (unsigned long)(chunk + FMT_CHUNK_BLOCKS - 1));
		return rc;
	}
	/* Mappers of the chunk let go first, so no store lands on the old blocks after the copy. */
	rc = ns_break_leases(ns, c, in, chunk, FMT_CHUNK_BLOCKS, &hold);
	if (rc)
		return rc;
	ns_lock_pages(in, chunk, chunk + FMT_CHUNK_BLOCKS);
	rc = ns_alloc_huge(ns, c->cred, &blk);
	if (rc) {
		log_notice("inode %lu: no free 2 MiB block to move pages %lu..%lu onto, which a "
			   "devdax mapping needs",
			   (unsigned long)in->ino, (unsigned long)chunk,
			   (unsigned long)(chunk + FMT_CHUNK_BLOCKS - 1));
		goto out_unlock;
	}
	rcu_read_begin();
	for (uint64_t p = chunk; p < chunk + FMT_CHUNK_BLOCKS; p++) {
		char *dst = region_at(ns->r, (blk + (p - chunk)) * FMT_BLOCK_SIZE);
		uint64_t first;
		bm_entry e = __xt_load(&in->map, p, &first, NULL);

		if (!xt_is_value(e) || bm_is_hole(e)) {
			region_memset(ns->r, dst, 0, FMT_BLOCK_SIZE,
				      REGION_NODRAIN | REGION_NONTEMPORAL);
		} else if (bm_is_poison(e) &&
			   alloc_is_quarantined(ns->alloc, bm_to_block(e) + (p - first))) {
			bad = p;
			break;
		} else {
			/*
			 * Through a bounce page, SIGBUS-safely: poison nobody knew of yet stops
			 * the move like known poison (the fault is queued for poison_drain())
			 * instead of failing the region.
			 */
			const char *src =
				region_at(ns->r, (bm_to_block(e) + (p - first)) * FMT_BLOCK_SIZE);

			if (region_read(ns->r, bounce, src, FMT_BLOCK_SIZE, NULL)) {
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
		*rec = (struct fmt_map){in->ino, chunk, blk, FMT_CHUNK_BLOCKS, 9};
	/* The old blocks are freed after a grace period, or held for expired mappers. */
	rc = ns_tx_run_held(ns, c->cred, &tx, hold);
	hold = NULL;
	mlog_tx_release(&tx);
	if (rc) {
		if (rc != -EIO)
			alloc_free(ns->alloc, blk, FMT_CHUNK_BLOCKS);
		log_notice("inode %lu: moving pages %lu..%lu onto a huge block failed: %s",
			   (unsigned long)in->ino, (unsigned long)chunk,
			   (unsigned long)(chunk + FMT_CHUNK_BLOCKS - 1), strerror(-rc));
	} else {
		log_info("inode %lu: pages %lu..%lu moved onto huge block %lu for a devdax mapping",
			 (unsigned long)in->ino, (unsigned long)chunk,
			 (unsigned long)(chunk + FMT_CHUNK_BLOCKS - 1), (unsigned long)blk);
	}
out_unlock:
	ns_hold_put(ns, hold);
	ns_unlock_pages(in, chunk, chunk + FMT_CHUNK_BLOCKS);
	return rc;
}

/*
 * shape_range - make every chunk of pages [@lo, @hi) (512-page aligned) that has data one
 * huge extent of @in (chunk_move). A run after NS_WAIT finds the chunks moved before it huge.
 * Context, Locking, Return: as chunk_move.
 */
static int shape_range(struct ns *ns, struct ns_ctx *c, struct ns_inode *in, uint64_t lo,
		       uint64_t hi)
{
	int rc;

	for (uint64_t chunk = lo; chunk < hi; chunk += FMT_CHUNK_BLOCKS) {
		if (chunk_shape(in, chunk) != CHUNK_MIXED)
			continue;
		rc = chunk_move(ns, c, in, chunk);
		if (rc)
			return rc;
	}
	return 0;
}

/* map - one run of ns_map. */
static int map(struct ns *ns, struct ns_ctx *c, uint64_t ino, uint64_t index, uint64_t count,
	       unsigned mode, const struct ns_grant_ops *ops, void *holder, struct ns_grant **out,
	       struct ns_extent **ext, size_t *next)
{
	uint64_t unit = map_unit(ns), lo = index, hi = index + count;
	unsigned want = NS_MAY_READ | (mode & NS_GRANT_WRITE ? NS_MAY_WRITE : 0);
	struct ns_inode *in;
	struct ns_attr a;
	int rc;

	if (unit == 0) {
		log_notice("region %s: its mapping alignment of %lu bytes is larger than 2 MiB: "
			   "daxfs cannot map files there (copy I/O works)",
			   region_path(ns->r), (unsigned long)region_alignment(ns->r));
		return -EOPNOTSUPP;
	}
	/* devdax: whole huge blocks, which the client maps and so is granted */
	if (unit > 1) {
		lo = ALIGN_DOWN(index, unit);
		hi = ALIGN_UP(hi, unit);
		if (hi > NS_PAGES_MAX)
			return -EFBIG;
	}
	in = ns_inode_get(ns, ino);
	if (!in)
		return -ENOENT;
	rc = S_ISDIR(in->type) ? -EISDIR : !S_ISREG(in->type) ? -EINVAL : ns_ilock(ns, c, in);
	if (rc) {
		ns_inode_put(ns, in);
		return rc;
	}
	if (__atomic_load_n(&in->dying, __ATOMIC_ACQUIRE))
		rc = -ENOENT;
	if (rc == 0) {
		ns_fill_attr(in, &a);
		rc = ns_inode_permission(c->cred, in, &a, want);
	}
	if (rc == 0 && mode & NS_GRANT_WRITE)
		rc = ns_writable(ns);
	if (rc == 0)
		rc = ns_grants_blocked(ns, c, in);
	if (rc == 0 && mode & NS_GRANT_WRITE)
		rc = ns_fill(ns, c->cred, in, index * FMT_BLOCK_SIZE, count * FMT_BLOCK_SIZE,
			     false);
	if (rc == 0 && unit > 1)
		rc = shape_range(ns, c, in, lo, hi);
	if (rc == 0)
		rc = describe(ns, in, lo, hi - lo, ext, next);
	if (rc == 0) {
		rc = ns_grant_add(ns, in, lo, hi - lo, mode, ops, holder, out);
		if (rc) {
			free(*ext);
			*ext = NULL;
			*next = 0;
		}
	}
	ns_iunlock(in);
	ns_inode_put(ns, in);
	poison_drain(ns);
	return rc;
}

int ns_map(struct ns *ns, struct ns_ctx *c, uint64_t ino, uint64_t index, uint64_t count,
	   unsigned mode, const struct ns_grant_ops *ops, void *holder, struct ns_grant **out,
	   struct ns_extent **ext, size_t *next)
{
	struct ns_ctx local;
	int64_t rc;

	*out = NULL;
	*ext = NULL;
	*next = 0;
	if (!count || index >= NS_PAGES_MAX || count > NS_PAGES_MAX - index || !mode ||
	    mode & ~(unsigned)(NS_GRANT_READ | NS_GRANT_WRITE))
		return -EINVAL;
	c = ns_ctx_enter(ns, c, &local);
	do
		rc = map(ns, c, ino, index, count, mode, ops, holder, out, ext, next);
	while (ns_ctx_again(ns, c, rc));
	return (int)ns_ctx_leave(ns, c, &local, rc);
}
