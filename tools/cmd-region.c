// SPDX-License-Identifier: MIT
/*
 * Offline commands on a region: mkfs and check.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "check.h"
#include "daxfs.h"
#include "namespace.h"
#include "util.h"

static const char mkfs_usage[] =
	"usage: daxfs mkfs [--size SIZE] [--log-size SIZE] [--replica REPLICA] [--force] PATH\n"
	"\n"
	"Format PATH as a daxfs region. PATH is a device-DAX device, a file on a -o dax\n"
	"file system, or an ordinary file (an emulated region). With --size, a PATH that\n"
	"does not exist is created as an emulated region of SIZE bytes (K, M, G, T suffixes).\n"
	"A region that already holds daxfs is refused unless --force is given.\n"
	"\n"
	"With --replica, REPLICA is formatted with it as its replica: a device or file of the\n"
	"same size and kind (with --size, a REPLICA that does not exist is created too). Start\n"
	"daxfsd with --replica REPLICA (or 'replica =' in its configuration) to keep it.\n";

int cmd_mkfs(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{"size", required_argument, NULL, 's'}, {"log-size", required_argument, NULL, 'l'},
		{"force", no_argument, NULL, 'f'},	{"replica", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},	{NULL, 0, NULL, 0},
	};
	struct ns_mkfs_opts o = {0};
	struct progress pr = {.mode = ctx->progress};
	struct progress_cb cb = {progress_engine, &pr};
	uint64_t size = 0;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:l:r:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o.replica = optarg;
			break;
		case 's':
			if (parse_size(optarg, &size) || size == 0) {
				cli_err("mkfs", "bad size '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'l':
			if (parse_size(optarg, &o.log_len) || o.log_len == 0) {
				cli_err("mkfs", "bad log size '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'f':
			o.force = true;
			break;
		case 'h':
			fputs(mkfs_usage, stdout);
			return EXIT_OK;
		default:
			fputs(mkfs_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fputs(mkfs_usage, stderr);
		return EXIT_USAGE;
	}
	progress_what(pr.cmd, sizeof(pr.cmd), "mkfs", argv[optind]);
	o.progress = &cb;
	rc = ns_mkfs(argv[optind], size, &o);
	progress_end(&pr);
	if (rc) {
		/* The engine said why on stderr. */
		return EXIT_FAIL;
	}
	if (!ctx->json)
		printf("formatted %s%s%s\n", argv[optind], o.replica ? " with its replica " : "",
		       o.replica ? o.replica : "");
	else {
		json_object *j = json_object_new_object();

		json_object_object_add(j, "formatted", json_object_new_string(argv[optind]));
		if (o.replica)
			json_object_object_add(j, "replica", json_object_new_string(o.replica));
		cli_print_json(j, false);
	}
	return EXIT_OK;
}

static const char check_usage[] =
	"usage: daxfs check [--json] PATH\n"
	"\n"
	"Verify the unmounted region PATH: both superblocks, every log record's checksum and\n"
	"sequence, and every invariant of the namespace (no block owned twice or leaked,\n"
	"every name reaching an inode, link counts). Nothing is written.\n"
	"Exit status: 0 clean, 3 problems found, 1 the region could not be read.\n";

struct check_out {
	bool json;
	json_object *lines;
};

static void check_line(void *ctx, enum check_severity sev, const char *msg)
{
	struct check_out *o = ctx;

	if (o->json) {
		json_object *j = json_object_new_object();

		json_object_object_add(
			j, "severity",
			json_object_new_string(sev == CHECK_PROBLEM ? "problem" : "note"));
		json_object_object_add(j, "message", json_object_new_string(msg));
		json_object_array_add(o->lines, j);
	} else {
		printf("%s: %s\n", sev == CHECK_PROBLEM ? "problem" : "note", msg);
	}
}

#define JSON_U64(obj, key, v) json_object_object_add((obj), (key), json_object_new_uint64(v))

int cmd_check(int argc, char **argv, struct cli_ctx *ctx)
{
	struct check_out out = {false, NULL};
	struct progress pr = {.mode = ctx->progress};
	struct progress_cb cb = {progress_engine, &pr};
	struct check_result res;
	char b1[32], b2[32];
	int rc;

	rc = cli_json_opts(argc, argv, ctx, check_usage, 1);
	if (rc >= 0)
		return rc;
	out.json = ctx->json;
	if (out.json)
		out.lines = json_object_new_array();
	progress_what(pr.cmd, sizeof(pr.cmd), "check", argv[optind]);
	rc = ns_check_progress(argv[optind], check_line, &out, &cb, &res);
	progress_end(&pr);
	if (rc) {
		json_object_put(out.lines);
		return EXIT_FAIL;
	}
	if (out.json) {
		json_object *j = json_object_new_object();

		json_object_object_add(j, "path", json_object_new_string(argv[optind]));
		json_object_object_add(j, "clean", json_object_new_boolean(res.problems == 0));
		JSON_U64(j, "problems", res.problems);
		JSON_U64(j, "region_size", res.region_size);
		JSON_U64(j, "superblock_gen", res.sb_gen);
		json_object_object_add(j, "primary_superblock_ok",
				       json_object_new_boolean(res.primary_ok));
		json_object_object_add(j, "backup_superblock_ok",
				       json_object_new_boolean(res.backup_ok));
		JSON_U64(j, "log_area_bytes", res.log_len);
		JSON_U64(j, "log_active", res.log_active);
		JSON_U64(j, "log_records", res.records);
		JSON_U64(j, "log_bytes", res.log_bytes);
		JSON_U64(j, "log_torn_bytes", res.torn_bytes);
		JSON_U64(j, "directories", res.dirs);
		JSON_U64(j, "files", res.files);
		JSON_U64(j, "orphans", res.orphans);
		JSON_U64(j, "data_blocks", res.data_blocks);
		JSON_U64(j, "blocks_owned", res.blocks_owned);
		JSON_U64(j, "blocks_free", res.blocks_free);
		JSON_U64(j, "blocks_quarantined", res.blocks_quarantined);
		JSON_U64(j, "blocks_leaked", res.blocks_leaked);
		JSON_U64(j, "blocks_held", res.blocks_held);
		JSON_U64(j, "bytes_in_files", res.bytes_in_files);
		json_object_object_add(j, "findings", out.lines);
		printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY));
		json_object_put(j);
	} else {
		printf("region     %s (%s)\n", argv[optind],
		       format_size(res.region_size, b1, sizeof(b1)));
		printf("superblock gen %" PRIu64 ", primary %s, backup %s\n", res.sb_gen,
		       res.primary_ok ? "ok" : "DAMAGED", res.backup_ok ? "ok" : "DAMAGED");
		printf("log        area %u: %" PRIu64 " records, %s of %s used\n", res.log_active,
		       res.records, format_size(res.log_bytes, b1, sizeof(b1)),
		       format_size(res.log_len, b2, sizeof(b2)));
		printf("namespace  %" PRIu64 " directories, %" PRIu64 " files, %s in files\n",
		       res.dirs, res.files, format_size(res.bytes_in_files, b1, sizeof(b1)));
		printf("blocks     %" PRIu64 " total: %" PRIu64 " owned, %" PRIu64 " free, %" PRIu64
		       " quarantined, %" PRIu64 " leaked, %" PRIu64 " held\n",
		       res.data_blocks, res.blocks_owned, res.blocks_free, res.blocks_quarantined,
		       res.blocks_leaked, res.blocks_held);
		if (res.problems)
			printf("%" PRIu64 " problem%s found\n", res.problems,
			       res.problems == 1 ? "" : "s");
		else
			printf("clean\n");
	}
	return res.problems ? EXIT_DAMAGE : EXIT_OK;
}
