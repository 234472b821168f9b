// SPDX-License-Identifier: MIT
/*
 * The FUSE frontend's operations (docs/fuse.md): each calls the engine with the caller's
 * credentials, or with those of the file handle it acts on. Calls that never park (lookups,
 * getattr, readdir, read, statfs: RCU readers) run on the FUSE thread; the others go
 * through a fop (fuse-fop.c), which parks them when the engine must wait.
 *
 * Every POSIX object of format version 2 passes through: hard and symbolic links, fifos,
 * sockets and devices, extended attributes and POSIX ACLs (the kernel checks them itself,
 * FUSE_CAP_POSIX_ACL with default_permissions, and passes the umask for the engine to
 * apply when the directory has no default ACL). A file unlinked while open is an orphan in
 * the engine until its last release. On a version 1 region mounted read-only the new
 * objects answer EROFS.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <time.h>

#include "fuse-int.h"
#include "log.h"
#include "util.h"

#define BLOCK 4096u

static struct fmount *mnt(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct fh *fh_of(const struct fuse_file_info *fi)
{
	return (struct fh *)(uintptr_t)fi->fh;
}

/* errno_of - what to tell the kernel for an engine result that is not 0. */
static int errno_of(int64_t rc)
{
	return rc < 0 && rc > -4096 ? (int)-rc : EIO;
}

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

void fm_to_stat(const struct ns_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_size = (off_t)a->size;
	st->st_rdev = (dev_t)a->rdev;
	st->st_blocks = (blkcnt_t)(a->blocks * (BLOCK / 512));
	st->st_blksize = BLOCK;
	st->st_atim.tv_sec = a->atime / 1000000000;
	st->st_atim.tv_nsec = a->atime % 1000000000;
	st->st_mtim.tv_sec = a->mtime / 1000000000;
	st->st_mtim.tv_nsec = a->mtime % 1000000000;
	st->st_ctim.tv_sec = a->ctime / 1000000000;
	st->st_ctim.tv_nsec = a->ctime % 1000000000;
}

static void reply_entry(struct fmount *m, fuse_req_t req, const struct ns_attr *a)
{
	struct fuse_entry_param e = {0};

	e.ino = a->ino;
	e.attr_timeout = m->attr_tmo;
	e.entry_timeout = m->entry_tmo;
	fm_to_stat(a, &e.attr);
	fuse_reply_entry(req, &e);
}

/* The replies of fops. */
static void reply_err(struct fop *f, int rc)
{
	fuse_reply_err(f->req, rc ? errno_of(rc) : 0);
}

static void reply_entry_fop(struct fop *f, int rc)
{
	if (rc)
		fuse_reply_err(f->req, errno_of(rc));
	else
		reply_entry(f->m, f->req, &f->attr);
}

static void reply_attr(struct fop *f, int rc)
{
	struct stat st;

	if (rc) {
		fuse_reply_err(f->req, errno_of(rc));
		return;
	}
	fm_to_stat(&f->attr, &st);
	fuse_reply_attr(f->req, &st, f->m->attr_tmo);
}

/* --- lookups and attributes (RCU: on the FUSE thread) --- */

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fmount *m = mnt(req);
	struct ns_attr a;
	struct ns_ctx x;
	struct fcred c;
	int rc;

	if (fm_failed(m, req))
		return;
	rc = fcred_of_req(m, req, &c);
	if (rc == 0) {
		ns_ctx_init(&x, &c.ns);
		rc = ns_lookup(m->ns, &x, parent, name, &a);
		fcred_release(&c);
	}
	if (rc)
		fuse_reply_err(req, errno_of(rc));
	else
		reply_entry(m, req, &a);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	(void)ino;
	(void)nlookup;
	fuse_reply_none(req); /* the engine keeps every inode; nothing is counted here */
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	(void)count;
	(void)forgets;
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fmount *m = mnt(req);
	struct ns_attr a;
	struct stat st;
	int rc;

	(void)fi;
	if (fm_failed(m, req))
		return;
	rc = ns_getattr(m->ns, ino, &a);
	if (rc) {
		fuse_reply_err(req, errno_of(rc));
		return;
	}
	fm_to_stat(&a, &st);
	fuse_reply_attr(req, &st, m->attr_tmo);
}

static int run_setattr(struct fop *f)
{
	if (!f->sa.valid)
		return ns_getattr(f->m->ns, f->ino, &f->attr);
	return ns_setattr(f->m->ns, &f->ctx, f->ino, &f->sa, &f->attr);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct fmount *m = mnt(req);
	const struct fcred *as = NULL;
	struct ns_setattr sa = {0};
	struct fop *f;

	/* ftruncate(2): what the handle was opened for decides, not the file's mode now. */
	if (fi && (to_set & FUSE_SET_ATTR_SIZE) &&
	    !(to_set & ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_CTIME)))
		as = &fh_of(fi)->cred;
	if (to_set & FUSE_SET_ATTR_MODE) {
		sa.valid |= NS_SET_MODE;
		sa.mode = attr->st_mode & 07777;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		sa.valid |= NS_SET_UID;
		sa.uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		sa.valid |= NS_SET_GID;
		sa.gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		sa.valid |= NS_SET_SIZE;
		sa.size = (uint64_t)attr->st_size;
	}
	/* utimensat: "now" has its own permission rule (the owner, or write permission). */
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		sa.valid |= NS_SET_ATIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		sa.valid |= NS_SET_ATIME;
		sa.atime = ts_ns(&attr->st_atim);
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		sa.valid |= NS_SET_MTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		sa.valid |= NS_SET_MTIME;
		sa.mtime = ts_ns(&attr->st_mtim);
	}
	/* FUSE_SET_ATTR_CTIME alone: the engine sets ctime on every change itself. */
	f = fop_new(m, req, as, run_setattr, reply_attr);
	if (!f)
		return;
	f->ino = ino;
	f->sa = sa;
	fop_go(f);
}

/* --- names --- */

static int run_mkdir(struct fop *f)
{
	return ns_mkdir(f->m->ns, &f->ctx, f->dir, f->name, f->mode, &f->attr);
}

static int run_mknod(struct fop *f)
{
	return ns_mknod(f->m->ns, &f->ctx, f->dir, f->name, f->mode, f->off, &f->attr);
}

static int run_symlink(struct fop *f)
{
	return ns_symlink(f->m->ns, &f->ctx, f->dir, f->name, f->name2, &f->attr);
}

static int run_link(struct fop *f)
{
	return ns_link(f->m->ns, &f->ctx, f->ino, f->dir, f->name, &f->attr);
}

/*
 * new_fop - a fop that adds @name to @parent, with the umask of the caller (the kernel
 * leaves it to us under FUSE_CAP_POSIX_ACL: a directory's default ACL overrides it).
 */
static struct fop *new_fop(fuse_req_t req, fuse_ino_t parent, const char *name, fop_run_fn run)
{
	struct fop *f = fop_new(mnt(req), req, NULL, run, reply_entry_fop);

	if (!f)
		return NULL;
	f->ctx.umask = fuse_req_ctx(req)->umask & 0777;
	f->dir = parent;
	f->name = name;
	return f;
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fop *f = new_fop(req, parent, name, run_mkdir);

	if (!f)
		return;
	f->mode = mode & 07777;
	fop_go(f);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct fop *f = new_fop(req, parent, name, run_mknod);

	if (!f)
		return;
	f->mode = mode & (S_IFMT | 07777);
	f->off = rdev;
	fop_go(f);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct fop *f = new_fop(req, parent, name, run_symlink);

	if (!f)
		return;
	f->name2 = link;
	fop_go(f);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct fop *f = new_fop(req, newparent, newname, run_link);

	if (!f)
		return;
	f->ino = ino;
	fop_go(f);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[4097];
	ssize_t n;

	if (fm_failed(mnt(req), req))
		return;
	n = ns_readlink(mnt(req)->ns, ino, buf, sizeof(buf) - 1);
	if (n < 0) {
		fuse_reply_err(req, errno_of(n));
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

/* Removing a name: an open file stays, as an orphan in the engine, until its last release. */
static int run_unlink(struct fop *f)
{
	return ns_unlink(f->m->ns, &f->ctx, f->dir, f->name);
}

static int run_rmdir(struct fop *f)
{
	return ns_rmdir(f->m->ns, &f->ctx, f->dir, f->name);
}

static void remove_name(fuse_req_t req, fuse_ino_t parent, const char *name, fop_run_fn run)
{
	struct fop *f = fop_new(mnt(req), req, NULL, run, reply_err);

	if (!f)
		return;
	f->dir = parent;
	f->name = name;
	fop_go(f);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, run_unlink);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, run_rmdir);
}

static int run_rename(struct fop *f)
{
	return ns_rename(f->m->ns, &f->ctx, f->dir, f->name, f->ndir, f->name2, f->flags);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct fop *f;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		fuse_reply_err(req, EINVAL); /* RENAME_WHITEOUT: daxfs has no whiteouts */
		return;
	}
	f = fop_new(mnt(req), req, NULL, run_rename, reply_err);
	if (!f)
		return;
	f->dir = parent;
	f->name = name;
	f->ndir = newparent;
	f->name2 = newname;
	f->flags = flags; /* NS_RENAME_* are renameat2's values */
	fop_go(f);
}

/* --- extended attributes (ACLs among them) --- */

/* xattr_read - getxattr of @name, or (@name NULL) listxattr, of @ino, answered on @req. */
static void xattr_read(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct fmount *m = mnt(req);
	char *buf = NULL;
	struct ns_ctx x;
	struct fcred c;
	ssize_t n;
	int rc;

	if (fm_failed(m, req))
		return;
	rc = fcred_of_req(m, req, &c);
	if (rc) {
		fuse_reply_err(req, errno_of(rc));
		return;
	}
	if (size)
		buf = fm_thread_buf(); /* FM_MAX_IO: larger than any value or list */
	size = MIN(size, (size_t)FM_MAX_IO);
	ns_ctx_init(&x, &c.ns);
	n = name ? ns_getxattr(m->ns, &x, ino, name, buf, size)
		 : ns_listxattr(m->ns, &x, ino, buf, size);
	fcred_release(&c);
	if (n < 0)
		fuse_reply_err(req, errno_of(n));
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	xattr_read(req, ino, name, size);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	xattr_read(req, ino, NULL, size);
}

static int run_setxattr(struct fop *f)
{
	int flags = (f->flags & XATTR_CREATE ? NS_XATTR_CREATE : 0) |
		    (f->flags & XATTR_REPLACE ? NS_XATTR_REPLACE : 0);

	if (f->flags & ~(unsigned)(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	return ns_setxattr(f->m->ns, &f->ctx, f->ino, f->name, f->buf, f->len, flags);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	struct fop *f = fop_new(mnt(req), req, NULL, run_setxattr, reply_err);

	if (!f)
		return;
	f->ino = ino;
	f->name = name;
	f->buf = value;
	f->len = size;
	f->flags = (unsigned)flags;
	fop_go(f);
}

static int run_removexattr(struct fop *f)
{
	return ns_removexattr(f->m->ns, &f->ctx, f->ino, f->name);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct fop *f = fop_new(mnt(req), req, NULL, run_removexattr, reply_err);

	if (!f)
		return;
	f->ino = ino;
	f->name = name;
	fop_go(f);
}

/* --- files --- */

static unsigned access_mask(int flags)
{
	unsigned mask = 0;

	switch (flags & O_ACCMODE) {
	case O_RDONLY:
		mask = NS_MAY_READ;
		break;
	case O_WRONLY:
		mask = NS_MAY_WRITE;
		break;
	default:
		mask = NS_MAY_READ | NS_MAY_WRITE;
		break;
	}
	if (flags & O_TRUNC)
		mask |= NS_MAY_WRITE;
	return mask;
}

/*
 * fh_new - the handle of an open of f->attr, with what the open allowed, and an open of its
 * inode in the engine (an unlink then leaves it as an orphan until the last release).
 * Return: 0; NS_WAIT (nothing done: run again); -ENOMEM; ns_open's errors.
 */
static int fh_new(struct fop *f)
{
	struct fmount *m = f->m;
	struct fh *h;
	int rc;

	rc = ns_open(m->ns, &f->ctx, f->attr.ino);
	if (rc)
		return rc;
	h = calloc(1, sizeof(*h));
	if (!h || fcred_copy(&h->cred, &f->cred)) {
		free(h);
		fh_close_inode(m, f->attr.ino);
		return -ENOMEM;
	}
	h->cred.ns.flags |= NS_CRED_OPEN;
	h->ino = f->attr.ino;
	h->append = f->fi.flags & O_APPEND;
	fh_track(m, h);
	f->fi.fh = (uintptr_t)h;
	f->fi.direct_io = m->o.cache == FMOUNT_CACHE_NONE;
	f->fi.keep_cache = m->o.cache == FMOUNT_CACHE_ALWAYS;
	return 0;
}

/* fh_drop - free a handle the kernel never got (its reply was interrupted). */
static void fh_drop(struct fmount *m, struct fh *h)
{
	fh_untrack(m, h);
	fh_close_inode(m, h->ino);
	fcred_release(&h->cred);
	free(h);
}

/*
 * run_open - steps: 0 the file and the permission open(2) asks for; 1 O_TRUNC (atomic with
 * the open, atomic_o_trunc); 2 the handle. From step 1 on, the credential is the handle's
 * (NS_CRED_OPEN: a file created with mode 0 may still be written through it).
 */
static int run_open(struct fop *f)
{
	struct fmount *m = f->m;
	int rc;

	switch (f->step) {
	case 0:
		rc = ns_getattr(m->ns, f->ino, &f->attr);
		if (rc)
			return rc;
		if (S_ISDIR(f->attr.mode))
			return -EISDIR;
		rc = ns_access(m->ns, &f->ctx, f->ino, access_mask(f->fi.flags));
		if (rc)
			return rc;
		f->cred.ns.flags |= NS_CRED_OPEN;
		f->step = 1;
		/* fall through */
	case 1:
		if ((f->fi.flags & O_TRUNC) && f->attr.size) {
			struct ns_setattr sa = {.valid = NS_SET_SIZE, .size = 0};

			rc = ns_setattr(m->ns, &f->ctx, f->attr.ino, &sa, &f->attr);
			if (rc)
				return rc;
		}
		f->step = 2;
		/* fall through */
	default:
		return fh_new(f);
	}
}

static void reply_open(struct fop *f, int rc)
{
	if (rc) {
		fuse_reply_err(f->req, errno_of(rc));
		return;
	}
	/* cache=auto: the kernel drops what it cached at the open, including other clients' news. */
	if (f->m->o.cache == FMOUNT_CACHE_AUTO)
		fm_notes_flush(f->m);
	if (fuse_reply_open(f->req, &f->fi) == -ENOENT)
		fh_drop(f->m, fh_of(&f->fi));
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fop *f = fop_new(mnt(req), req, NULL, run_open, reply_open);

	if (!f)
		return;
	f->ino = ino;
	f->fi = *fi;
	fop_go(f);
}

/*
 * run_create - 0 create the file; if it exists (another client made it since the kernel
 * looked) and O_EXCL is not asked, open it as open(2) would (the steps of run_open).
 */
static int run_create(struct fop *f)
{
	int rc;

	if (f->step == 0) {
		rc = ns_create(f->m->ns, &f->ctx, f->dir, f->name, f->mode, &f->attr);
		if (rc == 0) {
			f->cred.ns.flags |= NS_CRED_OPEN;
			f->step = 2;
			return fh_new(f);
		}
		if (rc != -EEXIST || (f->fi.flags & O_EXCL))
			return rc;
		rc = ns_lookup(f->m->ns, &f->ctx, f->dir, f->name, &f->attr);
		if (rc)
			return rc == -ENOENT ? -EEXIST : rc;
		f->ino = f->attr.ino;
		f->step = 10;
	}
	if (f->step >= 10) {
		/* The steps of run_open, on the file found. */
		f->step -= 10;
		rc = run_open(f);
		f->step += 10;
		return rc;
	}
	return fh_new(f);
}

static void reply_create(struct fop *f, int rc)
{
	struct fuse_entry_param e = {0};

	if (rc) {
		fuse_reply_err(f->req, errno_of(rc));
		return;
	}
	e.ino = f->attr.ino;
	e.attr_timeout = f->m->attr_tmo;
	e.entry_timeout = f->m->entry_tmo;
	fm_to_stat(&f->attr, &e.attr);
	if (fuse_reply_create(f->req, &e, &f->fi) == -ENOENT)
		fh_drop(f->m, fh_of(&f->fi));
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct fop *f;

	f = fop_new(mnt(req), req, NULL, run_create, reply_create);
	if (!f)
		return;
	f->ctx.umask = fuse_req_ctx(req)->umask & 0777;
	f->dir = parent;
	f->name = name;
	f->mode = mode & 07777;
	f->fi = *fi;
	fop_go(f);
}

/*
 * run_release - 0 close the handle (the engine's open of its inode: it may park for the
 * inode's lock, before anything is dropped); 1 the last close of an orphan removes it (it
 * may park for the orphan's mappers).
 */
static int run_release(struct fop *f)
{
	struct fmount *m = f->m;
	struct fh *h = f->fh;
	int rc;

	if (f->step == 0) {
		rc = ns_close(m->ns, &f->ctx, h->ino);
		if (rc == NS_WAIT)
			return rc;
		f->ino = h->ino;
		fh_untrack(m, h);
		fcred_release(&h->cred);
		free(h);
		f->fh = NULL;
		if (rc != 1)
			return 0;
		f->step = 1;
	}
	rc = ns_remove_orphan(m->ns, &f->ctx, f->ino);
	if (rc && rc != NS_WAIT)
		log_warn("fuse: inode %" PRIu64 " (unlinked while open) could not be removed at "
			 "its last close: %s; the next mount removes it",
			 f->ino, strerror(errno_of(rc)));
	return rc == NS_WAIT ? rc : 0;
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fmount *m = mnt(req);
	struct fop *f;

	(void)ino;
	f = fop_new(m, req, &m->trusted, run_release, reply_err);
	if (!f) {
		/* Answered already; the handle stays tracked and is freed at unmount. */
		return;
	}
	f->fh = fh_of(fi);
	fop_go(f);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fmount *m = mnt(req);
	struct fh *h = fh_of(fi);
	char *buf = fm_thread_buf();
	size_t done = 0;
	struct ns_ctx x;
	ssize_t n = 0;

	if (fm_failed(m, req))
		return;
	if (size > FM_MAX_IO)
		size = FM_MAX_IO; /* the kernel asks at most max_read */
	ns_ctx_init(&x, &h->cred.ns);
	/*
	 * A short count means end of file to the kernel, so read on after one until the end
	 * or an error: a poisoned page then fails the whole request with EIO, and the kernel
	 * asks again page by page, so the good pages before it still read.
	 */
	while (done < size) {
		n = ns_read(m->ns, &x, ino, buf + done, size - done, (uint64_t)off + done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (n < 0)
		fuse_reply_err(req, errno_of(n));
	else
		fuse_reply_buf(req, buf, done);
}

/*
 * run_write - O_APPEND goes at the engine's size, which other clients' appends move (the
 * kernel put it at the size it cached); with the writeback cache the kernel owns the size.
 */
static int run_write(struct fop *f)
{
	struct fmount *m = f->m;
	uint64_t at = f->off;
	ssize_t n;
	int rc;

	if (f->fh->append && !m->o.writeback) {
		rc = ns_getattr(m->ns, f->ino, &f->attr);
		if (rc)
			return rc;
		at = f->attr.size;
	}
	n = ns_write(m->ns, &f->ctx, f->ino, f->buf, f->len, at);
	if (n < 0)
		return (int)n;
	f->off = (uint64_t)n; /* what was written */
	if (at != f->attr2.size)
		fm_invalidate(m, f->ino, 0, 0); /* the kernel cached the data elsewhere */
	return 0;
}

static void reply_write(struct fop *f, int rc)
{
	if (rc)
		fuse_reply_err(f->req, errno_of(rc));
	else
		fuse_reply_write(f->req, f->off);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct fh *h = fh_of(fi);
	struct fop *f = fop_new(mnt(req), req, &h->cred, run_write, reply_write);

	if (!f)
		return;
	f->fh = h;
	f->ino = ino;
	f->buf = buf;
	f->len = size;
	f->off = (uint64_t)off;
	f->attr2.size = (uint64_t)off; /* where the kernel put it */
	fop_go(f);
}

static int run_fsync(struct fop *f)
{
	return ns_fsync(f->m->ns, &f->ctx, f->ino);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fop *f = fop_new(mnt(req), req, &fh_of(fi)->cred, run_fsync, reply_err);

	(void)datasync;
	if (!f)
		return;
	f->ino = ino;
	fop_go(f);
}

static int run_fallocate(struct fop *f)
{
	return ns_fallocate(f->m->ns, &f->ctx, f->ino, (int)f->flags, f->off, f->len);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	unsigned nmode = 0;
	struct fop *f;

	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (mode & FALLOC_FL_KEEP_SIZE)
		nmode |= NS_FALLOC_KEEP_SIZE;
	if (mode & FALLOC_FL_PUNCH_HOLE)
		nmode |= NS_FALLOC_PUNCH_HOLE;
	f = fop_new(mnt(req), req, &fh_of(fi)->cred, run_fallocate, reply_err);
	if (!f)
		return;
	f->ino = ino;
	f->flags = nmode;
	f->off = (uint64_t)off;
	f->len = (size_t)len;
	fop_go(f);
}

/* --- directories --- */

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fmount *m = mnt(req);
	struct ns_attr a;
	int rc;

	if (fm_failed(m, req))
		return;
	rc = ns_getattr(m->ns, ino, &a);
	if (rc == 0 && !S_ISDIR(a.mode))
		rc = -ENOTDIR;
	if (rc) {
		fuse_reply_err(req, errno_of(rc));
		return;
	}
	/* Listings are read from the engine at each readdir (its cookies are the offsets). */
	fi->fh = 0;
	if (m->o.cache == FMOUNT_CACHE_ALWAYS) {
		fi->cache_readdir = 1; /* changes by other clients invalidate the directory */
		fi->keep_cache = 1;
	}
	fuse_reply_open(req, fi);
}

/* One readdir reply being filled: offsets 0 ".", 1 "..", 2 + cookie the engine's entries. */
struct rd {
	struct fmount *m;
	fuse_req_t req;
	char *buf;
	size_t size, used;
	bool plus;
};

static int rd_add(struct rd *r, const char *name, const struct fuse_entry_param *e, off_t next)
{
	size_t len;

	if (r->plus)
		len = fuse_add_direntry_plus(r->req, r->buf + r->used, r->size - r->used, name, e,
					     next);
	else
		len = fuse_add_direntry(r->req, r->buf + r->used, r->size - r->used, name, &e->attr,
					next);
	if (len > r->size - r->used)
		return 1; /* full: the kernel asks again from this entry */
	r->used += len;
	return 0;
}

static int rd_entry(void *ctx, const char *name, uint64_t ino, uint32_t mode, uint64_t next_cookie)
{
	struct rd *r = ctx;
	struct fuse_entry_param e = {0};

	e.attr.st_ino = ino;
	e.attr.st_mode = mode & S_IFMT;
	if (r->plus) {
		struct ns_attr a;

		if (ns_getattr(r->m->ns, ino, &a))
			return 0; /* removed since */
		e.ino = ino;
		e.attr_timeout = r->m->attr_tmo;
		e.entry_timeout = r->m->entry_tmo;
		fm_to_stat(&a, &e.attr);
	}
	return rd_add(r, name, &e, (off_t)(next_cookie + 2));
}

static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct fmount *m = mnt(req);
	struct rd r = {m, req, NULL, size, 0, plus};
	struct ns_ctx x;
	struct fcred c;
	int rc = 0;

	if (fm_failed(m, req))
		return;
	r.buf = malloc(size ? size : 1);
	if (!r.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* "." and "..": no lookup is counted for them (ino 0 in the entry). */
	for (off_t i = off < 0 ? 0 : off; i < 2; i++) {
		struct fuse_entry_param e = {0};

		e.attr.st_ino = i == 0 ? ino : FUSE_ROOT_ID;
		e.attr.st_mode = S_IFDIR;
		if (rd_add(&r, i == 0 ? "." : "..", &e, i + 1))
			goto reply;
	}
	rc = fcred_of_req(m, req, &c);
	if (rc == 0) {
		ns_ctx_init(&x, &c.ns);
		rc = ns_readdir(m->ns, &x, ino, off > 2 ? (uint64_t)off - 2 : 0, rd_entry, &r);
		fcred_release(&c);
	}
	if (rc < 0 && r.used == 0) {
		free(r.buf);
		fuse_reply_err(req, errno_of(rc));
		return;
	}
reply:
	fuse_reply_buf(req, r.buf, r.used);
	free(r.buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	readdir_common(req, ino, size, off, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	(void)fi;
	readdir_common(req, ino, size, off, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0); /* namespace changes are durable when they are answered */
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fmount *m = mnt(req);
	struct ns_capacity cap;
	struct statvfs sv = {0};
	struct ns_statfs st;
	int rc;

	(void)ino;
	ns_statfs(m->ns, &st);
	rc = ns_capacity(m->ns, &cap);
	if (rc) {
		fuse_reply_err(req, errno_of(rc));
		return;
	}
	sv.f_bsize = st.block_size;
	sv.f_frsize = st.block_size;
	sv.f_blocks = st.blocks;
	sv.f_bfree = st.blocks_free;
	sv.f_bavail = st.blocks_free;
	/* What the metadata log's snapshot can hold (daxfs(1), df -i). */
	sv.f_files = st.files + cap.inodes_free;
	sv.f_ffree = cap.inodes_free;
	sv.f_favail = cap.inodes_free;
	sv.f_namemax = NS_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fmount *m = userdata;
	unsigned io = m->o.no & FMOUNT_SMALL_PAGES ? FM_SMALL_IO : FM_MAX_IO;
	unsigned on = FUSE_CAP_ASYNC_READ | FUSE_CAP_ATOMIC_O_TRUNC, off = 0;

	/*
	 * ACLs: the kernel checks them (default_permissions) from system.posix_acl_access,
	 * and leaves the umask to us (the engine applies it unless a default ACL applies).
	 */
	on |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;

	/* max_write of 1 MiB makes libfuse ask for max_pages 256. */
	conn->max_write = io;
	conn->max_read = io; /* must equal -o max_read (fuse-mount.c) */
	conn->max_readahead = io;
	conn->time_gran = 1;
	if (m->o.no & FMOUNT_NO_PARALLEL_DIROPS)
		off |= FUSE_CAP_PARALLEL_DIROPS;
	else
		on |= FUSE_CAP_PARALLEL_DIROPS;
	if (m->o.no & FMOUNT_NO_READDIRPLUS)
		off |= FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO;
	else
		on |= FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO;
	if (m->o.no & FMOUNT_NO_SPLICE)
		off |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	else
		on |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	off |= FUSE_CAP_SPLICE_READ; /* the engine wants the data in memory anyway */
	/*
	 * cache=auto: drop the cached pages when the kernel sees another mtime or size.
	 * cache=always: the mount's own writes move mtime too, so that would drop its cache
	 * all the time; other clients' changes come as invalidations instead.
	 */
	if (m->o.cache == FMOUNT_CACHE_AUTO)
		on |= FUSE_CAP_AUTO_INVAL_DATA;
	else
		off |= FUSE_CAP_AUTO_INVAL_DATA;
	if (m->o.writeback)
		on |= FUSE_CAP_WRITEBACK_CACHE;
	else
		off |= FUSE_CAP_WRITEBACK_CACHE;
	conn->want |= on & conn->capable;
	conn->want &= ~off;
}

const struct fuse_lowlevel_ops fm_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.mkdir = op_mkdir,
	.mknod = op_mknod,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.link = op_link,
	.symlink = op_symlink,
	.readlink = op_readlink,
	.getxattr = op_getxattr,
	.setxattr = op_setxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.create = op_create,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.release = op_release,
	.fsync = op_fsync,
	.fallocate = op_fallocate,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
};
