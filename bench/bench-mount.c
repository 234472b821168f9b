// SPDX-License-Identifier: MIT
/*
 * bench-mount - how long mounting takes when the log holds 1,000,000 records.
 *
 * The region (an emulated one in /dev/shm) is built once by file churn through the engine API
 * (create, write 4 KiB, unlink; one file in KEEP_EVERY is kept, so the replayed namespace is
 * not empty) until the active log area holds MOUNT_RECORDS records, with no checkpoint (one
 * would compact the log). It is cached under a name that carries MOUNT_CACHE_VERSION and the
 * record count, and rebuilt when it is missing, does not mount, or holds too few records.
 *
 * Figures (the two sides alternate, MOUNT_REPS times by default; medians):
 *   - ns_mount + ns_unmount wall time, against the goal of 1 s;
 *   - records replayed per second, against the same number of log bytes copied out of a fresh
 *     mapping of the region with one memcpy (the speed of just reading the log).
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "log.h"
#include "nsint.h"
#include "nsmap.h"
#include "poison.h"
#include "lease.h"

#define MOUNT_CACHE_VERSION "2" /* bump whenever build() or the geometry changes */
#define MOUNT_RECORDS 1000000ULL
#define MOUNT_REGION_SIZE (640ULL << 20)
#define MOUNT_LOG_LEN (192ULL << 20) /* per area; 1M records take about 70 MB */
#define MOUNT_REPS 5
#define KEEP_EVERY 8
#define MOUNT_GOAL_SECONDS 1.0

struct log_shape {
	uint64_t records; /* in the active area */
	uint64_t bytes;	  /* used in the active area */
	uint64_t off;	  /* byte offset of the active area in the region */
};

#define CACHE_PREFIX BENCH_DIR "/daxfs-bench-mount-"

static char wbuf[4096];
static char building[320]; /* the region being built, removed if we stop half-way */

static void remove_building(void)
{
	if (building[0])
		unlink(building);
}

static void on_signal(int sig)
{
	remove_building();
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * remove_stale - delete cached regions of other versions and half-built regions whose
 * builder is gone: they only take memory in /dev/shm.
 */
static void remove_stale(const char *keep)
{
	glob_t g;

	if (glob(CACHE_PREFIX "*", 0, NULL, &g))
		return;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *p = g.gl_pathv[i], *b = strstr(p, ".building.");

		if (strcmp(p, keep) == 0)
			continue;
		if (b && kill((pid_t)atoi(b + strlen(".building.")), 0) == 0)
			continue;
		bench_note("removing stale %s", p);
		unlink(p);
	}
	globfree(&g);
}

/* log_shape - the active area of a mounted @ns. */
static void log_shape(struct ns *ns, struct log_shape *ls)
{
	const struct fmt_super *sb = mlog_super(ns->log);
	struct mlog_stats st;

	mlog_get_stats(ns->log, &st);
	ls->records = st.records;
	ls->bytes = st.used;
	ls->off = sb->log_off[sb->log_active];
}

/* probe - does @path mount and hold enough records? Fills @ls when it does. */
static bool probe(const char *path, struct log_shape *ls)
{
	struct ns *ns;

	if (access(path, F_OK))
		return false;
	if (ns_mount(&ns, path, NULL)) {
		bench_note("%s does not mount; rebuilding it", path);
		return false;
	}
	log_shape(ns, ls);
	ns_unmount(&ns);
	if (ls->records < MOUNT_RECORDS) {
		bench_note("%s holds %" PRIu64 " records; rebuilding it", path, ls->records);
		return false;
	}
	return true;
}

/* build - format @tmp and churn files until the log holds MOUNT_RECORDS records. */
static void build(const char *tmp)
{
	struct ns_mkfs_opts mo = {.log_len = MOUNT_LOG_LEN, .force = true};
	struct log_shape ls = {0};
	struct ns_statfs st;
	struct ns *ns;
	double t0 = bench_now();
	char name[32];
	uint64_t i;
	int rc;

	unlink(tmp);
	rc = ns_mkfs(tmp, MOUNT_REGION_SIZE, &mo);
	if (rc)
		bench_die(rc, "ns_mkfs %s", tmp);
	rc = ns_mount(&ns, tmp, NULL);
	if (rc)
		bench_die(rc, "ns_mount %s", tmp);
	for (i = 0; ls.records < MOUNT_RECORDS; i++) {
		struct ns_attr a;
		ssize_t w;

		snprintf(name, sizeof(name), "f%" PRIu64, i);
		rc = ns_create(ns, NULL, NS_ROOT_INO, name, 0644, &a);
		if (rc)
			bench_die(rc, "ns_create %s", name);
		w = ns_write(ns, NULL, a.ino, wbuf, sizeof(wbuf), 0);
		if (w != (ssize_t)sizeof(wbuf))
			bench_die((int)w, "ns_write %s", name);
		if (i % KEEP_EVERY) {
			rc = ns_unlink(ns, NULL, NS_ROOT_INO, name);
			if (rc)
				bench_die(rc, "ns_unlink %s", name);
		}
		if (i % 1024 == 0)
			log_shape(ns, &ls);
	}
	log_shape(ns, &ls);
	ns_statfs(ns, &st);
	if (st.checkpoints)
		bench_die(0, "%" PRIu64 " checkpoints while building %s: the log area is too small",
			  st.checkpoints, tmp);
	ns_unmount(&ns);
	bench_note("built %s in %.1f s: %" PRIu64 " files churned, %" PRIu64 " records, %" PRIu64
		   " log bytes",
		   tmp, bench_now() - t0, i, ls.records, ls.bytes);
}

/* mount_once - seconds for ns_mount + ns_unmount; checks the log is as built. */
static double mount_once(const char *path, const struct log_shape *want, double *mount_only)
{
	struct log_shape ls;
	struct ns *ns;
	double t0, t1, t2;
	int rc;

	t0 = bench_now();
	rc = ns_mount(&ns, path, NULL);
	t1 = bench_now();
	if (rc)
		bench_die(rc, "ns_mount %s", path);
	log_shape(ns, &ls);
	if (ls.records != want->records || ls.bytes != want->bytes)
		bench_die(0, "mounting %s changed its log (%" PRIu64 " records, was %" PRIu64 ")",
			  path, ls.records, want->records);
	t2 = bench_now();
	ns_unmount(&ns);
	*mount_only = t1 - t0;
	return (t1 - t0) + (bench_now() - t2);
}

/* copy_once - seconds to map @path afresh and memcpy the active log bytes out of it. */
static double copy_once(const char *path, const struct log_shape *ls, void *dst)
{
	double t0 = bench_now();
	int fd = open(path, O_RDONLY);
	void *p;

	if (fd < 0)
		bench_die(-errno, "open %s", path);
	p = mmap(NULL, ls->off + ls->bytes, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		bench_die(-errno, "mmap %s", path);
	memcpy(dst, (const char *)p + ls->off, ls->bytes);
	munmap(p, ls->off + ls->bytes);
	close(fd);
	t0 = bench_now() - t0;
	bench_sink(((const uint64_t *)dst)[ls->bytes / 16]);
	return t0;
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct log_shape ls;
	double *vm, *vo, *vc;
	char path[256];
	void *dst;

	bench_parse(argc, argv, MOUNT_REPS, &o);
	log_set_level(LOG_LVL_WARNING);
	rcu_thread_online();
	memset(wbuf, 0x5a, sizeof(wbuf));
	snprintf(path, sizeof(path), CACHE_PREFIX "v%s-fmt%d-%llu.region", MOUNT_CACHE_VERSION,
		 FMT_VERSION, MOUNT_RECORDS);
	remove_stale(path);
	if (!probe(path, &ls)) {
		snprintf(building, sizeof(building), "%s.building.%d", path, (int)getpid());
		atexit(remove_building);
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		build(building);
		if (rename(building, path))
			bench_die(-errno, "rename %s", building);
		building[0] = 0;
		if (!probe(path, &ls))
			bench_die(0, "%s: the region just built does not mount with enough records",
				  path);
	} else {
		bench_note("reusing %s", path);
	}
	bench_note("log: %" PRIu64 " records, %" PRIu64 " bytes", ls.records, ls.bytes);

	dst = malloc(ls.bytes);
	vm = calloc((size_t)o.reps, sizeof(*vm));
	vo = calloc((size_t)o.reps, sizeof(*vo));
	vc = calloc((size_t)o.reps, sizeof(*vc));
	if (!dst || !vm || !vo || !vc)
		bench_die(-ENOMEM, "malloc");
	memset(dst, 0, ls.bytes);
	for (int r = 0; r < o.reps; r++) {
		vm[r] = mount_once(path, &ls, &vo[r]);
		vc[r] = copy_once(path, &ls, dst);
	}
	double m = bench_median(vm, o.reps), mo = bench_median(vo, o.reps);
	double c = bench_median(vc, o.reps);

	bench_note("median ns_mount alone: %.3f s (ns_unmount about %.3f s)", mo, m - mo);
	bench_emit(&(struct bench_figure){
		.bench = "mount",
		.figure = "mount+unmount, 1M-record log",
		.unit = "s",
		.value = m,
		.baseline = "goal",
		.baseline_value = MOUNT_GOAL_SECONDS,
		.reps = o.reps,
		.goal = "<= 1 s",
		.goal_met = m <= MOUNT_GOAL_SECONDS,
	});
	bench_emit(&(struct bench_figure){
		.bench = "mount",
		.figure = "replay rate (ns_mount)",
		.unit = "records/s",
		.value = (double)ls.records / mo,
		.baseline = "memcpy of the log bytes",
		.baseline_value = (double)ls.records / c,
		.higher_is_better = true,
		.reps = o.reps,
	});
	free(dst);
	free(vm);
	free(vo);
	free(vc);
	rcu_thread_offline();
	return 0;
}
