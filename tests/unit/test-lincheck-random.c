// SPDX-License-Identifier: MIT
/*
 * test-lincheck-random - the linearizability checker (tests/helpers/lincheck.h) against an
 * independent reference: a plain sequential file system, written here apart from the
 * checker's model, in which every request is one atomic step (a whole path resolved at
 * once). 4 clients send random requests, each over a random interval of time; the
 * reference runs them in the order of a random point inside each interval and gives the
 * replies. Every such history is linearizable, with the reference's final state as the
 * scanned one: the checker must accept all HISTORIES of them (no false alarm), from
 * states made by random requests too. Then one reply of each is made wrong (a mode bit, an
 * errno, a byte read, an entry of a listing): the checker must reject nearly all of those
 * (a wrong reply can by chance be one some other order gives).
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

/* --- the reference: nodes by inode number; 0 unused, 1 the root --- */

struct rnode {
	bool used, dir;
	uint16_t perm;
	uint32_t size;
	uint8_t data[LC_DATA_MAX];
	uint64_t parent;
	uint8_t name;
};

static struct rnode fs[NODES];
static uint64_t next_ino;
static uint64_t rng;

static uint64_t rnd(uint64_t n)
{
	return t_rand(&rng) % n;
}

static void ref_init(void)
{
	memset(fs, 0, sizeof(fs));
	fs[LC_ROOT] = (struct rnode){.used = true, .dir = true, .perm = 0755, .parent = LC_ROOT};
	next_ino = 2;
}

static uint64_t child(uint64_t dir, uint8_t name)
{
	for (uint64_t i = 2; i < next_ino; i++)
		if (fs[i].used && fs[i].parent == dir && fs[i].name == name)
			return i;
	return 0;
}

static bool has_children(uint64_t dir)
{
	for (uint64_t i = 2; i < next_ino; i++)
		if (fs[i].used && fs[i].parent == dir)
			return true;
	return false;
}

static struct lc_attr attr_of(uint64_t ino)
{
	struct lc_attr a = {ino, (fs[ino].dir ? S_IFDIR : S_IFREG) | fs[ino].perm, 1, fs[ino].size};

	if (fs[ino].dir) {
		a.nlink = 2;
		for (uint64_t i = 2; i < next_ino; i++)
			a.nlink += fs[i].used && fs[i].dir && fs[i].parent == ino;
		a.size = 0;
	}
	return a;
}

/* parent_of - the directory holding the last component of @p: ENOENT, ENOTDIR. */
static int64_t parent_of(const struct lc_path *p)
{
	uint64_t d = LC_ROOT;

	for (unsigned i = 0; i + 1 < p->depth; i++) {
		uint64_t c = child(d, p->name[i]);

		if (!c)
			return -ENOENT;
		if (!fs[c].dir)
			return -ENOTDIR;
		d = c;
	}
	return (int64_t)d;
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

static uint64_t make(uint64_t dir, uint8_t name, bool isdir, uint16_t perm)
{
	uint64_t ino = next_ino++;

	T_ASSERT(ino < NODES);
	fs[ino] = (struct rnode){
		.used = true, .dir = isdir, .perm = perm, .parent = dir, .name = name};
	return ino;
}

static int ref_rename(struct lc_op *op)
{
	int64_t od = parent_of(&op->path), nd;
	uint8_t on, nn;
	uint64_t src, dst;

	if (od < 0)
		return (int)-od;
	nd = parent_of(&op->path2);
	if (nd < 0)
		return (int)-nd;
	on = op->path.name[op->path.depth - 1];
	nn = op->path2.name[op->path2.depth - 1];
	src = child((uint64_t)od, on);
	dst = child((uint64_t)nd, nn);
	if (!src || (op->flags & LC_RENAME_EXCHANGE && !dst))
		return ENOENT;
	if (op->flags & LC_RENAME_NOREPLACE && dst)
		return EEXIST;
	if (dst == src)
		return 0;
	if ((fs[src].dir && below(src, (uint64_t)nd)) ||
	    (op->flags & LC_RENAME_EXCHANGE && fs[dst].dir && below(dst, (uint64_t)od)))
		return EINVAL;
	if (dst && !(op->flags & LC_RENAME_EXCHANGE)) {
		if (fs[src].dir != fs[dst].dir)
			return fs[src].dir ? ENOTDIR : EISDIR;
		if (fs[dst].dir && has_children(dst))
			return ENOTEMPTY;
		fs[dst].used = false;
	}
	if (dst && op->flags & LC_RENAME_EXCHANGE) {
		fs[dst].parent = (uint64_t)od;
		fs[dst].name = on;
	}
	fs[src].parent = (uint64_t)nd;
	fs[src].name = nn;
	return 0;
}

/* ref_run - @op, atomically: its reply goes into it. */
static void ref_run(struct lc_op *op)
{
	bool used = op->ino < next_ino && fs[op->ino].used;
	uint8_t last = op->path.depth ? op->path.name[op->path.depth - 1] : 0;
	int64_t dir = 0;
	uint64_t c = 0;

	if (op->kind == LC_STAT || op->kind == LC_READDIR || op->kind == LC_CREATE ||
	    op->kind == LC_MKDIR || op->kind == LC_UNLINK || op->kind == LC_RMDIR) {
		dir = op->path.depth ? parent_of(&op->path) : LC_ROOT;
		if (dir < 0) {
			op->err = (int)-dir;
			return;
		}
		c = op->path.depth ? child((uint64_t)dir, last) : LC_ROOT;
	}
	switch (op->kind) {
	case LC_STAT:
		op->err = c ? 0 : ENOENT;
		if (c)
			op->attr = attr_of(c);
		break;
	case LC_GETATTR:
		op->err = used ? 0 : ENOENT;
		if (used)
			op->attr = attr_of(op->ino);
		break;
	case LC_CREATE:
	case LC_MKDIR:
		if (c && (op->kind == LC_MKDIR || op->flags & LC_CREATE_EXCL))
			op->err = EEXIST;
		else if (c && fs[c].dir)
			op->err = EISDIR;
		else
			op->attr = attr_of(c ? c
					     : make((uint64_t)dir, last, op->kind == LC_MKDIR,
						    (uint16_t)op->mode));
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
			fs[c].used = false;
		break;
	case LC_RENAME:
		op->err = ref_rename(op);
		break;
	case LC_CHMOD:
	case LC_TRUNCATE:
		if (!used || (op->kind == LC_TRUNCATE && fs[op->ino].dir)) {
			op->err = used ? EISDIR : ENOENT;
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
		if (!used || fs[op->ino].dir) {
			op->err = used ? EISDIR : ENOENT;
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
		if (!c || !fs[c].dir) {
			op->err = c ? ENOTDIR : ENOENT;
			break;
		}
		for (uint64_t i = 2; i < next_ino; i++) {
			if (!fs[i].used || fs[i].parent != c)
				continue;
			T_ASSERT(op->nents < LC_ENTS_MAX);
			op->ents[op->nents++] = (struct lc_dent){i, fs[i].name, fs[i].dir};
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

static void to_state(struct lc_state *s)
{
	lc_state_init(s, fs[LC_ROOT].perm);
	s->in[0].nlink = attr_of(LC_ROOT).nlink;
	/* Parents were made before their children: in number order every parent is there. */
	for (uint64_t i = 2; i < next_ino; i++) {
		struct lc_inode in = {.ino = i,
				      .isdir = fs[i].dir,
				      .perm = fs[i].perm,
				      .size = fs[i].dir ? 0 : fs[i].size,
				      .nlink = attr_of(i).nlink};
		bool ok = false;

		if (!fs[i].used)
			continue;
		memcpy(in.data, fs[i].data, LC_DATA_MAX);
		for (uint64_t p = fs[i].parent; p == LC_ROOT || fs[p].used; p = fs[p].parent)
			if (p == LC_ROOT) {
				ok = true;
				break;
			}
		T_ASSERT(ok);
		/* A renamed directory may hold older inodes: add by depth until all are in. */
	}
	for (unsigned pass = 0; pass < NODES; pass++) {
		bool added = false;

		for (uint64_t i = 2; i < next_ino; i++) {
			struct lc_inode in = {.ino = i,
					      .isdir = fs[i].dir,
					      .perm = fs[i].perm,
					      .size = fs[i].dir ? 0 : fs[i].size,
					      .nlink = attr_of(i).nlink};

			if (!fs[i].used || lc_state_find(s, i) || !lc_state_find(s, fs[i].parent))
				continue;
			memcpy(in.data, fs[i].data, LC_DATA_MAX);
			T_ASSERT(lc_state_add(s, fs[i].parent, fs[i].name, &in) == 0);
			added = true;
		}
		if (!added)
			break;
	}
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
static void rnd_op(struct lc_op *op, unsigned *tag)
{
	static const enum lc_kind kinds[] = {
		LC_STAT,   LC_STAT,  LC_GETATTR, LC_CREATE, LC_CREATE,	LC_MKDIR,
		LC_UNLINK, LC_RMDIR, LC_RENAME,	 LC_RENAME, LC_CHMOD,	LC_TRUNCATE,
		LC_WRITE,  LC_WRITE, LC_READ,	 LC_READ,   LC_READDIR, LC_READDIR};
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
		op->attr.mode ^= 01;
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
	unsigned spoilt = 0, caught = 0;
	uint64_t nodes = 0;

	rng = t_seed(argc, argv, 13);
	t_watchdog(240, "test-lincheck-random");
	for (unsigned h = 0; h < HISTORIES; h++) {
		struct lc_history hist = {&init, &final, ops, CLIENTS * PER_CLIENT, false};
		struct lc_stats st;
		unsigned victim;
		int r;

		make_history(ops, &init, &final);
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
	       " configurations); %u of %u with one reply spoilt rejected\n",
	       HISTORIES, nodes, caught, spoilt);
	if (caught * 100 < spoilt * 95)
		T_FAIL("only %u of %u spoilt histories were rejected", caught, spoilt);
	return 0;
}
