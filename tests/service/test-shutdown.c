// SPDX-License-Identifier: MIT
/*
 * test-shutdown - SIGTERM in the middle of a 16-client workload: daxfsd exits with status
 * 0, 'daxfs check' finds the region clean, and after a restart every write a client had
 * acknowledged is there, byte for byte.
 *
 * Each client writes 4 KiB records to its own file, one after the other, and counts the
 * ones daxfs_pwrite acknowledged; it stops at its first error (the shutdown).
 *
 * Usage: test-shutdown --daxfsd=PATH --cli=PATH
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "testutil.h"

#define CLIENTS 16
#define REC 4096
#define MAX_RECS 4096 /* 16 MiB a client: the region never fills */

static struct t_daemon d;

struct client {
	pthread_t thread;
	int id;
	uint64_t acked; /* atomic: records acknowledged */
	int err;	/* the error that stopped it */
};

static void fill(uint8_t *buf, int id, uint64_t k)
{
	for (size_t i = 0; i < REC; i += 8) {
		uint64_t v = ((uint64_t)id << 48) ^ (k << 16) ^ i;

		memcpy(buf + i, &v, 8);
	}
}

static void *client(void *arg)
{
	struct client *c = arg;
	struct daxfs_stat st;
	struct daxfs *fs;
	uint8_t buf[REC];
	char path[32];
	int rc;

	rc = daxfs_open(&fs, d.sock);
	if (rc) {
		c->err = rc;
		return NULL;
	}
	snprintf(path, sizeof(path), "/c%d", c->id);
	rc = daxfs_create(fs, path, 0644, 0, &st);
	if (rc) {
		c->err = rc;
		goto out;
	}
	for (uint64_t k = 0; k < MAX_RECS; k++) {
		ssize_t n;

		fill(buf, c->id, k);
		n = daxfs_pwrite(fs, st.ino, buf, REC, k * REC);
		if (n != REC) {
			c->err = n < 0 ? (int)n : -EIO;
			break;
		}
		__atomic_store_n(&c->acked, k + 1, __ATOMIC_RELEASE);
	}
out:
	daxfs_close(fs);
	return NULL;
}

int main(int argc, char **argv)
{
	static struct client cs[CLIENTS];
	const char *check[] = {NULL, "check", NULL, NULL};
	uint64_t total = 0;
	struct daxfs *fs;
	uint8_t want[REC], got[REC];
	char *out = NULL;
	int rc;

	t_tools_init(&argc, argv);
	t_watchdog(240, "test-shutdown");
	t_region_new(t_path("region"), "512M");
	t_daemon_start(&d, t_path("region"), "daxfsd", NULL);

	for (int i = 0; i < CLIENTS; i++) {
		cs[i].id = i;
		T_ASSERT(pthread_create(&cs[i].thread, NULL, client, &cs[i]) == 0);
	}
	/* Wait until every client is writing, then a little more. */
	for (int i = 0; i < CLIENTS; i++) {
		while (!__atomic_load_n(&cs[i].acked, __ATOMIC_ACQUIRE) && !cs[i].err)
			nanosleep(&(struct timespec){0, 1000000}, NULL);
		if (cs[i].err)
			T_FAIL("client %d failed before the shutdown: %s", i, strerror(-cs[i].err));
	}
	nanosleep(&(struct timespec){0, 200 * 1000000}, NULL);

	/* SIGTERM mid-workload: exit status 0, socket removed, no sanitizer report. */
	t_daemon_stop(&d);
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(cs[i].thread, NULL);
		if (!cs[i].err)
			T_FAIL("client %d wrote all %d records before the shutdown", i, MAX_RECS);
		/* The shutdown refused it or closed its session; nothing else. */
		if (cs[i].err != -ESHUTDOWN && cs[i].err != -ECONNRESET && cs[i].err != -EPIPE)
			T_FAIL("client %d stopped with %s, not the shutdown", i,
			       strerror(-cs[i].err));
		total += cs[i].acked;
	}
	printf("SIGTERM with %d clients writing: exit 0; %llu records acknowledged\n", CLIENTS,
	       (unsigned long long)total);

	check[0] = t_cli_path();
	check[2] = d.region;
	rc = t_run(check, &out, NULL);
	if (rc != 0)
		T_FAIL("daxfs check: exit %d:\n%s", rc, out ? out : "");
	free(out);
	printf("daxfs check: clean\n");

	t_daemon_start(&d, t_path("region"), "daxfsd", NULL);
	T_OK(daxfs_open(&fs, d.sock));
	for (int i = 0; i < CLIENTS; i++) {
		struct daxfs_stat st;
		char path[32];

		snprintf(path, sizeof(path), "/c%d", i);
		T_OK(daxfs_stat(fs, path, &st));
		if (st.size < cs[i].acked * REC)
			T_FAIL("%s: size %llu after restart, %llu records were acknowledged", path,
			       (unsigned long long)st.size, (unsigned long long)cs[i].acked);
		for (uint64_t k = 0; k < cs[i].acked; k++) {
			fill(want, i, k);
			T_ASSERT(daxfs_pread(fs, st.ino, got, REC, k * REC) == REC);
			if (memcmp(want, got, REC))
				T_FAIL("%s: record %llu differs after restart", path,
				       (unsigned long long)k);
		}
	}
	daxfs_close(fs);
	printf("after restart: all %llu acknowledged records present\n", (unsigned long long)total);
	t_daemon_stop(&d);
	return 0;
}
