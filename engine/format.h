/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_FORMAT_H
#define DAXFS_ENGINE_FORMAT_H

/*
 * format - the on-media structures of docs/format.md: version 1, and version 2 (the
 * POSIX feature: version 1 plus the FMT_INCOMPAT_POSIX records). Only the log, mkfs and
 * check read or write these; nothing else knows their layout.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the on-media format is little-endian");

#define FMT_MAGIC UINT64_C(0x31765346584144) /* "DAXFSv1" */
#define FMT_VERSION 1
#define FMT_BLOCK_SIZE 4096U
#define FMT_CHUNK_SIZE (2U << 20)
#define FMT_CHUNK_BLOCKS (FMT_CHUNK_SIZE / FMT_BLOCK_SIZE)
#define FMT_LOG_OFF ((uint64_t)FMT_CHUNK_SIZE)
#define FMT_LOG_MIN ((uint64_t)FMT_CHUNK_SIZE)
#define FMT_LOG_MAX (UINT64_C(1) << 30)
#define FMT_ROOT_INO UINT64_C(1)
#define FMT_NAME_MAX 255
#define FMT_SUPER_SIZE 256U

/*
 * Feature flags. FMT_INCOMPAT_POSIX makes a region format version 2: symbolic links, hard
 * links, special files, extended attributes and ACLs (the records and fields of
 * docs/format.md marked "v2"). The superblock's own layout, and so its version field,
 * stays 1: code that knows only version 1 reads the superblock and refuses the region
 * through the incompat flag, naming it.
 */
#define FMT_INCOMPAT_POSIX (UINT64_C(1) << 0)
/*
 * FMT_INCOMPAT_REPLICA (format version 3: version 2 with a replica, DESIGN §13): the region
 * has a replica that every write must reach too, so code that cannot keep it current must
 * not write the region. The superblock's `replica` field says how the pair was left.
 */
#define FMT_INCOMPAT_REPLICA (UINT64_C(1) << 1)
#define FMT_COMPAT_KNOWN UINT64_C(0)
#define FMT_RO_COMPAT_KNOWN UINT64_C(0)
#define FMT_INCOMPAT_KNOWN (FMT_INCOMPAT_POSIX | FMT_INCOMPAT_REPLICA)

/* fmt_super.replica, with FMT_INCOMPAT_REPLICA (0 without it). */
enum fmt_replica_state {
	FMT_REPLICA_NONE = 0,
	FMT_REPLICA_CLEAN = 1, /* the daemon stopped with both copies equal */
	FMT_REPLICA_OPEN = 2,  /* in use, or stopped otherwise: the next start resyncs */
};

struct fmt_super {
	uint64_t magic;
	uint32_t version;
	uint32_t sb_size;
	uint64_t compat;
	uint64_t ro_compat;
	uint64_t incompat;
	uint8_t uuid[16];
	uint64_t region_size;
	uint32_t block_size;
	uint32_t chunk_size;
	uint64_t log_off[2];
	uint64_t log_len;
	uint64_t data_off;
	uint64_t data_len;
	uint64_t gen;
	uint32_t log_active;
	uint32_t flags;
	uint64_t log_seq;
	uint64_t log_seed;
	uint64_t next_ino;
	int64_t mkfs_time;
	uint64_t replica; /* enum fmt_replica_state (format version 3) */
	uint64_t reserved[10];
	uint64_t csum;
};
_Static_assert(sizeof(struct fmt_super) == FMT_SUPER_SIZE, "superblock is 256 bytes");
_Static_assert(offsetof(struct fmt_super, csum) == FMT_SUPER_SIZE - 8, "csum is last");

enum fmt_rec_type {
	FMT_REC_INODE = 1,
	FMT_REC_DIRENT_ADD = 2,
	FMT_REC_DIRENT_DEL = 3,
	FMT_REC_INODE_DEL = 4,
	FMT_REC_MAP = 5,
	FMT_REC_UNMAP = 6,
	FMT_REC_BADBLOCK = 7,
	FMT_REC_HOLD = 8,
	FMT_REC_RELEASE = 9,
	FMT_REC_SYMLINK = 10,	/* v2 */
	FMT_REC_XATTR_SET = 11, /* v2 */
	FMT_REC_XATTR_DEL = 12, /* v2 */
};

#define FMT_REC_END 0x1 /* flags: last record of a transaction */
#define FMT_REC_MIN 32U
#define FMT_REC_MAX 4096U
#define FMT_TX_MAX_RECS 66 /* most records one transaction appends */

struct fmt_rec {
	uint32_t len;
	uint16_t type;
	uint16_t flags;
	uint64_t seq;
	uint64_t csum;
};
_Static_assert(sizeof(struct fmt_rec) == 24, "record header is 24 bytes");

/*
 * INODE: 64 bytes in version 1; version 2 writes 72, with rdev (a device's number, 0 for
 * every other type). A 64-byte one reads as rdev 0.
 */
struct fmt_inode {
	uint64_t ino;
	uint64_t parent;
	uint32_t mode;
	uint32_t uid;
	uint32_t gid;
	uint32_t nlink;
	uint64_t size;
	int64_t atime;
	int64_t mtime;
	int64_t ctime;
	uint64_t rdev; /* v2 */
};
#define FMT_INODE_V1_SIZE 64U
_Static_assert(sizeof(struct fmt_inode) == 72, "INODE payload is 72 bytes (v2)");
_Static_assert(offsetof(struct fmt_inode, rdev) == FMT_INODE_V1_SIZE, "rdev follows v1");

struct fmt_dirent {
	uint64_t dir;
	uint64_t ino; /* DIRENT_ADD only; DIRENT_DEL has no such field */
	uint16_t name_len;
	uint8_t pad[6];
	char name[];
};
_Static_assert(sizeof(struct fmt_dirent) == 24, "DIRENT_ADD fixed part is 24 bytes");

struct fmt_dirent_del {
	uint64_t dir;
	uint16_t name_len;
	uint8_t pad[6];
	char name[];
};
_Static_assert(sizeof(struct fmt_dirent_del) == 16, "DIRENT_DEL fixed part is 16 bytes");

struct fmt_inode_del {
	uint64_t ino;
};

struct fmt_map {
	uint64_t ino;
	uint64_t index;
	uint64_t block;
	uint32_t count;
	uint32_t order;
};
_Static_assert(sizeof(struct fmt_map) == 32, "MAP payload is 32 bytes");

struct fmt_unmap {
	uint64_t ino;
	uint64_t index;
	uint64_t count;
};
_Static_assert(sizeof(struct fmt_unmap) == 24, "UNMAP payload is 24 bytes");

struct fmt_badblock {
	uint64_t block;
	uint64_t count;
};
_Static_assert(sizeof(struct fmt_badblock) == 16, "BADBLOCK payload is 16 bytes");

/* HOLD: freed blocks a dropped client's process may still map (DESIGN §6). */
struct fmt_hold {
	uint64_t block;
	uint64_t count;
	uint64_t start; /* the process's start time: clock ticks after boot (/proc/PID/stat) */
	uint32_t pid;
	uint32_t pad;
};
_Static_assert(sizeof(struct fmt_hold) == 32, "HOLD payload is 32 bytes");

/* RELEASE: every HOLD of exactly this run ends. */
struct fmt_release {
	uint64_t block;
	uint64_t count;
};
_Static_assert(sizeof(struct fmt_release) == 16, "RELEASE payload is 16 bytes");

/*
 * SYMLINK (v2): the target of symbolic link @ino, when it is short (at most
 * FMT_SYMLINK_INLINE bytes); a longer one (up to FMT_SYMLINK_MAX) is the link's data, page
 * 0 of its block map, as a file's. The INODE's size is the target's length either way.
 */
#define FMT_SYMLINK_INLINE 512U
#define FMT_SYMLINK_MAX 4095U /* PATH_MAX less the NUL */
struct fmt_symlink {
	uint64_t ino;
	uint32_t len; /* bytes of target, 1..FMT_SYMLINK_INLINE */
	uint32_t pad;
	char target[]; /* not NUL-terminated, padded to 8 */
};
_Static_assert(sizeof(struct fmt_symlink) == 16, "SYMLINK fixed part is 16 bytes");

/*
 * XATTR_SET (v2): extended attribute @name of inode @ino gets a value of @value_len bytes,
 * written in chunks: the record with @off 0 starts the value (replacing any old one), the
 * next records of the same transaction carry the bytes from @off on, in order, until
 * @off + @chunk_len == @value_len. Each record holds the name, then its chunk.
 */
#define FMT_XATTR_NAME_MAX 255U	   /* the full name, prefix included, as Linux */
#define FMT_XATTR_VALUE_MAX 65536U /* as Linux (XATTR_SIZE_MAX) */
struct fmt_xattr {
	uint64_t ino;
	uint32_t value_len; /* bytes of the whole value, 0..FMT_XATTR_VALUE_MAX */
	uint32_t off;	    /* where this chunk goes in the value */
	uint16_t name_len;  /* 1..FMT_XATTR_NAME_MAX */
	uint16_t chunk_len;
	uint32_t pad;
	char data[]; /* name (name_len bytes), then the chunk (chunk_len), padded to 8 */
};
_Static_assert(sizeof(struct fmt_xattr) == 24, "XATTR_SET fixed part is 24 bytes");

/* fmt_xattr_chunk_max - the most value bytes one XATTR_SET record with a @name_len name holds. */
static inline size_t fmt_xattr_chunk_max(size_t name_len)
{
	return (FMT_REC_MAX - 24 - sizeof(struct fmt_xattr) - name_len) & ~(size_t)7;
}

/* XATTR_DEL (v2): extended attribute @name of inode @ino is removed. */
struct fmt_xattr_del {
	uint64_t ino;
	uint16_t name_len;
	uint8_t pad[6];
	char name[];
};
_Static_assert(sizeof(struct fmt_xattr_del) == 16, "XATTR_DEL fixed part is 16 bytes");

/* fmt_super_csum - the checksum a superblock should carry. */
uint64_t fmt_super_csum(const struct fmt_super *sb);

/*
 * fmt_super_check - is @sb valid for a region of @region_size bytes (docs/format.md §2)?
 * Return: 0, or -EINVAL with a static reason in *@why.
 */
int fmt_super_check(const struct fmt_super *sb, uint64_t region_size, const char **why);

/* fmt_backup_off - byte offset of the backup superblock in a region of @size bytes. */
static inline uint64_t fmt_backup_off(uint64_t size)
{
	return (size & ~(uint64_t)(FMT_BLOCK_SIZE - 1)) - FMT_BLOCK_SIZE;
}

/*
 * fmt_geometry - fill the layout fields of @sb for a region of @size bytes with log areas of
 * @log_len bytes (0: the default of docs/format.md §1).
 * Return: 0, -EFBIG when the region is too small for the log and one data chunk,
 *         -EINVAL for a log length that is not a multiple of 2 MiB or out of range.
 */
int fmt_geometry(struct fmt_super *sb, uint64_t size, uint64_t log_len);

/* fmt_rec_name - the name of a record type ("INODE", ...), or "?" */
const char *fmt_rec_name(unsigned type);

/*
 * fmt_valid_name - is @name (of @len bytes, not NUL-terminated) a valid entry name?
 * Return: 0, -ENAMETOOLONG (> 255), -EINVAL (empty, ".", "..", contains '/' or NUL).
 */
int fmt_valid_name(const char *name, size_t len);

#endif
