// SPDX-License-Identifier: MIT
/*
 * The structured journal entries (daemon/journal.c): with its stderr connected to
 * "journald", daxfsd sends poison, quarantine, lease-break timeouts and the read-only
 * fallback as entries with their MESSAGE_ID and DAXFS_* fields, and not as stderr lines.
 *
 * journald here is this test: in a private mount namespace it mounts a tmpfs on /run and
 * listens on /run/systemd/journal/socket, where sd_journal_sendv() sends, and it sets
 * $JOURNAL_STREAM to the daemon's log file as systemd would for a service's stderr.
 * Needs root (mount namespaces, --map-users root).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "log.h"
#include "testutil.h"

#define PAGE 4096u
#define FIELDS_MAX 32

/* One entry as the native journal protocol carries it. */
struct entry {
	size_t n;
	char *key[FIELDS_MAX], *val[FIELDS_MAX];
};

static struct t_daemon d;
static int jfd = -1;

/* journal_listen - be journald for this process and its children. Return: false to skip. */
static bool journal_listen(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (unshare(CLONE_NEWNS) < 0) {
		printf("SKIP: unshare(CLONE_NEWNS): %s\n", strerror(errno));
		return false;
	}
	T_ASSERT(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	T_ASSERT(mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") == 0);
	T_ASSERT(mkdir("/run/systemd", 0755) == 0 && mkdir("/run/systemd/journal", 0755) == 0);
	strcpy(sa.sun_path, "/run/systemd/journal/socket");
	jfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	T_ASSERT(jfd >= 0);
	T_ASSERT(bind(jfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	return true;
}

/*
 * parse - one datagram: "KEY=value\n" fields, or "KEY\n", a little-endian u64 length, the
 * value and "\n" for values with newlines (the binary-safe form).
 */
static void parse(char *p, size_t len, struct entry *e)
{
	char *end = p + len;

	memset(e, 0, sizeof(*e));
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p)), *eq;
		uint64_t vlen;

		T_ASSERT(nl && e->n < FIELDS_MAX);
		eq = memchr(p, '=', (size_t)(nl - p));
		if (eq) {
			*eq = *nl = '\0';
			e->key[e->n] = p;
			e->val[e->n++] = eq + 1;
			p = nl + 1;
			continue;
		}
		*nl = '\0';
		T_ASSERT((size_t)(end - nl - 1) >= 8);
		memcpy(&vlen, nl + 1, 8);
		T_ASSERT(vlen <= (uint64_t)(end - nl - 9) && nl[9 + vlen] == '\n');
		e->key[e->n] = p;
		e->val[e->n++] = nl + 9;
		nl[9 + vlen] = '\0';
		p = nl + 10 + vlen;
	}
}

static const char *field(const struct entry *e, const char *key)
{
	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->key[i], key) == 0)
			return e->val[i];
	return NULL;
}

/*
 * wait_entry - the next entry whose MESSAGE_ID is that of @kind, within 10 s (others are
 * skipped). @buf keeps its strings.
 */
static void wait_entry(enum log_event_kind kind, char *buf, size_t cap, struct entry *e)
{
	uint64_t end = t_now_ms() + 10000;

	for (;;) {
		struct pollfd p = {.fd = jfd, .events = POLLIN};
		ssize_t n;

		if (t_now_ms() > end)
			T_FAIL("no %s entry in the journal within 10 s", log_event_name(kind));
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(jfd, buf, cap - 1, 0);
		T_ASSERT(n > 0);
		buf[n] = '\0';
		parse(buf, (size_t)n, e);
		if (field(e, "MESSAGE_ID") &&
		    strcmp(field(e, "MESSAGE_ID"), log_event_id(kind)) == 0)
			break;
	}
	printf("journal: %s: %s\n", log_event_name(kind), field(e, "MESSAGE"));
	T_ASSERT(field(e, "MESSAGE") && field(e, "PRIORITY"));
	T_ASSERT(strcmp(field(e, "SYSLOG_IDENTIFIER"), "daxfsd") == 0);
	T_ASSERT(strcmp(field(e, "DAXFS_EVENT"), log_event_name(kind)) == 0);
	T_ASSERT(strcmp(field(e, "DAXFS_REGION"), d.region) == 0);
	/* The entry went to the journal, not (also) to stderr. */
	T_ASSERT(!t_daemon_log_has(&d, field(e, "MESSAGE")));
}

static void want(const struct entry *e, const char *key, const char *val)
{
	const char *got = field(e, key);

	if (!got || strcmp(got, val) != 0)
		T_FAIL("%s: %s is '%s', want '%s'", field(e, "MESSAGE"), key, got ? got : "(none)",
		       val);
}

static void want_u64(const struct entry *e, const char *key, uint64_t v)
{
	char s[24];

	want(e, key, log_u64(s, v));
}

int main(int argc, char **argv)
{
	static const char *const opts[] = {"--fault-injection",	    "--map-users", "root",
					   "--lease-break-timeout", "300",	   NULL};
	static char buf[65536];
	char env[64], prio[8];
	struct daxfs_extent *ext;
	struct daxfs_stat st;
	struct daxfs *fs, *mapper;
	struct daxfs_map *m;
	uint8_t page[PAGE];
	struct entry e;
	struct stat lst;
	size_t n;
	int fd;

	t_tools_init(&argc, argv);
	t_require_root("a private mount namespace for a stand-in journald");
	t_watchdog(120, "test-journal");
	if (!journal_listen())
		return T_SKIP;
	t_region_new(t_path("region"), "64M");

	/* systemd sets $JOURNAL_STREAM to the device and inode of the service's stderr. */
	fd = open(t_path("daxfsd.log"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	T_ASSERT(fd >= 0 && fstat(fd, &lst) == 0);
	close(fd);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)lst.st_dev,
		 (unsigned long long)lst.st_ino);
	T_ASSERT(setenv("JOURNAL_STREAM", env, 1) == 0);
	t_daemon_start(&d, t_path("region"), "daxfsd", opts);
	T_ASSERT(t_daemon_log_has(&d, "listening on")); /* other messages stay on stderr */

	/* Poison in a file's page: a POISON entry, and a QUARANTINE one for the lost data. */
	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_create(fs, "/victim", 0644, DAXFS_CREATE_EXCL, &st));
	memset(page, 'v', sizeof(page));
	for (uint64_t i = 0; i < 4; i++)
		T_ASSERT(daxfs_pwrite(fs, st.ino, page, PAGE, i * PAGE) == PAGE);
	T_OK(daxfs_extents(fs, st.ino, &ext, &n));
	T_ASSERT(n >= 1 && ext[0].file_off == 0 && ext[0].len >= 4 * PAGE);
	T_OK(daxfs_inject(fs, DAXFS_INJECT_POISON, NULL, ext[0].region_off + PAGE, 2 * PAGE, NULL));
	wait_entry(LOG_EV_QUARANTINE, buf, sizeof(buf), &e);
	snprintf(prio, sizeof(prio), "%d", LOG_LVL_WARNING);
	want(&e, "PRIORITY", prio);
	want_u64(&e, "DAXFS_INODE", st.ino);
	want_u64(&e, "DAXFS_FILE_OFFSET", PAGE);
	want_u64(&e, "DAXFS_OFFSET", ext[0].region_off + PAGE);
	want_u64(&e, "DAXFS_LENGTH", 2 * PAGE);
	wait_entry(LOG_EV_POISON, buf, sizeof(buf), &e);
	want(&e, "DAXFS_SOURCE", "injected");
	want_u64(&e, "DAXFS_OFFSET", ext[0].region_off + PAGE);
	want_u64(&e, "DAXFS_LENGTH", 2 * PAGE);
	want_u64(&e, "DAXFS_BLOCKS", 2);
	free(ext);

	/* A mapper that never reads its socket: the truncate's lease break times out. */
	T_OK(daxfs_create(fs, "/mapped", 0644, DAXFS_CREATE_EXCL, &st));
	T_ASSERT(daxfs_pwrite(fs, st.ino, page, PAGE, 0) == PAGE);
	T_OK(daxfs_open(&mapper, d.sock));
	T_OK(daxfs_map_new(mapper, st.ino, 0, PAGE, DAXFS_MAP_READ, &m));
	T_OK(daxfs_truncate(fs, "/mapped", 0));
	wait_entry(LOG_EV_LEASE_TIMEOUT, buf, sizeof(buf), &e);
	want_u64(&e, "DAXFS_INODE", st.ino);
	want(&e, "DAXFS_TIMEOUT_MS", "300");
	want_u64(&e, "DAXFS_PID", (uint64_t)getpid());
	daxfs_map_delete(&m);
	daxfs_close(mapper);

	/* Poison in the metadata log: the file system falls back to read-only. */
	T_OK(daxfs_inject(fs, DAXFS_INJECT_POISON, NULL, 2 * 1024 * 1024, PAGE, NULL));
	wait_entry(LOG_EV_READONLY, buf, sizeof(buf), &e);
	snprintf(prio, sizeof(prio), "%d", LOG_LVL_ERR);
	want(&e, "PRIORITY", prio);
	T_ASSERT(strstr(field(&e, "DAXFS_WHERE"), "log area"));
	want_u64(&e, "DAXFS_OFFSET", 2 * 1024 * 1024);
	T_ERR(daxfs_mkdir(fs, "/after", 0755, NULL), EROFS);

	daxfs_close(fs);
	t_daemon_stop(&d);
	return 0;
}
