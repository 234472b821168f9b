/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_TOOLS_DAXFS_H
#define DAXFS_TOOLS_DAXFS_H

#include <stdbool.h>
#include <stdio.h>

/* What every command gets besides its arguments. */
struct cli_ctx {
	const char *socket_path; /* --socket, $DAXFS_SOCKET or the built-in path */
	bool json;		 /* --json given before the command */
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

int cmd_mkfs(int argc, char **argv, struct cli_ctx *ctx);
int cmd_check(int argc, char **argv, struct cli_ctx *ctx);

/* cli_err - "daxfs CMD: message" on stderr. */
void cli_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
