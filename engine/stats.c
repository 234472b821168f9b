// SPDX-License-Identifier: MIT
#include "stats.h"

static uint64_t stats[STAT_COUNT];
static uint64_t poison_events[POISON_SRC_COUNT], poison_blocks[POISON_SRC_COUNT];

struct hist stats_checkpoint_hist;

void stats_add(enum stat_id id, int64_t v)
{
	__atomic_add_fetch(&stats[id], (uint64_t)v, __ATOMIC_RELAXED);
}

uint64_t stats_get(enum stat_id id)
{
	return __atomic_load_n(&stats[id], __ATOMIC_RELAXED);
}

void stats_poison(enum poison_source src, uint64_t blocks)
{
	__atomic_add_fetch(&poison_events[src], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&poison_blocks[src], blocks, __ATOMIC_RELAXED);
}

void stats_poison_get(enum poison_source src, uint64_t *events, uint64_t *blocks)
{
	*events = __atomic_load_n(&poison_events[src], __ATOMIC_RELAXED);
	*blocks = __atomic_load_n(&poison_blocks[src], __ATOMIC_RELAXED);
}

const char *stats_poison_label(enum poison_source src)
{
	switch (src) {
	case POISON_SRC_BADBLOCKS:
		return "badblocks";
	case POISON_SRC_SIGBUS:
		return "sigbus";
	case POISON_SRC_CLIENT:
		return "client";
	case POISON_SRC_INJECTED:
		return "injected";
	}
	return "unknown";
}
