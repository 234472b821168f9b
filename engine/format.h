/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_FORMAT_H
#define DAXFS_ENGINE_FORMAT_H

/*
 * format - the on-media structures of docs/format.md, version 1. Only the log, mkfs and
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

/* Feature flags known to this version (none yet). */
#define FMT_COMPAT_KNOWN UINT64_C(0)
#define FMT_RO_COMPAT_KNOWN UINT64_C(0)
#define FMT_INCOMPAT_KNOWN UINT64_C(0)

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
	uint64_t reserved[11];
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
};
_Static_assert(sizeof(struct fmt_inode) == 64, "INODE payload is 64 bytes");

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
