// SPDX-License-Identifier: MIT
/*
 * bench-replica - what a replica costs (DESIGN §13): the same requests against a daxfsd
 * whose region has a replica and against one whose region has none, in the same run.
 *
 * The program formats two emulated regions in /dev/shm (ns_mkfs), one of them with a
 * replica there too, starts a daxfsd on each (--map-users <our uid> --fault-injection) and
 * stops them with SIGTERM at the end (each must exit with status 0). Repetitions alternate
 * the two daemons; the medians are reported.
 *
 * Figures (value: with a replica; baseline: without):
 *   - copy write, 1 MiB sequential: a 64 MiB file written with 1 MiB daxfs_pwrite calls
 *     (then removed), MiB/s;
 *   - create + write 4 KiB + unlink through libdaxfs, operations per second;
 *   - mapped write + persist: 4 KiB stored through a write mapping, then daxfs_map_persist
 *     of those 4 KiB (with a replica, a MAP_PERSIST round trip), per second; the session
 *     runs the library's event thread, as a mapper should, so its requests use the ring;
 *   - repair of one poisoned 4 KiB block: a daxfs_pread of a page whose block was poisoned
 *     unnoticed (inject media), which reads the replica and repairs the block before it
 *     answers, p50; against the same pread of a healthy page.
 *
 * The path of daxfsd comes from meson; $DAXFSD overrides it.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <daxfs/daxfs.h>

#include "bench-daemon.h"
#include "bench.h"
#include "log.h"
#include "namespace.h"

#ifndef BENCH_DAXFSD
#error "meson passes BENCH_DAXFSD, the path of daxfsd"
#endif

#define REGION_SIZE (512ULL << 20)
#define REPS 5
#define PAGE 4096ULL
#define BIG_FILE (64ULL << 20)
#define CHUNK (1ULL << 20)
#define CREATES 3000
#define MAPPED_PAGES 4096 /* 16 MiB mapped */
#define REPAIRS 64

struct side {
	const char *name;
	char region[256], replica[256], sock[256], log[256];
	pid_t pid;
	struct daxfs *fs;
};

static struct bench_opts opts;
static struct side sides[2] = {{.name = "plain"}, {.name = "replica"}};
static bool finished;
static char *chunk;

static void cleanup(void)
{
	for (int i = 0; i < 2; i++) {
		struct side *s = &sides[i];

		if (s->fs)
			daxfs_close(s->fs);
		bench_daemon_kill(&s->pid);
		if (!finished && s->log[0])
			bench_daemon_print_log(s->log);
		unlink(s->region);
		unlink(s->replica);
		unlink(s->sock);
		unlink(s->log);
	}
}

static void on_signal(int sig)
{
	for (int i = 0; i < 2; i++)
		if (sides[i].pid)
			kill(sides[i].pid, SIGTERM);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void side_start(struct side *s, bool replica)
{
	const char *path = getenv("DAXFSD") ? getenv("DAXFSD") : BENCH_DAXFSD;
	struct ns_mkfs_opts mo = {0};
	char uid_arg[16];
	const char *argv[] = {path,	  "--region",	   s->region, "--socket",
			      s->sock,	  "--map-users",   uid_arg,   "--fault-injection",
			      "--workers", "16",	   replica ? "--replica" : NULL,
			      s->replica, NULL};
	int rc;

	snprintf(s->region, sizeof(s->region), BENCH_DIR "/daxfs-bench-replica.%d.%s.region",
		 (int)getpid(), s->name);
	snprintf(s->replica, sizeof(s->replica), BENCH_DIR "/daxfs-bench-replica.%d.%s.replica",
		 (int)getpid(), s->name);
	snprintf(s->sock, sizeof(s->sock), BENCH_DIR "/daxfs-bench-replica.%d.%s.sock",
		 (int)getpid(), s->name);
	snprintf(s->log, sizeof(s->log), BENCH_DIR "/daxfs-bench-replica.%d.%s.log",
		 (int)getpid(), s->name);
	snprintf(uid_arg, sizeof(uid_arg), "%u", (unsigned)getuid());
	mo.replica = replica ? s->replica : NULL;
	rc = ns_mkfs(s->region, REGION_SIZE, &mo);
	if (rc)
		bench_die(rc, "ns_mkfs %s", s->region);
	s->pid = bench_daemon_start(argv, s->sock, s->log);
	rc = daxfs_open(&s->fs, s->sock);
	if (rc)
		bench_die(rc, "daxfs_open %s: %s", s->sock, daxfs_errormsg());
	/* A mapper handles its events on a thread: requests keep the ring while it maps. */
	rc = daxfs_event_thread_start(s->fs);
	if (rc)
		bench_die(rc, "daxfs_event_thread_start: %s", daxfs_errormsg());
	if (replica) {
		struct daxfs_replica r;

		rc = daxfs_replica_status(s->fs, &r);
		if (rc || r.state != DAXFS_REPLICA_INSYNC)
			bench_die(rc, "the replica of %s is not in sync", s->region);
	}
}

/* --- the figures: one repetition on one side each; return the rate or the time --- */

static double copy_write(struct side *s)
{
	struct daxfs_stat st;
	double t0, t;
	int rc = daxfs_create(s->fs, "/big", 0644, DAXFS_CREATE_EXCL, &st);

	if (rc)
		bench_die(rc, "create /big: %s", daxfs_errormsg());
	t0 = bench_now();
	for (uint64_t off = 0; off < BIG_FILE; off += CHUNK)
		if (daxfs_pwrite(s->fs, st.ino, chunk, CHUNK, off) != (ssize_t)CHUNK)
			bench_die(-EIO, "pwrite: %s", daxfs_errormsg());
	t = bench_now() - t0;
	rc = daxfs_unlink(s->fs, "/big");
	if (rc)
		bench_die(rc, "unlink /big: %s", daxfs_errormsg());
	return (double)BIG_FILE / (1 << 20) / t;
}

static double create_write_unlink(struct side *s)
{
	double t0 = bench_now();

	for (int i = 0; i < CREATES; i++) {
		struct daxfs_stat st;
		int rc = daxfs_create(s->fs, "/f", 0644, DAXFS_CREATE_EXCL, &st);

		if (rc == 0 && daxfs_pwrite(s->fs, st.ino, chunk, PAGE, 0) != (ssize_t)PAGE)
			rc = -EIO;
		if (rc == 0)
			rc = daxfs_unlink(s->fs, "/f");
		if (rc)
			bench_die(rc, "create+write+unlink: %s", daxfs_errormsg());
	}
	return CREATES / (bench_now() - t0);
}

static double mapped_write(struct side *s)
{
	struct daxfs_map *m;
	struct daxfs_stat st;
	double t0, t;
	char *base;
	int rc = daxfs_create(s->fs, "/mapped", 0644, 0, &st);

	if (rc == 0)
		rc = daxfs_map_new(s->fs, st.ino, 0, MAPPED_PAGES * PAGE,
				   DAXFS_MAP_READ | DAXFS_MAP_WRITE, &m);
	if (rc)
		bench_die(rc, "map: %s", daxfs_errormsg());
	base = daxfs_map_addr(m);
	t0 = bench_now();
	for (uint64_t i = 0; i < MAPPED_PAGES; i++) {
		memcpy(base + i * PAGE, chunk + (i % 16) * PAGE, PAGE);
		daxfs_map_persist(m, base + i * PAGE, PAGE);
	}
	t = bench_now() - t0;
	daxfs_map_delete(&m);
	rc = daxfs_unlink(s->fs, "/mapped");
	if (rc)
		bench_die(rc, "unlink /mapped: %s", daxfs_errormsg());
	return MAPPED_PAGES / t;
}

/* region_off_of - where page @pg of @ino is in the region. */
static uint64_t region_off_of(struct daxfs *fs, uint64_t ino, uint64_t pg)
{
	struct daxfs_extent *ext;
	uint64_t off = UINT64_MAX;
	size_t n;
	int rc = daxfs_extents(fs, ino, &ext, &n);

	if (rc)
		bench_die(rc, "extents: %s", daxfs_errormsg());
	for (size_t i = 0; i < n; i++)
		if (pg * PAGE >= ext[i].file_off && pg * PAGE < ext[i].file_off + ext[i].len)
			off = ext[i].region_off + pg * PAGE - ext[i].file_off;
	free(ext);
	if (off == UINT64_MAX)
		bench_die(-EIO, "page %" PRIu64 " has no block", pg);
	return off;
}

/* repair - p50 of a pread of a page poisoned unnoticed (@poison) or of a healthy one (us). */
static double repair(struct side *s, bool poison)
{
	static double v[REPAIRS];
	char buf[PAGE];
	struct daxfs_stat st;
	int rc = daxfs_create(s->fs, "/victim", 0644, 0, &st);

	if (rc == 0 && daxfs_pwrite(s->fs, st.ino, chunk, REPAIRS * PAGE, 0) != REPAIRS * PAGE)
		rc = -EIO;
	if (rc)
		bench_die(rc, "victim: %s", daxfs_errormsg());
	for (int i = 0; i < REPAIRS; i++) {
		double t0;

		if (poison) {
			rc = daxfs_inject(s->fs, DAXFS_INJECT_MEDIA, NULL,
					  region_off_of(s->fs, st.ino, (uint64_t)i), PAGE, NULL);
			if (rc)
				bench_die(rc, "inject: %s", daxfs_errormsg());
		}
		t0 = bench_now();
		if (daxfs_pread(s->fs, st.ino, buf, PAGE, (uint64_t)i * PAGE) != (ssize_t)PAGE)
			bench_die(-EIO, "pread of page %d: %s", i, daxfs_errormsg());
		v[i] = (bench_now() - t0) * 1e6;
		if (memcmp(buf, chunk + (uint64_t)i * PAGE, PAGE))
			bench_die(-EIO, "page %d read wrong bytes", i);
	}
	rc = daxfs_unlink(s->fs, "/victim");
	if (rc)
		bench_die(rc, "unlink /victim: %s", daxfs_errormsg());
	return bench_median(v, REPAIRS);
}

typedef double (*fig_fn)(struct side *s);

static void figure(const char *what, const char *unit, fig_fn fn, const char *goal,
		   double goal_ratio)
{
	double v[2][REPS * 4];
	struct bench_figure f = {.bench = "replica", .figure = what, .unit = unit,
				 .baseline = "the same without a replica", .higher_is_better = true,
				 .reps = opts.reps, .goal = goal};

	bench_note("%s", what);
	for (int r = 0; r < opts.reps; r++)
		for (int k = 0; k < 2; k++) {
			int i = (r + k) % 2; /* alternate which side goes first */

			v[i][r] = fn(&sides[i]);
		}
	f.value = bench_median(v[1], opts.reps);
	f.baseline_value = bench_median(v[0], opts.reps);
	f.goal_met = goal && f.value >= goal_ratio * f.baseline_value;
	bench_emit(&f);
}

int main(int argc, char **argv)
{
	double heal[REPS * 4], healthy[REPS * 4];
	int rc;

	bench_parse(argc, argv, REPS, &opts);
	if (opts.reps > REPS * 4)
		opts.reps = REPS * 4;
	log_set_level(LOG_LVL_WARNING);
	unsetenv("NOTIFY_SOCKET");
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	chunk = malloc(CHUNK);
	if (!chunk)
		bench_die(-ENOMEM, "chunk");
	for (uint64_t i = 0; i < CHUNK; i++)
		chunk[i] = (char)(i * 7 + i / 4096);
	side_start(&sides[0], false);
	side_start(&sides[1], true);

	figure("copy write, 1 MiB sequential", "MiB/s", copy_write, ">= 0.5x without", 0.5);
	figure("create + write 4 KiB + unlink", "ops/s", create_write_unlink, NULL, 0);
	figure("mapped write 4 KiB + persist", "ops/s", mapped_write, NULL, 0);

	bench_note("repair of one poisoned 4 KiB block");
	for (int r = 0; r < opts.reps; r++) {
		heal[r] = repair(&sides[1], true);
		healthy[r] = repair(&sides[1], false);
	}
	{
		struct bench_figure f = {
			.bench = "replica",
			.figure = "read of a poisoned 4 KiB page, repaired from the replica, p50",
			.unit = "us",
			.value = bench_median(heal, opts.reps),
			.baseline = "read of a healthy page, p50",
			.baseline_value = bench_median(healthy, opts.reps),
			.higher_is_better = false,
			.reps = opts.reps};

		bench_emit(&f);
	}
	for (int i = 0; i < 2; i++) {
		daxfs_close(sides[i].fs);
		sides[i].fs = NULL;
		bench_daemon_stop(&sides[i].pid);
	}
	rc = 0;
	finished = true;
	return rc;
}
