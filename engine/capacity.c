// SPDX-License-Identifier: MIT
/*
 * How many more files the namespace can hold (docs/format.md §4): every checkpoint writes
 * the whole namespace as one snapshot into a log area, so the namespace is full when its
 * snapshot, with the room kept for a removal, fills an area. ns_capacity() measures the
 * snapshot as a checkpoint would write it (ns_snapshot() into a counting mlog_snap).
 */
#include <pthread.h>
#include <string.h>

#include "format.h"
#include "mlog.h"
#include "nsint.h"
#include "util.h"

/*
 * What one more file takes in a snapshot: its INODE and its DIRENT_ADD with a name of
 * NS_CAPACITY_NAME bytes; no data (each run of its blocks adds a MAP).
 */
#define FILE_SNAP_BYTES                                                                      \
	(2 * sizeof(struct fmt_rec) + sizeof(struct fmt_inode) + sizeof(struct fmt_dirent) + \
	 ALIGN_UP(NS_CAPACITY_NAME, 8))

/*
 * The transaction that makes a file also rewrites its directory's INODE: that much more
 * must fit with the snapshot when the last file is made.
 */
#define DIR_INODE_BYTES (sizeof(struct fmt_rec) + sizeof(struct fmt_inode))

/*
 * The last measure, reused while the log is as it was then (the same file system, by its
 * uuid, with the same records, bytes and checkpoints in the log): df on a quiet namespace
 * walks nothing, and the log says the namespace it describes is the same.
 */
static struct {
	pthread_mutex_t lock;
	bool valid;
	uint8_t uuid[16];
	struct mlog_stats log;
	uint64_t snapshot_bytes;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool cache_fresh(const uint8_t *uuid, const struct mlog_stats *ls)
{
	return cache.valid && memcmp(cache.uuid, uuid, sizeof(cache.uuid)) == 0 &&
	       cache.log.records == ls->records && cache.log.used == ls->used &&
	       cache.log.checkpoints == ls->checkpoints && cache.log.gen == ls->gen;
}

int ns_capacity(struct ns *ns, struct ns_capacity *cap)
{
	struct mlog_stats ls;
	struct mlog_snap s;
	/* What a new file's transaction must leave free (tx.c's tiers, for a reserve holder). */
	uint64_t keep = ns_log_essential_keep(ns) + LOG_KEEP_FOR_REMOVAL + DIR_INODE_BYTES;
	const uint8_t *uuid = mlog_super(ns->log)->uuid; /* fixed at mkfs */
	int rc = 0;

	pthread_mutex_lock(&cache.lock);
	mlog_get_stats(ns->log, &ls);
	if (!cache_fresh(uuid, &ls)) {
		mlog_snap_begin_count(&s);
		rc = ns_snapshot(ns, &s);
		cache.valid = rc == 0;
		cache.snapshot_bytes = s.off;
		cache.log = ls;
		memcpy(cache.uuid, uuid, sizeof(cache.uuid));
	}
	cap->snapshot_bytes = cache.snapshot_bytes;
	pthread_mutex_unlock(&cache.lock);
	if (rc)
		return rc;
	cap->log_len = ls.area_len;
	cap->file_bytes = FILE_SNAP_BYTES;
	cap->inodes = shard_sum(&ns->nr_inodes);
	cap->inodes_free = ls.area_len > keep + cap->snapshot_bytes
				   ? (ls.area_len - keep - cap->snapshot_bytes) / FILE_SNAP_BYTES
				   : 0;
	return 0;
}
