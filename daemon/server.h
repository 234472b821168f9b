/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_DAEMON_SERVER_H
#define DAXFS_DAEMON_SERVER_H

/*
 * server - the event loop: the listening socket, sessions' requests in, replies and events
 * out (session.c), requests handed to the workers (worker.c, ops.c), SIGTERM/SIGINT as loop
 * events, and the graceful shutdown (stop accepting, finish what is in flight, release
 * every grant).
 *
 * The loop runs on the thread that calls srv_run(); that thread must be registered with
 * RCU (it acks and deletes grants).
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "perm.h"

struct event_base;
struct ns;
struct srv;

/*
 * srv_mounter - the FUSE mount a client may ask for at run time (MOUNT and UMOUNT, admins
 * only). Called on a worker thread; each returns 0 or a negative errno and logs why.
 */
struct srv_mounter {
	int (*mount)(void *ctx, const char *path, const char *opts);
	int (*umount)(void *ctx, const char *path);
	void *ctx;
};

struct srv_opts {
	const char *socket_path;
	mode_t socket_mode;		/* of the socket file: permission checks are per request */
	unsigned workers;		/* worker threads */
	unsigned max_sessions;		/* connected clients; the last eighth are for admins */
	unsigned max_sessions_per_user; /* of one uid that is neither root nor the daemon's */
	uint64_t poll_ns;		/* busy-poll budget after activity (DESIGN §11); 0: off */
	unsigned ring_threads;		/* threads that poll the sessions' rings (ring.h) */
	const struct perm_trust *trust; /* who may MAP; kept by the caller, changed only on
					 * the loop thread (SIGHUP) */
	int socket_gid;			/* group of the socket file; -1: leave it */
	const struct srv_mounter *mounter; /* NULL: MOUNT and UMOUNT are refused (EOPNOTSUPP) */
	int listen_fd;			/* >= 0: a listening SOCK_SEQPACKET socket handed over
					 * (socket activation): used instead of binding, and its
					 * file is left in place; -1: bind socket_path */
};

/*
 * srv_new - set up the loop and the workers and bind the socket (its directory is created
 * if missing; a stale socket file is replaced, a live daemon on it is refused; its mode
 * and group set), or take @o->listen_fd as it is.
 * Every failure logs one line that says why.
 * Return: 0 and *@out; -EADDRINUSE (a daemon answers there); -EEXIST (not a socket);
 *         -ENAMETOOLONG; -errno of mkdir/socket/bind/listen; -ENOMEM.
 */
int srv_new(struct srv **out, struct ns *ns, const struct srv_opts *o);

/*
 * srv_base - the loop, for the caller's own events (timers, SIGHUP); they run on the loop
 * thread, between requests.
 */
struct event_base *srv_base(struct srv *srv);

/* srv_get_mounter - srv_opts.mounter (NULL: none). */
const struct srv_mounter *srv_get_mounter(const struct srv *srv);

/*
 * srv_run - serve until SIGTERM or SIGINT, then shut down gracefully. For @poll_ns after
 * the last packet or connection it polls without sleeping, then blocks (DESIGN §11).
 * Return: 0; -EIO when the loop failed.
 */
int srv_run(struct srv *srv);

/*
 * srv_delete - stop the workers, close what is left, remove the socket file. Accepts NULL;
 * sets *@srvp = NULL.
 */
void srv_delete(struct srv **srvp);

/*
 * srv_ring_request - run the request @msg (@len bytes, copied out of @slot of @s's ring;
 * 0: its slot length was out of range) on the calling thread and answer it in the slot,
 * unless it parks (a worker answers it then). @buf: the caller's WIRE_MSG_MAX reply buffer.
 * Context: a ring thread (registered with RCU), no engine lock held.
 */
struct sess;
void srv_ring_request(struct srv *srv, struct sess *s, unsigned slot, const void *msg, size_t len,
		      void *buf);

#endif
