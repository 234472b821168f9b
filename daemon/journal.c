// SPDX-License-Identifier: MIT
/*
 * Structured journal entries for log_event(), through sd_journal_sendv(3).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "journal.h"
#include "log.h"

#define FIELDS_MAX 16	 /* DAXFS_* fields an event may carry */
#define ENTRY_BYTES 8192 /* all its "KEY=value" strings */

/* stderr_is_journal - $JOURNAL_STREAM is "DEVICE:INODE" of the stream systemd connected. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
		return false;
	return st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
}

/* add - one "KEY=value" string into @buf at *@used, and its iovec. Return: false if full. */
static bool add(struct iovec *iov, size_t *n, char *buf, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static bool add(struct iovec *iov, size_t *n, char *buf, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(buf + *used, ENTRY_BYTES - *used, fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= ENTRY_BYTES - *used)
		return false;
	iov[(*n)++] = (struct iovec){buf + *used, (size_t)len};
	*used += (size_t)len + 1;
	return true;
}

/*
 * journal_sink - the event sink. A failure to send (journald gone) falls back to the
 * stderr line the event would have been without the journal.
 * Context: any thread.
 */
static void journal_sink(enum log_level level, enum log_event_kind kind, const struct log_kv *kv,
			 const char *msg, void *ctx)
{
	struct iovec iov[5 + FIELDS_MAX];
	char *buf = malloc(ENTRY_BYTES);
	size_t n = 0, used = 0;
	bool ok;

	(void)ctx;
	ok = buf && add(iov, &n, buf, &used, "MESSAGE=%s", msg) &&
	     add(iov, &n, buf, &used, "PRIORITY=%d", (int)level) &&
	     add(iov, &n, buf, &used, "MESSAGE_ID=%s", log_event_id(kind)) &&
	     add(iov, &n, buf, &used, "SYSLOG_IDENTIFIER=daxfsd") &&
	     add(iov, &n, buf, &used, "DAXFS_EVENT=%s", log_event_name(kind));
	for (size_t i = 0; ok && kv && kv[i].key && i < FIELDS_MAX; i++)
		ok = add(iov, &n, buf, &used, "DAXFS_%s=%s", kv[i].key, kv[i].val);
	if (!ok || sd_journal_sendv(iov, (int)n) < 0)
		fprintf(stderr, "<%d>%s\n", (int)level, msg);
	free(buf);
}

bool journal_setup(void)
{
	if (!stderr_is_journal())
		return false;
	log_set_event_sink(journal_sink, NULL);
	return true;
}
