// SPDX-License-Identifier: MIT
/*
 * The ring's layout and its hostile-input side: what the daemon reads of a ring a client
 * writes (ring.h says what is trusted: nothing).
 */
#include <errno.h>
#include <string.h>

#include "ring.h"

void ring_init(void *area)
{
	struct ring_hdr *h = ring_hdr_of(area);

	h->magic = RING_MAGIC;
	h->version = RING_VERSION;
	h->slots = RING_SLOTS;
	h->slot_size = RING_SLOT_SIZE;
	h->msg_max = (uint32_t)RING_MSG_MAX;
	for (unsigned i = 0; i < RING_SLOTS; i++) {
		/* No position is ever the entry's own before it is written: see ring_take. */
		h->sq[i] = ring_entry(i + 1, 0);
		ring_slot_of(area, i)->done = UINT32_MAX;
	}
}

int ring_check_hdr(const void *area)
{
	const struct ring_hdr *h = area;

	if (h->magic != RING_MAGIC || h->version != RING_VERSION || h->slots != RING_SLOTS ||
	    h->slot_size != RING_SLOT_SIZE || h->msg_max != RING_MSG_MAX)
		return -EPROTO;
	return 0;
}

int ring_take(struct ring_cursor *c, void *area, void *buf, unsigned *slot, size_t *len,
	      const char **why)
{
	struct ring_hdr *h = ring_hdr_of(area);
	uint64_t e, bit, head;
	struct ring_slot *s;
	uint32_t n;
	unsigned i;

	head = __atomic_load_n(&c->head, __ATOMIC_ACQUIRE);
	/* One load of the entry: whatever the client does to it meanwhile, we use this. */
	e = __atomic_load_n(&h->sq[head % RING_SLOTS], __ATOMIC_ACQUIRE);
	if (e >> RING_POS_SHIFT != (head & (UINT64_MAX >> RING_POS_SHIFT)))
		return RING_EMPTY;
	i = (unsigned)(e & ((1u << RING_POS_SHIFT) - 1));
	if (i >= RING_SLOTS) {
		*why = "submitted an entry that names no slot";
		return RING_BAD;
	}
	/* Another thread took it first: it is that one's (the head only grows: no ABA). */
	if (!__atomic_compare_exchange_n(&c->head, &head, head + 1, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return RING_EMPTY;
	bit = 1ULL << i;
	if (__atomic_fetch_or(&c->busy, bit, __ATOMIC_ACQ_REL) & bit) {
		*why = "submitted a slot whose request is still in flight";
		return RING_BAD;
	}
	__atomic_store_n(&h->sq_head, head + 1, __ATOMIC_RELAXED);
	s = ring_slot_of(area, i);
	n = __atomic_load_n(&s->len, __ATOMIC_ACQUIRE);
	*slot = i;
	*len = 0;
	if (n < sizeof(struct wire_hdr) || n > RING_MSG_MAX) {
		/* The header, for the id the error reply repeats. */
		memcpy(buf, ring_msg_of(s), sizeof(struct wire_hdr));
		return RING_TOOK;
	}
	/* Copied once; the decoder sees only the copy (the client may rewrite the slot). */
	memcpy(buf, ring_msg_of(s), n);
	*len = n;
	return RING_TOOK;
}

bool ring_complete(struct ring_cursor *c, void *area, unsigned slot, uint64_t id, const void *msg,
		   size_t len)
{
	struct ring_slot *s = ring_slot_of(area, slot);

	if (len > RING_MSG_MAX)
		len = 0; /* the caller checks; never write past the slot */
	memcpy(ring_msg_of(s), msg, len);
	__atomic_store_n(&s->len, (uint32_t)len, __ATOMIC_RELAXED);
	/* Free before done: a client that sees done may submit the slot again at once. */
	__atomic_fetch_and(&c->busy, ~(1ULL << slot), __ATOMIC_RELEASE);
	__atomic_store_n(&s->done, (uint32_t)id, __ATOMIC_SEQ_CST);
	return __atomic_load_n(&s->waiting, __ATOMIC_SEQ_CST) != 0;
}
