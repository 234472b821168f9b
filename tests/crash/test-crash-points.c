// SPDX-License-Identifier: MIT
/*
 * test-crash-points - crash a real daxfsd (--fault-injection) on purpose and check what it
 * acknowledged is there after the crash (DESIGN §8, §9; issue #5).
 *
 * Default mode, every named point: the points come from `daxfs inject points`, so a new one
 * is covered without a change here (but "upgrade", which only a mount passes: see
 * test-upgrade.sh). For each point: a fresh 16 MiB region (a 2 MiB log), a
 * daemon on it, a warm-up workload, then `inject crash POINT` and a workload that passes
 * every point: random creates, writes, truncates, unlinks, renames (also over an existing
 * name) and mkdirs, extended attributes (some long enough to take several XATTR_SET
 * chunks), symbolic and hard links made and removed; a read mapping (another handle, its events on the library's thread) and
 * a truncate under it (lease-break); an injected poison on a file's block
 * (poison-after-rmap); a removed file's block poisoned and cleared again (badblock-clear);
 * create + unlink churn until the log is checkpointed twice (checkpoint-*). Every operation
 * that got its reply is recorded in a model. The daemon must then die by SIGABRT with the
 * point named in its log (a point the workload never reaches fails the test); `daxfs
 * check` of the region is clean; a daemon started on it again shows
 * every acknowledged operation: the names (readdir), the sizes and the bytes written, the
 * poisoned page reads EIO (when the inject was acknowledged). The operation in flight may be
 * there or not.
 *
 * --persist mode: persistence tracing. A daemon runs with --persist-trace IMAGE and is told
 * to crash at the Nth persist from now (N random in 1..PERSIST_NMAX), then random operations
 * run until it does. After each crash: `daxfs check IMAGE` is clean, IMAGE is copied
 * over the region, and the next round's daemon starts on it and must show every operation
 * acknowledged before the crash (then its own round goes on from that state, as in
 * test-crash). 200 crashes.
 *
 * Usage: test-crash-points --daxfsd=PATH --cli=PATH [--persist | --point=NAME] [seed]
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "testutil.h"

#define PAGE UINT64_C(4096)
#define NSLOTS 10
#define NDIRS 4
#define FILE_MAX (96 * 1024)
#define WRITE_MAX (32 * 1024)
#define RANDOM_OPS 40	     /* per round, points mode */
#define PERSIST_NMAX 60	     /* --persist mode: crash at a persist in 1..PERSIST_NMAX */
#define PERSIST_OPS_MAX 1000 /* operations that must reach it */
#define PERSIST_CRASHES 200
#define CHURN_MAX 40000		/* create + unlink cycles before giving up on a checkpoint */
#define POISON_FILE "/poisoned" /* never touched by the random operations */
#define MAPPED_FILE "/mapped"

static struct t_daemon d;
static uint64_t rng;
static bool persist_mode;

static uint64_t rnd(uint64_t n)
{
	return t_rand(&rng) % n;
}

/* --- the model of what was acknowledged --- */

#define TAG_MAX 6000 /* an xattr value over one log record: chunked (format v2) */

struct slot {
	bool exists, uncertain; /* uncertain: touched by the operation in flight */
	uint64_t size;
	uint8_t data[FILE_MAX];
	uint32_t tag_len; /* its user.tag attribute: 0 when none */
	uint8_t tag[TAG_MAX];
	/* /l<i>: a symbolic link to f<i> (link), or a hard link of f<i> (hard) */
	bool link, hard, link_uncertain;
};

static struct model {
	struct slot f[NSLOTS];
	bool dir[NDIRS], dir_uncertain[NDIRS];
	/* the dedicated files */
	bool poisoned_exists, mapped_exists;
	uint8_t poisoned_data[4 * PAGE];
	uint64_t mapped_size, mapped_size_new; /* the truncate in flight: either */
	int poison_state; /* 0 none; 1 injected and acknowledged; 2 in flight */
	uint64_t acked;
} m;

static const char *slot_path(int i)
{
	static char buf[4][32];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "/f%d", i);
	return buf[k];
}

static void fill(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)t_rand(&rng);
}

/* --- the operations --- */

struct handles {
	struct daxfs *fs;     /* the workload */
	struct daxfs *admin;  /* inject requests: exempt from the "send" point */
	struct daxfs *mapper; /* the read mapping */
	struct daxfs_map *map;
};

/*
 * do_op - one random operation on the slots. Marks what it touches uncertain first and,
 * when acknowledged, updates the model and clears that.
 * Return: 0 acknowledged; the negative errno of a failure (the daemon died).
 */
static int do_op(struct daxfs *fs)
{
	static uint8_t buf[WRITE_MAX];
	int i = (int)rnd(NSLOTS), j = (int)rnd(NSLOTS), kind = (int)rnd(100), rc;
	struct slot *s = &m.f[i], *t = &m.f[j];
	struct daxfs_stat st;

	if (kind < 5) {
		int k = (int)rnd(NDIRS);
		char path[32];

		if (m.dir[k])
			return 0;
		snprintf(path, sizeof(path), "/dir%d", k);
		m.dir_uncertain[k] = true;
		rc = daxfs_mkdir(fs, path, 0755, NULL);
		if (rc)
			return rc;
		m.dir[k] = true;
		m.dir_uncertain[k] = false;
		m.acked++;
		return 0;
	}
	if (!s->exists && (s->hard || s->link)) {
		/* Its links go before it is made again (they name it by its number). */
		char lpath[32];

		snprintf(lpath, sizeof(lpath), "/l%d", i);
		s->link_uncertain = true;
		rc = daxfs_unlink(fs, lpath);
		if (rc)
			return rc;
		if (s->hard)
			s->tag_len = 0;
		s->link = s->hard = false;
		s->link_uncertain = false;
		m.acked++;
		return 0;
	}
	if (!s->exists) {
		s->uncertain = true;
		rc = daxfs_create(fs, slot_path(i), 0644, DAXFS_CREATE_EXCL, NULL);
		if (rc)
			return rc;
		s->exists = true;
		s->size = 0;
		s->uncertain = false;
		m.acked++;
		return 0;
	}
	s->uncertain = true;
	if (kind < 50) { /* write */
		uint64_t off = rnd(FILE_MAX - 1), len = 1 + rnd(WRITE_MAX);
		ssize_t n;

		if (off + len > FILE_MAX)
			len = FILE_MAX - off;
		fill(buf, len);
		rc = daxfs_stat(fs, slot_path(i), &st);
		if (rc)
			return rc;
		n = daxfs_pwrite(fs, st.ino, buf, len, off);
		if (n < 0)
			return (int)n;
		T_ASSERT(n == (ssize_t)len);
		memcpy(s->data + off, buf, len);
		if (off > s->size)
			memset(s->data + s->size, 0, off - s->size);
		if (off + len > s->size)
			s->size = off + len;
	} else if (kind < 65) { /* truncate */
		uint64_t size = rnd(FILE_MAX + 1);

		rc = daxfs_truncate(fs, slot_path(i), size);
		if (rc)
			return rc;
		if (size > s->size)
			memset(s->data + s->size, 0, size - s->size);
		s->size = size;
	} else if (kind < 74) { /* unlink */
		rc = daxfs_unlink(fs, slot_path(i));
		if (rc)
			return rc;
		s->exists = false;
		if (!s->hard)
			s->tag_len =
				0; /* the attributes go with the inode, unless /l<i> keeps it */
	} else if (kind < 82) {	   /* an extended attribute, chunked when long */
		uint32_t len = 1 + (uint32_t)rnd(rnd(4) ? 64 : TAG_MAX);
		static uint8_t tag[TAG_MAX];

		fill(tag, len);
		rc = daxfs_stat(fs, slot_path(i), &st);
		if (rc == 0)
			rc = daxfs_setxattr(fs, st.ino, "user.tag", tag, len, 0);
		if (rc)
			return rc;
		memcpy(s->tag, tag, len);
		s->tag_len = len;
		if (s->hard)
			s->tag_len = len; /* one inode */
	} else if (kind < 88) {		  /* /l<i>: a symbolic or hard link made, or removed */
		char lpath[32], target[32];

		snprintf(lpath, sizeof(lpath), "/l%d", i);
		s->link_uncertain = true;
		if (s->link || s->hard) {
			rc = daxfs_unlink(fs, lpath);
			if (rc)
				return rc;
			if (s->hard && !s->exists)
				s->tag_len = 0; /* its last name: the inode went */
			s->link = s->hard = false;
		} else if (rnd(2)) {
			snprintf(target, sizeof(target), "f%d", i);
			rc = daxfs_symlink(fs, target, lpath, NULL);
			if (rc)
				return rc;
			s->link = true;
		} else {
			rc = daxfs_link(fs, slot_path(i), lpath, NULL);
			if (rc)
				return rc;
			s->hard = true;
		}
		s->link_uncertain = false;
	} else { /* rename, over an existing name or not */
		if (i == j) {
			s->uncertain = false;
			return 0;
		}
		t->uncertain = true;
		/* (Slots with links are left alone: the links name a slot by its number.) */
		if (s->link || s->hard || t->link || t->hard) {
			s->uncertain = t->uncertain = false;
			return 0;
		}
		rc = daxfs_rename(fs, slot_path(i), slot_path(j), 0);
		if (rc)
			return rc;
		t->exists = true;
		t->size = s->size;
		memcpy(t->data, s->data, s->size);
		t->tag_len = s->tag_len;
		memcpy(t->tag, s->tag, s->tag_len);
		s->exists = false;
		s->tag_len = 0;
		t->uncertain = false;
	}
	s->uncertain = false;
	m.acked++;
	return 0;
}

/* map_and_truncate - a mapping of MAPPED_FILE and a truncate under it (a lease break). */
static int map_and_truncate(struct handles *h)
{
	struct daxfs_stat st;
	int rc;

	rc = daxfs_stat(h->fs, MAPPED_FILE, &st);
	if (rc)
		return rc;
	rc = daxfs_map_new(h->mapper, st.ino, 0, 16 * PAGE, DAXFS_MAP_READ, &h->map);
	if (rc)
		return rc;
	m.mapped_size_new = 4 * PAGE;
	rc = daxfs_truncate(h->fs, MAPPED_FILE, 4 * PAGE);
	if (rc)
		return rc;
	m.mapped_size = 4 * PAGE;
	m.acked++;
	return 0;
}

/* inject_poison - poison the block under page 1 of POISON_FILE. */
static int inject_poison(struct handles *h)
{
	struct daxfs_extent *ext;
	struct daxfs_stat st;
	uint64_t off = UINT64_MAX, n;
	size_t count;
	int rc;

	rc = daxfs_stat(h->fs, POISON_FILE, &st);
	if (rc)
		return rc;
	rc = daxfs_extents(h->fs, st.ino, &ext, &count);
	if (rc)
		return rc;
	for (size_t i = 0; i < count; i++)
		if (PAGE >= ext[i].file_off && PAGE < ext[i].file_off + ext[i].len)
			off = ext[i].region_off + PAGE - ext[i].file_off;
	free(ext);
	T_ASSERT(off != UINT64_MAX);
	m.poison_state = 2;
	rc = daxfs_inject(h->admin, DAXFS_INJECT_POISON, NULL, off, PAGE, &n);
	if (rc)
		return rc;
	T_ASSERT(n == 1);
	m.poison_state = 1;
	m.acked++;
	return 0;
}

/*
 * clear_badblock - a block of a removed file poisoned, then returned to use (badblock-clear,
 * and the checkpoint that drops its BADBLOCK record). Which state it has after a crash is
 * not in the model: the check and the restart must be clean either way.
 */
static int clear_badblock(struct handles *h)
{
	static uint8_t page[PAGE];
	struct daxfs_extent *ext = NULL;
	struct daxfs_stat st;
	size_t count = 0;
	uint64_t off, n;
	int rc;

	rc = daxfs_create(h->fs, "/churn", 0644, DAXFS_CREATE_EXCL, &st);
	if (rc)
		return rc;
	rc = (int)daxfs_pwrite(h->fs, st.ino, page, PAGE, 0);
	if (rc < 0)
		return rc;
	rc = daxfs_extents(h->fs, st.ino, &ext, &count);
	if (rc)
		return rc;
	T_ASSERT(count == 1);
	off = ext[0].region_off;
	free(ext);
	rc = daxfs_unlink(h->fs, "/churn");
	if (!rc)
		rc = daxfs_inject(h->admin, DAXFS_INJECT_POISON, NULL, off, PAGE, &n);
	if (!rc)
		rc = daxfs_badblock_clear(h->admin, off, PAGE, &n);
	return rc;
}

/* churn - create + unlink until the log has been checkpointed twice. */
static int churn(struct daxfs *fs, int *cycles)
{
	struct daxfs_statfs sf;
	uint64_t last = 0;
	int wraps = 0, rc;

	for (*cycles = 0; *cycles < CHURN_MAX && wraps < 2; (*cycles)++) {
		rc = daxfs_create(fs, "/churn", 0644, DAXFS_CREATE_EXCL, NULL);
		if (!rc)
			rc = daxfs_unlink(fs, "/churn");
		if (!rc && *cycles % 64 == 0)
			rc = daxfs_statfs(fs, &sf);
		if (rc) {
			/* "/churn" may or may not be there: the readdir check allows it. */
			return rc;
		}
		if (*cycles % 64 == 0) {
			if (sf.log_used < last)
				wraps++;
			last = sf.log_used;
		}
	}
	return 0;
}

/* --- checking the model --- */

static void expect_file(struct daxfs *fs, const char *path, uint64_t size, const uint8_t *data,
			int64_t bad_page, bool bad_certain)
{
	static uint8_t buf[FILE_MAX];
	struct daxfs_stat st;

	T_OK(daxfs_stat(fs, path, &st));
	if (st.size != size)
		T_FAIL("%s: size %" PRIu64 ", acknowledged %" PRIu64, path, st.size, size);
	for (uint64_t off = 0; off < size; off += PAGE) {
		uint64_t len = size - off < PAGE ? size - off : PAGE;
		ssize_t n = daxfs_pread(fs, st.ino, buf, len, off);

		if ((int64_t)(off / PAGE) == bad_page) {
			if (n == -EIO)
				continue;
			if (bad_certain)
				T_FAIL("%s: the poisoned page reads %zd, not EIO", path, n);
		}
		if (n != (ssize_t)len)
			T_FAIL("%s: pread at %" PRIu64 " = %zd (%s)", path, off, n,
			       n < 0 ? strerror((int)-n) : "short");
		if (memcmp(buf, data + off, len) != 0)
			T_FAIL("%s: the bytes at [%" PRIu64 ", +%" PRIu64 ") are not the ones "
			       "acknowledged",
			       path, off, len);
	}
}

static int names_cb(void *ctx, const char *name, uint64_t ino, uint32_t mode)
{
	int i;

	(void)ctx;
	(void)ino;
	if (sscanf(name, "f%d", &i) == 1 && i >= 0 && i < NSLOTS) {
		if (!m.f[i].exists && !m.f[i].uncertain)
			T_FAIL("/%s is there, but its unlink (or rename) was acknowledged", name);
		T_ASSERT(S_ISREG(mode));
	} else if (sscanf(name, "l%d", &i) == 1 && i >= 0 && i < NSLOTS) {
		if (!m.f[i].link && !m.f[i].hard && !m.f[i].link_uncertain)
			T_FAIL("/%s is there, but was removed or never made", name);
	} else if (sscanf(name, "dir%d", &i) == 1 && i >= 0 && i < NDIRS) {
		if (!m.dir[i] && !m.dir_uncertain[i])
			T_FAIL("/%s is there, but was never made", name);
	} else if (strcmp(name, "poisoned") != 0 && strcmp(name, "mapped") != 0 &&
		   strcmp(name, "churn") != 0) {
		T_FAIL("/%s is there, but was never made", name);
	}
	return 0;
}

/* check_tag - f<i>'s user.tag is the acknowledged one (adopted when it was in flight). */
static void check_tag(struct daxfs *fs, int i, uint64_t ino)
{
	static uint8_t buf[TAG_MAX];
	struct slot *s = &m.f[i];
	ssize_t n = daxfs_getxattr(fs, ino, "user.tag", buf, sizeof(buf));

	T_ASSERT(n >= 0 || n == -ENODATA);
	if (s->uncertain) {
		s->tag_len = n > 0 ? (uint32_t)n : 0;
		memcpy(s->tag, buf, s->tag_len);
		return;
	}
	if ((n == -ENODATA ? 0 : n) != (ssize_t)s->tag_len ||
	    (n > 0 && memcmp(buf, s->tag, (size_t)n) != 0))
		T_FAIL("%s: user.tag of %zd bytes, acknowledged %u bytes", slot_path(i), n,
		       s->tag_len);
}

/* check_link - /l<i> is what was acknowledged: a symbolic link to f<i>, a hard link, none. */
static void check_link(struct daxfs *fs, int i)
{
	struct slot *s = &m.f[i];
	struct daxfs_statx x, f;
	char path[32], buf[64];
	ssize_t n;
	int rc;

	snprintf(path, sizeof(path), "/l%d", i);
	rc = daxfs_statx(fs, path, DAXFS_STAT_NOFOLLOW, &x);
	T_ASSERT(rc == 0 || rc == -ENOENT);
	if (s->link_uncertain) {
		s->link = rc == 0 && S_ISLNK(x.st.mode);
		s->hard = rc == 0 && S_ISREG(x.st.mode);
		s->link_uncertain = false;
	}
	if ((rc == 0) != (s->link || s->hard))
		T_FAIL("%s %s, yet the model says it %s", path, rc ? "is missing" : "exists",
		       s->link || s->hard ? "does" : "does not");
	if (s->link) {
		n = daxfs_readlink(fs, path, buf, sizeof(buf));
		snprintf(path, sizeof(path), "f%d", i);
		T_ASSERT(S_ISLNK(x.st.mode) && n == (ssize_t)strlen(path) &&
			 memcmp(buf, path, (size_t)n) == 0);
	} else if (s->hard) {
		T_ASSERT(S_ISREG(x.st.mode));
		if (daxfs_statx(fs, slot_path(i), DAXFS_STAT_NOFOLLOW, &f) == 0)
			T_ASSERT(f.st.ino == x.st.ino && x.st.nlink == 2);
		else
			T_ASSERT(x.st.nlink == 1); /* f<i> was unlinked: /l<i> keeps it */
	}
}

/*
 * check_model - every acknowledged operation is there; what the operation in flight touched
 * is adopted as found (it may have happened or not).
 */
static void check_model(struct daxfs *fs)
{
	static uint8_t buf[FILE_MAX];
	struct daxfs_stat st;

	T_OK(daxfs_readdir(fs, "/", names_cb, NULL));
	for (int i = 0; i < NDIRS; i++) {
		char path[32];
		int rc;

		snprintf(path, sizeof(path), "/dir%d", i);
		rc = daxfs_stat(fs, path, &st);
		if (m.dir[i] && rc)
			T_FAIL("%s: its mkdir was acknowledged, yet stat says %s", path,
			       strerror(-rc));
		T_ASSERT(rc == 0 || rc == -ENOENT);
		m.dir[i] = rc == 0;
		m.dir_uncertain[i] = false;
	}
	for (int i = 0; i < NSLOTS; i++) {
		struct slot *s = &m.f[i];
		int rc = daxfs_stat(fs, slot_path(i), &st);

		T_ASSERT(rc == 0 || rc == -ENOENT);
		if (s->uncertain) {
			/* Adopt what is there. */
			s->exists = rc == 0;
			s->uncertain = false;
			if (!s->exists)
				continue;
			T_ASSERT(st.size <= FILE_MAX);
			s->size = st.size;
			T_ASSERT(daxfs_pread(fs, st.ino, buf, st.size, 0) == (ssize_t)st.size);
			memcpy(s->data, buf, st.size);
			continue;
		}
		if (s->exists != (rc == 0))
			T_FAIL("%s %s, yet the model says it %s", slot_path(i),
			       rc ? "is missing" : "exists", s->exists ? "does" : "does not");
		if (s->exists)
			expect_file(fs, slot_path(i), s->size, s->data, -1, false);
		if (s->exists)
			check_tag(fs, i, st.ino);
		check_link(fs, i);
	}
	if (m.poisoned_exists)
		expect_file(fs, POISON_FILE, sizeof(m.poisoned_data), m.poisoned_data,
			    m.poison_state ? 1 : -1, m.poison_state == 1);
	if (m.mapped_exists) {
		T_OK(daxfs_stat(fs, MAPPED_FILE, &st));
		if (st.size != m.mapped_size && st.size != m.mapped_size_new)
			T_FAIL("%s: size %" PRIu64 ", acknowledged %" PRIu64, MAPPED_FILE, st.size,
			       m.mapped_size);
		m.mapped_size = m.mapped_size_new = st.size;
	}
}

/* --- rounds --- */

static void open_handles(struct handles *h)
{
	T_OK(daxfs_open(&h->fs, d.sock));
	T_OK(daxfs_open(&h->admin, d.sock));
	T_OK(daxfs_open(&h->mapper, d.sock));
	T_OK(daxfs_event_thread_start(h->mapper));
	h->map = NULL;
}

static void close_handles(struct handles *h)
{
	daxfs_map_delete(&h->map);
	daxfs_close(h->mapper);
	daxfs_close(h->admin);
	daxfs_close(h->fs);
}

/* warm_up - the dedicated files and a few operations, all acknowledged. */
static void warm_up(struct handles *h)
{
	static uint8_t buf[16 * PAGE];
	struct daxfs_stat st;

	fill(m.poisoned_data, sizeof(m.poisoned_data));
	T_OK(daxfs_create(h->fs, POISON_FILE, 0644, DAXFS_CREATE_EXCL, &st));
	T_ASSERT(daxfs_pwrite(h->fs, st.ino, m.poisoned_data, sizeof(m.poisoned_data), 0) ==
		 (ssize_t)sizeof(m.poisoned_data));
	m.poisoned_exists = true;
	fill(buf, sizeof(buf));
	T_OK(daxfs_create(h->fs, MAPPED_FILE, 0644, DAXFS_CREATE_EXCL, &st));
	T_ASSERT(daxfs_pwrite(h->fs, st.ino, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf));
	m.mapped_exists = true;
	m.mapped_size = m.mapped_size_new = sizeof(buf);
	for (int i = 0; i < 10; i++)
		T_OK(do_op(h->fs));
}

/* died - the daemon must end by SIGABRT, naming @why in its log. */
static void died(const char *why)
{
	char needle[96];
	int status = t_daemon_wait_exit(&d, 30000);

	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
		T_FAIL("daxfsd ended with status 0x%x, not by SIGABRT (%s)", status, why);
	snprintf(needle, sizeof(needle), "fault injection: crashing at %s", why);
	if (!t_daemon_log_has(&d, needle))
		T_FAIL("daxfsd's log does not say \"%s\"", needle);
}

/* points_list - the names `daxfs inject points` prints (its first column). */
static int points_list(char names[][32], int max)
{
	const char *argv[] = {t_cli_path(), "inject", "points", NULL};
	char *out, *line, *save = NULL;
	int n = 0;

	if (t_run(argv, &out, NULL) != 0)
		T_FAIL("daxfs inject points failed");
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		T_ASSERT(n < max);
		T_ASSERT(sscanf(line, "%31s", names[n]) == 1);
		n++;
	}
	free(out);
	T_ASSERT(n > 0);
	return n;
}

static void run_point(const char *point)
{
	static const char *const opts[] = {"--fault-injection", "--map-users", "root", NULL};
	const char *phase = "random operations";
	struct handles h;
	uint64_t t0 = t_now_ms();
	int rc = 0, cycles = 0;

	memset(&m, 0, sizeof(m));
	unlink(t_path("region"));
	t_region_new(t_path("region"), "16M");
	t_daemon_start(&d, t_path("region"), "daxfsd", opts);
	open_handles(&h);
	warm_up(&h);
	T_OK(daxfs_inject(h.admin, DAXFS_INJECT_CRASH, point, 0, 0, NULL));
	for (int i = 0; i < RANDOM_OPS && !rc; i++)
		rc = do_op(h.fs);
	if (!rc) {
		phase = "mapping + truncate";
		rc = map_and_truncate(&h);
	}
	if (!rc) {
		phase = "poison";
		rc = inject_poison(&h);
	}
	if (!rc) {
		phase = "bad-block clear";
		rc = clear_badblock(&h);
	}
	if (!rc) {
		phase = "log churn";
		rc = churn(h.fs, &cycles);
	}
	if (!rc) {
		close_handles(&h);
		t_daemon_stop(&d);
		T_FAIL("the workload never reached the point %s", point);
	}
	died(point);
	close_handles(&h);
	t_check_clean(t_path("region"));
	t_daemon_respawn(&d);
	T_OK(daxfs_open(&h.fs, d.sock));
	check_model(h.fs);
	daxfs_close(h.fs);
	t_daemon_stop(&d);
	t_check_clean(t_path("region"));
	t_daemon_forget(&d);
	printf("%-20s crashed during the %s (%s; %d churn cycles), %" PRIu64
	       " operations acknowledged, all there (%" PRIu64 " ms)\n",
	       point, phase, strerror(-rc), cycles, m.acked, t_now_ms() - t0);
}

/* --- --persist --- */

static void copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	struct stat sb;

	T_ASSERT(in >= 0 && out >= 0 && fstat(in, &sb) == 0);
	for (off_t done = 0; done < sb.st_size;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)(sb.st_size - done), 0);

		if (n <= 0)
			T_FAIL("copying %s to %s: %s", from, to, n ? strerror(errno) : "EOF");
		done += n;
	}
	close(in);
	close(out);
}

static void run_persist(void)
{
	/* 200 daemon runs: few threads, and no polling, which only competes for the CPUs. */
	const char *opts[] = {
		"--fault-injection", "--map-users",   "root", "--workers", "4", "--poll-us", "0",
		"--persist-trace",   t_path("image"), NULL};
	uint64_t t0 = t_now_ms(), picks = 0, ops = 0, t_check = 0, t_start = 0, t;
	struct handles h;

	setenv("DAXFS_SPIN_US", "0", 1);
	memset(&m, 0, sizeof(m));
	t_region_new(t_path("region"), "16M");
	t_daemon_start(&d, t_path("region"), "daxfsd", opts);
	open_handles(&h);
	warm_up(&h);
	for (int crashes = 0; crashes < PERSIST_CRASHES; crashes++) {
		uint64_t n = 1 + rnd(PERSIST_NMAX);
		int rc = 0, i;

		picks += n;
		T_OK(daxfs_inject(h.admin, DAXFS_INJECT_CRASH, NULL, n, 0, NULL));
		for (i = 0; i < PERSIST_OPS_MAX && !rc; i++)
			rc = do_op(h.fs);
		if (!rc)
			T_FAIL("%d operations did not reach persist %" PRIu64, i, n);
		ops += (uint64_t)i;
		died("a persist");
		close_handles(&h);
		t = t_now_ms();
		t_check_clean(t_path("image"));
		t_check += t_now_ms() - t;
		copy_file(t_path("image"), t_path("region"));
		t = t_now_ms();
		t_daemon_respawn(&d);
		t_start += t_now_ms() - t;
		open_handles(&h);
		check_model(h.fs);
	}
	close_handles(&h);
	t_daemon_stop(&d);
	t_check_clean(t_path("region"));
	printf("%d crashes at persist N (random in 1..%d, mean %.1f) after %.1f operations on "
	       "average; %" PRIu64 " operations acknowledged, all there (%" PRIu64 " ms: %" PRIu64
	       " ms in daxfs check, %" PRIu64 " ms in daemon starts)\n",
	       PERSIST_CRASHES, PERSIST_NMAX, (double)picks / PERSIST_CRASHES,
	       (double)ops / PERSIST_CRASHES, m.acked, t_now_ms() - t0, t_check, t_start);
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	char points[32][32];
	int n = 1;

	t_tools_init(&argc, argv);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--persist") == 0)
			persist_mode = true;
		else if (strncmp(argv[i], "--point=", 8) == 0)
			only = argv[i] + 8;
		else
			argv[n++] = argv[i];
	}
	argc = n;
	argv[argc] = NULL;
	t_require_root("--map-users root and fault injection");
	rng = t_seed(argc, argv, (uint64_t)time(NULL));
	t_watchdog(persist_mode ? 280 : 200, "test-crash-points");
	if (persist_mode) {
		run_persist();
	} else {
		n = points_list(points, 32);
		for (int i = 0; i < n; i++)
			/*
			 * "upgrade" is passed only while a version 1 region is mounted, before a
			 * client can ask for a crash: test-upgrade.sh crashes there (and at every
			 * persist of the upgrade) through $DAXFS_FAULT_CRASH.
			 */
			if (strcmp(points[i], "upgrade") != 0 &&
			    (!only || strcmp(only, points[i]) == 0))
				run_point(points[i]);
	}
	printf("ok\n");
	return 0;
}
