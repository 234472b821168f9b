/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_TESTS_NSTEST_H
#define DAXFS_TESTS_NSTEST_H

/*
 * Helpers of the tests that drive the engine directly: path lookups as the engine's own
 * trusted caller, and a context that acts as a given owner.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "namespace.h"
#include "nstest.h"

/* t_resolve - the attributes of what @path names (ns_walk as the trusted caller). */
static inline int t_resolve(struct ns *ns, const char *path, struct ns_attr *out)
{
	struct ns_path p;
	int rc = ns_walk(ns, NULL, path, 0, &p);

	*out = rc == 0 ? p.attr : (struct ns_attr){0};
	return rc;
}

/*
 * t_resolve_parent - the directory of @path's last component, and the component (@name has
 * room for NS_NAME_MAX + 1 bytes); "a/b/" with b a file is -ENOTDIR.
 */
static inline int t_resolve_parent(struct ns *ns, const char *path, uint64_t *dir, char *name)
{
	struct ns_attr a;
	struct ns_path p;
	int rc = ns_walk(ns, NULL, path, NS_WALK_PARENT, &p);

	if (rc)
		return rc;
	if (p.slash && ns_lookup(ns, NULL, p.attr.ino, p.name, &a) == 0 && !S_ISDIR(a.mode))
		return -ENOTDIR;
	*dir = p.attr.ino;
	memcpy(name, p.name, strlen(p.name) + 1);
	return 0;
}

/* t_ctx_as - @c, a synchronous context of @cred. */
static inline struct ns_ctx *t_ctx_as(struct ns_ctx *c, const struct ns_cred *cred)
{
	ns_ctx_init(c, cred);
	return c;
}

/*
 * T_AS - a context (for the enclosing block) that makes what it creates owned by @uid:@gid
 * and passes every permission check (the super user acting as that owner).
 */
#define T_AS(u, g)                                                  \
	t_ctx_as(&(struct ns_ctx){0}, &(struct ns_cred){.uid = (u), \
							.gid = (g), \
							.flags = NS_CRED_SUPER | NS_CRED_RESERVE})

#endif
