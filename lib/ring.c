// SPDX-License-Identifier: MIT
/*
 * libdaxfs's ring transport (common/ring.h): a request goes into its slot's part of the
 * session's shared memory, its entry into the submission ring, and the calling thread
 * polls its slot's completion word (then sleeps on it as a futex). Each thread waits on its
 * own slot: no reader role and no handle-wide lock, so N threads keep N requests in flight.
 *
 * What stays on the socket: HELLO, MAP (its reply carries the region fd), ACK and
 * POISON_REPORT (sent by the event path and the SIGBUS handler), replies that may not fit a
 * slot (READDIR, EXTENTS, BADBLOCKS, large inline READs), and every request while the
 * handle has mappings but no event thread: a thread waiting on the socket is what reads
 * the INVALIDATE a lease break needs answered.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "libdaxfs-private.h"
#include "ring.h"
#include "util.h"

#define HDR_SIZE sizeof(struct wire_hdr)
#define SLEEP_SLICE_NS (50ULL * 1000 * 1000) /* futex sleeps this long, then checks the socket */
#define SPIN_PURE 64	/* polls before a lone waiter's poll loop yields the CPU between polls */
#define SHARED_NS 1500	/* a yield that took longer ran another thread: the CPU is shared */
#define SHARED_WAITS 32 /* waits that yield from the start after such a yield */

/* This thread's waits left that yield from the start: its CPU was shared lately. */
static __thread unsigned shared_waits;

int lib_ring_setup(struct daxfs *fs, void *area, int efd)
{
	if (ring_check_hdr(area))
		return -EPROTO;
	fs->ring = area;
	fs->ring_efd = efd;
	return 0;
}

size_t lib_ring_inline_max(void)
{
	/* What fits both a WRITE request and a READ reply. */
	return RING_MSG_MAX - HDR_SIZE - MAX(sizeof(struct wire_io), sizeof(struct wire_io_reply));
}

bool lib_ring_usable(struct daxfs *fs, const struct lib_slot *s, unsigned op, size_t len)
{
	struct wire_io io;

	if (!fs->ring || len > RING_MSG_MAX)
		return false;
	if (__atomic_load_n(&fs->nmaps, __ATOMIC_ACQUIRE) &&
	    !__atomic_load_n(&fs->ev_on, __ATOMIC_ACQUIRE))
		return false;
	switch (op) {
	case WIRE_READ:
		memcpy(&io, s->req + HDR_SIZE, sizeof(io));
		return io.len <= lib_ring_inline_max() ||
		       (((const struct wire_hdr *)(const void *)s->req)->flags & WIRE_F_SHM);
	case WIRE_STATFS:
	case WIRE_STAT:
	case WIRE_GETATTR:
	case WIRE_MKDIR:
	case WIRE_CREATE:
	case WIRE_UNLINK:
	case WIRE_RMDIR:
	case WIRE_RENAME:
	case WIRE_SETATTR:
	case WIRE_WRITE:
	case WIRE_FALLOCATE:
	case WIRE_FSYNC:
	case WIRE_UNMAP:
	case WIRE_SCRUB:
	case WIRE_INJECT:
	case WIRE_BADBLOCK_CLEAR:
	case WIRE_STATS:
	case WIRE_SCRUB_RANGE:
	case WIRE_SCRUB_REPLICA:
	case WIRE_LINK:
	case WIRE_SYMLINK:
	case WIRE_READLINK:
	case WIRE_MKNOD:
	case WIRE_REMOVEXATTR:
	case WIRE_REPLICA:
	case WIRE_MAP_PERSIST:
		return true;
	default:
		return false; /* an fd, no reply, or a reply that may not fit a slot */
	}
}

/* cpu_pause - a spin-wait hint to the CPU. */
static inline void cpu_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static long futex(uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

/* socket_gone - the daemon closed the session (it dropped us, or exited). */
static bool socket_gone(struct daxfs *fs)
{
	struct pollfd p = {.fd = fs->sock, .events = POLLRDHUP};

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/*
 * wait_done - poll @rs->done until it says @want, for the spin budget, then sleep on it
 * in slices, each ending with a look at the socket. Return: 0; -ETIMEDOUT; -ECONNRESET.
 *
 * A lone waiter polls SPIN_PURE times before it yields between polls: its reply is likely
 * next. While other threads of the handle wait too, it yields between all its polls: a
 * pipelined reply is as likely to be theirs, and a thread that spins on a shared CPU keeps
 * the one whose reply has come (or the daemon's thread) from running. Threads of other
 * handles or processes are not counted there, so a lone waiter times its first yield:
 * when that ran another thread, this thread's next SHARED_WAITS waits yield between all
 * their polls too.
 */
static int wait_done(struct daxfs *fs, struct ring_slot *rs, uint32_t want, uint64_t deadline)
{
	uint64_t now = lib_now_ns(), spin_end = now + (uint64_t)fs->spin_us * 1000u;
	bool spin = shared_waits == 0;
	unsigned n = 0;

	if (!spin)
		shared_waits--;
	for (;;) {
		uint32_t cur = __atomic_load_n(&rs->done, __ATOMIC_ACQUIRE);

		if (cur == want)
			return 0;
		if ((++n & 15) == 0 || now >= spin_end)
			now = lib_now_ns();
		if (now < spin_end) {
			/*
			 * Poll, but let a thread that shares this CPU run: on a busy machine the
			 * daemon's thread may be waiting for exactly this one.
			 */
			if (!spin || __atomic_load_n(&fs->ring_waiting, __ATOMIC_RELAXED) > 1) {
				sched_yield();
			} else if (n > SPIN_PURE) {
				uint64_t before = lib_now_ns();

				sched_yield();
				now = lib_now_ns();
				if (now - before > SHARED_NS) {
					shared_waits = SHARED_WAITS;
					spin = false;
				}
			} else {
				cpu_pause();
			}
			continue;
		}
		if (now >= deadline)
			return -ETIMEDOUT;
		/* Say we sleep, then look again: the daemon looks at waiting after done. */
		__atomic_store_n(&rs->waiting, 1, __ATOMIC_SEQ_CST);
		cur = __atomic_load_n(&rs->done, __ATOMIC_SEQ_CST);
		if (cur != want) {
			uint64_t left = MIN(deadline - now, SLEEP_SLICE_NS);
			struct timespec ts = lib_ns_to_timespec(left);

			if (futex(&rs->done, FUTEX_WAIT, cur, &ts) < 0 && errno == ETIMEDOUT &&
			    __atomic_load_n(&rs->done, __ATOMIC_ACQUIRE) != want &&
			    socket_gone(fs)) {
				__atomic_store_n(&rs->waiting, 0, __ATOMIC_RELAXED);
				return -ECONNRESET;
			}
		}
		__atomic_store_n(&rs->waiting, 0, __ATOMIC_RELAXED);
		now = lib_now_ns();
	}
}

int lib_ring_call(struct daxfs *fs, struct lib_slot *s, size_t len, uint64_t deadline)
{
	struct ring_hdr *h = ring_hdr_of(fs->ring);
	unsigned idx = (unsigned)(s - fs->slots);
	struct ring_slot *rs = ring_slot_of(fs->ring, idx);
	uint32_t want = (uint32_t)s->id;
	struct wire_hdr hdr;
	uint64_t pos;
	uint32_t n;
	int ret;

	memcpy(ring_msg_of(rs), s->req, len);
	/* Not the value a reply to this id leaves: done says nothing until the daemon answers. */
	__atomic_store_n(&rs->done, ~want, __ATOMIC_RELAXED);
	__atomic_store_n(&rs->waiting, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&rs->len, (uint32_t)len, __ATOMIC_RELAXED);
	pos = __atomic_fetch_add(&fs->ring_pos, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&h->sq[pos % RING_SLOTS], ring_entry(pos, idx), __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&h->daemon_idle, __ATOMIC_SEQ_CST)) {
		uint64_t one = 1;

		/* EAGAIN: the counter is full, so the daemon has a wakeup pending anyway. */
		if (write(fs->ring_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			return -ECONNRESET;
	}
	__atomic_add_fetch(&fs->ring_waiting, 1, __ATOMIC_RELAXED);
	ret = wait_done(fs, rs, want, deadline);
	__atomic_sub_fetch(&fs->ring_waiting, 1, __ATOMIC_RELAXED);
	if (ret)
		return ret;
	s->fd = -1;
	s->err = 0;
	s->why = NULL;
	n = __atomic_load_n(&rs->len, __ATOMIC_RELAXED);
	if (n < HDR_SIZE || n > RING_MSG_MAX) {
		s->err = -EPROTO;
		s->why = "a reply of impossible length in the ring";
		return 0;
	}
	memcpy(s->buf, ring_msg_of(rs), n);
	s->len = n;
	if (wire_decode_reply(s->buf, n, &hdr) < 0 || (hdr.flags & WIRE_F_FD)) {
		s->err = -EPROTO;
		s->why = "a malformed reply in the ring";
	} else if (hdr.id != s->id) {
		s->err = -EPROTO;
		s->why = "a reply in the ring for another request";
	}
	return 0;
}

void lib_ring_close(struct daxfs *fs)
{
	if (fs->ring_efd >= 0)
		close(fs->ring_efd);
	fs->ring_efd = -1;
	fs->ring = NULL;
}
