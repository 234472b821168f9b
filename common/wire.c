// SPDX-License-Identifier: MIT
/*
 * wire - checked encode/decode of the daxfsd protocol (docs/protocol.md, layouts in wire.h).
 *
 * The decoders never read outside [buf, buf + len): every field is copied out with memcpy
 * after its bounds are checked, so they make no assumption about the alignment of @buf
 * (only callers that cast wire_req.body need an 8-aligned packet, as recvmsg buffers are).
 *
 * Lengths are exact: a message is its header, its fixed body and its tails, and not one byte
 * more. Tails follow each other with no padding, except READDIR entries, each padded to 8.
 */
#include <errno.h>
#include <string.h>

#include "util.h"
#include "wire.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the wire is little-endian");
_Static_assert(sizeof(struct wire_reply) == 8, "reply status is 8 bytes");
_Static_assert(sizeof(struct wire_hello) == 8, "hello is 8 bytes");
_Static_assert(sizeof(struct wire_hello_reply) == 40, "hello reply is 40 bytes");
_Static_assert(sizeof(struct wire_statfs_reply) == 112, "statfs reply is 112 bytes");
_Static_assert(sizeof(struct wire_path) == 8 && offsetof(struct wire_path, path) == 8,
	       "path body is 8 bytes");
_Static_assert(sizeof(struct wire_attr_reply) == 80, "attr reply is 80 bytes");
_Static_assert(sizeof(struct wire_symlink) == 8 && offsetof(struct wire_symlink, data) == 8,
	       "symlink body is 8 bytes");
_Static_assert(sizeof(struct wire_readlink_reply) == 16, "readlink reply is 16 bytes");
_Static_assert(sizeof(struct wire_mknod) == 16 && offsetof(struct wire_mknod, path) == 16,
	       "mknod body is 16 bytes");
_Static_assert(sizeof(struct wire_xattr) == 16 && offsetof(struct wire_xattr, name) == 16,
	       "xattr body is 16 bytes");
_Static_assert(sizeof(struct wire_xattr_list) == 16, "listxattr body is 16 bytes");
_Static_assert(sizeof(struct wire_xattr_reply) == 16, "xattr reply is 16 bytes");
_Static_assert(sizeof(struct wire_mknode) == 16 && offsetof(struct wire_mknode, path) == 16,
	       "mknode body is 16 bytes");
_Static_assert(sizeof(struct wire_rename) == 16 && offsetof(struct wire_rename, paths) == 16,
	       "rename body is 16 bytes");
_Static_assert(sizeof(struct wire_setattr) == 48, "setattr is 48 bytes");
_Static_assert(sizeof(struct wire_readdir) == 16 && offsetof(struct wire_readdir, path) == 16,
	       "readdir body is 16 bytes");
_Static_assert(sizeof(struct wire_dirent) == 16 && offsetof(struct wire_dirent, name) == 16,
	       "dirent is 16 bytes");
_Static_assert(sizeof(struct wire_readdir_reply) == 24, "readdir reply is 24 bytes");
_Static_assert(sizeof(struct wire_io) == 24, "io is 24 bytes");
_Static_assert(sizeof(struct wire_io_reply) == 16, "io reply is 16 bytes");
_Static_assert(sizeof(struct wire_fallocate) == 32, "fallocate is 32 bytes");
_Static_assert(sizeof(struct wire_map) == 32, "map is 32 bytes");
_Static_assert(sizeof(struct wire_map_reply) == 40, "map reply is 40 bytes");
_Static_assert(sizeof(struct wire_ack) == 16, "ack is 16 bytes");
_Static_assert(sizeof(struct wire_mount) == 16 && offsetof(struct wire_mount, data) == 16,
	       "mount body is 16 bytes");
_Static_assert(sizeof(struct wire_stats_reply) == 16, "stats reply is 16 bytes");
_Static_assert(sizeof(struct wire_replica_reply) == 368, "replica reply is 368 bytes");
_Static_assert(sizeof(struct wire_map_persist) == 24, "map persist is 24 bytes");
_Static_assert(sizeof(struct wire_scrub_replica) == 24, "scrub replica is 24 bytes");
_Static_assert(sizeof(struct wire_scrub_replica_reply) == 200, "scrub replica reply is 200 bytes");
_Static_assert(sizeof(struct wire_scrub_range) == 16, "scrub range is 16 bytes");
_Static_assert(sizeof(struct wire_scrub_range_reply) == 56, "scrub range reply is 56 bytes");
_Static_assert(WIRE_MSG_MAX >= sizeof(struct wire_hdr) + sizeof(struct wire_map_reply) +
				       WIRE_MAP_EXTENTS_MAX * sizeof(struct wire_extent),
	       "a full MAP reply fits a message");
_Static_assert(WIRE_MSG_MAX >= sizeof(struct wire_hdr) + sizeof(struct wire_io) + WIRE_INLINE_MAX,
	       "a full inline WRITE fits a message");
_Static_assert(WIRE_MSG_MAX % 8 == 0, "padding to 8 never crosses WIRE_MSG_MAX");

#define HDR_SIZE sizeof(struct wire_hdr)
#define WIRE_F_ALL (WIRE_F_SHM | WIRE_F_FD)
#define READDIR_MAX 1024
#define MAP_ALIGN 4096u
#define SETATTR_VALID_ALL 0xffu /* NS_SET_MODE .. NS_SET_MTIME_NOW */
#define FALLOC_MODE_ALL 0x3u	/* NS_FALLOC_KEEP_SIZE | NS_FALLOC_PUNCH_HOLE */
#define RENAME_FLAGS_ALL 0x3u	/* NS_RENAME_NOREPLACE | NS_RENAME_EXCHANGE */
#define EXT_FLAGS_ALL (WIRE_EXT_HOLE | WIRE_EXT_POISON)

struct op_info {
	const char *name;
	int body;  /* fixed request body after the header */
	int reply; /* fixed reply after the header */
};

static const struct op_info ops[WIRE_OP_MAX] = {
	[WIRE_HELLO] = {"HELLO", sizeof(struct wire_hello), sizeof(struct wire_hello_reply)},
	[WIRE_STATFS] = {"STATFS", 0, sizeof(struct wire_statfs_reply)},
	[WIRE_STAT] = {"STAT", sizeof(struct wire_path), sizeof(struct wire_attr_reply)},
	[WIRE_GETATTR] = {"GETATTR", sizeof(struct wire_getattr), sizeof(struct wire_attr_reply)},
	[WIRE_MKDIR] = {"MKDIR", sizeof(struct wire_mknode), sizeof(struct wire_attr_reply)},
	[WIRE_CREATE] = {"CREATE", sizeof(struct wire_mknode), sizeof(struct wire_attr_reply)},
	[WIRE_UNLINK] = {"UNLINK", sizeof(struct wire_path), sizeof(struct wire_reply)},
	[WIRE_RMDIR] = {"RMDIR", sizeof(struct wire_path), sizeof(struct wire_reply)},
	[WIRE_RENAME] = {"RENAME", sizeof(struct wire_rename), sizeof(struct wire_reply)},
	[WIRE_SETATTR] = {"SETATTR", sizeof(struct wire_setattr), sizeof(struct wire_attr_reply)},
	[WIRE_READDIR] = {"READDIR", sizeof(struct wire_readdir),
			  sizeof(struct wire_readdir_reply)},
	[WIRE_READ] = {"READ", sizeof(struct wire_io), sizeof(struct wire_io_reply)},
	[WIRE_WRITE] = {"WRITE", sizeof(struct wire_io), sizeof(struct wire_io_reply)},
	[WIRE_FALLOCATE] = {"FALLOCATE", sizeof(struct wire_fallocate), sizeof(struct wire_reply)},
	[WIRE_FSYNC] = {"FSYNC", sizeof(struct wire_fsync), sizeof(struct wire_reply)},
	[WIRE_MAP] = {"MAP", sizeof(struct wire_map), sizeof(struct wire_map_reply)},
	[WIRE_UNMAP] = {"UNMAP", sizeof(struct wire_unmap), sizeof(struct wire_reply)},
	/* ACK has no reply on success; an error about one, if sent, is a bare status. */
	[WIRE_ACK] = {"ACK", sizeof(struct wire_ack), sizeof(struct wire_reply)},
	[WIRE_EXTENTS] = {"EXTENTS", sizeof(struct wire_extents),
			  sizeof(struct wire_extents_reply)},
	[WIRE_BADBLOCKS] = {"BADBLOCKS", sizeof(struct wire_badblocks),
			    sizeof(struct wire_badblocks_reply)},
	[WIRE_SCRUB] = {"SCRUB", 0, sizeof(struct wire_scrub_reply)},
	/* POISON_REPORT, like ACK, has no reply on success. */
	[WIRE_POISON_REPORT] = {"POISON_REPORT", sizeof(struct wire_poison_report),
				sizeof(struct wire_reply)},
	[WIRE_INJECT] = {"INJECT", sizeof(struct wire_inject), sizeof(struct wire_inject_reply)},
	[WIRE_STATS] = {"STATS", 0, sizeof(struct wire_stats_reply)},
	[WIRE_REPLICA] = {"REPLICA", 0, sizeof(struct wire_replica_reply)},
	[WIRE_SCRUB_REPLICA] = {"SCRUB_REPLICA", sizeof(struct wire_scrub_replica),
				sizeof(struct wire_scrub_replica_reply)},
	[WIRE_MAP_PERSIST] = {"MAP_PERSIST", sizeof(struct wire_map_persist),
			      sizeof(struct wire_reply)},
	[WIRE_REPLICA_ADD] = {"REPLICA_ADD", sizeof(struct wire_path), sizeof(struct wire_reply)},
	[WIRE_REPLICA_REMOVE] = {"REPLICA_REMOVE", 0, sizeof(struct wire_reply)},
	[WIRE_SCRUB_RANGE] = {"SCRUB_RANGE", sizeof(struct wire_scrub_range),
			      sizeof(struct wire_scrub_range_reply)},
	[WIRE_BADBLOCK_CLEAR] = {"BADBLOCK_CLEAR", sizeof(struct wire_badblock_clear),
				 sizeof(struct wire_badblock_clear_reply)},
	[WIRE_MOUNT] = {"MOUNT", sizeof(struct wire_mount), sizeof(struct wire_reply)},
	[WIRE_UMOUNT] = {"UMOUNT", sizeof(struct wire_path), sizeof(struct wire_reply)},
	[WIRE_LINK] = {"LINK", sizeof(struct wire_rename), sizeof(struct wire_attr_reply)},
	[WIRE_SYMLINK] = {"SYMLINK", sizeof(struct wire_symlink), sizeof(struct wire_attr_reply)},
	[WIRE_READLINK] = {"READLINK", sizeof(struct wire_path),
			   sizeof(struct wire_readlink_reply)},
	[WIRE_MKNOD] = {"MKNOD", sizeof(struct wire_mknod), sizeof(struct wire_attr_reply)},
	[WIRE_GETXATTR] = {"GETXATTR", sizeof(struct wire_xattr), sizeof(struct wire_xattr_reply)},
	[WIRE_SETXATTR] = {"SETXATTR", sizeof(struct wire_xattr), sizeof(struct wire_reply)},
	[WIRE_LISTXATTR] = {"LISTXATTR", sizeof(struct wire_xattr_list),
			    sizeof(struct wire_xattr_reply)},
	[WIRE_REMOVEXATTR] = {"REMOVEXATTR", sizeof(struct wire_xattr), sizeof(struct wire_reply)},
};

bool wire_op_known(unsigned op)
{
	return op >= WIRE_HELLO && op < WIRE_OP_MAX && ops[op].name;
}

static bool op_known(unsigned op)
{
	return wire_op_known(op);
}

/* shm_op - the requests whose data may be in the shared buffer (WIRE_F_SHM). */
static bool shm_op(unsigned op)
{
	return op == WIRE_READ || op == WIRE_WRITE || op == WIRE_GETXATTR || op == WIRE_SETXATTR ||
	       op == WIRE_LISTXATTR;
}

static bool op_is_event(unsigned op)
{
	return op == WIRE_EV_POISON || op == WIRE_EV_INVALIDATE;
}

const char *wire_op_name(unsigned op)
{
	if (op_is_event(op))
		return op == WIRE_EV_POISON ? "EV_POISON" : "EV_INVALIDATE";
	if ((op & ~0xffu) == WIRE_REPLY)
		op &= 0xffu;
	return op_known(op) ? ops[op].name : "?";
}

static const char *const granularities[] = {"byte", "cache line", "page"};

unsigned wire_granularity(const char *name)
{
	for (unsigned i = 0; i < 3; i++)
		if (strcmp(name, granularities[i]) == 0)
			return i;
	return 2;
}

const char *wire_granularity_name(unsigned g)
{
	return g < 3 ? granularities[g] : "unknown";
}

const char *wire_kind_name(unsigned kind)
{
	static const char *const kinds[] = {[1] = "devdax", [2] = "fsdax", [3] = "emulated"};

	return kind >= 1 && kind <= 3 ? kinds[kind] : "unknown";
}

const char *wire_inject_kind_name(unsigned kind)
{
	static const char *const names[] = {
		[WIRE_INJECT_POISON] = "poison",   [WIRE_INJECT_FAIL] = "fail",
		[WIRE_INJECT_DELAY] = "delay",	   [WIRE_INJECT_CRASH] = "crash",
		[WIRE_INJECT_CLEAR] = "clear",	   [WIRE_INJECT_MEDIA] = "media",
		[WIRE_INJECT_REPLICA] = "replica",
	};

	return kind < sizeof(names) / sizeof(names[0]) && names[kind] ? names[kind] : "?";
}

int wire_body_size(unsigned op)
{
	return op_known(op) ? ops[op].body : -1;
}

int wire_reply_size(unsigned op)
{
	return op_known(op) ? ops[op].reply : -1;
}

size_t wire_reply_max(const struct wire_req *req)
{
	unsigned op = req->hdr.op;
	struct wire_io io;

	switch (op) {
	case WIRE_READ:
		memcpy(&io, req->body, sizeof(io));
		if (req->hdr.flags & WIRE_F_SHM)
			break;
		return HDR_SIZE + sizeof(struct wire_io_reply) + io.len;
	case WIRE_READDIR:
	case WIRE_MAP:
	case WIRE_EXTENTS:
	case WIRE_BADBLOCKS:
		return WIRE_MSG_MAX;
	case WIRE_READLINK:
		return HDR_SIZE + sizeof(struct wire_readlink_reply) + WIRE_PATH_MAX;
	case WIRE_GETXATTR:
	case WIRE_LISTXATTR: {
		uint32_t size;

		/* (size is the second field of both bodies) */
		memcpy(&size, (const uint8_t *)req->body + 8, sizeof(size));
		if (req->hdr.flags & WIRE_F_SHM)
			break;
		return HDR_SIZE + sizeof(struct wire_xattr_reply) + size;
	}
	default:
		/* An op with a variable reply must be listed above; unknown ones get the most. */
		if (!op_known(op))
			return WIRE_MSG_MAX;
		break;
	}
	return HDR_SIZE + (size_t)ops[op].reply;
}

/*
 * check_path - the path of @path_len bytes at offset @off of the packet: 2..WIRE_PATH_MAX
 * bytes, all inside the packet, NUL-terminated at its counted length with no NUL before,
 * absolute. Return: 0 and *@out; -EBADMSG.
 */
static int check_path(const uint8_t *buf, size_t len, size_t off, uint32_t path_len,
		      const char **out)
{
	const char *p;

	if (path_len < 2 || path_len > WIRE_PATH_MAX)
		return -EBADMSG;
	if (off > len || len - off < path_len)
		return -EBADMSG;
	p = (const char *)buf + off;
	if (p[path_len - 1] != '\0' || memchr(p, '\0', path_len - 1) != NULL)
		return -EBADMSG;
	if (p[0] != '/')
		return -EBADMSG;
	*out = p;
	return 0;
}

/*
 * check_string - a NUL-terminated string of @n bytes (its NUL counted) at @off: @min..@max
 * bytes, inside the packet, with no NUL before its end. Return: 0 and *@out; -EBADMSG.
 */
static int check_string(const uint8_t *buf, size_t len, size_t off, uint32_t n, uint32_t min,
			uint32_t max, const char **out)
{
	const char *p;

	if (n < min || n > max || off > len || len - off < n)
		return -EBADMSG;
	p = (const char *)buf + off;
	if (p[n - 1] != '\0' || memchr(p, '\0', n - 1) != NULL)
		return -EBADMSG;
	*out = p;
	return 0;
}

/* decode_xattr - GETXATTR, SETXATTR, REMOVEXATTR: the name, the size, an inline value. */
static int decode_xattr(const uint8_t *buf, size_t len, struct wire_req *out)
{
	size_t end = HDR_SIZE + sizeof(struct wire_xattr);
	bool shm = out->hdr.flags & WIRE_F_SHM;
	unsigned op = out->hdr.op;
	struct wire_xattr x;
	int ret;

	memcpy(&x, buf + HDR_SIZE, sizeof(x));
	ret = check_string(buf, len, end, x.name_len, 2, WIRE_NAME_MAX + 1, &out->path);
	if (ret < 0)
		return ret;
	end += x.name_len;
	if (x.size > WIRE_XATTR_MAX || (op != WIRE_SETXATTR && x.flags) ||
	    (op == WIRE_SETXATTR && x.flags & ~3u) || (op == WIRE_REMOVEXATTR && x.size))
		return -EBADMSG;
	/* Inline, a value or an answer must fit a message; larger ones use the shared buffer. */
	if (!shm && op != WIRE_REMOVEXATTR && x.size > WIRE_INLINE_MAX)
		return -EBADMSG;
	if (op == WIRE_SETXATTR && !shm) {
		if (len - end != x.size)
			return -EBADMSG;
		out->data = buf + end;
		out->data_len = x.size;
		return 0;
	}
	return len == end ? 0 : -EBADMSG;
}

/* decode_io - READ and WRITE: the length limits and, for an inline WRITE, the data. */
static int decode_io(const uint8_t *buf, size_t len, struct wire_req *out)
{
	size_t end = HDR_SIZE + sizeof(struct wire_io);
	bool shm = out->hdr.flags & WIRE_F_SHM;
	struct wire_io io;

	memcpy(&io, buf + HDR_SIZE, sizeof(io));
	if (io.len > (shm ? WIRE_SHM_SIZE : WIRE_INLINE_MAX))
		return -EBADMSG;
	if (io.flags & ~(out->hdr.op == WIRE_WRITE ? (uint32_t)WIRE_IO_APPEND : 0u))
		return -EBADMSG;
	if (out->hdr.op == WIRE_WRITE && !shm) {
		if (len - end != io.len)
			return -EBADMSG;
		out->data = buf + end;
		out->data_len = io.len;
		return 0;
	}
	return len == end ? 0 : -EBADMSG;
}

static int decode_map(const struct wire_map *m)
{
	if (m->len == 0 || !IS_ALIGNED(m->off, MAP_ALIGN) || !IS_ALIGNED(m->len, MAP_ALIGN))
		return -EBADMSG;
	if (m->off + m->len < m->off)
		return -EBADMSG;
	if (m->mode == 0 || (m->mode & ~(uint32_t)(WIRE_MAP_READ | WIRE_MAP_WRITE)))
		return -EBADMSG;
	return 0;
}

/* decode_body - the per-op checks of a request whose header and fixed body are present. */
static int decode_body(const uint8_t *buf, size_t len, struct wire_req *out)
{
	size_t end = HDR_SIZE + (size_t)ops[out->hdr.op].body;
	const uint8_t *body = buf + HDR_SIZE;
	int ret;

	switch (out->hdr.op) {
	case WIRE_HELLO: {
		struct wire_hello h;

		memcpy(&h, body, sizeof(h));
		/* Another version is the daemon's to refuse (EPROTO), with a reply. */
		if (h.version == WIRE_VERSION && (h.flags & ~(uint32_t)WIRE_HELLO_F_RING))
			return -EBADMSG;
		break;
	}
	case WIRE_STAT:
	case WIRE_UNLINK:
	case WIRE_RMDIR:
	case WIRE_READLINK:
	case WIRE_UMOUNT:
	case WIRE_REPLICA_ADD: {
		struct wire_path p;

		memcpy(&p, body, sizeof(p));
		if (p.flags & ~(out->hdr.op == WIRE_STAT ? (uint32_t)WIRE_STAT_NOFOLLOW : 0u))
			return -EBADMSG;
		ret = check_path(buf, len, end, p.path_len, &out->path);
		if (ret < 0)
			return ret;
		end += p.path_len;
		break;
	}
	case WIRE_MKDIR:
	case WIRE_CREATE: {
		struct wire_mknode n;

		memcpy(&n, body, sizeof(n));
		if (n.flags & ~(out->hdr.op == WIRE_CREATE ? WIRE_CREATE_EXCL : 0u))
			return -EBADMSG;
		ret = check_path(buf, len, end, n.path_len, &out->path);
		if (ret < 0)
			return ret;
		end += n.path_len;
		break;
	}
	case WIRE_RENAME:
	case WIRE_LINK: {
		struct wire_rename r;

		memcpy(&r, body, sizeof(r));
		if (r.flags & ~(out->hdr.op == WIRE_RENAME ? RENAME_FLAGS_ALL : 0u) || r.pad)
			return -EBADMSG;
		ret = check_path(buf, len, end, r.old_len, &out->path);
		if (ret < 0)
			return ret;
		end += r.old_len;
		ret = check_path(buf, len, end, r.new_len, &out->path2);
		if (ret < 0)
			return ret;
		end += r.new_len;
		break;
	}
	case WIRE_SETATTR: {
		struct wire_setattr s;

		memcpy(&s, body, sizeof(s));
		if (s.valid & ~SETATTR_VALID_ALL)
			return -EBADMSG;
		break;
	}
	case WIRE_READDIR: {
		struct wire_readdir r;

		memcpy(&r, body, sizeof(r));
		if (r.max < 1 || r.max > READDIR_MAX)
			return -EBADMSG;
		ret = check_path(buf, len, end, r.path_len, &out->path);
		if (ret < 0)
			return ret;
		end += r.path_len;
		break;
	}
	case WIRE_READ:
	case WIRE_WRITE:
		return decode_io(buf, len, out);
	case WIRE_SYMLINK: {
		struct wire_symlink l;

		memcpy(&l, body, sizeof(l));
		ret = check_path(buf, len, end, l.path_len, &out->path);
		if (ret < 0)
			return ret;
		end += l.path_len;
		/* The target is any bytes but NUL; relative ones too. */
		ret = check_string(buf, len, end, l.target_len, 2, WIRE_PATH_MAX, &out->path2);
		if (ret < 0)
			return ret;
		end += l.target_len;
		break;
	}
	case WIRE_MKNOD: {
		struct wire_mknod n;

		memcpy(&n, body, sizeof(n));
		if (n.mode & ~(uint32_t)(0170000 | 07777))
			return -EBADMSG;
		ret = check_path(buf, len, end, n.path_len, &out->path);
		if (ret < 0)
			return ret;
		end += n.path_len;
		break;
	}
	case WIRE_GETXATTR:
	case WIRE_SETXATTR:
	case WIRE_REMOVEXATTR:
		return decode_xattr(buf, len, out);
	case WIRE_LISTXATTR: {
		struct wire_xattr_list x;

		memcpy(&x, body, sizeof(x));
		if (x.size > WIRE_XATTR_MAX || x.pad ||
		    (!(out->hdr.flags & WIRE_F_SHM) && x.size > WIRE_INLINE_MAX))
			return -EBADMSG;
		break;
	}
	case WIRE_FALLOCATE: {
		struct wire_fallocate f;

		memcpy(&f, body, sizeof(f));
		if (f.mode & ~FALLOC_MODE_ALL)
			return -EBADMSG;
		break;
	}
	case WIRE_MAP: {
		struct wire_map m;

		memcpy(&m, body, sizeof(m));
		ret = decode_map(&m);
		if (ret < 0)
			return ret;
		break;
	}
	case WIRE_POISON_REPORT: {
		struct wire_poison_report r;

		memcpy(&r, body, sizeof(r));
		if (r.len == 0 || r.off + r.len < r.off)
			return -EBADMSG;
		break;
	}
	case WIRE_SCRUB_REPLICA: {
		struct wire_scrub_replica r;

		memcpy(&r, body, sizeof(r));
		if (r.len == 0 || (r.flags & ~(uint32_t)WIRE_SCRUB_COMPARE) || r.pad)
			return -EBADMSG;
		break;
	}
	case WIRE_MAP_PERSIST: {
		struct wire_map_persist r;

		memcpy(&r, body, sizeof(r));
		if (r.len == 0 || r.len > WIRE_MAP_PERSIST_MAX || r.off + r.len < r.off)
			return -EBADMSG;
		break;
	}
	case WIRE_BADBLOCK_CLEAR: {
		struct wire_badblock_clear c;

		memcpy(&c, body, sizeof(c));
		if (c.len == 0 || c.off + c.len < c.off)
			return -EBADMSG;
		break;
	}
	case WIRE_INJECT: {
		struct wire_inject in;

		memcpy(&in, body, sizeof(in));
		if (in.kind < WIRE_INJECT_POISON || in.kind > WIRE_INJECT_REPLICA || in.pad)
			return -EBADMSG;
		if (memchr(in.point, '\0', sizeof(in.point)) == NULL)
			return -EBADMSG;
		break;
	}
	case WIRE_MOUNT: {
		struct wire_mount mo;

		memcpy(&mo, body, sizeof(mo));
		if (mo.flags || mo.pad)
			return -EBADMSG;
		ret = check_path(buf, len, end, mo.path_len, &out->path);
		if (ret < 0)
			return ret;
		end += mo.path_len;
		ret = check_string(buf, len, end, mo.opts_len, 1, WIRE_MOUNT_OPTS_MAX, &out->path2);
		if (ret < 0)
			return ret;
		end += mo.opts_len;
		break;
	}
	case WIRE_SCRUB_RANGE: {
		struct wire_scrub_range r;

		memcpy(&r, body, sizeof(r));
		if (r.len == 0)
			return -EBADMSG;
		break;
	}
	default: /* STATFS, GETATTR, FSYNC, UNMAP, ACK, EXTENTS, BADBLOCKS, SCRUB, STATS, REPLICA */
		break;
	}
	return len == end ? 0 : -EBADMSG;
}

/*
 * wire_decode_request - see wire.h. Whenever the header is readable (@len >= 16), @out->hdr
 * holds it even on failure, so the caller can address its error reply; the other fields
 * of @out are NULL/0 unless 0 is returned.
 */
int wire_decode_request(const void *buf, size_t len, struct wire_req *out)
{
	const uint8_t *p = buf;
	unsigned op;
	int ret;

	memset(out, 0, sizeof(*out));
	if (len < HDR_SIZE)
		return -EBADMSG;
	memcpy(&out->hdr, p, HDR_SIZE);
	if (len > WIRE_MSG_MAX || out->hdr.len > WIRE_MSG_MAX)
		return -EMSGSIZE;
	if (out->hdr.len != len)
		return -EBADMSG;
	op = out->hdr.op;
	if (!op_known(op))
		return -EPROTO;
	/* A request carries no fd; SHM only says where READ/WRITE data is. */
	if (out->hdr.flags & ~(uint16_t)WIRE_F_SHM)
		return -EBADMSG;
	if ((out->hdr.flags & WIRE_F_SHM) && !shm_op(op))
		return -EBADMSG;
	if (len < HDR_SIZE + (size_t)ops[op].body)
		return -EBADMSG;
	out->body = p + HDR_SIZE;

	ret = decode_body(p, len, out);
	if (ret < 0) {
		struct wire_hdr hdr = out->hdr;

		memset(out, 0, sizeof(*out));
		out->hdr = hdr;
	}
	return ret;
}

void wire_msg_init(struct wire_msg *m, void *buf, unsigned op, uint16_t flags, uint64_t id)
{
	struct wire_hdr hdr = {
		.len = HDR_SIZE,
		.op = (uint16_t)op,
		.flags = flags,
		.id = id,
	};

	m->buf = buf;
	m->len = HDR_SIZE;
	m->err = 0;
	memcpy(m->buf, &hdr, HDR_SIZE);
}

/*
 * wire_msg_put - append @len bytes of @data (zeros when @data is NULL), then zeros up to
 * the next multiple of 8 when @pad8.
 * Return: where the @len bytes went in the message; NULL (and msg->err = -EMSGSIZE) when
 * they do not fit WIRE_MSG_MAX, or when an earlier put failed.
 */
void *wire_msg_put(struct wire_msg *m, const void *data, size_t len, bool pad8)
{
	size_t start = m->len, end;
	uint8_t *dst;

	if (m->err)
		return NULL;
	if (len > WIRE_MSG_MAX - start) {
		m->err = -EMSGSIZE;
		return NULL;
	}
	end = start + len;
	if (pad8) /* stays within WIRE_MSG_MAX, a multiple of 8 */
		end = ALIGN_UP(end, (size_t)8);
	dst = m->buf + start;
	if (data && len)
		memcpy(dst, data, len);
	else if (len)
		memset(dst, 0, len);
	memset(dst + len, 0, end - start - len);
	m->len = end;
	return dst;
}

/*
 * wire_msg_end - write the final length into the header.
 * Return: the message length to send; 0 when a put failed (msg->err says why).
 */
size_t wire_msg_end(struct wire_msg *m)
{
	uint32_t len = (uint32_t)m->len;

	if (m->err)
		return 0;
	memcpy(m->buf + offsetof(struct wire_hdr, len), &len, sizeof(len));
	return m->len;
}

/* check_dirents - @count READDIR entries from offset @off fill the rest of the packet. */
static int check_dirents(const uint8_t *buf, size_t len, size_t off, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		struct wire_dirent d;
		size_t size;

		if (len - off < sizeof(d))
			return -EBADMSG;
		memcpy(&d, buf + off, sizeof(d));
		if (d.name_len == 0 || d.name_len > WIRE_NAME_MAX)
			return -EBADMSG;
		size = ALIGN_UP(sizeof(d) + d.name_len, (size_t)8);
		if (len - off < size)
			return -EBADMSG;
		if (memchr(buf + off + sizeof(d), '\0', d.name_len) ||
		    memchr(buf + off + sizeof(d), '/', d.name_len))
			return -EBADMSG;
		off += size;
	}
	return off == len ? 0 : -EBADMSG;
}

/* check_extents - @count MAP extents from offset @off fill the rest of the packet. */
static int check_extents(const uint8_t *buf, size_t len, size_t off, uint32_t count)
{
	if (count > WIRE_MAP_EXTENTS_MAX || len - off != count * sizeof(struct wire_extent))
		return -EBADMSG;
	for (uint32_t i = 0; i < count; i++) {
		struct wire_extent e;

		memcpy(&e, buf + off + i * sizeof(e), sizeof(e));
		if (e.flags & ~(uint32_t)EXT_FLAGS_ALL)
			return -EBADMSG;
	}
	return 0;
}

/* decode_reply_tail - the per-op checks of a reply whose fixed part is present. */
static int decode_reply_tail(const uint8_t *buf, size_t len, unsigned op, uint16_t flags)
{
	size_t end = HDR_SIZE + (size_t)ops[op].reply;
	const uint8_t *body = buf + HDR_SIZE;

	switch (op) {
	case WIRE_READ:
	case WIRE_WRITE: {
		struct wire_io_reply r;

		memcpy(&r, body, sizeof(r));
		/* An inline READ's data follows; the rest is in the shared buffer. */
		if (op == WIRE_READ && !(flags & WIRE_F_SHM))
			return r.count <= WIRE_INLINE_MAX && len - end == r.count ? 0 : -EBADMSG;
		if (r.count > WIRE_SHM_SIZE)
			return -EBADMSG;
		break;
	}
	case WIRE_READDIR: {
		struct wire_readdir_reply r;

		memcpy(&r, body, sizeof(r));
		if (r.count > READDIR_MAX || r.eof > 1)
			return -EBADMSG;
		return check_dirents(buf, len, end, r.count);
	}
	case WIRE_MAP: {
		struct wire_map_reply r;

		memcpy(&r, body, sizeof(r));
		if (r.flags & ~(uint32_t)(WIRE_MAP_FD_RDONLY | WIRE_MAP_MIRRORED))
			return -EBADMSG;
		return check_extents(buf, len, end, r.count);
	}
	case WIRE_EXTENTS: {
		struct wire_extents_reply r;

		memcpy(&r, body, sizeof(r));
		if (r.eof > 1)
			return -EBADMSG;
		return check_extents(buf, len, end, r.count);
	}
	case WIRE_STATS: {
		struct wire_stats_reply r;

		memcpy(&r, body, sizeof(r));
		if (r.len > WIRE_SHM_SIZE || (r.r.status == 0 && !(flags & WIRE_F_SHM)))
			return -EBADMSG;
		break;
	}
	case WIRE_SCRUB_REPLICA: {
		struct wire_scrub_replica_reply r;

		memcpy(&r, body, sizeof(r));
		if (r.next > r.total || r.ndiff > WIRE_SCRUB_DIFF_MAX || r.ndiff > r.differ)
			return -EBADMSG;
		break;
	}
	case WIRE_REPLICA: {
		struct wire_replica_reply r;

		memcpy(&r, body, sizeof(r));
		if (r.state > WIRE_REPLICA_DEGRADED || r.synced > r.size ||
		    !memchr(r.path, '\0', sizeof(r.path)) || !memchr(r.why, '\0', sizeof(r.why)))
			return -EBADMSG;
		break;
	}
	case WIRE_READLINK: {
		struct wire_readlink_reply r;

		memcpy(&r, body, sizeof(r));
		if (r.len > WIRE_PATH_MAX - 1 || len - end != r.len)
			return -EBADMSG;
		return 0;
	}
	case WIRE_GETXATTR:
	case WIRE_LISTXATTR: {
		struct wire_xattr_reply r;

		memcpy(&r, body, sizeof(r));
		/* With SHM the bytes are in the shared buffer; a size-only answer has none. */
		if (r.len > WIRE_XATTR_MAX)
			return -EBADMSG;
		if (flags & WIRE_F_SHM)
			return len == end ? 0 : -EBADMSG;
		return len - end == r.len || len == end ? 0 : -EBADMSG;
	}
	case WIRE_BADBLOCKS: {
		struct wire_badblocks_reply r;

		memcpy(&r, body, sizeof(r));
		if (r.eof > 1 || r.count > WIRE_BADBLOCKS_MAX ||
		    len - end != (size_t)r.count * sizeof(struct wire_badblock))
			return -EBADMSG;
		return 0;
	}
	default:
		break;
	}
	return len == end ? 0 : -EBADMSG;
}

/*
 * wire_decode_reply - see wire.h. Also checked: status is 0 or -1..-4095; header flags
 * known, FD only on HELLO and MAP replies, SHM only on READ and WRITE replies, none on
 * events; READDIR names 1..WIRE_NAME_MAX bytes with no NUL or '/'; MAP extent flags known.
 * *@hdr is filled whenever the header is readable, also on failure.
 */
int wire_decode_reply(const void *buf, size_t len, struct wire_hdr *hdr)
{
	const uint8_t *p = buf;
	struct wire_reply r;
	unsigned op;

	memset(hdr, 0, sizeof(*hdr));
	if (len < HDR_SIZE)
		return -EBADMSG;
	memcpy(hdr, p, HDR_SIZE);
	if (len > WIRE_MSG_MAX || hdr->len > WIRE_MSG_MAX)
		return -EMSGSIZE;
	if (hdr->len != len)
		return -EBADMSG;
	if (op_is_event(hdr->op)) {
		if (hdr->flags != 0 || len != HDR_SIZE + sizeof(struct wire_event))
			return -EBADMSG;
		return 0;
	}
	if ((hdr->op & ~0xffu) != WIRE_REPLY || !op_known(hdr->op & 0xffu))
		return -EPROTO;
	op = hdr->op & 0xffu;
	if (hdr->flags & ~(uint16_t)WIRE_F_ALL)
		return -EBADMSG;
	if ((hdr->flags & WIRE_F_FD) && op != WIRE_HELLO && op != WIRE_MAP)
		return -EBADMSG;
	if ((hdr->flags & WIRE_F_SHM) && !shm_op(op) && op != WIRE_STATS)
		return -EBADMSG;
	if (len < HDR_SIZE + (size_t)ops[op].reply)
		return -EBADMSG;
	memcpy(&r, p + HDR_SIZE, sizeof(r));
	if (r.status > 0 || r.status < -4095)
		return -EBADMSG;
	return decode_reply_tail(p, len, op, hdr->flags);
}
