/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_DAEMON_FUSE_INT_H
#define DAXFS_DAEMON_FUSE_INT_H

/*
 * The FUSE frontend's insides, shared by its files:
 *   fuse-mount.c  options, the session, its threads, start and stop, invalidations
 *   fuse-nodes.c  the node table: the files the kernel has open, and unlinked-while-open ones
 *   fuse-cred.c   who asks: a request's credentials, and a file handle's
 *   fuse-fop.c    one engine call from a request to its reply, parked and resumed if need be
 *   fuse-ops.c    the operations
 *
 * Locking (each a leaf except as said): m->nodes_lock (the node table), m->cred_lock (the
 * groups cache), m->park_lock (parked calls and their deadlines; its holder may take an
 * inode's wait_lock through ns_ctx_cancel), m->note_lock (invalidations queued). None is
 * held across an engine call that can park or across a reply to the kernel.
 */

/* FUSE_MAKE_VERSION(3, 12): the loop API of 3.12 (docs/fuse.md) */
#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "fuse.h"
#include "namespace.h"

#define FM_THREADS 4		 /* threads reading /dev/fuse */
#define FM_GROUPS_INLINE 16	 /* supplementary groups kept without an allocation */
#define FM_CRED_SLOTS 64	 /* the groups cache */
#define FM_NOTES_MAX 65536	 /* invalidations queued at most; more are dropped (logged) */
#define FM_MAX_IO (1u << 20)	 /* max_write and max_read: 256 pages */
#define FM_SMALL_IO (128u << 10) /* with FMOUNT_SMALL_PAGES */

/* Who asks: the engine's credential and the groups it points to. */
struct fcred {
	struct ns_cred ns;
	uint32_t inline_groups[FM_GROUPS_INLINE];
	uint32_t *heap_groups; /* when more than FM_GROUPS_INLINE */
};

/* An open file: what open(2) allowed, kept for its I/O. */
struct fh {
	struct fh *prev, *next; /* m->handles, under nodes_lock */
	uint64_t ino;		/* open in the engine (ns_open) */
	struct fcred cred;	/* the opener, with NS_CRED_OPEN */
	bool append;
};

struct fnote; /* fuse-mount.c */
struct fop;

struct fmount {
	struct ns *ns;
	struct fuse_session *se;
	char *mountpoint;
	struct fmount_opts o;
	double attr_tmo, entry_tmo;
	struct fcred trusted; /* the frontend's own calls (last closes); origin: this mount */
	bool stopping;	      /* atomic */
	bool ended;	      /* atomic: the kernel ended the connection (unmounted) */

	pthread_t threads[FM_THREADS];
	unsigned nthreads;
	bool poller;   /* atomic: a FUSE thread polls /dev/fuse (at most one does) */
	unsigned busy; /* atomic: FUSE threads serving a request */

	/* fuse-nodes.c */
	pthread_mutex_t nodes_lock;
	struct fh *handles; /* open files, released at stop when the kernel could not */

	/* fuse-cred.c */
	pthread_mutex_t cred_lock;
	struct fcred_slot *creds;

	/* fuse-fop.c: the park thread resumes woken calls and expires deadlines */
	pthread_mutex_t park_lock;
	pthread_cond_t park_cond;
	struct fop *ready, *ready_tail; /* woken: to run again */
	struct fop *timers;		/* parked with a deadline */
	unsigned parked;		/* atomic: fops not answered yet */
	bool park_stop;			/* atomic */
	pthread_t park_thread;
	bool park_running;

	/* fuse-mount.c: the invalidation thread */
	pthread_mutex_t note_lock;
	pthread_cond_t note_cond;
	struct fnote *notes, *notes_tail;
	unsigned nnotes;
	uint64_t notes_dropped;
	uint64_t notes_queued, notes_done; /* notes ever queued, and handed over (or dropped at
					    * the stop) since: fm_notes_flush waits on them */
	pthread_cond_t note_done_cond;	   /* notes_done moved, for note_flushers */
	unsigned note_flushers;
	bool note_stop;
	pthread_t note_thread;
	bool note_running;
};

/* --- fuse-nodes.c (Locking: each takes m->nodes_lock) --- */
int fnodes_init(struct fmount *m);
/* fnodes_fini - close the handles the kernel left open (their orphans go), free them. */
void fnodes_fini(struct fmount *m);
/*
 * fh_close_inode - one open of @ino fewer, synchronously, as the mount itself; an orphan's
 * last close removes it (waiting, at most the lease-break timeout, for its mappers).
 * Context: a thread that may wait (stop, an open whose reply was interrupted).
 */
void fh_close_inode(struct fmount *m, uint64_t ino);
void fh_track(struct fmount *m, struct fh *h);
void fh_untrack(struct fmount *m, struct fh *h);

/* --- fuse-cred.c --- */
int fcreds_init(struct fmount *m);
void fcreds_fini(struct fmount *m);
/*
 * fcred_of_req - the credentials of @req's caller into @c: uid, gid, and its supplementary
 * groups (read from /proc through libfuse at most once a second per process; root needs
 * none). Return: 0; -ENOMEM.
 */
int fcred_of_req(struct fmount *m, fuse_req_t req, struct fcred *c);
/* fcred_copy - @src into @dst (its own copy of the groups). Return: 0; -ENOMEM. */
int fcred_copy(struct fcred *dst, const struct fcred *src);
void fcred_release(struct fcred *c);

/* --- fuse-fop.c --- */
typedef int (*fop_run_fn)(struct fop *f);
typedef void (*fop_reply_fn)(struct fop *f, int rc);

/*
 * One request's engine call(s) and its reply: fop_go() runs @run; NS_WAIT parks it (the
 * borrowed name and data are copied first) until the engine wakes it or its deadline
 * passes, and the park thread runs it again; anything else goes to @reply, and the fop is
 * freed. @run may make several engine calls: ->step says where it stands.
 */
struct fop {
	struct fmount *m;
	fuse_req_t req;
	fop_run_fn run;
	fop_reply_fn reply;
	struct ns_ctx ctx;
	struct fcred cred;
	uint32_t state; /* atomic: enum fop_state (fuse-fop.c) */
	int step;
	int err;	 /* a failure to keep the arguments: answered when run again */
	bool timer_only; /* parked by fop_retry_later, not in the engine */
	uint64_t deadline;
	struct fop *tnext, *tprev; /* m->timers */
	bool armed;
	struct fop *qnext; /* m->ready */

	/* Arguments (borrowed from the request until it parks) and results. */
	uint64_t ino, dir, ndir;
	const char *name, *name2;
	const void *buf;
	size_t len;
	uint64_t off;
	uint32_t mode;
	unsigned flags;
	struct ns_setattr sa;
	struct fuse_file_info fi;
	struct fh *fh;
	struct ns_attr attr, attr2;
	int tries;
	void *own[3]; /* copies made at park */
};

int fops_init(struct fmount *m);
/* fops_fini - wait for every parked call to be answered, then stop the park thread. */
void fops_fini(struct fmount *m);
/*
 * fop_new - a fop for @req, acting as @as (NULL: the request's caller; a handle's
 * credentials; m->trusted). Return: the fop; NULL after answering the request (ENOMEM; EIO
 * when the region failed).
 */
struct fop *fop_new(struct fmount *m, fuse_req_t req, const struct fcred *as, fop_run_fn run,
		    fop_reply_fn reply);
/* fop_go - run it (see struct fop). The fop is not the caller's any more. */
void fop_go(struct fop *f);
/*
 * fop_retry_later - from @run: have it run again in @ms milliseconds (a wait that is not
 * the engine's, e.g. for the kernel's RELEASE of a file unlinked while open).
 * Return: NS_WAIT, for @run to return.
 */
int fop_retry_later(struct fop *f, unsigned ms);

/* --- fuse-ops.c --- */
extern const struct fuse_lowlevel_ops fm_ops;
void fm_to_stat(const struct ns_attr *a, struct stat *st);

/* --- fuse-mount.c --- */
/* fm_thread_buf - the calling FUSE thread's buffer of FM_MAX_IO bytes (reads). */
char *fm_thread_buf(void);
/* fm_failed - the region failed: answer @req EIO. Return: true when answered. */
bool fm_failed(struct fmount *m, fuse_req_t req);
/*
 * fm_invalidate - queue an invalidation of @ino's attributes and cached data [@off, +@len)
 * (len 0: all of it), as for another client's change (the mount's own O_APPEND writes that
 * went where the kernel did not expect).
 */
void fm_invalidate(struct fmount *m, uint64_t ino, uint64_t off, uint64_t len);

/*
 * fm_notes_flush - wait until the invalidations queued before the call are handed to the
 * kernel, for at most FM_FLUSH_WAIT_MS (the kernel may hold a note back while it waits for
 * a page lock). cache=auto's open answers only after it: what other clients changed before
 * the open is what the opener sees. Locking: none held (takes m->note_lock).
 */
#define FM_FLUSH_WAIT_MS 200
void fm_notes_flush(struct fmount *m);

#endif
