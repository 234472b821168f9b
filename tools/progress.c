// SPDX-License-Identifier: MIT
/*
 * The progress line of long commands (progress.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "progress.h"
#include "util.h"

#define REDRAW_TTY_NS (100ull * 1000 * 1000)
#define REDRAW_LINES_NS (1000ull * 1000 * 1000)
#define RATE_MIN_S 0.25

void progress_begin(struct progress *p, enum progress_mode mode, const char *what, uint64_t total,
		    bool bytes)
{
	uint64_t now = mono_ns();

	if (p->begin_ns == 0) {
		p->begin_ns = now;
		p->tty = isatty(STDERR_FILENO);
	}
	p->mode = mode;
	snprintf(p->what, sizeof(p->what), "%.95s", what);
	p->total = total;
	p->bytes = bytes;
	p->done = 0;
	p->start_ns = now;
	p->drawn_ns = 0;
}

void progress_what(char *buf, size_t len, const char *verb, const char *path)
{
	size_t n = strlen(path);

	snprintf(buf, len, "%s %s%.60s", verb, n > 60 ? "..." : "", n > 60 ? path + n - 60 : path);
}

static const char *amount(const struct progress *p, uint64_t v, char *buf, size_t len)
{
	if (p->bytes)
		return format_size(v, buf, len);
	snprintf(buf, len, "%" PRIu64, v);
	return buf;
}

static void clock_text(uint64_t s, char *buf, size_t len)
{
	if (s >= 3600)
		snprintf(buf, len, "%" PRIu64 ":%02" PRIu64 ":%02" PRIu64, s / 3600, s / 60 % 60,
			 s % 60);
	else
		snprintf(buf, len, "%" PRIu64 ":%02" PRIu64, s / 60, s % 60);
}

/* draw - the line as of @now: "WHAT  PCT%  DONE of TOTAL  RATE/s  ETA M:SS". */
static void draw(struct progress *p, uint64_t now, bool final)
{
	char line[256], d[32], t[32], r[32], eta[32];
	double secs = (double)(now - p->start_ns) / 1e9;
	/* Less than RATE_MIN_S of work says nothing about its rate. */
	uint64_t rate = secs >= RATE_MIN_S ? (uint64_t)((double)p->done / secs) : 0;
	struct winsize ws;
	int n;

	n = snprintf(line, sizeof(line), "%s", p->what);
	if (p->total)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "  %3" PRIu64 "%%",
			      MIN(p->done, p->total) * 100 / p->total);
	n += snprintf(line + n, sizeof(line) - (size_t)n, "  %s", amount(p, p->done, d, sizeof(d)));
	if (p->total)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " of %s",
			      amount(p, p->total, t, sizeof(t)));
	if (rate)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "  %s/s",
			      amount(p, rate, r, sizeof(r)));
	if (final) {
		clock_text((uint64_t)secs, eta, sizeof(eta));
		snprintf(line + n, sizeof(line) - (size_t)n, "  in %s", eta);
	} else if (p->total && rate && p->done < p->total) {
		clock_text((p->total - p->done + rate - 1) / rate, eta, sizeof(eta));
		snprintf(line + n, sizeof(line) - (size_t)n, "  ETA %s", eta);
	}
	if (!p->tty) {
		fprintf(stderr, "%s\n", line);
		return;
	}
	/* One terminal line: a longer one would wrap, and \r would not go back over it. */
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
	    strlen(line) >= ws.ws_col)
		line[ws.ws_col - 1] = '\0';
	fprintf(stderr, "\r%s\033[K%s", line, final ? "\n" : "");
	fflush(stderr);
}

void progress_engine(void *ctx, const char *phase, uint64_t done, uint64_t total, bool bytes)
{
	struct progress *p = ctx;

	if (p->phase != phase) {
		char what[2 * sizeof(p->what)];

		snprintf(what, sizeof(what), "%s: %s", p->cmd, phase);
		progress_begin(p, p->mode, what, total, bytes);
		p->phase = phase;
	}
	p->total = total;
	progress_update(p, done);
}

void progress_update(struct progress *p, uint64_t done)
{
	uint64_t now;

	p->done = done;
	if (p->mode == PROGRESS_NEVER || (p->mode == PROGRESS_AUTO && !p->tty))
		return;
	now = mono_ns();
	if (p->mode == PROGRESS_AUTO && now - p->begin_ns < PROGRESS_DELAY_MS * 1000000ull)
		return;
	if (p->drawn_ns && now - p->drawn_ns < (p->tty ? REDRAW_TTY_NS : REDRAW_LINES_NS))
		return;
	p->drawn_ns = now;
	p->shown = true;
	draw(p, now, false);
}

void progress_end(struct progress *p)
{
	if (p->shown)
		draw(p, mono_ns(), true);
	p->shown = false;
}
