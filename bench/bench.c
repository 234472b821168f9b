// SPDX-License-Identifier: MIT
/*
 * Helpers shared by the benchmark programs; see bench.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static const char *prog = "bench";

static void usage(FILE *f)
{
	fprintf(f, "usage: %s [-r REPS]\n", prog);
	fprintf(f, "prints one JSON object per figure on stdout; bench/run aggregates them\n");
}

void bench_parse(int argc, char **argv, int def_reps, struct bench_opts *o)
{
	int c;

	prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	o->reps = def_reps;
	while ((c = getopt(argc, argv, "hr:")) != -1) {
		switch (c) {
		case 'r':
			o->reps = atoi(optarg);
			if (o->reps < 1 || o->reps > 1000) {
				fprintf(stderr, "%s: -r wants 1..1000\n", prog);
				exit(2);
			}
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc) {
		usage(stderr);
		exit(2);
	}
}

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	if (n % 2)
		return v[n / 2];
	return (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* print_json_string - @s as a JSON string (the names here are plain ASCII). */
static void print_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	putchar('"');
}

void bench_emit(const struct bench_figure *f)
{
	fputs("{\"bench\":", stdout);
	print_json_string(f->bench);
	fputs(",\"figure\":", stdout);
	print_json_string(f->figure);
	fputs(",\"unit\":", stdout);
	print_json_string(f->unit);
	printf(",\"value\":%.9g,\"baseline\":", f->value);
	print_json_string(f->baseline);
	printf(",\"baseline_value\":%.9g,\"higher_is_better\":%s,\"reps\":%d,\"goal\":",
	       f->baseline_value, f->higher_is_better ? "true" : "false", f->reps);
	if (f->goal) {
		print_json_string(f->goal);
		printf(",\"goal_met\":%s}\n", f->goal_met ? "true" : "false");
	} else {
		fputs("null,\"goal_met\":null}\n", stdout);
	}
	fflush(stdout);
}

void bench_note(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void bench_die(int err, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err < 0)
		fprintf(stderr, ": %s", strerror(-err));
	fputc('\n', stderr);
	exit(1);
}
