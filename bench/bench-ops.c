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
 * only share the log (issue 13's goal: at least 1.6x). Two ceilings are shown next to it:
 * two threads each in a namespace of its own in this process (two regions: nothing of the
 * engine's is shared, but the process's RCU grace periods, allocator and address space
 * are), and two processes, each with a namespace and a thread of its own (the machine's
 * own ceiling). The four run in short windows, interleaved in turns, since the rate of one
 * thread moves in phases of a few hundred milliseconds on a shared host (bench/README.md);
 * each figure is the median over the windows.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "compiler.h"
#include "log.h"
#include "namespace.h"
#include "rcu.h"

#define OPS_REGION_SIZE (256ULL << 20)
#define OPS_RUN_SECONDS 0.6
#define OPS_CALIBRATE 500	   /* iterations per calibration batch */
#define OPS_CALIBRATE_SECONDS 0.15 /* calibration (and warm-up) time of each side */
#define OPS_MAX_ITERS 2000000

static char rpath[256], rpath2[256], rpath3[256];
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

#define SCALE_SECONDS 0.1 /* one window */
#define SCALE_TURNS 4	  /* windows of each kind per repetition */
#define KINDS 4		  /* 1 thread; 2 in one namespace; 2 in two; 2 processes */

/* The figure each kind reports (kind 0, 1 thread, is their baseline). */
static const char *const scale_figures[KINDS] = {
	NULL,
	"create+unlink, 2 threads in 2 directories",
	"the same, 2 threads in 2 namespaces of one process",
	"the same, 2 processes (the machine's ceiling)",
};

/*
 * One thread's job. Each starts on a cache line of its own: a thread writes its count at
 * every pair, and must not slow the other thread, which reads its own job as often.
 */
struct scaler {
	CACHE_ALIGNED struct ns *ns;
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

/*
 * run_scale - @n threads, thread i in directory dirs[i] of namespace nss[i]; returns pairs
 * per second in all.
 */
static double run_scale(struct ns *const *nss, const uint64_t *dirs, int n)
{
	struct scaler sc[2];
	double rate = 0;

	for (int i = 0; i < n; i++) {
		sc[i] = (struct scaler){.ns = nss[i], .dir = dirs[i], .seconds = SCALE_SECONDS};
		if (pthread_create(&sc[i].thread, NULL, scale_main, &sc[i]))
			bench_die(-errno, "pthread_create");
	}
	for (int i = 0; i < n; i++) {
		pthread_join(sc[i].thread, NULL);
		rate += (double)sc[i].ops / sc[i].seconds;
	}
	return rate;
}

/* mkdir_in - a directory @name in the root of @ns; returns its inode number. */
static uint64_t mkdir_in(struct ns *ns, const char *name)
{
	struct ns_attr a;
	int rc = ns_mkdir(ns, NULL, NS_ROOT_INO, name, 0755, &a);

	if (rc)
		bench_die(rc, "ns_mkdir %s", name);
	return a.ino;
}

/* --- the machine's ceiling: a second process --- */

/*
 * The helper process: forked before this one starts a thread or mounts anything, so it
 * shares nothing with it but the machine. It mounts a namespace of its own (rpath3) and
 * serves one request at a time on its pipe: 'w' runs one window of create + unlink in a
 * directory there and answers with the window's rate; the pipe closing ends it.
 */
static struct {
	pid_t pid;
	int cmd; /* the parent writes requests */
	int ans; /* the parent reads rates */
} helper = {.pid = -1, .cmd = -1, .ans = -1};

static void helper_cleanup(void)
{
	unlink(rpath3);
}

static _Noreturn void helper_main(int cmd, int ans)
{
	struct ns *ns;
	uint64_t dir;
	double rate;
	char c;
	int rc;

	atexit(helper_cleanup);
	rcu_thread_online();
	rc = ns_mkfs(rpath3, OPS_REGION_SIZE, NULL);
	if (rc == 0)
		rc = ns_mount(&ns, rpath3, NULL);
	if (rc)
		bench_die(rc, "a region for the second process %s", rpath3);
	dir = mkdir_in(ns, "d0");
	while (read(cmd, &c, 1) == 1 && c == 'w') {
		rate = run_scale(&ns, &dir, 1);
		if (write(ans, &rate, sizeof(rate)) != (ssize_t)sizeof(rate))
			break;
	}
	ns_unmount(&ns);
	rcu_thread_offline();
	exit(0);
}

/* helper_start - fork the helper process. Context: before any thread or namespace. */
static void helper_start(void)
{
	int cmd[2], ans[2];

	if (pipe(cmd) || pipe(ans))
		bench_die(-errno, "pipe");
	helper.pid = fork();
	if (helper.pid < 0)
		bench_die(-errno, "fork");
	if (helper.pid == 0) {
		close(cmd[1]);
		close(ans[0]);
		helper_main(cmd[0], ans[1]);
	}
	close(cmd[0]);
	close(ans[1]);
	helper.cmd = cmd[1];
	helper.ans = ans[0];
}

/* helper_stop - end the helper and reap it. */
static void helper_stop(void)
{
	int status;

	if (helper.pid < 0)
		return;
	close(helper.cmd);
	close(helper.ans);
	if (waitpid(helper.pid, &status, 0) != helper.pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		bench_die(-EIO, "the second process did not end cleanly");
	helper.pid = -1;
}

/*
 * run_procs - one window of two processes: one thread here in @dir of @ns, one in the
 * helper; returns the pairs per second of both.
 */
static double run_procs(struct ns *ns, uint64_t dir)
{
	double mine, other;

	if (write(helper.cmd, "w", 1) != 1)
		bench_die(-errno, "the second process");
	mine = run_scale(&ns, &dir, 1);
	if (read(helper.ans, &other, sizeof(other)) != (ssize_t)sizeof(other))
		bench_die(-EIO, "the second process answered no rate");
	return mine + other;
}

/*
 * figure_scale - the two-thread figures: @reps repetitions, each SCALE_TURNS turns of four
 * windows (1 thread; 2 threads in 2 directories of @ns; 2 threads in 2 namespaces; 2
 * processes), the order rotating from turn to turn.
 */
static void figure_scale(struct ns *ns, int reps)
{
	const int n = reps * SCALE_TURNS;
	double *v[KINDS], busy[KINDS] = {0}, med[KINDS];
	struct ns *apart[2] = {ns, NULL}, *same[2] = {ns, ns};
	uint64_t dirs[2], apart_dirs[2];
	struct ns_statfs st;
	int rc;

	for (int k = 0; k < KINDS; k++) {
		v[k] = calloc((size_t)n, sizeof(double));
		if (!v[k])
			bench_die(-ENOMEM, "calloc");
	}
	dirs[0] = mkdir_in(ns, "d0");
	dirs[1] = mkdir_in(ns, "d1");
	rc = ns_mkfs(rpath2, OPS_REGION_SIZE, NULL);
	if (rc == 0)
		rc = ns_mount(&apart[1], rpath2, NULL);
	if (rc)
		bench_die(rc, "a second region %s", rpath2);
	apart_dirs[0] = dirs[0];
	apart_dirs[1] = mkdir_in(apart[1], "d0");

	for (int r = 0; r < reps; r++) {
		for (int t = 0; t < SCALE_TURNS; t++) {
			int i = r * SCALE_TURNS + t;

			for (int j = 0; j < KINDS; j++) {
				int k = (i + j) % KINDS;
				double c0 = cpu_seconds();

				v[k][i] = k == 0   ? run_scale(same, dirs, 1)
					  : k == 1 ? run_scale(same, dirs, 2)
					  : k == 2 ? run_scale(apart, apart_dirs, 2)
						   : run_procs(ns, dirs[0]);
				busy[k] += (cpu_seconds() - c0) / SCALE_SECONDS / n;
			}
		}
		/* Shown each: the figure moves in phases (bench/README.md). */
		for (int k = 0; k < KINDS; k++)
			med[k] = bench_median(v[k] + r * SCALE_TURNS, SCALE_TURNS);
		bench_note("2 threads, repetition %d: %.0f, %.0f, %.0f and %.0f pairs/s (1 thread, "
			   "2 in one namespace, 2 in two, 2 processes), %.2fx, %.2fx and %.2fx",
			   r, med[0], med[1], med[2], med[3], med[1] / med[0], med[2] / med[0],
			   med[3] / med[0]);
	}
	bench_note("CPUs busy in this process: %.2f with 1 thread, %.2f and %.2f with 2, %.2f "
		   "with the second process",
		   busy[0], busy[1], busy[2], busy[3]);
	ns_statfs(ns, &st);
	bench_note("log checkpoints during the runs: %" PRIu64, st.checkpoints);
	ns_unmount(&apart[1]);
	unlink(rpath2);
	helper_stop();

	for (int k = 0; k < KINDS; k++)
		med[k] = bench_median(v[k], n);
	/* Each two-thread kind against 1 thread; the goal is the one-namespace figure's. */
	for (int k = 1; k < KINDS; k++)
		bench_emit(&(struct bench_figure){
			.bench = "ops",
			.figure = scale_figures[k],
			.unit = "pairs/s",
			.value = med[k],
			.baseline = "the same, 1 thread",
			.baseline_value = med[0],
			.higher_is_better = true,
			.reps = n,
			.goal = k == 1 ? ">= 1.6x" : NULL,
			.goal_met = k == 1 && med[1] >= 1.6 * med[0],
		});
	for (int k = 0; k < KINDS; k++)
		free(v[k]);
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
	unlink(rpath2);
	rmdir(tmpfs_dir);
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct ns *ns;
	uint64_t nd, nt;
	double *vd, *vt;
	int rc;

	bench_parse(argc, argv, 5, &o);
	log_set_level(LOG_LVL_WARNING);
	snprintf(rpath, sizeof(rpath), BENCH_DIR "/daxfs-bench-ops.%d.region", (int)getpid());
	snprintf(rpath2, sizeof(rpath2), BENCH_DIR "/daxfs-bench-ops.%d.region2", (int)getpid());
	snprintf(rpath3, sizeof(rpath3), BENCH_DIR "/daxfs-bench-ops.%d.region3", (int)getpid());
	snprintf(tmpfs_dir, sizeof(tmpfs_dir), BENCH_DIR "/daxfs-bench-ops.%d.tmpfs",
		 (int)getpid());
	helper_start();
	atexit(cleanup);
	rcu_thread_online();
	memset(wbuf, 0xa5, sizeof(wbuf));
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
	figure_scale(ns, o.reps);
	ns_unmount(&ns);

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
