// SPDX-License-Identifier: MIT
/*
 * fuzz-request - libFuzzer target for the protocol decoders (common/wire.c).
 *
 * The input is one packet. It is decoded as a request (what daxfsd does with every packet a
 * client sends) and as a reply or event (what libdaxfs does with the daemon's). When a decode
 * succeeds, every byte it vouched for is read the way its user reads it: the body, each path
 * up to its NUL, the WRITE data; a reply's READ data, READDIR entries and MAP extents. The
 * packet is an exactly sized heap copy, so ASan reports any read past its end, whether by
 * the decoder or by a user trusting its result.
 *
 * Built two ways: with -fsanitize=fuzzer by scripts/test (bounded libFuzzer run), and with
 * replay.c as a plain program that runs the corpus as the 'fuzz' test suite.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink; /* keeps the reads below from being optimised away */

static uint64_t sum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t s = 0;

	for (size_t i = 0; i < len; i++)
		s += b[i];
	return s;
}

static void touch_request(const uint8_t *pkt, size_t len, const struct wire_req *r)
{
	uint64_t s = r->hdr.id;
	int body = wire_body_size(r->hdr.op);

	if (body < 0 || r->body != pkt + sizeof(struct wire_hdr))
		abort();
	s += sum(r->body, (size_t)body);
	if (r->path)
		s += strlen(r->path);
	if (r->path2)
		s += strlen(r->path2);
	if (r->data)
		s += sum(r->data, r->data_len);
	else if (r->data_len)
		abort();
	sink = s + len;
}

/* touch_reply - walk a decoded reply's tail as libdaxfs does, trusting the decoder. */
static void touch_reply(const uint8_t *pkt, size_t len, const struct wire_hdr *h)
{
	const uint8_t *body = pkt + sizeof(*h);
	uint64_t s = 0;

	if (h->op == WIRE_EV_POISON || h->op == WIRE_EV_INVALIDATE) {
		sink = sum(body, sizeof(struct wire_event));
		return;
	}
	s = sum(body, (size_t)wire_reply_size(h->op & 0xffu));
	switch (h->op & 0xffu) {
	case WIRE_READ: {
		struct wire_io_reply r;

		memcpy(&r, body, sizeof(r));
		if (!(h->flags & WIRE_F_SHM))
			s += sum(body + sizeof(r), r.count);
		break;
	}
	case WIRE_READDIR: {
		struct wire_readdir_reply r;
		size_t off = sizeof(*h) + sizeof(r);

		memcpy(&r, body, sizeof(r));
		for (uint32_t i = 0; i < r.count; i++) {
			struct wire_dirent d;

			memcpy(&d, pkt + off, sizeof(d));
			s += d.ino + sum(pkt + off + sizeof(d), d.name_len);
			off += ALIGN_UP(sizeof(d) + d.name_len, (size_t)8);
		}
		break;
	}
	case WIRE_MAP: {
		struct wire_map_reply r;

		memcpy(&r, body, sizeof(r));
		s += sum(body + sizeof(r), (size_t)r.count * sizeof(struct wire_extent));
		break;
	}
	default:
		break;
	}
	sink = s + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* malloc aligns to 16, as a recvmsg buffer is aligned to 8; exactly @size bytes. */
	uint8_t *pkt = malloc(size ? size : 1);
	struct wire_req req;
	struct wire_hdr hdr;

	if (!pkt)
		return 0;
	memcpy(pkt, data, size);
	if (wire_decode_request(pkt, size, &req) == 0)
		touch_request(pkt, size, &req);
	if (wire_decode_reply(pkt, size, &hdr) == 0)
		touch_reply(pkt, size, &hdr);
	free(pkt);
	return 0;
}
