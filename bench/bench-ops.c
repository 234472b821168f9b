// SPDX-License-Identifier: MIT
/*
 * bench-ops - create + write 4 KiB + unlink through the engine API (ns_create, ns_write,
 * ns_unlink) on an emulated region in /dev/shm, against the same sequence of syscalls on a
 * tmpfs file in /dev/shm (open(O_CREAT|O_EXCL|O_WRONLY), pwrite 4 KiB, close, unlink).
 *
 * Each side runs N iterations per repetition, N calibrated so one run takes about 0.6 s;
 * the two sides alternate, and the figure is the median rate over the repetitions.
 * The engine's operations are durable when they return (an msync per commit on an emulated
 * region); the tmpfs syscalls are not, and the log checkpoints it needs are part of the cost.
 *
 * A second figure: two threads doing create + unlink, each in a directory of its own,
 * against one thread doing the same: the engine has no namespace-wide lock, so the two
 * only share the log (issue 13's goal: at least 1.6x).
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "log.h"
#include "namespace.h"
#include "rcu.h"

#define OPS_REGION_SIZE (256ULL << 20)
#define OPS_RUN_SECONDS 0.6
#define OPS_CALIBRATE 500	   /* iterations per calibration batch */
#define OPS_CALIBRATE_SECONDS 0.15 /* calibration (and warm-up) time of each side */
#define OPS_MAX_ITERS 2000000

static char rpath[256];
static char tmpfs_dir[256];
static char wbuf[4096];

/* run_daxfs - @n create/write/unlink cycles through the engine; returns seconds. */
static double run_daxfs(struct ns *ns, uint64_t n)
{
	double t0 = bench_now();
	char name[32];

	for (uint64_t i = 0; i < n; i++) {
		struct ns_attr a;
		ssize_t w;
		int rc;

		snprintf(name, sizeof(name), "f%" PRIu64, i);
		rc = ns_create(ns, NULL, NS_ROOT_INO, name, 0644, &a);
		if (rc)
			bench_die(rc, "ns_create %s", name);
		w = ns_write(ns, NULL, a.ino, wbuf, sizeof(wbuf), 0);
		if (w != (ssize_t)sizeof(wbuf))
			bench_die((int)w, "ns_write %s", name);
		rc = ns_unlink(ns, NULL, NS_ROOT_INO, name);
		if (rc)
			bench_die(rc, "ns_unlink %s", name);
	}
	return bench_now() - t0;
}

/* run_tmpfs - @n open/pwrite/close/unlink cycles on tmpfs; returns seconds. */
static double run_tmpfs(uint64_t n)
{
	double t0 = bench_now();
	char path[320];

	for (uint64_t i = 0; i < n; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/f%" PRIu64, tmpfs_dir, i);
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			bench_die(-errno, "open %s", path);
		if (pwrite(fd, wbuf, sizeof(wbuf), 0) != (ssize_t)sizeof(wbuf))
			bench_die(-errno, "pwrite %s", path);
		close(fd);
		if (unlink(path))
			bench_die(-errno, "unlink %s", path);
	}
	return bench_now() - t0;
}

/* --- two directories, two threads --- */

#define SCALE_SECONDS 0.5

struct scaler {
	struct ns *ns;
	uint64_t dir;
	double seconds;
	uint64_t ops;
	pthread_t thread;
};

/* scale_main - create + unlink in its own directory for SCALE_SECONDS; counts the pairs. */
static void *scale_main(void *arg)
{
	struct scaler *sc = arg;
	double t0, now;
	char name[32];
	int rc;

	rcu_thread_online();
	t0 = now = bench_now();
	while (now - t0 < sc->seconds) {
		for (int k = 0; k < 64; k++, sc->ops++) {
			snprintf(name, sizeof(name), "s%" PRIu64, sc->ops);
			rc = ns_create(sc->ns, NULL, sc->dir, name, 0644, NULL);
			if (rc == 0)
				rc = ns_unlink(sc->ns, NULL, sc->dir, name);
			if (rc)
				bench_die(rc, "create/unlink %s", name);
		}
		now = bench_now();
	}
	sc->seconds = now - t0;
	rcu_thread_offline();
	return NULL;
}

/* cpu_seconds - CPU time the whole process (all its threads) has used. */
static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* run_scale - @n threads, each in directory dirs[i]; returns pairs per second in all. */
static double run_scale(struct ns *ns, const uint64_t *dirs, int n)
{
	struct scaler sc[2];
	double rate = 0;

	for (int i = 0; i < n; i++) {
		sc[i] = (struct scaler){.ns = ns, .dir = dirs[i], .seconds = SCALE_SECONDS};
		if (pthread_create(&sc[i].thread, NULL, scale_main, &sc[i]))
			bench_die(-errno, "pthread_create");
	}
	for (int i = 0; i < n; i++) {
		pthread_join(sc[i].thread, NULL);
		rate += (double)sc[i].ops / sc[i].seconds;
	}
	return rate;
}

/* iters_for - iterations of @run that take about OPS_RUN_SECONDS (@run warms up meanwhile). */
static uint64_t iters_for(struct ns *ns, bool daxfs)
{
	double secs = 0, n;
	uint64_t done = 0;

	while (secs < OPS_CALIBRATE_SECONDS) {
		secs += daxfs ? run_daxfs(ns, OPS_CALIBRATE) : run_tmpfs(OPS_CALIBRATE);
		done += OPS_CALIBRATE;
	}
	n = OPS_RUN_SECONDS * (double)done / secs;

	if (n < OPS_CALIBRATE)
		return OPS_CALIBRATE;
	if (n > OPS_MAX_ITERS)
		return OPS_MAX_ITERS;
	return (uint64_t)n;
}

static void cleanup(void)
{
	unlink(rpath);
	rmdir(tmpfs_dir);
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct ns_statfs st;
	struct ns *ns;
	uint64_t nd, nt;
	double *vd, *vt;
	int rc;

	bench_parse(argc, argv, 5, &o);
	log_set_level(LOG_LVL_WARNING);
	rcu_thread_online();
	memset(wbuf, 0xa5, sizeof(wbuf));
	snprintf(rpath, sizeof(rpath), BENCH_DIR "/daxfs-bench-ops.%d.region", (int)getpid());
	snprintf(tmpfs_dir, sizeof(tmpfs_dir), BENCH_DIR "/daxfs-bench-ops.%d.tmpfs",
		 (int)getpid());
	atexit(cleanup);
	if (mkdir(tmpfs_dir, 0700))
		bench_die(-errno, "mkdir %s", tmpfs_dir);
	rc = ns_mkfs(rpath, OPS_REGION_SIZE, NULL);
	if (rc)
		bench_die(rc, "ns_mkfs %s", rpath);
	rc = ns_mount(&ns, rpath, NULL);
	if (rc)
		bench_die(rc, "ns_mount %s", rpath);

	nd = iters_for(ns, true);
	nt = iters_for(NULL, false);
	bench_note("%d reps of %" PRIu64 " (daxfs) and %" PRIu64 " (tmpfs) iterations", o.reps, nd,
		   nt);

	vd = calloc((size_t)o.reps, sizeof(*vd));
	vt = calloc((size_t)o.reps, sizeof(*vt));
	if (!vd || !vt)
		bench_die(-ENOMEM, "calloc");
	for (int r = 0; r < o.reps; r++) {
		vd[r] = (double)nd / run_daxfs(ns, nd);
		vt[r] = (double)nt / run_tmpfs(nt);
	}
	{
		uint64_t dirs[2];
		struct ns_attr a;
		double *v1 = calloc((size_t)o.reps, sizeof(double));
		double *v2 = calloc((size_t)o.reps, sizeof(double));

		if (!v1 || !v2)
			bench_die(-ENOMEM, "calloc");
		for (int i = 0; i < 2; i++) {
			rc = ns_mkdir(ns, NULL, NS_ROOT_INO, i ? "d1" : "d0", 0755, &a);
			if (rc)
				bench_die(rc, "ns_mkdir");
			dirs[i] = a.ino;
		}
		for (int r = 0; r < o.reps; r++) {
			double c0 = cpu_seconds(), c1, c2;

			v1[r] = run_scale(ns, dirs, 1);
			c1 = cpu_seconds();
			v2[r] = run_scale(ns, dirs, 2);
			c2 = cpu_seconds();
			/* Shown each: the figure moves in phases (bench/README.md). */
			bench_note("2 threads, repetition %d: %.0f and %.0f pairs/s, %.2fx "
				   "(CPUs busy: %.2f and %.2f)",
				   r, v1[r], v2[r], v2[r] / v1[r], (c1 - c0) / SCALE_SECONDS,
				   (c2 - c1) / SCALE_SECONDS);
		}
		ns_statfs(ns, &st);
		bench_note("log checkpoints during the runs: %" PRIu64, st.checkpoints);
		ns_unmount(&ns);
		{
			double one = bench_median(v1, o.reps), two = bench_median(v2, o.reps);

			bench_emit(&(struct bench_figure){
				.bench = "ops",
				.figure = "create+unlink, 2 threads in 2 directories",
				.unit = "pairs/s",
				.value = two,
				.baseline = "the same, 1 thread",
				.baseline_value = one,
				.higher_is_better = true,
				.reps = o.reps,
				.goal = ">= 1.6x",
				.goal_met = two >= 1.6 * one,
			});
		}
		free(v1);
		free(v2);
	}

	bench_emit(&(struct bench_figure){
		.bench = "ops",
		.figure = "create+write 4K+unlink",
		.unit = "ops/s",
		.value = bench_median(vd, o.reps),
		.baseline = "tmpfs open+pwrite+close+unlink",
		.baseline_value = bench_median(vt, o.reps),
		.higher_is_better = true,
		.reps = o.reps,
	});
	free(vd);
	free(vt);
	rcu_thread_offline();
	return 0;
}
