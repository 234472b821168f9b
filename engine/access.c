// SPDX-License-Identifier: MIT
/*
 * The engine's permission rules (access.h), applied by the name and file operations under
 * the locks of the inodes they change.
 */
#include <errno.h>
#include <sys/stat.h>

#include "access.h"
#include "acl.h"
#include "namespace.h"

bool ns_cred_in_group(const struct ns_cred *c, uint32_t gid)
{
	if (c->gid == gid)
		return true;
	for (uint32_t i = 0; i < c->ngroups; i++) {
		if (c->groups[i] == gid)
			return true;
	}
	return false;
}

bool ns_cred_owns(const struct ns_cred *c, const struct ns_attr *a)
{
	return ns_cred_super(c) || c->uid == a->uid;
}

int ns_permission(const struct ns_cred *c, const struct ns_attr *a, const struct ns_acl *acl,
		  unsigned mask)
{
	unsigned bits;

	/* An open file's I/O was allowed at open(2), as the kernel allows it through an fd. */
	if (c && (c->flags & NS_CRED_OPEN) && !(mask & NS_MAY_EXEC))
		return 0;
	if (acl)
		return ns_acl_permission(c, a->mode, a->uid, a->gid, acl, mask);
	if (ns_cred_super(c)) {
		if (!(mask & NS_MAY_EXEC) || S_ISDIR(a->mode) || (a->mode & 0111))
			return 0;
		return -EACCES;
	}
	if (c->uid == a->uid)
		bits = (a->mode >> 6) & 7;
	else if (ns_cred_in_group(c, a->gid))
		bits = (a->mode >> 3) & 7;
	else
		bits = a->mode & 7;
	return (bits & mask) == mask ? 0 : -EACCES;
}

int ns_may_create(const struct ns_cred *c, const struct ns_attr *dir, const struct ns_acl *dacl)
{
	return ns_permission(c, dir, dacl, NS_MAY_WRITE | NS_MAY_EXEC);
}

int ns_may_delete(const struct ns_cred *c, const struct ns_attr *dir, const struct ns_acl *dacl,
		  const struct ns_attr *victim)
{
	int rc = ns_permission(c, dir, dacl, NS_MAY_WRITE | NS_MAY_EXEC);

	if (rc)
		return rc;
	if (!(dir->mode & S_ISVTX) || ns_cred_super(c))
		return 0;
	return c->uid == victim->uid || c->uid == dir->uid ? 0 : -EPERM;
}

int ns_may_setattr(const struct ns_cred *c, const struct ns_attr *a, const struct ns_acl *acl,
		   const struct ns_setattr *sa, struct ns_setattr *out)
{
	bool super = ns_cred_super(c), owner = ns_cred_owns(c, a);
	uint32_t gid = sa->valid & NS_SET_GID ? sa->gid : a->gid;
	int rc;

	*out = *sa;
	if (sa->valid & NS_SET_SIZE) {
		if (S_ISDIR(a->mode))
			return -EISDIR;
		if (!S_ISREG(a->mode))
			return -EINVAL;
		rc = ns_permission(c, a, acl, NS_MAY_WRITE);
		if (rc)
			return rc;
	}
	if (sa->valid & NS_SET_MODE) {
		if (!owner)
			return -EPERM;
		/* As chmod(2): setgid is dropped for a group the caller is not in. */
		if (!super && !ns_cred_in_group(c, gid))
			out->mode &= ~(uint32_t)S_ISGID;
	}
	/* Only the super user gives a file away; the owner may "change" it to itself. */
	if (sa->valid & NS_SET_UID && !super && !(owner && sa->uid == a->uid))
		return -EPERM;
	/* The owner may pick one of its own groups; the super user any. */
	if (sa->valid & NS_SET_GID && !super &&
	    !(owner && (sa->gid == a->gid || ns_cred_in_group(c, sa->gid))))
		return -EPERM;
	/*
	 * Times: explicit ones only the owner sets; "now" (both, or one with the other left
	 * alone) the owner or anyone with write permission, as utimensat(2).
	 */
	if (sa->valid & (NS_SET_ATIME | NS_SET_MTIME) && !owner)
		return -EPERM;
	if (sa->valid & (NS_SET_ATIME_NOW | NS_SET_MTIME_NOW) && !owner) {
		rc = ns_permission(c, a, acl, NS_MAY_WRITE);
		if (rc)
			return rc;
	}
	/*
	 * chown(2) of a file (with an owner or a group, even the same one) drops setuid, and
	 * setgid when the group may execute (it marks mandatory locking otherwise), for every
	 * caller, as Linux does; a mode set in the same call is taken as given.
	 */
	/*
	 * So does a truncate by anyone but the super user (Linux's should_remove_suid: the
	 * write that a size change is).
	 */
	if (((sa->valid & (NS_SET_UID | NS_SET_GID)) || (sa->valid & NS_SET_SIZE && !super)) &&
	    !(sa->valid & NS_SET_MODE) && !S_ISDIR(a->mode)) {
		uint32_t mode = a->mode & 07777 & ~(uint32_t)S_ISUID;

		if (mode & S_IXGRP)
			mode &= ~(uint32_t)S_ISGID;
		if (mode != (a->mode & 07777)) {
			out->valid |= NS_SET_MODE;
			out->mode = mode;
		}
	}
	return 0;
}
