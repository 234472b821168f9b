// SPDX-License-Identifier: MIT
/*
 * test-daemon-sigbus - SIGBUS through a real daxfsd (--map-users root), DESIGN §5 and §7.
 *
 * 1. Client reports (libdaxfs's optional handler, daxfs_sigbus_install): client A maps a
 *    file and installs the handler; client B maps the same file. The page's block gets a
 *    media error nobody has noticed (inject media: the daemon's SIGBUS-safe reads fault
 *    there) and A sends itself SIGBUS BUS_MCEERR_AR at an address in its view
 *    (rt_tgsigqueueinfo: this kernel cannot poison memory): A's function is called with
 *    the page's file range and jumps out; the daemon reads the page, it faults, so it
 *    quarantines the block (statfs), both mappers get POISON for that page, which is then
 *    PROT_NONE in both views; copy reads of the page get EIO, the other pages read back.
 * 2. Untrusted reports (a raw client): a report for a grant the session does not hold, and
 *    one outside (or larger than a huge page of) a grant it holds, get an error reply and
 *    change nothing, with one "refused" log line; a report inside its grant on a block
 *    that faults when read is taken without a reply and quarantines it; one on a healthy
 *    block is taken without a reply and changes nothing ("not confirmed" in the log).
 * 2b. Read-only reports: nobody, trusted to map read-only (nobody:ro), maps the file and
 *    reports healthy pages: nothing is quarantined, nobody is told POISON, the pages still
 *    read, in copy reads and in the other mappers' views. Its report of a page with an
 *    unnoticed media error is believed (the read faults): evidence works for it too.
 * 3. A rw-trusted client truncates the emulated region through the fd MAP gave it (DESIGN
 *    §7): the next copy read (or, on a second daemon, a metadata change) fails with EIO
 *    instead of crashing the daemon; every request after it fails with EIO; the daemon logs
 *    one line saying why, and exits cleanly on SIGTERM.
 *
 * Usage: test-daemon-sigbus --daxfsd=PATH --cli=PATH [seed]
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "rawclient.h"
#include "testutil.h"

#define PAGE 4096u
#define FILE_PAGES 16
#define BAD_PAGE 5

static struct t_daemon d, dt[2]; /* dt: the daemons whose region is truncated */

#define NOBODY 65534

static void fill_pat(uint8_t *buf, size_t len, unsigned tag)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 13 + i / PAGE + tag);
}

static uint64_t quarantined(struct daxfs *fs)
{
	struct daxfs_statfs st;

	T_OK(daxfs_statfs(fs, &st));
	return st.blocks_quarantined;
}

/* wait_quarantined - statfs reaches @want within 10 s. */
static void wait_quarantined(struct daxfs *fs, uint64_t want)
{
	uint64_t until = t_now_ms() + 10000, q;

	while ((q = quarantined(fs)) < want && t_now_ms() < until)
		usleep(5000);
	if (q != want)
		T_FAIL("%" PRIu64 " blocks quarantined, expected %" PRIu64, q, want);
}

/* --- events --- */

struct rec {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int n;
	struct daxfs_event ev;
};

static struct rec rec_a = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}};
static struct rec rec_b = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}};
static struct rec rec_w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}};

static void on_event(void *ctx, const struct daxfs_event *ev)
{
	struct rec *r = ctx;

	pthread_mutex_lock(&r->lock);
	r->ev = *ev;
	r->n++;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static struct daxfs_event wait_event(struct rec *r, const char *who)
{
	struct timespec ts;
	struct daxfs_event ev;

	ts = t_deadline_s(10);
	pthread_mutex_lock(&r->lock);
	while (r->n < 1) {
		if (t_cond_wait_s(&r->cond, &r->lock, &ts) == ETIMEDOUT)
			T_FAIL("%s: no event within 10 s", who);
	}
	ev = r->ev;
	pthread_mutex_unlock(&r->lock);
	return ev;
}

/* --- the application's SIGBUS function --- */

static sigjmp_buf bus_jmp;
static struct daxfs_sigbus bus_info;
static volatile sig_atomic_t bus_calls;

static void on_sigbus(void *ctx, const struct daxfs_sigbus *info)
{
	(void)ctx;
	bus_info = *info;
	bus_calls++;
	siglongjmp(bus_jmp, 1);
}

/* play_mce - what the kernel sends on a media error under @addr: SIGBUS BUS_MCEERR_AR. */
static void play_mce(void *addr)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	si.si_signo = SIGBUS;
	si.si_code = BUS_MCEERR_AR;
	si.si_addr = addr;
	si.si_addr_lsb = 12;
	T_OK(syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), SIGBUS, &si));
}

/* region_off - the region offset of page @page of file @ino. */
static uint64_t region_off(struct daxfs *fs, uint64_t ino, uint64_t page)
{
	struct daxfs_extent *ext = NULL;
	size_t n = 0;
	uint64_t off = UINT64_MAX;

	T_OK(daxfs_extents(fs, ino, &ext, &n));
	for (size_t i = 0; i < n; i++)
		if (ext[i].file_off <= page * PAGE && page * PAGE < ext[i].file_off + ext[i].len)
			off = ext[i].region_off + page * PAGE - ext[i].file_off;
	free(ext);
	T_ASSERT(off != UINT64_MAX);
	return off;
}

/* media_error - page @page of @ino faults when the daemon reads it; nobody knows yet. */
static void media_error(struct daxfs *fs, uint64_t ino, uint64_t page)
{
	T_OK(daxfs_inject(fs, DAXFS_INJECT_MEDIA, NULL, region_off(fs, ino, page), PAGE, NULL));
}

/* --- 1 and 2 --- */

static void test_reports(void)
{
	uint8_t *pat = malloc(FILE_PAGES * PAGE), *got = malloc(FILE_PAGES * PAGE);
	struct daxfs_map *ma = NULL, *mb = NULL;
	struct daxfs_event ev;
	struct daxfs *a, *b, *c;
	struct daxfs_stat st;
	struct raw_pkt *pkt = malloc(sizeof(*pkt));
	struct raw r;
	uint8_t *va, *vb;
	uint64_t q0, grant, id = 100;
	char perms[5], buf[256];
	size_t len, n;
	char *log;

	T_ASSERT(pat && got && pkt);
	T_OK(daxfs_open(&a, d.sock));
	T_OK(daxfs_open(&b, d.sock));
	T_OK(daxfs_open(&c, d.sock));
	daxfs_set_event_callback(a, on_event, &rec_a);
	daxfs_set_event_callback(b, on_event, &rec_b);
	T_OK(daxfs_event_thread_start(a));
	T_OK(daxfs_event_thread_start(b));
	T_OK(daxfs_sigbus_install(a, on_sigbus, NULL));
	T_OK(daxfs_create(a, "/p", 0644, DAXFS_CREATE_EXCL, &st));
	fill_pat(pat, FILE_PAGES * PAGE, 1);
	T_ASSERT(daxfs_pwrite(a, st.ino, pat, FILE_PAGES * PAGE, 0) == FILE_PAGES * PAGE);
	T_OK(daxfs_map_new(a, st.ino, 0, FILE_PAGES * PAGE, DAXFS_MAP_READ | DAXFS_MAP_WRITE, &ma));
	T_OK(daxfs_map_new(b, st.ino, 0, FILE_PAGES * PAGE, DAXFS_MAP_READ, &mb));
	va = daxfs_map_addr(ma);
	vb = daxfs_map_addr(mb);
	T_ASSERT(memcmp(vb, pat, FILE_PAGES * PAGE) == 0);
	q0 = quarantined(c);

	/* 1. A media error under A's view: A's function runs, the daemon hears of it. */
	media_error(c, st.ino, BAD_PAGE);
	T_ASSERT(quarantined(c) == q0);
	if (sigsetjmp(bus_jmp, 1) == 0) {
		play_mce(va + BAD_PAGE * PAGE + 77);
		T_FAIL("SIGBUS did not reach the application's function");
	}
	T_ASSERT(bus_calls == 1);
	T_ASSERT(bus_info.code == BUS_MCEERR_AR && bus_info.map == ma && bus_info.ino == st.ino);
	T_ASSERT(bus_info.off == BAD_PAGE * PAGE && bus_info.len == PAGE);
	T_ASSERT(bus_info.addr == va + BAD_PAGE * PAGE + 77);
	wait_quarantined(c, q0 + 1);
	/* Both mappers are told, and the page is inaccessible in both views. */
	ev = wait_event(&rec_b, "the second mapper");
	T_ASSERT(ev.type == DAXFS_EVENT_POISON && ev.map == mb && ev.ino == st.ino);
	T_ASSERT(ev.off == BAD_PAGE * PAGE && ev.len == PAGE);
	ev = wait_event(&rec_a, "the reporting mapper");
	T_ASSERT(ev.type == DAXFS_EVENT_POISON && ev.off == BAD_PAGE * PAGE);
	t_perms_at(vb + BAD_PAGE * PAGE, perms);
	T_ASSERT(strncmp(perms, "---", 3) == 0);
	t_perms_at(va + BAD_PAGE * PAGE, perms);
	T_ASSERT(strncmp(perms, "---", 3) == 0);
	t_perms_at(vb + (BAD_PAGE + 1) * PAGE, perms);
	T_ASSERT(perms[0] == 'r');
	/* Copy reads: EIO for that page, a short read up to it, the rest reads back. */
	T_ERR(daxfs_pread(c, st.ino, got, PAGE, BAD_PAGE * PAGE), EIO);
	T_ASSERT(daxfs_pread(c, st.ino, got, FILE_PAGES * PAGE, 0) == BAD_PAGE * PAGE);
	T_ASSERT(memcmp(got, pat, BAD_PAGE * PAGE) == 0);
	len = (FILE_PAGES - BAD_PAGE - 1) * PAGE;
	T_ASSERT(daxfs_pread(c, st.ino, got, len, (BAD_PAGE + 1) * PAGE) == (ssize_t)len);
	T_ASSERT(memcmp(got, pat + (BAD_PAGE + 1) * PAGE, len) == 0);
	T_ASSERT(memcmp(vb, pat, BAD_PAGE * PAGE) == 0);

	/* 2. Reports are only believed for grants the session holds, inside them. */
	raw_hello(&r, d.sock);
	len = raw_msg_poison_report(pkt->buf, ++id, 7, 0, PAGE);
	T_OK(raw_send(r.fd, pkt->buf, len, NULL, 0));
	raw_expect_error(r.fd, WIRE_POISON_REPORT, id, -ENOENT);
	len = raw_msg_map(pkt->buf, ++id, st.ino, 8 * PAGE, 4 * PAGE, WIRE_MAP_READ);
	raw_call(&r, pkt->buf, len, pkt, 0);
	{
		struct wire_map_reply mr;

		memcpy(&mr, (uint8_t *)pkt->buf + sizeof(struct wire_hdr), sizeof(mr));
		grant = mr.grant;
	}
	static const uint64_t outside[][2] = {
		{0, PAGE},		       /* before the grant */
		{7 * PAGE, 2 * PAGE},	       /* starts before it */
		{11 * PAGE, 2 * PAGE},	       /* ends after it */
		{12 * PAGE, PAGE},	       /* after it */
		{8 * PAGE, UINT64_C(4) << 20}, /* more than a huge page */
	};
	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		len = raw_msg_poison_report(pkt->buf, ++id, grant, outside[i][0], outside[i][1]);
		T_OK(raw_send(r.fd, pkt->buf, len, NULL, 0));
		raw_expect_error(r.fd, WIRE_POISON_REPORT, id, -EINVAL);
	}
	/* A's grant id means nothing in another session. */
	len = raw_msg_poison_report(pkt->buf, ++id, grant + 1000, 8 * PAGE, PAGE);
	T_OK(raw_send(r.fd, pkt->buf, len, NULL, 0));
	raw_expect_error(r.fd, WIRE_POISON_REPORT, id, -ENOENT);
	T_ASSERT(quarantined(c) == q0 + 1);
	T_ASSERT(daxfs_pread(c, st.ino, got, PAGE, 9 * PAGE) == PAGE);
	/* One line for all those refusals (rate-limited). */
	log = t_read_file(d.log, &len);
	n = 0;
	for (char *p = log; (p = strstr(p, "refused a poison report")); p++)
		n++;
	free(log);
	T_ASSERT(n == 1);
	/* Inside its grant, on a healthy block: taken (no reply), and nothing changes. */
	len = raw_msg_poison_report(pkt->buf, ++id, grant, 10 * PAGE, PAGE);
	T_OK(raw_send(r.fd, pkt->buf, len, NULL, 0));
	raw_expect_quiet(r.fd, 300);
	T_ASSERT(quarantined(c) == q0 + 1);
	T_ASSERT(daxfs_pread(c, st.ino, got, PAGE, 10 * PAGE) == PAGE);
	T_ASSERT(memcmp(got, pat + 10 * PAGE, PAGE) == 0);
	T_ASSERT(t_daemon_log_has(&d, "not confirmed"));
	/* Inside its grant, on a block that faults when read: quarantined; the reporter hears
	 * POISON, not a reply. */
	media_error(c, st.ino, 9);
	len = raw_msg_poison_report(pkt->buf, ++id, grant, 9 * PAGE + 100, 10);
	T_OK(raw_send(r.fd, pkt->buf, len, NULL, 0));
	T_ASSERT(raw_recv(r.fd, pkt, RAW_TIMEOUT_MS, false) == 1);
	T_ASSERT(pkt->hdr.op == WIRE_EV_POISON);
	{
		struct wire_event we;

		memcpy(&we, (uint8_t *)pkt->buf + sizeof(struct wire_hdr), sizeof(we));
		T_ASSERT(we.grant == grant && we.off == 9 * PAGE && we.len == PAGE);
	}
	raw_expect_quiet(r.fd, 300);
	wait_quarantined(c, q0 + 2);
	T_ERR(daxfs_pread(c, st.ino, got, PAGE, 9 * PAGE), EIO);
	raw_close(&r);

	daxfs_map_delete(&mb);
	daxfs_map_delete(&ma);
	daxfs_close(c);
	daxfs_close(b);
	daxfs_close(a);
	snprintf(buf, sizeof(buf), "client report");
	T_ASSERT(t_daemon_log_has(&d, buf));
	free(pkt);
	free(pat);
	free(got);
	printf("reports: ok\n");
}

/* --- 2b --- */

struct ro_arg {
	uint64_t ino, q0;
	int phase[2];  /* read: the parent says go on; write: the child says done */
	int unused[2]; /* the parent's ends, closed in the child */
};

/* ro_mapper - nobody, trusted to map read-only: its reports are weighed like any other. */
static int ro_mapper(void *arg)
{
	struct ro_arg *a = arg;
	struct raw_pkt *pkt = malloc(sizeof(*pkt));
	struct wire_map_reply mr;
	uint64_t id = 1, grant;
	struct raw r;
	size_t len;
	char c;

	T_ASSERT(pkt);
	close(a->unused[0]);
	close(a->unused[1]);
	raw_hello(&r, d.sock);
	/* An inode number is this session's once a path lookup reached it (else ESTALE). */
	len = raw_msg_path(pkt->buf, WIRE_STAT, id, "/p");
	raw_call(&r, pkt->buf, len, pkt, 0);
	len = raw_msg_map(pkt->buf, ++id, a->ino, 0, FILE_PAGES * PAGE, WIRE_MAP_READ);
	T_OK(raw_send(r.fd, pkt->buf, len, NULL, 0));
	T_ASSERT(raw_recv(r.fd, pkt, RAW_TIMEOUT_MS, true) == 1);
	T_ASSERT(pkt->hdr.op == (WIRE_REPLY | WIRE_MAP) && raw_status(pkt) == 0);
	memcpy(&mr, (uint8_t *)pkt->buf + sizeof(struct wire_hdr), sizeof(mr));
	T_ASSERT(mr.flags == WIRE_MAP_FD_RDONLY && pkt->fd >= 0);
	close(pkt->fd);
	grant = mr.grant;
	/* A write mapping is still out of its reach. */
	len = raw_msg_map(pkt->buf, ++id, a->ino, 0, PAGE, WIRE_MAP_READ | WIRE_MAP_WRITE);
	T_OK(raw_send(r.fd, pkt->buf, len, NULL, 0));
	raw_expect_error(r.fd, WIRE_MAP, id, -EPERM);
	/* Every healthy page of the file, reported: each taken, none believed. */
	for (uint64_t p = 0; p < FILE_PAGES; p++) {
		if (p == BAD_PAGE || p == 9)
			continue;
		len = raw_msg_poison_report(pkt->buf, ++id, grant, p * PAGE, PAGE);
		T_OK(raw_send(r.fd, pkt->buf, len, NULL, 0));
		usleep(70 * 1000); /* under 16 a second */
	}
	/* One worker: when this STATFS is answered, every report before it was weighed. */
	len = raw_msg_statfs(pkt->buf, ++id);
	raw_call(&r, pkt->buf, len, pkt, 0);
	T_ASSERT(write(a->phase[1], "1", 1) == 1);
	/* The parent gave page 12 a media error nobody noticed: now the report is right. */
	T_ASSERT(read(a->phase[0], &c, 1) == 1);
	len = raw_msg_poison_report(pkt->buf, ++id, grant, 12 * PAGE, PAGE);
	T_OK(raw_send(r.fd, pkt->buf, len, NULL, 0));
	T_ASSERT(raw_recv(r.fd, pkt, RAW_TIMEOUT_MS, false) == 1);
	T_ASSERT(pkt->hdr.op == WIRE_EV_POISON);
	raw_close(&r);
	free(pkt);
	return 0;
}

static void test_ro_reports(void)
{
	uint8_t *pat = malloc(FILE_PAGES * PAGE), *got = malloc(FILE_PAGES * PAGE);
	struct daxfs_map *mw = NULL;
	struct daxfs_event ev;
	struct ro_arg a;
	struct daxfs_stat st;
	struct daxfs *fs, *w;
	char perms[5];
	uint8_t *vb;
	pid_t pid;
	int up[2], down[2];
	char c;

	T_ASSERT(pat && got);
	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_open(&w, d.sock));
	daxfs_set_event_callback(w, on_event, &rec_w);
	T_OK(daxfs_event_thread_start(w));
	T_OK(daxfs_stat(fs, "/p", &st));
	fill_pat(pat, FILE_PAGES * PAGE, 1);
	a.ino = st.ino;
	a.q0 = quarantined(fs);
	/* A watcher maps the file: it must hear nothing of the healthy pages. */
	T_OK(daxfs_map_new(w, st.ino, 0, FILE_PAGES * PAGE, DAXFS_MAP_READ, &mw));
	vb = daxfs_map_addr(mw);
	T_OK(pipe(up));
	T_OK(pipe(down));
	a.phase[0] = down[0];
	a.phase[1] = up[1];
	a.unused[0] = up[0];
	a.unused[1] = down[1];
	pid = t_fork_as(NOBODY, ro_mapper, &a);
	T_ASSERT(read(up[0], &c, 1) == 1);
	T_ASSERT(quarantined(fs) == a.q0);
	T_ASSERT(rec_w.n == 0);
	for (uint64_t p = 0; p < FILE_PAGES; p++) {
		if (p == BAD_PAGE || p == 9)
			continue;
		T_ASSERT(daxfs_pread(fs, st.ino, got, PAGE, p * PAGE) == PAGE);
		T_ASSERT(memcmp(got, pat + p * PAGE, PAGE) == 0);
	}
	t_perms_at(vb + 3 * PAGE, perms);
	T_ASSERT(perms[0] == 'r');
	T_ASSERT(memcmp(vb + 3 * PAGE, pat + 3 * PAGE, PAGE) == 0);

	media_error(fs, st.ino, 12);
	T_ASSERT(write(down[1], "2", 1) == 1);
	t_wait_child(pid, 30000, "the read-only mapper");
	wait_quarantined(fs, a.q0 + 1);
	T_ERR(daxfs_pread(fs, st.ino, got, PAGE, 12 * PAGE), EIO);
	ev = wait_event(&rec_w, "the watcher");
	T_ASSERT(ev.type == DAXFS_EVENT_POISON && ev.off == 12 * PAGE && ev.len == PAGE);
	daxfs_map_delete(&mw);
	daxfs_close(w);
	for (int i = 0; i < 2; i++) {
		close(up[i]);
		close(down[i]);
	}
	daxfs_close(fs);
	free(pat);
	free(got);
	printf("read-only reports: ok\n");
}

/* --- 3 --- */

/* region_fd_from_map - a raw rw-trusted session MAPs @ino and keeps the region fd. */
static int region_fd_from_map(struct raw *r, uint64_t ino)
{
	struct raw_pkt *pkt = malloc(sizeof(*pkt));
	size_t len;
	int fd;

	T_ASSERT(pkt);
	len = raw_msg_map(pkt->buf, 1, ino, 0, PAGE, WIRE_MAP_READ | WIRE_MAP_WRITE);
	T_OK(raw_send(r->fd, pkt->buf, len, NULL, 0));
	T_ASSERT(raw_recv(r->fd, pkt, RAW_TIMEOUT_MS, true) == 1);
	T_ASSERT(pkt->hdr.op == (WIRE_REPLY | WIRE_MAP) && raw_status(pkt) == 0);
	fd = pkt->fd;
	T_ASSERT(fd >= 0);
	free(pkt);
	return fd;
}

static void wait_log(const struct t_daemon *td, const char *needle)
{
	uint64_t until = t_now_ms() + 10000;

	while (!t_daemon_log_has(td, needle)) {
		if (t_now_ms() > until)
			T_FAIL("the daemon did not log \"%s\" within 10 s", needle);
		usleep(10000);
	}
}

static void test_truncated(bool metadata_first)
{
	const char *region = t_path(metadata_first ? "trunc2.region" : "trunc1.region");
	static const char *const opts[] = {"--map-users", "root", NULL};
	struct t_daemon *td = &dt[metadata_first];
	uint8_t *buf = malloc(1 << 20);
	struct daxfs_stat st;
	struct daxfs *fs;
	struct raw r;
	char *log, *p;
	size_t len;
	int fd;

	T_ASSERT(buf);
	t_region_new(region, "64M");
	t_daemon_start(td, region, metadata_first ? "trunc2" : "trunc1", opts);
	T_OK(daxfs_open(&fs, td->sock));
	T_OK(daxfs_create(fs, "/f", 0644, DAXFS_CREATE_EXCL, &st));
	fill_pat(buf, 1 << 20, 3);
	T_ASSERT(daxfs_pwrite(fs, st.ino, buf, 1 << 20, 0) == 1 << 20);
	raw_hello(&r, td->sock);
	fd = region_fd_from_map(&r, st.ino);

	/* What DESIGN §7 warns of: the file shrinks to its first block under the daemon. */
	T_OK(ftruncate(fd, PAGE));
	if (metadata_first) {
		/* A log append past the end: survived, the request fails, the region too. */
		T_ERR(daxfs_mkdir(fs, "/d", 0755, NULL), EIO);
		T_ERR(daxfs_pread(fs, st.ino, buf, PAGE, 0), EIO);
	} else {
		/* A copy read past the end: EIO; the region failed with it. */
		T_ERR(daxfs_pread(fs, st.ino, buf, PAGE, 0), EIO);
		T_ERR(daxfs_mkdir(fs, "/d", 0755, NULL), EIO);
	}
	T_ERR(daxfs_pwrite(fs, st.ino, buf, PAGE, 0), EIO);
	T_ERR(daxfs_statfs(fs, &(struct daxfs_statfs){0}), EIO);
	T_ERR(daxfs_stat(fs, "/f", &st), EIO);
	wait_log(td, "no longer serving it");
	t_daemon_check_alive(td);
	/* Exactly one line says why. */
	log = t_read_file(td->log, &len);
	p = strstr(log, "no longer serving it");
	T_ASSERT(p && !strstr(p + 1, "no longer serving it"));
	T_ASSERT(strstr(log, "truncated under the daemon"));
	free(log);
	raw_close(&r);
	close(fd);
	daxfs_close(fs);
	t_daemon_stop(td); /* SIGTERM: exit status 0, no sanitizer report */
	free(buf);
	printf("truncated (%s first): ok\n", metadata_first ? "metadata" : "data");
}

int main(int argc, char **argv)
{
	static const char *const opts[] = {
		"--map-users", "root,nobody:ro", "--fault-injection", "--workers", "1", NULL};

	t_tools_init(&argc, argv);
	t_require_root("--map-users root, and a read-only mapper as uid 65534");
	t_watchdog(200, "test-daemon-sigbus");
	t_open_scratch_to_all();
	t_region_new(t_path("region"), "64M");
	t_daemon_start(&d, t_path("region"), "daxfsd", opts);
	test_reports();
	test_ro_reports();
	t_daemon_check_alive(&d);
	t_daemon_stop(&d);
	test_truncated(false);
	test_truncated(true);
	printf("ok\n");
	return 0;
}
