// SPDX-License-Identifier: MIT
/*
 * libdaxfs - the session with daxfsd: connect and HELLO, requests in flight matched to
 * their replies by id, the reader role (libdaxfs-private.h describes the threading model),
 * errors, copy I/O and the namespace calls. Mappings and what events do to them: map.c.
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
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "libdaxfs-private.h"
#include "util.h"

#define HDR_SIZE sizeof(struct wire_hdr)
#define RECV_FDS_MAX 4		  /* fds we make room for in one packet (one is legitimate) */
#define SHM_SIZE_MAX (1ULL << 30) /* a shared buffer larger than this is not a daxfsd's */
#define READDIR_BATCH 1024

enum {
	RECV_DISPATCHED = 0, /* a reply went to its slot (or a stray packet was dropped) */
	RECV_EVENT = 1,	     /* an event was copied out */
};

/* The calling thread's last failure, for daxfs_errormsg(). */
static _Thread_local char errmsg[256];

int lib_err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	return err;
}

const char *daxfs_errormsg(void)
{
	return errmsg;
}

/* errstr - strerror() without its static buffer. */
static const char *errstr(int err, char *buf, size_t len)
{
	return strerror_r(err < 0 ? -err : err, buf, len);
}

void lib_log(struct daxfs *fs, const char *fmt, ...)
{
	void (*fn)(void *ctx, const char *msg);
	char msg[512];
	void *ctx;
	va_list ap;

	pthread_mutex_lock(&fs->lock);
	fn = fs->log_fn;
	ctx = fs->log_ctx;
	pthread_mutex_unlock(&fs->lock);
	if (!fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fn(ctx, msg);
}

void daxfs_set_log(struct daxfs *fs, void (*fn)(void *ctx, const char *msg), void *ctx)
{
	if (!fs)
		return;
	pthread_mutex_lock(&fs->lock);
	fs->log_fn = fn;
	fs->log_ctx = ctx;
	pthread_mutex_unlock(&fs->lock);
}

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

static struct timespec ns_to_timespec(uint64_t ns)
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
	struct timespec ts = ns_to_timespec(deadline);

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
static void __session_break(struct daxfs *fs)
{
	if (fs->broken)
		return;
	fs->broken = -ECONNRESET;
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
static void __reader_release(struct daxfs *fs, const struct lib_slot *self)
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
	__session_break(fs);
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
		struct timespec ts = ns_to_timespec(deadline - now);

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
	int fd = -1;
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
static int reader_recv(struct daxfs *fs, uint64_t deadline, bool block, struct lib_event *ev)
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
				__session_break(fs);
				break;
			}
			continue;
		}
		fs->reader = true;
		am_reader = true;
		pthread_mutex_unlock(&fs->lock);
		r = reader_recv(fs, deadline, true, &ev);
		pthread_mutex_lock(&fs->lock);
		if (r == RECV_EVENT) {
			__reader_release(fs, s);
			am_reader = false;
			pthread_mutex_unlock(&fs->lock);
			map_handle_event(fs, &ev);
			pthread_mutex_lock(&fs->lock);
		} else if (r < 0) {
			ret = r;
			__session_break(fs);
			break;
		}
	}
	if (am_reader)
		__reader_release(fs, s);
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
	pthread_mutex_lock(&fs->lock);
	if (fs->broken) {
		pthread_mutex_unlock(&fs->lock);
		return lib_err(fs->broken, "%s: the session with daxfsd is gone", pre);
	}
	s->op = op;
	s->state = SLOT_WAIT;
	pthread_mutex_unlock(&fs->lock);

	ret = send_msg(fs, s->req, len);
	if (ret == 0)
		ret = wait_reply(fs, s, lib_deadline_ns(fs));
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
		return lib_err(r.status, "%s: %s", pre, errstr(r.status, eb, sizeof(eb)));
	return 0;
}

/* --- session --- */

/* hello - say HELLO, take the limits and map the shared buffer. */
static int hello(struct daxfs *fs)
{
	struct wire_hello h = {.version = WIRE_VERSION};
	struct wire_hello_reply rep;
	struct lib_slot *s;
	struct wire_msg m;
	struct stat st;
	int ret;

	ret = lib_slot_get(fs, &s);
	if (ret < 0)
		return ret;
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
	fs->shm = mmap(NULL, rep.shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	if (fs->shm == MAP_FAILED) {
		int err = errno;

		fs->shm = NULL;
		ret = lib_err(err == ENOMEM ? -ENOMEM : -EPROTO,
			      "HELLO: cannot map the shared buffer: %s", strerror(err));
		goto out;
	}
	fs->shm_size = rep.shm_size;
	ret = 0;
out:
	lib_slot_put(fs, s);
	return ret;
}

static void handle_free(struct daxfs *fs)
{
	if (fs->sock >= 0)
		close(fs->sock);
	if (fs->shm)
		munmap(fs->shm, fs->shm_size);
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

/* --- events --- */

int daxfs_event_fd(struct daxfs *fs)
{
	if (!fs)
		return lib_err(-EINVAL, "daxfs_event_fd: no handle");
	return fs->sock;
}

/*
 * process_events - read what has arrived without blocking; *@busy when another thread
 * held the reader role (it handles what arrives).
 * Return: events handled (that concerned a mapping of this handle); -ECONNRESET.
 */
static int process_events(struct daxfs *fs, bool *busy)
{
	bool am_reader = false;
	struct lib_event ev;
	int handled = 0, ret = 0, r;

	*busy = false;
	pthread_mutex_lock(&fs->lock);
	for (;;) {
		if (fs->broken) {
			ret = fs->broken;
			break;
		}
		if (!am_reader) {
			if (fs->reader) {
				*busy = true;
				break;
			}
			fs->reader = true;
			am_reader = true;
		}
		pthread_mutex_unlock(&fs->lock);
		r = reader_recv(fs, 0, false, &ev);
		pthread_mutex_lock(&fs->lock);
		if (r == -EAGAIN)
			break;
		if (r == RECV_EVENT) {
			__reader_release(fs, NULL);
			am_reader = false;
			pthread_mutex_unlock(&fs->lock);
			handled += map_handle_event(fs, &ev);
			pthread_mutex_lock(&fs->lock);
		} else if (r < 0) {
			ret = r;
			__session_break(fs);
			break;
		}
	}
	if (am_reader)
		__reader_release(fs, NULL);
	pthread_mutex_unlock(&fs->lock);
	if (handled)
		return handled;
	if (ret)
		return lib_err(ret, "the session with daxfsd is gone");
	return 0;
}

int daxfs_process_events(struct daxfs *fs)
{
	bool busy;

	if (!fs)
		return lib_err(-EINVAL, "daxfs_process_events: no handle");
	return process_events(fs, &busy);
}

static void *event_thread(void *arg)
{
	struct daxfs *fs = arg;
	struct pollfd pfd[2] = {
		{.fd = fs->sock, .events = POLLIN},
		{.fd = fs->ev_stop_fd, .events = POLLIN},
	};
	bool busy;

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			lib_log(fs, "libdaxfs: event thread: poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents)
			break;
		if (!pfd[0].revents)
			continue;
		if (process_events(fs, &busy) < 0) {
			lib_log(fs, "libdaxfs: event thread: the session with daxfsd is gone");
			break;
		}
		if (!busy)
			continue;
		/* Another thread reads the socket: wait until it lets go. */
		pthread_mutex_lock(&fs->lock);
		while (fs->reader && !fs->ev_stop && !fs->broken)
			pthread_cond_wait(&fs->idle_cond, &fs->lock);
		pthread_mutex_unlock(&fs->lock);
	}
	return NULL;
}

int daxfs_event_thread_start(struct daxfs *fs)
{
	sigset_t all, old;
	int ret;

	if (!fs)
		return lib_err(-EINVAL, "daxfs_event_thread_start: no handle");
	pthread_mutex_lock(&fs->ev_lock);
	if (fs->ev_running) {
		pthread_mutex_unlock(&fs->ev_lock);
		return 0;
	}
	fs->ev_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fs->ev_stop_fd < 0) {
		ret = lib_err(-errno, "eventfd: %s", strerror(errno));
		goto out;
	}
	pthread_mutex_lock(&fs->lock);
	fs->ev_stop = false;
	pthread_mutex_unlock(&fs->lock);
	/* The thread takes no signal meant for the application. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&fs->ev_thread, NULL, event_thread, fs);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret < 0) {
		lib_err(ret, "cannot start the event thread: %s", strerror(-ret));
		close(fs->ev_stop_fd);
		fs->ev_stop_fd = -1;
		goto out;
	}
	fs->ev_running = true;
out:
	pthread_mutex_unlock(&fs->ev_lock);
	return ret;
}

void daxfs_event_thread_stop(struct daxfs *fs)
{
	uint64_t one = 1;

	if (!fs)
		return;
	pthread_mutex_lock(&fs->ev_lock);
	if (!fs->ev_running) {
		pthread_mutex_unlock(&fs->ev_lock);
		return;
	}
	if (pthread_equal(pthread_self(), fs->ev_thread)) {
		pthread_mutex_unlock(&fs->ev_lock);
		lib_log(fs, "libdaxfs: daxfs_event_thread_stop called from the event thread");
		return;
	}
	pthread_mutex_lock(&fs->lock);
	fs->ev_stop = true;
	pthread_cond_broadcast(&fs->idle_cond);
	pthread_mutex_unlock(&fs->lock);
	if (write(fs->ev_stop_fd, &one, sizeof(one)) < 0)
		lib_log(fs, "libdaxfs: cannot wake the event thread: %s", strerror(errno));
	pthread_join(fs->ev_thread, NULL);
	close(fs->ev_stop_fd);
	fs->ev_stop_fd = -1;
	fs->ev_running = false;
	pthread_mutex_unlock(&fs->ev_lock);
}

/* --- names and attributes --- */

/* path_size - bytes of @path with its NUL, checked against the protocol's limit. */
static int path_size(const char *path, uint32_t *out)
{
	size_t n;

	if (!path)
		return lib_err(-EINVAL, "no path");
	/* The daemon would refuse it as a malformed message (EBADMSG): say what it is. */
	if (path[0] != '/')
		return lib_err(-EINVAL, "'%.64s': not an absolute path", path);
	n = strlen(path) + 1;
	if (n > WIRE_PATH_MAX)
		return lib_err(-ENAMETOOLONG, "%.64s...: path longer than %d bytes", path,
			       WIRE_PATH_MAX - 1);
	*out = (uint32_t)n;
	return 0;
}

static void attr_to_stat(const struct wire_attr *a, struct daxfs_stat *st)
{
	st->ino = a->ino;
	st->mode = a->mode;
	st->uid = a->uid;
	st->gid = a->gid;
	st->nlink = a->nlink;
	st->size = a->size;
	st->blocks = a->blocks;
	st->atime_ns = a->atime;
	st->mtime_ns = a->mtime;
	st->ctime_ns = a->ctime;
}

/* attr_reply - copy the attr of a wire_attr_reply in @s to @st (when not NULL). */
static void attr_reply(struct lib_slot *s, struct daxfs_stat *st)
{
	struct wire_attr_reply rep;

	if (!st)
		return;
	memcpy(&rep, lib_reply_body(s), sizeof(rep));
	attr_to_stat(&rep.a, st);
}

/*
 * call - one request: @body (@blen bytes) followed by up to two counted paths; @what names
 * the object in error details. The reply's attr goes to @st when @st is not NULL.
 */
static int call(struct daxfs *fs, unsigned op, const void *body, size_t blen, const char *p1,
		uint32_t l1, const char *p2, uint32_t l2, const char *what, struct daxfs_stat *st)
{
	struct lib_slot *s;
	struct wire_msg m;
	int ret;

	ret = lib_slot_get(fs, &s);
	if (ret < 0)
		return ret;
	wire_msg_init(&m, s->req, op, 0, s->id);
	if (blen)
		wire_msg_put(&m, body, blen, false);
	if (p1)
		wire_msg_put(&m, p1, l1, false);
	if (p2)
		wire_msg_put(&m, p2, l2, false);
	ret = lib_call(fs, s, &m, op, what);
	if (ret == 0 && st)
		attr_reply(s, st);
	lib_slot_put(fs, s);
	return ret;
}

int lib_path_size(const char *path, uint32_t *out)
{
	return path_size(path, out);
}

int lib_call_attr(struct daxfs *fs, unsigned op, const void *body, size_t blen, const char *p1,
		  uint32_t l1, const char *p2, uint32_t l2, const char *what,
		  struct wire_attr *attr)
{
	struct wire_attr_reply rep;
	struct lib_slot *s;
	struct wire_msg m;
	int ret;

	ret = lib_slot_get(fs, &s);
	if (ret < 0)
		return ret;
	wire_msg_init(&m, s->req, op, 0, s->id);
	if (blen)
		wire_msg_put(&m, body, blen, false);
	if (p1)
		wire_msg_put(&m, p1, l1, false);
	if (p2)
		wire_msg_put(&m, p2, l2, false);
	ret = lib_call(fs, s, &m, op, what);
	if (ret == 0 && attr) {
		memcpy(&rep, lib_reply_body(s), sizeof(rep));
		*attr = rep.a;
	}
	lib_slot_put(fs, s);
	return ret;
}

/* ino_call - a request about inode @ino whose body is @body. */
static int ino_call(struct daxfs *fs, unsigned op, const void *body, size_t blen, uint64_t ino,
		    struct daxfs_stat *st)
{
	char what[32];

	snprintf(what, sizeof(what), "inode %llu", (unsigned long long)ino);
	return call(fs, op, body, blen, NULL, 0, NULL, 0, what, st);
}

/* path_call - a request whose body is one wire_path; the reply's attr goes to @st. */
static int path_call(struct daxfs *fs, unsigned op, const char *path, struct daxfs_stat *st)
{
	struct wire_path p = {0};
	int ret;

	if (!fs)
		return lib_err(-EINVAL, "no handle");
	ret = path_size(path, &p.path_len);
	if (ret < 0)
		return ret;
	return call(fs, op, &p, sizeof(p), path, p.path_len, NULL, 0, path, st);
}

int daxfs_stat(struct daxfs *fs, const char *path, struct daxfs_stat *st)
{
	if (!st)
		return lib_err(-EINVAL, "daxfs_stat: no stat buffer");
	return path_call(fs, WIRE_STAT, path, st);
}

int daxfs_getattr(struct daxfs *fs, uint64_t ino, struct daxfs_stat *st)
{
	struct wire_getattr g = {.ino = ino};

	if (!fs || !st)
		return lib_err(-EINVAL, "daxfs_getattr: no handle or stat buffer");
	return ino_call(fs, WIRE_GETATTR, &g, sizeof(g), ino, st);
}

int daxfs_statfs(struct daxfs *fs, struct daxfs_statfs *st)
{
	struct wire_statfs_reply rep;
	struct lib_slot *s;
	struct wire_msg m;
	int ret;

	if (!fs || !st)
		return lib_err(-EINVAL, "daxfs_statfs: no handle or statfs buffer");
	ret = lib_slot_get(fs, &s);
	if (ret < 0)
		return ret;
	wire_msg_init(&m, s->req, WIRE_STATFS, 0, s->id);
	ret = lib_call(fs, s, &m, WIRE_STATFS, NULL);
	if (ret == 0) {
		memcpy(&rep, lib_reply_body(s), sizeof(rep));
		st->block_size = rep.block_size;
		st->blocks = rep.blocks;
		st->blocks_free = rep.blocks_free;
		st->blocks_quarantined = rep.blocks_quarantined;
		st->files = rep.files;
		st->files_free = rep.files_free;
		st->log_used = rep.log_used;
		st->log_len = rep.log_len;
		st->map_trust = (int)MIN(rep.map_trust, 2u);
		snprintf(st->kind, sizeof(st->kind), "%s", wire_kind_name(rep.kind));
		snprintf(st->granularity, sizeof(st->granularity), "%s",
			 wire_granularity_name(rep.granularity));
		st->alignment = rep.alignment;
		st->blocks_reserved = rep.blocks_reserved;
		st->log_reserved = rep.log_reserved;
	}
	lib_slot_put(fs, s);
	return ret;
}

/* mknode - MKDIR or CREATE. */
static int mknode(struct daxfs *fs, unsigned op, const char *path, uint32_t mode, uint32_t flags,
		  struct daxfs_stat *st)
{
	struct wire_mknode n = {.mode = mode & 07777, .flags = flags};
	int ret;

	if (!fs)
		return lib_err(-EINVAL, "no handle");
	ret = path_size(path, &n.path_len);
	if (ret < 0)
		return ret;
	return call(fs, op, &n, sizeof(n), path, n.path_len, NULL, 0, path, st);
}

int daxfs_mkdir(struct daxfs *fs, const char *path, uint32_t mode, struct daxfs_stat *st)
{
	return mknode(fs, WIRE_MKDIR, path, mode, 0, st);
}

int daxfs_create(struct daxfs *fs, const char *path, uint32_t mode, int flags,
		 struct daxfs_stat *st)
{
	struct daxfs_stat cur;
	int ret;

	if (flags & ~DAXFS_CREATE_EXCL)
		return lib_err(-EINVAL, "daxfs_create: unknown flags 0x%x", (unsigned)flags);
	ret = mknode(fs, WIRE_CREATE, path, mode,
		     (flags & DAXFS_CREATE_EXCL) ? WIRE_CREATE_EXCL : 0, st);
	if (ret != -EEXIST || (flags & DAXFS_CREATE_EXCL))
		return ret;
	/* Without EXCL an existing file is the answer, whatever the daemon's CREATE does. */
	ret = daxfs_stat(fs, path, &cur);
	if (ret < 0)
		return ret;
	if (S_ISDIR(cur.mode))
		return lib_err(-EISDIR, "CREATE %s: a directory", path);
	if (!S_ISREG(cur.mode))
		return lib_err(-EEXIST, "CREATE %s: exists and is not a regular file", path);
	if (st)
		*st = cur;
	return 0;
}

int daxfs_unlink(struct daxfs *fs, const char *path)
{
	return path_call(fs, WIRE_UNLINK, path, NULL);
}

int daxfs_rmdir(struct daxfs *fs, const char *path)
{
	return path_call(fs, WIRE_RMDIR, path, NULL);
}

int daxfs_rename(struct daxfs *fs, const char *oldpath, const char *newpath, int flags)
{
	struct wire_rename r = {.flags = (uint32_t)flags};
	int ret;

	if (!fs)
		return lib_err(-EINVAL, "no handle");
	if (flags & ~(DAXFS_RENAME_NOREPLACE | DAXFS_RENAME_EXCHANGE))
		return lib_err(-EINVAL, "daxfs_rename: unknown flags 0x%x", (unsigned)flags);
	ret = path_size(oldpath, &r.old_len);
	if (ret == 0)
		ret = path_size(newpath, &r.new_len);
	if (ret < 0)
		return ret;
	return call(fs, WIRE_RENAME, &r, sizeof(r), oldpath, r.old_len, newpath, r.new_len, oldpath,
		    NULL);
}

#define SET_ALL                                                                              \
	(DAXFS_SET_MODE | DAXFS_SET_UID | DAXFS_SET_GID | DAXFS_SET_SIZE | DAXFS_SET_ATIME | \
	 DAXFS_SET_MTIME | DAXFS_SET_ATIME_NOW | DAXFS_SET_MTIME_NOW)

int daxfs_setattr(struct daxfs *fs, uint64_t ino, unsigned valid, const struct daxfs_stat *to,
		  struct daxfs_stat *st)
{
	struct wire_setattr a = {.ino = ino, .valid = valid};

	if (!fs)
		return lib_err(-EINVAL, "no handle");
	if (valid & ~(unsigned)SET_ALL)
		return lib_err(-EINVAL, "daxfs_setattr: unknown bits 0x%x", valid);
	if ((valid & ~(unsigned)(DAXFS_SET_ATIME_NOW | DAXFS_SET_MTIME_NOW)) && !to)
		return lib_err(-EINVAL, "daxfs_setattr: no attributes to set");
	if (to) {
		a.mode = to->mode & 07777;
		a.uid = to->uid;
		a.gid = to->gid;
		a.size = to->size;
		a.atime = to->atime_ns;
		a.mtime = to->mtime_ns;
	}
	return ino_call(fs, WIRE_SETATTR, &a, sizeof(a), ino, st);
}

int daxfs_truncate(struct daxfs *fs, const char *path, uint64_t size)
{
	struct daxfs_stat st, to = {.size = size};
	int ret;

	ret = daxfs_stat(fs, path, &st);
	if (ret < 0)
		return ret;
	return daxfs_setattr(fs, st.ino, DAXFS_SET_SIZE, &to, NULL);
}

/* readdir_batch - call @fn for the entries of one READDIR reply in @s. */
static int readdir_batch(struct lib_slot *s, uint32_t count, daxfs_readdir_fn fn, void *ctx)
{
	size_t off = HDR_SIZE + sizeof(struct wire_readdir_reply);
	char name[WIRE_NAME_MAX + 1];

	for (uint32_t i = 0; i < count; i++) {
		struct wire_dirent d;
		int ret;

		if (off > s->len || s->len - off < sizeof(d))
			return lib_err(-EPROTO, "READDIR: truncated entry list");
		memcpy(&d, s->buf + off, sizeof(d));
		if (d.name_len == 0 || d.name_len > WIRE_NAME_MAX ||
		    s->len - off - sizeof(d) < d.name_len)
			return lib_err(-EPROTO, "READDIR: a bad entry");
		memcpy(name, s->buf + off + sizeof(d), d.name_len);
		name[d.name_len] = '\0';
		off += ALIGN_UP(sizeof(d) + d.name_len, (size_t)8);
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		ret = fn(ctx, name, d.ino, d.mode);
		if (ret)
			return ret;
	}
	return 0;
}

int daxfs_readdir(struct daxfs *fs, const char *path, daxfs_readdir_fn fn, void *ctx)
{
	struct wire_readdir r = {.max = READDIR_BATCH};
	struct wire_readdir_reply rep;
	struct lib_slot *s;
	struct wire_msg m;
	int ret;

	if (!fs || !fn)
		return lib_err(-EINVAL, "daxfs_readdir: no handle or callback");
	ret = path_size(path, &r.path_len);
	if (ret < 0)
		return ret;
	for (;;) {
		ret = lib_slot_get(fs, &s);
		if (ret < 0)
			return ret;
		wire_msg_init(&m, s->req, WIRE_READDIR, 0, s->id);
		wire_msg_put(&m, &r, sizeof(r), false);
		wire_msg_put(&m, path, r.path_len, false);
		ret = lib_call(fs, s, &m, WIRE_READDIR, path);
		if (ret < 0)
			break;
		memcpy(&rep, lib_reply_body(s), sizeof(rep));
		ret = readdir_batch(s, rep.count, fn, ctx);
		if (ret)
			break;
		if (rep.eof)
			break;
		if (rep.next_cookie == r.cookie) {
			ret = lib_err(-EPROTO, "READDIR %s: the listing does not advance", path);
			break;
		}
		r.cookie = rep.next_cookie;
		lib_slot_put(fs, s);
	}
	lib_slot_put(fs, s);
	return ret;
}

/* --- copy I/O --- */

/*
 * io_once - one READ or WRITE of @len bytes at @off: inline, or through the shared buffer
 * when @shm (the caller holds fs->shm_lock).
 * Return: bytes read / written; a negative errno.
 */
static ssize_t io_once(struct daxfs *fs, unsigned op, uint64_t ino, void *rbuf, const void *wbuf,
		       size_t len, uint64_t off, bool shm)
{
	struct wire_io io = {.ino = ino, .off = off, .len = (uint32_t)len};
	struct wire_io_reply rep;
	struct wire_hdr hdr;
	struct lib_slot *s;
	struct wire_msg m;
	char what[48];
	ssize_t ret;

	ret = lib_slot_get(fs, &s);
	if (ret < 0)
		return ret;
	snprintf(what, sizeof(what), "inode %llu at %llu", (unsigned long long)ino,
		 (unsigned long long)off);
	wire_msg_init(&m, s->req, op, shm ? WIRE_F_SHM : 0, s->id);
	wire_msg_put(&m, &io, sizeof(io), false);
	if (op == WIRE_WRITE) {
		if (shm)
			memcpy(fs->shm, wbuf, len);
		else
			wire_msg_put(&m, wbuf, len, false);
	}
	ret = lib_call(fs, s, &m, op, what);
	if (ret < 0)
		goto out;
	memcpy(&hdr, s->buf, HDR_SIZE);
	memcpy(&rep, lib_reply_body(s), sizeof(rep));
	if (rep.count > len) {
		ret = lib_err(-EPROTO, "%s %s: %llu bytes for a request of %zu", wire_op_name(op),
			      what, (unsigned long long)rep.count, len);
		goto out;
	}
	if (op == WIRE_READ) {
		size_t inline_at = HDR_SIZE + sizeof(rep);

		if (hdr.flags & WIRE_F_SHM) {
			if (!shm) {
				ret = lib_err(-EPROTO, "READ %s: data in a shared buffer not ours",
					      what);
				goto out;
			}
			memcpy(rbuf, fs->shm, rep.count);
		} else {
			if (s->len - inline_at != rep.count) {
				ret = lib_err(-EPROTO, "READ %s: inline data of the wrong size",
					      what);
				goto out;
			}
			memcpy(rbuf, s->buf + inline_at, rep.count);
		}
	}
	ret = (ssize_t)rep.count;
out:
	lib_slot_put(fs, s);
	return ret;
}

/* io_loop - the whole of a daxfs_pread / daxfs_pwrite. */
static ssize_t io_loop(struct daxfs *fs, unsigned op, uint64_t ino, void *rbuf, const void *wbuf,
		       size_t len, uint64_t off)
{
	bool shm = fs->shm && len > fs->inline_max;
	size_t chunk_max = shm ? MIN(fs->shm_size, (size_t)WIRE_SHM_SIZE) : fs->inline_max;
	size_t done = 0;
	ssize_t ret = 0;

	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	if (shm)
		pthread_mutex_lock(&fs->shm_lock);
	while (done < len) {
		size_t chunk = MIN(len - done, chunk_max);

		ret = io_once(fs, op, ino, rbuf ? (char *)rbuf + done : NULL,
			      wbuf ? (const char *)wbuf + done : NULL, chunk, off + done, shm);
		if (ret < 0)
			break;
		done += (size_t)ret;
		if ((size_t)ret < chunk)
			break;
	}
	if (shm)
		pthread_mutex_unlock(&fs->shm_lock);
	/* As pread(2): an error after some bytes is a short count. */
	return done > 0 ? (ssize_t)done : (ret < 0 ? ret : 0);
}

ssize_t daxfs_pread(struct daxfs *fs, uint64_t ino, void *buf, size_t len, uint64_t off)
{
	if (!fs || (!buf && len))
		return lib_err(-EINVAL, "daxfs_pread: no handle or buffer");
	if (len == 0)
		return 0;
	return io_loop(fs, WIRE_READ, ino, buf, NULL, len, off);
}

ssize_t daxfs_pwrite(struct daxfs *fs, uint64_t ino, const void *buf, size_t len, uint64_t off)
{
	if (!fs || (!buf && len))
		return lib_err(-EINVAL, "daxfs_pwrite: no handle or buffer");
	if (len == 0)
		return 0;
	return io_loop(fs, WIRE_WRITE, ino, NULL, buf, len, off);
}

int daxfs_fallocate(struct daxfs *fs, uint64_t ino, int mode, uint64_t off, uint64_t len)
{
	struct wire_fallocate f = {.ino = ino, .mode = (uint32_t)mode, .off = off, .len = len};

	if (!fs)
		return lib_err(-EINVAL, "no handle");
	if (mode & ~(DAXFS_FALLOC_KEEP_SIZE | DAXFS_FALLOC_PUNCH_HOLE))
		return lib_err(-EINVAL, "daxfs_fallocate: unknown mode 0x%x", (unsigned)mode);
	return ino_call(fs, WIRE_FALLOCATE, &f, sizeof(f), ino, NULL);
}

int daxfs_fsync(struct daxfs *fs, uint64_t ino)
{
	struct wire_fsync f = {.ino = ino};

	if (!fs)
		return lib_err(-EINVAL, "no handle");
	return ino_call(fs, WIRE_FSYNC, &f, sizeof(f), ino, NULL);
}
