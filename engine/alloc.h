/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_ALLOC_H
#define DAXFS_ENGINE_ALLOC_H

/*
 * alloc - the block allocator of a region's data area (DESIGN §3.3).
 *
 * Blocks are 4 KiB, numbered from the start of the region. The data area is cut into chunks
 * of 512 blocks (2 MiB, aligned in the region). Every block is in exactly one state:
 *
 *   state       | meaning
 *   ------------+------------------------------------------------------------------
 *   free        | may be handed out
 *   used        | handed out (owned by a file, or on its way back after a grace period)
 *   quarantined | never handed out again (poison); persisted as bad-block log records
 *
 * Huge allocations take a whole free chunk; small ones take runs of blocks inside one chunk,
 * preferring the caller's goal (the block after the file's last one) so small files stay
 * contiguous, then partly used chunks, and split a free chunk only when no partly used chunk
 * has room. The allocator keeps no on-media state: mount rebuilds it from the log.
 * The allocator never zeroes: the caller zeroes or overwrites blocks before publishing them.
 *
 * Locking: one mutex per allocator, the last class of the lock order but the log lock
 * (docs/locking.md); every function takes and drops it unless its name starts with "__".
 */

#include <stdbool.h>
#include <stdint.h>

struct alloc;

struct alloc_stats {
	uint64_t total;	      /* blocks in the data area */
	uint64_t free;	      /* blocks in state free */
	uint64_t used;	      /* blocks in state used */
	uint64_t quarantined; /* blocks in state quarantined */
	uint64_t free_chunks; /* entirely free chunks (huge allocations possible) */
};

/*
 * alloc_new - an allocator for blocks [@first, @first + @count), all free.
 * @first must be a multiple of 512 (chunk aligned); @count is rounded down to whole chunks.
 * Return: 0, -EINVAL (misaligned or no whole chunk), -ENOMEM.
 */
int alloc_new(struct alloc **out, uint64_t first, uint64_t count);
void alloc_delete(struct alloc **ap);

/*
 * alloc_huge - take one entirely free chunk.
 * Return: 0 and *@block (a multiple of 512), or -ENOSPC when no chunk is entirely free.
 */
int alloc_huge(struct alloc *a, uint64_t *block);

/*
 * alloc_blocks - take a run of 1..@want free blocks inside one chunk, starting at @goal when
 * @goal is free (pass UINT64_MAX for no goal).
 * Return: 0 with *@block and *@got (1 <= *@got <= @want); -ENOSPC when no block is free;
 *         -EINVAL when @want is 0.
 */
int alloc_blocks(struct alloc *a, uint64_t goal, uint64_t want, uint64_t *block, uint64_t *got);

/*
 * alloc_free - return [@block, @block + @count) to free. Quarantined blocks in the range stay
 * quarantined (a block poisoned while its free was pending is never handed out).
 * Return: 0; -EINVAL if the range leaves the data area or a block in it is already free
 *         (a double free: nothing is changed).
 */
int alloc_free(struct alloc *a, uint64_t block, uint64_t count);

/*
 * alloc_reserve - mark a free range used (mount rebuilds ownership this way).
 * Return: 0; -EINVAL out of the area; -EEXIST if a block is not free (nothing changed).
 */
int alloc_reserve(struct alloc *a, uint64_t block, uint64_t count);

/*
 * alloc_reserve_held - alloc_reserve that also takes quarantined blocks nobody holds: they
 * become held, as a used block quarantined later is (its owner frees it with alloc_free).
 * Return: 0; -EINVAL out of the area; -EEXIST if a block is used or held (nothing changed).
 */
int alloc_reserve_held(struct alloc *a, uint64_t block, uint64_t count);

/*
 * alloc_quarantine - put [@block, @block + @count) in quarantine, whatever their state.
 * Return: the number of blocks that were not quarantined before; -EINVAL out of the area.
 */
int64_t alloc_quarantine(struct alloc *a, uint64_t block, uint64_t count);

/*
 * alloc_unquarantine - the quarantined blocks [@block, @block + @count) return to use: they
 * become used, owned by the caller, who frees them (alloc_free) once nothing on the media
 * quarantines them any more, or quarantines them again (alloc_quarantine, then alloc_free).
 * Only blocks nobody holds may: a block that was used when it was quarantined is held
 * until its owner frees it (a poisoned file page that is not rewritten, a free waiting for
 * its grace period, a dropped client's hold).
 * alloc_unquarantine_check - the same test, changing nothing.
 * Return: 0; -EINVAL out of the area; -ENOENT (*@bad is a block not quarantined) or -EBUSY
 *         (*@bad is a block still held); nothing changed then.
 */
int alloc_unquarantine(struct alloc *a, uint64_t block, uint64_t count, uint64_t *bad);
int alloc_unquarantine_check(struct alloc *a, uint64_t block, uint64_t count, uint64_t *bad);

/* alloc_is_free / alloc_is_quarantined - state of one block (false out of the area). */
bool alloc_is_free(struct alloc *a, uint64_t block);
bool alloc_is_quarantined(struct alloc *a, uint64_t block);

/* alloc_contains - is @block inside the data area? (no lock: fixed after alloc_new) */
bool alloc_contains(const struct alloc *a, uint64_t block, uint64_t count);

void alloc_get_stats(struct alloc *a, struct alloc_stats *st);

/*
 * alloc_for_each_quarantined - call @fn for each maximal quarantined run, in block order.
 * Locking: takes the allocator lock around the walk; @fn must not call the allocator.
 */
void alloc_for_each_quarantined(struct alloc *a,
				void (*fn)(uint64_t block, uint64_t count, void *ctx), void *ctx);

#endif
