// SPDX-License-Identifier: MIT
/*
 * test-alloc - the block allocator against a model: one state per block in a plain array.
 *
 * Random operations (alloc_huge, alloc_blocks with random goal and want, alloc_free of owned
 * runs and of free blocks, alloc_reserve and alloc_reserve_held, alloc_quarantine in every
 * state, alloc_unquarantine of quarantined blocks held by an owner or not, alloc_is_*),
 * phases that fill the area until -ENOSPC, and after every operation: stats == model, and the touched
 * blocks == model; the whole area is compared every few operations and at the end.
 *
 * Usage: test-alloc [seed]   (a fixed seed by default; the seed is printed on failure)
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#define CHUNK 512ULL
#define ROUNDS 5
#define OPS_PER_ROUND 2500
#define FULL_CHECK_EVERY 50

/* M_QHELD: quarantined while used; its owner has not freed it yet (alloc.c's held_bm). */
enum mstate { M_FREE, M_USED, M_QUAR, M_QHELD };

static bool m_quar(uint8_t s)
{
	return s == M_QUAR || s == M_QHELD;
}

struct run {
	uint64_t block, count;
};

static uint64_t seed = 0x5eed0fda4f5ULL;
static uint64_t rng_state;
static int cur_round = -1;
static long cur_op = -1;
static const char *cur_name = "setup";

#define CHECK(cond)                            \
	do {                                   \
		if (!(cond))                   \
			fail(__LINE__, #cond); \
	} while (0)

static void fail(int line, const char *what)
{
	fprintf(stderr,
		"test-alloc: line %d: check failed: %s\n  during %s, round %d, op %ld; seed "
		"%" PRIu64 " (rerun: test-alloc %" PRIu64 ")\n",
		line, what, cur_name, cur_round, cur_op, seed, seed);
	exit(1);
}

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* rnd_below - uniform-enough in [0, n); n > 0 */
static uint64_t rnd_below(uint64_t n)
{
	return rnd() % n;
}

/* ---- the model ---------------------------------------------------------------------------- */

struct model {
	uint64_t first, count;
	uint8_t *st; /* enum mstate per block */
	struct run *owned;
	size_t nowned, capowned;
};

static uint8_t m_get(const struct model *m, uint64_t block)
{
	return m->st[block - m->first];
}

static void m_set(struct model *m, uint64_t block, uint64_t n, enum mstate s)
{
	memset(m->st + (block - m->first), s, n);
}

static bool m_in(const struct model *m, uint64_t block, uint64_t n)
{
	return n > 0 && block >= m->first && block - m->first < m->count &&
	       n <= m->count - (block - m->first);
}

static uint64_t m_chunk_free(const struct model *m, uint64_t c)
{
	uint64_t n = 0;

	for (uint64_t i = c * CHUNK; i < (c + 1) * CHUNK; i++)
		n += m->st[i] == M_FREE;
	return n;
}

static void m_stats(const struct model *m, struct alloc_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->total = m->count;
	for (uint64_t i = 0; i < m->count; i++) {
		if (m->st[i] == M_FREE)
			st->free++;
		else if (m->st[i] == M_USED)
			st->used++;
		else
			st->quarantined++;
	}
	for (uint64_t c = 0; c < m->count / CHUNK; c++)
		st->free_chunks += m_chunk_free(m, c) == CHUNK;
}

static bool m_has_partial_chunk(const struct model *m)
{
	for (uint64_t c = 0; c < m->count / CHUNK; c++) {
		uint64_t f = m_chunk_free(m, c);

		if (f > 0 && f < CHUNK)
			return true;
	}
	return false;
}

/* m_free_run - length of the free run at @block, up to @max, not crossing its chunk */
static uint64_t m_free_run(const struct model *m, uint64_t block, uint64_t max)
{
	uint64_t chunk_end = m->first + ((block - m->first) / CHUNK + 1) * CHUNK;
	uint64_t n = 0;

	while (n < max && block + n < chunk_end && m_get(m, block + n) == M_FREE)
		n++;
	return n;
}

static void owned_add(struct model *m, uint64_t block, uint64_t count)
{
	if (m->nowned == m->capowned) {
		m->capowned = m->capowned ? 2 * m->capowned : 64;
		m->owned = realloc(m->owned, m->capowned * sizeof(*m->owned));
		CHECK(m->owned != NULL);
	}
	m->owned[m->nowned++] = (struct run){block, count};
}

static void owned_remove(struct model *m, size_t i)
{
	m->owned[i] = m->owned[--m->nowned];
}

/* ---- comparisons -------------------------------------------------------------------------- */

static void check_stats(struct alloc *a, const struct model *m)
{
	struct alloc_stats got, want;

	alloc_get_stats(a, &got);
	m_stats(m, &want);
	CHECK(got.total == want.total);
	CHECK(got.free == want.free);
	CHECK(got.used == want.used);
	CHECK(got.quarantined == want.quarantined);
	CHECK(got.free_chunks == want.free_chunks);
}

static void check_range(struct alloc *a, const struct model *m, uint64_t block, uint64_t n)
{
	uint64_t lo = block > m->first + 2 ? block - 2 : m->first;
	uint64_t hi = min_u64(block + n + 2, m->first + m->count);

	for (uint64_t b = lo; b < hi; b++) {
		CHECK(alloc_is_free(a, b) == (m_get(m, b) == M_FREE));
		CHECK(alloc_is_quarantined(a, b) == m_quar(m_get(m, b)));
	}
}

struct qwalk {
	const struct model *m;
	uint64_t next; /* the walk must resume after the previous run */
	uint64_t runs;
};

static void qwalk_fn(uint64_t block, uint64_t count, void *ctx)
{
	struct qwalk *w = ctx;

	CHECK(count > 0);
	CHECK(block >= w->next);
	CHECK(m_in(w->m, block, count));
	for (uint64_t b = block; b < block + count; b++)
		CHECK(m_quar(m_get(w->m, b)));
	/* maximal: the blocks right before and after are not quarantined */
	CHECK(block == w->m->first || !m_quar(m_get(w->m, block - 1)));
	CHECK(block + count == w->m->first + w->m->count || !m_quar(m_get(w->m, block + count)));
	w->next = block + count + 1;
	w->runs++;
}

static void check_all(struct alloc *a, const struct model *m)
{
	struct qwalk w = {.m = m, .next = m->first};
	uint64_t runs = 0;

	check_stats(a, m);
	for (uint64_t i = 0; i < m->count; i++) {
		CHECK(alloc_is_free(a, m->first + i) == (m->st[i] == M_FREE));
		CHECK(alloc_is_quarantined(a, m->first + i) == m_quar(m->st[i]));
		runs += m_quar(m->st[i]) && (i == 0 || !m_quar(m->st[i - 1]));
	}
	alloc_for_each_quarantined(a, qwalk_fn, &w);
	CHECK(w.runs == runs);
	/* outside the area nothing is free or quarantined */
	CHECK(!alloc_is_free(a, m->first + m->count));
	CHECK(!alloc_is_quarantined(a, m->first + m->count));
	if (m->first > 0)
		CHECK(!alloc_is_free(a, m->first - 1));
}

/* ---- operations, each checked against the model ------------------------------------------ */

static void op_huge(struct alloc *a, struct model *m)
{
	struct alloc_stats want;
	uint64_t block = UINT64_MAX;
	int ret;

	cur_name = "alloc_huge";
	m_stats(m, &want);
	ret = alloc_huge(a, &block);
	if (want.free_chunks == 0) {
		CHECK(ret == -ENOSPC);
		return;
	}
	CHECK(ret == 0);
	CHECK(block % CHUNK == 0);
	CHECK(m_in(m, block, CHUNK));
	for (uint64_t b = block; b < block + CHUNK; b++)
		CHECK(m_get(m, b) == M_FREE);
	m_set(m, block, CHUNK, M_USED);
	owned_add(m, block, CHUNK);
	check_range(a, m, block, CHUNK);
}

static uint64_t pick_goal(const struct model *m)
{
	switch (rnd_below(8)) {
	case 0:
	case 1:
		return UINT64_MAX;
	case 2:
		return m->first + m->count + rnd_below(1000); /* outside: no goal */
	case 3:
		if (m->first)
			return rnd_below(m->first);
		return UINT64_MAX;
	case 4:
		if (m->nowned) { /* the block after a file's last one */
			const struct run *r = &m->owned[rnd_below(m->nowned)];

			return r->block + r->count;
		}
		/* fall through */
	default:
		return m->first + rnd_below(m->count);
	}
}

static uint64_t pick_want(void)
{
	switch (rnd_below(10)) {
	case 0:
		return 1 + rnd_below(1100);
	case 1:
		return UINT64_MAX - rnd_below(3);
	case 2:
	case 3:
		return 1 + rnd_below(64);
	default:
		return 1 + rnd_below(8);
	}
}

/* op_blocks - one alloc_blocks; returns its result */
static int op_blocks(struct alloc *a, struct model *m, uint64_t goal, uint64_t want)
{
	struct alloc_stats before;
	uint64_t block = UINT64_MAX, got = 0, chunk_start, cap;
	bool partial = m_has_partial_chunk(m);
	int ret;

	cur_name = "alloc_blocks";
	m_stats(m, &before);
	ret = alloc_blocks(a, goal, want, &block, &got);
	if (before.free == 0) {
		CHECK(ret == -ENOSPC);
		return ret;
	}
	CHECK(ret == 0);
	CHECK(got >= 1 && got <= want && got <= CHUNK);
	CHECK(m_in(m, block, got));
	/* a small run never crosses a chunk */
	CHECK((block - m->first) / CHUNK == (block + got - 1 - m->first) / CHUNK);
	/* nothing handed out is quarantined or already used */
	for (uint64_t b = block; b < block + got; b++)
		CHECK(m_get(m, b) == M_FREE);

	cap = min_u64(want, CHUNK);
	chunk_start = m->first + (block - m->first) / CHUNK * CHUNK;
	if (m_in(m, goal, 1) && m_get(m, goal) == M_FREE) {
		/* the goal is free: the free run starting at the goal */
		CHECK(block == goal);
		CHECK(got == m_free_run(m, goal, cap));
	} else {
		uint64_t f = m_chunk_free(m, (chunk_start - m->first) / CHUNK);

		if (partial) /* a partly free chunk before splitting an entirely free one */
			CHECK(f > 0 && f < CHUNK);
		else
			CHECK(f == CHUNK);
		/* the first free run of that chunk, as long as it goes (up to want) */
		for (uint64_t b = chunk_start; b < block; b++)
			CHECK(m_get(m, b) != M_FREE);
		CHECK(got == m_free_run(m, block, cap));
	}
	m_set(m, block, got, M_USED);
	owned_add(m, block, got);
	check_range(a, m, block, got);
	return 0;
}

static void op_free_owned(struct alloc *a, struct model *m)
{
	struct run r;
	uint64_t off, n;
	size_t i;

	cur_name = "alloc_free(owned)";
	if (!m->nowned)
		return;
	i = rnd_below(m->nowned);
	r = m->owned[i];
	owned_remove(m, i);
	if (rnd_below(3) == 0 && r.count > 1) {
		/* free a piece; the rest stays owned */
		off = rnd_below(r.count);
		n = 1 + rnd_below(r.count - off);
		if (off)
			owned_add(m, r.block, off);
		if (off + n < r.count)
			owned_add(m, r.block + off + n, r.count - off - n);
		r.block += off;
		r.count = n;
	}
	CHECK(alloc_free(a, r.block, r.count) == 0);
	for (uint64_t b = r.block; b < r.block + r.count; b++) {
		if (m_get(m, b) == M_USED)
			m_set(m, b, 1, M_FREE);
		else if (m_get(m, b) == M_QHELD) /* stays quarantined, let go of */
			m_set(m, b, 1, M_QUAR);
	}
	check_range(a, m, r.block, r.count);
}

static void op_double_free(struct alloc *a, struct model *m)
{
	struct alloc_stats before, after;
	uint64_t b, lo, hi;

	cur_name = "alloc_free(double)";
	/* find a free block from a random place */
	b = m->first + rnd_below(m->count);
	for (uint64_t k = 0; k < m->count && m_get(m, b) != M_FREE; k++)
		b = b + 1 == m->first + m->count ? m->first : b + 1;
	if (m_get(m, b) != M_FREE)
		return;
	lo = b - min_u64(b - m->first, rnd_below(20));
	hi = min_u64(b + 1 + rnd_below(20), m->first + m->count);
	alloc_get_stats(a, &before);
	CHECK(alloc_free(a, lo, hi - lo) == -EINVAL);
	alloc_get_stats(a, &after);
	CHECK(memcmp(&before, &after, sizeof(before)) == 0);
	check_range(a, m, lo, hi - lo); /* nothing changed */
}

static void op_reserve(struct alloc *a, struct model *m)
{
	uint64_t block, n;
	bool all_free = true;
	int ret;

	cur_name = "alloc_reserve";
	n = 1 + rnd_below(rnd_below(4) == 0 ? 700 : 40);
	if (rnd_below(10) == 0) {
		block = rnd_below(2) ? m->first + m->count - rnd_below(n) : m->first - 1;
		if (!m_in(m, block, n)) {
			CHECK(alloc_reserve(a, block, n) == -EINVAL);
			return;
		}
	} else {
		block = m->first + rnd_below(m->count);
		n = min_u64(n, m->first + m->count - block);
	}
	if (rnd_below(2)) {
		/* alloc_reserve_held: free blocks become used, quarantined free ones held. */
		cur_name = "alloc_reserve_held";
		for (uint64_t b = block; b < block + n; b++)
			all_free &= m_get(m, b) == M_FREE || m_get(m, b) == M_QUAR;
		ret = alloc_reserve_held(a, block, n);
		if (!all_free) {
			CHECK(ret == -EEXIST);
		} else {
			CHECK(ret == 0);
			for (uint64_t b = block; b < block + n; b++)
				m_set(m, b, 1, m_get(m, b) == M_QUAR ? M_QHELD : M_USED);
			owned_add(m, block, n);
		}
		check_range(a, m, block, n);
		return;
	}
	for (uint64_t b = block; b < block + n; b++)
		all_free &= m_get(m, b) == M_FREE;
	ret = alloc_reserve(a, block, n);
	if (!all_free) {
		CHECK(ret == -EEXIST);
	} else {
		CHECK(ret == 0);
		m_set(m, block, n, M_USED);
		owned_add(m, block, n);
	}
	check_range(a, m, block, n);
}

static void op_quarantine(struct alloc *a, struct model *m)
{
	uint64_t block, n, fresh = 0;
	int64_t ret;

	cur_name = "alloc_quarantine";
	n = 1 + rnd_below(6);
	switch (rnd_below(4)) {
	case 0: /* a used block */
		if (m->nowned) {
			const struct run *r = &m->owned[rnd_below(m->nowned)];

			block = r->block + rnd_below(r->count);
			break;
		}
		/* fall through */
	default:
		block = m->first + rnd_below(m->count);
		break;
	case 3:
		if (rnd_below(4) == 0) { /* out of the area */
			block = m->first + m->count - rnd_below(3);
			if (!m_in(m, block, n)) {
				CHECK(alloc_quarantine(a, block, n) == -EINVAL);
				return;
			}
		} else {
			block = m->first + rnd_below(m->count);
		}
		break;
	}
	n = min_u64(n, m->first + m->count - block);
	for (uint64_t b = block; b < block + n; b++)
		fresh += !m_quar(m_get(m, b));
	ret = alloc_quarantine(a, block, n);
	CHECK(ret == (int64_t)fresh);
	for (uint64_t b = block; b < block + n; b++) {
		if (m_get(m, b) == M_FREE)
			m_set(m, b, 1, M_QUAR);
		else if (m_get(m, b) == M_USED)
			m_set(m, b, 1, M_QHELD);
	}
	check_range(a, m, block, n);
}

static void op_unquarantine(struct alloc *a, struct model *m)
{
	uint64_t block = m->first + rnd_below(m->count), n = 1 + rnd_below(4), bad = 0;
	uint64_t want_bad = UINT64_MAX;
	int ret, want = 0;

	cur_name = "alloc_unquarantine";
	/* Mostly where a quarantined block is. */
	for (uint64_t k = 0; k < m->count && rnd_below(8) && !m_quar(m_get(m, block)); k++)
		block = block + 1 == m->first + m->count ? m->first : block + 1;
	n = min_u64(n, m->first + m->count - block);
	for (uint64_t b = block; b < block + n && !want; b++) {
		if (!m_quar(m_get(m, b))) {
			want = -ENOENT;
			want_bad = b;
		}
	}
	for (uint64_t b = block; b < block + n && !want; b++) {
		if (m_get(m, b) == M_QHELD) {
			want = -EBUSY;
			want_bad = b;
		}
	}
	CHECK(alloc_unquarantine_check(a, block, n, &bad) == want);
	CHECK(!want || bad == want_bad);
	ret = alloc_unquarantine(a, block, n, &bad);
	CHECK(ret == want);
	if (ret) {
		CHECK(bad == want_bad);
	} else {
		/* Ours now: used, freed later like any owned run. */
		m_set(m, block, n, M_USED);
		owned_add(m, block, n);
	}
	check_range(a, m, block, n);
}

static void op_query(struct alloc *a, struct model *m)
{
	uint64_t b = m->first + rnd_below(m->count + 4);

	cur_name = "alloc_is_*";
	if (m->first > 0 && rnd_below(8) == 0)
		b = m->first - 1 - rnd_below(min_u64(m->first, 4));
	if (m_in(m, b, 1)) {
		CHECK(alloc_is_free(a, b) == (m_get(m, b) == M_FREE));
		CHECK(alloc_is_quarantined(a, b) == m_quar(m_get(m, b)));
		CHECK(alloc_contains(a, b, 1));
	} else {
		CHECK(!alloc_is_free(a, b));
		CHECK(!alloc_is_quarantined(a, b));
		CHECK(!alloc_contains(a, b, 1));
	}
}

/* fill - alloc_blocks until -ENOSPC, which must come exactly when no block is free */
static void fill(struct alloc *a, struct model *m)
{
	struct alloc_stats st;
	int ret;

	do {
		ret = op_blocks(a, m, pick_goal(m), pick_want());
		check_stats(a, m);
	} while (ret == 0);
	m_stats(m, &st);
	CHECK(st.free == 0);
	op_huge(a, m); /* -ENOSPC too */
	check_all(a, m);
}

/* drain - give back a random share of the owned runs */
static void drain(struct alloc *a, struct model *m, unsigned percent)
{
	size_t n = m->nowned * percent / 100;

	for (size_t k = 0; k < n; k++) {
		op_free_owned(a, m);
		check_stats(a, m);
	}
}

static void round_run(int round)
{
	uint64_t nchunks = 1 + rnd_below(12);
	uint64_t first = CHUNK * rnd_below(64);
	uint64_t count = nchunks * CHUNK + rnd_below(CHUNK); /* rounded down by alloc_new */
	struct model m = {.first = first, .count = nchunks * CHUNK};
	struct alloc *a;

	cur_round = round;
	cur_op = -1;
	cur_name = "alloc_new";
	CHECK(alloc_new(&a, first, count) == 0);
	m.st = calloc(m.count, 1); /* all M_FREE */
	CHECK(m.st != NULL);
	check_all(a, &m);

	for (cur_op = 0; cur_op < OPS_PER_ROUND; cur_op++) {
		unsigned p = (unsigned)rnd_below(100);

		if (cur_op % 600 == 599) {
			cur_name = "fill";
			fill(a, &m);
			drain(a, &m, 30 + (unsigned)rnd_below(60));
		} else if (p < 8) {
			op_huge(a, &m);
		} else if (p < 44) {
			op_blocks(a, &m, pick_goal(&m), pick_want());
		} else if (p < 45) {
			uint64_t b, g;

			cur_name = "alloc_blocks(want 0)";
			CHECK(alloc_blocks(a, UINT64_MAX, 0, &b, &g) == -EINVAL);
		} else if (p < 72) {
			op_free_owned(a, &m);
		} else if (p < 77) {
			op_double_free(a, &m);
		} else if (p < 85) {
			op_reserve(a, &m);
		} else if (p < 89) {
			op_quarantine(a, &m);
		} else if (p < 93) {
			op_unquarantine(a, &m);
		} else {
			op_query(a, &m);
		}
		check_stats(a, &m);
		if (cur_op % FULL_CHECK_EVERY == 0)
			check_all(a, &m);
	}
	cur_name = "final fill";
	fill(a, &m);
	cur_name = "free everything";
	while (m.nowned) {
		op_free_owned(a, &m);
		check_stats(a, &m);
	}
	check_all(a, &m);
	alloc_delete(&a);
	CHECK(a == NULL);
	free(m.st);
	free(m.owned);
}

/* ---- fixed cases -------------------------------------------------------------------------- */

static void count_runs(uint64_t block, uint64_t count, void *ctx)
{
	uint64_t *v = ctx;

	v[0]++;
	v[1] = block;
	v[2] = count;
}

static void test_fixed(void)
{
	struct alloc_stats st;
	struct alloc *a = (struct alloc *)&st; /* must be reset to NULL on failure */
	uint64_t b, g, v[3] = {0};

	cur_name = "fixed cases";
	CHECK(alloc_new(&a, 1, 4096) == -EINVAL && a == NULL);
	CHECK(alloc_new(&a, 512, 511) == -EINVAL && a == NULL);
	CHECK(alloc_new(&a, UINT64_MAX - 511, 1024) == -EINVAL && a == NULL);
	alloc_delete(NULL);
	alloc_delete(&a);

	CHECK(alloc_new(&a, 1024, 2 * CHUNK + 100) == 0);
	alloc_get_stats(a, &st);
	CHECK(st.total == 2 * CHUNK && st.free == 2 * CHUNK && st.used == 0);
	CHECK(st.quarantined == 0 && st.free_chunks == 2);
	CHECK(alloc_contains(a, 1024, 2 * CHUNK));
	CHECK(!alloc_contains(a, 1024, 2 * CHUNK + 1));
	CHECK(!alloc_contains(a, 1023, 1));
	CHECK(!alloc_contains(a, 1024, 0));
	CHECK(!alloc_contains(a, UINT64_MAX, 2));
	CHECK(alloc_free(a, UINT64_MAX, 2) == -EINVAL);
	CHECK(alloc_reserve(a, 1024 + 2 * CHUNK - 1, 2) == -EINVAL);
	CHECK(alloc_quarantine(a, 1000, 30) == -EINVAL);

	/* goal-directed growth stays contiguous */
	CHECK(alloc_blocks(a, UINT64_MAX, 3, &b, &g) == 0 && b == 1024 && g == 3);
	CHECK(alloc_blocks(a, b + g, 5, &b, &g) == 0 && b == 1027 && g == 5);
	/* a huge allocation skips the partly used chunk */
	CHECK(alloc_huge(a, &b) == 0 && b == 1024 + CHUNK);
	CHECK(alloc_huge(a, &b) == -ENOSPC);
	/* a run stops at the chunk end even when more is wanted */
	CHECK(alloc_blocks(a, 1024 + CHUNK - 2, 100, &b, &g) == 0 && b == 1024 + CHUNK - 2);
	CHECK(g == 2);
	/* quarantine a used block, free its run: it stays quarantined */
	CHECK(alloc_quarantine(a, 1025, 1) == 1);
	CHECK(alloc_quarantine(a, 1024, 3) == 2);
	CHECK(alloc_quarantine(a, 1024, 3) == 0);
	CHECK(alloc_free(a, 1024, 8) == 0);
	CHECK(alloc_is_quarantined(a, 1025) && !alloc_is_free(a, 1025));
	CHECK(alloc_is_free(a, 1027));
	CHECK(alloc_free(a, 1027, 1) == -EINVAL); /* double free */
	CHECK(alloc_free(a, 1024, 3) == 0);	  /* quarantined only: nothing to do */
	alloc_for_each_quarantined(a, count_runs, v);
	CHECK(v[0] == 1 && v[1] == 1024 && v[2] == 3);
	CHECK(alloc_reserve(a, 1026, 2) == -EEXIST);
	CHECK(alloc_reserve(a, 1027, 2) == 0);
	alloc_get_stats(a, &st);
	CHECK(st.quarantined == 3 && st.used == CHUNK + 2 + 2 && st.free_chunks == 0);
	CHECK(st.free == st.total - st.used - st.quarantined);
	/* A quarantined block whose owner freed it may return to use; a held one not. */
	CHECK(alloc_unquarantine(a, 1024, 3, &b) == 0);
	CHECK(!alloc_is_quarantined(a, 1025) && !alloc_is_free(a, 1025));
	CHECK(alloc_free(a, 1024, 3) == 0 && alloc_is_free(a, 1025));
	CHECK(alloc_unquarantine(a, 1024, 1, &b) == -ENOENT && b == 1024);
	CHECK(alloc_blocks(a, 1024, 1, &b, &g) == 0 && b == 1024 && g == 1);
	CHECK(alloc_quarantine(a, 1024, 1) == 1);
	CHECK(alloc_unquarantine(a, 1024, 1, &b) == -EBUSY && b == 1024);
	CHECK(alloc_free(a, 1024, 1) == 0);
	CHECK(alloc_unquarantine(a, 1024, 1, &b) == 0);
	CHECK(alloc_free(a, 1024, 1) == 0);
	CHECK(alloc_unquarantine(a, 1000, 1, &b) == -EINVAL);
	alloc_delete(&a);
	CHECK(a == NULL);
}

/* ---- a few threads at once (the lock, under the sanitizers) ------------------------------- */

struct thr {
	struct alloc *a;
	uint64_t seed;
	uint64_t errors;
};

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	struct run runs[64];
	size_t n = 0;
	uint64_t x = t->seed;

	for (int i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (n < 64 && (x & 1)) {
			uint64_t b, g;

			if (x & 2) {
				if (alloc_huge(t->a, &b) == 0)
					runs[n++] = (struct run){b, CHUNK};
			} else if (alloc_blocks(t->a,
						n ? runs[n - 1].block + runs[n - 1].count
						  : UINT64_MAX,
						1 + (x >> 8) % 16, &b, &g) == 0) {
				runs[n++] = (struct run){b, g};
			}
		} else if (n) {
			n--;
			t->errors += alloc_free(t->a, runs[n].block, runs[n].count) != 0;
		}
	}
	while (n) {
		n--;
		t->errors += alloc_free(t->a, runs[n].block, runs[n].count) != 0;
	}
	return NULL;
}

static void test_threads(void)
{
	struct thr t[4];
	pthread_t tid[4];
	struct alloc_stats st;
	struct alloc *a;

	cur_name = "threads";
	CHECK(alloc_new(&a, 0, 16 * CHUNK) == 0);
	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){.a = a, .seed = seed + 1 + (uint64_t)i};
		CHECK(pthread_create(&tid[i], NULL, thr_main, &t[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(tid[i], NULL);
		CHECK(t[i].errors == 0);
	}
	alloc_get_stats(a, &st);
	CHECK(st.free == st.total && st.used == 0 && st.free_chunks == 16);
	alloc_delete(&a);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		char *end;

		seed = strtoull(argv[1], &end, 0);
		if (*end) {
			fprintf(stderr, "usage: %s [seed]\n", argv[0]);
			return 2;
		}
	}
	rng_state = seed;
	test_fixed();
	for (int r = 0; r < ROUNDS; r++)
		round_run(r);
	cur_round = -1;
	cur_op = -1;
	test_threads();
	printf("test-alloc: ok (%d rounds of %d operations, seed %" PRIu64 ")\n", ROUNDS,
	       OPS_PER_ROUND, seed);
	return 0;
}
