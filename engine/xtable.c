// SPDX-License-Identifier: MIT
/*
 * xtable - the XArray-like radix tree of xtable.h.
 *
 * Layout: a node has 64 slots, a per-mark bitmap of those slots, its shift (the log2 of the
 * number of indices one of its slots covers), its offset in its parent and a count of used
 * slots. The root is always a node (or NULL when the table is empty) and the tree is always
 * as short as it can be: the root never has slot 0 as its only used slot when that slot is a
 * node. An entry of order k sits in the node of shift 6 * (k / 6) on its index's path, in
 * 2^(k % 6) consecutive slots: the first (canonical) slot holds the entry, the others hold
 * sibling words naming the canonical offset.
 *
 * Lockless readers: every slot, mark word and the root are read with acquire loads and
 * written with release stores; nodes leave the tree before they are handed to rcu_defer().
 * A node's position in the tree never changes (growing puts the old root at slot 0 of the
 * new one, shrinking makes slot 0 the root), so a reader's arithmetic on the path it took
 * stays right. Writes that change more than one slot of a node (placing or removing a
 * multi-slot entry) run inside that node's sequence count, which a reader following a
 * sibling checks, so a reader never pairs a sibling with a canonical slot that does not
 * cover it. Single-slot changes (entry lock bit, in-place cmpxchg, linking a node into an
 * empty slot) need no sequence: they keep every sibling's canonical slot covering it.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "util.h"
#include "xtable.h"

#define XT_SLOT_MASK (XT_SLOTS - 1)
#define XT_LEVELS 11 /* shifts 0, 6, ..., 60 cover every 64-bit index */
/* a store adds at most XT_LEVELS - 1 roots and a new path of XT_LEVELS - 1 nodes below them */
#define XT_STORE_NODES (2 * (XT_LEVELS - 1))
#define XT_TAG_MASK ((uint64_t)3)
#define XT_TAG_INTERNAL ((uint64_t)2)
#define XT_SIBLING_END ((uint64_t)XT_SLOTS << 2) /* sibling words are below this */

_Static_assert(XT_SLOTS == 64, "the mark bitmaps are one uint64_t per node");
_Static_assert(XT_ORDER_MAX / XT_SHIFT * XT_SHIFT + XT_SHIFT <= 64, "orders fit the levels");

/*
 * Slot words (bits 1..0 == 10 are internal, xtable.h):
 *
 *   value               | meaning
 *   --------------------+---------------------------------------------------
 *   0                   | empty
 *   (offset << 2) | 2   | sibling: the entry is in the canonical slot @offset (< 64)
 *   node | 2            | child node (a heap pointer, far above XT_SIBLING_END)
 *   anything else       | the caller's entry
 */
struct xt_node {
	uint64_t slots[XT_SLOTS];      /* rcu_fetch / rcu_publish */
	uint64_t marks[XT_MARK_COUNT]; /* acquire loads / release stores */
	struct xt_node *parent;	       /* writers only */
	uint32_t seq;		       /* odd while a multi-slot change is under way */
	uint8_t shift;		       /* set before publication, never changed */
	uint8_t offset;		       /* slot in parent, never changed */
	uint8_t count;		       /* used slots; writers only */
	struct rcu_head rcu;
};

/* Where a lookup found an entry. */
struct xt_pos {
	struct xt_node *node; /* node holding the canonical slot */
	unsigned off;	      /* canonical slot */
	unsigned nslots;      /* slots the entry takes, a power of two */
	uint64_t first;	      /* first index the entry covers */
	unsigned order;
};

/* --- slot words --- */

/*
 * slot_is_internal / slot_is_sibling / slot_is_node - classify a slot word.
 * Context: any. Locking: none (pure).
 * Return: whether @w is of that kind.
 */
static inline bool slot_is_internal(uint64_t w)
{
	return (w & XT_TAG_MASK) == XT_TAG_INTERNAL;
}

static inline bool slot_is_sibling(uint64_t w)
{
	return slot_is_internal(w) && w < XT_SIBLING_END;
}

static inline bool slot_is_node(uint64_t w)
{
	return slot_is_internal(w) && w >= XT_SIBLING_END;
}

/*
 * slot_to_node / node_to_slot / mk_sibling / sibling_to_offset - convert slot words.
 * Context: any. Locking: none (pure).
 * Return: the converted value.
 */
static inline struct xt_node *slot_to_node(uint64_t w)
{
	return (struct xt_node *)(uintptr_t)(w & ~XT_TAG_MASK);
}

static inline uint64_t node_to_slot(const struct xt_node *node)
{
	return (uint64_t)(uintptr_t)node | XT_TAG_INTERNAL;
}

static inline uint64_t mk_sibling(unsigned off)
{
	return ((uint64_t)off << 2) | XT_TAG_INTERNAL;
}

static inline unsigned sibling_to_offset(uint64_t w)
{
	return (unsigned)(w >> 2);
}

/*
 * slot_get / slot_set - read or publish one slot word.
 * Context: any. Locking: slot_get: RCU read side or the table lock; slot_set: the table lock.
 * Return: slot_get: the word.
 */
static inline uint64_t slot_get(const struct xt_node *node, unsigned off)
{
	return rcu_fetch(node->slots[off]);
}

static inline void slot_set(struct xt_node *node, unsigned off, uint64_t w)
{
	rcu_publish(node->slots[off], w);
}

/* --- index arithmetic --- */

/*
 * node_offset - the slot of a node of @shift on the path of @index.
 * Context: any. Locking: none (pure).
 * Return: the offset, 0..63.
 */
static inline unsigned node_offset(uint64_t index, unsigned shift)
{
	return (unsigned)(index >> shift) & XT_SLOT_MASK;
}

/*
 * node_base - the first index of the node of @shift on the path of @index.
 * Context: any. Locking: none (pure).
 * Return: @index with its low shift + 6 bits clear.
 */
static inline uint64_t node_base(uint64_t index, unsigned shift)
{
	if (shift + XT_SHIFT >= 64)
		return 0;
	return index & ~((UINT64_C(1) << (shift + XT_SHIFT)) - 1);
}

/*
 * top_shift - the smallest root shift whose node covers @index.
 * Context: any. Locking: none (pure).
 * Return: a multiple of 6, at most 60.
 */
static unsigned top_shift(uint64_t index)
{
	unsigned shift = 0;

	while ((index >> shift) >= XT_SLOTS)
		shift += XT_SHIFT;
	return shift;
}

/*
 * run_mask - the bitmap of @nslots slots from @off.
 * Context: any. Locking: none (pure).
 * Return: the mask; @nslots is at most 32.
 */
static inline uint64_t run_mask(unsigned off, unsigned nslots)
{
	return ((UINT64_C(1) << nslots) - 1) << off;
}

/* --- node sequence counts --- */

/*
 * node_write_begin / node_write_end - bracket a change of more than one slot of @node.
 * Context: any thread. Locking: the table lock.
 */
static inline void node_write_begin(struct xt_node *node)
{
	__atomic_store_n(&node->seq, node->seq + 1, __ATOMIC_RELAXED);
}

static inline void node_write_end(struct xt_node *node)
{
	__atomic_store_n(&node->seq, node->seq + 1, __ATOMIC_RELEASE);
}

/*
 * node_read_begin - wait out a multi-slot change of @node in progress.
 * Context: any thread. Locking: RCU read side or the table lock (then it never waits).
 * Return: the even sequence count to check with node_read_retry().
 */
static uint32_t node_read_begin(const struct xt_node *node)
{
	unsigned spins = 0;
	uint32_t seq;

	while ((seq = __atomic_load_n(&node->seq, __ATOMIC_ACQUIRE)) & 1) {
		if (++spins % 64 == 0)
			sched_yield();
	}
	return seq;
}

/*
 * node_read_retry - did a multi-slot change of @node start since node_read_begin()?
 * Context: any thread. Locking: as node_read_begin. The slot reads before it are acquire
 *          loads, so this load cannot pass them.
 * Return: true if the slots read must be read again.
 */
static inline bool node_read_retry(const struct xt_node *node, uint32_t seq)
{
	return __atomic_load_n(&node->seq, __ATOMIC_ACQUIRE) != seq;
}

/*
 * node_read - the word at @off of @node, following a sibling to its canonical slot, as one
 * consistent snapshot of the node.
 * Context: any thread. Locking: RCU read side or the table lock.
 * Return: the canonical word (an entry, a node word, or 0); *@canon its offset; *@nslots
 *         (may be NULL) the number of slots the entry takes (1 for a node or empty slot).
 */
static uint64_t node_read(const struct xt_node *node, unsigned off, unsigned *canon,
			  unsigned *nslots)
{
	for (;;) {
		uint32_t seq = node_read_begin(node);
		uint64_t w = slot_get(node, off);
		unsigned c = off, run = 1;

		if (slot_is_sibling(w)) {
			c = sibling_to_offset(w);
			w = slot_get(node, c);
		}
		if (nslots && w != XT_EMPTY && !slot_is_internal(w)) {
			while (c + run < XT_SLOTS && slot_get(node, c + run) == mk_sibling(c))
				run++;
		}
		if (node_read_retry(node, seq))
			continue;
		*canon = c;
		if (nslots)
			*nslots = run;
		return w;
	}
}

/* --- marks --- */

/*
 * mark_test - is @mark set for slot @off of @node?
 * Context: any thread. Locking: RCU read side or the table lock.
 * Return: the bit.
 */
static inline bool mark_test(const struct xt_node *node, unsigned mark, unsigned off)
{
	return (__atomic_load_n(&node->marks[mark], __ATOMIC_ACQUIRE) >> off) & 1;
}

/*
 * mark_write - publish a new mark word of @node.
 * Context: any thread. Locking: the table lock.
 */
static inline void mark_write(struct xt_node *node, unsigned mark, uint64_t v)
{
	__atomic_store_n(&node->marks[mark], v, __ATOMIC_RELEASE);
}

/*
 * mark_set_up - set @mark for slot @off of @node and in every ancestor on the way up.
 * Context: any thread. Locking: the table lock.
 */
static void mark_set_up(struct xt_node *node, unsigned off, unsigned mark)
{
	while (node) {
		uint64_t v = node->marks[mark];

		if (v & (UINT64_C(1) << off))
			return;
		mark_write(node, mark, v | (UINT64_C(1) << off));
		off = node->offset;
		node = node->parent;
	}
}

/*
 * mark_clear_up - clear @mark for slot @off of @node, and in the parent for every node
 * left with no slot marked.
 * Context: any thread. Locking: the table lock.
 */
static void mark_clear_up(struct xt_node *node, unsigned off, unsigned mark)
{
	while (node) {
		uint64_t v = node->marks[mark] & ~(UINT64_C(1) << off);

		mark_write(node, mark, v);
		if (v)
			return;
		off = node->offset;
		node = node->parent;
	}
}

/*
 * marks_clear_range - clear every mark of the slots in @mask of @node, propagating up.
 * Context: any thread. Locking: the table lock.
 */
static void marks_clear_range(struct xt_node *node, uint64_t mask)
{
	unsigned mark;

	for (mark = 0; mark < XT_MARK_COUNT; mark++) {
		uint64_t v = node->marks[mark];

		if (!(v & mask))
			continue;
		v &= ~mask;
		mark_write(node, mark, v);
		if (!v && node->parent)
			mark_clear_up(node->parent, node->offset, mark);
	}
}

/* --- nodes --- */

/*
 * nr_nodes_add - account @delta nodes to @xt.
 * Context: any thread. Locking: the table lock (xt_memory() reads it racily).
 */
static inline void nr_nodes_add(struct xtable *xt, int64_t delta)
{
	__atomic_store_n(&xt->nr_nodes, xt->nr_nodes + (uint64_t)delta, __ATOMIC_RELAXED);
}

/*
 * node_init - set up a fresh (zeroed, unpublished) node.
 * Context: any thread. Locking: none; the node is private until published.
 */
static void node_init(struct xt_node *node, unsigned shift, unsigned off, struct xt_node *parent)
{
	node->shift = (uint8_t)shift;
	node->offset = (uint8_t)off;
	node->parent = parent;
}

/*
 * node_free_cb - free a node after its grace period.
 * Context: liburcu's call_rcu thread.
 * Locking: none; no reader can still reach the node.
 */
static void node_free_cb(struct rcu_head *head)
{
	rcu_cb_begin(head);
	free(container_of_const(head, struct xt_node, rcu));
}

/*
 * node_retire - free @node, which is no longer reachable from the root, after a grace period.
 * Context: any thread registered with RCU. Locking: the table lock.
 */
static void node_retire(struct xtable *xt, struct xt_node *node)
{
	nr_nodes_add(xt, -1);
	rcu_defer_free(&node->rcu, node_free_cb);
}

/*
 * evict - hand @old (first index @first), which left the tree, to the table's evict hook.
 * Context: any thread. Locking: the table lock.
 */
static inline void evict(struct xtable *xt, uint64_t first, xt_entry old)
{
	if (xt->evict && old != XT_EMPTY)
		xt->evict(xt, first, old);
}

/* --- tree walks --- */

/*
 * xt_walk - find the entry covering @index.
 * Context: any thread registered with RCU.
 * Locking: the table lock, or RCU read side (then the result may be stale).
 * Return: the entry or XT_EMPTY; *@pos (may be NULL) describes where it is when present.
 */
static xt_entry xt_walk(struct xtable *xt, uint64_t index, struct xt_pos *pos)
{
	struct xt_node *node = rcu_fetch(xt->root);

	if (!node || index > XT_INDEX_MAX || (index >> node->shift) >= XT_SLOTS)
		return XT_EMPTY;
	for (;;) {
		unsigned shift = node->shift, c, run;
		uint64_t w = node_read(node, node_offset(index, shift), &c, pos ? &run : NULL);

		if (slot_is_node(w)) {
			node = slot_to_node(w);
			continue;
		}
		if (w == XT_EMPTY)
			return XT_EMPTY;
		if (pos) {
			pos->node = node;
			pos->off = c;
			pos->nslots = run;
			pos->first = node_base(index, shift) | ((uint64_t)c << shift);
			pos->order = shift + (unsigned)__builtin_ctz(run);
		}
		return w;
	}
}

/*
 * find_in - the first entry under @node (whose first index is @base) covering an index in
 * [@index, @max], with @mark unless XT_MARK_ANY.
 * Context: any thread registered with RCU.
 * Locking: the table lock, or RCU read side. Recursion is bounded by the tree height, which
 *          only falls along a path, so a lockless walk always ends.
 * Return: the entry or XT_EMPTY; *@first and *@order set when found.
 */
static xt_entry find_in(const struct xt_node *node, uint64_t base, uint64_t index, uint64_t max,
			int mark, uint64_t *first, unsigned *order)
{
	unsigned shift = node->shift;
	unsigned start = index > base ? (unsigned)((index - base) >> shift) : 0;
	uint64_t span = (max - base) >> shift;
	unsigned last = span < XT_SLOTS ? (unsigned)span : XT_SLOTS - 1;
	unsigned off = start;

	while (off <= last) {
		unsigned c, run;
		uint64_t w;

		if (mark != XT_MARK_ANY && off != start) {
			uint64_t bits =
				__atomic_load_n(&node->marks[mark], __ATOMIC_ACQUIRE) >> off;

			if (!bits)
				break;
			off += (unsigned)__builtin_ctzll(bits);
			if (off > last)
				break;
		}
		w = slot_get(node, off);
		/* a sibling past the start belongs to an entry already looked at */
		if (w == XT_EMPTY || (slot_is_sibling(w) && off != start)) {
			off++;
			continue;
		}
		w = node_read(node, off, &c, &run);
		if (slot_is_node(w)) {
			uint64_t child_base = base + ((uint64_t)off << shift);

			if (mark == XT_MARK_ANY || mark_test(node, (unsigned)mark, off)) {
				w = find_in(slot_to_node(w), child_base, MAX(index, child_base),
					    max, mark, first, order);
				if (w != XT_EMPTY)
					return w;
			}
		} else if (w != XT_EMPTY &&
			   (mark == XT_MARK_ANY || mark_test(node, (unsigned)mark, c))) {
			*first = base + ((uint64_t)c << shift);
			*order = shift + (unsigned)__builtin_ctz(run);
			return w;
		}
		off++;
	}
	return XT_EMPTY;
}

/*
 * subtree_retire - free every node of the subtree @node (whose first index is @base), which
 * is already unlinked, handing its entries to the evict hook when @wake.
 * Context: any thread registered with RCU. Locking: the table lock.
 */
static void subtree_retire(struct xtable *xt, struct xt_node *node, uint64_t base, bool wake)
{
	unsigned off;

	for (off = 0; off < XT_SLOTS; off++) {
		uint64_t w = node->slots[off];
		uint64_t first = base + ((uint64_t)off << node->shift);

		if (slot_is_node(w))
			subtree_retire(xt, slot_to_node(w), first, wake);
		else if (wake && !slot_is_internal(w))
			evict(xt, first, w);
	}
	node_retire(xt, node);
}

/*
 * xt_shrink - drop root levels that only lead to slot 0.
 * Context: any thread registered with RCU. Locking: the table lock.
 */
static void xt_shrink(struct xtable *xt)
{
	for (;;) {
		struct xt_node *root = xt->root, *child;
		uint64_t w;

		if (!root || root->count != 1)
			return;
		w = root->slots[0];
		if (!slot_is_node(w))
			return;
		child = slot_to_node(w);
		child->parent = NULL;
		/* root keeps pointing at child, so readers still in root go on */
		rcu_publish(xt->root, child);
		node_retire(xt, root);
	}
}

/*
 * node_prune - unlink and free @node and each ancestor left with no used slot.
 * Context: any thread registered with RCU. Locking: the table lock.
 */
static void node_prune(struct xtable *xt, struct xt_node *node)
{
	while (node && node->count == 0) {
		struct xt_node *parent = node->parent;

		if (parent) {
			slot_set(parent, node->offset, XT_EMPTY);
			parent->count--;
			marks_clear_range(parent, UINT64_C(1) << node->offset);
		} else {
			rcu_publish(xt->root, NULL);
		}
		node_retire(xt, node);
		node = parent;
	}
}

/*
 * entry_remove - remove the entry at @pos (all its slots and marks), then free the nodes
 * that leaves empty and shorten the tree.
 * Context: any thread registered with RCU. Locking: the table lock. Does not call the evict hook.
 */
static void entry_remove(struct xtable *xt, const struct xt_pos *pos)
{
	struct xt_node *node = pos->node;
	unsigned i;

	marks_clear_range(node, run_mask(pos->off, pos->nslots));
	node_write_begin(node);
	for (i = pos->nslots; i-- > 1;)
		slot_set(node, pos->off + i, XT_EMPTY);
	slot_set(node, pos->off, XT_EMPTY);
	node_write_end(node);
	node->count = (uint8_t)(node->count - pos->nslots);
	node_prune(xt, node);
	xt_shrink(xt);
}

/*
 * store_prepare - check that an entry can go to [@index, @index + 2^@order) in the node of
 * @shift and count the nodes that needs.
 * Context: any thread. Locking: the table lock.
 * Return: the number of nodes to allocate, or -EBUSY if a larger entry covers the range.
 */
static int store_prepare(struct xtable *xt, uint64_t index, unsigned shift, unsigned nslots)
{
	struct xt_node *node = xt->root;
	unsigned top = MAX(top_shift(index), shift);
	int need = 0;

	if (!node)
		return (int)((top - shift) / XT_SHIFT + 1);
	if (top > node->shift) {
		unsigned level;

		/* new roots at node->shift + 6 ... top, each holding the one below in slot 0 */
		need = (int)((top - node->shift) / XT_SHIFT);
		for (level = top; level > node->shift; level -= XT_SHIFT) {
			if (level == shift)
				return need;
			if (node_offset(index, level) != 0)
				return need + (int)((level - shift) / XT_SHIFT);
		}
	}
	for (;;) {
		unsigned off = node_offset(index, node->shift);
		uint64_t w = node->slots[off];

		if (node->shift == shift) {
			/* a larger entry of this level starts before @off or runs past the range */
			if (slot_is_sibling(w))
				return -EBUSY;
			if (off + nslots < XT_SLOTS && node->slots[off + nslots] == mk_sibling(off))
				return -EBUSY;
			return need;
		}
		if (w == XT_EMPTY)
			return need + (int)((node->shift - shift) / XT_SHIFT);
		if (!slot_is_node(w))
			return -EBUSY;
		node = slot_to_node(w);
	}
}

/*
 * store_place - put @entry in @nslots slots of @node from the slot of @index, replacing
 * what they hold (entries, whole subtrees) and clearing their marks.
 * Context: any thread registered with RCU.
 * Locking: the table lock. Replaced entries go to the evict hook.
 */
static void store_place(struct xtable *xt, struct xt_node *node, uint64_t index, unsigned nslots,
			xt_entry entry)
{
	unsigned shift = node->shift, off = node_offset(index, shift), used = 0, i;
	uint64_t base = node_base(index, shift);
	uint64_t old[XT_SLOTS / 2];

	for (i = 0; i < nslots; i++) {
		old[i] = node->slots[off + i];
		used += old[i] != XT_EMPTY;
	}
	marks_clear_range(node, run_mask(off, nslots));
	node_write_begin(node);
	slot_set(node, off, entry);
	for (i = 1; i < nslots; i++)
		slot_set(node, off + i, mk_sibling(off));
	node_write_end(node);
	node->count = (uint8_t)(node->count - used + nslots);

	/* what was there is unreachable now: free it, tell the user it left */
	for (i = 0; i < nslots; i++) {
		uint64_t first = base | ((uint64_t)(off + i) << shift);

		if (slot_is_node(old[i]))
			subtree_retire(xt, slot_to_node(old[i]), first, true);
		else if (!slot_is_internal(old[i]))
			evict(xt, first, old[i]);
	}
}

/* --- the API --- */

/*
 * xt_init - an empty table.
 * Context: any; the table must not be in use yet.
 * Locking: none.
 */
void xt_init(struct xtable *xt)
{
	pthread_mutex_init(&xt->lock, NULL);
	xt->root = NULL;
	xt->nr_nodes = 0;
	xt->evict = NULL;
}

/*
 * xt_set_evict - the hook for entries that leave the tree.
 * Context: before the table is shared. Locking: none.
 */
void xt_set_evict(struct xtable *xt, xt_evict_fn fn)
{
	xt->evict = fn;
}

/*
 * xt_destroy - free every node and the lock.
 * Context: any thread registered with RCU.
 * Locking: the caller guarantees no other user; nodes are freed after a grace period.
 */
void xt_destroy(struct xtable *xt)
{
	struct xt_node *root = xt->root;

	rcu_publish(xt->root, NULL);
	if (root)
		subtree_retire(xt, root, 0, false);
	pthread_mutex_destroy(&xt->lock);
}

/*
 * xt_lock - take the table lock.
 * Context: any thread.
 * Locking: takes @xt->lock.
 */
void xt_lock(struct xtable *xt)
{
	pthread_mutex_lock(&xt->lock);
}

/*
 * xt_unlock - drop the table lock.
 * Context: any thread.
 * Locking: drops @xt->lock.
 */
void xt_unlock(struct xtable *xt)
{
	pthread_mutex_unlock(&xt->lock);
}

/*
 * xt_load - the entry covering @index.
 * Context: any thread registered with RCU.
 * Locking: takes and drops the RCU read lock; the result may be stale.
 * Return: the entry, or XT_EMPTY.
 */
xt_entry xt_load(struct xtable *xt, uint64_t index)
{
	xt_entry entry;

	rcu_read_begin();
	entry = xt_walk(xt, index, NULL);
	rcu_read_end();
	return entry;
}

/*
 * __xt_load - the entry covering @index, with its first index and order.
 * Context: any thread registered with RCU.
 * Locking: the table lock, or RCU read side (then the result may be stale).
 * Return: the entry or XT_EMPTY; *@first and *@order (either may be NULL) when present.
 */
xt_entry __xt_load(struct xtable *xt, uint64_t index, uint64_t *first, unsigned *order)
{
	struct xt_pos pos;
	xt_entry entry = xt_walk(xt, index, &pos);

	if (entry != XT_EMPTY) {
		if (first)
			*first = pos.first;
		if (order)
			*order = pos.order;
	}
	return entry;
}

/*
 * __xt_store - make @entry the entry for [@index, @index + 2^@order).
 * Context: any thread registered with RCU.
 * Locking: the table lock. Every node needed is allocated before anything changes.
 * Return: 0; -EINVAL for a bad @index, @order or @entry; -EBUSY if a larger entry covers
 *         the range; -ENOMEM (the table is unchanged).
 */
int __xt_store(struct xtable *xt, uint64_t index, unsigned order, xt_entry entry)
{
	struct xt_node *pool[XT_STORE_NODES], *node, *fresh = NULL, *fresh_parent = NULL;
	unsigned shift, nslots, top, fresh_off = 0;
	int need, used = 0, i;

	if (order > XT_ORDER_MAX || index > XT_INDEX_MAX ||
	    (index & ((UINT64_C(1) << order) - 1)) != 0 ||
	    XT_INDEX_MAX - index < (UINT64_C(1) << order) - 1 || entry == XT_EMPTY ||
	    slot_is_internal(entry))
		return -EINVAL;
	shift = order / XT_SHIFT * XT_SHIFT;
	nslots = 1U << (order % XT_SHIFT);
	top = MAX(top_shift(index), shift);

	need = store_prepare(xt, index, shift, nslots);
	if (need < 0)
		return need;
	assert(need <= XT_STORE_NODES);
	for (i = 0; i < need; i++) {
		pool[i] = calloc(1, sizeof(*pool[i]));
		if (!pool[i]) {
			while (i--)
				free(pool[i]);
			return -ENOMEM;
		}
	}

	node = xt->root;
	if (!node) {
		node = pool[used++];
		node_init(node, top, 0, NULL);
		fresh = node;
	} else {
		while (node->shift < top) {
			struct xt_node *up = pool[used++];
			unsigned mark;

			node_init(up, node->shift + XT_SHIFT, 0, NULL);
			up->slots[0] = node_to_slot(node);
			up->count = 1;
			for (mark = 0; mark < XT_MARK_COUNT; mark++)
				up->marks[mark] = node->marks[mark] ? 1 : 0;
			node->parent = up;
			rcu_publish(xt->root, up);
			node = up;
		}
	}
	/* new nodes below an existing one are linked only once the entry is in place */
	while (node->shift > shift) {
		unsigned off = node_offset(index, node->shift);
		uint64_t w = node->slots[off];
		struct xt_node *child;

		if (slot_is_node(w)) {
			node = slot_to_node(w);
			continue;
		}
		child = pool[used++];
		node_init(child, node->shift - XT_SHIFT, off, node);
		if (!fresh) {
			fresh = child;
			fresh_parent = node;
			fresh_off = off;
		} else {
			slot_set(node, off, node_to_slot(child));
			node->count++;
		}
		node = child;
	}
	assert(used == need);
	nr_nodes_add(xt, used);

	store_place(xt, node, index, nslots, entry);
	if (fresh && fresh_parent) {
		slot_set(fresh_parent, fresh_off, node_to_slot(fresh));
		fresh_parent->count++;
	} else if (fresh) {
		rcu_publish(xt->root, fresh);
	}
	return 0;
}

/*
 * __xt_erase - remove the entry covering @index (the whole multi-order entry).
 * Context: any thread registered with RCU.
 * Locking: the table lock. The entry goes to the evict hook.
 * Return: the removed entry, or XT_EMPTY.
 */
xt_entry __xt_erase(struct xtable *xt, uint64_t index)
{
	struct xt_pos pos;
	xt_entry entry = xt_walk(xt, index, &pos);

	if (entry == XT_EMPTY)
		return XT_EMPTY;
	entry_remove(xt, &pos);
	evict(xt, pos.first, entry);
	return entry;
}

/*
 * __xt_cmpxchg - if the entry covering @index is @old, replace it in place by @entry (marks
 * kept); XT_EMPTY as @entry removes it; an empty @index with @old XT_EMPTY gets @entry at
 * order 0.
 * Context: any thread registered with RCU.
 * Locking: the table lock. A removed entry goes to the evict hook.
 * Return: the entry found before (@old on success); *@err (may be NULL) is 0, or -ENOMEM
 *         (order-0 store failed), or -EINVAL (@entry has the internal tag, or the order-0
 *         store's index is past XT_INDEX_MAX); nothing changed on error.
 */
xt_entry __xt_cmpxchg(struct xtable *xt, uint64_t index, xt_entry old, xt_entry entry, int *err)
{
	struct xt_pos pos;
	xt_entry cur = xt_walk(xt, index, &pos);
	int ret = 0;

	if (cur != old || cur == entry)
		goto out;
	if (slot_is_internal(entry)) {
		ret = -EINVAL;
	} else if (cur == XT_EMPTY) {
		ret = __xt_store(xt, index, 0, entry);
	} else if (entry == XT_EMPTY) {
		entry_remove(xt, &pos);
		evict(xt, pos.first, cur);
	} else {
		slot_set(pos.node, pos.off, entry);
	}
out:
	if (err)
		*err = ret;
	return cur;
}

xt_entry __xt_peek(struct xtable *xt, uint64_t index, struct xt_cursor *cur)
{
	struct xt_pos pos;
	xt_entry cur_entry = xt_walk(xt, index, &pos);

	if (cur_entry != XT_EMPTY)
		*cur = (struct xt_cursor){pos.node, pos.off, pos.first};
	return cur_entry;
}

void __xt_poke(struct xtable *xt, const struct xt_cursor *cur, xt_entry entry)
{
	struct xt_node *node = cur->node;

	(void)xt;
	assert(xt_is_value(entry) && xt_is_value(slot_get(node, cur->off)));
	slot_set(node, cur->off, entry);
}

/*
 * __xt_set_mark - set @mark on the entry covering @index.
 * Context: any thread. Locking: the table lock. No-op when @index is empty.
 */
void __xt_set_mark(struct xtable *xt, uint64_t index, enum xt_mark mark)
{
	struct xt_pos pos;

	if ((unsigned)mark >= XT_MARK_COUNT || xt_walk(xt, index, &pos) == XT_EMPTY)
		return;
	mark_set_up(pos.node, pos.off, (unsigned)mark);
}

/*
 * __xt_clear_mark - clear @mark on the entry covering @index.
 * Context: any thread. Locking: the table lock. No-op when @index is empty.
 */
void __xt_clear_mark(struct xtable *xt, uint64_t index, enum xt_mark mark)
{
	struct xt_pos pos;

	if ((unsigned)mark >= XT_MARK_COUNT || xt_walk(xt, index, &pos) == XT_EMPTY)
		return;
	if (pos.node->marks[mark] & (UINT64_C(1) << pos.off))
		mark_clear_up(pos.node, pos.off, (unsigned)mark);
}

/*
 * xt_get_mark - is @mark set on the entry covering @index?
 * Context: any thread registered with RCU. Locking: RCU read side, or the table lock.
 * Return: true if set; false when not, or when @index is empty.
 */
bool xt_get_mark(struct xtable *xt, uint64_t index, enum xt_mark mark)
{
	struct xt_pos pos;

	if ((unsigned)mark >= XT_MARK_COUNT || xt_walk(xt, index, &pos) == XT_EMPTY)
		return false;
	return mark_test(pos.node, (unsigned)mark, pos.off);
}

/*
 * xt_find - the first entry covering an index in [*@index, @max], with @mark unless
 * XT_MARK_ANY.
 * Context: any thread registered with RCU.
 * Locking: the table lock, or RCU read side (entries may be stale).
 * Return: the entry or XT_EMPTY; on success *@index is its first index, *@order (may be
 *         NULL) its order.
 */
xt_entry xt_find(struct xtable *xt, uint64_t *index, uint64_t max, int mark, unsigned *order)
{
	struct xt_node *root = rcu_fetch(xt->root);
	uint64_t first = 0;
	unsigned ord = 0;
	xt_entry entry;

	if (mark != XT_MARK_ANY && (mark < 0 || mark >= XT_MARK_COUNT))
		return XT_EMPTY;
	if (max > XT_INDEX_MAX)
		max = XT_INDEX_MAX;
	if (!root || *index > max || (*index >> root->shift) >= XT_SLOTS)
		return XT_EMPTY;
	entry = find_in(root, 0, *index, max, mark, &first, &ord);
	if (entry != XT_EMPTY) {
		*index = first;
		if (order)
			*order = ord;
	}
	return entry;
}

/*
 * xt_empty - does the table hold no entry?
 * Context: any thread. Locking: none needed (one atomic load); the answer may be stale.
 * Return: true if empty.
 */
bool xt_empty(struct xtable *xt)
{
	return rcu_fetch(xt->root) == NULL;
}

/*
 * xt_memory - bytes of nodes the table holds now.
 * Context: any thread.
 * Locking: the table lock for an exact figure; a racy read otherwise.
 * Return: the byte count.
 */
size_t xt_memory(struct xtable *xt)
{
	return (size_t)__atomic_load_n(&xt->nr_nodes, __ATOMIC_RELAXED) * sizeof(struct xt_node);
}
