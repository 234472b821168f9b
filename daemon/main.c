// SPDX-License-Identifier: MIT
/*
 * daxfsd - the daxfs daemon: parse the options, mount the region, bind the socket, serve,
 * then tear down in reverse (STYLE.md "The daemon").
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <systemd/sd-daemon.h>

#include "config.h"
#include "lease.h"
#include "log.h"
#include "namespace.h"
#include "perm.h"
#include "poison.h"
#include "rcu.h"
#include "region.h"
#include "server.h"
#include "util.h"

#define EXIT_USAGE 2

#define DEFAULT_SOCKET DAXFS_RUNSTATEDIR "/daxfs/daxfsd.sock"
#define DEFAULT_WORKERS 16 /* lease breaks hold a worker up to the timeout: keep spares */
#define DEFAULT_MAX_SESSIONS 256
#define DEFAULT_POLL_US 50

static const char usage[] =
	"usage: daxfsd --region PATH [OPTIONS]\n"
	"\n"
	"Serve the daxfs file system of the region PATH (a device-DAX device, a file on a\n"
	"-o dax file system, or an ordinary file formatted with 'daxfs mkfs') to local clients\n"
	"over a unix socket.\n"
	"\n"
	"  --region PATH               the region to mount (required)\n"
	"  --socket PATH               the socket to listen on (default " DEFAULT_SOCKET ");\n"
	"                              its directory is created if missing\n"
	"  --socket-mode MODE          octal mode of the socket file (default 0666: permissions\n"
	"                              are checked per request)\n"
	"  --map-users LIST            users allowed to map files zero-copy: comma-separated\n"
	"                              names or uids, each optionally :ro (read-only mappings)\n"
	"  --map-groups LIST           the same for groups (names or gids)\n"
	"  --workers N                 threads that run requests (default 16)\n"
	"  --max-sessions N            connected clients at most (default 256); more are\n"
	"                              accepted and closed at once\n"
	"  --poll-us US                after a request, poll for the next one this long before\n"
	"                              sleeping (default 50; 0 turns polling off)\n"
	"  --lease-break-timeout MS    how long a client that maps a range being truncated or\n"
	"                              punched has to let go before it is dropped (default 5000)\n"
	"  --log-level LEVEL           err, warning, notice (default), info, debug (or 3..7);\n"
	"                              $DAXFS_LOG sets it too\n"
	"  --foreground                accepted for compatibility: daxfsd always runs in the\n"
	"                              foreground; daemonizing is systemd's job\n"
	"  --help, --version\n"
	"\n"
	"SIGTERM or SIGINT shut it down gracefully: it stops accepting, finishes the requests\n"
	"in flight, releases every mapping and unmounts. Exit status: 0 after a clean shutdown,\n"
	"1 when it cannot start or fails, 2 for bad options.\n";

enum {
	OPT_REGION = 256,
	OPT_SOCKET,
	OPT_SOCKET_MODE,
	OPT_FOREGROUND,
	OPT_MAP_USERS,
	OPT_MAP_GROUPS,
	OPT_WORKERS,
	OPT_MAX_SESSIONS,
	OPT_LEASE_TIMEOUT,
	OPT_POLL_US,
	OPT_LOG_LEVEL,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option options[] = {
	{"region", required_argument, NULL, OPT_REGION},
	{"socket", required_argument, NULL, OPT_SOCKET},
	{"socket-mode", required_argument, NULL, OPT_SOCKET_MODE},
	{"foreground", no_argument, NULL, OPT_FOREGROUND},
	{"map-users", required_argument, NULL, OPT_MAP_USERS},
	{"map-groups", required_argument, NULL, OPT_MAP_GROUPS},
	{"workers", required_argument, NULL, OPT_WORKERS},
	{"max-sessions", required_argument, NULL, OPT_MAX_SESSIONS},
	{"lease-break-timeout", required_argument, NULL, OPT_LEASE_TIMEOUT},
	{"poll-us", required_argument, NULL, OPT_POLL_US},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

/* parse_uint - a whole number in @base within [@min, @max]. */
static bool parse_uint(const char *s, int base, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

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

int main(int argc, char **argv)
{
	struct srv_opts so = {
		.socket_path = DEFAULT_SOCKET,
		.socket_mode = 0666,
		.workers = DEFAULT_WORKERS,
		.max_sessions = DEFAULT_MAX_SESSIONS,
		.poll_ns = DEFAULT_POLL_US * 1000,
	};
	struct perm_trust trust = {0};
	const char *region = NULL;
	uint64_t lease_ms = 0, v;
	enum log_level level;
	struct ns *ns = NULL;
	struct srv *srv = NULL;
	bool online = false;
	int status = EXIT_USAGE, c, rc;
	char err[256], buf[512], sz[32];

	log_init_from_env();
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_REGION:
			region = optarg;
			break;
		case OPT_SOCKET:
			if (!optarg[0]) {
				fprintf(stderr, "daxfsd: --socket wants a path\n");
				goto out;
			}
			so.socket_path = optarg;
			break;
		case OPT_SOCKET_MODE:
			if (!parse_uint(optarg, 8, 0, 0777, &v)) {
				fprintf(stderr,
					"daxfsd: bad --socket-mode '%s' (octal, e.g. 0660)\n",
					optarg);
				goto out;
			}
			so.socket_mode = (mode_t)v;
			break;
		case OPT_FOREGROUND:
			break;
		case OPT_MAP_USERS:
		case OPT_MAP_GROUPS:
			rc = perm_trust_parse(&trust, optarg, c == OPT_MAP_GROUPS, err,
					      sizeof(err));
			if (rc) {
				fprintf(stderr, "daxfsd: --%s: %s\n",
					c == OPT_MAP_GROUPS ? "map-groups" : "map-users",
					rc == -ENOMEM ? "out of memory" : err);
				goto out;
			}
			break;
		case OPT_WORKERS:
			if (!parse_uint(optarg, 10, 1, 1024, &v)) {
				fprintf(stderr, "daxfsd: bad --workers '%s' (1..1024)\n", optarg);
				goto out;
			}
			so.workers = (unsigned)v;
			break;
		case OPT_MAX_SESSIONS:
			if (!parse_uint(optarg, 10, 1, 1000000, &v)) {
				fprintf(stderr, "daxfsd: bad --max-sessions '%s' (1..1000000)\n",
					optarg);
				goto out;
			}
			so.max_sessions = (unsigned)v;
			break;
		case OPT_LEASE_TIMEOUT:
			if (!parse_uint(optarg, 10, 1, 24ULL * 3600 * 1000, &lease_ms)) {
				fprintf(stderr,
					"daxfsd: bad --lease-break-timeout '%s' (milliseconds, "
					"1..86400000)\n",
					optarg);
				goto out;
			}
			break;
		case OPT_POLL_US:
			if (!parse_uint(optarg, 10, 0, 1000000, &v)) {
				fprintf(stderr, "daxfsd: bad --poll-us '%s' (0..1000000)\n",
					optarg);
				goto out;
			}
			so.poll_ns = v * 1000;
			break;
		case OPT_LOG_LEVEL:
			if (log_level_parse(optarg, &level)) {
				fprintf(stderr,
					"daxfsd: bad --log-level '%s' (err, warning, notice, info, "
					"debug, or 3..7)\n",
					optarg);
				goto out;
			}
			log_set_level(level);
			break;
		case OPT_HELP:
			fputs(usage, stdout);
			status = EXIT_SUCCESS;
			goto out;
		case OPT_VERSION:
			printf("daxfsd %s\n", DAXFS_VERSION);
			status = EXIT_SUCCESS;
			goto out;
		default:
			fprintf(stderr, "daxfsd: try 'daxfsd --help'\n");
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "daxfsd: unexpected argument '%s'; try 'daxfsd --help'\n",
			argv[optind]);
		goto out;
	}
	if (!region) {
		fprintf(stderr, "daxfsd: --region PATH is required; try 'daxfsd --help'\n");
		goto out;
	}
	so.trust = &trust;
	status = EXIT_FAILURE;

	/* Replies are sent with MSG_NOSIGNAL; a stray write to a closed pipe must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	rcu_thread_online();
	online = true;

	rc = ns_mount(&ns, region, NULL);
	if (rc) {
		log_err("cannot mount the region %s: %s%s", region, strerror(-rc), mount_hint(rc));
		goto out;
	}
	if (lease_ms)
		ns_set_lease_timeout(ns, lease_ms);
	scan_badblocks(ns);
	{
		struct region *r = ns_region(ns);
		struct ns_statfs st;

		ns_statfs(ns, &st);
		log_notice("mounted %s (%s, %s, %" PRIu64 " files, %" PRIu64 " of %" PRIu64
			   " blocks free)",
			   region, region_kind_name(region_kind(r)),
			   format_size(region_size(r), sz, sizeof(sz)), st.files, st.blocks_free,
			   st.blocks);
	}

	rc = srv_new(&srv, ns, &so);
	if (rc)
		goto out; /* it said why */
	log_notice("listening on %s (mode %04o, %u workers, at most %u sessions, poll %" PRIu64
		   " us; map trust: %s)",
		   so.socket_path, (unsigned)so.socket_mode, so.workers, so.max_sessions,
		   so.poll_ns / 1000, perm_trust_describe(&trust, buf, sizeof(buf)));
	sd_notify(0, "READY=1");

	rc = srv_run(srv);
	if (rc == 0)
		status = EXIT_SUCCESS;

out:
	srv_delete(&srv);
	if (ns) {
		ns_unmount(&ns);
		log_notice("unmounted %s", region);
	}
	if (online)
		rcu_thread_offline();
	perm_trust_release(&trust);
	return status;
}
