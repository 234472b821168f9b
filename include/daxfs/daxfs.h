/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_DAXFS_H
#define DAXFS_DAXFS_H

/*
 * libdaxfs - the client library of daxfs.
 *
 * A struct daxfs is one session with daxfsd over its unix socket. Every function returns 0
 * (or a count) on success and a negative errno on failure; daxfs_errormsg() then tells more,
 * for the calling thread. Handles are opaque. All functions may be called from several
 * threads on the same handle; the library has no global state and logs nothing unless the
 * application sets a log function.
 *
 * Copy I/O (daxfs_pread / daxfs_pwrite) works for anyone with POSIX permission on a file.
 * Zero-copy mapping (daxfs_map_new) needs the region's trust (daxfsd --map-users/--map-groups):
 * the mapped range is then plain memory; stores become durable with daxfs_map_persist().
 * The daemon may push events about mapped ranges: POISON (the data is lost) and INVALIDATE
 * (the range is being truncated, punched or moved). By default the library makes the range
 * inaccessible (PROT_NONE), acknowledges INVALIDATE, and calls the application's callback.
 * Events are handled whenever the library reads from the socket: inside any call, in
 * daxfs_process_events() (the socket is pollable: daxfs_event_fd()), or in a background
 * thread (daxfs_event_thread_start()). A session that maps must do one of these while it
 * holds mappings, or an INVALIDATE goes unacknowledged and the daemon drops the session.
 *
 * Every request waits at most 30 s ($DAXFS_TIMEOUT_MS, read at daxfs_open, sets another
 * bound) for its reply: then it fails with -ETIMEDOUT and the session is closed; every later
 * call fails with -ECONNRESET. A thread waiting for a reply first polls the socket for
 * about 50 us ($DAXFS_SPIN_US; 0: sleep at once) before sleeping.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct daxfs;
struct daxfs_map;

struct daxfs_stat {
	uint64_t ino;
	uint32_t mode; /* S_IFMT type | permission bits */
	uint32_t uid, gid, nlink;
	uint64_t size;
	uint64_t blocks; /* 4 KiB blocks */
	int64_t atime_ns, mtime_ns, ctime_ns;
};

struct daxfs_statfs {
	/*
	 * files: files and directories; files_free: how many more empty files the metadata
	 * log's snapshot has room for (daxfs(1), df -i).
	 */
	uint64_t block_size, blocks, blocks_free, blocks_quarantined, files, files_free;
	uint64_t log_used, log_len;
	int map_trust;	      /* 0: no mapping, 1: read-only mappings, 2: read-write */
	char kind[16];	      /* the region: "devdax", "fsdax" or "emulated" */
	char granularity[16]; /* what a persist flushes: "byte", "cache line" or "page" */
	uint64_t alignment;   /* bytes: a mapping is made of whole units of it (2 MiB on devdax) */
	uint64_t blocks_reserved; /* of blocks_free, what only root and the daemon's user may use */
	uint64_t log_reserved;	  /* bytes of the metadata log kept the same way */
};

/*
 * daxfs_default_socket - the socket daxfsd listens on unless told otherwise, as this
 * library was built ("/run/daxfs/daxfsd.sock" with the default runstatedir).
 */
const char *daxfs_default_socket(void);

/*
 * daxfs_open - connect to the daemon at @socket_path (NULL: $DAXFS_SOCKET, else
 * daxfs_default_socket()) and say HELLO.
 * Return: 0 and *@out; -ENOENT / -ECONNREFUSED (no daemon there), -EACCES (socket mode),
 *         -EPROTO (not a daxfsd of this protocol version), -ENOMEM, -ENAMETOOLONG (socket
 *         path), -ECONNRESET (the daemon closed at once: too many sessions), -ETIMEDOUT.
 */
int daxfs_open(struct daxfs **out, const char *socket_path);

/*
 * daxfs_close - end the session: mappings made through it stay mapped memory but lose
 * their grants; unmap them first (daxfs_map_delete() still works after, without the
 * daemon). Stops the event thread. Accepts NULL. Not from an event callback.
 */
void daxfs_close(struct daxfs *fs);

/* daxfs_errormsg - the detail of the calling thread's last failure ("" when none). */
const char *daxfs_errormsg(void);

/*
 * daxfs_set_log - route the library's few messages (dropped events, protocol errors).
 * @fn is called from whichever thread noticed, with no library lock held.
 */
void daxfs_set_log(struct daxfs *fs, void (*fn)(void *ctx, const char *msg), void *ctx);

/* --- names and attributes (absolute paths inside the file system, "/a/b") --- */

/* Errors for all of these: -ENOENT, -ENOTDIR, -EACCES, -ENAMETOOLONG, -EINVAL, -EROFS,
 * -ENOSPC, -ECONNRESET (the session is gone), -ETIMEDOUT (no reply: the session is then
 * closed), -EPROTO (a malformed reply), -ENOMEM. The same hold for the calls below. */
int daxfs_stat(struct daxfs *fs, const char *path, struct daxfs_stat *st);
int daxfs_getattr(struct daxfs *fs, uint64_t ino, struct daxfs_stat *st);
int daxfs_statfs(struct daxfs *fs, struct daxfs_statfs *st);
/* daxfs_mkdir - -EEXIST when the name exists. */
int daxfs_mkdir(struct daxfs *fs, const char *path, uint32_t mode, struct daxfs_stat *st);
/*
 * daxfs_create - a regular file; with DAXFS_CREATE_EXCL -EEXIST when it exists, otherwise
 * an existing file is returned as it is (-EISDIR for a directory). @st may be NULL.
 */
#define DAXFS_CREATE_EXCL 0x1
int daxfs_create(struct daxfs *fs, const char *path, uint32_t mode, int flags,
		 struct daxfs_stat *st);
/* daxfs_unlink - -EISDIR for a directory. */
int daxfs_unlink(struct daxfs *fs, const char *path);
/* daxfs_rmdir - -ENOTEMPTY, -ENOTDIR. */
int daxfs_rmdir(struct daxfs *fs, const char *path);
/* daxfs_rename - flags: DAXFS_RENAME_NOREPLACE (-EEXIST), DAXFS_RENAME_EXCHANGE. */
#define DAXFS_RENAME_NOREPLACE 0x1
#define DAXFS_RENAME_EXCHANGE 0x2
int daxfs_rename(struct daxfs *fs, const char *oldpath, const char *newpath, int flags);

/* daxfs_setattr - change what @valid says (DAXFS_SET_*); -EPERM when not allowed. */
#define DAXFS_SET_MODE 0x1
#define DAXFS_SET_UID 0x2
#define DAXFS_SET_GID 0x4
#define DAXFS_SET_SIZE 0x8
#define DAXFS_SET_ATIME 0x10
#define DAXFS_SET_MTIME 0x20
#define DAXFS_SET_ATIME_NOW 0x40 /* to the daemon's clock (utimensat's UTIME_NOW) */
#define DAXFS_SET_MTIME_NOW 0x80
int daxfs_setattr(struct daxfs *fs, uint64_t ino, unsigned valid, const struct daxfs_stat *to,
		  struct daxfs_stat *st);
/* daxfs_truncate - by path: set the size. */
int daxfs_truncate(struct daxfs *fs, const char *path, uint64_t size);

/*
 * daxfs_readdir - list directory @path: @fn is called per entry (not "." and "..") until
 * it returns non-zero, which daxfs_readdir then returns.
 */
typedef int (*daxfs_readdir_fn)(void *ctx, const char *name, uint64_t ino, uint32_t mode);
int daxfs_readdir(struct daxfs *fs, const char *path, daxfs_readdir_fn fn, void *ctx);

/* --- copy I/O by inode number (from daxfs_stat / daxfs_create) --- */

/*
 * daxfs_pread / daxfs_pwrite - like pread(2)/pwrite(2); any length (split into requests
 * the protocol allows; large ones go through the session's shared buffer).
 * Return: bytes read (0 at end of file) / written; -EIO for a poisoned page at the start
 *         (a short count when later), -EISDIR, -EACCES, -EFBIG, -ENOSPC.
 */
ssize_t daxfs_pread(struct daxfs *fs, uint64_t ino, void *buf, size_t len, uint64_t off);
ssize_t daxfs_pwrite(struct daxfs *fs, uint64_t ino, const void *buf, size_t len, uint64_t off);
/* daxfs_fallocate - mode 0 (allocate, extend), DAXFS_FALLOC_KEEP_SIZE, | PUNCH_HOLE. */
#define DAXFS_FALLOC_KEEP_SIZE 0x1
#define DAXFS_FALLOC_PUNCH_HOLE 0x2
int daxfs_fallocate(struct daxfs *fs, uint64_t ino, int mode, uint64_t off, uint64_t len);
int daxfs_fsync(struct daxfs *fs, uint64_t ino);
/*
 * daxfs_append - write @buf at the end of the file, atomically against every other writer
 * (O_APPEND): at most the session's shared buffer (4 MiB) in one call, else -EFBIG.
 * Return: @len; the errors of daxfs_pwrite.
 */
ssize_t daxfs_append(struct daxfs *fs, uint64_t ino, const void *buf, size_t len);

/* --- POSIX objects (a daemon whose region is format version 2) --- */

/* struct daxfs_statx - daxfs_stat, and what does not fit it. */
struct daxfs_statx {
	struct daxfs_stat st;
	uint64_t rdev; /* character and block devices: the device number (makedev) */
	uint64_t reserved[7];
};
/*
 * daxfs_statx - stat(2) of @path (symbolic links followed), or with DAXFS_STAT_NOFOLLOW
 * lstat(2); daxfs_getattrx - by inode number.
 */
#define DAXFS_STAT_NOFOLLOW 0x1
int daxfs_statx(struct daxfs *fs, const char *path, int flags, struct daxfs_statx *stx);
int daxfs_getattrx(struct daxfs *fs, uint64_t ino, struct daxfs_statx *stx);
/*
 * daxfs_link - another name @newpath for the file @oldpath (not a directory; a symbolic
 * link itself, not followed). -EPERM for a directory, or someone else's file you may not
 * read and write; -EMLINK; -EEXIST. @st (may be NULL): the file, its nlink one higher.
 */
int daxfs_link(struct daxfs *fs, const char *oldpath, const char *newpath, struct daxfs_stat *st);
/*
 * daxfs_symlink - a symbolic link @linkpath to @target (1..4095 bytes, kept as given: a
 * relative one is resolved from the link's directory, an absolute one from the root of the
 * daemon's file system). daxfs_readlink - its target, truncated to @size, no NUL.
 */
int daxfs_symlink(struct daxfs *fs, const char *target, const char *linkpath,
		  struct daxfs_stat *st);
ssize_t daxfs_readlink(struct daxfs *fs, const char *path, char *buf, size_t size);
/*
 * daxfs_mknod - a fifo (S_IFIFO), socket (S_IFSOCK), character or block device (S_IFCHR,
 * S_IFBLK: root only, -EPERM otherwise) or regular file at @path, as mknod(2).
 */
int daxfs_mknod(struct daxfs *fs, const char *path, uint32_t mode, uint64_t rdev,
		struct daxfs_stat *st);
/*
 * Extended attributes of @ino, as getxattr(2) and its siblings: names in the user.,
 * trusted., security. namespaces and system.posix_acl_access / _default (POSIX ACLs in
 * Linux's encoding); values up to 64 KiB. @size 0 asks for the length only; a smaller
 * buffer than needed gives -ERANGE. -ENODATA, -EOPNOTSUPP (another namespace), -E2BIG,
 * -ENOSPC, -EPERM, -EACCES.
 */
#define DAXFS_XATTR_CREATE 0x1	/* -EEXIST when it exists */
#define DAXFS_XATTR_REPLACE 0x2 /* -ENODATA when it does not */
ssize_t daxfs_getxattr(struct daxfs *fs, uint64_t ino, const char *name, void *value, size_t size);
int daxfs_setxattr(struct daxfs *fs, uint64_t ino, const char *name, const void *value, size_t size,
		   int flags);
ssize_t daxfs_listxattr(struct daxfs *fs, uint64_t ino, char *list, size_t size);
int daxfs_removexattr(struct daxfs *fs, uint64_t ino, const char *name);

/* --- the media: extents, bad blocks, scrub --- */

#define DAXFS_EXTENT_POISON 0x1 /* the data of this extent is lost (reads fail with EIO) */
struct daxfs_extent {
	uint64_t file_off;   /* bytes from the start of the file */
	uint64_t region_off; /* bytes from the start of the region */
	uint64_t len;	     /* bytes */
	uint32_t flags;	     /* DAXFS_EXTENT_POISON */
};
/*
 * daxfs_extents - the allocated extents of file @ino in file order, as filefrag lists them
 * (holes are left out), so a bad region offset can be traced to its file. Needs read
 * permission on the file.
 * Return: 0, *@out (malloc'd: free() it) and *@count; -ENOENT, -EISDIR, -EACCES, -ENOMEM.
 */
int daxfs_extents(struct daxfs *fs, uint64_t ino, struct daxfs_extent **out, size_t *count);

#define DAXFS_BADBLOCK_METADATA 0x1 /* in the superblocks or the log (not persisted) */
#define DAXFS_BADBLOCK_OWNED 0x2    /* a file page still sits on it: ino, file_off */
#define DAXFS_BADBLOCK_REPAIRED 0x4 /* repaired from the replica this run: nothing lost */
struct daxfs_badblock {
	uint64_t region_off; /* bytes */
	uint64_t len;	     /* bytes */
	uint64_t ino;	     /* DAXFS_BADBLOCK_OWNED: the file ... */
	uint64_t file_off;   /* ... and where in it */
	uint32_t flags;
};
/*
 * daxfs_badblocks - every quarantined range of the region in region order (a block stays
 * quarantined for good, also across restarts), with the file page it hit while that page
 * is not rewritten, the metadata blocks found poisoned since the daemon started, and the
 * file pages repaired from the replica since then (DAXFS_BADBLOCK_REPAIRED: not quarantined,
 * no data lost; at most 256 are remembered).
 * Return: 0, *@out (malloc'd: free() it; NULL when *@count is 0); -ENOMEM, -ECONNRESET.
 */
int daxfs_badblocks(struct daxfs *fs, struct daxfs_badblock **out, size_t *count);

/*
 * daxfs_badblock_clear - return the quarantined region bytes [@off, @off + @len) (4 KiB
 * aligned, as daxfs_badblocks() lists them) to use; root or the daemon's user only. The
 * daemon clears the media errors there (the device's bad-block list through libpmem2;
 * an emulated region has none), zeroes the blocks and reads them back; only then do they
 * leave the quarantine, durably.
 * Return: 0 and *@blocks (may be NULL: how many blocks returned to use); -EPERM (not
 *         allowed); -EINVAL (not aligned, or outside the data area: the superblocks and
 *         the log cannot be); -ENOENT (a block of the range is not quarantined); -EBUSY (a
 *         file page still sits on a block: rewrite it or remove the file; daxfs_badblocks()
 *         names it; or a dropped client may still map it); -EIO (the range still faults);
 *         -EROFS; -ENOSPC.
 */
int daxfs_badblock_clear(struct daxfs *fs, uint64_t off, uint64_t len, uint64_t *blocks);

/*
 * daxfs_mount - have daxfsd serve its file system as a FUSE mount on the directory
 * @mountpoint (an absolute path on the daemon's machine), with the comma-separated
 * @options (NULL or "": daxfsd's mount_cache and mount_options; else over them:
 * cache=none|auto|always, attr_timeout=S, entry_timeout=S, writeback, ro, rw); root or the
 * daemon's user only. daxfsd serves one mount at a time, and unmounts it when it stops.
 * Return: 0; -EPERM (not allowed, or the kernel refused the mount); -EBUSY (daxfsd
 *         serves a mount already); -ENOENT / -ENOTDIR (@mountpoint); -EINVAL (an option
 *         daxfsd does not know: its log says which).
 */
int daxfs_mount(struct daxfs *fs, const char *mountpoint, const char *options);

/*
 * daxfs_umount - have daxfsd stop serving its FUSE mount on @mountpoint and unmount it
 * (programs still using a file there get ENOTCONN). Root or the daemon's user only.
 * Return: 0; -EPERM; -EINVAL (daxfsd serves no mount there).
 */
int daxfs_umount(struct daxfs *fs, const char *mountpoint);

struct daxfs_scrub_result {
	uint64_t blocks_read; /* allocated blocks read */
	uint64_t blocks_bad;  /* of them, found poisoned and quarantined by this scrub */
	uint64_t bytes_read;
	uint64_t usec; /* how long it took */
};
/*
 * daxfs_scrub - have the daemon read every allocated block of the region, catching media
 * errors (each found is quarantined and its mappers told, as any poison). Root or the
 * daemon's user only. It reads the whole data in use, a range of the region per request:
 * it may take seconds per GiB.
 * Return: 0 and *@res; -EPERM, -EIO (the region failed), -ECONNRESET, -ETIMEDOUT.
 */
int daxfs_scrub(struct daxfs *fs, struct daxfs_scrub_result *res);

/*
 * daxfs_scrub_progress - daxfs_scrub(), calling @fn(@ctx, done, total, so_far) after each
 * range with the bytes of the region's data area covered so far and in all (done ==
 * total the last time) and the sums so far, from the calling thread.
 * Return: as daxfs_scrub; *@res holds the sums of the ranges done also on failure.
 */
typedef void (*daxfs_scrub_progress_fn)(void *ctx, uint64_t done, uint64_t total,
					const struct daxfs_scrub_result *so_far);
int daxfs_scrub_progress(struct daxfs *fs, struct daxfs_scrub_result *res,
			 daxfs_scrub_progress_fn fn, void *ctx);

/* --- the replica (daxfsd --replica) --- */

enum daxfs_replica_state {
	DAXFS_REPLICA_NONE = 0,	     /* the region has no replica */
	DAXFS_REPLICA_INSYNC = 1,    /* both copies agree: a media error costs nothing */
	DAXFS_REPLICA_RESYNCING = 2, /* being copied: synced of size bytes so far */
	DAXFS_REPLICA_DEGRADED = 3,  /* the region has one, not in use: why says what happened */
};

struct daxfs_replica {
	enum daxfs_replica_state state;
	char path[160];	   /* the replica, when one is attached */
	char why[160];	   /* DAXFS_REPLICA_DEGRADED: the reason */
	uint64_t synced;   /* bytes of the replica that hold the region's */
	uint64_t size;	   /* bytes of the region */
	uint64_t reads;	   /* blocks read from the replica in place of poisoned ones */
	uint64_t repaired; /* blocks of the region repaired from the replica */
};

/*
 * daxfs_replica_status - the state of the region's replica. Open to every client.
 * Return: 0 and *@out; -ECONNRESET, -EPROTO (a daemon without replicas).
 */
int daxfs_replica_status(struct daxfs *fs, struct daxfs_replica *out);

/*
 * daxfs_replica_add - attach the device or file at @path (absolute; the daemon opens it)
 * as the region's replica while it is served: of the same size and kind, not the region,
 * not another daxfs file system's region. From then on every write reaches it, and the
 * region is copied to it in the background (daxfs_replica_status shows the progress).
 * daxfs_replica_remove - detach it (the region no longer needs one: format version 2).
 * Root or the daemon's user only.
 * Return: 0; -EPERM; -EEXIST (a replica is attached: remove it first); -ENOENT (add: no
 *         such path; remove: no replica); -EINVAL (refused: the daemon's log says why);
 *         -EBUSY (another process holds @path); -EROFS.
 */
int daxfs_replica_add(struct daxfs *fs, const char *path);
int daxfs_replica_remove(struct daxfs *fs);

/*
 * daxfs_scrub_replica - daxfs_scrub for the replica's copy: read every block in use there
 * (repairing from the region what is poisoned there), and with DAXFS_SCRUB_COMPARE compare
 * it with the region's copy. Blocks of pages mapped for writing are not compared (their
 * stores reach the replica when persisted), nor blocks not copied to the replica yet.
 * Root or the daemon's user only; @fn as for daxfs_scrub_progress (may be NULL).
 * Return: 0 and *@res; -ENODATA (no replica attached), -EPERM, -ECONNRESET, -ETIMEDOUT.
 */
#define DAXFS_SCRUB_COMPARE 0x1
#define DAXFS_SCRUB_DIFF_MAX 16
struct daxfs_replica_scrub {
	uint64_t blocks_read;		     /* of the replica */
	uint64_t blocks_bad;		     /* poisoned there, repaired from the region */
	uint64_t blocks_unrepaired;	     /* of those, not repaired */
	uint64_t blocks_skipped;	     /* not copied to the replica yet */
	uint64_t differ;		     /* DAXFS_SCRUB_COMPARE: blocks whose copies differ */
	size_t ndiff;			     /* the first of them listed in diff */
	uint64_t diff[DAXFS_SCRUB_DIFF_MAX]; /* region byte offsets */
};
typedef void (*daxfs_scrub_replica_fn)(void *ctx, uint64_t done, uint64_t total);
int daxfs_scrub_replica(struct daxfs *fs, unsigned flags, struct daxfs_replica_scrub *res,
			daxfs_scrub_replica_fn fn, void *ctx);

/* --- the daemon's metrics --- */

/*
 * daxfs_stats - the daemon's metrics as OpenMetrics text, what its metrics endpoint
 * serves (daxfsd --metrics-listen; the series are listed in daxfsd(8)), ending with
 * "# EOF". Open to every client.
 * Return: 0, *@text (malloc'd and NUL-terminated: free() it) and its length in *@len;
 *         -ENOMEM, -ECONNRESET, -EPROTO (a daemon without STATS).
 */
int daxfs_stats(struct daxfs *fs, char **text, size_t *len);

/* --- fault injection (a daemon started with --fault-injection; docs/fault-injection.md) --- */

enum daxfs_inject_kind {
	DAXFS_INJECT_POISON = 1,  /* poison region bytes [arg0, arg0 + arg1) */
	DAXFS_INJECT_FAIL = 2,	  /* fail @point arg0 times (0: until cleared) with errno arg1 */
	DAXFS_INJECT_DELAY = 3,	  /* sleep arg0 microseconds (at most 10 s) at @point */
	DAXFS_INJECT_CRASH = 4,	  /* abort at @point, or (no point) at the arg0-th persist */
	DAXFS_INJECT_CLEAR = 5,	  /* forget every fail, delay and crash */
	DAXFS_INJECT_MEDIA = 6,	  /* region bytes [arg0, arg0 + arg1) fault when the daemon reads
				  * them: a media error it has not noticed yet */
	DAXFS_INJECT_REPLICA = 7, /* the same in the replica's copy of those bytes */
};
/*
 * daxfs_inject - one fault-injection request; root or the daemon's user only.
 * Return: 0 and *@value (may be NULL: for POISON, the blocks newly quarantined);
 *         -EPERM (the mode is off, or not allowed), -ENOENT (no such point), -EINVAL,
 *         -EOPNOTSUPP (the point cannot fail).
 */
int daxfs_inject(struct daxfs *fs, enum daxfs_inject_kind kind, const char *point, uint64_t arg0,
		 uint64_t arg1, uint64_t *value);

/* --- zero-copy mapping --- */

#define DAXFS_MAP_READ 0x1
#define DAXFS_MAP_WRITE 0x2

/*
 * daxfs_map_new - map bytes [@off, @off + @len) of file @ino (both 4 KiB aligned) into one
 * contiguous view. With DAXFS_MAP_WRITE the range is allocated, zeroed and the file
 * extended to cover it first; holes in a read mapping read as zeros.
 * Return: 0 and *@out; -EPERM (this user is not trusted to map), -EACCES, -EINVAL, -ENOSPC,
 *         -E2BIG (the range has more extents than one reply holds: map smaller ranges).
 */
int daxfs_map_new(struct daxfs *fs, uint64_t ino, uint64_t off, uint64_t len, int mode,
		  struct daxfs_map **out);
/* daxfs_map_addr / daxfs_map_len - the view. */
void *daxfs_map_addr(const struct daxfs_map *m);
size_t daxfs_map_len(const struct daxfs_map *m);
/*
 * daxfs_map_persist - make stores to [@addr, @addr + @len) of the view durable. On a
 * region with a replica, a write mapping's persist also asks the daemon to copy those
 * pages to the replica (one round trip): until it returns, stores there are not protected
 * by the replica (a media error meanwhile may bring back what the replica held).
 */
void daxfs_map_persist(struct daxfs_map *m, const void *addr, size_t len);
/* daxfs_map_delete - unmap and release the grant. Accepts NULL; sets *@mp = NULL. */
void daxfs_map_delete(struct daxfs_map **mp);

/* --- events --- */

enum daxfs_event_type {
	DAXFS_EVENT_POISON = 1,	    /* the range lost data; it is now inaccessible */
	DAXFS_EVENT_INVALIDATE = 2, /* the range went (truncate, punch, unlink, rewrite) */
};
struct daxfs_event {
	enum daxfs_event_type type;
	struct daxfs_map *map; /* the affected mapping */
	uint64_t ino;
	uint64_t off, len; /* bytes of the file */
	void *addr;	   /* where that range is in the view */
};
typedef void (*daxfs_event_fn)(void *ctx, const struct daxfs_event *ev);

/*
 * daxfs_set_event_callback - called after the library's own handling of each event (and
 * after the INVALIDATE is acknowledged), for mappings of this handle; events for grants
 * the handle no longer holds are ignored. It runs on whichever thread read the event (a
 * caller of any function of this handle, daxfs_process_events(), or the event thread),
 * possibly on several threads at once, with no library lock held: it may call the library
 * (also daxfs_map_delete() on ev->map), but not daxfs_close() or daxfs_event_thread_stop().
 * ev->off/len are clipped to the mapping and ev->addr points at ev->off in the view.
 */
void daxfs_set_event_callback(struct daxfs *fs, daxfs_event_fn fn, void *ctx);
/* daxfs_event_fd - poll it for POLLIN, then call daxfs_process_events(). */
int daxfs_event_fd(struct daxfs *fs);
/*
 * daxfs_process_events - handle what has arrived, without blocking (replies that arrive
 * go to the threads waiting for them; when another thread is reading the socket, it
 * handles what comes and this returns 0).
 * Return: the events that concerned a mapping of this handle; -ECONNRESET.
 */
int daxfs_process_events(struct daxfs *fs);
/*
 * daxfs_event_thread_start / _stop - a background thread that handles events as they come
 * (every signal is blocked in it, so no handler of the application runs there). Starting a
 * running thread does nothing; stop waits for the thread to end (not from an event callback).
 * Return: 0; -ENOMEM / -EAGAIN (no thread), -EMFILE (no eventfd).
 */
int daxfs_event_thread_start(struct daxfs *fs);
void daxfs_event_thread_stop(struct daxfs *fs);

/* --- SIGBUS on a mapping (optional) --- */

struct daxfs_sigbus {
	int code; /* BUS_MCEERR_AR (an access hit it) or BUS_MCEERR_AO (early notice) */
	struct daxfs_map *map; /* the mapping it hit */
	uint64_t ino;
	uint64_t off, len; /* the bytes of the file that were lost (and reported) */
	void *addr;	   /* the faulting address */
};
/* Runs in the signal handler: only async-signal-safe calls. It may siglongjmp out. */
typedef void (*daxfs_sigbus_fn)(void *ctx, const struct daxfs_sigbus *info);

/*
 * daxfs_sigbus_install - report media errors that hit this handle's mappings. Installs one
 * process-wide SIGBUS handler (SA_SIGINFO | SA_NODEFER | SA_ONSTACK; the handler it replaces
 * is kept). On SIGBUS with BUS_MCEERR_AR or BUS_MCEERR_AO at an address in a mapping of
 * @fs made after this call, it sends the daemon a POISON_REPORT of the lost range (the
 * daemon quarantines it and sends POISON to every mapper, this one included, whose range
 * the library then makes PROT_NONE as for any POISON event), then calls @fn(@ctx, info).
 * @fn may siglongjmp out (sigsetjmp(env, 1), or rely on SA_NODEFER). If it returns from
 * BUS_MCEERR_AO, the program goes on; from BUS_MCEERR_AR, or with no @fn, or for a SIGBUS
 * that is not in a daxfs mapping, the handler installed before runs, or the default
 * action (the process ends). Calling it again replaces @fn and @ctx; daxfs_close() drops
 * the handle's part. Up to 256 handles per process.
 * Return: 0; -EINVAL (no handle); -ENOSPC (too many handles); -errno from sigaction.
 */
int daxfs_sigbus_install(struct daxfs *fs, daxfs_sigbus_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif

#endif
