/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_COMMON_HIST_H
#define DAXFS_COMMON_HIST_H

/*
 * hist - a latency histogram with fixed buckets (1 us .. 10 s, in 1-2.5-5 steps, then
 * +Inf), for the daemon's metrics (docs/metrics.md). Observing is a few relaxed atomic
 * adds, from any thread, no lock. A reader takes each bucket once and derives the count
 * from them, so what it reports is self-consistent (the +Inf bucket equals the count)
 * even while observations go on; the sum may be one observation ahead or behind.
 */

#include <stdint.h>

#define HIST_BOUNDS 22 /* finite upper bounds; bucket HIST_BOUNDS is +Inf */

/* The upper bound of bucket @i (< HIST_BOUNDS) in nanoseconds, and as OpenMetrics "le". */
extern const uint64_t hist_bound_ns[HIST_BOUNDS];
extern const char *const hist_bound_le[HIST_BOUNDS];

struct hist {
	uint64_t bucket[HIST_BOUNDS + 1]; /* not cumulative: observations per bucket */
	uint64_t sum_ns;
};

/* hist_observe - one observation of @ns nanoseconds. Context: any thread. */
void hist_observe(struct hist *h, uint64_t ns);

/*
 * hist_read - @h as cumulative counts (@cum[i]: observations <= bound i; @cum[HIST_BOUNDS]
 * all of them) and the sum in nanoseconds.
 */
void hist_read(const struct hist *h, uint64_t cum[HIST_BOUNDS + 1], uint64_t *sum_ns);

#endif
