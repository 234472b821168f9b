// SPDX-License-Identifier: MIT
/*
 * test-lincheck-crash - after a crash, daxfsd must recover the state after some prefix of a
 * linearization that holds every request it acknowledged (issue 13; DESIGN §9).
 *
 * 8 client threads run rounds of random requests (tests/helpers/linwork.h: names made,
 * removed, renamed, linked and symlinked, files written and truncated, through paths that
 * cross symbolic links; every other round with a mapper that acknowledges slowly) while
 * the daemon dies:
 *
 * --kill     SIGKILL at a random moment of a round (0 to 15 ms after it starts; a round
 *            takes about that long under ASan). What the daemon stored in the region file
 *            survives, as it would on real persistent memory without a power loss.
 * --persist  the daemon runs with --persist-trace IMAGE and is told to abort at its Nth
 *            persist from now (N random in 1..PERSIST_NMAX, about the persists of a round;
 *            a round that ends first is checked as one without a crash, and N is drawn
 *            again for the next). The
 *            region is then replaced by IMAGE, which holds only what was persisted: what a
 *            power failure would leave.
 *
 * After each crash `daxfs check` of what is left must be clean, a daemon started on it
 * again is scanned, and the history of the round (the requests that got no reply may have
 * happened or not; a write in flight may have left part of its bytes) must have a
 * linearization that ends in the scanned state (tests/helpers/lincheck.h). That state is
 * where the next round starts. CRASHES crashes per run.
 *
 * Usage: test-lincheck-crash --daxfsd=PATH --cli=PATH (--kill | --persist) [seed]
 *        [--crashes=N] [--keep-going]   (the seed also from $DAXFS_TEST_SEED; default 13)
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "lincheck.h"
#include "linwork.h"
#include "testutil.h"

#define CRASHES 100
#define KILL_MS_MAX 15
#define PERSIST_NMAX 12	   /* a round makes about a dozen persists: most of its requests look */
#define ROUNDS_TO_CRASH 20 /* --persist: rounds that must reach the Nth persist */
#define ACTIONS 5
#define WATCHDOG_S 280

static struct t_daemon d;
static uint64_t rng;

struct killer {
	pthread_t th;
	pid_t pid;
	unsigned us;
};

static void *killer_main(void *arg)
{
	struct killer *k = arg;
	struct timespec ts = {k->us / 1000000, (long)(k->us % 1000000) * 1000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	if (kill(k->pid, SIGKILL) < 0)
		T_FAIL("kill daxfsd %d: %s", (int)k->pid, strerror(errno));
	return NULL;
}

static void copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	struct stat sb;

	T_ASSERT(in >= 0 && out >= 0 && fstat(in, &sb) == 0);
	for (off_t done = 0; done < sb.st_size;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)(sb.st_size - done), 0);

		if (n <= 0)
			T_FAIL("copying %s to %s: %s", from, to, n ? strerror(errno) : "EOF");
		done += n;
	}
	close(in);
	close(out);
}

struct run {
	struct lw *w;
	struct lc_state *before, *after;
	uint64_t seed, rounds, crashes, pending, bad, t_check;
	uint64_t pending_kind[LC_KINDS]; /* requests in flight at a crash, by kind */
	bool keep_going, persist;
	bool fresh; /* --keep-going after a violation: start over on a new region */
};

/* check - the history of one round, from r->before to r->after (scanned). */
static void check(struct run *r, const struct lc_op *ops, size_t nops, uint64_t t0, bool crash,
		  bool tree, const char *why)
{
	struct lc_history h = {r->before, r->after, ops, nops, crash};
	uint64_t t = t_now_ms();
	int v = lc_check(&h, NULL);

	r->t_check += t_now_ms() - t;
	if (v < 0)
		T_FAIL("seed %" PRIu64 " round %" PRIu64
		       ": the history outgrew the checker's tables",
		       r->seed, r->rounds);
	if (v == 1 && tree)
		return;
	printf("seed %" PRIu64 " round %" PRIu64 " (%s): ", r->seed, r->rounds,
	       crash ? (r->persist ? "recovered from the durable image" : "recovered after SIGKILL")
		     : "no crash");
	if (!tree)
		printf("the tree scanned after it is not consistent: %s\n", why);
	if (v == 0)
		lc_report(stdout, &h, t0);
	fflush(stdout);
	r->bad++;
	r->fresh = true;
	if (!r->keep_going)
		T_FAIL("seed %" PRIu64 " round %" PRIu64 ": %s (report above)", r->seed, r->rounds,
		       crash ? "the recovered state is not one a linearization reaches"
			     : "the history is not linearizable");
}

/* scan - read the tree into r->after; then it is where the next round starts. */
static bool scan(struct run *r, char *why, size_t len)
{
	return lw_scan(lw_admin(r->w), r->after, why, len);
}

/*
 * start_fresh - (stop the daemon and) start one on a new region with the starting tree,
 * read into r->after. A fresh region, not a reset: a directory's link count that lost an
 * update stays wrong in any tree built in it, its root's included.
 */
static void start_fresh(struct run *r, const char *const *opts)
{
	char why[160];

	if (opts) {
		unlink(t_path("region"));
		t_region_new(t_path("region"), "64M");
		t_daemon_start(&d, t_path("region"), "daxfsd", opts);
		r->w = lw_new(d.sock);
	} else {
		t_daemon_stop(&d);
		unlink(t_path("region"));
		t_region_new(t_path("region"), "64M");
		t_daemon_respawn(&d);
		lw_reopen(r->w);
	}
	lw_reset(lw_admin(r->w));
	if (!scan(r, why, sizeof(why)))
		T_FAIL("the starting tree is not consistent: %s", why);
	r->fresh = false;
}

/* next_round - the next round starts where this one ended (or, after a violation with
 * --keep-going, on a new region). */
static void next_round(struct run *r)
{
	char why[160];

	r->rounds++;
	if (r->fresh)
		start_fresh(r, NULL);
	else if (lw_too_big(r->after)) {
		lw_reset(lw_admin(r->w));
		if (!scan(r, why, sizeof(why)))
			T_FAIL("the tree after a reset is not consistent: %s", why);
	}
	memcpy(r->before, r->after, sizeof(*r->before));
}

/* died - the daemon ended as a crash of @mode should have ended it. */
static void died(bool persist)
{
	int status = t_daemon_wait_exit(&d, 30000);
	int sig = persist ? SIGABRT : SIGKILL;

	if (!WIFSIGNALED(status) || WTERMSIG(status) != sig)
		T_FAIL("daxfsd ended with status 0x%x, not by %s", status, strsignal(sig));
	if (persist && !t_daemon_log_has(&d, "fault injection: crashing at a persist"))
		T_FAIL("daxfsd's log does not say it crashed at a persist");
}

/* recover - start a daemon on what the crash left, and check the round against it. */
static void recover(struct run *r, const struct lc_op *ops, size_t nops, uint64_t t0)
{
	char why[160];
	bool tree;

	if (r->persist) {
		t_check_clean(t_path("image"));
		copy_file(t_path("image"), t_path("region"));
	} else {
		t_check_clean(t_path("region"));
	}
	t_daemon_respawn(&d);
	lw_reopen(r->w);
	tree = scan(r, why, sizeof(why));
	for (size_t i = 0; i < nops; i++) {
		r->pending += ops[i].ret == LC_PENDING;
		r->pending_kind[ops[i].kind] += ops[i].ret == LC_PENDING;
	}
	check(r, ops, nops, t0, true, tree, why);
	r->crashes++;
}

static void crash_kill(struct run *r, struct lw_round_opts *o)
{
	struct killer k = {.pid = d.pid, .us = (unsigned)(t_rand(&rng) % (KILL_MS_MAX * 1000))};
	const struct lc_op *ops;
	uint64_t t0;
	size_t nops;

	T_ASSERT(pthread_create(&k.th, NULL, killer_main, &k) == 0);
	lw_round(r->w, o, r->seed * 1000003 + r->rounds, &ops, &nops, &t0);
	T_ASSERT(pthread_join(k.th, NULL) == 0);
	died(false);
	recover(r, ops, nops, t0);
}

static void crash_persist(struct run *r, struct lw_round_opts *o)
{
	uint64_t n = 1 + t_rand(&rng) % PERSIST_NMAX;
	const struct lc_op *ops;
	uint64_t t0;
	size_t nops;

	T_OK(daxfs_inject(lw_admin(r->w), DAXFS_INJECT_CRASH, NULL, n, 0, NULL));
	for (int i = 0;; i++) {
		char why[160];
		bool tree;

		if (i == ROUNDS_TO_CRASH)
			T_FAIL("%d rounds did not reach persist %" PRIu64, i, n);
		if (lw_round(r->w, o, r->seed * 1000003 + r->rounds, &ops, &nops, &t0))
			break;
		/* Not there yet: an ordinary round; disarmed while the tree is read or reset. */
		T_OK(daxfs_inject(lw_admin(r->w), DAXFS_INJECT_CLEAR, NULL, 0, 0, NULL));
		tree = scan(r, why, sizeof(why));
		check(r, ops, nops, t0, false, tree, why);
		next_round(r);
		n = 1 + t_rand(&rng) % PERSIST_NMAX;
		T_OK(daxfs_inject(lw_admin(r->w), DAXFS_INJECT_CRASH, NULL, n, 0, NULL));
	}
	died(true);
	recover(r, ops, nops, t0);
}

int main(int argc, char **argv)
{
	struct lw_round_opts o = {
		.clients = 8, .actions = ACTIONS, .ack_ms_max = 10, .drop_pct = 0, .crash = true};
	const char *opts[16] = {"--map-users", "root",	    "--lease-break-timeout",
				"100",	       "--poll-us", "0",
				"--workers",   "8",	    NULL};
	struct run r = {0};
	uint64_t want = CRASHES, t_start = t_now_ms();
	bool kill_mode = false;
	int n = 1;

	t_tools_init(&argc, argv);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--kill") == 0)
			kill_mode = true;
		else if (strcmp(argv[i], "--persist") == 0)
			r.persist = true;
		else if (strncmp(argv[i], "--crashes=", 10) == 0)
			want = strtoull(argv[i] + 10, NULL, 0);
		else if (strcmp(argv[i], "--keep-going") == 0)
			r.keep_going = true;
		else
			argv[n++] = argv[i];
	}
	argc = n;
	argv[argc] = NULL;
	if (kill_mode == r.persist)
		T_FAIL("usage: %s --daxfsd=PATH --cli=PATH (--kill | --persist) [seed] "
		       "[--crashes=N] [--keep-going]",
		       argv[0]);
	t_require_root("every request runs as root, which the model assumes; --map-users root");
	r.seed = t_seed(argc, argv, 13);
	rng = r.seed;
	t_watchdog(WATCHDOG_S, "test-lincheck-crash (a hang: a request that never came back?)");
	if (r.persist) {
		opts[8] = "--fault-injection";
		opts[9] = "--persist-trace";
		opts[10] = t_path("image");
		opts[11] = NULL;
	}
	r.before = malloc(sizeof(*r.before));
	r.after = malloc(sizeof(*r.after));
	T_ASSERT(r.before && r.after);
	start_fresh(&r, opts);
	memcpy(r.before, r.after, sizeof(*r.before));

	while (r.crashes < want) {
		o.mapper = r.crashes % 2 == 1;
		if (r.persist)
			crash_persist(&r, &o);
		else
			crash_kill(&r, &o);
		next_round(&r);
	}
	printf("%" PRIu64 " crashes (%s) in %" PRIu64 " rounds, %" PRIu64 " requests (%" PRIu64
	       " in flight at a crash), %" PRIu64 " not linearizable; %" PRIu64
	       " ms in all, %" PRIu64 " ms checking\n",
	       r.crashes,
	       r.persist ? "at a random persist, recovered from the durable image"
			 : "SIGKILL at a random moment",
	       r.rounds, lw_stats(r.w)->ops, r.pending, r.bad, t_now_ms() - t_start, r.t_check);
	printf("in flight at the crashes:");
	for (int k = 0; k < LC_KINDS; k++) {
		static const char *const names[LC_KINDS] = {
			"stat",	  "getattr",  "create",	  "mkdir",  "unlink", "rmdir",
			"rename", "chmod",    "truncate", "write",  "read",   "readdir",
			"lstat",  "readlink", "link",	  "symlink"};

		printf(" %s %" PRIu64 "%s", names[k], r.pending_kind[k],
		       k + 1 < LC_KINDS ? "," : "\n");
	}
	lw_delete(&r.w);
	t_daemon_stop(&d);
	t_check_clean(t_path("region"));
	free(r.before);
	free(r.after);
	if (r.bad)
		T_FAIL("%" PRIu64 " rounds were not linearizable (seed %" PRIu64 ")", r.bad,
		       r.seed);
	printf("ok\n");
	return 0;
}
