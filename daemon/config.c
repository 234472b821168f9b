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

#include <ini.h>

#include "cfg.h"
#include "config.h"
#include "log.h"
#include "perm.h"
#include "util.h"

enum cfg_section {
	SEC_DAEMON,
	SEC_REGION,
};

enum cfg_type {
	T_PATH,	 /* a non-empty path */
	T_MODE,	 /* octal, 0..0777 */
	T_GROUP, /* a group name or gid */
	T_LEVEL, /* a log level */
	T_UINT,	 /* decimal within [min, max] */
	T_BOOL,
	T_KIND,	 /* devdax, fsdax, emulated, auto */
	T_SIZE,	 /* 64M, 2G, ... */
	T_TRUST, /* a map trust list (perm_trust_parse) */
};

struct cfg_def {
	const char *name;
	const char *flag; /* the command-line flag, or NULL */
	enum cfg_section sec;
	enum cfg_type type;
	const char *def; /* NULL: unset */
	uint64_t min, max;
	bool reloadable;
	const char *help;
};

static const struct cfg_def defs[CFG_NKEYS] = {
	[CFG_SOCKET] = {"socket", "--socket", SEC_DAEMON, T_PATH,
			DAXFS_RUNSTATEDIR "/daxfs/daxfsd.sock", 0, 0, false,
			"the unix socket to listen on (unused under socket activation)"},
	[CFG_SOCKET_MODE] = {"socket_mode", "--socket-mode", SEC_DAEMON, T_MODE, "0666", 0, 0777,
			     false, "octal mode of the socket file"},
	[CFG_SOCKET_GROUP] = {"socket_group", "--socket-group", SEC_DAEMON, T_GROUP, NULL, 0, 0,
			      false, "group of the socket file"},
	[CFG_LOG_LEVEL] = {"log_level", "--log-level", SEC_DAEMON, T_LEVEL, "notice", 0, 0, true,
			   "err, warning, notice, info, debug (or 3..7)"},
	[CFG_WORKERS] = {"workers", "--workers", SEC_DAEMON, T_UINT, "16", 1, 1024, false,
			 "threads that run requests"},
	[CFG_LEASE_BREAK_TIMEOUT] = {"lease_break_timeout", "--lease-break-timeout", SEC_DAEMON,
				     T_UINT, "5000", 1, 24ULL * 3600 * 1000, true,
				     "milliseconds a mapping client has to let go"},
	[CFG_FAULT_INJECTION] = {"fault_injection", "--fault-injection", SEC_DAEMON, T_BOOL,
				 "false", 0, 1, false,
				 "accept inject requests (tests only, never in production)"},
	[CFG_PERSIST_TRACE] = {"persist_trace", "--persist-trace", SEC_DAEMON, T_PATH, NULL, 0, 0,
			       false,
			       "fault injection: keep a durable image of what was persisted"},
	[CFG_POLL_US] = {"poll_us", "--poll-us", SEC_DAEMON, T_UINT, "50", 0, 1000000, false,
			 "microseconds to poll before sleeping"},
	[CFG_MAX_SESSIONS] = {"max_sessions", "--max-sessions", SEC_DAEMON, T_UINT, "256", 1,
			      1000000, false, "connected clients at most"},
	[CFG_MAX_SESSIONS_PER_USER] = {"max_sessions_per_user", "--max-sessions-per-user",
				       SEC_DAEMON, T_UINT, "64", 1, 1000000, false,
				       "connected clients of one uid at most (not root's, nor the "
				       "daemon's user's)"},
	[CFG_PATH] = {"path", "--region", SEC_REGION, T_PATH, NULL, 0, 0, false,
		      "the region: a device-DAX device or a file"},
	[CFG_KIND] = {"kind", "--kind", SEC_REGION, T_KIND, "auto", 0, 0, false,
		      "devdax, fsdax, emulated or auto"},
	[CFG_SIZE] = {"size", NULL, SEC_REGION, T_SIZE, NULL, 0, 0, false,
		      "size of an emulated region (for the tools that create it)"},
	[CFG_MAP_USERS] = {"map_users", "--map-users", SEC_REGION, T_TRUST, NULL, 0, 0, true,
			   "users allowed to map files"},
	[CFG_MAP_GROUPS] = {"map_groups", "--map-groups", SEC_REGION, T_TRUST, NULL, 0, 0, true,
			    "groups allowed to map files"},
	[CFG_BADBLOCK_POLL_INTERVAL] = {"badblock_poll_interval", "--badblock-poll-interval",
					SEC_REGION, T_UINT, "0", 0, 7ULL * 24 * 3600, false,
					"seconds between bad-block scans; 0: at mount only"},
};

static const char *const kinds[] = {"auto", "devdax", "fsdax", "emulated"};

const char *cfg_key_name(enum cfg_key k)
{
	return defs[k].name;
}

const char *cfg_key_flag(enum cfg_key k)
{
	return defs[k].flag;
}

bool cfg_key_reloadable(enum cfg_key k)
{
	return defs[k].reloadable;
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
	case T_SIZE:
		if (parse_size(s, num) || *num == 0)
			return "a size such as 64M or 2G";
		return NULL;
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
