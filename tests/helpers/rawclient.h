/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_TESTS_RAWCLIENT_H
#define DAXFS_TESTS_RAWCLIENT_H

/*
 * A raw protocol client for the tests that talk to daxfsd without libdaxfs: it builds
 * messages with common/wire.c, sends them as they are (also broken ones, with fds attached,
 * or none at all), and reads the daemon's packets as they come.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wire.h"

#define RAW_TIMEOUT_MS 30000

struct raw {
	int fd;
	void *shm; /* the session's shared buffer, mapped (after raw_hello) */
	uint64_t session;
	uint64_t next_id;
};

/* A received packet: its bytes (8-aligned) and how many fds came with it (all closed). */
struct raw_pkt {
	uint64_t buf[(WIRE_MSG_MAX + 4096) / 8];
	size_t len;
	int nfds;
	int fd; /* the first fd, kept open when raw_recv was asked to keep it; else -1 */
	struct wire_hdr hdr;
};

/* raw_connect - a SOCK_SEQPACKET connection to @sock, no HELLO. */
int raw_connect(const char *sock);

/* raw_hello - connect and say HELLO; checks the reply and maps the shared buffer. */
void raw_hello(struct raw *r, const char *sock);

/* raw_close - close the connection and unmap the shared buffer. */
void raw_close(struct raw *r);

/*
 * raw_send - send @len bytes as one packet with @nfds fds attached (0: none).
 * Return: 0, or -errno of sendmsg (the daemon may have closed the session).
 */
int raw_send(int fd, const void *buf, size_t len, const int *fds, int nfds);

/*
 * raw_recv - the next packet within @timeout_ms. Received fds are closed (@keep_fd: the
 * first is kept in pkt->fd). pkt->hdr is the header when at least 16 bytes came.
 * Return: 1 a packet; 0 the end of the session (EOF or ECONNRESET); -ETIMEDOUT.
 */
int raw_recv(int fd, struct raw_pkt *pkt, int timeout_ms, bool keep_fd);

/*
 * raw_expect_error - the next packet must be the error reply to request (@op, @id) with
 * status @err: header op 0x100 | @op, id @id, no flags, no fds, length 16 + the op's fixed
 * reply size (8 for an op the protocol does not know), every byte after the status zero.
 */
void raw_expect_error(int fd, unsigned op, uint64_t id, int err);

/* raw_expect_reply - the next packet must be the reply to (@op, @id) with status @err. */
void raw_expect_reply(int fd, struct raw_pkt *pkt, unsigned op, uint64_t id, int err);

/* raw_expect_eof - the daemon must close the session (within RAW_TIMEOUT_MS), sending nothing. */
void raw_expect_eof(int fd);

/* raw_expect_quiet - nothing arrives within @ms. */
void raw_expect_quiet(int fd, int ms);

/* reply_status - the status of the reply in @pkt. */
int32_t raw_status(const struct raw_pkt *pkt);

/* --- requests: each builds a whole message in @buf (WIRE_MSG_MAX bytes); returns its length */

size_t raw_msg_hello(void *buf, uint64_t id, uint32_t version);
size_t raw_msg_statfs(void *buf, uint64_t id);
/* STAT, UNLINK, RMDIR */
size_t raw_msg_path(void *buf, unsigned op, uint64_t id, const char *path);
size_t raw_msg_getattr(void *buf, uint64_t id, uint64_t ino);
/* MKDIR, CREATE */
size_t raw_msg_mknode(void *buf, unsigned op, uint64_t id, uint32_t mode, uint32_t flags,
		      const char *path);
size_t raw_msg_rename(void *buf, uint64_t id, uint32_t flags, const char *from, const char *to);
size_t raw_msg_setattr(void *buf, uint64_t id, uint64_t ino, uint32_t valid, uint32_t mode,
		       uint64_t size);
size_t raw_msg_readdir(void *buf, uint64_t id, uint64_t cookie, uint32_t max, const char *path);
/* READ / WRITE: @data NULL with SHM (the data is in the shared buffer) */
size_t raw_msg_io(void *buf, unsigned op, uint64_t id, bool shm, uint64_t ino, uint64_t off,
		  uint32_t len, const void *data);
size_t raw_msg_fallocate(void *buf, uint64_t id, uint64_t ino, uint32_t mode, uint64_t off,
			 uint64_t len);
size_t raw_msg_fsync(void *buf, uint64_t id, uint64_t ino);
size_t raw_msg_map(void *buf, uint64_t id, uint64_t ino, uint64_t off, uint64_t len, uint32_t mode);
size_t raw_msg_unmap(void *buf, uint64_t id, uint64_t grant);
size_t raw_msg_ack(void *buf, uint64_t id, uint64_t grant, uint64_t generation);
/* POISON_REPORT: no reply when taken */
size_t raw_msg_poison_report(void *buf, uint64_t id, uint64_t grant, uint64_t off, uint64_t len);
size_t raw_msg_badblock_clear(void *buf, uint64_t id, uint64_t off, uint64_t len);
/* raw_msg_fixed - any op whose request is a fixed body of @len bytes (none: @len 0). */
size_t raw_msg_fixed(void *buf, unsigned op, uint64_t id, const void *body, size_t len);

/* raw_call - send @len bytes of @buf and wait for the reply; it must have status @err. */
void raw_call(struct raw *r, const void *buf, size_t len, struct raw_pkt *pkt, int err);

#endif
