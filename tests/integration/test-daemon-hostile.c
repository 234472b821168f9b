// SPDX-License-Identifier: MIT
/*
 * test-daemon-hostile - daxfsd against clients that break the protocol, speaking it raw
 * (common/wire.c builds the messages): packets shorter than a header, every truncation of
 * valid requests, oversized packets, unknown ops, wrong HELLO versions, requests before
 * HELLO and a second HELLO, fds attached where none belong (each must be closed by the
 * daemon), 65 pipelined requests (the 65th gets EBUSY), what only admins may do (clearing
 * bad blocks, scrub, injection) asked by an unprivileged user, a burst of poison reports
 * (16 a second taken, the rest EAGAIN), and 10,000 random and mutated messages, of every op,
 * from several connections of an unprivileged user. Every error reply is checked
 * (op, id, size, zeroed body, status) where the protocol defines it; the connections
 * closed before a session began are counted in the log, not one line each. Through all
 * of it, a libdaxfs client stays connected; at the end it still works, its data is intact,
 * every block the hostile user took is free again once its files are gone, and the daemon
 * has exactly the fds it had before.
 *
 * Usage: test-daemon-hostile --daxfsd=PATH --cli=PATH [seed]
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "rawclient.h"
#include "testutil.h"

#define MiB (UINT64_C(1) << 20)
#define NOBODY 65534
#define GOOD_SIZE (2 * MiB + 333)
#define RANDOM_MESSAGES 10000
#define RANDOM_CONNS 4
#define SYNC_EVERY 24
#define SYNC_ID UINT64_C(0x5e5c000000000000)
#define DATA_OFF (UINT64_C(64) << 20) /* in the data area of the 256 MiB region */
#define REPORTS 40		      /* a burst of poison reports, over 16 a second */

static struct t_daemon d;
static uint64_t rng;
static struct daxfs *good;
static uint8_t *good_data;
static uint64_t good_ino, small_ino;
static uint8_t *msg; /* a message being built: WIRE_MSG_MAX + 8 KiB */
static struct raw_pkt *pkt;

static uint64_t rnd(uint64_t n)
{
	return n ? t_rand(&rng) % n : 0;
}

static void fill_rand(void *buf, size_t len)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)t_rand(&rng);
}

static void set_hdr_len(void *buf, uint32_t len)
{
	memcpy((uint8_t *)buf + offsetof(struct wire_hdr, len), &len, sizeof(len));
}

static void set_hdr_id(void *buf, uint64_t id)
{
	memcpy((uint8_t *)buf + offsetof(struct wire_hdr, id), &id, sizeof(id));
}

static void set_hdr_flags(void *buf, uint16_t flags)
{
	memcpy((uint8_t *)buf + offsetof(struct wire_hdr, flags), &flags, sizeof(flags));
}

static void send_ok(int fd, const void *buf, size_t len)
{
	T_OK(raw_send(fd, buf, len, NULL, 0));
}

/* check_good - the well-behaved client still works and its data is intact. */
static void check_good(void)
{
	uint8_t *got = malloc(GOOD_SIZE);
	struct daxfs_stat st;

	T_ASSERT(got);
	T_OK(daxfs_getattr(good, good_ino, &st));
	T_ASSERT(st.size == GOOD_SIZE && st.mode == (S_IFREG | 0644));
	T_ASSERT(daxfs_pread(good, good_ino, got, GOOD_SIZE, 0) == (ssize_t)GOOD_SIZE);
	T_ASSERT(memcmp(got, good_data, GOOD_SIZE) == 0);
	T_ASSERT(daxfs_pread(good, small_ino, got, 4096, 0) == 100);
	T_ASSERT(memcmp(got, good_data, 100) == 0);
	free(got);
}

/* --- before HELLO: anything but a HELLO v1 ends the session --- */

static void test_before_hello(void)
{
	static const unsigned unknown[] = {0, WIRE_OP_MAX, 0x63, 0x101, 0x201, 0xffff};
	size_t hello_len = raw_msg_hello(msg, 41, WIRE_VERSION);
	uint8_t hello[64];
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int fd;

	T_ASSERT(devnull >= 0 && hello_len == 24);
	memcpy(hello, msg, hello_len);

	/* No bytes, or fewer than a header: closed without a reply. */
	for (size_t len = 0; len < 16; len++) {
		fd = raw_connect(d.sock);
		send_ok(fd, hello, len);
		raw_expect_eof(fd);
		close(fd);
	}
	/* A truncated HELLO: the decode error, with the header's id, then closed. */
	for (size_t len = 16; len < hello_len; len++) {
		for (int fix = 0; fix < 2; fix++) {
			memcpy(msg, hello, hello_len);
			if (fix)
				set_hdr_len(msg, (uint32_t)len);
			fd = raw_connect(d.sock);
			send_ok(fd, msg, len);
			raw_expect_error(fd, WIRE_HELLO, 41, -EBADMSG);
			raw_expect_eof(fd);
			close(fd);
		}
	}
	/* One byte too many. */
	memcpy(msg, hello, hello_len);
	msg[hello_len] = 0;
	fd = raw_connect(d.sock);
	send_ok(fd, msg, hello_len + 1);
	raw_expect_error(fd, WIRE_HELLO, 41, -EBADMSG);
	raw_expect_eof(fd);
	close(fd);
	/* Another version: EPROTO. */
	for (uint32_t v = 0; v < 4; v++) {
		if (v == WIRE_VERSION)
			continue;
		fd = raw_connect(d.sock);
		send_ok(fd, msg, raw_msg_hello(msg, 42 + v, v));
		raw_expect_error(fd, WIRE_HELLO, 42 + v, -EPROTO);
		raw_expect_eof(fd);
		close(fd);
	}
	/* HELLO v1 with flags the protocol does not know: malformed. */
	raw_msg_hello(msg, 46, WIRE_VERSION);
	msg[sizeof(struct wire_hdr) + 4] = 2; /* bit 0 is WIRE_HELLO_F_RING */
	fd = raw_connect(d.sock);
	send_ok(fd, msg, hello_len);
	raw_expect_error(fd, WIRE_HELLO, 46, -EBADMSG);
	raw_expect_eof(fd);
	close(fd);
	/* Requests before HELLO: EPROTO, closed. */
	fd = raw_connect(d.sock);
	send_ok(fd, msg, raw_msg_statfs(msg, 47));
	raw_expect_error(fd, WIRE_STATFS, 47, -EPROTO);
	raw_expect_eof(fd);
	close(fd);
	fd = raw_connect(d.sock);
	send_ok(fd, msg, raw_msg_path(msg, WIRE_STAT, 48, "/good/data"));
	raw_expect_error(fd, WIRE_STAT, 48, -EPROTO);
	raw_expect_eof(fd);
	close(fd);
	/* An ACK is a request like the others here. */
	fd = raw_connect(d.sock);
	send_ok(fd, msg, raw_msg_ack(msg, 49, 1, 1));
	raw_expect_error(fd, WIRE_ACK, 49, -EPROTO);
	raw_expect_eof(fd);
	close(fd);
	/* Unknown ops: EPROTO, an 8-byte status. */
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		struct wire_msg m;

		wire_msg_init(&m, msg, unknown[i], 0, 50 + i);
		fd = raw_connect(d.sock);
		send_ok(fd, msg, wire_msg_end(&m));
		raw_expect_error(fd, WIRE_REPLY | unknown[i], 50 + i, -EPROTO);
		raw_expect_eof(fd);
		close(fd);
	}
	/* Oversized: EMSGSIZE. */
	memset(msg, 0, 70 * 1024);
	raw_msg_hello(msg, 60, WIRE_VERSION);
	set_hdr_len(msg, 70 * 1024);
	fd = raw_connect(d.sock);
	send_ok(fd, msg, 70 * 1024);
	raw_expect_error(fd, WIRE_HELLO, 60, -EMSGSIZE);
	raw_expect_eof(fd);
	close(fd);
	/* A valid HELLO with fds attached: they are closed, the request is refused. */
	for (int n = 1; n <= 3; n += 2) {
		int fds[3] = {devnull, devnull, devnull};

		fd = raw_connect(d.sock);
		T_OK(raw_send(fd, msg, raw_msg_hello(msg, 61, WIRE_VERSION), fds, n));
		raw_expect_error(fd, WIRE_HELLO, 61, -EBADMSG);
		raw_expect_eof(fd);
		close(fd);
	}
	close(devnull);
	/* Dozens of connections closed before a session began: counted, not logged each. */
	{
		size_t len, n = 0;
		char *log = t_read_file(d.log, &len);

		for (char *p = log; (p = strstr(p, "before a session began")); p++)
			n++;
		free(log);
		T_ASSERT(n >= 1 && n <= 3);
	}
}

/* --- every truncation of valid requests, after HELLO --- */

/* truncate_all - @len bytes of a valid request in msg, whose full form must get @status
 * (1: no reply at all). */
static void truncate_all(const char *what, size_t len, int status)
{
	uint8_t full[512];
	struct wire_hdr h;
	struct raw r;

	T_ASSERT(len <= sizeof(full));
	memcpy(full, msg, len);
	memcpy(&h, full, sizeof(h));
	/* Fewer bytes than a header: the session is dropped, no reply. */
	for (size_t l = 0; l < sizeof(struct wire_hdr); l++) {
		raw_hello(&r, d.sock);
		send_ok(r.fd, full, l);
		raw_expect_eof(r.fd);
		raw_close(&r);
	}
	/* From the header on: EBADMSG for each length, with the length field as sent or
	 * fixed up to the packet; the session stays. */
	raw_hello(&r, d.sock);
	for (size_t l = sizeof(struct wire_hdr); l < len; l++) {
		for (int fix = 0; fix < 2; fix++) {
			memcpy(msg, full, l);
			if (fix)
				set_hdr_len(msg, (uint32_t)l);
			set_hdr_id(msg, l * 2 + (size_t)fix);
			send_ok(r.fd, msg, l);
			raw_expect_error(r.fd, h.op, l * 2 + (size_t)fix, -EBADMSG);
		}
	}
	/* And the whole request works. */
	memcpy(msg, full, len);
	send_ok(r.fd, msg, len);
	if (status == 1) {
		raw_expect_quiet(r.fd, 100);
	} else {
		raw_expect_reply(r.fd, pkt, h.op, h.id, status);
		if (status == 0 && wire_decode_reply(pkt->buf, pkt->len, &h) != 0)
			T_FAIL("%s: a malformed reply", what);
	}
	send_ok(r.fd, msg, raw_msg_statfs(msg, 9999));
	raw_expect_reply(r.fd, pkt, WIRE_STATFS, 9999, 0);
	raw_close(&r);
}

static void test_truncated(void)
{
	uint8_t data[100];
	uint64_t grant;
	struct raw r;

	memset(data, 'w', sizeof(data));
	truncate_all("STAT", raw_msg_path(msg, WIRE_STAT, 7, "/good/data"), 0);
	truncate_all("GETATTR", raw_msg_getattr(msg, 7, good_ino), 0);
	truncate_all("CREATE", raw_msg_mknode(msg, WIRE_CREATE, 7, 0644, 0, "/hostile/t"), 0);
	truncate_all("MKDIR", raw_msg_mknode(msg, WIRE_MKDIR, 7, 0755, 0, "/hostile/dir"), 0);
	truncate_all("UNLINK", raw_msg_path(msg, WIRE_UNLINK, 7, "/hostile/none"), -ENOENT);
	truncate_all("RENAME",
		     raw_msg_rename(msg, 7, DAXFS_RENAME_EXCHANGE, "/hostile/t", "/hostile/dir"),
		     0);
	truncate_all("READDIR", raw_msg_readdir(msg, 7, 0, 100, "/good"), 0);
	truncate_all("WRITE", raw_msg_io(msg, WIRE_WRITE, 7, false, small_ino, 200, 100, data), 0);
	truncate_all("READ", raw_msg_io(msg, WIRE_READ, 7, false, good_ino, 5, 300, NULL), 0);
	truncate_all("SETATTR", raw_msg_setattr(msg, 7, small_ino, DAXFS_SET_SIZE, 0, 100), 0);
	truncate_all("FALLOCATE",
		     raw_msg_fallocate(msg, 7, small_ino, DAXFS_FALLOC_KEEP_SIZE, 0, 4096), 0);
	truncate_all("FSYNC", raw_msg_fsync(msg, 7, small_ino), 0);
	truncate_all("UNMAP", raw_msg_unmap(msg, 7, 12345), -ENOENT);
	truncate_all("ACK", raw_msg_ack(msg, 7, 12345, 1), 1);
	truncate_all("HELLO", raw_msg_hello(msg, 7, WIRE_VERSION), -EPROTO);
	truncate_all("STATFS", raw_msg_statfs(msg, 7), 0);
	truncate_all("MAP", raw_msg_map(msg, 7, good_ino, 0, 4096, WIRE_MAP_READ), 0);
	{
		struct wire_extents ex = {.ino = good_ino};
		struct wire_badblocks bb = {0};
		struct wire_inject in = {.kind = WIRE_INJECT_MEDIA, .arg0 = DATA_OFF, .arg1 = 4096};

		truncate_all("EXTENTS", raw_msg_fixed(msg, WIRE_EXTENTS, 7, &ex, sizeof(ex)), 0);
		truncate_all("BADBLOCKS", raw_msg_fixed(msg, WIRE_BADBLOCKS, 7, &bb, sizeof(bb)),
			     0);
		truncate_all("SCRUB", raw_msg_fixed(msg, WIRE_SCRUB, 7, NULL, 0), 0);
		/* No --fault-injection here: refused, to root too. */
		truncate_all("INJECT", raw_msg_fixed(msg, WIRE_INJECT, 7, &in, sizeof(in)), -EPERM);
		truncate_all("POISON_REPORT", raw_msg_poison_report(msg, 7, 12345, 0, 4096),
			     -ENOENT);
		/* Root may clear, but nothing is quarantined there. */
		truncate_all("BADBLOCK_CLEAR", raw_msg_badblock_clear(msg, 7, DATA_OFF, 4096),
			     -ENOENT);
	}

	/* The MAP above gave a grant (and the region fd) to a session that is gone; one that
	 * stays can map and unmap. */
	raw_hello(&r, d.sock);
	send_ok(r.fd, msg, raw_msg_map(msg, 8, good_ino, 0, 8192, WIRE_MAP_READ));
	raw_expect_reply(r.fd, pkt, WIRE_MAP, 8, 0);
	T_ASSERT(pkt->hdr.flags == WIRE_F_FD && pkt->nfds == 1);
	memcpy(&grant, (uint8_t *)pkt->buf + 16 + offsetof(struct wire_map_reply, grant), 8);
	T_ASSERT(grant == 1);
	send_ok(r.fd, msg, raw_msg_map(msg, 9, good_ino, 0, 4096, WIRE_MAP_READ));
	raw_expect_reply(r.fd, pkt, WIRE_MAP, 9, 0);
	T_ASSERT(pkt->hdr.flags == 0 && pkt->nfds == 0); /* the region fd came only once */
	send_ok(r.fd, msg, raw_msg_unmap(msg, 10, grant));
	raw_expect_reply(r.fd, pkt, WIRE_UNMAP, 10, 0);
	send_ok(r.fd, msg, raw_msg_unmap(msg, 11, grant));
	raw_expect_error(r.fd, WIRE_UNMAP, 11, -ENOENT);
	raw_close(&r);

	/* What the full requests did, seen by the good client. */
	{
		struct daxfs_stat st;

		T_OK(daxfs_stat(good, "/hostile/t", &st));
		T_ASSERT(S_ISDIR(st.mode)); /* exchanged with /hostile/dir */
		T_OK(daxfs_rmdir(good, "/hostile/t"));
		T_OK(daxfs_unlink(good, "/hostile/dir"));
		T_OK(daxfs_getattr(good, small_ino, &st));
		T_ASSERT(st.size == 100 && st.blocks >= 1);
	}
	check_good();
}

/* --- after HELLO: oversized, unknown ops, a second HELLO, bad flags; the session stays --- */

static void statfs_works(struct raw *r, uint64_t id)
{
	send_ok(r->fd, msg, raw_msg_statfs(msg, id));
	raw_expect_reply(r->fd, pkt, WIRE_STATFS, id, 0);
	T_ASSERT(pkt->len == 16 + sizeof(struct wire_statfs_reply));
}

static void test_session_errors(void)
{
	static const unsigned unknown[] = {0, WIRE_OP_MAX, 0x63, 0xff, 0x101, 0x201, 0xffff};
	struct raw r, r2;
	struct wire_msg m;
	uint64_t count;

	raw_hello(&r, d.sock);
	raw_hello(&r2, d.sock);
	T_ASSERT(r2.session > r.session);
	statfs_works(&r, 1);

	/* Oversized: EMSGSIZE with the header's op and id; also a header that lies. */
	memset(msg, 0, 70 * 1024);
	raw_msg_path(msg, WIRE_STAT, 2, "/good/data");
	set_hdr_len(msg, 70 * 1024);
	send_ok(r.fd, msg, 70 * 1024);
	raw_expect_error(r.fd, WIRE_STAT, 2, -EMSGSIZE);
	set_hdr_len(msg, 16);
	set_hdr_id(msg, 3);
	send_ok(r.fd, msg, WIRE_MSG_MAX + 1);
	raw_expect_error(r.fd, WIRE_STAT, 3, -EMSGSIZE);
	/* Exactly the largest message: not too large, but no STAT is that long. */
	set_hdr_len(msg, WIRE_MSG_MAX);
	set_hdr_id(msg, 4);
	send_ok(r.fd, msg, WIRE_MSG_MAX);
	raw_expect_error(r.fd, WIRE_STAT, 4, -EBADMSG);
	statfs_works(&r, 5);

	/* Unknown ops: EPROTO in an 8-byte reply of op 0x100 | op. */
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		wire_msg_init(&m, msg, unknown[i], 0, 100 + i);
		wire_msg_put(&m, NULL, 8 * i, false);
		send_ok(r.fd, msg, wire_msg_end(&m));
		raw_expect_error(r.fd, WIRE_REPLY | unknown[i], 100 + i, -EPROTO);
	}
	statfs_works(&r, 6);

	/* A second HELLO: EPROTO (the full HELLO reply size, no fd); the session stays. */
	send_ok(r.fd, msg, raw_msg_hello(msg, 7, WIRE_VERSION));
	raw_expect_error(r.fd, WIRE_HELLO, 7, -EPROTO);
	send_ok(r.fd, msg, raw_msg_hello(msg, 8, 2));
	raw_expect_error(r.fd, WIRE_HELLO, 8, -EPROTO);
	statfs_works(&r, 9);

	/* Header flags a request may not have. */
	raw_msg_path(msg, WIRE_STAT, 10, "/good/data");
	set_hdr_flags(msg, WIRE_F_FD);
	send_ok(r.fd, msg, 16 + 8 + sizeof("/good/data"));
	raw_expect_error(r.fd, WIRE_STAT, 10, -EBADMSG);
	set_hdr_flags(msg, WIRE_F_SHM);
	send_ok(r.fd, msg, 16 + 8 + sizeof("/good/data"));
	raw_expect_error(r.fd, WIRE_STAT, 10, -EBADMSG);
	set_hdr_flags(msg, 0x80);
	send_ok(r.fd, msg, 16 + 8 + sizeof("/good/data"));
	raw_expect_error(r.fd, WIRE_STAT, 10, -EBADMSG);
	/* Body fields the decoder checks. */
	send_ok(r.fd, msg, raw_msg_readdir(msg, 11, 0, 0, "/good"));
	raw_expect_error(r.fd, WIRE_READDIR, 11, -EBADMSG);
	send_ok(r.fd, msg, raw_msg_readdir(msg, 12, 0, 1025, "/good"));
	raw_expect_error(r.fd, WIRE_READDIR, 12, -EBADMSG);
	send_ok(r.fd, msg, raw_msg_path(msg, WIRE_STAT, 13, "good/data"));
	raw_expect_error(r.fd, WIRE_STAT, 13, -EBADMSG);
	send_ok(r.fd, msg, raw_msg_map(msg, 14, good_ino, 100, 4096, WIRE_MAP_READ));
	raw_expect_error(r.fd, WIRE_MAP, 14, -EBADMSG);
	send_ok(r.fd, msg, raw_msg_io(msg, WIRE_READ, 15, false, good_ino, 0, 48 * 1024 + 1, NULL));
	raw_expect_error(r.fd, WIRE_READ, 15, -EBADMSG);
	send_ok(r.fd, msg, raw_msg_io(msg, WIRE_READ, 16, true, good_ino, 0, 4 * MiB + 1, NULL));
	raw_expect_error(r.fd, WIRE_READ, 16, -EBADMSG);
	send_ok(r.fd, msg, raw_msg_setattr(msg, 17, small_ino, 0x100, 0, 0));
	raw_expect_error(r.fd, WIRE_SETATTR, 17, -EBADMSG);
	send_ok(r.fd, msg, raw_msg_fallocate(msg, 18, small_ino, 4, 0, 4096));
	raw_expect_error(r.fd, WIRE_FALLOCATE, 18, -EBADMSG);
	/* The shared buffer: READ and WRITE through it at offset 0. */
	send_ok(r.fd, msg, raw_msg_io(msg, WIRE_READ, 19, true, good_ino, 1000, 2 * MiB, NULL));
	raw_expect_reply(r.fd, pkt, WIRE_READ, 19, 0);
	T_ASSERT(pkt->hdr.flags == WIRE_F_SHM && pkt->len == 16 + 16);
	memcpy(&count, (uint8_t *)pkt->buf + 16 + 8, 8);
	T_ASSERT(count == GOOD_SIZE - 1000);
	T_ASSERT(memcmp(r.shm, good_data + 1000, count) == 0);
	memset(r.shm, 'S', 4096);
	send_ok(r.fd, msg, raw_msg_io(msg, WIRE_WRITE, 20, true, small_ino, 4096, 4096, NULL));
	raw_expect_reply(r.fd, pkt, WIRE_WRITE, 20, 0);
	T_ASSERT(pkt->hdr.flags == WIRE_F_SHM && pkt->len == 16 + 16);
	T_OK(daxfs_truncate(good, "/good/small", 100));
	statfs_works(&r, 21);
	statfs_works(&r2, 1);
	raw_close(&r);
	raw_close(&r2);
	check_good();
}

/* --- fds where none belong: every one closed by the daemon --- */

static void test_fds(void)
{
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int fds[3] = {devnull, devnull, devnull};
	uint8_t data[16] = "overwritten? no";
	uint8_t got[100];
	int before;
	struct raw r;

	T_ASSERT(devnull >= 0);
	raw_hello(&r, d.sock);
	statfs_works(&r, 1);
	before = t_daemon_settle_fds(&d);
	for (uint64_t i = 0; i < 40; i++) {
		int n = i % 2 ? 3 : 1;

		T_OK(raw_send(r.fd, msg, raw_msg_statfs(msg, 100 + i), fds, n));
		raw_expect_error(r.fd, WIRE_STATFS, 100 + i, -EBADMSG);
		T_OK(raw_send(r.fd, msg, raw_msg_getattr(msg, 200 + i, good_ino), fds, n));
		raw_expect_error(r.fd, WIRE_GETATTR, 200 + i, -EBADMSG);
		/* A request with fds is not run: this WRITE writes nothing. */
		T_OK(raw_send(r.fd, msg,
			      raw_msg_io(msg, WIRE_WRITE, 300 + i, false, small_ino, 0,
					 sizeof(data), data),
			      fds, n));
		raw_expect_error(r.fd, WIRE_WRITE, 300 + i, -EBADMSG);
		T_OK(raw_send(r.fd, msg, raw_msg_ack(msg, 400 + i, 1, 1), fds, n));
		raw_expect_error(r.fd, WIRE_ACK, 400 + i, -EBADMSG);
	}
	statfs_works(&r, 2);
	T_ASSERT(daxfs_pread(good, small_ino, got, sizeof(got), 0) == 100);
	T_ASSERT(memcmp(got, good_data, 100) == 0);
	/* The daemon kept none of the 320 fds: its count is what it was (nothing is in
	 * flight: every request was answered). */
	T_ASSERT(t_daemon_fds(&d) == before);
	raw_close(&r);

	/* fds with no bytes, or with fewer bytes than a header: the session is dropped. */
	for (size_t len = 0; len < 16; len += 5) {
		struct raw s;

		raw_hello(&s, d.sock);
		T_OK(raw_send(s.fd, msg, len, fds, 3));
		raw_expect_eof(s.fd);
		raw_close(&s);
	}
	close(devnull);
}

/* --- ACK: never answered; a malformed one gets an 8-byte EBADMSG --- */

static void test_ack(void)
{
	struct raw r;

	raw_hello(&r, d.sock);
	send_ok(r.fd, msg, raw_msg_ack(msg, 1, 777, 1));
	send_ok(r.fd, msg, raw_msg_ack(msg, 2, 0, 0));
	statfs_works(&r, 3); /* the first packet back is the STATFS reply */
	raw_msg_ack(msg, 4, 777, 1);
	set_hdr_len(msg, 24);
	send_ok(r.fd, msg, 24);
	raw_expect_error(r.fd, WIRE_ACK, 4, -EBADMSG);
	raw_msg_ack(msg, 5, 777, 1);
	set_hdr_len(msg, 40);
	send_ok(r.fd, msg, 40);
	raw_expect_error(r.fd, WIRE_ACK, 5, -EBADMSG);
	statfs_works(&r, 6);
	raw_close(&r);
}

/*
 * --- 65 requests in flight: the 65th gets EBUSY ---
 * 64 truncates of a range another session maps park until that session ACKs (they share one
 * lease break: one INVALIDATE); parked, they are in flight, so the 65th request gets EBUSY.
 * Parked requests occupy no worker: with one worker (--workers 1), another session is
 * answered meanwhile.
 */
static void test_pipelined(void)
{
	struct wire_map_reply mrep;
	struct wire_event ev;
	struct daxfs_stat st, x;
	uint8_t seen[66] = {0};
	struct raw holder, p;
	uint64_t t0;

	T_OK(daxfs_create(good, "/good/pipe", 0644, DAXFS_CREATE_EXCL, &st));
	T_ASSERT(daxfs_pwrite(good, st.ino, good_data, 8192, 0) == 8192);
	raw_hello(&holder, d.sock);
	send_ok(holder.fd, msg, raw_msg_map(msg, 1, st.ino, 0, 8192, WIRE_MAP_READ));
	raw_expect_reply(holder.fd, pkt, WIRE_MAP, 1, 0);
	T_ASSERT(pkt->nfds == 1);
	memcpy(&mrep, (uint8_t *)pkt->buf + 16, sizeof(mrep));
	T_ASSERT(mrep.grant == 1 && mrep.count >= 1 && mrep.flags == 0);

	raw_hello(&p, d.sock);
	for (uint64_t id = 1; id <= 64; id++) {
		send_ok(p.fd, msg, raw_msg_setattr(msg, id, st.ino, DAXFS_SET_SIZE, 0, 0));
		/* An ACK is not a request in flight. */
		if (id == 30)
			send_ok(p.fd, msg, raw_msg_ack(msg, 1000, 999, 1));
	}
	send_ok(p.fd, msg, raw_msg_getattr(msg, 65, st.ino));
	raw_expect_error(p.fd, WIRE_GETATTR, 65, -EBUSY);

	/* The holder is told, once; until it acks, none of the 64 is answered... */
	T_ASSERT(raw_recv(holder.fd, pkt, RAW_TIMEOUT_MS, false) == 1);
	T_ASSERT(pkt->hdr.op == WIRE_EV_INVALIDATE && pkt->hdr.id == 0 && pkt->hdr.flags == 0);
	T_ASSERT(pkt->len == 16 + sizeof(ev) && pkt->nfds == 0);
	memcpy(&ev, (uint8_t *)pkt->buf + 16, sizeof(ev));
	T_ASSERT(ev.grant == mrep.grant && ev.ino == st.ino && ev.off == 0 && ev.len >= 8192);
	/* ...but the one worker is free: another session is answered at once. */
	t0 = t_now_ms();
	T_OK(daxfs_getattr(good, st.ino, &x));
	T_ASSERT(x.size == 8192 && t_now_ms() - t0 < 2000);
	raw_expect_quiet(p.fd, 300);
	raw_expect_quiet(holder.fd, 50);
	t0 = t_now_ms();
	send_ok(holder.fd, msg, raw_msg_ack(msg, 2, ev.grant, ev.generation));
	for (int i = 0; i < 64; i++) {
		struct wire_attr_reply ar;

		T_ASSERT(raw_recv(p.fd, pkt, RAW_TIMEOUT_MS, false) == 1);
		T_ASSERT(pkt->hdr.op == (WIRE_REPLY | WIRE_SETATTR));
		T_ASSERT(pkt->hdr.id >= 1 && pkt->hdr.id <= 64 && !seen[pkt->hdr.id]);
		seen[pkt->hdr.id] = 1;
		T_ASSERT(raw_status(pkt) == 0 && pkt->len == 16 + sizeof(ar));
		memcpy(&ar, (uint8_t *)pkt->buf + 16, sizeof(ar));
		T_ASSERT(ar.a.ino == st.ino && ar.a.size == 0);
	}
	T_ASSERT(t_now_ms() - t0 < 10000);
	raw_expect_quiet(p.fd, 50);
	statfs_works(&p, 66);
	send_ok(holder.fd, msg, raw_msg_unmap(msg, 3, mrep.grant));
	raw_expect_reply(holder.fd, pkt, WIRE_UNMAP, 3, 0);
	raw_close(&holder);
	raw_close(&p);
	T_OK(daxfs_unlink(good, "/good/pipe"));
	T_ASSERT(!t_daemon_log_has(&d, "timed out"));
}

/*
 * --- what only admins may do, and poison reports, from an unprivileged user ---
 * nobody: BADBLOCK_CLEAR, SCRUB and INJECT are EPERM (however well formed); a clear of an
 * empty or wrapping range is EBADMSG; reports for grants it does not hold are ENOENT, at
 * most 16 a second, the rest EAGAIN (one log line); nothing changes, the session stays.
 */
static int admin_child(void *arg)
{
	struct wire_inject in = {.kind = WIRE_INJECT_POISON, .arg0 = DATA_OFF, .arg1 = 4096};
	unsigned enoent = 0, eagain = 0;
	uint64_t id = 1, t0, ms;
	struct raw r;

	(void)arg;
	raw_hello(&r, d.sock);
	send_ok(r.fd, msg, raw_msg_badblock_clear(msg, id, DATA_OFF, 4096));
	raw_expect_error(r.fd, WIRE_BADBLOCK_CLEAR, id++, -EPERM);
	send_ok(r.fd, msg, raw_msg_badblock_clear(msg, id, DATA_OFF + 1, 4095));
	raw_expect_error(r.fd, WIRE_BADBLOCK_CLEAR, id++, -EPERM);
	send_ok(r.fd, msg, raw_msg_badblock_clear(msg, id, DATA_OFF, 0));
	raw_expect_error(r.fd, WIRE_BADBLOCK_CLEAR, id++, -EBADMSG);
	send_ok(r.fd, msg, raw_msg_badblock_clear(msg, id, UINT64_MAX - 4095, 8192));
	raw_expect_error(r.fd, WIRE_BADBLOCK_CLEAR, id++, -EBADMSG);
	send_ok(r.fd, msg, raw_msg_fixed(msg, WIRE_SCRUB, id, NULL, 0));
	raw_expect_error(r.fd, WIRE_SCRUB, id++, -EPERM);
	for (unsigned k = WIRE_INJECT_POISON; k <= WIRE_INJECT_MEDIA; k++) {
		in.kind = k;
		send_ok(r.fd, msg, raw_msg_fixed(msg, WIRE_INJECT, id, &in, sizeof(in)));
		raw_expect_error(r.fd, WIRE_INJECT, id++, -EPERM);
	}
	t0 = t_now_ms();
	for (int i = 0; i < REPORTS; i++)
		send_ok(r.fd, msg,
			raw_msg_poison_report(msg, id + (uint64_t)i, 1 + rnd(4), 0, 4096));
	for (int i = 0; i < REPORTS; i++) {
		T_ASSERT(raw_recv(r.fd, pkt, RAW_TIMEOUT_MS, false) == 1);
		T_ASSERT(pkt->hdr.op == (WIRE_REPLY | WIRE_POISON_REPORT));
		if (raw_status(pkt) == -ENOENT)
			enoent++;
		else if (raw_status(pkt) == -EAGAIN)
			eagain++;
		else
			T_FAIL("a poison report answered %d", raw_status(pkt));
	}
	ms = t_now_ms() - t0;
	printf("reports: %u of %d taken (ENOENT: no such grant), %u refused (EAGAIN) in %" PRIu64
	       " ms\n",
	       enoent, REPORTS, eagain, ms);
	T_ASSERT(enoent >= 1 && eagain >= 1);
	T_ASSERT(enoent <= 16 * (ms / 1000 + 2));
	statfs_works(&r, id + REPORTS);
	raw_close(&r);
	return 0;
}

static void test_admin_ops(void)
{
	struct daxfs_statfs before, after;

	T_OK(daxfs_statfs(good, &before));
	t_wait_child(t_fork_as(NOBODY, admin_child, NULL), 60000, "the unprivileged admin ops");
	T_OK(daxfs_statfs(good, &after));
	T_ASSERT(after.blocks_quarantined == before.blocks_quarantined);
	T_ASSERT(t_daemon_log_has(&d, "poison reports over 16 per second") ||
		 t_daemon_log_has(&d, "poison report over 16 per second"));
	check_good();
}

/* --- 10,000 random and mutated messages from an unprivileged user --- */

struct sent {
	uint64_t id;
	uint16_t op;
};

struct conn {
	struct raw r;
	struct sent sent[SYNC_EVERY + 2]; /* since the last sync */
	unsigned nsent;
	uint64_t next_id, sync_id;
	unsigned since_sync;
	bool expect_drop; /* a packet shorter than a header went out */
};

struct storm {
	uint64_t seed;
	uint64_t own[4]; /* inodes the hostile user owns */
	unsigned sent, replies, drops, errors[4096];
};

static const char *const storm_paths[] = {
	"/hostile/a", "/hostile/b", "/hostile/dir", "/hostile/dir/c", "/hostile", "/good/data",
	"/good",      "/",	    "/hostile/a/x", "/nope",
};

static uint64_t storm_ino(const struct storm *s)
{
	switch (rnd(6)) {
	case 0:
		return good_ino;
	case 1:
		return rnd(40);
	case 2:
		return t_rand(&rng);
	default:
		return s->own[rnd(4)];
	}
}

static uint64_t storm_off(void)
{
	switch (rnd(4)) {
	case 0:
		return 0;
	case 1:
		return rnd(1 << 20);
	case 2:
		return rnd(64) * 4096;
	default:
		return t_rand(&rng) >> rnd(64);
	}
}

/* valid_request - a well-formed request of a random op into msg. Return: its length. */
static size_t valid_request(struct storm *s, struct conn *c)
{
	const char *p1 = storm_paths[rnd(10)], *p2 = storm_paths[rnd(10)];
	uint64_t id = c->next_id++;
	bool shm = rnd(2);
	uint32_t len;

	switch (rnd(WIRE_BADBLOCK_CLEAR) + 1) {
	case WIRE_HELLO:
		return raw_msg_hello(msg, id, (uint32_t)rnd(3));
	case WIRE_STATFS:
		return raw_msg_statfs(msg, id);
	case WIRE_STAT:
		return raw_msg_path(msg, WIRE_STAT, id, p1);
	case WIRE_GETATTR:
		return raw_msg_getattr(msg, id, storm_ino(s));
	case WIRE_MKDIR:
		return raw_msg_mknode(msg, WIRE_MKDIR, id, (uint32_t)rnd(010000), 0, p1);
	case WIRE_CREATE:
		return raw_msg_mknode(msg, WIRE_CREATE, id, (uint32_t)rnd(010000), (uint32_t)rnd(2),
				      p1);
	case WIRE_UNLINK:
		return raw_msg_path(msg, WIRE_UNLINK, id, p1);
	case WIRE_RMDIR:
		return raw_msg_path(msg, WIRE_RMDIR, id, p1);
	case WIRE_RENAME:
		return raw_msg_rename(msg, id, (uint32_t)rnd(3), p1, p2);
	case WIRE_SETATTR:
		return raw_msg_setattr(msg, id, storm_ino(s), (uint32_t)rnd(64),
				       (uint32_t)rnd(010000), storm_off());
	case WIRE_READDIR:
		return raw_msg_readdir(msg, id, rnd(4) ? 0 : t_rand(&rng), (uint32_t)rnd(1024) + 1,
				       p1);
	case WIRE_READ:
		len = (uint32_t)(shm ? rnd(WIRE_SHM_SIZE + 1) : rnd(WIRE_INLINE_MAX + 1));
		return raw_msg_io(msg, WIRE_READ, id, shm, storm_ino(s), storm_off(), len, NULL);
	case WIRE_WRITE:
		if (shm) {
			len = (uint32_t)rnd(WIRE_SHM_SIZE + 1);
			return raw_msg_io(msg, WIRE_WRITE, id, true, storm_ino(s), storm_off(), len,
					  NULL);
		}
		len = (uint32_t)rnd(rnd(8) ? 2048 : WIRE_INLINE_MAX + 1);
		raw_msg_io(msg, WIRE_WRITE, id, false, storm_ino(s), storm_off(), len, NULL);
		fill_rand(msg + 16 + sizeof(struct wire_io), len);
		return 16 + sizeof(struct wire_io) + len;
	case WIRE_FALLOCATE:
		return raw_msg_fallocate(msg, id, storm_ino(s), (uint32_t)rnd(4), storm_off(),
					 rnd(4) ? rnd(8 * MiB) + 1 : t_rand(&rng) >> rnd(64));
	case WIRE_FSYNC:
		return raw_msg_fsync(msg, id, storm_ino(s));
	case WIRE_MAP:
		return raw_msg_map(msg, id, storm_ino(s), rnd(16) * 4096, (rnd(16) + 1) * 4096,
				   (uint32_t)rnd(3) + 1);
	case WIRE_UNMAP:
		return raw_msg_unmap(msg, id, rnd(4));
	case WIRE_EXTENTS: {
		struct wire_extents ex = {.ino = storm_ino(s), .off = storm_off()};

		return raw_msg_fixed(msg, WIRE_EXTENTS, id, &ex, sizeof(ex));
	}
	case WIRE_BADBLOCKS: {
		struct wire_badblocks bb = {.cookie = storm_off()};

		return raw_msg_fixed(msg, WIRE_BADBLOCKS, id, &bb, sizeof(bb));
	}
	case WIRE_SCRUB:
		return raw_msg_fixed(msg, WIRE_SCRUB, id, NULL, 0);
	case WIRE_POISON_REPORT:
		return raw_msg_poison_report(msg, id, rnd(4), storm_off(), rnd(8 * 4096) + 1);
	case WIRE_INJECT: {
		struct wire_inject in = {.kind = (uint32_t)rnd(WIRE_INJECT_MEDIA) + 1,
					 .arg0 = storm_off(),
					 .arg1 = rnd(1 << 20)};

		return raw_msg_fixed(msg, WIRE_INJECT, id, &in, sizeof(in));
	}
	case WIRE_BADBLOCK_CLEAR:
		return raw_msg_badblock_clear(msg, id, storm_off(), rnd(4) ? 4096 : t_rand(&rng));
	default:
		return raw_msg_ack(msg, id, rnd(4), rnd(4));
	}
}

/* mutate - 1..4 random changes to the message of @len bytes. Return: the new length. */
static size_t mutate(size_t len)
{
	static const uint64_t values[] = {
		0,	    1,
		2,	    7,
		8,	    15,
		16,	    255,
		4095,	    4096,
		4097,	    65535,
		65536,	    65537,
		UINT32_MAX, (uint64_t)INT32_MAX + 1,
		UINT64_MAX, UINT64_MAX / 2,
	};
	unsigned n = (unsigned)rnd(4) + 1;

	for (unsigned i = 0; i < n; i++) {
		size_t at = len ? rnd(len) : 0;
		uint64_t v = values[rnd(sizeof(values) / sizeof(values[0]))];

		switch (rnd(6)) {
		case 0: /* flip a bit */
			if (len)
				msg[at] ^= (uint8_t)(1u << rnd(8));
			break;
		case 1: /* a 32-bit field at an aligned offset */
			at &= ~(size_t)3;
			if (at + 4 <= len)
				memcpy(msg + at, &v, 4);
			break;
		case 2: /* a 64-bit field */
			at &= ~(size_t)7;
			if (at + 8 <= len)
				memcpy(msg + at, &v, 8);
			break;
		case 3: /* cut */
			len = rnd(len + 1);
			break;
		case 4: /* grow */
		{
			size_t more = rnd(64) + 1;

			if (len + more <= WIRE_MSG_MAX) {
				fill_rand(msg + len, more);
				len += more;
			}
			break;
		}
		default: /* another op */
			if (len >= 4 + 2) {
				uint16_t op =
					(uint16_t)(rnd(4) ? rnd(WIRE_OP_MAX + 2) : t_rand(&rng));

				memcpy(msg + offsetof(struct wire_hdr, op), &op, 2);
			}
			break;
		}
	}
	/* Mostly keep the header's length right, so that the body decoders get the bytes. */
	if (len >= 16 && rnd(4))
		set_hdr_len(msg, (uint32_t)len);
	return len;
}

/*
 * check_packet - whatever the daemon sends a hostile client is a reply (never an event: it
 * maps nothing). To a request this connection sent since the last sync, under that id: of
 * the op it had, well-formed, an error the op's full reply size (8 bytes for an op the
 * protocol does not know).
 */
static void check_packet(struct storm *s, struct conn *c, const struct raw_pkt *k)
{
	const struct sent *req = NULL;
	struct wire_hdr h;
	int32_t st;
	unsigned op;
	int rc;

	if (k->len < 16 + 8 || k->nfds > 1)
		T_FAIL("storm: a packet of %zu bytes with %d fds", k->len, k->nfds);
	rc = wire_decode_reply(k->buf, k->len, &h);
	st = raw_status(k);
	if (!(h.op & WIRE_REPLY) || st > 0 || st < -4095)
		T_FAIL("storm: a packet of op 0x%x, status %d", h.op, st);
	for (unsigned i = 0; i < c->nsent; i++) {
		if (c->sent[i].id != h.id)
			continue;
		if (req && req->op != c->sent[i].op) {
			req = NULL; /* two requests of that id: cannot tell which */
			break;
		}
		req = &c->sent[i];
	}
	if (req) {
		op = req->op;
		if (h.op != (uint16_t)(WIRE_REPLY | op))
			T_FAIL("storm: the reply to op 0x%x id %" PRIu64 " has op 0x%x", op, h.id,
			       h.op);
		if (wire_op_known(op)) {
			if (rc != 0)
				T_FAIL("storm: a malformed reply (%d) to op 0x%x: %zu bytes, "
				       "status %d",
				       rc, op, k->len, st);
			if (st < 0 && k->len != 16 + (size_t)wire_reply_size(op))
				T_FAIL("storm: error reply to op 0x%x: %zu bytes", op, k->len);
		} else if (k->len != 24 || (st != -EPROTO && st != -EBADMSG && st != -EMSGSIZE)) {
			T_FAIL("storm: reply to unknown op 0x%x: %zu bytes, status %d", op, k->len,
			       st);
		}
	} else if (rc != 0 && k->len != 24) {
		T_FAIL("storm: a malformed reply (%d): op 0x%x, %zu bytes, status %d", rc, h.op,
		       k->len, st);
	}
	if ((h.flags & WIRE_F_FD) != (k->nfds ? WIRE_F_FD : 0))
		T_FAIL("storm: reply op 0x%x: flags 0x%x with %d fds", h.op, h.flags, k->nfds);
	if (k->nfds)
		T_FAIL("storm: an fd came with op 0x%x", h.op);
	s->replies++;
	s->errors[-st]++;
}

/*
 * sync_conn - after a batch: a session that got a short packet must have been closed;
 * any other must answer a STATFS (after whatever replies came before it).
 */
static void sync_conn(struct storm *s, struct conn *c)
{
	struct raw_pkt *k = pkt;
	int r;

	if (c->expect_drop) {
		for (;;) {
			r = raw_recv(c->r.fd, k, RAW_TIMEOUT_MS, false);
			if (r == 0)
				break;
			if (r < 0)
				T_FAIL("storm: a session that sent a short packet was not closed");
			check_packet(s, c, k);
		}
		raw_close(&c->r);
		raw_hello(&c->r, d.sock);
		s->drops++;
		c->expect_drop = false;
		c->since_sync = 0;
		c->nsent = 0;
		return;
	}
	c->sync_id++;
	if (raw_send(c->r.fd, msg, raw_msg_statfs(msg, c->sync_id), NULL, 0) < 0)
		T_FAIL("storm: the daemon closed session %" PRIu64 " unasked", c->r.session);
	for (;;) {
		r = raw_recv(c->r.fd, k, RAW_TIMEOUT_MS, false);
		if (r == 0)
			T_FAIL("storm: the daemon closed session %" PRIu64 " unasked",
			       c->r.session);
		if (r < 0)
			T_FAIL("storm: no answer to STATFS within %d ms", RAW_TIMEOUT_MS);
		if (k->hdr.id == c->sync_id && k->hdr.op == (WIRE_REPLY | WIRE_STATFS)) {
			T_ASSERT(raw_status(k) == 0);
			T_ASSERT(k->len == 16 + sizeof(struct wire_statfs_reply));
			break;
		}
		check_packet(s, c, k);
	}
	c->since_sync = 0;
	c->nsent = 0;
}

static int storm_child(void *arg)
{
	struct storm *s = arg;
	static const char *const own[] = {"/hostile/a", "/hostile/b", "/hostile/f1", "/hostile/f2"};
	struct conn conns[RANDOM_CONNS];
	struct raw_pkt *k = pkt;

	rng = s->seed;
	for (int i = 0; i < RANDOM_CONNS; i++) {
		memset(&conns[i], 0, sizeof(conns[i]));
		raw_hello(&conns[i].r, d.sock);
		conns[i].next_id = 1;
		conns[i].sync_id = SYNC_ID;
	}
	/* Files of its own to write, punch and truncate. */
	for (int i = 0; i < 4; i++) {
		struct wire_attr_reply ar;

		send_ok(conns[0].r.fd, msg,
			raw_msg_mknode(msg, WIRE_CREATE, 1, 0644, DAXFS_CREATE_EXCL, own[i]));
		raw_expect_reply(conns[0].r.fd, k, WIRE_CREATE, 1, 0);
		memcpy(&ar, (uint8_t *)k->buf + 16, sizeof(ar));
		T_ASSERT(ar.a.uid == NOBODY && ar.a.gid == NOBODY);
		s->own[i] = ar.a.ino;
	}
	/*
	 * It is nobody: the good client's files are out of its reach, by number first (it
	 * never looked them up: ESTALE), then by mode once it did.
	 */
	send_ok(conns[0].r.fd, msg, raw_msg_io(msg, WIRE_WRITE, 2, false, good_ino, 0, 4, "evil"));
	raw_expect_error(conns[0].r.fd, WIRE_WRITE, 2, -ESTALE);
	/* Every connection looks up what the storm names, so its requests reach the engine. */
	for (int i = 0; i < RANDOM_CONNS; i++) {
		for (int f = 0; f < 5; f++) {
			send_ok(conns[i].r.fd, msg,
				raw_msg_path(msg, WIRE_STAT, 4, f < 4 ? own[f] : "/good/data"));
			raw_expect_reply(conns[i].r.fd, k, WIRE_STAT, 4, 0);
		}
	}
	send_ok(conns[0].r.fd, msg, raw_msg_io(msg, WIRE_WRITE, 2, false, good_ino, 0, 4, "evil"));
	raw_expect_error(conns[0].r.fd, WIRE_WRITE, 2, -EACCES);
	send_ok(conns[0].r.fd, msg, raw_msg_map(msg, 3, good_ino, 0, 4096, WIRE_MAP_READ));
	raw_expect_error(conns[0].r.fd, WIRE_MAP, 3, -EPERM);

	for (unsigned i = 0; i < RANDOM_MESSAGES; i++) {
		struct conn *c = &conns[i % RANDOM_CONNS];
		size_t len;

		switch (rnd(3)) {
		case 0: /* random bytes, sometimes behind a plausible header */
			len = rnd(16) ? rnd(300) : rnd(70 * 1024);
			fill_rand(msg, len);
			if (len >= 16 && rnd(2)) {
				uint16_t op = (uint16_t)rnd(WIRE_OP_MAX + 1),
					 flags = (uint16_t)(rnd(4) ? 0 : rnd(4));

				set_hdr_len(msg, (uint32_t)len);
				memcpy(msg + offsetof(struct wire_hdr, op), &op, 2);
				set_hdr_flags(msg, flags);
			}
			break;
		case 1:
			len = mutate(valid_request(s, c));
			break;
		default:
			len = valid_request(s, c);
			break;
		}
		if (len < 16) {
			c->expect_drop = true;
		} else {
			struct wire_hdr h;

			memcpy(&h, msg, sizeof(h));
			T_ASSERT(c->nsent < SYNC_EVERY + 2);
			c->sent[c->nsent++] = (struct sent){.id = h.id, .op = h.op};
		}
		if (raw_send(c->r.fd, msg, len, NULL, 0) < 0 && !c->expect_drop)
			T_FAIL("storm: the daemon closed session %" PRIu64 " unasked",
			       c->r.session);
		s->sent++;
		/* Take what came meanwhile, without waiting. */
		while (!c->expect_drop && raw_recv(c->r.fd, k, 0, false) == 1)
			check_packet(s, c, k);
		if (c->expect_drop || ++c->since_sync == SYNC_EVERY)
			sync_conn(s, c);
	}
	for (int i = 0; i < RANDOM_CONNS; i++) {
		sync_conn(s, &conns[i]);
		raw_close(&conns[i].r);
	}
	printf("storm: %u messages, %u replies (%u ok, %u EBADMSG, %u EPROTO, %u EACCES, "
	       "%u EPERM, %u EMSGSIZE, %u ENOENT, %u EBUSY), %u sessions dropped\n",
	       s->sent, s->replies, s->errors[0], s->errors[EBADMSG], s->errors[EPROTO],
	       s->errors[EACCES], s->errors[EPERM], s->errors[EMSGSIZE], s->errors[ENOENT],
	       s->errors[EBUSY], s->drops);
	fflush(stdout);
	T_ASSERT(s->errors[0] > 100 && s->errors[EBADMSG] > 100 && s->drops > 10);
	return 0;
}

static int rm_cb(void *ctx, const char *name, uint64_t ino, uint32_t mode)
{
	char **names = ctx;

	(void)ino;
	for (int i = 0; i < 256; i++) {
		if (!names[i]) {
			names[i] = malloc(strlen(name) + 2);
			T_ASSERT(names[i]);
			names[i][0] = S_ISDIR(mode) ? 'd' : 'f';
			strcpy(names[i] + 1, name);
			return 0;
		}
	}
	T_FAIL("more than 256 entries in a hostile directory");
}

/* rm_tree - remove everything in directory @path (as the good client, root). */
static void rm_tree(const char *path)
{
	char *names[257] = {0};
	char child[4200];

	T_OK(daxfs_readdir(good, path, rm_cb, names));
	for (int i = 0; names[i]; i++) {
		snprintf(child, sizeof(child), "%s/%s", path, names[i] + 1);
		if (names[i][0] == 'd') {
			rm_tree(child);
			T_OK(daxfs_rmdir(good, child));
		} else {
			T_OK(daxfs_unlink(good, child));
		}
		free(names[i]);
	}
}

static void test_storm(void)
{
	static struct storm s;
	struct daxfs_statfs before, after;
	uint64_t end;
	pid_t pid;
	int status;

	/* Blocks freed before come back after a grace period: let them. */
	T_OK(daxfs_statfs(good, &before));
	for (uint64_t since = t_now_ms(); t_now_ms() - since < 300;) {
		usleep(20000);
		T_OK(daxfs_statfs(good, &after));
		if (after.blocks_free != before.blocks_free) {
			before = after;
			since = t_now_ms();
		}
	}
	s.seed = t_rand(&rng);
	pid = t_fork_as(NOBODY, storm_child, &s);
	/* The good client keeps working meanwhile. */
	end = t_now_ms() + 200000;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		check_good();
		t_daemon_check_alive(&d);
		if (t_now_ms() > end) {
			kill(pid, SIGKILL);
			T_FAIL("the storm took longer than 200 s");
		}
		usleep(20000);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		T_FAIL("the storm child failed (status 0x%x)", status);
	t_daemon_check_alive(&d);
	check_good();

	/* Its files gone, the region has exactly the free blocks it had. */
	rm_tree("/hostile");
	end = t_now_ms() + 10000;
	for (;;) {
		T_OK(daxfs_statfs(good, &after));
		if (after.blocks_free == before.blocks_free || t_now_ms() > end)
			break;
		usleep(10000);
	}
	if (after.blocks_free != before.blocks_free || after.files != before.files)
		T_FAIL("after the storm: %" PRIu64 " free blocks and %" PRIu64
		       " files, before: %" PRIu64 " and %" PRIu64,
		       after.blocks_free, after.files, before.blocks_free, before.files);
	T_ASSERT(after.blocks_quarantined == 0);
}

int main(int argc, char **argv)
{
	static const char *const opts[] = {"--map-users",	    "root",  "--workers", "1",
					   "--lease-break-timeout", "20000", NULL};
	struct daxfs_stat st;
	uint8_t *buf, *back;
	int fds0;

	t_tools_init(&argc, argv);
	t_require_root("its storm runs as uid 65534");
	rng = t_seed(argc, argv, 1);
	t_watchdog(280, "test-daemon-hostile");
	msg = malloc(WIRE_MSG_MAX + 8192);
	pkt = malloc(sizeof(*pkt));
	good_data = malloc(GOOD_SIZE);
	T_ASSERT(msg && pkt && good_data);
	t_open_scratch_to_all();
	t_region_new(t_path("region"), "256M");
	t_daemon_start(&d, t_path("region"), "daxfsd", opts);

	/* The well-behaved client, connected the whole time, and its data. */
	T_OK(daxfs_open(&good, d.sock));
	fill_rand(good_data, GOOD_SIZE);
	T_OK(daxfs_mkdir(good, "/good", 0755, NULL));
	T_OK(daxfs_create(good, "/good/data", 0644, DAXFS_CREATE_EXCL, &st));
	good_ino = st.ino;
	T_ASSERT(daxfs_pwrite(good, good_ino, good_data, GOOD_SIZE, 0) == (ssize_t)GOOD_SIZE);
	T_OK(daxfs_create(good, "/good/small", 0644, DAXFS_CREATE_EXCL, &st));
	small_ino = st.ino;
	T_ASSERT(daxfs_pwrite(good, small_ino, good_data, 100, 0) == 100);
	T_OK(daxfs_mkdir(good, "/hostile", 0777, NULL));
	fds0 = t_daemon_settle_fds(&d);

	test_before_hello();
	t_daemon_wait_fds(&d, fds0, 10000);
	test_truncated();
	test_session_errors();
	test_fds();
	test_ack();
	test_pipelined();
	test_admin_ops();
	t_daemon_wait_fds(&d, fds0, 10000);
	test_storm();

	/* After all of it: alive, the good client works, the same fds. */
	check_good();
	buf = malloc(MiB);
	T_ASSERT(buf);
	fill_rand(buf, MiB);
	T_OK(daxfs_create(good, "/good/after", 0644, DAXFS_CREATE_EXCL, &st));
	T_ASSERT(daxfs_pwrite(good, st.ino, buf, MiB, 0) == (ssize_t)MiB);
	check_good();
	back = malloc(MiB);
	T_ASSERT(back);
	T_ASSERT(daxfs_pread(good, st.ino, back, MiB, 0) == (ssize_t)MiB);
	T_ASSERT(memcmp(buf, back, MiB) == 0);
	free(buf);
	free(back);
	t_daemon_wait_fds(&d, fds0, 10000);
	t_daemon_check_alive(&d);
	daxfs_close(good);
	t_daemon_stop(&d);
	free(msg);
	free(pkt);
	free(good_data);
	printf("ok\n");
	return 0;
}
