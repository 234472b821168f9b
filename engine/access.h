/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_ACCESS_H
#define DAXFS_ENGINE_ACCESS_H

/*
 * access - who asks, and the POSIX permission rules the engine applies under the lock of
 * the action it allows (DESIGN §7): search permission on every directory a path walk passes,
 * write and search permission on a directory whose names change, the sticky bit, and who
 * may change which attribute. The caller (the daemon) says who the client is; it never
 * checks a permission against state it read earlier.
 *
 * A NULL credential is the engine's own caller (tests, the offline tools): every check
 * passes and the reserves may be used.
 *
 * Context: any thread. Locking: none (pure functions of their arguments).
 */

#include <stdbool.h>
#include <stdint.h>

struct ns_attr;
struct ns_acl;

/* Permission bits asked of an inode, as in its mode's rwx triplets. */
#define NS_MAY_READ 04u
#define NS_MAY_WRITE 02u
#define NS_MAY_EXEC 01u

/* struct ns_cred flags */
#define NS_CRED_SUPER 0x1   /* uid 0: bypasses the rwx checks and owner checks */
#define NS_CRED_RESERVE 0x2 /* root or the daemon's user: may use the reserved space */
/*
 * An open file's I/O: read and write permission were checked when it was opened (a FUSE
 * file handle keeps what open(2) allowed, as POSIX wants), so ns_permission grants
 * NS_MAY_READ and NS_MAY_WRITE; search and owner checks are unchanged. Only for calls on
 * the file's contents and size (ns_read, ns_write, ns_fallocate, ns_setattr of the size).
 */
#define NS_CRED_OPEN 0x4

struct ns_cred {
	uint32_t uid, gid;
	uint32_t ngroups;	/* supplementary groups */
	const uint32_t *groups; /* the caller keeps them alive */
	unsigned flags;		/* NS_CRED_* */
	const void *origin;	/* which frontend asks, as observers see it (observe.h);
				 * NULL: the socket server */
};

/* ns_cred_in_group - @gid is @c's primary or one of its supplementary groups. */
bool ns_cred_in_group(const struct ns_cred *c, uint32_t gid);

/* ns_cred_super - @c bypasses permission checks (NULL, the engine's own caller, does). */
static inline bool ns_cred_super(const struct ns_cred *c)
{
	return !c || (c->flags & NS_CRED_SUPER);
}

/* ns_cred_reserve - @c may use the reserved blocks and log. */
static inline bool ns_cred_reserve(const struct ns_cred *c)
{
	return !c || (c->flags & (NS_CRED_RESERVE | NS_CRED_SUPER));
}

/* ns_cred_owns - @c owns @a, or bypasses owner checks. */
bool ns_cred_owns(const struct ns_cred *c, const struct ns_attr *a);

/*
 * ns_permission - may @c have all of @mask (NS_MAY_*) on the inode @a, whose access ACL is
 * @acl (NULL: none beyond the mode)? Without an ACL the owner's, else the group's (primary
 * or supplementary), else the others' triplet decides, as POSIX says; with one, the ACL
 * does (acl.h: owner, named users, the groups limited by the mask, others). The super user
 * passes, except NS_MAY_EXEC on a file without any x bit.
 * Return: 0, -EACCES.
 */
int ns_permission(const struct ns_cred *c, const struct ns_attr *a, const struct ns_acl *acl,
		  unsigned mask);

/*
 * ns_may_create - may @c add a name to directory @dir (ACL @dacl): write and search
 * permission. Return: 0, -EACCES.
 */
int ns_may_create(const struct ns_cred *c, const struct ns_attr *dir, const struct ns_acl *dacl);

/*
 * ns_may_delete - may @c remove (or rename away, or replace) the name of @victim in @dir
 * (ACL @dacl)? Write and search permission on @dir, and in a sticky directory only the
 * owner of @victim or of @dir (or the super user).
 * Return: 0, -EACCES, -EPERM (sticky).
 */
int ns_may_delete(const struct ns_cred *c, const struct ns_attr *dir, const struct ns_acl *dacl,
		  const struct ns_attr *victim);

struct ns_setattr;

/*
 * ns_may_setattr - may @c make the changes @sa asks of @a (ACL @acl): chmod, chown,
 * truncate (write permission, or through a descriptor open for writing: NS_CRED_OPEN, as
 * ftruncate), times (explicit ones: the owner; NS_SET_*_NOW alone: the owner or write
 * permission, as utimensat)? On success *@out is what is to be done: @sa
 * with the mode bits POSIX drops (setgid for a group the caller is not in, setuid/setgid
 * when the owner or group of a file changes).
 * Return: 0; -EPERM (not the owner, or a chown only the super user may do); -EACCES
 *         (truncate or touch without write permission); -EISDIR (size of a directory);
 *         -EINVAL (size of anything but a file).
 */
int ns_may_setattr(const struct ns_cred *c, const struct ns_attr *a, const struct ns_acl *acl,
		   const struct ns_setattr *sa, struct ns_setattr *out);

#endif
