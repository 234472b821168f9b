// SPDX-License-Identifier: MIT
/*
 * test-lease-break - lease breaks of a truncate with several mappers, DESIGN §6, issue #5.
 * The region is filled to its last block first, so that the only blocks a writer can get are
 * the ones the truncate frees: when it gets them shows when they were freed.
 *
 * 1. Four client processes map a 64-page file. Three handle events on the library's thread;
 *    the fourth polls its event fd and waits 300 ms before it lets the library handle what
 *    came (the library acks inside daxfs_process_events, before the callback), so its ack
 *    is the last by far. A writer thread in the parent keeps trying to write single pages
 *    (ENOSPC: the region is full) while the parent truncates the file to 0. All four get
 *    INVALIDATE of the whole mapping; the truncate returns only after the late client
 *    started acking; the writer's first page comes after that too, and every page it gets
 *    is one of the file's old blocks.
 * 2. A SIGSTOPped mapper (--lease-break-timeout 500): the truncate returns after about
 *    500 ms; the daemon logs that the session timed out and is dropped; the 16 blocks the
 *    stopped process can still reach are not free (statfs) and a new write gets ENOSPC, also
 *    a while later; once the process is SIGKILLed they come back (within a bounded poll), and
 *    a new write gets exactly them.
 * 3. A rename over a file two processes map: both get INVALIDATE of the whole mapping, the
 *    rename returns at once (their acks), and the replaced file's blocks are free after.
 *
 * Usage: test-lease-break --daxfsd=PATH --cli=PATH [seed]
 */
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "testutil.h"

#define PAGE UINT64_C(4096)
#define NPAGES 64
#define FILE_LEN (NPAGES * PAGE)
#define NCLIENTS 4
#define LATE_MS 300 /* how long the last client waits before it acks */

static struct t_daemon d;
static uint64_t rng;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* --- blocks --- */

struct blocks {
	size_t n;
	uint64_t off[4096]; /* region offsets of single blocks */
};

static void blocks_of(struct daxfs *fs, const char *path, struct blocks *b)
{
	struct daxfs_extent *ext;
	struct daxfs_stat st;
	size_t n;

	b->n = 0;
	T_OK(daxfs_stat(fs, path, &st));
	T_OK(daxfs_extents(fs, st.ino, &ext, &n));
	for (size_t i = 0; i < n; i++)
		for (uint64_t o = 0; o < ext[i].len; o += PAGE) {
			T_ASSERT(b->n < 4096);
			b->off[b->n++] = ext[i].region_off + o;
		}
	free(ext);
}

static bool blocks_has(const struct blocks *b, uint64_t off)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->off[i] == off)
			return true;
	return false;
}

/* --- 1. four mappers --- */

struct kid_report {
	int type;
	uint64_t off, len;
	uint64_t event_ns; /* the callback ran */
	uint64_t ack_ns;   /* the late client: just before the library read (and acked) it */
};

struct kid {
	int id;
	uint64_t ino;
	int up, down; /* the child's ends */
	pid_t pid;
	int from, to; /* the parent's ends */
};

struct krec {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int n;
	struct kid_report r;
};

static void on_event(void *ctx, const struct daxfs_event *ev)
{
	struct krec *k = ctx;
	uint64_t t = now_ns();

	pthread_mutex_lock(&k->lock);
	if (k->n++ == 0)
		k->r = (struct kid_report){(int)ev->type, ev->off, ev->len, t, 0};
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
}

static int mapper_main(struct kid *k)
{
	struct krec rec = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}};
	bool late = k->id == NCLIENTS - 1;
	struct daxfs_map *m = NULL;
	struct timespec ts;
	struct daxfs *fs;
	uint64_t ack_ns = 0;
	char c;

	T_OK(daxfs_open(&fs, d.sock));
	daxfs_set_event_callback(fs, on_event, &rec);
	if (!late)
		T_OK(daxfs_event_thread_start(fs));
	T_OK(daxfs_map_new(fs, k->ino, 0, FILE_LEN, DAXFS_MAP_READ, &m));
	T_ASSERT(write(k->up, "m", 1) == 1);
	if (late) {
		struct pollfd pfd = {.fd = daxfs_event_fd(fs), .events = POLLIN};
		uint64_t end = t_now_ms() + 10000;

		while (rec.n == 0 && t_now_ms() < end) {
			if (poll(&pfd, 1, 100) <= 0)
				continue;
			sleep_ms(LATE_MS);
			ack_ns = now_ns();
			T_OK(daxfs_process_events(fs));
		}
	}
	ts = t_deadline_s(10);
	pthread_mutex_lock(&rec.lock);
	while (rec.n == 0)
		if (t_cond_wait_s(&rec.cond, &rec.lock, &ts) == ETIMEDOUT)
			T_FAIL("client %d: no event within 10 s", k->id);
	rec.r.ack_ns = ack_ns;
	pthread_mutex_unlock(&rec.lock);
	T_ASSERT(write(k->up, &rec.r, sizeof(rec.r)) == (ssize_t)sizeof(rec.r));
	T_ASSERT(read(k->down, &c, 1) == 1);
	T_ASSERT(rec.n == 1);
	daxfs_map_delete(&m);
	daxfs_close(fs);
	return 0;
}

static void kid_fork(struct kid *k, int (*fn)(struct kid *))
{
	int up[2], down[2];

	T_ASSERT(pipe(up) == 0 && pipe(down) == 0);
	k->up = up[1];
	k->down = down[0];
	fflush(NULL);
	k->pid = fork();
	T_ASSERT(k->pid >= 0);
	if (k->pid == 0) {
		close(up[0]);
		close(down[1]);
		exit(fn(k));
	}
	close(up[1]);
	close(down[0]);
	k->from = up[0];
	k->to = down[1];
}

static void kid_read(struct kid *k, void *buf, size_t len)
{
	if (read(k->from, buf, len) != (ssize_t)len) {
		t_wait_child(k->pid, 10000, "a mapping client");
		T_FAIL("client %d went away", k->id);
	}
}

static void kid_end(struct kid *k)
{
	T_ASSERT(write(k->to, "q", 1) == 1);
	t_wait_child(k->pid, 30000, "a mapping client");
	close(k->from);
	close(k->to);
}

struct writer {
	pthread_t th;
	volatile int stop;
	uint64_t first_ns; /* the first page written */
	int pages, enospc;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint8_t page[PAGE];
	struct daxfs_stat st;
	struct daxfs *fs;
	uint64_t end = t_now_ms() + 20000;

	memset(page, 'w', sizeof(page));
	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_create(fs, "/w", 0644, DAXFS_CREATE_EXCL, &st));
	while (w->pages < NPAGES && t_now_ms() < end &&
	       !__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		ssize_t n = daxfs_pwrite(fs, st.ino, page, PAGE, (uint64_t)w->pages * PAGE);

		if (n == -ENOSPC) {
			w->enospc++;
			sleep_ms(2);
			continue;
		}
		if (n != (ssize_t)PAGE)
			T_FAIL("the writer's pwrite: %zd", n);
		if (w->pages++ == 0)
			w->first_ns = now_ns();
	}
	daxfs_close(fs);
	return NULL;
}

static void test_four_mappers(struct daxfs *fs)
{
	static uint8_t pat[FILE_LEN];
	struct kid kids[NCLIENTS];
	struct kid_report rep[NCLIENTS];
	struct blocks *old = malloc(sizeof(*old)), *got = malloc(sizeof(*got));
	struct writer w = {0};
	struct daxfs_stat st;
	uint64_t t0, t1, last_ack;

	T_ASSERT(old && got);
	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)t_rand(&rng);
	T_OK(daxfs_create(fs, "/t", 0644, DAXFS_CREATE_EXCL, &st));
	T_ASSERT(daxfs_pwrite(fs, st.ino, pat, FILE_LEN, 0) == (ssize_t)FILE_LEN);
	blocks_of(fs, "/t", old);
	T_ASSERT(old->n == NPAGES);
	t_fill_region(fs, "fill", 0x5a);

	for (int i = 0; i < NCLIENTS; i++) {
		kids[i] = (struct kid){.id = i, .ino = st.ino};
		kid_fork(&kids[i], mapper_main);
	}
	for (int i = 0; i < NCLIENTS; i++) {
		char c;

		kid_read(&kids[i], &c, 1);
		T_ASSERT(c == 'm');
	}
	T_ASSERT(pthread_create(&w.th, NULL, writer_main, &w) == 0);
	sleep_ms(50); /* the writer is refused for a while: the region is full */

	t0 = now_ns();
	T_OK(daxfs_truncate(fs, "/t", 0));
	t1 = now_ns();
	for (int i = 0; i < NCLIENTS; i++) {
		kid_read(&kids[i], &rep[i], sizeof(rep[i]));
		if (rep[i].type != DAXFS_EVENT_INVALIDATE || rep[i].off != 0 ||
		    rep[i].len != FILE_LEN)
			T_FAIL("client %d: event %d [%" PRIu64 ", +%" PRIu64
			       "), expected INVALIDATE "
			       "of the whole mapping",
			       i, rep[i].type, rep[i].off, rep[i].len);
		T_ASSERT(rep[i].event_ns >= t0);
		printf("client %d: INVALIDATE after %.1f ms\n", i,
		       (double)(rep[i].event_ns - t0) / 1e6);
	}
	last_ack = rep[NCLIENTS - 1].ack_ns;
	printf("truncate took %.1f ms; the late client acked after %.1f ms\n",
	       (double)(t1 - t0) / 1e6, (double)(last_ack - t0) / 1e6);
	T_ASSERT(last_ack - t0 >= LATE_MS * 1000000ull);
	if (t1 < last_ack)
		T_FAIL("the truncate returned %.1f ms before the last client acked",
		       (double)(last_ack - t1) / 1e6);
	T_ASSERT(pthread_join(w.th, NULL) == 0);
	if (w.pages != NPAGES)
		T_FAIL("the writer got %d pages of the %d the truncate freed", w.pages, NPAGES);
	printf("writer: %d ENOSPC, first page %.1f ms after the truncate started\n", w.enospc,
	       (double)(w.first_ns - t0) / 1e6);
	T_ASSERT(w.enospc > 0);
	if (w.first_ns < last_ack)
		T_FAIL("a freed block was reused %.1f ms before the last ack",
		       (double)(last_ack - w.first_ns) / 1e6);
	blocks_of(fs, "/w", got);
	T_ASSERT(got->n == NPAGES);
	for (size_t i = 0; i < got->n; i++)
		if (!blocks_has(old, got->off[i]))
			T_FAIL("the writer got block %" PRIu64 ", not one of the truncated file's",
			       got->off[i]);
	for (int i = 0; i < NCLIENTS; i++)
		kid_end(&kids[i]);
	T_ASSERT(!t_daemon_log_has(&d, "timed out"));
	T_OK(daxfs_unlink(fs, "/w"));
	T_OK(daxfs_unlink(fs, "/t"));
	free(old);
	free(got);
}

/* --- 2. a stopped mapper --- */

static int stopped_main(struct kid *k)
{
	struct daxfs_map *m = NULL;
	struct daxfs *fs;

	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_event_thread_start(fs));
	T_OK(daxfs_map_new(fs, k->ino, 0, 16 * PAGE, DAXFS_MAP_WRITE, &m));
	memset(daxfs_map_addr(m), 'S', 16 * PAGE);
	daxfs_map_persist(m, daxfs_map_addr(m), 16 * PAGE);
	T_ASSERT(write(k->up, "m", 1) == 1);
	for (;;)
		pause(); /* until SIGSTOP, then SIGKILL */
}

static void test_stopped_mapper(struct daxfs **fsp)
{
	static const char *const opts[] = {"--map-users", "root", "--lease-break-timeout", "500",
					   NULL};
	struct blocks *held = malloc(sizeof(*held)), *got = malloc(sizeof(*got));
	struct daxfs_statfs sf;
	struct daxfs_stat st;
	struct kid k;
	uint64_t t0, took, end;
	uint8_t page[PAGE] = {0};
	char needle[64], c;
	int status;

	T_ASSERT(held && got);
	daxfs_close(*fsp);
	t_daemon_restart(&d, opts);
	T_OK(daxfs_open(fsp, d.sock));
	T_OK(daxfs_create(*fsp, "/s", 0644, DAXFS_CREATE_EXCL, &st));
	k = (struct kid){.id = 0, .ino = st.ino};
	kid_fork(&k, stopped_main);
	kid_read(&k, &c, 1);
	blocks_of(*fsp, "/s", held);
	T_ASSERT(held->n == 16);
	/* The 64 pages the first part unlinked: the region is full again. */
	T_OK(daxfs_create(*fsp, "/g", 0644, DAXFS_CREATE_EXCL, &st));
	for (uint64_t i = 0;; i++) {
		ssize_t n = daxfs_pwrite(*fsp, st.ino, page, PAGE, i * PAGE);

		if (n == -ENOSPC)
			break;
		T_ASSERT(n == (ssize_t)PAGE);
	}
	T_OK(daxfs_statfs(*fsp, &sf));
	T_ASSERT(sf.blocks_free == 0);

	T_ASSERT(kill(k.pid, SIGSTOP) == 0);
	T_ASSERT(waitpid(k.pid, &status, WUNTRACED) == k.pid && WIFSTOPPED(status));
	t0 = t_now_ms();
	T_OK(daxfs_truncate(*fsp, "/s", 0));
	took = t_now_ms() - t0;
	printf("truncate with a stopped mapper took %" PRIu64 " ms (timeout 500)\n", took);
	if (took < 480 || took > 5000)
		T_FAIL("the truncate took %" PRIu64 " ms, the lease-break timeout is 500", took);
	T_ASSERT(t_daemon_log_has(&d, "timed out after 500 ms"));
	snprintf(needle, sizeof(needle), "(pid %d, uid 0): ", (int)k.pid);
	T_ASSERT(t_daemon_log_has(&d, needle) && t_daemon_log_has(&d, "dropping it"));
	T_OK(daxfs_stat(*fsp, "/s", &st));
	T_ASSERT(st.size == 0 && st.blocks == 0);
	/* Its blocks stay held while it lives: not free, not handed to a new write. */
	for (int round = 0; round < 2; round++) {
		T_OK(daxfs_statfs(*fsp, &sf));
		if (sf.blocks_free != 0)
			T_FAIL("%" PRIu64 " blocks free while the stopped mapper lives",
			       sf.blocks_free);
		T_ERR(daxfs_pwrite(*fsp, st.ino, page, PAGE, 0), ENOSPC);
		sleep_ms(300);
	}
	/*
	 * ... also across a restart, clean (SIGTERM) or not (SIGKILL): the HOLD records
	 * bring them back out of use, since the stopped process still maps them.
	 */
	for (int round = 0; round < 2; round++) {
		daxfs_close(*fsp);
		if (round == 0) {
			t_daemon_restart(&d, NULL);
		} else {
			T_ASSERT(kill(d.pid, SIGKILL) == 0);
			t_daemon_wait_exit(&d, 10000);
			t_daemon_respawn(&d);
		}
		T_OK(daxfs_open(fsp, d.sock));
		T_OK(daxfs_statfs(*fsp, &sf));
		if (sf.blocks_free != 0)
			T_FAIL("%" PRIu64
			       " blocks free after a %s restart while the stopped mapper "
			       "lives",
			       sf.blocks_free, round ? "crash" : "clean");
		T_ERR(daxfs_pwrite(*fsp, st.ino, page, PAGE, 0), ENOSPC);
		T_ASSERT(t_daemon_log_has(&d, "stay held for clients dropped before the restart"));
	}

	/* Killed: the blocks come back (the restored hold is checked every second), and a new
	 * write gets exactly them. */
	T_ASSERT(kill(k.pid, SIGKILL) == 0);
	T_ASSERT(waitpid(k.pid, &status, 0) == k.pid && WIFSIGNALED(status));
	close(k.from);
	close(k.to);
	end = t_now_ms() + 10000;
	do {
		sleep_ms(10);
		T_OK(daxfs_statfs(*fsp, &sf));
	} while (sf.blocks_free != 16 && t_now_ms() < end);
	if (sf.blocks_free != 16)
		T_FAIL("%" PRIu64 " blocks free 10 s after the mapper was killed, expected 16",
		       sf.blocks_free);
	printf("the held blocks came back %" PRIu64 " ms after SIGKILL\n",
	       t_now_ms() - end + 10000);
	T_ASSERT(daxfs_pwrite(*fsp, st.ino, page, PAGE, 15 * PAGE) == (ssize_t)PAGE);
	for (uint64_t i = 0; i < 15; i++)
		T_ASSERT(daxfs_pwrite(*fsp, st.ino, page, PAGE, i * PAGE) == (ssize_t)PAGE);
	blocks_of(*fsp, "/s", got);
	T_ASSERT(got->n == 16);
	for (size_t i = 0; i < got->n; i++)
		T_ASSERT(blocks_has(held, got->off[i]));
	free(held);
	free(got);
}

/* --- 3. rename over a mapped file --- */

static void test_rename_over(struct daxfs *fs)
{
	static uint8_t pat[FILE_LEN];
	struct kid kids[2];
	struct kid_report rep;
	struct daxfs_statfs sf0, sf;
	struct daxfs_stat st, st2;
	uint8_t got[4 * PAGE];
	uint64_t t0, took, end;

	T_OK(daxfs_unlink(fs, "/g"));
	T_OK(daxfs_unlink(fs, "/s"));
	T_OK(daxfs_unlink(fs, "/fill0"));
	/*
	 * Unlinked blocks go back to the allocator after an RCU grace period; until then
	 * statfs counts them free, and a write on the full region waits for them rather than
	 * failing with ENOSPC (both used to fail right after an unlink).
	 */
	T_OK(daxfs_statfs(fs, &sf0));
	T_ASSERT(sf0.blocks_free >= NPAGES + 4);
	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)t_rand(&rng);
	T_OK(daxfs_create(fs, "/r1", 0644, DAXFS_CREATE_EXCL, &st));
	T_ASSERT(daxfs_pwrite(fs, st.ino, pat, FILE_LEN, 0) == (ssize_t)FILE_LEN);
	T_OK(daxfs_create(fs, "/r2", 0644, DAXFS_CREATE_EXCL, &st2));
	T_ASSERT(daxfs_pwrite(fs, st2.ino, pat, 4 * PAGE, 0) == (ssize_t)(4 * PAGE));
	T_OK(daxfs_statfs(fs, &sf0));
	for (int i = 0; i < 2; i++) {
		kids[i] = (struct kid){.id = i, .ino = st.ino};
		kid_fork(&kids[i], mapper_main);
	}
	for (int i = 0; i < 2; i++) {
		char c;

		kid_read(&kids[i], &c, 1);
	}
	t0 = t_now_ms();
	T_OK(daxfs_rename(fs, "/r2", "/r1", 0));
	took = t_now_ms() - t0;
	if (took > 400)
		T_FAIL("the rename over a mapped file took %" PRIu64 " ms: no ack came (the "
		       "timeout is 500)",
		       took);
	for (int i = 0; i < 2; i++) {
		kid_read(&kids[i], &rep, sizeof(rep));
		if (rep.type != DAXFS_EVENT_INVALIDATE || rep.off != 0 || rep.len != FILE_LEN)
			T_FAIL("client %d: event %d [%" PRIu64 ", +%" PRIu64 ") after the rename, "
			       "expected INVALIDATE of the whole mapping",
			       i, rep.type, rep.off, rep.len);
		kid_end(&kids[i]);
	}
	T_OK(daxfs_stat(fs, "/r1", &st));
	T_ASSERT(st.ino == st2.ino && st.size == 4 * PAGE);
	T_ASSERT(daxfs_pread(fs, st.ino, got, sizeof(got), 0) == (ssize_t)sizeof(got));
	T_ASSERT(memcmp(got, pat, sizeof(got)) == 0);
	/* The replaced file's blocks are free again. */
	end = t_now_ms() + 10000;
	for (;;) {
		T_OK(daxfs_statfs(fs, &sf));
		if (sf.blocks_free == sf0.blocks_free + NPAGES || t_now_ms() > end)
			break;
		sleep_ms(10);
	}
	if (sf.blocks_free != sf0.blocks_free + NPAGES)
		T_FAIL("%" PRIu64 " blocks free after the rename, expected %" PRIu64,
		       sf.blocks_free, sf0.blocks_free + NPAGES);
}

int main(int argc, char **argv)
{
	static const char *const opts[] = {"--map-users", "root", NULL};
	struct daxfs *fs;

	t_tools_init(&argc, argv);
	t_require_root("--map-users root");
	rng = t_seed(argc, argv, 1);
	t_watchdog(120, "test-lease-break");
	t_region_new(t_path("region"), "16M");
	t_daemon_start(&d, t_path("region"), "daxfsd", opts);
	T_OK(daxfs_open(&fs, d.sock));
	test_four_mappers(fs);
	t_daemon_check_alive(&d);
	test_stopped_mapper(&fs);
	t_daemon_check_alive(&d);
	test_rename_over(fs);
	t_daemon_check_alive(&d);
	daxfs_close(fs);
	t_daemon_stop(&d);
	printf("ok\n");
	return 0;
}
