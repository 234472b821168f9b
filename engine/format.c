// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>

#include "format.h"
#include "util.h"

uint64_t fmt_super_csum(const struct fmt_super *sb)
{
	return checksum64(sb, offsetof(struct fmt_super, csum), 0);
}

static bool range_ok(uint64_t off, uint64_t len, uint64_t limit)
{
	return off <= limit && len <= limit - off;
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int fmt_super_check(const struct fmt_super *sb, uint64_t region_size, const char **why)
{
	uint64_t backup = fmt_backup_off(sb->region_size);

	*why = NULL;
	if (sb->magic != FMT_MAGIC)
		*why = "bad magic";
	else if (sb->version != FMT_VERSION)
		*why = "unknown format version";
	else if (sb->sb_size != FMT_SUPER_SIZE)
		*why = "bad superblock size";
	else if (sb->csum != fmt_super_csum(sb))
		*why = "checksum mismatch";
	else if (sb->block_size != FMT_BLOCK_SIZE || sb->chunk_size != FMT_CHUNK_SIZE)
		*why = "bad block or chunk size";
	else if (sb->region_size > region_size)
		*why = "region is smaller than when it was formatted (truncated?)";
	else if (sb->log_active > 1)
		*why = "bad active log area";
	else if (sb->log_len < FMT_LOG_MIN || sb->log_len > FMT_LOG_MAX ||
		 !IS_ALIGNED(sb->log_len, FMT_CHUNK_SIZE))
		*why = "bad log length";
	else if (!IS_ALIGNED(sb->log_off[0], FMT_CHUNK_SIZE) ||
		 !IS_ALIGNED(sb->log_off[1], FMT_CHUNK_SIZE) ||
		 !IS_ALIGNED(sb->data_off, FMT_CHUNK_SIZE) ||
		 !IS_ALIGNED(sb->data_len, FMT_CHUNK_SIZE) || sb->data_len == 0)
		*why = "misaligned layout";
	else if (sb->log_off[0] < FMT_BLOCK_SIZE ||
		 !range_ok(sb->log_off[0], sb->log_len, backup) ||
		 !range_ok(sb->log_off[1], sb->log_len, backup) ||
		 !range_ok(sb->data_off, sb->data_len, backup) ||
		 overlap(sb->log_off[0], sb->log_len, sb->log_off[1], sb->log_len) ||
		 overlap(sb->log_off[0], sb->log_len, sb->data_off, sb->data_len) ||
		 overlap(sb->log_off[1], sb->log_len, sb->data_off, sb->data_len))
		*why = "layout out of bounds or overlapping";
	else if (sb->next_ino <= FMT_ROOT_INO)
		*why = "bad next inode number";
	return *why ? -EINVAL : 0;
}

int fmt_geometry(struct fmt_super *sb, uint64_t size, uint64_t log_len)
{
	uint64_t backup = fmt_backup_off(size);
	uint64_t data_off, data_end;

	if (log_len == 0) {
		log_len = ALIGN_UP(size / 32, (uint64_t)FMT_CHUNK_SIZE);
		log_len = MAX(log_len, FMT_LOG_MIN);
		log_len = MIN(log_len, FMT_LOG_MAX);
	}
	if (!IS_ALIGNED(log_len, FMT_CHUNK_SIZE) || log_len < FMT_LOG_MIN || log_len > FMT_LOG_MAX)
		return -EINVAL;
	data_off = FMT_LOG_OFF + 2 * log_len;
	data_end = ALIGN_DOWN(backup, (uint64_t)FMT_CHUNK_SIZE);
	if (size < FMT_LOG_OFF + FMT_BLOCK_SIZE || data_end <= data_off)
		return -EFBIG;
	sb->region_size = size;
	sb->block_size = FMT_BLOCK_SIZE;
	sb->chunk_size = FMT_CHUNK_SIZE;
	sb->log_off[0] = FMT_LOG_OFF;
	sb->log_off[1] = FMT_LOG_OFF + log_len;
	sb->log_len = log_len;
	sb->data_off = data_off;
	sb->data_len = data_end - data_off;
	return 0;
}

const char *fmt_rec_name(unsigned type)
{
	static const char *const names[] = {
		[FMT_REC_INODE] = "INODE",
		[FMT_REC_DIRENT_ADD] = "DIRENT_ADD",
		[FMT_REC_DIRENT_DEL] = "DIRENT_DEL",
		[FMT_REC_INODE_DEL] = "INODE_DEL",
		[FMT_REC_MAP] = "MAP",
		[FMT_REC_UNMAP] = "UNMAP",
		[FMT_REC_BADBLOCK] = "BADBLOCK",
		[FMT_REC_HOLD] = "HOLD",
		[FMT_REC_RELEASE] = "RELEASE",
		[FMT_REC_SYMLINK] = "SYMLINK",
		[FMT_REC_XATTR_SET] = "XATTR_SET",
		[FMT_REC_XATTR_DEL] = "XATTR_DEL",
	};

	if (type < ARRAY_SIZE(names) && names[type])
		return names[type];
	return "?";
}

int fmt_valid_name(const char *name, size_t len)
{
	if (len == 0)
		return -EINVAL;
	if (len > FMT_NAME_MAX)
		return -ENAMETOOLONG;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return -EINVAL;
	if (memchr(name, '/', len) || memchr(name, '\0', len))
		return -EINVAL;
	return 0;
}
