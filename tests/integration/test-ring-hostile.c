// SPDX-License-Identifier: MIT
/*
 * test-ring-hostile - daxfsd against clients that scribble on their shared-memory ring
 * (common/ring.h), speaking it raw as uid 65534: slot lengths out of range (each answered
 * EMSGSIZE in its slot, the session kept), random and mutated messages (each answered, in
 * its slot, with its own id), a thread that rewrites slots and their lengths while the
 * daemon reads them, entries that name no slot (the session is dropped), an overflowing
 * submission ring and entries from the future (the scribbler stalls only itself), and
 * clients killed with requests in flight. The daemon runs one ring thread, so a bystander
 * libdaxfs client (on a ring) shares that thread with every hostile session: through all
 * of it the bystander's requests are answered and its data stays intact; at the end the
 * daemon has the fds it had before, the blocks the hostile clients took are free again,
 * and the ASan build's leak check at shutdown finds nothing.
 *
 * Usage: test-ring-hostile --daxfsd=PATH --cli=PATH [seed]
 */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "rawclient.h"
#include "ring.h"
#include "testutil.h"

#define NOBODY 65534
#define GOOD_SIZE (1u << 20)
#define MUTATIONS 3000
#define WAIT_MS 10000

static struct t_daemon d;
static uint64_t rng;
static struct daxfs *good;
static uint8_t *good_data;
static uint64_t good_ino;

/* A raw ring session. */
struct rc {
	int fd, efd;
	uint8_t *shm;
	void *area;
	uint64_t pos, next_id;
};

static void check_good(void)
{
	static uint8_t back[GOOD_SIZE];
	struct daxfs_stat st;

	T_OK(daxfs_stat(good, "/good/data", &st));
	T_ASSERT(st.ino == good_ino && st.size == GOOD_SIZE);
	T_ASSERT(daxfs_pread(good, good_ino, back, GOOD_SIZE, 0) == (ssize_t)GOOD_SIZE);
	T_ASSERT(memcmp(back, good_data, GOOD_SIZE) == 0);
}

/* rc_open - connect, HELLO with a ring, map it. Return: 0; -1 when the daemon refused. */
static int rc_open(struct rc *c)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} cm;
	uint64_t buf[(WIRE_MSG_MAX + 64) / 8];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cm.buf,
			    .msg_controllen = sizeof(cm.buf)};
	struct wire_hello_reply rep;
	int fds[4], nfds = 0;
	struct wire_hdr h;
	size_t len;
	ssize_t n;

	memset(c, 0, sizeof(*c));
	c->next_id = 1;
	c->fd = raw_connect(d.sock);
	len = raw_msg_hello(buf, 7, WIRE_VERSION);
	((uint8_t *)buf)[sizeof(struct wire_hdr) + 4] = WIRE_HELLO_F_RING;
	T_OK(raw_send(c->fd, buf, len, NULL, 0));
	n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);
	T_ASSERT(n >= (ssize_t)(sizeof(h) + sizeof(rep)));
	for (struct cmsghdr *m = CMSG_FIRSTHDR(&mh); m; m = CMSG_NXTHDR(&mh, m)) {
		size_t k = (m->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (size_t i = 0; i < k && nfds < 4; i++)
			memcpy(&fds[nfds++], CMSG_DATA(m) + i * sizeof(int), sizeof(int));
	}
	memcpy(&h, buf, sizeof(h));
	memcpy(&rep, (uint8_t *)buf + sizeof(h), sizeof(rep));
	if (rep.r.status != 0) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		close(c->fd);
		return -1;
	}
	/* The memfd and the doorbell; the memfd holds the shared buffer, then the ring. */
	T_ASSERT(nfds == 2 && h.op == (WIRE_REPLY | WIRE_HELLO));
	c->shm = mmap(NULL, WIRE_SHM_SIZE + RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0],
		      0);
	T_ASSERT(c->shm != MAP_FAILED);
	close(fds[0]);
	c->efd = fds[1];
	c->area = c->shm + WIRE_SHM_SIZE;
	T_OK(ring_check_hdr(c->area));
	return 0;
}

static void rc_close(struct rc *c)
{
	munmap(c->shm, WIRE_SHM_SIZE + RING_SIZE);
	close(c->efd);
	close(c->fd);
}

/* rc_put - put @len bytes of @msg (its id @id) in @slot with length field @lenfield. */
static void rc_put(struct rc *c, unsigned slot, const void *msg, size_t len, uint32_t lenfield,
		   uint64_t id)
{
	struct ring_slot *s = ring_slot_of(c->area, slot);

	memcpy(ring_msg_of(s), msg, len < RING_MSG_MAX ? len : RING_MSG_MAX);
	__atomic_store_n(&s->done, ~(uint32_t)id, __ATOMIC_RELAXED);
	__atomic_store_n(&s->len, lenfield, __ATOMIC_RELAXED);
}

/* rc_push - submit entry @e at the next position and ring the doorbell. */
static void rc_push_entry(struct rc *c, uint64_t e)
{
	struct ring_hdr *h = ring_hdr_of(c->area);
	uint64_t one = 1;

	__atomic_store_n(&h->sq[c->pos % RING_SLOTS], e, __ATOMIC_SEQ_CST);
	c->pos++;
	if (write(c->efd, &one, sizeof(one)) != sizeof(one))
		T_FAIL("doorbell: %s", strerror(errno));
}

static void rc_submit(struct rc *c, unsigned slot)
{
	rc_push_entry(c, ring_entry(c->pos, slot));
}

/*
 * rc_wait - wait (at most @ms) for @slot to be answered for @id. Return: 1 with the reply in
 * @out (*@len bytes); 2 answered, its length field since rewritten (by a scribbler); 0 the
 * session ended meanwhile; -1 timed out.
 */
static int rc_wait(struct rc *c, unsigned slot, uint64_t id, void *out, size_t *len, unsigned ms)
{
	struct ring_slot *s = ring_slot_of(c->area, slot);
	uint64_t end = t_now_ms() + ms;

	while (__atomic_load_n(&s->done, __ATOMIC_ACQUIRE) != (uint32_t)id) {
		struct pollfd p = {.fd = c->fd, .events = POLLRDHUP};

		if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP)))
			return 0;
		if (t_now_ms() > end)
			return -1;
		usleep(100);
	}
	*len = __atomic_load_n(&s->len, __ATOMIC_RELAXED);
	if (*len < sizeof(struct wire_hdr) || *len > RING_MSG_MAX)
		return 2; /* answered, but the length was scribbled on since */
	memcpy(out, ring_msg_of(s), *len);
	return 1;
}

/* rc_call - one request in @slot; its reply must come with status @err. */
static void rc_call(struct rc *c, unsigned slot, const void *msg, size_t len, int err)
{
	uint64_t rep[RING_MSG_MAX / 8];
	struct wire_hdr h;
	int32_t status;
	size_t n;

	memcpy(&h, msg, sizeof(h));
	rc_put(c, slot, msg, len, (uint32_t)len, h.id);
	rc_submit(c, slot);
	T_ASSERT(rc_wait(c, slot, h.id, rep, &n, WAIT_MS) == 1);
	memcpy(&h, rep, sizeof(h));
	T_ASSERT(h.id == ((const struct wire_hdr *)msg)->id && n >= sizeof(h) + sizeof(status));
	memcpy(&status, (uint8_t *)rep + sizeof(h), sizeof(status));
	if (status != err)
		T_FAIL("ring op 0x%x id %" PRIu64 ": status %d, expected %d", h.op, h.id, status,
		       err);
}

static uint64_t rnd(uint64_t n)
{
	return n ? t_rand(&rng) % n : 0;
}

/* --- the hostile children, as uid 65534 --- */

/* Lengths out of range: answered EMSGSIZE (with the header's id); the session stays. */
static int child_lengths(void *arg)
{
	static const uint32_t bad[] = {0, 1, 15, (uint32_t)RING_MSG_MAX + 1, 1u << 20, UINT32_MAX};
	uint8_t msg[64];
	struct rc c;

	(void)arg;
	T_OK(rc_open(&c));
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t id = 100 + i, rep[RING_MSG_MAX / 8];
		size_t len = raw_msg_statfs(msg, id), n;
		int32_t status;

		rc_put(&c, i, msg, len, bad[i], id);
		rc_submit(&c, i);
		T_ASSERT(rc_wait(&c, i, id, rep, &n, WAIT_MS) == 1);
		memcpy(&status, (uint8_t *)rep + sizeof(struct wire_hdr), sizeof(status));
		T_ASSERT(status == -EMSGSIZE);
	}
	/* A STATFS that is whole still works; MAP and HELLO are not for the ring. */
	rc_call(&c, 9, msg, raw_msg_statfs(msg, 200), 0);
	rc_call(&c, 9, msg, raw_msg_hello(msg, 201, WIRE_VERSION), -EPROTO);
	rc_close(&c);
	return 0;
}

/* Random and mutated messages: every one answered in its slot with its id. */
static int child_mutations(void *arg)
{
	static uint8_t msg[RING_MSG_MAX];
	uint64_t rep[RING_MSG_MAX / 8];
	struct rc c;

	rng = *(uint64_t *)arg;
	T_OK(rc_open(&c));
	for (unsigned i = 0; i < MUTATIONS; i++) {
		unsigned slot = (unsigned)rnd(RING_SLOTS);
		uint64_t id = (uint64_t)i << 8 | 1;
		size_t len, n;

		switch (rnd(4)) {
		case 0:
			len = raw_msg_path(msg, WIRE_STAT, id, "/good/data");
			break;
		case 1:
			len = raw_msg_mknode(msg, WIRE_CREATE, id, 0644, 0, "/hostile/f");
			break;
		case 2:
			len = raw_msg_io(msg, WIRE_WRITE, id, rnd(2), rnd(64), rnd(1 << 20), 100,
					 msg + 512);
			break;
		default:
			len = 16 + rnd(RING_MSG_MAX - 16);
			for (size_t k = 0; k < len; k++)
				msg[k] = (uint8_t)t_rand(&rng);
			break;
		}
		/* Flip a few bytes, keep the id where the daemon finds it. */
		for (unsigned k = rnd(4); k > 0; k--)
			msg[rnd(len)] ^= (uint8_t)(1u << rnd(8));
		memcpy(msg + 8, &id, sizeof(id));
		rc_put(&c, slot, msg, len, (uint32_t)len, id);
		rc_submit(&c, slot);
		if (rc_wait(&c, slot, id, rep, &n, WAIT_MS) != 1)
			T_FAIL("mutation %u (slot %u): no answer in the ring", i, slot);
		T_ASSERT(((struct wire_hdr *)rep)->id == id);
	}
	rc_close(&c);
	return 0;
}

struct scribble {
	struct rc *c;
	bool stop;
};

static void *scribbler(void *arg)
{
	struct scribble *sc = arg;
	uint64_t r = 0x9e3779b97f4a7c15ULL;

	while (!__atomic_load_n(&sc->stop, __ATOMIC_RELAXED)) {
		struct ring_slot *s = ring_slot_of(sc->c->area, (unsigned)(t_rand(&r) % 8));
		unsigned at = (unsigned)(t_rand(&r) % 56);

		/* Anything but the id (bytes 8..15), so that every answer can be matched. */
		ring_msg_of(s)[at < 8 ? at : at + 8] ^= 0x5a;
		if (t_rand(&r) % 16 == 0)
			__atomic_store_n(&s->len, (uint32_t)t_rand(&r), __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Slots rewritten while the daemon copies them: it answers or drops, never crashes. */
static int child_rewrite(void *arg)
{
	struct scribble sc = {.stop = false};
	uint64_t rep[RING_MSG_MAX / 8];
	uint8_t msg[256];
	pthread_t th;
	struct rc c;

	(void)arg;
	T_OK(rc_open(&c));
	sc.c = &c;
	T_ASSERT(pthread_create(&th, NULL, scribbler, &sc) == 0);
	for (unsigned i = 0; i < 2000; i++) {
		unsigned slot = i % 8;
		uint64_t id = (uint64_t)(i + 1) << 8;
		size_t len = raw_msg_path(msg, WIRE_STAT, id, "/good/data"), n;
		int r;

		rc_put(&c, slot, msg, len, (uint32_t)len, id);
		rc_submit(&c, slot);
		r = rc_wait(&c, slot, id, rep, &n, WAIT_MS);
		if (r == 0)
			break; /* dropped: a scribbled entry, fine */
		if (r < 0)
			T_FAIL("request %u (slot %u): no answer", i, slot);
	}
	__atomic_store_n(&sc.stop, true, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	rc_close(&c);
	return 0;
}

/* An entry that names no slot: a violation; the session ends. */
static int child_bad_slot(void *arg)
{
	uint64_t rep[RING_MSG_MAX / 8];
	struct rc c;
	size_t n;

	(void)arg;
	T_OK(rc_open(&c));
	rc_push_entry(&c, ring_entry(c.pos, 200));
	T_ASSERT(rc_wait(&c, 0, 12345, rep, &n, WAIT_MS) == 0);
	rc_close(&c);
	return 0;
}

/* Overflow and entries from the future: the scribbler stalls itself, nobody else. */
static int child_overflow(void *arg)
{
	uint8_t msg[256];
	struct rc c;

	(void)arg;
	T_OK(rc_open(&c));
	for (unsigned i = 0; i < 5 * RING_SLOTS; i++) {
		uint64_t id = (uint64_t)(i + 1) << 8;

		rc_put(&c, i % RING_SLOTS, msg, raw_msg_statfs(msg, id),
		       (uint32_t)raw_msg_statfs(msg, id), id);
		rc_submit(&c, i % RING_SLOTS);
	}
	for (unsigned i = 0; i < RING_SLOTS; i++)
		ring_hdr_of(c.area)->sq[i] = ring_entry(c.pos + 1000 + i, i);
	usleep(200000);
	rc_close(&c);
	return 0;
}

/* Requests in flight, then killed: the daemon finishes them into memory nobody reads. */
static int child_dies(void *arg)
{
	static uint8_t data[8192];
	uint8_t msg[RING_MSG_MAX];
	char path[64];
	struct rc c;

	snprintf(path, sizeof(path), "/hostile/dies.%d", *(int *)arg);
	if (rc_open(&c))
		return 0;
	for (unsigned i = 0; i < RING_SLOTS; i++) {
		uint64_t id = (uint64_t)(i + 1) << 8;
		size_t len =
			i == 0 ? raw_msg_mknode(msg, WIRE_CREATE, id, 0644, 0, path)
			       : raw_msg_io(msg, WIRE_WRITE, id, false, 0, i * 8192, 8192, data);

		rc_put(&c, i, msg, len, (uint32_t)len, id);
		rc_submit(&c, i);
	}
	_exit(0); /* no unmap, no close: the kernel does it */
}

static void run_child(int (*fn)(void *), void *arg, const char *what)
{
	pid_t pid = t_fork_as(NOBODY, fn, arg);
	uint64_t end = t_now_ms() + 120000;
	int status;

	while (waitpid(pid, &status, WNOHANG) == 0) {
		check_good();
		t_daemon_check_alive(&d);
		if (t_now_ms() > end) {
			kill(pid, SIGKILL);
			T_FAIL("%s took longer than 120 s", what);
		}
		usleep(5000);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		T_FAIL("%s failed (status 0x%x)", what, status);
	check_good();
	t_daemon_check_alive(&d);
	printf("%s: ok\n", what);
}

static int rm_cb(void *ctx, const char *name, uint64_t ino, uint32_t mode)
{
	char p[512];

	(void)ctx;
	(void)ino;
	(void)mode;
	snprintf(p, sizeof(p), "/hostile/%s", name);
	T_OK(daxfs_unlink(good, p));
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const opts[] = {"--ring-threads", "1", "--workers", "2", NULL};
	struct daxfs_statfs before, after;
	uint64_t seed, end;
	struct daxfs_stat st;
	int fds0;

	t_tools_init(&argc, argv);
	t_require_root("its hostile clients run as uid 65534");
	rng = t_seed(argc, argv, 1);
	t_watchdog(280, "test-ring-hostile");
	good_data = malloc(GOOD_SIZE);
	T_ASSERT(good_data);
	t_open_scratch_to_all();
	t_region_new(t_path("region"), "256M");
	t_daemon_start(&d, t_path("region"), "daxfsd", opts);

	T_OK(daxfs_open(&good, d.sock));
	for (size_t i = 0; i < GOOD_SIZE; i++)
		good_data[i] = (uint8_t)t_rand(&rng);
	T_OK(daxfs_mkdir(good, "/good", 0755, NULL));
	T_OK(daxfs_create(good, "/good/data", 0644, DAXFS_CREATE_EXCL, &st));
	good_ino = st.ino;
	T_ASSERT(daxfs_pwrite(good, good_ino, good_data, GOOD_SIZE, 0) == (ssize_t)GOOD_SIZE);
	T_OK(daxfs_mkdir(good, "/hostile", 0777, NULL));
	T_OK(daxfs_statfs(good, &before));
	fds0 = t_daemon_settle_fds(&d);

	run_child(child_lengths, NULL, "slot lengths out of range");
	seed = t_rand(&rng);
	run_child(child_mutations, &seed, "random and mutated messages");
	run_child(child_rewrite, NULL, "slots rewritten while read");
	run_child(child_bad_slot, NULL, "an entry naming no slot");
	T_ASSERT(t_daemon_log_has(&d, "submitted an entry that names no slot"));
	run_child(child_overflow, NULL, "an overflowing ring, entries from the future");
	for (int i = 0; i < 8; i++)
		run_child(child_dies, &i, "a client dying with 64 requests in flight");

	/* Nothing leaks: the fds of every session are gone, the blocks come back. */
	t_daemon_wait_fds(&d, fds0, 10000);
	T_OK(daxfs_readdir(good, "/hostile", rm_cb, NULL));
	end = t_now_ms() + 10000;
	do {
		usleep(10000);
		T_OK(daxfs_statfs(good, &after));
	} while (after.blocks_free != before.blocks_free && t_now_ms() < end);
	if (after.blocks_free != before.blocks_free || after.files != before.files)
		T_FAIL("after the hostile clients: %" PRIu64 " free blocks, %" PRIu64
		       " files; before: %" PRIu64 ", %" PRIu64,
		       after.blocks_free, after.files, before.blocks_free, before.files);
	check_good();
	daxfs_close(good);
	t_daemon_stop(&d);
	free(good_data);
	printf("ok\n");
	return 0;
}
