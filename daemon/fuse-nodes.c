// SPDX-License-Identifier: MIT
/*
 * The handles of the FUSE frontend: the files the kernel has open through the mount.
 *
 * Each handle is an open of its inode in the engine (ns_open): a file unlinked (or renamed
 * over) while open stays, as an orphan without a name, until its last close removes it
 * (ns_close, ns_remove_orphan), or until the mount stops (fnodes_fini). Nothing shows in
 * any directory meanwhile, and a crash leaves it to the next mount to remove.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fuse-int.h"
#include "log.h"

int fnodes_init(struct fmount *m)
{
	pthread_mutex_init(&m->nodes_lock, NULL);
	return 0;
}

void fh_close_inode(struct fmount *m, uint64_t ino)
{
	struct ns_ctx c;
	int rc;

	ns_ctx_init(&c, &m->trusted.ns);
	rc = ns_close(m->ns, &c, ino);
	if (rc == 1)
		rc = ns_remove_orphan(m->ns, &c, ino);
	ns_ctx_release(m->ns, &c);
	if (rc < 0 && rc != -ENOENT)
		log_warn("fuse: inode %" PRIu64 " (unlinked while open) could not be removed at "
			 "its last close: %s; the next mount removes it",
			 ino, strerror(-rc));
}

void fnodes_fini(struct fmount *m)
{
	/* The kernel's connection is gone: what it had open is closed now. */
	while (m->handles) {
		struct fh *h = m->handles;

		m->handles = h->next;
		fh_close_inode(m, h->ino);
		fcred_release(&h->cred);
		free(h);
	}
	pthread_mutex_destroy(&m->nodes_lock);
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
