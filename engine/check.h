/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_CHECK_H
#define DAXFS_ENGINE_CHECK_H

/*
 * check - verify an unmounted region against docs/format.md §6 (daxfs check).
 * Read-only: nothing is written, whatever is found.
 */

#include <stdbool.h>
#include <stdint.h>

enum check_severity {
	CHECK_NOTE,    /* worth saying, not damage (a torn tail, a stale backup superblock) */
	CHECK_PROBLEM, /* damage: check exits non-zero */
};

typedef void (*check_line_fn)(void *ctx, enum check_severity sev, const char *msg);

struct check_result {
	uint64_t problems, notes;
	bool primary_ok, backup_ok;
	uint64_t region_size, data_blocks, log_len;
	unsigned log_active;
	uint64_t sb_gen;
	uint64_t records, log_bytes, torn_bytes;
	uint64_t dirs, files, orphans;
	uint64_t blocks_owned, blocks_free, blocks_quarantined, blocks_leaked;
	uint64_t blocks_held; /* held for dropped clients (HOLD records, DESIGN §6) */
	uint64_t bytes_in_files;
	unsigned format_version; /* 1, 2 (FMT_INCOMPAT_POSIX) or 3 (FMT_INCOMPAT_REPLICA) */
	uint64_t symlinks, specials, xattrs;
};

/*
 * ns_check - check the region at @path; @fn gets one line per finding.
 * Context: the calling thread is registered with RCU.
 * Return: 0 when the check ran (see @res->problems), or a negative errno when the region
 *         could not be read at all (missing, in use: -EBUSY, not daxfs: -ENODATA); a line
 *         has been logged then.
 */
int ns_check(const char *path, check_line_fn fn, void *ctx, struct check_result *res);

/*
 * ns_check_progress - ns_check, telling @progress how far it got: "replaying the log" (log
 * bytes, the total not known until the end), then "checking files" (inodes of the total).
 */
struct progress_cb;
int ns_check_progress(const char *path, check_line_fn fn, void *ctx,
		      const struct progress_cb *progress, struct check_result *res);

struct ns;

/*
 * ns_audit - verify a mounted namespace's block ownership invariants (stress tests):
 * every owned block maps back through the rmap and is neither free nor quarantined, and
 * per-file counts agree. Holds every transaction off while it runs.
 * Return: the number of problems (each reported through @fn).
 */
uint64_t ns_audit(struct ns *ns, check_line_fn fn, void *ctx);

#endif
