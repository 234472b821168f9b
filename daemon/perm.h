/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_DAEMON_PERM_H
#define DAXFS_DAEMON_PERM_H

/*
 * perm - who a client is and what it may do: the credentials taken from the socket at
 * accept (SO_PEERCRED, SO_PEERGROUPS; never from message contents, DESIGN §7), which the
 * engine's permission checks take (engine/access.h), and the region's map trust
 * (--map-users / --map-groups).
 *
 * Context: any thread. Locking: none; a struct cred and a parsed trust list do not change
 * after they are made.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

#include "namespace.h"

struct cred {
	uint32_t uid, gid;
	pid_t pid;	  /* at connect time; 0 when not visible from our pid namespace */
	uint32_t ngroups; /* supplementary groups */
	uint32_t *groups;
	struct ns_cred ns; /* the same identity, as the engine's permission checks take it */
};

/*
 * perm_cred_from_socket - the peer's credentials of the connected unix socket @fd, as the
 * kernel recorded them at connect (SO_PEERCRED; SO_PEERGROUPS where the kernel has it, else
 * no supplementary groups). Root gets NS_CRED_SUPER, root and the daemon's own user
 * NS_CRED_RESERVE (the reserved blocks and log, DESIGN §7).
 * Return: 0; -errno of getsockopt; -ENOMEM.
 */
int perm_cred_from_socket(int fd, struct cred *out);
void perm_cred_release(struct cred *c);

/* perm_is_root - uid 0. */
static inline bool perm_is_root(const struct cred *c)
{
	return c->uid == 0;
}

/* perm_is_admin - root, or the daemon's own user: who may scrub, inject and use inode numbers
 * without a handle. */
bool perm_is_admin(const struct cred *c);

/* Map trust: the values of wire_statfs_reply.map_trust. */
enum perm_trust_level {
	PERM_TRUST_NONE = 0,
	PERM_TRUST_RO = 1,
	PERM_TRUST_RW = 2,
};

struct perm_trust_entry {
	uint32_t id;
	enum perm_trust_level level;
};

struct perm_trust {
	struct perm_trust_entry *users;
	size_t nusers;
	struct perm_trust_entry *groups;
	size_t ngroups;
};

/*
 * perm_trust_parse - add the entries of @list ("alice,1000:ro,bob:rw": user names (or group
 * names when @groups) or numeric ids, each optionally ":ro" or ":rw", the default) to @t.
 * Names are resolved now, through NSS.
 * Return: 0; -EINVAL with a message in @err (an empty entry, an unknown name, a bad
 *         suffix); -ENOMEM.
 */
int perm_trust_parse(struct perm_trust *t, const char *list, bool groups, char *err, size_t errlen);
void perm_trust_release(struct perm_trust *t);

/*
 * perm_trust_of - the highest trust any entry gives @c: its uid in the users, its primary
 * or a supplementary group in the groups.
 */
enum perm_trust_level perm_trust_of(const struct perm_trust *t, const struct cred *c);

const char *perm_trust_name(enum perm_trust_level level);

/* perm_trust_describe - "users 0 (rw), 1000 (ro); groups none" into @buf, for the log. */
const char *perm_trust_describe(const struct perm_trust *t, char *buf, size_t len);

#endif
