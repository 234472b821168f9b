// SPDX-License-Identifier: MIT
/*
 * daxfs - the command line: a table of commands, each with its own --help.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daxfs.h"
#include "log.h"
#include "rcu.h"
#include "util.h"

static const struct cli_cmd commands[] = {
	{"status", cmd_status, "show the daemon, its region and this user's map trust"},
	{"df", cmd_df, "show the region's space: size, used, free, quarantined"},
	{"ls", cmd_ls, "list a directory"},
	{"stat", cmd_stat, "show the attributes of a file or directory"},
	{"mkdir", cmd_mkdir, "create directories"},
	{"put", cmd_put, "copy a local file in"},
	{"get", cmd_get, "copy a file out"},
	{"cat", cmd_cat, "write files to standard output"},
	{"rm", cmd_rm, "remove files (and directories with -r)"},
	{"mv", cmd_mv, "rename or move a file or directory"},
	{"truncate", cmd_truncate, "set the size of a file"},
	{"ln", cmd_ln, "make a hard link, or with -s a symbolic link"},
	{"readlink", cmd_readlink, "print a symbolic link's target"},
	{"mknod", cmd_mknod, "make a fifo, socket or device"},
	{"mkfifo", cmd_mkfifo, "make fifos"},
	{"chmod", cmd_chmod, "set permission bits"},
	{"chown", cmd_chown, "set the owner and group"},
	{"touch", cmd_touch, "set times, creating empty files"},
	{"xattr", cmd_xattr, "get, set, list or remove extended attributes"},
	{"mkfs", cmd_mkfs, "format a region (offline)"},
	{"check", cmd_check, "verify an unmounted region (offline)"},
	{"devices", cmd_devices, "list device-DAX devices and fsdax namespaces"},
	{"badblocks", cmd_badblocks, "list the bad blocks and the files they hit"},
	{"scrub", cmd_scrub, "read every block in use, catching media errors"},
	{"replica", cmd_replica, "add, remove or show the region's replica"},
	{"stats", cmd_stats, "show the daemon's metrics: requests, latency, sessions, poison"},
	{"inject", cmd_inject, "fault injection (a daemon run with --fault-injection)"},
	{"mount", cmd_mount, "how daxfsd mounts the file system with FUSE"},
	{"umount", cmd_umount, "unmount a daxfs FUSE mount"},
};

void cli_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "daxfs %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_json_opts(int argc, char **argv, struct cli_ctx *ctx, const char *usage, int nargs)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			ctx->json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return EXIT_OK;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (nargs >= 0 && argc - optind != nargs) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	return -1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: daxfs [--socket PATH] [--json] [--progress | --no-progress] COMMAND "
		   "[ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"\nThe online commands talk to daxfsd at --socket PATH, else $DAXFS_SOCKET,\n"
		"else %s. --json gives machine output (status, df, ls, stat, stats, ...).\n"
		"Long commands (put, get, scrub, check, mkfs) show their progress on stderr when\n"
		"it is a terminal and they take over a second; --progress shows it always (one\n"
		"line a second when stderr is not a terminal), --no-progress never.\n"
		"'daxfs COMMAND --help' describes a command.\n",
		DAXFS_SOCKET_PATH);
}

/* Engine messages go to stderr as "daxfs: message", without journald prefixes. */
static void cli_log(enum log_level level, const char *msg, void *ctx)
{
	(void)level;
	(void)ctx;
	fprintf(stderr, "daxfs: %s\n", msg);
}

int main(int argc, char **argv)
{
	struct cli_ctx ctx = {0};
	char prog[32];
	int i, rc;

	log_set_sink(cli_log, NULL);
	log_set_level(LOG_LVL_WARNING);
	log_init_from_env();
	ctx.socket_path = getenv("DAXFS_SOCKET");
	if (!ctx.socket_path || !ctx.socket_path[0])
		ctx.socket_path = DAXFS_SOCKET_PATH;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--socket") == 0) {
			if (i + 1 == argc) {
				fprintf(stderr, "daxfs: --socket needs a PATH\n");
				return EXIT_USAGE;
			}
			ctx.socket_path = argv[++i];
		} else if (strncmp(argv[i], "--socket=", 9) == 0) {
			ctx.socket_path = argv[i] + 9;
		} else if (strcmp(argv[i], "--json") == 0) {
			ctx.json = true;
		} else if (strcmp(argv[i], "--progress") == 0) {
			ctx.progress = PROGRESS_ALWAYS;
		} else if (strcmp(argv[i], "--no-progress") == 0) {
			ctx.progress = PROGRESS_NEVER;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("daxfs %s\n", DAXFS_VERSION);
			return EXIT_OK;
		} else {
			fprintf(stderr, "daxfs: unknown option %s\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i == argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t k = 0; k < ARRAY_SIZE(commands); k++) {
		if (strcmp(argv[i], commands[k].name) != 0)
			continue;
		/* getopt_long() names the command in its messages: "daxfs ls: invalid option". */
		snprintf(prog, sizeof(prog), "daxfs %s", commands[k].name);
		argv[i] = prog;
		rcu_thread_online();
		rc = commands[k].fn(argc - i, argv + i, &ctx);
		rcu_thread_offline();
		if (fflush(stdout) != 0 || ferror(stdout)) {
			fprintf(stderr, "daxfs: writing output: %s\n", strerror(errno));
			return EXIT_FAIL;
		}
		return rc;
	}
	fprintf(stderr, "daxfs: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return EXIT_USAGE;
}
