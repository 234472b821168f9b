// SPDX-License-Identifier: MIT
/*
 * fuzz-ring - libFuzzer target for the daemon's side of a ring (common/ring.c): what
 * ring_take makes of a ring area a client wrote, and what the request decoder makes of what
 * it copied out.
 *
 * The input is laid over a zeroed ring area: its first bytes over the header page (the
 * submission entries, daemon_idle and the rest), then, chunk by chunk, over the slots' headers
 * and messages. A cursor then takes entries the way a ring thread does, answering each
 * (ring_complete) before taking the next, until the ring is empty, bad, or RING_SLOTS * 4
 * entries were taken. Checked: a take never names a slot past RING_SLOTS nor reports more
 * than RING_MSG_MAX bytes; a violation moves the head by one at most; the copy is an
 * exactly sized heap buffer, so ASan reports any read past what ring_take vouched for, by
 * the decoder or by its user.
 *
 * Built two ways, as fuzz-request: with -fsanitize=fuzzer (scripts/test, a bounded run) and
 * with replay.c as the 'fuzz' test suite's corpus replay.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *area;
	static uint8_t buf[RING_MSG_MAX];
	struct ring_cursor c = {0, 0};
	size_t n;

	if (!area) {
		area = aligned_alloc(4096, RING_SIZE);
		if (!area)
			abort();
	}
	memset(area, 0, RING_SIZE);
	ring_init(area);
	/* The header page, then the slots: as much of each as the input has. */
	n = size < RING_HDR_SIZE ? size : RING_HDR_SIZE;
	memcpy(area, data, n);
	for (unsigned i = 0; n < size && i < RING_SLOTS; i++) {
		size_t k = size - n < 512 ? size - n : 512;

		memcpy(ring_slot_of(area, i), data + n, k);
		n += k;
	}
	for (unsigned taken = 0; taken < RING_SLOTS * 4; taken++) {
		uint64_t head = c.head;
		const char *why = NULL;
		struct wire_req req;
		uint64_t id = 0;
		unsigned slot = UINT32_MAX;
		size_t len = SIZE_MAX;
		uint8_t *copy;
		int rc = ring_take(&c, area, buf, &slot, &len, &why);

		if (rc == RING_EMPTY)
			break;
		if (rc == RING_BAD) {
			if (!why || c.head > head + 1)
				abort();
			break;
		}
		if (rc != RING_TOOK || slot >= RING_SLOTS || len > RING_MSG_MAX ||
		    c.head != head + 1)
			abort();
		copy = malloc(len ? len : 1);
		if (!copy)
			abort();
		memcpy(copy, buf, len);
		memcpy(&id, buf + 8, sizeof(id)); /* ring_take copied at least the header */
		if (len && wire_decode_request(copy, len, &req) == 0) {
			sink += req.hdr.id + (req.path ? strlen(req.path) : 0) +
				(req.data && req.data_len
					 ? ((const uint8_t *)req.data)[req.data_len - 1]
					 : 0);
			sink += wire_reply_max(&req);
		}
		free(copy);
		ring_complete(&c, area, slot, id, buf, len < 64 ? len : 64);
	}
	return 0;
}
