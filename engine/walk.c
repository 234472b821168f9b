// SPDX-License-Identifier: MIT
/*
 * Lookups: attributes, one name, directory listings, and the one path walker every caller
 * uses (the daemon's requests by path, the tests). All run under RCU with no lock, and see
 * only what is durable (tx.c applies records after their commit). Search permission is
 * checked on every directory a walk looks up in (DESIGN §7).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "nsint.h"

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
 * lookup_in - the inode @name (@len bytes) in directory @d names, if @cred may search @d.
 * Locking: RCU read side.
 */
static int lookup_in(struct ns *ns, const struct ns_cred *cred, struct ns_inode *d,
		     const char *name, size_t len, struct ns_inode **out)
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
		rc = ns_permission(cred, &da, NS_MAY_EXEC);
		if (rc == 0)
			rc = fmt_valid_name(name, len);
		if (rc)
			continue;
		de = ns_dirent_find(ns, d->ino, name, len);
		*out = de ? ns_inode_find(ns, de->ino) : NULL;
		rc = *out ? 0 : -ENOENT;
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
		rc = lookup_in(ns, c ? c->cred : NULL, d, name, strlen(name), &in);
	if (rc == 0)
		ns_fill_attr(in, out);
	rcu_read_end();
	return rc;
}

int ns_walk(struct ns *ns, struct ns_ctx *c, const char *path, unsigned flags, struct ns_path *out)
{
	const struct ns_cred *cred = c ? c->cred : NULL;
	size_t plen = strnlen(path, NS_PATH_MAX);
	const char *p = path;
	struct ns_inode *cur;
	int rc = 0;

	if (plen >= NS_PATH_MAX)
		return -ENAMETOOLONG;
	if (p[0] != '/')
		return -EINVAL;
	rcu_read_begin();
	cur = ns_inode_find(ns, NS_ROOT_INO);
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
		rc = lookup_in(ns, cred, cur, comp, len, &next);
		if (rc)
			break;
		/* "file/" asks for a directory. */
		if (*p == '/' && !S_ISDIR(next->type)) {
			rc = -ENOTDIR;
			break;
		}
		cur = next;
	}
	if (rc == 0 && flags & NS_WALK_PARENT)
		rc = -EINVAL; /* the root has no parent */
found:
	if (rc == 0 && !fill_stable(cur, &out->attr))
		rc = -ENOENT;
out:
	rcu_read_end();
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
	rc = ns_permission(c ? c->cred : NULL, &da, NS_MAY_READ);
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
