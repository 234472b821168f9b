// SPDX-License-Identifier: MIT
/*
 * test-lincheck-random - the linearizability checker (tests/helpers/lincheck.h) against an
 * independent reference: a plain sequential file system, written here apart from the
 * checker's model, in which every request is one atomic step (a whole path resolved at
 * once, through symbolic links; files with several names). 4 clients send random
 * requests, each over a random interval of time; the reference runs them in the order of a
 * random point inside each interval and gives the replies. Every such history is
 * linearizable, with the reference's final state as the scanned one: the checker must
 * accept all HISTORIES of them (no false alarm), from states made by random requests too.
 * Then one reply of each is made wrong (a mode bit, an errno, a byte read or of a link's
 * target, an entry of a listing): the checker must reject nearly all of those (a wrong
 * reply can by chance be one some other order gives).
 *
 * Usage: test-lincheck-random [seed]
 */
#include <errno.h>
#include <sys/stat.h>

#include "lincheck.h"
#include "testutil.h"

#define HISTORIES 1000
#define CLIENTS 4
#define PER_CLIENT 8
#define NODES 160
#define SETUP_OPS 12

/* --- the reference: nodes by inode number (0 unused, 1 the root), and their names --- */

struct rnode {
	bool used, dir, link;
	uint16_t perm;
	uint32_t size;
	uint8_t data[LC_DATA_MAX]; /* a file's bytes; a link's target */
	uint64_t parent;	   /* a directory's */
};

/* A name: entry @name of directory @dir is inode @ino. A file may have several. */
struct rname {
	bool used;
	uint64_t dir, ino;
	uint8_t name;
};

#define NAMES_MAX (2 * NODES)
#define WALK_MAX 64 /* components a walk holds (targets are one name: it never grows) */

static struct rnode fs[NODES];
static struct rname names[NAMES_MAX];
static uint64_t next_ino;
static uint64_t rng;

static uint64_t rnd(uint64_t n)
{
	return t_rand(&rng) % n;
}

static void ref_init(void)
{
	memset(fs, 0, sizeof(fs));
	memset(names, 0, sizeof(names));
	fs[LC_ROOT] = (struct rnode){.used = true, .dir = true, .perm = 0755, .parent = LC_ROOT};
	next_ino = 2;
}

static struct rname *name_at(uint64_t dir, uint8_t name)
{
	for (unsigned i = 0; i < NAMES_MAX; i++)
		if (names[i].used && names[i].dir == dir && names[i].name == name)
			return &names[i];
	return NULL;
}

static uint64_t child(uint64_t dir, uint8_t name)
{
	struct rname *n = name_at(dir, name);

	return n ? n->ino : 0;
}

static unsigned names_of(uint64_t ino)
{
	unsigned k = 0;

	for (unsigned i = 0; i < NAMES_MAX; i++)
		k += names[i].used && names[i].ino == ino;
	return k;
}

static bool has_children(uint64_t dir)
{
	for (unsigned i = 0; i < NAMES_MAX; i++)
		if (names[i].used && names[i].dir == dir)
			return true;
	return false;
}

static void name_add(uint64_t dir, uint8_t name, uint64_t ino)
{
	for (unsigned i = 0; i < NAMES_MAX; i++) {
		if (!names[i].used) {
			names[i] = (struct rname){true, dir, ino, name};
			return;
		}
	}
	T_FAIL("more than %d names", NAMES_MAX);
}

/* name_drop - the name goes; the inode goes with its last name. */
static void name_drop(struct rname *n)
{
	n->used = false;
	if (!names_of(n->ino))
		fs[n->ino].used = false;
}

static struct lc_attr attr_of(uint64_t ino)
{
	const struct rnode *r = &fs[ino];
	struct lc_attr a = {ino,
			    (r->dir    ? S_IFDIR
			     : r->link ? S_IFLNK
				       : S_IFREG) |
				    r->perm,
			    names_of(ino), r->size};

	if (r->dir) {
		a.nlink = 2;
		for (unsigned i = 0; i < NAMES_MAX; i++)
			a.nlink += names[i].used && names[i].dir == ino && fs[names[i].ino].dir;
		a.size = 0;
	}
	return a;
}

/*
 * resolve - what @p names, the whole path at once, as POSIX says: symbolic links followed
 * (a relative target from the link's directory, an absolute one from the root; the 41st is
 * ELOOP), the last component too when @follow. With @parent, the directory of the last
 * component instead (its name in *@last), which is not looked up.
 * Return: the inode; -ENOENT, -ENOTDIR, -ELOOP.
 */
static int64_t resolve(const struct lc_path *p, bool follow, bool parent, uint8_t *last)
{
	uint8_t comp[WALK_MAX];
	unsigned n = p->depth, links = 0;
	uint64_t cur = LC_ROOT;

	memcpy(comp, p->name, n);
	while (n) {
		uint64_t x;

		if (!fs[cur].dir)
			return -ENOTDIR;
		if (parent && n == 1) {
			*last = comp[0];
			return (int64_t)cur;
		}
		x = child(cur, comp[0]);
		if (!x)
			return -ENOENT;
		if (fs[x].link && (n > 1 || follow)) {
			bool abs = fs[x].data[0] == '/';
			uint32_t tlen = fs[x].size - abs;

			if (++links > LC_LOOPS_MAX)
				return -ELOOP;
			T_ASSERT(tlen == 1 && n - 1 + tlen <= WALK_MAX);
			comp[0] = (uint8_t)(fs[x].data[abs] - 'a');
			if (abs)
				cur = LC_ROOT;
			continue;
		}
		cur = x;
		memmove(comp, comp + 1, --n);
	}
	return parent ? -EINVAL : (int64_t)cur;
}

/* below - is directory @d @a or under it? */
static bool below(uint64_t a, uint64_t d)
{
	for (;;) {
		if (d == a)
			return true;
		if (d == LC_ROOT)
			return false;
		d = fs[d].parent;
	}
}

static uint64_t make(uint64_t dir, uint8_t name, bool isdir, const struct lc_op *op)
{
	uint64_t ino = next_ino++;

	T_ASSERT(ino < NODES);
	fs[ino] = (struct rnode){
		.used = true, .dir = isdir, .perm = (uint16_t)op->mode, .parent = dir};
	if (op->kind == LC_SYMLINK) {
		fs[ino].link = true;
		fs[ino].perm = 0777;
		fs[ino].size = op->len;
		memcpy(fs[ino].data, op->data, op->len);
	}
	name_add(dir, name, ino);
	return ino;
}

static int ref_rename(struct lc_op *op)
{
	uint8_t on, nn;
	int64_t od = resolve(&op->path, false, true, &on), nd;
	struct rname *sn, *dn;
	uint64_t src, dst;

	if (od < 0)
		return (int)-od;
	nd = resolve(&op->path2, false, true, &nn);
	if (nd < 0)
		return (int)-nd;
	sn = name_at((uint64_t)od, on);
	dn = name_at((uint64_t)nd, nn);
	src = sn ? sn->ino : 0;
	dst = dn ? dn->ino : 0;
	if (!src || (op->flags & LC_RENAME_EXCHANGE && !dst))
		return ENOENT;
	if (op->flags & LC_RENAME_NOREPLACE && dst)
		return EEXIST;
	if (dst == src) /* one name, or two of one file: nothing happens */
		return 0;
	if ((fs[src].dir && below(src, (uint64_t)nd)) ||
	    (op->flags & LC_RENAME_EXCHANGE && fs[dst].dir && below(dst, (uint64_t)od)))
		return EINVAL;
	if (dst && !(op->flags & LC_RENAME_EXCHANGE)) {
		if (fs[src].dir != fs[dst].dir)
			return fs[src].dir ? ENOTDIR : EISDIR;
		if (fs[dst].dir && has_children(dst))
			return ENOTEMPTY;
		name_drop(dn);
		dn = NULL;
	}
	if (dn) { /* exchange */
		dn->ino = src;
		sn->ino = dst;
		if (fs[dst].dir)
			fs[dst].parent = (uint64_t)od;
	} else {
		sn->dir = (uint64_t)nd;
		sn->name = nn;
	}
	if (fs[src].dir)
		fs[src].parent = (uint64_t)nd;
	return 0;
}

/* ref_link - link(2) of @op->path (not followed) as @op->path2. */
static int ref_link(struct lc_op *op)
{
	int64_t src = resolve(&op->path, false, false, NULL), dir;
	uint8_t nn;

	if (src < 0)
		return (int)-src;
	dir = resolve(&op->path2, false, true, &nn);
	if (dir < 0)
		return (int)-dir;
	if (fs[src].dir)
		return EPERM;
	if (child((uint64_t)dir, nn))
		return EEXIST;
	name_add((uint64_t)dir, nn, (uint64_t)src);
	op->attr = attr_of((uint64_t)src);
	return 0;
}

/* file_err - a file's size or bytes asked of another kind of inode. */
static int file_err(uint64_t ino)
{
	return fs[ino].dir ? EISDIR : fs[ino].link ? EINVAL : 0;
}

/* ref_run - @op, atomically: its reply goes into it. */
static void ref_run(struct lc_op *op)
{
	bool used = op->ino < next_ino && fs[op->ino].used;
	bool follow = op->kind == LC_STAT || op->kind == LC_READDIR;
	bool parent = op->kind == LC_CREATE || op->kind == LC_MKDIR || op->kind == LC_SYMLINK ||
		      op->kind == LC_UNLINK || op->kind == LC_RMDIR;
	uint8_t last = 0;
	int64_t r = 0;
	uint64_t c = 0;

	if (op->kind == LC_STAT || op->kind == LC_LSTAT || op->kind == LC_READLINK ||
	    op->kind == LC_READDIR || parent) {
		r = resolve(&op->path, follow, parent, &last);
		if (r < 0) {
			op->err = (int)-r;
			return;
		}
		c = parent ? child((uint64_t)r, last) : (uint64_t)r;
	}
	switch (op->kind) {
	case LC_STAT:
	case LC_LSTAT:
		op->attr = attr_of(c);
		break;
	case LC_READLINK:
		if (!fs[c].link) {
			op->err = EINVAL;
			break;
		}
		op->count = fs[c].size;
		memcpy(op->rdata, fs[c].data, fs[c].size);
		break;
	case LC_GETATTR:
		op->err = used ? 0 : ENOENT;
		if (used)
			op->attr = attr_of(op->ino);
		break;
	case LC_CREATE:
	case LC_MKDIR:
	case LC_SYMLINK:
		/* daxfsd's create answers with what is there, a symbolic link too */
		if (c && (op->kind != LC_CREATE || op->flags & LC_CREATE_EXCL))
			op->err = EEXIST;
		else if (c && fs[c].dir)
			op->err = EISDIR;
		else
			op->attr =
				attr_of(c ? c : make((uint64_t)r, last, op->kind == LC_MKDIR, op));
		break;
	case LC_UNLINK:
	case LC_RMDIR:
		if (!c)
			op->err = ENOENT;
		else if (op->kind == LC_UNLINK && fs[c].dir)
			op->err = EISDIR;
		else if (op->kind == LC_RMDIR && !fs[c].dir)
			op->err = ENOTDIR;
		else if (op->kind == LC_RMDIR && has_children(c))
			op->err = ENOTEMPTY;
		else
			name_drop(name_at((uint64_t)r, last));
		break;
	case LC_RENAME:
		op->err = ref_rename(op);
		break;
	case LC_LINK:
		op->err = ref_link(op);
		break;
	case LC_CHMOD:
	case LC_TRUNCATE:
		if (!used || (op->kind == LC_TRUNCATE && file_err(op->ino))) {
			op->err = used ? file_err(op->ino) : ENOENT;
			break;
		}
		if (op->kind == LC_CHMOD) {
			fs[op->ino].perm = (uint16_t)op->mode;
		} else {
			if (op->len < fs[op->ino].size)
				memset(fs[op->ino].data + op->len, 0, fs[op->ino].size - op->len);
			fs[op->ino].size = op->len;
		}
		op->attr = attr_of(op->ino);
		break;
	case LC_WRITE:
	case LC_READ:
		if (!used || file_err(op->ino)) {
			op->err = used ? file_err(op->ino) : ENOENT;
			break;
		}
		if (op->kind == LC_WRITE) {
			memcpy(fs[op->ino].data + op->off, op->data, op->len);
			if (op->off + op->len > fs[op->ino].size)
				fs[op->ino].size = op->off + op->len;
			op->count = op->len;
		} else {
			op->count = op->off >= fs[op->ino].size ? 0 : fs[op->ino].size - op->off;
			if (op->count > op->len)
				op->count = op->len;
			memcpy(op->rdata, fs[op->ino].data + op->off, op->count);
		}
		break;
	case LC_READDIR:
		if (!fs[c].dir) {
			op->err = ENOTDIR;
			break;
		}
		for (unsigned i = 0; i < NAMES_MAX; i++) {
			const struct rname *n = &names[i];

			if (!n->used || n->dir != c)
				continue;
			T_ASSERT(op->nents < LC_ENTS_MAX);
			op->ents[op->nents++] =
				(struct lc_dent){n->ino, n->name, fs[n->ino].dir, fs[n->ino].link};
		}
		/* POSIX leaves the order open: any will do. */
		for (unsigned i = op->nents; i > 1; i--) {
			unsigned j = (unsigned)rnd(i);
			struct lc_dent t = op->ents[i - 1];

			op->ents[i - 1] = op->ents[j];
			op->ents[j] = t;
		}
		break;
	default:
		T_FAIL("kind %d", (int)op->kind);
	}
}

/* to_state - the reference as a state of the model: by depth, until every name is in. */
static void to_state(struct lc_state *s)
{
	static bool added[NAMES_MAX];

	memset(added, 0, sizeof(added));
	lc_state_init(s, fs[LC_ROOT].perm);
	s->in[0].nlink = attr_of(LC_ROOT).nlink;
	for (unsigned pass = 0; pass < NODES; pass++) {
		bool more = false;

		for (unsigned i = 0; i < NAMES_MAX; i++) {
			const struct rname *n = &names[i];
			const struct rnode *r = &fs[n->ino];
			struct lc_inode in = {.ino = n->ino,
					      .isdir = r->dir,
					      .islink = r->link,
					      .perm = r->perm,
					      .size = r->dir ? 0 : r->size,
					      .nlink = attr_of(n->ino).nlink};

			if (!n->used || added[i] || !lc_state_find(s, n->dir))
				continue;
			memcpy(in.data, r->data, LC_DATA_MAX);
			T_ASSERT(lc_state_add(s, n->dir, n->name, &in) == 0);
			added[i] = more = true;
		}
		if (!more)
			break;
	}
	for (unsigned i = 0; i < NAMES_MAX; i++)
		T_ASSERT(!names[i].used || added[i]);
}

/* --- random requests --- */

static struct lc_path rnd_path(void)
{
	struct lc_path p = {.depth = (uint8_t)(1 + rnd(3))};

	for (unsigned i = 0; i < p.depth; i++)
		p.name[i] = (uint8_t)rnd(LC_NAMES);
	return p;
}

/* rnd_ino - a file or directory there now, or now and then one that is not. */
static uint64_t rnd_ino(void)
{
	uint64_t ino = 1 + rnd(next_ino - 1);

	for (unsigned tries = 0; tries < 8 && !fs[ino].used && rnd(5); tries++)
		ino = 1 + rnd(next_ino - 1);
	return ino;
}

/* rnd_op - a random request; arguments by inode are picked when it runs. */
/* name_path - the path of name @n (the names of its directories up to the root), when it
 * fits a path. */
static bool name_path(const struct rname *n, struct lc_path *p)
{
	uint8_t up[LC_DEPTH_MAX];
	unsigned k = 0;

	up[k++] = n->name;
	for (uint64_t d = n->dir; d != LC_ROOT; d = fs[d].parent) {
		const struct rname *dn = NULL;

		for (unsigned i = 0; i < NAMES_MAX && !dn; i++)
			if (names[i].used && names[i].ino == d)
				dn = &names[i];
		if (!dn || k == LC_DEPTH_MAX)
			return false;
		up[k++] = dn->name;
	}
	p->depth = (uint8_t)k;
	for (unsigned i = 0; i < k; i++)
		p->name[i] = up[k - 1 - i];
	return true;
}

/* rnd_file_path - 3 times in 4 the path of a file or link there now (a link's source). */
static void rnd_file_path(struct lc_path *p)
{
	unsigned cand[NAMES_MAX], n = 0;

	for (unsigned i = 0; i < NAMES_MAX; i++)
		if (names[i].used && !fs[names[i].ino].dir)
			cand[n++] = i;
	if (n && rnd(4))
		name_path(&names[cand[rnd(n)]], p);
}

static void rnd_op(struct lc_op *op, unsigned *tag)
{
	static const enum lc_kind kinds[] = {
		LC_STAT,   LC_STAT,	LC_GETATTR, LC_CREATE, LC_CREATE,  LC_MKDIR,
		LC_UNLINK, LC_RMDIR,	LC_RENAME,  LC_RENAME, LC_CHMOD,   LC_TRUNCATE,
		LC_WRITE,  LC_WRITE,	LC_READ,    LC_READ,   LC_READDIR, LC_READDIR,
		LC_LSTAT,  LC_READLINK, LC_LINK,    LC_LINK,   LC_SYMLINK, LC_SYMLINK};
	uint64_t r = rnd(100);

	op->kind = kinds[rnd(sizeof(kinds) / sizeof(kinds[0]))];
	op->path = rnd_path();
	if (op->kind == LC_READDIR && rnd(3) == 0)
		op->path.depth = 0;
	op->path2 = rnd_path();
	switch (op->kind) {
	case LC_CREATE:
		op->mode = 0644;
		op->flags = rnd(2) ? LC_CREATE_EXCL : 0;
		break;
	case LC_MKDIR:
		op->mode = 0755;
		break;
	case LC_RENAME:
		op->flags = r < 70 ? 0 : r < 85 ? LC_RENAME_NOREPLACE : LC_RENAME_EXCHANGE;
		break;
	case LC_LINK:
		rnd_file_path(&op->path);
		break;
	case LC_SYMLINK: /* one name, relative or absolute; 1 in 10 itself (a loop) */
		if (r >= 10 && r < 55)
			op->data[op->len++] = '/';
		op->data[op->len++] = (uint8_t)('a' + (r < 10 ? op->path.name[op->path.depth - 1]
							      : rnd(LC_NAMES)));
		break;
	case LC_CHMOD:
		op->mode = (uint32_t)rnd(01000);
		break;
	case LC_TRUNCATE:
		op->len = (uint32_t)rnd(LC_DATA_MAX + 1);
		break;
	case LC_WRITE:
		op->off = (uint32_t)rnd(LC_DATA_MAX - 15);
		op->len = 1 + (uint32_t)rnd(16);
		memset(op->data, 1 + (int)(++*tag % 255), op->len);
		break;
	case LC_READ:
		op->off = rnd(4) ? 0 : (uint32_t)rnd(LC_DATA_MAX);
		op->len = LC_DATA_MAX - op->off;
		break;
	default:
		break;
	}
}

static int point_cmp(const void *pa, const void *pb)
{
	const struct lc_op *const *a = pa, *const *b = pb;

	/* the linearization point is kept in attr.size until the request runs */
	return (*a)->attr.size < (*b)->attr.size ? -1 : (*a)->attr.size > (*b)->attr.size;
}

/* make_history - @ops (CLIENTS * PER_CLIENT) and the states before and after. */
static void make_history(struct lc_op *ops, struct lc_state *init, struct lc_state *final)
{
	struct lc_op *order[CLIENTS * PER_CLIENT];
	unsigned tag = 0, n = 0;
	struct lc_op scratch;

	ref_init();
	for (unsigned i = 0; i < SETUP_OPS; i++) {
		memset(&scratch, 0, sizeof(scratch));
		rnd_op(&scratch, &tag);
		scratch.ino = rnd_ino();
		ref_run(&scratch);
	}
	to_state(init);
	for (unsigned c = 0; c < CLIENTS; c++) {
		uint64_t t = rnd(20);

		for (unsigned k = 0; k < PER_CLIENT; k++) {
			struct lc_op *op = &ops[n];
			uint64_t dur = 1 + rnd(60);

			memset(op, 0, sizeof(*op));
			rnd_op(op, &tag);
			op->client = c;
			op->call = t * 1000;
			op->ret = (t + dur) * 1000;
			op->attr.size = op->call + 1 + rnd(dur * 1000 - 1);
			order[n++] = op;
			t += dur + 1 + rnd(10);
		}
	}
	qsort(order, n, sizeof(order[0]), point_cmp);
	for (unsigned i = 0; i < n; i++) {
		struct lc_op *op = order[i];

		op->attr.size = 0;
		op->ino = rnd_ino();
		ref_run(op);
	}
	to_state(final);
}

/* corrupt - make one reply of @ops wrong. Return: false when that op has nothing to spoil. */
static bool corrupt(struct lc_op *op)
{
	if (op->err) {
		op->err = op->err == ENOENT ? EEXIST : ENOENT;
		return true;
	}
	switch (op->kind) {
	case LC_STAT:
	case LC_GETATTR:
	case LC_CREATE:
	case LC_MKDIR:
	case LC_CHMOD:
	case LC_TRUNCATE:
	case LC_LSTAT:
	case LC_LINK:
	case LC_SYMLINK:
		op->attr.mode ^= 01;
		return true;
	case LC_READLINK:
		if (!op->count)
			return false;
		op->rdata[rnd(op->count)] ^= 0x80;
		return true;
	case LC_READ:
		if (!op->count)
			return false;
		op->rdata[rnd(op->count)] ^= 0x80;
		return true;
	case LC_READDIR:
		if (!op->nents)
			return false;
		op->nents--;
		return true;
	default:
		return false;
	}
}

int main(int argc, char **argv)
{
	static struct lc_op ops[CLIENTS * PER_CLIENT];
	static struct lc_state init, final;
	unsigned spoilt = 0, caught = 0, links = 0, symlinks = 0, eloops = 0;
	uint64_t nodes = 0;

	rng = t_seed(argc, argv, 13);
	t_watchdog(240, "test-lincheck-random");
	for (unsigned h = 0; h < HISTORIES; h++) {
		struct lc_history hist = {&init, &final, ops, CLIENTS * PER_CLIENT, false};
		struct lc_stats st;
		unsigned victim;
		int r;

		make_history(ops, &init, &final);
		for (unsigned i = 0; i < CLIENTS * PER_CLIENT; i++) {
			links += ops[i].err == 0 && ops[i].kind == LC_LINK;
			symlinks += ops[i].err == 0 && ops[i].kind == LC_SYMLINK;
			eloops += ops[i].err == ELOOP;
		}
		r = lc_check(&hist, &st);
		nodes += st.nodes;
		if (r != 1) {
			lc_report(stdout, &hist, 0);
			T_FAIL("history %u: the reference made it, so it is linearizable, yet "
			       "lc_check says %d",
			       h, r);
		}
		victim = (unsigned)rnd(CLIENTS * PER_CLIENT);
		if (!corrupt(&ops[victim]))
			continue;
		spoilt++;
		r = lc_check(&hist, &st);
		T_ASSERT(r >= 0);
		caught += r == 0;
	}
	printf("%u random histories from the reference: all linearizable (%" PRIu64
	       " configurations); %u of %u with one reply spoilt rejected; %u links and %u "
	       "symlinks made, %u walks ELOOP\n",
	       HISTORIES, nodes, caught, spoilt, links, symlinks, eloops);
	if (caught * 100 < spoilt * 95)
		T_FAIL("only %u of %u spoilt histories were rejected", caught, spoilt);
	return 0;
}
