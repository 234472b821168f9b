// SPDX-License-Identifier: MIT
/*
 * The inode and directory-entry tables (RCU hash tables), inode references and attributes.
 * Inodes and entries are published and unpublished only by nsapply.c, under the locks of
 * the records that add or remove them, and freed after a grace period, so a reader under
 * RCU always finds a whole object (DESIGN §4).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nsint.h"
#include "util.h"

/* --- hash tables --- */

static unsigned long hash_ino(uint64_t ino)
{
	return (unsigned long)checksum64(&ino, sizeof(ino), 0x6461786673ULL);
}

static unsigned long hash_name(uint64_t dir, const char *name, size_t len)
{
	return (unsigned long)checksum64(name, len, dir);
}

/*
 * The tables publish and look up inside liburcu-cds, which ThreadSanitizer does not see:
 * the adder's release and the matcher's acquire on the object say what its rcu_assign_pointer
 * and rcu_dereference do (shared/notes/tsan-and-rcu.md).
 */
static int match_ino(struct cds_lfht_node *node, const void *key)
{
	const struct ns_inode *in = caa_container_of(node, struct ns_inode, hnode);

	RCU_TSAN_ACQUIRE(in);
	return in->ino == *(const uint64_t *)key;
}

struct name_key {
	uint64_t dir;
	const char *name;
	size_t len;
};

static int match_name(struct cds_lfht_node *node, const void *key)
{
	const struct ns_dirent *d = caa_container_of(node, struct ns_dirent, hnode);
	const struct name_key *k = key;

	RCU_TSAN_ACQUIRE(d);
	return d->dir == k->dir && d->name_len == k->len && memcmp(d->name, k->name, k->len) == 0;
}

int ns_tables_new(struct ns *ns)
{
	ns->inodes = cds_lfht_new_flavor(1024, 1024, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
					 &urcu_memb_flavor, NULL);
	ns->dirents = cds_lfht_new_flavor(1024, 1024, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
					  &urcu_memb_flavor, NULL);
	return ns->inodes && ns->dirents ? 0 : -ENOMEM;
}

void ns_tables_free(struct ns *ns)
{
	struct cds_lfht_iter it;
	struct ns_dirent *d;
	struct ns_inode *in;

	/*
	 * Unlinked nodes may still be walked by the table's own resize and cleanup until a
	 * grace period has passed: they are freed through rcu_defer like any other.
	 */
	rcu_read_begin();
	if (ns->dirents) {
		cds_lfht_for_each_entry (ns->dirents, &it, d, hnode) {
			cds_lfht_del(ns->dirents, &d->hnode);
			ns_dirent_free(d);
		}
	}
	if (ns->inodes) {
		cds_lfht_for_each_entry (ns->inodes, &it, in, hnode) {
			cds_lfht_del(ns->inodes, &in->hnode);
			ns_inode_free(ns, in);
		}
	}
	rcu_read_end();
	if (ns->dirents)
		cds_lfht_destroy(ns->dirents, NULL);
	if (ns->inodes)
		cds_lfht_destroy(ns->inodes, NULL);
	ns->dirents = NULL;
	ns->inodes = NULL;
}

struct ns_inode *ns_inode_find(struct ns *ns, uint64_t ino)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	cds_lfht_lookup(ns->inodes, hash_ino(ino), match_ino, &ino, &it);
	node = cds_lfht_iter_get_node(&it);
	return node ? caa_container_of(node, struct ns_inode, hnode) : NULL;
}

bool ns_inode_tryget(struct ns_inode *in)
{
	uint32_t refs = __atomic_load_n(&in->refs, __ATOMIC_ACQUIRE);

	do {
		if (refs == 0)
			return false;
	} while (!__atomic_compare_exchange_n(&in->refs, &refs, refs + 1, false, __ATOMIC_ACQ_REL,
					      __ATOMIC_ACQUIRE));
	return true;
}

struct ns_inode *ns_inode_get(struct ns *ns, uint64_t ino)
{
	struct ns_inode *in;

	rcu_read_begin();
	in = ns_inode_find(ns, ino);
	if (in && !ns_inode_tryget(in))
		in = NULL;
	rcu_read_end();
	return in;
}

void ns_inode_put(struct ns *ns, struct ns_inode *in)
{
	if (in && __atomic_sub_fetch(&in->refs, 1, __ATOMIC_ACQ_REL) == 0)
		ns_inode_free(ns, in);
}

struct ns_dirent *ns_dirent_find(struct ns *ns, uint64_t dir, const char *name, size_t len)
{
	struct name_key key = {dir, name, len};
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	cds_lfht_lookup(ns->dirents, hash_name(dir, name, len), match_name, &key, &it);
	node = cds_lfht_iter_get_node(&it);
	return node ? caa_container_of(node, struct ns_dirent, hnode) : NULL;
}

struct ns_inode *ns_inode_new(const struct fmt_inode *fi)
{
	struct ns_inode *in = calloc(1, sizeof(*in));

	if (!in)
		return NULL;
	in->ino = fi->ino;
	in->type = fi->mode & S_IFMT;
	in->refs = 1; /* the table's */
	pthread_mutex_init(&in->lock, NULL);
	pthread_mutex_init(&in->attr_lock, NULL);
	pthread_mutex_init(&in->wait_lock, NULL);
	bm_init(&in->map);
	CDS_INIT_LIST_HEAD(&in->grants);
	CDS_INIT_LIST_HEAD(&in->waiters);
	in->mode = fi->mode;
	return in;
}

void ns_table_add_inode(struct ns *ns, struct ns_inode *in)
{
	RCU_TSAN_RELEASE(in);
	cds_lfht_add(ns->inodes, hash_ino(in->ino), &in->hnode);
	shard_add(&ns->nr_inodes, 1);
}

void ns_table_del_inode(struct ns *ns, struct ns_inode *in)
{
	cds_lfht_del(ns->inodes, &in->hnode);
	shard_add(&ns->nr_inodes, -1);
}

void ns_table_add_dirent(struct ns *ns, struct ns_dirent *d)
{
	RCU_TSAN_RELEASE(d);
	cds_lfht_add(ns->dirents, hash_name(d->dir, d->name, d->name_len), &d->hnode);
}

void ns_table_del_dirent(struct ns *ns, struct ns_dirent *d)
{
	cds_lfht_del(ns->dirents, &d->hnode);
}

static void inode_free_cb(struct rcu_head *head)
{
	struct ns_inode *in;

	rcu_cb_begin(head);
	in = caa_container_of(head, struct ns_inode, rcu);
	/*
	 * Only now: an rmap reader that found @in under RCU (poison_handle) may lock its table
	 * until its read section ends, so the table and its lock live as long as @in (DESIGN §4).
	 */
	xt_destroy(&in->map);
	free(in->link);
	ns_xattrs_destroy(in->xattrs);
	if (in->xbuild)
		free(in->xbuild->value);
	free(in->xbuild);
	pthread_mutex_destroy(&in->lock);
	pthread_mutex_destroy(&in->attr_lock);
	pthread_mutex_destroy(&in->wait_lock);
	free(in);
}

void ns_inode_free(struct ns *ns, struct ns_inode *in)
{
	(void)ns;
	rcu_defer_free(&in->rcu, inode_free_cb);
}

static void dirent_free_cb(struct rcu_head *head)
{
	rcu_cb_begin(head);
	free(caa_container_of(head, struct ns_dirent, rcu));
}

void ns_dirent_free(struct ns_dirent *d)
{
	rcu_defer_free(&d->rcu, dirent_free_cb);
}

/* --- attributes --- */

uint64_t ns_inode_size(struct ns_inode *in)
{
	uint64_t size;

	pthread_mutex_lock(&in->attr_lock);
	size = in->size;
	pthread_mutex_unlock(&in->attr_lock);
	return size;
}

void ns_fill_attr(struct ns_inode *in, struct ns_attr *out)
{
	pthread_mutex_lock(&in->attr_lock);
	out->ino = in->ino;
	out->mode = in->mode;
	out->uid = in->uid;
	out->gid = in->gid;
	out->nlink = in->nlink;
	out->size = in->size;
	out->rdev = in->rdev;
	out->blocks = in->blocks;
	out->atime = in->atime;
	out->mtime = in->mtime;
	out->ctime = in->ctime;
	pthread_mutex_unlock(&in->attr_lock);
}

void ns_inode_rec(struct ns_inode *in, struct fmt_inode *fi)
{
	memset(fi, 0, sizeof(*fi));
	fi->ino = in->ino;
	fi->parent = in->parent;
	fi->mode = in->mode;
	fi->uid = in->uid;
	fi->gid = in->gid;
	fi->nlink = in->nlink;
	fi->size = in->size;
	fi->rdev = in->rdev;
	fi->atime = in->atime;
	fi->mtime = in->mtime;
	fi->ctime = in->ctime;
}

uint32_t ns_seq_begin(const struct ns_inode *in)
{
	unsigned spins = 0;
	uint32_t seq;

	/* An apply is short work in memory: spin, yielding now and then. */
	while ((seq = __atomic_load_n(&in->seq, __ATOMIC_ACQUIRE)) & 1) {
		if (++spins % 64 == 0)
			sched_yield();
	}
	return seq;
}

void ns_inode_rec_now(struct ns_inode *in, struct fmt_inode *fi)
{
	pthread_mutex_lock(&in->attr_lock);
	ns_inode_rec(in, fi);
	in->attr_dirty = false;
	pthread_mutex_unlock(&in->attr_lock);
}

/* --- extended attributes (the immutable sets; xattr.c changes them) --- */

void ns_xattrs_destroy(struct ns_xattrs *x)
{
	if (!x)
		return;
	for (uint32_t i = 0; i < x->n; i++) {
		free(x->v[i].name);
		free(x->v[i].value);
	}
	free(x->acl_access);
	free(x->acl_default);
	free(x);
}

static void xattrs_free_cb(struct rcu_head *head)
{
	rcu_cb_begin(head);
	ns_xattrs_destroy(caa_container_of(head, struct ns_xattrs, rcu));
}

void ns_xattrs_free(struct ns_xattrs *x)
{
	if (x)
		rcu_defer_free(&x->rcu, xattrs_free_cb);
}

struct ns_xattrs *ns_inode_xattrs(struct ns_inode *in)
{
	return rcu_fetch(in->xattrs);
}
