/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_COMMON_COMPILER_H
#define DAXFS_COMMON_COMPILER_H

/*
 * CACHE_ALIGNED - start a struct member on a cache line of its own, so that a field every
 * thread writes (a counter, a lock) does not share its line with fields every thread reads.
 */
#define CACHE_ALIGNED __attribute__((aligned(64)))

#endif
