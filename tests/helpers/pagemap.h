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
 * t_page_block - the block page @idx of @ino is on (a poisoned page's too: *@poison, when
 * not NULL, says whether it is). Fails the test for a hole or a missing file.
 */
static inline uint64_t t_page_block(struct ns *ns, uint64_t ino, uint64_t idx, bool *poison)
{
	struct ns_inode *in;
	uint64_t first = 0, b = UINT64_MAX;
	xt_entry e = XT_EMPTY;

	rcu_read_begin();
	in = ns_inode_find(ns, ino);
	if (in)
		e = __xt_load(&in->map, idx, &first, NULL);
	rcu_read_end();
	if (xt_is_value(e) && !bm_is_hole(e))
		b = bm_to_block(e) + (idx - first);
	if (poison)
		*poison = xt_is_value(e) && bm_is_poison(e);
	T_ASSERT(b != UINT64_MAX);
	return b;
}

#endif
