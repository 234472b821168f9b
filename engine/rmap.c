// SPDX-License-Identifier: MIT
/*
 * The reverse map: region block -> (inode, page index). See rmap.h.
 */
#include <errno.h>
#include <stdlib.h>

#include "rmap.h"
#include "util.h"

struct rmap_rec {
	struct ns_inode *inode;
	uint64_t index;
	uint64_t block;
	uint64_t count;
	struct rcu_head rcu;
};

void rmap_init(struct rmap *rm)
{
	xt_init(&rm->xt);
	rm->nr_records = 0;
}

static void rec_free_cb(struct rcu_head *head)
{
	rcu_cb_begin(head);
	free(caa_container_of(head, struct rmap_rec, rcu));
}

static void rec_retire(struct rmap *rm, struct rmap_rec *rec)
{
	rm->nr_records--;
	rcu_defer_free(&rec->rcu, rec_free_cb);
}

/* piece_order - order of the largest aligned piece that starts at @b and fits in @n blocks. */
static unsigned piece_order(uint64_t b, uint64_t n)
{
	unsigned fit = 63 - (unsigned)__builtin_clzll(n);
	unsigned align = b ? (unsigned)__builtin_ctzll(b) : 63;

	return MIN(MIN(fit, align), (unsigned)XT_ORDER_MAX);
}

/* __store_rec - store @rec over its whole range. Locking: rmap lock held. */
static int __store_rec(struct rmap *rm, struct rmap_rec *rec)
{
	uint64_t b = rec->block, n = rec->count;

	while (n) {
		unsigned order = piece_order(b, n);
		int rc = __xt_store(&rm->xt, b, order, xt_mk_ptr(rec));

		if (rc)
			return rc;
		b += UINT64_C(1) << order;
		n -= UINT64_C(1) << order;
	}
	return 0;
}

/* __erase_range - remove every piece inside [b, b + n). Locking: rmap lock held. */
static void __erase_range(struct rmap *rm, uint64_t b, uint64_t n)
{
	while (n) {
		unsigned order = piece_order(b, n);

		__xt_erase(&rm->xt, b);
		b += UINT64_C(1) << order;
		n -= UINT64_C(1) << order;
	}
}

static struct rmap_rec *rec_new(struct ns_inode *inode, uint64_t index, uint64_t block,
				uint64_t count)
{
	struct rmap_rec *rec = malloc(sizeof(*rec));

	if (rec) {
		rec->inode = inode;
		rec->index = index;
		rec->block = block;
		rec->count = count;
	}
	return rec;
}

static struct rmap_rec *__rec_at(struct rmap *rm, uint64_t block)
{
	xt_entry e = __xt_load(&rm->xt, block, NULL, NULL);

	return xt_is_ptr(e) ? xt_to_ptr(e) : NULL;
}

int rmap_insert(struct rmap *rm, uint64_t block, uint64_t count, struct ns_inode *inode,
		uint64_t index)
{
	struct rmap_rec *left = NULL, *right = NULL, *rec;
	uint64_t i = block;
	int rc;

	if (count == 0 || block + count < block)
		return -EINVAL;
	xt_lock(&rm->xt);
	if (xt_find(&rm->xt, &i, block + count - 1, XT_MARK_ANY, NULL) != XT_EMPTY) {
		rc = -EEXIST;
		goto out;
	}
	if (block > 0) {
		left = __rec_at(rm, block - 1);
		if (left && !(left->inode == inode && left->index + left->count == index))
			left = NULL;
	}
	right = __rec_at(rm, block + count);
	if (right && !(right->inode == inode && right->index == index + count))
		right = NULL;
	rec = rec_new(inode, left ? left->index : index, left ? left->block : block,
		      count + (left ? left->count : 0) + (right ? right->count : 0));
	if (!rec) {
		rc = -ENOMEM;
		goto out;
	}
	rc = __store_rec(rm, rec);
	if (rc) {
		/* Undo: put the neighbours back over what was stored. */
		__erase_range(rm, rec->block, rec->count);
		if (left)
			__store_rec(rm, left);
		if (right)
			__store_rec(rm, right);
		free(rec);
		goto out;
	}
	rm->nr_records++;
	if (left)
		rec_retire(rm, left);
	if (right)
		rec_retire(rm, right);
out:
	xt_unlock(&rm->xt);
	return rc;
}

int rmap_remove(struct rmap *rm, uint64_t block, uint64_t count)
{
	uint64_t end = block + count, i = block;
	int rc = 0;
	xt_entry e;

	if (count == 0 || end < block)
		return -EINVAL;
	xt_lock(&rm->xt);
	while ((e = xt_find(&rm->xt, &i, end - 1, XT_MARK_ANY, NULL)) != XT_EMPTY) {
		struct rmap_rec *rec = xt_to_ptr(e), *lo = NULL, *hi = NULL;
		uint64_t rend = rec->block + rec->count;

		if (rec->block < block) {
			lo = rec_new(rec->inode, rec->index, rec->block, block - rec->block);
			if (!lo) {
				rc = -ENOMEM;
				break;
			}
		}
		if (rend > end) {
			hi = rec_new(rec->inode, rec->index + (end - rec->block), end, rend - end);
			if (!hi) {
				free(lo);
				rc = -ENOMEM;
				break;
			}
		}
		__erase_range(rm, rec->block, rec->count);
		if ((lo && __store_rec(rm, lo)) || (hi && __store_rec(rm, hi))) {
			/* Out of memory splitting: put the whole record back. */
			__erase_range(rm, rec->block, rec->count);
			__store_rec(rm, rec);
			free(lo);
			free(hi);
			rc = -ENOMEM;
			break;
		}
		rm->nr_records += (lo != NULL) + (hi != NULL);
		rec_retire(rm, rec);
		i = rend;
		if (i >= end)
			break;
	}
	xt_unlock(&rm->xt);
	return rc;
}

bool rmap_lookup(struct rmap *rm, uint64_t block, struct rmap_owner *out)
{
	xt_entry e = xt_load(&rm->xt, block);
	struct rmap_rec *rec;

	if (!xt_is_ptr(e))
		return false;
	rec = xt_to_ptr(e);
	out->inode = rec->inode;
	out->index = rec->index + (block - rec->block);
	out->first = rec->block;
	out->count = rec->count;
	return true;
}

size_t rmap_memory(struct rmap *rm)
{
	size_t bytes;

	xt_lock(&rm->xt);
	bytes = xt_memory(&rm->xt) + rm->nr_records * sizeof(struct rmap_rec);
	xt_unlock(&rm->xt);
	return bytes;
}

void rmap_destroy(struct rmap *rm)
{
	uint64_t i = 0;
	unsigned order;
	xt_entry e;

	xt_lock(&rm->xt);
	while ((e = xt_find(&rm->xt, &i, XT_INDEX_MAX, XT_MARK_ANY, &order)) != XT_EMPTY) {
		struct rmap_rec *rec = xt_to_ptr(e);

		i = rec->block + rec->count;
		__erase_range(rm, rec->block, rec->count);
		rec_retire(rm, rec);
	}
	xt_unlock(&rm->xt);
	xt_destroy(&rm->xt);
}
