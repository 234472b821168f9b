// SPDX-License-Identifier: MIT
/*
 * vm-client - the libdaxfs client of the vm suite's guest tests (tests/vm/guest-test.sh),
 * run against a daxfsd on a real device-DAX (or any region: --huge is what is devdax only).
 *
 *   vm-client [--huge] write PATH OFF LEN SEED   map [OFF, OFF + LEN) of PATH for writing
 *                                                (created if missing), store a pattern made
 *                                                from SEED, persist
 *   vm-client [--huge] verify PATH OFF LEN SEED  map it read-only and compare the pattern
 *   vm-client interleave PATH1 PATH2 PAGES       write PAGES pages to each file in turns, so
 *                                                their blocks interleave in the region
 *   vm-client [--huge] poison PATH PAGE          two mappers of PATH: one poisons PAGE with
 *                                                MADV_HWPOISON and touches it (SIGBUS
 *                                                BUS_MCEERR_AR); a copy read of the page
 *                                                then fails with EIO and the other mapper is
 *                                                told POISON, its view made inaccessible
 *   vm-client [--huge] repaired PATH PAGE SEED   the same with a replica (DESIGN §13): a
 *                                                copy read of the page returns the pattern
 *                                                of SEED, and the other mapper is told
 *                                                INVALIDATE for it (never POISON); a new
 *                                                mapping then reads the pattern there
 *   vm-client fiemap FILE OFF                    print the byte offset on its block device
 *                                                of byte OFF of the local FILE (FIEMAP)
 *
 * --huge: the view must be made of 2 MiB pages: the /proc/self/smaps entry of the mapping
 * says MMUPageSize 2048 kB and starts 2 MiB aligned. The socket is $DAXFS_SOCKET.
 * Prints what it sees, one line per step; exit 0 when every check held, 1 otherwise.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <daxfs/daxfs.h>

#define PAGE 4096u
#define HUGE (2u << 20)

#ifndef MADV_HWPOISON
#define MADV_HWPOISON 100
#endif
#ifndef BUS_MCEERR_AR
#define BUS_MCEERR_AR 4
#endif

static bool want_huge;

#define CHECK(cond, ...)                                                    \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "vm-client: FAILED: " __VA_ARGS__); \
			fprintf(stderr, " (%s:%d)\n", __FILE__, __LINE__);  \
			exit(1);                                            \
		}                                                           \
	} while (0)

/* word - the pattern's 8 bytes at file offset @off (a multiple of 8). */
static uint64_t word(uint64_t seed, uint64_t off)
{
	uint64_t x = (seed + 1) * 0x9e3779b97f4a7c15ULL ^ off;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	return x ^ (x >> 29);
}

static struct daxfs *open_fs(void)
{
	struct daxfs *fs;
	int ret = daxfs_open(&fs, NULL);

	CHECK(ret == 0, "daxfs_open: %s (%s)", strerror(-ret), daxfs_errormsg());
	return fs;
}

/*
 * check_view - print the smaps entry that holds @addr; with --huge, require 2 MiB pages.
 * Return: the entry's start address.
 */
static uintptr_t check_view(const void *addr)
{
	uintptr_t a = (uintptr_t)addr, lo = 0, hi = 0, start = 0;
	unsigned long kps = 0, mps = 0;
	char line[512], perms[8] = "", found[512] = "";
	bool in = false;
	FILE *f = fopen("/proc/self/smaps", "r");

	CHECK(f, "cannot open /proc/self/smaps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long l, h, v;

		if (sscanf(line, "%lx-%lx %7s", &l, &h, perms) == 3 && strchr(line, ' ')) {
			if (in)
				break;
			in = a >= l && a < h;
			if (in) {
				lo = l;
				hi = h;
				memcpy(found, line, sizeof(found));
				found[strcspn(found, "\n")] = '\0';
			}
			continue;
		}
		if (!in)
			continue;
		if (sscanf(line, "KernelPageSize: %lu kB", &v) == 1)
			kps = v;
		else if (sscanf(line, "MMUPageSize: %lu kB", &v) == 1)
			mps = v;
	}
	fclose(f);
	CHECK(lo, "no /proc/self/smaps entry holds %p", addr);
	start = lo;
	printf("smaps: %s: %lu kB, KernelPageSize %lu kB, MMUPageSize %lu kB\n", found,
	       (unsigned long)((hi - lo) >> 10), kps, mps);
	if (want_huge) {
		CHECK(mps == 2048, "the mapping at %p has %lu kB pages, not 2048 kB", addr, mps);
		CHECK(lo % HUGE == 0, "the mapping at %p starts at %#lx, not 2 MiB aligned", addr,
		      (unsigned long)lo);
	}
	return start;
}

static uint64_t ino_of(struct daxfs *fs, const char *path, bool create)
{
	struct daxfs_stat st;
	int ret = daxfs_stat(fs, path, &st);

	if (ret == -ENOENT && create)
		ret = daxfs_create(fs, path, 0644, 0, &st);
	CHECK(ret == 0, "%s: %s (%s)", path, strerror(-ret), daxfs_errormsg());
	return st.ino;
}

static int cmd_write(const char *path, uint64_t off, uint64_t len, uint64_t seed)
{
	struct daxfs *fs = open_fs();
	uint64_t ino = ino_of(fs, path, true);
	struct daxfs_map *m;
	uint64_t *p;
	int ret;

	ret = daxfs_map_new(fs, ino, off, len, DAXFS_MAP_READ | DAXFS_MAP_WRITE, &m);
	CHECK(ret == 0, "map %s [%" PRIu64 ", +%" PRIu64 ") for writing: %s (%s)", path, off, len,
	      strerror(-ret), daxfs_errormsg());
	p = daxfs_map_addr(m);
	CHECK(daxfs_map_len(m) == len, "the view is %zu bytes, not %" PRIu64, daxfs_map_len(m),
	      len);
	for (uint64_t i = 0; i < len / 8; i++)
		p[i] = word(seed, off + i * 8);
	check_view(p);
	daxfs_map_persist(m, p, len);
	printf("write: %s [%" PRIu64 ", +%" PRIu64 ") stored and persisted through the view\n",
	       path, off, len);
	daxfs_map_delete(&m);
	daxfs_close(fs);
	return 0;
}

static int cmd_verify(const char *path, uint64_t off, uint64_t len, uint64_t seed)
{
	struct daxfs *fs = open_fs();
	uint64_t ino = ino_of(fs, path, false);
	struct daxfs_map *m;
	const uint64_t *p;
	uint64_t buf[PAGE / 8];
	ssize_t got;
	int ret;

	ret = daxfs_map_new(fs, ino, off, len, DAXFS_MAP_READ, &m);
	CHECK(ret == 0, "map %s [%" PRIu64 ", +%" PRIu64 ") for reading: %s (%s)", path, off, len,
	      strerror(-ret), daxfs_errormsg());
	p = daxfs_map_addr(m);
	check_view(p);
	for (uint64_t i = 0; i < len / 8; i++)
		CHECK(p[i] == word(seed, off + i * 8),
		      "%s: wrong data at byte %" PRIu64 " of the view", path, off + i * 8);
	/* the copy path agrees, at both ends */
	got = daxfs_pread(fs, ino, buf, sizeof(buf), off);
	CHECK(got == (ssize_t)sizeof(buf) && memcmp(buf, p, sizeof(buf)) == 0,
	      "%s: pread at %" PRIu64 " disagrees with the view", path, off);
	got = daxfs_pread(fs, ino, buf, sizeof(buf), off + len - PAGE);
	CHECK(got == (ssize_t)sizeof(buf) && memcmp(buf, p + (len - PAGE) / 8, sizeof(buf)) == 0,
	      "%s: pread at %" PRIu64 " disagrees with the view", path, off + len - PAGE);
	printf("verify: %s [%" PRIu64 ", +%" PRIu64 ") holds the pattern (view and pread)\n", path,
	       off, len);
	daxfs_map_delete(&m);
	daxfs_close(fs);
	return 0;
}

static int cmd_interleave(const char *p1, const char *p2, uint64_t pages)
{
	struct daxfs *fs = open_fs();
	uint64_t ino[2] = {ino_of(fs, p1, true), ino_of(fs, p2, true)};
	static uint64_t buf[PAGE / 8];

	for (uint64_t i = 0; i < pages; i++) {
		for (int k = 0; k < 2; k++) {
			ssize_t n;

			for (unsigned w = 0; w < PAGE / 8; w++)
				buf[w] = word((uint64_t)k + 100, i * PAGE + w * 8);
			n = daxfs_pwrite(fs, ino[k], buf, PAGE, i * PAGE);
			CHECK(n == PAGE, "pwrite: %s (%s)", strerror((int)-n), daxfs_errormsg());
		}
	}
	printf("interleave: %s and %s got %" PRIu64 " pages each, in turns (seeds 100, 101)\n", p1,
	       p2, pages);
	daxfs_close(fs);
	return 0;
}

/* --- poison --- */

static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_code;
static void *volatile bus_addr;
static volatile short bus_lsb;

#ifdef HAVE_DAXFS_SIGBUS
/* The library's report is made (POISON_REPORT); note what it says and leave the access. */
static volatile sig_atomic_t lib_code;
static volatile uint64_t lib_off, lib_len;

static void on_lib_sigbus(void *ctx, const struct daxfs_sigbus *info)
{
	(void)ctx;
	lib_code = info->code;
	lib_off = info->off;
	lib_len = info->len;
	bus_code = info->code;
	bus_addr = info->addr;
	siglongjmp(bus_jmp, 2);
}
#endif

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	bus_code = si->si_code;
	bus_addr = si->si_addr;
	bus_lsb = si->si_addr_lsb;
	siglongjmp(bus_jmp, 1);
}

struct watch {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int events;
	struct daxfs_event ev;
};

static bool want_invalidate; /* repaired: INVALIDATE is the event; a POISON is a failure */
static int poisons;	     /* repaired: POISON events seen */

static void on_event(void *ctx, const struct daxfs_event *ev)
{
	struct watch *w = ctx;
	enum daxfs_event_type want = want_invalidate ? DAXFS_EVENT_INVALIDATE : DAXFS_EVENT_POISON;

	pthread_mutex_lock(&w->lock);
	if (ev->type == DAXFS_EVENT_POISON)
		poisons++;
	if (ev->type == want && w->events++ == 0)
		w->ev = *ev;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* perms_at - /proc/self/maps' permissions of @p ("r--s"), or "none". */
static void perms_at(const void *p, char out[5])
{
	uintptr_t a = (uintptr_t)p;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	strcpy(out, "none");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && a >= lo && a < hi) {
			memcpy(out, perms, 4);
			out[4] = '\0';
			break;
		}
	}
	fclose(f);
}

/*
 * toucher - the first mapper (a child process): map PATH, poison @page with MADV_HWPOISON
 * and read it. The kernel (6.1) signals the poisoner at the madvise already, as it unmaps
 * the page everywhere; a later touch may fault again or not. Its library sees the SIGBUS
 * first when it handles SIGBUS (reporting the poison to daxfsd); this handler, installed
 * before the library's, is what the library chains to, or what runs when it has none.
 * Exit: 0 when a SIGBUS with BUS_MCEERR_AR came.
 */
static int toucher(const char *path, uint64_t page, uint64_t size)
{
	struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO};
	struct daxfs *fs;
	struct daxfs_map *m;
	volatile char *at;
	volatile bool ar = false;
	uint64_t ino;
	char c = 0;
	int ret;

	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGBUS, &sa, NULL) == 0, "sigaction: %s", strerror(errno));
	fs = open_fs();
#ifdef HAVE_DAXFS_SIGBUS
	/* the library reports poison on its mappings to daxfsd, then calls on_lib_sigbus */
	ret = daxfs_sigbus_install(fs, on_lib_sigbus, NULL);
	CHECK(ret == 0, "daxfs_sigbus_install: %s", strerror(-ret));
#else
	printf("toucher: this libdaxfs has no daxfs_sigbus_install: nothing reports the poison\n");
#endif
	ino = ino_of(fs, path, false);
	ret = daxfs_map_new(fs, ino, 0, size, DAXFS_MAP_READ | DAXFS_MAP_WRITE, &m);
	CHECK(ret == 0, "toucher: map %s: %s (%s)", path, strerror(-ret), daxfs_errormsg());
	at = (char *)daxfs_map_addr(m) + page * PAGE;
	check_view((const void *)at);
	if (sigsetjmp(bus_jmp, 1) == 0) {
		ret = madvise((void *)at, PAGE, MADV_HWPOISON);
		CHECK(ret == 0, "madvise(MADV_HWPOISON) at %p: %s", (void *)at, strerror(errno));
	} else {
		printf("toucher: SIGBUS at the madvise: si_code %d (%s), si_addr %p (the page is "
		       "at "
		       "%p), si_addr_lsb %d\n",
		       (int)bus_code, bus_code == BUS_MCEERR_AR ? "BUS_MCEERR_AR" : "not AR",
		       bus_addr, (void *)at, (int)bus_lsb);
		ar = bus_code == BUS_MCEERR_AR;
	}
	printf("toucher: page %" PRIu64 " of %s (view %p) poisoned with MADV_HWPOISON\n", page,
	       path, (void *)at);
	if (sigsetjmp(bus_jmp, 1) == 0) {
		c = at[0];
		printf("toucher: reading the poisoned page again gave %d, no SIGBUS\n", c);
	} else {
		printf("toucher: SIGBUS at the touch: si_code %d (%s), si_addr %p, si_addr_lsb "
		       "%d\n",
		       (int)bus_code, bus_code == BUS_MCEERR_AR ? "BUS_MCEERR_AR" : "not AR",
		       bus_addr, (int)bus_lsb);
		ar |= bus_code == BUS_MCEERR_AR;
	}
#ifdef HAVE_DAXFS_SIGBUS
	if (lib_code)
		printf("toucher: libdaxfs reported bytes [%" PRIu64 ", +%" PRIu64
		       ") of %s to daxfsd\n",
		       (uint64_t)lib_off, (uint64_t)lib_len, path);
	else
		printf("toucher: libdaxfs did not report the poison\n");
#endif
	/* The view stays: the process exits with it, as a crashed client would. */
	_exit(ar ? 0 : 1);
}

/*
 * watch_and_touch - the watcher (this process: a read mapping of all of @path, events on
 * the library's thread into @w) maps the file, then a toucher process poisons @page of it
 * and exits; with @view, the watcher's view is checked first (check_view). Return: the
 * mapping; *@size the mapped length. @who prefixes the messages.
 */
static struct daxfs_map *watch_and_touch(struct daxfs *fs, const char *who, const char *path,
					 uint64_t ino, uint64_t page, bool view, struct watch *w,
					 uint64_t *size)
{
	struct daxfs_stat st;
	struct daxfs_map *m;
	pid_t pid;
	int ret, status;

	ret = daxfs_getattr(fs, ino, &st);
	CHECK(ret == 0, "getattr: %s", strerror(-ret));
	*size = (st.size + PAGE - 1) / PAGE * PAGE;
	CHECK(page * PAGE < *size, "page %" PRIu64 " is past the end of %s", page, path);
	daxfs_set_event_callback(fs, on_event, w);
	ret = daxfs_event_thread_start(fs);
	CHECK(ret == 0, "event thread: %s", strerror(-ret));
	ret = daxfs_map_new(fs, ino, 0, *size, DAXFS_MAP_READ, &m);
	CHECK(ret == 0, "map %s: %s (%s)", path, strerror(-ret), daxfs_errormsg());
	if (view)
		check_view(daxfs_map_addr(m));
	printf("%s: the watcher maps %s [0, +%" PRIu64 ")\n", who, path, *size);

	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		_exit(toucher(path, page, *size));
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the toucher did not see SIGBUS BUS_MCEERR_AR (status %#x)", status);
	return m;
}

/*
 * watch_covers - the watcher's first event (@kind, for the messages) comes within 10 s (on
 * the monotonic clock: the guest's wall clock may step meanwhile), and covers @page of
 * @ino. @who prefixes the messages.
 */
static void watch_covers(struct watch *w, const char *who, const char *kind, uint64_t ino,
			 uint64_t page)
{
	struct timespec dl;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += 10;
	pthread_mutex_lock(&w->lock);
	while (w->events == 0 &&
	       pthread_cond_clockwait(&w->cond, &w->lock, CLOCK_MONOTONIC, &dl) == 0)
		;
	pthread_mutex_unlock(&w->lock);
	CHECK(w->events > 0, "the watcher got no %s event within 10 s", kind);
	printf("%s: the watcher got %s for bytes [%" PRIu64 ", +%" PRIu64 ") of inode %" PRIu64
	       "\n",
	       who, kind, w->ev.off, w->ev.len, w->ev.ino);
	CHECK(w->ev.ino == ino && w->ev.off <= page * PAGE && page * PAGE < w->ev.off + w->ev.len,
	      "the %s event does not cover page %" PRIu64, kind, page);
}

static int cmd_poison(const char *path, uint64_t page)
{
	struct watch w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	struct daxfs *fs = open_fs();
	uint64_t ino = ino_of(fs, path, false), size;
	struct daxfs_map *m = watch_and_touch(fs, "poison", path, ino, page, true, &w, &size);
	char buf[PAGE], perms[5];
	ssize_t got;

	/*
	 * The daemon's poison path runs on the toucher library's report (or its own copy read
	 * faulting): then copy reads of the page fail with EIO.
	 */
	for (int i = 0; i < 100; i++) {
		got = daxfs_pread(fs, ino, buf, PAGE, page * PAGE);
		if (got != (ssize_t)PAGE)
			break;
		usleep(100 * 1000);
	}
	printf("poison: pread of page %" PRIu64 ": %s\n", page,
	       got < 0 ? strerror((int)-got) : "read data (for 10 s)");
	CHECK(got == -EIO, "pread of the poisoned page returned %zd, not -EIO (%s)", got,
	      got < 0 ? daxfs_errormsg() : "");
	got = daxfs_pread(fs, ino, buf, PAGE, page * PAGE);
	CHECK(got == -EIO, "a second pread of the poisoned page returned %zd, not -EIO", got);

	/* The watcher is told, and the page is inaccessible in its view. */
	watch_covers(&w, "poison", "POISON", ino, page);
	perms_at((char *)daxfs_map_addr(m) + page * PAGE, perms);
	printf("poison: the watcher's view of the page is now %s\n", perms);
	CHECK(strcmp(perms, "---p") == 0 || strcmp(perms, "---s") == 0 ||
		      strcmp(perms, "none") == 0,
	      "the poisoned page is still accessible in the watcher's view (%s)", perms);
	daxfs_map_delete(&m);
	daxfs_event_thread_stop(fs);
	daxfs_close(fs);
	return 0;
}

/*
 * cmd_repaired - cmd_poison on a region with a replica: the toucher poisons the page; the
 * daemon hears of it (the kernel's notice, the toucher's report) and repairs it from the
 * replica. Copy reads of the page return the pattern throughout; the watcher gets
 * INVALIDATE for the page and no POISON; a new mapping reads the pattern there.
 */
static int cmd_repaired(const char *path, uint64_t page, uint64_t seed)
{
	struct watch w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	struct daxfs *fs = open_fs();
	uint64_t ino = ino_of(fs, path, false), size;
	uint64_t buf[PAGE / 8];
	struct daxfs_replica rep;
	struct daxfs_map *m;
	const uint64_t *p;
	ssize_t got;
	int ret;

	want_invalidate = true;
	m = watch_and_touch(fs, "repaired", path, ino, page, false, &w, &size);

	/* The watcher hears INVALIDATE for the page. */
	watch_covers(&w, "repaired", "INVALIDATE", ino, page);
	CHECK(poisons == 0, "the watcher was told POISON (%d): data was lost", poisons);

	/* Copy reads: the pattern. */
	got = daxfs_pread(fs, ino, buf, PAGE, page * PAGE);
	CHECK(got == (ssize_t)PAGE, "pread of the repaired page: %zd (%s)", got,
	      got < 0 ? daxfs_errormsg() : "short");
	for (uint64_t i = 0; i < PAGE / 8; i++)
		CHECK(buf[i] == word(seed, page * PAGE + i * 8),
		      "pread of the repaired page: wrong data at byte %" PRIu64, i * 8);
	/*
	 * The repair of the page's block is counted by the time its mappers are told. The
	 * kernel reports a 2 MiB range on devdax: wait until the daemon is through it (the
	 * count stays the same for 2 s; at most 120 s).
	 */
	ret = daxfs_replica_status(fs, &rep);
	CHECK(ret == 0 && rep.repaired >= 1,
	      "the replica status counts no repair (%d, %" PRIu64 ")", ret, rep.repaired);
	for (int still = 0, i = 0; still < 20 && i < 1200; i++) {
		uint64_t before = rep.repaired;

		usleep(100 * 1000);
		ret = daxfs_replica_status(fs, &rep);
		CHECK(ret == 0, "replica status: %s", strerror(-ret));
		still = rep.repaired == before ? still + 1 : 0;
	}
	printf("repaired: copy reads give the pattern; %" PRIu64 " blocks repaired, %" PRIu64
	       " read from the replica\n",
	       rep.repaired, rep.reads);
	daxfs_map_delete(&m);

	/* A new mapping reads the pattern. */
	ret = daxfs_map_new(fs, ino, 0, size, DAXFS_MAP_READ, &m);
	CHECK(ret == 0, "map %s again: %s (%s)", path, strerror(-ret), daxfs_errormsg());
	p = daxfs_map_addr(m);
	for (uint64_t i = 0; i < PAGE / 8; i++)
		CHECK(p[page * PAGE / 8 + i] == word(seed, page * PAGE + i * 8),
		      "the new mapping: wrong data at byte %" PRIu64 " of the page", i * 8);
	printf("repaired: a new mapping reads the pattern in page %" PRIu64 "\n", page);
	daxfs_map_delete(&m);
	daxfs_event_thread_stop(fs);
	daxfs_close(fs);
	return 0;
}

/* cmd_fiemap - where byte @off of the local file @path lies on its block device. */
static int cmd_fiemap(const char *path, uint64_t off)
{
	struct {
		struct fiemap f;
		struct fiemap_extent e[1];
	} fm;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
	memset(&fm, 0, sizeof(fm));
	fm.f.fm_start = off;
	fm.f.fm_length = 1;
	fm.f.fm_flags = FIEMAP_FLAG_SYNC;
	fm.f.fm_extent_count = 1;
	CHECK(ioctl(fd, FS_IOC_FIEMAP, &fm.f) == 0, "FIEMAP %s: %s", path, strerror(errno));
	CHECK(fm.f.fm_mapped_extents == 1 && fm.e[0].fe_logical <= off &&
		      off < fm.e[0].fe_logical + fm.e[0].fe_length,
	      "FIEMAP %s: byte %" PRIu64 " is in no extent", path, off);
	printf("%llu\n", (unsigned long long)(fm.e[0].fe_physical + (off - fm.e[0].fe_logical)));
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	int i = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (i < argc && strcmp(argv[i], "--huge") == 0) {
		want_huge = true;
		i++;
	}
	if (argc - i == 5 && strcmp(argv[i], "write") == 0)
		return cmd_write(argv[i + 1], strtoull(argv[i + 2], NULL, 0),
				 strtoull(argv[i + 3], NULL, 0), strtoull(argv[i + 4], NULL, 0));
	if (argc - i == 5 && strcmp(argv[i], "verify") == 0)
		return cmd_verify(argv[i + 1], strtoull(argv[i + 2], NULL, 0),
				  strtoull(argv[i + 3], NULL, 0), strtoull(argv[i + 4], NULL, 0));
	if (argc - i == 4 && strcmp(argv[i], "interleave") == 0)
		return cmd_interleave(argv[i + 1], argv[i + 2], strtoull(argv[i + 3], NULL, 0));
	if (argc - i == 3 && strcmp(argv[i], "poison") == 0)
		return cmd_poison(argv[i + 1], strtoull(argv[i + 2], NULL, 0));
	if (argc - i == 4 && strcmp(argv[i], "repaired") == 0)
		return cmd_repaired(argv[i + 1], strtoull(argv[i + 2], NULL, 0),
				    strtoull(argv[i + 3], NULL, 0));
	if (argc - i == 3 && strcmp(argv[i], "fiemap") == 0)
		return cmd_fiemap(argv[i + 1], strtoull(argv[i + 2], NULL, 0));
	fprintf(stderr, "usage: vm-client [--huge] write|verify PATH OFF LEN SEED\n"
			"       vm-client interleave PATH1 PATH2 PAGES\n"
			"       vm-client [--huge] poison PATH PAGE\n"
			"       vm-client [--huge] repaired PATH PAGE SEED\n"
			"       vm-client fiemap FILE OFF\n");
	return 2;
}
