// SPDX-License-Identifier: MIT
/*
 * Lookups: attributes, one name, directory listings, and the one path walker every caller
 * uses (the daemon's requests by path, the tests). All run under RCU with no lock, and see
 * only what is durable (tx.c applies records after their commit). Search permission is
 * checked on every directory a walk looks up in (DESIGN §7).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nsint.h"
#include "util.h"

/*
 * fill_stable - @in's attributes as no transaction is being applied to it (nsint.h).
 * Locking: RCU read side. Return: false when @in went meanwhile (removed).
 */
static bool fill_stable(struct ns_inode *in, struct ns_attr *out)
{
	uint32_t seq;

	do {
		seq = ns_seq_begin(in);
		ns_fill_attr(in, out);
	} while (ns_seq_retry(in, seq));
	return !__atomic_load_n(&in->dying, __ATOMIC_ACQUIRE);
}

int ns_getattr(struct ns *ns, uint64_t ino, struct ns_attr *out)
{
	struct ns_inode *in;
	int rc = -ENOENT;

	rcu_read_begin();
	in = ns_inode_find(ns, ino);
	if (in && fill_stable(in, out))
		rc = 0;
	rcu_read_end();
	return rc;
}

/*
 * lookup_in - the inode @name (@len bytes) in directory @d names, if @cred may search @d,
 * and (@attr not NULL) its attributes, as one moment saw them: the name still named that
 * inode when they were read (no rename or unlink in @d meanwhile), so a concurrent rename
 * never shows an inode under a name it had left, or no inode under a name it replaced.
 * Locking: RCU read side.
 */
static int lookup_in(struct ns *ns, const struct ns_cred *cred, struct ns_inode *d,
		     const char *name, size_t len, struct ns_inode **out, struct ns_attr *attr)
{
	struct ns_dirent *de;
	struct ns_attr da;
	uint32_t seq;
	int rc;

	if (!S_ISDIR(d->type))
		return -ENOTDIR;
	/* All of a transaction that changes @d's entries, or none of it (a rename's two names). */
	do {
		seq = ns_seq_begin(d);
		ns_fill_attr(d, &da);
		rc = ns_permission(cred, &da, ns_inode_acl(d, false), NS_MAY_EXEC);
		if (rc == 0)
			rc = fmt_valid_name(name, len);
		if (rc)
			continue;
		de = ns_dirent_find(ns, d->ino, name, len);
		*out = de ? ns_inode_find(ns, de->ino) : NULL;
		rc = *out ? 0 : -ENOENT;
		if (rc == 0 && attr && !fill_stable(*out, attr))
			rc = -ENOENT;
	} while (ns_seq_retry(d, seq));
	return rc;
}

int ns_lookup(struct ns *ns, struct ns_ctx *c, uint64_t dir, const char *name, struct ns_attr *out)
{
	struct ns_inode *d, *in;
	int rc = -ENOENT;

	rcu_read_begin();
	d = ns_inode_find(ns, dir);
	if (d)
		rc = lookup_in(ns, c ? c->cred : NULL, d, name, strlen(name), &in, out);
	rcu_read_end();
	return rc;
}

/*
 * link_target - the target of symbolic link @in into @buf (at least FMT_SYMLINK_MAX + 1
 * bytes), NUL-terminated: inline, or read SIGBUS-safely from its block.
 * Locking: RCU read side. Return: its length; -EIO (poisoned or lost); -ENOENT.
 */
static ssize_t link_target(struct ns *ns, struct ns_inode *in, char *buf)
{
	const char *t = rcu_fetch(in->link);
	uint64_t len = ns_inode_size(in), first;
	xt_entry e;

	if (len == 0 || len > FMT_SYMLINK_MAX)
		return -EIO;
	if (t) {
		memcpy(buf, t, len);
	} else {
		e = __xt_load(&in->map, 0, &first, NULL); /* under RCU: may be stale, is whole */
		if (!xt_is_value(e) || bm_is_hole(e) || bm_is_poison(e) ||
		    region_read(ns->r, buf, region_at(ns->r, bm_to_block(e) * FMT_BLOCK_SIZE), len,
				NULL))
			return -EIO;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

ssize_t ns_readlink(struct ns *ns, uint64_t ino, char *buf, size_t size)
{
	char target[FMT_SYMLINK_MAX + 1];
	struct ns_inode *in;
	ssize_t n;

	rcu_read_begin();
	in = ns_inode_find(ns, ino);
	if (!in)
		n = -ENOENT;
	else if (!S_ISLNK(in->type))
		n = -EINVAL;
	else
		n = link_target(ns, in, target);
	rcu_read_end();
	if (n < 0)
		return n;
	/* As readlink(2): truncated to @size, no NUL. */
	n = MIN(n, (ssize_t)size);
	memcpy(buf, target, (size_t)n);
	return n;
}

#define LINKS_MAX 40 /* symbolic links one walk follows, as Linux (ELOOP) */
#define WALK_TRIES 8 /* walks of one path whose end goes meanwhile, before ENOENT */

/* The paths a walk builds from symbolic links' targets (two buffers, used in turn). */
struct walk_bufs {
	char *buf[2];
	unsigned cur, links;
};

/*
 * splice - the walk met symbolic link @in with @rest of the path after it: the path to
 * walk is now its target followed by @rest, in one of @w's buffers.
 * Return: 0 and *@p; -ELOOP; -ENAMETOOLONG; -EIO; -ENOMEM.
 */
static int splice(struct ns *ns, struct ns_inode *in, const char *rest, struct walk_bufs *w,
		  const char **p)
{
	char target[FMT_SYMLINK_MAX + 1];
	size_t rlen = strlen(rest);
	ssize_t tlen;
	char *dst;

	if (++w->links > LINKS_MAX)
		return -ELOOP;
	tlen = link_target(ns, in, target);
	if (tlen < 0)
		return (int)tlen;
	if ((size_t)tlen + rlen + 1 > NS_PATH_MAX)
		return -ENAMETOOLONG;
	w->cur ^= 1;
	if (!w->buf[w->cur]) {
		w->buf[w->cur] = malloc(NS_PATH_MAX);
		if (!w->buf[w->cur])
			return -ENOMEM;
	}
	dst = w->buf[w->cur];
	/* @rest is empty or starts with its '/'. */
	memcpy(dst, target, (size_t)tlen);
	memcpy(dst + tlen, rest, rlen + 1);
	*p = dst;
	return 0;
}

int ns_walk(struct ns *ns, struct ns_ctx *c, const char *path, unsigned flags, struct ns_path *out)
{
	const struct ns_cred *cred = c ? c->cred : NULL;
	size_t plen = strnlen(path, NS_PATH_MAX);
	struct walk_bufs w = {{NULL, NULL}, 0, 0};
	struct ns_inode *cur, *root;
	bool last; /* out->attr holds cur's attributes (its lookup filled them) */
	unsigned tries = 0;
	const char *p;
	int rc;

	if (plen >= NS_PATH_MAX)
		return -ENAMETOOLONG;
	if (path[0] != '/')
		return -EINVAL;
	rcu_read_begin();
again:
	p = path;
	w.links = 0;
	rc = 0;
	last = false;
	cur = root = ns_inode_find(ns, NS_ROOT_INO);
	if (!cur) {
		rc = -ENOENT;
		goto out;
	}
	for (;;) {
		const char *comp, *q;
		struct ns_inode *next;
		size_t len;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		comp = p;
		while (*p && *p != '/')
			p++;
		len = (size_t)(p - comp);
		if (len > NS_NAME_MAX) {
			rc = -ENAMETOOLONG;
			break;
		}
		if ((len == 1 && comp[0] == '.') ||
		    (len == 2 && comp[0] == '.' && comp[1] == '.')) {
			rc = -EINVAL;
			break;
		}
		if (!S_ISDIR(cur->type)) {
			rc = -ENOTDIR;
			break;
		}
		for (q = p; *q == '/'; q++)
			;
		if (flags & NS_WALK_PARENT && !*q) {
			/* The last component: its directory is the answer. */
			memcpy(out->name, comp, len);
			out->name[len] = '\0';
			out->slash = *p == '/';
			goto found;
		}
		/* The last component's attributes come with its name (lookup_in). */
		rc = lookup_in(ns, cred, cur, comp, len, &next, *q ? NULL : &out->attr);
		if (rc)
			break;
		/*
		 * A symbolic link is followed, but as the last component without a slash after
		 * it when the caller asks for the link itself (NS_WALK_NOFOLLOW).
		 */
		if (S_ISLNK(next->type) && (*q || *p == '/' || !(flags & NS_WALK_NOFOLLOW))) {
			rc = splice(ns, next, p, &w, &p);
			if (rc)
				break;
			/* An absolute target starts from the root (of this file system). */
			if (*p == '/')
				cur = root;
			continue;
		}
		/* "file/" asks for a directory. */
		if (*p == '/' && !S_ISDIR(next->type)) {
			rc = -ENOTDIR;
			break;
		}
		cur = next;
		last = !*q;
	}
	if (rc == 0 && flags & NS_WALK_PARENT)
		rc = -EINVAL;				       /* the root has no parent */
	if (rc == 0 && !last && !fill_stable(cur, &out->attr)) /* "/": the root */
		rc = -ENOENT;
	/* A directory on the way went meanwhile (a rename replaced it): walk again. */
	if (rc == -ENOENT && __atomic_load_n(&cur->dying, __ATOMIC_ACQUIRE) && ++tries < WALK_TRIES)
		goto again;
	goto out;
found:
	/*
	 * What the walk ends on went after its lookup: removed, or replaced by a rename. The
	 * name may never have been missing (POSIX's rename replaces atomically), so the answer
	 * is not ENOENT but what a walk from now finds.
	 */
	if (rc == 0 && !fill_stable(cur, &out->attr)) {
		if (++tries < WALK_TRIES)
			goto again;
		rc = -ENOENT;
	}
out:
	rcu_read_end();
	free(w.buf[0]);
	free(w.buf[1]);
	return rc;
}

int ns_readdir(struct ns *ns, struct ns_ctx *c, uint64_t dir, uint64_t cookie, ns_readdir_fn fn,
	       void *ctx)
{
	struct ns_inode *d;
	struct ns_attr da;
	uint64_t i;
	unsigned order;
	xt_entry e;
	int rc = 0;

	d = ns_inode_get(ns, dir);
	if (!d)
		return -ENOENT;
	if (!S_ISDIR(d->type)) {
		ns_inode_put(ns, d);
		return -ENOTDIR;
	}
	ns_fill_attr(d, &da);
	rc = ns_inode_permission(c ? c->cred : NULL, d, &da, NS_MAY_READ);
	if (rc) {
		ns_inode_put(ns, d);
		return rc;
	}
	rcu_read_begin();
	xt_for_each (&d->map, i, order, e, cookie, XT_INDEX_MAX) {
		struct ns_dirent *de = xt_to_ptr(e);
		char name[NS_NAME_MAX + 1];
		uint64_t ino = de->ino;
		uint32_t mode = de->mode;

		memcpy(name, de->name, de->name_len + 1);
		/* Call out of the read section: @fn may take its time. */
		rcu_read_end();
		rc = fn(ctx, name, ino, mode, i + 1);
		rcu_read_begin();
		if (rc)
			break;
	}
	rcu_read_end();
	ns_inode_put(ns, d);
	return rc;
}

int ns_access(struct ns *ns, struct ns_ctx *c, uint64_t ino, unsigned mask)
{
	struct ns_inode *in;
	struct ns_attr a;
	int rc = -ENOENT;

	rcu_read_begin();
	in = ns_inode_find(ns, ino);
	if (in && fill_stable(in, &a))
		rc = ns_permission(c ? c->cred : NULL, &a, ns_inode_acl(in, false), mask);
	rcu_read_end();
	return rc;
}
