// SPDX-License-Identifier: MIT
/*
 * libdaxfs events: the application's own loop (daxfs_event_fd, daxfs_process_events) or the
 * library's event thread read what the daemon pushes (POISON, INVALIDATE) and hand it to
 * map.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll, MSG_CMSG_CLOEXEC, MAP_NORESERVE, GNU strerror_r */
#endif
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "libdaxfs-private.h"

int daxfs_event_fd(struct daxfs *fs)
{
	if (!fs)
		return lib_err(-EINVAL, "daxfs_event_fd: no handle");
	return fs->sock;
}

/*
 * process_events - read what has arrived without blocking; *@busy when another thread
 * held the reader role (it handles what arrives).
 * Return: events handled (that concerned a mapping of this handle); -ECONNRESET.
 */
static int process_events(struct daxfs *fs, bool *busy)
{
	bool am_reader = false;
	struct lib_event ev;
	int handled = 0, ret = 0, r;

	*busy = false;
	pthread_mutex_lock(&fs->lock);
	for (;;) {
		if (fs->broken) {
			ret = fs->broken;
			break;
		}
		if (!am_reader) {
			if (fs->reader) {
				*busy = true;
				break;
			}
			fs->reader = true;
			am_reader = true;
		}
		pthread_mutex_unlock(&fs->lock);
		r = lib_reader_recv(fs, 0, false, &ev);
		pthread_mutex_lock(&fs->lock);
		if (r == -EAGAIN)
			break;
		if (r == RECV_EVENT) {
			__lib_reader_release(fs, NULL);
			am_reader = false;
			pthread_mutex_unlock(&fs->lock);
			handled += map_handle_event(fs, &ev);
			pthread_mutex_lock(&fs->lock);
		} else if (r < 0) {
			ret = r;
			__lib_session_break(fs);
			break;
		}
	}
	if (am_reader)
		__lib_reader_release(fs, NULL);
	pthread_mutex_unlock(&fs->lock);
	if (handled)
		return handled;
	if (ret)
		return lib_err(ret, "the session with daxfsd is gone");
	return 0;
}

int daxfs_process_events(struct daxfs *fs)
{
	bool busy;

	if (!fs)
		return lib_err(-EINVAL, "daxfs_process_events: no handle");
	return process_events(fs, &busy);
}

static void *event_thread(void *arg)
{
	struct daxfs *fs = arg;
	struct pollfd pfd[2] = {
		{.fd = fs->sock, .events = POLLIN},
		{.fd = fs->ev_stop_fd, .events = POLLIN},
	};
	bool busy;

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			lib_log(fs, "libdaxfs: event thread: poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents)
			break;
		if (!pfd[0].revents)
			continue;
		if (process_events(fs, &busy) < 0) {
			lib_log(fs, "libdaxfs: event thread: the session with daxfsd is gone");
			break;
		}
		if (!busy)
			continue;
		/* Another thread reads the socket: wait until it lets go. */
		pthread_mutex_lock(&fs->lock);
		while (fs->reader && !fs->ev_stop && !fs->broken)
			pthread_cond_wait(&fs->idle_cond, &fs->lock);
		pthread_mutex_unlock(&fs->lock);
	}
	return NULL;
}

int daxfs_event_thread_start(struct daxfs *fs)
{
	sigset_t all, old;
	int ret;

	if (!fs)
		return lib_err(-EINVAL, "daxfs_event_thread_start: no handle");
	pthread_mutex_lock(&fs->ev_lock);
	if (fs->ev_running) {
		pthread_mutex_unlock(&fs->ev_lock);
		return 0;
	}
	fs->ev_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fs->ev_stop_fd < 0) {
		ret = lib_err(-errno, "eventfd: %s", strerror(errno));
		goto out;
	}
	pthread_mutex_lock(&fs->lock);
	fs->ev_stop = false;
	pthread_mutex_unlock(&fs->lock);
	/* The thread takes no signal meant for the application. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&fs->ev_thread, NULL, event_thread, fs);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret < 0) {
		lib_err(ret, "cannot start the event thread: %s", strerror(-ret));
		close(fs->ev_stop_fd);
		fs->ev_stop_fd = -1;
		goto out;
	}
	fs->ev_running = true;
	__atomic_store_n(&fs->ev_on, true, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&fs->ev_lock);
	return ret;
}

void daxfs_event_thread_stop(struct daxfs *fs)
{
	uint64_t one = 1;

	if (!fs)
		return;
	pthread_mutex_lock(&fs->ev_lock);
	if (!fs->ev_running) {
		pthread_mutex_unlock(&fs->ev_lock);
		return;
	}
	if (pthread_equal(pthread_self(), fs->ev_thread)) {
		pthread_mutex_unlock(&fs->ev_lock);
		lib_log(fs, "libdaxfs: daxfs_event_thread_stop called from the event thread");
		return;
	}
	pthread_mutex_lock(&fs->lock);
	fs->ev_stop = true;
	pthread_cond_broadcast(&fs->idle_cond);
	pthread_mutex_unlock(&fs->lock);
	if (write(fs->ev_stop_fd, &one, sizeof(one)) < 0)
		lib_log(fs, "libdaxfs: cannot wake the event thread: %s", strerror(errno));
	pthread_join(fs->ev_thread, NULL);
	close(fs->ev_stop_fd);
	fs->ev_stop_fd = -1;
	fs->ev_running = false;
	__atomic_store_n(&fs->ev_on, false, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&fs->ev_lock);
}
