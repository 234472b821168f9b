// SPDX-License-Identifier: MIT
/*
 * What an operator asks about the media: a file's extents (as filefrag shows them), the
 * quarantined blocks and the file pages they hit, and a scrub that reads every allocated
 * block. All of it reads the tables under RCU and changes nothing, except that a scrub hands
 * what it finds to poison_handle() like any other source.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "nsint.h"
#include "poison.h"
#include "util.h"

#define PAGE FMT_BLOCK_SIZE

int ns_extents(struct ns *ns, uint64_t ino, uint64_t from, struct ns_extent *out, size_t max,
	       uint64_t *next)
{
	struct ns_extent *last = NULL;
	struct ns_inode *in;
	uint64_t i;
	unsigned order;
	size_t n = 0;
	xt_entry e;

	if (max == 0)
		return -EINVAL;
	in = ns_inode_get(ns, ino);
	if (!in)
		return -ENOENT;
	if (in->type == S_IFDIR) {
		ns_inode_put(ns, in);
		return -EISDIR;
	}
	*next = UINT64_MAX;
	rcu_read_begin();
	xt_for_each (&in->map, i, order, e, from, XT_INDEX_MAX) {
		uint64_t count = UINT64_C(1) << order, first = i, blk;
		unsigned flags;

		if (!xt_is_value(e) || bm_is_hole(e))
			continue;
		blk = bm_to_block(e);
		if (first < from) { /* a 2 MiB entry straddling where this call starts */
			blk += from - first;
			count -= from - first;
			first = from;
		}
		flags = bm_is_poison(e) ? NS_EXT_POISON : 0;
		if (last && last->flags == flags && last->index + last->count == first &&
		    last->block + last->count == blk) {
			last->count += count;
			continue;
		}
		if (n == max) {
			*next = first;
			break;
		}
		last = &out[n++];
		*last = (struct ns_extent){first, blk, count, flags};
	}
	rcu_read_end();
	ns_inode_put(ns, in);
	return (int)n;
}

/* --- bad blocks --- */

struct bb_walk {
	struct ns *ns;
	struct ns_bad_page *pages; /* a copy of ns->bad_pages, sorted by block */
	size_t npages;
	struct ns_bad_page rep[NS_REPAIRED_MAX]; /* a copy of ns->repaired_pages (sorted) */
	size_t nrep, irep;			 /* how many; the next to list */
	uint64_t from;				 /* first block wanted */
	struct poison_bad *out;
	size_t max, n;
	uint64_t next; /* first block not listed, UINT64_MAX when all were */
};

static int cmp_page(const void *a, const void *b)
{
	const struct ns_bad_page *x = a, *y = b;

	return x->block < y->block ? -1 : x->block > y->block;
}

/*
 * owner_of - the file page still on bad @block: poison hit it, and it has been neither
 * rewritten (repair moves the page to a fresh block) nor freed. Several pages may have
 * been noted for one block over time (a file freed, the block was free, another took it
 * before the poison): the one whose entry still maps @block is the owner.
 */
static bool owner_of(struct bb_walk *w, uint64_t block, uint64_t *ino, uint64_t *index)
{
	struct ns_bad_page key = {.block = block}, *p;
	bool found = false;

	if (!w->npages)
		return false;
	p = bsearch(&key, w->pages, w->npages, sizeof(key), cmp_page);
	if (!p)
		return false;
	while (p > w->pages && p[-1].block == block)
		p--;
	rcu_read_begin();
	for (; !found && p < w->pages + w->npages && p->block == block; p++) {
		struct ns_inode *in = ns_inode_find(w->ns, p->ino);
		uint64_t first;
		xt_entry e;

		if (!in || in->type == S_IFDIR)
			continue;
		e = __xt_load(&in->map, p->index, &first, NULL);
		if (xt_is_value(e) && !bm_is_hole(e) && bm_is_poison(e) &&
		    bm_to_block(e) + (p->index - first) == block) {
			*ino = p->ino;
			*index = p->index;
			found = true;
		}
	}
	rcu_read_end();
	return found;
}

/* bb_add - append one bad block, merging it into the previous entry when it continues it. */
static bool bb_add(struct bb_walk *w, uint64_t block, bool owned, uint64_t ino, uint64_t index,
		   unsigned flags)
{
	struct poison_bad *last = w->n ? &w->out[w->n - 1] : NULL;

	if (last && last->block + last->count == block && last->flags == flags &&
	    last->owned == owned &&
	    (!owned || (last->ino == ino && last->index + last->count == index))) {
		last->count++;
		return true;
	}
	if (w->n == w->max) {
		w->next = block;
		return false;
	}
	w->out[w->n++] = (struct poison_bad){block, 1, owned, ino, owned ? index : 0, flags};
	return true;
}

/* repaired_below - list the repaired pages below block @limit. Return: false when full. */
static bool repaired_below(struct bb_walk *w, uint64_t limit)
{
	for (; w->irep < w->nrep && w->rep[w->irep].block < limit; w->irep++) {
		const struct ns_bad_page *p = &w->rep[w->irep];

		/* ino 0: a superblock or log block (poison.c) */
		if (p->block >= w->from &&
		    !bb_add(w, p->block, p->ino != 0, p->ino, p->index,
			    POISON_BAD_REPAIRED | (p->ino ? 0 : POISON_BAD_METADATA)))
			return false;
	}
	return true;
}

static void bb_run(uint64_t block, uint64_t count, void *ctx)
{
	struct bb_walk *w = ctx;

	if (w->next != UINT64_MAX)
		return; /* full */
	for (uint64_t b = MAX(block, w->from); b < block + count; b++) {
		uint64_t ino = 0, index = 0;
		bool owned;

		if (!repaired_below(w, b))
			return;

		owned = owner_of(w, b, &ino, &index);
		if (!bb_add(w, b, owned, ino, index, 0))
			return;
	}
}

int poison_list(struct ns *ns, uint64_t from, struct poison_bad *out, size_t max, uint64_t *next)
{
	struct bb_walk w = {.ns = ns, .from = from, .out = out, .max = max, .next = UINT64_MAX};
	uint64_t meta[NS_META_BAD_MAX];
	size_t nmeta;

	if (max == 0)
		return -EINVAL;
	pthread_mutex_lock(&ns->meta_bad_lock);
	nmeta = ns->nmeta_bad;
	memcpy(meta, ns->meta_bad, nmeta * sizeof(meta[0]));
	w.nrep = ns->nrepaired_pages;
	memcpy(w.rep, ns->repaired_pages, w.nrep * sizeof(w.rep[0]));
	if (ns->nbad_pages) {
		w.pages = malloc(ns->nbad_pages * sizeof(*w.pages));
		if (!w.pages) {
			pthread_mutex_unlock(&ns->meta_bad_lock);
			return -ENOMEM;
		}
		w.npages = ns->nbad_pages;
		memcpy(w.pages, ns->bad_pages, w.npages * sizeof(*w.pages));
	}
	pthread_mutex_unlock(&ns->meta_bad_lock);
	if (w.npages)
		qsort(w.pages, w.npages, sizeof(*w.pages), cmp_page);
	/* Metadata below the data area first: the list is in block order. */
	for (size_t i = 0; i < nmeta; i++) {
		if (meta[i] < from || meta[i] >= ns->data_first)
			continue;
		if (!repaired_below(&w, meta[i]) ||
		    !bb_add(&w, meta[i], false, 0, 0, POISON_BAD_METADATA))
			goto out;
	}
	alloc_for_each_quarantined(ns->alloc, bb_run, &w);
	if (w.next != UINT64_MAX || !repaired_below(&w, ns->data_first + ns->data_count))
		goto out;
	for (size_t i = 0; i < nmeta; i++) {
		if (meta[i] < from || meta[i] < ns->data_first)
			continue;
		if (!repaired_below(&w, meta[i]) ||
		    !bb_add(&w, meta[i], false, 0, 0, POISON_BAD_METADATA))
			goto out;
	}
	repaired_below(&w, UINT64_MAX);
out:
	free(w.pages);
	*next = w.next;
	return (int)w.n;
}

/* --- scrub --- */

uint64_t poison_scrub_run(struct ns *ns, uint64_t b, uint64_t end)
{
	uint64_t run = 0;

	while (b + run < end && run < SCRUB_RUN_BLOCKS && !alloc_is_free(ns->alloc, b + run) &&
	       !alloc_is_quarantined(ns->alloc, b + run))
		run++;
	return run;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t poison_scrub_blocks(struct ns *ns)
{
	return ns->data_count;
}

int poison_scrub_range(struct ns *ns, uint64_t from, uint64_t count,
		       struct poison_scrub_result *res)
{
	uint64_t b, end, start = now_us();
	struct region *r = ns->r;
	int64_t newly;
	void *buf;
	int rc = 0;

	memset(res, 0, sizeof(*res));
	if (from > ns->data_count)
		return -EINVAL;
	b = ns->data_first + from;
	end = ns->data_first + from + MIN(count, ns->data_count - from);
	buf = malloc(SCRUB_RUN_BLOCKS * PAGE);
	if (!buf)
		return -ENOMEM;
	while (b < end) {
		struct region_fault f;
		uint64_t run = poison_scrub_run(ns, b, end), got;

		if (run == 0) {
			b++;
			continue;
		}
		if (region_copy_safe(r, buf, region_at(r, b * PAGE), run * PAGE, &f) == 0) {
			res->blocks_read += run;
			b += run;
			continue;
		}
		if (region_failed(r, NULL)) {
			rc = -EIO;
			break;
		}
		/* Read up to the lost range; go on after it (it may cover several blocks). */
		got = f.off > b * PAGE ? MIN(f.off / PAGE - b, run) : 0;
		res->blocks_read += got;
		b = MAX(b + got + 1, MIN((f.off + f.len) / PAGE, b + run));
	}
	free(buf);
	res->bytes_read = res->blocks_read * PAGE;
	newly = poison_drain(ns);
	if (newly > 0)
		res->blocks_bad = (uint64_t)newly;
	res->usec = now_us() - start;
	if (rc == 0 && newly < 0)
		rc = (int)newly;
	return rc;
}

int poison_scrub(struct ns *ns, struct poison_scrub_result *res)
{
	int rc = poison_scrub_range(ns, 0, ns->data_count, res);

	log_notice("%s: scrub read %" PRIu64 " blocks in %" PRIu64 " ms: %" PRIu64
		   " newly poisoned",
		   region_path(ns->r), res->blocks_read, res->usec / 1000, res->blocks_bad);
	return rc;
}
