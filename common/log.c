// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

static int log_level = LOG_LVL_NOTICE;
static log_sink_fn log_sink;
static void *log_sink_ctx;
static log_event_sink_fn event_sink;
static void *event_sink_ctx;

/* The MESSAGE_IDs: fixed forever (operators' alerts match them); daxfsd(8) lists them. */
static const struct {
	const char *id, *name;
} events[LOG_EV_COUNT] = {
	[LOG_EV_POISON] = {"a9ef63966bc34d1e9ecf47879945e2e1", "poison"},
	[LOG_EV_QUARANTINE] = {"9c65cc63380642dabe41fdabe6ff1818", "quarantine"},
	[LOG_EV_LEASE_TIMEOUT] = {"696d08a2b5174460844012720718bbe4", "lease-timeout"},
	[LOG_EV_READONLY] = {"cae1de0c167240b0a77f294fe1ba6ca0", "read-only"},
};

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

const char *log_event_id(enum log_event_kind kind)
{
	return events[kind].id;
}

const char *log_event_name(enum log_event_kind kind)
{
	return events[kind].name;
}

const char *log_u64(char buf[24], uint64_t v)
{
	snprintf(buf, 24, "%" PRIu64, v);
	return buf;
}

void log_set_event_sink(log_event_sink_fn fn, void *ctx)
{
	event_sink_ctx = ctx;
	event_sink = fn;
}

void log_event(enum log_level level, enum log_event_kind kind, const struct log_kv *kv,
	       const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if ((int)level > (int)log_get_level())
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (event_sink)
		event_sink(level, kind, kv, buf, event_sink_ctx);
	else
		log_msg(level, "%s", buf);
}
