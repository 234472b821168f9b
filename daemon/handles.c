// SPDX-License-Identifier: MIT
/*
 * A session's handles (handles.h): a ring of slots, swept by a CLOCK hand when full, and a
 * hash table from inode number to slot with linear probing and backward-shift deletion.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "handles.h"

#define HANDLES_MIN 64u

static uint32_t hash(uint64_t ino, uint32_t mask)
{
	ino *= UINT64_C(0x9e3779b97f4a7c15);
	return (uint32_t)(ino >> 32) & mask;
}

void handles_init(struct handles *h)
{
	memset(h, 0, sizeof(*h));
}

void handles_release(struct handles *h)
{
	free(h->ring);
	free(h->table);
	handles_init(h);
}

/* table_mask - the table has twice as many buckets as the ring has slots. */
static uint32_t table_mask(const struct handles *h)
{
	return h->cap * 2 - 1;
}

/* find - the bucket that holds @ino, or the empty one where it would go. */
static uint32_t find(const struct handles *h, uint64_t ino)
{
	uint32_t mask = table_mask(h), b = hash(ino, mask);

	while (h->table[b] && h->ring[h->table[b] - 1].ino != ino)
		b = (b + 1) & mask;
	return b;
}

/* table_del - empty bucket @b and shift the probe chain after it back (no tombstones). */
static void table_del(struct handles *h, uint32_t b)
{
	uint32_t mask = table_mask(h), next = (b + 1) & mask;

	h->table[b] = 0;
	while (h->table[next]) {
		uint32_t home = hash(h->ring[h->table[next] - 1].ino, mask);

		/* Move it back when its home is not in (b, next]. */
		if (((next - home) & mask) >= ((next - b) & mask)) {
			h->table[b] = h->table[next];
			h->table[next] = 0;
			b = next;
		}
		next = (next + 1) & mask;
	}
}

/* grow - double the ring (and table) up to HANDLES_MAX. Return: 0; -ENOMEM. */
static int grow(struct handles *h)
{
	uint32_t cap = h->cap ? h->cap * 2 : HANDLES_MIN;
	struct handle_slot *ring = calloc(cap, sizeof(*ring));
	uint32_t *table = calloc((size_t)cap * 2, sizeof(*table));
	struct handles old = *h;

	if (!ring || !table) {
		free(ring);
		free(table);
		return -ENOMEM;
	}
	h->ring = ring;
	h->table = table;
	h->cap = cap;
	h->n = 0;
	h->hand = 0;
	for (uint32_t i = 0; i < old.cap; i++) {
		if (!old.ring[i].ino)
			continue;
		h->ring[h->n] = old.ring[i];
		h->table[find(h, old.ring[i].ino)] = h->n + 1;
		h->n++;
	}
	h->hand = h->n;
	free(old.ring);
	free(old.table);
	return 0;
}

/* victim - the slot the CLOCK hand lands on: not used since it last passed. */
static uint32_t victim(struct handles *h)
{
	for (;;) {
		struct handle_slot *s = &h->ring[h->hand];
		uint32_t i = h->hand;

		h->hand = (h->hand + 1) & (h->cap - 1);
		if (!s->ref)
			return i;
		s->ref = false;
	}
}

int handles_add(struct handles *h, uint64_t ino)
{
	uint32_t b, slot;
	int rc;

	if (ino == 0)
		return 0;
	if (h->cap) {
		b = find(h, ino);
		if (h->table[b]) {
			h->ring[h->table[b] - 1].ref = true;
			return 0;
		}
	}
	if (h->n == h->cap && h->cap < HANDLES_MAX) {
		rc = grow(h);
		if (rc)
			return rc;
	}
	if (h->n < h->cap) {
		slot = h->n++;
	} else {
		/* Full: forget the least recently used. */
		slot = victim(h);
		table_del(h, find(h, h->ring[slot].ino));
	}
	h->ring[slot] = (struct handle_slot){ino, true};
	h->table[find(h, ino)] = slot + 1;
	return 0;
}

bool handles_has(struct handles *h, uint64_t ino)
{
	uint32_t b;

	if (!h->cap)
		return false;
	b = find(h, ino);
	if (!h->table[b])
		return false;
	h->ring[h->table[b] - 1].ref = true;
	return true;
}
