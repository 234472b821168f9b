/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_STATS_H
#define DAXFS_ENGINE_STATS_H

/*
 * stats - what the engine counts for the daemon's metrics (docs/metrics.md): lease breaks,
 * poison by source, grants and the requests parked in a lease break, checkpoint durations.
 * Process-wide (one daemon serves one region): the sites bump them with relaxed atomics,
 * no lock; readers get each value as of some moment while they read.
 * What a namespace can say itself (blocks, files, log use) stays in ns_statfs().
 */

#include <stddef.h>
#include <stdint.h>

#include "hist.h"
#include "poison.h"

enum stat_id {
	/* counters */
	STAT_LEASE_BREAKS,	   /* INVALIDATE sent to a grant holder */
	STAT_LEASE_BREAKS_ACKED,   /* of them, acknowledged before the timeout */
	STAT_LEASE_BREAKS_EXPIRED, /* holders dropped for not acknowledging in time */
	/* gauges */
	STAT_GRANTS, /* grants held now */
	STAT_PARKED, /* requests waiting for lease-break acks now */
	STAT_COUNT,
};

#define POISON_SRC_COUNT (POISON_SRC_INJECTED + 1)

/* stats_add - add @v (negative for a gauge going down) to @id. Context: any thread. */
void stats_add(enum stat_id id, int64_t v);
uint64_t stats_get(enum stat_id id);

/*
 * stats_poison - a poison report from @src found @blocks blocks not quarantined before
 * (called only when @blocks > 0: a report of known poison is not an event).
 */
void stats_poison(enum poison_source src, uint64_t blocks);
void stats_poison_get(enum poison_source src, uint64_t *events, uint64_t *blocks);

/* stats_poison_label - the metrics label of @src: "badblocks", "sigbus", "client", "injected". */
const char *stats_poison_label(enum poison_source src);

/* The durations of checkpoints (mlog_snap_begin to the superblock written). */
extern struct hist stats_checkpoint_hist;

#endif
