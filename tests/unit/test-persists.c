// SPDX-License-Identifier: MIT
/*
 * test-persists - how many write-backs (msync calls) an emulated region gets for what a user
 * does (issue 15: coalesced persists, group commit). Counted with region_msyncs().
 *
 * - A 64 MiB file written in 1 MiB requests (as `daxfs put` sends it): at most one msync per
 *   MiB written plus PER_REQUEST per request (the log commit; a checkpoint now and then).
 *   Before issue 15 every page copied was one msync: 16,384 and more.
 * - The same 64 MiB rewritten in place (no allocation, no transaction): one msync per
 *   request at most, for its one contiguous range.
 * - 1,000 creates one after another: at most PER_REQUEST each (one group persist of its
 *   transaction); and 1,000 more from 4 threads at once, each in its own directory: fewer
 *   msyncs than creates (group commit: a commit that copied its records while another's
 *   msync ran shares the next one). How many it saves depends on timing: printed.
 * - Every file reads back what was written after a remount.
 *
 * The region is a file on disk ($DAXFS_TEST_DISK_DIR, default /var/tmp), as the README's
 * default region is: an msync there waits for the disk, which is what group commit is for.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "namespace.h"
#include "rcu.h"
#include "region.h"
#include "testutil.h"

#define MiB (UINT64_C(1) << 20)
#define FILE_MIB 64
#define CREATES 1000
#define THREADS 4
#define PER_REQUEST 2 /* msyncs a request may add: its commit, and a share of a checkpoint */

static struct ns *ns;

static uint64_t msyncs(void)
{
	return region_msyncs(ns_region(ns));
}

static void write_file(const char *name, const uint8_t *data, uint64_t *ino)
{
	struct ns_attr a;

	T_OK(ns_create(ns, NULL, NS_ROOT_INO, name, 0644, &a));
	*ino = a.ino;
	for (uint64_t off = 0; off < FILE_MIB * MiB; off += MiB)
		T_ASSERT(ns_write(ns, NULL, a.ino, data + off, MiB, off) == (ssize_t)MiB);
}

static void *creator(void *arg)
{
	uint64_t dir = (uint64_t)(uintptr_t)arg;
	char name[32];

	rcu_thread_online();
	for (unsigned i = 0; i < CREATES / THREADS; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		T_OK(ns_create(ns, NULL, dir, name, 0644, NULL));
	}
	rcu_thread_offline();
	return NULL;
}

int main(int argc, char **argv)
{
	uint8_t *data = malloc(FILE_MIB * MiB), *back = malloc(FILE_MIB * MiB);
	pthread_t th[THREADS];
	uint64_t dirs[THREADS];
	uint64_t ino, m0, n;
	uint64_t rng = t_seed(argc, argv, 1);
	char img[PATH_MAX], imgdir[PATH_MAX];
	struct ns_attr a;
	const char *dir;
	char name[32];

	T_ASSERT(data && back);
	for (size_t i = 0; i < FILE_MIB * MiB; i += 8) {
		uint64_t v = t_rand(&rng);

		memcpy(data + i, &v, 8);
	}
	dir = getenv("DAXFS_TEST_DISK_DIR");
	snprintf(img, sizeof(img), "%s/daxfs-test-persists.XXXXXX", dir && *dir ? dir : "/var/tmp");
	T_ASSERT(mkdtemp(img) != NULL);
	snprintf(imgdir, sizeof(imgdir), "%s", img);
	strcat(img, "/region");
	rcu_thread_online();
	T_OK(ns_mkfs(img, 256 * MiB, NULL));
	T_OK(ns_mount(&ns, img, NULL));
	T_ASSERT(strcmp(region_granularity(ns_region(ns)), "page") == 0);

	m0 = msyncs();
	write_file("big", data, &ino);
	n = msyncs() - m0;
	printf("64 MiB written in 1 MiB requests: %" PRIu64 " msyncs\n", n);
	if (n > FILE_MIB + PER_REQUEST * FILE_MIB)
		T_FAIL("64 MiB written: %" PRIu64 " msyncs, more than one per MiB plus %d per "
		       "request (%d)",
		       n, PER_REQUEST, FILE_MIB + PER_REQUEST * FILE_MIB);

	m0 = msyncs();
	for (uint64_t off = 0; off < FILE_MIB * MiB; off += MiB)
		T_ASSERT(ns_write(ns, NULL, ino, data + off, MiB, off) == (ssize_t)MiB);
	n = msyncs() - m0;
	printf("64 MiB rewritten in place: %" PRIu64 " msyncs\n", n);
	T_ASSERT(n <= FILE_MIB);

	m0 = msyncs();
	for (unsigned i = 0; i < CREATES; i++) {
		snprintf(name, sizeof(name), "c%u", i);
		T_OK(ns_create(ns, NULL, NS_ROOT_INO, name, 0644, NULL));
	}
	n = msyncs() - m0;
	printf("%d creates: %" PRIu64 " msyncs\n", CREATES, n);
	if (n > (uint64_t)PER_REQUEST * CREATES)
		T_FAIL("%d creates: %" PRIu64 " msyncs, more than %d each", CREATES, n,
		       PER_REQUEST);

	/* In a directory each: their transactions take no lock in common, so they commit at once. */
	for (unsigned t = 0; t < THREADS; t++) {
		snprintf(name, sizeof(name), "d%u", t);
		T_OK(ns_mkdir(ns, NULL, NS_ROOT_INO, name, 0755, &a));
		dirs[t] = a.ino;
	}
	m0 = msyncs();
	for (unsigned t = 0; t < THREADS; t++)
		T_ASSERT(pthread_create(&th[t], NULL, creator, (void *)(uintptr_t)dirs[t]) == 0);
	for (unsigned t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	n = msyncs() - m0;
	printf("%d creates from %d threads: %" PRIu64 " msyncs\n", CREATES, THREADS, n);
	if (n >= CREATES)
		T_FAIL("%d creates from %d threads: %" PRIu64 " msyncs: no commit shared one",
		       CREATES, THREADS, n);

	/* Durable: all of it is there after a remount. */
	ns_unmount(&ns);
	T_OK(ns_mount(&ns, img, NULL));
	T_ASSERT(ns_read(ns, NULL, ino, back, FILE_MIB * MiB, 0) == (ssize_t)(FILE_MIB * MiB));
	T_ASSERT(memcmp(back, data, FILE_MIB * MiB) == 0);
	snprintf(name, sizeof(name), "c%u", CREATES - 1);
	T_OK(ns_lookup(ns, NULL, NS_ROOT_INO, name, &a));
	snprintf(name, sizeof(name), "f%u", CREATES / THREADS - 1);
	T_OK(ns_lookup(ns, NULL, dirs[THREADS - 1], name, &a));
	ns_unmount(&ns);
	rcu_thread_offline();
	T_ASSERT(unlink(img) == 0 && rmdir(imgdir) == 0);
	free(data);
	free(back);
	printf("ok\n");
	return 0;
}
