/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_TESTS_DAEMON_H
#define DAXFS_TESTS_DAEMON_H

/*
 * Helpers of the integration tests that run the real programs: format a region with the
 * daxfs CLI, run daxfsd on it as a child process (its socket and its log in the scratch
 * directory), stop it with SIGTERM and insist on a clean exit, count its open fds, and run
 * the CLI as a subprocess with its output captured.
 *
 * The paths of the programs come from meson as "--daxfsd=PATH" and "--cli=PATH" (or from
 * $DAXFSD and $DAXFS_CLI); t_tools_init() takes them out of argv, so argv[1] stays the seed.
 *
 * Every daemon output goes to its log file; at each stop, and at t_daemon_check_log(), the
 * log must hold no sanitizer report. A test that exits while its daemon runs prints the
 * log's tail and kills the daemon; the daemon also dies with the test (PR_SET_PDEATHSIG),
 * so start it from the main thread.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define T_DAEMON_OPTS_MAX 16

struct t_daemon {
	pid_t pid; /* 0 when not running */
	char region[512];
	char sock[512];
	char log[512];
	char *opts[T_DAEMON_OPTS_MAX + 1]; /* more daxfsd options, NULL-terminated */
	unsigned starts;
};

/* t_tools_init - take --daxfsd=PATH and --cli=PATH out of @argv (fails without them). */
void t_tools_init(int *argc, char **argv);
const char *t_daxfsd_path(void);
const char *t_cli_path(void);

/* t_region_new - format a new emulated region of @size ("256M") at @path with the CLI. */
void t_region_new(const char *path, const char *size);

/*
 * t_daemon_start - run daxfsd on @region with its socket at "<scratch>/<name>.sock" and
 * its log at "<scratch>/<name>.log" (appended to across restarts), with the options @opts
 * (NULL-terminated, may be NULL), and wait (at most 60 s) until it said READY=1.
 */
void t_daemon_start(struct t_daemon *d, const char *region, const char *name,
		    const char *const *opts);

/*
 * t_daemon_stop - SIGTERM; the daemon must exit with status 0 within 60 s, remove its
 * socket file, and have logged no sanitizer report.
 */
void t_daemon_stop(struct t_daemon *d);

/* t_daemon_restart - stop, then start again on the same region; @opts NULL: the same. */
void t_daemon_restart(struct t_daemon *d, const char *const *opts);

/*
 * t_daemon_wait_exit - wait (at most @timeout_ms) for the daemon to end by itself (a crash
 * test's abort); fails the test, with the log's tail, when it is still running then.
 * Return: its wait status. The daemon is then no longer running (d->pid is 0).
 */
int t_daemon_wait_exit(struct t_daemon *d, unsigned timeout_ms);

/* t_daemon_respawn - start a daemon that has ended again: same region, socket, log, options. */
void t_daemon_respawn(struct t_daemon *d);

/* t_daemon_forget - free what t_daemon_start kept of a daemon that no longer runs (its
 * options), so that the struct may be started afresh. */
void t_daemon_forget(struct t_daemon *d);

/* t_daemon_check_alive - the daemon has not exited; its log holds no sanitizer report. */
void t_daemon_check_alive(struct t_daemon *d);

/* t_daemon_log_has - the daemon's log contains @needle. */
bool t_daemon_log_has(const struct t_daemon *d, const char *needle);

/* t_daemon_fds - the daemon's open file descriptors (entries of /proc/PID/fd). */
int t_daemon_fds(const struct t_daemon *d);

/*
 * t_daemon_settle_fds - wait until the fd count stays the same for 200 ms (at most 10 s);
 * Return: that count.
 */
int t_daemon_settle_fds(const struct t_daemon *d);

/*
 * t_daemon_wait_fds - wait (at most @timeout_ms) until the daemon has @want open fds;
 * fails the test with the count and the list of fds otherwise.
 */
void t_daemon_wait_fds(const struct t_daemon *d, int want, unsigned timeout_ms);

/*
 * t_run - run @argv (argv[0] a path) with stdin from /dev/null, stdout and stderr captured;
 * *@out / *@err (malloc'd, NUL-terminated; may be NULL) get them. The process must not
 * crash and its stderr must hold no sanitizer report.
 * Return: its exit status.
 */
int t_run(const char *const *argv, char **out, char **err);

/*
 * t_cli - run "daxfs --socket SOCK ARGS..." (ARGS NULL-terminated) against @d's socket;
 * as t_run.
 */
int t_cli(const struct t_daemon *d, char **out, char **err, ...) __attribute__((sentinel));

/* t_read_file - the whole of the local file @path (malloc'd; *@len its size). */
char *t_read_file(const char *path, size_t *len);

/* t_now_ms - CLOCK_MONOTONIC in milliseconds. */
uint64_t t_now_ms(void);

/* t_require_root - exit T_SKIP, saying why, unless the test runs as root. */
void t_require_root(const char *why);

/* t_open_scratch_to_all - let other users (the tests' uid 65534) reach the scratch dir. */
void t_open_scratch_to_all(void);

/*
 * t_fork_as - fork a child that drops to uid/gid @uid (no supplementary groups) and runs
 * @fn(@arg); the child's exit status is @fn's return. Return: the child's pid.
 */
pid_t t_fork_as(uint32_t uid, int (*fn)(void *arg), void *arg);

/* t_wait_child - wait (at most @timeout_ms) for @pid; it must exit with status 0. */
void t_wait_child(pid_t pid, unsigned timeout_ms, const char *what);

/* t_check_clean - `daxfs check @region` (unmounted) must find nothing; fails with its output. */
void t_check_clean(const char *region);

/*
 * t_fill_region - write files "/@prefix<N>" of bytes @fill, up to 1 MiB each and then in
 * smaller and smaller writes, until not one block is free for the caller (statfs must then
 * say 0, or the reserve for a user who may not use it).
 * Return: the files made.
 */
struct daxfs;
int t_fill_region(struct daxfs *fs, const char *prefix, uint8_t fill);

#endif
