/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_DAEMON_RINGS_H
#define DAXFS_DAEMON_RINGS_H

/*
 * ring threads - serve the sessions' shared-memory rings (common/ring.h, DESIGN §11).
 *
 * A few threads (ring_threads: by default half the CPUs, 1 or 2) poll every session's ring;
 * each session has a home thread (the one with the fewest at HELLO) that sleeps on its
 * doorbell. A thread that takes a request runs it to its end itself (srv_ring_request): no
 * handoff; a session whose client keeps several requests in flight gets several threads at
 * once. A request that must wait parks as a socket one does, and the worker that runs it
 * again answers it in the ring. After poll_ns without a
 * request a thread sets daemon_idle in each of its rings, looks once more, and sleeps in
 * epoll on its sessions' doorbell eventfds (edge-triggered: the daemon never reads them, so
 * a client that plays with its copy's flags cannot make a read block).
 *
 * A thread never waits for a client: a ring is read with ring_take (bounded work, no
 * loop on client data); a violation drops the session (sess_shutdown), whose disconnect
 * detaches the ring. A session that holds SESS_QUEUE_MAX is not read (backpressure); its
 * thread then sleeps at most RING_RECHECK_MS at a time.
 *
 * Lifetime: the session owns its struct sess_ring (freed by sess_unref through
 * ring_sess_free); the thread's list holds a session reference until ring_detach.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"

struct rings;
struct sess;
struct srv;

/* The daemon's side of one session's ring. */
struct sess_ring {
	struct ring_cursor cur;	  /* head and busy are atomics: any ring thread takes entries */
	void *area;		  /* in the session's memfd mapping */
	int efd;		  /* the doorbell: an eventfd, the client has a copy */
	struct ring_thread *home; /* sleeps on the doorbell, sets daemon_idle */
	struct rings *rs;	  /* NULL once detached (loop thread) */
	bool detached;		  /* atomic: take nothing more */
};

/*
 * rings_new - start @n ring threads (at least 1) that serve rings for @srv, polling for
 * @poll_ns after each request (0: sleep at once). Return: 0 and *@out; -errno (logged).
 */
int rings_new(struct rings **out, struct srv *srv, unsigned n, uint64_t poll_ns);

/* rings_stop - stop and join the threads; the lists stay for ring_detach. */
void rings_stop(struct rings *rs);

/* rings_delete - rings_stop, drop what the lists hold, free. Accepts NULL. */
void rings_delete(struct rings **rsp);

/*
 * ring_attach - serve the ring in @area (just laid out by ring_init) of session @s: make
 * its doorbell and give it to the thread with the fewest sessions.
 * Context: the loop thread (HELLO). Return: 0 and *@client_efd (a duplicate the caller sends
 * and closes); -errno.
 */
int ring_attach(struct rings *rs, struct sess *s, void *area, int *client_efd);

/*
 * ring_detach - take nothing more from @s's ring (disconnect). Requests in flight still
 * answer into it: the memory stays mapped until the session's last reference goes.
 * Context: the loop thread. Accepts a session without a ring.
 */
void ring_detach(struct sess *s);

/*
 * ring_stop - take nothing more from @s's ring, as its socket, which the daemon just shut
 * down (it dropped the client, or the peer went): requests from a dropped client are not
 * run by either way in. The loop detaches the ring when it sees the socket's end.
 * Context: any thread. Accepts a session without a ring.
 */
void ring_stop(struct sess *s);

/*
 * ring_reply - answer request @id in @slot of @s's ring with @msg (@len bytes, at most
 * RING_MSG_MAX), and wake the client thread that sleeps on it.
 * Context: any thread.
 */
void ring_reply(struct sess *s, unsigned slot, uint64_t id, const void *msg, size_t len);

/* ring_sess_free - free the session's ring state (from sess_unref). Accepts NULL. */
void ring_sess_free(struct sess_ring *r);

#endif
