// SPDX-License-Identifier: MIT
/*
 * lincheck-model - the sequential model of the file system daxfsd serves, and the program of
 * steps each request runs in it (lincheck-int.h).
 *
 * The programs follow daemon/ops.c and the engine:
 *
 * - A path is walked from the root one component at a time (engine/walk.c ns_walk()), each
 *   component a lookup of its own: a directory renamed after the walk passed through it is
 *   walked on, as Linux does. A missing name is ENOENT, a file in the middle of a path
 *   ENOTDIR. Requests that change a name stop before the last component.
 * - A symbolic link met on the way is followed in the step that looked it up (its target
 *   never changes): the walk goes on with the target's components and then the rest, from
 *   the link's directory (a relative target) or the root (an absolute one). The 41st link
 *   of one walk is ELOOP. The last component is followed too by stat and readdir (and so by
 *   the stat a chmod, truncate, write or read starts with), never by lstat, readlink, link
 *   (its existing name), unlink, rmdir, rename, nor by the requests that make a name.
 *   Neither by create (op_create looks the last name up itself): over a symbolic link, an
 *   exclusive create is EEXIST, a plain one answers with the link's own attributes.
 * - One lookup (the entry and the inode it names) is one step. The attributes a request
 *   answers with are read after, in a step of their own: from the inode the lookup found,
 *   as it is then (a chmod, or an unlink of another name of it, made meanwhile shows), as
 *   Linux's stat does (a dentry holds its inode). Never ENOENT for it: a rename that
 *   replaces the file meanwhile must not make a name that existed at every instant missing
 *   (POSIX), so the step waits for a state where that inode is there; a daemon that answers
 *   ENOENT there is reported.
 * - stat is the walk, the lookup of the last component and its attributes; lstat the same
 *   without following it; readlink looks the name up, then reads the target.
 * - create without EXCL looks the name up first (an existing file is the answer, with its
 *   attributes, read as stat's are), then creates; EEXIST from the create retries, 4 times
 *   in all (EAGAIN). With EXCL an existing name is EEXIST. The new inode's attributes are
 *   read after; so are those of a new symbolic link and of a file that got another name
 *   (link).
 * - link looks the existing name up (not followed), walks to the new name's directory, then
 *   ns_link decides under the locks: ENOENT (the file or the directory gone), EPERM (a
 *   directory), EEXIST.
 * - unlink and rmdir look the victim up and check its type, then the engine checks it all
 *   again under the namespace lock and removes the name; the inode goes with its last name.
 * - rename walks both parents, looks the old name up (ENOENT), then ns_rename decides
 *   everything under the namespace lock: ENOENT, EEXIST (NOREPLACE), ENOENT (EXCHANGE
 *   without a target), nothing for a name over itself or over another name of the same
 *   file, EINVAL (a directory into itself or below), ENOTDIR / EISDIR / ENOTEMPTY for what
 *   is replaced. A replaced file with other names keeps them.
 * - setattr, write and read by inode number first read the inode's attributes (ENOENT,
 *   EISDIR; EINVAL for the size, bytes or data of a symbolic link), then act on it under its
 *   lock; setattr reads the attributes it returns after.
 * - read reads the size once, then copies without a lock: each byte of the reply is the one
 *   the model had at some point from then on (0 past the end or once the inode is gone,
 *   where the engine reads a hole), or one a write running at the same time put there.
 * - readdir lists entry by entry (ns_readdir reads under RCU, one entry at a time), and
 *   POSIX leaves open whether an entry added or removed meanwhile is listed: from the
 *   lookup of the directory to the reply, an entry that names the same inode all along
 *   must be listed exactly once; any other listed entry must have been there at some
 *   point in between. The order is free.
 *
 * Each changing step is what the engine does under its locks, atomically: a file, directory
 * or symbolic link created with a fresh inode number, a name added to a file, a name
 * removed (and the inode with its last one), renamed, its permission bits or size set (a
 * grown file reads zeros past the old end), bytes written (extending the file, zeros in any
 * gap). The workload's clients are root, so no permission check ever fails.
 *
 * The states themselves (tables, comparison, printing) are lincheck-state.c's.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "lincheck-int.h"

/* --- the programs --- */

/* is_ancestor - as the engine's: is directory @a @d or above it? */
static bool is_ancestor(const struct lc_state *s, uint64_t a, uint64_t d)
{
	for (unsigned depth = 0; depth <= s->nin; depth++) {
		if (d == a)
			return true;
		if (d == LC_ROOT)
			return false;
		d = lc_parent(s, d);
		if (d == 0)
			return false;
	}
	return true;
}

static bool alive(const struct lc_state *s, uint64_t ino)
{
	return lc_state_find(s, ino) != NULL;
}

static bool is_link(const struct lc_state *s, uint64_t ino)
{
	const struct lc_inode *in = lc_state_find(s, ino);

	return in && in->islink;
}

static bool has_attr_reply(enum lc_kind k)
{
	return k == LC_STAT || k == LC_GETATTR || k == LC_CREATE || k == LC_MKDIR ||
	       k == LC_CHMOD || k == LC_TRUNCATE || k == LC_LSTAT || k == LC_LINK ||
	       k == LC_SYMLINK;
}

/* finish - the request ends here with @err (and, when 0, the attributes of @ino). */
static enum lc_step_res finish(const struct lc_op *op, bool pending, const struct lc_state *s,
			       int err, uint64_t ino)
{
	struct lc_attr a;

	if (pending || err != op->err)
		return LC_BAD;
	if (err || !has_attr_reply(op->kind))
		return LC_DONE;
	lc_attr_of(s, lc_state_find(s, ino), &a);
	if (a.ino != op->attr.ino || a.mode != op->attr.mode || a.nlink != op->attr.nlink ||
	    a.size != op->attr.size)
		return LC_BAD;
	return LC_DONE;
}

/* finish_attr - the attributes of @ino, or ENOENT when it is gone. */
static enum lc_step_res finish_attr(const struct lc_op *op, bool pending, const struct lc_state *s,
				    uint64_t ino)
{
	return finish(op, pending, s, alive(s, ino) ? 0 : ENOENT, ino);
}

/* finish_found - the attributes of @ino, which a lookup found: never ENOENT (above). */
static enum lc_step_res finish_found(const struct lc_op *op, bool pending, const struct lc_state *s,
				     uint64_t ino)
{
	return alive(s, ino) ? finish(op, pending, s, 0, ino) : LC_WAIT;
}

/* changes - may the changing step happen? Not when the request got an error reply. */
static bool changes(const struct lc_op *op, bool pending)
{
	return pending || op->err == 0;
}

static uint8_t last_name(const struct lc_path *p)
{
	return p->name[p->depth - 1];
}

/* --- walks --- */

/* walk_start - a walk of @p from the root, no link followed yet. */
static void walk_start(struct lc_pc *e, const struct lc_path *p)
{
	e->a = LC_ROOT;
	e->rem = 0;
	for (unsigned i = 0; i < p->depth; i++)
		e->rem |= (uint32_t)p->name[i] << (2 * i);
	e->nrem = p->depth;
	e->loops = 1;
}

/* next_name - the component the walk at @e looks up next. */
static uint8_t next_name(const struct lc_pc *e)
{
	return (uint8_t)(e->rem & 3);
}

/*
 * walk_norm - a walk that has looked up all it needs goes on: the first one (components of
 * op->path but the last; pc 0) to pc 2; for a rename, pc 1 walks op->path2 from the root,
 * keeping the first directory in x, then goes to pc 4 (a link's pc 1 walks op->path2 too,
 * after its pc 2).
 */
static void walk_norm(const struct lc_op *op, struct lc_pc *e)
{
	if (e->pc == 0 && e->nrem <= 1) {
		e->pc = 2;
		if (op->kind == LC_RENAME) {
			e->x = e->a;
			walk_start(e, &op->path2);
			e->pc = 1;
		}
	}
	if (e->pc == 1 && e->nrem <= 1)
		e->pc = 4;
}

/* lookup - ns_lookup(@dir, @name): the inode the entry names, or 0 (ENOENT). */
static uint64_t lookup(const struct lc_state *s, uint64_t dir, uint8_t name)
{
	int k = alive(s, dir) ? lc_entry(s, dir, name) : -1;

	return k < 0 ? 0 : s->de[k].ino;
}

/*
 * target_of - the components of symbolic link @l's target into @t, and whether it starts
 * at the root. Return: how many; 0 for a target the model does not follow (lincheck.h).
 */
static unsigned target_of(const struct lc_inode *l, uint8_t *t, bool *abs)
{
	const uint8_t *p = l->data, *end = l->data + l->size;
	unsigned n = 0;

	*abs = p < end && *p == '/';
	p += *abs;
	while (p < end) {
		if (n == LC_DEPTH_MAX || *p < 'a' || *p >= 'a' + LC_NAMES)
			return 0;
		t[n++] = (uint8_t)(*p++ - 'a');
		if (p < end && (*p != '/' || ++p == end))
			return 0;
	}
	return n;
}

/*
 * follow - the walk at @e meets symbolic link @ino as its next component: it goes on with
 * the target's components and then those after the link, from the link's directory or
 * (an absolute target) the root. Of the numbers of links @e may have followed, those at
 * LC_LOOPS_MAX end it with ELOOP; the others go on, one more.
 */
static enum lc_step_res follow(const struct lc_op *op, bool pending, const struct lc_state *s,
			       const struct lc_pc *e, uint64_t ino, struct lc_pc *nx)
{
	uint64_t over = e->loops & (UINT64_C(1) << LC_LOOPS_MAX);
	uint64_t more = (e->loops & ~over) << 1;
	uint8_t t[LC_DEPTH_MAX];
	unsigned n;
	bool abs;

	if (over && !pending && op->err == ELOOP)
		return finish(op, pending, s, ELOOP, 0);
	if (!more)
		return LC_BAD;
	n = target_of(lc_state_find(s, ino), t, &abs);
	if (n == 0 || n + e->nrem - 1 > LC_REM_MAX) {
		lc_overflow = true;
		return LC_BAD;
	}
	*nx = *e;
	nx->loops = more;
	nx->rem = e->rem >> 2 << (2 * n);
	for (unsigned i = 0; i < n; i++)
		nx->rem |= (uint32_t)t[i] << (2 * i);
	nx->nrem = (uint8_t)(n + e->nrem - 1);
	if (abs)
		nx->a = LC_ROOT;
	return LC_NEXT;
}

/*
 * follow_last - stat and readdir follow a symbolic link that is their last component: the
 * walk of its target's directories (pc 0) and the lookup of its last name (pc 2) again.
 */
static enum lc_step_res follow_last(const struct lc_op *op, bool pending, const struct lc_state *s,
				    const struct lc_pc *e, uint64_t ino, struct lc_pc *nx)
{
	enum lc_step_res r = follow(op, pending, s, e, ino, nx);

	if (r == LC_NEXT)
		nx->pc = nx->nrem > 1 ? 0 : 2;
	return r;
}

/* walk_step - look up the next component in directory e->a: a directory, or a link. */
static enum lc_step_res walk_step(const struct lc_op *op, bool pending, const struct lc_state *s,
				  const struct lc_pc *e, struct lc_pc *nx)
{
	uint64_t ino = lookup(s, e->a, next_name(e));

	if (!ino)
		return finish(op, pending, s, ENOENT, 0);
	if (is_link(s, ino))
		return follow(op, pending, s, e, ino, nx);
	if (!lc_is_dir(s, ino))
		return finish(op, pending, s, ENOTDIR, 0);
	*nx = *e;
	nx->a = ino;
	nx->rem >>= 2;
	nx->nrem--;
	walk_norm(op, nx);
	return LC_NEXT;
}

/* --- looking --- */

static enum lc_step_res step_stat(const struct lc_op *op, bool pending, const struct lc_state *s,
				  const struct lc_pc *e, struct lc_pc *nx)
{
	uint64_t ino;

	switch (e->pc) {
	case 0:
		return walk_step(op, pending, s, e, nx);
	case 2: /* the last component (followed by stat, not lstat) */
		ino = lookup(s, e->a, next_name(e));
		if (!ino)
			return finish(op, pending, s, ENOENT, 0);
		if (op->kind == LC_STAT && is_link(s, ino))
			return follow_last(op, pending, s, e, ino, nx);
		*nx = *e;
		nx->b = ino;
		nx->pc = 5;
		return LC_NEXT;
	case 3: /* GETATTR of op->ino */
		return finish_attr(op, pending, s, e->b);
	case 5: /* the attributes of what the walk found */
		return finish_found(op, pending, s, e->b);
	}
	return LC_WAIT;
}

static enum lc_step_res step_readlink(const struct lc_op *op, bool pending,
				      const struct lc_state *s, const struct lc_pc *e,
				      struct lc_pc *nx)
{
	const struct lc_inode *in;
	uint64_t ino;

	switch (e->pc) {
	case 0:
		return walk_step(op, pending, s, e, nx);
	case 2: /* the name, not followed */
		ino = lookup(s, e->a, next_name(e));
		if (!ino)
			return finish(op, pending, s, ENOENT, 0);
		*nx = *e;
		nx->b = ino;
		nx->pc = 5;
		return LC_NEXT;
	case 5: /* ns_readlink of what the walk found */
		in = lc_state_find(s, e->b);
		if (!in || !in->islink)
			return finish(op, pending, s, in ? EINVAL : ENOENT, 0);
		if (pending || op->err || op->count != in->size ||
		    memcmp(op->rdata, in->data, in->size) != 0)
			return LC_BAD;
		return LC_DONE;
	}
	return LC_WAIT;
}

/* listed_seen - the entries of @op's reply that are in directory @dir in @s. */
static uint64_t listed_seen(const struct lc_op *op, const struct lc_state *s, uint64_t dir)
{
	uint64_t m = 0;

	for (unsigned k = 0; k < op->nents; k++) {
		const struct lc_dent *want = &op->ents[k];

		if (lookup(s, dir, want->name) == want->ino &&
		    lc_is_dir(s, want->ino) == want->isdir && is_link(s, want->ino) == want->islink)
			m |= UINT64_C(1) << k;
	}
	return m;
}

/* readdir_done - may the listing end here: every entry listed was there at some point, and
 * each entry that stayed all along is listed once? */
static bool readdir_done(const struct lc_op *op, const struct lc_pc *e)
{
	uint64_t full = (UINT64_C(1) << op->nents) - 1;

	if ((e->mask & full) != full)
		return false;
	for (uint8_t n = 0; n < LC_NAMES; n++) {
		unsigned times = 0;

		for (unsigned k = 0; k < op->nents; k++)
			times += op->ents[k].name == n && op->ents[k].ino == e->v[n];
		if (e->v[n] && times != 1)
			return false;
	}
	return true;
}

static enum lc_step_res step_readdir(const struct lc_op *op, bool pending, const struct lc_state *s,
				     const struct lc_pc *e, struct lc_pc *nx)
{
	uint64_t ino;

	switch (e->pc) {
	case 0:
		return walk_step(op, pending, s, e, nx);
	case 2: /* the directory (and ns_readdir's reference to it): the listing starts */
		ino = e->nrem ? lookup(s, e->a, next_name(e)) : LC_ROOT;
		if (!ino)
			return finish(op, pending, s, ENOENT, 0);
		if (is_link(s, ino))
			return follow_last(op, pending, s, e, ino, nx);
		if (!lc_is_dir(s, ino))
			return finish(op, pending, s, ENOTDIR, 0);
		*nx = *e;
		nx->pc = 4;
		nx->b = ino;
		nx->mask = 0;
		for (uint8_t n = 0; n < LC_NAMES; n++)
			nx->v[n] = lookup(s, ino, n);
		lc_absorb(op, s, nx);
		return LC_NEXT;
	case 4: /* the entries, each read at its own time (lc_absorb) */
		return readdir_done(op, e) ? finish(op, pending, s, 0, 0) : LC_WAIT;
	}
	return LC_WAIT;
}

/* --- names --- */

/* make - the changing step of a create, mkdir or symlink: @in (its number aside) as the
 * name the walk stands before. The attributes are read after (pc 5). */
static enum lc_step_res make(const struct lc_op *op, bool pending, const struct lc_state *s,
			     const struct lc_pc *e, struct lc_pc *nx, struct lc_state *after,
			     uint64_t ino_new, struct lc_inode *in)
{
	/* The reply's number, or (no reply) the one the search gives it. */
	in->ino = pending ? ino_new : op->attr.ino;
	if (!changes(op, pending) || in->ino == 0 || alive(s, in->ino))
		return LC_BAD;
	if (!after)
		return LC_EFFECT;
	lc_state_copy(after, s);
	if (lc_inode_insert(after, in) || lc_entry_insert(after, e->a, next_name(e), in->ino))
		return LC_BAD;
	*nx = *e;
	nx->pc = 5;
	nx->b = in->ino;
	return LC_EFFECT;
}

static enum lc_step_res step_create(const struct lc_op *op, bool pending, const struct lc_state *s,
				    const struct lc_pc *e, struct lc_pc *nx, struct lc_state *after,
				    uint64_t ino_new)
{
	struct lc_inode in = {.perm = (uint16_t)(op->mode & 07777), .nlink = 1};
	bool excl = op->flags & LC_CREATE_EXCL;
	uint64_t ino;

	switch (e->pc) {
	case 0:
		return walk_step(op, pending, s, e, nx);
	case 2: /* ns_lookup(dir, name): an existing one is the answer */
		ino = lookup(s, e->a, next_name(e));
		if (ino) {
			if (excl)
				return finish(op, pending, s, EEXIST, 0);
			if (lc_is_dir(s, ino))
				return finish(op, pending, s, EISDIR, 0);
			if (pending || op->err)
				return LC_BAD;
			*nx = *e;
			nx->b = ino;
			nx->pc = 6;
			return LC_NEXT;
		}
		*nx = *e;
		nx->pc = 4;
		return LC_NEXT;
	case 4: /* ns_create */
		if (!alive(s, e->a))
			return finish(op, pending, s, ENOENT, 0);
		if (lc_entry(s, e->a, next_name(e)) >= 0) {
			if (excl)
				return finish(op, pending, s, EEXIST, 0);
			if (e->j == 3)
				return finish(op, pending, s, EAGAIN, 0);
			*nx = *e;
			nx->j++;
			nx->pc = 2;
			return LC_NEXT;
		}
		return make(op, pending, s, e, nx, after, ino_new, &in);
	case 5: /* the attributes of the new inode, read after */
		return finish_attr(op, pending, s, e->b);
	case 6: /* the attributes of the file that was there */
		return finish_found(op, pending, s, e->b);
	}
	return LC_WAIT;
}

/* step_mkdir - mkdir, and symlink (a new inode of another kind, made the same way). */
static enum lc_step_res step_mkdir(const struct lc_op *op, bool pending, const struct lc_state *s,
				   const struct lc_pc *e, struct lc_pc *nx, struct lc_state *after,
				   uint64_t ino_new)
{
	struct lc_inode in = {.isdir = true, .perm = (uint16_t)(op->mode & 07777), .nlink = 2};

	if (op->kind == LC_SYMLINK) {
		if (op->len == 0 || op->len > LC_DATA_MAX) {
			lc_overflow = true;
			return LC_BAD;
		}
		in = (struct lc_inode){.islink = true, .perm = 0777, .size = op->len, .nlink = 1};
		memcpy(in.data, op->data, op->len);
	}
	switch (e->pc) {
	case 0:
		return walk_step(op, pending, s, e, nx);
	case 2: /* ns_mkdir, ns_symlink */
		if (!alive(s, e->a))
			return finish(op, pending, s, ENOENT, 0);
		if (lc_entry(s, e->a, next_name(e)) >= 0)
			return finish(op, pending, s, EEXIST, 0);
		return make(op, pending, s, e, nx, after, ino_new, &in);
	case 5:
		return finish_attr(op, pending, s, e->b);
	}
	return LC_WAIT;
}

static enum lc_step_res step_link(const struct lc_op *op, bool pending, const struct lc_state *s,
				  const struct lc_pc *e, struct lc_pc *nx, struct lc_state *after)
{
	uint8_t name = last_name(&op->path2);
	uint64_t ino;

	switch (e->pc) {
	case 0:
		return walk_step(op, pending, s, e, nx);
	case 2: /* the existing name, not followed; then the walk to the new one's directory */
		ino = lookup(s, e->a, next_name(e));
		if (!ino)
			return finish(op, pending, s, ENOENT, 0);
		*nx = *e;
		nx->b = ino;
		walk_start(nx, &op->path2);
		nx->pc = 1;
		walk_norm(op, nx);
		return LC_NEXT;
	case 1:
		return walk_step(op, pending, s, e, nx);
	case 4: /* ns_link(file, dir, name) */
		if (!alive(s, e->b))
			return finish(op, pending, s, ENOENT, 0);
		if (lc_is_dir(s, e->b))
			return finish(op, pending, s, EPERM, 0);
		if (!alive(s, e->a))
			return finish(op, pending, s, ENOENT, 0);
		if (lc_entry(s, e->a, name) >= 0)
			return finish(op, pending, s, EEXIST, 0);
		if (!changes(op, pending))
			return LC_BAD;
		if (!after)
			return LC_EFFECT;
		lc_state_copy(after, s);
		if (lc_entry_insert(after, e->a, name, e->b))
			return LC_BAD;
		*nx = *e;
		nx->pc = 5;
		return LC_EFFECT;
	case 5: /* the file's attributes, read after */
		return finish_attr(op, pending, s, e->b);
	}
	return LC_WAIT;
}

static enum lc_step_res step_remove(const struct lc_op *op, bool pending, const struct lc_state *s,
				    const struct lc_pc *e, struct lc_pc *nx, struct lc_state *after)
{
	bool rmdir = op->kind == LC_RMDIR;
	uint64_t victim;
	int k;

	switch (e->pc) {
	case 0:
		return walk_step(op, pending, s, e, nx);
	case 2: /* ns_lookup(dir, name) and the type of the victim */
		victim = lookup(s, e->a, next_name(e));
		if (!victim)
			return finish(op, pending, s, ENOENT, 0);
		if (rmdir && !lc_is_dir(s, victim))
			return finish(op, pending, s, ENOTDIR, 0);
		if (!rmdir && lc_is_dir(s, victim))
			return finish(op, pending, s, EISDIR, 0);
		*nx = *e;
		nx->pc = 4;
		return LC_NEXT;
	case 4: /* ns_unlink / ns_rmdir */
		k = alive(s, e->a) ? lc_entry(s, e->a, next_name(e)) : -1;
		if (k < 0)
			return finish(op, pending, s, ENOENT, 0);
		victim = s->de[k].ino;
		if (rmdir && !lc_is_dir(s, victim))
			return finish(op, pending, s, ENOTDIR, 0);
		if (!rmdir && lc_is_dir(s, victim))
			return finish(op, pending, s, EISDIR, 0);
		if (rmdir && lc_has_entries(s, victim))
			return finish(op, pending, s, ENOTEMPTY, 0);
		if (!changes(op, pending))
			return LC_BAD;
		if (!after)
			return LC_EFFECT;
		/* The name goes; the inode with its last name. */
		lc_state_copy(after, s);
		lc_entry_remove(after, k);
		if (lc_entries(after, victim) == 0)
			lc_inode_remove(after, victim);
		*nx = *e;
		nx->pc = LC_PC_END;
		return LC_EFFECT;
	}
	return LC_WAIT;
}

/* ns_rename(e->x, old name, e->a, new name, flags) */
static enum lc_step_res do_rename(const struct lc_op *op, bool pending, const struct lc_state *s,
				  const struct lc_pc *e, struct lc_pc *nx, struct lc_state *after)
{
	bool noreplace = op->flags & LC_RENAME_NOREPLACE, exchange = op->flags & LC_RENAME_EXCHANGE;
	uint64_t od = e->x, nd = e->a, src, dst = 0;
	uint8_t on = last_name(&op->path), nn = last_name(&op->path2);
	int si, di;

	if (!alive(s, od) || !alive(s, nd))
		return finish(op, pending, s, ENOENT, 0);
	si = lc_entry(s, od, on);
	if (si < 0)
		return finish(op, pending, s, ENOENT, 0);
	src = s->de[si].ino;
	di = lc_entry(s, nd, nn);
	if (di >= 0)
		dst = s->de[di].ino;
	if (exchange && !dst)
		return finish(op, pending, s, ENOENT, 0);
	if (noreplace && dst)
		return finish(op, pending, s, EEXIST, 0);
	if (dst == src) {
		/*
		 * The same name, or two names of one file: nothing to do, but decided under
		 * the locks as a change is. Not an end the closure may take at once: with
		 * one name gone first, the same request is a real move, with the same reply.
		 */
		if (!changes(op, pending))
			return LC_BAD;
		if (after) {
			lc_state_copy(after, s);
			*nx = *e;
			nx->pc = LC_PC_END;
		}
		return LC_EFFECT;
	}
	if ((lc_is_dir(s, src) && is_ancestor(s, src, nd)) ||
	    (exchange && lc_is_dir(s, dst) && is_ancestor(s, dst, od)))
		return finish(op, pending, s, EINVAL, 0);
	if (dst && !exchange) {
		if (lc_is_dir(s, src) && !lc_is_dir(s, dst))
			return finish(op, pending, s, ENOTDIR, 0);
		if (!lc_is_dir(s, src) && lc_is_dir(s, dst))
			return finish(op, pending, s, EISDIR, 0);
		if (lc_is_dir(s, dst) && lc_has_entries(s, dst))
			return finish(op, pending, s, ENOTEMPTY, 0);
	}
	if (!changes(op, pending))
		return LC_BAD;
	if (!after)
		return LC_EFFECT;
	/* Both entries go, the new entries come; the replaced inode goes with its last name. */
	lc_state_copy(after, s);
	lc_entry_remove(after, lc_entry(after, od, on));
	if (dst)
		lc_entry_remove(after, lc_entry(after, nd, nn));
	if (lc_entry_insert(after, nd, nn, src) ||
	    (exchange && lc_entry_insert(after, od, on, dst)))
		return LC_BAD;
	if (dst && !exchange && lc_entries(after, dst) == 0)
		lc_inode_remove(after, dst);
	*nx = *e;
	nx->pc = LC_PC_END;
	return LC_EFFECT;
}

static enum lc_step_res step_rename(const struct lc_op *op, bool pending, const struct lc_state *s,
				    const struct lc_pc *e, struct lc_pc *nx, struct lc_state *after)
{
	switch (e->pc) {
	case 0:
	case 1:
		return walk_step(op, pending, s, e, nx);
	case 4: /* ns_lookup(old dir, old name); the target's lookup decides nothing for root */
		if (!lookup(s, e->x, last_name(&op->path)))
			return finish(op, pending, s, ENOENT, 0);
		*nx = *e;
		nx->pc = 6;
		return LC_NEXT;
	case 6:
		return do_rename(op, pending, s, e, nx, after);
	}
	return LC_WAIT;
}

/* --- by inode number --- */

/* not_file - the error of a request for a file's size or bytes on another kind of inode. */
static int not_file(const struct lc_inode *in)
{
	return in->isdir ? EISDIR : in->islink ? EINVAL : 0;
}

static enum lc_step_res step_setattr(const struct lc_op *op, bool pending, const struct lc_state *s,
				     const struct lc_pc *e, struct lc_pc *nx,
				     struct lc_state *after)
{
	const struct lc_inode *was = lc_state_find(s, op->ino);
	bool size = op->kind == LC_TRUNCATE;
	struct lc_inode *in;

	switch (e->pc) {
	case 0: /* ns_getattr in op_setattr */
	case 1: /* ns_setattr, under the inode lock */
		if (!was)
			return finish(op, pending, s, ENOENT, 0);
		if (size && not_file(was))
			return finish(op, pending, s, not_file(was), 0);
		*nx = *e;
		if (e->pc == 0) {
			nx->pc = 1;
			return LC_NEXT;
		}
		if (!changes(op, pending))
			return LC_BAD;
		if (size && op->len > LC_DATA_MAX) {
			lc_overflow = true;
			return LC_BAD;
		}
		if (!after)
			return LC_EFFECT;
		lc_state_copy(after, s);
		in = lc_find_mut(after, op->ino);
		if (size) {
			if (op->len < in->size)
				memset(in->data + op->len, 0, in->size - op->len);
			in->size = op->len;
		} else {
			in->perm = (uint16_t)(op->mode & 07777);
		}
		nx->pc = 2;
		nx->b = op->ino;
		return LC_EFFECT;
	case 2: /* the attributes returned, read after */
		return finish_attr(op, pending, s, op->ino);
	}
	return LC_WAIT;
}

static enum lc_step_res step_write(const struct lc_op *op, bool pending, const struct lc_state *s,
				   const struct lc_pc *e, struct lc_pc *nx, struct lc_state *after)
{
	const struct lc_inode *was = lc_state_find(s, op->ino);
	struct lc_inode *in;

	if (!was)
		return finish(op, pending, s, ENOENT, 0);
	if (not_file(was))
		return finish(op, pending, s, not_file(was), 0);
	*nx = *e;
	if (e->pc == 0) { /* file_for_io's ns_getattr */
		nx->pc = 1;
		return LC_NEXT;
	}
	/* ns_write, under the inode lock */
	if (!changes(op, pending) || (!pending && op->count != op->len))
		return LC_BAD;
	if (op->len == 0 || op->off + op->len > LC_DATA_MAX) {
		lc_overflow = true;
		return LC_BAD;
	}
	if (!after)
		return LC_EFFECT;
	lc_state_copy(after, s);
	in = lc_find_mut(after, op->ino);
	memcpy(in->data + op->off, op->data, op->len);
	if (op->off + op->len > in->size)
		in->size = op->off + op->len;
	nx->pc = LC_PC_END;
	return LC_EFFECT;
}

static enum lc_step_res step_read(const struct lc_op *op, bool pending, const struct lc_state *s,
				  const struct lc_pc *e, struct lc_pc *nx)
{
	const struct lc_inode *in = lc_state_find(s, op->ino);
	uint64_t full;
	uint32_t count;

	switch (e->pc) {
	case 0: /* file_for_io's ns_getattr */
		if (!in)
			return finish(op, pending, s, ENOENT, 0);
		if (not_file(in))
			return finish(op, pending, s, not_file(in), 0);
		*nx = *e;
		nx->pc = 1;
		return LC_NEXT;
	case 1: /* ns_read: the inode, its size */
		if (!in)
			return finish(op, pending, s, ENOENT, 0);
		count = op->off >= in->size ? 0 : in->size - op->off;
		if (count > op->len)
			count = op->len;
		if (pending || op->err || count != op->count)
			return LC_BAD;
		if (count == 0)
			return LC_DONE;
		*nx = *e;
		nx->pc = 2;
		lc_absorb(op, s, nx);
		return LC_NEXT;
	case 2: /* the bytes, each copied at its own time (lc_absorb) */
		full = op->count == 64 ? UINT64_MAX : (UINT64_C(1) << op->count) - 1;
		return (e->mask & full) == full ? LC_DONE : LC_WAIT;
	}
	return LC_WAIT;
}

bool lc_absorb(const struct lc_op *op, const struct lc_state *s, struct lc_pc *e)
{
	struct lc_pc was = *e;

	if (op->kind == LC_READ && e->pc == 2) {
		const struct lc_inode *in = lc_state_find(s, op->ino);

		for (uint32_t k = 0; k < op->count; k++) {
			uint32_t pos = op->off + k;
			uint8_t v = in && pos < in->size ? in->data[pos] : 0;

			if (v == op->rdata[k])
				e->mask |= UINT64_C(1) << k;
		}
	} else if (op->kind == LC_READDIR && e->pc == 4) {
		e->mask |= listed_seen(op, s, e->b);
		for (uint8_t n = 0; n < LC_NAMES; n++)
			if (e->v[n] && lookup(s, e->b, n) != e->v[n])
				e->v[n] = 0;
	} else {
		return false;
	}
	return memcmp(&was, e, sizeof(was)) != 0;
}

enum lc_step_res lc_step(const struct lc_op *op, bool pending, const struct lc_state *s,
			 const struct lc_pc *e, struct lc_pc *next, struct lc_state *after,
			 uint64_t ino_new)
{
	switch (op->kind) {
	case LC_STAT:
	case LC_LSTAT:
	case LC_GETATTR:
		return step_stat(op, pending, s, e, next);
	case LC_READLINK:
		return step_readlink(op, pending, s, e, next);
	case LC_READDIR:
		return step_readdir(op, pending, s, e, next);
	case LC_CREATE:
		return step_create(op, pending, s, e, next, after, ino_new);
	case LC_MKDIR:
	case LC_SYMLINK:
		return step_mkdir(op, pending, s, e, next, after, ino_new);
	case LC_LINK:
		return step_link(op, pending, s, e, next, after);
	case LC_UNLINK:
	case LC_RMDIR:
		return step_remove(op, pending, s, e, next, after);
	case LC_RENAME:
		return step_rename(op, pending, s, e, next, after);
	case LC_CHMOD:
	case LC_TRUNCATE:
		return step_setattr(op, pending, s, e, next, after);
	case LC_WRITE:
		return step_write(op, pending, s, e, next, after);
	case LC_READ:
		return step_read(op, pending, s, e, next);
	case LC_KINDS:
		break;
	}
	lc_overflow = true;
	return LC_BAD;
}

void lc_pc_start(const struct lc_op *op, struct lc_pc *e, uint64_t static_mask)
{
	memset(e, 0, sizeof(*e));
	walk_start(e, &op->path);
	e->mask = static_mask;
	switch (op->kind) {
	case LC_GETATTR:
		e->pc = 3;
		e->b = op->ino;
		return;
	case LC_STAT:
	case LC_LSTAT:
	case LC_READLINK:
		if (op->path.depth == 0) { /* "/": its attributes; readlink: not a link */
			e->pc = op->kind == LC_READLINK ? 5 : 3;
			e->b = LC_ROOT;
			return;
		}
		break;
	case LC_READDIR:
		walk_norm(op, e);
		return;
	case LC_CREATE:
	case LC_MKDIR:
	case LC_SYMLINK:
	case LC_UNLINK:
	case LC_RMDIR:
		break;
	case LC_RENAME:
	case LC_LINK:
		if (op->path2.depth == 0)
			lc_overflow = true;
		break;
	default:
		return; /* by inode: pc 0 */
	}
	if (op->path.depth == 0)
		lc_overflow = true; /* "/" is never created, removed, renamed or linked here */
	walk_norm(op, e);
}

bool lc_pc_merge(const struct lc_op *op, struct lc_pc *a, const struct lc_pc *b)
{
	struct lc_pc t = *b;

	/* A read that took its size earlier saw every state one that took it later saw. */
	if (op->kind == LC_READ && a->pc == 2 && b->pc == 2) {
		a->mask |= b->mask;
		return true;
	}
	/* A walk that got here by more or fewer links: one place, with either number. */
	t.loops = a->loops;
	if (memcmp(&t, a, sizeof(t)) != 0)
		return false;
	a->loops |= b->loops;
	return true;
}

bool lc_op_is_observer(const struct lc_op *op)
{
	return op->kind == LC_STAT || op->kind == LC_GETATTR || op->kind == LC_READ ||
	       op->kind == LC_READDIR || op->kind == LC_LSTAT || op->kind == LC_READLINK;
}

/* --- printing requests --- */

static void attr_str(const struct lc_attr *a, char *buf, size_t len)
{
	snprintf(buf, len, "{#%" PRIu64 " %s %04o nlink %u size %" PRIu64 "}", a->ino,
		 S_ISDIR(a->mode)   ? "dir"
		 : S_ISLNK(a->mode) ? "symlink"
				    : "file",
		 a->mode & 07777, a->nlink, a->size);
}

void lc_op_print(FILE *f, const struct lc_op *op, uint64_t t0)
{
	char req[320], rep[400], p1[32], p2[32], d[200];
	size_t n;

	switch (op->kind) {
	case LC_STAT:
	case LC_LSTAT:
	case LC_READLINK:
		snprintf(req, sizeof(req), "%s %s",
			 op->kind == LC_STAT	? "stat"
			 : op->kind == LC_LSTAT ? "lstat"
						: "readlink",
			 lc_path_str(&op->path, p1, sizeof(p1)));
		break;
	case LC_LINK:
		snprintf(req, sizeof(req), "link %s %s", lc_path_str(&op->path, p1, sizeof(p1)),
			 lc_path_str(&op->path2, p2, sizeof(p2)));
		break;
	case LC_SYMLINK:
		snprintf(req, sizeof(req), "symlink %s -> \"%.*s\"",
			 lc_path_str(&op->path, p1, sizeof(p1)), (int)op->len,
			 (const char *)op->data);
		break;
	case LC_GETATTR:
		snprintf(req, sizeof(req), "getattr #%" PRIu64, op->ino);
		break;
	case LC_CREATE:
		snprintf(req, sizeof(req), "create %s %04o%s",
			 lc_path_str(&op->path, p1, sizeof(p1)), op->mode,
			 op->flags & LC_CREATE_EXCL ? " EXCL" : "");
		break;
	case LC_MKDIR:
		snprintf(req, sizeof(req), "mkdir %s %04o", lc_path_str(&op->path, p1, sizeof(p1)),
			 op->mode);
		break;
	case LC_UNLINK:
	case LC_RMDIR:
		snprintf(req, sizeof(req), "%s %s", op->kind == LC_UNLINK ? "unlink" : "rmdir",
			 lc_path_str(&op->path, p1, sizeof(p1)));
		break;
	case LC_RENAME:
		snprintf(req, sizeof(req), "rename %s %s%s", lc_path_str(&op->path, p1, sizeof(p1)),
			 lc_path_str(&op->path2, p2, sizeof(p2)),
			 op->flags & LC_RENAME_NOREPLACE  ? " NOREPLACE"
			 : op->flags & LC_RENAME_EXCHANGE ? " EXCHANGE"
							  : "");
		break;
	case LC_CHMOD:
		snprintf(req, sizeof(req), "chmod #%" PRIu64 " %04o", op->ino, op->mode);
		break;
	case LC_TRUNCATE:
		snprintf(req, sizeof(req), "truncate #%" PRIu64 " %u", op->ino, op->len);
		break;
	case LC_WRITE:
		lc_bytes_str(op->data, op->len, d, sizeof(d));
		snprintf(req, sizeof(req), "write #%" PRIu64 " at %u: %s", op->ino, op->off, d);
		break;
	case LC_READ:
		snprintf(req, sizeof(req), "read #%" PRIu64 " at %u, %u bytes", op->ino, op->off,
			 op->len);
		break;
	case LC_READDIR:
		snprintf(req, sizeof(req), "readdir %s", lc_path_str(&op->path, p1, sizeof(p1)));
		break;
	default:
		snprintf(req, sizeof(req), "kind %d", (int)op->kind);
		break;
	}
	if (op->ret == LC_PENDING) {
		snprintf(rep, sizeof(rep), "(no reply)");
	} else if (op->err) {
		snprintf(rep, sizeof(rep), "%s", strerrorname_np(op->err) ?: "error");
	} else if (has_attr_reply(op->kind)) {
		attr_str(&op->attr, rep, sizeof(rep));
	} else if (op->kind == LC_WRITE) {
		snprintf(rep, sizeof(rep), "%u", op->count);
	} else if (op->kind == LC_READ) {
		lc_bytes_str(op->rdata, op->count, d, sizeof(d));
		snprintf(rep, sizeof(rep), "%u: %s", op->count, d);
	} else if (op->kind == LC_READLINK) {
		snprintf(rep, sizeof(rep), "\"%.*s\"", (int)op->count, (const char *)op->rdata);
	} else if (op->kind == LC_READDIR) {
		n = (size_t)snprintf(rep, sizeof(rep), "[");
		for (unsigned i = 0; i < op->nents && n < sizeof(rep); i++)
			n += (size_t)snprintf(rep + n, sizeof(rep) - n, "%s%s #%" PRIu64 "%s",
					      i ? " " : "", lc_name(op->ents[i].name),
					      op->ents[i].ino,
					      op->ents[i].isdir	   ? "/"
					      : op->ents[i].islink ? "@"
								   : "");
		if (n < sizeof(rep))
			snprintf(rep + n, sizeof(rep) - n, "]");
	} else {
		snprintf(rep, sizeof(rep), "ok");
	}
	if (op->ret == LC_PENDING)
		fprintf(f, "  c%u %9.3f ..   (none)  %-34s -> %s\n", op->client,
			(double)(op->call - t0) / 1e6, req, rep);
	else
		fprintf(f, "  c%u %9.3f .. %9.3f  %-34s -> %s\n", op->client,
			(double)(op->call - t0) / 1e6, (double)(op->ret - t0) / 1e6, req, rep);
}
