// SPDX-License-Identifier: MIT
/*
 * rmap: lookups give (inode, page) for every block of every extent, neighbouring extents of
 * a file merge into one record (memory O(extents)), removal splits records, and the whole
 * thing agrees with a plain per-block model under random operations.
 */
#include <stdlib.h>

#include "rmap.h"
#include "testutil.h"

#define BLOCKS 4096

struct owner {
	struct ns_inode *inode; /* NULL: no owner */
	uint64_t index;
};

static struct owner model[BLOCKS];
static char fake_inodes[4]; /* distinct addresses stand in for inodes */

static struct ns_inode *fake(unsigned i)
{
	return (struct ns_inode *)(void *)&fake_inodes[i];
}

static void compare(struct rmap *rm)
{
	rcu_read_begin();
	for (uint64_t b = 0; b < BLOCKS; b++) {
		struct rmap_owner own;
		bool found = rmap_lookup(rm, b, &own);

		if (found != (model[b].inode != NULL))
			T_FAIL("block %" PRIu64 ": found %d, model %d", b, found,
			       model[b].inode != NULL);
		if (found && (own.inode != model[b].inode || own.index != model[b].index))
			T_FAIL("block %" PRIu64 ": owner/page differ", b);
		if (found && (b < own.first || b >= own.first + own.count))
			T_FAIL("block %" PRIu64 " outside its extent", b);
	}
	rcu_read_end();
}

static void merging(void)
{
	struct rmap rm;
	struct rmap_owner own;

	rmap_init(&rm);
	/* A file growing one page at a time on contiguous blocks is one record. */
	for (uint64_t i = 0; i < 600; i++)
		T_OK(rmap_insert(&rm, 1000 + i, 1, fake(0), i));
	T_ASSERT(rm.nr_records == 1);
	rcu_read_begin();
	T_ASSERT(rmap_lookup(&rm, 1599, &own) && own.index == 599 && own.count == 600);
	rcu_read_end();
	/* Not contiguous in the file: a second record. */
	T_OK(rmap_insert(&rm, 1600, 1, fake(0), 700));
	T_ASSERT(rm.nr_records == 2);
	/* Another file next door does not merge. */
	T_OK(rmap_insert(&rm, 999, 1, fake(1), 0));
	T_ASSERT(rm.nr_records == 3);
	/* Owned twice is refused and changes nothing. */
	T_ERR(rmap_insert(&rm, 1200, 4, fake(2), 0), EEXIST);
	T_ASSERT(rm.nr_records == 3);
	/* Punching the middle splits it in two. */
	T_OK(rmap_remove(&rm, 1100, 10));
	T_ASSERT(rm.nr_records == 4);
	rcu_read_begin();
	T_ASSERT(!rmap_lookup(&rm, 1105, &own));
	T_ASSERT(rmap_lookup(&rm, 1110, &own) && own.index == 110 && own.first == 1110);
	T_ASSERT(rmap_lookup(&rm, 1099, &own) && own.index == 99 && own.first == 1000);
	rcu_read_end();
	/* Memory follows extents: a million-block extent costs what a small one does. */
	T_OK(rmap_insert(&rm, UINT64_C(1) << 30, UINT64_C(1) << 20, fake(3), 0));
	T_ASSERT(rmap_memory(&rm) < 64 * 1024);
	rmap_destroy(&rm);
}

static void random_ops(uint64_t seed, unsigned ops)
{
	struct rmap rm;

	rmap_init(&rm);
	memset(model, 0, sizeof(model));
	for (unsigned op = 0; op < ops; op++) {
		uint64_t b = t_rand(&seed) % BLOCKS;
		uint64_t n = 1 + t_rand(&seed) % 64;
		unsigned f = (unsigned)(t_rand(&seed) % 3);
		bool free_range = true;

		if (b + n > BLOCKS)
			n = BLOCKS - b;
		for (uint64_t k = b; k < b + n; k++)
			free_range &= model[k].inode == NULL;
		if (t_rand(&seed) % 3) {
			uint64_t index = t_rand(&seed) % 100000;
			int rc = rmap_insert(&rm, b, n, fake(f), index);

			if (free_range) {
				T_OK(rc);
				for (uint64_t k = 0; k < n; k++)
					model[b + k] = (struct owner){fake(f), index + k};
			} else {
				T_ERR(rc, EEXIST);
			}
		} else {
			T_OK(rmap_remove(&rm, b, n));
			for (uint64_t k = b; k < b + n; k++)
				model[k].inode = NULL;
		}
		if (op % 50 == 0)
			compare(&rm);
	}
	compare(&rm);
	rmap_destroy(&rm);
}

int main(int argc, char **argv)
{
	uint64_t seed = t_seed(argc, argv, 7);

	t_watchdog(60, "test-rmap");
	rcu_thread_online();
	merging();
	random_ops(seed, 20000);
	rcu_barrier_all();
	rcu_thread_offline();
	printf("rmap: ok\n");
	return 0;
}
