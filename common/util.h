/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_COMMON_UTIL_H
#define DAXFS_COMMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define ALIGN_UP(x, a) (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a)-1))
#define IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a)-1)) == 0)
#define DIV_ROUND_UP(n, d) (((n) + (d)-1) / (d))

/* XSTR - the expansion of macro @x as a string literal: XSTR(FOO) with FOO 5000 is "5000". */
#define STRINGIFY(x) #x
#define XSTR(x) STRINGIFY(x)

#define container_of_const(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define KiB (1024ULL)
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)

/*
 * parse_size - parse "4096", "64K", "16M", "2G", "1T" (binary units, optional "iB"/"B").
 * Return: 0, or -EINVAL for a malformed string, -ERANGE on overflow.
 */
int parse_size(const char *s, uint64_t *out);

/* format_size - human form of @bytes ("1.5 GiB") into @buf. */
const char *format_size(uint64_t bytes, char *buf, size_t len);

/* now_ns - CLOCK_REALTIME in nanoseconds since the epoch. */
int64_t now_ns(void);
/* mono_ns - CLOCK_MONOTONIC in nanoseconds. */
uint64_t mono_ns(void);

/*
 * calloc_lines - zeroed memory for one @size-byte struct, starting on a cache line, so that
 * its CACHE_ALIGNED members (compiler.h) really sit on lines of their own; free() releases
 * it. Return: the memory, or NULL.
 */
void *calloc_lines(size_t size);

/*
 * progress_cb - how a long operation (mkfs, check) tells its caller how far it got:
 * @done of @total units (0: not known) of @phase ("zeroing the log"), the units bytes
 * when @bytes, else things (files).
 */
struct progress_cb {
	void (*fn)(void *ctx, const char *phase, uint64_t done, uint64_t total, bool bytes);
	void *ctx;
};

/* progress_report - call @cb, if there is one. */
static inline void progress_report(const struct progress_cb *cb, const char *phase, uint64_t done,
				   uint64_t total, bool bytes)
{
	if (cb && cb->fn)
		cb->fn(cb->ctx, phase, done, total, bytes);
}

/* checksum64 - XXH3-64 of @len bytes at @p, seeded; the one checksum of the project. */
uint64_t checksum64(const void *p, size_t len, uint64_t seed);

#endif
