// SPDX-License-Identifier: MIT
/*
 * File contents in and out, by copy I/O: put, get, cat.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <daxfs/daxfs.h>

#include "daxfs.h"

/* The option loop of commands that only know --help; return -1 to go on. */
static int parse_help(int argc, char **argv, const char *usage)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return EXIT_OK;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	return -1;
}

/*
 * copy_out - the bytes of remote file @ino, from 0 to its end, to @fd.
 * Return: 0; a negative errno, with *@local_side telling whether writing @fd failed.
 */
static int copy_out(struct daxfs *fs, uint64_t ino, int fd, bool *local_side, struct progress *pr)
{
	char *buf = malloc(CLI_CHUNK);
	uint64_t off = 0;
	int rc = 0;

	*local_side = false;
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = daxfs_pread(fs, ino, buf, CLI_CHUNK, off);

		if (n <= 0) {
			rc = (int)n;
			break;
		}
		rc = write_all(fd, buf, (size_t)n);
		if (rc) {
			*local_side = true;
			break;
		}
		off += (uint64_t)n;
		if (pr)
			progress_update(pr, off);
	}
	free(buf);
	return rc;
}

/* write_chunk - @len bytes of @buf into remote file @ino at @off, all of them or an error. */
static int write_chunk(struct daxfs *fs, uint64_t ino, const char *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = daxfs_pwrite(fs, ino, buf + done, len - done, off + done);

		if (n <= 0)
			return n ? (int)n : -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* read_chunk - one read(2) of up to CLI_CHUNK bytes: the count, 0 at the end, or -errno. */
static ssize_t read_chunk(int fd, char *buf)
{
	ssize_t got;

	do
		got = read(fd, buf, CLI_CHUNK);
	while (got < 0 && errno == EINTR);
	return got < 0 ? -errno : got;
}

/*
 * put_chunk - write what one read_chunk gave (@got) at *@off and move *@off past it.
 * Return: 1 to go on; 0 at the end of the input; a negative errno, with *@local_side telling
 * whether it was the read's.
 */
static int put_chunk(struct daxfs *fs, uint64_t ino, const char *buf, ssize_t got, uint64_t *off,
		     bool *local_side, struct progress *pr)
{
	int rc;

	if (got <= 0) {
		*local_side = got < 0;
		return (int)got;
	}
	rc = write_chunk(fs, ino, buf, (size_t)got, *off);
	if (rc)
		return rc;
	*off += (uint64_t)got;
	progress_update(pr, *off);
	return 1;
}

/*
 * Reading ahead. A regular file is read one chunk ahead on a second thread, so that reading
 * the next chunk overlaps the daemon's write and persist of this one: a put of a file costs
 * about the larger of the two rather than their sum. Reading a regular file never blocks
 * for long, so the reader always comes back to see @stop; a pipe or a terminal, which can
 * block forever, is read inline instead.
 * Locking: @mu guards @full, @got and @stop; a buffer belongs to the reader while it is not
 * full and to the writer while it is.
 */
struct ahead {
	int fd;
	char *buf[2];
	ssize_t got[2]; /* what read_chunk returned into buf[i] */
	bool full[2];
	bool stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void *ahead_main(void *arg)
{
	struct ahead *a = arg;

	for (unsigned i = 0;; i ^= 1) {
		ssize_t got;
		bool stop;

		pthread_mutex_lock(&a->mu);
		while (a->full[i] && !a->stop)
			pthread_cond_wait(&a->cv, &a->mu);
		stop = a->stop;
		pthread_mutex_unlock(&a->mu);
		if (stop)
			return NULL;
		got = read_chunk(a->fd, a->buf[i]);
		pthread_mutex_lock(&a->mu);
		a->got[i] = got;
		a->full[i] = true;
		pthread_cond_broadcast(&a->cv);
		pthread_mutex_unlock(&a->mu);
		if (got <= 0)
			return NULL;
	}
}

/* copy_in_ahead - copy_in for a regular file, reading ahead; false: no thread to spare. */
static bool copy_in_ahead(struct daxfs *fs, uint64_t ino, int fd, bool *local_side,
			  struct progress *pr, int *rcp)
{
	struct ahead a = {
		.fd = fd, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	uint64_t off = 0;
	pthread_t reader;
	int rc = 0;

	a.buf[0] = malloc(CLI_CHUNK);
	a.buf[1] = malloc(CLI_CHUNK);
	if (!a.buf[0] || !a.buf[1] || pthread_create(&reader, NULL, ahead_main, &a)) {
		free(a.buf[0]);
		free(a.buf[1]);
		return false;
	}
	for (unsigned i = 0;; i ^= 1) {
		ssize_t got;

		pthread_mutex_lock(&a.mu);
		while (!a.full[i])
			pthread_cond_wait(&a.cv, &a.mu);
		got = a.got[i];
		pthread_mutex_unlock(&a.mu);
		rc = put_chunk(fs, ino, a.buf[i], got, &off, local_side, pr);
		if (rc <= 0)
			break;
		pthread_mutex_lock(&a.mu);
		a.full[i] = false;
		pthread_cond_broadcast(&a.cv);
		pthread_mutex_unlock(&a.mu);
	}
	pthread_mutex_lock(&a.mu);
	a.stop = true;
	pthread_cond_broadcast(&a.cv);
	pthread_mutex_unlock(&a.mu);
	pthread_join(reader, NULL);
	free(a.buf[0]);
	free(a.buf[1]);
	*rcp = rc;
	return true;
}

/*
 * copy_in - everything readable from @fd into remote file @ino from offset 0.
 * Return: 0; a negative errno, with *@local_side telling whether reading @fd failed.
 */
static int copy_in(struct daxfs *fs, uint64_t ino, int fd, bool *local_side, struct progress *pr)
{
	struct stat st;
	uint64_t off = 0;
	char *buf;
	int rc = 0;

	*local_side = false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    copy_in_ahead(fs, ino, fd, local_side, pr, &rc))
		return rc;
	buf = malloc(CLI_CHUNK);
	if (!buf)
		return -ENOMEM;
	do
		rc = put_chunk(fs, ino, buf, read_chunk(fd, buf), &off, local_side, pr);
	while (rc > 0);
	free(buf);
	return rc;
}

/* --- put --- */

static const char put_usage[] =
	"usage: daxfs put LOCAL REMOTE\n"
	"\n"
	"Copy the local file LOCAL ('-': standard input) to REMOTE, creating it or replacing\n"
	"its contents, with LOCAL's permission bits (0666 less the umask for standard input).\n"
	"When REMOTE ends in '/' or names a directory, the file goes into it under LOCAL's\n"
	"base name.\n";

int cmd_put(int argc, char **argv, struct cli_ctx *ctx)
{
	char path[CLI_PATH_MAX], dir[CLI_PATH_MAX], base[CLI_PATH_MAX], what[80];
	const char *local, *remote;
	struct progress pr = {0};
	struct daxfs_stat st, to = {0};
	bool from_stdin, local_side;
	struct daxfs *fs;
	struct stat lst;
	uint32_t mode;
	int fd, rc, ret = EXIT_FAIL;

	rc = parse_help(argc, argv, put_usage);
	if (rc >= 0)
		return rc;
	if (optind != argc - 2) {
		fputs(put_usage, stderr);
		return EXIT_USAGE;
	}
	local = argv[optind];
	remote = argv[optind + 1];
	from_stdin = strcmp(local, "-") == 0;
	fd = from_stdin ? STDIN_FILENO : open(local, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cli_syserr("put", local, errno);
	if (fstat(fd, &lst)) {
		ret = cli_syserr("put", local, errno);
		goto out_local;
	}
	if (S_ISDIR(lst.st_mode)) {
		ret = cli_syserr("put", local, EISDIR);
		goto out_local;
	}
	mode = S_ISREG(lst.st_mode) ? lst.st_mode & 07777 : 0666 & ~current_umask();
	rc = remote_path(remote, path, sizeof(path));
	if (rc) {
		ret = cli_syserr("put", remote, -rc);
		goto out_local;
	}
	if (cli_connect("put", ctx, &fs))
		goto out_local;
	if (ends_with_slash(remote) || (daxfs_stat(fs, path, &st) == 0 && S_ISDIR(st.mode))) {
		if (from_stdin) {
			ret = cli_syserr("put", remote, EISDIR);
			goto out_close;
		}
		memcpy(dir, path, sizeof(dir));
		rc = remote_join(dir, path_basename(local, base, sizeof(base)), path, sizeof(path));
		if (rc) {
			ret = cli_syserr("put", remote, -rc);
			goto out_close;
		}
	}
	/* Writable while we fill it; the exact mode is set at the end. */
	rc = daxfs_create(fs, path, mode | S_IWUSR, 0, &st);
	if (rc) {
		ret = cli_fail("put", path, rc);
		goto out_close;
	}
	if (st.size) {
		to.size = 0;
		rc = daxfs_setattr(fs, st.ino, DAXFS_SET_SIZE, &to, &st);
		if (rc) {
			ret = cli_fail("put", path, rc);
			goto out_close;
		}
	}
	progress_what(what, sizeof(what), "put", path);
	progress_begin(&pr, ctx->progress, what, S_ISREG(lst.st_mode) ? (uint64_t)lst.st_size : 0,
		       true);
	rc = copy_in(fs, st.ino, fd, &local_side, &pr);
	progress_end(&pr);
	if (rc) {
		ret = local_side ? cli_syserr("put", local, -rc) : cli_fail("put", path, rc);
		goto out_close;
	}
	rc = daxfs_fsync(fs, st.ino);
	if (rc) {
		ret = cli_fail("put", path, rc);
		goto out_close;
	}
	if ((st.mode & 07777) != mode) {
		/* Someone else's file keeps its mode, as with cp. */
		to.mode = mode;
		rc = daxfs_setattr(fs, st.ino, DAXFS_SET_MODE, &to, &st);
		if (rc && rc != -EPERM) {
			ret = cli_fail("put", path, rc);
			goto out_close;
		}
	}
	ret = EXIT_OK;
out_close:
	daxfs_close(fs);
out_local:
	if (!from_stdin)
		close(fd);
	return ret;
}

/* --- get --- */

static const char get_usage[] =
	"usage: daxfs get REMOTE LOCAL\n"
	"\n"
	"Copy the remote file REMOTE to LOCAL ('-': standard output), creating LOCAL (with\n"
	"REMOTE's permission bits less the umask) or truncating it. When LOCAL is a directory,\n"
	"the file goes into it under REMOTE's base name. A directory REMOTE is an error.\n";

int cmd_get(int argc, char **argv, struct cli_ctx *ctx)
{
	char path[CLI_PATH_MAX], base[CLI_PATH_MAX], what[80], *target = NULL;
	struct progress pr = {0};
	const char *local, *remote;
	struct daxfs_stat st;
	bool to_stdout, local_side;
	struct daxfs *fs;
	struct stat lst;
	int fd = -1, rc, ret = EXIT_FAIL;

	rc = parse_help(argc, argv, get_usage);
	if (rc >= 0)
		return rc;
	if (optind != argc - 2) {
		fputs(get_usage, stderr);
		return EXIT_USAGE;
	}
	remote = argv[optind];
	local = argv[optind + 1];
	to_stdout = strcmp(local, "-") == 0;
	rc = remote_path(remote, path, sizeof(path));
	if (rc)
		return cli_syserr("get", remote, -rc);
	if (cli_connect("get", ctx, &fs))
		return EXIT_FAIL;
	rc = daxfs_stat(fs, path, &st);
	if (rc) {
		ret = cli_fail("get", remote, rc);
		goto out_close;
	}
	if (S_ISDIR(st.mode)) {
		ret = cli_syserr("get", remote, EISDIR);
		goto out_close;
	}
	if (to_stdout) {
		fd = STDOUT_FILENO;
	} else {
		if (stat(local, &lst) == 0 && S_ISDIR(lst.st_mode)) {
			path_basename(path, base, sizeof(base));
			if (asprintf(&target, "%s%s%s", local, ends_with_slash(local) ? "" : "/",
				     base) < 0) {
				target = NULL;
				ret = cli_syserr("get", local, ENOMEM);
				goto out_close;
			}
			local = target;
		}
		fd = open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.mode & 0777);
		if (fd < 0) {
			ret = cli_syserr("get", local, errno);
			goto out_close;
		}
	}
	progress_what(what, sizeof(what), "get", path);
	progress_begin(&pr, ctx->progress, what, st.size, true);
	rc = copy_out(fs, st.ino, fd, &local_side, &pr);
	progress_end(&pr);
	if (rc) {
		ret = local_side ? cli_syserr("get", to_stdout ? "standard output" : local, -rc)
				 : cli_fail("get", remote, rc);
		goto out_fd;
	}
	ret = EXIT_OK;
out_fd:
	if (!to_stdout && close(fd) && ret == EXIT_OK)
		ret = cli_syserr("get", local, errno);
out_close:
	daxfs_close(fs);
	free(target);
	return ret;
}

/* --- cat --- */

static const char cat_usage[] =
	"usage: daxfs cat PATH...\n"
	"\n"
	"Write the contents of each file PATH to standard output, in order. A PATH that fails\n"
	"is reported and skipped; the exit status is then 1.\n";

int cmd_cat(int argc, char **argv, struct cli_ctx *ctx)
{
	char path[CLI_PATH_MAX];
	struct daxfs_stat st;
	struct daxfs *fs;
	bool local_side;
	int rc, ret = EXIT_OK;

	rc = parse_help(argc, argv, cat_usage);
	if (rc >= 0)
		return rc;
	if (optind == argc) {
		fputs(cat_usage, stderr);
		return EXIT_USAGE;
	}
	rc = cli_connect("cat", ctx, &fs);
	if (rc)
		return rc;
	for (int i = optind; i < argc; i++) {
		rc = remote_path(argv[i], path, sizeof(path));
		if (rc) {
			ret = cli_syserr("cat", argv[i], -rc);
			continue;
		}
		rc = daxfs_stat(fs, path, &st);
		if (rc) {
			ret = cli_fail("cat", argv[i], rc);
			continue;
		}
		if (S_ISDIR(st.mode)) {
			ret = cli_syserr("cat", argv[i], EISDIR);
			continue;
		}
		rc = copy_out(fs, st.ino, STDOUT_FILENO, &local_side, NULL);
		if (rc && local_side) {
			/* Nowhere to write the rest either. */
			ret = cli_syserr("cat", "standard output", -rc);
			break;
		}
		if (rc)
			ret = cli_fail("cat", argv[i], rc);
	}
	daxfs_close(fs);
	return ret;
}
