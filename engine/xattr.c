// SPDX-License-Identifier: MIT
/*
 * Extended attributes (format version 2): the user, trusted and security namespaces and the
 * two POSIX ACLs, with the rules and limits Linux applies (xattr(7), acl(5)):
 *
 *  - names are 1..255 bytes with a known prefix (else EOPNOTSUPP; an empty one ERANGE, a
 *    prefix alone EINVAL); values at most 64 KiB (E2BIG); a too small buffer ERANGE;
 *  - user.* only on files and directories (others: EPERM to write, ENODATA to read), read
 *    with read permission, written with write permission, and in a sticky directory only
 *    by its owner;
 *  - trusted.* only by the super user (others do not even see them listed);
 *    security.* read by anyone, written by the super user;
 *  - system.posix_acl_access and _default: valid ACLs (EINVAL), set by the owner (EPERM),
 *    not on symbolic links (EOPNOTSUPP), a default ACL only on a directory (EACCES). An
 *    access ACL sets the mode too, and is not kept when the mode says it all.
 *
 * An inode holds at most XATTR_INODE_MAX bytes of names and values, and names whose list
 * fits XATTR_LIST_MAX (ENOSPC beyond, as a full ext4 inode says). Every change is one
 * transaction: its XATTR_SET (in chunks) or XATTR_DEL records and the inode's new ctime,
 * under the inode lock. In memory an inode's attributes are an immutable set (nsint.h)
 * replaced whole, so readers take no lock.
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

#define XATTR_INODE_MAX (256U << 10)
#define XATTR_LIST_MAX 65536U

enum xns {
	XNS_USER,
	XNS_TRUSTED,
	XNS_SECURITY,
	XNS_ACL_ACCESS,
	XNS_ACL_DEFAULT,
};

static const char acl_access_name[] = "system.posix_acl_access";
static const char acl_default_name[] = "system.posix_acl_default";

static bool has_prefix(const char *name, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(name, prefix, n) == 0;
}

/*
 * classify - which namespace @name (@len bytes) is in.
 * Return: 0; -ERANGE (empty or longer than 255); -EINVAL (a prefix alone); -EOPNOTSUPP.
 */
static int classify(const char *name, size_t len, enum xns *out)
{
	static const struct {
		const char *prefix;
		enum xns ns;
	} prefixes[] = {
		{"user.", XNS_USER},
		{"trusted.", XNS_TRUSTED},
		{"security.", XNS_SECURITY},
	};

	if (len == 0 || len > FMT_XATTR_NAME_MAX)
		return -ERANGE;
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		if (!has_prefix(name, len, prefixes[i].prefix))
			continue;
		if (len == strlen(prefixes[i].prefix))
			return -EINVAL;
		*out = prefixes[i].ns;
		return 0;
	}
	if (len == strlen(acl_access_name) && memcmp(name, acl_access_name, len) == 0) {
		*out = XNS_ACL_ACCESS;
		return 0;
	}
	if (len == strlen(acl_default_name) && memcmp(name, acl_default_name, len) == 0) {
		*out = XNS_ACL_DEFAULT;
		return 0;
	}
	return -EOPNOTSUPP;
}

/* name_cmp - the order of a set: by bytes, then by length. */
static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, MIN(alen, blen));

	return c ? c : (alen > blen) - (alen < blen);
}

/* xfind - the attribute @name of set @x, or NULL (binary search). */
static const struct ns_xattr *xfind(const struct ns_xattrs *x, const char *name, size_t len)
{
	uint32_t lo = 0, hi = x ? x->n : 0;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(name, len, x->v[mid].name, x->v[mid].name_len);

		if (c == 0)
			return &x->v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* set_acls - parse the ACLs of @x into its cache. Return: 0; -EINVAL; -ENOMEM. */
static int set_acls(struct ns_xattrs *x)
{
	const struct ns_xattr *a = xfind(x, acl_access_name, strlen(acl_access_name));
	const struct ns_xattr *d = xfind(x, acl_default_name, strlen(acl_default_name));
	int rc = 0;

	if (a)
		rc = ns_acl_from_xattr(a->value, a->value_len, &x->acl_access);
	if (rc == 0 && d)
		rc = ns_acl_from_xattr(d->value, d->value_len, &x->acl_default);
	return rc;
}

/* xcopy - @e becomes a copy of @name and @value. Return: 0, -ENOMEM. */
static int xcopy(struct ns_xattr *e, const char *name, size_t name_len, const void *value,
		 size_t value_len)
{
	e->name_len = (uint16_t)name_len;
	e->value_len = (uint32_t)value_len;
	e->name = strndup(name, name_len);
	e->value = malloc(MAX(value_len, (size_t)1));
	if (!e->name || !e->value)
		return -ENOMEM;
	memcpy(e->value, value, value_len);
	return 0;
}

int ns_xattr_put(struct ns *ns, struct ns_inode *in, const char *name, size_t name_len,
		 const void *value, size_t value_len)
{
	struct ns_xattrs *old = in->xattrs, *x;
	uint32_t n = old ? old->n : 0, k = 0;
	bool found = xfind(old, name, name_len) != NULL, added = !value;
	int rc = 0;

	(void)ns;
	if (!value && !found)
		return -ENODATA;
	x = calloc(1, sizeof(*x) + (n + 1) * sizeof(x->v[0]));
	if (!x)
		return -ENOMEM;
	/* The old set in order, with @name replaced, added in its place, or left out. */
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		const struct ns_xattr *o = &old->v[i];
		int cmp = name_cmp(name, name_len, o->name, o->name_len);

		if (!added && cmp <= 0) {
			rc = xcopy(&x->v[k++], name, name_len, value, value_len);
			added = true;
		}
		if (cmp != 0 && rc == 0)
			rc = xcopy(&x->v[k++], o->name, o->name_len, o->value, o->value_len);
	}
	if (!added && rc == 0)
		rc = xcopy(&x->v[k++], name, name_len, value, value_len);
	x->n = k;
	for (uint32_t i = 0; i < k; i++) {
		x->list_len += x->v[i].name_len + 1U;
		x->bytes += x->v[i].name_len + (uint64_t)x->v[i].value_len;
	}
	if (rc == 0)
		rc = set_acls(x);
	if (rc) {
		ns_xattrs_destroy(x);
		return rc;
	}
	if (k == 0) {
		ns_xattrs_destroy(x);
		x = NULL;
	}
	rcu_publish(in->xattrs, x);
	ns_xattrs_free(old);
	return 0;
}

const struct ns_acl *ns_inode_acl(struct ns_inode *in, bool def)
{
	const struct ns_xattrs *x = ns_inode_xattrs(in);

	if (!x)
		return NULL;
	return def ? x->acl_default : x->acl_access;
}

int ns_inode_permission(const struct ns_cred *c, struct ns_inode *in, const struct ns_attr *a,
			unsigned mask)
{
	int rc;

	rcu_read_begin();
	rc = ns_permission(c, a, ns_inode_acl(in, false), mask);
	rcu_read_end();
	return rc;
}

/* --- records --- */

void ns_tx_add_xattr(struct mlog_tx *tx, uint64_t ino, const char *name, size_t name_len,
		     const void *value, size_t value_len)
{
	size_t off = 0, max = fmt_xattr_chunk_max(name_len);

	do {
		size_t n = MIN(value_len - off, max);
		struct fmt_xattr *x = mlog_tx_add(tx, FMT_REC_XATTR_SET, sizeof(*x) + name_len + n);

		if (!x)
			return;
		x->ino = ino;
		x->value_len = (uint32_t)value_len;
		x->off = (uint32_t)off;
		x->name_len = (uint16_t)name_len;
		x->chunk_len = (uint16_t)n;
		memcpy(x->data, name, name_len);
		if (n)
			memcpy(x->data + name_len, (const uint8_t *)value + off, n);
		off += n;
	} while (off < value_len);
}

void ns_tx_add_xattr_del(struct mlog_tx *tx, uint64_t ino, const char *name, size_t name_len)
{
	struct fmt_xattr_del *x = mlog_tx_add(tx, FMT_REC_XATTR_DEL, sizeof(*x) + name_len);

	if (x) {
		x->ino = ino;
		x->name_len = (uint16_t)name_len;
		memcpy(x->name, name, name_len);
	}
}

int ns_tx_add_acl(struct mlog_tx *tx, uint64_t ino, bool def, const struct ns_acl *acl)
{
	const char *name = def ? acl_default_name : acl_access_name;
	size_t len = ns_acl_to_xattr(acl, NULL, 0);
	void *buf = malloc(len);

	if (!buf)
		return -ENOMEM;
	ns_acl_to_xattr(acl, buf, len);
	ns_tx_add_xattr(tx, ino, name, strlen(name), buf, len);
	free(buf);
	return tx->err;
}

/* snapshot: the XATTR_SET records of @in (tx.c's checkpoint). */
int ns_snap_xattrs(struct mlog_snap *s, struct ns_inode *in)
{
	const struct ns_xattrs *x = ns_inode_xattrs(in);
	struct mlog_tx tx;
	int rc = 0;

	for (uint32_t i = 0; x && i < x->n && rc == 0; i++) {
		mlog_tx_init(&tx);
		ns_tx_add_xattr(&tx, in->ino, x->v[i].name, x->v[i].name_len, x->v[i].value,
				x->v[i].value_len);
		rc = tx.err;
		for (size_t o = 0; o < tx.used && rc == 0;) {
			const struct fmt_rec *h = (const struct fmt_rec *)(tx.buf + o);

			rc = mlog_snap_add(s, h->type, h + 1, h->len - sizeof(*h));
			o += h->len;
		}
		mlog_tx_release(&tx);
	}
	return rc;
}

/* --- permissions --- */

/*
 * may_access - may @c read (@write false) or write attribute namespace @xns of @in (@a)?
 * Return: 0; -EPERM; -EACCES; -ENODATA (reading what the caller may not see);
 *         -EOPNOTSUPP (an ACL on a symbolic link).
 */
static int may_access(const struct ns_cred *c, struct ns_inode *in, const struct ns_attr *a,
		      enum xns xns, bool write)
{
	bool super = ns_cred_super(c);

	switch (xns) {
	case XNS_TRUSTED:
		if (!super)
			return write ? -EPERM : -ENODATA;
		return 0;
	case XNS_SECURITY:
		return write && !super ? -EPERM : 0;
	case XNS_ACL_ACCESS:
	case XNS_ACL_DEFAULT:
		if (S_ISLNK(a->mode))
			return -EOPNOTSUPP;
		return write && !ns_cred_owns(c, a) ? -EPERM : 0;
	case XNS_USER:
		break;
	}
	if (!S_ISREG(a->mode) && !S_ISDIR(a->mode))
		return write ? -EPERM : -ENODATA;
	if (write && S_ISDIR(a->mode) && a->mode & S_ISVTX && !ns_cred_owns(c, a))
		return -EPERM;
	return ns_inode_permission(c, in, a, write ? NS_MAY_WRITE : NS_MAY_READ);
}

/* --- reading --- */

ssize_t ns_getxattr(struct ns *ns, struct ns_ctx *c, uint64_t ino, const char *name, void *buf,
		    size_t size)
{
	const struct ns_cred *cred = c ? c->cred : NULL;
	size_t len = strnlen(name, FMT_XATTR_NAME_MAX + 1);
	const struct ns_xattr *e;
	struct ns_inode *in;
	struct ns_attr a;
	enum xns xns;
	ssize_t rc;

	rc = classify(name, len, &xns);
	if (rc)
		return rc;
	rcu_read_begin();
	in = ns_inode_find(ns, ino);
	if (!in) {
		rcu_read_end();
		return -ENOENT;
	}
	ns_fill_attr(in, &a);
	rc = may_access(cred, in, &a, xns, false);
	if (rc == 0 && xns == XNS_ACL_DEFAULT && !S_ISDIR(a.mode))
		rc = -ENODATA;
	if (rc == 0) {
		e = xfind(ns_inode_xattrs(in), name, len);
		if (!e)
			rc = -ENODATA;
		else if (size && size < e->value_len)
			rc = -ERANGE;
		else if (size)
			memcpy(buf, e->value, e->value_len);
		if (rc == 0)
			rc = (ssize_t)e->value_len;
	}
	rcu_read_end();
	return rc;
}

ssize_t ns_listxattr(struct ns *ns, struct ns_ctx *c, uint64_t ino, char *buf, size_t size)
{
	const struct ns_cred *cred = c ? c->cred : NULL;
	const struct ns_xattrs *x;
	struct ns_inode *in;
	size_t need = 0;
	ssize_t rc = 0;

	rcu_read_begin();
	in = ns_inode_find(ns, ino);
	if (!in) {
		rcu_read_end();
		return -ENOENT;
	}
	x = ns_inode_xattrs(in);
	for (uint32_t i = 0; x && i < x->n; i++) {
		const struct ns_xattr *e = &x->v[i];

		/* trusted.* is the super user's alone: others do not see the names. */
		if (!ns_cred_super(cred) && has_prefix(e->name, e->name_len, "trusted."))
			continue;
		if (size && need + e->name_len + 1 > size) {
			rc = -ERANGE;
			break;
		}
		if (size)
			memcpy(buf + need, e->name, e->name_len + 1U);
		need += e->name_len + 1U;
	}
	rcu_read_end();
	return rc ? rc : (ssize_t)need;
}

/* --- changing --- */

struct xchange {
	const char *name;
	size_t name_len;
	enum xns xns;
	const void *value; /* NULL: remove */
	size_t size;
	int flags;
};

/*
 * acl_change - what setting (or removing) an ACL does: a valid ACL, the mode an access ACL
 * sets, whether it is kept. Adds the records to @tx and sets *@mode.
 */
static int acl_change(const struct ns_cred *cred, const struct ns_attr *a, const struct xchange *xc,
		      bool present, struct mlog_tx *tx, uint32_t *mode)
{
	struct ns_acl *acl = NULL;
	bool keep = true;
	int rc = 0;

	if (xc->value) {
		rc = ns_acl_from_xattr(xc->value, xc->size, &acl);
		if (rc)
			return rc;
	}
	if (xc->xns == XNS_ACL_DEFAULT && !S_ISDIR(a->mode)) {
		free(acl);
		return acl ? -EACCES : 0;
	}
	if (acl && xc->xns == XNS_ACL_ACCESS)
		rc = ns_acl_update_mode(cred, a->gid, acl, mode, &keep);
	if (rc == 0 && acl && keep)
		rc = ns_tx_add_acl(tx, a->ino, xc->xns == XNS_ACL_DEFAULT, acl);
	else if (rc == 0 && present)
		ns_tx_add_xattr_del(tx, a->ino, xc->name, xc->name_len);
	else if (rc == 0 && !xc->value)
		rc = -ENODATA;
	free(acl);
	return rc;
}

/* room - would @x with @name set to @size bytes (or removed) stay within the limits? */
static bool room(const struct ns_xattrs *x, const struct xchange *xc, const struct ns_xattr *old)
{
	uint64_t bytes = x ? x->bytes : 0, list = x ? x->list_len : 0;

	if (old) {
		bytes -= old->name_len + (uint64_t)old->value_len;
		list -= old->name_len + 1U;
	}
	if (xc->value) {
		bytes += xc->name_len + (uint64_t)xc->size;
		list += xc->name_len + 1U;
	}
	return bytes <= XATTR_INODE_MAX && list <= XATTR_LIST_MAX;
}

static int change_locked(struct ns *ns, struct ns_ctx *c, struct ns_inode *in,
			 const struct xchange *xc)
{
	const struct ns_xattr *old;
	struct fmt_inode *fi;
	struct ns_attr a;
	struct mlog_tx tx;
	uint32_t mode;
	int rc;

	ns_fill_attr(in, &a);
	if (__atomic_load_n(&in->dying, __ATOMIC_ACQUIRE))
		return -ENOENT;
	rc = may_access(c->cred, in, &a, xc->xns, true);
	if (rc)
		return rc;
	old = xfind(ns_inode_xattrs(in), xc->name, xc->name_len);
	if (xc->flags & NS_XATTR_CREATE && old)
		return -EEXIST;
	if ((xc->flags & NS_XATTR_REPLACE || !xc->value) && !old && xc->xns != XNS_ACL_ACCESS &&
	    xc->xns != XNS_ACL_DEFAULT)
		return -ENODATA;
	if (!room(ns_inode_xattrs(in), xc, old))
		return -ENOSPC;
	mlog_tx_init(&tx);
	mode = a.mode;
	if (xc->xns == XNS_ACL_ACCESS || xc->xns == XNS_ACL_DEFAULT)
		rc = acl_change(c->cred, &a, xc, old != NULL, &tx, &mode);
	else if (xc->value)
		ns_tx_add_xattr(&tx, a.ino, xc->name, xc->name_len, xc->value, xc->size);
	else
		ns_tx_add_xattr_del(&tx, a.ino, xc->name, xc->name_len);
	if (rc == 0) {
		fi = mlog_tx_add(&tx, FMT_REC_INODE, sizeof(*fi));
		if (fi) {
			ns_inode_rec_now(in, fi);
			fi->mode = mode;
			fi->ctime = now_ns();
		}
		rc = ns_tx_run(ns, c->cred, &tx);
	}
	mlog_tx_release(&tx);
	return rc;
}

static int change(struct ns *ns, struct ns_ctx *c, uint64_t ino, const struct xchange *xc)
{
	struct ns_inode *in;
	struct ns_ctx local;
	int64_t rc;

	rc = ns_writable(ns);
	if (rc)
		return (int)rc;
	c = ns_ctx_enter(ns, c, &local);
	do {
		in = ns_inode_get(ns, ino);
		if (!in) {
			rc = -ENOENT;
			break;
		}
		rc = ns_ilock(ns, c, in);
		if (rc == 0) {
			rc = change_locked(ns, c, in, xc);
			ns_iunlock(in);
		}
		ns_inode_put(ns, in);
	} while (ns_ctx_again(ns, c, rc));
	return (int)ns_ctx_leave(ns, c, &local, rc);
}

int ns_setxattr(struct ns *ns, struct ns_ctx *c, uint64_t ino, const char *name, const void *value,
		size_t size, int flags)
{
	struct xchange xc = {name, strnlen(name, FMT_XATTR_NAME_MAX + 1), 0, value, size, flags};
	int rc;

	if (flags & ~(NS_XATTR_CREATE | NS_XATTR_REPLACE) ||
	    (flags & NS_XATTR_CREATE && flags & NS_XATTR_REPLACE))
		return -EINVAL;
	rc = classify(name, xc.name_len, &xc.xns);
	if (rc)
		return rc;
	if (size > FMT_XATTR_VALUE_MAX)
		return -E2BIG;
	if (!value) {
		if (size)
			return -EINVAL;
		xc.value = "";
	}
	if (!__atomic_load_n(&ns->posix, __ATOMIC_ACQUIRE))
		return ns_writable(ns) ? -EROFS : -EOPNOTSUPP;
	return change(ns, c, ino, &xc);
}

int ns_removexattr(struct ns *ns, struct ns_ctx *c, uint64_t ino, const char *name)
{
	struct xchange xc = {name, strnlen(name, FMT_XATTR_NAME_MAX + 1), 0, NULL, 0, 0};
	int rc;

	rc = classify(name, xc.name_len, &xc.xns);
	if (rc)
		return rc;
	if (!__atomic_load_n(&ns->posix, __ATOMIC_ACQUIRE))
		return ns_writable(ns) ? -EROFS : -ENODATA;
	return change(ns, c, ino, &xc);
}
