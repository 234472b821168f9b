// SPDX-License-Identifier: MIT
/*
 * File contents: read, write, truncate, fallocate, punch-hole, fsync. Changes run under the
 * inode lock (taken with ns_ilock: a caller that finds it taken parks); reads run under RCU
 * only. New blocks are filled (data or zeros) and persisted before the MAP record that makes
 * them reachable commits (DESIGN §9). What frees or moves blocks a client maps breaks the
 * leases first (lease.c), before it changes anything: a run that parks has done nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fault.h"
#include "log.h"
#include "nsint.h"
#include "observe.h"
#include "poison.h"
#include "util.h"

#define PAGE FMT_BLOCK_SIZE
#define HUGE_PAGES FMT_CHUNK_BLOCKS
#define TX_BATCH 60 /* MAP records per transaction, well under FMT_TX_MAX_RECS */

static void *block_addr(struct ns *ns, uint64_t block)
{
	return region_at(ns->r, block * PAGE);
}

/*
 * page_block - the block behind page @idx, or UINT64_MAX for a hole; *@poisoned tells a page
 * whose block is quarantined. Locking: RCU read side or the inode lock.
 */
static uint64_t page_block(struct ns *ns, struct ns_inode *in, uint64_t idx, bool *poisoned)
{
	uint64_t first, blk;
	xt_entry e = __xt_load(&in->map, idx, &first, NULL);

	*poisoned = false;
	if (!xt_is_value(e) || bm_is_hole(e))
		return UINT64_MAX;
	blk = bm_to_block(e) + (idx - first);
	if (bm_is_poison(e) && alloc_is_quarantined(ns->alloc, blk))
		*poisoned = true;
	return blk;
}

void ns_lock_pages(struct ns_inode *in, uint64_t start, uint64_t end)
{
	if (!S_ISDIR(in->type))
		bm_lock_range(&in->map, start, end);
}

void ns_unlock_pages(struct ns_inode *in, uint64_t start, uint64_t end)
{
	if (!S_ISDIR(in->type))
		bm_unlock_range(&in->map, start, end);
}

/* ns_zero_tail - zero [@from, end of its page) of @in's page at @from if it has a block. */
static void zero_tail(struct ns *ns, struct ns_inode *in, uint64_t from)
{
	uint64_t blk;
	bool poisoned;

	if (from % PAGE == 0)
		return;
	rcu_read_begin();
	blk = page_block(ns, in, from / PAGE, &poisoned);
	rcu_read_end();
	if (blk == UINT64_MAX || poisoned)
		return;
	/* A media error is queued for poison_drain(): the page then reads EIO, not old bytes. */
	region_memset_safe(ns->r, (char *)block_addr(ns, blk) + from % PAGE, 0, PAGE - from % PAGE,
			   REGION_NODRAIN, NULL);
}

/*
 * zero_gap - zero the blocks behind bytes [@from, @to) that a size change is about to make
 * visible. Blocks past the size are zeroed when they are allocated, but a write killed before
 * its INODE record committed may have copied its data into them (DESIGN §9: a file shows no
 * bytes it never wrote, and a grow reads as zeros). Only mapped pages cost anything.
 * Not drained: the caller drains before committing the new size.
 * Locking: caller holds the inode lock.
 */
static void zero_gap(struct ns *ns, struct ns_inode *in, uint64_t from, uint64_t to)
{
	uint64_t i = from / PAGE;
	unsigned order;
	xt_entry e;

	if (from >= to)
		return;
	rcu_read_begin();
	while ((e = xt_find(&in->map, &i, (to - 1) / PAGE, XT_MARK_ANY, &order)) != XT_EMPTY) {
		uint64_t n = UINT64_C(1) << order;
		uint64_t lo = MAX(from, i * PAGE), hi = MIN(to, (i + n) * PAGE);

		for (uint64_t p = lo; p < hi;) {
			uint64_t pend = MIN(hi, ALIGN_DOWN(p, PAGE) + PAGE);
			bool poisoned;
			uint64_t blk = page_block(ns, in, p / PAGE, &poisoned);

			if (blk != UINT64_MAX && !poisoned)
				region_memset_safe(ns->r, (char *)block_addr(ns, blk) + p % PAGE, 0,
						   pend - p, REGION_NODRAIN, NULL);
			p = pend;
		}
		i += n;
		if (i == 0 || i * PAGE >= to)
			break;
	}
	rcu_read_end();
}

/* --- reading --- */

ssize_t ns_read(struct ns *ns, struct ns_ctx *c, uint64_t ino, void *buf, size_t len, uint64_t off)
{
	struct ns_inode *in;
	uint64_t size, pos, end;
	struct ns_attr a;
	ssize_t rc = 0;

	in = ns_inode_get(ns, ino);
	if (!in)
		return -ENOENT;
	if (!S_ISREG(in->type)) {
		rc = S_ISDIR(in->type) ? -EISDIR : -EINVAL;
		goto out;
	}
	ns_fill_attr(in, &a);
	rc = ns_inode_permission(c ? c->cred : NULL, in, &a, NS_MAY_READ);
	if (rc)
		goto out;
	size = a.size;
	if (off >= size || len == 0)
		goto out;
	end = off + MIN((uint64_t)len, size - off);
	pos = off;
	while (pos < end) {
		/* A bounded read section per 64 pages: grace periods are not held up long. */
		rcu_read_begin();
		for (unsigned k = 0; k < 64 && pos < end; k++) {
			uint64_t n = MIN(PAGE - pos % PAGE, end - pos);
			bool poisoned;
			uint64_t blk = page_block(ns, in, pos / PAGE, &poisoned);
			char *dst = (char *)buf + (pos - off);

			if (blk == UINT64_MAX)
				memset(dst, 0, n);
			else if (poisoned ||
				 region_read(ns->r, dst, (char *)block_addr(ns, blk) + pos % PAGE,
					     n, NULL)) {
				rcu_read_end();
				rc = pos > off ? (ssize_t)(pos - off) : -EIO;
				goto out;
			}
			pos += n;
		}
		rcu_read_end();
	}
	rc = (ssize_t)(end - off);
out:
	ns_inode_put(ns, in);
	/* A copy that hit a media error queued it: quarantine it now that nothing is held. */
	poison_drain(ns);
	return rc;
}

/* --- filling new blocks --- */

/* What new blocks get: bytes [off, end) of the file come from @buf (zeros when NULL). */
struct fill {
	const uint8_t *buf;
	uint64_t off, end;
	const struct ns_cred *cred; /* whose write: may it use the reserved blocks? */
};

/*
 * fill_blocks - write pages [idx, idx + n) into blocks [blk, ...): data where @f covers them,
 * zeros everywhere else. Not drained: the caller drains once before committing.
 * SIGBUS-safe: a media error is queued for poison_drain() (the caller gives the blocks back
 * first, so it quarantines them as free blocks).
 * Return: 0; -EIO (a fault: the blocks hold no useful data).
 */
static int fill_blocks(struct ns *ns, uint64_t idx, uint64_t blk, uint64_t n, const struct fill *f)
{
	uint64_t lo = idx * PAGE, hi = (idx + n) * PAGE;
	uint64_t dlo = MAX(lo, f->off), dhi = MIN(hi, f->end);
	char *base = block_addr(ns, blk);
	int rc = 0;

	if (!f->buf || dlo >= dhi)
		return region_memset_safe(ns->r, base, 0, hi - lo,
					  REGION_NODRAIN | REGION_NONTEMPORAL, NULL);
	if (dlo > lo)
		rc = region_memset_safe(ns->r, base, 0, dlo - lo, REGION_NODRAIN, NULL);
	if (rc == 0)
		rc = region_memcpy_safe(ns->r, base + (dlo - lo), f->buf + (dlo - f->off),
					dhi - dlo, REGION_NODRAIN, NULL);
	if (rc == 0 && hi > dhi)
		rc = region_memset_safe(ns->r, base + (dhi - lo), 0, hi - dhi, REGION_NODRAIN,
					NULL);
	return rc;
}

/* Blocks taken by the batch in flight, returned if its transaction fails. */
struct taken {
	struct ns_run runs[TX_BATCH + 1];
	unsigned n;
	uint64_t repaired[TX_BATCH + 1]; /* poisoned pages whose entry lock we hold */
	unsigned nrepaired;
	struct ns_hold *hold; /* for mappers of repaired pages that did not let go: the first
			       * transaction takes it */
};

static void add_map(struct mlog_tx *tx, uint64_t ino, uint64_t idx, uint64_t blk, uint64_t count,
		    unsigned order)
{
	struct fmt_map *m = mlog_tx_add(tx, FMT_REC_MAP, sizeof(*m));

	if (m)
		*m = (struct fmt_map){ino, idx, blk, (uint32_t)count, order};
}

/* chunk_empty - does @in map nothing in the 2 MiB chunk of page @idx? Locking: inode lock. */
static bool chunk_empty(struct ns_inode *in, uint64_t idx)
{
	uint64_t i = ALIGN_DOWN(idx, (uint64_t)HUGE_PAGES);

	return xt_find(&in->map, &i, i + HUGE_PAGES - 1, XT_MARK_ANY, NULL) == XT_EMPTY;
}

/*
 * alloc_at - back the hole at page @idx (and the holes after it, up to page @last) with new
 * blocks filled from @f; add the MAP record to @tx.
 * A file that grows past 2 MiB gets whole 2 MiB chunks (DESIGN §3.3); a small one gets
 * 4 KiB blocks next to its previous page's block when possible.
 * Locking: inode lock held.
 * Return: pages backed (> 0), or -ENOSPC, or -EIO (filling them faulted: given back).
 */
static int64_t alloc_at(struct ns *ns, struct ns_inode *in, uint64_t idx, uint64_t last,
			uint64_t new_size, const struct fill *f, struct mlog_tx *tx,
			struct taken *tk)
{
	uint64_t chunk = ALIGN_DOWN(idx, (uint64_t)HUGE_PAGES), blk, got, want, i,
		 goal = UINT64_MAX;
	bool poisoned;
	int rc;

	rc = fault_at(FAULT_ALLOC);
	if (rc)
		return rc;
	if (new_size > FMT_CHUNK_SIZE && chunk_empty(in, idx) &&
	    ns_alloc_huge(ns, f->cred, &blk) == 0) {
		if (fill_blocks(ns, chunk, blk, HUGE_PAGES, f)) {
			alloc_free(ns->alloc, blk, HUGE_PAGES);
			return -EIO;
		}
		add_map(tx, in->ino, chunk, blk, HUGE_PAGES, 9);
		tk->runs[tk->n++] = (struct ns_run){blk, HUGE_PAGES};
		return (int64_t)(chunk + HUGE_PAGES - idx);
	}
	/* The hole run: up to the next mapped page, the end of the range, or a chunk. */
	i = idx;
	want = last - idx + 1;
	if (xt_find(&in->map, &i, last, XT_MARK_ANY, NULL) != XT_EMPTY)
		want = i > idx ? i - idx : 1;
	want = MIN(want, (uint64_t)HUGE_PAGES);
	if (idx > 0) {
		rcu_read_begin();
		goal = page_block(ns, in, idx - 1, &poisoned);
		rcu_read_end();
		if (goal != UINT64_MAX)
			goal++;
	}
	rc = ns_alloc_blocks(ns, f->cred, goal, want, &blk, &got);
	if (rc)
		return rc;
	if (fill_blocks(ns, idx, blk, got, f)) {
		alloc_free(ns->alloc, blk, got);
		return -EIO;
	}
	add_map(tx, in->ino, idx, blk, got, 0);
	tk->runs[tk->n++] = (struct ns_run){blk, got};
	return (int64_t)got;
}

static void give_back(struct ns *ns, struct taken *tk)
{
	for (unsigned i = 0; i < tk->n; i++)
		alloc_free(ns->alloc, tk->runs[i].block, tk->runs[i].count);
	tk->n = 0;
}

/* add_size_rec - the INODE record after a change of contents. Locking: inode lock held. */
static void add_size_rec(struct mlog_tx *tx, struct ns_inode *in, uint64_t size, int64_t now)
{
	struct fmt_inode *fi = mlog_tx_add(tx, FMT_REC_INODE, sizeof(*fi));

	if (!fi)
		return;
	pthread_mutex_lock(&in->attr_lock);
	ns_inode_rec(in, fi);
	in->attr_dirty = false;
	pthread_mutex_unlock(&in->attr_lock);
	fi->size = MAX(fi->size, size);
	fi->mtime = fi->ctime = now;
}

/*
 * commit_batch - drain the data written so far, then commit @tx; on failure give the batch's
 * blocks back. Return: 0 or ns_tx_run's error.
 */
static int commit_batch(struct ns *ns, const struct ns_cred *cred, struct ns_inode *in,
			struct mlog_tx *tx, struct taken *tk)
{
	int rc;

	region_drain(ns->r);
	fault_at(FAULT_DATA_WRITE);
	if (!tx->nrecs)
		return 0;
	rc = ns_tx_run_held(ns, cred, tx, tk->hold);
	tk->hold = NULL;
	if (rc) {
		if (rc != -EIO)
			give_back(ns, tk);
		for (unsigned i = 0; i < tk->nrepaired; i++)
			ns_unlock_pages(in, tk->repaired[i], tk->repaired[i] + 1);
	}
	tk->n = 0;
	tk->nrepaired = 0;
	mlog_tx_reset(tx);
	return rc;
}

/*
 * batch_locked - does the batch in flight already hold the entry lock of the entry that
 * covers page @idx (a page it repairs in the same 2 MiB entry)? Until the batch commits, the
 * entries of the file keep their shape. Locking: inode lock held.
 */
static bool batch_locked(struct ns_inode *in, const struct taken *tk, uint64_t idx)
{
	uint64_t first = 0;
	unsigned order = 0;
	xt_entry e;

	rcu_read_begin();
	e = __xt_load(&in->map, idx, &first, &order);
	rcu_read_end();
	if (e == XT_EMPTY)
		return false;
	for (unsigned i = 0; i < tk->nrepaired; i++)
		if (tk->repaired[i] >= first && tk->repaired[i] - first < (UINT64_C(1) << order))
			return true;
	return false;
}

/*
 * fill_range - write (@f->buf) or preallocate (@f->buf NULL) bytes [@f->off, @f->end):
 * overwrite mapped pages (writes only), back holes with new blocks, repair fully written
 * poisoned pages (whose leases the caller broke, handing over *@hold), growing the size to
 * @f->end unless @keep_size.
 * Locking: inode lock held.
 * Return: bytes done (a short count after a committed batch), or a negative errno.
 */
static int64_t fill_range(struct ns *ns, struct ns_inode *in, const struct fill *f, bool keep_size,
			  struct ns_hold *hold)
{
	uint64_t pos = f->off, done_to = f->off, last = (f->end - 1) / PAGE, old_size;
	uint64_t new_size;
	struct taken tk = {.n = 0, .nrepaired = 0, .hold = hold};
	struct mlog_tx tx;
	int64_t now = now_ns();
	int64_t rc = 0;

	pthread_mutex_lock(&in->attr_lock);
	old_size = in->size;
	pthread_mutex_unlock(&in->attr_lock);
	new_size = keep_size ? old_size : MAX(old_size, f->end);
	if (new_size > old_size) {
		zero_tail(ns, in, old_size);
		/* What the range does not cover becomes visible too: a write's gap. */
		zero_gap(ns, in, ALIGN_UP(old_size, (uint64_t)PAGE),
			 f->buf ? MIN(f->off, new_size) : new_size);
	}
	mlog_tx_init(&tx);
	while (pos < f->end) {
		uint64_t idx = pos / PAGE, n = MIN(PAGE - pos % PAGE, f->end - pos);
		bool poisoned;
		uint64_t blk;

		rcu_read_begin();
		blk = page_block(ns, in, idx, &poisoned);
		rcu_read_end();
		if (blk != UINT64_MAX && !poisoned) {
			if (f->buf)
				rc = region_memcpy_safe(
					ns->r, (char *)block_addr(ns, blk) + pos % PAGE,
					f->buf + (pos - f->off), n, REGION_NODRAIN, NULL);
			if (rc)
				break; /* a media error, queued: the page reads EIO from now on */
			pos += n;
			continue;
		}
		if (poisoned) {
			uint64_t nb, got;

			/* Repair by rewrite: only a write of the whole page may replace it. */
			if (!f->buf || n != PAGE) {
				rc = f->buf ? -EIO : 0;
				if (rc)
					break;
				pos += n;
				continue;
			}
			rc = ns_alloc_blocks(ns, f->cred, UINT64_MAX, 1, &nb, &got);
			if (rc)
				break;
			if (fill_blocks(ns, idx, nb, 1, f)) {
				alloc_free(ns->alloc, nb, 1);
				rc = -EIO;
				break;
			}
			/* A 2 MiB entry with two poisoned pages is locked once per batch. */
			if (!batch_locked(in, &tk, idx)) {
				ns_lock_pages(in, idx, idx + 1);
				tk.repaired[tk.nrepaired++] = idx;
			}
			add_map(&tx, in->ino, idx, nb, 1, 0);
			tk.runs[tk.n++] = (struct ns_run){nb, 1};
			pos += n;
		} else {
			int64_t pages = alloc_at(ns, in, idx, last, new_size, f, &tx, &tk);

			if (pages < 0) {
				rc = pages;
				break;
			}
			pos = MIN(f->end, (idx + (uint64_t)pages) * PAGE);
		}
		if (tx.nrecs >= TX_BATCH) {
			add_size_rec(&tx, in, keep_size ? 0 : pos, now);
			rc = commit_batch(ns, f->cred, in, &tx, &tk);
			if (rc)
				break;
			done_to = pos;
		}
	}
	/*
	 * Commit what was done, also after an error: pages written before it stay. When nothing
	 * was done (pos == f->off), the size stays too: a failed write changes nothing.
	 */
	if (tx.nrecs || (!keep_size && pos > old_size && pos > f->off)) {
		int err;

		add_size_rec(&tx, in, keep_size ? 0 : pos, now);
		err = commit_batch(ns, f->cred, in, &tx, &tk);
		if (err == 0)
			done_to = pos;
		else if (rc == 0)
			rc = err;
	} else {
		done_to = pos;
		if (f->buf && pos > f->off) {
			/* A pure overwrite: mtime is kept lazily (DESIGN §9, ns_fsync). */
			pthread_mutex_lock(&in->attr_lock);
			in->mtime = in->ctime = now;
			in->attr_dirty = true;
			pthread_mutex_unlock(&in->attr_lock);
		}
	}
	ns_hold_put(ns, tk.hold); /* no transaction took it */
	mlog_tx_release(&tx);
	region_drain(ns->r);
	if (done_to > f->off)
		return (int64_t)(done_to - f->off);
	return rc;
}

/*
 * get_file - a reference on the regular file @ino, with its inode lock held, when @c may have
 * @mask (NS_MAY_*, 0: nothing) on it: checked under the lock, against what the change sees.
 * Return: 0; NS_WAIT (the lock is taken: parked); -ENOENT; -EISDIR; -EACCES.
 */
static int get_file(struct ns *ns, struct ns_ctx *c, uint64_t ino, unsigned mask,
		    struct ns_inode **out)
{
	struct ns_inode *in = ns_inode_get(ns, ino);
	struct ns_attr a;
	int rc;

	if (!in)
		return -ENOENT;
	rc = S_ISDIR(in->type) ? -EISDIR : !S_ISREG(in->type) ? -EINVAL : ns_ilock(ns, c, in);
	if (rc) {
		ns_inode_put(ns, in);
		return rc;
	}
	if (__atomic_load_n(&in->dying, __ATOMIC_ACQUIRE)) {
		rc = -ENOENT;
	} else if (mask) {
		ns_fill_attr(in, &a);
		rc = ns_inode_permission(c->cred, in, &a, mask);
	}
	if (rc) {
		ns_iunlock(in);
		ns_inode_put(ns, in);
		return rc;
	}
	*out = in;
	return 0;
}

static void put_file(struct ns *ns, struct ns_inode *in)
{
	ns_iunlock(in);
	ns_inode_put(ns, in);
}

/*
 * poisoned_span - the first and last poisoned page a write of bytes [@off, @end) covers whole
 * (it will move them to fresh blocks: their mappers must let go first).
 * Locking: inode lock held. Return: false when there is none.
 */
static bool poisoned_span(struct ns *ns, struct ns_inode *in, uint64_t off, uint64_t end,
			  uint64_t *first, uint64_t *last)
{
	uint64_t lo = DIV_ROUND_UP(off, PAGE), hi = end / PAGE, i = lo;
	bool any = false;
	unsigned order;
	bm_entry e;

	if (lo >= hi)
		return false;
	rcu_read_begin();
	while ((e = xt_find(&in->map, &i, hi - 1, XT_MARK_ANY, &order)) != XT_EMPTY) {
		uint64_t n = UINT64_C(1) << order;

		for (uint64_t p = MAX(i, lo); bm_is_poison(e) && p < MIN(i + n, hi); p++) {
			if (!alloc_is_quarantined(ns->alloc, bm_to_block(e) + (p - i)))
				continue;
			if (!any)
				*first = p;
			*last = p;
			any = true;
		}
		i += n;
		if (i == 0 || i >= hi)
			break;
	}
	rcu_read_end();
	return any;
}

/*
 * kill_privs - a write by anyone but the super user drops the file's set-user-id bit, and
 * its set-group-id bit when the group may execute (Linux's file_remove_privs), durably
 * before the data changes. Locking: @in's inode lock held. Return: 0; a transaction's
 * error.
 */
static int kill_privs(struct ns *ns, const struct ns_cred *cred, struct ns_inode *in)
{
	uint32_t mode, keep;
	struct fmt_inode *fi;
	struct mlog_tx tx;
	int rc;

	pthread_mutex_lock(&in->attr_lock);
	mode = in->mode;
	pthread_mutex_unlock(&in->attr_lock);
	keep = mode & ~(uint32_t)S_ISUID;
	if ((keep & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		keep &= ~(uint32_t)S_ISGID;
	if (keep == mode || ns_cred_super(cred))
		return 0;
	mlog_tx_init(&tx);
	fi = mlog_tx_add(&tx, FMT_REC_INODE, sizeof(*fi));
	if (fi) {
		ns_inode_rec_now(in, fi);
		fi->mode = keep;
		fi->ctime = now_ns();
	}
	rc = ns_tx_run(ns, cred, &tx);
	mlog_tx_release(&tx);
	return rc;
}

/*
 * write_file - ns_write; @off NS_WRITE_APPEND: at the end of the file as it is under the
 * inode lock (O_APPEND, atomic against every other writer), *@at says where.
 */
static ssize_t write_file(struct ns *ns, struct ns_ctx *c, uint64_t ino, const void *buf,
			  size_t len, uint64_t off, uint64_t *at)
{
	struct ns_hold *hold = NULL;
	uint64_t first, last;
	struct ns_inode *in;
	struct fill f;
	int64_t rc;

	rc = ns_writable(ns);
	if (rc)
		return rc;
	rc = get_file(ns, c, ino, NS_MAY_WRITE, &in);
	if (rc)
		return rc;
	if (off == NS_WRITE_APPEND) {
		off = ns_inode_size(in);
		if (len > NS_FILE_SIZE_MAX - off)
			rc = -EFBIG;
	}
	if (at)
		*at = off;
	if (rc == 0 && len)
		rc = kill_privs(ns, c->cred, in);
	if (rc == 0 && len && poisoned_span(ns, in, off, off + len, &first, &last))
		rc = ns_break_leases(ns, c, in, first, last - first + 1, &hold);
	if (rc == 0 && len) {
		f = (struct fill){buf, off, off + len, c->cred};
		rc = fill_range(ns, in, &f, false, hold);
	}
	put_file(ns, in);
	poison_drain(ns); /* what a copy queued, now that no lock is held */
	return (ssize_t)rc;
}

ssize_t ns_write(struct ns *ns, struct ns_ctx *c, uint64_t ino, const void *buf, size_t len,
		 uint64_t off)
{
	return ns_write_at(ns, c, ino, buf, len, off, NULL);
}

ssize_t ns_write_at(struct ns *ns, struct ns_ctx *c, uint64_t ino, const void *buf, size_t len,
		    uint64_t off, uint64_t *at)
{
	struct ns_ctx local;
	int64_t rc;

	if (off != NS_WRITE_APPEND && (off > NS_FILE_SIZE_MAX || len > NS_FILE_SIZE_MAX - off))
		return -EFBIG;
	c = ns_ctx_enter(ns, c, &local);
	do
		rc = write_file(ns, c, ino, buf, len, off, at);
	while (ns_ctx_again(ns, c, rc));
	/* Overwrites in place commit no record: tell the observer here. */
	if (rc > 0)
		ns_observe(ns, &(struct ns_change){NS_CHANGE_DATA, c->cred ? c->cred->origin : NULL,
						   ino, off, (uint64_t)rc, NULL, 0});
	return (ssize_t)ns_ctx_leave(ns, c, &local, rc);
}

/*
 * punch - make whole pages of [off, end) holes and zero the partial ones; their mappers let
 * go first. Return: 0; NS_WAIT; the transaction's error.
 */
static int punch(struct ns *ns, struct ns_ctx *c, struct ns_inode *in, uint64_t off, uint64_t end)
{
	uint64_t first = DIV_ROUND_UP(off, PAGE), stop = end / PAGE;
	struct ns_hold *hold = NULL;
	struct mlog_tx tx;
	int rc = 0;

	if (first < stop) {
		rc = ns_break_leases(ns, c, in, first, stop - first, &hold);
		if (rc)
			return rc;
	}
	/* Partial pages at the edges are zeroed in place. */
	for (uint64_t edge = off; edge < end;) {
		uint64_t pend = MIN(ALIGN_DOWN(edge, PAGE) + PAGE, end);
		bool poisoned;
		uint64_t blk;

		if (edge % PAGE == 0 && pend - edge == PAGE) {
			/* A whole page: skip to the last page of the range. */
			edge = MAX(pend, stop * PAGE);
			continue;
		}
		rcu_read_begin();
		blk = page_block(ns, in, edge / PAGE, &poisoned);
		rcu_read_end();
		if (blk != UINT64_MAX && !poisoned)
			region_memset_safe(ns->r, (char *)block_addr(ns, blk) + edge % PAGE, 0,
					   pend - edge, REGION_NODRAIN, NULL);
		edge = pend;
	}
	region_drain(ns->r);
	if (first >= stop)
		return 0;
	mlog_tx_init(&tx);
	{
		struct fmt_unmap *u = mlog_tx_add(&tx, FMT_REC_UNMAP, sizeof(*u));

		if (u)
			*u = (struct fmt_unmap){in->ino, first, stop - first};
	}
	add_size_rec(&tx, in, 0, now_ns());
	ns_lock_pages(in, first, stop);
	rc = ns_tx_run_held(ns, c->cred, &tx, hold);
	if (rc)
		ns_unlock_pages(in, first, stop);
	mlog_tx_release(&tx);
	return rc;
}

int ns_fill(struct ns *ns, const struct ns_cred *cred, struct ns_inode *in, uint64_t off,
	    uint64_t len, bool keep_size)
{
	struct fill f = {NULL, off, off + len, cred};
	int64_t rc = fill_range(ns, in, &f, keep_size, NULL);

	if (rc > 0 && (uint64_t)rc < len)
		return -ENOSPC; /* partly allocated: what was taken stays, as Linux does */
	return rc > 0 ? 0 : (int)rc;
}

static int fallocate_file(struct ns *ns, struct ns_ctx *c, uint64_t ino, int mode, uint64_t off,
			  uint64_t len)
{
	struct ns_inode *in;
	int rc;

	rc = ns_writable(ns);
	if (rc)
		return rc;
	rc = get_file(ns, c, ino, NS_MAY_WRITE, &in);
	if (rc)
		return rc;
	if (mode & NS_FALLOC_PUNCH_HOLE)
		rc = punch(ns, c, in, off, off + len);
	else
		rc = ns_fill(ns, c->cred, in, off, len, mode & NS_FALLOC_KEEP_SIZE);
	put_file(ns, in);
	poison_drain(ns);
	return rc;
}

int ns_fallocate(struct ns *ns, struct ns_ctx *c, uint64_t ino, int mode, uint64_t off,
		 uint64_t len)
{
	struct ns_ctx local;
	int64_t rc;

	if (len == 0 || mode & ~(NS_FALLOC_KEEP_SIZE | NS_FALLOC_PUNCH_HOLE) ||
	    (mode & NS_FALLOC_PUNCH_HOLE && !(mode & NS_FALLOC_KEEP_SIZE)))
		return -EINVAL;
	if (off > NS_FILE_SIZE_MAX || len > NS_FILE_SIZE_MAX - off)
		return -EFBIG;
	c = ns_ctx_enter(ns, c, &local);
	do
		rc = fallocate_file(ns, c, ino, mode, off, len);
	while (ns_ctx_again(ns, c, rc));
	return (int)ns_ctx_leave(ns, c, &local, rc);
}

int ns_truncate_prepare(struct ns *ns, struct ns_ctx *c, struct ns_inode *in, uint64_t size,
			struct mlog_tx *tx, struct ns_hold **hold, uint64_t *locked_from)
{
	uint64_t old = ns_inode_size(in), first;
	struct fmt_unmap *u;
	int rc;

	*locked_from = UINT64_MAX;
	if (size >= old) {
		zero_tail(ns, in, old);
		zero_gap(ns, in, ALIGN_UP(old, (uint64_t)PAGE), size);
		region_drain(ns->r);
		return 0;
	}
	first = DIV_ROUND_UP(size, PAGE);
	if (first >= NS_PAGES_MAX)
		return 0;
	rc = ns_break_leases(ns, c, in, first, NS_PAGES_MAX - first, hold);
	if (rc)
		return rc;
	u = mlog_tx_add(tx, FMT_REC_UNMAP, sizeof(*u));
	if (!u)
		return tx->err;
	*u = (struct fmt_unmap){in->ino, first, NS_PAGES_MAX - first};
	ns_lock_pages(in, first, NS_PAGES_MAX);
	*locked_from = first;
	return 0;
}

static int fsync_inode(struct ns *ns, struct ns_ctx *c, uint64_t ino)
{
	struct ns_inode *in = ns_inode_get(ns, ino);
	struct fmt_inode *fi;
	struct mlog_tx tx;
	bool dirty;
	int rc;

	if (!in)
		return -ENOENT;
	rc = ns_ilock(ns, c, in);
	if (rc) {
		ns_inode_put(ns, in);
		return rc;
	}
	pthread_mutex_lock(&in->attr_lock);
	dirty = in->attr_dirty;
	pthread_mutex_unlock(&in->attr_lock);
	if (dirty && !__atomic_load_n(&in->dying, __ATOMIC_ACQUIRE)) {
		mlog_tx_init(&tx);
		fi = mlog_tx_add(&tx, FMT_REC_INODE, sizeof(*fi));
		if (fi)
			ns_inode_rec_now(in, fi);
		rc = ns_tx_run(ns, c->cred, &tx);
		mlog_tx_release(&tx);
	}
	ns_iunlock(in);
	ns_inode_put(ns, in);
	return rc;
}

int ns_fsync(struct ns *ns, struct ns_ctx *c, uint64_t ino)
{
	return ns_ctx_run_ino(ns, c, ino, fsync_inode);
}
