// SPDX-License-Identifier: MIT
/*
 * test-daemon-clients - many clients at once, and clients that vanish mid-request.
 *
 * 16 threads, each with its own libdaxfs session, create, write, read back, overwrite,
 * truncate, list and delete their own files (small inline I/O up to multi-MiB transfers
 * through the shared buffer) and read a shared file, for a few seconds, checking every
 * result against a model. Meanwhile the main thread keeps hurting the daemon: raw clients
 * that send a 4 MiB WRITE or READ through the shared buffer, an inline WRITE, or 64
 * pipelined READs and close before any reply, and processes killed with SIGKILL in the
 * middle of a 64 MiB daxfs_pwrite. The daemon must stay up, every client's results must
 * be right, a killed writer's file holds whole requests of its data, and the daemon's fd
 * count comes back to what it was.
 *
 * Usage: test-daemon-clients --daxfsd=PATH --cli=PATH [seed]
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "rawclient.h"
#include "testutil.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define CLIENTS 16
#define RUN_MS 4000
#define FILES 6
#define FILE_MAX (8 * MiB) /* the files grow no larger */
#define SHARED_SIZE (MiB + 17)
#define KILL_SIZE (64 * MiB)
#define KILLS 3

static struct t_daemon d;
static uint64_t rng;
static uint8_t *shared;
static uint64_t shared_ino, victim_ino;
static volatile int stop;

/* pattern - the byte a killed writer puts at offset @i. */
static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 7 + (i >> 12) * 13 + 1);
}

static void fill(uint64_t *state, uint8_t *p, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t v = t_rand(state);

		memcpy(p + i, &v, 8);
	}
	for (; i < len; i++)
		p[i] = (uint8_t)t_rand(state);
}

/* --- the 16 well-behaved clients --- */

struct file {
	bool exists;
	uint64_t ino;
	size_t size, cap;
	uint8_t *data;
};

struct client {
	pthread_t thread;
	int idx;
	uint64_t rng;
	struct daxfs *fs;
	char dir[32];
	struct file f[FILES];
	uint8_t *buf; /* FILE_MAX + 16 KiB */
	unsigned ops, shared_reads;
	uint64_t bytes;
};

static uint64_t crnd(struct client *c, uint64_t n)
{
	return t_rand(&c->rng) % n;
}

static size_t pick_size(struct client *c)
{
	uint64_t r = crnd(c, 100);

	if (r < 60)
		return (size_t)crnd(c, 4 * KiB) + 1;
	if (r < 95)
		return (size_t)crnd(c, 200 * KiB) + 1;
	return (size_t)crnd(c, 5 * MiB) + 1;
}

static void path_of(struct client *c, int j, char *out)
{
	snprintf(out, 64, "%s/f%d", c->dir, j);
}

static void grow(struct file *f, size_t size)
{
	if (size > f->cap) {
		f->data = realloc(f->data, size);
		T_ASSERT(f->data);
		f->cap = size;
	}
	if (size > f->size)
		memset(f->data + f->size, 0, size - f->size);
	f->size = size;
}

/* check_file - the whole file reads back as the model says. */
static void check_file(struct client *c, int j)
{
	struct file *f = &c->f[j];
	struct daxfs_stat st;
	ssize_t n;

	T_OK(daxfs_getattr(c->fs, f->ino, &st));
	if (st.size != f->size)
		T_FAIL("client %d: f%d has %" PRIu64 " bytes, expected %zu", c->idx, j, st.size,
		       f->size);
	n = daxfs_pread(c->fs, f->ino, c->buf, f->size + 100, 0);
	if (n != (ssize_t)f->size || memcmp(c->buf, f->data, f->size) != 0)
		T_FAIL("client %d: f%d reads back wrong (%zd of %zu bytes)", c->idx, j, n, f->size);
	c->bytes += f->size;
}

static int list_cb(void *ctx, const char *name, uint64_t ino, uint32_t mode)
{
	struct client *c = ctx;
	int j;

	if (sscanf(name, "f%d", &j) != 1 || j < 0 || j >= FILES || !c->f[j].exists ||
	    c->f[j].ino != ino || !S_ISREG(mode))
		T_FAIL("client %d: readdir gave %s (ino %" PRIu64 ")", c->idx, name, ino);
	c->f[j].exists = false; /* seen; restored by the caller */
	return 0;
}

static void check_list(struct client *c)
{
	bool had[FILES];

	for (int j = 0; j < FILES; j++)
		had[j] = c->f[j].exists;
	T_OK(daxfs_readdir(c->fs, c->dir, list_cb, c));
	for (int j = 0; j < FILES; j++) {
		if (c->f[j].exists)
			T_FAIL("client %d: readdir missed f%d", c->idx, j);
		c->f[j].exists = had[j];
	}
}

static void one_op(struct client *c)
{
	int j = (int)crnd(c, FILES);
	struct file *f = &c->f[j];
	struct daxfs_stat st;
	char path[64];
	size_t len, off;

	path_of(c, j, path);
	switch (crnd(c, 8)) {
	case 0: /* create (or unlink) */
		if (!f->exists) {
			T_OK(daxfs_create(c->fs, path, 0644, DAXFS_CREATE_EXCL, &st));
			f->exists = true;
			f->ino = st.ino;
			f->size = 0;
			len = pick_size(c);
			grow(f, len);
			fill(&c->rng, f->data, len);
			T_ASSERT(daxfs_pwrite(c->fs, f->ino, f->data, len, 0) == (ssize_t)len);
			check_file(c, j);
			break;
		}
		T_OK(daxfs_unlink(c->fs, path));
		T_ERR(daxfs_stat(c->fs, path, &st), ENOENT);
		T_ERR(daxfs_getattr(c->fs, f->ino, &st), ENOENT);
		f->exists = false;
		break;
	case 1: /* overwrite or extend a part */
	case 2:
		if (!f->exists)
			break;
		len = pick_size(c);
		off = (size_t)crnd(c, f->size + 4096);
		if (off + len > FILE_MAX)
			off = FILE_MAX - len;
		fill(&c->rng, c->buf, len);
		T_ASSERT(daxfs_pwrite(c->fs, f->ino, c->buf, len, off) == (ssize_t)len);
		if (off + len > f->size)
			grow(f, off + len);
		memcpy(f->data + off, c->buf, len);
		T_ASSERT(daxfs_pread(c->fs, f->ino, c->buf, len, off) == (ssize_t)len);
		T_ASSERT(memcmp(c->buf, f->data + off, len) == 0);
		break;
	case 3: /* truncate */
		if (!f->exists)
			break;
		len = (size_t)crnd(c, f->size + 8192 < FILE_MAX ? f->size + 8192 : FILE_MAX);
		T_OK(daxfs_truncate(c->fs, path, len));
		grow(f, len);
		check_file(c, j);
		break;
	case 4:
		if (f->exists)
			check_file(c, j);
		break;
	case 5:
		check_list(c);
		break;
	default: /* the shared file, a random piece of it */
		off = (size_t)crnd(c, SHARED_SIZE);
		len = (size_t)crnd(c, SHARED_SIZE - off) + 1;
		T_ASSERT(daxfs_pread(c->fs, shared_ino, c->buf, len, off) == (ssize_t)len);
		if (memcmp(c->buf, shared + off, len) != 0)
			T_FAIL("client %d: the shared file reads wrong at %zu+%zu", c->idx, off,
			       len);
		c->shared_reads++;
		break;
	}
	c->ops++;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	char path[64];

	c->buf = malloc(FILE_MAX + 16 * KiB);
	T_ASSERT(c->buf);
	T_OK(daxfs_open(&c->fs, d.sock));
	snprintf(c->dir, sizeof(c->dir), "/c%02d", c->idx);
	T_OK(daxfs_mkdir(c->fs, c->dir, 0755, NULL));
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED))
		one_op(c);
	for (int j = 0; j < FILES; j++) {
		if (!c->f[j].exists)
			continue;
		check_file(c, j);
		path_of(c, j, path);
		T_OK(daxfs_unlink(c->fs, path));
	}
	T_OK(daxfs_rmdir(c->fs, c->dir));
	daxfs_close(c->fs);
	for (int j = 0; j < FILES; j++)
		free(c->f[j].data);
	free(c->buf);
	return NULL;
}

/* --- clients that go away before the reply --- */

static void raw_vanish(uint8_t *msg, unsigned kind)
{
	struct raw r;
	size_t len;

	raw_hello(&r, d.sock);
	switch (kind % 4) {
	case 0: /* a 4 MiB WRITE through the shared buffer */
		memset(r.shm, 'v', WIRE_SHM_SIZE);
		len = raw_msg_io(msg, WIRE_WRITE, 1, true, victim_ino, 0, WIRE_SHM_SIZE, NULL);
		T_OK(raw_send(r.fd, msg, len, NULL, 0));
		break;
	case 1: /* a 4 MiB READ through it */
		len = raw_msg_io(msg, WIRE_READ, 1, true, shared_ino, 0, WIRE_SHM_SIZE, NULL);
		T_OK(raw_send(r.fd, msg, len, NULL, 0));
		break;
	case 2: /* the largest inline WRITE */
		memset(r.shm, 'i', WIRE_INLINE_MAX);
		len = raw_msg_io(msg, WIRE_WRITE, 1, false, victim_ino, 4096, WIRE_INLINE_MAX,
				 r.shm);
		T_OK(raw_send(r.fd, msg, len, NULL, 0));
		break;
	default: /* 64 inline READs in flight */
		for (uint64_t id = 1; id <= WIRE_INFLIGHT_MAX; id++) {
			len = raw_msg_io(msg, WIRE_READ, id, false, shared_ino, id * 1000,
					 WIRE_INLINE_MAX, NULL);
			T_OK(raw_send(r.fd, msg, len, NULL, 0));
		}
		break;
	}
	raw_close(&r);
}

/* kill_writer - a process that is SIGKILLed in the middle of a 64 MiB daxfs_pwrite. */
static bool kill_writer(struct daxfs *mon, int n)
{
	char path[64];
	struct daxfs_stat st;
	uint8_t *buf;
	uint64_t end;
	int status;
	pid_t pid;

	snprintf(path, sizeof(path), "/killed-%d", n);
	fflush(NULL);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		/* A fresh process image: this one has threads. */
		execl("/proc/self/exe", "test-daemon-clients", "--writer", d.sock, path,
		      (char *)NULL);
		_exit(127);
	}
	/* Kill it once some of its requests are in and most are still to come. */
	end = t_now_ms() + 60000;
	for (;;) {
		int r = daxfs_stat(mon, path, &st);

		if (r == 0 && st.size >= 8 * MiB)
			break;
		if (r != 0 && r != -ENOENT)
			T_OK(r);
		if (waitpid(pid, &status, WNOHANG) == pid)
			T_FAIL("the writer exited early (status 0x%x)", status);
		if (t_now_ms() > end)
			T_FAIL("the writer did not write 8 MiB in 60 s");
	}
	kill(pid, SIGKILL);
	T_ASSERT(waitpid(pid, &status, 0) == pid);
	T_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	/* What it wrote is whole requests of its data (the last one may land after). */
	usleep(100000);
	T_OK(daxfs_stat(mon, path, &st));
	if (st.size == KILL_SIZE) {
		/* It was done before the kill: not killed in the middle, try again. */
		T_OK(daxfs_unlink(mon, path));
		return false;
	}
	T_ASSERT(st.size % (4 * MiB) == 0 && st.size >= 8 * MiB);
	buf = malloc(st.size);
	T_ASSERT(buf);
	T_ASSERT(daxfs_pread(mon, st.ino, buf, st.size, 0) == (ssize_t)st.size);
	for (uint64_t i = 0; i < st.size; i++) {
		if (buf[i] != pattern(i))
			T_FAIL("%s: byte %" PRIu64 " is 0x%x, not 0x%x", path, i, buf[i],
			       pattern(i));
	}
	free(buf);
	T_OK(daxfs_unlink(mon, path));
	return true;
}

static int writer_main(const char *sock, const char *path)
{
	uint8_t *buf = malloc(KILL_SIZE);
	struct daxfs_stat st;
	struct daxfs *fs;

	T_ASSERT(buf);
	for (uint64_t i = 0; i < KILL_SIZE; i++)
		buf[i] = pattern(i);
	T_OK(daxfs_open(&fs, sock));
	T_OK(daxfs_create(fs, path, 0644, DAXFS_CREATE_EXCL, &st));
	T_ASSERT(daxfs_pwrite(fs, st.ino, buf, KILL_SIZE, 0) == (ssize_t)KILL_SIZE);
	/* Done before the kill came: wait for it. */
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	static struct client clients[CLIENTS];
	struct daxfs_stat st;
	struct daxfs *mon;
	unsigned vanished = 0, killed = 0, tries = 0, ops = 0;
	uint64_t bytes = 0;
	uint8_t *msg, *buf;
	int fds0, fds1;

	if (argc == 4 && strcmp(argv[1], "--writer") == 0)
		return writer_main(argv[2], argv[3]);
	t_tools_init(&argc, argv);
	t_require_root("a new region's root directory is root's 0755");
	rng = t_seed(argc, argv, 1);
	t_watchdog(200, "test-daemon-clients");
	msg = malloc(WIRE_MSG_MAX);
	buf = malloc(SHARED_SIZE);
	shared = malloc(SHARED_SIZE);
	T_ASSERT(msg && buf && shared);
	t_region_new(t_path("region"), "1G");
	t_daemon_start(&d, t_path("region"), "daxfsd", NULL);
	fds0 = t_daemon_settle_fds(&d);

	T_OK(daxfs_open(&mon, d.sock));
	fill(&rng, shared, SHARED_SIZE);
	T_OK(daxfs_create(mon, "/shared", 0644, DAXFS_CREATE_EXCL, &st));
	shared_ino = st.ino;
	T_ASSERT(daxfs_pwrite(mon, shared_ino, shared, SHARED_SIZE, 0) == (ssize_t)SHARED_SIZE);
	T_OK(daxfs_create(mon, "/victim", 0644, DAXFS_CREATE_EXCL, &st));
	victim_ino = st.ino;
	fds1 = t_daemon_settle_fds(&d);
	T_ASSERT(fds1 > fds0);

	for (int i = 0; i < CLIENTS; i++) {
		clients[i].idx = i;
		clients[i].rng = t_rand(&rng) | 1;
		T_ASSERT(pthread_create(&clients[i].thread, NULL, client_main, &clients[i]) == 0);
	}
	/* While they run: clients that vanish, writers that are killed. */
	{
		uint64_t end = t_now_ms() + RUN_MS;

		while (t_now_ms() < end || killed < KILLS) {
			if (killed < KILLS && vanished % 8 == 7) {
				T_ASSERT(++tries <= 10 * KILLS);
				killed += kill_writer(mon, (int)tries);
			}
			raw_vanish(msg, vanished++);
			T_ASSERT(daxfs_pread(mon, shared_ino, buf, SHARED_SIZE, 0) ==
				 (ssize_t)SHARED_SIZE);
			T_ASSERT(memcmp(buf, shared, SHARED_SIZE) == 0);
			t_daemon_check_alive(&d);
		}
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < CLIENTS; i++) {
		T_ASSERT(pthread_join(clients[i].thread, NULL) == 0);
		T_ASSERT(clients[i].ops > 20 && clients[i].shared_reads > 0);
		ops += clients[i].ops;
		bytes += clients[i].bytes;
	}

	/* Everyone who left is gone from the daemon; the monitor still works. */
	t_daemon_check_alive(&d);
	t_daemon_wait_fds(&d, fds1, 10000);
	T_ASSERT(daxfs_pread(mon, shared_ino, buf, SHARED_SIZE, 0) == (ssize_t)SHARED_SIZE);
	T_ASSERT(memcmp(buf, shared, SHARED_SIZE) == 0);
	for (int i = 0; i < CLIENTS; i++) {
		char dir[16];

		snprintf(dir, sizeof(dir), "/c%02d", i);
		T_ERR(daxfs_stat(mon, dir, &st), ENOENT);
	}
	daxfs_close(mon);
	t_daemon_wait_fds(&d, fds0, 10000);
	t_daemon_stop(&d);
	printf("ok: %u operations by %d clients (%" PRIu64 " MiB checked), %u vanished, "
	       "%u killed writers (%u tries)\n",
	       ops, CLIENTS, bytes / MiB, vanished, killed, tries);
	free(msg);
	free(buf);
	free(shared);
	return 0;
}
