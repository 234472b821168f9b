// SPDX-License-Identifier: MIT
/*
 * test-ring-stress - 16 clients x 4 threads on the shared-memory rings of a real daxfsd
 * (DESIGN §11), run under ASan and again under TSan (daemon and library both instrumented).
 *
 * 16 handles, each used by 4 threads at once (pipelined on one ring: completions matched
 * by id, per slot). Each thread runs OPS rounds on names of its own in a directory all of
 * them share (so the directory lock is contended and requests park and are answered by
 * workers, not by the ring thread that took them): create, write a pattern of
 * (client, thread, round) through the ring (inline) and every eighth round through the shared
 * buffer, stat, read back and compare, rename, unlink; and now and then a create of a name
 * every thread fights for (exactly one EXCL create may win: EEXIST for the others). The
 * daemon runs two ring threads with polling on; four of the clients turn polling off in the
 * library (DAXFS_SPIN_US is read per handle at open), so both the spinning and the futex
 * sleeping paths run. Checked: every reply is the one its request asked for (the bytes read
 * are the bytes written, the sizes and names agree), the daemon is up and logged no
 * sanitizer report, and at the end the directory is empty and the region's free blocks are
 * what they were.
 *
 * Usage: test-ring-stress --daxfsd=PATH --cli=PATH [seed]
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "testutil.h"

#define CLIENTS 16
#define THREADS 4
#define OPS 150
#define SMALL 3000	 /* bytes of an inline write (fits a ring slot) */
#define LARGE (96 << 10) /* bytes of a write through the shared buffer */

static struct t_daemon d;
static struct daxfs *fs[CLIENTS];
static unsigned contested_wins;

struct worker {
	pthread_t th;
	unsigned client, thread;
	uint64_t rng;
};

static void pattern(uint8_t *p, size_t n, unsigned c, unsigned t, unsigned r)
{
	uint64_t x = ((uint64_t)c << 40) ^ ((uint64_t)t << 32) ^ r ^ 0x9e3779b97f4a7c15ULL;

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)t_rand(&x);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct daxfs *h = fs[w->client];
	uint8_t *buf = malloc(LARGE), *back = malloc(LARGE);
	char a[64], b[64];

	T_ASSERT(buf && back);
	for (unsigned r = 0; r < OPS; r++) {
		size_t n = r % 8 == 7 ? LARGE : SMALL - r;
		struct daxfs_stat st, st2;
		int rc;

		snprintf(a, sizeof(a), "/s/c%u.t%u.r%u", w->client, w->thread, r);
		snprintf(b, sizeof(b), "/s/c%u.t%u.r%u.moved", w->client, w->thread, r);
		T_OK(daxfs_create(h, a, 0644, DAXFS_CREATE_EXCL, &st));
		pattern(buf, n, w->client, w->thread, r);
		T_ASSERT(daxfs_pwrite(h, st.ino, buf, n, 0) == (ssize_t)n);
		T_OK(daxfs_stat(h, a, &st2));
		T_ASSERT(st2.ino == st.ino && st2.size == n);
		T_ASSERT(daxfs_pread(h, st.ino, back, n, 0) == (ssize_t)n);
		if (memcmp(buf, back, n) != 0)
			T_FAIL("client %u thread %u round %u: read back other bytes", w->client,
			       w->thread, r);
		T_OK(daxfs_rename(h, a, b, 0));
		T_ERR(daxfs_stat(h, a, &st2), ENOENT);
		T_OK(daxfs_unlink(h, b));
		if (t_rand(&w->rng) % 16 == 0) {
			snprintf(a, sizeof(a), "/s/contested.%u", r);
			rc = daxfs_create(h, a, 0644, DAXFS_CREATE_EXCL, NULL);
			if (rc == 0)
				__atomic_add_fetch(&contested_wins, 1, __ATOMIC_RELAXED);
			else if (rc != -EEXIST)
				T_FAIL("contested create: %s", daxfs_errormsg());
		}
	}
	free(buf);
	free(back);
	return NULL;
}

static int rm_cb(void *ctx, const char *name, uint64_t ino, uint32_t mode)
{
	unsigned *n = ctx;
	char p[300];

	(void)ino;
	(void)mode;
	snprintf(p, sizeof(p), "/s/%s", name);
	if (strncmp(name, "contested.", 10) != 0)
		T_FAIL("left over: %s", p);
	T_OK(daxfs_unlink(fs[0], p));
	(*n)++;
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const opts[] = {"--ring-threads", "2", "--workers", "4", NULL};
	static struct worker w[CLIENTS * THREADS];
	struct daxfs_statfs before, after;
	unsigned left = 0;
	uint64_t rng, end;

	t_tools_init(&argc, argv);
	rng = t_seed(argc, argv, 1);
	t_watchdog(280, "test-ring-stress");
	t_region_new(t_path("region"), "512M");
	t_daemon_start(&d, t_path("region"), "daxfsd", opts);
	for (unsigned c = 0; c < CLIENTS; c++) {
		/* A quarter of the clients sleep on their slots at once (no spinning). */
		setenv("DAXFS_SPIN_US", c % 4 == 3 ? "0" : "50", 1);
		T_OK(daxfs_open(&fs[c], d.sock));
	}
	unsetenv("DAXFS_SPIN_US");
	T_OK(daxfs_mkdir(fs[0], "/s", 0777, NULL));
	T_OK(daxfs_statfs(fs[0], &before));
	for (unsigned i = 0; i < CLIENTS * THREADS; i++) {
		w[i].client = i / THREADS;
		w[i].thread = i % THREADS;
		w[i].rng = t_rand(&rng) | 1;
		T_ASSERT(pthread_create(&w[i].th, NULL, worker_main, &w[i]) == 0);
	}
	for (unsigned i = 0; i < CLIENTS * THREADS; i++)
		pthread_join(w[i].th, NULL);
	t_daemon_check_alive(&d);

	T_OK(daxfs_readdir(fs[0], "/s", rm_cb, &left));
	T_ASSERT(left == contested_wins);
	end = t_now_ms() + 10000;
	do {
		usleep(10000);
		T_OK(daxfs_statfs(fs[0], &after));
	} while (after.blocks_free != before.blocks_free && t_now_ms() < end);
	T_ASSERT(after.blocks_free == before.blocks_free);
	for (unsigned c = 0; c < CLIENTS; c++)
		daxfs_close(fs[c]);
	t_daemon_check_alive(&d);
	t_daemon_stop(&d);
	printf("ok: %u clients x %u threads x %u rounds, %u contested creates won\n", CLIENTS,
	       THREADS, OPS, contested_wins);
	return 0;
}
