// SPDX-License-Identifier: MIT
/*
 * wire: every request and reply built with wire_msg_*() decodes back to what was put in;
 * every malformed message (truncated anywhere, wrong length, unknown op or flag, bad path,
 * out-of-limit io, misaligned MAP, broken READDIR/MAP tails) is refused with the documented
 * error; and random mutations of valid messages never make a decoder read outside the packet
 * (each decode gets an exactly sized heap copy, so ASan sees any overread).
 */
#include <stdlib.h>

#include "testutil.h"
#include "util.h"
#include "wire.h"

#define P1 "/dir/file"
#define P2 "/other/name.txt"
#define ID 0x1122334455667700ull
#define HDR sizeof(struct wire_hdr)
#define MUTATIONS 100000

static uint64_t msgbuf[WIRE_MSG_MAX / 8 + 64]; /* 8-aligned, as a recvmsg buffer */
static char long_path[WIRE_PATH_MAX];	       /* "/aaa...a": WIRE_PATH_MAX bytes with its NUL */
static uint8_t data[WIRE_INLINE_MAX];
static uint64_t rng;

/* --- requests --- */

struct req_sample {
	const char *what;
	unsigned op;
	uint16_t flags;
	const void *body;
	size_t body_len;
	const char *path, *path2;
	size_t data_len; /* WRITE inline: bytes of data[] */
};

static const struct wire_hello hello = {.version = WIRE_VERSION};
static const struct wire_hello hello_next = {.version = WIRE_VERSION + 1, .flags = 7};
static const struct wire_path path1 = {.path_len = sizeof(P1)};
static const struct wire_path path_root = {.path_len = 2};
static const struct wire_path path_long = {.path_len = WIRE_PATH_MAX};
static const struct wire_getattr getattr = {.ino = 42};
static const struct wire_mknode mkdir_b = {.mode = 0755, .path_len = sizeof(P1)};
static const struct wire_mknode create_b = {
	.mode = 0644, .flags = WIRE_CREATE_EXCL, .path_len = sizeof(P2)};
static const struct wire_rename rename_b = {
	.flags = 1, .old_len = sizeof(P1), .new_len = sizeof(P2)};
static const struct wire_setattr setattr_b = {.ino = 7,
					      .valid = 0x3f,
					      .mode = 0600,
					      .uid = 1000,
					      .gid = 100,
					      .size = 1ull << 40,
					      .atime = -5,
					      .mtime = 123456789};
static const struct wire_readdir readdir_b = {.cookie = 99, .max = 1024, .path_len = 2};
static const struct wire_readdir readdir_1 = {.cookie = 0, .max = 1, .path_len = sizeof(P1)};
static const struct wire_io read_inline = {.ino = 3, .off = 4096, .len = WIRE_INLINE_MAX};
static const struct wire_io read_shm = {.ino = 3, .off = 0, .len = WIRE_SHM_SIZE};
static const struct wire_io write_1000 = {.ino = 3, .off = 5, .len = 1000};
static const struct wire_io write_0 = {.ino = 3, .off = 5, .len = 0};
static const struct wire_io write_max = {.ino = 3, .off = 0, .len = WIRE_INLINE_MAX};
static const struct wire_io write_shm = {.ino = 3, .off = 1ull << 50, .len = WIRE_SHM_SIZE};
static const struct wire_fallocate fallocate_b = {.ino = 9, .mode = 3, .off = 1, .len = 2};
static const struct wire_fsync fsync_b = {.ino = 9};
static const struct wire_map map_r = {.ino = 9, .off = 8192, .len = 1ull << 30, .mode = 1};
static const struct wire_map map_rw = {.ino = 9, .off = 0, .len = 4096, .mode = 3};
static const struct wire_map map_w = {
	.ino = 9, .off = UINT64_MAX - 8191, .len = 4096, .mode = 2}; /* ends at 2^64 - 4096 */
static const struct wire_unmap unmap_b = {.grant = 77};
static const struct wire_ack ack_b = {.grant = 77, .generation = 5};
static const struct wire_extents extents_b = {.ino = 9, .off = 1ull << 40};
static const struct wire_badblocks badblocks_b = {.cookie = 4096};
static const struct wire_poison_report poison_report_b = {.grant = 77, .off = 8192, .len = 4096};
static const struct wire_inject inject_poison = {
	.kind = WIRE_INJECT_POISON, .arg0 = 1 << 20, .arg1 = 4096};
static const struct wire_inject inject_fail = {
	.kind = WIRE_INJECT_FAIL, .arg0 = 3, .arg1 = 28, .point = "alloc"};
static const struct wire_scrub_range scrub_range_b = {.cursor = 1 << 20, .len = 256 << 20};
static const struct wire_inject inject_media = {
	.kind = WIRE_INJECT_MEDIA, .arg0 = 3 << 20, .arg1 = 8192};
static const struct wire_badblock_clear bb_clear_b = {.off = 6 << 20, .len = 4096};
static const struct wire_map_persist map_persist_b = {.grant = 7, .off = 8192, .len = 4096};
static const struct wire_scrub_replica scrub_replica_b = {
	.cursor = 1 << 20, .len = 256 << 20, .flags = WIRE_SCRUB_COMPARE};
static const struct wire_path lstat_b = {.path_len = sizeof(P1), .flags = WIRE_STAT_NOFOLLOW};
static const struct wire_rename link_b = {.old_len = sizeof(P1), .new_len = sizeof(P2)};
static const struct wire_symlink symlink_b = {.path_len = sizeof(P2), .target_len = sizeof("../t")};
static const struct wire_mknod mknod_b = {.mode = 0020644, .path_len = sizeof(P1), .rdev = 259};
static const struct wire_xattr getxattr_b = {.ino = 5, .size = 100, .name_len = sizeof("user.x")};
static const struct wire_xattr getxattr_shm = {
	.ino = 5, .size = WIRE_XATTR_MAX, .name_len = sizeof("user.x")};
static const struct wire_xattr setxattr_b = {
	.ino = 5, .size = 1000, .name_len = sizeof("user.x"), .flags = 1};
static const struct wire_xattr setxattr_shm = {
	.ino = 5, .size = WIRE_XATTR_MAX, .name_len = sizeof("user.x"), .flags = 2};
static const struct wire_xattr_list listxattr_b = {.ino = 5, .size = 4096};
static const struct wire_xattr removexattr_b = {.ino = 5, .name_len = sizeof("user.x")};
static const struct wire_io append_b = {.ino = 3, .len = 1000, .flags = WIRE_IO_APPEND};
static const struct wire_mount mount_b = {.path_len = sizeof(P1),
					  .opts_len = sizeof("cache=always,ro")};
static const struct wire_mount mount_noopts = {.path_len = sizeof(P1), .opts_len = 1};

#define BODY(b) &(b), sizeof(b)

/* The first sample of each op is its canonical one (small, used for truncation loops). */
static const struct req_sample reqs[] = {
	{"hello", WIRE_HELLO, 0, BODY(hello)},
	{"hello next", WIRE_HELLO, 0, BODY(hello_next)},
	{"statfs", WIRE_STATFS, 0, NULL, 0},
	{"stat", WIRE_STAT, 0, BODY(path1), P1},
	{"stat /", WIRE_STAT, 0, BODY(path_root), "/"},
	{"stat long", WIRE_STAT, 0, BODY(path_long), long_path},
	{"getattr", WIRE_GETATTR, 0, BODY(getattr)},
	{"mkdir", WIRE_MKDIR, 0, BODY(mkdir_b), P1},
	{"create", WIRE_CREATE, 0, BODY(create_b), P2},
	{"unlink", WIRE_UNLINK, 0, BODY(path1), P1},
	{"rmdir", WIRE_RMDIR, 0, BODY(path1), P1},
	{"rename", WIRE_RENAME, 0, BODY(rename_b), P1, P2},
	{"setattr", WIRE_SETATTR, 0, BODY(setattr_b)},
	{"readdir", WIRE_READDIR, 0, BODY(readdir_b), "/"},
	{"readdir 1", WIRE_READDIR, 0, BODY(readdir_1), P1},
	{"read", WIRE_READ, 0, BODY(read_inline)},
	{"read shm", WIRE_READ, WIRE_F_SHM, BODY(read_shm)},
	{"write", WIRE_WRITE, 0, BODY(write_1000), NULL, NULL, 1000},
	{"write 0", WIRE_WRITE, 0, BODY(write_0), NULL, NULL, 0},
	{"write max", WIRE_WRITE, 0, BODY(write_max), NULL, NULL, WIRE_INLINE_MAX},
	{"write shm", WIRE_WRITE, WIRE_F_SHM, BODY(write_shm)},
	{"fallocate", WIRE_FALLOCATE, 0, BODY(fallocate_b)},
	{"fsync", WIRE_FSYNC, 0, BODY(fsync_b)},
	{"map", WIRE_MAP, 0, BODY(map_r)},
	{"map rw", WIRE_MAP, 0, BODY(map_rw)},
	{"map w", WIRE_MAP, 0, BODY(map_w)},
	{"unmap", WIRE_UNMAP, 0, BODY(unmap_b)},
	{"ack", WIRE_ACK, 0, BODY(ack_b)},
	{"extents", WIRE_EXTENTS, 0, BODY(extents_b)},
	{"badblocks", WIRE_BADBLOCKS, 0, BODY(badblocks_b)},
	{"scrub", WIRE_SCRUB, 0, NULL, 0},
	{"poison report", WIRE_POISON_REPORT, 0, BODY(poison_report_b)},
	{"inject poison", WIRE_INJECT, 0, BODY(inject_poison)},
	{"inject fail", WIRE_INJECT, 0, BODY(inject_fail)},
	{"stats", WIRE_STATS, 0, NULL, 0},
	{"replica", WIRE_REPLICA, 0, NULL, 0},
	{"map persist", WIRE_MAP_PERSIST, 0, BODY(map_persist_b)},
	{"scrub replica", WIRE_SCRUB_REPLICA, 0, BODY(scrub_replica_b)},
	{"replica add", WIRE_REPLICA_ADD, 0, BODY(path1), P1},
	{"replica remove", WIRE_REPLICA_REMOVE, 0, NULL, 0},
	{"scrub range", WIRE_SCRUB_RANGE, 0, BODY(scrub_range_b)},
	{"inject media", WIRE_INJECT, 0, BODY(inject_media)},
	{"badblock clear", WIRE_BADBLOCK_CLEAR, 0, BODY(bb_clear_b)},
	{"link", WIRE_LINK, 0, BODY(link_b), P1, P2},
	{"symlink", WIRE_SYMLINK, 0, BODY(symlink_b), P2, "../t"},
	{"readlink", WIRE_READLINK, 0, BODY(path1), P1},
	{"mknod", WIRE_MKNOD, 0, BODY(mknod_b), P1},
	{"getxattr", WIRE_GETXATTR, 0, BODY(getxattr_b), "user.x"},
	{"getxattr shm", WIRE_GETXATTR, WIRE_F_SHM, BODY(getxattr_shm), "user.x"},
	{"setxattr", WIRE_SETXATTR, 0, BODY(setxattr_b), "user.x", NULL, 1000},
	{"setxattr shm", WIRE_SETXATTR, WIRE_F_SHM, BODY(setxattr_shm), "user.x"},
	{"listxattr", WIRE_LISTXATTR, 0, BODY(listxattr_b)},
	{"removexattr", WIRE_REMOVEXATTR, 0, BODY(removexattr_b), "user.x"},
	{"lstat", WIRE_STAT, 0, BODY(lstat_b), P1},
	{"append", WIRE_WRITE, 0, BODY(append_b), NULL, NULL, 1000},
	{"mount", WIRE_MOUNT, 0, BODY(mount_b), P1, "cache=always,ro"},
	{"mount no options", WIRE_MOUNT, 0, BODY(mount_noopts), P1, ""},
	{"umount", WIRE_UMOUNT, 0, BODY(path1), P1},
};

static size_t build_req(const struct req_sample *s, void *buf)
{
	struct wire_msg m;
	size_t len;

	wire_msg_init(&m, buf, s->op, s->flags, ID | s->op);
	if (s->body_len)
		T_ASSERT(wire_msg_put(&m, s->body, s->body_len, false));
	if (s->path)
		T_ASSERT(wire_msg_put(&m, s->path, strlen(s->path) + 1, false));
	if (s->path2)
		T_ASSERT(wire_msg_put(&m, s->path2, strlen(s->path2) + 1, false));
	if (s->data_len)
		T_ASSERT(wire_msg_put(&m, data, s->data_len, false));
	len = wire_msg_end(&m);
	T_ASSERT(m.err == 0 && len == m.len);
	return len;
}

/* dup_exact - a heap copy of exactly @len bytes (malloc aligns it to 16): overreads trap. */
static void *dup_exact(const void *p, size_t len)
{
	void *q = malloc(len ? len : 1);

	T_ASSERT(q);
	memcpy(q, p, len);
	return q;
}

static int decode_req_copy(const void *p, size_t len, struct wire_req *r)
{
	void *q = dup_exact(p, len);
	int ret = wire_decode_request(q, len, r);

	free(q);
	return ret;
}

static int decode_reply_copy(const void *p, size_t len)
{
	void *q = dup_exact(p, len);
	struct wire_hdr hdr;
	int ret = wire_decode_reply(q, len, &hdr);

	free(q);
	return ret;
}

static void set_hdr_len(void *buf, uint32_t len)
{
	memcpy(buf, &len, sizeof(len));
}

static size_t sample_index(const char *what)
{
	for (size_t i = 0; i < ARRAY_SIZE(reqs); i++)
		if (strcmp(reqs[i].what, what) == 0)
			return i;
	T_FAIL("no sample %s", what);
}

static void round_trip_requests(void)
{
	uint8_t *buf = (uint8_t *)msgbuf;

	for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
		const struct req_sample *s = &reqs[i];
		size_t len = build_req(s, buf);
		struct wire_req r;
		int ret = wire_decode_request(buf, len, &r);

		if (ret)
			T_FAIL("%s: decode = %d", s->what, ret);
		T_ASSERT(r.hdr.len == len && r.hdr.op == s->op && r.hdr.flags == s->flags);
		T_ASSERT(r.hdr.id == (ID | s->op));
		T_ASSERT(len == HDR + s->body_len + (s->path ? strlen(s->path) + 1 : 0) +
					(s->path2 ? strlen(s->path2) + 1 : 0) + s->data_len);
		T_ASSERT(wire_body_size(s->op) == (int)s->body_len);
		T_ASSERT(r.body == buf + HDR);
		if (s->body_len && memcmp(r.body, s->body, s->body_len))
			T_FAIL("%s: body differs", s->what);
		if (!s->path != !r.path || (s->path && strcmp(s->path, r.path)))
			T_FAIL("%s: path differs", s->what);
		if (!s->path2 != !r.path2 || (s->path2 && strcmp(s->path2, r.path2)))
			T_FAIL("%s: path2 differs", s->what);
		T_ASSERT(r.data_len == s->data_len);
		if (s->op == WIRE_WRITE && !(s->flags & WIRE_F_SHM)) {
			T_ASSERT(r.data == buf + HDR + s->body_len);
			T_ASSERT(memcmp(r.data, data, s->data_len) == 0);
		} else if (s->op == WIRE_SETXATTR && !(s->flags & WIRE_F_SHM)) {
			/* The value follows the name. */
			T_ASSERT(r.data == buf + HDR + s->body_len + strlen(s->path) + 1);
			T_ASSERT(memcmp(r.data, data, s->data_len) == 0);
		} else {
			T_ASSERT(r.data == NULL);
		}
	}

	/* Field by field, through the layouts the daemon casts to. */
	struct wire_req r;
	const struct wire_setattr *sa;
	const struct wire_map *mp;
	const struct wire_rename *rn;

	T_OK(wire_decode_request(buf, build_req(&reqs[sample_index("setattr")], buf), &r));
	sa = r.body;
	T_ASSERT(sa->ino == 7 && sa->valid == 0x3f && sa->mode == 0600 && sa->uid == 1000 &&
		 sa->gid == 100 && sa->size == 1ull << 40 && sa->atime == -5 &&
		 sa->mtime == 123456789);
	T_OK(wire_decode_request(buf, build_req(&reqs[sample_index("map")], buf), &r));
	mp = r.body;
	T_ASSERT(mp->ino == 9 && mp->off == 8192 && mp->len == 1ull << 30 && mp->mode == 1);
	T_OK(wire_decode_request(buf, build_req(&reqs[sample_index("rename")], buf), &r));
	rn = r.body;
	T_ASSERT(rn->flags == 1 && rn->old_len == sizeof(P1) && rn->new_len == sizeof(P2));
	T_ASSERT(r.path == rn->paths && r.path2 == rn->paths + sizeof(P1));

	/* Every op has a sample. */
	for (unsigned op = WIRE_HELLO; op < WIRE_OP_MAX; op++) {
		bool found = false;

		if (!wire_op_known(op))
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(reqs); i++)
			found |= reqs[i].op == op;
		if (!found)
			T_FAIL("no sample for op %u", op);
	}
}

/* Every strict prefix fails, both as sent (header says more) and relabelled to its length. */
static void truncate_loop(const void *full, size_t len, bool request, const char *what)
{
	size_t step = len > 4096 ? 61 : 1;

	for (size_t l = 0; l < len; l += (l < 256 || len - l < 256) ? 1 : step) {
		uint8_t *q = dup_exact(full, l);
		struct wire_req r;
		struct wire_hdr h;

		for (int relabel = 0; relabel < 2; relabel++) {
			int ret;

			if (relabel && l < 4)
				break;
			if (relabel)
				set_hdr_len(q, (uint32_t)l);
			ret = request ? wire_decode_request(q, l, &r) : wire_decode_reply(q, l, &h);
			if (ret == 0)
				T_FAIL("%s: prefix of %zu bytes (relabel %d) accepted", what, l,
				       relabel);
			if (ret != -EBADMSG)
				T_FAIL("%s: prefix of %zu bytes = %d", what, l, ret);
		}
		free(q);
	}
}

static void truncated_requests(void)
{
	uint8_t *buf = (uint8_t *)msgbuf;

	for (size_t i = 0; i < ARRAY_SIZE(reqs); i++)
		truncate_loop(buf, build_req(&reqs[i], buf), true, reqs[i].what);
}

/* mutate_req - build sample @i, let @fn change it, expect @err from the decoder. */
#define EXPECT_REQ(i, err, ...)                                                                    \
	do {                                                                                       \
		uint8_t *b = (uint8_t *)msgbuf;                                                    \
		size_t len = build_req(&reqs[i], b);                                               \
		struct wire_req r;                                                                 \
		int ret;                                                                           \
		__VA_ARGS__;                                                                       \
		ret = decode_req_copy(b, len, &r);                                                 \
		if (ret != -(err))                                                                 \
			T_FAIL("%s: %s: %d, expected -%s", reqs[i].what, #__VA_ARGS__, ret, #err); \
	} while (0)

static void put_u16(void *b, size_t off, uint16_t v)
{
	memcpy((uint8_t *)b + off, &v, sizeof(v));
}

static void put_u32(void *b, size_t off, uint32_t v)
{
	memcpy((uint8_t *)b + off, &v, sizeof(v));
}

static void put_u64(void *b, size_t off, uint64_t v)
{
	memcpy((uint8_t *)b + off, &v, sizeof(v));
}

#define OP_OFF offsetof(struct wire_hdr, op)
#define FLAGS_OFF offsetof(struct wire_hdr, flags)

static void bad_requests(void)
{
	size_t stat = sample_index("stat"), rename = sample_index("rename");
	size_t rd = sample_index("read"), rds = sample_index("read shm");
	size_t wr = sample_index("write"), wrs = sample_index("write shm");
	size_t map = sample_index("map"), rdir = sample_index("readdir");
	size_t mk = sample_index("mkdir"), cr = sample_index("create");
	size_t pb = HDR + sizeof(struct wire_path); /* where a STAT path starts */

	/* The header's length and the packet's. */
	EXPECT_REQ(stat, EBADMSG, set_hdr_len(b, (uint32_t)len + 1));
	EXPECT_REQ(stat, EBADMSG, set_hdr_len(b, (uint32_t)len - 1));
	EXPECT_REQ(stat, EBADMSG, set_hdr_len(b, 0));
	EXPECT_REQ(stat, EMSGSIZE, set_hdr_len(b, WIRE_MSG_MAX + 1));
	EXPECT_REQ(stat, EMSGSIZE, set_hdr_len(b, UINT32_MAX));
	EXPECT_REQ(wr, EMSGSIZE, len = WIRE_MSG_MAX + 1; set_hdr_len(b, (uint32_t)len));
	EXPECT_REQ(wr, EMSGSIZE, len = WIRE_MSG_MAX + 1);

	/* Ops: unknown, replies and events are not requests. */
	static const uint16_t bad_ops[] = {0,
					   WIRE_OP_MAX,
					   WIRE_SCRUB_REPLICA + 1, /* the first number of a gap */
					   WIRE_STATS - 1,
					   0xff,
					   WIRE_REPLY,
					   WIRE_REPLY | WIRE_STAT,
					   WIRE_REPLY | WIRE_ACK,
					   WIRE_EV_POISON,
					   WIRE_EV_INVALIDATE,
					   0xffff};
	for (size_t i = 0; i < ARRAY_SIZE(bad_ops); i++)
		EXPECT_REQ(stat, EPROTO, put_u16(b, OP_OFF, bad_ops[i]));

	/* Header flags: unknown bits, an fd, SHM outside READ/WRITE. */
	EXPECT_REQ(stat, EBADMSG, put_u16(b, FLAGS_OFF, 0x4));
	EXPECT_REQ(stat, EBADMSG, put_u16(b, FLAGS_OFF, 0x8000));
	EXPECT_REQ(stat, EBADMSG, put_u16(b, FLAGS_OFF, WIRE_F_FD));
	EXPECT_REQ(stat, EBADMSG, put_u16(b, FLAGS_OFF, WIRE_F_SHM));
	EXPECT_REQ(rd, EBADMSG, put_u16(b, FLAGS_OFF, WIRE_F_FD));
	EXPECT_REQ(rds, EBADMSG, put_u16(b, FLAGS_OFF, WIRE_F_SHM | 0x10));

	/* Paths. */
	EXPECT_REQ(stat, EBADMSG, b[len - 1] = 'x');		/* no NUL at its end */
	EXPECT_REQ(stat, EBADMSG, b[pb + 4] = '\0');		/* "/dir\0file\0" */
	EXPECT_REQ(stat, EBADMSG, b[pb + 1] = '\0');		/* "/\0ir..." */
	EXPECT_REQ(stat, EBADMSG, b[pb] = 'd');			/* relative */
	EXPECT_REQ(stat, EBADMSG, b[pb] = '\0');		/* empty, NUL first */
	EXPECT_REQ(stat, EBADMSG, put_u32(b, HDR, 0));		/* path_len 0 */
	EXPECT_REQ(stat, EBADMSG, put_u32(b, HDR, 1));		/* path_len 1 */
	EXPECT_REQ(stat, EBADMSG, put_u32(b, HDR, 5));		/* shorter than sent */
	EXPECT_REQ(stat, EBADMSG, put_u32(b, HDR, 11));		/* longer than sent */
	EXPECT_REQ(stat, EBADMSG, put_u32(b, HDR, UINT32_MAX)); /* wraps */
	EXPECT_REQ(stat, EBADMSG, put_u32(b, HDR, 0x80000000u));
	/* Too long: WIRE_PATH_MAX + 1 bytes, well formed otherwise. */
	EXPECT_REQ(stat, EBADMSG, memset(b + pb, 'a', WIRE_PATH_MAX); b[pb] = '/';
		   b[pb + WIRE_PATH_MAX] = '\0'; len = pb + WIRE_PATH_MAX + 1;
		   set_hdr_len(b, (uint32_t)len); put_u32(b, HDR, WIRE_PATH_MAX + 1));
	/* The same with WIRE_PATH_MAX bytes is fine. */
	EXPECT_REQ(stat, 0, memset(b + pb, 'a', WIRE_PATH_MAX); b[pb] = '/';
		   b[pb + WIRE_PATH_MAX - 1] = '\0'; len = pb + WIRE_PATH_MAX;
		   set_hdr_len(b, (uint32_t)len); put_u32(b, HDR, WIRE_PATH_MAX));
	/* Bytes after the path. */
	EXPECT_REQ(stat, EBADMSG, b[len] = 0; len++; set_hdr_len(b, (uint32_t)len));
	EXPECT_REQ(stat, EBADMSG, memset(b + len, 0, 8); len += 8; set_hdr_len(b, (uint32_t)len));
	/* Every path op checks its path. */
	for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
		if (!reqs[i].path)
			continue;
		size_t at = HDR + reqs[i].body_len;
		bool name = reqs[i].op == WIRE_GETXATTR || reqs[i].op == WIRE_SETXATTR ||
			    reqs[i].op == WIRE_REMOVEXATTR;

		/* Paths are absolute; an attribute's name is a name. */
		if (!name)
			EXPECT_REQ(i, EBADMSG, b[at] = 'x');
		EXPECT_REQ(i, EBADMSG, b[at + strlen(reqs[i].path)] = 'x');
		if (strlen(reqs[i].path) > 1)
			EXPECT_REQ(i, EBADMSG, b[at + 1] = '\0');
	}
	/* RENAME: the new path too, and the split between them. */
	size_t np = HDR + sizeof(struct wire_rename) + sizeof(P1);

	EXPECT_REQ(rename, EBADMSG, b[np] = 'o');
	EXPECT_REQ(rename, EBADMSG, b[len - 1] = 'x');
	EXPECT_REQ(rename, EBADMSG, b[np + 3] = '\0');
	EXPECT_REQ(rename, EBADMSG, put_u32(b, HDR + 8, 1));
	EXPECT_REQ(rename, EBADMSG, put_u32(b, HDR + 8, sizeof(P2) + 1));
	EXPECT_REQ(rename, EBADMSG, put_u32(b, HDR + 4, sizeof(P1) + 1));
	EXPECT_REQ(rename, EBADMSG, put_u32(b, HDR + 4, UINT32_MAX));
	EXPECT_REQ(rename, EBADMSG, put_u32(b, HDR + 4, sizeof(P1) + sizeof(P2)));
	EXPECT_REQ(rename, EBADMSG, put_u32(b, HDR, 4));
	EXPECT_REQ(rename, 0, put_u32(b, HDR, 3));

	/* READ/WRITE limits. */
	EXPECT_REQ(rd, EBADMSG, put_u32(b, HDR + 16, WIRE_INLINE_MAX + 1));
	EXPECT_REQ(rd, 0, put_u32(b, HDR + 16, 0));
	EXPECT_REQ(rd, 0, put_u16(b, FLAGS_OFF, WIRE_F_SHM); put_u32(b, HDR + 16, WIRE_SHM_SIZE));
	EXPECT_REQ(rds, EBADMSG, put_u32(b, HDR + 16, WIRE_SHM_SIZE + 1));
	EXPECT_REQ(rds, EBADMSG, put_u32(b, HDR + 16, UINT32_MAX));
	EXPECT_REQ(rd, EBADMSG, b[len] = 0; len++; set_hdr_len(b, (uint32_t)len));
	EXPECT_REQ(wr, EBADMSG, len--; set_hdr_len(b, (uint32_t)len));	     /* data missing */
	EXPECT_REQ(wr, EBADMSG, len -= 1000; set_hdr_len(b, (uint32_t)len)); /* all of it */
	EXPECT_REQ(wr, EBADMSG, b[len] = 0; len++; set_hdr_len(b, (uint32_t)len)); /* extra */
	EXPECT_REQ(wr, EBADMSG, len += 8; set_hdr_len(b, (uint32_t)len));
	EXPECT_REQ(wr, EBADMSG, put_u32(b, HDR + 16, 999));
	EXPECT_REQ(wr, EBADMSG, put_u32(b, HDR + 16, 1001));
	EXPECT_REQ(wr, EBADMSG, put_u32(b, HDR + 16, UINT32_MAX));
	/* Inline over the limit, with the data present (the message itself fits). */
	EXPECT_REQ(wr, EBADMSG, put_u32(b, HDR + 16, WIRE_INLINE_MAX + 1);
		   len = HDR + sizeof(struct wire_io) + WIRE_INLINE_MAX + 1;
		   set_hdr_len(b, (uint32_t)len));
	/* SHM: no data follows. */
	EXPECT_REQ(wrs, EBADMSG, b[len] = 0; len++; set_hdr_len(b, (uint32_t)len));
	EXPECT_REQ(wrs, EBADMSG, put_u32(b, HDR + 16, WIRE_SHM_SIZE + 1));
	EXPECT_REQ(wr, EBADMSG, put_u16(b, FLAGS_OFF, WIRE_F_SHM)); /* SHM with data */

	/* MAP. */
	EXPECT_REQ(map, EBADMSG, put_u64(b, HDR + 8, 4095));
	EXPECT_REQ(map, EBADMSG, put_u64(b, HDR + 8, 512));
	EXPECT_REQ(map, EBADMSG, put_u64(b, HDR + 16, 4097));
	EXPECT_REQ(map, EBADMSG, put_u64(b, HDR + 16, 100));
	EXPECT_REQ(map, EBADMSG, put_u64(b, HDR + 16, 0));
	EXPECT_REQ(map, EBADMSG, put_u64(b, HDR + 8, UINT64_MAX - 4095)); /* wraps */
	EXPECT_REQ(map, EBADMSG, put_u64(b, HDR + 8, 4096);
		   put_u64(b, HDR + 16, UINT64_MAX - 4095));
	EXPECT_REQ(map, EBADMSG, put_u32(b, HDR + 24, 0));
	EXPECT_REQ(map, EBADMSG, put_u32(b, HDR + 24, 4));
	EXPECT_REQ(map, EBADMSG, put_u32(b, HDR + 24, 5));
	EXPECT_REQ(map, 0, put_u32(b, HDR + 24, 2));
	EXPECT_REQ(map, EBADMSG, b[len] = 0; len++; set_hdr_len(b, (uint32_t)len));

	/* READDIR max. */
	EXPECT_REQ(rdir, EBADMSG, put_u32(b, HDR + 8, 0));
	EXPECT_REQ(rdir, EBADMSG, put_u32(b, HDR + 8, 1025));
	EXPECT_REQ(rdir, EBADMSG, put_u32(b, HDR + 8, 2000));
	EXPECT_REQ(rdir, EBADMSG, put_u32(b, HDR + 8, UINT32_MAX));
	EXPECT_REQ(rdir, 0, put_u32(b, HDR + 8, 1));

	/* Flag and mode words of the bodies. */
	EXPECT_REQ(sample_index("setattr"), EBADMSG, put_u32(b, HDR + 8, 0x100));
	EXPECT_REQ(sample_index("setattr"), 0, put_u32(b, HDR + 8, 0xc0)); /* the NOW bits */
	EXPECT_REQ(sample_index("setattr"), EBADMSG, put_u32(b, HDR + 8, 0x80000000u));
	EXPECT_REQ(sample_index("setattr"), 0, put_u32(b, HDR + 8, 0));
	EXPECT_REQ(sample_index("fallocate"), EBADMSG, put_u32(b, HDR + 8, 4));
	EXPECT_REQ(sample_index("fallocate"), 0, put_u32(b, HDR + 8, 0));
	EXPECT_REQ(cr, EBADMSG, put_u32(b, HDR + 4, 2));
	EXPECT_REQ(cr, 0, put_u32(b, HDR + 4, 0));
	EXPECT_REQ(mk, EBADMSG, put_u32(b, HDR + 4, WIRE_CREATE_EXCL));
	EXPECT_REQ(rename, EBADMSG, put_u32(b, HDR, 4));
	EXPECT_REQ(sample_index("hello"), EBADMSG, put_u32(b, HDR + 4, 2));
	EXPECT_REQ(sample_index("hello"), 0, put_u32(b, HDR + 4, WIRE_HELLO_F_RING));
	/* Version 2's: STAT's flags, WRITE's, LINK's (none), MKNOD's mode, the xattr words. */
	EXPECT_REQ(sample_index("lstat"), EBADMSG, put_u32(b, HDR + 4, 2));
	EXPECT_REQ(sample_index("unlink"), EBADMSG, put_u32(b, HDR + 4, WIRE_STAT_NOFOLLOW));
	EXPECT_REQ(sample_index("append"), EBADMSG, put_u32(b, HDR + 20, 2));
	EXPECT_REQ(sample_index("read"), EBADMSG, put_u32(b, HDR + 20, WIRE_IO_APPEND));
	EXPECT_REQ(sample_index("link"), EBADMSG, put_u32(b, HDR, 1));
	EXPECT_REQ(sample_index("mknod"), EBADMSG, put_u32(b, HDR, 01000000));
	EXPECT_REQ(sample_index("getxattr"), EBADMSG, put_u32(b, HDR + 8, WIRE_XATTR_MAX + 1));
	EXPECT_REQ(sample_index("getxattr"), EBADMSG, put_u32(b, HDR + 8, WIRE_INLINE_MAX + 1));
	EXPECT_REQ(sample_index("getxattr shm"), 0, put_u32(b, HDR + 8, WIRE_INLINE_MAX + 1));
	EXPECT_REQ(sample_index("getxattr"), EBADMSG, put_u16(b, HDR + 14, 1));
	EXPECT_REQ(sample_index("setxattr"), EBADMSG, put_u16(b, HDR + 14, 4));
	EXPECT_REQ(sample_index("setxattr"), EBADMSG, put_u32(b, HDR + 8, 999)); /* vs sent */
	EXPECT_REQ(sample_index("setxattr"), EBADMSG, put_u16(b, HDR + 12, 1));	 /* name 0 */
	EXPECT_REQ(sample_index("removexattr"), EBADMSG, put_u32(b, HDR + 8, 1));
	EXPECT_REQ(sample_index("listxattr"), EBADMSG, put_u32(b, HDR + 12, 1));
	EXPECT_REQ(sample_index("symlink"), EBADMSG, put_u32(b, HDR + 4, 1)); /* target 0 */
	/* SCRUB_RANGE of nothing. */
	EXPECT_REQ(sample_index("scrub range"), EBADMSG, put_u64(b, HDR + 8, 0));
	/* MAP_PERSIST: 1..WIRE_MAP_PERSIST_MAX bytes that do not wrap. */
	EXPECT_REQ(sample_index("map persist"), EBADMSG, put_u64(b, HDR + 16, 0));
	EXPECT_REQ(sample_index("map persist"), 0, put_u64(b, HDR + 16, WIRE_MAP_PERSIST_MAX));
	EXPECT_REQ(sample_index("map persist"), EBADMSG,
		   put_u64(b, HDR + 16, WIRE_MAP_PERSIST_MAX + 1));
	EXPECT_REQ(sample_index("map persist"), EBADMSG, put_u64(b, HDR + 8, UINT64_MAX - 100));
	/* SCRUB_REPLICA: len > 0, COMPARE the only flag, pad 0. */
	EXPECT_REQ(sample_index("scrub replica"), EBADMSG, put_u64(b, HDR + 8, 0));
	EXPECT_REQ(sample_index("scrub replica"), EBADMSG, put_u32(b, HDR + 16, 2));
	EXPECT_REQ(sample_index("scrub replica"), 0, put_u32(b, HDR + 16, 0));
	EXPECT_REQ(sample_index("scrub replica"), EBADMSG, put_u32(b, HDR + 20, 1));
	/* REPLICA_ADD: a path, no flags. */
	EXPECT_REQ(sample_index("replica add"), EBADMSG, put_u32(b, HDR + 4, 1));
	EXPECT_REQ(sample_index("replica add"), EBADMSG, put_u32(b, HDR, 0));
	/* INJECT kinds 1..7; BADBLOCK_CLEAR a non-empty range that does not wrap. */
	EXPECT_REQ(sample_index("inject media"), 0, put_u32(b, HDR, 7));
	EXPECT_REQ(sample_index("inject media"), EBADMSG, put_u32(b, HDR, 8));
	EXPECT_REQ(sample_index("inject media"), EBADMSG, put_u32(b, HDR, 0));
	EXPECT_REQ(sample_index("badblock clear"), EBADMSG, put_u64(b, HDR + 8, 0));
	EXPECT_REQ(sample_index("badblock clear"), EBADMSG, put_u64(b, HDR, UINT64_MAX - 100));
	EXPECT_REQ(sample_index("badblock clear"), 0, put_u64(b, HDR, 1));

	/* Fixed-size requests: nothing may follow the body. */
	for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
		if (reqs[i].path || reqs[i].data_len)
			continue;
		EXPECT_REQ(i, EBADMSG, b[len] = 0; len++; set_hdr_len(b, (uint32_t)len));
		EXPECT_REQ(i, EBADMSG, memset(b + len, 0, 8); len += 8;
			   set_hdr_len(b, (uint32_t)len));
	}

	/* MOUNT: flags, a relative mount point, options with no NUL or too long. */
	size_t mnt = sample_index("mount"), mpb = HDR + sizeof(struct wire_mount);

	EXPECT_REQ(mnt, EBADMSG, put_u32(b, HDR + offsetof(struct wire_mount, flags), 1));
	EXPECT_REQ(mnt, EBADMSG, put_u32(b, HDR + offsetof(struct wire_mount, pad), 1));
	EXPECT_REQ(mnt, EBADMSG, b[mpb] = 'm');
	EXPECT_REQ(mnt, EBADMSG, b[len - 1] = 'x');
	EXPECT_REQ(mnt, EBADMSG, put_u32(b, HDR + offsetof(struct wire_mount, opts_len), 0));
	EXPECT_REQ(
		mnt, EBADMSG,
		put_u32(b, HDR + offsetof(struct wire_mount, opts_len), WIRE_MOUNT_OPTS_MAX + 1));

	/* On failure the header is still there to address the error reply. */
	uint8_t *b = (uint8_t *)msgbuf;
	size_t len = build_req(&reqs[map], b);
	struct wire_req r;

	put_u64(b, HDR + 8, 1);
	T_ERR(wire_decode_request(b, len, &r), EBADMSG);
	T_ASSERT(r.hdr.id == (ID | WIRE_MAP) && r.hdr.op == WIRE_MAP && r.hdr.len == len);
	T_ASSERT(r.body == NULL && r.path == NULL && r.data == NULL);
	put_u16(b, OP_OFF, 0x77);
	T_ERR(wire_decode_request(b, len, &r), EPROTO);
	T_ASSERT(r.hdr.id == (ID | WIRE_MAP) && r.hdr.op == 0x77);
}

/* --- replies and events --- */

struct reply_sample {
	const char *what;
	unsigned op; /* the header op */
	uint16_t flags;
	const void *fixed;
	size_t fixed_len;
	const void *tail;
	size_t tail_len;
};

static const struct wire_hello_reply hello_r = {.version = 1,
						.msg_max = WIRE_MSG_MAX,
						.inflight_max = WIRE_INFLIGHT_MAX,
						.inline_max = WIRE_INLINE_MAX,
						.shm_size = WIRE_SHM_SIZE,
						.session = 12};
static const struct wire_statfs_reply statfs_r = {.block_size = 4096, .blocks = 100, .files = 3};
static const struct wire_attr_reply attr_r = {
	.a = {.ino = 5, .mode = 0100644, .nlink = 1, .size = 10, .mtime = -1}};
static const struct wire_attr_reply attr_err = {.r = {.status = -ENOENT}};
static const struct wire_reply status_ok = {0};
static const struct wire_reply status_err = {.status = -ENOTEMPTY};
static struct wire_readdir_reply readdir_r = {.next_cookie = 5, .eof = 1}; /* count: main */
static const struct wire_readdir_reply readdir_empty = {.eof = 1};
static const struct wire_io_reply read_r = {.count = 100};
static const struct wire_io_reply read_r_max = {.count = WIRE_INLINE_MAX};
static const struct wire_io_reply read_r_shm = {.count = WIRE_SHM_SIZE};
static const struct wire_io_reply write_r = {.count = 1000};
static const struct wire_map_reply map_r3 = {
	.grant = 1, .generation = 2, .region_size = 1 << 30, .count = 3};
static const struct wire_map_reply map_rmax = {
	.grant = 1, .count = WIRE_MAP_EXTENTS_MAX, .flags = WIRE_MAP_FD_RDONLY};
static const struct wire_stats_reply stats_r = {.len = 12345};
static const struct wire_stats_reply stats_err = {.r = {.status = -EINVAL}};
static const struct wire_replica_reply replica_r = {.state = WIRE_REPLICA_RESYNCING,
						    .synced = 1 << 20,
						    .size = 64 << 20,
						    .reads = 3,
						    .repaired = 2,
						    .path = "/dev/dax1.0"};
static const struct wire_scrub_range_reply scrub_range_r = {
	.next = 1 << 20, .total = 1 << 30, .blocks_read = 256, .bytes_read = 1 << 20};
static const struct wire_badblock_clear_reply bb_clear_r = {.blocks = 1};
static const struct wire_event event_b = {
	.grant = 1, .ino = 2, .off = 4096, .len = 8192, .generation = 3};

static uint8_t dirents[4096];
static size_t dirents_len;
static struct wire_extent extents[WIRE_MAP_EXTENTS_MAX];

/* add_dirent - append an entry named @name to dirents[], padded to 8. */
static void add_dirent(const char *name)
{
	struct wire_dirent d = {
		.ino = dirents_len + 1, .mode = 040755, .name_len = (uint16_t)strlen(name)};

	memcpy(dirents + dirents_len, &d, sizeof(d));
	memcpy(dirents + dirents_len + sizeof(d), name, d.name_len);
	dirents_len += ALIGN_UP(sizeof(d) + d.name_len, (size_t)8);
	readdir_r.count++;
}

#define R(op) (WIRE_REPLY | (op))
static const struct reply_sample replies[] = {
	{"hello", R(WIRE_HELLO), WIRE_F_FD, BODY(hello_r)},
	{"hello no fd", R(WIRE_HELLO), 0, BODY(hello_r)},
	{"statfs", R(WIRE_STATFS), 0, BODY(statfs_r)},
	{"stat", R(WIRE_STAT), 0, BODY(attr_r)},
	{"stat error", R(WIRE_STAT), 0, BODY(attr_err)},
	{"getattr", R(WIRE_GETATTR), 0, BODY(attr_r)},
	{"mkdir", R(WIRE_MKDIR), 0, BODY(attr_r)},
	{"create", R(WIRE_CREATE), 0, BODY(attr_r)},
	{"unlink", R(WIRE_UNLINK), 0, BODY(status_ok)},
	{"rmdir", R(WIRE_RMDIR), 0, BODY(status_err)},
	{"rename", R(WIRE_RENAME), 0, BODY(status_ok)},
	{"setattr", R(WIRE_SETATTR), 0, BODY(attr_r)},
	{"readdir", R(WIRE_READDIR), 0, BODY(readdir_r), dirents, 0 /* main */},
	{"readdir empty", R(WIRE_READDIR), 0, BODY(readdir_empty)},
	{"read", R(WIRE_READ), 0, BODY(read_r), data, 100},
	{"read max", R(WIRE_READ), 0, BODY(read_r_max), data, WIRE_INLINE_MAX},
	{"read shm", R(WIRE_READ), WIRE_F_SHM, BODY(read_r_shm)},
	{"write", R(WIRE_WRITE), 0, BODY(write_r)},
	{"write shm", R(WIRE_WRITE), WIRE_F_SHM, BODY(read_r_shm)},
	{"fallocate", R(WIRE_FALLOCATE), 0, BODY(status_ok)},
	{"fsync", R(WIRE_FSYNC), 0, BODY(status_ok)},
	{"map", R(WIRE_MAP), WIRE_F_FD, BODY(map_r3), extents, 3 * sizeof(struct wire_extent)},
	{"map max", R(WIRE_MAP), 0, BODY(map_rmax), extents, sizeof(extents)},
	{"unmap", R(WIRE_UNMAP), 0, BODY(status_ok)},
	{"ack error", R(WIRE_ACK), 0, BODY(status_err)},
	{"stats", R(WIRE_STATS), WIRE_F_SHM, BODY(stats_r)},
	{"replica", R(WIRE_REPLICA), 0, BODY(replica_r)},
	{"stats error", R(WIRE_STATS), 0, BODY(stats_err)},
	{"scrub range", R(WIRE_SCRUB_RANGE), 0, BODY(scrub_range_r)},
	{"badblock clear", R(WIRE_BADBLOCK_CLEAR), 0, BODY(bb_clear_r)},
	{"mount", R(WIRE_MOUNT), 0, BODY(status_ok)},
	{"umount error", R(WIRE_UMOUNT), 0, BODY(status_err)},
	{"poison", WIRE_EV_POISON, 0, BODY(event_b)},
	{"invalidate", WIRE_EV_INVALIDATE, 0, BODY(event_b)},
};
#define READDIR_SAMPLE 12

static size_t build_reply(const struct reply_sample *s, void *buf)
{
	size_t tail_len = s == &replies[READDIR_SAMPLE] ? dirents_len : s->tail_len;
	struct wire_msg m;
	size_t len;

	wire_msg_init(&m, buf, s->op, s->flags, s->op >= WIRE_EV_POISON ? 0 : ID);
	T_ASSERT(wire_msg_put(&m, s->fixed, s->fixed_len, false));
	if (tail_len)
		T_ASSERT(wire_msg_put(&m, s->tail, tail_len, false));
	len = wire_msg_end(&m);
	T_ASSERT(m.err == 0 && len == HDR + s->fixed_len + tail_len);
	return len;
}

static void round_trip_replies(void)
{
	uint8_t *buf = (uint8_t *)msgbuf;

	for (size_t i = 0; i < ARRAY_SIZE(replies); i++) {
		const struct reply_sample *s = &replies[i];
		size_t len = build_reply(s, buf);
		struct wire_hdr h;
		int ret = wire_decode_reply(buf, len, &h);

		if (ret)
			T_FAIL("%s: decode_reply = %d", s->what, ret);
		T_ASSERT(h.len == len && h.op == s->op && h.flags == s->flags);
		T_ASSERT(h.id == (s->op >= WIRE_EV_POISON ? 0 : ID));
		if (s->op < WIRE_EV_POISON)
			T_ASSERT(wire_reply_size(s->op & 0xff) == (int)s->fixed_len);
		if (memcmp(buf + HDR, s->fixed, s->fixed_len))
			T_FAIL("%s: fixed part differs", s->what);
		/* Neither is the other: a reply is no request. */
		struct wire_req r;

		T_ERR(wire_decode_request(buf, len, &r), EPROTO);
	}
	/* And a request is no reply. */
	for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
		struct wire_hdr h;

		T_ERR(wire_decode_reply(buf, build_req(&reqs[i], buf), &h), EPROTO);
	}

	/* READDIR entries, read back the way the client walks them. */
	size_t len = build_reply(&replies[READDIR_SAMPLE], buf), off;
	struct wire_readdir_reply rr;
	struct wire_hdr h;

	T_OK(wire_decode_reply(buf, len, &h));
	memcpy(&rr, buf + HDR, sizeof(rr));
	T_ASSERT(rr.count == 6 && rr.next_cookie == 5 && rr.eof == 1);
	off = HDR + sizeof(rr);
	for (uint32_t i = 0; i < rr.count; i++) {
		const struct wire_dirent *d = (const void *)(buf + off);

		T_ASSERT(d->ino == off - HDR - sizeof(rr) + 1 && d->mode == 040755);
		off += ALIGN_UP(sizeof(*d) + d->name_len, (size_t)8);
	}
	T_ASSERT(off == len);
}

static void truncated_replies(void)
{
	uint8_t *buf = (uint8_t *)msgbuf;

	for (size_t i = 0; i < ARRAY_SIZE(replies); i++)
		truncate_loop(buf, build_reply(&replies[i], buf), false, replies[i].what);
}

static size_t reply_index(const char *what)
{
	for (size_t i = 0; i < ARRAY_SIZE(replies); i++)
		if (strcmp(replies[i].what, what) == 0)
			return i;
	T_FAIL("no reply sample %s", what);
}

#define EXPECT_REPLY(i, err, ...)                                                              \
	do {                                                                                   \
		uint8_t *b = (uint8_t *)msgbuf;                                                \
		size_t len = build_reply(&replies[i], b);                                      \
		int ret;                                                                       \
		__VA_ARGS__;                                                                   \
		ret = decode_reply_copy(b, len);                                               \
		if (ret != -(err))                                                             \
			T_FAIL("%s: %s: %d, expected -%s", replies[i].what, #__VA_ARGS__, ret, \
			       #err);                                                          \
	} while (0)

static void bad_replies(void)
{
	size_t st = reply_index("stat"), rdir = reply_index("readdir");
	size_t rd = reply_index("read"), map = reply_index("map"), ev = reply_index("poison");
	size_t rr = HDR + sizeof(struct wire_readdir_reply); /* first entry */
	size_t mr = HDR + sizeof(struct wire_map_reply);     /* first extent */

	EXPECT_REPLY(st, EBADMSG, set_hdr_len(b, (uint32_t)len + 1));
	EXPECT_REPLY(st, EBADMSG, set_hdr_len(b, (uint32_t)len - 8));
	EXPECT_REPLY(st, EMSGSIZE, set_hdr_len(b, WIRE_MSG_MAX + 1));
	EXPECT_REPLY(st, EMSGSIZE, len = WIRE_MSG_MAX + 8; set_hdr_len(b, (uint32_t)len));
	EXPECT_REPLY(st, EBADMSG, b[len] = 0; len++; set_hdr_len(b, (uint32_t)len));

	/* Ops: requests, unknown ops, unknown events. */
	static const uint16_t bad_ops[] = {0,	    WIRE_STAT, WIRE_REPLY,	   R(WIRE_OP_MAX),
					   R(0xff), 0x300,     WIRE_EV_POISON + 2, 0x1ff,
					   0xffff};
	for (size_t i = 0; i < ARRAY_SIZE(bad_ops); i++)
		EXPECT_REPLY(st, EPROTO, put_u16(b, OP_OFF, bad_ops[i]));

	/* Flags: unknown, FD where no fd comes, SHM outside READ/WRITE, any on an event. */
	EXPECT_REPLY(st, EBADMSG, put_u16(b, FLAGS_OFF, 0x4));
	EXPECT_REPLY(st, EBADMSG, put_u16(b, FLAGS_OFF, WIRE_F_FD));
	EXPECT_REPLY(st, EBADMSG, put_u16(b, FLAGS_OFF, WIRE_F_SHM));
	EXPECT_REPLY(map, 0, put_u16(b, FLAGS_OFF, 0));
	/* STATS: its text is in the shared buffer (SHM), which holds at most WIRE_SHM_SIZE. */
	EXPECT_REPLY(reply_index("stats"), EBADMSG, put_u16(b, FLAGS_OFF, 0));
	EXPECT_REPLY(reply_index("stats"), EBADMSG, put_u64(b, HDR + 8, WIRE_SHM_SIZE + 1));
	EXPECT_REPLY(reply_index("stats"), 0, put_u64(b, HDR + 8, WIRE_SHM_SIZE));
	EXPECT_REPLY(reply_index("scrub range"), EBADMSG, put_u16(b, FLAGS_OFF, WIRE_F_SHM));
	/* REPLICA: a known state, synced within the size, both strings ended inside. */
	{
		size_t state = HDR + offsetof(struct wire_replica_reply, state),
		       synced = HDR + offsetof(struct wire_replica_reply, synced),
		       path = HDR + offsetof(struct wire_replica_reply, path),
		       why = HDR + offsetof(struct wire_replica_reply, why);

		EXPECT_REPLY(reply_index("replica"), EBADMSG, put_u32(b, state, 4));
		EXPECT_REPLY(reply_index("replica"), 0, put_u32(b, state, WIRE_REPLICA_DEGRADED));
		EXPECT_REPLY(reply_index("replica"), EBADMSG, put_u64(b, synced, (64 << 20) + 1));
		EXPECT_REPLY(reply_index("replica"), 0, put_u64(b, synced, 64 << 20));
		EXPECT_REPLY(reply_index("replica"), EBADMSG,
			     memset(b + path, 'x', WIRE_REPLICA_TEXT));
		EXPECT_REPLY(reply_index("replica"), EBADMSG,
			     memset(b + why, 'y', WIRE_REPLICA_TEXT));
		EXPECT_REPLY(reply_index("replica"), 0,
			     memset(b + why, 'y', WIRE_REPLICA_TEXT - 1));
	}
	EXPECT_REPLY(ev, EBADMSG, put_u16(b, FLAGS_OFF, WIRE_F_FD));
	EXPECT_REPLY(ev, EBADMSG, len -= 8; set_hdr_len(b, (uint32_t)len));
	EXPECT_REPLY(ev, EBADMSG, len += 8; set_hdr_len(b, (uint32_t)len));

	/* Status: 0 or a negative errno. */
	EXPECT_REPLY(st, EBADMSG, put_u32(b, HDR, 1));
	EXPECT_REPLY(st, EBADMSG, put_u32(b, HDR, (uint32_t)-4096));
	EXPECT_REPLY(st, EBADMSG, put_u32(b, HDR, 0x80000000u));
	EXPECT_REPLY(st, 0, put_u32(b, HDR, (uint32_t)-4095));

	/* READ inline data: exactly count bytes. */
	EXPECT_REPLY(rd, EBADMSG, put_u64(b, HDR + 8, 99));
	EXPECT_REPLY(rd, EBADMSG, put_u64(b, HDR + 8, 101));
	EXPECT_REPLY(rd, EBADMSG, put_u64(b, HDR + 8, UINT64_MAX));
	EXPECT_REPLY(rd, EBADMSG, put_u64(b, HDR + 8, 1ull << 32 | 100));
	EXPECT_REPLY(rd, EBADMSG, len--; set_hdr_len(b, (uint32_t)len));
	EXPECT_REPLY(rd, EBADMSG, len++; set_hdr_len(b, (uint32_t)len));
	EXPECT_REPLY(rd, EBADMSG, put_u64(b, HDR + 8, WIRE_INLINE_MAX + 1);
		     len = HDR + 16 + WIRE_INLINE_MAX + 1; set_hdr_len(b, (uint32_t)len));
	EXPECT_REPLY(reply_index("read shm"), EBADMSG, put_u64(b, HDR + 8, WIRE_SHM_SIZE + 1));
	EXPECT_REPLY(reply_index("read shm"), EBADMSG, len++; set_hdr_len(b, (uint32_t)len));
	EXPECT_REPLY(reply_index("write"), EBADMSG, len++; set_hdr_len(b, (uint32_t)len));
	EXPECT_REPLY(reply_index("write"), EBADMSG, put_u64(b, HDR + 8, UINT64_MAX));

	/* READDIR tails: count against entries, each entry whole and padded. */
	EXPECT_REPLY(rdir, EBADMSG, put_u32(b, HDR + 16, 7)); /* one more than sent */
	EXPECT_REPLY(rdir, EBADMSG, put_u32(b, HDR + 16, 5)); /* one less */
	EXPECT_REPLY(rdir, EBADMSG, put_u32(b, HDR + 16, 0));
	EXPECT_REPLY(rdir, EBADMSG, put_u32(b, HDR + 16, UINT32_MAX));
	EXPECT_REPLY(rdir, EBADMSG, put_u32(b, HDR + 20, 2));  /* eof */
	EXPECT_REPLY(rdir, EBADMSG, put_u16(b, rr + 12, 0));   /* name_len 0 */
	EXPECT_REPLY(rdir, EBADMSG, put_u16(b, rr + 12, 256)); /* over NAME_MAX */
	EXPECT_REPLY(rdir, EBADMSG, put_u16(b, rr + 12, 0xffff));
	EXPECT_REPLY(rdir, EBADMSG, put_u16(b, rr + 12, 9)); /* into the next */
	EXPECT_REPLY(rdir, EBADMSG, b[rr + 16] = '\0');	     /* NUL in a name */
	EXPECT_REPLY(rdir, EBADMSG, b[rr + 16] = '/');
	EXPECT_REPLY(rdir, EBADMSG, len -= 8; set_hdr_len(b, (uint32_t)len)); /* last cut */
	EXPECT_REPLY(rdir, EBADMSG, len -= 1; set_hdr_len(b, (uint32_t)len)); /* its pad */
	EXPECT_REPLY(rdir, EBADMSG, memset(b + len, 0, 16); len += 16;
		     set_hdr_len(b, (uint32_t)len));
	{
		/* A header that claims one entry, the packet ending inside that entry's header. */
		uint8_t *b = (uint8_t *)msgbuf;
		struct wire_msg m;
		struct wire_readdir_reply one = {.count = 1};
		size_t len;

		wire_msg_init(&m, b, R(WIRE_READDIR), 0, ID);
		wire_msg_put(&m, &one, sizeof(one), false);
		wire_msg_put(&m, dirents, 12, false);
		len = wire_msg_end(&m);
		T_ERR(decode_reply_copy(b, len), EBADMSG);
	}

	/* MAP tails: count * 32 bytes of extents, count <= WIRE_MAP_EXTENTS_MAX. */
	EXPECT_REPLY(map, EBADMSG, put_u32(b, HDR + 32, 4));
	EXPECT_REPLY(map, EBADMSG, put_u32(b, HDR + 32, 2));
	EXPECT_REPLY(map, EBADMSG, put_u32(b, HDR + 32, 0));
	EXPECT_REPLY(map, EBADMSG, put_u32(b, HDR + 32, WIRE_MAP_EXTENTS_MAX + 1));
	EXPECT_REPLY(map, EBADMSG, put_u32(b, HDR + 32, UINT32_MAX));
	EXPECT_REPLY(map, EBADMSG,
		     put_u32(b, HDR + 32, (uint32_t)((1ull << 32) / 32 + 3)) /* *32 wraps to 96 */);
	EXPECT_REPLY(map, EBADMSG, len -= 1; set_hdr_len(b, (uint32_t)len));
	EXPECT_REPLY(map, EBADMSG, len -= 32; set_hdr_len(b, (uint32_t)len));
	EXPECT_REPLY(map, EBADMSG, len += 32; set_hdr_len(b, (uint32_t)len));
	EXPECT_REPLY(map, EBADMSG, put_u32(b, mr + 24, 4));  /* extent flags */
	EXPECT_REPLY(map, EBADMSG, put_u32(b, HDR + 36, 4)); /* flags */
	EXPECT_REPLY(map, 0, put_u32(b, mr + 24, WIRE_EXT_HOLE | WIRE_EXT_POISON));
	EXPECT_REPLY(reply_index("map max"), EMSGSIZE, len += 32; set_hdr_len(b, (uint32_t)len);
		     put_u32(b, HDR + 32, WIRE_MAP_EXTENTS_MAX + 1));

	/* Fixed-size replies: exactly their size. */
	for (size_t i = 0; i < ARRAY_SIZE(replies); i++) {
		if (replies[i].tail)
			continue;
		EXPECT_REPLY(i, EBADMSG, memset(b + len, 0, 8); len += 8;
			     set_hdr_len(b, (uint32_t)len));
	}

	/* The header comes back on failure too (the client fails that request). */
	uint8_t *b = (uint8_t *)msgbuf;
	size_t len = build_reply(&replies[rd], b);
	struct wire_hdr h;

	put_u64(b, HDR + 8, 5);
	T_ERR(wire_decode_reply(b, len, &h), EBADMSG);
	T_ASSERT(h.id == ID && h.op == R(WIRE_READ) && h.len == len);
}

/* --- building --- */

static void building(void)
{
	uint8_t *b = (uint8_t *)msgbuf;
	struct wire_msg m;
	uint8_t *p;

	memset(msgbuf, 0xee, sizeof(msgbuf));
	wire_msg_init(&m, b, WIRE_STAT, 0, 5);
	T_ASSERT(m.len == HDR && m.err == 0);
	p = wire_msg_put(&m, "abc", 3, true);
	T_ASSERT(p == b + HDR && m.len == HDR + 8 && memcmp(p, "abc\0\0\0\0\0", 8) == 0);
	p = wire_msg_put(&m, NULL, 5, false); /* reserve, zeroed */
	T_ASSERT(p == b + HDR + 8 && m.len == HDR + 13 && memcmp(p, "\0\0\0\0\0", 5) == 0);
	p = wire_msg_put(&m, NULL, 0, true); /* pad only */
	T_ASSERT(p == b + HDR + 13 && m.len == HDR + 16 && b[HDR + 15] == 0);
	p = wire_msg_put(&m, "12345678", 8, true); /* aligned: no pad */
	T_ASSERT(m.len == HDR + 24);
	T_ASSERT(wire_msg_end(&m) == HDR + 24);
	struct wire_hdr h;

	memcpy(&h, b, sizeof(h));
	T_ASSERT(h.len == HDR + 24 && h.op == WIRE_STAT && h.flags == 0 && h.id == 5);

	/* Exactly WIRE_MSG_MAX fits; one byte more is EMSGSIZE and sticks. */
	wire_msg_init(&m, b, WIRE_WRITE, 0, 1);
	T_ASSERT(wire_msg_put(&m, NULL, WIRE_MSG_MAX - HDR, false));
	T_ASSERT(wire_msg_end(&m) == WIRE_MSG_MAX);
	T_ASSERT(wire_msg_put(&m, "x", 1, false) == NULL && m.err == -EMSGSIZE);
	T_ASSERT(wire_msg_put(&m, NULL, 0, false) == NULL);
	T_ASSERT(wire_msg_end(&m) == 0);
	wire_msg_init(&m, b, WIRE_WRITE, 0, 1);
	T_ASSERT(wire_msg_put(&m, NULL, WIRE_MSG_MAX - HDR - 3, false));
	T_ASSERT(wire_msg_put(&m, "x", 1, true) && m.len == WIRE_MSG_MAX); /* pads to the end */
	T_ASSERT(wire_msg_put(&m, NULL, 1, true) == NULL && m.err == -EMSGSIZE);
	wire_msg_init(&m, b, WIRE_WRITE, 0, 1);
	T_ASSERT(wire_msg_put(&m, NULL, SIZE_MAX, false) == NULL && m.err == -EMSGSIZE);
	wire_msg_init(&m, b, WIRE_WRITE, 0, 1);
	T_ASSERT(wire_msg_put(&m, NULL, SIZE_MAX - 3, true) == NULL && m.err == -EMSGSIZE);
	T_ASSERT(m.len == HDR);

	/* Names and sizes. */
	T_ASSERT(strcmp(wire_op_name(WIRE_HELLO), "HELLO") == 0);
	T_ASSERT(strcmp(wire_op_name(WIRE_ACK), "ACK") == 0);
	T_ASSERT(strcmp(wire_op_name(WIRE_REPLY | WIRE_MAP), "MAP") == 0);
	T_ASSERT(strcmp(wire_op_name(WIRE_EV_INVALIDATE), "EV_INVALIDATE") == 0);
	T_ASSERT(strcmp(wire_op_name(0), "?") == 0);
	T_ASSERT(strcmp(wire_op_name(WIRE_OP_MAX), "?") == 0);
	T_ASSERT(strcmp(wire_op_name(0x10000 | WIRE_STAT), "?") == 0);
	T_ASSERT(strcmp(wire_op_name(UINT32_MAX), "?") == 0);
	for (unsigned op = WIRE_HELLO; op < WIRE_OP_MAX; op++) {
		if (!wire_op_known(op)) {
			T_ASSERT(strcmp(wire_op_name(op), "?") == 0 && wire_body_size(op) == -1);
			continue;
		}
		T_ASSERT(strcmp(wire_op_name(op), "?") != 0);
		T_ASSERT(wire_body_size(op) >= 0 && wire_body_size(op) % 8 == 0);
		T_ASSERT(wire_reply_size(op) >= 8 && wire_reply_size(op) % 8 == 0);
	}
	T_ASSERT(wire_body_size(WIRE_STATFS) == 0);
	T_ASSERT(wire_body_size(0) == -1 && wire_body_size(WIRE_OP_MAX) == -1);
	T_ASSERT(wire_body_size(WIRE_REPLY | WIRE_STAT) == -1);
	T_ASSERT(wire_reply_size(0) == -1 && wire_reply_size(WIRE_EV_POISON) == -1);
}

/* --- random mutations --- */

static volatile uint64_t sink;

/* check_decoded - what a successful decode promises: everything inside the packet. */
static void check_decoded(const uint8_t *q, size_t len, const struct wire_req *r)
{
	uint64_t sum = 0;

	T_ASSERT(r->hdr.len == len && r->body == q + HDR);
	T_ASSERT(len >= HDR + (size_t)wire_body_size(r->hdr.op));
	/* An xattr request's "path" is the attribute's name; a symlink's path2 its target. */
	bool xname = r->hdr.op == WIRE_GETXATTR || r->hdr.op == WIRE_SETXATTR ||
		     r->hdr.op == WIRE_REMOVEXATTR;

	if (r->path) {
		size_t n = strlen(r->path);

		T_ASSERT((const uint8_t *)r->path > q && r->path + n < (const char *)q + len);
		T_ASSERT((xname || r->path[0] == '/') && n + 1 <= WIRE_PATH_MAX);
		T_ASSERT(!xname || (n >= 1 && n <= WIRE_NAME_MAX));
	}
	if (r->path2) {
		size_t n = strlen(r->path2);

		T_ASSERT(r->path && r->path2 > r->path);
		/* A symlink's target is any bytes; a MOUNT's options may be empty. */
		T_ASSERT(r->path2 + n < (const char *)q + len);
		if (r->hdr.op == WIRE_MOUNT) {
			T_ASSERT(n + 1 <= WIRE_MOUNT_OPTS_MAX);
		} else {
			T_ASSERT(r->hdr.op == WIRE_SYMLINK || r->path2[0] == '/');
			T_ASSERT(n >= 1 && n + 1 <= WIRE_PATH_MAX);
		}
	}
	if (r->data) {
		T_ASSERT((const uint8_t *)r->data >= q + HDR && r->data_len <= WIRE_INLINE_MAX);
		T_ASSERT((const uint8_t *)r->data + r->data_len == q + len);
		for (size_t i = 0; i < r->data_len; i++)
			sum += ((const uint8_t *)r->data)[i];
	}
	T_ASSERT(r->data || r->data_len == 0);
	sink = sum;
}

static const uint64_t interesting[] = {
	0,
	1,
	2,
	3,
	7,
	8,
	0xff,
	0x100,
	0x101,
	0x200,
	0x201,
	1024,
	1025,
	4095,
	4096,
	4097,
	0x7fff,
	0x8000,
	0xffff,
	0x10000,
	WIRE_INLINE_MAX,
	WIRE_INLINE_MAX + 1,
	WIRE_SHM_SIZE,
	WIRE_SHM_SIZE + 1,
	0x7fffffff,
	0x80000000,
	UINT32_MAX,
	UINT64_MAX,
	UINT64_MAX - 4095,
};

static void mutate(uint8_t *b, size_t *lenp, size_t cap)
{
	unsigned n = 1 + t_rand(&rng) % 4;
	size_t len = *lenp;

	for (unsigned k = 0; k < n; k++) {
		uint64_t x = t_rand(&rng);

		switch (x % 6) {
		case 0: /* a random byte */
			if (len)
				b[(x >> 8) % len] = (uint8_t)(x >> 40);
			break;
		case 1: /* a bit */
			if (len)
				b[(x >> 8) % len] ^= (uint8_t)(1u << ((x >> 40) & 7));
			break;
		case 2:	  /* an interesting value in a 1/2/4/8-byte field */
		case 3: { /* ... of the header or the first bytes of the body, mostly */
			size_t w = (size_t)1 << ((x >> 4) & 3);
			size_t lim = (x & 8) ? len : MIN(len, (size_t)64);
			uint64_t v = interesting[(x >> 16) % ARRAY_SIZE(interesting)];

			if (lim >= w) {
				size_t off = (x >> 24) % (lim - w + 1);

				if (x & 0x100000)
					off &= ~(w - 1);
				memcpy(b + off, &v, w);
			}
			break;
		}
		case 4: /* shorter */
			if (len)
				len = (x >> 8) % len;
			break;
		case 5: { /* longer, with random bytes */
			size_t add = 1 + (x >> 8) % 64;

			if (len + add <= cap) {
				for (size_t i = 0; i < add; i++)
					b[len + i] = (uint8_t)t_rand(&rng);
				len += add;
			}
			break;
		}
		}
	}
	/* Mostly keep the header's length honest, so the decoders look further. */
	if (len >= 4 && t_rand(&rng) % 4)
		set_hdr_len(b, (uint32_t)len);
	*lenp = len;
}

static void mutations(void)
{
	static uint64_t work[WIRE_MSG_MAX / 8 + 16];
	uint8_t *b = (uint8_t *)work;
	unsigned accepted = 0;

	for (unsigned it = 0; it < MUTATIONS; it++) {
		size_t pick = t_rand(&rng) % (ARRAY_SIZE(reqs) + ARRAY_SIZE(replies));
		size_t len = pick < ARRAY_SIZE(reqs)
				     ? build_req(&reqs[pick], b)
				     : build_reply(&replies[pick - ARRAY_SIZE(reqs)], b);
		struct wire_req r;
		struct wire_hdr h;
		uint8_t *q;

		mutate(b, &len, sizeof(work));
		q = dup_exact(b, len);
		if (wire_decode_request(q, len, &r) == 0) {
			check_decoded(q, len, &r);
			accepted++;
		}
		if (wire_decode_reply(q, len, &h) == 0) {
			T_ASSERT(h.len == len);
			accepted++;
		}
		free(q);
	}
	printf("mutations: %u of %u decoded\n", accepted, MUTATIONS);
	/* Some mutations leave a message valid (an id, a mode): the decoders were exercised. */
	T_ASSERT(accepted > 0);
}

int main(int argc, char **argv)
{
	rng = t_seed(argc, argv, 0x77697265ull);
	t_watchdog(50, "test-wire");

	memset(long_path, 'p', sizeof(long_path));
	long_path[0] = '/';
	long_path[WIRE_PATH_MAX - 1] = '\0';
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	add_dirent(".");
	add_dirent("..");
	add_dirent("a");
	add_dirent("exactly8");
	add_dirent("a-name-that-is-longer-than-the-others.txt");
	{
		char name[WIRE_NAME_MAX + 1];

		memset(name, 'n', WIRE_NAME_MAX);
		name[WIRE_NAME_MAX] = '\0';
		add_dirent(name);
	}
	for (size_t i = 0; i < ARRAY_SIZE(extents); i++)
		extents[i] = (struct wire_extent){.file_off = i * 4096,
						  .region_off = (i + 10) * 4096,
						  .len = 4096,
						  .flags = i % 3 == 1 ? WIRE_EXT_HOLE : 0};

	T_ASSERT(replies[READDIR_SAMPLE].op == R(WIRE_READDIR));
	round_trip_requests();
	truncated_requests();
	bad_requests();
	round_trip_replies();
	truncated_replies();
	bad_replies();
	building();
	mutations();
	printf("ok\n");
	return 0;
}
