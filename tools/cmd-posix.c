// SPDX-License-Identifier: MIT
/*
 * The POSIX commands of a format-2 file system: ln [-s], readlink, mknod, mkfifo, chmod,
 * chown, touch, and xattr get|set|list|rm. Each says what failed and why, as the
 * coreutils it mirrors do.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <daxfs/daxfs.h>

#include "daxfs.h"
#include "util.h"

/* simple_opts - only --help (and -h): Return: -1 to go on; an exit status to return. */
static int simple_opts(int argc, char **argv, const char *usage, const char *shortopts,
		       int (*opt)(int c, void *arg), void *arg)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			return EXIT_OK;
		}
		if (c == '?' || !opt || opt(c, arg)) {
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	return -1;
}

/* connect_path - the daemon, and @arg as an absolute path in @path. */
static int connect_path(const char *cmd, struct cli_ctx *ctx, const char *arg, char *path,
			struct daxfs **fs)
{
	int rc = remote_path(arg, path, CLI_PATH_MAX);

	if (rc)
		return cli_syserr(cmd, arg, -rc);
	return cli_connect(cmd, ctx, fs);
}

/* --- ln --- */

static const char ln_usage[] =
	"usage: daxfs ln [-s] TARGET LINK\n"
	"\n"
	"Make LINK another name (a hard link) of the file TARGET, or with -s a\n"
	"symbolic link whose target is TARGET, kept as given: a relative one is\n"
	"resolved from LINK's directory, an absolute one from the root of the\n"
	"daemon's file system.\n";

static int ln_opt(int c, void *arg)
{
	if (c != 's')
		return 1;
	*(bool *)arg = true;
	return 0;
}

int cmd_ln(int argc, char **argv, struct cli_ctx *ctx)
{
	char target[CLI_PATH_MAX], link[CLI_PATH_MAX];
	bool symbolic = false;
	struct daxfs *fs;
	int rc;

	rc = simple_opts(argc, argv, ln_usage, "sh", ln_opt, &symbolic);
	if (rc >= 0)
		return rc;
	if (argc - optind != 2) {
		fputs(ln_usage, stderr);
		return EXIT_USAGE;
	}
	rc = connect_path("ln", ctx, argv[optind + 1], link, &fs);
	if (rc)
		return rc;
	if (symbolic) {
		rc = daxfs_symlink(fs, argv[optind], link, NULL);
	} else {
		rc = remote_path(argv[optind], target, sizeof(target));
		if (rc == 0)
			rc = daxfs_link(fs, target, link, NULL);
	}
	daxfs_close(fs);
	if (rc == -EEXIST)
		cli_err("ln", "%s: exists", argv[optind + 1]);
	else if (rc)
		return cli_fail("ln", argv[optind + (symbolic ? 1 : 0)], rc);
	return rc ? EXIT_FAIL : EXIT_OK;
}

/* --- readlink --- */

static const char readlink_usage[] = "usage: daxfs readlink LINK\n"
				     "\n"
				     "Print the target of the symbolic link LINK.\n";

int cmd_readlink(int argc, char **argv, struct cli_ctx *ctx)
{
	char path[CLI_PATH_MAX], buf[4096];
	struct daxfs *fs;
	ssize_t n;
	int rc;

	rc = simple_opts(argc, argv, readlink_usage, "h", NULL, NULL);
	if (rc >= 0)
		return rc;
	if (argc - optind != 1) {
		fputs(readlink_usage, stderr);
		return EXIT_USAGE;
	}
	rc = connect_path("readlink", ctx, argv[optind], path, &fs);
	if (rc)
		return rc;
	n = daxfs_readlink(fs, path, buf, sizeof(buf));
	daxfs_close(fs);
	if (n == -EINVAL) {
		cli_err("readlink", "%s: not a symbolic link", argv[optind]);
		return EXIT_FAIL;
	}
	if (n < 0)
		return cli_fail("readlink", argv[optind], (int)n);
	printf("%.*s\n", (int)n, buf);
	return EXIT_OK;
}

/* --- mknod, mkfifo --- */

/* parse_mode - an octal mode of at most 07777. Return: 0; -1. */
static int parse_mode(const char *s, uint32_t *mode)
{
	char *end;
	unsigned long v = strtoul(s, &end, 8);

	if (!*s || *end || v > 07777)
		return -1;
	*mode = (uint32_t)v;
	return 0;
}

static int mode_opt(int c, void *arg)
{
	if (c != 'm' || parse_mode(optarg, arg)) {
		if (c == 'm')
			cli_err("mknod", "bad mode '%s' (octal, at most 7777)", optarg);
		return 1;
	}
	return 0;
}

static const char mknod_usage[] =
	"usage: daxfs mknod [-m MODE] NAME TYPE [MAJOR MINOR]\n"
	"\n"
	"Make a special file NAME: TYPE p (a fifo), s (a socket), or c / b (a character / block\n"
	"device, root only, with its MAJOR and MINOR numbers). MODE is octal (default 666, less\n"
	"the umask).\n";

static int make_special(const char *cmd, struct cli_ctx *ctx, const char *arg, uint32_t mode,
			uint64_t rdev)
{
	char path[CLI_PATH_MAX];
	struct daxfs *fs;
	int rc;

	rc = connect_path(cmd, ctx, arg, path, &fs);
	if (rc)
		return rc;
	rc = daxfs_mknod(fs, path, mode, rdev, NULL);
	daxfs_close(fs);
	if (rc == -EEXIST) {
		cli_err(cmd, "%s: exists", arg);
		return EXIT_FAIL;
	}
	return rc ? cli_fail(cmd, arg, rc) : EXIT_OK;
}

int cmd_mknod(int argc, char **argv, struct cli_ctx *ctx)
{
	uint32_t mode = 0666 & ~current_umask(), type;
	unsigned long maj = 0, min = 0;
	const char *t;
	char *end;
	int rc;

	rc = simple_opts(argc, argv, mknod_usage, "m:h", mode_opt, &mode);
	if (rc >= 0)
		return rc;
	if (argc - optind < 2) {
		fputs(mknod_usage, stderr);
		return EXIT_USAGE;
	}
	t = argv[optind + 1];
	type = strcmp(t, "p") == 0   ? S_IFIFO
	       : strcmp(t, "s") == 0 ? S_IFSOCK
	       : strcmp(t, "c") == 0 ? S_IFCHR
	       : strcmp(t, "u") == 0 ? S_IFCHR
	       : strcmp(t, "b") == 0 ? S_IFBLK
				     : 0;
	if (!type) {
		cli_err("mknod", "unknown type '%s' (p, s, c or b)", t);
		return EXIT_USAGE;
	}
	if ((type == S_IFCHR || type == S_IFBLK) != (argc - optind == 4)) {
		cli_err("mknod", "%s",
			type == S_IFCHR || type == S_IFBLK
				? "a device needs its MAJOR and MINOR numbers"
				: "only devices take MAJOR and MINOR numbers");
		return EXIT_USAGE;
	}
	if (argc - optind == 4) {
		maj = strtoul(argv[optind + 2], &end, 0);
		if (*end || !*argv[optind + 2] || maj > 0xfffff) {
			cli_err("mknod", "bad major number '%s'", argv[optind + 2]);
			return EXIT_USAGE;
		}
		min = strtoul(argv[optind + 3], &end, 0);
		if (*end || !*argv[optind + 3] || min > 0xfffff) {
			cli_err("mknod", "bad minor number '%s'", argv[optind + 3]);
			return EXIT_USAGE;
		}
	}
	return make_special("mknod", ctx, argv[optind], type | mode,
			    makedev((unsigned)maj, (unsigned)min));
}

static const char mkfifo_usage[] = "usage: daxfs mkfifo [-m MODE] NAME...\n"
				   "\n"
				   "Make fifos (named pipes). MODE is octal (default 666, less the "
				   "umask).\n";

int cmd_mkfifo(int argc, char **argv, struct cli_ctx *ctx)
{
	uint32_t mode = 0666 & ~current_umask();
	int rc, ret = EXIT_OK;

	rc = simple_opts(argc, argv, mkfifo_usage, "m:h", mode_opt, &mode);
	if (rc >= 0)
		return rc;
	if (optind == argc) {
		fputs(mkfifo_usage, stderr);
		return EXIT_USAGE;
	}
	for (int i = optind; i < argc; i++) {
		rc = make_special("mkfifo", ctx, argv[i], S_IFIFO | mode, 0);
		if (rc)
			ret = rc;
	}
	return ret;
}

/* --- chmod, chown, touch: setattr of a path --- */

/*
 * set_path - setattr of @arg (symbolic links followed, as chmod and chown do without -h).
 * Return: an exit status (failures said).
 */
static int set_path(const char *cmd, struct cli_ctx *ctx, const char *arg, unsigned valid,
		    const struct daxfs_stat *to)
{
	char path[CLI_PATH_MAX];
	struct daxfs_stat st;
	struct daxfs *fs;
	int rc;

	rc = connect_path(cmd, ctx, arg, path, &fs);
	if (rc)
		return rc;
	rc = daxfs_stat(fs, path, &st);
	if (rc == 0)
		rc = daxfs_setattr(fs, st.ino, valid, to, NULL);
	daxfs_close(fs);
	return rc ? cli_fail(cmd, arg, rc) : EXIT_OK;
}

static const char chmod_usage[] =
	"usage: daxfs chmod MODE PATH...\n"
	"\n"
	"Set the permission bits of each PATH to MODE (octal, 0..7777).\n";

int cmd_chmod(int argc, char **argv, struct cli_ctx *ctx)
{
	struct daxfs_stat to = {0};
	int rc, ret = EXIT_OK;

	rc = simple_opts(argc, argv, chmod_usage, "h", NULL, NULL);
	if (rc >= 0)
		return rc;
	if (argc - optind < 2) {
		fputs(chmod_usage, stderr);
		return EXIT_USAGE;
	}
	if (parse_mode(argv[optind], &to.mode)) {
		cli_err("chmod", "bad mode '%s' (octal, 0..7777)", argv[optind]);
		return EXIT_USAGE;
	}
	for (int i = optind + 1; i < argc; i++) {
		rc = set_path("chmod", ctx, argv[i], DAXFS_SET_MODE, &to);
		if (rc)
			ret = rc;
	}
	return ret;
}

/* owner_id - a user (@group false) or group name, or a number. Return: 0; -1. */
static int owner_id(const char *s, bool group, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!*s)
		return -1;
	v = strtoul(s, &end, 10);
	if (!*end && v <= UINT32_MAX - 1) {
		*out = (uint32_t)v;
		return 0;
	}
	if (group) {
		struct group *g = getgrnam(s);

		if (!g)
			return -1;
		*out = g->gr_gid;
	} else {
		struct passwd *p = getpwnam(s);

		if (!p)
			return -1;
		*out = p->pw_uid;
	}
	return 0;
}

static const char chown_usage[] =
	"usage: daxfs chown OWNER[:GROUP] PATH...\n"
	"       daxfs chown :GROUP PATH...\n"
	"\n"
	"Give each PATH to the user OWNER and/or the group GROUP (names or\n"
	"numbers). Only root gives a file away; an owner may pick one of its\n"
	"own groups.\n";

int cmd_chown(int argc, char **argv, struct cli_ctx *ctx)
{
	struct daxfs_stat to = {0};
	unsigned valid = 0;
	char *spec, *colon;
	int rc, ret = EXIT_OK;

	rc = simple_opts(argc, argv, chown_usage, "h", NULL, NULL);
	if (rc >= 0)
		return rc;
	if (argc - optind < 2) {
		fputs(chown_usage, stderr);
		return EXIT_USAGE;
	}
	spec = argv[optind];
	colon = strchr(spec, ':');
	if (colon)
		*colon = '\0';
	if (*spec) {
		if (owner_id(spec, false, &to.uid)) {
			cli_err("chown", "no user '%s'", spec);
			return EXIT_USAGE;
		}
		valid |= DAXFS_SET_UID;
	}
	if (colon && colon[1]) {
		if (owner_id(colon + 1, true, &to.gid)) {
			cli_err("chown", "no group '%s'", colon + 1);
			return EXIT_USAGE;
		}
		valid |= DAXFS_SET_GID;
	}
	if (!valid) {
		cli_err("chown", "neither an owner nor a group in '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	for (int i = optind + 1; i < argc; i++) {
		rc = set_path("chown", ctx, argv[i], valid, &to);
		if (rc)
			ret = rc;
	}
	return ret;
}

static const char touch_usage[] =
	"usage: daxfs touch [-c] [-a | -m] [-d SECONDS[.NANOS]] PATH...\n"
	"\n"
	"Set the access and modification times of each PATH to now (anyone who may write it)\n"
	"or, with -d, to SECONDS since the epoch (its owner only); create an empty file where\n"
	"there is none, unless -c. -a / -m: only the access / modification time.\n";

struct touch_opts {
	bool nocreate, atime_only, mtime_only, at;
	int64_t ns;
};

static int touch_opt(int c, void *arg)
{
	struct touch_opts *o = arg;
	char *end;
	double v;

	switch (c) {
	case 'c':
		o->nocreate = true;
		return 0;
	case 'a':
		o->atime_only = true;
		return 0;
	case 'm':
		o->mtime_only = true;
		return 0;
	case 'd':
		v = strtod(optarg, &end);
		if (*end || !*optarg) {
			cli_err("touch", "bad time '%s' (seconds since the epoch)", optarg);
			return 1;
		}
		o->at = true;
		o->ns = (int64_t)(v * 1e9);
		return 0;
	default:
		return 1;
	}
}

int cmd_touch(int argc, char **argv, struct cli_ctx *ctx)
{
	struct touch_opts o = {0};
	char path[CLI_PATH_MAX];
	struct daxfs_stat to = {0}, st;
	unsigned valid = 0;
	struct daxfs *fs;
	int rc, ret = EXIT_OK;

	rc = simple_opts(argc, argv, touch_usage, "camd:h", touch_opt, &o);
	if (rc >= 0)
		return rc;
	if (optind == argc || (o.atime_only && o.mtime_only)) {
		fputs(touch_usage, stderr);
		return EXIT_USAGE;
	}
	if (!o.mtime_only)
		valid |= o.at ? DAXFS_SET_ATIME : DAXFS_SET_ATIME_NOW;
	if (!o.atime_only)
		valid |= o.at ? DAXFS_SET_MTIME : DAXFS_SET_MTIME_NOW;
	to.atime_ns = to.mtime_ns = o.ns;
	for (int i = optind; i < argc; i++) {
		rc = connect_path("touch", ctx, argv[i], path, &fs);
		if (rc) {
			ret = rc;
			continue;
		}
		rc = daxfs_stat(fs, path, &st);
		if (rc == -ENOENT && !o.nocreate)
			rc = daxfs_create(fs, path, 0666 & ~current_umask(), 0, &st);
		else if (rc == -ENOENT)
			rc = 0, st.ino = 0;
		if (rc == 0 && st.ino)
			rc = daxfs_setattr(fs, st.ino, valid, &to, NULL);
		daxfs_close(fs);
		if (rc)
			ret = cli_fail("touch", argv[i], rc);
	}
	return ret;
}

/* --- xattr --- */

static const char xattr_usage[] =
	"usage: daxfs xattr get PATH NAME\n"
	"       daxfs xattr set [--create | --replace] PATH NAME VALUE\n"
	"       daxfs xattr list PATH\n"
	"       daxfs xattr rm PATH NAME\n"
	"\n"
	"The extended attributes of PATH (not followed when PATH is a symbolic link): NAME in\n"
	"the user., trusted. or security. namespace, or system.posix_acl_access / _default (a\n"
	"POSIX ACL, in Linux's binary form). get writes the value as it is to standard output;\n"
	"set takes it as given on the command line ('-': read it from standard input). Values\n"
	"are up to 64 KiB.\n";

/* xattr_ino - the inode of @path itself (a link is not followed). */
static int xattr_ino(const char *cmd, struct cli_ctx *ctx, const char *arg, struct daxfs **fs,
		     uint64_t *ino)
{
	char path[CLI_PATH_MAX];
	struct daxfs_statx stx;
	int rc;

	rc = connect_path(cmd, ctx, arg, path, fs);
	if (rc)
		return rc;
	rc = daxfs_statx(*fs, path, DAXFS_STAT_NOFOLLOW, &stx);
	if (rc) {
		daxfs_close(*fs);
		return cli_fail(cmd, arg, rc);
	}
	*ino = stx.st.ino;
	return 0;
}

/* read_stdin - all of standard input, up to 64 KiB + 1 (to say it is too long). */
static ssize_t read_stdin(char *buf, size_t max)
{
	size_t n = 0;

	while (n < max) {
		size_t r = fread(buf + n, 1, max - n, stdin);

		if (r == 0)
			break;
		n += r;
	}
	return ferror(stdin) ? -EIO : (ssize_t)n;
}

static int xattr_fail(const char *arg, const char *name, int rc)
{
	char what[CLI_PATH_MAX + 300];

	snprintf(what, sizeof(what), "%s: %s", arg, name);
	if (rc == -ENODATA) {
		cli_err("xattr", "%s: no such attribute", what);
		return EXIT_FAIL;
	}
	if (rc == -EOPNOTSUPP) {
		cli_err("xattr",
			"%s: not a namespace this file system keeps (user., trusted., "
			"security., system.posix_acl_*)",
			what);
		return EXIT_FAIL;
	}
	return cli_fail("xattr", what, rc);
}

int cmd_xattr(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{"create", no_argument, NULL, 'c'},
		{"replace", no_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *sub = argc > 1 ? argv[1] : "";
	char *buf = NULL;
	struct daxfs *fs;
	uint64_t ino;
	int flags = 0, c, rc;
	ssize_t n;

	optind = 2;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			flags |= DAXFS_XATTR_CREATE;
			break;
		case 'r':
			flags |= DAXFS_XATTR_REPLACE;
			break;
		case 'h':
			fputs(xattr_usage, stdout);
			return EXIT_OK;
		default:
			fputs(xattr_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		fputs(xattr_usage, stdout);
		return EXIT_OK;
	}
	if (!((strcmp(sub, "get") == 0 && argc - optind == 2) ||
	      (strcmp(sub, "set") == 0 && argc - optind == 3) ||
	      (strcmp(sub, "list") == 0 && argc - optind == 1) ||
	      (strcmp(sub, "rm") == 0 && argc - optind == 2)) ||
	    (flags && strcmp(sub, "set") != 0) ||
	    flags == (DAXFS_XATTR_CREATE | DAXFS_XATTR_REPLACE)) {
		fputs(xattr_usage, stderr);
		return EXIT_USAGE;
	}
	buf = malloc(65537);
	if (!buf)
		return cli_syserr("xattr", "memory", ENOMEM);
	rc = xattr_ino("xattr", ctx, argv[optind], &fs, &ino);
	if (rc) {
		free(buf);
		return rc;
	}
	if (strcmp(sub, "get") == 0) {
		n = daxfs_getxattr(fs, ino, argv[optind + 1], buf, 65536);
		rc = n < 0 ? xattr_fail(argv[optind], argv[optind + 1], (int)n) : EXIT_OK;
		if (n >= 0 && fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			rc = cli_syserr("xattr", "standard output", EIO);
	} else if (strcmp(sub, "set") == 0) {
		const char *v = argv[optind + 2];

		n = strcmp(v, "-") == 0 ? read_stdin(buf, 65537) : (ssize_t)strlen(v);
		if (n >= 0 && strcmp(v, "-") != 0)
			memcpy(buf, v, (size_t)n);
		rc = n < 0	 ? cli_syserr("xattr", "standard input", EIO)
		     : n > 65536 ? (cli_err("xattr", "a value of more than 64 KiB"), EXIT_FAIL)
				 : daxfs_setxattr(fs, ino, argv[optind + 1], buf, (size_t)n, flags);
		if (rc < 0)
			rc = rc == -EEXIST ? (cli_err("xattr", "%s: %s exists", argv[optind],
						      argv[optind + 1]),
					      EXIT_FAIL)
					   : xattr_fail(argv[optind], argv[optind + 1], rc);
	} else if (strcmp(sub, "list") == 0) {
		n = daxfs_listxattr(fs, ino, buf, 65536);
		rc = n < 0 ? xattr_fail(argv[optind], "list", (int)n) : EXIT_OK;
		for (ssize_t o = 0; o < n; o += (ssize_t)strlen(buf + o) + 1)
			printf("%s\n", buf + o);
	} else {
		rc = daxfs_removexattr(fs, ino, argv[optind + 1]);
		if (rc)
			rc = xattr_fail(argv[optind], argv[optind + 1], rc);
	}
	daxfs_close(fs);
	free(buf);
	return rc;
}
