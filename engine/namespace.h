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
 * A record is committed before it is applied: another caller observes a change only once it
 * is durable, and replay never meets a record whose object does not exist yet. Every record
 * is built and applied under the locks of the objects it describes (docs/locking.md).
 *
 * Every operation takes a context (wait.h; NULL: the engine's own trusted, blocking caller)
 * that says who asks (access.h): the engine checks permissions under the lock of the action
 * they allow. An operation that would have to wait for another request's lock or for
 * mappers to let go parks instead (NS_WAIT, asynchronous contexts only).
 *
 * Every function below may be called from any thread registered with RCU
 * (rcu_thread_online()), concurrently, unless it says otherwise. Lock order and the four
 * buckets are in docs/locking.md.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "access.h"
#include "alloc.h"
#include "mlog.h"
#include "region.h"
#include "rmap.h"
#include "wait.h"
#include "xtable.h"

#define NS_ROOT_INO 1
#define NS_NAME_MAX 255
#define NS_PATH_MAX 4096 /* including the terminating NUL, as PATH_MAX */
#define NS_FILE_SIZE_MAX (UINT64_C(1) << 50)

struct ns;
struct ns_inode;

struct ns_attr {
	uint64_t ino;
	uint32_t mode; /* S_IFMT type | permission bits */
	uint32_t uid;
	uint32_t gid;
	uint32_t nlink;
	uint64_t size;		     /* symbolic links: the target's length */
	uint64_t rdev;		     /* character and block devices: the device number */
	uint64_t blocks;	     /* 4 KiB blocks the file owns */
	int64_t atime, mtime, ctime; /* ns since the epoch */
};

/* What ns_setattr changes: any combination. */
enum ns_setattr_valid {
	NS_SET_MODE = 1 << 0,
	NS_SET_UID = 1 << 1,
	NS_SET_GID = 1 << 2,
	NS_SET_SIZE = 1 << 3,
	NS_SET_ATIME = 1 << 4,	   /* to sa->atime */
	NS_SET_MTIME = 1 << 5,	   /* to sa->mtime */
	NS_SET_ATIME_NOW = 1 << 6, /* to the current time (UTIME_NOW) */
	NS_SET_MTIME_NOW = 1 << 7,
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
	const char *replica; /* format a pair: this replica too (DESIGN §13), or NULL */
};

struct ns_mount_opts {
	enum region_kind kind;
	bool rdonly;
	bool nolock;		 /* tests: do not take the region lock */
	const char *trace_image; /* fault-injection mode: persistence tracing into this file
				  * (and the replica's into trace_image + ".replica") */
	const char *replica;	 /* the region's replica (DESIGN §13), or NULL */
	unsigned reserve_pct;	 /* share of the blocks and of the log (0..50) that only
				  * callers with NS_CRED_RESERVE may use (access.h) */
};

struct ns_statfs {
	uint64_t block_size;
	uint64_t blocks, blocks_free, blocks_quarantined;
	uint64_t blocks_reserved; /* of blocks_free, what only reserve holders may use */
	uint64_t files;
	uint64_t log_used, log_len, checkpoints;
	uint64_t log_reserved; /* bytes of each log area only reserve holders may use */
	uint64_t orphans;      /* inodes no directory reaches (see daxfs check) */
};

/* One run of a file, as ns_extents() and ns_map() describe it. */
#define NS_EXT_HOLE 0x1	  /* no block: reads as zeros */
#define NS_EXT_POISON 0x2 /* lost data: keep it inaccessible */
struct ns_extent {
	uint64_t index; /* first page */
	uint64_t block; /* first block (0 for holes) */
	uint64_t count; /* pages */
	unsigned flags;
};

/* Test hooks (compiled in when DAXFS_TEST_HOOKS): called at named points of a protocol. */
enum ns_hook {
	NS_HOOK_POISON_AFTER_RMAP, /* between the rmap lookup and the xtable lock */
	NS_HOOK_COUNT,
};
typedef void (*ns_hook_fn)(void *ctx, enum ns_hook hook, uint64_t block);

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
 * ns_getattr - attributes of inode @ino (no permission is needed, as for fstat: a caller
 * that names an inode by number has reached it already, or is trusted).
 * Return: 0, -ENOENT.
 */
int ns_getattr(struct ns *ns, uint64_t ino, struct ns_attr *out);

/*
 * ns_lookup - the entry @name in directory @dir; @c needs search permission on @dir.
 * Return: 0, -ENOENT, -ENOTDIR (@dir is a file), -ENAMETOOLONG, -EINVAL (bad name),
 *         -EACCES.
 */
int ns_lookup(struct ns *ns, struct ns_ctx *c, uint64_t dir, const char *name, struct ns_attr *out);

/* What ns_walk() found. */
struct ns_path {
	struct ns_attr attr;	    /* what the path names; NS_WALK_PARENT: its directory */
	char name[NS_NAME_MAX + 1]; /* NS_WALK_PARENT: the last component */
	bool slash;		    /* NS_WALK_PARENT: a slash followed it ("a/b/") */
};

#define NS_WALK_PARENT 0x1   /* stop at the directory that holds the last component */
#define NS_WALK_NOFOLLOW 0x2 /* a symbolic link as the last component is the answer */

/*
 * ns_walk - follow an absolute @path ("/a/b"; repeated and trailing slashes allowed) from
 * the root, with search permission for @c checked on every directory looked up in (the
 * permission callback of the walk is ns_permission). A trailing slash asks for a directory:
 * a file there gives -ENOTDIR (without NS_WALK_PARENT). With NS_WALK_PARENT the walk stops
 * at the last component's directory, which is not checked: the caller's operation checks
 * what it needs of it, under its lock. Symbolic links are followed (at most 40, else
 * -ELOOP), but the last component's with NS_WALK_NOFOLLOW (or NS_WALK_PARENT); a relative
 * target from the link's directory, an absolute one from the root of this file system.
 * What the walk ends on is there when its attributes are read: one that a removal or a
 * rename takes meanwhile is walked to again (a few times at most, then -ENOENT), so a
 * name a rename replaces is never reported missing.
 * Context: thread registered with RCU. Locking: RCU read side.
 * Return: 0; -EACCES; -ENOENT; -ENOTDIR; -ENAMETOOLONG (a component > 255 or the path
 *         >= 4096, also after a link's target is put in); -EINVAL (not absolute, "." / ".."
 *         components, or the root with NS_WALK_PARENT: it has no parent); -ELOOP; -EIO (a
 *         link's target lost to poison).
 */
int ns_walk(struct ns *ns, struct ns_ctx *c, const char *path, unsigned flags, struct ns_path *out);

/*
 * ns_readlink - the target of symbolic link @ino into @buf, truncated to @size bytes, with
 * no NUL (readlink(2)). Return: its length (at most @size); -EINVAL (not a link); -ENOENT;
 * -EIO (its block is poisoned).
 */
ssize_t ns_readlink(struct ns *ns, uint64_t ino, char *buf, size_t size);

/*
 * ns_access - may @c have @mask (NS_MAY_*) on @ino (the mode and the access ACL)?
 * Return: 0; -EACCES; -ENOENT.
 */
int ns_access(struct ns *ns, struct ns_ctx *c, uint64_t ino, unsigned mask);

/*
 * ns_readdir - call @fn for each entry of @dir whose cookie is >= @cookie, in cookie order,
 * until @fn returns non-zero. "." and ".." are not listed. @c needs read permission on @dir.
 * @fn gets the cookie to pass to resume after this entry.
 * Return: 0, -ENOENT, -ENOTDIR, -EACCES, or @fn's non-zero value.
 */
typedef int (*ns_readdir_fn)(void *ctx, const char *name, uint64_t ino, uint32_t mode,
			     uint64_t next_cookie);
int ns_readdir(struct ns *ns, struct ns_ctx *c, uint64_t dir, uint64_t cookie, ns_readdir_fn fn,
	       void *ctx);

/* --- namespace changes (names.c; the locks of the directories and inodes involved) --- */

/*
 * ns_mkdir / ns_create - a new directory / empty file @name in @dir, owned by @c's user
 * (root for a NULL @c) and group, or the directory's group when it is set-group-id.
 * @c needs write and search permission on @dir.
 * Return: 0 and *@out (may be NULL); -EEXIST, -ENOENT (@dir), -ENOTDIR, -ENAMETOOLONG,
 *         -EINVAL (bad name or mode), -EACCES, -ENOSPC (metadata log full), -EROFS;
 *         NS_WAIT (asynchronous @c).
 */
int ns_mkdir(struct ns *ns, struct ns_ctx *c, uint64_t dir, const char *name, uint32_t mode,
	     struct ns_attr *out);
int ns_create(struct ns *ns, struct ns_ctx *c, uint64_t dir, const char *name, uint32_t mode,
	      struct ns_attr *out);

/*
 * ns_mknod - a new inode of the type in @mode (S_IFREG or 0: a file; S_IFIFO, S_IFSOCK;
 * S_IFCHR and S_IFBLK with device number @rdev, by the super user only), as mknod(2).
 * Return: as ns_create; -EPERM (a device by someone else, or a directory); -EINVAL (an
 *         unknown type); -EOPNOTSUPP (a version 1 region mounted read-only: -EROFS).
 */
int ns_mknod(struct ns *ns, struct ns_ctx *c, uint64_t dir, const char *name, uint32_t mode,
	     uint64_t rdev, struct ns_attr *out);

/*
 * ns_symlink - a symbolic link @name in @dir to @target (1..4095 bytes, kept as given).
 * Return: as ns_create; -ENOENT (an empty target); -ENAMETOOLONG; -ENOSPC (a long target
 *         needs a block).
 */
int ns_symlink(struct ns *ns, struct ns_ctx *c, uint64_t dir, const char *name, const char *target,
	       struct ns_attr *out);

/*
 * ns_link - another name @name in @dir for @ino, which is not a directory. @c needs write
 * and search permission on @dir, and to own @ino or (as Linux's protected_hardlinks) read
 * and write permission on a regular file that is not set-user-id (or set-group-id and
 * group-executable). *@out: @ino's attributes, its nlink one higher.
 * Return: 0; -EPERM (a directory, or the rule above); -EMLINK (65000 links); -EEXIST;
 *         -ENOENT; -ENOTDIR; -EACCES; -ENOSPC; -EROFS; NS_WAIT.
 */
int ns_link(struct ns *ns, struct ns_ctx *c, uint64_t ino, uint64_t dir, const char *name,
	    struct ns_attr *out);

/*
 * ns_open / ns_close - a caller that keeps @ino open: while any open remains, removing its
 * last name leaves it an orphan (nlink 0, still readable and writable by number). When
 * ns_close drops the last open of an orphan it returns 1: the caller then removes it with
 * ns_remove_orphan (which may park, for the orphan's mappers, and may be called again
 * until it returns 0; a crash before leaves it to the next mount to remove).
 * Return: 0; 1 (ns_close: remove the orphan); -ENOENT (also ns_close of an inode not
 *         open); -EISDIR (ns_open of a directory); NS_WAIT (nothing done yet: call again).
 */
int ns_open(struct ns *ns, struct ns_ctx *c, uint64_t ino);
int ns_close(struct ns *ns, struct ns_ctx *c, uint64_t ino);
int ns_remove_orphan(struct ns *ns, struct ns_ctx *c, uint64_t ino);

/*
 * ns_unlink / ns_rmdir - remove a file / an empty directory. @c needs write and search
 * permission on @dir, and in a sticky @dir to own the victim or @dir. The file's mappers let
 * go first (lease break).
 * Return: 0; -ENOENT; -ENOTDIR (@dir, or ns_rmdir of a file); -EISDIR (ns_unlink of a
 *         directory); -ENOTEMPTY; -EBUSY (rmdir of the root); -EACCES; -EPERM (sticky);
 *         -ENOSPC; -EROFS; NS_WAIT.
 */
int ns_unlink(struct ns *ns, struct ns_ctx *c, uint64_t dir, const char *name);
int ns_rmdir(struct ns *ns, struct ns_ctx *c, uint64_t dir, const char *name);

/*
 * ns_rename - move @oname in @odir to @nname in @ndir, atomically, replacing an existing
 * file or empty directory there (NS_RENAME_NOREPLACE: fail with -EEXIST instead;
 * NS_RENAME_EXCHANGE: swap the two, both must exist). @c needs what unlink of @oname and
 * create in @ndir need, what unlink needs of a replaced entry, and write permission on a
 * directory that changes parent.
 * Return: 0; -ENOENT; -ENOTDIR; -EISDIR (a directory over a file... or a file over a
 *         directory); -ENOTEMPTY; -EINVAL (a directory into itself, bad flags or names);
 *         -EEXIST; -EACCES; -EPERM; -ENOSPC; -EROFS; NS_WAIT.
 */
int ns_rename(struct ns *ns, struct ns_ctx *c, uint64_t odir, const char *oname, uint64_t ndir,
	      const char *nname, unsigned flags);

/*
 * ns_setattr - change what @sa->valid says, if @c may (ns_may_setattr); NS_SET_SIZE
 * truncates or extends (files only; mappers of what a shrink drops let go first). ctime is
 * set to now.
 * Return: 0; -ENOENT; -EISDIR (size of a directory); -EFBIG; -EINVAL; -EPERM; -EACCES;
 *         -ENOSPC; -EROFS; NS_WAIT.
 */
int ns_setattr(struct ns *ns, struct ns_ctx *c, uint64_t ino, const struct ns_setattr *sa,
	       struct ns_attr *out);

/* --- file contents (nsfile.c; the inode lock) --- */

/*
 * ns_read - copy up to @len bytes at @off into @buf; holes read as zeros. @c needs read
 * permission.
 * Return: bytes read (0 at or past the end); -ENOENT; -EISDIR; -EACCES; -EIO when the first
 *         page read is poisoned (a short count when a later one is).
 */
ssize_t ns_read(struct ns *ns, struct ns_ctx *c, uint64_t ino, void *buf, size_t len, uint64_t off);

/*
 * ns_write - copy @len bytes from @buf to @off, allocating (zeroed) blocks for holes, and
 * extend the size. Durable when it returns. A write that covers a whole poisoned page moves
 * it to a fresh block (repair by rewrite). @c needs write permission.
 * Return: @len; -ENOENT; -EISDIR; -EACCES; -EFBIG (past NS_FILE_SIZE_MAX); -ENOSPC (no
 *         blocks or log full: nothing was written); -EIO (a partial write into a poisoned
 *         page); -EROFS; NS_WAIT.
 */
ssize_t ns_write(struct ns *ns, struct ns_ctx *c, uint64_t ino, const void *buf, size_t len,
		 uint64_t off);

/*
 * ns_write_at - ns_write; @off NS_WRITE_APPEND writes at the end of the file, atomically
 * against every other writer (O_APPEND), and *@at (may be NULL) says at which offset.
 */
#define NS_WRITE_APPEND UINT64_MAX
ssize_t ns_write_at(struct ns *ns, struct ns_ctx *c, uint64_t ino, const void *buf, size_t len,
		    uint64_t off, uint64_t *at);

/*
 * ns_fallocate - NS_FALLOC_PUNCH_HOLE (with KEEP_SIZE): make [off, off+len) a hole, zeroing
 * partial pages; otherwise allocate zeroed blocks for the holes in the range and, without
 * KEEP_SIZE, extend the size. @c needs write permission.
 * Return: 0; -ENOENT; -EISDIR; -EACCES; -EINVAL (len 0, bad mode); -EFBIG; -ENOSPC; -EROFS;
 *         NS_WAIT.
 */
int ns_fallocate(struct ns *ns, struct ns_ctx *c, uint64_t ino, int mode, uint64_t off,
		 uint64_t len);

/*
 * ns_fsync - make the inode's lazily kept attributes (mtime of overwrites) durable.
 * Return: 0, -ENOENT, -EROFS, NS_WAIT.
 */
int ns_fsync(struct ns *ns, struct ns_ctx *c, uint64_t ino);

void ns_statfs(struct ns *ns, struct ns_statfs *st);

/* --- extended attributes (xattr.c; format version 2) --- */

#define NS_XATTR_CREATE 0x1  /* fail with -EEXIST when it exists (XATTR_CREATE) */
#define NS_XATTR_REPLACE 0x2 /* fail with -ENODATA when it does not (XATTR_REPLACE) */

/*
 * ns_getxattr - the value of extended attribute @name of @ino into @buf (@size bytes; 0:
 * only say how long it is); ns_listxattr - the names @c may see, each NUL-terminated.
 * The rules and limits of Linux (xattr.c says them).
 * Return: the length; -ERANGE (@buf too small, or a bad name); -ENODATA; -EOPNOTSUPP (an
 *         unknown namespace); -EACCES; -ENOENT.
 */
ssize_t ns_getxattr(struct ns *ns, struct ns_ctx *c, uint64_t ino, const char *name, void *buf,
		    size_t size);
ssize_t ns_listxattr(struct ns *ns, struct ns_ctx *c, uint64_t ino, char *buf, size_t size);

/*
 * ns_setxattr / ns_removexattr - set (NS_XATTR_* @flags) or remove extended attribute @name
 * of @ino; the POSIX ACL names set the mode too (acl.h). Durable when they return.
 * Return: 0; -EEXIST; -ENODATA; -E2BIG (a value over 64 KiB); -ERANGE (a bad name);
 *         -EINVAL (bad flags, a bad ACL); -ENOSPC (the inode's limit, or the log full);
 *         -EOPNOTSUPP; -EPERM; -EACCES; -ENOENT; -EROFS; NS_WAIT.
 */
int ns_setxattr(struct ns *ns, struct ns_ctx *c, uint64_t ino, const char *name, const void *value,
		size_t size, int flags);
int ns_removexattr(struct ns *ns, struct ns_ctx *c, uint64_t ino, const char *name);

/* --- blocks held for mappers that did not let go (hold.c, DESIGN §6) --- */

/*
 * ns_holds_check - release the holds restored at mount whose processes have all exited
 * (a RELEASE record, then the blocks are free after a grace period). Cheap when there are
 * none; call it after mount and then now and then (the daemon: every second).
 * Context: thread registered with RCU, outside a read section, holding no engine lock.
 * Return: the blocks still held for processes that run.
 */
int64_t ns_holds_check(struct ns *ns);

/* ns_held_blocks - blocks kept out of use for expired holders (tests, statistics). */
uint64_t ns_held_blocks(struct ns *ns);

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
