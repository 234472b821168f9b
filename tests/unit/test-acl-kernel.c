// SPDX-License-Identifier: MIT
/*
 * test-acl-kernel - engine/acl.c against the running kernel, on random ACLs: the kernel's
 * own POSIX ACLs (tmpfs with CONFIG_TMPFS_POSIX_ACL, else the file system of the current
 * directory) are the oracle. Needs root (it switches to other users); skipped (77) when it is
 * not root or no file system here keeps ACLs.
 *
 *   parse        random values, valid and mutated (bad size, version, tag, perm, order,
 *                missing or repeated entries, ids): setxattr(2)'s answer is
 *                ns_acl_from_xattr's, except for an id named twice, which the kernel keeps
 *                and we reject on purpose (acl.h); what getxattr(2) returns then is
 *                ns_acl_to_xattr's, the mode stat(2) shows is ns_acl_update_mode's, and an
 *                ACL equivalent to the mode is not kept
 *   permission   random ACLs on a file and a directory; for random callers (a forked child
 *                with setgroups/setresgid/setresuid: owner, named users, strangers, root,
 *                with random primary and supplementary groups) access(2) for every rwx
 *                mask and open(2) agree with ns_acl_permission
 *   update_mode  the owner (in or out of the group) or root sets an ACL on a file or
 *                directory with setuid/setgid/sticky bits: the mode is ns_acl_update_mode's
 *   chmod        chmod(2) of a file with an extended ACL rewrites it as ns_acl_chmod does
 *   inherit      a directory with a random default ACL; creat and mkdir in it with random
 *                modes under a random umask (ignored, as it must be): the access ACL and mode
 *                of the new inode are ns_acl_create_masq's, a new directory's default ACL is
 *                its parent's
 *
 * Deterministic for a seed (printed first; pass it as argv[1] or DAXFS_TEST_SEED to replay).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "acl.h"
#include "testutil.h"

#define OWNER 1000
#define GROUP 2000
#define STRANGER 1005
#define MAX_ENTRIES 16
#define VALUE_MAX (NS_ACL_XATTR_HEADER + (MAX_ENTRIES + 2) * NS_ACL_XATTR_ENTRY)
#define TMPFS_MAGIC 0x01021994

#define PARSE_ROUNDS 300
#define PERM_ROUNDS 300
#define CALLERS 6 /* per ACL */
#define UPDATE_ROUNDS 150
#define CHMOD_ROUNDS 100
#define INHERIT_ROUNDS 150

static uint64_t seed, rs;
static char base[PATH_MAX];
static bool on_tmpfs;

static const uint32_t user_pool[] = {OWNER, 1001, 1002, 1003, 0};
static const uint32_t group_pool[] = {GROUP, 2001, 2002, 2003, 0};
#define POOL 5

#define FAIL_AT(round, ...)                                                                     \
	do {                                                                                    \
		fprintf(stderr, "seed %llu, %s round %d: ", (unsigned long long)seed, __func__, \
			round);                                                                 \
		T_FAIL(__VA_ARGS__);                                                            \
	} while (0)

static unsigned rnd(unsigned n)
{
	return (unsigned)(t_rand(&rs) % n);
}

static const char *P(const char *name)
{
	static char bufs[4][PATH_MAX];
	static unsigned next;
	char *b = bufs[next++ % 4];

	if (snprintf(b, PATH_MAX, "%s/%s", base, name) >= PATH_MAX)
		T_FAIL("path too long: %s/%s", base, name);
	return b;
}

/* acl(5)'s long text, on one line, for messages. */
static const char *text(const struct ns_acl *acl)
{
	static char buf[2][1024];
	static unsigned next;
	char *b = buf[next++ % 2], *p = b;

	if (!acl)
		return "(none)";
	for (uint32_t i = 0; i < acl->count; i++) {
		const struct ns_acl_entry *e = &acl->e[i];
		char tag = e->tag == NS_ACL_MASK ? 'm' : e->tag == NS_ACL_OTHER ? 'o' : 'g';
		char id[16] = "";

		if (e->tag == NS_ACL_USER_OBJ || e->tag == NS_ACL_USER)
			tag = 'u';
		if (e->tag == NS_ACL_USER || e->tag == NS_ACL_GROUP)
			snprintf(id, sizeof(id), "%u", e->id);
		p += sprintf(p, "%s%c:%s:%c%c%c", i ? "," : "", tag, id, e->perm & 4 ? 'r' : '-',
			     e->perm & 2 ? 'w' : '-', e->perm & 1 ? 'x' : '-');
	}
	return b;
}

/* A random valid ACL over the pools; @extended: one that is more than the mode. */
static struct ns_acl *random_acl(bool extended)
{
	struct ns_acl *acl = malloc(ns_acl_size(2 * POOL + 4));
	unsigned users, groups, n = 0;
	uint32_t pick[POOL];

	T_ASSERT(acl);
	do {
		/* A quarter without named entries: minimal ACLs, or a MASK alone. */
		users = rnd(4) ? rnd(4) : 0;
		groups = users || rnd(4) ? rnd(4) : 0;
		n = 0;
		acl->e[n++] = (struct ns_acl_entry){NS_ACL_USER_OBJ, rnd(8), NS_ACL_UNDEFINED_ID};
		/* Distinct ids in a random order: a partial shuffle of the pool. */
		memcpy(pick, user_pool, sizeof(pick));
		for (unsigned i = 0; i < users; i++) {
			unsigned j = i + rnd(POOL - i);
			uint32_t t = pick[i];

			pick[i] = pick[j];
			pick[j] = t;
			acl->e[n++] = (struct ns_acl_entry){NS_ACL_USER, rnd(8), pick[i]};
		}
		acl->e[n++] = (struct ns_acl_entry){NS_ACL_GROUP_OBJ, rnd(8), NS_ACL_UNDEFINED_ID};
		memcpy(pick, group_pool, sizeof(pick));
		for (unsigned i = 0; i < groups; i++) {
			unsigned j = i + rnd(POOL - i);
			uint32_t t = pick[i];

			pick[i] = pick[j];
			pick[j] = t;
			acl->e[n++] = (struct ns_acl_entry){NS_ACL_GROUP, rnd(8), pick[i]};
		}
		/* A MASK when needed, sometimes when not; often --- (Linux skips the ACL then). */
		if (users || groups || rnd(2))
			acl->e[n++] = (struct ns_acl_entry){NS_ACL_MASK, rnd(5) ? rnd(8) : 0,
							    NS_ACL_UNDEFINED_ID};
		acl->e[n++] = (struct ns_acl_entry){NS_ACL_OTHER, rnd(8), NS_ACL_UNDEFINED_ID};
		acl->count = n;
	} while (extended && n == 3);
	T_OK(ns_acl_valid(acl));
	return acl;
}

static size_t encode(const struct ns_acl *acl, unsigned char *buf)
{
	size_t n = ns_acl_to_xattr(acl, buf, VALUE_MAX);

	T_ASSERT(n <= VALUE_MAX);
	return n;
}

static int set_acl(const char *path, const char *name, const void *value, size_t size)
{
	return setxattr(path, name, value, size, 0) ? -errno : 0;
}

static uint32_t mode_of(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		T_FAIL("stat %s: %s", path, strerror(errno));
	return st.st_mode;
}

/*
 * Does @path hold @name equal to @acl (NULL: none)? Return: NULL if so, else what differs.
 */
static const char *xattr_is(const char *path, const char *name, const struct ns_acl *acl)
{
	unsigned char want[VALUE_MAX], got[VALUE_MAX];
	ssize_t n = getxattr(path, name, got, sizeof(got));

	if (!acl)
		return n < 0 && errno == ENODATA ? NULL : "an ACL where none should be";
	if (n < 0)
		return errno == ENODATA ? "no ACL" : strerror(errno);
	if ((size_t)n != encode(acl, want) || memcmp(got, want, (size_t)n))
		return "another ACL";
	return NULL;
}

struct caller {
	bool root;
	uint32_t uid, gid, ngroups, groups[4];
};

static struct caller random_caller(const struct ns_acl *acl)
{
	struct caller w = {.gid = rnd(6) ? group_pool[rnd(4)] : 2005};
	unsigned r = rnd(20);

	if (r < 2) {
		w.root = true;
		w.uid = 0;
	} else if (r < 5)
		w.uid = OWNER;
	else if (r < 14 && acl) {
		/* One of the ACL's named users when it has some, else a pool user. */
		uint32_t named[MAX_ENTRIES], n = 0;

		for (uint32_t i = 0; i < acl->count; i++) {
			if (acl->e[i].tag == NS_ACL_USER && acl->e[i].id != 0)
				named[n++] = acl->e[i].id;
		}
		w.uid = n ? named[rnd(n)] : user_pool[1 + rnd(3)];
	} else {
		w.uid = STRANGER;
	}
	w.ngroups = rnd(4);
	for (uint32_t i = 0; i < w.ngroups; i++)
		w.groups[i] = rnd(5) ? group_pool[rnd(4)] : 2005;
	return w;
}

static struct ns_cred cred_of(const struct caller *w)
{
	return (struct ns_cred){.uid = w->uid,
				.gid = w->gid,
				.ngroups = w->ngroups,
				.groups = w->groups,
				.flags = w->root ? NS_CRED_SUPER : 0};
}

static const char *caller_text(const struct caller *w)
{
	static char buf[128];
	int n = snprintf(buf, sizeof(buf), "uid %u gid %u groups [", w->uid, w->gid);

	for (uint32_t i = 0; i < w->ngroups; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s%u", i ? " " : "", w->groups[i]);
	snprintf(buf + n, sizeof(buf) - (size_t)n, "]%s", w->root ? " (root)" : "");
	return buf;
}

/*
 * Run @fn(@arg) in a child that has become @w (root keeps its capabilities); Return: its
 * result, a non-negative int.
 */
static int run_as(const struct caller *w, int (*fn)(const void *), const void *arg)
{
	int pfd[2], status, result = -1;
	pid_t pid;

	T_ASSERT(pipe(pfd) == 0);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		gid_t groups[4];

		close(pfd[0]);
		for (uint32_t i = 0; i < w->ngroups; i++)
			groups[i] = w->groups[i];
		if (setgroups(w->ngroups, groups) || setresgid(w->gid, w->gid, w->gid) ||
		    setresuid(w->uid, w->uid, w->uid))
			_exit(2);
		result = fn(arg);
		_exit(write(pfd[1], &result, sizeof(result)) == sizeof(result) ? 0 : 3);
	}
	close(pfd[1]);
	if (read(pfd[0], &result, sizeof(result)) != sizeof(result))
		result = -1;
	close(pfd[0]);
	T_ASSERT(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || result < 0)
		T_FAIL("child as %s: status %#x", caller_text(w), status);
	return result;
}

/* Mutations of a valid value; each says whether we expect to differ from the kernel. */
enum mutation {
	M_NONE,
	M_DROP_MASK,
	M_SWAP,
	M_PERM,
	M_TAG,
	M_VERSION,
	M_TRUNCATE,
	M_TRAIL,
	M_ID_UNDEFINED,
	M_REPEAT_NAMED, /* the kernel keeps it; we reject it (acl.h) */
	M_REPEAT_OBJ,
	M_DELETE,
	M_OBJ_IDS,
	M_EMPTY,
	M_APPEND,
	M_COUNT
};

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

static unsigned char *entry(unsigned char *v, uint32_t i)
{
	return v + NS_ACL_XATTR_HEADER + i * NS_ACL_XATTR_ENTRY;
}

/* Change the value @v of @acl by @m; Return: its new size, or 0 when @m does not apply. */
static size_t mutate(unsigned char *v, size_t size, const struct ns_acl *acl, enum mutation m)
{
	static const uint16_t tags[] = {0, 3, 0x40, 0x11, 0x8000, 0x21, 0xffff};
	uint32_t n = acl->count, i = rnd(n), named = n, obj[MAX_ENTRIES], nobj = 0;

	/* The last named entry (n: none), and the others. */
	for (uint32_t k = 0; k < n; k++) {
		if (acl->e[k].tag == NS_ACL_USER || acl->e[k].tag == NS_ACL_GROUP)
			named = k;
		else
			obj[nobj++] = k;
	}
	switch (m) {
	case M_NONE:
		return size;
	case M_DROP_MASK:
		for (uint32_t k = 0; k < n; k++) {
			if (acl->e[k].tag == NS_ACL_MASK) {
				memmove(entry(v, k), entry(v, k + 1), (n - k - 1) * 8);
				return size - 8;
			}
		}
		return 0;
	case M_SWAP: {
		unsigned char t[8];

		i = rnd(n - 1);
		memcpy(t, entry(v, i), 8);
		memcpy(entry(v, i), entry(v, i + 1), 8);
		memcpy(entry(v, i + 1), t, 8);
		return size;
	}
	case M_PERM:
		put16(entry(v, i) + 2, (uint16_t)(acl->e[i].perm | 8u << rnd(13)));
		return size;
	case M_TAG:
		put16(entry(v, i), tags[rnd(sizeof(tags) / sizeof(tags[0]))]);
		return size;
	case M_VERSION:
		put32(v, rnd(2) ? rnd(2) : 3 + (uint32_t)t_rand(&rs));
		return size;
	case M_TRUNCATE:
		return size - 1 - rnd(7);
	case M_TRAIL:
		memset(v + size, 0, 8);
		return size + 1 + rnd(7);
	case M_ID_UNDEFINED:
		if (named == n)
			return 0;
		put32(entry(v, named) + 4, NS_ACL_UNDEFINED_ID);
		return size;
	case M_REPEAT_NAMED:
	case M_REPEAT_OBJ:
		if (m == M_REPEAT_NAMED && named == n)
			return 0;
		i = m == M_REPEAT_NAMED ? named : obj[rnd(nobj)];
		/* The copy right after the original: the tag order stays right. */
		memmove(entry(v, i + 1), entry(v, i), (n - i) * 8);
		put16(entry(v, i + 1) + 2, (uint16_t)rnd(8));
		return size + 8;
	case M_DELETE:
		memmove(entry(v, i), entry(v, i + 1), (n - i - 1) * 8);
		return size - 8;
	case M_OBJ_IDS:
		for (uint32_t k = 0; k < n; k++) {
			if (acl->e[k].tag != NS_ACL_USER && acl->e[k].tag != NS_ACL_GROUP)
				put32(entry(v, k) + 4, (uint32_t)t_rand(&rs));
		}
		return size;
	case M_EMPTY:
		return rnd(2) ? NS_ACL_XATTR_HEADER : 0;
	case M_APPEND:
		put16(entry(v, n), (uint16_t)(rnd(2) ? 1u << rnd(6) : t_rand(&rs)));
		put16(entry(v, n) + 2, (uint16_t)rnd(9));
		put32(entry(v, n) + 4, rnd(2) ? NS_ACL_UNDEFINED_ID : rnd(5000));
		return size + 8;
	default:
		return 0;
	}
}

static void test_parse(void)
{
	const char *f = P("parse");
	unsigned repeats_kept = 0, rejected = 0;
	int fd = open(f, O_CREAT | O_EXCL | O_WRONLY, 0640);

	T_ASSERT(fd >= 0);
	close(fd);
	for (int round = 0; round < PARSE_ROUNDS; round++) {
		struct ns_acl *acl = random_acl(false), *ours = NULL;
		unsigned char v[VALUE_MAX];
		enum mutation m = round % 3 ? (enum mutation)rnd(M_COUNT) : M_NONE;
		size_t size = mutate(v, encode(acl, v), acl, m);
		uint32_t before = mode_of(f), expect = before;
		int kr, rc;
		bool keep = false;
		const char *why;

		if (!size && m != M_EMPTY) {
			free(acl);
			continue; /* the mutation does not apply to this ACL */
		}
		kr = set_acl(f, NS_ACL_XATTR_ACCESS, size ? v : NULL, size);
		rc = ns_acl_from_xattr(v, size, &ours);
		if (m == M_REPEAT_NAMED) {
			/* A repeated named id: the kernel keeps it; we say -EINVAL. */
			if (rc != -EINVAL)
				FAIL_AT(round, "%s with a repeated named id: %d", text(acl), rc);
			repeats_kept += kr == 0;
			free(acl);
			continue;
		}
		if (kr != rc)
			FAIL_AT(round,
				"%s mutated by %d (%zu bytes): kernel %d, ns_acl_from_xattr %d",
				text(acl), m, size, kr, rc);
		rejected += rc != 0;
		if (rc == 0) {
			T_OK(ns_acl_update_mode(NULL, GROUP, ours, &expect, &keep));
			if (mode_of(f) != expect)
				FAIL_AT(round, "%s: mode %o, ns_acl_update_mode %o", text(ours),
					mode_of(f), expect);
			why = xattr_is(f, NS_ACL_XATTR_ACCESS, keep ? ours : NULL);
			if (why)
				FAIL_AT(round, "%s (mutation %d): getxattr gives %s", text(ours), m,
					why);
		}
		free(ours);
		free(acl);
	}
	printf("parse: %d values, %u rejected as the kernel does; the kernel kept %u ACLs "
	       "naming an id twice, which ns_acl_from_xattr rejects on purpose\n",
	       PARSE_ROUNDS, rejected, repeats_kept);
}

/* The bits of what the caller may do to "pf" and "pd", by access(2) and open(2). */
enum { A_FILE = 0, A_DIR = 7, O_FILE_R = 14, O_FILE_W, O_FILE_RW, O_DIR_R, CHECKS };

static int probe(const void *arg)
{
	const char *const *paths = arg;
	int bits = 0, fd;

	for (int m = 1; m <= 7; m++) {
		bits |= (access(paths[0], m) == 0) << (A_FILE + m - 1);
		bits |= (access(paths[1], m) == 0) << (A_DIR + m - 1);
	}
	static const int flags[] = {O_RDONLY, O_WRONLY, O_RDWR};
	for (int k = 0; k < 3; k++) {
		fd = open(paths[0], flags[k]);
		bits |= (fd >= 0) << (O_FILE_R + k);
		if (fd >= 0)
			close(fd);
	}
	fd = open(paths[1], O_RDONLY | O_DIRECTORY);
	bits |= (fd >= 0) << O_DIR_R;
	if (fd >= 0)
		close(fd);
	return bits;
}

static int expected_bits(const struct ns_cred *c, uint32_t fmode, uint32_t dmode,
			 const struct ns_acl *acl)
{
	static const unsigned open_masks[] = {NS_MAY_READ, NS_MAY_WRITE,
					      NS_MAY_READ | NS_MAY_WRITE};
	int bits = 0;

	for (unsigned m = 1; m <= 7; m++) {
		bits |= (ns_acl_permission(c, fmode, OWNER, GROUP, acl, m) == 0)
			<< (A_FILE + m - 1);
		bits |= (ns_acl_permission(c, dmode, OWNER, GROUP, acl, m) == 0) << (A_DIR + m - 1);
	}
	for (int k = 0; k < 3; k++)
		bits |= (ns_acl_permission(c, fmode, OWNER, GROUP, acl, open_masks[k]) == 0)
			<< (O_FILE_R + k);
	bits |= (ns_acl_permission(c, dmode, OWNER, GROUP, acl, NS_MAY_READ) == 0) << O_DIR_R;
	return bits;
}

static const char *check_name(int bit)
{
	static const char *const names[] = {"x", "w", "wx", "r", "rx", "rw", "rwx"};
	static char buf[32];

	if (bit < A_DIR)
		snprintf(buf, sizeof(buf), "access(file, %s)", names[bit]);
	else if (bit < O_FILE_R)
		snprintf(buf, sizeof(buf), "access(dir, %s)", names[bit - A_DIR]);
	else
		snprintf(buf, sizeof(buf), "%s",
			 (const char *[]){"open(file, O_RDONLY)", "open(file, O_WRONLY)",
					  "open(file, O_RDWR)", "open(dir)"}[bit - O_FILE_R]);
	return buf;
}

static void test_permission(void)
{
	const char *paths[2] = {P("pf"), P("pd")};
	int fd = open(paths[0], O_CREAT | O_EXCL | O_WRONLY, 0);
	unsigned granted = 0, checks = 0, skipped_acl = 0;

	T_ASSERT(fd >= 0);
	close(fd);
	T_ASSERT(mkdir(paths[1], 0) == 0);
	T_ASSERT(chown(paths[0], OWNER, GROUP) == 0 && chown(paths[1], OWNER, GROUP) == 0);
	for (int round = 0; round < PERM_ROUNDS; round++) {
		struct ns_acl *acl = random_acl(false);
		unsigned char v[VALUE_MAX];
		size_t size = encode(acl, v);
		uint32_t fmode = mode_of(paths[0]), dmode = mode_of(paths[1]);
		bool keep;

		T_OK(set_acl(paths[0], NS_ACL_XATTR_ACCESS, v, size));
		T_OK(set_acl(paths[1], NS_ACL_XATTR_ACCESS, v, size));
		T_OK(ns_acl_update_mode(NULL, GROUP, acl, &fmode, &keep));
		T_OK(ns_acl_update_mode(NULL, GROUP, acl, &dmode, &keep));
		if (mode_of(paths[0]) != fmode || mode_of(paths[1]) != dmode)
			FAIL_AT(round, "%s: modes %o %o, ns_acl_update_mode %o %o", text(acl),
				mode_of(paths[0]), mode_of(paths[1]), fmode, dmode);
		skipped_acl += keep && !(fmode & S_IRWXG);
		for (int k = 0; k < CALLERS; k++) {
			struct caller w = random_caller(acl);
			struct ns_cred c = cred_of(&w);
			int got = run_as(&w, probe, paths);
			int want = expected_bits(&c, fmode, dmode, keep ? acl : NULL);

			if (got != want) {
				int bit = __builtin_ctz((unsigned)(got ^ want));

				FAIL_AT(round,
					"%s (file %o, dir %o, owner %u:%u), caller %s: %s %s by "
					"the "
					"kernel, %s by ns_acl_permission",
					text(keep ? acl : NULL), fmode, dmode, OWNER, GROUP,
					caller_text(&w), check_name(bit),
					got >> bit & 1 ? "granted" : "denied",
					want >> bit & 1 ? "granted" : "denied");
			}
			granted += (unsigned)__builtin_popcount((unsigned)got);
			checks += CHECKS;
		}
		free(acl);
	}
	printf("permission: %d ACLs x %d callers, %u checks (%u granted); %u ACLs with a MASK "
	       "of --- (not consulted)\n",
	       PERM_ROUNDS, CALLERS, checks, granted, skipped_acl);
}

struct set_args {
	const char *path;
	const unsigned char *value;
	size_t size;
};

static int do_setxattr(const void *arg)
{
	const struct set_args *a = arg;

	return setxattr(a->path, NS_ACL_XATTR_ACCESS, a->size ? a->value : NULL, a->size, 0) ? errno
											     : 0;
}

static void test_update_mode(void)
{
	const char *paths[2] = {P("uf"), P("ud")};
	int fd = open(paths[0], O_CREAT | O_EXCL | O_WRONLY, 0);
	unsigned cleared = 0, removals = 0;

	T_ASSERT(fd >= 0);
	close(fd);
	T_ASSERT(mkdir(paths[1], 0) == 0);
	T_ASSERT(chown(paths[0], OWNER, GROUP) == 0 && chown(paths[1], OWNER, GROUP) == 0);
	for (int round = 0; round < UPDATE_ROUNDS; round++) {
		const char *path = paths[round % 2];
		struct ns_acl *acl = random_acl(false);
		unsigned char v[VALUE_MAX];
		/* Removing an ACL: tmpfs updates the mode then, other file systems need not. */
		bool remove = on_tmpfs && rnd(8) == 0;
		struct set_args a = {path, v, remove ? 0 : encode(acl, v)};
		struct caller w = random_caller(NULL);
		struct ns_cred c;
		uint32_t before, expect;
		bool keep;
		int err;

		if (!w.root)
			w.uid = OWNER; /* who may set an ACL: the owner, or root */
		c = cred_of(&w);
		T_ASSERT(chmod(path, rnd(010000)) == 0);
		before = expect = mode_of(path);
		err = run_as(&w, do_setxattr, &a);
		if (err)
			FAIL_AT(round, "setxattr %s as %s: %s", text(acl), caller_text(&w),
				strerror(err));
		T_OK(ns_acl_update_mode(&c, GROUP, remove ? NULL : acl, &expect, &keep));
		if (mode_of(path) != expect)
			FAIL_AT(round,
				"%s %s on a %s of mode %o by %s: mode %o, "
				"ns_acl_update_mode %o",
				remove ? "removing" : "setting", text(remove ? NULL : acl),
				round % 2 ? "directory" : "file", before, caller_text(&w),
				mode_of(path), expect);
		if (xattr_is(path, NS_ACL_XATTR_ACCESS, keep ? acl : NULL))
			FAIL_AT(round, "%s: getxattr gives %s", text(acl),
				xattr_is(path, NS_ACL_XATTR_ACCESS, keep ? acl : NULL));
		cleared += (before & S_ISGID) && !(expect & S_ISGID);
		removals += remove;
		free(acl);
	}
	printf("update_mode: %d ACLs set by owners and root (%u removals), setgid cleared %u "
	       "times\n",
	       UPDATE_ROUNDS, removals, cleared);
}

static void test_chmod(void)
{
	const char *f = P("chmod");
	int fd = open(f, O_CREAT | O_EXCL | O_WRONLY, 0);

	T_ASSERT(fd >= 0);
	close(fd);
	for (int round = 0; round < CHMOD_ROUNDS; round++) {
		struct ns_acl *acl = random_acl(true);
		unsigned char v[VALUE_MAX];
		uint32_t mode = rnd(010000);
		const char *why;

		T_OK(set_acl(f, NS_ACL_XATTR_ACCESS, v, encode(acl, v)));
		T_ASSERT(chmod(f, mode) == 0);
		T_OK(ns_acl_chmod(acl, mode));
		if ((mode_of(f) & 07777) != mode)
			FAIL_AT(round, "chmod %o: mode %o", mode, mode_of(f));
		why = xattr_is(f, NS_ACL_XATTR_ACCESS, acl);
		if (why)
			FAIL_AT(round, "chmod %o: getxattr gives %s, ns_acl_chmod %s", mode, why,
				text(acl));
		free(acl);
	}
	printf("chmod: %d extended ACLs\n", CHMOD_ROUNDS);
}

static void test_inherit(void)
{
	unsigned extended = 0;

	for (int round = 0; round < INHERIT_ROUNDS; round++) {
		char dir[32], file[48], sub[48];
		struct ns_acl *dflt = random_acl(false), *facl, *dacl;
		unsigned char v[VALUE_MAX];
		uint32_t fmode = rnd(010000), dmode = rnd(01000) | (rnd(2) ? S_ISVTX : 0);
		uint32_t fwant = S_IFREG | fmode, dwant = S_IFDIR | dmode;
		int frc, drc, fd;
		const char *why;

		snprintf(dir, sizeof(dir), "inherit%d", round);
		snprintf(file, sizeof(file), "%s/f", dir);
		snprintf(sub, sizeof(sub), "%s/d", dir);
		T_ASSERT(mkdir(P(dir), 0777) == 0);
		T_OK(set_acl(P(dir), NS_ACL_XATTR_DEFAULT, v, encode(dflt, v)));

		umask(rnd(01000)); /* a default ACL overrides the umask */
		fd = open(P(file), O_CREAT | O_EXCL | O_WRONLY, fmode);
		T_ASSERT(fd >= 0);
		close(fd);
		T_ASSERT(mkdir(P(sub), dmode) == 0);
		umask(0);

		facl = ns_acl_dup(dflt);
		dacl = ns_acl_dup(dflt);
		T_ASSERT(facl && dacl);
		frc = ns_acl_create_masq(facl, &fwant);
		drc = ns_acl_create_masq(dacl, &dwant);
		T_ASSERT(frc >= 0 && drc >= 0);
		if (mode_of(P(file)) != fwant || mode_of(P(sub)) != dwant)
			FAIL_AT(round,
				"default %s, creat %o / mkdir %o: modes %o / %o, "
				"ns_acl_create_masq %o / %o",
				text(dflt), fmode, dmode, mode_of(P(file)), mode_of(P(sub)), fwant,
				dwant);
		why = xattr_is(P(file), NS_ACL_XATTR_ACCESS, frc ? facl : NULL);
		if (why)
			FAIL_AT(round, "default %s, creat %o: access ACL: %s, not %s", text(dflt),
				fmode, why, text(frc ? facl : NULL));
		why = xattr_is(P(sub), NS_ACL_XATTR_ACCESS, drc ? dacl : NULL);
		if (why)
			FAIL_AT(round, "default %s, mkdir %o: access ACL: %s, not %s", text(dflt),
				dmode, why, text(drc ? dacl : NULL));
		why = xattr_is(P(sub), NS_ACL_XATTR_DEFAULT, dflt);
		if (why)
			FAIL_AT(round, "default %s: the new directory's default ACL: %s",
				text(dflt), why);
		T_ASSERT(xattr_is(P(file), NS_ACL_XATTR_DEFAULT, NULL) == NULL);
		extended += frc + drc;
		free(dflt);
		free(facl);
		free(dacl);
	}
	printf("inherit: %d default ACLs, %d files and directories, %u with an extended "
	       "access ACL\n",
	       INHERIT_ROUNDS, 2 * INHERIT_ROUNDS, extended);
}

static int child_reads(const void *arg)
{
	return access(arg, R_OK) == 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static char fallback[PATH_MAX];

static void fallback_cleanup(void)
{
	if (fallback[0] && !getenv("DAXFS_TEST_KEEP"))
		nftw(fallback, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Does @dir keep POSIX ACLs? A file with an extended ACL there says. */
static bool keeps_acls(const char *dir)
{
	static const unsigned char v[] = {
		2, 0, 0,    0,	  1,	0,    6,    0, 0xff, 0xff, 0xff, 0xff, 2,    0,	   4,
		0, 1, 0,    0,	  0,	4,    0,    4, 0,    0xff, 0xff, 0xff, 0xff, 0x10, 0,
		4, 0, 0xff, 0xff, 0xff, 0xff, 0x20, 0, 0,    0,	   0xff, 0xff, 0xff, 0xff};
	char path[PATH_MAX];
	int fd, rc;

	if (snprintf(path, sizeof(path), "%s/probe", dir) >= (int)sizeof(path))
		return false;
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	if (fd < 0)
		return false;
	close(fd);
	rc = setxattr(path, NS_ACL_XATTR_ACCESS, v, sizeof(v), 0);
	if (rc)
		fprintf(stderr, "%s: setxattr %s: %s\n", dir, NS_ACL_XATTR_ACCESS, strerror(errno));
	unlink(path);
	return rc == 0;
}

int main(int argc, char **argv)
{
	struct caller stranger = {.uid = STRANGER, .gid = 2005};
	struct statfs sfs;
	int fd;

	seed = t_seed(argc, argv, 0xac15eed);
	rs = seed;
	t_watchdog(120, "test-acl-kernel");
	if (geteuid() != 0) {
		printf("SKIP: the kernel oracle needs root (it runs checks as other users)\n");
		return T_SKIP;
	}
	umask(0);
	snprintf(base, sizeof(base), "%s/acl", t_scratch_dir());
	/* Other users must reach the files: the scratch directory is 0700. */
	T_ASSERT(chmod(t_scratch_dir(), 0755) == 0 && mkdir(base, 0755) == 0);
	if (!keeps_acls(base)) {
		snprintf(fallback, sizeof(fallback), "acl-kernel-XXXXXX");
		if (!mkdtemp(fallback))
			T_FAIL("mkdtemp %s: %s", fallback, strerror(errno));
		t_atexit(fallback_cleanup);
		T_ASSERT(chmod(fallback, 0755) == 0);
		T_ASSERT(realpath(fallback, base));
		if (!keeps_acls(base)) {
			printf("SKIP: neither %s nor the current directory keeps POSIX ACLs "
			       "(tmpfs needs CONFIG_TMPFS_POSIX_ACL)\n",
			       t_scratch_dir());
			return T_SKIP;
		}
	}
	T_ASSERT(statfs(base, &sfs) == 0);
	on_tmpfs = sfs.f_type == TMPFS_MAGIC;
	fd = open(P("reach"), O_CREAT | O_WRONLY, 0644);
	T_ASSERT(fd >= 0);
	close(fd);
	if (!run_as(&stranger, child_reads, P("reach"))) {
		printf("SKIP: other users cannot reach %s\n", base);
		return T_SKIP;
	}
	printf("oracle: %s (%s)\n", base, on_tmpfs ? "tmpfs" : "not tmpfs");

	test_parse();
	test_permission();
	test_update_mode();
	test_chmod();
	test_inherit();
	printf("ok\n");
	return 0;
}
