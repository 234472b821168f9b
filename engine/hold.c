// SPDX-License-Identifier: MIT
/*
 * Holds that outlive the daemon (DESIGN §6).
 *
 * Blocks freed under a client that lost its session for not acknowledging a lease break
 * stay out of use until its process has exited: that process may still map them. The
 * in-memory hold (lease.c) ends when the server sees the process exit (pidfd). For the
 * hold to survive a restart or a crash, the transaction that frees the blocks carries a
 * HOLD record per run and per process (pid and start time, so a reused pid is not taken
 * for the holder; when they do not fit, a transaction of their own follows it), and the
 * end of the hold logs a RELEASE record. Replay reserves a
 * held run again; ns_holds_check() then releases it once every process it names is gone.
 *
 * ns->pholds lists the persisted holds, under grant_lock (a leaf lock): the ones of live
 * in-memory holds (ended by RELEASE when their hold ends) and the ones restored at mount
 * (ended by ns_holds_check).
 *
 * The in-memory hold (struct ns_hold) lives here too: lease.c makes one when a lease break
 * expires a holder, the freeing transaction hands it its runs (through the tx hooks this
 * module registers), and the last expired grant to go ends it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "nsint.h"
#include "util.h"

/* Blocks held back for holders that did not let go; freed when the last of them is deleted. */
struct ns_hold {
	unsigned refs; /* the caller's + one per expired grant; under grant_lock */
	size_t n;
	struct ns_run *runs;
	/* The holders' processes, for the HOLD records. */
	struct ns_proc *procs;
	size_t nprocs;
	bool persisted; /* HOLD records were logged: its end logs RELEASE */
};

struct ns_phold {
	struct cds_list_head node;
	uint64_t block, count, start;
	uint32_t pid;
	bool restored; /* replayed at mount: no in-memory hold; ns_holds_check ends it */
};

int ns_proc_start(uint32_t pid, uint64_t *start)
{
	char path[64], buf[1024], state;
	unsigned long long st;
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ESRCH;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	/* "pid (comm) S ppid ...": comm may hold spaces and parentheses; the last ')' ends it. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1,
			 " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
			 "%*d %llu",
			 &state, &st) != 2)
		return -ESRCH;
	/* A zombie has let go of its mappings already. */
	if (state == 'Z' || state == 'X')
		return -ESRCH;
	*start = st;
	return 0;
}

/* proc_alive - is the process that started at @start as @pid still there? */
static bool proc_alive(uint32_t pid, uint64_t start)
{
	uint64_t now;

	return ns_proc_start(pid, &now) == 0 && now == start;
}

/* --- applying the records (nsapply.c calls these through the hooks) --- */

static bool run_held(struct ns *ns, uint64_t block, uint64_t count)
{
	struct ns_phold *p;

	cds_list_for_each_entry (p, &ns->pholds, node)
		if (p->block == block && p->count == count)
			return true;
	return false;
}

static int apply_hold(struct ns *ns, struct ns_txctx *tc, const struct fmt_hold *h)
{
	struct ns_phold *p;
	int rc = 0;

	if (h->count == 0 || !alloc_contains(ns->alloc, h->block, h->count))
		return ns_damage(ns, "HOLD %" PRIu64 "+%" PRIu64 " is outside the data area",
				 h->block, h->count);
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	*p = (struct ns_phold){.block = h->block,
			       .count = h->count,
			       .start = h->start,
			       .pid = h->pid,
			       .restored = !tc->live};
	pthread_mutex_lock(&ns->grant_lock);
	/*
	 * At mount the run was freed by the records before: take it out of use again (its
	 * quarantined blocks too: the hold frees them when it ends, as any of its blocks).
	 */
	if (!tc->live && !run_held(ns, h->block, h->count)) {
		rc = alloc_reserve_held(ns->alloc, h->block, h->count);
		if (rc == 0) {
			ns->held_blocks += h->count;
			__atomic_store_n(&ns->holds_restored, true, __ATOMIC_RELEASE);
		}
	}
	if (rc == 0)
		cds_list_add_tail(&p->node, &ns->pholds);
	pthread_mutex_unlock(&ns->grant_lock);
	if (rc) {
		free(p);
		return ns_damage(ns, "HOLD %" PRIu64 "+%" PRIu64 " names blocks in use", h->block,
				 h->count);
	}
	return 0;
}

static int apply_release(struct ns *ns, struct ns_txctx *tc, const struct fmt_release *r,
			 bool *restored)
{
	struct ns_phold *p, *tmp;
	bool found = false;

	*restored = false;
	pthread_mutex_lock(&ns->grant_lock);
	cds_list_for_each_entry_safe (p, tmp, &ns->pholds, node) {
		if (p->block != r->block || p->count != r->count)
			continue;
		found = true;
		*restored |= p->restored || !tc->live;
		cds_list_del(&p->node);
		free(p);
	}
	/* A restored hold's blocks are counted here; a live hold's by lease.c. */
	if (found && *restored)
		ns->held_blocks -= r->count;
	pthread_mutex_unlock(&ns->grant_lock);
	/* The caller frees the run when it was restored (reserved at mount). */
	*restored = found && *restored;
	return 0;
}

void ns_holds_free(struct ns *ns)
{
	struct ns_phold *p, *tmp;

	cds_list_for_each_entry_safe (p, tmp, &ns->pholds, node) {
		cds_list_del(&p->node);
		free(p);
	}
}

/* --- writing them --- */

/* Records per transaction, within FMT_TX_MAX_RECS. */
#define HOLD_TX_RECS 60

/*
 * log_records - @n records of @type, each @size bytes of @payloads, in transactions of at
 * most HOLD_TX_RECS. Return: 0; what ns_tx_run returned (the records before it stay).
 */
static int log_records(struct ns *ns, unsigned type, const void *payloads, size_t size, size_t n)
{
	struct mlog_tx tx;
	int rc = 0;

	mlog_tx_init(&tx);
	for (size_t i = 0; i < n && rc == 0; i++) {
		void *rec = mlog_tx_add(&tx, type, size);

		if (rec)
			memcpy(rec, (const char *)payloads + i * size, size);
		if (tx.nrecs >= HOLD_TX_RECS || i + 1 == n) {
			rc = ns_tx_run(ns, NULL, &tx);
			mlog_tx_reset(&tx);
		}
	}
	mlog_tx_release(&tx);
	return rc;
}

static bool hold_persist(struct ns *ns, const struct ns_proc *procs, size_t nprocs,
			 const struct ns_run *runs, size_t nruns)
{
	size_t total = nruns * nprocs;
	struct fmt_hold *v = calloc(total ? total : 1, sizeof(*v));
	size_t n = 0;
	int rc = -ENOMEM;

	if (v) {
		for (size_t i = 0; i < nruns; i++)
			for (size_t k = 0; k < nprocs; k++)
				v[n++] = (struct fmt_hold){runs[i].block, runs[i].count,
							   procs[k].start, procs[k].pid, 0};
		rc = log_records(ns, FMT_REC_HOLD, v, sizeof(*v), n);
		free(v);
	}
	if (rc) {
		/* Still held in memory; only a restart before the process exits frees them. */
		log_warn("%s: cannot record held blocks (%s): a restart while the dropped client "
			 "runs would release them early",
			 region_path(ns->r), strerror(-rc));
		return false;
	}
	return true;
}

static int hold_release_persist(struct ns *ns, const struct ns_run *runs, size_t nruns)
{
	struct fmt_release *v = calloc(nruns ? nruns : 1, sizeof(*v));
	int rc = -ENOMEM;

	if (v) {
		for (size_t i = 0; i < nruns; i++)
			v[i] = (struct fmt_release){runs[i].block, runs[i].count};
		rc = log_records(ns, FMT_REC_RELEASE, v, sizeof(*v), nruns);
		free(v);
	}
	if (rc)
		log_warn("%s: cannot record the end of a hold (%s): the blocks stay out of use "
			 "until a restart finds the process gone",
			 region_path(ns->r), strerror(-rc));
	return rc;
}

/* copy_pholds - the persisted holds (restored ones only, with @restored_only). */
static struct ns_phold *copy_pholds(struct ns *ns, bool restored_only, size_t *n)
{
	struct ns_phold *v = NULL, *p;
	size_t cnt = 0, i = 0;

	pthread_mutex_lock(&ns->grant_lock);
	cds_list_for_each_entry (p, &ns->pholds, node)
		cnt += !restored_only || p->restored;
	if (cnt)
		v = malloc(cnt * sizeof(*v));
	if (v)
		cds_list_for_each_entry (p, &ns->pholds, node)
			if (!restored_only || p->restored)
				v[i++] = *p;
	pthread_mutex_unlock(&ns->grant_lock);
	*n = v ? cnt : 0;
	return v;
}

static int holds_snapshot(struct ns *ns, struct mlog_snap *s)
{
	size_t n;
	struct ns_phold *v = copy_pholds(ns, false, &n);
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		struct fmt_hold h = {v[i].block, v[i].count, v[i].start, v[i].pid, 0};

		rc = mlog_snap_add(s, FMT_REC_HOLD, &h, sizeof(h));
	}
	free(v);
	return rc;
}

int64_t ns_holds_check(struct ns *ns)
{
	struct ns_phold *v;
	uint64_t remaining = 0;
	size_t n;

	if (!__atomic_load_n(&ns->holds_restored, __ATOMIC_ACQUIRE))
		return 0;
	v = copy_pholds(ns, true, &n);
	for (size_t i = 0; i < n; i++) {
		struct ns_run run = {v[i].block, v[i].count};
		bool seen = false, alive = false;

		/* Each run once, at its first entry, with every process that holds it. */
		for (size_t k = 0; k < i && !seen; k++)
			seen = v[k].block == run.block && v[k].count == run.count;
		if (seen)
			continue;
		for (size_t k = i; k < n; k++)
			if (v[k].block == run.block && v[k].count == run.count)
				alive = alive || proc_alive(v[k].pid, v[k].start);
		if (alive) {
			remaining += run.count;
			continue;
		}
		if (hold_release_persist(ns, &run, 1) == 0)
			log_notice("%s: released %" PRIu64 " blocks held since before the restart "
				   "for a dropped client: its process is gone",
				   region_path(ns->r), run.count);
		else
			remaining += run.count;
	}
	free(v);
	if (remaining == 0)
		__atomic_store_n(&ns->holds_restored, false, __ATOMIC_RELEASE);
	return (int64_t)remaining;
}

/* --- in-memory holds --- */

struct ns_hold *ns_hold_new(void)
{
	struct ns_hold *h = calloc(1, sizeof(*h));

	if (h)
		h->refs = 1;
	return h;
}

void ns_hold_get(struct ns_hold *h)
{
	h->refs++;
}

void ns_hold_add_proc(struct ns_hold *h, uint32_t pid)
{
	struct ns_proc p = {.pid = pid}, *v;

	if (pid == 0 || ns_proc_start(pid, &p.start))
		return;
	for (size_t i = 0; i < h->nprocs; i++)
		if (h->procs[i].pid == p.pid && h->procs[i].start == p.start)
			return;
	v = realloc(h->procs, (h->nprocs + 1) * sizeof(*v));
	if (!v)
		return;
	h->procs = v;
	h->procs[h->nprocs++] = p;
}

struct ns_hold *ns_hold_put_locked(struct ns *ns, struct ns_hold *h)
{
	uint64_t blocks = 0;

	if (--h->refs)
		return NULL;
	for (size_t i = 0; i < h->n; i++)
		blocks += h->runs[i].count;
	ns->held_blocks -= blocks;
	return h;
}

static void hold_destroy(struct ns_hold *h)
{
	free(h->runs);
	free(h->procs);
	free(h);
}

struct hold_release {
	struct rcu_head rcu;
	struct ns *ns;
	struct ns_hold *h;
};

static void hold_free_cb(struct rcu_head *head)
{
	struct hold_release *hr;

	rcu_cb_begin(head);
	hr = caa_container_of(head, struct hold_release, rcu);
	for (size_t i = 0; i < hr->h->n; i++)
		alloc_free(hr->ns->alloc, hr->h->runs[i].block, hr->h->runs[i].count);
	hold_destroy(hr->h);
	free(hr);
	rcu_cb_end();
}

void ns_hold_end(struct ns *ns, struct ns_hold *h, bool keep)
{
	struct hold_release *hr;

	if (h->persisted && keep) {
		hold_destroy(h);
		return;
	}
	if (h->persisted && hold_release_persist(ns, h->runs, h->n)) {
		/* Not recorded: freeing them now could hand them out while the log holds them. */
		hold_destroy(h);
		return;
	}
	hr = malloc(sizeof(*hr));
	if (!hr) {
		/* Keep them out of use rather than risk handing them out early. */
		log_warn("out of memory releasing %zu held block runs; they stay unused until "
			 "restart",
			 h->n);
		hold_destroy(h);
		return;
	}
	hr->ns = ns;
	hr->h = h;
	rcu_defer(&hr->rcu, hold_free_cb);
}

void ns_hold_put(struct ns *ns, struct ns_hold *h)
{
	struct ns_hold *ended;

	if (!h)
		return;
	pthread_mutex_lock(&ns->grant_lock);
	ended = ns_hold_put_locked(ns, h);
	pthread_mutex_unlock(&ns->grant_lock);
	if (ended)
		ns_hold_end(ns, ended, false);
}

/* hold_procs - a malloc'd copy of @h's processes. Return: how many (0: *@out NULL). */
static size_t hold_procs(struct ns *ns, struct ns_hold *h, struct ns_proc **out)
{
	size_t n = 0;

	*out = NULL;
	pthread_mutex_lock(&ns->grant_lock);
	if (h->nprocs) {
		*out = malloc(h->nprocs * sizeof(**out));
		if (*out) {
			n = h->nprocs;
			memcpy(*out, h->procs, n * sizeof(**out));
		}
	}
	pthread_mutex_unlock(&ns->grant_lock);
	return n;
}

/*
 * tx_hold_records - the tx hook: append @h's HOLD records, one per run that @tc (what @tx
 * will free) holds and per process, when they fit the transaction and the log.
 * Context: tx.c, tx lock shared, @tx's room reserved. Return: true when appended.
 */
static bool tx_hold_records(struct ns *ns, struct ns_hold *h, struct mlog_tx *tx,
			    struct ns_txctx *tc)
{
	size_t used = tx->used, nprocs, n;
	unsigned nrecs = tx->nrecs;
	struct ns_proc *procs;
	bool ok = false;

	nprocs = hold_procs(ns, h, &procs);
	n = nprocs * tc->nfrees;
	if (n == 0 || tx->nrecs + n > FMT_TX_MAX_RECS ||
	    mlog_reserve(ns->log, n * (sizeof(struct fmt_rec) + sizeof(struct fmt_hold))))
		goto out;
	for (size_t i = 0; i < tc->nfrees; i++) {
		for (size_t k = 0; k < nprocs; k++) {
			struct fmt_hold *r = mlog_tx_add(tx, FMT_REC_HOLD, sizeof(*r));

			if (r)
				*r = (struct fmt_hold){tc->frees[i].block, tc->frees[i].count,
						       procs[k].start, procs[k].pid, 0};
		}
	}
	if (tx->err) {
		/* No memory for them: take them out again; they go in a transaction of their own. */
		tx->used = used;
		tx->nrecs = nrecs;
		tx->err = 0;
		mlog_unreserve(ns->log, n * (sizeof(struct fmt_rec) + sizeof(struct fmt_hold)));
		goto out;
	}
	ok = true;
out:
	free(procs);
	return ok;
}

/*
 * tx_hold_runs - the tx hook after the commit: @tc's freed runs go to @h instead of the
 * allocator; their HOLD records follow in a transaction of their own unless the freeing
 * one carried them (@logged).
 */
static void tx_hold_runs(struct ns *ns, struct ns_hold *h, struct ns_txctx *tc, bool logged)
{
	struct ns_proc *procs;
	struct ns_run *runs;
	uint64_t blocks = 0;
	bool persisted = logged;
	size_t nprocs;

	if (!logged) {
		nprocs = hold_procs(ns, h, &procs);
		if (nprocs)
			persisted = hold_persist(ns, procs, nprocs, tc->frees, tc->nfrees);
		free(procs);
	}

	pthread_mutex_lock(&ns->grant_lock);
	h->persisted |= persisted;
	runs = realloc(h->runs, (h->n + tc->nfrees) * sizeof(*runs));
	if (runs) {
		memcpy(runs + h->n, tc->frees, tc->nfrees * sizeof(*runs));
		h->runs = runs;
		h->n += tc->nfrees;
		for (size_t i = 0; i < tc->nfrees; i++)
			blocks += tc->frees[i].count;
		ns->held_blocks += blocks;
	} else {
		log_warn("out of memory holding blocks for an expired lease; they stay unused "
			 "until restart");
	}
	pthread_mutex_unlock(&ns->grant_lock);
	tc->nfrees = 0;
}

void ns_hold_register(struct ns *ns)
{
	ns->hooks.apply_hold = apply_hold;
	ns->hooks.apply_release = apply_release;
	ns->hooks.tx_hold_records = tx_hold_records;
	ns->hooks.tx_hold_runs = tx_hold_runs;
	ns->hooks.hold_put = ns_hold_put;
	ns->hooks.snapshot = holds_snapshot;
}

uint64_t ns_held_blocks(struct ns *ns)
{
	uint64_t n;

	pthread_mutex_lock(&ns->grant_lock);
	n = ns->held_blocks;
	pthread_mutex_unlock(&ns->grant_lock);
	return n;
}
