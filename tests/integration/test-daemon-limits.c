// SPDX-License-Identifier: MIT
/*
 * test-daemon-limits - the limits of docs/man/daxfsd.8 ("LIMITS") through a real daxfsd.
 *
 * 1. 1,000 connections from one uid (nobody): 64 (max_sessions_per_user) become sessions,
 *    every other one has its HELLO answered EUSERS or is closed; while they are all open,
 *    root and a second uid connect and work, nobody's 'daxfs status' fails saying which
 *    limit, and the daemon logs the refusals in one line, not one per connection.
 * 2. HELLO within 5 s: ten connections that say nothing are closed after 5 s (not before
 *    4.5 s, all within 9 s), with one log line; the daemon's fds come back.
 * 3. The admin reserve: with max_sessions 16, fourteen uids get a session each, the
 *    fifteenth hears EAGAIN; root still gets in, twice.
 * 4. Backpressure: 256 sessions each pipeline 64 inline READs of 48 KiB and never read a
 *    reply. The daemon stops reading them: its RSS grows by at most 256 x the per-session
 *    bound of daxfsd(8) (SESS_QUEUE_MAX + SESS_EVENTS_ROOM + 2 messages + bookkeeping; the
 *    shared buffers are never touched here), and by at least 256 x 512 KiB (they do hold
 *    their replies). A fresh client works meanwhile, no session is dropped, and once they
 *    read, every one of the 256 x 64 replies arrives, whole.
 * 5. Sessions held back that end: a client pipelines 64 inline READs of 48 KiB and reads
 *    nothing, so the daemon holds its replies and stops reading it. (a) The client closes:
 *    its replies can never be sent now, yet its session ends and the daemon's fds come
 *    back, three times over. (b) It holds a mapping and never acks the lease break of a
 *    truncate: the daemon drops it, closes its socket at once and keeps only its pidfd
 *    (its blocks stay held), until its process is killed.
 *
 * Usage: test-daemon-limits --daxfsd=PATH --cli=PATH
 */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "rawclient.h"
#include "testutil.h"

#define NOBODY 65534
#define SECOND_UID 4242
#define CONNS 1000
#define PER_USER 64
#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)

/* The per-session bound of daxfsd(8) without the shared buffer (daemon/session.h). */
#define QUEUE_MAX MiB
#define EVENTS_ROOM (256 * KiB)
#define SESSION_FIXED (8 * KiB)
#define SESSION_BOUND (QUEUE_MAX + EVENTS_ROOM + 2 * 64 * KiB + SESSION_FIXED)

static struct t_daemon d;

/* hello_status - say HELLO on @fd: 0 (a session), the error it heard, or -ECONNRESET. */
static int hello_status(int fd, struct raw_pkt *pkt)
{
	uint64_t buf[8];
	size_t len = raw_msg_hello(buf, 7, WIRE_VERSION);
	int r;

	if (raw_send(fd, buf, len, NULL, 0) < 0)
		return -ECONNRESET;
	r = raw_recv(fd, pkt, RAW_TIMEOUT_MS, false);
	if (r == 0)
		return -ECONNRESET;
	T_ASSERT(r == 1);
	T_ASSERT(pkt->hdr.op == (WIRE_REPLY | WIRE_HELLO) && pkt->hdr.id == 7);
	return raw_status(pkt);
}

static size_t count_lines(const struct t_daemon *td, const char *needle)
{
	size_t len, n = 0;
	char *log = t_read_file(td->log, &len);

	for (char *p = log; (p = strstr(p, needle)); p++)
		n++;
	free(log);
	return n;
}

static uint64_t rss_of(pid_t pid)
{
	char path[64], *s, *p;
	size_t len;
	uint64_t kb = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	s = t_read_file(path, &len);
	p = strstr(s, "VmRSS:");
	T_ASSERT(p && sscanf(p + 6, "%" SCNu64, &kb) == 1);
	free(s);
	return kb * KiB;
}

/* --- 1 --- */

struct flood {
	int ready[2];	/* the child says how it went: "ok N M" */
	int release[2]; /* the parent says: close them now */
	unsigned ok, refused, closed;
};

static int flood_child(void *arg)
{
	struct flood *f = arg;
	struct raw_pkt *pkt = malloc(sizeof(*pkt));
	struct rlimit rl;
	static int fds[CONNS];
	char c;

	T_ASSERT(pkt);
	T_OK(getrlimit(RLIMIT_NOFILE, &rl));
	rl.rlim_cur = rl.rlim_max;
	T_OK(setrlimit(RLIMIT_NOFILE, &rl));
	/* All connected first: the daemon accepts them before any says HELLO. */
	for (int i = 0; i < CONNS; i++)
		fds[i] = raw_connect(d.sock);
	for (int i = 0; i < CONNS; i++) {
		int st = hello_status(fds[i], pkt);

		if (st == 0)
			f->ok++;
		else if (st == -EUSERS)
			f->refused++;
		else if (st == -ECONNRESET)
			f->closed++;
		else
			T_FAIL("connection %d: HELLO answered %d", i, st);
	}
	T_ASSERT(write(f->ready[1], f, sizeof(*f)) == (ssize_t)sizeof(*f));
	T_ASSERT(read(f->release[0], &c, 1) == 1);
	for (int i = 0; i < CONNS; i++)
		close(fds[i]);
	free(pkt);
	return 0;
}

static int second_user(void *arg)
{
	struct daxfs_stat st;
	struct daxfs *fs;
	char buf[64];

	(void)arg;
	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_create(fs, "/shared/second", 0600, DAXFS_CREATE_EXCL, &st));
	T_ASSERT(st.uid == SECOND_UID);
	T_ASSERT(daxfs_pwrite(fs, st.ino, "second user", 11, 0) == 11);
	T_ASSERT(daxfs_pread(fs, st.ino, buf, sizeof(buf), 0) == 11);
	T_ASSERT(memcmp(buf, "second user", 11) == 0);
	daxfs_close(fs);
	return 0;
}

static void test_flood(void)
{
	static struct flood f;
	const char *argv[] = {"/usr/bin/setpriv",
			      "--reuid=65534",
			      "--regid=65534",
			      "--clear-groups",
			      t_cli_path(),
			      "--socket",
			      d.sock,
			      "status",
			      NULL};
	struct daxfs_statfs sf;
	struct daxfs *root;
	char *out, *err;
	pid_t pid;
	int fds0, rc;

	fds0 = t_daemon_settle_fds(&d);
	T_OK(pipe(f.ready));
	T_OK(pipe(f.release));
	pid = t_fork_as(NOBODY, flood_child, &f);
	T_ASSERT(read(f.ready[0], &f, sizeof(f)) == (ssize_t)sizeof(f));
	printf("flood: %u sessions, %u told EUSERS, %u closed at once\n", f.ok, f.refused,
	       f.closed);
	T_ASSERT(f.ok == PER_USER);
	T_ASSERT(f.refused >= 1 && f.ok + f.refused + f.closed == CONNS);

	/* All 1,000 still open: root and a second user get in and work. */
	T_OK(daxfs_open(&root, d.sock));
	T_OK(daxfs_statfs(root, &sf));
	T_OK(daxfs_mkdir(root, "/made-by-root", 0755, NULL));
	t_wait_child(t_fork_as(SECOND_UID, second_user, NULL), 30000, "the second user");
	/* nobody's CLI says which limit it hit. */
	rc = t_run(argv, &out, &err);
	T_ASSERT(rc == 1);
	if (!strstr(err, "max_sessions_per_user"))
		T_FAIL("nobody's daxfs status: '%s'", err);
	printf("flood: nobody's daxfs status: %s", err);
	free(out);
	free(err);
	/* One line for all of it (within 10 s), not one per connection. */
	T_ASSERT(count_lines(&d, "refused ") == 1);
	T_ASSERT(t_daemon_log_has(&d, "max_sessions_per_user"));

	T_ASSERT(write(f.release[1], "x", 1) == 1);
	t_wait_child(pid, 60000, "the flood");
	daxfs_close(root);
	t_daemon_wait_fds(&d, fds0, 10000);
	for (int i = 0; i < 2; i++) {
		close(f.ready[i]);
		close(f.release[i]);
	}
	printf("flood: ok\n");
}

/* --- 2 --- */

static void test_hello_timeout(void)
{
	int fds[10], fds0 = t_daemon_settle_fds(&d);
	struct raw_pkt *pkt = malloc(sizeof(*pkt));
	uint64_t t0 = t_now_ms(), t;
	size_t before = count_lines(&d, "sent no HELLO within 5 s");

	T_ASSERT(pkt);
	for (int i = 0; i < 10; i++)
		fds[i] = raw_connect(d.sock);
	for (int i = 0; i < 10; i++) {
		int r = raw_recv(fds[i], pkt, 9000 - (int)(t_now_ms() - t0), false);

		t = t_now_ms() - t0;
		if (r != 0)
			T_FAIL("a silent connection: %s after %" PRIu64 " ms",
			       r < 0 ? "still open" : "got a packet", t);
		T_ASSERT(t >= 4500);
		close(fds[i]);
	}
	printf("hello timeout: ten silent connections closed after %" PRIu64 " ms\n",
	       t_now_ms() - t0);
	T_ASSERT(count_lines(&d, "sent no HELLO within 5 s") == before + 1);
	t_daemon_wait_fds(&d, fds0, 10000);
	free(pkt);
}

/* --- 3 --- */

struct reserve_arg {
	const char *sock;
	int ready, release;
	int want; /* HELLO's status for this uid */
};

static int reserve_child(void *arg)
{
	struct reserve_arg *a = arg;
	struct raw_pkt *pkt = malloc(sizeof(*pkt));
	int fd = raw_connect(a->sock), st;
	char c;

	T_ASSERT(pkt);
	st = hello_status(fd, pkt);
	if (st != a->want)
		T_FAIL("uid %u: HELLO %d, expected %d", (unsigned)getuid(), st, a->want);
	T_ASSERT(write(a->ready, "x", 1) == 1);
	T_ASSERT(read(a->release, &c, 1) == 1);
	close(fd);
	free(pkt);
	return 0;
}

static void test_admin_reserve(void)
{
	static const char *const opts[] = {"--max-sessions", "16", NULL};
	struct t_daemon r;
	struct reserve_arg a;
	struct daxfs *fs[2];
	int ready[2], release[2];
	pid_t pids[15];
	char c;

	memset(&r, 0, sizeof(r));
	t_daemon_start(&r, d.region, "reserve", opts);
	T_OK(pipe(ready));
	T_OK(pipe(release));
	a = (struct reserve_arg){r.sock, ready[1], release[0], 0};
	/* 16 - 16 / 8 = 14 sessions for users that are neither root nor the daemon's. */
	for (int i = 0; i < 15; i++) {
		a.want = i < 14 ? 0 : -EAGAIN;
		pids[i] = t_fork_as(5000 + (uint32_t)i, reserve_child, &a);
		T_ASSERT(read(ready[0], &c, 1) == 1);
	}
	T_OK(daxfs_open(&fs[0], r.sock));
	T_OK(daxfs_open(&fs[1], r.sock));
	T_OK(daxfs_statfs(fs[1], &(struct daxfs_statfs){0}));
	for (int i = 0; i < 15; i++)
		T_ASSERT(write(release[1], "x", 1) == 1);
	for (int i = 0; i < 15; i++)
		t_wait_child(pids[i], 30000, "a reserve child");
	daxfs_close(fs[0]);
	daxfs_close(fs[1]);
	T_ASSERT(t_daemon_log_has(&r, "the rest are kept for root"));
	t_daemon_stop(&r);
	t_daemon_forget(&r);
	for (int i = 0; i < 2; i++) {
		close(ready[i]);
		close(release[i]);
	}
	printf("admin reserve: ok\n");
}

/* --- 4 --- */

#define FLOOD_SESSIONS 256
#define PIPELINE 64
#define READ_LEN (48 * KiB)

static void test_backpressure(void)
{
	static const char *const opts[] = {"--max-sessions", "300", "--workers", "4", NULL};
	static struct raw conns[FLOOD_SESSIONS];
	struct raw_pkt *pkt = malloc(sizeof(*pkt));
	uint8_t *data = malloc(MiB), *msg = malloc(WIRE_MSG_MAX);
	uint64_t rss0, rss1, bound, held, t0;
	struct daxfs_stat st;
	struct t_daemon b;
	struct daxfs *fs;

	T_ASSERT(pkt && data && msg);
	memset(&b, 0, sizeof(b));
	t_daemon_start(&b, d.region, "backpressure", opts);
	T_OK(daxfs_open(&fs, b.sock));
	for (size_t i = 0; i < MiB; i++)
		data[i] = (uint8_t)(i * 7 + i / 4096);
	T_OK(daxfs_create(fs, "/big", 0644, 0, &st));
	T_ASSERT(daxfs_pwrite(fs, st.ino, data, MiB, 0) == (ssize_t)MiB);
	T_ASSERT(daxfs_pread(fs, st.ino, msg, READ_LEN, 0) == (ssize_t)READ_LEN);
	usleep(500 * 1000);
	rss0 = rss_of(b.pid);

	for (int i = 0; i < FLOOD_SESSIONS; i++) {
		raw_hello(&conns[i], b.sock);
		for (uint64_t id = 1; id <= PIPELINE; id++) {
			size_t len = raw_msg_io(msg, WIRE_READ, id, false, st.ino,
						(id * READ_LEN) % (MiB - READ_LEN), READ_LEN, NULL);

			T_OK(raw_send(conns[i].fd, msg, len, NULL, 0));
		}
	}
	/* Let the workers do what the daemon lets in, then measure. */
	for (uint64_t prev = 0, since = t_now_ms(); t_now_ms() - since < 1500;) {
		uint64_t now = rss_of(b.pid);

		if (now > prev + MiB) {
			prev = now;
			since = t_now_ms();
		}
		usleep(100 * 1000);
	}
	rss1 = rss_of(b.pid);
	held = rss1 > rss0 ? rss1 - rss0 : 0;
	bound = FLOOD_SESSIONS * SESSION_BOUND;
	printf("backpressure: daemon RSS %" PRIu64 " MiB before, %" PRIu64
	       " MiB with %d sessions not reading: %" PRIu64 " KiB each (bound %" PRIu64 " KiB)\n",
	       rss0 >> 20, rss1 >> 20, FLOOD_SESSIONS, (held / FLOOD_SESSIONS) >> 10,
	       (uint64_t)SESSION_BOUND >> 10);
	if (held > bound)
		T_FAIL("the daemon holds %" PRIu64 " MiB for %d sessions, more than %" PRIu64
		       " MiB",
		       held >> 20, FLOOD_SESSIONS, bound >> 20);
	T_ASSERT(held >= FLOOD_SESSIONS * 512 * KiB);
	/* The daemon still serves others, and dropped nobody. */
	T_OK(daxfs_statfs(fs, &(struct daxfs_statfs){0}));
	T_ASSERT(!t_daemon_log_has(&b, "not reading its socket"));

	/* Now they read: every reply comes, whole and right. */
	t0 = t_now_ms();
	for (int i = 0; i < FLOOD_SESSIONS; i++) {
		uint8_t seen[PIPELINE + 1] = {0};

		for (int k = 0; k < PIPELINE; k++) {
			struct wire_io_reply r;
			uint64_t id, off;

			T_ASSERT(raw_recv(conns[i].fd, pkt, RAW_TIMEOUT_MS, false) == 1);
			id = pkt->hdr.id;
			T_ASSERT(pkt->hdr.op == (WIRE_REPLY | WIRE_READ) && id >= 1 &&
				 id <= PIPELINE && !seen[id]);
			seen[id] = 1;
			memcpy(&r, (uint8_t *)pkt->buf + 16, sizeof(r));
			T_ASSERT(r.r.status == 0 && r.count == READ_LEN);
			off = (id * READ_LEN) % (MiB - READ_LEN);
			T_ASSERT(memcmp((uint8_t *)pkt->buf + 16 + sizeof(r), data + off,
					READ_LEN) == 0);
		}
		raw_close(&conns[i]);
	}
	printf("backpressure: %d x %d replies read back in %" PRIu64 " ms\n", FLOOD_SESSIONS,
	       PIPELINE, t_now_ms() - t0);
	daxfs_close(fs);
	t_daemon_stop(&b);
	t_daemon_forget(&b);
	free(pkt);
	free(data);
	free(msg);
	printf("backpressure: ok\n");
}

/* --- 5 --- */

#define GONE_ROUNDS 3
#define GONE_IDLE_MS 500 /* no READ answered for this long: the daemon holds the session */

/* reads_ok - the READs the daemon has answered with success (its metrics). */
static uint64_t reads_ok(struct daxfs *fs)
{
	static const char key[] = "daxfs_requests_total{op=\"read\",result=\"ok\"} ";
	char *text, *p;
	uint64_t n;
	size_t len;

	T_OK(daxfs_stats(fs, &text, &len));
	p = strstr(text, key);
	T_ASSERT(p);
	n = strtoull(p + strlen(key), NULL, 10);
	free(text);
	return n;
}

/* send_reads - PIPELINE inline READs of READ_LEN at offset 0 of @ino, ids from @id. */
static void send_reads(int fd, uint8_t *msg, uint64_t ino, uint64_t id)
{
	for (int i = 0; i < PIPELINE; i++) {
		size_t len =
			raw_msg_io(msg, WIRE_READ, id + (uint64_t)i, false, ino, 0, READ_LEN, NULL);

		T_OK(raw_send(fd, msg, len, NULL, 0));
	}
}

/*
 * wait_held - wait until the daemon answers no more READs of a session that reads nothing
 * (@base: reads_ok before it sent them). The first replies fill its socket, the rest wait
 * in the outbox; the daemon stops reading the session only once it holds QUEUE_MAX, so at
 * least that many bytes of replies are answered before it can stop.
 * Return: the READs answered.
 */
static uint64_t wait_held(struct daxfs *fs, uint64_t base)
{
	uint64_t n = 0, since = t_now_ms(), end = since + 30000;

	for (;;) {
		uint64_t now = reads_ok(fs) - base;

		if (now != n) {
			n = now;
			since = t_now_ms();
		} else if (n >= QUEUE_MAX / READ_LEN && t_now_ms() - since >= GONE_IDLE_MS) {
			return n;
		}
		if (t_now_ms() > end)
			T_FAIL("the daemon answered %" PRIu64 " of %d READs in 30 s", n, PIPELINE);
		usleep(20 * 1000);
	}
}

struct held {
	const char *sock;
	uint64_t ino;
	int ready[2];
};

/* held_child - map @h->ino, pipeline the READs, say so, and never read again. */
static int held_child(void *arg)
{
	struct held *h = arg;
	struct raw_pkt *pkt = malloc(sizeof(*pkt));
	uint8_t *msg = malloc(WIRE_MSG_MAX);
	struct raw r;

	T_ASSERT(pkt && msg);
	raw_hello(&r, h->sock);
	T_OK(raw_send(r.fd, msg, raw_msg_map(msg, 1, h->ino, 0, 4096, WIRE_MAP_READ), NULL, 0));
	raw_expect_reply(r.fd, pkt, WIRE_MAP, 1, 0);
	send_reads(r.fd, msg, h->ino, 2);
	T_ASSERT(write(h->ready[1], "x", 1) == 1);
	for (;;)
		pause();
}

static void test_backpressure_gone(void)
{
	static const char *const opts[] = {"--map-users", "root", "--lease-break-timeout", "300",
					   NULL};
	uint8_t *data = malloc(READ_LEN), *msg = malloc(WIRE_MSG_MAX);
	struct held h = {0};
	struct daxfs_stat st;
	struct t_daemon g;
	struct daxfs *fs;
	int fds0, status;
	uint64_t n;
	pid_t pid;
	char c;

	T_ASSERT(data && msg);
	memset(&g, 0, sizeof(g));
	t_daemon_start(&g, d.region, "gone", opts);
	memset(data, 'g', READ_LEN);
	T_OK(daxfs_open(&fs, g.sock));
	T_OK(daxfs_create(fs, "/gone", 0644, 0, &st));
	T_ASSERT(daxfs_pwrite(fs, st.ino, data, READ_LEN, 0) == (ssize_t)READ_LEN);
	fds0 = t_daemon_settle_fds(&g);

	/* (a) It closes. */
	for (int round = 0; round < GONE_ROUNDS; round++) {
		uint64_t base = reads_ok(fs);
		struct raw r;

		raw_hello(&r, g.sock);
		send_reads(r.fd, msg, st.ino, 1);
		n = wait_held(fs, base);
		raw_close(&r);
		/* Its socket and pidfd go with the session. */
		t_daemon_wait_fds(&g, fds0, 10000);
		printf("backpressure gone: %" PRIu64 " of %d READs answered, then closed: the "
		       "session ended\n",
		       n, PIPELINE);
	}

	/* (b) The daemon drops it. */
	h.sock = g.sock;
	h.ino = st.ino;
	T_OK(pipe(h.ready));
	n = reads_ok(fs);
	pid = t_fork_as(0, held_child, &h);
	T_ASSERT(read(h.ready[0], &c, 1) == 1);
	n = wait_held(fs, n);
	/*
	 * Its lease break times out: the truncate goes on, the client is dropped. Its socket
	 * closes; its pidfd stays while its grant holds the blocks, until the process exits.
	 */
	T_OK(daxfs_truncate(fs, "/gone", 0));
	t_daemon_wait_fds(&g, fds0 + 1, 10000);
	T_ASSERT(t_daemon_log_has(&g, "did not acknowledge a lease break"));
	kill(pid, SIGKILL);
	T_ASSERT(waitpid(pid, &status, 0) == pid);
	t_daemon_wait_fds(&g, fds0, 10000);
	printf("backpressure gone: %" PRIu64 " of %d READs answered, then dropped: socket "
	       "closed, pidfd kept until the process was killed\n",
	       n, PIPELINE);

	close(h.ready[0]);
	close(h.ready[1]);
	T_OK(daxfs_unlink(fs, "/gone"));
	daxfs_close(fs);
	t_daemon_stop(&g);
	t_daemon_forget(&g);
	free(data);
	free(msg);
	printf("backpressure gone: ok\n");
}

int main(int argc, char **argv)
{
	struct daxfs *fs;

	t_tools_init(&argc, argv);
	t_require_root("it connects as uid 65534 and other uids");
	t_watchdog(280, "test-daemon-limits");
	t_open_scratch_to_all();
	t_region_new(t_path("region"), "256M");
	t_daemon_start(&d, t_path("region"), "daxfsd", NULL);
	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_mkdir(fs, "/shared", 01777, NULL));
	daxfs_close(fs);

	test_flood();
	test_hello_timeout();
	t_daemon_check_alive(&d);
	t_daemon_stop(&d);
	test_admin_reserve();
	test_backpressure();
	test_backpressure_gone();
	printf("ok\n");
	return 0;
}
