// SPDX-License-Identifier: MIT
/*
 * The FUSE frontend's session: its options, the mount, the threads that read /dev/fuse,
 * the invalidations that keep the kernel's caches honest, and a clean stop.
 *
 * Invalidations: the engine tells us of every change (engine/observe.h), on the thread
 * that made it and under its locks, so the observer only queues a note; the invalidation
 * thread hands the notes to the kernel (fuse_lowlevel_notify_inval_*), which may wait for
 * page locks held by requests in flight: never on a FUSE thread, never under an engine
 * lock. Changes made through the mount itself are skipped (the kernel knows them).
 *
 * Stopping (fmount_delete): the session is told to exit and each FUSE thread is signalled
 * out of its read of /dev/fuse (SIGUSR2, whose handler does nothing); the fops in flight
 * are answered (each within the lease-break timeout); then the session is unmounted,
 * which closes /dev/fuse (programs still using the mount get ENOTCONN) and detaches the
 * mount; then the files it still had open are closed (an orphan among them is removed).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <urcu/arch.h>

#include "fuse-int.h"
#include "log.h"
#include "observe.h"
#include "rcu.h"
#include "region.h"
#include "util.h"

#define WAKE_SIGNAL SIGUSR2
#define NOTE_LOG_NS (10ULL * 1000 * 1000 * 1000)

/* One invalidation for the kernel. */
struct fnote {
	struct fnote *next;
	enum ns_change_kind kind;
	uint64_t ino, off, len;
	size_t name_len;
	char name[];
};

static __thread char *thread_buf;

char *fm_thread_buf(void)
{
	return thread_buf;
}

bool fm_failed(struct fmount *m, fuse_req_t req)
{
	if (!region_failed(ns_region(m->ns), NULL))
		return false;
	fuse_reply_err(req, EIO);
	return true;
}

/* --- options --- */

static const char *const cache_names[] = {"none", "auto", "always"};

const char *fmount_cache_name(enum fmount_cache c)
{
	return c <= FMOUNT_CACHE_ALWAYS ? cache_names[c] : "?";
}

void fmount_opts_default(struct fmount_opts *o)
{
	*o = (struct fmount_opts){
		.cache = FMOUNT_CACHE_AUTO, .attr_timeout = -1, .entry_timeout = -1};
}

static bool parse_seconds(const char *v, double *out)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (end == v || *end || errno || !(d >= 0 && d <= 86400))
		return false;
	*out = d;
	return true;
}

int fmount_opts_parse(struct fmount_opts *o, const char *s, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		unsigned flag;
	} tune[] = {{"no_splice", FMOUNT_NO_SPLICE},
		    {"no_parallel_dirops", FMOUNT_NO_PARALLEL_DIROPS},
		    {"no_readdirplus", FMOUNT_NO_READDIRPLUS},
		    {"small_pages", FMOUNT_SMALL_PAGES}};
	char *copy = strdup(s), *save = NULL, *t;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	for (t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
		bool known = false;

		if (!strncmp(t, "cache=", 6)) {
			for (int c = 0; c <= FMOUNT_CACHE_ALWAYS; c++) {
				if (!strcmp(t + 6, cache_names[c])) {
					o->cache = c;
					known = true;
				}
			}
			if (!known) {
				snprintf(err, errlen,
					 "bad mount option '%s' (cache=none, auto or "
					 "always)",
					 t);
				rc = -EINVAL;
			}
			continue;
		}
		if (!strncmp(t, "attr_timeout=", 13) || !strncmp(t, "entry_timeout=", 14)) {
			double *d = t[0] == 'a' ? &o->attr_timeout : &o->entry_timeout;

			if (!parse_seconds(strchr(t, '=') + 1, d)) {
				snprintf(err, errlen, "bad mount option '%s' (seconds, 0 to 86400)",
					 t);
				rc = -EINVAL;
			}
			continue;
		}
		if (!strcmp(t, "writeback") || !strcmp(t, "no_writeback")) {
			o->writeback = t[0] == 'w';
			continue;
		}
		if (!strcmp(t, "ro") || !strcmp(t, "rw")) {
			o->ro = t[1] == 'o';
			continue;
		}
		for (size_t i = 0; i < sizeof(tune) / sizeof(tune[0]); i++) {
			if (!strcmp(t, tune[i].name)) {
				o->no |= tune[i].flag;
				known = true;
			}
		}
		if (!known) {
			snprintf(err, errlen,
				 "unknown mount option '%s' (known: cache=none|auto|always, "
				 "attr_timeout=S, entry_timeout=S, writeback, ro, rw, no_splice, "
				 "no_parallel_dirops, no_readdirplus, small_pages)",
				 t);
			rc = -EINVAL;
		}
	}
	free(copy);
	if (rc == 0 && o->writeback && o->cache != FMOUNT_CACHE_ALWAYS) {
		snprintf(err, errlen,
			 "mount option 'writeback' needs cache=always (the kernel then "
			 "owns sizes and times between flushes)");
		rc = -EINVAL;
	}
	return rc;
}

/* --- invalidations --- */

/* observe - the engine's observer: queue what the kernel must forget. */
static void observe(void *ctx, const struct ns_change *ch)
{
	struct fmount *m = ctx;
	struct fnote *n;

	if (ch->origin == m || __atomic_load_n(&m->stopping, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&m->note_lock);
	if (m->nnotes >= FM_NOTES_MAX) {
		m->notes_dropped++;
		pthread_mutex_unlock(&m->note_lock);
		return;
	}
	pthread_mutex_unlock(&m->note_lock);
	n = malloc(sizeof(*n) + ch->name_len + 1);
	if (!n) {
		__atomic_add_fetch(&m->notes_dropped, 1, __ATOMIC_RELAXED);
		return;
	}
	*n = (struct fnote){NULL, ch->kind, ch->ino, ch->off, ch->len, ch->name_len};
	if (ch->name_len)
		memcpy(n->name, ch->name, ch->name_len);
	n->name[ch->name_len] = '\0';
	pthread_mutex_lock(&m->note_lock);
	if (m->notes_tail)
		m->notes_tail->next = n;
	else
		m->notes = n;
	m->notes_tail = n;
	m->nnotes++;
	m->notes_queued++;
	pthread_cond_signal(&m->note_cond);
	pthread_mutex_unlock(&m->note_lock);
}

void fm_invalidate(struct fmount *m, uint64_t ino, uint64_t off, uint64_t len)
{
	/* As another client's change (origin NULL), so the observer does not skip it. */
	observe(m, &(struct ns_change){NS_CHANGE_DATA, NULL, ino, off, len, NULL, 0});
}

static void deliver(struct fmount *m, const struct fnote *n)
{
	off_t off = (off_t)MIN(n->off, (uint64_t)INT64_MAX);
	off_t len = (off_t)MIN(n->len, (uint64_t)INT64_MAX);

	switch (n->kind) {
	case NS_CHANGE_INODE:
		/* Attributes, and every cached page: sizes, holes and partial pages moved. */
		fuse_lowlevel_notify_inval_inode(m->se, n->ino, 0, 0);
		break;
	case NS_CHANGE_POISON:
		log_notice("fuse: poison in inode %" PRIu64 " at %" PRIu64 " (+%" PRIu64
			   " bytes): reads of it through %s fail with EIO",
			   n->ino, n->off, n->len, m->mountpoint);
		/* fall through */
	case NS_CHANGE_DATA:
		fuse_lowlevel_notify_inval_inode(m->se, n->ino, off, len);
		break;
	case NS_CHANGE_NAME:
		fuse_lowlevel_notify_inval_entry(m->se, n->ino, n->name, n->name_len);
		break;
	}
}

/* note_thread - hand the queued invalidations to the kernel until told to stop. */
static void *note_thread(void *arg)
{
	struct fmount *m = arg;
	uint64_t logged_at = 0, dropped_logged = 0;
	sigset_t all;

	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&m->note_lock);
	for (;;) {
		struct fnote *n = m->notes;

		if (!n) {
			if (m->note_stop)
				break;
			pthread_cond_wait(&m->note_cond, &m->note_lock);
			continue;
		}
		m->notes = n->next;
		if (!m->notes)
			m->notes_tail = NULL;
		m->nnotes--;
		if (m->notes_dropped != dropped_logged && mono_ns() - logged_at > NOTE_LOG_NS) {
			log_warn("fuse: %" PRIu64 " invalidations dropped (more than %d queued): "
				 "%s may show stale data until its caches expire",
				 m->notes_dropped - dropped_logged, FM_NOTES_MAX, m->mountpoint);
			dropped_logged = m->notes_dropped;
			logged_at = mono_ns();
		}
		pthread_mutex_unlock(&m->note_lock);
		if (!m->note_stop)
			deliver(m, n);
		free(n);
		pthread_mutex_lock(&m->note_lock);
		m->notes_done++;
		if (m->note_flushers)
			pthread_cond_broadcast(&m->note_done_cond);
	}
	pthread_mutex_unlock(&m->note_lock);
	return NULL;
}

void fm_notes_flush(struct fmount *m)
{
	struct timespec until;
	uint64_t target;

	if (!m->note_running)
		return;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += FM_FLUSH_WAIT_MS / 1000;
	until.tv_nsec += (FM_FLUSH_WAIT_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&m->note_lock);
	target = m->notes_queued;
	m->note_flushers++;
	while (m->notes_done < target && !m->note_stop &&
	       pthread_cond_timedwait(&m->note_done_cond, &m->note_lock, &until) != ETIMEDOUT)
		;
	m->note_flushers--;
	pthread_mutex_unlock(&m->note_lock);
}

static int notes_start(struct fmount *m)
{
	pthread_condattr_t ca;
	int rc;

	pthread_mutex_init(&m->note_lock, NULL);
	pthread_cond_init(&m->note_cond, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->note_done_cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&m->note_thread, NULL, note_thread, m);
	if (rc) {
		log_err("fuse: cannot start the invalidation thread: %s", strerror(rc));
		pthread_cond_destroy(&m->note_done_cond);
		pthread_cond_destroy(&m->note_cond);
		pthread_mutex_destroy(&m->note_lock);
		return -rc;
	}
	m->note_running = true;
	return 0;
}

static void notes_stop(struct fmount *m)
{
	if (!m->note_running)
		return;
	pthread_mutex_lock(&m->note_lock);
	m->note_stop = true;
	pthread_cond_signal(&m->note_cond);
	pthread_mutex_unlock(&m->note_lock);
	pthread_join(m->note_thread, NULL);
	m->note_running = false;
	pthread_cond_destroy(&m->note_done_cond);
	pthread_cond_destroy(&m->note_cond);
	pthread_mutex_destroy(&m->note_lock);
}

/* --- the FUSE threads --- */

static void on_wake_signal(int sig)
{
	(void)sig; /* only interrupts a read of /dev/fuse */
}

/*
 * Polling /dev/fuse. Each request costs the FUSE thread that takes it a wakeup, and on a
 * virtual machine the wakeup is a large part of a small request. So after each request one
 * thread (at most: m->poller) polls the device, which is non-blocking, for poll_us before it
 * sleeps, as the ring threads poll the rings (DESIGN §11); the caller's next request is then
 * taken without waking anyone. It polls only while no other FUSE thread serves a request
 * (m->busy): those need the CPU more, and the kernel's readahead, which keeps several
 * requests in flight, wakes the sleepers anyway. The others, and the poller once its time is
 * up, sleep in epoll with EPOLLEXCLUSIVE: a request wakes one of them, as a blocking read
 * would.
 */
#define SPIN_PURE 64	 /* polls before the poll loop yields the CPU between polls */
#define POLL_GAP_NS 2000 /* between two reads of the device while polling */

static bool poller_take(struct fmount *m)
{
	bool no = false;

	return __atomic_compare_exchange_n(&m->poller, &no, true, false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

static void poller_drop(struct fmount *m)
{
	__atomic_store_n(&m->poller, false, __ATOMIC_RELEASE);
}

/* sleep_for_request - wait until /dev/fuse has a request (or a signal comes). */
static void sleep_for_request(int ep)
{
	struct epoll_event ev;

	if (epoll_wait(ep, &ev, 1, -1) < 0 && errno != EINTR)
		usleep(1000); /* cannot happen with a valid epoll fd; do not spin */
}

static void *loop_thread(void *arg)
{
	struct fmount *m = arg;
	struct fuse_buf fbuf = {0};
	struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE};
	uint64_t poll_ns = (uint64_t)m->o.poll_us * 1000, poll_end = 0;
	bool polling = false;
	unsigned polls = 0;
	sigset_t all;
	int ep;

	/* Set, not added to: the thread that started the mount may block WAKE_SIGNAL. */
	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, WAKE_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	thread_buf = malloc(FM_MAX_IO);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!thread_buf || ep < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, fuse_session_fd(m->se), &ev) < 0) {
		log_err("fuse: a FUSE thread cannot start (%s); it stops",
			thread_buf ? strerror(errno) : "no memory for its buffer");
		if (ep >= 0)
			close(ep);
		free(thread_buf);
		thread_buf = NULL;
		return NULL;
	}
	rcu_thread_online();
	while (!fuse_session_exited(m->se)) {
		int rc = fuse_session_receive_buf(m->se, &fbuf);

		if (rc == -EAGAIN) {
			bool alone = __atomic_load_n(&m->busy, __ATOMIC_RELAXED) == 0;

			if (!polling && poll_ns && alone && poller_take(m)) {
				polling = true;
				polls = 0;
				poll_end = mono_ns() + poll_ns;
			}
			if (polling && alone && mono_ns() < poll_end) {
				/*
				 * A read takes the lock the kernel queues requests under:
				 * space the reads out, or the poller slows the caller.
				 */
				uint64_t next = mono_ns() + POLL_GAP_NS;

				while (mono_ns() < next)
					caa_cpu_relax();
				if (++polls > SPIN_PURE)
					sched_yield();
				continue;
			}
			if (polling) {
				poller_drop(m);
				polling = false;
			}
			sleep_for_request(ep);
			continue;
		}
		if (polling) {
			/* Another thread polls while this one serves. */
			poller_drop(m);
			polling = false;
		}
		if (rc == -EINTR)
			continue;
		if (rc <= 0) {
			if (rc < 0 && !__atomic_load_n(&m->stopping, __ATOMIC_ACQUIRE))
				log_err("fuse: reading %s's requests failed: %s; it no longer "
					"serves",
					m->mountpoint, strerror(-rc));
			__atomic_store_n(&m->ended, true, __ATOMIC_RELEASE);
			break; /* 0: unmounted */
		}
		__atomic_fetch_add(&m->busy, 1, __ATOMIC_RELAXED);
		fuse_session_process_buf(m->se, &fbuf);
		__atomic_fetch_sub(&m->busy, 1, __ATOMIC_RELAXED);
	}
	if (polling)
		poller_drop(m);
	rcu_thread_offline();
	close(ep);
	free(fbuf.mem);
	free(thread_buf);
	thread_buf = NULL;
	return NULL;
}

/* threads_stop - make every FUSE thread leave its read, and join them. */
static void threads_stop(struct fmount *m)
{
	fuse_session_exit(m->se);
	for (unsigned i = 0; i < m->nthreads; i++) {
		/* The signal may come just before the read starts: repeat until it ends. */
		for (;;) {
			struct timespec ts;

			pthread_kill(m->threads[i], WAKE_SIGNAL);
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 20 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			if (pthread_timedjoin_np(m->threads[i], NULL, &ts) == 0)
				break;
		}
	}
	m->nthreads = 0;
}

/* --- start and stop --- */

const char *fmount_path(const struct fmount *m)
{
	return m->mountpoint;
}

bool fmount_serving(const struct fmount *m)
{
	return !__atomic_load_n(&m->ended, __ATOMIC_ACQUIRE);
}

static int session_new(struct fmount *m)
{
	unsigned io = m->o.no & FMOUNT_SMALL_PAGES ? FM_SMALL_IO : FM_MAX_IO;
	char opts[256];
	char *argv[] = {"daxfsd", "-o", opts, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	int fd, fl;

	/*
	 * Every caller is checked by the kernel against the attributes it has and by the
	 * engine as itself: the mount is for everyone (allow_other), as the socket is.
	 */
	snprintf(opts, sizeof(opts),
		 "default_permissions,allow_other,fsname=daxfs,subtype=daxfs,max_read=%u%s", io,
		 m->o.ro ? ",ro" : "");
	m->se = fuse_session_new(&args, &fm_ops, sizeof(fm_ops), m);
	fuse_opt_free_args(&args);
	if (!m->se) {
		log_err("fuse: cannot set up a FUSE session (options %s)", opts);
		return -EINVAL;
	}
	if (fuse_session_mount(m->se, m->mountpoint) != 0) {
		log_err("fuse: cannot mount %s (is it a directory daxfsd may mount on? is "
			"/dev/fuse there? messages above say more)",
			m->mountpoint);
		fuse_session_destroy(m->se);
		m->se = NULL;
		return -EPERM;
	}
	/* Non-blocking: the FUSE threads poll it, or sleep in epoll (loop_thread). */
	fd = fuse_session_fd(m->se);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int err = errno;

		log_err("fuse: cannot make /dev/fuse non-blocking: %s", strerror(err));
		fuse_session_unmount(m->se);
		fuse_session_destroy(m->se);
		m->se = NULL;
		return -err;
	}
	return 0;
}

int fmount_new(struct fmount **out, struct ns *ns, const char *mountpoint,
	       const struct fmount_opts *o)
{
	struct sigaction sa = {.sa_handler = on_wake_signal}; /* no SA_RESTART */
	struct fmount *m;
	struct stat st;
	int rc;

	*out = NULL;
	if (stat(mountpoint, &st) < 0) {
		rc = -errno;
		log_err("fuse: mount point %s: %s", mountpoint, strerror(errno));
		return rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_err("fuse: mount point %s is not a directory", mountpoint);
		return -ENOTDIR;
	}
	m = calloc(1, sizeof(*m));
	if (!m || !(m->mountpoint = realpath(mountpoint, NULL))) {
		free(m);
		log_err("fuse: out of memory");
		return -ENOMEM;
	}
	m->ns = ns;
	m->o = *o;
	m->attr_tmo = o->attr_timeout;
	m->entry_tmo = o->entry_timeout;
	if (m->attr_tmo < 0)
		m->attr_tmo = o->cache == FMOUNT_CACHE_NONE   ? 0
			      : o->cache == FMOUNT_CACHE_AUTO ? 1
							      : 86400;
	if (m->entry_tmo < 0)
		m->entry_tmo = m->attr_tmo;
	m->trusted.ns = (struct ns_cred){.flags = NS_CRED_SUPER | NS_CRED_RESERVE, .origin = m};
	m->trusted.ns.groups = m->trusted.inline_groups;
	sigemptyset(&sa.sa_mask);
	sigaction(WAKE_SIGNAL, &sa, NULL);

	rc = fnodes_init(m);
	if (rc == 0)
		rc = fcreds_init(m);
	if (rc == 0)
		rc = notes_start(m);
	if (rc == 0)
		rc = fops_init(m);
	if (rc == 0)
		rc = session_new(m);
	if (rc)
		goto err;
	ns_set_observer(ns, observe, m);
	for (unsigned i = 0; i < FM_THREADS; i++) {
		rc = pthread_create(&m->threads[i], NULL, loop_thread, m);
		if (rc) {
			log_err("fuse: cannot start a FUSE thread: %s", strerror(rc));
			rc = -rc;
			goto err;
		}
		m->nthreads++;
	}
	log_notice("fuse: mounted on %s (cache=%s, attributes and names cached %g s / %g s%s%s)",
		   m->mountpoint, fmount_cache_name(o->cache), m->attr_tmo, m->entry_tmo,
		   o->writeback ? ", writeback cache" : "", o->ro ? ", read-only" : "");
	*out = m;
	return 0;
err:
	fmount_delete(&m);
	return rc;
}

void fmount_delete(struct fmount **mp)
{
	struct fmount *m = *mp;

	if (!m)
		return;
	*mp = NULL;
	__atomic_store_n(&m->stopping, true, __ATOMIC_RELEASE);
	if (m->se)
		threads_stop(m);
	fops_fini(m); /* every request in flight answered */
	if (m->note_running)
		ns_set_observer(m->ns, NULL, NULL);
	notes_stop(m);
	if (m->se) {
		fuse_session_unmount(m->se);
		fuse_session_destroy(m->se);
		log_notice("fuse: unmounted %s", m->mountpoint);
	}
	fnodes_fini(m); /* after the kernel let go: closes what it had open */
	fcreds_fini(m);
	free(m->mountpoint);
	free(m);
}
