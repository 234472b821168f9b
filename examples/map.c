// SPDX-License-Identifier: MIT
/*
 * map - write a file through a zero-copy mapping, then read it back with copy I/O.
 * Usage: map [SOCKET]   (default: $DAXFS_SOCKET, else daxfs_default_socket())
 * The user must be trusted to map (daxfsd --map-users).
 */
#include <stdio.h>
#include <string.h>

#include <daxfs/daxfs.h>

#define MAP_LEN (1024 * 1024)

int main(int argc, char **argv)
{
	const char *msg = "hello from a daxfs mapping";
	struct daxfs_map *map = NULL;
	struct daxfs *fs = NULL;
	struct daxfs_stat st;
	char buf[64] = "";
	ssize_t n;
	int ret;

	ret = daxfs_open(&fs, argc > 1 ? argv[1] : NULL);
	if (ret == 0)
		ret = daxfs_create(fs, "/example.dat", 0644, 0, &st);
	if (ret == 0)
		ret = daxfs_map_new(fs, st.ino, 0, MAP_LEN, DAXFS_MAP_READ | DAXFS_MAP_WRITE, &map);
	if (ret < 0) {
		fprintf(stderr, "map: %s (%s)\n", daxfs_errormsg(), strerror(-ret));
		daxfs_close(fs);
		return 1;
	}
	memcpy(daxfs_map_addr(map), msg, strlen(msg) + 1);
	daxfs_map_persist(map, daxfs_map_addr(map), strlen(msg) + 1);
	daxfs_map_delete(&map);

	n = daxfs_pread(fs, st.ino, buf, sizeof(buf) - 1, 0);
	if (n < 0) {
		fprintf(stderr, "map: %s\n", daxfs_errormsg());
		daxfs_close(fs);
		return 1;
	}
	printf("%s\n", buf);
	daxfs_close(fs);
	return 0;
}
