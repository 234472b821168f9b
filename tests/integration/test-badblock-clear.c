// SPDX-License-Identifier: MIT
/*
 * test-badblock-clear - daxfs badblocks clear through a real daxfsd (--fault-injection,
 * whose injected poison faults the daemon's reads until the media error is cleared).
 *
 * 1. A poisoned free block: cleared, it is free again (statfs), zeroed, and a file that
 *    fills the region takes it and reads back what it wrote.
 * 2. A poisoned page of a file: the clear is refused (EBUSY) and the CLI names the file and
 *    the file offset; once the whole page is rewritten (it moves to a fresh block), the
 *    old block clears.
 * 3. Refusals that change nothing: a block that is not quarantined (ENOENT), a range that
 *    still faults because its media error could not be cleared (inject fail
 *    badblock-clear: EIO), an unaligned range and one in the log area (EINVAL), and
 *    nobody (EPERM, the CLI saying so).
 * 4. Durability: a restart keeps what was cleared cleared and the rest quarantined. A crash
 *    after the checkpoint's snapshot but before its superblock (checkpoint-snapshot)
 *    leaves the block quarantined; a crash after the primary superblock
 *    (checkpoint-super) leaves it cleared. daxfs check is clean every time.
 *
 * Usage: test-badblock-clear --daxfsd=PATH --cli=PATH
 */
#include <inttypes.h>
#include <stdbool.h>
#include <sys/wait.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "testutil.h"

#define PAGE UINT64_C(4096)
#define NOBODY 65534

static struct t_daemon d;
static const char *const opts[] = {"--fault-injection", NULL};

static uint64_t quarantined(struct daxfs *fs)
{
	struct daxfs_statfs st;

	T_OK(daxfs_statfs(fs, &st));
	return st.blocks_quarantined;
}

/* listed - is region offset @off in daxfs_badblocks()? */
static bool listed(struct daxfs *fs, uint64_t off)
{
	struct daxfs_badblock *bb = NULL;
	bool found = false;
	size_t n = 0;

	T_OK(daxfs_badblocks(fs, &bb, &n));
	for (size_t i = 0; i < n; i++)
		found |= bb[i].region_off <= off && off < bb[i].region_off + bb[i].len;
	free(bb);
	return found;
}

/* page_off - the region offset of page @page of @path. */
static uint64_t page_off(struct daxfs *fs, const char *path, uint64_t page)
{
	struct daxfs_extent *ext = NULL;
	struct daxfs_stat st;
	uint64_t off = UINT64_MAX;
	size_t n = 0;

	T_OK(daxfs_stat(fs, path, &st));
	T_OK(daxfs_extents(fs, st.ino, &ext, &n));
	for (size_t i = 0; i < n; i++)
		if (ext[i].file_off <= page * PAGE && page * PAGE < ext[i].file_off + ext[i].len)
			off = ext[i].region_off + page * PAGE - ext[i].file_off;
	free(ext);
	T_ASSERT(off != UINT64_MAX);
	return off;
}

/* free_block - the region offset of a block that is free now: a removed file's. */
static uint64_t free_block(struct daxfs *fs)
{
	static uint8_t buf[PAGE];
	struct daxfs_stat st;
	uint64_t off;

	T_OK(daxfs_create(fs, "/tmpfile", 0644, DAXFS_CREATE_EXCL, &st));
	T_ASSERT(daxfs_pwrite(fs, st.ino, buf, PAGE, 0) == (ssize_t)PAGE);
	off = page_off(fs, "/tmpfile", 0);
	T_OK(daxfs_unlink(fs, "/tmpfile"));
	return off;
}

static uint64_t poison(struct daxfs *fs, uint64_t off)
{
	uint64_t n = 0;

	T_OK(daxfs_inject(fs, DAXFS_INJECT_POISON, NULL, off, PAGE, &n));
	T_ASSERT(n == 1);
	return off;
}

/* --- 1 and 2 --- */

static void test_clear(struct daxfs *fs)
{
	static uint8_t pat[4 * PAGE], got[4 * PAGE];
	struct daxfs_statfs before, after;
	struct daxfs_stat st;
	uint64_t off, q0, n = 0;
	char *out, *err;
	int rc;

	/* 1. A poisoned free block. */
	q0 = quarantined(fs);
	off = free_block(fs);
	/* (statfs counts a block whose free waits for a grace period as free already) */
	T_OK(daxfs_statfs(fs, &before));
	poison(fs, off);
	T_ASSERT(quarantined(fs) == q0 + 1 && listed(fs, off));
	T_OK(daxfs_badblock_clear(fs, off, PAGE, &n));
	T_ASSERT(n == 1);
	T_OK(daxfs_statfs(fs, &after));
	if (after.blocks_quarantined != q0 || after.blocks_free != before.blocks_free)
		T_FAIL("after the clear: %" PRIu64 " quarantined, %" PRIu64 " free; %" PRIu64
		       " free before the poison",
		       after.blocks_quarantined, after.blocks_free, before.blocks_free);
	T_ASSERT(!listed(fs, off));

	/* 2. A poisoned page of a file: refused while the page sits on it. */
	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i * 31 + 5);
	T_OK(daxfs_create(fs, "/victim", 0644, DAXFS_CREATE_EXCL, &st));
	T_ASSERT(daxfs_pwrite(fs, st.ino, pat, sizeof(pat), 0) == (ssize_t)sizeof(pat));
	off = poison(fs, page_off(fs, "/victim", 2));
	T_ERR(daxfs_pread(fs, st.ino, got, PAGE, 2 * PAGE), EIO);
	T_ERR(daxfs_badblock_clear(fs, off, PAGE, NULL), EBUSY);
	T_ASSERT(listed(fs, off));
	{
		char o[32], l[32];

		snprintf(o, sizeof(o), "%" PRIu64, off);
		snprintf(l, sizeof(l), "%" PRIu64, PAGE);
		rc = t_cli(&d, &out, &err, "badblocks", "clear", "--offset", o, "--length", l,
			   NULL);
		T_ASSERT(rc == 1);
		if (!strstr(err, "/victim at file offset 8192"))
			T_FAIL("badblocks clear of a file's page said: %s", err);
		free(out);
		free(err);
	}
	/* The whole page rewritten: it moves to a fresh block; the old one clears. */
	T_ASSERT(daxfs_pwrite(fs, st.ino, pat + 2 * PAGE, PAGE, 2 * PAGE) == (ssize_t)PAGE);
	T_ASSERT(page_off(fs, "/victim", 2) != off);
	T_ASSERT(daxfs_pread(fs, st.ino, got, sizeof(got), 0) == (ssize_t)sizeof(got));
	T_ASSERT(memcmp(got, pat, sizeof(got)) == 0);
	T_OK(daxfs_badblock_clear(fs, off, PAGE, &n));
	T_ASSERT(quarantined(fs) == q0 && !listed(fs, off));
	printf("clear: ok\n");
}

/* --- 3 --- */

static int nobody_clears(void *arg)
{
	const uint64_t *off = arg;
	struct daxfs *fs;

	T_OK(daxfs_open(&fs, d.sock));
	T_ERR(daxfs_badblock_clear(fs, *off, PAGE, NULL), EPERM);
	daxfs_close(fs);
	return 0;
}

static void test_refusals(struct daxfs *fs)
{
	struct daxfs_statfs st;
	uint64_t off, q0 = quarantined(fs), healthy;

	healthy = free_block(fs);
	T_ERR(daxfs_badblock_clear(fs, healthy, PAGE, NULL), ENOENT);
	off = poison(fs, free_block(fs));
	/* Its media error cannot be cleared this time: it still faults, it stays. */
	T_OK(daxfs_inject(fs, DAXFS_INJECT_FAIL, "badblock-clear", 1, EIO, NULL));
	T_ERR(daxfs_badblock_clear(fs, off, PAGE, NULL), EIO);
	T_ASSERT(quarantined(fs) == q0 + 1 && listed(fs, off));
	T_ASSERT(t_daemon_log_has(&d, "still fault"));
	T_ERR(daxfs_badblock_clear(fs, off + 1, PAGE, NULL), EINVAL);
	T_ERR(daxfs_badblock_clear(fs, off, PAGE + 1, NULL), EINVAL);
	T_ERR(daxfs_badblock_clear(fs, 2 << 20, PAGE, NULL), EINVAL); /* the log area */
	t_wait_child(t_fork_as(NOBODY, nobody_clears, &off), 30000, "nobody's clear");
	T_OK(daxfs_statfs(fs, &st));
	T_ASSERT(st.blocks_quarantined == q0 + 1);
	/* The same block, now that the media error goes away: cleared. */
	T_OK(daxfs_badblock_clear(fs, off, PAGE, NULL));
	T_ASSERT(quarantined(fs) == q0);
	printf("refusals: ok\n");
}

/* --- 4 --- */

static void crash_during_clear(const char *point, bool cleared_after)
{
	struct daxfs *fs;
	uint64_t off, q0;
	int status;

	T_OK(daxfs_open(&fs, d.sock));
	q0 = quarantined(fs);
	off = poison(fs, free_block(fs));
	T_OK(daxfs_inject(fs, DAXFS_INJECT_CRASH, point, 0, 0, NULL));
	T_ASSERT(daxfs_badblock_clear(fs, off, PAGE, NULL) < 0);
	daxfs_close(fs);
	status = t_daemon_wait_exit(&d, 30000);
	T_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	t_check_clean(d.region);
	t_daemon_respawn(&d);
	T_OK(daxfs_open(&fs, d.sock));
	if (cleared_after)
		T_ASSERT(quarantined(fs) == q0 && !listed(fs, off));
	else
		T_ASSERT(quarantined(fs) == q0 + 1 && listed(fs, off));
	/* Either way, clearing works now. */
	if (!cleared_after)
		T_OK(daxfs_badblock_clear(fs, off, PAGE, NULL));
	T_ASSERT(quarantined(fs) == q0);
	daxfs_close(fs);
	printf("crash at %s: the block is %s after the restart\n", point,
	       cleared_after ? "cleared" : "still quarantined");
}

static void test_durable(void)
{
	struct daxfs *fs;
	uint64_t kept, gone, q0;

	T_OK(daxfs_open(&fs, d.sock));
	q0 = quarantined(fs);
	kept = poison(fs, free_block(fs));
	gone = poison(fs, free_block(fs));
	T_OK(daxfs_badblock_clear(fs, gone, PAGE, NULL));
	daxfs_close(fs);
	t_daemon_stop(&d);
	t_check_clean(d.region);
	t_daemon_respawn(&d);
	T_OK(daxfs_open(&fs, d.sock));
	T_ASSERT(quarantined(fs) == q0 + 1 && listed(fs, kept) && !listed(fs, gone));
	daxfs_close(fs);
	crash_during_clear("checkpoint-snapshot", false);
	crash_during_clear("checkpoint-super", true);
	printf("durable: ok\n");
}

/* --- 1, the end: the cleared blocks are used again --- */

static void test_reuse(void)
{
	struct daxfs_statfs st;
	struct daxfs *fs;

	static uint8_t buf[1 << 20];
	int nfiles;

	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_unlink(fs, "/victim"));
	nfiles = t_fill_region(fs, "fill", 0x5a);
	T_OK(daxfs_statfs(fs, &st));
	T_ASSERT(st.blocks_free == 0 && st.blocks_quarantined == 1);
	/* Every block but the one still quarantined holds what was written to it. */
	for (int i = 0; i < nfiles; i++) {
		struct daxfs_stat fst;
		char path[32];

		snprintf(path, sizeof(path), "/fill%d", i);
		T_OK(daxfs_stat(fs, path, &fst));
		T_ASSERT(fst.size <= sizeof(buf));
		T_ASSERT(daxfs_pread(fs, fst.ino, buf, fst.size, 0) == (ssize_t)fst.size);
		for (uint64_t k = 0; k < fst.size; k++)
			if (buf[k] != 0x5a)
				T_FAIL("%s byte %" PRIu64 " is %#x", path, k, buf[k]);
	}
	daxfs_close(fs);
	t_daemon_stop(&d);
	t_check_clean(d.region);
	printf("reuse: ok\n");
}

int main(int argc, char **argv)
{
	struct daxfs *fs;

	t_tools_init(&argc, argv);
	t_require_root("it refuses a clear to uid 65534");
	t_watchdog(200, "test-badblock-clear");
	t_open_scratch_to_all();
	t_region_new(t_path("region"), "64M");
	t_daemon_start(&d, t_path("region"), "daxfsd", opts);
	T_OK(daxfs_open(&fs, d.sock));
	test_clear(fs);
	test_refusals(fs);
	daxfs_close(fs);
	test_durable();
	test_reuse();
	printf("ok\n");
	return 0;
}
