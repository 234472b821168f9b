/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_DAEMON_METRICS_H
#define DAXFS_DAEMON_METRICS_H

/*
 * metrics - what the daemon counts (requests by operation and result with their latency,
 * bytes moved, sessions) and the OpenMetrics text of everything an operator watches,
 * which adds the engine's counters (engine/stats.h) and the namespace's gauges
 * (ns_statfs) when rendered. docs/metrics.md names every series.
 *
 * The text is served two ways: over HTTP at GET /metrics on --metrics-listen (off by
 * default; metrics_http_new), and over the daemon's socket by the STATS request (daxfs
 * stats), which renders into the session's shared buffer.
 *
 * The counters are process-wide (one daemon, one region) and bumped with relaxed atomics
 * from any thread; a render reads each once.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wire.h"

struct event_base;
struct metrics_http;
struct ns;

/*
 * metrics_request - request @op was answered with @status (0 or -errno; for a request
 * without a reply, 0 when taken), @start_ns (mono_ns) being when the daemon read it.
 * Context: any thread.
 */
void metrics_request(unsigned op, int status, uint64_t start_ns);

/*
 * metrics_reply - metrics_request() for @req from its reply (@len bytes in @reply; 0: it
 * could not be built), counting the bytes a READ or WRITE copied and a MAP granted.
 * Context: any thread.
 */
void metrics_reply(const struct wire_req *req, const void *reply, size_t len, uint64_t start_ns);

/* metrics_session - a client connected (@delta 1) or went (-1). Context: any thread. */
void metrics_session(int delta);

/* metrics_refused - a connection was refused (too many sessions, out of memory). */
void metrics_refused(void);

/*
 * metrics_render - the OpenMetrics text of everything, ending with "# EOF", into @buf.
 * Context: any thread registered with RCU. Locking: what ns_statfs and ns_held_blocks take.
 * Return: its length; -EMSGSIZE when it does not fit @cap bytes.
 */
ssize_t metrics_render(struct ns *ns, char *buf, size_t cap);

/*
 * metrics_http_new - serve metrics_render() at http://@listen/metrics (@listen as
 * cfg_parse_listen takes it) on @base: GET and HEAD of /metrics only, requests of at most
 * 8 KiB of headers and no body, 10 s to send one, "Connection: close", and at most
 * METRICS_ACCEPT_PER_S new connections a second (the rest wait in the kernel's backlog).
 * Context: the loop thread of @base, which runs the requests.
 * Return: 0 and *@out; -EINVAL (bad @listen); -EADDRINUSE, -EACCES, ... (bind; logged);
 *         -ENOMEM.
 */
#define METRICS_ACCEPT_PER_S 16
int metrics_http_new(struct metrics_http **out, struct event_base *base, struct ns *ns,
		     const char *listen);

/* metrics_http_delete - stop listening and free. Accepts NULL; sets *@mp = NULL. */
void metrics_http_delete(struct metrics_http **mp);

#endif
