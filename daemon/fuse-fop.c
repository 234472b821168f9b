// SPDX-License-Identifier: MIT
/*
 * One FUSE request's engine calls, from the request to its reply: the lock -> lookup ->
 * call -> reply sequence every operation repeats (fuse-ops.c gives the call and the reply).
 *
 * The engine never waits for another request's inode lock or for mappers acknowledging a
 * lease break: it parks the call (NS_WAIT) and wakes its context later. A FUSE thread that
 * gets NS_WAIT copies what it borrowed from the request (the name, the data) into the fop,
 * parks it and goes back to /dev/fuse; the engine's wake, or the deadline the engine set
 * (the lease-break timeout), hands the fop to the park thread, which runs the call again
 * and answers the kernel (libfuse lets any thread reply).
 *
 * Who owns a fop, as in daemon/server.c (whose claim protocol this is):
 *   RUNNING  the thread running it (a FUSE thread or the park thread)
 *   PARKED   nobody: the engine's wake or the deadline moves it on, once
 *   CLAIMED  the park thread, whose deadline took it off the engine's queue
 *   WOKEN    woken while its runner (or the deadline) had it: run it again
 * The deadline list is under m->park_lock and deadlines are handled holding it, so a fop
 * that completes (and disarms its timer under the same lock) is never freed under them.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuse-int.h"
#include "log.h"
#include "rcu.h"
#include "util.h"

enum fop_state {
	FOP_RUNNING,
	FOP_PARKED,
	FOP_CLAIMED,
	FOP_WOKEN,
};

static void ready_push(struct fmount *m, struct fop *f)
{
	pthread_mutex_lock(&m->park_lock);
	f->qnext = NULL;
	if (m->ready_tail)
		m->ready_tail->qnext = f;
	else
		m->ready = f;
	m->ready_tail = f;
	pthread_cond_signal(&m->park_cond);
	pthread_mutex_unlock(&m->park_lock);
}

/* Locking: park_lock. */
static void __ready_push(struct fmount *m, struct fop *f)
{
	f->qnext = NULL;
	if (m->ready_tail)
		m->ready_tail->qnext = f;
	else
		m->ready = f;
	m->ready_tail = f;
}

/* Locking: park_lock. */
static void __disarm(struct fmount *m, struct fop *f)
{
	if (!f->armed)
		return;
	if (f->tprev)
		f->tprev->tnext = f->tnext;
	else
		m->timers = f->tnext;
	if (f->tnext)
		f->tnext->tprev = f->tprev;
	f->armed = false;
}

static void arm(struct fmount *m, struct fop *f, uint64_t at)
{
	pthread_mutex_lock(&m->park_lock);
	__disarm(m, f);
	f->deadline = at;
	f->tprev = NULL;
	f->tnext = m->timers;
	if (f->tnext)
		f->tnext->tprev = f;
	m->timers = f;
	f->armed = true;
	pthread_cond_signal(&m->park_cond);
	pthread_mutex_unlock(&m->park_lock);
}

/*
 * on_wake - the engine woke a fop's context (any thread, perhaps under engine locks: only
 * queue it). A fop its runner or the deadline has is marked to run again.
 */
static void on_wake(struct ns_waiter *w)
{
	struct fop *f = caa_container_of(w, struct fop, ctx.waiter);
	uint32_t st = __atomic_load_n(&f->state, __ATOMIC_ACQUIRE);

	for (;;) {
		uint32_t to = st == FOP_PARKED ? FOP_RUNNING : FOP_WOKEN;

		if (st == FOP_WOKEN)
			return;
		if (__atomic_compare_exchange_n(&f->state, &st, to, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			break;
	}
	if (st == FOP_PARKED)
		ready_push(f->m, f);
}

/*
 * on_deadline - a parked fop's deadline passed: take it off the engine's queue and run it
 * again; if a wake took it off already, that wake queues it.
 * Context: the park thread. Locking: park_lock (f is off the timer list already).
 */
static void on_deadline(struct fmount *m, struct fop *f)
{
	uint32_t st = __atomic_load_n(&f->state, __ATOMIC_ACQUIRE);

	for (;;) {
		if (st == FOP_PARKED &&
		    __atomic_compare_exchange_n(&f->state, &st, FOP_CLAIMED, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			break;
		/* Its runner still has it (about to park): have it run again instead. */
		if (st == FOP_RUNNING &&
		    __atomic_compare_exchange_n(&f->state, &st, FOP_WOKEN, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return;
		if (st != FOP_PARKED && st != FOP_RUNNING)
			return;
	}
	if (!f->timer_only && !ns_ctx_cancel(m->ns, &f->ctx)) {
		st = FOP_CLAIMED;
		if (__atomic_compare_exchange_n(&f->state, &st, FOP_PARKED, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return;
	}
	__atomic_store_n(&f->state, FOP_RUNNING, __ATOMIC_RELEASE);
	__ready_push(m, f);
}

/*
 * keep - before parking: copy what @f borrowed from the request, which libfuse reuses once
 * the FUSE thread returns. A failure is remembered and answered when the fop runs again.
 */
static void keep(struct fop *f)
{
	const void **borrowed[3] = {(const void **)&f->name, (const void **)&f->name2, &f->buf};
	size_t lens[3] = {f->name ? strlen(f->name) + 1 : 0, f->name2 ? strlen(f->name2) + 1 : 0,
			  f->len};

	for (int i = 0; i < 3; i++) {
		if (!*borrowed[i] || f->own[i] == *borrowed[i])
			continue;
		f->own[i] = malloc(lens[i] ? lens[i] : 1);
		if (!f->own[i]) {
			f->err = -ENOMEM;
			continue;
		}
		memcpy(f->own[i], *borrowed[i], lens[i]);
		*borrowed[i] = f->own[i];
	}
}

/* park - Return: true when parked (hands off); false: run it again now. */
static bool park(struct fop *f)
{
	struct fmount *m = f->m;
	uint32_t st = FOP_RUNNING;

	keep(f);
	if (f->timer_only) {
		arm(m, f, f->deadline);
	} else if (f->ctx.deadline) {
		if (f->ctx.deadline <= mono_ns() && ns_ctx_cancel(m->ns, &f->ctx))
			return false; /* past it already: the run that expires the holders is next */
		arm(m, f, f->ctx.deadline);
	}
	if (__atomic_compare_exchange_n(&f->state, &st, FOP_PARKED, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		return true;
	/* Woken while we were on it: go on at once. */
	__atomic_store_n(&f->state, FOP_RUNNING, __ATOMIC_RELEASE);
	return false;
}

static void fop_free(struct fop *f)
{
	struct fmount *m = f->m;

	pthread_mutex_lock(&m->park_lock);
	__disarm(m, f);
	pthread_mutex_unlock(&m->park_lock);
	ns_ctx_release(m->ns, &f->ctx);
	fcred_release(&f->cred);
	for (int i = 0; i < 3; i++)
		free(f->own[i]);
	free(f);
}

struct fop *fop_new(struct fmount *m, fuse_req_t req, const struct fcred *as, fop_run_fn run,
		    fop_reply_fn reply)
{
	struct fop *f;
	int rc;

	if (fm_failed(m, req))
		return NULL;
	f = calloc(1, sizeof(*f));
	rc = f ? 0 : -ENOMEM;
	if (f && as)
		rc = fcred_copy(&f->cred, as);
	else if (f)
		rc = fcred_of_req(m, req, &f->cred);
	if (rc) {
		free(f);
		fuse_reply_err(req, -rc);
		return NULL;
	}
	f->m = m;
	f->req = req;
	f->run = run;
	f->reply = reply;
	f->state = FOP_RUNNING;
	ns_ctx_init_async(&f->ctx, &f->cred.ns, on_wake);
	return f;
}

/* step - run @f until it is answered (true) or parked (false). */
static bool step(struct fop *f)
{
	int rc;

	for (;;) {
		f->timer_only = false;
		rc = f->err ? f->err : f->run(f);
		if (rc != NS_WAIT)
			break;
		f->tries++;
		if (park(f))
			return false;
	}
	f->reply(f, rc);
	fop_free(f);
	return true;
}

/* fop_done - one fop in flight fewer; the stop may be waiting for the last. */
static void fop_done(struct fmount *m)
{
	if (__atomic_sub_fetch(&m->parked, 1, __ATOMIC_ACQ_REL) == 0 &&
	    __atomic_load_n(&m->park_stop, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&m->park_lock);
		pthread_cond_broadcast(&m->park_cond);
		pthread_mutex_unlock(&m->park_lock);
	}
}

void fop_go(struct fop *f)
{
	struct fmount *m = f->m;

	/* Counted from the start: the stop waits for every fop in flight. */
	__atomic_add_fetch(&m->parked, 1, __ATOMIC_ACQ_REL);
	if (step(f))
		fop_done(m);
}

int fop_retry_later(struct fop *f, unsigned ms)
{
	f->timer_only = true;
	f->deadline = mono_ns() + (uint64_t)ms * 1000000ULL;
	return NS_WAIT;
}

/*
 * park_thread - run the fops woken by the engine and expire the deadlines, until told to
 * stop once nothing is parked any more.
 */
static void *park_thread(void *arg)
{
	struct fmount *m = arg;
	sigset_t all;

	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	rcu_thread_online();
	pthread_mutex_lock(&m->park_lock);
	for (;;) {
		uint64_t now = mono_ns(), next = 0;
		struct fop *f, *n;

		for (f = m->timers; f; f = n) {
			n = f->tnext;
			if (f->deadline <= now) {
				__disarm(m, f);
				on_deadline(m, f);
			} else if (!next || f->deadline < next) {
				next = f->deadline;
			}
		}
		if (m->ready) {
			f = m->ready;
			m->ready = f->qnext;
			if (!m->ready)
				m->ready_tail = NULL;
			pthread_mutex_unlock(&m->park_lock);
			if (step(f))
				fop_done(m);
			pthread_mutex_lock(&m->park_lock);
			continue;
		}
		if (m->park_stop && !__atomic_load_n(&m->parked, __ATOMIC_ACQUIRE))
			break;
		if (next) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			now = mono_ns();
			ts.tv_sec += (time_t)((next - MIN(next, now)) / 1000000000ULL);
			ts.tv_nsec += (long)((next - MIN(next, now)) % 1000000000ULL);
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&m->park_cond, &m->park_lock, &ts);
		} else {
			pthread_cond_wait(&m->park_cond, &m->park_lock);
		}
	}
	pthread_mutex_unlock(&m->park_lock);
	rcu_thread_offline();
	return NULL;
}

int fops_init(struct fmount *m)
{
	pthread_condattr_t ca;
	int rc;

	pthread_mutex_init(&m->park_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->park_cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&m->park_thread, NULL, park_thread, m);
	if (rc) {
		log_err("fuse: cannot start the park thread: %s", strerror(rc));
		pthread_cond_destroy(&m->park_cond);
		pthread_mutex_destroy(&m->park_lock);
		return -rc;
	}
	m->park_running = true;
	return 0;
}

void fops_fini(struct fmount *m)
{
	if (!m->park_running)
		return;
	pthread_mutex_lock(&m->park_lock);
	__atomic_store_n(&m->park_stop, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&m->park_cond);
	pthread_mutex_unlock(&m->park_lock);
	pthread_join(m->park_thread, NULL);
	m->park_running = false;
	pthread_cond_destroy(&m->park_cond);
	pthread_mutex_destroy(&m->park_lock);
}
