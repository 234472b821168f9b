// SPDX-License-Identifier: MIT
/*
 * test-header - <daxfs/daxfs.h> compiles on its own, as C (test-header-cxx.cc: as C++),
 * and what it declares links against libdaxfs.
 */
#include <daxfs/daxfs.h>

#include <stdio.h>

int main(void)
{
	struct daxfs_stat st = {0};
	struct daxfs_event ev = {DAXFS_EVENT_POISON, NULL, 0, 0, 0, NULL};
	int (*open_fn)(struct daxfs **, const char *) = daxfs_open;
	void (*persist_fn)(struct daxfs_map *, const void *, size_t) = daxfs_map_persist;

	if (!open_fn || !persist_fn || st.size != 0 || ev.type != DAXFS_EVENT_POISON)
		return 1;
	if (daxfs_errormsg()[0] != '\0') {
		fprintf(stderr, "errormsg not empty before any failure\n");
		return 1;
	}
	return 0;
}
