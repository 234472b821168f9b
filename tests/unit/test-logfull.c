// SPDX-License-Identifier: MIT
/*
 * test-logfull - four threads fill the smallest metadata log over and over at once.
 *
 * Each thread keeps files of its own in its own directory and creates and unlinks others
 * with long names there, so the log fills every few thousand operations and transactions
 * race for its last bytes (mlog_reserve_keep's compare-and-swap, without the log lock) while
 * checkpoints empty it. No operation may fail for want of room, the region must check clean,
 * and after a remount every kept file is there and no other.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "format.h"
#include "namespace.h"
#include "rcu.h"
#include "testutil.h"

#define THREADS 4
#define KEPT 20
/* Run until TARGET checkpoints, or MAX_SECONDS (a slow sanitizer build under load). */
#define TARGET_CHECKPOINTS 40
#define MIN_CHECKPOINTS 10
#define MAX_SECONDS 60

static struct ns *ns;
static uint64_t dirs[THREADS];
static volatile bool stop;

static void kept_name(char *buf, size_t len, unsigned i)
{
	snprintf(buf, len, "kept-%u", i);
}

static void *churn(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;
	char name[FMT_NAME_MAX + 1];
	uint64_t n = 0;

	rcu_thread_online();
	for (unsigned i = 0; i < KEPT; i++) {
		kept_name(name, sizeof(name), i);
		T_OK(ns_create(ns, NULL, dirs[t], name, 0644, NULL));
	}
	/* Long names: a few thousand records fill the log. */
	memset(name, 'x', 200);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		snprintf(name + 200, sizeof(name) - 200, "-%u-%llu", t, (unsigned long long)n++);
		T_OK(ns_create(ns, NULL, dirs[t], name, 0644, NULL));
		T_OK(ns_unlink(ns, NULL, dirs[t], name));
	}
	rcu_thread_offline();
	return NULL;
}

static void say(void *ctx, enum check_severity sev, const char *msg)
{
	(void)ctx;
	(void)sev;
	fprintf(stderr, "check: %s\n", msg);
}

int main(void)
{
	struct ns_mkfs_opts mo = {.log_len = FMT_LOG_MIN};
	struct check_result res;
	pthread_t th[THREADS];
	struct ns_statfs st;
	struct ns_attr a;
	char name[64];
	const char *img;
	time_t t0;

	t_watchdog(MAX_SECONDS + 60, "test-logfull");
	rcu_thread_online();
	img = t_path("logfull.region");
	T_OK(ns_mkfs(img, 64ULL << 20, &mo));
	T_OK(ns_mount(&ns, img, NULL));
	for (unsigned t = 0; t < THREADS; t++) {
		snprintf(name, sizeof(name), "d%u", t);
		T_OK(ns_mkdir(ns, NULL, NS_ROOT_INO, name, 0755, &a));
		dirs[t] = a.ino;
	}
	for (uintptr_t t = 0; t < THREADS; t++)
		T_ASSERT(pthread_create(&th[t], NULL, churn, (void *)t) == 0);
	t0 = time(NULL);
	do {
		struct timespec ts = {0, 50 * 1000 * 1000};

		nanosleep(&ts, NULL);
		ns_statfs(ns, &st);
	} while (st.checkpoints < TARGET_CHECKPOINTS && time(NULL) - t0 < MAX_SECONDS);
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	for (unsigned t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	ns_statfs(ns, &st);
	printf("test-logfull: %llu checkpoints of a %llu KiB log\n",
	       (unsigned long long)st.checkpoints, (unsigned long long)(st.log_len >> 10));
	T_ASSERT(st.checkpoints >= MIN_CHECKPOINTS);
	ns_unmount(&ns);

	T_OK(ns_check(img, say, NULL, &res));
	T_ASSERT(res.problems == 0);
	T_ASSERT(res.files == THREADS * KEPT);

	T_OK(ns_mount(&ns, img, NULL));
	for (unsigned t = 0; t < THREADS; t++) {
		for (unsigned i = 0; i < KEPT; i++) {
			kept_name(name, sizeof(name), i);
			T_OK(ns_lookup(ns, NULL, dirs[t], name, &a));
		}
	}
	ns_unmount(&ns);
	rcu_thread_offline();
	return 0;
}
