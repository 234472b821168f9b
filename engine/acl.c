// SPDX-License-Identifier: MIT
/*
 * POSIX.1e ACLs as Linux applies them (acl.h): the xattr form, validation, the access check
 * and the ways an ACL and the mode change each other.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "acl.h"

size_t ns_acl_size(uint32_t count)
{
	return sizeof(struct ns_acl) + (size_t)count * sizeof(struct ns_acl_entry);
}

struct ns_acl *ns_acl_dup(const struct ns_acl *acl)
{
	struct ns_acl *copy = malloc(ns_acl_size(acl->count));

	if (copy)
		memcpy(copy, acl, ns_acl_size(acl->count));
	return copy;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Does an id appear twice among the entries of @tag? @ids has room for every entry. */
static bool tag_repeats(const struct ns_acl *acl, uint16_t tag, uint32_t *ids)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < acl->count; i++) {
		if (acl->e[i].tag == tag)
			ids[n++] = acl->e[i].id;
	}
	qsort(ids, n, sizeof(*ids), cmp_u32);
	for (uint32_t i = 1; i < n; i++) {
		if (ids[i] == ids[i - 1])
			return true;
	}
	return false;
}

/* Is a USER or GROUP id named twice? Sorted copies, so a 64 KiB value costs no n^2. */
static int named_repeat(const struct ns_acl *acl)
{
	uint32_t *ids = malloc(acl->count * sizeof(*ids));
	bool repeat;

	if (!ids)
		return -ENOMEM;
	repeat = tag_repeats(acl, NS_ACL_USER, ids) || tag_repeats(acl, NS_ACL_GROUP, ids);
	free(ids);
	return repeat ? -EINVAL : 0;
}

int ns_acl_valid(const struct ns_acl *acl)
{
	/* Where we are in USER_OBJ, USER*, GROUP_OBJ, GROUP*, MASK?, OTHER; 0 when done. */
	unsigned next = NS_ACL_USER_OBJ;
	bool named = false;

	for (uint32_t i = 0; i < acl->count; i++) {
		const struct ns_acl_entry *e = &acl->e[i];

		if (e->perm & ~NS_ACL_PERMS)
			return -EINVAL;
		switch (e->tag) {
		case NS_ACL_USER_OBJ:
			if (next != NS_ACL_USER_OBJ)
				return -EINVAL;
			next = NS_ACL_USER;
			break;
		case NS_ACL_USER:
		case NS_ACL_GROUP:
			if (next != e->tag || e->id == NS_ACL_UNDEFINED_ID)
				return -EINVAL;
			named = true;
			break;
		case NS_ACL_GROUP_OBJ:
			if (next != NS_ACL_USER)
				return -EINVAL;
			next = NS_ACL_GROUP;
			break;
		case NS_ACL_MASK:
			if (next != NS_ACL_GROUP)
				return -EINVAL;
			next = NS_ACL_OTHER;
			break;
		case NS_ACL_OTHER:
			/* The MASK may only be left out when nothing is named. */
			if (next != NS_ACL_OTHER && (next != NS_ACL_GROUP || named))
				return -EINVAL;
			next = 0;
			break;
		default:
			return -EINVAL;
		}
	}
	if (next != 0)
		return -EINVAL;
	return named_repeat(acl);
}

static uint16_t get_le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_le32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le16(unsigned char *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	put_le16(p, v & 0xffff);
	put_le16(p + 2, v >> 16);
}

int ns_acl_from_xattr(const void *value, size_t size, struct ns_acl **out)
{
	const unsigned char *p = value;
	struct ns_acl *acl;
	size_t count;
	int rc;

	*out = NULL;
	/* setxattr(2) hands the file system no value at all for an empty one. */
	if (!value || size == 0)
		return 0;
	if (size > NS_ACL_XATTR_MAX)
		return -E2BIG;
	if (size < NS_ACL_XATTR_HEADER)
		return -EINVAL;
	if (get_le32(p) != NS_ACL_XATTR_VERSION)
		return -EOPNOTSUPP;
	if ((size - NS_ACL_XATTR_HEADER) % NS_ACL_XATTR_ENTRY)
		return -EINVAL;
	count = (size - NS_ACL_XATTR_HEADER) / NS_ACL_XATTR_ENTRY;
	if (count == 0)
		return 0;

	acl = malloc(ns_acl_size((uint32_t)count));
	if (!acl)
		return -ENOMEM;
	acl->count = (uint32_t)count;
	p += NS_ACL_XATTR_HEADER;
	for (size_t i = 0; i < count; i++, p += NS_ACL_XATTR_ENTRY) {
		struct ns_acl_entry *e = &acl->e[i];

		e->tag = get_le16(p);
		e->perm = get_le16(p + 2);
		e->id = get_le32(p + 4);
		if (e->tag != NS_ACL_USER && e->tag != NS_ACL_GROUP)
			e->id = NS_ACL_UNDEFINED_ID;
	}
	rc = ns_acl_valid(acl);
	if (rc) {
		free(acl);
		return rc;
	}
	*out = acl;
	return 0;
}

size_t ns_acl_to_xattr(const struct ns_acl *acl, void *buf, size_t size)
{
	uint32_t count = acl ? acl->count : 0;
	size_t need = ns_acl_xattr_size(count);
	unsigned char *p = buf;

	if (!buf || size < need)
		return need;
	put_le32(p, NS_ACL_XATTR_VERSION);
	p += NS_ACL_XATTR_HEADER;
	for (uint32_t i = 0; i < count; i++, p += NS_ACL_XATTR_ENTRY) {
		const struct ns_acl_entry *e = &acl->e[i];
		bool named = e->tag == NS_ACL_USER || e->tag == NS_ACL_GROUP;

		put_le16(p, e->tag);
		put_le16(p + 2, e->perm);
		put_le32(p + 4, named ? e->id : NS_ACL_UNDEFINED_ID);
	}
	return need;
}

/* The entry @from matched: its perm decides, limited by the MASK if one follows it. */
static int masked(const struct ns_acl *acl, uint32_t from, unsigned want)
{
	unsigned perm = acl->e[from].perm;

	for (uint32_t i = from + 1; i < acl->count; i++) {
		if (acl->e[i].tag == NS_ACL_MASK) {
			perm &= acl->e[i].perm;
			break;
		}
	}
	return (perm & want) == want ? 0 : -EACCES;
}

/*
 * The walk over the entries of Linux's posix_acl_permission: the first entry for the caller
 * decides, except that any of the caller's groups may be the one that grants.
 */
static int acl_check(const struct ns_cred *c, uint32_t uid, uint32_t gid, const struct ns_acl *acl,
		     unsigned want)
{
	bool in_a_group = false;

	for (uint32_t i = 0; i < acl->count; i++) {
		const struct ns_acl_entry *e = &acl->e[i];

		switch (e->tag) {
		case NS_ACL_USER_OBJ:
			if (c->uid == uid)
				return (e->perm & want) == want ? 0 : -EACCES;
			break;
		case NS_ACL_USER:
			if (c->uid == e->id)
				return masked(acl, i, want);
			break;
		case NS_ACL_GROUP_OBJ:
		case NS_ACL_GROUP:
			if (ns_cred_in_group(c, e->tag == NS_ACL_GROUP ? e->id : gid)) {
				in_a_group = true;
				if ((e->perm & want) == want)
					return masked(acl, i, want);
			}
			break;
		case NS_ACL_MASK:
			break;
		case NS_ACL_OTHER:
			if (in_a_group)
				return -EACCES;
			return (e->perm & want) == want ? 0 : -EACCES;
		default:
			return -EACCES;
		}
	}
	return -EACCES; /* no OTHER: not a valid ACL */
}

/* The discretionary check alone, as Linux's acl_permission_check. */
static int dac_check(const struct ns_cred *c, uint32_t mode, uint32_t uid, uint32_t gid,
		     const struct ns_acl *acl, unsigned want)
{
	unsigned bits;

	if (c->uid == uid)
		bits = mode >> 6;
	else if (acl && (mode & S_IRWXG))
		return acl_check(c, uid, gid, acl, want);
	else if (ns_cred_in_group(c, gid))
		bits = mode >> 3;
	else
		bits = mode;
	return (bits & want) == want ? 0 : -EACCES;
}

int ns_acl_permission(const struct ns_cred *c, uint32_t mode, uint32_t uid, uint32_t gid,
		      const struct ns_acl *acl, unsigned mask)
{
	unsigned want = mask & (NS_MAY_READ | NS_MAY_WRITE | NS_MAY_EXEC);

	if (c && dac_check(c, mode, uid, gid, acl, want) == 0)
		return 0;
	if (!ns_cred_super(c))
		return -EACCES;
	/* CAP_DAC_OVERRIDE: read and write always, exec where someone could. */
	if (!(want & NS_MAY_EXEC) || S_ISDIR(mode) || (mode & (S_IXUSR | S_IXGRP | S_IXOTH)))
		return 0;
	return -EACCES;
}

int ns_acl_equiv_mode(const struct ns_acl *acl, uint32_t *mode)
{
	uint32_t bits = 0;
	int extended = 0;

	if (!acl)
		return 0;
	for (uint32_t i = 0; i < acl->count; i++) {
		uint32_t perm = acl->e[i].perm & NS_ACL_PERMS;

		switch (acl->e[i].tag) {
		case NS_ACL_USER_OBJ:
			bits |= perm << 6;
			break;
		case NS_ACL_GROUP_OBJ:
			bits |= perm << 3;
			break;
		case NS_ACL_MASK:
			/* Comes after GROUP_OBJ: the group bits are the MASK's. */
			bits = (bits & ~(uint32_t)S_IRWXG) | perm << 3;
			extended = 1;
			break;
		case NS_ACL_OTHER:
			bits |= perm;
			break;
		case NS_ACL_USER:
		case NS_ACL_GROUP:
			extended = 1;
			break;
		default:
			return -EINVAL;
		}
	}
	*mode = (*mode & ~(uint32_t)0777) | bits;
	return extended;
}

int ns_acl_create_masq(struct ns_acl *acl, uint32_t *mode)
{
	struct ns_acl_entry *group_obj = NULL, *mask = NULL, *g;
	uint32_t m = *mode;
	int extended = 0;

	for (uint32_t i = 0; i < acl->count; i++) {
		struct ns_acl_entry *e = &acl->e[i];

		switch (e->tag) {
		case NS_ACL_USER_OBJ:
			e->perm &= (m >> 6) & 7;
			m &= ~(uint32_t)S_IRWXU | (uint32_t)e->perm << 6;
			break;
		case NS_ACL_GROUP_OBJ:
			group_obj = e;
			break;
		case NS_ACL_MASK:
			mask = e;
			extended = 1;
			break;
		case NS_ACL_OTHER:
			e->perm &= m & 7;
			m &= ~(uint32_t)S_IRWXO | e->perm;
			break;
		case NS_ACL_USER:
		case NS_ACL_GROUP:
			extended = 1;
			break;
		default:
			return -EINVAL;
		}
	}
	/* The group class: the MASK stands for it when there is one. */
	g = mask ? mask : group_obj;
	if (!g)
		return -EINVAL;
	g->perm &= (m >> 3) & 7;
	m &= ~(uint32_t)S_IRWXG | (uint32_t)g->perm << 3;
	*mode = m;
	return extended;
}

int ns_acl_chmod(struct ns_acl *acl, uint32_t mode)
{
	struct ns_acl_entry *group_obj = NULL, *mask = NULL;

	for (uint32_t i = 0; i < acl->count; i++) {
		struct ns_acl_entry *e = &acl->e[i];

		switch (e->tag) {
		case NS_ACL_USER_OBJ:
			e->perm = (mode >> 6) & 7;
			break;
		case NS_ACL_GROUP_OBJ:
			group_obj = e;
			break;
		case NS_ACL_MASK:
			mask = e;
			break;
		case NS_ACL_OTHER:
			e->perm = mode & 7;
			break;
		case NS_ACL_USER:
		case NS_ACL_GROUP:
			break;
		default:
			return -EINVAL;
		}
	}
	if (!mask && !group_obj)
		return -EINVAL;
	(mask ? mask : group_obj)->perm = (mode >> 3) & 7;
	return 0;
}

int ns_acl_update_mode(const struct ns_cred *c, uint32_t gid, const struct ns_acl *acl,
		       uint32_t *mode, bool *keep)
{
	uint32_t m = *mode;
	int rc = ns_acl_equiv_mode(acl, &m);

	if (rc < 0)
		return rc;
	if (!ns_cred_super(c) && !ns_cred_in_group(c, gid))
		m &= ~(uint32_t)S_ISGID;
	*mode = m;
	*keep = rc == 1;
	return 0;
}
