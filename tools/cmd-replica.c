// SPDX-License-Identifier: MIT
/*
 * daxfs replica - the region's replica (DESIGN §13): add one while the daemon serves the
 * region, remove it, or show how it stands.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <daxfs/daxfs.h>

#include "daxfs.h"

static const char replica_usage[] =
	"usage: daxfs replica [status] [--json]\n"
	"       daxfs replica add PATH\n"
	"       daxfs replica remove\n"
	"\n"
	"status (the default) shows the region's replica: none, in sync, resyncing (how much\n"
	"is copied), or degraded (and why).\n"
	"add attaches PATH, a device or file of the region's size and kind, as its replica\n"
	"while daxfsd serves it: every write reaches it from then on, and the region is\n"
	"copied to it in the background. A PATH that holds another daxfs file system is\n"
	"refused. remove detaches it; the region no longer needs one. Both are for root or\n"
	"the daemon's user. Start daxfsd with --replica PATH (or 'replica =') to keep the\n"
	"replica across restarts.\n";

static int show(struct daxfs *fs, struct cli_ctx *ctx)
{
	struct daxfs_replica r;
	int rc = daxfs_replica_status(fs, &r);

	if (rc)
		return cli_fail("replica", ctx->socket_path, rc);
	if (ctx->json) {
		json_object *j = json_object_new_object();

		json_object_object_add(j, "state",
				       json_object_new_string(cli_replica_state(r.state)));
		if (r.path[0])
			json_object_object_add(j, "path", json_object_new_string(r.path));
		if (r.why[0])
			json_object_object_add(j, "why", json_object_new_string(r.why));
		json_object_object_add(j, "synced", json_object_new_uint64(r.synced));
		json_object_object_add(j, "size", json_object_new_uint64(r.size));
		json_object_object_add(j, "reads", json_object_new_uint64(r.reads));
		json_object_object_add(j, "repaired", json_object_new_uint64(r.repaired));
		cli_print_json(j, true);
		return EXIT_OK;
	}
	switch (r.state) {
	case DAXFS_REPLICA_NONE:
		printf("no replica\n");
		break;
	case DAXFS_REPLICA_INSYNC:
		printf("%s: in sync\n", r.path);
		break;
	case DAXFS_REPLICA_RESYNCING:
		printf("%s: resyncing, %" PRIu64 "%% copied\n", r.path,
		       r.size ? r.synced * 100 / r.size : 0);
		break;
	case DAXFS_REPLICA_DEGRADED:
		printf("degraded: %s\n", r.why);
		break;
	}
	if (r.reads || r.repaired)
		printf("%" PRIu64 " blocks read from it in place of poisoned ones, %" PRIu64
		       " repaired from it\n",
		       r.reads, r.repaired);
	return EXIT_OK;
}

static int add(struct daxfs *fs, struct cli_ctx *ctx, const char *arg)
{
	char path[PATH_MAX];
	int rc;

	/* The daemon opens it: an absolute path, the one this shell means. */
	if (!realpath(arg, path))
		return cli_syserr("replica add", arg, errno);
	rc = daxfs_replica_add(fs, path);
	switch (rc) {
	case 0:
		if (!ctx->json)
			printf("replica %s added; the region is being copied to it (daxfs replica "
			       "shows the progress)\n",
			       path);
		return EXIT_OK;
	case -EINVAL:
		cli_err("replica add",
			"daxfsd refused %s: a replica must be another device or file of the "
			"region's size and kind, and not hold another daxfs file system (daxfsd's "
			"log says which)",
			path);
		return EXIT_FAIL;
	case -EEXIST:
		cli_err("replica add", "the region has a replica already: remove it first");
		return EXIT_FAIL;
	default:
		return cli_fail("replica add", path, rc);
	}
}

int cmd_replica(int argc, char **argv, struct cli_ctx *ctx)
{
	const char *sub;
	struct daxfs *fs;
	int rc, args;

	rc = cli_json_opts(argc, argv, ctx, replica_usage, -1);
	if (rc >= 0)
		return rc;
	args = argc - optind;
	sub = args ? argv[optind] : "status";
	if (!((!strcmp(sub, "status") && args <= 1) || (!strcmp(sub, "add") && args == 2) ||
	      (!strcmp(sub, "remove") && args == 1))) {
		fputs(replica_usage, stderr);
		return EXIT_USAGE;
	}
	rc = cli_connect("replica", ctx, &fs);
	if (rc)
		return rc;
	if (!strcmp(sub, "status")) {
		rc = show(fs, ctx);
	} else if (!strcmp(sub, "add")) {
		rc = add(fs, ctx, argv[optind + 1]);
	} else {
		rc = daxfs_replica_remove(fs);
		if (rc == -ENOENT) {
			cli_err("replica remove", "the region has no replica");
			rc = EXIT_FAIL;
		} else if (rc) {
			rc = cli_fail("replica remove", ctx->socket_path, rc);
		} else {
			if (!ctx->json)
				printf("replica removed\n");
			rc = EXIT_OK;
		}
	}
	daxfs_close(fs);
	return rc;
}
