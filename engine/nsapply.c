// SPDX-License-Identifier: MIT
/*
 * Applying log records to memory: the one code path shared by mount (replay) and live
 * operations (ns_tx_run), so what an operation does and what replay rebuilds cannot drift
 * apart. Every rule of docs/format.md §3.1 is checked here; a record that breaks one is
 * damage (ns_damage). A live transaction is checked against the same rules before it is
 * committed (ns_tx_check), and applied only after: durable before visible.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "nsint.h"
#include "util.h"

#define PAGES_MAX NS_PAGES_MAX

int ns_damage(struct ns *ns, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ns->damage_count++;
	if (ns->damage) {
		ns->damage(ns->damage_ctx, msg);
		return 0;
	}
	log_err("%s: log record %" PRIu64 ": %s", region_path(ns->r), ns->cur_seq, msg);
	return -EUCLEAN;
}

int ns_txctx_add_run(struct ns_txctx *tc, uint64_t block, uint64_t count)
{
	struct ns_run *last = tc->nfrees ? &tc->frees[tc->nfrees - 1] : NULL;

	if (last && last->block + last->count == block) {
		last->count += count;
		return 0;
	}
	if (tc->nfrees == tc->capfrees) {
		size_t cap = tc->capfrees ? tc->capfrees * 2 : 16;
		struct ns_run *p = realloc(tc->frees, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		tc->frees = p;
		tc->capfrees = cap;
	}
	tc->frees[tc->nfrees++] = (struct ns_run){block, count};
	return 0;
}

/* free_run - blocks leave their owner: at once at mount, after a grace period when live. */
static int free_run(struct ns *ns, struct ns_txctx *tc, uint64_t block, uint64_t count)
{
	if (!tc->live) {
		alloc_free(ns->alloc, block, count);
		return 0;
	}
	return ns_txctx_add_run(tc, block, count);
}

static void add_blocks(struct ns_inode *in, int64_t delta)
{
	pthread_mutex_lock(&in->attr_lock);
	in->blocks = (uint64_t)((int64_t)in->blocks + delta);
	pthread_mutex_unlock(&in->attr_lock);
}

/* --- block maps --- */

/*
 * __release - the page run mapping [block, block + n) stops owning its blocks: rmap records
 * go and the whole run is freed; quarantined blocks stay quarantined (alloc_free), no longer
 * held (alloc.c), so that 'daxfs badblocks clear' may return them to use.
 * Locking: @in's xtable lock held.
 */
static int __release(struct ns *ns, struct ns_txctx *tc, struct ns_inode *in, uint64_t block,
		     uint64_t n, int64_t *owned_delta)
{
	int rc;

	(void)in;
	pthread_mutex_lock(&ns->poison_lock);
	/* Poisoned blocks are not owned (docs/format.md §3.1): count what rmap still has. */
	for (uint64_t b = block; b < block + n; b++)
		if (!alloc_is_quarantined(ns->alloc, b))
			(*owned_delta)--;
	rc = rmap_remove(&ns->rmap, block, n);
	pthread_mutex_unlock(&ns->poison_lock);
	if (rc)
		return rc;
	return free_run(ns, tc, block, n);
}

/*
 * __unmap - pages [index, index + count) become holes; a 2 MiB entry cut by the range is
 * split into 4 KiB entries for the part that stays. Locking: @in's xtable lock held.
 */
static int __unmap(struct ns *ns, struct ns_txctx *tc, struct ns_inode *in, uint64_t index,
		   uint64_t count)
{
	uint64_t end = index + count, i = index, run_blk = 0, run_n = 0;
	int64_t owned_delta = 0;
	unsigned order;
	xt_entry e;
	int rc = 0;

	/*
	 * Blocks are released a run at a time: the pages of one write are usually one run of
	 * blocks, which one reverse-map record covers, and releasing them page by page would
	 * split that record once per page.
	 */
	while ((e = xt_find(&in->map, &i, end - 1, XT_MARK_ANY, &order)) != XT_EMPTY) {
		uint64_t first = i, n = UINT64_C(1) << order;
		uint64_t lo = MAX(first, index), hi = MIN(first + n, end);
		uint64_t blk = bm_to_block(e);

		__xt_erase(&in->map, first);
		if (first < lo || first + n > hi) {
			/* Keep the pages outside the range as 4 KiB entries. */
			for (uint64_t p = first; p < first + n; p++) {
				xt_entry flags = 0;

				if (p >= lo && p < hi)
					continue;
				if (bm_is_poison(e) &&
				    alloc_is_quarantined(ns->alloc, blk + (p - first)))
					flags = BM_POISON;
				rc = __xt_store(&in->map, p, 0,
						bm_mk_entry(blk + (p - first), 0, flags));
				if (rc)
					goto out;
			}
		}
		if (!bm_is_hole(e)) {
			uint64_t b = blk + (lo - first);

			if (run_n && run_blk + run_n == b) {
				run_n += hi - lo;
			} else {
				if (run_n) {
					rc = __release(ns, tc, in, run_blk, run_n, &owned_delta);
					run_n = 0;
					if (rc)
						goto out;
				}
				run_blk = b;
				run_n = hi - lo;
			}
		}
		i = first + n;
		if (i >= end || i == 0)
			break;
	}
out:
	/* What left the map is released even after an error, as it was page by page. */
	if (run_n) {
		int rc2 = __release(ns, tc, in, run_blk, run_n, &owned_delta);

		if (rc == 0)
			rc = rc2;
	}
	if (owned_delta)
		add_blocks(in, owned_delta);
	return rc;
}

static int unmap_range(struct ns *ns, struct ns_txctx *tc, struct ns_inode *in, uint64_t index,
		       uint64_t count)
{
	int rc;

	xt_lock(&in->map);
	rc = __unmap(ns, tc, in, index, count);
	xt_unlock(&in->map);
	return rc;
}

/*
 * reserve_replayed - at replay, take [blk, blk + n) (none quarantined) from the free space
 * for @in's pages from @idx; blocks that are not free are damage, named with their owner.
 * Locking: ns->poison_lock held.
 */
static int reserve_replayed(struct ns *ns, struct ns_inode *in, uint64_t idx, uint64_t blk,
			    uint64_t n)
{
	struct rmap_owner own;
	int rc = alloc_reserve(ns->alloc, blk, n);

	if (rc != -EEXIST)
		return rc;
	rcu_read_begin();
	for (uint64_t b = blk; b < blk + n; b++) {
		if (rmap_lookup(&ns->rmap, b, &own)) {
			rc = ns_damage(ns,
				       "block %" PRIu64 " is owned twice: inode %" PRIu64
				       " page %" PRIu64 " and inode %" PRIu64 " page %" PRIu64,
				       b, own.inode->ino, own.index, in->ino, idx + (b - blk));
			break;
		}
	}
	rcu_read_end();
	if (rc == -EEXIST)
		rc = ns_damage(ns, "blocks %" PRIu64 "+%" PRIu64 " are not free", blk, n);
	return rc;
}

/* owner_taken - @rc of taking [blk, blk + n) for a page; -EEXIST is damage. */
static int owner_taken(struct ns *ns, int rc, uint64_t blk, uint64_t n)
{
	if (rc == -EEXIST)
		return ns_damage(ns, "blocks %" PRIu64 "+%" PRIu64 " already have an owner", blk,
				 n);
	return rc;
}

/*
 * __map_poisoned - page run [idx, idx + 2^order) maps [blk, ...), some of whose blocks are
 * quarantined: the entry is POISON, and the quarantined blocks are not owned (the page
 * holds them, at mount alloc_reserve_held, until it lets go of them in __release).
 * Locking: @in's xtable lock held.
 */
static int __map_poisoned(struct ns *ns, struct ns_txctx *tc, struct ns_inode *in, uint64_t idx,
			  uint64_t blk, unsigned order)
{
	uint64_t n = UINT64_C(1) << order, bad = 0;
	int rc = 0;

	pthread_mutex_lock(&ns->poison_lock);
	for (uint64_t b = blk; b < blk + n && rc == 0; b++) {
		bool quarantined = alloc_is_quarantined(ns->alloc, b);

		bad += quarantined;
		if (!tc->live)
			rc = quarantined ? alloc_reserve_held(ns->alloc, b, 1)
					 : alloc_reserve(ns->alloc, b, 1);
		if (rc == 0 && !quarantined)
			rc = rmap_insert(&ns->rmap, b, 1, in, idx + (b - blk));
	}
	pthread_mutex_unlock(&ns->poison_lock);
	rc = owner_taken(ns, rc, blk, n);
	if (rc)
		return rc;
	rc = __xt_store(&in->map, idx, order, bm_mk_entry(blk, order, BM_POISON));
	if (rc)
		return rc;
	add_blocks(in, (int64_t)(n - bad));
	return 0;
}

/*
 * __map - pages [idx, idx + count) map blocks [blk, blk + count) as entries of 2^order
 * pages. With no block quarantined: one reservation (at replay) and one reverse-map record
 * for the whole run (a record per page would be merged into its neighbour count - 1 times),
 * then the entries. Otherwise piece by piece, each piece that holds a quarantined block
 * by __map_poisoned. Locking: @in's xtable lock held.
 */
static int __map(struct ns *ns, struct ns_txctx *tc, struct ns_inode *in, uint64_t idx,
		 uint64_t blk, unsigned order, uint64_t count)
{
	uint64_t n = UINT64_C(1) << order, p;
	bool bad = false;
	int rc = 0;

	pthread_mutex_lock(&ns->poison_lock);
	for (uint64_t b = blk; b < blk + count && !bad; b++)
		bad = alloc_is_quarantined(ns->alloc, b);
	if (bad) {
		pthread_mutex_unlock(&ns->poison_lock);
		if (count == n)
			return __map_poisoned(ns, tc, in, idx, blk, order);
		for (p = 0; rc == 0 && p < count; p += n)
			rc = __map(ns, tc, in, idx + p, blk + p, order, n);
		return rc;
	}
	if (!tc->live)
		rc = reserve_replayed(ns, in, idx, blk, count);
	if (rc == 0)
		rc = rmap_insert(&ns->rmap, blk, count, in, idx);
	pthread_mutex_unlock(&ns->poison_lock);
	rc = owner_taken(ns, rc, blk, count);
	if (rc)
		return rc;
	for (p = 0; p < count; p += n) {
		rc = __xt_store(&in->map, idx + p, order, bm_mk_entry(blk + p, order, 0));
		if (rc)
			break;
	}
	add_blocks(in, (int64_t)p); /* the pages mapped */
	return rc;
}

/* map_rec_ok - the rules of a MAP record that need no state but the data area. */
static bool map_rec_ok(struct ns *ns, const struct fmt_map *m)
{
	uint64_t n = UINT64_C(1) << (m->order < 64 ? m->order : 0);

	return (m->order == 0 || m->order == 9) && m->count != 0 && m->count % n == 0 &&
	       m->index % n == 0 && m->block % n == 0 && m->index < PAGES_MAX &&
	       m->count <= PAGES_MAX - m->index && alloc_contains(ns->alloc, m->block, m->count);
}

static int apply_map(struct ns *ns, struct ns_txctx *tc, const struct fmt_map *m)
{
	struct ns_inode *in = ns_inode_find(ns, m->ino);
	int rc;

	if (!in || !ns_has_map(in->type))
		return ns_damage(ns, "MAP names inode %" PRIu64 ", which is not a file", m->ino);
	if (!map_rec_ok(ns, m))
		return ns_damage(ns,
				 "MAP of inode %" PRIu64 " has a bad range (page %" PRIu64
				 " block %" PRIu64 " count %u order %u)",
				 m->ino, m->index, m->block, m->count, m->order);
	xt_lock(&in->map);
	rc = __unmap(ns, tc, in, m->index, m->count);
	if (rc == 0)
		rc = __map(ns, tc, in, m->index, m->block, m->order, m->count);
	xt_unlock(&in->map);
	return rc;
}

static int apply_unmap(struct ns *ns, struct ns_txctx *tc, const struct fmt_unmap *u)
{
	struct ns_inode *in = ns_inode_find(ns, u->ino);
	uint64_t count;

	if (!in || !ns_has_map(in->type))
		return ns_damage(ns, "UNMAP names inode %" PRIu64 ", which is not a file", u->ino);
	if (u->index >= PAGES_MAX || u->count == 0)
		return ns_damage(ns, "UNMAP of inode %" PRIu64 " has a bad range", u->ino);
	count = MIN(u->count, PAGES_MAX - u->index);
	return unmap_range(ns, tc, in, u->index, count);
}

/*
 * poison_owned - mark the entry that maps @block POISON and let go of the block.
 * Return: 1 when done, 0 when @block had no owner (or it changed: the caller retries).
 * Locking: takes the owner's xtable lock inside an RCU read section (DESIGN §5), then
 *          ns->poison_lock.
 */
static int poison_owned(struct ns *ns, uint64_t block)
{
	struct rmap_owner own;
	struct ns_inode *in;
	uint64_t first;
	unsigned order;
	xt_entry e;
	int done = 0;

	rcu_read_begin();
	if (!rmap_lookup(&ns->rmap, block, &own)) {
		rcu_read_end();
		return 0;
	}
	in = own.inode;
	xt_lock(&in->map);
	e = __xt_load(&in->map, own.index, &first, &order);
	pthread_mutex_lock(&ns->poison_lock);
	if (xt_is_value(e) && !bm_is_hole(e) && bm_to_block(e) + (own.index - first) == block &&
	    rmap_lookup(&ns->rmap, block, &own) && own.inode == in) {
		if (!bm_is_poison(e))
			__xt_cmpxchg(&in->map, first, e, e | BM_POISON, NULL);
		rmap_remove(&ns->rmap, block, 1);
		alloc_quarantine(ns->alloc, block, 1);
		/*
		 * Tell the page's mappers here, under its xtable lock: usually the poison
		 * handler also holds the entry lock; when the block was taken by a file after
		 * the handler saw it free, marking POISON in place is still safe (the holder
		 * of the entry lock, if any, finds the mark when it next looks).
		 */
		if (ns->hooks.page_poisoned)
			ns->hooks.page_poisoned(ns, in, own.index);
		poison_note_page(ns, block, in->ino, own.index);
		done = 1;
	} else {
		done = -EAGAIN;
	}
	pthread_mutex_unlock(&ns->poison_lock);
	xt_unlock(&in->map);
	/* Inside the read section: nothing but RCU keeps @in from being freed. */
	if (done == 1)
		add_blocks(in, -1);
	rcu_read_end();
	return done;
}

static int apply_badblock(struct ns *ns, const struct fmt_badblock *b)
{
	if (b->count == 0 || !alloc_contains(ns->alloc, b->block, b->count))
		return ns_damage(ns, "BADBLOCK %" PRIu64 "+%" PRIu64 " is outside the data area",
				 b->block, b->count);
	for (uint64_t blk = b->block; blk < b->block + b->count; blk++) {
		for (;;) {
			int rc;

			if (alloc_is_quarantined(ns->alloc, blk))
				break;
			rc = poison_owned(ns, blk);
			if (rc == 1)
				break;
			if (rc == -EAGAIN)
				continue;
			/* No owner: quarantine, unless an owner appeared meanwhile. */
			pthread_mutex_lock(&ns->poison_lock);
			rcu_read_begin();
			{
				struct rmap_owner own;

				rc = rmap_lookup(&ns->rmap, blk, &own);
			}
			rcu_read_end();
			if (!rc)
				alloc_quarantine(ns->alloc, blk, 1);
			pthread_mutex_unlock(&ns->poison_lock);
			if (!rc)
				break;
		}
	}
	return 0;
}

/* --- inodes and names --- */

static void set_attrs(struct ns_inode *in, const struct fmt_inode *fi);

/* type_ok - may the namespace hold inodes of @type (version 2 adds all but files and dirs)? */
static bool type_ok(const struct ns *ns, uint32_t type)
{
	switch (type) {
	case S_IFDIR:
	case S_IFREG:
		return true;
	case S_IFLNK:
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK:
		return __atomic_load_n(&ns->posix, __ATOMIC_RELAXED);
	default:
		return false;
	}
}

/*
 * inode_rec_ok - the rules of an INODE record that need no state: a known type, sane
 * sizes; a directory has a parent and links; version 2 allows a file with no link (an
 * orphan: removed at mount), and a device number only on devices.
 */
static bool inode_rec_ok(const struct ns *ns, const struct fmt_inode *fi)
{
	uint32_t type = fi->mode & S_IFMT;
	bool posix = __atomic_load_n(&ns->posix, __ATOMIC_RELAXED);

	if (fi->ino == 0 || fi->ino > XT_INDEX_MAX || !type_ok(ns, type) ||
	    fi->mode & ~(uint32_t)(S_IFMT | 07777) || fi->size > NS_FILE_SIZE_MAX)
		return false;
	if (type == S_IFDIR && (fi->parent == 0 || fi->nlink < 2))
		return false;
	if (fi->nlink == 0 && !posix)
		return false;
	if (fi->rdev && type != S_IFCHR && type != S_IFBLK)
		return false;
	if (type == S_IFLNK && (fi->size == 0 || fi->size > FMT_SYMLINK_MAX))
		return false;
	return true;
}

static int apply_inode(struct ns *ns, struct ns_txctx *tc, const struct fmt_inode *fi)
{
	uint32_t type = fi->mode & S_IFMT;
	struct ns_inode *in;

	if (!inode_rec_ok(ns, fi))
		return ns_damage(ns, "INODE %" PRIu64 " has bad attributes (mode %o)", fi->ino,
				 fi->mode);
	/* Live, the number came from next_ino, which is past it already; replay runs alone. */
	if (!tc->live && fi->ino > ns->max_ino)
		ns->max_ino = fi->ino;
	in = ns_inode_find(ns, fi->ino);
	if (in && in->type != type)
		return ns_damage(ns, "INODE %" PRIu64 " changes type", fi->ino);
	if (!in) {
		in = ns_inode_new(fi);
		if (!in)
			return -ENOMEM;
		/* Whole before anyone can find it: its attributes first. */
		set_attrs(in, fi);
		ns_table_add_inode(ns, in);
		return 0;
	}
	set_attrs(in, fi);
	return 0;
}

/* set_attrs - @in's attributes from INODE record @fi. Locking: takes attr_lock. */
static void set_attrs(struct ns_inode *in, const struct fmt_inode *fi)
{
	pthread_mutex_lock(&in->attr_lock);
	in->mode = fi->mode;
	in->uid = fi->uid;
	in->gid = fi->gid;
	in->nlink = fi->nlink;
	in->parent = fi->parent;
	in->size = fi->size;
	in->rdev = fi->rdev;
	in->atime = fi->atime;
	in->mtime = fi->mtime;
	in->ctime = fi->ctime;
	in->attr_dirty = false;
	pthread_mutex_unlock(&in->attr_lock);
}

static int apply_dirent_add(struct ns *ns, const struct fmt_dirent *fd)
{
	struct ns_inode *dir, *child;
	struct ns_dirent *d;
	int rc;

	if (fmt_valid_name(fd->name, fd->name_len))
		return ns_damage(ns, "DIRENT_ADD in directory %" PRIu64 " has a bad name", fd->dir);
	dir = ns_inode_find(ns, fd->dir);
	child = ns_inode_find(ns, fd->ino);
	if (!dir || !S_ISDIR(dir->type))
		return ns_damage(ns, "DIRENT_ADD names directory %" PRIu64 ", which is not one",
				 fd->dir);
	if (!child || child->ino == NS_ROOT_INO)
		return ns_damage(ns, "DIRENT_ADD names inode %" PRIu64 ", which cannot be linked",
				 fd->ino);
	if (ns_dirent_find(ns, fd->dir, fd->name, fd->name_len))
		return ns_damage(ns, "DIRENT_ADD: \"%.*s\" already exists in directory %" PRIu64,
				 (int)fd->name_len, fd->name, fd->dir);
	d = calloc(1, sizeof(*d) + fd->name_len + 1);
	if (!d)
		return -ENOMEM;
	d->dir = fd->dir;
	d->ino = fd->ino;
	d->mode = child->type;
	d->name_len = fd->name_len;
	memcpy(d->name, fd->name, fd->name_len);
	xt_lock(&dir->map);
	d->cookie = dir->next_cookie;
	rc = __xt_store(&dir->map, d->cookie, 0, xt_mk_ptr(d));
	xt_unlock(&dir->map);
	if (rc) {
		free(d);
		return rc;
	}
	dir->next_cookie++;
	dir->nr_entries++;
	ns_table_add_dirent(ns, d);
	return 0;
}

static int apply_dirent_del(struct ns *ns, const struct fmt_dirent_del *fd)
{
	struct ns_inode *dir = ns_inode_find(ns, fd->dir);
	struct ns_dirent *d = ns_dirent_find(ns, fd->dir, fd->name, fd->name_len);

	if (!dir || !d)
		return ns_damage(ns, "DIRENT_DEL: no entry \"%.*s\" in directory %" PRIu64,
				 (int)fd->name_len, fd->name, fd->dir);
	xt_lock(&dir->map);
	__xt_erase(&dir->map, d->cookie);
	xt_unlock(&dir->map);
	dir->nr_entries--;
	ns_table_del_dirent(ns, d);
	ns_dirent_free(d);
	return 0;
}

static int apply_inode_del(struct ns *ns, struct ns_txctx *tc, const struct fmt_inode_del *fd)
{
	struct ns_inode *in = ns_inode_find(ns, fd->ino);
	int rc;

	if (!in || in->ino == NS_ROOT_INO)
		return ns_damage(ns, "INODE_DEL of inode %" PRIu64 ", which cannot be removed",
				 fd->ino);
	if (S_ISDIR(in->type) && in->nr_entries)
		return ns_damage(ns, "INODE_DEL of directory %" PRIu64 ", which is not empty",
				 fd->ino);
	if (ns_has_map(in->type)) {
		rc = unmap_range(ns, tc, in, 0, PAGES_MAX);
		if (rc)
			return rc;
	}
	ns_table_del_inode(ns, in);
	__atomic_store_n(&in->dying, true, __ATOMIC_RELEASE);
	ns_inode_put(ns, in);
	return 0;
}

/* --- version 2: symbolic links, extended attributes --- */

static int apply_symlink(struct ns *ns, const struct fmt_symlink *l)
{
	struct ns_inode *in = ns_inode_find(ns, l->ino);
	char *t;

	if (!in || !S_ISLNK(in->type) || rcu_fetch(in->link))
		return ns_damage(ns, "SYMLINK names inode %" PRIu64 ", which is not a new link",
				 l->ino);
	if (l->len == 0 || l->len > FMT_SYMLINK_INLINE || memchr(l->target, 0, l->len) ||
	    l->len != ns_inode_size(in))
		return ns_damage(ns, "SYMLINK of inode %" PRIu64 " has a bad target", l->ino);
	t = malloc(l->len + 1);
	if (!t)
		return -ENOMEM;
	memcpy(t, l->target, l->len);
	t[l->len] = 0;
	rcu_publish(in->link, t);
	return 0;
}

/* xattr_name_ok - 1..255 bytes, no NUL. */
static bool xattr_name_ok(const char *name, size_t len)
{
	return len >= 1 && len <= FMT_XATTR_NAME_MAX && !memchr(name, 0, len);
}

static int apply_xattr_set(struct ns *ns, const struct fmt_xattr *x)
{
	struct ns_inode *in = ns_inode_find(ns, x->ino);
	const char *chunk = x->data + x->name_len;
	struct ns_xbuild *b;
	int rc;

	if (!in)
		return ns_damage(ns, "XATTR_SET names inode %" PRIu64 ", which does not exist",
				 x->ino);
	if (!xattr_name_ok(x->data, x->name_len) || x->value_len > FMT_XATTR_VALUE_MAX ||
	    x->chunk_len > x->value_len - MIN(x->off, x->value_len) ||
	    (x->off + x->chunk_len < x->value_len && x->chunk_len == 0))
		return ns_damage(ns, "XATTR_SET of inode %" PRIu64 " has a bad name or range",
				 x->ino);
	b = in->xbuild;
	if (x->off == 0) {
		if (b)
			return ns_damage(ns,
					 "XATTR_SET of inode %" PRIu64 " starts a value before "
					 "the last one ended",
					 x->ino);
		b = calloc(1, sizeof(*b));
		if (!b)
			return -ENOMEM;
		b->value = malloc(MAX(x->value_len, 1U));
		if (!b->value) {
			free(b);
			return -ENOMEM;
		}
		b->name_len = x->name_len;
		memcpy(b->name, x->data, x->name_len);
		b->value_len = x->value_len;
		in->xbuild = b;
	} else if (!b || b->value_len != x->value_len || b->have != x->off ||
		   b->name_len != x->name_len || memcmp(b->name, x->data, x->name_len) != 0) {
		return ns_damage(ns, "XATTR_SET of inode %" PRIu64 " continues no value", x->ino);
	}
	memcpy(b->value + b->have, chunk, x->chunk_len);
	b->have += x->chunk_len;
	if (b->have < b->value_len)
		return 0;
	in->xbuild = NULL;
	rc = ns_xattr_put(ns, in, b->name, b->name_len, b->value, b->value_len);
	if (rc == -EINVAL)
		rc = ns_damage(ns, "XATTR_SET of inode %" PRIu64 ": \"%.*s\" has a bad value",
			       x->ino, (int)b->name_len, b->name);
	free(b->value);
	free(b);
	return rc;
}

static int apply_xattr_del(struct ns *ns, const struct fmt_xattr_del *x)
{
	struct ns_inode *in = ns_inode_find(ns, x->ino);

	if (!in || !xattr_name_ok(x->name, x->name_len) || in->xbuild)
		return ns_damage(ns, "XATTR_DEL of inode %" PRIu64 " is not valid", x->ino);
	if (ns_xattr_put(ns, in, x->name, x->name_len, NULL, 0) == -ENODATA)
		return ns_damage(ns, "XATTR_DEL: inode %" PRIu64 " has no \"%.*s\"", x->ino,
				 (int)x->name_len, x->name);
	return 0;
}

/* v2_only - a version 2 record (or field) in a version 1 namespace is damage. */
static int v2_only(struct ns *ns, const struct fmt_rec *rec)
{
	if (__atomic_load_n(&ns->posix, __ATOMIC_RELAXED))
		return 0;
	return ns_damage(ns, "%s record in a version 1 region", fmt_rec_name(rec->type));
}

int ns_apply(struct ns *ns, struct ns_txctx *tc, const struct fmt_rec *rec, const void *p,
	     size_t plen)
{
	int rc;

	/* Lengths were checked by the log (mlog.c) or built by us. */
	rcu_read_begin();
	switch (rec->type) {
	case FMT_REC_INODE: {
		struct fmt_inode fi = {0};

		/* A version 1 INODE has no rdev: 0. */
		memcpy(&fi, p, MIN(plen, sizeof(fi)));
		rc = plen == sizeof(fi) ? v2_only(ns, rec) : 0;
		if (rc == 0)
			rc = apply_inode(ns, tc, &fi);
		break;
	}
	case FMT_REC_SYMLINK:
		rc = v2_only(ns, rec);
		if (rc == 0)
			rc = apply_symlink(ns, p);
		break;
	case FMT_REC_XATTR_SET:
		rc = v2_only(ns, rec);
		if (rc == 0)
			rc = apply_xattr_set(ns, p);
		break;
	case FMT_REC_XATTR_DEL:
		rc = v2_only(ns, rec);
		if (rc == 0)
			rc = apply_xattr_del(ns, p);
		break;
	case FMT_REC_DIRENT_ADD:
		rc = apply_dirent_add(ns, p);
		break;
	case FMT_REC_DIRENT_DEL:
		rc = apply_dirent_del(ns, p);
		break;
	case FMT_REC_INODE_DEL:
		rc = apply_inode_del(ns, tc, p);
		break;
	case FMT_REC_MAP:
		rc = apply_map(ns, tc, p);
		break;
	case FMT_REC_UNMAP:
		rc = apply_unmap(ns, tc, p);
		break;
	case FMT_REC_BADBLOCK:
		rcu_read_end();
		return apply_badblock(ns, p);
	case FMT_REC_HOLD:
		rc = ns->hooks.apply_hold ? ns->hooks.apply_hold(ns, tc, p) : 0;
		break;
	case FMT_REC_RELEASE: {
		const struct fmt_release *r = p;
		bool restored = false;

		rc = ns->hooks.apply_release ? ns->hooks.apply_release(ns, tc, r, &restored) : 0;
		if (rc == 0 && restored)
			rc = free_run(ns, tc, r->block, r->count);
		break;
	}
	default:
		rc = ns_damage(ns, "unknown record type %u", rec->type);
		break;
	}
	rcu_read_end();
	return rc;
}

/* --- checking a live transaction before it commits --- */

/*
 * What a transaction's earlier records did, for checking its later ones: inodes it created or
 * deleted, and names it added or removed (the last word about a name wins).
 */
struct tx_view {
	struct {
		uint64_t ino;
		uint32_t type; /* 0: deleted */
	} inodes[FMT_TX_MAX_RECS];
	unsigned ninodes;
	struct {
		uint64_t dir;
		const char *name;
		uint16_t len;
		bool present;
	} names[FMT_TX_MAX_RECS];
	unsigned nnames;
	/* The XATTR_SET value being written: its inode, length, and bytes so far. */
	uint64_t xattr_ino;
	uint32_t xattr_len, xattr_have;
};

/* view_type - the type of inode @ino as the transaction left it, or 0. Locking: RCU. */
static uint32_t view_type(struct ns *ns, const struct tx_view *v, uint64_t ino)
{
	struct ns_inode *in;

	for (unsigned i = v->ninodes; i-- > 0;)
		if (v->inodes[i].ino == ino)
			return v->inodes[i].type;
	in = ns_inode_find(ns, ino);
	return in ? in->type : 0;
}

/* view_has_name - does @dir hold @name as the transaction left it? Locking: RCU. */
static bool view_has_name(struct ns *ns, const struct tx_view *v, uint64_t dir, const char *name,
			  size_t len)
{
	for (unsigned i = v->nnames; i-- > 0;)
		if (v->names[i].dir == dir && v->names[i].len == len &&
		    memcmp(v->names[i].name, name, len) == 0)
			return v->names[i].present;
	return ns_dirent_find(ns, dir, name, len) != NULL;
}

/* view_entries - how many entries directory @dir holds as the transaction left it. */
static int64_t view_entries(struct ns *ns, const struct tx_view *v, uint64_t dir)
{
	struct ns_inode *in = ns_inode_find(ns, dir);
	int64_t n = in ? (int64_t)in->nr_entries : 0;

	/* Each change of a name flips it: count the flips against the table's state. */
	for (unsigned i = 0; i < v->nnames; i++) {
		bool before = false;

		if (v->names[i].dir != dir)
			continue;
		for (unsigned k = i; k-- > 0;) {
			if (v->names[k].dir == dir && v->names[k].len == v->names[i].len &&
			    memcmp(v->names[k].name, v->names[i].name, v->names[i].len) == 0) {
				before = v->names[k].present;
				goto found;
			}
		}
		before = ns_dirent_find(ns, dir, v->names[i].name, v->names[i].len) != NULL;
	found:
		n += (int64_t)v->names[i].present - (int64_t)before;
	}
	return n;
}

static int check_rec(struct ns *ns, struct tx_view *v, const struct fmt_rec *h, const void *p)
{
	switch (h->type) {
	case FMT_REC_INODE: {
		const struct fmt_inode *fi = p;
		uint32_t type = view_type(ns, v, fi->ino);

		if (!inode_rec_ok(ns, fi) || (type && type != (fi->mode & S_IFMT)))
			return ns_damage(ns, "INODE %" PRIu64 " is not valid here", fi->ino);
		if (!type)
			v->inodes[v->ninodes++] =
				(typeof(v->inodes[0])){fi->ino, fi->mode & S_IFMT};
		return 0;
	}
	case FMT_REC_DIRENT_ADD: {
		const struct fmt_dirent *fd = p;

		if (fmt_valid_name(fd->name, fd->name_len) ||
		    view_type(ns, v, fd->dir) != S_IFDIR || !view_type(ns, v, fd->ino) ||
		    fd->ino == NS_ROOT_INO || view_has_name(ns, v, fd->dir, fd->name, fd->name_len))
			return ns_damage(ns, "DIRENT_ADD of inode %" PRIu64 " is not valid here",
					 fd->ino);
		v->names[v->nnames++] =
			(typeof(v->names[0])){fd->dir, fd->name, fd->name_len, true};
		return 0;
	}
	case FMT_REC_DIRENT_DEL: {
		const struct fmt_dirent_del *fd = p;

		if (!view_has_name(ns, v, fd->dir, fd->name, fd->name_len))
			return ns_damage(ns,
					 "DIRENT_DEL in directory %" PRIu64 " is not valid here",
					 fd->dir);
		v->names[v->nnames++] =
			(typeof(v->names[0])){fd->dir, fd->name, fd->name_len, false};
		return 0;
	}
	case FMT_REC_INODE_DEL: {
		const struct fmt_inode_del *fd = p;
		uint32_t type = view_type(ns, v, fd->ino);

		if (!type || fd->ino == NS_ROOT_INO ||
		    (type == S_IFDIR && view_entries(ns, v, fd->ino) != 0))
			return ns_damage(ns, "INODE_DEL of inode %" PRIu64 " is not valid here",
					 fd->ino);
		v->inodes[v->ninodes++] = (typeof(v->inodes[0])){fd->ino, 0};
		return 0;
	}
	case FMT_REC_MAP: {
		const struct fmt_map *m = p;

		if (!ns_has_map(view_type(ns, v, m->ino)) || !map_rec_ok(ns, m))
			return ns_damage(ns, "MAP of inode %" PRIu64 " is not valid here", m->ino);
		return 0;
	}
	case FMT_REC_UNMAP: {
		const struct fmt_unmap *u = p;

		if (!ns_has_map(view_type(ns, v, u->ino)) || u->index >= PAGES_MAX || u->count == 0)
			return ns_damage(ns, "UNMAP of inode %" PRIu64 " is not valid here",
					 u->ino);
		return 0;
	}
	case FMT_REC_SYMLINK: {
		const struct fmt_symlink *l = p;

		if (!__atomic_load_n(&ns->posix, __ATOMIC_RELAXED) ||
		    view_type(ns, v, l->ino) != S_IFLNK || l->len == 0 ||
		    l->len > FMT_SYMLINK_INLINE || memchr(l->target, 0, l->len))
			return ns_damage(ns, "SYMLINK of inode %" PRIu64 " is not valid here",
					 l->ino);
		return 0;
	}
	case FMT_REC_XATTR_SET: {
		const struct fmt_xattr *x = p;

		/* Chunks of one value follow each other, from 0 to its end. */
		if (!__atomic_load_n(&ns->posix, __ATOMIC_RELAXED) || !view_type(ns, v, x->ino) ||
		    !xattr_name_ok(x->data, x->name_len) || x->value_len > FMT_XATTR_VALUE_MAX ||
		    x->off != (x->off == 0 ? 0 : v->xattr_have) ||
		    (x->off && (v->xattr_ino != x->ino || v->xattr_len != x->value_len)) ||
		    x->chunk_len > x->value_len - x->off ||
		    (x->chunk_len == 0 && x->off + x->chunk_len < x->value_len) ||
		    (x->off == 0 && v->xattr_have < v->xattr_len))
			return ns_damage(ns, "XATTR_SET of inode %" PRIu64 " is not valid here",
					 x->ino);
		v->xattr_ino = x->ino;
		v->xattr_len = x->value_len;
		v->xattr_have = x->off + x->chunk_len;
		return 0;
	}
	case FMT_REC_XATTR_DEL: {
		const struct fmt_xattr_del *x = p;

		if (!__atomic_load_n(&ns->posix, __ATOMIC_RELAXED) || !view_type(ns, v, x->ino) ||
		    !xattr_name_ok(x->name, x->name_len) || v->xattr_have < v->xattr_len)
			return ns_damage(ns, "XATTR_DEL of inode %" PRIu64 " is not valid here",
					 x->ino);
		return 0;
	}
	case FMT_REC_BADBLOCK:
	case FMT_REC_HOLD:
	case FMT_REC_RELEASE: {
		/* The three share their first two fields: block, count. */
		const struct fmt_badblock *b = p;

		if (b->count == 0 || !alloc_contains(ns->alloc, b->block, b->count))
			return ns_damage(ns, "%s %" PRIu64 "+%" PRIu64 " is outside the data area",
					 fmt_rec_name(h->type), b->block, b->count);
		return 0;
	}
	default:
		return ns_damage(ns, "unknown record type %u", h->type);
	}
}

int ns_tx_check(struct ns *ns, const struct mlog_tx *tx)
{
	/*
	 * On the stack (under 3 KiB): a malloc this size is past glibc's per-thread cache and
	 * takes its arena's lock, which the call_rcu thread's frees also take.
	 */
	struct tx_view view, *v = &view;
	int rc = 0;

	v->ninodes = v->nnames = 0;
	v->xattr_ino = 0;
	v->xattr_len = v->xattr_have = 0;
	rcu_read_begin();
	for (size_t o = 0; o < tx->used && rc == 0;) {
		const struct fmt_rec *h = (const struct fmt_rec *)(tx->buf + o);

		if (v->ninodes == FMT_TX_MAX_RECS || v->nnames == FMT_TX_MAX_RECS)
			rc = ns_damage(ns, "a transaction of more than %d records",
				       FMT_TX_MAX_RECS);
		else
			rc = check_rec(ns, v, h, h + 1);
		o += h->len;
	}
	if (rc == 0 && v->xattr_have < v->xattr_len)
		rc = ns_damage(ns, "a transaction ends inside an XATTR_SET value");
	rcu_read_end();
	return rc;
}

/* --- what poison_list() reads --- */

void poison_note_page(struct ns *ns, uint64_t block, uint64_t ino, uint64_t index)
{
	pthread_mutex_lock(&ns->meta_bad_lock);
	if (ns->nbad_pages == ns->cap_bad_pages) {
		size_t cap = ns->cap_bad_pages ? ns->cap_bad_pages * 2 : 16;
		struct ns_bad_page *v = realloc(ns->bad_pages, cap * sizeof(*v));

		if (!v) {
			/* Only the listing loses the file's name for this block. */
			pthread_mutex_unlock(&ns->meta_bad_lock);
			return;
		}
		ns->bad_pages = v;
		ns->cap_bad_pages = cap;
	}
	ns->bad_pages[ns->nbad_pages++] = (struct ns_bad_page){block, ino, index};
	pthread_mutex_unlock(&ns->meta_bad_lock);
}

void poison_note_metadata(struct ns *ns, uint64_t block)
{
	pthread_mutex_lock(&ns->meta_bad_lock);
	for (size_t i = 0; i < ns->nmeta_bad; i++) {
		if (ns->meta_bad[i] == block) {
			pthread_mutex_unlock(&ns->meta_bad_lock);
			return;
		}
	}
	if (ns->nmeta_bad < NS_META_BAD_MAX) {
		size_t i = ns->nmeta_bad++;

		/* Keep them sorted: insertion, the list is short. */
		while (i > 0 && ns->meta_bad[i - 1] > block) {
			ns->meta_bad[i] = ns->meta_bad[i - 1];
			i--;
		}
		ns->meta_bad[i] = block;
	}
	pthread_mutex_unlock(&ns->meta_bad_lock);
}
