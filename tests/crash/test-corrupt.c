// SPDX-License-Identifier: MIT
/*
 * test-corrupt - damage an unmounted region on purpose and check what a user then sees:
 * mount either comes up with a consistent namespace (content verified) or fails with a clean
 * negative errno and one log line that names the problem; `daxfs check` (run as the user runs
 * it) agrees; nothing crashes or hangs.
 *
 * Each case starts from a fresh 32 MiB region holding a few directories and files (one past
 * 2 MiB), damaged with pwrite / ftruncate on the image:
 *  a) a flipped bit in a log record with later transactions after it: damage, -EUCLEAN;
 *  b) the last transaction's final record torn (bytes flipped, or zeroed): a torn tail, the
 *     transaction is dropped, the region goes on working across another remount;
 *  c) the image truncated by 4 MiB: a clear refusal;
 *  d) the primary superblock zeroed: check reports it, mount uses the backup and repairs;
 *  e) both superblocks zeroed: -ENODATA "does not hold a daxfs file system";
 *  f) random bytes over the log: a clean error or a clean mount;
 *  g) records with valid checksums that break the rules of docs/format.md §3.1, appended
 *     through the log API: mount refuses naming the record, check reports it.
 *
 * Usage: test-corrupt PATH-TO-daxfs [seed]
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

#include "check.h"
#include "format.h"
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
static uint64_t rng;

/* --- log capture --- */

static char logbuf[16384];
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

static void log_reset(void)
{
	loglen = 0;
	logbuf[0] = '\0';
}

#define T_LOGGED(needle)                                                                   \
	do {                                                                               \
		if (!strstr(logbuf, (needle)))                                             \
			T_FAIL("no log line says \"%s\"; the log:\n%s", (needle), logbuf); \
	} while (0)

/* --- the CLI, as a user runs it --- */

static char cli_out[65536];

/* run_check - `daxfs check [--json] PATH`; output (stdout + stderr) in cli_out. */
static int run_check(const char *path, bool json)
{
	const char *argv[5] = {cli, "check", json ? "--json" : path, json ? path : NULL, NULL};
	size_t len = 0;
	int pfd[2], status;
	pid_t pid;

	T_ASSERT(pipe(pfd) == 0);
	fflush(NULL);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		close(pfd[1]);
		execv(cli, (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t n = read(pfd[0], cli_out + len, sizeof(cli_out) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	cli_out[len] = '\0';
	close(pfd[0]);
	T_ASSERT(waitpid(pid, &status, 0) == pid);
	/* A sanitizer report in the CLI must not pass for its exit status 1. */
	if (strstr(cli_out, "runtime error") || strstr(cli_out, "Sanitizer"))
		T_FAIL("daxfs check %s: sanitizer report:\n%s", path, cli_out);
	if (!WIFEXITED(status))
		T_FAIL("daxfs check %s died (status %#x); output:\n%s", path, status, cli_out);
	return WEXITSTATUS(status);
}

#define T_CLI(path, want)                                                                      \
	do {                                                                                   \
		int _rc = run_check((path), false);                                            \
		if (_rc != (want))                                                             \
			T_FAIL("daxfs check exited %d, expected %d; output:\n%s", _rc, (want), \
			       cli_out);                                                       \
	} while (0)

#define T_CLI_SAYS(needle)                                                                         \
	do {                                                                                       \
		if (!strstr(cli_out, (needle)))                                                    \
			T_FAIL("daxfs check does not say \"%s\"; output:\n%s", (needle), cli_out); \
	} while (0)

/* --- in-process check --- */

static char check_lines[16384];

static void check_line(void *ctx, enum check_severity sev, const char *msg)
{
	size_t n = strlen(check_lines);

	(void)ctx;
	snprintf(check_lines + n, sizeof(check_lines) - n, "%s: %s\n",
		 sev == CHECK_PROBLEM ? "problem" : "note", msg);
}

static int check(const char *path, struct check_result *res)
{
	check_lines[0] = '\0';
	return ns_check(path, check_line, NULL, res);
}

/* --- the content every case starts from --- */

static void gen(uint64_t seed, uint8_t *buf, size_t len)
{
	uint64_t x = seed * UINT64_C(0x9e3779b97f4a7c15) | 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		buf[i] = (uint8_t)((x * UINT64_C(2685821657736338717)) >> 56);
	}
}

/* A file: @len bytes of pattern @seed at @off, then cut (or extended) to @size. */
struct want_file {
	const char *path;
	uint64_t size, seed, off, len;
};

static const char *const want_dirs[] = {"/a", "/a/b"};
static const struct want_file want_files[] = {
	{"/a/f1", 6000, 1, 0, 10000},		      /* written, then truncated */
	{"/a/f2x", 300000, 2, 0, 300000},	      /* renamed from /f2 */
	{"/big", 2621440 + 123, 3, 0, 2621440 + 123}, /* past 2 MiB: huge chunks */
	{"/a/b/f3", 105000, 4, 100000, 5000},	      /* a hole, then data */
};

static uint64_t ino_of(struct ns *ns, const char *path)
{
	struct ns_attr a;

	T_OK(t_resolve(ns, path, &a));
	return a.ino;
}

static uint64_t dir_of(struct ns *ns, const char *path, char *name)
{
	uint64_t dir;

	T_OK(t_resolve_parent(ns, path, &dir, name));
	return dir;
}

static void write_pattern(struct ns *ns, const char *path, uint64_t seed, uint64_t off,
			  uint64_t len)
{
	uint8_t *buf = malloc(len);

	T_ASSERT(buf);
	gen(seed, buf, len);
	T_ASSERT(ns_write(ns, NULL, ino_of(ns, path), buf, len, off) == (ssize_t)len);
	free(buf);
}

static void create(struct ns *ns, const char *path)
{
	char name[NS_NAME_MAX + 1];
	uint64_t dir = dir_of(ns, path, name);

	T_OK(ns_create(ns, NULL, dir, name, 0644, NULL));
}

static void populate(struct ns *ns)
{
	char name[NS_NAME_MAX + 1], name2[NS_NAME_MAX + 1];
	struct ns_setattr sa = {.valid = NS_SET_SIZE, .size = 6000};
	uint64_t d, d2;

	T_OK(ns_mkdir(ns, NULL, NS_ROOT_INO, "a", 0755, NULL));
	d = dir_of(ns, "/a/b", name);
	T_OK(ns_mkdir(ns, NULL, d, name, 0755, NULL));
	create(ns, "/a/f1");
	write_pattern(ns, "/a/f1", 1, 0, 10000);
	create(ns, "/f2");
	write_pattern(ns, "/f2", 2, 0, 300000);
	create(ns, "/big");
	write_pattern(ns, "/big", 3, 0, 2621440 + 123);
	create(ns, "/a/b/f3");
	write_pattern(ns, "/a/b/f3", 4, 100000, 5000);
	d = dir_of(ns, "/f2", name);
	d2 = dir_of(ns, "/a/f2x", name2);
	T_OK(ns_rename(ns, NULL, d, name, d2, name2, 0));
	create(ns, "/gone");
	write_pattern(ns, "/gone", 5, 0, 50000);
	d = dir_of(ns, "/gone", name);
	T_OK(ns_unlink(ns, NULL, d, name));
	T_OK(ns_setattr(ns, NULL, ino_of(ns, "/a/f1"), &sa, NULL));
}

static int count_entries(void *ctx, const char *name, uint64_t ino, uint32_t mode, uint64_t next)
{
	(void)name;
	(void)ino;
	(void)mode;
	(void)next;
	++*(unsigned *)ctx;
	return 0;
}

static unsigned entries(struct ns *ns, const char *dir)
{
	unsigned n = 0;

	T_OK(ns_readdir(ns, NULL, ino_of(ns, dir), 0, count_entries, &n));
	return n;
}

/* verify_content - the namespace is exactly what populate() made, plus @extra entries in /. */
static void verify_content(struct ns *ns, unsigned extra)
{
	struct ns_attr a;
	struct ns_statfs st;

	for (size_t i = 0; i < ARRAY_SIZE(want_dirs); i++) {
		T_OK(t_resolve(ns, want_dirs[i], &a));
		T_ASSERT(S_ISDIR(a.mode));
	}
	for (size_t i = 0; i < ARRAY_SIZE(want_files); i++) {
		const struct want_file *w = &want_files[i];
		uint8_t *got = malloc(w->size + 1), *exp = calloc(1, w->size + w->len);

		T_ASSERT(got && exp);
		T_OK(t_resolve(ns, w->path, &a));
		T_ASSERT(S_ISREG(a.mode));
		if (a.size != w->size)
			T_FAIL("%s: size %" PRIu64 ", expected %" PRIu64, w->path, a.size, w->size);
		gen(w->seed, exp + w->off, w->len);
		T_ASSERT(ns_read(ns, NULL, a.ino, got, w->size + 1, 0) == (ssize_t)w->size);
		if (memcmp(got, exp, w->size) != 0)
			T_FAIL("%s: content differs", w->path);
		free(got);
		free(exp);
	}
	T_ERR(t_resolve(ns, "/f2", &a), ENOENT);
	T_ERR(t_resolve(ns, "/gone", &a), ENOENT);
	T_ASSERT(entries(ns, "/") == 2 + extra); /* a, big */
	T_ASSERT(entries(ns, "/a") == 3);	 /* b, f1, f2x */
	T_ASSERT(entries(ns, "/a/b") == 1);	 /* f3 */
	ns_statfs(ns, &st);
	T_ASSERT(st.orphans == 0);
}

static void mount_ok(struct ns **ns, const char *path)
{
	int rc = ns_mount(ns, path, NULL);

	if (rc)
		T_FAIL("mount %s: %s; the log:\n%s", path, strerror(-rc), logbuf);
}

/* fresh - a new region holding populate()'s content, unmounted; its path. */
static const char *fresh(const char *name)
{
	const char *path = t_path(name);
	struct ns *ns;

	T_OK(ns_mkfs(path, REGION_SIZE, NULL));
	mount_ok(&ns, path);
	populate(ns);
	verify_content(ns, 0);
	ns_unmount(&ns);
	return path;
}

/* --- the image, read and damaged directly --- */

static void img_read(const char *path, void *buf, size_t len, uint64_t off)
{
	int fd = open(path, O_RDONLY);

	T_ASSERT(fd >= 0);
	T_ASSERT(pread(fd, buf, len, (off_t)off) == (ssize_t)len);
	close(fd);
}

static void img_write(const char *path, const void *buf, size_t len, uint64_t off)
{
	int fd = open(path, O_WRONLY);

	T_ASSERT(fd >= 0);
	T_ASSERT(pwrite(fd, buf, len, (off_t)off) == (ssize_t)len);
	T_ASSERT(fsync(fd) == 0);
	close(fd);
}

static void img_super(const char *path, struct fmt_super *sb)
{
	img_read(path, sb, sizeof(*sb), 0);
	T_ASSERT(sb->magic == FMT_MAGIC && sb->csum == fmt_super_csum(sb));
}

struct rec_info {
	uint64_t off; /* in the region */
	uint64_t seq;
	uint32_t len;
	uint16_t type, flags;
};

#define RECS_MAX 4096

/* img_records - the records of the active log that verify, in order. Return: how many. */
static unsigned img_records(const char *path, struct rec_info *out)
{
	struct fmt_super sb;
	uint8_t *area;
	uint64_t off = 0, seq, seed;
	unsigned n = 0;

	img_super(path, &sb);
	area = malloc(sb.log_len);
	T_ASSERT(area);
	img_read(path, area, sb.log_len, sb.log_off[sb.log_active]);
	seq = sb.log_seq;
	seed = sb.log_seed;
	while (n < RECS_MAX && off + sizeof(struct fmt_rec) <= sb.log_len) {
		struct fmt_rec *h = (struct fmt_rec *)(area + off);
		uint8_t copy[FMT_REC_MAX];

		if (h->seq != seq || h->len < FMT_REC_MIN || h->len > FMT_REC_MAX || h->len % 8 ||
		    h->len > sb.log_len - off)
			break;
		memcpy(copy, h, h->len);
		((struct fmt_rec *)copy)->csum = 0;
		if (checksum64(copy, h->len, seed) != h->csum)
			break;
		out[n++] = (struct rec_info){sb.log_off[sb.log_active] + off, seq, h->len, h->type,
					     h->flags};
		seed = h->csum;
		off += h->len;
		seq++;
	}
	free(area);
	return n;
}

/* --- cases --- */

static void case_a_flipped_bit(void)
{
	const char *path = fresh("a.img");
	struct rec_info *recs = calloc(RECS_MAX, sizeof(*recs));
	struct check_result res;
	unsigned n, mid, later_ends = 0;
	uint8_t byte;
	char needle[128];
	struct ns *ns;

	printf("a) a flipped bit in the middle of the log\n");
	T_ASSERT(recs);
	n = img_records(path, recs);
	T_ASSERT(n > 10);
	mid = n / 2;
	for (unsigned i = mid + 1; i < n; i++)
		later_ends += (recs[i].flags & FMT_REC_END) != 0;
	T_ASSERT(later_ends >= 2); /* later transactions exist: the bad record was durable */
	img_read(path, &byte, 1, recs[mid].off + sizeof(struct fmt_rec) + 3);
	byte ^= 0x10;
	img_write(path, &byte, 1, recs[mid].off + sizeof(struct fmt_rec) + 3);

	log_reset();
	T_ERR(ns_mount(&ns, path, NULL), EUCLEAN);
	T_ASSERT(ns == NULL);
	snprintf(needle, sizeof(needle), "record %" PRIu64 " at offset %" PRIu64, recs[mid].seq,
		 recs[mid].off - recs[0].off);
	T_LOGGED(needle);
	T_LOGGED("damaged");

	T_OK(check(path, &res));
	T_ASSERT(res.problems > 0);
	T_ASSERT(strstr(check_lines, needle));
	T_CLI(path, 3);
	T_CLI_SAYS(needle);
	/* Read-only mounts refuse as well: the damage is not a tail to drop. */
	{
		struct ns_mount_opts ro = {.rdonly = true};

		T_ERR(ns_mount(&ns, path, &ro), EUCLEAN);
	}
	free(recs);
}

/* The last transaction is a create of /torn; it is torn by @zero (zero the final record) or
 * by flipping bytes inside it. */
static void case_b_torn_tail(bool zero)
{
	const char *path = fresh(zero ? "b-zero.img" : "b-flip.img");
	struct rec_info *recs = calloc(RECS_MAX, sizeof(*recs));
	struct check_result res;
	unsigned n, first;
	struct ns *ns;
	uint8_t junk[FMT_REC_MAX];

	printf("b) the last transaction's final record %s\n", zero ? "zeroed" : "corrupted");
	T_ASSERT(recs);
	mount_ok(&ns, path);
	create(ns, "/torn");
	write_pattern(ns, "/torn", 6, 0, 3000);
	ns_unmount(&ns);

	n = img_records(path, recs);
	T_ASSERT(n > 3 && (recs[n - 1].flags & FMT_REC_END));
	/* The last transaction: after the END before it. */
	first = n - 1;
	while (first > 0 && !(recs[first - 1].flags & FMT_REC_END))
		first--;
	T_ASSERT(n - first >= 2); /* a write: MAP + INODE */
	if (zero) {
		memset(junk, 0, recs[n - 1].len);
		img_write(path, junk, recs[n - 1].len, recs[n - 1].off);
	} else {
		img_read(path, junk, recs[n - 1].len, recs[n - 1].off);
		for (uint32_t k = recs[n - 1].len / 2; k < recs[n - 1].len; k += 5)
			junk[k] ^= 0xa5;
		img_write(path, junk, recs[n - 1].len, recs[n - 1].off);
	}

	/* Check, before any mount: a torn tail is a note, not a problem. */
	T_OK(check(path, &res));
	if (res.problems)
		T_FAIL("check reports problems for a torn tail:\n%s", check_lines);
	T_ASSERT(res.notes > 0 && res.torn_bytes > 0);
	T_ASSERT(strstr(check_lines, "note: log tail"));
	T_CLI(path, 0);
	T_CLI_SAYS("note: log tail");

	log_reset();
	mount_ok(&ns, path);
	T_LOGGED("dropped");
	{
		struct mlog_stats ls;
		struct ns_attr a;

		mlog_get_stats(ns->log, &ls);
		T_ASSERT(ls.torn_bytes > 0);
		T_ASSERT(ls.used == recs[first].off - recs[0].off);
		/* The write was the last transaction: /torn exists, empty. */
		T_OK(t_resolve(ns, "/torn", &a));
		T_ASSERT(a.size == 0);
	}
	verify_content(ns, 1);
	/* The region goes on: new transactions append after the dropped tail. */
	create(ns, "/after");
	write_pattern(ns, "/after", 7, 0, 70000);
	ns_unmount(&ns);

	T_OK(check(path, &res));
	if (res.problems)
		T_FAIL("check reports problems after new transactions:\n%s", check_lines);
	T_CLI(path, 0);
	mount_ok(&ns, path);
	verify_content(ns, 2);
	{
		struct ns_attr a;
		uint8_t got[70000], exp[70000];

		T_OK(t_resolve(ns, "/torn", &a));
		T_ASSERT(a.size == 0);
		T_OK(t_resolve(ns, "/after", &a));
		T_ASSERT(a.size == sizeof(got));
		T_ASSERT(ns_read(ns, NULL, a.ino, got, sizeof(got), 0) == (ssize_t)sizeof(got));
		gen(7, exp, sizeof(exp));
		T_ASSERT(memcmp(got, exp, sizeof(got)) == 0);
	}
	ns_unmount(&ns);
	free(recs);
}

static void case_c_truncated(void)
{
	const char *path = fresh("c.img");
	struct check_result res;
	struct ns *ns;
	int rc;

	printf("c) the region file truncated by 4 MiB\n");
	T_ASSERT(truncate(path, REGION_SIZE - 4 * MiB) == 0);
	log_reset();
	rc = ns_mount(&ns, path, NULL);
	T_ASSERT(rc == -EUCLEAN && ns == NULL);
	T_LOGGED(path);
	T_LOGGED("was truncated");
	log_reset();
	T_ERR(check(path, &res), EUCLEAN);
	T_LOGGED("was truncated");
	T_CLI(path, 1);
	T_CLI_SAYS("was truncated");
}

static void case_d_primary_zeroed(void)
{
	const char *path = fresh("d.img");
	static uint8_t zeros[FMT_BLOCK_SIZE];
	struct check_result res;
	struct fmt_super sb;
	struct ns *ns;

	printf("d) the primary superblock zeroed\n");
	img_write(path, zeros, sizeof(zeros), 0);
	T_OK(check(path, &res));
	T_ASSERT(!res.primary_ok && res.backup_ok && res.problems > 0);
	T_ASSERT(strstr(check_lines, "primary superblock is damaged"));
	T_CLI(path, 3);
	T_CLI_SAYS("primary superblock is damaged");

	log_reset();
	mount_ok(&ns, path);
	T_LOGGED("primary superblock was damaged or stale; rewriting it");
	verify_content(ns, 0);
	ns_unmount(&ns);

	img_super(path, &sb); /* asserts the primary is valid again */
	T_OK(check(path, &res));
	T_ASSERT(res.primary_ok && res.backup_ok);
	if (res.problems)
		T_FAIL("check after the repair:\n%s", check_lines);
	T_CLI(path, 0);
	mount_ok(&ns, path);
	verify_content(ns, 0);
	ns_unmount(&ns);
}

static void case_e_both_zeroed(void)
{
	const char *path = fresh("e.img");
	static uint8_t zeros[FMT_BLOCK_SIZE];
	struct check_result res;
	struct ns *ns;

	printf("e) both superblocks zeroed\n");
	img_write(path, zeros, sizeof(zeros), 0);
	img_write(path, zeros, sizeof(zeros), fmt_backup_off(REGION_SIZE));
	log_reset();
	T_ERR(ns_mount(&ns, path, NULL), ENODATA);
	T_ASSERT(ns == NULL);
	T_LOGGED("does not hold a daxfs file system");
	T_ERR(check(path, &res), ENODATA);
	T_CLI(path, 1);
	T_CLI_SAYS("does not hold a daxfs file system");
}

/* garbage - random bytes over [@off, @off + @len) of the image. */
static void garbage(const char *path, uint64_t off, uint64_t len)
{
	uint8_t *buf = malloc(len);

	T_ASSERT(buf);
	for (uint64_t i = 0; i < len; i += 8) {
		uint64_t v = t_rand(&rng);

		memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
	}
	img_write(path, buf, len, off);
	free(buf);
}

/* survive - mount must fail cleanly or give a namespace that reads and checks consistently. */
static void survive(const char *path, const char *what)
{
	struct check_result res;
	struct ns *ns;
	int rc, cli_rc;
	bool mounted;

	log_reset();
	rc = ns_mount(&ns, path, NULL);
	mounted = rc == 0;
	if (rc) {
		if (rc != -EUCLEAN && rc != -ENODATA)
			T_FAIL("%s: mount failed with %d (%s)", what, rc, strerror(-rc));
		T_ASSERT(ns == NULL);
		if (!strstr(logbuf, "<3>"))
			T_FAIL("%s: mount failed without an error line; the log:\n%s", what,
			       logbuf);
		printf("   %s: mount refused (%s)\n", what, strerror(-rc));
	} else {
		/* Whatever came up must be readable throughout. */
		struct ns_attr a;
		uint8_t buf[4096];

		T_OK(t_resolve(ns, "/", &a));
		for (size_t i = 0; i < ARRAY_SIZE(want_files); i++)
			if (t_resolve(ns, want_files[i].path, &a) == 0 && S_ISREG(a.mode))
				T_ASSERT(ns_read(ns, NULL, a.ino, buf, sizeof(buf), 0) >= 0);
		ns_unmount(&ns);
		printf("   %s: mounted\n", what);
	}
	rc = check(path, &res);
	T_ASSERT(rc == 0 || rc == -EUCLEAN || rc == -ENODATA);
	cli_rc = run_check(path, false);
	T_ASSERT(cli_rc == 0 || cli_rc == 1 || cli_rc == 3);
	if (rc == 0)
		T_ASSERT(cli_rc == (res.problems ? 3 : 0));
	else
		T_ASSERT(cli_rc == 1);
	/* What mounts is consistent: a prefix of whole transactions. */
	if (mounted && res.problems)
		T_FAIL("%s: mounted, but check finds problems:\n%s", what, check_lines);
}

static void case_f_garbage(void)
{
	struct fmt_super sb;
	const char *path;

	printf("f) random bytes over the log\n");
	path = fresh("f1.img");
	img_super(path, &sb);
	garbage(path, sb.log_off[sb.log_active], sb.log_len);
	survive(path, "the active log area");
	{
		struct ns *ns;

		/* No root directory can come out of random bytes. */
		T_ERR(ns_mount(&ns, path, NULL), EUCLEAN);
		T_LOGGED("no root directory");
		T_CLI(path, 3);
	}

	path = fresh("f2.img");
	img_super(path, &sb);
	garbage(path, sb.log_off[0], sb.log_len);
	garbage(path, sb.log_off[1], sb.log_len);
	survive(path, "both log areas");

	path = fresh("f3.img");
	img_super(path, &sb);
	garbage(path, sb.log_off[sb.log_active] + 4096, sb.log_len - 4096);
	survive(path, "the log after its first 4 KiB");

	path = fresh("f4.img");
	img_super(path, &sb);
	garbage(path, 0, sb.log_off[0] + 2 * sb.log_len);
	survive(path, "the superblock chunk and both log areas");
}

/*
 * append_raw - append one transaction of one record to the log of the mounted @ns, bypassing
 * ns_apply (the namespace never sees it). Return: its sequence number.
 */
static uint64_t append_raw(struct ns *ns, unsigned type, const void *payload, size_t plen)
{
	struct mlog_tx tx;
	struct mlog_stats st;
	void *p;

	mlog_tx_init(&tx);
	p = mlog_tx_add(&tx, type, plen);
	T_ASSERT(p);
	memcpy(p, payload, plen);
	T_OK(mlog_reserve(ns->log, mlog_tx_bytes(&tx)));
	T_OK(mlog_commit(ns->log, &tx));
	mlog_tx_release(&tx);
	mlog_get_stats(ns->log, &st);
	return mlog_super(ns->log)->log_seq + st.records - 1;
}

struct bad_rec {
	const char *what;
	const char *says; /* what mount and check say about it */
};

static void case_g_one(const char *name, const struct bad_rec *b, unsigned type,
		       const void *payload, size_t plen, bool follow)
{
	const char *path = fresh(name);
	struct check_result res;
	char needle[64];
	uint64_t seq;
	struct ns *ns;

	printf("g) a verified record that breaks the rules: %s\n", b->what);
	mount_ok(&ns, path);
	seq = append_raw(ns, type, payload, plen);
	if (follow)
		create(ns, "/later"); /* a later transaction must not change the verdict */
	ns_unmount(&ns);

	snprintf(needle, sizeof(needle), "log record %" PRIu64 ": ", seq);
	log_reset();
	T_ERR(ns_mount(&ns, path, NULL), EUCLEAN);
	T_ASSERT(ns == NULL);
	T_LOGGED(needle);
	T_LOGGED(b->says);
	T_OK(check(path, &res));
	T_ASSERT(res.problems > 0);
	T_ASSERT(strstr(check_lines, needle) && strstr(check_lines, b->says));
	T_CLI(path, 3);
	T_CLI_SAYS(needle);
	T_CLI_SAYS(b->says);
}

static void case_g_rule_breaking(void)
{
	struct fmt_super sb;
	const char *path;
	struct ns *ns;
	uint64_t f1;

	/* A region to learn inode numbers and the layout from. */
	path = fresh("g0.img");
	img_super(path, &sb);
	mount_ok(&ns, path);
	f1 = ino_of(ns, "/a/f1");
	ns_unmount(&ns);

	{
		struct fmt_map m = {.ino = 999999,
				    .index = 0,
				    .block = sb.data_off / 4096 + 7,
				    .count = 1,
				    .order = 0};
		struct bad_rec b = {"MAP of a nonexistent inode", "MAP names inode 999999"};

		case_g_one("g1.img", &b, FMT_REC_MAP, &m, sizeof(m), true);
	}
	{
		uint8_t buf[sizeof(struct fmt_dirent) + 8] = {0};
		struct fmt_dirent *d = (struct fmt_dirent *)buf;
		struct bad_rec b = {"DIRENT_ADD named \"..\"", "has a bad name"};

		d->dir = NS_ROOT_INO;
		d->ino = f1;
		d->name_len = 2;
		memcpy(d->name, "..", 2);
		case_g_one("g2.img", &b, FMT_REC_DIRENT_ADD, d, sizeof(*d) + 2, false);
	}
	{
		/* Block 1: inside the superblock chunk. */
		struct fmt_map m = {.ino = f1, .index = 100, .block = 1, .count = 1, .order = 0};
		struct bad_rec b = {"MAP of a block outside the data area", "has a bad range"};

		case_g_one("g3.img", &b, FMT_REC_MAP, &m, sizeof(m), true);
	}
	{
		/* Past the end of the region. */
		struct fmt_map m = {.ino = f1,
				    .index = 0,
				    .block = REGION_SIZE / 4096 + 512,
				    .count = 512,
				    .order = 9};
		struct bad_rec b = {"MAP of blocks past the region", "has a bad range"};

		case_g_one("g4.img", &b, FMT_REC_MAP, &m, sizeof(m), false);
	}
	{
		struct fmt_inode_del d = {.ino = NS_ROOT_INO};
		struct bad_rec b = {"INODE_DEL of the root", "cannot be removed"};

		case_g_one("g5.img", &b, FMT_REC_INODE_DEL, &d, sizeof(d), true);
	}
	{
		/* A directory INODE with parent 0 (only files have no parent). */
		struct fmt_inode in = {
			.ino = 5000, .parent = 0, .mode = S_IFDIR | 0755, .nlink = 2};
		struct bad_rec b = {"INODE of a directory without a parent", "has bad attributes"};

		case_g_one("g6.img", &b, FMT_REC_INODE, &in, sizeof(in), false);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test-corrupt PATH-TO-daxfs [seed]\n");
		return 2;
	}
	cli = argv[1];
	if (access(cli, X_OK) != 0)
		T_FAIL("%s: %s", cli, strerror(errno));
	t_watchdog(110, "test-corrupt");
	rng = t_seed(argc - 1, argv + 1, 0xc0bb);
	log_set_sink(sink, NULL);
	log_set_level(LOG_LVL_INFO);
	rcu_thread_online();

	case_a_flipped_bit();
	case_b_torn_tail(false);
	case_b_torn_tail(true);
	case_c_truncated();
	case_d_primary_zeroed();
	case_e_both_zeroed();
	case_f_garbage();
	case_g_rule_breaking();

	rcu_thread_offline();
	printf("all cases passed\n");
	return 0;
}
