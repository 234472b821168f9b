/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_COMMON_LOG_H
#define DAXFS_COMMON_LOG_H

#include <stdarg.h>

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
