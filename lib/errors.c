// SPDX-License-Identifier: MIT
/*
 * libdaxfs errors and logging: the thread-local detail string behind daxfs_errormsg() and
 * the application's log function.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll, MSG_CMSG_CLOEXEC, MAP_NORESERVE, GNU strerror_r */
#endif
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "libdaxfs-private.h"

/* The calling thread's last failure, for daxfs_errormsg(). */
static _Thread_local char errmsg[256];

int lib_err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	return err;
}

const char *daxfs_errormsg(void)
{
	return errmsg;
}

const char *lib_errstr(int err, char *buf, size_t len)
{
	return strerror_r(err < 0 ? -err : err, buf, len);
}

void lib_log(struct daxfs *fs, const char *fmt, ...)
{
	void (*fn)(void *ctx, const char *msg);
	char msg[512];
	void *ctx;
	va_list ap;

	pthread_mutex_lock(&fs->lock);
	fn = fs->log_fn;
	ctx = fs->log_ctx;
	pthread_mutex_unlock(&fs->lock);
	if (!fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fn(ctx, msg);
}

void daxfs_set_log(struct daxfs *fs, void (*fn)(void *ctx, const char *msg), void *ctx)
{
	if (!fs)
		return;
	pthread_mutex_lock(&fs->lock);
	fs->log_fn = fn;
	fs->log_ctx = ctx;
	pthread_mutex_unlock(&fs->lock);
}
