/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_TESTS_PAGEMAP_H
#define DAXFS_TESTS_PAGEMAP_H

/*
 * What the engine's unit tests look up in a file's block map (engine-internal: nsint.h).
 */

#include <stdbool.h>
#include <stdint.h>

#include "blockmap.h"
#include "nsint.h"
#include "testutil.h"

/*
 * t_page_entry - the entry covering page @idx of @ino (XT_EMPTY for a missing file), its
 * first index (*@first, may be NULL) and the page's block (*@block, may be NULL:
 * UINT64_MAX for a hole or nothing).
 */
static inline xt_entry t_page_entry(struct ns *ns, uint64_t ino, uint64_t idx, uint64_t *first,
				    uint64_t *block)
{
	struct ns_inode *in;
	uint64_t f = 0;
	xt_entry e = XT_EMPTY;

	rcu_read_begin();
	in = ns_inode_find(ns, ino);
	if (in)
		e = __xt_load(&in->map, idx, &f, NULL);
	rcu_read_end();
	if (first)
		*first = f;
	if (block)
		*block = xt_is_value(e) && !bm_is_hole(e) ? bm_to_block(e) + (idx - f) : UINT64_MAX;
	return e;
}

/*
 * t_page_block - the block page @idx of @ino is on (a poisoned page's too: *@poison, when
 * not NULL, says whether it is). Fails the test for a hole or a missing file.
 */
static inline uint64_t t_page_block(struct ns *ns, uint64_t ino, uint64_t idx, bool *poison)
{
	uint64_t b;
	xt_entry e = t_page_entry(ns, ino, idx, NULL, &b);

	if (poison)
		*poison = xt_is_value(e) && bm_is_poison(e);
	T_ASSERT(b != UINT64_MAX);
	return b;
}

#endif
