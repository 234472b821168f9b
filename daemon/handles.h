/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_DAEMON_HANDLES_H
#define DAXFS_DAEMON_HANDLES_H

/*
 * handles - the inodes one session reached through a path lookup that passed search
 * permission on every directory (DESIGN §7), like NFS open state: a request by inode number
 * is honoured only for one of them (or for an admin), so counting inode numbers gets a
 * client nowhere it could not walk to.
 *
 * A session remembers at most HANDLES_MAX inodes; past that the least recently used one is
 * forgotten (a CLOCK sweep), and a request by its number gets ESTALE until the path is looked
 * up again. Memory: at most about 24 bytes per handle.
 *
 * Lookups and inserts are O(1) (an open-addressing hash table over a ring of slots).
 * Context: any thread. Locking: the caller serialises calls on one set (the session's lock).
 */

#include <stdbool.h>
#include <stdint.h>

#define HANDLES_MAX 65536u

struct handles {
	struct handle_slot {
		uint64_t ino; /* 0: free */
		bool ref;     /* used since the sweep last passed */
	} * ring;
	uint32_t *table; /* ring index + 1; 0: empty */
	uint32_t cap;	 /* ring slots, a power of two */
	uint32_t n;	 /* handles held */
	uint32_t hand;	 /* the CLOCK sweep's position */
};

void handles_init(struct handles *h);
void handles_release(struct handles *h);

/* handles_add - remember @ino (or mark it used again). Return: 0; -ENOMEM (not remembered). */
int handles_add(struct handles *h, uint64_t ino);

/* handles_has - was @ino reached (and not forgotten since)? Marks it used. */
bool handles_has(struct handles *h, uint64_t ino);

#endif
