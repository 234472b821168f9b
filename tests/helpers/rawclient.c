// SPDX-License-Identifier: MIT
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "rawclient.h"
#include "testutil.h"

int raw_connect(const char *sock)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	T_ASSERT(fd >= 0);
	T_ASSERT(strlen(sock) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, sock);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		T_FAIL("connect %s: %s", sock, strerror(errno));
	return fd;
}

int raw_send(int fd, const void *buf, size_t len, const int *fds, int nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(16 * sizeof(int))];
	} cm;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	T_ASSERT(nfds >= 0 && nfds <= 16);
	if (nfds) {
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
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);

		if (n >= 0) {
			T_ASSERT((size_t)n == len);
			return 0;
		}
		if (errno != EINTR)
			return -errno;
	}
}

int raw_recv(int fd, struct raw_pkt *pkt, int timeout_ms, bool keep_fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(16 * sizeof(int))];
	} cm;
	struct iovec iov = {.iov_base = pkt->buf, .iov_len = sizeof(pkt->buf)};
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cm.buf,
		.msg_controllen = sizeof(cm.buf),
	};
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t n;
	int r;

	pkt->len = 0;
	pkt->nfds = 0;
	pkt->fd = -1;
	memset(&pkt->hdr, 0, sizeof(pkt->hdr));
	do {
		r = poll(&pfd, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	T_ASSERT(r >= 0);
	if (r == 0)
		return -ETIMEDOUT;
	do {
		n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == ECONNRESET || errno == EPIPE))
		return 0;
	if (n < 0)
		T_FAIL("recvmsg: %s", strerror(errno));
	T_ASSERT(!(msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)));
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int rfd;

			memcpy(&rfd, CMSG_DATA(c) + i * sizeof(int), sizeof(rfd));
			if (keep_fd && pkt->fd < 0)
				pkt->fd = rfd;
			else
				close(rfd);
			pkt->nfds++;
		}
	}
	if (n == 0 && pkt->nfds == 0)
		return 0;
	pkt->len = (size_t)n;
	if (pkt->len >= sizeof(pkt->hdr))
		memcpy(&pkt->hdr, pkt->buf, sizeof(pkt->hdr));
	return 1;
}

int32_t raw_status(const struct raw_pkt *pkt)
{
	int32_t st;

	T_ASSERT(pkt->len >= sizeof(struct wire_hdr) + sizeof(st));
	memcpy(&st, (const uint8_t *)pkt->buf + sizeof(struct wire_hdr), sizeof(st));
	return st;
}

static struct raw_pkt *scratch_pkt(void)
{
	static _Thread_local struct raw_pkt *p;

	if (!p) {
		p = malloc(sizeof(*p));
		T_ASSERT(p);
	}
	return p;
}

void raw_expect_reply(int fd, struct raw_pkt *pkt, unsigned op, uint64_t id, int err)
{
	int r = raw_recv(fd, pkt, RAW_TIMEOUT_MS, false);

	if (r != 1)
		T_FAIL("%s id %" PRIu64 ": %s instead of a reply", wire_op_name(op), id,
		       r == 0 ? "the end of the session" : "nothing");
	if (pkt->len < sizeof(struct wire_hdr) + 8)
		T_FAIL("%s id %" PRIu64 ": a reply of %zu bytes", wire_op_name(op), id, pkt->len);
	if (pkt->hdr.op != (uint16_t)(WIRE_REPLY | op) || pkt->hdr.id != id)
		T_FAIL("expected the reply to op 0x%x id %" PRIu64 ", got op 0x%x id %" PRIu64
		       " (status %d)",
		       op, id, pkt->hdr.op, pkt->hdr.id, raw_status(pkt));
	if (pkt->hdr.len != pkt->len)
		T_FAIL("reply to op 0x%x: header length %u, packet %zu", op, pkt->hdr.len,
		       pkt->len);
	if (raw_status(pkt) != err)
		T_FAIL("reply to op 0x%x id %" PRIu64 ": status %d (%s), expected %d (%s)", op, id,
		       raw_status(pkt), strerror(-raw_status(pkt)), err, strerror(-err));
}

void raw_expect_error(int fd, unsigned op, uint64_t id, int err)
{
	struct raw_pkt *pkt = scratch_pkt();
	int size = (op & 0xffu) == op ? wire_reply_size(op) : -1;
	const uint8_t *b;

	T_ASSERT(err < 0);
	raw_expect_reply(fd, pkt, op, id, err);
	if (size < 0)
		size = 8;
	if (pkt->len != sizeof(struct wire_hdr) + (size_t)size)
		T_FAIL("error reply to op 0x%x: %zu bytes, expected %zu", op, pkt->len,
		       sizeof(struct wire_hdr) + (size_t)size);
	if (pkt->hdr.flags != 0 || pkt->nfds != 0)
		T_FAIL("error reply to op 0x%x: flags 0x%x, %d fds", op, pkt->hdr.flags, pkt->nfds);
	b = (const uint8_t *)pkt->buf + sizeof(struct wire_hdr);
	for (int i = 4; i < size; i++) {
		if (b[i])
			T_FAIL("error reply to op 0x%x: byte %d of the body is 0x%x, not 0", op, i,
			       b[i]);
	}
}

void raw_expect_eof(int fd)
{
	struct raw_pkt *pkt = scratch_pkt();
	int r = raw_recv(fd, pkt, RAW_TIMEOUT_MS, false);

	if (r == 1)
		T_FAIL("expected the end of the session, got a packet of %zu bytes (op 0x%x, "
		       "status %d)",
		       pkt->len, pkt->hdr.op,
		       pkt->len >= sizeof(struct wire_hdr) + 4 ? raw_status(pkt) : 0);
	if (r != 0)
		T_FAIL("the daemon did not close the session within %d ms", RAW_TIMEOUT_MS);
}

void raw_expect_quiet(int fd, int ms)
{
	struct raw_pkt *pkt = scratch_pkt();
	int r = raw_recv(fd, pkt, ms, false);

	if (r == 1)
		T_FAIL("expected nothing, got a packet of %zu bytes (op 0x%x id %" PRIu64 ")",
		       pkt->len, pkt->hdr.op, pkt->hdr.id);
	if (r == 0)
		T_FAIL("expected nothing, the session ended");
}

void raw_hello(struct raw *r, const char *sock)
{
	struct raw_pkt *pkt = malloc(sizeof(*pkt));
	uint8_t buf[64];
	struct wire_hello_reply rep;
	struct stat st;
	size_t len;

	T_ASSERT(pkt);
	memset(r, 0, sizeof(*r));
	r->fd = raw_connect(sock);
	r->next_id = 1;
	len = raw_msg_hello(buf, 1000, WIRE_VERSION);
	T_OK(raw_send(r->fd, buf, len, NULL, 0));
	if (raw_recv(r->fd, pkt, RAW_TIMEOUT_MS, true) != 1)
		T_FAIL("no HELLO reply");
	if (pkt->hdr.op != (WIRE_REPLY | WIRE_HELLO) || pkt->hdr.id != 1000 ||
	    pkt->len != sizeof(struct wire_hdr) + sizeof(rep) || raw_status(pkt) != 0)
		T_FAIL("a bad HELLO reply: op 0x%x id %" PRIu64 " len %zu status %d", pkt->hdr.op,
		       pkt->hdr.id, pkt->len, raw_status(pkt));
	T_ASSERT(pkt->hdr.flags == WIRE_F_FD && pkt->nfds == 1 && pkt->fd >= 0);
	memcpy(&rep, (uint8_t *)pkt->buf + sizeof(struct wire_hdr), sizeof(rep));
	T_ASSERT(rep.version == WIRE_VERSION);
	T_ASSERT(rep.msg_max == WIRE_MSG_MAX);
	T_ASSERT(rep.inflight_max == WIRE_INFLIGHT_MAX);
	T_ASSERT(rep.inline_max == WIRE_INLINE_MAX);
	T_ASSERT(rep.shm_size == WIRE_SHM_SIZE);
	T_ASSERT(rep.session >= 1);
	/* The shared buffer: a memfd of shm_size bytes, sealed against resizing. */
	T_ASSERT(fstat(pkt->fd, &st) == 0 && (uint64_t)st.st_size == rep.shm_size);
	T_ASSERT(ftruncate(pkt->fd, 0) < 0 && errno == EPERM);
	r->shm = mmap(NULL, rep.shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, pkt->fd, 0);
	T_ASSERT(r->shm != MAP_FAILED);
	close(pkt->fd);
	r->session = rep.session;
	free(pkt);
}

void raw_close(struct raw *r)
{
	if (r->shm)
		munmap(r->shm, WIRE_SHM_SIZE);
	if (r->fd >= 0)
		close(r->fd);
	r->shm = NULL;
	r->fd = -1;
}

void raw_call(struct raw *r, const void *buf, size_t len, struct raw_pkt *pkt, int err)
{
	struct wire_hdr h;

	memcpy(&h, buf, sizeof(h));
	T_OK(raw_send(r->fd, buf, len, NULL, 0));
	raw_expect_reply(r->fd, pkt, h.op, h.id, err);
}

/* --- requests --- */

size_t raw_msg_hello(void *buf, uint64_t id, uint32_t version)
{
	struct wire_hello h = {.version = version};
	struct wire_msg m;

	wire_msg_init(&m, buf, WIRE_HELLO, 0, id);
	wire_msg_put(&m, &h, sizeof(h), false);
	return wire_msg_end(&m);
}

size_t raw_msg_statfs(void *buf, uint64_t id)
{
	struct wire_msg m;

	wire_msg_init(&m, buf, WIRE_STATFS, 0, id);
	return wire_msg_end(&m);
}

size_t raw_msg_path(void *buf, unsigned op, uint64_t id, const char *path)
{
	struct wire_path p = {.path_len = (uint32_t)strlen(path) + 1};
	struct wire_msg m;

	wire_msg_init(&m, buf, op, 0, id);
	wire_msg_put(&m, &p, sizeof(p), false);
	wire_msg_put(&m, path, p.path_len, false);
	return wire_msg_end(&m);
}

size_t raw_msg_getattr(void *buf, uint64_t id, uint64_t ino)
{
	struct wire_getattr g = {.ino = ino};
	struct wire_msg m;

	wire_msg_init(&m, buf, WIRE_GETATTR, 0, id);
	wire_msg_put(&m, &g, sizeof(g), false);
	return wire_msg_end(&m);
}

size_t raw_msg_mknode(void *buf, unsigned op, uint64_t id, uint32_t mode, uint32_t flags,
		      const char *path)
{
	struct wire_mknode n = {.mode = mode, .flags = flags};
	struct wire_msg m;

	n.path_len = (uint32_t)strlen(path) + 1;
	wire_msg_init(&m, buf, op, 0, id);
	wire_msg_put(&m, &n, sizeof(n), false);
	wire_msg_put(&m, path, n.path_len, false);
	return wire_msg_end(&m);
}

size_t raw_msg_rename(void *buf, uint64_t id, uint32_t flags, const char *from, const char *to)
{
	struct wire_rename r = {.flags = flags};
	struct wire_msg m;

	r.old_len = (uint32_t)strlen(from) + 1;
	r.new_len = (uint32_t)strlen(to) + 1;
	wire_msg_init(&m, buf, WIRE_RENAME, 0, id);
	wire_msg_put(&m, &r, sizeof(r), false);
	wire_msg_put(&m, from, r.old_len, false);
	wire_msg_put(&m, to, r.new_len, false);
	return wire_msg_end(&m);
}

size_t raw_msg_setattr(void *buf, uint64_t id, uint64_t ino, uint32_t valid, uint32_t mode,
		       uint64_t size)
{
	struct wire_setattr s = {.ino = ino, .valid = valid, .mode = mode, .size = size};
	struct wire_msg m;

	wire_msg_init(&m, buf, WIRE_SETATTR, 0, id);
	wire_msg_put(&m, &s, sizeof(s), false);
	return wire_msg_end(&m);
}

size_t raw_msg_readdir(void *buf, uint64_t id, uint64_t cookie, uint32_t max, const char *path)
{
	struct wire_readdir r = {.cookie = cookie, .max = max};
	struct wire_msg m;

	r.path_len = (uint32_t)strlen(path) + 1;
	wire_msg_init(&m, buf, WIRE_READDIR, 0, id);
	wire_msg_put(&m, &r, sizeof(r), false);
	wire_msg_put(&m, path, r.path_len, false);
	return wire_msg_end(&m);
}

size_t raw_msg_io(void *buf, unsigned op, uint64_t id, bool shm, uint64_t ino, uint64_t off,
		  uint32_t len, const void *data)
{
	struct wire_io io = {.ino = ino, .off = off, .len = len};
	struct wire_msg m;

	wire_msg_init(&m, buf, op, shm ? WIRE_F_SHM : 0, id);
	wire_msg_put(&m, &io, sizeof(io), false);
	if (op == WIRE_WRITE && !shm)
		wire_msg_put(&m, data, len, false);
	return wire_msg_end(&m);
}

size_t raw_msg_fallocate(void *buf, uint64_t id, uint64_t ino, uint32_t mode, uint64_t off,
			 uint64_t len)
{
	struct wire_fallocate f = {.ino = ino, .mode = mode, .off = off, .len = len};
	struct wire_msg m;

	wire_msg_init(&m, buf, WIRE_FALLOCATE, 0, id);
	wire_msg_put(&m, &f, sizeof(f), false);
	return wire_msg_end(&m);
}

size_t raw_msg_fsync(void *buf, uint64_t id, uint64_t ino)
{
	struct wire_fsync f = {.ino = ino};
	struct wire_msg m;

	wire_msg_init(&m, buf, WIRE_FSYNC, 0, id);
	wire_msg_put(&m, &f, sizeof(f), false);
	return wire_msg_end(&m);
}

size_t raw_msg_map(void *buf, uint64_t id, uint64_t ino, uint64_t off, uint64_t len, uint32_t mode)
{
	struct wire_map mp = {.ino = ino, .off = off, .len = len, .mode = mode};
	struct wire_msg m;

	wire_msg_init(&m, buf, WIRE_MAP, 0, id);
	wire_msg_put(&m, &mp, sizeof(mp), false);
	return wire_msg_end(&m);
}

size_t raw_msg_unmap(void *buf, uint64_t id, uint64_t grant)
{
	struct wire_unmap u = {.grant = grant};
	struct wire_msg m;

	wire_msg_init(&m, buf, WIRE_UNMAP, 0, id);
	wire_msg_put(&m, &u, sizeof(u), false);
	return wire_msg_end(&m);
}

size_t raw_msg_ack(void *buf, uint64_t id, uint64_t grant, uint64_t generation)
{
	struct wire_ack a = {.grant = grant, .generation = generation};
	struct wire_msg m;

	wire_msg_init(&m, buf, WIRE_ACK, 0, id);
	wire_msg_put(&m, &a, sizeof(a), false);
	return wire_msg_end(&m);
}

size_t raw_msg_poison_report(void *buf, uint64_t id, uint64_t grant, uint64_t off, uint64_t len)
{
	struct wire_poison_report r = {.grant = grant, .off = off, .len = len};
	struct wire_msg m;

	wire_msg_init(&m, buf, WIRE_POISON_REPORT, 0, id);
	wire_msg_put(&m, &r, sizeof(r), false);
	return wire_msg_end(&m);
}

size_t raw_msg_badblock_clear(void *buf, uint64_t id, uint64_t off, uint64_t len)
{
	struct wire_badblock_clear c = {.off = off, .len = len};

	return raw_msg_fixed(buf, WIRE_BADBLOCK_CLEAR, id, &c, sizeof(c));
}

size_t raw_msg_fixed(void *buf, unsigned op, uint64_t id, const void *body, size_t len)
{
	struct wire_msg m;

	wire_msg_init(&m, buf, op, 0, id);
	if (len)
		wire_msg_put(&m, body, len, false);
	return wire_msg_end(&m);
}
