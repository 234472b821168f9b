/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_TESTS_TESTUTIL_H
#define DAXFS_TESTS_TESTUTIL_H

/*
 * Small helpers every test uses: checks that say where they failed, a scratch directory
 * that is removed at exit, a watchdog that turns a hang into a failure.
 */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T_SKIP 77 /* meson's "skipped" */

#define T_FAIL(...)                                                  \
	do {                                                         \
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);                        \
		fputc('\n', stderr);                                 \
		exit(1);                                             \
	} while (0)

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

#endif
