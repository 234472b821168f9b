// SPDX-License-Identifier: MIT
/*
 * The requests: decode, call the engine as the session's user, build the reply.
 *
 * The engine checks POSIX permissions itself, under the lock of the change they allow
 * (engine/access.h), from the session's credentials in the request's context. Paths are
 * walked by ns_walk() with search permission checked on every directory; what a walk (or a
 * create) reaches becomes one of the session's handles, and a request by inode number is
 * honoured only for a handle (ESTALE otherwise) or for an admin (DESIGN §7).
 *
 * A request that would have to wait for another request's lock or for mappers to let go
 * returns OPS_PARKED: the worker parks it (server.c) and runs it again from the start when
 * the engine wakes its context.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "lease.h"
#include "log.h"
#include "metrics.h"
#include "namespace.h"
#include "nsmap.h"
#include "ops.h"
#include "poison.h"
#include "region.h"
#include "replica.h"
#include "rings.h"
#include "server.h"
#include "session.h"
#include "util.h"

struct op {
	struct sess *s;
	struct ns *ns;
	const struct cred *cred;
	struct ns_ctx *c; /* the engine call's context: the caller, and where it parks */
	const struct wire_req *req;
	struct wire_msg *m;
	int fd;		 /* attach this fd to the reply */
	bool fd_own;	 /* and close it once sent */
	uint16_t rflags; /* more reply header flags (SHM) */
};

/* body - the request's fixed body, copied out (the packet is 8-aligned, but be plain). */
#define BODY(op, type)                                    \
	({                                                \
		type _b;                                  \
		memcpy(&_b, (op)->req->body, sizeof(_b)); \
		_b;                                       \
	})

static void to_wire_attr(const struct ns_attr *a, struct wire_attr *w)
{
	*w = (struct wire_attr){
		.ino = a->ino,
		.mode = a->mode,
		.uid = a->uid,
		.gid = a->gid,
		.nlink = a->nlink,
		.size = a->size,
		.blocks = a->blocks,
		.atime = a->atime,
		.mtime = a->mtime,
		.ctime = a->ctime,
		.rdev = a->rdev,
	};
}

static int put_attr(struct op *op, const struct ns_attr *a)
{
	struct wire_attr_reply r = {{0, 0}, {0}};

	to_wire_attr(a, &r.a);
	wire_msg_put(op->m, &r, sizeof(r), false);
	return op->m->err;
}

/* --- paths and handles --- */

/* is_root_path - "/", "//", ...: the root, which has no parent and no name. */
static bool is_root_path(const char *path)
{
	return path[strspn(path, "/")] == '\0';
}

/* reached - the session reached @a by a path: it may name it by number from now on. */
static int reached(struct op *op, const struct ns_attr *a)
{
	return sess_handle_add(op->s, a->ino);
}

/* resolve - what @path names, reached: a handle. */
static int resolve(struct op *op, const char *path, struct ns_attr *out)
{
	struct ns_path p;
	int rc = ns_walk(op->ns, op->c, path, 0, &p);

	if (rc == 0)
		rc = reached(op, &p.attr);
	if (rc == 0)
		*out = p.attr;
	return rc;
}

/* resolve_parent - the directory of @path's last component, and that component. */
static int resolve_parent(struct op *op, const char *path, struct ns_path *out)
{
	return ns_walk(op->ns, op->c, path, NS_WALK_PARENT, out);
}

/* by_ino - a request names @ino: honoured for a handle of the session, or for an admin. */
static int by_ino(struct op *op, uint64_t ino)
{
	return sess_handle_check(op->s, ino);
}

/* --- requests --- */

static int op_statfs(struct op *op)
{
	struct wire_statfs_reply r = {{0, 0}, 0};
	struct ns_capacity cap;
	struct ns_statfs st;
	int rc;

	ns_statfs(op->ns, &st);
	rc = ns_capacity(op->ns, &cap);
	if (rc)
		return rc;
	r.files_free = cap.inodes_free;
	r.block_size = st.block_size;
	r.blocks = st.blocks;
	r.blocks_free = st.blocks_free;
	r.blocks_quarantined = st.blocks_quarantined;
	r.files = st.files;
	r.log_used = st.log_used;
	r.log_len = st.log_len;
	r.blocks_reserved = st.blocks_reserved;
	r.log_reserved = st.log_reserved;
	r.map_trust = (uint32_t)op->s->trust;
	r.kind = (uint32_t)region_kind(ns_region(op->ns));
	r.granularity = wire_granularity(region_granularity(ns_region(op->ns)));
	r.alignment = region_alignment(ns_region(op->ns));
	wire_msg_put(op->m, &r, sizeof(r), false);
	return op->m->err;
}

/* op_replica - the replica's state, for every client (as STATFS). */
static int op_replica(struct op *op)
{
	static const uint32_t state[] = {
		[REPLICA_NONE] = WIRE_REPLICA_NONE,
		[REPLICA_INSYNC] = WIRE_REPLICA_INSYNC,
		[REPLICA_RESYNCING] = WIRE_REPLICA_RESYNCING,
		[REPLICA_DEGRADED] = WIRE_REPLICA_DEGRADED,
	};
	struct wire_replica_reply r;
	struct replica_info info;

	memset(&r, 0, sizeof(r));
	replica_get_info(op->ns, &info);
	r.state = state[info.status];
	r.synced = info.synced;
	r.size = info.size;
	r.reads = info.reads;
	r.repaired = info.repaired;
	snprintf(r.path, sizeof(r.path), "%s", info.path);
	snprintf(r.why, sizeof(r.why), "%s", info.why);
	wire_msg_put(op->m, &r, sizeof(r), false);
	return op->m->err;
}

/* resolve_flags - resolve() with ns_walk @flags (NS_WALK_NOFOLLOW). */
static int resolve_flags(struct op *op, const char *path, unsigned flags, struct ns_attr *out)
{
	struct ns_path p;
	int rc = ns_walk(op->ns, op->c, path, flags, &p);

	if (rc == 0)
		rc = reached(op, &p.attr);
	if (rc == 0)
		*out = p.attr;
	return rc;
}

/* STAT: stat(2), or lstat(2) with WIRE_STAT_NOFOLLOW. */
static int op_stat(struct op *op)
{
	struct wire_path b = BODY(op, struct wire_path);
	struct ns_attr a;
	int rc = resolve_flags(op, op->req->path,
			       b.flags & WIRE_STAT_NOFOLLOW ? NS_WALK_NOFOLLOW : 0, &a);

	return rc ? rc : put_attr(op, &a);
}

/* new_name - the directory and name a request's @path makes (not the root, no "a/"). */
static int new_name(struct op *op, const char *path, struct ns_path *p)
{
	int rc;

	if (is_root_path(path))
		return -EEXIST;
	rc = resolve_parent(op, path, p);
	if (rc == 0 && p->slash)
		rc = -ENOENT; /* as link("f", "name/") for a name that is not a directory */
	return rc;
}

/* LINK: link(2) of the existing path (not followed, as linkat without AT_SYMLINK_FOLLOW). */
static int op_link(struct op *op)
{
	struct ns_attr src, a;
	struct ns_path p;
	int rc;

	rc = resolve_flags(op, op->req->path, NS_WALK_NOFOLLOW, &src);
	if (rc == 0)
		rc = new_name(op, op->req->path2, &p);
	if (rc == 0)
		rc = ns_link(op->ns, op->c, src.ino, p.attr.ino, p.name, &a);
	return rc ? rc : put_attr(op, &a);
}

/* SYMLINK: symlink(2): the target is kept as given (path2), the link made at path. */
static int op_symlink(struct op *op)
{
	struct ns_path p;
	struct ns_attr a;
	int rc;

	rc = new_name(op, op->req->path, &p);
	if (rc == 0)
		rc = ns_symlink(op->ns, op->c, p.attr.ino, p.name, op->req->path2, &a);
	if (rc == 0)
		rc = reached(op, &a);
	return rc ? rc : put_attr(op, &a);
}

static int op_readlink(struct op *op)
{
	struct wire_readlink_reply r = {{0, 0}, 0, 0};
	char target[WIRE_PATH_MAX];
	struct ns_attr a;
	ssize_t n;
	int rc;

	rc = resolve_flags(op, op->req->path, NS_WALK_NOFOLLOW, &a);
	if (rc)
		return rc;
	n = ns_readlink(op->ns, a.ino, target, sizeof(target) - 1);
	if (n < 0)
		return (int)n;
	r.len = (uint32_t)n;
	wire_msg_put(op->m, &r, sizeof(r), false);
	wire_msg_put(op->m, target, (size_t)n, false);
	return op->m->err;
}

static int op_mknod(struct op *op)
{
	struct wire_mknod b = BODY(op, struct wire_mknod);
	struct ns_path p;
	struct ns_attr a;
	int rc;

	rc = new_name(op, op->req->path, &p);
	if (rc == 0)
		rc = ns_mknod(op->ns, op->c, p.attr.ino, p.name, b.mode, b.rdev, &a);
	if (rc == 0)
		rc = reached(op, &a);
	return rc ? rc : put_attr(op, &a);
}

/* xattr_reply - GETXATTR and LISTXATTR: @n bytes of @buf (or only @n, when size was 0). */
static int xattr_reply(struct op *op, const void *buf, ssize_t n, uint32_t size)
{
	struct wire_xattr_reply r = {{0, 0}, 0, 0};
	bool shm = op->req->hdr.flags & WIRE_F_SHM;

	if (n < 0)
		return (int)n;
	r.len = (uint32_t)n;
	wire_msg_put(op->m, &r, sizeof(r), false);
	if (size && shm) {
		memcpy(op->s->shm, buf, (size_t)n);
		op->rflags |= WIRE_F_SHM;
	} else if (size) {
		wire_msg_put(op->m, buf, (size_t)n, false);
	}
	return op->m->err;
}

/* xattr_read - GETXATTR of @name, or (@name NULL) LISTXATTR, of @ino into @size bytes. */
static int xattr_read(struct op *op, uint64_t ino, const char *name, uint32_t size)
{
	char *buf;
	ssize_t n;
	int rc;

	rc = by_ino(op, ino);
	if (rc == 0 && op->req->hdr.flags & WIRE_F_SHM && !op->s->shm)
		rc = -EINVAL;
	if (rc)
		return rc;
	buf = malloc(MAX(size, 1U));
	if (!buf)
		return -ENOMEM;
	n = name ? ns_getxattr(op->ns, op->c, ino, name, buf, size)
		 : ns_listxattr(op->ns, op->c, ino, buf, size);
	rc = xattr_reply(op, buf, n, size);
	free(buf);
	return rc;
}

static int op_getxattr(struct op *op)
{
	struct wire_xattr b = BODY(op, struct wire_xattr);

	return xattr_read(op, b.ino, op->req->path, b.size);
}

static int op_listxattr(struct op *op)
{
	struct wire_xattr_list b = BODY(op, struct wire_xattr_list);

	return xattr_read(op, b.ino, NULL, b.size);
}

static int op_setxattr(struct op *op)
{
	struct wire_xattr b = BODY(op, struct wire_xattr);
	const void *value = op->req->data;
	void *copy = NULL;
	int rc;

	rc = by_ino(op, b.ino);
	if (rc)
		return rc;
	if (op->req->hdr.flags & WIRE_F_SHM) {
		if (!op->s->shm)
			return -EINVAL;
		/* Out of the client's reach first: the engine reads the value more than once. */
		copy = malloc(MAX(b.size, 1U));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, op->s->shm, b.size);
		value = copy;
	}
	rc = ns_setxattr(op->ns, op->c, b.ino, op->req->path, value ? value : "", b.size, b.flags);
	free(copy);
	return rc;
}

static int op_removexattr(struct op *op)
{
	struct wire_xattr b = BODY(op, struct wire_xattr);
	int rc = by_ino(op, b.ino);

	return rc ? rc : ns_removexattr(op->ns, op->c, b.ino, op->req->path);
}

/* GETATTR by inode: like fstat, no permission beyond the handle is needed. */
static int op_getattr(struct op *op)
{
	struct wire_getattr b = BODY(op, struct wire_getattr);
	struct ns_attr a;
	int rc = by_ino(op, b.ino);

	if (rc == 0)
		rc = ns_getattr(op->ns, b.ino, &a);
	return rc ? rc : put_attr(op, &a);
}

static int op_mkdir(struct op *op)
{
	struct wire_mknode b = BODY(op, struct wire_mknode);
	struct ns_path p;
	struct ns_attr a;
	int rc;

	if (is_root_path(op->req->path))
		return -EEXIST;
	rc = resolve_parent(op, op->req->path, &p);
	if (rc == 0)
		rc = ns_mkdir(op->ns, op->c, p.attr.ino, p.name, b.mode, &a);
	if (rc == 0)
		rc = reached(op, &a);
	return rc ? rc : put_attr(op, &a);
}

/* CREATE: like open(O_CREAT [| O_EXCL]): an existing file is returned unless EXCL. */
static int op_create(struct op *op)
{
	struct wire_mknode b = BODY(op, struct wire_mknode);
	struct ns_path p;
	struct ns_attr a;
	int rc;

	if (is_root_path(op->req->path))
		return b.flags & WIRE_CREATE_EXCL ? -EEXIST : -EISDIR;
	rc = resolve_parent(op, op->req->path, &p);
	if (rc)
		return rc;
	if (p.slash)
		return -EISDIR; /* as open("name/", O_CREAT) */
	for (int attempt = 0; attempt < 4; attempt++) {
		rc = ns_lookup(op->ns, op->c, p.attr.ino, p.name, &a);
		if (rc == 0) {
			if (b.flags & WIRE_CREATE_EXCL)
				return -EEXIST;
			if (S_ISDIR(a.mode))
				return -EISDIR;
			rc = reached(op, &a);
			return rc ? rc : put_attr(op, &a);
		}
		if (rc != -ENOENT)
			return rc;
		rc = ns_create(op->ns, op->c, p.attr.ino, p.name, b.mode, &a);
		if (rc == 0) {
			rc = reached(op, &a);
			return rc ? rc : put_attr(op, &a);
		}
		/* Created by someone else meanwhile: without EXCL, that one is the answer. */
		if (rc != -EEXIST || b.flags & WIRE_CREATE_EXCL)
			return rc;
	}
	return -EAGAIN;
}

/* remove - UNLINK (@want_dir false) and RMDIR. */
static int remove_entry(struct op *op, bool want_dir)
{
	struct ns_attr victim;
	struct ns_path p;
	int rc;

	if (is_root_path(op->req->path))
		return want_dir ? -EBUSY : -EISDIR;
	rc = resolve_parent(op, op->req->path, &p);
	if (rc)
		return rc;
	if (p.slash && !want_dir) {
		/* unlink("name/"): an error either way; which one the entry says. */
		rc = ns_lookup(op->ns, op->c, p.attr.ino, p.name, &victim);
		return rc ? rc : S_ISDIR(victim.mode) ? -EISDIR : -ENOTDIR;
	}
	return want_dir ? ns_rmdir(op->ns, op->c, p.attr.ino, p.name)
			: ns_unlink(op->ns, op->c, p.attr.ino, p.name);
}

static int op_unlink(struct op *op)
{
	return remove_entry(op, false);
}

static int op_rmdir(struct op *op)
{
	return remove_entry(op, true);
}

static int op_rename(struct op *op)
{
	struct wire_rename b = BODY(op, struct wire_rename);
	struct ns_path o, n;
	struct ns_attr src;
	int rc;

	if (is_root_path(op->req->path) || is_root_path(op->req->path2))
		return -EBUSY;
	rc = resolve_parent(op, op->req->path, &o);
	if (rc == 0)
		rc = resolve_parent(op, op->req->path2, &n);
	if (rc)
		return rc;
	if (o.slash || n.slash) {
		/* "a/" renames only a directory. */
		rc = ns_lookup(op->ns, op->c, o.attr.ino, o.name, &src);
		if (rc == 0 && !S_ISDIR(src.mode))
			rc = -ENOTDIR;
		if (rc)
			return rc;
	}
	return ns_rename(op->ns, op->c, o.attr.ino, o.name, n.attr.ino, n.name, b.flags);
}

static int op_setattr(struct op *op)
{
	struct wire_setattr b = BODY(op, struct wire_setattr);
	struct ns_setattr sa = {
		.valid = b.valid,
		.mode = b.mode,
		.uid = b.uid,
		.gid = b.gid,
		.size = b.size,
		.atime = b.atime,
		.mtime = b.mtime,
	};
	struct ns_attr out;
	int rc = by_ino(op, b.ino);

	/* Who may change what is checked by the engine, under the inode's lock. */
	if (rc == 0)
		rc = ns_setattr(op->ns, op->c, b.ino, &sa, &out);
	return rc ? rc : put_attr(op, &out);
}

struct readdir_ctx {
	struct op *op;
	uint32_t max, count;
	uint64_t next; /* resume cookie after the last entry put */
	bool more;     /* an entry did not fit */
	bool search;   /* the caller may search the directory: the entries are reached */
	int err;
};

static int readdir_one(void *arg, const char *name, uint64_t ino, uint32_t mode,
		       uint64_t next_cookie)
{
	struct readdir_ctx *rc = arg;
	struct wire_msg *m = rc->op->m;
	size_t nlen = strlen(name);
	struct wire_dirent d = {.ino = ino, .mode = mode, .name_len = (uint16_t)nlen};

	if (rc->count == rc->max || m->len + ALIGN_UP(sizeof(d) + nlen, (size_t)8) > WIRE_MSG_MAX) {
		rc->more = true;
		return 1;
	}
	if (rc->search) {
		rc->err = sess_handle_add(rc->op->s, ino);
		if (rc->err)
			return 1;
	}
	wire_msg_put(m, &d, sizeof(d), false);
	wire_msg_put(m, name, nlen, true);
	rc->count++;
	rc->next = next_cookie;
	return 0;
}

static int op_readdir(struct op *op)
{
	struct wire_readdir b = BODY(op, struct wire_readdir);
	struct readdir_ctx ctx = {.op = op, .max = b.max, .next = b.cookie};
	struct wire_readdir_reply r = {{0, 0}, 0};
	struct ns_attr dir;
	size_t at;
	int rc;

	rc = resolve(op, op->req->path, &dir);
	if (rc)
		return rc;
	if (!S_ISDIR(dir.mode))
		return -ENOTDIR;
	/* Names listed in a directory the caller may also search are as good as looked up. */
	ctx.search = ns_access(op->ns, op->c, dir.ino, NS_MAY_EXEC) == 0;
	at = op->m->len;
	wire_msg_put(op->m, &r, sizeof(r), false);
	rc = ns_readdir(op->ns, op->c, dir.ino, b.cookie, readdir_one, &ctx);
	if (rc < 0)
		return rc;
	if (ctx.err)
		return ctx.err;
	if (op->m->err)
		return op->m->err;
	r.next_cookie = ctx.next;
	r.count = ctx.count;
	r.eof = !ctx.more;
	memcpy(op->m->buf + at, &r, sizeof(r));
	return 0;
}

static int op_read(struct op *op)
{
	struct wire_io b = BODY(op, struct wire_io);
	bool shm = op->req->hdr.flags & WIRE_F_SHM;
	struct wire_io_reply r = {{0, 0}, 0};
	size_t at;
	ssize_t n;
	void *dst;
	int rc;

	rc = by_ino(op, b.ino);
	if (rc)
		return rc;
	if (shm) {
		/* One copy: from the region straight into the client's shared buffer. */
		if (!op->s->shm || b.len > WIRE_SHM_SIZE)
			return -EINVAL;
		n = ns_read(op->ns, op->c, b.ino, op->s->shm, b.len, b.off);
		if (n < 0)
			return (int)n;
		r.count = (uint64_t)n;
		op->rflags |= WIRE_F_SHM;
		wire_msg_put(op->m, &r, sizeof(r), false);
		return op->m->err;
	}
	at = op->m->len;
	wire_msg_put(op->m, &r, sizeof(r), false);
	dst = wire_msg_put(op->m, NULL, b.len, false);
	if (!dst)
		return op->m->err;
	n = ns_read(op->ns, op->c, b.ino, dst, b.len, b.off);
	if (n < 0)
		return (int)n;
	/* Keep only what was read. */
	op->m->len -= b.len - (size_t)n;
	r.count = (uint64_t)n;
	memcpy(op->m->buf + at, &r, sizeof(r));
	return 0;
}

static int op_write(struct op *op)
{
	struct wire_io b = BODY(op, struct wire_io);
	bool shm = op->req->hdr.flags & WIRE_F_SHM;
	struct wire_io_reply r = {{0, 0}, 0};
	const void *src = op->req->data;
	ssize_t n;
	int rc;

	rc = by_ino(op, b.ino);
	if (rc)
		return rc;
	if (shm) {
		if (!op->s->shm || b.len > WIRE_SHM_SIZE)
			return -EINVAL;
		src = op->s->shm;
		op->rflags |= WIRE_F_SHM;
	}
	n = ns_write_at(op->ns, op->c, b.ino, src, b.len,
			b.flags & WIRE_IO_APPEND ? NS_WRITE_APPEND : b.off, NULL);
	if (n < 0)
		return (int)n;
	r.count = (uint64_t)n;
	wire_msg_put(op->m, &r, sizeof(r), false);
	return op->m->err;
}

static int op_fallocate(struct op *op)
{
	struct wire_fallocate b = BODY(op, struct wire_fallocate);
	int rc = by_ino(op, b.ino);

	return rc ? rc : ns_fallocate(op->ns, op->c, b.ino, (int)b.mode, b.off, b.len);
}

/* FSYNC: like fsync(2) on any open file: no permission beyond the handle. */
static int op_fsync(struct op *op)
{
	struct wire_fsync b = BODY(op, struct wire_fsync);
	int rc = by_ino(op, b.ino);

	return rc ? rc : ns_fsync(op->ns, op->c, b.ino);
}

/*
 * region_fd_for - the fd a MAP reply attaches: a new open file description of the region,
 * read-write for read-write trust, read-only otherwise. Never the region's own fd: that
 * one holds the region's flock, which would go with it to every client that keeps it (a
 * client could even unlock it under us), and stop a restarted daemon from mounting the
 * region. Reopened through /proc/self/fd, so that it is the same file even if the path
 * now names another.
 */
static int region_fd_for(struct op *op, int *fd, bool *own)
{
	struct region *r = ns_region(op->ns);
	int flags = (op->s->trust == PERM_TRUST_RW ? O_RDWR : O_RDONLY) | O_CLOEXEC;
	char self[64];

	snprintf(self, sizeof(self), "/proc/self/fd/%d", region_fd(r));
	*fd = open(self, flags);
	if (*fd < 0)
		*fd = open(region_path(r), flags);
	if (*fd < 0)
		return -errno;
	*own = true;
	return 0;
}

static int op_map(struct op *op)
{
	struct wire_map b = BODY(op, struct wire_map);
	struct wire_map_reply r = {{0, 0}, 0};
	struct sess *s = op->s;
	struct region *reg = ns_region(op->ns);
	struct sess_grant *sg = NULL;
	struct ns_extent *ext = NULL;
	struct ns_grant *g = NULL;
	bool send_fd, own = false;
	size_t next = 0;
	int fd = -1, rc;

	if (s->trust == PERM_TRUST_NONE)
		return -EPERM;
	if ((b.mode & WIRE_MAP_WRITE) && s->trust != PERM_TRUST_RW)
		return -EPERM;
	/* A mapping is readable; a writable one also needs write permission (the engine's). */
	rc = by_ino(op, b.ino);
	if (rc)
		return rc;
	/* Past the region's size is a range no file can need: bound the work it asks. */
	if (b.len > region_size(reg))
		return -EINVAL;
	send_fd = !__atomic_load_n(&s->region_fd_sent, __ATOMIC_ACQUIRE);
	if (send_fd) {
		rc = region_fd_for(op, &fd, &own);
		if (rc)
			return rc;
	}
	rc = sess_grant_begin(s, &sg);
	if (rc)
		goto err_fd;
	rc = ns_map(op->ns, op->c, b.ino, b.off / REGION_BLOCK_SIZE, b.len / REGION_BLOCK_SIZE,
		    b.mode, &sess_grant_ops, sg, &g, &ext, &next);
	if (rc) {
		/* Parked too: the run that goes on makes its grant record afresh. */
		sess_grant_abort(s, sg);
		goto err_fd;
	}
	if (next > WIRE_MAP_EXTENTS_MAX) {
		/* More runs than one reply holds: the client maps smaller ranges. */
		rc = -E2BIG;
		goto err_grant;
	}
	r.grant = sg->id;
	r.generation = ns_grant_generation(g);
	r.region_size = region_size(reg);
	r.count = (uint32_t)next;
	r.flags = (s->trust != PERM_TRUST_RW ? WIRE_MAP_FD_RDONLY : 0) |
		  (region_mirror(ns_region(op->ns)) ? WIRE_MAP_MIRRORED : 0);
	wire_msg_put(op->m, &r, sizeof(r), false);
	for (size_t i = 0; i < next; i++) {
		struct wire_extent e = {
			.file_off = ext[i].index * REGION_BLOCK_SIZE,
			.region_off = ext[i].block * REGION_BLOCK_SIZE,
			.len = ext[i].count * REGION_BLOCK_SIZE,
			.flags = ((ext[i].flags & NS_EXT_HOLE) ? WIRE_EXT_HOLE : 0) |
				 ((ext[i].flags & NS_EXT_POISON) ? WIRE_EXT_POISON : 0),
		};

		wire_msg_put(op->m, &e, sizeof(e), false);
	}
	rc = op->m->err;
	if (rc)
		goto err_grant;
	rc = sess_grant_commit(s, sg, g);
	if (rc) {
		/* The client went: the grant is ours to delete, before its holder is freed. */
		ns_grant_delete(op->ns, &g);
		sess_grant_free(sg);
		free(ext);
		goto err_fd;
	}
	free(ext);
	/* The fd goes with the first MAP that succeeds; a concurrent one may have won. */
	if (send_fd && !__atomic_exchange_n(&s->region_fd_sent, true, __ATOMIC_ACQ_REL)) {
		op->fd = fd;
		op->fd_own = own;
	} else if (own) {
		close(fd);
	}
	return 0;

err_grant:
	/* Delete the grant first: its callbacks use @sg until then. */
	ns_grant_delete(op->ns, &g);
	sess_grant_abort(s, sg);
	free(ext);
err_fd:
	if (own)
		close(fd);
	return rc;
}

static int op_unmap(struct op *op)
{
	struct wire_unmap b = BODY(op, struct wire_unmap);
	struct sess_grant *sg = sess_grant_take(op->s, b.grant);
	struct ns_grant *g;

	if (!sg)
		return -ENOENT;
	g = __atomic_load_n(&sg->g, __ATOMIC_ACQUIRE);
	ns_grant_delete(op->ns, &g);
	sess_grant_free(sg);
	return 0;
}

#define REPORT_LEN_MAX REGION_HUGE_SIZE		   /* the largest page a SIGBUS reports */
#define REPORT_LOG_NS (10ULL * 1000 * 1000 * 1000) /* one line per kind per 10 s */

/* A report outcome logged at most once per REPORT_LOG_NS, with how many came meanwhile. */
struct report_log {
	uint64_t at;	/* atomic: mono_ns of the last line */
	uint64_t count; /* atomic: since the daemon started */
};

static struct report_log refused_log, unconfirmed_log;

/* report_log_due - count one; true when this thread should write the line now. */
static bool report_log_due(struct report_log *l, uint64_t *count)
{
	uint64_t now = mono_ns(), last = __atomic_load_n(&l->at, __ATOMIC_ACQUIRE);

	*count = __atomic_add_fetch(&l->count, 1, __ATOMIC_RELAXED);
	if (last && now - last < REPORT_LOG_NS)
		return false;
	return __atomic_compare_exchange_n(&l->at, &last, now, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

/* report_refused - log a refused POISON_REPORT, at most one line per REPORT_LOG_NS. */
static void report_refused(struct op *op, const struct wire_poison_report *b, int rc)
{
	uint64_t n;

	if (report_log_due(&refused_log, &n))
		log_notice("session %" PRIu64 " (pid %d, uid %u): refused a poison report for "
			   "grant %" PRIu64 " bytes %" PRIu64 "+%" PRIu64 ": %s (%" PRIu64
			   " refused since start)",
			   op->s->id, (int)op->cred->pid, op->cred->uid, b->grant, b->off, b->len,
			   rc == -ENOENT ? "the session holds no such grant"
					 : "not inside the grant",
			   n);
}

/*
 * POISON_REPORT (DESIGN §5 source 3): the client's library caught SIGBUS on a mapping. A
 * report is evidence, not a command (DESIGN §7): it is taken only for a range inside a
 * grant the session holds, at most a huge page of it (and server.c lets at most 16 per
 * second through); then the daemon reads the blocks behind it itself and quarantines only
 * what faults (poison_check_file_range). A report nothing confirms changes nothing: it is
 * counted and logged (one line per 10 s). No reply when taken, confirmed or not (server.c).
 * Context: a worker (poison_handle waits for entry locks), no engine lock held.
 */
static int op_poison_report(struct op *op)
{
	struct wire_poison_report b = BODY(op, struct wire_poison_report);
	uint64_t ino, goff, glen, n;
	struct poison_check pc;
	int rc;

	rc = sess_grant_range(op->s, b.grant, &ino, &goff, &glen);
	if (rc == 0 && (b.len > REPORT_LEN_MAX || b.off < goff || b.off - goff >= glen ||
			b.len > glen - (b.off - goff)))
		rc = -EINVAL;
	if (rc) {
		report_refused(op, &b, rc);
		return rc;
	}
	rc = poison_check_file_range(op->ns, ino, b.off, b.len, &pc);
	if (rc)
		return rc;
	if (pc.confirmed || pc.known)
		log_info("session %" PRIu64 " (pid %d): poison report for inode %" PRIu64
			 " bytes %" PRIu64 "+%" PRIu64 " confirmed: %" PRIu64
			 " blocks faulted when read, %" PRIu64 " were quarantined already",
			 op->s->id, (int)op->cred->pid, ino, b.off, b.len, pc.confirmed, pc.known);
	if (pc.clean && report_log_due(&unconfirmed_log, &n))
		log_notice("session %" PRIu64 " (pid %d, uid %u): poison report for inode %" PRIu64
			   " bytes %" PRIu64 "+%" PRIu64 " not confirmed: %" PRIu64
			   " blocks read without error; nothing quarantined for them (%" PRIu64
			   " such reports since start)",
			   op->s->id, (int)op->cred->pid, op->cred->uid, ino, b.off, b.len,
			   pc.clean, n);
	return 0;
}

/*
 * MAP_PERSIST: a mapper persisted stores to a range of its grant; copy that range of the
 * region to the replica (DESIGN §13). Any range of a grant the session holds: copying the
 * region's bytes to the replica is what every store does anyway, so a read grant gains
 * nothing but the cost, which WIRE_MAP_PERSIST_MAX bounds per request.
 */
static int op_map_persist(struct op *op)
{
	struct wire_map_persist b = BODY(op, struct wire_map_persist);
	uint64_t ino, goff, glen;
	int rc;

	rc = sess_grant_range(op->s, b.grant, &ino, &goff, &glen);
	if (rc)
		return rc;
	if (b.off < goff || b.off - goff >= glen || b.len > glen - (b.off - goff))
		return -EINVAL;
	return replica_persist_file(op->ns, ino, b.off, b.len);
}

/* REPLICA_ADD / REPLICA_REMOVE: who runs the daemon (the daemon opens the path). */
static int op_replica_add(struct op *op)
{
	if (!perm_is_admin(op->cred))
		return -EPERM;
	log_notice("replica %s: added at the request of pid %d (uid %u)", op->req->path,
		   (int)op->cred->pid, op->cred->uid);
	return replica_add(op->ns, op->req->path);
}

static int op_replica_remove(struct op *op)
{
	if (!perm_is_admin(op->cred))
		return -EPERM;
	log_notice("replica: removed at the request of pid %d (uid %u)", (int)op->cred->pid,
		   op->cred->uid);
	return replica_remove(op->ns);
}

typedef int (*op_fn)(struct op *op);

/* HELLO and ACK are the event loop's (server.c); they never reach a worker. */
/* --- what an operator asks about the media, and fault injection --- */

/* is_admin - root, or the daemon's own user: who may scrub and inject. */
static bool is_admin(const struct op *op)
{
	return perm_is_admin(op->cred);
}

/* EXTENTS: like filefrag, which needs the file open for reading. */
static int op_extents(struct op *op)
{
	struct wire_extents b = BODY(op, struct wire_extents);
	struct wire_extents_reply r = {{0, 0}, 0, 0, 0};
	struct ns_extent *ext;
	struct ns_attr a;
	uint64_t next;
	int n, rc;

	rc = by_ino(op, b.ino);
	if (rc == 0)
		rc = ns_getattr(op->ns, b.ino, &a);
	if (rc == 0)
		rc = S_ISDIR(a.mode) ? -EISDIR : ns_access(op->ns, op->c, b.ino, NS_MAY_READ);
	if (rc)
		return rc;
	ext = malloc(WIRE_MAP_EXTENTS_MAX * sizeof(*ext));
	if (!ext)
		return -ENOMEM;
	n = ns_extents(op->ns, b.ino, b.off / REGION_BLOCK_SIZE, ext, WIRE_MAP_EXTENTS_MAX, &next);
	if (n < 0) {
		free(ext);
		return n;
	}
	r.count = (uint32_t)n;
	r.eof = next == UINT64_MAX;
	r.next_off = r.eof ? 0 : next * REGION_BLOCK_SIZE;
	wire_msg_put(op->m, &r, sizeof(r), false);
	for (int i = 0; i < n; i++) {
		struct wire_extent w = {
			.file_off = ext[i].index * REGION_BLOCK_SIZE,
			.region_off = ext[i].block * REGION_BLOCK_SIZE,
			.len = ext[i].count * REGION_BLOCK_SIZE,
			.flags = ext[i].flags & NS_EXT_POISON ? WIRE_EXT_POISON : 0,
		};

		wire_msg_put(op->m, &w, sizeof(w), false);
	}
	free(ext);
	return op->m->err;
}

/* BADBLOCKS: open to everyone, as the kernel's badblocks attribute is. */
static int op_badblocks(struct op *op)
{
	struct wire_badblocks b = BODY(op, struct wire_badblocks);
	struct wire_badblocks_reply r = {{0, 0}, 0, 0, 0};
	struct poison_bad *bad;
	uint64_t next;
	int n;

	bad = malloc(WIRE_BADBLOCKS_MAX * sizeof(*bad));
	if (!bad)
		return -ENOMEM;
	n = poison_list(op->ns, b.cookie / REGION_BLOCK_SIZE, bad, WIRE_BADBLOCKS_MAX, &next);
	if (n < 0) {
		free(bad);
		return n;
	}
	r.count = (uint32_t)n;
	r.eof = next == UINT64_MAX;
	r.next_cookie = r.eof ? 0 : next * REGION_BLOCK_SIZE;
	wire_msg_put(op->m, &r, sizeof(r), false);
	for (int i = 0; i < n; i++) {
		struct wire_badblock w = {
			.region_off = bad[i].block * REGION_BLOCK_SIZE,
			.len = bad[i].count * REGION_BLOCK_SIZE,
			.ino = bad[i].owned ? bad[i].ino : 0,
			.file_off = bad[i].owned ? bad[i].index * REGION_BLOCK_SIZE : 0,
			.flags = (bad[i].owned ? WIRE_BB_OWNED : 0) |
				 (bad[i].flags & POISON_BAD_METADATA ? WIRE_BB_METADATA : 0) |
				 (bad[i].flags & POISON_BAD_REPAIRED ? WIRE_BB_REPAIRED : 0),
		};

		wire_msg_put(op->m, &w, sizeof(w), false);
	}
	free(bad);
	return op->m->err;
}

/* SCRUB: reads the whole data in use; only for who runs the daemon. */
static int op_scrub(struct op *op)
{
	struct wire_scrub_reply r = {{0, 0}, 0, 0, 0, 0};
	struct poison_scrub_result res;
	int rc;

	if (!is_admin(op))
		return -EPERM;
	rc = poison_scrub(op->ns, &res);
	if (rc)
		return rc;
	r.blocks_read = res.blocks_read;
	r.blocks_bad = res.blocks_bad;
	r.bytes_read = res.bytes_read;
	r.usec = res.usec;
	wire_msg_put(op->m, &r, sizeof(r), false);
	return op->m->err;
}

/* The data area one SCRUB_RANGE reads at most: it holds a worker a bounded time. */
#define SCRUB_RANGE_MAX (1ull << 30)

/*
 * scrub_span - what a SCRUB_RANGE or SCRUB_REPLICA request from data-area byte @cursor for
 * about @len bytes covers: *@count blocks, up to byte *@end of the *@total. Only for who
 * runs the daemon. Return: 0; -EPERM; -EINVAL (@cursor unaligned or past the end).
 */
static int scrub_span(struct op *op, uint64_t cursor, uint64_t len, uint64_t *total,
		      uint64_t *count, uint64_t *end)
{
	if (!is_admin(op))
		return -EPERM;
	*total = poison_scrub_blocks(op->ns) * REGION_BLOCK_SIZE;
	if (cursor % REGION_BLOCK_SIZE || cursor >= *total)
		return -EINVAL;
	*count = DIV_ROUND_UP(MIN(len, SCRUB_RANGE_MAX), REGION_BLOCK_SIZE);
	*end = MIN(cursor + *count * REGION_BLOCK_SIZE, *total);
	return 0;
}

/* SCRUB_RANGE: SCRUB of a part of the data area, so that a client can show progress. */
static int op_scrub_range(struct op *op)
{
	struct wire_scrub_range b = BODY(op, struct wire_scrub_range);
	struct wire_scrub_range_reply r = {{0, 0}, 0, 0, 0, 0, 0, 0};
	struct poison_scrub_result res;
	uint64_t total, count, end;
	int rc;

	rc = scrub_span(op, b.cursor, b.len, &total, &count, &end);
	if (rc)
		return rc;
	rc = poison_scrub_range(op->ns, b.cursor / REGION_BLOCK_SIZE, count, &res);
	if (rc)
		return rc;
	log_info("scrub of bytes %" PRIu64 "..%" PRIu64 " of the data area by pid %d: %" PRIu64
		 " blocks read, %" PRIu64 " newly poisoned",
		 b.cursor, end, (int)op->cred->pid, res.blocks_read, res.blocks_bad);
	r.next = end;
	r.total = total;
	r.blocks_read = res.blocks_read;
	r.blocks_bad = res.blocks_bad;
	r.bytes_read = res.bytes_read;
	r.usec = res.usec;
	wire_msg_put(op->m, &r, sizeof(r), false);
	return op->m->err;
}

/* SCRUB_REPLICA: the replica's copy, as SCRUB_RANGE reads the region's. */
static int op_scrub_replica(struct op *op)
{
	struct wire_scrub_replica b = BODY(op, struct wire_scrub_replica);
	struct wire_scrub_replica_reply r;
	struct replica_scrub_result res;
	uint64_t total, count, end;
	int rc;

	rc = scrub_span(op, b.cursor, b.len, &total, &count, &end);
	if (rc)
		return rc;
	rc = replica_scrub_range(op->ns, b.cursor / REGION_BLOCK_SIZE, count,
				 b.flags & WIRE_SCRUB_COMPARE, &res);
	if (rc)
		return rc;
	memset(&r, 0, sizeof(r));
	r.next = end;
	r.total = total;
	r.blocks_read = res.blocks_read;
	r.blocks_bad = res.blocks_bad;
	r.blocks_unrepaired = res.blocks_unrepaired;
	r.blocks_skipped = res.blocks_skipped;
	r.differ = res.differ;
	r.ndiff = (uint32_t)MIN(res.differ, (uint64_t)WIRE_SCRUB_DIFF_MAX);
	memcpy(r.diff, res.diff, r.ndiff * sizeof(r.diff[0]));
	if (res.blocks_bad || res.differ)
		log_notice("replica scrub of bytes %" PRIu64 "..%" PRIu64
			   " of the data area: %" PRIu64 " blocks poisoned in the replica (%" PRIu64
			   " not repaired), %" PRIu64 " differ from the region",
			   b.cursor, end, res.blocks_bad, res.blocks_unrepaired, res.differ);
	wire_msg_put(op->m, &r, sizeof(r), false);
	return op->m->err;
}

/* STATS: the daemon's metrics (daemon/metrics.c), open to every client as STATFS is. */
static int op_stats(struct op *op)
{
	struct wire_stats_reply r = {{0, 0}, 0};
	ssize_t n;

	if (!op->s->shm)
		return -EINVAL;
	n = metrics_render(op->ns, op->s->shm, WIRE_SHM_SIZE);
	if (n < 0)
		return (int)n;
	r.len = (uint64_t)n;
	op->rflags |= WIRE_F_SHM;
	wire_msg_put(op->m, &r, sizeof(r), false);
	return op->m->err;
}

/*
 * BADBLOCK_CLEAR: root or the daemon's user returns a quarantined range to use
 * (poison_clear: cleared on the media, zeroed, read back, then out of the quarantine with
 * a checkpoint). Blocks a poisoned file page still sits on are refused (EBUSY); the log
 * names the file's inode, `daxfs badblocks` its path.
 */
static int op_badblock_clear(struct op *op)
{
	struct wire_badblock_clear b = BODY(op, struct wire_badblock_clear);
	struct wire_badblock_clear_reply r = {{0, 0}, 0};
	struct poison_clear_info info;
	int rc;

	if (!is_admin(op))
		return -EPERM;
	if (b.off % REGION_BLOCK_SIZE || b.len % REGION_BLOCK_SIZE)
		return -EINVAL;
	rc = poison_clear(op->ns, b.off / REGION_BLOCK_SIZE, b.len / REGION_BLOCK_SIZE, &info);
	if (rc == -EBUSY && info.owned)
		log_notice("bad blocks %" PRIu64 "+%" PRIu64 " not cleared for pid %d (uid %u): "
			   "page %" PRIu64 " of inode %" PRIu64 " still sits on block %" PRIu64
			   " (rewrite that page or remove the file first)",
			   b.off, b.len, (int)op->cred->pid, op->cred->uid, info.index, info.ino,
			   info.block);
	else if (rc)
		log_notice("bad blocks %" PRIu64 "+%" PRIu64 " not cleared for pid %d (uid %u): "
			   "%s (block %" PRIu64 ")",
			   b.off, b.len, (int)op->cred->pid, op->cred->uid, strerror(-rc),
			   info.block);
	else
		log_notice("bad blocks %" PRIu64 "+%" PRIu64 " returned to use by pid %d (uid %u)",
			   b.off, b.len, (int)op->cred->pid, op->cred->uid);
	if (rc)
		return rc;
	r.blocks = b.len / REGION_BLOCK_SIZE;
	wire_msg_put(op->m, &r, sizeof(r), false);
	return op->m->err;
}

/*
 * MOUNT, UMOUNT: root or the daemon's user has daxfsd serve (or stop serving) a FUSE mount
 * (docs/fuse.md). The daemon's mounter does the work and logs what failed.
 */
static int op_mount(struct op *op)
{
	const struct srv_mounter *mo = srv_get_mounter(op->s->srv);
	int rc;

	if (!is_admin(op))
		return -EPERM;
	if (!mo)
		return -EOPNOTSUPP;
	rc = mo->mount(mo->ctx, op->req->path, op->req->path2);
	if (rc == 0)
		log_notice("fuse: mount on %s asked for by pid %d (uid %u)", op->req->path,
			   (int)op->cred->pid, op->cred->uid);
	return rc;
}

static int op_umount(struct op *op)
{
	const struct srv_mounter *mo = srv_get_mounter(op->s->srv);

	if (!is_admin(op))
		return -EPERM;
	if (!mo)
		return -EOPNOTSUPP;
	log_notice("fuse: unmount of %s asked for by pid %d (uid %u)", op->req->path,
		   (int)op->cred->pid, op->cred->uid);
	return mo->umount(mo->ctx, op->req->path);
}

/* The longest delay a point may be given: every wait in the daemon stays bounded. */
#define INJECT_DELAY_MAX_US (10u * 1000 * 1000)

static int op_inject(struct op *op)
{
	struct wire_inject b = BODY(op, struct wire_inject);
	struct wire_inject_reply r = {{0, 0}, 0};
	int point = -1, rc = 0;
	int64_t n;

	if (!fault_enabled() || !is_admin(op))
		return -EPERM;
	/* Its replies, this one first, stay out of reach of an injected send failure. */
	__atomic_store_n(&op->s->injector, true, __ATOMIC_RELAXED);
	if (b.point[0]) {
		point = fault_point_lookup(b.point);
		if (point < 0)
			return -ENOENT;
	}
	switch (b.kind) {
	case WIRE_INJECT_POISON:
		/* A media error: the bytes fault from now on, and the daemon is told of it. */
		if (point >= 0)
			return -EINVAL;
		rc = region_simulate_poison(ns_region(op->ns), b.arg0, b.arg1);
		if (rc)
			return rc;
		n = poison_handle(op->ns, b.arg0, b.arg1, POISON_SRC_INJECTED, NULL, NULL);
		if (n < 0)
			return (int)n;
		r.value = (uint64_t)n;
		break;
	case WIRE_INJECT_REPLICA:
		if (point >= 0)
			return -EINVAL;
		rc = replica_inject_media(op->ns, b.arg0, b.arg1);
		break;
	case WIRE_INJECT_MEDIA:
		/* The same media error, but nobody has noticed it: the next read will. */
		if (point >= 0)
			return -EINVAL;
		rc = region_simulate_poison(ns_region(op->ns), b.arg0, b.arg1);
		if (rc)
			return rc;
		break;
	case WIRE_INJECT_FAIL:
		if (point < 0 || b.arg1 < 1 || b.arg1 > 4095)
			return -EINVAL;
		rc = fault_set_fail(point, b.arg0, (int)b.arg1);
		break;
	case WIRE_INJECT_DELAY:
		if (point < 0 || b.arg0 > INJECT_DELAY_MAX_US)
			return -EINVAL;
		rc = fault_set_delay(point, (uint32_t)b.arg0);
		break;
	case WIRE_INJECT_CRASH:
		rc = point >= 0 ? fault_set_crash(point) : fault_set_crash_persist(b.arg0);
		break;
	case WIRE_INJECT_CLEAR:
		if (point >= 0)
			return -EINVAL;
		fault_clear();
		break;
	default:
		return -EINVAL;
	}
	if (rc)
		return rc;
	log_notice("fault injection by pid %d (uid %u): %s %s %" PRIu64 " %" PRIu64,
		   (int)op->cred->pid, op->cred->uid, wire_inject_kind_name(b.kind),
		   point >= 0 ? b.point : "-", b.arg0, b.arg1);
	wire_msg_put(op->m, &r, sizeof(r), false);
	return op->m->err;
}

static const op_fn op_table[WIRE_OP_MAX] = {
	[WIRE_STATFS] = op_statfs,
	[WIRE_STAT] = op_stat,
	[WIRE_LINK] = op_link,
	[WIRE_SYMLINK] = op_symlink,
	[WIRE_READLINK] = op_readlink,
	[WIRE_MKNOD] = op_mknod,
	[WIRE_GETXATTR] = op_getxattr,
	[WIRE_SETXATTR] = op_setxattr,
	[WIRE_LISTXATTR] = op_listxattr,
	[WIRE_REMOVEXATTR] = op_removexattr,
	[WIRE_GETATTR] = op_getattr,
	[WIRE_MKDIR] = op_mkdir,
	[WIRE_CREATE] = op_create,
	[WIRE_UNLINK] = op_unlink,
	[WIRE_RMDIR] = op_rmdir,
	[WIRE_RENAME] = op_rename,
	[WIRE_SETATTR] = op_setattr,
	[WIRE_READDIR] = op_readdir,
	[WIRE_READ] = op_read,
	[WIRE_WRITE] = op_write,
	[WIRE_FALLOCATE] = op_fallocate,
	[WIRE_FSYNC] = op_fsync,
	[WIRE_MAP] = op_map,
	[WIRE_UNMAP] = op_unmap,
	[WIRE_EXTENTS] = op_extents,
	[WIRE_BADBLOCKS] = op_badblocks,
	[WIRE_SCRUB] = op_scrub,
	[WIRE_INJECT] = op_inject,
	[WIRE_POISON_REPORT] = op_poison_report,
	[WIRE_STATS] = op_stats,
	[WIRE_REPLICA] = op_replica,
	[WIRE_MAP_PERSIST] = op_map_persist,
	[WIRE_REPLICA_ADD] = op_replica_add,
	[WIRE_REPLICA_REMOVE] = op_replica_remove,
	[WIRE_SCRUB_RANGE] = op_scrub_range,
	[WIRE_SCRUB_REPLICA] = op_scrub_replica,
	[WIRE_BADBLOCK_CLEAR] = op_badblock_clear,
	[WIRE_MOUNT] = op_mount,
	[WIRE_UMOUNT] = op_umount,
};

size_t ops_error_reply(void *buf, const struct wire_hdr *hdr, int err)
{
	struct wire_reply r = {.status = err};
	int size = wire_reply_size(hdr->op);
	struct wire_msg m;

	/* A status is -1..-4095; anything else would be our bug, not the client's. */
	if (err >= 0 || err < -4095)
		r.status = -EIO;
	wire_msg_init(&m, buf, WIRE_REPLY | hdr->op, 0, hdr->id);
	wire_msg_put(&m, &r, sizeof(r), false);
	if (size > (int)sizeof(r))
		wire_msg_put(&m, NULL, (size_t)size - sizeof(r), false);
	return wire_msg_end(&m);
}

size_t ops_run(struct sess *s, const struct wire_req *req, struct ns_ctx *c, void *buf, int *fd,
	       bool *fd_own)
{
	struct wire_msg m;
	struct op op = {
		.s = s,
		.ns = s->ns,
		.cred = &s->cred,
		.c = c,
		.req = req,
		.m = &m,
		.fd = -1,
	};
	unsigned code = req->hdr.op;
	op_fn fn = code < WIRE_OP_MAX ? op_table[code] : NULL;
	struct wire_hdr *h;
	int rc;

	*fd = -1;
	*fd_own = false;
	wire_msg_init(&m, buf, WIRE_REPLY | code, 0, req->hdr.id);
	rc = fn ? fn(&op) : -EPROTO;
	if (rc == NS_WAIT) {
		if (op.fd_own)
			close(op.fd);
		return 0;
	}
	if (rc == 0 && m.err)
		rc = m.err;
	if (rc) {
		if (op.fd_own)
			close(op.fd);
		return ops_error_reply(buf, &req->hdr, rc);
	}
	if (m.len == sizeof(struct wire_hdr))
		wire_msg_put(&m, &(struct wire_reply){0, 0}, sizeof(struct wire_reply), false);
	h = (struct wire_hdr *)buf;
	h->flags = op.rflags | (op.fd >= 0 ? WIRE_F_FD : 0);
	*fd = op.fd;
	*fd_own = op.fd_own;
	return wire_msg_end(&m);
}

size_t ops_hello(struct sess *s, const struct wire_req *req, void *buf, int *fd, int *status)
{
	struct wire_hello b;
	struct wire_hello_reply r = {{0, 0}, 0};
	struct wire_msg m;
	size_t size;
	void *map;
	int mfd, rc;

	*fd = -1;
	memcpy(&b, req->body, sizeof(b));
	if (b.version != WIRE_VERSION) {
		rc = -EPROTO;
		goto err;
	}
	/*
	 * Sealed against shrinking: the client cannot make our mapping of it fault (SIGBUS)
	 * by truncating it.
	 */
	mfd = memfd_create("daxfs-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0) {
		rc = -errno;
		goto err;
	}
	/* A ring (common/ring.h) follows the shared buffer in the same memfd. */
	size = WIRE_SHM_SIZE + ((b.flags & WIRE_HELLO_F_RING) ? RING_SIZE : 0);
	if (ftruncate(mfd, (off_t)size) < 0 ||
	    fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		rc = -errno;
		goto err_close;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (map == MAP_FAILED) {
		rc = -errno;
		goto err_close;
	}
	s->shm = map;
	s->shm_size = size;
	if (b.flags & WIRE_HELLO_F_RING) {
		s->ring_area = (uint8_t *)map + WIRE_SHM_SIZE;
		ring_init(s->ring_area);
	}
	r.version = WIRE_VERSION;
	r.msg_max = WIRE_MSG_MAX;
	r.inflight_max = WIRE_INFLIGHT_MAX;
	r.inline_max = WIRE_INLINE_MAX;
	r.shm_size = WIRE_SHM_SIZE;
	r.session = s->id;
	wire_msg_init(&m, buf, WIRE_REPLY | WIRE_HELLO, WIRE_F_FD, req->hdr.id);
	wire_msg_put(&m, &r, sizeof(r), false);
	*fd = mfd;
	*status = 0;
	return wire_msg_end(&m);

err_close:
	close(mfd);
err:
	*status = rc;
	return ops_error_reply(buf, &req->hdr, rc);
}
