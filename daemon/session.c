// SPDX-License-Identifier: MIT
/*
 * Sessions: the outbox, the grant table, and the grant callbacks that push events.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "fault.h"
#include "log.h"
#include "region.h"
#include "rings.h"
#include "session.h"
#include "wire.h"

#define SEND_FDS_MAX 2

struct sess_out {
	struct sess_out *next;
	int fd[SEND_FDS_MAX]; /* ours (duplicates), closed once sent or dropped; -1 for none */
	int nfds;
	size_t len;
	uint64_t buf[]; /* the message */
};

int sess_new(struct sess **out, struct ns *ns, struct event_base *base, uint64_t id, int fd,
	     struct cred *cred, enum perm_trust_level trust)
{
	struct sess *s;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ns = ns;
	s->base = base;
	s->id = id;
	s->cred = *cred;
	memset(cred, 0, sizeof(*cred));
	s->trust = trust;
	s->refs = 1;
	s->pidfd = -1;
	s->fd = fd;
	s->out_tail = &s->out_head;
	s->next_grant = 1;
	pthread_mutex_init(&s->send_lock, NULL);
	pthread_mutex_init(&s->grant_lock, NULL);
	pthread_mutex_init(&s->handle_lock, NULL);
	handles_init(&s->handles);
	*out = s;
	return 0;
}

void sess_ref(struct sess *s)
{
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
}

static void out_free(struct sess_out *o)
{
	for (int i = 0; i < o->nfds; i++)
		close(o->fd[i]);
	free(o);
}

void sess_unref(struct sess *s)
{
	if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL))
		return;
	/* Nobody else can reach it: the loop closed the socket, every grant is gone. */
	while (s->out_head) {
		struct sess_out *o = s->out_head;

		s->out_head = o->next;
		out_free(o);
	}
	if (s->fd >= 0)
		close(s->fd);
	ring_sess_free(s->ring);
	if (s->shm)
		munmap(s->shm, s->shm_size);
	free(s->grants);
	free(s->reap);
	perm_cred_release(&s->cred);
	handles_release(&s->handles);
	pthread_mutex_destroy(&s->send_lock);
	pthread_mutex_destroy(&s->grant_lock);
	pthread_mutex_destroy(&s->handle_lock);
	free(s);
}

/* send_now - one sendmsg that never blocks. Return: 0; -EAGAIN (socket full); -errno. */
static int send_now(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(SEND_FDS_MAX * sizeof(int))];
	} cm;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
	}
	for (;;) {
		if (sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EINTR)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

/* __shutdown - see sess_shutdown. Locking: send_lock held. */
static void __shutdown(struct sess *s)
{
	if (s->broken || s->fd < 0)
		return;
	s->broken = true;
	shutdown(s->fd, SHUT_RDWR);
	ring_stop(s);
}

bool sess_is_broken(struct sess *s)
{
	bool b;

	pthread_mutex_lock(&s->send_lock);
	b = s->broken || s->fd < 0;
	pthread_mutex_unlock(&s->send_lock);
	return b;
}

void sess_shutdown(struct sess *s, const char *why)
{
	bool first;

	__atomic_store_n(&s->dropped, true, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&s->send_lock);
	first = !s->broken && s->fd >= 0;
	__shutdown(s);
	pthread_mutex_unlock(&s->send_lock);
	if (first)
		log_notice("session %" PRIu64 " (pid %d, uid %u): %s; dropping it", s->id,
			   (int)s->cred.pid, s->cred.uid, why);
}

/* is_event - a pushed event (POISON, INVALIDATE), not a reply. */
static bool is_event(const void *buf, size_t len)
{
	struct wire_hdr h;

	if (len < sizeof(h))
		return false;
	memcpy(&h, buf, sizeof(h));
	return h.op >= WIRE_EV_POISON;
}

/*
 * out_append - queue a copy. A reply always fits (its room was reserved: see session.h);
 * an event must fit in SESS_QUEUE_MAX + SESS_EVENTS_ROOM, and nothing goes past that by
 * more than two messages (the loop's own replies are not reserved: it pauses instead).
 * Locking: send_lock held.
 * Return: 0; -ENOMEM; -ENOBUFS (full: the client does not read).
 */
static int out_append(struct sess *s, const void *buf, size_t len, const int *fds, int nfds)
{
	size_t cost = len + SESS_OUT_ENTRY;
	size_t room = SESS_QUEUE_MAX + SESS_EVENTS_ROOM;
	struct sess_out *o;

	if (s->out_bytes + cost > room + (is_event(buf, len) ? 0 : 2 * (size_t)WIRE_MSG_MAX))
		return -ENOBUFS;
	o = malloc(sizeof(*o) + len);
	if (!o)
		return -ENOMEM;
	o->next = NULL;
	o->len = len;
	o->nfds = 0;
	for (int i = 0; i < nfds; i++) {
		o->fd[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
		if (o->fd[i] < 0) {
			int err = errno;

			out_free(o);
			return -err;
		}
		o->nfds++;
	}
	memcpy(o->buf, buf, len);
	*s->out_tail = o;
	s->out_tail = &o->next;
	s->out_n++;
	__atomic_store_n(&s->out_bytes, s->out_bytes + cost, __ATOMIC_RELAXED);
	return 0;
}

int sess_send(struct sess *s, const void *buf, size_t len, int fd)
{
	return sess_send_fds(s, buf, len, &fd, fd >= 0 ? 1 : 0);
}

int sess_send_fds(struct sess *s, const void *buf, size_t len, const int *fds, int nfds)
{
	bool overflow = false;
	int rc;

	pthread_mutex_lock(&s->send_lock);
	if (s->fd < 0 || s->broken) {
		rc = -EPIPE;
		goto out;
	}
	if (!s->out_head) {
		/* -EAGAIN tests the outbox, others a lost peer. */
		rc = __atomic_load_n(&s->injector, __ATOMIC_RELAXED) ? 0 : fault_at(FAULT_SEND);
		if (rc == 0)
			rc = send_now(s->fd, buf, len, fds, nfds);
		if (rc == 0)
			goto out;
		if (rc != -EAGAIN) {
			/* The peer is gone (EPIPE, ECONNRESET): the loop will see the end. */
			__shutdown(s);
			rc = -EPIPE;
			goto out;
		}
	}
	rc = out_append(s, buf, len, fds, nfds);
	if (rc == -ENOBUFS) {
		overflow = true;
		__atomic_store_n(&s->dropped, true, __ATOMIC_SEQ_CST);
		__shutdown(s);
		rc = -EPIPE;
	} else if (rc == 0 && s->out_n == 1 && s->ev_write) {
		event_add(s->ev_write, NULL);
	}
out:
	pthread_mutex_unlock(&s->send_lock);
	if (overflow)
		log_notice("session %" PRIu64 " (pid %d, uid %u): not reading its socket (%u KiB "
			   "of replies and events queued); dropping it",
			   s->id, (int)s->cred.pid, s->cred.uid,
			   (SESS_QUEUE_MAX + SESS_EVENTS_ROOM) >> 10);
	return rc;
}

void sess_reserve(struct sess *s, uint64_t bytes)
{
	__atomic_add_fetch(&s->reserved, bytes, __ATOMIC_SEQ_CST);
}

void sess_unreserve(struct sess *s, uint64_t bytes)
{
	__atomic_sub_fetch(&s->reserved, bytes, __ATOMIC_SEQ_CST);
	/* Pairs with the loop's pause: it sets paused, then looks at the queue again. */
	if (__atomic_load_n(&s->paused, __ATOMIC_SEQ_CST))
		sess_kick(s);
}

uint64_t sess_queued(struct sess *s)
{
	/* No lock: the ring threads look at every pass, and a snapshot is all anyone needs. */
	return __atomic_load_n(&s->out_bytes, __ATOMIC_RELAXED) +
	       __atomic_load_n(&s->reserved, __ATOMIC_SEQ_CST);
}

void sess_kick(struct sess *s)
{
	pthread_mutex_lock(&s->send_lock);
	/* sess_close (fd -1) comes before the loop frees ev_write. */
	if (s->fd >= 0 && s->ev_write)
		event_add(s->ev_write, NULL);
	pthread_mutex_unlock(&s->send_lock);
}

void sess_flush(struct sess *s)
{
	pthread_mutex_lock(&s->send_lock);
	while (s->out_head && s->fd >= 0 && !s->broken) {
		struct sess_out *o = s->out_head;
		int rc = send_now(s->fd, o->buf, o->len, o->fd, o->nfds);

		if (rc == -EAGAIN) {
			event_add(s->ev_write, NULL);
			break;
		}
		if (rc < 0) {
			__shutdown(s);
			break;
		}
		s->out_head = o->next;
		if (!s->out_head)
			s->out_tail = &s->out_head;
		s->out_n--;
		__atomic_store_n(&s->out_bytes, s->out_bytes - (o->len + SESS_OUT_ENTRY),
				 __ATOMIC_RELAXED);
		out_free(o);
	}
	pthread_mutex_unlock(&s->send_lock);
}

void sess_close(struct sess *s)
{
	pthread_mutex_lock(&s->send_lock);
	while (s->out_head) {
		struct sess_out *o = s->out_head;

		s->out_head = o->next;
		out_free(o);
	}
	s->out_tail = &s->out_head;
	s->out_n = 0;
	__atomic_store_n(&s->out_bytes, 0, __ATOMIC_RELAXED);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->broken = true;
	pthread_mutex_unlock(&s->send_lock);
}

/* --- handles --- */

int sess_handle_add(struct sess *s, uint64_t ino)
{
	int rc;

	pthread_mutex_lock(&s->handle_lock);
	rc = handles_add(&s->handles, ino);
	pthread_mutex_unlock(&s->handle_lock);
	return rc;
}

int sess_handle_check(struct sess *s, uint64_t ino)
{
	bool ok;

	if (perm_is_admin(&s->cred))
		return 0;
	pthread_mutex_lock(&s->handle_lock);
	ok = handles_has(&s->handles, ino);
	pthread_mutex_unlock(&s->handle_lock);
	return ok ? 0 : -ESTALE;
}

/* --- the grant table --- */

/* find - index of @id in the table, or -1. Locking: grant_lock held. */
static ssize_t find(const struct sess *s, uint64_t id)
{
	size_t lo = 0, hi = s->ngrants;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->grants[mid]->id == id)
			return (ssize_t)mid;
		if (s->grants[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* remove_at - Locking: grant_lock held. */
static void remove_at(struct sess *s, size_t i)
{
	memmove(&s->grants[i], &s->grants[i + 1], (s->ngrants - i - 1) * sizeof(*s->grants));
	s->ngrants--;
}

int sess_grant_begin(struct sess *s, struct sess_grant **out)
{
	struct sess_grant *sg;
	int rc = 0;

	*out = NULL;
	sg = calloc(1, sizeof(*sg));
	if (!sg)
		return -ENOMEM;
	pthread_mutex_lock(&s->grant_lock);
	if (s->grants_closed) {
		rc = -ECONNRESET;
	} else if (s->ngrants >= SESS_GRANTS_MAX) {
		rc = -EMFILE;
	} else if (s->ngrants == s->capgrants) {
		size_t cap = s->capgrants ? s->capgrants * 2 : 8;
		struct sess_grant **v = realloc(s->grants, cap * sizeof(*v));

		if (!v) {
			rc = -ENOMEM;
		} else {
			s->grants = v;
			s->capgrants = cap;
		}
	}
	if (rc == 0) {
		/* Ids only grow: appending keeps the table sorted. */
		sg->s = s;
		sg->id = s->next_grant++;
		s->grants[s->ngrants++] = sg;
		sess_ref(s);
	}
	pthread_mutex_unlock(&s->grant_lock);
	if (rc) {
		free(sg);
		return rc;
	}
	*out = sg;
	return 0;
}

int sess_grant_commit(struct sess *s, struct sess_grant *sg, struct ns_grant *g)
{
	ssize_t i;
	int rc = 0;

	__atomic_store_n(&sg->g, g, __ATOMIC_RELEASE);
	pthread_mutex_lock(&s->grant_lock);
	i = find(s, sg->id);
	if (s->grants_closed) {
		/* sess_grants_close() left it to us, wherever it is. */
		if (i >= 0)
			remove_at(s, (size_t)i);
		rc = -ECONNRESET;
	} else {
		sg->ready = true;
	}
	pthread_mutex_unlock(&s->grant_lock);
	return rc;
}

void sess_grant_abort(struct sess *s, struct sess_grant *sg)
{
	ssize_t i;

	pthread_mutex_lock(&s->grant_lock);
	i = find(s, sg->id);
	if (i >= 0)
		remove_at(s, (size_t)i);
	pthread_mutex_unlock(&s->grant_lock);
	sess_grant_free(sg);
}

struct sess_grant *sess_grant_take(struct sess *s, uint64_t id)
{
	struct sess_grant *sg = NULL;
	ssize_t i;

	pthread_mutex_lock(&s->grant_lock);
	i = find(s, id);
	if (i >= 0 && s->grants[i]->ready) {
		sg = s->grants[i];
		remove_at(s, (size_t)i);
	}
	pthread_mutex_unlock(&s->grant_lock);
	return sg;
}

void sess_grant_free(struct sess_grant *sg)
{
	struct sess *s = sg->s;

	free(sg);
	sess_unref(s);
}

int sess_grant_ack(struct sess *s, uint64_t id, uint64_t gen)
{
	struct ns_grant *g = NULL;
	ssize_t i;

	/* Under the table lock, so an UNMAP in a worker cannot delete the grant meanwhile. */
	pthread_mutex_lock(&s->grant_lock);
	i = find(s, id);
	if (i >= 0)
		g = __atomic_load_n(&s->grants[i]->g, __ATOMIC_ACQUIRE);
	if (g)
		ns_grant_ack(s->ns, g, gen);
	pthread_mutex_unlock(&s->grant_lock);
	return g ? 0 : -ENOENT;
}

int sess_grant_range(struct sess *s, uint64_t id, uint64_t *ino, uint64_t *off, uint64_t *len)
{
	struct ns_grant *g = NULL;
	uint64_t index = 0, count = 0;
	ssize_t i;

	/* Under the table lock, so an UNMAP in another worker cannot delete the grant meanwhile. */
	pthread_mutex_lock(&s->grant_lock);
	i = find(s, id);
	if (i >= 0 && s->grants[i]->ready)
		g = __atomic_load_n(&s->grants[i]->g, __ATOMIC_ACQUIRE);
	if (g)
		ns_grant_range(g, ino, &index, &count);
	pthread_mutex_unlock(&s->grant_lock);
	*off = index * REGION_BLOCK_SIZE;
	*len = count * REGION_BLOCK_SIZE;
	return g ? 0 : -ENOENT;
}

size_t sess_grants_close(struct sess *s, struct sess_grant ***out)
{
	size_t ready = 0;

	pthread_mutex_lock(&s->grant_lock);
	s->grants_closed = true;
	/* Ready ones to the front; MAPs in progress after them, owned by their workers. */
	for (size_t i = 0; i < s->ngrants; i++) {
		if (s->grants[i]->ready) {
			struct sess_grant *t = s->grants[ready];

			s->grants[ready++] = s->grants[i];
			s->grants[i] = t;
		}
	}
	*out = s->grants;
	s->grants = NULL;
	s->ngrants = 0;
	s->capgrants = 0;
	pthread_mutex_unlock(&s->grant_lock);
	return ready;
}

/* --- callbacks, under the engine's grant lock: enqueue or try to send, never wait --- */

static int push_event(struct sess_grant *sg, unsigned op, uint64_t ino, uint64_t index,
		      uint64_t count, uint64_t gen)
{
	struct {
		struct wire_hdr h;
		struct wire_event e;
	} msg = {
		.h = {.len = sizeof(msg), .op = (uint16_t)op, .flags = 0, .id = 0},
		.e = {.grant = sg->id,
		      .ino = ino,
		      .off = index * REGION_BLOCK_SIZE,
		      .len = count * REGION_BLOCK_SIZE,
		      .generation = gen},
	};

	_Static_assert(sizeof(msg) == sizeof(struct wire_hdr) + sizeof(struct wire_event),
		       "an event message has no padding");
	return sess_send(sg->s, &msg, sizeof(msg), -1);
}

static void cb_poison(void *holder, struct ns_grant *g, uint64_t ino, uint64_t index,
		      uint64_t count)
{
	struct sess_grant *sg = holder;

	__atomic_store_n(&sg->g, g, __ATOMIC_RELEASE);
	push_event(sg, WIRE_EV_POISON, ino, index, count, 0);
}

static void cb_invalidate(void *holder, struct ns_grant *g, uint64_t ino, uint64_t index,
			  uint64_t count, uint64_t gen)
{
	struct sess_grant *sg = holder;
	struct sess *s = sg->s;

	__atomic_store_n(&sg->g, g, __ATOMIC_RELEASE);
	if (push_event(sg, WIRE_EV_INVALIDATE, ino, index, count, gen) == 0)
		return;
	/*
	 * Not delivered: a client that closed its end lets go of everything (its grants are
	 * being deleted). One the daemon dropped may still touch the range: no ack for it.
	 */
	if (!__atomic_load_n(&s->dropped, __ATOMIC_SEQ_CST))
		ns_grant_ack(s->ns, g, gen);
}

static void cb_expired(void *holder, struct ns_grant *g)
{
	struct sess_grant *sg = holder;

	(void)g;
	sess_shutdown(sg->s, "did not acknowledge a lease break in time");
}

static pid_t cb_pid(void *holder)
{
	struct sess_grant *sg = holder;

	return sg->s->cred.pid;
}

const struct ns_grant_ops sess_grant_ops = {
	.poison = cb_poison,
	.invalidate = cb_invalidate,
	.expired = cb_expired,
	.pid = cb_pid,
};
