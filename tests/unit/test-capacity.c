// SPDX-License-Identifier: MIT
/*
 * test-capacity - ns_capacity() (engine/capacity.c), what 'daxfs df -i' and statfs's
 * f_files/f_ffree report:
 *  - the snapshot it measures is exactly what a checkpoint then writes;
 *  - each empty file with a 16-byte name takes exactly file_bytes of it, so inodes_free
 *    goes down by one per file created;
 *  - filling the namespace with such files stops ("metadata log full") after exactly as
 *    many files as inodes_free said there was room for, and then inodes_free is 0;
 *  - removing files gives the room back;
 *  - measuring leaves lazy attributes to be logged (it is not a checkpoint).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "namespace.h"
#include "rcu.h"
#include "testutil.h"

#define MiB (UINT64_C(1) << 20)

/* name16 - the 16-byte name of file @i. */
static const char *name16(uint64_t i, char buf[32])
{
	snprintf(buf, 32, "file%012" PRIu64, i);
	T_ASSERT(strlen(buf) == NS_CAPACITY_NAME);
	return buf;
}

static void capacity(struct ns *ns, struct ns_capacity *cap)
{
	memset(cap, 0xff, sizeof(*cap));
	T_OK(ns_capacity(ns, cap));
	T_ASSERT(cap->file_bytes > 0 && cap->snapshot_bytes < cap->log_len);
}

int main(void)
{
	struct ns_mkfs_opts mo = {.log_len = 2 * MiB};
	struct ns_capacity c0, c1, c2;
	struct ns_statfs st;
	struct ns *ns;
	uint64_t made = 0, dir;
	struct ns_attr a;
	char name[32];
	int rc;

	t_watchdog(300, "test-capacity");
	rcu_thread_online();
	T_OK(ns_mkfs(t_path("cap.img"), 64 * MiB, &mo));
	T_OK(ns_mount(&ns, t_path("cap.img"), NULL));

	/* A fresh namespace: the root alone, a whole log area less what it takes. */
	capacity(ns, &c0);
	T_ASSERT(c0.inodes == 1 && c0.log_len == 2 * MiB);
	T_ASSERT(c0.inodes_free > 10000 && c0.inodes_free < c0.log_len / c0.file_bytes);
	printf("fresh: %" PRIu64 " inodes, room for %" PRIu64 " more (%" PRIu64
	       " bytes each; snapshot %" PRIu64 " bytes of %" PRIu64 ")\n",
	       c0.inodes, c0.inodes_free, c0.file_bytes, c0.snapshot_bytes, c0.log_len);

	/* The measure is what a checkpoint writes: after one, the active area holds just it. */
	T_OK(ns_mkdir(ns, NULL, NS_ROOT_INO, "d", 0755, &a));
	dir = a.ino;
	for (uint64_t i = 0; i < 100; i++)
		T_OK(ns_create(ns, NULL, dir, name16(i, name), 0644, NULL));
	T_OK(ns_create(ns, NULL, dir, "data", 0644, &a));
	T_ASSERT(ns_write(ns, NULL, a.ino, "x", 1, 0) == 1);
	T_ASSERT(ns_write(ns, NULL, a.ino, "y", 1, 10 * 4096) == 1); /* two runs: two MAP records */
	capacity(ns, &c1);
	T_OK(ns_checkpoint(ns));
	ns_statfs(ns, &st);
	if (st.log_used != c1.snapshot_bytes)
		T_FAIL("the checkpoint wrote %" PRIu64 " bytes, ns_capacity measured %" PRIu64,
		       st.log_used, c1.snapshot_bytes);
	T_ASSERT(c1.inodes == 1 + 1 + 101);

	/* Each 16-byte empty file: exactly file_bytes more, one fewer free. */
	for (uint64_t i = 100; i < 150; i++)
		T_OK(ns_create(ns, NULL, dir, name16(i, name), 0644, NULL));
	capacity(ns, &c2);
	T_ASSERT(c2.snapshot_bytes == c1.snapshot_bytes + 50 * c1.file_bytes);
	T_ASSERT(c2.inodes == c1.inodes + 50 && c2.inodes_free == c1.inodes_free - 50);

	/* Fill it: exactly inodes_free more files fit, then the log is full. */
	for (uint64_t i = 150;; i++) {
		rc = ns_create(ns, NULL, dir, name16(i, name), 0644, NULL);
		if (rc == -ENOSPC)
			break;
		T_OK(rc);
		made++;
		T_ASSERT(made <= c2.inodes_free + 1);
	}
	printf("filled: %" PRIu64 " more files fit, ns_capacity said %" PRIu64 "\n", made,
	       c2.inodes_free);
	if (made != c2.inodes_free)
		T_FAIL("%" PRIu64 " files fit, ns_capacity said %" PRIu64, made, c2.inodes_free);
	capacity(ns, &c1);
	T_ASSERT(c1.inodes_free == 0 && c1.inodes == c2.inodes + made);

	/* Removing files makes room again, one file each. */
	for (uint64_t i = 0; i < 10; i++)
		T_OK(ns_unlink(ns, NULL, dir, name16(i, name)));
	capacity(ns, &c2);
	T_ASSERT(c2.inodes == c1.inodes - 10 && c2.inodes_free >= 9 && c2.inodes_free <= 10);
	for (uint64_t i = 0; i < c2.inodes_free; i++)
		T_OK(ns_create(ns, NULL, dir, name16(i, name), 0644, NULL));

	/*
	 * Measuring is not a checkpoint: an overwrite's lazy mtime, still to be logged, stays
	 * so and survives the unmount.
	 */
	T_OK(ns_lookup(ns, NULL, dir, "data", &a));
	T_ASSERT(ns_write(ns, NULL, a.ino, "z", 1, 0) == 1);
	T_OK(ns_getattr(ns, a.ino, &a));
	capacity(ns, &c1);
	ns_unmount(&ns);
	T_OK(ns_mount(&ns, t_path("cap.img"), NULL));
	{
		struct ns_attr b;

		T_OK(ns_getattr(ns, a.ino, &b));
		if (b.mtime != a.mtime)
			T_FAIL("mtime %" PRId64 " after the remount, %" PRId64 " before", b.mtime,
			       a.mtime);
	}
	ns_unmount(&ns);
	rcu_thread_offline();
	printf("ok\n");
	return 0;
}
