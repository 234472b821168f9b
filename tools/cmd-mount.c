// SPDX-License-Identifier: MIT
/*
 * daxfs mount / daxfs umount: the daxfs namespace as a FUSE file system (docs/fuse.md),
 * so that programs not linked with libdaxfs (cp, tar, editors, databases) use its files.
 */
/* FUSE_MAKE_VERSION(3, 12): fuse_loop_cfg_* and the loop that reads them (docs/fuse.md) */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fuse_lowlevel.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <daxfs/daxfs.h>

#include "daxfs.h"
#include "mount.h"

static const char mount_usage[] =
	"usage: daxfs [--socket PATH] mount [-f] [-o OPTIONS] MOUNTPOINT\n"
	"\n"
	"Mount the daxfs file system served by daxfsd on MOUNTPOINT with FUSE, so that\n"
	"every program can use its files. Runs in the background once mounted (-f: stay in\n"
	"the foreground, messages on stderr); 'daxfs umount MOUNTPOINT' or SIGTERM ends it.\n"
	"\n"
	"  -f, --foreground  do not go to the background\n"
	"  -o OPTIONS        comma-separated mount options:\n"
	"      allow_other       let other users in (root: each caller reaches daxfsd with\n"
	"                        its own uid and groups; otherwise the kernel checks their\n"
	"                        permissions and daxfsd sees the mounting user)\n"
	"      attr_timeout=S    seconds the kernel caches attributes (default 1)\n"
	"      entry_timeout=S   seconds the kernel caches names (default 1)\n"
	"      no_grants         hold no read grants: no POISON/INVALIDATE events\n"
	"      ro, fsname=NAME, max_read=N and other FUSE options are passed on\n"
	"  -h, --help\n"
	"\n"
	"Permissions: the kernel checks them against the attributes (default_permissions)\n"
	"and daxfsd checks them again for the session. See docs/fuse.md.\n";

static const char umount_usage[] =
	"usage: daxfs umount [-l] MOUNTPOINT\n"
	"\n"
	"Unmount a daxfs FUSE mount (fusermount3 -u). -l, --lazy: detach it now, finish\n"
	"when it is no longer busy.\n";

/* add_opt - append "@o" to the comma-separated @list (realloc'd). Return: 0 or -ENOMEM. */
static int add_opt(char **list, const char *o)
{
	size_t l = *list ? strlen(*list) : 0;
	char *n = realloc(*list, l + strlen(o) + 2);

	if (!n)
		return -ENOMEM;
	if (l)
		n[l++] = ',';
	strcpy(n + l, o);
	*list = n;
	return 0;
}

/*
 * parse_o - take our own options out of -o @arg; the rest go to @fuse_opts.
 * Return: 0, or -EINVAL after a message.
 */
static int parse_o(struct mnt *m, char *arg, char **fuse_opts)
{
	char *save = NULL, *o;

	for (o = strtok_r(arg, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		char *end;

		if (strncmp(o, "attr_timeout=", 13) == 0 || strncmp(o, "entry_timeout=", 14) == 0) {
			const char *v = strchr(o, '=') + 1;
			double d = strtod(v, &end);

			if (end == v || *end || d < 0 || d > 86400) {
				cli_err("mount", "bad %s (seconds, 0 to 86400)", o);
				return -EINVAL;
			}
			if (o[0] == 'a')
				m->attr_timeout = d;
			else
				m->entry_timeout = d;
			continue;
		}
		if (strcmp(o, "no_grants") == 0) {
			m->use_grants = false;
			continue;
		}
		if (strcmp(o, "allow_other") == 0)
			m->allow_other = true;
		if (add_opt(fuse_opts, o) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The mounting process's supplementary groups, to return to after open_as(). */
static int save_groups(struct mnt *m)
{
	int n = getgroups(0, NULL);

	if (n < 0)
		return -errno;
	m->groups = calloc((size_t)n + 1, sizeof(gid_t));
	if (!m->groups)
		return -ENOMEM;
	n = getgroups(n, m->groups);
	if (n < 0)
		return -errno;
	m->ngroups = n;
	return 0;
}

int cmd_mount(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{"foreground", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct mnt m = {
		.attr_timeout = 1.0,
		.entry_timeout = 1.0,
		.use_grants = true,
	};
	char *fuse_opts = NULL, mp[PATH_MAX];
	char *fargv[4] = {"daxfs-mount", "-o", NULL, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_loop_config *loop_cfg = NULL;
	struct daxfs_statfs sf;
	bool foreground = false;
	int c, rc, status = EXIT_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+fho:", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			foreground = true;
			break;
		case 'o':
			if (parse_o(&m, optarg, &fuse_opts) < 0) {
				free(fuse_opts);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			fputs(mount_usage, stdout);
			free(fuse_opts);
			return EXIT_OK;
		default:
			fputs(mount_usage, stderr);
			free(fuse_opts);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fputs(mount_usage, stderr);
		free(fuse_opts);
		return EXIT_USAGE;
	}
	if (!realpath(argv[optind], mp)) {
		free(fuse_opts);
		return cli_syserr("mount", argv[optind], errno);
	}
	m.mountpoint = mp;
	m.socket_path = ctx->socket_path;
	m.uid = geteuid();
	m.gid = getegid();
	/* The kernel checks every caller against the attributes; daxfsd checks again. */
	if (add_opt(&fuse_opts, "default_permissions") < 0 ||
	    add_opt(&fuse_opts, "fsname=daxfs,subtype=daxfs") < 0 ||
	    add_opt(&fuse_opts, "max_read=1048576") < 0) {
		free(fuse_opts);
		return cli_syserr("mount", "options", ENOMEM);
	}
	fargv[2] = fuse_opts;
	m.impersonate = m.allow_other && m.uid == 0;

	rc = save_groups(&m);
	if (rc < 0) {
		cli_syserr("mount", "getgroups", -rc);
		goto out_opts;
	}
	pthread_mutex_init(&m.lock, NULL);
	pthread_mutex_init(&m.ident_lock, NULL);
	pthread_rwlock_init(&m.ns_lock, NULL);
	rc = mnt_nodes_init(&m);
	if (rc < 0) {
		cli_syserr("mount", "node table", -rc);
		goto out_locks;
	}
	if (cli_connect("mount", ctx, &m.self.fs) != EXIT_OK)
		goto out_nodes;
	m.self.uid = m.uid;
	m.self.gid = m.gid;
	rc = daxfs_statfs(m.self.fs, &sf);
	if (rc < 0) {
		cli_fail("mount", "statfs", rc);
		goto out_self;
	}
	m.map_trust = sf.map_trust;
	/*
	 * Events come only for ranges a session maps. When this user may map, one more
	 * session holds a read grant per open file and turns POISON and INVALIDATE into
	 * kernel cache invalidations; otherwise every open drops the file's cached pages.
	 */
	if (m.use_grants && m.map_trust >= 1) {
		rc = daxfs_open(&m.events, m.socket_path);
		if (rc < 0) {
			cli_fail("mount", "events session", rc);
			goto out_self;
		}
		daxfs_set_event_callback(m.events, mnt_event, &m);
	} else {
		m.use_grants = false;
	}

	m.se = fuse_session_new(&args, &mnt_ops, sizeof(mnt_ops), &m);
	if (!m.se) {
		cli_err("mount", "bad mount options '%s' (messages above)", fuse_opts);
		status = EXIT_USAGE;
		goto out_events;
	}
	if (fuse_set_signal_handlers(m.se) != 0) {
		cli_err("mount", "cannot set signal handlers");
		goto out_session;
	}
	if (fuse_session_mount(m.se, mp) != 0) {
		cli_err("mount", "%s: cannot mount (messages above)", mp);
		goto out_signals;
	}
	/* Before any thread: daemonizing forks, and only the calling thread survives a fork. */
	if (fuse_daemonize(foreground) != 0) {
		cli_err("mount", "cannot go to the background");
		goto out_unmount;
	}
	if (m.events) {
		rc = daxfs_event_thread_start(m.events);
		if (rc < 0) {
			cli_fail("mount", "event thread", rc);
			goto out_unmount;
		}
	}
	loop_cfg = fuse_loop_cfg_create();
	if (!loop_cfg) {
		cli_syserr("mount", "loop config", ENOMEM);
		goto out_unmount;
	}
	fuse_loop_cfg_set_clone_fd(loop_cfg, 0);
	fuse_loop_cfg_set_max_threads(loop_cfg, 16);
	/* Keep the workers: a thread started per request costs more than the request. */
	fuse_loop_cfg_set_idle_threads(loop_cfg, 16);
	rc = fuse_session_loop_mt(m.se, loop_cfg);
	fuse_loop_cfg_destroy(loop_cfg);
	/* rc: 0 after unmount, or the signal number for SIGTERM / SIGINT / SIGHUP. */
	status = rc < 0 ? EXIT_FAIL : EXIT_OK;
	if (rc < 0)
		cli_err("mount", "%s: the FUSE session failed: %s", mp, strerror(-rc));
out_unmount:
	mnt_handles_fini(&m);
	fuse_session_unmount(m.se);
out_signals:
	fuse_remove_signal_handlers(m.se);
out_session:
	fuse_session_destroy(m.se);
out_events:
	daxfs_close(m.events);
	mnt_idents_fini(&m);
out_self:
	daxfs_close(m.self.fs);
out_nodes:
	mnt_nodes_fini(&m);
out_locks:
	pthread_rwlock_destroy(&m.ns_lock);
	pthread_mutex_destroy(&m.ident_lock);
	pthread_mutex_destroy(&m.lock);
out_opts:
	free(m.groups);
	fuse_opt_free_args(&args);
	free(fuse_opts);
	return status;
}

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
