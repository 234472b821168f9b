// SPDX-License-Identifier: MIT
/*
 * What the online commands share: connecting, reporting errors, shaping paths.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include <daxfs/daxfs.h>

#include "daxfs.h"

/* The library's detail is worth printing unless it only repeats the errno text. */
static bool adds_something(const char *detail, const char *text)
{
	return detail && detail[0] && !strstr(detail, text);
}

int cli_connect(const char *cmd, const struct cli_ctx *ctx, struct daxfs **fs)
{
	const char *detail;
	int rc;

	rc = daxfs_open(fs, ctx->socket_path);
	if (rc == 0)
		return EXIT_OK;
	detail = daxfs_errormsg();
	if (adds_something(detail, strerror(-rc)))
		cli_err(cmd, "cannot connect to daxfsd at %s: %s (%s)", ctx->socket_path,
			strerror(-rc), detail);
	else
		cli_err(cmd, "cannot connect to daxfsd at %s: %s", ctx->socket_path, strerror(-rc));
	return EXIT_FAIL;
}

int cli_fail(const char *cmd, const char *what, int rc)
{
	const char *detail = daxfs_errormsg();
	const char *text = strerror(-rc);

	if (adds_something(detail, text))
		cli_err(cmd, "%s: %s (%s)", what, text, detail);
	else
		cli_err(cmd, "%s: %s", what, text);
	return EXIT_FAIL;
}

int cli_syserr(const char *cmd, const char *what, int err)
{
	cli_err(cmd, "%s: %s", what, strerror(err));
	return EXIT_FAIL;
}

int remote_path(const char *in, char *out, size_t len)
{
	const char *p = in;
	size_t n = 1;

	if (!in[0])
		return -ENOENT;
	if (len < 2)
		return -ENAMETOOLONG;
	out[0] = '/';
	for (;;) {
		const char *comp;
		size_t clen;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		comp = p;
		while (*p && *p != '/')
			p++;
		clen = (size_t)(p - comp);
		if (clen == 1 && comp[0] == '.')
			continue;
		if (clen == 2 && comp[0] == '.' && comp[1] == '.') {
			while (n > 1 && out[n - 1] != '/')
				n--;
			if (n > 1)
				n--;
			continue;
		}
		if (n + (n > 1) + clen >= len)
			return -ENAMETOOLONG;
		if (n > 1)
			out[n++] = '/';
		memcpy(out + n, comp, clen);
		n += clen;
	}
	out[n] = '\0';
	return 0;
}

int remote_join(const char *dir, const char *name, char *out, size_t len)
{
	int n;

	n = snprintf(out, len, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", name);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

const char *path_basename(const char *path, char *out, size_t len)
{
	size_t end = strlen(path), start;

	while (end > 1 && path[end - 1] == '/')
		end--;
	start = end;
	while (start > 0 && path[start - 1] != '/')
		start--;
	if (end - start >= len)
		end = start + len - 1;
	memcpy(out, path + start, end - start);
	out[end - start] = '\0';
	return out;
}

bool ends_with_slash(const char *path)
{
	size_t n = strlen(path);

	return n > 0 && path[n - 1] == '/';
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void mode_string(uint32_t mode, char out[11])
{
	static const char rwx[] = "rwxrwxrwx";

	out[0] = S_ISDIR(mode)	  ? 'd'
		 : S_ISREG(mode)  ? '-'
		 : S_ISLNK(mode)  ? 'l'
		 : S_ISFIFO(mode) ? 'p'
		 : S_ISSOCK(mode) ? 's'
		 : S_ISCHR(mode)  ? 'c'
		 : S_ISBLK(mode)  ? 'b'
				  : '?';
	for (int i = 0; i < 9; i++)
		out[i + 1] = (mode & (0400u >> i)) ? rwx[i] : '-';
	if (mode & S_ISUID)
		out[3] = (mode & S_IXUSR) ? 's' : 'S';
	if (mode & S_ISGID)
		out[6] = (mode & S_IXGRP) ? 's' : 'S';
	if (mode & S_ISVTX)
		out[9] = (mode & S_IXOTH) ? 't' : 'T';
	out[10] = '\0';
}

uint32_t current_umask(void)
{
	mode_t m = umask(0);

	umask(m);
	return (uint32_t)m;
}

void cli_print_json(struct json_object *j, bool pretty)
{
	int flags = JSON_C_TO_STRING_NOSLASHESCAPE;

	flags |= pretty ? JSON_C_TO_STRING_PRETTY : JSON_C_TO_STRING_PLAIN;
	printf("%s\n", json_object_to_json_string_ext(j, flags));
	json_object_put(j);
}
