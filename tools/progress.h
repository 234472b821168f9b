/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_TOOLS_PROGRESS_H
#define DAXFS_TOOLS_PROGRESS_H

/*
 * progress - one line on stderr for a command that takes a while (put, get, scrub, check,
 * mkfs): what it does, percent, done of total, rate and ETA, redrawn in place:
 *
 *   put /big.img   45%   1.2 GiB of 2.6 GiB   310.5 MiB/s   ETA 0:05
 *
 * By default (PROGRESS_AUTO) it shows only when stderr is a terminal, and only once the
 * work has gone on for PROGRESS_DELAY_MS, so that quick commands print nothing. --progress
 * (PROGRESS_ALWAYS) shows it from the start, also when stderr is not a terminal (then one
 * line per second, each ending with a newline); --no-progress (PROGRESS_NEVER) never.
 * When the work ends the last state stays on its line.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum progress_mode {
	PROGRESS_AUTO,
	PROGRESS_ALWAYS,
	PROGRESS_NEVER,
};

#define PROGRESS_DELAY_MS 1000

struct progress {
	enum progress_mode mode;
	bool tty;	   /* stderr is a terminal: redraw in place */
	bool bytes;	   /* units are bytes (sizes, MiB/s); else counts (N/s) */
	bool shown;	   /* a line is on the screen */
	char what[96];	   /* "put /big.img" */
	char cmd[96];	   /* progress_engine: the command, before its phases */
	const char *phase; /* progress_engine: the phase shown */
	uint64_t total;	   /* units in all; 0: not known (no percent, no ETA) */
	uint64_t done;	   /* units so far */
	uint64_t start_ns; /* of this phase */
	uint64_t drawn_ns; /* when the line was last drawn */
	uint64_t begin_ns; /* of the whole command: the delay counts from it */
};

/*
 * progress_begin - start showing @what (a phase of the command: call it again for the next
 * one, which replaces the line) with @total units (0: unknown), bytes or counts.
 */
void progress_begin(struct progress *p, enum progress_mode mode, const char *what, uint64_t total,
		    bool bytes);

/* progress_what - "VERB PATH" into @buf, the path cut to its last 60 bytes ("...tail"). */
void progress_what(char *buf, size_t len, const char *verb, const char *path);

/*
 * progress_engine - a progress_cb (common/util.h) for the engine's long operations, @ctx a
 * struct progress begun with what the command is ("check region.img"): each new phase
 * begins again as "WHAT: PHASE".
 */
void progress_engine(void *ctx, const char *phase, uint64_t done, uint64_t total, bool bytes);

/* progress_update - @done units so far; redraws at most every 100 ms (a second off a tty). */
void progress_update(struct progress *p, uint64_t done);

/* progress_end - the final state of the line, and a newline, if anything was shown. */
void progress_end(struct progress *p);

#endif
