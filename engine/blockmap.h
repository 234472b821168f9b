/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_BLOCKMAP_H
#define DAXFS_ENGINE_BLOCKMAP_H

/*
 * blockmap - a file's page index -> region block entries, kept as value entries of the
 * generic xtable, and their entry locks (DESIGN §4), as fs/dax.c sits on lib/xarray.c: the
 * tree stores words; this module says what the words mean and how waiting for one works.
 *
 * The block-map entry word, built and read only with the helpers below:
 *
 *   bits   | field
 *   -------+-------------------------------------------------------------
 *   0      | XT_TAG_VALUE, always 1 (a value entry of the xtable)
 *   1      | BM_LOCKED   entry lock bit (set and cleared under the table lock)
 *   2      | BM_HOLE     a placeholder with no block (locked while a block is being allocated)
 *   3      | BM_POISON   the page's data is lost; the block is quarantined, not owned
 *   4..9   | order (0 = 4 KiB page ... 9 = 2 MiB), 6 bits
 *   10..11 | reserved, 0
 *   12..63 | region block number (4 KiB units), 52 bits
 *
 * Entry locks: the lock is bit BM_LOCKED of the entry, set and cleared under the table lock.
 * A waiter notes the entry, joins the hashed wait queue for (table, first index of the
 * entry), drops the table lock, sleeps (re-checking at least every second), and retries from
 * the lookup: the entry may be gone, split or replaced. Unlock clears the bit and wakes every
 * waiter; an entry that leaves the tree while locked wakes them too (the xtable's evict hook).
 */

#include <stdbool.h>
#include <stdint.h>

#include "xtable.h"

typedef xt_entry bm_entry;

#define BM_LOCKED ((bm_entry)1 << 1)
#define BM_HOLE ((bm_entry)1 << 2)
#define BM_POISON ((bm_entry)1 << 3)
#define BM_ORDER_SHIFT 4
#define BM_ORDER_MASK ((bm_entry)0x3f << BM_ORDER_SHIFT)
#define BM_BLOCK_SHIFT 12
#define BM_BLOCK_MAX ((UINT64_C(1) << (64 - BM_BLOCK_SHIFT)) - 1)
#define BM_FLAGS_MASK (BM_LOCKED | BM_HOLE | BM_POISON)

_Static_assert(BM_ORDER_SHIFT + 6 <= BM_BLOCK_SHIFT, "the order fits below the block number");
_Static_assert((BM_FLAGS_MASK & XT_TAG_VALUE) == 0, "flags leave the value tag alone");

static inline bm_entry bm_mk_entry(uint64_t block, unsigned order, bm_entry flags)
{
	return XT_TAG_VALUE | (flags & BM_FLAGS_MASK) | ((bm_entry)order << BM_ORDER_SHIFT) |
	       (block << BM_BLOCK_SHIFT);
}

/* bm_mk_hole - a placeholder entry with no block (always made locked by its creator). */
static inline bm_entry bm_mk_hole(unsigned order)
{
	return bm_mk_entry(0, order, BM_HOLE | BM_LOCKED);
}

static inline bool bm_is_locked(bm_entry e)
{
	return xt_is_value(e) && (e & BM_LOCKED);
}

static inline bool bm_is_hole(bm_entry e)
{
	return xt_is_value(e) && (e & BM_HOLE);
}

static inline bool bm_is_poison(bm_entry e)
{
	return xt_is_value(e) && (e & BM_POISON);
}

/* bm_has_block - a value entry that owns its block (not a hole, not poisoned). */
static inline bool bm_has_block(bm_entry e)
{
	return xt_is_value(e) && !(e & (BM_HOLE | BM_POISON));
}

static inline unsigned bm_to_order(bm_entry e)
{
	return (unsigned)((e & BM_ORDER_MASK) >> BM_ORDER_SHIFT);
}

static inline uint64_t bm_to_block(bm_entry e)
{
	return e >> BM_BLOCK_SHIFT;
}

/* bm_unlocked - @e with the lock bit clear (what the slot holds once unlocked). */
static inline bm_entry bm_unlocked(bm_entry e)
{
	return e & ~BM_LOCKED;
}

/*
 * bm_init - @xt as a block map: an empty table whose entries wake their lock's waiters when
 * they leave the tree.
 * Context: any; the table must not be in use yet.
 */
void bm_init(struct xtable *xt);

/*
 * __bm_lock_entry - lock the entry covering @index, waiting while another thread holds it.
 * While waiting the table lock is dropped and the waiter sleeps on a hashed wait queue keyed
 * by (table, first index of the entry); on waking it retries from the lookup, because the
 * entry may be gone or different.
 * Context: any thread registered with RCU, not inside an RCU read section.
 * Locking: caller holds xt_lock(); it may be dropped and retaken while waiting, and is held
 *          on return.
 * Return: the entry as it now stands, with BM_LOCKED set, or XT_EMPTY if there is no entry
 *         (nothing was locked). Pointer entries cannot be locked: returned as they are.
 */
bm_entry __bm_lock_entry(struct xtable *xt, uint64_t index);

/*
 * __bm_get_unlocked - wait until the entry covering @index is not locked, then return it
 * without locking it.
 * Context/Locking: as __bm_lock_entry.
 * Return: the unlocked entry, or XT_EMPTY.
 */
bm_entry __bm_get_unlocked(struct xtable *xt, uint64_t index);

/*
 * __bm_unlock_entry - clear the lock bit of the entry covering @index (which the caller
 * locked) and wake every waiter on it.
 * Context: any thread registered with RCU. Locking: caller holds xt_lock().
 */
void __bm_unlock_entry(struct xtable *xt, uint64_t index);

/* bm_unlock_entry - as __bm_unlock_entry, taking and dropping the table lock. */
void bm_unlock_entry(struct xtable *xt, uint64_t index);

/*
 * bm_lock_range / bm_unlock_range - take (waiting for other holders) or drop the entry locks
 * of every entry in pages [@start, @end): what a caller does before it frees or reassigns
 * their blocks (DESIGN §4).
 * Context: thread registered with RCU, outside a read section, not in a transaction.
 * Locking: the caller keeps new entries out of the range (a file's inode lock); takes the
 *          table lock.
 */
void bm_lock_range(struct xtable *xt, uint64_t start, uint64_t end);
void bm_unlock_range(struct xtable *xt, uint64_t start, uint64_t end);

#endif
