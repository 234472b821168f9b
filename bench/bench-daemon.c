// SPDX-License-Identifier: MIT
/*
 * bench-daemon - see bench-daemon.h.
 */
#include "bench-daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <daxfs/daxfs.h>

#include "bench.h"

/* wait_exit - waitpid with a bound. Return: the wait status, or -1 when still running. */
static int wait_exit(pid_t pid, double seconds)
{
	double end = bench_now() + seconds;
	struct timespec ts = {0, 5 * 1000 * 1000};
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if ((r < 0 && errno != EINTR) || bench_now() > end)
			return -1;
		nanosleep(&ts, NULL);
	}
}

static pid_t start(const char *const *argv, const char *sock, const char *log, bool apart)
{
	struct timespec ts = {0, 10 * 1000 * 1000};
	pid_t parent = getpid(), pid;
	double end;
	int lfd;

	if (access(argv[0], X_OK))
		bench_die(-errno, "cannot run %s (ninja -C build-bench daemon/daxfsd)", argv[0]);
	lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (lfd < 0)
		bench_die(-errno, "open %s", log);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		bench_die(-errno, "fork");
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);

		/* Die with the benchmark, whatever ends it. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		/* As systemd starts it, or a shell in another terminal: not in our session. */
		if (apart && setsid() < 0)
			_exit(124);
		if (getppid() != parent)
			_exit(125);
		if (in < 0 || dup2(in, 0) < 0 || dup2(lfd, 1) < 0 || dup2(lfd, 2) < 0)
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(lfd);

	end = bench_now() + BENCH_DAEMON_START_SECONDS;
	for (;;) {
		struct daxfs *fs;
		int status;

		if (daxfs_open(&fs, sock) == 0) {
			daxfs_close(fs);
			return pid;
		}
		if (waitpid(pid, &status, WNOHANG) == pid)
			bench_die(0, "daxfsd exited at start (wait status 0x%x)", status);
		if (bench_now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			bench_die(0, "daxfsd did not open %s within %.0f s", sock,
				  BENCH_DAEMON_START_SECONDS);
		}
		nanosleep(&ts, NULL);
	}
}

pid_t bench_daemon_start(const char *const *argv, const char *sock, const char *log)
{
	return start(argv, sock, log, false);
}

pid_t bench_daemon_start_apart(const char *const *argv, const char *sock, const char *log)
{
	return start(argv, sock, log, true);
}

void bench_daemon_stop(pid_t *pid)
{
	int status;

	if (!*pid)
		return;
	kill(*pid, SIGTERM);
	status = wait_exit(*pid, BENCH_DAEMON_STOP_SECONDS);
	if (status == -1) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bench_die(0, "daxfsd did not shut down cleanly (wait status 0x%x)", status);
}

void bench_daemon_kill(pid_t *pid)
{
	if (!*pid)
		return;
	kill(*pid, SIGTERM);
	if (wait_exit(*pid, BENCH_DAEMON_STOP_SECONDS) == -1) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

void bench_daemon_print_log(const char *log)
{
	char buf[4096];
	off_t size;
	ssize_t n;
	int fd = open(log, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	lseek(fd, size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	fprintf(stderr, "---- the end of %s ----\n%s---- end ----\n", log, buf);
}
