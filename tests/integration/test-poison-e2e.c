// SPDX-License-Identifier: MIT
/*
 * test-poison-e2e - poison end to end through a real daxfsd (--fault-injection, --map-users
 * root), DESIGN §5, issue #5:
 *
 * 1. Two client processes map a 16-page file read-only (events on the library's thread).
 *    Poison is injected (daxfs inject) on the block under its page 8: both get POISON for
 *    exactly that page within 100 ms of the inject call (timed from just before it, on
 *    CLOCK_MONOTONIC, which the processes share); in both, the page is PROT_NONE
 *    (/proc/self/maps) and touching it raises SIGSEGV, caught with sigsetjmp; every other
 *    page of the view still holds its bytes; daxfs_pread of the page fails with EIO, of every
 *    other page returns its bytes (in the clients and in the parent); the file's extents
 *    show the page poisoned; badblocks lists the block with the file and the offset.
 * 2. Repair by rewrite: a 4 KiB aligned daxfs_pwrite of the whole page clears the file's
 *    poison: both mappers get INVALIDATE for that page, the page's extent now sits on
 *    another, unpoisoned block, a new mapping reads the new bytes, and badblocks still lists
 *    the bad block, with no file any more.
 * 3. After a restart the block is still quarantined (badblocks, statfs blocks_quarantined)
 *    and the region filled to its last block (statfs: 0 free) never hands it out: no extent
 *    of any file (daxfs_extents and `daxfs stat --json`) covers it, and the extents cover
 *    every other block. `daxfs check` is clean.
 * Also: `daxfs badblocks --json` names the file by its name of now (also after a rename);
 * a write of part of a poisoned page fails with EIO and leaves it poisoned; a poisoned page
 * truncated away leaves its block quarantined with no file, and the file regrown reads
 * zeros there.
 *
 * Usage: test-poison-e2e --daxfsd=PATH --cli=PATH [seed]
 */
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "testutil.h"

#define PAGE UINT64_C(4096)
#define NPAGES 16
#define BAD_PAGE 8
#define FILE_LEN (NPAGES * PAGE)
#define NCLIENTS 2
#define EVENT_BOUND_NS (100 * 1000000ull) /* the bound: POISON within 100 ms */

static struct t_daemon d;
static uint64_t rng;
static uint8_t pat[FILE_LEN], fresh[PAGE];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static sigjmp_buf segv_jmp;
static volatile sig_atomic_t segv_seen;

static void on_segv(int sig)
{
	(void)sig;
	segv_seen++;
	siglongjmp(segv_jmp, 1);
}

/* touch_faults - whether reading the byte at @p raises SIGSEGV (caught). */
static bool touch_faults(const volatile uint8_t *p)
{
	struct sigaction sa = {.sa_handler = on_segv}, old;
	volatile bool faulted = false;
	int before = segv_seen;

	sigemptyset(&sa.sa_mask);
	T_ASSERT(sigaction(SIGSEGV, &sa, &old) == 0);
	if (sigsetjmp(segv_jmp, 1) == 0)
		(void)*p;
	else
		faulted = true;
	T_ASSERT(sigaction(SIGSEGV, &old, NULL) == 0);
	T_ASSERT(faulted == (segv_seen == before + 1));
	return faulted;
}

/* --- the mapping clients (child processes) --- */

struct rec {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int n;
	struct daxfs_event ev[8];
	uint64_t at_ns[8];
};

static void on_event(void *ctx, const struct daxfs_event *ev)
{
	struct rec *r = ctx;
	uint64_t t = now_ns();

	pthread_mutex_lock(&r->lock);
	if (r->n < 8) {
		r->ev[r->n] = *ev;
		r->at_ns[r->n] = t;
	}
	r->n++;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* wait_event - the @n-th event (from 1) came within 10 s. */
static void wait_event(struct rec *r, int n, struct daxfs_event *ev, uint64_t *at)
{
	struct timespec ts;

	ts = t_deadline_s(10);
	pthread_mutex_lock(&r->lock);
	while (r->n < n)
		if (t_cond_wait_s(&r->cond, &r->lock, &ts) == ETIMEDOUT)
			T_FAIL("event %d did not come within 10 s (%d came)", n, r->n);
	T_ASSERT(n <= 8);
	*ev = r->ev[n - 1];
	*at = r->at_ns[n - 1];
	pthread_mutex_unlock(&r->lock);
}

struct client {
	int id;
	int up, down; /* to and from the parent */
	uint64_t ino;
};

/* What a client tells the parent after each step. */
struct report {
	char step;
	uint64_t event_ns;
};

static void say(const struct client *c, char step, uint64_t t)
{
	struct report rp = {step, t};

	T_ASSERT(write(c->up, &rp, sizeof(rp)) == (ssize_t)sizeof(rp));
}

static void hear(const struct client *c, char want)
{
	char got;

	T_ASSERT(read(c->down, &got, 1) == 1 && got == want);
}

static void expect_page(struct daxfs *fs, uint64_t ino, uint64_t pg, const uint8_t *want)
{
	uint8_t buf[PAGE];

	if (daxfs_pread(fs, ino, buf, PAGE, pg * PAGE) != (ssize_t)PAGE)
		T_FAIL("pread of page %" PRIu64 " failed: %s", pg, daxfs_errormsg());
	if (memcmp(buf, want, PAGE) != 0)
		T_FAIL("page %" PRIu64 " reads wrong bytes", pg);
}

static int client_main(struct client *c)
{
	struct rec rec = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {{0}}, {0}};
	struct daxfs_map *m = NULL;
	struct daxfs_event ev;
	struct daxfs *fs;
	uint8_t buf[PAGE], *v;
	char perms[5];
	uint64_t at;

	T_OK(daxfs_open(&fs, d.sock));
	daxfs_set_event_callback(fs, on_event, &rec);
	T_OK(daxfs_event_thread_start(fs));
	T_OK(daxfs_map_new(fs, c->ino, 0, FILE_LEN, DAXFS_MAP_READ, &m));
	v = daxfs_map_addr(m);
	T_ASSERT(memcmp(v, pat, FILE_LEN) == 0);
	say(c, 'm', 0);

	/* 1. The poison. */
	wait_event(&rec, 1, &ev, &at);
	say(c, 'p', at);
	if (ev.type != DAXFS_EVENT_POISON || ev.map != m || ev.ino != c->ino ||
	    ev.off != BAD_PAGE * PAGE || ev.len != PAGE || ev.addr != v + BAD_PAGE * PAGE)
		T_FAIL("client %d: event type %d [%" PRIu64 ", +%" PRIu64 ") at %p, expected "
		       "POISON of page %d",
		       c->id, (int)ev.type, ev.off, ev.len, ev.addr, BAD_PAGE);
	t_perms_at(v + BAD_PAGE * PAGE, perms);
	if (strncmp(perms, "---", 3) != 0)
		T_FAIL("client %d: the poisoned page is %s, not PROT_NONE", c->id, perms);
	T_ASSERT(touch_faults(v + BAD_PAGE * PAGE));
	T_ASSERT(touch_faults(v + BAD_PAGE * PAGE + PAGE - 1));
	for (uint64_t pg = 0; pg < NPAGES; pg++) {
		if (pg == BAD_PAGE)
			continue;
		T_ASSERT(!touch_faults(v + pg * PAGE));
		if (memcmp(v + pg * PAGE, pat + pg * PAGE, PAGE) != 0)
			T_FAIL("client %d: page %" PRIu64 " of the view changed", c->id, pg);
		expect_page(fs, c->ino, pg, pat + pg * PAGE);
	}
	T_ERR(daxfs_pread(fs, c->ino, buf, PAGE, BAD_PAGE * PAGE), EIO);
	T_ERR(daxfs_pread(fs, c->ino, buf, 100, BAD_PAGE * PAGE + 1000), EIO);
	/* A read that starts before the page stops short of it. */
	T_ASSERT(daxfs_pread(fs, c->ino, buf, PAGE, BAD_PAGE * PAGE - 512) == 512);
	say(c, 'c', 0);

	/* 2. The page rewritten: INVALIDATE, then a new mapping reads the new bytes. */
	wait_event(&rec, 2, &ev, &at);
	if (ev.type != DAXFS_EVENT_INVALIDATE || ev.map != m || ev.off != BAD_PAGE * PAGE ||
	    ev.len != PAGE)
		T_FAIL("client %d: event type %d [%" PRIu64 ", +%" PRIu64 "), expected "
		       "INVALIDATE of page %d",
		       c->id, (int)ev.type, ev.off, ev.len, BAD_PAGE);
	T_ASSERT(touch_faults(v + BAD_PAGE * PAGE));
	daxfs_map_delete(&m);
	T_OK(daxfs_map_new(fs, c->ino, 0, FILE_LEN, DAXFS_MAP_READ, &m));
	v = daxfs_map_addr(m);
	for (uint64_t pg = 0; pg < NPAGES; pg++) {
		const uint8_t *want = pg == BAD_PAGE ? fresh : pat + pg * PAGE;

		T_ASSERT(!touch_faults(v + pg * PAGE));
		if (memcmp(v + pg * PAGE, want, PAGE) != 0)
			T_FAIL("client %d: page %" PRIu64 " of the new view is wrong", c->id, pg);
		expect_page(fs, c->ino, pg, want);
	}
	say(c, 'r', 0);
	hear(c, 'q');
	T_ASSERT(rec.n == 2);
	daxfs_map_delete(&m);
	daxfs_close(fs);
	return 0;
}

/* --- the parent --- */

struct kid {
	struct client c;
	pid_t pid;
	int from, to; /* the parent's ends */
};

static struct report kid_hear(struct kid *k, char want)
{
	struct report rp;
	ssize_t n = read(k->from, &rp, sizeof(rp));

	if (n != (ssize_t)sizeof(rp)) {
		t_wait_child(k->pid, 10000, "a mapping client");
		T_FAIL("client %d went away before step '%c'", k->c.id, want);
	}
	T_ASSERT(rp.step == want);
	return rp;
}

static void fill_rand(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)t_rand(&rng);
}

/* region_off_of - where page @pg of file @ino sits in the region (and whether poisoned). */
static uint64_t region_off_of(struct daxfs *fs, uint64_t ino, uint64_t pg, bool *poisoned)
{
	struct daxfs_extent *ext;
	uint64_t off = UINT64_MAX;
	size_t n;

	T_OK(daxfs_extents(fs, ino, &ext, &n));
	for (size_t i = 0; i < n; i++) {
		if (pg * PAGE >= ext[i].file_off && pg * PAGE < ext[i].file_off + ext[i].len) {
			off = ext[i].region_off + pg * PAGE - ext[i].file_off;
			*poisoned = ext[i].flags & DAXFS_EXTENT_POISON;
			/* The extents split at the poisoned page. */
			if (*poisoned)
				T_ASSERT(ext[i].len == PAGE);
		}
	}
	free(ext);
	T_ASSERT(off != UINT64_MAX);
	return off;
}

/* expect_badblock - badblocks lists [@off, +4 KiB) with (@owned) file @ino at @file_off. */
static void expect_badblock(struct daxfs *fs, uint64_t off, bool owned, uint64_t ino,
			    uint64_t file_off)
{
	struct daxfs_badblock *bb;
	bool found = false;
	size_t n;

	T_OK(daxfs_badblocks(fs, &bb, &n));
	for (size_t i = 0; i < n; i++) {
		if (off < bb[i].region_off || off >= bb[i].region_off + bb[i].len)
			continue;
		found = true;
		T_ASSERT(!(bb[i].flags & DAXFS_BADBLOCK_METADATA));
		if (owned != !!(bb[i].flags & DAXFS_BADBLOCK_OWNED))
			T_FAIL("the bad block at %" PRIu64 " is listed %s a file", off,
			       owned ? "without" : "with");
		if (owned)
			T_ASSERT(bb[i].ino == ino && bb[i].file_off == file_off &&
				 bb[i].region_off == off && bb[i].len == PAGE);
	}
	free(bb);
	if (!found)
		T_FAIL("badblocks does not list the block at %" PRIu64, off);
}

/* expect_cli_badblock - `daxfs badblocks --json` lists the block at @off in file @path. */
static void expect_cli_badblock(uint64_t off, const char *path)
{
	struct json_object *doc, *v;
	bool found = false;
	char *out;

	if (t_cli(&d, &out, NULL, "badblocks", "--json", NULL) != 0)
		T_FAIL("daxfs badblocks --json failed");
	doc = json_tokener_parse(out);
	T_ASSERT(doc && json_object_is_type(doc, json_type_array));
	for (size_t i = 0; i < json_object_array_length(doc); i++) {
		struct json_object *e = json_object_array_get_idx(doc, i);

		T_ASSERT(json_object_object_get_ex(e, "region_offset", &v));
		if ((uint64_t)json_object_get_int64(v) != off)
			continue;
		found = true;
		T_ASSERT(json_object_object_get_ex(e, "length", &v) &&
			 json_object_get_int64(v) == (int64_t)PAGE);
		T_ASSERT(json_object_object_get_ex(e, "metadata", &v) &&
			 !json_object_get_boolean(v));
		T_ASSERT(json_object_object_get_ex(e, "file_offset", &v) &&
			 json_object_get_int64(v) == (int64_t)(BAD_PAGE * PAGE));
		if (!json_object_object_get_ex(e, "path", &v) ||
		    strcmp(json_object_get_string(v), path) != 0)
			T_FAIL("daxfs badblocks --json: the bad block at %" PRIu64 " hit \"%s\", "
			       "not %s",
			       off, v ? json_object_get_string(v) : "(no path)", path);
	}
	json_object_put(doc);
	free(out);
	if (!found)
		T_FAIL("daxfs badblocks --json does not list %" PRIu64, off);
}

/* cli_extents_cover - whether `daxfs stat --json @path` lists an extent over @off. */
static bool cli_extents_cover(const char *path, uint64_t off, uint64_t *nbytes)
{
	struct json_object *doc, *exts;
	bool cover = false;
	char *out;

	if (t_cli(&d, &out, NULL, "stat", "--json", path, NULL) != 0)
		T_FAIL("daxfs stat --json %s failed", path);
	doc = json_tokener_parse(out);
	T_ASSERT(doc && json_object_object_get_ex(doc, "extents", &exts));
	for (size_t i = 0; i < json_object_array_length(exts); i++) {
		struct json_object *e = json_object_array_get_idx(exts, i), *ro, *len;

		T_ASSERT(json_object_object_get_ex(e, "region_offset", &ro) &&
			 json_object_object_get_ex(e, "length", &len));
		if (off >= (uint64_t)json_object_get_int64(ro) &&
		    off < (uint64_t)json_object_get_int64(ro) +
				    (uint64_t)json_object_get_int64(len))
			cover = true;
		*nbytes += (uint64_t)json_object_get_int64(len);
	}
	json_object_put(doc);
	free(out);
	return cover;
}

int main(int argc, char **argv)
{
	static const char *const opts[] = {"--map-users", "root", "--fault-injection", NULL};
	struct kid kids[NCLIENTS];
	struct daxfs_statfs sf0, sf;
	struct daxfs_stat st;
	struct daxfs *fs;
	char offbuf[32], *out;
	uint64_t bad, bad2, newoff, t0, t1, ino, nbad, used = 0, unused = 0;
	uint8_t buf[PAGE];
	bool poisoned;
	int nfiles;

	t_tools_init(&argc, argv);
	t_require_root("--map-users root and fault injection");
	rng = t_seed(argc, argv, 1);
	t_watchdog(120, "test-poison-e2e");
	fill_rand(pat, sizeof(pat));
	fill_rand(fresh, sizeof(fresh));
	t_region_new(t_path("region"), "16M");
	t_daemon_start(&d, t_path("region"), "daxfsd", opts);

	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_statfs(fs, &sf0));
	T_OK(daxfs_create(fs, "/victim", 0644, DAXFS_CREATE_EXCL, &st));
	ino = st.ino;
	T_ASSERT(daxfs_pwrite(fs, ino, pat, FILE_LEN, 0) == (ssize_t)FILE_LEN);
	bad = region_off_of(fs, ino, BAD_PAGE, &poisoned);
	T_ASSERT(!poisoned && bad % PAGE == 0);

	/* Two mapping clients, forked while this process runs no other thread. */
	for (int i = 0; i < NCLIENTS; i++) {
		int up[2], down[2];
		struct kid *k = &kids[i];

		T_ASSERT(pipe(up) == 0 && pipe(down) == 0);
		k->c = (struct client){.id = i, .up = up[1], .down = down[0], .ino = ino};
		fflush(NULL);
		k->pid = fork();
		T_ASSERT(k->pid >= 0);
		if (k->pid == 0) {
			close(up[0]);
			close(down[1]);
			exit(client_main(&k->c));
		}
		close(up[1]);
		close(down[0]);
		k->from = up[0];
		k->to = down[1];
	}
	for (int i = 0; i < NCLIENTS; i++)
		kid_hear(&kids[i], 'm');

	/* 1. Poison on the page's block. */
	snprintf(offbuf, sizeof(offbuf), "%" PRIu64, bad);
	t0 = now_ns();
	T_OK(daxfs_inject(fs, DAXFS_INJECT_POISON, NULL, bad, PAGE, &nbad));
	t1 = now_ns();
	T_ASSERT(nbad == 1);
	for (int i = 0; i < NCLIENTS; i++) {
		struct report rp = kid_hear(&kids[i], 'p');

		T_ASSERT(rp.event_ns >= t0);
		printf("client %d: POISON %.1f ms after the inject started (its reply took %.1f "
		       "ms)\n",
		       i, (double)(rp.event_ns - t0) / 1e6, (double)(t1 - t0) / 1e6);
		if (rp.event_ns - t0 > EVENT_BOUND_NS)
			T_FAIL("client %d got POISON %.1f ms after the inject, not within 100 ms",
			       i, (double)(rp.event_ns - t0) / 1e6);
	}
	for (int i = 0; i < NCLIENTS; i++)
		kid_hear(&kids[i], 'c');
	T_ERR(daxfs_pread(fs, ino, buf, PAGE, BAD_PAGE * PAGE), EIO);
	for (uint64_t pg = 0; pg < NPAGES; pg++)
		if (pg != BAD_PAGE)
			expect_page(fs, ino, pg, pat + pg * PAGE);
	T_ASSERT(region_off_of(fs, ino, BAD_PAGE, &poisoned) == bad && poisoned);
	expect_badblock(fs, bad, true, ino, BAD_PAGE * PAGE);
	T_OK(daxfs_statfs(fs, &sf));
	T_ASSERT(sf.blocks_quarantined == 1);
	/* The operator's view names the file, by its name of now. */
	expect_cli_badblock(bad, "/victim");
	T_OK(daxfs_rename(fs, "/victim", "/renamed", 0));
	expect_cli_badblock(bad, "/renamed");
	T_OK(daxfs_rename(fs, "/renamed", "/victim", 0));
	/* A write of part of the page cannot repair it: EIO, and the page stays poisoned. */
	T_ERR(daxfs_pwrite(fs, ino, fresh, 100, BAD_PAGE * PAGE + 8), EIO);
	T_ERR(daxfs_pwrite(fs, ino, fresh, PAGE - 1, BAD_PAGE * PAGE), EIO);
	T_ASSERT(region_off_of(fs, ino, BAD_PAGE, &poisoned) == bad && poisoned);
	T_ERR(daxfs_pread(fs, ino, buf, PAGE, BAD_PAGE * PAGE), EIO);

	/* 2. Repair by rewrite of the whole page. */
	T_ASSERT(daxfs_pwrite(fs, ino, fresh, PAGE, BAD_PAGE * PAGE) == (ssize_t)PAGE);
	newoff = region_off_of(fs, ino, BAD_PAGE, &poisoned);
	if (newoff == bad || poisoned)
		T_FAIL("after the rewrite page %d sits at %" PRIu64 " (%s), the bad block at "
		       "%" PRIu64,
		       BAD_PAGE, newoff, poisoned ? "poisoned" : "clean", bad);
	expect_page(fs, ino, BAD_PAGE, fresh);
	expect_badblock(fs, bad, false, 0, 0);
	for (int i = 0; i < NCLIENTS; i++)
		kid_hear(&kids[i], 'r');
	for (int i = 0; i < NCLIENTS; i++) {
		T_ASSERT(write(kids[i].to, "q", 1) == 1);
		t_wait_child(kids[i].pid, 30000, "a mapping client");
		close(kids[i].from);
		close(kids[i].to);
	}
	/* Truncated away, a poisoned page leaves its block quarantined, with no file. */
	{
		uint64_t ino2;
		uint8_t zero[PAGE] = {0};

		T_OK(daxfs_create(fs, "/other", 0644, DAXFS_CREATE_EXCL, &st));
		ino2 = st.ino;
		T_ASSERT(daxfs_pwrite(fs, ino2, pat, 4 * PAGE, 0) == (ssize_t)(4 * PAGE));
		bad2 = region_off_of(fs, ino2, 2, &poisoned);
		T_OK(daxfs_inject(fs, DAXFS_INJECT_POISON, NULL, bad2, PAGE, &nbad));
		T_ASSERT(nbad == 1);
		T_ERR(daxfs_pread(fs, ino2, buf, PAGE, 2 * PAGE), EIO);
		T_OK(daxfs_truncate(fs, "/other", PAGE));
		T_OK(daxfs_truncate(fs, "/other", 4 * PAGE));
		for (uint64_t pg = 1; pg < 4; pg++)
			expect_page(fs, ino2, pg, zero);
		expect_page(fs, ino2, 0, pat);
		expect_badblock(fs, bad2, false, 0, 0);
		T_OK(daxfs_unlink(fs, "/other"));
		T_OK(daxfs_statfs(fs, &sf));
		T_ASSERT(sf.blocks_quarantined == 2);
	}
	daxfs_close(fs);

	/* 3. The quarantine survives a restart, and filling the region never reaches it. */
	t_daemon_restart(&d, NULL);
	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_statfs(fs, &sf));
	T_ASSERT(sf.blocks_quarantined == 2);
	T_ASSERT(sf.blocks_free == sf0.blocks_free - 2 - NPAGES);
	expect_badblock(fs, bad, false, 0, 0);
	for (uint64_t pg = 0; pg < NPAGES; pg++)
		expect_page(fs, ino, pg, pg == BAD_PAGE ? fresh : pat + pg * PAGE);
	nfiles = t_fill_region(fs, "fill", 0xf1);
	if (t_cli(&d, &out, NULL, "badblocks", "--json", NULL) != 0)
		T_FAIL("daxfs badblocks failed");
	T_ASSERT(strstr(out, offbuf));
	free(out);
	for (int i = -1; i < nfiles; i++) {
		char path[64];
		struct daxfs_extent *ext;
		size_t n;

		snprintf(path, sizeof(path), i < 0 ? "/victim" : "/fill%d", i);
		T_OK(daxfs_stat(fs, path, &st));
		T_OK(daxfs_extents(fs, st.ino, &ext, &n));
		for (size_t j = 0; j < n; j++)
			for (uint64_t k = 0; k < 2; k++) {
				uint64_t q = k ? bad2 : bad;

				if (q >= ext[j].region_off && q < ext[j].region_off + ext[j].len)
					T_FAIL("%s sits on the quarantined block %" PRIu64, path,
					       q);
			}
		free(ext);
		if (cli_extents_cover(path, bad, &used) || cli_extents_cover(path, bad2, &unused))
			T_FAIL("daxfs stat --json %s lists a quarantined block", path);
	}
	/* Every block but the two bad ones is in some file's extents. */
	if (used != (sf0.blocks_free - 2) * PAGE)
		T_FAIL("the files hold %" PRIu64 " bytes of extents, the region %" PRIu64
		       " usable bytes",
		       used, (sf0.blocks_free - 2) * PAGE);
	daxfs_close(fs);
	t_daemon_stop(&d);
	t_check_clean(t_path("region"));
	printf("ok\n");
	return 0;
}
