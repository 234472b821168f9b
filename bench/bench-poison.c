// SPDX-License-Identifier: MIT
/*
 * bench-poison - how fast the daemon tells mappers about poison and invalidation (DESIGN §5,
 * §6), against the round trip of a trivial request on the same socket.
 *
 * The program formats an emulated region in /dev/shm (ns_mkfs), starts daxfsd on it as a
 * child (--fault-injection --map-users <our uid>), and stops it with SIGTERM at the end (it
 * must exit with status 0). Mappers are sessions of their own (one handle each, its events
 * handled by the library's event thread) in this process, all mapping the whole file.
 *
 * Figures (medians over -r repetitions, default 5; each repetition alternates the sides):
 *   - poison notification latency with 1, 8 and 32 mappers: from just before daxfs_inject()
 *     of one 4 KiB block of the mapped file to the moment the last mapper's event callback
 *     runs (after the library made the page PROT_NONE), p50 and p99 of POISON_SHOTS
 *     injections, each on a page not poisoned yet; against the p50 / p99 of a STATFS round
 *     trip (daxfs_statfs) on the injecting session;
 *   - lease-break latency of a truncate with 1 and 32 mappers: a 16-page file mapped by every
 *     mapper is truncated to 0; from the call to its return, p50 and p99, and from the call to
 *     the last mapper's callback (which the library runs right after sending its ACK), p50;
 *     against the same truncate of a file nobody maps.
 *
 * The path of daxfsd comes from meson; $DAXFSD overrides it.
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
#include "log.h"
#include "namespace.h"

#ifndef BENCH_DAXFSD
#error "meson passes BENCH_DAXFSD, the path of daxfsd"
#endif

#define REGION_SIZE (256ULL << 20)
#define REPS 5
#define MAPPERS_MAX 32
#define POISON_SHOTS 100 /* injections per repetition and mapper count */
#define POISON_PAGES 128 /* pages of the mapped file (each injection takes a fresh one) */
#define STATFS_CALLS 2000
#define LB_SHOTS 40 /* truncates per repetition and mapper count */
#define LB_PAGES 16
#define PAGE 4096ULL

static struct bench_opts opts;
static char rpath[256], sock_path[256], dlog_path[256];
static pid_t daemon_pid;
static bool finished;

/* --- the daemon --- */

static void daemon_start(void)
{
	const char *path = getenv("DAXFSD") ? getenv("DAXFSD") : BENCH_DAXFSD;
	char uid_arg[16];
	const char *argv[] = {path,	   "--region",	  rpath,   "--socket",
			      sock_path,   "--map-users", uid_arg, "--fault-injection",
			      "--workers", "16",	  NULL};

	snprintf(uid_arg, sizeof(uid_arg), "%u", (unsigned)getuid());
	daemon_pid = bench_daemon_start(argv, sock_path, dlog_path);
}

static void cleanup(void)
{
	bench_daemon_kill(&daemon_pid);
	if (!finished)
		bench_daemon_print_log(dlog_path);
	unlink(rpath);
	unlink(sock_path);
	unlink(dlog_path);
}

static void on_signal(int sig)
{
	if (daemon_pid)
		kill(daemon_pid, SIGTERM);
	unlink(rpath);
	unlink(sock_path);
	unlink(dlog_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* --- mappers --- */

/* Each mapper's callback records when it ran; the last one of a shot wakes the waiter. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int want, got;
	int type; /* the event type a shot waits for */
	double last;
} shot = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0};

struct mapper {
	struct daxfs *fs;
	struct daxfs_map *map;
};

static void on_event(void *ctx, const struct daxfs_event *ev)
{
	double t = bench_now();

	(void)ctx;
	pthread_mutex_lock(&shot.lock);
	if ((int)ev->type == shot.type) {
		if (t > shot.last)
			shot.last = t;
		if (++shot.got == shot.want)
			pthread_cond_broadcast(&shot.cond);
	}
	pthread_mutex_unlock(&shot.lock);
}

static void shot_arm(int type, int want)
{
	pthread_mutex_lock(&shot.lock);
	shot.type = type;
	shot.want = want;
	shot.got = 0;
	shot.last = 0;
	pthread_mutex_unlock(&shot.lock);
}

/* shot_wait - every mapper's callback ran (at most 30 s); Return: when the last one did. */
static double shot_wait(void)
{
	struct timespec ts;
	double last;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 30;
	pthread_mutex_lock(&shot.lock);
	while (shot.got < shot.want)
		if (pthread_cond_timedwait(&shot.cond, &shot.lock, &ts) == ETIMEDOUT)
			bench_die(0, "only %d of %d mappers were told within 30 s", shot.got,
				  shot.want);
	last = shot.last;
	pthread_mutex_unlock(&shot.lock);
	return last;
}

static struct mapper mappers[MAPPERS_MAX];

static void mappers_open(int n)
{
	for (int i = 0; i < n; i++) {
		int rc = daxfs_open(&mappers[i].fs, sock_path);

		if (rc)
			bench_die(rc, "daxfs_open: %s", daxfs_errormsg());
		daxfs_set_event_callback(mappers[i].fs, on_event, NULL);
		rc = daxfs_event_thread_start(mappers[i].fs);
		if (rc)
			bench_die(rc, "daxfs_event_thread_start");
	}
}

static void mappers_map(int n, uint64_t ino, uint64_t len)
{
	for (int i = 0; i < n; i++) {
		int rc = daxfs_map_new(mappers[i].fs, ino, 0, len, DAXFS_MAP_READ, &mappers[i].map);

		if (rc)
			bench_die(rc, "daxfs_map_new: %s", daxfs_errormsg());
	}
}

static void mappers_unmap(int n)
{
	for (int i = 0; i < n; i++)
		daxfs_map_delete(&mappers[i].map);
}

static void mappers_close(int n)
{
	for (int i = 0; i < n; i++)
		daxfs_close(mappers[i].fs);
}

/* --- helpers --- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* pct - the @p-th percentile of @v (sorted here), nearest rank. */
static double pct(double *v, int n, double p)
{
	int k = (int)(p / 100.0 * n + 0.999999) - 1;

	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

/* make_file - @path with @pages pages of bytes; Return: its inode number. */
static uint64_t make_file(struct daxfs *fs, const char *path, uint64_t pages)
{
	static char buf[POISON_PAGES * PAGE];
	struct daxfs_stat st;
	int rc;

	memset(buf, 0x6b, sizeof(buf));
	rc = daxfs_create(fs, path, 0644, DAXFS_CREATE_EXCL, &st);
	if (rc)
		bench_die(rc, "daxfs_create %s: %s", path, daxfs_errormsg());
	if (daxfs_pwrite(fs, st.ino, buf, pages * PAGE, 0) != (ssize_t)(pages * PAGE))
		bench_die(0, "daxfs_pwrite %s: %s", path, daxfs_errormsg());
	return st.ino;
}

/* region_offsets - the region offset of each page of file @ino. */
static void region_offsets(struct daxfs *fs, uint64_t ino, uint64_t *out, uint64_t pages)
{
	struct daxfs_extent *ext;
	size_t n;
	int rc = daxfs_extents(fs, ino, &ext, &n);

	if (rc)
		bench_die(rc, "daxfs_extents: %s", daxfs_errormsg());
	for (uint64_t pg = 0; pg < pages; pg++) {
		out[pg] = UINT64_MAX;
		for (size_t i = 0; i < n; i++)
			if (pg * PAGE >= ext[i].file_off &&
			    pg * PAGE < ext[i].file_off + ext[i].len)
				out[pg] = ext[i].region_off + pg * PAGE - ext[i].file_off;
		if (out[pg] == UINT64_MAX)
			bench_die(0, "page %" PRIu64 " has no block", pg);
	}
	free(ext);
}

static void pause_us(long us)
{
	struct timespec ts = {0, us * 1000};

	nanosleep(&ts, NULL);
}

/* --- poison notification --- */

/* statfs_lat - p50 and p99 of STATFS_CALLS round trips, us. */
static void statfs_lat(struct daxfs *fs, double *p50, double *p99)
{
	static double lat[STATFS_CALLS];
	struct daxfs_statfs sf;

	for (int i = 0; i < STATFS_CALLS; i++) {
		double t0 = bench_now();
		int rc = daxfs_statfs(fs, &sf);

		if (rc)
			bench_die(rc, "daxfs_statfs");
		lat[i] = (bench_now() - t0) * 1e6;
	}
	*p50 = pct(lat, STATFS_CALLS, 50);
	*p99 = pct(lat, STATFS_CALLS, 99);
}

static void figure_poison(struct daxfs *fs, int nmappers)
{
	double v50[REPS * 4], v99[REPS * 4], b50[REPS * 4], b99[REPS * 4], lat[POISON_SHOTS];
	static uint64_t offs[POISON_PAGES];
	char figure[128];

	mappers_open(nmappers);
	for (int r = 0; r < opts.reps; r++) {
		char path[64];
		uint64_t ino;

		snprintf(path, sizeof(path), "/poison-%d-%d", nmappers, r);
		ino = make_file(fs, path, POISON_PAGES);
		region_offsets(fs, ino, offs, POISON_PAGES);
		mappers_map(nmappers, ino, POISON_PAGES * PAGE);
		for (int i = 0; i < POISON_SHOTS; i++) {
			double t0, last;
			uint64_t n;
			int rc;

			shot_arm(DAXFS_EVENT_POISON, nmappers);
			t0 = bench_now();
			rc = daxfs_inject(fs, DAXFS_INJECT_POISON, NULL, offs[i], PAGE, &n);
			if (rc)
				bench_die(rc, "daxfs_inject: %s", daxfs_errormsg());
			last = shot_wait();
			lat[i] = (last - t0) * 1e6;
			pause_us(200);
		}
		v50[r] = pct(lat, POISON_SHOTS, 50);
		v99[r] = pct(lat, POISON_SHOTS, 99);
		mappers_unmap(nmappers);
		statfs_lat(fs, &b50[r], &b99[r]);
	}
	mappers_close(nmappers);
	snprintf(figure, sizeof(figure),
		 "poison notification, inject to the last of %d mapper%s callbacks, p50", nmappers,
		 nmappers == 1 ? "'s" : "s'");
	bench_emit(&(struct bench_figure){
		.bench = "poison",
		.figure = figure,
		.unit = "us",
		.value = bench_median(v50, opts.reps),
		.baseline = "STATFS round trip (daxfs_statfs), p50",
		.baseline_value = bench_median(b50, opts.reps),
		.higher_is_better = false,
		.reps = opts.reps,
	});
	figure[strlen(figure) - 3] = '\0';
	strcat(figure, "p99");
	bench_emit(&(struct bench_figure){
		.bench = "poison",
		.figure = figure,
		.unit = "us",
		.value = bench_median(v99, opts.reps),
		.baseline = "STATFS round trip (daxfs_statfs), p99",
		.baseline_value = bench_median(b99, opts.reps),
		.higher_is_better = false,
		.reps = opts.reps,
	});
}

/* --- lease break --- */

static void figure_lease(struct daxfs *fs, int nmappers)
{
	double ret[LB_SHOTS], ack[LB_SHOTS], base[LB_SHOTS];
	double r50[REPS * 4], r99[REPS * 4], a50[REPS * 4], b50[REPS * 4], b99[REPS * 4];
	char figure[128];

	mappers_open(nmappers);
	for (int r = 0; r < opts.reps; r++) {
		for (int i = 0; i < LB_SHOTS; i++) {
			double t0, t1;
			uint64_t ino;
			int rc;

			/* The mapped file. */
			ino = make_file(fs, "/lb", LB_PAGES);
			mappers_map(nmappers, ino, LB_PAGES * PAGE);
			shot_arm(DAXFS_EVENT_INVALIDATE, nmappers);
			t0 = bench_now();
			rc = daxfs_truncate(fs, "/lb", 0);
			t1 = bench_now();
			if (rc)
				bench_die(rc, "daxfs_truncate: %s", daxfs_errormsg());
			ack[i] = (shot_wait() - t0) * 1e6;
			ret[i] = (t1 - t0) * 1e6;
			mappers_unmap(nmappers);
			rc = daxfs_unlink(fs, "/lb");
			if (rc)
				bench_die(rc, "daxfs_unlink: %s", daxfs_errormsg());

			/* The baseline: the same file, nobody maps it. */
			make_file(fs, "/lb", LB_PAGES);
			t0 = bench_now();
			rc = daxfs_truncate(fs, "/lb", 0);
			base[i] = (bench_now() - t0) * 1e6;
			if (rc)
				bench_die(rc, "daxfs_truncate: %s", daxfs_errormsg());
			rc = daxfs_unlink(fs, "/lb");
			if (rc)
				bench_die(rc, "daxfs_unlink: %s", daxfs_errormsg());
		}
		r50[r] = pct(ret, LB_SHOTS, 50);
		r99[r] = pct(ret, LB_SHOTS, 99);
		a50[r] = pct(ack, LB_SHOTS, 50);
		b50[r] = pct(base, LB_SHOTS, 50);
		b99[r] = pct(base, LB_SHOTS, 99);
	}
	mappers_close(nmappers);
	snprintf(figure, sizeof(figure), "truncate of a file %d mapper%s map, call to return, p50",
		 nmappers, nmappers == 1 ? "" : "s");
	bench_emit(&(struct bench_figure){
		.bench = "poison",
		.figure = figure,
		.unit = "us",
		.value = bench_median(r50, opts.reps),
		.baseline = "the same truncate, nobody maps the file, p50",
		.baseline_value = bench_median(b50, opts.reps),
		.higher_is_better = false,
		.reps = opts.reps,
	});
	snprintf(figure, sizeof(figure), "truncate of a file %d mapper%s map, call to return, p99",
		 nmappers, nmappers == 1 ? "" : "s");
	bench_emit(&(struct bench_figure){
		.bench = "poison",
		.figure = figure,
		.unit = "us",
		.value = bench_median(r99, opts.reps),
		.baseline = "the same truncate, nobody maps the file, p99",
		.baseline_value = bench_median(b99, opts.reps),
		.higher_is_better = false,
		.reps = opts.reps,
	});
	snprintf(figure, sizeof(figure),
		 "truncate of a file %d mapper%s map, call to the last ack (callback), p50",
		 nmappers, nmappers == 1 ? "" : "s");
	bench_emit(&(struct bench_figure){
		.bench = "poison",
		.figure = figure,
		.unit = "us",
		.value = bench_median(a50, opts.reps),
		.baseline = "the same truncate, nobody maps the file, p50",
		.baseline_value = bench_median(b50, opts.reps),
		.higher_is_better = false,
		.reps = opts.reps,
	});
}

int main(int argc, char **argv)
{
	static const int poison_mappers[] = {1, 8, 32}, lease_mappers[] = {1, 32};
	struct daxfs *fs;
	int rc;

	bench_parse(argc, argv, REPS, &opts);
	if (opts.reps > REPS * 4)
		opts.reps = REPS * 4;
	log_set_level(LOG_LVL_WARNING);
	unsetenv("NOTIFY_SOCKET");
	snprintf(rpath, sizeof(rpath), BENCH_DIR "/daxfs-bench-poison.%d.region", (int)getpid());
	snprintf(sock_path, sizeof(sock_path), BENCH_DIR "/daxfs-bench-poison.%d.sock",
		 (int)getpid());
	snprintf(dlog_path, sizeof(dlog_path), BENCH_DIR "/daxfs-bench-poison.%d.log",
		 (int)getpid());
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	rc = ns_mkfs(rpath, REGION_SIZE, NULL);
	if (rc)
		bench_die(rc, "ns_mkfs %s", rpath);
	daemon_start();
	rc = daxfs_open(&fs, sock_path);
	if (rc)
		bench_die(rc, "daxfs_open %s: %s", sock_path, daxfs_errormsg());
	for (size_t i = 0; i < sizeof(poison_mappers) / sizeof(poison_mappers[0]); i++) {
		bench_note("poison notification, %d mappers", poison_mappers[i]);
		figure_poison(fs, poison_mappers[i]);
	}
	for (size_t i = 0; i < sizeof(lease_mappers) / sizeof(lease_mappers[0]); i++) {
		bench_note("lease break, %d mappers", lease_mappers[i]);
		figure_lease(fs, lease_mappers[i]);
	}
	daxfs_close(fs);
	bench_daemon_stop(&daemon_pid);
	finished = true;
	return 0;
}
