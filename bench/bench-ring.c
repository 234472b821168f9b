// SPDX-License-Identifier: MIT
/*
 * bench-ring - the shared-memory request ring (issue 15, DESIGN §11) next to the socket path
 * it replaces, in the same run, on the same daemon: one handle with the ring (the default)
 * and one with DAXFS_RING=0 (every request over the SOCK_SEQPACKET socket, as before the
 * ring).
 *
 * Figures (each the median of the repetitions, daxfsd with its defaults unless said):
 *   - create + stat + unlink cycles per second, 1 thread: ring / socket (each counted in a
 *     150 ms window after 30 ms of warm-up)
 *   - the same, 4 threads pipelined on one handle: ring / one thread on the ring (goal 1.5x),
 *     and ring / socket
 *   - the same two on a daxfsd in a session of its own, as systemd starts it (the figures
 *     above run it in the benchmark's session): 4 threads / 1 thread
 *   - random 4 KiB copy reads of a 64 MiB file, p50 and p99 latency: ring / socket (goals
 *     3 us and 20 us)
 *   - truncate of a 64 KiB file nobody maps to 0 (daxfs_truncate: STAT + SETATTR), p50:
 *     ring / socket (goal 20 us)
 *   - STATFS round trip p50 with polling on (goal 6 us) and with polling off at both ends
 *     (daxfsd --poll-us 0, DAXFS_SPIN_US=0): ring / socket
 *   - `daxfs put` of 256 MiB into a region that is a file on disk ($BENCH_DISK_DIR, default
 *     /var/tmp), seconds, next to `dd oflag=dsync bs=1M` of 256 MiB into the same directory
 *     (goal: within 2x)
 *
 * Usage: bench-ring [-r REPS]; $DAXFSD and $DAXFS_CLI override the binaries' paths.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <daxfs/daxfs.h>

#include "bench-daemon.h"
#include "bench.h"
#include "compiler.h"
#include "namespace.h"

#define REGION_SIZE (1ULL << 30)
#define DISK_REGION_SIZE (1ULL << 30)
#define THREADS 4
#define OPS_WARM_S 0.03	  /* each create+stat+unlink figure: warm-up, then */
#define OPS_WINDOW_S 0.15 /* the window counted */
#define RR_FILE (64u << 20)
#define RR_N 20000
#define TRUNC_N 2000
#define RTT_N 20000
#define PUT_SIZE (256u << 20)
#define PUT_REPS 3

static struct bench_opts opts;
static char rpath[256], sock[256], dlog[256], disk_dir[256], disk_region[320], dd_path[320],
	src_path[256];
static pid_t dpid;
static bool finished;

static void cleanup(void)
{
	if (dpid > 0)
		bench_daemon_kill(&dpid);
	if (!finished)
		bench_daemon_print_log(dlog);
	unlink(rpath);
	unlink(dlog);
	unlink(disk_region);
	unlink(dd_path);
	unlink(src_path);
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* start - daxfsd on @region; @poll_us < 0: its default; @apart: bench_daemon_start_apart. */
static void start(const char *region, int poll_us, bool apart)
{
	const char *path = getenv("DAXFSD") ? getenv("DAXFSD") : BENCH_DAXFSD;
	char poll[16];
	const char *argv[10] = {path, "--region", region, "--socket", sock, NULL};

	if (poll_us >= 0) {
		snprintf(poll, sizeof(poll), "%d", poll_us);
		argv[5] = "--poll-us";
		argv[6] = poll;
		argv[7] = NULL;
	}
	dpid = apart ? bench_daemon_start_apart(argv, sock, dlog)
		     : bench_daemon_start(argv, sock, dlog);
}

/* open_as - a handle; @ring: the default transport, else DAXFS_RING=0; @spin: $DAXFS_SPIN_US */
static struct daxfs *open_as(bool ring, const char *spin)
{
	struct daxfs *fs;
	int rc;

	setenv("DAXFS_RING", ring ? "1" : "0", 1);
	if (spin)
		setenv("DAXFS_SPIN_US", spin, 1);
	else
		unsetenv("DAXFS_SPIN_US");
	rc = daxfs_open(&fs, sock);
	if (rc)
		bench_die(rc, "daxfs_open: %s", daxfs_errormsg());
	unsetenv("DAXFS_RING");
	unsetenv("DAXFS_SPIN_US");
	return fs;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[(size_t)((double)(n - 1) * p)];
}

static void emit(const char *figure, const char *unit, double v, const char *base, double b,
		 bool higher, const char *goal, bool met)
{
	bench_emit(&(struct bench_figure){.bench = "ring",
					  .figure = figure,
					  .unit = unit,
					  .value = v,
					  .baseline = base,
					  .baseline_value = b,
					  .higher_is_better = higher,
					  .reps = opts.reps,
					  .goal = goal,
					  .goal_met = met});
}

/* --- create + stat + unlink --- */

/*
 * Each figure counts the cycles that complete in one window of OPS_WINDOW_S, after
 * OPS_WARM_S of the same work: the threads (and the daemon's ring threads, idle since the
 * last figure) are running by then, and 1 and 4 threads are timed alike.
 */
struct job {
	CACHE_ALIGNED struct daxfs *fs; /* a line per thread: cycles is written at every cycle */
	unsigned tid, rep;
	pthread_barrier_t *go;
	bool *stop;	 /* atomic */
	uint64_t cycles; /* atomic */
};

static void *ops_main(void *arg)
{
	struct job *j = arg;
	char p[64];

	pthread_barrier_wait(j->go);
	for (unsigned i = 0; !__atomic_load_n(j->stop, __ATOMIC_RELAXED); i++) {
		snprintf(p, sizeof(p), "/o%u.%u.%u", j->rep, j->tid, i);
		if (daxfs_create(j->fs, p, 0644, DAXFS_CREATE_EXCL, NULL) ||
		    daxfs_stat(j->fs, p, &(struct daxfs_stat){0}) || daxfs_unlink(j->fs, p))
			bench_die(-EIO, "cycle %s: %s", p, daxfs_errormsg());
		__atomic_store_n(&j->cycles, j->cycles + 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static uint64_t cycles_of(struct job *j, unsigned n)
{
	uint64_t c = 0;

	for (unsigned i = 0; i < n; i++)
		c += __atomic_load_n(&j[i].cycles, __ATOMIC_RELAXED);
	return c;
}

static void sleep_s(double s)
{
	struct timespec ts = {.tv_sec = (time_t)s,
			      .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * ops_rate - cycles per second of @n threads, thread i on handle @fss[i], in a window after
 * a warm-up.
 */
static double ops_rate_on(struct daxfs *const *fss, unsigned n, unsigned rep)
{
	struct job j[THREADS];
	pthread_t th[THREADS];
	pthread_barrier_t go;
	bool stop = false;
	double t0, t1;
	uint64_t c0, c1;

	pthread_barrier_init(&go, NULL, n + 1);
	for (unsigned i = 0; i < n; i++) {
		j[i] = (struct job){fss[i], i, rep, &go, &stop, 0};
		pthread_create(&th[i], NULL, ops_main, &j[i]);
	}
	pthread_barrier_wait(&go);
	sleep_s(OPS_WARM_S);
	c0 = cycles_of(j, n);
	t0 = bench_now();
	sleep_s(OPS_WINDOW_S);
	c1 = cycles_of(j, n);
	t1 = bench_now();
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	return (double)(c1 - c0) / (t1 - t0);
}

/* ops_rate - ops_rate_on with all @n threads on the one handle @fs. */
static double ops_rate(struct daxfs *fs, unsigned n, unsigned rep)
{
	struct daxfs *fss[THREADS];

	for (unsigned i = 0; i < n; i++)
		fss[i] = fs;
	return ops_rate_on(fss, n, rep);
}

/*
 * figure_ops - 1 and THREADS threads on the ring and on the socket; and THREADS threads
 * with a ring handle each (a session each, as single-threaded client processes have
 * them: nothing of one handle shared).
 */
static void figure_ops(struct daxfs *ring, struct daxfs *sockh)
{
	double r1[32], s1[32], r4[32], s4[32], h4[32];
	struct daxfs *own[THREADS];
	int reps = opts.reps;

	for (unsigned i = 0; i < THREADS; i++)
		own[i] = open_as(true, NULL);
	bench_note("create+stat+unlink: %d reps of 1 and %d threads, ring and socket, and %d "
		   "threads with a ring handle each",
		   reps, THREADS, THREADS);
	for (int r = 0; r < reps; r++) {
		r1[r] = ops_rate(ring, 1, 5 * r);
		s1[r] = ops_rate(sockh, 1, 5 * r + 1);
		r4[r] = ops_rate(ring, THREADS, 5 * r + 2);
		s4[r] = ops_rate(sockh, THREADS, 5 * r + 3);
		h4[r] = ops_rate_on(own, THREADS, 5 * r + 4);
	}
	for (unsigned i = 0; i < THREADS; i++)
		daxfs_close(own[i]);
	double a = bench_median(r1, reps), b = bench_median(s1, reps);
	double c = bench_median(r4, reps), e = bench_median(s4, reps);
	double h = bench_median(h4, reps);

	emit("create+stat+unlink, ring, 1 thread", "ops/s", a, "the same over the socket", b, true,
	     NULL, false);
	emit("create+stat+unlink, ring, 4 threads pipelined on one handle", "ops/s", c,
	     "the same, 1 thread on the ring", a, true, "ratio >= 1.5", c >= 1.5 * a);
	emit("create+stat+unlink, ring, 4 threads pipelined on one handle", "ops/s", c,
	     "the same 4 threads over the socket", e, true, NULL, false);
	emit("create+stat+unlink, ring, 4 threads with a handle each", "ops/s", h,
	     "the same, 1 thread on the ring", a, true, NULL, false);
}

/*
 * figure_ops_apart - 1 and 4 threads on the ring of a daxfsd in a session of its own (as
 * under systemd): reported next to the figure above, which runs daxfsd in our session.
 */
static void figure_ops_apart(void)
{
	double r1[32], r4[32];
	struct daxfs *ring;
	int reps = opts.reps;

	start(rpath, -1, true);
	ring = open_as(true, NULL);
	bench_note("create+stat+unlink, daxfsd in a session of its own: %d reps of 1 and %d "
		   "threads",
		   reps, THREADS);
	for (int r = 0; r < reps; r++) {
		r1[r] = ops_rate(ring, 1, 1000 + 2 * r);
		r4[r] = ops_rate(ring, THREADS, 1001 + 2 * r);
	}
	daxfs_close(ring);
	bench_daemon_stop(&dpid);
	emit("create+stat+unlink, ring, 4 threads on one handle, daxfsd in a session of its own",
	     "ops/s", bench_median(r4, reps), "the same, 1 thread", bench_median(r1, reps), true,
	     NULL, false);
}

/* --- latencies --- */

static double rr_p(struct daxfs *fs, uint64_t ino, double p, double *lat)
{
	static char buf[4096];
	uint64_t rng = 42;

	for (unsigned i = 0; i < RR_N; i++) {
		uint64_t off = bench_rng(&rng) % (RR_FILE / 4096) * 4096;
		double t0 = bench_now();

		if (daxfs_pread(fs, ino, buf, 4096, off) != 4096)
			bench_die(-EIO, "daxfs_pread: %s", daxfs_errormsg());
		lat[i] = (bench_now() - t0) * 1e6;
	}
	return pct(lat, RR_N, p);
}

static void figure_rr(struct daxfs *ring, struct daxfs *sockh)
{
	static double lat[RR_N];
	double r50[32], s50[32], r99[32], s99[32];
	char *buf = malloc(1 << 20);
	struct daxfs_stat st;

	if (!buf || daxfs_create(ring, "/rr", 0644, DAXFS_CREATE_EXCL, &st))
		bench_die(-EIO, "/rr: %s", daxfs_errormsg());
	memset(buf, 7, 1 << 20);
	for (uint64_t off = 0; off < RR_FILE; off += 1 << 20)
		if (daxfs_pwrite(ring, st.ino, buf, 1 << 20, off) != 1 << 20)
			bench_die(-EIO, "write /rr: %s", daxfs_errormsg());
	/* The socket handle may name the inode only once it looked its path up. */
	daxfs_stat(sockh, "/rr", &st);
	bench_note("random 4K reads: %d reps of %d, ring and socket", opts.reps, RR_N);
	for (int r = 0; r < opts.reps; r++) {
		r50[r] = rr_p(ring, st.ino, 0.5, lat);
		r99[r] = pct(lat, RR_N, 0.99);
		s50[r] = rr_p(sockh, st.ino, 0.5, lat);
		s99[r] = pct(lat, RR_N, 0.99);
	}
	double a = bench_median(r50, opts.reps), b = bench_median(s50, opts.reps);
	double c = bench_median(r99, opts.reps), e = bench_median(s99, opts.reps);

	emit("random 4 KiB copy read, ring, p50", "us", a, "the same over the socket", b, false,
	     "<= 3 us", a <= 3);
	emit("random 4 KiB copy read, ring, p99", "us", c, "the same over the socket", e, false,
	     "<= 20 us", c <= 20);
	free(buf);
}

static double trunc_p50(struct daxfs *fs, uint64_t ino, double *lat)
{
	static char buf[65536];

	for (unsigned i = 0; i < TRUNC_N; i++) {
		double t0;

		if (daxfs_pwrite(fs, ino, buf, sizeof(buf), 0) != sizeof(buf))
			bench_die(-EIO, "write /tr: %s", daxfs_errormsg());
		t0 = bench_now();
		if (daxfs_truncate(fs, "/tr", 0))
			bench_die(-EIO, "truncate /tr: %s", daxfs_errormsg());
		lat[i] = (bench_now() - t0) * 1e6;
	}
	return pct(lat, TRUNC_N, 0.5);
}

static void figure_truncate(struct daxfs *ring, struct daxfs *sockh)
{
	static double lat[TRUNC_N];
	double r[32], s[32];
	struct daxfs_stat st;

	if (daxfs_create(ring, "/tr", 0644, DAXFS_CREATE_EXCL, &st))
		bench_die(-EIO, "/tr: %s", daxfs_errormsg());
	daxfs_stat(sockh, "/tr", &st);
	for (int i = 0; i < opts.reps; i++) {
		r[i] = trunc_p50(ring, st.ino, lat);
		s[i] = trunc_p50(sockh, st.ino, lat);
	}
	double a = bench_median(r, opts.reps), b = bench_median(s, opts.reps);

	emit("truncate of an unmapped 64 KiB file to 0 (STAT + SETATTR), ring, p50", "us", a,
	     "the same over the socket", b, false, "<= 20 us", a <= 20);
}

static double rtt_p50(struct daxfs *fs, double *lat)
{
	struct daxfs_statfs sf;

	for (unsigned i = 0; i < RTT_N; i++) {
		double t0 = bench_now();

		if (daxfs_statfs(fs, &sf))
			bench_die(-EIO, "statfs: %s", daxfs_errormsg());
		lat[i] = (bench_now() - t0) * 1e6;
	}
	return pct(lat, RTT_N, 0.5);
}

static void figure_rtt(struct daxfs *ring, struct daxfs *sockh, bool polling)
{
	static double lat[RTT_N];
	double r[32], s[32];

	for (int i = 0; i < opts.reps; i++) {
		r[i] = rtt_p50(ring, lat);
		s[i] = rtt_p50(sockh, lat);
	}
	double a = bench_median(r, opts.reps), b = bench_median(s, opts.reps);

	if (polling)
		emit("STATFS round trip, ring, polling on, p50", "us", a,
		     "the same over the socket", b, false, "<= 6 us", a <= 6);
	else
		emit("STATFS round trip, ring, polling off at both ends, p50", "us", a,
		     "the same over the socket", b, false, NULL, false);
}

/* --- 256 MiB into a region on disk --- */

static double run_cmd(const char *const *argv)
{
	double t0 = bench_now();
	pid_t pid = fork();
	int st;

	if (pid < 0)
		bench_die(-errno, "fork");
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		bench_die(-EIO, "%s failed (status 0x%x)", argv[0], st);
	return bench_now() - t0;
}

static void figure_put(void)
{
	const char *cli = getenv("DAXFS_CLI") ? getenv("DAXFS_CLI") : BENCH_DAXFS_CLI;
	char of[400], dst[64];
	double p[PUT_REPS], d[PUT_REPS];
	char *buf = malloc(1 << 20);
	int fd, rc;

	/* The source: 256 MiB in memory (tmpfs), so that only the destination is measured. */
	fd = open(src_path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0 || !buf)
		bench_die(-errno, "%s", src_path);
	for (unsigned i = 0; i < PUT_SIZE >> 20; i++) {
		memset(buf, (int)i, 1 << 20);
		if (write(fd, buf, 1 << 20) != 1 << 20)
			bench_die(-errno, "write %s", src_path);
	}
	close(fd);
	free(buf);
	rc = ns_mkfs(disk_region, DISK_REGION_SIZE, NULL);
	if (rc)
		bench_die(rc, "ns_mkfs %s", disk_region);
	start(disk_region, -1, false);
	snprintf(of, sizeof(of), "of=%s", dd_path);
	/*
	 * Untimed: page cache the size of all the reps, written and freed. A virtual machine's
	 * host may back guest memory only when it is first touched (here 0.39 GB/s into such
	 * pages, 3.4 GB/s into pages touched before): without this, the puts, which each fill
	 * new pages of the region file, paid for it and dd, which reuses the pages its last
	 * file freed, did not.
	 */
	{
		char count[32];
		const char *warm[] = {"/bin/dd", "if=/dev/zero", of, "bs=4M", count, NULL};

		snprintf(count, sizeof(count), "count=%u", (PUT_REPS + 1) * (PUT_SIZE >> 22));
		run_cmd(warm);
		unlink(dd_path);
	}
	bench_note("256 MiB put into %s: %d reps, and dd oflag=dsync", disk_region, PUT_REPS);
	for (int r = 0; r < PUT_REPS; r++) {
		const char *dd[] = {"/bin/dd",	 "if=/dev/zero", of,  "bs=1M",
				    "count=256", "oflag=dsync",	 NULL};

		snprintf(dst, sizeof(dst), "/put%d", r);
		const char *put[] = {cli, "--socket", sock, "put", src_path, dst, NULL};

		p[r] = run_cmd(put);
		d[r] = run_cmd(dd);
		unlink(dd_path);
	}
	bench_daemon_stop(&dpid);
	double a = bench_median(p, PUT_REPS), b = bench_median(d, PUT_REPS);

	emit("daxfs put of 256 MiB into a region on disk", "s", a,
	     "dd oflag=dsync bs=1M of 256 MiB to the same disk", b, false, "within 2x", a <= 2 * b);
}

int main(int argc, char **argv)
{
	struct daxfs *ring, *sockh;
	const char *dir = getenv("BENCH_DISK_DIR");
	int rc;

	bench_parse(argc, argv, 5, &opts);
	if (opts.reps > 32)
		opts.reps = 32;
	unsetenv("NOTIFY_SOCKET");
	snprintf(rpath, sizeof(rpath), BENCH_DIR "/daxfs-bench-ring.%d.region", (int)getpid());
	snprintf(sock, sizeof(sock), BENCH_DIR "/daxfs-bench-ring.%d.sock", (int)getpid());
	snprintf(dlog, sizeof(dlog), BENCH_DIR "/daxfs-bench-ring.%d.log", (int)getpid());
	snprintf(src_path, sizeof(src_path), BENCH_DIR "/daxfs-bench-ring.%d.src", (int)getpid());
	snprintf(disk_dir, sizeof(disk_dir), "%s", dir && *dir ? dir : "/var/tmp");
	snprintf(disk_region, sizeof(disk_region), "%s/daxfs-bench-ring.%d.region", disk_dir,
		 (int)getpid());
	snprintf(dd_path, sizeof(dd_path), "%s/daxfs-bench-ring.%d.dd", disk_dir, (int)getpid());
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	rc = ns_mkfs(rpath, REGION_SIZE, NULL);
	if (rc)
		bench_die(rc, "ns_mkfs %s", rpath);

	start(rpath, -1, false);
	ring = open_as(true, NULL);
	sockh = open_as(false, NULL);
	figure_ops(ring, sockh);
	figure_rr(ring, sockh);
	figure_truncate(ring, sockh);
	figure_rtt(ring, sockh, true);
	daxfs_close(ring);
	daxfs_close(sockh);
	bench_daemon_stop(&dpid);

	start(rpath, 0, false);
	ring = open_as(true, "0");
	sockh = open_as(false, "0");
	figure_rtt(ring, sockh, false);
	daxfs_close(ring);
	daxfs_close(sockh);
	bench_daemon_stop(&dpid);

	figure_ops_apart();
	figure_put();
	finished = true;
	return 0;
}
