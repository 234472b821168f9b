/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_COMMON_LOG_H
#define DAXFS_COMMON_LOG_H

#include <stdarg.h>
#include <stdint.h>

/*
 * A small log module with syslog levels and a settable sink. The default sink writes
 * "<N>message" lines to stderr, which journald turns into priorities.
 * Context: any thread; the sink is called under no lock of ours.
 */
enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARNING = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

typedef void (*log_sink_fn)(enum log_level level, const char *msg, void *ctx);

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* log_level_parse - "err", "warning", "notice", "info", "debug" or a digit 3..7. */
int log_level_parse(const char *s, enum log_level *out);
/* log_set_sink - route messages to @fn (NULL restores stderr). */
void log_set_sink(log_sink_fn fn, void *ctx);
/* log_init_from_env - take the level from $DAXFS_LOG when it is set. */
void log_init_from_env(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Events an operator alerts on: each kind has a fixed MESSAGE_ID (daxfsd(8) lists them).
 * log_event() hands one to the event sink, which the daemon sets to send it to journald
 * as a structured entry (sd_journal_send: the message, MESSAGE_ID, PRIORITY and a
 * DAXFS_<KEY> field per key-value pair); without an event sink it is an ordinary log line.
 */
enum log_event_kind {
	LOG_EV_POISON,	      /* a media error was found (source, region range) */
	LOG_EV_QUARANTINE,    /* blocks that held a file's data were quarantined: data lost */
	LOG_EV_LEASE_TIMEOUT, /* a mapping client did not let go in time and was dropped */
	LOG_EV_READONLY,      /* the file system fell back to read-only, or stopped being served */
	LOG_EV_COUNT,
};

/* One field of an event: DAXFS_@key=@value. */
struct log_kv {
	const char *key; /* upper case, e.g. "OFFSET" */
	const char *val;
};

/* LOG_KV - a NULL-terminated field list in place: LOG_KV({"SOURCE", "sigbus"}, ...). */
#define LOG_KV(...) ((const struct log_kv[]){__VA_ARGS__, {NULL, NULL}})

/* log_event_id - the MESSAGE_ID of @kind: 32 lower-case hex digits. */
const char *log_event_id(enum log_event_kind kind);
/* log_event_name - "poison", "quarantine", "lease-timeout", "read-only". */
const char *log_event_name(enum log_event_kind kind);
/* log_u64 - @v in decimal in @buf, for a field value. Return: @buf. */
const char *log_u64(char buf[24], uint64_t v);

typedef void (*log_event_sink_fn)(enum log_level level, enum log_event_kind kind,
				  const struct log_kv *kv, const char *msg, void *ctx);
/* log_set_event_sink - route events to @fn (NULL: they are log lines like the others). */
void log_set_event_sink(log_event_sink_fn fn, void *ctx);

/* log_event - event @kind with the fields @kv (LOG_KV) and the message @fmt. */
void log_event(enum log_level level, enum log_event_kind kind, const struct log_kv *kv,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_dbg(...)                                         \
	do {                                                 \
		if (log_get_level() >= LOG_LVL_DEBUG)        \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
