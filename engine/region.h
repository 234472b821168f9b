/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_REGION_H
#define DAXFS_ENGINE_REGION_H

/*
 * region - one DAX device or file, mapped through libpmem2 (DESIGN §3.1).
 *
 * The only module that calls libpmem2: PMEM2_E_* codes become negative errnos here, and the
 * detail (pmem2_errormsg()) is logged once. Everything above sees a base address, a size and
 * the persist / flush / drain / memcpy / memset functions libpmem2 chose for the mapping.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REGION_BLOCK_SIZE 4096ULL
#define REGION_BLOCK_SHIFT 12
#define REGION_HUGE_SIZE (2ULL << 20)
#define REGION_HUGE_SHIFT 21
#define REGION_HUGE_BLOCKS (REGION_HUGE_SIZE / REGION_BLOCK_SIZE)
#define REGION_MIN_SIZE (16ULL << 20) /* smallest region daxfs formats */

enum region_kind {
	REGION_AUTO = 0, /* open: decide from the path (char device -> devdax, else file) */
	REGION_DEVDAX,	 /* a device-DAX character device */
	REGION_FSDAX,	 /* a file on a filesystem mounted -o dax (MAP_SYNC worked) */
	REGION_EMULATED, /* an ordinary file (page cache; persistence through msync) */
};

enum region_open_flags {
	REGION_RDONLY = 1 << 0, /* map read-only (daxfs check) */
	REGION_CREATE = 1 << 1, /* create the file of @size if it does not exist (mkfs) */
	REGION_NOLOCK = 1 << 2, /* do not take the exclusive lock (tests only) */
};

struct region;

struct region_badblock {
	uint64_t offset; /* bytes from the start of the region */
	uint64_t length; /* bytes */
};

/*
 * region_open - open and map @path.
 * @size: with REGION_CREATE, the size of a file that does not exist yet (ignored otherwise).
 * Takes an exclusive advisory lock (flock) on the region so two daemons, or a daemon and
 * mkfs, never share it.
 * Context: any thread; not RCU related.
 * Return: 0 and *@out; or
 *   -ENOENT     @path does not exist (and no REGION_CREATE)
 *   -EACCES / -EROFS / -EPERM   the device or file cannot be opened for writing
 *   -EINVAL     not a regular file or char device, or a devdax path that is not dax
 *   -EFBIG      the region is smaller than REGION_MIN_SIZE (message says both sizes)
 *   -EBUSY      another process holds the region
 *   -ENOMEM, -EIO, or what libpmem2 reported, turned into an errno.
 * Every failure logs one line naming the path and the reason.
 */
int region_open(struct region **out, const char *path, enum region_kind kind, unsigned flags,
		uint64_t size);

/*
 * region_close - unmap and close; accepts NULL; sets *@rp = NULL.
 * Context: no other thread uses the region any more.
 */
void region_close(struct region **rp);

/* Accessors. Context: any thread; Locking: none (fixed after open). */
void *region_base(const struct region *r);
uint64_t region_size(const struct region *r);
enum region_kind region_kind(const struct region *r);
const char *region_kind_name(enum region_kind kind);
const char *region_path(const struct region *r);
/* region_fd - the open file descriptor (read-write unless opened REGION_RDONLY). */
int region_fd(const struct region *r);
/* region_alignment - the mapping alignment libpmem2 requires (2 MiB on devdax, 4 KiB else). */
uint64_t region_alignment(const struct region *r);
/* region_granularity - "byte", "cache line" or "page": what a persist has to flush. */
const char *region_granularity(const struct region *r);
bool region_is_rdonly(const struct region *r);

/*
 * Persistence primitives, as libpmem2 returns them for the mapping (pmem2_get_*_fn).
 * region_persist = flush + drain. region_memcpy / region_memset persist unless
 * REGION_NODRAIN / REGION_NOFLUSH are passed (the PMEM2_F_MEM_* flags).
 * Context: any thread. Locking: none; callers serialise access to the bytes themselves.
 */
#define REGION_NODRAIN (1U << 0)
#define REGION_NOFLUSH (1U << 1)
#define REGION_NONTEMPORAL (1U << 2)
void region_persist(const struct region *r, const void *addr, size_t len);
void region_flush(const struct region *r, const void *addr, size_t len);
void region_drain(const struct region *r);
void region_memcpy(const struct region *r, void *dst, const void *src, size_t len, unsigned flags);
void region_memset(const struct region *r, void *dst, int c, size_t len, unsigned flags);

/* region_at - address of @offset bytes into the region (no check; callers validate). */
static inline void *region_at(const struct region *r, uint64_t offset)
{
	return (char *)region_base(r) + offset;
}

/*
 * region_badblocks - the device's bad-block list (pmem2_badblock_*), as byte ranges.
 * An emulated region has none and reports none, quietly.
 * Context: any thread. Locking: none.
 * Return: the number of ranges stored in *@out (malloc'd, caller frees; NULL when 0), or a
 *         negative errno (logged) when the list cannot be read.
 */
int region_badblocks(const struct region *r, struct region_badblock **out);

#endif
