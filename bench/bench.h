/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_BENCH_BENCH_H
#define DAXFS_BENCH_BENCH_H

/*
 * bench - what every benchmark program shares: a clock, medians, the JSON line each figure
 * is printed as (bench/run reads them), and the command line (-r REPS).
 *
 * A figure line on stdout is one JSON object:
 *   {"bench":"ops","figure":"create+write 4K+unlink","unit":"ops/s","value":...,
 *    "baseline":"tmpfs syscalls","baseline_value":...,"higher_is_better":true,"reps":5,
 *    "goal":null,"goal_met":null}
 * Progress and notes go to stderr.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the emulated regions and the tmpfs baseline files live. */
#define BENCH_DIR "/dev/shm"

struct bench_opts {
	int reps; /* repetitions of each measurement; the median is reported */
};

/*
 * bench_parse - read "-r REPS" (and -h) from the command line; @def_reps when absent.
 * Exits with a usage message on anything else.
 */
void bench_parse(int argc, char **argv, int def_reps, struct bench_opts *o);

/* bench_now - monotonic time in seconds. */
double bench_now(void);

/* bench_median - the median of @n values (sorts @v in place). */
double bench_median(double *v, int n);

/* One figure and its baseline, as bench_emit prints it. */
struct bench_figure {
	const char *bench;  /* the program's short name: "mount", "ops", "xtable" */
	const char *figure; /* what was measured */
	const char *unit;
	double value;
	const char *baseline; /* what it is compared with */
	double baseline_value;
	bool higher_is_better; /* true for rates, false for times and sizes */
	int reps;	       /* repetitions the medians are over */
	const char *goal;      /* the project's goal for this figure, or NULL */
	bool goal_met;	       /* with @goal */
};

/* bench_emit - print @f as one JSON line on stdout (see above). */
void bench_emit(const struct bench_figure *f);

/* bench_note - a progress line on stderr, prefixed with the program's name. */
void bench_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* bench_die - print the message (and strerror(-@err) when @err < 0) and exit(1). */
void bench_die(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/* bench_rng - xorshift64* step; @state must not be 0. */
static inline uint64_t bench_rng(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* bench_hash64 - a good 64-bit integer hash (the splitmix64 / murmur3 finaliser). */
static inline uint64_t bench_hash64(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

/* bench_sink - keep the compiler from dropping a computed value. */
static inline void bench_sink(uint64_t v)
{
	__asm__ volatile("" : : "r"(v) : "memory");
}

#endif
