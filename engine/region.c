// SPDX-License-Identifier: MIT
/*
 * region - one DAX device or file, mapped through libpmem2 (DESIGN §3.1).
 *
 * This is the boundary with libpmem2: every PMEM2_E_* code is turned into a negative errno by
 * region_pmem2_fail(), which also logs pmem2_errormsg() once, next to the path.
 */
#include "region.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libpmem2.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <sys/syscall.h>

#include "compiler.h"
#include "config.h"
#include "fault.h"
#include "log.h"
#include "rcu.h"
#include "shard.h"
#include "sigbus.h"
#include "util.h"

/* Persistence tracing copies whole cache lines: what one flush instruction writes back. */
#define TRACE_LINE 64

struct region {
	char *path;
	int fd;
	enum region_kind kind;
	bool rdonly;
	uint64_t size;
	uint64_t alignment;
	enum pmem2_granularity granularity;
	void *base;
	struct pmem2_source *src;
	struct pmem2_config *cfg;
	struct pmem2_map *map;
	pmem2_persist_fn persist_fn;
	pmem2_flush_fn flush_fn;
	pmem2_drain_fn drain_fn;
	pmem2_memcpy_fn memcpy_fn;
	pmem2_memset_fn memset_fn;
	struct sigbus_region sb; /* what the SIGBUS handler knows and records */
	bool sb_registered;
	uint8_t *trace;	   /* persistence tracing: the durable image, mapped (or NULL) */
	uint64_t *sim_bad; /* atomic: simulated media errors, one bit per block (or NULL) */
	/* atomic: of them, those an emulated region's bad-block list names (or NULL) */
	uint64_t *sim_listed;
	bool paged; /* page granularity: a flush is an msync, deferred to the drain */
	bool written; /* paged, on a file system that writes pages back: msync does, stores by pwrite */
	/* RCU-protected: the replica every store also reaches, or NULL (region_mirror_*) */
	struct region *mirror;
	/* atomic: the mirror's bytes [0, synced) hold what ours do (region_mirror_sync) */
	uint64_t mirror_synced;
	uint64_t mirror_reads; /* atomic: blocks region_read() took from the mirror */
	/*
	 * Write-backs of a paged region (its msync calls; on a memory file system, where msync
	 * does nothing, the ones it would make): every persist counts, each thread in its slot.
	 */
	struct shard_count msyncs;
};

/*
 * Deferred page flushes. On a region of page granularity (an emulated region: a file, or
 * memory, that libpmem2 persists with msync) a flush is a system call per range, and the
 * write path flushes each page it copies. So a flush there only notes the range, merged
 * with the thread's other dirty ranges (page-aligned, adjacent or overlapping ones join),
 * and the thread's next drain msyncs each range once. That is libpmem2's contract anyway:
 * a flush is durable only after a drain on the same thread (on real persistent memory the
 * drain is the fence that orders the thread's own cache-line write-backs).
 */
#define DIRTY_MAX 32 /* ranges a thread keeps; one more flushes the largest at once */

struct dirty {
	const struct region *r;
	uintptr_t lo, hi; /* page-aligned */
};

static _Thread_local struct dirty dirty[DIRTY_MAX];
static _Thread_local unsigned ndirty;

/*
 * msync_range - write back [@lo, @hi). On a memory file system (tmpfs, ramfs, hugetlbfs)
 * msync has nothing to write back: the page cache is all there is, and its fsync is a
 * no-op. There the call is skipped, which spares the system call and the address space
 * lock it takes (shared by every thread of the daemon), and counted all the same.
 */
static void msync_range(const struct region *r, uintptr_t lo, uintptr_t hi)
{
	shard_add((struct shard_count *)&r->msyncs, 1);
	if (r->written)
		r->flush_fn((const void *)lo, hi - lo);
}

/*
 * written_back - whether @fd's file system writes its pages back to a device. Memory file
 * systems (tmpfs: the usual emulated region) do not: their pages stay writable in the
 * mapping, where a store is cheaper than a pwrite.
 */
static bool written_back(int fd)
{
	struct statfs sf;

	if (fd < 0 || fstatfs(fd, &sf))
		return false;
	return sf.f_type != TMPFS_MAGIC && sf.f_type != RAMFS_MAGIC && sf.f_type != HUGETLBFS_MAGIC;
}

/* dirty_add - note [@addr, @addr + @len) of @r as flushed but not yet written back. */
static void dirty_add(const struct region *r, const void *addr, size_t len)
{
	uintptr_t lo = ALIGN_DOWN((uintptr_t)addr, (uintptr_t)4096);
	uintptr_t hi = ALIGN_UP((uintptr_t)addr + len, (uintptr_t)4096);
	unsigned big = 0;

	if (len == 0)
		return;
	for (unsigned i = 0; i < ndirty; i++) {
		struct dirty *d = &dirty[i];

		if (d->r == r && lo <= d->hi && hi >= d->lo) {
			d->lo = MIN(d->lo, lo);
			d->hi = MAX(d->hi, hi);
			return;
		}
	}
	if (ndirty == DIRTY_MAX) {
		for (unsigned i = 1; i < ndirty; i++)
			if (dirty[i].hi - dirty[i].lo > dirty[big].hi - dirty[big].lo)
				big = i;
		msync_range(dirty[big].r, dirty[big].lo, dirty[big].hi);
		dirty[big] = dirty[--ndirty];
	}
	dirty[ndirty++] = (struct dirty){r, lo, hi};
}

/* dirty_write_back - msync every range the thread noted. */
static void dirty_write_back(void)
{
	for (unsigned i = 0; i < ndirty; i++)
		msync_range(dirty[i].r, dirty[i].lo, dirty[i].hi);
	ndirty = 0;
}

bool region_traced(const struct region *r)
{
	return r->trace != NULL;
}

uint64_t region_msyncs(const struct region *r)
{
	return shard_sum(&r->msyncs);
}

/*
 * pmem2_to_errno - the errno for a libpmem2 return code.
 * libpmem2 returns either a negative errno (PMEM2_E_ERRNO) or one of its PMEM2_E_* codes.
 * Context: any thread. Locking: none.
 * Return: a negative errno (never 0 for @ret < 0).
 */
static int pmem2_to_errno(int ret)
{
	if (ret < 0 && ret > -4096)
		return ret; /* already an errno */
	switch (ret) {
	case PMEM2_E_NOSUPP:
	case PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED:
	case PMEM2_E_GRANULARITY_NOT_SUPPORTED:
		return -EOPNOTSUPP;
	case PMEM2_E_NO_ACCESS:
		return -EACCES;
	case PMEM2_E_INVALID_FILE_HANDLE:
	case PMEM2_E_INVALID_FILE_TYPE:
	case PMEM2_E_SOURCE_EMPTY:
	case PMEM2_E_LENGTH_UNALIGNED:
	case PMEM2_E_LENGTH_OUT_OF_RANGE:
	case PMEM2_E_MAP_RANGE:
	case PMEM2_E_INVALID_ALIGNMENT_FORMAT:
	case PMEM2_E_INVALID_ALIGNMENT_VALUE:
	case PMEM2_E_INVALID_SIZE_FORMAT:
	case PMEM2_E_INVALID_REGION_FORMAT:
	case PMEM2_E_INVALID_DEV_FORMAT:
	case PMEM2_E_INVALID_PROT_FLAG:
		return -EINVAL;
	case PMEM2_E_DAX_REGION_NOT_FOUND:
		return -ENODEV;
	case PMEM2_E_NO_BAD_BLOCK_FOUND:
		return -ENOENT;
	case PMEM2_E_IO_FAIL:
	case PMEM2_E_CANNOT_READ_BOUNDS:
	default:
		return -EIO;
	}
}

/*
 * region_pmem2_fail - log a failed libpmem2 call once, with the path, and convert its code.
 * Context: the thread that made the call (pmem2_errormsg() is thread-local). Locking: none.
 * Return: the negative errno for @ret.
 */
static int region_pmem2_fail(const char *path, const char *what, int ret)
{
	const char *msg = pmem2_errormsg();
	int err = pmem2_to_errno(ret);

	if (!msg || !msg[0])
		msg = strerror(-err);
	log_err("region %s: %s failed: %s", path, what, msg);
	return err;
}

/*
 * region_create_file - create @path of @size bytes (REGION_CREATE on a missing file).
 * Context: any thread. Locking: none.
 * Return: the open fd; or -EEXIST when the file appeared meanwhile (nothing logged, the caller
 *         opens it instead); or another negative errno, logged, with nothing left behind.
 */
static int region_create_file(const char *path, uint64_t size)
{
	char want[32], min[32];
	int fd, err;

	if (size < REGION_MIN_SIZE) {
		log_err("region %s: cannot create it with %" PRIu64 " bytes (%s): "
			"a region needs at least %llu bytes (%s)",
			path, size, format_size(size, want, sizeof(want)), REGION_MIN_SIZE,
			format_size(REGION_MIN_SIZE, min, sizeof(min)));
		return -EFBIG;
	}
	if (size > (uint64_t)INT64_MAX) {
		log_err("region %s: cannot create it with %" PRIu64 " bytes: too large", path,
			size);
		return -EFBIG;
	}
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		if (err != -EEXIST)
			log_err("region %s: cannot create it: %s", path, strerror(-err));
		return err;
	}
	err = posix_fallocate(fd, 0, (off_t)size);
	if (err == EOPNOTSUPP || err == EINVAL)
		err = ftruncate(fd, (off_t)size) ? errno : 0;
	if (err) {
		log_err("region %s: cannot allocate %" PRIu64 " bytes for it: %s", path, size,
			strerror(err));
		unlink(path);
		close(fd);
		return -err;
	}
	log_info("region %s: created with %" PRIu64 " bytes (%s)", path, size,
		 format_size(size, want, sizeof(want)));
	return fd;
}

/*
 * region_open_fd - open @path as region_open() documents, creating it with REGION_CREATE.
 * The fd is opened O_NONBLOCK so that a FIFO given by mistake cannot hang the open; the
 * caller clears the flag once it knows what @path is.
 * Context: any thread. Locking: none.
 * Return: the fd (and *@created); or a negative errno, logged.
 */
static int region_open_fd(const char *path, unsigned flags, uint64_t size, bool *created)
{
	int oflags = ((flags & REGION_RDONLY) ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK;
	int fd, err;

	*created = false;
	for (int attempt = 0; attempt < 2; attempt++) {
		fd = open(path, oflags);
		if (fd >= 0)
			return fd;
		err = -errno;
		if (err != -ENOENT || !(flags & REGION_CREATE))
			break;
		fd = region_create_file(path, size);
		if (fd >= 0) {
			*created = true;
			return fd;
		}
		/* -EEXIST: someone created it between our two opens; open theirs */
		if (fd != -EEXIST)
			return fd; /* logged */
	}
	switch (err) {
	case -ENOENT:
		log_err("region %s does not exist", path);
		break;
	case -EISDIR:
		log_err("region %s is a directory, not a regular file or character device", path);
		err = -EINVAL;
		break;
	case -EACCES:
	case -EPERM:
	case -EROFS:
		log_err("region %s cannot be opened for %s: %s", path,
			(flags & REGION_RDONLY) ? "reading" : "writing", strerror(-err));
		break;
	default:
		log_err("region %s: cannot open: %s", path, strerror(-err));
		break;
	}
	return err;
}

/*
 * region_check_type - refuse what is neither a regular file nor a character device, and a
 * requested kind that the file type cannot be.
 * Context: any thread. Locking: none.
 * Return: 0, or -EINVAL (logged).
 */
static int region_check_type(const char *path, const struct stat *st, enum region_kind kind)
{
	if (S_ISDIR(st->st_mode)) {
		log_err("region %s is a directory, not a regular file or character device", path);
		return -EINVAL;
	}
	if (!S_ISREG(st->st_mode) && !S_ISCHR(st->st_mode)) {
		log_err("region %s is not a regular file or character device", path);
		return -EINVAL;
	}
	if (S_ISREG(st->st_mode) && kind == REGION_DEVDAX) {
		log_err("region %s is a regular file, not a devdax device", path);
		return -EINVAL;
	}
	if (S_ISCHR(st->st_mode) && (kind == REGION_FSDAX || kind == REGION_EMULATED)) {
		log_err("region %s is a character device, not a file (%s)", path,
			region_kind_name(kind));
		return -EINVAL;
	}
	return 0;
}

/*
 * region_map - set up the libpmem2 source, config and mapping of @r (fd, path and rdonly set).
 * On failure, what was set up stays in @r for region_close() to undo.
 * Context: any thread. Locking: none (@r is not shared yet).
 * Return: 0, or a negative errno (logged).
 */
static int region_map(struct region *r, bool chardev)
{
	size_t src_size, align;
	char have[32], min[32];
	uint64_t len;
	int ret;

	ret = pmem2_source_from_fd(&r->src, r->fd);
	if (ret == PMEM2_E_INVALID_FILE_TYPE && chardev) {
		log_err("region %s is a character device but not a devdax device", r->path);
		return -EINVAL;
	}
	if (ret)
		return region_pmem2_fail(r->path, "pmem2_source_from_fd", ret);
	ret = pmem2_source_size(r->src, &src_size);
	if (ret)
		return region_pmem2_fail(r->path, "pmem2_source_size", ret);
	ret = pmem2_source_alignment(r->src, &align);
	if (ret)
		return region_pmem2_fail(r->path, "pmem2_source_alignment", ret);
	if (align == 0 || (align & (align - 1))) {
		log_err("region %s: libpmem2 reports an unusable alignment of %zu bytes", r->path,
			align);
		return -EINVAL;
	}
	/* a file whose size is not a multiple of the alignment: leave the tail unmapped */
	len = ALIGN_DOWN((uint64_t)src_size, (uint64_t)align);
	if (len < REGION_MIN_SIZE) {
		log_err("region %s is too small: %zu bytes (%s%s), a region needs at least %llu "
			"bytes (%s)",
			r->path, src_size, format_size(len, have, sizeof(have)),
			len != src_size ? " usable" : "", REGION_MIN_SIZE,
			format_size(REGION_MIN_SIZE, min, sizeof(min)));
		return -EFBIG;
	}
	if (len != src_size)
		log_info("region %s: using %" PRIu64 " of %zu bytes (alignment %zu)", r->path, len,
			 src_size, align);
	r->alignment = align;

	ret = pmem2_config_new(&r->cfg);
	if (ret)
		return region_pmem2_fail(r->path, "pmem2_config_new", ret);
	/* PAGE: ordinary files are accepted too (libpmem2 then persists with msync) */
	ret = pmem2_config_set_required_store_granularity(r->cfg, PMEM2_GRANULARITY_PAGE);
	if (ret)
		return region_pmem2_fail(r->path, "pmem2_config_set_required_store_granularity",
					 ret);
	ret = pmem2_config_set_length(r->cfg, (size_t)len);
	if (ret)
		return region_pmem2_fail(r->path, "pmem2_config_set_length", ret);
	ret = pmem2_config_set_protection(r->cfg, r->rdonly ? PMEM2_PROT_READ
							    : PMEM2_PROT_READ | PMEM2_PROT_WRITE);
	if (ret)
		return region_pmem2_fail(r->path, "pmem2_config_set_protection", ret);
	ret = pmem2_map_new(&r->map, r->cfg, r->src);
	if (ret)
		return region_pmem2_fail(r->path, "pmem2_map_new", ret);

	r->base = pmem2_map_get_address(r->map);
	r->size = pmem2_map_get_size(r->map);
	r->granularity = pmem2_map_get_store_granularity(r->map);
	r->persist_fn = pmem2_get_persist_fn(r->map);
	r->flush_fn = pmem2_get_flush_fn(r->map);
	r->drain_fn = pmem2_get_drain_fn(r->map);
	r->memcpy_fn = pmem2_get_memcpy_fn(r->map);
	r->memset_fn = pmem2_get_memset_fn(r->map);
	r->paged = r->granularity == PMEM2_GRANULARITY_PAGE;
	r->written = r->paged && written_back(r->fd);
	/* Not fatal: without it, a fault in this region kills the process as before. */
	r->sb_registered = sigbus_register(&r->sb, r->base, r->size) == 0;
	return 0;
}

/*
 * simulate_from_env - $DAXFS_FAULT_POISON="OFFSET+LENGTH[,OFFSET+LENGTH...]" (bytes, with
 * K/M/G suffixes): simulated media errors from the start, for tests of the offline tools
 * (docs/fault-injection.md). Only in builds with the test hooks (-Dtest_hooks=true).
 * Return: 0; -EINVAL (a bad value: logged); -ENOMEM.
 */
#if DAXFS_TEST_HOOKS
/*
 * simulate_list - DAXFS_FAULT_BADBLOCKS (test hooks, emulated regions): the ranges are
 * simulated media errors that the region's bad-block list names, as a device's does from
 * the start (region_badblocks); clearing them drops them from the list too.
 */
static int simulate_list(struct region *r, const char *list);
#endif

static int simulate_from_env(struct region *r)
{
#if DAXFS_TEST_HOOKS
	const char *env = getenv("DAXFS_FAULT_POISON");
	char *copy, *tok, *save = NULL;
	int ret = 0;

	if (r->kind == REGION_EMULATED && getenv("DAXFS_FAULT_BADBLOCKS")) {
		ret = simulate_list(r, getenv("DAXFS_FAULT_BADBLOCKS"));
		if (ret)
			return ret;
	}
	if (!env || !*env)
		return 0;
	copy = strdup(env);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok && !ret; tok = strtok_r(NULL, ",", &save)) {
		char *plus = strchr(tok, '+');
		uint64_t off, len;

		if (!plus || (*plus = '\0', parse_size(tok, &off)) || parse_size(plus + 1, &len))
			ret = -EINVAL;
		else
			ret = region_simulate_poison(r, off, len);
		if (ret == -EINVAL)
			log_err("region %s: bad DAXFS_FAULT_POISON '%s': want OFFSET+LENGTH[,...] "
				"inside the region",
				r->path, env);
	}
	if (!ret)
		log_notice("region %s: simulating media errors at %s (DAXFS_FAULT_POISON)", r->path,
			   env);
	free(copy);
	return ret;
#else
	(void)r;
	return 0;
#endif
}

/*
 * region_open - open and map @path; see region.h for the errors.
 * Context: any thread; not RCU related.
 * Locking: none of ours; takes flock(LOCK_EX) on the file unless REGION_NOLOCK.
 * Return: 0 and *@out, or a negative errno; every failure logs one line.
 */
int region_open(struct region **out, const char *path, enum region_kind kind, unsigned flags,
		uint64_t size)
{
	struct region *r;
	struct stat st;
	bool created = false;
	int ret, fl;

	*out = NULL;
	if (!path || !path[0]) {
		log_err("region: no path given");
		return -EINVAL;
	}
	if ((flags & REGION_RDONLY) && (flags & REGION_CREATE)) {
		log_err("region %s: cannot create a region opened read-only", path);
		return -EINVAL;
	}
	if ((unsigned)kind > REGION_EMULATED) {
		log_err("region %s: unknown region kind %d", path, (int)kind);
		return -EINVAL;
	}
	r = calloc_lines(sizeof(*r));
	if (!r) {
		log_err("region %s: out of memory", path);
		return -ENOMEM;
	}
	r->fd = -1;
	r->rdonly = flags & REGION_RDONLY;
	r->path = strdup(path);
	if (!r->path) {
		log_err("region %s: out of memory", path);
		ret = -ENOMEM;
		goto err_close;
	}

	ret = region_open_fd(path, flags, size, &created);
	if (ret < 0)
		goto err_close;
	r->fd = ret;
	if (fstat(r->fd, &st)) {
		ret = -errno;
		log_err("region %s: fstat failed: %s", path, strerror(-ret));
		goto err_close;
	}
	ret = region_check_type(path, &st, kind);
	if (ret)
		goto err_close;
	fl = fcntl(r->fd, F_GETFL);
	if (fl < 0 || fcntl(r->fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		ret = -errno;
		log_err("region %s: fcntl failed: %s", path, strerror(-ret));
		goto err_close;
	}
	if (!(flags & REGION_NOLOCK) && flock(r->fd, LOCK_EX | LOCK_NB)) {
		ret = -errno;
		if (ret == -EWOULDBLOCK) {
			log_err("region %s is in use by another process", path);
			ret = -EBUSY;
			created = false; /* somebody else uses the file now: leave it */
		} else {
			log_err("region %s: cannot lock it: %s", path, strerror(-ret));
		}
		goto err_close;
	}

	ret = region_map(r, S_ISCHR(st.st_mode));
	if (ret)
		goto err_close;

	if (S_ISCHR(st.st_mode))
		r->kind = REGION_DEVDAX;
	else if (r->granularity != PMEM2_GRANULARITY_PAGE)
		r->kind = REGION_FSDAX;
	else
		r->kind = REGION_EMULATED;
	if (kind != REGION_AUTO && kind != r->kind) {
		log_err("region %s is %s, not %s", path,
			r->kind == REGION_FSDAX ? "a file on a DAX filesystem (fsdax)"
						: "an ordinary file (no MAP_SYNC, emulated)",
			region_kind_name(kind));
		ret = -EINVAL;
		goto err_close;
	}
	log_dbg("region %s: %s, %" PRIu64 " bytes at %p, alignment %" PRIu64 ", granularity %s",
		path, region_kind_name(r->kind), r->size, r->base, r->alignment,
		region_granularity(r));
	ret = flags & REGION_REPLICA ? 0 : simulate_from_env(r);
	if (ret)
		goto err_close;
	*out = r;
	return 0;

err_close:
	if (created)
		unlink(path);
	region_close(&r);
	return ret;
}

/*
 * region_close - unmap, free the libpmem2 objects and close the fd (dropping the flock).
 * Context: no other thread uses the region any more. Locking: none.
 */
void region_close(struct region **rp)
{
	struct region *r = rp ? *rp : NULL;
	int ret;

	if (!r)
		return;
	region_close(&r->mirror);
	if (r->trace)
		munmap(r->trace, r->size);
	free(r->sim_bad);
	free(r->sim_listed);
	if (r->sb_registered)
		sigbus_unregister(&r->sb);
	if (r->map) {
		ret = pmem2_map_delete(&r->map);
		if (ret)
			region_pmem2_fail(r->path, "pmem2_map_delete", ret);
	}
	pmem2_config_delete(&r->cfg);
	pmem2_source_delete(&r->src);
	if (r->fd >= 0)
		close(r->fd);
	free(r->path);
	free(r);
	*rp = NULL;
}

/* Accessors. Context: any thread; Locking: none (fixed after open). Return: the field. */
void *region_base(const struct region *r)
{
	return r->base;
}

uint64_t region_size(const struct region *r)
{
	return r->size;
}

enum region_kind region_kind(const struct region *r)
{
	return r->kind;
}

const char *region_kind_name(enum region_kind kind)
{
	switch (kind) {
	case REGION_AUTO:
		return "auto";
	case REGION_DEVDAX:
		return "devdax";
	case REGION_FSDAX:
		return "fsdax";
	case REGION_EMULATED:
		return "emulated";
	}
	return "unknown";
}

const char *region_path(const struct region *r)
{
	return r->path;
}

int region_fd(const struct region *r)
{
	return r->fd;
}

uint64_t region_alignment(const struct region *r)
{
	return r->alignment;
}

const char *region_granularity(const struct region *r)
{
	switch (r->granularity) {
	case PMEM2_GRANULARITY_BYTE:
		return "byte";
	case PMEM2_GRANULARITY_CACHE_LINE:
		return "cache line";
	case PMEM2_GRANULARITY_PAGE:
		return "page";
	}
	return "unknown";
}

bool region_is_rdonly(const struct region *r)
{
	return r->rdonly;
}

/*
 * region_mem_flags - REGION_NODRAIN / NOFLUSH / NONTEMPORAL as PMEM2_F_MEM_* flags.
 * Context: any thread. Locking: none.
 * Return: the libpmem2 flags.
 */
static unsigned region_mem_flags(unsigned flags)
{
	unsigned f = 0;

	if (flags & REGION_NODRAIN)
		f |= PMEM2_F_MEM_NODRAIN;
	if (flags & REGION_NOFLUSH)
		f |= PMEM2_F_MEM_NOFLUSH;
	if (flags & REGION_NONTEMPORAL)
		f |= PMEM2_F_MEM_NONTEMPORAL;
	return f;
}

/*
 * region_persist / flush / drain / memcpy / memset - libpmem2's functions for the mapping.
 * Context: any thread. Locking: none; callers serialise access to the bytes themselves.
 */
/*
 * trace_persist - with persistence tracing on, what a flush of [@addr, @addr + @len) makes
 * durable: the whole cache lines it touches reach the durable image. Counts the persist
 * (fault mode), which may abort first: a crash at persist N leaves N - 1 in the image.
 */
static inline void trace_persist(const struct region *r, const void *addr, size_t len)
{
	uint64_t start, end;

	fault_persist();
	if (!r->trace || len == 0)
		return;
	start = (uint64_t)((const char *)addr - (const char *)r->base);
	if (start >= r->size)
		return;
	end = start + len < r->size ? start + len : r->size;
	start &= ~(uint64_t)(TRACE_LINE - 1);
	end = ALIGN_UP(end, (uint64_t)TRACE_LINE);
	if (end > r->size)
		end = r->size;
	memcpy(r->trace + start, (const char *)r->base + start, end - start);
}

/*
 * mirror_of - the mirror a store into @r must also reach: NULL without one, or once it
 * failed (a fault outside a safe copy there: its contents are no longer trusted, and the
 * pair runs degraded until it is resynced). Context: inside an RCU read section, which
 * keeps the mirror mapped (region_mirror_detach_live waits for it).
 */
static inline const struct region *mirror_of(const struct region *r)
{
	const struct region *m = rcu_fetch(((struct region *)r)->mirror);

	if (__builtin_expect(m == NULL, 1))
		return NULL;
	return __atomic_load_n(&m->sb.failed, __ATOMIC_RELAXED) ? NULL : m;
}

/* mirror_addr - the address in @m of the byte at @p in @r. */
static inline void *mirror_addr(const struct region *r, const struct region *m, const void *p)
{
	return (char *)m->base + ((const char *)p - (const char *)r->base);
}

static void persist_one(const struct region *r, const void *addr, size_t len)
{
	trace_persist(r, addr, len);
	if (r->paged) {
		dirty_add(r, addr, len);
		dirty_write_back();
		return;
	}
	r->persist_fn(addr, len);
}

static void flush_one(const struct region *r, const void *addr, size_t len)
{
	trace_persist(r, addr, len);
	if (r->paged)
		dirty_add(r, addr, len);
	else
		r->flush_fn(addr, len);
}

/*
 * With a mirror, the bytes were stored in both regions already (region_memcpy/memset
 * store into both): persisting is flushing both, ours first.
 */
void region_persist(const struct region *r, const void *addr, size_t len)
{
	const struct region *m;

	rcu_read_begin();
	persist_one(r, addr, len);
	m = mirror_of(r);
	if (m)
		persist_one(m, mirror_addr(r, m, addr), len);
	rcu_read_end();
}

void region_flush(const struct region *r, const void *addr, size_t len)
{
	const struct region *m;

	rcu_read_begin();
	flush_one(r, addr, len);
	m = mirror_of(r);
	if (m)
		flush_one(m, mirror_addr(r, m, addr), len);
	rcu_read_end();
}

void region_drain(const struct region *r)
{
	const struct region *m;

	rcu_read_begin();
	if (ndirty)
		dirty_write_back();
	r->drain_fn();
	m = mirror_of(r);
	if (m && m->drain_fn != r->drain_fn)
		m->drain_fn();
	rcu_read_end();
}

/*
 * mem_flags - the flags for a memcpy/memset of @flags on @r: under persistence tracing the
 * store is made without its flush, which mem_done() then does through region_flush() so
 * that the image gets the same lines; otherwise the persist is counted here (fault mode).
 */
static unsigned mem_flags(const struct region *r, unsigned flags)
{
	if (__builtin_expect(r->trace != NULL, 0))
		return region_mem_flags(flags | REGION_NOFLUSH);
	if (!(flags & REGION_NOFLUSH))
		fault_persist();
	/* A paged region: the store alone; mem_done notes the range for the drain. */
	if (r->paged)
		return region_mem_flags(flags | REGION_NOFLUSH);
	return region_mem_flags(flags);
}

static void mem_done(const struct region *r, void *dst, size_t len, unsigned flags)
{
	if (__builtin_expect(r->trace == NULL, 1)) {
		if (!r->paged || (flags & REGION_NOFLUSH))
			return;
		dirty_add(r, dst, len);
		if (!(flags & REGION_NODRAIN))
			dirty_write_back();
		return;
	}
	if (!(flags & REGION_NOFLUSH))
		region_flush(r, dst, len);
	if (!(flags & (REGION_NOFLUSH | REGION_NODRAIN)))
		region_drain(r);
}

/*
 * A large store into a paged region on a file system that writes back (r->written: a
 * region on disk) goes through the file with pwrite rather than through the mapping: the
 * mapping takes one page fault per page it has not written since the last write-back (and
 * the file system maps each fresh block there), which made a 64 KiB store several times
 * slower than writing the file. On tmpfs the mapping is the cheaper. The page cache is the
 * same one the mapping shows, so readers see the bytes at once, and the drain's msync of the
 * range writes them back like any other store. Anything but a whole write (an I/O error on
 * a bad page, say) falls back to the mapping, where the SIGBUS-safe callers catch a fault.
 */
#define PWRITE_MIN (64u << 10)

static bool store_by_pwrite(const struct region *r, void *dst, const void *src, size_t len)
{
	off_t off = (off_t)((uintptr_t)dst - (uintptr_t)r->base);
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(r->fd, (const char *)src + done, len - done, off + (off_t)done);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return false;
		}
		done += (size_t)n;
	}
	return true;
}

static void memcpy_one(const struct region *r, void *dst, const void *src, size_t len,
		       unsigned flags)
{
	unsigned mf = mem_flags(r, flags);

	if (!(r->written && len >= PWRITE_MIN && r->trace == NULL &&
	      store_by_pwrite(r, dst, src, len)))
		r->memcpy_fn(dst, src, len, mf);
	mem_done(r, dst, len, flags);
}

/*
 * A store reaches the mirror from the same source, after ours: never by reading our bytes
 * back (they may be poisoned), and never before ours, so that the mirror is at most behind
 * (region_mirror_sync relies on it). Ours and the look at the mirror are in one read
 * section: a mirror attached while the store runs either is seen, or its copy starts after
 * the grace period that follows the attach, when ours is done (region_mirror_attach_live).
 */
void region_memcpy(const struct region *r, void *dst, const void *src, size_t len, unsigned flags)
{
	const struct region *m;

	rcu_read_begin();
	memcpy_one(r, dst, src, len, flags);
	m = mirror_of(r);
	if (m)
		memcpy_one(m, mirror_addr(r, m, dst), src, len, flags);
	rcu_read_end();
}

void region_memset(const struct region *r, void *dst, int c, size_t len, unsigned flags)
{
	const struct region *m;

	rcu_read_begin();
	r->memset_fn(dst, c, len, mem_flags(r, flags));
	mem_done(r, dst, len, flags);
	m = mirror_of(r);
	if (m) {
		void *md = mirror_addr(r, m, dst);

		m->memset_fn(md, c, len, mem_flags(m, flags));
		mem_done(m, md, len, flags);
	}
	rcu_read_end();
}

/*
 * SIGBUS-safe copies. Each one sigsetjmps (without saving the signal mask: the handler runs
 * with SA_NODEFER, so SIGBUS stays unblocked across the jump), arms the calling thread's
 * record with the region bytes it touches, copies, and disarms. A fault inside those bytes
 * lands back at the sigsetjmp with the fault recorded (sigbus.c). Cost: the sigsetjmp and a
 * few stores to thread-local memory per call.
 */
static inline void arm(struct sigbus_arm *a, const struct region *r, const void *p, size_t len,
		       bool keep)
{
	a->keep = keep;
	a->sr = (struct sigbus_region *)&r->sb;
	a->lo = (uintptr_t)p;
	a->hi = (uintptr_t)p + len;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	a->armed = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	sigbus_test_hook(p, len);
}

static inline void disarm(struct sigbus_arm *a)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	a->armed = 0;
}

/*
 * jumped - back from the handler: the copy stopped at a fault. SA_NODEFER keeps SIGBUS
 * unblocked in the handler, but a runtime that wraps handlers (ThreadSanitizer) may block it
 * there: unblock it, or the next fault would kill the process.
 * Return: -EIO.
 */
static int jumped(struct sigbus_arm *a, struct region_fault *fault)
{
	sigset_t bus;

	sigemptyset(&bus);
	sigaddset(&bus, SIGBUS);
	pthread_sigmask(SIG_UNBLOCK, &bus, NULL);
	if (fault)
		*fault = a->fault;
	return -EIO;
}

/* --- simulated media errors (fault-injection mode, tests) --- */

#if DAXFS_TEST_HOOKS
static int simulate_list(struct region *r, const char *list)
{
	size_t words = DIV_ROUND_UP(r->size / REGION_BLOCK_SIZE, 64);
	char *copy = strdup(list), *tok, *save = NULL;
	int ret = 0;

	r->sim_listed = calloc(words, 8);
	if (!copy || !r->sim_listed) {
		free(copy);
		return -ENOMEM;
	}
	for (tok = strtok_r(copy, ",", &save); tok && !ret; tok = strtok_r(NULL, ",", &save)) {
		char *plus = strchr(tok, '+');
		uint64_t off, len;

		if (!plus || (*plus = '\0', parse_size(tok, &off)) || parse_size(plus + 1, &len) ||
		    len == 0 || off >= r->size || len > r->size - off) {
			log_err("region %s: bad DAXFS_FAULT_BADBLOCKS '%s': want "
				"OFFSET+LENGTH[,...] inside the region",
				r->path, list);
			ret = -EINVAL;
			break;
		}
		ret = region_simulate_poison(r, off, len);
		for (uint64_t b = off / REGION_BLOCK_SIZE;
		     !ret && b <= (off + len - 1) / REGION_BLOCK_SIZE; b++)
			r->sim_listed[b / 64] |= UINT64_C(1) << (b % 64);
	}
	if (!ret)
		log_notice("region %s: a bad-block list naming %s (DAXFS_FAULT_BADBLOCKS)", r->path,
			   list);
	free(copy);
	return ret;
}
#endif

/* listed_badblocks - the simulated list of an emulated region (see simulate_list). */
static int listed_badblocks(const struct region *r, struct region_badblock **out)
{
	uint64_t nb = r->size / REGION_BLOCK_SIZE;
	struct region_badblock *v = NULL;
	size_t n = 0;

	for (uint64_t b = 0; b < nb; b++) {
		struct region_badblock *nv;

		if (!(__atomic_load_n(&r->sim_listed[b / 64], __ATOMIC_ACQUIRE) &
		      (UINT64_C(1) << (b % 64))))
			continue;
		if (n && v[n - 1].offset + v[n - 1].length == b * REGION_BLOCK_SIZE) {
			v[n - 1].length += REGION_BLOCK_SIZE;
			continue;
		}
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv) {
			free(v);
			return -ENOMEM;
		}
		v = nv;
		v[n++] = (struct region_badblock){b * REGION_BLOCK_SIZE, REGION_BLOCK_SIZE};
	}
	*out = v;
	return (int)n;
}

static bool sim_range(const struct region *r, uint64_t off, uint64_t len, uint64_t *first,
		      uint64_t *last)
{
	if (len == 0 || off >= r->size || len > r->size - off)
		return false;
	*first = off / REGION_BLOCK_SIZE;
	*last = (off + len - 1) / REGION_BLOCK_SIZE;
	return true;
}

int region_simulate_poison(struct region *r, uint64_t off, uint64_t len)
{
	uint64_t first, last, *bm = __atomic_load_n(&r->sim_bad, __ATOMIC_ACQUIRE);

	if (!sim_range(r, off, len, &first, &last))
		return -EINVAL;
	if (!bm) {
		uint64_t *fresh = calloc(DIV_ROUND_UP(r->size / REGION_BLOCK_SIZE, 64), 8);

		if (!fresh)
			return -ENOMEM;
		if (!__atomic_compare_exchange_n(&r->sim_bad, &bm, fresh, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			free(fresh); /* another thread's won; bm is it */
		else
			bm = fresh;
	}
	for (uint64_t b = first; b <= last; b++)
		__atomic_fetch_or(&bm[b / 64], UINT64_C(1) << (b % 64), __ATOMIC_RELEASE);
	return 0;
}

void region_unsimulate_poison(struct region *r, uint64_t off, uint64_t len)
{
	uint64_t first, last, *bm = __atomic_load_n(&r->sim_bad, __ATOMIC_ACQUIRE);

	if (!bm || !sim_range(r, off, len, &first, &last))
		return;
	for (uint64_t b = first; b <= last; b++) {
		__atomic_fetch_and(&bm[b / 64], ~(UINT64_C(1) << (b % 64)), __ATOMIC_RELEASE);
		if (r->sim_listed)
			__atomic_fetch_and(&r->sim_listed[b / 64], ~(UINT64_C(1) << (b % 64)),
					   __ATOMIC_RELEASE);
	}
}

/*
 * sim_fault - inside an armed safe copy of [@p, @p + @len): if a simulated media error
 * lies there, send this thread what the kernel would, SIGBUS BUS_MCEERR_AR at its first
 * byte. A signal to oneself is delivered before the syscall returns: the handler jumps
 * out of the copy from here.
 */
static void sim_fault(const struct region *r, const uint64_t *bm, const void *p, size_t len)
{
	uint64_t off = (uint64_t)((const char *)p - (const char *)r->base), first, last;
	siginfo_t si;

	if (!sim_range(r, off, len, &first, &last))
		return;
	for (uint64_t b = first; b <= last; b++) {
		if (!(__atomic_load_n(&bm[b / 64], __ATOMIC_ACQUIRE) & (UINT64_C(1) << (b % 64))))
			continue;
		memset(&si, 0, sizeof(si));
		si.si_signo = SIGBUS;
		si.si_code = BUS_MCEERR_AR;
		si.si_addr = (char *)r->base + MAX(off, b * REGION_BLOCK_SIZE);
		si.si_addr_lsb = REGION_BLOCK_SHIFT;
		syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), SIGBUS, &si);
		return;
	}
}

static int copy_safe(const struct region *r, void *dst, const void *src, size_t len,
		     struct region_fault *fault, bool keep)
{
	struct sigbus_arm *a = &sigbus_arm;
	const uint64_t *bm;

	if (len == 0)
		return 0;
	if (sigsetjmp(a->env, 0))
		return jumped(a, fault);
	arm(a, r, src, len, keep);
	bm = __atomic_load_n(&r->sim_bad, __ATOMIC_ACQUIRE);
	if (__builtin_expect(bm != NULL, 0))
		sim_fault(r, bm, src, len);
	memcpy(dst, src, len);
	disarm(a);
	return 0;
}

int region_copy_safe(const struct region *r, void *dst, const void *src, size_t len,
		     struct region_fault *fault)
{
	return copy_safe(r, dst, src, len, fault, false);
}

int region_copy_check(const struct region *r, void *dst, const void *src, size_t len,
		      struct region_fault *fault)
{
	return copy_safe(r, dst, src, len, fault, true);
}

int region_memcpy_safe(const struct region *r, void *dst, const void *src, size_t len,
		       unsigned flags, struct region_fault *fault)
{
	struct sigbus_arm *a = &sigbus_arm;

	if (len == 0)
		return 0;
	if (sigsetjmp(a->env, 0))
		return jumped(a, fault);
	arm(a, r, dst, len, false);
	region_memcpy(r, dst, src, len, flags);
	disarm(a);
	return 0;
}

int region_write_verified(const struct region *r, void *dst, const void *src, size_t len,
			  struct region_fault *fault)
{
	char back[REGION_BLOCK_SIZE];
	int rc;

	if (len > sizeof(back))
		return -EINVAL;
	rc = region_memcpy_safe(r, dst, src, len, 0, fault);
	if (rc == 0)
		rc = region_copy_check(r, back, dst, len, fault);
	if (rc == 0 && memcmp(src, back, len))
		rc = -EIO;
	return rc;
}

int region_memset_safe(const struct region *r, void *dst, int c, size_t len, unsigned flags,
		       struct region_fault *fault)
{
	struct sigbus_arm *a = &sigbus_arm;

	if (len == 0)
		return 0;
	if (sigsetjmp(a->env, 0))
		return jumped(a, fault);
	arm(a, r, dst, len, false);
	region_memset(r, dst, c, len, flags);
	disarm(a);
	return 0;
}

/* --- the mirror (DESIGN §13) --- */

int region_mirror_attach(struct region *r, struct region *m, bool synced)
{
	if (r->mirror || m == r || m->mirror) {
		log_err("region %s: %s cannot be its mirror", r->path, m->path);
		return -EINVAL;
	}
	if (m->size != r->size || m->kind != r->kind || m->rdonly != r->rdonly) {
		log_err("region %s: a mirror must be of the same size and kind: %s is %s of "
			"%" PRIu64 " bytes, %s is %s of %" PRIu64 " bytes",
			r->path, m->path, region_kind_name(m->kind), m->size, r->path,
			region_kind_name(r->kind), r->size);
		return -EINVAL;
	}
	__atomic_store_n(&r->mirror_synced, synced ? r->size : 0, __ATOMIC_RELEASE);
	rcu_publish(r->mirror, m);
	return 0;
}

int region_mirror_attach_live(struct region *r, struct region *m)
{
	int rc = region_mirror_attach(r, m, false);

	/* Stores that did not see it are done after this, and the copy will read them. */
	if (rc == 0)
		rcu_wait_grace();
	return rc;
}

struct region *region_mirror_detach_live(struct region *r)
{
	struct region *m = r->mirror;

	rcu_publish(r->mirror, NULL);
	__atomic_store_n(&r->mirror_synced, 0, __ATOMIC_RELEASE);
	rcu_wait_grace(); /* no store, read or persist uses @m any more */
	return m;
}

struct region *region_mirror(const struct region *r)
{
	return rcu_fetch(((struct region *)r)->mirror);
}

uint64_t region_mirror_synced(const struct region *r)
{
	return __atomic_load_n(&r->mirror_synced, __ATOMIC_ACQUIRE);
}

uint64_t region_mirror_reads(const struct region *r)
{
	return __atomic_load_n(&r->mirror_reads, __ATOMIC_RELAXED);
}

/* mirror_good - whether the mirror's bytes [@off, @off + @len) may stand in for ours. */
static bool mirror_good(const struct region *r, uint64_t off, uint64_t len)
{
	const struct region *m = mirror_of(r);

	return m && off + len <= __atomic_load_n(&r->mirror_synced, __ATOMIC_ACQUIRE);
}

int region_mirror_copy(const struct region *r, void *dst, uint64_t off, size_t len,
		       struct region_fault *fault)
{
	struct region_fault f;
	int rc = 0;

	rcu_read_begin();
	if (!mirror_good(r, off, len)) {
		f = (struct region_fault){off, len, 0};
		rc = -ENODATA;
	} else if (copy_safe(r->mirror, dst, region_at(r->mirror, off), len, &f, true)) {
		rc = -EIO;
	}
	rcu_read_end();
	if (rc && fault)
		*fault = f;
	return rc;
}

/*
 * region_read - region_copy_safe, and where our bytes are poisoned, the mirror's instead,
 * block by block. Our fault is still queued, so that poison_drain() repairs the block.
 */
int region_read(const struct region *r, void *dst, const void *src, size_t len,
		struct region_fault *fault)
{
	uint64_t off = (uint64_t)((const char *)src - (const char *)r->base), from;
	struct region_fault f;
	size_t done;

	if (copy_safe(r, dst, src, len, &f, false) == 0)
		return 0;
	if (!region_mirror(r) || f.code == BUS_ADRERR || f.off + f.len <= off ||
	    f.off >= off + len) {
		if (fault)
			*fault = f;
		return -EIO;
	}
	/* The bytes before the bad block are copied. From there on, block by block. */
	from = MAX(f.off, off);
	done = from - off;
	while (done < len) {
		uint64_t o = off + done;
		size_t n = MIN(len - done, REGION_BLOCK_SIZE - o % REGION_BLOCK_SIZE);

		if (o >= f.off + f.len &&
		    copy_safe(r, (char *)dst + done, (const char *)src + done, n, &f, false) == 0) {
			done += n;
			continue;
		}
		if (region_mirror_copy(r, (char *)dst + done, o, n, NULL)) {
			if (fault)
				*fault = f;
			return -EIO;
		}
		__atomic_add_fetch(&((struct region *)r)->mirror_reads, 1, __ATOMIC_RELAXED);
		done += n;
	}
	return 0;
}

/*
 * sync_block - make the mirror's block at @off hold ours. A store through region_memcpy
 * reaches ours, then the mirror: a store racing with this copy may have put older bytes in
 * the mirror than ours hold now, so compare after copying and copy again until both agree.
 * Only a client's store through its own mapping, which reaches the mirror when it persists
 * (daxfs_map_persist), can keep them apart for long: after MIRROR_TRIES it is left to that.
 * Return: 0; 1 our block is poisoned (left as it is; the fault is queued); -EIO the
 * mirror's is and could not be cleared.
 */
#define MIRROR_TRIES 8

static int sync_block(struct region *r, const struct region *m, uint64_t off, char *ours,
		      char *theirs)
{
	char *src = region_at(r, off), *dst = region_at(m, off);
	struct region_fault f;

	for (int i = 0; i < MIRROR_TRIES; i++) {
		if (copy_safe(r, ours, src, REGION_BLOCK_SIZE, &f, false))
			return 1;
		if (region_memcpy_safe(m, dst, ours, REGION_BLOCK_SIZE, REGION_NODRAIN, &f))
			return -EIO;
		if (copy_safe(r, ours, src, REGION_BLOCK_SIZE, &f, false))
			return 1;
		if (copy_safe(m, theirs, dst, REGION_BLOCK_SIZE, &f, true)) {
			/* Poison in the mirror: clear it where the media can, and copy again. */
			if (region_badblock_clear((struct region *)m, off, REGION_BLOCK_SIZE))
				return -EIO;
			continue;
		}
		if (memcmp(ours, theirs, REGION_BLOCK_SIZE) == 0)
			return 0;
	}
	return 0;
}

int region_mirror_sync(struct region *r, uint64_t end, struct region_sync_stats *st)
{
	char ours[REGION_BLOCK_SIZE], theirs[REGION_BLOCK_SIZE];
	uint64_t off = __atomic_load_n(&r->mirror_synced, __ATOMIC_ACQUIRE);
	const struct region *m;
	int ret = 0;

	if (end > r->size || end % REGION_BLOCK_SIZE)
		return -EINVAL;
	rcu_read_begin();
	m = rcu_fetch(r->mirror);
	if (!m)
		ret = -EINVAL;
	else if (region_failed(m, NULL))
		ret = -EIO;
	for (; ret == 0 && off < end; off += REGION_BLOCK_SIZE) {
		int rc = sync_block(r, m, off, ours, theirs);

		if (rc < 0) {
			log_err("region %s: cannot repair the mirror's block at offset %" PRIu64
				" (%s)",
				r->path, off, m->path);
			if (st)
				st->mirror_bad++;
		} else if (rc > 0 && st) {
			st->ours_bad++;
		}
		if (st)
			st->blocks++;
	}
	if (ret == 0) {
		region_drain(m);
		if (region_failed(m, NULL))
			ret = -EIO;
	}
	rcu_read_end();
	if (ret == 0 && end > __atomic_load_n(&r->mirror_synced, __ATOMIC_ACQUIRE))
		__atomic_store_n(&r->mirror_synced, end, __ATOMIC_RELEASE);
	return ret;
}

int region_mirror_update(struct region *r, uint64_t off, uint64_t len)
{
	char ours[REGION_BLOCK_SIZE], theirs[REGION_BLOCK_SIZE];
	uint64_t end;
	int rc = 0;

	const struct region *m;

	if (len == 0 || off >= r->size || len > r->size - off)
		return -EINVAL;
	rcu_read_begin();
	m = mirror_of(r);
	if (m) {
		end = ALIGN_UP(off + len, REGION_BLOCK_SIZE);
		for (off = ALIGN_DOWN(off, REGION_BLOCK_SIZE); off < end; off += REGION_BLOCK_SIZE)
			if (sync_block(r, m, off, ours, theirs) < 0)
				rc = -EIO;
		region_drain(m);
	}
	rcu_read_end();
	return rc;
}

struct region *region_mirror_detach(struct region *r)
{
	struct region *m = r->mirror;

	rcu_publish(r->mirror, NULL);
	__atomic_store_n(&r->mirror_synced, 0, __ATOMIC_RELEASE);
	return m;
}

bool region_failed(const struct region *r, struct region_fault *why)
{
	int st = __atomic_load_n(&r->sb.failed, __ATOMIC_ACQUIRE);

	if (!st)
		return false;
	if (why) {
		/* 1: the handler is writing the record on another thread, for nanoseconds. */
		for (int i = 0; i < 1000 && st == 1; i++) {
			sched_yield();
			st = __atomic_load_n(&r->sb.failed, __ATOMIC_ACQUIRE);
		}
		*why = st == 2 ? r->sb.why : (struct region_fault){0, 0, 0};
	}
	return true;
}

bool region_poison_pop(const struct region *r, struct region_fault *f)
{
	return sigbus_queue_pop((struct sigbus_region *)&r->sb, f);
}

/*
 * region_trace_start - persistence tracing (DESIGN §8): copy the region as it is now into
 * @image (created or truncated to the region size), then let only what is persisted reach
 * it. Stores that are never flushed stay out of the image, so a crash test that mounts the
 * image sees what the media would hold after a power failure.
 * Context: right after region_open(), before any other thread uses the region.
 * Return: 0; -errno (logged).
 */
int region_trace_start(struct region *r, const char *image)
{
	void *p;
	int fd;

	if (r->rdonly)
		return -EROFS;
	fd = open(image, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)r->size) < 0) {
		int err = errno;

		log_err("persistence tracing: cannot create %s: %s", image, strerror(err));
		if (fd >= 0)
			close(fd);
		return -err;
	}
	p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		int err = errno;

		log_err("persistence tracing: cannot map %s: %s", image, strerror(err));
		return -err;
	}
	memcpy(p, r->base, r->size);
	r->trace = p;
	log_info("persistence tracing: only persisted bytes of %s reach %s", r->path, image);
	return 0;
}

/*
 * region_badblocks - the bad-block list of @r as byte ranges inside the mapping.
 * Context: any thread. Locking: none (a fresh libpmem2 context per call).
 * Return: the number of ranges in *@out (malloc'd; NULL when 0), or a negative errno (logged).
 */
int region_badblocks(const struct region *r, struct region_badblock **out)
{
	struct pmem2_badblock_context *bbctx;
	struct region_badblock *v = NULL, *nv;
	struct pmem2_badblock bb;
	size_t n = 0, cap = 0;
	int ret;

	*out = NULL;
	if (r->kind == REGION_EMULATED && r->sim_listed)
		return listed_badblocks(r, out);
	if (r->kind == REGION_EMULATED)
		return 0;
	ret = pmem2_badblock_context_new(&bbctx, r->src);
	if (ret) {
		/* a file that libpmem2 cannot trace to an nvdimm namespace has no list */
		if (r->kind == REGION_FSDAX &&
		    (ret == PMEM2_E_NOSUPP || ret == PMEM2_E_DAX_REGION_NOT_FOUND ||
		     ret == PMEM2_E_NO_BAD_BLOCK_FOUND))
			return 0;
		return region_pmem2_fail(r->path, "pmem2_badblock_context_new", ret);
	}
	for (;;) {
		ret = pmem2_badblock_next(bbctx, &bb);
		if (ret == PMEM2_E_NO_BAD_BLOCK_FOUND) {
			ret = 0;
			break;
		}
		if (ret) {
			ret = region_pmem2_fail(r->path, "pmem2_badblock_next", ret);
			break;
		}
		if (bb.length == 0 || bb.offset >= r->size)
			continue; /* outside the mapping (unaligned tail) */
		if (n == cap) {
			if (cap >= (size_t)INT_MAX / 2) {
				log_err("region %s: too many bad-block ranges", r->path);
				ret = -E2BIG;
				break;
			}
			cap = cap ? 2 * cap : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				log_err("region %s: out of memory reading bad blocks", r->path);
				ret = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[n].offset = bb.offset;
		v[n].length = MIN((uint64_t)bb.length, r->size - bb.offset);
		n++;
	}
	pmem2_badblock_context_delete(&bbctx);
	if (ret) {
		free(v);
		return ret;
	}
	if (n == 0) {
		free(v);
		return 0;
	}
	*out = v;
	return (int)n;
}

/*
 * device_clear - pmem2_badblock_clear() for each range of the device's bad-block list that
 * overlaps [@off, @off + @len). Return: 0; a negative errno (logged).
 */
static int device_clear(struct region *r, uint64_t off, uint64_t len)
{
	struct pmem2_badblock_context *bbctx;
	struct pmem2_badblock bb;
	int ret;

	ret = pmem2_badblock_context_new(&bbctx, r->src);
	if (ret == PMEM2_E_NOSUPP || ret == PMEM2_E_DAX_REGION_NOT_FOUND ||
	    ret == PMEM2_E_NO_BAD_BLOCK_FOUND)
		return 0; /* no list, as region_badblocks() reads none */
	if (ret)
		return region_pmem2_fail(r->path, "pmem2_badblock_context_new", ret);
	while ((ret = pmem2_badblock_next(bbctx, &bb)) == 0) {
		if (bb.offset >= off + len || bb.offset + bb.length <= off)
			continue;
		ret = pmem2_badblock_clear(bbctx, &bb);
		if (ret) {
			ret = region_pmem2_fail(r->path, "pmem2_badblock_clear", ret);
			goto out;
		}
		log_notice("region %s: cleared the media error at %zu+%zu", r->path, bb.offset,
			   bb.length);
	}
	ret = ret == PMEM2_E_NO_BAD_BLOCK_FOUND
		      ? 0
		      : region_pmem2_fail(r->path, "pmem2_badblock_next", ret);
out:
	pmem2_badblock_context_delete(&bbctx);
	return ret;
}

/*
 * region_badblock_clear - see region.h: the device's list through libpmem2, then the
 * simulated errors.
 * Context: any thread. Locking: none (a fresh libpmem2 context per call).
 */
int region_badblock_clear(struct region *r, uint64_t off, uint64_t len)
{
	uint64_t first, last;
	int ret;

	if (!sim_range(r, off, len, &first, &last))
		return -EINVAL;
	ret = fault_at(FAULT_BADBLOCK_CLEAR);
	if (ret == 0 && r->kind != REGION_EMULATED)
		ret = device_clear(r, off, len);
	if (ret)
		return ret;
	region_unsimulate_poison(r, off, len);
	return 0;
}
