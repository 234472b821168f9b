// SPDX-License-Identifier: MIT
/*
 * test-daemon-map - zero-copy mappings through a real daxfsd (--map-users root).
 *
 * 1. Client A maps a file for writing, stores through the view and persists; client B maps
 *    it read-only and sees the same bytes, and A's later stores at once (the same memory);
 *    pread agrees. After a graceful restart a new session maps and reads them again.
 * 2. INVALIDATE: A maps (its events handled by the library's event thread); another client
 *    truncates the file: the truncate returns long before the lease-break timeout (A's ack
 *    came), A's callback is told the exact range, and that range of A's view is PROT_NONE
 *    (a read faults: SIGSEGV) while the rest keeps its data. The same for a hole punched
 *    and an unlink, with events handled by daxfs_process_events() in a poll loop.
 * 3. A holder that never handles events (--lease-break-timeout 300): the truncate returns
 *    after about 300 ms, the holder's session is dropped (its next call: ECONNRESET), and
 *    the blocks it could still reach stay out of use until its process has exited.
 *
 * Usage: test-daemon-map --daxfsd=PATH --cli=PATH [seed]
 */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "rawclient.h"
#include "testutil.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)

static struct t_daemon d;
static uint64_t rng;

static void fill_rand(void *buf, size_t len)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)t_rand(&rng);
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* --- what the process can do with an address --- */

/* kernel_can_read - whether the kernel may copy a byte from @p (EFAULT otherwise). */
static bool kernel_can_read(const void *p)
{
	int fds[2];
	ssize_t n;

	T_ASSERT(pipe(fds) == 0);
	n = write(fds[1], p, 1);
	T_ASSERT(n == 1 || errno == EFAULT);
	close(fds[0]);
	close(fds[1]);
	return n == 1;
}

static sigjmp_buf segv_jmp;

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(segv_jmp, 1);
}

/* read_faults - whether reading a byte at @p raises SIGSEGV. */
static bool read_faults(const volatile uint8_t *p)
{
	struct sigaction sa = {.sa_handler = on_segv}, old;
	volatile bool faulted = false;

	sigemptyset(&sa.sa_mask);
	T_ASSERT(sigaction(SIGSEGV, &sa, &old) == 0);
	if (sigsetjmp(segv_jmp, 1) == 0)
		(void)*p;
	else
		faulted = true;
	T_ASSERT(sigaction(SIGSEGV, &old, NULL) == 0);
	return faulted;
}

/* expect_gone - [@p, @p + @len) is inaccessible: PROT_NONE, faults, EFAULT. */
static void expect_gone(const uint8_t *p, size_t len)
{
	char perms[5];

	for (size_t off = 0; off<len; off += len / 4> 4096 ? len / 4 : 4096) {
		t_perms_at(p + off, perms);
		if (strncmp(perms, "---", 3) != 0)
			T_FAIL("view page at +%zu is %s, not PROT_NONE", off, perms);
		T_ASSERT(!kernel_can_read(p + off));
	}
	T_ASSERT(read_faults(p));
	T_ASSERT(read_faults(p + len - 1));
}

/* --- events --- */

struct rec {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int n;
	struct daxfs_event ev[16];
};

static struct rec rec = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {{0}}};

static void on_event(void *ctx, const struct daxfs_event *ev)
{
	struct rec *r = ctx;

	pthread_mutex_lock(&r->lock);
	if (r->n < 16)
		r->ev[r->n] = *ev;
	r->n++;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* wait_event - the @n-th event (from 1) came within 10 s; a copy of it. */
static struct daxfs_event wait_event(int n)
{
	struct timespec ts;
	struct daxfs_event ev;

	ts = t_deadline_s(10);
	pthread_mutex_lock(&rec.lock);
	while (rec.n < n) {
		if (t_cond_wait_s(&rec.cond, &rec.lock, &ts) == ETIMEDOUT)
			T_FAIL("event %d did not come within 10 s (%d came)", n, rec.n);
	}
	T_ASSERT(n <= 16);
	ev = rec.ev[n - 1];
	pthread_mutex_unlock(&rec.lock);
	return ev;
}

static int events_seen(void)
{
	int n;

	pthread_mutex_lock(&rec.lock);
	n = rec.n;
	pthread_mutex_unlock(&rec.lock);
	return n;
}

/* --- 1. two clients, one mapping --- */

static void test_zero_copy(void)
{
	const size_t len = MiB;
	uint8_t *pat = malloc(len), *got = malloc(len), *va, *vb;
	struct daxfs_map *ma = NULL, *mb = NULL, *mx = NULL;
	struct daxfs *a, *b;
	struct daxfs_statfs sf;
	struct daxfs_stat st, x;
	char perms[5];

	T_ASSERT(pat && got);
	T_OK(daxfs_open(&a, d.sock));
	T_OK(daxfs_statfs(a, &sf));
	T_ASSERT(sf.map_trust == 2);
	T_OK(daxfs_create(a, "/m", 0644, DAXFS_CREATE_EXCL, &st));
	T_OK(daxfs_map_new(a, st.ino, 0, len, DAXFS_MAP_READ | DAXFS_MAP_WRITE, &ma));
	va = daxfs_map_addr(ma);
	T_ASSERT(va && daxfs_map_len(ma) == len);
	/* A write mapping allocates the range, zeroed, and extends the file over it. */
	T_OK(daxfs_getattr(a, st.ino, &x));
	T_ASSERT(x.size == len && x.blocks >= len / 4096);
	T_ASSERT(all_zero(va, len));
	t_perms_at(va, perms);
	T_ASSERT(perms[0] == 'r' && perms[1] == 'w' && perms[3] == 's');
	fill_rand(pat, len);
	memcpy(va, pat, len);
	daxfs_map_persist(ma, va, len);

	/* B maps it read-only: the same bytes. */
	T_OK(daxfs_open(&b, d.sock));
	T_OK(daxfs_map_new(b, st.ino, 0, len, DAXFS_MAP_READ, &mb));
	vb = daxfs_map_addr(mb);
	T_ASSERT(vb && vb != va && daxfs_map_len(mb) == len);
	T_ASSERT(memcmp(vb, pat, len) == 0);
	t_perms_at(vb, perms);
	T_ASSERT(perms[0] == 'r' && perms[1] == '-');
	T_ASSERT(daxfs_pread(b, st.ino, got, len, 0) == (ssize_t)len);
	T_ASSERT(memcmp(got, pat, len) == 0);
	/* Zero copy: a store through A's view is in B's at once, and in pread. */
	va[12345] = (uint8_t)~pat[12345];
	pat[12345] = va[12345];
	memcpy(va + len - 100, "the end of the mapping", 22);
	memcpy(pat + len - 100, "the end of the mapping", 22);
	daxfs_map_persist(ma, va + 12345, 1);
	daxfs_map_persist(ma, va + len - 100, 22);
	T_ASSERT(vb[12345] == pat[12345] && memcmp(vb + len - 100, pat + len - 100, 22) == 0);
	T_ASSERT(daxfs_pread(a, st.ino, got, len, 0) == (ssize_t)len);
	T_ASSERT(memcmp(got, pat, len) == 0);
	/* A part of the file, at an offset. */
	T_OK(daxfs_map_new(b, st.ino, 256 * KiB, 64 * KiB, DAXFS_MAP_READ, &mx));
	T_ASSERT(memcmp(daxfs_map_addr(mx), pat + 256 * KiB, 64 * KiB) == 0);
	daxfs_map_delete(&mx);
	T_ASSERT(mx == NULL);

	/* Errors. */
	T_ERR(daxfs_map_new(a, st.ino, 100, 4096, DAXFS_MAP_READ, &mx), EINVAL);
	T_ERR(daxfs_map_new(a, st.ino, 0, 4095, DAXFS_MAP_READ, &mx), EINVAL);
	T_ERR(daxfs_map_new(a, st.ino, 0, 0, DAXFS_MAP_READ, &mx), EINVAL);
	T_ERR(daxfs_map_new(a, st.ino, 0, 4096, 0, &mx), EINVAL);
	T_ERR(daxfs_map_new(a, st.ino, 0, 4096, 8, &mx), EINVAL);
	T_ERR(daxfs_map_new(a, 1, 0, 4096, DAXFS_MAP_READ, &mx), EISDIR);
	T_ERR(daxfs_map_new(a, 999999, 0, 4096, DAXFS_MAP_READ, &mx), ENOENT);
	T_ERR(daxfs_map_new(a, st.ino, 0, UINT64_C(1) << 40, DAXFS_MAP_READ, &mx), EINVAL);
	T_ASSERT(mx == NULL);
	T_ASSERT(daxfs_map_addr(NULL) == NULL && daxfs_map_len(NULL) == 0);
	daxfs_map_delete(NULL);
	daxfs_map_delete(&mx);

	/* A hole maps as zeros, read-only. */
	T_OK(daxfs_create(a, "/holes", 0644, DAXFS_CREATE_EXCL, &x));
	T_OK(daxfs_truncate(a, "/holes", 64 * KiB));
	T_OK(daxfs_map_new(b, x.ino, 0, 64 * KiB, DAXFS_MAP_READ, &mx));
	T_ASSERT(all_zero(daxfs_map_addr(mx), 64 * KiB));
	daxfs_map_delete(&mx);

	daxfs_map_delete(&mb);
	daxfs_map_delete(&ma);
	T_ASSERT(ma == NULL && mb == NULL);
	daxfs_close(b);

	/* The daemon restarts: A's session is over; a new one maps the same bytes. */
	t_daemon_restart(&d, NULL);
	T_ERR(daxfs_stat(a, "/m", &x), ECONNRESET);
	daxfs_close(a);
	T_OK(daxfs_open(&b, d.sock));
	T_OK(daxfs_stat(b, "/m", &x));
	T_ASSERT(x.ino == st.ino && x.size == len);
	T_OK(daxfs_map_new(b, st.ino, 0, len, DAXFS_MAP_READ, &mb));
	T_ASSERT(memcmp(daxfs_map_addr(mb), pat, len) == 0);
	memset(got, 0, len);
	T_ASSERT(daxfs_pread(b, st.ino, got, len, 0) == (ssize_t)len);
	T_ASSERT(memcmp(got, pat, len) == 0);
	daxfs_map_delete(&mb);
	daxfs_close(b);
	free(pat);
	free(got);
}

/*
 * The region fd a MAP reply brings: read-write for read-write trust, and an open file of
 * its own: not the daemon's, whose flock on the region would go with it (a client could
 * then unlock the region under the daemon, or keep a restarted daemon from mounting it).
 */
static void test_region_fd(void)
{
	struct raw_pkt *pkt = malloc(sizeof(*pkt));
	uint8_t msg[128];
	struct wire_map_reply rep;
	struct daxfs_stat st;
	struct daxfs *a;
	struct raw r;
	void *p;

	T_ASSERT(pkt);
	T_OK(daxfs_open(&a, d.sock));
	T_OK(daxfs_stat(a, "/m", &st));
	daxfs_close(a);
	raw_hello(&r, d.sock);
	T_OK(raw_send(r.fd, msg, raw_msg_map(msg, 1, st.ino, 0, 4096, WIRE_MAP_READ), NULL, 0));
	T_ASSERT(raw_recv(r.fd, pkt, RAW_TIMEOUT_MS, true) == 1);
	T_ASSERT(pkt->hdr.op == (WIRE_REPLY | WIRE_MAP) && raw_status(pkt) == 0);
	T_ASSERT(pkt->hdr.flags == WIRE_F_FD && pkt->nfds == 1 && pkt->fd >= 0);
	memcpy(&rep, (uint8_t *)pkt->buf + 16, sizeof(rep));
	T_ASSERT(rep.grant == 1 && rep.count == 1 && rep.flags == 0);
	T_ASSERT((fcntl(pkt->fd, F_GETFL) & O_ACCMODE) == O_RDWR);
	if (flock(pkt->fd, LOCK_EX | LOCK_NB) == 0)
		T_FAIL("the region fd a client got holds the daemon's lock on the region");
	T_ASSERT(errno == EWOULDBLOCK);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, pkt->fd,
		 (off_t)((const struct wire_extent *)((uint8_t *)pkt->buf + 16 + sizeof(rep)))
			 ->region_off);
	T_ASSERT(p != MAP_FAILED);
	T_ASSERT(munmap(p, 4096) == 0);
	close(pkt->fd);
	raw_close(&r);
	free(pkt);
}

/* A file of more extents than one MAP reply holds: E2BIG; a smaller range maps. */
static void test_many_extents(void)
{
	struct daxfs_map *m = NULL;
	struct daxfs_stat st;
	struct daxfs *a;

	T_OK(daxfs_open(&a, d.sock));
	T_OK(daxfs_create(a, "/frag", 0644, DAXFS_CREATE_EXCL, &st));
	/* One page of data, one hole: 2 extents per 8 KiB. */
	for (uint64_t i = 0; i < 1100; i++)
		T_ASSERT(daxfs_pwrite(a, st.ino, "x", 1, i * 8192) == 1);
	for (uint64_t i = 0; i < 1100; i++)
		T_OK(daxfs_fallocate(a, st.ino, DAXFS_FALLOC_PUNCH_HOLE | DAXFS_FALLOC_KEEP_SIZE,
				     i * 8192 + 4096, 4096));
	T_ERR(daxfs_map_new(a, st.ino, 0, 1100 * 8192, DAXFS_MAP_READ, &m), E2BIG);
	T_ASSERT(m == NULL);
	T_OK(daxfs_map_new(a, st.ino, 0, 500 * 8192, DAXFS_MAP_READ, &m));
	for (uint64_t i = 0; i < 500; i++) {
		const uint8_t *v = daxfs_map_addr(m);

		T_ASSERT(v[i * 8192] == 'x' && v[i * 8192 + 1] == 0 && v[i * 8192 + 4096] == 0);
	}
	daxfs_map_delete(&m);
	T_OK(daxfs_unlink(a, "/frag"));
	daxfs_close(a);
}

/* --- 2. INVALIDATE --- */

/* A session that closes with a mapping: its grant goes with it, no lease break waits. */
static void test_close_releases(void)
{
	struct daxfs_map *m = NULL;
	struct daxfs_stat st;
	struct daxfs *a, *c;
	uint64_t t0;

	T_OK(daxfs_open(&a, d.sock));
	T_OK(daxfs_open(&c, d.sock));
	T_OK(daxfs_create(c, "/closed", 0644, DAXFS_CREATE_EXCL, &st));
	T_OK(daxfs_map_new(a, st.ino, 0, 64 * KiB, DAXFS_MAP_WRITE, &m));
	memset(daxfs_map_addr(m), 'c', 64 * KiB);
	daxfs_map_persist(m, daxfs_map_addr(m), 64 * KiB);
	daxfs_close(a); /* no UNMAP, no events handled: the session just ends */
	t0 = t_now_ms();
	T_OK(daxfs_truncate(c, "/closed", 0));
	T_ASSERT(t_now_ms() - t0 < 2500);
	T_OK(daxfs_unlink(c, "/closed"));
	/* Without the handle, daxfs_map_delete() only unmaps (daxfs.h). */
	daxfs_map_delete(&m);
	daxfs_close(c);
}

static void test_invalidate_truncate(void)
{
	const size_t len = 2 * MiB;
	uint8_t *pat = malloc(len), *got = malloc(len), *va;
	struct daxfs_map *ma = NULL;
	struct daxfs_event ev;
	struct daxfs *a, *c;
	struct daxfs_stat st;
	uint64_t t0, took;

	T_ASSERT(pat && got);
	rec.n = 0;
	T_OK(daxfs_open(&a, d.sock));
	T_OK(daxfs_open(&c, d.sock));
	daxfs_set_event_callback(a, on_event, &rec);
	T_OK(daxfs_event_thread_start(a));
	T_OK(daxfs_event_thread_start(a)); /* already running: nothing */
	T_OK(daxfs_create(a, "/inv", 0644, DAXFS_CREATE_EXCL, &st));
	T_OK(daxfs_map_new(a, st.ino, 0, len, DAXFS_MAP_WRITE, &ma));
	va = daxfs_map_addr(ma);
	fill_rand(pat, len);
	memcpy(va, pat, len);
	daxfs_map_persist(ma, va, len);

	/* The truncate waits for A's ack, not for the 5 s lease-break timeout. */
	t0 = t_now_ms();
	T_OK(daxfs_truncate(c, "/inv", MiB));
	took = t_now_ms() - t0;
	if (took > 2500)
		T_FAIL("the truncate took %" PRIu64 " ms: the ack did not come", took);
	ev = wait_event(1);
	T_ASSERT(ev.type == DAXFS_EVENT_INVALIDATE && ev.map == ma && ev.ino == st.ino);
	if (ev.off != MiB || ev.len != MiB || ev.addr != va + MiB)
		T_FAIL("INVALIDATE of [%" PRIu64 ", +%" PRIu64 ") at %p; expected [%" PRIu64
		       ", +%" PRIu64 ") at %p",
		       ev.off, ev.len, ev.addr, MiB, MiB, (void *)(va + MiB));
	expect_gone(va + MiB, MiB);
	/* The first half is still mapped and still holds its data. */
	T_ASSERT(kernel_can_read(va) && kernel_can_read(va + MiB - 1));
	T_ASSERT(memcmp(va, pat, MiB) == 0);
	T_ASSERT(daxfs_pread(c, st.ino, got, len, 0) == (ssize_t)MiB);
	T_ASSERT(memcmp(got, pat, MiB) == 0);
	/* And stays writable through the view. */
	memcpy(va + 100, "still mine", 10);
	daxfs_map_persist(ma, va, MiB); /* skips nothing it must not touch */
	T_ASSERT(daxfs_pread(c, st.ino, got, 10, 100) == 10 && memcmp(got, "still mine", 10) == 0);
	T_ASSERT(events_seen() == 1);
	T_ASSERT(!t_daemon_log_has(&d, "timed out"));

	daxfs_event_thread_stop(a);
	daxfs_event_thread_stop(a);
	daxfs_map_delete(&ma);
	daxfs_close(a);
	daxfs_close(c);
	free(pat);
	free(got);
}

struct poller {
	struct daxfs *fs;
	volatile int stop;
	int handled;
};

/* A thread that handles events with poll() and daxfs_process_events(). */
static void *poll_main(void *arg)
{
	struct poller *p = arg;
	struct pollfd pfd = {.fd = daxfs_event_fd(p->fs), .events = POLLIN};

	T_ASSERT(pfd.fd >= 0);
	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		int n;

		if (poll(&pfd, 1, 20) <= 0)
			continue;
		n = daxfs_process_events(p->fs);
		T_OK(n);
		p->handled += n;
	}
	return NULL;
}

static void test_invalidate_punch_unlink(void)
{
	const size_t len = 256 * KiB;
	uint8_t *pat = malloc(len), *va;
	struct poller p = {0};
	struct daxfs_map *ma = NULL;
	struct daxfs_event ev;
	struct daxfs *a, *c;
	struct daxfs_stat st;
	pthread_t th;
	uint64_t t0;

	T_ASSERT(pat);
	rec.n = 0;
	T_OK(daxfs_open(&a, d.sock));
	T_OK(daxfs_open(&c, d.sock));
	daxfs_set_event_callback(a, on_event, &rec);
	fill_rand(pat, len);
	T_OK(daxfs_create(c, "/inv2", 0644, DAXFS_CREATE_EXCL, &st));
	T_ASSERT(daxfs_pwrite(c, st.ino, pat, len, 0) == (ssize_t)len);
	T_OK(daxfs_map_new(a, st.ino, 0, len, DAXFS_MAP_READ, &ma));
	va = daxfs_map_addr(ma);
	T_ASSERT(memcmp(va, pat, len) == 0);
	p.fs = a;
	T_ASSERT(pthread_create(&th, NULL, poll_main, &p) == 0);

	/* A hole punched in the middle. */
	t0 = t_now_ms();
	T_OK(daxfs_fallocate(c, st.ino, DAXFS_FALLOC_PUNCH_HOLE | DAXFS_FALLOC_KEEP_SIZE, 64 * KiB,
			     64 * KiB));
	T_ASSERT(t_now_ms() - t0 < 2500);
	ev = wait_event(1);
	T_ASSERT(ev.type == DAXFS_EVENT_INVALIDATE && ev.map == ma && ev.ino == st.ino);
	T_ASSERT(ev.off == 64 * KiB && ev.len == 64 * KiB && ev.addr == va + 64 * KiB);
	expect_gone(va + 64 * KiB, 64 * KiB);
	T_ASSERT(memcmp(va, pat, 64 * KiB) == 0);
	T_ASSERT(memcmp(va + 128 * KiB, pat + 128 * KiB, 128 * KiB) == 0);

	/* The file unlinked: all of it goes. */
	t0 = t_now_ms();
	T_OK(daxfs_unlink(c, "/inv2"));
	T_ASSERT(t_now_ms() - t0 < 2500);
	ev = wait_event(2);
	T_ASSERT(ev.type == DAXFS_EVENT_INVALIDATE && ev.map == ma && ev.ino == st.ino);
	T_ASSERT(ev.off == 0 && ev.len == len && ev.addr == va);
	expect_gone(va, len);

	__atomic_store_n(&p.stop, 1, __ATOMIC_RELEASE);
	T_ASSERT(pthread_join(th, NULL) == 0);
	T_ASSERT(p.handled == 2);
	T_ASSERT(events_seen() == 2);
	daxfs_map_delete(&ma);
	daxfs_close(a);
	daxfs_close(c);
	free(pat);
}

/* --- 3. a holder that never acks --- */

struct holder_args {
	int to_parent, from_parent;
	uint64_t ino;
};

static int holder_main(struct holder_args *h)
{
	struct daxfs_map *m = NULL;
	struct daxfs_stat st;
	struct daxfs *fs;
	char go;

	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_map_new(fs, h->ino, 0, 64 * KiB, DAXFS_MAP_WRITE, &m));
	memset(daxfs_map_addr(m), 'H', 64 * KiB);
	daxfs_map_persist(m, daxfs_map_addr(m), 64 * KiB);
	T_ASSERT(write(h->to_parent, "m", 1) == 1);
	/* Not a single call into the library until the parent says so. */
	T_ASSERT(read(h->from_parent, &go, 1) == 1);
	T_ERR(daxfs_stat(fs, "/", &st), ECONNRESET);
	T_ERR(daxfs_stat(fs, "/", &st), ECONNRESET);
	daxfs_map_delete(&m);
	/* Without a mapping the call takes the ring, which is not served any more either. */
	T_ERR(daxfs_stat(fs, "/", &st), ECONNRESET);
	daxfs_close(fs);
	return 0;
}

static void test_lease_timeout(void)
{
	static const char *const opts[] = {"--map-users", "root", "--lease-break-timeout", "300",
					   NULL};
	int up[2], down[2];
	struct holder_args h;
	struct daxfs_statfs sf0, sf;
	struct daxfs_stat st;
	struct daxfs *c;
	uint64_t t0, took, end;
	char m, needle[64];
	pid_t pid;

	t_daemon_restart(&d, opts);
	T_OK(daxfs_open(&c, d.sock));
	T_OK(daxfs_create(c, "/lb", 0644, DAXFS_CREATE_EXCL, &st));
	T_OK(daxfs_statfs(c, &sf0));
	T_ASSERT(pipe(up) == 0 && pipe(down) == 0);
	h = (struct holder_args){.to_parent = up[1], .from_parent = down[0], .ino = st.ino};
	fflush(NULL);
	pid = fork(); /* no thread runs here: the child may use the library */
	T_ASSERT(pid >= 0);
	if (pid == 0)
		exit(holder_main(&h));
	T_ASSERT(read(up[0], &m, 1) == 1);
	T_OK(daxfs_statfs(c, &sf));
	T_ASSERT(sf.blocks_free <= sf0.blocks_free - 16);

	/* The truncate waits for the ack that never comes: the lease-break timeout. */
	t0 = t_now_ms();
	T_OK(daxfs_truncate(c, "/lb", 0));
	took = t_now_ms() - t0;
	if (took < 280 || took > 5000)
		T_FAIL("the truncate took %" PRIu64 " ms, the lease-break timeout is 300", took);
	T_ASSERT(t_daemon_log_has(&d, "timed out after 300 ms"));
	snprintf(needle, sizeof(needle), "(pid %d, uid 0): ", (int)pid);
	T_ASSERT(t_daemon_log_has(&d, needle) && t_daemon_log_has(&d, "dropping it"));
	T_OK(daxfs_getattr(c, st.ino, &st));
	T_ASSERT(st.size == 0 && st.blocks == 0);
	/* The holder may still touch its blocks: none comes back while it runs. */
	usleep(300000);
	T_OK(daxfs_statfs(c, &sf));
	T_ASSERT(sf.blocks_free <= sf0.blocks_free - 16);

	/* Its session is gone (checked in the child); once it exits, its blocks are free. */
	T_ASSERT(write(down[1], "g", 1) == 1);
	t_wait_child(pid, 30000, "the holder");
	end = t_now_ms() + 10000;
	do {
		usleep(10000);
		T_OK(daxfs_statfs(c, &sf));
	} while (sf.blocks_free != sf0.blocks_free && t_now_ms() < end);
	if (sf.blocks_free != sf0.blocks_free)
		T_FAIL("%" PRIu64 " blocks free after the holder exited, %" PRIu64 " before",
		       sf.blocks_free, sf0.blocks_free);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
	daxfs_close(c);
}

int main(int argc, char **argv)
{
	static const char *const opts[] = {"--map-users", "root", NULL};

	t_tools_init(&argc, argv);
	t_require_root("--map-users root");
	rng = t_seed(argc, argv, 1);
	t_watchdog(200, "test-daemon-map");
	t_region_new(t_path("region"), "256M");
	t_daemon_start(&d, t_path("region"), "daxfsd", opts);

	test_zero_copy();
	test_region_fd();
	test_many_extents();
	test_close_releases();
	test_invalidate_truncate();
	test_invalidate_punch_unlink();
	t_daemon_check_alive(&d);
	test_lease_timeout();
	t_daemon_check_alive(&d);
	t_daemon_stop(&d);
	printf("ok\n");
	return 0;
}
