// SPDX-License-Identifier: MIT
/*
 * daxfs mount / daxfs umount: the FUSE mount is served by daxfsd itself (docs/fuse.md,
 * DESIGN §12): 'daxfs mount' says how to get one; 'daxfs umount' unmounts one.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daxfs.h"

static const char mount_usage[] =
	"usage: daxfs mount MOUNTPOINT\n"
	"\n"
	"daxfsd serves the daxfs file system as a FUSE mount itself, beside its socket, so\n"
	"that every program can use its files with no second hop: set 'mount = MOUNTPOINT'\n"
	"(and mount_cache = none|auto|always) in daxfsd.conf, or start daxfsd with\n"
	"--mount MOUNTPOINT [--mount-cache MODE] [--mount-options OPTS]. Stopping daxfsd\n"
	"unmounts it. Asking a running daxfsd for a mount is not built yet.\n";

int cmd_mount(int argc, char **argv, struct cli_ctx *ctx)
{
	(void)ctx;
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(mount_usage, stdout);
		return EXIT_OK;
	}
	fputs("daxfs mount: daxfsd mounts the file system itself now ('mount = MOUNTPOINT' in "
	      "daxfsd.conf, or daxfsd --mount MOUNTPOINT); see 'daxfs mount --help'\n",
	      stderr);
	return EXIT_USAGE;
}

static const char umount_usage[] =
	"usage: daxfs umount [-l] MOUNTPOINT\n"
	"\n"
	"Unmount a daxfs FUSE mount (fusermount3 -u); daxfsd goes on serving its socket.\n"
	"-l, --lazy: detach it now, finish when it is no longer busy. Stopping daxfsd\n"
	"unmounts it too.\n";

int cmd_umount(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{"lazy", no_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char *fargv[5] = {"fusermount3", "-u", NULL, NULL, NULL};
	bool lazy = false;
	int c, status;
	pid_t pid;

	optind = 1;
	while ((c = getopt_long(argc, argv, "lh", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			lazy = true;
			break;
		case 'h':
			fputs(umount_usage, stdout);
			return EXIT_OK;
		default:
			fputs(umount_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fputs(umount_usage, stderr);
		return EXIT_USAGE;
	}
	fargv[2] = lazy ? "-z" : argv[optind];
	fargv[3] = lazy ? argv[optind] : NULL;
	fflush(stdout);
	/* fusermount3 is setuid root, checks that the caller may unmount, and updates mtab. */
	pid = fork();
	if (pid < 0)
		return cli_syserr("umount", "fork", errno);
	if (pid == 0) {
		execvp(fargv[0], fargv);
		fprintf(stderr, "daxfs umount: cannot run fusermount3: %s\n", strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return cli_syserr("umount", "waitpid", errno);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return EXIT_OK;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return EXIT_FAIL;
	/* Root without fusermount3's blessing (no mtab entry): the system call itself. */
	if (geteuid() == 0 && umount2(argv[optind], lazy ? MNT_DETACH : 0) == 0)
		return EXIT_OK;
	cli_err("umount", "%s: not unmounted (fusermount3 said why above)", argv[optind]);
	return EXIT_FAIL;
}
