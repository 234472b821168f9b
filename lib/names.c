// SPDX-License-Identifier: MIT
/*
 * libdaxfs calls: names and attributes, and copy I/O (inline, or through the shared buffer).
 * Each is one request (or a loop of them) on a slot of session.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll, MSG_CMSG_CLOEXEC, MAP_NORESERVE, GNU strerror_r */
#endif
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "libdaxfs-private.h"
#include "util.h"

#define HDR_SIZE sizeof(struct wire_hdr)
#define READDIR_BATCH 1024

/* --- names and attributes --- */

/* path_size - bytes of @path with its NUL, checked against the protocol's limit. */
static int path_size(const char *path, uint32_t *out)
{
	size_t n;

	if (!path)
		return lib_err(-EINVAL, "no path");
	/* The daemon would refuse it as a malformed message (EBADMSG): say what it is. */
	if (path[0] != '/')
		return lib_err(-EINVAL, "'%.64s': not an absolute path", path);
	n = strlen(path) + 1;
	if (n > WIRE_PATH_MAX)
		return lib_err(-ENAMETOOLONG, "%.64s...: path longer than %d bytes", path,
			       WIRE_PATH_MAX - 1);
	*out = (uint32_t)n;
	return 0;
}

static void attr_to_stat(const struct wire_attr *a, struct daxfs_stat *st)
{
	st->ino = a->ino;
	st->mode = a->mode;
	st->uid = a->uid;
	st->gid = a->gid;
	st->nlink = a->nlink;
	st->size = a->size;
	st->blocks = a->blocks;
	st->atime_ns = a->atime;
	st->mtime_ns = a->mtime;
	st->ctime_ns = a->ctime;
}

int lib_path_size(const char *path, uint32_t *out)
{
	return path_size(path, out);
}

int lib_call_attr(struct daxfs *fs, unsigned op, const void *body, size_t blen, const char *p1,
		  uint32_t l1, const char *p2, uint32_t l2, const char *what,
		  struct wire_attr *attr)
{
	struct wire_attr_reply rep;
	struct lib_slot *s;
	struct wire_msg m;
	int ret;

	ret = lib_slot_get(fs, &s);
	if (ret < 0)
		return ret;
	wire_msg_init(&m, s->req, op, 0, s->id);
	if (blen)
		wire_msg_put(&m, body, blen, false);
	if (p1)
		wire_msg_put(&m, p1, l1, false);
	if (p2)
		wire_msg_put(&m, p2, l2, false);
	ret = lib_call(fs, s, &m, op, what);
	if (ret == 0 && attr) {
		memcpy(&rep, lib_reply_body(s), sizeof(rep));
		*attr = rep.a;
	}
	lib_slot_put(fs, s);
	return ret;
}

/*
 * call - one request: @body (@blen bytes) followed by up to two counted paths; @what names
 * the object in error details. The reply's attr goes to @st when @st is not NULL.
 */
static int call(struct daxfs *fs, unsigned op, const void *body, size_t blen, const char *p1,
		uint32_t l1, const char *p2, uint32_t l2, const char *what, struct daxfs_stat *st)
{
	struct wire_attr a;
	int ret = lib_call_attr(fs, op, body, blen, p1, l1, p2, l2, what, st ? &a : NULL);

	if (ret == 0 && st)
		attr_to_stat(&a, st);
	return ret;
}

/* ino_call - a request about inode @ino whose body is @body. */
static int ino_call(struct daxfs *fs, unsigned op, const void *body, size_t blen, uint64_t ino,
		    struct daxfs_stat *st)
{
	char what[32];

	snprintf(what, sizeof(what), "inode %llu", (unsigned long long)ino);
	return call(fs, op, body, blen, NULL, 0, NULL, 0, what, st);
}

/* path_call - a request whose body is one wire_path; the reply's attr goes to @st. */
static int path_call(struct daxfs *fs, unsigned op, const char *path, struct daxfs_stat *st)
{
	struct wire_path p = {0};
	int ret;

	if (!fs)
		return lib_err(-EINVAL, "no handle");
	ret = path_size(path, &p.path_len);
	if (ret < 0)
		return ret;
	return call(fs, op, &p, sizeof(p), path, p.path_len, NULL, 0, path, st);
}

int daxfs_stat(struct daxfs *fs, const char *path, struct daxfs_stat *st)
{
	if (!st)
		return lib_err(-EINVAL, "daxfs_stat: no stat buffer");
	return path_call(fs, WIRE_STAT, path, st);
}

int daxfs_getattr(struct daxfs *fs, uint64_t ino, struct daxfs_stat *st)
{
	struct wire_getattr g = {.ino = ino};

	if (!fs || !st)
		return lib_err(-EINVAL, "daxfs_getattr: no handle or stat buffer");
	return ino_call(fs, WIRE_GETATTR, &g, sizeof(g), ino, st);
}

int daxfs_statfs(struct daxfs *fs, struct daxfs_statfs *st)
{
	struct wire_statfs_reply rep;
	struct lib_slot *s;
	struct wire_msg m;
	int ret;

	if (!fs || !st)
		return lib_err(-EINVAL, "daxfs_statfs: no handle or statfs buffer");
	ret = lib_slot_get(fs, &s);
	if (ret < 0)
		return ret;
	wire_msg_init(&m, s->req, WIRE_STATFS, 0, s->id);
	ret = lib_call(fs, s, &m, WIRE_STATFS, NULL);
	if (ret == 0) {
		memcpy(&rep, lib_reply_body(s), sizeof(rep));
		st->block_size = rep.block_size;
		st->blocks = rep.blocks;
		st->blocks_free = rep.blocks_free;
		st->blocks_quarantined = rep.blocks_quarantined;
		st->files = rep.files;
		st->files_free = rep.files_free;
		st->log_used = rep.log_used;
		st->log_len = rep.log_len;
		st->map_trust = (int)MIN(rep.map_trust, 2u);
		snprintf(st->kind, sizeof(st->kind), "%s", wire_kind_name(rep.kind));
		snprintf(st->granularity, sizeof(st->granularity), "%s",
			 wire_granularity_name(rep.granularity));
		st->alignment = rep.alignment;
		st->blocks_reserved = rep.blocks_reserved;
		st->log_reserved = rep.log_reserved;
	}
	lib_slot_put(fs, s);
	return ret;
}

/* mknode - MKDIR or CREATE. */
static int mknode(struct daxfs *fs, unsigned op, const char *path, uint32_t mode, uint32_t flags,
		  struct daxfs_stat *st)
{
	struct wire_mknode n = {.mode = mode & 07777, .flags = flags};
	int ret;

	if (!fs)
		return lib_err(-EINVAL, "no handle");
	ret = path_size(path, &n.path_len);
	if (ret < 0)
		return ret;
	return call(fs, op, &n, sizeof(n), path, n.path_len, NULL, 0, path, st);
}

int daxfs_mkdir(struct daxfs *fs, const char *path, uint32_t mode, struct daxfs_stat *st)
{
	return mknode(fs, WIRE_MKDIR, path, mode, 0, st);
}

int daxfs_create(struct daxfs *fs, const char *path, uint32_t mode, int flags,
		 struct daxfs_stat *st)
{
	struct daxfs_stat cur;
	int ret;

	if (flags & ~DAXFS_CREATE_EXCL)
		return lib_err(-EINVAL, "daxfs_create: unknown flags 0x%x", (unsigned)flags);
	ret = mknode(fs, WIRE_CREATE, path, mode,
		     (flags & DAXFS_CREATE_EXCL) ? WIRE_CREATE_EXCL : 0, st);
	if (ret != -EEXIST || (flags & DAXFS_CREATE_EXCL))
		return ret;
	/* Without EXCL an existing file is the answer, whatever the daemon's CREATE does. */
	ret = daxfs_stat(fs, path, &cur);
	if (ret < 0)
		return ret;
	if (S_ISDIR(cur.mode))
		return lib_err(-EISDIR, "CREATE %s: a directory", path);
	if (!S_ISREG(cur.mode))
		return lib_err(-EEXIST, "CREATE %s: exists and is not a regular file", path);
	if (st)
		*st = cur;
	return 0;
}

int daxfs_unlink(struct daxfs *fs, const char *path)
{
	return path_call(fs, WIRE_UNLINK, path, NULL);
}

int daxfs_rmdir(struct daxfs *fs, const char *path)
{
	return path_call(fs, WIRE_RMDIR, path, NULL);
}

int daxfs_rename(struct daxfs *fs, const char *oldpath, const char *newpath, int flags)
{
	struct wire_rename r = {.flags = (uint32_t)flags};
	int ret;

	if (!fs)
		return lib_err(-EINVAL, "no handle");
	if (flags & ~(DAXFS_RENAME_NOREPLACE | DAXFS_RENAME_EXCHANGE))
		return lib_err(-EINVAL, "daxfs_rename: unknown flags 0x%x", (unsigned)flags);
	ret = path_size(oldpath, &r.old_len);
	if (ret == 0)
		ret = path_size(newpath, &r.new_len);
	if (ret < 0)
		return ret;
	return call(fs, WIRE_RENAME, &r, sizeof(r), oldpath, r.old_len, newpath, r.new_len, oldpath,
		    NULL);
}

#define SET_ALL                                                                              \
	(DAXFS_SET_MODE | DAXFS_SET_UID | DAXFS_SET_GID | DAXFS_SET_SIZE | DAXFS_SET_ATIME | \
	 DAXFS_SET_MTIME | DAXFS_SET_ATIME_NOW | DAXFS_SET_MTIME_NOW)

int daxfs_setattr(struct daxfs *fs, uint64_t ino, unsigned valid, const struct daxfs_stat *to,
		  struct daxfs_stat *st)
{
	struct wire_setattr a = {.ino = ino, .valid = valid};

	if (!fs)
		return lib_err(-EINVAL, "no handle");
	if (valid & ~(unsigned)SET_ALL)
		return lib_err(-EINVAL, "daxfs_setattr: unknown bits 0x%x", valid);
	if ((valid & ~(unsigned)(DAXFS_SET_ATIME_NOW | DAXFS_SET_MTIME_NOW)) && !to)
		return lib_err(-EINVAL, "daxfs_setattr: no attributes to set");
	if (to) {
		a.mode = to->mode & 07777;
		a.uid = to->uid;
		a.gid = to->gid;
		a.size = to->size;
		a.atime = to->atime_ns;
		a.mtime = to->mtime_ns;
	}
	return ino_call(fs, WIRE_SETATTR, &a, sizeof(a), ino, st);
}

int daxfs_truncate(struct daxfs *fs, const char *path, uint64_t size)
{
	struct daxfs_stat st, to = {.size = size};
	int ret;

	ret = daxfs_stat(fs, path, &st);
	if (ret < 0)
		return ret;
	return daxfs_setattr(fs, st.ino, DAXFS_SET_SIZE, &to, NULL);
}

/* readdir_batch - call @fn for the entries of one READDIR reply in @s. */
static int readdir_batch(struct lib_slot *s, uint32_t count, daxfs_readdir_fn fn, void *ctx)
{
	size_t off = HDR_SIZE + sizeof(struct wire_readdir_reply);
	char name[WIRE_NAME_MAX + 1];

	for (uint32_t i = 0; i < count; i++) {
		struct wire_dirent d;
		int ret;

		if (off > s->len || s->len - off < sizeof(d))
			return lib_err(-EPROTO, "READDIR: truncated entry list");
		memcpy(&d, s->buf + off, sizeof(d));
		if (d.name_len == 0 || d.name_len > WIRE_NAME_MAX ||
		    s->len - off - sizeof(d) < d.name_len)
			return lib_err(-EPROTO, "READDIR: a bad entry");
		memcpy(name, s->buf + off + sizeof(d), d.name_len);
		name[d.name_len] = '\0';
		off += ALIGN_UP(sizeof(d) + d.name_len, (size_t)8);
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		ret = fn(ctx, name, d.ino, d.mode);
		if (ret)
			return ret;
	}
	return 0;
}

int daxfs_readdir(struct daxfs *fs, const char *path, daxfs_readdir_fn fn, void *ctx)
{
	struct wire_readdir r = {.max = READDIR_BATCH};
	struct wire_readdir_reply rep;
	struct lib_slot *s;
	struct wire_msg m;
	int ret;

	if (!fs || !fn)
		return lib_err(-EINVAL, "daxfs_readdir: no handle or callback");
	ret = path_size(path, &r.path_len);
	if (ret < 0)
		return ret;
	for (;;) {
		ret = lib_slot_get(fs, &s);
		if (ret < 0)
			return ret;
		wire_msg_init(&m, s->req, WIRE_READDIR, 0, s->id);
		wire_msg_put(&m, &r, sizeof(r), false);
		wire_msg_put(&m, path, r.path_len, false);
		ret = lib_call(fs, s, &m, WIRE_READDIR, path);
		if (ret < 0)
			break;
		memcpy(&rep, lib_reply_body(s), sizeof(rep));
		ret = readdir_batch(s, rep.count, fn, ctx);
		if (ret)
			break;
		if (rep.eof)
			break;
		if (rep.next_cookie == r.cookie) {
			ret = lib_err(-EPROTO, "READDIR %s: the listing does not advance", path);
			break;
		}
		r.cookie = rep.next_cookie;
		lib_slot_put(fs, s);
	}
	lib_slot_put(fs, s);
	return ret;
}

/* --- copy I/O --- */

/*
 * io_once - one READ or WRITE of @len bytes at @off: inline, or through the shared buffer
 * when @shm (the caller holds fs->shm_lock).
 * Return: bytes read / written; a negative errno.
 */
static ssize_t io_once(struct daxfs *fs, unsigned op, uint64_t ino, void *rbuf, const void *wbuf,
		       size_t len, uint64_t off, bool shm)
{
	struct wire_io io = {.ino = ino, .off = off, .len = (uint32_t)len};
	struct wire_io_reply rep;
	struct wire_hdr hdr;
	struct lib_slot *s;
	struct wire_msg m;
	char what[48];
	ssize_t ret;

	ret = lib_slot_get(fs, &s);
	if (ret < 0)
		return ret;
	snprintf(what, sizeof(what), "inode %llu at %llu", (unsigned long long)ino,
		 (unsigned long long)off);
	wire_msg_init(&m, s->req, op, shm ? WIRE_F_SHM : 0, s->id);
	wire_msg_put(&m, &io, sizeof(io), false);
	if (op == WIRE_WRITE) {
		if (shm)
			memcpy(fs->shm, wbuf, len);
		else
			wire_msg_put(&m, wbuf, len, false);
	}
	ret = lib_call(fs, s, &m, op, what);
	if (ret < 0)
		goto out;
	memcpy(&hdr, s->buf, HDR_SIZE);
	memcpy(&rep, lib_reply_body(s), sizeof(rep));
	if (rep.count > len) {
		ret = lib_err(-EPROTO, "%s %s: %llu bytes for a request of %zu", wire_op_name(op),
			      what, (unsigned long long)rep.count, len);
		goto out;
	}
	if (op == WIRE_READ) {
		size_t inline_at = HDR_SIZE + sizeof(rep);

		if (hdr.flags & WIRE_F_SHM) {
			if (!shm) {
				ret = lib_err(-EPROTO, "READ %s: data in a shared buffer not ours",
					      what);
				goto out;
			}
			memcpy(rbuf, fs->shm, rep.count);
		} else {
			if (s->len - inline_at != rep.count) {
				ret = lib_err(-EPROTO, "READ %s: inline data of the wrong size",
					      what);
				goto out;
			}
			memcpy(rbuf, s->buf + inline_at, rep.count);
		}
	}
	ret = (ssize_t)rep.count;
out:
	lib_slot_put(fs, s);
	return ret;
}

/* io_loop - the whole of a daxfs_pread / daxfs_pwrite. */
static ssize_t io_loop(struct daxfs *fs, unsigned op, uint64_t ino, void *rbuf, const void *wbuf,
		       size_t len, uint64_t off)
{
	/* Inline up to what one ring slot holds while the ring serves, else the socket's. */
	size_t inline_max = fs->ring && (!__atomic_load_n(&fs->nmaps, __ATOMIC_ACQUIRE) ||
					 __atomic_load_n(&fs->ev_on, __ATOMIC_ACQUIRE))
				    ? MIN((size_t)fs->inline_max, lib_ring_inline_max())
				    : fs->inline_max;
	bool shm = fs->shm && len > inline_max;
	size_t chunk_max = shm ? MIN(fs->shm_size, (size_t)WIRE_SHM_SIZE) : inline_max;
	size_t done = 0;
	ssize_t ret = 0;

	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	if (shm)
		pthread_mutex_lock(&fs->shm_lock);
	while (done < len) {
		size_t chunk = MIN(len - done, chunk_max);

		ret = io_once(fs, op, ino, rbuf ? (char *)rbuf + done : NULL,
			      wbuf ? (const char *)wbuf + done : NULL, chunk, off + done, shm);
		if (ret < 0)
			break;
		done += (size_t)ret;
		if ((size_t)ret < chunk)
			break;
	}
	if (shm)
		pthread_mutex_unlock(&fs->shm_lock);
	/* As pread(2): an error after some bytes is a short count. */
	return done > 0 ? (ssize_t)done : (ret < 0 ? ret : 0);
}

ssize_t daxfs_pread(struct daxfs *fs, uint64_t ino, void *buf, size_t len, uint64_t off)
{
	if (!fs || (!buf && len))
		return lib_err(-EINVAL, "daxfs_pread: no handle or buffer");
	if (len == 0)
		return 0;
	return io_loop(fs, WIRE_READ, ino, buf, NULL, len, off);
}

ssize_t daxfs_pwrite(struct daxfs *fs, uint64_t ino, const void *buf, size_t len, uint64_t off)
{
	if (!fs || (!buf && len))
		return lib_err(-EINVAL, "daxfs_pwrite: no handle or buffer");
	if (len == 0)
		return 0;
	return io_loop(fs, WIRE_WRITE, ino, NULL, buf, len, off);
}

int daxfs_fallocate(struct daxfs *fs, uint64_t ino, int mode, uint64_t off, uint64_t len)
{
	struct wire_fallocate f = {.ino = ino, .mode = (uint32_t)mode, .off = off, .len = len};

	if (!fs)
		return lib_err(-EINVAL, "no handle");
	if (mode & ~(DAXFS_FALLOC_KEEP_SIZE | DAXFS_FALLOC_PUNCH_HOLE))
		return lib_err(-EINVAL, "daxfs_fallocate: unknown mode 0x%x", (unsigned)mode);
	return ino_call(fs, WIRE_FALLOCATE, &f, sizeof(f), ino, NULL);
}

int daxfs_fsync(struct daxfs *fs, uint64_t ino)
{
	struct wire_fsync f = {.ino = ino};

	if (!fs)
		return lib_err(-EINVAL, "no handle");
	return ino_call(fs, WIRE_FSYNC, &f, sizeof(f), ino, NULL);
}
