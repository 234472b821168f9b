// SPDX-License-Identifier: MIT
/*
 * Credentials, POSIX permission checks and the map trust lists.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "perm.h"

#define GROUPS_MAX 65536 /* NGROUPS_MAX of Linux */

int perm_cred_from_socket(int fd, struct cred *out)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	uint32_t *groups = NULL;
	socklen_t glen = 32 * sizeof(gid_t);

	memset(out, 0, sizeof(*out));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -errno;
	/* SO_PEERGROUPS says how much room it needs when the buffer is too small. */
	for (;;) {
		socklen_t l = glen;
		uint32_t *ng = realloc(groups, glen ? glen : sizeof(gid_t));

		if (!ng) {
			free(groups);
			return -ENOMEM;
		}
		groups = ng;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &l) == 0) {
			glen = l;
			break;
		}
		if (errno == ENOPROTOOPT) {
			/* Linux before 4.13: the primary group only. */
			glen = 0;
			break;
		}
		if (errno != ERANGE || l <= glen || l > GROUPS_MAX * sizeof(gid_t)) {
			int err = errno == ERANGE ? EOVERFLOW : errno;

			free(groups);
			return -err;
		}
		glen = l;
	}
	out->uid = uc.uid;
	out->gid = uc.gid;
	out->pid = uc.pid;
	out->ngroups = (uint32_t)(glen / sizeof(gid_t));
	out->groups = groups;
	out->ns = (struct ns_cred){
		.uid = uc.uid,
		.gid = uc.gid,
		.ngroups = out->ngroups,
		.groups = groups,
		.flags = (uc.uid == 0 ? NS_CRED_SUPER : 0) |
			 (perm_is_admin(out) ? NS_CRED_RESERVE : 0),
	};
	return 0;
}

void perm_cred_release(struct cred *c)
{
	free(c->groups);
	c->groups = NULL;
	c->ngroups = 0;
	c->ns.groups = NULL;
	c->ns.ngroups = 0;
}

bool perm_is_admin(const struct cred *c)
{
	return c->uid == 0 || c->uid == geteuid();
}

/* parse_id - a whole decimal number that fits a uid/gid (and is not (uid_t)-1). */
static bool parse_id(const char *s, uint32_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v >= UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static int resolve_name(const char *name, bool groups, uint32_t *out)
{
	if (parse_id(name, out))
		return 0;
	errno = 0;
	if (groups) {
		struct group *g = getgrnam(name);

		if (!g)
			return errno ? -errno : -ENOENT;
		*out = g->gr_gid;
	} else {
		struct passwd *p = getpwnam(name);

		if (!p)
			return errno ? -errno : -ENOENT;
		*out = p->pw_uid;
	}
	return 0;
}

int perm_trust_parse(struct perm_trust *t, const char *list, bool groups, char *err, size_t errlen)
{
	struct perm_trust_entry **v = groups ? &t->groups : &t->users;
	size_t *n = groups ? &t->ngroups : &t->nusers;
	const char *what = groups ? "group" : "user";
	char *copy = strdup(list), *tok, *p;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	/* strtok_r would skip empty entries; an empty entry is a mistake worth reporting. */
	for (tok = copy;; tok = p + 1) {
		struct perm_trust_entry e = {.level = PERM_TRUST_RW}, *nv;
		char *colon;
		int r;

		p = strchr(tok, ',');
		if (p)
			*p = '\0';
		colon = strchr(tok, ':');
		if (colon) {
			*colon = '\0';
			if (strcmp(colon + 1, "ro") == 0) {
				e.level = PERM_TRUST_RO;
			} else if (strcmp(colon + 1, "rw") != 0) {
				snprintf(err, errlen,
					 "bad suffix ':%s' after %s '%s' (':ro' or ':rw')",
					 colon + 1, what, tok);
				rc = -EINVAL;
				break;
			}
		}
		if (!*tok) {
			snprintf(err, errlen, "empty %s name in '%s'", what, list);
			rc = -EINVAL;
			break;
		}
		r = resolve_name(tok, groups, &e.id);
		if (r) {
			if (r == -ENOENT)
				snprintf(err, errlen, "unknown %s '%s'", what, tok);
			else
				snprintf(err, errlen, "cannot look up %s '%s': %s", what, tok,
					 strerror(-r));
			rc = -EINVAL;
			break;
		}
		nv = realloc(*v, (*n + 1) * sizeof(**v));
		if (!nv) {
			rc = -ENOMEM;
			break;
		}
		*v = nv;
		(*v)[(*n)++] = e;
		if (!p)
			break;
	}
	free(copy);
	return rc;
}

void perm_trust_release(struct perm_trust *t)
{
	free(t->users);
	free(t->groups);
	memset(t, 0, sizeof(*t));
}

enum perm_trust_level perm_trust_of(const struct perm_trust *t, const struct cred *c)
{
	enum perm_trust_level best = PERM_TRUST_NONE;

	for (size_t i = 0; i < t->nusers; i++) {
		if (t->users[i].id == c->uid && t->users[i].level > best)
			best = t->users[i].level;
	}
	for (size_t i = 0; i < t->ngroups; i++) {
		if (ns_cred_in_group(&c->ns, t->groups[i].id) && t->groups[i].level > best)
			best = t->groups[i].level;
	}
	return best;
}

const char *perm_trust_name(enum perm_trust_level level)
{
	switch (level) {
	case PERM_TRUST_RO:
		return "ro";
	case PERM_TRUST_RW:
		return "rw";
	default:
		return "none";
	}
}

static size_t describe_list(const struct perm_trust_entry *v, size_t n, char *buf, size_t len)
{
	size_t used = 0;

	if (n == 0)
		return (size_t)snprintf(buf, len, "none");
	for (size_t i = 0; i < n && used < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%u (%s)", i ? ", " : "", v[i].id,
				 perm_trust_name(v[i].level));

		if (w < 0)
			break;
		used += (size_t)w;
	}
	return used;
}

const char *perm_trust_describe(const struct perm_trust *t, char *buf, size_t len)
{
	size_t used;

	if (len == 0)
		return buf;
	used = (size_t)snprintf(buf, len, "users ");
	if (used < len)
		used += describe_list(t->users, t->nusers, buf + used, len - used);
	if (used < len)
		used += (size_t)snprintf(buf + used, len - used, "; groups ");
	if (used < len)
		describe_list(t->groups, t->ngroups, buf + used, len - used);
	return buf;
}
