// SPDX-License-Identifier: MIT
/*
 * test-races - what happens to other requests while one waits (issue 13).
 *
 * A raw client maps a file and never acknowledges the lease break (--lease-break-timeout
 * 3000), so a rename over that file waits 3 s, and then drops the mapper.
 *
 * 1. Lost updates: while the rename waits, another client extends the rename's source file
 *    with a write and chmods its directory. Both are answered at once (well within 1 s,
 *    the rename holding no lock meanwhile), and both survive the rename, and a restart.
 * 2. Directories: while a rename waits the same way, another client changes the link count
 *    of the rename's directory (a subdirectory made, one moved away) and, in a second
 *    round, moves the rename's directory itself under another. Afterwards and after a
 *    restart the link counts are right, "move a directory under its child" is still refused
 *    (the parent pointers are right), and daxfs check is clean.
 * 3. No stalls: an unrelated create in another directory is answered within a generous
 *    bound (500 ms; bench/run stall measures it, goal 10 ms) while a rename waits for a
 *    lease break, and while another client fallocates 1.5 GiB.
 *
 * Usage: test-races --daxfsd=PATH --cli=PATH
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "rawclient.h"
#include "testutil.h"

#define LEASE_MS 3000
#define PROMPT_MS 1000	 /* "at once" while a rename waits 3 s */
#define NO_STALL_MS 500	 /* an unrelated create, under ASan on 2 CPUs */
#define BIG (1536ULL << 20) /* the long fallocate */

static struct t_daemon d;

/* --- the rename that waits, on its own thread --- */

struct waiter {
	const char *from, *to;
	uint64_t started, took;
	int rc;
	pthread_t thread;
};

static void *rename_main(void *arg)
{
	struct waiter *w = arg;
	struct daxfs *fs;

	T_OK(daxfs_open(&fs, d.sock));
	w->started = t_now_ms();
	w->rc = daxfs_rename(fs, w->from, w->to, 0);
	w->took = t_now_ms() - w->started;
	daxfs_close(fs);
	return NULL;
}

/*
 * deaf_mapper - a raw session that looks @path up and maps its first page; it never acks.
 * Return: the session (close it when done).
 */
static void deaf_mapper(struct raw *r, const char *path)
{
	struct raw_pkt *pkt = malloc(sizeof(*pkt));
	struct wire_attr_reply ar;
	uint8_t msg[512];

	T_ASSERT(pkt);
	raw_hello(r, d.sock);
	raw_call(r, msg, raw_msg_path(msg, WIRE_STAT, 1, path), pkt, 0);
	memcpy(&ar, (uint8_t *)pkt->buf + 16, sizeof(ar));
	raw_call(r, msg, raw_msg_map(msg, 2, ar.a.ino, 0, 4096, WIRE_MAP_READ), pkt, 0);
	if (pkt->nfds)
		close(pkt->fd);
	free(pkt);
}

/* wait_invalidate - the mapper hears of the lease break: the rename is waiting now. */
static void wait_invalidate(struct raw *r)
{
	struct raw_pkt *pkt = malloc(sizeof(*pkt));

	T_ASSERT(pkt);
	T_ASSERT(raw_recv(r->fd, pkt, 10000, false) == 1);
	T_ASSERT(pkt->hdr.op == WIRE_EV_INVALIDATE);
	free(pkt);
}

static void start_rename(struct waiter *w, const char *from, const char *to)
{
	*w = (struct waiter){.from = from, .to = to};
	T_ASSERT(pthread_create(&w->thread, NULL, rename_main, w) == 0);
}

static void finish_rename(struct waiter *w)
{
	pthread_join(w->thread, NULL);
	T_OK(w->rc);
	/* It did wait for the mapper (and then dropped it). */
	T_ASSERT(w->took >= LEASE_MS - 500);
}

/* prompt - @what took at most @bound_ms since @t0 (while something else waited or ran long). */
static void prompt(uint64_t t0, unsigned bound_ms, const char *what)
{
	uint64_t took = t_now_ms() - t0;

	if (took > bound_ms)
		T_FAIL("%s took %" PRIu64 " ms (bound %u ms)", what, took, bound_ms);
}

/* --- 1. a write and a chmod during the wait --- */

static uint8_t pattern[4096];

static void check_lost_update(struct daxfs *fs, uint64_t victim_size)
{
	struct daxfs_stat st;
	uint8_t buf[4096];

	T_OK(daxfs_stat(fs, "/d", &st));
	T_ASSERT((st.mode & 07777) == 0751);
	T_OK(daxfs_stat(fs, "/d/victim", &st));
	T_ASSERT(st.size == victim_size);
	T_ASSERT(daxfs_pread(fs, st.ino, buf, sizeof(buf), victim_size - sizeof(buf)) ==
		 sizeof(buf));
	T_ASSERT(memcmp(buf, pattern, sizeof(buf)) == 0);
	T_ERR(daxfs_stat(fs, "/d/src", &st), ENOENT);
}

static void test_lost_update(struct daxfs *fs)
{
	const uint64_t off = 100000, size = off + sizeof(pattern);
	struct daxfs_stat src, dir;
	struct daxfs_stat to = {0};
	struct waiter w;
	struct raw m;
	uint64_t t0;

	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + 3);
	T_OK(daxfs_mkdir(fs, "/d", 0755, &dir));
	T_OK(daxfs_create(fs, "/d/src", 0644, DAXFS_CREATE_EXCL, &src));
	T_OK(daxfs_create(fs, "/d/victim", 0644, DAXFS_CREATE_EXCL, NULL));
	T_OK(daxfs_truncate(fs, "/d/victim", 8192));
	deaf_mapper(&m, "/d/victim");

	start_rename(&w, "/d/src", "/d/victim");
	wait_invalidate(&m);
	/* The write that extends the source, and the chmod of the directory: at once. */
	t0 = t_now_ms();
	T_ASSERT(daxfs_pwrite(fs, src.ino, pattern, sizeof(pattern), off) == sizeof(pattern));
	prompt(t0, PROMPT_MS, "the write of a waiting rename's source");
	t0 = t_now_ms();
	to.mode = 0751;
	T_OK(daxfs_setattr(fs, dir.ino, DAXFS_SET_MODE, &to, NULL));
	prompt(t0, PROMPT_MS, "the chmod of a waiting rename's directory");
	finish_rename(&w);
	raw_close(&m);

	check_lost_update(fs, size);
	daxfs_close(fs);
	t_daemon_restart(&d, NULL);
	T_OK(daxfs_open(&fs, d.sock));
	check_lost_update(fs, size);
	daxfs_close(fs);
	printf("ok a write and a chmod during a rename's lease break both stay\n");
}

/* --- 2. directories --- */

static void check_dirs(struct daxfs *fs)
{
	struct daxfs_stat st;

	T_OK(daxfs_stat(fs, "/p", &st));
	T_ASSERT(st.nlink == 3); /* sub; c moved out */
	T_OK(daxfs_stat(fs, "/q", &st));
	T_ASSERT(st.nlink == 3); /* c moved in */
	T_OK(daxfs_stat(fs, "/q/c", &st));
	T_ASSERT(st.nlink == 2);
	T_OK(daxfs_stat(fs, "/p/victim", &st));
	T_ERR(daxfs_stat(fs, "/p/src", &st), ENOENT);
	T_OK(daxfs_stat(fs, "/e", &st));
	T_ASSERT(st.nlink == 3); /* g moved in */
	T_OK(daxfs_stat(fs, "/e/g", &st));
	T_ASSERT(st.nlink == 3); /* sub */
	T_OK(daxfs_stat(fs, "/e/g/src", &st));
	T_OK(daxfs_stat(fs, "/e/g/victim", &st));
	/* Parent pointers: a directory may not move under its own child. */
	T_ERR(daxfs_rename(fs, "/q", "/q/c/q", 0), EINVAL);
	T_ERR(daxfs_rename(fs, "/e", "/e/g/sub/e", 0), EINVAL);
}

/*
 * test_dirs - while a rename in /p waits, a subdirectory of /p moves to /q and /p gets a new
 * one: the rename then succeeds, and neither directory's link count goes back. While a rename
 * in /g waits, /g itself moves under /e: the rename then finds no /g/src (its paths are
 * looked up when it runs, after the move: ENOENT is the order of the two that completed),
 * and /g's parent and link count stay.
 */
static void test_dirs(struct daxfs *fs)
{
	struct waiter w;
	struct raw m;
	uint64_t t0;

	T_OK(daxfs_mkdir(fs, "/p", 0755, NULL));
	T_OK(daxfs_mkdir(fs, "/p/c", 0755, NULL));
	T_OK(daxfs_mkdir(fs, "/q", 0755, NULL));
	T_OK(daxfs_create(fs, "/p/src", 0644, DAXFS_CREATE_EXCL, NULL));
	T_OK(daxfs_create(fs, "/p/victim", 0644, DAXFS_CREATE_EXCL, NULL));
	T_OK(daxfs_truncate(fs, "/p/victim", 4096));
	deaf_mapper(&m, "/p/victim");
	start_rename(&w, "/p/src", "/p/victim");
	wait_invalidate(&m);
	t0 = t_now_ms();
	T_OK(daxfs_mkdir(fs, "/p/sub", 0755, NULL));
	T_OK(daxfs_rename(fs, "/p/c", "/q/c", 0));
	prompt(t0, PROMPT_MS, "a mkdir and a rename in a waiting rename's directory");
	finish_rename(&w);
	raw_close(&m);

	T_OK(daxfs_mkdir(fs, "/g", 0755, NULL));
	T_OK(daxfs_mkdir(fs, "/e", 0755, NULL));
	T_OK(daxfs_create(fs, "/g/src", 0644, DAXFS_CREATE_EXCL, NULL));
	T_OK(daxfs_create(fs, "/g/victim", 0644, DAXFS_CREATE_EXCL, NULL));
	T_OK(daxfs_truncate(fs, "/g/victim", 4096));
	deaf_mapper(&m, "/g/victim");
	start_rename(&w, "/g/src", "/g/victim");
	wait_invalidate(&m);
	t0 = t_now_ms();
	T_OK(daxfs_mkdir(fs, "/g/sub", 0755, NULL));
	T_OK(daxfs_rename(fs, "/g", "/e/g", 0));
	prompt(t0, PROMPT_MS, "a mkdir in and a rename of a waiting rename's directory");
	pthread_join(w.thread, NULL);
	T_ERR(w.rc, ENOENT);
	raw_close(&m);

	check_dirs(fs);
	daxfs_close(fs);
	t_daemon_stop(&d);
	t_check_clean(d.region);
	t_daemon_respawn(&d);
	T_OK(daxfs_open(&fs, d.sock));
	check_dirs(fs);
	daxfs_close(fs);
	printf("ok link counts and parents of directories changed during a lease break stay\n");
}

/* --- 3. no stalls --- */

struct falloc {
	uint64_t ino;
	volatile bool done;
	int rc;
	pthread_t thread;
};

static void *falloc_main(void *arg)
{
	struct falloc *f = arg;
	struct daxfs *fs;

	T_OK(daxfs_open(&fs, d.sock));
	f->rc = daxfs_fallocate(fs, f->ino, 0, 0, BIG);
	__atomic_store_n(&f->done, true, __ATOMIC_RELEASE);
	daxfs_close(fs);
	return NULL;
}

/* creates - create + unlink /other/cN, each create within NO_STALL_MS. Return: how many. */
static unsigned creates(struct daxfs *fs, const volatile bool *until, uint64_t until_ms,
			const char *what)
{
	char path[64];
	unsigned n = 0;

	while (until ? !__atomic_load_n(until, __ATOMIC_ACQUIRE) : t_now_ms() < until_ms) {
		uint64_t t0 = t_now_ms();

		snprintf(path, sizeof(path), "/other/c%u", n++);
		T_OK(daxfs_create(fs, path, 0644, DAXFS_CREATE_EXCL, NULL));
		prompt(t0, NO_STALL_MS, what);
		T_OK(daxfs_unlink(fs, path));
	}
	return n;
}

static void test_no_stall(struct daxfs *fs)
{
	struct daxfs_stat st;
	struct falloc f = {0};
	struct waiter w;
	struct raw m;
	unsigned n1, n2;

	T_OK(daxfs_mkdir(fs, "/other", 0755, NULL));
	T_OK(daxfs_mkdir(fs, "/busy", 0755, NULL));
	T_OK(daxfs_create(fs, "/busy/src", 0644, DAXFS_CREATE_EXCL, NULL));
	T_OK(daxfs_create(fs, "/busy/victim", 0644, DAXFS_CREATE_EXCL, NULL));
	T_OK(daxfs_truncate(fs, "/busy/victim", 4096));
	deaf_mapper(&m, "/busy/victim");
	start_rename(&w, "/busy/src", "/busy/victim");
	wait_invalidate(&m);
	n1 = creates(fs, NULL, w.started + LEASE_MS - 500, "an unrelated create (lease break)");
	finish_rename(&w);
	raw_close(&m);

	T_OK(daxfs_create(fs, "/busy/big", 0644, DAXFS_CREATE_EXCL, &st));
	f.ino = st.ino;
	T_ASSERT(pthread_create(&f.thread, NULL, falloc_main, &f) == 0);
	n2 = creates(fs, &f.done, 0, "an unrelated create (1.5 GiB fallocate)");
	pthread_join(f.thread, NULL);
	T_OK(f.rc);
	T_OK(daxfs_stat(fs, "/busy/big", &st));
	T_ASSERT(st.size == BIG);
	T_OK(daxfs_unlink(fs, "/busy/big"));
	printf("ok %u creates during a lease break, %u during a 1.5 GiB fallocate, none stalled\n",
	       n1, n2);
}

int main(int argc, char **argv)
{
	static const char *const opts[] = {"--map-users", "root", "--lease-break-timeout", "3000",
					   NULL};
	struct daxfs *fs;

	t_tools_init(&argc, argv);
	t_watchdog(240, "test-races");
	t_region_new(t_path("region.img"), "2G");
	t_daemon_start(&d, t_path("region.img"), "daxfsd", opts);
	T_OK(daxfs_open(&fs, d.sock));
	test_lost_update(fs);
	T_OK(daxfs_open(&fs, d.sock));
	test_dirs(fs);
	T_OK(daxfs_open(&fs, d.sock));
	test_no_stall(fs);
	daxfs_close(fs);
	t_daemon_stop(&d);
	t_check_clean(d.region);
	return 0;
}
