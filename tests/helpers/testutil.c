// SPDX-License-Identifier: MIT
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

#include "testutil.h"

static char scratch[PATH_MAX];
static pid_t scratch_owner;
static const char *watchdog_what;
static void (*cleanups[8])(void);
static unsigned ncleanups;

void t_atexit(void (*fn)(void))
{
	atexit(fn);
	if (ncleanups < sizeof(cleanups) / sizeof(cleanups[0]))
		cleanups[ncleanups++] = fn;
}

void t_fail(const char *file, int line, const char *fmt, ...)
{
	static int failing;
	static __thread bool this_thread;
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "FAIL %s:%d: %s\n", file, line, msg);
	if (this_thread)
		_exit(1); /* a cleanup failed too */
	this_thread = true;
	if (__atomic_exchange_n(&failing, 1, __ATOMIC_ACQ_REL))
		for (;;)
			pause(); /* the first failing thread ends the process */
	fflush(stdout);
	for (unsigned i = ncleanups; i-- > 0;)
		cleanups[i]();
	if (ncleanups)
		fprintf(stderr, "FAIL %s:%d: %s (repeated after the cleanup)\n", file, line, msg);
	fflush(stderr);
	_exit(1);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void scratch_cleanup(void)
{
	if (scratch[0] && getpid() == scratch_owner && !getenv("DAXFS_TEST_KEEP"))
		nftw(scratch, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *t_scratch_dir(void)
{
	if (!scratch[0]) {
		const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

		snprintf(scratch, sizeof(scratch), "%s/daxfs-test-XXXXXX", base);
		if (!mkdtemp(scratch))
			T_FAIL("mkdtemp %s: %s", scratch, strerror(errno));
		scratch_owner = getpid();
		t_atexit(scratch_cleanup);
	}
	return scratch;
}

const char *t_path(const char *name)
{
	static char bufs[8][PATH_MAX];
	static unsigned next;
	char *b = bufs[next++ % 8];

	snprintf(b, PATH_MAX, "%s/%s", t_scratch_dir(), name);
	return b;
}

static void watchdog_fired(int sig)
{
	static const char msg[] = "FAIL: watchdog: the test hung: ";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0 ||
	    write(2, watchdog_what, strlen(watchdog_what)) < 0 || write(2, "\n", 1) < 0)
		_exit(1);
	_exit(1);
}

void t_watchdog(unsigned seconds, const char *what)
{
	watchdog_what = what;
	signal(SIGALRM, watchdog_fired);
	alarm(seconds);
}

uint64_t t_seed(int argc, char **argv, uint64_t def)
{
	const char *s = argc > 1 ? argv[1] : getenv("DAXFS_TEST_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : def;

	printf("seed %" PRIu64 "\n", seed);
	return seed ? seed : 1;
}

uint64_t t_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * UINT64_C(2685821657736338717);
}

void t_perms_at(const void *p, char out[5])
{
	uintptr_t a = (uintptr_t)p;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	T_ASSERT(f);
	strcpy(out, "none");
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && a >= lo && a < hi) {
			memcpy(out, perms, 4);
			out[4] = '\0';
			break;
		}
	}
	fclose(f);
}

struct timespec t_deadline_s(unsigned seconds)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += seconds;
	return ts;
}

int t_cond_wait_s(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *deadline)
{
	return pthread_cond_clockwait(c, m, CLOCK_MONOTONIC, deadline);
}
