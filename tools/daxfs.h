/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_TOOLS_DAXFS_H
#define DAXFS_TOOLS_DAXFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "progress.h"

struct daxfs;
struct json_object;

/* What every command gets besides its arguments. */
struct cli_ctx {
	const char *socket_path;     /* --socket, $DAXFS_SOCKET or the built-in path */
	bool json;		     /* --json given before the command */
	enum progress_mode progress; /* --progress, --no-progress, or by the terminal */
};

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv, struct cli_ctx *ctx);
	const char *summary;
};

/* Exit codes, as a shell user expects them. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,	 /* the operation failed (message on stderr) */
	EXIT_USAGE = 2,	 /* bad command line */
	EXIT_DAMAGE = 3, /* daxfs check found problems */
};

/* cmd-region.c: offline commands on a region */
int cmd_mkfs(int argc, char **argv, struct cli_ctx *ctx);
int cmd_check(int argc, char **argv, struct cli_ctx *ctx);
int cmd_devices(int argc, char **argv, struct cli_ctx *ctx);
/* cmd-media.c: bad blocks, scrub, fault injection */
int cmd_badblocks(int argc, char **argv, struct cli_ctx *ctx);
int cmd_scrub(int argc, char **argv, struct cli_ctx *ctx);
int cmd_inject(int argc, char **argv, struct cli_ctx *ctx);
/* cmd-stats.c: the daemon's metrics */
int cmd_stats(int argc, char **argv, struct cli_ctx *ctx);
/* cmd-status.c: the daemon's view of the region */
int cmd_status(int argc, char **argv, struct cli_ctx *ctx);
int cmd_df(int argc, char **argv, struct cli_ctx *ctx);
/* cmd-files.c: names and attributes */
int cmd_ls(int argc, char **argv, struct cli_ctx *ctx);
int cmd_stat(int argc, char **argv, struct cli_ctx *ctx);
int cmd_mkdir(int argc, char **argv, struct cli_ctx *ctx);
int cmd_rm(int argc, char **argv, struct cli_ctx *ctx);
int cmd_mv(int argc, char **argv, struct cli_ctx *ctx);
int cmd_truncate(int argc, char **argv, struct cli_ctx *ctx);
/* cmd-posix.c */
int cmd_ln(int argc, char **argv, struct cli_ctx *ctx);
int cmd_readlink(int argc, char **argv, struct cli_ctx *ctx);
int cmd_mknod(int argc, char **argv, struct cli_ctx *ctx);
int cmd_mkfifo(int argc, char **argv, struct cli_ctx *ctx);
int cmd_chmod(int argc, char **argv, struct cli_ctx *ctx);
int cmd_chown(int argc, char **argv, struct cli_ctx *ctx);
int cmd_touch(int argc, char **argv, struct cli_ctx *ctx);
int cmd_xattr(int argc, char **argv, struct cli_ctx *ctx);
/* cmd-copy.c: file contents in and out */
int cmd_put(int argc, char **argv, struct cli_ctx *ctx);
int cmd_get(int argc, char **argv, struct cli_ctx *ctx);
int cmd_cat(int argc, char **argv, struct cli_ctx *ctx);
/* cmd-mount.c: the FUSE frontend (docs/fuse.md) */
int cmd_mount(int argc, char **argv, struct cli_ctx *ctx);
int cmd_umount(int argc, char **argv, struct cli_ctx *ctx);
int cmd_replica(int argc, char **argv, struct cli_ctx *ctx);

/* cli_replica_state - "none", "in sync", "resyncing", "degraded" (status, replica). */
enum daxfs_replica_state;
const char *cli_replica_state(enum daxfs_replica_state s);

/*
 * cli_json_opts - parse a command's only options, --json (sets @ctx->json) and --help, and
 * require exactly @nargs arguments after them (at argv[optind]; @nargs < 0: any number).
 * Return: -1 to go on, or the exit status to return (--help, bad usage).
 */
int cli_json_opts(int argc, char **argv, struct cli_ctx *ctx, const char *usage, int nargs);

/* cli_err - "daxfs CMD: message" on stderr. */
void cli_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- remote.c: what the online commands share --- */

/* A path inside daxfs: at most this many bytes with the NUL (docs/protocol.md). */
#define CLI_PATH_MAX 4096
/*
 * Copy I/O moves this much per call: the session's whole shared buffer (WIRE_SHM_SIZE), so
 * that a put is one request, one log commit and one write-back per 4 MiB, and a new 2 MiB
 * chunk is written whole (never zeroed first).
 */
#define CLI_CHUNK (4 * 1024 * 1024)

/*
 * cli_connect - open a session with the daemon at ctx->socket_path.
 * Return: EXIT_OK and *@fs, or EXIT_FAIL after "daxfs CMD: cannot connect to daxfsd at
 *         PATH: reason" on stderr.
 */
int cli_connect(const char *cmd, const struct cli_ctx *ctx, struct daxfs **fs);

/*
 * cli_fail - report a failed libdaxfs call about @what: "daxfs CMD: WHAT: strerror(-@rc)",
 * followed by " (detail)" when daxfs_errormsg() is more than a restatement of the errno
 * text (it does not contain it).
 * Return: EXIT_FAIL.
 */
int cli_fail(const char *cmd, const char *what, int rc);

/* cli_syserr - report a failed local system call about @what (errno @err). Return: EXIT_FAIL. */
int cli_syserr(const char *cmd, const char *what, int err);

/*
 * remote_path - turn the user's @in into the absolute path the daemon expects: a leading
 * '/' added, repeated and trailing '/' and "." dropped, ".." resolved by name (daxfs has
 * no symbolic links).
 * Return: 0; -ENOENT for "", -ENAMETOOLONG when the result does not fit @len.
 */
int remote_path(const char *in, char *out, size_t len);

/* remote_join - @dir "/" @name into @out. Return: 0 or -ENAMETOOLONG. */
int remote_join(const char *dir, const char *name, char *out, size_t len);

/* path_basename - the last component of @path, trailing '/' ignored, into @out. */
const char *path_basename(const char *path, char *out, size_t len);

/* ends_with_slash - whether the user wrote @path as a directory ("dir/"). */
bool ends_with_slash(const char *path);

/* write_all - write(2) until done. Return: 0 or a negative errno. */
int write_all(int fd, const void *buf, size_t len);

/* mode_string - ls -l form of @mode ("drwxr-xr-x") into @out[11]. */
void mode_string(uint32_t mode, char out[11]);

/* cli_print_json - @j on stdout (indented when @pretty, else one line), then put it. */
void cli_print_json(struct json_object *j, bool pretty);

/* current_umask - the process umask, unchanged. */
uint32_t current_umask(void);

#endif
