/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_DAEMON_OPS_H
#define DAXFS_DAEMON_OPS_H

/*
 * ops - one function per request of docs/protocol.md: check the caller's permission from
 * the session's credentials (never from the message), call the engine, build the reply.
 */

#include <stdbool.h>
#include <stddef.h>

#include "namespace.h"
#include "session.h"
#include "wire.h"

/*
 * ops_run - run the decoded request @req of session @s in the engine context @c (the
 * session's credentials; parks through @c's waiter) and build its reply in @buf
 * (WIRE_MSG_MAX bytes, 8-aligned). A reply that carries a file descriptor returns it in
 * *@fd (else -1); *@fd_own says the caller closes it once sent.
 * Context: a worker (registered with RCU); never waits for a client or for another
 * request's lock: it parks instead.
 * Return: the reply's length; 0 when the request parked (run it again, with the same @c,
 *         when @c's waiter is woken or at c->deadline).
 */
size_t ops_run(struct sess *s, const struct wire_req *req, struct ns_ctx *c, void *buf, int *fd,
	       bool *fd_own);

/*
 * ops_hello - answer HELLO: map the session's shared buffer (a sealed memfd, whose fd
 * the reply carries in *@fd; the caller closes it once sent).
 * Context: the event loop thread, once per session.
 * Return: the reply's length; *@status is its status (0, -EPROTO for another version,
 * -ENOMEM, -EMFILE...): the caller closes the session unless it is 0.
 */
size_t ops_hello(struct sess *s, const struct wire_req *req, void *buf, int *fd, int *status);

/*
 * ops_error_reply - the reply to request @hdr with @err as status and its fixed fields
 * zeroed (a bare status for an unknown op).
 * Return: its length.
 */
size_t ops_error_reply(void *buf, const struct wire_hdr *hdr, int err);

#endif
