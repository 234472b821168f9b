// SPDX-License-Identifier: MIT
/*
 * test-replica - a region with a replica (DESIGN §13), on emulated regions:
 *
 *   resync     a region mounted with a blank replica copies itself there in the background
 *              while 4 threads create, write, overwrite and unlink files; once it is in sync
 *              and the writers stop, the two files are byte for byte equal
 *   race       a store that lands between the copy's read of a block and its write to the
 *              replica (forced through the SIGBUS test hook) is not undone by the copy
 *   mirror     after more writes (copy writes, truncates, a checkpoint) both stay equal
 *   poison     a block under a file poisoned in the region reads back right through ns_read,
 *              is repaired (no quarantine, the media error cleared, counted), and reads back
 *              right again; poisoned in both copies, it reads EIO and is quarantined
 *   metadata   a block of the active log area and the primary superblock poisoned in the
 *              region: poison_handle repairs both from the replica (not read-only, listed
 *              as repaired metadata); a log block poisoned before mount is read from the
 *              replica by replay (the mount is read-write) and repaired by the next drain
 *   clean      unmounted in sync, the pair is CLEAN and the next mount trusts the replica at
 *              once; mounted without it, the region runs degraded, and the next mount with it
 *              copies it again
 *   live       replica_add and replica_remove while 4 writers run: added, removed while the
 *              copy runs, added again; in sync under the writes, and equal after unmount;
 *              a second add is -EEXIST, a remove of none -ENOENT; removed, the region is
 *              no longer version 3
 *   refuse     a replica of another size, the region itself, and another file system's
 *              region are refused, and the region still mounts
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blockmap.h"
#include "log.h"
#include "nsint.h"
#include "pagemap.h"
#include "poison.h"
#include "replica.h"
#include "sigbus.h"
#include "testutil.h"
#include "util.h"

#define PAGE ((uint64_t)FMT_BLOCK_SIZE)
#define REGION_SIZE (64 * MiB)

static char primary[512], replica[512];

static void sink(enum log_level level, const char *msg, void *ctx)
{
	(void)ctx;
	if (getenv("TEST_VERBOSE"))
		fprintf(stderr, "<%d>%s\n", (int)level, msg);
}

static void make_blank(const char *path, uint64_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	T_ASSERT(fd >= 0);
	T_ASSERT(ftruncate(fd, (off_t)size) == 0);
	close(fd);
}

static struct ns *mount_pair(const char *rep)
{
	struct ns_mount_opts o = {.kind = REGION_AUTO, .replica = rep};
	struct ns *ns;

	T_OK(ns_mount(&ns, primary, &o));
	return ns;
}

/* same_bytes - are the two region files equal? (Mapped: the page cache the daemon writes.) */
static bool same_bytes(uint64_t *first_diff)
{
	int fa = open(primary, O_RDONLY), fb = open(replica, O_RDONLY);
	const uint8_t *a, *b;
	bool same = true;

	T_ASSERT(fa >= 0 && fb >= 0);
	a = mmap(NULL, REGION_SIZE, PROT_READ, MAP_SHARED, fa, 0);
	b = mmap(NULL, REGION_SIZE, PROT_READ, MAP_SHARED, fb, 0);
	T_ASSERT(a != MAP_FAILED && b != MAP_FAILED);
	for (uint64_t off = 0; off < REGION_SIZE; off += PAGE) {
		if (memcmp(a + off, b + off, PAGE)) {
			*first_diff = off;
			same = false;
			break;
		}
	}
	munmap((void *)a, REGION_SIZE);
	munmap((void *)b, REGION_SIZE);
	close(fa);
	close(fb);
	return same;
}

static void assert_same(const char *when)
{
	uint64_t off = 0;

	if (!same_bytes(&off))
		T_FAIL("%s: the replica differs from the region at offset %" PRIu64, when, off);
}

static uint8_t pat(unsigned tag, uint64_t off)
{
	return (uint8_t)(tag * 131 + off * 7 + off / 4096);
}

static uint64_t make_file(struct ns *ns, const char *name, uint64_t size, unsigned tag)
{
	uint8_t *buf = malloc(size);
	struct ns_attr a;

	T_ASSERT(buf);
	for (uint64_t i = 0; i < size; i++)
		buf[i] = pat(tag, i);
	T_OK(ns_create(ns, NULL, NS_ROOT_INO, name, 0644, &a));
	T_ASSERT(ns_write(ns, NULL, a.ino, buf, size, 0) == (ssize_t)size);
	free(buf);
	return a.ino;
}

static void check_file(struct ns *ns, uint64_t ino, uint64_t size, unsigned tag)
{
	uint8_t *buf = malloc(size);

	T_ASSERT(buf);
	T_ASSERT(ns_read(ns, NULL, ino, buf, size, 0) == (ssize_t)size);
	for (uint64_t i = 0; i < size; i++)
		if (buf[i] != pat(tag, i))
			T_FAIL("inode %" PRIu64 ": byte %" PRIu64 " is %u, not %u", ino, i, buf[i],
			       pat(tag, i));
	free(buf);
}

static uint64_t page_block(struct ns *ns, uint64_t ino, uint64_t idx)
{
	bool poison;
	uint64_t b = t_page_block(ns, ino, idx, &poison);

	T_ASSERT(!poison);
	return b;
}

/* ---- resync under writers ---- */

struct writer {
	struct ns *ns;
	unsigned id;
	int *stop;
	unsigned rounds;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint8_t buf[3 * 4096 + 100];
	uint64_t seed = w->id + 1;

	rcu_thread_online();
	while (!__atomic_load_n(w->stop, __ATOMIC_ACQUIRE)) {
		char name[32];
		struct ns_attr a;
		size_t len = 1 + t_rand(&seed) % sizeof(buf);

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)t_rand(&seed);
		snprintf(name, sizeof(name), "w%u-%u", w->id, w->rounds % 16);
		if (ns_create(w->ns, NULL, NS_ROOT_INO, name, 0644, &a) == 0) {
			T_ASSERT(ns_write(w->ns, NULL, a.ino, buf, len, t_rand(&seed) % 8192) ==
				 (ssize_t)len);
			if (t_rand(&seed) % 3 == 0)
				T_OK(ns_unlink(w->ns, NULL, NS_ROOT_INO, name));
		}
		w->rounds++;
	}
	rcu_thread_offline();
	return NULL;
}

static void test_resync(void)
{
	struct replica_info info;
	struct writer w[4];
	pthread_t th[4];
	int stop = 0;
	struct ns *ns;
	unsigned rounds = 0;

	T_OK(ns_mkfs(primary, REGION_SIZE, NULL));
	make_blank(replica, REGION_SIZE);
	ns = mount_pair(replica);
	for (unsigned i = 0; i < 4; i++) {
		w[i] = (struct writer){ns, i, &stop, 0};
		T_ASSERT(pthread_create(&th[i], NULL, writer_main, &w[i]) == 0);
	}
	T_ASSERT(replica_wait_synced(ns, 30000));
	/* Write on for a while with the replica in sync: every store reaches both. */
	usleep(200000);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		rounds += w[i].rounds;
	}
	replica_get_info(ns, &info);
	T_ASSERT(info.status == REPLICA_INSYNC && info.synced == REGION_SIZE);
	T_ASSERT(strcmp(info.path, replica) == 0);
	printf("resync: in sync with %u operations racing the copy\n", rounds);
	T_ASSERT(rounds > 0);
	assert_same("after the resync under 4 writers");
	ns_unmount(&ns);
	assert_same("after unmount");
}

/* ---- a store inside the copy's window ---- */

static struct {
	pthread_t main;
	uint8_t old[4096], fresh[4096];
	struct ns *ns;
	uint64_t ino;
	unsigned matches;
	int fired; /* 1 asked, 2 done */
	pthread_mutex_t lock;
	pthread_cond_t cond;
} race = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
static __thread bool race_helper;

/*
 * race_hook - on the copy's thread, the second safe access to a page holding race.old is
 * the copy storing it into the replica (the first read it from the region): have the
 * helper rewrite the page now, and wait for it.
 */
static void race_hook(void *ctx, const void *addr, size_t len)
{
	(void)ctx;
	if (race_helper || pthread_equal(pthread_self(), race.main) || len != 4096 ||
	    __atomic_load_n(&race.fired, __ATOMIC_ACQUIRE) || memcmp(addr, race.old, 4096))
		return;
	if (++race.matches < 2)
		return;
	pthread_mutex_lock(&race.lock);
	race.fired = 1;
	pthread_cond_broadcast(&race.cond);
	while (race.fired != 2)
		pthread_cond_wait(&race.cond, &race.lock);
	pthread_mutex_unlock(&race.lock);
}

static void *race_helper_main(void *arg)
{
	(void)arg;
	race_helper = true;
	rcu_thread_online();
	pthread_mutex_lock(&race.lock);
	while (race.fired == 0 || !race.ns)
		pthread_cond_wait(&race.cond, &race.lock);
	pthread_mutex_unlock(&race.lock);
	T_ASSERT(ns_write(race.ns, NULL, race.ino, race.fresh, 4096, 4096) == 4096);
	pthread_mutex_lock(&race.lock);
	race.fired = 2;
	pthread_cond_broadcast(&race.cond);
	pthread_mutex_unlock(&race.lock);
	rcu_thread_offline();
	return NULL;
}

static void test_race(void)
{
	struct ns_mount_opts o = {.kind = REGION_AUTO};
	pthread_t helper;
	struct ns *ns;
	uint8_t buf[4096];

	for (unsigned i = 0; i < 4096; i++) {
		race.old[i] = (uint8_t)(i * 13 + 5);
		race.fresh[i] = (uint8_t)(i * 29 + 1);
	}
	/* The pair in sync, with the page; then a run without the replica: copied again. */
	ns = mount_pair(replica);
	T_ASSERT(replica_wait_synced(ns, 30000));
	race.ino = make_file(ns, "race", 3 * PAGE, 1);
	T_ASSERT(ns_write(ns, NULL, race.ino, race.old, 4096, 4096) == 4096);
	ns_unmount(&ns);
	T_OK(ns_mount(&ns, primary, &o));
	ns_unmount(&ns);

	race.main = pthread_self();
	T_ASSERT(pthread_create(&helper, NULL, race_helper_main, NULL) == 0);
	sigbus_set_test_hook(race_hook, NULL);
	/* The copy may reach the page inside the mount: the hook waits for race.ns. */
	ns = mount_pair(replica);
	pthread_mutex_lock(&race.lock);
	race.ns = ns;
	pthread_cond_broadcast(&race.cond);
	pthread_mutex_unlock(&race.lock);
	T_ASSERT(replica_wait_synced(ns, 30000));
	sigbus_set_test_hook(NULL, NULL);
	pthread_join(helper, NULL);
	T_ASSERT(race.fired == 2);
	T_ASSERT(ns_read(ns, NULL, race.ino, buf, 4096, 4096) == 4096);
	T_ASSERT(memcmp(buf, race.fresh, 4096) == 0);
	assert_same("after a store inside the copy's window");
	ns_unmount(&ns);
}

static void test_mirror_and_poison(void)
{
	struct replica_info info;
	struct poison_bad bad[4];
	uint64_t ino, ino2, blk, next, rep_blk;
	uint8_t *buf = malloc(64 * PAGE);
	struct ns *ns;

	T_ASSERT(buf);
	ns = mount_pair(replica);
	replica_get_info(ns, &info);
	T_ASSERT(info.status == REPLICA_INSYNC); /* left CLEAN: trusted at once */
	ino = make_file(ns, "data", 40 * PAGE + 123, 7);
	ino2 = make_file(ns, "other", 3 * PAGE, 9);
	{
		struct ns_setattr sa = {.valid = NS_SET_SIZE, .size = 2 * PAGE + 5};

		T_OK(ns_setattr(ns, NULL, ino2, &sa, NULL));
	}
	T_OK(ns_checkpoint(ns));
	assert_same("after writes, a truncate and a checkpoint");

	/* The region's copy of page 17 is poisoned: reads come from the replica. */
	blk = page_block(ns, ino, 17);
	T_OK(region_simulate_poison(ns_region(ns), blk * PAGE, PAGE));
	check_file(ns, ino, 40 * PAGE + 123, 7);
	replica_get_info(ns, &info);
	T_ASSERT(info.reads >= 1);
	T_ASSERT(info.repaired == 1);
	T_ASSERT(page_block(ns, ino, 17) == blk); /* repaired in place */
	/* Listed as repaired, with its page; nothing quarantined. */
	T_ASSERT(poison_list(ns, 0, bad, 4, &next) == 1 && next == UINT64_MAX);
	T_ASSERT(bad[0].block == blk && bad[0].count == 1 && bad[0].flags == POISON_BAD_REPAIRED);
	T_ASSERT(bad[0].owned && bad[0].ino == ino && bad[0].index == 17);
	{
		struct ns_statfs st;

		ns_statfs(ns, &st);
		T_ASSERT(st.blocks_quarantined == 0);
	}
	rep_blk = blk;
	/* The media error is gone: the region's own bytes read right. */
	T_OK(region_copy_check(ns_region(ns), buf, region_at(ns_region(ns), blk * PAGE), PAGE,
			       NULL));
	for (uint64_t i = 0; i < PAGE; i++)
		T_ASSERT(buf[i] == pat(7, 17 * PAGE + i));
	assert_same("after the repair");

	/* Poisoned in both copies: EIO and quarantine, as without a replica. */
	blk = page_block(ns, ino, 30);
	T_OK(region_simulate_poison(ns_region(ns), blk * PAGE, PAGE));
	T_OK(region_simulate_poison(region_mirror(ns_region(ns)), blk * PAGE, PAGE));
	T_ERR(ns_read(ns, NULL, ino, buf, PAGE, 30 * PAGE), EIO);
	T_ASSERT(poison_list(ns, 0, bad, 4, &next) == 2);
	{
		unsigned q = bad[0].block == blk ? 0 : 1;

		T_ASSERT(bad[q].block == blk && bad[q].owned && bad[q].ino == ino);
		T_ASSERT(bad[q].flags == 0 && bad[1 - q].block == rep_blk);
		T_ASSERT(bad[q].block > bad[1 - q].block ? q == 1 : q == 0); /* block order */
	}
	/* Listed from past the first entry: only the second. */
	T_ASSERT(poison_list(ns, MIN(blk, rep_blk) + 1, bad, 4, &next) == 1);
	T_ASSERT(bad[0].block == MAX(blk, rep_blk));
	/* One at a time: the walk goes on where it stopped. */
	T_ASSERT(poison_list(ns, 0, bad, 1, &next) == 1 && next == MAX(blk, rep_blk));
	T_ERR(ns_read(ns, NULL, ino, buf, PAGE, 30 * PAGE), EIO);
	T_ASSERT(ns_read(ns, NULL, ino, buf, 29 * PAGE, 0) == (ssize_t)(29 * PAGE));
	region_unsimulate_poison(region_mirror(ns_region(ns)), blk * PAGE, PAGE);
	ns_unmount(&ns);
	free(buf);
}

static void test_metadata(void)
{
	struct replica_info info;
	struct poison_bad bad[8];
	uint64_t logoff, next;
	char env[64], buf[4096];
	struct ns *ns;
	int n;

	ns = mount_pair(replica);
	replica_get_info(ns, &info);
	T_ASSERT(info.status == REPLICA_INSYNC);
	make_file(ns, "meta", 3 * PAGE, 4);
	logoff = mlog_super(ns->log)->log_off[mlog_super(ns->log)->log_active];
	T_OK(region_simulate_poison(ns_region(ns), logoff, PAGE));
	T_OK(region_simulate_poison(ns_region(ns), 0, PAGE));
	T_ASSERT(poison_handle(ns, logoff, PAGE, POISON_SRC_INJECTED, NULL, NULL) == 0);
	T_ASSERT(poison_handle(ns, 0, PAGE, POISON_SRC_INJECTED, NULL, NULL) == 0);
	T_OK(ns_writable(ns)); /* not read-only */
	T_OK(region_copy_check(ns_region(ns), buf, region_at(ns_region(ns), logoff), PAGE, NULL));
	T_OK(region_copy_check(ns_region(ns), buf, region_at(ns_region(ns), 0), PAGE, NULL));
	/* Listed as repaired metadata, first in block order (the quarantine of the data area,
	 * from test_mirror_and_poison, comes after them). */
	n = poison_list(ns, 0, bad, 8, &next);
	T_ASSERT(n >= 2);
	T_ASSERT(bad[0].block == 0 && bad[1].block == logoff / PAGE);
	for (int i = 0; i < 2; i++)
		T_ASSERT(bad[i].flags == (POISON_BAD_REPAIRED | POISON_BAD_METADATA) &&
			 !bad[i].owned);
	for (int i = 2; i < n; i++)
		T_ASSERT(!(bad[i].flags & POISON_BAD_METADATA));
	make_file(ns, "meta2", 2 * PAGE, 5);
	ns_unmount(&ns);
	assert_same("after metadata repairs");

	/* Poisoned before the mount: replay reads the replica's copy. */
	snprintf(env, sizeof(env), "%" PRIu64 "+4K", logoff);
	setenv("DAXFS_FAULT_POISON", env, 1);
	ns = mount_pair(replica);
	unsetenv("DAXFS_FAULT_POISON");
	T_OK(ns_writable(ns));
	T_ASSERT(poison_drain(ns) == 0);
	replica_get_info(ns, &info);
	if (info.repaired != 1)
		T_FAIL("repaired %" PRIu64 ", reads %" PRIu64, info.repaired, info.reads);
	T_OK(region_copy_check(ns_region(ns), buf, region_at(ns_region(ns), logoff), PAGE, NULL));
	{
		struct ns_attr a;

		T_OK(ns_lookup(ns, NULL, NS_ROOT_INO, "meta2", &a));
		check_file(ns, a.ino, 2 * PAGE, 5);
	}
	ns_unmount(&ns);
	assert_same("after a log block repaired at mount");
}

static void test_clean_and_degraded(void)
{
	struct replica_info info;
	struct ns_mount_opts o = {.kind = REGION_AUTO};
	struct fmt_super sb;
	struct region *r;
	struct ns *ns;

	/* Left CLEAN by the last unmount: format version 3, both superblocks say so. */
	T_OK(region_open(&r, replica, REGION_AUTO, REGION_RDONLY, 0));
	T_OK(mlog_probe(r, &sb, NULL, NULL, NULL));
	T_ASSERT((sb.incompat & FMT_INCOMPAT_REPLICA) && sb.replica == FMT_REPLICA_CLEAN);
	region_close(&r);

	/* Without the replica: degraded, and marked so that the next start copies again. */
	T_OK(ns_mount(&ns, primary, &o));
	replica_get_info(ns, &info);
	T_ASSERT(info.status == REPLICA_DEGRADED);
	T_ASSERT(strstr(info.why, "not given"));
	make_file(ns, "alone", 5 * PAGE, 3);
	ns_unmount(&ns);

	ns = mount_pair(replica);
	replica_get_info(ns, &info);
	T_ASSERT(info.status == REPLICA_RESYNCING || info.status == REPLICA_INSYNC);
	T_ASSERT(replica_wait_synced(ns, 30000));
	ns_unmount(&ns);
	assert_same("after the resync that followed a degraded run");
}

static void test_live(void)
{
	struct ns_mount_opts o = {.kind = REGION_AUTO};
	struct replica_info info;
	struct writer w[4];
	pthread_t th[4];
	int stop = 0;
	struct ns *ns;

	unlink(primary);
	T_OK(ns_mkfs(primary, REGION_SIZE, NULL));
	make_blank(replica, REGION_SIZE);
	T_OK(ns_mount(&ns, primary, &o));
	T_ERR(replica_remove(ns), ENOENT);
	for (unsigned i = 0; i < 4; i++) {
		w[i] = (struct writer){ns, i, &stop, 0};
		T_ASSERT(pthread_create(&th[i], NULL, writer_main, &w[i]) == 0);
	}
	usleep(50000);
	T_OK(replica_add(ns, replica));
	T_ERR(replica_add(ns, replica), EEXIST);
	usleep(20000);
	T_OK(replica_remove(ns)); /* the copy may still run: it is stopped */
	replica_get_info(ns, &info);
	T_ASSERT(info.status == REPLICA_NONE);
	T_OK(replica_add(ns, replica));
	T_ASSERT(replica_wait_synced(ns, 30000));
	usleep(100000);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	ns_unmount(&ns);
	assert_same("after a replica added while 4 writers ran");
	/* Left CLEAN: trusted by the next mount with it; removed there, version 2 again. */
	ns = mount_pair(replica);
	replica_get_info(ns, &info);
	T_ASSERT(info.status == REPLICA_INSYNC);
	T_OK(replica_remove(ns));
	T_ASSERT(!(mlog_super(ns->log)->incompat & FMT_INCOMPAT_REPLICA));
	ns_unmount(&ns);
	T_OK(ns_mount(&ns, primary, &o));
	replica_get_info(ns, &info);
	T_ASSERT(info.status == REPLICA_NONE);
	ns_unmount(&ns);
}

static void test_refuse(void)
{
	char other[600];
	struct ns *ns;

	snprintf(other, sizeof(other), "%s", t_path("other-region"));
	make_blank(other, REGION_SIZE / 2);
	{
		struct ns_mount_opts o = {.kind = REGION_AUTO, .replica = other};

		T_ERR(ns_mount(&ns, primary, &o), EINVAL);
		o.replica = primary;
		T_ERR(ns_mount(&ns, primary, &o), EINVAL);
	}
	unlink(other);
	T_OK(ns_mkfs(other, REGION_SIZE, NULL));
	{
		struct ns_mount_opts o = {.kind = REGION_AUTO, .replica = other};

		T_ERR(ns_mount(&ns, primary, &o), EINVAL);
	}
	unlink(other);
	/* None of it touched the region or its replica. */
	ns = mount_pair(replica);
	T_ASSERT(replica_wait_synced(ns, 30000));
	ns_unmount(&ns);
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	setvbuf(stdout, NULL, _IOLBF, 0);
	t_watchdog(120, "test-replica");
	rcu_thread_online();
	log_set_sink(sink, NULL);
	T_OK(sigbus_install());
	snprintf(primary, sizeof(primary), "%s", t_path("region"));
	snprintf(replica, sizeof(replica), "%s", t_path("replica"));
	test_resync();
	test_race();
	test_mirror_and_poison();
	test_metadata();
	test_clean_and_degraded();
	test_refuse();
	test_live();
	unlink(primary);
	unlink(replica);
	log_set_sink(NULL, NULL);
	rcu_thread_offline();
	printf("ok\n");
	return 0;
}
