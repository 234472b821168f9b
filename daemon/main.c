// SPDX-License-Identifier: MIT
/*
 * daxfsd - the daxfs daemon: parse the options, mount the region, bind the socket, serve,
 * then tear down in reverse (STYLE.md "The daemon").
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "cfg.h"
#include "config.h"
#include "fault.h"
#include "fuse.h"
#include "journal.h"
#include "lease.h"
#include "log.h"
#include "metrics.h"
#include "namespace.h"
#include "perm.h"
#include "poison.h"
#include "rcu.h"
#include "region.h"
#include "server.h"
#include "sigbus.h"
#include "util.h"

#define EXIT_USAGE 2

static const char usage_head[] =
	"usage: daxfsd --region PATH [OPTIONS]\n"
	"       daxfsd --config FILE [OPTIONS]\n"
	"\n"
	"Serve the daxfs file system of the region PATH (a device-DAX device, a file on a\n"
	"-o dax file system, or an ordinary file formatted with 'daxfs mkfs') to local clients\n"
	"over a unix socket.\n"
	"\n";

static const char usage_tail[] =
	"\n"
	"Under systemd it reports READY=1 once the region is mounted and the socket bound,\n"
	"pings the watchdog (WatchdogSec=) and takes a socket from socket activation.\n"
	"SIGTERM or SIGINT shut it down gracefully: it stops accepting, finishes the requests\n"
	"in flight, releases every mapping and unmounts. SIGHUP reads FILE again and applies\n"
	"the keys marked reloadable. Exit status: 0 after a clean shutdown, 1 when it cannot\n"
	"start or fails, 2 for bad options or a bad FILE.\n";

/*
 * crash_from_env - with fault injection, $DAXFS_FAULT_CRASH="POINT" or "persist:N": crash
 * there from the start, before a client could ask for it (the mount's own points, such as
 * the upgrade of a version 1 region; docs/fault-injection.md).
 * Return: 0; -EINVAL for a bad value (said on stderr).
 */
static int crash_from_env(void)
{
	const char *env = getenv("DAXFS_FAULT_CRASH");
	char *end;
	int rc;

	if (!env || !*env)
		return 0;
	if (strncmp(env, "persist:", 8) == 0) {
		unsigned long long n = strtoull(env + 8, &end, 10);

		rc = *end || end == env + 8 ? -EINVAL : fault_set_crash_persist(n);
	} else {
		rc = fault_point_lookup(env);
		if (rc >= 0)
			rc = fault_set_crash((enum fault_point)rc);
	}
	if (rc) {
		fprintf(stderr,
			"daxfsd: bad DAXFS_FAULT_CRASH '%s': want a point of 'daxfs inject "
			"points' or persist:N\n",
			env);
		return -EINVAL;
	}
	log_warn("DAXFS_FAULT_CRASH=%s: crashing there on purpose", env);
	return 0;
}

/* usage - --help: the options of the config table (cfg_help) between main's own. */
static void usage(FILE *f)
{
	fputs(usage_head, f);
	cfg_help_line(f, "--config FILE",
		      "read the settings from FILE (daxfsd.conf(5)); the options below override "
		      "it");
	cfg_help(f);
	cfg_help_line(f, "--dump-config",
		      "print the settings in effect (FILE and the options) as a config file, "
		      "and exit");
	cfg_help_line(f, "--foreground",
		      "accepted for compatibility: daxfsd always runs in the foreground; "
		      "daemonizing is systemd's job");
	cfg_help_line(f, "--help, --version", "");
	fputs(usage_tail, f);
}

enum {
	OPT_CONFIG = 256,
	OPT_DUMP_CONFIG,
	OPT_FOREGROUND,
	OPT_HELP,
	OPT_VERSION,
	OPT_KEY, /* OPT_KEY + enum cfg_key */
};

static const struct option main_options[] = {
	{"config", required_argument, NULL, OPT_CONFIG},
	{"dump-config", no_argument, NULL, OPT_DUMP_CONFIG},
	{"foreground", no_argument, NULL, OPT_FOREGROUND},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
};

/*
 * build_options - the getopt table: main's own options, then a flag per config key that
 * has one (its value is OPT_KEY + the key), then the terminator.
 */
static void build_options(struct option *o)
{
	size_t n = ARRAY_SIZE(main_options);

	memcpy(o, main_options, sizeof(main_options));
	for (int k = 0; k < CFG_NKEYS; k++) {
		if (!cfg_key_flag(k))
			continue;
		o[n++] = (struct option){
			.name = cfg_key_flag(k) + 2, /* without the "--" */
			.has_arg = cfg_key_metavar(k) ? required_argument : no_argument,
			.val = OPT_KEY + k,
		};
	}
	o[n] = (struct option){0};
}

/* The daemon's state that its loop events (SIGHUP, timers) work on. */
struct daemon {
	struct cfg cfg;
	struct perm_trust trust; /* what the server's sessions are checked against */
	struct ns *ns;
	struct srv *srv;
	/* The FUSE mount (mount = PATH, or asked for with MOUNT), or NULL; under mount_lock. */
	struct fmount *mount;
	pthread_mutex_t mount_lock;	   /* held across a mount's start and stop */
	struct fmount_opts mount_defaults; /* mount_cache and mount_options, from the start */
	struct metrics_http *metrics;	   /* metrics_listen, or NULL */
	struct event *ev_hup, *ev_watchdog;
	struct timeval watchdog_every;

	/* The bad-block poll thread (badblock_poll_interval). */
	pthread_t bb_thread;
	int bb_stop_fd;	      /* eventfd: written to stop it */
	int bb_sysfs_fd;      /* the kernel's badblocks attribute, or -1 */
	uint64_t bb_interval; /* seconds; 0: only when the kernel says */
	bool bb_running;

	/* The SIGBUS thread: what the handler recorded, acted on from a normal thread. */
	pthread_t sb_thread;
	int sb_fd;    /* eventfd the handler writes to */
	bool sb_stop; /* atomic */
	bool sb_running;
	bool failed_logged; /* the SIGBUS thread, then main after joining it */
};

/* raise_nofile - every session holds a socket and a pidfd: allow as many fds as we may. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static const char *mount_hint(int rc)
{
	switch (rc) {
	case -ENOENT:
		return " (create an emulated region with 'daxfs mkfs --size SIZE PATH')";
	case -EBUSY:
		return " (another process holds it: is daxfsd already running on it?)";
	case -ENODATA:
	case -EUCLEAN:
	case -EBADMSG:
		return " (format it with 'daxfs mkfs', or see 'daxfs check')";
	case -EACCES:
	case -EPERM:
		return " (daxfsd needs read-write access to it)";
	default:
		return "";
	}
}

/* scan_badblocks - poison the device reports goes through poison_handle (DESIGN §5). */
static void scan_badblocks(struct ns *ns)
{
	struct region_badblock *bb = NULL;
	int n = region_badblocks(ns_region(ns), &bb);

	for (int i = 0; i < n; i++)
		poison_handle(ns, bb[i].offset, bb[i].length, POISON_SRC_BADBLOCKS, NULL, NULL);
	free(bb);
}

/*
 * apply_level - the log level: a flag, else $DAXFS_LOG (log_init_from_env set it), else
 * the file, else the default (so a reload that drops log_level goes back to it).
 */
static void apply_level(const struct cfg *c)
{
	if (c->v[CFG_LOG_LEVEL].src == CFG_SRC_FLAG || !getenv("DAXFS_LOG"))
		log_set_level((enum log_level)cfg_num(c, CFG_LOG_LEVEL));
}

/* build_trust - the map trust of @c into @t (empty first). Return: 0; -errno, said why. */
static int build_trust(const struct cfg *c, struct perm_trust *t)
{
	static const enum cfg_key keys[] = {CFG_MAP_USERS, CFG_MAP_GROUPS};
	char err[256];

	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < 2; i++) {
		const char *list = cfg_str(c, keys[i]);
		int rc;

		if (!list)
			continue;
		rc = perm_trust_parse(t, list, keys[i] == CFG_MAP_GROUPS, err, sizeof(err));
		if (rc) {
			log_err("%s: %s", cfg_key_name(keys[i]),
				rc == -ENOMEM ? "out of memory" : err);
			perm_trust_release(t);
			return rc;
		}
	}
	return 0;
}

static bool same(const struct cfg *a, const struct cfg *b, enum cfg_key k)
{
	const char *x = cfg_str(a, k), *y = cfg_str(b, k);

	return (!x && !y) || (x && y && !strcmp(x, y));
}

/*
 * on_hup - read the config file again; apply what can change while serving (log level,
 * lease break timeout, map trust for new sessions) and say what needs a restart.
 * Context: the loop thread (the server checks the trust there too).
 */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	struct perm_trust t;
	struct cfg nc;
	char err[512], buf[512];

	(void)sig;
	(void)what;
	if (!d->cfg.file) {
		log_notice("SIGHUP: no --config file to read again; nothing changed");
		return;
	}
	sd_notify(0, "RELOADING=1\nSTATUS=Reloading the configuration");
	if (cfg_reload(&d->cfg, &nc, err, sizeof(err))) {
		log_err("SIGHUP: %s; keeping the running configuration", err);
		goto out;
	}
	if (build_trust(&nc, &t)) {
		log_err("SIGHUP: keeping the running configuration");
		cfg_release(&nc);
		goto out;
	}
	for (int k = 0; k < CFG_NKEYS; k++) {
		if (same(&d->cfg, &nc, k) || cfg_key_reloadable(k))
			continue;
		log_warn("SIGHUP: %s changed in %s but cannot change while running; restart "
			 "daxfsd to apply it",
			 cfg_key_name(k), nc.file);
	}
	apply_level(&nc);
	ns_set_lease_timeout(d->ns, cfg_num(&nc, CFG_LEASE_BREAK_TIMEOUT));
	perm_trust_release(&d->trust);
	d->trust = t; /* the server holds &d->trust: new sessions see it */
	cfg_release(&d->cfg);
	d->cfg = nc;
	log_notice("SIGHUP: reloaded %s (log level %s, lease break timeout %" PRIu64
		   " ms, map trust for new sessions: %s)",
		   d->cfg.file, cfg_str(&d->cfg, CFG_LOG_LEVEL),
		   cfg_num(&d->cfg, CFG_LEASE_BREAK_TIMEOUT),
		   perm_trust_describe(&d->trust, buf, sizeof(buf)));
out:
	sd_notify(0, "READY=1\nSTATUS=Serving");
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sd_notify(0, "WATCHDOG=1");
}

/*
 * badblocks_sysfs - the kernel's "badblocks" attribute for @r's media: the nearest ancestor
 * in sysfs of the device (devdax) or of the block device holding the file (fsdax) that has
 * one: a pmem disk for fsdax, the nd region for devdax. The kernel notifies a poll on it
 * (POLLPRI) when its list changes.
 * Return: 0 and @out; -ENOENT (an emulated region, or no such attribute).
 */
static int badblocks_sysfs(const struct region *r, char *out, size_t len)
{
	char link[64], dir[PATH_MAX], probe[PATH_MAX + 16];
	struct stat st;
	dev_t dev;

	if (region_kind(r) == REGION_EMULATED || fstat(region_fd(r), &st) < 0)
		return -ENOENT;
	dev = region_kind(r) == REGION_DEVDAX ? st.st_rdev : st.st_dev;
	snprintf(link, sizeof(link), "/sys/dev/%s/%u:%u",
		 region_kind(r) == REGION_DEVDAX ? "char" : "block", major(dev), minor(dev));
	if (!realpath(link, dir))
		return -ENOENT;
	while (strncmp(dir, "/sys/devices/", 13) == 0) {
		char *slash;

		snprintf(probe, sizeof(probe), "%s/badblocks", dir);
		if (access(probe, R_OK) == 0 && strlen(probe) < len) {
			memcpy(out, probe, strlen(probe) + 1);
			return 0;
		}
		slash = strrchr(dir, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
	return -ENOENT;
}

/*
 * badblocks_thread - scan for new bad blocks when the kernel's list changes (a poll on its
 * sysfs attribute) and every badblock_poll_interval seconds, until told to stop (the
 * eventfd). Its own thread, not the loop: poison_handle waits for entry locks that a lease
 * break holds while the loop collects the acks.
 */
static void *badblocks_thread(void *arg)
{
	struct daemon *d = arg;
	struct pollfd p[2] = {{.fd = d->bb_stop_fd, .events = POLLIN},
			      {.fd = d->bb_sysfs_fd, .events = POLLPRI}};
	int timeout = d->bb_interval ? (int)MIN(d->bb_interval * 1000, (uint64_t)INT_MAX) : -1;
	char buf[4096];

	rcu_thread_online();
	for (;;) {
		int n = poll(p, d->bb_sysfs_fd >= 0 ? 2 : 1, timeout);

		if (n < 0 && errno != EINTR) {
			log_err("bad-block watch: poll: %s; no more scans until restart",
				strerror(errno));
			break;
		}
		if (n > 0 && p[0].revents)
			break;
		if (n > 0 && p[1].revents) {
			/* Read it to the end: that re-arms the notification. */
			if (lseek(d->bb_sysfs_fd, 0, SEEK_SET) == 0)
				while (read(d->bb_sysfs_fd, buf, sizeof(buf)) > 0)
					;
			log_info("the kernel's bad-block list changed; scanning");
		}
		if (n != 0 || timeout >= 0)
			scan_badblocks(d->ns);
	}
	rcu_thread_offline();
	return NULL;
}

/*
 * badblocks_start - watch for new bad blocks: the sysfs attribute if there is one, and the
 * timer when @interval > 0. Nothing to do for an emulated region without a timer.
 * Return: 0; -errno (said why).
 */
static int badblocks_start(struct daemon *d, uint64_t interval)
{
	char path[PATH_MAX];
	int rc;

	d->bb_interval = interval;
	d->bb_sysfs_fd = -1;
	if (badblocks_sysfs(ns_region(d->ns), path, sizeof(path)) == 0) {
		char buf[4096];

		d->bb_sysfs_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (d->bb_sysfs_fd >= 0) {
			while (read(d->bb_sysfs_fd, buf, sizeof(buf)) > 0)
				;
			log_info("watching %s for new bad blocks", path);
		}
	}
	if (d->bb_sysfs_fd < 0 && interval == 0)
		return 0;
	d->bb_stop_fd = eventfd(0, EFD_CLOEXEC);
	if (d->bb_stop_fd < 0) {
		rc = -errno;
		log_err("cannot start the bad-block watch: %s", strerror(errno));
		goto err;
	}
	rc = pthread_create(&d->bb_thread, NULL, badblocks_thread, d);
	if (rc) {
		log_err("cannot start the bad-block watch thread: %s", strerror(rc));
		close(d->bb_stop_fd);
		rc = -rc;
		goto err;
	}
	d->bb_running = true;
	return 0;
err:
	if (d->bb_sysfs_fd >= 0)
		close(d->bb_sysfs_fd);
	d->bb_sysfs_fd = -1;
	return rc;
}

static void badblocks_stop(struct daemon *d)
{
	uint64_t one = 1;

	if (!d->bb_running)
		return;
	if (write(d->bb_stop_fd, &one, sizeof(one)) != sizeof(one))
		log_warn("bad-block watch: cannot wake it to stop: %s", strerror(errno));
	pthread_join(d->bb_thread, NULL);
	close(d->bb_stop_fd);
	if (d->bb_sysfs_fd >= 0)
		close(d->bb_sysfs_fd);
	d->bb_running = false;
}

/*
 * check_failed - when the region failed (a fault outside a safe copy, or its file shrank),
 * make the namespace write nothing more and say so, once. The server answers EIO from then
 * on (server.c). Context: the SIGBUS thread, or main once that is stopped.
 */
static void check_failed(struct daemon *d)
{
	struct region *r = ns_region(d->ns);
	struct region_fault why;
	char off[24], len[24];
	const char *what;

	if (d->failed_logged || !region_failed(r, &why))
		return;
	d->failed_logged = true;
	poison_region_failed(d->ns);
	if (why.code != BUS_ADRERR)
		what = "a media error hit its metadata (SIGBUS, BUS_MCEERR)";
	else if (region_kind(r) == REGION_EMULATED)
		what = "its file was truncated under the daemon (SIGBUS, BUS_ADRERR; a client "
		       "holding the region fd can do that)";
	else
		what = "the mapping lost its backing (SIGBUS, BUS_ADRERR)";
	log_event(LOG_LVL_ERR, LOG_EV_READONLY,
		  LOG_KV({"REGION", region_path(r)}, {"WHERE", "region"},
			 {"OFFSET", log_u64(off, why.off)}, {"LENGTH", log_u64(len, why.len)}),
		  "region %s: %s at offset %" PRIu64 " (%" PRIu64 " bytes); no longer serving it: "
		  "every request fails with EIO, nothing more is written to it; restart daxfsd "
		  "once the region is sound",
		  region_path(r), what, why.off, why.len);
}

/*
 * sigbus_thread - quarantine the media errors the SIGBUS handler queued (BUS_MCEERR_AO, and
 * what a request's drain did not take yet) and notice a failed region, when the handler
 * wakes us through the eventfd, and at least once a second; then also release the blocks
 * held since before a restart for clients whose processes have exited (ns_holds_check).
 * Its own thread, not the loop: poison_handle waits for entry locks, holds write the log.
 */
static void *sigbus_thread(void *arg)
{
	struct daemon *d = arg;
	struct pollfd p = {.fd = d->sb_fd, .events = POLLIN};
	uint64_t v;

	rcu_thread_online();
	while (!__atomic_load_n(&d->sb_stop, __ATOMIC_ACQUIRE)) {
		if (poll(&p, 1, 1000) > 0 && read(d->sb_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			break;
		poison_drain(d->ns);
		check_failed(d);
		if (!region_failed(ns_region(d->ns), NULL))
			ns_holds_check(d->ns);
	}
	rcu_thread_offline();
	return NULL;
}

/* sigbus_start - Return: 0; -errno (said why). */
static int sigbus_start(struct daemon *d)
{
	int rc;

	d->sb_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->sb_fd < 0) {
		rc = -errno;
		log_err("cannot create the SIGBUS eventfd: %s", strerror(errno));
		return rc;
	}
	rc = pthread_create(&d->sb_thread, NULL, sigbus_thread, d);
	if (rc) {
		log_err("cannot start the SIGBUS thread: %s", strerror(rc));
		close(d->sb_fd);
		d->sb_fd = -1;
		return -rc;
	}
	sigbus_set_notify_fd(d->sb_fd);
	d->sb_running = true;
	return 0;
}

static void sigbus_stop(struct daemon *d)
{
	uint64_t one = 1;

	if (!d->sb_running)
		return;
	sigbus_set_notify_fd(-1);
	__atomic_store_n(&d->sb_stop, true, __ATOMIC_RELEASE);
	if (write(d->sb_fd, &one, sizeof(one)) < 0) {
		/* full: the thread wakes anyway */
	}
	pthread_join(d->sb_thread, NULL);
	close(d->sb_fd);
	d->sb_fd = -1;
	d->sb_running = false;
}

/*
 * listen_fd - the socket systemd handed over, if any. Return: the fd; -1 none; -EINVAL
 * (said why) more than one, or not a listening AF_UNIX SOCK_SEQPACKET socket.
 */
static int listen_fd(void)
{
	int n = sd_listen_fds(1);

	if (n <= 0)
		return -1;
	if (n > 1) {
		log_err("socket activation passed %d sockets; daxfsd takes one", n);
		return -EINVAL;
	}
	if (sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_SEQPACKET, 1, NULL, 0) <= 0) {
		log_err("socket activation passed a socket that is not a listening AF_UNIX "
			"SOCK_SEQPACKET one (ListenSequentialPacket= in the .socket unit)");
		return -EINVAL;
	}
	return SD_LISTEN_FDS_START;
}

/*
 * mount_opts - the mount's options from mount_cache and mount_options.
 * Return: 0; -EINVAL (said why).
 */
static int mount_opts(const struct cfg *c, struct fmount_opts *o)
{
	char err[256];

	fmount_opts_default(o);
	o->cache = (enum fmount_cache)cfg_num(c, CFG_MOUNT_CACHE);
	o->poll_us = (unsigned)cfg_num(c, CFG_POLL_US); /* the rings' polling, for /dev/fuse */
	if (cfg_str(c, CFG_MOUNT_OPTIONS) &&
	    fmount_opts_parse(o, cfg_str(c, CFG_MOUNT_OPTIONS), err, sizeof(err))) {
		fprintf(stderr, "daxfsd: mount_options: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

/*
 * The mounter (MOUNT and UMOUNT, on a worker): one mount at a time. Its options start from
 * the configuration's, read at startup (SIGHUP does not change them).
 */
static int mounter_mount(void *ctx, const char *path, const char *opts)
{
	struct daemon *d = ctx;
	struct fmount_opts o = d->mount_defaults;
	char err[256];
	int rc;

	if (opts[0] && fmount_opts_parse(&o, opts, err, sizeof(err))) {
		log_notice("fuse: a mount on %s refused: %s", path, err);
		return -EINVAL;
	}
	pthread_mutex_lock(&d->mount_lock);
	if (d->mount && !fmount_serving(d->mount)) {
		log_notice("fuse: %s was unmounted from outside; its server stops",
			   fmount_path(d->mount));
		fmount_delete(&d->mount);
	}
	if (d->mount) {
		log_notice("fuse: a mount on %s refused: daxfsd serves one at %s already", path,
			   fmount_path(d->mount));
		rc = -EBUSY;
	} else {
		rc = fmount_new(&d->mount, d->ns, path, &o);
	}
	pthread_mutex_unlock(&d->mount_lock);
	return rc;
}

static int mounter_umount(void *ctx, const char *path)
{
	struct daemon *d = ctx;
	char *real = realpath(path, NULL);
	int rc = 0;

	pthread_mutex_lock(&d->mount_lock);
	if (!d->mount || (strcmp(path, fmount_path(d->mount)) != 0 &&
			  (!real || strcmp(real, fmount_path(d->mount)) != 0))) {
		log_notice("fuse: no unmount of %s: daxfsd serves %s%s", path,
			   d->mount ? "its mount at " : "no mount",
			   d->mount ? fmount_path(d->mount) : "");
		rc = -EINVAL; /* as umount(2): not a mount point (of ours) */
	} else {
		fmount_delete(&d->mount);
	}
	pthread_mutex_unlock(&d->mount_lock);
	free(real);
	return rc;
}

/* add_timer - a persistent timer of @usec on the loop. Return: 0; -ENOMEM. */
static int add_timer(struct daemon *d, struct event **ev, struct timeval *tv, uint64_t usec,
		     event_callback_fn fn)
{
	tv->tv_sec = (time_t)(usec / 1000000);
	tv->tv_usec = (suseconds_t)(usec % 1000000);
	*ev = event_new(srv_base(d->srv), -1, EV_PERSIST, fn, d);
	if (!*ev || event_add(*ev, tv) < 0)
		return -ENOMEM;
	return 0;
}

/*
 * ring_threads_auto - the ring_threads default: half the CPUs this process may run on, at
 * least 1 and at most 2. The clients run on the same machine, and a ring thread keeps its
 * CPU for poll_us after each request: on two CPUs, two ring threads serving several
 * sessions left the clients too little CPU to send their next requests (bench/README.md).
 */
static unsigned ring_threads_auto(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 1;
	n = CPU_COUNT(&set) / 2;
	return (unsigned)MIN(MAX(n, 1), 2);
}

int main(int argc, char **argv)
{
	struct daemon d = {.mount_lock = PTHREAD_MUTEX_INITIALIZER};
	struct srv_opts so = {0};
	struct ns_mount_opts mo = {0};
	struct fmount_opts fo;
	struct srv_mounter mounter = {mounter_mount, mounter_umount, &d};
	struct option options[ARRAY_SIZE(main_options) + CFG_NKEYS + 1];
	const char *config = NULL;
	char *region = NULL; /* a copy: SIGHUP replaces d.cfg */
	uint64_t wd_usec = 0;
	bool online = false, cfg_ok = false, dump = false;
	int status = EXIT_USAGE, c, rc;
	char err[512], buf[512], sz[32];

	log_init_from_env();
	journal_setup();
	if (cfg_init(&d.cfg)) {
		fprintf(stderr, "daxfsd: out of memory\n");
		return EXIT_FAILURE;
	}
	cfg_ok = true;
	build_options(options);
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG:
			config = optarg;
			break;
		case OPT_DUMP_CONFIG:
			dump = true;
			break;
		case OPT_FOREGROUND:
			break;
		case OPT_HELP:
			usage(stdout);
			status = EXIT_SUCCESS;
			goto out;
		case OPT_VERSION:
			printf("daxfsd %s\n", DAXFS_VERSION);
			status = EXIT_SUCCESS;
			goto out;
		default:
			if (c >= OPT_KEY && c < OPT_KEY + CFG_NKEYS) {
				/* A flag without a value (a boolean) sets its key true. */
				rc = cfg_set_flag(&d.cfg, (enum cfg_key)(c - OPT_KEY),
						  optarg ? optarg : "true", err, sizeof(err));
				if (rc) {
					fprintf(stderr, "daxfsd: %s\n",
						rc == -ENOMEM ? "out of memory" : err);
					goto out;
				}
				break;
			}
			fprintf(stderr, "daxfsd: try 'daxfsd --help'\n");
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "daxfsd: unexpected argument '%s'; try 'daxfsd --help'\n",
			argv[optind]);
		goto out;
	}
	if (config) {
		rc = cfg_load(&d.cfg, config, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "daxfsd: %s\n", rc == -ENOMEM ? "out of memory" : err);
			goto out;
		}
	}
	if (dump) {
		cfg_dump(&d.cfg, stdout);
		status = fflush(stdout) == 0 && !ferror(stdout) ? EXIT_SUCCESS : EXIT_FAILURE;
		goto out;
	}
	if (!cfg_str(&d.cfg, CFG_PATH)) {
		fprintf(stderr, "daxfsd: --region PATH (or a [region NAME] section with a path in "
				"--config FILE) is required; try 'daxfsd --help'\n");
		goto out;
	}
	region = strdup(cfg_str(&d.cfg, CFG_PATH));
	if (!region) {
		fprintf(stderr, "daxfsd: out of memory\n");
		status = EXIT_FAILURE;
		goto out;
	}
	apply_level(&d.cfg);
	if (build_trust(&d.cfg, &d.trust))
		goto out;
	so.socket_path = cfg_str(&d.cfg, CFG_SOCKET);
	so.socket_mode = (mode_t)cfg_num(&d.cfg, CFG_SOCKET_MODE);
	so.socket_gid =
		cfg_str(&d.cfg, CFG_SOCKET_GROUP) ? (int)cfg_num(&d.cfg, CFG_SOCKET_GROUP) : -1;
	so.workers = (unsigned)cfg_num(&d.cfg, CFG_WORKERS);
	so.max_sessions = (unsigned)cfg_num(&d.cfg, CFG_MAX_SESSIONS);
	so.max_sessions_per_user = (unsigned)cfg_num(&d.cfg, CFG_MAX_SESSIONS_PER_USER);
	so.poll_ns = cfg_num(&d.cfg, CFG_POLL_US) * 1000;
	so.ring_threads = (unsigned)cfg_num(&d.cfg, CFG_RING_THREADS);
	if (so.ring_threads == 0)
		so.ring_threads = ring_threads_auto();
	so.trust = &d.trust;
	if (mount_opts(&d.cfg, &fo))
		goto out;
	d.mount_defaults = fo;
	so.mounter = &mounter;
	mo.kind = (enum region_kind)cfg_num(&d.cfg, CFG_KIND);
	mo.reserve_pct = (unsigned)cfg_num(&d.cfg, CFG_RESERVE_PERCENT);
	mo.trace_image = cfg_str(&d.cfg, CFG_PERSIST_TRACE);
	mo.replica = cfg_str(&d.cfg, CFG_REPLICA);
	if (mo.trace_image && !cfg_num(&d.cfg, CFG_FAULT_INJECTION)) {
		fprintf(stderr, "daxfsd: persist_trace (--persist-trace) needs fault injection "
				"(--fault-injection)\n");
		goto out;
	}
	if (cfg_num(&d.cfg, CFG_FAULT_INJECTION)) {
		fault_enable();
		log_warn("fault injection is on: root and uid %u may make this daemon fail, stall "
			 "and crash on purpose; never run it so in production",
			 (unsigned)geteuid());
		if (crash_from_env())
			goto out;
	}
	status = EXIT_FAILURE;

	so.listen_fd = listen_fd();
	if (so.listen_fd == -EINVAL)
		goto out;

	/* Replies are sent with MSG_NOSIGNAL; a stray write to a closed pipe must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	/* Region memory may fault (media errors; a client truncating an emulated region). */
	if (sigbus_install())
		goto out;
	/*
	 * Early kill: when a process consumes a media error in a page we map too, the kernel
	 * tells us at once (SIGBUS BUS_MCEERR_AO, quarantined by the SIGBUS thread) instead of
	 * only when we touch it. That is what confirms a client's POISON_REPORT on a device
	 * whose page the kernel took out of service but would map again without a fault.
	 */
	if (prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0, 0) < 0)
		log_warn("cannot ask for early media-error notices (PR_MCE_KILL): %s; a client's "
			 "poison report is then confirmed only by reading the range",
			 strerror(errno));
	raise_nofile();
	rcu_thread_online();
	online = true;

	sd_notifyf(0, "STATUS=Mounting %s", region);
	rc = ns_mount(&d.ns, region, &mo);
	if (rc) {
		log_err("cannot mount the region %s: %s%s", region, strerror(-rc), mount_hint(rc));
		goto out;
	}
	ns_set_lease_timeout(d.ns, cfg_num(&d.cfg, CFG_LEASE_BREAK_TIMEOUT));
	sd_notifyf(0, "STATUS=Scanning %s for bad blocks", region);
	scan_badblocks(d.ns);
	{
		int64_t held = ns_holds_check(d.ns);

		if (held > 0)
			log_notice(
				"%" PRId64 " blocks stay held for clients dropped before the "
				"restart whose processes still run; they are released when those "
				"exit",
				held);
	}
	{
		struct region *r = ns_region(d.ns);
		struct ns_statfs st;

		ns_statfs(d.ns, &st);
		log_notice("mounted %s (%s, %s, %" PRIu64 " files, %" PRIu64 " of %" PRIu64
			   " blocks free)",
			   region, region_kind_name(region_kind(r)),
			   format_size(region_size(r), sz, sizeof(sz)), st.files, st.blocks_free,
			   st.blocks);
	}

	rc = srv_new(&d.srv, d.ns, &so);
	if (rc)
		goto out; /* it said why */
	d.ev_hup = evsignal_new(srv_base(d.srv), SIGHUP, on_hup, &d);
	if (!d.ev_hup || event_add(d.ev_hup, NULL) < 0)
		goto err_nomem;
	if (sd_watchdog_enabled(0, &wd_usec) > 0 &&
	    add_timer(&d, &d.ev_watchdog, &d.watchdog_every, wd_usec / 2, on_watchdog))
		goto err_nomem;
	if (cfg_str(&d.cfg, CFG_METRICS_LISTEN) &&
	    metrics_http_new(&d.metrics, srv_base(d.srv), d.ns,
			     cfg_str(&d.cfg, CFG_METRICS_LISTEN)))
		goto out; /* it said why */
	if (sigbus_start(&d))
		goto out;
	if (badblocks_start(&d, cfg_num(&d.cfg, CFG_BADBLOCK_POLL_INTERVAL)))
		goto out;
	if (cfg_str(&d.cfg, CFG_MOUNT) &&
	    fmount_new(&d.mount, d.ns, cfg_str(&d.cfg, CFG_MOUNT), &fo))
		goto out; /* it said why */
	if (so.listen_fd >= 0)
		snprintf(sz, sizeof(sz), "socket activation");
	else
		snprintf(sz, sizeof(sz), "mode %04o", (unsigned)so.socket_mode);
	log_notice("listening on %s (%s, %u workers, at most %u sessions, %u per user, poll "
		   "%" PRIu64 " us, %u ring threads; map trust: %s)",
		   so.listen_fd >= 0 ? "the socket systemd passed" : so.socket_path, sz, so.workers,
		   so.max_sessions, so.max_sessions_per_user, so.poll_ns / 1000, so.ring_threads,
		   perm_trust_describe(&d.trust, buf, sizeof(buf)));
	if (wd_usec)
		log_info("pinging the systemd watchdog every %" PRIu64 " ms", wd_usec / 2000);
	sd_notifyf(0, "READY=1\nSTATUS=Serving %s", region);

	rc = srv_run(d.srv);
	if (rc == 0)
		status = EXIT_SUCCESS;
	goto out;

err_nomem:
	log_err("cannot set up the daemon's events: out of memory");
out:
	if (d.ev_hup)
		event_free(d.ev_hup);
	if (d.ev_watchdog)
		event_free(d.ev_watchdog);
	badblocks_stop(&d);
	/* After the server's graceful stop released every grant: no lease break waits. */
	fmount_delete(&d.mount);
	metrics_http_delete(&d.metrics);
	srv_delete(&d.srv);
	sigbus_stop(&d);
	if (d.ns) {
		check_failed(&d); /* a failed region: unmount writes nothing */
		sd_notifyf(0, "STATUS=Unmounting %s", region);
		ns_unmount(&d.ns);
		log_notice("unmounted %s", region);
	}
	if (online)
		rcu_thread_offline();
	perm_trust_release(&d.trust);
	if (cfg_ok)
		cfg_release(&d.cfg);
	free(region);
	return status;
}
