// SPDX-License-Identifier: MIT
/*
 * The metrics: daxfsd --metrics-listen serves OpenMetrics text that a strict parser of
 * our own (below, written from the OpenMetrics 1.0 text format, not from daemon/metrics.c)
 * accepts; a workload of known size moves each counter by exactly what it did; every
 * histogram's count equals the requests of its operation; 'daxfs stats --json' parses and
 * agrees with the endpoint; the endpoint answers nothing but GET and HEAD of /metrics.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "testutil.h"
#include "util.h"

#define PAGE 4096u

/* --- the parser --- */

/* One series: its sample name and labels as written ("a=\"x\",b=\"y\""), and its value. */
struct series {
	char *family, *name, *labels;
	double value;
};

struct scrape {
	char *text;
	struct series *s;
	size_t n, cap;
};

static bool name_ok(const char *n)
{
	if (!isalpha((unsigned char)n[0]) && n[0] != '_' && n[0] != ':')
		return false;
	for (const char *p = n; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != ':')
			return false;
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Family metadata as the text declared it. */
struct fam {
	char *name, *type, *unit;
	bool help, has_samples, closed;
};

/* What a histogram's series must look like, checked as its samples come. */
struct hist_state {
	char key[256]; /* its labels without le */
	double last_le, last_count;
	bool started, inf;
	double inf_count;
};

/*
 * parse_labels - check "{...}" at @p (a label name, =, a quoted value with \\ \" \n
 * escapes; comma-separated; no name twice) and copy it without braces into @out; @le gets
 * the value of label le (or "" without one), and @rest the labels but le.
 * Return: the character after "}".
 */
static const char *parse_labels(const char *p, char *out, size_t outlen, char *le, char *rest,
				size_t restlen, unsigned line)
{
	char names[16][64];
	size_t nn = 0, o = 0, r = 0;

	T_ASSERT(*p == '{');
	p++;
	le[0] = rest[0] = '\0';
	while (*p != '}') {
		const char *start = p, *vstart;
		char name[64];
		size_t len;

		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
		len = (size_t)(p - start);
		if (len == 0 || len >= sizeof(name) || p[0] != '=' || p[1] != '"')
			T_FAIL("line %u: bad label at '%s'", line, start);
		memcpy(name, start, len);
		name[len] = '\0';
		for (size_t i = 0; i < nn; i++)
			if (strcmp(names[i], name) == 0)
				T_FAIL("line %u: label %s twice", line, name);
		T_ASSERT(nn < 16);
		strcpy(names[nn++], name);
		p += 2;
		vstart = p;
		while (*p && *p != '"') {
			if (*p == '\\') {
				if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
					T_FAIL("line %u: bad escape in a label value", line);
				p++;
			} else if (*p == '\n') {
				T_FAIL("line %u: a newline in a label value", line);
			}
			p++;
		}
		if (*p != '"')
			T_FAIL("line %u: unterminated label value", line);
		if (strcmp(name, "le") == 0) {
			T_ASSERT((size_t)(p - vstart) < 32);
			memcpy(le, vstart, (size_t)(p - vstart));
			le[p - vstart] = '\0';
		} else {
			r += (size_t)snprintf(rest + r, restlen - r, "%s%.*s", r ? "," : "",
					      (int)(p - start + 1), start);
		}
		o += (size_t)snprintf(out + o, outlen - o, "%s%.*s", o ? "," : "",
				      (int)(p - start + 1), start);
		T_ASSERT(o < outlen && r < restlen);
		p++;
		if (*p == ',')
			p++;
		else if (*p != '}')
			T_FAIL("line %u: want , or } after a label", line);
	}
	return p + 1;
}

/* parse_value - an OpenMetrics number ("+Inf", "-Inf", "NaN" or a float). */
static double parse_value(const char *s, unsigned line)
{
	char *end;
	double v;

	if (strcmp(s, "+Inf") == 0)
		return 1.0 / 0.0;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || isspace((unsigned char)s[0]))
		T_FAIL("line %u: bad value '%s'", line, s);
	return v;
}

/*
 * parse - check @text against the OpenMetrics text format, strictly, and collect its
 * series into @sc (which keeps @text). The rules:
 *  - every line ends with \n; the last is "# EOF"; no blank lines
 *  - "# TYPE name type" first for a family, types counter, gauge, histogram, info,
 *    unknown; "# UNIT" only with a name that ends in _<unit>; "# HELP" once; the metadata
 *    of a family come before its samples, and a family is not resumed after another's
 *  - samples: a counter's end in _total, an info's in _info with value 1, a gauge's are the
 *    family name, a histogram's are _bucket (with le, increasing, cumulative, ending with
 *    +Inf), _count (equal to the +Inf bucket) and _sum; no series twice
 */
static void parse(char *text, struct scrape *sc)
{
	struct fam fams[128];
	struct hist_state h = {0};
	size_t nf = 0;
	struct fam *cur = NULL;
	unsigned line = 0;
	char *p = text, *nl;
	bool eof = false;

	memset(sc, 0, sizeof(*sc));
	sc->text = text;
	for (; *p; p = nl + 1) {
		line++;
		nl = strchr(p, '\n');
		if (!nl)
			T_FAIL("line %u does not end with a newline", line);
		*nl = '\0';
		if (eof)
			T_FAIL("line %u after # EOF", line);
		if (!*p)
			T_FAIL("line %u is empty", line);
		if (strcmp(p, "# EOF") == 0) {
			eof = true;
			continue;
		}
		if (p[0] == '#') {
			char *kw = p + 2, *name, *arg;

			T_ASSERT(p[1] == ' ');
			name = strchr(kw, ' ');
			T_ASSERT(name);
			*name++ = '\0';
			arg = strchr(name, ' ');
			if (!arg)
				T_FAIL("line %u: metadata without a value", line);
			*arg++ = '\0';
			if (!name_ok(name))
				T_FAIL("line %u: bad family name %s", line, name);
			if (!cur || strcmp(cur->name, name) != 0) {
				for (size_t i = 0; i < nf; i++)
					if (strcmp(fams[i].name, name) == 0)
						T_FAIL("line %u: family %s again", line, name);
				if (cur)
					cur->closed = true;
				if (cur && cur->type && strcmp(cur->type, "histogram") == 0 &&
				    !h.inf)
					T_FAIL("line %u: histogram %s ended without +Inf", line,
					       cur->name);
				h = (struct hist_state){0};
				T_ASSERT(nf < ARRAY_SIZE(fams));
				cur = &fams[nf++];
				*cur = (struct fam){.name = name};
				if (strcmp(kw, "TYPE") != 0)
					T_FAIL("line %u: %s of %s before its TYPE", line, kw, name);
			}
			if (cur->has_samples)
				T_FAIL("line %u: metadata of %s after its samples", line, name);
			if (strcmp(kw, "TYPE") == 0) {
				if (cur->type)
					T_FAIL("line %u: TYPE of %s twice", line, name);
				if (strcmp(arg, "counter") && strcmp(arg, "gauge") &&
				    strcmp(arg, "histogram") && strcmp(arg, "info") &&
				    strcmp(arg, "unknown"))
					T_FAIL("line %u: type %s", line, arg);
				cur->type = arg;
			} else if (strcmp(kw, "UNIT") == 0) {
				char want[64];

				snprintf(want, sizeof(want), "_%s", arg);
				if (cur->unit || !ends_with(name, want))
					T_FAIL("line %u: unit %s of %s", line, arg, name);
				cur->unit = arg;
			} else if (strcmp(kw, "HELP") == 0) {
				if (cur->help || !arg[0])
					T_FAIL("line %u: HELP of %s", line, name);
				cur->help = true;
			} else {
				T_FAIL("line %u: unknown metadata %s", line, kw);
			}
			continue;
		}

		/* A sample. */
		char *sp = p + strcspn(p, "{ "), labels[512] = "", le[32] = "", rest[512] = "";
		const char *after;
		char *name = p, *suffix;
		struct series *se;
		double v;

		if (!cur || cur->closed)
			T_FAIL("line %u: a sample outside its family", line);
		after = *sp == '{' ? parse_labels(sp, labels, sizeof(labels), le, rest,
						  sizeof(rest), line)
				   : sp;
		if (*after != ' ')
			T_FAIL("line %u: want one space before the value", line);
		*sp = '\0'; /* ends the name (after reading the labels and the space) */
		v = parse_value(after + 1, line);
		if (strncmp(name, cur->name, strlen(cur->name)) != 0)
			T_FAIL("line %u: sample %s in family %s", line, name, cur->name);
		suffix = name + strlen(cur->name);
		cur->has_samples = true;
		if (strcmp(cur->type, "counter") == 0) {
			if (strcmp(suffix, "_total") != 0 || !(v >= 0))
				T_FAIL("line %u: counter sample %s = %g", line, name, v);
		} else if (strcmp(cur->type, "gauge") == 0) {
			if (*suffix)
				T_FAIL("line %u: gauge sample %s", line, name);
		} else if (strcmp(cur->type, "info") == 0) {
			if (strcmp(suffix, "_info") != 0 || v != 1)
				T_FAIL("line %u: info sample %s = %g", line, name, v);
		} else if (strcmp(cur->type, "histogram") == 0) {
			if (strcmp(suffix, "_bucket") == 0) {
				double bound;

				if (!le[0])
					T_FAIL("line %u: bucket without le", line);
				bound = parse_value(le, line);
				if (!h.started || strcmp(h.key, rest) != 0) {
					if (h.started && !h.inf)
						T_FAIL("line %u: a histogram ended without +Inf",
						       line);
					h = (struct hist_state){.last_le = -1.0 / 0.0,
								.started = true};
					snprintf(h.key, sizeof(h.key), "%s", rest);
				} else if (h.inf) {
					T_FAIL("line %u: a bucket after +Inf", line);
				}
				if (!(bound > h.last_le) || v < h.last_count)
					T_FAIL("line %u: bucket le=%s out of order or not "
					       "cumulative",
					       line, le);
				h.last_le = bound;
				h.last_count = v;
				if (strcmp(le, "+Inf") == 0) {
					h.inf = true;
					h.inf_count = v;
				}
			} else if (strcmp(suffix, "_count") == 0) {
				if (!h.inf || strcmp(h.key, labels) != 0 || v != h.inf_count)
					T_FAIL("line %u: %s %g is not its +Inf bucket %g", line,
					       name, v, h.inf_count);
			} else if (strcmp(suffix, "_sum") == 0) {
				if (!h.inf || strcmp(h.key, labels) != 0 || !(v >= 0))
					T_FAIL("line %u: %s", line, name);
			} else {
				T_FAIL("line %u: histogram sample %s", line, name);
			}
		}
		for (size_t i = 0; i < sc->n; i++)
			if (strcmp(sc->s[i].name, name) == 0 &&
			    strcmp(sc->s[i].labels, labels) == 0)
				T_FAIL("line %u: series %s{%s} twice", line, name, labels);
		if (sc->n == sc->cap) {
			sc->cap = sc->cap ? 2 * sc->cap : 256;
			sc->s = realloc(sc->s, sc->cap * sizeof(*sc->s));
			T_ASSERT(sc->s);
		}
		se = &sc->s[sc->n++];
		*se = (struct series){cur->name, name, strdup(labels), v};
		T_ASSERT(se->labels);
	}
	if (!eof)
		T_FAIL("no # EOF at the end");
	for (size_t i = 0; i < nf; i++)
		if (!fams[i].type || !fams[i].help)
			T_FAIL("family %s lacks TYPE or HELP", fams[i].name);
}

static void scrape_release(struct scrape *sc)
{
	for (size_t i = 0; i < sc->n; i++)
		free(sc->s[i].labels);
	free(sc->s);
	free(sc->text);
	memset(sc, 0, sizeof(*sc));
}

/* value - the series @name{@labels}; fails when it is not there. */
static double value(const struct scrape *sc, const char *name, const char *labels)
{
	for (size_t i = 0; i < sc->n; i++)
		if (strcmp(sc->s[i].name, name) == 0 && strcmp(sc->s[i].labels, labels) == 0)
			return sc->s[i].value;
	T_FAIL("no series %s{%s}", name, labels);
}

/* value0 - as value, 0 for a series not (yet) there (error results appear once they count). */
static double value0(const struct scrape *sc, const char *name, const char *labels)
{
	for (size_t i = 0; i < sc->n; i++)
		if (strcmp(sc->s[i].name, name) == 0 && strcmp(sc->s[i].labels, labels) == 0)
			return sc->s[i].value;
	return 0;
}

/*
 * check_histograms - each op's daxfs_request_duration_seconds_count is the sum of its
 * daxfs_requests_total over the results; each op that has requests has a histogram.
 */
static void check_histograms(const struct scrape *sc)
{
	for (size_t i = 0; i < sc->n; i++) {
		const struct series *s = &sc->s[i];
		char op[64], lbl[80];
		double sum = 0;

		if (strcmp(s->name, "daxfs_request_duration_seconds_count") != 0)
			continue;
		T_ASSERT(sscanf(s->labels, "op=\"%63[^\"]\"", op) == 1);
		snprintf(lbl, sizeof(lbl), "op=\"%s\",", op);
		for (size_t k = 0; k < sc->n; k++)
			if (strcmp(sc->s[k].name, "daxfs_requests_total") == 0 &&
			    strncmp(sc->s[k].labels, lbl, strlen(lbl)) == 0)
				sum += sc->s[k].value;
		if (sum != s->value)
			T_FAIL("op %s: the histogram counts %g requests, the counter %g", op,
			       s->value, sum);
	}
	for (size_t k = 0; k < sc->n; k++) {
		char op[64], lbl[80];

		if (strcmp(sc->s[k].name, "daxfs_requests_total") != 0 || sc->s[k].value == 0)
			continue;
		T_ASSERT(sscanf(sc->s[k].labels, "op=\"%63[^\"]\"", op) == 1);
		snprintf(lbl, sizeof(lbl), "op=\"%s\"", op);
		value(sc, "daxfs_request_duration_seconds_count", lbl);
	}
	T_ASSERT(value(sc, "daxfs_checkpoint_duration_seconds_count", "") ==
		 value(sc, "daxfs_checkpoints_total", ""));
}

/* --- HTTP --- */

static int port;

/*
 * http - send @req to the endpoint and read until it closes (it says Connection: close).
 * Return: the whole response (malloc'd), its status in *@status.
 */
static char *http(const char *req, int *status)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	T_ASSERT(buf && fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		T_FAIL("connect 127.0.0.1:%d: %s", port, strerror(errno));
	T_ASSERT(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 10000) != 1)
			T_FAIL("the metrics endpoint did not close the connection within 10 s");
		if (len + 1 == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			T_ASSERT(buf);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == ECONNRESET)
			break;
		T_ASSERT(n >= 0);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	if (sscanf(buf, "HTTP/1.1 %d ", status) != 1)
		*status = 0;
	return buf;
}

/* scrape - GET /metrics, parsed and checked. */
static void scrape(struct scrape *sc)
{
	char *resp, *body, *text;
	int status;

	resp = http("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n", &status);
	if (status != 200)
		T_FAIL("GET /metrics: %.200s", resp);
	T_ASSERT(strstr(resp, "\r\nContent-Type: application/openmetrics-text; version=1.0.0; "
			      "charset=utf-8\r\n"));
	T_ASSERT(strstr(resp, "\r\nConnection: close\r\n"));
	body = strstr(resp, "\r\n\r\n");
	T_ASSERT(body);
	text = strdup(body + 4);
	T_ASSERT(text);
	free(resp);
	parse(text, sc);
	check_histograms(sc);
}

/* free_port - a TCP port of 127.0.0.1 nobody listens on now. */
static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	T_ASSERT(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	T_ASSERT(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* --- the test --- */

static struct t_daemon d;

#define D(name, labels) (value(&after, name, labels) - value(&before, name, labels))
#define D0(name, labels) (value0(&after, name, labels) - value0(&before, name, labels))
#define REQ(op, result) "op=\"" op "\",result=\"" result "\""
#define DREQ(op, result) D("daxfs_requests_total", REQ(op, result))
#define D0REQ(op, result) D0("daxfs_requests_total", REQ(op, result))

static void expect(const char *what, double got, double want)
{
	if (got != want)
		T_FAIL("%s moved by %g, want %g", what, got, want);
	printf("%-58s +%g\n", what, got);
}

static void access_rules(void)
{
	char big[12000], *resp;
	int status;

	resp = http("GET /other HTTP/1.1\r\nHost: x\r\n\r\n", &status);
	T_ASSERT(status == 404);
	free(resp);
	/* Other methods: 501 from libevent 2.1 (405 from later ones); a body: 413. */
	resp = http("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &status);
	T_ASSERT((status == 501 || status == 405) && !strstr(resp, "# EOF"));
	free(resp);
	resp = http("DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &status);
	T_ASSERT((status == 501 || status == 405) && !strstr(resp, "# EOF"));
	free(resp);
	resp = http("GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", &status);
	T_ASSERT(status == 413 && !strstr(resp, "# EOF"));
	free(resp);
	resp = http("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &status);
	T_ASSERT(status == 200 && !strstr(resp, "# TYPE"));
	free(resp);
	/* Headers past 8 KiB: refused (or the connection closed), never served. */
	snprintf(big, sizeof(big), "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: %09000d\r\n\r\n", 0);
	resp = http(big, &status);
	T_ASSERT(status != 200 && !strstr(resp, "# EOF"));
	free(resp);
	printf("access: 404 elsewhere, other methods and bodies refused, HEAD without a body, "
	       "big headers refused\n");
}

int main(int argc, char **argv)
{
	static const uint8_t data[3 * 65536 + 100];
	static uint8_t back[sizeof(data)];
	char portarg[32], *out, *err;
	const char *opts[] = {"--metrics-listen",
			      portarg,
			      "--fault-injection",
			      "--map-users",
			      "root",
			      "--lease-break-timeout",
			      "400",
			      NULL};
	struct scrape before, after;
	struct daxfs_extent *ext;
	struct daxfs_stat st, mst;
	struct daxfs *fs, *mapper, *idle;
	struct daxfs_map *m;
	json_object *j, *fam, *samples;
	size_t n;

	t_tools_init(&argc, argv);
	t_require_root("--map-users root and fault injection");
	t_watchdog(120, "test-metrics");
	t_region_new(t_path("region"), "64M");
	port = free_port();
	snprintf(portarg, sizeof(portarg), "127.0.0.1:%d", port);
	t_daemon_start(&d, t_path("region"), "daxfsd", opts);
	T_ASSERT(t_daemon_log_has(&d, "serving metrics at http://127.0.0.1:"));
	access_rules();

	T_OK(daxfs_open(&fs, d.sock));
	scrape(&before);
	T_ASSERT(value(&before, "daxfs_sessions", "") == 1);
	T_ASSERT(value(&before, "daxfs_grants", "") == 0);

	/* A workload whose every request we know. */
	for (int i = 0; i < 10; i++) {
		char path[32];

		snprintf(path, sizeof(path), "/f%d", i);
		T_OK(daxfs_create(fs, path, 0644, DAXFS_CREATE_EXCL, i ? NULL : &st));
	}
	T_ERR(daxfs_create(fs, "/f0", 0644, DAXFS_CREATE_EXCL, NULL), EEXIST);
	T_ERR(daxfs_stat(fs, "/missing", &mst), ENOENT);
	T_ERR(daxfs_stat(fs, "/missing", &mst), ENOENT);
	T_OK(daxfs_mkdir(fs, "/dir", 0755, NULL));
	/* 100 bytes inline (one WRITE), then 3 x 64 KiB through the shared buffer (one). */
	T_ASSERT(daxfs_pwrite(fs, st.ino, data, 100, 0) == 100);
	T_ASSERT(daxfs_pwrite(fs, st.ino, data, sizeof(data), 100) == (ssize_t)sizeof(data));
	T_ASSERT(daxfs_pread(fs, st.ino, back, 1000, 0) == 1000);
	T_ASSERT(daxfs_pread(fs, st.ino, back, sizeof(back), 0) == (ssize_t)sizeof(back));
	T_OK(daxfs_unlink(fs, "/f9"));
	/* Poison found by injection: one event, two blocks. */
	T_OK(daxfs_extents(fs, st.ino, &ext, &n));
	T_OK(daxfs_inject(fs, DAXFS_INJECT_POISON, NULL, ext[0].region_off, 2 * PAGE, NULL));
	free(ext);
	/* A mapping (read, 2 pages) whose lease break is acknowledged by its event thread... */
	T_OK(daxfs_create(fs, "/mapped", 0644, DAXFS_CREATE_EXCL, &mst));
	T_ASSERT(daxfs_pwrite(fs, mst.ino, data, 2 * PAGE, 0) == 2 * PAGE);
	T_OK(daxfs_open(&mapper, d.sock));
	T_OK(daxfs_event_thread_start(mapper));
	T_OK(daxfs_map_new(mapper, mst.ino, 0, 2 * PAGE, DAXFS_MAP_READ, &m));
	{
		struct scrape mid;

		scrape(&mid);
		T_ASSERT(value(&mid, "daxfs_grants", "") == 1);
		T_ASSERT(value(&mid, "daxfs_sessions", "") == 2);
		scrape_release(&mid);
	}
	T_OK(daxfs_truncate(fs, "/mapped", PAGE));
	daxfs_map_delete(&m);
	daxfs_close(mapper);
	/* ... and one (write, 1 page) whose holder never reads its socket: it times out. */
	T_OK(daxfs_open(&idle, d.sock));
	T_OK(daxfs_map_new(idle, mst.ino, 0, PAGE, DAXFS_MAP_WRITE, &m));
	T_OK(daxfs_truncate(fs, "/mapped", 0));
	daxfs_map_delete(&m);
	daxfs_close(idle);

	/* The daemon sees the closed sessions go on its own time. */
	for (int i = 0;; i++) {
		scrape(&after);
		if (value(&after, "daxfs_sessions", "") == 1)
			break;
		if (i == 100)
			T_FAIL("%g sessions, want 1", value(&after, "daxfs_sessions", ""));
		scrape_release(&after);
		usleep(20000);
	}
	expect("requests{op=create,result=ok}", DREQ("create", "ok"), 11);
	expect("requests{op=create,result=eexist}", D0REQ("create", "eexist"), 1);
	expect("requests{op=stat,result=enoent}", D0REQ("stat", "enoent"), 2);
	expect("requests{op=mkdir,result=ok}", DREQ("mkdir", "ok"), 1);
	expect("requests{op=write,result=ok}", DREQ("write", "ok"), 3);
	expect("requests{op=read,result=ok}", DREQ("read", "ok"), 2);
	expect("requests{op=unlink,result=ok}", DREQ("unlink", "ok"), 1);
	expect("requests{op=inject,result=ok}", DREQ("inject", "ok"), 1);
	expect("requests{op=map,result=ok}", DREQ("map", "ok"), 2);
	expect("requests{op=hello,result=ok}", DREQ("hello", "ok"), 2);
	expect("requests{op=ack,result=ok}", DREQ("ack", "ok"), 1);
	expect("request_duration_seconds_count{op=create}",
	       D("daxfs_request_duration_seconds_count", "op=\"create\""), 12);
	expect("request_duration_seconds_count{op=write}",
	       D("daxfs_request_duration_seconds_count", "op=\"write\""), 3);
	expect("copy_bytes{direction=write}", D("daxfs_copy_bytes_total", "direction=\"write\""),
	       100 + sizeof(data) + 2 * PAGE);
	expect("copy_bytes{direction=read}", D("daxfs_copy_bytes_total", "direction=\"read\""),
	       1000 + sizeof(back));
	expect("mapped_bytes{mode=read}", D("daxfs_mapped_bytes_total", "mode=\"read\""), 2 * PAGE);
	expect("mapped_bytes{mode=write}", D("daxfs_mapped_bytes_total", "mode=\"write\""), PAGE);
	expect("poison_events{source=injected}",
	       D("daxfs_poison_events_total", "source=\"injected\""), 1);
	expect("poisoned_blocks{source=injected}",
	       D("daxfs_poisoned_blocks_total", "source=\"injected\""), 2);
	expect("quarantined_bytes", D("daxfs_quarantined_bytes", ""), 2 * PAGE);
	expect("blocks{state=quarantined}", D("daxfs_blocks", "state=\"quarantined\""), 2);
	expect("lease_breaks", D("daxfs_lease_breaks_total", ""), 2);
	expect("lease_breaks_acked", D("daxfs_lease_breaks_acked_total", ""), 1);
	expect("lease_breaks_timed_out", D("daxfs_lease_breaks_timed_out_total", ""), 1);
	expect("sessions_opened", D("daxfs_sessions_opened_total", ""), 2);
	expect("inodes", D("daxfs_inodes", ""), 11); /* 10 + /dir + /mapped - /f9 */
	/* The dropped holder still runs (it is us): its grant and its block stay held. */
	expect("grants", D("daxfs_grants", ""), 1);
	expect("blocks{state=reserved}", D("daxfs_blocks", "state=\"reserved\""), 1);
	T_ASSERT(value(&after, "daxfs_parked_requests", "") == 0);
	/* The region, as statfs says it. */
	T_ASSERT(value(&after, "daxfs_region_info",
		       "kind=\"emulated\",granularity=\"page\",size_bytes=\"67108864\"") == 1);

	/* daxfs stats --json parses, and agrees with the endpoint. */
	T_ASSERT(t_cli(&d, &out, &err, "stats", "--json", NULL) == 0);
	j = json_tokener_parse(out);
	if (!j)
		T_FAIL("daxfs stats --json is not JSON: %.200s", out);
	T_ASSERT(json_object_object_get_ex(j, "daxfs_copy_bytes", &fam));
	T_ASSERT(json_object_object_get_ex(fam, "samples", &samples));
	T_ASSERT(json_object_array_length(samples) == 2);
	for (size_t i = 0; i < 2; i++) {
		json_object *sm = json_object_array_get_idx(samples, i), *lo, *dir, *v;
		char lbl[64];

		T_ASSERT(json_object_object_get_ex(sm, "labels", &lo) &&
			 json_object_object_get_ex(lo, "direction", &dir) &&
			 json_object_object_get_ex(sm, "value", &v));
		snprintf(lbl, sizeof(lbl), "direction=\"%s\"", json_object_get_string(dir));
		T_ASSERT((double)json_object_get_uint64(v) ==
			 value(&after, "daxfs_copy_bytes_total", lbl));
	}
	T_ASSERT(json_object_object_get_ex(j, "daxfs_request_duration_seconds", &fam));
	T_ASSERT(json_object_object_get_ex(fam, "unit", &samples) &&
		 strcmp(json_object_get_string(samples), "seconds") == 0);
	json_object_put(j);
	free(out);
	free(err);
	/* And the human form names what it shows. */
	T_ASSERT(t_cli(&d, &out, &err, "stats", NULL) == 0);
	T_ASSERT(strstr(out, "op=create result=ok") && strstr(out, "source=injected"));
	free(out);
	free(err);

	scrape_release(&before);
	scrape_release(&after);
	daxfs_close(fs);
	t_daemon_stop(&d);
	return 0;
}
