// SPDX-License-Identifier: MIT
/*
 * test-poison-workload - 200 poison injections into a real daxfsd (--fault-injection) while
 * 8 client processes work (issue #5, DESIGN §5).
 *
 * Each client has its own handle, its own directory and four files, and runs random
 * operations until the injections are over: create, write (whole pages, each page of a
 * version whose bytes are a pattern of (client, file, page, version)), read back and verify,
 * truncate (shrink or grow), unlink, and a read mapping (its events on the library's thread)
 * whose pages are compared with the model, each touch under a SIGSEGV handler since poison
 * may make a page PROT_NONE at any moment. A page may read EIO (copy read) or fault (mapping)
 * only when the file's extents say it is poisoned at that moment; otherwise every byte must
 * be the one last written (never wrong bytes). A client seeing EIO on its page forgets the
 * page's bytes until it rewrites it (repair by rewrite).
 *
 * The parent injects 200 poisons, one about every 20 ms, one 4 KiB block each: half on
 * blocks of files in use (found through their extents), half at random blocks of the data
 * area (free or not, quarantined already or not); every tenth through `daxfs inject poison`,
 * the others through daxfs_inject(). Then: the daemon is up and logged no sanitizer report,
 * every client exited cleanly having done work, and every injected block lies in a range
 * `daxfs badblocks` lists (and `daxfs badblocks --json` agrees with daxfs_badblocks()); the
 * quarantined count is at least the number of distinct blocks injected; after a clean stop
 * `daxfs check` finds the region clean.
 *
 * Usage: test-poison-workload --daxfsd=PATH --cli=PATH [seed]
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
#define NCLIENTS 8
#define NFILES 4
#define MAX_PAGES 48
#define NINJECT 200
#define INJECT_GAP_MS 20

static struct t_daemon d;
static uint64_t seed;

/* Shared with the clients (MAP_SHARED before the forks). */
struct shared {
	int stop;
	struct {
		uint64_t ops, reads, eio, faults, writes, maps, rewrites_of_lost;
	} c[NCLIENTS];
};
static struct shared *sh;

/* --- the pattern --- */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* page_fill - the bytes of page @pg of file @f of client @c at version @v (0: zeros). */
static void page_fill(uint8_t *p, int c, int f, uint64_t pg, uint32_t v)
{
	uint64_t base = mix(((uint64_t)c << 56) ^ ((uint64_t)f << 48) ^ (pg << 24) ^ v);

	if (v == 0) {
		memset(p, 0, PAGE);
		return;
	}
	for (uint64_t i = 0; i < PAGE / 8; i++) {
		uint64_t w = mix(base + i);

		memcpy(p + i * 8, &w, 8);
	}
}

/* --- a client --- */

#define V_LOST UINT32_MAX /* the page read EIO: its bytes are unknown until rewritten */

struct cfile {
	bool exists;
	uint64_t ino, npages;
	uint32_t v[MAX_PAGES];
};

static __thread sigjmp_buf *segv_env;

static void on_segv(int sig)
{
	if (segv_env)
		siglongjmp(*segv_env, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* page_poisoned - the file's extents say page @pg of @ino is poisoned. */
static bool page_poisoned(struct daxfs *fs, uint64_t ino, uint64_t pg)
{
	struct daxfs_extent *ext;
	bool bad = false;
	size_t n;

	T_OK(daxfs_extents(fs, ino, &ext, &n));
	for (size_t i = 0; i < n; i++)
		if (pg * PAGE >= ext[i].file_off && pg * PAGE < ext[i].file_off + ext[i].len)
			bad = ext[i].flags & DAXFS_EXTENT_POISON;
	free(ext);
	return bad;
}

static void path_of(char *buf, size_t len, int c, int f)
{
	snprintf(buf, len, "/c%d/f%d", c, f);
}

/* check_page - @got is page @pg of the file, or (@eio) it could not be read. */
static void check_page(struct daxfs *fs, int c, int f, struct cfile *cf, uint64_t pg,
		       const uint8_t *got, bool eio, const char *how)
{
	uint8_t want[PAGE];

	if (eio) {
		if (!page_poisoned(fs, cf->ino, pg))
			T_FAIL("client %d: %s of /c%d/f%d page %" PRIu64 " failed, yet the page is "
			       "not poisoned",
			       c, how, c, f, pg);
		cf->v[pg] = V_LOST;
		return;
	}
	if (cf->v[pg] == V_LOST)
		return; /* read EIO before: may read EIO again, nothing else is known */
	page_fill(want, c, f, pg, cf->v[pg]);
	if (memcmp(want, got, PAGE) != 0)
		T_FAIL("client %d: %s of /c%d/f%d page %" PRIu64 " (version %u) gave wrong bytes",
		       c, how, c, f, pg, cf->v[pg]);
}

static void op_write(struct daxfs *fs, int c, int f, struct cfile *cf, uint64_t *rng)
{
	uint8_t buf[8 * PAGE];
	uint64_t first = t_rand(rng) % MAX_PAGES, n = 1 + t_rand(rng) % 8;
	uint32_t v = (uint32_t)(t_rand(rng) % 1000000) + 1;

	if (first + n > MAX_PAGES)
		n = MAX_PAGES - first;
	for (uint64_t i = 0; i < n; i++)
		page_fill(buf + i * PAGE, c, f, first + i, v);
	if (daxfs_pwrite(fs, cf->ino, buf, n * PAGE, first * PAGE) != (ssize_t)(n * PAGE))
		T_FAIL("client %d: pwrite: %s", c, daxfs_errormsg());
	for (uint64_t i = cf->npages; i < first; i++)
		cf->v[i] = 0;
	for (uint64_t i = 0; i < n; i++) {
		if (cf->v[first + i] == V_LOST)
			sh->c[c].rewrites_of_lost++;
		cf->v[first + i] = v;
	}
	if (first + n > cf->npages)
		cf->npages = first + n;
	sh->c[c].writes++;
}

static void op_read(struct daxfs *fs, int c, int f, struct cfile *cf)
{
	uint8_t buf[PAGE];

	for (uint64_t pg = 0; pg < cf->npages; pg++) {
		ssize_t n = daxfs_pread(fs, cf->ino, buf, PAGE, pg * PAGE);

		if (n != -EIO && n != (ssize_t)PAGE)
			T_FAIL("client %d: pread of page %" PRIu64 ": %zd", c, pg, n);
		check_page(fs, c, f, cf, pg, buf, n == -EIO, "pread");
		sh->c[c].eio += n == -EIO;
	}
	sh->c[c].reads++;
}

static void op_map(struct daxfs *fs, int c, int f, struct cfile *cf)
{
	struct daxfs_map *m = NULL;
	uint8_t buf[PAGE];
	const uint8_t *v;

	if (cf->npages == 0)
		return;
	T_OK(daxfs_map_new(fs, cf->ino, 0, cf->npages * PAGE, DAXFS_MAP_READ, &m));
	v = daxfs_map_addr(m);
	for (uint64_t pg = 0; pg < cf->npages; pg++) {
		sigjmp_buf env;
		volatile bool faulted = false;

		segv_env = &env;
		if (sigsetjmp(env, 1) == 0)
			memcpy(buf, v + pg * PAGE, PAGE);
		else
			faulted = true;
		segv_env = NULL;
		/* A page copied while the poison came may hold anything; ask again. */
		if (!faulted && page_poisoned(fs, cf->ino, pg))
			faulted = true;
		check_page(fs, c, f, cf, pg, buf, faulted, "a mapped read");
		sh->c[c].faults += faulted;
	}
	daxfs_map_delete(&m);
	sh->c[c].maps++;
}

static int client_main(int c)
{
	struct sigaction sa = {.sa_handler = on_segv, .sa_flags = SA_NODEFER};
	static struct cfile files[NFILES];
	uint64_t rng = mix(seed + (uint64_t)c + 1);
	struct daxfs *fs;
	char dir[32];

	sigemptyset(&sa.sa_mask);
	T_ASSERT(sigaction(SIGSEGV, &sa, NULL) == 0);
	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_event_thread_start(fs));
	snprintf(dir, sizeof(dir), "/c%d", c);
	T_OK(daxfs_mkdir(fs, dir, 0755, NULL));
	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		int f = (int)(t_rand(&rng) % NFILES), op = (int)(t_rand(&rng) % 100);
		struct cfile *cf = &files[f];
		struct daxfs_stat st;
		char path[32];

		path_of(path, sizeof(path), c, f);
		sh->c[c].ops++;
		if (!cf->exists) {
			T_OK(daxfs_create(fs, path, 0644, DAXFS_CREATE_EXCL, &st));
			*cf = (struct cfile){.exists = true, .ino = st.ino};
			op_write(fs, c, f, cf, &rng);
		} else if (op < 40) {
			op_write(fs, c, f, cf, &rng);
		} else if (op < 75) {
			op_read(fs, c, f, cf);
		} else if (op < 85) {
			uint64_t np = t_rand(&rng) % (MAX_PAGES + 1);

			T_OK(daxfs_truncate(fs, path, np * PAGE));
			for (uint64_t i = cf->npages; i < np; i++)
				cf->v[i] = 0;
			cf->npages = np;
		} else if (op < 90) {
			T_OK(daxfs_unlink(fs, path));
			cf->exists = false;
		} else {
			op_map(fs, c, f, cf);
		}
	}
	daxfs_close(fs);
	return 0;
}

/* --- the parent: the injections --- */

struct inject {
	uint64_t off;
	bool in_use;
};

/* in_use_block - a random block of some client's file, or UINT64_MAX when none is found. */
static uint64_t in_use_block(struct daxfs *fs, uint64_t *rng)
{
	for (int tries = 0; tries < 16; tries++) {
		struct daxfs_extent *ext;
		struct daxfs_stat st;
		uint64_t total = 0, pick;
		char path[32];
		size_t n;

		path_of(path, sizeof(path), (int)(t_rand(rng) % NCLIENTS),
			(int)(t_rand(rng) % NFILES));
		if (daxfs_stat(fs, path, &st) < 0)
			continue;
		if (daxfs_extents(fs, st.ino, &ext, &n) < 0)
			continue; /* unlinked meanwhile */
		for (size_t i = 0; i < n; i++)
			total += ext[i].len / PAGE;
		if (total == 0) {
			free(ext);
			continue;
		}
		pick = t_rand(rng) % total;
		for (size_t i = 0; i < n; i++) {
			if (pick < ext[i].len / PAGE) {
				uint64_t off = ext[i].region_off + pick * PAGE;

				free(ext);
				return off;
			}
			pick -= ext[i].len / PAGE;
		}
		T_FAIL("unreachable");
	}
	return UINT64_MAX;
}

static bool listed(const struct daxfs_badblock *bb, size_t n, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		if (off >= bb[i].region_off && off < bb[i].region_off + bb[i].len)
			return true;
	return false;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const char *const opts[] = {"--fault-injection", "--map-users", "root", NULL};
	static struct inject inj[NINJECT];
	uint64_t rng, data_off, data_end, t0, distinct = 0, offs[NINJECT];
	struct daxfs_badblock *bb;
	struct daxfs_statfs sf;
	struct json_object *doc;
	pid_t pids[NCLIENTS];
	int in_use = 0, via_cli = 0;
	struct daxfs *fs;
	size_t nbb;
	char *out;

	t_tools_init(&argc, argv);
	t_require_root("--map-users root and fault injection");
	seed = t_seed(argc, argv, 1);
	rng = mix(seed);
	t_watchdog(150, "test-poison-workload");
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(sh != MAP_FAILED);
	t_region_new(t_path("region"), "64M");
	t_daemon_start(&d, t_path("region"), "daxfsd", opts);

	for (int c = 0; c < NCLIENTS; c++) {
		fflush(NULL);
		pids[c] = fork();
		T_ASSERT(pids[c] >= 0);
		if (pids[c] == 0)
			exit(client_main(c));
	}
	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_statfs(fs, &sf));
	/* docs/format.md: the first chunk, two log areas, then the data area. */
	data_off = (UINT64_C(2) << 20) + 2 * sf.log_len;
	data_end = data_off + sf.blocks * PAGE;
	usleep(200000); /* the clients make their files */

	t0 = t_now_ms();
	for (int i = 0; i < NINJECT; i++) {
		uint64_t off = UINT64_MAX, n;

		if (i % 2 == 0)
			off = in_use_block(fs, &rng);
		inj[i].in_use = off != UINT64_MAX;
		in_use += inj[i].in_use;
		if (off == UINT64_MAX)
			off = data_off + t_rand(&rng) % ((data_end - data_off) / PAGE) * PAGE;
		inj[i].off = off;
		if (i % 10 == 0) {
			char offbuf[32];

			snprintf(offbuf, sizeof(offbuf), "%" PRIu64, off);
			if (t_cli(&d, &out, NULL, "inject", "poison", "--offset", offbuf,
				  "--length", "4096", NULL) != 0)
				T_FAIL("daxfs inject poison --offset %s failed", offbuf);
			T_ASSERT(strstr(out, "newly quarantined"));
			free(out);
			via_cli++;
		} else {
			T_OK(daxfs_inject(fs, DAXFS_INJECT_POISON, NULL, off, PAGE, &n));
			T_ASSERT(n <= 1);
		}
		usleep(INJECT_GAP_MS * 1000);
	}
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
	for (int c = 0; c < NCLIENTS; c++)
		t_wait_child(pids[c], 60000, "a client");
	t_daemon_check_alive(&d);

	/* Every injection is accounted for. */
	T_OK(daxfs_badblocks(fs, &bb, &nbb));
	for (int i = 0; i < NINJECT; i++)
		if (!listed(bb, nbb, inj[i].off))
			T_FAIL("injection %d (block at %" PRIu64 ", %s) is not in badblocks", i,
			       inj[i].off, inj[i].in_use ? "in a file" : "random");
	for (int i = 0; i < NINJECT; i++)
		offs[i] = inj[i].off;
	qsort(offs, NINJECT, sizeof(offs[0]), cmp_u64);
	for (int i = 0; i < NINJECT; i++)
		distinct += i == 0 || offs[i] != offs[i - 1];
	T_OK(daxfs_statfs(fs, &sf));
	if (sf.blocks_quarantined < distinct)
		T_FAIL("%" PRIu64 " blocks quarantined, %" PRIu64 " distinct blocks poisoned",
		       sf.blocks_quarantined, distinct);
	if (t_cli(&d, &out, NULL, "badblocks", "--json", NULL) != 0)
		T_FAIL("daxfs badblocks --json failed");
	doc = json_tokener_parse(out);
	T_ASSERT(doc && json_object_is_type(doc, json_type_array));
	T_ASSERT(json_object_array_length(doc) == nbb);
	for (size_t i = 0; i < nbb; i++) {
		struct json_object *e = json_object_array_get_idx(doc, i), *ro, *len;

		T_ASSERT(json_object_object_get_ex(e, "region_offset", &ro) &&
			 json_object_object_get_ex(e, "length", &len));
		T_ASSERT((uint64_t)json_object_get_int64(ro) == bb[i].region_off &&
			 (uint64_t)json_object_get_int64(len) == bb[i].len);
	}
	json_object_put(doc);
	free(out);
	free(bb);

	{
		uint64_t ops = 0, eio = 0, faults = 0, maps = 0, rewrites = 0;

		for (int c = 0; c < NCLIENTS; c++) {
			T_ASSERT(sh->c[c].ops > 10 && sh->c[c].reads > 0 && sh->c[c].writes > 0);
			ops += sh->c[c].ops;
			eio += sh->c[c].eio;
			faults += sh->c[c].faults;
			maps += sh->c[c].maps;
			rewrites += sh->c[c].rewrites_of_lost;
		}
		printf("%d injections in %" PRIu64 " ms (%d on blocks in use, %d by the CLI), "
		       "%" PRIu64 " distinct blocks, %" PRIu64 " quarantined, %zu ranges listed\n",
		       NINJECT, t_now_ms() - t0, in_use, via_cli, distinct, sf.blocks_quarantined,
		       nbb);
		printf("clients: %" PRIu64 " operations, %" PRIu64 " mappings, %" PRIu64
		       " EIO page reads, %" PRIu64 " mapped pages poisoned, %" PRIu64
		       " lost pages rewritten\n",
		       ops, maps, eio, faults, rewrites);
		T_ASSERT(eio + faults > 0);
	}
	daxfs_close(fs);
	t_daemon_stop(&d);
	t_check_clean(t_path("region"));
	printf("ok\n");
	return 0;
}
