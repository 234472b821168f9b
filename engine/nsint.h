/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_NSINT_H
#define DAXFS_ENGINE_NSINT_H

/*
 * Inside the namespace: the structures namespace.c, nsapply.c, nsfile.c, check.c and
 * poison.c share. Nothing outside the engine includes this.
 */

#include <stdarg.h>

#include "lease.h"
#include "namespace.h"
#include "poison.h"
#include "rcu.h"

#include <urcu/rculfhash.h> /* after the RCU flavor (rcu.h) */

struct ns_inode {
	/* First: cds_lfht_for_each_entry's container_of on NULL is then a zero offset (UBSan). */
	struct cds_lfht_node hnode; /* in ns->inodes, while not dying */
	uint64_t ino;
	uint32_t type; /* S_IFDIR or S_IFREG: fixed at creation, read without a lock */
	uint32_t refs; /* the table's reference + one per user; atomic */
	bool dying;    /* unhashed: rmap readers treat its blocks as free */

	pthread_mutex_t lock; /* inode lock: serialises changes of the contents */

	/* Attributes, under attr_lock (a leaf lock). */
	pthread_mutex_t attr_lock;
	uint32_t mode, uid, gid, nlink;
	uint64_t parent; /* directories: the parent directory */
	uint64_t size;
	uint64_t blocks; /* owned blocks */
	int64_t atime, mtime, ctime;
	bool attr_dirty; /* mtime changed by an overwrite, not logged yet */

	/*
	 * Files: page index -> block-map entry. Directories: cookie -> struct ns_dirent *.
	 * Changed under map.lock; read under RCU.
	 */
	struct xtable map;
	uint64_t next_cookie;	     /* directories, under ns->lock (or replay) */
	struct cds_list_head grants; /* struct ns_grant, under ns->grant_lock */
	uint64_t lease_gen;	     /* bumped by each invalidation, under ns->grant_lock */
	uint64_t nr_entries;	     /* directories, under ns->lock (or replay) */

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

struct ns_hold;

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

struct ns {
	struct region *r;
	struct mlog *log;
	struct alloc *alloc;
	struct rmap rmap;
	struct cds_lfht *inodes;  /* ino -> struct ns_inode */
	struct cds_lfht *dirents; /* (dir, name) -> struct ns_dirent */

	pthread_mutex_t lock;		 /* namespace lock: serialises changes of names */
	pthread_mutex_t poison_lock;	 /* orders quarantine against rmap changes (nsapply.c) */
	pthread_rwlock_t txlock;	 /* shared: a transaction; exclusive: a checkpoint */
	uint64_t next_ino;		 /* under lock */
	uint64_t nr_inodes;		 /* atomic */
	uint64_t data_first, data_count; /* data area, in blocks */
	uint64_t frees_pending;		 /* atomic: freed blocks waiting for a grace period */
	bool rdonly;
	int failed; /* a transaction could not be applied: read-only from then on */

	/* Replay bookkeeping. */
	uint64_t max_ino;
	ns_damage_fn damage;
	void *damage_ctx;
	uint64_t damage_count;
	uint64_t cur_seq; /* seq of the record being applied (messages) */

	uint64_t orphans;

	/* Grants and lease breaks (lease.c). */
	pthread_mutex_t grant_lock; /* leaf lock */
	pthread_cond_t grant_cond;  /* acks and grant deletions */
	uint64_t lease_timeout_ms;
	uint64_t held_blocks;	     /* under grant_lock */
	struct cds_list_head pholds; /* persisted holds (hold.c), under grant_lock */
	bool holds_restored;	     /* atomic: some came from the log at mount */

	/*
	 * For poison_list(), under meta_bad_lock (a leaf lock): the metadata blocks found
	 * poisoned this run (nothing persists them), and the file pages poison hit (rebuilt by
	 * replay; an entry goes stale when its page is rewritten or freed, so readers check it
	 * against the page's entry).
	 */
	pthread_mutex_t meta_bad_lock;
	uint64_t meta_bad[POISON_META_MAX];
	size_t nmeta_bad;
	struct ns_bad_page *bad_pages;
	size_t nbad_pages, cap_bad_pages;

	/* Test hooks (poison.c). */
	ns_hook_fn hook;
	void *hook_ctx;
};

/* --- namespace.c --- */

struct ns_inode *ns_inode_find(struct ns *ns, uint64_t ino); /* RCU read side */
struct ns_inode *ns_inode_get(struct ns *ns, uint64_t ino);  /* a reference, or NULL */
void ns_inode_put(struct ns *ns, struct ns_inode *in);
struct ns_dirent *ns_dirent_find(struct ns *ns, uint64_t dir, const char *name, size_t len);
void ns_fill_attr(struct ns_inode *in, struct ns_attr *out);
uint64_t ns_inode_size(struct ns_inode *in);		      /* takes attr_lock */
void ns_inode_rec(struct ns_inode *in, struct fmt_inode *fi); /* under attr_lock */

/* --- hold.c: holds that outlive the daemon (DESIGN §6) --- */

/* A process that may still map held blocks: its pid, and its start time (/proc). */
struct ns_proc {
	uint32_t pid;
	uint64_t start;
};

/* ns_proc_start - the start time of live process @pid. Return: 0; -ESRCH (gone, zombie). */
int ns_proc_start(uint32_t pid, uint64_t *start);

/*
 * ns_apply_hold / ns_apply_release - the HOLD and RELEASE records. At mount a HOLD takes
 * its run out of use again; a RELEASE ends every HOLD of its run and says in *@restored
 * whether the caller must free the run (it was reserved at mount, not by a live hold).
 * Locking: take grant_lock.
 */
int ns_apply_hold(struct ns *ns, struct ns_txctx *tc, const struct fmt_hold *h);
int ns_apply_release(struct ns *ns, struct ns_txctx *tc, const struct fmt_release *r,
		     bool *restored);
void ns_holds_free(struct ns *ns); /* unmount */

/*
 * ns_hold_persist - log HOLD records for @runs held for @procs (after the transaction that
 * freed them). ns_hold_release_persist - log their RELEASE.
 * Context: as ns_tx_run. Return: true / 0 when logged (a failure is logged too).
 */
bool ns_hold_persist(struct ns *ns, const struct ns_proc *procs, size_t nprocs,
		     const struct ns_run *runs, size_t nruns);
int ns_hold_release_persist(struct ns *ns, const struct ns_run *runs, size_t nruns);

/* ns_holds_snapshot - a HOLD record per persisted hold, into checkpoint @s. */
struct mlog_snap;
int ns_holds_snapshot(struct ns *ns, struct mlog_snap *s);

/*
 * ns_alloc_blocks / ns_alloc_huge - alloc_blocks / alloc_huge of the namespace's allocator;
 * on -ENOSPC while freed blocks wait for their grace period, wait for them and try again.
 * Context: registered with RCU, outside a read section, not holding the allocator lock.
 */
int ns_alloc_blocks(struct ns *ns, uint64_t goal, uint64_t want, uint64_t *block, uint64_t *got);
int ns_alloc_huge(struct ns *ns, uint64_t *block);

/*
 * ns_tx_run - apply @tx's records to memory and commit them, as one transaction
 * (checkpointing first when the log has no room). Frees queued by the records happen after
 * the commit and a grace period.
 * Context: thread registered with RCU, not inside a read section; never holding an xtable
 * lock; the caller's entry locks are held.
 * Return: 0; -ENOSPC (log full even after a checkpoint; nothing changed); -EROFS; -EIO
 *         (applying failed: the namespace turns read-only).
 */
int ns_tx_run(struct ns *ns, struct mlog_tx *tx);

/*
 * ns_tx_run_held - ns_tx_run whose freed blocks go to @hold (may be NULL) instead; consumes
 * the caller's reference on @hold whatever happens.
 */
int ns_tx_run_held(struct ns *ns, struct mlog_tx *tx, struct ns_hold *hold);

/* ns_writable - 0, or -EROFS when mounted read-only or failed. */
int ns_writable(struct ns *ns);

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

/* --- nsapply.c --- */

/*
 * ns_apply - apply one record to memory (replay and live, the same code).
 * Return: 0; -EUCLEAN for a record that breaks docs/format.md §3.1 (reported through
 *         ns->damage in check mode, which then returns 0 and skips it); -ENOMEM.
 */
int ns_apply(struct ns *ns, struct ns_txctx *tc, const struct fmt_rec *rec, const void *p,
	     size_t plen);
int ns_damage(struct ns *ns, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* ns_inode_free / ns_dirent_free - free after a grace period (unpublished already). */
void ns_inode_free(struct ns *ns, struct ns_inode *in);
void ns_dirent_free(struct ns_dirent *d);

/* --- lease.c --- */

/*
 * ns_invalidate_range - the lease break of DESIGN §6 for pages [@index, @index + @count):
 * INVALIDATE to every overlapping holder, wait for their acks up to the lease-break
 * timeout, expire those that did not ack; holders that are expired (now or before) get
 * *@hold (created or shared), which keeps what the coming transaction frees out of use
 * until they are deleted. *@hold carries a reference for the caller: pass it to
 * ns_tx_run_held(), which consumes it, or drop it with ns_hold_put().
 * Context: may sleep up to the timeout. Locking: caller holds @in's inode lock and the entry
 *          locks of the range; takes the grant lock.
 * Return: 0 or -ENOMEM.
 */
int ns_invalidate_range(struct ns *ns, struct ns_inode *in, uint64_t index, uint64_t count,
			struct ns_hold **hold);

/*
 * ns_hold_runs - hand @tc's freed runs to @h; log their HOLD records unless the freeing
 * transaction carried them (@logged). Locking: takes the grant lock.
 */
void ns_hold_runs(struct ns *ns, struct ns_hold *h, struct ns_txctx *tc, bool logged);

/* ns_hold_procs - a malloc'd copy of @h's processes. Return: how many (0: *@out NULL). */
size_t ns_hold_procs(struct ns *ns, struct ns_hold *h, struct ns_proc **out);

/*
 * ns_hold_in_tx - append and apply the HOLD records of @tc's freed runs to @tx before it is
 * committed, so the hold is durable with the frees: when @h names processes, the records
 * fit one transaction (FMT_TX_MAX_RECS) and the log has room for them.
 * Context: inside tx_run, @tx applied, shared tx lock held. Return: true when appended.
 */
bool ns_hold_in_tx(struct ns *ns, struct ns_hold *h, struct mlog_tx *tx, struct ns_txctx *tc);

/* ns_hold_put - drop a reference on @h (may be NULL). Locking: takes the grant lock. */
void ns_hold_put(struct ns *ns, struct ns_hold *h);

/*
 * ns_notify_poison - tell the holders of page @index of @in that it is poisoned.
 * Locking: caller holds the page's entry lock; takes the grant lock.
 */
void ns_notify_poison(struct ns *ns, struct ns_inode *in, uint64_t index);

/* --- nsfile.c --- */

#define NS_PAGES_MAX (NS_FILE_SIZE_MAX / FMT_BLOCK_SIZE)

/*
 * ns_lock_pages / ns_unlock_pages - take (waiting for other holders) or drop the entry locks
 * of every entry in pages [@start, @end) of @in: what a caller does before it frees or
 * reassigns their blocks (DESIGN §4).
 * Context: thread registered with RCU, outside a read section, not in a transaction.
 * Locking: caller holds @in's inode lock (so no entry appears in the range meanwhile);
 *          takes the xtable lock.
 */
void ns_lock_pages(struct ns_inode *in, uint64_t start, uint64_t end);
void ns_unlock_pages(struct ns_inode *in, uint64_t start, uint64_t end);

/*
 * ns_zero_tail - zero [@from, end of its page) of @in's page at @from if it has a block.
 * Locking: caller holds the inode lock.
 */
void ns_zero_tail(struct ns *ns, struct ns_inode *in, uint64_t from);

#endif
