// SPDX-License-Identifier: MIT
/*
 * The media: badblocks (what is quarantined and which file page it hit), scrub (read every
 * block in use), and inject (the fault-injection requests of a daemon started with
 * --fault-injection).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include <daxfs/daxfs.h>

#include "daxfs.h"
#include "fault.h"
#include "util.h"

/* --- badblocks --- */

/*
 * The paths of the inodes a bad-block list names, found by walking the tree once: every
 * one, from the root, as a file with hard links has several.
 */
struct names {
	char **v;
	size_t n;
};

struct ino_paths {
	struct daxfs *fs;
	uint64_t *ino;	    /* sorted, unique */
	struct names *path; /* the paths of ino[i] (none when not found) */
	size_t n;
	char cur[CLI_PATH_MAX];
	int err;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int walk_dir(struct ino_paths *p);

static int on_entry(void *ctx, const char *name, uint64_t ino, uint32_t mode)
{
	struct ino_paths *p = ctx;
	size_t len = strlen(p->cur);
	char dir[CLI_PATH_MAX];
	uint64_t *hit;

	/* (remote_join must not write over the directory it reads.) */
	memcpy(dir, p->cur, len + 1);
	if (remote_join(len ? dir : "/", name, p->cur, sizeof(p->cur)) < 0) {
		p->cur[len] = '\0';
		return 0; /* too deep to name: leave it unnamed */
	}
	hit = bsearch(&ino, p->ino, p->n, sizeof(ino), cmp_u64);
	if (hit) {
		struct names *nm = &p->path[hit - p->ino];
		char **v = realloc(nm->v, (nm->n + 1) * sizeof(*v));

		if (v)
			nm->v = v;
		if (!v || !(nm->v[nm->n] = strdup(p->cur)))
			p->err = -ENOMEM;
		else
			nm->n++;
	}
	if (S_ISDIR(mode) && !p->err)
		walk_dir(p);
	p->cur[len] = '\0';
	return p->err;
}

static int walk_dir(struct ino_paths *p)
{
	int rc = daxfs_readdir(p->fs, p->cur[0] ? p->cur : "/", on_entry, p);

	/* A directory removed or made unreadable meanwhile only leaves its files unnamed. */
	if (rc == -ENOENT || rc == -EACCES || rc == -ENOTDIR)
		rc = 0;
	return rc ? rc : p->err;
}

/* name_inodes - paths for the owned entries of @bb. Return: 0; -errno. */
static int name_inodes(struct daxfs *fs, const struct daxfs_badblock *bb, size_t n,
		       struct ino_paths *p)
{
	memset(p, 0, sizeof(*p));
	p->fs = fs;
	p->ino = calloc(n ? n : 1, sizeof(*p->ino));
	p->path = calloc(n ? n : 1, sizeof(*p->path));
	if (!p->ino || !p->path)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (bb[i].flags & DAXFS_BADBLOCK_OWNED)
			p->ino[p->n++] = bb[i].ino;
	if (p->n == 0)
		return 0;
	qsort(p->ino, p->n, sizeof(*p->ino), cmp_u64);
	{
		size_t u = 1;

		for (size_t i = 1; i < p->n; i++)
			if (p->ino[i] != p->ino[u - 1])
				p->ino[u++] = p->ino[i];
		p->n = u;
	}
	return walk_dir(p);
}

/* paths_of - every path of @ino found (n == 0: none). */
static struct names paths_of(const struct ino_paths *p, uint64_t ino)
{
	uint64_t *hit = bsearch(&ino, p->ino, p->n, sizeof(ino), cmp_u64);

	return hit ? p->path[hit - p->ino] : (struct names){NULL, 0};
}

static void ino_paths_free(struct ino_paths *p)
{
	for (size_t i = 0; p->path && i < p->n; i++) {
		for (size_t k = 0; k < p->path[i].n; k++)
			free(p->path[i].v[k]);
		free(p->path[i].v);
	}
	free(p->path);
	free(p->ino);
}

static const char badblocks_usage[] =
	"usage: daxfs badblocks [--json]\n"
	"       daxfs badblocks clear --offset N --length N\n"
	"\n"
	"List the region's bad blocks: every quarantined range (a block found poisoned stays\n"
	"out of use, also across restarts, until it is cleared) with the file and file offset\n"
	"it hit while that page is not rewritten, and the metadata blocks (superblocks, log)\n"
	"found poisoned since the daemon started. Offsets and lengths are in bytes. Reading the\n"
	"file again gives EIO on a poisoned page until the whole page is rewritten.\n"
	"\n"
	"clear returns the quarantined range [N, N + length) (whole 4 KiB blocks, as listed;\n"
	"sizes take K, M, G) to use: the daemon clears the media errors there (the device's\n"
	"bad-block list through libpmem2; an emulated region has none), zeroes the blocks and\n"
	"reads them back. A range that still faults stays quarantined; so does a block a file\n"
	"page still sits on (rewrite that page or remove the file first). Root and the\n"
	"daemon's user only.\n"
	"Exit status: 0 (with or without bad blocks; cleared), 1 when the daemon cannot be\n"
	"asked or refuses, 2 for a bad command line.\n";

/* say_owners - a refused clear: which files still sit on the blocks of [off, off + len). */
static void say_owners(struct daxfs *fs, uint64_t off, uint64_t len)
{
	struct daxfs_badblock *bb = NULL;
	struct ino_paths names;
	size_t n = 0;

	if (daxfs_badblocks(fs, &bb, &n) || name_inodes(fs, bb, n, &names)) {
		free(bb);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct names nm = paths_of(&names, bb[i].ino);
		uint64_t lo = MAX(off, bb[i].region_off);
		uint64_t hi = MIN(off + len, bb[i].region_off + bb[i].len);

		if (!(bb[i].flags & DAXFS_BADBLOCK_OWNED) ||
		    (bb[i].flags & DAXFS_BADBLOCK_REPAIRED) || lo >= hi)
			continue;
		for (size_t k = 0; k < nm.n; k++)
			cli_err("badblocks",
				"region bytes %" PRIu64 "+%" PRIu64 " are %s at file "
				"offset %" PRIu64 ": rewrite those pages or remove the "
				"file first",
				lo, hi - lo, nm.v[k], bb[i].file_off + (lo - bb[i].region_off));
		if (!nm.n)
			cli_err("badblocks",
				"region bytes %" PRIu64 "+%" PRIu64 " are inode %" PRIu64
				" (no name) at file offset %" PRIu64,
				lo, hi - lo, bb[i].ino, bb[i].file_off + (lo - bb[i].region_off));
	}
	ino_paths_free(&names);
	free(bb);
}

static int badblocks_usage_err(const char *fmt, const char *arg)
{
	cli_err("badblocks", fmt, arg);
	fputs(badblocks_usage, stderr);
	return EXIT_USAGE;
}

/* badblocks_clear - daxfs badblocks clear --offset N --length N (argv[0] is "clear"). */
static int badblocks_clear(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{"offset", required_argument, NULL, 'o'},
		{"length", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint64_t off = 0, len = 0, blocks = 0;
	bool have_off = false, have_len = false;
	struct daxfs *fs;
	char what[64];
	int c, rc;

	optind = 0; /* glibc: start over (a new argv) */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			have_off = true;
			if (parse_size(optarg, &off))
				return badblocks_usage_err("bad --offset '%s'", optarg);
			break;
		case 'l':
			have_len = true;
			if (parse_size(optarg, &len) || len == 0)
				return badblocks_usage_err("bad --length '%s'", optarg);
			break;
		case 'h':
			fputs(badblocks_usage, stdout);
			return EXIT_OK;
		default:
			fputs(badblocks_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (!have_off || !have_len || optind != argc)
		return badblocks_usage_err("clear needs --offset N and --length N%s", "");
	if (off % 4096 || len % 4096)
		return badblocks_usage_err("clear takes whole 4 KiB blocks: offset and length "
					   "are multiples of 4096%s",
					   "");
	rc = cli_connect("badblocks", ctx, &fs);
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "clear %" PRIu64 "+%" PRIu64, off, len);
	rc = daxfs_badblock_clear(fs, off, len, &blocks);
	if (rc == -EBUSY)
		say_owners(fs, off, len);
	daxfs_close(fs);
	switch (rc) {
	case 0:
		break;
	case -EPERM:
		return cli_fail("badblocks", "clear: only root and the daemon's user may", rc);
	case -ENOENT:
		return cli_fail("badblocks",
				"clear: a block of the range is not quarantined "
				"(daxfs badblocks lists what is)",
				rc);
	case -EBUSY:
		return cli_fail("badblocks",
				"clear: a file page, or a dropped client, still holds "
				"a block of the range",
				rc);
	case -EIO:
		return cli_fail("badblocks", "clear: the range still faults; it stays quarantined",
				rc);
	case -EINVAL:
		return cli_fail("badblocks",
				"clear: the range is not in the data area (the "
				"superblocks and the log cannot be cleared here)",
				rc);
	default:
		return cli_fail("badblocks", what, rc);
	}
	if (ctx->json)
		printf("{\"cleared_blocks\":%" PRIu64 "}\n", blocks);
	else
		printf("%" PRIu64 " block%s returned to use\n", blocks, blocks == 1 ? "" : "s");
	return EXIT_OK;
}

int cmd_badblocks(int argc, char **argv, struct cli_ctx *ctx)
{
	struct daxfs_badblock *bb = NULL;
	struct ino_paths names;
	struct daxfs *fs;
	size_t n = 0;
	int rc;

	if (argc > 1 && strcmp(argv[1], "clear") == 0)
		return badblocks_clear(argc - 1, argv + 1, ctx);
	rc = cli_json_opts(argc, argv, ctx, badblocks_usage, 0);
	if (rc >= 0)
		return rc;
	rc = cli_connect("badblocks", ctx, &fs);
	if (rc)
		return rc;
	rc = daxfs_badblocks(fs, &bb, &n);
	if (rc) {
		daxfs_close(fs);
		return cli_fail("badblocks", ctx->socket_path, rc);
	}
	rc = name_inodes(fs, bb, n, &names);
	daxfs_close(fs);
	if (rc) {
		ino_paths_free(&names);
		free(bb);
		return cli_fail("badblocks", "naming the files hit", rc);
	}
	if (ctx->json) {
		json_object *a = json_object_new_array();

		for (size_t i = 0; i < n; i++) {
			json_object *x = json_object_new_object();
			struct names nm = paths_of(&names, bb[i].ino);
			bool owned = bb[i].flags & DAXFS_BADBLOCK_OWNED;

			json_object_object_add(x, "region_offset",
					       json_object_new_uint64(bb[i].region_off));
			json_object_object_add(x, "length", json_object_new_uint64(bb[i].len));
			json_object_object_add(
				x, "metadata",
				json_object_new_boolean(bb[i].flags & DAXFS_BADBLOCK_METADATA));
			json_object_object_add(
				x, "repaired",
				json_object_new_boolean(bb[i].flags & DAXFS_BADBLOCK_REPAIRED));
			if (owned) {
				json_object_object_add(x, "ino", json_object_new_uint64(bb[i].ino));
				json_object_object_add(x, "file_offset",
						       json_object_new_uint64(bb[i].file_off));
				if (nm.n) {
					json_object *ps = json_object_new_array();

					for (size_t k = 0; k < nm.n; k++)
						json_object_array_add(
							ps, json_object_new_string(nm.v[k]));
					json_object_object_add(x, "path",
							       json_object_new_string(nm.v[0]));
					json_object_object_add(x, "paths", ps);
				}
			}
			json_object_array_add(a, x);
		}
		cli_print_json(a, true);
	} else if (n == 0) {
		printf("no bad blocks\n");
	} else {
		printf("%16s %12s  %s\n", "region offset", "length", "hit");
		for (size_t i = 0; i < n; i++) {
			struct names nm = paths_of(&names, bb[i].ino);

			printf("%16" PRIu64 " %12" PRIu64 "  ", bb[i].region_off, bb[i].len);
			if (bb[i].flags & DAXFS_BADBLOCK_REPAIRED)
				printf("repaired from the replica: ");
			if (bb[i].flags & DAXFS_BADBLOCK_METADATA)
				printf("metadata (superblock or log)\n");
			else if (!(bb[i].flags & DAXFS_BADBLOCK_OWNED))
				printf("no file (free space, or the page was rewritten)\n");
			else if (nm.n)
				/* One line per name: a file with hard links has several. */
				for (size_t k = 0; k < nm.n; k++)
					printf("%s%s at file offset %" PRIu64 "\n",
					       k ? "                               " : "", nm.v[k],
					       bb[i].file_off);
			else
				printf("inode %" PRIu64 " (no name) at file offset %" PRIu64 "\n",
				       bb[i].ino, bb[i].file_off);
		}
	}
	ino_paths_free(&names);
	free(bb);
	return EXIT_OK;
}

/* --- scrub --- */

static const char scrub_usage[] =
	"usage: daxfs scrub [--compare] [--json]\n"
	"\n"
	"Have the daemon read every block in use, catching media errors as it goes: each one\n"
	"found is quarantined and the clients mapping it are told, as for any poison (or, with\n"
	"a replica, repaired from it). Only root and the daemon's user may scrub. It reads all\n"
	"the data in use (about a second per few GiB), a range of the region per request,\n"
	"showing its progress on a terminal. With a replica, its copy is read too, and a block\n"
	"poisoned there is repaired from the region.\n"
	"\n"
	"  --compare   also compare the replica's copy of each block with the region's, and\n"
	"              list those that differ (pages mapped for writing are left out: their\n"
	"              stores reach the replica when the client persists them)\n"
	"\n"
	"Exit status: 0 (nothing new found), 3 (new bad blocks found: see daxfs badblocks; or\n"
	"copies that differ), 1 on failure.\n";

/* scrub_progress - the daemon scrubbed up to @done bytes of the @total of its data area. */
static void scrub_progress(void *ctx, uint64_t done, uint64_t total,
			   const struct daxfs_scrub_result *so_far)
{
	struct progress *pr = ctx;

	(void)so_far;
	pr->total = total;
	progress_update(pr, done);
}

/* replica_progress - as scrub_progress, for the replica's copy. */
static void replica_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct progress *pr = ctx;

	pr->total = total;
	progress_update(pr, done);
}

/* scrub_replica - the replica's part of daxfs scrub. Return: 0, 1 (no replica), -errno. */
static int scrub_replica(struct daxfs *fs, struct cli_ctx *ctx, bool compare,
			 struct daxfs_replica_scrub *rres)
{
	struct daxfs_replica st;
	struct progress pr = {0};
	int rc;

	rc = daxfs_replica_status(fs, &st);
	if (rc)
		return rc;
	if (st.state == DAXFS_REPLICA_NONE || !st.path[0])
		return 1;
	progress_begin(&pr, ctx->progress, "scrub of the replica", 0, true);
	rc = daxfs_scrub_replica(fs, compare ? DAXFS_SCRUB_COMPARE : 0, rres, replica_progress,
				 &pr);
	progress_end(&pr);
	return rc == -ENODATA ? 1 : rc;
}

int cmd_scrub(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{"compare", no_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct daxfs_replica_scrub rres = {0};
	struct daxfs_scrub_result res;
	struct progress pr = {0};
	bool compare = false;
	struct daxfs *fs;
	char b[32];
	int c, rc, rrc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "cjh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			compare = true;
			break;
		case 'j':
			ctx->json = true;
			break;
		case 'h':
			fputs(scrub_usage, stdout);
			return EXIT_OK;
		default:
			fputs(scrub_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(scrub_usage, stderr);
		return EXIT_USAGE;
	}
	rc = cli_connect("scrub", ctx, &fs);
	if (rc)
		return rc;
	/* The total comes with the first range the daemon scrubbed. */
	progress_begin(&pr, ctx->progress, "scrub", 0, true);
	rc = daxfs_scrub_progress(fs, &res, scrub_progress, &pr);
	progress_end(&pr);
	rrc = rc ? 0 : scrub_replica(fs, ctx, compare, &rres);
	daxfs_close(fs);
	if (rc)
		return cli_fail("scrub", ctx->socket_path, rc);
	if (rrc < 0)
		return cli_fail("scrub", "the replica", rrc);
	if (rrc == 1 && compare) {
		cli_err("scrub", "the region has no replica to compare with");
		return EXIT_FAIL;
	}
	if (ctx->json) {
		json_object *j = json_object_new_object();

		json_object_object_add(j, "blocks_read", json_object_new_uint64(res.blocks_read));
		json_object_object_add(j, "bytes_read", json_object_new_uint64(res.bytes_read));
		json_object_object_add(j, "blocks_bad", json_object_new_uint64(res.blocks_bad));
		json_object_object_add(j, "usec", json_object_new_uint64(res.usec));
		if (rrc == 0) {
			json_object *r = json_object_new_object(), *d = json_object_new_array();

			json_object_object_add(r, "blocks_read",
					       json_object_new_uint64(rres.blocks_read));
			json_object_object_add(r, "blocks_bad",
					       json_object_new_uint64(rres.blocks_bad));
			json_object_object_add(r, "blocks_unrepaired",
					       json_object_new_uint64(rres.blocks_unrepaired));
			json_object_object_add(r, "blocks_skipped",
					       json_object_new_uint64(rres.blocks_skipped));
			if (compare) {
				json_object_object_add(r, "differ",
						       json_object_new_uint64(rres.differ));
				for (size_t i = 0; i < rres.ndiff; i++)
					json_object_array_add(d,
							      json_object_new_uint64(rres.diff[i]));
				json_object_object_add(r, "differ_offsets", d);
			} else {
				json_object_put(d);
			}
			json_object_object_add(j, "replica", r);
		}
		cli_print_json(j, true);
	} else {
		printf("read %" PRIu64 " blocks (%s) in %" PRIu64 " ms: %" PRIu64
		       " newly found bad\n",
		       res.blocks_read, format_size(res.bytes_read, b, sizeof(b)), res.usec / 1000,
		       res.blocks_bad);
		if (rrc == 0) {
			printf("replica: read %" PRIu64 " blocks: %" PRIu64
			       " poisoned there, repaired from the region",
			       rres.blocks_read, rres.blocks_bad);
			if (rres.blocks_unrepaired)
				printf(" (%" PRIu64 " could not be)", rres.blocks_unrepaired);
			if (rres.blocks_skipped)
				printf("; %" PRIu64 " not copied to it yet", rres.blocks_skipped);
			printf("\n");
			if (compare)
				printf("compared: %" PRIu64 " blocks differ\n", rres.differ);
			for (size_t i = 0; i < rres.ndiff; i++)
				printf("  differs at region offset %" PRIu64 "\n", rres.diff[i]);
			if (rres.differ > rres.ndiff)
				printf("  (and %" PRIu64 " more)\n", rres.differ - rres.ndiff);
		}
	}
	return res.blocks_bad || rres.blocks_unrepaired || rres.differ ? EXIT_DAMAGE : EXIT_OK;
}

/* --- inject --- */

static const char inject_usage[] =
	"usage: daxfs inject poison --offset N --length N\n"
	"       daxfs inject media --offset N --length N\n"
	"       daxfs inject replica --offset N --length N\n"
	"       daxfs inject fail POINT [--count N] [--errno E]\n"
	"       daxfs inject delay POINT USEC\n"
	"       daxfs inject crash POINT\n"
	"       daxfs inject crash --persist N\n"
	"       daxfs inject clear\n"
	"       daxfs inject points\n"
	"\n"
	"Fault injection, for tests: only a daemon started with --fault-injection accepts\n"
	"these (others answer EPERM), and only from root or the daemon's user.\n"
	"  poison   poison region bytes [N, N + length) as a media error would (sizes take\n"
	"           K, M, G): they fault when read from now on and the daemon quarantines\n"
	"           them; prints how many blocks were newly quarantined\n"
	"  media    the same media error, but the daemon is not told: it finds out when it\n"
	"           reads those bytes (a copy read, a scrub, checking a client's report)\n"
	"  replica  the same in the replica's copy of those bytes (a daemon with a replica)\n"
	"  fail     make POINT fail the next N times (default 1; 0: until cleared) with errno\n"
	"           E (a number or a name such as EIO, ENOSPC; default EIO)\n"
	"  delay    sleep USEC microseconds (at most 10 s) each time POINT is passed\n"
	"  crash    abort the daemon when POINT is passed, or at the Nth persist from now\n"
	"  clear    forget every fail, delay and crash\n"
	"  points   list the named points (docs/fault-injection.md describes them)\n";

static const struct {
	const char *name;
	int err;
} errnames[] = {
	{"EIO", EIO},	    {"ENOSPC", ENOSPC}, {"ENOMEM", ENOMEM}, {"EAGAIN", EAGAIN},
	{"EPIPE", EPIPE},   {"EROFS", EROFS},	{"EINTR", EINTR},   {"ECONNRESET", ECONNRESET},
	{"EDQUOT", EDQUOT}, {"EBUSY", EBUSY},
};

/* parse_u64 - a decimal number, all of @s. Return: 0; -EINVAL. */
static int parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_errno(const char *s, uint64_t *out)
{
	uint64_t v;

	for (size_t i = 0; i < ARRAY_SIZE(errnames); i++) {
		if (strcmp(s, errnames[i].name) == 0) {
			*out = (uint64_t)errnames[i].err;
			return 0;
		}
	}
	if (parse_u64(s, &v) || v < 1 || v > 4095)
		return -EINVAL;
	*out = v;
	return 0;
}

static int inject_usage_err(const char *fmt, const char *arg)
{
	cli_err("inject", fmt, arg);
	fputs(inject_usage, stderr);
	return EXIT_USAGE;
}

int cmd_inject(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{"offset", required_argument, NULL, 'o'},
		{"length", required_argument, NULL, 'l'},
		{"count", required_argument, NULL, 'c'},
		{"errno", required_argument, NULL, 'e'},
		{"persist", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool have_off = false, have_len = false, have_persist = false;
	uint64_t off = 0, len = 0, count = 1, err = EIO, persist = 0, value = 0, usec = 0;
	uint64_t a0 = 0, a1 = 0; /* the request's arguments (see enum daxfs_inject_kind) */
	enum daxfs_inject_kind kind;
	const char *sub, *point = NULL;
	struct daxfs *fs;
	int c, rc, nargs;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(inject_usage, stdout);
			return EXIT_OK;
		}
		return inject_usage_err("options come after the subcommand%s", "");
	}
	if (optind >= argc)
		return inject_usage_err("which fault?%s", "");
	sub = argv[optind];
	/* The subcommand's own options, anywhere among its arguments: parse its argv afresh. */
	argc -= optind;
	argv += optind;
	optind = 0; /* glibc: start over (a new argv, permutation state reset) */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			have_off = true;
			if (parse_size(optarg, &off))
				return inject_usage_err("bad --offset '%s'", optarg);
			break;
		case 'l':
			have_len = true;
			if (parse_size(optarg, &len) || len == 0)
				return inject_usage_err("bad --length '%s'", optarg);
			break;
		case 'c':
			if (parse_u64(optarg, &count))
				return inject_usage_err("bad --count '%s'", optarg);
			break;
		case 'e':
			if (parse_errno(optarg, &err))
				return inject_usage_err("bad --errno '%s' (a number 1..4095 or a "
							"name such as EIO)",
							optarg);
			break;
		case 'p':
			have_persist = true;
			if (parse_u64(optarg, &persist) || persist == 0)
				return inject_usage_err("bad --persist '%s' (1 or more)", optarg);
			break;
		case 'h':
			fputs(inject_usage, stdout);
			return EXIT_OK;
		default:
			fputs(inject_usage, stderr);
			return EXIT_USAGE;
		}
	}
	nargs = argc - optind;
	if (strcmp(sub, "points") == 0) {
		if (nargs)
			return inject_usage_err("points takes no argument%s", "");
		for (int p = 0; p < FAULT_COUNT; p++)
			printf("%-20s %s%scrash\n", fault_point_name(p),
			       fault_can_fail(p) ? "fail, " : "",
			       fault_can_delay(p) ? "delay, " : "");
		return EXIT_OK;
	} else if (strcmp(sub, "poison") == 0 || strcmp(sub, "media") == 0 ||
		   strcmp(sub, "replica") == 0) {
		if (!have_off || !have_len || nargs)
			return inject_usage_err("%s needs --offset N and --length N", sub);
		kind = sub[0] == 'p'   ? DAXFS_INJECT_POISON
		       : sub[0] == 'm' ? DAXFS_INJECT_MEDIA
				       : DAXFS_INJECT_REPLICA;
		a0 = off;
		a1 = len;
	} else if (strcmp(sub, "fail") == 0) {
		if (nargs != 1)
			return inject_usage_err("fail needs one POINT%s", "");
		kind = DAXFS_INJECT_FAIL;
		point = argv[optind];
		a0 = count;
		a1 = err;
	} else if (strcmp(sub, "delay") == 0) {
		if (nargs != 2 || parse_u64(argv[optind + 1], &usec))
			return inject_usage_err("delay needs POINT and USEC%s", "");
		kind = DAXFS_INJECT_DELAY;
		point = argv[optind];
		a0 = usec;
	} else if (strcmp(sub, "crash") == 0) {
		if ((nargs == 1) == have_persist)
			return inject_usage_err("crash needs a POINT or --persist N%s", "");
		kind = DAXFS_INJECT_CRASH;
		point = have_persist ? NULL : argv[optind];
		a0 = persist;
	} else if (strcmp(sub, "clear") == 0) {
		if (nargs)
			return inject_usage_err("clear takes no argument%s", "");
		kind = DAXFS_INJECT_CLEAR;
	} else {
		return inject_usage_err("unknown fault '%s'", sub);
	}
	if (point && fault_point_lookup(point) < 0) {
		cli_err("inject", "no point is named '%s'; 'daxfs inject points' lists them",
			point);
		return EXIT_USAGE;
	}
	rc = cli_connect("inject", ctx, &fs);
	if (rc)
		return rc;
	rc = daxfs_inject(fs, kind, point, a0, a1, &value);
	daxfs_close(fs);
	if (rc == -EPERM)
		return cli_fail("inject",
				"refused (the daemon runs without --fault-injection, or this "
				"user is neither root nor the daemon's)",
				rc);
	if (rc)
		return cli_fail("inject", sub, rc);
	if (kind == DAXFS_INJECT_POISON)
		printf("%" PRIu64 " block%s newly quarantined\n", value, value == 1 ? "" : "s");
	return EXIT_OK;
}
