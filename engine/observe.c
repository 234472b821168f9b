// SPDX-License-Identifier: MIT
/*
 * The namespace's observer (observe.h): one callback a caching frontend registers, called
 * under RCU so that unregistering can wait for the calls in flight.
 */
#include <stdlib.h>

#include "nsint.h"
#include "observe.h"

#define PAGE FMT_BLOCK_SIZE

struct ns_observer {
	ns_observer_fn fn;
	void *ctx;
};

void ns_set_observer(struct ns *ns, ns_observer_fn fn, void *ctx)
{
	struct ns_observer *o = NULL, *old;

	if (fn) {
		o = malloc(sizeof(*o));
		if (!o)
			abort(); /* a few bytes at start-up */
		*o = (struct ns_observer){fn, ctx};
	}
	old = __atomic_exchange_n(&ns->observer, o, __ATOMIC_ACQ_REL);
	if (old) {
		rcu_wait_grace();
		free(old);
	}
}

void ns_observe(struct ns *ns, const struct ns_change *ch)
{
	struct ns_observer *o;

	if (!__atomic_load_n(&ns->observer, __ATOMIC_RELAXED))
		return;
	rcu_read_begin();
	o = rcu_fetch(ns->observer);
	if (o)
		o->fn(o->ctx, ch);
	rcu_read_end();
}

void ns_observe_tx(struct ns *ns, const void *origin, const void *buf, size_t used)
{
	if (!__atomic_load_n(&ns->observer, __ATOMIC_RELAXED))
		return;
	for (size_t o = 0; o < used;) {
		const struct fmt_rec *h = (const struct fmt_rec *)((const char *)buf + o);
		const void *p = h + 1;
		struct ns_change ch = {.origin = origin};

		switch (h->type) {
		case FMT_REC_INODE:
			ch.kind = NS_CHANGE_INODE;
			ch.ino = ((const struct fmt_inode *)p)->ino;
			break;
		case FMT_REC_DIRENT_ADD: {
			const struct fmt_dirent *d = p;

			ch = (struct ns_change){NS_CHANGE_NAME, origin,	    d->dir, 0, 0,
						d->name,	d->name_len};
			break;
		}
		case FMT_REC_DIRENT_DEL: {
			const struct fmt_dirent_del *d = p;

			ch = (struct ns_change){NS_CHANGE_NAME, origin,	    d->dir, 0, 0,
						d->name,	d->name_len};
			break;
		}
		case FMT_REC_MAP: {
			const struct fmt_map *m = p;

			ch = (struct ns_change){NS_CHANGE_DATA,
						origin,
						m->ino,
						m->index * PAGE,
						(uint64_t)m->count * PAGE,
						NULL,
						0};
			break;
		}
		case FMT_REC_UNMAP: {
			const struct fmt_unmap *u = p;

			ch = (struct ns_change){NS_CHANGE_DATA,	 origin, u->ino, u->index * PAGE,
						u->count * PAGE, NULL,	 0};
			break;
		}
		default:
			o += h->len;
			continue;
		}
		ns_observe(ns, &ch);
		o += h->len;
	}
}
