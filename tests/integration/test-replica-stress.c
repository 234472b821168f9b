// SPDX-License-Identifier: MIT
/*
 * test-replica-stress - media errors in both copies of a region with a replica, under load
 * (DESIGN §13; the "200 injections under load"):
 *
 * 8 clients (a session each) write, rewrite in parts and read back files of their own
 * through a daxfsd with a replica, checking every byte they read against what they wrote.
 * Meanwhile 200 media errors are injected, unnoticed, one at a time at random under the
 * clients' file pages, in the region's copy or in the replica's (never twice the same
 * block, so there is always a good copy), with a scrub of both copies now and then, which
 * repairs the replica's.
 *
 * Must hold: no client ever reads a wrong byte or gets EIO; the region's errors are all
 * repaired (badblocks lists them as repaired, nothing is quarantined); `daxfs scrub
 * --compare` then finds both copies equal with nothing left unrepaired; after a clean stop
 * both images are byte for byte equal and `daxfs check` is clean on both.
 *
 * Usage: test-replica-stress --daxfsd=PATH --cli=PATH [seed]
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "testutil.h"
#include "util.h"

#define PAGE UINT64_C(4096)
#define CLIENTS 8
#define FILES 8
#define FILE_PAGES 16
#define FILE_LEN (FILE_PAGES * PAGE)
#define INJECTIONS 200
#define MAX_BLOCKS 4096 /* distinct blocks injected, remembered */

static struct t_daemon d;
static char region[512], replica[512];
static uint64_t seed0;

struct client {
	unsigned id;
	pthread_t th;
	uint64_t ino[FILES]; /* atomic: published once created */
	uint8_t shadow[FILES][FILE_LEN];
	uint64_t reads, writes;
	char failure[256]; /* empty: none */
};

static struct client clients[CLIENTS];
static int stop;

static void *client_main(void *arg)
{
	struct client *c = arg;
	static __thread uint8_t buf[FILE_LEN];
	uint64_t rng = seed0 * 31 + c->id + 1;
	struct daxfs *fs;
	int rc;

	rc = daxfs_open(&fs, d.sock);
	if (rc) {
		snprintf(c->failure, sizeof(c->failure), "open: %s", strerror(-rc));
		return NULL;
	}
	for (unsigned f = 0; f < FILES; f++) {
		struct daxfs_stat st;
		char name[32];

		snprintf(name, sizeof(name), "/c%u-%u", c->id, f);
		for (uint64_t i = 0; i < FILE_LEN; i++)
			c->shadow[f][i] = (uint8_t)t_rand(&rng);
		if (daxfs_create(fs, name, 0644, DAXFS_CREATE_EXCL, &st) ||
		    daxfs_pwrite(fs, st.ino, c->shadow[f], FILE_LEN, 0) != (ssize_t)FILE_LEN) {
			snprintf(c->failure, sizeof(c->failure), "create %s: %s", name,
				 daxfs_errormsg());
			goto out;
		}
		__atomic_store_n(&c->ino[f], st.ino, __ATOMIC_RELEASE);
	}
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		unsigned f = (unsigned)(t_rand(&rng) % FILES);
		uint64_t ino = c->ino[f];
		ssize_t n;

		if (t_rand(&rng) % 3 == 0) {
			/* Rewrite a part (crossing pages at times) with new bytes. */
			uint64_t off = t_rand(&rng) % FILE_LEN;
			uint64_t len = 1 + t_rand(&rng) % MIN(FILE_LEN - off, 3 * PAGE);

			for (uint64_t i = 0; i < len; i++)
				c->shadow[f][off + i] = (uint8_t)t_rand(&rng);
			n = daxfs_pwrite(fs, ino, c->shadow[f] + off, len, off);
			if (n != (ssize_t)len) {
				snprintf(c->failure, sizeof(c->failure),
					 "write of inode %" PRIu64 " at %" PRIu64 "+%" PRIu64
					 ": %s",
					 ino, off, len, n < 0 ? strerror((int)-n) : "short");
				break;
			}
			c->writes++;
		}
		n = daxfs_pread(fs, ino, buf, FILE_LEN, 0);
		if (n != (ssize_t)FILE_LEN) {
			snprintf(c->failure, sizeof(c->failure), "read of inode %" PRIu64 ": %s",
				 ino, n < 0 ? strerror((int)-n) : "short");
			break;
		}
		if (memcmp(buf, c->shadow[f], FILE_LEN)) {
			uint64_t i = 0;

			while (buf[i] == c->shadow[f][i])
				i++;
			snprintf(c->failure, sizeof(c->failure),
				 "inode %" PRIu64 " byte %" PRIu64 " read %u, wrote %u", ino, i,
				 buf[i], c->shadow[f][i]);
			break;
		}
		c->reads++;
	}
out:
	daxfs_close(fs);
	return NULL;
}

/* block_of - the region offset of page @pg of @ino (UINT64_MAX when it has none). */
static uint64_t block_of(struct daxfs *fs, uint64_t ino, uint64_t pg)
{
	struct daxfs_extent *ext;
	uint64_t off = UINT64_MAX;
	size_t n;

	if (daxfs_extents(fs, ino, &ext, &n))
		return UINT64_MAX;
	for (size_t i = 0; i < n; i++)
		if (pg * PAGE >= ext[i].file_off && pg * PAGE < ext[i].file_off + ext[i].len &&
		    !(ext[i].flags & DAXFS_EXTENT_POISON))
			off = ext[i].region_off + pg * PAGE - ext[i].file_off;
	free(ext);
	return off;
}

static bool seen(const uint64_t *v, size_t n, uint64_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	static uint64_t done[MAX_BLOCKS];
	const char *opts[] = {"--fault-injection", "--replica", NULL, NULL};
	unsigned ours = 0, theirs = 0, scrubs = 0;
	struct daxfs_replica_scrub rs;
	struct daxfs_scrub_result sr;
	struct daxfs_badblock *bb;
	struct daxfs_replica rep;
	struct daxfs_statfs sf;
	uint64_t rng, reads = 0, writes = 0;
	size_t ndone = 0, nbb;
	struct daxfs *fs;
	char *out = NULL;

	t_tools_init(&argc, argv);
	t_require_root("fault injection");
	seed0 = t_seed(argc, argv, 1);
	rng = seed0 * 7 + 3;
	t_watchdog(240, "test-replica-stress");
	snprintf(region, sizeof(region), "%s", t_path("region"));
	snprintf(replica, sizeof(replica), "%s", t_path("replica"));
	{
		const char *mk[] = {t_cli_path(), "mkfs",  "--size", "128M",
				    "--replica",  replica, region,   NULL};

		T_ASSERT(t_run(mk, NULL, NULL) == 0);
	}
	opts[2] = replica;
	t_daemon_start(&d, region, "daxfsd", opts);
	T_OK(daxfs_open(&fs, d.sock));

	for (unsigned i = 0; i < CLIENTS; i++) {
		clients[i].id = i;
		T_ASSERT(pthread_create(&clients[i].th, NULL, client_main, &clients[i]) == 0);
	}
	while (ours + theirs < INJECTIONS) {
		struct client *c = &clients[t_rand(&rng) % CLIENTS];
		uint64_t ino = __atomic_load_n(&c->ino[t_rand(&rng) % FILES], __ATOMIC_ACQUIRE);
		uint64_t off;
		bool replica_side = t_rand(&rng) % 2;

		if (c->failure[0])
			break;
		if (!ino) {
			usleep(1000);
			continue;
		}
		off = block_of(fs, ino, t_rand(&rng) % FILE_PAGES);
		if (off == UINT64_MAX || seen(done, ndone, off) || ndone == MAX_BLOCKS)
			continue;
		done[ndone++] = off;
		T_OK(daxfs_inject(fs, replica_side ? DAXFS_INJECT_REPLICA : DAXFS_INJECT_MEDIA,
				  NULL, off, PAGE, NULL));
		if (replica_side)
			theirs++;
		else
			ours++;
		if ((ours + theirs) % 50 == 0) {
			T_OK(daxfs_scrub_replica(fs, 0, &rs, NULL, NULL));
			T_ASSERT(rs.blocks_unrepaired == 0);
			scrubs++;
		}
		usleep(20000);
	}
	usleep(200000);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < CLIENTS; i++) {
		pthread_join(clients[i].th, NULL);
		if (clients[i].failure[0])
			T_FAIL("client %u: %s", i, clients[i].failure);
		reads += clients[i].reads;
		writes += clients[i].writes;
	}
	T_ASSERT(ours + theirs == INJECTIONS);
	T_ASSERT(reads > 0 && writes > 0);

	/* A scrub of both copies finds the rest, repairs it, and the copies then agree. */
	T_OK(daxfs_scrub_progress(fs, &sr, NULL, NULL));
	T_ASSERT(t_cli(&d, &out, NULL, "scrub", "--compare", NULL) == 0);
	if (!strstr(out, "compared: 0 blocks differ"))
		T_FAIL("scrub --compare said:\n%s", out);
	free(out);
	T_OK(daxfs_statfs(fs, &sf));
	T_ASSERT(sf.blocks_quarantined == 0);
	T_OK(daxfs_badblocks(fs, &bb, &nbb));
	for (size_t i = 0; i < nbb; i++)
		T_ASSERT(bb[i].flags & DAXFS_BADBLOCK_REPAIRED);
	free(bb);
	T_OK(daxfs_replica_status(fs, &rep));
	T_ASSERT(rep.state == DAXFS_REPLICA_INSYNC);
	printf("%" PRIu64 " reads and %" PRIu64 " writes checked; %u injections in the region, "
	       "%u in the replica, %u scrubs between; %" PRIu64 " blocks read from the replica, "
	       "%" PRIu64 " repaired\n",
	       reads, writes, ours, theirs, scrubs, rep.reads, rep.repaired);
	T_ASSERT(rep.repaired == ours);
	daxfs_close(fs);
	t_daemon_stop(&d);
	{
		size_t la, lb;
		char *a = t_read_file(region, &la), *b = t_read_file(replica, &lb);

		T_ASSERT(la == lb && memcmp(a, b, la) == 0);
		free(a);
		free(b);
	}
	t_check_clean(region);
	t_check_clean(replica);
	printf("ok\n");
	return 0;
}
