// SPDX-License-Identifier: MIT
/*
 * bench-fsops - create + stat + unlink of a file in DIR, in a loop for SECONDS; prints the
 * loops per second. Each loop: open(O_CREAT | O_EXCL | O_WRONLY) and close, stat, unlink.
 * With THREADS > 1, that many threads loop at once in DIR (their names differ), which is
 * what parallel directory operations help.
 *
 * Usage: bench-fsops DIR SECONDS [THREADS]
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *dir;
static double secs;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *loop(void *arg)
{
	char name[4096];
	struct stat st;
	unsigned long n = 0;
	double end = now() + secs;

	snprintf(name, sizeof(name), "%s/fsops.%lu", dir, (unsigned long)(uintptr_t)arg);
	while ((n & 63) || now() < end) {
		int fd = open(name, O_CREAT | O_EXCL | O_WRONLY, 0644);

		if (fd < 0 || close(fd) < 0 || stat(name, &st) < 0 || unlink(name) < 0) {
			fprintf(stderr, "bench-fsops: %s: %s\n", name, strerror(errno));
			exit(1);
		}
		n++;
	}
	return (void *)(uintptr_t)n;
}

int main(int argc, char **argv)
{
	unsigned threads = argc > 3 ? (unsigned)atoi(argv[3]) : 1;
	pthread_t t[64];
	unsigned long total = 0;
	double t0;

	if (argc < 3 || threads < 1 || threads > 64) {
		fprintf(stderr, "usage: bench-fsops DIR SECONDS [THREADS]\n");
		return 2;
	}
	dir = argv[1];
	secs = atof(argv[2]);
	t0 = now();
	for (unsigned i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, loop, (void *)(uintptr_t)i);
	for (unsigned i = 0; i < threads; i++) {
		void *r;

		pthread_join(t[i], &r);
		total += (unsigned long)(uintptr_t)r;
	}
	printf("%.1f\n", (double)total / (now() - t0));
	return 0;
}
