// SPDX-License-Identifier: MIT
/*
 * alloc - the block allocator of a region's data area (DESIGN §3.3).
 *
 * State, per block, in two bitmaps indexed from the start of the area:
 *
 *   free_bm  quar_bm | state
 *   ---------+-------+------------
 *      1        0    | free
 *      0        0    | used
 *      0        1    | quarantined
 *
 * held_bm, for quarantined blocks only: the block was used when it was quarantined, and its
 * owner (a poisoned file page, a free waiting for its grace period, a hold) has not freed it
 * yet. Only a quarantined block nobody holds may return to use (alloc_unquarantine):
 * otherwise the owner's later free would free it a second time, under its next owner.
 *
 * Per chunk (512 blocks): the number of free blocks (uint16_t), and two chunk bitmaps:
 * empty_bm (all 512 blocks free) and avail_bm (at least one block free). A chunk is "partly
 * free" when its avail bit is set and its empty bit is not. Each chunk bitmap has a hint, the
 * lowest chunk that may qualify: no qualifying chunk lies below it, so searches start there and
 * allocation is first fit without rescanning from chunk 0. Every change of a chunk's free count
 * goes through chunk_set_free(), which keeps the chunk bitmaps, hints and free_chunks right.
 *
 * Memory: 2 bits per block, plus 2 bytes and 2 bits per chunk.
 */
#include "alloc.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define CHUNK_SHIFT 9
#define CHUNK_BLOCKS (1ULL << CHUNK_SHIFT) /* 512 blocks: 2 MiB */
#define WORD_BITS 64

static_assert(CHUNK_BLOCKS % WORD_BITS == 0, "a chunk is made of whole bitmap words");
static_assert(CHUNK_BLOCKS <= UINT16_MAX, "a chunk's free count fits a uint16_t");

struct alloc {
	pthread_mutex_t lock;
	uint64_t first;	  /* first block of the area (chunk aligned); fixed */
	uint64_t count;	  /* blocks in the area, whole chunks; fixed */
	uint64_t nchunks; /* fixed */
	uint64_t *free_bm;
	uint64_t *quar_bm;
	uint64_t *held_bm; /* quarantined and still held by an owner (see above) */
	uint16_t *chunk_free;
	uint64_t *empty_bm;
	uint64_t *avail_bm;
	uint64_t empty_hint;   /* no chunk below it is entirely free */
	uint64_t partial_hint; /* no chunk below it is partly free */
	struct alloc_stats st;
};

/* ---- bitmaps ------------------------------------------------------------------------------ */

/*
 * bm_mask - the bits of word @w that fall in [@start, @end).
 * Context: any. Locking: none (pure).
 * Return: the mask.
 */
static inline uint64_t bm_mask(uint64_t w, uint64_t start, uint64_t end)
{
	uint64_t lo = w * WORD_BITS, hi = lo + WORD_BITS, m = ~0ULL;

	if (start > lo)
		m &= ~0ULL << (start - lo);
	if (end < hi)
		m &= ~0ULL >> (hi - end);
	return m;
}

/*
 * bm_test - bit @i of @bm.
 * Context: any. Locking: caller protects @bm.
 * Return: true when set.
 */
static inline bool bm_test(const uint64_t *bm, uint64_t i)
{
	return (bm[i / WORD_BITS] >> (i % WORD_BITS)) & 1;
}

/*
 * bm_set / bm_clear - set or clear the bits of @bm in [@start, @end).
 * Context: any. Locking: caller protects @bm.
 */
static void bm_set(uint64_t *bm, uint64_t start, uint64_t end)
{
	if (start >= end)
		return;
	for (uint64_t w = start / WORD_BITS; w <= (end - 1) / WORD_BITS; w++)
		bm[w] |= bm_mask(w, start, end);
}

static void bm_clear(uint64_t *bm, uint64_t start, uint64_t end)
{
	if (start >= end)
		return;
	for (uint64_t w = start / WORD_BITS; w <= (end - 1) / WORD_BITS; w++)
		bm[w] &= ~bm_mask(w, start, end);
}

/*
 * bm_find - first index in [@start, @end) whose bit in @bm equals @set.
 * Context: any. Locking: caller protects @bm.
 * Return: the index, or @end when there is none.
 */
static uint64_t bm_find(const uint64_t *bm, bool set, uint64_t start, uint64_t end)
{
	if (start >= end)
		return end;
	for (uint64_t w = start / WORD_BITS; w <= (end - 1) / WORD_BITS; w++) {
		uint64_t v = (set ? bm[w] : ~bm[w]) & bm_mask(w, start, end);

		if (v)
			return w * WORD_BITS + (uint64_t)__builtin_ctzll(v);
	}
	return end;
}

/* ---- chunks ------------------------------------------------------------------------------- */

/*
 * chunk_is_partial - does a chunk with @nfree free blocks count as partly free?
 * Context: any. Locking: none (pure).
 * Return: true for 1..511 free blocks.
 */
static inline bool chunk_is_partial(uint64_t nfree)
{
	return nfree > 0 && nfree < CHUNK_BLOCKS;
}

/*
 * chunk_set_free - record that chunk @c now has @nfree free blocks: its bits in empty_bm and
 * avail_bm, the search hints and stats.free_chunks follow.
 * Context: any thread. Locking: caller holds a->lock.
 */
static void chunk_set_free(struct alloc *a, uint64_t c, uint64_t nfree)
{
	uint64_t old = a->chunk_free[c];
	uint64_t w = c / WORD_BITS, bit = 1ULL << (c % WORD_BITS);

	assert(nfree <= CHUNK_BLOCKS);
	a->chunk_free[c] = (uint16_t)nfree;
	if (old == CHUNK_BLOCKS && nfree != CHUNK_BLOCKS) {
		a->empty_bm[w] &= ~bit;
		a->st.free_chunks--;
	} else if (old != CHUNK_BLOCKS && nfree == CHUNK_BLOCKS) {
		a->empty_bm[w] |= bit;
		a->st.free_chunks++;
		a->empty_hint = MIN(a->empty_hint, c);
	}
	if (nfree)
		a->avail_bm[w] |= bit;
	else
		a->avail_bm[w] &= ~bit;
	if (chunk_is_partial(nfree) && !chunk_is_partial(old))
		a->partial_hint = MIN(a->partial_hint, c);
}

/*
 * chunk_find_empty - the lowest entirely free chunk, moving empty_hint up to it.
 * Context: any thread. Locking: caller holds a->lock.
 * Return: the chunk index, or a->nchunks when none is entirely free.
 */
static uint64_t chunk_find_empty(struct alloc *a)
{
	uint64_t c = bm_find(a->empty_bm, true, a->empty_hint, a->nchunks);

	a->empty_hint = c;
	return c;
}

/*
 * chunk_find_partial - the lowest partly free chunk, moving partial_hint up to it.
 * Context: any thread. Locking: caller holds a->lock.
 * Return: the chunk index, or a->nchunks when no chunk is partly free.
 */
static uint64_t chunk_find_partial(struct alloc *a)
{
	uint64_t c = a->nchunks;

	for (uint64_t w = a->partial_hint / WORD_BITS; w * WORD_BITS < a->nchunks; w++) {
		uint64_t v =
			a->avail_bm[w] & ~a->empty_bm[w] & bm_mask(w, a->partial_hint, a->nchunks);

		if (v) {
			c = w * WORD_BITS + (uint64_t)__builtin_ctzll(v);
			break;
		}
	}
	a->partial_hint = c;
	return c;
}

/* ---- state changes on a range (block indexes relative to the area) ------------------------- */

/*
 * range_take - free blocks [@i, @i + @n) of one chunk become used.
 * Context: any thread. Locking: caller holds a->lock; the caller checked they are all free.
 */
static void range_take(struct alloc *a, uint64_t i, uint64_t n)
{
	uint64_t c = i >> CHUNK_SHIFT;

	assert(n > 0 && ((i + n - 1) >> CHUNK_SHIFT) == c);
	assert(bm_find(a->free_bm, false, i, i + n) == i + n);
	bm_clear(a->free_bm, i, i + n);
	chunk_set_free(a, c, a->chunk_free[c] - n);
	a->st.free -= n;
	a->st.used += n;
}

/*
 * range_release - used blocks of [@i, @end) become free; quarantined ones stay.
 * Context: any thread. Locking: caller holds a->lock; no block in the range is free.
 */
static void range_release(struct alloc *a, uint64_t i, uint64_t end)
{
	while (i < end) {
		uint64_t c = i >> CHUNK_SHIFT;
		uint64_t ce = MIN(end, (c + 1) << CHUNK_SHIFT);
		uint64_t n = 0;

		for (uint64_t w = i / WORD_BITS; w <= (ce - 1) / WORD_BITS; w++) {
			uint64_t m = bm_mask(w, i, ce) & ~a->quar_bm[w];

			a->free_bm[w] |= m;
			/* Quarantined ones stay so, let go of by their owner. */
			a->held_bm[w] &= ~bm_mask(w, i, ce);
			n += (uint64_t)__builtin_popcountll(m);
		}
		chunk_set_free(a, c, a->chunk_free[c] + n);
		a->st.free += n;
		a->st.used -= n;
		i = ce;
	}
}

/*
 * range_reserve - free blocks [@i, @end) become used, chunk by chunk.
 * Context: any thread. Locking: caller holds a->lock; every block in the range is free.
 */
static void range_reserve(struct alloc *a, uint64_t i, uint64_t end)
{
	while (i < end) {
		uint64_t ce = MIN(end, ((i >> CHUNK_SHIFT) + 1) << CHUNK_SHIFT);

		range_take(a, i, ce - i);
		i = ce;
	}
}

/*
 * range_quarantine - every block of [@i, @end) becomes quarantined.
 * Context: any thread. Locking: caller holds a->lock.
 * Return: how many blocks were not quarantined before.
 */
static uint64_t range_quarantine(struct alloc *a, uint64_t i, uint64_t end)
{
	uint64_t total = 0;

	while (i < end) {
		uint64_t c = i >> CHUNK_SHIFT;
		uint64_t ce = MIN(end, (c + 1) << CHUNK_SHIFT);
		uint64_t nfree = 0, nnew = 0;

		for (uint64_t w = i / WORD_BITS; w <= (ce - 1) / WORD_BITS; w++) {
			uint64_t m = bm_mask(w, i, ce);

			nfree += (uint64_t)__builtin_popcountll(a->free_bm[w] & m);
			nnew += (uint64_t)__builtin_popcountll(~a->quar_bm[w] & m);
			/* Used ones stay held by their owner until it frees them. */
			a->held_bm[w] |= m & ~a->free_bm[w] & ~a->quar_bm[w];
			a->free_bm[w] &= ~m;
			a->quar_bm[w] |= m;
		}
		if (nfree)
			chunk_set_free(a, c, a->chunk_free[c] - nfree);
		a->st.free -= nfree;
		a->st.used -= nnew - nfree;
		a->st.quarantined += nnew;
		total += nnew;
		i = ce;
	}
	return total;
}

/* ---- API ---------------------------------------------------------------------------------- */

/*
 * alloc_contains - is [@block, @block + @count) inside the data area? (false when @count is 0)
 * Context: any thread. Locking: none (the area is fixed after alloc_new).
 * Return: true or false.
 */
bool alloc_contains(const struct alloc *a, uint64_t block, uint64_t count)
{
	return count > 0 && block >= a->first && block - a->first < a->count &&
	       count <= a->count - (block - a->first);
}

/*
 * alloc_new - an allocator for blocks [@first, @first + @count), all free.
 * Context: any thread. Locking: none (the allocator is not shared yet).
 * Return: 0 and *@out; -EINVAL (@first not chunk aligned, no whole chunk, or the area
 *         overflows); -ENOMEM. On failure *@out is NULL.
 */
int alloc_new(struct alloc **out, uint64_t first, uint64_t count)
{
	uint64_t nchunks = count >> CHUNK_SHIFT;
	uint64_t bwords, cwords;
	struct alloc *a;

	*out = NULL;
	if (!IS_ALIGNED(first, CHUNK_BLOCKS) || nchunks == 0)
		return -EINVAL;
	count = nchunks << CHUNK_SHIFT;
	if (first > UINT64_MAX - count || nchunks > SIZE_MAX / sizeof(uint64_t))
		return -EINVAL;
	bwords = count / WORD_BITS;
	cwords = DIV_ROUND_UP(nchunks, WORD_BITS);

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	if (pthread_mutex_init(&a->lock, NULL)) {
		free(a);
		return -ENOMEM;
	}
	a->first = first;
	a->count = count;
	a->nchunks = nchunks;
	a->free_bm = malloc(bwords * sizeof(uint64_t));
	a->quar_bm = calloc(bwords, sizeof(uint64_t));
	a->held_bm = calloc(bwords, sizeof(uint64_t));
	a->chunk_free = malloc(nchunks * sizeof(uint16_t));
	a->empty_bm = calloc(cwords, sizeof(uint64_t));
	a->avail_bm = calloc(cwords, sizeof(uint64_t));
	if (!a->free_bm || !a->quar_bm || !a->held_bm || !a->chunk_free || !a->empty_bm ||
	    !a->avail_bm) {
		alloc_delete(&a);
		return -ENOMEM;
	}
	memset(a->free_bm, 0xff, bwords * sizeof(uint64_t));
	for (uint64_t c = 0; c < nchunks; c++)
		a->chunk_free[c] = CHUNK_BLOCKS;
	bm_set(a->empty_bm, 0, nchunks);
	bm_set(a->avail_bm, 0, nchunks);
	a->empty_hint = 0;
	a->partial_hint = nchunks; /* nothing is partly free */
	a->st.total = count;
	a->st.free = count;
	a->st.free_chunks = nchunks;
	*out = a;
	return 0;
}

/*
 * alloc_delete - free the allocator; accepts NULL; sets *@ap = NULL.
 * Context: no other thread uses the allocator any more. Locking: none.
 */
void alloc_delete(struct alloc **ap)
{
	struct alloc *a = ap ? *ap : NULL;

	if (!a)
		return;
	pthread_mutex_destroy(&a->lock);
	free(a->free_bm);
	free(a->quar_bm);
	free(a->held_bm);
	free(a->chunk_free);
	free(a->empty_bm);
	free(a->avail_bm);
	free(a);
	*ap = NULL;
}

/*
 * alloc_huge - take the lowest entirely free chunk.
 * Context: any thread. Locking: takes and drops a->lock.
 * Return: 0 and *@block (a multiple of 512), or -ENOSPC when no chunk is entirely free.
 */
int alloc_huge(struct alloc *a, uint64_t *block)
{
	uint64_t c;
	int ret = -ENOSPC;

	pthread_mutex_lock(&a->lock);
	c = chunk_find_empty(a);
	if (c < a->nchunks) {
		range_take(a, c << CHUNK_SHIFT, CHUNK_BLOCKS);
		*block = a->first + (c << CHUNK_SHIFT);
		ret = 0;
	}
	pthread_mutex_unlock(&a->lock);
	return ret;
}

/*
 * alloc_blocks - take a run of 1..@want free blocks inside one chunk: the free run at @goal if
 * @goal is free; else the first free run of the lowest partly free chunk; else the start of the
 * lowest entirely free chunk. Runs never cross a chunk, so *@got is at most 512.
 * Context: any thread. Locking: takes and drops a->lock.
 * Return: 0 with *@block and *@got (1 <= *@got <= @want); -ENOSPC when no block is free;
 *         -EINVAL when @want is 0.
 */
int alloc_blocks(struct alloc *a, uint64_t goal, uint64_t want, uint64_t *block, uint64_t *got)
{
	uint64_t start, end, c;

	if (want == 0)
		return -EINVAL;
	want = MIN(want, CHUNK_BLOCKS);
	pthread_mutex_lock(&a->lock);
	if (a->st.free == 0) {
		pthread_mutex_unlock(&a->lock);
		return -ENOSPC;
	}
	if (goal != UINT64_MAX && alloc_contains(a, goal, 1) &&
	    bm_test(a->free_bm, goal - a->first)) {
		start = goal - a->first;
		c = start >> CHUNK_SHIFT;
	} else {
		c = chunk_find_partial(a);
		if (c == a->nchunks)
			c = chunk_find_empty(a);
		/* st.free > 0: some chunk has a free block */
		assert(c < a->nchunks);
		start = bm_find(a->free_bm, true, c << CHUNK_SHIFT, (c + 1) << CHUNK_SHIFT);
	}
	end = bm_find(a->free_bm, false, start, MIN(start + want, (c + 1) << CHUNK_SHIFT));
	range_take(a, start, end - start);
	pthread_mutex_unlock(&a->lock);
	*block = a->first + start;
	*got = end - start;
	return 0;
}

/*
 * alloc_free - used blocks of [@block, @block + @count) become free; quarantined ones stay.
 * Context: any thread. Locking: takes and drops a->lock.
 * Return: 0; -EINVAL if the range leaves the data area or a block in it is already free
 *         (nothing is changed then).
 */
int alloc_free(struct alloc *a, uint64_t block, uint64_t count)
{
	uint64_t i;
	int ret = 0;

	if (!alloc_contains(a, block, count))
		return -EINVAL;
	i = block - a->first;
	pthread_mutex_lock(&a->lock);
	if (bm_find(a->free_bm, true, i, i + count) != i + count)
		ret = -EINVAL; /* double free */
	else
		range_release(a, i, i + count);
	pthread_mutex_unlock(&a->lock);
	return ret;
}

/*
 * alloc_reserve - free blocks [@block, @block + @count) become used (mount rebuild).
 * Context: any thread. Locking: takes and drops a->lock.
 * Return: 0; -EINVAL out of the area; -EEXIST if a block is not free (nothing changed).
 */
int alloc_reserve(struct alloc *a, uint64_t block, uint64_t count)
{
	uint64_t i;
	int ret = 0;

	if (!alloc_contains(a, block, count))
		return -EINVAL;
	i = block - a->first;
	pthread_mutex_lock(&a->lock);
	if (bm_find(a->free_bm, false, i, i + count) != i + count)
		ret = -EEXIST;
	else
		range_reserve(a, i, i + count);
	pthread_mutex_unlock(&a->lock);
	return ret;
}

/*
 * alloc_reserve_held - as alloc_reserve, but a quarantined block nobody holds may be in the
 * range too: it becomes held (a HOLD record replayed after the BADBLOCK of one of its
 * blocks, or a MAP after it).
 * Context: any thread. Locking: takes and drops a->lock.
 * Return: 0; -EINVAL out of the area; -EEXIST if a block is used or held (nothing changed).
 */
int alloc_reserve_held(struct alloc *a, uint64_t block, uint64_t count)
{
	uint64_t i, end, j;
	int ret = 0;

	if (!alloc_contains(a, block, count))
		return -EINVAL;
	i = block - a->first;
	end = i + count;
	pthread_mutex_lock(&a->lock);
	for (j = i; j < end && ret == 0; j++)
		if (!bm_test(a->free_bm, j) && (!bm_test(a->quar_bm, j) || bm_test(a->held_bm, j)))
			ret = -EEXIST;
	for (j = i; j < end && ret == 0;) {
		uint64_t e = bm_find(a->free_bm, false, j, end);

		if (e > j)
			range_reserve(a, j, e);
		if (e < end)
			bm_set(a->held_bm, e, e + 1); /* quarantined, as checked */
		j = e + 1;
	}
	pthread_mutex_unlock(&a->lock);
	return ret;
}

/*
 * alloc_quarantine - every block of [@block, @block + @count) becomes quarantined, whatever
 * its state; a used block stays quarantined when it is freed later.
 * Context: any thread. Locking: takes and drops a->lock.
 * Return: the number of blocks that were not quarantined before; -EINVAL out of the area.
 */
int64_t alloc_quarantine(struct alloc *a, uint64_t block, uint64_t count)
{
	uint64_t i, n;

	if (!alloc_contains(a, block, count))
		return -EINVAL;
	i = block - a->first;
	pthread_mutex_lock(&a->lock);
	n = range_quarantine(a, i, i + count);
	pthread_mutex_unlock(&a->lock);
	return (int64_t)n;
}

/*
 * __unquarantine_check - every block of [@i, @i + @count) (area indexes) is quarantined and
 * held by nobody. Locking: a->lock held.
 * Return: 0; -ENOENT or -EBUSY with *@bad the first block that is not / is held.
 */
static int __unquarantine_check(struct alloc *a, uint64_t i, uint64_t count, uint64_t *bad)
{
	uint64_t j = bm_find(a->quar_bm, false, i, i + count);

	if (j != i + count) {
		*bad = a->first + j;
		return -ENOENT;
	}
	j = bm_find(a->held_bm, true, i, i + count);
	if (j != i + count) {
		*bad = a->first + j;
		return -EBUSY;
	}
	return 0;
}

/*
 * alloc_unquarantine_check / alloc_unquarantine - see alloc.h.
 * Context: any thread. Locking: takes and drops a->lock.
 */
int alloc_unquarantine_check(struct alloc *a, uint64_t block, uint64_t count, uint64_t *bad)
{
	int ret;

	if (!alloc_contains(a, block, count))
		return -EINVAL;
	pthread_mutex_lock(&a->lock);
	ret = __unquarantine_check(a, block - a->first, count, bad);
	pthread_mutex_unlock(&a->lock);
	return ret;
}

int alloc_unquarantine(struct alloc *a, uint64_t block, uint64_t count, uint64_t *bad)
{
	uint64_t i;
	int ret;

	if (!alloc_contains(a, block, count))
		return -EINVAL;
	i = block - a->first;
	pthread_mutex_lock(&a->lock);
	ret = __unquarantine_check(a, i, count, bad);
	if (ret == 0) {
		/* Quarantined blocks are neither free nor held: they become used, the caller's. */
		bm_clear(a->quar_bm, i, i + count);
		a->st.quarantined -= count;
		a->st.used += count;
	}
	pthread_mutex_unlock(&a->lock);
	return ret;
}

/*
 * alloc_is_free / alloc_is_quarantined - the state of one block.
 * Context: any thread. Locking: takes and drops a->lock; the answer may be stale at once.
 * Return: true or false (false outside the area).
 */
bool alloc_is_free(struct alloc *a, uint64_t block)
{
	bool ret;

	if (!alloc_contains(a, block, 1))
		return false;
	pthread_mutex_lock(&a->lock);
	ret = bm_test(a->free_bm, block - a->first);
	pthread_mutex_unlock(&a->lock);
	return ret;
}

bool alloc_is_quarantined(struct alloc *a, uint64_t block)
{
	bool ret;

	if (!alloc_contains(a, block, 1))
		return false;
	pthread_mutex_lock(&a->lock);
	ret = bm_test(a->quar_bm, block - a->first);
	pthread_mutex_unlock(&a->lock);
	return ret;
}

/*
 * alloc_get_stats - a consistent snapshot of the block counts.
 * Context: any thread. Locking: takes and drops a->lock.
 */
void alloc_get_stats(struct alloc *a, struct alloc_stats *st)
{
	pthread_mutex_lock(&a->lock);
	*st = a->st;
	pthread_mutex_unlock(&a->lock);
}

/*
 * alloc_for_each_quarantined - call @fn for each maximal quarantined run, in block order.
 * Context: any thread. Locking: holds a->lock around the walk; @fn must not call the allocator.
 */
void alloc_for_each_quarantined(struct alloc *a,
				void (*fn)(uint64_t block, uint64_t count, void *ctx), void *ctx)
{
	uint64_t i = 0, end;

	pthread_mutex_lock(&a->lock);
	while ((i = bm_find(a->quar_bm, true, i, a->count)) < a->count) {
		end = bm_find(a->quar_bm, false, i, a->count);
		fn(a->first + i, end - i, ctx);
		i = end;
	}
	pthread_mutex_unlock(&a->lock);
}
