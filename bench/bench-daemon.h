/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_BENCH_DAEMON_H
#define DAXFS_BENCH_DAEMON_H

/*
 * bench-daemon - daxfsd as a child of a benchmark (bench-client, bench-poison): started
 * with its output appended to a log file, dying with the benchmark (PR_SET_PDEATHSIG),
 * stopped with SIGTERM and required to exit 0; every wait has a bound.
 */

#include <stdbool.h>
#include <sys/types.h>

#define BENCH_DAEMON_START_SECONDS 60.0
#define BENCH_DAEMON_STOP_SECONDS 60.0

/*
 * bench_daemon_start - run @argv (argv[0]: the daxfsd program) with stdout and stderr
 * appended to @log, and wait until a session opens on @sock.
 * Return: its pid (dies with a message when it cannot start).
 */
pid_t bench_daemon_start(const char *const *argv, const char *sock, const char *log);

/*
 * bench_daemon_start_apart - the same, the daemon in a session of its own (setsid), as
 * systemd or a shell in another terminal starts it. The scheduler then shares the CPUs
 * between its threads and the benchmark's as two groups (autogroup), where in our session
 * it shares them thread by thread, and a sched_yield of ours does not hand the CPU to it.
 */
pid_t bench_daemon_start_apart(const char *const *argv, const char *sock, const char *log);

/* bench_daemon_stop - SIGTERM; it must exit with status 0 in time (else die). *@pid = 0. */
void bench_daemon_stop(pid_t *pid);

/* bench_daemon_kill - for exit paths: SIGTERM, SIGKILL when it outlasts the bound. */
void bench_daemon_kill(pid_t *pid);

/* bench_daemon_print_log - the last few KiB of @log on stderr. */
void bench_daemon_print_log(const char *log);

#endif
