// SPDX-License-Identifier: MIT
/*
 * sigbus - the process-wide SIGBUS handler (sigbus.h says what it does with each fault).
 *
 * Everything the handler reads is either the calling thread's own armed copy (thread-local,
 * initial-exec TLS: no allocation on access) or a slot of a fixed table of registered
 * regions (atomic pointers). Everything it writes is a region's atomics, its fault queue
 * (a fixed array of slots claimed with compare-and-swap), or the thread's armed copy.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "sigbus.h"

#define SIGBUS_REGIONS_MAX 64
#define PAGE_SHIFT_MIN 12
#define LSB_MAX 30 /* a 1 GiB page: the largest fault a region can report */

__thread struct sigbus_arm sigbus_arm __attribute__((tls_model("initial-exec")));

static struct sigbus_region *regions[SIGBUS_REGIONS_MAX]; /* atomic slots */
static struct sigaction old_action;			  /* written once, before use */
static int installed;					  /* atomic: 0, 1 installing, 2 done */
static int notify_fd = -1;				  /* atomic */
static sigbus_hook_fn test_hook;			  /* atomic */
static void *test_hook_ctx;
static bool full_logged; /* atomic */

void sigbus_set_notify_fd(int fd)
{
	__atomic_store_n(&notify_fd, fd, __ATOMIC_RELEASE);
}

static void notify(void)
{
	int fd = __atomic_load_n(&notify_fd, __ATOMIC_ACQUIRE);
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* A full eventfd already says "look": nothing lost. */
	}
}

int sigbus_register(struct sigbus_region *sr, void *base, uint64_t size)
{
	sr->lo = (uintptr_t)base;
	sr->hi = (uintptr_t)base + size;
	for (unsigned i = 0; i < SIGBUS_REGIONS_MAX; i++) {
		struct sigbus_region *empty = NULL;

		if (__atomic_compare_exchange_n(&regions[i], &empty, sr, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return 0;
	}
	if (!__atomic_exchange_n(&full_logged, true, __ATOMIC_ACQ_REL))
		log_warn("more than %d regions open: SIGBUS in the others is not survived",
			 SIGBUS_REGIONS_MAX);
	return -ENOSPC;
}

void sigbus_unregister(struct sigbus_region *sr)
{
	for (unsigned i = 0; i < SIGBUS_REGIONS_MAX; i++) {
		struct sigbus_region *cur = sr;

		if (__atomic_compare_exchange_n(&regions[i], &cur, NULL, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return;
	}
}

/* find - the registered region whose mapping holds @addr, or NULL. Async-signal-safe. */
static struct sigbus_region *find(uintptr_t addr)
{
	for (unsigned i = 0; i < SIGBUS_REGIONS_MAX; i++) {
		struct sigbus_region *sr = __atomic_load_n(&regions[i], __ATOMIC_ACQUIRE);

		if (sr && addr >= sr->lo && addr < sr->hi)
			return sr;
	}
	return NULL;
}

void sigbus_fail(struct sigbus_region *sr, const struct region_fault *f)
{
	int zero = 0;

	if (!__atomic_compare_exchange_n(&sr->failed, &zero, 1, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return;
	sr->why = *f;
	__atomic_store_n(&sr->failed, 2, __ATOMIC_RELEASE);
}

bool sigbus_queue_push(struct sigbus_region *sr, const struct region_fault *f)
{
	for (unsigned i = 0; i < SIGBUS_QUEUE; i++) {
		uint32_t st = 0;

		if (!__atomic_compare_exchange_n(&sr->qstate[i], &st, 1, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			continue;
		sr->q[i] = *f;
		__atomic_store_n(&sr->qstate[i], 2, __ATOMIC_RELEASE);
		__atomic_add_fetch(&sr->pending, 1, __ATOMIC_RELEASE);
		return true;
	}
	__atomic_add_fetch(&sr->lost, 1, __ATOMIC_RELAXED);
	return false;
}

bool sigbus_queue_pop(struct sigbus_region *sr, struct region_fault *f)
{
	if (__atomic_load_n(&sr->pending, __ATOMIC_ACQUIRE) == 0)
		return false;
	for (unsigned i = 0; i < SIGBUS_QUEUE; i++) {
		uint32_t st = 2;

		if (!__atomic_compare_exchange_n(&sr->qstate[i], &st, 3, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			continue;
		*f = sr->q[i];
		__atomic_store_n(&sr->qstate[i], 0, __ATOMIC_RELEASE);
		__atomic_sub_fetch(&sr->pending, 1, __ATOMIC_RELEASE);
		return true;
	}
	return false;
}

void sigbus_set_test_hook(sigbus_hook_fn fn, void *ctx)
{
	test_hook_ctx = ctx;
	__atomic_store_n(&test_hook, fn, __ATOMIC_RELEASE);
}

void sigbus_test_hook(const void *addr, size_t len)
{
#if DAXFS_TEST_HOOKS
	sigbus_hook_fn fn = __atomic_load_n(&test_hook, __ATOMIC_ACQUIRE);

	if (__builtin_expect(fn != NULL, 0))
		fn(test_hook_ctx, addr, len);
#else
	(void)addr;
	(void)len;
#endif
}

/* not_ours - chain to the handler we replaced, or die of the default action. */
static void not_ours(int sig, siginfo_t *si, void *uc)
{
	struct sigaction dfl;

	if ((old_action.sa_flags & SA_SIGINFO) && old_action.sa_sigaction) {
		old_action.sa_sigaction(sig, si, uc);
		return;
	}
	if (!(old_action.sa_flags & SA_SIGINFO) && old_action.sa_handler != SIG_DFL &&
	    old_action.sa_handler != SIG_IGN) {
		old_action.sa_handler(sig);
		return;
	}
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGBUS, &dfl, NULL);
	/* SIGBUS is not blocked here (SA_NODEFER): this ends the process, with a core. */
	raise(SIGBUS);
}

static void handler(int sig, siginfo_t *si, void *uc)
{
	struct sigbus_arm *a = &sigbus_arm;
	uintptr_t addr = (uintptr_t)si->si_addr, start, end;
	int code = si->si_code, saved = errno;
	bool mce = code == BUS_MCEERR_AR || code == BUS_MCEERR_AO, ours;
	struct sigbus_region *sr;
	struct region_fault f;
	unsigned lsb = PAGE_SHIFT_MIN;

	sr = (mce || code == BUS_ADRERR) ? find(addr) : NULL;
	if (!sr && code == BUS_MCEERR_AO) {
		/*
		 * Action optional, in memory that is no region's: the kernel took the page away
		 * already and a later touch gets BUS_MCEERR_AR. daxfsd asks for these early
		 * notices (PR_MCE_KILL_EARLY) for its regions' sake; the default action would
		 * kill it for an error in memory it may never touch again.
		 */
		errno = saved;
		return;
	}
	if (!sr) {
		not_ours(sig, si, uc);
		errno = saved;
		return;
	}
	if (mce && si->si_addr_lsb > PAGE_SHIFT_MIN)
		lsb = si->si_addr_lsb < LSB_MAX ? si->si_addr_lsb : LSB_MAX;
	start = addr & ~(((uintptr_t)1 << lsb) - 1);
	end = start + ((uintptr_t)1 << lsb);
	if (start < sr->lo)
		start = sr->lo;
	if (end > sr->hi)
		end = sr->hi;
	f = (struct region_fault){.off = start - sr->lo, .len = end - start, .code = code};
	ours = a->armed && a->sr == sr && addr >= a->lo && addr < a->hi;
	/* Queued for poison_drain(), unless the copy's caller handles it itself. */
	if (mce && !(ours && a->keep))
		sigbus_queue_push(sr, &f);

	if (ours) {
		/*
		 * A safe copy: it returns -EIO. A shrunk file is no media error: fail. A media
		 * error is queued, and the copy's caller drains the queue before it answers
		 * (poison_drain: the request paths, the scrub, the replica's copy), so the
		 * repair or quarantine is done by then. The SIGBUS thread is not woken for it:
		 * it would take the fault off the queue and handle it while the caller answers.
		 * Should a caller not drain, the thread's once-a-second look finds it.
		 */
		if (!mce) {
			sigbus_fail(sr, &f);
			notify();
		}
		a->fault = f;
		a->armed = 0;
		errno = saved;
		siglongjmp(a->env, 1);
	}
	if (code == BUS_MCEERR_AO) {
		/* Nobody touched it yet: poison_drain() quarantines it before anyone does. */
		notify();
		errno = saved;
		return;
	}
	/*
	 * Metadata (or an unsafe access): the lost bytes are gone either way. Anonymous memory
	 * lets the instruction complete; the failed region is no longer served.
	 */
	if (mmap((void *)start, end - start, PROT_READ | PROT_WRITE,
		 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) == MAP_FAILED) {
		not_ours(sig, si, uc);
		errno = saved;
		return;
	}
	sigbus_fail(sr, &f);
	notify();
	errno = saved;
}

int sigbus_install(void)
{
	struct sigaction sa;
	int expect = 0;

	if (!__atomic_compare_exchange_n(&installed, &expect, 1, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		/* Installed, or being installed by another thread: wait for it, briefly. */
		for (int i = 0; i < 1000000 && __atomic_load_n(&installed, __ATOMIC_ACQUIRE) != 2;
		     i++)
			sched_yield();
		return 0;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &old_action) < 0) {
		int err = errno;

		log_err("cannot install the SIGBUS handler: %s", strerror(err));
		__atomic_store_n(&installed, 0, __ATOMIC_RELEASE);
		return -err;
	}
	__atomic_store_n(&installed, 2, __ATOMIC_RELEASE);
	return 0;
}
