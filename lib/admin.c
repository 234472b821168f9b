// SPDX-License-Identifier: MIT
/*
 * libdaxfs: what an operator asks about the media (extents, bad blocks, scrub) and the
 * fault-injection requests. The lists come in pages (one reply holds a few thousand); the
 * functions here gather them into one array for the caller.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libdaxfs-private.h"

/*
 * A listing that comes in pages: the request carries a u64 cursor (where to start), the
 * reply is {status, next u64, count u32, eof u32} then count entries of one size.
 * EXTENTS and BADBLOCKS are both so.
 */
struct listing {
	unsigned op;
	void *req; /* the request body */
	size_t req_size;
	size_t cursor_at; /* offset of its u64 cursor */
	size_t wire_size; /* one entry on the wire */
	size_t out_size;  /* one entry for the caller */
	void (*convert)(void *out, const void *wire);
	const char *what; /* for messages, or NULL */
};

struct listing_reply {
	struct wire_reply r;
	uint64_t next;
	uint32_t count, eof;
};
_Static_assert(sizeof(struct listing_reply) == sizeof(struct wire_extents_reply) &&
		       sizeof(struct listing_reply) == sizeof(struct wire_badblocks_reply),
	       "EXTENTS and BADBLOCKS replies share one layout");

/* list_all - every page of @l into one malloc'd array (NULL when empty). */
static int list_all(struct daxfs *fs, const struct listing *l, void **out, size_t *count)
{
	const size_t off = sizeof(struct wire_hdr) + sizeof(struct listing_reply);
	char *v = NULL, *nv;
	size_t n = 0, cap = 0;
	uint64_t cursor;
	int ret;

	memcpy(&cursor, (char *)l->req + l->cursor_at, sizeof(cursor));
	for (;;) {
		struct listing_reply rep = {0};
		struct lib_slot *s;
		struct wire_msg m;

		ret = lib_slot_get(fs, &s);
		if (ret < 0)
			break;
		memcpy((char *)l->req + l->cursor_at, &cursor, sizeof(cursor));
		wire_msg_init(&m, s->req, l->op, 0, s->id);
		wire_msg_put(&m, l->req, l->req_size, false);
		ret = lib_call(fs, s, &m, l->op, l->what);
		if (ret == 0)
			memcpy(&rep, lib_reply_body(s), sizeof(rep));
		if (ret == 0 && n + rep.count > cap) {
			cap = cap ? cap : 64;
			while (cap < n + rep.count)
				cap *= 2;
			nv = realloc(v, cap * l->out_size);
			if (nv)
				v = nv;
			else
				ret = lib_err(-ENOMEM, "%s: out of memory for the list",
					      wire_op_name(l->op));
		}
		/* wire_decode_reply checked that the entries fill the packet */
		for (uint32_t i = 0; ret == 0 && i < rep.count; i++, n++)
			l->convert(v + n * l->out_size, s->buf + off + i * l->wire_size);
		lib_slot_put(fs, s);
		if (ret < 0 || rep.eof)
			break;
		if (rep.next <= cursor) {
			ret = lib_err(-EPROTO, "%s: the listing does not advance",
				      wire_op_name(l->op));
			break;
		}
		cursor = rep.next;
	}
	if (ret < 0 || n == 0) {
		free(v);
		v = NULL;
		n = 0;
	}
	*out = v;
	*count = n;
	return ret < 0 ? ret : 0;
}

static void extent_convert(void *out, const void *wire)
{
	struct daxfs_extent *x = out;
	struct wire_extent e;

	memcpy(&e, wire, sizeof(e));
	*x = (struct daxfs_extent){e.file_off, e.region_off, e.len,
				   e.flags & WIRE_EXT_POISON ? DAXFS_EXTENT_POISON : 0};
}

int daxfs_extents(struct daxfs *fs, uint64_t ino, struct daxfs_extent **out, size_t *count)
{
	struct wire_extents req = {.ino = ino};
	char what[32];
	struct listing l = {WIRE_EXTENTS,
			    &req,
			    sizeof(req),
			    offsetof(struct wire_extents, off),
			    sizeof(struct wire_extent),
			    sizeof(**out),
			    extent_convert,
			    what};

	if (!fs || !out || !count)
		return lib_err(-EINVAL, "daxfs_extents: no handle or result pointer");
	snprintf(what, sizeof(what), "inode %llu", (unsigned long long)ino);
	return list_all(fs, &l, (void **)out, count);
}

static void badblock_convert(void *out, const void *wire)
{
	struct daxfs_badblock *x = out;
	struct wire_badblock b;

	memcpy(&b, wire, sizeof(b));
	*x = (struct daxfs_badblock){
		b.region_off, b.len, b.ino, b.file_off,
		(b.flags & WIRE_BB_METADATA ? DAXFS_BADBLOCK_METADATA : 0) |
			(b.flags & WIRE_BB_OWNED ? DAXFS_BADBLOCK_OWNED : 0) |
			(b.flags & WIRE_BB_REPAIRED ? DAXFS_BADBLOCK_REPAIRED : 0)};
}

int daxfs_badblocks(struct daxfs *fs, struct daxfs_badblock **out, size_t *count)
{
	struct wire_badblocks req = {0};
	struct listing l = {WIRE_BADBLOCKS,
			    &req,
			    sizeof(req),
			    offsetof(struct wire_badblocks, cookie),
			    sizeof(struct wire_badblock),
			    sizeof(**out),
			    badblock_convert,
			    NULL};

	if (!fs || !out || !count)
		return lib_err(-EINVAL, "daxfs_badblocks: no handle or result pointer");
	return list_all(fs, &l, (void **)out, count);
}

int daxfs_badblock_clear(struct daxfs *fs, uint64_t off, uint64_t len, uint64_t *blocks)
{
	struct wire_badblock_clear req = {.off = off, .len = len};
	struct wire_badblock_clear_reply rep;
	struct lib_slot *s;
	struct wire_msg m;
	char what[64];
	int ret;

	if (!fs)
		return lib_err(-EINVAL, "daxfs_badblock_clear: no handle");
	if (len == 0 || off + len < off)
		return lib_err(-EINVAL, "BADBLOCK_CLEAR: an empty or wrapping range");
	snprintf(what, sizeof(what), "%llu+%llu", (unsigned long long)off, (unsigned long long)len);
	ret = lib_slot_get(fs, &s);
	if (ret < 0)
		return ret;
	wire_msg_init(&m, s->req, WIRE_BADBLOCK_CLEAR, 0, s->id);
	wire_msg_put(&m, &req, sizeof(req), false);
	ret = lib_call(fs, s, &m, WIRE_BADBLOCK_CLEAR, what);
	if (ret == 0 && blocks) {
		memcpy(&rep, lib_reply_body(s), sizeof(rep));
		*blocks = rep.blocks;
	}
	lib_slot_put(fs, s);
	return ret;
}

int daxfs_mount(struct daxfs *fs, const char *mountpoint, const char *options)
{
	struct wire_mount req = {0};
	uint32_t olen;
	int ret;

	if (!fs)
		return lib_err(-EINVAL, "daxfs_mount: no handle");
	ret = lib_path_size(mountpoint, &req.path_len);
	if (ret < 0)
		return ret;
	if (!options)
		options = "";
	olen = (uint32_t)strnlen(options, WIRE_MOUNT_OPTS_MAX) + 1;
	if (olen > WIRE_MOUNT_OPTS_MAX)
		return lib_err(-EINVAL, "mount options longer than %d bytes",
			       WIRE_MOUNT_OPTS_MAX - 1);
	req.opts_len = olen;
	return lib_call_attr(fs, WIRE_MOUNT, &req, sizeof(req), mountpoint, req.path_len, options,
			     olen, mountpoint, NULL);
}

int daxfs_umount(struct daxfs *fs, const char *mountpoint)
{
	struct wire_path req = {0};
	int ret;

	if (!fs)
		return lib_err(-EINVAL, "daxfs_umount: no handle");
	ret = lib_path_size(mountpoint, &req.path_len);
	if (ret < 0)
		return ret;
	return lib_call_attr(fs, WIRE_UMOUNT, &req, sizeof(req), mountpoint, req.path_len, NULL, 0,
			     mountpoint, NULL);
}

/* The data area one SCRUB_RANGE request covers: a few tenths of a second of reading. */
#define SCRUB_STEP (256ull << 20)

int daxfs_scrub_progress(struct daxfs *fs, struct daxfs_scrub_result *res,
			 daxfs_scrub_progress_fn fn, void *ctx)
{
	struct wire_scrub_range req = {.cursor = 0, .len = SCRUB_STEP};
	struct wire_scrub_range_reply rep;
	struct lib_slot *s;
	struct wire_msg m;
	int ret;

	if (!fs || !res)
		return lib_err(-EINVAL, "daxfs_scrub: no handle or result buffer");
	memset(res, 0, sizeof(*res));
	for (;;) {
		ret = lib_slot_get(fs, &s);
		if (ret < 0)
			return ret;
		wire_msg_init(&m, s->req, WIRE_SCRUB_RANGE, 0, s->id);
		wire_msg_put(&m, &req, sizeof(req), false);
		ret = lib_call(fs, s, &m, WIRE_SCRUB_RANGE, NULL);
		if (ret == 0)
			memcpy(&rep, lib_reply_body(s), sizeof(rep));
		lib_slot_put(fs, s);
		if (ret < 0)
			return ret;
		if (rep.next <= req.cursor || rep.next > rep.total)
			return lib_err(-EPROTO, "SCRUB_RANGE: the scrub does not advance");
		res->blocks_read += rep.blocks_read;
		res->blocks_bad += rep.blocks_bad;
		res->bytes_read += rep.bytes_read;
		res->usec += rep.usec;
		if (fn)
			fn(ctx, rep.next, rep.total, res);
		if (rep.next == rep.total)
			return 0;
		req.cursor = rep.next;
	}
}

int daxfs_scrub_replica(struct daxfs *fs, unsigned flags, struct daxfs_replica_scrub *res,
			daxfs_scrub_replica_fn fn, void *ctx)
{
	struct wire_scrub_replica req = {.cursor = 0, .len = SCRUB_STEP};
	struct wire_scrub_replica_reply rep;
	struct lib_slot *s;
	struct wire_msg m;
	int ret;

	if (!fs || !res || (flags & ~(unsigned)DAXFS_SCRUB_COMPARE))
		return lib_err(-EINVAL, "daxfs_scrub_replica: no handle, no result, or bad flags");
	memset(res, 0, sizeof(*res));
	req.flags = flags & DAXFS_SCRUB_COMPARE ? WIRE_SCRUB_COMPARE : 0;
	for (;;) {
		ret = lib_slot_get(fs, &s);
		if (ret < 0)
			return ret;
		wire_msg_init(&m, s->req, WIRE_SCRUB_REPLICA, 0, s->id);
		wire_msg_put(&m, &req, sizeof(req), false);
		ret = lib_call(fs, s, &m, WIRE_SCRUB_REPLICA, NULL);
		if (ret == 0)
			memcpy(&rep, lib_reply_body(s), sizeof(rep));
		lib_slot_put(fs, s);
		if (ret < 0)
			return ret;
		if (rep.next <= req.cursor)
			return lib_err(-EPROTO, "SCRUB_REPLICA: the scrub does not advance");
		res->blocks_read += rep.blocks_read;
		res->blocks_bad += rep.blocks_bad;
		res->blocks_unrepaired += rep.blocks_unrepaired;
		res->blocks_skipped += rep.blocks_skipped;
		for (uint32_t i = 0; i < rep.ndiff && res->ndiff < DAXFS_SCRUB_DIFF_MAX; i++)
			res->diff[res->ndiff++] = rep.diff[i];
		res->differ += rep.differ;
		if (fn)
			fn(ctx, rep.next, rep.total);
		if (rep.next == rep.total)
			return 0;
		req.cursor = rep.next;
	}
}

int daxfs_scrub(struct daxfs *fs, struct daxfs_scrub_result *res)
{
	return daxfs_scrub_progress(fs, res, NULL, NULL);
}

int daxfs_replica_add(struct daxfs *fs, const char *path)
{
	struct wire_path req = {0};
	int ret;

	if (!fs)
		return lib_err(-EINVAL, "daxfs_replica_add: no handle");
	ret = lib_path_size(path, &req.path_len);
	if (ret < 0)
		return ret;
	return lib_call_attr(fs, WIRE_REPLICA_ADD, &req, sizeof(req), path, req.path_len, NULL, 0,
			     path, NULL);
}

int daxfs_replica_remove(struct daxfs *fs)
{
	if (!fs)
		return lib_err(-EINVAL, "daxfs_replica_remove: no handle");
	return lib_call_attr(fs, WIRE_REPLICA_REMOVE, NULL, 0, NULL, 0, NULL, 0, NULL, NULL);
}

int daxfs_replica_status(struct daxfs *fs, struct daxfs_replica *out)
{
	struct wire_replica_reply rep;
	struct lib_slot *s;
	struct wire_msg m;
	int ret;

	if (!fs || !out)
		return lib_err(-EINVAL, "daxfs_replica_status: no handle or result pointer");
	ret = lib_slot_get(fs, &s);
	if (ret < 0)
		return ret;
	wire_msg_init(&m, s->req, WIRE_REPLICA, 0, s->id);
	ret = lib_call(fs, s, &m, WIRE_REPLICA, NULL);
	if (ret == 0) {
		/* wire_decode_reply checked the state and the NULs. */
		memcpy(&rep, lib_reply_body(s), sizeof(rep));
		memset(out, 0, sizeof(*out));
		out->state = (enum daxfs_replica_state)rep.state;
		snprintf(out->path, sizeof(out->path), "%s", rep.path);
		snprintf(out->why, sizeof(out->why), "%s", rep.why);
		out->synced = rep.synced;
		out->size = rep.size;
		out->reads = rep.reads;
		out->repaired = rep.repaired;
	}
	lib_slot_put(fs, s);
	return ret;
}

int daxfs_stats(struct daxfs *fs, char **text, size_t *len)
{
	struct wire_stats_reply rep;
	struct wire_hdr hdr;
	struct lib_slot *s;
	struct wire_msg m;
	char *t = NULL;
	int ret;

	if (!fs || !text || !len)
		return lib_err(-EINVAL, "daxfs_stats: no handle or result pointer");
	if (!fs->shm)
		return lib_err(-EPROTO, "STATS: the session has no shared buffer");
	pthread_mutex_lock(&fs->shm_lock);
	ret = lib_slot_get(fs, &s);
	if (ret < 0)
		goto out;
	wire_msg_init(&m, s->req, WIRE_STATS, 0, s->id);
	ret = lib_call(fs, s, &m, WIRE_STATS, NULL);
	if (ret == 0) {
		memcpy(&hdr, s->buf, sizeof(hdr));
		memcpy(&rep, lib_reply_body(s), sizeof(rep));
		if (!(hdr.flags & WIRE_F_SHM) || rep.len > fs->shm_size)
			ret = lib_err(-EPROTO, "STATS: %llu bytes, not in the shared buffer",
				      (unsigned long long)rep.len);
	}
	if (ret == 0) {
		t = malloc(rep.len + 1);
		if (t) {
			memcpy(t, fs->shm, rep.len);
			t[rep.len] = '\0';
		} else {
			ret = lib_err(-ENOMEM, "STATS: out of memory for %llu bytes",
				      (unsigned long long)rep.len);
		}
	}
	lib_slot_put(fs, s);
out:
	pthread_mutex_unlock(&fs->shm_lock);
	if (ret == 0) {
		*text = t;
		*len = rep.len;
	}
	return ret;
}

int daxfs_inject(struct daxfs *fs, enum daxfs_inject_kind kind, const char *point, uint64_t arg0,
		 uint64_t arg1, uint64_t *value)
{
	struct wire_inject req = {.kind = (uint32_t)kind, .arg0 = arg0, .arg1 = arg1};
	struct wire_inject_reply rep;
	struct lib_slot *s;
	struct wire_msg m;
	int ret;

	if (!fs)
		return lib_err(-EINVAL, "daxfs_inject: no handle");
	if (point && strlen(point) >= sizeof(req.point))
		return lib_err(-ENOENT, "INJECT: no point is named '%s'", point);
	if (point)
		memcpy(req.point, point, strlen(point));
	ret = lib_slot_get(fs, &s);
	if (ret < 0)
		return ret;
	wire_msg_init(&m, s->req, WIRE_INJECT, 0, s->id);
	wire_msg_put(&m, &req, sizeof(req), false);
	ret = lib_call(fs, s, &m, WIRE_INJECT, point);
	if (ret == 0 && value) {
		memcpy(&rep, lib_reply_body(s), sizeof(rep));
		*value = rep.value;
	}
	lib_slot_put(fs, s);
	return ret;
}
