/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_NSMAP_H
#define DAXFS_ENGINE_NSMAP_H

/*
 * nsmap - MAP: a grant of a file range together with the extents it covers (DESIGN §1, §7),
 * on top of the grants and lease breaks of lease.h.
 */

#include <stddef.h>
#include <stdint.h>

#include "lease.h"
#include "namespace.h"

/*
 * ns_map - grant @holder pages [@index, @index + @count) of @ino and describe them, as one
 * step under the inode lock, so no lease break can fall between the two. @c needs read
 * permission, and write permission for NS_GRANT_WRITE, with which the range is first
 * allocated (zeroed) and the file extended to cover it. On a region aligned above 4 KiB
 * (devdax, 2 MiB) the range is first widened to the file's whole 2 MiB chunks it touches,
 * each chunk with data is made one aligned huge extent (moved onto a fresh huge block when
 * it is not), and the grant and *@ext cover the widened range: the client can reach all
 * of it, so every invalidation or poison in it reaches the client. While a lease break is
 * under way on the file, MAP parks until it ends.
 * Context: thread registered with RCU. Locking: takes the inode lock, the grant lock.
 * Return: 0, *@out, and *@ext (malloc'd, the caller frees) with *@next runs in page order;
 *         -ENOENT, -EISDIR, -EINVAL, -EACCES, -ENOSPC, -EFBIG, -EROFS (write on a
 *         read-only mount), -EOPNOTSUPP (a region alignment daxfs cannot map), -ENOMEM;
 *         NS_WAIT.
 */
int ns_map(struct ns *ns, struct ns_ctx *c, uint64_t ino, uint64_t index, uint64_t count,
	   unsigned mode, const struct ns_grant_ops *ops, void *holder, struct ns_grant **out,
	   struct ns_extent **ext, size_t *next);

#endif
