// SPDX-License-Identifier: MIT
/*
 * test-daemon-perm - POSIX permissions and map trust, as daxfsd enforces them on clients
 * of another user. The test runs as root and forks children that become uid/gid 65534
 * (nobody, no supplementary groups) before they connect: the daemon knows who they are
 * from the socket alone.
 *
 * With --map-users root: nobody cannot read a 0600 root file (EACCES) but reads a 0644
 * one, cannot write it, create or remove names in root's 0755 directories, chmod/chown
 * what it does not own, or map at all (EPERM, while copy I/O of the same file works); in
 * a 01777 directory it creates files it owns and may change, and the sticky bit keeps it
 * from removing root's. With --map-users 65534:ro: it maps for reading (the same bytes),
 * not for writing (EPERM), and not a file it may not read (EACCES).
 *
 * The media requests: every INJECT is refused with EPERM while the daemon runs without
 * --fault-injection, also for root, and changes nothing; with it, root injects and nobody
 * still gets EPERM. SCRUB is root's (EPERM for nobody); BADBLOCKS is everyone's; EXTENTS
 * needs read permission on the file (EACCES on root's 0600 one).
 *
 * Usage: test-daemon-perm --daxfsd=PATH --cli=PATH [seed]
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "rawclient.h"
#include "testutil.h"

#define NOBODY 65534
#define SIZE 65536

static struct t_daemon d;
static uint64_t rng;
static uint8_t data[SIZE];
static uint64_t secret_ino, public_ino, dir_ino;

static int count_cb(void *ctx, const char *name, uint64_t ino, uint32_t mode)
{
	(void)name;
	(void)ino;
	(void)mode;
	(*(int *)ctx)++;
	return 0;
}

/* As nobody, with no map trust. */
static int nobody_untrusted(void *arg)
{
	struct daxfs_stat st, to = {0};
	struct daxfs_map *m = NULL;
	struct daxfs_statfs sf;
	uint8_t buf[SIZE];
	struct daxfs *fs;
	int n = 0;

	(void)arg;
	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_statfs(fs, &sf));
	T_ASSERT(sf.map_trust == 0);

	/* Reading: the mode decides. */
	T_ERR(daxfs_pread(fs, public_ino, buf, sizeof(buf), 0), ESTALE); /* not looked up */
	T_OK(daxfs_stat(fs, "/secret", &st)); /* search on / is enough to stat */
	T_ASSERT(st.ino == secret_ino && st.uid == 0 && (st.mode & 0777) == 0600);
	T_ERR(daxfs_pread(fs, secret_ino, buf, sizeof(buf), 0), EACCES);
	T_OK(daxfs_stat(fs, "/public", &st));
	T_ASSERT(daxfs_pread(fs, public_ino, buf, sizeof(buf), 0) == SIZE);
	T_ASSERT(memcmp(buf, data, SIZE) == 0);
	/* Writing a file it may only read, and everything else that changes it. */
	T_ERR(daxfs_pwrite(fs, public_ino, "x", 1, 0), EACCES);
	T_ERR(daxfs_fallocate(fs, public_ino, 0, 0, 4096), EACCES);
	T_ERR(daxfs_truncate(fs, "/public", 0), EACCES);
	to.mode = 0666;
	T_ERR(daxfs_setattr(fs, public_ino, DAXFS_SET_MODE, &to, NULL), EPERM);
	to.uid = NOBODY;
	T_ERR(daxfs_setattr(fs, public_ino, DAXFS_SET_UID, &to, NULL), EPERM);
	to.atime_ns = to.mtime_ns = 1;
	T_ERR(daxfs_setattr(fs, public_ino, DAXFS_SET_MTIME, &to, NULL), EPERM);
	/* Names in root's 0755 directories. */
	T_ERR(daxfs_mkdir(fs, "/rootdir/x", 0755, NULL), EACCES);
	T_ERR(daxfs_create(fs, "/rootdir/f", 0644, 0, NULL), EACCES);
	T_ERR(daxfs_create(fs, "/newfile", 0644, 0, NULL), EACCES);
	T_ERR(daxfs_unlink(fs, "/public"), EACCES);
	T_ERR(daxfs_rename(fs, "/public", "/public2", 0), EACCES);
	T_ERR(daxfs_rmdir(fs, "/rootdir"), EACCES);
	/* CREATE of an existing file needs no write permission on the directory. */
	T_OK(daxfs_create(fs, "/public", 0644, 0, &st));
	T_ASSERT(st.ino == public_ino);
	/* A directory it may not search (0700) or list. */
	T_ERR(daxfs_stat(fs, "/private/inside", &st), EACCES);
	T_ERR(daxfs_readdir(fs, "/private", count_cb, &n), EACCES);
	T_OK(daxfs_readdir(fs, "/rootdir", count_cb, &n));
	T_ASSERT(n == 1);
	/* GETATTR and FSYNC by inode need nothing. */
	T_OK(daxfs_getattr(fs, secret_ino, &st));
	T_OK(daxfs_fsync(fs, secret_ino));

	/* In a sticky 01777 directory: its own files, not root's. */
	T_OK(daxfs_create(fs, "/tmp/mine", 0600, DAXFS_CREATE_EXCL, &st));
	T_ASSERT(st.uid == NOBODY && st.gid == NOBODY);
	T_ASSERT(daxfs_pwrite(fs, st.ino, "mine", 4, 0) == 4);
	to.mode = 0640;
	T_OK(daxfs_setattr(fs, st.ino, DAXFS_SET_MODE, &to, &st));
	T_ASSERT(st.mode == (S_IFREG | 0640));
	to.uid = 0;
	T_ERR(daxfs_setattr(fs, st.ino, DAXFS_SET_UID, &to, NULL), EPERM);
	to.gid = 0;
	T_ERR(daxfs_setattr(fs, st.ino, DAXFS_SET_GID, &to, NULL), EPERM);
	T_ERR(daxfs_unlink(fs, "/tmp/roots"), EPERM);
	T_ERR(daxfs_rename(fs, "/tmp/roots", "/tmp/stolen", 0), EPERM);
	T_OK(daxfs_rename(fs, "/tmp/mine", "/tmp/mine2", 0));

	/* No map trust: no mapping, but copy I/O of the same file works. */
	T_ERR(daxfs_map_new(fs, public_ino, 0, SIZE, DAXFS_MAP_READ, &m), EPERM);
	T_ERR(daxfs_map_new(fs, public_ino, 0, SIZE, DAXFS_MAP_WRITE, &m), EPERM);
	T_ASSERT(m == NULL);
	T_ASSERT(daxfs_pread(fs, public_ino, buf, sizeof(buf), 0) == SIZE);
	T_ASSERT(memcmp(buf, data, SIZE) == 0);
	daxfs_close(fs);
	return 0;
}

/* As nobody, trusted to map read-only. */
static int nobody_ro(void *arg)
{
	struct daxfs_map *m = NULL;
	struct daxfs_statfs sf;
	struct daxfs_stat st;
	struct daxfs *fs;

	(void)arg;
	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_statfs(fs, &sf));
	T_ASSERT(sf.map_trust == 1);
	T_OK(daxfs_stat(fs, "/public", &st));
	T_OK(daxfs_stat(fs, "/secret", &st));
	T_OK(daxfs_map_new(fs, public_ino, 0, SIZE, DAXFS_MAP_READ, &m));
	T_ASSERT(daxfs_map_len(m) == SIZE);
	T_ASSERT(memcmp(daxfs_map_addr(m), data, SIZE) == 0);
	daxfs_map_delete(&m);
	T_ERR(daxfs_map_new(fs, public_ino, 0, SIZE, DAXFS_MAP_WRITE, &m), EPERM);
	T_ERR(daxfs_map_new(fs, public_ino, 0, SIZE, DAXFS_MAP_READ | DAXFS_MAP_WRITE, &m), EPERM);
	/* Trust is not permission: a file it may not read stays closed. */
	T_ERR(daxfs_map_new(fs, secret_ino, 0, SIZE, DAXFS_MAP_READ, &m), EACCES);
	/* Its own file in /tmp: still read-only mappings only. */
	T_OK(daxfs_create(fs, "/tmp/ro-mine", 0644, DAXFS_CREATE_EXCL, &st));
	T_ERR(daxfs_map_new(fs, st.ino, 0, 4096, DAXFS_MAP_WRITE, &m), EPERM);
	T_ASSERT(m == NULL);
	/* The mapping of the public file again, after the denials. */
	T_OK(daxfs_map_new(fs, public_ino, 4096, 8192, DAXFS_MAP_READ, &m));
	T_ASSERT(memcmp(daxfs_map_addr(m), data + 4096, 8192) == 0);
	daxfs_map_delete(&m);
	daxfs_close(fs);

	/* The region fd it gets cannot write the region, whatever it tries. */
	{
		struct raw_pkt *pkt = malloc(sizeof(*pkt));
		const struct wire_extent *e;
		struct wire_map_reply rep;
		uint8_t msg[128];
		struct raw r;
		void *p;

		T_ASSERT(pkt);
		raw_hello(&r, d.sock);
		T_OK(raw_send(r.fd, msg, raw_msg_path(msg, WIRE_STAT, 3, "/public"), NULL, 0));
		raw_expect_reply(r.fd, pkt, WIRE_STAT, 3, 0);
		T_OK(raw_send(r.fd, msg, raw_msg_map(msg, 1, public_ino, 0, 4096, WIRE_MAP_WRITE),
			      NULL, 0));
		raw_expect_error(r.fd, WIRE_MAP, 1, -EPERM);
		T_OK(raw_send(r.fd, msg, raw_msg_map(msg, 2, public_ino, 0, 4096, WIRE_MAP_READ),
			      NULL, 0));
		T_ASSERT(raw_recv(r.fd, pkt, RAW_TIMEOUT_MS, true) == 1);
		T_ASSERT(pkt->hdr.op == (WIRE_REPLY | WIRE_MAP) && raw_status(pkt) == 0);
		T_ASSERT(pkt->hdr.flags == WIRE_F_FD && pkt->fd >= 0);
		memcpy(&rep, (uint8_t *)pkt->buf + 16, sizeof(rep));
		T_ASSERT(rep.flags == WIRE_MAP_FD_RDONLY && rep.count == 1);
		e = (const struct wire_extent *)((uint8_t *)pkt->buf + 16 + sizeof(rep));
		T_ASSERT((fcntl(pkt->fd, F_GETFL) & O_ACCMODE) == O_RDONLY);
		T_ASSERT(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, pkt->fd,
			      (off_t)e->region_off) == MAP_FAILED &&
			 errno == EACCES);
		T_ASSERT(write(pkt->fd, "x", 1) < 0 && errno == EBADF);
		T_ASSERT(ftruncate(pkt->fd, 0) < 0);
		p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, pkt->fd, (off_t)e->region_off);
		T_ASSERT(p != MAP_FAILED && memcmp(p, data, 4096) == 0);
		munmap(p, 4096);
		close(pkt->fd);
		raw_close(&r);
		free(pkt);
	}
	return 0;
}

/* inject_all - every kind of INJECT; each must fail with -@err. */
static void inject_all(struct daxfs *fs, int err)
{
	T_ERR(daxfs_inject(fs, DAXFS_INJECT_POISON, NULL, 64 << 20, 4096, NULL), err);
	T_ERR(daxfs_inject(fs, DAXFS_INJECT_FAIL, "alloc", 1, EIO, NULL), err);
	T_ERR(daxfs_inject(fs, DAXFS_INJECT_DELAY, "send", 1000, 0, NULL), err);
	T_ERR(daxfs_inject(fs, DAXFS_INJECT_CRASH, "log-append", 0, 0, NULL), err);
	T_ERR(daxfs_inject(fs, DAXFS_INJECT_CRASH, NULL, 1, 0, NULL), err);
	T_ERR(daxfs_inject(fs, DAXFS_INJECT_CLEAR, NULL, 0, 0, NULL), err);
}

/* As nobody: no inject, no scrub; bad blocks yes; extents only of what it may read. */
static int nobody_admin(void *arg)
{
	struct daxfs_stat st;
	struct daxfs_scrub_result res;
	struct daxfs_badblock *bb;
	struct daxfs_extent *ext;
	struct daxfs *fs;
	size_t n;

	(void)arg;
	T_OK(daxfs_open(&fs, d.sock));
	inject_all(fs, EPERM);
	T_ERR(daxfs_scrub(fs, &res), EPERM);
	T_OK(daxfs_badblocks(fs, &bb, &n));
	free(bb);
	/* By number, only what this session looked up: never looked up, they are stale. */
	T_ERR(daxfs_extents(fs, secret_ino, &ext, &n), ESTALE);
	T_ERR(daxfs_extents(fs, public_ino, &ext, &n), ESTALE);
	T_OK(daxfs_stat(fs, "/secret", &st));
	T_OK(daxfs_stat(fs, "/public", &st));
	T_ERR(daxfs_extents(fs, secret_ino, &ext, &n), EACCES);
	T_OK(daxfs_extents(fs, public_ino, &ext, &n));
	T_ASSERT(n >= 1);
	free(ext);
	/* Still working after all of it, nothing changed: */
	T_ASSERT(daxfs_pread(fs, public_ino, (uint8_t[16]){0}, 16, 0) == 16);
	daxfs_close(fs);
	return 0;
}

static void admin_checks(struct daxfs *fs)
{
	struct daxfs_scrub_result res;
	struct daxfs_statfs before, after;
	uint8_t buf[SIZE];

	T_OK(daxfs_statfs(fs, &before));
	inject_all(fs, EPERM); /* the daemon runs without --fault-injection */
	T_OK(daxfs_scrub(fs, &res));
	T_ASSERT(res.blocks_bad == 0 && res.blocks_read >= 2 * SIZE / 4096);
	t_wait_child(t_fork_as(NOBODY, nobody_admin, NULL), 60000, "nobody, admin requests");
	T_OK(daxfs_statfs(fs, &after));
	T_ASSERT(after.blocks_quarantined == before.blocks_quarantined);
	T_ASSERT(daxfs_pread(fs, secret_ino, buf, SIZE, 0) == SIZE);
	T_ASSERT(memcmp(buf, data, SIZE) == 0);
}

/* With --fault-injection: root injects; nobody still may not. */
static void admin_fault_mode(void)
{
	static const char *const opts[] = {"--fault-injection", NULL};
	struct daxfs_extent *ext;
	struct daxfs_statfs sf;
	struct daxfs *fs;
	uint64_t value = 0;
	size_t n;

	t_daemon_restart(&d, opts);
	T_OK(daxfs_open(&fs, d.sock));
	t_wait_child(t_fork_as(NOBODY, nobody_admin, NULL), 60000, "nobody, fault mode");
	T_OK(daxfs_extents(fs, public_ino, &ext, &n));
	T_OK(daxfs_inject(fs, DAXFS_INJECT_POISON, NULL, ext[0].region_off, 4096, &value));
	T_ASSERT(value == 1);
	free(ext);
	T_OK(daxfs_statfs(fs, &sf));
	T_ASSERT(sf.blocks_quarantined == 1);
	T_ERR(daxfs_inject(fs, DAXFS_INJECT_FAIL, "no-such-point", 1, EIO, NULL), ENOENT);
	T_ERR(daxfs_inject(fs, DAXFS_INJECT_FAIL, "data-write", 1, EIO, NULL), EOPNOTSUPP);
	T_ERR(daxfs_inject(fs, DAXFS_INJECT_DELAY, "send", 20 * 1000 * 1000, 0, NULL), EINVAL);
	daxfs_close(fs);
}

/* As root, under --map-users 65534:ro: not trusted at all. */
static void root_untrusted(void)
{
	struct daxfs_map *m = NULL;
	struct daxfs_statfs sf;
	struct daxfs *fs;

	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_statfs(fs, &sf));
	T_ASSERT(sf.map_trust == 0);
	T_ERR(daxfs_map_new(fs, public_ino, 0, SIZE, DAXFS_MAP_READ, &m), EPERM);
	daxfs_close(fs);
}

int main(int argc, char **argv)
{
	static const char *const root_only[] = {"--map-users", "root", NULL};
	static const char *const nobody_ro_opts[] = {"--map-users", "65534:ro", NULL};
	struct daxfs_map *m = NULL;
	struct daxfs_stat st;
	struct daxfs *fs;

	t_tools_init(&argc, argv);
	t_require_root("it becomes uid 65534 in its children");
	rng = t_seed(argc, argv, 1);
	t_watchdog(120, "test-daemon-perm");
	for (size_t i = 0; i < SIZE; i++)
		data[i] = (uint8_t)t_rand(&rng);
	t_open_scratch_to_all();
	t_region_new(t_path("region"), "128M");
	t_daemon_start(&d, t_path("region"), "daxfsd", root_only);

	/* Root's files. */
	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_stat(fs, "/", &st));
	T_ASSERT(st.uid == 0 && (st.mode & 0777) == 0755);
	T_OK(daxfs_create(fs, "/secret", 0600, DAXFS_CREATE_EXCL, &st));
	secret_ino = st.ino;
	T_ASSERT(daxfs_pwrite(fs, secret_ino, data, SIZE, 0) == SIZE);
	T_OK(daxfs_create(fs, "/public", 0644, DAXFS_CREATE_EXCL, &st));
	public_ino = st.ino;
	T_ASSERT(daxfs_pwrite(fs, public_ino, data, SIZE, 0) == SIZE);
	T_OK(daxfs_mkdir(fs, "/rootdir", 0755, &st));
	dir_ino = st.ino;
	T_OK(daxfs_create(fs, "/rootdir/file", 0644, DAXFS_CREATE_EXCL, NULL));
	T_OK(daxfs_mkdir(fs, "/private", 0700, NULL));
	T_OK(daxfs_create(fs, "/private/inside", 0644, DAXFS_CREATE_EXCL, NULL));
	T_OK(daxfs_mkdir(fs, "/tmp", 01777, &st));
	T_ASSERT(st.mode == (S_IFDIR | 01777));
	T_OK(daxfs_create(fs, "/tmp/roots", 0666, DAXFS_CREATE_EXCL, NULL));
	/* Root itself maps: it is trusted. */
	T_OK(daxfs_map_new(fs, public_ino, 0, SIZE, DAXFS_MAP_READ | DAXFS_MAP_WRITE, &m));
	T_ASSERT(memcmp(daxfs_map_addr(m), data, SIZE) == 0);
	daxfs_map_delete(&m);

	admin_checks(fs);
	t_wait_child(t_fork_as(NOBODY, nobody_untrusted, NULL), 60000, "nobody, untrusted");
	/* What nobody did and did not do, as root sees it. */
	T_OK(daxfs_stat(fs, "/tmp/mine2", &st));
	T_ASSERT(st.uid == NOBODY && st.size == 4 && st.mode == (S_IFREG | 0640));
	T_OK(daxfs_stat(fs, "/tmp/roots", &st));
	T_OK(daxfs_stat(fs, "/public", &st));
	T_ASSERT(st.size == SIZE && st.mode == (S_IFREG | 0644) && st.uid == 0);
	daxfs_close(fs);

	t_daemon_restart(&d, nobody_ro_opts);
	t_wait_child(t_fork_as(NOBODY, nobody_ro, NULL), 60000, "nobody, read-only trust");
	root_untrusted();
	admin_fault_mode();
	t_daemon_check_alive(&d);
	t_daemon_stop(&d);
	printf("ok\n");
	return 0;
}
