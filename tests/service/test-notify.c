// SPDX-License-Identifier: MIT
/*
 * sd_notify: the test owns NOTIFY_SOCKET and runs daxfsd with WATCHDOG_USEC. It must see
 * READY=1 only once the region is mounted and the socket answers (and never from a daxfsd
 * that cannot mount), WATCHDOG=1 at half the watchdog interval, STOPPING=1 on SIGTERM,
 * then exit status 0.
 * usage: test-notify DAXFSD DAXFS_CLI
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define WATCHDOG_USEC 400000 /* pings every 200 ms */

static const char *daxfsd, *cli;
static char dir[256], notify_path[300], region[300], sock_path[300];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static pid_t spawn(const char *region_path)
{
	pid_t pid = fork();

	T_ASSERT(pid >= 0);
	if (pid == 0) {
		char wd[32];

		snprintf(wd, sizeof(wd), "%d", WATCHDOG_USEC);
		setenv("NOTIFY_SOCKET", notify_path, 1);
		setenv("WATCHDOG_USEC", wd, 1);
		unsetenv("WATCHDOG_PID");
		execl(daxfsd, daxfsd, "--region", region_path, "--socket", sock_path, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* recv_msg - one notification into @buf within @timeout_s. Return: 1 got one; 0 none. */
static int recv_msg(int fd, char *buf, size_t len, double timeout_s)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;

	if (poll(&p, 1, (int)(timeout_s * 1000)) <= 0)
		return 0;
	n = recv(fd, buf, len - 1, 0);
	T_ASSERT(n >= 0);
	buf[n] = '\0';
	return 1;
}

static bool has_line(const char *msg, const char *line)
{
	size_t l = strlen(line);

	for (const char *p = msg; (p = strstr(p, line)); p += l) {
		if ((p == msg || p[-1] == '\n') && (p[l] == '\0' || p[l] == '\n'))
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char msg[4096], cmd[1024];
	double t0, last = 0, ready_at;
	int fd, st, pings = 0, rc;
	bool mounting = false, ready = false, stopping = false;
	pid_t pid;

	if (argc != 3) {
		fprintf(stderr, "usage: test-notify DAXFSD DAXFS_CLI\n");
		return 2;
	}
	daxfsd = argv[1];
	cli = argv[2];
	t_watchdog(120, "test-notify");
	snprintf(dir, sizeof(dir), "/tmp/daxfs-test-notify.XXXXXX");
	T_ASSERT(mkdtemp(dir));
	snprintf(notify_path, sizeof(notify_path), "%s/notify", dir);
	snprintf(region, sizeof(region), "%s/region", dir);
	snprintf(sock_path, sizeof(sock_path), "%s/sock", dir);
	snprintf(cmd, sizeof(cmd), "'%s' mkfs --size 64M '%s' >/dev/null", cli, region);
	T_ASSERT(run(cmd) == 0);

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	T_ASSERT(fd >= 0);
	memcpy(sa.sun_path, notify_path, strlen(notify_path) + 1);
	T_ASSERT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);

	/* A daxfsd that cannot mount never says READY=1. */
	snprintf(cmd, sizeof(cmd), "%s/missing", dir);
	pid = spawn(cmd);
	T_ASSERT(waitpid(pid, &st, 0) == pid);
	T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	while (recv_msg(fd, msg, sizeof(msg), 0.1)) {
		if (has_line(msg, "READY=1"))
			T_FAIL("READY=1 from a daxfsd that could not mount its region");
	}

	/* The real one: STATUS while mounting, then READY=1 with the socket answering. */
	pid = spawn(region);
	t0 = now_s();
	while (!ready && recv_msg(fd, msg, sizeof(msg), 30)) {
		if (strstr(msg, "STATUS=Mounting"))
			mounting = true;
		if (has_line(msg, "READY=1")) {
			ready = true;
			T_ASSERT(mounting);
			/* Mounted and bound by now: a client is served at once. */
			snprintf(cmd, sizeof(cmd), "'%s' --socket '%s' status >/dev/null", cli,
				 sock_path);
			T_ASSERT(run(cmd) == 0);
		}
	}
	T_ASSERT(ready);
	ready_at = now_s();
	printf("READY=1 after %.3f s (after STATUS=Mounting, client served)\n", ready_at - t0);

	/* Watchdog pings at half WATCHDOG_USEC: about 10 in 2 s. */
	last = ready_at;
	while (now_s() - ready_at < 2.0 && recv_msg(fd, msg, sizeof(msg), 1.0)) {
		if (has_line(msg, "WATCHDOG=1")) {
			double t = now_s();

			if (pings > 0 && (t - last < 0.1 || t - last > 0.4))
				T_FAIL("watchdog ping %.3f s after the last one (want ~0.2)",
				       t - last);
			pings++;
			last = t;
		}
	}
	printf("%d WATCHDOG=1 pings in 2 s (WATCHDOG_USEC=%d)\n", pings, WATCHDOG_USEC);
	if (pings < 7 || pings > 13)
		T_FAIL("%d watchdog pings in 2 s, want about 10", pings);

	/* SIGTERM: STOPPING=1, then a clean exit. */
	T_ASSERT(kill(pid, SIGTERM) == 0);
	while (!stopping && recv_msg(fd, msg, sizeof(msg), 30))
		stopping = has_line(msg, "STOPPING=1");
	T_ASSERT(stopping);
	T_ASSERT(waitpid(pid, &st, 0) == pid);
	rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (rc != 0)
		T_FAIL("daxfsd exit status %d after SIGTERM", rc);
	printf("STOPPING=1 on SIGTERM, exit status 0\n");

	close(fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	run(cmd);
	return 0;
}
