// SPDX-License-Identifier: MIT
/*
 * The namespace: mount, lookups, names, transactions and checkpoints. File contents are in
 * nsfile.c; applying records (shared by replay and live operations) in nsapply.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fault.h"
#include "log.h"
#include "nsint.h"
#include "sigbus.h"
#include "util.h"

/* --- hash tables --- */

static unsigned long hash_ino(uint64_t ino)
{
	return (unsigned long)checksum64(&ino, sizeof(ino), 0x6461786673ULL);
}

static unsigned long hash_name(uint64_t dir, const char *name, size_t len)
{
	return (unsigned long)checksum64(name, len, dir);
}

static int match_ino(struct cds_lfht_node *node, const void *key)
{
	const struct ns_inode *in = caa_container_of(node, struct ns_inode, hnode);

	return in->ino == *(const uint64_t *)key;
}

struct name_key {
	uint64_t dir;
	const char *name;
	size_t len;
};

static int match_name(struct cds_lfht_node *node, const void *key)
{
	const struct ns_dirent *d = caa_container_of(node, struct ns_dirent, hnode);
	const struct name_key *k = key;

	return d->dir == k->dir && d->name_len == k->len && memcmp(d->name, k->name, k->len) == 0;
}

struct ns_inode *ns_inode_find(struct ns *ns, uint64_t ino)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	cds_lfht_lookup(ns->inodes, hash_ino(ino), match_ino, &ino, &it);
	node = cds_lfht_iter_get_node(&it);
	return node ? caa_container_of(node, struct ns_inode, hnode) : NULL;
}

struct ns_inode *ns_inode_get(struct ns *ns, uint64_t ino)
{
	struct ns_inode *in;
	uint32_t refs;

	rcu_read_begin();
	in = ns_inode_find(ns, ino);
	if (in) {
		refs = __atomic_load_n(&in->refs, __ATOMIC_ACQUIRE);
		do {
			if (refs == 0) {
				in = NULL;
				break;
			}
		} while (!__atomic_compare_exchange_n(&in->refs, &refs, refs + 1, false,
						      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	}
	rcu_read_end();
	return in;
}

void ns_inode_put(struct ns *ns, struct ns_inode *in)
{
	if (in && __atomic_sub_fetch(&in->refs, 1, __ATOMIC_ACQ_REL) == 0)
		ns_inode_free(ns, in);
}

struct ns_dirent *ns_dirent_find(struct ns *ns, uint64_t dir, const char *name, size_t len)
{
	struct name_key key = {dir, name, len};
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	cds_lfht_lookup(ns->dirents, hash_name(dir, name, len), match_name, &key, &it);
	node = cds_lfht_iter_get_node(&it);
	return node ? caa_container_of(node, struct ns_dirent, hnode) : NULL;
}

/* The two helpers nsapply.c uses to publish and unpublish. */
int ns_table_add_inode(struct ns *ns, struct ns_inode *in);
void ns_table_del_inode(struct ns *ns, struct ns_inode *in);
void ns_table_add_dirent(struct ns *ns, struct ns_dirent *d);
void ns_table_del_dirent(struct ns *ns, struct ns_dirent *d);

int ns_table_add_inode(struct ns *ns, struct ns_inode *in)
{
	cds_lfht_add(ns->inodes, hash_ino(in->ino), &in->hnode);
	__atomic_add_fetch(&ns->nr_inodes, 1, __ATOMIC_RELAXED);
	return 0;
}

void ns_table_del_inode(struct ns *ns, struct ns_inode *in)
{
	cds_lfht_del(ns->inodes, &in->hnode);
	__atomic_sub_fetch(&ns->nr_inodes, 1, __ATOMIC_RELAXED);
}

void ns_table_add_dirent(struct ns *ns, struct ns_dirent *d)
{
	cds_lfht_add(ns->dirents, hash_name(d->dir, d->name, d->name_len), &d->hnode);
}

void ns_table_del_dirent(struct ns *ns, struct ns_dirent *d)
{
	cds_lfht_del(ns->dirents, &d->hnode);
}

uint64_t ns_inode_size(struct ns_inode *in)
{
	uint64_t size;

	pthread_mutex_lock(&in->attr_lock);
	size = in->size;
	pthread_mutex_unlock(&in->attr_lock);
	return size;
}

void ns_fill_attr(struct ns_inode *in, struct ns_attr *out)
{
	pthread_mutex_lock(&in->attr_lock);
	out->ino = in->ino;
	out->mode = in->mode;
	out->uid = in->uid;
	out->gid = in->gid;
	out->nlink = in->nlink;
	out->size = in->size;
	out->blocks = in->blocks;
	out->atime = in->atime;
	out->mtime = in->mtime;
	out->ctime = in->ctime;
	pthread_mutex_unlock(&in->attr_lock);
}

void ns_inode_rec(struct ns_inode *in, struct fmt_inode *fi)
{
	memset(fi, 0, sizeof(*fi));
	fi->ino = in->ino;
	fi->parent = in->parent;
	fi->mode = in->mode;
	fi->uid = in->uid;
	fi->gid = in->gid;
	fi->nlink = in->nlink;
	fi->size = in->size;
	fi->atime = in->atime;
	fi->mtime = in->mtime;
	fi->ctime = in->ctime;
}

/* inode_rec_now - an INODE record of @in as it stands (taking its attr lock). */
static void inode_rec_now(struct ns_inode *in, struct fmt_inode *fi)
{
	pthread_mutex_lock(&in->attr_lock);
	ns_inode_rec(in, fi);
	in->attr_dirty = false;
	pthread_mutex_unlock(&in->attr_lock);
}

int ns_writable(struct ns *ns)
{
	if (__atomic_load_n(&ns->rdonly, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&ns->failed, __ATOMIC_ACQUIRE))
		return -EROFS;
	return 0;
}

/* --- transactions and checkpoints --- */

static void deferred_free_cb(struct rcu_head *head);

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

int ns_alloc_blocks(struct ns *ns, uint64_t goal, uint64_t want, uint64_t *block, uint64_t *got)
{
	int rc = alloc_blocks(ns->alloc, goal, want, block, got);

	/* A full region right after an unlink: the unlinked blocks are on their way back. */
	if (rc == -ENOSPC && wait_frees(ns))
		rc = alloc_blocks(ns->alloc, goal, want, block, got);
	return rc;
}

int ns_alloc_huge(struct ns *ns, uint64_t *block)
{
	int rc = alloc_huge(ns->alloc, block);

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

static void fail(struct ns *ns, int rc, const char *what)
{
	log_err("%s: %s failed (%s); the file system is read-only from now on", region_path(ns->r),
		what, strerror(-rc));
	__atomic_store_n(&ns->failed, rc, __ATOMIC_RELEASE);
	mlog_set_rdonly(ns->log);
}

static int checkpoint_locked(struct ns *ns);

int ns_tx_run(struct ns *ns, struct mlog_tx *tx)
{
	return ns_tx_run_held(ns, tx, NULL);
}

/*
 * Log room kept for removals: the largest unlink or rmdir transaction (DIRENT_DEL with a
 * 255-byte name, INODE_DEL, the directory's INODE). A transaction that can make the next
 * snapshot bigger must leave this much of the area free after it, so every snapshot has room
 * for a removal after it: a full log can always be emptied by removing names.
 */
#define LOG_KEEP_FOR_REMOVAL                                                                      \
	(3 * sizeof(struct fmt_rec) + ALIGN_UP(sizeof(struct fmt_dirent_del) + FMT_NAME_MAX, 8) + \
	 sizeof(struct fmt_inode_del) + sizeof(struct fmt_inode))

/* tx_keep - the room @tx must leave free: 0 when it only removes or sets attributes. */
static size_t tx_keep(const struct mlog_tx *tx)
{
	for (size_t o = 0; o < tx->used;) {
		const struct fmt_rec *h = (const struct fmt_rec *)(tx->buf + o);

		if (h->type != FMT_REC_INODE && h->type != FMT_REC_DIRENT_DEL &&
		    h->type != FMT_REC_INODE_DEL)
			return LOG_KEEP_FOR_REMOVAL;
		o += h->len;
	}
	return 0;
}

/* tx_reserve - mlog_reserve @tx's bytes, provided @keep more bytes stay free after them. */
static int tx_reserve(struct ns *ns, const struct mlog_tx *tx, size_t keep)
{
	int rc = mlog_reserve(ns->log, mlog_tx_bytes(tx) + keep);

	if (rc == 0 && keep)
		mlog_unreserve(ns->log, keep);
	return rc;
}

static int tx_run(struct ns *ns, struct mlog_tx *tx, struct ns_hold *hold);

int ns_tx_run_held(struct ns *ns, struct mlog_tx *tx, struct ns_hold *hold)
{
	int rc = tx_run(ns, tx, hold);

	ns_hold_put(ns, hold);
	return rc;
}

static int tx_run(struct ns *ns, struct mlog_tx *tx, struct ns_hold *hold)
{
	struct ns_txctx tc = {.live = true};
	bool held;
	size_t keep;
	int rc;

	rc = ns_writable(ns);
	if (rc)
		return rc;
	if (tx->err)
		return tx->err;
	keep = tx_keep(tx);
	for (int attempt = 0;; attempt++) {
		pthread_rwlock_rdlock(&ns->txlock);
		rc = tx_reserve(ns, tx, keep);
		if (rc != -ENOSPC || attempt == 1)
			break;
		pthread_rwlock_unlock(&ns->txlock);
		pthread_rwlock_wrlock(&ns->txlock);
		rc = tx_reserve(ns, tx, keep);
		if (rc == 0)
			mlog_unreserve(ns->log, mlog_tx_bytes(tx));
		else if (rc == -ENOSPC)
			rc = checkpoint_locked(ns);
		pthread_rwlock_unlock(&ns->txlock);
		if (rc && rc != -ENOSPC)
			return rc;
	}
	if (rc) {
		pthread_rwlock_unlock(&ns->txlock);
		if (rc == -ENOSPC)
			log_warn("%s: metadata log full", region_path(ns->r));
		return rc;
	}
	rc = fault_at(FAULT_LOG_APPEND);
	if (rc) {
		/* As a full log would: nothing applied, nothing written. */
		mlog_unreserve(ns->log, mlog_tx_bytes(tx));
		pthread_rwlock_unlock(&ns->txlock);
		return rc;
	}
	for (size_t o = 0; o < tx->used;) {
		const struct fmt_rec *h = (const struct fmt_rec *)(tx->buf + o);

		rc = ns_apply(ns, &tc, h, h + 1, h->len - sizeof(*h));
		if (rc) {
			fail(ns, rc, "applying a transaction");
			mlog_unreserve(ns->log, mlog_tx_bytes(tx));
			pthread_rwlock_unlock(&ns->txlock);
			free(tc.frees);
			return -EIO;
		}
		o += h->len;
	}
	held = hold && tc.nfrees && ns_hold_in_tx(ns, hold, tx, &tc);
	rc = mlog_commit(ns->log, tx);
	pthread_rwlock_unlock(&ns->txlock);
	if (rc) {
		fail(ns, rc, "committing a transaction");
		free(tc.frees);
		return -EIO;
	}
	if (hold && tc.nfrees)
		ns_hold_runs(ns, hold, &tc, held);
	queue_frees(ns, &tc);
	free(tc.frees);
	return 0;
}

/* snap_inode - the records of one inode: INODE first pass, DIRENT/MAP second pass. */
static int snap_maps(struct mlog_snap *s, struct ns_inode *in)
{
	uint64_t i, run_index = 0, run_block = 0, run_count = 0;
	unsigned order, run_order = 0;
	xt_entry e;
	int rc;

	xt_for_each (&in->map, i, order, e, 0, XT_INDEX_MAX) {
		uint64_t n = UINT64_C(1) << order;

		if (!xt_is_value(e) || xt_is_hole(e))
			continue;
		if (run_count && run_order == order && run_index + run_count == i &&
		    run_block + run_count == xt_to_block(e) && run_count + n <= UINT32_MAX) {
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
		run_block = xt_to_block(e);
		run_count = n;
		run_order = order;
	}
	if (run_count) {
		struct fmt_map m = {in->ino, run_index, run_block, (uint32_t)run_count, run_order};

		return mlog_snap_add(s, FMT_REC_MAP, &m, sizeof(m));
	}
	return 0;
}

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

/*
 * checkpoint_locked - write a snapshot and make it the log (docs/format.md §4).
 * Locking: caller holds ns->txlock exclusively, so no transaction is half applied.
 */
static int checkpoint_locked(struct ns *ns)
{
	struct cds_lfht_iter it;
	struct ns_inode *in;
	struct mlog_snap s;
	struct snap_bad bad;
	uint64_t next_ino;
	int rc = 0;

	rc = ns_writable(ns);
	if (rc)
		return rc;
	mlog_snap_begin(ns->log, &s);
	rcu_read_begin();
	/* Pass 1: every inode. */
	cds_lfht_for_each_entry (ns->inodes, &it, in, hnode) {
		struct fmt_inode fi;

		inode_rec_now(in, &fi);
		rc = mlog_snap_add(&s, FMT_REC_INODE, &fi, sizeof(fi));
		if (rc)
			goto out;
	}
	/* Pass 2: names and block maps. */
	cds_lfht_for_each_entry (ns->inodes, &it, in, hnode) {
		rc = S_ISDIR(in->type) ? snap_dirents(&s, in) : snap_maps(&s, in);
		if (rc)
			goto out;
	}
out:
	rcu_read_end();
	if (rc == 0) {
		bad = (struct snap_bad){&s, 0};
		alloc_for_each_quarantined(ns->alloc, snap_badblock, &bad);
		rc = bad.rc;
	}
	if (rc == 0)
		rc = ns_holds_snapshot(ns, &s);
	if (rc) {
		if (rc == -ENOSPC)
			log_warn("%s: checkpoint does not fit in a log area: metadata log full",
				 region_path(ns->r));
		return rc;
	}
	/* Not under ns->lock: the caller of the transaction may hold it. */
	next_ino = __atomic_load_n(&ns->next_ino, __ATOMIC_ACQUIRE);
	rc = mlog_snap_commit(&s, next_ino);
	if (rc == 0)
		log_dbg("%s: checkpoint: %" PRIu64 " records", region_path(ns->r), s.records);
	return rc;
}

int ns_checkpoint_after(struct ns *ns, int (*fn)(struct ns *ns, void *ctx), void *ctx)
{
	int rc;

	pthread_rwlock_wrlock(&ns->txlock);
	rc = fn(ns, ctx);
	if (rc == 0)
		rc = checkpoint_locked(ns);
	pthread_rwlock_unlock(&ns->txlock);
	return rc;
}

int ns_checkpoint(struct ns *ns)
{
	int rc;

	pthread_rwlock_wrlock(&ns->txlock);
	rc = checkpoint_locked(ns);
	pthread_rwlock_unlock(&ns->txlock);
	return rc;
}

/* --- mount --- */

static int replay_apply(void *ctx, const struct fmt_rec *rec, const void *payload, size_t plen)
{
	struct ns *ns = ctx;
	struct ns_txctx tc = {.live = false};

	ns->cur_seq = rec->seq;
	return ns_apply(ns, &tc, rec, payload, plen);
}

static void ns_free_tables(struct ns *ns);

/* count_orphans - inodes that no directory entry reaches from the root. */
static uint64_t count_orphans(struct ns *ns);

static int ns_alloc_struct(struct ns **out, struct region *r)
{
	struct ns *ns = calloc(1, sizeof(*ns));
	pthread_rwlockattr_t attr;

	if (!ns)
		return -ENOMEM;
	ns->r = r;
	pthread_mutex_init(&ns->lock, NULL);
	pthread_mutex_init(&ns->poison_lock, NULL);
	pthread_mutex_init(&ns->meta_bad_lock, NULL);
	CDS_INIT_LIST_HEAD(&ns->pholds);
	pthread_mutex_init(&ns->grant_lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&ns->grant_cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	ns->lease_timeout_ms = 5000;
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&ns->txlock, &attr);
	pthread_rwlockattr_destroy(&attr);
	rmap_init(&ns->rmap);
	ns->inodes = cds_lfht_new_flavor(1024, 1024, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
					 &urcu_memb_flavor, NULL);
	ns->dirents = cds_lfht_new_flavor(1024, 1024, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
					  &urcu_memb_flavor, NULL);
	if (!ns->inodes || !ns->dirents) {
		ns_free_tables(ns);
		return -ENOMEM;
	}
	*out = ns;
	return 0;
}

/* Used by check.c too. */
int ns_open_region(struct ns **out, struct region *r, const struct fmt_super *sb);
void ns_close_region(struct ns **nsp);

int ns_open_region(struct ns **out, struct region *r, const struct fmt_super *sb)
{
	struct ns *ns;
	int rc;

	*out = NULL;
	rc = ns_alloc_struct(&ns, r);
	if (rc)
		return rc;
	ns->data_first = sb->data_off / FMT_BLOCK_SIZE;
	ns->data_count = sb->data_len / FMT_BLOCK_SIZE;
	rc = alloc_new(&ns->alloc, ns->data_first, ns->data_count);
	if (rc) {
		ns_close_region(&ns);
		return rc;
	}
	ns->next_ino = sb->next_ino;
	*out = ns;
	return 0;
}

int ns_mount(struct ns **out, const char *path, const struct ns_mount_opts *o)
{
	struct ns_mount_opts def = {0};
	struct fmt_super sb;
	struct region *r;
	struct ns *ns = NULL;
	unsigned flags;
	int rc;

	*out = NULL;
	if (!o)
		o = &def;
	flags = (o->rdonly ? REGION_RDONLY : 0) | (o->nolock ? REGION_NOLOCK : 0);
	rc = region_open(&r, path, o->kind, flags, 0);
	if (rc)
		return rc;
	if (o->trace_image) {
		rc = region_trace_start(r, o->trace_image);
		if (rc) {
			region_close(&r);
			return rc;
		}
	}
	/* mlog_open makes the same choice of superblock. */
	rc = mlog_probe_report(r, &sb);
	if (rc == 0)
		rc = ns_open_region(&ns, r, &sb);
	if (rc == 0)
		rc = mlog_open(&ns->log, r, replay_apply, ns);
	if (rc) {
		ns_close_region(&ns);
		region_close(&r);
		return rc;
	}
	ns->rdonly = o->rdonly;
	if (!ns_inode_find(ns, NS_ROOT_INO)) {
		log_err("%s: the log has no root directory; the region is damaged", path);
		rc = -EUCLEAN;
		goto err;
	}
	ns->next_ino = MAX(ns->next_ino, MAX(mlog_super(ns->log)->next_ino, ns->max_ino + 1));
	ns->orphans = count_orphans(ns);
	if (ns->orphans)
		log_warn("%s: %" PRIu64 " inodes are not reachable from the root and keep their "
			 "blocks; run daxfs check",
			 path, ns->orphans);
	*out = ns;
	return 0;
err:
	ns_close_region(&ns);
	region_close(&r);
	return rc;
}

static void ns_free_tables(struct ns *ns)
{
	struct cds_lfht_iter it;
	struct ns_dirent *d;
	struct ns_inode *in;

	/*
	 * Unlinked nodes may still be walked by the table's own resize and cleanup until a
	 * grace period has passed: they are freed through rcu_defer like any other.
	 */
	rcu_read_begin();
	if (ns->dirents) {
		cds_lfht_for_each_entry (ns->dirents, &it, d, hnode) {
			cds_lfht_del(ns->dirents, &d->hnode);
			ns_dirent_free(d);
		}
	}
	if (ns->inodes) {
		cds_lfht_for_each_entry (ns->inodes, &it, in, hnode) {
			cds_lfht_del(ns->inodes, &in->hnode);
			ns_inode_free(ns, in);
		}
	}
	rcu_read_end();
	if (ns->dirents)
		cds_lfht_destroy(ns->dirents, NULL);
	if (ns->inodes)
		cds_lfht_destroy(ns->inodes, NULL);
	rmap_destroy(&ns->rmap);
	/* Nodes and records were handed to call_rcu: wait for them before freeing @ns. */
	rcu_barrier_all();
	alloc_delete(&ns->alloc);
	pthread_rwlock_destroy(&ns->txlock);
	pthread_mutex_destroy(&ns->poison_lock);
	pthread_mutex_destroy(&ns->meta_bad_lock);
	ns_holds_free(ns);
	free(ns->bad_pages);
	pthread_mutex_destroy(&ns->grant_lock);
	pthread_cond_destroy(&ns->grant_cond);
	pthread_mutex_destroy(&ns->lock);
	free(ns);
}

void ns_close_region(struct ns **nsp)
{
	struct ns *ns = *nsp;

	if (!ns)
		return;
	mlog_close(&ns->log);
	ns_free_tables(ns);
	*nsp = NULL;
}

/* flush_dirty_attrs - log INODE for every inode whose mtime changed lazily. */
static void flush_dirty_attrs(struct ns *ns)
{
	struct cds_lfht_iter it;
	struct ns_inode *in;
	struct mlog_tx tx;

	if (ns_writable(ns))
		return;
	mlog_tx_init(&tx);
	rcu_read_begin();
	cds_lfht_for_each_entry (ns->inodes, &it, in, hnode) {
		struct fmt_inode *fi;
		bool dirty;

		pthread_mutex_lock(&in->attr_lock);
		dirty = in->attr_dirty;
		pthread_mutex_unlock(&in->attr_lock);
		if (!dirty)
			continue;
		fi = mlog_tx_add(&tx, FMT_REC_INODE, sizeof(*fi));
		if (fi)
			inode_rec_now(in, fi);
		if (tx.nrecs == FMT_TX_MAX_RECS) {
			rcu_read_end();
			ns_tx_run(ns, &tx);
			mlog_tx_reset(&tx);
			rcu_read_begin();
		}
	}
	rcu_read_end();
	ns_tx_run(ns, &tx);
	mlog_tx_release(&tx);
}

void ns_unmount(struct ns **nsp)
{
	struct ns *ns = *nsp;
	struct region *r;

	if (!ns)
		return;
	flush_dirty_attrs(ns);
	r = ns->r;
	ns_close_region(nsp);
	region_close(&r);
}

int ns_mkfs(const char *path, uint64_t size, const struct ns_mkfs_opts *o)
{
	struct ns_mkfs_opts def = {0};
	struct fmt_super sb;
	struct fmt_inode root = {0};
	struct region *r;
	int64_t now = now_ns();
	int rc;

	if (!o)
		o = &def;
	/* Poisoned media must not kill mkfs: its reads and writes are SIGBUS-safe (mlog.c). */
	rc = sigbus_install();
	if (rc)
		return rc;
	rc = region_open(&r, path, REGION_AUTO, size ? REGION_CREATE : 0, size);
	if (rc)
		return rc;
	if (!o->force && mlog_probe(r, &sb, NULL, NULL, NULL) != -ENODATA) {
		log_err("%s already holds a daxfs file system; use --force to format it anyway",
			path);
		region_close(&r);
		return -EEXIST;
	}
	root.ino = NS_ROOT_INO;
	root.parent = NS_ROOT_INO;
	root.mode = S_IFDIR | 0755;
	root.nlink = 2;
	root.atime = root.mtime = root.ctime = now;
	rc = mlog_format(r, o->log_len, &root);
	if (rc == -EFBIG)
		log_err("%s is too small for daxfs", path);
	else if (rc == -EINVAL)
		log_err("%s: bad log size", path);
	region_close(&r);
	return rc;
}

struct region *ns_region(struct ns *ns)
{
	return ns->r;
}

struct rmap *ns_rmap(struct ns *ns)
{
	return &ns->rmap;
}

struct alloc *ns_alloc(struct ns *ns)
{
	return ns->alloc;
}

/* --- lookups --- */

int ns_getattr(struct ns *ns, uint64_t ino, struct ns_attr *out)
{
	struct ns_inode *in;
	int rc = -ENOENT;

	rcu_read_begin();
	in = ns_inode_find(ns, ino);
	if (in) {
		ns_fill_attr(in, out);
		rc = 0;
	}
	rcu_read_end();
	return rc;
}

/* __lookup - the inode @name in @dir names. Locking: RCU read side. */
static int __lookup(struct ns *ns, uint64_t dir, const char *name, size_t len,
		    struct ns_inode **out)
{
	struct ns_inode *d = ns_inode_find(ns, dir);
	struct ns_dirent *de;
	int rc;

	if (!d)
		return -ENOENT;
	if (!S_ISDIR(d->type))
		return -ENOTDIR;
	rc = fmt_valid_name(name, len);
	if (rc)
		return rc;
	de = ns_dirent_find(ns, dir, name, len);
	if (!de)
		return -ENOENT;
	*out = ns_inode_find(ns, de->ino);
	return *out ? 0 : -ENOENT;
}

int ns_lookup(struct ns *ns, uint64_t dir, const char *name, struct ns_attr *out)
{
	struct ns_inode *in;
	int rc;

	rcu_read_begin();
	rc = __lookup(ns, dir, name, strlen(name), &in);
	if (rc == 0)
		ns_fill_attr(in, out);
	rcu_read_end();
	return rc;
}

/*
 * walk - resolve @path; with @parent_only stop before the last component and return it.
 * Locking: RCU read side.
 */
static int walk(struct ns *ns, const char *path, bool parent_only, uint64_t *ino, const char **last,
		size_t *last_len)
{
	uint64_t cur = NS_ROOT_INO;
	const char *p = path;
	size_t plen = strnlen(path, NS_PATH_MAX);

	if (plen >= NS_PATH_MAX)
		return -ENAMETOOLONG;
	if (p[0] != '/')
		return -EINVAL;
	for (;;) {
		const char *comp, *next;
		struct ns_inode *in;
		size_t len;
		int rc;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		comp = p;
		next = strchr(comp, '/');
		len = next ? (size_t)(next - comp) : strlen(comp);
		p = comp + len;
		if (parent_only) {
			const char *q = p;

			while (*q == '/')
				q++;
			if (*q == '\0') {
				rc = fmt_valid_name(comp, len);
				if (rc)
					return rc;
				*last = comp;
				*last_len = len;
				*ino = cur;
				return 0;
			}
		}
		rc = __lookup(ns, cur, comp, len, &in);
		if (rc)
			return rc;
		/* "file/" names a directory that is not one. */
		if (*p == '/' && !S_ISDIR(in->type))
			return -ENOTDIR;
		cur = in->ino;
	}
	if (parent_only)
		return -EINVAL; /* "/" has no parent */
	*ino = cur;
	return 0;
}

int ns_resolve(struct ns *ns, const char *path, struct ns_attr *out)
{
	struct ns_inode *in;
	uint64_t ino;
	int rc;

	rcu_read_begin();
	rc = walk(ns, path, false, &ino, NULL, NULL);
	if (rc == 0) {
		in = ns_inode_find(ns, ino);
		if (in)
			ns_fill_attr(in, out);
		else
			rc = -ENOENT;
	}
	rcu_read_end();
	return rc;
}

int ns_resolve_parent(struct ns *ns, const char *path, uint64_t *dir, char *name)
{
	const char *last;
	size_t len;
	int rc;

	rcu_read_begin();
	rc = walk(ns, path, true, dir, &last, &len);
	if (rc == 0 && last[len] == '/') {
		/* "a/b/": the last component must turn out to be a directory. */
		struct ns_inode *in;

		if (__lookup(ns, *dir, last, len, &in) == 0 && !S_ISDIR(in->type))
			rc = -ENOTDIR;
	}
	if (rc == 0) {
		struct ns_inode *d = ns_inode_find(ns, *dir);

		if (!d)
			rc = -ENOENT;
		else if (!S_ISDIR(d->type))
			rc = -ENOTDIR;
		memcpy(name, last, len);
		name[len] = '\0';
	}
	rcu_read_end();
	return rc;
}

int ns_readdir(struct ns *ns, uint64_t dir, uint64_t cookie, ns_readdir_fn fn, void *ctx)
{
	struct ns_inode *d;
	uint64_t i;
	unsigned order;
	xt_entry e;
	int rc = 0;

	d = ns_inode_get(ns, dir);
	if (!d)
		return -ENOENT;
	if (!S_ISDIR(d->type)) {
		ns_inode_put(ns, d);
		return -ENOTDIR;
	}
	rcu_read_begin();
	xt_for_each (&d->map, i, order, e, cookie, XT_INDEX_MAX) {
		struct ns_dirent *de = xt_to_ptr(e);
		char name[NS_NAME_MAX + 1];
		uint64_t ino = de->ino;
		uint32_t mode = de->mode;

		memcpy(name, de->name, de->name_len + 1);
		/* Call out of the read section: @fn may take its time. */
		rcu_read_end();
		rc = fn(ctx, name, ino, mode, i + 1);
		rcu_read_begin();
		if (rc)
			break;
	}
	rcu_read_end();
	ns_inode_put(ns, d);
	return rc;
}

/* --- names --- */

static void *add_rec(struct mlog_tx *tx, unsigned type, size_t len)
{
	return mlog_tx_add(tx, type, len);
}

static void add_inode(struct mlog_tx *tx, const struct fmt_inode *fi)
{
	struct fmt_inode *p = add_rec(tx, FMT_REC_INODE, sizeof(*p));

	if (p)
		*p = *fi;
}

static void add_dirent(struct mlog_tx *tx, uint64_t dir, uint64_t ino, const char *name)
{
	size_t len = strlen(name);
	struct fmt_dirent *d = add_rec(tx, FMT_REC_DIRENT_ADD, sizeof(*d) + len);

	if (d) {
		d->dir = dir;
		d->ino = ino;
		d->name_len = (uint16_t)len;
		memcpy(d->name, name, len);
	}
}

static void add_dirent_del(struct mlog_tx *tx, uint64_t dir, const char *name)
{
	size_t len = strlen(name);
	struct fmt_dirent_del *d = add_rec(tx, FMT_REC_DIRENT_DEL, sizeof(*d) + len);

	if (d) {
		d->dir = dir;
		d->name_len = (uint16_t)len;
		memcpy(d->name, name, len);
	}
}

static void add_inode_del(struct mlog_tx *tx, uint64_t ino)
{
	struct fmt_inode_del *d = add_rec(tx, FMT_REC_INODE_DEL, sizeof(*d));

	if (d)
		d->ino = ino;
}

/* dir_changed - the INODE record of @dir after an entry change (@nlink_delta subdirs). */
static void add_dir_changed(struct mlog_tx *tx, struct ns_inode *dir, int nlink_delta, int64_t now)
{
	struct fmt_inode fi;

	inode_rec_now(dir, &fi);
	fi.nlink = (uint32_t)((int64_t)fi.nlink + nlink_delta);
	fi.mtime = fi.ctime = now;
	add_inode(tx, &fi);
}

static int check_name(const char *name)
{
	return fmt_valid_name(name, strnlen(name, NS_NAME_MAX + 1));
}

/* __dir_of - the directory @dir, for a change. Locking: ns->lock held; RCU read side. */
static int __dir_of(struct ns *ns, uint64_t dir, struct ns_inode **out)
{
	struct ns_inode *d = ns_inode_find(ns, dir);

	if (!d)
		return -ENOENT;
	if (!S_ISDIR(d->type))
		return -ENOTDIR;
	*out = d;
	return 0;
}

static int make_node(struct ns *ns, uint64_t dir, const char *name, uint32_t type, uint32_t mode,
		     uint32_t uid, uint32_t gid, struct ns_attr *out)
{
	struct fmt_inode fi = {0};
	struct ns_inode *d, *in;
	struct mlog_tx tx;
	int64_t now = now_ns();
	int rc;

	rc = check_name(name);
	if (rc)
		return rc;
	if (mode & ~07777U)
		return -EINVAL;
	rc = ns_writable(ns);
	if (rc)
		return rc;
	mlog_tx_init(&tx);
	pthread_mutex_lock(&ns->lock);
	rcu_read_begin();
	rc = __dir_of(ns, dir, &d);
	if (rc == 0 && ns_dirent_find(ns, dir, name, strlen(name)))
		rc = -EEXIST;
	if (rc == 0) {
		fi.ino = ns->next_ino;
		fi.parent = type == S_IFDIR ? dir : 0;
		fi.mode = type | mode;
		fi.uid = uid;
		fi.gid = gid;
		fi.nlink = type == S_IFDIR ? 2 : 1;
		fi.atime = fi.mtime = fi.ctime = now;
		add_inode(&tx, &fi);
		add_dirent(&tx, dir, fi.ino, name);
		add_dir_changed(&tx, d, type == S_IFDIR ? 1 : 0, now);
	}
	rcu_read_end();
	if (rc == 0)
		rc = ns_tx_run(ns, &tx);
	if (rc == 0) {
		__atomic_store_n(&ns->next_ino, ns->next_ino + 1, __ATOMIC_RELEASE);
		if (out) {
			rcu_read_begin();
			in = ns_inode_find(ns, fi.ino);
			if (in)
				ns_fill_attr(in, out);
			rcu_read_end();
		}
	}
	pthread_mutex_unlock(&ns->lock);
	mlog_tx_release(&tx);
	return rc;
}

int ns_mkdir(struct ns *ns, uint64_t dir, const char *name, uint32_t mode, uint32_t uid,
	     uint32_t gid, struct ns_attr *out)
{
	return make_node(ns, dir, name, S_IFDIR, mode, uid, gid, out);
}

int ns_create(struct ns *ns, uint64_t dir, const char *name, uint32_t mode, uint32_t uid,
	      uint32_t gid, struct ns_attr *out)
{
	return make_node(ns, dir, name, S_IFREG, mode, uid, gid, out);
}

/*
 * remove_contents - run @tx, which deletes @victim, with its contents held still: the inode
 * lock, every entry lock, and the lease break for mappers (DESIGN §4, §6).
 * Locking: ns->lock held; takes the victim's inode lock.
 */
static int remove_contents(struct ns *ns, struct ns_inode *victim, struct mlog_tx *tx)
{
	struct ns_hold *hold = NULL;
	int rc;

	pthread_mutex_lock(&victim->lock);
	ns_lock_pages(victim, 0, NS_PAGES_MAX);
	rc = ns_invalidate_range(ns, victim, 0, NS_PAGES_MAX, &hold);
	if (rc == 0)
		rc = ns_tx_run_held(ns, tx, hold);
	else
		ns_hold_put(ns, hold);
	if (rc)
		ns_unlock_pages(victim, 0, NS_PAGES_MAX);
	pthread_mutex_unlock(&victim->lock);
	return rc;
}

/*
 * remove_name - unlink (@want_dir false) or rmdir (true).
 * The victim's inode lock is taken so no content change is in flight when it goes.
 */
static int remove_name(struct ns *ns, uint64_t dir, const char *name, bool want_dir)
{
	struct ns_inode *d, *victim = NULL;
	struct ns_dirent *de;
	struct mlog_tx tx;
	int64_t now = now_ns();
	int rc;

	rc = check_name(name);
	if (rc)
		return rc;
	rc = ns_writable(ns);
	if (rc)
		return rc;
	mlog_tx_init(&tx);
	pthread_mutex_lock(&ns->lock);
	rcu_read_begin();
	rc = __dir_of(ns, dir, &d);
	if (rc == 0) {
		de = ns_dirent_find(ns, dir, name, strlen(name));
		if (!de)
			rc = -ENOENT;
	}
	if (rc == 0) {
		victim = ns_inode_get(ns, de->ino);
		if (!victim)
			rc = -ENOENT;
	}
	if (rc == 0) {
		if (want_dir && !S_ISDIR(victim->type))
			rc = -ENOTDIR;
		else if (!want_dir && S_ISDIR(victim->type))
			rc = -EISDIR;
		else if (want_dir && victim->nr_entries)
			rc = -ENOTEMPTY;
	}
	if (rc == 0) {
		add_dirent_del(&tx, dir, name);
		add_inode_del(&tx, victim->ino);
		add_dir_changed(&tx, d, want_dir ? -1 : 0, now);
	}
	rcu_read_end();
	if (rc == 0) {
		rc = remove_contents(ns, victim, &tx);
	}
	pthread_mutex_unlock(&ns->lock);
	ns_inode_put(ns, victim);
	mlog_tx_release(&tx);
	return rc;
}

int ns_unlink(struct ns *ns, uint64_t dir, const char *name)
{
	return remove_name(ns, dir, name, false);
}

int ns_rmdir(struct ns *ns, uint64_t dir, const char *name)
{
	return remove_name(ns, dir, name, true);
}

/* is_ancestor - is @a an ancestor of (or equal to) directory @d? Locking: ns->lock, RCU. */
static bool is_ancestor(struct ns *ns, uint64_t a, uint64_t d)
{
	for (unsigned depth = 0; depth < 1U << 20; depth++) {
		struct ns_inode *in;

		if (d == a)
			return true;
		if (d == NS_ROOT_INO)
			return false;
		in = ns_inode_find(ns, d);
		if (!in)
			return false;
		d = in->parent;
	}
	return true; /* a cycle: refuse */
}

int ns_rename(struct ns *ns, uint64_t odir, const char *oname, uint64_t ndir, const char *nname,
	      unsigned flags)
{
	struct ns_inode *od, *nd, *src = NULL, *dst = NULL;
	struct ns_dirent *sde, *dde;
	struct fmt_inode fi;
	struct mlog_tx tx;
	int64_t now = now_ns();
	int rc;

	if (flags & ~(unsigned)(NS_RENAME_NOREPLACE | NS_RENAME_EXCHANGE) ||
	    (flags & NS_RENAME_NOREPLACE && flags & NS_RENAME_EXCHANGE))
		return -EINVAL;
	rc = check_name(oname);
	if (rc == 0)
		rc = check_name(nname);
	if (rc)
		return rc;
	rc = ns_writable(ns);
	if (rc)
		return rc;
	mlog_tx_init(&tx);
	pthread_mutex_lock(&ns->lock);
	rcu_read_begin();
	rc = __dir_of(ns, odir, &od);
	if (rc == 0)
		rc = __dir_of(ns, ndir, &nd);
	if (rc)
		goto out;
	sde = ns_dirent_find(ns, odir, oname, strlen(oname));
	if (!sde) {
		rc = -ENOENT;
		goto out;
	}
	src = ns_inode_find(ns, sde->ino);
	dde = ns_dirent_find(ns, ndir, nname, strlen(nname));
	dst = dde ? ns_inode_find(ns, dde->ino) : NULL;
	if (!src || (dde && !dst)) {
		rc = -ENOENT;
		goto out;
	}
	if (flags & NS_RENAME_EXCHANGE && !dst) {
		rc = -ENOENT;
		goto out;
	}
	if (flags & NS_RENAME_NOREPLACE && dst) {
		rc = -EEXIST;
		goto out;
	}
	if (dst == src)
		goto out; /* the same file: nothing to do */
	/* A directory never moves into itself or below itself. */
	if ((S_ISDIR(src->type) && is_ancestor(ns, src->ino, ndir)) ||
	    (flags & NS_RENAME_EXCHANGE && S_ISDIR(dst->type) && is_ancestor(ns, dst->ino, odir))) {
		rc = -EINVAL;
		goto out;
	}
	if (dst && !(flags & NS_RENAME_EXCHANGE)) {
		if (S_ISDIR(src->type) && !S_ISDIR(dst->type))
			rc = -ENOTDIR;
		else if (!S_ISDIR(src->type) && S_ISDIR(dst->type))
			rc = -EISDIR;
		else if (S_ISDIR(dst->type) && dst->nr_entries)
			rc = -ENOTEMPTY;
		if (rc)
			goto out;
	}

	add_dirent_del(&tx, odir, oname);
	if (dst)
		add_dirent_del(&tx, ndir, nname);
	if (dst && !(flags & NS_RENAME_EXCHANGE))
		add_inode_del(&tx, dst->ino);
	add_dirent(&tx, ndir, src->ino, nname);
	if (flags & NS_RENAME_EXCHANGE)
		add_dirent(&tx, odir, dst->ino, oname);
	/* Moved directories get their new parent; both get a new ctime. */
	inode_rec_now(src, &fi);
	fi.parent = S_ISDIR(src->type) ? ndir : 0;
	fi.ctime = now;
	add_inode(&tx, &fi);
	if (flags & NS_RENAME_EXCHANGE) {
		inode_rec_now(dst, &fi);
		fi.parent = S_ISDIR(dst->type) ? odir : 0;
		fi.ctime = now;
		add_inode(&tx, &fi);
	}
	{
		/* Subdirectory counts of the two parents. */
		int src_dir = S_ISDIR(src->type), dst_dir = dst && S_ISDIR(dst->type);
		int od_delta, nd_delta;

		if (flags & NS_RENAME_EXCHANGE) {
			od_delta = dst_dir - src_dir;
			nd_delta = src_dir - dst_dir;
		} else {
			od_delta = -src_dir;
			nd_delta = src_dir - dst_dir;
		}
		if (od == nd) {
			add_dir_changed(&tx, od, od_delta + nd_delta, now);
		} else {
			add_dir_changed(&tx, od, od_delta, now);
			add_dir_changed(&tx, nd, nd_delta, now);
		}
	}
out:
	if (rc == 0 && tx.nrecs) {
		/* Hold the replaced file's contents still while it goes. */
		struct ns_inode *victim = NULL;

		if (dst && !(flags & NS_RENAME_EXCHANGE))
			victim = ns_inode_get(ns, dst->ino);
		rcu_read_end();
		if (victim) {
			rc = remove_contents(ns, victim, &tx);
			ns_inode_put(ns, victim);
		} else {
			rc = ns_tx_run(ns, &tx);
		}
	} else {
		rcu_read_end();
	}
	pthread_mutex_unlock(&ns->lock);
	mlog_tx_release(&tx);
	return rc;
}

/* Truncate lives with the contents. */
int ns_truncate_locked(struct ns *ns, struct ns_inode *in, uint64_t size, struct mlog_tx *tx);

int ns_setattr(struct ns *ns, uint64_t ino, const struct ns_setattr *sa, struct ns_attr *out)
{
	struct ns_hold *hold = NULL;
	struct ns_inode *in;
	struct fmt_inode *fi;
	struct mlog_tx tx;
	int64_t now = now_ns();
	int rc;

	if (sa->valid & ~(unsigned)(NS_SET_MODE | NS_SET_UID | NS_SET_GID | NS_SET_SIZE |
				    NS_SET_ATIME | NS_SET_MTIME))
		return -EINVAL;
	if (sa->valid & NS_SET_MODE && sa->mode & ~07777U)
		return -EINVAL;
	rc = ns_writable(ns);
	if (rc)
		return rc;
	in = ns_inode_get(ns, ino);
	if (!in)
		return -ENOENT;
	mlog_tx_init(&tx);
	pthread_mutex_lock(&in->lock);
	if (in->dying) {
		rc = -ENOENT;
		goto out;
	}
	if (sa->valid & NS_SET_SIZE) {
		if (S_ISDIR(in->type)) {
			rc = -EISDIR;
			goto out;
		}
		if (sa->size > NS_FILE_SIZE_MAX) {
			rc = -EFBIG;
			goto out;
		}
		/* Adds UNMAP (shrink) to @tx and zeroes what a grow exposes. */
		rc = ns_truncate_locked(ns, in, sa->size, &tx);
		if (rc)
			goto out;
	}
	fi = mlog_tx_add(&tx, FMT_REC_INODE, sizeof(*fi));
	if (fi) {
		inode_rec_now(in, fi);
		if (sa->valid & NS_SET_MODE)
			fi->mode = (fi->mode & ~07777U) | sa->mode;
		if (sa->valid & NS_SET_UID)
			fi->uid = sa->uid;
		if (sa->valid & NS_SET_GID)
			fi->gid = sa->gid;
		if (sa->valid & NS_SET_SIZE) {
			if (sa->size != fi->size)
				fi->mtime = now;
			fi->size = sa->size;
		}
		if (sa->valid & NS_SET_ATIME)
			fi->atime = sa->atime;
		if (sa->valid & NS_SET_MTIME)
			fi->mtime = sa->mtime;
		fi->ctime = now;
	}
	if (sa->valid & NS_SET_SIZE && sa->size < ns_inode_size(in))
		rc = ns_invalidate_range(ns, in, DIV_ROUND_UP(sa->size, FMT_BLOCK_SIZE),
					 NS_PAGES_MAX - DIV_ROUND_UP(sa->size, FMT_BLOCK_SIZE),
					 &hold);
	if (rc == 0)
		rc = ns_tx_run_held(ns, &tx, hold);
	else
		ns_hold_put(ns, hold);
	if (rc && sa->valid & NS_SET_SIZE)
		ns_unlock_pages(in, DIV_ROUND_UP(sa->size, FMT_BLOCK_SIZE), NS_PAGES_MAX);
	if (rc == 0 && out)
		ns_fill_attr(in, out);
out:
	pthread_mutex_unlock(&in->lock);
	ns_inode_put(ns, in);
	mlog_tx_release(&tx);
	return rc;
}

void ns_statfs(struct ns *ns, struct ns_statfs *st)
{
	struct alloc_stats as;
	struct mlog_stats ls;

	alloc_get_stats(ns->alloc, &as);
	mlog_get_stats(ns->log, &ls);
	st->block_size = FMT_BLOCK_SIZE;
	st->blocks = as.total;
	/* Blocks that wait for a grace period are free for every purpose but a reader's. */
	st->blocks_free = as.free + __atomic_load_n(&ns->frees_pending, __ATOMIC_RELAXED);
	st->blocks_quarantined = as.quarantined;
	st->files = __atomic_load_n(&ns->nr_inodes, __ATOMIC_RELAXED);
	st->log_used = ls.used;
	st->log_len = ls.area_len;
	st->checkpoints = ls.checkpoints;
	st->orphans = ns->orphans;
}

/* --- reachability --- */

struct reach {
	struct ns *ns;
	uint64_t seen;
};

static uint64_t count_reachable(struct ns *ns, struct ns_inode *dir, unsigned depth)
{
	uint64_t i, n = 0;
	unsigned order;
	xt_entry e;

	if (depth > 4096)
		return 0;
	xt_for_each (&dir->map, i, order, e, 0, XT_INDEX_MAX) {
		struct ns_dirent *de = xt_to_ptr(e);
		struct ns_inode *child = ns_inode_find(ns, de->ino);

		if (!child)
			continue;
		n++;
		if (S_ISDIR(child->type) && child->parent == dir->ino && child != dir)
			n += count_reachable(ns, child, depth + 1);
	}
	return n;
}

static uint64_t count_orphans(struct ns *ns)
{
	struct ns_inode *root;
	uint64_t reached = 1, total;

	rcu_read_begin();
	root = ns_inode_find(ns, NS_ROOT_INO);
	if (root)
		reached += count_reachable(ns, root, 0);
	rcu_read_end();
	total = __atomic_load_n(&ns->nr_inodes, __ATOMIC_RELAXED);
	return total > reached ? total - reached : 0;
}
