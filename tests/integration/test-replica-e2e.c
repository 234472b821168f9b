// SPDX-License-Identifier: MIT
/*
 * test-replica-e2e - a region with a replica through a real daxfsd (DESIGN §13):
 *
 * 1. `daxfs mkfs --replica` formats a pair; daxfsd --replica serves it; `daxfs status` (and
 *    --json, and the metrics) say "in sync".
 * 2. Poison the region's copy of a file page, unnoticed (inject media): a copy read of the
 *    whole file returns the right bytes, no EIO; the block is repaired, not quarantined
 *    (statfs 0 quarantined); the replica status counts the read and the repair; `daxfs
 *    badblocks` lists the block as repaired from the replica, with the file and offset.
 * 3. Poison told to the daemon (inject poison) under a page a client maps: nothing is
 *    quarantined, the mapper gets INVALIDATE for that page, and a new mapping reads the
 *    right bytes.
 * 3b. Stores through a write mapping, persisted with daxfs_map_persist, reach the replica:
 *    after a clean stop the two files are equal, and poison under such a page reads the new
 *    bytes (from the replica).
 * 3c. `daxfs scrub --compare` reads both copies and finds them equal (exit 0); a block
 *    poisoned in the replica's copy (inject replica) is repaired there from the region by
 *    `daxfs scrub` (and then stands in for the region's again); a page stored through a
 *    write mapping and never persisted is listed as differing at its region offset (exit
 *    3) once unmapped, and not while it is mapped; persisted, it is equal again.
 * 3d. The other poison sources: a block on the device's bad-block list at start
 *    (DAXFS_FAULT_BADBLOCKS), and a client's report (a mapper's SIGBUS BUS_MCEERR_AR, caught
 *    by daxfs_sigbus_install and reported, confirmed by the daemon's read): each is
 *    repaired, listed as repaired by badblocks, and copy reads return the right bytes; the
 *    mapper that reported gets INVALIDATE and a new mapping reads right. Where the media
 *    error cannot be cleared (the badblock-clear point failed), the page moves to a fresh
 *    block filled from the replica: the right bytes, the old block quarantined (listed as
 *    repaired too), INVALIDATE and not POISON for its mapper.
 * 4. SIGKILL in the middle of writes, restart: the replica is copied again ("resyncing",
 *    then "in sync"); after a clean stop the two files are byte for byte equal and `daxfs
 *    check` is clean on both.
 * 5. Started without the replica: "degraded" with the reason; with it again: in sync, equal.
 * 5b. Online: on a region with no replica, `daxfs replica add` during a workload of writes
 *    (another process): status goes to "in sync" while the writes go on, and scrub
 *    --compare then finds the copies equal; after a clean stop both files are equal, and
 *    the next start with --replica trusts the pair. Another add is refused (remove it
 *    first), nobody (uid 65534) may add or remove, `daxfs replica remove` leaves "none"
 *    and a region that check calls version 2 (no replica).
 * 6. A replica of another size, or another file system's region, is refused: daxfsd exits
 *    non-zero with a message naming the problem, and the region still starts after.
 *
 * Usage: test-replica-e2e --daxfsd=PATH --cli=PATH [seed]
 */
#include <inttypes.h>
#include <json-c/json.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "testutil.h"

#define PAGE UINT64_C(4096)
#define NPAGES 16
#define FILE_LEN (NPAGES * PAGE)

static struct t_daemon d;
static uint64_t rng;
static uint8_t pat[FILE_LEN];
static char region[512], replica[512];

static void fill_rand(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)t_rand(&rng);
}

static uint64_t region_off_of(struct daxfs *fs, uint64_t ino, uint64_t pg)
{
	struct daxfs_extent *ext;
	uint64_t off = UINT64_MAX;
	size_t n;

	T_OK(daxfs_extents(fs, ino, &ext, &n));
	for (size_t i = 0; i < n; i++)
		if (pg * PAGE >= ext[i].file_off && pg * PAGE < ext[i].file_off + ext[i].len) {
			T_ASSERT(!(ext[i].flags & DAXFS_EXTENT_POISON));
			off = ext[i].region_off + pg * PAGE - ext[i].file_off;
		}
	free(ext);
	T_ASSERT(off != UINT64_MAX);
	return off;
}

static void check_file(struct daxfs *fs, uint64_t ino)
{
	static uint8_t buf[FILE_LEN];

	T_ASSERT(daxfs_pread(fs, ino, buf, FILE_LEN, 0) == (ssize_t)FILE_LEN);
	T_ASSERT(memcmp(buf, pat, FILE_LEN) == 0);
}

/* status_json - `daxfs status --json`'s "replica" object, parsed. */
static json_object *status_json(void)
{
	json_object *j, *r;
	char *out = NULL;

	T_ASSERT(t_cli(&d, &out, NULL, "status", "--json", NULL) == 0);
	j = json_tokener_parse(out);
	T_ASSERT(j && json_object_object_get_ex(j, "replica", &r));
	json_object_get(r);
	json_object_put(j);
	free(out);
	return r;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

/*
 * wait_repaired - the replica status counts @n repairs within 10 s: a read that met poison
 * is answered at once, and the daemon's SIGBUS thread may be the one that repairs.
 */
static void wait_repaired(struct daxfs *fs, uint64_t n, struct daxfs_replica *rep)
{
	uint64_t until = t_now_ms() + 10000;

	for (;; usleep(10000)) {
		T_OK(daxfs_replica_status(fs, rep));
		if (rep->repaired >= n)
			return;
		if (t_now_ms() > until)
			T_FAIL("%" PRIu64 " repairs after 10 s, want %" PRIu64, rep->repaired, n);
	}
}

/* wait_in_sync - the replica reaches "in sync" within 60 s. */
static void wait_in_sync(struct daxfs *fs, const char *path)
{
	struct daxfs_replica rep;
	uint64_t until = t_now_ms() + 60000;

	for (;;) {
		T_OK(daxfs_replica_status(fs, &rep));
		if (rep.state == DAXFS_REPLICA_INSYNC)
			break;
		T_ASSERT(rep.state == DAXFS_REPLICA_RESYNCING);
		T_ASSERT(rep.synced <= rep.size);
		if (t_now_ms() > until)
			T_FAIL("the replica is still resyncing after 60 s (%" PRIu64 " of %" PRIu64
			       ")",
			       rep.synced, rep.size);
		usleep(10000);
	}
	T_ASSERT(rep.synced == rep.size && strcmp(rep.path, path) == 0);
}

static void assert_files_equal(const char *when)
{
	size_t la, lb;
	char *a = t_read_file(region, &la), *b = t_read_file(replica, &lb);

	T_ASSERT(la == lb);
	if (memcmp(a, b, la)) {
		for (size_t i = 0; i < la; i++)
			if (a[i] != b[i])
				T_FAIL("%s: the replica differs from the region at byte %zu", when,
				       i);
	}
	free(a);
	free(b);
}

/* --- a mapper --- */

struct rec {
	pthread_mutex_t lock;
	int n;
	struct daxfs_event ev;
};

static void on_event(void *ctx, const struct daxfs_event *ev)
{
	struct rec *r = ctx;

	pthread_mutex_lock(&r->lock);
	r->ev = *ev;
	r->n++;
	pthread_mutex_unlock(&r->lock);
}

static void test_poison(struct daxfs *fs, uint64_t ino)
{
	struct rec rec = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct daxfs_badblock *bb;
	struct daxfs_replica rep;
	struct daxfs_statfs sf;
	struct daxfs_map *m, *m2;
	uint64_t off, off2, n = 99;
	size_t nbb;
	char *out = NULL;

	/* 2. Unnoticed poison under page 3: the read notices it, and is served anyway. */
	off = region_off_of(fs, ino, 3);
	T_OK(daxfs_inject(fs, DAXFS_INJECT_MEDIA, NULL, off, PAGE, NULL));
	check_file(fs, ino);
	wait_repaired(fs, 1, &rep);
	T_ASSERT(rep.reads >= 1 && rep.repaired == 1);
	T_OK(daxfs_statfs(fs, &sf));
	T_ASSERT(sf.blocks_quarantined == 0);
	T_ASSERT(region_off_of(fs, ino, 3) == off); /* repaired where it is */
	check_file(fs, ino);
	T_OK(daxfs_badblocks(fs, &bb, &nbb));
	T_ASSERT(nbb == 1);
	T_ASSERT(bb[0].region_off == off && bb[0].len == PAGE);
	T_ASSERT(bb[0].flags == (DAXFS_BADBLOCK_REPAIRED | DAXFS_BADBLOCK_OWNED));
	T_ASSERT(bb[0].ino == ino && bb[0].file_off == 3 * PAGE);
	free(bb);
	T_ASSERT(t_cli(&d, &out, NULL, "badblocks", NULL) == 0);
	if (!strstr(out, "repaired from the replica: /data at file offset 12288"))
		T_FAIL("daxfs badblocks said:\n%s", out);
	free(out);

	/* 3. Poison the daemon is told of, under a mapped page: INVALIDATE, then good data. */
	daxfs_set_event_callback(fs, on_event, &rec);
	T_OK(daxfs_map_new(fs, ino, 0, FILE_LEN, DAXFS_MAP_READ, &m));
	T_ASSERT(memcmp(daxfs_map_addr(m), pat, FILE_LEN) == 0);
	off2 = region_off_of(fs, ino, 9);
	T_OK(daxfs_inject(fs, DAXFS_INJECT_POISON, NULL, off2, PAGE, &n));
	T_ASSERT(n == 0); /* none quarantined */
	for (uint64_t until = t_now_ms() + 10000; t_now_ms() < until;) {
		daxfs_process_events(fs);
		pthread_mutex_lock(&rec.lock);
		n = (uint64_t)rec.n;
		pthread_mutex_unlock(&rec.lock);
		if (n)
			break;
		usleep(1000);
	}
	T_ASSERT(n == 1);
	T_ASSERT(rec.ev.type == DAXFS_EVENT_INVALIDATE && rec.ev.ino == ino);
	T_ASSERT(rec.ev.off == 9 * PAGE && rec.ev.len == PAGE);
	T_OK(daxfs_map_new(fs, ino, 0, FILE_LEN, DAXFS_MAP_READ, &m2));
	T_ASSERT(memcmp(daxfs_map_addr(m2), pat, FILE_LEN) == 0);
	daxfs_map_delete(&m2);
	daxfs_map_delete(&m);
	daxfs_set_event_callback(fs, NULL, NULL);
	T_OK(daxfs_replica_status(fs, &rep));
	T_ASSERT(rep.repaired == 2);
	T_OK(daxfs_statfs(fs, &sf));
	T_ASSERT(sf.blocks_quarantined == 0);
	check_file(fs, ino);
}

static void test_mapped_write(struct daxfs *fs, uint64_t ino)
{
	static uint8_t fresh[4 * PAGE], buf[4 * PAGE];
	struct daxfs_replica rep;
	struct daxfs_map *m;
	uint64_t off;

	fill_rand(fresh, sizeof(fresh));
	T_OK(daxfs_map_new(fs, ino, 4 * PAGE, 4 * PAGE, DAXFS_MAP_READ | DAXFS_MAP_WRITE, &m));
	memcpy(daxfs_map_addr(m), fresh, sizeof(fresh));
	daxfs_map_persist(m, daxfs_map_addr(m), sizeof(fresh));
	daxfs_map_delete(&m);
	memcpy(pat + 4 * PAGE, fresh, sizeof(fresh));
	check_file(fs, ino);
	/* The replica has them: the region's copy of page 6 poisoned reads the new bytes. */
	T_OK(daxfs_replica_status(fs, &rep));
	off = region_off_of(fs, ino, 6);
	T_OK(daxfs_inject(fs, DAXFS_INJECT_MEDIA, NULL, off, PAGE, NULL));
	T_ASSERT(daxfs_pread(fs, ino, buf, sizeof(buf), 4 * PAGE) == (ssize_t)sizeof(buf));
	T_ASSERT(memcmp(buf, fresh, sizeof(buf)) == 0);
	{
		struct daxfs_replica after;

		wait_repaired(fs, rep.repaired + 1, &after);
		T_ASSERT(after.repaired == rep.repaired + 1);
	}
	check_file(fs, ino);
}

static int cli_out(char **out, const char *a, const char *b)
{
	return t_cli(&d, out, NULL, a, b, NULL);
}

static void test_scrub(struct daxfs *fs, uint64_t ino)
{
	static uint8_t page[PAGE];
	struct daxfs_map *m;
	char *out = NULL, want[96];
	uint64_t off;

	T_ASSERT(cli_out(&out, "scrub", "--compare") == 0);
	if (!strstr(out, "compared: 0 blocks differ") || !strstr(out, " 0 poisoned there"))
		T_FAIL("scrub --compare said:\n%s", out);
	free(out);

	/* The replica's copy of page 2 poisoned: the scrub repairs it from the region. */
	off = region_off_of(fs, ino, 2);
	T_OK(daxfs_inject(fs, DAXFS_INJECT_REPLICA, NULL, off, PAGE, NULL));
	T_ASSERT(cli_out(&out, "scrub", NULL) == 0);
	if (!strstr(out, " 1 poisoned there, repaired from the region"))
		T_FAIL("scrub said:\n%s", out);
	free(out);
	/* The repaired copy stands in for the region's. */
	T_OK(daxfs_inject(fs, DAXFS_INJECT_MEDIA, NULL, off, PAGE, NULL));
	check_file(fs, ino);

	/* Stored through a mapping, never persisted: the copies differ there. */
	fill_rand(page, sizeof(page));
	off = region_off_of(fs, ino, 12);
	T_OK(daxfs_map_new(fs, ino, 12 * PAGE, PAGE, DAXFS_MAP_READ | DAXFS_MAP_WRITE, &m));
	memcpy(daxfs_map_addr(m), page, PAGE);
	T_ASSERT(cli_out(&out, "scrub", "--compare") == 0); /* mapped for writing: left out */
	free(out);
	daxfs_map_delete(&m);
	memcpy(pat + 12 * PAGE, page, PAGE);
	T_ASSERT(cli_out(&out, "scrub", "--compare") == 3);
	snprintf(want, sizeof(want), "differs at region offset %" PRIu64 "\n", off);
	if (!strstr(out, "compared: 1 blocks differ") || !strstr(out, want))
		T_FAIL("scrub --compare after an unpersisted store said:\n%s", out);
	free(out);
	/* Persisted now: equal again. */
	T_OK(daxfs_map_new(fs, ino, 12 * PAGE, PAGE, DAXFS_MAP_READ | DAXFS_MAP_WRITE, &m));
	daxfs_map_persist(m, daxfs_map_addr(m), PAGE);
	daxfs_map_delete(&m);
	T_ASSERT(cli_out(&out, "scrub", "--compare") == 0);
	free(out);
	check_file(fs, ino);
}

/* expect_repaired - badblocks lists [@off, +4 KiB) as repaired, under @ino at @file_off. */
static void expect_repaired(struct daxfs *fs, uint64_t off, uint64_t ino, uint64_t file_off)
{
	uint64_t until = t_now_ms() + 10000;
	struct daxfs_badblock *bb;
	bool found = false;
	size_t n;

	/* The repair may run on the daemon's SIGBUS thread, a moment after the read. */
	for (; !found; usleep(10000)) {
		T_OK(daxfs_badblocks(fs, &bb, &n));
		for (size_t i = 0; i < n; i++)
			if (bb[i].region_off == off && (bb[i].flags & DAXFS_BADBLOCK_REPAIRED)) {
				T_ASSERT(bb[i].flags ==
					 (DAXFS_BADBLOCK_REPAIRED | DAXFS_BADBLOCK_OWNED));
				T_ASSERT(bb[i].ino == ino && bb[i].file_off == file_off &&
					 bb[i].len == PAGE);
				found = true;
			}
		free(bb);
		if (!found && t_now_ms() > until)
			T_FAIL("badblocks does not list %" PRIu64 " as repaired", off);
	}
}

static sigjmp_buf bus_jmp;
static volatile int bus_calls;

static void on_bus(void *ctx, const struct daxfs_sigbus *info)
{
	(void)ctx;
	(void)info;
	bus_calls++;
	siglongjmp(bus_jmp, 1);
}

static void test_sources(uint64_t ino)
{
	struct rec rec = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct daxfs_replica before, after;
	struct daxfs_statfs sf;
	struct daxfs_map *m, *m2;
	struct daxfs *fs;
	uint64_t off;
	char env[64];
	volatile int n = 0;

	/* The device's bad-block list names page 5's block at start. */
	T_OK(daxfs_open(&fs, d.sock));
	off = region_off_of(fs, ino, 5);
	daxfs_close(fs);
	t_daemon_stop(&d);
	snprintf(env, sizeof(env), "%" PRIu64 "+4K", off);
	setenv("DAXFS_FAULT_BADBLOCKS", env, 1);
	t_daemon_respawn(&d);
	unsetenv("DAXFS_FAULT_BADBLOCKS");
	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_replica_status(fs, &before));
	T_ASSERT(before.repaired == 1); /* at start, before any read */
	expect_repaired(fs, off, ino, 5 * PAGE);
	check_file(fs, ino);

	/* A mapper's SIGBUS on page 7, reported by its library. */
	daxfs_set_event_callback(fs, on_event, &rec);
	T_OK(daxfs_sigbus_install(fs, on_bus, NULL));
	T_OK(daxfs_map_new(fs, ino, 0, FILE_LEN, DAXFS_MAP_READ, &m));
	off = region_off_of(fs, ino, 7);
	T_OK(daxfs_inject(fs, DAXFS_INJECT_MEDIA, NULL, off, PAGE, NULL));
	if (sigsetjmp(bus_jmp, 1) == 0) {
		siginfo_t si;

		memset(&si, 0, sizeof(si));
		si.si_signo = SIGBUS;
		si.si_code = BUS_MCEERR_AR;
		si.si_addr = (char *)daxfs_map_addr(m) + 7 * PAGE;
		si.si_addr_lsb = 12;
		T_OK(syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), SIGBUS,
			     &si));
	}
	T_ASSERT(bus_calls == 1);
	for (uint64_t until = t_now_ms() + 10000; t_now_ms() < until && !n;) {
		daxfs_process_events(fs);
		pthread_mutex_lock(&rec.lock);
		n = rec.n;
		pthread_mutex_unlock(&rec.lock);
		usleep(1000);
	}
	T_ASSERT(n == 1 && rec.ev.type == DAXFS_EVENT_INVALIDATE && rec.ev.off == 7 * PAGE);
	T_OK(daxfs_replica_status(fs, &after));
	T_ASSERT(after.repaired == before.repaired + 1);
	expect_repaired(fs, off, ino, 7 * PAGE);
	T_OK(daxfs_statfs(fs, &sf));
	T_ASSERT(sf.blocks_quarantined == 0);
	check_file(fs, ino);
	T_OK(daxfs_map_new(fs, ino, 0, FILE_LEN, DAXFS_MAP_READ, &m2));
	T_ASSERT(memcmp(daxfs_map_addr(m2), pat, FILE_LEN) == 0);
	daxfs_map_delete(&m);

	/* Page 10: its error cannot be cleared, so it moves to a fresh block. */
	pthread_mutex_lock(&rec.lock);
	rec.n = 0;
	pthread_mutex_unlock(&rec.lock);
	off = region_off_of(fs, ino, 10);
	T_OK(daxfs_inject(fs, DAXFS_INJECT_FAIL, "badblock-clear", 1, EIO, NULL));
	T_OK(daxfs_inject(fs, DAXFS_INJECT_MEDIA, NULL, off, PAGE, NULL));
	check_file(fs, ino);
	T_ASSERT(region_off_of(fs, ino, 10) != off);
	T_OK(daxfs_statfs(fs, &sf));
	T_ASSERT(sf.blocks_quarantined == 1);
	expect_repaired(fs, off, ino, 10 * PAGE);
	n = 0;
	for (uint64_t until = t_now_ms() + 10000; t_now_ms() < until && !n;) {
		daxfs_process_events(fs);
		pthread_mutex_lock(&rec.lock);
		n = rec.n;
		pthread_mutex_unlock(&rec.lock);
		usleep(1000);
	}
	usleep(100000);
	daxfs_process_events(fs);
	T_ASSERT(rec.n == 1 && rec.ev.type == DAXFS_EVENT_INVALIDATE && rec.ev.off == 10 * PAGE);
	daxfs_map_delete(&m2);
	T_OK(daxfs_map_new(fs, ino, 0, FILE_LEN, DAXFS_MAP_READ, &m2));
	T_ASSERT(memcmp(daxfs_map_addr(m2), pat, FILE_LEN) == 0);
	daxfs_map_delete(&m2);
	T_OK(daxfs_inject(fs, DAXFS_INJECT_CLEAR, NULL, 0, 0, NULL));
	daxfs_set_event_callback(fs, NULL, NULL);
	daxfs_close(fs);
}

/* writer - writes files until killed (the daemon is SIGKILLed under it). */
static void writer(const char *sock)
{
	struct daxfs *fs;
	uint8_t buf[8192];

	if (daxfs_open(&fs, sock))
		_exit(0);
	for (unsigned i = 0;; i++) {
		char name[32];
		struct daxfs_stat st;

		snprintf(name, sizeof(name), "/w%u", i % 64);
		memset(buf, (int)i, sizeof(buf));
		if (daxfs_create(fs, name, 0644, 0, &st) ||
		    daxfs_pwrite(fs, st.ino, buf, sizeof(buf), (i % 7) * 4096) < 0)
			_exit(0);
	}
}

static void test_crash(void)
{
	struct daxfs *fs;
	json_object *r;
	pid_t w;
	int status;

	w = fork();
	T_ASSERT(w >= 0);
	if (w == 0)
		writer(d.sock);
	usleep(300000);
	kill(d.pid, SIGKILL);
	T_ASSERT(t_daemon_wait_exit(&d, 10000) != 0);
	T_ASSERT(waitpid(w, &status, 0) == w);
	t_daemon_respawn(&d);
	r = status_json();
	T_ASSERT(!strcmp(jstr(r, "state"), "resyncing") || !strcmp(jstr(r, "state"), "in sync"));
	json_object_put(r);
	T_OK(daxfs_open(&fs, d.sock));
	wait_in_sync(fs, replica);
	daxfs_close(fs);
	T_ASSERT(t_daemon_log_has(&d, "copying the region to its replica"));
	t_daemon_stop(&d);
	assert_files_equal("after a crash, a resync and a clean stop");
	t_check_clean(region);
	t_check_clean(replica);
}

static void test_degraded(const char *const *with)
{
	static const char *const without[] = {"--fault-injection", NULL};
	struct daxfs *fs;
	json_object *r;
	char *out = NULL;

	t_daemon_forget(&d);
	t_daemon_start(&d, region, "daxfsd", without);
	r = status_json();
	T_ASSERT(!strcmp(jstr(r, "state"), "degraded"));
	T_ASSERT(strstr(jstr(r, "why"), "not given"));
	json_object_put(r);
	T_ASSERT(t_cli(&d, &out, NULL, "status", NULL) == 0);
	T_ASSERT(strstr(out, "replica      degraded: the replica was not given at start"));
	free(out);
	T_ASSERT(t_cli(&d, NULL, NULL, "mkdir", "/alone", NULL) == 0);
	t_daemon_stop(&d);
	t_daemon_forget(&d);
	t_daemon_start(&d, region, "daxfsd", with);
	T_OK(daxfs_open(&fs, d.sock));
	wait_in_sync(fs, replica);
	daxfs_close(fs);
	t_daemon_stop(&d);
	assert_files_equal("after a degraded run and a resync");
}

static int nobody_tries(void *arg)
{
	struct daxfs *fs;

	(void)arg;
	if (daxfs_open(&fs, d.sock))
		return 1;
	if (daxfs_replica_add(fs, "/dev/null") != -EPERM || daxfs_replica_remove(fs) != -EPERM)
		return 2;
	daxfs_close(fs);
	return 0;
}

static void test_online(void)
{
	static const char *const without[] = {"--fault-injection", NULL};
	char online[512], *out = NULL, *err = NULL;
	struct daxfs *fs;
	json_object *r;
	pid_t w;
	int status;

	snprintf(online, sizeof(online), "%s", t_path("online"));
	{
		const char *mk[] = {t_cli_path(), "mkfs", "--size", "64M", region, NULL};
		const char *mk2[] = {t_cli_path(), "mkfs", "--size", "64M", online, NULL};

		unlink(region);
		T_ASSERT(t_run(mk, NULL, NULL) == 0);
		/* A blank file of the size: truncate a formatted one to 0 and back. */
		T_ASSERT(t_run(mk2, NULL, NULL) == 0);
		T_ASSERT(truncate(online, 0) == 0 && truncate(online, 64 << 20) == 0);
	}
	t_daemon_forget(&d);
	t_daemon_start(&d, region, "daxfsd", without);
	r = status_json();
	T_ASSERT(!strcmp(jstr(r, "state"), "none"));
	json_object_put(r);
	w = fork();
	T_ASSERT(w >= 0);
	if (w == 0)
		writer(d.sock);
	usleep(100000);
	T_ASSERT(t_cli(&d, &out, NULL, "replica", "add", online, NULL) == 0);
	T_ASSERT(strstr(out, "added"));
	free(out);
	T_OK(daxfs_open(&fs, d.sock));
	wait_in_sync(fs, online);
	usleep(100000); /* writes go on with the replica in sync */
	kill(w, SIGKILL);
	T_ASSERT(waitpid(w, &status, 0) == w);
	/* Converged: scrub --compare finds both copies equal. */
	T_ASSERT(t_cli(&d, &out, NULL, "scrub", "--compare", NULL) == 0);
	if (!strstr(out, "compared: 0 blocks differ"))
		T_FAIL("scrub --compare after replica add said:\n%s", out);
	free(out);
	/* A second add is refused; nobody may do either. */
	T_ASSERT(t_cli(&d, NULL, &err, "replica", "add", online, NULL) != 0);
	T_ASSERT(strstr(err, "remove it first"));
	free(err);
	t_wait_child(t_fork_as(65534, nobody_tries, NULL), 30000, "nobody adding a replica");
	daxfs_close(fs);
	t_daemon_stop(&d);
	{
		size_t la, lb;
		char *a = t_read_file(region, &la), *b = t_read_file(online, &lb);

		T_ASSERT(la == lb && memcmp(a, b, la) == 0);
		free(a);
		free(b);
	}
	/* Kept with --replica: trusted at once. */
	{
		const char *o[] = {"--fault-injection", "--replica", online, NULL};

		t_daemon_forget(&d);
		t_daemon_start(&d, region, "daxfsd", o);
	}
	r = status_json();
	T_ASSERT(!strcmp(jstr(r, "state"), "in sync"));
	json_object_put(r);
	T_ASSERT(t_cli(&d, &out, NULL, "replica", "remove", NULL) == 0);
	free(out);
	r = status_json();
	T_ASSERT(!strcmp(jstr(r, "state"), "none"));
	json_object_put(r);
	T_ASSERT(t_cli(&d, NULL, &err, "replica", "remove", NULL) != 0);
	T_ASSERT(strstr(err, "has no replica"));
	free(err);
	t_daemon_stop(&d);
	{
		const char *ck[] = {t_cli_path(), "check", region, NULL};

		T_ASSERT(t_run(ck, &out, NULL) == 0);
		T_ASSERT(!strstr(out, "format version 3"));
		free(out);
	}
}

/* refused - daxfsd with @rep as the replica exits non-zero saying @why. */
static void refused(const char *rep, const char *why)
{
	const char *argv[] = {
		t_daxfsd_path(),	"--region", region, "--replica", rep, "--socket",
		t_path("refused.sock"), NULL};
	char *err = NULL;

	T_ASSERT(t_run(argv, NULL, &err) != 0);
	if (!strstr(err, why))
		T_FAIL("daxfsd with replica %s said:\n%s", rep, err);
	free(err);
}

static void test_refuse(void)
{
	const char *argv[] = {t_cli_path(), "mkfs", "--size", "32M", t_path("small"), NULL};
	const char *argv2[] = {t_cli_path(), "mkfs", "--size", "64M", t_path("other"), NULL};

	T_ASSERT(t_run(argv, NULL, NULL) == 0);
	refused(t_path("small"), "a replica must be of the same size");
	T_ASSERT(t_run(argv2, NULL, NULL) == 0);
	refused(t_path("other"), "belongs to another daxfs file system");
	refused(region, "is the region");
}

int main(int argc, char **argv)
{
	static const char *const opts[] = {"--map-users", "root", "--fault-injection",
					   "--replica",	  NULL,	  NULL};
	const char *o[6];
	struct daxfs_stat st;
	struct daxfs *fs;
	json_object *r;
	uint64_t ino;
	char *out = NULL;

	t_tools_init(&argc, argv);
	t_require_root("--map-users root and fault injection");
	rng = t_seed(argc, argv, 1);
	t_watchdog(200, "test-replica-e2e");
	t_open_scratch_to_all(); /* nobody's session (5b) */
	fill_rand(pat, sizeof(pat));
	snprintf(region, sizeof(region), "%s", t_path("region"));
	snprintf(replica, sizeof(replica), "%s", t_path("replica"));
	memcpy(o, opts, sizeof(o));
	o[4] = replica;

	/* 1. */
	{
		const char *mk[] = {t_cli_path(), "mkfs",  "--size", "64M",
				    "--replica",  replica, region,   NULL};

		T_ASSERT(t_run(mk, &out, NULL) == 0);
		T_ASSERT(strstr(out, "with its replica"));
		free(out);
	}
	t_daemon_start(&d, region, "daxfsd", o);
	r = status_json();
	T_ASSERT(!strcmp(jstr(r, "state"), "in sync") && !strcmp(jstr(r, "path"), replica));
	json_object_put(r);
	T_ASSERT(t_cli(&d, &out, NULL, "status", NULL) == 0);
	T_ASSERT(strstr(out, "in sync"));
	free(out);
	/* The metrics say so too. */
	T_ASSERT(t_cli(&d, &out, NULL, "stats", "--openmetrics", NULL) == 0);
	if (!strstr(out, "daxfs_replica_state{state=\"in_sync\"} 1\n") ||
	    !strstr(out, "daxfs_replica_state{state=\"resyncing\"} 0\n") ||
	    !strstr(out, "daxfs_replica_synced_bytes 67108864\n") ||
	    !strstr(out, "daxfs_replica_repaired_blocks_total 0\n"))
		T_FAIL("the metrics do not show the replica in sync:\n%s", out);
	free(out);
	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_create(fs, "/data", 0644, DAXFS_CREATE_EXCL, &st));
	ino = st.ino;
	T_ASSERT(daxfs_pwrite(fs, ino, pat, FILE_LEN, 0) == (ssize_t)FILE_LEN);

	test_poison(fs, ino);
	test_mapped_write(fs, ino);
	test_scrub(fs, ino);
	daxfs_close(fs);
	t_daemon_stop(&d);
	assert_files_equal("after mapped writes and a clean stop");
	t_daemon_forget(&d);
	t_daemon_start(&d, region, "daxfsd", o);
	test_sources(ino);
	test_crash();
	test_degraded(o);
	test_refuse();

	/* The refusals left the pair as it was. */
	t_daemon_forget(&d);
	t_daemon_start(&d, region, "daxfsd", o);
	r = status_json();
	T_ASSERT(!strcmp(jstr(r, "state"), "in sync"));
	json_object_put(r);
	T_OK(daxfs_open(&fs, d.sock));
	check_file(fs, ino);
	daxfs_close(fs);
	t_daemon_stop(&d);
	test_online();
	printf("ok\n");
	return 0;
}
