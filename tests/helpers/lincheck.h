/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_TESTS_LINCHECK_H
#define DAXFS_TESTS_LINCHECK_H

/*
 * lincheck - is a concurrent history of daxfs requests linearizable? (issue 13)
 *
 * A history is what some clients asked a daxfsd and what it answered: one struct lc_op per
 * request, with the times (CLOCK_MONOTONIC) the client sent it and got the reply. It is
 * checked against a sequential model of the file system (lincheck-model.c): inodes with a
 * type (directory, file, symbolic link), permission bits, size and contents (a symbolic
 * link's are its target); directory entries, several of which may name one file (hard
 * links). A history is linearizable when its requests can be put in one order that
 * respects real time (a request answered before another was sent comes first) in which
 * every reply is the one the model gives, starting from the initial state and, when given,
 * ending in the final state (what a quiescent scan of the file system found afterwards).
 *
 * A request is not one atomic step inside daxfsd, and the model says so: the daemon walks a
 * path one lookup at a time (engine/walk.c ns_walk(), following the symbolic links it
 * meets), reads the attributes of what a lookup found after the lookup, checks a request's
 * target before it takes the lock that changes it, lists a directory one entry at a time,
 * and copies a read without the inode lock. Each such part is a step of its own that
 * happens at some point between the request's sending and its reply, in program order;
 * only the step that changes the file system (under the locks of the engine) is one atomic
 * step. The search (lincheck.c) is Wing and Gong's, over those changing steps, with the
 * read-only steps kept as the set of places each request's program can have reached (so
 * they never multiply the search), and the states it visited remembered. lincheck.c's
 * header says more.
 *
 * Crash histories: the requests that got no reply (the daemon died) have ret LC_PENDING.
 * Each one may have taken effect or not; the final state is then the recovered one, and a
 * write in flight may have left any part of its bytes.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LC_NAMES 4	      /* path components are the names "a", "b", "c", "d" */
#define LC_DEPTH_MAX 4	      /* components in a path */
#define LC_DATA_MAX 64	      /* bytes a file may hold */
#define LC_INODES_MAX 64      /* inodes of one state, the root included */
#define LC_ENTS_MAX 8	      /* entries one readdir may list */
#define LC_ROOT 1	      /* the root's inode number (NS_ROOT_INO) */
#define LC_PENDING UINT64_MAX /* lc_op.ret of a request that got no reply */
#define LC_LOOPS_MAX 40	      /* symbolic links one walk follows; one more is ELOOP */

enum lc_kind {
	LC_STAT,     /* daxfs_stat(path) */
	LC_GETATTR,  /* daxfs_getattr(ino) */
	LC_CREATE,   /* daxfs_create(path, mode, flags) */
	LC_MKDIR,    /* daxfs_mkdir(path, mode) */
	LC_UNLINK,   /* daxfs_unlink(path) */
	LC_RMDIR,    /* daxfs_rmdir(path) */
	LC_RENAME,   /* daxfs_rename(path, path2, flags) */
	LC_CHMOD,    /* daxfs_setattr(ino, DAXFS_SET_MODE, mode) */
	LC_TRUNCATE, /* daxfs_setattr(ino, DAXFS_SET_SIZE, size) */
	LC_WRITE,    /* daxfs_pwrite(ino, data, len, off) */
	LC_READ,     /* daxfs_pread(ino, len, off) */
	LC_READDIR,  /* daxfs_readdir(path) */
	LC_LSTAT,    /* daxfs_statx(path, DAXFS_STAT_NOFOLLOW) */
	LC_READLINK, /* daxfs_readlink(path) */
	LC_LINK,     /* daxfs_link(path, path2) */
	LC_SYMLINK,  /* daxfs_symlink(target, path) */
	LC_KINDS,
};

/* A path: name[i] is the index of its i-th component in "abcd". depth 0 is "/". */
struct lc_path {
	uint8_t depth;
	uint8_t name[LC_DEPTH_MAX];
};

/* What a reply says of a file: only what the model decides (no owner, no times). */
struct lc_attr {
	uint64_t ino;
	uint32_t mode; /* S_IFDIR, S_IFREG or S_IFLNK | permission bits */
	uint32_t nlink;
	uint64_t size;
};

struct lc_dent {
	uint64_t ino;
	uint8_t name;
	bool isdir, islink;
};

#define LC_CREATE_EXCL 0x1	/* DAXFS_CREATE_EXCL */
#define LC_RENAME_NOREPLACE 0x1 /* DAXFS_RENAME_NOREPLACE */
#define LC_RENAME_EXCHANGE 0x2	/* DAXFS_RENAME_EXCHANGE */

/* One request and its reply. */
struct lc_op {
	uint64_t call, ret; /* ns; ret is LC_PENDING without a reply */
	unsigned client;
	enum lc_kind kind;
	/* arguments */
	struct lc_path path, path2; /* path2: the new name of a rename or a link */
	unsigned flags;		    /* LC_CREATE_EXCL; LC_RENAME_NOREPLACE, LC_RENAME_EXCHANGE */
	uint32_t mode;		    /* create, mkdir, chmod: permission bits */
	uint64_t ino;		    /* getattr, chmod, truncate, write, read */
	uint32_t off, len;	    /* write, read; truncate: the size is in len; symlink: len */
	uint8_t data[LC_DATA_MAX];  /* write; symlink: the target, as given ("/a", "b") */
	/* reply */
	int err;		    /* 0 or an errno */
	struct lc_attr attr;	    /* stat, getattr, create, mkdir, chmod, truncate, lstat,
				       link, symlink */
	uint32_t count;		    /* read, write, readlink: bytes */
	uint8_t rdata[LC_DATA_MAX]; /* read; readlink: the target */
	unsigned nents;		    /* readdir */
	struct lc_dent ents[LC_ENTS_MAX];
};

/*
 * A state of the file system. Inodes are sorted by number; entries by (dir, name). nlink
 * is what a scan observed (the model derives it: the entries that name a file or a
 * symbolic link, 2 + subdirectories for a directory). Readdir's order is not part of it:
 * POSIX leaves it open.
 *
 * Symbolic links the model follows have targets of 1 to LC_DEPTH_MAX names, relative ("a",
 * "a/b": from the link's directory) or absolute ("/a"); anything else outgrows it (the
 * check returns -1).
 */
struct lc_inode {
	uint64_t ino;
	bool isdir, islink; /* neither: a regular file */
	uint16_t perm;	    /* a symbolic link's are 0777 */
	uint32_t size;	    /* a symbolic link: its target's length */
	uint32_t nlink;
	uint8_t data[LC_DATA_MAX]; /* zeros past size; a symbolic link: its target */
};

struct lc_dirent {
	uint64_t dir, ino;
	uint8_t name;
};

struct lc_state {
	unsigned nin, nde;
	struct lc_inode in[LC_INODES_MAX];
	struct lc_dirent de[LC_INODES_MAX];
};

/* --- states (lincheck-model.c) --- */

/* lc_state_init - a file system with only its root directory (permission bits @perm). */
void lc_state_init(struct lc_state *s, uint16_t perm);

/*
 * lc_state_add - add inode @in as entry @name of directory @dir. When @in's number is
 * there already, as a file or symbolic link with the same type, permissions, size and
 * bytes, only the entry is added: another name for it (a hard link).
 * Return: 0; -1 when it does not fit, @dir is not a directory, the name is taken, or the
 *         inode number is taken by another inode or a directory.
 */
int lc_state_add(struct lc_state *s, uint64_t dir, uint8_t name, const struct lc_inode *in);

/* lc_state_find - the inode @ino of @s, or NULL. */
const struct lc_inode *lc_state_find(const struct lc_state *s, uint64_t ino);

/*
 * lc_state_check - is @s a tree: every directory but the root named by exactly one entry,
 * every file and symbolic link by at least one, all reached from the root, and every nlink
 * what the entries say? On failure, says why in @why.
 */
bool lc_state_check(const struct lc_state *s, char *why, size_t len);

/* lc_state_print - the tree of @s, one line per inode (for reports). */
void lc_state_print(FILE *f, const struct lc_state *s, const char *indent);

/* lc_name - "a" for 0, ... */
const char *lc_name(uint8_t name);

/* lc_path_str - "/a/b" into @buf. */
const char *lc_path_str(const struct lc_path *p, char *buf, size_t len);

/* lc_op_print - one line: client, times (µs after @t0), the request and its reply. */
void lc_op_print(FILE *f, const struct lc_op *op, uint64_t t0);

/* --- checking (lincheck.c) --- */

struct lc_history {
	const struct lc_state *init;  /* the state before the first request */
	const struct lc_state *final; /* after the last (a scan), or NULL: not checked */
	const struct lc_op *ops;      /* any order */
	size_t nops;
	bool crash; /* requests with ret LC_PENDING may or may not have happened */
};

struct lc_stats {
	uint64_t nodes;	     /* configurations the search visited */
	uint64_t effects;    /* changing steps it tried */
	unsigned max_run;    /* requests running at once, at most */
	unsigned max_places; /* places one request's program stood in at once, at most */
};

/*
 * lc_check - is @h linearizable?
 * Return: 1 yes, 0 no, -1 the checker's own limits were exceeded (a state or a request's
 *         program larger than its tables: a bug of the workload, never a verdict).
 *         @st (may be NULL) gets what the search did.
 */
int lc_check(const struct lc_history *h, struct lc_stats *st);

/*
 * lc_report - explain why @h (for which lc_check returned 0) is not linearizable: the
 * smallest sub-history found that still is not (observing requests and failed ones are
 * left out one by one while that holds), each request on one line, the furthest the
 * search got, and the state there. @t0 is the time printed as 0.
 */
void lc_report(FILE *f, const struct lc_history *h, uint64_t t0);

#endif
