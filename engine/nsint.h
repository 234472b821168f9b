/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_NSINT_H
#define DAXFS_ENGINE_NSINT_H

/*
 * Inside the namespace: the structures the engine's modules share, which module owns which
 * field, and the internal calls between them. Nothing outside engine/ includes this.
 *
 * The modules, bottom up (docs/locking.md draws the graph):
 *   inode.c    the inode and directory-entry tables, references, attributes
 *   wait.c     parked calls: contexts, waiters, inode locks that park
 *   nsapply.c  records -> memory, for replay and for live transactions alike
 *   tx.c       transactions (check, commit, apply), deferred frees, checkpoints, hooks
 *   hold.c     blocks held for mappers that did not let go, and their HOLD/RELEASE records
 *   lease.c    grants and lease breaks
 *   poison.c   the poison protocol (DESIGN §5)
 *   nsfile.c   file contents: read, write, fallocate, truncate, fsync
 *   nsmap.c    MAP: grants with the extents they cover, devdax shaping
 *   names.c    mkdir, create, unlink, rmdir, rename, setattr
 *   walk.c     lookups, readdir, the path walker
 *   replica.c  the region's replica: pairing at mount, the background copy
 *   namespace.c mount, unmount, mkfs, statfs; registers the hooks
 *   report.c, check.c  extents, bad-block list, scrub; the offline check
 * A module calls only modules below it; a lower module reaches an upper one only through a
 * hook in struct ns_hooks that the upper one registered at mount.
 */

#include <stdarg.h>
#include <sys/stat.h>

#include "blockmap.h"
#include "brlock.h"
#include "compiler.h"
#include "namespace.h"
#include "rcu.h"
#include "shard.h"
#include "wait.h"

#include <urcu/rculfhash.h> /* after the RCU flavor (rcu.h) */

struct ns_grant;
struct ns_grant_ops;
struct ns_hold;
struct ns_observer;

/*
 * One extended attribute, and an inode's set of them: immutable once published (a change
 * publishes a new set and frees the old one after a grace period), so readers take
 * in->xattrs under RCU or the inode lock and read it without a lock.
 */
struct ns_xattr {
	uint16_t name_len;
	uint32_t value_len;
	char *name; /* NUL-terminated */
	uint8_t *value;
};

struct ns_acl;

struct ns_xattrs {
	struct rcu_head rcu;
	uint32_t n;
	uint32_t list_len;	    /* bytes listxattr needs: every name and its NUL */
	uint64_t bytes;		    /* names and values, for the per-inode limit */
	struct ns_acl *acl_access;  /* system.posix_acl_access, parsed (extended ACLs only) */
	struct ns_acl *acl_default; /* system.posix_acl_default, parsed */
	struct ns_xattr v[];	    /* sorted by name */
};

/* An XATTR_SET value being rebuilt from its chunks (nsapply.c, within one transaction). */
struct ns_xbuild {
	uint16_t name_len;
	uint32_t value_len, have;
	char name[FMT_XATTR_NAME_MAX + 1];
	uint8_t *value;
};

/* ns_has_map - inodes of @type keep data in their block map (files, long symlinks). */
static inline bool ns_has_map(uint32_t type)
{
	return type == S_IFREG || type == S_IFLNK;
}

struct ns_inode {
	/* First: cds_lfht_for_each_entry's container_of on NULL is then a zero offset (UBSan). */
	struct cds_lfht_node hnode; /* in ns->inodes, while not dying */
	uint64_t ino;
	uint32_t type; /* S_IFMT bits: fixed at creation, read without a lock */
	uint32_t refs; /* the table's reference + one per user; atomic */
	bool dying;    /* unhashed: rmap readers treat its blocks as free; atomic */
	/*
	 * Odd while a transaction that describes the inode is being applied (tx.c), so that
	 * lookups and getattr (walk.c), which take no lock, see all of a transaction or none
	 * of it: they read it before and after, and look again when it moved.
	 */
	uint32_t seq;

	/*
	 * Inode lock: serialises every change of the inode and, for a directory, of its
	 * entries. Every log record describing the inode is built and applied under it. Held
	 * only for bounded work (never across a wait for a client): wait.c parks the callers
	 * that find it taken, and its holders wake them.
	 */
	pthread_mutex_t lock;

	/* Attributes: changed under the inode lock and attr_lock, read under attr_lock (leaf). */
	pthread_mutex_t attr_lock;
	uint32_t mode, uid, gid, nlink;
	uint64_t parent; /* directories: the parent directory (changed under ns->rename_lock too) */
	uint64_t size;
	uint64_t rdev;	 /* character and block devices */
	uint64_t blocks; /* owned blocks */
	int64_t atime, mtime, ctime;
	bool attr_dirty; /* mtime changed by an overwrite, not logged yet */

	/*
	 * Files: page index -> block-map entry (blockmap.h). Directories: cookie -> struct
	 * ns_dirent *. Changed under map.lock; read under RCU.
	 */
	struct xtable map;
	uint64_t next_cookie; /* directories: under the inode lock (or replay) */
	uint64_t nr_entries;  /* directories: under the inode lock (or replay) */

	/*
	 * Symbolic links with a short target: the target (NUL-terminated), set by the SYMLINK
	 * record that follows the link's first INODE and fixed from then on (acquire load).
	 * A long target is the link's data, page 0 of map.
	 */
	char *link;
	/* Extended attributes: RCU pointer, replaced under the inode lock (or replay). */
	struct ns_xattrs *xattrs;
	struct ns_xbuild *xbuild; /* a value being applied chunk by chunk (apply only) */
	/*
	 * Opens (ns_open): while any, removing the last name leaves the inode as an orphan
	 * (nlink 0, no name) that the last ns_close removes. Under the inode lock.
	 */
	uint32_t opens;

	/* lease.c, under ns->grant_lock. */
	struct cds_list_head grants; /* struct ns_grant */
	/* atomic: entries on grants; changed under grant_lock and the inode lock (an add) */
	uint32_t ngrants;
	uint64_t lease_gen;	/* bumped by each lease break */
	unsigned revokers;	/* lease breaks under way: new grants wait (wait.c ends them) */
	struct ns_brk last_brk; /* the newest break: a later one it covers joins it */

	/* wait.c: parked calls waiting for this inode, under wait_lock (a leaf). */
	pthread_mutex_t wait_lock;
	struct cds_list_head waiters; /* struct ns_waiter */
	unsigned nwaiters;	      /* atomic read without wait_lock */

	struct rcu_head rcu;
};

struct ns_dirent {
	struct cds_lfht_node hnode; /* in ns->dirents, keyed by (dir, name) */
	uint64_t dir;
	uint64_t ino;
	uint64_t cookie;
	uint32_t mode; /* the child's S_IFMT bits, for readdir */
	uint16_t name_len;
	struct rcu_head rcu;
	char name[]; /* NUL-terminated */
};

/* A run of blocks to return to the allocator after the transaction's grace period. */
struct ns_run {
	uint64_t block, count;
};

/* What applying records needs besides the records. */
struct ns_txctx {
	bool live;	      /* false at mount: frees happen at once */
	struct ns_run *frees; /* live: runs freed after commit + a grace period */
	size_t nfrees, capfrees;
	int err;
};

/* check mode: apply reports damage through this instead of failing the mount. */
typedef void (*ns_damage_fn)(void *ctx, const char *msg);

/* A file page that poison hit: @block was under page @index of inode @ino. */
struct ns_bad_page {
	uint64_t block, ino, index;
};

#define NS_META_BAD_MAX 64  /* metadata blocks remembered per run (poison_list) */
#define NS_REPAIRED_MAX 256 /* blocks repaired from the replica remembered per run */

/*
 * Hooks: how the lower modules call the upper ones (namespace.c registers them at mount;
 * each may be NULL, as in the offline check).
 */
struct ns_hooks {
	/* nsapply.c: the HOLD and RELEASE records (hold.c). */
	int (*apply_hold)(struct ns *ns, struct ns_txctx *tc, const struct fmt_hold *h);
	int (*apply_release)(struct ns *ns, struct ns_txctx *tc, const struct fmt_release *r,
			     bool *restored);
	/*
	 * nsapply.c: page @index of @in lost its block to poison (lease.c tells its mappers).
	 * Called under @in's xtable lock and ns->poison_lock: push events, wait for nothing.
	 */
	void (*page_poisoned)(struct ns *ns, struct ns_inode *in, uint64_t index);
	/*
	 * tx.c: a transaction that frees blocks for @hold is about to commit (@tx applied to
	 * the check pass only): append its HOLD records when they fit (hold.c). Return: true
	 * when appended.
	 */
	bool (*tx_hold_records)(struct ns *ns, struct ns_hold *hold, struct mlog_tx *tx,
				struct ns_txctx *tc);
	/* tx.c: after the commit: the freed runs go to @hold instead of the allocator. */
	void (*tx_hold_runs)(struct ns *ns, struct ns_hold *hold, struct ns_txctx *tc, bool logged);
	/* tx.c: drop the caller's reference on @hold. */
	void (*hold_put)(struct ns *ns, struct ns_hold *hold);
	/* tx.c: a checkpoint's records after the namespace's own (hold.c: HOLD records). */
	int (*snapshot)(struct ns *ns, struct mlog_snap *s);
};

/*
 * The namespace. Each field says which module owns it; others only read what their
 * comments allow.
 */
struct ns {
	/* namespace.c, fixed after mount. */
	struct region *r;
	struct mlog *log;
	struct alloc *alloc;
	uint64_t data_first, data_count; /* data area, in blocks */
	struct ns_hooks hooks;
	struct ns_observer *observer; /* observe.c: RCU-protected, set by a frontend */
	bool rdonly;		      /* atomic: mounted read-only, or metadata poison (poison.c) */
	bool posix; /* atomic: format version 2 (FMT_INCOMPAT_POSIX), set at mount or upgrade */

	/* inode.c */
	struct cds_lfht *inodes;  /* ino -> struct ns_inode */
	struct cds_lfht *dirents; /* (dir, name) -> struct ns_dirent */
	uint64_t orphans;	  /* set at mount */
	/* Every create writes it: a line of its own (CACHE_ALIGNED). */
	uint64_t next_ino CACHE_ALIGNED; /* atomic: the next inode number to hand out */
	struct shard_count nr_inodes;	 /* every create and unlink: a slot per thread */

	/* names.c: cross-directory renames, so that no directory moves below itself. */
	pthread_mutex_t rename_lock CACHE_ALIGNED;

	/* nsapply.c */
	struct rmap rmap;
	pthread_mutex_t poison_lock; /* orders quarantine against rmap changes */
	uint64_t max_ino;	     /* the largest inode number replayed (mount only) */
	ns_damage_fn damage;	     /* check mode */
	void *damage_ctx;
	uint64_t damage_count;
	uint64_t cur_seq; /* seq of the record being replayed (messages) */
	/*
	 * For poison_list(), under meta_bad_lock (a leaf lock): the metadata blocks found
	 * poisoned this run (nothing persists them), and the file pages poison hit (rebuilt by
	 * replay; an entry goes stale when its page is rewritten or freed, so readers check it
	 * against the page's entry).
	 */
	pthread_mutex_t meta_bad_lock;
	uint64_t meta_bad[NS_META_BAD_MAX];
	size_t nmeta_bad;
	struct ns_bad_page *bad_pages;
	size_t nbad_pages, cap_bad_pages;

	/* tx.c */
	/* shared: a transaction; exclusive: a checkpoint (brlock.h: a reader's slot per thread) */
	struct brlock txlock;
	uint64_t frees_pending CACHE_ALIGNED; /* atomic: freed blocks waiting for a grace period */
	int failed;		 /* atomic: a transaction could not be applied: read-only */
	uint64_t reserve_blocks; /* blocks only reserve-holders may use (access.h) */
	uint64_t reserve_log;	 /* log bytes only reserve-holders may use */

	/* wait.c: synchronous waiters. */
	pthread_mutex_t wait_mutex;
	pthread_cond_t wait_cond; /* CLOCK_MONOTONIC */

	/* lease.c and hold.c, under grant_lock (a leaf lock but for wait_lock). */
	pthread_mutex_t grant_lock;
	uint64_t lease_timeout_ms;   /* atomic */
	uint64_t held_blocks;	     /* blocks held for expired grants */
	struct cds_list_head pholds; /* persisted holds (hold.c) */
	bool holds_restored;	     /* atomic: some came from the log at mount */

	/* replica.c: the region's replica (NULL: none), under replica_lock once mounted. */
	pthread_mutex_t replica_lock;
	struct replica *replica;

	/* poison.c */
	uint64_t repaired; /* atomic: blocks repaired from the replica */
	/* The first NS_REPAIRED_MAX of them this run, by block, under meta_bad_lock. */
	struct ns_bad_page repaired_pages[NS_REPAIRED_MAX];
	size_t nrepaired_pages;
	/* test hooks */
	ns_hook_fn hook;
	void *hook_ctx;
};

/* --- namespace.c --- */

/*
 * ns_open_region / ns_close_region - the namespace structure of region @r (superblock @sb)
 * with empty tables, ready for replay; and its end (not the region's). check.c uses them.
 */
int ns_open_region(struct ns **out, struct region *r, const struct fmt_super *sb);
void ns_close_region(struct ns **nsp);

/* --- tx.c --- (more below) */

/*
 * Log room kept for removals: the largest unlink or rmdir transaction (DIRENT_DEL with a
 * 255-byte name, INODE_DEL, the directory's INODE). A transaction that can make the next
 * snapshot bigger must leave this much of the area free after it, so every snapshot has room
 * for a removal after it: a full log can always be emptied by removing names.
 */
#define LOG_KEEP_FOR_REMOVAL                                                                      \
	(3 * sizeof(struct fmt_rec) + ALIGN_UP(sizeof(struct fmt_dirent_del) + FMT_NAME_MAX, 8) + \
	 sizeof(struct fmt_inode_del) + sizeof(struct fmt_inode))

/* ns_log_essential_keep - the log room only BADBLOCK, HOLD and RELEASE records may use. */
size_t ns_log_essential_keep(struct ns *ns);

/*
 * ns_snapshot - the records of the whole namespace into @s, as a checkpoint writes them
 * (docs/format.md §4): INODE for every inode, then the names and block maps, the quarantine,
 * the holds. Called with every transaction held off by a checkpoint; with a counting @s
 * (mlog_snap_begin_count) also without, for an estimate (ns_capacity).
 * Context: thread registered with RCU, outside a read section.
 * Return: 0; mlog_snap_add's error (-ENOSPC: the area is full).
 */
struct mlog_snap;
int ns_snapshot(struct ns *ns, struct mlog_snap *s);

/* --- inode.c --- */

struct ns_inode *ns_inode_find(struct ns *ns, uint64_t ino); /* RCU read side */
struct ns_inode *ns_inode_get(struct ns *ns, uint64_t ino);  /* a reference, or NULL */
/* ns_inode_tryget - a reference on @in found under RCU, unless it is being freed. */
bool ns_inode_tryget(struct ns_inode *in);
void ns_inode_put(struct ns *ns, struct ns_inode *in);
struct ns_dirent *ns_dirent_find(struct ns *ns, uint64_t dir, const char *name, size_t len);
/* ns_inode_new - a fresh inode of @fi, not yet in the table (nsapply.c publishes it). */
struct ns_inode *ns_inode_new(const struct fmt_inode *fi);
void ns_table_add_inode(struct ns *ns, struct ns_inode *in);
void ns_table_del_inode(struct ns *ns, struct ns_inode *in);
void ns_table_add_dirent(struct ns *ns, struct ns_dirent *d);
void ns_table_del_dirent(struct ns *ns, struct ns_dirent *d);
/* ns_inode_free / ns_dirent_free - free after a grace period (unpublished already). */
void ns_inode_free(struct ns *ns, struct ns_inode *in);
void ns_dirent_free(struct ns_dirent *d);
void ns_fill_attr(struct ns_inode *in, struct ns_attr *out);  /* takes attr_lock */
uint64_t ns_inode_size(struct ns_inode *in);		      /* takes attr_lock */
void ns_inode_rec(struct ns_inode *in, struct fmt_inode *fi); /* under attr_lock */
/*
 * ns_xattrs_destroy - free an extended-attribute set at once (nobody can see it);
 * ns_xattrs_free - after a grace period (it was published). Both accept NULL.
 * ns_inode_xattrs - @in's set, or NULL. Locking: RCU read side, or @in's inode lock.
 */
void ns_xattrs_destroy(struct ns_xattrs *x);
void ns_xattrs_free(struct ns_xattrs *x);
struct ns_xattrs *ns_inode_xattrs(struct ns_inode *in);
/* ns_inode_rec_now - an INODE record of @in as it stands (takes attr_lock). */
void ns_inode_rec_now(struct ns_inode *in, struct fmt_inode *fi);

/*
 * ns_seq_begin / ns_seq_retry - read @in (its attributes, a directory's entries) as no
 * transaction is being applied to it: wait until its sequence count is even, read, and
 * read again when the count moved meanwhile.
 * Context: RCU read side. Locking: none.
 */
uint32_t ns_seq_begin(const struct ns_inode *in);
static inline bool ns_seq_retry(const struct ns_inode *in, uint32_t seq)
{
	return __atomic_load_n(&in->seq, __ATOMIC_ACQUIRE) != seq;
}
int ns_tables_new(struct ns *ns);
void ns_tables_free(struct ns *ns);

/* --- wait.c --- */

#define NS_WAKE_UNLOCK 0x1 /* the inode lock was dropped */
#define NS_WAKE_LEASE 0x2  /* a grant of the inode acked, went, or a lease break ended */

/*
 * ns_park - queue @c's waiter on @in for @reason (with @deadline, mono ns or 0).
 * Locking: whatever makes the wake that follows the caller's last check impossible to miss
 *          (the grant lock for NS_WAKE_LEASE); takes @in's wait_lock.
 * Return: NS_WAIT.
 */
int ns_park(struct ns *ns, struct ns_ctx *c, struct ns_inode *in, unsigned reason,
	    uint64_t deadline);

/* ns_wake - wake the calls parked on @in for any of @reason. Locking: takes wait_lock. */
void ns_wake(struct ns_inode *in, unsigned reason);

/*
 * ns_ilock - take @in's inode lock, or park @c on it.
 * Context: the caller holds no inode lock (else use ns_itrylock and start over).
 * Return: 0 (locked); NS_WAIT (parked: call again when woken).
 */
int ns_ilock(struct ns *ns, struct ns_ctx *c, struct ns_inode *in);
/* ns_brk_end - end @c's lease break (new grants of its inode may be made). */
void ns_brk_end(struct ns *ns, struct ns_ctx *c);
/* ns_ilock_wait - park @c until @in's inode lock is free (the caller holds none). NS_WAIT. */
int ns_ilock_wait(struct ns *ns, struct ns_ctx *c, struct ns_inode *in);
bool ns_itrylock(struct ns_inode *in);
/* ns_iunlock - drop @in's inode lock and wake the calls parked on it. */
void ns_iunlock(struct ns_inode *in);

/*
 * ns_ctx_enter / ns_ctx_again / ns_ctx_leave - the loop of every public operation:
 *	c = ns_ctx_enter(c, &local);
 *	do rc = op(ns, c, ...); while (ns_ctx_again(ns, c, rc));
 *	return ns_ctx_leave(ns, c, &local, rc);
 * ns_ctx_again blocks a synchronous caller until it may run again; an asynchronous one gets
 * NS_WAIT back. A call that completes (anything but NS_WAIT) ends the lease break it
 * started.
 */
struct ns_ctx *ns_ctx_enter(struct ns *ns, struct ns_ctx *c, struct ns_ctx *local);
bool ns_ctx_again(struct ns *ns, struct ns_ctx *c, int64_t rc);
int64_t ns_ctx_leave(struct ns *ns, struct ns_ctx *c, struct ns_ctx *local, int64_t rc);

/* ns_ctx_run_ino - that loop for an operation on inode @ino alone: @op(ns, c, ino). */
int ns_ctx_run_ino(struct ns *ns, struct ns_ctx *c, uint64_t ino,
		   int (*op)(struct ns *ns, struct ns_ctx *c, uint64_t ino));

/* --- nsapply.c --- */

/*
 * ns_txctx_add_run - note blocks [@block, +@count) in @tc's runs (joined to the last run
 * when they follow it). Return: 0; -ENOMEM.
 */
int ns_txctx_add_run(struct ns_txctx *tc, uint64_t block, uint64_t count);

/*
 * ns_apply - apply one record to memory (replay and live, the same code).
 * Return: 0; -EUCLEAN for a record that breaks docs/format.md §3.1 (reported through
 *         ns->damage in check mode, which then returns 0 and skips it); -ENOMEM.
 */
int ns_apply(struct ns *ns, struct ns_txctx *tc, const struct fmt_rec *rec, const void *p,
	     size_t plen);

/*
 * ns_tx_check - would @tx's records apply, in order, to the namespace as it stands? The
 * caller holds the locks of every object they describe, so the answer holds until it
 * applies them (tx.c checks before it commits: a record that could not be replayed never
 * reaches the log).
 * Return: 0; -EUCLEAN (logged: a bug, never a client's doing).
 */
int ns_tx_check(struct ns *ns, const struct mlog_tx *tx);

int ns_damage(struct ns *ns, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * poison_note_metadata / poison_note_page - remember, for poison_list(), a poisoned
 * metadata block, or that poison hit page @index of file @ino on @block.
 * Locking: takes meta_bad_lock (a leaf: callable under xtable and poison locks).
 */
void poison_note_metadata(struct ns *ns, uint64_t block);
void poison_note_page(struct ns *ns, uint64_t block, uint64_t ino, uint64_t index);

/* --- tx.c --- */

/* ns_writable - 0, or -EROFS when mounted read-only or failed. */
int ns_writable(struct ns *ns);

/*
 * ns_tx_run - check @tx's records, commit them, then apply them to memory, as one
 * transaction (checkpointing first when the log has no room): durable before visible. Frees
 * queued by the records happen after a grace period. @cred decides whether the log's reserve
 * may be used (BADBLOCK, HOLD and RELEASE records always may).
 * Context: thread registered with RCU, not inside a read section; never holding an xtable
 * lock; holding the locks of every object the records describe (docs/locking.md).
 * Return: 0; -ENOSPC (log full even after a checkpoint; nothing changed); -EROFS; -EIO
 *         (the transaction could not be applied: the namespace turns read-only).
 */
int ns_tx_run(struct ns *ns, const struct ns_cred *cred, struct mlog_tx *tx);

/*
 * ns_tx_run_held - ns_tx_run whose freed blocks go to @hold (may be NULL) instead; consumes
 * the caller's reference on @hold whatever happens.
 */
int ns_tx_run_held(struct ns *ns, const struct ns_cred *cred, struct mlog_tx *tx,
		   struct ns_hold *hold);

/* ns_tx_fail - a live transaction could not be applied: read-only from now on (logged). */
void ns_tx_fail(struct ns *ns, int rc, const char *what);

/*
 * ns_alloc_blocks / ns_alloc_huge - alloc_blocks / alloc_huge of the namespace's allocator
 * that leave the reserve to those @cred allows (ns_cred_reserve); on -ENOSPC while freed
 * blocks wait for their grace period, wait for them and try again.
 * Context: registered with RCU, outside a read section, not holding the allocator lock.
 */
int ns_alloc_blocks(struct ns *ns, const struct ns_cred *cred, uint64_t goal, uint64_t want,
		    uint64_t *block, uint64_t *got);
int ns_alloc_huge(struct ns *ns, const struct ns_cred *cred, uint64_t *block);

/* ns_checkpoint_locked - write a snapshot. Locking: ns->txlock held exclusively. */
int ns_checkpoint_locked(struct ns *ns);

/*
 * ns_checkpoint_after - with every transaction held off (the tx lock exclusive), run
 * @fn(@ns, @ctx), a change of the in-memory state that no log record describes; if it
 * returns 0, write a checkpoint, whose snapshot holds the change. The change is durable
 * once the new log area is in force: a crash before the superblocks name it leaves the old
 * log, and with it the old state (docs/format.md §4). How badblocks clear returns blocks to
 * use without a record of its own.
 * Context: thread registered with RCU, outside a read section, holding no engine lock.
 * Return: @fn's error; else the checkpoint's (-ENOSPC, -EROFS, -EIO). On a checkpoint
 *         failure @fn's change stays in memory: the caller undoes it.
 */
int ns_checkpoint_after(struct ns *ns, int (*fn)(struct ns *ns, void *ctx), void *ctx);

/* --- names.c --- */

/*
 * ns_remove_orphans - remove the files no name and no open keeps (nlink 0: a crash while
 * they were open). Context: mount, nothing else runs. Return: how many; an error.
 */
int ns_remove_orphans(struct ns *ns);

/* --- xattr.c --- */

/*
 * ns_xattr_put - set extended attribute @name of @in to @value (NULL: remove it) in
 * memory: a new set replaces the old one (freed after a grace period).
 * Locking: @in's inode lock (or replay). Return: 0; -ENODATA (removing what is not there);
 *          -EINVAL (an ACL that does not parse); -ENOMEM.
 */
int ns_xattr_put(struct ns *ns, struct ns_inode *in, const char *name, size_t name_len,
		 const void *value, size_t value_len);

/* ns_inode_acl - @in's access (@def false) or default ACL, or NULL. Locking: as ns_inode_xattrs. */
const struct ns_acl *ns_inode_acl(struct ns_inode *in, bool def);

/* ns_inode_permission - ns_permission with @in's access ACL. Locking: takes RCU. */
int ns_inode_permission(const struct ns_cred *c, struct ns_inode *in, const struct ns_attr *a,
			unsigned mask);

/*
 * ns_tx_add_xattr / ns_tx_add_xattr_del / ns_tx_add_acl - append the records that set
 * (in chunks), remove, or set to an ACL an extended attribute of inode @ino.
 */
void ns_tx_add_xattr(struct mlog_tx *tx, uint64_t ino, const char *name, size_t name_len,
		     const void *value, size_t value_len);
void ns_tx_add_xattr_del(struct mlog_tx *tx, uint64_t ino, const char *name, size_t name_len);
int ns_tx_add_acl(struct mlog_tx *tx, uint64_t ino, bool def, const struct ns_acl *acl);

/* ns_snap_xattrs - @in's attributes into checkpoint @s. Locking: RCU, tx lock exclusive. */
int ns_snap_xattrs(struct mlog_snap *s, struct ns_inode *in);

/* --- hold.c: holds that outlive the daemon (DESIGN §6) --- */

/* A process that may still map held blocks: its pid, and its start time (/proc). */
struct ns_proc {
	uint32_t pid;
	uint64_t start;
};

/* ns_proc_start - the start time of live process @pid. Return: 0; -ESRCH (gone, zombie). */
int ns_proc_start(uint32_t pid, uint64_t *start);

/* ns_hold_new - an empty hold with one reference (the caller's). Return: it, or NULL. */
struct ns_hold *ns_hold_new(void);
/* ns_hold_get - one more reference (an expired grant's). Locking: grant_lock held. */
void ns_hold_get(struct ns_hold *h);
/*
 * ns_hold_add_proc - remember @pid's process in @h, for HOLD records that outlive a restart.
 * Not fatal when unknown. Locking: grant_lock held.
 */
void ns_hold_add_proc(struct ns_hold *h, uint32_t pid);
/*
 * ns_hold_put_locked - drop one reference. Locking: grant_lock held.
 * Return: @h when that was the last one: end it with ns_hold_end() once grant_lock is
 *         dropped; NULL otherwise.
 */
struct ns_hold *ns_hold_put_locked(struct ns *ns, struct ns_hold *h);
/*
 * ns_hold_end - the last holder of @h is gone: log the end of its HOLD records, then give
 * its blocks back after a grace period. With @keep (the daemon stops while the holders may
 * still run) the records stay: the next mount holds the blocks again.
 * Context: not under grant_lock; as ns_tx_run when @h was persisted.
 */
void ns_hold_end(struct ns *ns, struct ns_hold *h, bool keep);
/* ns_hold_put - drop a reference on @h (may be NULL). Locking: takes the grant lock. */
void ns_hold_put(struct ns *ns, struct ns_hold *h);
/* ns_hold_register - set the hooks of hold.c (apply, transactions, snapshot). */
void ns_hold_register(struct ns *ns);
void ns_holds_free(struct ns *ns); /* unmount */

/* --- lease.c --- */

/*
 * ns_break_leases - the lease break of DESIGN §6 for pages [@index, @index + @count) of
 * @in, without waiting under a lock: the first call sends INVALIDATE to every grant that
 * overlaps the range, keeps new grants of @in waiting, and parks @c until the holders ack
 * (NS_WAIT: the caller drops every lock and calls again). A later call of the same
 * operation finds them acked, or past the lease-break timeout expires those that did not
 * ack: then it returns 0, and holders that are expired (now or before) get *@hold (created
 * or shared), which keeps what the coming transaction frees out of use until they are
 * deleted. *@hold carries a reference for the caller: pass it to ns_tx_run_held(), which
 * consumes it, or drop it with ns_hold_put(). The break ends (new grants may be made) when
 * the operation completes.
 * Context: thread registered with RCU. Locking: caller holds @in's inode lock; takes the
 *          grant lock unless @in has no grants (in->ngrants).
 * Return: 0; NS_WAIT; -ENOMEM.
 */
int ns_break_leases(struct ns *ns, struct ns_ctx *c, struct ns_inode *in, uint64_t index,
		    uint64_t count, struct ns_hold **hold);

/*
 * ns_grant_add - put a new grant of pages [@index, @index + @count) of @in on its list.
 * Locking: caller holds @in's inode lock and checked @in->revokers is 0 (ns_grants_blocked).
 */
int ns_grant_add(struct ns *ns, struct ns_inode *in, uint64_t index, uint64_t count, unsigned mode,
		 const struct ns_grant_ops *ops, void *holder, struct ns_grant **out);

/*
 * ns_grants_blocked - is a lease break under way on @in (no new grant now)? Then @c is
 * parked until it ends.
 * Locking: caller holds @in's inode lock; takes the grant lock.
 * Return: 0 (grants may be made); NS_WAIT.
 */
int ns_grants_blocked(struct ns *ns, struct ns_ctx *c, struct ns_inode *in);

/*
 * ns_grants_repaired - page @index of @in was repaired in place (poison.c): its mappers get
 * INVALIDATE, so that they map it again (the kernel took the poisoned page out of their
 * mappings), and frontend caches drop it. Locking: the page's entry lock held; takes the
 * grant lock.
 */
void ns_grants_repaired(struct ns *ns, struct ns_inode *in, uint64_t index);

/*
 * ns_grants_quiet - the POISON of page @index of inode @ino that a transaction of this
 * thread applies is not told to its mappers (nor to the observer): poison.c moves the page
 * to a good block in the same transaction and tells them INVALIDATE. (0, UINT64_MAX): none.
 * Context: around ns_tx_run on the calling thread.
 */
void ns_grants_quiet(uint64_t ino, uint64_t index);

/*
 * ns_block_write_mapped - does a client map @block's file page for writing (so its bytes
 * may change without the daemon's stores)? A snapshot. Locking: RCU, the grant lock.
 */
bool ns_block_write_mapped(struct ns *ns, uint64_t block);

/* ns_lease_register - set the hooks of lease.c (poisoned pages). */
void ns_lease_register(struct ns *ns);

/* --- nsfile.c --- */

#define NS_PAGES_MAX (NS_FILE_SIZE_MAX / FMT_BLOCK_SIZE)

/*
 * ns_lock_pages / ns_unlock_pages - the entry locks of pages [@start, @end) of file @in
 * (bm_lock_range); nothing for a directory.
 * Locking: caller holds @in's inode lock.
 */
void ns_lock_pages(struct ns_inode *in, uint64_t start, uint64_t end);
void ns_unlock_pages(struct ns_inode *in, uint64_t start, uint64_t end);

/*
 * ns_truncate_prepare - for a size change of file @in to @size: a grow zeroes what it
 * exposes; a shrink breaks the leases past the new end (may return NS_WAIT), adds their
 * UNMAP to @tx and locks their entries (*@locked_from says from which page, to unlock if the
 * transaction fails).
 * Locking: caller holds @in's inode lock.
 * Return: 0; NS_WAIT; -ENOMEM.
 */
int ns_truncate_prepare(struct ns *ns, struct ns_ctx *c, struct ns_inode *in, uint64_t size,
			struct mlog_tx *tx, struct ns_hold **hold, uint64_t *locked_from);

/*
 * ns_fill - allocate zeroed blocks for the holes in bytes [@off, @off + @len) of @in (the
 * size is not changed): what MAP for write needs. Locking: caller holds @in's inode lock.
 * Return: 0; -ENOSPC; -EIO; -EROFS.
 */
int ns_fill(struct ns *ns, const struct ns_cred *cred, struct ns_inode *in, uint64_t off,
	    uint64_t len, bool keep_size);

#endif
