/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_ACL_H
#define DAXFS_ENGINE_ACL_H

/*
 * acl - POSIX.1e access control lists with the rules Linux applies (acl(5), fs/posix_acl.c
 * and the permission check of fs/namei.c): the xattr form clients set and get
 * (system.posix_acl_access, system.posix_acl_default), validation, the access check, and
 * how an ACL and the mode bits change each other on setxattr, chmod and create.
 *
 * An ACL is a list of entries in the order Linux requires: USER_OBJ, USER*, GROUP_OBJ,
 * GROUP*, MASK (required when there are USER or GROUP entries, optional otherwise), OTHER.
 * Named entries are kept in the order they were given, as Linux keeps them (it does not
 * sort them). The mode's 0777 bits mirror the ACL: owner = USER_OBJ, group = MASK (or
 * GROUP_OBJ when there is no MASK), other = OTHER. An ACL that says no more than the mode
 * (three entries) is not stored: ns_acl_update_mode() and ns_acl_create_masq() say so.
 *
 * One deliberate difference from Linux: a USER (or GROUP) entry naming the same id twice is
 * rejected (-EINVAL), as POSIX.1e's acl_valid(), libacl and Linux before 3.8 do; Linux now
 * accepts and keeps such duplicates (the first USER match wins, any GROUP match counts).
 *
 * The module is pure: no locks, no I/O, no engine state. The caller keeps an ACL's storage
 * and its inode's mode consistent under the inode's lock.
 * Context: any thread. Locking: none.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"

/* Entry tags, as in the xattr form and <sys/acl.h>. */
#define NS_ACL_USER_OBJ 0x01
#define NS_ACL_USER 0x02
#define NS_ACL_GROUP_OBJ 0x04
#define NS_ACL_GROUP 0x08
#define NS_ACL_MASK 0x10
#define NS_ACL_OTHER 0x20

/* Entry perm bits: the same as NS_MAY_READ/WRITE/EXEC and a mode triplet. */
#define NS_ACL_PERMS 07u

/* The id of USER_OBJ, GROUP_OBJ, MASK and OTHER entries; never a valid USER/GROUP id. */
#define NS_ACL_UNDEFINED_ID 0xffffffffu

/* The xattr names and form: a le32 version header, then 8-byte entries (struct below). */
#define NS_ACL_XATTR_ACCESS "system.posix_acl_access"
#define NS_ACL_XATTR_DEFAULT "system.posix_acl_default"
#define NS_ACL_XATTR_VERSION 2u
#define NS_ACL_XATTR_HEADER 4u
#define NS_ACL_XATTR_ENTRY 8u	/* le16 tag, le16 perm, le32 id */
#define NS_ACL_XATTR_MAX 65536u /* XATTR_SIZE_MAX: the largest value setxattr(2) takes */

struct ns_acl_entry {
	uint16_t tag;  /* NS_ACL_* */
	uint16_t perm; /* NS_MAY_* bits */
	uint32_t id;   /* uid (USER), gid (GROUP), else NS_ACL_UNDEFINED_ID */
};

/* A valid ACL (ns_acl_valid()), malloc()ed in one piece: free it with free(). */
struct ns_acl {
	uint32_t count;
	struct ns_acl_entry e[];
};

/* ns_acl_size - bytes of a struct ns_acl with @count entries (to malloc one). */
size_t ns_acl_size(uint32_t count);

/* ns_acl_xattr_size - bytes of the xattr form of an ACL with @count entries. */
static inline size_t ns_acl_xattr_size(uint32_t count)
{
	return NS_ACL_XATTR_HEADER + (size_t)count * NS_ACL_XATTR_ENTRY;
}

/*
 * ns_acl_dup - a copy of @acl (not NULL), for the caller to change and free().
 * Return: the copy, or NULL when out of memory.
 */
struct ns_acl *ns_acl_dup(const struct ns_acl *acl);

/*
 * ns_acl_valid - is @acl well formed? Tags in the order above, each *_OBJ, MASK and OTHER
 * at most once, USER_OBJ, GROUP_OBJ and OTHER present, MASK present when a USER or GROUP
 * entry is, perm within NS_ACL_PERMS, named ids not NS_ACL_UNDEFINED_ID nor repeated within
 * their tag. The ids of the other entries are not looked at.
 * Return: 0; -EINVAL; -ENOMEM (a large ACL's duplicate check needs memory).
 */
int ns_acl_valid(const struct ns_acl *acl);

/*
 * ns_acl_from_xattr - parse and validate the value of a system.posix_acl_* xattr, as
 * setxattr(2) does on Linux. The ids of USER_OBJ, GROUP_OBJ, MASK and OTHER are ignored and
 * read as NS_ACL_UNDEFINED_ID. An empty value (@size 0, or just the header) holds no ACL:
 * Linux removes the ACL then.
 * Return: 0 and *@out, a new ACL the caller free()s, or NULL for a value without entries;
 *         -EOPNOTSUPP: version is not 2 (Linux's answer, not -EINVAL);
 *         -EINVAL: size not a header plus whole entries, unknown tag, bad perm bits, an
 *                  invalid ACL (ns_acl_valid: missing or duplicate entries, entries out of
 *                  order, MASK missing when named entries exist, a named id of -1);
 *         -E2BIG: @size above NS_ACL_XATTR_MAX (setxattr(2) refuses it before parsing);
 *         -ENOMEM. On failure *@out is NULL.
 */
int ns_acl_from_xattr(const void *value, size_t size, struct ns_acl **out);

/*
 * ns_acl_to_xattr - encode @acl into @buf (@size bytes) as getxattr(2) returns it: version
 * 2, then the entries in order, little-endian, *_OBJ/MASK/OTHER ids as NS_ACL_UNDEFINED_ID.
 * A NULL @acl encodes as the bare header (which ns_acl_from_xattr reads back as no ACL;
 * getxattr(2) answers -ENODATA for an inode without one, so callers should too).
 * Return: the bytes the encoding takes; when @buf is NULL or @size is smaller, nothing is
 *         written (the caller answers -ERANGE, or retries with a buffer that large).
 */
size_t ns_acl_to_xattr(const struct ns_acl *acl, void *buf, size_t size);

/*
 * ns_acl_permission - may @c have all of @mask (NS_MAY_*) on an inode of mode @mode, owner
 * @uid, group @gid and access ACL @acl (NULL: none)? Linux's check (generic_permission):
 * - the owner gets the mode's owner bits (USER_OBJ), whatever else the ACL says;
 * - when @acl is NULL, or the mode's group bits (the MASK) are all clear, the ACL is not
 *   consulted: the mode decides as ns_permission() does; so with a MASK of ---, a named
 *   user, or a member of a named group, who is not in @gid gets OTHER's bits;
 * - else the first USER entry naming @c->uid, limited by MASK; else, if any group of @c
 *   (primary or supplementary) is @gid or a GROUP entry's id: granted when one of those
 *   entries holds all of @mask and MASK does too, denied otherwise (OTHER is not tried);
 *   else OTHER.
 * The super user (NULL or NS_CRED_SUPER), when that check fails, is granted read and write,
 * and exec on a directory or on an inode with some x bit in @mode (ns_permission's rule).
 * @mode must mirror @acl as the ns_acl_* functions below keep it.
 * Return: 0, -EACCES.
 */
int ns_acl_permission(const struct ns_cred *c, uint32_t mode, uint32_t uid, uint32_t gid,
		      const struct ns_acl *acl, unsigned mask);

/*
 * ns_acl_equiv_mode - the mode bits @acl (NULL: none) stands for, and whether it says more
 * than them (Linux's posix_acl_equiv_mode). A MASK alone, without named entries, counts as
 * more: Linux keeps such an ACL; its mode's group bits are the MASK's.
 * Return: 0 (@acl is the mode: do not store it) or 1 (extended), with *@mode's 0777 bits set
 *         from @acl and its other bits kept (*@mode untouched when @acl is NULL);
 *         -EINVAL: an unknown tag.
 */
int ns_acl_equiv_mode(const struct ns_acl *acl, uint32_t *mode);

/*
 * ns_acl_create_masq - turn @acl, a copy of a directory's default ACL, into the access ACL
 * of an inode created in it with mode *@mode (Linux's posix_acl_create_masq): USER_OBJ,
 * OTHER and the MASK (GROUP_OBJ when there is no MASK) keep only the bits the mode grants,
 * and the mode keeps only the bits they grant; the other bits of *@mode (type, setuid,
 * setgid, sticky) are kept. The umask is not applied when the directory has a default ACL;
 * a new directory also takes the default ACL itself as its own, unchanged.
 * Return: 0 (the result is just *@mode: the caller drops @acl), 1 (extended: store it);
 *         -EINVAL: @acl is not valid (no GROUP_OBJ, an unknown tag); *@mode is unchanged,
 *                  @acl may be partly changed.
 */
int ns_acl_create_masq(struct ns_acl *acl, uint32_t *mode);

/*
 * ns_acl_chmod - chmod(2) of an inode with access ACL @acl to @mode (Linux's
 * __posix_acl_chmod): USER_OBJ takes the owner bits, MASK (GROUP_OBJ when there is no MASK)
 * the group bits, OTHER the others'; named entries and GROUP_OBJ under a MASK are kept.
 * Return: 0; -EINVAL: @acl is not valid (no GROUP_OBJ, an unknown tag); it may then be
 *         partly changed.
 */
int ns_acl_chmod(struct ns_acl *acl, uint32_t mode);

/*
 * ns_acl_update_mode - setting @acl (NULL: removing it) as the access ACL of an inode of
 * group @gid and mode *@mode, by @c (who must own the inode, or be the super user; the
 * caller checks that), changes the mode (Linux's posix_acl_update_mode): its 0777 bits
 * become ns_acl_equiv_mode()'s, and S_ISGID is cleared, on files and directories alike,
 * unless @c is in @gid or is the super user (CAP_FSETID).
 * Linux's tmpfs does this also when the ACL is removed; ext4 leaves the mode alone then.
 * Return: 0, with *@mode and *@keep (true: store @acl; false: it is just the mode, drop
 *         any stored access ACL); -EINVAL (an unknown tag), nothing changed.
 */
int ns_acl_update_mode(const struct ns_cred *c, uint32_t gid, const struct ns_acl *acl,
		       uint32_t *mode, bool *keep);

#endif
