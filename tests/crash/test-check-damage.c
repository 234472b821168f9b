// SPDX-License-Identifier: MIT
/*
 * test-check-damage - `daxfs check`, run as a user runs it (a subprocess: its exit status,
 * its output and its --json), on images damaged by hand. The damage is made of records with
 * valid chained checksums, appended through the log API of a mounted region (bypassing
 * ns_apply, so the namespace in memory never sees them):
 *  - a clean image: exit 0, "clean", --json "clean": true and no leaked block;
 *  - a block owned twice: a second file gets a MAP of a block the first file owns; exit 3,
 *    the output names "owned twice" and the block, mount refuses with -EUCLEAN;
 *  - leaked blocks: an INODE of a file and a MAP of free blocks, with no DIRENT_ADD (no name
 *    reaches the inode); exit 3, the output says the blocks are leaked, --json counts them
 *    in blocks_leaked and orphans; mount keeps the inode and warns.
 *
 * Usage: test-check-damage PATH-TO-daxfs
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "format.h"
#include "blockmap.h"
#include "log.h"
#include "namespace.h"
#include "nstest.h"
#include "nsint.h"
#include "nsmap.h"
#include "poison.h"
#include "lease.h"
#include "rcu.h"
#include "testutil.h"
#include "util.h"

#define REGION_SIZE (32 * MiB)

static const char *cli;

/* --- log capture --- */

static char logbuf[8192];
static size_t loglen;

static void sink(enum log_level level, const char *msg, void *ctx)
{
	(void)ctx;
	if (getenv("TEST_VERBOSE"))
		fprintf(stderr, "<%d>%s\n", (int)level, msg);
	loglen += (size_t)snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "<%d>%s\n", (int)level,
				   msg);
	if (loglen >= sizeof(logbuf))
		loglen = sizeof(logbuf) - 1;
}

/* --- the CLI --- */

static char out[65536], err[8192];

static size_t slurp(int fd, char *buf, size_t cap)
{
	size_t len = 0;

	for (;;) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return len;
}

/* run_check - `daxfs check [--json] PATH`: stdout in out[], stderr in err[]; exit status. */
static int run_check(const char *path, bool json)
{
	const char *argv[5] = {cli, "check", json ? "--json" : path, json ? path : NULL, NULL};
	const char *errpath = t_path("cli.stderr");
	int pfd[2], efd, status;
	pid_t pid;

	T_ASSERT(pipe(pfd) == 0);
	efd = open(errpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	T_ASSERT(efd >= 0);
	fflush(NULL);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(efd, 2);
		close(pfd[0]);
		close(pfd[1]);
		close(efd);
		execv(cli, (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	slurp(pfd[0], out, sizeof(out));
	close(pfd[0]);
	T_ASSERT(waitpid(pid, &status, 0) == pid);
	T_ASSERT(lseek(efd, 0, SEEK_SET) == 0);
	slurp(efd, err, sizeof(err));
	close(efd);
	/* A sanitizer report in the CLI must not pass for its exit status 1. */
	if (strstr(err, "runtime error") || strstr(err, "Sanitizer"))
		T_FAIL("daxfs check %s: sanitizer report:\n%s", path, err);
	if (!WIFEXITED(status))
		T_FAIL("daxfs check %s died (status %#x); stdout:\n%s\nstderr:\n%s", path, status,
		       out, err);
	return WEXITSTATUS(status);
}

#define T_CLI(path, json, want)                                                                  \
	do {                                                                                     \
		int _rc = run_check((path), (json));                                             \
		if (_rc != (want))                                                               \
			T_FAIL("daxfs check%s exited %d, expected %d; stdout:\n%s\nstderr:\n%s", \
			       (json) ? " --json" : "", _rc, (want), out, err);                  \
	} while (0)

#define T_SAYS(needle)                                                                         \
	do {                                                                                   \
		if (!strstr(out, (needle)))                                                    \
			T_FAIL("daxfs check does not say \"%s\"; stdout:\n%s", (needle), out); \
	} while (0)

/* json_report - parse the --json output of the last run. Caller puts it. */
static json_object *json_report(void)
{
	json_object *j = json_tokener_parse(out);

	if (!j || !json_object_is_type(j, json_type_object))
		T_FAIL("daxfs check --json printed no JSON object:\n%s", out);
	return j;
}

static json_object *jget(json_object *j, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(j, key, &v))
		T_FAIL("daxfs check --json has no \"%s\":\n%s", key, out);
	return v;
}

static uint64_t jget_u64(json_object *j, const char *key)
{
	json_object *v = jget(j, key);

	T_ASSERT(json_object_is_type(v, json_type_int));
	return json_object_get_uint64(v);
}

static bool jget_bool(json_object *j, const char *key)
{
	json_object *v = jget(j, key);

	T_ASSERT(json_object_is_type(v, json_type_boolean));
	return json_object_get_boolean(v);
}

/* json_finding - does a finding of @severity contain @needle? */
static bool json_finding(json_object *j, const char *severity, const char *needle)
{
	json_object *f = jget(j, "findings");

	T_ASSERT(json_object_is_type(f, json_type_array));
	for (size_t i = 0; i < json_object_array_length(f); i++) {
		json_object *e = json_object_array_get_idx(f, i), *sev, *msg;

		if (!json_object_object_get_ex(e, "severity", &sev) ||
		    !json_object_object_get_ex(e, "message", &msg))
			T_FAIL("a finding without severity or message:\n%s", out);
		if (strcmp(json_object_get_string(sev), severity) == 0 &&
		    strstr(json_object_get_string(msg), needle))
			return true;
	}
	return false;
}

/* --- images --- */

static uint64_t ino_of(struct ns *ns, const char *path)
{
	struct ns_attr a;

	T_OK(t_resolve(ns, path, &a));
	return a.ino;
}

static uint64_t create(struct ns *ns, uint64_t dir, const char *name, size_t len, uint8_t fill)
{
	struct ns_attr a;
	uint8_t *buf = malloc(len + 1);

	T_ASSERT(buf);
	memset(buf, fill, len);
	T_OK(ns_create(ns, NULL, dir, name, 0644, &a));
	if (len)
		T_ASSERT(ns_write(ns, NULL, a.ino, buf, len, 0) == (ssize_t)len);
	free(buf);
	return a.ino;
}

/* fresh - a region with a directory and a few files; mounted in *@ns. */
static const char *fresh(const char *name, struct ns **ns)
{
	const char *path = t_path(name);
	struct ns_attr d;

	T_OK(ns_mkfs(path, REGION_SIZE, NULL));
	T_OK(ns_mount(ns, path, NULL));
	T_OK(ns_mkdir(*ns, NULL, NS_ROOT_INO, "dir", 0755, &d));
	create(*ns, d.ino, "f1", 8192, 0x11);
	create(*ns, NS_ROOT_INO, "f2", 0, 0);
	create(*ns, NS_ROOT_INO, "big", 3 * MiB + 5, 0x33);
	return path;
}

/* block_of - the block behind page @index of file @ino (it must have one). */
static uint64_t block_of(struct ns *ns, uint64_t ino, uint64_t index)
{
	struct ns_inode *in;
	uint64_t first, blk;
	xt_entry e;

	rcu_read_begin();
	in = ns_inode_find(ns, ino);
	T_ASSERT(in);
	e = __xt_load(&in->map, index, &first, NULL);
	T_ASSERT(xt_is_value(e) && !bm_is_hole(e));
	blk = bm_to_block(e) + (index - first);
	rcu_read_end();
	return blk;
}

/* raw_tx - commit @n records as one transaction, bypassing ns_apply. */
struct raw {
	unsigned type;
	const void *payload;
	size_t len;
};

static void raw_tx(struct ns *ns, const struct raw *recs, unsigned n)
{
	struct mlog_tx tx;

	mlog_tx_init(&tx);
	for (unsigned i = 0; i < n; i++) {
		void *p = mlog_tx_add(&tx, recs[i].type, recs[i].len);

		T_ASSERT(p);
		memcpy(p, recs[i].payload, recs[i].len);
	}
	T_OK(mlog_reserve(ns->log, mlog_tx_bytes(&tx)));
	T_OK(mlog_commit(ns->log, &tx));
	mlog_tx_release(&tx);
}

/* --- cases --- */

static void case_clean(void)
{
	struct ns *ns;
	const char *path = fresh("clean.img", &ns);
	json_object *j;

	printf("a clean image\n");
	ns_unmount(&ns);
	T_CLI(path, false, 0);
	T_SAYS("clean");
	T_CLI(path, true, 0);
	j = json_report();
	T_ASSERT(jget_bool(j, "clean"));
	T_ASSERT(jget_u64(j, "problems") == 0);
	T_ASSERT(jget_u64(j, "blocks_leaked") == 0);
	T_ASSERT(jget_u64(j, "orphans") == 0);
	T_ASSERT(jget_u64(j, "files") == 3 && jget_u64(j, "directories") == 2);
	/* f1: 2 blocks; big: 2 chunks (it grew past 2 MiB) */
	T_ASSERT(jget_u64(j, "blocks_owned") == 2 + 1024);
	T_ASSERT(jget_u64(j, "blocks_owned") + jget_u64(j, "blocks_free") ==
		 jget_u64(j, "data_blocks"));
	json_object_put(j);
}

static void case_owned_twice(void)
{
	struct ns *ns;
	const char *path = fresh("twice.img", &ns);
	uint64_t f1 = ino_of(ns, "/dir/f1"), f2 = ino_of(ns, "/f2"), blk = block_of(ns, f1, 1);
	struct fmt_map m = {.ino = f2, .index = 0, .block = blk, .count = 1, .order = 0};
	struct raw r[] = {{FMT_REC_MAP, &m, sizeof(m)}};
	char needle[64];
	json_object *j;

	printf("a block owned twice (block %" PRIu64 ")\n", blk);
	raw_tx(ns, r, 1);
	ns_unmount(&ns);

	snprintf(needle, sizeof(needle), "block %" PRIu64 " is owned twice", blk);
	T_CLI(path, false, 3);
	T_SAYS(needle);
	T_SAYS("problem: ");
	T_CLI(path, true, 3);
	j = json_report();
	T_ASSERT(!jget_bool(j, "clean"));
	T_ASSERT(jget_u64(j, "problems") >= 1);
	T_ASSERT(json_finding(j, "problem", needle));
	json_object_put(j);

	loglen = 0;
	logbuf[0] = '\0';
	T_ERR(ns_mount(&ns, path, NULL), EUCLEAN);
	if (!strstr(logbuf, needle))
		T_FAIL("mount does not say \"%s\"; the log:\n%s", needle, logbuf);
}

static void case_leaked(void)
{
	struct ns *ns;
	const char *path = fresh("leak.img", &ns);
	struct alloc *a = ns_alloc(ns);
	const struct fmt_super *sb = mlog_super(ns->log);
	uint64_t last = (sb->data_off + sb->data_len) / FMT_BLOCK_SIZE - 1, blk, ino = 4000;
	struct fmt_inode in = {.ino = ino,
			       .parent = 0,
			       .mode = S_IFREG | 0644,
			       .nlink = 1,
			       .size = 3 * FMT_BLOCK_SIZE};
	struct fmt_map m = {.ino = ino, .index = 0, .count = 3, .order = 0};
	struct raw r[] = {{FMT_REC_INODE, &in, sizeof(in)}, {FMT_REC_MAP, &m, sizeof(m)}};
	struct ns_statfs st;
	char needle[96];
	json_object *j;

	/* Three free blocks at the end of the data area. */
	for (blk = last - 2; blk > last - 4096; blk--)
		if (alloc_is_free(a, blk) && alloc_is_free(a, blk + 1) && alloc_is_free(a, blk + 2))
			break;
	T_ASSERT(alloc_is_free(a, blk) && alloc_is_free(a, blk + 1) && alloc_is_free(a, blk + 2));
	m.block = blk;
	printf("leaked blocks (inode %" PRIu64 ", blocks %" PRIu64 "+3)\n", ino, blk);
	raw_tx(ns, r, 2);
	ns_unmount(&ns);

	snprintf(needle, sizeof(needle),
		 "inode %" PRIu64 " is not reachable from the root; its 3 blocks are leaked", ino);
	T_CLI(path, false, 3);
	T_SAYS(needle);
	T_SAYS(", 3 leaked");
	T_CLI(path, true, 3);
	j = json_report();
	T_ASSERT(!jget_bool(j, "clean"));
	T_ASSERT(jget_u64(j, "blocks_leaked") == 3);
	T_ASSERT(jget_u64(j, "orphans") == 1);
	T_ASSERT(jget_u64(j, "files") == 4);
	T_ASSERT(json_finding(j, "problem", needle));
	json_object_put(j);

	/* Mount keeps the orphan and its blocks, and says so. */
	loglen = 0;
	logbuf[0] = '\0';
	T_OK(ns_mount(&ns, path, NULL));
	if (!strstr(logbuf, "1 inodes are not reachable from the root"))
		T_FAIL("mount does not warn about the orphan; the log:\n%s", logbuf);
	ns_statfs(ns, &st);
	T_ASSERT(st.orphans == 1);
	T_ASSERT(!alloc_is_free(ns_alloc(ns), blk) && !alloc_is_free(ns_alloc(ns), blk + 2));
	ns_unmount(&ns);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test-check-damage PATH-TO-daxfs\n");
		return 2;
	}
	cli = argv[1];
	if (access(cli, X_OK) != 0)
		T_FAIL("%s: %s", cli, strerror(errno));
	t_watchdog(110, "test-check-damage");
	log_set_sink(sink, NULL);
	rcu_thread_online();

	case_clean();
	case_owned_twice();
	case_leaked();

	rcu_thread_offline();
	printf("all cases passed\n");
	return 0;
}
