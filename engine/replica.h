/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_REPLICA_H
#define DAXFS_ENGINE_REPLICA_H

/*
 * replica - a region's replica (DESIGN §13): a second region of the same size and kind that
 * mirrors every store (region.h, "Mirroring"), so that a block poisoned in one copy is read
 * and repaired from the other (poison.c).
 *
 * The pair's state lives in the superblock (docs/format.md §2, format version 3): the
 * daemon marks it OPEN before it writes and CLEAN when it stops with both copies equal. A
 * replica is trusted at start only when the pair was left CLEAN and its superblock is the
 * region's, generation included; otherwise it is copied again in the background (resync),
 * and stands in for the region only below the copy's progress.
 */

#include <stdbool.h>
#include <stdint.h>

#include "format.h"

struct ns;
struct region;
struct replica;

enum replica_status {
	REPLICA_NONE,	   /* the region has no replica */
	REPLICA_INSYNC,	   /* both copies agree */
	REPLICA_RESYNCING, /* being copied: synced bytes of size */
	REPLICA_DEGRADED,  /* the region has one, but it is not in use: see why */
};

struct replica_info {
	enum replica_status status;
	char path[160];	   /* the replica, when one is attached */
	char why[160];	   /* REPLICA_DEGRADED: what happened */
	uint64_t synced;   /* bytes of the replica that hold the region's */
	uint64_t size;	   /* bytes */
	uint64_t reads;	   /* blocks read from the replica in place of poisoned ones */
	uint64_t repaired; /* blocks of the region repaired from the replica */
};

const char *replica_status_name(enum replica_status s);

/*
 * replica_attach - open the replica at @path and make it @r's mirror (called by ns_mount
 * right after it opened @r, before anything is written). @sb: @r's superblock.
 * Refused, with one clear line each: the region itself; another size or kind; a daxfs
 * region of another file system (its uuid); a read-only mount.
 * Context: mount. Return: 0 and *@out; -EINVAL, -EBUSY or region_open's errors.
 */
int replica_attach(struct replica **out, struct region *r, const char *path,
		   const struct fmt_super *sb);

/*
 * replica_format_attach - for mkfs of a pair: open (with @create, create an emulated
 * replica of @r's size) the replica at @path and make it @r's mirror, trusted, since the
 * format writes every byte that is in use, on both. A replica that holds daxfs is refused
 * unless @force, as mkfs refuses the region.
 * Return: 0; -EEXIST; the refusals and errors of replica_attach.
 */
int replica_format_attach(struct region *r, const char *path, bool create, bool force);

/*
 * replica_start - after mount: mark the pair OPEN in the superblock (the region becomes
 * format version 3) and, unless the copies are known equal, start copying in the
 * background. With @rep NULL on a region whose superblock names a replica, run degraded:
 * writes reach only the region, so the next start with the replica resyncs.
 * Context: mount, thread registered with RCU. Return: 0; -errno (logged).
 */
int replica_start(struct ns *ns, struct replica *rep);

/*
 * replica_stop - stop the copy; when both copies agree, mark the pair CLEAN. Frees @rep
 * (the region closes the mirror). Accepts NULL.
 * Context: unmount, after the last write; thread registered with RCU.
 */
void replica_stop(struct ns *ns, struct replica *rep);

/*
 * replica_persist_file - a client persisted stores it made through its mapping to file
 * bytes [@off, @off + @len) of @ino: copy the blocks under them to the replica.
 * Context: thread registered with RCU. Locking: RCU per extent run; none across copies.
 * Return: 0 (also without a replica, and for holes); -ENOENT; -EIO a replica block could
 *         not be repaired (the replica then runs degraded).
 */
int replica_persist_file(struct ns *ns, uint64_t ino, uint64_t off, uint64_t len);

/*
 * replica_scrub_range - read the replica's copy of data-area blocks [@from, @from +
 * @count) that are in use (as poison_scrub_range reads the region's): a block poisoned
 * there is repaired from the region. With @compare, each block is also compared with the
 * region's; those that differ, but for pages a client maps for writing (whose stores reach
 * the replica when it persists them), are counted, and the first REPLICA_DIFF_MAX listed.
 * Blocks the background copy has not reached yet are left out (skipped counts them).
 * Context: thread registered with RCU, outside a read section, no engine lock held.
 * Return: 0; -ENODATA (no replica); -EINVAL (@from past the data area).
 */
#define REPLICA_DIFF_MAX 16
struct replica_scrub_result {
	uint64_t blocks_read;		 /* of the replica */
	uint64_t blocks_bad;		 /* of them poisoned, repaired from the region */
	uint64_t blocks_unrepaired;	 /* of those, not repaired (the replica's media) */
	uint64_t blocks_skipped;	 /* not copied to the replica yet */
	uint64_t differ;		 /* with compare: blocks whose copies differ */
	uint64_t diff[REPLICA_DIFF_MAX]; /* the first of them, region byte offsets */
};
int replica_scrub_range(struct ns *ns, uint64_t from, uint64_t count, bool compare,
			struct replica_scrub_result *res);

/*
 * replica_inject_media - fault injection: the replica's bytes [@off, @off + @len) fault when
 * read from now on (region_simulate_poison on it), unnoticed until something reads them.
 * Return: 0; -ENODATA (no replica); region_simulate_poison's errors.
 */
int replica_inject_media(struct ns *ns, uint64_t off, uint64_t len);

/* replica_free - a replica attached but never started (a mount that failed). Accepts NULL. */
void replica_free(struct replica *rep);

/*
 * replica_add - attach the replica at @path while the region is served (daxfs replica add):
 * the checks of replica_attach, then every store reaches it, the superblocks say OPEN
 * (format version 3), and the whole region is copied to it in the background.
 * replica_remove - detach it (stopping a copy in progress), close it, and take the replica
 * out of the superblocks (a region that was started without its replica too).
 * Context: thread registered with RCU, outside a read section, holding no engine lock; each
 *          waits for a grace period. Locking: ns->replica_lock.
 * Return: 0; -EEXIST (a replica is attached: remove it first), -ENOENT (none to remove),
 *         -EROFS, and replica_attach's refusals (logged).
 */
int replica_add(struct ns *ns, const char *path);
int replica_remove(struct ns *ns);

/* replica_get_info - the pair as status shows it. Context: any thread. Locking: replica_lock. */
void replica_get_info(struct ns *ns, struct replica_info *info);

/* replica_wait_synced - tests: wait up to @ms for the copy to finish. Return: true if it did. */
bool replica_wait_synced(struct ns *ns, unsigned ms);

#endif
