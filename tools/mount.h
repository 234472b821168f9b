/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_TOOLS_MOUNT_H
#define DAXFS_TOOLS_MOUNT_H

/*
 * daxfs mount - the FUSE frontend (docs/fuse.md).
 *
 * libdaxfs names files by absolute path, FUSE by inode number (nodeid) and (parent, name).
 * The mount keeps a table of the nodes the kernel knows (daxfs inode number = FUSE nodeid,
 * the root is 1 in both) with each node's parent and name, so that a path can be rebuilt
 * for any node; renames done through the mount update it.
 *
 * Locking (take left before right):
 *   mnt->ns_lock (rwlock) -> mnt->lock (mutex) -> ident creation (mnt->ident_lock)
 *   - ns_lock, write side: operations that change which path names which inode (unlink,
 *     rmdir, rename); read side: every other operation that sends a path to the daemon,
 *     held across the request so no path it built goes stale under it.
 *   - lock: the node table and each node's counters; never held across a daemon request.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <daxfs/daxfs.h>

struct fuse_session;

/* Unlinked-while-open files are renamed to this prefix + ino in their directory. */
#define MNT_HIDDEN_PREFIX ".daxfs-fuse-hidden."

/* One node the kernel holds (lookup count) or that is open or has children we hold. */
struct mnt_node {
	uint64_t ino;
	struct mnt_node *parent; /* NULL for the root and for unlinked nodes */
	char *name;		 /* NULL for the root and for unlinked nodes */
	uint64_t nlookup;	 /* the kernel's references */
	unsigned kids;		 /* nodes whose parent this is */
	unsigned opens;		 /* open file handles */
	bool hidden;		 /* unlinked while open: lives on under MNT_HIDDEN_PREFIX */
	struct mnt_node *next;	 /* hash chain */
};

/* One identity the daemon sees: a session opened with those credentials. */
struct mnt_ident {
	uid_t uid;
	gid_t gid;
	struct daxfs *fs;
	struct mnt_ident *next;
};

struct fh; /* mount-ops.c: an open file */
struct dh; /* mount-ops.c: an open directory */

struct mnt {
	const char *socket_path;
	const char *mountpoint;
	struct fuse_session *se;
	double attr_timeout, entry_timeout;
	bool allow_other;
	bool impersonate; /* root + allow_other: other callers get sessions of their own */
	bool use_grants;  /* hold a read grant per open file to get POISON / INVALIDATE */
	int map_trust;	  /* of the mounting user, from STATFS */
	uid_t uid;	  /* the mounting user */
	gid_t gid;
	gid_t *groups; /* its supplementary groups, restored after opening a session as another */
	int ngroups;

	struct mnt_ident self; /* the mounting user's session */
	struct daxfs *events;  /* the session that holds the read grants (event thread) */
	pthread_mutex_t ident_lock;
	struct mnt_ident *idents; /* other callers (impersonate) */
	unsigned nidents;

	pthread_rwlock_t ns_lock;
	pthread_mutex_t lock;
	struct mnt_node **buckets;
	size_t nbuckets, nnodes;
	uint64_t hidden_seq;
	uint64_t lost; /* requests that failed because the session with daxfsd is gone */
	/* What the kernel had open when the session ended (no release comes then). */
	struct fh *open_files; /* under lock */
	struct dh *open_dirs;  /* under lock */
};

/* mount-ops.c */
extern const struct fuse_lowlevel_ops mnt_ops;
int mnt_nodes_init(struct mnt *m);
void mnt_nodes_fini(struct mnt *m);
void mnt_event(void *ctx, const struct daxfs_event *ev);
void mnt_idents_fini(struct mnt *m);
/*
 * mnt_handles_fini - release the files and directories still open when the FUSE session
 * ended (a lazy unmount, a signal): their grants, and the hidden names of unlinked ones.
 * Context: no request runs any more.
 */
void mnt_handles_fini(struct mnt *m);

#endif
