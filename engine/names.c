// SPDX-License-Identifier: MIT
/*
 * Name operations: mkdir, create, mknod, symlink, link, unlink, rmdir, rename, setattr, and
 * the opens that keep an unlinked file (an orphan) until it is closed.
 *
 * Each builds its records under the inode locks of every object they describe, as the Linux
 * VFS does: the parent directory (both parents for a rename, in ancestor order, under the
 * rename lock when they differ), then the children in inode order. Permissions are checked
 * under those locks, against the very entries the change removes or adds (DESIGN §7).
 *
 * Nothing here waits while holding a lock: the first inode lock parks the caller when it is
 * taken; every later one is only tried, and when it is taken every lock is dropped and the
 * caller parks on it; a file whose mappers must let go (unlink or rename over it) starts the
 * lease break and parks. The operation then starts over and revalidates everything
 * (docs/locking.md lists the order for each operation).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "acl.h"
#include "log.h"
#include "nsint.h"
#include "util.h"

/* --- lock sets --- */

#define LOCKSET_MAX 4

/* The inodes an operation has locked, in the order it took them. */
struct lockset {
	struct ns_inode *v[LOCKSET_MAX];
	unsigned n;
	bool rename; /* holds ns->rename_lock */
};

static void ls_unlock(struct ns *ns, struct lockset *ls)
{
	while (ls->n)
		ns_iunlock(ls->v[--ls->n]);
	if (ls->rename)
		pthread_mutex_unlock(&ns->rename_lock);
	ls->rename = false;
}

/*
 * ls_lock - add @in's inode lock to @ls. The first lock of a set that holds nothing else may
 * park; any later one is only tried: when it is taken, the whole set is dropped and @c parks
 * on @in (the operation starts over when it is free).
 * Return: 0; NS_WAIT (nothing held any more).
 */
static int ls_lock(struct ns *ns, struct ns_ctx *c, struct lockset *ls, struct ns_inode *in)
{
	int rc;

	for (unsigned i = 0; i < ls->n; i++)
		if (ls->v[i] == in)
			return 0;
	if (ls->n == 0 && !ls->rename) {
		rc = ns_ilock(ns, c, in);
	} else if (ns_itrylock(in)) {
		rc = 0;
	} else {
		ls_unlock(ns, ls);
		return ns_ilock_wait(ns, c, in);
	}
	if (rc == 0)
		ls->v[ls->n++] = in;
	return rc;
}

/* inode_nlink - @in's link count (attr_lock). */
static uint32_t inode_nlink(struct ns_inode *in)
{
	uint32_t n;

	pthread_mutex_lock(&in->attr_lock);
	n = in->nlink;
	pthread_mutex_unlock(&in->attr_lock);
	return n;
}

/* dying - has @in left the tables (removed while we waited for it)? */
static bool dying(struct ns_inode *in)
{
	return __atomic_load_n(&in->dying, __ATOMIC_ACQUIRE);
}

/* get_dir - a reference on directory @ino. Return: 0; -ENOENT; -ENOTDIR. */
static int get_dir(struct ns *ns, uint64_t ino, struct ns_inode **out)
{
	struct ns_inode *d = ns_inode_get(ns, ino);

	if (!d)
		return -ENOENT;
	if (!S_ISDIR(d->type)) {
		ns_inode_put(ns, d);
		return -ENOTDIR;
	}
	*out = d;
	return 0;
}

/* child - a reference on what @name in locked directory @dir names, or NULL. */
static struct ns_inode *child(struct ns *ns, uint64_t dir, const char *name)
{
	struct ns_dirent *de;
	struct ns_inode *in = NULL;

	rcu_read_begin();
	de = ns_dirent_find(ns, dir, name, strlen(name));
	if (de) {
		in = ns_inode_find(ns, de->ino);
		if (in && !ns_inode_tryget(in))
			in = NULL;
	}
	rcu_read_end();
	return in;
}

static int check_name(const char *name)
{
	return fmt_valid_name(name, strnlen(name, NS_NAME_MAX + 1));
}

/* --- records --- */

static void add_inode(struct mlog_tx *tx, const struct fmt_inode *fi)
{
	struct fmt_inode *p = mlog_tx_add(tx, FMT_REC_INODE, sizeof(*p));

	if (p)
		*p = *fi;
}

static void add_dirent(struct mlog_tx *tx, uint64_t dir, uint64_t ino, const char *name)
{
	size_t len = strlen(name);
	struct fmt_dirent *d = mlog_tx_add(tx, FMT_REC_DIRENT_ADD, sizeof(*d) + len);

	if (d) {
		d->dir = dir;
		d->ino = ino;
		d->name_len = (uint16_t)len;
		memcpy(d->name, name, len);
	}
}

static void add_dirent_del(struct mlog_tx *tx, uint64_t dir, const char *name)
{
	size_t len = strlen(name);
	struct fmt_dirent_del *d = mlog_tx_add(tx, FMT_REC_DIRENT_DEL, sizeof(*d) + len);

	if (d) {
		d->dir = dir;
		d->name_len = (uint16_t)len;
		memcpy(d->name, name, len);
	}
}

static void add_inode_del(struct mlog_tx *tx, uint64_t ino)
{
	struct fmt_inode_del *d = mlog_tx_add(tx, FMT_REC_INODE_DEL, sizeof(*d));

	if (d)
		d->ino = ino;
}

/*
 * add_dir_changed - the INODE record of @dir after an entry change (@nlink_delta subdirs).
 * Locking: @dir's inode lock held.
 */
static void add_dir_changed(struct mlog_tx *tx, struct ns_inode *dir, int nlink_delta, int64_t now)
{
	struct fmt_inode fi;

	ns_inode_rec_now(dir, &fi);
	fi.nlink = (uint32_t)((int64_t)fi.nlink + nlink_delta);
	fi.mtime = fi.ctime = now;
	add_inode(tx, &fi);
}

/*
 * add_link_dropped - the INODE record of file @in after one of its names went (an orphan
 * at nlink 0, kept while open). Locking: @in's inode lock held.
 */
static void add_link_dropped(struct mlog_tx *tx, struct ns_inode *in, int64_t now)
{
	struct fmt_inode fi;

	ns_inode_rec_now(in, &fi);
	fi.nlink--;
	fi.ctime = now;
	add_inode(tx, &fi);
}

/* --- mkdir, create --- */

/*
 * init_owner - owner, group and mode of a new inode made by @cred in @dir, as Linux's
 * inode_init_owner(): the group of a set-group-id directory is inherited, with the
 * set-group-id bit for a new directory, and a new file's set-group-id bit is dropped when
 * its creator is not in its group.
 */
static void init_owner(const struct ns_cred *cred, const struct ns_attr *dir, uint32_t type,
		       struct fmt_inode *fi, uint32_t mode)
{
	fi->uid = cred ? cred->uid : 0;
	fi->gid = cred ? cred->gid : 0;
	if (dir->mode & S_ISGID) {
		fi->gid = dir->gid;
		if (type == S_IFDIR)
			mode |= S_ISGID;
	}
	if (type != S_IFDIR && (mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) &&
	    !ns_cred_super(cred) && !ns_cred_in_group(cred, fi->gid))
		mode &= ~(uint32_t)S_ISGID;
	fi->mode = type | mode;
}

/* What a new inode is. */
struct node_spec {
	uint32_t type; /* S_IFMT bits */
	uint32_t mode; /* permission bits */
	uint64_t rdev;
	const char *target; /* symbolic links */
	size_t target_len;
};

/*
 * inherit_acls - the new inode's ACLs from @d's default ACL (acl(5)): its access ACL is the
 * default one limited by the create mode (and sets the mode), a new directory inherits the
 * default ACL too; without one, the umask applies. Adds the records to @tx.
 * Locking: @d's inode lock.
 */
static int inherit_acls(struct ns_ctx *c, struct ns_inode *d, struct fmt_inode *fi,
			struct mlog_tx *tx)
{
	const struct ns_acl *def = ns_inode_acl(d, true);
	struct ns_acl *acl;
	uint32_t mode = fi->mode;
	int rc;

	if (!def || S_ISLNK(fi->mode)) {
		if (!S_ISLNK(fi->mode))
			fi->mode &= ~(c->umask & 0777);
		return 0;
	}
	if (S_ISDIR(fi->mode)) {
		rc = ns_tx_add_acl(tx, fi->ino, true, def);
		if (rc)
			return rc;
	}
	acl = ns_acl_dup(def);
	if (!acl)
		return -ENOMEM;
	rc = ns_acl_create_masq(acl, &mode);
	if (rc > 0)
		rc = ns_tx_add_acl(tx, fi->ino, false, acl);
	free(acl);
	fi->mode = mode;
	return rc < 0 ? rc : 0;
}

/*
 * symlink_block - a long symbolic link's target in a block of its own (page 0 of its map),
 * zeroed past the target and persisted, with the MAP record that gives it to inode @ino.
 * Return: 0 and *@blk (to free if the transaction fails); -ENOSPC; -EIO.
 */
static int symlink_block(struct ns *ns, const struct ns_cred *cred, uint64_t ino,
			 const struct node_spec *sp, struct mlog_tx *tx, uint64_t *blk)
{
	struct fmt_map *m;
	struct region_fault f;
	uint64_t got;
	char *base;
	int rc;

	rc = ns_alloc_blocks(ns, cred, UINT64_MAX, 1, blk, &got);
	if (rc)
		return rc;
	base = region_at(ns->r, *blk * FMT_BLOCK_SIZE);
	rc = region_memcpy_safe(ns->r, base, sp->target, sp->target_len, REGION_NODRAIN, &f);
	if (rc == 0)
		rc = region_memset_safe(ns->r, base + sp->target_len, 0,
					FMT_BLOCK_SIZE - sp->target_len, 0, &f);
	if (rc) {
		alloc_quarantine(ns->alloc, f.off / FMT_BLOCK_SIZE, 1);
		alloc_free(ns->alloc, *blk, 1);
		*blk = UINT64_MAX;
		return -EIO;
	}
	m = mlog_tx_add(tx, FMT_REC_MAP, sizeof(*m));
	if (m)
		*m = (struct fmt_map){ino, 0, *blk, 1, 0};
	return 0;
}

/* add_symlink - the target of a new link: a SYMLINK record, or a block (symlink_block). */
static int add_symlink(struct ns *ns, const struct ns_cred *cred, uint64_t ino,
		       const struct node_spec *sp, struct mlog_tx *tx, uint64_t *blk)
{
	struct fmt_symlink *l;

	if (sp->target_len > FMT_SYMLINK_INLINE)
		return symlink_block(ns, cred, ino, sp, tx, blk);
	l = mlog_tx_add(tx, FMT_REC_SYMLINK, sizeof(*l) + sp->target_len);
	if (l) {
		l->ino = ino;
		l->len = (uint32_t)sp->target_len;
		memcpy(l->target, sp->target, sp->target_len);
	}
	return 0;
}

static int make_node(struct ns *ns, struct ns_ctx *c, uint64_t dir, const char *name,
		     const struct node_spec *sp, struct ns_attr *out)
{
	struct lockset ls = {.n = 0};
	struct fmt_inode fi = {0};
	struct ns_inode *d, *in;
	struct ns_attr da;
	struct mlog_tx tx;
	struct fmt_inode *ifi;
	size_t ifi_off;
	uint64_t blk = UINT64_MAX;
	int64_t now = now_ns();
	int rc;

	rc = get_dir(ns, dir, &d);
	if (rc)
		return rc;
	rc = ls_lock(ns, c, &ls, d);
	if (rc)
		goto out_put;
	ns_fill_attr(d, &da);
	if (dying(d))
		rc = -ENOENT;
	if (rc == 0)
		rc = ns_may_create(c->cred, &da, ns_inode_acl(d, false));
	if (rc == 0) {
		rcu_read_begin();
		if (ns_dirent_find(ns, dir, name, strlen(name)))
			rc = -EEXIST;
		rcu_read_end();
	}
	if (rc)
		goto out_unlock;
	mlog_tx_init(&tx);
	fi.ino = __atomic_fetch_add(&ns->next_ino, 1, __ATOMIC_ACQ_REL);
	fi.parent = sp->type == S_IFDIR ? dir : 0;
	init_owner(c->cred, &da, sp->type, &fi, sp->mode);
	fi.nlink = sp->type == S_IFDIR ? 2 : 1;
	fi.rdev = sp->rdev;
	fi.size = sp->type == S_IFLNK ? sp->target_len : 0;
	fi.atime = fi.mtime = fi.ctime = now;
	/* The INODE first (its mode may still change): a placeholder, filled in below. */
	ifi = mlog_tx_add(&tx, FMT_REC_INODE, sizeof(fi));
	ifi_off = ifi ? (size_t)((uint8_t *)ifi - tx.buf) : 0;
	rc = inherit_acls(c, d, &fi, &tx);
	if (rc == 0 && ifi)
		memcpy(tx.buf + ifi_off, &fi, sizeof(fi));
	if (rc == 0 && sp->type == S_IFLNK)
		rc = add_symlink(ns, c->cred, fi.ino, sp, &tx, &blk);
	if (rc == 0) {
		add_dirent(&tx, dir, fi.ino, name);
		add_dir_changed(&tx, d, sp->type == S_IFDIR ? 1 : 0, now);
		rc = ns_tx_run(ns, c->cred, &tx);
	}
	mlog_tx_release(&tx);
	if (rc && blk != UINT64_MAX)
		alloc_free(ns->alloc, blk, 1);
	if (rc == 0 && out) {
		rcu_read_begin();
		in = ns_inode_find(ns, fi.ino);
		if (in)
			ns_fill_attr(in, out);
		rcu_read_end();
	}
out_unlock:
	ls_unlock(ns, &ls);
out_put:
	ns_inode_put(ns, d);
	return rc;
}

/* posix_only - version 2 operations on a version 1 namespace (mounted read-only). */
static int posix_only(struct ns *ns)
{
	int rc = ns_writable(ns);

	if (rc == 0 && !__atomic_load_n(&ns->posix, __ATOMIC_ACQUIRE))
		rc = -EOPNOTSUPP;
	return rc;
}

static int make(struct ns *ns, struct ns_ctx *c, uint64_t dir, const char *name,
		const struct node_spec *sp, struct ns_attr *out)
{
	struct ns_ctx local;
	int64_t rc;

	rc = check_name(name);
	if (rc == 0 && sp->mode & ~07777U)
		rc = -EINVAL;
	if (rc == 0)
		rc = sp->type == S_IFDIR || sp->type == S_IFREG ? ns_writable(ns) : posix_only(ns);
	if (rc)
		return (int)rc;
	c = ns_ctx_enter(ns, c, &local);
	do
		rc = make_node(ns, c, dir, name, sp, out);
	while (ns_ctx_again(ns, c, rc));
	return (int)ns_ctx_leave(ns, c, &local, rc);
}

int ns_mkdir(struct ns *ns, struct ns_ctx *c, uint64_t dir, const char *name, uint32_t mode,
	     struct ns_attr *out)
{
	struct node_spec sp = {.type = S_IFDIR, .mode = mode};

	return make(ns, c, dir, name, &sp, out);
}

int ns_create(struct ns *ns, struct ns_ctx *c, uint64_t dir, const char *name, uint32_t mode,
	      struct ns_attr *out)
{
	struct node_spec sp = {.type = S_IFREG, .mode = mode};

	return make(ns, c, dir, name, &sp, out);
}

int ns_mknod(struct ns *ns, struct ns_ctx *c, uint64_t dir, const char *name, uint32_t mode,
	     uint64_t rdev, struct ns_attr *out)
{
	struct node_spec sp = {.type = mode & S_IFMT, .mode = mode & ~(uint32_t)S_IFMT};

	switch (sp.type) {
	case 0:
		sp.type = S_IFREG; /* as mknod(2) */
				   /* fall through */
	case S_IFREG:
		return make(ns, c, dir, name, &sp, out);
	case S_IFCHR:
	case S_IFBLK:
		sp.rdev = rdev;
		break;
	case S_IFIFO:
	case S_IFSOCK:
		break;
	case S_IFDIR:
		return -EPERM; /* mknod(2) makes no directories */
	default:
		return -EINVAL;
	}
	/* Only the super user makes devices (CAP_MKNOD). */
	if ((sp.type == S_IFCHR || sp.type == S_IFBLK) && !ns_cred_super(c ? c->cred : NULL))
		return -EPERM;
	return make(ns, c, dir, name, &sp, out);
}

int ns_symlink(struct ns *ns, struct ns_ctx *c, uint64_t dir, const char *name, const char *target,
	       struct ns_attr *out)
{
	struct node_spec sp = {.type = S_IFLNK, .mode = 0777, .target = target};

	sp.target_len = strnlen(target, FMT_SYMLINK_MAX + 1);
	if (sp.target_len == 0)
		return -ENOENT; /* symlink(2) with an empty target */
	if (sp.target_len > FMT_SYMLINK_MAX)
		return -ENAMETOOLONG;
	return make(ns, c, dir, name, &sp, out);
}

/* --- link --- */

#define NS_LINK_MAX 65000U /* as ext4 */

/*
 * may_link - may @c give file @a a new name? Its owner may, and, as Linux with
 * protected_hardlinks, anyone who may read and write a regular file that does not run with
 * someone else's rights (set-user-id, or set-group-id and group-executable).
 */
static int may_link(const struct ns_cred *c, struct ns_inode *in, const struct ns_attr *a)
{
	if (ns_cred_owns(c, a))
		return 0;
	if (!S_ISREG(a->mode) || a->mode & S_ISUID ||
	    (a->mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		return -EPERM;
	return ns_inode_permission(c, in, a, NS_MAY_READ | NS_MAY_WRITE) ? -EPERM : 0;
}

static int link_node(struct ns *ns, struct ns_ctx *c, uint64_t ino, uint64_t dir, const char *name,
		     struct ns_attr *out)
{
	struct lockset ls = {.n = 0};
	struct ns_inode *d = NULL, *in;
	struct ns_attr da, a;
	struct fmt_inode fi;
	struct mlog_tx tx;
	int64_t now = now_ns();
	int rc;

	in = ns_inode_get(ns, ino);
	if (!in)
		return -ENOENT;
	rc = S_ISDIR(in->type) ? -EPERM : get_dir(ns, dir, &d);
	if (rc == 0)
		rc = ls_lock(ns, c, &ls, d);
	if (rc == 0)
		rc = ls_lock(ns, c, &ls, in);
	if (rc)
		goto out;
	ns_fill_attr(d, &da);
	ns_fill_attr(in, &a);
	if (dying(d) || dying(in) || a.nlink == 0)
		rc = -ENOENT;
	if (rc == 0)
		rc = ns_may_create(c->cred, &da, ns_inode_acl(d, false));
	if (rc == 0)
		rc = may_link(c->cred, in, &a);
	if (rc == 0 && a.nlink >= NS_LINK_MAX)
		rc = -EMLINK;
	if (rc == 0) {
		rcu_read_begin();
		if (ns_dirent_find(ns, dir, name, strlen(name)))
			rc = -EEXIST;
		rcu_read_end();
	}
	if (rc)
		goto out;
	mlog_tx_init(&tx);
	ns_inode_rec_now(in, &fi);
	fi.nlink++;
	fi.ctime = now;
	add_inode(&tx, &fi);
	add_dirent(&tx, dir, ino, name);
	add_dir_changed(&tx, d, 0, now);
	rc = ns_tx_run(ns, c->cred, &tx);
	mlog_tx_release(&tx);
	if (rc == 0 && out)
		ns_fill_attr(in, out);
out:
	ls_unlock(ns, &ls);
	ns_inode_put(ns, d);
	ns_inode_put(ns, in);
	return rc;
}

int ns_link(struct ns *ns, struct ns_ctx *c, uint64_t ino, uint64_t dir, const char *name,
	    struct ns_attr *out)
{
	struct ns_ctx local;
	int64_t rc;

	rc = check_name(name);
	if (rc == 0)
		rc = posix_only(ns);
	if (rc)
		return (int)rc;
	c = ns_ctx_enter(ns, c, &local);
	do
		rc = link_node(ns, c, ino, dir, name, out);
	while (ns_ctx_again(ns, c, rc));
	return (int)ns_ctx_leave(ns, c, &local, rc);
}

/* --- unlink, rmdir --- */

/*
 * remove_name - unlink (@want_dir false) or rmdir (true). Locks: the directory, then the
 * victim. A file's mappers let go before anything changes; its blocks are freed after the
 * transaction and a grace period (or held for mappers that did not let go).
 */
static int remove_name(struct ns *ns, struct ns_ctx *c, uint64_t dir, const char *name,
		       bool want_dir)
{
	struct lockset ls = {.n = 0};
	struct ns_inode *d, *victim = NULL;
	struct ns_hold *hold = NULL;
	struct ns_attr da, va;
	struct mlog_tx tx;
	bool locked_pages = false, keep;
	int64_t now = now_ns();
	int rc;

	rc = get_dir(ns, dir, &d);
	if (rc)
		return rc;
	rc = ls_lock(ns, c, &ls, d);
	if (rc)
		goto out_put;
	victim = dying(d) ? NULL : child(ns, dir, name);
	if (!victim) {
		rc = -ENOENT;
		goto out_unlock;
	}
	if (want_dir && !S_ISDIR(victim->type))
		rc = -ENOTDIR;
	else if (!want_dir && S_ISDIR(victim->type))
		rc = -EISDIR;
	if (rc == 0)
		rc = ls_lock(ns, c, &ls, victim);
	if (rc)
		goto out_unlock;
	ns_fill_attr(d, &da);
	ns_fill_attr(victim, &va);
	rc = ns_may_delete(c->cred, &da, ns_inode_acl(d, false), &va);
	if (rc == 0 && want_dir && victim->nr_entries)
		rc = -ENOTEMPTY;
	/* Another name, or an open, keeps the file: only the name goes. */
	keep = !want_dir && (va.nlink > 1 || victim->opens);
	if (rc == 0 && !want_dir && !keep)
		rc = ns_break_leases(ns, c, victim, 0, NS_PAGES_MAX, &hold);
	if (rc)
		goto out_unlock;
	if (!want_dir && !keep) {
		ns_lock_pages(victim, 0, NS_PAGES_MAX);
		locked_pages = true;
	}
	mlog_tx_init(&tx);
	add_dirent_del(&tx, dir, name);
	if (keep)
		add_link_dropped(&tx, victim, now);
	else
		add_inode_del(&tx, victim->ino);
	add_dir_changed(&tx, d, want_dir ? -1 : 0, now);
	rc = ns_tx_run_held(ns, c->cred, &tx, hold);
	hold = NULL;
	mlog_tx_release(&tx);
	if (rc && locked_pages)
		ns_unlock_pages(victim, 0, NS_PAGES_MAX);
out_unlock:
	ns_hold_put(ns, hold);
	ls_unlock(ns, &ls);
out_put:
	ns_inode_put(ns, victim);
	ns_inode_put(ns, d);
	return rc;
}

static int remove(struct ns *ns, struct ns_ctx *c, uint64_t dir, const char *name, bool want_dir)
{
	struct ns_ctx local;
	int64_t rc;

	rc = check_name(name);
	if (rc == 0)
		rc = ns_writable(ns);
	if (rc)
		return (int)rc;
	c = ns_ctx_enter(ns, c, &local);
	do
		rc = remove_name(ns, c, dir, name, want_dir);
	while (ns_ctx_again(ns, c, rc));
	return (int)ns_ctx_leave(ns, c, &local, rc);
}

int ns_unlink(struct ns *ns, struct ns_ctx *c, uint64_t dir, const char *name)
{
	return remove(ns, c, dir, name, false);
}

int ns_rmdir(struct ns *ns, struct ns_ctx *c, uint64_t dir, const char *name)
{
	return remove(ns, c, dir, name, true);
}

/* --- rename --- */

/* parent_of - the parent of directory @in (attr_lock). */
static uint64_t parent_of(struct ns_inode *in)
{
	uint64_t p;

	pthread_mutex_lock(&in->attr_lock);
	p = in->parent;
	pthread_mutex_unlock(&in->attr_lock);
	return p;
}

/*
 * is_ancestor - is @a an ancestor of (or equal to) directory @d?
 * Locking: ns->rename_lock held (directories change parent only under it); RCU.
 */
static bool is_ancestor(struct ns *ns, uint64_t a, uint64_t d)
{
	for (unsigned depth = 0; depth < 1U << 20; depth++) {
		struct ns_inode *in;

		if (d == a)
			return true;
		if (d == NS_ROOT_INO)
			return false;
		in = ns_inode_find(ns, d);
		if (!in)
			return false;
		d = parent_of(in);
	}
	return true; /* a cycle: refuse */
}

/*
 * lock_parents - the VFS's lock_rename(): one directory, or two under the rename lock, the
 * ancestor first (else in inode order).
 * Return: 0; NS_WAIT.
 */
static int lock_parents(struct ns *ns, struct ns_ctx *c, struct lockset *ls, struct ns_inode *od,
			struct ns_inode *nd)
{
	struct ns_inode *first = od, *second = nd;
	int rc;

	if (od == nd)
		return ls_lock(ns, c, ls, od);
	/* Held only for in-memory checks and the transaction: never waited on for long. */
	pthread_mutex_lock(&ns->rename_lock);
	ls->rename = true;
	rcu_read_begin();
	if (is_ancestor(ns, nd->ino, od->ino) ||
	    (!is_ancestor(ns, od->ino, nd->ino) && nd->ino < od->ino)) {
		first = nd;
		second = od;
	}
	rcu_read_end();
	rc = ls_lock(ns, c, ls, first);
	if (rc == 0)
		rc = ls_lock(ns, c, ls, second);
	return rc;
}

/* lock_children - the two children in inode order (@b may be NULL). */
static int lock_children(struct ns *ns, struct ns_ctx *c, struct lockset *ls, struct ns_inode *a,
			 struct ns_inode *b)
{
	int rc;

	if (b && b->ino < a->ino) {
		struct ns_inode *t = a;

		a = b;
		b = t;
	}
	rc = ls_lock(ns, c, ls, a);
	if (rc == 0 && b)
		rc = ls_lock(ns, c, ls, b);
	return rc;
}

/*
 * rename_check - what a rename of @src (in @od) to the place of @dst (in @nd, may be NULL)
 * must pass, everything locked: permissions, kinds, and no directory into its own subtree.
 */
static int rename_check(struct ns *ns, struct ns_ctx *c, struct ns_inode *od, struct ns_inode *nd,
			struct ns_inode *src, struct ns_inode *dst, unsigned flags)
{
	bool exchange = flags & NS_RENAME_EXCHANGE;
	struct ns_attr oda, nda, sa, dsa;
	int rc;

	if (exchange && !dst)
		return -ENOENT;
	if (flags & NS_RENAME_NOREPLACE && dst)
		return -EEXIST;
	ns_fill_attr(od, &oda);
	ns_fill_attr(nd, &nda);
	ns_fill_attr(src, &sa);
	if (dst)
		ns_fill_attr(dst, &dsa);
	rc = ns_may_delete(c->cred, &oda, ns_inode_acl(od, false), &sa);
	if (rc == 0)
		rc = dst ? ns_may_delete(c->cred, &nda, ns_inode_acl(nd, false), &dsa)
			 : ns_may_create(c->cred, &nda, ns_inode_acl(nd, false));
	/* A directory that changes parent has its ".." rewritten: write permission on it. */
	if (rc == 0 && od != nd && S_ISDIR(src->type))
		rc = ns_inode_permission(c->cred, src, &sa, NS_MAY_WRITE);
	if (rc == 0 && od != nd && exchange && S_ISDIR(dst->type))
		rc = ns_inode_permission(c->cred, dst, &dsa, NS_MAY_WRITE);
	if (rc)
		return rc;
	if (od != nd) {
		/* A directory never moves into itself or below itself. */
		rcu_read_begin();
		if ((S_ISDIR(src->type) && is_ancestor(ns, src->ino, nd->ino)) ||
		    (exchange && S_ISDIR(dst->type) && is_ancestor(ns, dst->ino, od->ino)))
			rc = -EINVAL;
		rcu_read_end();
		if (rc)
			return rc;
	}
	if (dst && !exchange) {
		if (S_ISDIR(src->type) && !S_ISDIR(dst->type))
			return -ENOTDIR;
		if (!S_ISDIR(src->type) && S_ISDIR(dst->type))
			return -EISDIR;
		if (S_ISDIR(dst->type) && dst->nr_entries)
			return -ENOTEMPTY;
	}
	return 0;
}

/* rename_records - the transaction of a checked rename. Locking: everything it names. */
static void rename_records(struct mlog_tx *tx, struct ns_inode *od, const char *oname,
			   struct ns_inode *nd, const char *nname, struct ns_inode *src,
			   struct ns_inode *dst, bool keep_dst, unsigned flags, int64_t now)
{
	bool exchange = flags & NS_RENAME_EXCHANGE;
	int src_dir = S_ISDIR(src->type), dst_dir = dst && S_ISDIR(dst->type);
	int od_delta, nd_delta;
	struct fmt_inode fi;

	add_dirent_del(tx, od->ino, oname);
	if (dst)
		add_dirent_del(tx, nd->ino, nname);
	if (dst && !exchange && keep_dst)
		add_link_dropped(tx, dst, now);
	else if (dst && !exchange)
		add_inode_del(tx, dst->ino);
	add_dirent(tx, nd->ino, src->ino, nname);
	if (exchange)
		add_dirent(tx, od->ino, dst->ino, oname);
	/* Moved directories get their new parent; both get a new ctime. */
	ns_inode_rec_now(src, &fi);
	fi.parent = src_dir ? nd->ino : 0;
	fi.ctime = now;
	add_inode(tx, &fi);
	if (exchange) {
		ns_inode_rec_now(dst, &fi);
		fi.parent = dst_dir ? od->ino : 0;
		fi.ctime = now;
		add_inode(tx, &fi);
	}
	/* Subdirectory counts of the two parents. */
	if (exchange) {
		od_delta = dst_dir - src_dir;
		nd_delta = src_dir - dst_dir;
	} else {
		od_delta = -src_dir;
		nd_delta = src_dir - dst_dir;
	}
	if (od == nd) {
		add_dir_changed(tx, od, od_delta + nd_delta, now);
	} else {
		add_dir_changed(tx, od, od_delta, now);
		add_dir_changed(tx, nd, nd_delta, now);
	}
}

static int rename_names(struct ns *ns, struct ns_ctx *c, uint64_t odir, const char *oname,
			uint64_t ndir, const char *nname, unsigned flags)
{
	struct ns_inode *od = NULL, *nd = NULL, *src = NULL, *dst = NULL;
	struct lockset ls = {.n = 0};
	struct ns_hold *hold = NULL;
	bool replace, keep_dst, locked_pages = false;
	struct mlog_tx tx;
	int64_t now = now_ns();
	int rc;

	rc = get_dir(ns, odir, &od);
	if (rc == 0)
		rc = get_dir(ns, ndir, &nd);
	if (rc == 0)
		rc = lock_parents(ns, c, &ls, od, nd);
	if (rc)
		goto out;
	if (dying(od) || dying(nd)) {
		rc = -ENOENT;
		goto out;
	}
	src = child(ns, odir, oname);
	dst = child(ns, ndir, nname);
	if (!src) {
		rc = -ENOENT;
		goto out;
	}
	if (flags & NS_RENAME_NOREPLACE && dst) {
		rc = -EEXIST; /* the same file too, as renameat2() */
		goto out;
	}
	if (dst == src)
		goto out; /* the same file: nothing to do */
	rc = lock_children(ns, c, &ls, src, dst);
	if (rc == 0)
		rc = rename_check(ns, c, od, nd, src, dst, flags);
	replace = dst && !(flags & NS_RENAME_EXCHANGE);
	/* A replaced file with another name, or open, stays; only its name goes. */
	keep_dst = replace && !S_ISDIR(dst->type) && (inode_nlink(dst) > 1 || dst->opens);
	/* The replaced file's mappers let go before its blocks do. */
	if (rc == 0 && replace && !S_ISDIR(dst->type) && !keep_dst)
		rc = ns_break_leases(ns, c, dst, 0, NS_PAGES_MAX, &hold);
	if (rc)
		goto out;
	if (replace && !S_ISDIR(dst->type) && !keep_dst) {
		ns_lock_pages(dst, 0, NS_PAGES_MAX);
		locked_pages = true;
	}
	mlog_tx_init(&tx);
	rename_records(&tx, od, oname, nd, nname, src, dst, keep_dst, flags, now);
	rc = ns_tx_run_held(ns, c->cred, &tx, hold);
	hold = NULL;
	mlog_tx_release(&tx);
	if (rc && locked_pages)
		ns_unlock_pages(dst, 0, NS_PAGES_MAX);
out:
	ns_hold_put(ns, hold);
	ls_unlock(ns, &ls);
	ns_inode_put(ns, dst);
	ns_inode_put(ns, src);
	ns_inode_put(ns, nd);
	ns_inode_put(ns, od);
	return rc;
}

int ns_rename(struct ns *ns, struct ns_ctx *c, uint64_t odir, const char *oname, uint64_t ndir,
	      const char *nname, unsigned flags)
{
	struct ns_ctx local;
	int64_t rc;

	if (flags & ~(unsigned)(NS_RENAME_NOREPLACE | NS_RENAME_EXCHANGE) ||
	    (flags & NS_RENAME_NOREPLACE && flags & NS_RENAME_EXCHANGE))
		return -EINVAL;
	rc = check_name(oname);
	if (rc == 0)
		rc = check_name(nname);
	if (rc == 0)
		rc = ns_writable(ns);
	if (rc)
		return (int)rc;
	c = ns_ctx_enter(ns, c, &local);
	do
		rc = rename_names(ns, c, odir, oname, ndir, nname, flags);
	while (ns_ctx_again(ns, c, rc));
	return (int)ns_ctx_leave(ns, c, &local, rc);
}

/* --- setattr --- */

/* chmod_acl - the XATTR_SET of @in's access ACL after chmod to @mode. Locking: inode lock. */
static int chmod_acl(struct ns_inode *in, uint32_t mode, struct mlog_tx *tx)
{
	struct ns_acl *acl = ns_acl_dup(ns_inode_acl(in, false));
	int rc;

	if (!acl)
		return -ENOMEM;
	rc = ns_acl_chmod(acl, mode);
	if (rc == 0)
		rc = ns_tx_add_acl(tx, in->ino, false, acl);
	free(acl);
	return rc;
}

static int setattr_inode(struct ns *ns, struct ns_ctx *c, uint64_t ino,
			 const struct ns_setattr *want, struct ns_attr *out)
{
	uint64_t locked_from = UINT64_MAX;
	struct ns_hold *hold = NULL;
	struct ns_setattr sa;
	struct ns_inode *in;
	struct fmt_inode *fi;
	struct ns_attr a;
	struct mlog_tx tx;
	int64_t now = now_ns();
	int rc;

	in = ns_inode_get(ns, ino);
	if (!in)
		return -ENOENT;
	rc = ns_ilock(ns, c, in);
	if (rc) {
		ns_inode_put(ns, in);
		return rc;
	}
	mlog_tx_init(&tx);
	ns_fill_attr(in, &a);
	rc = dying(in) ? -ENOENT : ns_may_setattr(c->cred, &a, ns_inode_acl(in, false), want, &sa);
	if (rc == 0 && sa.valid & NS_SET_SIZE) {
		/* Zeroes what a grow exposes; a shrink breaks leases and adds its UNMAP. */
		rc = sa.size > NS_FILE_SIZE_MAX
			     ? -EFBIG
			     : ns_truncate_prepare(ns, c, in, sa.size, &tx, &hold, &locked_from);
	}
	/* chmod of an inode with an access ACL rewrites the ACL's mask (acl(5)). */
	if (rc == 0 && sa.valid & NS_SET_MODE && ns_inode_acl(in, false))
		rc = chmod_acl(in, sa.mode, &tx);
	if (rc)
		goto out;
	fi = mlog_tx_add(&tx, FMT_REC_INODE, sizeof(*fi));
	if (fi) {
		ns_inode_rec_now(in, fi);
		if (sa.valid & NS_SET_MODE)
			fi->mode = (fi->mode & ~07777U) | sa.mode;
		if (sa.valid & NS_SET_UID)
			fi->uid = sa.uid;
		if (sa.valid & NS_SET_GID)
			fi->gid = sa.gid;
		if (sa.valid & NS_SET_SIZE) {
			if (sa.size != fi->size)
				fi->mtime = now;
			fi->size = sa.size;
		}
		if (sa.valid & NS_SET_ATIME)
			fi->atime = sa.atime;
		if (sa.valid & NS_SET_MTIME)
			fi->mtime = sa.mtime;
		if (sa.valid & NS_SET_ATIME_NOW)
			fi->atime = now;
		if (sa.valid & NS_SET_MTIME_NOW)
			fi->mtime = now;
		fi->ctime = now;
	}
	rc = ns_tx_run_held(ns, c->cred, &tx, hold);
	hold = NULL;
	if (rc && locked_from != UINT64_MAX)
		ns_unlock_pages(in, locked_from, NS_PAGES_MAX);
	if (rc == 0 && out)
		ns_fill_attr(in, out);
out:
	ns_hold_put(ns, hold);
	mlog_tx_release(&tx);
	ns_iunlock(in);
	ns_inode_put(ns, in);
	return rc;
}

int ns_setattr(struct ns *ns, struct ns_ctx *c, uint64_t ino, const struct ns_setattr *sa,
	       struct ns_attr *out)
{
	struct ns_ctx local;
	int64_t rc;

	if (sa->valid &
		    ~(unsigned)(NS_SET_MODE | NS_SET_UID | NS_SET_GID | NS_SET_SIZE | NS_SET_ATIME |
				NS_SET_MTIME | NS_SET_ATIME_NOW | NS_SET_MTIME_NOW) ||
	    (sa->valid & NS_SET_ATIME && sa->valid & NS_SET_ATIME_NOW) ||
	    (sa->valid & NS_SET_MTIME && sa->valid & NS_SET_MTIME_NOW))
		return -EINVAL;
	if (sa->valid & NS_SET_MODE && sa->mode & ~07777U)
		return -EINVAL;
	rc = ns_writable(ns);
	if (rc)
		return (int)rc;
	c = ns_ctx_enter(ns, c, &local);
	do
		rc = setattr_inode(ns, c, ino, sa, out);
	while (ns_ctx_again(ns, c, rc));
	return (int)ns_ctx_leave(ns, c, &local, rc);
}

/* --- opens and orphans --- */

static int open_inode(struct ns *ns, struct ns_ctx *c, uint64_t ino)
{
	struct ns_inode *in = ns_inode_get(ns, ino);
	int rc;

	if (!in)
		return -ENOENT;
	rc = ns_ilock(ns, c, in);
	if (rc == 0) {
		if (dying(in) || S_ISDIR(in->type))
			rc = dying(in) ? -ENOENT : -EISDIR;
		else
			in->opens++;
		ns_iunlock(in);
	}
	ns_inode_put(ns, in);
	return rc;
}

int ns_open(struct ns *ns, struct ns_ctx *c, uint64_t ino)
{
	return ns_ctx_run_ino(ns, c, ino, open_inode);
}

/*
 * remove_orphan - @in, locked, lost its last name and its last open: remove it (its mappers
 * let go first, as for unlink). Return: 0; NS_WAIT; a transaction's error.
 */
static int remove_orphan(struct ns *ns, struct ns_ctx *c, struct ns_inode *in)
{
	struct ns_hold *hold = NULL;
	struct mlog_tx tx;
	int rc;

	rc = ns_break_leases(ns, c, in, 0, NS_PAGES_MAX, &hold);
	if (rc)
		return rc;
	ns_lock_pages(in, 0, NS_PAGES_MAX);
	mlog_tx_init(&tx);
	add_inode_del(&tx, in->ino);
	/* The engine's own removal: the reserve is there for it. */
	rc = ns_tx_run_held(ns, NULL, &tx, hold);
	mlog_tx_release(&tx);
	if (rc)
		ns_unlock_pages(in, 0, NS_PAGES_MAX);
	return rc;
}

/* is_orphan - @in (locked) has no name and no open left. */
static bool is_orphan(struct ns_inode *in)
{
	return !dying(in) && !S_ISDIR(in->type) && in->opens == 0 && inode_nlink(in) == 0;
}

/* close_inode - drop one open of @ino (parks, before dropping it, for its lock). */
static int close_inode(struct ns *ns, struct ns_ctx *c, uint64_t ino)
{
	struct ns_inode *in = ns_inode_get(ns, ino);
	int rc;

	if (!in)
		return -ENOENT;
	rc = ns_ilock(ns, c, in);
	if (rc == 0) {
		if (in->opens == 0 || dying(in))
			rc = -ENOENT;
		else
			in->opens--;
		if (rc == 0 && is_orphan(in))
			rc = 1;
		ns_iunlock(in);
	}
	ns_inode_put(ns, in);
	return rc;
}

int ns_close(struct ns *ns, struct ns_ctx *c, uint64_t ino)
{
	return ns_ctx_run_ino(ns, c, ino, close_inode);
}

static int remove_orphan_ino(struct ns *ns, struct ns_ctx *c, uint64_t ino)
{
	struct ns_inode *in = ns_inode_get(ns, ino);
	int rc;

	if (!in)
		return 0; /* gone already */
	rc = ns_ilock(ns, c, in);
	if (rc == 0) {
		if (is_orphan(in) && !ns_writable(ns))
			rc = remove_orphan(ns, c, in);
		ns_iunlock(in);
	}
	ns_inode_put(ns, in);
	return rc;
}

int ns_remove_orphan(struct ns *ns, struct ns_ctx *c, uint64_t ino)
{
	return ns_ctx_run_ino(ns, c, ino, remove_orphan_ino);
}

int ns_remove_orphans(struct ns *ns)
{
	struct cds_lfht_iter it;
	struct ns_inode *in;
	uint64_t *v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	rcu_read_begin();
	cds_lfht_for_each_entry (ns->inodes, &it, in, hnode) {
		RCU_TSAN_ACQUIRE(in); /* as a lookup's match does (inode.c) */
		if (S_ISDIR(in->type) || inode_nlink(in) != 0)
			continue;
		if (n == cap) {
			uint64_t *p = realloc(v, (cap = cap ? 2 * cap : 16) * sizeof(*v));

			if (!p) {
				rc = -ENOMEM;
				break;
			}
			v = p;
		}
		v[n++] = in->ino;
	}
	rcu_read_end();
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct mlog_tx tx;

		mlog_tx_init(&tx);
		add_inode_del(&tx, v[i]);
		rc = ns_tx_run(ns, NULL, &tx);
		mlog_tx_release(&tx);
	}
	free(v);
	return rc ? rc : (int)MIN(n, (size_t)INT32_MAX);
}
