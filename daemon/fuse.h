/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_DAEMON_FUSE_H
#define DAXFS_DAEMON_FUSE_H

/*
 * fuse - the FUSE frontend: daxfsd serves its namespace as a mounted file system (DESIGN
 * §12, docs/fuse.md), beside the socket server. Each FUSE request calls the engine
 * directly with the caller's credentials (uid, gid and groups of the process the kernel
 * names), so there is no second hop to a daemon; a call the engine parks (another request
 * holds the inode, mappers must let go) is answered later from the park thread, never
 * waited for on a FUSE thread. Changes other clients make reach the kernel's caches as
 * invalidations (engine/observe.h).
 *
 * Context: fmount_new and fmount_delete from the daemon's main thread, registered with RCU.
 */

#include <stdbool.h>
#include <stddef.h>

struct ns;
struct fmount;

/* How much the kernel may cache (as virtiofs' cache= option). */
enum fmount_cache {
	FMOUNT_CACHE_NONE,   /* no page cache (direct I/O); names and attributes not cached */
	FMOUNT_CACHE_AUTO,   /* cached, dropped at each open and when attributes expire */
	FMOUNT_CACHE_ALWAYS, /* kept across opens; other clients' changes invalidate it */
};

/* Features that help, each of which a measurement may turn off (bench/run fuse). */
#define FMOUNT_NO_SPLICE 0x1	      /* replies written to /dev/fuse, not spliced through a pipe */
#define FMOUNT_NO_PARALLEL_DIROPS 0x2 /* the kernel serialises lookups in one directory */
#define FMOUNT_NO_READDIRPLUS 0x4     /* readdir without attributes */
#define FMOUNT_SMALL_PAGES 0x8	      /* 128 KiB requests (32 pages) instead of 1 MiB (256) */

struct fmount_opts {
	enum fmount_cache cache;
	double attr_timeout, entry_timeout; /* seconds; < 0: the cache mode's default */
	bool writeback;			    /* the kernel's writeback cache (cache=always only) */
	bool ro;
	unsigned no;	  /* FMOUNT_NO_* */
	unsigned poll_us; /* a FUSE thread polls /dev/fuse this long after a request; 0: never */
};

/*
 * fmount_opts_parse - the comma-separated mount options @s ("cache=always,attr_timeout=5")
 * over what @o holds. Known: cache=none|auto|always, attr_timeout=S, entry_timeout=S,
 * writeback, ro, rw, and no_splice, no_parallel_dirops, no_readdirplus, small_pages.
 * Return: 0; -EINVAL with a message in @err.
 */
int fmount_opts_parse(struct fmount_opts *o, const char *s, char *err, size_t errlen);

/* fmount_opts_default - cache=auto, the mode's timeouts, everything that helps on. */
void fmount_opts_default(struct fmount_opts *o);

/* fmount_cache_name - "none", "auto", "always". */
const char *fmount_cache_name(enum fmount_cache c);

/*
 * fmount_new - mount @ns on the directory @mountpoint (which must exist) with @o and start
 * serving it. Logs one line that says why when it fails.
 * Return: 0 and *@out; -EINVAL (bad options); -ENOENT / -ENOTDIR (@mountpoint); -EBUSY;
 *         -EPERM (not allowed to mount); -ENOMEM; -errno of pthread_create.
 */
int fmount_new(struct fmount **out, struct ns *ns, const char *mountpoint,
	       const struct fmount_opts *o);

/* fmount_path - where it is mounted. */
const char *fmount_path(const struct fmount *m);

/*
 * fmount_serving - false once the kernel ended the mount's connection (someone unmounted
 * it, fusermount3 -u): then only fmount_delete is left to do.
 */
bool fmount_serving(const struct fmount *m);

/*
 * fmount_delete - unmount and stop: no new request is taken, the parked ones finish (each
 * within the lease-break timeout), the kernel's connection is closed (programs still using
 * a file there get ENOTCONN), the names of files unlinked while open are removed, and
 * everything is freed. Accepts NULL; sets *@mp = NULL.
 */
void fmount_delete(struct fmount **mp);

#endif
