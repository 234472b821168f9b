/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_COMMON_RING_H
#define DAXFS_COMMON_RING_H

/*
 * ring - the shared-memory request path of a session (docs/protocol.md "Rings", DESIGN §11).
 *
 * A client that asks for it in HELLO (WIRE_HELLO_F_RING) gets a session memfd of
 * WIRE_SHM_SIZE + RING_SIZE bytes: the shared buffer as before, then the ring area:
 *
 *   offset 0           struct ring_hdr (one page): geometry, the daemon's idle flag, the
 *                      submission ring (RING_SLOTS 64-bit entries)
 *   RING_HDR_SIZE      RING_SLOTS slots of RING_SLOT_SIZE bytes: struct ring_slot (64 bytes)
 *                      followed by one message (a request, then its reply)
 *
 * Submitting (client): build the request in slot i, set slot->len, take the next position
 * p of its submission counter, store the entry ring_entry(p, i) at sq[p % RING_SLOTS]
 * (release), and when daemon_idle is set write 1 to the doorbell eventfd (the HELLO reply's
 * second fd). Completing (daemon): the reply replaces the request in the slot, then
 * slot->done = the low 32 bits of the request's id (release); when slot->waiting is set it
 * wakes the futex on done. Each slot is a completion word of its own: N threads wait on N
 * words, matched by id, and nobody takes a lock on the whole handle.
 *
 * Trust: everything in the ring area is written by the client and may change at any time.
 * The daemon keeps its own head and its own record of the slots in flight, reads each
 * entry and each slot's length once, copies the message out before decoding it, and never
 * waits on anything the client writes (ring_take).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define RING_MAGIC 0x474e495253584144ULL /* "DAXSRING" */
#define RING_VERSION 1
#define RING_SLOTS WIRE_INFLIGHT_MAX /* 64: one per request a session may have in flight */
#define RING_SLOT_SIZE (16u * 1024)  /* a slot: its header and one message */
#define RING_HDR_SIZE 4096u
#define RING_SIZE (RING_HDR_SIZE + RING_SLOTS * RING_SLOT_SIZE)
#define RING_POS_SHIFT 8 /* an entry: (position << 8) | slot */

/* The ring area's first page. Written by the daemon at HELLO, except where noted. */
struct ring_hdr {
	uint64_t magic;	      /* RING_MAGIC */
	uint32_t version;     /* RING_VERSION */
	uint32_t slots;	      /* RING_SLOTS */
	uint32_t slot_size;   /* RING_SLOT_SIZE */
	uint32_t msg_max;     /* bytes of a message in a slot: RING_SLOT_SIZE - 64 */
	uint32_t daemon_idle; /* daemon: 1 while its thread may sleep; ring the doorbell */
	uint32_t pad0;
	uint64_t sq_head; /* daemon: entries it has taken (for the client's information) */
	uint64_t pad1[4];
	uint64_t sq[RING_SLOTS]; /* client: the submission ring */
};

/* The header of a slot; the message follows it. */
struct ring_slot {
	uint32_t done;	  /* daemon: low 32 bits of the id of the last request it answered */
	uint32_t waiting; /* client: 1 while a thread sleeps on done (futex) */
	uint32_t len;	  /* client: bytes of the request; daemon: bytes of the reply */
	uint32_t pad0;
	uint64_t pad1[6];
};

#define RING_MSG_MAX (RING_SLOT_SIZE - sizeof(struct ring_slot))

_Static_assert(sizeof(struct ring_hdr) <= RING_HDR_SIZE, "the ring header fits its page");
_Static_assert(sizeof(struct ring_slot) == 64, "a slot header is one cache line");
_Static_assert((RING_SLOTS & (RING_SLOTS - 1)) == 0, "the ring size is a power of two");
_Static_assert(RING_SLOTS <= (1u << RING_POS_SHIFT), "a slot index fits an entry");

static inline uint64_t ring_entry(uint64_t pos, unsigned slot)
{
	return (pos << RING_POS_SHIFT) | slot;
}

static inline struct ring_hdr *ring_hdr_of(void *area)
{
	return (struct ring_hdr *)area;
}

static inline struct ring_slot *ring_slot_of(void *area, unsigned i)
{
	return (struct ring_slot *)((uint8_t *)area + RING_HDR_SIZE + (size_t)i * RING_SLOT_SIZE);
}

static inline uint8_t *ring_msg_of(struct ring_slot *s)
{
	return (uint8_t *)(s + 1);
}

/* ring_init - lay out a fresh (zeroed) ring area. */
void ring_init(void *area);

/* ring_check_hdr - a ring area the client found: does its geometry match? Return: 0; -EPROTO. */
int ring_check_hdr(const void *area);

/* The daemon's private view of one session's ring: never in the shared memory. */
struct ring_cursor {
	uint64_t head; /* the next position it takes */
	uint64_t busy; /* atomic: bit i = slot i is in flight (taken, not answered) */
};

enum ring_take_result {
	RING_EMPTY = 0, /* nothing submitted at the head (or not yet written) */
	RING_TOOK = 1,	/* *slot and *len: a message copied out into the caller's buffer */
	RING_BAD = -1,	/* a violation (an entry naming no slot or a slot in flight): *why */
};

/*
 * ring_take - take the entry at the cursor's head, if one was submitted, and copy its
 * message out into @buf (RING_MSG_MAX bytes). An entry whose position is not the head's is
 * not submitted yet. A slot length outside [sizeof(struct wire_hdr), RING_MSG_MAX] is
 * taken with *@len = 0 and only the header copied (the caller answers it EMSGSIZE).
 * Context: any thread; several may take from one ring at once (each entry goes to one).
 * Return: RING_EMPTY; RING_TOOK (*@slot marked busy, *@len bytes in @buf); RING_BAD (*@why).
 */
int ring_take(struct ring_cursor *c, void *area, void *buf, unsigned *slot, size_t *len,
	      const char **why);

/*
 * ring_complete - put the reply @msg (@len bytes, at most RING_MSG_MAX) in @slot, mark the
 * slot free and publish done = @id's low bits.
 * Context: any thread (the one that finished the request).
 * Return: true when a client thread sleeps on the slot (the caller wakes the futex on done).
 */
bool ring_complete(struct ring_cursor *c, void *area, unsigned slot, uint64_t id, const void *msg,
		   size_t len);

#endif
