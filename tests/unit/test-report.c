// SPDX-License-Identifier: MIT
/*
 * test-report - what an operator asks about the media, and the fault-injection core:
 *
 *   extents    ns_extents lists a file's allocated runs in file order (holes left out, a
 *              2 MiB entry straddling the start clipped), pages through @max, marks a
 *              poisoned page, and refuses directories and unknown inodes
 *   badblocks  poison_list names the file page on a bad block while it is poisoned, loses
 *              the name once the page is rewritten (the block stays listed), lists free and
 *              metadata blocks without a file, pages through @max, and says the same after
 *              a remount (replay rebuilds it)
 *   scrub      reads every block in use on a sound region and finds nothing
 *   fault      the mode is off until enabled (EPERM); a failure is given exactly N times,
 *              or until cleared; only points with a failure path accept one; delays are
 *              bounded by what the caller sets; names round-trip
 *   crash      (in a child) a crash at a point aborts at it; a crash at the Nth persist
 *              aborts there
 *   reformat   each part starts with mkfs --force over the region the last part used: a
 *              stale log of an earlier format must not read as later records (it did:
 *              mount refused "damaged and later records exist")
 *   trace      persistence tracing: the durable image starts as the region, gets what a
 *              persist covers, and not a store that was never flushed; a namespace mounted
 *              with tracing and unmounted leaves an image that mounts with the same files
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "log.h"
#include "nsint.h"
#include "nsmap.h"
#include "poison.h"
#include "lease.h"
#include "region.h"
#include "testutil.h"

#define PAGE ((uint64_t)FMT_BLOCK_SIZE)
#define MiB (UINT64_C(1) << 20)
#define REGION_SIZE (32 * MiB)

static void quiet(enum log_level level, const char *msg, void *ctx)
{
	(void)ctx;
	if (getenv("TEST_VERBOSE") || level <= LOG_LVL_ERR)
		fprintf(stderr, "log: %s\n", msg);
}

static struct ns *mount_at(const char *path, const char *trace)
{
	struct ns_mount_opts o = {.kind = REGION_EMULATED, .trace_image = trace};
	struct ns *ns;

	T_OK(ns_mount(&ns, path, &o));
	return ns;
}

static uint64_t new_file(struct ns *ns, const char *name, uint64_t size, uint8_t fill)
{
	struct ns_attr a;
	uint8_t *buf = malloc(size);

	T_ASSERT(buf);
	memset(buf, fill, size);
	T_OK(ns_create(ns, NULL, NS_ROOT_INO, name, 0644, &a));
	T_ASSERT(ns_write(ns, NULL, a.ino, buf, size, 0) == (ssize_t)size);
	free(buf);
	return a.ino;
}

/* region_off - where page @index of @ino sits, by ns_extents. */
static uint64_t region_off(struct ns *ns, uint64_t ino, uint64_t index)
{
	struct ns_extent e[64];
	uint64_t next;
	int n = ns_extents(ns, ino, 0, e, 64, &next);

	T_OK(n);
	for (int i = 0; i < n; i++)
		if (index >= e[i].index && index < e[i].index + e[i].count)
			return (e[i].block + index - e[i].index) * PAGE;
	T_FAIL("page %" PRIu64 " of inode %" PRIu64 " has no extent", index, ino);
}

static void test_extents(const char *path)
{
	struct ns *ns = mount_at(path, NULL);
	struct ns_extent e[8];
	uint8_t page[PAGE];
	uint64_t small, large, next, total = 0;
	struct ns_attr a;
	int n;

	small = new_file(ns, "small", 3 * PAGE, 1);
	/* holes: pages 0..2, then 10, then 20..21 */
	memset(page, 2, sizeof(page));
	T_ASSERT(ns_write(ns, NULL, small, page, PAGE, 10 * PAGE) == (ssize_t)PAGE);
	T_ASSERT(ns_write(ns, NULL, small, page, PAGE, 20 * PAGE) == (ssize_t)PAGE);
	T_ASSERT(ns_write(ns, NULL, small, page, PAGE, 21 * PAGE) == (ssize_t)PAGE);
	n = ns_extents(ns, small, 0, e, 8, &next);
	T_ASSERT(n >= 3 && next == UINT64_MAX);
	T_ASSERT(e[0].index == 0 && e[n - 1].index + e[n - 1].count == 22);
	for (int i = 0; i < n; i++) {
		T_ASSERT(e[i].flags == 0);
		T_ASSERT(i == 0 || e[i].index >= e[i - 1].index + e[i - 1].count);
		total += e[i].count;
	}
	T_ASSERT(total == 6); /* holes are not listed */
	/* paging: one at a time gives the same runs */
	n = ns_extents(ns, small, 0, e, 1, &next);
	T_ASSERT(n == 1 && next != UINT64_MAX && next > e[0].index);

	/* a 3 MiB file sits on 2 MiB chunks: starting inside one clips it */
	large = new_file(ns, "large", 3 * MiB, 3);
	n = ns_extents(ns, large, 100, e, 8, &next);
	T_ASSERT(n >= 1 && e[0].index == 100);
	T_ASSERT(e[0].block == region_off(ns, large, 100) / PAGE);

	/* poison page 1 of small: its extent is marked */
	T_ASSERT(poison_handle(ns, region_off(ns, small, 1), PAGE, POISON_SRC_INJECTED, NULL,
			       NULL) == 1);
	n = ns_extents(ns, small, 0, e, 8, &next);
	T_ASSERT(n >= 3);
	{
		bool seen = false;

		for (int i = 0; i < n; i++) {
			bool has1 = e[i].index <= 1 && e[i].index + e[i].count > 1;

			T_ASSERT(!!(e[i].flags & NS_EXT_POISON) == (has1 && e[i].count == 1));
			seen |= has1;
		}
		T_ASSERT(seen);
	}

	T_ERR(ns_extents(ns, NS_ROOT_INO, 0, e, 8, &next), EISDIR);
	T_ERR(ns_extents(ns, 999999, 0, e, 8, &next), ENOENT);
	T_ERR(ns_extents(ns, small, 0, e, 0, &next), EINVAL);
	T_OK(ns_getattr(ns, small, &a));
	ns_unmount(&ns);
}

/* find - the listed range holding @block, or NULL. */
static const struct poison_bad *find(const struct poison_bad *b, int n, uint64_t block)
{
	for (int i = 0; i < n; i++)
		if (block >= b[i].block && block < b[i].block + b[i].count)
			return &b[i];
	return NULL;
}

static void test_badblocks(const char *path)
{
	struct ns *ns = mount_at(path, NULL);
	struct poison_bad b[16];
	uint64_t ino, bad, next, freeblk;
	uint8_t page[PAGE];
	const struct poison_bad *hit;
	int n;

	ino = new_file(ns, "victim", 8 * PAGE, 7);
	bad = region_off(ns, ino, 5) / PAGE;
	T_ASSERT(poison_handle(ns, bad * PAGE, PAGE, POISON_SRC_INJECTED, NULL, NULL) == 1);
	/* a free block: well past everything written so far */
	freeblk = ns->data_first + ns->data_count - 10;
	T_ASSERT(alloc_is_free(ns->alloc, freeblk));
	T_ASSERT(poison_handle(ns, freeblk * PAGE, PAGE, POISON_SRC_INJECTED, NULL, NULL) == 1);
	/* metadata: the primary superblock (block 0) is not quarantined, but listed */
	T_ASSERT(poison_handle(ns, 0, PAGE, POISON_SRC_INJECTED, NULL, NULL) == 0);

	n = poison_list(ns, 0, b, 16, &next);
	T_ASSERT(n == 3 && next == UINT64_MAX);
	T_ASSERT(b[0].block == 0 && (b[0].flags & POISON_BAD_METADATA) && !b[0].owned);
	hit = find(b, n, bad);
	T_ASSERT(hit && hit->owned && hit->ino == ino && hit->index == 5 && hit->count == 1);
	hit = find(b, n, freeblk);
	T_ASSERT(hit && !hit->owned && !(hit->flags & POISON_BAD_METADATA));
	/* paging */
	n = poison_list(ns, 0, b, 1, &next);
	T_ASSERT(n == 1 && next != UINT64_MAX);
	n = poison_list(ns, next, b, 16, &next);
	T_ASSERT(n == 2 && next == UINT64_MAX);
	T_ERR(poison_list(ns, 0, b, 0, &next), EINVAL);

	/* after a remount, replay finds the file page again; metadata is this run's only */
	ns_unmount(&ns);
	ns = mount_at(path, NULL);
	n = poison_list(ns, 0, b, 16, &next);
	T_ASSERT(n == 2);
	hit = find(b, n, bad);
	T_ASSERT(hit && hit->owned && hit->ino == ino && hit->index == 5);

	/* rewritten: the page moves; the block stays listed, with no file */
	memset(page, 9, sizeof(page));
	T_ASSERT(ns_write(ns, NULL, ino, page, PAGE, 5 * PAGE) == (ssize_t)PAGE);
	T_ASSERT(region_off(ns, ino, 5) / PAGE != bad);
	n = poison_list(ns, 0, b, 16, &next);
	hit = find(b, n, bad);
	T_ASSERT(hit && !hit->owned);
	ns_unmount(&ns);
}

static void test_scrub(const char *path)
{
	struct ns *ns = mount_at(path, NULL);
	struct poison_scrub_result r;
	struct ns_statfs st;

	new_file(ns, "scrubbed", 3 * MiB, 5);
	ns_statfs(ns, &st);
	T_OK(poison_scrub(ns, &r));
	T_ASSERT(r.blocks_bad == 0);
	/* everything in use was read: at least the 3 MiB file, at most what is not free */
	T_ASSERT(r.blocks_read >= 3 * MiB / PAGE);
	T_ASSERT(r.blocks_read <= st.blocks - st.blocks_free - st.blocks_quarantined);
	T_ASSERT(r.bytes_read == r.blocks_read * PAGE);
	ns_unmount(&ns);
}

static void test_fault(void)
{
	int p;

	/* off: nothing can be set, points pass */
	T_ASSERT(!fault_enabled());
	T_ERR(fault_set_fail(FAULT_ALLOC, 1, EIO), EPERM);
	T_ERR(fault_set_delay(FAULT_ALLOC, 1), EPERM);
	T_ERR(fault_set_crash(FAULT_ALLOC), EPERM);
	T_ERR(fault_set_crash_persist(1), EPERM);
	T_ASSERT(fault_at(FAULT_ALLOC) == 0);

	for (p = 0; p < FAULT_COUNT; p++)
		T_ASSERT(fault_point_lookup(fault_point_name(p)) == p);
	T_ERR(fault_point_lookup("no-such-point"), ENOENT);

	fault_enable();
	T_OK(fault_set_fail(FAULT_ALLOC, 3, ENOSPC));
	for (int i = 0; i < 3; i++)
		T_ERR(fault_at(FAULT_ALLOC), ENOSPC);
	T_ASSERT(fault_at(FAULT_ALLOC) == 0);
	T_ASSERT(fault_at(FAULT_LOG_APPEND) == 0);

	T_OK(fault_set_fail(FAULT_SEND, 0, EPIPE)); /* until cleared */
	for (int i = 0; i < 100; i++)
		T_ERR(fault_at(FAULT_SEND), EPIPE);
	fault_clear();
	T_ASSERT(fault_at(FAULT_SEND) == 0);

	T_ERR(fault_set_fail(FAULT_DATA_WRITE, 1, EIO), EOPNOTSUPP);
	T_ERR(fault_set_fail(FAULT_ALLOC, 1, 0), EINVAL);
	T_ERR(fault_set_fail(FAULT_ALLOC, 1, 5000), EINVAL);
	T_ERR(fault_set_delay(FAULT_LOG_TORN, 10), EOPNOTSUPP);
	T_ERR(fault_set_fail((enum fault_point)FAULT_COUNT, 1, EIO), EINVAL);
	T_ERR(fault_set_crash_persist(0), EINVAL);

	{
		struct timespec a, b;
		uint64_t ns;

		T_OK(fault_set_delay(FAULT_POISON_AFTER_RMAP, 20000));
		clock_gettime(CLOCK_MONOTONIC, &a);
		T_ASSERT(fault_at(FAULT_POISON_AFTER_RMAP) == 0);
		clock_gettime(CLOCK_MONOTONIC, &b);
		ns = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000u +
		     (uint64_t)(b.tv_nsec - a.tv_nsec);
		T_ASSERT(ns >= 20000000);
		fault_clear();
	}
}

/* crash_child - run @fn in a child; it must die of SIGABRT. */
static void crash_child(void (*fn)(void *), void *arg)
{
	int st;
	pid_t pid = fork();

	T_ASSERT(pid >= 0);
	if (pid == 0) {
		fn(arg);
		_exit(0); /* did not crash */
	}
	T_ASSERT(waitpid(pid, &st, 0) == pid);
	T_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

static void crash_at_point(void *arg)
{
	(void)arg;
	T_OK(fault_set_crash(FAULT_LOG_COMMITTED));
	fault_at(FAULT_ALLOC); /* another point passes */
	fault_at(FAULT_LOG_COMMITTED);
}

static void crash_at_persist(void *arg)
{
	struct region *r = arg;
	char *base = region_base(r);

	T_OK(fault_set_crash_persist(3));
	region_persist(r, base, 64);
	region_flush(r, base, 64);
	/* the third: must abort before it returns */
	region_memset(r, base + 4096, 0, 64, 0);
	/* a survivor writes a marker the parent would see */
	fprintf(stderr, "crash_at_persist: still alive after 3 persists\n");
}

static void test_crash(const char *path)
{
	struct region *r;

	crash_child(crash_at_point, NULL);
	T_OK(region_open(&r, path, REGION_EMULATED, REGION_NOLOCK, 0));
	crash_child(crash_at_persist, r);
	region_close(&r);
}

static void test_trace(const char *path)
{
	const char *image = t_path("durable.img");
	struct region *r;
	uint8_t *base, *img;
	struct ns *ns;
	struct ns_attr a;
	uint8_t buf[100];
	int fd;

	/* bytes, on a scratch region: a persisted store reaches the image, a bare one not */
	T_OK(region_open(&r, t_path("raw"), REGION_EMULATED, REGION_CREATE, REGION_MIN_SIZE));
	T_OK(region_trace_start(r, image));
	base = region_base(r);
	fd = open(image, O_RDONLY);
	T_ASSERT(fd >= 0);
	img = mmap(NULL, region_size(r), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	T_ASSERT(img != MAP_FAILED);
	T_ASSERT(memcmp(img, base, 8192) == 0); /* a copy at the start */
	{
		uint64_t far = region_size(r) - 3 * PAGE;
		uint8_t old = base[far], old3 = img[far + 256];

		base[far] = (uint8_t)~old; /* stored, never flushed */
		region_memcpy(r, base + far + 128, "persisted", 9, 0);
		T_ASSERT(img[far] == old);
		T_ASSERT(memcmp(img + far + 128, "persisted", 9) == 0);
		/* NOFLUSH does not reach it either */
		region_memset(r, base + far + 256, 0x5a, 8, REGION_NOFLUSH);
		T_ASSERT(base[far + 256] == 0x5a && img[far + 256] == old3 && old3 != 0x5a);
	}
	munmap(img, region_size(r));
	region_close(&r);

	/* a namespace run under tracing and unmounted cleanly: the image is that file system */
	ns = mount_at(path, image);
	new_file(ns, "traced", 10000, 0x42);
	ns_unmount(&ns);
	ns = mount_at(image, NULL);
	T_OK(ns_lookup(ns, NULL, NS_ROOT_INO, "traced", &a));
	T_ASSERT(a.size == 10000);
	T_ASSERT(ns_read(ns, NULL, a.ino, buf, sizeof(buf), 9000) == (ssize_t)sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++)
		T_ASSERT(buf[i] == 0x42);
	ns_unmount(&ns);
}

int main(void)
{
	const char *path;

	t_watchdog(120, "test-report");
	log_set_sink(quiet, NULL);
	rcu_thread_online();
	path = t_path("region");
	T_OK(ns_mkfs(path, REGION_SIZE, NULL));
	test_extents(path);
	T_OK(ns_mkfs(path, REGION_SIZE, &(struct ns_mkfs_opts){.force = true}));
	test_badblocks(path);
	test_scrub(path);
	T_OK(ns_mkfs(path, REGION_SIZE, &(struct ns_mkfs_opts){.force = true}));
	test_trace(path);
	test_fault(); /* enables the mode for the rest */
	test_crash(path);
	rcu_thread_offline();
	printf("ok\n");
	return 0;
}
