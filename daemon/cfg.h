/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_DAEMON_CFG_H
#define DAXFS_DAEMON_CFG_H

/*
 * cfg - the daemon's settings: the config file (INI, daxfsd.conf(5)) and the command-line
 * flags that override it, checked against one declarative table (config.c) of key, type,
 * default, reloadable and description. (The header is not "config.h": that name is the
 * build's generated configuration.)
 *
 * Context: the main thread only; nothing here is thread-safe.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cfg_key {
	/* [daemon] */
	CFG_SOCKET,
	CFG_SOCKET_MODE,
	CFG_SOCKET_GROUP,
	CFG_LOG_LEVEL,
	CFG_WORKERS,
	CFG_LEASE_BREAK_TIMEOUT,
	CFG_FAULT_INJECTION,
	CFG_POLL_US,
	CFG_RING_THREADS,
	CFG_MAX_SESSIONS,
	CFG_MAX_SESSIONS_PER_USER,
	CFG_PERSIST_TRACE,
	CFG_METRICS_LISTEN,
	/* [region NAME] */
	CFG_PATH,
	CFG_KIND,
	CFG_REPLICA,
	CFG_SIZE,
	CFG_MAP_USERS,
	CFG_MAP_GROUPS,
	CFG_BADBLOCK_POLL_INTERVAL,
	CFG_RESERVE_PERCENT,
	CFG_MOUNT,
	CFG_MOUNT_CACHE,
	CFG_MOUNT_OPTIONS,
	CFG_NKEYS,
};

/* Where a value came from: a flag beats the file, the file beats the default. */
enum cfg_src {
	CFG_SRC_DEFAULT,
	CFG_SRC_FILE,
	CFG_SRC_FLAG,
};

struct cfg_value {
	char *str;    /* the text as given (NULL: unset, no default) */
	uint64_t num; /* numbers, modes, gids, sizes, bools, levels, kinds: parsed */
	enum cfg_src src;
	unsigned line; /* CFG_SRC_FILE: its line */
};

struct cfg {
	char *file;	   /* the config file read, or NULL */
	char *region_name; /* NAME of [region NAME], or NULL */
	struct cfg_value v[CFG_NKEYS];
};

/* cfg_init - every key at its default. Return: 0; -ENOMEM. */
int cfg_init(struct cfg *c);
void cfg_release(struct cfg *c);

/*
 * cfg_key_name - "workers"; cfg_key_flag - "--workers" (NULL: the key has no flag);
 * cfg_key_metavar - what the flag takes ("N"), NULL for a flag that takes nothing (a
 * boolean: the flag sets it true).
 */
const char *cfg_key_name(enum cfg_key k);
const char *cfg_key_flag(enum cfg_key k);
const char *cfg_key_metavar(enum cfg_key k);
bool cfg_key_reloadable(enum cfg_key k);

/*
 * cfg_help_line - one option of --help: "  OPT" and @text wrapped into the help column.
 * cfg_help - the lines of every key that has a flag, in table order, each with its range
 * and default.
 */
void cfg_help_line(FILE *f, const char *opt, const char *text);
void cfg_help(FILE *f);

/*
 * cfg_dump - @c as a config file: every key with its help as a comment; a key at its
 * default (or unset) is commented out. Exactly what --dump-config prints, and the example
 * config the build installs.
 */
void cfg_dump(const struct cfg *c, FILE *f);

/*
 * cfg_set_flag - the command-line flag of @k with @value: checked like the file's, and it
 * overrides the file. --map-users and --map-groups add to what earlier flags gave.
 * Return: 0; -EINVAL with a message in @err ("bad --workers 'x' (1..1024)"); -ENOMEM.
 */
int cfg_set_flag(struct cfg *c, enum cfg_key k, const char *value, char *err, size_t errlen);

/*
 * cfg_load - read @file (keys given by flags keep the flags' values, yet are checked).
 * Return: 0; -ENOENT and the others of fopen (message: "FILE: cannot read it: ...");
 *         -EINVAL for an unknown section or key, a bad value, a syntax error or a second
 *         [region] (message: "FILE:LINE: ..."); -ENOMEM.
 */
int cfg_load(struct cfg *c, const char *file, char *err, size_t errlen);

/*
 * cfg_reload - a fresh copy of @old read again from @old->file, flags kept.
 * Return: as cfg_load; on failure *@out is released.
 */
int cfg_reload(const struct cfg *old, struct cfg *out, char *err, size_t errlen);

/*
 * cfg_parse_listen - split a metrics_listen value "ADDR:PORT" (ADDR a numeric IPv4
 * address, or an IPv6 one in brackets) into @addr (the address, without brackets) and
 * @port. Return: 0; -EINVAL.
 */
int cfg_parse_listen(const char *s, char *addr, size_t addrlen, uint16_t *port);

static inline const char *cfg_str(const struct cfg *c, enum cfg_key k)
{
	return c->v[k].str;
}

static inline uint64_t cfg_num(const struct cfg *c, enum cfg_key k)
{
	return c->v[k].num;
}

static inline bool cfg_is_set(const struct cfg *c, enum cfg_key k)
{
	return c->v[k].src != CFG_SRC_DEFAULT;
}

#endif
