// SPDX-License-Identifier: MIT
/*
 * test-names-stress - the engine's locking under load (issue 13), also under TSan.
 *
 * Four threads run random name and content operations on a small tree (three directories,
 * six names each): create, mkdir, unlink, rmdir, rename (in and across directories,
 * NOREPLACE, EXCHANGE), chmod of files and directories, truncate, write, fallocate and
 * punch, and MAP-like grants of files, whose holders acknowledge lease breaks from a
 * separate thread after a short while, or never (then the 100 ms lease-break timeout
 * expires them). One thread calls asynchronously (its context wakes a semaphore; after its
 * deadline it cancels and calls again), the others synchronously.
 *
 * Every result must be a success or an error POSIX allows for the race (ENOENT, EEXIST,
 * ENOTEMPTY, EISDIR, ENOTDIR, EINVAL); afterwards the block ownership audit finds nothing,
 * and daxfs check of the unmounted region is clean (link counts, parents, reachability).
 *
 * Usage: test-names-stress [SECONDS [SEED]]
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "check.h"
#include "lease.h"
#include "log.h"
#include "namespace.h"
#include "nstest.h"
#include "rcu.h"
#include "testutil.h"
#include "util.h"

#define NTHREADS 4
#define NDIRS 3
#define NNAMES 6
#define NMAPPERS 8
#define REGION "64M"
#define LEASE_MS 100

static struct ns *ns;
static uint64_t dirs[NDIRS];
static double seconds = 5;
static uint64_t base_seed;
static volatile bool stop;
static uint64_t counts[NTHREADS], errs[NTHREADS][140];

/* --- mappers: grants whose holder acks from another thread, or never --- */

struct mapper {
	struct ns_grant *g;   /* owned by the thread that made it */
	uint64_t pending;     /* atomic: a lease break to ack */
	bool deaf;	      /* never acks */
	pthread_mutex_t lock; /* who may make or delete it */
};

static struct mapper mappers[NMAPPERS];
static pthread_rwlock_t ack_lock = PTHREAD_RWLOCK_INITIALIZER; /* acker: read; delete: write */

static void cb_poison(void *h, struct ns_grant *g, uint64_t ino, uint64_t i, uint64_t n)
{
}

static void cb_invalidate(void *h, struct ns_grant *g, uint64_t ino, uint64_t i, uint64_t n,
			  uint64_t gen)
{
	struct mapper *m = h;

	/* Under the engine's grant lock: note it, ack later, elsewhere. */
	__atomic_store_n(&m->pending, gen, __ATOMIC_RELEASE);
}

static void cb_expired(void *h, struct ns_grant *g)
{
}

static const struct ns_grant_ops ops = {
	.poison = cb_poison,
	.invalidate = cb_invalidate,
	.expired = cb_expired,
};

static void *acker_main(void *arg)
{
	(void)arg;
	rcu_thread_online();
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		struct timespec ts = {0, 2 * 1000 * 1000};

		nanosleep(&ts, NULL);
		pthread_rwlock_rdlock(&ack_lock);
		for (int i = 0; i < NMAPPERS; i++) {
			struct mapper *m = &mappers[i];
			uint64_t gen = __atomic_exchange_n(&m->pending, 0, __ATOMIC_ACQ_REL);
			struct ns_grant *g = __atomic_load_n(&m->g, __ATOMIC_ACQUIRE);

			if (gen && g && !m->deaf)
				ns_grant_ack(ns, g, gen);
		}
		pthread_rwlock_unlock(&ack_lock);
	}
	rcu_thread_offline();
	return NULL;
}

/* --- the workers --- */

struct worker {
	int id;
	uint64_t rng;
	bool async;
	struct ns_ctx ctx;
	sem_t woken;
	pthread_t thread;
};

static uint64_t rnd(struct worker *w, uint64_t n)
{
	return t_rand(&w->rng) % n;
}

static void on_wake(struct ns_waiter *waiter)
{
	struct worker *w = caa_container_of(waiter, struct worker, ctx.waiter);

	sem_post(&w->woken);
}

/*
 * ctx_for - the context of one call: NULL (synchronous) for most, the worker's asynchronous
 * one for the async worker.
 */
static struct ns_ctx *ctx_for(struct worker *w)
{
	return w->async ? &w->ctx : NULL;
}

/*
 * woken_by - wait on @s until it is posted or until @until (mono ns). sem_timedwait takes
 * the wall clock, which may step (NTP on a fresh machine): a wait that ends early is
 * resumed against the monotonic clock. Return: whether it was posted.
 */
static bool woken_by(sem_t *s, uint64_t until)
{
	for (;;) {
		uint64_t now = mono_ns(), left;
		struct timespec ts;

		if (now >= until)
			return sem_trywait(s) == 0;
		left = until - now;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(left / 1000000000ULL);
		ts.tv_nsec += (long)(left % 1000000000ULL);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (sem_timedwait(s, &ts) == 0)
			return true;
		if (errno != ETIMEDOUT && errno != EINTR)
			T_FAIL("sem_timedwait: %s", strerror(errno));
	}
}

/*
 * settle - the async worker's answer to NS_WAIT: sleep until woken, or until the deadline
 * the call gave (then take the waiter back and call again). A call parked with no deadline
 * (on an inode lock, or for a lease break to end) must be woken within 10 s.
 */
static bool settle(struct worker *w, int64_t rc)
{
	uint64_t deadline;

	if (rc != NS_WAIT)
		return false;
	T_ASSERT(w->async);
	deadline = w->ctx.deadline;
	if (woken_by(&w->woken, deadline ? deadline : mono_ns() + 10 * 1000000000ULL))
		return true;
	if (!deadline)
		T_FAIL("a call parked with no deadline was not woken within 10 s");
	if (!ns_ctx_cancel(ns, &w->ctx))
		sem_wait(&w->woken); /* the wake is under way */
	return true;
}

/* A call that may park: repeated by the async worker until it completes. */
#define CALL(w, expr)                         \
	({                                    \
		int64_t r_;                   \
		do                            \
			r_ = (int64_t)(expr); \
		while (settle((w), r_));      \
		r_;                           \
	})

static void note(struct worker *w, int64_t rc, const char *what)
{
	counts[w->id]++;
	if (rc >= 0)
		return;
	switch (-rc) {
	case ENOENT:
	case EEXIST:
	case ENOTEMPTY:
	case EISDIR:
	case ENOTDIR:
	case EINVAL:
		errs[w->id][-rc]++;
		return;
	default:
		if (rc == -ENOSPC) {
			struct ns_statfs st;

			/* Which space: the blocks, or the log (and what a checkpoint left). */
			ns_statfs(ns, &st);
			fprintf(stderr,
				"%s: ENOSPC with %" PRIu64 " of %" PRIu64 " blocks free, "
				"%" PRIu64 " held; log %" PRIu64 " of %" PRIu64
				" bytes used, %" PRIu64 " checkpoints, %" PRIu64 " files\n",
				what, st.blocks_free, st.blocks, ns_held_blocks(ns), st.log_used,
				st.log_len, st.checkpoints, st.files);
		}
		T_FAIL("%s: %s", what, strerror((int)-rc));
	}
}

static const char *name_of(uint64_t i)
{
	static const char *const names[NNAMES] = {"a", "b", "c", "d", "e", "f"};

	return names[i % NNAMES];
}

/* file - the inode number a name holds now (a file), or 0. */
static uint64_t file(uint64_t dir, const char *name)
{
	struct ns_attr a;

	if (ns_lookup(ns, NULL, dir, name, &a) || !S_ISREG(a.mode))
		return 0;
	return a.ino;
}

static void one_op(struct worker *w)
{
	uint64_t d1 = dirs[rnd(w, NDIRS)], d2 = dirs[rnd(w, NDIRS)];
	const char *n1 = name_of(rnd(w, NNAMES)), *n2 = name_of(rnd(w, NNAMES));
	static const uint8_t data[16384] = {1, 2, 3};
	struct ns_setattr sa = {0};
	uint64_t ino;
	int64_t rc;

	switch (rnd(w, 12)) {
	case 0:
		rc = CALL(w, ns_create(ns, ctx_for(w), d1, n1, 0644, NULL));
		note(w, rc, "create");
		break;
	case 1:
		rc = CALL(w, ns_mkdir(ns, ctx_for(w), d1, n1, 0755, NULL));
		note(w, rc, "mkdir");
		break;
	case 2:
		rc = CALL(w, ns_unlink(ns, ctx_for(w), d1, n1));
		note(w, rc, "unlink");
		break;
	case 3:
		rc = CALL(w, ns_rmdir(ns, ctx_for(w), d1, n1));
		note(w, rc, "rmdir");
		break;
	case 4:
	case 5:
		rc = CALL(w, ns_rename(ns, ctx_for(w), d1, n1, d2, n2, (unsigned)rnd(w, 3)));
		note(w, rc, "rename");
		break;
	case 6:
		sa.valid = NS_SET_MODE;
		sa.mode = 0700 | (uint32_t)rnd(w, 0100);
		rc = CALL(w, ns_setattr(ns, ctx_for(w), rnd(w, 2) ? d1 : file(d1, n1), &sa, NULL));
		note(w, rc, "chmod");
		break;
	case 7:
		sa.valid = NS_SET_SIZE;
		sa.size = rnd(w, 65536);
		ino = file(d1, n1);
		rc = ino ? CALL(w, ns_setattr(ns, ctx_for(w), ino, &sa, NULL)) : -ENOENT;
		note(w, rc, "truncate");
		break;
	case 8:
		ino = file(d1, n1);
		rc = ino ? CALL(w, ns_write(ns, ctx_for(w), ino, data, 1 + rnd(w, sizeof(data)),
					    rnd(w, 65536)))
			 : -ENOENT;
		note(w, rc, "write");
		break;
	case 9:
		ino = file(d1, n1);
		rc = ino ? CALL(w,
				ns_fallocate(ns, ctx_for(w), ino,
					     rnd(w, 2) ? NS_FALLOC_PUNCH_HOLE | NS_FALLOC_KEEP_SIZE
						       : 0,
					     rnd(w, 32768), 1 + rnd(w, 32768)))
			 : -ENOENT;
		note(w, rc, "fallocate");
		break;
	default: {
		/* A mapper: make its grant if it has none, else delete it. */
		struct mapper *m = &mappers[rnd(w, NMAPPERS)];

		if (pthread_mutex_trylock(&m->lock))
			break;
		if (m->g) {
			pthread_rwlock_wrlock(&ack_lock);
			ns_grant_delete(ns, &m->g);
			pthread_rwlock_unlock(&ack_lock);
		} else if ((ino = file(d1, n1))) {
			struct ns_grant *g = NULL;

			m->deaf = rnd(w, 4) == 0;
			rc = CALL(w, ns_grant_new(ns, ctx_for(w), ino, 0, 16, NS_GRANT_READ, &ops,
						  m, &g));
			note(w, rc, "grant");
			__atomic_store_n(&m->g, g, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&m->lock);
		break;
	}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t end;

	rcu_thread_online();
	end = mono_ns() + (uint64_t)(seconds * 1e9);
	while (mono_ns() < end)
		one_op(w);
	rcu_thread_offline();
	return NULL;
}

static void on_line(void *ctx, enum check_severity sev, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "%s: %s\n", sev == CHECK_PROBLEM ? "problem" : "note", msg);
}

int main(int argc, char **argv)
{
	struct worker w[NTHREADS];
	struct check_result res;
	pthread_t acker;
	char path[512];
	uint64_t total = 0;

	if (argc > 1)
		seconds = atof(argv[1]);
	/* The seed: the second argument, else $DAXFS_TEST_SEED, else a fixed one. */
	base_seed = t_seed(argc > 2 ? 2 : 1, argc > 2 ? argv + 1 : argv, UINT64_C(0x5eed5a1ce5));
	t_watchdog((unsigned)seconds + 120, "test-names-stress");
	log_set_level(LOG_LVL_ERR);
	rcu_thread_online();
	snprintf(path, sizeof(path), "%s", t_path("names.img"));
	T_OK(ns_mkfs(path, 64ULL << 20, NULL));
	T_OK(ns_mount(&ns, path, NULL));
	ns_set_lease_timeout(ns, LEASE_MS);
	for (int i = 0; i < NDIRS; i++) {
		struct ns_attr a;
		char name[8];

		snprintf(name, sizeof(name), "d%d", i);
		T_OK(ns_mkdir(ns, NULL, NS_ROOT_INO, name, 0755, &a));
		dirs[i] = a.ino;
	}
	for (int i = 0; i < NMAPPERS; i++)
		pthread_mutex_init(&mappers[i].lock, NULL);
	T_ASSERT(pthread_create(&acker, NULL, acker_main, NULL) == 0);
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){.id = i, .rng = base_seed + (uint64_t)i, .async = i == 0};
		ns_ctx_init_async(&w[i].ctx, NULL, on_wake);
		sem_init(&w[i].woken, 0, 0);
		T_ASSERT(pthread_create(&w[i].thread, NULL, worker_main, &w[i]) == 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(w[i].thread, NULL);
		total += counts[i];
		ns_ctx_release(ns, &w[i].ctx);
		sem_destroy(&w[i].woken);
	}
	__atomic_store_n(&stop, true, __ATOMIC_RELEASE);
	pthread_join(acker, NULL);
	for (int i = 0; i < NMAPPERS; i++)
		ns_grant_delete(ns, &mappers[i].g);
	T_ASSERT(ns_audit(ns, on_line, NULL) == 0);
	ns_unmount(&ns);
	T_OK(ns_check(path, on_line, NULL, &res));
	T_ASSERT(res.problems == 0);
	printf("test-names-stress: ok: %" PRIu64
	       " operations in %.1f s by %d threads (seed %" PRIu64 ")\n",
	       total, seconds, NTHREADS, base_seed);
	rcu_thread_offline();
	return 0;
}
