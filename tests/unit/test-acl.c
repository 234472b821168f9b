// SPDX-License-Identifier: MIT
/*
 * test-acl - the POSIX.1e ACL rules of engine/acl.c, one table per rule, as Linux applies
 * them (test-acl-kernel checks the same functions against the running kernel):
 *
 *   permission   owner, named user, owning group, named group, the MASK limiting named
 *                users and every group entry (not the owner, not others), others, any of
 *                the caller's supplementary groups granting, a matching group that does not
 *                grant shutting out OTHER, a MASK of --- sending named entries to the mode
 *                (Linux skips the ACL then), the super user's bypass (rw always, x with some
 *                x bit or on a directory), no ACL at all
 *   parse        each malformed value rejected with Linux's errno (bad size, version, tag,
 *                perm, order, missing or repeated entries, MASK missing, id -1, too big);
 *                empty values meaning "remove"; ids of *_OBJ entries normalized; named
 *                entries kept in the order given
 *   encode       round trip of random ACLs, byte for byte; a short buffer left untouched
 *   equiv_mode   minimal ACLs are the mode; a MASK alone makes an ACL extended
 *   create_masq  a default ACL inherited under several create modes
 *   chmod        USER_OBJ, MASK (or GROUP_OBJ without one), OTHER follow the mode
 *   update_mode  the mode follows a new ACL; setgid cleared for callers outside the group
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "acl.h"
#include "testutil.h"

#define OWNER 1000
#define GROUP 2000
#define MAX_ENTRIES 32

#define R NS_MAY_READ
#define W NS_MAY_WRITE
#define X NS_MAY_EXEC

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> 8 * i);
}

static void put_entry(unsigned char *p, uint16_t tag, uint16_t perm, uint32_t id)
{
	p[0] = tag & 0xff;
	p[1] = tag >> 8;
	p[2] = perm & 0xff;
	p[3] = perm >> 8;
	put_le32(p + 4, id);
}

/*
 * The xattr form of the acl(5) short text @text ("u::rw,u:1001:r,g::r,m::rw,o::-"), entries
 * in the order written, into @buf; "v3;" first sets the version. Return: its size.
 */
static size_t xattr_of(const char *text, unsigned char *buf)
{
	unsigned version = NS_ACL_XATTR_VERSION;
	size_t n = NS_ACL_XATTR_HEADER;
	const char *p = text;

	if (p[0] == 'v') {
		version = (unsigned)strtoul(p + 1, (char **)&p, 10);
		p++;
	}
	put_le32(buf, version);
	while (*p) {
		uint16_t tag, perm = 0;
		uint32_t id = NS_ACL_UNDEFINED_ID;
		char kind = *p++;

		T_ASSERT(*p == ':');
		p++;
		if (*p != ':')
			id = (uint32_t)strtoul(p, (char **)&p, 0);
		T_ASSERT(*p == ':');
		p++;
		for (; *p && *p != ','; p++) {
			if (*p == 'r')
				perm |= R;
			else if (*p == 'w')
				perm |= W;
			else if (*p == 'x')
				perm |= X;
			else if (*p == '#') { /* "#N": raw perm bits */
				perm = (uint16_t)strtoul(p + 1, (char **)&p, 0);
				p--;
			} else
				T_ASSERT(*p == '-');
		}
		if (*p == ',')
			p++;
		switch (kind) {
		case 'u':
			tag = id == NS_ACL_UNDEFINED_ID ? NS_ACL_USER_OBJ : NS_ACL_USER;
			break;
		case 'g':
			tag = id == NS_ACL_UNDEFINED_ID ? NS_ACL_GROUP_OBJ : NS_ACL_GROUP;
			break;
		case 'm':
			tag = NS_ACL_MASK;
			break;
		case 'o':
			tag = NS_ACL_OTHER;
			break;
		case 'U': /* a named user whose id is -1 */
			tag = NS_ACL_USER;
			break;
		case 'G':
			tag = NS_ACL_GROUP;
			break;
		default: /* "t:N:perm": raw tag N */
			T_ASSERT(kind == 't');
			tag = (uint16_t)id;
			id = NS_ACL_UNDEFINED_ID;
		}
		put_entry(buf + n, tag, perm, id);
		n += NS_ACL_XATTR_ENTRY;
	}
	return n;
}

/* A valid ACL from its text (must parse). */
static struct ns_acl *A(const char *text)
{
	unsigned char buf[NS_ACL_XATTR_HEADER + MAX_ENTRIES * NS_ACL_XATTR_ENTRY];
	struct ns_acl *acl;
	int rc = ns_acl_from_xattr(buf, xattr_of(text, buf), &acl);

	if (rc || !acl)
		T_FAIL("\"%s\" does not parse: %d", text, rc);
	return acl;
}

static bool acl_equal(const struct ns_acl *a, const struct ns_acl *b)
{
	return a->count == b->count && !memcmp(a->e, b->e, a->count * sizeof(a->e[0]));
}

struct perm_case {
	const char *why;
	const char *acl; /* NULL: no ACL; the mode is then @mode */
	uint32_t mode;	 /* F or D (| the bits when there is no ACL) */
	uint32_t uid, gid;
	uint32_t g1, g2; /* supplementary groups, 0 when none */
	unsigned mask;
	int expect;
};

#define F S_IFREG
#define D S_IFDIR
#define NO (-EACCES)
#define SUPER 0xffffffffu  /* uid: the caller is NS_CRED_SUPER */
#define NOCRED 0xfffffffeu /* uid: NULL credential */

static const struct perm_case perm_cases[] = {
	/* owner */
	{"owner", "u::r,u:1000:rwx,g::rwx,m::rwx,o::rwx", F, OWNER, GROUP, 0, 0, R, 0},
	{"the owner gets USER_OBJ only, not its named entry, group or other",
	 "u::r,u:1000:rwx,g::rwx,m::rwx,o::rwx", F, OWNER, GROUP, 0, 0, W, NO},
	{"the MASK does not limit the owner", "u::rwx,u:1001:-,g::-,m::-,o::-", F, OWNER, 2002, 0,
	 0, R | W | X, 0},
	/* named user */
	{"named user", "u::-,u:1001:rw,g::-,m::rwx,o::-", F, 1001, 2002, 0, 0, R | W, 0},
	{"named user, no x", "u::-,u:1001:rw,g::-,m::rwx,o::-", F, 1001, 2002, 0, 0, X, NO},
	{"a named user does not fall through to its groups or other",
	 "u::-,u:1001:r,u:1002:rwx,g::rw,m::rwx,o::rw", F, 1001, GROUP, 0, 0, W, NO},
	{"named users in any order", "u::-,u:1002:rwx,u:1001:r,g::-,m::rwx,o::-", F, 1001, 2002, 0,
	 0, R, 0},
	/* owning group */
	{"owning group", "u::-,u:1001:-,g::rx,m::rwx,o::-", F, 1002, GROUP, 0, 0, R | X, 0},
	{"owning group, not other", "u::-,u:1001:-,g::rx,m::rwx,o::w", F, 1002, GROUP, 0, 0, W, NO},
	{"owning group, minimal ACL", "u::-,g::r,o::-", F, 1002, GROUP, 0, 0, R, 0},
	/* named group */
	{"named group", "u::-,g::-,g:2001:rw,m::rwx,o::r", F, 1002, 2001, 0, 0, R | W, 0},
	{"named group, no x, other not tried", "u::-,g::-,g:2001:rw,m::rwx,o::x", F, 1002, 2001, 0,
	 0, X, NO},
	/* mask */
	{"mask lets r through to a named user", "u::rwx,u:1001:rwx,g::rwx,g:2001:rwx,m::r,o::-", F,
	 1001, 2002, 0, 0, R, 0},
	{"mask limits a named user", "u::rwx,u:1001:rwx,g::rwx,g:2001:rwx,m::r,o::-", F, 1001, 2002,
	 0, 0, W, NO},
	{"mask limits a named group", "u::rwx,u:1001:rwx,g::rwx,g:2001:rwx,m::r,o::-", F, 1002,
	 2001, 0, 0, W, NO},
	{"mask limits the owning group", "u::rwx,u:1001:rwx,g::rwx,g:2001:rwx,m::r,o::-", F, 1002,
	 GROUP, 0, 0, W, NO},
	{"mask does not limit other", "u::rwx,u:1001:rwx,g::rwx,m::r,o::rw", F, 1002, 2002, 0, 0, W,
	 0},
	/* other */
	{"other", "u::rwx,u:1001:rwx,g::rwx,g:2001:rwx,m::rwx,o::r", F, 1002, 2002, 0, 0, R, 0},
	{"other, no w", "u::rwx,u:1001:rwx,g::rwx,g:2001:rwx,m::rwx,o::r", F, 1002, 2002, 0, 0, W,
	 NO},
	/* supplementary groups: any one matching entry that holds all the bits grants */
	{"supplementary owning group", "u::-,g::r,g:2001:w,m::rwx,o::-", F, 1002, 2002, GROUP, 2001,
	 R, 0},
	{"supplementary named group", "u::-,g::r,g:2001:w,m::rwx,o::-", F, 1002, 2002, GROUP, 2001,
	 W, 0},
	{"bits of two group entries do not add up", "u::-,g::r,g:2001:w,m::rwx,o::-", F, 1002, 2002,
	 GROUP, 2001, R | W, NO},
	{"a later group entry grants what an earlier one did not",
	 "u::-,g::-,g:2001:r,g:2003:rw,m::rwx,o::rwx", F, 1002, 2002, 2001, 2003, W, 0},
	{"a matching group entry that does not grant shuts out OTHER",
	 "u::-,g::-,g:2001:r,m::rwx,o::rwx", F, 1002, 2002, 2001, 0, W, NO},
	{"the group entry that holds the bits is still limited by the mask",
	 "u::-,g::-,g:2001:rw,g:2003:r,m::r,o::rwx", F, 1002, 2002, 2001, 2003, W, NO},
	/* a MASK of ---: the mode's group bits are clear, and Linux skips the ACL */
	{"mask ---: a named user outside the group gets other", "u::rw,u:1001:rw,g::r,m::-,o::r", F,
	 1001, 2002, 0, 0, R, 0},
	{"mask ---: other's bits only", "u::rw,u:1001:rw,g::r,m::-,o::r", F, 1001, 2002, 0, 0, W,
	 NO},
	{"mask ---: a named group member outside the group gets other",
	 "u::rw,g::r,g:2001:rw,m::-,o::r", F, 1002, 2001, 0, 0, R, 0},
	{"mask ---: an owning group member gets the mode's group bits, none",
	 "u::rw,u:1001:rw,g::r,m::-,o::r", F, 1001, GROUP, 0, 0, R, NO},
	/* the super user */
	{"root reads and writes", "u::-,u:0:-,g::-,m::-,o::-", F, SUPER, 0, 0, 0, R | W, 0},
	{"root: no x bit anywhere", "u::-,u:0:-,g::-,m::-,o::-", F, SUPER, 0, 0, 0, X, NO},
	{"root: a masked named x is no x bit", "u::-,u:0:x,g::-,m::-,o::-", F, SUPER, 0, 0, 0, X,
	 NO},
	{"root: the mask's x", "u::-,u:1001:x,g::-,m::x,o::-", F, SUPER, 0, 0, 0, X, 0},
	{"root: other's x", "u::-,g::-,o::x", F, SUPER, 0, 0, 0, R | W | X, 0},
	{"root searches any directory", "u::-,u:0:-,g::-,m::-,o::-", D, SUPER, 0, 0, 0, R | W | X,
	 0},
	{"NULL credential", "u::-,g::-,o::-", F, NOCRED, 0, 0, 0, R | W, 0},
	{"NULL credential, no x", "u::-,g::-,o::-", F, NOCRED, 0, 0, 0, X, NO},
	/* no ACL: the mode */
	{"no ACL, group", NULL, F | 0640, 1001, GROUP, 0, 0, R, 0},
	{"no ACL, group not other", NULL, F | 0604, 1001, GROUP, 0, 0, R, NO},
	{"no ACL, other", NULL, F | 0604, 1001, 2002, 0, 0, R, 0},
	{"uid 0 without NS_CRED_SUPER is other", NULL, F | 0604, 0, 0, 0, 0, R, 0},
	{"uid 0 without NS_CRED_SUPER is no one", NULL, F | 0600, 0, 0, 0, 0, R, NO},
};

static void test_permission(void)
{
	for (size_t i = 0; i < sizeof(perm_cases) / sizeof(perm_cases[0]); i++) {
		const struct perm_case *t = &perm_cases[i];
		uint32_t groups[2] = {t->g1, t->g2};
		struct ns_cred cred = {.uid = t->uid, .gid = t->gid, .groups = groups};
		struct ns_acl *acl = t->acl ? A(t->acl) : NULL;
		uint32_t mode = t->mode;
		bool keep = false;
		int rc;

		while (cred.ngroups < 2 && groups[cred.ngroups])
			cred.ngroups++;
		if (t->uid == SUPER)
			cred = (struct ns_cred){.uid = 0, .gid = 0, .flags = NS_CRED_SUPER};
		/* The mode, as setting the ACL leaves it. */
		T_OK(ns_acl_update_mode(NULL, GROUP, acl, &mode, &keep));
		rc = ns_acl_permission(t->uid == NOCRED ? NULL : &cred, mode, OWNER, GROUP,
				       keep ? acl : NULL, t->mask);
		if (rc != t->expect)
			T_FAIL("case %zu (%s): %s uid %u mask %u: %d, expected %d", i, t->why,
			       t->acl ? t->acl : "(none)", t->uid, t->mask, rc, t->expect);
		free(acl);
	}
	printf("permission: %zu cases\n", sizeof(perm_cases) / sizeof(perm_cases[0]));
}

struct parse_case {
	const char *text;
	int expect; /* 0: valid */
};

static const struct parse_case parse_cases[] = {
	{"u::rw,g::r,o::r", 0},
	{"u::rw,g::r,m::r,o::r", 0},		    /* a MASK without named entries */
	{"u::rw,u:5:r,g::r,g:5:r,m::r,o::-", 0},    /* the same id as a user and a group */
	{"u::rw,u:7:r,u:5:r,g::r,m::r,o::-", 0},    /* named users out of id order */
	{"u::rw,u:4294967294:r,g::r,m::r,o::-", 0}, /* the largest valid id */
	{"v1;u::rw,g::r,o::r", -EOPNOTSUPP},
	{"v3;u::rw,g::r,o::r", -EOPNOTSUPP},
	{"v0;", -EOPNOTSUPP},
	{"u::rw,t:3:r,g::r,o::r", -EINVAL}, /* unknown tags */
	{"u::rw,t:0:r,g::r,o::r", -EINVAL},
	{"u::rw,g::r,o::r,t:0x40:-", -EINVAL},
	{"u::#8,g::r,o::r", -EINVAL}, /* perm bits beyond rwx */
	{"u::rw,g::#0x100,o::r", -EINVAL},
	{"u::rw,u:5:#0x8000,g::r,m::rwx,o::r", -EINVAL},
	{"g::r,o::r", -EINVAL},	 /* missing USER_OBJ */
	{"u::rw,o::r", -EINVAL}, /* missing GROUP_OBJ */
	{"u::rw,g::r", -EINVAL}, /* missing OTHER */
	{"u::rw,g::r,m::r", -EINVAL},
	{"u::rw,u::rw,g::r,o::r", -EINVAL}, /* repeated entries */
	{"u::rw,g::r,g::r,o::r", -EINVAL},
	{"u::rw,g::r,m::r,m::r,o::r", -EINVAL},
	{"u::rw,g::r,o::r,o::r", -EINVAL},
	{"u::rw,u:5:r,u:5:w,g::r,m::rw,o::r", -EINVAL}, /* a named id twice (Linux takes it) */
	{"u::rw,u:5:r,u:6:r,u:5:r,g::r,m::rw,o::r", -EINVAL},
	{"u::rw,g::r,g:9:r,g:9:r,m::rw,o::r", -EINVAL},
	{"g::r,u::rw,o::r", -EINVAL}, /* out of order */
	{"u::rw,g::r,u:5:r,m::rw,o::r", -EINVAL},
	{"u::rw,g:9:r,g::r,m::rw,o::r", -EINVAL},
	{"u::rw,m::r,g::r,o::r", -EINVAL},
	{"u::rw,g::r,o::r,m::r", -EINVAL},
	{"o::r,u::rw,g::r", -EINVAL},
	{"u::rw,g::r,o::r,u:5:r", -EINVAL},
	{"u::rw,u:5:r,g::r,o::r", -EINVAL}, /* named entries without a MASK */
	{"u::rw,g::r,g:5:r,o::r", -EINVAL},
	{"u::rw,U::r,g::r,m::r,o::r", -EINVAL}, /* a named id of -1 */
	{"u::rw,g::r,G::r,m::r,o::r", -EINVAL},
};

static void expect_parse(const void *value, size_t size, int expect, const char *what)
{
	struct ns_acl *acl = (struct ns_acl *)1;
	int rc = ns_acl_from_xattr(value, size, &acl);

	if (rc != expect)
		T_FAIL("parse %s (%zu bytes): %d, expected %d", what, size, rc, expect);
	if (rc)
		T_ASSERT(acl == NULL);
	free(acl);
}

static void test_parse(void)
{
	unsigned char buf[NS_ACL_XATTR_HEADER + MAX_ENTRIES * NS_ACL_XATTR_ENTRY];
	size_t n, big;
	unsigned char *huge;
	struct ns_acl *acl;

	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		n = xattr_of(parse_cases[i].text, buf);
		expect_parse(buf, n, parse_cases[i].expect, parse_cases[i].text);
	}

	/* Sizes: not a header and whole entries. */
	n = xattr_of("u::rw,g::r,o::r", buf);
	expect_parse(buf, 0, 0, "empty: remove");
	expect_parse(NULL, 0, 0, "NULL: remove");
	expect_parse(NULL, 12, 0, "NULL with a size: remove");
	expect_parse(buf, 4, 0, "bare header: remove");
	for (size_t s = 1; s < n; s++) {
		if (s < 4 || (s - 4) % 8)
			expect_parse(buf, s, -EINVAL, "truncated");
	}
	for (size_t s = 1; s < 8; s++)
		expect_parse(buf, n + s, -EINVAL, "trailing bytes");
	expect_parse(buf, 3, -EINVAL, "short header");
	buf[0] = 1;
	expect_parse(buf, 3, -EINVAL, "short header, bad version: the size is checked first");
	expect_parse(buf, 4, -EOPNOTSUPP, "bare header, bad version");
	expect_parse(buf, 5, -EOPNOTSUPP, "bad version before bad size");
	buf[0] = 2;
	expect_parse(buf, 12, -EINVAL, "header and USER_OBJ only");

	/* setxattr(2)'s limit; the largest value is fine when it is valid. */
	big = NS_ACL_XATTR_MAX + 8;
	huge = calloc(1, big);
	T_ASSERT(huge);
	expect_parse(huge, NS_ACL_XATTR_MAX + 4, -E2BIG, "over XATTR_SIZE_MAX");
	{
		uint32_t count = (NS_ACL_XATTR_MAX - 4) / 8, named = count - 4;
		unsigned char *p = huge;

		n = xattr_of("u::rw", huge);
		p = huge + n;
		for (uint32_t i = 0; i < named; i++, p += 8) {
			/* i * 7 mod named is a permutation: all distinct, unsorted */
			put_entry(p, NS_ACL_USER, R, i * 7 % named);
		}
		put_entry(p, NS_ACL_GROUP_OBJ, R, NS_ACL_UNDEFINED_ID);
		put_entry(p + 8, NS_ACL_MASK, R, NS_ACL_UNDEFINED_ID);
		put_entry(p + 16, NS_ACL_OTHER, 0, NS_ACL_UNDEFINED_ID);
		T_ASSERT(p + 24 == huge + ns_acl_xattr_size(count));
		T_ASSERT(ns_acl_xattr_size(count) <= NS_ACL_XATTR_MAX);
		expect_parse(huge, ns_acl_xattr_size(count), 0, "8187 named users");
		/* The same with the last named user repeating one far before it. */
		put_le32(huge + 4 + 8 * named + 4, 3);
		expect_parse(huge, ns_acl_xattr_size(count), -EINVAL, "8187 named, one repeated");
	}
	free(huge);

	/* *_OBJ, MASK and OTHER ids are ignored and read back as undefined. */
	n = xattr_of("u::rw,u:5:r,g::r,m::r,o::-", buf);
	put_le32(buf + 4 + 4, 77);
	put_le32(buf + 4 + 16 + 4, 0);
	put_le32(buf + 4 + 24 + 4, 1);
	put_le32(buf + 4 + 32 + 4, 123456);
	T_OK(ns_acl_from_xattr(buf, n, &acl));
	for (uint32_t i = 0; i < acl->count; i++)
		T_ASSERT(acl->e[i].id == (acl->e[i].tag == NS_ACL_USER ? 5 : NS_ACL_UNDEFINED_ID));
	free(acl);

	/* Named entries stay in the order given. */
	acl = A("u::rw,u:7:r,u:5:w,u:6:x,g::r,g:3:r,g:1:w,m::rwx,o::-");
	T_ASSERT(acl->count == 9);
	T_ASSERT(acl->e[1].id == 7 && acl->e[2].id == 5 && acl->e[3].id == 6);
	T_ASSERT(acl->e[5].id == 3 && acl->e[6].id == 1 && acl->e[6].perm == W);
	T_OK(ns_acl_valid(acl));
	acl->e[3].id = 7;
	T_ERR(ns_acl_valid(acl), EINVAL);
	free(acl);
	printf("parse: %zu cases and sizes\n", sizeof(parse_cases) / sizeof(parse_cases[0]));
}

/* A random valid ACL: @named entries split between users and groups, MASK when needed. */
static struct ns_acl *random_acl(uint64_t *rs, uint32_t named)
{
	struct ns_acl *acl = malloc(ns_acl_size(named + 4));
	uint32_t users = named ? (uint32_t)(t_rand(rs) % (named + 1)) : 0, n = 0;

	T_ASSERT(acl);
	acl->e[n++] = (struct ns_acl_entry){NS_ACL_USER_OBJ, t_rand(rs) & 7, NS_ACL_UNDEFINED_ID};
	/* Ids: distinct (an odd multiplier is a bijection), in no order. */
	for (uint32_t i = 0; i < users; i++)
		acl->e[n++] = (struct ns_acl_entry){NS_ACL_USER, t_rand(rs) & 7, i * 2654435761u};
	acl->e[n++] = (struct ns_acl_entry){NS_ACL_GROUP_OBJ, t_rand(rs) & 7, NS_ACL_UNDEFINED_ID};
	for (uint32_t i = users; i < named; i++)
		acl->e[n++] = (struct ns_acl_entry){NS_ACL_GROUP, t_rand(rs) & 7, i * 2654435761u};
	if (named || t_rand(rs) % 2)
		acl->e[n++] =
			(struct ns_acl_entry){NS_ACL_MASK, t_rand(rs) & 7, NS_ACL_UNDEFINED_ID};
	acl->e[n++] = (struct ns_acl_entry){NS_ACL_OTHER, t_rand(rs) & 7, NS_ACL_UNDEFINED_ID};
	acl->count = n;
	T_OK(ns_acl_valid(acl));
	return acl;
}

static void test_encode(uint64_t *rs)
{
	unsigned char buf[NS_ACL_XATTR_HEADER + MAX_ENTRIES * NS_ACL_XATTR_ENTRY + 8];
	unsigned char again[sizeof(buf)];

	for (int i = 0; i < 1000; i++) {
		struct ns_acl *acl = random_acl(rs, (uint32_t)(t_rand(rs) % (MAX_ENTRIES - 4))),
			      *back;
		size_t need = ns_acl_xattr_size(acl->count);

		T_ASSERT(ns_acl_to_xattr(acl, NULL, 0) == need);
		memset(buf, 0xaa, sizeof(buf));
		T_ASSERT(ns_acl_to_xattr(acl, buf, need - 1) == need);
		for (size_t b = 0; b < sizeof(buf); b++)
			T_ASSERT(buf[b] == 0xaa);
		T_ASSERT(ns_acl_to_xattr(acl, buf, sizeof(buf)) == need);
		T_ASSERT(buf[need] == 0xaa);
		T_ASSERT(buf[0] == 2 && buf[1] == 0 && buf[2] == 0 && buf[3] == 0);
		T_OK(ns_acl_from_xattr(buf, need, &back));
		T_ASSERT(back && acl_equal(acl, back));
		T_ASSERT(ns_acl_to_xattr(back, again, need) == need);
		T_ASSERT(!memcmp(buf, again, need));
		free(back);
		back = ns_acl_dup(acl);
		T_ASSERT(back && back != acl && acl_equal(acl, back));
		free(back);
		free(acl);
	}
	/* Little-endian, whatever the host: one entry by hand. */
	{
		struct ns_acl *acl = A("u::rw,u:0x01020304:rx,g::r,m::rwx,o::-");

		T_ASSERT(ns_acl_to_xattr(acl, buf, sizeof(buf)) == 44);
		T_ASSERT(!memcmp(buf + 12, "\x02\x00\x05\x00\x04\x03\x02\x01", 8));
		T_ASSERT(!memcmp(buf + 4, "\x01\x00\x06\x00\xff\xff\xff\xff", 8));
		free(acl);
	}
	T_ASSERT(ns_acl_to_xattr(NULL, buf, sizeof(buf)) == 4);
	T_ASSERT(ns_acl_size(3) == sizeof(struct ns_acl) + 3 * sizeof(struct ns_acl_entry));
	printf("encode: 1000 random round trips\n");
}

static void test_equiv_mode(void)
{
	static const struct {
		const char *acl;
		uint32_t before, after;
		int expect;
	} cases[] = {
		{"u::rw,g::r,o::-", S_IFREG | 04777, S_IFREG | 04640, 0},
		{"u::rwx,g::rx,o::x", S_IFDIR | 01000, S_IFDIR | 01751, 0},
		{"u::rw,g::r,m::rw,o::-", S_IFREG, S_IFREG | 0660, 1},
		{"u::rw,g::rw,m::-,o::r", S_IFREG | 02000, S_IFREG | 02604, 1},
		{"u::rw,u:5:r,g::r,m::r,o::r", S_IFREG, S_IFREG | 0644, 1},
		{"u::-,g::-,g:5:rwx,m::rwx,o::-", S_IFREG, S_IFREG | 0070, 1},
	};
	uint32_t mode = 0123;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ns_acl *acl = A(cases[i].acl);
		uint32_t m = cases[i].before;
		int rc = ns_acl_equiv_mode(acl, &m);

		if (rc != cases[i].expect || m != cases[i].after)
			T_FAIL("equiv_mode %s: %d, mode %o; expected %d, %o", cases[i].acl, rc, m,
			       cases[i].expect, cases[i].after);
		free(acl);
	}
	T_ASSERT(ns_acl_equiv_mode(NULL, &mode) == 0 && mode == 0123);
	printf("equiv_mode: %zu cases\n", sizeof(cases) / sizeof(cases[0]));
}

static void test_create_masq(void)
{
#define FULL "u::rwx,u:1001:rwx,g::rx,g:2001:rwx,m::rwx,o::rx"
	static const struct {
		const char *dflt;
		uint32_t mode, after;
		const char *acl; /* NULL: just the mode */
	} cases[] = {
		{FULL, S_IFREG | 0666, S_IFREG | 0664,
		 "u::rw,u:1001:rwx,g::rx,g:2001:rwx,m::rw,o::r"},
		{FULL, S_IFDIR | 0777, S_IFDIR | 0775,
		 "u::rwx,u:1001:rwx,g::rx,g:2001:rwx,m::rwx,o::rx"},
		{FULL, S_IFREG | 0600, S_IFREG | 0600,
		 "u::rw,u:1001:rwx,g::rx,g:2001:rwx,m::-,o::-"},
		{FULL, S_IFREG | 04751, S_IFREG | 04751,
		 "u::rwx,u:1001:rwx,g::rx,g:2001:rwx,m::rx,o::x"},
		{FULL, S_IFDIR | 01700, S_IFDIR | 01700,
		 "u::rwx,u:1001:rwx,g::rx,g:2001:rwx,m::-,o::-"},
		{"u::r,u:5:rw,g::-,m::w,o::-", S_IFREG | 0777, S_IFREG | 0420,
		 "u::r,u:5:rw,g::-,m::w,o::-"},
		{"u::rwx,g::rx,o::x", S_IFREG | 0666, S_IFREG | 0640, NULL},
		{"u::rwx,g::rx,o::x", S_IFDIR | 02777, S_IFDIR | 02751, NULL},
		{"u::rwx,g::rwx,o::rwx", S_IFREG | 0000, S_IFREG | 0000, NULL},
		{"u::rw,g::rw,m::r,o::r", S_IFREG | 0666, S_IFREG | 0644, "u::rw,g::rw,m::r,o::r"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ns_acl *acl = A(cases[i].dflt), *want = NULL;
		uint32_t mode = cases[i].mode;
		int rc = ns_acl_create_masq(acl, &mode);

		if (cases[i].acl)
			want = A(cases[i].acl);
		if (rc != (want != NULL) || mode != cases[i].after)
			T_FAIL("create_masq %s mode %o: %d, mode %o; expected %d, %o",
			       cases[i].dflt, cases[i].mode, rc, mode, want != NULL,
			       cases[i].after);
		if (want && !acl_equal(acl, want))
			T_FAIL("create_masq %s mode %o: not %s", cases[i].dflt, cases[i].mode,
			       cases[i].acl);
		free(want);
		free(acl);
	}
	{
		struct ns_acl *acl = A("u::rw,g::r,o::r");
		uint32_t mode = 0644;

		acl->e[1].tag = NS_ACL_MASK; /* not valid: no GROUP_OBJ; the MASK stands in */
		T_ASSERT(ns_acl_create_masq(acl, &mode) == 1);
		acl->e[1].tag = NS_ACL_USER_OBJ; /* no group class at all */
		T_ERR(ns_acl_create_masq(acl, &mode), EINVAL);
		T_ERR(ns_acl_chmod(acl, 0644), EINVAL);
		acl->e[1].tag = 0x40;
		T_ERR(ns_acl_create_masq(acl, &mode), EINVAL);
		T_ERR(ns_acl_equiv_mode(acl, &mode), EINVAL);
		T_ASSERT(mode == 0644);
		free(acl);
	}
	printf("create_masq: %zu cases\n", sizeof(cases) / sizeof(cases[0]));
}

static void test_chmod(void)
{
	static const struct {
		const char *acl;
		uint32_t mode;
		const char *after;
	} cases[] = {
		{"u::rw,u:1001:rwx,g::r,m::rwx,o::r", 0750, "u::rwx,u:1001:rwx,g::r,m::rx,o::-"},
		{"u::rw,u:1001:rwx,g::r,m::rwx,o::r", 07007, "u::-,u:1001:rwx,g::r,m::-,o::rwx"},
		{"u::rw,g::r,o::r", 0751, "u::rwx,g::rx,o::x"},
		{"u::rw,g::r,m::r,o::r", 0070, "u::-,g::r,m::rwx,o::-"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ns_acl *acl = A(cases[i].acl), *want = A(cases[i].after);
		uint32_t mode = S_IFREG;

		T_OK(ns_acl_chmod(acl, cases[i].mode));
		if (!acl_equal(acl, want))
			T_FAIL("chmod %s %o: not %s", cases[i].acl, cases[i].mode, cases[i].after);
		/* The mode and the ACL agree again. */
		ns_acl_equiv_mode(acl, &mode);
		T_ASSERT((mode & 0777) == (cases[i].mode & 0777));
		free(want);
		free(acl);
	}
	printf("chmod: %zu cases\n", sizeof(cases) / sizeof(cases[0]));
}

static void test_update_mode(void)
{
	static const uint32_t in_group[] = {2005, GROUP};
	static const struct {
		const char *acl; /* NULL: removing the ACL */
		uint32_t uid, gid, ngroups, mode, after;
		bool keep;
	} cases[] = {
		{"u::rwx,u:1001:r,g::rx,m::r,o::-", OWNER, 2002, 0, S_IFREG | 02755, S_IFREG | 0740,
		 true},
		{"u::rwx,u:1001:r,g::rx,m::r,o::-", OWNER, 2002, 2, S_IFREG | 02755,
		 S_IFREG | 02740, true},
		{"u::rwx,u:1001:r,g::rx,m::r,o::-", OWNER, GROUP, 0, S_IFREG | 02755,
		 S_IFREG | 02740, true},
		{"u::rwx,u:1001:r,g::rx,m::r,o::-", SUPER, 2002, 0, S_IFREG | 02755,
		 S_IFREG | 02740, true},
		{"u::rw,g::r,o::r", OWNER, 2002, 0, S_IFREG | 06777, S_IFREG | 04644, false},
		{"u::rw,g::r,o::r", OWNER, 2002, 0, S_IFDIR | 03777, S_IFDIR | 01644, false},
		{"u::rw,g::r,m::rw,o::r", OWNER, 2002, 0, S_IFDIR | 0700, S_IFDIR | 0664, true},
		{NULL, OWNER, 2002, 0, S_IFREG | 02754, S_IFREG | 0754, false},
		{NULL, OWNER, GROUP, 0, S_IFREG | 02754, S_IFREG | 02754, false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ns_cred cred = {.uid = cases[i].uid,
				       .gid = cases[i].gid,
				       .ngroups = cases[i].ngroups,
				       .groups = in_group};
		struct ns_acl *acl = cases[i].acl ? A(cases[i].acl) : NULL;
		uint32_t mode = cases[i].mode;
		bool keep = !cases[i].keep;

		if (cases[i].uid == SUPER)
			cred = (struct ns_cred){.flags = NS_CRED_SUPER};
		T_OK(ns_acl_update_mode(&cred, GROUP, acl, &mode, &keep));
		if (mode != cases[i].after || keep != cases[i].keep)
			T_FAIL("update_mode case %zu: mode %o keep %d; expected %o %d", i, mode,
			       keep, cases[i].after, cases[i].keep);
		free(acl);
	}
	printf("update_mode: %zu cases\n", sizeof(cases) / sizeof(cases[0]));
}

int main(int argc, char **argv)
{
	uint64_t rs = t_seed(argc, argv, 0x5eed5ac1);

	t_watchdog(60, "test-acl");
	test_permission();
	test_parse();
	test_encode(&rs);
	test_equiv_mode();
	test_create_masq();
	test_chmod();
	test_update_mode();
	printf("ok\n");
	return 0;
}
