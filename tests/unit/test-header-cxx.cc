// SPDX-License-Identifier: MIT
/* test-header-cxx - <daxfs/daxfs.h> compiles on its own as C++ and links. */
#include <daxfs/daxfs.h>

int main()
{
	struct daxfs_stat st = {};
	struct daxfs_event ev = {};
	daxfs_readdir_fn fn = nullptr;
	struct daxfs *fs = nullptr;

	ev.type = DAXFS_EVENT_INVALIDATE;
	daxfs_close(fs); /* accepts NULL */
	daxfs_map_delete(nullptr);
	return (st.size == 0 && ev.type == DAXFS_EVENT_INVALIDATE && !fn) ? 0 : 1;
}
