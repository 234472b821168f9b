/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_LIB_PRIVATE_H
#define DAXFS_LIB_PRIVATE_H

/*
 * libdaxfs internals shared by errors.c, session.c (session, requests, replies, the socket),
 * ring.c (the shared-memory ring), events.c, names.c (the calls) and map.c (mappings, what
 * the library does for each event). Each includes only this header of the library's own.
 *
 * Threading model. Any number of threads call into one handle. Each request takes a slot
 * (the table of requests in flight: at most the daemon's inflight_max), builds its message
 * in the slot's request buffer, marks the slot WAIT and sends under fs->send_lock. Nobody
 * owns the socket's receive side: a thread that needs a reply and finds no reader becomes
 * the reader (fs->reader) and receives (polling with MSG_DONTWAIT for spin_us, then ppoll
 * until its deadline). A reply for another slot is handed over by swapping the reader's
 * receive buffer with the slot's reply buffer (request buffers never change hands) and
 * signalling the slot's condvar; an event is copied out, the reader role dropped, and the
 * event handled by that thread. A thread whose slot is done, or that drops the role to
 * handle an event, wakes one sleeping waiter to take the role over.
 *
 * Locks: fs->shm_lock is held across whole READ/WRITE exchanges through the shared buffer,
 * waits for replies included, so it comes before everything else. Then fs->maps_lock ->
 * fs->lock (both are held to move a grant from a slot's map_pending to the list of
 * mappings, and to queue an event on a slot). fs->send_lock (across one send()) and
 * map->lock are leaves. None is held while waiting for a reply or across a callback of
 * the application.
 *
 * Events: the thread that reads one drops the reader role, makes the range PROT_NONE
 * (map.c), ACKs an INVALIDATE, then calls the application's callback. An event may arrive
 * for a grant whose MAP reply was dispatched but whose daxfs_map_new() has not finished
 * building the view: the reader records the grant in the MAP's slot (map_pending), an
 * event for it is queued there, and daxfs_map_new() applies the queue once the mapping is
 * on the handle's list (nobody waits for anybody). Other grants are not mapped here (any
 * more): no callback, and an INVALIDATE is acknowledged at once.
 */

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <daxfs/daxfs.h>

#include "wire.h"

struct pmem2_source;

#define LIB_TIMEOUT_MS_DEFAULT 30000
#define LIB_SPIN_US_DEFAULT 50
#define LIB_SPIN_US_MAX 100000
#define LIB_PAGE 4096u
#define LIB_SLOT_BITS 8 /* request id = (sequence << 8) | slot index */
#define LIB_ID_NO_SLOT 0xffu

/* An event copied out of the receive buffer. */
struct lib_event {
	unsigned op;
	struct wire_event ev;
};

enum lib_slot_state {
	SLOT_FREE = 0,
	SLOT_BUSY, /* owned by a caller: building the request or reading the reply */
	SLOT_WAIT, /* sent, the reply not yet dispatched */
	SLOT_DONE, /* the reply is in buf */
};

struct lib_slot {
	uint64_t id;
	unsigned op; /* the request's op, set by lib_call */
	enum lib_slot_state state;
	bool sleeping;		  /* the owner waits on cond (not reading, not handling an event) */
	bool map_pending;	  /* DONE: a successful MAP reply of grant pending_grant */
	uint64_t pending_grant;	  /* events for it are queued below until it is mapped */
	struct lib_event *queued; /* malloc'd */
	size_t nqueued, capqueued;
	int err;	 /* DONE: 0, or a negative errno when the reply could not be used */
	const char *why; /* the detail for err */
	int fd;		 /* DONE: the fd that came with the reply, or -1 */
	int fd2;	 /* DONE: a HELLO reply's second fd (the ring's doorbell), or -1 */
	size_t len;	 /* DONE: bytes of the reply in buf */
	uint8_t *req;	 /* WIRE_MSG_MAX bytes: the request, built and sent by the owner */
	uint8_t *buf;	 /* WIRE_MSG_MAX bytes: the reply; the reader swaps it with its own */
	pthread_cond_t cond;
};

struct daxfs {
	int sock;
	int timeout_ms; /* $DAXFS_TIMEOUT_MS */
	int spin_us;	/* $DAXFS_SPIN_US */

	/* from HELLO */
	uint32_t inline_max;
	uint32_t inflight; /* slots in use: min(inflight_max, WIRE_INFLIGHT_MAX) */
	uint64_t session;

	pthread_mutex_t shm_lock; /* one READ/WRITE through the shared buffer at a time */
	void *shm;
	size_t shm_size;

	pthread_mutex_t send_lock;

	/* The ring (ring.c): set at HELLO, then fixed. */
	void *ring;	       /* in the shm mapping, after shm_size bytes; NULL: socket only */
	int ring_efd;	       /* the doorbell; -1 */
	size_t map_size;       /* of the shm mapping: shm_size, + RING_SIZE with a ring */
	uint64_t ring_pos;     /* atomic: the next submission position */
	uint32_t ring_waiting; /* atomic: threads waiting for a ring reply */
	uint32_t nmaps;	       /* atomic: mappings on fs->maps (events may come) */
	bool ev_on;	       /* atomic: the event thread runs */

	pthread_mutex_t lock;	  /* everything below up to the maps */
	pthread_cond_t slot_cond; /* a slot became free */
	pthread_cond_t idle_cond; /* the reader role was dropped */
	struct lib_slot slots[WIRE_INFLIGHT_MAX];
	uint64_t seq;
	bool reader;   /* some thread receives from the socket */
	uint8_t *rbuf; /* WIRE_MSG_MAX bytes: the reader's receive buffer */
	int broken;    /* 0, or -ECONNRESET once the session is unusable */
	void (*log_fn)(void *ctx, const char *msg);
	void *log_ctx;
	daxfs_event_fn event_fn;
	void *event_ctx;
	int region_fd; /* from the first MAP reply that carried it; -1 before */
	struct pmem2_source *region_src;
	pthread_cond_t region_cond; /* region_fd came */

	pthread_mutex_t maps_lock; /* the list of mappings */
	struct daxfs_map *maps;

	/* the event thread: started and stopped under ev_lock */
	pthread_mutex_t ev_lock;
	bool ev_running;
	bool ev_stop; /* under fs->lock */
	int ev_stop_fd;
	pthread_t ev_thread;
};

/* --- session.c --- */

/* lib_err - set the calling thread's detail string; return @err (a negative errno). */
int lib_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* lib_log - hand a message to the application's log function, if any. Takes fs->lock. */
void lib_log(struct daxfs *fs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* lib_now_ns - CLOCK_MONOTONIC in ns. lib_deadline_ns - now + the session's timeout. */
uint64_t lib_now_ns(void);
uint64_t lib_deadline_ns(const struct daxfs *fs);

/*
 * lib_slot_get - take a free slot for one request; waits (until the timeout) when all
 * inflight slots are taken. Return: 0 and *@out (SLOT_BUSY); -ECONNRESET; -ETIMEDOUT.
 */
int lib_slot_get(struct daxfs *fs, struct lib_slot **out);
/* lib_slot_put - release a slot (closes an fd left in it). */
void lib_slot_put(struct daxfs *fs, struct lib_slot *s);

/*
 * lib_call - send the message built in @s->req by @m (op @op) and wait for its reply;
 * @what (a path, "inode N", or NULL) goes into the detail string.
 * Return: 0 with the reply in @s (status 0, fixed part present); the reply's status
 *         (negative errno); -EPROTO (malformed reply), -ECONNRESET, -ETIMEDOUT (the session
 *         is then broken), -EMSGSIZE (a message that does not fit). Sets the detail string.
 */
int lib_call(struct daxfs *fs, struct lib_slot *s, struct wire_msg *m, unsigned op,
	     const char *what);

/*
 * lib_path_size - the counted length of absolute @path (with its NUL), or a detailed
 * -EINVAL / -ENAMETOOLONG. lib_call_attr - one request: @body (@blen bytes) and up to two
 * counted strings; the reply's attributes to *@attr (may be NULL); @what names the object
 * in error details.
 */
struct wire_attr;
int lib_path_size(const char *path, uint32_t *out);
int lib_call_attr(struct daxfs *fs, unsigned op, const void *body, size_t blen, const char *p1,
		  uint32_t l1, const char *p2, uint32_t l2, const char *what,
		  struct wire_attr *attr);

/* lib_reply_body - the reply's fields after the header. */
static inline void *lib_reply_body(struct lib_slot *s)
{
	return s->buf + sizeof(struct wire_hdr);
}

/* lib_send_ack - send ACK {grant, generation} (no reply). Return: 0 or a negative errno. */
int lib_send_ack(struct daxfs *fs, uint64_t grant, uint64_t generation);

/* --- ring.c --- */

/* lib_ring_setup - use the ring at @area with doorbell @efd. Return: 0; -EPROTO (not one). */
int lib_ring_setup(struct daxfs *fs, void *area, int efd);

/* lib_ring_inline_max - the largest inline READ or WRITE that goes through the ring. */
size_t lib_ring_inline_max(void);

/* lib_ring_usable - may slot @s's request (@op, @len bytes) go through the ring now? */
bool lib_ring_usable(struct daxfs *fs, const struct lib_slot *s, unsigned op, size_t len);

/*
 * lib_ring_call - submit slot @s's request (@len bytes in s->req) through the ring and wait
 * until @deadline for its reply, which is copied to s->buf (s->len; s->err and s->why say
 * when it is unusable). Return: 0; -ETIMEDOUT; -ECONNRESET (the daemon closed the session).
 */
int lib_ring_call(struct daxfs *fs, struct lib_slot *s, size_t len, uint64_t deadline);

void lib_ring_close(struct daxfs *fs);

/* --- errors.c --- */

/* lib_errstr - strerror() of @err (either sign) without its static buffer. */
const char *lib_errstr(int err, char *buf, size_t len);

/* --- session.c: the socket transport (events.c reads it too) --- */

enum {
	RECV_DISPATCHED = 0, /* a reply went to its slot (or a stray packet was dropped) */
	RECV_EVENT = 1,	     /* an event was copied out */
};

struct timespec lib_ns_to_timespec(uint64_t ns);

/*
 * lib_reader_recv - receive one packet and dispatch it: a reply to its slot, an event to
 * *@ev. Context: the thread holding the reader role, fs->lock not held.
 * Return: RECV_DISPATCHED; RECV_EVENT (*@ev filled); -EAGAIN (nothing, !@block);
 *         -ETIMEDOUT; -ECONNRESET.
 */
int lib_reader_recv(struct daxfs *fs, uint64_t deadline, bool block, struct lib_event *ev);

/*
 * __lib_reader_release - give up the reader role and wake one thread that sleeps waiting
 * for a reply (not @self), so that it takes the role over. Locking: fs->lock held.
 */
void __lib_reader_release(struct daxfs *fs, const struct lib_slot *self);

/*
 * __lib_session_break - the session is unusable from now on: every waiting and later
 * request fails with -ECONNRESET. Locking: fs->lock held.
 */
void __lib_session_break(struct daxfs *fs);

/* --- map.c --- */

/*
 * map_adopt_region_fd - the reader found @fd on a successful MAP reply: keep it as the
 * session's region fd (the first one), or close it. Called with fs->lock held.
 */
void map_adopt_region_fd(struct daxfs *fs, int fd);

/*
 * map_handle_event - the library's part of event @e (PROT_NONE, ACK), then the
 * application's callback; for a grant whose daxfs_map_new() is still building, queue it.
 * An INVALIDATE for a grant the handle does not map is only acknowledged.
 * Context: any thread, no library lock held.
 * Return: 1 when the event concerned a mapping of this handle, 0 when it was ignored.
 */
int map_handle_event(struct daxfs *fs, const struct lib_event *e);

/*
 * __map_queue_event - @e is for a grant not (yet) on the list of mappings: queue it on the
 * slot whose MAP reply holds that grant. Locking: fs->maps_lock and fs->lock held.
 * Return: true when queued; false for an unknown grant.
 */
bool __map_queue_event(struct daxfs *fs, const struct lib_event *e);

/* map_detach_all - daxfs_close: mappings keep their memory but forget the handle. */
void map_detach_all(struct daxfs *fs);

/* map_region_close - daxfs_close: release the region fd and its pmem2 source. */
void map_region_close(struct daxfs *fs);

/* --- sigbus.c (the optional SIGBUS handler: daxfs_sigbus_install) --- */

/*
 * lib_sigbus_view_add - mapping @m of @fs is in place: its view [@addr, @addr + @len) holds
 * file bytes from @file_off of @ino under @grant. Nothing when @fs did not install the
 * handler. lib_sigbus_view_del - @m is going: forget its view (before it is unmapped).
 * Context: any thread. Locking: takes the handler's views_lock (a leaf; none of ours held).
 */
void lib_sigbus_view_add(struct daxfs *fs, struct daxfs_map *m, void *addr, uint64_t len,
			 uint64_t grant, uint64_t file_off, uint64_t ino);
void lib_sigbus_view_del(struct daxfs_map *m);

/*
 * lib_sigbus_close - daxfs_close: forget the handle and its views, after waiting (briefly)
 * for a handler that is sending on its socket. Locking: takes views_lock.
 */
void lib_sigbus_close(struct daxfs *fs);

#endif
