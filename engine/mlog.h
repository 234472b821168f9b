/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_MLOG_H
#define DAXFS_ENGINE_MLOG_H

/*
 * mlog - the metadata log of docs/format.md §2-§4: superblocks, transactions of checksummed
 * records, replay, checkpoint. It knows records as bytes with a type; what they mean is the
 * namespace's business (engine/namespace.c applies them).
 *
 * Locking: one mutex (the "log lock", last in the lock order of docs/locking.md) serialises
 * commits. Checkpoints run with every transaction held off by the namespace's tx lock.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "format.h"
#include "region.h"

struct mlog;

/* A transaction being built in DRAM: records are added, then mlog_commit() writes them. */
struct mlog_tx {
	uint8_t *buf;
	size_t used;
	size_t cap;
	unsigned nrecs;
	int err; /* first -ENOMEM while adding; mlog_commit returns it */
};

struct mlog_stats {
	uint64_t area_len;    /* bytes of one log area */
	uint64_t used;	      /* bytes used in the active area */
	uint64_t records;     /* records in the active area */
	uint64_t checkpoints; /* since mount */
	uint64_t gen;	      /* superblock generation */
	uint64_t torn_bytes;  /* bytes of torn tail dropped at mount */
};

/*
 * mlog_apply_fn - called by replay for each record of each whole transaction, in order.
 * @rec and @payload are a copy in DRAM (read SIGBUS-safely); @plen is the payload length
 * (record len - 24).
 * Return: 0, or a negative errno that stops replay (mount fails).
 */
typedef int (*mlog_apply_fn)(void *ctx, const struct fmt_rec *rec, const void *payload,
			     size_t plen);

/*
 * mlog_format - write a fresh superblock pair and the first record (@root, an INODE payload)
 * into @r, which must be writable. @log_len 0 picks the default.
 * Context: no other user of the region.
 * Return: 0, -EFBIG (too small), -EINVAL (bad log length).
 */
struct progress_cb;
int mlog_format(struct region *r, uint64_t log_len, const struct fmt_inode *root,
		const struct progress_cb *progress);

/*
 * mlog_read_super - copy the superblock at region offset @off SIGBUS-safely.
 * Return: 0; -EIO (a media error there: *@sb is zeroed, so it checks as invalid).
 */
int mlog_read_super(struct region *r, uint64_t off, struct fmt_super *sb);

/*
 * mlog_probe - read both superblocks of @r and choose one (docs/format.md §2). A copy that
 * cannot be read (a media error) counts as damaged.
 * Return: 0 with *@sb; -ENODATA when neither superblock has the daxfs magic (not daxfs);
 *         -EUCLEAN when both are damaged; *@why (may be NULL) gets a reason for the caller's
 *         message. *@primary_ok / *@backup_ok (may be NULL) tell which copy was valid.
 */
int mlog_probe(struct region *r, struct fmt_super *sb, const char **why, bool *primary_ok,
	       bool *backup_ok);

/* mlog_probe_report - mlog_probe that logs why it failed. */
int mlog_probe_report(struct region *r, struct fmt_super *sb);

/*
 * mlog_open - choose a superblock and replay the active log through @apply.
 * A torn tail is dropped (counted in stats); damage (docs/format.md §3) fails the open.
 * A media error in the log ends the replay there: the records before it are applied and
 * the log is read-only (commits and snapshots: -EROFS), with a line saying where.
 * If the superblock copies disagree and @r is writable, the stale copy is rewritten.
 * Context: mount; no other user.
 * Return: 0 and *@out; -ENODATA (not daxfs), -EUCLEAN (damaged superblocks or log; a line
 *         saying where is logged), -EOPNOTSUPP (unknown incompat features), or @apply's error.
 */
int mlog_open(struct mlog **out, struct region *r, mlog_apply_fn apply, void *ctx);

void mlog_close(struct mlog **lp);

/* mlog_super - the superblock in force (a copy the caller may read). */
const struct fmt_super *mlog_super(const struct mlog *l);

void mlog_get_stats(struct mlog *l, struct mlog_stats *st);

/* mlog_area_len - bytes in each log area: fixed once the log is open, read without a lock. */
uint64_t mlog_area_len(const struct mlog *l);

/* --- transactions --- */

void mlog_tx_init(struct mlog_tx *tx);
void mlog_tx_reset(struct mlog_tx *tx);
void mlog_tx_release(struct mlog_tx *tx);

/*
 * mlog_tx_add - append a record of @type with @plen payload bytes (rounded up to 8) to @tx.
 * Return: the zeroed payload to fill in, or NULL on -ENOMEM (remembered in tx->err).
 */
void *mlog_tx_add(struct mlog_tx *tx, unsigned type, size_t plen);

/* mlog_tx_bytes - how many log bytes @tx will take. */
static inline size_t mlog_tx_bytes(const struct mlog_tx *tx)
{
	return tx->used;
}

/*
 * mlog_reserve_keep - hold @bytes of the active area for a transaction about to commit, so
 * concurrent transactions cannot take its room, provided @keep more bytes stay free after
 * them. mlog_commit() consumes the reservation; mlog_unreserve() gives it back when the
 * transaction is abandoned. mlog_reserve() is the same with @keep 0.
 * Locking: takes the log lock.
 * Return: 0, or -ENOSPC when the area has no such room (checkpoint, then retry).
 */
int mlog_reserve_keep(struct mlog *l, size_t bytes, size_t keep);
int mlog_reserve(struct mlog *l, size_t bytes);
void mlog_unreserve(struct mlog *l, size_t bytes);

/*
 * mlog_commit - write @tx's records after the last ones (seq, END flag and chained checksums
 * filled in), persist them, and reset @tx. Durable when it returns 0.
 * Context: inside a namespace transaction. Locking: takes the log lock.
 * The caller reserved tx->used bytes with mlog_reserve().
 * Return: 0; -EROFS on a read-only log; tx->err.
 */
int mlog_commit(struct mlog *l, struct mlog_tx *tx);

/* --- checkpoint --- */

struct mlog_snap {
	struct mlog *l;
	uint64_t area_off; /* byte offset of the area being written */
	uint64_t off;	   /* bytes written so far */
	uint64_t seq;
	uint64_t seed; /* seed of the first record */
	uint64_t prev; /* csum of the last record written */
	uint64_t records;
	uint64_t start_ns; /* mono_ns() at mlog_snap_begin: the checkpoint's duration */
	bool counting;	   /* mlog_snap_begin_count: only count the bytes, in off */
	uint64_t incompat; /* feature flags the new superblocks gain (an upgrade) */
	int err;
};

/*
 * mlog_snap_begin / mlog_snap_add / mlog_snap_commit - write a snapshot into the inactive
 * area and make it the log (docs/format.md §4). The caller holds every transaction off.
 * On a read-only log (mlog_set_rdonly, a media error at mount) they write nothing: -EROFS.
 * mlog_snap_add returns -ENOSPC when the area is full (the snapshot is then abandoned:
 * nothing changes until a later commit); mlog_snap_commit persists and flips the
 * superblocks, recording @next_ino.
 */
void mlog_snap_begin(struct mlog *l, struct mlog_snap *s);
/*
 * mlog_snap_begin_count - a snapshot that writes nothing: mlog_snap_add only counts what
 * a checkpoint would write (s->off bytes, s->records records), never -ENOSPC; it is not
 * committed. How much the namespace's next snapshot takes (ns_capacity).
 */
void mlog_snap_begin_count(struct mlog_snap *s);
int mlog_snap_add(struct mlog_snap *s, unsigned type, const void *payload, size_t plen);
int mlog_snap_commit(struct mlog_snap *s, uint64_t next_ino);

/* mlog_set_rdonly - refuse further commits with -EROFS (metadata poison, read-only mount). */
void mlog_set_rdonly(struct mlog *l);

/*
 * mlog_repair_block - put back the region's block at @off (a superblock or log block) from
 * the replica: clear the media error, write the replica's bytes, read them back. Both hold
 * the same bytes there: every log and superblock store reaches both under the log lock.
 * Context: any thread; the caller holds the tx lock shared, so no checkpoint writes the
 * spare area meanwhile. Locking: the log lock.
 * @again: it was repaired before: if it reads fine now, leave it (a fault queued twice).
 * Return: 0; 1 it reads fine (repaired already); -ENODATA (no replica holds it); the
 *         clear's or the read-back's error.
 */
int mlog_repair_block(struct mlog *l, uint64_t off, bool again);

/*
 * mlog_set_replica - record in both superblocks how the region's replica stands: with a
 * state other than FMT_REPLICA_NONE the region takes FMT_INCOMPAT_REPLICA (format version
 * 3), with NONE it drops it. Persisted before it returns (on the replica too, once the
 * region mirrors to it).
 * Context: any thread. Locking: the log lock, as a checkpoint's superblock write.
 * Return: 0; -EROFS (read-only log).
 */
int mlog_set_replica(struct mlog *l, enum fmt_replica_state state);

/*
 * mlog_walk - replay for daxfs check: like mlog_open's replay on a superblock the caller
 * chose, but damage is reported in @info instead of failing, and nothing is written.
 * Return: 0 (see @info), or @apply's error.
 */
struct mlog_walk_info {
	uint64_t records;    /* records that verified */
	uint64_t bytes;	     /* bytes of whole transactions */
	uint64_t torn_bytes; /* bytes of the dropped tail */
	bool damaged;	     /* a bad record with verified records after it */
	uint64_t damage_off; /* where */
	uint64_t damage_seq;
	bool poisoned;	     /* a media error where record poison_seq would be: */
	uint64_t poison_off; /*   its region offset */
	uint64_t poison_seq;
};
int mlog_walk(struct region *r, const struct fmt_super *sb, mlog_apply_fn apply, void *ctx,
	      struct mlog_walk_info *info);

#endif
