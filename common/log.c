// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

static int log_level = LOG_LVL_NOTICE;
static log_sink_fn log_sink;
static void *log_sink_ctx;

void log_set_level(enum log_level level)
{
	__atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

enum log_level log_get_level(void)
{
	return (enum log_level)__atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

int log_level_parse(const char *s, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {
		{"err", LOG_LVL_ERR},	   {"error", LOG_LVL_ERR},     {"warning", LOG_LVL_WARNING},
		{"warn", LOG_LVL_WARNING}, {"notice", LOG_LVL_NOTICE}, {"info", LOG_LVL_INFO},
		{"debug", LOG_LVL_DEBUG},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].level;
			return 0;
		}
	}
	if (s[0] >= '3' && s[0] <= '7' && s[1] == '\0') {
		*out = (enum log_level)(s[0] - '0');
		return 0;
	}
	return -EINVAL;
}

void log_set_sink(log_sink_fn fn, void *ctx)
{
	log_sink_ctx = ctx;
	log_sink = fn;
}

void log_init_from_env(void)
{
	const char *s = getenv("DAXFS_LOG");
	enum log_level level;

	if (s && log_level_parse(s, &level) == 0)
		log_set_level(level);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if ((int)level > (int)log_get_level())
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (log_sink)
		log_sink(level, buf, log_sink_ctx);
	else
		fprintf(stderr, "<%d>%s\n", (int)level, buf);
}
