// SPDX-License-Identifier: MIT
/*
 * The node table of the FUSE frontend: the files the kernel has open through the mount.
 *
 * The engine names files by inode number, as FUSE does, so the mount keeps no paths. What
 * it keeps is who has a file open: the engine frees a file's blocks when its last name goes,
 * so a file unlinked (or renamed over) while open is renamed to a hidden name in its
 * directory instead, and the name is removed at its last close (fnode_close), or when the
 * mount stops (fnodes_fini). Hidden names never show through the mount.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse-int.h"
#include "log.h"

static size_t bucket(const struct fmount *m, uint64_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ULL) >> 20) & (m->nbuckets - 1);
}

/* find - Locking: nodes_lock. */
static struct fnode *find(struct fmount *m, uint64_t ino)
{
	struct fnode *n = m->buckets[bucket(m, ino)];

	while (n && n->ino != ino)
		n = n->next;
	return n;
}

/* grow - double the buckets when the table is full (a failure leaves longer chains). */
static void grow(struct fmount *m)
{
	size_t nb = m->nbuckets * 2, old = m->nbuckets;
	struct fnode **b = calloc(nb, sizeof(*b)), **ob = m->buckets;

	if (!b)
		return;
	m->buckets = b;
	m->nbuckets = nb;
	for (size_t i = 0; i < old; i++) {
		while (ob[i]) {
			struct fnode *n = ob[i];
			size_t h = bucket(m, n->ino);

			ob[i] = n->next;
			n->next = b[h];
			b[h] = n;
		}
	}
	free(ob);
}

static void unlink_node(struct fmount *m, struct fnode *n)
{
	struct fnode **pp = &m->buckets[bucket(m, n->ino)];

	while (*pp != n)
		pp = &(*pp)->next;
	*pp = n->next;
	m->nnodes--;
	free(n);
}

int fnodes_init(struct fmount *m)
{
	pthread_mutex_init(&m->nodes_lock, NULL);
	m->nbuckets = 256;
	m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
	if (!m->buckets) {
		pthread_mutex_destroy(&m->nodes_lock);
		return -ENOMEM;
	}
	return 0;
}

void fnodes_fini(struct fmount *m)
{
	if (!m->buckets)
		return;
	/* The kernel's connection is gone: what it had open is closed now. */
	while (m->handles) {
		struct fh *h = m->handles;

		m->handles = h->next;
		fcred_release(&h->cred);
		free(h);
	}
	for (size_t i = 0; i < m->nbuckets; i++) {
		while (m->buckets[i]) {
			struct fnode *n = m->buckets[i];
			struct ns_ctx c;
			int rc;

			m->buckets[i] = n->next;
			if (n->hidden) {
				ns_ctx_init(&c, &m->trusted.ns);
				rc = ns_unlink(m->ns, &c, n->hdir, n->hname);
				ns_ctx_release(m->ns, &c);
				if (rc && rc != -ENOENT)
					log_warn("fuse: cannot remove %s (inode %" PRIu64
						 ", unlinked while open) in directory %" PRIu64
						 ": %s; remove it by hand",
						 n->hname, n->ino, n->hdir, strerror(-rc));
			}
			free(n);
		}
	}
	free(m->buckets);
	m->buckets = NULL;
	pthread_mutex_destroy(&m->nodes_lock);
}

struct fnode *fnode_open(struct fmount *m, uint64_t ino)
{
	struct fnode *n;

	pthread_mutex_lock(&m->nodes_lock);
	n = find(m, ino);
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (n) {
			if (m->nnodes >= m->nbuckets)
				grow(m);
			n->ino = ino;
			n->next = m->buckets[bucket(m, ino)];
			m->buckets[bucket(m, ino)] = n;
			m->nnodes++;
		}
	}
	if (n)
		n->opens++;
	pthread_mutex_unlock(&m->nodes_lock);
	return n;
}

bool fnode_is_open(struct fmount *m, uint64_t ino)
{
	bool open;

	pthread_mutex_lock(&m->nodes_lock);
	open = find(m, ino) != NULL;
	pthread_mutex_unlock(&m->nodes_lock);
	return open;
}

void fnode_hidden_name(struct fmount *m, uint64_t ino, char *out)
{
	uint64_t seq;

	pthread_mutex_lock(&m->nodes_lock);
	seq = ++m->hidden_seq;
	pthread_mutex_unlock(&m->nodes_lock);
	snprintf(out, 64, FM_HIDDEN_PREFIX "%" PRIu64 ".%" PRIu64, ino, seq);
}

bool fnode_hide(struct fmount *m, uint64_t ino, uint64_t dir, const char *hname)
{
	struct fnode *n;
	bool open;

	pthread_mutex_lock(&m->nodes_lock);
	n = find(m, ino);
	open = n != NULL;
	if (n) {
		/* Hidden twice (a hidden file renamed over): the older name is the one kept. */
		if (!n->hidden) {
			n->hidden = true;
			n->hdir = dir;
			snprintf(n->hname, sizeof(n->hname), "%s", hname);
		}
	}
	pthread_mutex_unlock(&m->nodes_lock);
	return open;
}

bool fnode_close(struct fmount *m, struct fnode *n, uint64_t *dir, char *hname)
{
	bool last_hidden = false;

	pthread_mutex_lock(&m->nodes_lock);
	if (--n->opens == 0) {
		last_hidden = n->hidden;
		if (last_hidden) {
			*dir = n->hdir;
			memcpy(hname, n->hname, sizeof(n->hname));
		}
		unlink_node(m, n);
	}
	pthread_mutex_unlock(&m->nodes_lock);
	return last_hidden;
}

bool fnode_hidden_under(struct fmount *m, uint64_t dir)
{
	bool found = false;

	pthread_mutex_lock(&m->nodes_lock);
	for (size_t i = 0; i < m->nbuckets && !found; i++) {
		for (struct fnode *n = m->buckets[i]; n && !found; n = n->next)
			found = n->hidden && n->hdir == dir;
	}
	pthread_mutex_unlock(&m->nodes_lock);
	return found;
}

bool fnode_is_hidden_name(const char *name)
{
	return strncmp(name, FM_HIDDEN_PREFIX, sizeof(FM_HIDDEN_PREFIX) - 1) == 0;
}

void fh_track(struct fmount *m, struct fh *h)
{
	pthread_mutex_lock(&m->nodes_lock);
	h->prev = NULL;
	h->next = m->handles;
	if (h->next)
		h->next->prev = h;
	m->handles = h;
	pthread_mutex_unlock(&m->nodes_lock);
}

void fh_untrack(struct fmount *m, struct fh *h)
{
	pthread_mutex_lock(&m->nodes_lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		m->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&m->nodes_lock);
}
