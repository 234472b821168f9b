/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_FAULT_H
#define DAXFS_ENGINE_FAULT_H

/*
 * fault - the fault-injection mode of DESIGN §8 and docs/fault-injection.md.
 *
 * Named points in the engine and the daemon call fault_at(). Until fault_enable() (daxfsd
 * --fault-injection, or a test) that is one relaxed load of a global flag and nothing else.
 * Once enabled, a point can be told to fail (return -errno) a number of times, to sleep
 * (to widen a race window), or to abort the process (a crash test). Every persist of region
 * memory is counted, so a crash can also be asked for at the Nth persist.
 *
 * State is process-wide (one daemon, one region) and changed with atomics: any thread may
 * call any function here, also while other threads pass the points.
 */

#include <stdbool.h>
#include <stdint.h>

enum fault_point {
	FAULT_ALLOC,		 /* "alloc": allocating data blocks for a file */
	FAULT_LOG_APPEND,	 /* "log-append": before a transaction reaches the log */
	FAULT_LOG_TORN,		 /* "log-torn": crash only: half of a transaction persisted */
	FAULT_LOG_COMMITTED,	 /* "log-committed": the transaction is durable, not yet applied */
	FAULT_CHECKPOINT_SNAP,	 /* "checkpoint-snapshot": snapshot written, superblock not */
	FAULT_CHECKPOINT_SUPER,	 /* "checkpoint-super": one superblock copy written */
	FAULT_DATA_WRITE,	 /* "data-write": file bytes copied, size/mtime not yet logged */
	FAULT_POISON_AFTER_RMAP, /* "poison-after-rmap": rmap looked up, xtable not yet locked */
	FAULT_LEASE_BREAK,	 /* "lease-break": INVALIDATE sent, acks not yet awaited */
	FAULT_SEND,		 /* "send": a reply to a client is about to be sent */
	FAULT_BADBLOCK_CLEAR,	 /* "badblock-clear": the media errors of a range are cleared */
	FAULT_UPGRADE,		 /* "upgrade": a version 1 region's upgrade checkpoint begins */
	FAULT_COUNT,
};

/* fault_enable - turn the mode on (never off again). */
void fault_enable(void);
bool fault_enabled(void);

/* fault_point_name - "alloc", ...; fault_point_lookup - its inverse, or -ENOENT. */
const char *fault_point_name(enum fault_point p);
int fault_point_lookup(const char *name);

/*
 * fault_at_slow - what fault_at() does when the mode is on: sleep for a set delay, abort
 * for a set crash, or consume one failure.
 * Return: 0, or the negative errno the point was told to fail with.
 */
int fault_at_slow(enum fault_point p);

extern bool fault_mode;

/*
 * fault_at - the named point @p is passed.
 * Context: any thread; the caller must be able to handle the failure it is told about
 *          (points that cannot fail are documented as crash/delay only, and ignore it).
 * Return: 0, or -errno.
 */
static inline int fault_at(enum fault_point p)
{
	if (__builtin_expect(!__atomic_load_n(&fault_mode, __ATOMIC_RELAXED), 1))
		return 0;
	return fault_at_slow(p);
}

/* fault_can_fail / _delay - whether @p can fail (has a failure path), sleep. All can crash. */
bool fault_can_fail(enum fault_point p);
bool fault_can_delay(enum fault_point p);

/* fault_crash_armed - a crash is set at @p (for points that crash half way, "log-torn"). */
bool fault_crash_armed(enum fault_point p);

/*
 * The settings. @count 0 means every time until fault_clear(). Return: 0; -EPERM when the
 * mode is off; -EINVAL for a bad errno (not 1..4095) or point.
 */
/* fail and delay also return -EOPNOTSUPP for a point that cannot do it. */
int fault_set_fail(enum fault_point p, uint64_t count, int err);
int fault_set_delay(enum fault_point p, uint32_t usec);
int fault_set_crash(enum fault_point p);
/* fault_set_crash_persist - abort at the @nth persist from now (1 = the next one). */
int fault_set_crash_persist(uint64_t nth);
/* fault_clear - forget every setting (the persist count goes on). */
void fault_clear(void);

/*
 * fault_persist - count one persist (region.c calls it for each flush that reaches media);
 * aborts when it is the one fault_set_crash_persist() asked for.
 */
void fault_persist_slow(void);
static inline void fault_persist(void)
{
	if (__builtin_expect(__atomic_load_n(&fault_mode, __ATOMIC_RELAXED), 0))
		fault_persist_slow();
}
/* fault_persist_count - persists counted since the mode was enabled. */
uint64_t fault_persist_count(void);

/* fault_crash - abort now, without a core file, after one log line naming @why. */
_Noreturn void fault_crash(const char *why);

#endif
