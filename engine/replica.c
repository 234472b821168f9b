// SPDX-License-Identifier: MIT
/*
 * replica - pairing a region with its replica at mount, the background copy, the state in
 * the superblock (replica.h).
 */
#include "replica.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "mlog.h"
#include "nsint.h"
#include "poison.h"
#include "region.h"
#include "util.h"

/* The copy goes a chunk at a time: progress, the stop flag and poison between chunks. */
#define RESYNC_CHUNK (2ULL << 20)

struct replica {
	struct region *r; /* the region (its mirror is the replica) */
	char *path;
	bool trusted; /* the copies were equal at attach */
	pthread_t thread;
	bool running; /* the thread was started (joined by replica_stop) */
	int stop;     /* atomic */
	int degraded; /* atomic: 0; 1 why[] being written; 2 the replica failed, why[] says how */
	char why[160];
};

const char *replica_status_name(enum replica_status s)
{
	switch (s) {
	case REPLICA_NONE:
		return "none";
	case REPLICA_INSYNC:
		return "in sync";
	case REPLICA_RESYNCING:
		return "resyncing";
	case REPLICA_DEGRADED:
		return "degraded";
	}
	return "unknown";
}

/* same_file - do @a and @b name one file or device? */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	if (stat(a, &sa) || stat(b, &sb))
		return false;
	if (S_ISCHR(sa.st_mode) && S_ISCHR(sb.st_mode))
		return sa.st_rdev == sb.st_rdev;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static void uuid_str(char *out, const uint8_t *u)
{
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", u[i]);
}

/*
 * trusted - may the replica stand in for the region at once? Only when the pair was left
 * CLEAN and the replica's superblock is the region's, generation included: anything else
 * (a crash, a run without the replica, a replica that was written alone) is copied again.
 * Return: 0 (*@ok set); -EINVAL the replica holds another daxfs file system (logged).
 */
static int trusted(struct region *r, struct region *m, const struct fmt_super *sb, bool *ok)
{
	struct fmt_super msb;
	char a[33], b[33];
	int rc;

	*ok = false;
	rc = mlog_probe(m, &msb, NULL, NULL, NULL);
	if (rc)
		return 0; /* no daxfs there (or damaged superblocks): all of it is copied */
	if (memcmp(msb.uuid, sb->uuid, sizeof(sb->uuid))) {
		uuid_str(a, msb.uuid);
		uuid_str(b, sb->uuid);
		log_err("replica %s belongs to another daxfs file system (uuid %s, not %s of %s); "
			"format it, or wipe it, to use it as this region's replica",
			region_path(m), a, b, region_path(r));
		return -EINVAL;
	}
	*ok = (sb->incompat & FMT_INCOMPAT_REPLICA) && sb->replica == FMT_REPLICA_CLEAN &&
	      msb.replica == FMT_REPLICA_CLEAN && msb.gen == sb->gen;
	return 0;
}

/* open_replica - open @path as a replica of @r: not @r itself, of its size and kind. */
static int open_replica(struct region **out, struct region *r, const char *path, bool create)
{
	struct region *m;
	int rc;

	*out = NULL;
	if (same_file(region_path(r), path)) {
		log_err("replica %s is the region %s itself; a replica must be another device or "
			"file",
			path, region_path(r));
		return -EINVAL;
	}
	rc = region_open(&m, path, region_kind(r), REGION_REPLICA | (create ? REGION_CREATE : 0),
			 region_size(r));
	if (rc)
		return rc;
	if (region_size(m) != region_size(r)) {
		log_err("replica %s is %" PRIu64 " bytes, the region %s %" PRIu64
			"; a replica must be of the same size",
			path, region_size(m), region_path(r), region_size(r));
		region_close(&m);
		return -EINVAL;
	}
	*out = m;
	return 0;
}

int replica_attach(struct replica **out, struct region *r, const char *path,
		   const struct fmt_super *sb)
{
	struct replica *rep;
	struct region *m;
	bool ok;
	int rc;

	*out = NULL;
	if (region_is_rdonly(r)) {
		log_err("%s: a read-only mount cannot keep the replica %s current", region_path(r),
			path);
		return -EINVAL;
	}
	rc = open_replica(&m, r, path, false);
	if (rc)
		return rc;
	rc = trusted(r, m, sb, &ok);
	if (rc == 0)
		rc = region_mirror_attach(r, m, ok);
	if (rc) {
		region_close(&m);
		return rc;
	}
	rep = calloc(1, sizeof(*rep));
	if (rep)
		rep->path = strdup(path);
	if (!rep || !rep->path) {
		free(rep);
		region_close(&m);
		region_mirror_detach(r);
		return -ENOMEM;
	}
	rep->r = r;
	rep->trusted = ok;
	*out = rep;
	return 0;
}

int replica_format_attach(struct region *r, const char *path, bool create, bool force)
{
	struct fmt_super sb;
	struct region *m;
	int rc;

	rc = open_replica(&m, r, path, create && region_kind(r) == REGION_EMULATED);
	if (rc)
		return rc;
	if (!force && mlog_probe(m, &sb, NULL, NULL, NULL) != -ENODATA) {
		log_err("replica %s already holds a daxfs file system; use --force to format it "
			"anyway",
			path);
		region_close(&m);
		return -EEXIST;
	}
	rc = region_mirror_attach(r, m, true);
	if (rc)
		region_close(&m);
	return rc;
}

static void degrade(struct replica *rep, const char *why)
{
	int zero = 0;

	if (!__atomic_compare_exchange_n(&rep->degraded, &zero, 1, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return;
	snprintf(rep->why, sizeof(rep->why), "%s", why);
	__atomic_store_n(&rep->degraded, 2, __ATOMIC_RELEASE);
	log_err("%s: replica %s: %s; the region runs without it until it is resynced",
		region_path(rep->r), rep->path, why);
}

/* The background copy. A media error of the region it meets is quarantined (no good copy). */
static void *resync_main(void *arg)
{
	struct ns *ns = arg;
	struct replica *rep = ns->replica;
	struct region_sync_stats st = {0};
	uint64_t size = region_size(rep->r), start = mono_ns();

	rcu_thread_online();
	while (!__atomic_load_n(&rep->stop, __ATOMIC_ACQUIRE)) {
		uint64_t off = region_mirror_synced(rep->r);
		int rc;

		if (off >= size)
			break;
		rc = region_mirror_sync(rep->r, MIN(off + RESYNC_CHUNK, size), &st);
		poison_drain(ns);
		if (rc) {
			degrade(rep, "the copy failed (a fault in the replica)");
			break;
		}
	}
	if (region_mirror_synced(rep->r) >= size)
		log_notice("%s: replica %s is in sync: %" PRIu64 " blocks copied in %" PRIu64
			   " ms (%" PRIu64 " poisoned here were left out, %" PRIu64
			   " poisoned there)",
			   region_path(rep->r), rep->path, st.blocks, (mono_ns() - start) / 1000000,
			   st.ours_bad, st.mirror_bad);
	rcu_thread_offline();
	return NULL;
}

/* say_version3 - the region is about to become format version 3: say what that means. */
static void say_version3(struct ns *ns)
{
	if (mlog_super(ns->log)->incompat & FMT_INCOMPAT_REPLICA)
		return;
	log_notice("%s: now format version 3 (a region with a replica); daxfs before 0.3 cannot "
		   "mount it until 'daxfs replica remove' takes the replica away",
		   region_path(ns->r));
}

/* start_copy - the background copy of @rep's region to it. Return: 0; -errno (logged). */
static int start_copy(struct ns *ns, struct replica *rep)
{
	int rc;

	log_notice("%s: copying the region to its replica %s in the background", region_path(ns->r),
		   rep->path);
	rc = pthread_create(&rep->thread, NULL, resync_main, ns);
	if (rc) {
		log_err("%s: cannot start the replica copy: %s", region_path(ns->r), strerror(rc));
		return -rc;
	}
	rep->running = true;
	return 0;
}

/* stop_copy - stop the background copy, if it runs, and wait for it. */
static void stop_copy(struct replica *rep)
{
	if (!rep->running)
		return;
	__atomic_store_n(&rep->stop, 1, __ATOMIC_RELEASE);
	pthread_join(rep->thread, NULL);
	rep->running = false;
	__atomic_store_n(&rep->stop, 0, __ATOMIC_RELEASE);
}

int replica_start(struct ns *ns, struct replica *rep)
{
	const struct fmt_super *sb = mlog_super(ns->log);
	int rc;

	ns->replica = rep;
	if (!rep) {
		if (!(sb->incompat & FMT_INCOMPAT_REPLICA))
			return 0;
		log_warn("%s has a replica, which was not given (daxfsd --replica); it runs "
			 "degraded: a media error loses data, and the replica is copied again "
			 "when it is back",
			 region_path(ns->r));
		if (ns_writable(ns) || sb->replica == FMT_REPLICA_OPEN)
			return 0;
		return mlog_set_replica(ns->log, FMT_REPLICA_OPEN);
	}
	/* Marked before any other write: a crash from here on makes the next start resync. */
	say_version3(ns);
	rc = mlog_set_replica(ns->log, FMT_REPLICA_OPEN);
	if (rc) {
		log_err("%s: cannot record the replica in the superblock: %s", region_path(ns->r),
			strerror(-rc));
		return rc;
	}
	if (rep->trusted) {
		log_info("%s: replica %s is in sync", region_path(ns->r), rep->path);
		return 0;
	}
	return start_copy(ns, rep);
}

void replica_stop(struct ns *ns, struct replica *rep)
{
	if (!rep)
		return;
	stop_copy(rep);
	if (region_failed(region_mirror(rep->r), NULL))
		degrade(rep, "a fault in the replica");
	if (!__atomic_load_n(&rep->degraded, __ATOMIC_ACQUIRE) && !ns_writable(ns) &&
	    region_mirror_synced(rep->r) == region_size(rep->r))
		mlog_set_replica(ns->log, FMT_REPLICA_CLEAN);
	ns->replica = NULL;
	replica_free(rep);
}

int replica_persist_file(struct ns *ns, uint64_t ino, uint64_t off, uint64_t len)
{
	uint64_t idx = off / FMT_BLOCK_SIZE, end = DIV_ROUND_UP(off + len, FMT_BLOCK_SIZE);
	struct ns_extent ext[32];
	int rc = 0;

	if (!region_mirror(ns->r) || len == 0)
		return 0;
	while (idx < end) {
		uint64_t next;
		int n = ns_extents(ns, ino, idx, ext, 32, &next);

		if (n < 0)
			return n;
		for (int i = 0; i < n && ext[i].index < end; i++) {
			uint64_t lo = MAX(ext[i].index, idx),
				 hi = MIN(ext[i].index + ext[i].count, end);

			if (lo >= hi || (ext[i].flags & (NS_EXT_HOLE | NS_EXT_POISON)))
				continue;
			/* A block may change owner meanwhile: copying it is still right. */
			if (region_mirror_update(
				    ns->r, (ext[i].block + lo - ext[i].index) * FMT_BLOCK_SIZE,
				    (hi - lo) * FMT_BLOCK_SIZE))
				rc = -EIO;
		}
		if (next == UINT64_MAX || next >= end || n == 0)
			break;
		idx = next;
	}
	return rc;
}

/* scrub_run - read (and compare) the replica's blocks [@b, @b + @run) (in use, synced). */
static void scrub_run(struct ns *ns, uint64_t b, uint64_t run, bool compare, char *theirs,
		      char *ours, struct replica_scrub_result *res)
{
	uint64_t off = b * FMT_BLOCK_SIZE, len = run * FMT_BLOCK_SIZE;
	struct region_fault f;

	if (region_mirror_copy(ns->r, theirs, off, len, &f)) {
		/* Block by block: repair each that faults there from the region. */
		for (uint64_t i = 0; i < run; i++) {
			uint64_t o = off + i * FMT_BLOCK_SIZE;

			if (region_mirror_copy(ns->r, theirs + i * FMT_BLOCK_SIZE, o,
					       FMT_BLOCK_SIZE, NULL) == 0)
				continue;
			res->blocks_bad++;
			if (region_mirror_update(ns->r, o, FMT_BLOCK_SIZE) ||
			    region_mirror_copy(ns->r, theirs + i * FMT_BLOCK_SIZE, o,
					       FMT_BLOCK_SIZE, NULL))
				res->blocks_unrepaired++;
		}
	}
	res->blocks_read += run;
	if (!compare)
		return;
	for (uint64_t i = 0; i < run; i++) {
		uint64_t o = off + i * FMT_BLOCK_SIZE;
		char *t = theirs + i * FMT_BLOCK_SIZE;

		/* Ours unreadable: the read queued it, poison_drain repairs it from theirs. */
		if (region_copy_safe(ns->r, ours, region_at(ns->r, o), FMT_BLOCK_SIZE, NULL) ||
		    memcmp(ours, t, FMT_BLOCK_SIZE) == 0)
			continue;
		/* A copy write may be between the two stores: look again before counting it. */
		if (region_mirror_copy(ns->r, t, o, FMT_BLOCK_SIZE, NULL) == 0 &&
		    region_copy_safe(ns->r, ours, region_at(ns->r, o), FMT_BLOCK_SIZE, NULL) == 0 &&
		    memcmp(ours, t, FMT_BLOCK_SIZE) == 0)
			continue;
		if (ns_block_write_mapped(ns, b + i))
			continue;
		if (res->differ < REPLICA_DIFF_MAX)
			res->diff[res->differ] = o;
		res->differ++;
	}
}

int replica_scrub_range(struct ns *ns, uint64_t from, uint64_t count, bool compare,
			struct replica_scrub_result *res)
{
	uint64_t b, end, synced;
	char *theirs, ours[FMT_BLOCK_SIZE];

	memset(res, 0, sizeof(*res));
	if (from > ns->data_count)
		return -EINVAL;
	if (!region_mirror(ns->r))
		return -ENODATA;
	theirs = malloc(SCRUB_RUN_BLOCKS * FMT_BLOCK_SIZE);
	if (!theirs)
		return -ENOMEM;
	synced = region_mirror_synced(ns->r) / FMT_BLOCK_SIZE;
	b = ns->data_first + from;
	end = ns->data_first + from + MIN(count, ns->data_count - from);
	while (b < end) {
		uint64_t run = poison_scrub_run(ns, b, end), ok;

		if (run == 0) {
			b++;
			continue;
		}
		/* Only what the background copy has passed: the rest is not a copy yet. */
		ok = b + run <= synced ? run : b < synced ? synced - b : 0;
		if (ok)
			scrub_run(ns, b, ok, compare, theirs, ours, res);
		res->blocks_skipped += run - ok;
		b += run;
	}
	free(theirs);
	poison_drain(ns);
	return 0;
}

int replica_inject_media(struct ns *ns, uint64_t off, uint64_t len)
{
	int rc = -ENODATA;

	pthread_mutex_lock(&ns->replica_lock);
	if (ns->replica)
		rc = region_simulate_poison(region_mirror(ns->r), off, len);
	pthread_mutex_unlock(&ns->replica_lock);
	return rc;
}

void replica_free(struct replica *rep)
{
	if (!rep)
		return;
	free(rep->path);
	free(rep);
}

int replica_add(struct ns *ns, const char *path)
{
	struct replica *rep = NULL;
	struct region *m;
	bool ok;
	int rc;

	pthread_mutex_lock(&ns->replica_lock);
	if (ns->replica) {
		log_err("%s already has the replica %s; remove it first", region_path(ns->r),
			ns->replica->path);
		rc = -EEXIST;
		goto out;
	}
	rc = ns_writable(ns);
	if (rc) {
		log_err("%s is read-only: it cannot take a replica", region_path(ns->r));
		goto out;
	}
	rc = open_replica(&m, ns->r, path, false);
	if (rc)
		goto out;
	/* Only to refuse another file system's region: a live region is copied whole. */
	rc = trusted(ns->r, m, mlog_super(ns->log), &ok);
	if (rc == 0) {
		rep = calloc(1, sizeof(*rep));
		if (rep)
			rep->path = strdup(path);
		if (!rep || !rep->path)
			rc = -ENOMEM;
	}
	if (rc == 0)
		rc = region_mirror_attach_live(ns->r, m);
	if (rc) {
		region_close(&m);
		replica_free(rep);
		goto out;
	}
	rep->r = ns->r;
	ns->replica = rep;
	/* After the attach, so that the superblocks reach the replica too. */
	say_version3(ns);
	rc = mlog_set_replica(ns->log, FMT_REPLICA_OPEN);
	if (rc == 0)
		rc = start_copy(ns, rep);
	if (rc) {
		m = region_mirror_detach_live(ns->r);
		region_close(&m);
		ns->replica = NULL;
		replica_free(rep);
		goto out;
	}
	log_notice("%s: replica %s added", region_path(ns->r), path);
out:
	pthread_mutex_unlock(&ns->replica_lock);
	return rc;
}

int replica_remove(struct ns *ns)
{
	struct replica *rep;
	struct region *m;
	int rc;

	pthread_mutex_lock(&ns->replica_lock);
	rep = ns->replica;
	if (!rep && !(mlog_super(ns->log)->incompat & FMT_INCOMPAT_REPLICA)) {
		log_err("%s has no replica to remove", region_path(ns->r));
		rc = -ENOENT;
		goto out;
	}
	rc = ns_writable(ns);
	if (rc) {
		log_err("%s is read-only: its superblocks cannot drop the replica",
			region_path(ns->r));
		goto out;
	}
	if (rep) {
		stop_copy(rep);
		m = region_mirror_detach_live(ns->r);
		region_close(&m);
		ns->replica = NULL;
	}
	/* From here on, code that does not know version 3 may mount the region again. */
	rc = mlog_set_replica(ns->log, FMT_REPLICA_NONE);
	log_notice("%s: replica %s removed", region_path(ns->r), rep ? rep->path : "(absent)");
	replica_free(rep);
out:
	pthread_mutex_unlock(&ns->replica_lock);
	return rc;
}

static void get_info_locked(struct ns *ns, struct replica_info *info);

void replica_get_info(struct ns *ns, struct replica_info *info)
{
	pthread_mutex_lock(&ns->replica_lock);
	get_info_locked(ns, info);
	pthread_mutex_unlock(&ns->replica_lock);
}

static void get_info_locked(struct ns *ns, struct replica_info *info)
{
	struct replica *rep = ns->replica;

	memset(info, 0, sizeof(*info));
	info->size = region_size(ns->r);
	info->repaired = __atomic_load_n(&ns->repaired, __ATOMIC_RELAXED);
	if (!rep) {
		if (mlog_super(ns->log)->incompat & FMT_INCOMPAT_REPLICA) {
			info->status = REPLICA_DEGRADED;
			snprintf(info->why, sizeof(info->why),
				 "the replica was not given at start");
		}
		return;
	}
	snprintf(info->path, sizeof(info->path), "%s", rep->path);
	info->synced = region_mirror_synced(ns->r);
	info->reads = region_mirror_reads(ns->r);
	if (region_failed(region_mirror(ns->r), NULL))
		degrade(rep, "a fault in the replica");
	if (__atomic_load_n(&rep->degraded, __ATOMIC_ACQUIRE)) {
		info->status = REPLICA_DEGRADED;
		if (__atomic_load_n(&rep->degraded, __ATOMIC_ACQUIRE) == 2)
			snprintf(info->why, sizeof(info->why), "%s", rep->why);
	} else {
		info->status = info->synced == info->size ? REPLICA_INSYNC : REPLICA_RESYNCING;
	}
}

bool replica_wait_synced(struct ns *ns, unsigned ms)
{
	struct replica_info info;

	for (unsigned i = 0; i <= ms; i++) {
		replica_get_info(ns, &info);
		if (info.status == REPLICA_INSYNC)
			return true;
		if (info.status != REPLICA_RESYNCING)
			return false;
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	return false;
}
