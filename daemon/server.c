// SPDX-License-Identifier: MIT
/*
 * The event loop: accept, read and decode requests, dispatch them, and shut down.
 *
 * Threads: the loop thread owns the listening socket, every session's libevent events and
 * the session lists; it answers HELLO and takes ACKs itself (both are quick and never
 * wait). Everything else runs on a worker, which holds a reference on the session and
 * sends the reply itself (sess_send: non-blocking, the outbox takes the rest).
 *
 * Parked requests: a request the engine cannot finish without waiting (another request's
 * inode lock, mappers acknowledging a lease break) comes back from ops_run() parked, and the
 * worker moves on. The engine wakes the request's context when it may go on, and a timer
 * fires at its deadline (a lease-break timeout); either one queues it for a worker again,
 * which runs it from the start. No worker ever waits for a client.
 *
 * Limits (docs/man/daxfsd.8, "Limits"): sessions per uid and in all, with the last eighth
 * kept for root and the daemon's user; a connection over a limit has its HELLO answered
 * with the reason, then is closed. HELLO within HELLO_TIMEOUT. Reading a session's
 * requests pauses while what it holds reaches SESS_QUEUE_MAX (session.h). POISON_REPORT at
 * most REPORTS_PER_SEC per session.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <systemd/sd-daemon.h>

#include "fault.h"
#include "lease.h"
#include "log.h"
#include "metrics.h"
#include "namespace.h"
#include "ops.h"
#include "poison.h"
#include "region.h"
#include "rings.h"
#include "server.h"
#include "session.h"
#include "util.h"
#include "wire.h"
#include "worker.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5 */
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* Linux 5.3 */
#endif

#define READ_BATCH 32	/* packets read per wakeup of one session, for fairness */
#define ACCEPT_BATCH 64 /* connections accepted per wakeup */
#define RECV_FDS_MAX 16 /* room for fds a hostile client sends, all closed */
#define RATELOG_NS (10ULL * 1000 * 1000 * 1000) /* one line per kind per 10 s */
#define HELLO_TIMEOUT_S 5			/* HELLO must come this soon after connect */
#define REFUSING_MAX 64	   /* connections over a limit kept until their HELLO is answered */
#define REPORTS_PER_SEC 16 /* POISON_REPORTs taken per session per second */

/* A log line that says "N times" at most once per RATELOG_NS. */
struct ratelog {
	uint64_t count, at;
};

/* Counted sessions of one uid. */
struct uid_sessions {
	uint32_t uid, n;
};

struct srv {
	struct ns *ns;
	struct event_base *base;
	struct srv_opts opts;
	char *socket_path;
	dev_t sock_dev;
	ino_t sock_ino;
	bool activated; /* the socket was handed over: its file is systemd's */
	int lfd;
	struct event *ev_listen, *ev_accept_retry;
	struct event *ev_term, *ev_int, *ev_drain;
	struct wq *wq;
	struct rings *rings; /* the threads that serve the sessions' rings */

	/* Loop thread only. */
	struct sess *sessions; /* connected */
	struct sess *reaping;  /* dropped, waiting for their process to exit */
	unsigned nsessions;
	uint64_t next_id;
	bool finished;
	bool pidfd_warned;
	uint64_t active_at;	   /* mono_ns of the last packet or connection */
	struct uid_sessions *uids; /* sorted by uid: the counted sessions of each */
	size_t nuids, capuids;
	unsigned nrefusing;		/* connections over a limit, waiting for their HELLO */
	const struct timeval *hello_tv; /* HELLO_TIMEOUT_S, a common timeout of the base */
	struct ratelog log_refused, log_hello, log_reports, log_first;
	uint8_t *rbuf; /* WIRE_MSG_MAX + 1 bytes, 8-aligned: one packet in */
	uint8_t *lbuf; /* WIRE_MSG_MAX: the loop's own replies */

	bool stopping; /* atomic */
	uint64_t busy; /* atomic: requests queued or running on workers */
};

/*
 * Where a request stands (struct work.state). Who owns it: the worker in QUEUED (and WOKEN
 * reached from QUEUED), nobody in PARKED, the timer in CLAIMED (and WOKEN reached from
 * CLAIMED). The engine's wake and the deadline timer move it out of PARKED; whoever does
 * requeues it, once.
 */
enum work_state {
	WORK_QUEUED,  /* on the work queue, or being run by a worker */
	WORK_PARKED,  /* waiting for its context to be woken, or for its deadline */
	WORK_CLAIMED, /* its deadline passed: the timer takes it off the engine's queue */
	WORK_WOKEN,   /* woken while its worker or its timer had it: run it again */
};

/* A request handed to a worker: the packet, copied, and its decoded view into the copy. */
struct work {
	struct wq_item item;
	struct srv *srv;
	struct sess *s;	     /* referenced */
	struct ns_ctx ctx;   /* the engine call's context: the session's credentials */
	struct event *timer; /* the deadline of a parked request; made the first time */
	uint32_t state;	     /* atomic: enum work_state */
	uint64_t start_ns;   /* when the loop read it (metrics) */
	uint64_t reserve;    /* bytes reserved on the session (sess_reserve) */
	int slot;	     /* the ring slot it came in and is answered in; -1: the socket */
	struct wire_req req;
	uint64_t buf[]; /* the packet, 8-aligned */
};

/* ratelog_due - count one; Return: true when a line is due now (the count is in ->count). */
static bool ratelog_due(struct ratelog *l)
{
	uint64_t now = mono_ns();

	l->count++;
	if (l->at && now - l->at < RATELOG_NS)
		return false;
	l->at = now;
	return true;
}

/* --- sessions per uid (loop thread) --- */

/* uid_find - the slot of @uid in srv->uids, or where it would go. */
static size_t uid_find(const struct srv *srv, uint32_t uid)
{
	size_t lo = 0, hi = srv->nuids;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (srv->uids[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint32_t uid_sessions(const struct srv *srv, uint32_t uid)
{
	size_t i = uid_find(srv, uid);

	return i < srv->nuids && srv->uids[i].uid == uid ? srv->uids[i].n : 0;
}

/* uid_add - one more session of @uid. Return: 0; -ENOMEM. */
static int uid_add(struct srv *srv, uint32_t uid)
{
	size_t i = uid_find(srv, uid);

	if (i < srv->nuids && srv->uids[i].uid == uid) {
		srv->uids[i].n++;
		return 0;
	}
	if (srv->nuids == srv->capuids) {
		size_t cap = srv->capuids ? srv->capuids * 2 : 16;
		struct uid_sessions *v = realloc(srv->uids, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		srv->uids = v;
		srv->capuids = cap;
	}
	memmove(&srv->uids[i + 1], &srv->uids[i], (srv->nuids - i) * sizeof(*srv->uids));
	srv->uids[i] = (struct uid_sessions){uid, 1};
	srv->nuids++;
	return 0;
}

static void uid_del(struct srv *srv, uint32_t uid)
{
	size_t i = uid_find(srv, uid);

	if (i >= srv->nuids || srv->uids[i].uid != uid)
		return;
	if (--srv->uids[i].n == 0) {
		memmove(&srv->uids[i], &srv->uids[i + 1],
			(srv->nuids - i - 1) * sizeof(*srv->uids));
		srv->nuids--;
	}
}

/*
 * over_limit - may a client with @c have one more session? Root and the daemon's user may
 * use every slot; any other uid at most max_sessions_per_user, and all of them together
 * not the last eighth of max_sessions (so that an admin can always get in).
 * Return: 0; -EUSERS (this uid's limit) or -EAGAIN (all slots) with *@why for the log.
 */
static int over_limit(const struct srv *srv, const struct cred *c, const char **why)
{
	unsigned max = srv->opts.max_sessions;

	if (perm_is_admin(c)) {
		*why = "max_sessions reached";
		return srv->nsessions >= max ? -EAGAIN : 0;
	}
	if (uid_sessions(srv, c->uid) >= srv->opts.max_sessions_per_user) {
		*why = "its uid has max_sessions_per_user sessions";
		return -EUSERS;
	}
	*why = "max_sessions reached (the rest are kept for root and the daemon's user)";
	return srv->nsessions >= max - max / 8 ? -EAGAIN : 0;
}

/* --- session lists (loop thread) --- */

static void list_add(struct sess **head, struct sess *s)
{
	s->prev = NULL;
	s->next = *head;
	if (*head)
		(*head)->prev = s;
	*head = s;
}

static void list_del(struct sess **head, struct sess *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		*head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
}

/* --- replies from the loop --- */

static void reply_error(struct srv *srv, struct sess *s, const struct wire_hdr *hdr, int err)
{
	size_t len = ops_error_reply(srv->lbuf, hdr, err);

	if (len)
		sess_send(s, srv->lbuf, len, -1);
	metrics_request(hdr->op, err, srv->active_at);
}

/* --- grants of sessions that are gone --- */

/*
 * release_grants - delete grants @v. With @keep (the daemon stops while their process may
 * still run) the blocks held for them stay recorded for the next mount (ns_grant_abandon).
 */
static void release_grants(struct srv *srv, struct sess_grant **v, size_t n, bool keep)
{
	for (size_t i = 0; i < n; i++) {
		struct ns_grant *g = __atomic_load_n(&v[i]->g, __ATOMIC_ACQUIRE);

		if (keep)
			ns_grant_abandon(srv->ns, &g);
		else
			ns_grant_delete(srv->ns, &g);
		sess_grant_free(v[i]);
	}
}

/*
 * reap_release - delete the grants a dropped client kept, and forget its process; @keep:
 * it may still run (shutdown).
 */
static void reap_release(struct srv *srv, struct sess *s, bool keep)
{
	list_del(&srv->reaping, s);
	release_grants(srv, s->reap, s->nreap, keep);
	free(s->reap);
	s->reap = NULL;
	s->nreap = 0;
	event_free(s->ev_pid);
	s->ev_pid = NULL;
	close(s->pidfd);
	s->pidfd = -1;
	sess_unref(s);
}

/* on_pid_exit - the process of a dropped client exited: nothing can touch its blocks now. */
static void on_pid_exit(evutil_socket_t fd, short what, void *arg)
{
	struct sess *s = arg;

	(void)fd;
	(void)what;
	log_info("session %" PRIu64 ": pid %d exited; releasing its %zu grants", s->id,
		 (int)s->cred.pid, s->nreap);
	reap_release(s->srv, s, false);
}

/*
 * disconnect - the client is gone (or dropped): close its socket and deal with its grants.
 * A client that closed its end let go of its mappings: its grants are acked (so no lease
 * break waits for it) and deleted now. A client the daemon dropped may still run and touch
 * what it maps: its grants stay (their blocks out of use) until its process exits.
 * Context: the loop thread. The session may be freed on return.
 */
static void disconnect(struct srv *srv, struct sess *s)
{
	struct sess_grant **v = NULL;
	bool dropped;
	size_t n;

	event_free(s->ev_read);
	s->ev_read = NULL;
	ring_detach(s);
	if (s->ev_hello)
		event_free(s->ev_hello);
	s->ev_hello = NULL;
	sess_close(s);
	/* No worker arms it any more: sess_close marked the session closed. */
	event_free(s->ev_write);
	s->ev_write = NULL;
	list_del(&srv->sessions, s);
	if (s->counted) {
		srv->nsessions--;
		uid_del(srv, s->cred.uid);
		metrics_session(-1);
	} else {
		srv->nrefusing--;
	}

	n = sess_grants_close(s, &v);
	dropped = __atomic_load_n(&s->dropped, __ATOMIC_SEQ_CST);
	if (!dropped) {
		for (size_t i = 0; i < n; i++)
			ns_grant_ack(srv->ns, __atomic_load_n(&v[i]->g, __ATOMIC_ACQUIRE),
				     UINT64_MAX);
		/* A lease break may have expired it just before the acks: look again. */
		dropped = __atomic_load_n(&s->dropped, __ATOMIC_SEQ_CST);
	}
	if (n && dropped && s->pidfd >= 0 && !srv->finished) {
		s->ev_pid = event_new(srv->base, s->pidfd, EV_READ, on_pid_exit, s);
		if (s->ev_pid && event_add(s->ev_pid, NULL) == 0) {
			s->reap = v;
			s->nreap = n;
			list_add(&srv->reaping, s);
			log_info("session %" PRIu64 ": its %zu grants stay until pid %d exits",
				 s->id, n, (int)s->cred.pid);
			return; /* the loop's reference goes with the reaping */
		}
		if (s->ev_pid)
			event_free(s->ev_pid);
		s->ev_pid = NULL;
		log_warn("session %" PRIu64 ": cannot watch pid %d; releasing its %zu grants now",
			 s->id, (int)s->cred.pid, n);
	} else if (n && dropped && !srv->finished) {
		log_warn("session %" PRIu64 ": no pidfd for pid %d (kernel before 5.3, or another "
			 "pid namespace); releasing the grants of a dropped client at disconnect",
			 s->id, (int)s->cred.pid);
	} else if (n && dropped) {
		log_notice("session %" PRIu64 ": pid %d of a dropped client may still run: the "
			   "blocks held for its %zu grants stay held after the restart",
			   s->id, (int)s->cred.pid, n);
	}
	release_grants(srv, v, n, dropped && srv->finished);
	free(v);
	if (s->pidfd >= 0)
		close(s->pidfd);
	s->pidfd = -1;
	log_info("session %" PRIu64 ": disconnected", s->id);
	sess_unref(s);
}

/* drop - the daemon ends the session (a protocol violation): log why, disconnect. */
static void drop(struct srv *srv, struct sess *s, const char *why)
{
	sess_shutdown(s, why);
	disconnect(srv, s);
}

/*
 * close_early - a connection that did not begin a session (its first message was not a
 * HELLO it can be answered): closed; one line per 10 s counts them, so that a flood of
 * such connections cannot flood the log. It has no grants to keep.
 */
static void close_early(struct srv *srv, struct sess *s, const char *why)
{
	if (ratelog_due(&srv->log_first)) {
		log_notice("closed %" PRIu64 " connection%s before a session began (the last: "
			   "pid %d, uid %u: %s)",
			   srv->log_first.count, srv->log_first.count == 1 ? "" : "s",
			   (int)s->cred.pid, s->cred.uid, why);
		srv->log_first.count = 0;
	}
	disconnect(srv, s);
}

/* --- requests --- */

/* quiet - a reply the client does not want: a POISON_REPORT that was taken (as ACK). */
static bool quiet(const void *buf, size_t len, unsigned op)
{
	struct wire_reply r;

	if (op != WIRE_POISON_REPORT || len < sizeof(struct wire_hdr) + sizeof(r))
		return false;
	memcpy(&r, (const uint8_t *)buf + sizeof(struct wire_hdr), sizeof(r));
	return r.status == 0;
}

/*
 * run_request - the reply to @req in @buf, or 0 when it parked. A failed region
 * (region_failed: its file shrank under us, or a fault hit metadata) is no longer served:
 * everything but UNMAP (which touches no region memory and lets the client let go) is
 * answered EIO, also a request during which it failed, whose effect may not have reached
 * the region.
 * Context: a worker, no engine lock held.
 */
static size_t run_request(struct srv *srv, struct work *w, void *buf, int *fd, bool *own)
{
	struct region *r = ns_region(srv->ns);
	const struct wire_req *req = &w->req;
	bool served = req->hdr.op != WIRE_UNMAP;
	size_t len;

	*fd = -1;
	*own = false;
	if (served && region_failed(r, NULL))
		return ops_error_reply(buf, &req->hdr, -EIO);
	len = ops_run(w->s, req, &w->ctx, buf, fd, own);
	/* A copy that hit a media error queued it: quarantine it now that no lock is held. */
	poison_drain(srv->ns);
	if (len && served && region_failed(r, NULL)) {
		if (*own)
			close(*fd);
		*fd = -1;
		*own = false;
		len = ops_error_reply(buf, &req->hdr, -EIO);
	}
	return len;
}

/* requeue - hand a parked request back to the workers. */
static void requeue(struct work *w)
{
	wq_push(w->srv->wq, &w->item);
}

/*
 * on_wake - the engine woke a request's context (any thread, perhaps under engine locks:
 * only queue it). A request its worker or its timer has is marked to run again.
 */
static void on_wake(struct ns_waiter *waiter)
{
	struct work *w = caa_container_of(waiter, struct work, ctx.waiter);
	uint32_t st = __atomic_load_n(&w->state, __ATOMIC_ACQUIRE);

	for (;;) {
		uint32_t to = st == WORK_PARKED ? WORK_QUEUED : WORK_WOKEN;

		if (st == WORK_WOKEN)
			return;
		if (__atomic_compare_exchange_n(&w->state, &st, to, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			break;
	}
	if (st == WORK_PARKED)
		requeue(w);
}

/*
 * on_deadline - a parked request's deadline (a lease break's timeout): run it again. It
 * takes the request off the engine's queue first; if a wake took it off already, that wake's
 * callback requeues it.
 */
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct work *w = arg;
	uint32_t st = __atomic_load_n(&w->state, __ATOMIC_ACQUIRE);

	(void)fd;
	(void)what;
	for (;;) {
		if (st == WORK_PARKED &&
		    __atomic_compare_exchange_n(&w->state, &st, WORK_CLAIMED, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			break;
		/* Its worker still has it (about to park): run it again instead. */
		if (st == WORK_QUEUED &&
		    __atomic_compare_exchange_n(&w->state, &st, WORK_WOKEN, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return;
		if (st != WORK_PARKED && st != WORK_QUEUED)
			return;
	}
	if (!ns_ctx_cancel(w->srv->ns, &w->ctx)) {
		/* A wake took it off the queue: its callback requeues it, unless it came already. */
		st = WORK_CLAIMED;
		if (__atomic_compare_exchange_n(&w->state, &st, WORK_PARKED, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return;
	}
	__atomic_store_n(&w->state, WORK_QUEUED, __ATOMIC_RELEASE);
	requeue(w);
}

/*
 * park - the request parked in the engine: arm its deadline and let the worker go, unless it
 * was woken meanwhile. Return: true when parked (the worker must not touch it any more);
 * false: run it again now.
 */
static bool park(struct srv *srv, struct work *w)
{
	uint32_t st = WORK_QUEUED;

	if (w->ctx.deadline) {
		uint64_t now = mono_ns(), at = w->ctx.deadline;
		struct timeval tv;

		/* Past the deadline already: the run that expires the holders is the next one. */
		if (at <= now && ns_ctx_cancel(srv->ns, &w->ctx))
			return false;
		tv = (struct timeval){(time_t)((at - MIN(at, now)) / 1000000000ULL),
				      (suseconds_t)((at - MIN(at, now)) % 1000000000ULL / 1000)};
		if (!w->timer)
			w->timer = evtimer_new(srv->base, on_deadline, w);
		if ((!w->timer || evtimer_add(w->timer, &tv) < 0) &&
		    ns_ctx_cancel(srv->ns, &w->ctx))
			return false; /* no timer: do not park what only the deadline would wake */
	}
	if (__atomic_compare_exchange_n(&w->state, &st, WORK_PARKED, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		return true;
	/* Woken while we were on it: go on at once. */
	__atomic_store_n(&w->state, WORK_QUEUED, __ATOMIC_RELEASE);
	return false;
}

static void work_free(struct srv *srv, struct work *w)
{
	struct sess *s = w->s;

	if (w->timer)
		event_free(w->timer);
	ns_ctx_release(srv->ns, &w->ctx);
	/* Answered: the client may send another one; the reply is sent or counted queued. */
	__atomic_sub_fetch(&s->inflight, 1, __ATOMIC_RELEASE);
	sess_unreserve(s, w->reserve);
	free(w);
	sess_unref(s);
	if (__atomic_sub_fetch(&srv->busy, 1, __ATOMIC_SEQ_CST) == 0 &&
	    __atomic_load_n(&srv->stopping, __ATOMIC_SEQ_CST))
		event_active(srv->ev_drain, EV_READ, 0);
}

/*
 * ring_send - answer in the ring; the fault point "send" applies as to a reply on the socket
 * (a delay waits; a failure is a lost peer: the session is dropped, the reply not written).
 */
static void ring_send(struct sess *s, unsigned slot, uint64_t id, const void *buf, size_t len)
{
	if (!__atomic_load_n(&s->injector, __ATOMIC_RELAXED) && fault_at(FAULT_SEND) < 0) {
		sess_shutdown(s, "injected send failure");
		return;
	}
	ring_reply(s, slot, id, buf, len);
}

/*
 * run_work - run @w until it is answered or parked; answer it in its ring slot or on the
 * socket. Context: a worker or a ring thread; @buf is its reply buffer.
 */
static void run_work(struct srv *srv, struct work *w, void *buf)
{
	bool own;
	size_t len;
	int fd;

	do
		len = run_request(srv, w, buf, &fd, &own);
	while (len == 0 && !park(srv, w));
	if (len == 0)
		return; /* parked: on_wake or on_deadline queues it again */
	if (w->slot >= 0) {
		/* srv_ring_request let no op through whose reply carries an fd or is too large. */
		if (fd >= 0 || len > RING_MSG_MAX)
			len = ops_error_reply(buf, &w->req.hdr, -EPROTO);
		ring_send(w->s, (unsigned)w->slot, w->req.hdr.id, buf, len);
	} else if (!quiet(buf, len, w->req.hdr.op)) {
		sess_send(w->s, buf, len, fd);
	}
	metrics_reply(&w->req, buf, len, w->start_ns);
	if (own)
		close(fd);
	work_free(srv, w);
}

static void work_run(void *ctx, struct wq_item *it, void *buf)
{
	run_work(ctx, container_of_const(it, struct work, item), buf);
}

/* rebase - @p pointed into @msg; the same place in the copy @w holds. */
static const void *rebase(const void *msg, const struct work *w, const void *p)
{
	if (!p)
		return NULL;
	return (const uint8_t *)w->buf + ((const uint8_t *)p - (const uint8_t *)msg);
}

/*
 * work_new - a request of @s decoded from @msg (@len bytes) into @req, copied and counted
 * in flight (reserved on the session, referenced, busy). Return: the work; NULL (ENOMEM).
 */
static struct work *work_new(struct srv *srv, struct sess *s, const struct wire_req *req,
			     const void *msg, size_t len, int slot, uint64_t start_ns)
{
	size_t size = sizeof(struct work) + ALIGN_UP(len, (size_t)8);
	struct work *w = malloc(size);

	if (!w)
		return NULL;
	memcpy(w->buf, msg, len);
	w->srv = srv;
	w->timer = NULL;
	w->state = WORK_QUEUED;
	w->slot = slot;
	ns_ctx_init_async(&w->ctx, &s->cred.ns, on_wake);
	w->reserve = size + wire_reply_max(req);
	sess_reserve(s, w->reserve);
	w->req = *req;
	w->req.body = rebase(msg, w, req->body);
	w->req.path = rebase(msg, w, req->path);
	w->req.path2 = rebase(msg, w, req->path2);
	w->req.data = rebase(msg, w, req->data);
	w->s = s;
	w->start_ns = start_ns;
	sess_ref(s);
	__atomic_add_fetch(&s->inflight, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&srv->busy, 1, __ATOMIC_SEQ_CST);
	return w;
}

static void dispatch(struct srv *srv, struct sess *s, const struct wire_req *req, size_t len)
{
	struct work *w = work_new(srv, s, req, srv->rbuf, len, -1, srv->active_at);

	if (!w) {
		reply_error(srv, s, &req->hdr, -ENOMEM);
		return;
	}
	wq_push(srv->wq, &w->item);
}

/* ring_error - answer a ring request that is not run with @err in its slot. */
static void ring_error(struct sess *s, unsigned slot, const struct wire_hdr *hdr, int err,
		       void *buf, uint64_t start_ns)
{
	size_t len = ops_error_reply(buf, hdr, err);

	ring_send(s, slot, hdr->id, buf, len);
	metrics_request(hdr->op, err, start_ns);
}

/* ring_op_allowed - ops a ring carries: every op whose reply has no fd and fits a slot. */
static int ring_op_allowed(const struct wire_req *req)
{
	switch (req->hdr.op) {
	case WIRE_HELLO: /* the session has begun */
	case WIRE_MAP:	 /* its first reply carries the region fd */
	case WIRE_ACK:	 /* no reply: a slot would never come back */
	case WIRE_POISON_REPORT:
		return -EPROTO;
	default:
		return wire_reply_max(req) > RING_MSG_MAX ? -EMSGSIZE : 0;
	}
}

/*
 * ring_op_long - ops whose work has no bound set by the message: preallocation and holes
 * over any length, scrubs, fault injection (which may sleep on purpose), and starting or
 * stopping a FUSE mount; and a MAP_PERSIST of more than 1 MiB (a copy to the replica).
 */
static bool ring_op_long(const struct wire_req *req)
{
	switch (req->hdr.op) {
	case WIRE_MAP_PERSIST: {
		struct wire_map_persist p;

		memcpy(&p, req->body, sizeof(p));
		return p.len > (1u << 20);
	}
	case WIRE_FALLOCATE:
	case WIRE_SCRUB:
	case WIRE_SCRUB_RANGE:
	case WIRE_SCRUB_REPLICA:
	case WIRE_INJECT:
	case WIRE_MOUNT:
	case WIRE_UMOUNT:
	case WIRE_REPLICA_ADD:
	case WIRE_REPLICA_REMOVE:
		return true;
	default:
		return false;
	}
}

void srv_ring_request(struct srv *srv, struct sess *s, unsigned slot, const void *msg, size_t len,
		      void *buf)
{
	uint64_t start = mono_ns();
	struct wire_req req;
	struct work *w;
	int rc;

	memset(&req, 0, sizeof(req));
	memcpy(&req.hdr, msg, sizeof(req.hdr)); /* ring_take copies at least the header */
	rc = len ? wire_decode_request(msg, len, &req) : -EMSGSIZE;
	if (rc == 0)
		rc = ring_op_allowed(&req);
	if (rc == 0 && __atomic_load_n(&srv->stopping, __ATOMIC_SEQ_CST))
		rc = -ESHUTDOWN;
	if (rc == 0 && __atomic_load_n(&s->inflight, __ATOMIC_ACQUIRE) >= WIRE_INFLIGHT_MAX)
		rc = -EBUSY;
	if (rc) {
		log_dbg("session %" PRIu64 ": ring request %s refused: %s", s->id,
			wire_op_name(req.hdr.op), strerror(-rc));
		ring_error(s, slot, &req.hdr, rc, buf, start);
		return;
	}
	w = work_new(srv, s, &req, msg, len, (int)slot, start);
	if (!w) {
		ring_error(s, slot, &req.hdr, -ENOMEM, buf, start);
		return;
	}
	/*
	 * No handoff: this thread runs it to its end, unless it parks, or unless it may run
	 * long: then a worker does, and this thread goes on polling. A client rings only the
	 * doorbell of its session's home thread, so a home thread busy for a second would
	 * leave its other sessions waiting even while the other ring threads sleep.
	 */
	if (ring_op_long(&req)) {
		wq_push(srv->wq, &w->item);
		return;
	}
	run_work(srv, w, buf);
}

/*
 * report_allowed - at most REPORTS_PER_SEC poison reports per session and second: each
 * makes the daemon read the range (ops.c), and a real media error needs a handful.
 */
static bool report_allowed(struct srv *srv, struct sess *s)
{
	uint64_t now = mono_ns();

	if (now - s->report_window >= 1000000000ULL) {
		s->report_window = now;
		s->reports = 0;
	}
	if (s->reports < REPORTS_PER_SEC) {
		s->reports++;
		return true;
	}
	if (ratelog_due(&srv->log_reports)) {
		log_notice("refused %" PRIu64 " poison report%s over %d per second (the last: "
			   "session %" PRIu64 ", pid %d, uid %u)",
			   srv->log_reports.count, srv->log_reports.count == 1 ? "" : "s",
			   REPORTS_PER_SEC, s->id, (int)s->cred.pid, s->cred.uid);
		srv->log_reports.count = 0;
	}
	return false;
}

/* hello - Return: true when the session is gone (refused). */
static bool hello(struct srv *srv, struct sess *s, const struct wire_req *req)
{
	int fd, status, fds[2] = {-1, -1};
	size_t len = ops_hello(s, req, srv->lbuf, &fd, &status);
	char why[64];

	fds[0] = fd;
	/* A ring without its doorbell is no ring: the client then keeps to the socket. */
	if (status == 0 && s->ring_area && ring_attach(srv->rings, s, s->ring_area, &fds[1]))
		log_warn("session %" PRIu64 ": cannot set up its ring; it uses the socket", s->id);
	sess_send_fds(s, srv->lbuf, len, fds, fds[1] >= 0 ? 2 : (fd >= 0 ? 1 : 0));
	metrics_request(WIRE_HELLO, status, srv->active_at);
	if (fd >= 0)
		close(fd);
	if (fds[1] >= 0)
		close(fds[1]);
	if (status == 0) {
		s->hello = true;
		event_del(s->ev_hello);
		return false;
	}
	if (status == -EPROTO) {
		struct wire_hello h;

		memcpy(&h, req->body, sizeof(h));
		snprintf(why, sizeof(why), "speaks protocol version %u, not %u", h.version,
			 WIRE_VERSION);
	} else {
		snprintf(why, sizeof(why), "cannot set up its shared buffer: %s",
			 strerror(-status));
	}
	close_early(srv, s, why);
	return true;
}

/*
 * packet - one packet of @len bytes in srv->rbuf (@oversize: longer than WIRE_MSG_MAX,
 * @badfds: it came with fds or other control data, all closed by now).
 * Return: true when the session is gone.
 */
static bool packet(struct srv *srv, struct sess *s, size_t len, bool oversize, bool badfds)
{
	struct wire_req req;
	int rc;

	if (len < sizeof(struct wire_hdr)) {
		if (s->hello)
			drop(srv, s, "sent a message shorter than a header");
		else
			close_early(srv, s, "a first message shorter than a header");
		return true;
	}
	if (oversize || badfds) {
		memset(&req, 0, sizeof(req));
		memcpy(&req.hdr, srv->rbuf, sizeof(req.hdr));
		rc = oversize ? -EMSGSIZE : -EBADMSG;
	} else {
		rc = wire_decode_request(srv->rbuf, len, &req);
	}
	if (!s->hello && s->refuse) {
		/* Over a limit: its HELLO hears why (logged at accept); anything else, nothing. */
		if (rc == 0 && req.hdr.op == WIRE_HELLO)
			reply_error(srv, s, &req.hdr, s->refuse);
		disconnect(srv, s);
		return true;
	}
	if (!s->hello) {
		if (rc == 0 && req.hdr.op == WIRE_HELLO)
			return hello(srv, s, &req);
		reply_error(srv, s, &req.hdr, rc ? rc : -EPROTO);
		close_early(srv, s,
			    rc ? "its first message is malformed"
			       : "its first message is not HELLO");
		return true;
	}
	if (rc) {
		log_dbg("session %" PRIu64 ": bad %s request: %s", s->id, wire_op_name(req.hdr.op),
			strerror(-rc));
		reply_error(srv, s, &req.hdr, rc);
		return false;
	}
	switch (req.hdr.op) {
	case WIRE_HELLO:
		reply_error(srv, s, &req.hdr, -EPROTO);
		return false;
	case WIRE_ACK: {
		struct wire_ack a;

		memcpy(&a, req.body, sizeof(a));
		rc = sess_grant_ack(s, a.grant, a.generation);
		metrics_request(WIRE_ACK, rc, srv->active_at);
		if (rc)
			log_dbg("session %" PRIu64 ": ACK of unknown grant %" PRIu64, s->id,
				a.grant);
		return false;
	}
	default:
		break;
	}
	if (__atomic_load_n(&srv->stopping, __ATOMIC_SEQ_CST)) {
		reply_error(srv, s, &req.hdr, -ESHUTDOWN);
		return false;
	}
	/*
	 * A poison report is sent by the client's SIGBUS handler without taking one of its
	 * request slots: it may come on top of a full pipeline, and gets room of its own.
	 */
	if (__atomic_load_n(&s->inflight, __ATOMIC_ACQUIRE) >=
	    (req.hdr.op == WIRE_POISON_REPORT ? 2 : 1) * WIRE_INFLIGHT_MAX) {
		reply_error(srv, s, &req.hdr, -EBUSY);
		return false;
	}
	if (req.hdr.op == WIRE_POISON_REPORT && !report_allowed(srv, s)) {
		reply_error(srv, s, &req.hdr, -EAGAIN);
		return false;
	}
	dispatch(srv, s, &req, len);
	return false;
}

/* close_fds - close every fd that came in @msg. Return: whether any control data came. */
static bool close_fds(struct msghdr *msg)
{
	bool any = false;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		any = true;
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < n; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
				if (fd >= 0)
					close(fd);
			}
		}
	}
	return any;
}

/* read_one - Return: 1 a packet was handled; 0 nothing more to read; -1 the session is gone. */
static int read_one(struct srv *srv, struct sess *s, int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(RECV_FDS_MAX * sizeof(int))];
	} cm;
	struct iovec iov = {.iov_base = srv->rbuf, .iov_len = WIRE_MSG_MAX + 1};
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cm.buf,
		.msg_controllen = sizeof(cm.buf),
	};
	bool badfds;
	ssize_t n;

	do {
		n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno != ECONNRESET)
			log_info("session %" PRIu64 ": %s", s->id, strerror(errno));
		disconnect(srv, s);
		return -1;
	}
	badfds = close_fds(&msg) || (msg.msg_flags & MSG_CTRUNC);
	if (n == 0 && !badfds) {
		/* The end (an empty packet reads the same: either way, the session is over). */
		disconnect(srv, s);
		return -1;
	}
	return packet(srv, s, (size_t)n, (msg.msg_flags & MSG_TRUNC) || n > WIRE_MSG_MAX, badfds)
		       ? -1
		       : 1;
}

/* --- backpressure: a session that holds SESS_QUEUE_MAX is not read until it holds less --- */

/*
 * may_read - may the loop read @s's requests? While it holds less than SESS_QUEUE_MAX; and
 * always once its socket is shut down (the peer went, or the daemon dropped it): nothing is
 * sent on it any more, so what it holds never drains, and only reading it to its end ends
 * the session. What it still has queued costs little: every reply to it is dropped at once.
 */
static bool may_read(struct sess *s)
{
	return sess_queued(s) < SESS_QUEUE_MAX || sess_is_broken(s);
}

static void resume_reading(struct sess *s)
{
	__atomic_store_n(&s->paused, false, __ATOMIC_SEQ_CST);
	event_add(s->ev_read, NULL);
}

/*
 * pause_reading - stop reading @s. Whatever it holds makes room again later: a reply
 * sent (sess_unreserve kicks the write event when it sees paused) or the outbox drained
 * (the write event), or the socket is shut down (the write event of the outbox fires at
 * the hang-up): on_write reads again then. Looked at once more after paused is set, so an
 * unreserve that did not see it cannot be missed.
 */
static void pause_reading(struct sess *s)
{
	event_del(s->ev_read);
	__atomic_store_n(&s->paused, true, __ATOMIC_SEQ_CST);
	if (may_read(s))
		resume_reading(s);
	else
		log_dbg("session %" PRIu64 ": not read while it holds %" PRIu64 " bytes", s->id,
			sess_queued(s));
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct sess *s = arg;
	struct srv *srv = s->srv;

	(void)what;
	srv->active_at = mono_ns();
	for (int i = 0; i < READ_BATCH; i++) {
		if (!may_read(s)) {
			pause_reading(s);
			return;
		}
		if (read_one(srv, s, fd) <= 0)
			return;
	}
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct sess *s = arg;

	(void)fd;
	(void)what;
	sess_flush(s);
	/* Room again, or a shut down socket (read to its end: that ends the session). */
	if (__atomic_load_n(&s->paused, __ATOMIC_SEQ_CST) && may_read(s))
		resume_reading(s);
}

/* on_hello_timeout - a connection that said no HELLO in time is closed (one line per 10 s). */
static void on_hello_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct sess *s = arg;
	struct srv *srv = s->srv;

	(void)fd;
	(void)what;
	if (s->hello)
		return;
	if (!s->refuse && ratelog_due(&srv->log_hello)) {
		log_notice("closed %" PRIu64 " connection%s that sent no HELLO within %d s (the "
			   "last: pid %d, uid %u)",
			   srv->log_hello.count, srv->log_hello.count == 1 ? "" : "s",
			   HELLO_TIMEOUT_S, (int)s->cred.pid, s->cred.uid);
		srv->log_hello.count = 0;
	}
	disconnect(srv, s);
}

/* --- accepting --- */

/* peer_pidfd - a pidfd of the peer: SO_PEERPIDFD (no pid reuse race), else pidfd_open. */
static int peer_pidfd(int fd, pid_t pid)
{
	socklen_t len = sizeof(int);
	int pfd = -1;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pfd, &len) == 0 && pfd >= 0)
		return pfd;
	if (pid <= 0)
		return -ESRCH;
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	return pfd >= 0 ? pfd : -errno;
}

/* refused - one more connection refused for @why; one line per 10 s says how many. */
static void refused(struct srv *srv, const struct cred *c, const char *why)
{
	metrics_refused();
	if (!ratelog_due(&srv->log_refused))
		return;
	if (c)
		log_notice("refused %" PRIu64 " connection%s (the last: pid %d, uid %u: %s)",
			   srv->log_refused.count, srv->log_refused.count == 1 ? "" : "s",
			   (int)c->pid, c->uid, why);
	else
		log_notice("refused %" PRIu64 " connection%s (the last: %s)",
			   srv->log_refused.count, srv->log_refused.count == 1 ? "" : "s", why);
	srv->log_refused.count = 0;
}

/* session_events - the session's read, write and HELLO timeout events. Return: 0; -ENOMEM. */
static int session_events(struct srv *srv, struct sess *s, int fd)
{
	s->ev_read = event_new(srv->base, fd, EV_READ | EV_PERSIST, on_read, s);
	s->ev_write = event_new(srv->base, fd, EV_WRITE, on_write, s);
	s->ev_hello = evtimer_new(srv->base, on_hello_timeout, s);
	if (s->ev_read && s->ev_write && s->ev_hello && event_add(s->ev_read, NULL) == 0 &&
	    evtimer_add(s->ev_hello, srv->hello_tv) == 0)
		return 0;
	if (s->ev_read)
		event_free(s->ev_read);
	if (s->ev_write)
		event_free(s->ev_write);
	if (s->ev_hello)
		event_free(s->ev_hello);
	s->ev_read = s->ev_write = s->ev_hello = NULL;
	return -ENOMEM;
}

/*
 * new_session - a connection accepted. One over a limit is kept (at most REFUSING_MAX of
 * them) only to answer its HELLO with the reason; beyond that it is closed at once.
 */
static void new_session(struct srv *srv, int fd)
{
	enum perm_trust_level trust;
	const char *why = NULL;
	struct cred cred;
	struct sess *s;
	int rc, pfd, refuse;

	rc = perm_cred_from_socket(fd, &cred);
	if (rc) {
		log_warn("cannot read the credentials of a new client: %s; closing it",
			 strerror(-rc));
		close(fd);
		return;
	}
	refuse = over_limit(srv, &cred, &why);
	if (refuse)
		refused(srv, &cred, why);
	if ((refuse && srv->nrefusing >= REFUSING_MAX) || (!refuse && uid_add(srv, cred.uid))) {
		if (!refuse)
			refused(srv, &cred, "out of memory");
		perm_cred_release(&cred);
		close(fd);
		return;
	}
	trust = perm_trust_of(srv->opts.trust, &cred);
	rc = sess_new(&s, srv->ns, srv->base, ++srv->next_id, fd, &cred, trust);
	if (rc) {
		if (!refuse)
			uid_del(srv, cred.uid);
		refused(srv, &cred, "out of memory");
		perm_cred_release(&cred);
		close(fd);
		return;
	}
	s->srv = srv;
	s->refuse = refuse;
	s->counted = !refuse;
	if (!refuse) {
		pfd = peer_pidfd(fd, s->cred.pid);
		if (pfd >= 0) {
			s->pidfd = pfd;
		} else if (!srv->pidfd_warned) {
			srv->pidfd_warned = true;
			log_warn("no pidfd for client pid %d (%s): the grants of clients dropped "
				 "for not acking are released when they disconnect, not when they "
				 "exit",
				 (int)s->cred.pid, strerror(-pfd));
		}
	}
	if (session_events(srv, s, fd)) {
		if (!refuse)
			uid_del(srv, s->cred.uid);
		sess_close(s);
		if (s->pidfd >= 0)
			close(s->pidfd);
		s->pidfd = -1;
		refused(srv, &s->cred, "out of memory");
		sess_unref(s);
		return;
	}
	list_add(&srv->sessions, s);
	if (refuse) {
		srv->nrefusing++;
		return;
	}
	srv->nsessions++;
	metrics_session(1);
	log_info("session %" PRIu64 ": pid %d uid %u gid %u connected (map trust %s)", s->id,
		 (int)s->cred.pid, s->cred.uid, s->cred.gid, perm_trust_name(trust));
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct srv *srv = arg;

	(void)what;
	srv->active_at = mono_ns();
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* Out of fds or memory: pause accepting instead of spinning. */
			log_warn("cannot accept a connection: %s; pausing for 100 ms",
				 strerror(errno));
			struct timeval pause = {0, 100 * 1000};

			event_del(srv->ev_listen);
			evtimer_add(srv->ev_accept_retry, &pause);
			return;
		}
		new_session(srv, fd);
	}
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
	struct srv *srv = arg;

	(void)fd;
	(void)what;
	if (srv->ev_listen)
		event_add(srv->ev_listen, NULL);
}

/* --- the socket --- */

static int mkdir_parents(const char *path)
{
	char *dir = strdup(path);
	int rc = 0;

	if (!dir)
		return -ENOMEM;
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			rc = -errno;
			log_err("cannot create the socket directory %s: %s", dir, strerror(errno));
			break;
		}
		*p = '/';
	}
	free(dir);
	return rc;
}

/* probe - is a server answering at @sa? Return: 0 yes; -ECONNREFUSED stale; -errno. */
static int probe(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
		rc = errno == EAGAIN ? 0 : -errno; /* EAGAIN: a full backlog, so a live one */
	close(fd);
	return rc;
}

static int bind_socket(struct srv *srv)
{
	const char *path = srv->opts.socket_path;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("socket path %s is too long (%zu bytes; at most %zu)", path, strlen(path),
			sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	rc = mkdir_parents(path);
	if (rc)
		return rc;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		log_err("cannot create a socket: %s", strerror(errno));
		return rc;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EADDRINUSE) {
			rc = -errno;
			log_err("cannot bind %s: %s", path, strerror(errno));
			goto err_close;
		}
		if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			log_err("%s exists and is not a socket; not replacing it", path);
			rc = -EEXIST;
			goto err_close;
		}
		rc = probe(&sa);
		if (rc == 0) {
			log_err("another server is listening on %s (is daxfsd already running?)",
				path);
			rc = -EADDRINUSE;
			goto err_close;
		}
		if (rc != -ECONNREFUSED && rc != -ENOENT) {
			log_err("%s is in use (%s); not replacing it", path, strerror(-rc));
			rc = -EADDRINUSE;
			goto err_close;
		}
		/* Nobody listens: a stale file of a daemon that did not clean up. */
		if (unlink(path) < 0 && errno != ENOENT) {
			rc = -errno;
			log_err("cannot remove the stale socket %s: %s", path, strerror(errno));
			goto err_close;
		}
		log_notice("removed the stale socket %s", path);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			rc = -errno;
			log_err("cannot bind %s: %s", path, strerror(errno));
			goto err_close;
		}
	}
	if (chmod(path, srv->opts.socket_mode) < 0 || stat(path, &st) < 0) {
		rc = -errno;
		log_err("cannot set the mode of %s: %s", path, strerror(errno));
		goto err_unlink;
	}
	if (srv->opts.socket_gid >= 0 && chown(path, (uid_t)-1, (gid_t)srv->opts.socket_gid) < 0) {
		rc = -errno;
		log_err("cannot set the group of %s to %d: %s", path, srv->opts.socket_gid,
			strerror(errno));
		goto err_unlink;
	}
	srv->sock_dev = st.st_dev;
	srv->sock_ino = st.st_ino;
	if (listen(fd, SOMAXCONN) < 0) {
		rc = -errno;
		log_err("cannot listen on %s: %s", path, strerror(errno));
		goto err_unlink;
	}
	srv->lfd = fd;
	return 0;

err_unlink:
	unlink(path);
err_close:
	close(fd);
	return rc;
}

/* stop_listening - close the listening socket and remove its file (if still ours). */
static void stop_listening(struct srv *srv)
{
	struct stat st;

	if (srv->ev_listen) {
		event_free(srv->ev_listen);
		srv->ev_listen = NULL;
	}
	if (srv->lfd < 0)
		return;
	close(srv->lfd);
	srv->lfd = -1;
	if (!srv->activated && stat(srv->socket_path, &st) == 0 && st.st_dev == srv->sock_dev &&
	    st.st_ino == srv->sock_ino)
		unlink(srv->socket_path);
}

/* --- shutting down --- */

/* finish - everything in flight is answered: close every session, leave the loop. */
static void finish(struct srv *srv)
{
	if (srv->finished)
		return;
	srv->finished = true;
	while (srv->sessions) {
		struct sess *s = srv->sessions;

		/* Whatever replies still wait for room get one last chance. */
		sess_flush(s);
		disconnect(srv, s);
	}
	while (srv->reaping) {
		struct sess *s = srv->reaping;

		log_notice("session %" PRIu64 ": pid %d of a dropped client may still run: the "
			   "blocks held for its %zu grants stay held after the restart",
			   s->id, (int)s->cred.pid, s->nreap);
		reap_release(srv, s, true);
	}
	event_base_loopbreak(srv->base);
}

static void on_drain(evutil_socket_t fd, short what, void *arg)
{
	struct srv *srv = arg;

	(void)fd;
	(void)what;
	if (__atomic_load_n(&srv->busy, __ATOMIC_SEQ_CST) == 0)
		finish(srv);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct srv *srv = arg;
	uint64_t busy = __atomic_load_n(&srv->busy, __ATOMIC_SEQ_CST);

	(void)what;
	if (__atomic_load_n(&srv->stopping, __ATOMIC_SEQ_CST)) {
		log_notice("%s again: still finishing %" PRIu64 " requests", strsignal((int)sig),
			   busy);
		return;
	}
	log_notice("%s: shutting down (%u sessions, %" PRIu64 " requests in flight)",
		   strsignal((int)sig), srv->nsessions, busy);
	sd_notifyf(0, "STOPPING=1\nSTATUS=Shutting down: finishing %" PRIu64 " requests", busy);
	stop_listening(srv);
	__atomic_store_n(&srv->stopping, true, __ATOMIC_SEQ_CST);
	/* A worker that finishes the last request after this sees stopping and wakes us. */
	if (__atomic_load_n(&srv->busy, __ATOMIC_SEQ_CST) == 0)
		finish(srv);
}

/* --- the object --- */

int srv_new(struct srv **out, struct ns *ns, const struct srv_opts *o)
{
	struct srv *srv;
	int rc = -ENOMEM;

	*out = NULL;
	if (evthread_use_pthreads() < 0) {
		log_err("libevent has no pthreads support");
		return -ENOSYS;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->ns = ns;
	srv->opts = *o;
	srv->lfd = -1;
	srv->socket_path = strdup(o->socket_path);
	srv->rbuf = aligned_alloc(8, WIRE_MSG_MAX + 8);
	srv->lbuf = aligned_alloc(8, WIRE_MSG_MAX);
	srv->base = event_base_new();
	if (!srv->socket_path || !srv->rbuf || !srv->lbuf || !srv->base)
		goto err;
	srv->opts.socket_path = srv->socket_path;
	if (o->listen_fd >= 0) {
		srv->lfd = o->listen_fd;
		srv->activated = true;
		rc = evutil_make_socket_nonblocking(srv->lfd) < 0 ? -EIO : 0;
	} else {
		rc = bind_socket(srv);
	}
	if (rc)
		goto err;
	rc = -ENOMEM;
	srv->ev_listen = event_new(srv->base, srv->lfd, EV_READ | EV_PERSIST, on_accept, srv);
	srv->ev_accept_retry = evtimer_new(srv->base, on_accept_retry, srv);
	srv->ev_term = evsignal_new(srv->base, SIGTERM, on_signal, srv);
	srv->ev_int = evsignal_new(srv->base, SIGINT, on_signal, srv);
	srv->ev_drain = event_new(srv->base, -1, 0, on_drain, srv);
	srv->hello_tv = event_base_init_common_timeout(srv->base,
						       &(const struct timeval){HELLO_TIMEOUT_S, 0});
	if (!srv->ev_listen || !srv->ev_accept_retry || !srv->ev_term || !srv->ev_int ||
	    !srv->ev_drain || !srv->hello_tv)
		goto err;
	if (event_add(srv->ev_listen, NULL) < 0 || event_add(srv->ev_term, NULL) < 0 ||
	    event_add(srv->ev_int, NULL) < 0)
		goto err;
	rc = wq_new(&srv->wq, o->workers, work_run, srv);
	if (rc)
		goto err;
	rc = rings_new(&srv->rings, srv, o->ring_threads, o->poll_ns);
	if (rc)
		goto err;
	*out = srv;
	return 0;

err:
	if (rc == -ENOMEM)
		log_err("cannot set up the server: out of memory");
	srv_delete(&srv);
	return rc;
}

struct event_base *srv_base(struct srv *srv)
{
	return srv->base;
}

const struct srv_mounter *srv_get_mounter(const struct srv *srv)
{
	return srv->opts.mounter;
}

int srv_run(struct srv *srv)
{
	while (!srv->finished) {
		/* Busy: look again at once. Idle for the whole budget: block until an event. */
		bool busy = srv->opts.poll_ns && mono_ns() - srv->active_at < srv->opts.poll_ns;

		if (event_base_loop(srv->base, busy ? EVLOOP_NONBLOCK : EVLOOP_ONCE) < 0) {
			log_err("the event loop failed");
			return -EIO;
		}
	}
	return 0;
}

void srv_delete(struct srv **srvp)
{
	struct srv *srv = *srvp;

	if (!srv)
		return;
	/* Ring threads and workers first: what they run answers sessions still open. */
	rings_stop(srv->rings);
	wq_delete(&srv->wq);
	stop_listening(srv);
	if (srv->base)
		finish(srv);
	if (srv->ev_accept_retry)
		event_free(srv->ev_accept_retry);
	if (srv->ev_term)
		event_free(srv->ev_term);
	if (srv->ev_int)
		event_free(srv->ev_int);
	if (srv->ev_drain)
		event_free(srv->ev_drain);
	if (srv->base)
		event_base_free(srv->base);
	rings_delete(&srv->rings);
	free(srv->rbuf);
	free(srv->lbuf);
	free(srv->uids);
	free(srv->socket_path);
	free(srv);
	*srvp = NULL;
}
