/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_XTABLE_H
#define DAXFS_ENGINE_XTABLE_H

/*
 * xtable - an XArray-like radix tree keyed by a 64-bit index (a file's page index, a region
 * block number, a directory cookie).
 *
 * Nodes have 64 slots (XT_SHIFT = 6). Loads walk the tree under RCU with no lock; every change
 * (store, erase, cmpxchg, marks, entry-lock bit) is made under the table lock, and nodes that
 * leave the tree are freed after an RCU grace period, so a lockless reader never touches freed
 * memory. A multi-order entry of order k covers the 2^k indices [i, i + 2^k) with i aligned to
 * 2^k: it sits in one slot of the level whose slots cover 2^(6*(k/6)) indices, and the other
 * 2^(k%6) - 1 slots it covers hold sibling entries that point back to it.
 *
 * What a slot holds (the low two bits tell):
 *
 *   bits 1..0 | meaning
 *   ----------+--------------------------------------------------------------
 *       00    | empty (the word 0) or a caller's pointer (8-byte aligned, non-NULL)
 *       x1    | a value entry: the other 63 bits are the caller's (engine/blockmap.h
 *             | encodes a file's page -> block entries in them)
 *       10    | internal to the tree (node pointer or sibling); never returned to callers
 *
 * The table knows nothing of what its values mean: entry locks, holes and poison belong to
 * its user (as fs/dax.c keeps its entry bits and wait queues on top of lib/xarray.c). A user
 * that must hear of entries leaving the tree (to wake their waiters) registers an evict
 * hook with xt_set_evict().
 */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rcu.h"

typedef uint64_t xt_entry;

#define XT_EMPTY ((xt_entry)0)
#define XT_SHIFT 6
#define XT_SLOTS (1U << XT_SHIFT)
#define XT_ORDER_MAX 30 /* largest order a multi-order entry may have */
#define XT_INDEX_MAX (UINT64_MAX >> 1)

#define XT_TAG_VALUE ((xt_entry)1 << 0)

_Static_assert(sizeof(xt_entry) == 8, "an entry is one 64-bit word");
_Static_assert(sizeof(void *) == 8, "pointer entries need 64-bit pointers");

/* Marks: one bit per slot and mark, propagated up so marked iteration skips unmarked subtrees. */
enum xt_mark {
	XT_MARK_0 = 0,
	XT_MARK_1 = 1,
	XT_MARK_2 = 2,
	XT_MARK_COUNT = 3,
};
#define XT_MARK_ANY (-1)

struct xt_node;
struct xtable;

/*
 * xt_evict_fn - @old, whose first index is @first, left the tree: replaced by a store, or
 * removed by an erase or by a cmpxchg to XT_EMPTY (not for in-place cmpxchg, nor at
 * xt_destroy). Called under the table lock; must not call back into the table.
 */
typedef void (*xt_evict_fn)(struct xtable *xt, uint64_t first, xt_entry old);

struct xtable {
	pthread_mutex_t lock;
	struct xt_node *root; /* RCU-published; NULL when empty */
	uint64_t nr_nodes;    /* under the lock; for memory reports */
	xt_evict_fn evict;    /* fixed before first use; may be NULL */
};

/* --- entry-word helpers --- */

static inline xt_entry xt_mk_ptr(const void *p)
{
	return (xt_entry)(uintptr_t)p;
}

static inline bool xt_is_value(xt_entry e)
{
	return (e & XT_TAG_VALUE) != 0;
}

static inline bool xt_is_ptr(xt_entry e)
{
	return e != XT_EMPTY && (e & 3) == 0;
}

static inline void *xt_to_ptr(xt_entry e)
{
	return (void *)(uintptr_t)e;
}

/* --- the table --- */

/*
 * xt_init - an empty table.
 * Context: any; the table must not be in use yet.
 */
void xt_init(struct xtable *xt);

/*
 * xt_set_evict - call @fn for every entry that leaves the tree from now on.
 * Context: before the table is shared.
 */
void xt_set_evict(struct xtable *xt, xt_evict_fn fn);

/*
 * xt_destroy - free every node. Entries are not looked at: the caller has emptied or
 * forgotten them.
 * Context: any thread registered with RCU.
 * Locking: the caller guarantees no other user; nodes are freed after a grace period
 *          (rcu_defer), so lockless readers that still run are safe.
 */
void xt_destroy(struct xtable *xt);

/*
 * xt_lock / xt_unlock - the table lock, which serialises every change.
 * Context: any thread. Never held while sleeping on anything but the lock of a later class
 *          (see docs/locking.md); never two tables' locks at once.
 */
void xt_lock(struct xtable *xt);
void xt_unlock(struct xtable *xt);

/*
 * xt_load - the entry covering @index.
 * Context: any thread registered with RCU.
 * Locking: takes and drops the RCU read lock itself (nests inside a caller's read section);
 *          the result may be stale: revalidate under xt_lock() before acting on it. A caller
 *          that dereferences a pointer entry must itself be inside rcu_read_begin().
 * Return: the entry, or XT_EMPTY.
 */
xt_entry xt_load(struct xtable *xt, uint64_t index);

/*
 * __xt_load - the entry covering @index, with its first index and order.
 * Context: any thread registered with RCU.
 * Locking: caller holds xt_lock(), or is inside rcu_read_begin() (then the result may be
 *          stale as for xt_load).
 * Return: the entry or XT_EMPTY; *@first and *@order (either may be NULL) are set when the
 *         entry is present.
 */
xt_entry __xt_load(struct xtable *xt, uint64_t index, uint64_t *first, unsigned *order);

/*
 * __xt_store - make @entry the entry for [@index, @index + 2^@order), replacing every entry
 * inside that range. Marks of replaced entries are cleared.
 * Context: any thread registered with RCU.
 * Locking: caller holds xt_lock(). Replaced entries go to the evict hook.
 * Return: 0; -EINVAL if @index is not aligned to 2^@order, @order > XT_ORDER_MAX, the range
 *         passes XT_INDEX_MAX, or @entry is XT_EMPTY or has the internal tag; -EBUSY if a
 *         larger entry covers the range (erase it first); -ENOMEM (the table is unchanged).
 */
int __xt_store(struct xtable *xt, uint64_t index, unsigned order, xt_entry entry);

/*
 * __xt_erase - remove the entry covering @index (the whole multi-order entry).
 * Context: any thread registered with RCU.
 * Locking: caller holds xt_lock(). The entry goes to the evict hook.
 * Return: the removed entry, or XT_EMPTY.
 */
xt_entry __xt_erase(struct xtable *xt, uint64_t index);

/*
 * __xt_cmpxchg - if the entry covering @index is @old, replace it in place by @entry (same
 * slot, same order; XT_EMPTY removes it, through the evict hook; an empty @index with
 * @old == XT_EMPTY stores @entry at order 0).
 * Context: any thread registered with RCU.
 * Locking: caller holds xt_lock().
 * Return: the entry found before (equal to @old on success); on -ENOMEM for the order-0
 *         store into an empty slot, returns @old unchanged and *@err = -ENOMEM (@err may be
 *         NULL when @old is not XT_EMPTY).
 */
xt_entry __xt_cmpxchg(struct xtable *xt, uint64_t index, xt_entry old, xt_entry entry, int *err);

/* Where __xt_peek found an entry, for __xt_poke under the same hold of the table lock. */
struct xt_cursor {
	void *node;
	unsigned off;
	uint64_t first; /* the entry's first index */
};

/*
 * __xt_peek - the entry covering @index, and in *@cur where it sits (left alone when the
 * entry is XT_EMPTY): one walk, for a user that changes a value entry's bits in place
 * (blockmap.c's entry locks take one walk to lock and one to unlock).
 * Context: any thread registered with RCU. Locking: caller holds xt_lock().
 */
xt_entry __xt_peek(struct xtable *xt, uint64_t index, struct xt_cursor *cur);

/*
 * __xt_poke - replace the value entry __xt_peek found at @cur by the value entry @entry,
 * in place (same slot, same order, marks kept), as __xt_cmpxchg would.
 * Context: any thread registered with RCU. Locking: the xt_lock() hold of the peek.
 */
void __xt_poke(struct xtable *xt, const struct xt_cursor *cur, xt_entry entry);

/*
 * __xt_set_mark / __xt_clear_mark - set or clear @mark on the entry covering @index.
 * Context: any thread. Locking: caller holds xt_lock(). No-op when @index is empty.
 */
void __xt_set_mark(struct xtable *xt, uint64_t index, enum xt_mark mark);
void __xt_clear_mark(struct xtable *xt, uint64_t index, enum xt_mark mark);

/*
 * xt_get_mark - is @mark set on the entry covering @index?
 * Context: any thread registered with RCU. Locking: RCU read side, or xt_lock() held.
 */
bool xt_get_mark(struct xtable *xt, uint64_t index, enum xt_mark mark);

/*
 * xt_find - the first entry that covers an index in [*@index, @max] (with @mark set, unless
 * @mark is XT_MARK_ANY).
 * Context: any thread registered with RCU.
 * Locking: caller holds xt_lock(), or is inside rcu_read_begin() (entries may be stale).
 * Return: the entry or XT_EMPTY; on success *@index is the entry's first index (which may be
 *         below the value passed in when a multi-order entry straddles it) and *@order
 *         (may be NULL) its order. Continue from *@index + (1 << *@order).
 */
xt_entry xt_find(struct xtable *xt, uint64_t *index, uint64_t max, int mark, unsigned *order);

/* Iterate over every entry in [start, max]; @i is the entry's first index, @o its order. */
#define xt_for_each(xt, i, o, e, start, max)                                                   \
	for ((i) = (start); ((e) = xt_find((xt), &(i), (max), XT_MARK_ANY, &(o))) != XT_EMPTY; \
	     (i) += (UINT64_C(1) << (o)))

#define xt_for_each_marked(xt, i, o, e, start, max, mark)                                 \
	for ((i) = (start); ((e) = xt_find((xt), &(i), (max), (mark), &(o))) != XT_EMPTY; \
	     (i) += (UINT64_C(1) << (o)))

/*
 * xt_empty - does the table hold no entry?
 * Context/Locking: as xt_load.
 */
bool xt_empty(struct xtable *xt);

/*
 * xt_memory - bytes of nodes the table holds now.
 * Locking: caller holds xt_lock() for an exact figure; a racy read otherwise.
 */
size_t xt_memory(struct xtable *xt);

#endif
