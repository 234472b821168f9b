/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_OBSERVE_H
#define DAXFS_ENGINE_OBSERVE_H

/*
 * observe - tell a frontend that caches what it serves (the FUSE mount keeps the kernel's
 * page, attribute and name caches) about every change to the namespace, so it can drop what
 * went stale: attributes and data of an inode, names in a directory, poisoned pages.
 *
 * One observer per namespace (ns_set_observer). It hears changes made by every caller,
 * each tagged with the origin of the credential that made it (struct ns_cred.origin), so
 * the frontend can skip its own (the kernel already knows what it asked for).
 *
 * The callback runs on the thread that made the change, under that operation's inode locks
 * and (for poison) its xtable lock, inside an RCU read section: it must only queue the news
 * (no engine call, no wait, nothing that can block on a client or on the kernel).
 */

#include <stddef.h>
#include <stdint.h>

struct ns;
struct mlog_tx;

enum ns_change_kind {
	NS_CHANGE_INODE,  /* attributes of @ino changed (size, times, mode, owner, links) */
	NS_CHANGE_DATA,	  /* bytes [@off, @off + @len) of file @ino changed (len 0: to the end) */
	NS_CHANGE_NAME,	  /* the entry @name of directory @ino was added or removed */
	NS_CHANGE_POISON, /* bytes [@off, @off + @len) of file @ino are lost to poison */
};

struct ns_change {
	enum ns_change_kind kind;
	const void *origin; /* the origin of the caller's credential; NULL: not a frontend's */
	uint64_t ino;
	uint64_t off, len;
	const char *name; /* NS_CHANGE_NAME: not NUL-terminated; @name_len bytes */
	size_t name_len;
};

/* ns_observer_fn - see above. Context: any engine thread, under engine locks, RCU read side. */
typedef void (*ns_observer_fn)(void *ctx, const struct ns_change *ch);

/*
 * ns_set_observer - make @fn(@ctx) the namespace's observer (NULL: none). Setting NULL waits
 * for a grace period, so once it returns no call to the old observer is still running and
 * its context may be freed.
 * Context: registered with RCU, outside a read section, holding no engine lock.
 */
void ns_set_observer(struct ns *ns, ns_observer_fn fn, void *ctx);

/* ns_observe - report @ch to the observer, if any. Context: any engine thread. */
void ns_observe(struct ns *ns, const struct ns_change *ch);

/*
 * ns_observe_tx - report what the records of a transaction just applied changed (@buf,
 * @used bytes of records), made by a caller of @origin. Cheap when nobody observes.
 */
void ns_observe_tx(struct ns *ns, const void *origin, const void *buf, size_t used);

#endif
