// SPDX-License-Identifier: MIT
/*
 * bench-xtable - the xtable (engine/xtable.h) and the reverse map built on it.
 *
 * Figures (each side measured right after the other, REPS times; medians):
 *   - lookups/s with 1 and 2 threads: xt_load over 1,000,000 keys (dense indices
 *     0..999,999) against liburcu's cds_lfht holding the same keys (hashed with the
 *     splitmix64 finaliser, 2^20 buckets allocated up front so it never resizes). Each thread
 *     looks up LOOKUPS keys in a random order precomputed into an array, one RCU read section
 *     per lookup, as a real reader does;
 *   - uncontended entry lock + unlock (xt_lock, __bm_lock_entry, xt_unlock, then
 *     bm_unlock_entry) of one entry of that table, ns per lock+unlock, against an uncontended
 *     pthread_mutex_lock + unlock;
 *   - rmap_lookup of random blocks among 1,000,000 single-block extents of distinct (fake)
 *     inodes, ns per lookup, against xt_load of the same keys in the 1M-key xtable;
 *   - bytes of nodes per entry for 1M order-0 entries at consecutive indices and for 1M
 *     order-9 (2 MiB) entries at indices i * 512 (xt_memory / 1M), against a flat array of
 *     entry words (8 bytes per entry). Exact counts: measured once.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "blockmap.h"
#include "log.h"
#include "rcu.h"
#include "rmap.h"
#include "xtable.h"

#include <urcu/rculfhash.h> /* after the RCU flavor (rcu.h) */

#define NKEYS 1000000ULL
#define LOOKUPS 2000000ULL /* per thread and run */
#define MAX_THREADS 2
#define LOCK_ITERS 5000000ULL
#define RMAP_LOOKUPS 2000000ULL
#define REPS 5

struct hnode {
	struct cds_lfht_node node;
	uint64_t key;
	uint64_t value;
};

/* The structures under test, filled once. */
static struct xtable xt;
static struct cds_lfht *ht;
static struct hnode *hnodes;
static struct rmap rm;
static uint64_t *fake_inodes;
static uint64_t *keys[MAX_THREADS]; /* LOOKUPS random keys in [0, NKEYS) per thread */

static int match_key(struct cds_lfht_node *node, const void *key)
{
	return caa_container_of(node, struct hnode, node)->key == *(const uint64_t *)key;
}

/* --- lookups, 1 and 2 threads --- */

enum which { XT_LOOKUP, HT_LOOKUP };

struct worker {
	pthread_t tid;
	enum which which;
	const uint64_t *keys;
	pthread_barrier_t *start;
	uint64_t sum;
};

static uint64_t lookup_xt(const uint64_t *k, uint64_t n)
{
	uint64_t sum = 0;

	for (uint64_t i = 0; i < n; i++)
		sum += bm_to_block(xt_load(&xt, k[i]));
	return sum;
}

static uint64_t lookup_ht(const uint64_t *k, uint64_t n)
{
	uint64_t sum = 0;

	for (uint64_t i = 0; i < n; i++) {
		struct cds_lfht_iter it;
		struct cds_lfht_node *node;

		rcu_read_begin();
		cds_lfht_lookup(ht, bench_hash64(k[i]), match_key, &k[i], &it);
		node = cds_lfht_iter_get_node(&it);
		if (node)
			sum += caa_container_of(node, struct hnode, node)->value;
		rcu_read_end();
	}
	return sum;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	rcu_thread_online();
	pthread_barrier_wait(w->start);
	w->sum = w->which == XT_LOOKUP ? lookup_xt(w->keys, LOOKUPS) : lookup_ht(w->keys, LOOKUPS);
	rcu_thread_offline();
	return NULL;
}

/* lookups_per_s - run @nthreads readers of @which at once; aggregate lookups per second. */
static double lookups_per_s(enum which which, int nthreads)
{
	struct worker w[MAX_THREADS];
	pthread_barrier_t start;
	double t0;
	int rc;

	pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1);
	for (int t = 0; t < nthreads; t++) {
		w[t] = (struct worker){.which = which, .keys = keys[t], .start = &start};
		rc = pthread_create(&w[t].tid, NULL, worker_main, &w[t]);
		if (rc)
			bench_die(-rc, "pthread_create");
	}
	pthread_barrier_wait(&start);
	t0 = bench_now();
	for (int t = 0; t < nthreads; t++) {
		pthread_join(w[t].tid, NULL);
		if (w[t].sum == 0)
			bench_die(0, "lookups found nothing");
	}
	t0 = bench_now() - t0;
	pthread_barrier_destroy(&start);
	return (double)(LOOKUPS * (uint64_t)nthreads) / t0;
}

/* --- entry lock --- */

static double entry_lock_ns(void)
{
	const uint64_t index = NKEYS / 2;
	double t0 = bench_now();

	for (uint64_t i = 0; i < LOCK_ITERS; i++) {
		xt_entry e;

		xt_lock(&xt);
		e = __bm_lock_entry(&xt, index);
		xt_unlock(&xt);
		bench_sink(e);
		bm_unlock_entry(&xt, index);
	}
	return (bench_now() - t0) * 1e9 / LOCK_ITERS;
}

static double mutex_ns(void)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	double t0 = bench_now();

	for (uint64_t i = 0; i < LOCK_ITERS; i++) {
		pthread_mutex_lock(&m);
		bench_sink(i);
		pthread_mutex_unlock(&m);
	}
	return (bench_now() - t0) * 1e9 / LOCK_ITERS;
}

/* --- rmap --- */

static double rmap_lookup_ns(void)
{
	const uint64_t *k = keys[0];
	double t0 = bench_now();
	uint64_t sum = 0;

	for (uint64_t i = 0; i < RMAP_LOOKUPS; i++) {
		struct rmap_owner ow;

		rcu_read_begin();
		if (rmap_lookup(&rm, k[i], &ow))
			sum += (uint64_t)(uintptr_t)ow.inode + ow.first;
		rcu_read_end();
	}
	t0 = bench_now() - t0;
	if (sum == 0)
		bench_die(0, "rmap lookups found nothing");
	return t0 * 1e9 / RMAP_LOOKUPS;
}

static double xt_load_ns(void)
{
	double t0 = bench_now();
	uint64_t sum = lookup_xt(keys[0], RMAP_LOOKUPS);

	t0 = bench_now() - t0;
	if (sum == 0)
		bench_die(0, "xtable lookups found nothing");
	return t0 * 1e9 / RMAP_LOOKUPS;
}

/* --- memory --- */

/* bytes_per_entry - xt_memory / NKEYS after storing NKEYS entries of @order at i << @order. */
static double bytes_per_entry(unsigned order)
{
	struct xtable t;
	size_t bytes;

	xt_init(&t);
	xt_lock(&t);
	for (uint64_t i = 0; i < NKEYS; i++) {
		uint64_t index = i << order;
		int rc = __xt_store(&t, index, order, bm_mk_entry(index, order, 0));

		if (rc)
			bench_die(rc, "__xt_store order %u at %" PRIu64, order, index);
	}
	bytes = xt_memory(&t);
	xt_unlock(&t);
	xt_destroy(&t);
	return (double)bytes / NKEYS;
}

/* --- setup --- */

/* verify - every structure answers every key right, or the figures would mean nothing. */
static void verify(void)
{
	for (uint64_t i = 0; i < NKEYS; i++) {
		struct cds_lfht_iter it;
		struct cds_lfht_node *node;
		struct rmap_owner ow;
		bool ok;

		if (xt_load(&xt, i) != bm_mk_entry(i + 1, 0, 0))
			bench_die(0, "xt_load(%" PRIu64 ") returned the wrong entry", i);
		rcu_read_begin();
		cds_lfht_lookup(ht, bench_hash64(i), match_key, &i, &it);
		node = cds_lfht_iter_get_node(&it);
		ok = node && caa_container_of(node, struct hnode, node)->value == i + 1;
		ok = ok && rmap_lookup(&rm, i, &ow) &&
		     ow.inode == (struct ns_inode *)&fake_inodes[i] && ow.first == i &&
		     ow.count == 1;
		rcu_read_end();
		if (!ok)
			bench_die(0, "cds_lfht or rmap_lookup is wrong for key %" PRIu64, i);
	}
	if (xt_load(&xt, NKEYS) != XT_EMPTY)
		bench_die(0, "xt_load past the last key found an entry");
}

static void fill(void)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	int rc;

	xt_init(&xt);
	xt_lock(&xt);
	for (uint64_t i = 0; i < NKEYS; i++) {
		rc = __xt_store(&xt, i, 0, bm_mk_entry(i + 1, 0, 0));
		if (rc)
			bench_die(rc, "__xt_store %" PRIu64, i);
	}
	xt_unlock(&xt);

	ht = cds_lfht_new_flavor(1UL << 20, 1UL << 20, 0, 0, &urcu_memb_flavor, NULL);
	hnodes = calloc(NKEYS, sizeof(*hnodes));
	if (!ht || !hnodes)
		bench_die(-ENOMEM, "cds_lfht_new");
	rcu_read_begin();
	for (uint64_t i = 0; i < NKEYS; i++) {
		hnodes[i].key = i;
		hnodes[i].value = i + 1;
		cds_lfht_node_init(&hnodes[i].node);
		cds_lfht_add(ht, bench_hash64(i), &hnodes[i].node);
	}
	rcu_read_end();

	rmap_init(&rm);
	fake_inodes = calloc(NKEYS, sizeof(*fake_inodes));
	if (!fake_inodes)
		bench_die(-ENOMEM, "calloc");
	for (uint64_t i = 0; i < NKEYS; i++) {
		rc = rmap_insert(&rm, i, 1, (struct ns_inode *)&fake_inodes[i], 0);
		if (rc)
			bench_die(rc, "rmap_insert %" PRIu64, i);
	}

	verify();
	for (int t = 0; t < MAX_THREADS; t++) {
		keys[t] = malloc(LOOKUPS * sizeof(*keys[t]));
		if (!keys[t])
			bench_die(-ENOMEM, "malloc");
		for (uint64_t i = 0; i < LOOKUPS; i++)
			keys[t][i] = bench_rng(&seed) % NKEYS;
	}
}

static void teardown(void)
{
	struct cds_lfht_iter it;
	struct hnode *h;

	rcu_read_begin();
	cds_lfht_for_each_entry (ht, &it, h, node) {
		cds_lfht_del(ht, &h->node);
	}
	rcu_read_end();
	cds_lfht_destroy(ht, NULL);
	xt_destroy(&xt);
	rmap_destroy(&rm);
	rcu_barrier_all();
	free(hnodes);
	free(fake_inodes);
	for (int t = 0; t < MAX_THREADS; t++)
		free(keys[t]);
}

int main(int argc, char **argv)
{
	double v[8][64];
	struct bench_opts o;
	int n;

	bench_parse(argc, argv, REPS, &o);
	n = o.reps < 64 ? o.reps : 64;
	log_set_level(LOG_LVL_WARNING);
	rcu_thread_online();
	fill();
	bench_note("filled: xtable %zu bytes, rmap %zu bytes; %d reps", xt_memory(&xt),
		   rmap_memory(&rm), n);

	for (int r = 0; r < n; r++) {
		v[0][r] = lookups_per_s(XT_LOOKUP, 1);
		v[1][r] = lookups_per_s(HT_LOOKUP, 1);
		v[2][r] = lookups_per_s(XT_LOOKUP, 2);
		v[3][r] = lookups_per_s(HT_LOOKUP, 2);
		v[4][r] = entry_lock_ns();
		v[5][r] = mutex_ns();
		v[6][r] = rmap_lookup_ns();
		v[7][r] = xt_load_ns();
	}
	for (int t = 0; t < 2; t++) {
		double x = bench_median(v[2 * t], n), h = bench_median(v[2 * t + 1], n);

		bench_emit(&(struct bench_figure){
			.bench = "xtable",
			.figure = t ? "lookups, 2 threads" : "lookups, 1 thread",
			.unit = "lookups/s",
			.value = x,
			.baseline = "cds_lfht lookups",
			.baseline_value = h,
			.higher_is_better = true,
			.reps = n,
			.goal = "ratio >= 1.0",
			.goal_met = x >= h,
		});
	}
	double lk = bench_median(v[4], n);

	bench_emit(&(struct bench_figure){
		.bench = "xtable",
		.figure = "entry lock+unlock",
		.unit = "ns/op",
		.value = lk,
		.baseline = "pthread_mutex lock+unlock",
		.baseline_value = bench_median(v[5], n),
		.reps = n,
		.goal = "<= 100 ns",
		.goal_met = lk <= 100,
	});
	bench_emit(&(struct bench_figure){
		.bench = "xtable",
		.figure = "rmap_lookup, 1M extents",
		.unit = "ns/op",
		.value = bench_median(v[6], n),
		.baseline = "xt_load, 1M keys",
		.baseline_value = bench_median(v[7], n),
		.reps = n,
	});
	for (unsigned order = 0; order <= 9; order += 9) {
		bench_emit(&(struct bench_figure){
			.bench = "xtable",
			.figure = order ? "memory, 1M 2 MiB entries" : "memory, 1M 4 KiB entries",
			.unit = "bytes/entry",
			.value = bytes_per_entry(order),
			.baseline = "flat array of entry words",
			.baseline_value = 8.0,
			.reps = 1,
		});
	}
	teardown();
	rcu_thread_offline();
	return 0;
}
