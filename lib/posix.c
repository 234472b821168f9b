// SPDX-License-Identifier: MIT
/*
 * libdaxfs: what format version 2 added (docs/protocol.md, ops 25..32): statx with rdev and
 * lstat, hard and symbolic links, special files, extended attributes, and O_APPEND writes.
 * Values and lists larger than an inline message go through the session's shared buffer,
 * under fs->shm_lock as READ and WRITE do.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "libdaxfs-private.h"
#include "util.h"

static void to_statx(const struct wire_attr *a, struct daxfs_statx *stx)
{
	memset(stx, 0, sizeof(*stx));
	stx->st.ino = a->ino;
	stx->st.mode = a->mode;
	stx->st.uid = a->uid;
	stx->st.gid = a->gid;
	stx->st.nlink = a->nlink;
	stx->st.size = a->size;
	stx->st.blocks = a->blocks;
	stx->st.atime_ns = a->atime;
	stx->st.mtime_ns = a->mtime;
	stx->st.ctime_ns = a->ctime;
	stx->rdev = a->rdev;
}

/* to_stat - the reply's attributes into @st, when not NULL. */
static void to_stat(const struct wire_attr *a, struct daxfs_stat *st)
{
	struct daxfs_statx stx;

	if (!st)
		return;
	to_statx(a, &stx);
	*st = stx.st;
}

int daxfs_statx(struct daxfs *fs, const char *path, int flags, struct daxfs_statx *stx)
{
	struct wire_path p = {0};
	struct wire_attr a;
	int ret;

	if (!fs || !stx)
		return lib_err(-EINVAL, "daxfs_statx: no handle or buffer");
	if (flags & ~DAXFS_STAT_NOFOLLOW)
		return lib_err(-EINVAL, "daxfs_statx: unknown flags 0x%x", (unsigned)flags);
	ret = lib_path_size(path, &p.path_len);
	if (ret < 0)
		return ret;
	p.flags = flags & DAXFS_STAT_NOFOLLOW ? WIRE_STAT_NOFOLLOW : 0;
	ret = lib_call_attr(fs, WIRE_STAT, &p, sizeof(p), path, p.path_len, NULL, 0, path, &a);
	if (ret == 0)
		to_statx(&a, stx);
	return ret;
}

int daxfs_getattrx(struct daxfs *fs, uint64_t ino, struct daxfs_statx *stx)
{
	struct wire_getattr g = {.ino = ino};
	struct wire_attr a;
	char what[32];
	int ret;

	if (!fs || !stx)
		return lib_err(-EINVAL, "daxfs_getattrx: no handle or buffer");
	snprintf(what, sizeof(what), "inode %llu", (unsigned long long)ino);
	ret = lib_call_attr(fs, WIRE_GETATTR, &g, sizeof(g), NULL, 0, NULL, 0, what, &a);
	if (ret == 0)
		to_statx(&a, stx);
	return ret;
}

int daxfs_link(struct daxfs *fs, const char *oldpath, const char *newpath, struct daxfs_stat *st)
{
	struct wire_rename r = {0};
	struct wire_attr a;
	int ret;

	if (!fs)
		return lib_err(-EINVAL, "no handle");
	ret = lib_path_size(oldpath, &r.old_len);
	if (ret == 0)
		ret = lib_path_size(newpath, &r.new_len);
	if (ret == 0)
		ret = lib_call_attr(fs, WIRE_LINK, &r, sizeof(r), oldpath, r.old_len, newpath,
				    r.new_len, newpath, &a);
	if (ret == 0)
		to_stat(&a, st);
	return ret;
}

int daxfs_symlink(struct daxfs *fs, const char *target, const char *linkpath, struct daxfs_stat *st)
{
	struct wire_symlink l = {0};
	struct wire_attr a;
	size_t n;
	int ret;

	if (!fs || !target)
		return lib_err(-EINVAL, "daxfs_symlink: no handle or target");
	n = strlen(target);
	if (n == 0)
		return lib_err(-ENOENT, "SYMLINK %.64s: an empty target", linkpath ? linkpath : "");
	if (n >= WIRE_PATH_MAX)
		return lib_err(-ENAMETOOLONG, "SYMLINK: a target longer than %d bytes",
			       WIRE_PATH_MAX - 1);
	l.target_len = (uint32_t)n + 1;
	ret = lib_path_size(linkpath, &l.path_len);
	if (ret == 0)
		ret = lib_call_attr(fs, WIRE_SYMLINK, &l, sizeof(l), linkpath, l.path_len, target,
				    l.target_len, linkpath, &a);
	if (ret == 0)
		to_stat(&a, st);
	return ret;
}

ssize_t daxfs_readlink(struct daxfs *fs, const char *path, char *buf, size_t size)
{
	struct wire_readlink_reply rep;
	struct wire_path p = {0};
	struct lib_slot *s;
	struct wire_msg m;
	ssize_t ret;

	if (!fs || (!buf && size))
		return lib_err(-EINVAL, "daxfs_readlink: no handle or buffer");
	ret = lib_path_size(path, &p.path_len);
	if (ret < 0)
		return ret;
	ret = lib_slot_get(fs, &s);
	if (ret < 0)
		return ret;
	wire_msg_init(&m, s->req, WIRE_READLINK, 0, s->id);
	wire_msg_put(&m, &p, sizeof(p), false);
	wire_msg_put(&m, path, p.path_len, false);
	ret = lib_call(fs, s, &m, WIRE_READLINK, path);
	if (ret == 0) {
		memcpy(&rep, lib_reply_body(s), sizeof(rep));
		ret = (ssize_t)MIN((size_t)rep.len, size);
		memcpy(buf, (const uint8_t *)lib_reply_body(s) + sizeof(rep), (size_t)ret);
	}
	lib_slot_put(fs, s);
	return ret;
}

int daxfs_mknod(struct daxfs *fs, const char *path, uint32_t mode, uint64_t rdev,
		struct daxfs_stat *st)
{
	struct wire_mknod n = {.mode = mode, .rdev = rdev};
	struct wire_attr a;
	int ret;

	if (!fs)
		return lib_err(-EINVAL, "no handle");
	if (mode & ~(uint32_t)(S_IFMT | 07777))
		return lib_err(-EINVAL, "daxfs_mknod: bad mode 0%o", mode);
	ret = lib_path_size(path, &n.path_len);
	if (ret == 0)
		ret = lib_call_attr(fs, WIRE_MKNOD, &n, sizeof(n), path, n.path_len, NULL, 0, path,
				    &a);
	if (ret == 0)
		to_stat(&a, st);
	return ret;
}

/* --- extended attributes --- */

/* xattr_name - the counted length of @name (1..255 bytes), or -ERANGE as Linux says. */
static int xattr_name(const char *name, uint16_t *len)
{
	size_t n;

	if (!name)
		return lib_err(-EINVAL, "no attribute name");
	n = strlen(name);
	if (n == 0 || n > WIRE_NAME_MAX)
		return lib_err(-ERANGE, "attribute name of %zu bytes (1..%d)", n, WIRE_NAME_MAX);
	*len = (uint16_t)(n + 1);
	return 0;
}

/*
 * xattr_get - GETXATTR (@name) or LISTXATTR (@name NULL): at most @size bytes into @buf,
 * through the shared buffer when more than an inline message holds.
 */
static ssize_t xattr_get(struct daxfs *fs, uint64_t ino, const char *name, void *buf, size_t size)
{
	bool shm = size > fs->inline_max;
	unsigned op = name ? WIRE_GETXATTR : WIRE_LISTXATTR;
	struct wire_xattr_reply rep;
	struct wire_hdr hdr;
	struct lib_slot *s;
	struct wire_msg m;
	char what[300];
	ssize_t ret;

	if (size > WIRE_XATTR_MAX)
		size = WIRE_XATTR_MAX; /* nothing is longer */
	if (shm && !fs->shm)
		return lib_err(-EINVAL, "no shared buffer for a %zu-byte attribute", size);
	snprintf(what, sizeof(what), "inode %llu%s%s", (unsigned long long)ino, name ? " " : "",
		 name ? name : "");
	ret = lib_slot_get(fs, &s);
	if (ret < 0)
		return ret;
	if (shm)
		pthread_mutex_lock(&fs->shm_lock);
	wire_msg_init(&m, s->req, op, shm ? WIRE_F_SHM : 0, s->id);
	if (name) {
		struct wire_xattr x = {.ino = ino, .size = (uint32_t)size};

		xattr_name(name, &x.name_len);
		wire_msg_put(&m, &x, sizeof(x), false);
		wire_msg_put(&m, name, x.name_len, false);
	} else {
		struct wire_xattr_list x = {.ino = ino, .size = (uint32_t)size};

		wire_msg_put(&m, &x, sizeof(x), false);
	}
	ret = lib_call(fs, s, &m, op, what);
	if (ret == 0) {
		memcpy(&hdr, s->buf, sizeof(hdr));
		memcpy(&rep, lib_reply_body(s), sizeof(rep));
		ret = rep.len;
		if (size && rep.len > size) {
			ret = lib_err(-EPROTO, "%s %s: %u bytes for %zu", wire_op_name(op), what,
				      rep.len, size);
		} else if (size && hdr.flags & WIRE_F_SHM) {
			memcpy(buf, fs->shm, rep.len);
		} else if (size) {
			if (s->len != sizeof(struct wire_hdr) + sizeof(rep) + rep.len)
				ret = lib_err(-EPROTO, "%s %s: inline bytes of the wrong size",
					      wire_op_name(op), what);
			else
				memcpy(buf, (const uint8_t *)lib_reply_body(s) + sizeof(rep),
				       rep.len);
		}
	}
	if (shm)
		pthread_mutex_unlock(&fs->shm_lock);
	lib_slot_put(fs, s);
	return ret;
}

ssize_t daxfs_getxattr(struct daxfs *fs, uint64_t ino, const char *name, void *value, size_t size)
{
	uint16_t len;
	int ret;

	if (!fs || (!value && size))
		return lib_err(-EINVAL, "daxfs_getxattr: no handle or buffer");
	ret = xattr_name(name, &len);
	return ret ? ret : xattr_get(fs, ino, name, value, size);
}

ssize_t daxfs_listxattr(struct daxfs *fs, uint64_t ino, char *list, size_t size)
{
	if (!fs || (!list && size))
		return lib_err(-EINVAL, "daxfs_listxattr: no handle or buffer");
	return xattr_get(fs, ino, NULL, list, size);
}

int daxfs_setxattr(struct daxfs *fs, uint64_t ino, const char *name, const void *value, size_t size,
		   int flags)
{
	struct wire_xattr x = {.ino = ino, .size = (uint32_t)size, .flags = (uint16_t)flags};
	bool shm = size > fs->inline_max;
	struct lib_slot *s;
	struct wire_msg m;
	int ret;

	if (!fs || (!value && size))
		return lib_err(-EINVAL, "daxfs_setxattr: no handle or value");
	if (flags & ~(DAXFS_XATTR_CREATE | DAXFS_XATTR_REPLACE) ||
	    (flags & DAXFS_XATTR_CREATE && flags & DAXFS_XATTR_REPLACE))
		return lib_err(-EINVAL, "daxfs_setxattr: bad flags 0x%x", (unsigned)flags);
	if (size > WIRE_XATTR_MAX)
		return lib_err(-E2BIG, "SETXATTR %s: a value of %zu bytes (at most %d)", name, size,
			       WIRE_XATTR_MAX);
	ret = xattr_name(name, &x.name_len);
	if (ret)
		return ret;
	if (shm && !fs->shm)
		return lib_err(-EINVAL, "no shared buffer for a %zu-byte attribute", size);
	ret = lib_slot_get(fs, &s);
	if (ret < 0)
		return ret;
	if (shm) {
		pthread_mutex_lock(&fs->shm_lock);
		memcpy(fs->shm, value, size);
	}
	wire_msg_init(&m, s->req, WIRE_SETXATTR, shm ? WIRE_F_SHM : 0, s->id);
	wire_msg_put(&m, &x, sizeof(x), false);
	wire_msg_put(&m, name, x.name_len, false);
	if (!shm && size)
		wire_msg_put(&m, value, size, false);
	ret = lib_call(fs, s, &m, WIRE_SETXATTR, name);
	if (shm)
		pthread_mutex_unlock(&fs->shm_lock);
	lib_slot_put(fs, s);
	return ret;
}

int daxfs_removexattr(struct daxfs *fs, uint64_t ino, const char *name)
{
	struct wire_xattr x = {.ino = ino};
	int ret;

	if (!fs)
		return lib_err(-EINVAL, "no handle");
	ret = xattr_name(name, &x.name_len);
	if (ret == 0)
		ret = lib_call_attr(fs, WIRE_REMOVEXATTR, &x, sizeof(x), name, x.name_len, NULL, 0,
				    name, NULL);
	return ret;
}

/* --- O_APPEND --- */

ssize_t daxfs_append(struct daxfs *fs, uint64_t ino, const void *buf, size_t len)
{
	struct wire_io io = {.ino = ino, .len = (uint32_t)len, .flags = WIRE_IO_APPEND};
	bool shm = len > fs->inline_max;
	struct wire_io_reply rep;
	struct lib_slot *s;
	struct wire_msg m;
	char what[48];
	ssize_t ret;

	if (!fs || (!buf && len))
		return lib_err(-EINVAL, "daxfs_append: no handle or buffer");
	/* One request, to be one atomic append. */
	if (shm && (!fs->shm || len > fs->shm_size || len > WIRE_SHM_SIZE))
		return lib_err(-EFBIG, "an append of %zu bytes: at most %zu in one call", len,
			       fs->shm ? MIN(fs->shm_size, (size_t)WIRE_SHM_SIZE)
				       : (size_t)fs->inline_max);
	snprintf(what, sizeof(what), "inode %llu", (unsigned long long)ino);
	ret = lib_slot_get(fs, &s);
	if (ret < 0)
		return ret;
	if (shm) {
		pthread_mutex_lock(&fs->shm_lock);
		memcpy(fs->shm, buf, len);
	}
	wire_msg_init(&m, s->req, WIRE_WRITE, shm ? WIRE_F_SHM : 0, s->id);
	wire_msg_put(&m, &io, sizeof(io), false);
	if (!shm && len)
		wire_msg_put(&m, buf, len, false);
	ret = lib_call(fs, s, &m, WIRE_WRITE, what);
	if (ret == 0) {
		memcpy(&rep, lib_reply_body(s), sizeof(rep));
		ret = rep.count == len ? (ssize_t)len
				       : lib_err(-EPROTO, "WRITE %s: %llu bytes appended of %zu",
						 what, (unsigned long long)rep.count, len);
	}
	if (shm)
		pthread_mutex_unlock(&fs->shm_lock);
	lib_slot_put(fs, s);
	return ret;
}
