// SPDX-License-Identifier: MIT
/*
 * test-xtable - engine/xtable.c against a reference model, lockless readers, and the block-map
 * entry words and entry locks of engine/blockmap.c on top of it (which also exercise the
 * evict hook).
 *
 * Usage: test-xtable [SEED [OPS]]. The model test runs OPS random operations (default
 * 120000) seeded by SEED (default fixed) and compares the table with a plain array of
 * (first, order, entry, marks) records after every operation and in full periodically,
 * including the exact node count the shortest tree must have. Every failure prints the seed.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rcu.h"
#include "blockmap.h"
#include "xtable.h"

#define DEFAULT_SEED UINT64_C(0x5eed0da5f5)
#define DEFAULT_OPS 120000
#define WINDOW 8192 /* indices per random region */
#define WATCHDOG_SECONDS 60
#define PROMPT_WAKE_NS (500 * 1000 * 1000ULL) /* well under the 1 s re-check of a waiter */

static uint64_t seed = DEFAULT_SEED;
static const char *volatile current = "setup";
static uint64_t op_nr;

/* --- helpers --- */

/*
 * fail - report a failed check with the seed and the test running, and exit 1.
 * Context: any thread.
 */
static void __attribute__((format(printf, 2, 3), noreturn)) fail(int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr,
		"test-xtable: FAIL in %s (line %d, op %" PRIu64 ", seed %" PRIu64 "): ", current,
		line, op_nr, seed);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(1);
}

#define CHECK(cond, ...)                             \
	do {                                         \
		if (!(cond))                         \
			fail(__LINE__, __VA_ARGS__); \
	} while (0)

/*
 * on_alarm - the watchdog: a thread test did not finish in time.
 * Context: SIGALRM handler; async-signal-safe calls only.
 */
static void on_alarm(int sig)
{
	static const char msg[] = "test-xtable: FAIL: hung in ";
	const char *name = current;
	size_t len = 0;

	(void)sig;
	while (name[len])
		len++;
	if (write(2, msg, sizeof(msg) - 1) < 0 || write(2, name, len) < 0 || write(2, "\n", 1) < 0)
		_exit(1);
	_exit(1);
}

/*
 * rnd - splitmix64 on *@state.
 * Context: any thread (each with its own state).
 * Return: 64 random bits.
 */
static uint64_t rnd(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/*
 * mono_now - CLOCK_MONOTONIC in nanoseconds.
 * Context: any thread.
 * Return: the time.
 */
static uint64_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * sleep_ms - sleep @ms milliseconds.
 * Context: any thread.
 */
static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * top_shift - the shortest root shift covering @index (the rule xtable.c follows).
 * Context: any. Return: a multiple of 6.
 */
static unsigned top_shift(uint64_t index)
{
	unsigned shift = 0;

	while ((index >> shift) >= XT_SLOTS)
		shift += XT_SHIFT;
	return shift;
}

/*
 * join_or_die - join @t under the watchdog.
 * Context: main thread.
 */
static void join_or_die(pthread_t t)
{
	alarm(WATCHDOG_SECONDS);
	CHECK(pthread_join(t, NULL) == 0, "pthread_join");
	alarm(0);
}

/* --- the reference model --- */

struct rec {
	uint64_t first;
	unsigned order;
	xt_entry entry;
	unsigned marks;
};

static struct rec *model;
static size_t model_len, model_cap;

/*
 * rec_last - the last index @r covers.
 * Context: any. Return: the index.
 */
static uint64_t rec_last(const struct rec *r)
{
	return r->first + ((UINT64_C(1) << r->order) - 1);
}

/*
 * model_cover - the record covering @index.
 * Context: main thread. Return: the record or NULL.
 */
static struct rec *model_cover(uint64_t index)
{
	size_t i;

	for (i = 0; i < model_len; i++) {
		if (model[i].first <= index && index <= rec_last(&model[i]))
			return &model[i];
	}
	return NULL;
}

/*
 * model_remove - drop @r from the model.
 * Context: main thread.
 */
static void model_remove(struct rec *r)
{
	*r = model[--model_len];
}

/*
 * model_store - what __xt_store must do.
 * Context: main thread.
 * Return: as __xt_store.
 */
static int model_store(uint64_t index, unsigned order, xt_entry entry)
{
	uint64_t last;
	size_t i;

	if (order > XT_ORDER_MAX || index > XT_INDEX_MAX ||
	    (index & ((UINT64_C(1) << order) - 1)) != 0 ||
	    XT_INDEX_MAX - index < (UINT64_C(1) << order) - 1 || entry == XT_EMPTY ||
	    (entry & 3) == 2)
		return -EINVAL;
	last = index + ((UINT64_C(1) << order) - 1);
	for (i = 0; i < model_len; i++) {
		if (model[i].first <= last && index <= rec_last(&model[i]) &&
		    model[i].order > order)
			return -EBUSY;
	}
	for (i = 0; i < model_len;) {
		if (model[i].first <= last && index <= rec_last(&model[i]))
			model_remove(&model[i]);
		else
			i++;
	}
	if (model_len == model_cap) {
		model_cap = model_cap ? 2 * model_cap : 256;
		model = realloc(model, model_cap * sizeof(*model));
		CHECK(model, "out of memory");
	}
	model[model_len++] = (struct rec){.first = index, .order = order, .entry = entry};
	return 0;
}

/*
 * model_find - what xt_find must return for [@start, @max] and @mark.
 * Context: main thread.
 * Return: the record or NULL.
 */
static struct rec *model_find(uint64_t start, uint64_t max, int mark)
{
	struct rec *best = NULL;
	size_t i;

	if (max > XT_INDEX_MAX)
		max = XT_INDEX_MAX;
	if (start > max)
		return NULL;
	for (i = 0; i < model_len; i++) {
		struct rec *r = &model[i];

		if (rec_last(r) < start || r->first > max)
			continue;
		if (mark != XT_MARK_ANY && !(r->marks & (1U << mark)))
			continue;
		if (!best || r->first < best->first)
			best = r;
	}
	return best;
}

/*
 * cmp_u64 / cmp_rec - qsort comparators.
 * Context: any. Return: <0, 0, >0.
 */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_rec(const void *a, const void *b)
{
	return cmp_u64(&((const struct rec *)a)->first, &((const struct rec *)b)->first);
}

/*
 * expected_nodes - the node count of the shortest tree holding the model's entries: every
 * entry needs one node per level from its own up to the root.
 * Context: main thread. Return: the count.
 */
static uint64_t expected_nodes(void)
{
	unsigned top = 0, levels;
	uint64_t *keys, n = 0, unique = 0;
	size_t i;

	if (!model_len)
		return 0;
	for (i = 0; i < model_len; i++) {
		unsigned s = model[i].order / XT_SHIFT * XT_SHIFT;
		unsigned t = top_shift(model[i].first);

		top = t > top ? t : top;
		top = s > top ? s : top;
	}
	levels = top / XT_SHIFT + 1;
	keys = malloc(model_len * levels * sizeof(*keys));
	CHECK(keys, "out of memory");
	for (i = 0; i < model_len; i++) {
		unsigned level;

		for (level = model[i].order / XT_SHIFT * XT_SHIFT; level <= top;
		     level += XT_SHIFT) {
			uint64_t prefix =
				level + XT_SHIFT >= 64 ? 0 : model[i].first >> (level + 6);

			keys[n++] = ((uint64_t)(level / XT_SHIFT) << 59) | prefix;
		}
	}
	qsort(keys, n, sizeof(*keys), cmp_u64);
	for (i = 0; i < n; i++)
		unique += i == 0 || keys[i] != keys[i - 1];
	free(keys);
	return unique;
}

/* --- model test --- */

static const uint64_t region_base[] = {
	0,
	(UINT64_C(1) << 20) - WINDOW / 2,
	(UINT64_C(1) << 40) - WINDOW / 2,
	XT_INDEX_MAX + 1 - WINDOW,
};

/*
 * rand_index - a random index in one of the test regions.
 * Context: main thread. Return: the index.
 */
static uint64_t rand_index(uint64_t *rs)
{
	return region_base[rnd(rs) % 4] + rnd(rs) % WINDOW;
}

/*
 * rand_order - mostly 0..9, sometimes 12, 18 or anything up to XT_ORDER_MAX.
 * Context: main thread. Return: the order.
 */
static unsigned rand_order(uint64_t *rs)
{
	unsigned x = (unsigned)(rnd(rs) % 1000);

	if (x < 900)
		return x % 10;
	if (x < 960)
		return 12;
	if (x < 985)
		return 18;
	return (unsigned)(rnd(rs) % (XT_ORDER_MAX + 1));
}

/*
 * rand_entry - a random caller entry: mostly value entries, some pointers.
 * Context: main thread. Return: the entry (never empty, never internal).
 */
static xt_entry rand_entry(uint64_t *rs, unsigned order)
{
	uint64_t r = rnd(rs);

	if (r % 4 == 0)
		return xt_mk_ptr((void *)(uintptr_t)(((rnd(rs) >> 4) | 1) << 3));
	return bm_mk_entry(rnd(rs) & BM_BLOCK_MAX, order,
			   ((r >> 8) & (BM_HOLE | BM_POISON)) |
				   ((r >> 16) % 8 == 0 ? BM_LOCKED : 0));
}

/*
 * check_index - compare the loads at @index with the model.
 * Context: main thread, table lock held.
 */
static void check_index(struct xtable *xt, uint64_t index)
{
	struct rec *r = model_cover(index);
	uint64_t first = 0;
	unsigned order = 0;
	xt_entry e = xt_load(xt, index), e2 = __xt_load(xt, index, &first, &order);

	CHECK(e == e2, "xt_load and __xt_load differ at %" PRIu64, index);
	if (!r) {
		CHECK(e == XT_EMPTY, "index %" PRIu64 " should be empty, got %#" PRIx64, index, e);
		return;
	}
	CHECK(e == r->entry, "index %" PRIu64 ": %#" PRIx64 " instead of %#" PRIx64, index, e,
	      r->entry);
	CHECK(first == r->first && order == r->order,
	      "index %" PRIu64 ": first %" PRIu64 " order %u instead of %" PRIu64 " %u", index,
	      first, order, r->first, r->order);
	for (unsigned m = 0; m < XT_MARK_COUNT; m++)
		CHECK(xt_get_mark(xt, index, (enum xt_mark)m) == !!(r->marks & (1U << m)),
		      "mark %u at %" PRIu64, m, index);
}

/*
 * check_find - compare xt_find over [@start, @max] with @mark with the model.
 * Context: main thread, table lock held.
 */
static void check_find(struct xtable *xt, uint64_t start, uint64_t max, int mark)
{
	struct rec *r = model_find(start, max, mark);
	uint64_t index = start;
	unsigned order = 99;
	xt_entry e = xt_find(xt, &index, max, mark, &order);

	if (!r) {
		CHECK(e == XT_EMPTY,
		      "find [%" PRIu64 ", %" PRIu64 "] mark %d: %#" PRIx64 " at %" PRIu64
		      ", expected nothing",
		      start, max, mark, e, index);
		CHECK(index == start, "failed find moved *index");
		return;
	}
	CHECK(e == r->entry && index == r->first && order == r->order,
	      "find [%" PRIu64 ", %" PRIu64 "] mark %d: %#" PRIx64 " at %" PRIu64 " order %u, "
	      "expected %#" PRIx64 " at %" PRIu64 " order %u",
	      start, max, mark, e, index, order, r->entry, r->first, r->order);
}

/*
 * check_range - compare a whole xt_for_each / xt_for_each_marked over [@start, @max] with
 * the model.
 * Context: main thread, table lock held.
 */
static void check_range(struct xtable *xt, uint64_t start, uint64_t max, int mark)
{
	struct rec *sorted = malloc((model_len + 1) * sizeof(*sorted));
	size_t n = 0, i = 0;
	uint64_t index;
	unsigned order;
	xt_entry e;

	CHECK(sorted, "out of memory");
	for (size_t k = 0; k < model_len; k++) {
		struct rec *r = &model[k];

		if (rec_last(r) < start || r->first > max)
			continue;
		if (mark != XT_MARK_ANY && !(r->marks & (1U << mark)))
			continue;
		sorted[n++] = *r;
	}
	qsort(sorted, n, sizeof(*sorted), cmp_rec);
	if (mark == XT_MARK_ANY) {
		xt_for_each (xt, index, order, e, start, max) {
			CHECK(i < n, "iteration found extra %#" PRIx64 " at %" PRIu64, e, index);
			CHECK(e == sorted[i].entry && index == sorted[i].first &&
				      order == sorted[i].order,
			      "iteration #%zu: %#" PRIx64 " at %" PRIu64
			      " order %u, expected %#" PRIx64 " at %" PRIu64 " order %u",
			      i, e, index, order, sorted[i].entry, sorted[i].first,
			      sorted[i].order);
			i++;
		}
	} else {
		xt_for_each_marked (xt, index, order, e, start, max, mark) {
			CHECK(i < n, "marked %d iteration found extra %#" PRIx64 " at %" PRIu64,
			      mark, e, index);
			CHECK(e == sorted[i].entry && index == sorted[i].first &&
				      order == sorted[i].order,
			      "marked %d iteration #%zu: %" PRIu64 " instead of %" PRIu64, mark, i,
			      index, sorted[i].first);
			i++;
		}
	}
	CHECK(i == n,
	      "iteration [%" PRIu64 ", %" PRIu64 "] mark %d found %zu entries, expected %zu", start,
	      max, mark, i, n);
	free(sorted);
}

/*
 * check_all - full comparison: every entry, every mark, emptiness and the node count.
 * Context: main thread, table lock held.
 */
static void check_all(struct xtable *xt)
{
	uint64_t nodes = expected_nodes();

	check_range(xt, 0, XT_INDEX_MAX, XT_MARK_ANY);
	for (int m = 0; m < XT_MARK_COUNT; m++)
		check_range(xt, 0, UINT64_MAX, m);
	CHECK(xt_empty(xt) == (model_len == 0), "xt_empty %d with %zu entries", xt_empty(xt),
	      model_len);
	CHECK(xt->nr_nodes == nodes, "%" PRIu64 " nodes, the shortest tree has %" PRIu64,
	      xt->nr_nodes, nodes);
	CHECK((xt_memory(xt) == 0) == (nodes == 0) && xt_memory(xt) % (nodes ? nodes : 1) == 0 &&
		      xt_memory(xt) >= nodes * XT_SLOTS * sizeof(uint64_t),
	      "xt_memory %zu for %" PRIu64 " nodes", xt_memory(xt), nodes);
}

/*
 * model_clear - erase every entry through the table and the model.
 * Context: main thread, table lock held.
 */
static void model_clear(struct xtable *xt, uint64_t *rs)
{
	while (model_len) {
		struct rec r = model[model_len - 1];
		uint64_t index = r.first + (rnd(rs) & ((UINT64_C(1) << r.order) - 1));

		CHECK(__xt_erase(xt, index) == r.entry, "erase of %" PRIu64 " while clearing",
		      r.first);
		model_len--;
	}
	check_all(xt);
	CHECK(xt->nr_nodes == 0 && xt_memory(xt) == 0 && xt_empty(xt), "not empty after clear");
}

/*
 * test_model - @nops random operations, each checked against the model.
 * Context: main thread, registered with RCU.
 */
static void test_model(uint64_t nops)
{
	struct xtable xt;
	uint64_t rs = seed;
	unsigned long counts[8] = {0};

	current = "model";
	xt_init(&xt);
	xt_lock(&xt);
	for (op_nr = 0; op_nr < nops; op_nr++) {
		unsigned op = (unsigned)(rnd(&rs) % 100);
		uint64_t index = rand_index(&rs);
		struct rec *r;

		if (op < 32) {
			unsigned order = rand_order(&rs);
			xt_entry e = rand_entry(&rs, order);
			int want, got;

			index &= ~((UINT64_C(1) << order) - 1);
			if (rnd(&rs) % 50 == 0)
				index |= 1; /* unaligned unless order 0 */
			want = model_store(index, order, e);
			got = __xt_store(&xt, index, order, e);
			CHECK(got == want, "store %" PRIu64 " order %u: %d, expected %d", index,
			      order, got, want);
			counts[0]++;
			counts[1] += got == -EBUSY;
		} else if (op < 46) {
			xt_entry want = XT_EMPTY, got;

			if (model_len && rnd(&rs) % 2) {
				r = &model[rnd(&rs) % model_len];
				index = r->first + (rnd(&rs) & ((UINT64_C(1) << r->order) - 1));
			}
			r = model_cover(index);
			if (r) {
				want = r->entry;
				model_remove(r);
			}
			got = __xt_erase(&xt, index);
			CHECK(got == want, "erase %" PRIu64 ": %#" PRIx64 " instead of %#" PRIx64,
			      index, got, want);
			counts[2]++;
		} else if (op < 54) {
			xt_entry cur, old, e, got;
			int err = 1;

			r = model_cover(index);
			cur = r ? r->entry : XT_EMPTY;
			old = rnd(&rs) % 4 ? cur : rand_entry(&rs, 0);
			e = rnd(&rs) % 8 ? rand_entry(&rs, r ? r->order : 0) : XT_EMPTY;
			got = __xt_cmpxchg(&xt, index, old, e, &err);
			CHECK(got == cur && err == 0, "cmpxchg %" PRIu64 ": %#" PRIx64 " err %d",
			      index, got, err);
			if (cur == old && e != cur) {
				if (!r)
					CHECK(model_store(index, 0, e) == 0, "model");
				else if (e == XT_EMPTY)
					model_remove(r);
				else
					r->entry = e;
			}
			counts[3]++;
		} else if (op < 66) {
			unsigned m = (unsigned)(rnd(&rs) % XT_MARK_COUNT);

			if (model_len && rnd(&rs) % 2) {
				r = &model[rnd(&rs) % model_len];
				index = r->first + (rnd(&rs) & ((UINT64_C(1) << r->order) - 1));
			}
			r = model_cover(index);
			if (rnd(&rs) % 3) {
				__xt_set_mark(&xt, index, (enum xt_mark)m);
				if (r)
					r->marks |= 1U << m;
			} else {
				__xt_clear_mark(&xt, index, (enum xt_mark)m);
				if (r)
					r->marks &= ~(1U << m);
			}
			counts[4]++;
		} else if (op < 86) {
			uint64_t start = index, max;
			int mark = (int)(rnd(&rs) % (XT_MARK_COUNT + 1)) - 1;

			switch (rnd(&rs) % 4) {
			case 0:
				max = UINT64_MAX;
				break;
			case 1:
				max = start + (rnd(&rs) % 64);
				break;
			default:
				max = start + (rnd(&rs) % (2 * WINDOW));
				break;
			}
			check_find(&xt, start, max, mark);
			if (rnd(&rs) % 8 == 0)
				check_range(&xt, start, max, mark);
			counts[5]++;
		} else {
			counts[6]++;
		}
		/* the op's index and a random one, after every op */
		check_index(&xt, index);
		check_index(&xt, rand_index(&rs));
		if (op_nr % 1000 == 999)
			check_all(&xt);
		if (op_nr % 30000 == 29999)
			model_clear(&xt, &rs);
	}
	check_all(&xt);
	model_clear(&xt, &rs);
	xt_unlock(&xt);
	xt_destroy(&xt);
	printf("model: %" PRIu64 " ops (%lu stores, %lu busy, %lu erases, %lu cmpxchg, %lu marks, "
	       "%lu finds, %lu probes)\n",
	       nops, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5], counts[6]);
}

/* --- fixed cases --- */

/*
 * test_entry_helpers - the entry word helpers round-trip every field.
 * Context: main thread.
 */
static void test_entry_helpers(void)
{
	static const uint64_t blocks[] = {0, 1, 4095, 123456789, BM_BLOCK_MAX - 1, BM_BLOCK_MAX};
	static const xt_entry flag_sets[] = {0, BM_LOCKED, BM_HOLE, BM_POISON, BM_FLAGS_MASK};
	int x;

	current = "entry helpers";
	for (size_t b = 0; b < sizeof(blocks) / sizeof(blocks[0]); b++) {
		for (unsigned order = 0; order < 64; order++) {
			for (size_t f = 0; f < sizeof(flag_sets) / sizeof(flag_sets[0]); f++) {
				xt_entry fl = flag_sets[f];
				xt_entry e = bm_mk_entry(blocks[b], order, fl);

				CHECK(xt_is_value(e) && !xt_is_ptr(e), "tag");
				CHECK(bm_to_block(e) == blocks[b], "block %" PRIu64, blocks[b]);
				CHECK(bm_to_order(e) == order, "order %u", order);
				CHECK((e & BM_FLAGS_MASK) == fl, "flags");
				CHECK(bm_is_locked(e) == !!(fl & BM_LOCKED), "locked");
				CHECK(bm_is_hole(e) == !!(fl & BM_HOLE), "hole");
				CHECK(bm_is_poison(e) == !!(fl & BM_POISON), "poison");
				CHECK(bm_has_block(e) == !(fl & (BM_HOLE | BM_POISON)),
				      "has_block");
				CHECK((e & (UINT64_C(3) << 10)) == 0, "reserved bits");
				CHECK(bm_unlocked(e) == (e & ~BM_LOCKED) &&
					      !bm_is_locked(bm_unlocked(e)),
				      "unlocked");
				CHECK((e & 3) != 2, "value entries are never internal");
			}
		}
	}
	CHECK(bm_mk_entry(0, 0, XT_TAG_VALUE << 5) == XT_TAG_VALUE, "foreign flag bits dropped");
	CHECK(bm_is_hole(bm_mk_hole(9)) && bm_is_locked(bm_mk_hole(9)) &&
		      bm_to_order(bm_mk_hole(9)) == 9 && !bm_has_block(bm_mk_hole(9)),
	      "hole");
	CHECK(xt_is_ptr(xt_mk_ptr(&x)) && xt_to_ptr(xt_mk_ptr(&x)) == &x &&
		      !xt_is_value(xt_mk_ptr(&x)),
	      "pointer");
	CHECK(!xt_is_ptr(XT_EMPTY) && !xt_is_value(XT_EMPTY) && !bm_is_locked(XT_EMPTY), "empty");
	CHECK(!bm_is_locked(xt_mk_ptr(&x)), "pointers are never locked");
}

/*
 * test_errors - -EINVAL and -EBUSY cases leave the table as it was.
 * Context: main thread, registered with RCU.
 */
static void test_errors(void)
{
	struct xtable xt;
	xt_entry a = bm_mk_entry(1, 9, 0), b = bm_mk_entry(2, 12, 0), c = bm_mk_entry(3, 0, 0);
	uint64_t index, nodes;
	unsigned order;
	int err;

	current = "errors";
	xt_init(&xt);
	xt_lock(&xt);
	CHECK(__xt_store(&xt, 1, 1, c) == -EINVAL, "unaligned");
	CHECK(__xt_store(&xt, 512 + 256, 9, c) == -EINVAL, "unaligned order 9");
	CHECK(__xt_store(&xt, 0, XT_ORDER_MAX + 1, c) == -EINVAL, "order too large");
	CHECK(__xt_store(&xt, XT_INDEX_MAX + 1, 0, c) == -EINVAL, "index too large");
	CHECK(__xt_store(&xt, UINT64_MAX, 0, c) == -EINVAL, "index UINT64_MAX");
	CHECK(__xt_store(&xt, XT_INDEX_MAX, 0, c) == 0, "last index");
	CHECK(__xt_erase(&xt, XT_INDEX_MAX) == c, "erase last index");
	CHECK(__xt_store(&xt, XT_INDEX_MAX + 1 - 1024, 10, c) == 0, "last 1024 indices");
	CHECK(__xt_erase(&xt, XT_INDEX_MAX) == c, "erase last 1024");
	CHECK(__xt_store(&xt, XT_INDEX_MAX + 1 - (UINT64_C(1) << 30), XT_ORDER_MAX, c) == 0,
	      "last order-30 range");
	CHECK(__xt_erase(&xt, XT_INDEX_MAX - 5) == c, "erase last order-30");
	CHECK(__xt_store(&xt, 0, 0, XT_EMPTY) == -EINVAL, "empty entry");
	CHECK(__xt_store(&xt, 0, 0, 2) == -EINVAL, "internal entry");
	CHECK(__xt_store(&xt, 0, 0, 0x1002) == -EINVAL, "internal entry");
	CHECK(xt_empty(&xt) && xt.nr_nodes == 0, "table changed by refused stores");

	CHECK(__xt_store(&xt, 512, 9, a) == 0, "order 9");
	CHECK(__xt_store(&xt, 4096, 12, b) == 0, "order 12");
	nodes = xt.nr_nodes;
	CHECK(__xt_store(&xt, 513, 0, c) == -EBUSY, "inside order 9");
	CHECK(__xt_store(&xt, 512, 0, c) == -EBUSY, "first index of order 9");
	CHECK(__xt_store(&xt, 512 + 256, 8, c) == -EBUSY, "second half of order 9");
	CHECK(__xt_store(&xt, 512, 6, c) == -EBUSY, "first slot of order 9");
	CHECK(__xt_store(&xt, 4096 + 64, 6, c) == -EBUSY, "under order 12");
	CHECK(__xt_store(&xt, 4096 + 1024, 10, c) == -EBUSY, "under order 12, same level");
	CHECK(__xt_store(&xt, 8191, 0, c) == -EBUSY, "last index of order 12");
	CHECK(xt.nr_nodes == nodes, "nodes changed by -EBUSY");
	CHECK(xt_load(&xt, 1000) == a && xt_load(&xt, 8000) == b && xt_load(&xt, 511) == XT_EMPTY &&
		      xt_load(&xt, 8192) == XT_EMPTY,
	      "entries changed by -EBUSY");
	index = 700;
	CHECK(xt_find(&xt, &index, 700, XT_MARK_ANY, &order) == a && index == 512 && order == 9,
	      "find straddling");
	CHECK(__xt_cmpxchg(&xt, 600, a, 2, &err) == a && err == -EINVAL && xt_load(&xt, 600) == a,
	      "cmpxchg to an internal word");
	CHECK(__xt_cmpxchg(&xt, 600, c, b, &err) == a && err == 0 && xt_load(&xt, 600) == a,
	      "cmpxchg with a wrong old");
	CHECK(__xt_cmpxchg(&xt, XT_INDEX_MAX + 1, XT_EMPTY, c, &err) == XT_EMPTY && err == -EINVAL,
	      "cmpxchg past XT_INDEX_MAX");

	/* a same-size store replaces; a larger one swallows; erase takes all of it */
	CHECK(__xt_store(&xt, 512, 9, c) == 0 && xt_load(&xt, 1023) == c, "replace same order");
	CHECK(__xt_store(&xt, 0, 13, a) == 0 && xt_load(&xt, 8000) == a &&
		      xt_load(&xt, 8192) == XT_EMPTY,
	      "swallow both");
	CHECK(__xt_erase(&xt, 8191) == a && xt_empty(&xt) && xt.nr_nodes == 0, "erase order 13");
	xt_unlock(&xt);
	xt_destroy(&xt);
}

/* --- entry locks --- */

struct waiter {
	struct xtable *xt;
	uint64_t index;
	bool get_unlocked; /* __bm_get_unlocked instead of __bm_lock_entry */
	int started, done; /* atomics */
	xt_entry result;
	uint64_t done_ns;
};

/*
 * waiter_main - lock (or wait for) one entry, record what came back and when.
 * Context: a test thread.
 */
static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	rcu_thread_online();
	__atomic_store_n(&w->started, 1, __ATOMIC_RELEASE);
	xt_lock(w->xt);
	w->result = w->get_unlocked ? __bm_get_unlocked(w->xt, w->index)
				    : __bm_lock_entry(w->xt, w->index);
	w->done_ns = mono_now();
	xt_unlock(w->xt);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	rcu_thread_offline();
	return NULL;
}

/*
 * start_waiter - start a waiter on @index and let it block.
 * Context: main thread; the entry at @index must be locked.
 */
static void start_waiter(pthread_t *t, struct waiter *w, struct xtable *xt, uint64_t index,
			 bool get_unlocked)
{
	*w = (struct waiter){.xt = xt, .index = index, .get_unlocked = get_unlocked};
	CHECK(pthread_create(t, NULL, waiter_main, w) == 0, "pthread_create");
	while (!__atomic_load_n(&w->started, __ATOMIC_ACQUIRE))
		sleep_ms(1);
	sleep_ms(200);
	CHECK(!__atomic_load_n(&w->done, __ATOMIC_ACQUIRE),
	      "waiter did not wait for a locked entry");
}

/*
 * finish_waiter - join the waiter and check it was woken promptly after @t0 (not by its 1 s
 * re-check).
 * Context: main thread.
 */
static void finish_waiter(pthread_t t, struct waiter *w, uint64_t t0)
{
	join_or_die(t);
	CHECK(w->done_ns - t0 < PROMPT_WAKE_NS, "waiter woke %" PRIu64 " ms after the change",
	      (w->done_ns - t0) / 1000000);
}

/*
 * test_entry_locks - a waiter wakes on erase, unlock, store over the entry, and a counter
 * guarded only by entry locks ends exact.
 * Context: main thread, registered with RCU.
 */
static void test_entry_locks(void)
{
	struct xtable xt;
	struct waiter w;
	pthread_t t;
	xt_entry e = bm_mk_entry(77, 3, 0), f = bm_mk_entry(78, 6, 0), got;
	uint64_t t0;

	bm_init(&xt);

	current = "entry lock: waiter on an erased entry";
	xt_lock(&xt);
	CHECK(__xt_store(&xt, 8, 3, e) == 0, "store");
	CHECK(__bm_lock_entry(&xt, 9) == (e | BM_LOCKED), "lock");
	CHECK(xt_load(&xt, 15) == (e | BM_LOCKED), "the lock bit is in the entry");
	xt_unlock(&xt);
	start_waiter(&t, &w, &xt, 13, false);
	xt_lock(&xt);
	CHECK(__xt_erase(&xt, 8) == (e | BM_LOCKED), "erase");
	t0 = mono_now();
	xt_unlock(&xt);
	finish_waiter(t, &w, t0);
	CHECK(w.result == XT_EMPTY, "waiter got %#" PRIx64 " instead of XT_EMPTY", w.result);

	current = "entry lock: waiter on an unlocked entry";
	xt_lock(&xt);
	CHECK(__xt_store(&xt, 8, 3, e) == 0, "store");
	CHECK(__bm_lock_entry(&xt, 8) == (e | BM_LOCKED), "lock");
	xt_unlock(&xt);
	start_waiter(&t, &w, &xt, 10, false);
	t0 = mono_now();
	bm_unlock_entry(&xt, 12);
	finish_waiter(t, &w, t0);
	CHECK(w.result == (e | BM_LOCKED), "waiter got %#" PRIx64, w.result);
	CHECK(xt_load(&xt, 8) == (e | BM_LOCKED), "the waiter holds the lock");

	current = "entry lock: __bm_get_unlocked";
	start_waiter(&t, &w, &xt, 11, true);
	t0 = mono_now();
	bm_unlock_entry(&xt, 8);
	finish_waiter(t, &w, t0);
	CHECK(w.result == e && xt_load(&xt, 8) == e, "get_unlocked got %#" PRIx64, w.result);

	current = "entry lock: waiter on an entry a larger store replaces";
	xt_lock(&xt);
	CHECK(__xt_store(&xt, 70, 0, bm_mk_hole(0)) == 0, "store a hole");
	xt_unlock(&xt);
	start_waiter(&t, &w, &xt, 70, false);
	xt_lock(&xt);
	CHECK(__xt_store(&xt, 64, 6, f) == 0, "store over the hole's node");
	t0 = mono_now();
	xt_unlock(&xt);
	finish_waiter(t, &w, t0);
	CHECK(w.result == (f | BM_LOCKED), "waiter got %#" PRIx64, w.result);

	/* The generic table knows no lock bit: only the evict hook wakes blockmap's waiters. */
	current = "entry lock: waiter on an entry cmpxchg removes";
	start_waiter(&t, &w, &xt, 100, false);
	xt_lock(&xt);
	CHECK(__xt_cmpxchg(&xt, 127, f | BM_LOCKED, XT_EMPTY, NULL) == (f | BM_LOCKED), "cmpxchg");
	t0 = mono_now();
	xt_unlock(&xt);
	finish_waiter(t, &w, t0);
	CHECK(w.result == XT_EMPTY && xt_load(&xt, 100) == XT_EMPTY, "waiter got %#" PRIx64,
	      w.result);

	xt_lock(&xt);
	while (!xt_empty(&xt)) {
		uint64_t index = 0;

		CHECK(xt_find(&xt, &index, XT_INDEX_MAX, XT_MARK_ANY, NULL) != XT_EMPTY, "find");
		got = __xt_erase(&xt, index);
		CHECK(got != XT_EMPTY, "erase");
	}
	xt_unlock(&xt);
	xt_destroy(&xt);
}

#define CONTENDERS 4
#define CONTENDED_ENTRIES 3
#define CONTENDED_ITERS 20000

struct contention {
	struct xtable xt;
	uint64_t counter[CONTENDED_ENTRIES]; /* plain: guarded by the entry locks only */
	uint64_t done[CONTENDERS][CONTENDED_ENTRIES];
};

struct contender {
	struct contention *c;
	unsigned id;
};

/*
 * contender_main - lock a random entry, bump its counter outside the table lock, unlock.
 * Context: a test thread.
 */
static void *contender_main(void *arg)
{
	struct contender *me = arg;
	struct contention *c = me->c;
	uint64_t rs = seed + me->id;

	rcu_thread_online();
	for (unsigned i = 0; i < CONTENDED_ITERS; i++) {
		unsigned k = (unsigned)(rnd(&rs) % CONTENDED_ENTRIES);
		uint64_t index = (uint64_t)k * 64 + rnd(&rs) % 64; /* order-6 entries */
		xt_entry e;

		xt_lock(&c->xt);
		e = __bm_lock_entry(&c->xt, index);
		xt_unlock(&c->xt);
		CHECK(bm_is_locked(e) && bm_to_block(e) == k, "locked %#" PRIx64, e);
		c->counter[k]++;
		if (i % 16 == 0)
			sched_yield();
		bm_unlock_entry(&c->xt, index);
		c->done[me->id][k]++;
	}
	rcu_thread_offline();
	return NULL;
}

/*
 * test_contention - CONTENDERS threads x CONTENDED_ITERS lock/unlock rounds.
 * Context: main thread, registered with RCU.
 */
static void test_contention(void)
{
	static struct contention c;
	struct contender me[CONTENDERS];
	pthread_t t[CONTENDERS];

	current = "entry lock contention";
	memset(&c, 0, sizeof(c));
	bm_init(&c.xt);
	xt_lock(&c.xt);
	for (unsigned k = 0; k < CONTENDED_ENTRIES; k++)
		CHECK(__xt_store(&c.xt, k * 64, 6, bm_mk_entry(k, 6, 0)) == 0, "store");
	xt_unlock(&c.xt);
	for (unsigned i = 0; i < CONTENDERS; i++) {
		me[i] = (struct contender){.c = &c, .id = i};
		CHECK(pthread_create(&t[i], NULL, contender_main, &me[i]) == 0, "pthread_create");
	}
	for (unsigned i = 0; i < CONTENDERS; i++)
		join_or_die(t[i]);
	for (unsigned k = 0; k < CONTENDED_ENTRIES; k++) {
		uint64_t want = 0;

		for (unsigned i = 0; i < CONTENDERS; i++)
			want += c.done[i][k];
		CHECK(c.counter[k] == want, "entry %u: counter %" PRIu64 ", expected %" PRIu64, k,
		      c.counter[k], want);
		CHECK(!bm_is_locked(xt_load(&c.xt, k * 64)), "left locked");
	}
	xt_lock(&c.xt);
	for (unsigned k = 0; k < CONTENDED_ENTRIES; k++)
		__xt_erase(&c.xt, k * 64);
	CHECK(xt_empty(&c.xt), "not empty");
	xt_unlock(&c.xt);
	xt_destroy(&c.xt);
}

/* --- lockless readers --- */

#define READERS 2
#define READER_SPAN (UINT64_C(1) << 16)

static const uint64_t reader_base[] = {0, UINT64_C(1) << 40};

struct reader {
	struct xtable *xt;
	unsigned id;
	int stop; /* atomic */
	uint64_t loads, finds;
};

/*
 * check_seen - an entry a reader saw for @index is one the writer stored over a range
 * covering it: its block number is its first index, its order field its order.
 * Context: a reader thread.
 */
static void check_seen(xt_entry e, uint64_t index)
{
	uint64_t first = bm_to_block(e);
	unsigned order = bm_to_order(e);

	CHECK(xt_is_value(e) && (first & ((UINT64_C(1) << order) - 1)) == 0 && first <= index &&
		      index - first < (UINT64_C(1) << order),
	      "reader saw %#" PRIx64 " (first %" PRIu64 " order %u) for %" PRIu64, e, first, order,
	      index);
}

/*
 * reader_main - loads and finds under rcu_read_begin() until told to stop.
 * Context: a test thread.
 */
static void *reader_main(void *arg)
{
	struct reader *r = arg;
	uint64_t rs = seed ^ (0x1234567ULL * (r->id + 1));

	rcu_thread_online();
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		uint64_t index = reader_base[rnd(&rs) % 2] + rnd(&rs) % READER_SPAN;
		uint64_t first = 0, found, max, i;
		unsigned order = 0, n = 0;
		int mark = (int)(rnd(&rs) % (XT_MARK_COUNT + 1)) - 1;
		xt_entry e;

		rcu_read_begin();
		e = xt_load(r->xt, index);
		if (e != XT_EMPTY)
			check_seen(e, index);
		e = __xt_load(r->xt, index, &first, &order);
		if (e != XT_EMPTY) {
			check_seen(e, index);
			CHECK(first == bm_to_block(e) && order == bm_to_order(e),
			      "__xt_load: first %" PRIu64 " order %u for %#" PRIx64, first, order,
			      e);
		}
		found = index;
		max = index + rnd(&rs) % 4096;
		e = xt_find(r->xt, &found, max, mark, &order);
		if (e != XT_EMPTY) {
			check_seen(e, found);
			CHECK(found == bm_to_block(e) && order == bm_to_order(e) && found <= max &&
				      found + (UINT64_C(1) << order) > index,
			      "xt_find [%" PRIu64 ", %" PRIu64 "]: %#" PRIx64 " at %" PRIu64
			      " order %u",
			      index, max, e, found, order);
		}
		xt_for_each (r->xt, i, order, e, index, index + 512) {
			CHECK(i == bm_to_block(e) && order == bm_to_order(e) && n++ < 1024,
			      "xt_for_each: %#" PRIx64 " at %" PRIu64 " order %u", e, i, order);
		}
		rcu_read_end();
		r->loads += 2;
		r->finds += 2;
	}
	rcu_thread_offline();
	return NULL;
}

/*
 * test_lockless - READERS threads read while this thread changes the table for ~1 s.
 * Context: main thread, registered with RCU.
 */
static void test_lockless(void)
{
	struct xtable xt;
	struct reader r[READERS];
	pthread_t t[READERS];
	uint64_t rs = seed * 7 + 1, deadline, writes = 0, loads = 0, finds = 0;

	current = "lockless readers";
	bm_init(&xt);
	for (unsigned i = 0; i < READERS; i++) {
		r[i] = (struct reader){.xt = &xt, .id = i};
		CHECK(pthread_create(&t[i], NULL, reader_main, &r[i]) == 0, "pthread_create");
	}
	deadline = mono_now() + 1000000000ULL;
	while (mono_now() < deadline) {
		xt_lock(&xt);
		for (unsigned k = 0; k < 64; k++, writes++) {
			uint64_t index = reader_base[rnd(&rs) % 2] + rnd(&rs) % READER_SPAN;
			unsigned x = (unsigned)(rnd(&rs) % 100), order;
			xt_entry e;

			if (x < 45) {
				order = rnd(&rs) % 50 ? (unsigned)(rnd(&rs) % 10) : 12;
				index &= ~((UINT64_C(1) << order) - 1);
				e = bm_mk_entry(index, order, 0);
				if (__xt_store(&xt, index, order, e) == -EBUSY)
					__xt_erase(&xt, index);
			} else if (x < 85) {
				__xt_erase(&xt, index);
			} else if (x < 92) {
				e = __bm_lock_entry(&xt, index);
				if (e != XT_EMPTY)
					__bm_unlock_entry(&xt, index);
			} else if (x < 97) {
				__xt_set_mark(&xt, index, (enum xt_mark)(rnd(&rs) % XT_MARK_COUNT));
			} else {
				__xt_clear_mark(&xt, index,
						(enum xt_mark)(rnd(&rs) % XT_MARK_COUNT));
			}
		}
		xt_unlock(&xt);
	}
	for (unsigned i = 0; i < READERS; i++)
		__atomic_store_n(&r[i].stop, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < READERS; i++) {
		join_or_die(t[i]);
		loads += r[i].loads;
		finds += r[i].finds;
	}
	CHECK(loads > 0, "readers did not run");
	xt_lock(&xt);
	while (!xt_empty(&xt)) {
		uint64_t index = 0;

		CHECK(xt_find(&xt, &index, XT_INDEX_MAX, XT_MARK_ANY, NULL) != XT_EMPTY, "find");
		__xt_erase(&xt, index);
	}
	CHECK(xt.nr_nodes == 0, "%" PRIu64 " nodes left", xt.nr_nodes);
	xt_unlock(&xt);
	xt_destroy(&xt);
	printf("lockless: %" PRIu64 " writes, %" PRIu64 " loads, %" PRIu64 " finds\n", writes,
	       loads, finds);
}

int main(int argc, char **argv)
{
	uint64_t nops = DEFAULT_OPS;
	uint64_t t0 = mono_now();

	if (argc > 1)
		seed = strtoull(argv[1], NULL, 0);
	if (argc > 2)
		nops = strtoull(argv[2], NULL, 0);
	signal(SIGALRM, on_alarm);
	rcu_thread_online();

	test_entry_helpers();
	test_errors();
	test_model(nops);
	test_entry_locks();
	test_contention();
	test_lockless();

	rcu_barrier_all();
	rcu_thread_offline();
	printf("test-xtable: ok (seed %" PRIu64 ", %.1f s)\n", seed,
	       (double)(mono_now() - t0) / 1e9);
	return 0;
}
