// SPDX-License-Identifier: MIT
/*
 * lincheck - the search for a linearization (lincheck.h).
 *
 * Wing and Gong's search, with Lowe's memo of the configurations already explored. A
 * configuration is: the state of the model; which requests are done; and, for each request
 * that may run now but is not done, the set of places its program can stand in (struct
 * lc_pc), given the states seen since it became able to run. Only changing steps are
 * chosen by the search; everything a program can do without changing anything is done at
 * once in every state the search visits (the closure), which keeps the read-only steps of
 * every request (its lookups, its checks, a readdir's entries, a read's bytes) from
 * multiplying the search:
 *
 * - A request may run once every request answered before it was sent is done.
 * - In each new state, each running request's set grows by every place a looking step can
 *   take it to from a place in the set; the places in it stay (the step could as well come
 *   later). A place that watches a span of time (a read copying bytes, a readdir listing)
 *   sees every state the search passes through while it is there (lc_absorb). A request
 *   whose looking step ends it with the reply it got is done at once: it changes nothing,
 *   and ending it as early as it can only lets more requests run.
 * - A changing step is a branch of the search: from each place in a request's set where
 *   its changing step can happen and agree with the reply, the state changes, the request
 *   is then either done or goes on with the steps it takes after the change (a create
 *   reads the attributes it returns).
 * - The search succeeds when every request that got a reply is done (and the final state,
 *   when given, is the model's); requests without a reply (crash histories) may change the
 *   state anywhere after they were sent, or never.
 *
 * The memo keeps each configuration explored (its full bytes, not a hash), so nothing is
 * ever pruned by a collision. The search is exact for the model; its cost grows with the
 * number of requests that run at the same time, which is why the workload checks many
 * short histories.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lincheck-int.h"

#define LC_REACH_MAX 32 /* places one request's program may stand in at once */
#define LC_ACT_MAX 32	/* requests running at once */
#define MEMO_BYTES_MAX (UINT64_C(1) << 30)

struct act {
	uint16_t op;
	bool post; /* its changing step is behind it */
	uint8_t n;
	struct lc_pc e[LC_REACH_MAX];
};

struct cfg {
	struct lc_state s;
	unsigned nact;
	struct act act[LC_ACT_MAX]; /* sorted by op */
	uint8_t done[];		    /* per op: 1 done (or never to run) */
};

struct memo_slot {
	uint64_t hash;
	uint64_t off; /* of the key in the arena */
	uint32_t len; /* 0: an empty slot (no key is empty) */
};

struct ctx {
	const struct lc_history *h;
	const struct lc_op **ops; /* sorted: replies by their time, then the ones without */
	size_t n;
	bool *pending;		     /* no reply: may happen or not */
	uint64_t *rmask;	     /* reads: the reply's bytes a concurrent write explains */
	const struct lc_op **writes; /* crash: writes without a reply */
	size_t nwrites;
	uint64_t *cands; /* crash: numbers a create without a reply may have given */
	size_t ncands;
	size_t nacked;
	struct cfg **stack; /* one configuration per depth */
	size_t cfg_size;
	struct lc_state scratch;
	uint8_t *key;
	/* the memo */
	struct memo_slot *slots;
	size_t nslots, used;
	uint8_t *arena;
	uint64_t arena_len, arena_cap;
	/* the furthest the search got (reports) */
	struct cfg *best;
	size_t best_done;
	struct lc_stats st;
	bool limit;
};

/* --- configurations --- */

static void cfg_copy(struct ctx *x, struct cfg *to, const struct cfg *from)
{
	lc_state_copy(&to->s, &from->s);
	to->nact = from->nact;
	for (unsigned i = 0; i < from->nact; i++) {
		const struct act *a = &from->act[i];

		memcpy(&to->act[i], a, offsetof(struct act, e) + a->n * sizeof(a->e[0]));
	}
	memcpy(to->done, from->done, x->n);
}

static int pc_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct lc_pc));
}

/* act_add - add place @e to @a's set. Return: true when the set grew. */
static bool act_add(struct ctx *x, struct act *a, const struct lc_pc *e)
{
	const struct lc_op *op = x->ops[a->op];

	for (unsigned k = 0; k < a->n; k++) {
		struct lc_pc m;

		if (memcmp(&a->e[k], e, sizeof(*e)) == 0)
			return false;
		m = a->e[k];
		if (lc_pc_merge(op, &m, e)) {
			if (memcmp(&m, &a->e[k], sizeof(m)) == 0)
				return false;
			a->e[k] = m;
			return true;
		}
	}
	if (a->n == LC_REACH_MAX) {
		x->limit = true;
		return false;
	}
	a->e[a->n++] = *e;
	if (a->n > x->st.max_places)
		x->st.max_places = a->n;
	return true;
}

static void act_remove(struct cfg *c, unsigned i)
{
	memmove(&c->act[i], &c->act[i + 1], (c->nact - i - 1) * sizeof(c->act[0]));
	c->nact--;
}

/* act_insert - start @op running, with its program at its start. */
static void act_insert(struct ctx *x, struct cfg *c, uint16_t op)
{
	unsigned at = 0;
	struct act *a;

	if (c->nact == LC_ACT_MAX) {
		x->limit = true;
		return;
	}
	while (at < c->nact && c->act[at].op < op)
		at++;
	memmove(&c->act[at + 1], &c->act[at], (c->nact - at) * sizeof(c->act[0]));
	c->nact++;
	if (c->nact > x->st.max_run)
		x->st.max_run = c->nact;
	a = &c->act[at];
	a->op = op;
	a->post = false;
	a->n = 1;
	lc_pc_start(x->ops[op], &a->e[0], x->rmask[op]);
}

static bool is_running(const struct cfg *c, uint16_t op)
{
	for (unsigned i = 0; i < c->nact; i++)
		if (c->act[i].op == op)
			return true;
	return false;
}

/*
 * closure - start every request that may run now, and take every looking step in this
 * state until nothing changes; end the requests that can end.
 */
static void closure(struct ctx *x, struct cfg *c)
{
	bool changed;

	do {
		uint64_t t = UINT64_MAX;

		changed = false;
		for (size_t i = 0; i < x->n; i++)
			if (!c->done[i] && x->ops[i]->ret < t)
				t = x->ops[i]->ret;
		for (size_t i = 0; i < x->n; i++) {
			if (!c->done[i] && x->ops[i]->call <= t && !is_running(c, (uint16_t)i)) {
				act_insert(x, c, (uint16_t)i);
				changed = true;
			}
		}
		for (unsigned i = 0; i < c->nact;) {
			struct act *a = &c->act[i];
			const struct lc_op *op = x->ops[a->op];
			bool pending = x->pending[a->op], ended = false;

			/* What watches a span of time sees this state, as one place or merged. */
			for (unsigned k = 0; k < a->n; k++) {
				struct lc_pc e = a->e[k];

				if (!lc_absorb(op, &c->s, &e))
					continue;
				memmove(&a->e[k], &a->e[k + 1], (a->n - k - 1) * sizeof(e));
				a->n--;
				act_add(x, a, &e);
				changed = true;
				k = (unsigned)-1;
			}
			for (unsigned k = 0; k < a->n && !ended; k++) {
				struct lc_pc nx;

				switch (lc_step(op, pending, &c->s, &a->e[k], &nx, NULL, 0)) {
				case LC_NEXT:
					changed |= act_add(x, a, &nx);
					break;
				case LC_DONE:
					ended = !pending;
					break;
				default:
					break;
				}
			}
			if (ended) {
				c->done[a->op] = 1;
				act_remove(c, i);
				changed = true;
				continue;
			}
			i++;
		}
	} while (changed && !x->limit && !lc_overflow);
	for (unsigned i = 0; i < c->nact; i++)
		qsort(c->act[i].e, c->act[i].n, sizeof(c->act[i].e[0]), pc_cmp);
}

/* --- the memo --- */

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h ^ (h >> 29);
}

static size_t cfg_key(struct ctx *x, const struct cfg *c)
{
	size_t n = lc_state_key(&c->s, x->key);

	memcpy(x->key + n, c->done, x->n);
	n += x->n;
	for (unsigned i = 0; i < c->nact; i++) {
		const struct act *a = &c->act[i];

		memcpy(x->key + n, &a->op, sizeof(a->op));
		n += sizeof(a->op);
		x->key[n++] = a->post;
		x->key[n++] = a->n;
		memcpy(x->key + n, a->e, a->n * sizeof(a->e[0]));
		n += a->n * sizeof(a->e[0]);
	}
	return n;
}

static bool memo_grow(struct ctx *x)
{
	size_t n = x->nslots ? x->nslots * 2 : 4096;
	struct memo_slot *s = calloc(n, sizeof(*s));

	if (!s)
		return false;
	for (size_t i = 0; i < x->nslots; i++) {
		size_t j;

		if (!x->slots[i].len)
			continue;
		for (j = x->slots[i].hash & (n - 1); s[j].len; j = (j + 1) & (n - 1))
			;
		s[j] = x->slots[i];
	}
	free(x->slots);
	x->slots = s;
	x->nslots = n;
	return true;
}

/* memo_visit - has @c been explored? If not, remember it. */
static bool memo_visit(struct ctx *x, const struct cfg *c)
{
	size_t len = cfg_key(x, c), j;
	uint64_t h = hash_bytes(x->key, len);

	if ((x->used + 1) * 2 > x->nslots && !memo_grow(x)) {
		x->limit = true;
		return true;
	}
	for (j = h & (x->nslots - 1); x->slots[j].len; j = (j + 1) & (x->nslots - 1))
		if (x->slots[j].hash == h && x->slots[j].len == len &&
		    memcmp(x->arena + x->slots[j].off, x->key, len) == 0)
			return true;
	if (x->arena_len + len > x->arena_cap) {
		uint64_t cap = x->arena_cap ? x->arena_cap * 2 : UINT64_C(1) << 20;
		uint8_t *p;

		while (cap < x->arena_len + len)
			cap *= 2;
		p = cap <= MEMO_BYTES_MAX ? realloc(x->arena, cap) : NULL;
		if (!p) {
			x->limit = true;
			return true;
		}
		x->arena = p;
		x->arena_cap = cap;
	}
	memcpy(x->arena + x->arena_len, x->key, len);
	x->slots[j] = (struct memo_slot){h, x->arena_len, (uint32_t)len};
	x->arena_len += len;
	x->used++;
	return false;
}

/* --- the search --- */

static size_t count_done(const struct ctx *x, const struct cfg *c)
{
	size_t n = 0;

	for (size_t i = 0; i < x->n; i++)
		n += c->done[i] && !x->pending[i];
	return n;
}

static bool final_ok(struct ctx *x, const struct cfg *c)
{
	if (!x->h->final)
		return true;
	return lc_state_equal(&c->s, x->h->final, x->writes, x->nwrites);
}

static int dfs(struct ctx *x, size_t depth)
{
	struct cfg *c = x->stack[depth];
	size_t ndone;

	closure(x, c);
	if (x->limit || lc_overflow)
		return -1;
	ndone = count_done(x, c);
	if (ndone > x->best_done || !x->best_done) {
		x->best_done = ndone;
		cfg_copy(x, x->best, c);
	}
	if (ndone == x->nacked) {
		if (final_ok(x, c))
			return 1;
		if (!x->h->crash)
			return 0;
	}
	if (memo_visit(x, c))
		return x->limit ? -1 : 0;
	x->st.nodes++;
	for (unsigned i = 0; i < c->nact; i++) {
		const struct act *a = &c->act[i];
		const struct lc_op *op = x->ops[a->op];
		bool pending = x->pending[a->op];
		size_t tries = 1;

		if (a->post)
			continue;
		/* A create without a reply: the number a reply shows, or one nobody saw. */
		if (pending &&
		    (op->kind == LC_CREATE || op->kind == LC_MKDIR || op->kind == LC_SYMLINK))
			tries = x->ncands + 1;
		if (!x->stack[depth + 1]) {
			x->stack[depth + 1] = malloc(x->cfg_size);
			if (!x->stack[depth + 1])
				return -1;
		}
		for (unsigned k = 0; k < a->n * tries; k++) {
			struct cfg *child = x->stack[depth + 1];
			size_t t = k % tries;
			uint64_t ino_new = t < x->ncands ? x->cands[t] : LC_INO_PENDING + a->op;
			struct lc_pc nx;
			unsigned ci;
			int r;

			if (lc_step(op, pending, &c->s, &a->e[k / tries], &nx, &x->scratch,
				    ino_new) != LC_EFFECT)
				continue;
			x->st.effects++;
			cfg_copy(x, child, c);
			lc_state_copy(&child->s, &x->scratch);
			for (ci = 0; child->act[ci].op != a->op; ci++)
				;
			if (pending || nx.pc == LC_PC_END) {
				child->done[a->op] = 1;
				act_remove(child, ci);
			} else {
				child->act[ci].post = true;
				child->act[ci].n = 1;
				child->act[ci].e[0] = nx;
			}
			r = dfs(x, depth + 1);
			if (r)
				return r;
		}
	}
	return 0;
}

static int ret_cmp(const void *pa, const void *pb)
{
	const struct lc_op *a = *(const struct lc_op *const *)pa;
	const struct lc_op *b = *(const struct lc_op *const *)pb;

	if (a->ret != b->ret)
		return a->ret < b->ret ? -1 : 1;
	if (a->call != b->call)
		return a->call < b->call ? -1 : 1;
	return a < b ? -1 : a > b;
}

/* overlaps - did @a and @b run at the same time? */
static bool overlaps(const struct lc_op *a, const struct lc_op *b)
{
	return a->call <= b->ret && b->call <= a->ret;
}

/* read_mask - the bytes of read @r's reply that a write running at the same time explains
 * (the engine copies while writers write). */
static uint64_t read_mask(const struct lc_history *h, const struct lc_op *r)
{
	uint64_t m = 0;

	for (size_t w = 0; w < h->nops; w++) {
		const struct lc_op *op = &h->ops[w];

		if (op->kind != LC_WRITE || op->ino != r->ino || !overlaps(op, r) ||
		    (op->ret != LC_PENDING && op->err))
			continue;
		for (uint32_t k = 0; k < r->count && k < 64; k++) {
			uint32_t pos = r->off + k;

			if (pos >= op->off && pos - op->off < op->len &&
			    op->data[pos - op->off] == r->rdata[k])
				m |= UINT64_C(1) << k;
		}
	}
	return m;
}

static void ctx_free(struct ctx *x)
{
	if (x->stack)
		for (size_t i = 0; i <= x->n + 1; i++)
			free(x->stack[i]);
	free(x->stack);
	free(x->ops);
	free(x->pending);
	free(x->rmask);
	free(x->writes);
	free(x->cands);
	free(x->key);
	free(x->slots);
	free(x->arena);
	free(x->best);
}

static void add_cand(struct ctx *x, uint64_t ino)
{
	if (ino == 0 || lc_state_find(x->h->init, ino))
		return;
	for (size_t i = 0; i < x->ncands; i++)
		if (x->cands[i] == ino)
			return;
	x->cands[x->ncands++] = ino;
}

/*
 * find_cands - the inode numbers some request saw that may be those of a create without a
 * reply: all but the initial state's and those an exclusive create, a mkdir or a symlink
 * made.
 */
static void find_cands(struct ctx *x)
{
	const struct lc_history *h = x->h;

	for (size_t i = 0; i < h->nops; i++) {
		const struct lc_op *op = &h->ops[i];

		if (op->ret == LC_PENDING)
			continue;
		if (op->kind == LC_GETATTR || op->kind == LC_CHMOD || op->kind == LC_TRUNCATE ||
		    op->kind == LC_WRITE || op->kind == LC_READ)
			add_cand(x, op->ino);
		if (op->err == 0 && op->kind != LC_MKDIR && op->kind != LC_SYMLINK &&
		    !(op->kind == LC_CREATE && op->flags & LC_CREATE_EXCL))
			add_cand(x, op->attr.ino);
		for (unsigned k = 0; k < op->nents; k++)
			add_cand(x, op->ents[k].ino);
	}
}

/* check - lc_check; *@best (when not NULL) gets the furthest configuration, and @x stays
 * set up for the caller to read it (ctx_free it). */
static int check(struct ctx *x, const struct lc_history *h)
{
	size_t keymax;
	int r;

	memset(x, 0, sizeof(*x));
	lc_overflow = false;
	x->h = h;
	x->n = h->nops;
	if (x->n > UINT16_MAX)
		return -1;
	x->cfg_size = sizeof(struct cfg) + x->n;
	keymax = LC_STATE_KEY_MAX + x->n + LC_ACT_MAX * (4 + LC_REACH_MAX * sizeof(struct lc_pc));
	x->ops = calloc(x->n + 1, sizeof(*x->ops));
	x->pending = calloc(x->n + 1, sizeof(*x->pending));
	x->rmask = calloc(x->n + 1, sizeof(*x->rmask));
	x->writes = calloc(x->n + 1, sizeof(*x->writes));
	x->cands = calloc(x->n * (LC_ENTS_MAX + 2) + 1, sizeof(*x->cands));
	x->stack = calloc(x->n + 2, sizeof(*x->stack));
	x->key = malloc(keymax);
	x->best = calloc(1, x->cfg_size);
	if (!x->ops || !x->pending || !x->rmask || !x->writes || !x->cands || !x->stack ||
	    !x->key || !x->best)
		return -1;
	x->stack[0] = calloc(1, x->cfg_size);
	if (!x->stack[0])
		return -1;
	for (size_t i = 0; i < x->n; i++)
		x->ops[i] = &h->ops[i];
	qsort(x->ops, x->n, sizeof(x->ops[0]), ret_cmp);
	for (size_t i = 0; i < x->n; i++) {
		const struct lc_op *op = x->ops[i];

		if (op->ret == LC_PENDING) {
			if (!h->crash)
				return -1; /* every request of a history without a crash has a reply */
			x->pending[i] = true;
			/* One that only looks and got no answer tells nothing. */
			x->stack[0]->done[i] = lc_op_is_observer(op);
			if (op->kind == LC_WRITE)
				x->writes[x->nwrites++] = op;
		} else {
			x->nacked++;
		}
		if (op->kind == LC_READ && op->ret != LC_PENDING)
			x->rmask[i] = read_mask(h, op);
	}
	if (h->crash)
		find_cands(x);
	lc_state_copy(&x->stack[0]->s, h->init);
	r = dfs(x, 0);
	return r;
}

int lc_check(const struct lc_history *h, struct lc_stats *st)
{
	struct ctx x;
	int r = check(&x, h);

	if (st)
		*st = x.st;
	ctx_free(&x);
	return r < 0 ? -1 : r;
}

/* --- reports --- */

static int call_cmp(const void *pa, const void *pb)
{
	const struct lc_op *a = pa, *b = pb;

	if (a->call != b->call)
		return a->call < b->call ? -1 : 1;
	return a->client < b->client ? -1 : a->client > b->client;
}

/* removable - may the report leave @op out? Only what changes nothing: leaving it out
 * takes constraints away, so a history still not linearizable without it shows the same. */
static bool removable(const struct lc_op *op)
{
	return op->ret != LC_PENDING && (lc_op_is_observer(op) || op->err);
}

void lc_report(FILE *f, const struct lc_history *h, uint64_t t0)
{
	struct lc_op *ops = malloc((h->nops ? h->nops : 1) * sizeof(*ops));
	struct lc_history m = *h;
	size_t n = h->nops;
	struct ctx x;
	int r;

	if (!ops) {
		fprintf(f, "lincheck: no memory for the report\n");
		return;
	}
	memcpy(ops, h->ops, n * sizeof(*ops));
	qsort(ops, n, sizeof(*ops), call_cmp);
	m.ops = ops;
	/* Leave out what is not needed to show it, last first. */
	for (size_t i = n; i-- > 0;) {
		struct lc_op keep = ops[i];

		if (!removable(&ops[i]))
			continue;
		memmove(&ops[i], &ops[i + 1], (n - i - 1) * sizeof(*ops));
		m.nops = n - 1;
		if (lc_check(&m, NULL) == 0) {
			n--;
			continue;
		}
		memmove(&ops[i + 1], &ops[i], (n - i - 1) * sizeof(*ops));
		ops[i] = keep;
		m.nops = n;
	}
	m.nops = n;
	fprintf(f,
		"NOT LINEARIZABLE: %zu requests; the %zu below are still not linearizable "
		"(ms from the start: sent .. answered)\n",
		h->nops, n);
	fprintf(f, " initial state:\n");
	lc_state_print(f, h->init, "   ");
	fprintf(f, " requests:\n");
	for (size_t i = 0; i < n; i++)
		lc_op_print(f, &ops[i], t0);
	r = check(&x, &m);
	if (r == 0 && x.best_done < x.nacked) {
		fprintf(f,
			" the furthest a linearization gets: %zu of %zu answered requests done, "
			"in state:\n",
			x.best_done, x.nacked);
		lc_state_print(f, &x.best->s, "   ");
		fprintf(f, " none of these can come next there:\n");
		for (size_t i = 0; i < x.n; i++)
			if (!x.best->done[i] && !x.pending[i])
				lc_op_print(f, x.ops[i], t0);
	} else if (r == 0) {
		fprintf(f,
			" every answered request fits in a linearization, but none ends in the "
			"%s state; one ends in:\n",
			h->crash ? "recovered" : "scanned");
		lc_state_print(f, &x.best->s, "   ");
		fprintf(f, " which differs from it:\n");
		lc_state_diff(f, &x.best->s, h->final, "   ");
	}
	if (h->final) {
		fprintf(f, " final state (%s):\n",
			h->crash ? "recovered after the crash" : "scanned at the end");
		lc_state_print(f, h->final, "   ");
	}
	ctx_free(&x);
	free(ops);
}
