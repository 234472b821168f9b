// SPDX-License-Identifier: MIT
/*
 * bench-client - the client's view: libdaxfs talking to a real daxfsd, against the same work
 * done with syscalls on tmpfs (or on plain DRAM) in the same run.
 *
 * The program formats an emulated region in /dev/shm (ns_mkfs), starts daxfsd on it as a
 * child (--map-users <our uid>), waits until its socket accepts a session, and stops it with
 * SIGTERM at the end (it must exit with status 0). The daemon's log goes to a file in
 * /dev/shm that is printed when something fails.
 *
 * Figures (the sides alternate, -r times, default 5; medians):
 *   - create + stat + unlink of one name (daxfs_create EXCL, daxfs_stat, daxfs_unlink)
 *     against open(O_CREAT|O_EXCL) + close, stat, unlink in a tmpfs directory, cycles/s:
 *     with polling on (daxfsd and libdaxfs defaults), with polling off (daxfsd --poll-us 0,
 *     DAXFS_SPIN_US=0; a daemon of its own on the same region), and with CLIENT_THREADS
 *     threads sharing one handle (requests of one session in flight together; polling on)
 *     against the same threads on tmpfs;
 *   - 4 KiB reads at random 4 KiB-aligned offsets of a 256 MiB file over the copy path
 *     (daxfs_pread) against pread(2) of a tmpfs file of the same size: p50 and p99 latency
 *     and reads/s;
 *   - sequential read of a 1 GiB file through one read mapping (daxfs_map_new of the whole
 *     file, memcpy into a 2 MiB buffer in 2 MiB chunks; the mapping is warmed by one pass
 *     first) against the same memcpy loop over a 1 GiB DRAM buffer (malloc), against
 *     pread(2) of a tmpfs file in 1 MiB chunks, and against the memcpy loop over a plain
 *     mmap of that tmpfs file (the kind of memory an emulated region is), GiB/s.
 *
 * The daxfs side is durable when each call returns (an msync per commit on an emulated
 * region); tmpfs is not. The path of daxfsd comes from meson; $DAXFSD overrides it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <daxfs/daxfs.h>

#include "bench-daemon.h"
#include "bench.h"
#include "log.h"
#include "namespace.h"

#ifndef BENCH_DAXFSD
#error "meson passes BENCH_DAXFSD, the path of daxfsd"
#endif

#define CLIENT_REGION_SIZE (1536ULL << 20) /* the two data files, the log, and slack */
#define CLIENT_REPS 5
#define CLIENT_THREADS 4 /* threads sharing one handle in the pipelined figure */
#define STR_(x) #x
#define STR(x) STR_(x)

#define OPS_RUN_SECONDS 0.5	   /* one repetition of one side */
#define OPS_CALIBRATE 200	   /* cycles per thread per calibration batch */
#define OPS_CALIBRATE_SECONDS 0.15 /* calibration (and warm-up) time of each side */
#define OPS_MAX_ITERS 2000000

#define RR_FILE_SIZE (256ULL << 20)
#define RR_IO 4096
#define RR_RUN_SECONDS 0.4
#define RR_CALIBRATE 2000
#define RR_CALIBRATE_SECONDS 0.15
#define RR_MAX_READS 2000000

#define SEQ_FILE_SIZE (1ULL << 30)
#define SEQ_CHUNK (2ULL << 20)	     /* memcpy chunk out of the mapping / the DRAM buffer */
#define SEQ_PREAD_CHUNK (1ULL << 20) /* pread chunk of the tmpfs side */
#define SEQ_WRITE_CHUNK (4ULL << 20) /* pwrite chunk when writing the tmpfs file */

enum side { SIDE_DAXFS, SIDE_TMPFS };

static struct bench_opts opts;
static char rpath[256];	    /* the region */
static char sock_path[256]; /* daxfsd's socket */
static char dlog_path[256]; /* daxfsd's stdout and stderr */
static char tdir[256];	    /* the tmpfs directory of the baselines */
static char rr_tpath[320], seq_tpath[320];
static pid_t daemon_pid;
static bool finished; /* main got to the end: no daemon log on exit */

/* --- the daemon --- */

/* daemon_start - run daxfsd on the region (with --poll-us @poll_us when it is not negative). */
static void daemon_start(int poll_us)
{
	const char *path = getenv("DAXFSD") ? getenv("DAXFSD") : BENCH_DAXFSD;
	char poll_arg[16], uid_arg[16];
	const char *argv[12];
	int n = 0;

	snprintf(poll_arg, sizeof(poll_arg), "%d", poll_us);
	snprintf(uid_arg, sizeof(uid_arg), "%u", (unsigned)getuid());
	argv[n++] = path;
	argv[n++] = "--region";
	argv[n++] = rpath;
	argv[n++] = "--socket";
	argv[n++] = sock_path;
	argv[n++] = "--map-users";
	argv[n++] = uid_arg;
	if (poll_us >= 0) {
		argv[n++] = "--poll-us";
		argv[n++] = poll_arg;
	}
	argv[n] = NULL;
	daemon_pid = bench_daemon_start(argv, sock_path, dlog_path);
}

/* open_session - a new session; @spin_us < 0: libdaxfs' default spin, else $DAXFS_SPIN_US. */
static struct daxfs *open_session(int spin_us)
{
	struct daxfs *fs;
	char v[16];
	int rc;

	if (spin_us < 0) {
		unsetenv("DAXFS_SPIN_US");
	} else {
		snprintf(v, sizeof(v), "%d", spin_us);
		setenv("DAXFS_SPIN_US", v, 1);
	}
	rc = daxfs_open(&fs, sock_path);
	if (rc)
		bench_die(rc, "daxfs_open %s: %s", sock_path, daxfs_errormsg());
	return fs;
}

static void cleanup(void)
{
	struct dirent *de;
	DIR *dir;

	bench_daemon_kill(&daemon_pid);
	if (!finished)
		bench_daemon_print_log(dlog_path);
	unlink(rpath);
	unlink(sock_path);
	unlink(dlog_path);
	/* The baselines' files, also a cycle's file when a failure stopped it half-way. */
	dir = opendir(tdir);
	while (dir && (de = readdir(dir))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd(dir), de->d_name, 0);
	}
	if (dir)
		closedir(dir);
	rmdir(tdir);
}

/* on_signal - stop the daemon, remove the files, die of @sig (async-signal-safe calls only). */
static void on_signal(int sig)
{
	if (daemon_pid)
		kill(daemon_pid, SIGTERM);
	unlink(rpath);
	unlink(sock_path);
	unlink(dlog_path);
	unlink(rr_tpath);
	unlink(seq_tpath);
	rmdir(tdir);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* --- create + stat + unlink --- */

/* cycle_daxfs - create, stat and unlink @path through libdaxfs. */
static void cycle_daxfs(struct daxfs *fs, const char *path)
{
	struct daxfs_stat st;
	int rc;

	rc = daxfs_create(fs, path, 0644, DAXFS_CREATE_EXCL, NULL);
	if (rc)
		bench_die(rc, "daxfs_create %s: %s", path, daxfs_errormsg());
	rc = daxfs_stat(fs, path, &st);
	if (rc)
		bench_die(rc, "daxfs_stat %s: %s", path, daxfs_errormsg());
	rc = daxfs_unlink(fs, path);
	if (rc)
		bench_die(rc, "daxfs_unlink %s: %s", path, daxfs_errormsg());
}

/* cycle_tmpfs - the same with syscalls on tmpfs. */
static void cycle_tmpfs(const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		bench_die(-errno, "open %s", path);
	close(fd);
	if (stat(path, &st))
		bench_die(-errno, "stat %s", path);
	if (unlink(path))
		bench_die(-errno, "unlink %s", path);
}

struct ops_job {
	enum side side;
	struct daxfs *fs;
	unsigned tid;
	uint64_t n;
	pthread_barrier_t *go;
};

/* ops_loop - @j->n cycles on names of thread @j->tid. */
static void ops_loop(const struct ops_job *j)
{
	char path[400];

	for (uint64_t i = 0; i < j->n; i++) {
		if (j->side == SIDE_DAXFS) {
			snprintf(path, sizeof(path), "/c%u.%" PRIu64, j->tid, i);
			cycle_daxfs(j->fs, path);
		} else {
			snprintf(path, sizeof(path), "%s/c%u.%" PRIu64, tdir, j->tid, i);
			cycle_tmpfs(path);
		}
	}
}

static void *ops_thread(void *arg)
{
	struct ops_job *j = arg;

	pthread_barrier_wait(j->go);
	ops_loop(j);
	return NULL;
}

/*
 * run_ops - @n cycles in each of @nthreads threads (all on handle @fs for daxfs), started
 * together. Return: seconds from the start to the end of the last thread.
 */
static double run_ops(enum side side, struct daxfs *fs, unsigned nthreads, uint64_t n)
{
	struct ops_job jobs[CLIENT_THREADS];
	pthread_t th[CLIENT_THREADS];
	pthread_barrier_t go;
	double t0;
	int err;

	if (nthreads == 1) {
		struct ops_job j = {.side = side, .fs = fs, .n = n};

		t0 = bench_now();
		ops_loop(&j);
		return bench_now() - t0;
	}
	pthread_barrier_init(&go, NULL, nthreads + 1);
	for (unsigned t = 0; t < nthreads; t++) {
		jobs[t] = (struct ops_job){.side = side, .fs = fs, .tid = t, .n = n, .go = &go};
		err = pthread_create(&th[t], NULL, ops_thread, &jobs[t]);
		if (err)
			bench_die(-err, "pthread_create");
	}
	pthread_barrier_wait(&go);
	t0 = bench_now();
	for (unsigned t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
	t0 = bench_now() - t0;
	pthread_barrier_destroy(&go);
	return t0;
}

/* ops_iters - cycles per thread that take about OPS_RUN_SECONDS (warms up meanwhile). */
static uint64_t ops_iters(enum side side, struct daxfs *fs, unsigned nthreads)
{
	double secs = 0, n;
	uint64_t done = 0;

	while (secs < OPS_CALIBRATE_SECONDS) {
		secs += run_ops(side, fs, nthreads, OPS_CALIBRATE);
		done += OPS_CALIBRATE;
	}
	n = OPS_RUN_SECONDS * (double)done / secs;
	if (n < OPS_CALIBRATE)
		return OPS_CALIBRATE;
	if (n > OPS_MAX_ITERS)
		return OPS_MAX_ITERS;
	return (uint64_t)n;
}

/* figure_ops - measure create+stat+unlink on @fs against tmpfs and print the figure. */
static void figure_ops(struct daxfs *fs, unsigned nthreads, const char *figure,
		       const char *baseline)
{
	double vd[1000], vt[1000], d, t;
	uint64_t nd, nt;

	nd = ops_iters(SIDE_DAXFS, fs, nthreads);
	nt = ops_iters(SIDE_TMPFS, NULL, nthreads);
	bench_note("%s: %d reps of %u x %" PRIu64 " (daxfs) and %u x %" PRIu64 " (tmpfs) cycles",
		   figure, opts.reps, nthreads, nd, nthreads, nt);
	for (int r = 0; r < opts.reps; r++) {
		vd[r] = (double)(nd * nthreads) / run_ops(SIDE_DAXFS, fs, nthreads, nd);
		vt[r] = (double)(nt * nthreads) / run_ops(SIDE_TMPFS, NULL, nthreads, nt);
	}
	d = bench_median(vd, opts.reps);
	t = bench_median(vt, opts.reps);
	bench_emit(&(struct bench_figure){
		.bench = "client",
		.figure = figure,
		.unit = "ops/s",
		.value = d,
		.baseline = baseline,
		.baseline_value = t,
		.higher_is_better = true,
		.reps = opts.reps,
		.goal = "ratio >= 0.5",
		.goal_met = d >= 0.5 * t,
	});
}

/* --- random 4 KiB reads --- */

struct rr_result {
	double p50, p99; /* us */
	double rate;	 /* reads/s */
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * run_rr - @n reads of RR_IO bytes at random aligned offsets, each timed into @lat (us).
 * Return: p50, p99 and the rate.
 */
static struct rr_result run_rr(enum side side, struct daxfs *fs, uint64_t ino, int fd, uint64_t n,
			       double *lat, uint64_t *rng)
{
	static char buf[RR_IO] __attribute__((aligned(4096)));
	const uint64_t pages = RR_FILE_SIZE / RR_IO;
	struct rr_result res;
	double t0 = bench_now(), a = t0, b = t0;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t off = bench_rng(rng) % pages * RR_IO;
		ssize_t r;

		if (side == SIDE_DAXFS)
			r = daxfs_pread(fs, ino, buf, RR_IO, off);
		else
			r = pread(fd, buf, RR_IO, (off_t)off);
		b = bench_now();
		if (r != RR_IO)
			bench_die(r < 0 ? (side == SIDE_DAXFS ? (int)r : -errno) : 0,
				  "%s at %" PRIu64 ": %zd",
				  side == SIDE_DAXFS ? "daxfs_pread" : "pread", off, r);
		lat[i] = (b - a) * 1e6;
		a = b;
	}
	res.rate = (double)n / (b - t0);
	bench_sink((uint64_t)buf[0]);
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	res.p50 = lat[n / 2];
	res.p99 = lat[(size_t)((double)n * 0.99)];
	return res;
}

/* rr_reads - reads that take about RR_RUN_SECONDS (warms up meanwhile). */
static uint64_t rr_reads(enum side side, struct daxfs *fs, uint64_t ino, int fd, double *lat,
			 uint64_t *rng)
{
	double secs = 0, n;
	uint64_t done = 0;

	while (secs < RR_CALIBRATE_SECONDS) {
		secs += (double)RR_CALIBRATE /
			run_rr(side, fs, ino, fd, RR_CALIBRATE, lat, rng).rate;
		done += RR_CALIBRATE;
	}
	n = RR_RUN_SECONDS * (double)done / secs;
	if (n < RR_CALIBRATE)
		return RR_CALIBRATE;
	if (n > RR_MAX_READS)
		return RR_MAX_READS;
	return (uint64_t)n;
}

/* write_tmpfs_file - @size bytes of @byte at @path, in SEQ_WRITE_CHUNK pwrites. */
static void write_tmpfs_file(const char *path, uint64_t size, int byte)
{
	char *buf = malloc(SEQ_WRITE_CHUNK);
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);

	if (!buf)
		bench_die(-ENOMEM, "malloc");
	if (fd < 0)
		bench_die(-errno, "open %s", path);
	memset(buf, byte, SEQ_WRITE_CHUNK);
	for (uint64_t off = 0; off < size; off += SEQ_WRITE_CHUNK) {
		if (pwrite(fd, buf, SEQ_WRITE_CHUNK, (off_t)off) != (ssize_t)SEQ_WRITE_CHUNK)
			bench_die(-errno, "pwrite %s", path);
	}
	close(fd);
	free(buf);
}

static void figure_rr(struct daxfs *fs)
{
	struct rr_result vd[1000], vt[1000];
	double a[1000], b[1000], med_d[3], med_t[3];
	uint64_t rng = 0x9e3779b97f4a7c15ULL, nd, nt, ino;
	struct daxfs_stat st;
	double *lat;
	char *buf;
	int rc, fd;

	/* The daxfs file, written through the copy path (the shared buffer, 4 MiB a request). */
	rc = daxfs_create(fs, "/rr", 0644, DAXFS_CREATE_EXCL, &st);
	if (rc)
		bench_die(rc, "daxfs_create /rr: %s", daxfs_errormsg());
	ino = st.ino;
	buf = malloc(SEQ_WRITE_CHUNK);
	if (!buf)
		bench_die(-ENOMEM, "malloc");
	memset(buf, 0x3c, SEQ_WRITE_CHUNK);
	for (uint64_t off = 0; off < RR_FILE_SIZE; off += SEQ_WRITE_CHUNK) {
		ssize_t w = daxfs_pwrite(fs, ino, buf, SEQ_WRITE_CHUNK, off);

		if (w != (ssize_t)SEQ_WRITE_CHUNK)
			bench_die(w < 0 ? (int)w : 0, "daxfs_pwrite /rr: %s", daxfs_errormsg());
	}
	free(buf);
	write_tmpfs_file(rr_tpath, RR_FILE_SIZE, 0x3c);
	fd = open(rr_tpath, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		bench_die(-errno, "open %s", rr_tpath);

	lat = malloc(RR_MAX_READS * sizeof(*lat));
	if (!lat)
		bench_die(-ENOMEM, "malloc");
	nd = rr_reads(SIDE_DAXFS, fs, ino, -1, lat, &rng);
	nt = rr_reads(SIDE_TMPFS, NULL, 0, fd, lat, &rng);
	bench_note("random 4K reads: %d reps of %" PRIu64 " (daxfs) and %" PRIu64 " (tmpfs) reads",
		   opts.reps, nd, nt);
	for (int r = 0; r < opts.reps; r++) {
		vd[r] = run_rr(SIDE_DAXFS, fs, ino, -1, nd, lat, &rng);
		vt[r] = run_rr(SIDE_TMPFS, NULL, 0, fd, nt, lat, &rng);
	}
	free(lat);
	close(fd);
	unlink(rr_tpath);
	rc = daxfs_unlink(fs, "/rr");
	if (rc)
		bench_die(rc, "daxfs_unlink /rr: %s", daxfs_errormsg());

	/* Medians of each statistic over the repetitions. */
	for (int k = 0; k < 3; k++) {
		for (int r = 0; r < opts.reps; r++) {
			a[r] = k == 0 ? vd[r].p50 : k == 1 ? vd[r].p99 : vd[r].rate;
			b[r] = k == 0 ? vt[r].p50 : k == 1 ? vt[r].p99 : vt[r].rate;
		}
		med_d[k] = bench_median(a, opts.reps);
		med_t[k] = bench_median(b, opts.reps);
	}
	bench_emit(&(struct bench_figure){
		.bench = "client",
		.figure = "random 4K read (copy path), 256 MiB file, p50 latency",
		.unit = "us",
		.value = med_d[0],
		.baseline = "tmpfs pread",
		.baseline_value = med_t[0],
		.higher_is_better = false,
		.reps = opts.reps,
	});
	bench_emit(&(struct bench_figure){
		.bench = "client",
		.figure = "random 4K read (copy path), 256 MiB file, p99 latency",
		.unit = "us",
		.value = med_d[1],
		.baseline = "tmpfs pread",
		.baseline_value = med_t[1],
		.higher_is_better = false,
		.reps = opts.reps,
	});
	bench_emit(&(struct bench_figure){
		.bench = "client",
		.figure = "random 4K read (copy path), 256 MiB file, rate",
		.unit = "reads/s",
		.value = med_d[2],
		.baseline = "tmpfs pread",
		.baseline_value = med_t[2],
		.higher_is_better = true,
		.reps = opts.reps,
	});
}

/* --- sequential read of 1 GiB --- */

/* copy_out - memcpy @size bytes of @src into @dst in SEQ_CHUNK pieces; Return: seconds. */
static double copy_out(char *dst, const char *src, uint64_t size)
{
	double t0 = bench_now();

	for (uint64_t off = 0; off < size; off += SEQ_CHUNK) {
		memcpy(dst, src + off, SEQ_CHUNK);
		/* The copy must happen: the compiler has to assume @dst is read here. */
		bench_sink((uint64_t)(uintptr_t)dst);
	}
	return bench_now() - t0;
}

/* minor_faults - the process's minor page faults so far. */
static long minor_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* pread_all - read @size bytes of @fd in SEQ_PREAD_CHUNK preads; Return: seconds. */
static double pread_all(int fd, char *dst, uint64_t size)
{
	double t0 = bench_now();

	for (uint64_t off = 0; off < size; off += SEQ_PREAD_CHUNK) {
		if (pread(fd, dst, SEQ_PREAD_CHUNK, (off_t)off) != (ssize_t)SEQ_PREAD_CHUNK)
			bench_die(-errno, "pread %s at %" PRIu64, seq_tpath, off);
		bench_sink((uint64_t)(uintptr_t)dst);
	}
	return bench_now() - t0;
}

static void figure_seq(struct daxfs *fs)
{
	const double gib = (double)SEQ_FILE_SIZE / (double)(1ULL << 30);
	double vd[1000], vm[1000], vt[1000], vs[1000], d, m, t, sh;
	long faults = 0;
	struct daxfs_map *map;
	struct daxfs_stat st;
	char *dram, *dst;
	const char *view, *shm;
	int rc, fd;

	/* Write the file once through a write mapping, and make it durable. */
	rc = daxfs_create(fs, "/seq", 0644, DAXFS_CREATE_EXCL, &st);
	if (rc)
		bench_die(rc, "daxfs_create /seq: %s", daxfs_errormsg());
	rc = daxfs_map_new(fs, st.ino, 0, SEQ_FILE_SIZE, DAXFS_MAP_READ | DAXFS_MAP_WRITE, &map);
	if (rc)
		bench_die(rc, "daxfs_map_new /seq (write): %s", daxfs_errormsg());
	memset(daxfs_map_addr(map), 0x5a, SEQ_FILE_SIZE);
	daxfs_map_persist(map, daxfs_map_addr(map), SEQ_FILE_SIZE);
	daxfs_map_delete(&map);

	rc = daxfs_map_new(fs, st.ino, 0, SEQ_FILE_SIZE, DAXFS_MAP_READ, &map);
	if (rc)
		bench_die(rc, "daxfs_map_new /seq (read): %s", daxfs_errormsg());
	view = daxfs_map_addr(map);

	write_tmpfs_file(seq_tpath, SEQ_FILE_SIZE, 0x5a);
	fd = open(seq_tpath, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		bench_die(-errno, "open %s", seq_tpath);
	shm = mmap(NULL, SEQ_FILE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (shm == MAP_FAILED)
		bench_die(-errno, "mmap %s", seq_tpath);
	dram = malloc(SEQ_FILE_SIZE);
	dst = aligned_alloc(4096, SEQ_CHUNK);
	if (!dram || !dst)
		bench_die(-ENOMEM, "malloc");
	memset(dram, 0x5a, SEQ_FILE_SIZE);
	memset(dst, 0, SEQ_CHUNK);

	/* One warm-up pass of each (the mapping's page tables fill here). */
	copy_out(dst, view, SEQ_FILE_SIZE);
	copy_out(dst, dram, SEQ_FILE_SIZE);
	pread_all(fd, dst, SEQ_FILE_SIZE);
	copy_out(dst, shm, SEQ_FILE_SIZE);
	bench_note("sequential 1 GiB read: %d reps", opts.reps);
	for (int r = 0; r < opts.reps; r++) {
		long flt = minor_faults();

		vd[r] = gib / copy_out(dst, view, SEQ_FILE_SIZE);
		faults += minor_faults() - flt;
		vm[r] = gib / copy_out(dst, dram, SEQ_FILE_SIZE);
		vt[r] = gib / pread_all(fd, dst, SEQ_FILE_SIZE);
		vs[r] = gib / copy_out(dst, shm, SEQ_FILE_SIZE);
	}
	bench_note("page faults during the measured passes over the mapping: %ld", faults);
	if (memcmp(dst, view, SEQ_CHUNK))
		bench_die(0, "the mapping of /seq does not hold what was written");
	daxfs_map_delete(&map);
	munmap((void *)shm, SEQ_FILE_SIZE);
	free(dram);
	free(dst);
	close(fd);
	unlink(seq_tpath);
	rc = daxfs_unlink(fs, "/seq");
	if (rc)
		bench_die(rc, "daxfs_unlink /seq: %s", daxfs_errormsg());

	d = bench_median(vd, opts.reps);
	m = bench_median(vm, opts.reps);
	t = bench_median(vt, opts.reps);
	sh = bench_median(vs, opts.reps);
	bench_emit(&(struct bench_figure){
		.bench = "client",
		.figure = "sequential read 1 GiB through a read mapping (memcpy, 2 MiB chunks)",
		.unit = "GiB/s",
		.value = d,
		.baseline = "the same memcpy loop over a 1 GiB DRAM buffer",
		.baseline_value = m,
		.higher_is_better = true,
		.reps = opts.reps,
		.goal = "ratio >= 0.9",
		.goal_met = d >= 0.9 * m,
	});
	bench_emit(&(struct bench_figure){
		.bench = "client",
		.figure = "sequential read 1 GiB through a read mapping (memcpy, 2 MiB chunks)",
		.unit = "GiB/s",
		.value = d,
		.baseline = "tmpfs pread, 1 MiB chunks",
		.baseline_value = t,
		.higher_is_better = true,
		.reps = opts.reps,
	});
	bench_emit(&(struct bench_figure){
		.bench = "client",
		.figure = "sequential read 1 GiB through a read mapping (memcpy, 2 MiB chunks)",
		.unit = "GiB/s",
		.value = d,
		.baseline = "the same memcpy loop over an mmap of a 1 GiB tmpfs file",
		.baseline_value = sh,
		.higher_is_better = true,
		.reps = opts.reps,
	});
}

int main(int argc, char **argv)
{
	struct daxfs *fs;
	int rc;

	bench_parse(argc, argv, CLIENT_REPS, &opts);
	log_set_level(LOG_LVL_WARNING);
	/* The daemon must not report to whatever systemd started us. */
	unsetenv("NOTIFY_SOCKET");
	snprintf(rpath, sizeof(rpath), BENCH_DIR "/daxfs-bench-client.%d.region", (int)getpid());
	snprintf(sock_path, sizeof(sock_path), BENCH_DIR "/daxfs-bench-client.%d.sock",
		 (int)getpid());
	snprintf(dlog_path, sizeof(dlog_path), BENCH_DIR "/daxfs-bench-client.%d.log",
		 (int)getpid());
	snprintf(tdir, sizeof(tdir), BENCH_DIR "/daxfs-bench-client.%d.tmpfs", (int)getpid());
	snprintf(rr_tpath, sizeof(rr_tpath), "%s/rr", tdir);
	snprintf(seq_tpath, sizeof(seq_tpath), "%s/seq", tdir);
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (mkdir(tdir, 0700))
		bench_die(-errno, "mkdir %s", tdir);
	rc = ns_mkfs(rpath, CLIENT_REGION_SIZE, NULL);
	if (rc)
		bench_die(rc, "ns_mkfs %s", rpath);

	/* Polling off at both ends: a daemon of its own. */
	daemon_start(0);
	fs = open_session(0);
	figure_ops(fs, 1, "create+stat+unlink, polling off", "tmpfs open+close, stat, unlink");
	daxfs_close(fs);
	bench_daemon_stop(&daemon_pid);

	/* The defaults from here on. */
	daemon_start(-1);
	fs = open_session(-1);
	figure_ops(fs, 1, "create+stat+unlink, polling on", "tmpfs open+close, stat, unlink");
	figure_ops(
		fs, CLIENT_THREADS,
		"create+stat+unlink, pipelined: " STR(CLIENT_THREADS) " threads sharing one handle",
		STR(CLIENT_THREADS) " threads: tmpfs open+close, stat, unlink");
	figure_rr(fs);
	figure_seq(fs);
	daxfs_close(fs);
	bench_daemon_stop(&daemon_pid);
	finished = true;
	return 0;
}
