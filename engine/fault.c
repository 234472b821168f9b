// SPDX-License-Identifier: MIT
/*
 * fault - fault-injection mode (DESIGN §8): named points that fail, sleep or crash on
 * request, and a persist counter for crashes at the Nth persist.
 *
 * Each point's settings are independent atomics, so a point passed on one thread while an
 * admin request changes it on another sees either the old or the new setting of each field.
 * A failure count is consumed with a compare-and-swap loop: N failures are N, never N + 1.
 */

#include "engine/fault.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

bool fault_mode;

#define FAIL_FOREVER UINT64_MAX

struct fault_state {
	uint64_t fail_left; /* failures still to give; FAIL_FOREVER: until cleared */
	int err;	    /* positive errno of those failures */
	uint32_t delay_us;
	bool crash;
};

static struct fault_state points[FAULT_COUNT];
static uint64_t persist_count;	  /* persists since the mode went on */
static uint64_t persist_crash_at; /* abort at this count; 0: never */

static const char *const names[FAULT_COUNT] = {
	[FAULT_ALLOC] = "alloc",
	[FAULT_LOG_APPEND] = "log-append",
	[FAULT_LOG_TORN] = "log-torn",
	[FAULT_LOG_COMMITTED] = "log-committed",
	[FAULT_CHECKPOINT_SNAP] = "checkpoint-snapshot",
	[FAULT_CHECKPOINT_SUPER] = "checkpoint-super",
	[FAULT_DATA_WRITE] = "data-write",
	[FAULT_POISON_AFTER_RMAP] = "poison-after-rmap",
	[FAULT_LEASE_BREAK] = "lease-break",
	[FAULT_SEND] = "send",
	[FAULT_BADBLOCK_CLEAR] = "badblock-clear",
	[FAULT_UPGRADE] = "upgrade",
};

/* The points with a failure path; the rest are places to sleep or crash. */
static const bool can_fail[FAULT_COUNT] = {
	[FAULT_ALLOC] = true,
	[FAULT_LOG_APPEND] = true,
	[FAULT_SEND] = true,
	[FAULT_BADBLOCK_CLEAR] = true,
};

bool fault_can_fail(enum fault_point p)
{
	return (unsigned)p < FAULT_COUNT && can_fail[p];
}

bool fault_can_delay(enum fault_point p)
{
	/* log-torn is a crash half way through a write: there is no place to sleep. */
	return (unsigned)p < FAULT_COUNT && p != FAULT_LOG_TORN;
}

bool fault_crash_armed(enum fault_point p)
{
	return fault_enabled() && (unsigned)p < FAULT_COUNT &&
	       __atomic_load_n(&points[p].crash, __ATOMIC_RELAXED);
}

void fault_enable(void)
{
	__atomic_store_n(&fault_mode, true, __ATOMIC_RELEASE);
}

bool fault_enabled(void)
{
	return __atomic_load_n(&fault_mode, __ATOMIC_ACQUIRE);
}

const char *fault_point_name(enum fault_point p)
{
	return (unsigned)p < FAULT_COUNT ? names[p] : "?";
}

int fault_point_lookup(const char *name)
{
	for (int i = 0; i < FAULT_COUNT; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -ENOENT;
}

_Noreturn void fault_crash(const char *why)
{
	struct rlimit none = {0, 0};

	/* A crash test aborts hundreds of times: no core files (the region is not in them). */
	setrlimit(RLIMIT_CORE, &none);
	log_warn("fault injection: crashing at %s", why);
	abort();
}

int fault_at_slow(enum fault_point p)
{
	struct fault_state *s = &points[p];
	uint32_t delay = __atomic_load_n(&s->delay_us, __ATOMIC_RELAXED);
	uint64_t left;

	if (delay) {
		struct timespec ts = {delay / 1000000, (long)(delay % 1000000) * 1000};

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	if (__atomic_load_n(&s->crash, __ATOMIC_RELAXED))
		fault_crash(names[p]);
	left = __atomic_load_n(&s->fail_left, __ATOMIC_RELAXED);
	while (left) {
		uint64_t next = left == FAIL_FOREVER ? left : left - 1;

		if (__atomic_compare_exchange_n(&s->fail_left, &left, next, false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			return -__atomic_load_n(&s->err, __ATOMIC_RELAXED);
	}
	return 0;
}

static int check_point(enum fault_point p)
{
	if (!fault_enabled())
		return -EPERM;
	return (unsigned)p < FAULT_COUNT ? 0 : -EINVAL;
}

int fault_set_fail(enum fault_point p, uint64_t count, int err)
{
	int ret = check_point(p);

	if (ret)
		return ret;
	if (!can_fail[p])
		return -EOPNOTSUPP;
	if (err < 1 || err > 4095)
		return -EINVAL;
	__atomic_store_n(&points[p].err, err, __ATOMIC_RELAXED);
	__atomic_store_n(&points[p].fail_left, count ? count : FAIL_FOREVER, __ATOMIC_RELAXED);
	return 0;
}

int fault_set_delay(enum fault_point p, uint32_t usec)
{
	int ret = check_point(p);

	if (ret)
		return ret;
	if (!fault_can_delay(p))
		return -EOPNOTSUPP;
	__atomic_store_n(&points[p].delay_us, usec, __ATOMIC_RELAXED);
	return 0;
}

int fault_set_crash(enum fault_point p)
{
	int ret = check_point(p);

	if (ret)
		return ret;
	__atomic_store_n(&points[p].crash, true, __ATOMIC_RELAXED);
	return 0;
}

int fault_set_crash_persist(uint64_t nth)
{
	if (!fault_enabled())
		return -EPERM;
	if (nth == 0)
		return -EINVAL;
	__atomic_store_n(&persist_crash_at, __atomic_load_n(&persist_count, __ATOMIC_RELAXED) + nth,
			 __ATOMIC_RELAXED);
	return 0;
}

void fault_clear(void)
{
	for (int i = 0; i < FAULT_COUNT; i++) {
		__atomic_store_n(&points[i].fail_left, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&points[i].delay_us, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&points[i].crash, false, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&persist_crash_at, 0, __ATOMIC_RELAXED);
}

void fault_persist_slow(void)
{
	uint64_t n = __atomic_add_fetch(&persist_count, 1, __ATOMIC_RELAXED);

	if (n == __atomic_load_n(&persist_crash_at, __ATOMIC_RELAXED))
		fault_crash("a persist");
}

uint64_t fault_persist_count(void)
{
	return __atomic_load_n(&persist_count, __ATOMIC_RELAXED);
}
