/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_TESTS_TESTUTIL_H
#define DAXFS_TESTS_TESTUTIL_H

/*
 * Small helpers every test uses: checks that say where they failed, a scratch directory
 * that is removed at exit, a watchdog that turns a hang into a failure.
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T_SKIP 77 /* meson's "skipped" */

/*
 * t_fail - say what failed where, run the t_atexit() cleanups (a daemon's log is shown
 * there), say it once more after them, and leave with _exit(1): no library destructor runs
 * under threads that still work, so a sanitizer's report at exit cannot bury the failure.
 * Another thread that fails meanwhile waits for the first to end the process.
 */
_Noreturn void t_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define T_FAIL(...) t_fail(__FILE__, __LINE__, __VA_ARGS__)

/* t_atexit - @fn runs at exit, and when a check fails (at most 8). */
void t_atexit(void (*fn)(void));

#define T_ASSERT(cond)                       \
	do {                                 \
		if (!(cond))                 \
			T_FAIL("%s", #cond); \
	} while (0)

/* T_OK - an expression returning 0 / a count, or a negative errno. */
#define T_OK(expr)                                                               \
	do {                                                                     \
		long long _r = (long long)(expr);                                \
		if (_r < 0)                                                      \
			T_FAIL("%s = %lld (%s)", #expr, _r, strerror((int)-_r)); \
	} while (0)

/* T_ERR - an expression that must fail with -@err. */
#define T_ERR(expr, err)                                                    \
	do {                                                                \
		long long _r = (long long)(expr);                           \
		if (_r != -(err))                                           \
			T_FAIL("%s = %lld, expected -%s", #expr, _r, #err); \
	} while (0)

/*
 * t_scratch_dir - a fresh directory under /dev/shm (tmpfs: emulated regions persist with
 * msync there cheaply), removed with everything in it when the process exits normally.
 */
const char *t_scratch_dir(void);

/* t_path - "<scratch>/<name>" in a static rotating buffer. */
const char *t_path(const char *name);

/* t_watchdog - fail the test (exit 1, naming @what) if it runs longer than @seconds. */
void t_watchdog(unsigned seconds, const char *what);

/* t_seed - the seed from argv[1] or $DAXFS_TEST_SEED, else @def; printed once. */
uint64_t t_seed(int argc, char **argv, uint64_t def);

/* t_perms_at - the permissions /proc/self/maps gives the page of @p ("rw-s"), or "none". */
void t_perms_at(const void *p, char out[5]);

/* t_rand - xorshift64*; deterministic for a seed. */
uint64_t t_rand(uint64_t *state);

/*
 * t_cond_wait_s - pthread_cond_wait on @c under @m until woken or until @deadline, which
 * t_deadline_s made: @seconds from now on CLOCK_MONOTONIC, so that a step of the wall
 * clock (NTP on a fresh machine) neither ends a wait early nor stretches it.
 * Return: 0; ETIMEDOUT.
 */
struct timespec t_deadline_s(unsigned seconds);
int t_cond_wait_s(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *deadline);

#endif
