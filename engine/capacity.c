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
 * The last measure, reused while the log has had no commit since (its records and
 * checkpoints unchanged): df on a quiet namespace walks nothing.
 */
static struct {
	pthread_mutex_t lock;
	const struct ns *ns;
	uint64_t records, checkpoints, snapshot_bytes;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

int ns_capacity(struct ns *ns, struct ns_capacity *cap)
{
	struct mlog_stats ls;
	struct mlog_snap s;
	uint64_t keep = LOG_KEEP_FOR_REMOVAL + DIR_INODE_BYTES;
	int rc = 0;

	pthread_mutex_lock(&cache.lock);
	mlog_get_stats(ns->log, &ls);
	if (cache.ns != ns || cache.records != ls.records || cache.checkpoints != ls.checkpoints) {
		mlog_snap_begin_count(&s);
		rc = ns_snapshot(ns, &s);
		if (rc == 0)
			cache.snapshot_bytes = s.off;
		cache.ns = rc ? NULL : ns;
		cache.records = ls.records;
		cache.checkpoints = ls.checkpoints;
	}
	cap->snapshot_bytes = cache.snapshot_bytes;
	pthread_mutex_unlock(&cache.lock);
	if (rc)
		return rc;
	cap->log_len = ls.area_len;
	cap->file_bytes = FILE_SNAP_BYTES;
	cap->inodes = __atomic_load_n(&ns->nr_inodes, __ATOMIC_RELAXED);
	cap->inodes_free = ls.area_len > keep + cap->snapshot_bytes
				   ? (ls.area_len - keep - cap->snapshot_bytes) / FILE_SNAP_BYTES
				   : 0;
	return 0;
}
