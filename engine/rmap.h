/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_RMAP_H
#define DAXFS_ENGINE_RMAP_H

/*
 * rmap - region block -> (inode, page index), read under RCU (DESIGN §3.6, §5).
 *
 * One immutable record per extent (a run of blocks backing a run of pages of one file);
 * the records hang in an xtable keyed by block number, each extent cut into naturally
 * aligned power-of-two pieces stored as multi-order pointer entries, so memory is
 * O(extents), not O(blocks). Neighbouring records of the same file that continue each other
 * are merged on insert. Records are replaced, never changed in place, and freed after a
 * grace period, so a reader under RCU always sees a whole record.
 *
 * Locking: the rmap's own table lock, taken after the file's xtable lock (docs/locking.md).
 * Changes are made together with the forward entry: the caller holds that file's xtable
 * lock (or is replaying at mount).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xtable.h"

struct ns_inode;

struct rmap {
	struct xtable xt;
	uint64_t nr_records; /* under xt.lock */
};

struct rmap_owner {
	struct ns_inode *inode;
	uint64_t index; /* page index in the file */
	uint64_t first; /* first block of the extent the block is in */
	uint64_t count; /* blocks of that extent */
};

void rmap_init(struct rmap *rm);
/* rmap_destroy - free every record and node. Context: no other user. */
void rmap_destroy(struct rmap *rm);

/*
 * rmap_insert - blocks [@block, @block + @count) now back pages [@index, ...) of @inode.
 * Context: any thread registered with RCU. Locking: takes the rmap lock; caller holds the
 *          file's xtable lock (or mounts).
 * Return: 0; -EEXIST if any block of the range already has an owner (nothing changed);
 *         -ENOMEM.
 */
int rmap_insert(struct rmap *rm, uint64_t block, uint64_t count, struct ns_inode *inode,
		uint64_t index);

/*
 * rmap_remove - blocks [@block, @block + @count) have no owner any more; records are split
 * around the range. Blocks without an owner are skipped.
 * Context/Locking: as rmap_insert.
 * Return: 0 or -ENOMEM (then nothing changed).
 */
int rmap_remove(struct rmap *rm, uint64_t block, uint64_t count);

/*
 * rmap_lookup - who owns @block?
 * Context: any thread registered with RCU.
 * Locking: caller is inside rcu_read_begin(); the owner's inode stays dereferenceable until
 *          rcu_read_end() but may be dying or no longer own the block: revalidate under its
 *          xtable lock (DESIGN §5).
 * Return: true and *@out, or false when the block has no owner.
 */
bool rmap_lookup(struct rmap *rm, uint64_t block, struct rmap_owner *out);

/* rmap_memory - bytes of records and nodes. Locking: takes the rmap lock. */
size_t rmap_memory(struct rmap *rm);

#endif
