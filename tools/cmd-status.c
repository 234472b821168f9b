// SPDX-License-Identifier: MIT
/*
 * The daemon's view of the region: status and df.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>

#include <daxfs/daxfs.h>

#include "daxfs.h"
#include "util.h"

#define JSON_U64(obj, key, v) json_object_object_add((obj), (key), json_object_new_uint64(v))

/* Parse the options status and df share (--json, --help); return -1 to go on. */
/* Connect and ask STATFS; report failures as @cmd. */
static int get_statfs(const char *cmd, struct cli_ctx *ctx, struct daxfs_statfs *sf)
{
	struct daxfs *fs;
	int rc;

	rc = cli_connect(cmd, ctx, &fs);
	if (rc)
		return rc;
	rc = daxfs_statfs(fs, sf);
	if (rc)
		rc = cli_fail(cmd, ctx->socket_path, rc);
	daxfs_close(fs);
	return rc;
}

/* get_status - STATFS and REPLICA on one connection. */
static int get_status(struct cli_ctx *ctx, struct daxfs_statfs *sf, struct daxfs_replica *rep)
{
	struct daxfs *fs;
	int rc;

	rc = cli_connect("status", ctx, &fs);
	if (rc)
		return rc;
	rc = daxfs_statfs(fs, sf);
	if (rc == 0)
		rc = daxfs_replica_status(fs, rep);
	if (rc)
		rc = cli_fail("status", ctx->socket_path, rc);
	daxfs_close(fs);
	return rc;
}

const char *cli_replica_state(enum daxfs_replica_state s)
{
	switch (s) {
	case DAXFS_REPLICA_NONE:
		return "none";
	case DAXFS_REPLICA_INSYNC:
		return "in sync";
	case DAXFS_REPLICA_RESYNCING:
		return "resyncing";
	case DAXFS_REPLICA_DEGRADED:
		return "degraded";
	}
	return "unknown";
}

/* The replica line of status. */
static void print_replica(const struct daxfs_replica *rep)
{
	switch (rep->state) {
	case DAXFS_REPLICA_NONE:
		printf("replica      none\n");
		return;
	case DAXFS_REPLICA_INSYNC:
		printf("replica      %s, in sync", rep->path);
		break;
	case DAXFS_REPLICA_RESYNCING:
		printf("replica      %s, resyncing: %" PRIu64 "%% copied", rep->path,
		       rep->size ? rep->synced * 100 / rep->size : 0);
		break;
	case DAXFS_REPLICA_DEGRADED:
		printf("replica      degraded: %s%s%s", rep->why, rep->path[0] ? ", " : "",
		       rep->path);
		break;
	}
	if (rep->reads || rep->repaired)
		printf("; %" PRIu64 " blocks read from it, %" PRIu64 " repaired", rep->reads,
		       rep->repaired);
	printf("\n");
}

static const char *trust_name(int trust)
{
	switch (trust) {
	case 0:
		return "none";
	case 1:
		return "read-only";
	case 2:
		return "read-write";
	default:
		return "unknown";
	}
}

static const char *trust_text(int trust)
{
	switch (trust) {
	case 0:
		return "none (copy I/O only)";
	case 1:
		return "read-only mappings";
	case 2:
		return "read-write mappings";
	default:
		return "unknown";
	}
}

static uint64_t used_blocks(const struct daxfs_statfs *sf)
{
	uint64_t spare = sf->blocks_free + sf->blocks_quarantined;

	return sf->blocks > spare ? sf->blocks - spare : 0;
}

/* One "name  1.5 MiB (384 blocks)" line of status. */
static void print_blocks(const char *name, uint64_t blocks, uint64_t bs)
{
	char b[32];

	printf("%-12s %s (%" PRIu64 " block%s)\n", name, format_size(blocks * bs, b, sizeof(b)),
	       blocks, blocks == 1 ? "" : "s");
}

static const char status_usage[] =
	"usage: daxfs status [--json]\n"
	"\n"
	"Connect to daxfsd and show its region: its kind (devdax, fsdax, emulated), what a\n"
	"persist flushes (byte, cache line or page granularity), the unit of a mapping, the\n"
	"size of its data area (the region less\n"
	"superblocks and metadata log), used, free and quarantined space, the part of the free\n"
	"space (and of the log) only root and the daemon's user may use, the number of files\n"
	"and directories, how full the metadata log is, and what zero-copy mapping this user\n"
	"is trusted with (none: copy I/O only; read-only; read-write), and the replica: none,\n"
	"in sync, resyncing (how much is copied), or degraded (and why), with the blocks read\n"
	"from it in place of poisoned ones and repaired from it.\n"
	"Exit status: 0, or 1 when the daemon cannot be reached.\n";

int cmd_status(int argc, char **argv, struct cli_ctx *ctx)
{
	struct daxfs_replica rep;
	struct daxfs_statfs sf;
	char b1[32], b2[32], b3[32];
	uint64_t bs;
	int rc;

	rc = cli_json_opts(argc, argv, ctx, status_usage, 0);
	if (rc >= 0)
		return rc;
	rc = get_status(ctx, &sf, &rep);
	if (rc)
		return rc;
	bs = sf.block_size;
	if (ctx->json) {
		json_object *j = json_object_new_object();

		json_object_object_add(j, "socket", json_object_new_string(ctx->socket_path));
		JSON_U64(j, "block_size", bs);
		JSON_U64(j, "blocks", sf.blocks);
		JSON_U64(j, "blocks_free", sf.blocks_free);
		JSON_U64(j, "blocks_quarantined", sf.blocks_quarantined);
		JSON_U64(j, "blocks_reserved", sf.blocks_reserved);
		JSON_U64(j, "size", sf.blocks * bs);
		JSON_U64(j, "used", used_blocks(&sf) * bs);
		JSON_U64(j, "free", sf.blocks_free * bs);
		JSON_U64(j, "quarantined", sf.blocks_quarantined * bs);
		JSON_U64(j, "files", sf.files);
		JSON_U64(j, "files_free", sf.files_free);
		JSON_U64(j, "log_used", sf.log_used);
		JSON_U64(j, "log_len", sf.log_len);
		JSON_U64(j, "log_reserved", sf.log_reserved);
		json_object_object_add(j, "map_trust",
				       json_object_new_string(trust_name(sf.map_trust)));
		json_object_object_add(j, "kind", json_object_new_string(sf.kind));
		json_object_object_add(j, "granularity", json_object_new_string(sf.granularity));
		JSON_U64(j, "alignment", sf.alignment);
		{
			json_object *r = json_object_new_object();

			json_object_object_add(
				r, "state", json_object_new_string(cli_replica_state(rep.state)));
			if (rep.path[0])
				json_object_object_add(r, "path", json_object_new_string(rep.path));
			if (rep.why[0])
				json_object_object_add(r, "why", json_object_new_string(rep.why));
			JSON_U64(r, "synced", rep.synced);
			JSON_U64(r, "size", rep.size);
			JSON_U64(r, "percent", rep.size ? rep.synced * 100 / rep.size : 0);
			JSON_U64(r, "reads", rep.reads);
			JSON_U64(r, "repaired", rep.repaired);
			json_object_object_add(j, "replica", r);
		}
		cli_print_json(j, true);
		return EXIT_OK;
	}
	printf("daemon       %s\n", ctx->socket_path);
	printf("region       %s, persists by %s, mapped in units of %s\n", sf.kind, sf.granularity,
	       format_size(sf.alignment, b1, sizeof(b1)));
	printf("size         %s (%" PRIu64 " blocks of %" PRIu64 " bytes)\n",
	       format_size(sf.blocks * bs, b1, sizeof(b1)), sf.blocks, bs);
	print_blocks("used", used_blocks(&sf), bs);
	print_blocks("free", sf.blocks_free, bs);
	print_blocks("quarantined", sf.blocks_quarantined, bs);
	print_blocks("reserved", sf.blocks_reserved, bs);
	printf("files        %" PRIu64 " (room for %" PRIu64 " more in the metadata log)\n",
	       sf.files, sf.files_free);
	printf("log          %s of %s used, %s reserved\n",
	       format_size(sf.log_used, b1, sizeof(b1)), format_size(sf.log_len, b2, sizeof(b2)),
	       format_size(sf.log_reserved, b3, sizeof(b3)));
	printf("map trust    %s\n", trust_text(sf.map_trust));
	print_replica(&rep);
	return EXIT_OK;
}

static const char df_usage[] =
	"usage: daxfs df [-i] [--json]\n"
	"\n"
	"Show the space of the daemon's region, as df does: size, used, free, quarantined\n"
	"(poisoned blocks kept out of use), reserved (the part of free that only root and the\n"
	"daemon's user may use, as ext4 reserves blocks) and the percentage used,\n"
	"used / (used + free).\n"
	"\n"
	"  -i, --inodes   the namespace's capacity instead: files and directories used, and\n"
	"                 how many more empty files the metadata log's snapshot has room for\n"
	"                 (a checkpoint writes the whole namespace into one log area; names\n"
	"                 longer than 16 bytes, and each run of a file's blocks, take more;\n"
	"                 daxfs(1) explains it)\n";

/* df_inodes - daxfs df -i: as df -i, the namespace's capacity. */
static int df_inodes(const struct cli_ctx *ctx, const struct daxfs_statfs *sf)
{
	uint64_t total = sf->files + sf->files_free;
	uint64_t pct = total ? (sf->files * 100 + total - 1) / total : 0;

	if (ctx->json) {
		json_object *j = json_object_new_object();

		json_object_object_add(j, "socket", json_object_new_string(ctx->socket_path));
		JSON_U64(j, "inodes", total);
		JSON_U64(j, "used", sf->files);
		JSON_U64(j, "free", sf->files_free);
		JSON_U64(j, "use_percent", pct);
		cli_print_json(j, true);
		return EXIT_OK;
	}
	printf("%-24s %12s %12s %12s %5s\n", "Daemon", "Inodes", "IUsed", "IFree", "IUse%");
	printf("%-24s %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %4" PRIu64 "%%\n", ctx->socket_path,
	       total, sf->files, sf->files_free, pct);
	return EXIT_OK;
}

int cmd_df(int argc, char **argv, struct cli_ctx *ctx)
{
	struct daxfs_statfs sf;
	char b1[32], b2[32], b3[32], b4[32], b5[32], pct[8];
	uint64_t bs, used, avail;
	int rc;

	static const struct option opts[] = {
		{"inodes", no_argument, NULL, 'i'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool inodes = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "ih", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			inodes = true;
			break;
		case 'j':
			ctx->json = true;
			break;
		case 'h':
			fputs(df_usage, stdout);
			return EXIT_OK;
		default:
			fputs(df_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(df_usage, stderr);
		return EXIT_USAGE;
	}
	rc = get_statfs("df", ctx, &sf);
	if (rc)
		return rc;
	if (inodes)
		return df_inodes(ctx, &sf);
	bs = sf.block_size;
	used = used_blocks(&sf);
	avail = used + sf.blocks_free;
	/* Rounded up, as df does: any use shows as at least 1%. */
	if (avail)
		snprintf(pct, sizeof(pct), "%" PRIu64 "%%", (used * 100 + avail - 1) / avail);
	else
		snprintf(pct, sizeof(pct), "-");
	if (ctx->json) {
		json_object *j = json_object_new_object();

		json_object_object_add(j, "socket", json_object_new_string(ctx->socket_path));
		JSON_U64(j, "block_size", bs);
		JSON_U64(j, "size", sf.blocks * bs);
		JSON_U64(j, "used", used * bs);
		JSON_U64(j, "free", sf.blocks_free * bs);
		JSON_U64(j, "quarantined", sf.blocks_quarantined * bs);
		JSON_U64(j, "reserved", sf.blocks_reserved * bs);
		JSON_U64(j, "use_percent", avail ? (used * 100 + avail - 1) / avail : 0);
		cli_print_json(j, true);
		return EXIT_OK;
	}
	printf("%-24s %10s %10s %10s %11s %10s %4s\n", "Daemon", "Size", "Used", "Free",
	       "Quarantined", "Reserved", "Use%");
	printf("%-24s %10s %10s %10s %11s %10s %4s\n", ctx->socket_path,
	       format_size(sf.blocks * bs, b1, sizeof(b1)), format_size(used * bs, b2, sizeof(b2)),
	       format_size(sf.blocks_free * bs, b3, sizeof(b3)),
	       format_size(sf.blocks_quarantined * bs, b4, sizeof(b4)),
	       format_size(sf.blocks_reserved * bs, b5, sizeof(b5)), pct);
	return EXIT_OK;
}
