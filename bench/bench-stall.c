// SPDX-License-Identifier: MIT
/*
 * bench-stall - what a long operation costs an unrelated one (issue 13: no stalls).
 *
 * The unrelated operation is a create (+ unlink) in a directory of its own, timed one by
 * one. It runs idle (the baseline), then while another thread's rename over a mapped file
 * waits 3 s for a lease break the mapper never acknowledges, then while another thread
 * fallocates 1.5 GiB. The figures are the worst create latency of each run (the goal: under
 * 10 ms) and its 99th percentile, next to the idle ones measured in the same run.
 *
 * Engine-level, on an emulated region in /dev/shm (2 GiB, sparse: the fallocate writes 1.5
 * GiB of zeros into it).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "lease.h"
#include "log.h"
#include "namespace.h"
#include "rcu.h"

#define STALL_REGION_SIZE (2ULL << 30)
#define STALL_FALLOC_SIZE (1536ULL << 20)
#define STALL_LEASE_MS 3000
#define STALL_IDLE_SECONDS 1.0
#define STALL_MAX_SAMPLES 1000000

static char rpath[256];

struct samples {
	double *v;
	int n;
};

static void sample(struct samples *s, double t)
{
	if (s->n < STALL_MAX_SAMPLES)
		s->v[s->n++] = t;
}

/* percentile - the @p-th percentile of @s (sorts it). */
static double percentile(struct samples *s, double p)
{
	int i;

	if (!s->n)
		return 0;
	bench_median(s->v, s->n); /* sorts */
	i = (int)(p * (s->n - 1));
	return s->v[i];
}

/* --- the other thread's long operations --- */

struct other {
	struct ns *ns;
	uint64_t dir, file;
	bool rename; /* else fallocate */
	volatile bool done;
	int rc;
	pthread_t thread;
};

static void *other_main(void *arg)
{
	struct other *o = arg;

	rcu_thread_online();
	if (o->rename)
		o->rc = ns_rename(o->ns, NULL, o->dir, "src", o->dir, "mapped", 0);
	else
		o->rc = ns_fallocate(o->ns, NULL, o->file, 0, 0, STALL_FALLOC_SIZE);
	__atomic_store_n(&o->done, true, __ATOMIC_RELEASE);
	rcu_thread_offline();
	return NULL;
}

/* A mapper that never lets go. */
static void cb_poison(void *h, struct ns_grant *g, uint64_t ino, uint64_t i, uint64_t n)
{
}

static void cb_invalidate(void *h, struct ns_grant *g, uint64_t ino, uint64_t i, uint64_t n,
			  uint64_t gen)
{
}

static void cb_expired(void *h, struct ns_grant *g)
{
}

static const struct ns_grant_ops deaf_ops = {
	.poison = cb_poison,
	.invalidate = cb_invalidate,
	.expired = cb_expired,
};

/*
 * creates - create + unlink in @dir, one by one, timing each create, for @seconds or (with
 * @until) until the other operation is done.
 */
static void creates(struct ns *ns, uint64_t dir, double seconds, struct other *until,
		    struct samples *s)
{
	double t0 = bench_now();
	uint64_t i = 0;
	char name[32];
	int rc;

	for (;;) {
		double a, b;

		if (until ? __atomic_load_n(&until->done, __ATOMIC_ACQUIRE)
			  : bench_now() - t0 >= seconds)
			break;
		snprintf(name, sizeof(name), "c%" PRIu64, i++);
		a = bench_now();
		rc = ns_create(ns, NULL, dir, name, 0644, NULL);
		b = bench_now();
		if (rc)
			bench_die(rc, "ns_create %s", name);
		sample(s, b - a);
		rc = ns_unlink(ns, NULL, dir, name);
		if (rc)
			bench_die(rc, "ns_unlink %s", name);
	}
}

static uint64_t mk(struct ns *ns, uint64_t dir, const char *name, bool is_dir)
{
	struct ns_attr a;
	int rc = is_dir ? ns_mkdir(ns, NULL, dir, name, 0755, &a)
			: ns_create(ns, NULL, dir, name, 0644, &a);

	if (rc)
		bench_die(rc, "make %s", name);
	return a.ino;
}

static void emit(const char *figure, double value, const char *baseline, double base, int reps)
{
	bench_emit(&(struct bench_figure){
		.bench = "stall",
		.figure = figure,
		.unit = "ms",
		.value = value * 1e3,
		.baseline = baseline,
		.baseline_value = base * 1e3,
		.higher_is_better = false,
		.reps = reps,
		.goal = strstr(figure, "worst") ? "< 10 ms" : NULL,
		.goal_met = value < 0.010,
	});
}

static void cleanup(void)
{
	unlink(rpath);
}

int main(int argc, char **argv)
{
	struct samples idle = {0}, brk = {0}, fal = {0};
	struct ns_mount_opts mo = {0};
	struct bench_opts o;
	struct ns_grant *g;
	struct other oth;
	uint64_t quiet, busy, mapped;
	char buf[4096] = {1};
	struct ns *ns;
	int rc;

	bench_parse(argc, argv, 1, &o);
	log_set_level(LOG_LVL_ERR);
	rcu_thread_online();
	snprintf(rpath, sizeof(rpath), BENCH_DIR "/daxfs-bench-stall.%d.region", (int)getpid());
	atexit(cleanup);
	idle.v = calloc(STALL_MAX_SAMPLES, sizeof(double));
	brk.v = calloc(STALL_MAX_SAMPLES, sizeof(double));
	fal.v = calloc(STALL_MAX_SAMPLES, sizeof(double));
	if (!idle.v || !brk.v || !fal.v)
		bench_die(-ENOMEM, "calloc");
	rc = ns_mkfs(rpath, STALL_REGION_SIZE, NULL);
	if (rc == 0)
		rc = ns_mount(&ns, rpath, &mo);
	if (rc)
		bench_die(rc, "mkfs/mount %s", rpath);
	ns_set_lease_timeout(ns, STALL_LEASE_MS);
	quiet = mk(ns, NS_ROOT_INO, "quiet", true);
	busy = mk(ns, NS_ROOT_INO, "busy", true);

	for (int r = 0; r < o.reps; r++) {
		creates(ns, quiet, STALL_IDLE_SECONDS, NULL, &idle);

		/* A rename over a file mapped by a holder that never acks: 3 s of lease break. */
		mapped = mk(ns, busy, "mapped", false);
		mk(ns, busy, "src", false);
		if (ns_write(ns, NULL, mapped, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
			bench_die(-EIO, "write");
		rc = ns_grant_new(ns, NULL, mapped, 0, 1, NS_GRANT_READ, &deaf_ops, NULL, &g);
		if (rc)
			bench_die(rc, "ns_grant_new");
		oth = (struct other){.ns = ns, .dir = busy, .rename = true};
		if (pthread_create(&oth.thread, NULL, other_main, &oth))
			bench_die(-errno, "pthread_create");
		creates(ns, quiet, 0, &oth, &brk);
		pthread_join(oth.thread, NULL);
		if (oth.rc)
			bench_die(oth.rc, "the rename");
		ns_grant_delete(ns, &g);

		/* A 1.5 GiB fallocate. */
		oth = (struct other){.ns = ns, .file = mk(ns, busy, "big", false)};
		if (pthread_create(&oth.thread, NULL, other_main, &oth))
			bench_die(-errno, "pthread_create");
		creates(ns, quiet, 0, &oth, &fal);
		pthread_join(oth.thread, NULL);
		if (oth.rc)
			bench_die(oth.rc, "the fallocate");
		rc = ns_unlink(ns, NULL, busy, "big");
		if (rc == 0)
			rc = ns_unlink(ns, NULL, busy, "mapped");
		if (rc)
			bench_die(rc, "unlink");
	}
	bench_note("%d creates idle, %d during the lease breaks, %d during the fallocates",
		   idle.n, brk.n, fal.n);
	emit("create while a rename waits 3 s for a lease break, worst", percentile(&brk, 1),
	     "create, idle, worst", percentile(&idle, 1), o.reps);
	emit("create while a rename waits 3 s for a lease break, p99", percentile(&brk, 0.99),
	     "create, idle, p99", percentile(&idle, 0.99), o.reps);
	emit("create while 1.5 GiB is fallocated, worst", percentile(&fal, 1),
	     "create, idle, worst", percentile(&idle, 1), o.reps);
	emit("create while 1.5 GiB is fallocated, p99", percentile(&fal, 0.99),
	     "create, idle, p99", percentile(&idle, 0.99), o.reps);
	ns_unmount(&ns);
	free(idle.v);
	free(brk.v);
	free(fal.v);
	rcu_thread_offline();
	return 0;
}
