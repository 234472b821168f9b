// SPDX-License-Identifier: MIT
/*
 * sigbus - libdaxfs's optional SIGBUS handler (DESIGN §5 source 3, daxfs_sigbus_install()).
 *
 * A media error under a mapping reaches the process as SIGBUS (BUS_MCEERR_AR when it
 * touched the page, BUS_MCEERR_AO when the kernel tells early). The handler finds the view
 * that holds the address, sends POISON_REPORT {grant, file offset, length} to the daemon
 * with one send() on the session's socket (a SOCK_SEQPACKET packet is atomic, whoever else
 * sends), and calls the application's function, which may siglongjmp out. The daemon
 * quarantines the blocks and sends POISON to every mapper, this one included, whose library
 * then makes the range PROT_NONE as for any POISON event (map.c).
 *
 * This is the library's only process-wide state, as a signal handler has to be. What the
 * handler reads is kept lock-free for it:
 *   - handles: a fixed table of the handles that installed it (socket, function, context),
 *     with a count of handlers inside each entry so that daxfs_close() waits (briefly) for
 *     them before the socket goes;
 *   - views: chunks of view records (address range, grant, file offset, handle), each under
 *     a sequence count (odd while map.c's hook rewrites it); chunks are appended and never
 *     freed, so the handler can always walk them.
 * Writers (map.c's hooks, daxfs_sigbus_install, daxfs_close) serialise on views_lock, which
 * the handler never takes. Everything the handler does is async-signal-safe: atomics,
 * send(2), sigaction(2), raise(3), and the application's function.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "libdaxfs-private.h"

#define HANDLES_MAX 256
#define VIEWS_PER_CHUNK 256
#define LSB_MIN 12
#define LSB_MAX 30
#define CLOSE_WAIT_ROUNDS 100000 /* sched_yield()s daxfs_close waits for handlers at most */

struct sb_handle {
	struct daxfs *fs;   /* atomic: NULL when the entry is free or being closed */
	int sock;	    /* atomic */
	daxfs_sigbus_fn fn; /* atomic */
	void *ctx;	    /* atomic */
	uint64_t seq;	    /* atomic: request ids of reports */
	uint32_t users;	    /* atomic: handlers using the entry */
};

struct sb_view {
	uint32_t seq; /* atomic: odd while being written */
	/* The rest: atomic (relaxed), valid when seq was even and unchanged around the reads. */
	uintptr_t lo, hi; /* the view; 0, 0: free */
	uint64_t grant, file_off, ino;
	struct daxfs_map *map;
	uint32_t handle; /* index in handles */
};

struct sb_chunk {
	struct sb_chunk *next; /* atomic */
	struct sb_view v[VIEWS_PER_CHUNK];
};

static pthread_mutex_t views_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sb_handle handles[HANDLES_MAX];
static struct sb_chunk *chunks;	    /* atomic */
static struct sigaction old_action; /* before our handler; written once under views_lock */
static bool installed;		    /* under views_lock */

/* --- the handler --- */

/* view_read - a consistent copy of @v. Return: false when it changes under us or is free. */
static bool view_read(const struct sb_view *v, struct sb_view *out)
{
	uint32_t s1 = __atomic_load_n(&v->seq, __ATOMIC_ACQUIRE);

	if (s1 & 1)
		return false;
	/* Acquire loads: the second seq load cannot move above them (no fence: TSan). */
	out->lo = __atomic_load_n(&v->lo, __ATOMIC_ACQUIRE);
	out->hi = __atomic_load_n(&v->hi, __ATOMIC_ACQUIRE);
	out->grant = __atomic_load_n(&v->grant, __ATOMIC_ACQUIRE);
	out->file_off = __atomic_load_n(&v->file_off, __ATOMIC_ACQUIRE);
	out->ino = __atomic_load_n(&v->ino, __ATOMIC_ACQUIRE);
	out->map = __atomic_load_n(&v->map, __ATOMIC_ACQUIRE);
	out->handle = __atomic_load_n(&v->handle, __ATOMIC_ACQUIRE);
	return __atomic_load_n(&v->seq, __ATOMIC_RELAXED) == s1 && out->lo < out->hi;
}

/* find_view - the view holding @addr, copied. Async-signal-safe. */
static bool find_view(uintptr_t addr, struct sb_view *out)
{
	for (struct sb_chunk *c = __atomic_load_n(&chunks, __ATOMIC_ACQUIRE); c;
	     c = __atomic_load_n(&c->next, __ATOMIC_ACQUIRE)) {
		for (unsigned i = 0; i < VIEWS_PER_CHUNK; i++) {
			/* A record rewritten meanwhile is retried a few times, then skipped. */
			for (int tries = 0; tries < 4; tries++) {
				if (view_read(&c->v[i], out)) {
					if (addr >= out->lo && addr < out->hi)
						return true;
					break;
				}
				if (__atomic_load_n(&c->v[i].hi, __ATOMIC_RELAXED) == 0)
					break;
			}
		}
	}
	return false;
}

/* chain - the fault is not for us (or nobody handles it): the old handler, or death. */
static void chain(int sig, siginfo_t *si, void *uc)
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
	raise(SIGBUS); /* not blocked (SA_NODEFER): the process ends here, with a core */
}

/* send_report - POISON_REPORT for file bytes [@off, @off + @len) of @grant. No reply. */
static void send_report(struct sb_handle *h, uint64_t grant, uint64_t off, uint64_t len)
{
	struct {
		struct wire_hdr h;
		struct wire_poison_report r;
	} msg;
	uint64_t n = __atomic_add_fetch(&h->seq, 1, __ATOMIC_RELAXED);
	ssize_t rc;

	memset(&msg, 0, sizeof(msg));
	msg.h.len = sizeof(msg);
	msg.h.op = WIRE_POISON_REPORT;
	/* Its own id space (the top bit), in the slot-less ids ACKs use too. */
	msg.h.id = (((n | (UINT64_C(1) << 54)) << LIB_SLOT_BITS)) | LIB_ID_NO_SLOT;
	msg.r.grant = grant;
	msg.r.off = off;
	msg.r.len = len;
	do {
		rc = send(__atomic_load_n(&h->sock, __ATOMIC_RELAXED), &msg, sizeof(msg),
			  MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (rc < 0 && errno == EINTR);
	/* A full socket or a dead session: the daemon will see the page fail another way. */
}

static void handler(int sig, siginfo_t *si, void *uc)
{
	uintptr_t addr = (uintptr_t)si->si_addr, start, end, size;
	int code = si->si_code, saved = errno;
	struct daxfs_sigbus info;
	daxfs_sigbus_fn fn = NULL;
	struct sb_handle *h;
	struct sb_view v;
	unsigned lsb = LSB_MIN;
	void *ctx = NULL;

	if ((code != BUS_MCEERR_AR && code != BUS_MCEERR_AO) || !find_view(addr, &v) ||
	    v.handle >= HANDLES_MAX)
		goto out_chain;
	h = &handles[v.handle];
	__atomic_add_fetch(&h->users, 1, __ATOMIC_ACQ_REL);
	if (!__atomic_load_n(&h->fs, __ATOMIC_ACQUIRE)) {
		/* daxfs_close is taking it away. */
		__atomic_sub_fetch(&h->users, 1, __ATOMIC_ACQ_REL);
		goto out_chain;
	}
	if (si->si_addr_lsb > LSB_MIN)
		lsb = si->si_addr_lsb < LSB_MAX ? (unsigned)si->si_addr_lsb : LSB_MAX;
	size = (uintptr_t)1 << lsb;
	start = addr & ~(size - 1);
	end = start + size;
	if (start < v.lo)
		start = v.lo;
	if (end > v.hi)
		end = v.hi;
	send_report(h, v.grant, v.file_off + (start - v.lo), end - start);
	fn = __atomic_load_n(&h->fn, __ATOMIC_ACQUIRE);
	ctx = __atomic_load_n(&h->ctx, __ATOMIC_ACQUIRE);
	__atomic_sub_fetch(&h->users, 1, __ATOMIC_ACQ_REL);
	if (!fn)
		goto out_chain;
	info = (struct daxfs_sigbus){
		.code = code,
		.map = v.map,
		.ino = v.ino,
		.off = v.file_off + (start - v.lo),
		.len = end - start,
		.addr = (void *)addr,
	};
	errno = saved;
	fn(ctx, &info); /* may siglongjmp */
	if (code == BUS_MCEERR_AO)
		return; /* nothing was touched: carry on */
out_chain:
	chain(sig, si, uc);
	errno = saved;
}

/* --- the tables (views_lock) --- */

/* view_write - rewrite @v as a seqlock writer. views_lock held. */
static void view_write(struct sb_view *v, const struct sb_view *val)
{
	/* An acquiring increment: the stores below cannot move above it (no fence: TSan). */
	uint32_t s = __atomic_fetch_add(&v->seq, 1, __ATOMIC_ACQ_REL);

	__atomic_store_n(&v->lo, val->lo, __ATOMIC_RELAXED);
	__atomic_store_n(&v->hi, val->hi, __ATOMIC_RELAXED);
	__atomic_store_n(&v->grant, val->grant, __ATOMIC_RELAXED);
	__atomic_store_n(&v->file_off, val->file_off, __ATOMIC_RELAXED);
	__atomic_store_n(&v->ino, val->ino, __ATOMIC_RELAXED);
	__atomic_store_n(&v->map, val->map, __ATOMIC_RELAXED);
	__atomic_store_n(&v->handle, val->handle, __ATOMIC_RELAXED);
	__atomic_store_n(&v->seq, s + 2, __ATOMIC_RELEASE);
}

/* handle_index - the handles entry of @fs, or -1. views_lock held. */
static int handle_index(struct daxfs *fs)
{
	for (int i = 0; i < HANDLES_MAX; i++) {
		if (__atomic_load_n(&handles[i].fs, __ATOMIC_RELAXED) == fs)
			return i;
	}
	return -1;
}

void lib_sigbus_view_add(struct daxfs *fs, struct daxfs_map *m, void *addr, uint64_t len,
			 uint64_t grant, uint64_t file_off, uint64_t ino)
{
	struct sb_view val = {
		.lo = (uintptr_t)addr,
		.hi = (uintptr_t)addr + len,
		.grant = grant,
		.file_off = file_off,
		.ino = ino,
		.map = m,
	};
	struct sb_chunk *c, **tail;
	int hi;

	pthread_mutex_lock(&views_lock);
	hi = handle_index(fs);
	if (hi < 0 || len == 0)
		goto out; /* the handle did not install the handler */
	val.handle = (uint32_t)hi;
	tail = &chunks;
	for (c = chunks; c; tail = &c->next, c = c->next) {
		for (unsigned i = 0; i < VIEWS_PER_CHUNK; i++) {
			if (__atomic_load_n(&c->v[i].hi, __ATOMIC_RELAXED) == 0) {
				view_write(&c->v[i], &val);
				goto out;
			}
		}
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		lib_log(fs, "libdaxfs: out of memory: SIGBUS on grant %llu will not be reported",
			(unsigned long long)grant);
		goto out;
	}
	view_write(&c->v[0], &val);
	__atomic_store_n(tail, c, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&views_lock);
}

/* views_clear - free the records of mapping @m, or of every mapping of handle @hi (m NULL). */
static void views_clear(struct daxfs_map *m, int hi)
{
	static const struct sb_view none;

	for (struct sb_chunk *c = chunks; c; c = c->next) {
		for (unsigned i = 0; i < VIEWS_PER_CHUNK; i++) {
			struct sb_view *v = &c->v[i];

			if (__atomic_load_n(&v->hi, __ATOMIC_RELAXED) == 0)
				continue;
			if (m ? __atomic_load_n(&v->map, __ATOMIC_RELAXED) == m
			      : (int)__atomic_load_n(&v->handle, __ATOMIC_RELAXED) == hi)
				view_write(v, &none);
		}
	}
}

void lib_sigbus_view_del(struct daxfs_map *m)
{
	pthread_mutex_lock(&views_lock);
	views_clear(m, -1);
	pthread_mutex_unlock(&views_lock);
}

void lib_sigbus_close(struct daxfs *fs)
{
	struct sb_handle *h;
	int hi;

	pthread_mutex_lock(&views_lock);
	hi = handle_index(fs);
	if (hi < 0) {
		pthread_mutex_unlock(&views_lock);
		return;
	}
	h = &handles[hi];
	views_clear(NULL, hi);
	__atomic_store_n(&h->fs, NULL, __ATOMIC_RELEASE);
	/* A handler that took the entry before may still send on the socket: let it finish. */
	for (int i = 0; i < CLOSE_WAIT_ROUNDS && __atomic_load_n(&h->users, __ATOMIC_ACQUIRE); i++)
		sched_yield();
	__atomic_store_n(&h->fn, NULL, __ATOMIC_RELAXED);
	__atomic_store_n(&h->sock, -1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&views_lock);
}

int daxfs_sigbus_install(struct daxfs *fs, daxfs_sigbus_fn fn, void *ctx)
{
	struct sigaction sa;
	struct sb_handle *h;
	int hi, ret = 0;

	if (!fs)
		return lib_err(-EINVAL, "daxfs_sigbus_install: no handle");
	pthread_mutex_lock(&views_lock);
	hi = handle_index(fs);
	if (hi < 0) {
		for (hi = 0; hi < HANDLES_MAX; hi++) {
			if (!__atomic_load_n(&handles[hi].fs, __ATOMIC_RELAXED) &&
			    !__atomic_load_n(&handles[hi].users, __ATOMIC_ACQUIRE))
				break;
		}
		if (hi == HANDLES_MAX) {
			ret = lib_err(-ENOSPC, "daxfs_sigbus_install: more than %d handles",
				      HANDLES_MAX);
			goto out;
		}
	}
	if (!installed) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = handler;
		sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGBUS, &sa, &old_action) < 0) {
			ret = lib_err(-errno, "daxfs_sigbus_install: sigaction: %s",
				      strerror(errno));
			goto out;
		}
		installed = true;
	}
	h = &handles[hi];
	__atomic_store_n(&h->fn, fn, __ATOMIC_RELAXED);
	__atomic_store_n(&h->ctx, ctx, __ATOMIC_RELAXED);
	__atomic_store_n(&h->sock, fs->sock, __ATOMIC_RELAXED);
	__atomic_store_n(&h->fs, fs, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&views_lock);
	return ret;
}
