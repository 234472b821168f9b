// SPDX-License-Identifier: MIT
/*
 * test-sigbus - the SIGBUS-safe access of engine/sigbus.c and region.c (DESIGN §5 source 2,
 * §7), on emulated regions. This kernel cannot poison memory (MADV_HWPOISON needs
 * CONFIG_MEMORY_FAILURE), so a media error is played by the thread sending itself SIGBUS
 * with si_code BUS_MCEERR_AR and si_addr inside the bytes being copied
 * (rt_tgsigqueueinfo, from the copy's test hook): the handler cannot tell the difference.
 *
 *   copy       region_copy_safe / region_memcpy_safe / region_memset_safe return -EIO with
 *              the region offset and size of the lost range (4 KiB, and 2 MiB for
 *              si_addr_lsb 21); the fault is queued once for poison_drain(); SIGBUS is not
 *              left blocked; without a fault the copies copy
 *   file       a media error under ns_read: the read stops short before the page, the page's
 *              block is quarantined (poison_handle ran, from ns_read's drain), the page then
 *              reads EIO and every other page reads back; the same for an overwrite (ns_write)
 *   truncated  the region's backing file shrinks under the mount: an unsafe read of region
 *              memory past the end completes (anonymous memory) and fails the region with
 *              BUS_ADRERR; a safe copy there returns -EIO; unmount works
 *   foreign    a SIGBUS outside every region still kills the process (a child), but an
 *              action-optional notice (BUS_MCEERR_AO) there is ignored: the child lives
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "nsint.h"
#include "nsmap.h"
#include "pagemap.h"
#include "poison.h"
#include "lease.h"
#include "sigbus.h"
#include "testutil.h"

#define PAGE ((uint64_t)FMT_BLOCK_SIZE)
#define MiB (UINT64_C(1) << 20)
#define REGION_SIZE (32 * MiB)

static void sink(enum log_level level, const char *msg, void *ctx)
{
	(void)ctx;
	if (getenv("TEST_VERBOSE"))
		fprintf(stderr, "<%d>%s\n", (int)level, msg);
}

/* ---- playing a media error ---- */

struct mce {
	const char *target; /* send SIGBUS when a copy touches this address */
	unsigned lsb;	    /* si_addr_lsb */
	int code;
	unsigned sent;
};

static void send_sigbus(const void *addr, unsigned lsb, int code)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	si.si_signo = SIGBUS;
	si.si_code = code;
	si.si_addr = (void *)addr;
	si.si_addr_lsb = (short)lsb;
	/* A thread may send itself a kernel si_code: the kernel delivers it before returning. */
	T_OK(syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), SIGBUS, &si));
}

static void mce_hook(void *ctx, const void *addr, size_t len)
{
	struct mce *m = ctx;
	const char *a = addr;

	if (m->target >= a && m->target < a + len) {
		m->sent++;
		send_sigbus(m->target, m->lsb, m->code);
		T_FAIL("the copy went on after SIGBUS at %p", (const void *)m->target);
	}
}

static bool sigbus_blocked(void)
{
	sigset_t cur;

	T_OK(sigprocmask(SIG_BLOCK, NULL, &cur));
	return sigismember(&cur, SIGBUS);
}

/* ---- copy ---- */

static void test_copy(void)
{
	const char *path = t_path("copy.region");
	struct region_fault f, q;
	struct region *r;
	struct mce m = {.lsb = 12, .code = BUS_MCEERR_AR};
	uint8_t *buf = malloc(4 * MiB);
	char *base;

	T_ASSERT(buf);
	T_OK(region_open(&r, path, REGION_AUTO, REGION_CREATE, REGION_SIZE));
	base = region_base(r);
	memset(base, 0x5a, 8 * MiB);
	sigbus_set_test_hook(mce_hook, &m);

	/* A 4 KiB media error in the middle of a 64 KiB copy. */
	m.target = base + 5 * MiB + 3 * PAGE + 100;
	memset(&f, 0, sizeof(f));
	T_ERR(region_copy_safe(r, buf, base + 5 * MiB, 16 * PAGE, &f), EIO);
	T_ASSERT(m.sent == 1);
	T_ASSERT(f.code == BUS_MCEERR_AR);
	T_ASSERT(f.off == 5 * MiB + 3 * PAGE && f.len == PAGE);
	T_ASSERT(!sigbus_blocked());
	T_ASSERT(region_poison_pop(r, &q) && q.off == f.off && q.len == f.len);
	T_ASSERT(!region_poison_pop(r, &q));
	T_ASSERT(!region_failed(r, NULL)); /* a media error is poison, not a failed region */

	/* region_copy_check: the same fault, for its caller alone (nothing queued). */
	memset(&f, 0, sizeof(f));
	T_ERR(region_copy_check(r, buf, base + 5 * MiB, 16 * PAGE, &f), EIO);
	T_ASSERT(m.sent == 2);
	T_ASSERT(f.code == BUS_MCEERR_AR && f.off == 5 * MiB + 3 * PAGE && f.len == PAGE);
	T_ASSERT(!region_poison_pop(r, &q));
	T_ASSERT(!sigbus_blocked());
	/* ...and the next safe copy queues again. */
	T_ERR(region_copy_safe(r, buf, base + 5 * MiB, 16 * PAGE, &f), EIO);
	T_ASSERT(region_poison_pop(r, &q) && q.off == f.off && q.len == f.len);
	T_ASSERT(!region_poison_pop(r, &q));

	/* A 2 MiB one (a PMD-mapped devdax page): the whole huge page is lost. */
	m.lsb = 21;
	m.target = base + 6 * MiB + 12345;
	T_ERR(region_copy_safe(r, buf, base + 5 * MiB, 2 * MiB, &f), EIO);
	T_ASSERT(f.off == 6 * MiB && f.len == 2 * MiB);

	/* Stores: memcpy and memset into the region; BUS_MCEERR_AO the same way. */
	m.lsb = 12;
	m.code = BUS_MCEERR_AO;
	m.target = base + 7 * MiB + 10;
	T_ERR(region_memcpy_safe(r, base + 7 * MiB, buf, PAGE, REGION_NODRAIN, &f), EIO);
	T_ASSERT(f.off == 7 * MiB && f.len == PAGE && f.code == BUS_MCEERR_AO);
	m.code = BUS_MCEERR_AR;
	T_ERR(region_memset_safe(r, base + 7 * MiB, 0, 2 * PAGE, 0, NULL), EIO);
	T_ASSERT(m.sent == 6);
	for (int i = 0; i < 3; i++)
		T_ASSERT(region_poison_pop(r, &q));
	T_ASSERT(!region_poison_pop(r, &q));

	/* No fault: they copy. */
	sigbus_set_test_hook(NULL, NULL);
	memset(buf, 0xa5, PAGE);
	T_OK(region_memcpy_safe(r, base + MiB, buf, PAGE, 0, NULL));
	memset(buf, 0, PAGE);
	T_OK(region_copy_safe(r, buf, base + MiB, PAGE, NULL));
	T_ASSERT(buf[0] == 0xa5 && buf[PAGE - 1] == 0xa5);
	T_OK(region_memset_safe(r, base + MiB, 0, PAGE, 0, NULL));
	T_ASSERT(((uint8_t *)base)[MiB + 17] == 0);
	T_ASSERT(m.sent == 6);
	region_close(&r);
	free(buf);
	printf("copy: ok\n");
}

/* ---- file ---- */

static uint64_t quarantined(struct ns *ns)
{
	struct ns_statfs st;

	ns_statfs(ns, &st);
	return st.blocks_quarantined;
}

static void test_file(void)
{
	const char *path = t_path("file.region");
	struct ns_mount_opts o = {.kind = REGION_AUTO};
	struct mce m = {.lsb = 12, .code = BUS_MCEERR_AR};
	uint8_t *buf = malloc(8 * PAGE), *want = malloc(8 * PAGE);
	struct ns_attr a;
	struct ns *ns;
	uint64_t b3, b5, q0;
	bool poison;

	T_ASSERT(buf && want);
	T_OK(ns_mkfs(path, REGION_SIZE, NULL));
	T_OK(ns_mount(&ns, path, &o));
	T_OK(ns_create(ns, NULL, NS_ROOT_INO, "f", 0644, &a));
	for (size_t i = 0; i < 8 * PAGE; i++)
		want[i] = (uint8_t)(i * 7 + i / PAGE);
	T_ASSERT(ns_write(ns, NULL, a.ino, want, 8 * PAGE, 0) == (ssize_t)(8 * PAGE));
	b3 = t_page_block(ns, a.ino, 3, NULL);
	q0 = quarantined(ns);

	/* A read that runs into the bad page stops before it; the block is quarantined. */
	m.target = (char *)region_at(ns_region(ns), b3 * PAGE) + 99;
	sigbus_set_test_hook(mce_hook, &m);
	T_ASSERT(ns_read(ns, NULL, a.ino, buf, 8 * PAGE, 0) == (ssize_t)(3 * PAGE));
	T_ASSERT(m.sent == 1);
	T_ASSERT(memcmp(buf, want, 3 * PAGE) == 0);
	T_ASSERT(quarantined(ns) == q0 + 1);
	t_page_block(ns, a.ino, 3, &poison);
	T_ASSERT(poison);
	/* From now on the page is EIO without touching the memory; the rest reads back. */
	T_ERR(ns_read(ns, NULL, a.ino, buf, PAGE, 3 * PAGE), EIO);
	T_ASSERT(m.sent == 1);
	sigbus_set_test_hook(NULL, NULL);
	T_ASSERT(ns_read(ns, NULL, a.ino, buf, 4 * PAGE, 4 * PAGE) == (ssize_t)(4 * PAGE));
	T_ASSERT(memcmp(buf, want + 4 * PAGE, 4 * PAGE) == 0);

	/* An overwrite that faults: EIO, and the same quarantine. */
	b5 = t_page_block(ns, a.ino, 5, NULL);
	m.target = (char *)region_at(ns_region(ns), b5 * PAGE) + 4000;
	sigbus_set_test_hook(mce_hook, &m);
	T_ERR(ns_write(ns, NULL, a.ino, want, 100, 5 * PAGE + 3950), EIO);
	T_ASSERT(m.sent == 2);
	T_ASSERT(quarantined(ns) == q0 + 2);
	sigbus_set_test_hook(NULL, NULL);
	T_ERR(ns_read(ns, NULL, a.ino, buf, PAGE, 5 * PAGE), EIO);

	/* Repair by rewrite still works on it, and the region did not fail. */
	T_ASSERT(ns_write(ns, NULL, a.ino, want + 5 * PAGE, PAGE, 5 * PAGE) == (ssize_t)PAGE);
	T_ASSERT(ns_read(ns, NULL, a.ino, buf, PAGE, 5 * PAGE) == (ssize_t)PAGE);
	T_ASSERT(memcmp(buf, want + 5 * PAGE, PAGE) == 0);
	T_ASSERT(!region_failed(ns_region(ns), NULL));
	ns_unmount(&ns);

	/* The quarantine was persisted: it survives a remount. */
	T_OK(ns_mount(&ns, path, &o));
	T_ASSERT(quarantined(ns) == q0 + 2);
	T_ERR(ns_read(ns, NULL, a.ino, buf, PAGE, 3 * PAGE), EIO);
	ns_unmount(&ns);
	free(buf);
	free(want);
	printf("file: ok\n");
}

/* ---- truncated ---- */

static void test_truncated(void)
{
	const char *path = t_path("trunc.region");
	struct ns_mount_opts o = {.kind = REGION_AUTO};
	struct region_fault why, f;
	volatile uint8_t *p;
	uint8_t buf[64];
	struct region *r;
	struct ns *ns;
	uint8_t v;

	T_OK(ns_mkfs(path, REGION_SIZE, NULL));
	T_OK(ns_mount(&ns, path, &o));
	r = ns_region(ns);
	T_ASSERT(!region_failed(r, NULL));
	/* What a client with the region fd could do: the file shrinks to 8 MiB. */
	T_OK(truncate(path, (off_t)(8 * MiB)));

	/* An unsafe access past the end (metadata): it completes, the region fails. */
	p = (volatile uint8_t *)region_at(r, 20 * MiB + 123);
	v = *p;
	T_ASSERT(v == 0);
	*p = 7; /* the anonymous page is writable; nothing reaches the file */
	T_ASSERT(region_failed(r, &why));
	T_ASSERT(why.code == BUS_ADRERR && why.off == 20 * MiB && why.len == PAGE);

	/* A safe copy there: -EIO with the same kind of fault, no poison queued. */
	T_ERR(region_copy_safe(r, buf, region_at(r, 24 * MiB), sizeof(buf), &f), EIO);
	T_ASSERT(f.code == BUS_ADRERR && f.off == 24 * MiB);
	T_ASSERT(!region_poison_pop(r, &f));
	/* Below the new end, memory is still the file's. */
	T_OK(region_copy_safe(r, buf, region_at(r, 0), sizeof(buf), NULL));

	poison_region_failed(ns);
	ns_unmount(&ns);
	printf("truncated: ok\n");
}

/* ---- foreign ---- */

static void test_foreign(void)
{
	const char *path = t_path("foreign.file");
	int status, fd;
	pid_t pid;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	T_ASSERT(fd >= 0);
	T_OK(ftruncate(fd, 2 * PAGE));
	fflush(NULL);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		volatile uint8_t *q = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0);

		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		/* A sanitizer's report of the crash would only confuse the log. */
		if (null >= 0)
			dup2(null, STDERR_FILENO);
		if (q == MAP_FAILED || ftruncate(fd, 0) < 0)
			_exit(3);
		(void)q[PAGE]; /* SIGBUS, in no region */
		_exit(0);
	}
	close(fd);
	T_ASSERT(waitpid(pid, &status, 0) == pid);
	/* Killed by SIGBUS (or, under ASan, its handler's abort): not survived. */
	if (!WIFSIGNALED(status) &&
	    !(WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 3))
		T_FAIL("a SIGBUS outside the regions did not end the process (status 0x%x)",
		       status);
	printf("foreign: ok (%s %d)\n", WIFSIGNALED(status) ? "signal" : "exit",
	       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));

	/* BUS_MCEERR_AO for memory that is no region's: nothing to do, nobody dies. */
	fflush(NULL);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		static uint8_t heap[2 * 4096];

		send_sigbus(heap + 4096, 12, BUS_MCEERR_AO);
		_exit(7);
	}
	T_ASSERT(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 7)
		T_FAIL("BUS_MCEERR_AO outside the regions ended the process (status 0x%x)", status);
	printf("foreign: BUS_MCEERR_AO outside the regions ignored\n");
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	setvbuf(stdout, NULL, _IOLBF, 0);
	t_watchdog(60, "test-sigbus");
	rcu_thread_online();
	log_set_sink(sink, NULL);
	T_OK(sigbus_install());
	T_OK(sigbus_install()); /* once is enough; again is harmless */
	test_copy();
	test_file();
	test_truncated();
	test_foreign();
	log_set_sink(NULL, NULL);
	rcu_thread_offline();
	return 0;
}
