/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_TESTS_LINWORK_H
#define DAXFS_TESTS_LINWORK_H

/*
 * linwork - the workload of the linearizability tests (issue 13): clients, each a thread
 * with its own libdaxfs handle, send random requests to a real daxfsd on one small tree
 * (the names "a" to "d", at most 3 deep) and record each one with its reply
 * (tests/helpers/lincheck.h): create, mkdir, unlink, rmdir, rename (also NOREPLACE and
 * EXCHANGE, and over a file another client maps), link (another name for a file or a
 * symbolic link, now and then the mapped file), symlink (to one name, relative or
 * absolute, maybe dangling, now and then to itself), chmod of files and directories,
 * truncate, write (a few bytes anywhere, extending), and the requests that only look: stat,
 * lstat, getattr, read, readlink, readdir. Paths cross symbolic links wherever the tree has
 * them. A chmod, truncate, write or read is a stat of a path (following links) and then the
 * request by the inode number it gave, a link an lstat and then the link; both are
 * recorded. Links, readlinks and symlinks mostly use paths the client saw name a file, a
 * link or nothing lately: in a tree of 4 names that changes this fast, random ones mostly
 * fail.
 *
 * The mapper, when a round has one, is another handle: it maps a file read-only, and when
 * the daemon asks it to let go (INVALIDATE: a rename over the file, an unlink, a truncate)
 * it waits a few milliseconds before it lets the library acknowledge, so the request that
 * broke the lease waits for it (with the namespace lock held, today); now and then it never
 * answers and the daemon drops it after its lease-break timeout. Its requests change
 * nothing and are not recorded. Renames aim at the file it maps more often than at others.
 *
 * Between rounds the file system is quiet, and lw_scan() reads it whole: that is the final
 * state of one round and the initial state of the next (linwork-scan.c, with lw_reset()).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lincheck.h"

#define LW_CLIENTS_MAX 8
#define LW_OPS_MAX 64 /* requests one client records in a round */

struct daxfs;

struct lw_round_opts {
	unsigned clients;    /* threads that send requests */
	unsigned actions;    /* random actions per client (an action is 1 or 2 requests) */
	bool mapper;	     /* a client that maps a file and acknowledges slowly */
	unsigned ack_ms_max; /* it waits 0..ack_ms_max ms before it acknowledges */
	unsigned drop_pct;   /* per lease break, the chance in % that it never answers */
	bool crash;	     /* the daemon may die: a request that lost its session is pending */
};

struct lw_stats {
	uint64_t ops, kinds[LC_KINDS];
	uint64_t ok[LC_KINDS];		      /* of them, answered without an error */
	uint64_t eloop;			      /* answered ELOOP (a walk through a loop of links) */
	uint64_t maps, lease_breaks, dropped; /* the mapper */
};

struct lw;

/*
 * lw_new - the workload against the daemon at @sock; every handle it opens goes there.
 * Clients do not spin for replies (DAXFS_SPIN_US=0): on 2 CPUs that only steals them.
 */
struct lw *lw_new(const char *sock);
void lw_delete(struct lw **wp);

/* lw_reopen - open every handle again (the daemon was restarted). */
void lw_reopen(struct lw *w);

/* lw_admin - a handle for the test's own quiet requests (scans, resets, injections). */
struct daxfs *lw_admin(struct lw *w);

/*
 * lw_round - run one round: the clients start together, each does o->actions random
 * actions, seeded from @seed. Then *@ops (owned by @w, valid until the next round) holds
 * the history, *@nops its length, *@t0 the time of its first request.
 * A request that fails with ECONNRESET, ETIMEDOUT or EPIPE lost the daemon: with o->crash
 * it is recorded as pending and its client stops; otherwise the test fails.
 * Return: true when some request lost the daemon.
 */
bool lw_round(struct lw *w, const struct lw_round_opts *o, uint64_t seed, const struct lc_op **ops,
	      size_t *nops, uint64_t *t0);

/* lw_stats - what the rounds so far did. */
const struct lw_stats *lw_stats(const struct lw *w);

/*
 * lw_scan - read the whole file system through @fs, quietly, into @s (every entry in
 * readdir order, with its attributes and its bytes or target; a file with several names
 * once). Fails the test when it does not fit the model's tables (a name outside "a".."d",
 * a file over LC_DATA_MAX bytes).
 * Return: true; false when it is not a tree with the right link counts (@why says how):
 *         a directory's nlink that lost an update, or a name that names nothing, for two
 *         (@s then holds the rest).
 */
bool lw_scan(struct daxfs *fs, struct lc_state *s, char *why, size_t len);

/*
 * lw_reset - remove everything and make the starting tree: /a/ (with a file /a/c),
 * /b/, /c and /d (files with a few bytes), /b/d another name of /c, /b/a a symbolic link
 * to "/a".
 */
void lw_reset(struct daxfs *fs);

/* lw_too_big - has the tree in @s grown past what a round should start from? */
bool lw_too_big(const struct lc_state *s);

#endif
