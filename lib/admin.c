// SPDX-License-Identifier: MIT
/*
 * libdaxfs: what an operator asks about the media (extents, bad blocks, scrub) and the
 * fault-injection requests. The lists come in pages (one reply holds a few thousand); the
 * functions here gather them into one array for the caller.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libdaxfs-private.h"

/* grow - room for @more entries of @size bytes after *@n in *@v. Return: 0; -ENOMEM. */
static int grow(void **v, size_t *cap, size_t n, size_t more, size_t size)
{
	void *nv;
	size_t want = *cap ? *cap : 64;

	while (want < n + more)
		want *= 2;
	if (want == *cap)
		return 0;
	nv = realloc(*v, want * size);
	if (!nv)
		return lib_err(-ENOMEM, "out of memory for the list");
	*v = nv;
	*cap = want;
	return 0;
}

int daxfs_extents(struct daxfs *fs, uint64_t ino, struct daxfs_extent **out, size_t *count)
{
	struct wire_extents req = {.ino = ino};
	struct wire_extents_reply rep;
	struct daxfs_extent *v = NULL;
	size_t n = 0, cap = 0;
	struct lib_slot *s;
	struct wire_msg m;
	char what[32];
	int ret;

	if (!fs || !out || !count)
		return lib_err(-EINVAL, "daxfs_extents: no handle or result pointer");
	snprintf(what, sizeof(what), "inode %llu", (unsigned long long)ino);
	for (;;) {
		size_t off = sizeof(struct wire_hdr) + sizeof(rep);

		ret = lib_slot_get(fs, &s);
		if (ret < 0)
			break;
		wire_msg_init(&m, s->req, WIRE_EXTENTS, 0, s->id);
		wire_msg_put(&m, &req, sizeof(req), false);
		ret = lib_call(fs, s, &m, WIRE_EXTENTS, what);
		if (ret == 0) {
			memcpy(&rep, lib_reply_body(s), sizeof(rep));
			ret = grow((void **)&v, &cap, n, rep.count, sizeof(*v));
		}
		for (uint32_t i = 0; ret == 0 && i < rep.count; i++) {
			struct wire_extent e;

			/* wire_decode_reply checked that the extents fill the packet */
			memcpy(&e, s->buf + off + i * sizeof(e), sizeof(e));
			v[n++] = (struct daxfs_extent){e.file_off, e.region_off, e.len,
						       e.flags & WIRE_EXT_POISON
							       ? DAXFS_EXTENT_POISON
							       : 0};
		}
		lib_slot_put(fs, s);
		if (ret < 0 || rep.eof)
			break;
		if (rep.next_off <= req.off) {
			ret = lib_err(-EPROTO, "EXTENTS %s: the listing does not advance", what);
			break;
		}
		req.off = rep.next_off;
	}
	if (ret < 0) {
		free(v);
		return ret;
	}
	*out = v;
	*count = n;
	return 0;
}

int daxfs_badblocks(struct daxfs *fs, struct daxfs_badblock **out, size_t *count)
{
	struct wire_badblocks req = {0};
	struct wire_badblocks_reply rep;
	struct daxfs_badblock *v = NULL;
	size_t n = 0, cap = 0;
	struct lib_slot *s;
	struct wire_msg m;
	int ret;

	if (!fs || !out || !count)
		return lib_err(-EINVAL, "daxfs_badblocks: no handle or result pointer");
	for (;;) {
		size_t off = sizeof(struct wire_hdr) + sizeof(rep);

		ret = lib_slot_get(fs, &s);
		if (ret < 0)
			break;
		wire_msg_init(&m, s->req, WIRE_BADBLOCKS, 0, s->id);
		wire_msg_put(&m, &req, sizeof(req), false);
		ret = lib_call(fs, s, &m, WIRE_BADBLOCKS, NULL);
		if (ret == 0) {
			memcpy(&rep, lib_reply_body(s), sizeof(rep));
			ret = grow((void **)&v, &cap, n, rep.count, sizeof(*v));
		}
		for (uint32_t i = 0; ret == 0 && i < rep.count; i++) {
			struct wire_badblock b;

			memcpy(&b, s->buf + off + i * sizeof(b), sizeof(b));
			v[n++] = (struct daxfs_badblock){
				b.region_off, b.len, b.ino, b.file_off,
				(b.flags & WIRE_BB_METADATA ? DAXFS_BADBLOCK_METADATA : 0) |
					(b.flags & WIRE_BB_OWNED ? DAXFS_BADBLOCK_OWNED : 0)};
		}
		lib_slot_put(fs, s);
		if (ret < 0 || rep.eof)
			break;
		if (rep.next_cookie <= req.cookie) {
			ret = lib_err(-EPROTO, "BADBLOCKS: the listing does not advance");
			break;
		}
		req.cookie = rep.next_cookie;
	}
	if (ret < 0) {
		free(v);
		return ret;
	}
	if (n == 0) {
		free(v);
		v = NULL;
	}
	*out = v;
	*count = n;
	return 0;
}

int daxfs_scrub(struct daxfs *fs, struct daxfs_scrub_result *res)
{
	struct wire_scrub_reply rep;
	struct lib_slot *s;
	struct wire_msg m;
	int ret;

	if (!fs || !res)
		return lib_err(-EINVAL, "daxfs_scrub: no handle or result buffer");
	ret = lib_slot_get(fs, &s);
	if (ret < 0)
		return ret;
	wire_msg_init(&m, s->req, WIRE_SCRUB, 0, s->id);
	ret = lib_call(fs, s, &m, WIRE_SCRUB, NULL);
	if (ret == 0) {
		memcpy(&rep, lib_reply_body(s), sizeof(rep));
		*res = (struct daxfs_scrub_result){rep.blocks_read, rep.blocks_bad, rep.bytes_read,
						   rep.usec};
	}
	lib_slot_put(fs, s);
	return ret;
}

int daxfs_inject(struct daxfs *fs, enum daxfs_inject_kind kind, const char *point,
		 uint64_t arg0, uint64_t arg1, uint64_t *value)
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
