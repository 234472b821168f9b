/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_NAMESPACE_H
#define DAXFS_ENGINE_NAMESPACE_H

/*
 * namespace - the mounted file system of one region: inodes, directories, files and their
 * block maps, and the transactions that keep it crash-consistent (DESIGN §3.4, §9).
 *
 * Every operation that changes persistent state builds its log records first, then, inside
 * a transaction (the tx lock held shared), applies them to memory with the same code that
 * replays them at mount (engine/nsapply.c) and commits them to the log. A checkpoint takes
 * the tx lock exclusively, so it never sees half an operation. When an operation returns 0,
 * its effect is durable (DESIGN §9).
 *
 * Identity and permissions are the caller's business: the engine trusts its caller.
 * Every function below may be called from any thread registered with RCU
 * (rcu_thread_online()), concurrently, unless it says otherwise. Lock order and the four
 * buckets are in docs/locking.md.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "alloc.h"
#include "mlog.h"
#include "region.h"
#include "rmap.h"
#include "xtable.h"

#define NS_ROOT_INO 1
#define NS_NAME_MAX 255
#define NS_PATH_MAX 4096 /* including the terminating NUL, as PATH_MAX */
#define NS_FILE_SIZE_MAX (UINT64_C(1) << 50)

struct ns;
struct ns_inode;

struct ns_attr {
	uint64_t ino;
	uint32_t mode; /* S_IFDIR or S_IFREG | permission bits */
	uint32_t uid;
	uint32_t gid;
	uint32_t nlink;
	uint64_t size;
	uint64_t blocks;	     /* 4 KiB blocks the file owns */
	int64_t atime, mtime, ctime; /* ns since the epoch */
};

/* What ns_setattr changes: any combination. */
enum ns_setattr_valid {
	NS_SET_MODE = 1 << 0,
	NS_SET_UID = 1 << 1,
	NS_SET_GID = 1 << 2,
	NS_SET_SIZE = 1 << 3,
	NS_SET_ATIME = 1 << 4,
	NS_SET_MTIME = 1 << 5,
};

struct ns_setattr {
	unsigned valid;
	uint32_t mode; /* permission bits only (07777) */
	uint32_t uid, gid;
	uint64_t size;
	int64_t atime, mtime;
};

struct progress_cb;
struct ns_mkfs_opts {
	uint64_t log_len;		    /* 0: default */
	bool force;			    /* format over an existing daxfs */
	const struct progress_cb *progress; /* told how the zeroing of the log goes, or NULL */
};

struct ns_mount_opts {
	enum region_kind kind;
	bool rdonly;
	bool nolock;		 /* tests: do not take the region lock */
	const char *trace_image; /* fault-injection mode: persistence tracing into this file */
};

struct ns_statfs {
	uint64_t block_size;
	uint64_t blocks, blocks_free, blocks_quarantined;
	uint64_t files;
	uint64_t log_used, log_len, checkpoints;
	uint64_t orphans; /* inodes no directory reaches (see daxfs check) */
};

/* fallocate modes */
#define NS_FALLOC_KEEP_SIZE 0x1
#define NS_FALLOC_PUNCH_HOLE 0x2

/* rename flags (values of renameat2) */
#define NS_RENAME_NOREPLACE (1 << 0)
#define NS_RENAME_EXCHANGE (1 << 1)

/*
 * ns_mkfs - format the region at @path (creating an emulated region of @size bytes when
 * @path does not exist and @size is not 0).
 * Context: the calling thread must be registered with RCU.
 * Return: 0; -EEXIST when the region already holds daxfs and !@o->force; region_open's
 *         errors; -EFBIG too small.
 */
int ns_mkfs(const char *path, uint64_t size, const struct ns_mkfs_opts *o);

/*
 * ns_mount - open the region at @path and replay its log.
 * Return: 0 and *@out; region_open's and mlog_open's errors; -EUCLEAN for damage found
 *         while applying records (one log line says which record and why).
 */
int ns_mount(struct ns **out, const char *path, const struct ns_mount_opts *o);

/*
 * ns_unmount - flush lazy attributes, wait for deferred frees, unmap. Accepts NULL.
 * Context: no other thread uses @ns any more.
 */
void ns_unmount(struct ns **nsp);

struct region *ns_region(struct ns *ns);
struct rmap *ns_rmap(struct ns *ns);
struct alloc *ns_alloc(struct ns *ns);

/* --- lookups (RCU read side; no lock) --- */

/*
 * ns_getattr - attributes of inode @ino.
 * Return: 0, -ENOENT.
 */
int ns_getattr(struct ns *ns, uint64_t ino, struct ns_attr *out);

/*
 * ns_lookup - the entry @name in directory @dir.
 * Return: 0, -ENOENT, -ENOTDIR (@dir is a file), -ENAMETOOLONG, -EINVAL (bad name).
 */
int ns_lookup(struct ns *ns, uint64_t dir, const char *name, struct ns_attr *out);

/*
 * ns_resolve - follow an absolute @path ("/a/b"; repeated and trailing slashes allowed).
 * A trailing slash asks for a directory: a file there gives -ENOTDIR.
 * Return: 0, -ENOENT, -ENOTDIR, -ENAMETOOLONG (a component > 255 or the path >= 4096),
 *         -EINVAL (not absolute, or "." / ".." components).
 */
int ns_resolve(struct ns *ns, const char *path, struct ns_attr *out);

/*
 * ns_resolve_parent - the directory that holds the last component of @path, and that
 * component (copied into @name, which has room for NS_NAME_MAX + 1 bytes).
 * Return: as ns_resolve; -EINVAL for "/" (it has no parent).
 */
int ns_resolve_parent(struct ns *ns, const char *path, uint64_t *dir, char *name);

/*
 * ns_readdir - call @fn for each entry of @dir whose cookie is >= @cookie, in cookie order,
 * until @fn returns non-zero. "." and ".." are not listed.
 * @fn gets the cookie to pass to resume after this entry.
 * Return: 0, -ENOENT, -ENOTDIR, or @fn's non-zero value.
 */
typedef int (*ns_readdir_fn)(void *ctx, const char *name, uint64_t ino, uint32_t mode,
			     uint64_t next_cookie);
int ns_readdir(struct ns *ns, uint64_t dir, uint64_t cookie, ns_readdir_fn fn, void *ctx);

/* --- namespace changes (take the namespace lock) --- */

/*
 * ns_mkdir / ns_create - a new directory / empty file @name in @dir.
 * Return: 0 and *@out (may be NULL); -EEXIST, -ENOENT (@dir), -ENOTDIR, -ENAMETOOLONG,
 *         -EINVAL (bad name or mode), -ENOSPC (metadata log full), -EROFS.
 */
int ns_mkdir(struct ns *ns, uint64_t dir, const char *name, uint32_t mode, uint32_t uid,
	     uint32_t gid, struct ns_attr *out);
int ns_create(struct ns *ns, uint64_t dir, const char *name, uint32_t mode, uint32_t uid,
	      uint32_t gid, struct ns_attr *out);

/*
 * ns_unlink / ns_rmdir - remove a file / an empty directory.
 * Return: 0; -ENOENT; -ENOTDIR (@dir, or ns_rmdir of a file); -EISDIR (ns_unlink of a
 *         directory); -ENOTEMPTY; -EBUSY (rmdir of the root); -ENOSPC; -EROFS.
 */
int ns_unlink(struct ns *ns, uint64_t dir, const char *name);
int ns_rmdir(struct ns *ns, uint64_t dir, const char *name);

/*
 * ns_rename - move @oname in @odir to @nname in @ndir, atomically, replacing an existing
 * file or empty directory there (NS_RENAME_NOREPLACE: fail with -EEXIST instead;
 * NS_RENAME_EXCHANGE: swap the two, both must exist).
 * Return: 0; -ENOENT; -ENOTDIR; -EISDIR (a directory over a file... or a file over a
 *         directory); -ENOTEMPTY; -EINVAL (a directory into itself, bad flags or names);
 *         -EEXIST; -ENOSPC; -EROFS.
 */
int ns_rename(struct ns *ns, uint64_t odir, const char *oname, uint64_t ndir, const char *nname,
	      unsigned flags);

/*
 * ns_setattr - change what @sa->valid says; NS_SET_SIZE truncates or extends (files only).
 * ctime is set to now. Return: 0; -ENOENT; -EISDIR (size of a directory); -EFBIG; -EINVAL;
 * -ENOSPC; -EROFS.
 */
int ns_setattr(struct ns *ns, uint64_t ino, const struct ns_setattr *sa, struct ns_attr *out);

/* --- file contents (take the inode lock) --- */

/*
 * ns_read - copy up to @len bytes at @off into @buf; holes read as zeros.
 * Return: bytes read (0 at or past the end); -ENOENT; -EISDIR; -EIO when the first page
 *         read is poisoned (a short count when a later one is).
 */
ssize_t ns_read(struct ns *ns, uint64_t ino, void *buf, size_t len, uint64_t off);

/*
 * ns_write - copy @len bytes from @buf to @off, allocating (zeroed) blocks for holes, and
 * extend the size. Durable when it returns. A write that covers a whole poisoned page moves
 * it to a fresh block (repair by rewrite).
 * Return: @len; -ENOENT; -EISDIR; -EFBIG (past NS_FILE_SIZE_MAX); -ENOSPC (no blocks or log
 *         full: nothing was written); -EIO (a partial write into a poisoned page); -EROFS.
 */
ssize_t ns_write(struct ns *ns, uint64_t ino, const void *buf, size_t len, uint64_t off);

/*
 * ns_fallocate - NS_FALLOC_PUNCH_HOLE (with KEEP_SIZE): make [off, off+len) a hole, zeroing
 * partial pages; otherwise allocate zeroed blocks for the holes in the range and, without
 * KEEP_SIZE, extend the size.
 * Return: 0; -ENOENT; -EISDIR; -EINVAL (len 0, bad mode); -EFBIG; -ENOSPC; -EROFS.
 */
int ns_fallocate(struct ns *ns, uint64_t ino, int mode, uint64_t off, uint64_t len);

/*
 * ns_fsync - make the inode's lazily kept attributes (mtime of overwrites) durable.
 * Return: 0, -ENOENT, -EROFS.
 */
int ns_fsync(struct ns *ns, uint64_t ino);

void ns_statfs(struct ns *ns, struct ns_statfs *st);

/*
 * The namespace's capacity: a checkpoint writes the whole namespace into one log area, so
 * the files and directories it can hold are those whose snapshot fits an area (with the
 * room kept for a removal). inodes_free counts empty files with names of up to
 * NS_CAPACITY_NAME bytes; a longer name or a file's data (a MAP record per run of
 * blocks) takes more. daxfs(1) explains it to users (df -i).
 */
#define NS_CAPACITY_NAME 16
struct ns_capacity {
	uint64_t inodes;	 /* files and directories now */
	uint64_t inodes_free;	 /* how many more the snapshot has room for */
	uint64_t snapshot_bytes; /* what a checkpoint would write now */
	uint64_t log_len;	 /* bytes of a log area, which a snapshot must fit */
	uint64_t file_bytes;	 /* what one more file takes in the snapshot */
};

/*
 * ns_capacity - measure the snapshot as a checkpoint would write it (a walk of the whole
 * namespace, not held against changes: an estimate while they go on) and what room is left.
 * The measure is reused until the next commit to the log.
 * Context: thread registered with RCU, outside a read section, holding no engine lock.
 * Locking: a lock of its own around the walk; then what a snapshot walk takes (inode attr
 *          locks, the allocator's, the grant lock), one at a time.
 * Return: 0; -ENOMEM.
 */
int ns_capacity(struct ns *ns, struct ns_capacity *cap);

/*
 * ns_checkpoint - write a snapshot now (tests, benchmarks, and unmount of a full log).
 * Return: 0, -ENOSPC (the snapshot does not fit an area), -EROFS.
 */
int ns_checkpoint(struct ns *ns);

struct ns_extent;
/*
 * ns_extents - the allocated extents of file @ino from page @from on (holes left out), as
 * filefrag lists them; runs of consecutive pages on consecutive blocks are merged.
 * At most @max in @out; *@next is the page to go on from, UINT64_MAX when all were listed.
 * Context: thread registered with RCU, outside a read section. Locking: RCU.
 * Return: the number stored; -ENOENT, -EISDIR, -EINVAL (@max 0).
 */
int ns_extents(struct ns *ns, uint64_t ino, uint64_t from, struct ns_extent *out, size_t max,
	       uint64_t *next);

#endif
