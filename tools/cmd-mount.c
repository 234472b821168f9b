// SPDX-License-Identifier: MIT
/*
 * daxfs mount / daxfs umount: the FUSE mount is served by daxfsd itself (docs/fuse.md,
 * DESIGN §12): 'daxfs mount' asks the running daxfsd for one; 'daxfs umount' asks it to
 * stop, or unmounts one with fusermount3.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <daxfs/daxfs.h>

#include "daxfs.h"

static const char mount_usage[] =
	"usage: daxfs mount [-o OPTIONS] MOUNTPOINT\n"
	"\n"
	"Ask the running daxfsd to serve its file system as a FUSE mount on the directory\n"
	"MOUNTPOINT, beside its socket, so that every program can use its files (root or\n"
	"the daemon's user only). -o, --options: comma-separated, over daxfsd's mount_cache\n"
	"and mount_options: cache=none|auto|always, attr_timeout=S, entry_timeout=S,\n"
	"writeback, ro, rw. daxfsd serves one mount at a time; 'daxfs umount MOUNTPOINT' or\n"
	"stopping daxfsd unmounts it. For a mount at every start, set 'mount = MOUNTPOINT'\n"
	"in daxfsd.conf (or start daxfsd with --mount MOUNTPOINT).\n";

/* mount_hint - what to do about @rc, after its text. */
static const char *mount_hint(int rc)
{
	switch (-rc) {
	case EBUSY:
		return "daxfsd serves one mount at a time and has one: 'daxfs umount' it first "
		       "(daxfsd's log names it)";
	case EPERM:
		return "only root or daxfsd's user may ask, and the kernel must allow daxfsd to "
		       "mount there (daxfsd's log says more)";
	case EINVAL:
		return "an option daxfsd does not know (daxfsd's log says which)";
	case EOPNOTSUPP:
	case EPROTO:
		return "this daxfsd cannot mount at run time";
	default:
		return NULL;
	}
}

int cmd_mount(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{"options", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *options = "", *hint;
	char real[PATH_MAX];
	struct daxfs *fs;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			options = optarg;
			break;
		case 'h':
			fputs(mount_usage, stdout);
			return EXIT_OK;
		default:
			fputs(mount_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fputs(mount_usage, stderr);
		return EXIT_USAGE;
	}
	/* daxfsd runs on this machine: it gets the directory's real, absolute path. */
	if (!realpath(argv[optind], real))
		return cli_syserr("mount", argv[optind], errno);
	rc = cli_connect("mount", ctx, &fs);
	if (rc != EXIT_OK)
		return rc;
	rc = daxfs_mount(fs, real, options);
	daxfs_close(fs);
	if (rc == 0)
		return EXIT_OK;
	hint = mount_hint(rc);
	if (hint)
		cli_err("mount", "%s: %s: %s", real, strerror(-rc), hint);
	else
		cli_fail("mount", real, rc);
	return EXIT_FAIL;
}

/*
 * ask_daemon - have daxfsd stop serving its mount on @path. Return: true when it did;
 * false when it could not be asked or serves no mount there (fusermount3's turn).
 */
static bool ask_daemon(const char *path, struct cli_ctx *ctx)
{
	char real[PATH_MAX];
	struct daxfs *fs;
	int rc;

	if (!realpath(path, real) || daxfs_open(&fs, ctx->socket_path))
		return false;
	rc = daxfs_umount(fs, real);
	daxfs_close(fs);
	return rc == 0;
}

static const char umount_usage[] =
	"usage: daxfs umount [-l] MOUNTPOINT\n"
	"\n"
	"Unmount a daxfs FUSE mount; daxfsd goes on serving its socket. The daxfsd the\n"
	"other commands talk to is asked first (root or its user); a mount it does not\n"
	"serve, or a caller it refuses, gets fusermount3 -u. -l, --lazy: with fusermount3,\n"
	"detach it now and finish when it is no longer busy (daxfsd always detaches).\n"
	"Stopping daxfsd unmounts its mount too.\n";

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
	if (ask_daemon(argv[optind], ctx))
		return EXIT_OK;
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
