// SPDX-License-Identifier: MIT
/*
 * The metadata log (docs/format.md §2-§4).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <urcu/arch.h>

#include "compiler.h"
#include "fault.h"
#include "log.h"
#include "mlog.h"
#include "stats.h"
#include "util.h"

struct mlog {
	struct region *r;
	pthread_mutex_t lock CACHE_ALIGNED; /* the log lock: serialises the copies of commits */
	struct fmt_super sb;		    /* the superblock in force */
	uint64_t tail;	    /* bytes used in the active area; written under the log lock
			       * with release stores after the copy, so persist_upto may read it
			       * without the lock */
	uint64_t claimed;   /* atomic: bytes of the active area taken: tail, plus the
			     * reservations of transactions not committed yet */
	uint64_t next_seq;  /* seq of the next record */
	uint64_t prev_csum; /* csum of the last record (seed of the next) */
	uint64_t records;   /* records in the active area */
	uint64_t checkpoints;
	uint64_t torn_bytes;
	bool rdonly; /* written under the log lock, read by mlog_reserve_keep without it */

	/*
	 * Group commit: a commit copies its records under the log lock and, after dropping it,
	 * persists everything copied so far that is not durable yet (every byte below tail is
	 * copied): [durable, tail). A commit that a running persist covers (target: the end of
	 * the furthest persist started) waits for it instead, so commits that copy while
	 * others persist share the next persist: one flush and one fence (one msync on an
	 * emulated region) for all of them. At most PERSISTS_AT_ONCE persists run at once (two
	 * commits on two CPUs need not take turns); a commit that finds them all running and
	 * none covering it waits for one to end: it spins PERSIST_SPIN_NS, then sleeps on
	 * wake_cond (a sleep and a wakeup cost more than an msync of a page). The durable part
	 * is always a prefix of the area (the mark only moves up, to the end of a finished
	 * persist), so replay finds the records in log order.
	 */
	uint64_t durable CACHE_ALIGNED; /* atomic: bytes of the active area known durable */
	uint64_t target;		/* atomic: the end of the furthest persist started */
	unsigned persisting;		/* atomic: persists running */
	unsigned persists_at_once;	/* PERSISTS_AT_ONCE; 1 under persistence tracing,
					 * whose image copies must not overlap */
	unsigned sleepers;		/* atomic: commits asleep on wake_cond */
	pthread_mutex_t wake_lock;	/* a leaf lock, only to sleep on wake_cond */
	pthread_cond_t wake_cond;
};

static uint8_t *area(const struct region *r, const struct fmt_super *sb, unsigned which)
{
	return region_at(r, sb->log_off[which]);
}

static uint64_t fresh_seed(void)
{
	uint64_t v;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint64_t)now_ns() ^ mono_ns() << 17;
	return v;
}

/* --- superblocks --- */

static void super_write_one(struct region *r, uint64_t off, const struct fmt_super *sb)
{
	region_memcpy(r, region_at(r, off), sb, sizeof(*sb), 0);
}

/* super_write - bump gen, write the primary then the backup, each persisted. */
static void super_write(struct region *r, struct fmt_super *sb)
{
	sb->gen++;
	sb->csum = fmt_super_csum(sb);
	super_write_one(r, 0, sb);
	fault_at(FAULT_CHECKPOINT_SUPER);
	super_write_one(r, fmt_backup_off(sb->region_size), sb);
}

int mlog_read_super(struct region *r, uint64_t off, struct fmt_super *sb)
{
	if (region_read(r, sb, region_at(r, off), sizeof(*sb), NULL) == 0)
		return 0;
	memset(sb, 0, sizeof(*sb));
	return -EIO;
}

int mlog_probe(struct region *r, struct fmt_super *sb, const char **why, bool *primary_ok,
	       bool *backup_ok)
{
	uint64_t size = region_size(r);
	struct fmt_super p, b;
	const char *pwhy = "unreadable (a media error)", *bwhy = pwhy;
	bool pread, bread, pok, bok;

	pread = mlog_read_super(r, 0, &p) == 0;
	bread = mlog_read_super(r, fmt_backup_off(size), &b) == 0;
	pok = pread && fmt_super_check(&p, size, &pwhy) == 0;
	bok = bread && fmt_super_check(&b, size, &bwhy) == 0;
	/* The backup is only where we looked if the region has not changed size. */
	if (bok && fmt_backup_off(b.region_size) != fmt_backup_off(size))
		bok = false, bwhy = "backup does not match the region size";
	if (primary_ok)
		*primary_ok = pok;
	if (backup_ok)
		*backup_ok = bok;
	if (pok && (!bok || p.gen >= b.gen)) {
		*sb = p;
		return 0;
	}
	if (bok) {
		*sb = b;
		return 0;
	}
	if (why)
		*why = pwhy;
	/* An unreadable copy may well be daxfs's: damaged, not "not daxfs". */
	if (pread && bread && p.magic != FMT_MAGIC && b.magic != FMT_MAGIC)
		return -ENODATA;
	return -EUCLEAN;
}

int mlog_probe_report(struct region *r, struct fmt_super *sb)
{
	const char *why = NULL;
	int rc = mlog_probe(r, sb, &why, NULL, NULL);
	struct fmt_super p;

	mlog_read_super(r, 0, &p);
	if (rc == -ENODATA)
		log_err("%s does not hold a daxfs file system (no superblock found); "
			"format it with daxfs mkfs",
			region_path(r));
	else if (rc && p.magic == FMT_MAGIC && p.csum == fmt_super_csum(&p) &&
		 p.region_size > region_size(r))
		log_err("%s was truncated: it has %" PRIu64
			" bytes, but was formatted with %" PRIu64,
			region_path(r), region_size(r), p.region_size);
	else if (rc)
		log_err("%s: both superblocks are damaged (primary: %s)", region_path(r), why);
	return rc;
}

static int count_record(void *ctx, const struct fmt_rec *rec, const void *payload, size_t plen)
{
	(void)rec;
	(void)payload;
	(void)plen;
	++*(uint64_t *)ctx;
	return 0;
}

/*
 * format_verify - read back what mlog_format wrote, SIGBUS-safely: both superblocks valid
 * and the same, the log one whole record, nothing unreadable, and no store that faulted
 * (region_failed: the handler let it complete on anonymous memory). Return: 0; -EIO (said
 * where).
 */
static int format_verify(struct region *r)
{
	struct mlog_walk_info info;
	struct fmt_super sb;
	struct region_fault f;
	bool pok, bok;
	uint64_t n = 0;

	if (region_failed(r, &f)) {
		log_err("%s: a media error at offset %" PRIu64 " while formatting it; clear the "
			"device's bad blocks first",
			region_path(r), f.off);
		return -EIO;
	}
	if (mlog_probe(r, &sb, NULL, &pok, &bok) || !pok || !bok) {
		log_err("%s: the %s superblock does not read back (offset %" PRIu64
			"): a media error; clear the device's bad blocks first",
			region_path(r), pok ? "backup" : "primary",
			pok ? fmt_backup_off(region_size(r)) : 0);
		return -EIO;
	}
	if (mlog_walk(r, &sb, count_record, &n, &info) || info.poisoned || info.damaged || n != 1) {
		log_err("%s: the new log does not read back (%s at offset %" PRIu64
			"); clear the device's bad blocks first",
			region_path(r), info.poisoned ? "a media error" : "damage",
			info.poisoned ? info.poison_off : sb.log_off[sb.log_active]);
		return -EIO;
	}
	return 0;
}

/* Group commit (struct mlog): persists at once, and how long a commit spins for a slot. */
#define PERSISTS_AT_ONCE 2
#define PERSIST_SPIN_NS 10000

/* The log is zeroed in pieces this big, reporting progress after each. */
#define FORMAT_ZERO_STEP (64ull << 20)

int mlog_format(struct region *r, uint64_t log_len, const struct fmt_inode *root,
		const struct progress_cb *progress)
{
	struct fmt_super sb = {0};
	struct mlog_snap s;
	struct mlog l;
	int rc;

	sb.magic = FMT_MAGIC;
	sb.version = FMT_VERSION;
	sb.sb_size = FMT_SUPER_SIZE;
	sb.incompat = FMT_INCOMPAT_POSIX; /* format version 2 */
	if (region_mirror(r)) {
		/* Formatted as a pair: every byte written here reaches both (version 3). */
		sb.incompat |= FMT_INCOMPAT_REPLICA;
		sb.replica = FMT_REPLICA_CLEAN;
	}
	if (getrandom(sb.uuid, sizeof(sb.uuid), 0) != sizeof(sb.uuid))
		return -EIO;
	rc = fmt_geometry(&sb, region_size(r), log_len);
	if (rc)
		return rc;
	sb.mkfs_time = now_ns();
	sb.next_ino = FMT_ROOT_INO + 1;
	/* Start as if area 1 were active, so the snapshot writer fills area 0. */
	sb.log_active = 1;
	sb.log_seq = 1;
	/*
	 * Clear both areas: a log left by an earlier format (mkfs --force, a reused device)
	 * holds records chained to each other whose sequence numbers this log reaches again,
	 * and replay would take them for later transactions after a damaged record.
	 */
	for (unsigned i = 0; i < 2; i++) {
		for (uint64_t off = 0; off < sb.log_len; off += FORMAT_ZERO_STEP) {
			uint64_t n = MIN(FORMAT_ZERO_STEP, sb.log_len - off);
			struct region_fault f;

			if (region_memset_safe(r, region_at(r, sb.log_off[i] + off), 0, n,
					       REGION_NONTEMPORAL, &f)) {
				log_err("%s: a media error at offset %" PRIu64 " in log area %u; "
					"clear the device's bad blocks before formatting it",
					region_path(r), f.off, i);
				return -EIO;
			}
			progress_report(progress, "zeroing the log", i * sb.log_len + off + n,
					2 * sb.log_len, true);
		}
	}

	memset(&l, 0, sizeof(l));
	l.r = r;
	l.sb = sb;
	l.next_seq = 1;
	pthread_mutex_init(&l.lock, NULL);
	mlog_snap_begin(&l, &s);
	rc = mlog_snap_add(&s, FMT_REC_INODE, root, sizeof(*root));
	if (rc == 0)
		rc = mlog_snap_commit(&s, FMT_ROOT_INO + 1);
	pthread_mutex_destroy(&l.lock);
	return rc ? rc : format_verify(r);
}

/* --- reading records --- */

/*
 * The log is read with SIGBUS-safe copies (DESIGN §5): a media error in it ends the walk
 * at that record, with its region offset, instead of killing the reader (daxfs check,
 * mkfs's read-back, the daemon's mount).
 */
struct area {
	struct region *r;
	uint64_t off; /* region offset of the area */
	uint64_t len;
	bool poisoned;	  /* a read faulted: */
	uint64_t bad_off; /*   at this region offset */
};

/* area_read - @n bytes at @off of the area into @dst. Return: false on a media error. */
static bool area_read(struct area *ar, uint64_t off, void *dst, size_t n)
{
	struct region_fault f;

	/* With a replica that holds the bytes, a poisoned block reads from it (region_read). */
	if (region_read(ar->r, dst, region_at(ar->r, ar->off + off), n, &f) == 0)
		return true;
	if (!ar->poisoned) {
		ar->poisoned = true;
		ar->bad_off = f.off >= ar->off + off ? f.off : ar->off + off;
	}
	return false;
}

/* head_at - the header at @off if the area has room for one and it reads. */
static bool head_at(struct area *ar, uint64_t off, struct fmt_rec *h)
{
	return off <= ar->len && ar->len - off >= sizeof(*h) && area_read(ar, off, h, sizeof(*h));
}

/*
 * rec_at - copy the record at @off into @buf (FMT_REC_MAX bytes) if it reads as record
 * @seq chained to @seed (docs/format.md §3). Return: true; false otherwise (also on a
 * media error: ar->poisoned says so).
 */
static bool rec_at(struct area *ar, uint64_t off, uint64_t seq, uint64_t seed, uint8_t *buf)
{
	struct fmt_rec h, *c = (struct fmt_rec *)buf;
	uint64_t csum;

	if (!head_at(ar, off, &h))
		return false;
	if (h.seq != seq || h.len < FMT_REC_MIN || h.len > FMT_REC_MAX || h.len % 8 ||
	    h.len > ar->len - off)
		return false;
	if (!area_read(ar, off, buf, h.len))
		return false;
	csum = c->csum;
	c->csum = 0;
	if (checksum64(buf, c->len, seed) != csum)
		return false;
	c->csum = csum;
	return c->seq == seq && c->len == h.len;
}

/*
 * continuation - after a record that does not read at @off (expected @seq), is there a
 * verified chain that goes on, and does it prove the bad record had been durable?
 */
static bool continuation_proves_damage(struct area *ar, uint64_t off, uint64_t seq)
{
	static __thread uint8_t buf[FMT_REC_MAX];
	struct fmt_rec bad, h;
	uint64_t bad_seed, cand, end;
	bool bad_end = false;

	if (!head_at(ar, off, &bad))
		return false;
	bad_seed = bad.csum;
	if (bad.seq == seq && (bad.flags & FMT_REC_END))
		bad_end = true;
	end = MIN(ar->len, off + FMT_REC_MAX + sizeof(bad));
	for (cand = off + FMT_REC_MIN; cand + sizeof(bad) <= end; cand += 8) {
		bool saw_end;

		if (!head_at(ar, cand, &h) || h.seq != seq + 1 || h.len < FMT_REC_MIN ||
		    h.len > FMT_REC_MAX || h.len % 8 || h.len > ar->len - cand)
			continue;
		if (!rec_at(ar, cand, seq + 1, bad_seed, buf)) {
			/* The bad record's csum may be what was hit: accept the candidate if a
			 * record chained to it follows. */
			if (!rec_at(ar, cand + h.len, seq + 2, h.csum, buf))
				continue;
		}
		/* Follow the chain: a record after an END means a later transaction. */
		if (bad_end)
			return true;
		saw_end = false;
		for (uint64_t o = cand, sq = seq + 1, seed = h.csum;;) {
			struct fmt_rec x;

			if (o != cand && !rec_at(ar, o, sq, seed, buf))
				break;
			if (saw_end)
				return true;
			if (!head_at(ar, o, &x))
				break;
			saw_end = (x.flags & FMT_REC_END) != 0;
			seed = x.csum;
			o += x.len;
			sq++;
		}
		return false;
	}
	return false;
}

/* Payload length rules per type (docs/format.md §3.1). */
static bool payload_len_ok(unsigned type, const void *p, size_t plen)
{
	switch (type) {
	case FMT_REC_INODE:
		return plen == FMT_INODE_V1_SIZE || plen == sizeof(struct fmt_inode);
	case FMT_REC_SYMLINK: {
		const struct fmt_symlink *l = p;

		return plen >= sizeof(*l) && plen == ALIGN_UP(sizeof(*l) + l->len, 8);
	}
	case FMT_REC_XATTR_SET: {
		const struct fmt_xattr *x = p;

		return plen >= sizeof(*x) &&
		       plen == ALIGN_UP(sizeof(*x) + x->name_len + x->chunk_len, 8);
	}
	case FMT_REC_XATTR_DEL: {
		const struct fmt_xattr_del *x = p;

		return plen >= sizeof(*x) && plen == ALIGN_UP(sizeof(*x) + x->name_len, 8);
	}
	case FMT_REC_DIRENT_ADD: {
		const struct fmt_dirent *d = p;

		return plen >= sizeof(*d) && plen == ALIGN_UP(sizeof(*d) + d->name_len, 8);
	}
	case FMT_REC_DIRENT_DEL: {
		const struct fmt_dirent_del *d = p;

		return plen >= sizeof(*d) && plen == ALIGN_UP(sizeof(*d) + d->name_len, 8);
	}
	case FMT_REC_INODE_DEL:
		return plen == sizeof(struct fmt_inode_del);
	case FMT_REC_MAP:
		return plen == sizeof(struct fmt_map);
	case FMT_REC_UNMAP:
		return plen == sizeof(struct fmt_unmap);
	case FMT_REC_BADBLOCK:
		return plen == sizeof(struct fmt_badblock);
	case FMT_REC_HOLD:
		return plen == sizeof(struct fmt_hold);
	case FMT_REC_RELEASE:
		return plen == sizeof(struct fmt_release);
	default:
		return false;
	}
}

struct replay_state {
	uint64_t off, seq, seed, records;
};

/* A transaction read so far: copies of its records, applied once its END came. */
struct txbuf {
	uint8_t *buf;
	size_t used, cap;
};

static int txbuf_add(struct txbuf *t, const uint8_t *rec, size_t len)
{
	if (t->used + len > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16 * FMT_REC_MAX;
		uint8_t *p;

		while (cap < t->used + len)
			cap *= 2;
		p = realloc(t->buf, cap);
		if (!p)
			return -ENOMEM;
		t->buf = p;
		t->cap = cap;
	}
	memcpy(t->buf + t->used, rec, len);
	t->used += len;
	return 0;
}

/* replay - walk the active area of @sb (see mlog_walk). */
static int replay(struct region *r, const struct fmt_super *sb, mlog_apply_fn apply, void *ctx,
		  struct mlog_walk_info *info, struct replay_state *end)
{
	struct area ar = {r, sb->log_off[sb->log_active], sb->log_len, false, 0};
	uint64_t off = 0, seq = sb->log_seq, seed = sb->log_seed, records = 0;
	struct replay_state whole = {0, seq, seed, 0};
	struct txbuf tx = {NULL, 0, 0};
	uint8_t *rec = malloc(FMT_REC_MAX);
	int rc = 0;

	memset(info, 0, sizeof(*info));
	if (!rec)
		return -ENOMEM;
	for (;;) {
		const struct fmt_rec *h = (const struct fmt_rec *)rec;

		if (!rec_at(&ar, off, seq, seed, rec))
			break;
		if (!payload_len_ok(h->type, h + 1, h->len - sizeof(*h))) {
			log_err("log record %" PRIu64 " (%s) at offset %" PRIu64
				" has a bad payload length",
				seq, fmt_rec_name(h->type), off);
			info->damaged = true;
			info->damage_off = off;
			info->damage_seq = seq;
			break;
		}
		rc = txbuf_add(&tx, rec, h->len);
		if (rc)
			goto out;
		seed = h->csum;
		off += h->len;
		seq++;
		records++;
		if (!(h->flags & FMT_REC_END))
			continue;
		/* A whole transaction: apply its copies. */
		for (size_t o = 0; o < tx.used;) {
			const struct fmt_rec *x = (const struct fmt_rec *)(tx.buf + o);

			rc = apply(ctx, x, x + 1, x->len - sizeof(*x));
			if (rc)
				goto out;
			o += x->len;
		}
		tx.used = 0;
		whole = (struct replay_state){off, seq, seed, records};
	}
	if (!ar.poisoned && !info->damaged && continuation_proves_damage(&ar, off, seq)) {
		info->damaged = true;
		info->damage_off = off;
		info->damage_seq = seq;
	}
	if (ar.poisoned) {
		/* What lies from there on cannot be read: damage, wherever it is. */
		info->poisoned = true;
		info->poison_off = ar.bad_off;
		info->poison_seq = seq;
	}
	info->records = whole.records;
	info->bytes = whole.off;
	info->torn_bytes = off - whole.off;
	*end = whole;
out:
	free(tx.buf);
	free(rec);
	return rc;
}

int mlog_walk(struct region *r, const struct fmt_super *sb, mlog_apply_fn apply, void *ctx,
	      struct mlog_walk_info *info)
{
	struct replay_state end;

	return replay(r, sb, apply, ctx, info, &end);
}

int mlog_open(struct mlog **out, struct region *r, mlog_apply_fn apply, void *ctx)
{
	struct mlog_walk_info info;
	struct replay_state end;
	bool pok, bok;
	struct mlog *l;
	int rc;

	*out = NULL;
	l = calloc_lines(sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->r = r;
	{
		/* Held for a checksum and a copy: spin a little before sleeping on it. */
		pthread_mutexattr_t ma;

		pthread_mutexattr_init(&ma);
		pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
		pthread_mutex_init(&l->lock, &ma);
		pthread_mutexattr_destroy(&ma);
	}
	pthread_mutex_init(&l->wake_lock, NULL);
	pthread_cond_init(&l->wake_cond, NULL);
	rc = mlog_probe_report(r, &l->sb);
	if (rc)
		goto err_free;
	mlog_probe(r, &l->sb, NULL, &pok, &bok);
	if (l->sb.incompat & ~FMT_INCOMPAT_KNOWN) {
		log_err("%s uses format features this daxfs does not know (incompat %#" PRIx64 ")",
			region_path(r), l->sb.incompat);
		rc = -EOPNOTSUPP;
		goto err_free;
	}
	l->rdonly = region_is_rdonly(r) || (l->sb.ro_compat & ~FMT_RO_COMPAT_KNOWN);
	rc = replay(r, &l->sb, apply, ctx, &info, &end);
	if (rc)
		goto err_free;
	if (info.poisoned) {
		/*
		 * The records before the media error are in force; what may follow cannot be
		 * read, so nothing may be appended after them: read-only (DESIGN §5).
		 */
		log_err("%s: a media error at offset %" PRIu64
			" in log area %u, where record %" PRIu64 " would be: the %" PRIu64
			" records before it are in force, read-only "
			"(run daxfs check; clear the device's bad blocks and restore the region)",
			region_path(r), info.poison_off, l->sb.log_active, info.poison_seq,
			info.records);
		l->rdonly = true;
	} else if (info.damaged) {
		log_err("%s: metadata log record %" PRIu64 " at offset %" PRIu64
			" of log area %u is damaged and later records exist; refusing to mount "
			"(run daxfs check)",
			region_path(r), info.damage_seq, info.damage_off, l->sb.log_active);
		rc = -EUCLEAN;
		goto err_free;
	}
	l->tail = end.off;
	l->claimed = end.off;
	l->durable = end.off;
	l->target = end.off;
	l->persists_at_once = region_traced(r) ? 1 : PERSISTS_AT_ONCE;
	l->next_seq = end.seq;
	l->prev_csum = end.seed;
	l->records = end.records;
	l->torn_bytes = info.torn_bytes;
	if (info.torn_bytes)
		log_notice("%s: dropped %" PRIu64 " bytes of an interrupted transaction at the "
			   "log tail",
			   region_path(r), info.torn_bytes);
	if (!l->rdonly && (!pok || !bok)) {
		log_warn("%s: %s superblock was damaged or stale; rewriting it", region_path(r),
			 pok ? "backup" : "primary");
		super_write(r, &l->sb);
	}
	*out = l;
	return 0;

err_free:
	pthread_mutex_destroy(&l->lock);
	pthread_mutex_destroy(&l->wake_lock);
	pthread_cond_destroy(&l->wake_cond);
	free(l);
	return rc;
}

void mlog_close(struct mlog **lp)
{
	struct mlog *l = *lp;

	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	pthread_mutex_destroy(&l->wake_lock);
	pthread_cond_destroy(&l->wake_cond);
	free(l);
	*lp = NULL;
}

const struct fmt_super *mlog_super(const struct mlog *l)
{
	return &l->sb;
}

void mlog_get_stats(struct mlog *l, struct mlog_stats *st)
{
	pthread_mutex_lock(&l->lock);
	st->area_len = l->sb.log_len;
	st->used = l->tail;
	st->records = l->records;
	st->checkpoints = l->checkpoints;
	st->gen = l->sb.gen;
	st->torn_bytes = l->torn_bytes;
	pthread_mutex_unlock(&l->lock);
}

uint64_t mlog_area_len(const struct mlog *l)
{
	return l->sb.log_len;
}

void mlog_set_rdonly(struct mlog *l)
{
	pthread_mutex_lock(&l->lock);
	__atomic_store_n(&l->rdonly, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&l->lock);
}

/* --- transactions --- */

void mlog_tx_init(struct mlog_tx *tx)
{
	memset(tx, 0, sizeof(*tx));
}

void mlog_tx_reset(struct mlog_tx *tx)
{
	tx->used = 0;
	tx->nrecs = 0;
	tx->err = 0;
}

void mlog_tx_release(struct mlog_tx *tx)
{
	free(tx->buf);
	mlog_tx_init(tx);
}

void *mlog_tx_add(struct mlog_tx *tx, unsigned type, size_t plen)
{
	size_t len = sizeof(struct fmt_rec) + ALIGN_UP(plen, 8);
	struct fmt_rec *h;

	if (tx->err)
		return NULL;
	if (tx->used + len > tx->cap) {
		size_t cap = MAX(tx->cap * 2, (size_t)1024);
		uint8_t *p;

		while (cap < tx->used + len)
			cap *= 2;
		p = realloc(tx->buf, cap);
		if (!p) {
			tx->err = -ENOMEM;
			return NULL;
		}
		tx->buf = p;
		tx->cap = cap;
	}
	h = (struct fmt_rec *)(tx->buf + tx->used);
	memset(h, 0, len);
	h->len = (uint32_t)len;
	h->type = (uint16_t)type;
	tx->used += len;
	tx->nrecs++;
	return h + 1;
}

int mlog_reserve_keep(struct mlog *l, size_t bytes, size_t keep)
{
	uint64_t claimed = __atomic_load_n(&l->claimed, __ATOMIC_ACQUIRE);

	/*
	 * Without the log lock: one compare-and-swap on the one count of bytes taken. A commit
	 * turns its reservation into tail without changing the count.
	 */
	do {
		if (__atomic_load_n(&l->rdonly, __ATOMIC_ACQUIRE))
			return -EROFS;
		if (bytes + keep > l->sb.log_len - claimed)
			return -ENOSPC;
	} while (!__atomic_compare_exchange_n(&l->claimed, &claimed, claimed + bytes, false,
					      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	return 0;
}

int mlog_reserve(struct mlog *l, size_t bytes)
{
	return mlog_reserve_keep(l, bytes, 0);
}

void mlog_unreserve(struct mlog *l, size_t bytes)
{
	__atomic_sub_fetch(&l->claimed, bytes, __ATOMIC_RELEASE);
}

/* seal - fill seq, flags and chained checksums of @n bytes of records in @buf. */
static uint64_t seal(uint8_t *buf, size_t n, uint64_t seq, uint64_t seed, bool end_each)
{
	for (size_t o = 0; o < n;) {
		struct fmt_rec *h = (struct fmt_rec *)(buf + o);

		h->seq = seq++;
		if (end_each || o + h->len == n)
			h->flags |= FMT_REC_END;
		h->csum = 0;
		h->csum = checksum64(h, h->len, seed);
		seed = h->csum;
		o += h->len;
	}
	return seed;
}

/* atomic_max - raise *@p to @v unless it is higher already. */
static void atomic_max(uint64_t *p, uint64_t v)
{
	uint64_t cur = __atomic_load_n(p, __ATOMIC_SEQ_CST);

	while (cur < v &&
	       !__atomic_compare_exchange_n(p, &cur, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
}

/*
 * persist_turn - whether a commit that ends at @end is done (true, *@slot false: another
 * persist covered it) or may persist now (true, *@slot true: it took a slot); false: wait.
 */
static bool persist_turn(struct mlog *l, uint64_t end, bool *slot)
{
	*slot = false;
	if (__atomic_load_n(&l->durable, __ATOMIC_SEQ_CST) >= end)
		return true;
	if (__atomic_load_n(&l->target, __ATOMIC_SEQ_CST) >= end)
		return false; /* a running persist covers it */
	/* Read first: a waiter spins here, and must not write the line at every turn. */
	if (__atomic_load_n(&l->persisting, __ATOMIC_SEQ_CST) >= l->persists_at_once)
		return false;
	if (__atomic_fetch_add(&l->persisting, 1, __ATOMIC_SEQ_CST) < l->persists_at_once) {
		*slot = true;
		return true;
	}
	__atomic_fetch_sub(&l->persisting, 1, __ATOMIC_SEQ_CST);
	return false;
}

/*
 * persist_upto - make the active area durable at least to @end (a commit's last byte):
 * wait for a running persist that covers it, or persist everything copied so far.
 * Locking: none held; may sleep on wake_lock/wake_cond until a persist ends (struct mlog).
 */
static void persist_upto(struct mlog *l, uint8_t *base, uint64_t end)
{
	uint64_t from, to, until = 0;
	bool slot;

	for (unsigned i = 1; !persist_turn(l, end, &slot); i++) {
		if (i % 32 == 0) {
			if (!until) {
				until = mono_ns() + PERSIST_SPIN_NS;
			} else if (mono_ns() > until) {
				/* Dekker with the end of a persist: sleepers, then the check. */
				__atomic_fetch_add(&l->sleepers, 1, __ATOMIC_SEQ_CST);
				pthread_mutex_lock(&l->wake_lock);
				while (!persist_turn(l, end, &slot))
					pthread_cond_wait(&l->wake_cond, &l->wake_lock);
				pthread_mutex_unlock(&l->wake_lock);
				__atomic_fetch_sub(&l->sleepers, 1, __ATOMIC_SEQ_CST);
				break;
			}
		}
		caa_cpu_relax();
	}
	if (!slot)
		return;
	/* Every byte below tail is copied: mlog_commit moves it on after the copy. */
	to = __atomic_load_n(&l->tail, __ATOMIC_ACQUIRE);
	atomic_max(&l->target, to);
	/* Waiters that target covers now count on this persist: make all of it durable. */
	from = __atomic_load_n(&l->durable, __ATOMIC_SEQ_CST);
	if (from < to)
		region_persist(l->r, base + from, to - from);
	atomic_max(&l->durable, to);
	__atomic_fetch_sub(&l->persisting, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&l->sleepers, __ATOMIC_SEQ_CST)) {
		pthread_mutex_lock(&l->wake_lock);
		pthread_cond_broadcast(&l->wake_cond);
		pthread_mutex_unlock(&l->wake_lock);
	}
}

int mlog_commit(struct mlog *l, struct mlog_tx *tx)
{
	uint8_t *dst, *base = NULL;
	uint64_t end = 0;
	int rc = 0;

	if (tx->err)
		return tx->err;
	if (tx->used == 0)
		return 0;
	pthread_mutex_lock(&l->lock);
	if (l->rdonly) {
		__atomic_sub_fetch(&l->claimed, tx->used, __ATOMIC_RELEASE);
		rc = -EROFS;
		goto out;
	}
	l->prev_csum = seal(tx->buf, tx->used, l->next_seq, l->prev_csum, false);
	base = area(l->r, &l->sb, l->sb.log_active);
	dst = base + l->tail;
	if (fault_crash_armed(FAULT_LOG_TORN)) {
		/* A power failure half way through the append. */
		region_memcpy(l->r, dst, tx->buf, tx->used / 2, 0);
		fault_crash("log-torn");
	}
	/* The stores only: persist_upto writes them back, with whatever others copied. */
	region_memcpy(l->r, dst, tx->buf, tx->used, REGION_NOFLUSH);
	end = l->tail + tx->used;
	__atomic_store_n(&l->tail, end, __ATOMIC_RELEASE);
	l->next_seq += tx->nrecs;
	l->records += tx->nrecs;
out:
	pthread_mutex_unlock(&l->lock);
	if (rc == 0) {
		/* Durable before this returns: the caller applies and answers only then. */
		persist_upto(l, base, end);
		fault_at(FAULT_LOG_COMMITTED);
		mlog_tx_reset(tx);
	}
	return rc;
}

/* --- checkpoint --- */

void mlog_snap_begin(struct mlog *l, struct mlog_snap *s)
{
	memset(s, 0, sizeof(*s));
	s->l = l;
	pthread_mutex_lock(&l->lock);
	if (l->rdonly)
		s->err = -EROFS; /* a read-only log writes no snapshot either */
	pthread_mutex_unlock(&l->lock);
	s->area_off = l->sb.log_off[!l->sb.log_active];
	s->seq = l->next_seq;
	s->seed = fresh_seed();
	s->prev = s->seed;
	s->start_ns = mono_ns();
}

void mlog_snap_begin_count(struct mlog_snap *s)
{
	memset(s, 0, sizeof(*s));
	s->counting = true;
}

int mlog_snap_add(struct mlog_snap *s, unsigned type, const void *payload, size_t plen)
{
	struct mlog *l = s->l;
	uint8_t rec[FMT_REC_MAX];
	size_t len = sizeof(struct fmt_rec) + ALIGN_UP(plen, 8);
	struct fmt_rec *h = (struct fmt_rec *)rec;

	if (s->err)
		return s->err;
	if (len > FMT_REC_MAX)
		return s->err = -EINVAL;
	if (s->counting) {
		s->off += len;
		s->records++;
		return 0;
	}
	if (len > l->sb.log_len - s->off)
		return s->err = -ENOSPC;
	memset(rec, 0, len);
	h->len = (uint32_t)len;
	h->type = (uint16_t)type;
	memcpy(h + 1, payload, plen);
	s->prev = seal(rec, len, s->seq, s->prev, true);
	region_memcpy(l->r, region_at(l->r, s->area_off + s->off), rec, len, REGION_NODRAIN);
	s->off += len;
	s->seq++;
	s->records++;
	return 0;
}

int mlog_repair_block(struct mlog *l, uint64_t off, bool again)
{
	char good[FMT_BLOCK_SIZE], back[FMT_BLOCK_SIZE];
	void *at = region_at(l->r, off);
	struct region_fault f;
	int rc;

	if (off % FMT_BLOCK_SIZE || off >= region_size(l->r))
		return -EINVAL;
	pthread_mutex_lock(&l->lock);
	rc = region_mirror_copy(l->r, good, off, FMT_BLOCK_SIZE, NULL);
	/* Several reads may have queued the same fault: an earlier one repaired it already. */
	if (rc == 0 && again && region_copy_check(l->r, back, at, FMT_BLOCK_SIZE, &f) == 0) {
		pthread_mutex_unlock(&l->lock);
		return 1;
	}
	if (rc == 0)
		rc = region_badblock_clear(l->r, off, FMT_BLOCK_SIZE);
	if (rc == 0)
		rc = region_write_verified(l->r, at, good, FMT_BLOCK_SIZE, &f);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int mlog_set_replica(struct mlog *l, enum fmt_replica_state state)
{
	if (l->rdonly)
		return -EROFS;
	pthread_mutex_lock(&l->lock);
	l->sb.replica = state;
	if (state == FMT_REPLICA_NONE)
		l->sb.incompat &= ~FMT_INCOMPAT_REPLICA;
	else
		l->sb.incompat |= FMT_INCOMPAT_REPLICA;
	super_write(l->r, &l->sb);
	pthread_mutex_unlock(&l->lock);
	return 0;
}

int mlog_snap_commit(struct mlog_snap *s, uint64_t next_ino)
{
	struct mlog *l = s->l;

	if (s->err)
		return s->err;
	region_drain(l->r);
	fault_at(FAULT_CHECKPOINT_SNAP);
	pthread_mutex_lock(&l->lock);
	l->sb.log_active = !l->sb.log_active;
	l->sb.log_seq = l->next_seq;
	l->sb.log_seed = s->seed;
	l->sb.next_ino = next_ino;
	l->sb.incompat |= s->incompat;
	super_write(l->r, &l->sb);
	/* The area changes; reservations, if any, stay taken in the new one. */
	__atomic_add_fetch(&l->claimed, s->off - l->tail, __ATOMIC_ACQ_REL);
	__atomic_store_n(&l->tail, s->off, __ATOMIC_RELEASE);
	/* drained above; no commit is open (the tx lock) */
	__atomic_store_n(&l->durable, s->off, __ATOMIC_RELEASE);
	__atomic_store_n(&l->target, s->off, __ATOMIC_RELEASE);
	l->next_seq = s->seq;
	l->prev_csum = s->prev;
	l->records = s->records;
	l->checkpoints++;
	pthread_mutex_unlock(&l->lock);
	hist_observe(&stats_checkpoint_hist, mono_ns() - s->start_ns);
	return 0;
}
