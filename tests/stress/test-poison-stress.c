// SPDX-License-Identifier: MIT
/*
 * Poison under load (DESIGN §4, §5): writer threads create, extend, overwrite, punch,
 * truncate and unlink files while poison threads hit random blocks of the data area and an
 * auditor checks the block ownership invariants every ~100 ms.
 *
 * What must hold, and is asserted:
 *   (a) attribution: a report of an owned block is made with that page's entry lock held,
 *       and at that moment the file maps the block at that page, poisoned; a report of a
 *       free block is made when no file owns it;
 *   (b) no block is owned twice, owned and free, or owned and quarantined without poison
 *       (ns_audit finds nothing, every time);
 *   (c) a poisoned block stays quarantined and is never handed out again: not during the
 *       run, not when the region is filled to the last block afterwards, not after a
 *       remount; and the region checks clean;
 *   (d) writers read back exactly what they wrote, except pages whose block is quarantined,
 *       which fail with EIO (or shorten the read there);
 *   (e) no deadlock (watchdog); (f) no sanitizer report.
 *
 * Usage: test-poison-stress [SECONDS] (default 12; the suite passes stress_seconds).
 * $DAXFS_TEST_SEED picks the seed.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "check.h"
#include "log.h"
#include "nsint.h"
#include "nsmap.h"
#include "lease.h"
#include "poison.h"
#include "rcu.h"
#include "testutil.h"
#include "util.h"

#define REGION_SIZE (256 * MiB)
#define PAGE FMT_BLOCK_SIZE
#define NWRITERS 3
#define NPOISONERS 2
#define FILES_PER_WRITER 4
#define FILE_MAX (3 * MiB)		       /* files grow up to this */
#define FILE_CAP (FILE_MAX + 128 * KiB + PAGE) /* model buffer: sparse writes go a bit past */
#define IO_MAX (512 * KiB)
#define POISON_BUDGET 2000 /* all poison threads together, over the whole run */
#define AUDIT_MS 100
#define FILL_CHUNK (4 * MiB)

enum op {
	OP_CREATE,
	OP_EXTEND,
	OP_OVERWRITE,
	OP_REWRITE_PAGES, /* page-aligned whole pages: repairs poisoned ones */
	OP_PUNCH,
	OP_TRUNCATE,
	OP_UNLINK,
	OP_READ,
	OP_COUNT,
};

static const char *const op_names[OP_COUNT] = {
	[OP_CREATE] = "create",		[OP_EXTEND] = "extend", [OP_OVERWRITE] = "overwrite",
	[OP_REWRITE_PAGES] = "rewrite", [OP_PUNCH] = "punch",	[OP_TRUNCATE] = "truncate",
	[OP_UNLINK] = "unlink",		[OP_READ] = "read",
};

struct file {
	char name[32];
	bool exists;
	uint64_t ino;
	uint64_t size;
	uint8_t *data; /* expected bytes [0, size) */
};

struct writer {
	pthread_t th;
	unsigned id;
	uint64_t rng;
	struct file f[FILES_PER_WRITER];
	uint8_t *buf, *rbuf;
	uint64_t ops[OP_COUNT];
	uint64_t eio_reads, eio_writes, bytes_written, bytes_verified;
};

struct poisoner {
	pthread_t th;
	unsigned id;
	uint64_t rng;
	uint64_t calls, owned, free_hits, already, targeted, huge_owned;
};

static struct ns *g_ns;
static uint64_t g_first, g_count; /* the allocator's blocks */
static uint8_t *g_poisoned;	  /* per block of the data area, set once reported; atomic */
static int g_stop;		  /* atomic */
static unsigned g_seconds;
static uint64_t g_audits;

static bool stopping(void)
{
	return __atomic_load_n(&g_stop, __ATOMIC_ACQUIRE) != 0;
}

static uint64_t rnd(uint64_t *rng, uint64_t n)
{
	return n ? t_rand(rng) % n : 0;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void audit_line(void *ctx, enum check_severity sev, const char *msg)
{
	(void)ctx;
	if (sev == CHECK_PROBLEM)
		fprintf(stderr, "audit: %s\n", msg);
}

static void audit(const char *when)
{
	uint64_t problems = ns_audit(g_ns, audit_line, NULL);

	if (problems)
		T_FAIL("audit %s: %" PRIu64 " problems", when, problems);
}

/*
 * page_state - what page @idx of @ino maps: *@blk (UINT64_MAX: none) and whether the page is
 * poisoned (its entry is POISON and its block quarantined: reads of it fail with EIO).
 * Locking: RCU and the file's xtable lock.
 */
static bool page_poisoned(uint64_t ino, uint64_t idx, uint64_t *blk)
{
	struct ns_inode *in;
	uint64_t first;
	bool bad = false;
	xt_entry e;

	*blk = UINT64_MAX;
	rcu_read_begin();
	in = ns_inode_find(g_ns, ino);
	if (in) {
		xt_lock(&in->map);
		e = __xt_load(&in->map, idx, &first, NULL);
		if (xt_is_value(e) && !bm_is_hole(e)) {
			*blk = bm_to_block(e) + (idx - first);
			bad = bm_is_poison(e) && alloc_is_quarantined(ns_alloc(g_ns), *blk);
		}
		xt_unlock(&in->map);
	}
	rcu_read_end();
	return bad;
}

/* --- writers --- */

static void pattern(struct writer *w, uint8_t *p, size_t len)
{
	uint64_t x = t_rand(&w->rng);

	for (size_t i = 0; i < len; i++) {
		if (i % 8 == 0)
			x = x * UINT64_C(6364136223846793005) + 1442695040888963407ULL;
		p[i] = (uint8_t)(x >> (8 * (i % 8)));
	}
}

static void expect_size(struct writer *w, struct file *f, const char *after)
{
	struct ns_attr at;

	T_OK(ns_getattr(g_ns, f->ino, &at));
	if (at.size != f->size)
		T_FAIL("writer %u %s: size %" PRIu64 " after %s, expected %" PRIu64, w->id, f->name,
		       at.size, after, f->size);
}

/*
 * verify - read [@off, @off + @len) and compare with the model: the bytes must match, and a
 * read may only fail (EIO) or stop short at a page that is poisoned.
 */
static void verify(struct writer *w, struct file *f, uint64_t off, uint64_t len)
{
	uint64_t want = off >= f->size ? 0 : MIN(len, f->size - off), blk = 0;
	ssize_t n = ns_read(g_ns, NULL, f->ino, w->rbuf, len, off);
	uint64_t got, stop;

	if (n == -EIO) {
		if (want == 0 || !page_poisoned(f->ino, off / PAGE, &blk))
			T_FAIL("writer %u %s: read %" PRIu64 "+%" PRIu64 " = EIO, but page %" PRIu64
			       " (block %" PRIu64 ") is not poisoned",
			       w->id, f->name, off, len, off / PAGE, blk);
		w->eio_reads++;
		return;
	}
	if (n < 0 || (uint64_t)n > want)
		T_FAIL("writer %u %s: read %" PRIu64 "+%" PRIu64 " = %zd, expected %" PRIu64, w->id,
		       f->name, off, len, n, want);
	got = (uint64_t)n;
	if (memcmp(w->rbuf, f->data + off, got) != 0) {
		uint64_t i = 0;

		while (w->rbuf[i] == f->data[off + i])
			i++;
		page_poisoned(f->ino, (off + i) / PAGE, &blk);
		T_FAIL("writer %u %s (inode %" PRIu64 "): byte %" PRIu64 " reads %#x, wrote %#x "
		       "(page %" PRIu64 ", block %" PRIu64 ", quarantined %d)",
		       w->id, f->name, f->ino, off + i, w->rbuf[i], f->data[off + i],
		       (off + i) / PAGE, blk,
		       blk != UINT64_MAX && alloc_is_quarantined(ns_alloc(g_ns), blk));
	}
	w->bytes_verified += got;
	if (got < want) {
		stop = off + got;
		if (stop % PAGE || !page_poisoned(f->ino, stop / PAGE, &blk))
			T_FAIL("writer %u %s: read %" PRIu64 "+%" PRIu64 " stopped at %" PRIu64
			       ", where page %" PRIu64 " (block %" PRIu64 ") is not poisoned",
			       w->id, f->name, off, len, stop, stop / PAGE, blk);
		w->eio_reads++;
	}
}

/*
 * do_write - write @len pattern bytes at @off; the model takes what the engine says it
 * wrote. A write may only fail (EIO) or stop short at a poisoned page it does not cover
 * whole.
 */
static void do_write(struct writer *w, struct file *f, uint64_t off, uint64_t len)
{
	ssize_t n;
	uint64_t done, stop, blk;

	pattern(w, w->buf, len);
	n = ns_write(g_ns, NULL, f->ino, w->buf, len, off);
	if (n == (ssize_t)len) {
		done = len;
	} else if (n == -EIO || (n >= 0 && (uint64_t)n < len)) {
		done = n < 0 ? 0 : (uint64_t)n;
		stop = off + done;
		if (!page_poisoned(f->ino, stop / PAGE, &blk) ||
		    (stop % PAGE == 0 && len - done >= PAGE))
			T_FAIL("writer %u %s: write %" PRIu64 "+%" PRIu64
			       " = %zd, but page %" PRIu64 " (block %" PRIu64
			       ") is not a poisoned page written in part",
			       w->id, f->name, off, len, n, stop / PAGE, blk);
		w->eio_writes++;
	} else {
		T_FAIL("writer %u %s: write %" PRIu64 "+%" PRIu64 " = %zd (%s)", w->id, f->name,
		       off, len, n, n < 0 ? strerror((int)-n) : "?");
	}
	if (done == 0)
		return;
	if (off > f->size)
		memset(f->data + f->size, 0, off - f->size);
	memcpy(f->data + off, w->buf, done);
	f->size = MAX(f->size, off + done);
	w->bytes_written += done;
}

static void op_create(struct writer *w, struct file *f)
{
	struct ns_attr at;

	T_OK(ns_create(g_ns, NULL, NS_ROOT_INO, f->name, 0644, &at));
	T_ASSERT(at.size == 0 && at.blocks == 0);
	f->exists = true;
	f->ino = at.ino;
	f->size = 0;
}

static void op_extend(struct writer *w, struct file *f)
{
	uint64_t gap = rnd(&w->rng, 4) == 0 ? rnd(&w->rng, 64 * KiB) : 0;
	uint64_t off = f->size + gap, len;

	if (off >= FILE_MAX)
		return;
	len = 1 + rnd(&w->rng, MIN(IO_MAX, FILE_MAX - off));
	do_write(w, f, off, len);
}

static void op_overwrite(struct writer *w, struct file *f, bool pages)
{
	uint64_t off, len;

	if (f->size == 0)
		return;
	if (pages) {
		uint64_t npages = DIV_ROUND_UP(f->size, PAGE);
		uint64_t first = rnd(&w->rng, npages);

		off = first * PAGE;
		len = (1 + rnd(&w->rng, MIN(npages - first, (uint64_t)16))) * PAGE;
	} else {
		off = rnd(&w->rng, f->size);
		len = 1 + rnd(&w->rng, MIN(IO_MAX, f->size - off));
	}
	do_write(w, f, off, len);
}

static void op_punch(struct writer *w, struct file *f)
{
	uint64_t off, len;

	if (f->size == 0)
		return;
	off = rnd(&w->rng, f->size);
	if (rnd(&w->rng, 2))
		off = ALIGN_DOWN(off, (uint64_t)PAGE);
	len = 1 + rnd(&w->rng, MIN(1 * MiB, f->size - off));
	T_OK(ns_fallocate(g_ns, NULL, f->ino, NS_FALLOC_PUNCH_HOLE | NS_FALLOC_KEEP_SIZE, off,
			  len));
	memset(f->data + off, 0, len);
}

static void op_truncate(struct writer *w, struct file *f)
{
	struct ns_setattr sa = {.valid = NS_SET_SIZE};

	sa.size = rnd(&w->rng, 3) == 0 ? rnd(&w->rng, FILE_MAX) : rnd(&w->rng, f->size + 1);
	if (rnd(&w->rng, 2))
		sa.size = ALIGN_DOWN(sa.size, (uint64_t)PAGE);
	T_OK(ns_setattr(g_ns, NULL, f->ino, &sa, NULL));
	if (sa.size > f->size)
		memset(f->data + f->size, 0, sa.size - f->size);
	f->size = sa.size;
}

static void op_unlink(struct writer *w, struct file *f)
{
	T_OK(ns_unlink(g_ns, NULL, NS_ROOT_INO, f->name));
	f->exists = false;
	f->ino = 0;
	f->size = 0;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	rcu_thread_online();
	while (!stopping()) {
		struct file *f = &w->f[rnd(&w->rng, FILES_PER_WRITER)];
		uint64_t r = rnd(&w->rng, 100);
		enum op op;

		if (!f->exists)
			op = OP_CREATE;
		else if (r < 30)
			op = OP_EXTEND;
		else if (r < 45)
			op = OP_OVERWRITE;
		else if (r < 55)
			op = OP_REWRITE_PAGES;
		else if (r < 65)
			op = OP_PUNCH;
		else if (r < 73)
			op = OP_TRUNCATE;
		else if (r < 76)
			op = OP_UNLINK;
		else
			op = OP_READ;
		switch (op) {
		case OP_CREATE:
			op_create(w, f);
			break;
		case OP_EXTEND:
			op_extend(w, f);
			break;
		case OP_OVERWRITE:
			op_overwrite(w, f, false);
			break;
		case OP_REWRITE_PAGES:
			op_overwrite(w, f, true);
			break;
		case OP_PUNCH:
			op_punch(w, f);
			break;
		case OP_TRUNCATE:
			op_truncate(w, f);
			break;
		case OP_UNLINK:
			op_unlink(w, f);
			break;
		default:
			break;
		}
		w->ops[op]++;
		if (!f->exists)
			continue;
		expect_size(w, f, op_names[op]);
		/* Read back some of it: a random range, now and then the whole file. */
		if (op == OP_READ || rnd(&w->rng, 8) == 0) {
			verify(w, f, 0, f->size + PAGE);
		} else if (f->size) {
			uint64_t off = rnd(&w->rng, f->size);

			verify(w, f, off, 1 + rnd(&w->rng, MIN(IO_MAX, f->size - off + PAGE)));
		}
	}
	rcu_thread_offline();
	return NULL;
}

/* --- poison --- */

static void mark_poisoned(struct poisoner *p, const struct poison_hit *hit)
{
	uint8_t *slot = &g_poisoned[hit->block - g_first];

	if (hit->already) {
		/* Only this thread poisons this block (see pick()), so it reported it before. */
		if (!__atomic_load_n(slot, __ATOMIC_ACQUIRE))
			T_FAIL("poisoner %u: block %" PRIu64 " was quarantined behind our back",
			       p->id, hit->block);
		return;
	}
	/* Newly quarantined twice: it was handed out again after its quarantine. */
	if (__atomic_exchange_n(slot, 1, __ATOMIC_ACQ_REL))
		T_FAIL("poisoner %u: block %" PRIu64 " newly quarantined a second time", p->id,
		       hit->block);
}

/*
 * report - the attribution check. For an owned block, poison_handle holds the page's entry
 * lock: the file maps the block at that page now, and the entry is poisoned and locked.
 */
static void report(void *ctx, const struct poison_hit *hit)
{
	struct poisoner *p = ctx;
	struct rmap_owner own;
	struct ns_inode *in;
	bool owned_now;

	if (hit->metadata || !alloc_contains(ns_alloc(g_ns), hit->block, 1))
		T_FAIL("poisoner %u: block %" PRIu64 " reported as metadata", p->id, hit->block);
	if (!alloc_is_quarantined(ns_alloc(g_ns), hit->block) ||
	    alloc_is_free(ns_alloc(g_ns), hit->block))
		T_FAIL("poisoner %u: block %" PRIu64 " reported but not quarantined", p->id,
		       hit->block);
	rcu_read_begin();
	owned_now = rmap_lookup(ns_rmap(g_ns), hit->block, &own);
	if (owned_now)
		T_FAIL("poisoner %u: block %" PRIu64 " reported (owned %d by inode %" PRIu64
		       " page %" PRIu64 ") but the rmap gives it to inode %" PRIu64
		       " page %" PRIu64,
		       p->id, hit->block, hit->owned, hit->ino, hit->index, own.inode->ino,
		       own.index);
	if (hit->owned) {
		uint64_t first = 0;
		unsigned order = 0;
		xt_entry e = XT_EMPTY;

		in = ns_inode_find(g_ns, hit->ino);
		if (!in)
			T_FAIL("poisoner %u: block %" PRIu64 " attributed to inode %" PRIu64
			       ", which does not exist",
			       p->id, hit->block, hit->ino);
		xt_lock(&in->map);
		e = __xt_load(&in->map, hit->index, &first, &order);
		xt_unlock(&in->map);
		if (!xt_is_value(e) || bm_is_hole(e) ||
		    bm_to_block(e) + (hit->index - first) != hit->block)
			T_FAIL("poisoner %u: block %" PRIu64 " attributed to inode %" PRIu64
			       " page %" PRIu64 ", which maps %s %" PRIu64,
			       p->id, hit->block, hit->ino, hit->index,
			       xt_is_value(e) && !bm_is_hole(e) ? "block" : "nothing",
			       xt_is_value(e) && !bm_is_hole(e)
				       ? bm_to_block(e) + (hit->index - first)
				       : 0);
		if (!bm_is_poison(e) || !bm_is_locked(e))
			T_FAIL("poisoner %u: inode %" PRIu64 " page %" PRIu64
			       " reported with entry %#" PRIx64 " (not poisoned and locked)",
			       p->id, hit->ino, hit->index, (uint64_t)e);
		if (order)
			p->huge_owned++;
	}
	rcu_read_end();
	mark_poisoned(p, hit);
	if (hit->already)
		p->already++;
	else if (hit->owned)
		p->owned++;
	else
		p->free_hits++;
}

/*
 * pick - a block for poisoner @p: only blocks b with b % NPOISONERS == p->id, so two threads
 * never race for one block (a double "newly quarantined" report then means reuse). Half the
 * time, a block some file owns right now (looked up without a lock: the owner may change
 * before poison_handle gets there, which is the point).
 */
static uint64_t pick(struct poisoner *p)
{
	uint64_t b = 0;

	if (rnd(&p->rng, 2)) {
		for (unsigned tries = 0; tries < 512; tries++) {
			struct rmap_owner own;
			bool found;

			b = g_first + rnd(&p->rng, g_count);
			b -= (b - g_first) % NPOISONERS;
			b += p->id;
			rcu_read_begin();
			found = rmap_lookup(ns_rmap(g_ns), b, &own);
			rcu_read_end();
			if (found) {
				p->targeted++;
				return b;
			}
		}
	}
	b = g_first + rnd(&p->rng, g_count);
	b -= (b - g_first) % NPOISONERS;
	return b + p->id;
}

static void *poisoner_main(void *arg)
{
	struct poisoner *p = arg;
	uint64_t budget = POISON_BUDGET / NPOISONERS;
	uint64_t interval = (uint64_t)g_seconds * 1000000000ULL / budget;

	rcu_thread_online();
	while (!stopping() && p->calls < budget) {
		uint64_t b = pick(p);
		int64_t rc = poison_handle(g_ns, b * PAGE, PAGE, POISON_SRC_INJECTED, report, p);

		if (rc < 0 || rc > 1)
			T_FAIL("poison_handle(block %" PRIu64 ") = %" PRId64, b, rc);
		p->calls++;
		sleep_ns(interval / 2 + rnd(&p->rng, interval));
	}
	rcu_thread_offline();
	return NULL;
}

static void *auditor_main(void *arg)
{
	(void)arg;
	rcu_thread_online();
	while (!stopping()) {
		audit("during the run");
		__atomic_add_fetch(&g_audits, 1, __ATOMIC_RELAXED);
		sleep_ns(AUDIT_MS * 1000000ULL);
	}
	rcu_thread_offline();
	return NULL;
}

/* --- after the run --- */

/* every_poisoned_quarantined - (c): quarantined, not free, owned by nobody. */
static uint64_t every_poisoned_quarantined(const char *when)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < g_count; i++) {
		struct rmap_owner own;
		bool owned;

		if (!g_poisoned[i])
			continue;
		n++;
		rcu_read_begin();
		owned = rmap_lookup(ns_rmap(g_ns), g_first + i, &own);
		rcu_read_end();
		if (!alloc_is_quarantined(ns_alloc(g_ns), g_first + i) ||
		    alloc_is_free(ns_alloc(g_ns), g_first + i) || owned)
			T_FAIL("%s: poisoned block %" PRIu64 " is not (only) quarantined", when,
			       g_first + i);
	}
	return n;
}

/* no_file_maps_poison - no file maps a poisoned block except through a POISON entry. */
static void no_file_maps_poison(const char *when)
{
	struct cds_lfht_iter it;
	struct ns_inode *in;
	uint64_t files = 0;

	rcu_read_begin();
	cds_lfht_for_each_entry (g_ns->inodes, &it, in, hnode) {
		uint64_t i;
		unsigned order;
		xt_entry e;

		if (!S_ISREG(in->mode))
			continue;
		files++;
		xt_lock(&in->map);
		xt_for_each (&in->map, i, order, e, 0, XT_INDEX_MAX) {
			for (uint64_t k = 0; k < (UINT64_C(1) << order); k++) {
				uint64_t b = bm_to_block(e) + k;

				if (b >= g_first && b < g_first + g_count &&
				    g_poisoned[b - g_first] && !bm_is_poison(e))
					T_FAIL("%s: inode %" PRIu64 " page %" PRIu64
					       " maps poisoned block %" PRIu64 " as data",
					       when, in->ino, i + k, b);
			}
		}
		xt_unlock(&in->map);
	}
	rcu_read_end();
	T_ASSERT(files > 0);
}

/* fill_region - write files until the allocator has nothing left. Return: files made. */
static unsigned fill_region(uint8_t *buf)
{
	unsigned nfiles = 0;

	memset(buf, 0x5a, FILL_CHUNK);
	for (;;) {
		char name[32];
		struct ns_attr at;
		uint64_t off = 0;
		ssize_t n = 0;

		snprintf(name, sizeof(name), "fill%u", nfiles++);
		T_OK(ns_create(g_ns, NULL, NS_ROOT_INO, name, 0644, &at));
		while (off < 64 * MiB) {
			n = ns_write(g_ns, NULL, at.ino, buf, FILL_CHUNK, off);
			if (n != (ssize_t)FILL_CHUNK)
				break;
			off += FILL_CHUNK;
		}
		if (n == -ENOSPC || (n >= 0 && n < (ssize_t)FILL_CHUNK))
			return nfiles;
		T_OK(n);
	}
}

static void check_line(void *ctx, enum check_severity sev, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "check: %s%s\n", sev == CHECK_PROBLEM ? "PROBLEM: " : "", msg);
}

int main(int argc, char **argv)
{
	static struct writer writers[NWRITERS];
	static struct poisoner poisoners[NPOISONERS];
	uint64_t seed, t0 = mono_ns(), npoisoned, poisoned_after_fill;
	struct check_result res;
	struct ns_statfs st;
	pthread_t auditor;
	const char *path;
	unsigned nfill;
	uint8_t *buf;

	g_seconds = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 12;
	if (g_seconds == 0)
		g_seconds = 12;
	seed = t_seed(1, argv, (uint64_t)time(NULL));
	t_watchdog(g_seconds + 120, "test-poison-stress");
	log_set_level(LOG_LVL_WARNING);
	rcu_thread_online();

	path = t_path("poison-stress.region");
	T_OK(ns_mkfs(path, REGION_SIZE, NULL));
	T_OK(ns_mount(&g_ns, path, NULL));
	{
		struct alloc_stats as;

		alloc_get_stats(ns_alloc(g_ns), &as);
		g_first = g_ns->data_first;
		g_count = as.total;
		T_ASSERT(alloc_contains(ns_alloc(g_ns), g_first, g_count));
	}
	g_poisoned = calloc(g_count, 1);
	T_ASSERT(g_poisoned);

	for (unsigned i = 0; i < NWRITERS; i++) {
		struct writer *w = &writers[i];

		w->id = i;
		w->rng = seed * 1000 + i + 1;
		w->buf = malloc(IO_MAX);
		w->rbuf = malloc(FILE_CAP + PAGE);
		T_ASSERT(w->buf && w->rbuf);
		for (unsigned k = 0; k < FILES_PER_WRITER; k++) {
			snprintf(w->f[k].name, sizeof(w->f[k].name), "w%u-f%u", i, k);
			w->f[k].data = calloc(1, FILE_CAP);
			T_ASSERT(w->f[k].data);
		}
		T_ASSERT(pthread_create(&w->th, NULL, writer_main, w) == 0);
	}
	for (unsigned i = 0; i < NPOISONERS; i++) {
		poisoners[i].id = i;
		poisoners[i].rng = seed * 7777 + i + 1;
		T_ASSERT(pthread_create(&poisoners[i].th, NULL, poisoner_main, &poisoners[i]) == 0);
	}
	T_ASSERT(pthread_create(&auditor, NULL, auditor_main, NULL) == 0);

	sleep_ns((uint64_t)g_seconds * 1000000000ULL);
	__atomic_store_n(&g_stop, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < NWRITERS; i++)
		T_ASSERT(pthread_join(writers[i].th, NULL) == 0);
	for (unsigned i = 0; i < NPOISONERS; i++)
		T_ASSERT(pthread_join(poisoners[i].th, NULL) == 0);
	T_ASSERT(pthread_join(auditor, NULL) == 0);

	/* Quiet now: every file reads back as its writer expects. */
	for (unsigned i = 0; i < NWRITERS; i++)
		for (unsigned k = 0; k < FILES_PER_WRITER; k++)
			if (writers[i].f[k].exists) {
				expect_size(&writers[i], &writers[i].f[k], "the run");
				verify(&writers[i], &writers[i].f[k], 0, writers[i].f[k].size);
			}
	rcu_barrier_all();
	audit("after the run");
	npoisoned = every_poisoned_quarantined("after the run");
	no_file_maps_poison("after the run");

	/* (c) Fill the region to the last block: no poisoned block is handed out. */
	buf = malloc(FILL_CHUNK);
	T_ASSERT(buf);
	nfill = fill_region(buf);
	free(buf);
	ns_statfs(g_ns, &st);
	if (st.blocks_free != 0)
		T_FAIL("the fill stopped with %" PRIu64 " blocks free", st.blocks_free);
	T_ASSERT(st.blocks_quarantined == npoisoned);
	audit("after the fill");
	poisoned_after_fill = every_poisoned_quarantined("after the fill");
	T_ASSERT(poisoned_after_fill == npoisoned);
	no_file_maps_poison("after the fill");

	/* Quarantine survives a restart; the region checks clean. */
	ns_unmount(&g_ns);
	T_OK(ns_mount(&g_ns, path, NULL));
	every_poisoned_quarantined("after remount");
	no_file_maps_poison("after remount");
	audit("after remount");
	ns_statfs(g_ns, &st);
	T_ASSERT(st.blocks_quarantined == npoisoned);
	for (unsigned i = 0; i < NWRITERS; i++)
		for (unsigned k = 0; k < FILES_PER_WRITER; k++)
			if (writers[i].f[k].exists) {
				expect_size(&writers[i], &writers[i].f[k], "remount");
				verify(&writers[i], &writers[i].f[k], 0, writers[i].f[k].size);
			}
	ns_unmount(&g_ns);
	T_OK(ns_check(path, check_line, NULL, &res));
	if (res.problems)
		T_FAIL("ns_check: %" PRIu64 " problems", res.problems);
	T_ASSERT(res.blocks_quarantined == npoisoned);

	/* Summary. */
	for (unsigned i = 0; i < NWRITERS; i++) {
		struct writer *w = &writers[i];
		uint64_t total = 0;

		for (unsigned o = 0; o < OP_COUNT; o++)
			total += w->ops[o];
		printf("writer %u: %" PRIu64 " ops (", i, total);
		for (unsigned o = 0; o < OP_COUNT; o++)
			printf("%s%s %" PRIu64, o ? ", " : "", op_names[o], w->ops[o]);
		printf("); %" PRIu64 " MiB written, %" PRIu64 " MiB verified, EIO reads %" PRIu64
		       ", EIO writes %" PRIu64 "\n",
		       (uint64_t)(w->bytes_written / MiB), (uint64_t)(w->bytes_verified / MiB),
		       w->eio_reads, w->eio_writes);
	}
	for (unsigned i = 0; i < NPOISONERS; i++) {
		struct poisoner *p = &poisoners[i];

		printf("poisoner %u: %" PRIu64 " poisons (%" PRIu64
		       " aimed at owned blocks): owned %" PRIu64 " (in 2 MiB entries %" PRIu64
		       "), free %" PRIu64 ", already quarantined %" PRIu64 "\n",
		       i, p->calls, p->targeted, p->owned, p->huge_owned, p->free_hits, p->already);
	}
	printf("auditor: %" PRIu64 " audits; %" PRIu64 " blocks quarantined; fill: %u files; "
	       "%.1f s\n",
	       g_audits, npoisoned, nfill, (double)(mono_ns() - t0) / 1e9);

	for (unsigned i = 0; i < NWRITERS; i++) {
		for (unsigned k = 0; k < FILES_PER_WRITER; k++)
			free(writers[i].f[k].data);
		free(writers[i].buf);
		free(writers[i].rbuf);
	}
	free(g_poisoned);
	rcu_thread_offline();
	return 0;
}
