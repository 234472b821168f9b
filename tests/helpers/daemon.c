// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "testutil.h"

#define START_TIMEOUT_MS 60000
#define STOP_TIMEOUT_MS 60000
#define RUN_TIMEOUT_MS 60000

extern char **environ;

static const char *daxfsd_path, *cli_path;
static struct t_daemon *running[8];
static pid_t owner;

/* Sanitizer reports: any of these in a daemon's log or a CLI's stderr fails the test. */
static const char *const sanitizer_marks[] = {
	"ERROR: AddressSanitizer",
	"ERROR: LeakSanitizer",
	"runtime error:",
	"WARNING: ThreadSanitizer",
};

uint64_t t_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void t_tools_init(int *argc, char **argv)
{
	int out = 1;

	daxfsd_path = getenv("DAXFSD");
	cli_path = getenv("DAXFS_CLI");
	for (int i = 1; i < *argc; i++) {
		if (strncmp(argv[i], "--daxfsd=", 9) == 0)
			daxfsd_path = argv[i] + 9;
		else if (strncmp(argv[i], "--cli=", 6) == 0)
			cli_path = argv[i] + 6;
		else
			argv[out++] = argv[i];
	}
	*argc = out;
	argv[out] = NULL;
	if (!daxfsd_path || !cli_path)
		T_FAIL("usage: %s --daxfsd=PATH --cli=PATH [seed] (or $DAXFSD, $DAXFS_CLI)",
		       argv[0]);
	if (access(daxfsd_path, X_OK) || access(cli_path, X_OK))
		T_FAIL("cannot run %s or %s: %s", daxfsd_path, cli_path, strerror(errno));
}

const char *t_daxfsd_path(void)
{
	return daxfsd_path;
}

const char *t_cli_path(void)
{
	return cli_path;
}

char *t_read_file(const char *path, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		T_FAIL("open %s: %s", path, strerror(errno));
	T_ASSERT(buf);
	for (;;) {
		ssize_t r;

		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			T_ASSERT(buf);
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			T_FAIL("read %s: %s", path, strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static const char *sanitizer_report(const char *text)
{
	for (size_t i = 0; i < sizeof(sanitizer_marks) / sizeof(sanitizer_marks[0]); i++) {
		const char *p = strstr(text, sanitizer_marks[i]);

		if (p)
			return p;
	}
	return NULL;
}

/* print_tail - the last @lines lines of @text on stderr, for a failing test's log. */
static void print_tail(const char *what, const char *text, int lines)
{
	const char *p = text + strlen(text);

	while (p > text && lines > 0) {
		p--;
		if (*p == '\n')
			lines--;
	}
	fprintf(stderr, "---- %s ----\n%s\n---- end ----\n", what, p);
}

static void dump_log(const struct t_daemon *d)
{
	char *log = t_read_file(d->log, NULL);

	print_tail(d->log, log, 60);
	free(log);
}

/* at_exit - a test that exits while a daemon runs failed: show its log, kill it. */
static void at_exit(void)
{
	if (getpid() != owner)
		return;
	for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++) {
		struct t_daemon *d = running[i];

		if (!d || !d->pid)
			continue;
		fprintf(stderr, "daxfsd %d still running at exit; its log:\n", (int)d->pid);
		dump_log(d);
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		d->pid = 0;
	}
}

static void track(struct t_daemon *d, bool on)
{
	if (!owner) {
		owner = getpid();
		t_atexit(at_exit);
	}
	for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++) {
		if (on && !running[i]) {
			running[i] = d;
			return;
		}
		if (!on && running[i] == d) {
			running[i] = NULL;
			return;
		}
	}
	T_ASSERT(!on);
}

/* wait_exit - waitpid with a bound. Return: the status, or -1 on timeout. */
static int wait_exit(pid_t pid, unsigned timeout_ms)
{
	uint64_t end = t_now_ms() + timeout_ms;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			T_FAIL("waitpid %d: %s", (int)pid, strerror(errno));
		if (t_now_ms() > end)
			return -1;
		sleep_ms(5);
	}
}

static void describe_status(int status, char *buf, size_t len)
{
	if (status == -1)
		snprintf(buf, len, "still running");
	else if (WIFEXITED(status))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "wait status 0x%x", status);
}

int t_run(const char *const *argv, char **out, char **err)
{
	static unsigned runs;
	char opath[PATH_MAX], epath[PATH_MAX], desc[64];
	const char *report;
	char *o, *e;
	pid_t pid;
	int status, ofd, efd;

	snprintf(opath, sizeof(opath), "%s/run-%u.out", t_scratch_dir(), runs);
	snprintf(epath, sizeof(epath), "%s/run-%u.err", t_scratch_dir(), runs++);
	ofd = open(opath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	efd = open(epath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	T_ASSERT(ofd >= 0 && efd >= 0);
	fflush(NULL);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);

		if (in < 0 || dup2(in, 0) < 0 || dup2(ofd, 1) < 0 || dup2(efd, 2) < 0)
			_exit(126);
		execve(argv[0], (char *const *)argv, environ);
		_exit(127);
	}
	close(ofd);
	close(efd);
	status = wait_exit(pid, RUN_TIMEOUT_MS);
	o = t_read_file(opath, NULL);
	e = t_read_file(epath, NULL);
	unlink(opath);
	unlink(epath);
	if (status == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	describe_status(status, desc, sizeof(desc));
	report = sanitizer_report(e);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) >= 126 || report) {
		fprintf(stderr, "%s: %s\n", argv[0], desc);
		for (int i = 1; argv[i]; i++)
			fprintf(stderr, " arg: %s\n", argv[i]);
		print_tail("its stderr", e, 60);
		T_FAIL("%s did not run cleanly (%s%s)", argv[0], desc,
		       report ? ", sanitizer report" : "");
	}
	if (out)
		*out = o;
	else
		free(o);
	if (err)
		*err = e;
	else
		free(e);
	return WEXITSTATUS(status);
}

int t_cli(const struct t_daemon *d, char **out, char **err, ...)
{
	const char *argv[40];
	int n = 0;
	va_list ap;

	argv[n++] = cli_path;
	argv[n++] = "--socket";
	argv[n++] = d->sock;
	va_start(ap, err);
	for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *)) {
		T_ASSERT(n < 39);
		argv[n++] = a;
	}
	va_end(ap);
	argv[n] = NULL;
	return t_run(argv, out, err);
}

void t_region_new(const char *path, const char *size)
{
	const char *argv[] = {cli_path, "mkfs", "--size", size, path, NULL};
	char *err;

	if (t_run(argv, NULL, &err) != 0)
		T_FAIL("daxfs mkfs --size %s %s failed: %s", size, path, err);
	free(err);
}

static void check_log(const struct t_daemon *d)
{
	char *log = t_read_file(d->log, NULL);
	const char *report = sanitizer_report(log);

	if (report) {
		print_tail(d->log, report, 200);
		free(log);
		T_FAIL("daxfsd logged a sanitizer report (%s)", d->log);
	}
	free(log);
}

/* notify_socket - a datagram socket at @path for sd_notify's READY=1. */
static int notify_socket(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	T_ASSERT(fd >= 0);
	T_ASSERT(strlen(path) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		T_FAIL("bind %s: %s", path, strerror(errno));
	return fd;
}

static void spawn(struct t_daemon *d)
{
	char notify[PATH_MAX], notify_env[PATH_MAX + 16], desc[64];
	const char *argv[T_DAEMON_OPTS_MAX + 8];
	uint64_t end;
	size_t nenv = 0;
	char **envp;
	int n = 0, nfd, lfd, status;
	pid_t parent = getpid();

	snprintf(notify, sizeof(notify), "%s/notify-%d", t_scratch_dir(), (int)getpid());
	nfd = notify_socket(notify);
	snprintf(notify_env, sizeof(notify_env), "NOTIFY_SOCKET=%s", notify);
	/* Built before fork: the child only calls async-signal-safe functions. */
	while (environ[nenv])
		nenv++;
	envp = calloc(nenv + 2, sizeof(*envp));
	T_ASSERT(envp);
	n = 0;
	for (size_t i = 0; i < nenv; i++) {
		if (strncmp(environ[i], "NOTIFY_SOCKET=", 14) != 0)
			envp[n++] = environ[i];
	}
	envp[n++] = notify_env;
	envp[n] = NULL;

	n = 0;
	argv[n++] = daxfsd_path;
	argv[n++] = "--region";
	argv[n++] = d->region;
	argv[n++] = "--socket";
	argv[n++] = d->sock;
	for (int i = 0; d->opts[i]; i++)
		argv[n++] = d->opts[i];
	argv[n] = NULL;

	lfd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	T_ASSERT(lfd >= 0);
	fflush(NULL);
	d->pid = fork();
	T_ASSERT(d->pid >= 0);
	if (d->pid == 0) {
		int in = open("/dev/null", O_RDONLY);

		/* Die with the test, also when its watchdog ends it with _exit. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(125);
		if (in < 0 || dup2(in, 0) < 0 || dup2(lfd, 1) < 0 || dup2(lfd, 2) < 0)
			_exit(126);
		close_range(3, ~0u, 0);
		execve(argv[0], (char *const *)argv, envp);
		_exit(127);
	}
	close(lfd);
	free(envp);
	track(d, true);
	d->starts++;

	end = t_now_ms() + START_TIMEOUT_MS;
	for (;;) {
		struct pollfd pfd = {.fd = nfd, .events = POLLIN};
		char msg[256];
		ssize_t len;

		if (poll(&pfd, 1, 50) > 0) {
			len = recv(nfd, msg, sizeof(msg) - 1, MSG_DONTWAIT);
			if (len > 0) {
				msg[len] = '\0';
				if (strstr(msg, "READY=1"))
					break;
			}
			continue;
		}
		status = wait_exit(d->pid, 0);
		if (status != -1) {
			d->pid = 0;
			track(d, false);
			describe_status(status, desc, sizeof(desc));
			dump_log(d);
			T_FAIL("daxfsd exited at startup (%s)", desc);
		}
		if (t_now_ms() > end) {
			dump_log(d);
			T_FAIL("daxfsd did not say READY=1 within %d ms", START_TIMEOUT_MS);
		}
	}
	close(nfd);
	unlink(notify);
	if (access(d->sock, F_OK) != 0)
		T_FAIL("daxfsd is ready but its socket %s is missing", d->sock);
}

void t_daemon_start(struct t_daemon *d, const char *region, const char *name,
		    const char *const *opts)
{
	int n = 0;

	memset(d, 0, sizeof(*d));
	snprintf(d->region, sizeof(d->region), "%s", region);
	snprintf(d->sock, sizeof(d->sock), "%s/%s.sock", t_scratch_dir(), name);
	snprintf(d->log, sizeof(d->log), "%s/%s.log", t_scratch_dir(), name);
	for (; opts && opts[n]; n++) {
		T_ASSERT(n < T_DAEMON_OPTS_MAX);
		d->opts[n] = strdup(opts[n]);
		T_ASSERT(d->opts[n]);
	}
	d->opts[n] = NULL;
	spawn(d);
}

void t_daemon_stop(struct t_daemon *d)
{
	char desc[64];
	int status;

	T_ASSERT(d->pid > 0);
	if (kill(d->pid, SIGTERM) < 0)
		T_FAIL("kill daxfsd %d: %s", (int)d->pid, strerror(errno));
	status = wait_exit(d->pid, STOP_TIMEOUT_MS);
	if (status == -1) {
		dump_log(d);
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		d->pid = 0;
		track(d, false);
		T_FAIL("daxfsd did not exit within %d ms of SIGTERM", STOP_TIMEOUT_MS);
	}
	d->pid = 0;
	track(d, false);
	check_log(d);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		describe_status(status, desc, sizeof(desc));
		dump_log(d);
		T_FAIL("daxfsd ended with %s after SIGTERM, not exit status 0", desc);
	}
	if (access(d->sock, F_OK) == 0)
		T_FAIL("daxfsd left its socket %s behind", d->sock);
}

void t_daemon_restart(struct t_daemon *d, const char *const *opts)
{
	t_daemon_stop(d);
	if (opts) {
		int n = 0;

		for (int i = 0; d->opts[i]; i++)
			free(d->opts[i]);
		for (; opts[n]; n++) {
			T_ASSERT(n < T_DAEMON_OPTS_MAX);
			d->opts[n] = strdup(opts[n]);
			T_ASSERT(d->opts[n]);
		}
		d->opts[n] = NULL;
	}
	spawn(d);
}

int t_daemon_wait_exit(struct t_daemon *d, unsigned timeout_ms)
{
	int status;

	T_ASSERT(d->pid > 0);
	status = wait_exit(d->pid, timeout_ms);
	if (status == -1) {
		dump_log(d);
		T_FAIL("daxfsd %d did not end within %u ms", (int)d->pid, timeout_ms);
	}
	d->pid = 0;
	track(d, false);
	return status;
}

void t_daemon_respawn(struct t_daemon *d)
{
	T_ASSERT(d->pid == 0);
	spawn(d);
}

void t_daemon_forget(struct t_daemon *d)
{
	T_ASSERT(d->pid == 0);
	for (int i = 0; d->opts[i]; i++) {
		free(d->opts[i]);
		d->opts[i] = NULL;
	}
}

void t_daemon_check_alive(struct t_daemon *d)
{
	char desc[64];
	int status;

	T_ASSERT(d->pid > 0);
	status = wait_exit(d->pid, 0);
	if (status != -1) {
		d->pid = 0;
		track(d, false);
		describe_status(status, desc, sizeof(desc));
		dump_log(d);
		T_FAIL("daxfsd died (%s)", desc);
	}
	check_log(d);
}

bool t_daemon_log_has(const struct t_daemon *d, const char *needle)
{
	char *log = t_read_file(d->log, NULL);
	bool has = strstr(log, needle) != NULL;

	free(log);
	return has;
}

int t_daemon_fds(const struct t_daemon *d)
{
	char path[64];
	struct dirent *de;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)d->pid);
	dir = opendir(path);
	if (!dir)
		T_FAIL("opendir %s: %s", path, strerror(errno));
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

int t_daemon_settle_fds(const struct t_daemon *d)
{
	uint64_t end = t_now_ms() + 10000, since = t_now_ms();
	int last = t_daemon_fds(d);

	while (t_now_ms() < end) {
		int n;

		sleep_ms(20);
		n = t_daemon_fds(d);
		if (n != last) {
			last = n;
			since = t_now_ms();
		} else if (t_now_ms() - since >= 200) {
			return n;
		}
	}
	T_FAIL("the fd count of daxfsd did not settle in 10 s (now %d)", last);
}

static void list_fds(const struct t_daemon *d)
{
	char path[64], link[PATH_MAX + 64], target[PATH_MAX];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)d->pid);
	dir = opendir(path);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		fprintf(stderr, "  fd %s -> %s\n", de->d_name, target);
	}
	closedir(dir);
}

void t_daemon_wait_fds(const struct t_daemon *d, int want, unsigned timeout_ms)
{
	uint64_t end = t_now_ms() + timeout_ms;
	int n;

	while ((n = t_daemon_fds(d)) != want) {
		if (t_now_ms() > end) {
			fprintf(stderr, "daxfsd's fds:\n");
			list_fds(d);
			T_FAIL("daxfsd has %d open fds, expected %d (after %u ms)", n, want,
			       timeout_ms);
		}
		sleep_ms(10);
	}
}

void t_require_root(const char *why)
{
	if (geteuid() == 0)
		return;
	printf("skipped: needs root (%s)\n", why);
	exit(T_SKIP);
}

void t_open_scratch_to_all(void)
{
	if (chmod(t_scratch_dir(), 0755) < 0)
		T_FAIL("chmod %s: %s", t_scratch_dir(), strerror(errno));
}

pid_t t_fork_as(uint32_t uid, int (*fn)(void *arg), void *arg)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (setgroups(0, NULL) < 0 || setgid((gid_t)uid) < 0 || setuid((uid_t)uid) < 0) {
		fprintf(stderr, "cannot become uid %u: %s\n", uid, strerror(errno));
		_exit(1);
	}
	T_ASSERT(getuid() == uid && geteuid() == uid && getegid() == uid);
	exit(fn(arg));
}

void t_wait_child(pid_t pid, unsigned timeout_ms, const char *what)
{
	char desc[64];
	int status = wait_exit(pid, timeout_ms);

	if (status == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		describe_status(status, desc, sizeof(desc));
		T_FAIL("%s: the child ended with %s", what, desc);
	}
}

void t_check_clean(const char *region)
{
	const char *argv[] = {t_cli_path(), "check", region, NULL};
	char *out, *err;

	if (t_run(argv, &out, &err) != 0)
		T_FAIL("daxfs check %s is not clean:\n%s%s", region, out, err);
	free(out);
	free(err);
}

int t_fill_region(struct daxfs *fs, const char *prefix, uint8_t fill)
{
	static uint8_t buf[256 * 1024];
	struct daxfs_statfs sf;
	size_t chunk = sizeof(buf);
	int nfiles = 0;

	memset(buf, fill, sizeof(buf));
	for (;;) {
		struct daxfs_stat st;
		char path[64];
		uint64_t off = 0;
		ssize_t n = 0;

		snprintf(path, sizeof(path), "/%s%d", prefix, nfiles++);
		T_OK(daxfs_create(fs, path, 0644, DAXFS_CREATE_EXCL, &st));
		while (off < 1024 * 1024 && (n = daxfs_pwrite(fs, st.ino, buf, chunk, off)) > 0)
			off += (uint64_t)n;
		if (n < 0 && n != -ENOSPC)
			T_FAIL("filling %s: %s", path, strerror((int)-n));
		if (n == -ENOSPC) {
			if (chunk == 4096)
				break;
			chunk /= 2;
		}
	}
	T_OK(daxfs_statfs(fs, &sf));
	/* Full for this user: nothing free but, for a user without it, the reserve. */
	if (sf.blocks_free > sf.blocks_reserved)
		T_FAIL("the region is full (ENOSPC for one block), yet %" PRIu64 " blocks are free "
		       "(%" PRIu64 " of them reserved)",
		       sf.blocks_free, sf.blocks_reserved);
	return nfiles;
}
