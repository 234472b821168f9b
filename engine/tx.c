// SPDX-License-Identifier: MIT
/*
 * Transactions and checkpoints.
 *
 * An operation builds its records under the locks of every object they describe, then
 * ns_tx_run() checks them against memory (ns_tx_check), commits them to the log, and only
 * then applies them to memory with the code replay uses: another caller sees a change only
 * once it is durable, and since nobody can reach an object before the record that makes it
 * is applied, commit order follows dependencies (DESIGN §4, docs/format.md §3).
 *
 * The tx lock is held shared from the check to the end of the apply, so a checkpoint (which
 * takes it exclusively) never snapshots a committed but unapplied transaction.
 *
 * Room in the log comes in three tiers (DESIGN §7): BADBLOCK, HOLD and RELEASE records may
 * use all of it; other transactions leave an essential reserve for them; and callers without
 * NS_CRED_RESERVE also leave the reserve share (ns_mount_opts.reserve_pct) for root and the
 * daemon's user. A transaction that can make the next snapshot bigger also leaves room for
 * the largest removal, so a full log can always be emptied by removing names.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fault.h"
#include "log.h"
#include "nsint.h"
#include "observe.h"
#include "util.h"

int ns_writable(struct ns *ns)
{
	if (__atomic_load_n(&ns->rdonly, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&ns->failed, __ATOMIC_ACQUIRE))
		return -EROFS;
	return 0;
}

void ns_tx_fail(struct ns *ns, int rc, const char *what)
{
	log_event(LOG_LVL_ERR, LOG_EV_READONLY,
		  LOG_KV({"REGION", region_path(ns->r)}, {"WHERE", what}, {"ERROR", strerror(-rc)}),
		  "%s: %s failed (%s); the file system is read-only from now on",
		  region_path(ns->r), what, strerror(-rc));
	__atomic_store_n(&ns->failed, rc, __ATOMIC_RELEASE);
	mlog_set_rdonly(ns->log);
}

/* --- frees after a grace period --- */

struct deferred_free {
	struct rcu_head rcu;
	struct ns *ns;
	size_t n;
	struct ns_run runs[];
};

static void deferred_free_cb(struct rcu_head *head)
{
	struct deferred_free *df;
	uint64_t n = 0;

	rcu_cb_begin(head);
	df = caa_container_of(head, struct deferred_free, rcu);
	for (size_t i = 0; i < df->n; i++) {
		alloc_free(df->ns->alloc, df->runs[i].block, df->runs[i].count);
		n += df->runs[i].count;
	}
	__atomic_sub_fetch(&df->ns->frees_pending, n, __ATOMIC_RELEASE);
	free(df);
	rcu_cb_end();
}

/*
 * wait_frees - when blocks freed by earlier transactions still wait for their grace period,
 * wait until they are back in the allocator.
 * Context: registered with RCU, outside a read section; no lock the callbacks take (the
 *          allocator's) is held.
 * Return: true if there were any (an allocation that failed is worth another try).
 */
static bool wait_frees(struct ns *ns)
{
	if (!__atomic_load_n(&ns->frees_pending, __ATOMIC_ACQUIRE))
		return false;
	rcu_barrier_all();
	return true;
}

/*
 * usable - how many of @want blocks @cred may take now: everyone but reserve holders leaves
 * ns->reserve_blocks free.
 */
static uint64_t usable(struct ns *ns, const struct ns_cred *cred, uint64_t want)
{
	struct alloc_stats st;
	uint64_t avail;

	if (!ns->reserve_blocks || ns_cred_reserve(cred))
		return want;
	alloc_get_stats(ns->alloc, &st);
	/* frees_pending moves under us (the call_rcu thread): read it once. */
	avail = st.free + __atomic_load_n(&ns->frees_pending, __ATOMIC_RELAXED);
	if (avail <= ns->reserve_blocks)
		return 0;
	return MIN(want, avail - ns->reserve_blocks);
}

int ns_alloc_blocks(struct ns *ns, const struct ns_cred *cred, uint64_t goal, uint64_t want,
		    uint64_t *block, uint64_t *got)
{
	int rc;

	want = usable(ns, cred, want);
	if (!want)
		return -ENOSPC;
	rc = alloc_blocks(ns->alloc, goal, want, block, got);
	/* A full region right after an unlink: the unlinked blocks are on their way back. */
	if (rc == -ENOSPC && wait_frees(ns))
		rc = alloc_blocks(ns->alloc, goal, want, block, got);
	return rc;
}

int ns_alloc_huge(struct ns *ns, const struct ns_cred *cred, uint64_t *block)
{
	int rc;

	if (usable(ns, cred, FMT_CHUNK_BLOCKS) < FMT_CHUNK_BLOCKS)
		return -ENOSPC;
	rc = alloc_huge(ns->alloc, block);
	if (rc == -ENOSPC && wait_frees(ns))
		rc = alloc_huge(ns->alloc, block);
	return rc;
}

/* queue_frees - hand the transaction's freed runs to the allocator after a grace period. */
static void queue_frees(struct ns *ns, struct ns_txctx *tc)
{
	struct deferred_free *df;

	if (!tc->nfrees)
		return;
	df = malloc(sizeof(*df) + tc->nfrees * sizeof(df->runs[0]));
	if (!df) {
		/* No memory for the deferral: wait for the grace period here instead. */
		rcu_wait_grace();
		for (size_t i = 0; i < tc->nfrees; i++)
			alloc_free(ns->alloc, tc->frees[i].block, tc->frees[i].count);
		return;
	}
	df->ns = ns;
	df->n = tc->nfrees;
	memcpy(df->runs, tc->frees, tc->nfrees * sizeof(df->runs[0]));
	for (size_t i = 0; i < tc->nfrees; i++)
		__atomic_add_fetch(&ns->frees_pending, tc->frees[i].count, __ATOMIC_RELAXED);
	rcu_defer(&df->rcu, deferred_free_cb);
}

/* --- room in the log --- */

size_t ns_log_essential_keep(struct ns *ns)
{
	/* Once per transaction: from the area's length alone, not the log lock's stats. */
	uint64_t len = mlog_area_len(ns->log);

	return (size_t)MIN(len / 16, MAX(UINT64_C(64) << 10, len / 64));
}

/* tx_keep - the room @tx must leave free after it, for the tiers of the file comment. */
static size_t tx_keep(struct ns *ns, const struct ns_cred *cred, const struct mlog_tx *tx)
{
	bool essential = true, shrinks = true;
	size_t keep;

	for (size_t o = 0; o < tx->used;) {
		const struct fmt_rec *h = (const struct fmt_rec *)(tx->buf + o);

		if (h->type != FMT_REC_BADBLOCK && h->type != FMT_REC_HOLD &&
		    h->type != FMT_REC_RELEASE)
			essential = false;
		if (h->type != FMT_REC_INODE && h->type != FMT_REC_DIRENT_DEL &&
		    h->type != FMT_REC_INODE_DEL && h->type != FMT_REC_XATTR_DEL)
			shrinks = false;
		o += h->len;
	}
	if (essential)
		return 0;
	keep = ns_log_essential_keep(ns);
	if (!shrinks)
		keep += LOG_KEEP_FOR_REMOVAL;
	if (!ns_cred_reserve(cred))
		keep += ns->reserve_log;
	return keep;
}

/* tx_reserve - mlog_reserve @tx's bytes, provided @keep more bytes stay free after them. */
static int tx_reserve(struct ns *ns, const struct mlog_tx *tx, size_t keep)
{
	return mlog_reserve_keep(ns->log, mlog_tx_bytes(tx), keep);
}

/*
 * tx_room - hold the tx lock shared with room for @tx reserved in the log, checkpointing
 * once when there is none. The room taken right after the checkpoint, under the write lock,
 * stays this transaction's while the lock is taken again shared: a thread that waited long
 * for the read lock must not find the log filled again by the others and give up with a
 * log that a checkpoint just emptied.
 * Return: 0 (tx lock held shared, room reserved); -ENOSPC (the log is full even after a
 *         checkpoint), -EROFS, or a checkpoint's error (tx lock not held).
 */
static int tx_room(struct ns *ns, struct mlog_tx *tx, size_t keep)
{
	int rc;

	brlock_rdlock(&ns->txlock);
	rc = tx_reserve(ns, tx, keep);
	if (rc != -ENOSPC) {
		if (rc)
			brlock_rdunlock(&ns->txlock);
		return rc;
	}
	brlock_rdunlock(&ns->txlock);
	brlock_wrlock(&ns->txlock);
	rc = tx_reserve(ns, tx, keep); /* someone else's checkpoint may have made room */
	if (rc == -ENOSPC) {
		rc = ns_checkpoint_locked(ns);
		if (rc == 0)
			rc = tx_reserve(ns, tx, keep);
	}
	brlock_wrunlock(&ns->txlock);
	if (rc) {
		if (rc == -ENOSPC)
			log_info("%s: metadata log full", region_path(ns->r));
		return rc;
	}
	brlock_rdlock(&ns->txlock);
	return 0;
}

/* --- what a transaction frees (for the HOLD records that must ride with it) --- */

/*
 * owned_runs - the blocks pages [@index, @index + @count) of @ino map now (quarantined ones
 * too), into @tc: the runs __release() in nsapply.c will free.
 * Locking: RCU read side; the caller holds the file's inode lock and entry locks.
 */
static int owned_runs(struct ns *ns, uint64_t ino, uint64_t index, uint64_t count,
		      struct ns_txctx *tc)
{
	struct ns_inode *in = ns_inode_find(ns, ino);
	uint64_t end =
		count > NS_PAGES_MAX - MIN(index, NS_PAGES_MAX) ? NS_PAGES_MAX : index + count;
	uint64_t i = index;
	unsigned order;
	bm_entry e;
	int rc = 0;

	if (!in || !ns_has_map(in->type) || index >= end)
		return 0;
	while (rc == 0 && (e = xt_find(&in->map, &i, end - 1, XT_MARK_ANY, &order)) != XT_EMPTY) {
		uint64_t n = UINT64_C(1) << order, lo = MAX(i, index), hi = MIN(i + n, end);

		if (!bm_is_hole(e))
			rc = ns_txctx_add_run(tc, bm_to_block(e) + (lo - i), hi - lo);
		i += n;
		if (i == 0 || i >= end)
			break;
	}
	return rc;
}

/*
 * tx_frees - the runs applying @tx will free (before the grace period), as apply would find
 * them: what INODE_DEL, UNMAP and MAP take away. Quarantined blocks among them stay
 * quarantined (alloc_free), as they would.
 * Locking: as ns_tx_check.
 */
static int tx_frees(struct ns *ns, const struct mlog_tx *tx, struct ns_txctx *tc)
{
	int rc = 0;

	rcu_read_begin();
	for (size_t o = 0; o < tx->used && rc == 0;) {
		const struct fmt_rec *h = (const struct fmt_rec *)(tx->buf + o);
		const void *p = h + 1;

		if (h->type == FMT_REC_INODE_DEL)
			rc = owned_runs(ns, ((const struct fmt_inode_del *)p)->ino, 0, NS_PAGES_MAX,
					tc);
		else if (h->type == FMT_REC_UNMAP)
			rc = owned_runs(ns, ((const struct fmt_unmap *)p)->ino,
					((const struct fmt_unmap *)p)->index,
					((const struct fmt_unmap *)p)->count, tc);
		else if (h->type == FMT_REC_MAP)
			rc = owned_runs(ns, ((const struct fmt_map *)p)->ino,
					((const struct fmt_map *)p)->index,
					((const struct fmt_map *)p)->count, tc);
		o += h->len;
	}
	rcu_read_end();
	return rc;
}

/* --- what readers see while a transaction is applied --- */

#define TOUCH_MAX (2 * FMT_TX_MAX_RECS)

/* The existing inodes a transaction describes, whose sequence counts are odd meanwhile. */
struct touched {
	struct ns_inode *v[TOUCH_MAX];
	unsigned n;
};

static void touch_one(struct ns *ns, struct touched *t, uint64_t ino)
{
	struct ns_inode *in = ns_inode_find(ns, ino);

	if (!in || t->n == TOUCH_MAX)
		return;
	for (unsigned i = 0; i < t->n; i++)
		if (t->v[i] == in)
			return;
	if (!ns_inode_tryget(in))
		return;
	t->v[t->n++] = in;
	__atomic_store_n(&in->seq, in->seq + 1, __ATOMIC_RELEASE);
}

/*
 * touch - make the sequence count of every existing inode @tx's records describe odd, so
 * lock-free readers (walk.c) wait for the whole transaction instead of seeing part of it.
 * Inodes it creates are whole before they are published (nsapply.c).
 * Locking: the caller holds the inode locks of them all (so no other writer moves a count).
 */
static void touch(struct ns *ns, const struct mlog_tx *tx, size_t used, struct touched *t)
{
	t->n = 0;
	rcu_read_begin();
	for (size_t o = 0; o < used;) {
		const struct fmt_rec *h = (const struct fmt_rec *)(tx->buf + o);
		const void *p = h + 1;

		switch (h->type) {
		case FMT_REC_INODE:
			touch_one(ns, t, ((const struct fmt_inode *)p)->ino);
			break;
		case FMT_REC_DIRENT_ADD:
			touch_one(ns, t, ((const struct fmt_dirent *)p)->dir);
			break;
		case FMT_REC_DIRENT_DEL:
			touch_one(ns, t, ((const struct fmt_dirent_del *)p)->dir);
			break;
		case FMT_REC_INODE_DEL:
			touch_one(ns, t, ((const struct fmt_inode_del *)p)->ino);
			break;
		case FMT_REC_MAP:
			touch_one(ns, t, ((const struct fmt_map *)p)->ino);
			break;
		case FMT_REC_UNMAP:
			touch_one(ns, t, ((const struct fmt_unmap *)p)->ino);
			break;
		case FMT_REC_SYMLINK:
			touch_one(ns, t, ((const struct fmt_symlink *)p)->ino);
			break;
		case FMT_REC_XATTR_SET:
			touch_one(ns, t, ((const struct fmt_xattr *)p)->ino);
			break;
		case FMT_REC_XATTR_DEL:
			touch_one(ns, t, ((const struct fmt_xattr_del *)p)->ino);
			break;
		default:
			break;
		}
		o += h->len;
	}
	rcu_read_end();
}

/* untouch - the transaction is applied: the counts even again. */
static void untouch(struct ns *ns, struct touched *t)
{
	for (unsigned i = 0; i < t->n; i++) {
		__atomic_store_n(&t->v[i]->seq, t->v[i]->seq + 1, __ATOMIC_RELEASE);
		ns_inode_put(ns, t->v[i]);
	}
}

/* --- running a transaction --- */

static int tx_run(struct ns *ns, const struct ns_cred *cred, struct mlog_tx *tx,
		  struct ns_hold *hold)
{
	struct ns_txctx tc = {.live = true}, preview = {.live = true};
	struct touched t;
	bool held = false;
	size_t used;
	int rc;

	rc = ns_writable(ns);
	if (rc)
		return rc;
	if (tx->err)
		return tx->err;
	if (!tx->used)
		return 0;
	rc = tx_room(ns, tx, tx_keep(ns, cred, tx));
	if (rc)
		return rc;
	rc = fault_at(FAULT_LOG_APPEND);
	if (rc == 0) {
		rc = ns_tx_check(ns, tx);
		if (rc)
			ns_tx_fail(ns, rc, "checking a transaction");
	}
	if (rc) {
		/* As a full log would: nothing applied, nothing written. */
		mlog_unreserve(ns->log, mlog_tx_bytes(tx));
		brlock_rdunlock(&ns->txlock);
		return rc == -EUCLEAN ? -EIO : rc;
	}
	/* HOLD records for what the transaction frees ride in it, so a crash keeps the hold. */
	if (hold && ns->hooks.tx_hold_records && tx_frees(ns, tx, &preview) == 0 && preview.nfrees)
		held = ns->hooks.tx_hold_records(ns, hold, tx, &preview);
	free(preview.frees);
	used = tx->used;
	rc = mlog_commit(ns->log, tx);
	if (rc) {
		brlock_rdunlock(&ns->txlock);
		ns_tx_fail(ns, rc, "committing a transaction");
		return -EIO;
	}
	/* Durable: now visible, all at once. mlog_commit reset @tx but left its bytes. */
	touch(ns, tx, used, &t);
	for (size_t o = 0; o < used;) {
		const struct fmt_rec *h = (const struct fmt_rec *)(tx->buf + o);

		rc = ns_apply(ns, &tc, h, h + 1, h->len - sizeof(*h));
		if (rc)
			break;
		o += h->len;
	}
	untouch(ns, &t);
	brlock_rdunlock(&ns->txlock);
	if (rc == 0)
		ns_observe_tx(ns, cred ? cred->origin : NULL, tx->buf, used);
	if (rc) {
		/* The log has it: the next mount applies it; until then, read-only. */
		ns_tx_fail(ns, rc, "applying a committed transaction");
		free(tc.frees);
		return -EIO;
	}
	if (hold && tc.nfrees && ns->hooks.tx_hold_runs)
		ns->hooks.tx_hold_runs(ns, hold, &tc, held);
	queue_frees(ns, &tc);
	free(tc.frees);
	return 0;
}

int ns_tx_run(struct ns *ns, const struct ns_cred *cred, struct mlog_tx *tx)
{
	return tx_run(ns, cred, tx, NULL);
}

int ns_tx_run_held(struct ns *ns, const struct ns_cred *cred, struct mlog_tx *tx,
		   struct ns_hold *hold)
{
	int rc = tx_run(ns, cred, tx, hold);

	if (hold && ns->hooks.hold_put)
		ns->hooks.hold_put(ns, hold);
	return rc;
}

/* --- checkpoints --- */

/* snap_maps - the MAP records of file @in: runs of pages on consecutive blocks. */
static int snap_maps(struct mlog_snap *s, struct ns_inode *in)
{
	uint64_t i, run_index = 0, run_block = 0, run_count = 0;
	unsigned order, run_order = 0;
	bm_entry e;
	int rc;

	xt_for_each (&in->map, i, order, e, 0, XT_INDEX_MAX) {
		uint64_t n = UINT64_C(1) << order;

		if (!xt_is_value(e) || bm_is_hole(e))
			continue;
		if (run_count && run_order == order && run_index + run_count == i &&
		    run_block + run_count == bm_to_block(e) && run_count + n <= UINT32_MAX) {
			run_count += n;
			continue;
		}
		if (run_count) {
			struct fmt_map m = {in->ino, run_index, run_block, (uint32_t)run_count,
					    run_order};

			rc = mlog_snap_add(s, FMT_REC_MAP, &m, sizeof(m));
			if (rc)
				return rc;
		}
		run_index = i;
		run_block = bm_to_block(e);
		run_count = n;
		run_order = order;
	}
	if (run_count) {
		struct fmt_map m = {in->ino, run_index, run_block, (uint32_t)run_count, run_order};

		return mlog_snap_add(s, FMT_REC_MAP, &m, sizeof(m));
	}
	return 0;
}

/* snap_dirents - the DIRENT_ADD records of directory @dir. */
static int snap_dirents(struct mlog_snap *s, struct ns_inode *dir)
{
	uint8_t buf[sizeof(struct fmt_dirent) + FMT_NAME_MAX + 8];
	struct fmt_dirent *fd = (struct fmt_dirent *)buf;
	uint64_t i;
	unsigned order;
	xt_entry e;
	int rc;

	xt_for_each (&dir->map, i, order, e, 0, XT_INDEX_MAX) {
		struct ns_dirent *d = xt_to_ptr(e);

		memset(buf, 0, sizeof(buf));
		fd->dir = dir->ino;
		fd->ino = d->ino;
		fd->name_len = d->name_len;
		memcpy(fd->name, d->name, d->name_len);
		rc = mlog_snap_add(s, FMT_REC_DIRENT_ADD, fd, sizeof(*fd) + d->name_len);
		if (rc)
			return rc;
	}
	return 0;
}

/* snap_symlink - the SYMLINK record of a link with a short target (a long one is a MAP). */
static int snap_symlink(struct mlog_snap *s, struct ns_inode *in)
{
	uint8_t buf[sizeof(struct fmt_symlink) + FMT_SYMLINK_INLINE + 8];
	struct fmt_symlink *l = (struct fmt_symlink *)buf;
	const char *t = rcu_fetch(in->link);

	if (!t)
		return 0;
	memset(buf, 0, sizeof(buf));
	l->ino = in->ino;
	l->len = (uint32_t)strlen(t);
	memcpy(l->target, t, l->len);
	return mlog_snap_add(s, FMT_REC_SYMLINK, l, sizeof(*l) + l->len);
}

struct snap_bad {
	struct mlog_snap *s;
	int rc;
};

static void snap_badblock(uint64_t block, uint64_t count, void *ctx)
{
	struct snap_bad *sb = ctx;
	struct fmt_badblock b = {block, count};

	if (!sb->rc)
		sb->rc = mlog_snap_add(sb->s, FMT_REC_BADBLOCK, &b, sizeof(b));
}

int ns_snapshot(struct ns *ns, struct mlog_snap *s)
{
	struct cds_lfht_iter it;
	struct ns_inode *in;
	struct snap_bad bad;
	int rc = 0;

	/*
	 * A checkpoint walks under the tx lock; ns_capacity (counting) walks beside running
	 * transactions, and sees each inode as its lookup would: what the adder published
	 * before cds_lfht_add (inode.c's release; the acquire here says so to ThreadSanitizer).
	 */
	rcu_read_begin();
	/* Pass 1: every inode. */
	cds_lfht_for_each_entry (ns->inodes, &it, in, hnode) {
		struct fmt_inode fi = {0};

		RCU_TSAN_ACQUIRE(in);
		/* Only a checkpoint takes the attributes (and makes lazy ones durable). */
		if (!s->counting)
			ns_inode_rec_now(in, &fi);
		rc = mlog_snap_add(s, FMT_REC_INODE, &fi, sizeof(fi));
		if (rc)
			goto out;
	}
	/* Pass 2: names, block maps, link targets, extended attributes. */
	cds_lfht_for_each_entry (ns->inodes, &it, in, hnode) {
		RCU_TSAN_ACQUIRE(in);
		rc = S_ISDIR(in->type) ? snap_dirents(s, in) : snap_maps(s, in);
		if (rc == 0 && S_ISLNK(in->type))
			rc = snap_symlink(s, in);
		if (rc == 0)
			rc = ns_snap_xattrs(s, in);
		if (rc)
			goto out;
	}
out:
	rcu_read_end();
	if (rc == 0) {
		bad = (struct snap_bad){s, 0};
		alloc_for_each_quarantined(ns->alloc, snap_badblock, &bad);
		rc = bad.rc;
	}
	if (rc == 0 && ns->hooks.snapshot)
		rc = ns->hooks.snapshot(ns, s);
	return rc;
}

int ns_checkpoint_locked(struct ns *ns)
{
	struct mlog_snap s;
	int rc;

	rc = ns_writable(ns);
	if (rc)
		return rc;
	mlog_snap_begin(ns->log, &s);
	rc = ns_snapshot(ns, &s);
	if (rc) {
		if (rc == -ENOSPC)
			log_warn("%s: checkpoint does not fit in a log area: metadata log full",
				 region_path(ns->r));
		return rc;
	}
	rc = mlog_snap_commit(&s, __atomic_load_n(&ns->next_ino, __ATOMIC_ACQUIRE));
	if (rc == 0)
		log_dbg("%s: checkpoint: %" PRIu64 " records", region_path(ns->r), s.records);
	return rc;
}

int ns_checkpoint_after(struct ns *ns, int (*fn)(struct ns *ns, void *ctx), void *ctx)
{
	int rc;

	brlock_wrlock(&ns->txlock);
	rc = fn(ns, ctx);
	if (rc == 0)
		rc = ns_checkpoint_locked(ns);
	brlock_wrunlock(&ns->txlock);
	return rc;
}

int ns_checkpoint(struct ns *ns)
{
	int rc;

	brlock_wrlock(&ns->txlock);
	rc = ns_checkpoint_locked(ns);
	brlock_wrunlock(&ns->txlock);
	return rc;
}
