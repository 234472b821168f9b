// SPDX-License-Identifier: MIT
/*
 * test-poison - poison_handle() and what follows from it (DESIGN §5), on emulated regions:
 *
 *   owned      a page in the middle of a small file (4 KiB entries) and of a large one (2 MiB
 *              entries): reported as that file's page with its entry lock held; the page reads
 *              EIO (a read that starts before it stops there), every other page reads back;
 *              blocks_quarantined + 1, attr.blocks - 1; poisoning it again is "already";
 *              grant holders over the page get the POISON callback, others do not
 *   repair     a partial write into the page is EIO, a whole-page write moves it to a fresh
 *              block (also inside a 2 MiB entry) and the bad block stays quarantined
 *   persist    unmount, ns_check is clean and counts the quarantine, mount (and a checkpoint
 *              + mount): the quarantine and the EIO pages survive
 *   free       poison of a free block quarantines it (not owned); filling the region until
 *              ENOSPC never hands it out
 *   metadata   poison in the superblocks or unused space changes nothing; poison in the
 *              active log area makes the namespace read-only (reads still work, data poison
 *              is then quarantined in memory)
 *   range      offsets and lengths outside the region are -EINVAL
 *   races      between the rmap lookup and the xtable lock (NS_HOOK_POISON_AFTER_RMAP), the
 *              page is truncated, its file unlinked, or the page moved to another block:
 *              poison_handle revalidates, finds the block unowned and quarantines it; it is
 *              never handed out again and the file is consistent
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "config.h"
#include "blockmap.h"
#include "log.h"
#include "nsint.h"
#include "nsmap.h"
#include "pagemap.h"
#include "poison.h"
#include "lease.h"
#include "testutil.h"

#define PAGE ((uint64_t)FMT_BLOCK_SIZE)
#define MiB (UINT64_C(1) << 20)
#define REGION_SIZE (32 * MiB)
#define SMALL_PAGES 8
#define LARGE_SIZE (3 * MiB) /* past 2 MiB: whole 2 MiB chunks */
#define LARGE_PAGES (LARGE_SIZE / PAGE)

/* ---- log capture ---- */

static char last_err[1024];
static unsigned err_lines;

static void sink(enum log_level level, const char *msg, void *ctx)
{
	(void)ctx;
	if (level <= LOG_LVL_ERR) {
		err_lines++;
		snprintf(last_err, sizeof(last_err), "%s", msg);
	}
	if (getenv("TEST_VERBOSE"))
		fprintf(stderr, "<%d>%s\n", (int)level, msg);
}

/* ---- helpers ---- */

static struct ns *mount_region(const char *path)
{
	struct ns_mount_opts o = {.kind = REGION_AUTO};
	struct ns *ns;

	T_OK(ns_mount(&ns, path, &o));
	return ns;
}

/* The byte at file offset @off of a file written with @tag. */
static uint8_t pat(unsigned tag, uint64_t off)
{
	return (uint8_t)(tag * 131 + (off / PAGE) * 7 + off % 251);
}

static void fill_pat(uint8_t *buf, unsigned tag, uint64_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pat(tag, off + i);
}

static uint64_t make_file(struct ns *ns, const char *name, uint64_t size, unsigned tag)
{
	struct ns_attr a;
	uint8_t *buf = malloc(size);

	T_ASSERT(buf);
	T_OK(ns_create(ns, NULL, NS_ROOT_INO, name, 0644, &a));
	fill_pat(buf, tag, 0, size);
	T_ASSERT(ns_write(ns, NULL, a.ino, buf, size, 0) == (ssize_t)size);
	free(buf);
	return a.ino;
}

/* check_page - page @idx of @ino reads back the pattern of @tag. */
static void check_page(struct ns *ns, uint64_t ino, uint64_t idx, unsigned tag)
{
	uint8_t buf[PAGE], want[PAGE];
	ssize_t n = ns_read(ns, NULL, ino, buf, PAGE, idx * PAGE);

	if (n != (ssize_t)PAGE)
		T_FAIL("inode %" PRIu64 " page %" PRIu64 ": read %zd", ino, idx, n);
	fill_pat(want, tag, idx * PAGE, PAGE);
	if (memcmp(buf, want, PAGE) != 0)
		T_FAIL("inode %" PRIu64 " page %" PRIu64 ": wrong data", ino, idx);
}

/* check_all - every page of @ino but the @nbad pages in @bad reads back @tag's pattern. */
static void check_all(struct ns *ns, uint64_t ino, uint64_t pages, unsigned tag,
		      const uint64_t *bad, unsigned nbad)
{
	for (uint64_t p = 0; p < pages; p++) {
		bool skip = false;

		for (unsigned k = 0; k < nbad; k++)
			skip |= bad[k] == p;
		if (!skip)
			check_page(ns, ino, p, tag);
	}
}

static uint64_t blocks_of(struct ns *ns, uint64_t ino)
{
	struct ns_attr a;

	T_OK(ns_getattr(ns, ino, &a));
	return a.blocks;
}

static uint64_t quarantined(struct ns *ns)
{
	struct ns_statfs st;

	ns_statfs(ns, &st);
	return st.blocks_quarantined;
}

static void audit_line(void *ctx, enum check_severity sev, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "%s: %s\n", sev == CHECK_PROBLEM ? "problem" : "note", msg);
}

static void audit(struct ns *ns)
{
	T_ASSERT(ns_audit(ns, audit_line, NULL) == 0);
}

/* ---- poison reports ---- */

struct report {
	struct ns *ns;
	unsigned n;
	struct poison_hit hits[8];
	bool locked[8]; /* for owned hits: the page's entry was locked during the report */
};

static void on_hit(void *ctx, const struct poison_hit *hit)
{
	struct report *r = ctx;

	T_ASSERT(r->n < 8);
	r->hits[r->n] = *hit;
	if (hit->owned) {
		xt_entry e = t_page_entry(r->ns, hit->ino, hit->index, NULL, NULL);

		r->locked[r->n] = bm_is_locked(e) && bm_is_poison(e);
	}
	r->n++;
}

static int64_t poison(struct ns *ns, uint64_t off, uint64_t len, struct report *r)
{
	memset(r, 0, sizeof(*r));
	r->ns = ns;
	return poison_handle(ns, off, len, POISON_SRC_INJECTED, on_hit, r);
}

/* ---- grant holders ---- */

struct holder {
	struct ns_grant *g;
	unsigned poisons, invalidates;
	uint64_t ino, index, count;
};

static void h_poison(void *holder, struct ns_grant *g, uint64_t ino, uint64_t index, uint64_t count)
{
	struct holder *h = holder;

	T_ASSERT(g == h->g);
	h->poisons++;
	h->ino = ino;
	h->index = index;
	h->count = count;
}

static void h_invalidate(void *holder, struct ns_grant *g, uint64_t ino, uint64_t index,
			 uint64_t count, uint64_t gen)
{
	struct holder *h = holder;

	(void)g;
	(void)ino;
	(void)index;
	(void)count;
	(void)gen;
	h->invalidates++;
}

static void h_expired(void *holder, struct ns_grant *g)
{
	(void)holder;
	(void)g;
	T_FAIL("no lease break should expire here");
}

static const struct ns_grant_ops holder_ops = {h_poison, h_invalidate, h_expired};

static void grant(struct ns *ns, struct holder *h, uint64_t ino, uint64_t index, uint64_t count)
{
	memset(h, 0, sizeof(*h));
	T_OK(ns_grant_new(ns, NULL, ino, index, count, NS_GRANT_READ | NS_GRANT_WRITE, &holder_ops,
			  h, &h->g));
}

/* ---- owned pages, grants, repair, persistence ---- */

/* expect_owned - poison page @idx of @ino (one byte in its block) and check everything. */
static void expect_owned(struct ns *ns, uint64_t ino, uint64_t idx, uint64_t pages, unsigned tag,
			 const uint64_t *bad, unsigned nbad)
{
	uint64_t blk = t_page_block(ns, ino, idx, NULL), q = quarantined(ns),
		 owned = blocks_of(ns, ino);
	uint8_t buf[3 * PAGE];
	struct report r;

	T_ASSERT(poison(ns, blk * PAGE + 123, 1, &r) == 1);
	T_ASSERT(r.n == 1);
	T_ASSERT(r.hits[0].block == blk && r.hits[0].owned && r.hits[0].ino == ino &&
		 r.hits[0].index == idx && !r.hits[0].already && !r.hits[0].metadata);
	T_ASSERT(r.locked[0]);
	/* The entry is unlocked again, poisoned, and the block quarantined, not owned. */
	T_ASSERT(!bm_is_locked(t_page_entry(ns, ino, idx, NULL, NULL)));
	T_ASSERT(bm_is_poison(t_page_entry(ns, ino, idx, NULL, NULL)));
	T_ASSERT(alloc_is_quarantined(ns->alloc, blk));
	T_ASSERT(quarantined(ns) == q + 1);
	T_ASSERT(blocks_of(ns, ino) == owned - 1);
	/* Reads: EIO from the page's start or inside it; a read from earlier stops there. */
	T_ERR(ns_read(ns, NULL, ino, buf, PAGE, idx * PAGE), EIO);
	T_ERR(ns_read(ns, NULL, ino, buf, 10, idx * PAGE + PAGE - 10), EIO);
	T_ERR(ns_read(ns, NULL, ino, buf, 3 * PAGE, idx * PAGE + 1), EIO);
	T_ASSERT(ns_read(ns, NULL, ino, buf, 3 * PAGE, idx * PAGE - PAGE - 7) ==
		 (ssize_t)(PAGE + 7));
	{
		uint8_t want[PAGE + 7];

		fill_pat(want, tag, idx * PAGE - PAGE - 7, PAGE + 7);
		T_ASSERT(memcmp(buf, want, PAGE + 7) == 0);
	}
	{
		uint64_t all[8];

		T_ASSERT(nbad < 7);
		for (unsigned k = 0; k < nbad; k++)
			all[k] = bad[k];
		all[nbad] = idx;
		check_all(ns, ino, pages, tag, all, nbad + 1);
	}
	/* Again: already quarantined, nothing changes. */
	T_ASSERT(poison(ns, blk * PAGE, PAGE, &r) == 0);
	T_ASSERT(r.n == 1 && r.hits[0].already && r.hits[0].block == blk && !r.hits[0].owned);
	T_ASSERT(quarantined(ns) == q + 1);
	T_ASSERT(blocks_of(ns, ino) == owned - 1);
	T_ERR(ns_read(ns, NULL, ino, buf, PAGE, idx * PAGE), EIO);
}

static void test_owned(void)
{
	const char *path = t_path("owned");
	struct holder h_small_in, h_small_out, h_large_in, h_large_out;
	uint64_t small, large, bad_small, bad_large, q0, first, b;
	uint8_t page[PAGE], buf[3 * PAGE];
	struct check_result res;
	struct report r;
	struct ns *ns;
	xt_entry e;

	T_OK(ns_mkfs(path, REGION_SIZE, NULL));
	ns = mount_region(path);
	q0 = quarantined(ns);
	T_ASSERT(q0 == 0);
	small = make_file(ns, "small", SMALL_PAGES * PAGE, 1);
	large = make_file(ns, "large", LARGE_SIZE, 2);
	T_ASSERT(blocks_of(ns, small) == SMALL_PAGES);
	T_ASSERT(blocks_of(ns, large) == 1024); /* two whole chunks */
	T_ASSERT(bm_to_order(t_page_entry(ns, small, 3, NULL, NULL)) == 0);
	e = t_page_entry(ns, large, 300, &first, NULL);
	T_ASSERT(bm_to_order(e) == 9 && first == 0);
	T_ASSERT(bm_to_order(t_page_entry(ns, large, 700, &first, NULL)) == 9 && first == 512);

	/* Holders over the page and next to it. */
	grant(ns, &h_small_in, small, 2, 3);  /* pages 2..4 */
	grant(ns, &h_small_out, small, 4, 4); /* pages 4..7 */
	grant(ns, &h_large_in, large, 256, 256);
	grant(ns, &h_large_out, large, 301, 467);

	bad_small = t_page_block(ns, small, 3, NULL);
	expect_owned(ns, small, 3, SMALL_PAGES, 1, NULL, 0);
	T_ASSERT(h_small_in.poisons == 1 && h_small_in.ino == small && h_small_in.index == 3 &&
		 h_small_in.count == 1);
	T_ASSERT(h_small_out.poisons == 0);
	T_ASSERT(h_large_in.poisons == 0 && h_large_out.poisons == 0);

	bad_large = t_page_block(ns, large, 300, NULL);
	expect_owned(ns, large, 300, LARGE_PAGES, 2, NULL, 0);
	/* Only the one page of the 2 MiB entry is poisoned. */
	e = t_page_entry(ns, large, 300, &first, NULL);
	T_ASSERT(bm_to_order(e) == 9 && first == 0);
	T_ASSERT(h_large_in.poisons == 1 && h_large_in.ino == large && h_large_in.index == 300 &&
		 h_large_in.count == 1);
	T_ASSERT(h_large_out.poisons == 0);
	T_ASSERT(h_small_in.poisons == 1 && h_small_out.poisons == 0);

	/* Two blocks at once: pages 600 and 601 of the second chunk. */
	b = t_page_block(ns, large, 600, NULL);
	T_ASSERT(t_page_block(ns, large, 601, NULL) == b + 1);
	T_ASSERT(poison(ns, b * PAGE + PAGE - 1, 2, &r) == 2);
	T_ASSERT(r.n == 2 && r.hits[0].owned && r.hits[0].index == 600 && r.hits[1].owned &&
		 r.hits[1].index == 601 && r.hits[0].ino == large && r.hits[1].ino == large);
	T_ASSERT(r.locked[0] && r.locked[1]);
	T_ASSERT(h_large_out.poisons == 2 && h_large_out.index == 601);
	T_ASSERT(h_large_in.poisons == 1);
	T_ASSERT(quarantined(ns) == 4);
	T_ASSERT(blocks_of(ns, large) == 1021);
	T_ASSERT(ns_read(ns, NULL, large, buf, 2 * PAGE, 599 * PAGE) == (ssize_t)PAGE);
	T_ERR(ns_read(ns, NULL, large, buf, PAGE, 601 * PAGE), EIO);
	audit(ns);

	ns_grant_delete(ns, &h_small_in.g);
	ns_grant_delete(ns, &h_small_out.g);
	ns_grant_delete(ns, &h_large_in.g);
	ns_grant_delete(ns, &h_large_out.g);

	/* Repair by rewrite: a partial write is EIO, and changes nothing. */
	memset(page, 0xa5, sizeof(page));
	T_ERR(ns_write(ns, NULL, small, page, 100, 3 * PAGE + 10), EIO);
	T_ERR(ns_write(ns, NULL, small, page, PAGE - 1, 3 * PAGE + 1), EIO);
	T_ERR(ns_write(ns, NULL, small, page, PAGE - 1, 3 * PAGE), EIO);
	T_ERR(ns_read(ns, NULL, small, buf, PAGE, 3 * PAGE), EIO);
	T_ASSERT(t_page_block(ns, small, 3, NULL) == bad_small);
	/* A whole-page write moves the page to a fresh block. */
	T_ASSERT(ns_write(ns, NULL, small, page, PAGE, 3 * PAGE) == (ssize_t)PAGE);
	T_ASSERT(ns_read(ns, NULL, small, buf, PAGE, 3 * PAGE) == (ssize_t)PAGE);
	T_ASSERT(memcmp(buf, page, PAGE) == 0);
	e = t_page_entry(ns, small, 3, NULL, &b);
	T_ASSERT(b != bad_small && !bm_is_poison(e) && !bm_is_locked(e));
	T_ASSERT(alloc_is_quarantined(ns->alloc, bad_small));
	T_ASSERT(blocks_of(ns, small) == SMALL_PAGES);
	{
		uint64_t skip = 3;

		check_all(ns, small, SMALL_PAGES, 1, &skip, 1);
	}
	/* Inside the 2 MiB entry: a write of pages 299..301 repairs 300, keeps its neighbours. */
	{
		uint64_t b299 = t_page_block(ns, large, 299, NULL),
			 b301 = t_page_block(ns, large, 301, NULL);
		uint8_t three[3 * PAGE];

		memset(three, 0x5a, sizeof(three));
		T_ASSERT(ns_write(ns, NULL, large, three, sizeof(three), 299 * PAGE) ==
			 (ssize_t)sizeof(three));
		T_ASSERT(ns_read(ns, NULL, large, buf, sizeof(buf), 299 * PAGE) ==
			 (ssize_t)sizeof(buf));
		T_ASSERT(memcmp(buf, three, sizeof(three)) == 0);
		e = t_page_entry(ns, large, 300, &first, &b);
		T_ASSERT(bm_to_order(e) == 0 && first == 300 && b != bad_large &&
			 !bm_is_poison(e) && !bm_is_locked(e));
		T_ASSERT(t_page_block(ns, large, 299, NULL) == b299 &&
			 t_page_block(ns, large, 301, NULL) == b301);
		T_ASSERT(!bm_is_locked(t_page_entry(ns, large, 0, NULL, NULL)));
		T_ASSERT(!bm_is_locked(t_page_entry(ns, large, 511, NULL, NULL)));
		T_ASSERT(alloc_is_quarantined(ns->alloc, bad_large));
		T_ASSERT(blocks_of(ns, large) == 1022);
		check_page(ns, large, 298, 2);
		check_page(ns, large, 302, 2);
	}
	T_ASSERT(quarantined(ns) == 4);
	rcu_barrier_all();
	T_ASSERT(alloc_is_quarantined(ns->alloc, bad_small));
	T_ASSERT(alloc_is_quarantined(ns->alloc, bad_large));
	T_ASSERT(quarantined(ns) == 4);
	audit(ns);

	/* Persistence: check the unmounted region, mount, checkpoint, mount again. */
	for (int round = 0; round < 3; round++) {
		uint64_t bad[] = {600, 601};

		ns_unmount(&ns);
		memset(&res, 0, sizeof(res));
		T_OK(ns_check(path, audit_line, NULL, &res));
		T_ASSERT(res.problems == 0);
		T_ASSERT(res.blocks_quarantined == 4);
		ns = mount_region(path);
		T_ASSERT(quarantined(ns) == 4);
		T_ASSERT(blocks_of(ns, small) == SMALL_PAGES);
		T_ASSERT(blocks_of(ns, large) == 1022);
		T_ASSERT(alloc_is_quarantined(ns->alloc, bad_small));
		T_ASSERT(alloc_is_quarantined(ns->alloc, bad_large));
		T_ERR(ns_read(ns, NULL, large, buf, PAGE, 600 * PAGE), EIO);
		T_ERR(ns_read(ns, NULL, large, buf, PAGE, 601 * PAGE), EIO);
		T_ASSERT(ns_read(ns, NULL, large, buf, 3 * PAGE, 598 * PAGE) ==
			 (ssize_t)(2 * PAGE));
		T_ASSERT(ns_read(ns, NULL, small, buf, PAGE, 3 * PAGE) == (ssize_t)PAGE);
		T_ASSERT(memcmp(buf, page, PAGE) == 0);
		T_ASSERT(ns_read(ns, NULL, large, buf, PAGE, 300 * PAGE) == (ssize_t)PAGE);
		T_ASSERT(buf[0] == 0x5a && buf[PAGE - 1] == 0x5a);
		check_page(ns, small, 2, 1);
		check_page(ns, small, 4, 1);
		for (uint64_t p = 0; p < LARGE_PAGES; p++)
			if (p < 299 || (p > 301 && p != bad[0] && p != bad[1]))
				check_page(ns, large, p, 2);
		/* Poisoning the quarantined blocks again changes nothing. */
		T_ASSERT(poison(ns, bad_small * PAGE, PAGE, &r) == 0 && r.hits[0].already);
		audit(ns);
		if (round == 1)
			T_OK(ns_checkpoint(ns));
	}
	/*
	 * After the restart: one write repairs both poisoned pages of the 2 MiB entry at once,
	 * and a third poisoned page of that entry stays poisoned when the entry is split.
	 */
	T_ASSERT(bm_to_order(t_page_entry(ns, large, 600, &first, NULL)) == 9 && first == 512);
	b = t_page_block(ns, large, 700, NULL);
	T_ASSERT(poison(ns, b * PAGE, PAGE, &r) == 1 && r.hits[0].owned && r.hits[0].index == 700);
	T_ASSERT(quarantined(ns) == 5 && blocks_of(ns, large) == 1021);
	{
		uint8_t two[2 * PAGE];

		memset(two, 0x3c, sizeof(two));
		T_ASSERT(ns_write(ns, NULL, large, two, sizeof(two), 600 * PAGE) ==
			 (ssize_t)sizeof(two));
		T_ASSERT(ns_read(ns, NULL, large, buf, sizeof(two), 600 * PAGE) ==
			 (ssize_t)sizeof(two));
		T_ASSERT(memcmp(buf, two, sizeof(two)) == 0);
	}
	T_ASSERT(bm_to_order(t_page_entry(ns, large, 600, NULL, NULL)) == 0);
	T_ASSERT(!bm_is_locked(t_page_entry(ns, large, 599, NULL, NULL)));
	T_ASSERT(!bm_is_locked(t_page_entry(ns, large, 602, NULL, NULL)));
	T_ERR(ns_read(ns, NULL, large, buf, PAGE, 700 * PAGE), EIO);
	T_ASSERT(t_page_block(ns, large, 700, NULL) == b && alloc_is_quarantined(ns->alloc, b));
	check_page(ns, large, 599, 2);
	check_page(ns, large, 602, 2);
	check_page(ns, large, 699, 2);
	check_page(ns, large, 701, 2);
	T_ASSERT(quarantined(ns) == 5 && blocks_of(ns, large) == 1023);
	audit(ns);
	ns_unmount(&ns);
	memset(&res, 0, sizeof(res));
	T_OK(ns_check(path, audit_line, NULL, &res));
	T_ASSERT(res.problems == 0 && res.blocks_quarantined == 5);
	ns = mount_region(path);
	T_ERR(ns_read(ns, NULL, large, buf, PAGE, 700 * PAGE), EIO);
	T_ASSERT(ns_read(ns, NULL, large, buf, PAGE, 601 * PAGE) == (ssize_t)PAGE &&
		 buf[0] == 0x3c);
	T_ASSERT(quarantined(ns) == 5 && blocks_of(ns, large) == 1023);
	audit(ns);
	ns_unmount(&ns);
	printf("ok owned pages, grants, repair, persistence\n");
}

/* ---- free blocks ---- */

/* Fill the region with one growing file until ENOSPC; return its inode. */
static uint64_t fill_region(struct ns *ns, const char *name)
{
	static uint8_t chunk[256 * 1024];
	struct ns_attr a;
	uint64_t off = 0;
	ssize_t n;

	memset(chunk, 0x77, sizeof(chunk));
	T_OK(ns_create(ns, NULL, NS_ROOT_INO, name, 0644, &a));
	for (;;) {
		n = ns_write(ns, NULL, a.ino, chunk, sizeof(chunk), off);
		if (n == -ENOSPC)
			break;
		T_ASSERT(n > 0);
		off += (uint64_t)n;
	}
	return a.ino;
}

static void test_free(void)
{
	const char *path = t_path("free");
	uint64_t blk = UINT64_MAX, q, ino, first, order_pages;
	struct check_result res;
	struct ns_statfs st, st2;
	struct report r;
	struct rmap_owner own;
	struct ns_inode *in;
	unsigned order;
	xt_entry e;
	struct ns *ns;
	bool owned;

	T_OK(ns_mkfs(path, REGION_SIZE, NULL));
	ns = mount_region(path);
	make_file(ns, "some", 5 * PAGE, 3);
	/* A free block in the middle of the last chunk. */
	blk = ns->data_first + ns->data_count - FMT_CHUNK_BLOCKS + 77;
	T_ASSERT(alloc_is_free(ns->alloc, blk));
	ns_statfs(ns, &st);
	q = st.blocks_quarantined;
	T_ASSERT(poison(ns, blk * PAGE + 5, PAGE - 5, &r) == 1);
	T_ASSERT(r.n == 1 && r.hits[0].block == blk && !r.hits[0].owned && !r.hits[0].already &&
		 !r.hits[0].metadata);
	ns_statfs(ns, &st2);
	T_ASSERT(st2.blocks_quarantined == q + 1);
	T_ASSERT(st2.blocks_free == st.blocks_free - 1);
	T_ASSERT(alloc_is_quarantined(ns->alloc, blk) && !alloc_is_free(ns->alloc, blk));
	T_ASSERT(poison(ns, blk * PAGE, 1, &r) == 0 && r.hits[0].already);

	/* Fill everything: the block is never handed out. */
	ino = fill_region(ns, "fill");
	ns_statfs(ns, &st);
	T_ASSERT(st.blocks_free == 0);
	T_ASSERT(st.blocks_quarantined == q + 1);
	T_ASSERT(alloc_is_quarantined(ns->alloc, blk));
	rcu_read_begin();
	owned = rmap_lookup(&ns->rmap, blk, &own);
	rcu_read_end();
	T_ASSERT(!owned);
	/* No page of any file maps it: walk the block maps. */
	{
		uint64_t total = 0;
		struct cds_lfht_iter it;

		rcu_read_begin();
		cds_lfht_for_each_entry (ns->inodes, &it, in, hnode) {
			uint64_t i;

			if (!S_ISREG(in->mode))
				continue;
			xt_for_each (&in->map, i, order, e, 0, XT_INDEX_MAX) {
				first = bm_to_block(e);
				order_pages = UINT64_C(1) << order;
				T_ASSERT(!bm_is_poison(e));
				if (blk >= first && blk < first + order_pages)
					T_FAIL("inode %" PRIu64 " page %" PRIu64
					       " maps block %" PRIu64,
					       in->ino, i + (blk - first), blk);
				total += order_pages;
			}
		}
		rcu_read_end();
		/* Everything else is owned by the two files. */
		T_ASSERT(total == st.blocks - st.blocks_quarantined);
	}
	T_ASSERT(blocks_of(ns, ino) + 5 == st.blocks - 1);
	audit(ns);

	/* After a restart too. */
	ns_unmount(&ns);
	memset(&res, 0, sizeof(res));
	T_OK(ns_check(path, audit_line, NULL, &res));
	T_ASSERT(res.problems == 0 && res.blocks_quarantined == 1 && res.blocks_free == 0);
	ns = mount_region(path);
	T_ASSERT(alloc_is_quarantined(ns->alloc, blk));
	T_ASSERT(quarantined(ns) == 1);
	/* Free everything: the block stays quarantined, the rest can be taken again. */
	T_OK(ns_unlink(ns, NULL, NS_ROOT_INO, "fill"));
	T_OK(ns_unlink(ns, NULL, NS_ROOT_INO, "some"));
	rcu_barrier_all();
	ns_statfs(ns, &st);
	T_ASSERT(st.blocks_free == st.blocks - 1 && st.blocks_quarantined == 1);
	T_ASSERT(alloc_is_quarantined(ns->alloc, blk));
	fill_region(ns, "again");
	ns_statfs(ns, &st);
	T_ASSERT(st.blocks_free == 0 && st.blocks_quarantined == 1);
	rcu_read_begin();
	owned = rmap_lookup(&ns->rmap, blk, &own);
	rcu_read_end();
	T_ASSERT(!owned);
	audit(ns);
	ns_unmount(&ns);
	printf("ok free blocks\n");
}

/* ---- metadata and ranges ---- */

static void test_metadata(void)
{
	const char *path = t_path("meta");
	const struct fmt_super *sb;
	uint64_t size, ino, q, blk, active_off;
	uint8_t buf[2 * PAGE];
	struct ns_setattr sa = {.valid = NS_SET_SIZE, .size = 0};
	struct ns_attr a;
	struct report r;
	struct ns *ns;

	T_OK(ns_mkfs(path, REGION_SIZE, NULL));
	ns = mount_region(path);
	size = region_size(ns_region(ns));
	ino = make_file(ns, "f", 4 * PAGE, 4);
	q = quarantined(ns);

	/* Out of range. */
	T_ERR(poison(ns, size, 1, &r), EINVAL);
	T_ERR(poison(ns, size + PAGE, PAGE, &r), EINVAL);
	T_ERR(poison(ns, size - 1, 2, &r), EINVAL);
	T_ERR(poison(ns, size - PAGE, PAGE + 1, &r), EINVAL);
	T_ERR(poison(ns, PAGE, UINT64_MAX, &r), EINVAL);
	T_ERR(poison(ns, UINT64_MAX, 1, &r), EINVAL);
	T_ERR(poison(ns, UINT64_MAX - 10, 20, &r), EINVAL);
	T_ERR(poison(ns, 0, 0, &r), EINVAL);
	T_ASSERT(r.n == 0);

	/* The primary and the backup superblock, unused space: noted, nothing else. */
	err_lines = 0;
	T_ASSERT(poison(ns, 0, 1, &r) == 0);
	T_ASSERT(r.n == 1 && r.hits[0].metadata && r.hits[0].block == 0 && !r.hits[0].owned);
	T_ASSERT(err_lines == 1 && strstr(last_err, "primary superblock"));
	T_ASSERT(poison(ns, size - 1, 1, &r) == 0);
	T_ASSERT(r.n == 1 && r.hits[0].metadata);
	T_ASSERT(strstr(last_err, "backup superblock"));
	T_ASSERT(poison(ns, PAGE, 2 * PAGE, &r) == 0);
	T_ASSERT(r.n == 2 && r.hits[0].metadata && r.hits[1].metadata);
	T_ASSERT(quarantined(ns) == q);
	T_OK(ns_create(ns, NULL, NS_ROOT_INO, "still-writable", 0644, NULL));
	fill_pat(buf, 4, 0, 10);
	T_ASSERT(ns_write(ns, NULL, ino, buf, 10, 0) == 10);

	/* The active log area: read-only from now on. */
	sb = mlog_super(ns->log);
	active_off = sb->log_off[sb->log_active];
	err_lines = 0;
	T_ASSERT(poison(ns, active_off + 3 * PAGE, 1, &r) == 0);
	T_ASSERT(r.n == 1 && r.hits[0].metadata && !r.hits[0].owned);
	T_ASSERT(err_lines == 1 && strstr(last_err, "read-only") && strstr(last_err, "active"));
	T_ERR(ns_create(ns, NULL, NS_ROOT_INO, "nope", 0644, NULL), EROFS);
	T_ERR(ns_mkdir(ns, NULL, NS_ROOT_INO, "nope", 0755, NULL), EROFS);
	T_ERR(ns_write(ns, NULL, ino, buf, 10, 0), EROFS);
	T_ERR(ns_setattr(ns, NULL, ino, &sa, NULL), EROFS);
	T_ERR(ns_fallocate(ns, NULL, ino, 0, 0, PAGE), EROFS);
	T_ERR(ns_unlink(ns, NULL, NS_ROOT_INO, "f"), EROFS);
	T_ERR(ns_rename(ns, NULL, NS_ROOT_INO, "f", NS_ROOT_INO, "g", 0), EROFS);
	T_ERR(ns_checkpoint(ns), EROFS);
	/* Reads work. */
	T_OK(ns_lookup(ns, NULL, NS_ROOT_INO, "f", &a));
	T_ASSERT(a.ino == ino && a.size == 4 * PAGE);
	check_all(ns, ino, 4, 4, NULL, 0);
	/* Data poison while read-only: quarantined in memory, the page reads EIO. */
	blk = t_page_block(ns, ino, 2, NULL);
	T_ASSERT(poison(ns, blk * PAGE, PAGE, &r) == 1);
	T_ASSERT(r.n == 1 && r.hits[0].owned && r.hits[0].ino == ino && r.hits[0].index == 2);
	T_ASSERT(alloc_is_quarantined(ns->alloc, blk) && quarantined(ns) == q + 1);
	T_ERR(ns_read(ns, NULL, ino, buf, PAGE, 2 * PAGE), EIO);
	T_ASSERT(ns_read(ns, NULL, ino, buf, 2 * PAGE, PAGE) == (ssize_t)PAGE);
	check_page(ns, ino, 3, 4);
	ns_unmount(&ns);
	printf("ok metadata and ranges\n");
}

/* ---- races between the rmap lookup and the xtable lock ---- */

enum race { RACE_TRUNCATE, RACE_UNLINK, RACE_MOVE };

struct race_ctx {
	struct ns *ns;
	enum race kind;
	uint64_t ino, block;
	unsigned fired;
};

static void race_hook(void *ctx, enum ns_hook hook, uint64_t block)
{
	struct race_ctx *rc = ctx;
	struct ns_setattr sa = {.valid = NS_SET_SIZE, .size = 2 * PAGE};
	uint8_t page[PAGE];

	T_ASSERT(hook == NS_HOOK_POISON_AFTER_RMAP);
	if (rc->fired++)
		return;
	T_ASSERT(block == rc->block);
	/* Still inside the read section of the lookup: the engine may run, nothing may wait. */
	switch (rc->kind) {
	case RACE_TRUNCATE:
		T_OK(ns_setattr(rc->ns, NULL, rc->ino, &sa, NULL));
		break;
	case RACE_UNLINK:
		T_OK(ns_unlink(rc->ns, NULL, NS_ROOT_INO, "racer"));
		break;
	case RACE_MOVE:
		T_OK(ns_fallocate(rc->ns, NULL, rc->ino, NS_FALLOC_PUNCH_HOLE | NS_FALLOC_KEEP_SIZE,
				  3 * PAGE, PAGE));
		memset(page, 0x99, sizeof(page));
		T_ASSERT(ns_write(rc->ns, NULL, rc->ino, page, PAGE, 3 * PAGE) == (ssize_t)PAGE);
		break;
	}
}

static void test_races(void)
{
	static const char *const names[] = {"truncated", "unlinked", "moved"};
	const char *path = t_path("races");
	struct ns *ns;

	T_OK(ns_mkfs(path, REGION_SIZE, NULL));
	ns = mount_region(path);
	for (enum race kind = RACE_TRUNCATE; kind <= RACE_MOVE; kind++) {
		struct race_ctx rc = {.ns = ns, .kind = kind};
		uint64_t q = quarantined(ns);
		uint8_t buf[PAGE];
		struct report r;
		struct ns_attr a;

		rc.ino = make_file(ns, "racer", SMALL_PAGES * PAGE, 5);
		rc.block = t_page_block(ns, rc.ino, 3, NULL);
		ns_set_hook(ns, race_hook, &rc);
		T_ASSERT(poison(ns, rc.block * PAGE, PAGE, &r) == 1);
		ns_set_hook(ns, NULL, NULL);
		if (!DAXFS_TEST_HOOKS) {
			T_ASSERT(rc.fired == 0);
			printf("skip races: test hooks are compiled out\n");
			T_OK(ns_unlink(ns, NULL, NS_ROOT_INO, "racer"));
			break;
		}
		/* The hook ran once: the retry found the block without an owner. */
		T_ASSERT(rc.fired == 1);
		T_ASSERT(r.n == 1 && r.hits[0].block == rc.block && !r.hits[0].owned &&
			 !r.hits[0].already);
		T_ASSERT(quarantined(ns) == q + 1);
		T_ASSERT(alloc_is_quarantined(ns->alloc, rc.block));
		rcu_barrier_all();
		T_ASSERT(alloc_is_quarantined(ns->alloc, rc.block));
		T_ASSERT(!alloc_is_free(ns->alloc, rc.block));
		switch (kind) {
		case RACE_TRUNCATE:
			T_OK(ns_getattr(ns, rc.ino, &a));
			T_ASSERT(a.size == 2 * PAGE && a.blocks == 2);
			check_page(ns, rc.ino, 0, 5);
			check_page(ns, rc.ino, 1, 5);
			break;
		case RACE_UNLINK:
			T_ERR(ns_getattr(ns, rc.ino, &a), ENOENT);
			break;
		case RACE_MOVE:
			T_OK(ns_getattr(ns, rc.ino, &a));
			T_ASSERT(a.blocks == SMALL_PAGES);
			T_ASSERT(t_page_block(ns, rc.ino, 3, NULL) != rc.block);
			T_ASSERT(ns_read(ns, NULL, rc.ino, buf, PAGE, 3 * PAGE) == (ssize_t)PAGE);
			T_ASSERT(buf[0] == 0x99 && buf[PAGE - 1] == 0x99);
			check_page(ns, rc.ino, 2, 5);
			check_page(ns, rc.ino, 4, 5);
			break;
		}
		audit(ns);
		if (kind != RACE_UNLINK)
			T_OK(ns_unlink(ns, NULL, NS_ROOT_INO, "racer"));
		printf("ok race: page %s between the rmap lookup and the xtable lock\n",
		       names[kind]);
	}
	ns_unmount(&ns);
	{
		struct check_result res = {0};

		T_OK(ns_check(path, audit_line, NULL, &res));
		T_ASSERT(res.problems == 0);
		T_ASSERT(res.blocks_quarantined == (DAXFS_TEST_HOOKS ? 3 : 0));
	}
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	setvbuf(stdout, NULL, _IOLBF, 0);
	t_watchdog(60, "test-poison");
	rcu_thread_online();
	log_set_sink(sink, NULL);
	test_owned();
	test_free();
	test_metadata();
	test_races();
	log_set_sink(NULL, NULL);
	rcu_thread_offline();
	return 0;
}
