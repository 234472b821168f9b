/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_DAEMON_JOURNAL_H
#define DAXFS_DAEMON_JOURNAL_H

/*
 * journal - the events of log_event() (common/log.h: poison, quarantine, lease-break
 * timeouts, read-only fallbacks) as structured journal entries, when daxfsd's stderr is
 * connected to journald: sd_journal_sendv() with MESSAGE, PRIORITY, MESSAGE_ID (daxfsd(8)
 * lists them), SYSLOG_IDENTIFIER=daxfsd, DAXFS_EVENT and a DAXFS_<KEY> field per pair.
 * Other messages keep going to stderr, which journald reads as well.
 */

#include <stdbool.h>

/*
 * journal_setup - send events to the journal if $JOURNAL_STREAM names stderr (systemd sets
 * it for a service whose output goes to the journal); otherwise they stay log lines.
 * Context: main, before any other thread runs.
 * Return: whether events go to the journal.
 */
bool journal_setup(void);

#endif
