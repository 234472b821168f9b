// SPDX-License-Identifier: MIT
/*
 * daxfs mount: the FUSE low-level operations, on libdaxfs (docs/fuse.md).
 *
 * Every operation finds the node of its inode, builds the node's path under mnt->ns_lock
 * (read side) and sends one or a few libdaxfs requests on the session of the caller's
 * identity. I/O goes by inode number on the session the file was opened with, so a file
 * handle keeps the permissions it was opened with, as POSIX wants.
 */
/* FUSE_MAKE_VERSION(3, 12): fuse_loop_cfg_* and the loop that reads them (docs/fuse.md) */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <daxfs/daxfs.h>

#include "mount.h"

#define PATH_LEN 4096 /* docs/protocol.md: a path with its NUL */
#define BLOCK 4096ULL
#define MNT_IDENTS_MAX 64 /* other callers' sessions at most (impersonate) */

/* An open regular file. */
struct fh {
	struct fh *prev, *next; /* mnt->open_files, under mnt->lock */
	struct mnt_node *node;
	struct daxfs *fs;      /* the session of the identity that opened it */
	struct daxfs_map *map; /* read grant for events, or NULL */
	bool append;
	pthread_mutex_t append_lock;
};

/* An open directory: its listing, read once at opendir. */
struct dirent_snap {
	char *name;
	uint64_t ino;
	uint32_t mode;
};

struct dh {
	struct dh *prev, *next; /* mnt->open_dirs, under mnt->lock */
	struct dirent_snap *v;
	size_t n, cap;
	struct daxfs *fs;
};

static struct mnt *req_mnt(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* errno for a failed libdaxfs call: a lost session reads as EIO to programs. */
static int fail(struct mnt *m, int rc)
{
	int err = -rc;

	if (err == ECONNRESET || err == ETIMEDOUT || err == EPROTO) {
		if (__atomic_fetch_add(&m->lost, 1, __ATOMIC_RELAXED) == 0)
			fprintf(stderr, "daxfs mount: the session with daxfsd is gone (%s: %s)\n",
				strerror(err), daxfs_errormsg());
		return EIO;
	}
	return err > 0 ? err : EIO;
}

/* --- the node table --- */

static size_t hash_ino(const struct mnt *m, uint64_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ULL) >> 20) & (m->nbuckets - 1);
}

/* node_find - Locking: mnt->lock. */
static struct mnt_node *node_find(struct mnt *m, uint64_t ino)
{
	struct mnt_node *n = m->buckets[hash_ino(m, ino)];

	while (n && n->ino != ino)
		n = n->next;
	return n;
}

/* grow - double the buckets when the table gets full. Locking: mnt->lock. */
static void grow(struct mnt *m)
{
	size_t nb = m->nbuckets * 2, old = m->nbuckets;
	struct mnt_node **b = calloc(nb, sizeof(*b)), **ob = m->buckets;

	if (!b)
		return; /* longer chains, still correct */
	m->buckets = b;
	m->nbuckets = nb;
	for (size_t i = 0; i < old; i++) {
		while (ob[i]) {
			struct mnt_node *n = ob[i];
			size_t h = hash_ino(m, n->ino);

			ob[i] = n->next;
			n->next = b[h];
			b[h] = n;
		}
	}
	free(ob);
}

/* set_parent - move @n under @parent as @name (NULL, NULL: unlinked). Locking: mnt->lock. */
static int set_parent(struct mnt_node *n, struct mnt_node *parent, const char *name)
{
	char *copy = NULL;

	if (name) {
		copy = strdup(name);
		if (!copy)
			return -ENOMEM;
	}
	if (parent)
		parent->kids++;
	if (n->parent)
		n->parent->kids--; /* the old parent is released by the caller's node_release */
	n->parent = parent;
	free(n->name);
	n->name = copy;
	return 0;
}

static void node_maybe_free(struct mnt *m, struct mnt_node *n);

/* node_release - after a counter of @n dropped: free it, and its parents, when unused. */
static void node_release(struct mnt *m, struct mnt_node *n)
{
	node_maybe_free(m, n);
}

static void node_maybe_free(struct mnt *m, struct mnt_node *n)
{
	while (n && n->ino != FUSE_ROOT_ID && !n->nlookup && !n->kids && !n->opens) {
		struct mnt_node **pp = &m->buckets[hash_ino(m, n->ino)], *parent = n->parent;

		while (*pp != n)
			pp = &(*pp)->next;
		*pp = n->next;
		if (parent)
			parent->kids--;
		m->nnodes--;
		free(n->name);
		free(n);
		n = parent;
	}
}

/*
 * node_get - the node of @ino, created when new, placed under @parent as @name (the
 * daemon's answer wins over what the table remembered), with one more kernel reference.
 * Locking: takes mnt->lock.
 * Return: the node, or NULL (no memory).
 */
static struct mnt_node *node_get(struct mnt *m, uint64_t ino, uint64_t parent, const char *name)
{
	struct mnt_node *n, *p, *oldp;

	pthread_mutex_lock(&m->lock);
	p = node_find(m, parent);
	n = node_find(m, ino);
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n)
			goto out;
		n->ino = ino;
		if (m->nnodes >= m->nbuckets)
			grow(m);
		n->next = m->buckets[hash_ino(m, ino)];
		m->buckets[hash_ino(m, ino)] = n;
		m->nnodes++;
	}
	oldp = n->parent;
	if (p && (n->parent != p || !n->name || strcmp(n->name, name) != 0)) {
		if (set_parent(n, p, name) < 0 && !n->nlookup) {
			node_maybe_free(m, n);
			n = NULL;
			goto out;
		}
		node_release(m, oldp);
	}
	n->nlookup++;
out:
	pthread_mutex_unlock(&m->lock);
	return n;
}

/*
 * path_of - the absolute daxfs path of @n into @buf (PATH_LEN).
 * Locking: mnt->lock.
 * Return: 0; -ENOENT (unlinked), -ENAMETOOLONG.
 */
static int path_of(struct mnt_node *n, char *buf)
{
	size_t at = PATH_LEN - 1;

	buf[at] = '\0';
	if (n->ino == FUSE_ROOT_ID) {
		strcpy(buf, "/");
		return 0;
	}
	for (; n->ino != FUSE_ROOT_ID; n = n->parent) {
		size_t l;

		if (!n->parent || !n->name)
			return -ENOENT;
		l = strlen(n->name);
		if (l + 1 > at)
			return -ENAMETOOLONG;
		at -= l;
		memcpy(buf + at, n->name, l);
		buf[--at] = '/';
	}
	memmove(buf, buf + at, PATH_LEN - at);
	return 0;
}

/* ino_path - the path of inode @ino (+ "/" @name when not NULL). Locking: takes mnt->lock. */
static int ino_path(struct mnt *m, uint64_t ino, const char *name, char *buf)
{
	struct mnt_node *n;
	int rc;

	pthread_mutex_lock(&m->lock);
	n = node_find(m, ino);
	rc = n ? path_of(n, buf) : -ESTALE;
	pthread_mutex_unlock(&m->lock);
	if (rc == 0 && name) {
		size_t l = strlen(buf), nl = strlen(name);

		if (l + (l > 1) + nl + 1 > PATH_LEN)
			return -ENAMETOOLONG;
		if (l > 1)
			buf[l++] = '/';
		memcpy(buf + l, name, nl + 1); /* the length was checked above */
	}
	return rc;
}

static bool is_hidden(const char *name)
{
	return strncmp(name, MNT_HIDDEN_PREFIX, strlen(MNT_HIDDEN_PREFIX)) == 0;
}

int mnt_nodes_init(struct mnt *m)
{
	struct mnt_node *root;

	m->nbuckets = 1024;
	m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
	root = calloc(1, sizeof(*root));
	if (!m->buckets || !root) {
		free(m->buckets);
		free(root);
		m->buckets = NULL;
		return -ENOMEM;
	}
	root->ino = FUSE_ROOT_ID;
	root->nlookup = 1;
	m->buckets[hash_ino(m, root->ino)] = root;
	m->nnodes = 1;
	return 0;
}

void mnt_nodes_fini(struct mnt *m)
{
	for (size_t i = 0; m->buckets && i < m->nbuckets; i++) {
		while (m->buckets[i]) {
			struct mnt_node *n = m->buckets[i];

			m->buckets[i] = n->next;
			free(n->name);
			free(n);
		}
	}
	free(m->buckets);
	m->buckets = NULL;
}

/* --- identities --- */

/*
 * open_as - a session with the daemon that has the credentials @uid/@gid/@groups.
 * The daemon takes identity from SO_PEERCRED at connect, so this thread switches its own
 * effective ids for the connect (raw syscalls change the calling thread only; glibc's
 * wrappers would change every thread) and back. Only root can; if switching back fails
 * the thread would go on with a stranger's identity, so the process aborts.
 */
static int open_as(struct mnt *m, uid_t uid, gid_t gid, const gid_t *groups, int ngroups,
		   struct daxfs **out)
{
	int rc;

	if (syscall(SYS_setgroups, (size_t)ngroups, groups) < 0)
		return -errno;
	if (syscall(SYS_setresgid, -1, gid, -1) < 0) {
		rc = -errno;
		goto restore;
	}
	if (syscall(SYS_setresuid, -1, uid, -1) < 0) {
		rc = -errno;
		goto restore;
	}
	rc = daxfs_open(out, m->socket_path);
restore:
	if (syscall(SYS_setresuid, -1, m->uid, -1) < 0 ||
	    syscall(SYS_setresgid, -1, m->gid, -1) < 0 ||
	    syscall(SYS_setgroups, (size_t)m->ngroups, m->groups) < 0) {
		fprintf(stderr, "daxfs mount: cannot return to the mount's own identity: %s\n",
			strerror(errno));
		abort();
	}
	return rc;
}

/*
 * req_fs - the session for the caller of @req: the mount's own, or (impersonate) one
 * opened with the caller's uid, gid and supplementary groups, kept for the mount's life.
 * Return: 0 and *@out, or a negative errno.
 */
static int req_fs(struct mnt *m, fuse_req_t req, struct daxfs **out)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	struct mnt_ident *id;
	gid_t groups[256];
	int ngroups, rc;

	if (!m->impersonate || (c->uid == m->uid && c->gid == m->gid)) {
		*out = m->self.fs;
		return 0;
	}
	pthread_mutex_lock(&m->ident_lock);
	for (id = m->idents; id; id = id->next) {
		if (id->uid == c->uid && id->gid == c->gid)
			break;
	}
	if (id) {
		*out = id->fs;
		pthread_mutex_unlock(&m->ident_lock);
		return 0;
	}
	if (m->nidents >= MNT_IDENTS_MAX) {
		pthread_mutex_unlock(&m->ident_lock);
		fprintf(stderr,
			"daxfs mount: more than %d identities use the mount; uid %u refused\n",
			MNT_IDENTS_MAX, (unsigned)c->uid);
		return -EUSERS;
	}
	ngroups = fuse_req_getgroups(req, (int)(sizeof(groups) / sizeof(groups[0])), groups);
	if (ngroups < 0 || ngroups > (int)(sizeof(groups) / sizeof(groups[0])))
		ngroups = 0; /* the caller is gone or has too many: primary group only */
	id = calloc(1, sizeof(*id));
	if (!id) {
		pthread_mutex_unlock(&m->ident_lock);
		return -ENOMEM;
	}
	rc = open_as(m, c->uid, c->gid, groups, ngroups, &id->fs);
	if (rc < 0) {
		pthread_mutex_unlock(&m->ident_lock);
		fprintf(stderr, "daxfs mount: cannot open a session as uid %u gid %u: %s\n",
			(unsigned)c->uid, (unsigned)c->gid, strerror(-rc));
		free(id);
		return rc;
	}
	id->uid = c->uid;
	id->gid = c->gid;
	id->next = m->idents;
	m->idents = id;
	m->nidents++;
	*out = id->fs;
	pthread_mutex_unlock(&m->ident_lock);
	return 0;
}

/*
 * name_begin - the start of a request about entry @name: our hidden names are refused
 * with @hidden_err, then the caller's session is taken.
 * Return: true and *@fs; false when the request has been answered with the error.
 */
static bool name_begin(struct mnt *m, fuse_req_t req, const char *name, int hidden_err,
		       struct daxfs **fs)
{
	int rc;

	if (is_hidden(name)) {
		fuse_reply_err(req, hidden_err);
		return false;
	}
	rc = req_fs(m, req, fs);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return false;
	}
	return true;
}

void mnt_idents_fini(struct mnt *m)
{
	while (m->idents) {
		struct mnt_ident *id = m->idents;

		m->idents = id->next;
		daxfs_close(id->fs);
		free(id);
	}
	m->nidents = 0;
}

/* --- attributes --- */

static void to_stat(const struct daxfs_stat *d, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = d->ino;
	st->st_mode = d->mode;
	st->st_nlink = d->nlink;
	st->st_uid = d->uid;
	st->st_gid = d->gid;
	st->st_size = (off_t)d->size;
	st->st_blocks = (blkcnt_t)(d->blocks * (BLOCK / 512));
	st->st_blksize = BLOCK;
	st->st_atim.tv_sec = d->atime_ns / 1000000000;
	st->st_atim.tv_nsec = d->atime_ns % 1000000000;
	st->st_mtim.tv_sec = d->mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = d->mtime_ns % 1000000000;
	st->st_ctim.tv_sec = d->ctime_ns / 1000000000;
	st->st_ctim.tv_nsec = d->ctime_ns % 1000000000;
}

static void forget_one(struct mnt *m, fuse_ino_t ino, uint64_t nlookup);

/* reply_entry - a new kernel reference to @st's inode, now named @name under @parent. */
static void reply_entry(struct mnt *m, fuse_req_t req, fuse_ino_t parent, const char *name,
			const struct daxfs_stat *st)
{
	struct fuse_entry_param e = {0};

	if (!node_get(m, st->ino, parent, name)) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	e.ino = st->ino;
	e.attr_timeout = m->attr_timeout;
	e.entry_timeout = m->entry_timeout;
	to_stat(st, &e.attr);
	if (fuse_reply_entry(req, &e) == -ENOENT) {
		/* The caller was interrupted: the kernel never took the reference. */
		pthread_mutex_lock(&m->lock);
		forget_one(m, st->ino, 1);
		pthread_mutex_unlock(&m->lock);
	}
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mnt *m = req_mnt(req);
	char path[PATH_LEN];
	struct daxfs_stat st;
	struct daxfs *fs;
	int rc;

	if (!name_begin(m, req, name, ENOENT, &fs))
		return;
	pthread_rwlock_rdlock(&m->ns_lock);
	rc = ino_path(m, parent, name, path);
	if (rc == 0)
		rc = daxfs_stat(fs, path, &st);
	if (rc == 0)
		reply_entry(m, req, parent, name, &st);
	pthread_rwlock_unlock(&m->ns_lock);
	if (rc < 0)
		fuse_reply_err(req, fail(m, rc));
}

/* forget_one - the kernel dropped @nlookup references. Locking: mnt->lock. */
static void forget_one(struct mnt *m, fuse_ino_t ino, uint64_t nlookup)
{
	struct mnt_node *n = node_find(m, ino);

	if (!n)
		return;
	n->nlookup = nlookup > n->nlookup ? 0 : n->nlookup - nlookup;
	node_release(m, n);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct mnt *m = req_mnt(req);

	pthread_mutex_lock(&m->lock);
	forget_one(m, ino, nlookup);
	pthread_mutex_unlock(&m->lock);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct mnt *m = req_mnt(req);

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < count; i++)
		forget_one(m, forgets[i].ino, forgets[i].nlookup);
	pthread_mutex_unlock(&m->lock);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mnt *m = req_mnt(req);
	struct daxfs_stat st;
	struct stat s;
	struct daxfs *fs;
	int rc;

	if (fi)
		fs = ((struct fh *)(uintptr_t)fi->fh)->fs;
	else if ((rc = req_fs(m, req, &fs)) < 0)
		goto err;
	rc = daxfs_getattr(fs, ino, &st);
	if (rc < 0)
		goto err;
	to_stat(&st, &s);
	fuse_reply_attr(req, &s, m->attr_timeout);
	return;
err:
	fuse_reply_err(req, fail(m, rc));
}

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts_ns(&ts);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct mnt *m = req_mnt(req);
	struct daxfs_stat to = {0}, st;
	unsigned valid = 0;
	struct daxfs *fs;
	struct stat s;
	int rc;

	/* The session of the caller: chmod/chown/utimes are checked against who asks now. */
	rc = req_fs(m, req, &fs);
	if (rc < 0)
		goto err;
	/* A truncate through a file handle uses the permission the file was opened with. */
	if (fi && (to_set & FUSE_SET_ATTR_SIZE) && !(to_set & ~FUSE_SET_ATTR_SIZE))
		fs = ((struct fh *)(uintptr_t)fi->fh)->fs;
	if (to_set & FUSE_SET_ATTR_MODE) {
		valid |= DAXFS_SET_MODE;
		to.mode = attr->st_mode & 07777;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		valid |= DAXFS_SET_UID;
		to.uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		valid |= DAXFS_SET_GID;
		to.gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		valid |= DAXFS_SET_SIZE;
		to.size = (uint64_t)attr->st_size;
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW)) {
		valid |= DAXFS_SET_ATIME;
		to.atime_ns = to_set & FUSE_SET_ATTR_ATIME_NOW ? now_ns() : ts_ns(&attr->st_atim);
	}
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
		valid |= DAXFS_SET_MTIME;
		to.mtime_ns = to_set & FUSE_SET_ATTR_MTIME_NOW ? now_ns() : ts_ns(&attr->st_mtim);
	}
	/* FUSE_SET_ATTR_CTIME alone: the daemon sets ctime itself on every change. */
	rc = valid ? daxfs_setattr(fs, ino, valid, &to, &st) : daxfs_getattr(fs, ino, &st);
	if (rc < 0)
		goto err;
	to_stat(&st, &s);
	fuse_reply_attr(req, &s, m->attr_timeout);
	return;
err:
	fuse_reply_err(req, fail(m, rc));
}

/* --- names --- */

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct mnt *m = req_mnt(req);
	char path[PATH_LEN];
	struct daxfs_stat st;
	struct daxfs *fs;
	int rc;

	if (!name_begin(m, req, name, EPERM, &fs))
		return;
	pthread_rwlock_rdlock(&m->ns_lock);
	rc = ino_path(m, parent, name, path);
	if (rc == 0)
		rc = daxfs_mkdir(fs, path, mode & 07777, &st);
	if (rc == 0)
		reply_entry(m, req, parent, name, &st);
	pthread_rwlock_unlock(&m->ns_lock);
	if (rc < 0)
		fuse_reply_err(req, fail(m, rc));
}

/* hidden_name - a name for @ino in its directory that no one else uses. Locking: mnt->lock. */
static void hidden_name(struct mnt *m, uint64_t ino, char *out, size_t len)
{
	snprintf(out, len, MNT_HIDDEN_PREFIX "%" PRIu64 ".%" PRIu64, ino, ++m->hidden_seq);
}

/*
 * detach - the name @n had is gone (unlinked, replaced): forget where it lived.
 * Locking: mnt->lock.
 */
static void detach(struct mnt *m, struct mnt_node *n)
{
	struct mnt_node *oldp = n->parent;

	if (!oldp)
		return;
	set_parent(n, NULL, NULL);
	node_release(m, oldp);
	n->hidden = false;
}

/*
 * hide - @path (inode @ino, open) loses its name: rename it to a hidden name in the same
 * directory, so the open handles keep their data; the last release removes it.
 * Locking: mnt->ns_lock write side.
 * Return: 0 when hidden; 1 when not open (the caller removes it); a negative errno.
 */
static int hide(struct mnt *m, struct daxfs *fs, uint64_t ino, uint64_t parent, const char *path)
{
	char hpath[PATH_LEN], hname[64];
	struct mnt_node *n, *p;
	bool closed;
	int rc;

	pthread_mutex_lock(&m->lock);
	n = node_find(m, ino);
	p = node_find(m, parent);
	if (!n || !n->opens || !p) {
		pthread_mutex_unlock(&m->lock);
		return 1;
	}
	hidden_name(m, ino, hname, sizeof(hname));
	pthread_mutex_unlock(&m->lock);
	rc = ino_path(m, parent, hname, hpath);
	if (rc == 0)
		rc = daxfs_rename(fs, path, hpath, DAXFS_RENAME_NOREPLACE);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&m->lock);
	n = node_find(m, ino);
	closed = !n || !n->opens;
	if (n && !closed) {
		struct mnt_node *oldp = n->parent;

		if (set_parent(n, p, hname) == 0) {
			n->hidden = true;
			node_release(m, oldp);
		}
	}
	pthread_mutex_unlock(&m->lock);
	/* The last handle went while we renamed (fh_release did not see it hidden). */
	if (closed) {
		rc = daxfs_unlink(fs, hpath);
		if (rc < 0)
			return rc;
		pthread_mutex_lock(&m->lock);
		n = node_find(m, ino);
		if (n)
			detach(m, n);
		pthread_mutex_unlock(&m->lock);
	}
	return 0;
}

/* name_gone - after @parent/@name (inode @ino) was removed or replaced. */
static void name_gone(struct mnt *m, uint64_t ino)
{
	struct mnt_node *n;

	pthread_mutex_lock(&m->lock);
	n = node_find(m, ino);
	if (n && !n->hidden)
		detach(m, n);
	pthread_mutex_unlock(&m->lock);
}

/* hidden_under - whether directory @dir holds a hidden (unlinked, open) file of ours. */
static bool hidden_under(struct mnt *m, uint64_t dir)
{
	bool found = false;

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->nbuckets && !found; i++) {
		for (struct mnt_node *n = m->buckets[i]; n && !found; n = n->next)
			found = n->hidden && n->parent && n->parent->ino == dir;
	}
	pthread_mutex_unlock(&m->lock);
	return found;
}

static void remove_entry(fuse_req_t req, fuse_ino_t parent, const char *name, bool dir)
{
	struct mnt *m = req_mnt(req);
	char path[PATH_LEN];
	struct daxfs_stat st;
	struct daxfs *fs;
	int rc;

	if (!name_begin(m, req, name, ENOENT, &fs))
		return;
	pthread_rwlock_wrlock(&m->ns_lock);
	rc = ino_path(m, parent, name, path);
	if (rc == 0)
		rc = daxfs_stat(fs, path, &st);
	if (rc == 0 && !dir && S_ISREG(st.mode)) {
		rc = hide(m, fs, st.ino, parent, path);
		if (rc == 1)
			rc = daxfs_unlink(fs, path);
		else if (rc == 0)
			goto done;
	} else if (rc == 0) {
		rc = dir ? daxfs_rmdir(fs, path) : daxfs_unlink(fs, path);
		/*
		 * The kernel sends RELEASE after close(2) has returned: a file unlinked while
		 * open may still sit here under its hidden name for a moment. Give those
		 * releases a little time (without the lock they need), then try again.
		 */
		for (int i = 0; dir && rc == -ENOTEMPTY && i < 200 && hidden_under(m, st.ino);
		     i++) {
			pthread_rwlock_unlock(&m->ns_lock);
			usleep(10000);
			pthread_rwlock_wrlock(&m->ns_lock);
			rc = ino_path(m, parent, name, path);
			if (rc == 0)
				rc = daxfs_rmdir(fs, path);
		}
	}
	if (rc == 0)
		name_gone(m, st.ino);
done:
	pthread_rwlock_unlock(&m->ns_lock);
	fuse_reply_err(req, rc < 0 ? fail(m, rc) : 0);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, false);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, true);
}

/* moved - @ino now lives at @parent/@name. Locking: mnt->lock. */
static void moved(struct mnt *m, uint64_t ino, uint64_t parent, const char *name)
{
	struct mnt_node *n = node_find(m, ino), *p = node_find(m, parent), *oldp;

	if (!n)
		return;
	oldp = n->parent;
	if (!p || set_parent(n, p, name) < 0) {
		/* Unknown place: unlinked for us; the kernel looks it up again by name. */
		detach(m, n);
		return;
	}
	node_release(m, oldp);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct mnt *m = req_mnt(req);
	char opath[PATH_LEN], npath[PATH_LEN];
	struct daxfs_stat src, dst;
	bool have_dst = false;
	struct daxfs *fs;
	int rc, dflags = 0;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		fuse_reply_err(req, EINVAL); /* RENAME_WHITEOUT: daxfs has no whiteouts */
		return;
	}
	if (is_hidden(name) || is_hidden(newname)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (flags & RENAME_NOREPLACE)
		dflags |= DAXFS_RENAME_NOREPLACE;
	if (flags & RENAME_EXCHANGE)
		dflags |= DAXFS_RENAME_EXCHANGE;
	rc = req_fs(m, req, &fs);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	pthread_rwlock_wrlock(&m->ns_lock);
	rc = ino_path(m, parent, name, opath);
	if (rc == 0)
		rc = ino_path(m, newparent, newname, npath);
	if (rc == 0)
		rc = daxfs_stat(fs, opath, &src);
	if (rc == 0) {
		rc = daxfs_stat(fs, npath, &dst);
		have_dst = rc == 0;
		if (rc == -ENOENT)
			rc = 0;
	}
	if (rc < 0)
		goto out;
	if (have_dst && dflags == 0 && S_ISREG(src.mode) && S_ISREG(dst.mode) &&
	    src.ino != dst.ino) {
		/*
		 * Replacing a file: if it is open, exchange the two (the new name never goes
		 * missing), then hide the old file under the name the source had.
		 */
		bool open;

		pthread_mutex_lock(&m->lock);
		struct mnt_node *n = node_find(m, dst.ino);

		open = n && n->opens;
		pthread_mutex_unlock(&m->lock);
		if (open) {
			rc = daxfs_rename(fs, opath, npath, DAXFS_RENAME_EXCHANGE);
			if (rc < 0)
				goto out;
			pthread_mutex_lock(&m->lock);
			moved(m, src.ino, newparent, newname);
			moved(m, dst.ino, parent, name);
			pthread_mutex_unlock(&m->lock);
			rc = hide(m, fs, dst.ino, parent, opath);
			if (rc == 1) /* closed meanwhile */
				rc = daxfs_unlink(fs, opath);
			if (rc < 0)
				fprintf(stderr,
					"daxfs mount: the replaced file %s stays at %s: %s\n",
					npath, opath, strerror(-rc));
			rc = 0;
			goto out;
		}
	}
	rc = daxfs_rename(fs, opath, npath, dflags);
	if (rc < 0)
		goto out;
	pthread_mutex_lock(&m->lock);
	if (have_dst && src.ino != dst.ino) {
		if (flags & RENAME_EXCHANGE) {
			moved(m, dst.ino, parent, name);
		} else {
			struct mnt_node *n = node_find(m, dst.ino);

			if (n)
				detach(m, n);
		}
	}
	if (src.ino != dst.ino || !have_dst)
		moved(m, src.ino, newparent, newname);
	pthread_mutex_unlock(&m->lock);
out:
	pthread_rwlock_unlock(&m->ns_lock);
	fuse_reply_err(req, rc < 0 ? fail(m, rc) : 0);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	fuse_reply_err(req, EPERM); /* daxfs has one name per file */
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EPERM); /* daxfs has no symbolic links */
}

/* --- files --- */

/* grant - hold a read grant on [0, size) of @ino so POISON / INVALIDATE events reach us. */
static void grant(struct mnt *m, struct fh *h, uint64_t size)
{
	uint64_t len = (size + BLOCK - 1) & ~(BLOCK - 1);
	int rc;

	if (!m->use_grants || !len)
		return;
	rc = daxfs_map_new(m->events, h->node->ino, 0, len, DAXFS_MAP_READ, &h->map);
	if (rc < 0)
		h->map = NULL; /* -E2BIG (too fragmented) and the like: no events, still correct */
}

static void fh_release(struct mnt *m, struct fh *h);

static int fh_new(struct mnt *m, fuse_req_t req, struct daxfs *fs, uint64_t ino,
		  const struct daxfs_stat *st, struct fuse_file_info *fi)
{
	struct fh *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	pthread_mutex_lock(&m->lock);
	h->node = node_find(m, ino);
	if (!h->node) {
		pthread_mutex_unlock(&m->lock);
		free(h);
		return -ESTALE;
	}
	h->node->opens++;
	h->next = m->open_files;
	if (h->next)
		h->next->prev = h;
	m->open_files = h;
	pthread_mutex_unlock(&m->lock);
	h->fs = fs;
	h->append = fi->flags & O_APPEND;
	pthread_mutex_init(&h->append_lock, NULL);
	grant(m, h, st->size);
	fi->fh = (uintptr_t)h;
	/* Pages cached before this open may be stale (another client's writes, poison while
	 * no grant was held): drop them. Large requests: we go through the shared buffer. */
	fi->keep_cache = 0;
	return 0;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mnt *m = req_mnt(req);
	struct daxfs_stat st;
	struct daxfs *fs;
	int rc;

	rc = req_fs(m, req, &fs);
	if (rc < 0)
		goto err;
	rc = daxfs_getattr(fs, ino, &st);
	if (rc < 0)
		goto err;
	if (S_ISDIR(st.mode)) {
		rc = -EISDIR;
		goto err;
	}
	rc = fh_new(m, req, fs, ino, &st, fi);
	if (rc < 0)
		goto err;
	/* Interrupted: the kernel never holds this handle, so no release comes. */
	if (fuse_reply_open(req, fi) == -ENOENT)
		fh_release(m, (struct fh *)(uintptr_t)fi->fh);
	return;
err:
	fuse_reply_err(req, fail(m, rc));
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct mnt *m = req_mnt(req);
	struct fuse_entry_param e = {0};
	char path[PATH_LEN];
	struct daxfs_stat st;
	struct daxfs *fs;
	int rc;

	if (!name_begin(m, req, name, EPERM, &fs))
		return;
	pthread_rwlock_rdlock(&m->ns_lock);
	rc = ino_path(m, parent, name, path);
	if (rc == 0)
		rc = daxfs_create(fs, path, mode & 07777,
				  fi->flags & O_EXCL ? DAXFS_CREATE_EXCL : 0, &st);
	if (rc == 0 && !node_get(m, st.ino, parent, name))
		rc = -ENOMEM;
	if (rc == 0) {
		rc = fh_new(m, req, fs, st.ino, &st, fi);
		if (rc < 0) {
			pthread_mutex_lock(&m->lock);
			forget_one(m, st.ino, 1);
			pthread_mutex_unlock(&m->lock);
		}
	}
	pthread_rwlock_unlock(&m->ns_lock);
	if (rc < 0) {
		fuse_reply_err(req, fail(m, rc));
		return;
	}
	e.ino = st.ino;
	e.attr_timeout = m->attr_timeout;
	e.entry_timeout = m->entry_timeout;
	to_stat(&st, &e.attr);
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		fh_release(m, (struct fh *)(uintptr_t)fi->fh);
		pthread_mutex_lock(&m->lock);
		forget_one(m, st.ino, 1);
		pthread_mutex_unlock(&m->lock);
	}
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct mnt *m = req_mnt(req);
	char path[PATH_LEN];
	struct daxfs_stat st;
	struct daxfs *fs;
	int rc;

	if (!S_ISREG(mode)) {
		fuse_reply_err(req, EPERM); /* no devices, fifos or sockets in daxfs */
		return;
	}
	if (!name_begin(m, req, name, EPERM, &fs))
		return;
	pthread_rwlock_rdlock(&m->ns_lock);
	rc = ino_path(m, parent, name, path);
	if (rc == 0)
		rc = daxfs_create(fs, path, mode & 07777, DAXFS_CREATE_EXCL, &st);
	if (rc == 0)
		reply_entry(m, req, parent, name, &st);
	pthread_rwlock_unlock(&m->ns_lock);
	if (rc < 0)
		fuse_reply_err(req, fail(m, rc));
}

/*
 * fh_release - the end of an open file: drop its grant and, if it was unlinked while open
 * and this was its last handle, remove it for good.
 */
static void fh_release(struct mnt *m, struct fh *h)
{
	struct mnt_node *n = h->node;
	char path[PATH_LEN];
	bool last_hidden;
	int rc = 0;

	daxfs_map_delete(&h->map);
	pthread_mutex_lock(&m->lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		m->open_files = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&m->lock);
	/*
	 * The check and the decrement are one step under mnt->lock, and hide() marks a node
	 * hidden and looks at its open count under it too: so exactly one of the two sees
	 * the last handle of a hidden file go, and removes it.
	 */
	pthread_mutex_lock(&m->lock);
	if (!(n->opens == 1 && n->hidden)) {
		n->opens--;
		node_release(m, n);
		pthread_mutex_unlock(&m->lock);
		goto out;
	}
	pthread_mutex_unlock(&m->lock);
	/* Our open count keeps @n alive until the end, whatever the kernel forgets. */
	pthread_rwlock_wrlock(&m->ns_lock);
	pthread_mutex_lock(&m->lock);
	last_hidden = n->opens == 1 && n->hidden;
	rc = last_hidden ? path_of(n, path) : 0;
	pthread_mutex_unlock(&m->lock);
	if (last_hidden && rc == 0) {
		rc = daxfs_unlink(m->self.fs, path);
		if (rc < 0 && h->fs != m->self.fs)
			rc = daxfs_unlink(h->fs, path);
		if (rc < 0)
			fprintf(stderr, "daxfs mount: cannot remove the unlinked file %s: %s\n",
				path, strerror(-rc));
	}
	pthread_mutex_lock(&m->lock);
	if (last_hidden && rc == 0)
		detach(m, n);
	n->opens--;
	node_release(m, n);
	pthread_mutex_unlock(&m->lock);
	pthread_rwlock_unlock(&m->ns_lock);
out:
	pthread_mutex_destroy(&h->append_lock);
	free(h);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fh_release(req_mnt(req), (struct fh *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fh *h = (struct fh *)(uintptr_t)fi->fh;
	struct mnt *m = req_mnt(req);
	size_t done = 0;
	ssize_t n = 0;
	char *buf;

	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/*
	 * A short count means end of file to the kernel (it may even shrink its idea of the
	 * size), so read on after a short count until the end or an error: a poisoned page
	 * then fails the whole request with EIO, and the kernel asks again page by page.
	 */
	while (done < size) {
		n = daxfs_pread(h->fs, ino, buf + done, size - done, (uint64_t)off + done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (n < 0)
		fuse_reply_err(req, fail(m, (int)n));
	else
		fuse_reply_buf(req, buf, done);
	free(buf);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct fh *h = (struct fh *)(uintptr_t)fi->fh;
	struct mnt *m = req_mnt(req);
	uint64_t at = (uint64_t)off;
	struct daxfs_stat st;
	ssize_t n = 0;
	size_t done = 0;

	/*
	 * O_APPEND: the kernel puts the write at the size it has cached; the daemon's size is
	 * the truth when other clients append too. Appends through one handle are serialised.
	 */
	if (h->append) {
		pthread_mutex_lock(&h->append_lock);
		n = daxfs_getattr(h->fs, ino, &st);
		if (n == 0)
			at = st.size;
	}
	while (n >= 0 && done < size) {
		n = daxfs_pwrite(h->fs, ino, buf + done, size - done, at + done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (h->append)
		pthread_mutex_unlock(&h->append_lock);
	if (done == 0 && n < 0)
		fuse_reply_err(req, fail(m, (int)n));
	else if (done == 0)
		fuse_reply_err(req, EIO);
	else
		fuse_reply_write(req, done);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0); /* writes are through to the daemon already */
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fh *h = (struct fh *)(uintptr_t)fi->fh;
	int rc = daxfs_fsync(h->fs, ino);

	fuse_reply_err(req, rc < 0 ? fail(req_mnt(req), rc) : 0);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	struct fh *h = (struct fh *)(uintptr_t)fi->fh;
	int dmode = 0, rc;

	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (mode & FALLOC_FL_KEEP_SIZE)
		dmode |= DAXFS_FALLOC_KEEP_SIZE;
	if (mode & FALLOC_FL_PUNCH_HOLE)
		dmode |= DAXFS_FALLOC_PUNCH_HOLE;
	rc = daxfs_fallocate(h->fs, ino, dmode, (uint64_t)off, (uint64_t)len);
	fuse_reply_err(req, rc < 0 ? fail(req_mnt(req), rc) : 0);
}

/* --- directories --- */

static int dh_add(void *ctx, const char *name, uint64_t ino, uint32_t mode)
{
	struct dh *d = ctx;

	if (is_hidden(name))
		return 0;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 32;
		struct dirent_snap *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	d->v[d->n].name = strdup(name);
	if (!d->v[d->n].name)
		return -ENOMEM;
	d->v[d->n].ino = ino;
	d->v[d->n].mode = mode;
	d->n++;
	return 0;
}

static void dh_free(struct dh *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].name);
	free(d->v);
	free(d);
}

/* dh_close - take an open directory off mnt->open_dirs, then free it. */
static void dh_close(struct mnt *m, struct dh *d)
{
	pthread_mutex_lock(&m->lock);
	if (d->prev)
		d->prev->next = d->next;
	else
		m->open_dirs = d->next;
	if (d->next)
		d->next->prev = d->prev;
	pthread_mutex_unlock(&m->lock);
	dh_free(d);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mnt *m = req_mnt(req);
	char path[PATH_LEN];
	struct dh *d;
	int rc;

	d = calloc(1, sizeof(*d));
	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = req_fs(m, req, &d->fs);
	if (rc < 0)
		goto err;
	pthread_rwlock_rdlock(&m->ns_lock);
	rc = ino_path(m, ino, NULL, path);
	if (rc == 0)
		rc = daxfs_readdir(d->fs, path, dh_add, d);
	pthread_rwlock_unlock(&m->ns_lock);
	if (rc < 0)
		goto err;
	fi->fh = (uintptr_t)d;
	pthread_mutex_lock(&m->lock);
	d->next = m->open_dirs;
	if (d->next)
		d->next->prev = d;
	m->open_dirs = d;
	pthread_mutex_unlock(&m->lock);
	if (fuse_reply_open(req, fi) == -ENOENT)
		dh_close(m, d);
	return;
err:
	dh_free(d);
	fuse_reply_err(req, fail(m, rc));
}

/*
 * readdir_common - entries from @off (0 ".", 1 "..", 2 + i the i-th name) into one reply.
 * With @plus every entry also carries its attributes and counts as a lookup.
 */
static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi, bool plus)
{
	struct mnt *m = req_mnt(req);
	struct dh *d = (struct dh *)(uintptr_t)fi->fh;
	char dpath[PATH_LEN], path[PATH_LEN];
	size_t used = 0;
	char *buf;

	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_rwlock_rdlock(&m->ns_lock);
	if (plus && ino_path(m, ino, NULL, dpath) < 0)
		plus = false; /* the directory went: plain entries, the kernel copes */
	for (off_t i = off < 0 ? 0 : off; i < (off_t)d->n + 2; i++) {
		struct fuse_entry_param e = {0};
		const char *name = i == 0 ? "." : i == 1 ? ".." : d->v[i - 2].name;
		size_t len;

		e.attr.st_ino = i < 2 ? (i == 0 ? ino : FUSE_ROOT_ID) : d->v[i - 2].ino;
		e.attr.st_mode = i < 2 ? S_IFDIR : d->v[i - 2].mode & S_IFMT;
		if (!plus) {
			len = fuse_add_direntry(req, buf + used, size - used, name, &e.attr, i + 1);
			if (len > size - used)
				break;
			used += len;
			continue;
		}
		if (i >= 2) {
			struct daxfs_stat st;
			size_t l = strlen(dpath);

			if (fuse_add_direntry_plus(req, NULL, 0, name, NULL, 0) > size - used)
				break;
			snprintf(path, sizeof(path), "%s%s%s", dpath, l > 1 ? "/" : "", name);
			if (daxfs_stat(d->fs, path, &st) < 0)
				continue; /* removed since opendir */
			if (!node_get(m, st.ino, ino, name))
				break;
			e.ino = st.ino;
			e.attr_timeout = m->attr_timeout;
			e.entry_timeout = m->entry_timeout;
			to_stat(&st, &e.attr);
		}
		/* "." and "..": no lookup is counted for them (ino 0 tells the kernel). */
		len = fuse_add_direntry_plus(req, buf + used, size - used, name, &e, i + 1);
		used += len;
	}
	pthread_rwlock_unlock(&m->ns_lock);
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	dh_close(req_mnt(req), (struct dh *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0); /* namespace changes are durable when they are answered */
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct mnt *m = req_mnt(req);
	struct daxfs_statfs sf;
	struct statvfs sv = {0};
	int rc;

	rc = daxfs_statfs(m->self.fs, &sf);
	if (rc < 0) {
		fuse_reply_err(req, fail(m, rc));
		return;
	}
	sv.f_bsize = sf.block_size;
	sv.f_frsize = sf.block_size;
	sv.f_blocks = sf.blocks;
	sv.f_bfree = sf.blocks_free;
	sv.f_bavail = sf.blocks_free;
	/* What the metadata log's snapshot can hold (daxfs(1), df -i). */
	sv.f_files = sf.files + sf.files_free;
	sv.f_ffree = sf.files_free;
	sv.f_favail = sf.files_free;
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	/* 1 MiB requests: one shared-buffer round trip each (libdaxfs), not 32 of 4 KiB. */
	conn->max_write = 1 << 20;
	conn->max_read = 1 << 20; /* must equal -o max_read, which cmd_mount sets */
	conn->max_readahead = 1 << 20;
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	/* Write-through: a write is durable in daxfs when write(2) returns, and O_APPEND and
	 * sizes stay the daemon's; so no writeback cache. */
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	/* Reload cached data when another client changed the file's mtime or size. */
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	if (conn->capable & FUSE_CAP_READDIRPLUS_AUTO)
		conn->want |= FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO;
}

/*
 * mnt_event - a POISON or INVALIDATE for a range of a file we hold a grant on (the event
 * thread, or any thread of the events session): drop the kernel's cached pages and
 * attributes, so the next read goes to the daemon (which answers EIO on poisoned pages).
 * The library has acknowledged an INVALIDATE before this runs, so waiting here on a page
 * lock held by a read in flight cannot hold up the daemon.
 */
void mnt_event(void *ctx, const struct daxfs_event *ev)
{
	struct mnt *m = ctx;

	if (ev->type == DAXFS_EVENT_POISON)
		fprintf(stderr,
			"daxfs mount: poison in inode %" PRIu64 " at %" PRIu64 " (+%" PRIu64
			" bytes): reads of it fail with EIO\n",
			ev->ino, ev->off, ev->len);
	fuse_lowlevel_notify_inval_inode(m->se, ev->ino, (off_t)ev->off, (off_t)ev->len);
}

const struct fuse_lowlevel_ops mnt_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.mkdir = op_mkdir,
	.mknod = op_mknod,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.link = op_link,
	.symlink = op_symlink,
	.create = op_create,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.fallocate = op_fallocate,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
};

void mnt_handles_fini(struct mnt *m)
{
	/* fh_release and dh_close take each off its list (and remove hidden files). */
	while (m->open_files)
		fh_release(m, m->open_files);
	while (m->open_dirs)
		dh_close(m, m->open_dirs);
}
