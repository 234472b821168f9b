/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_COMMON_WIRE_H
#define DAXFS_COMMON_WIRE_H

/*
 * wire - the daxfsd protocol of docs/protocol.md: message layouts and their checked
 * encode/decode. Both the daemon and libdaxfs use these; nothing else knows the layout.
 *
 * One message is one SOCK_SEQPACKET packet: a 16-byte header, a fixed body per op, and for
 * some ops a variable tail (paths, names, inline data, extent and entry lists). All integers
 * are little-endian (the host order here; static_assert in wire.c). Every length, count and
 * offset that arrives is untrusted: wire_decode_*() check them and return -EBADMSG (or
 * -EPROTO for an unknown op) without reading outside the packet.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION 2		     /* 2: POSIX ops (LINK..REMOVEXATTR), rdev in attributes */
#define WIRE_MSG_MAX (64u * 1024)    /* largest packet either side sends */
#define WIRE_INLINE_MAX (48u * 1024) /* largest inline READ/WRITE payload */
#define WIRE_PATH_MAX 4096	     /* including the NUL, as PATH_MAX */
#define WIRE_NAME_MAX 255
#define WIRE_SHM_SIZE (4u * 1024 * 1024) /* the per-session shared buffer */
#define WIRE_INFLIGHT_MAX 64		 /* requests a session may have unanswered */
#define WIRE_MAP_EXTENTS_MAX 2046	 /* extents in one MAP reply: (64 KiB - 16 - 40) / 32 */

enum wire_op {
	WIRE_HELLO = 1,
	WIRE_STATFS = 2,
	WIRE_STAT = 3,	  /* by path */
	WIRE_GETATTR = 4, /* by inode */
	WIRE_MKDIR = 5,
	WIRE_CREATE = 6,
	WIRE_UNLINK = 7,
	WIRE_RMDIR = 8,
	WIRE_RENAME = 9,
	WIRE_SETATTR = 10,
	WIRE_READDIR = 11,
	WIRE_READ = 12,
	WIRE_WRITE = 13,
	WIRE_FALLOCATE = 14,
	WIRE_FSYNC = 15,
	WIRE_MAP = 16,
	WIRE_UNMAP = 17,
	WIRE_ACK = 18,		  /* acknowledges an INVALIDATE event; no reply */
	WIRE_EXTENTS = 19,	  /* a file's extents, as filefrag shows them */
	WIRE_BADBLOCKS = 20,	  /* the quarantined ranges and the file pages they hit */
	WIRE_SCRUB = 21,	  /* read every allocated block SIGBUS-safely */
	WIRE_POISON_REPORT = 22,  /* a client's library caught SIGBUS on a mapping; no reply */
	WIRE_INJECT = 23,	  /* fault-injection mode only (DESIGN §8); else EPERM */
	WIRE_BADBLOCK_CLEAR = 24, /* return a quarantined range to use (admins) */
	WIRE_LINK = 25,		  /* another name for a file (hard link) */
	WIRE_SYMLINK = 26,	  /* a symbolic link */
	WIRE_READLINK = 27,	  /* a symbolic link's target */
	WIRE_MKNOD = 28,	  /* a fifo, socket or device */
	WIRE_GETXATTR = 29,	  /* an extended attribute's value */
	WIRE_SETXATTR = 30,
	WIRE_LISTXATTR = 31,
	WIRE_REMOVEXATTR = 32,
	WIRE_MOUNT = 33,	 /* serve a FUSE mount at a path (admins) */
	WIRE_UMOUNT = 34,	 /* stop serving it (admins) */
	WIRE_SCRUB_REPLICA = 35, /* SCRUB_RANGE of the replica's copy, maybe compared (admins) */
	/* 35..39: free; numbers no op has are unknown (EPROTO). */
	WIRE_STATS = 40,	  /* the daemon's metrics, OpenMetrics text in the shared buffer */
	WIRE_SCRUB_RANGE = 41,	  /* SCRUB of a range of the data area, for progress */
	WIRE_REPLICA = 42,	  /* the replica's state (DESIGN §13) */
	WIRE_MAP_PERSIST = 43,	  /* a mapping's stores persisted: bring them to the replica */
	WIRE_REPLICA_ADD = 44,	  /* attach a replica (admins; a path, struct wire_path) */
	WIRE_REPLICA_REMOVE = 45, /* detach it (admins) */
	WIRE_OP_MAX = 46,	  /* one past the highest op number */

	WIRE_REPLY = 0x100, /* a reply: header op is WIRE_REPLY | request op */

	WIRE_EV_POISON = 0x200,
	WIRE_EV_INVALIDATE = 0x201,
};

/* Header flags */
#define WIRE_F_SHM 0x1 /* READ/WRITE, xattr values and lists: in the shared buffer */
#define WIRE_F_FD 0x2  /* a reply carries one file descriptor (SCM_RIGHTS) */

struct wire_hdr {
	uint32_t len; /* bytes of the whole message */
	uint16_t op;
	uint16_t flags;
	uint64_t id; /* request id (client's choice); a reply repeats it; events: 0 */
};

/* Every reply starts with this after the header. */
struct wire_reply {
	int32_t status; /* 0 or -errno */
	uint32_t pad;
};

struct wire_attr {
	uint64_t ino;
	uint32_t mode, uid, gid, nlink;
	uint64_t size, blocks;
	int64_t atime, mtime, ctime;
	uint64_t rdev; /* character and block devices */
};

/* --- request bodies (after the header) --- */

struct wire_hello {
	uint32_t version; /* WIRE_VERSION */
	uint32_t flags;	  /* WIRE_HELLO_F_* */
};
#define WIRE_HELLO_F_RING 0x1 /* give the session a ring (common/ring.h) and its doorbell */
struct wire_hello_reply {
	struct wire_reply r;
	uint32_t version;
	uint32_t msg_max;
	uint32_t inflight_max;
	uint32_t inline_max;
	uint64_t shm_size; /* the shared buffer comes as the reply's fd */
	uint64_t session;
};

struct wire_statfs_reply {
	struct wire_reply r;
	uint64_t block_size, blocks, blocks_free, blocks_quarantined, files;
	uint64_t log_used, log_len;
	uint32_t map_trust;   /* 0 none, 1 read, 2 read-write: what MAP this session may do */
	uint32_t kind;	      /* the region: 1 devdax, 2 fsdax, 3 emulated */
	uint32_t granularity; /* what a persist flushes: 0 byte, 1 cache line, 2 page */
	uint32_t pad;
	uint64_t alignment;	  /* bytes: mappings of the region fd are multiples of it */
	uint64_t files_free;	  /* more files the namespace can hold (ns_capacity) */
	uint64_t blocks_reserved; /* of blocks_free, only for root and the daemon's user */
	uint64_t log_reserved;	  /* bytes of each log area kept the same way */
};

/* STAT, UNLINK, RMDIR, READLINK: a path (NUL-terminated, counted in path_len). */
#define WIRE_STAT_NOFOLLOW 0x1 /* STAT: a symbolic link itself, not what it names (lstat) */
struct wire_path {
	uint32_t path_len; /* bytes including the NUL, 2..WIRE_PATH_MAX */
	uint32_t flags;	   /* STAT: WIRE_STAT_NOFOLLOW; others 0 */
	char path[];
};

struct wire_attr_reply {
	struct wire_reply r;
	struct wire_attr a;
};

struct wire_getattr {
	uint64_t ino;
};

/* MKDIR, CREATE: reply wire_attr_reply */
struct wire_mknode {
	uint32_t mode;	/* permission bits */
	uint32_t flags; /* CREATE: WIRE_CREATE_EXCL */
	uint32_t path_len;
	uint32_t pad;
	char path[];
};
#define WIRE_CREATE_EXCL 0x1

struct wire_rename {
	uint32_t flags;		   /* NS_RENAME_NOREPLACE / NS_RENAME_EXCHANGE values: 1, 2 */
	uint32_t old_len, new_len; /* both including their NUL; old path then new path */
	uint32_t pad;
	char paths[];
};

/* SETATTR by inode; reply wire_attr_reply */
struct wire_setattr {
	uint64_t ino;
	/*
	 * NS_SET_* values: MODE 1, UID 2, GID 4, SIZE 8, ATIME 16, MTIME 32, ATIME_NOW 64,
	 * MTIME_NOW 128 (to the daemon's clock; not with ATIME / MTIME)
	 */
	uint32_t valid;
	uint32_t mode, uid, gid;
	uint64_t size;
	int64_t atime, mtime;
};

struct wire_readdir {
	uint64_t cookie; /* 0 to start */
	uint32_t max;	 /* entries wanted, 1..1024 */
	uint32_t path_len;
	char path[];
};
struct wire_dirent {
	uint64_t ino;
	uint32_t mode;
	uint16_t name_len; /* bytes, no NUL */
	uint16_t pad;
	char name[]; /* padded to 8 */
};
struct wire_readdir_reply {
	struct wire_reply r;
	uint64_t next_cookie;
	uint32_t count;
	uint32_t eof;
	/* count struct wire_dirent, each padded to 8 bytes */
};

#define WIRE_IO_APPEND 0x1 /* WRITE: at the end of the file, atomically (off is ignored) */
struct wire_io {
	uint64_t ino;
	uint64_t off;
	uint32_t len;	/* bytes; inline <= WIRE_INLINE_MAX, shm <= shm_size */
	uint32_t flags; /* WRITE: WIRE_IO_APPEND; READ: 0 */
			/* WRITE inline: len bytes of data follow */
};
struct wire_io_reply {
	struct wire_reply r;
	uint64_t count; /* bytes read or written */
			/* READ inline: count bytes of data follow */
};

struct wire_fallocate {
	uint64_t ino;
	uint32_t mode; /* NS_FALLOC_KEEP_SIZE 1, NS_FALLOC_PUNCH_HOLE 2 */
	uint32_t pad;
	uint64_t off, len;
};

struct wire_fsync {
	uint64_t ino;
};

#define WIRE_MAP_READ 0x1
#define WIRE_MAP_WRITE 0x2
struct wire_map {
	uint64_t ino;
	uint64_t off;  /* bytes, 4 KiB aligned */
	uint64_t len;  /* bytes, 4 KiB aligned, > 0 */
	uint32_t mode; /* WIRE_MAP_READ [| WIRE_MAP_WRITE] */
	uint32_t pad;
};
#define WIRE_EXT_HOLE 0x1   /* no block: map zeros (read) */
#define WIRE_EXT_POISON 0x2 /* lost data: keep inaccessible */
struct wire_extent {
	uint64_t file_off;   /* bytes from the start of the file */
	uint64_t region_off; /* bytes from the start of the region (0 for holes) */
	uint64_t len;	     /* bytes */
	uint32_t flags;
	uint32_t pad;
};
struct wire_map_reply {
	struct wire_reply r;
	uint64_t grant;
	uint64_t generation;
	uint64_t region_size;
	uint32_t count; /* extents that follow */
	uint32_t flags; /* WIRE_MAP_FD_RDONLY, WIRE_MAP_MIRRORED */
			/* count struct wire_extent */
};
#define WIRE_MAP_FD_RDONLY 0x1 /* the fd (if attached, WIRE_F_FD) is read-only */
#define WIRE_MAP_MIRRORED 0x2  /* the region has a replica: persists go through MAP_PERSIST */

/*
 * MAP_PERSIST: the client persisted stores to file bytes [off, off + len) of a write
 * grant's range; the daemon copies them to the replica. At most WIRE_MAP_PERSIST_MAX bytes.
 */
#define WIRE_MAP_PERSIST_MAX (64u << 20)
struct wire_map_persist {
	uint64_t grant;
	uint64_t off;
	uint64_t len; /* > 0 */
};

struct wire_unmap {
	uint64_t grant;
};

struct wire_ack {
	uint64_t grant;
	uint64_t generation;
};

/* EXTENTS: the file's allocated extents from byte @off on (holes are not listed). */
struct wire_extents {
	uint64_t ino;
	uint64_t off; /* bytes; 0 to start, then the reply's next_off */
};
struct wire_extents_reply {
	struct wire_reply r;
	uint64_t next_off; /* where the next request starts */
	uint32_t count;	   /* struct wire_extent that follow (flags: WIRE_EXT_POISON) */
	uint32_t eof;	   /* 1: no extents after these */
};

/* BADBLOCKS: the quarantined ranges from region byte @cookie on. */
struct wire_badblocks {
	uint64_t cookie; /* region byte offset; 0 to start, then the reply's next_cookie */
};
#define WIRE_BB_METADATA 0x1 /* outside the data area (superblock, log) */
#define WIRE_BB_OWNED 0x2    /* a file page still sits on it: ino and file_off say which */
#define WIRE_BB_REPAIRED 0x4 /* repaired from the replica this run (with OWNED: the page) */
struct wire_badblock {
	uint64_t region_off; /* bytes */
	uint64_t len;	     /* bytes */
	uint64_t ino;	     /* WIRE_BB_OWNED: the file */
	uint64_t file_off;   /* WIRE_BB_OWNED: bytes from the start of the file */
	uint32_t flags;
	uint32_t pad;
};
struct wire_badblocks_reply {
	struct wire_reply r;
	uint64_t next_cookie;
	uint32_t count; /* struct wire_badblock that follow, at most WIRE_BADBLOCKS_MAX */
	uint32_t eof;
};
#define WIRE_BADBLOCKS_MAX 1024

/* SCRUB: no body. */
struct wire_scrub_reply {
	struct wire_reply r;
	uint64_t blocks_read; /* allocated blocks read */
	uint64_t blocks_bad;  /* of them, found poisoned (and now quarantined) */
	uint64_t bytes_read;
	uint64_t usec; /* how long it took */
};

/* POISON_REPORT: bytes of a granted range the client's mapping faulted on. No reply. */
struct wire_poison_report {
	uint64_t grant;
	uint64_t off; /* bytes from the start of the file, inside the grant */
	uint64_t len; /* bytes, > 0 */
};

/* INJECT (fault-injection mode): what to do; docs/fault-injection.md names the points. */
enum wire_inject_kind {
	WIRE_INJECT_POISON = 1,	 /* poison region bytes [arg0, arg0 + arg1) */
	WIRE_INJECT_FAIL = 2,	 /* fail @point arg0 times (0: until cleared) with errno arg1 */
	WIRE_INJECT_DELAY = 3,	 /* sleep arg0 microseconds at @point */
	WIRE_INJECT_CRASH = 4,	 /* abort at @point, or (empty point) at the arg0-th persist */
	WIRE_INJECT_CLEAR = 5,	 /* forget every fail, delay and crash */
	WIRE_INJECT_MEDIA = 6,	 /* region bytes [arg0, arg0 + arg1) fault when read, unnoticed */
	WIRE_INJECT_REPLICA = 7, /* the same in the replica's copy (ENODATA: no replica) */
};
#define WIRE_POINT_MAX 32 /* bytes of a point name with its NUL */
struct wire_inject {
	uint32_t kind;
	uint32_t pad;
	uint64_t arg0, arg1;
	char point[WIRE_POINT_MAX]; /* NUL-terminated (all zeros when not used) */
};
struct wire_inject_reply {
	struct wire_reply r;
	uint64_t value; /* POISON: blocks newly quarantined */
};

/* STATS: no body. The reply carries the text in the shared buffer (WIRE_F_SHM). */
struct wire_stats_reply {
	struct wire_reply r;
	uint64_t len; /* bytes of OpenMetrics text at offset 0 of the shared buffer */
};

/* REPLICA: no body. */
#define WIRE_REPLICA_NONE 0
#define WIRE_REPLICA_INSYNC 1
#define WIRE_REPLICA_RESYNCING 2
#define WIRE_REPLICA_DEGRADED 3
#define WIRE_REPLICA_TEXT 160 /* path and why: NUL-terminated within it */
struct wire_replica_reply {
	struct wire_reply r;
	uint32_t state; /* WIRE_REPLICA_* */
	uint32_t pad;
	uint64_t synced, size; /* bytes of the replica that hold the region's; of the region */
	uint64_t reads;	       /* blocks read from the replica in place of poisoned ones */
	uint64_t repaired;     /* blocks of the region repaired from it */
	char path[WIRE_REPLICA_TEXT];
	char why[WIRE_REPLICA_TEXT];
};

/*
 * SCRUB_RANGE: read the blocks in use from data-area byte @cursor on, for about @len bytes
 * of the data area (the daemon caps it), SIGBUS-safely, as SCRUB does for all of it.
 */
struct wire_scrub_range {
	uint64_t cursor; /* bytes from the start of the data area: 0, then the reply's next */
	uint64_t len;	 /* bytes of the data area to cover, > 0 */
};
struct wire_scrub_range_reply {
	struct wire_reply r;
	uint64_t next;	      /* cursor of the next request; == total when done */
	uint64_t total;	      /* bytes of the data area */
	uint64_t blocks_read; /* in this range: allocated blocks read */
	uint64_t blocks_bad;  /* of them, found poisoned (and now quarantined) */
	uint64_t bytes_read;
	uint64_t usec;
};

/*
 * SCRUB_REPLICA: read the replica's copy of the data-area blocks in use from @cursor on, for
 * about @len bytes (capped as SCRUB_RANGE), repairing from the region what is poisoned
 * there; with WIRE_SCRUB_COMPARE, compare each block with the region's too.
 */
#define WIRE_SCRUB_COMPARE 0x1
#define WIRE_SCRUB_DIFF_MAX 16
struct wire_scrub_replica {
	uint64_t cursor;
	uint64_t len; /* > 0 */
	uint32_t flags;
	uint32_t pad;
};
struct wire_scrub_replica_reply {
	struct wire_reply r;
	uint64_t next, total;	    /* as SCRUB_RANGE's */
	uint64_t blocks_read;	    /* of the replica */
	uint64_t blocks_bad;	    /* poisoned there, repaired from the region */
	uint64_t blocks_unrepaired; /* of those, not repaired */
	uint64_t blocks_skipped;    /* not copied to the replica yet */
	uint64_t differ;	    /* COMPARE: blocks whose copies differ */
	uint32_t ndiff;		    /* of them listed below (<= WIRE_SCRUB_DIFF_MAX) */
	uint32_t pad;
	uint64_t diff[WIRE_SCRUB_DIFF_MAX]; /* region byte offsets */
};

/* BADBLOCK_CLEAR: return quarantined region bytes [off, off + len) to use (admins only). */
struct wire_badblock_clear {
	uint64_t off; /* region bytes, 4 KiB aligned */
	uint64_t len; /* bytes, 4 KiB aligned, > 0 */
};
struct wire_badblock_clear_reply {
	struct wire_reply r;
	uint64_t blocks; /* returned to use */
};

/*
 * MOUNT: the mount point (an absolute path on the daemon's machine, NUL included), then the
 * mount options ("cache=always,ro"; NUL included, 1 byte when none). Reply: status.
 */
struct wire_mount {
	uint32_t path_len; /* 2..WIRE_PATH_MAX */
	uint32_t opts_len; /* 1..WIRE_MOUNT_OPTS_MAX */
	uint32_t flags;	   /* 0 */
	uint32_t pad;
	char data[];
};
#define WIRE_MOUNT_OPTS_MAX 1024

/* UMOUNT: wire_path (flags 0): the mount point as MOUNT named it, or its real path. */

/* LINK: wire_rename's layout (flags 0): the existing path, then the new one. Reply: attr. */

/* SYMLINK: the link's path, then its target (any bytes but NUL, 1..4095, with its NUL). */
struct wire_symlink {
	uint32_t path_len;
	uint32_t target_len; /* 2..WIRE_PATH_MAX, including the NUL */
	char data[];
};

/* READLINK: a wire_path. The reply's target follows it (len bytes, no NUL). */
struct wire_readlink_reply {
	struct wire_reply r;
	uint32_t len;
	uint32_t pad;
};

/* MKNOD: mode with its type (S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK, S_IFREG); reply attr. */
struct wire_mknod {
	uint32_t mode;
	uint32_t path_len;
	uint64_t rdev;
	char path[];
};

/*
 * GETXATTR, SETXATTR, REMOVEXATTR: extended attribute @name (counted with its NUL) of
 * @ino. GETXATTR: @size is the most the client takes (0: only the length). SETXATTR: the
 * value's @size bytes follow the name, or are at the start of the shared buffer (SHM);
 * @flags NS_XATTR_CREATE 1 / REPLACE 2. LISTXATTR: wire_xattr_list.
 */
#define WIRE_XATTR_MAX 65536 /* bytes of a value or of a list */
struct wire_xattr {
	uint64_t ino;
	uint32_t size;
	uint16_t name_len; /* 2..256 */
	uint16_t flags;
	char name[];
};
struct wire_xattr_list {
	uint64_t ino;
	uint32_t size;
	uint32_t pad;
};
/* GETXATTR, LISTXATTR: the length; the bytes follow (inline) or are in the shared buffer. */
struct wire_xattr_reply {
	struct wire_reply r;
	uint32_t len;
	uint32_t pad;
};

/* --- events (daemon -> client, header id 0) --- */

struct wire_event {
	uint64_t grant;
	uint64_t ino;
	uint64_t off;	     /* bytes from the start of the file */
	uint64_t len;	     /* bytes */
	uint64_t generation; /* INVALIDATE: ack it with WIRE_ACK */
};

_Static_assert(sizeof(struct wire_hdr) == 16, "header is 16 bytes");
_Static_assert(sizeof(struct wire_attr) == 72, "attr is 72 bytes");
_Static_assert(sizeof(struct wire_extent) == 32, "extent is 32 bytes");
_Static_assert(sizeof(struct wire_event) == 40, "event is 40 bytes");
_Static_assert(sizeof(struct wire_badblock) == 40, "bad block is 40 bytes");

/* --- building and checking --- */

/* wire_op_known - @op is a request op of this protocol (below WIRE_OP_MAX, not a gap). */
bool wire_op_known(unsigned op);
/* wire_op_name - "HELLO", ... for messages and logs; "?" for unknown. */
const char *wire_op_name(unsigned op);
/* wire_granularity - STATFS's granularity code of "byte", "cache line" or "page" (else 2). */
unsigned wire_granularity(const char *name);
/* wire_granularity_name / wire_kind_name - the inverse, and "devdax", ...; "unknown". */
const char *wire_granularity_name(unsigned g);
const char *wire_kind_name(unsigned kind);

/* wire_inject_kind_name - "poison", "fail", "delay", "crash", "clear"; "?" for unknown. */
const char *wire_inject_kind_name(unsigned kind);

/* A decoded request: pointers into the caller's packet, checked. */
struct wire_req {
	struct wire_hdr hdr;
	const void *body;  /* the fixed body */
	const char *path;  /* paths: NUL-terminated inside the packet */
	const char *path2; /* RENAME: the new path */
	const void *data;  /* WRITE inline data */
	size_t data_len;
};

/*
 * wire_decode_request - check the request in @buf (@len bytes, one packet) and fill @out.
 * Checked: header length equals @len, op known, the body and every tail inside the packet,
 * every path NUL-terminated at its counted length with no NUL before it, absolute, shorter
 * than WIRE_PATH_MAX; io lengths within limits (inline data present exactly); READDIR max
 * 1..1024; MAP offsets aligned and non-zero length; flags known.
 * Return: 0; -EBADMSG (malformed); -EPROTO (unknown op); -EMSGSIZE (len > WIRE_MSG_MAX).
 */
int wire_decode_request(const void *buf, size_t len, struct wire_req *out);

/* wire_body_size - the fixed body size of request @op (0 if none), or -1 if unknown. */
int wire_body_size(unsigned op);

/*
 * wire_msg - a message being built in a caller buffer of WIRE_MSG_MAX bytes.
 * wire_msg_init() writes the header; wire_msg_put() appends bytes (padded to 8 when asked);
 * wire_msg_end() sets the length. A put past WIRE_MSG_MAX sets msg->err = -EMSGSIZE.
 */
struct wire_msg {
	uint8_t *buf;
	size_t len;
	int err;
};
void wire_msg_init(struct wire_msg *m, void *buf, unsigned op, uint16_t flags, uint64_t id);
void *wire_msg_put(struct wire_msg *m, const void *data, size_t len, bool pad8);
size_t wire_msg_end(struct wire_msg *m);

/*
 * wire_decode_reply - check a reply or event in @buf for the client: header length, op a
 * reply of a known op or a known event; the fixed part present; variable tails (READ data,
 * READDIR entries, MAP extents) inside the packet.
 * Return: 0 and *@hdr; -EBADMSG / -EPROTO as above.
 */
int wire_decode_reply(const void *buf, size_t len, struct wire_hdr *hdr);

/* wire_reply_size - the fixed size of the reply to @op after the header (>= 8), or -1. */
int wire_reply_size(unsigned op);

/*
 * wire_reply_max - the largest reply (header included) the decoded request @req can get:
 * an inline READ its data, the listings and MAP a whole message, other ops their fixed
 * reply. The daemon reserves it per request in flight (daemon/session.h).
 */
size_t wire_reply_max(const struct wire_req *req);

#endif
