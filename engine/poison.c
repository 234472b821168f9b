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

/* metadata - poison outside the data area. */
static void metadata(struct ns *ns, uint64_t block, struct poison_hit *hit)
{
	const struct fmt_super *sb = mlog_super(ns->log);
	uint64_t off = block * FMT_BLOCK_SIZE;
	unsigned area = sb->log_active;

	char off_s[24];
	const char *where;

	hit->metadata = true;
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
 * poison_block - the protocol for one block of the data area.
 * Return: 1 if newly quarantined, 0 if it was already, or a negative errno.
 */
static int poison_block(struct ns *ns, uint64_t block, poison_report_fn fn, void *ctx)
{
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

	if (hit->owned) {
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
		newly += rc;
	}
	lost_say(&lost);
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

int64_t poison_file_range(struct ns *ns, uint64_t ino, uint64_t off, uint64_t len,
			  enum poison_source src)
{
	uint64_t idx = off / FMT_BLOCK_SIZE, last, run = 0, nrun = 0;
	int64_t newly = 0;

	if (len == 0 || off + len < off)
		return -EINVAL;
	last = (off + len - 1) / FMT_BLOCK_SIZE;
	for (;; idx++) {
		uint64_t blk = UINT64_MAX, first;
		struct ns_inode *in;
		xt_entry e;

		if (idx <= last) {
			rcu_read_begin();
			in = ns_inode_find(ns, ino);
			if (!in) {
				rcu_read_end();
				return newly ? newly : -ENOENT;
			}
			e = __xt_load(&in->map, idx, &first, NULL);
			if (xt_is_value(e) && !bm_is_hole(e))
				blk = bm_to_block(e) + (idx - first);
			rcu_read_end();
		}
		/* Contiguous blocks go to poison_handle together; holes have nothing to lose. */
		if (nrun && blk == run + nrun) {
			nrun++;
			continue;
		}
		if (nrun) {
			int64_t rc = poison_handle(ns, run * FMT_BLOCK_SIZE, nrun * FMT_BLOCK_SIZE,
						   src, NULL, NULL);

			if (rc < 0)
				return rc;
			newly += rc;
		}
		if (idx > last)
			return newly;
		run = blk;
		nrun = blk == UINT64_MAX ? 0 : 1;
	}
}

void poison_region_failed(struct ns *ns)
{
	int zero = 0;

	__atomic_compare_exchange_n(&ns->failed, &zero, -EIO, false, __ATOMIC_ACQ_REL,
				    __ATOMIC_ACQUIRE);
	mlog_set_rdonly(ns->log);
}
