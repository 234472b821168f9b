/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_DAEMON_SESSION_H
#define DAXFS_DAEMON_SESSION_H

/*
 * session - one connected client: its credentials and map trust, its socket and the
 * outbox of messages the socket could not take yet, its shared buffer, and its grants
 * (grant id -> struct ns_grant) with the callbacks that push POISON / INVALIDATE events.
 *
 * Lifetime: reference counted. The event loop holds one reference while the client is
 * connected, each request handed to a worker holds one, each grant holds one. The last
 * unref frees, from whichever thread drops it. The loop thread owns the libevent events
 * and frees them when the client goes (server.c).
 *
 * Memory a client can make the daemon hold (docs/man/daxfsd.8 adds it up): the requests
 * it has in flight and the replies queued for it are bounded together by SESS_QUEUE_MAX.
 * Each request reserves its own copy and the largest reply it can get when it is handed
 * to a worker; the reservation becomes the queued reply, which leaves the outbox when the
 * socket takes it. Once reservations and queued bytes reach SESS_QUEUE_MAX the loop stops
 * reading the session's requests (backpressure) until they drop below it again, or until
 * the socket is shut down (the outbox then never drains: the loop reads to the end). Pushed
 * events (POISON, INVALIDATE) are never held back by that: they go out, or into the outbox
 * on top of the replies, up to SESS_EVENTS_ROOM more; a client that lets even those pile
 * up is not reading its socket at all and is dropped (its grants then stay until its
 * process exits, as for any dropped client: DESIGN §6).
 *
 * Locks, in order: the engine's grant lock (callbacks run under it) -> send_lock ->
 * libevent's base lock (event_add of the write event); grant_lock (the session's grant
 * table) -> the engine's grant lock. send_lock and the session's grant_lock are never held
 * together; neither is held across a call into the engine other than ns_grant_ack().
 */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "handles.h"
#include "lease.h"
#include "perm.h"

struct event;
struct event_base;
struct ns;
struct sess;
struct sess_out;
struct sess_ring;
struct srv;

/* A client's mapping of a file range: the session's record of one engine grant. */
struct sess_grant {
	struct sess *s;	    /* referenced */
	uint64_t id;	    /* what the client calls it (MAP reply, events, ACK, UNMAP) */
	struct ns_grant *g; /* atomic: set once ns_map returns, or by its first callback */
	bool ready;	    /* under s->grant_lock: replied to; ACK and UNMAP may use it */
};

#define SESS_QUEUE_MAX (1u << 20)     /* requests in flight + replies queued: then pause */
#define SESS_EVENTS_ROOM (256u << 10) /* events queued beyond that: drop the client */
#define SESS_OUT_ENTRY 32	      /* bytes an outbox entry costs besides its message */
#define SESS_GRANTS_MAX 65536	      /* grants one session may hold */

struct sess {
	/* Fixed after sess_new() (and the server's setting of srv). */
	struct srv *srv;
	struct ns *ns;
	struct event_base *base;
	uint64_t id;
	struct cred cred;
	enum perm_trust_level trust;

	uint32_t refs;	   /* atomic */
	uint32_t inflight; /* atomic: requests handed to workers, not answered yet */
	uint64_t reserved; /* atomic: bytes the requests in flight reserved (sess_reserve) */
	bool paused;	   /* atomic: the loop stopped reading requests (backpressure) */

	/* Event loop thread only. */
	bool hello;
	bool counted;	  /* counts against the session limits (server.c) */
	int refuse;	  /* not 0: over a limit; its HELLO is answered with this, then closed */
	uint32_t reports; /* POISON_REPORTs taken in the current second */
	uint64_t report_window; /* mono_ns when that second began */
	int pidfd;		/* the peer process, or -1 */
	struct event *ev_read, *ev_write, *ev_pid, *ev_hello;
	struct sess *prev, *next; /* the server's list of connected or reaped sessions */
	struct sess_grant **reap; /* a dropped client's grants, deleted when it exits */
	size_t nreap;

	/* The socket and the outbox. */
	pthread_mutex_t send_lock;
	int fd;	       /* under send_lock; -1 once closed */
	bool broken;   /* under send_lock: shut down (peer gone, or dropped) */
	bool injector; /* sent INJECT: its own replies never take an injected send failure */
	struct sess_out *out_head, **out_tail;
	size_t out_n, out_bytes; /* out_bytes: messages + SESS_OUT_ENTRY each; written atomically */

	/* The shared buffer: mapped at HELLO, before any request reaches a worker. */
	void *shm;
	size_t shm_size;	/* of the mapping: WIRE_SHM_SIZE, + RING_SIZE with a ring */
	void *ring_area;	/* in shm, when the client asked for a ring; else NULL */
	struct sess_ring *ring; /* set at HELLO when its ring is served (ring.h) */

	/* The inodes this session reached by path (handles.h), under handle_lock (a leaf). */
	pthread_mutex_t handle_lock;
	struct handles handles;

	/* Grants. */
	pthread_mutex_t grant_lock;
	struct sess_grant **grants; /* sorted by id */
	size_t ngrants, capgrants;
	uint64_t next_grant;
	bool grants_closed; /* the client is gone: no new grants */

	/*
	 * atomic: the daemon dropped the client (lease break not acked, outbox overflow,
	 * malformed framing) while its process may still run and touch what it maps: its
	 * grants are deleted only once that process has exited (DESIGN §6).
	 */
	bool dropped;
	bool region_fd_sent; /* atomic: a MAP reply carried the region fd */
};

/*
 * sess_new - a session for the accepted socket @fd with credentials @cred (taken over:
 * released with the session). One reference, the caller's.
 * Return: 0 and *@out; -ENOMEM.
 */
int sess_new(struct sess **out, struct ns *ns, struct event_base *base, uint64_t id, int fd,
	     struct cred *cred, enum perm_trust_level trust);

void sess_ref(struct sess *s);
/* sess_unref - drop a reference; the last one frees (the socket is closed by then). */
void sess_unref(struct sess *s);

/*
 * sess_send - send one message, with @fd attached unless it is -1 (the caller keeps its
 * fd). Never blocks on the socket: what the socket cannot take now goes to the outbox
 * (with a duplicate of @fd) and the loop sends it when the socket is writable. A reply
 * is always queued (its room was reserved, or the loop stops reading before it matters);
 * an event that finds SESS_QUEUE_MAX + SESS_EVENTS_ROOM queued shuts the client down
 * (one log line): it does not read its socket.
 * Context: any thread, also under the engine's grant lock.
 * Locking: takes send_lock.
 * Return: 0 (sent or queued); -EPIPE (closed or shut down: dropped); -ENOMEM.
 */
int sess_send(struct sess *s, const void *buf, size_t len, int fd);

/* sess_send_fds - sess_send with up to two fds attached (the HELLO of a ring: its doorbell). */
int sess_send_fds(struct sess *s, const void *buf, size_t len, const int *fds, int nfds);

/*
 * sess_reserve / sess_unreserve - a request handed to a worker holds @bytes (its copy and
 * its largest reply) until its reply is sent or queued. Unreserving wakes the loop when
 * it paused the session, so that it reads again once there is room (sess_kick).
 * Context: sess_reserve the loop thread; sess_unreserve any thread.
 * Locking: none (atomics); sess_unreserve may take send_lock.
 */
void sess_reserve(struct sess *s, uint64_t bytes);
void sess_unreserve(struct sess *s, uint64_t bytes);

/*
 * sess_queued - bytes the session holds now: reservations and the outbox. The loop reads
 * no more requests of a session at SESS_QUEUE_MAX or more (but for a shut down socket).
 * Context: any thread. Locking: none (a snapshot of two atomic counts).
 */
uint64_t sess_queued(struct sess *s);

/*
 * sess_kick - have the loop look at the session (its write event fires, as the socket is
 * writable or gone): after a paused session's queue shrank.
 * Context: any thread. Locking: takes send_lock.
 */
void sess_kick(struct sess *s);

/*
 * sess_flush - send what the outbox holds, until the socket is full again.
 * Context: the event loop thread (EV_WRITE). Locking: takes send_lock.
 */
void sess_flush(struct sess *s);

/*
 * sess_is_broken - the socket is shut down (the peer went, or the daemon dropped it): the
 * loop must read it to see the end, paused or not.
 * Context: any thread. Locking: takes send_lock.
 */
bool sess_is_broken(struct sess *s);

/*
 * sess_shutdown - drop the client: mark it dropped, shutdown(2) its socket so the loop sees
 * the end and cleans up; later sends are dropped. Logs @why (with the session) once.
 * Context: any thread. Locking: takes send_lock.
 */
void sess_shutdown(struct sess *s, const char *why);

/*
 * sess_close - close the socket and drop the outbox; nothing is sent after this.
 * Context: the event loop thread, after it freed the session's read event.
 * Locking: takes send_lock.
 */
void sess_close(struct sess *s);

/* --- handles --- */

/*
 * sess_handle_add - the session reached @ino through a path lookup that passed search
 * permission on every directory: requests by its number are honoured from now on.
 * Locking: takes handle_lock. Return: 0; -ENOMEM.
 */
int sess_handle_add(struct sess *s, uint64_t ino);

/*
 * sess_handle_check - may the session name @ino by number? Admins may name any inode.
 * Locking: takes handle_lock. Return: 0; -ESTALE (never reached, or forgotten since).
 */
int sess_handle_check(struct sess *s, uint64_t ino);

/* --- grants --- */

extern const struct ns_grant_ops sess_grant_ops;

/*
 * sess_grant_begin - a new grant record (its id allocated) for a MAP in progress; it is
 * in the table but not ready. Pass it as the holder to ns_map().
 * Locking: takes grant_lock.
 * Return: 0 and *@out; -ECONNRESET (the client is gone); -EMFILE (SESS_GRANTS_MAX);
 *         -ENOMEM.
 */
int sess_grant_begin(struct sess *s, struct sess_grant **out);

/*
 * sess_grant_commit - ns_map() gave @g for @sg: the grant is ready.
 * Return: 0; -ECONNRESET when the client went meanwhile: @sg is out of the table and the
 *         caller deletes @g and frees @sg.
 */
int sess_grant_commit(struct sess *s, struct sess_grant *sg, struct ns_grant *g);

/* sess_grant_abort - ns_map() failed: take @sg out of the table and free it. */
void sess_grant_abort(struct sess *s, struct sess_grant *sg);

/*
 * sess_grant_take - take the ready grant @id out of the table (UNMAP).
 * Return: the record (the caller deletes ->g and frees it), or NULL.
 */
struct sess_grant *sess_grant_take(struct sess *s, uint64_t id);

/* sess_grant_free - free @sg (its grant already deleted) and drop its session reference. */
void sess_grant_free(struct sess_grant *sg);

/*
 * sess_grant_ack - the client acknowledged invalidation @gen of grant @id.
 * Context: the event loop thread. Locking: grant_lock, then the engine's grant lock.
 * Return: 0; -ENOENT (no such ready grant: ignored).
 */
int sess_grant_ack(struct sess *s, uint64_t id, uint64_t gen);

/*
 * sess_grant_range - the file and byte range of ready grant @id (a client's POISON_REPORT
 * must lie inside it).
 * Context: any thread. Locking: grant_lock.
 * Return: 0 with *@ino, *@off, *@len; -ENOENT (no such ready grant).
 */
int sess_grant_range(struct sess *s, uint64_t id, uint64_t *ino, uint64_t *off, uint64_t *len);

/*
 * sess_grants_close - the client is gone: no new grants; hand the table over in *@out
 * (the caller frees the array) with the ready grants first: the return value says how
 * many; the caller deletes those. The pointers after them are MAPs still in a worker,
 * which deletes its grant itself (sess_grant_commit says so): do not touch them.
 * Locking: takes grant_lock.
 * Return: the number of ready grants at the front of *@out (*@out may be NULL when 0).
 */
size_t sess_grants_close(struct sess *s, struct sess_grant ***out);

#endif
