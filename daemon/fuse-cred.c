// SPDX-License-Identifier: MIT
/*
 * Who asks through the mount: the kernel names the caller of each request (uid, gid, pid);
 * its supplementary groups come from /proc (fuse_req_getgroups), read at most once a second
 * per process and kept in a small cache keyed by pid, uid and gid. Root (uid 0) bypasses
 * the permission checks and needs no groups. Root and the daemon's own user may use the
 * reserved blocks and log (NS_CRED_RESERVE), as on the socket (daemon/perm.c).
 *
 * The kernel checks every caller against the attributes it has as well (the mount has
 * default_permissions); the engine's check, under the lock of the change, is the one that
 * counts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuse-int.h"
#include "util.h"

#define GROUPS_TTL_NS 1000000000ULL

struct fcred_slot {
	pid_t pid;
	uint32_t uid, gid;
	uint64_t at; /* mono_ns when read; 0: empty */
	uint32_t ngroups;
	uint32_t groups[FM_GROUPS_INLINE];
};

int fcreds_init(struct fmount *m)
{
	m->creds = calloc(FM_CRED_SLOTS, sizeof(*m->creds));
	if (!m->creds)
		return -ENOMEM;
	pthread_mutex_init(&m->cred_lock, NULL);
	return 0;
}

void fcreds_fini(struct fmount *m)
{
	if (!m->creds)
		return;
	free(m->creds);
	m->creds = NULL;
	pthread_mutex_destroy(&m->cred_lock);
}

static void set_groups(struct fcred *c, const uint32_t *g, uint32_t n)
{
	if (g && n <= FM_GROUPS_INLINE) {
		memcpy(c->inline_groups, g, n * sizeof(*g));
		c->ns.groups = c->inline_groups;
	} else {
		c->ns.groups = c->heap_groups; /* filled by the caller */
	}
	c->ns.ngroups = n;
}

/* cached - the groups of (pid, uid, gid) read less than GROUPS_TTL_NS ago, into @c. */
static bool cached(struct fmount *m, pid_t pid, uint32_t uid, uint32_t gid, struct fcred *c)
{
	struct fcred_slot *s = &m->creds[(unsigned)pid % FM_CRED_SLOTS];
	bool hit;

	pthread_mutex_lock(&m->cred_lock);
	hit = s->at && s->pid == pid && s->uid == uid && s->gid == gid &&
	      mono_ns() - s->at < GROUPS_TTL_NS;
	if (hit)
		set_groups(c, s->groups, s->ngroups);
	pthread_mutex_unlock(&m->cred_lock);
	return hit;
}

static void remember(struct fmount *m, pid_t pid, uint32_t uid, uint32_t gid, const uint32_t *g,
		     uint32_t n)
{
	struct fcred_slot *s = &m->creds[(unsigned)pid % FM_CRED_SLOTS];

	if (n > FM_GROUPS_INLINE)
		return;
	pthread_mutex_lock(&m->cred_lock);
	*s = (struct fcred_slot){pid, uid, gid, mono_ns(), n, {0}};
	memcpy(s->groups, g, n * sizeof(*g));
	pthread_mutex_unlock(&m->cred_lock);
}

int fcred_of_req(struct fmount *m, fuse_req_t req, struct fcred *c)
{
	const struct fuse_ctx *x = fuse_req_ctx(req);
	gid_t g[FM_GROUPS_INLINE];
	int n;

	memset(&c->ns, 0, sizeof(c->ns));
	c->heap_groups = NULL;
	c->ns.uid = x->uid;
	c->ns.gid = x->gid;
	c->ns.origin = m;
	c->ns.groups = c->inline_groups;
	if (x->uid == 0)
		c->ns.flags |= NS_CRED_SUPER;
	if (x->uid == 0 || x->uid == geteuid())
		c->ns.flags |= NS_CRED_RESERVE;
	if (x->uid == 0 || cached(m, x->pid, x->uid, x->gid, c))
		return 0;
	n = fuse_req_getgroups(req, FM_GROUPS_INLINE, g);
	if (n < 0)
		return 0; /* the caller is gone, or no /proc: its primary group only */
	if (n > FM_GROUPS_INLINE) {
		gid_t *big = calloc((size_t)n, sizeof(*big));
		int got;

		if (!big)
			return -ENOMEM;
		got = fuse_req_getgroups(req, n, big);
		if (got < 0 || got > n) {
			free(big);
			return 0;
		}
		c->heap_groups = (uint32_t *)big; /* gid_t is uint32_t on Linux */
		set_groups(c, NULL, (uint32_t)got);
		return 0;
	}
	set_groups(c, (const uint32_t *)g, (uint32_t)n);
	remember(m, x->pid, x->uid, x->gid, (const uint32_t *)g, (uint32_t)n);
	return 0;
}

int fcred_copy(struct fcred *dst, const struct fcred *src)
{
	*dst = *src;
	dst->heap_groups = NULL;
	if (src->ns.ngroups <= FM_GROUPS_INLINE) {
		memcpy(dst->inline_groups, src->ns.groups, src->ns.ngroups * sizeof(uint32_t));
		dst->ns.groups = dst->inline_groups;
		return 0;
	}
	dst->heap_groups = malloc(src->ns.ngroups * sizeof(uint32_t));
	if (!dst->heap_groups)
		return -ENOMEM;
	memcpy(dst->heap_groups, src->ns.groups, src->ns.ngroups * sizeof(uint32_t));
	dst->ns.groups = dst->heap_groups;
	return 0;
}

void fcred_release(struct fcred *c)
{
	free(c->heap_groups);
	c->heap_groups = NULL;
	c->ns.groups = c->inline_groups;
	c->ns.ngroups = 0;
}
