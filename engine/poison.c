// SPDX-License-Identifier: MIT
/*
 * poison_handle(): Jan Kara's scheme from the seed thread, as upstream dax_lock_page() does
 * it, in userspace (DESIGN §5).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fault.h"
#include "log.h"
#include "nsint.h"
#include "poison.h"
#include "stats.h"
#include "util.h"

const char *poison_source_name(enum poison_source src)
{
	switch (src) {
	case POISON_SRC_BADBLOCKS:
		return "bad-block list";
	case POISON_SRC_SIGBUS:
		return "machine check (SIGBUS)";
	case POISON_SRC_CLIENT:
		return "client report";
	case POISON_SRC_INJECTED:
		return "injection";
	}
	return "?";
}

void ns_set_hook(struct ns *ns, ns_hook_fn fn, void *ctx)
{
	ns->hook_ctx = ctx;
	__atomic_store_n(&ns->hook, fn, __ATOMIC_RELEASE);
}

static void hook(struct ns *ns, enum ns_hook h, uint64_t block)
{
#if DAXFS_TEST_HOOKS
	ns_hook_fn fn = __atomic_load_n(&ns->hook, __ATOMIC_ACQUIRE);

	if (fn)
		fn(ns->hook_ctx, h, block);
#else
	(void)ns;
	(void)h;
	(void)block;
#endif
}

/* record - persist BADBLOCK for @block (applying it quarantines it, and poisons its page). */
static int record(struct ns *ns, uint64_t block)
{
	struct fmt_badblock *b;
	struct mlog_tx tx;
	int rc;

	mlog_tx_init(&tx);
	b = mlog_tx_add(&tx, FMT_REC_BADBLOCK, sizeof(*b));
	if (b)
		*b = (struct fmt_badblock){block, 1};
	rc = ns_tx_run(ns, NULL, &tx);
	if (rc == -EROFS) {
		/* Read-only: quarantine in memory all the same, so nobody reads the block. */
		struct ns_txctx tc = {.live = true};
		const struct fmt_rec *h = (const struct fmt_rec *)tx.buf;

		rc = ns_apply(ns, &tc, h, h + 1, h->len - sizeof(*h));
		free(tc.frees);
		log_warn("%s: block %" PRIu64 " quarantined in memory only (read-only)",
			 region_path(ns->r), block);
	}
	mlog_tx_release(&tx);
	return rc;
}

static void note_repaired(struct ns *ns, uint64_t block, uint64_t ino, uint64_t index);

/* was_repaired - is @block among the blocks repaired this run (the first NS_REPAIRED_MAX)? */
static bool was_repaired(struct ns *ns, uint64_t block)
{
	size_t lo = 0, hi;

	pthread_mutex_lock(&ns->meta_bad_lock);
	hi = ns->nrepaired_pages;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ns->repaired_pages[mid].block < block)
			lo = mid + 1;
		else
			hi = mid;
	}
	hi = lo < ns->nrepaired_pages && ns->repaired_pages[lo].block == block;
	pthread_mutex_unlock(&ns->meta_bad_lock);
	return hi;
}

/*
 * repair_metadata - a superblock or log block of the region back from the replica, with no
 * checkpoint running (the tx lock shared): the bytes there are the region's, stored under
 * the log lock into both. Return: 0; 1 repaired already; else the block is handled as
 * without a replica.
 */
static int repair_metadata(struct ns *ns, uint64_t block)
{
	int rc;

	if (!region_mirror(ns->r) || !ns->log)
		return -ENODATA;
	brlock_rdlock(&ns->txlock);
	rc = mlog_repair_block(ns->log, block * FMT_BLOCK_SIZE, was_repaired(ns, block));
	brlock_rdunlock(&ns->txlock);
	return rc;
}

/* metadata - poison outside the data area. */
static void metadata(struct ns *ns, uint64_t block, struct poison_hit *hit)
{
	const struct fmt_super *sb = mlog_super(ns->log);
	uint64_t off = block * FMT_BLOCK_SIZE;
	unsigned area = sb->log_active;
	int rc;

	char off_s[24];
	const char *where;

	hit->metadata = true;
	rc = repair_metadata(ns, block);
	if (rc == 1)
		return; /* repaired already (a fault queued twice) */
	if (rc == 0) {
		hit->repaired = true;
		note_repaired(ns, block, 0, 0);
		__atomic_add_fetch(&ns->repaired, 1, __ATOMIC_RELAXED);
		log_event(LOG_LVL_NOTICE, LOG_EV_POISON,
			  LOG_KV({"REGION", region_path(ns->r)}, {"WHERE", "metadata"},
				 {"OFFSET", log_u64(off_s, off)}),
			  "%s: poison in the superblocks or the log at offset %" PRIu64
			  ": repaired from the replica",
			  region_path(ns->r), off);
		return;
	}
	poison_note_metadata(ns, block);
	if (off < FMT_BLOCK_SIZE || off == fmt_backup_off(sb->region_size)) {
		where = off == 0 ? "primary superblock" : "backup superblock";
		log_event(LOG_LVL_ERR, LOG_EV_POISON,
			  LOG_KV({"REGION", region_path(ns->r)}, {"WHERE", where},
				 {"OFFSET", log_u64(off_s, off)}),
			  "%s: poison in the %s; the other copy stays in use", region_path(ns->r),
			  where);
	} else if ((off >= sb->log_off[0] && off < sb->log_off[0] + sb->log_len) ||
		   (off >= sb->log_off[1] && off < sb->log_off[1] + sb->log_len)) {
		where = off >= sb->log_off[area] && off < sb->log_off[area] + sb->log_len
				? "active log area"
				: "spare log area";
		log_event(LOG_LVL_ERR, LOG_EV_READONLY,
			  LOG_KV({"REGION", region_path(ns->r)}, {"WHERE", where},
				 {"OFFSET", log_u64(off_s, off)}),
			  "%s: poison in the %s at offset %" PRIu64
			  "; the file system is read-only from now on",
			  region_path(ns->r), where, off);
		__atomic_store_n(&ns->rdonly, true, __ATOMIC_RELEASE);
		mlog_set_rdonly(ns->log);
	} else {
		log_event(LOG_LVL_NOTICE, LOG_EV_POISON,
			  LOG_KV({"REGION", region_path(ns->r)}, {"WHERE", "unused"},
				 {"OFFSET", log_u64(off_s, off)}),
			  "%s: poison at offset %" PRIu64 ", in no structure daxfs uses",
			  region_path(ns->r), off);
	}
}

/*
 * repair - put back @block of a file page from the replica (DESIGN §13): clear the media
 * error where the media can, write the replica's bytes over it, and read them back.
 * Context: the page's entry lock held, so no copy write changes the page meanwhile.
 * Return: 0 repaired; 1 the block reads fine (repaired already: a fault queued twice);
 *         -ENODATA no good copy (no replica, not synced there, or poisoned there too); the
 *         clear's or the read-back's error (@good then holds the replica's bytes, for move()).
 */
static int repair(struct ns *ns, uint64_t block, char *good)
{
	uint64_t off = block * FMT_BLOCK_SIZE;
	char back[FMT_BLOCK_SIZE];
	struct region_fault f;
	int rc;

	rc = region_mirror_copy(ns->r, good, off, FMT_BLOCK_SIZE, NULL);
	if (rc)
		return -ENODATA;
	/*
	 * Several reads may have queued the same fault: an earlier one repaired it already.
	 * (Only then: a block the kernel reported may still read fine, and is repaired all
	 * the same.)
	 */
	if (was_repaired(ns, block) &&
	    region_copy_check(ns->r, back, region_at(ns->r, off), FMT_BLOCK_SIZE, &f) == 0)
		return 1;
	rc = region_badblock_clear(ns->r, off, FMT_BLOCK_SIZE);
	if (rc) {
		log_warn("%s: cannot clear the media error at offset %" PRIu64
			 " to repair it from the replica: %s",
			 region_path(ns->r), off, strerror(-rc));
		return rc;
	}
	return region_write_verified(ns->r, region_at(ns->r, off), good, FMT_BLOCK_SIZE, &f);
}

/*
 * move - where the region's block cannot be cleared (a device that cannot, a page the
 * kernel took out of service): put page @idx of @in on a fresh block filled with @good, the
 * replica's bytes, and quarantine the old block, in one transaction (BADBLOCK, then MAP).
 * The MAP replaces the page's entry, whose lock the caller holds (so it is gone after: no
 * unlock). The mappers hear INVALIDATE, not POISON: no data was lost.
 * Return: 0 moved; -ENOSPC, -EIO (the fresh block faults too), a transaction's error: the
 *         entry is still locked and the caller quarantines as without a replica.
 */
static int move(struct ns *ns, struct ns_inode *in, uint64_t idx, uint64_t block, const char *good)
{
	struct fmt_badblock *bb;
	struct region_fault f;
	struct fmt_map *m;
	struct mlog_tx tx;
	uint64_t nb, got;
	int rc;

	rc = ns_alloc_blocks(ns, NULL, UINT64_MAX, 1, &nb, &got);
	if (rc)
		return rc;
	rc = region_write_verified(ns->r, region_at(ns->r, nb * FMT_BLOCK_SIZE), good,
				   FMT_BLOCK_SIZE, &f);
	if (rc) {
		alloc_free(ns->alloc, nb, 1);
		return rc;
	}
	mlog_tx_init(&tx);
	bb = mlog_tx_add(&tx, FMT_REC_BADBLOCK, sizeof(*bb));
	if (bb)
		*bb = (struct fmt_badblock){block, 1};
	m = mlog_tx_add(&tx, FMT_REC_MAP, sizeof(*m));
	if (m)
		*m = (struct fmt_map){.ino = in->ino, .index = idx, .block = nb, .count = 1};
	ns_grants_quiet(in->ino, idx); /* the BADBLOCK's POISON: the page is not lost */
	rc = ns_tx_run(ns, NULL, &tx);
	ns_grants_quiet(0, UINT64_MAX);
	mlog_tx_release(&tx);
	if (rc) {
		alloc_free(ns->alloc, nb, 1);
		return rc;
	}
	log_notice("%s: inode %" PRIu64 " page %" PRIu64 " moved from block %" PRIu64
		   " (its media error cannot be cleared) to block %" PRIu64
		   ", filled from the replica",
		   region_path(ns->r), in->ino, idx, block, nb);
	return 0;
}

/* note_repaired - remember the repair for poison_list (the first NS_REPAIRED_MAX a run). */
static void note_repaired(struct ns *ns, uint64_t block, uint64_t ino, uint64_t index)
{
	size_t i;

	pthread_mutex_lock(&ns->meta_bad_lock);
	if (ns->nrepaired_pages < NS_REPAIRED_MAX) {
		i = ns->nrepaired_pages++;
		while (i > 0 && ns->repaired_pages[i - 1].block > block) {
			ns->repaired_pages[i] = ns->repaired_pages[i - 1];
			i--;
		}
		ns->repaired_pages[i] = (struct ns_bad_page){block, ino, index};
	}
	pthread_mutex_unlock(&ns->meta_bad_lock);
}

/*
 * poison_block - the protocol for one block of the data area.
 * Return: 1 if newly quarantined, 0 if it was already, 2 if repaired from the replica, or a
 * negative errno.
 */
static int poison_block(struct ns *ns, uint64_t block, poison_report_fn fn, void *ctx)
{
	char good[FMT_BLOCK_SIZE];
	struct poison_hit hit = {.block = block};
	struct rmap_owner own;
	struct ns_inode *in;
	uint64_t first;
	unsigned order;
	xt_entry e;
	int rc;

	for (;;) {
		if (alloc_is_quarantined(ns->alloc, block)) {
			hit.already = true;
			if (fn)
				fn(ctx, &hit);
			return 0;
		}
		rcu_read_begin();
		if (!rmap_lookup(&ns->rmap, block, &own) ||
		    __atomic_load_n(&own.inode->dying, __ATOMIC_ACQUIRE)) {
			/* Free space (or a block whose free waits for a grace period). */
			rcu_read_end();
			rc = record(ns, block);
			if (rc)
				return rc;
			if (fn)
				fn(ctx, &hit);
			return 1;
		}
		in = own.inode;
		hook(ns, NS_HOOK_POISON_AFTER_RMAP, block);
		fault_at(FAULT_POISON_AFTER_RMAP);
		xt_lock(&in->map);
		e = __xt_load(&in->map, own.index, &first, &order);
		if (!xt_is_value(e) || bm_is_hole(e) ||
		    bm_to_block(e) + (own.index - first) != block) {
			/* The rmap was stale: the page moved or went. Retry from the lookup. */
			xt_unlock(&in->map);
			rcu_read_end();
			continue;
		}
		if (!ns_inode_tryget(in)) {
			xt_unlock(&in->map);
			rcu_read_end();
			continue;
		}
		rcu_read_end();
		if (bm_is_locked(e)) {
			/* Wait for the holder, then retry from the lookup. */
			__bm_get_unlocked(&in->map, first);
			xt_unlock(&in->map);
			ns_inode_put(ns, in);
			continue;
		}
		__bm_lock_entry(&in->map, first);
		xt_unlock(&in->map);
		break;
	}
	/* The entry is locked: the page owns the block and nobody can move it. */
	rc = repair(ns, block, good);
	if (rc == 1) {
		bm_unlock_entry(&in->map, first);
		ns_inode_put(ns, in);
		return 0;
	}
	if (rc == 0 || (rc != -ENODATA && move(ns, in, own.index, block, good) == 0)) {
		note_repaired(ns, block, in->ino, own.index);
		/* Counted at once: the mappers hear of it now, and may look at the count. */
		__atomic_add_fetch(&ns->repaired, 1, __ATOMIC_RELAXED);
		hit.owned = true;
		hit.repaired = true;
		hit.ino = in->ino;
		hit.index = own.index;
		ns_grants_repaired(ns, in, own.index);
		if (fn)
			fn(ctx, &hit);
		if (rc == 0) /* repaired in place (moved: the MAP replaced the locked entry) */
			bm_unlock_entry(&in->map, first);
		ns_inode_put(ns, in);
		return 2;
	}
	rc = record(ns, block);
	if (rc == 0) {
		hit.owned = true;
		hit.ino = in->ino;
		hit.index = own.index;
		/* The page's mappers heard of it when the record was applied (nsapply.c). */
		if (fn)
			fn(ctx, &hit);
	}
	bm_unlock_entry(&in->map, first);
	ns_inode_put(ns, in);
	return rc == 0 ? 1 : rc;
}

/*
 * A run of one file's pages whose blocks poison_handle() just quarantined: the data an
 * operator must restore, said in one QUARANTINE event per run.
 */
struct lost {
	struct ns *ns;
	poison_report_fn fn; /* the caller's, called for every hit */
	void *ctx;
	uint64_t ino, index, block, count; /* count 0: no run yet */
};

static void lost_say(struct lost *l)
{
	char ino[24], foff[24], off[24], len[24];
	const uint64_t bs = FMT_BLOCK_SIZE;

	if (!l->count)
		return;
	log_event(LOG_LVL_WARNING, LOG_EV_QUARANTINE,
		  LOG_KV({"REGION", region_path(l->ns->r)}, {"INODE", log_u64(ino, l->ino)},
			 {"FILE_OFFSET", log_u64(foff, l->index * bs)},
			 {"OFFSET", log_u64(off, l->block * bs)},
			 {"LENGTH", log_u64(len, l->count * bs)}),
		  "%s: inode %" PRIu64 " lost %" PRIu64 " bytes at file offset %" PRIu64
		  " (region offset %" PRIu64 "): quarantined, they read as EIO until rewritten",
		  region_path(l->ns->r), l->ino, l->count * bs, l->index * bs, l->block * bs);
	l->count = 0;
}

static void lost_hit(void *ctx, const struct poison_hit *hit)
{
	struct lost *l = ctx;

	if (hit->owned && !hit->repaired) {
		if (l->count && hit->ino == l->ino && hit->index == l->index + l->count &&
		    hit->block == l->block + l->count) {
			l->count++;
		} else {
			lost_say(l);
			*l = (struct lost){l->ns,      l->fn,	   l->ctx, hit->ino,
					   hit->index, hit->block, 1};
		}
	}
	if (l->fn)
		l->fn(l->ctx, hit);
}

int64_t poison_handle(struct ns *ns, uint64_t offset, uint64_t len, enum poison_source src,
		      poison_report_fn fn, void *ctx)
{
	uint64_t first = offset / FMT_BLOCK_SIZE, last, size = region_size(ns->r);
	struct lost lost = {.ns = ns, .fn = fn, .ctx = ctx};
	char off_s[24], len_s[24], new_s[24];
	uint64_t repaired = 0;
	int64_t newly = 0;

	if (len == 0 || offset >= size || len > size - offset)
		return -EINVAL;
	last = (offset + len - 1) / FMT_BLOCK_SIZE;
	for (uint64_t b = first; b <= last; b++) {
		int rc;

		if (!alloc_contains(ns->alloc, b, 1)) {
			struct poison_hit hit = {.block = b};

			metadata(ns, b, &hit);
			if (fn)
				fn(ctx, &hit);
			continue;
		}
		rc = poison_block(ns, b, lost_hit, &lost);
		if (rc < 0) {
			lost_say(&lost);
			log_err("%s: could not record poison at block %" PRIu64 ": %s",
				region_path(ns->r), b, strerror(-rc));
			return rc;
		}
		if (rc == 2)
			repaired++;
		else
			newly += rc;
	}
	lost_say(&lost);
	if (repaired) {
		log_event(
			LOG_LVL_NOTICE, LOG_EV_POISON,
			LOG_KV({"REGION", region_path(ns->r)}, {"SOURCE", stats_poison_label(src)},
			       {"OFFSET", log_u64(off_s, offset)}, {"LENGTH", log_u64(len_s, len)},
			       {"REPAIRED", log_u64(new_s, repaired)}),
			"%s: poison (%s) at offset %" PRIu64 "+%" PRIu64 ": %" PRIu64
			" blocks repaired from the replica",
			region_path(ns->r), poison_source_name(src), offset, len, repaired);
	}
	if (newly) {
		stats_poison(src, (uint64_t)newly);
		log_event(
			LOG_LVL_NOTICE, LOG_EV_POISON,
			LOG_KV({"REGION", region_path(ns->r)}, {"SOURCE", stats_poison_label(src)},
			       {"OFFSET", log_u64(off_s, offset)}, {"LENGTH", log_u64(len_s, len)},
			       {"BLOCKS", log_u64(new_s, (uint64_t)newly)}),
			"%s: poison (%s) at offset %" PRIu64 "+%" PRIu64 ": %" PRId64
			" blocks quarantined",
			region_path(ns->r), poison_source_name(src), offset, len, newly);
	}
	return newly;
}

int64_t poison_drain(struct ns *ns)
{
	struct region_fault f;
	int64_t newly = 0;

	while (region_poison_pop(ns->r, &f)) {
		int64_t rc = poison_handle(ns, f.off, f.len, POISON_SRC_SIGBUS, NULL, NULL);

		if (rc < 0)
			return rc;
		newly += rc;
	}
	return newly;
}

/*
 * block_at - the block page @idx of @ino maps now (a poisoned page's too), or UINT64_MAX
 * for a hole. Return: 0; -ENOENT (no such file).
 */
static int block_at(struct ns *ns, uint64_t ino, uint64_t idx, uint64_t *blk)
{
	struct ns_inode *in;
	uint64_t first;
	xt_entry e;

	*blk = UINT64_MAX;
	rcu_read_begin();
	in = ns_inode_find(ns, ino);
	if (!in) {
		rcu_read_end();
		return -ENOENT;
	}
	e = __xt_load(&in->map, idx, &first, NULL);
	if (xt_is_value(e) && !bm_is_hole(e))
		*blk = bm_to_block(e) + (idx - first);
	rcu_read_end();
	return 0;
}

int poison_check_file_range(struct ns *ns, uint64_t ino, uint64_t off, uint64_t len,
			    struct poison_check *res)
{
	uint64_t last, page[FMT_BLOCK_SIZE / 8];
	struct region *r = ns->r;
	int64_t rc;

	memset(res, 0, sizeof(*res));
	if (len == 0 || off + len < off)
		return -EINVAL;
	/* What the kernel already said (an early-kill BUS_MCEERR_AO) is quarantined first. */
	rc = poison_drain(ns);
	if (rc < 0)
		return (int)rc;
	last = (off + len - 1) / FMT_BLOCK_SIZE;
	for (uint64_t idx = off / FMT_BLOCK_SIZE; idx <= last; idx++) {
		struct region_fault f;
		uint64_t blk;

		rc = block_at(ns, ino, idx, &blk);
		if (rc)
			return res->blocks ? 0 : (int)rc;
		if (blk == UINT64_MAX)
			continue;
		res->blocks++;
		if (alloc_is_quarantined(ns->alloc, blk)) {
			res->known++;
			continue;
		}
		/*
		 * The block may have moved to another owner meanwhile: reading it is harmless,
		 * and poison found there is real whoever owns it (poison_handle finds out).
		 */
		/* Not queued: this report handles what it finds, as a client report. */
		if (region_copy_check(r, page, region_at(r, blk * FMT_BLOCK_SIZE), FMT_BLOCK_SIZE,
				      &f) == 0) {
			res->clean++;
			continue;
		}
		if (region_failed(r, NULL))
			return -EIO;
		rc = poison_handle(ns, f.off, f.len, POISON_SRC_CLIENT, NULL, NULL);
		if (rc < 0)
			return (int)rc;
		res->confirmed++;
	}
	return 0;
}

/* clear_owner - who holds @blk, as poison_list() knows it (a poisoned file page). */
static void clear_owner(struct ns *ns, uint64_t blk, struct poison_clear_info *info)
{
	struct poison_bad pb;
	uint64_t next;

	info->block = blk;
	if (poison_list(ns, blk, &pb, 1, &next) == 1 && pb.owned && pb.block <= blk &&
	    blk < pb.block + pb.count) {
		info->owned = true;
		info->ino = pb.ino;
		info->index = pb.index + (blk - pb.block);
	}
}

/* forget_pages - the notes of poisoned pages on [@block, @block + @count): stale now. */
static void forget_pages(struct ns *ns, uint64_t block, uint64_t count)
{
	size_t k = 0;

	pthread_mutex_lock(&ns->meta_bad_lock);
	for (size_t i = 0; i < ns->nbad_pages; i++) {
		uint64_t b = ns->bad_pages[i].block;

		if (b < block || b >= block + count)
			ns->bad_pages[k++] = ns->bad_pages[i];
	}
	ns->nbad_pages = k;
	pthread_mutex_unlock(&ns->meta_bad_lock);
}

struct unquarantine {
	uint64_t block, count, bad;
	bool done;
};

/* unquarantine - ns_checkpoint_after's change: the blocks leave the quarantine, ours. */
static int unquarantine(struct ns *ns, void *ctx)
{
	struct unquarantine *u = ctx;
	int rc = alloc_unquarantine(ns->alloc, u->block, u->count, &u->bad);

	u->done = rc == 0;
	return rc;
}

/* read_back - zero [@off, @off + @len) and read it back, SIGBUS-safely. Return: 0; -EIO. */
static int read_back(struct region *r, uint64_t off, uint64_t len, struct region_fault *f)
{
	uint64_t page[FMT_BLOCK_SIZE / 8];

	if (region_memset_safe(r, region_at(r, off), 0, len, 0, f))
		return -EIO;
	for (uint64_t o = 0; o < len; o += FMT_BLOCK_SIZE)
		if (region_copy_safe(r, page, region_at(r, off + o), FMT_BLOCK_SIZE, f))
			return -EIO;
	return 0;
}

/*
 * One clear at a time: two of the same range would both pass the check, and the second
 * could zero blocks the first already returned to a file.
 */
static pthread_mutex_t clear_lock = PTHREAD_MUTEX_INITIALIZER;

static int __poison_clear(struct ns *ns, uint64_t block, uint64_t count,
			  struct poison_clear_info *info);

int poison_clear(struct ns *ns, uint64_t block, uint64_t count, struct poison_clear_info *info)
{
	int rc;

	pthread_mutex_lock(&clear_lock);
	rc = __poison_clear(ns, block, count, info);
	pthread_mutex_unlock(&clear_lock);
	return rc;
}

/* __poison_clear - see poison_clear. Locking: clear_lock held. */
static int __poison_clear(struct ns *ns, uint64_t block, uint64_t count,
			  struct poison_clear_info *info)
{
	struct unquarantine u = {block, count, 0, false};
	uint64_t off = block * FMT_BLOCK_SIZE, len = count * FMT_BLOCK_SIZE;
	struct region *r = ns->r;
	struct region_fault f;
	int rc;

	memset(info, 0, sizeof(*info));
	if (count == 0 || !alloc_contains(ns->alloc, block, count))
		return -EINVAL;
	rc = ns_writable(ns);
	if (rc)
		return rc;
	/* A file just removed: its blocks come back after a grace period. */
	if (__atomic_load_n(&ns->frees_pending, __ATOMIC_ACQUIRE))
		rcu_barrier_all();
	rc = alloc_unquarantine_check(ns->alloc, block, count, &u.bad);
	if (rc) {
		clear_owner(ns, u.bad, info);
		return rc;
	}
	rc = region_badblock_clear(r, off, len);
	if (rc)
		log_warn("%s: the media errors at %" PRIu64 "+%" PRIu64 " could not be cleared: "
			 "%s; reading the range decides",
			 region_path(r), off, len, strerror(-rc));
	rc = read_back(r, off, len, &f);
	/* What that read queued is quarantined already: let the drain find it so. */
	poison_drain(ns);
	if (rc) {
		info->block = f.off / FMT_BLOCK_SIZE;
		log_notice("%s: bad blocks %" PRIu64 "+%" PRIu64 " still fault at offset %" PRIu64
			   "; they stay quarantined",
			   region_path(r), off, len, f.off);
		return -EIO;
	}
	rc = ns_checkpoint_after(ns, unquarantine, &u);
	if (!u.done) {
		clear_owner(ns, u.bad, info);
		return rc;
	}
	if (rc) {
		/* The log on the media still quarantines them: so does memory again. */
		alloc_quarantine(ns->alloc, block, count);
		alloc_free(ns->alloc, block, count);
		log_warn("%s: bad blocks %" PRIu64 "+%" PRIu64 " stay quarantined: the "
			 "checkpoint failed: %s",
			 region_path(r), off, len, strerror(-rc));
		return rc;
	}
	alloc_free(ns->alloc, block, count);
	forget_pages(ns, block, count);
	log_notice("%s: bad blocks %" PRIu64 "+%" PRIu64 " cleared, zeroed and returned to use",
		   region_path(r), off, len);
	return 0;
}

void poison_region_failed(struct ns *ns)
{
	int zero = 0;

	__atomic_compare_exchange_n(&ns->failed, &zero, -EIO, false, __ATOMIC_ACQ_REL,
				    __ATOMIC_ACQUIRE);
	mlog_set_rdonly(ns->log);
}
