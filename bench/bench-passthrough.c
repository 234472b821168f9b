// SPDX-License-Identifier: MIT
/*
 * bench-passthrough - the FUSE ceiling for bench-fuse: a minimal FUSE server that passes
 * every request to a directory of another file system (a tmpfs one in the benchmark), with
 * the same request sizes, thread count and cache settings as daxfsd's mount (cache=auto:
 * 1 s timeouts, pages dropped at open). Whatever daxfsd's mount costs beyond this is
 * daxfs' own.
 *
 * Only what the benchmark uses: lookup, forget, getattr, setattr (size, mode, times), open,
 * create, read, write, flush, release, fsync, unlink, mkdir, rmdir, opendir, readdir,
 * releasedir, statfs; and getxattr and listxattr, as a server with extended attributes
 * (daxfsd's mount, libfuse's passthrough example) has them: the kernel then asks for
 * security.capability before each write, where a server without getxattr is asked once.
 * Nodes are O_PATH descriptors of the files, kept while the kernel holds them; FUSE node
 * ids are their addresses.
 *
 * -o default_permissions: the kernel checks each caller's permissions against the cached
 * attributes, as on daxfsd's mount, which serves every user (allow_other) and must not let
 * a cached name walk past a directory's permissions. A directory whose entries changed then
 * needs a GETATTR before the next path walk through it: two more requests per create +
 * stat + unlink loop. The plain passthrough is the ceiling the goals are set against.
 *
 * Usage: bench-passthrough [-o cache=always | -o default_permissions] DIR MOUNTPOINT
 *        (runs until unmounted)
 */
#define FUSE_USE_VERSION 312

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#define THREADS 4     /* as daxfsd's mount (daemon/fuse-int.h FM_THREADS) */
#define IO (1u << 20) /* max_write / max_read, as daxfsd's mount */

struct node {
	int fd; /* O_PATH */
	ino_t ino;
	dev_t dev;
	uint64_t nlookup;
	struct node *next;
};

static struct node root = {.nlookup = 1};
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct node *nodes; /* every node but the root */
static double timeout = 1.0;
static int keep_cache;

static struct node *node_of(fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? &root : (struct node *)(uintptr_t)ino;
}

static fuse_ino_t id_of(struct node *n)
{
	return n == &root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
}

static char *proc_path(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
	return buf;
}

/* entry - look @name up in @parent and fill @e, with one more reference. */
static int entry(struct node *parent, const char *name, struct fuse_entry_param *e)
{
	struct node *n;
	int fd = openat(parent->fd, name, O_PATH | O_NOFOLLOW);

	if (fd < 0)
		return errno;
	memset(e, 0, sizeof(*e));
	if (fstatat(fd, "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		int err = errno;

		close(fd);
		return err;
	}
	pthread_mutex_lock(&lock);
	for (n = nodes; n; n = n->next)
		if (n->ino == e->attr.st_ino && n->dev == e->attr.st_dev)
			break;
	if (n) {
		close(fd);
	} else {
		n = calloc(1, sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&lock);
			close(fd);
			return ENOMEM;
		}
		n->fd = fd;
		n->ino = e->attr.st_ino;
		n->dev = e->attr.st_dev;
		n->next = nodes;
		nodes = n;
	}
	n->nlookup++;
	pthread_mutex_unlock(&lock);
	e->ino = id_of(n);
	e->attr_timeout = timeout;
	e->entry_timeout = timeout;
	return 0;
}

static void forget_one(fuse_ino_t ino, uint64_t count)
{
	struct node *n = node_of(ino), **pp;

	if (n == &root)
		return;
	pthread_mutex_lock(&lock);
	n->nlookup -= count < n->nlookup ? count : n->nlookup;
	if (!n->nlookup) {
		for (pp = &nodes; *pp != n; pp = &(*pp)->next)
			;
		*pp = n->next;
		close(n->fd);
		free(n);
	}
	pthread_mutex_unlock(&lock);
}

static void pt_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int err = entry(node_of(parent), name, &e);

	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, &e);
}

static void pt_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(ino, nlookup);
	fuse_reply_none(req);
}

static void pt_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	for (size_t i = 0; i < count; i++)
		forget_one(f[i].ino, f[i].nlookup);
	fuse_reply_none(req);
}

static void pt_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (fstatat(node_of(ino)->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_attr(req, &st, timeout);
}

static void pt_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	char p[64];
	int fd = node_of(ino)->fd, rc = 0;

	proc_path(fd, p, sizeof(p));
	if (to_set & FUSE_SET_ATTR_MODE)
		rc = chmod(p, attr->st_mode);
	if (!rc && (to_set & FUSE_SET_ATTR_SIZE))
		rc = fi ? ftruncate((int)fi->fh, attr->st_size) : truncate(p, attr->st_size);
	if (!rc && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
			      FUSE_SET_ATTR_MTIME_NOW))) {
		struct timespec tv[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};

		if (to_set & FUSE_SET_ATTR_ATIME_NOW)
			tv[0].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_ATIME)
			tv[0] = attr->st_atim;
		if (to_set & FUSE_SET_ATTR_MTIME_NOW)
			tv[1].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_MTIME)
			tv[1] = attr->st_mtim;
		rc = utimensat(AT_FDCWD, p, tv, 0);
	}
	if (rc)
		fuse_reply_err(req, errno);
	else
		pt_getattr(req, ino, NULL);
}

static void set_open(struct fuse_file_info *fi, int fd)
{
	fi->fh = (uint64_t)fd;
	fi->keep_cache = keep_cache;
}

static void pt_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	char p[64];
	int fd = open(proc_path(node_of(ino)->fd, p, sizeof(p)), fi->flags & ~O_NOFOLLOW);

	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	set_open(fi, fd);
	fuse_reply_open(req, fi);
}

static void pt_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	int fd = openat(node_of(parent)->fd, name, (fi->flags | O_CREAT) & ~O_NOFOLLOW, mode);
	int err;

	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	err = entry(node_of(parent), name, &e);
	if (err) {
		close(fd);
		fuse_reply_err(req, err);
		return;
	}
	set_open(fi, fd);
	fuse_reply_create(req, &e, fi);
}

static void pt_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	static __thread char *buf;
	ssize_t n;

	(void)ino;
	if (!buf && !(buf = malloc(IO))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = pread((int)fi->fh, buf, size < IO ? size : IO, off);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

static void pt_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	ssize_t n = pwrite((int)fi->fh, buf, size, off);

	(void)ino;
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, (size_t)n);
}

static void pt_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void pt_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	close((int)fi->fh);
	fuse_reply_err(req, 0);
}

static void pt_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	fuse_reply_err(req, (datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh)) ? errno : 0);
}

static void pt_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, unlinkat(node_of(parent)->fd, name, 0) ? errno : 0);
}

static void pt_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, unlinkat(node_of(parent)->fd, name, AT_REMOVEDIR) ? errno : 0);
}

static void pt_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fuse_entry_param e;
	int err;

	if (mkdirat(node_of(parent)->fd, name, mode) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	err = entry(node_of(parent), name, &e);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, &e);
}

static void pt_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int fd = openat(node_of(ino)->fd, ".", O_RDONLY | O_DIRECTORY);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);

	if (!d) {
		if (fd >= 0)
			close(fd);
		fuse_reply_err(req, errno);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	fuse_reply_open(req, fi);
}

static void pt_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	DIR *d = (DIR *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t used = 0;
	struct dirent *de;

	(void)ino;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	seekdir(d, off);
	while ((de = readdir(d))) {
		struct stat st = {.st_ino = de->d_ino, .st_mode = (mode_t)de->d_type << 12};
		size_t len = fuse_add_direntry(req, buf + used, size - used, de->d_name, &st,
					       telldir(d));

		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void pt_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	closedir((DIR *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void pt_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	if (fstatvfs(node_of(ino)->fd, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

/*
 * xattr_reply - answer a getxattr or listxattr whose call gave @n into @buf (@size bytes;
 * 0: the length only).
 */
static void xattr_reply(fuse_req_t req, ssize_t n, const char *buf, size_t size)
{
	if (n < 0)
		fuse_reply_err(req, errno);
	else if (size)
		fuse_reply_buf(req, buf, (size_t)n);
	else
		fuse_reply_xattr(req, (size_t)n);
}

static void pt_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char path[64], *buf = size ? malloc(size) : NULL;

	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	xattr_reply(req, getxattr(proc_path(node_of(ino)->fd, path, sizeof(path)), name, buf, size),
		    buf, size);
	free(buf);
}

static void pt_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char path[64], *buf = size ? malloc(size) : NULL;

	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	xattr_reply(req, listxattr(proc_path(node_of(ino)->fd, path, sizeof(path)), buf, size),
		    buf, size);
	free(buf);
}

static void pt_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	conn->max_write = IO;
	conn->max_read = IO;
	conn->max_readahead = IO;
	conn->want |= conn->capable & (FUSE_CAP_ASYNC_READ | FUSE_CAP_PARALLEL_DIROPS);
	conn->want &=
		~(unsigned)(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_READDIRPLUS | FUSE_CAP_SPLICE_READ);
	if (keep_cache)
		conn->want &= ~(unsigned)FUSE_CAP_AUTO_INVAL_DATA;
	else
		conn->want |= conn->capable & FUSE_CAP_AUTO_INVAL_DATA;
}

static const struct fuse_lowlevel_ops ops = {
	.init = pt_init,
	.lookup = pt_lookup,
	.forget = pt_forget,
	.forget_multi = pt_forget_multi,
	.getattr = pt_getattr,
	.setattr = pt_setattr,
	.open = pt_open,
	.create = pt_create,
	.read = pt_read,
	.write = pt_write,
	.flush = pt_flush,
	.release = pt_release,
	.fsync = pt_fsync,
	.unlink = pt_unlink,
	.rmdir = pt_rmdir,
	.mkdir = pt_mkdir,
	.opendir = pt_opendir,
	.readdir = pt_readdir,
	.releasedir = pt_releasedir,
	.statfs = pt_statfs,
	.getxattr = pt_getxattr,
	.listxattr = pt_listxattr,
};

int main(int argc, char **argv)
{
	char *fargv[] = {argv[0], "-o", "fsname=passthrough,max_read=1048576,allow_other", NULL};
	char *fargv_dp[] = {argv[0], "-o",
			    "fsname=passthrough,max_read=1048576,allow_other,default_permissions",
			    NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_loop_config *cfg;
	struct fuse_session *se;
	int a = 1, rc = 1;

	if (argc == 5 && !strcmp(argv[1], "-o") && !strcmp(argv[2], "cache=always")) {
		keep_cache = 1;
		timeout = 86400;
		a = 3;
	} else if (argc == 5 && !strcmp(argv[1], "-o") && !strcmp(argv[2], "default_permissions")) {
		/* The kernel checks permissions, as on daxfsd's mount (see the usage). */
		args = (struct fuse_args)FUSE_ARGS_INIT(3, fargv_dp);
		a = 3;
	}
	if (argc - a != 2) {
		fprintf(stderr, "usage: bench-passthrough [-o cache=always | -o default_permissions] "
				"DIR MOUNTPOINT\n");
		return 2;
	}
	root.fd = open(argv[a], O_PATH | O_DIRECTORY);
	if (root.fd < 0) {
		perror(argv[a]);
		return 1;
	}
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se || fuse_set_signal_handlers(se) || fuse_session_mount(se, argv[a + 1]))
		return 1;
	cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(cfg, 0);
	fuse_loop_cfg_set_max_threads(cfg, THREADS);
	fuse_loop_cfg_set_idle_threads(cfg, THREADS);
	rc = fuse_session_loop_mt(se, cfg) < 0;
	fuse_loop_cfg_destroy(cfg);
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	fuse_opt_free_args(&args);
	return rc;
}
