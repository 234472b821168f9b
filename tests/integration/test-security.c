// SPDX-License-Identifier: MIT
/*
 * test-security - what one local user can do to another's files (issue 12).
 *
 * 1. No bypass by inode number: user 1000 keeps files (mode 0644) in a 0700 directory.
 *    nobody, trusted to map, tries getattr, read, write, truncate, fallocate, extents and
 *    map on every inode number from 1 to 10,000: none of the private ones is reachable.
 *    The owner, once it looked the paths up, can; root can by number at once.
 * 2. Sticky directory race: in /tmp (01777), root swaps the names "t" and "u" of nobody's
 *    file and user 1000's file (DAXFS_RENAME_EXCHANGE) as fast as it can, while nobody tries to
 *    unlink "t" and to rename a file of its own over "t", 10,000 times. nobody only ever
 *    removes or replaces its own file: user 1000's file is there at the end, whole.
 * 3. Full region: nobody fills the metadata log with empty files, then the blocks with
 *    data. Root can still mkdir, create and write (the reserve, reserve_percent 5), and
 *    poison injected then is recorded, reported by badblocks, and survives a restart.
 *
 * Runs as root (skips otherwise). Usage: test-security --daxfsd=PATH --cli=PATH
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "testutil.h"

#define NOBODY 65534
#define OWNER 1000
#define SWEEP_MAX 10000
#define STICKY_ROUNDS 10000

static struct t_daemon d;

/* --- 1. inode numbers --- */

static uint64_t private_inos[8];
static unsigned nprivate;

static bool is_private(uint64_t ino)
{
	for (unsigned i = 0; i < nprivate; i++)
		if (private_inos[i] == ino)
			return true;
	return false;
}

/* reach - every request by number on @ino: how many succeeded. */
static unsigned reach(struct daxfs *fs, uint64_t ino)
{
	struct daxfs_stat st, to = {.size = 0};
	struct daxfs_extent *ext = NULL;
	struct daxfs_map *m = NULL;
	uint8_t buf[64];
	unsigned ok = 0;
	size_t n;

	ok += daxfs_getattr(fs, ino, &st) == 0;
	ok += daxfs_pread(fs, ino, buf, sizeof(buf), 0) >= 0;
	ok += daxfs_pwrite(fs, ino, "x", 1, 0) >= 0;
	ok += daxfs_setattr(fs, ino, DAXFS_SET_SIZE, &to, NULL) == 0;
	ok += daxfs_fallocate(fs, ino, 0, 0, 4096) == 0;
	if (daxfs_extents(fs, ino, &ext, &n) == 0) {
		ok++;
		free(ext);
	}
	if (daxfs_map_new(fs, ino, 0, 4096, DAXFS_MAP_READ, &m) == 0) {
		ok++;
		daxfs_map_delete(&m);
	}
	return ok;
}

static int nobody_sweep(void *arg)
{
	struct daxfs *fs;
	unsigned tried = 0;

	(void)arg;
	T_OK(daxfs_open(&fs, d.sock));
	/* What nobody may reach by path it reaches; the private files it never can. */
	for (uint64_t ino = 1; ino <= SWEEP_MAX; ino++) {
		if (!is_private(ino))
			continue;
		if (reach(fs, ino))
			T_FAIL("nobody reached private inode %" PRIu64 " by its number", ino);
		tried++;
	}
	/* Every other number too: none of them is private, and nothing it does there helps. */
	for (uint64_t ino = 1; ino <= SWEEP_MAX; ino++) {
		struct daxfs_stat st;

		if (daxfs_getattr(fs, ino, &st) == 0 && is_private(ino))
			T_FAIL("nobody got the attributes of private inode %" PRIu64, ino);
	}
	/* Looking the path up does not help either: the directory is 0700. */
	T_ERR(daxfs_stat(fs, "/home/secret", &(struct daxfs_stat){0}), EACCES);
	T_ASSERT(tried == nprivate);
	daxfs_close(fs);
	return 0;
}

static int owner_reach(void *arg)
{
	struct daxfs_stat st;
	struct daxfs *fs;

	(void)arg;
	T_OK(daxfs_open(&fs, d.sock));
	/* By number without a lookup: stale. */
	T_ERR(daxfs_getattr(fs, private_inos[0], &st), ESTALE);
	T_OK(daxfs_stat(fs, "/home/secret", &st));
	T_ASSERT(st.ino == private_inos[0]);
	T_ASSERT(reach(fs, st.ino) == 7);
	daxfs_close(fs);
	return 0;
}

static void test_sweep(struct daxfs *fs)
{
	struct daxfs_stat st, to = {.uid = OWNER, .gid = OWNER};
	static const struct {
		const char *path;
		bool dir;
	} inside[] = {
		{"/home/secret", false},
		{"/home/sub", true},
		{"/home/sub/deeper", false},
		{"/home/big", false},
	};

	T_OK(daxfs_mkdir(fs, "/home", 0700, &st));
	T_OK(daxfs_setattr(fs, st.ino, DAXFS_SET_UID | DAXFS_SET_GID, &to, NULL));
	for (size_t i = 0; i < sizeof(inside) / sizeof(inside[0]); i++) {
		if (inside[i].dir) {
			T_OK(daxfs_mkdir(fs, inside[i].path, 0755, &st));
		} else {
			T_OK(daxfs_create(fs, inside[i].path, 0644, DAXFS_CREATE_EXCL, &st));
			T_ASSERT(daxfs_pwrite(fs, st.ino, "private data", 12, 0) == 12);
		}
		T_OK(daxfs_setattr(fs, st.ino, DAXFS_SET_UID | DAXFS_SET_GID, &to, NULL));
		private_inos[nprivate++] = st.ino;
	}
	/* Files nobody may reach, so the sweep passes many numbers that exist. */
	for (int i = 0; i < 50; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/pub%d", i);
		T_OK(daxfs_create(fs, p, 0644, DAXFS_CREATE_EXCL, NULL));
	}
	t_wait_child(t_fork_as(NOBODY, nobody_sweep, NULL), 120000, "nobody's sweep");
	t_wait_child(t_fork_as(OWNER, owner_reach, NULL), 60000, "the owner");
	/* Root, by number, without a lookup. */
	{
		struct daxfs *root;

		T_OK(daxfs_open(&root, d.sock));
		T_ASSERT(reach(root, private_inos[3]) == 7);
		daxfs_close(root);
	}
	printf("ok no private inode is reachable by number for nobody (1..%d); the owner and root "
	       "reach them\n",
	       SWEEP_MAX);
}

/* --- 2. the sticky race --- */

static volatile bool sticky_done;

static int nobody_sticky(void *arg)
{
	uint64_t mine_removed = 0, replaced = 0, refused = 0;
	struct daxfs_stat st;
	struct daxfs *fs;

	(void)arg;
	T_OK(daxfs_open(&fs, d.sock));
	for (int i = 0; i < STICKY_ROUNDS; i++) {
		int rc;

		if (i % 2) {
			rc = daxfs_unlink(fs, "/tmp/t");
			if (rc == 0) {
				mine_removed++;
				/* Its own file again, under its own name. */
				T_OK(daxfs_create(fs, "/tmp/mine", 0644, DAXFS_CREATE_EXCL, &st));
				T_ASSERT(daxfs_pwrite(fs, st.ino, "nobody", 6, 0) == 6);
				T_OK(daxfs_rename(fs, "/tmp/mine", "/tmp/t", DAXFS_RENAME_NOREPLACE) == 0
					     ? 0
					     : daxfs_unlink(fs, "/tmp/mine"));
			}
		} else {
			T_OK(daxfs_create(fs, "/tmp/mine2", 0644, DAXFS_CREATE_EXCL, &st));
			T_ASSERT(daxfs_pwrite(fs, st.ino, "nobody", 6, 0) == 6);
			rc = daxfs_rename(fs, "/tmp/mine2", "/tmp/t", 0);
			if (rc == 0)
				replaced++;
			else
				T_OK(daxfs_unlink(fs, "/tmp/mine2"));
		}
		if (rc == -EPERM)
			refused++;
		else if (rc && rc != -ENOENT)
			T_FAIL("round %d: %s", i, strerror(-rc));
	}
	printf("ok nobody: %" PRIu64 " own files removed, %" PRIu64 " replaced, %" PRIu64
	       " refused (EPERM)\n",
	       mine_removed, replaced, refused);
	daxfs_close(fs);
	return 0;
}

static void *swapper(void *arg)
{
	struct daxfs *fs;
	unsigned swaps = 0;

	(void)arg;
	T_OK(daxfs_open(&fs, d.sock));
	while (!__atomic_load_n(&sticky_done, __ATOMIC_ACQUIRE)) {
		int rc = daxfs_rename(fs, "/tmp/t", "/tmp/u", DAXFS_RENAME_EXCHANGE);

		if (rc && rc != -ENOENT)
			T_FAIL("exchange: %s", strerror(-rc));
		swaps += rc == 0;
	}
	printf("ok root swapped the names %u times meanwhile\n", swaps);
	daxfs_close(fs);
	return NULL;
}

static void test_sticky(struct daxfs *fs)
{
	struct daxfs_stat st, to = {.uid = OWNER, .gid = OWNER}, ns_to = {.uid = NOBODY,
									.gid = NOBODY};
	uint64_t victim;
	pthread_t t;
	pid_t child;
	char buf[32];

	T_OK(daxfs_mkdir(fs, "/tmp", 01777, &st));
	T_OK(daxfs_create(fs, "/tmp/u", 0644, DAXFS_CREATE_EXCL, &st));
	T_ASSERT(daxfs_pwrite(fs, st.ino, "the victim's data", 17, 0) == 17);
	T_OK(daxfs_setattr(fs, st.ino, DAXFS_SET_UID | DAXFS_SET_GID, &to, NULL));
	victim = st.ino;
	T_OK(daxfs_create(fs, "/tmp/t", 0644, DAXFS_CREATE_EXCL, &st));
	T_OK(daxfs_setattr(fs, st.ino, DAXFS_SET_UID | DAXFS_SET_GID, &ns_to, NULL));
	/*
	 * Fork before the swapper thread exists: a child forked while it runs would inherit its
	 * session without the thread, and LeakSanitizer in the child would call that a leak.
	 */
	child = t_fork_as(NOBODY, nobody_sticky, NULL);
	T_ASSERT(pthread_create(&t, NULL, swapper, NULL) == 0);
	t_wait_child(child, 300000, "nobody in /tmp");
	__atomic_store_n(&sticky_done, true, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	/* The victim's file: under one of the two names, with its data. */
	if (daxfs_stat(fs, "/tmp/u", &st) || st.ino != victim)
		T_OK(daxfs_stat(fs, "/tmp/t", &st));
	T_ASSERT(st.ino == victim && st.uid == OWNER && st.size == 17);
	T_ASSERT(daxfs_pread(fs, victim, buf, sizeof(buf), 0) == 17);
	T_ASSERT(memcmp(buf, "the victim's data", 17) == 0);
	printf("ok in a sticky directory nobody never removed or replaced user %d's file in %d "
	       "rounds\n",
	       OWNER, STICKY_ROUNDS);
}

/* --- 3. a full region --- */

static int nobody_fill(void *arg)
{
	struct daxfs_statfs sf;
	struct daxfs *fs;
	char path[64];
	int rc = 0, n;

	(void)arg;
	T_OK(daxfs_open(&fs, d.sock));
	/* The log first: empty files until it is full for nobody. */
	for (n = 0; n < 1000000; n++) {
		snprintf(path, sizeof(path), "/fill/f%d", n);
		rc = daxfs_create(fs, path, 0644, DAXFS_CREATE_EXCL, NULL);
		if (rc)
			break;
	}
	T_ERR(rc, ENOSPC);
	T_OK(daxfs_statfs(fs, &sf));
	printf("ok nobody made %d files before the log was full for it (%" PRIu64 " of %" PRIu64
	       " bytes used, %" PRIu64 " reserved)\n",
	       n, sf.log_used, sf.log_len, sf.log_reserved);
	/* Make room for the names and extents of the data files, then the blocks. */
	for (int i = 0; i < 2000; i++) {
		snprintf(path, sizeof(path), "/fill/f%d", i);
		T_OK(daxfs_unlink(fs, path));
	}
	n = t_fill_region(fs, "fill/data", 0x5a);
	T_OK(daxfs_statfs(fs, &sf));
	T_ASSERT(sf.blocks_reserved > 0 && sf.blocks_free == sf.blocks_reserved);
	printf("ok nobody filled the blocks (%d files): %" PRIu64 " free, all reserved\n", n,
	       sf.blocks_free);
	daxfs_close(fs);
	return 0;
}

static void check_poison(struct daxfs *fs, uint64_t off)
{
	struct daxfs_badblock *bb;
	size_t n;
	bool seen = false;

	T_OK(daxfs_badblocks(fs, &bb, &n));
	for (size_t i = 0; i < n; i++)
		seen |= bb[i].region_off <= off && off < bb[i].region_off + bb[i].len;
	free(bb);
	T_ASSERT(seen);
}

static void test_full(void)
{
	static const char *const opts[] = {"--fault-injection", "--map-users", "root", NULL};
	struct daxfs_extent *ext;
	struct daxfs_stat st;
	struct daxfs *fs;
	uint8_t page[4096];
	uint64_t off;
	size_t n;

	t_region_new(t_path("full.img"), "64M");
	t_daemon_start(&d, t_path("full.img"), "full", opts);
	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_mkdir(fs, "/fill", 0777, &st));
	daxfs_close(fs);
	t_wait_child(t_fork_as(NOBODY, nobody_fill, NULL), 300000, "nobody filling the region");
	T_OK(daxfs_open(&fs, d.sock));
	/* Root still can. */
	T_OK(daxfs_mkdir(fs, "/root-dir", 0700, NULL));
	T_OK(daxfs_create(fs, "/root-dir/f", 0600, DAXFS_CREATE_EXCL, &st));
	memset(page, 0xc3, sizeof(page));
	T_ASSERT(daxfs_pwrite(fs, st.ino, page, sizeof(page), 0) == sizeof(page));
	/* Poison under root's new file is recorded even now. */
	T_OK(daxfs_extents(fs, st.ino, &ext, &n));
	T_ASSERT(n == 1);
	off = ext[0].region_off;
	free(ext);
	T_OK(daxfs_inject(fs, DAXFS_INJECT_POISON, NULL, off, 4096, NULL));
	check_poison(fs, off);
	daxfs_close(fs);
	t_daemon_restart(&d, NULL);
	T_OK(daxfs_open(&fs, d.sock));
	check_poison(fs, off);
	T_ERR(daxfs_pread(fs, st.ino, page, sizeof(page), 0), EIO);
	daxfs_close(fs);
	t_daemon_stop(&d);
	t_check_clean(t_path("full.img"));
	printf("ok root writes in a region nobody filled; poison then is recorded and stays\n");
}

int main(int argc, char **argv)
{
	static const char *const opts[] = {"--map-users", "root,nobody,1000", NULL};
	struct daxfs *fs;

	t_tools_init(&argc, argv);
	t_require_root("it drops to other users (setuid) to act as them");
	t_watchdog(600, "test-security");
	t_open_scratch_to_all();
	t_region_new(t_path("region.img"), "256M");
	t_daemon_start(&d, t_path("region.img"), "daxfsd", opts);
	T_OK(daxfs_open(&fs, d.sock));
	test_sweep(fs);
	test_sticky(fs);
	daxfs_close(fs);
	t_daemon_stop(&d);
	t_check_clean(d.region);
	t_daemon_forget(&d);
	test_full();
	return 0;
}
