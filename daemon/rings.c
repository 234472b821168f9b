// SPDX-License-Identifier: MIT
/*
 * The ring threads: poll the sessions' submission rings, run what they take, sleep on the
 * doorbells when idle (ring.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <urcu/arch.h>

#include "log.h"
#include "rcu.h"
#include "rings.h"
#include "server.h"
#include "session.h"
#include "util.h"

#define RING_RECHECK_MS 1 /* a thread with a paused session sleeps at most this long */
#define EPOLL_BATCH 64
#define SPIN_PURE 64 /* polls before the poll loop yields the CPU between polls */

struct ring_thread {
	struct rings *rs;
	pthread_t th;
	bool started;
	int epfd;	/* the doorbells of the sessions whose home it is */
	int wakefd;	/* ours: rings_stop and the list changes wake the thread */
	unsigned nhome; /* atomic: sessions whose home it is */
	bool stop;	/* atomic */

	/* The thread's own. */
	struct sess **snap; /* every session with a ring, referenced */
	size_t nsnap;
	uint32_t snap_gen;
	void *rbuf; /* RING_MSG_MAX: a request copied out of its slot */
	void *obuf; /* WIRE_MSG_MAX: its reply */
};

/*
 * Every thread polls every ring (a session that keeps two threads busy gets both: four
 * threads pipelined on one handle are served in parallel); each session has one home thread,
 * which alone sleeps on its doorbell and sets its daemon_idle. Taking an entry is a
 * compare-and-swap on the ring's head (ring_take), so two threads never take the same one.
 */
struct rings {
	struct srv *srv;
	uint64_t poll_ns;
	unsigned n;
	struct ring_thread *t;

	pthread_mutex_t lock; /* the list; a leaf */
	struct sess **list;
	size_t nlist, cap;
	uint32_t gen; /* atomic: bumped on every change of the list */
};

static void wake_thread(struct ring_thread *t)
{
	uint64_t one = 1;

	if (write(t->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("cannot wake a ring thread: %s", strerror(errno));
}

/* resnap - take the list again: references on the sessions in it, the old ones dropped. */
static void resnap(struct ring_thread *t)
{
	struct rings *rs = t->rs;
	struct sess **v;
	uint32_t gen;
	size_t n;

	pthread_mutex_lock(&rs->lock);
	gen = __atomic_load_n(&rs->gen, __ATOMIC_ACQUIRE);
	n = rs->nlist;
	v = malloc(MAX(n, (size_t)1) * sizeof(*v));
	if (!v) {
		/* Keep serving the old snapshot; the next pass tries again. */
		pthread_mutex_unlock(&rs->lock);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		sess_ref(rs->list[i]);
		v[i] = rs->list[i];
	}
	pthread_mutex_unlock(&rs->lock);
	for (size_t i = 0; i < t->nsnap; i++)
		sess_unref(t->snap[i]);
	free(t->snap);
	t->snap = v;
	t->nsnap = n;
	t->snap_gen = gen;
}

/* serve - take and run what @s submitted. Return: requests taken; -1 when it is paused. */
static int serve(struct ring_thread *t, struct sess *s)
{
	struct sess_ring *r = s->ring;
	const char *why;
	int n = 0;

	while (n < RING_SLOTS && !__atomic_load_n(&r->detached, __ATOMIC_ACQUIRE)) {
		unsigned slot;
		size_t len;
		int rc;

		if (sess_queued(s) >= SESS_QUEUE_MAX)
			return n ? n : -1;
		rc = ring_take(&r->cur, r->area, t->rbuf, &slot, &len, &why);
		if (rc == RING_EMPTY)
			break;
		if (rc == RING_BAD) {
			__atomic_store_n(&r->detached, true, __ATOMIC_RELEASE);
			sess_shutdown(s, why);
			break;
		}
		srv_ring_request(t->rs->srv, s, slot, t->rbuf, len, t->obuf);
		n++;
	}
	return n;
}

/* pass - serve every ring once. Return: requests taken; *@paused: a session was not read. */
static int pass(struct ring_thread *t, bool *paused)
{
	int did = 0;

	*paused = false;
	for (size_t i = 0; i < t->nsnap; i++) {
		int n = serve(t, t->snap[i]);

		if (n < 0)
			*paused = true;
		else
			did += n;
	}
	return did;
}

/* set_idle - say to the clients whose home this thread is whether it may sleep. */
static void set_idle(struct ring_thread *t, uint32_t v)
{
	for (size_t i = 0; i < t->nsnap; i++) {
		struct sess_ring *r = t->snap[i]->ring;

		if (__atomic_load_n(&r->home, __ATOMIC_RELAXED) == t)
			__atomic_store_n(&ring_hdr_of(r->area)->daemon_idle, v, __ATOMIC_SEQ_CST);
	}
}

static void *thread_main(void *arg)
{
	struct ring_thread *t = arg;
	uint64_t poll_ns = t->rs->poll_ns, last = mono_ns();
	struct epoll_event ev[EPOLL_BATCH];
	unsigned spins = 0;
	bool paused;

	rcu_thread_online();
	for (;;) {
		if (__atomic_load_n(&t->rs->gen, __ATOMIC_ACQUIRE) != t->snap_gen)
			resnap(t);
		if (__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE))
			break;
		if (pass(t, &paused)) {
			last = mono_ns();
			spins = 0;
			continue;
		}
		if (poll_ns && mono_ns() - last < poll_ns) {
			/* After a few polls, yield between them: a client on this CPU may be next. */
			if (++spins > SPIN_PURE)
				sched_yield();
			else
				caa_cpu_relax();
			continue;
		}
		/* Idle: say so, look once more (a client that missed the flag rang), sleep. */
		set_idle(t, 1);
		if (pass(t, &paused) == 0 && !__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE) &&
		    __atomic_load_n(&t->rs->gen, __ATOMIC_ACQUIRE) == t->snap_gen) {
			int n = epoll_wait(t->epfd, ev, EPOLL_BATCH, paused ? RING_RECHECK_MS : -1);

			if (n < 0 && errno != EINTR) {
				log_err("ring thread: epoll_wait: %s", strerror(errno));
				set_idle(t, 0);
				usleep(1000);
			}
			for (int i = 0; i < n; i++) {
				uint64_t v;

				if (ev[i].data.ptr == t && read(t->wakefd, &v, sizeof(v)) < 0 &&
				    errno != EAGAIN)
					log_warn("ring thread: %s", strerror(errno));
			}
		}
		set_idle(t, 0);
		last = mono_ns();
	}
	for (size_t i = 0; i < t->nsnap; i++)
		sess_unref(t->snap[i]);
	t->nsnap = 0;
	rcu_thread_offline();
	return NULL;
}

static void thread_free(struct ring_thread *t)
{
	free(t->snap);
	free(t->rbuf);
	free(t->obuf);
	if (t->epfd >= 0)
		close(t->epfd);
	if (t->wakefd >= 0)
		close(t->wakefd);
}

int rings_new(struct rings **out, struct srv *srv, unsigned n, uint64_t poll_ns)
{
	sigset_t all, old;
	struct rings *rs;
	int rc = 0;

	*out = NULL;
	n = MAX(n, 1u);
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	rs->t = calloc(n, sizeof(*rs->t));
	if (!rs->t) {
		free(rs);
		return -ENOMEM;
	}
	rs->srv = srv;
	rs->poll_ns = poll_ns;
	rs->n = n;
	pthread_mutex_init(&rs->lock, NULL);
	for (unsigned i = 0; i < n; i++) {
		struct ring_thread *t = &rs->t[i];
		struct epoll_event e = {.events = EPOLLIN, .data.ptr = t};

		t->rs = rs;
		t->epfd = epoll_create1(EPOLL_CLOEXEC);
		t->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		t->rbuf = aligned_alloc(8, ALIGN_UP(RING_MSG_MAX, (size_t)8));
		t->obuf = aligned_alloc(8, WIRE_MSG_MAX);
		if (t->epfd < 0 || t->wakefd < 0) {
			rc = -errno;
			log_err("cannot set up a ring thread: %s", strerror(errno));
		} else if (!t->rbuf || !t->obuf) {
			rc = -ENOMEM;
			log_err("cannot set up a ring thread: out of memory");
		} else if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->wakefd, &e) < 0) {
			rc = -errno;
			log_err("cannot set up a ring thread: epoll_ctl: %s", strerror(errno));
		}
		if (rc) {
			rs->n = i + 1;
			rings_delete(&rs);
			return rc;
		}
	}
	/* As the workers: signals stay with the loop thread, SIGBUS with whoever faults. */
	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < n && !rc; i++) {
		int err = pthread_create(&rs->t[i].th, NULL, thread_main, &rs->t[i]);

		if (err) {
			log_err("cannot start ring thread %u: %s", i, strerror(err));
			rc = -err;
		} else {
			rs->t[i].started = true;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		rings_delete(&rs);
		return rc;
	}
	*out = rs;
	return 0;
}

void rings_stop(struct rings *rs)
{
	if (!rs)
		return;
	for (unsigned i = 0; i < rs->n; i++) {
		struct ring_thread *t = &rs->t[i];

		if (!t->started)
			continue;
		__atomic_store_n(&t->stop, true, __ATOMIC_RELEASE);
		wake_thread(t);
		pthread_join(t->th, NULL);
		t->started = false;
	}
}

void rings_delete(struct rings **rsp)
{
	struct rings *rs = *rsp;

	if (!rs)
		return;
	rings_stop(rs);
	for (unsigned i = 0; i < rs->n; i++)
		thread_free(&rs->t[i]);
	for (size_t i = 0; i < rs->nlist; i++)
		sess_unref(rs->list[i]);
	free(rs->list);
	pthread_mutex_destroy(&rs->lock);
	free(rs->t);
	free(rs);
	*rsp = NULL;
}

static void wake_all(struct rings *rs)
{
	for (unsigned i = 0; i < rs->n; i++)
		if (rs->t[i].started)
			wake_thread(&rs->t[i]);
}

int ring_attach(struct rings *rs, struct sess *s, void *area, int *client_efd)
{
	struct ring_thread *t = &rs->t[0];
	struct epoll_event e = {.events = EPOLLIN | EPOLLET};
	struct sess_ring *r;
	int rc = -ENOMEM;

	*client_efd = -1;
	for (unsigned i = 1; i < rs->n; i++) {
		if (__atomic_load_n(&rs->t[i].nhome, __ATOMIC_RELAXED) <
		    __atomic_load_n(&t->nhome, __ATOMIC_RELAXED))
			t = &rs->t[i];
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->area = area;
	r->home = t;
	r->rs = rs;
	r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->efd < 0) {
		rc = -errno;
		goto err_free;
	}
	*client_efd = fcntl(r->efd, F_DUPFD_CLOEXEC, 0);
	e.data.ptr = r;
	if (*client_efd < 0 || epoll_ctl(t->epfd, EPOLL_CTL_ADD, r->efd, &e) < 0) {
		rc = -errno;
		goto err_close;
	}
	pthread_mutex_lock(&rs->lock);
	if (rs->nlist == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 16;
		struct sess **v = realloc(rs->list, cap * sizeof(*v));

		if (!v) {
			pthread_mutex_unlock(&rs->lock);
			epoll_ctl(t->epfd, EPOLL_CTL_DEL, r->efd, NULL);
			rc = -ENOMEM;
			goto err_close;
		}
		rs->list = v;
		rs->cap = cap;
	}
	__atomic_store_n(&s->ring, r, __ATOMIC_RELEASE); /* ring_stop may look from elsewhere */
	sess_ref(s);
	rs->list[rs->nlist++] = s;
	__atomic_add_fetch(&t->nhome, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&rs->gen, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&rs->lock);
	wake_all(rs);
	return 0;

err_close:
	if (*client_efd >= 0)
		close(*client_efd);
	*client_efd = -1;
	close(r->efd);
err_free:
	free(r);
	return rc;
}

void ring_detach(struct sess *s)
{
	struct sess_ring *r = s->ring;
	struct rings *rs;
	bool found = false;

	if (!r || !r->rs)
		return;
	rs = r->rs;
	__atomic_store_n(&r->detached, true, __ATOMIC_RELEASE);
	pthread_mutex_lock(&rs->lock);
	for (size_t i = 0; i < rs->nlist; i++) {
		if (rs->list[i] == s) {
			rs->list[i] = rs->list[--rs->nlist];
			found = true;
			break;
		}
	}
	__atomic_add_fetch(&rs->gen, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&rs->lock);
	epoll_ctl(r->home->epfd, EPOLL_CTL_DEL, r->efd, NULL);
	__atomic_sub_fetch(&r->home->nhome, 1, __ATOMIC_RELAXED);
	close(r->efd);
	r->efd = -1;
	r->rs = NULL;
	/* Every thread lets go of its reference at its next pass. */
	wake_all(rs);
	if (found)
		sess_unref(s);
}

void ring_stop(struct sess *s)
{
	struct sess_ring *r = __atomic_load_n(&s->ring, __ATOMIC_ACQUIRE);

	if (r)
		__atomic_store_n(&r->detached, true, __ATOMIC_RELEASE);
}

void ring_reply(struct sess *s, unsigned slot, uint64_t id, const void *msg, size_t len)
{
	struct sess_ring *r = s->ring;

	if (ring_complete(&r->cur, r->area, slot, id, msg, len))
		syscall(SYS_futex, &ring_slot_of(r->area, slot)->done, FUTEX_WAKE, 1, NULL, NULL,
			0);
}

void ring_sess_free(struct sess_ring *r)
{
	if (!r)
		return;
	if (r->efd >= 0)
		close(r->efd);
	free(r);
}
