// SPDX-License-Identifier: MIT
/*
 * Names and attributes: ls, stat, mkdir, rm, mv, truncate.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <json-c/json.h>

#include <daxfs/daxfs.h>

#include "daxfs.h"
#include "util.h"

#define JSON_U64(obj, key, v) json_object_object_add((obj), (key), json_object_new_uint64(v))
#define JSON_I64(obj, key, v) json_object_object_add((obj), (key), json_object_new_int64(v))

/* --- owners and times --- */

/* user_name / group_name - the name of @id, or NULL when the system has none. */
static const char *user_name(uint32_t id)
{
	static uint32_t last_id;
	static char last[64];
	static int have; /* 0 nothing cached, 1 a name, 2 no name */
	struct passwd *pw;

	if (!have || last_id != id) {
		pw = getpwuid(id);
		last_id = id;
		have = pw ? 1 : 2;
		if (pw)
			snprintf(last, sizeof(last), "%s", pw->pw_name);
	}
	return have == 1 ? last : NULL;
}

static const char *group_name(uint32_t id)
{
	static uint32_t last_id;
	static char last[64];
	static int have;
	struct group *gr;

	if (!have || last_id != id) {
		gr = getgrgid(id);
		last_id = id;
		have = gr ? 1 : 2;
		if (gr)
			snprintf(last, sizeof(last), "%s", gr->gr_name);
	}
	return have == 1 ? last : NULL;
}

/* Full local time, as stat(1) prints it: "2024-05-01 12:00:00.123456789 +0200". */
static const char *full_time(int64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000);
	long frac = (long)(ns % 1000000000);
	char date[32], zone[8];
	struct tm tm;

	if (frac < 0) {
		frac += 1000000000;
		t--;
	}
	localtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
	strftime(zone, sizeof(zone), "%z", &tm);
	snprintf(buf, len, "%s.%09ld %s", date, frac, zone);
	return buf;
}

/* ls -l time: "May  1 12:00" within six months of now, else "May  1  2023". */
static const char *short_time(int64_t ns, char *buf, size_t len)
{
	const time_t six_months = 31556952 / 2;
	time_t t = (time_t)(ns / 1000000000), now = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	if (t > now - six_months && t <= now + 60)
		strftime(buf, len, "%b %e %H:%M", &tm);
	else
		strftime(buf, len, "%b %e  %Y", &tm);
	return buf;
}

static const char *type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return "directory";
	case S_IFREG:
		return "file";
	case S_IFLNK:
		return "symlink";
	case S_IFIFO:
		return "fifo";
	case S_IFSOCK:
		return "socket";
	case S_IFCHR:
		return "character device";
	case S_IFBLK:
		return "block device";
	default:
		return "unknown";
	}
}

/* The JSON form of one file, shared by stat and ls. */
static json_object *stat_json(const char *key, const char *name, const struct daxfs_stat *st)
{
	json_object *j = json_object_new_object();
	const char *u = user_name(st->uid), *g = group_name(st->gid);
	char perm[8];

	snprintf(perm, sizeof(perm), "%04o", st->mode & 07777);
	json_object_object_add(j, key, json_object_new_string(name));
	json_object_object_add(j, "type", json_object_new_string(type_name(st->mode)));
	JSON_U64(j, "ino", st->ino);
	JSON_U64(j, "mode", st->mode);
	json_object_object_add(j, "permissions", json_object_new_string(perm));
	JSON_U64(j, "nlink", st->nlink);
	JSON_U64(j, "uid", st->uid);
	json_object_object_add(j, "user", u ? json_object_new_string(u) : NULL);
	JSON_U64(j, "gid", st->gid);
	json_object_object_add(j, "group", g ? json_object_new_string(g) : NULL);
	JSON_U64(j, "size", st->size);
	JSON_U64(j, "blocks", st->blocks);
	JSON_I64(j, "atime_ns", st->atime_ns);
	JSON_I64(j, "mtime_ns", st->mtime_ns);
	JSON_I64(j, "ctime_ns", st->ctime_ns);
	return j;
}

/* read_target - the target of symbolic link @path (malloc'd), or NULL. */
static char *read_target(struct daxfs *fs, const char *path)
{
	char buf[4096];
	ssize_t n = daxfs_readlink(fs, path, buf, sizeof(buf) - 1);

	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return strdup(buf);
}

/* Resolve the user's @arg into @path and connect; report failures as @cmd. */
static int open_path(const char *cmd, struct cli_ctx *ctx, const char *arg, char *path,
		     struct daxfs **fs)
{
	int rc = remote_path(arg, path, CLI_PATH_MAX);

	if (rc)
		return cli_syserr(cmd, arg, -rc);
	return cli_connect(cmd, ctx, fs);
}

/* --- directory listings --- */

struct ent {
	char *name;
	uint64_t ino;
	uint32_t mode;
	bool gone; /* removed while we listed */
	struct daxfs_stat st;
	uint64_t rdev; /* devices */
	char *target;  /* symbolic links (ls -l), malloc'd */
};

struct ent_list {
	struct ent *v;
	size_t n, cap;
};

static int ent_add(void *arg, const char *name, uint64_t ino, uint32_t mode)
{
	struct ent_list *l = arg;
	struct ent *e;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct ent *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	e = &l->v[l->n];
	memset(e, 0, sizeof(*e));
	e->name = strdup(name);
	if (!e->name)
		return -ENOMEM;
	e->ino = ino;
	e->mode = mode;
	l->n++;
	return 0;
}

static void ent_list_free(struct ent_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].target);
	}
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

static int ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->name, ((const struct ent *)b)->name);
}

/* list_dir - the entries of directory @path into @l, sorted by name (bytewise). */
static int list_dir(struct daxfs *fs, const char *path, struct ent_list *l)
{
	int rc = daxfs_readdir(fs, path, ent_add, l);

	if (rc < 0)
		return rc;
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), ent_cmp);
	return 0;
}

static int num_width(uint64_t v)
{
	int w = 1;

	while (v >= 10) {
		v /= 10;
		w++;
	}
	return w;
}

static void owner_text(uint32_t id, bool group, bool numeric, char *buf, size_t len)
{
	const char *name = numeric ? NULL : group ? group_name(id) : user_name(id);

	if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "%" PRIu32, id);
}

/* dev_text - "major, minor" of a device, as ls -l shows it in place of the size. */
static const char *dev_text(uint64_t rdev, char *buf, size_t len)
{
	snprintf(buf, len, "%u, %u", major(rdev), minor(rdev));
	return buf;
}

static void print_long(const struct ent *v, size_t n, bool numeric)
{
	int wl = 1, wu = 1, wg = 1, ws = 1;
	char buf[64], mode[11];

	for (size_t i = 0; i < n; i++) {
		if (v[i].gone)
			continue;
		wl = MAX(wl, num_width(v[i].st.nlink));
		ws = MAX(ws, num_width(v[i].st.size));
		if (S_ISCHR(v[i].st.mode) || S_ISBLK(v[i].st.mode))
			ws = MAX(ws, (int)strlen(dev_text(v[i].rdev, buf, sizeof(buf))));
		owner_text(v[i].st.uid, false, numeric, buf, sizeof(buf));
		wu = MAX(wu, (int)strlen(buf));
		owner_text(v[i].st.gid, true, numeric, buf, sizeof(buf));
		wg = MAX(wg, (int)strlen(buf));
	}
	for (size_t i = 0; i < n; i++) {
		const struct daxfs_stat *st = &v[i].st;

		if (v[i].gone)
			continue;
		mode_string(st->mode, mode);
		printf("%s %*" PRIu32 " ", mode, wl, st->nlink);
		owner_text(st->uid, false, numeric, buf, sizeof(buf));
		printf("%-*s ", wu, buf);
		owner_text(st->gid, true, numeric, buf, sizeof(buf));
		printf("%-*s ", wg, buf);
		if (S_ISCHR(st->mode) || S_ISBLK(st->mode))
			printf("%*s ", ws, dev_text(v[i].rdev, buf, sizeof(buf)));
		else
			printf("%*" PRIu64 " ", ws, st->size);
		printf("%s %s", short_time(st->mtime_ns, buf, sizeof(buf)), v[i].name);
		if (v[i].target)
			printf(" -> %s", v[i].target);
		putchar('\n');
	}
}

static const char ls_usage[] =
	"usage: daxfs ls [-l] [-n] [-p] [--json] [PATH]\n"
	"\n"
	"List directory PATH (default /), one name per line, sorted bytewise. A PATH that is\n"
	"a file lists just that file. \".\" and \"..\" are not shown.\n"
	"  -l, --long      mode, links, owner, group, size, modification time, name\n"
	"  -n, --numeric   with -l, numeric user and group ids\n"
	"  -p, --slash     a / after the names of directories (as ls -p; bash completion)\n"
	"  --json          an array of objects, one per entry, with every attribute\n";

int cmd_ls(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{"long", no_argument, NULL, 'l'},  {"numeric", no_argument, NULL, 'n'},
		{"slash", no_argument, NULL, 'p'}, {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},  {NULL, 0, NULL, 0},
	};
	char path[CLI_PATH_MAX], child[CLI_PATH_MAX];
	struct ent_list l = {0};
	bool lng = false, numeric = false, slash = false, need_attrs;
	const char *arg = "/";
	struct daxfs_statx stx;
	struct daxfs *fs;
	int c, rc, ret = EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "lnpjh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			slash = true;
			break;
		case 'l':
			lng = true;
			break;
		case 'n':
			numeric = true;
			break;
		case 'j':
			ctx->json = true;
			break;
		case 'h':
			fputs(ls_usage, stdout);
			return EXIT_OK;
		default:
			fputs(ls_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		fputs(ls_usage, stderr);
		return EXIT_USAGE;
	}
	if (optind < argc)
		arg = argv[optind];
	rc = open_path("ls", ctx, arg, path, &fs);
	if (rc)
		return rc;
	need_attrs = lng || ctx->json;
	/* As ls(1): a symbolic link named with -l is shown itself, else what it names. */
	rc = daxfs_statx(fs, path, need_attrs ? DAXFS_STAT_NOFOLLOW : 0, &stx);
	if (rc) {
		ret = cli_fail("ls", arg, rc);
		goto out_close;
	}
	if (!S_ISDIR(stx.st.mode)) {
		rc = ent_add(&l, arg, stx.st.ino, stx.st.mode);
		if (rc) {
			ret = cli_syserr("ls", arg, -rc);
			goto out_free;
		}
		l.v[0].st = stx.st;
		l.v[0].rdev = stx.rdev;
		if (S_ISLNK(stx.st.mode))
			l.v[0].target = read_target(fs, path);
	} else {
		rc = list_dir(fs, path, &l);
		if (rc) {
			ret = cli_fail("ls", arg, rc);
			goto out_free;
		}
		for (size_t i = 0; need_attrs && i < l.n; i++) {
			rc = daxfs_getattrx(fs, l.v[i].ino, &stx);
			l.v[i].st = stx.st;
			l.v[i].rdev = stx.rdev;
			if (rc == 0 && S_ISLNK(stx.st.mode) &&
			    remote_join(path, l.v[i].name, child, sizeof(child)) == 0)
				l.v[i].target = read_target(fs, child);
			if (rc == -ENOENT) {
				l.v[i].gone = true;
			} else if (rc) {
				l.v[i].gone = true;
				remote_join(path, l.v[i].name, child, sizeof(child));
				ret = cli_fail("ls", child, rc);
			}
		}
	}
	if (ctx->json) {
		json_object *a = json_object_new_array();

		for (size_t i = 0; i < l.n; i++)
			if (!l.v[i].gone)
				json_object_array_add(a,
						      stat_json("name", l.v[i].name, &l.v[i].st));
		cli_print_json(a, false);
	} else if (lng) {
		print_long(l.v, l.n, numeric);
	} else {
		for (size_t i = 0; i < l.n; i++)
			printf("%s%s\n", l.v[i].name, slash && S_ISDIR(l.v[i].mode) ? "/" : "");
	}
out_free:
	ent_list_free(&l);
out_close:
	daxfs_close(fs);
	return ret;
}

/* --- stat --- */

static const char stat_usage[] =
	"usage: daxfs stat [--json] PATH\n"
	"\n"
	"Show every attribute of PATH: type, inode, mode, links, owner, group, size, blocks\n"
	"(4 KiB each) and the access, modification and change times, and for a file its\n"
	"extents as filefrag shows them: file offset, region offset and length in bytes, and\n"
	"whether the extent is poisoned (needs read permission; without it they are left out).\n"
	"With --json, one object (times in nanoseconds since the epoch, mode as a number with\n"
	"the type bits, \"extents\" an array).\n";

/* extents_json - the file's extents as a JSON array. */
static json_object *extents_json(const struct daxfs_extent *e, size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		json_object *x = json_object_new_object();

		json_object_object_add(x, "file_offset", json_object_new_uint64(e[i].file_off));
		json_object_object_add(x, "region_offset", json_object_new_uint64(e[i].region_off));
		json_object_object_add(x, "length", json_object_new_uint64(e[i].len));
		json_object_object_add(x, "poisoned",
				       json_object_new_boolean(e[i].flags & DAXFS_EXTENT_POISON));
		json_object_array_add(a, x);
	}
	return a;
}

int cmd_stat(int argc, char **argv, struct cli_ctx *ctx)
{
	char path[CLI_PATH_MAX], buf[64], mode[11], target[4096] = "";
	struct daxfs_extent *ext = NULL;
	struct daxfs_statx stx;
	struct daxfs_stat st;
	bool has_ext = false;
	struct daxfs *fs;
	size_t next = 0;
	ssize_t n;
	int rc;

	rc = cli_json_opts(argc, argv, ctx, stat_usage, 1);
	if (rc >= 0)
		return rc;
	rc = open_path("stat", ctx, argv[optind], path, &fs);
	if (rc)
		return rc;
	/* As stat(1): a symbolic link itself, with its target. */
	rc = daxfs_statx(fs, path, DAXFS_STAT_NOFOLLOW, &stx);
	if (rc) {
		daxfs_close(fs);
		return cli_fail("stat", argv[optind], rc);
	}
	st = stx.st;
	if (S_ISLNK(st.mode)) {
		n = daxfs_readlink(fs, path, target, sizeof(target) - 1);
		if (n >= 0)
			target[n] = '\0';
	}
	if (S_ISREG(st.mode)) {
		rc = daxfs_extents(fs, st.ino, &ext, &next);
		if (rc == 0)
			has_ext = true;
		else if (rc != -EACCES) {
			daxfs_close(fs);
			return cli_fail("stat", argv[optind], rc);
		}
	}
	daxfs_close(fs);
	if (ctx->json) {
		json_object *j = stat_json("path", path, &st);

		if (S_ISLNK(st.mode))
			json_object_object_add(j, "target", json_object_new_string(target));
		if (S_ISCHR(st.mode) || S_ISBLK(st.mode)) {
			JSON_U64(j, "rdev_major", major(stx.rdev));
			JSON_U64(j, "rdev_minor", minor(stx.rdev));
		}
		if (has_ext)
			json_object_object_add(j, "extents", extents_json(ext, next));
		free(ext);
		cli_print_json(j, true);
		return EXIT_OK;
	}
	mode_string(st.mode, mode);
	printf("  path: %s\n", path);
	printf("  type: %s\n", S_ISREG(st.mode) ? "regular file" : type_name(st.mode));
	if (S_ISLNK(st.mode))
		printf("target: %s\n", target);
	if (S_ISCHR(st.mode) || S_ISBLK(st.mode))
		printf("device: %u,%u\n", major(stx.rdev), minor(stx.rdev));
	printf(" inode: %" PRIu64 "\n", st.ino);
	printf("  mode: %04o (%s)\n", st.mode & 07777, mode);
	printf(" links: %" PRIu32 "\n", st.nlink);
	owner_text(st.uid, false, false, buf, sizeof(buf));
	printf("   uid: %" PRIu32 " (%s)\n", st.uid, buf);
	owner_text(st.gid, true, false, buf, sizeof(buf));
	printf("   gid: %" PRIu32 " (%s)\n", st.gid, buf);
	printf("  size: %" PRIu64 "\n", st.size);
	printf("blocks: %" PRIu64 " (4 KiB each)\n", st.blocks);
	printf("access: %s\n", full_time(st.atime_ns, buf, sizeof(buf)));
	printf("modify: %s\n", full_time(st.mtime_ns, buf, sizeof(buf)));
	printf("change: %s\n", full_time(st.ctime_ns, buf, sizeof(buf)));
	if (has_ext) {
		printf("extents: %zu\n", next);
		if (next)
			printf("%18s %18s %14s\n", "file offset", "region offset", "length");
		for (size_t i = 0; i < next; i++)
			printf("%18" PRIu64 " %18" PRIu64 " %14" PRIu64 "%s\n", ext[i].file_off,
			       ext[i].region_off, ext[i].len,
			       ext[i].flags & DAXFS_EXTENT_POISON ? "  poisoned" : "");
	}
	free(ext);
	return EXIT_OK;
}

/* --- mkdir --- */

/* mkdir_parents - every missing directory of @path, then @path itself (made @mode). */
static int mkdir_parents(struct daxfs *fs, char *path, uint32_t mode)
{
	uint32_t parent_mode = mode | S_IWUSR | S_IXUSR;
	struct daxfs_stat st;
	char *p = path + 1;
	int rc;

	if (!*p)
		return 0; /* "/" always exists */
	for (;;) {
		char *slash = strchr(p, '/');

		if (slash)
			*slash = '\0';
		rc = daxfs_mkdir(fs, path, slash ? parent_mode : mode, &st);
		/*
		 * Fine if it is already a directory, whatever mkdir said. A file in the way
		 * of a parent makes the next mkdir fail with ENOTDIR.
		 */
		if (rc && daxfs_stat(fs, path, &st) == 0 && (S_ISDIR(st.mode) || slash))
			rc = 0;
		if (slash)
			*slash = '/';
		if (rc || !slash)
			return rc;
		p = slash + 1;
	}
}

static const char mkdir_usage[] =
	"usage: daxfs mkdir [-p] PATH...\n"
	"\n"
	"Create each directory PATH, mode 0777 less the umask.\n"
	"  -p, --parents   create missing parents too; no error when PATH is a directory\n";

int cmd_mkdir(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{"parents", no_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint32_t mode = 0777 & ~current_umask();
	char path[CLI_PATH_MAX];
	bool parents = false;
	struct daxfs_stat st;
	struct daxfs *fs;
	int c, rc, ret = EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "ph", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			parents = true;
			break;
		case 'h':
			fputs(mkdir_usage, stdout);
			return EXIT_OK;
		default:
			fputs(mkdir_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind == argc) {
		fputs(mkdir_usage, stderr);
		return EXIT_USAGE;
	}
	rc = cli_connect("mkdir", ctx, &fs);
	if (rc)
		return rc;
	for (int i = optind; i < argc; i++) {
		rc = remote_path(argv[i], path, sizeof(path));
		if (rc) {
			ret = cli_syserr("mkdir", argv[i], -rc);
			continue;
		}
		if (parents)
			rc = mkdir_parents(fs, path, mode);
		else
			rc = daxfs_mkdir(fs, path, mode, &st);
		if (rc)
			ret = cli_fail("mkdir", argv[i], rc);
	}
	daxfs_close(fs);
	return ret;
}

/* --- rm --- */

/* rm_tree - remove directory @path and all it holds; reports each failure itself. */
static int rm_tree(struct daxfs *fs, const char *path)
{
	char child[CLI_PATH_MAX];
	struct ent_list l = {0};
	int rc, ret = EXIT_OK;

	rc = list_dir(fs, path, &l);
	if (rc) {
		ent_list_free(&l);
		return cli_fail("rm", path, rc);
	}
	for (size_t i = 0; i < l.n; i++) {
		rc = remote_join(path, l.v[i].name, child, sizeof(child));
		if (rc) {
			ret = cli_syserr("rm", path, -rc);
			continue;
		}
		if (S_ISDIR(l.v[i].mode)) {
			if (rm_tree(fs, child))
				ret = EXIT_FAIL;
			continue;
		}
		rc = daxfs_unlink(fs, child);
		if (rc && rc != -ENOENT)
			ret = cli_fail("rm", child, rc);
	}
	ent_list_free(&l);
	if (ret)
		return ret; /* what is left keeps the directory */
	rc = daxfs_rmdir(fs, path);
	if (rc && rc != -ENOENT)
		return cli_fail("rm", path, rc);
	return EXIT_OK;
}

static const char rm_usage[] =
	"usage: daxfs rm [-r] PATH...\n"
	"\n"
	"Remove each file PATH. A directory needs -r, which removes it and everything in it\n"
	"(never the root directory). Other PATHs are still removed after one fails.\n"
	"  -r, -R, --recursive   remove directories and their contents\n";

int cmd_rm(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{"recursive", no_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char path[CLI_PATH_MAX];
	bool recursive = false;
	struct daxfs_statx stx;
	struct daxfs *fs;
	int c, rc, ret = EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "rRh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
		case 'R':
			recursive = true;
			break;
		case 'h':
			fputs(rm_usage, stdout);
			return EXIT_OK;
		default:
			fputs(rm_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind == argc) {
		fputs(rm_usage, stderr);
		return EXIT_USAGE;
	}
	rc = cli_connect("rm", ctx, &fs);
	if (rc)
		return rc;
	for (int i = optind; i < argc; i++) {
		rc = remote_path(argv[i], path, sizeof(path));
		if (rc) {
			ret = cli_syserr("rm", argv[i], -rc);
			continue;
		}
		/* The name itself: rm of a symbolic link removes the link, never its target. */
		rc = daxfs_statx(fs, path, DAXFS_STAT_NOFOLLOW, &stx);
		if (rc) {
			ret = cli_fail("rm", argv[i], rc);
		} else if (!S_ISDIR(stx.st.mode)) {
			rc = daxfs_unlink(fs, path);
			if (rc)
				ret = cli_fail("rm", argv[i], rc);
		} else if (!recursive) {
			ret = cli_syserr("rm", argv[i], EISDIR);
		} else if (strcmp(path, "/") == 0) {
			cli_err("rm", "%s: refusing to remove the root directory", argv[i]);
			ret = EXIT_FAIL;
		} else if (rm_tree(fs, path)) {
			ret = EXIT_FAIL;
		}
	}
	daxfs_close(fs);
	return ret;
}

/* --- mv --- */

static const char mv_usage[] =
	"usage: daxfs mv OLD NEW\n"
	"\n"
	"Rename OLD to NEW, replacing a file NEW. When NEW names an existing directory or\n"
	"ends in '/', OLD moves into it under its own name.\n";

int cmd_mv(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char from[CLI_PATH_MAX], to[CLI_PATH_MAX], into[CLI_PATH_MAX], base[CLI_PATH_MAX];
	char what[2 * CLI_PATH_MAX + 8];
	struct daxfs_stat st;
	struct daxfs *fs;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(mv_usage, stdout);
			return EXIT_OK;
		default:
			fputs(mv_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 2) {
		fputs(mv_usage, stderr);
		return EXIT_USAGE;
	}
	rc = remote_path(argv[optind], from, sizeof(from));
	if (rc)
		return cli_syserr("mv", argv[optind], -rc);
	rc = remote_path(argv[optind + 1], to, sizeof(to));
	if (rc)
		return cli_syserr("mv", argv[optind + 1], -rc);
	rc = cli_connect("mv", ctx, &fs);
	if (rc)
		return rc;
	if (ends_with_slash(argv[optind + 1]) ||
	    (daxfs_stat(fs, to, &st) == 0 && S_ISDIR(st.mode))) {
		path_basename(from, base, sizeof(base));
		rc = remote_join(to, base, into, sizeof(into));
		if (rc) {
			daxfs_close(fs);
			return cli_syserr("mv", argv[optind + 1], -rc);
		}
		memcpy(to, into, sizeof(to));
	}
	rc = daxfs_rename(fs, from, to, 0);
	daxfs_close(fs);
	if (rc) {
		snprintf(what, sizeof(what), "%s -> %s", from, to);
		return cli_fail("mv", what, rc);
	}
	return EXIT_OK;
}

/* --- truncate --- */

static const char truncate_usage[] =
	"usage: daxfs truncate SIZE PATH\n"
	"\n"
	"Set the size of file PATH to SIZE bytes (K, M, G, T suffixes: powers of 1024).\n"
	"Growing leaves a hole that reads as zeros; shrinking frees the blocks past the end.\n";

int cmd_truncate(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char path[CLI_PATH_MAX];
	struct daxfs *fs;
	uint64_t size;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(truncate_usage, stdout);
			return EXIT_OK;
		default:
			fputs(truncate_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 2) {
		fputs(truncate_usage, stderr);
		return EXIT_USAGE;
	}
	if (parse_size(argv[optind], &size)) {
		cli_err("truncate", "bad size '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	rc = open_path("truncate", ctx, argv[optind + 1], path, &fs);
	if (rc)
		return rc;
	rc = daxfs_truncate(fs, path, size);
	daxfs_close(fs);
	if (rc)
		return cli_fail("truncate", argv[optind + 1], rc);
	return EXIT_OK;
}
