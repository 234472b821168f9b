// SPDX-License-Identifier: MIT
/*
 * daxfs devices: the device-DAX devices (libdaxctl) and fsdax namespaces (libndctl) of this
 * machine, i.e. what daxfs mkfs and daxfsd can use besides an emulated region.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <daxctl/libdaxctl.h>
#include <json-c/json.h>
#include <ndctl/libndctl.h>

#include "daxfs.h"
#include "util.h"

static const char devices_usage[] =
	"usage: daxfs devices [--json]\n"
	"\n"
	"List the device-DAX devices (/dev/daxX.Y) and the fsdax namespaces (/dev/pmemX, to\n"
	"mount -o dax) of this machine, with their size and alignment. Says so when there are\n"
	"none: an emulated region on an ordinary file works everywhere.\n";

struct dev_list {
	bool json;
	json_object *arr;
	unsigned n;
};

static void add(struct dev_list *l, const char *kind, const char *path, uint64_t size,
		uint64_t align, const char *via)
{
	char b1[32], b2[32];

	l->n++;
	if (l->json) {
		json_object *j = json_object_new_object();

		json_object_object_add(j, "kind", json_object_new_string(kind));
		json_object_object_add(j, "path", json_object_new_string(path));
		json_object_object_add(j, "size", json_object_new_uint64(size));
		json_object_object_add(j, "align", json_object_new_uint64(align));
		json_object_object_add(j, "namespace", json_object_new_string(via));
		json_object_array_add(l->arr, j);
		return;
	}
	printf("%-7s %-14s %10s  align %-9s %s\n", kind, path, format_size(size, b1, sizeof(b1)),
	       align ? format_size(align, b2, sizeof(b2)) : "-", via);
}

/* list_devdax - every enabled device-DAX device. Return: 0 or a negative errno. */
static int list_devdax(struct dev_list *l)
{
	struct daxctl_region *region;
	struct daxctl_ctx *ctx;
	struct daxctl_dev *dev;
	int rc = daxctl_new(&ctx);

	if (rc)
		return rc < 0 ? rc : -rc;
	daxctl_region_foreach(ctx, region)
	{
		daxctl_dev_foreach(region, dev)
		{
			char path[64];

			if (!daxctl_dev_is_enabled(dev) || !daxctl_dev_get_devname(dev))
				continue;
			snprintf(path, sizeof(path), "/dev/%s", daxctl_dev_get_devname(dev));
			add(l, "devdax", path, daxctl_dev_get_size(dev), daxctl_dev_get_align(dev),
			    daxctl_dev_get_devname(dev));
		}
	}
	daxctl_unref(ctx);
	return 0;
}

/* list_fsdax - every namespace in fsdax mode with a block device. */
static int list_fsdax(struct dev_list *l)
{
	struct ndctl_namespace *ndns;
	struct ndctl_region *region;
	struct ndctl_bus *bus;
	struct ndctl_ctx *ctx;
	int rc = ndctl_new(&ctx);

	if (rc)
		return rc < 0 ? rc : -rc;
	ndctl_bus_foreach(ctx, bus)
	{
		ndctl_region_foreach(bus, region)
		{
			ndctl_namespace_foreach(region, ndns)
			{
				struct ndctl_pfn *pfn = ndctl_namespace_get_pfn(ndns);
				const char *blk = pfn ? ndctl_pfn_get_block_device(pfn)
						      : ndctl_namespace_get_block_device(ndns);
				char path[64];

				if (ndctl_namespace_get_mode(ndns) != NDCTL_NS_MODE_FSDAX || !blk ||
				    !blk[0])
					continue;
				snprintf(path, sizeof(path), "/dev/%s", blk);
				add(l, "fsdax", path, ndctl_namespace_get_size(ndns), 0,
				    ndctl_namespace_get_devname(ndns));
			}
		}
	}
	ndctl_unref(ctx);
	return 0;
}

int cmd_devices(int argc, char **argv, struct cli_ctx *ctx)
{
	struct dev_list l = {0};
	int rc;

	rc = cli_json_opts(argc, argv, ctx, devices_usage, 0);
	if (rc >= 0)
		return rc;
	l.json = ctx->json;
	if (l.json)
		l.arr = json_object_new_array();
	rc = list_devdax(&l);
	if (rc == 0)
		rc = list_fsdax(&l);
	if (rc) {
		cli_err("devices", "reading the NVDIMM and DAX devices: %s", strerror(-rc));
		json_object_put(l.arr);
		return EXIT_FAIL;
	}
	if (l.json) {
		printf("%s\n", json_object_to_json_string_ext(l.arr, JSON_C_TO_STRING_PRETTY));
		json_object_put(l.arr);
	} else if (l.n == 0) {
		printf("no device-DAX devices or fsdax namespaces on this machine; an emulated "
		       "region works anywhere: daxfs mkfs --size SIZE FILE\n");
	}
	return EXIT_OK;
}
