/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_SIGBUS_H
#define DAXFS_ENGINE_SIGBUS_H

/*
 * sigbus - the process-wide SIGBUS handler that lets the engine touch region memory that
 * may fault (DESIGN §5 source 2, §7). STYLE.md: the handler only records the fault and
 * jumps out (or, outside a safe copy, puts anonymous memory under the access so that it
 * completes); everything else happens on normal threads.
 *
 * What the handler does with a SIGBUS at address A:
 *   - A is in the bytes of a safe copy armed on this thread (region_copy_safe & co.):
 *     the fault is recorded and the copy siglongjmps out with -EIO;
 *   - A is in a registered region, BUS_MCEERR_AO (action optional: nobody touched it yet):
 *     the media error is queued for poison_drain() and the handler returns;
 *   - A is in a registered region, BUS_MCEERR_AR or BUS_ADRERR, outside a safe copy
 *     (metadata): anonymous memory replaces the lost range so the access completes, and the
 *     region is marked failed (the daemon stops serving it);
 *   - BUS_MCEERR_AO outside every region: ignored (nothing touched it; a later touch gets
 *     BUS_MCEERR_AR), so that the early notices daxfsd asks for cannot kill it;
 *   - anything else: the handler that was installed before runs, or, if there was none,
 *     the default action (SIG_DFL, re-raised): a real bug still crashes.
 * Media errors (BUS_MCEERR_*) in a region are always queued for poison_drain().
 * Each of these steps is async-signal-safe: atomics, mmap, write, sigaction, raise.
 */

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "region.h"

#define SIGBUS_QUEUE 64 /* media errors a region holds for poison_drain() */

/* Per region: what the handler needs and what it records. Embedded in struct region. */
struct sigbus_region {
	uintptr_t lo, hi; /* the mapping */
	int failed;	  /* atomic: 0; 1 being recorded; 2 failed, @why valid */
	struct region_fault why;
	uint32_t pending;	       /* atomic: entries in the queue (a hint for the fast path) */
	uint64_t lost;		       /* atomic: media errors the queue had no room for */
	uint32_t qstate[SIGBUS_QUEUE]; /* atomic: 0 free, 1 writing, 2 full, 3 reading */
	struct region_fault q[SIGBUS_QUEUE];
};

/* One thread's armed safe copy. Only sigbus.c and region.c touch it. */
struct sigbus_arm {
	sigjmp_buf env;
	uintptr_t lo, hi;	   /* the armed bytes of region memory */
	struct sigbus_region *sr;  /* their region */
	volatile int armed;	   /* set around the copy */
	int keep;		   /* the caller handles a media error: it is not queued */
	struct region_fault fault; /* filled by the handler before it jumps */
};

extern __thread struct sigbus_arm sigbus_arm __attribute__((tls_model("initial-exec")));

/*
 * sigbus_install - install the handler (SA_SIGINFO | SA_NODEFER, so that a copy that
 * jumps out leaves SIGBUS unblocked without saving the signal mask). Once per process;
 * later calls do nothing. The handler it replaces is chained to for faults not ours.
 * Context: any thread, before regions are touched concurrently. Locking: none.
 * Return: 0; -errno from sigaction.
 */
int sigbus_install(void);

/*
 * sigbus_set_notify_fd - the handler writes an 8-byte 1 to @fd (an eventfd; -1: none)
 * after it queues a media error or fails a region, so a normal thread can act on it.
 * Context: any thread. Locking: none (atomic).
 */
void sigbus_set_notify_fd(int fd);

/*
 * sigbus_register / sigbus_unregister - make the handler know @sr's mapping [@base,
 * @base + @size) / forget it (before it is unmapped).
 * Context: any thread. Locking: none (atomic slots).
 * Return (register): 0; -ENOSPC (too many regions: faults in this one are not survived,
 *         said once in the log).
 */
int sigbus_register(struct sigbus_region *sr, void *base, uint64_t size);
void sigbus_unregister(struct sigbus_region *sr);

/* sigbus_fail - mark @sr failed by @f unless it already is. Async-signal-safe. */
void sigbus_fail(struct sigbus_region *sr, const struct region_fault *f);

/* sigbus_queue_push / _pop - the media errors queued on @sr. Push is async-signal-safe. */
bool sigbus_queue_push(struct sigbus_region *sr, const struct region_fault *f);
bool sigbus_queue_pop(struct sigbus_region *sr, struct region_fault *f);

/*
 * Test hook (compiled in with DAXFS_TEST_HOOKS): called by every safe copy on the calling
 * thread once it is armed, with the region bytes it is about to touch. A test sends itself
 * SIGBUS from it (rt_tgsigqueueinfo with si_code BUS_MCEERR_AR) to play a media error.
 */
typedef void (*sigbus_hook_fn)(void *ctx, const void *addr, size_t len);
void sigbus_set_test_hook(sigbus_hook_fn fn, void *ctx);
void sigbus_test_hook(const void *addr, size_t len);

#endif
