// SPDX-License-Identifier: MIT
/*
 * test-check-poison - the offline tools on poisoned metadata: a region with files is made
 * by a real daxfsd, which is then stopped; media errors are simulated in its superblocks
 * and log (DAXFS_FAULT_POISON, docs/fault-injection.md: the tools' SIGBUS-safe reads fault
 * there as they would on poisoned media), and the programs are run as a user runs them:
 *  - daxfs check, poison in the primary or the backup superblock: exit 3, the line names
 *    the superblock and its offset, the other copy is used and the rest checked;
 *  - in both superblocks: exit 1, saying both are damaged;
 *  - in the active log, at its first record or among its records: exit 3, the line gives
 *    the media error's offset and how many records could be read before it; --json says
 *    "clean": false with the same finding;
 *  - daxfsd on a log poisoned among its records mounts read-only with what comes before
 *    (a line says where), serves reads and answers EROFS to a change; on a log poisoned at
 *    its first record it refuses to start (exit 1), saying why;
 *  - daxfs mkfs --force over a poisoned log area or superblock: exit 1, saying where;
 *  - without the simulated errors, check is clean again: nothing was written.
 * No program may crash or leave a sanitizer report (t_run).
 *
 * Usage: test-check-poison --daxfsd=PATH --cli=PATH
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/wait.h>

#include <json-c/json.h>

#include <daxfs/daxfs.h>

#include "daemon.h"
#include "testutil.h"

#define PAGE UINT64_C(4096)
#define REGION_SIZE (UINT64_C(64) << 20)
#define LOG_AREA0 (UINT64_C(2) << 20) /* docs/format.md §1 */

static struct t_daemon d;

/* check_as - daxfs check [--json] of the region with @poison simulated ("" for none). */
static int check_as(const char *poison, bool json, char **out, char **err)
{
	const char *argv[] = {t_cli_path(), "check", t_path("region"), NULL};
	const char *argv_json[] = {t_cli_path(), "--json", "check", t_path("region"), NULL};
	int rc;

	if (*poison)
		setenv("DAXFS_FAULT_POISON", poison, 1);
	rc = t_run(json ? argv_json : argv, out, err);
	unsetenv("DAXFS_FAULT_POISON");
	return rc;
}

static void expect(const char *what, const char *poison, int want, const char *needle)
{
	char *out, *err;
	int rc = check_as(poison, false, &out, &err);

	if (rc != want || !(strstr(out, needle) || strstr(err, needle)))
		T_FAIL("%s: daxfs check exit %d (want %d), no \"%s\" in:\n%s%s", what, rc, want,
		       needle, out, err);
	printf("%s: exit %d, \"%s\"\n", what, rc, needle);
	free(out);
	free(err);
}

/* log_geometry - the active area's offset and the bytes its records take. */
static void log_geometry(uint64_t *area, uint64_t *used)
{
	json_object *j, *v;
	char *out, *err;
	int rc = check_as("", true, &out, &err);
	uint64_t active, len;

	T_ASSERT(rc == 0);
	j = json_tokener_parse(out);
	T_ASSERT(j);
	T_ASSERT(json_object_object_get_ex(j, "log_active", &v));
	active = (uint64_t)json_object_get_int64(v);
	T_ASSERT(json_object_object_get_ex(j, "log_area_bytes", &v));
	len = (uint64_t)json_object_get_int64(v);
	T_ASSERT(json_object_object_get_ex(j, "log_bytes", &v));
	*used = (uint64_t)json_object_get_int64(v);
	*area = LOG_AREA0 + active * len;
	json_object_put(j);
	free(out);
	free(err);
}

/* make_region - files, directories and enough records that the log spans a few blocks. */
static void make_region(void)
{
	static uint8_t buf[3 * PAGE];
	struct daxfs_stat st;
	struct daxfs *fs;
	char path[64];

	t_region_new(t_path("region"), "64M");
	t_daemon_start(&d, t_path("region"), "daxfsd", NULL);
	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_mkdir(fs, "/d", 0755, NULL));
	for (int i = 0; i < 200; i++) {
		snprintf(path, sizeof(path), "/d/f%d", i);
		T_OK(daxfs_create(fs, path, 0644, DAXFS_CREATE_EXCL, &st));
		memset(buf, i, sizeof(buf));
		T_ASSERT(daxfs_pwrite(fs, st.ino, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf));
	}
	daxfs_close(fs);
	t_daemon_stop(&d);
	t_daemon_forget(&d);
}

/* daemon_readonly - daxfsd on the region with @poison simulated among the log's records. */
static void daemon_readonly(const char *poison)
{
	struct daxfs_statfs sf;
	struct daxfs *fs;
	char *out, *err;
	int rc;

	setenv("DAXFS_FAULT_POISON", poison, 1);
	t_daemon_start(&d, t_path("region"), "poisoned", NULL);
	unsetenv("DAXFS_FAULT_POISON");
	T_ASSERT(t_daemon_log_has(&d, "records before it are in force, read-only"));
	T_OK(daxfs_open(&fs, d.sock));
	T_OK(daxfs_statfs(fs, &sf));
	T_ERR(daxfs_mkdir(fs, "/new", 0755, NULL), EROFS);
	daxfs_close(fs);
	rc = t_cli(&d, &out, &err, "ls", "/d", NULL);
	T_ASSERT(rc == 0 && strstr(out, "f0"));
	free(out);
	free(err);
	t_daemon_stop(&d);
	t_daemon_forget(&d);
	printf("daxfsd on a log poisoned among its records: read-only, reads served\n");
}

static void daemon_refuses(const char *poison)
{
	const char *argv[] = {t_daxfsd_path(),	      "--region", t_path("region"), "--socket",
			      t_path("refused.sock"), NULL};
	char *out, *err;
	int rc;

	setenv("DAXFS_FAULT_POISON", poison, 1);
	rc = t_run(argv, &out, &err);
	unsetenv("DAXFS_FAULT_POISON");
	if (rc != 1 || !strstr(err, "a media error at offset"))
		T_FAIL("daxfsd on a log poisoned at its first record: exit %d:\n%s", rc, err);
	free(out);
	free(err);
	printf("daxfsd on a log poisoned at its first record: refuses to start, saying where\n");
}

static void mkfs_refuses(const char *what, const char *poison)
{
	const char *argv[] = {t_cli_path(), "mkfs", "--force", t_path("copy"), NULL};
	const char *cp[] = {"/bin/cp", t_path("region"), t_path("copy"), NULL};
	char *out, *err;
	int rc;

	T_ASSERT(t_run(cp, NULL, NULL) == 0);
	setenv("DAXFS_FAULT_POISON", poison, 1);
	rc = t_run(argv, &out, &err);
	unsetenv("DAXFS_FAULT_POISON");
	if (rc != 1 || !strstr(err, "media error"))
		T_FAIL("mkfs over a poisoned %s: exit %d:\n%s%s", what, rc, out, err);
	printf("mkfs over a poisoned %s: exit 1: %s", what, err);
	free(out);
	free(err);
}

int main(int argc, char **argv)
{
	uint64_t area, used, backup = REGION_SIZE - PAGE, mid;
	char p[128], msg[128], *out, *err;
	json_object *j, *v;

	t_tools_init(&argc, argv);
	t_watchdog(200, "test-check-poison");
	make_region();
	log_geometry(&area, &used);
	T_ASSERT(used > 8 * PAGE);
	mid = area + (used / 2) / PAGE * PAGE;

	snprintf(p, sizeof(p), "0+4K");
	expect("primary superblock", p, 3, "primary superblock at offset 0 is unreadable");
	snprintf(p, sizeof(p), "%" PRIu64 "+4K", backup);
	snprintf(msg, sizeof(msg), "backup superblock at offset %" PRIu64 " is unreadable", backup);
	expect("backup superblock", p, 3, msg);
	snprintf(p, sizeof(p), "0+4K,%" PRIu64 "+4K", backup);
	expect("both superblocks", p, 1, "both superblocks are damaged");
	snprintf(p, sizeof(p), "%" PRIu64 "+4K", area);
	snprintf(msg, sizeof(msg), "a media error at offset %" PRIu64, area);
	expect("the first log block", p, 3, msg);
	snprintf(p, sizeof(p), "%" PRIu64 "+4K", mid);
	snprintf(msg, sizeof(msg), "a media error at offset %" PRIu64, mid);
	expect("a log block among the records", p, 3, msg);

	/* --json: not clean, and the finding says where. */
	T_ASSERT(check_as(p, true, &out, &err) == 3);
	j = json_tokener_parse(out);
	T_ASSERT(j && json_object_object_get_ex(j, "clean", &v) && !json_object_get_boolean(v));
	T_ASSERT(strstr(out, msg));
	json_object_put(j);
	free(out);
	free(err);

	daemon_readonly(p);
	snprintf(p, sizeof(p), "%" PRIu64 "+4K", area);
	daemon_refuses(p);
	/* mkfs writes its log into area 0. */
	snprintf(p, sizeof(p), "%" PRIu64 "+4K", LOG_AREA0);
	mkfs_refuses("log area", p);
	mkfs_refuses("primary superblock", "0+4K");

	/* Nothing of it wrote to the region. */
	expect("no media error", "", 0, "clean");
	printf("ok\n");
	return 0;
}
