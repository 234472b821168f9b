// SPDX-License-Identifier: MIT
/*
 * libdaxfs sessions: connect and HELLO, the request slots, requests in flight matched to
 * their replies by id, the socket transport and its reader role (libdaxfs-private.h
 * describes the threading model). The ring transport: ring.c. Events: events.c. The calls
 * themselves: names.c; mappings: map.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll, MSG_CMSG_CLOEXEC, MAP_NORESERVE, GNU strerror_r */
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "libdaxfs-private.h"
#include "ring.h"
#include "util.h"

#define HDR_SIZE sizeof(struct wire_hdr)
#define RECV_FDS_MAX 4		  /* fds we make room for in one packet (one is legitimate) */
#define SHM_SIZE_MAX (1ULL << 30) /* a shared buffer larger than this is not a daxfsd's */

void daxfs_set_event_callback(struct daxfs *fs, daxfs_event_fn fn, void *ctx)
{
	if (!fs)
		return;
	pthread_mutex_lock(&fs->lock);
	fs->event_fn = fn;
	fs->event_ctx = ctx;
	pthread_mutex_unlock(&fs->lock);
}

uint64_t lib_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t lib_deadline_ns(const struct daxfs *fs)
{
	return lib_now_ns() + (uint64_t)fs->timeout_ms * 1000000u;
}

struct timespec lib_ns_to_timespec(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / 1000000000u),
		.tv_nsec = (long)(ns % 1000000000u),
	};

	return ts;
}

/* cond_wait_until - wait on @c (a CLOCK_MONOTONIC condvar) until @deadline. */
static int cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, uint64_t deadline)
{
	struct timespec ts = lib_ns_to_timespec(deadline);

	return pthread_cond_timedwait(c, m, &ts);
}

static int cond_init_monotonic(pthread_cond_t *c)
{
	pthread_condattr_t attr;
	int ret;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	ret = pthread_cond_init(c, &attr);
	pthread_condattr_destroy(&attr);
	return -ret;
}

/* env_int - integer environment variable @name within [@min, @max], else @def. */
static int env_int(const char *name, int def, int min, int max)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return def;
	return (int)v;
}

/*
 * __session_break - the session is unusable from now on: every waiting and later request
 * fails with -ECONNRESET. Shuts the socket down so the daemon ends the session (releasing
 * its grants) and a thread blocked reading it wakes up.
 * Locking: fs->lock held.
 */
void __lib_session_break(struct daxfs *fs)
{
	if (fs->broken)
		return;
	__atomic_store_n(&fs->broken, -ECONNRESET, __ATOMIC_RELEASE); /* ring.c reads it bare */
	shutdown(fs->sock, SHUT_RDWR);
	for (unsigned i = 0; i < WIRE_INFLIGHT_MAX; i++)
		pthread_cond_broadcast(&fs->slots[i].cond);
	pthread_cond_broadcast(&fs->slot_cond);
	pthread_cond_broadcast(&fs->idle_cond);
	pthread_cond_broadcast(&fs->region_cond);
}

/*
 * __reader_release - give up the reader role and wake one thread that sleeps waiting for a
 * reply (not @self), so that it takes the role over.
 * Locking: fs->lock held.
 */
void __lib_reader_release(struct daxfs *fs, const struct lib_slot *self)
{
	fs->reader = false;
	for (unsigned i = 0; i < fs->inflight; i++) {
		struct lib_slot *s = &fs->slots[i];

		if (s != self && s->state == SLOT_WAIT && s->sleeping) {
			pthread_cond_signal(&s->cond);
			break;
		}
	}
	pthread_cond_broadcast(&fs->idle_cond);
}

/*
 * send_msg - send one packet. A failure breaks the session: the request may or may not
 * have reached the daemon. Locking: takes fs->send_lock, then (on failure) fs->lock.
 * Return: 0; -ETIMEDOUT (the socket stayed full for the timeout); -ECONNRESET.
 */
static int send_msg(struct daxfs *fs, const void *buf, size_t len)
{
	ssize_t n;
	int err;

	pthread_mutex_lock(&fs->send_lock);
	do {
		n = send(fs->sock, buf, len, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	err = errno;
	pthread_mutex_unlock(&fs->send_lock);
	if (n == (ssize_t)len)
		return 0;
	pthread_mutex_lock(&fs->lock);
	__lib_session_break(fs);
	pthread_mutex_unlock(&fs->lock);
	if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK))
		return -ETIMEDOUT;
	return -ECONNRESET;
}

int lib_send_ack(struct daxfs *fs, uint64_t grant, uint64_t generation)
{
	struct {
		struct wire_hdr h;
		struct wire_ack a;
	} msg;
	uint64_t id;

	pthread_mutex_lock(&fs->lock);
	if (fs->broken) {
		pthread_mutex_unlock(&fs->lock);
		return fs->broken;
	}
	id = (++fs->seq << LIB_SLOT_BITS) | LIB_ID_NO_SLOT;
	pthread_mutex_unlock(&fs->lock);
	memset(&msg, 0, sizeof(msg));
	msg.h.len = sizeof(msg);
	msg.h.op = WIRE_ACK;
	msg.h.id = id;
	msg.a.grant = grant;
	msg.a.generation = generation;
	return send_msg(fs, &msg, sizeof(msg));
}

int lib_slot_get(struct daxfs *fs, struct lib_slot **out)
{
	struct lib_slot *s = NULL;
	uint64_t deadline = 0;
	int ret = 0;

	pthread_mutex_lock(&fs->lock);
	for (;;) {
		if (fs->broken) {
			ret = fs->broken;
			break;
		}
		for (unsigned i = 0; i < fs->inflight && !s; i++) {
			if (fs->slots[i].state == SLOT_FREE)
				s = &fs->slots[i];
		}
		if (s)
			break;
		if (!deadline)
			deadline = lib_deadline_ns(fs);
		if (cond_wait_until(&fs->slot_cond, &fs->lock, deadline) == ETIMEDOUT) {
			ret = -ETIMEDOUT;
			break;
		}
	}
	if (s) {
		s->state = SLOT_BUSY;
		s->id = (++fs->seq << LIB_SLOT_BITS) | (uint64_t)(s - fs->slots);
		s->op = 0;
		s->err = 0;
		s->why = NULL;
		s->fd = -1;
		s->len = 0;
		s->map_pending = false;
		s->nqueued = 0;
		s->sleeping = false;
	}
	pthread_mutex_unlock(&fs->lock);
	if (ret == -ETIMEDOUT)
		return lib_err(ret, "all %u request slots stayed busy for %d ms", fs->inflight,
			       fs->timeout_ms);
	if (ret)
		return lib_err(ret, "the session with daxfsd is gone");
	if (!s->req)
		s->req = malloc(WIRE_MSG_MAX);
	if (!s->buf)
		s->buf = malloc(WIRE_MSG_MAX);
	if (!s->req || !s->buf) {
		lib_slot_put(fs, s);
		return lib_err(-ENOMEM, "out of memory for request buffers");
	}
	*out = s;
	return 0;
}

void lib_slot_put(struct daxfs *fs, struct lib_slot *s)
{
	int fd;

	pthread_mutex_lock(&fs->lock);
	fd = s->fd;
	s->fd = -1;
	s->map_pending = false;
	s->nqueued = 0;
	s->state = SLOT_FREE;
	s->id = 0;
	pthread_cond_signal(&fs->slot_cond);
	pthread_mutex_unlock(&fs->lock);
	if (fd >= 0)
		close(fd);
}

/*
 * recv_wait - receive one packet into @mh: poll with MSG_DONTWAIT for the spin budget, then
 * sleep in ppoll until @deadline (when @block).
 * Context: the reader.
 * Return: its length; -EAGAIN (nothing there, !@block); -ETIMEDOUT; -ECONNRESET (end of
 *         the session or a socket error).
 */
static ssize_t recv_wait(struct daxfs *fs, struct msghdr *mh, uint64_t deadline, bool block)
{
	size_t controllen = mh->msg_controllen;
	uint64_t spin_end = 0, now;
	ssize_t n;

	for (;;) {
		mh->msg_controllen = controllen;
		mh->msg_flags = 0;
		n = recvmsg(fs->sock, mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n > 0)
			return n;
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -ECONNRESET;
		if (!block)
			return -EAGAIN;
		now = lib_now_ns();
		if (!spin_end)
			spin_end = now + (uint64_t)fs->spin_us * 1000u;
		if (now < spin_end && now < deadline)
			continue;
		if (now >= deadline)
			return -ETIMEDOUT;

		struct pollfd pfd = {.fd = fs->sock, .events = POLLIN};
		struct timespec ts = lib_ns_to_timespec(deadline - now);

		if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR)
			return -ECONNRESET;
	}
}

static void close_fds(int *fds, int nfds)
{
	for (int i = 0; i < nfds; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
	}
}

/*
 * dispatch - the packet of @n bytes in fs->rbuf (with @fds): an event is copied to @ev; a
 * reply goes to the slot waiting for its id (buffers swapped); anything else is dropped
 * with a log line. Context: the reader, fs->lock not held.
 * Return: RECV_EVENT or RECV_DISPATCHED.
 */
static int dispatch(struct daxfs *fs, size_t n, int mflags, int *fds, int nfds,
		    struct lib_event *ev)
{
	const char *why = NULL;
	struct wire_hdr hdr;
	struct lib_slot *s;
	int32_t status = 0;
	unsigned idx;
	int fd = -1, fd2 = -1;
	int dr;

	if (mflags & MSG_TRUNC) {
		dr = -EMSGSIZE;
		why = "a reply larger than the largest message";
		memcpy(&hdr, fs->rbuf, HDR_SIZE);
	} else {
		dr = wire_decode_reply(fs->rbuf, n, &hdr);
		if (dr < 0)
			why = "a malformed reply";
	}
	if (mflags & MSG_CTRUNC) {
		dr = -EPROTO;
		why = "file descriptors lost (MSG_CTRUNC)";
	}
	if (n < HDR_SIZE) {
		close_fds(fds, nfds);
		lib_log(fs, "libdaxfs: dropped a packet of %zu bytes", n);
		return RECV_DISPATCHED;
	}

	if (hdr.op == WIRE_EV_POISON || hdr.op == WIRE_EV_INVALIDATE) {
		close_fds(fds, nfds);
		if (dr < 0 || nfds > 0) {
			lib_log(fs, "libdaxfs: dropped a malformed %s event", wire_op_name(hdr.op));
			return RECV_DISPATCHED;
		}
		ev->op = hdr.op;
		memcpy(&ev->ev, fs->rbuf + HDR_SIZE, sizeof(ev->ev));
		return RECV_EVENT;
	}

	if (dr == 0 && (hdr.flags & WIRE_F_FD)) {
		/* A HELLO reply for a ring carries its doorbell too. */
		if (nfds == 2 && hdr.op == (WIRE_REPLY | WIRE_HELLO)) {
			fd2 = fds[1];
			fds[1] = -1;
			nfds = 1;
		}
		if (nfds != 1) {
			dr = -EPROTO;
			why = "a reply that should carry exactly one file descriptor";
		} else {
			fd = fds[0];
			fds[0] = -1;
		}
	} else if (dr == 0 && nfds > 0) {
		dr = -EPROTO;
		why = "file descriptors on a reply that carries none";
	}
	if (dr == 0)
		memcpy(&status, fs->rbuf + HDR_SIZE, sizeof(status));

	idx = (unsigned)(hdr.id & ((1u << LIB_SLOT_BITS) - 1));
	pthread_mutex_lock(&fs->lock);
	s = idx < fs->inflight ? &fs->slots[idx] : NULL;
	if (!s || s->state != SLOT_WAIT || s->id != hdr.id) {
		pthread_mutex_unlock(&fs->lock);
		close_fds(fds, nfds);
		if (fd >= 0)
			close(fd);
		if (fd2 >= 0)
			close(fd2);
		lib_log(fs, "libdaxfs: dropped a %s for no request in flight (id %llu)",
			wire_op_name(hdr.op), (unsigned long long)hdr.id);
		return RECV_DISPATCHED;
	}
	uint8_t *tmp = s->buf;
	s->buf = fs->rbuf;
	fs->rbuf = tmp;
	s->len = n;
	s->err = dr < 0 ? -EPROTO : 0;
	s->why = why;
	if (dr == 0 && status == 0 && s->op == WIRE_MAP && hdr.op == (WIRE_REPLY | WIRE_MAP)) {
		struct wire_map_reply rep;

		/* Until daxfs_map_new has its view, events for the grant queue up here. */
		memcpy(&rep, s->buf + HDR_SIZE, sizeof(rep));
		s->map_pending = true;
		s->pending_grant = rep.grant;
		if (fd >= 0) {
			map_adopt_region_fd(fs, fd);
			fd = -1;
		}
	}
	s->fd = fd;
	s->fd2 = fd2;
	s->state = SLOT_DONE;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&fs->lock);
	close_fds(fds, nfds);
	if (why)
		lib_log(fs, "libdaxfs: %s (%s, id %llu)", why, wire_op_name(hdr.op),
			(unsigned long long)hdr.id);
	return RECV_DISPATCHED;
}

/*
 * reader_recv - receive one packet and dispatch it.
 * Context: the thread holding the reader role, fs->lock not held.
 * Return: RECV_DISPATCHED; RECV_EVENT (*@ev filled); -EAGAIN; -ETIMEDOUT; -ECONNRESET.
 */
int lib_reader_recv(struct daxfs *fs, uint64_t deadline, bool block, struct lib_event *ev)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * RECV_FDS_MAX)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {.iov_base = fs->rbuf, .iov_len = WIRE_MSG_MAX};
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
		.msg_controllen = sizeof(cbuf.buf),
	};
	int fds[RECV_FDS_MAX];
	int nfds = 0, lost = 0;
	ssize_t n;

	n = recv_wait(fs, &mh, deadline, block);
	if (n < 0)
		return (int)n;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (size_t i = 0; i < count; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (nfds < RECV_FDS_MAX) {
				fds[nfds++] = fd;
			} else {
				close(fd);
				lost = 1;
			}
		}
	}
	return dispatch(fs, (size_t)n, mh.msg_flags | (lost ? MSG_CTRUNC : 0), fds, nfds, ev);
}

/*
 * wait_reply - wait until slot @s has its reply: as the reader when nobody else is, else
 * asleep on the slot's condvar. Events read on the way are handled by this thread, with
 * the reader role dropped meanwhile.
 * Return: 0 (@s holds the reply); -ETIMEDOUT (the session is then broken); -ECONNRESET.
 */
static int wait_reply(struct daxfs *fs, struct lib_slot *s, uint64_t deadline)
{
	bool am_reader = false;
	struct lib_event ev;
	int ret = 0, r;

	pthread_mutex_lock(&fs->lock);
	for (;;) {
		if (s->state == SLOT_DONE)
			break;
		if (fs->broken) {
			ret = fs->broken;
			break;
		}
		if (!am_reader && fs->reader) {
			s->sleeping = true;
			r = cond_wait_until(&s->cond, &fs->lock, deadline);
			s->sleeping = false;
			if (r == ETIMEDOUT && s->state != SLOT_DONE && !fs->broken) {
				ret = -ETIMEDOUT;
				__lib_session_break(fs);
				break;
			}
			continue;
		}
		fs->reader = true;
		am_reader = true;
		pthread_mutex_unlock(&fs->lock);
		r = lib_reader_recv(fs, deadline, true, &ev);
		pthread_mutex_lock(&fs->lock);
		if (r == RECV_EVENT) {
			__lib_reader_release(fs, s);
			am_reader = false;
			pthread_mutex_unlock(&fs->lock);
			map_handle_event(fs, &ev);
			pthread_mutex_lock(&fs->lock);
		} else if (r < 0) {
			ret = r;
			__lib_session_break(fs);
			break;
		}
	}
	if (am_reader)
		__lib_reader_release(fs, s);
	if (s->state == SLOT_DONE)
		ret = 0;
	s->state = SLOT_BUSY;
	pthread_mutex_unlock(&fs->lock);
	return ret;
}

int lib_call(struct daxfs *fs, struct lib_slot *s, struct wire_msg *m, unsigned op,
	     const char *what)
{
	size_t len = wire_msg_end(m);
	struct wire_reply r;
	struct wire_hdr hdr;
	char eb[64], pre[96];
	int ret;

	/* "STAT /a/b", "GETATTR inode 5", "STATFS": what the detail strings start with */
	snprintf(pre, sizeof(pre), "%s%s%s", wire_op_name(op), what ? " " : "", what ? what : "");
	if (len == 0)
		return lib_err(m->err ? m->err : -EMSGSIZE, "%s: the request is too large", pre);
	s->op = op;
	if (lib_ring_usable(fs, s, op, len)) {
		/* The ring: no lock on the handle on the way (ring.c). */
		ret = __atomic_load_n(&fs->broken, __ATOMIC_ACQUIRE);
		if (ret)
			return lib_err(ret, "%s: the session with daxfsd is gone", pre);
		ret = lib_ring_call(fs, s, len, lib_deadline_ns(fs));
		if (ret < 0) {
			pthread_mutex_lock(&fs->lock);
			__lib_session_break(fs);
			pthread_mutex_unlock(&fs->lock);
		}
	} else {
		pthread_mutex_lock(&fs->lock);
		if (fs->broken) {
			pthread_mutex_unlock(&fs->lock);
			return lib_err(fs->broken, "%s: the session with daxfsd is gone", pre);
		}
		s->state = SLOT_WAIT;
		pthread_mutex_unlock(&fs->lock);
		ret = send_msg(fs, s->req, len);
		if (ret == 0)
			ret = wait_reply(fs, s, lib_deadline_ns(fs));
	}
	if (ret == -ETIMEDOUT)
		return lib_err(ret, "%s: no reply from daxfsd within %d ms; session closed", pre,
			       fs->timeout_ms);
	if (ret < 0)
		return lib_err(ret, "%s: the session with daxfsd is gone", pre);
	if (s->err)
		return lib_err(s->err, "%s: %s", pre, s->why ? s->why : "a malformed reply");
	memcpy(&hdr, s->buf, HDR_SIZE);
	if (hdr.op != (WIRE_REPLY | op) || wire_reply_size(op) < 0 ||
	    s->len < HDR_SIZE + (size_t)wire_reply_size(op))
		return lib_err(-EPROTO, "%s: daxfsd answered with a %s", pre, wire_op_name(hdr.op));
	memcpy(&r, s->buf + HDR_SIZE, sizeof(r));
	if (r.status < 0)
		return lib_err(r.status, "%s: %s", pre, lib_errstr(r.status, eb, sizeof(eb)));
	return 0;
}

/* --- session --- */

/* hello - say HELLO, take the limits and map the shared buffer. */
static int hello(struct daxfs *fs)
{
	struct wire_hello h = {.version = WIRE_VERSION};
	size_t map_size;
	struct wire_hello_reply rep;
	struct lib_slot *s;
	struct wire_msg m;
	struct stat st;
	int ret;

	ret = lib_slot_get(fs, &s);
	if (ret < 0)
		return ret;
	if (env_int("DAXFS_RING", 1, 0, 1))
		h.flags |= WIRE_HELLO_F_RING;
	wire_msg_init(&m, s->req, WIRE_HELLO, 0, s->id);
	wire_msg_put(&m, &h, sizeof(h), false);
	ret = lib_call(fs, s, &m, WIRE_HELLO, NULL);
	/* A connection over one of the daemon's limits hears which (docs/protocol.md). */
	if (ret == -EUSERS)
		lib_err(ret, "HELLO: daxfsd refused the session: this user has as many sessions "
			     "as it allows one user (max_sessions_per_user)");
	else if (ret == -EAGAIN)
		lib_err(ret, "HELLO: daxfsd refused the session: it serves as many sessions as "
			     "it allows (max_sessions)");
	if (ret < 0)
		goto out;
	memcpy(&rep, lib_reply_body(s), sizeof(rep));
	ret = -EPROTO;
	if (rep.version != WIRE_VERSION) {
		lib_err(ret, "HELLO: daxfsd speaks protocol version %u, not %u", rep.version,
			WIRE_VERSION);
		goto out;
	}
	if (rep.inflight_max == 0 || rep.inline_max == 0 || rep.msg_max < 8192) {
		lib_err(ret, "HELLO: impossible limits (in flight %u, inline %u, message %u)",
			rep.inflight_max, rep.inline_max, rep.msg_max);
		goto out;
	}
	fs->inflight = MIN(rep.inflight_max, (uint32_t)WIRE_INFLIGHT_MAX);
	fs->inline_max = MIN(rep.inline_max, (uint32_t)WIRE_INLINE_MAX);
	fs->inline_max =
		MIN(fs->inline_max, rep.msg_max - (uint32_t)(HDR_SIZE + sizeof(struct wire_io)));
	fs->session = rep.session;
	if (s->fd < 0) {
		lib_err(ret, "HELLO: the reply carries no shared buffer");
		goto out;
	}
	if (rep.shm_size == 0 || rep.shm_size > SHM_SIZE_MAX || fstat(s->fd, &st) < 0 ||
	    (uint64_t)st.st_size < rep.shm_size) {
		lib_err(ret, "HELLO: a shared buffer of %llu bytes that does not fit its fd",
			(unsigned long long)rep.shm_size);
		goto out;
	}
	/* With its doorbell, a ring follows the shared buffer in the same memfd. */
	map_size = rep.shm_size;
	if (s->fd2 >= 0 && (uint64_t)st.st_size >= rep.shm_size + RING_SIZE)
		map_size = rep.shm_size + RING_SIZE;
	fs->shm = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	if (fs->shm == MAP_FAILED) {
		int err = errno;

		fs->shm = NULL;
		ret = lib_err(err == ENOMEM ? -ENOMEM : -EPROTO,
			      "HELLO: cannot map the shared buffer: %s", strerror(err));
		goto out;
	}
	fs->shm_size = rep.shm_size;
	fs->map_size = map_size;
	if (map_size > rep.shm_size) {
		if (lib_ring_setup(fs, (uint8_t *)fs->shm + rep.shm_size, s->fd2) == 0)
			s->fd2 = -1;
		else
			lib_log(fs, "libdaxfs: HELLO: the ring's header does not match this "
				    "library's; using the socket");
	}
	ret = 0;
out:
	if (s->fd2 >= 0)
		close(s->fd2);
	s->fd2 = -1;
	lib_slot_put(fs, s);
	return ret;
}

static void handle_free(struct daxfs *fs)
{
	if (fs->sock >= 0)
		close(fs->sock);
	lib_ring_close(fs);
	if (fs->shm)
		munmap(fs->shm, fs->map_size);
	map_region_close(fs);
	for (unsigned i = 0; i < WIRE_INFLIGHT_MAX; i++) {
		free(fs->slots[i].req);
		free(fs->slots[i].queued);
		free(fs->slots[i].buf);
		pthread_cond_destroy(&fs->slots[i].cond);
	}
	free(fs->rbuf);
	pthread_cond_destroy(&fs->region_cond);
	pthread_cond_destroy(&fs->idle_cond);
	pthread_cond_destroy(&fs->slot_cond);
	pthread_mutex_destroy(&fs->ev_lock);
	pthread_mutex_destroy(&fs->maps_lock);
	pthread_mutex_destroy(&fs->lock);
	pthread_mutex_destroy(&fs->send_lock);
	pthread_mutex_destroy(&fs->shm_lock);
	free(fs);
}

static struct daxfs *handle_alloc(void)
{
	struct daxfs *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return NULL;
	fs->sock = -1;
	fs->ring_efd = -1;
	fs->region_fd = -1;
	fs->ev_stop_fd = -1;
	fs->inflight = 1; /* until HELLO says more */
	pthread_mutex_init(&fs->shm_lock, NULL);
	pthread_mutex_init(&fs->send_lock, NULL);
	pthread_mutex_init(&fs->lock, NULL);
	pthread_mutex_init(&fs->maps_lock, NULL);
	pthread_mutex_init(&fs->ev_lock, NULL);
	cond_init_monotonic(&fs->slot_cond);
	cond_init_monotonic(&fs->idle_cond);
	cond_init_monotonic(&fs->region_cond);
	for (unsigned i = 0; i < WIRE_INFLIGHT_MAX; i++) {
		fs->slots[i].fd = -1;
		fs->slots[i].fd2 = -1;
		cond_init_monotonic(&fs->slots[i].cond);
	}
	fs->rbuf = malloc(WIRE_MSG_MAX);
	if (!fs->rbuf) {
		handle_free(fs);
		return NULL;
	}
	return fs;
}

const char *daxfs_default_socket(void)
{
	return DAXFS_SOCKET_PATH;
}

int daxfs_open(struct daxfs **out, const char *socket_path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv;
	struct daxfs *fs;
	int ret;

	if (!out)
		return lib_err(-EINVAL, "daxfs_open: no handle pointer");
	*out = NULL;
	if (!socket_path)
		socket_path = getenv("DAXFS_SOCKET");
	if (!socket_path || !*socket_path)
		socket_path = DAXFS_SOCKET_PATH;
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return lib_err(-ENAMETOOLONG, "%s: socket path too long", socket_path);
	strcpy(sa.sun_path, socket_path);

	fs = handle_alloc();
	if (!fs)
		return lib_err(-ENOMEM, "out of memory");
	fs->timeout_ms = env_int("DAXFS_TIMEOUT_MS", LIB_TIMEOUT_MS_DEFAULT, 1, INT_MAX / 2);
	fs->spin_us = env_int("DAXFS_SPIN_US", LIB_SPIN_US_DEFAULT, 0, LIB_SPIN_US_MAX);

	fs->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fs->sock < 0) {
		ret = lib_err(-errno, "socket: %s", strerror(errno));
		goto err_free;
	}
	tv.tv_sec = fs->timeout_ms / 1000;
	tv.tv_usec = (fs->timeout_ms % 1000) * 1000;
	setsockopt(fs->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (connect(fs->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == EINTR)
			continue;
		ret = errno == EPROTOTYPE ? -EPROTO : -errno;
		lib_err(ret, "%s: cannot connect: %s", socket_path, strerror(errno));
		goto err_free;
	}
	ret = hello(fs);
	if (ret < 0)
		goto err_free;
	*out = fs;
	return 0;

err_free:
	handle_free(fs);
	return ret;
}

void daxfs_close(struct daxfs *fs)
{
	if (!fs)
		return;
	lib_sigbus_close(fs);
	daxfs_event_thread_stop(fs);
	map_detach_all(fs);
	handle_free(fs);
}
