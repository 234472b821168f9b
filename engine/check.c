// SPDX-License-Identifier: MIT
/*
 * daxfs check: replay the log in check mode (damage is reported, not fatal), then verify
 * the namespace as a whole (docs/format.md §6).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "log.h"
#include "nsint.h"
#include "sigbus.h"
#include "util.h"

struct checker {
	check_line_fn fn;
	void *ctx;
	struct check_result *res;
	struct ns *ns;
	const struct progress_cb *progress;
	uint64_t replayed; /* log bytes applied so far */
};

static void say(struct checker *c, enum check_severity sev, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(struct checker *c, enum check_severity sev, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sev == CHECK_PROBLEM)
		c->res->problems++;
	else
		c->res->notes++;
	if (c->fn)
		c->fn(c->ctx, sev, msg);
}

static void on_damage(void *ctx, const char *msg)
{
	struct checker *c = ctx;

	say(c, CHECK_PROBLEM, "log record %" PRIu64 ": %s", c->ns->cur_seq, msg);
}

static int check_apply(void *ctx, const struct fmt_rec *rec, const void *payload, size_t plen)
{
	struct checker *c = ctx;
	struct ns_txctx tc = {.live = false};

	c->ns->cur_seq = rec->seq;
	c->replayed += rec->len;
	progress_report(c->progress, "replaying the log", c->replayed, 0, true);
	return ns_apply(c->ns, &tc, rec, payload, plen);
}

/* Per inode: how many entries name it. */
struct seen {
	uint64_t ino;
	uint32_t links;
	uint32_t subdirs;
};

static int seen_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct seen *)a)->ino, y = ((const struct seen *)b)->ino;

	return x < y ? -1 : x > y;
}

static struct seen *seen_find(struct seen *v, size_t n, uint64_t ino)
{
	struct seen key = {.ino = ino};

	return bsearch(&key, v, n, sizeof(*v), seen_cmp);
}

/* check_file - every owned block of @in maps back to it through the rmap. */
static void check_file(struct checker *c, struct ns_inode *in)
{
	struct ns *ns = c->ns;
	uint64_t i, owned = 0;
	unsigned order;
	xt_entry e;

	xt_for_each (&in->map, i, order, e, 0, XT_INDEX_MAX) {
		uint64_t n = UINT64_C(1) << order, blk = bm_to_block(e);

		if (!xt_is_value(e) || bm_is_hole(e)) {
			say(c, CHECK_PROBLEM, "inode %" PRIu64 " page %" PRIu64 ": bad entry",
			    in->ino, i);
			continue;
		}
		for (uint64_t k = 0; k < n; k++) {
			struct rmap_owner own;

			if (alloc_is_quarantined(ns->alloc, blk + k))
				continue;
			if (!rmap_lookup(&ns->rmap, blk + k, &own) || own.inode != in ||
			    own.index != i + k) {
				say(c, CHECK_PROBLEM,
				    "inode %" PRIu64 " page %" PRIu64 " maps block %" PRIu64
				    ", which the reverse map does not give back",
				    in->ino, i + k, blk + k);
				continue;
			}
			owned++;
		}
	}
	if (owned != in->blocks)
		say(c, CHECK_PROBLEM,
		    "inode %" PRIu64 " owns %" PRIu64 " blocks but counts %" PRIu64, in->ino, owned,
		    in->blocks);
	c->res->blocks_owned += owned;
	c->res->bytes_in_files += in->size;
}

/* check_symlink - a link's target: inline, or the first bytes of its one block. */
static void check_symlink(struct checker *c, struct ns_inode *in)
{
	const char *t = rcu_fetch(in->link);
	uint64_t first;
	xt_entry e;

	if (t) {
		if (strlen(t) != in->size)
			say(c, CHECK_PROBLEM,
			    "symbolic link %" PRIu64 " has a target of %zu bytes "
			    "but a size of %" PRIu64,
			    in->ino, strlen(t), in->size);
		return;
	}
	e = __xt_load(&in->map, 0, &first, NULL);
	if (!xt_is_value(e) || bm_is_hole(e))
		say(c, CHECK_PROBLEM, "symbolic link %" PRIu64 " has no target", in->ino);
	else if (in->size <= FMT_SYMLINK_INLINE)
		say(c, CHECK_PROBLEM, "symbolic link %" PRIu64 " keeps a short target in a block",
		    in->ino);
}

/* check_xattrs - count an inode's extended attributes (the values were checked by replay). */
static void check_xattrs(struct checker *c, struct ns_inode *in)
{
	const struct ns_xattrs *x = ns_inode_xattrs(in);

	if (x)
		c->res->xattrs += x->n;
}

/* xbuild_left - how many inodes have an XATTR_SET value the log began and never ended. */
static uint64_t xbuild_left(struct checker *c)
{
	struct cds_lfht_iter it;
	struct ns_inode *in;
	uint64_t n = 0;

	rcu_read_begin();
	cds_lfht_for_each_entry (c->ns->inodes, &it, in, hnode)
		n += in->xbuild != NULL;
	rcu_read_end();
	return n;
}

static void check_namespace(struct checker *c)
{
	struct ns *ns = c->ns;
	struct cds_lfht_iter it;
	struct ns_inode *in;
	struct ns_dirent *d;
	struct seen *v;
	size_t n = 0, cap = (size_t)shard_sum(&ns->nr_inodes) + 1;
	uint64_t checked = 0;

	v = calloc(cap, sizeof(*v));
	if (!v) {
		say(c, CHECK_PROBLEM, "out of memory checking the namespace");
		return;
	}
	rcu_read_begin();
	cds_lfht_for_each_entry (ns->inodes, &it, in, hnode) {
		if (n < cap)
			v[n++].ino = in->ino;
	}
	qsort(v, n, sizeof(*v), seen_cmp);
	cds_lfht_for_each_entry (ns->dirents, &it, d, hnode) {
		struct seen *s = seen_find(v, n, d->ino);
		struct ns_inode *child = ns_inode_find(ns, d->ino);
		struct seen *p = seen_find(v, n, d->dir);

		if (!s || !child) {
			say(c, CHECK_PROBLEM,
			    "entry \"%s\" in directory %" PRIu64 " names missing inode %" PRIu64,
			    d->name, d->dir, d->ino);
			continue;
		}
		s->links++;
		if (S_ISDIR(child->type)) {
			if (p)
				p->subdirs++;
			if (child->parent != d->dir)
				say(c, CHECK_PROBLEM,
				    "directory %" PRIu64 " is in directory %" PRIu64
				    " but says its parent is %" PRIu64,
				    d->ino, d->dir, child->parent);
		}
		if (child->type != d->mode)
			say(c, CHECK_PROBLEM, "entry \"%s\" has the wrong type", d->name);
	}
	cds_lfht_for_each_entry (ns->inodes, &it, in, hnode) {
		struct seen *s = seen_find(v, n, in->ino);
		uint32_t want;

		progress_report(c->progress, "checking files", ++checked, cap - 1, false);
		if (S_ISDIR(in->type))
			c->res->dirs++;
		else if (S_ISREG(in->type))
			c->res->files++;
		else if (S_ISLNK(in->type))
			c->res->symlinks++;
		else
			c->res->specials++;
		if (ns_has_map(in->type))
			check_file(c, in);
		if (S_ISLNK(in->type))
			check_symlink(c, in);
		check_xattrs(c, in);
		if (!s)
			continue;
		if (in->ino == NS_ROOT_INO) {
			if (!S_ISDIR(in->type))
				say(c, CHECK_PROBLEM, "the root is not a directory");
			if (s->links)
				say(c, CHECK_PROBLEM, "the root directory has a name somewhere");
		} else if (s->links == 0 && in->nlink == 0 && !S_ISDIR(in->type)) {
			/* Unlinked while open, then a crash: the next mount removes it. */
			say(c, CHECK_NOTE,
			    "inode %" PRIu64 " was unlinked while open; the next mount removes it "
			    "and frees its %" PRIu64 " blocks",
			    in->ino, in->blocks);
			continue;
		} else if (s->links == 0) {
			c->res->orphans++;
			c->res->blocks_leaked += in->blocks;
			say(c, CHECK_PROBLEM,
			    "inode %" PRIu64 " is not reachable from the root; its %" PRIu64
			    " blocks are leaked",
			    in->ino, in->blocks);
			continue;
		} else if (s->links > 1 && (S_ISDIR(in->type) || !ns->posix)) {
			say(c, CHECK_PROBLEM, "inode %" PRIu64 " has %u names", in->ino, s->links);
		}
		/* A directory: 2 and its subdirectories; else one per name (hard links, v2). */
		want = S_ISDIR(in->type) ? 2 + s->subdirs : s->links;
		if (in->nlink != want)
			say(c, CHECK_PROBLEM, "inode %" PRIu64 " has nlink %u, expected %u",
			    in->ino, in->nlink, want);
	}
	rcu_read_end();
	free(v);
	/* Directory cycles: every directory must reach the root through its parents. */
	rcu_read_begin();
	cds_lfht_for_each_entry (ns->inodes, &it, in, hnode) {
		uint64_t up = in->ino;
		unsigned steps = 0;

		if (!S_ISDIR(in->type))
			continue;
		while (up != NS_ROOT_INO && steps++ < 100000) {
			struct ns_inode *p = ns_inode_find(ns, up);

			if (!p)
				break;
			up = p->parent;
		}
		if (up != NS_ROOT_INO)
			say(c, CHECK_PROBLEM, "directory %" PRIu64 " does not lead to the root",
			    in->ino);
	}
	rcu_read_end();
}

static bool super_same(const struct fmt_super *a, const struct fmt_super *b)
{
	struct fmt_super x = *a, y = *b;

	x.gen = y.gen = 0;
	x.csum = y.csum = 0;
	return memcmp(&x, &y, sizeof(x)) == 0;
}

/*
 * device_badblocks - what the device's bad-block list says about the metadata: a listed
 * range over a superblock or a log area is a problem (reading it will fault), one in the
 * data area a note (the daemon quarantines it at mount).
 */
static void device_badblocks(struct checker *c, struct region *r)
{
	struct region_badblock *bb = NULL;
	int n = region_badblocks(r, &bb);
	struct fmt_super sb;

	if (n <= 0 || mlog_probe(r, &sb, NULL, NULL, NULL))
		memset(&sb, 0, sizeof(sb));
	for (int i = 0; i < n; i++) {
		uint64_t lo = bb[i].offset, hi = bb[i].offset + bb[i].length;
		const char *what = NULL;

		if (lo < FMT_BLOCK_SIZE || hi > fmt_backup_off(region_size(r)))
			what = "a superblock";
		for (unsigned a = 0; a < 2 && !what && sb.log_len; a++)
			if (lo < sb.log_off[a] + sb.log_len && sb.log_off[a] < hi)
				what = a == sb.log_active ? "the active log area"
							  : "the spare log area";
		if (what)
			say(c, CHECK_PROBLEM,
			    "the device lists a bad range at offset %" PRIu64 "+%" PRIu64 " in %s",
			    lo, hi - lo, what);
		else
			say(c, CHECK_NOTE,
			    "the device lists a bad range at offset %" PRIu64 "+%" PRIu64
			    " (the daemon quarantines it at mount)",
			    lo, hi - lo);
	}
	free(bb);
}

int ns_check(const char *path, check_line_fn fn, void *ctx, struct check_result *res)
{
	return ns_check_progress(path, fn, ctx, NULL, res);
}

int ns_check_progress(const char *path, check_line_fn fn, void *ctx,
		      const struct progress_cb *progress, struct check_result *res)
{
	struct checker c = {fn, ctx, res, NULL, progress, 0};
	struct mlog_walk_info info;
	struct fmt_super sb, p, b;
	struct alloc_stats as;
	struct region *r;
	bool pbad, bbad;
	const char *why;
	uint64_t boff;
	int rc;

	memset(res, 0, sizeof(*res));
	/* The region may be poisoned: what check reads, it reads SIGBUS-safely (mlog.c). */
	rc = sigbus_install();
	if (rc)
		return rc;
	rc = region_open(&r, path, REGION_AUTO, REGION_RDONLY, 0);
	if (rc)
		return rc;
	device_badblocks(&c, r);
	boff = fmt_backup_off(region_size(r));
	pbad = mlog_read_super(r, 0, &p) != 0;
	bbad = mlog_read_super(r, boff, &b) != 0;
	if (pbad)
		say(&c, CHECK_PROBLEM,
		    "primary superblock at offset 0 is unreadable: a media error");
	if (bbad)
		say(&c, CHECK_PROBLEM,
		    "backup superblock at offset %" PRIu64 " is unreadable: a media error", boff);
	rc = mlog_probe_report(r, &sb);
	if (rc)
		goto out;
	mlog_probe(r, &sb, &why, &res->primary_ok, &res->backup_ok);
	if (!res->primary_ok && !pbad) {
		/* mlog_probe gives a reason only when both copies fail: ask for the primary's. */
		why = NULL;
		fmt_super_check(&p, region_size(r), &why);
		say(&c, CHECK_PROBLEM, "primary superblock is damaged (%s); the backup is used",
		    why ? why : "invalid");
	}
	if (!res->backup_ok && !bbad)
		say(&c, CHECK_PROBLEM, "backup superblock is damaged");
	if (res->primary_ok && res->backup_ok && !super_same(&p, &b)) {
		if (p.gen > b.gen)
			say(&c, CHECK_NOTE,
			    "backup superblock is one checkpoint behind (a crash during a "
			    "checkpoint); mount rewrites it");
		else
			say(&c, CHECK_PROBLEM, "the superblock copies disagree");
	}
	res->region_size = sb.region_size;
	res->data_blocks = sb.data_len / FMT_BLOCK_SIZE;
	res->log_len = sb.log_len;
	res->log_active = sb.log_active;
	res->sb_gen = sb.gen;
	res->format_version = sb.incompat & FMT_INCOMPAT_REPLICA ? 3
			      : sb.incompat & FMT_INCOMPAT_POSIX ? 2
								 : 1;

	rc = ns_open_region(&c.ns, r, &sb);
	if (rc)
		goto out;
	c.ns->damage = on_damage;
	c.ns->damage_ctx = &c;
	c.ns->rdonly = true;
	rc = mlog_walk(r, &sb, check_apply, &c, &info);
	if (rc) {
		say(&c, CHECK_PROBLEM, "replay stopped: %s", strerror(-rc));
		rc = 0;
	}
	res->records = info.records;
	res->log_bytes = info.bytes;
	res->torn_bytes = info.torn_bytes;
	if (info.poisoned)
		say(&c, CHECK_PROBLEM,
		    "log area %u: a media error at offset %" PRIu64 ", where record %" PRIu64
		    " would be; nothing from there on can be read (%" PRIu64
		    " records before it were)",
		    sb.log_active, info.poison_off, info.poison_seq, info.records);
	else if (info.damaged)
		say(&c, CHECK_PROBLEM,
		    "log record %" PRIu64 " at offset %" PRIu64
		    " is damaged (checksum or sequence) and later records exist",
		    info.damage_seq, info.damage_off);
	else if (info.torn_bytes)
		say(&c, CHECK_NOTE,
		    "log tail: %" PRIu64 " bytes of an interrupted transaction (dropped at mount)",
		    info.torn_bytes);
	if (!ns_inode_find(c.ns, NS_ROOT_INO))
		say(&c, CHECK_PROBLEM, "there is no root directory");
	if (res->format_version == 1)
		say(&c, CHECK_NOTE,
		    "format version 1: daxfsd upgrades it to version 2 when it next mounts it "
		    "read-write");
	if (res->format_version == 3)
		say(&c, CHECK_NOTE, "format version 3: the region has a replica, left %s",
		    sb.replica == FMT_REPLICA_CLEAN
			    ? "in sync (CLEAN)"
			    : "in use or behind (OPEN): daxfsd copies the region to it again at "
			      "its next start");
	if (c.ns->posix && xbuild_left(&c))
		say(&c, CHECK_PROBLEM, "the log ends inside an extended attribute's value");
	check_namespace(&c);
	alloc_get_stats(c.ns->alloc, &as);
	res->blocks_free = as.free;
	res->blocks_quarantined = as.quarantined;
	res->blocks_held = ns_held_blocks(c.ns);
	/* HOLD records without their RELEASE: blocks a dropped client's process may map. */
	if (res->blocks_held)
		say(&c, CHECK_NOTE,
		    "%" PRIu64 " blocks are held for dropped clients whose processes may still run "
		    "(the daemon releases them once those processes have exited)",
		    res->blocks_held);
	if (as.used != res->blocks_owned + res->blocks_held)
		say(&c, CHECK_PROBLEM,
		    "%" PRIu64 " blocks are in use but files own %" PRIu64
		    " and holds keep %" PRIu64,
		    as.used, res->blocks_owned, res->blocks_held);
	ns_close_region(&c.ns);
out:
	region_close(&r);
	return rc;
}

/*
 * ns_audit - check a mounted namespace's invariants (tests): every owned block maps back
 * through the rmap, is neither free nor quarantined; per-file block counts agree.
 * Context: thread registered with RCU. Locking: takes the tx lock exclusively (no
 *          transaction half applied), reads everything else under RCU.
 */
uint64_t ns_audit(struct ns *ns, check_line_fn fn, void *ctx)
{
	struct check_result res = {0};
	struct checker c = {fn, ctx, &res, ns};
	struct cds_lfht_iter it;
	struct ns_inode *in;

	brlock_wrlock(&ns->txlock);
	rcu_read_begin();
	cds_lfht_for_each_entry (ns->inodes, &it, in, hnode) {
		uint64_t i;
		unsigned order;
		xt_entry e;

		if (!S_ISREG(in->type))
			continue;
		check_file(&c, in);
		xt_for_each (&in->map, i, order, e, 0, XT_INDEX_MAX) {
			uint64_t blk = bm_to_block(e);

			for (uint64_t k = 0; k < (UINT64_C(1) << order); k++) {
				bool q = alloc_is_quarantined(ns->alloc, blk + k);

				if (alloc_is_free(ns->alloc, blk + k))
					say(&c, CHECK_PROBLEM,
					    "inode %" PRIu64 " page %" PRIu64
					    " maps free block %" PRIu64,
					    in->ino, i + k, blk + k);
				if (q && !bm_is_poison(e))
					say(&c, CHECK_PROBLEM,
					    "inode %" PRIu64 " page %" PRIu64
					    " maps quarantined block %" PRIu64 " without poison",
					    in->ino, i + k, blk + k);
			}
		}
	}
	rcu_read_end();
	brlock_wrunlock(&ns->txlock);
	return res.problems;
}
