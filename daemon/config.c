// SPDX-License-Identifier: MIT
/*
 * The daemon's settings: one table says every key's section, type, default, range, whether
 * SIGHUP may change it, and what it does; the file parser (inih), the flags and the reload
 * all go through it.
 */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <ini.h>

#include "cfg.h"
#include "config.h"
#include "lease.h"
#include "log.h"
#include "perm.h"
#include "util.h"

enum cfg_section {
	SEC_DAEMON,
	SEC_REGION,
};

enum cfg_type {
	T_PATH,	  /* a non-empty path */
	T_MODE,	  /* octal, 0..0777 */
	T_GROUP,  /* a group name or gid */
	T_LEVEL,  /* a log level */
	T_UINT,	  /* decimal within [min, max] */
	T_BOOL,	  /* its flag takes no value: it sets it true */
	T_KIND,	  /* devdax, fsdax, emulated, auto */
	T_SIZE,	  /* 64M, 2G, ... */
	T_TRUST,  /* a map trust list (perm_trust_parse) */
	T_LISTEN, /* ADDR:PORT, a numeric IPv4 address or a [bracketed] IPv6 one */
	T_CACHE,  /* none, auto, always (enum fmount_cache) */
	T_TEXT,	  /* any text; its user checks it (mount_options: fmount_opts_parse) */
};

/*
 * One key. The table below is the only place that says what a setting is called, what it
 * takes and what it is when not set: the file parser, the flags (main.c builds its getopt
 * table from it), --help and --dump-config all read it. A key gets its flag by having one
 * here; a default written anywhere else is a bug.
 */
struct cfg_def {
	const char *name;
	const char *flag;    /* the command-line flag, or NULL */
	const char *metavar; /* what the flag takes in --help; NULL for T_BOOL */
	enum cfg_section sec;
	enum cfg_type type;
	const char *def; /* NULL: unset */
	uint64_t min, max;
	bool reloadable;
	const char *help; /* a sentence without the default, which --help appends */
};

static const struct cfg_def defs[CFG_NKEYS] = {
	[CFG_SOCKET] = {"socket", "--socket", "PATH", SEC_DAEMON, T_PATH, DAXFS_SOCKET_PATH, 0, 0,
			false,
			"the unix socket to listen on; its directory is created if missing; "
			"under socket activation the socket systemd passes is used instead"},
	[CFG_SOCKET_MODE] = {"socket_mode", "--socket-mode", "MODE", SEC_DAEMON, T_MODE, "0666", 0,
			     0777, false,
			     "octal mode of the socket file (permissions are also checked per "
			     "request)"},
	[CFG_SOCKET_GROUP] = {"socket_group", "--socket-group", "GROUP", SEC_DAEMON, T_GROUP, NULL,
			      0, 0, false,
			      "group of the socket file, a name or gid (unset: left as created)"},
	[CFG_LOG_LEVEL] = {"log_level", "--log-level", "LEVEL", SEC_DAEMON, T_LEVEL, "notice", 0, 0,
			   true,
			   "err, warning, notice, info, debug (or 3..7); $DAXFS_LOG sets it too "
			   "(over the file, under the option)"},
	[CFG_WORKERS] = {"workers", "--workers", "N", SEC_DAEMON, T_UINT, "16", 1, 1024, false,
			 "threads that run requests"},
	[CFG_LEASE_BREAK_TIMEOUT] = {"lease_break_timeout", "--lease-break-timeout", "MS",
				     SEC_DAEMON, T_UINT, XSTR(NS_LEASE_TIMEOUT_MS_DEFAULT), 1,
				     24ULL * 3600 * 1000, true,
				     "milliseconds a client that maps a range being truncated or "
				     "punched has to let go before it is dropped"},
	[CFG_FAULT_INJECTION] = {"fault_injection", "--fault-injection", NULL, SEC_DAEMON, T_BOOL,
				 "false", 0, 1, false,
				 "accept 'daxfs inject' requests from root and from this daemon's "
				 "user (tests only: never in production)"},
	[CFG_PERSIST_TRACE] = {"persist_trace", "--persist-trace", "FILE", SEC_DAEMON, T_PATH, NULL,
			       0, 0, false,
			       "with fault injection: copy only what is persisted to FILE, a "
			       "durable image a crash test can mount"},
	[CFG_POLL_US] = {"poll_us", "--poll-us", "US", SEC_DAEMON, T_UINT, "50", 0, 1000000, false,
			 "after a request, poll for the next one this long before sleeping "
			 "(0: off)"},
	[CFG_RING_THREADS] = {"ring_threads", "--ring-threads", "N", SEC_DAEMON, T_UINT, "0", 0, 64,
			      false,
			      "threads that poll the sessions' shared-memory request rings and run "
			      "what they take; sessions are spread over them (0: half the CPUs "
			      "daxfsd may run on, 1 or 2)"},
	[CFG_MAX_SESSIONS] = {"max_sessions", "--max-sessions", "N", SEC_DAEMON, T_UINT, "256", 1,
			      1000000, false,
			      "connected clients at most; more are accepted and closed at once"},
	[CFG_MAX_SESSIONS_PER_USER] =
		{"max_sessions_per_user", "--max-sessions-per-user", "N", SEC_DAEMON, T_UINT, "64",
		 1, 1000000, false,
		 "connected clients of one uid at most (root and the daemon's "
		 "user are not counted: the last eighth of max_sessions is "
		 "kept for them)"},
	[CFG_METRICS_LISTEN] = {"metrics_listen", "--metrics-listen", "ADDR:PORT", SEC_DAEMON,
				T_LISTEN, NULL, 0, 0, false,
				"serve OpenMetrics at http://ADDR:PORT/metrics, ADDR a numeric "
				"IPv4 or [IPv6] address (unset: off; daxfsd(8) says who can "
				"reach it)"},
	[CFG_PATH] = {"path", "--region", "PATH", SEC_REGION, T_PATH, NULL, 0, 0, false,
		      "the region: a device-DAX device, a file on a -o dax file system, or an "
		      "ordinary file formatted with 'daxfs mkfs' (required)"},
	[CFG_KIND] = {"kind", "--kind", "KIND", SEC_REGION, T_KIND, "auto", 0, 0, false,
		      "what the region must be: devdax, fsdax, emulated, or auto (decide from "
		      "the path)"},
	[CFG_REPLICA] = {"replica", "--replica", "PATH", SEC_REGION, T_PATH, NULL, 0, 0, false,
			 "a replica of the region, of the same size and kind: every write reaches "
			 "both, and a block poisoned in one is read and repaired from the other "
			 "(a new one is copied in the background; unset: none)"},
	[CFG_SIZE] = {"size", NULL, NULL, SEC_REGION, T_SIZE, NULL, 0, 0, false,
		      "size of an emulated region, for the tools that create it ('daxfs mkfs "
		      "--size'); checked here, not used by daxfsd"},
	[CFG_MAP_USERS] = {"map_users", "--map-users", "LIST", SEC_REGION, T_TRUST, NULL, 0, 0,
			   true,
			   "users allowed to map files zero-copy: comma-separated names or uids, "
			   "each optionally :ro for read-only mappings; repeated options add up "
			   "(unset: nobody, everyone uses copy I/O; a reload applies to new "
			   "connections)"},
	[CFG_MAP_GROUPS] = {"map_groups", "--map-groups", "LIST", SEC_REGION, T_TRUST, NULL, 0, 0,
			    true, "the same for groups (names or gids)"},
	[CFG_BADBLOCK_POLL_INTERVAL] = {"badblock_poll_interval", "--badblock-poll-interval", "S",
					SEC_REGION, T_UINT, "0", 0, 7ULL * 24 * 3600, false,
					"seconds between scans for new bad blocks (0: none by the "
					"clock; the list is also read at mount and whenever the "
					"kernel says it changed)"},
	[CFG_RESERVE_PERCENT] = {"reserve_percent", "--reserve-percent", "PCT", SEC_REGION, T_UINT,
				 "5", 0, 50, false,
				 "percent of the blocks and of the metadata log kept for root and "
				 "the daemon's user (0: none)"},
	[CFG_MOUNT] = {"mount", "--mount", "PATH", SEC_REGION, T_PATH, NULL, 0, 0, false,
		       "serve the region as a mounted file system on the directory PATH too "
		       "(FUSE, inside daxfsd: each program is checked as itself; stopping daxfsd "
		       "unmounts it; unset: no mount)"},
	[CFG_MOUNT_CACHE] = {"mount_cache", "--mount-cache", "MODE", SEC_REGION, T_CACHE, "auto", 0,
			     0, false,
			     "how much the kernel caches of the mount: none (no page cache, "
			     "every read and stat asks daxfsd), auto (cached, dropped at each "
			     "open and after the attribute timeout), always (kept; other "
			     "clients' changes invalidate it)"},
	[CFG_MOUNT_OPTIONS] = {"mount_options", "--mount-options", "OPTS", SEC_REGION, T_TEXT, NULL,
			       0, 0, false,
			       "more options of the mount, comma-separated: attr_timeout=S, "
			       "entry_timeout=S, writeback (with mount_cache always), ro"},
};

static const char *const kinds[] = {"auto", "devdax", "fsdax", "emulated"};
static const char *const caches[] = {"none", "auto", "always"}; /* enum fmount_cache */

const char *cfg_key_name(enum cfg_key k)
{
	return defs[k].name;
}

const char *cfg_key_flag(enum cfg_key k)
{
	return defs[k].flag;
}

const char *cfg_key_metavar(enum cfg_key k)
{
	return defs[k].metavar;
}

bool cfg_key_reloadable(enum cfg_key k)
{
	return defs[k].reloadable;
}

int cfg_parse_listen(const char *s, char *addr, size_t addrlen, uint16_t *port)
{
	const char *colon, *a = s;
	size_t alen;
	unsigned long p;
	char *end;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} bin;
	bool v6 = s[0] == '[';

	if (v6) {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		a = s + 1;
		alen = (size_t)(close - a);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		alen = (size_t)(colon - s);
	}
	if (alen == 0 || alen >= addrlen || alen >= INET6_ADDRSTRLEN)
		return -EINVAL;
	memcpy(addr, a, alen);
	addr[alen] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, &bin) != 1)
		return -EINVAL;
	if (colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || *end || p == 0 || p > 65535)
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
}

static bool parse_num(const char *s, int base, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/*
 * check - parse @s as the type of @k into *@num.
 * Return: NULL, or what a good value looks like (for the message).
 */
static const char *check(enum cfg_key k, const char *s, uint64_t *num, char *tmp, size_t tmplen)
{
	const struct cfg_def *d = &defs[k];
	enum log_level level;

	switch (d->type) {
	case T_PATH:
		return s[0] ? NULL : "a path";
	case T_MODE:
		return parse_num(s, 8, 0, 0777, num) ? NULL : "octal, e.g. 0660";
	case T_GROUP: {
		struct group *g;

		if (parse_num(s, 10, 0, UINT32_MAX - 1, num))
			return NULL;
		g = s[0] ? getgrnam(s) : NULL;
		if (!g)
			return "a group name or gid: no such group";
		*num = g->gr_gid;
		return NULL;
	}
	case T_LEVEL:
		if (log_level_parse(s, &level))
			return "err, warning, notice, info, debug, or 3..7";
		*num = level;
		return NULL;
	case T_UINT:
		if (parse_num(s, 10, d->min, d->max, num))
			return NULL;
		snprintf(tmp, tmplen, "%llu..%llu", (unsigned long long)d->min,
			 (unsigned long long)d->max);
		return tmp;
	case T_BOOL:
		if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on") || !strcmp(s, "1"))
			*num = 1;
		else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off") ||
			 !strcmp(s, "0"))
			*num = 0;
		else
			return "true or false";
		return NULL;
	case T_KIND:
		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
			if (!strcmp(s, kinds[i])) {
				*num = i; /* the order of enum region_kind */
				return NULL;
			}
		}
		return "devdax, fsdax, emulated or auto";
	case T_CACHE:
		for (size_t i = 0; i < sizeof(caches) / sizeof(caches[0]); i++) {
			if (!strcmp(s, caches[i])) {
				*num = i;
				return NULL;
			}
		}
		return "none, auto or always";
	case T_TEXT:
		return NULL;
	case T_SIZE:
		if (parse_size(s, num) || *num == 0)
			return "a size such as 64M or 2G";
		return NULL;
	case T_LISTEN: {
		char addr[INET6_ADDRSTRLEN];
		uint16_t port;

		if (cfg_parse_listen(s, addr, sizeof(addr), &port))
			return "ADDR:PORT, e.g. 127.0.0.1:9477 or [::1]:9477";
		*num = port;
		return NULL;
	}
	case T_TRUST: {
		struct perm_trust t = {0};
		int rc = perm_trust_parse(&t, s, k == CFG_MAP_GROUPS, tmp, tmplen);

		perm_trust_release(&t);
		if (rc == -ENOMEM) {
			snprintf(tmp, tmplen, "out of memory");
			return tmp;
		}
		return rc ? tmp : NULL;
	}
	}
	return "?";
}

/* store - @s (checked) as the value of @k. Return: 0; -ENOMEM. */
static int store(struct cfg *c, enum cfg_key k, const char *s, uint64_t num, enum cfg_src src,
		 unsigned line)
{
	char *dup = strdup(s);

	if (!dup)
		return -ENOMEM;
	free(c->v[k].str);
	c->v[k].str = dup;
	c->v[k].num = num;
	c->v[k].src = src;
	c->v[k].line = line;
	return 0;
}

int cfg_init(struct cfg *c)
{
	char tmp[64];

	memset(c, 0, sizeof(*c));
	for (int k = 0; k < CFG_NKEYS; k++) {
		uint64_t num = 0;

		if (!defs[k].def)
			continue;
		if (check(k, defs[k].def, &num, tmp, sizeof(tmp)) ||
		    store(c, k, defs[k].def, num, CFG_SRC_DEFAULT, 0)) {
			cfg_release(c);
			return -ENOMEM;
		}
	}
	return 0;
}

void cfg_release(struct cfg *c)
{
	for (int k = 0; k < CFG_NKEYS; k++)
		free(c->v[k].str);
	free(c->file);
	free(c->region_name);
	memset(c, 0, sizeof(*c));
}

int cfg_set_flag(struct cfg *c, enum cfg_key k, const char *value, char *err, size_t errlen)
{
	char tmp[192], *joined = NULL;
	const char *why;
	uint64_t num = 0;
	int rc;

	why = check(k, value, &num, tmp, sizeof(tmp));
	if (why) {
		if (defs[k].type == T_TRUST)
			snprintf(err, errlen, "%s: %s", defs[k].flag, why);
		else
			snprintf(err, errlen, "bad %s '%s' (%s)", defs[k].flag, value, why);
		return -EINVAL;
	}
	if (defs[k].type == T_TRUST && c->v[k].src == CFG_SRC_FLAG) {
		if (asprintf(&joined, "%s,%s", c->v[k].str, value) < 0)
			return -ENOMEM;
		value = joined;
	}
	rc = store(c, k, value, num, CFG_SRC_FLAG, 0);
	free(joined);
	return rc;
}

/* --- the file --- */

struct load {
	struct cfg *c;
	FILE *f;
	const char *file;
	unsigned line;
	enum cfg_section sec;
	bool in_section; /* a section header was seen */
	bool bad_section;
	int rc;
	char *err;
	size_t errlen;
};

static void fail(struct load *l, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct load *l, int rc, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->rc)
		return;
	l->rc = rc;
	n = snprintf(l->err, l->errlen, "%s:%u: ", l->file, l->line);
	if (n < 0 || (size_t)n >= l->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(l->err + n, l->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* section - a "[...]" line; inih calls no handler for an empty section, so look here. */
static void section(struct load *l, const char *line)
{
	const char *end = strchr(line, ']');
	char name[256];
	size_t len;

	if (!end)
		return; /* inih reports the syntax error */
	len = (size_t)(end - line - 1);
	if (len >= sizeof(name)) {
		fail(l, -EINVAL, "unknown section (too long)");
		return;
	}
	memcpy(name, line + 1, len);
	name[len] = '\0';
	l->in_section = true;
	if (!strcmp(name, "daemon")) {
		l->sec = SEC_DAEMON;
		return;
	}
	if (!strncmp(name, "region ", 7) && name[7] && !strchr(name + 7, ' ')) {
		if (l->c->region_name) {
			fail(l, -EINVAL,
			     "[%s]: only one region per daemon in this version ([region %s] "
			     "came first)",
			     name, l->c->region_name);
			return;
		}
		l->c->region_name = strdup(name + 7);
		if (!l->c->region_name)
			fail(l, -ENOMEM, "out of memory");
		l->sec = SEC_REGION;
		return;
	}
	if (!strcmp(name, "region"))
		fail(l, -EINVAL, "[region] needs a name: [region NAME]");
	else
		fail(l, -EINVAL, "unknown section [%s] (known: [daemon], [region NAME])", name);
}

static char *reader(char *str, int num, void *stream)
{
	struct load *l = stream;
	const char *p;

	if (l->rc || !fgets(str, num, l->f))
		return NULL;
	l->line++;
	for (p = str; *p == ' ' || *p == '\t'; p++)
		;
	if (*p == '[')
		section(l, p);
	return l->rc ? NULL : str;
}

static int handler(void *user, const char *sec, const char *name, const char *value)
{
	struct load *l = user;
	char tmp[192];
	const char *why;
	uint64_t num = 0;

	(void)sec;
	if (l->rc)
		return 0;
	if (!l->in_section) {
		fail(l, -EINVAL, "key '%s' outside a section", name);
		return 0;
	}
	for (int k = 0; k < CFG_NKEYS; k++) {
		if (defs[k].sec != l->sec || strcmp(defs[k].name, name))
			continue;
		why = check(k, value, &num, tmp, sizeof(tmp));
		if (why) {
			fail(l, -EINVAL, "bad %s '%s' (%s)", name, value, why);
			return 0;
		}
		if (l->c->v[k].src == CFG_SRC_FILE) {
			fail(l, -EINVAL, "%s given twice (first on line %u)", name,
			     l->c->v[k].line);
			return 0;
		}
		if (l->c->v[k].src == CFG_SRC_FLAG)
			return 1; /* the flag wins */
		if (store(l->c, k, value, num, CFG_SRC_FILE, l->line))
			fail(l, -ENOMEM, "out of memory");
		return !l->rc;
	}
	fail(l, -EINVAL, "unknown key '%s' in [%s]", name,
	     l->sec == SEC_DAEMON ? "daemon" : "region NAME");
	return 0;
}

int cfg_load(struct cfg *c, const char *file, char *err, size_t errlen)
{
	struct load l = {.c = c, .file = file, .err = err, .errlen = errlen};
	int rc;

	free(c->file);
	c->file = strdup(file);
	if (!c->file)
		return -ENOMEM;
	l.f = fopen(file, "re");
	if (!l.f) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot read it: %s", file, strerror(errno));
		return rc;
	}
	rc = ini_parse_stream(reader, &l, handler, &l);
	fclose(l.f);
	if (l.rc)
		return l.rc;
	if (rc > 0) {
		snprintf(err, errlen, "%s:%d: syntax error (want 'key = value' or '[section]')",
			 file, rc);
		return -EINVAL;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s: out of memory", file);
		return -ENOMEM;
	}
	if (c->region_name && !cfg_is_set(c, CFG_PATH)) {
		snprintf(err, errlen, "%s: [region %s] has no path", file, c->region_name);
		return -EINVAL;
	}
	return 0;
}

int cfg_reload(const struct cfg *old, struct cfg *out, char *err, size_t errlen)
{
	int rc = cfg_init(out);

	if (rc) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	for (int k = 0; k < CFG_NKEYS; k++) {
		if (old->v[k].src != CFG_SRC_FLAG)
			continue;
		rc = store(out, k, old->v[k].str, old->v[k].num, CFG_SRC_FLAG, 0);
		if (rc) {
			snprintf(err, errlen, "out of memory");
			goto err;
		}
	}
	rc = cfg_load(out, old->file, err, errlen);
	if (rc)
		goto err;
	return 0;
err:
	cfg_release(out);
	return rc;
}

/* --- --help and --dump-config --- */

#define HELP_COL 31   /* where the text of an option starts */
#define TEXT_WIDTH 79 /* the last column anything is printed in */

/*
 * wrap - the words of @text from column @at (where the output is now) up to TEXT_WIDTH,
 * each further line starting with @indent; then a newline.
 */
static void wrap(FILE *f, const char *text, size_t at, const char *indent)
{
	size_t col = at;
	bool first = true;

	for (const char *p = text; *p;) {
		size_t n = strcspn(p, " ");

		if (!first && col + 1 + n > TEXT_WIDTH) {
			fprintf(f, "\n%s", indent);
			col = strlen(indent);
		} else if (!first) {
			fputc(' ', f);
			col++;
		}
		fwrite(p, 1, n, f);
		col += n;
		first = false;
		for (p += n; *p == ' '; p++)
			;
	}
	fputc('\n', f);
}

/* describe - the help of @k with its range, default and reloadability, into @buf. */
static const char *describe(enum cfg_key k, char *buf, size_t len)
{
	const struct cfg_def *d = &defs[k];
	char what[96] = "";
	int n = 0;

	if (d->type == T_UINT)
		n = snprintf(what, sizeof(what), "%llu..%llu, default %s",
			     (unsigned long long)d->min, (unsigned long long)d->max, d->def);
	else if (d->def && d->type != T_BOOL)
		n = snprintf(what, sizeof(what), "default %s", d->def);
	if (d->reloadable)
		snprintf(what + n, sizeof(what) - (size_t)n, "%sreloadable", n ? "; " : "");
	snprintf(buf, len, what[0] ? "%s (%s)" : "%s", d->help, what);
	return buf;
}

void cfg_help_line(FILE *f, const char *opt, const char *text)
{
	static const char indent[] = "                               "; /* HELP_COL spaces */
	int n = fprintf(f, "  %s", opt);

	_Static_assert(sizeof(indent) - 1 == HELP_COL, "indent is HELP_COL wide");
	if (!text[0]) {
		fputc('\n', f);
		return;
	}
	if (n + 2 > HELP_COL) {
		fprintf(f, "\n%s", indent);
	} else {
		for (; n < HELP_COL; n++)
			fputc(' ', f);
	}
	wrap(f, text, HELP_COL, indent);
}

void cfg_help(FILE *f)
{
	char opt[64], text[512];

	for (int k = 0; k < CFG_NKEYS; k++) {
		if (!defs[k].flag)
			continue;
		snprintf(opt, sizeof(opt), "%s%s%s", defs[k].flag, defs[k].metavar ? " " : "",
			 defs[k].metavar ? defs[k].metavar : "");
		cfg_help_line(f, opt, describe(k, text, sizeof(text)));
	}
}

static const char dump_head[] =
	"# daxfsd.conf - the settings of daxfsd, the daxfs file server (daxfsd.conf(5)).\n"
	"#\n"
	"# Lines are \"key = value\"; \"#\" or \";\" start a comment. An unknown section or\n"
	"# key, or a bad value, stops daxfsd from starting (exit status 2) with a message\n"
	"# naming this file, the line and the key. Options of daxfsd override what is set\n"
	"# here. Keys marked reloadable take effect on SIGHUP (systemctl reload daxfsd); the\n"
	"# others need a restart. A key commented out is unset or at its default, the value\n"
	"# after the \"=\". 'daxfsd --dump-config' prints the settings in effect in this form.\n";

void cfg_dump(const struct cfg *c, FILE *f)
{
	char help[300], text[400];

	fputs(dump_head, f);
	for (int sec = SEC_DAEMON; sec <= SEC_REGION; sec++) {
		if (sec == SEC_DAEMON)
			fputs("\n[daemon]\n", f);
		else
			fprintf(f,
				"\n# One region per daemon; NAME is a label for the logs.\n"
				"[region %s]\n",
				c->region_name ? c->region_name : "main");
		for (int k = 0; k < CFG_NKEYS; k++) {
			const struct cfg_value *v = &c->v[k];

			if (defs[k].sec != (enum cfg_section)sec)
				continue;
			fputs("\n# ", f);
			snprintf(text, sizeof(text), "%s: %s", defs[k].name,
				 describe(k, help, sizeof(help)));
			wrap(f, text, 2, "# ");
			fprintf(f, "%s%s =%s%s\n", v->src == CFG_SRC_DEFAULT ? "#" : "",
				defs[k].name, v->str ? " " : "", v->str ? v->str : "");
		}
	}
}
