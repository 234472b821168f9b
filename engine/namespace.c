// SPDX-License-Identifier: MIT
/*
 * The namespace as a whole: mkfs, mount (replay), unmount, statfs. The operations live in
 * their own modules (nsint.h lists them); mount sets up the structure they share and
 * registers the hooks through which the lower modules call the upper ones.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fault.h"
#include "lease.h"
#include "log.h"
#include "nsint.h"
#include "replica.h"
#include "sigbus.h"
#include "util.h"

/* --- mount --- */

static int replay_apply(void *ctx, const struct fmt_rec *rec, const void *payload, size_t plen)
{
	struct ns *ns = ctx;
	struct ns_txctx tc = {.live = false};

	ns->cur_seq = rec->seq;
	return ns_apply(ns, &tc, rec, payload, plen);
}

static void ns_free(struct ns *ns);

/* count_orphans - inodes that no directory entry reaches from the root. */
static uint64_t count_orphans(struct ns *ns);

static int ns_alloc_struct(struct ns **out, struct region *r)
{
	struct ns *ns = calloc_lines(sizeof(*ns));

	if (!ns)
		return -ENOMEM;
	ns->r = r;
	pthread_mutex_init(&ns->rename_lock, NULL);
	pthread_mutex_init(&ns->poison_lock, NULL);
	pthread_mutex_init(&ns->meta_bad_lock, NULL);
	pthread_mutex_init(&ns->replica_lock, NULL);
	CDS_INIT_LIST_HEAD(&ns->pholds);
	pthread_mutex_init(&ns->grant_lock, NULL);
	pthread_mutex_init(&ns->wait_mutex, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&ns->wait_cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	ns->lease_timeout_ms = NS_LEASE_TIMEOUT_MS_DEFAULT;
	brlock_init(&ns->txlock);
	rmap_init(&ns->rmap);
	/* The upper modules' hooks: the offline check replays HOLD records like a mount. */
	ns_hold_register(ns);
	ns_lease_register(ns);
	if (ns_tables_new(ns)) {
		ns_free(ns);
		return -ENOMEM;
	}
	*out = ns;
	return 0;
}

/* set_reserve - keep @pct percent of the data blocks and of the log for reserve holders. */
static void set_reserve(struct ns *ns, unsigned pct)
{
	struct mlog_stats st;

	mlog_get_stats(ns->log, &st);
	ns->reserve_blocks = ns->data_count * pct / 100;
	ns->reserve_log = st.area_len * pct / 100;
}

/*
 * upgrade - make a version 1 region version 2 (docs/format.md §7): one checkpoint, whose
 * superblocks carry FMT_INCOMPAT_POSIX. A crash before the first superblock is written
 * leaves version 1 (the old log in force); after, version 2. When it cannot be done (the
 * snapshot does not fit the log), the namespace stays version 1, read-only.
 */
static void upgrade(struct ns *ns)
{
	struct mlog_snap s;
	int rc;

	brlock_wrlock(&ns->txlock);
	rc = fault_at(FAULT_UPGRADE);
	if (rc == 0) {
		mlog_snap_begin(ns->log, &s);
		s.incompat = FMT_INCOMPAT_POSIX;
		rc = ns_snapshot(ns, &s);
		if (rc == 0)
			rc = mlog_snap_commit(&s, __atomic_load_n(&ns->next_ino, __ATOMIC_ACQUIRE));
	}
	if (rc == 0)
		__atomic_store_n(&ns->posix, true, __ATOMIC_RELEASE);
	brlock_wrunlock(&ns->txlock);
	if (rc == 0) {
		log_notice("%s: upgraded from format version 1 to 2 (symbolic and hard links, "
			   "special files, extended attributes, ACLs); daxfs before 0.2 cannot "
			   "mount it any more",
			   region_path(ns->r));
		return;
	}
	log_err("%s: cannot upgrade from format version 1 to 2: %s; serving it read-only",
		region_path(ns->r), strerror(-rc));
	__atomic_store_n(&ns->rdonly, true, __ATOMIC_RELEASE);
	mlog_set_rdonly(ns->log);
}

/* xbuild_left - a value some XATTR_SET records began and none ended: the log is damaged. */
static int xbuild_left(struct ns *ns)
{
	struct cds_lfht_iter it;
	struct ns_inode *in;
	int rc = 0;

	rcu_read_begin();
	cds_lfht_for_each_entry (ns->inodes, &it, in, hnode) {
		if (in->xbuild && rc == 0)
			rc = ns_damage(ns, "inode %" PRIu64 ": an XATTR_SET value never ends",
				       in->ino);
	}
	rcu_read_end();
	return rc;
}

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
	ns->posix = sb->incompat & FMT_INCOMPAT_POSIX;
	*out = ns;
	return 0;
}

/* attach_replica - replica_attach, with the replica's own persistence tracing. */
static int attach_replica(struct replica **rep, struct region *r, const struct ns_mount_opts *o,
			  const struct fmt_super *sb)
{
	char image[4096];
	int rc;

	rc = replica_attach(rep, r, o->replica, sb);
	if (rc || !o->trace_image)
		return rc;
	if (snprintf(image, sizeof(image), "%s.replica", o->trace_image) >= (int)sizeof(image))
		return -ENAMETOOLONG;
	return region_trace_start(region_mirror(r), image);
}

int ns_mount(struct ns **out, const char *path, const struct ns_mount_opts *o)
{
	struct ns_mount_opts def = {0};
	struct fmt_super sb;
	struct region *r;
	struct ns *ns = NULL;
	struct replica *rep = NULL;
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
	if (rc == 0 && o->replica)
		rc = attach_replica(&rep, r, o, &sb);
	if (rc == 0)
		rc = ns_open_region(&ns, r, &sb);
	if (rc == 0)
		rc = mlog_open(&ns->log, r, replay_apply, ns);
	if (rc == 0 && ns->posix)
		rc = xbuild_left(ns);
	if (rc) {
		ns_close_region(&ns);
		replica_free(rep);
		region_close(&r);
		return rc;
	}
	ns->rdonly = o->rdonly;
	set_reserve(ns, MIN(o->reserve_pct, 50U));
	if (!ns_inode_find(ns, NS_ROOT_INO)) {
		log_err("%s: the log has no root directory; the region is damaged", path);
		rc = -EUCLEAN;
		goto err;
	}
	ns->next_ino = MAX(ns->next_ino, MAX(mlog_super(ns->log)->next_ino, ns->max_ino + 1));
	if (!ns->posix && !ns_writable(ns))
		upgrade(ns);
	rc = replica_start(ns, rep);
	rep = NULL;
	if (rc)
		goto err;
	if (ns->posix && !ns_writable(ns)) {
		rc = ns_remove_orphans(ns);
		if (rc < 0) {
			log_err("%s: cannot remove the files left open at the last crash: %s", path,
				strerror(-rc));
			goto err;
		}
		if (rc > 0)
			log_notice("%s: removed %d files that were unlinked while open", path, rc);
	}
	ns->orphans = count_orphans(ns);
	if (ns->orphans)
		log_warn("%s: %" PRIu64 " inodes are not reachable from the root and keep their "
			 "blocks; run daxfs check",
			 path, ns->orphans);
	*out = ns;
	return 0;
err:
	replica_stop(ns, ns->replica);
	replica_free(rep);
	ns_close_region(&ns);
	region_close(&r);
	return rc;
}

static void ns_free(struct ns *ns)
{
	ns_tables_free(ns);
	rmap_destroy(&ns->rmap);
	/* Nodes and records were handed to call_rcu: wait for them before freeing @ns. */
	rcu_barrier_all();
	alloc_delete(&ns->alloc);
	brlock_destroy(&ns->txlock);
	pthread_mutex_destroy(&ns->poison_lock);
	pthread_mutex_destroy(&ns->meta_bad_lock);
	pthread_mutex_destroy(&ns->replica_lock);
	ns_holds_free(ns);
	free(ns->bad_pages);
	pthread_mutex_destroy(&ns->grant_lock);
	pthread_mutex_destroy(&ns->wait_mutex);
	pthread_cond_destroy(&ns->wait_cond);
	pthread_mutex_destroy(&ns->rename_lock);
	free(ns);
}

void ns_close_region(struct ns **nsp)
{
	struct ns *ns = *nsp;

	if (!ns)
		return;
	mlog_close(&ns->log);
	ns_free(ns);
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
			ns_inode_rec_now(in, fi);
		if (tx.nrecs == FMT_TX_MAX_RECS) {
			rcu_read_end();
			ns_tx_run(ns, NULL, &tx);
			mlog_tx_reset(&tx);
			rcu_read_begin();
		}
	}
	rcu_read_end();
	ns_tx_run(ns, NULL, &tx);
	mlog_tx_release(&tx);
}

void ns_unmount(struct ns **nsp)
{
	struct ns *ns = *nsp;
	struct region *r;

	if (!ns)
		return;
	flush_dirty_attrs(ns);
	replica_stop(ns, ns->replica);
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
	if (o->replica) {
		rc = replica_format_attach(r, o->replica, size != 0, o->force);
		if (rc) {
			region_close(&r);
			return rc;
		}
	}
	root.ino = NS_ROOT_INO;
	root.parent = NS_ROOT_INO;
	root.mode = S_IFDIR | 0755;
	root.nlink = 2;
	root.atime = root.mtime = root.ctime = now;
	rc = mlog_format(r, o->log_len, &root, o->progress);
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
	st->blocks_reserved = MIN(ns->reserve_blocks, st->blocks_free);
	st->files = shard_sum(&ns->nr_inodes);
	st->log_used = ls.used;
	st->log_len = ls.area_len;
	st->checkpoints = ls.checkpoints;
	st->log_reserved = ns->reserve_log;
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
	total = shard_sum(&ns->nr_inodes);
	return total > reached ? total - reached : 0;
}
