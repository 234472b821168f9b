// SPDX-License-Identifier: MIT
/*
 * test-lincheck - is daxfsd linearizable? (issue 13: no lost updates)
 *
 * 8 client threads, each with its own libdaxfs handle, send random requests to a real
 * daxfsd on one small tree (tests/helpers/linwork.h): create, mkdir, unlink, rmdir, rename,
 * link, symlink, chmod of files and directories, truncate, write, and stat, lstat,
 * getattr, read, readlink, readdir to see what happened; paths cross symbolic links to
 * files and directories, dangling ones and loops, and files have several names. Every
 * other round also has a client that maps a file and acknowledges its INVALIDATE slowly
 * (0..10 ms; 1 time in 50 never, and the daemon drops it after its --lease-break-timeout of
 * 100 ms), and renames, unlinks and truncates aim at that file: they then wait for it,
 * which is where the issue found a chmod and a write lost. Links aim at it too: once it has
 * another name, an unlink or a rename over one of them leaves it, and its mapping, alone.
 *
 * The requests of a round and their replies are checked against the sequential model
 * (tests/helpers/lincheck.h), from the state a scan read before the round to the state a
 * scan reads after it. The rounds are short (a few dozen requests) so that each check is
 * cheap; there are enough of them for at least OPS_MIN requests in all. A history that is
 * not linearizable fails the test with a report: the smallest part of it that still is
 * not, and the seed and round to find it again.
 *
 * Usage: test-lincheck --daxfsd=PATH --cli=PATH [seed] [--ops=N] [--keep-going]
 *        (the seed also from $DAXFS_TEST_SEED; default 13). --keep-going reports every
 *        history that is not linearizable and fails only at the end.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <time.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "lincheck.h"
#include "linwork.h"
#include "testutil.h"

#if defined(__SANITIZE_THREAD__)
#define OPS_MIN 8000 /* ThreadSanitizer: the daemon is ~5x slower (~45 s) */
#else
#define OPS_MIN 50000
#endif
#define ACTIONS 5 /* per client per round: 5-10 requests */
#define WATCHDOG_S 270

static struct t_daemon d;
static const char *const daemon_opts[] = {"--map-users", "root",      "--lease-break-timeout",
					  "100",	 "--poll-us", "0",
					  "--workers",	 "8",	      NULL};

/*
 * start_fresh - (stop the daemon and) start one on a new region, with the starting tree in
 * it, read into @s. A fresh region, not a reset: a directory's link count that lost an
 * update stays wrong in any tree built in it, its root's included.
 */
static struct lw *start_fresh(struct lw *w, struct lc_state *s)
{
	char why[160];

	if (w) {
		t_daemon_stop(&d);
		t_daemon_forget(&d);
	}
	unlink(t_path("region"));
	t_region_new(t_path("region"), "64M");
	t_daemon_start(&d, t_path("region"), "daxfsd", daemon_opts);
	if (w)
		lw_reopen(w);
	else
		w = lw_new(d.sock);
	lw_reset(lw_admin(w));
	if (!lw_scan(lw_admin(w), s, why, sizeof(why)))
		T_FAIL("the starting tree is not consistent: %s", why);
	return w;
}

int main(int argc, char **argv)
{
	struct lw_round_opts o = {
		.clients = 8, .actions = ACTIONS, .ack_ms_max = 10, .drop_pct = 2};
	uint64_t seed, ops_min = OPS_MIN, t_start = t_now_ms(), t_check = 0, nodes = 0;
	uint64_t rounds = 0, resets = 0, bad = 0;
	unsigned max_run = 0, max_places = 0;
	struct lc_state *before = malloc(sizeof(*before)), *after = malloc(sizeof(*after));
	const struct lw_stats *ws;
	bool keep_going = false;
	struct lw *w = NULL;
	int n = 1;

	t_tools_init(&argc, argv);
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--ops=", 6) == 0)
			ops_min = strtoull(argv[i] + 6, NULL, 0);
		else if (strcmp(argv[i], "--keep-going") == 0)
			keep_going = true;
		else
			argv[n++] = argv[i];
	}
	argc = n;
	argv[argc] = NULL;
	T_ASSERT(before && after);
	t_require_root("every request runs as root, which the model assumes; --map-users root");
	seed = t_seed(argc, argv, 13);
	t_watchdog(WATCHDOG_S, "test-lincheck (a hang: a request that never came back?)");
	w = start_fresh(NULL, before);
	ws = lw_stats(w);

	for (; ws->ops < ops_min; rounds++) {
		const struct lc_op *ops;
		struct lc_history h;
		struct lc_stats st;
		uint64_t t0, t;
		char why[160];
		bool tree;
		size_t nops;
		int r;

		o.mapper = rounds % 2 == 1;
		lw_round(w, &o, seed * 1000003 + rounds, &ops, &nops, &t0);
		tree = lw_scan(lw_admin(w), after, why, sizeof(why));
		h = (struct lc_history){before, after, ops, nops, false};
		t = t_now_ms();
		r = lc_check(&h, &st);
		t_check += t_now_ms() - t;
		nodes += st.nodes;
		max_run = st.max_run > max_run ? st.max_run : max_run;
		max_places = st.max_places > max_places ? st.max_places : max_places;
		if (r < 0)
			T_FAIL("seed %" PRIu64 " round %" PRIu64
			       ": the history outgrew the checker's "
			       "tables",
			       seed, rounds);
		if (r == 0 || !tree) {
			printf("seed %" PRIu64 " round %" PRIu64 " (%s): ", seed, rounds,
			       o.mapper ? "with a slow mapper" : "no mapper");
			if (!tree)
				printf("the tree scanned after it is not consistent: %s\n", why);
			if (r == 0)
				lc_report(stdout, &h, t0);
			fflush(stdout);
			t_daemon_check_alive(&d);
			if (!keep_going)
				T_FAIL("seed %" PRIu64 " round %" PRIu64
				       ": the history is not linearizable (report above; the same "
				       "seed makes the same requests, not the same timing)",
				       seed, rounds);
			bad++;
			start_fresh(w, before);
			continue;
		}
		if (lw_too_big(after)) {
			lw_reset(lw_admin(w));
			if (!lw_scan(lw_admin(w), after, why, sizeof(why)))
				T_FAIL("the tree after a reset is not consistent: %s", why);
			resets++;
		}
		memcpy(before, after, sizeof(*before));
	}
	t_daemon_check_alive(&d);
	printf("%" PRIu64 " rounds, %" PRIu64 " requests, %" PRIu64
	       " rounds not linearizable (%" PRIu64 " tree resets)\n",
	       rounds, ws->ops, bad, resets);
	for (int k = 0; k < LC_KINDS; k++) {
		static const char *const names[LC_KINDS] = {
			"stat",	  "getattr",  "create",	  "mkdir",  "unlink", "rmdir",
			"rename", "chmod",    "truncate", "write",  "read",   "readdir",
			"lstat",  "readlink", "link",	  "symlink"};

		printf("  %-9s %6" PRIu64 " (%" PRIu64 " without an error)\n", names[k],
		       ws->kinds[k], ws->ok[k]);
	}
	printf("%" PRIu64 " answered ELOOP (a walk through a loop of symbolic links)\n", ws->eloop);
	printf("mapper: %" PRIu64 " mappings, %" PRIu64
	       " lease breaks acknowledged slowly, %" PRIu64 " never (dropped)\n",
	       ws->maps, ws->lease_breaks, ws->dropped);
	printf("%" PRIu64 " ms in all, %" PRIu64 " ms checking (%" PRIu64
	       " configurations explored; at most %u requests running at once, %u places of one "
	       "request's program)\n",
	       t_now_ms() - t_start, t_check, nodes, max_run, max_places);
	lw_delete(&w);
	t_daemon_stop(&d);
	t_check_clean(t_path("region"));
	free(before);
	free(after);
	if (bad)
		T_FAIL("%" PRIu64 " of %" PRIu64 " rounds were not linearizable (seed %" PRIu64 ")",
		       bad, rounds, seed);
	printf("ok\n");
	return 0;
}
