// SPDX-License-Identifier: MIT
/*
 * map - zero-copy mappings (DESIGN §7) and what the library does for events (§5, §6).
 *
 * A MAP reply gives the grant, the file range's extents and, on the session's first MAP,
 * the region fd. The view is one libpmem2 virtual memory reservation (PROT_NONE, aligned to
 * 2 MiB or more when the length allows) in which every data extent is a pmem2 mapping of
 * the region fd at its region offset (pmem2_config_set_vm_reservation); holes are
 * anonymous read-only zero pages, poisoned extents stay PROT_NONE.
 *
 * The view maps in units of the region's alignment: 4 KiB, or 2 MiB on device-DAX, which
 * maps only whole aligned 2 MiB blocks (DESIGN §7). There the daemon grants and describes
 * the range widened to whole 2 MiB of the file, each one huge extent or a hole, and the
 * view covers that widened range; the application sees [off, off + len) of it
 * (daxfs_map_addr() points inside the view). An event makes whole units inaccessible: on
 * device-DAX, a poisoned 4 KiB page costs the mapping its 2 MiB. daxfs_map_persist()
 * calls each overlapped mapping's pmem2 persist function: a CPU cache flush on devdax and
 * fsdax (MAP_SYNC), msync() on emulated regions; on a region with a replica, a write
 * mapping's persist then asks the daemon to copy the range there (MAP_PERSIST). Ranges made inaccessible by events are
 * kept in a small sorted list and skipped by persist (a cache flush of a PROT_NONE page
 * would fault).
 *
 * Locking: fs->maps_lock guards the handle's list of mappings and map->fs; map->lock (a
 * rwlock) guards the view: persist reads it, events and delete change it. A mapping is
 * reference-counted so that an event being handled keeps it alive across the callback.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll, MSG_CMSG_CLOEXEC, MAP_NORESERVE, GNU strerror_r */
#endif
#include <errno.h>
#include <fcntl.h>
#include <libpmem2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "libdaxfs-private.h"
#include "util.h"

struct map_ext {
	uint64_t voff; /* offset in the view */
	uint64_t len;
	uint64_t region_off;
	uint32_t flags;	      /* WIRE_EXT_HOLE, WIRE_EXT_POISON */
	struct pmem2_map *pm; /* data extents */
	pmem2_persist_fn persist;
};

struct map_range {
	uint64_t off, len; /* view offsets, page aligned */
};

struct daxfs_map {
	struct daxfs *fs; /* NULL once daxfs_close() detached it; under fs->maps_lock */
	struct daxfs_map *next;
	int refs; /* atomic */

	uint64_t ino, off, len;
	uint64_t grant, generation;
	unsigned mode; /* WIRE_MAP_READ [| WIRE_MAP_WRITE] */
	bool mirrored; /* a write mapping of a region with a replica: persist tells the daemon */
	/* The view: file bytes [view_off, view_off + view_len), mapped in units of @unit. */
	uint64_t view_off, view_len, unit;

	pthread_rwlock_t lock; /* everything below */
	bool dead;	       /* the view is unmapped */
	bool no_persist;       /* dead_ranges is incomplete (out of memory): persist nothing */
	char *view;	       /* the reservation's address */
	char *addr;	       /* view + (off - view_off): what the application sees */
	struct pmem2_vm_reservation *rsv;
	size_t n_ext;
	struct map_ext *ext;
	size_t ndead, dead_cap;
	struct map_range *dead_ranges; /* sorted by off; may overlap */
};

static void map_ref(struct daxfs_map *m)
{
	__atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
}

static void map_unref(struct daxfs_map *m)
{
	if (__atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	pthread_rwlock_destroy(&m->lock);
	free(m->ext);
	free(m->dead_ranges);
	free(m);
}

/* pmem2_error - a libpmem2 failure as an errno, its message in the detail string. */
static int pmem2_error(int r, const char *what)
{
	int err = (r < 0 && r > -4096) ? r : -EINVAL;

	return lib_err(err, "%s: %s", what, pmem2_errormsg());
}

void map_adopt_region_fd(struct daxfs *fs, int fd)
{
	if (fs->region_fd < 0) {
		fs->region_fd = fd;
		pthread_cond_broadcast(&fs->region_cond);
	} else {
		close(fd);
	}
}

void map_region_close(struct daxfs *fs)
{
	if (fs->region_src)
		pmem2_source_delete(&fs->region_src);
	if (fs->region_fd >= 0)
		close(fs->region_fd);
	fs->region_fd = -1;
}

/*
 * region_source - the pmem2 source of the session's region fd, made on first use. The fd
 * comes with the first MAP that succeeds in the daemon, whose reply may come after that of
 * a concurrent MAP: without the fd, wait for it (at most the timeout).
 * Locking: takes fs->lock.
 * Return: 0, *@src and *@rdonly; -EPROTO (no fd came); pmem2 errors.
 */
static int region_source(struct daxfs *fs, struct pmem2_source **src, bool *rdonly)
{
	uint64_t deadline = lib_deadline_ns(fs);
	struct timespec ts = {
		.tv_sec = (time_t)(deadline / 1000000000u),
		.tv_nsec = (long)(deadline % 1000000000u),
	};
	int ret = 0, fl;

	pthread_mutex_lock(&fs->lock);
	while (fs->region_fd < 0 && !fs->broken) {
		if (pthread_cond_timedwait(&fs->region_cond, &fs->lock, &ts) == ETIMEDOUT)
			break;
	}
	if (fs->region_fd < 0) {
		ret = lib_err(-EPROTO, "MAP: daxfsd sent no region fd");
		goto out;
	}
	if (!fs->region_src) {
		ret = pmem2_source_from_fd(&fs->region_src, fs->region_fd);
		if (ret) {
			fs->region_src = NULL;
			ret = pmem2_error(ret, "MAP: the region fd");
			goto out;
		}
	}
	fl = fcntl(fs->region_fd, F_GETFL);
	*rdonly = fl < 0 || (fl & O_ACCMODE) == O_RDONLY;
	*src = fs->region_src;
out:
	pthread_mutex_unlock(&fs->lock);
	return ret;
}

/* dead_add - remember that view range [@off, @off + @len) is inaccessible. map->lock held. */
static void dead_add(struct daxfs_map *m, uint64_t off, uint64_t len)
{
	size_t i;

	if (m->ndead == m->dead_cap) {
		size_t cap = m->dead_cap ? m->dead_cap * 2 : 8;
		struct map_range *r = realloc(m->dead_ranges, cap * sizeof(*r));

		if (!r) {
			/* Without the record, persist would flush the range: stop persisting. */
			m->no_persist = true;
			return;
		}
		m->dead_ranges = r;
		m->dead_cap = cap;
	}
	for (i = m->ndead; i > 0 && m->dead_ranges[i - 1].off > off; i--)
		m->dead_ranges[i] = m->dead_ranges[i - 1];
	m->dead_ranges[i] = (struct map_range){.off = off, .len = len};
	m->ndead++;
}

/* check_extents - the extents cover the view in order, with sane sizes. */
static int check_extents(struct daxfs_map *m, uint64_t region_size)
{
	uint64_t at = m->view_off, end = m->view_off + m->view_len;

	if (m->n_ext == 0)
		return lib_err(-EPROTO, "MAP: a reply with no extents");
	for (size_t i = 0; i < m->n_ext; i++) {
		struct map_ext *e = &m->ext[i];

		if (e->voff != at || e->len == 0 || !IS_ALIGNED(e->len, (uint64_t)LIB_PAGE) ||
		    e->len > end - at)
			return lib_err(-EPROTO, "MAP: extent %zu does not follow the range", i);
		if (!(e->flags & (WIRE_EXT_HOLE | WIRE_EXT_POISON)) &&
		    (!IS_ALIGNED(e->region_off, (uint64_t)LIB_PAGE) ||
		     e->region_off > region_size || e->len > region_size - e->region_off))
			return lib_err(-EPROTO, "MAP: extent %zu lies outside the region", i);
		e->voff = at - m->view_off;
		at += e->len;
	}
	if (at != end)
		return lib_err(-EPROTO, "MAP: the extents do not cover the range");
	return 0;
}

/*
 * unit_extents - on device-DAX (@m->unit > 4 KiB), recut the checked extents into whole
 * units: a unit is data (one extent of the unit, at an aligned region offset), a hole (all
 * holes), or poisoned (any poison in it: the whole unit stays inaccessible). Consecutive
 * units of one kind merge, data ones when the region offsets follow.
 * Return: 0; -EPROTO (a unit mixes data with holes, or its data is not aligned); -ENOMEM.
 */
static int unit_extents(struct daxfs_map *m)
{
	uint64_t u = m->unit, nunits = m->view_len / u;
	struct map_ext *v, *last = NULL;
	size_t n = 0, j = 0;

	v = calloc(nunits, sizeof(*v));
	if (!v)
		return lib_err(-ENOMEM, "out of memory");
	for (uint64_t k = 0; k < nunits; k++) {
		uint64_t us = k * u, ue = us + u, region_off = 0;
		uint32_t flags = WIRE_EXT_HOLE;
		bool data = false;

		/* the extents that overlap [us, ue): from j on (they are in order) */
		while (m->ext[j].voff + m->ext[j].len <= us)
			j++;
		for (size_t i = j; i < m->n_ext && m->ext[i].voff < ue; i++) {
			const struct map_ext *e = &m->ext[i];

			if (e->flags & WIRE_EXT_POISON) {
				flags = WIRE_EXT_POISON;
			} else if (!(e->flags & WIRE_EXT_HOLE)) {
				data = true;
				region_off = e->region_off + (us - MIN(us, e->voff));
				if (e->voff > us || e->voff + e->len < ue ||
				    !IS_ALIGNED(region_off, u)) {
					free(v);
					return lib_err(
						-EPROTO,
						"MAP: file bytes %llu..%llu are not one aligned "
						"%llu KiB block of the device",
						(unsigned long long)(m->view_off + us),
						(unsigned long long)(m->view_off + ue - 1),
						(unsigned long long)(u >> 10));
				}
			}
		}
		if (flags != WIRE_EXT_POISON && data)
			flags = 0;
		if (last && last->flags == flags &&
		    (flags != 0 || last->region_off + last->len == region_off)) {
			last->len += u;
			continue;
		}
		last = &v[n++];
		*last = (struct map_ext){
			.voff = us, .len = u, .region_off = region_off, .flags = flags};
	}
	free(m->ext);
	m->ext = v;
	m->n_ext = n;
	return 0;
}

/*
 * view_geometry - the view's unit (the region's mapping alignment) and extent: [off, off +
 * len) widened to whole units.
 * Return: 0; -EPROTO (an alignment the library cannot map); pmem2 errors.
 */
static int view_geometry(struct daxfs_map *m, struct pmem2_source *src, const char *what)
{
	size_t align;
	int ret;

	ret = pmem2_source_alignment(src, &align);
	if (ret)
		return pmem2_error(ret, "MAP: the region's alignment");
	if (align < LIB_PAGE)
		align = LIB_PAGE;
	if (align & (align - 1) || align > (2u << 20))
		return lib_err(-EPROTO, "MAP %s: cannot map a region with a %zu-byte alignment",
			       what, align);
	m->unit = align;
	m->view_off = ALIGN_DOWN(m->off, m->unit);
	m->view_len = ALIGN_UP(m->off + m->len, m->unit) - m->view_off;
	return 0;
}

/* view_unmap - unmap the view. map->lock held for writing (or the map is private). */
static void view_unmap(struct daxfs_map *m)
{
	int ret;

	for (size_t i = 0; i < m->n_ext; i++) {
		if (m->ext[i].pm)
			pmem2_map_delete(&m->ext[i].pm);
	}
	if (m->rsv) {
		/* Also unmaps the holes and ranges replaced by events: pmem2 never saw them. */
		ret = pmem2_vm_reservation_delete(&m->rsv);
		if (ret) {
			munmap(m->view, m->view_len);
			m->rsv = NULL;
		}
	}
	m->dead = true;
}

/* view_build - reserve the view and map every extent into it. */
static int view_build(struct daxfs_map *m, struct pmem2_source *src)
{
	bool write = m->mode & WIRE_MAP_WRITE;
	struct pmem2_config *cfg = NULL;
	int ret;

	ret = pmem2_vm_reservation_new(&m->rsv, NULL, m->view_len);
	if (ret) {
		m->rsv = NULL;
		return pmem2_error(ret, "MAP: cannot reserve the view");
	}
	m->view = pmem2_vm_reservation_get_address(m->rsv);
	m->addr = m->view + (m->off - m->view_off);
	ret = pmem2_config_new(&cfg);
	if (ret) {
		ret = pmem2_error(ret, "MAP");
		goto err_unmap;
	}
	pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE);
	pmem2_config_set_protection(cfg,
				    write ? PMEM2_PROT_READ | PMEM2_PROT_WRITE : PMEM2_PROT_READ);
	for (size_t i = 0; i < m->n_ext; i++) {
		struct map_ext *e = &m->ext[i];

		if (e->flags & WIRE_EXT_POISON) {
			dead_add(m, e->voff, e->len);
			continue;
		}
		if (e->flags & WIRE_EXT_HOLE) {
			if (write) {
				ret = lib_err(-EPROTO, "MAP: a hole in a write mapping");
				goto err_unmap;
			}
			if (mmap(m->view + e->voff, e->len, PROT_READ,
				 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
				 0) == MAP_FAILED) {
				ret = lib_err(-errno, "MAP: cannot map a hole: %s",
					      strerror(errno));
				goto err_unmap;
			}
			continue;
		}
		ret = pmem2_config_set_offset(cfg, e->region_off);
		if (ret == 0)
			ret = pmem2_config_set_length(cfg, e->len);
		if (ret == 0)
			ret = pmem2_config_set_vm_reservation(cfg, m->rsv, e->voff);
		if (ret == 0)
			ret = pmem2_map_new(&e->pm, cfg, src);
		if (ret) {
			e->pm = NULL;
			ret = pmem2_error(ret, "MAP: cannot map an extent of the region");
			goto err_unmap;
		}
		e->persist = pmem2_get_persist_fn(e->pm);
	}
	pmem2_config_delete(&cfg);
	return 0;

err_unmap:
	if (cfg)
		pmem2_config_delete(&cfg);
	view_unmap(m);
	return ret;
}

/* send_unmap - UNMAP @grant. Return: 0 or a negative errno (detail string set). */
static int send_unmap(struct daxfs *fs, uint64_t grant)
{
	struct wire_unmap u = {.grant = grant};
	struct lib_slot *s;
	struct wire_msg m;
	char what[32];
	int ret;

	ret = lib_slot_get(fs, &s);
	if (ret < 0)
		return ret;
	snprintf(what, sizeof(what), "grant %llu", (unsigned long long)grant);
	wire_msg_init(&m, s->req, WIRE_UNMAP, 0, s->id);
	wire_msg_put(&m, &u, sizeof(u), false);
	ret = lib_call(fs, s, &m, WIRE_UNMAP, what);
	lib_slot_put(fs, s);
	return ret;
}

/*
 * map_apply_event - the library's part of event @e on mapping @m (PROT_NONE, ACK), then
 * the application's callback. Context: any thread, no library lock held.
 */
static void map_apply_event(struct daxfs *fs, struct daxfs_map *m, const struct lib_event *e)
{
	bool inval = e->op == WIRE_EV_INVALIDATE;
	struct daxfs_event out = {0};
	bool dead, ack = true;
	uint64_t start, end;
	daxfs_event_fn fn;
	int err = 0;
	void *ctx;

	/* the event's part of the view, in whole units */
	start = MAX(e->ev.off, m->view_off);
	end = e->ev.off + e->ev.len < e->ev.off ? UINT64_MAX : e->ev.off + e->ev.len;
	end = MIN(end, m->view_off + m->view_len);
	if (start < end && m->unit > (uint64_t)LIB_PAGE) {
		start = m->view_off + ALIGN_DOWN(start - m->view_off, m->unit);
		end = m->view_off + ALIGN_UP(end - m->view_off, m->unit);
	}

	pthread_rwlock_wrlock(&m->lock);
	dead = m->dead;
	if (!dead && start < end) {
		uint64_t vs = ALIGN_DOWN(start - m->view_off, (uint64_t)LIB_PAGE);
		uint64_t ve = ALIGN_UP(end - m->view_off, (uint64_t)LIB_PAGE);
		char *at = m->view + vs;
		int r;

		/* INVALIDATE: let go of the blocks; POISON (or no memory for that): PROT_NONE. */
		if (inval && mmap(at, ve - vs, PROT_NONE,
				  MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
				  0) != MAP_FAILED)
			r = 0;
		else
			r = mprotect(at, ve - vs, PROT_NONE);
		if (r == 0) {
			dead_add(m, vs, ve - vs);
		} else {
			err = errno;
			ack = false; /* still reachable: an ACK would let the blocks be reused */
		}
	}
	pthread_rwlock_unlock(&m->lock);
	if (!ack)
		lib_log(fs, "libdaxfs: cannot make grant %llu [%llu, +%llu) inaccessible: %s",
			(unsigned long long)m->grant, (unsigned long long)start,
			(unsigned long long)(end - start), strerror(err));

	if (inval && ack && lib_send_ack(fs, m->grant, e->ev.generation) < 0)
		lib_log(fs, "libdaxfs: could not ACK grant %llu", (unsigned long long)m->grant);

	pthread_mutex_lock(&fs->lock);
	fn = fs->event_fn;
	ctx = fs->event_ctx;
	pthread_mutex_unlock(&fs->lock);
	if (!fn || dead)
		return;
	/* what the application sees of it */
	start = MAX(start, m->off);
	end = MIN(end, m->off + m->len);
	out.type = inval ? DAXFS_EVENT_INVALIDATE : DAXFS_EVENT_POISON;
	out.map = m;
	out.ino = e->ev.ino;
	if (start < end) {
		out.off = start;
		out.len = end - start;
		out.addr = m->addr + (start - m->off);
	} else {
		out.off = e->ev.off;
		out.len = e->ev.len;
	}
	fn(ctx, &out);
}

int daxfs_map_new(struct daxfs *fs, uint64_t ino, uint64_t off, uint64_t len, int mode,
		  struct daxfs_map **out)
{
	struct wire_map req = {.ino = ino, .off = off, .len = len};
	struct pmem2_source *src = NULL;
	struct lib_event *queued = NULL;
	struct wire_map_reply rep;
	size_t nqueued = 0;
	struct daxfs_map *m;
	struct lib_slot *s;
	struct wire_msg msg;
	bool rdonly = true;
	char what[48], detail[256];
	int ret;

	if (!out)
		return lib_err(-EINVAL, "daxfs_map_new: no result pointer");
	*out = NULL;
	if (!fs)
		return lib_err(-EINVAL, "daxfs_map_new: no handle");
	if (mode == 0 || (mode & ~(DAXFS_MAP_READ | DAXFS_MAP_WRITE)))
		return lib_err(-EINVAL, "daxfs_map_new: bad mode 0x%x", (unsigned)mode);
	if (len == 0 || !IS_ALIGNED(off, (uint64_t)LIB_PAGE) ||
	    !IS_ALIGNED(len, (uint64_t)LIB_PAGE) || off + len < off || len > SIZE_MAX / 2)
		return lib_err(-EINVAL, "daxfs_map_new: offset and length must be 4 KiB "
					"multiples, the length not 0");
	req.mode = WIRE_MAP_READ | ((mode & DAXFS_MAP_WRITE) ? WIRE_MAP_WRITE : 0);

	m = calloc(1, sizeof(*m));
	if (!m)
		return lib_err(-ENOMEM, "out of memory");
	m->refs = 1;
	m->ino = ino;
	m->off = off;
	m->len = len;
	m->mode = req.mode;
	pthread_rwlock_init(&m->lock, NULL);

	ret = lib_slot_get(fs, &s);
	if (ret < 0)
		goto err_free;
	snprintf(what, sizeof(what), "inode %llu at %llu", (unsigned long long)ino,
		 (unsigned long long)off);
	wire_msg_init(&msg, s->req, WIRE_MAP, 0, s->id);
	wire_msg_put(&msg, &req, sizeof(req), false);
	ret = lib_call(fs, s, &msg, WIRE_MAP, what);
	if (ret < 0)
		goto err_slot;
	/*
	 * The slot stays ours until the mapping is on the list: events for the grant that
	 * come meanwhile are queued on it (see dispatch in session.c).
	 */
	memcpy(&rep, lib_reply_body(s), sizeof(rep));
	m->grant = rep.grant;
	m->generation = rep.generation;
	m->mirrored = (req.mode & WIRE_MAP_WRITE) && (rep.flags & WIRE_MAP_MIRRORED);
	if (s->len != sizeof(struct wire_hdr) + sizeof(rep) +
			      (size_t)rep.count * sizeof(struct wire_extent)) {
		ret = lib_err(-EPROTO, "MAP %s: the extent list does not fit the reply", what);
		goto err_unmap_grant;
	}
	m->ext = calloc(rep.count ? rep.count : 1, sizeof(*m->ext));
	if (!m->ext) {
		ret = lib_err(-ENOMEM, "out of memory");
		goto err_unmap_grant;
	}
	for (uint32_t i = 0; i < rep.count; i++) {
		struct wire_extent we;

		memcpy(&we, (char *)lib_reply_body(s) + sizeof(rep) + i * sizeof(we), sizeof(we));
		m->ext[i].voff = we.file_off; /* check_extents turns it into a view offset */
		m->ext[i].len = we.len;
		m->ext[i].region_off = we.region_off;
		m->ext[i].flags = we.flags;
	}
	m->n_ext = rep.count;

	ret = region_source(fs, &src, &rdonly);
	if (ret < 0)
		goto err_unmap_grant;
	ret = view_geometry(m, src, what);
	if (ret < 0)
		goto err_unmap_grant;
	ret = check_extents(m, rep.region_size);
	if (ret == 0 && m->unit > (uint64_t)LIB_PAGE)
		ret = unit_extents(m);
	if (ret < 0)
		goto err_unmap_grant;
	if ((req.mode & WIRE_MAP_WRITE) && rdonly) {
		ret = lib_err(-EPROTO, "MAP %s: a write grant with a read-only region fd", what);
		goto err_unmap_grant;
	}
	ret = view_build(m, src);
	if (ret < 0)
		goto err_unmap_grant;

	/* On the list and off the slot in one step: no event can fall between the two. */
	pthread_mutex_lock(&fs->maps_lock);
	m->fs = fs;
	m->next = fs->maps;
	fs->maps = m;
	__atomic_add_fetch(&fs->nmaps, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(&fs->lock);
	s->map_pending = false;
	if (s->nqueued) {
		queued = s->queued;
		nqueued = s->nqueued;
		s->queued = NULL;
		s->nqueued = 0;
		s->capqueued = 0;
	}
	pthread_mutex_unlock(&fs->lock);
	pthread_mutex_unlock(&fs->maps_lock);
	lib_slot_put(fs, s);
	/* The whole view: on devdax a fault reports the 2 MiB unit, which may start before addr. */
	lib_sigbus_view_add(fs, m, m->view, m->view_len, m->grant, m->view_off, m->ino);

	for (size_t i = 0; i < nqueued; i++)
		map_apply_event(fs, m, &queued[i]);
	free(queued);
	*out = m;
	return 0;

err_unmap_grant:
	/* Nothing is mapped: acknowledge what was queued for the grant, then release it. */
	pthread_mutex_lock(&fs->lock);
	s->map_pending = false;
	queued = s->queued;
	nqueued = s->nqueued;
	s->queued = NULL;
	s->nqueued = 0;
	s->capqueued = 0;
	pthread_mutex_unlock(&fs->lock);
	lib_slot_put(fs, s);
	for (size_t i = 0; i < nqueued; i++) {
		if (queued[i].op == WIRE_EV_INVALIDATE)
			lib_send_ack(fs, queued[i].ev.grant, queued[i].ev.generation);
	}
	free(queued);
	/* Keep the detail of the first failure across the UNMAP. */
	snprintf(detail, sizeof(detail), "%s", daxfs_errormsg());
	if (send_unmap(fs, m->grant) < 0)
		lib_log(fs, "libdaxfs: could not release grant %llu: %s",
			(unsigned long long)m->grant, daxfs_errormsg());
	lib_err(ret, "%s", detail);
	goto err_free;
err_slot:
	lib_slot_put(fs, s);
err_free:
	map_unref(m);
	return ret;
}

void *daxfs_map_addr(const struct daxfs_map *m)
{
	return m ? m->addr : NULL;
}

size_t daxfs_map_len(const struct daxfs_map *m)
{
	return m ? (size_t)m->len : 0;
}

/* persist_live - persist view range [@s, @t) of extent @e, skipping dead ranges. */
static void persist_live(struct daxfs_map *m, const struct map_ext *e, uint64_t s, uint64_t t)
{
	uint64_t cur = s;

	for (size_t i = 0; i < m->ndead && cur < t; i++) {
		const struct map_range *d = &m->dead_ranges[i];

		if (d->off + d->len <= cur)
			continue;
		if (d->off >= t)
			break;
		if (d->off > cur)
			e->persist(m->view + cur, d->off - cur);
		cur = d->off + d->len;
	}
	if (cur < t)
		e->persist(m->view + cur, t - cur);
}

/*
 * send_map_persist - MAP_PERSIST file bytes [@s, @t) of @grant (page-aligned outward), in
 * requests of at most WIRE_MAP_PERSIST_MAX: the daemon copies them to the replica.
 * Return: 0 or a negative errno (detail string set).
 */
static int send_map_persist(struct daxfs *fs, uint64_t grant, uint64_t s, uint64_t t)
{
	s = s / LIB_PAGE * LIB_PAGE;
	t = (t + LIB_PAGE - 1) / LIB_PAGE * LIB_PAGE;
	while (s < t) {
		struct wire_map_persist p = {grant, s, MIN(t - s, (uint64_t)WIRE_MAP_PERSIST_MAX)};
		struct lib_slot *sl;
		struct wire_msg msg;
		int ret;

		ret = lib_slot_get(fs, &sl);
		if (ret < 0)
			return ret;
		wire_msg_init(&msg, sl->req, WIRE_MAP_PERSIST, 0, sl->id);
		wire_msg_put(&msg, &p, sizeof(p), false);
		ret = lib_call(fs, sl, &msg, WIRE_MAP_PERSIST, "a mapping's persisted range");
		lib_slot_put(fs, sl);
		if (ret < 0)
			return ret;
		s += p.len;
	}
	return 0;
}

void daxfs_map_persist(struct daxfs_map *m, const void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr, base;
	uint64_t s, t, grant = 0;
	struct daxfs *fs = NULL;
	size_t lo, hi;

	if (!m || !len)
		return;
	pthread_rwlock_rdlock(&m->lock);
	if (m->dead || m->no_persist)
		goto out;
	base = (uintptr_t)m->addr;
	/* Clip to what the application sees; then in view offsets. */
	if (a < base) {
		if (len <= base - a)
			goto out;
		len -= base - a;
		a = base;
	}
	if (a - base >= m->len)
		goto out;
	s = a - base;
	t = s + MIN((uint64_t)len, m->len - s);
	s += m->off - m->view_off;
	t += m->off - m->view_off;

	/* The first extent that ends after s. */
	lo = 0;
	hi = m->n_ext;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->ext[mid].voff + m->ext[mid].len <= s)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < m->n_ext && m->ext[i].voff < t; i++) {
		const struct map_ext *e = &m->ext[i];

		if (!e->pm)
			continue;
		persist_live(m, e, MAX(s, e->voff), MIN(t, e->voff + e->len));
	}
	if (m->mirrored) {
		fs = m->fs;
		grant = m->grant;
		s += m->view_off; /* file offsets */
		t += m->view_off;
	}
out:
	pthread_rwlock_unlock(&m->lock);
	/* After the lock: the reply may come with events that take it for writing. */
	if (fs && send_map_persist(fs, grant, s, t) < 0)
		lib_log(fs, "libdaxfs: the replica did not get a persisted range of grant %llu: %s",
			(unsigned long long)grant, daxfs_errormsg());
}

void daxfs_map_delete(struct daxfs_map **mp)
{
	struct daxfs_map *m, **pp;
	struct daxfs *fs;

	if (!mp || !*mp)
		return;
	m = *mp;
	*mp = NULL;
	lib_sigbus_view_del(m); /* before the view can be unmapped under the handler */
	/*
	 * The view goes first: after UNMAP the daemon may give the blocks to another file, and
	 * an event that finds the mapping meanwhile sees it dead (and may ACK).
	 */
	pthread_rwlock_wrlock(&m->lock);
	view_unmap(m);
	pthread_rwlock_unlock(&m->lock);
	fs = m->fs;
	if (fs) {
		pthread_mutex_lock(&fs->maps_lock);
		for (pp = &fs->maps; *pp; pp = &(*pp)->next) {
			if (*pp == m) {
				*pp = m->next;
				__atomic_sub_fetch(&fs->nmaps, 1, __ATOMIC_RELEASE);
				break;
			}
		}
		m->fs = NULL;
		pthread_mutex_unlock(&fs->maps_lock);
		if (send_unmap(fs, m->grant) < 0)
			lib_log(fs, "libdaxfs: %s", daxfs_errormsg());
	}
	map_unref(m);
}

void map_detach_all(struct daxfs *fs)
{
	pthread_mutex_lock(&fs->maps_lock);
	for (struct daxfs_map *m = fs->maps; m; m = m->next)
		m->fs = NULL;
	fs->maps = NULL;
	__atomic_store_n(&fs->nmaps, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&fs->maps_lock);
}

bool __map_queue_event(struct daxfs *fs, const struct lib_event *e)
{
	for (unsigned i = 0; i < fs->inflight; i++) {
		struct lib_slot *s = &fs->slots[i];

		if (!s->map_pending || s->pending_grant != e->ev.grant)
			continue;
		if (s->nqueued == s->capqueued) {
			size_t cap = s->capqueued ? s->capqueued * 2 : 4;
			struct lib_event *q = realloc(s->queued, cap * sizeof(*q));

			if (!q)
				return false;
			s->queued = q;
			s->capqueued = cap;
		}
		s->queued[s->nqueued++] = *e;
		return true;
	}
	return false;
}

int map_handle_event(struct daxfs *fs, const struct lib_event *e)
{
	struct daxfs_map *m;
	bool queued = false;

	pthread_mutex_lock(&fs->maps_lock);
	for (m = fs->maps; m; m = m->next) {
		if (m->grant == e->ev.grant) {
			map_ref(m);
			break;
		}
	}
	if (!m) {
		pthread_mutex_lock(&fs->lock);
		queued = __map_queue_event(fs, e);
		pthread_mutex_unlock(&fs->lock);
	}
	pthread_mutex_unlock(&fs->maps_lock);
	if (queued)
		return 1;
	if (!m) {
		/*
		 * Not ours (any more): nothing of the range is mapped here, so an INVALIDATE is
		 * acknowledged at once. The grant's UNMAP may be waiting for a daemon worker
		 * that is itself waiting for this ACK.
		 */
		if (e->op == WIRE_EV_INVALIDATE)
			lib_send_ack(fs, e->ev.grant, e->ev.generation);
		return 0;
	}
	map_apply_event(fs, m, e);
	map_unref(m);
	return 1;
}
