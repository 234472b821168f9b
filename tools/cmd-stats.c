// SPDX-License-Identifier: MIT
/*
 * daxfs stats: the daemon's metrics over its socket (STATS), the OpenMetrics text its
 * metrics endpoint serves, shown for a person, as JSON, or as it came.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <daxfs/daxfs.h>

#include "daxfs.h"
#include "util.h"

#define LABELS_MAX 8

struct sample {
	char *name; /* points into the text, NUL-terminated by the parser */
	size_t nlabels;
	char *key[LABELS_MAX], *val[LABELS_MAX];
	double value;
};

/* One metric family: its metadata and samples, in the order of the text. */
struct family {
	char *name, *type, *unit, *help;
	struct sample *s;
	size_t n, cap;
};

struct metrics {
	struct family *f;
	size_t n, cap;
};

/* unescape - a HELP text or label value in place: \\, \n and \" (OpenMetrics). */
static void unescape(char *p)
{
	char *w = p;

	for (; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			*w++ = *p == 'n' ? '\n' : *p;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
}

static struct family *family_get(struct metrics *m, char *name)
{
	struct family *nf;

	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->f[i].name, name) == 0)
			return &m->f[i];
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 32;
		nf = realloc(m->f, m->cap * sizeof(*nf));
		if (!nf)
			return NULL;
		m->f = nf;
	}
	m->f[m->n] = (struct family){.name = name, .type = "unknown"};
	return &m->f[m->n++];
}

/*
 * family_of - the family a sample belongs to: the one whose name is the sample's, or the
 * sample's less a suffix its type allows (_total, _bucket, _count, _sum, _info).
 */
static struct family *family_of(struct metrics *m, const char *sample)
{
	static const char *const suffix[] = {"_total", "_bucket", "_count", "_sum", "_info"};
	size_t len = strlen(sample);

	for (size_t i = m->n; i-- > 0;) {
		size_t fl = strlen(m->f[i].name);

		if (strncmp(sample, m->f[i].name, fl) != 0)
			continue;
		if (fl == len)
			return &m->f[i];
		for (size_t k = 0; k < ARRAY_SIZE(suffix); k++)
			if (strcmp(sample + fl, suffix[k]) == 0)
				return &m->f[i];
	}
	return NULL;
}

/* parse_labels - "{a=\"x\",b=\"y\"}" at *@pp into @s. Return: 0; -EBADMSG. */
static int parse_labels(char **pp, struct sample *s)
{
	char *p = *pp + 1;

	while (*p != '}') {
		char *key = p, *val;

		if (s->nlabels == LABELS_MAX)
			return -EBADMSG;
		p += strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
		if (p == key || p[0] != '=' || p[1] != '"')
			return -EBADMSG;
		*p = '\0';
		val = p + 2;
		for (p = val; *p && *p != '"'; p++)
			if (*p == '\\' && p[1])
				p++;
		if (*p != '"')
			return -EBADMSG;
		*p++ = '\0';
		unescape(val);
		s->key[s->nlabels] = key;
		s->val[s->nlabels++] = val;
		if (*p == ',')
			p++;
		else if (*p != '}')
			return -EBADMSG;
	}
	*pp = p + 1;
	return 0;
}

/*
 * parse - the OpenMetrics @text (changed in place; @m points into it) into families.
 * Return: 0; -EBADMSG with the line number in *@line; -ENOMEM.
 */
static int parse(char *text, struct metrics *m, unsigned *line)
{
	bool eof = false;
	char *next;

	*line = 0;
	for (char *l = text; *l && !eof; l = next) {
		struct family *f;
		struct sample s = {0};
		char *p, *end;

		(*line)++;
		next = strchr(l, '\n');
		if (!next)
			return -EBADMSG; /* every line ends with a newline */
		*next++ = '\0';
		if (strcmp(l, "# EOF") == 0) {
			eof = true;
			continue;
		}
		if (l[0] == '#') {
			char *kind = l + 2, *name, *rest;

			if (strncmp(l, "# ", 2) != 0)
				return -EBADMSG;
			name = strchr(kind, ' ');
			if (!name)
				return -EBADMSG;
			*name++ = '\0';
			rest = strchr(name, ' ');
			if (!rest)
				return -EBADMSG;
			*rest++ = '\0';
			f = family_get(m, name);
			if (!f)
				return -ENOMEM;
			if (strcmp(kind, "TYPE") == 0)
				f->type = rest;
			else if (strcmp(kind, "UNIT") == 0)
				f->unit = rest;
			else if (strcmp(kind, "HELP") == 0)
				unescape(f->help = rest);
			else
				return -EBADMSG;
			continue;
		}
		p = l + strcspn(l, "{ ");
		s.name = l;
		if (*p == '{') {
			*p = '\0';
			if (parse_labels(&p, &s))
				return -EBADMSG;
		} else if (*p == ' ') {
			*p = '\0';
			p++;
		} else {
			return -EBADMSG;
		}
		if (*p == ' ')
			p++;
		errno = 0;
		s.value = strtod(p, &end);
		if (end == p || errno || (*end && *end != ' '))
			return -EBADMSG;
		f = family_of(m, s.name);
		if (!f)
			return -EBADMSG; /* a sample before its family's metadata */
		if (f->n == f->cap) {
			struct sample *ns;

			f->cap = f->cap ? 2 * f->cap : 16;
			ns = realloc(f->s, f->cap * sizeof(*ns));
			if (!ns)
				return -ENOMEM;
			f->s = ns;
		}
		f->s[f->n++] = s;
	}
	return eof ? 0 : -EBADMSG;
}

static void metrics_release(struct metrics *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->f[i].s);
	free(m->f);
}

/* is_count - @v is a whole number a uint64_t holds: print it as one. */
static bool is_count(double v)
{
	return v >= 0 && v < 18446744073709551616.0 && v == (double)(uint64_t)v;
}

static json_object *json_value(double v)
{
	return is_count(v) ? json_object_new_uint64((uint64_t)v) : json_object_new_double(v);
}

static json_object *to_json(const struct metrics *m)
{
	json_object *j = json_object_new_object();

	for (size_t i = 0; i < m->n; i++) {
		const struct family *f = &m->f[i];
		json_object *fo = json_object_new_object(), *arr = json_object_new_array();

		json_object_object_add(fo, "type", json_object_new_string(f->type));
		if (f->unit)
			json_object_object_add(fo, "unit", json_object_new_string(f->unit));
		if (f->help)
			json_object_object_add(fo, "help", json_object_new_string(f->help));
		for (size_t k = 0; k < f->n; k++) {
			json_object *so = json_object_new_object(), *lo = json_object_new_object();

			json_object_object_add(so, "name", json_object_new_string(f->s[k].name));
			for (size_t l = 0; l < f->s[k].nlabels; l++)
				json_object_object_add(lo, f->s[k].key[l],
						       json_object_new_string(f->s[k].val[l]));
			json_object_object_add(so, "labels", lo);
			json_object_object_add(so, "value", json_value(f->s[k].value));
			json_object_array_add(arr, so);
		}
		json_object_object_add(fo, "samples", arr);
		json_object_object_add(j, f->name, fo);
	}
	return j;
}

/* labels_text - "op=read result=ok" (without the histograms' le). */
static const char *labels_text(const struct sample *s, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (size_t l = 0; l < s->nlabels && at < len; l++) {
		if (strcmp(s->key[l], "le") == 0)
			continue;
		at += (size_t)snprintf(buf + at, len - at, "%s%s=%s", at ? " " : "", s->key[l],
				       s->val[l]);
	}
	return buf;
}

static void print_value(double v)
{
	if (is_count(v))
		printf("%" PRIu64 "\n", (uint64_t)v);
	else
		printf("%g\n", v);
}

/*
 * print_human - each family: its name (less "daxfs_") and help, then its series, one a
 * line; a histogram as its count and mean rather than its buckets; series that are 0 are
 * left out, but the families are all there.
 */
static void print_human(const struct metrics *m)
{
	char lbl[256];
	double mean;

	for (size_t i = 0; i < m->n; i++) {
		const struct family *f = &m->f[i];
		const char *short_name = strncmp(f->name, "daxfs_", 6) ? f->name : f->name + 6;
		bool hist = strcmp(f->type, "histogram") == 0;

		printf("%s%s%s\n", short_name, f->help ? ": " : "", f->help ? f->help : "");
		for (size_t k = 0; k < f->n; k++) {
			const struct sample *s = &f->s[k];
			size_t nl = strlen(s->name);

			if (hist) {
				/* One line per series, at its _count; its _sum follows it. */
				if (nl < 6 || strcmp(s->name + nl - 6, "_count") != 0)
					continue;
				if (s->value == 0)
					continue;
				mean = (k + 1 < f->n ? f->s[k + 1].value : 0) / s->value;
				labels_text(s, lbl, sizeof(lbl));
				if (f->unit && strcmp(f->unit, "seconds") == 0)
					printf("  %-40s count %.0f, mean %.1f us\n", lbl, s->value,
					       mean * 1e6);
				else
					printf("  %-40s count %.0f, mean %g\n", lbl, s->value,
					       mean);
				continue;
			}
			if (s->value == 0 && strcmp(f->type, "info") != 0)
				continue;
			if (s->nlabels)
				printf("  %-40s ", labels_text(s, lbl, sizeof(lbl)));
			else
				printf("  ");
			print_value(s->value);
		}
	}
}

static const char stats_usage[] =
	"usage: daxfs stats [--json | --openmetrics]\n"
	"\n"
	"Show the daemon's metrics: requests by operation and result with their latency,\n"
	"bytes copied and mapped, sessions, grants, lease breaks, poison by source, blocks by\n"
	"state, the metadata log and its checkpoints, the region (daxfsd(8) lists the series).\n"
	"They are what daxfsd serves on --metrics-listen, here over its socket, open to every\n"
	"user. Series at 0 are left out of the human output; --json gives every family with\n"
	"its type, unit, help and samples; --openmetrics prints the text as the daemon sent it.\n";

int cmd_stats(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"openmetrics", no_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct metrics m = {0};
	bool raw = false;
	struct daxfs *fs;
	unsigned line;
	size_t len;
	char *text;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			ctx->json = true;
			break;
		case 'o':
			raw = true;
			break;
		case 'h':
			fputs(stats_usage, stdout);
			return EXIT_OK;
		default:
			fputs(stats_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || (raw && ctx->json)) {
		fputs(stats_usage, stderr);
		return EXIT_USAGE;
	}
	rc = cli_connect("stats", ctx, &fs);
	if (rc)
		return rc;
	rc = daxfs_stats(fs, &text, &len);
	daxfs_close(fs);
	if (rc)
		return cli_fail("stats", ctx->socket_path, rc);
	if (raw) {
		rc = fwrite(text, 1, len, stdout) == len ? EXIT_OK : EXIT_FAIL;
		free(text);
		return rc;
	}
	rc = parse(text, &m, &line);
	if (rc) {
		cli_err("stats", "the daemon's metrics are malformed at line %u: %s", line,
			strerror(-rc));
		rc = EXIT_FAIL;
	} else if (ctx->json) {
		cli_print_json(to_json(&m), true);
	} else {
		print_human(&m);
	}
	metrics_release(&m);
	free(text);
	return rc;
}
