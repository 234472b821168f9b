// SPDX-License-Identifier: MIT
/*
 * The daemon's metrics: counters, the OpenMetrics text (docs/metrics.md), and the HTTP
 * endpoint that serves it.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <netinet/in.h>

#include "cfg.h"
#include "config.h"
#include "hist.h"
#include "lease.h"
#include "log.h"
#include "metrics.h"
#include "namespace.h"
#include "region.h"
#include "replica.h"
#include "stats.h"
#include "util.h"

/*
 * Request counters: one row per op number below OPS (op 0 and every number no op has are
 * counted as "unknown"), one column per result: ok, the errnos of docs/protocol.md, other.
 */
#define OPS 64
static const int result_errno[] = {
	ENOENT,	    EACCES, EPERM,     EEXIST,	   ENOTDIR,	 EISDIR, ENOTEMPTY,
	EINVAL,	    EROFS,  ENOSPC,    EFBIG,	   EIO,		 EBUSY,	 EAGAIN,
	EPROTO,	    E2BIG,  EBADMSG,   EMSGSIZE,   ESHUTDOWN,	 ENOMEM, EMFILE,
	ECONNRESET, EPIPE,  ETIMEDOUT, EOPNOTSUPP, ENAMETOOLONG,
};
#define RESULTS (ARRAY_SIZE(result_errno) + 2) /* ok, each errno above, other */

static struct {
	uint64_t requests[OPS][RESULTS];
	struct hist latency[OPS];
	uint64_t copy_read, copy_written, mapped_read, mapped_write; /* bytes */
	uint64_t sessions, sessions_opened, sessions_refused;
} m;

/* op_slot - the row of @op: itself when it is an op this daemon knows, else 0. */
static unsigned op_slot(unsigned op)
{
	return op < OPS && wire_op_known(op) ? op : 0;
}

static unsigned result_slot(int status)
{
	if (status == 0)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(result_errno); i++)
		if (-status == result_errno[i])
			return (unsigned)i + 1;
	return RESULTS - 1;
}

void metrics_request(unsigned op, int status, uint64_t start_ns)
{
	unsigned o = op_slot(op);
	uint64_t now = mono_ns();

	__atomic_add_fetch(&m.requests[o][result_slot(status)], 1, __ATOMIC_RELAXED);
	hist_observe(&m.latency[o], now > start_ns ? now - start_ns : 0);
}

void metrics_reply(const struct wire_req *req, const void *reply, size_t len, uint64_t start_ns)
{
	const uint8_t *p = reply;
	struct wire_reply r = {.status = -EIO};

	if (len >= sizeof(struct wire_hdr) + sizeof(r))
		memcpy(&r, p + sizeof(struct wire_hdr), sizeof(r));
	metrics_request(req->hdr.op, r.status, start_ns);
	if (r.status)
		return;
	switch (req->hdr.op) {
	case WIRE_READ:
	case WIRE_WRITE: {
		struct wire_io_reply io;

		if (len < sizeof(struct wire_hdr) + sizeof(io))
			return;
		memcpy(&io, p + sizeof(struct wire_hdr), sizeof(io));
		__atomic_add_fetch(req->hdr.op == WIRE_READ ? &m.copy_read : &m.copy_written,
				   io.count, __ATOMIC_RELAXED);
		break;
	}
	case WIRE_MAP: {
		struct wire_map b;

		memcpy(&b, req->body, sizeof(b));
		__atomic_add_fetch(b.mode & WIRE_MAP_WRITE ? &m.mapped_write : &m.mapped_read,
				   b.len, __ATOMIC_RELAXED);
		break;
	}
	default:
		break;
	}
}

void metrics_session(int delta)
{
	__atomic_add_fetch(&m.sessions, (uint64_t)(int64_t)delta, __ATOMIC_RELAXED);
	if (delta > 0)
		__atomic_add_fetch(&m.sessions_opened, 1, __ATOMIC_RELAXED);
}

void metrics_refused(void)
{
	__atomic_add_fetch(&m.sessions_refused, 1, __ATOMIC_RELAXED);
}

static uint64_t load(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

/* --- the text --- */

/* The text being built in a caller's buffer; err sticks once it does not fit. */
struct out {
	char *buf;
	size_t len, cap;
	int err;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->err = -EMSGSIZE;
	else
		o->len += (size_t)n;
}

/* family - the metadata lines of a family: TYPE, UNIT (when @unit), HELP. */
static void family(struct out *o, const char *name, const char *type, const char *unit,
		   const char *help)
{
	put(o, "# TYPE %s %s\n", name, type);
	if (unit)
		put(o, "# UNIT %s %s\n", name, unit);
	put(o, "# HELP %s %s\n", name, help);
}

/* label - @s as a label value: lower case (op and errno names are upper case on the wire). */
static const char *label(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		buf[i] = (char)tolower((unsigned char)s[i]);
	buf[i] = '\0';
	return buf;
}

static const char *op_label(unsigned slot, char *buf, size_t len)
{
	return slot ? label(wire_op_name(slot), buf, len) : "unknown";
}

static const char *result_label(unsigned slot, char *buf, size_t len)
{
	const char *name;

	if (slot == 0)
		return "ok";
	if (slot == RESULTS - 1)
		return "other";
	name = strerrorname_np(result_errno[slot - 1]);
	return name ? label(name, buf, len) : "other";
}

/* seconds - nanoseconds as OpenMetrics seconds, exactly. */
static const char *seconds(uint64_t ns, char *buf, size_t len)
{
	snprintf(buf, len, "%" PRIu64 ".%09" PRIu64, ns / 1000000000, ns % 1000000000);
	return buf;
}

/* histogram - the samples of one histogram with label @lbl ("op=\"read\"," or ""). */
static void histogram(struct out *o, const char *name, const char *lbl, const struct hist *h)
{
	uint64_t cum[HIST_BOUNDS + 1], sum;
	char s[32];

	hist_read(h, cum, &sum);
	for (unsigned i = 0; i < HIST_BOUNDS; i++)
		put(o, "%s_bucket{%sle=\"%s\"} %" PRIu64 "\n", name, lbl, hist_bound_le[i], cum[i]);
	put(o, "%s_bucket{%sle=\"+Inf\"} %" PRIu64 "\n", name, lbl, cum[HIST_BOUNDS]);
	/* A histogram with no label has braces with nothing in them: leave them out. */
	if (lbl[0]) {
		size_t n = strlen(lbl);

		put(o, "%s_count{%.*s} %" PRIu64 "\n", name, (int)n - 1, lbl, cum[HIST_BOUNDS]);
		put(o, "%s_sum{%.*s} %s\n", name, (int)n - 1, lbl, seconds(sum, s, sizeof(s)));
	} else {
		put(o, "%s_count %" PRIu64 "\n", name, cum[HIST_BOUNDS]);
		put(o, "%s_sum %s\n", name, seconds(sum, s, sizeof(s)));
	}
}

static void render_requests(struct out *o)
{
	char ol[32], rl[32], lbl[64];

	family(o, "daxfs_requests", "counter", NULL,
	       "Requests answered (or taken, for those without a reply), by operation and "
	       "result: ok or the errno name.");
	for (unsigned op = 0; op < OPS; op++) {
		if (op && !wire_op_known(op))
			continue;
		for (unsigned r = 0; r < RESULTS; r++) {
			uint64_t v = load(&m.requests[op][r]);

			/* Every op's ok series exists from the start; the others once they count. */
			if (v == 0 && (r != 0 || op == 0))
				continue;
			put(o, "daxfs_requests_total{op=\"%s\",result=\"%s\"} %" PRIu64 "\n",
			    op_label(op, ol, sizeof(ol)), result_label(r, rl, sizeof(rl)), v);
		}
	}
	family(o, "daxfs_request_duration_seconds", "histogram", "seconds",
	       "Time from the daemon reading a request to its reply handed to the socket, by "
	       "operation; the counts add up to daxfs_requests_total of the operation.");
	for (unsigned op = 0; op < OPS; op++) {
		uint64_t cum[HIST_BOUNDS + 1], sum;

		if (op && !wire_op_known(op))
			continue;
		/* "unknown" only once something was counted there. */
		hist_read(&m.latency[op], cum, &sum);
		if (op == 0 && cum[HIST_BOUNDS] == 0)
			continue;
		snprintf(lbl, sizeof(lbl), "op=\"%s\",", op_label(op, ol, sizeof(ol)));
		histogram(o, "daxfs_request_duration_seconds", lbl, &m.latency[op]);
	}
}

static void render_io(struct out *o)
{
	family(o, "daxfs_copy_bytes", "counter", "bytes",
	       "Bytes READ and WRITE requests copied out of and into files.");
	put(o, "daxfs_copy_bytes_total{direction=\"read\"} %" PRIu64 "\n", load(&m.copy_read));
	put(o, "daxfs_copy_bytes_total{direction=\"write\"} %" PRIu64 "\n", load(&m.copy_written));
	family(o, "daxfs_mapped_bytes", "counter", "bytes",
	       "Bytes of files MAP requests granted, by mode; the loads and stores through a "
	       "mapping never reach the daemon.");
	put(o, "daxfs_mapped_bytes_total{mode=\"read\"} %" PRIu64 "\n", load(&m.mapped_read));
	put(o, "daxfs_mapped_bytes_total{mode=\"write\"} %" PRIu64 "\n", load(&m.mapped_write));
}

static void render_clients(struct out *o)
{
	family(o, "daxfs_sessions", "gauge", NULL, "Clients connected now.");
	put(o, "daxfs_sessions %" PRIu64 "\n", load(&m.sessions));
	family(o, "daxfs_sessions_opened", "counter", NULL, "Clients that connected.");
	put(o, "daxfs_sessions_opened_total %" PRIu64 "\n", load(&m.sessions_opened));
	family(o, "daxfs_sessions_refused", "counter", NULL,
	       "Connections closed at once: too many sessions (max_sessions), or no memory.");
	put(o, "daxfs_sessions_refused_total %" PRIu64 "\n", load(&m.sessions_refused));
	family(o, "daxfs_grants", "gauge", NULL, "Mappings granted to clients now.");
	put(o, "daxfs_grants %" PRIu64 "\n", stats_get(STAT_GRANTS));
	family(o, "daxfs_parked_requests", "gauge", NULL,
	       "Requests waiting now for mapping clients to acknowledge a lease break.");
	put(o, "daxfs_parked_requests %" PRIu64 "\n", stats_get(STAT_PARKED));
	family(o, "daxfs_lease_breaks", "counter", NULL,
	       "Lease breaks started: INVALIDATE events sent to mapping clients.");
	put(o, "daxfs_lease_breaks_total %" PRIu64 "\n", stats_get(STAT_LEASE_BREAKS));
	family(o, "daxfs_lease_breaks_acked", "counter", NULL,
	       "Lease breaks the client acknowledged before the timeout.");
	put(o, "daxfs_lease_breaks_acked_total %" PRIu64 "\n", stats_get(STAT_LEASE_BREAKS_ACKED));
	family(o, "daxfs_lease_breaks_timed_out", "counter", NULL,
	       "Lease breaks not acknowledged in time: the client was dropped.");
	put(o, "daxfs_lease_breaks_timed_out_total %" PRIu64 "\n",
	    stats_get(STAT_LEASE_BREAKS_EXPIRED));
}

static void render_media(struct out *o, struct ns *ns)
{
	struct region *r = ns_region(ns);
	uint64_t ev[POISON_SRC_COUNT], bl[POISON_SRC_COUNT], held, used;
	struct ns_statfs st;

	for (int s = 0; s < POISON_SRC_COUNT; s++)
		stats_poison_get((enum poison_source)s, &ev[s], &bl[s]);
	family(o, "daxfs_poison_events", "counter", NULL,
	       "Media error reports that found blocks not quarantined before, by source.");
	for (int s = 0; s < POISON_SRC_COUNT; s++)
		put(o, "daxfs_poison_events_total{source=\"%s\"} %" PRIu64 "\n",
		    stats_poison_label((enum poison_source)s), ev[s]);
	family(o, "daxfs_poisoned_blocks", "counter", NULL,
	       "Blocks quarantined because of a media error, by the source that found them.");
	for (int s = 0; s < POISON_SRC_COUNT; s++)
		put(o, "daxfs_poisoned_blocks_total{source=\"%s\"} %" PRIu64 "\n",
		    stats_poison_label((enum poison_source)s), bl[s]);

	ns_statfs(ns, &st);
	held = ns_held_blocks(ns);
	used = st.blocks - MIN(st.blocks, st.blocks_free + st.blocks_quarantined + held);
	family(o, "daxfs_blocks", "gauge", NULL,
	       "Blocks of the data area by state: free, used (by files), reserved (held for "
	       "clients dropped during a lease break), quarantined (poison, never used again).");
	put(o, "daxfs_blocks{state=\"free\"} %" PRIu64 "\n", st.blocks_free);
	put(o, "daxfs_blocks{state=\"used\"} %" PRIu64 "\n", used);
	put(o, "daxfs_blocks{state=\"reserved\"} %" PRIu64 "\n", held);
	put(o, "daxfs_blocks{state=\"quarantined\"} %" PRIu64 "\n", st.blocks_quarantined);
	family(o, "daxfs_quarantined_bytes", "gauge", "bytes", "Bytes quarantined for good.");
	put(o, "daxfs_quarantined_bytes %" PRIu64 "\n", st.blocks_quarantined * st.block_size);
	family(o, "daxfs_inodes", "gauge", NULL, "Files and directories.");
	put(o, "daxfs_inodes %" PRIu64 "\n", st.files);
	family(o, "daxfs_log_used_bytes", "gauge", "bytes",
	       "Bytes of the active metadata log area in use.");
	put(o, "daxfs_log_used_bytes %" PRIu64 "\n", st.log_used);
	family(o, "daxfs_log_size_bytes", "gauge", "bytes", "Bytes of one metadata log area.");
	put(o, "daxfs_log_size_bytes %" PRIu64 "\n", st.log_len);
	family(o, "daxfs_checkpoints", "counter", NULL,
	       "Checkpoints: snapshots of the namespace written to the other log area.");
	put(o, "daxfs_checkpoints_total %" PRIu64 "\n", st.checkpoints);
	family(o, "daxfs_checkpoint_duration_seconds", "histogram", "seconds",
	       "How long each checkpoint of this daemon took, transactions held off meanwhile.");
	histogram(o, "daxfs_checkpoint_duration_seconds", "", &stats_checkpoint_hist);

	{
		static const enum replica_status states[] = {REPLICA_NONE, REPLICA_INSYNC,
							     REPLICA_RESYNCING, REPLICA_DEGRADED};
		static const char *const names[] = {"none", "in_sync", "resyncing", "degraded"};
		struct replica_info ri;

		replica_get_info(ns, &ri);
		family(o, "daxfs_replica_state", "gauge", NULL,
		       "The replica (DESIGN 13): 1 for the state it is in (none, in_sync, "
		       "resyncing, degraded), 0 for the others.");
		for (size_t i = 0; i < ARRAY_SIZE(states); i++)
			put(o, "daxfs_replica_state{state=\"%s\"} %d\n", names[i],
			    ri.status == states[i]);
		family(o, "daxfs_replica_synced_bytes", "gauge", "bytes",
		       "Bytes of the replica that hold the region's (the region's size when in "
		       "sync; the copy's progress while resyncing).");
		put(o, "daxfs_replica_synced_bytes %" PRIu64 "\n", ri.synced);
		family(o, "daxfs_replica_reads", "counter", NULL,
		       "Blocks read from the replica in place of poisoned ones of the region.");
		put(o, "daxfs_replica_reads_total %" PRIu64 "\n", ri.reads);
		family(o, "daxfs_replica_repaired_blocks", "counter", NULL,
		       "Blocks of the region repaired from the replica.");
		put(o, "daxfs_replica_repaired_blocks_total %" PRIu64 "\n", ri.repaired);
	}
	family(o, "daxfs_region", "info", NULL,
	       "The region served: its kind, what a persist flushes, its size in bytes.");
	put(o, "daxfs_region_info{kind=\"%s\",granularity=\"%s\",size_bytes=\"%" PRIu64 "\"} 1\n",
	    region_kind_name(region_kind(r)), region_granularity(r), region_size(r));
	family(o, "daxfs_build", "info", NULL, "This daxfsd.");
	put(o, "daxfs_build_info{version=\"%s\"} 1\n", DAXFS_VERSION);
}

ssize_t metrics_render(struct ns *ns, char *buf, size_t cap)
{
	struct out o = {.buf = buf, .cap = cap};

	render_requests(&o);
	render_io(&o);
	render_clients(&o);
	render_media(&o, ns);
	put(&o, "# EOF\n");
	return o.err ? o.err : (ssize_t)o.len;
}

/* --- HTTP --- */

#define HTTP_HEADERS_MAX 8192
#define HTTP_TIMEOUT_S 10
#define RENDER_MAX (4u << 20)

struct metrics_http {
	struct ns *ns;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct event *ev_second; /* resumes accepting after a busy second */
	uint64_t second;	 /* mono_ns / 1e9 of the current second */
	unsigned accepted;	 /* connections accepted in it */
	char *buf;		 /* RENDER_MAX bytes */
};

/*
 * on_connection - evhttp is about to serve a new connection: count it; past
 * METRICS_ACCEPT_PER_S this second, stop accepting until the next one.
 */
static struct bufferevent *on_connection(struct event_base *base, void *arg)
{
	struct metrics_http *h = arg;
	uint64_t now = mono_ns() / 1000000000;

	if (now != h->second) {
		h->second = now;
		h->accepted = 0;
	}
	if (++h->accepted >= METRICS_ACCEPT_PER_S) {
		struct timeval tv = {1, 0};

		evconnlistener_disable(evhttp_bound_socket_get_listener(h->bound));
		evtimer_add(h->ev_second, &tv);
	}
	return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
}

static void on_second(evutil_socket_t fd, short what, void *arg)
{
	struct metrics_http *h = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(evhttp_bound_socket_get_listener(h->bound));
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct metrics_http *h = arg;
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *body;
	ssize_t n;

	evhttp_add_header(out, "Connection", "close");
	if (strcmp(uri, "/metrics") != 0 && strncmp(uri, "/metrics?", 9) != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, "Only /metrics is here");
		return;
	}
	evhttp_add_header(out, "Content-Type",
			  "application/openmetrics-text; version=1.0.0; charset=utf-8");
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		/* libevent 2.1 would send a body after the headers of a HEAD reply. */
		evhttp_send_reply(req, HTTP_OK, "OK", NULL);
		return;
	}
	n = metrics_render(h->ns, h->buf, RENDER_MAX);
	body = evbuffer_new();
	if (n < 0 || !body || evbuffer_add(body, h->buf, (size_t)n) < 0) {
		if (body)
			evbuffer_free(body);
		log_err("metrics: cannot render: %s", strerror(n < 0 ? (int)-n : ENOMEM));
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

int metrics_http_new(struct metrics_http **out, struct event_base *base, struct ns *ns,
		     const char *listen)
{
	char addr[64];
	uint16_t port;
	struct metrics_http *h;
	int rc = -ENOMEM;

	*out = NULL;
	if (cfg_parse_listen(listen, addr, sizeof(addr), &port))
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->ns = ns;
	h->base = base;
	h->buf = malloc(RENDER_MAX);
	h->http = evhttp_new(base);
	h->ev_second = evtimer_new(base, on_second, h);
	if (!h->buf || !h->http || !h->ev_second)
		goto err;
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(h->http, HTTP_HEADERS_MAX);
	evhttp_set_max_body_size(h->http, 0);
	evhttp_set_timeout(h->http, HTTP_TIMEOUT_S);
	evhttp_set_default_content_type(h->http, "text/plain; charset=utf-8");
	evhttp_set_gencb(h->http, on_request, h);
	evhttp_set_bevcb(h->http, on_connection, h);
	h->bound = evhttp_bind_socket_with_handle(h->http, addr, port);
	if (!h->bound) {
		rc = errno ? -errno : -EADDRNOTAVAIL;
		log_err("cannot serve metrics on %s: %s", listen, strerror(-rc));
		goto err;
	}
	log_notice("serving metrics at http://%s/metrics", listen);
	*out = h;
	return 0;

err:
	if (rc == -ENOMEM)
		log_err("cannot serve metrics: out of memory");
	metrics_http_delete(&h);
	return rc;
}

void metrics_http_delete(struct metrics_http **mp)
{
	struct metrics_http *h = *mp;

	if (!h)
		return;
	if (h->ev_second)
		event_free(h->ev_second);
	if (h->http)
		evhttp_free(h->http);
	free(h->buf);
	free(h);
	*mp = NULL;
}
