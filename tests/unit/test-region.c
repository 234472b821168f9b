// SPDX-License-Identifier: MIT
/*
 * test-region - an emulated region (an ordinary file in a temp dir under /tmp): create, the
 * reported size / kind / alignment / granularity, bytes that survive close and reopen, the
 * exclusive lock, read-only maps, and every open error a user can run into, each with the
 * one log line that names the path.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "region.h"

#define MiB_ (1024ULL * 1024)

static pid_t main_pid;
static char tmpdir[64];
static char p_main[128], p_small[128], p_odd[128], p_ro[128], p_fifo[128], p_missing[128];
static char p_tiny_create[128], p_fsize[128];

#define CHECK(cond)                                                                           \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "test-region: line %d: check failed: %s\n", __LINE__, \
				#cond);                                                       \
			fprintf(stderr, "  last log line: %s\n", logbuf.last);                \
			exit(1);                                                              \
		}                                                                             \
	} while (0)

/* ---- log capture -------------------------------------------------------------------------- */

static struct {
	int lines;  /* any level */
	int errors; /* warnings and errors */
	char last[1024];
} logbuf;

static void sink(enum log_level level, const char *msg, void *ctx)
{
	logbuf.lines++;
	logbuf.errors += level <= LOG_LVL_WARNING;
	snprintf(logbuf.last, sizeof(logbuf.last), "%s", msg);
	if (getenv("TEST_VERBOSE"))
		fprintf(stderr, "<%d>%s\n", (int)level, msg);
}

static void log_reset(void)
{
	logbuf.lines = 0;
	logbuf.errors = 0;
	logbuf.last[0] = '\0';
}

/* expect_fail - region_open must fail with @err, leave *out NULL and log one line naming
 * the path and containing @needle (when given) */
static void expect_fail(int line, const char *path, enum region_kind kind, unsigned flags,
			uint64_t size, int err, const char *needle)
{
	struct region *r = (struct region *)&logbuf; /* must come back NULL */
	int ret;

	log_reset();
	ret = region_open(&r, path, kind, flags, size);
	if (ret != err || r != NULL || logbuf.lines != 1 || !strstr(logbuf.last, path) ||
	    (needle && !strstr(logbuf.last, needle))) {
		fprintf(stderr,
			"test-region: line %d: region_open(%s) = %d (%s), want %d (%s); %d log "
			"lines, last: \"%s\", want it to name the path%s%s\n",
			line, path, ret, strerror(-ret), err, strerror(-err), logbuf.lines,
			logbuf.last, needle ? " and contain " : "", needle ? needle : "");
		exit(1);
	}
}

#define EXPECT_FAIL(...) expect_fail(__LINE__, __VA_ARGS__)

static void cleanup(void)
{
	const char *paths[] = {p_main, p_small, p_odd, p_ro, p_fifo, p_tiny_create, p_fsize};

	if (getpid() != main_pid)
		return; /* a failing child: the parent cleans up */
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (paths[i][0])
			unlink(paths[i]);
	if (tmpdir[0])
		rmdir(tmpdir);
}

static void make_file(const char *path, off_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	CHECK(fd >= 0);
	CHECK(ftruncate(fd, size) == 0);
	close(fd);
}

static void fill_pattern(unsigned char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 131 + seed + (i >> 9));
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_create_write_reopen(void)
{
	static unsigned char pat[8192], pat2[3000];
	unsigned char *big, *back;
	struct region *r = NULL;
	uint64_t msyncs;
	struct stat st;
	unsigned char *base;
	int fl;

	/* a missing file is created with the given size and mode 0600 */
	log_reset();
	CHECK(region_open(&r, p_main, REGION_AUTO, REGION_CREATE, 32 * MiB_) == 0);
	CHECK(r != NULL);
	CHECK(stat(p_main, &st) == 0);
	CHECK(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600);
	CHECK((uint64_t)st.st_size == 32 * MiB_);
	CHECK(region_size(r) == 32 * MiB_);
	/* no -o dax file system here: page cache, persistence by msync */
	if (region_kind(r) == REGION_FSDAX) {
		printf("test-region: %s is on a DAX file system; emulated-only checks skipped\n",
		       tmpdir);
		CHECK(strcmp(region_granularity(r), "page") != 0);
	} else {
		CHECK(region_kind(r) == REGION_EMULATED);
		CHECK(strcmp(region_granularity(r), "page") == 0);
	}
	CHECK(strcmp(region_kind_name(region_kind(r)),
		     region_kind(r) == REGION_FSDAX ? "fsdax" : "emulated") == 0);
	CHECK(region_alignment(r) == (uint64_t)sysconf(_SC_PAGESIZE));
	CHECK(strcmp(region_path(r), p_main) == 0);
	CHECK(!region_is_rdonly(r));
	CHECK(region_base(r) != NULL);
	CHECK((uintptr_t)region_base(r) % region_alignment(r) == 0);
	CHECK(region_at(r, 4096) == (char *)region_base(r) + 4096);
	fl = fcntl(region_fd(r), F_GETFL);
	CHECK(fl >= 0 && (fl & O_ACCMODE) == O_RDWR && !(fl & O_NONBLOCK));
	CHECK(fcntl(region_fd(r), F_GETFD) & FD_CLOEXEC);

	/* writes through every primitive */
	base = region_base(r);
	fill_pattern(pat, sizeof(pat), 7);
	fill_pattern(pat2, sizeof(pat2), 99);
	region_memcpy(r, base + MiB_ + 123, pat, sizeof(pat), 0);
	region_memcpy(r, base + 5 * MiB_, pat2, sizeof(pat2), REGION_NONTEMPORAL | REGION_NODRAIN);
	region_drain(r);
	region_memset(r, base + 32 * MiB_ - 4096, 0xa5, 4096, REGION_NODRAIN | REGION_NOFLUSH);
	region_flush(r, base + 32 * MiB_ - 4096, 4096);
	region_drain(r);
	memcpy(base + 7, "daxfs", 5);
	region_persist(r, base + 7, 5);
	/*
	 * Large stores: on a file system that writes pages back (a region on disk) they go
	 * through pwrite on the region's file, on tmpfs through the mapping; either way the
	 * mapping shows them at once, and a drain makes them durable with one msync per range.
	 */
	big = malloc(MiB_ + 333);
	back = malloc(MiB_ + 333);
	CHECK(big && back);
	fill_pattern(big, MiB_ + 333, 42);
	msyncs = region_msyncs(r);
	region_memcpy(r, base + 9 * MiB_ + 77, big, MiB_ + 333, 0);
	CHECK(memcmp(base + 9 * MiB_ + 77, big, MiB_ + 333) == 0);
	CHECK(pread(region_fd(r), back, MiB_ + 333, (off_t)(9 * MiB_ + 77)) ==
	      (ssize_t)(MiB_ + 333));
	CHECK(memcmp(back, big, MiB_ + 333) == 0);
	region_memcpy(r, base + 12 * MiB_, big, 128 * 1024, REGION_NODRAIN);
	region_memcpy(r, base + 12 * MiB_ + 128 * 1024, big + 5, 64 * 1024, REGION_NODRAIN);
	region_drain(r);
	CHECK(memcmp(base + 12 * MiB_ + 128 * 1024, big + 5, 64 * 1024) == 0);
	if (region_kind(r) == REGION_EMULATED) /* two drains: two msyncs, not one per page */
		CHECK(region_msyncs(r) - msyncs == 2);
	region_close(&r);
	CHECK(r == NULL);
	region_close(&r); /* accepts NULL */
	region_close(NULL);

	/* reopen: the bytes are there; REGION_CREATE on an existing file keeps its size */
	CHECK(region_open(&r, p_main, REGION_AUTO, REGION_CREATE, 64 * MiB_) == 0);
	CHECK(region_size(r) == 32 * MiB_);
	base = region_base(r);
	CHECK(memcmp(base + MiB_ + 123, pat, sizeof(pat)) == 0);
	CHECK(memcmp(base + 5 * MiB_, pat2, sizeof(pat2)) == 0);
	for (size_t i = 0; i < 4096; i++)
		CHECK(base[32 * MiB_ - 4096 + i] == 0xa5);
	CHECK(memcmp(base + 7, "daxfs", 5) == 0);
	CHECK(memcmp(base + 9 * MiB_ + 77, big, MiB_ + 333) == 0);
	CHECK(memcmp(base + 12 * MiB_, big, 128 * 1024) == 0);
	CHECK(memcmp(base + 12 * MiB_ + 128 * 1024, big + 5, 64 * 1024) == 0);
	free(big);
	free(back);
	CHECK(base[6] == 0 && base[12] == 0);
	region_close(&r);
	/* a successful create, open and close warn about nothing */
	CHECK(logbuf.errors == 0);
}

static void test_lock(void)
{
	struct region *r1 = NULL, *r2 = NULL;

	CHECK(region_open(&r1, p_main, REGION_AUTO, 0, 0) == 0);
	EXPECT_FAIL(p_main, REGION_AUTO, 0, 0, -EBUSY, "is in use by another process");
	EXPECT_FAIL(p_main, REGION_AUTO, REGION_RDONLY, 0, -EBUSY, "in use");
	/* REGION_NOLOCK (tests only) neither takes nor respects the lock */
	CHECK(region_open(&r2, p_main, REGION_EMULATED, REGION_NOLOCK, 0) == 0);
	CHECK(memcmp((char *)region_base(r2) + 7, "daxfs", 5) == 0);
	region_close(&r2);
	EXPECT_FAIL(p_main, REGION_AUTO, 0, 0, -EBUSY, "is in use by another process");
	region_close(&r1);
	/* closing dropped the lock */
	CHECK(region_open(&r1, p_main, REGION_AUTO, 0, 0) == 0);
	region_close(&r1);
}

static void test_kind_mismatch(void)
{
	struct region *r = NULL;
	enum region_kind k;

	EXPECT_FAIL(p_main, REGION_DEVDAX, 0, 0, -EINVAL, "is a regular file, not a devdax device");
	CHECK(region_open(&r, p_main, REGION_AUTO, 0, 0) == 0);
	k = region_kind(r);
	region_close(&r);
	CHECK(region_open(&r, p_main, k, 0, 0) == 0);
	region_close(&r);
	if (k == REGION_EMULATED)
		EXPECT_FAIL(p_main, REGION_FSDAX, 0, 0, -EINVAL, "not fsdax");
	else
		EXPECT_FAIL(p_main, REGION_EMULATED, 0, 0, -EINVAL, "not emulated");
	EXPECT_FAIL(p_main, (enum region_kind)42, 0, 0, -EINVAL, NULL);
	/* a file created for a kind it turns out not to be is removed again */
	EXPECT_FAIL(p_tiny_create, REGION_DEVDAX, REGION_CREATE, 32 * MiB_, -EINVAL,
		    "not a devdax device");
	CHECK(access(p_tiny_create, F_OK) == -1 && errno == ENOENT);
	EXPECT_FAIL(p_tiny_create, k == REGION_EMULATED ? REGION_FSDAX : REGION_EMULATED,
		    REGION_CREATE, 32 * MiB_, -EINVAL,
		    k == REGION_EMULATED ? "not fsdax" : "not emulated");
	CHECK(access(p_tiny_create, F_OK) == -1 && errno == ENOENT);
	/* a failed open leaves no lock behind */
	CHECK(region_open(&r, p_main, REGION_AUTO, 0, 0) == 0);
	region_close(&r);
}

static void test_open_errors(void)
{
	struct region *r = NULL;
	struct stat st;

	EXPECT_FAIL(p_missing, REGION_AUTO, 0, 0, -ENOENT, "does not exist");
	EXPECT_FAIL(p_missing, REGION_AUTO, REGION_RDONLY, 0, -ENOENT, "does not exist");

	/* too small: refused with both sizes in the message, nothing created */
	EXPECT_FAIL(p_tiny_create, REGION_AUTO, REGION_CREATE, MiB_, -EFBIG, "16777216");
	CHECK(stat(p_tiny_create, &st) == -1 && errno == ENOENT);
	make_file(p_small, (off_t)MiB_);
	EXPECT_FAIL(p_small, REGION_AUTO, 0, 0, -EFBIG, "1048576");
	EXPECT_FAIL(p_small, REGION_AUTO, REGION_CREATE, 64 * MiB_, -EFBIG, "16777216");
	CHECK(stat(p_small, &st) == 0 && st.st_size == (off_t)MiB_); /* left alone */
	make_file(p_small, (off_t)(16 * MiB_ - 1));
	EXPECT_FAIL(p_small, REGION_AUTO, 0, 0, -EFBIG, "16777216");

	/* a size that is not a multiple of the alignment: the tail is left out */
	make_file(p_odd, (off_t)(16 * MiB_ + 100));
	CHECK(region_open(&r, p_odd, REGION_AUTO, 0, 0) == 0);
	CHECK(region_size(r) == 16 * MiB_);
	region_close(&r);

	/* not a regular file or character device */
	EXPECT_FAIL(tmpdir, REGION_AUTO, 0, 0, -EINVAL, "directory");
	EXPECT_FAIL(tmpdir, REGION_AUTO, REGION_RDONLY, 0, -EINVAL, "directory");
	CHECK(mkfifo(p_fifo, 0600) == 0);
	EXPECT_FAIL(p_fifo, REGION_AUTO, 0, 0, -EINVAL, "not a regular file or character device");
	EXPECT_FAIL(p_fifo, REGION_AUTO, REGION_RDONLY, 0, -EINVAL, "not a regular file");
	/* a character device that is not devdax */
	EXPECT_FAIL("/dev/null", REGION_AUTO, REGION_NOLOCK, 0, -EINVAL, "not a devdax device");
	EXPECT_FAIL("/dev/null", REGION_EMULATED, REGION_NOLOCK, 0, -EINVAL, "character device");

	/* contradictory flags */
	EXPECT_FAIL(p_tiny_create, REGION_AUTO, REGION_CREATE | REGION_RDONLY, 32 * MiB_, -EINVAL,
		    "read-only");
	CHECK(stat(p_tiny_create, &st) == -1 && errno == ENOENT);
	log_reset();
	CHECK(region_open(&r, "", REGION_AUTO, 0, 0) == -EINVAL && r == NULL);
	CHECK(logbuf.lines == 1);
}

static void test_rdonly(void)
{
	struct region *r = NULL;
	int fl;

	CHECK(region_open(&r, p_main, REGION_AUTO, REGION_RDONLY, 0) == 0);
	CHECK(region_is_rdonly(r));
	CHECK(region_size(r) == 32 * MiB_);
	CHECK(memcmp((char *)region_base(r) + 7, "daxfs", 5) == 0);
	fl = fcntl(region_fd(r), F_GETFL);
	CHECK(fl >= 0 && (fl & O_ACCMODE) == O_RDONLY && !(fl & O_NONBLOCK));
	region_close(&r);
}

/* check_ro_file - as the owner of a 0400 file: read-write fails with -EACCES, read-only works */
static int check_ro_file(void)
{
	struct region *r = NULL;

	EXPECT_FAIL(p_ro, REGION_AUTO, 0, 0, -EACCES, "cannot be opened for writing");
	CHECK(region_open(&r, p_ro, REGION_AUTO, REGION_RDONLY, 0) == 0);
	CHECK(memcmp(region_base(r), "ro", 2) == 0);
	region_close(&r);
	return 0;
}

static void test_ro_file(void)
{
	struct region *r = NULL;
	pid_t pid;
	int status;

	CHECK(region_open(&r, p_ro, REGION_AUTO, REGION_CREATE, 16 * MiB_) == 0);
	region_memcpy(r, region_base(r), "ro", 2, 0);
	region_close(&r);
	CHECK(chmod(p_ro, 0400) == 0);
	if (geteuid() != 0) {
		check_ro_file();
		return;
	}
	/* root opens anything: check as an ordinary user that owns the file */
	CHECK(chown(p_ro, 65534, 65534) == 0);
	CHECK(chmod(tmpdir, 0755) == 0);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (setgid(65534) || setuid(65534)) {
			perror("test-region: setuid(65534)");
			_exit(1);
		}
		check_ro_file();
		_exit(0); /* not exit(): the parent owns the temp dir and its cleanup */
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* root itself can still open it read-write */
	CHECK(region_open(&r, p_ro, REGION_AUTO, 0, 0) == 0);
	region_close(&r);
	CHECK(chmod(tmpdir, 0700) == 0);
}

/* test_create_cleanup - a create that cannot allocate leaves no file behind */
static void test_create_cleanup(void)
{
	struct stat st;
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = {.rlim_cur = 4 * MiB_, .rlim_max = 4 * MiB_};

		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl)) {
			perror("test-region: setrlimit");
			_exit(1);
		}
		EXPECT_FAIL(p_fsize, REGION_AUTO, REGION_CREATE, 32 * MiB_, -EFBIG,
			    "cannot allocate");
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(stat(p_fsize, &st) == -1 && errno == ENOENT);
}

static void test_badblocks(void)
{
	struct region_badblock *bb = (struct region_badblock *)&logbuf;
	struct region *r = NULL;
	enum log_level saved = log_get_level();

	CHECK(region_open(&r, p_main, REGION_AUTO, 0, 0) == 0);
	log_set_level(LOG_LVL_DEBUG);
	log_reset();
	if (region_kind(r) == REGION_EMULATED) {
		CHECK(region_badblocks(r, &bb) == 0);
		CHECK(bb == NULL);
		CHECK(logbuf.lines == 0);
	} else {
		int n = region_badblocks(r, &bb);

		CHECK(n >= 0);
		free(bb);
	}
	log_set_level(saved);
	region_close(&r);
}

int main(void)
{
	main_pid = getpid();
	log_init_from_env();
	log_set_sink(sink, NULL);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/daxfs-test-region-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("test-region: mkdtemp");
		return 1;
	}
	atexit(cleanup);
	snprintf(p_main, sizeof(p_main), "%s/main", tmpdir);
	snprintf(p_small, sizeof(p_small), "%s/small", tmpdir);
	snprintf(p_odd, sizeof(p_odd), "%s/odd", tmpdir);
	snprintf(p_ro, sizeof(p_ro), "%s/ro", tmpdir);
	snprintf(p_fifo, sizeof(p_fifo), "%s/fifo", tmpdir);
	snprintf(p_missing, sizeof(p_missing), "%s/missing", tmpdir);
	snprintf(p_tiny_create, sizeof(p_tiny_create), "%s/tiny", tmpdir);
	snprintf(p_fsize, sizeof(p_fsize), "%s/fsize", tmpdir);

	test_create_write_reopen();
	test_lock();
	test_kind_mismatch();
	test_open_errors();
	test_rdonly();
	test_ro_file();
	test_create_cleanup();
	test_badblocks();
	printf("test-region: ok\n");
	return 0;
}
