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
	REGION_RDONLY = 1 << 0,	 /* map read-only (daxfs check) */
	REGION_CREATE = 1 << 1,	 /* create the file of @size if it does not exist (mkfs) */
	REGION_NOLOCK = 1 << 2,	 /* do not take the exclusive lock (tests only) */
	REGION_REPLICA = 1 << 3, /* a replica: the DAXFS_FAULT_* simulations are not for it */
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

/*
 * region_msyncs - write-backs made so far on a region of page granularity (each one msync of
 * one contiguous range: flushes are noted per thread and merged until its drain); 0 on
 * others. Context: any thread. Locking: none (a relaxed counter).
 */
uint64_t region_msyncs(const struct region *r);
void region_memcpy(const struct region *r, void *dst, const void *src, size_t len, unsigned flags);
void region_memset(const struct region *r, void *dst, int c, size_t len, unsigned flags);

/*
 * region_trace_start - persistence tracing (fault-injection mode, DESIGN §8): from now on
 * only bytes passed to a persist (or a flushing memcpy/memset) reach @image, a copy of the
 * region taken now. A crash test mounts @image to see what the media would hold.
 * Context: right after region_open(), before other threads use @r.
 * Return: 0; -EROFS (read-only region); -errno from creating or mapping @image (logged).
 */
int region_trace_start(struct region *r, const char *image);

/* region_traced - whether persistence tracing is on (fixed once other threads use @r). */
bool region_traced(const struct region *r);

/* region_at - address of @offset bytes into the region (no check; callers validate). */
static inline void *region_at(const struct region *r, uint64_t offset)
{
	return (char *)region_base(r) + offset;
}

/*
 * SIGBUS-safe access (DESIGN §5 source 2, §7). The process-wide handler is engine/sigbus.c
 * (sigbus_install()); every open region registers its mapping with it.
 *
 * A fault while a *_safe copy runs on the calling thread, at an address inside the bytes it
 * copies, ends the copy with -EIO: a media error (BUS_MCEERR_AR/AO; its size from
 * si_addr_lsb: 4 KiB, or 2 MiB on a PMD-mapped devdax page) is also queued on the region for
 * poison_drain() (engine/poison.h), which the caller runs once it holds no engine lock;
 * BUS_ADRERR (an emulated region's file was truncated under us) marks the region failed.
 * A fault anywhere else in a region (metadata) is survived too: the handler puts anonymous
 * memory over the lost range so the access completes, and marks the region failed.
 */
struct region_fault {
	uint64_t off; /* region offset of the lost range (aligned down to @len) */
	uint64_t len; /* bytes */
	int code;     /* BUS_MCEERR_AR, BUS_MCEERR_AO or BUS_ADRERR (si_code) */
};

/*
 * region_copy_safe - copy @len bytes from region memory @src to ordinary memory @dst (a copy
 * read, a scrub).
 * region_memcpy_safe / region_memset_safe - region_memcpy / region_memset into region
 * memory @dst (same @flags), stopping at a fault.
 * @fault: may be NULL; on -EIO, what was hit.
 * Context: any thread; sigbus_install() done (else a fault kills the process as before).
 * Locking: none; the caller serialises access to the bytes. Not nested on one thread.
 * Return: 0; -EIO (the copy stopped part way: the bytes before the fault were copied).
 */
int region_copy_safe(const struct region *r, void *dst, const void *src, size_t len,
		     struct region_fault *fault);
/*
 * region_copy_check - region_copy_safe for a caller that handles the media error it hits
 * itself (@fault is then required): the fault is not queued for poison_drain(), so no other
 * thread handles it first, under another source.
 */
int region_copy_check(const struct region *r, void *dst, const void *src, size_t len,
		      struct region_fault *fault);
int region_memcpy_safe(const struct region *r, void *dst, const void *src, size_t len,
		       unsigned flags, struct region_fault *fault);
int region_memset_safe(const struct region *r, void *dst, int c, size_t len, unsigned flags,
		       struct region_fault *fault);

/*
 * region_write_verified - region_memcpy_safe of @len bytes (at most REGION_BLOCK_SIZE) of
 * @src to region memory @dst, persisted, then read back (region_copy_check) and compared:
 * for a repair, which must know the media holds the bytes now.
 * Context, locking: as region_memcpy_safe. @fault is required.
 * Return: 0; -EIO (a fault, in *@fault, or other bytes read back); -EINVAL (too long).
 */
int region_write_verified(const struct region *r, void *dst, const void *src, size_t len,
			  struct region_fault *fault);

/*
 * region_simulate_poison - fault-injection mode and tests (docs/fault-injection.md): from
 * now on a region_copy_safe() over region bytes [@off, @off + @len) (whole blocks) meets a
 * media error there, as it would on real poisoned media: the calling thread gets SIGBUS
 * BUS_MCEERR_AR at the first such byte (with si_addr_lsb 12), which the handler turns into
 * -EIO and a queued fault. Plain loads and stores, and the writing safe copies, do not see
 * it (stores do not consume poison). It lasts until region_unsimulate_poison() or the
 * region is closed.
 * region_unsimulate_poison - forget it for [@off, @off + @len): what clearing the media
 * error does (region_badblock_clear).
 * Context: any thread. Locking: none (atomic bits).
 * Return: 0; -EINVAL (empty, or outside the region); -ENOMEM.
 */
int region_simulate_poison(struct region *r, uint64_t off, uint64_t len);
void region_unsimulate_poison(struct region *r, uint64_t off, uint64_t len);

/*
 * region_badblock_clear - clear the media errors in region bytes [@off, @off + @len) (whole
 * blocks), so that they read again (as zeros): pmem2_badblock_clear() for each range of
 * the device's bad-block list it overlaps (a DAX device: the ACPI clear-error command; a
 * file on fsdax: new file blocks), and the simulated ones. An emulated region has no
 * list: only simulated errors are cleared. Fault-injection point "badblock-clear" can make
 * it fail, as a device that cannot clear would.
 * Context: any thread; no other thread touches the range. Locking: none.
 * Return: 0; -EINVAL; -errno of libpmem2 (logged) or of the fault point.
 */
int region_badblock_clear(struct region *r, uint64_t off, uint64_t len);

/*
 * Mirroring (DESIGN §13). A region may carry a mirror: a replica region of the same size
 * and kind. Every store made through region_memcpy / region_memset (and their _safe forms)
 * reaches the mirror too, from the same source, after ours; region_persist / flush / drain
 * make both durable. So once the two agree, they stay in agreement, except for what a
 * client stores through its own mapping until it persists it.
 * The mirror is RCU-protected: with one attached, threads that store into @r, persist or
 * read it must be registered with RCU (the engine's are).
 *
 * region_mirror_attach - make @m the mirror of @r. @synced: the two hold the same bytes
 * already (else region_mirror_sync() must copy them before the mirror stands in for @r).
 * Context: before other threads use @r. @r owns @m from then on: region_close(@r) closes it.
 * Return: 0; -EINVAL (logged): @m is of another size or kind, or @r has a mirror.
 *
 * region_mirror_detach - stop mirroring and return the mirror (for region_close()).
 * Context: no other thread uses @r.
 *
 * region_mirror / region_mirror_synced / region_mirror_reads - the mirror (or NULL); how
 * many bytes from the start it holds like ours (0 without one; region_size() in sync);
 * blocks region_read() took from it. Context: any thread. Locking: none (atomic).
 */
int region_mirror_attach(struct region *r, struct region *m, bool synced);
struct region *region_mirror_detach(struct region *r);

/*
 * region_mirror_attach_live / region_mirror_detach_live - the same while other threads
 * store into @r: attach (not synced) returns after a grace period, so that every store that
 * did not see the mirror is done and region_mirror_sync() will read it; detach returns
 * the mirror once no store, read or persist uses it any more (the caller closes it; no
 * region_mirror_sync() may run).
 * Context: a thread registered with RCU, outside a read section, holding no engine lock.
 */
int region_mirror_attach_live(struct region *r, struct region *m);
struct region *region_mirror_detach_live(struct region *r);
struct region *region_mirror(const struct region *r);
uint64_t region_mirror_synced(const struct region *r);
uint64_t region_mirror_reads(const struct region *r);

/*
 * region_mirror_sync - copy our bytes from region_mirror_synced() up to @end into the
 * mirror, each block compared after copying (a store racing with the copy is caught), and
 * advance region_mirror_synced() to @end. A poisoned block of ours is left out (its fault
 * is queued for poison_drain(), which finds no good copy below it and quarantines it); a
 * poisoned block of the mirror's is cleared and copied again.
 * Context: one thread at a time; any others may store into @r meanwhile.
 * Return: 0; -EINVAL (@end past the region or not block-aligned, or no mirror); -EIO the
 *         mirror failed (it runs degraded).
 */
struct region_sync_stats {
	uint64_t blocks;     /* blocks copied */
	uint64_t ours_bad;   /* ours poisoned: left out */
	uint64_t mirror_bad; /* the mirror's poisoned and not cleared */
};
int region_mirror_sync(struct region *r, uint64_t end, struct region_sync_stats *st);

/*
 * region_mirror_update - copy our bytes [@off, @off + @len) (whole blocks) to the mirror,
 * as region_mirror_sync does, without moving region_mirror_synced(): for stores made
 * through another mapping of the region (a client's), once they are persisted.
 * Context: any thread. Return: 0 (also without a mirror); -EINVAL outside the region;
 *          -EIO a block of the mirror's is poisoned and could not be cleared.
 */
int region_mirror_update(struct region *r, uint64_t off, uint64_t len);

/*
 * region_read - region_copy_safe from @r's memory, except that a block that faults is read
 * from the mirror when the mirror holds it (below region_mirror_synced()) and is good
 * there. The fault in @r is queued as region_copy_safe does, for poison_drain() to repair.
 * Return: 0 (every byte copied, some maybe from the mirror); -EIO as region_copy_safe.
 *
 * region_mirror_copy - copy the mirror's bytes [@off, @off + @len) (SIGBUS-safe; a fault
 * there is not queued: the caller handles it).
 * Return: 0; -ENODATA the mirror does not hold them (none, failed, or not synced yet);
 *         -EIO poisoned there too.
 * Context: any thread. Locking: none.
 */
int region_read(const struct region *r, void *dst, const void *src, size_t len,
		struct region_fault *fault);
int region_mirror_copy(const struct region *r, void *dst, uint64_t off, size_t len,
		       struct region_fault *fault);

/*
 * region_failed - has a fault outside a safe copy (or a truncated backing file) made the
 * region unusable? Then its contents can no longer be trusted: stop serving it.
 * Context: any thread. Locking: none (atomic).
 * Return: false; or true and, with @why, the first fault that failed it.
 */
bool region_failed(const struct region *r, struct region_fault *why);

/*
 * region_poison_pop - take one media error queued by a safe copy or by the handler
 * (BUS_MCEERR_AO), for poison_drain().
 * Context: any thread. Locking: none (lock-free).
 * Return: true and *@f; false when none is queued.
 */
bool region_poison_pop(const struct region *r, struct region_fault *f);

/*
 * region_badblocks - the device's bad-block list (pmem2_badblock_*), as byte ranges.
 * An emulated region has none and reports none, quietly.
 * Context: any thread. Locking: none.
 * Return: the number of ranges stored in *@out (malloc'd, caller frees; NULL when 0), or a
 *         negative errno (logged) when the list cannot be read.
 */
int region_badblocks(const struct region *r, struct region_badblock **out);

#endif
