// SPDX-License-Identifier: MIT
/*
 * lincheck-state - the states of the model (lincheck.h): inodes and entries in sorted
 * tables, what a state says of an inode, whether a state matches one a scan observed (and
 * how it differs), and printing them. A file or symbolic link may have several entries
 * (hard links); its nlink is how many.
 */
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "lincheck-int.h"

_Thread_local bool lc_overflow;

static const char *const name_strs[LC_NAMES] = {"a", "b", "c", "d"};

const char *lc_name(uint8_t name)
{
	return name < LC_NAMES ? name_strs[name] : "?";
}

/* --- the state --- */

static int in_index(const struct lc_state *s, uint64_t ino)
{
	unsigned lo = 0, hi = s->nin;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (s->in[mid].ino == ino)
			return (int)mid;
		if (s->in[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

const struct lc_inode *lc_state_find(const struct lc_state *s, uint64_t ino)
{
	int i = in_index(s, ino);

	return i < 0 ? NULL : &s->in[i];
}

struct lc_inode *lc_find_mut(struct lc_state *s, uint64_t ino)
{
	int i = in_index(s, ino);

	return i < 0 ? NULL : &s->in[i];
}

bool lc_is_dir(const struct lc_state *s, uint64_t ino)
{
	const struct lc_inode *in = lc_state_find(s, ino);

	return in && in->isdir;
}

/* de_index - the entry @name of directory @dir, or -1. */
int lc_entry(const struct lc_state *s, uint64_t dir, uint8_t name)
{
	for (unsigned i = 0; i < s->nde; i++)
		if (s->de[i].dir == dir && s->de[i].name == name)
			return (int)i;
	return -1;
}

/* parent_of - the directory whose entry names @ino, or 0. */
uint64_t lc_parent(const struct lc_state *s, uint64_t ino)
{
	for (unsigned i = 0; i < s->nde; i++)
		if (s->de[i].ino == ino)
			return s->de[i].dir;
	return 0;
}

static unsigned subdirs(const struct lc_state *s, uint64_t dir)
{
	unsigned n = 0;

	for (unsigned i = 0; i < s->nde; i++)
		if (s->de[i].dir == dir && lc_is_dir(s, s->de[i].ino))
			n++;
	return n;
}

unsigned lc_entries(const struct lc_state *s, uint64_t ino)
{
	unsigned n = 0;

	for (unsigned i = 0; i < s->nde; i++)
		n += s->de[i].ino == ino;
	return n;
}

bool lc_has_entries(const struct lc_state *s, uint64_t dir)
{
	for (unsigned i = 0; i < s->nde; i++)
		if (s->de[i].dir == dir)
			return true;
	return false;
}

int lc_inode_insert(struct lc_state *s, const struct lc_inode *in)
{
	unsigned at = 0;

	if (s->nin == LC_INODES_MAX) {
		lc_overflow = true;
		return -1;
	}
	while (at < s->nin && s->in[at].ino < in->ino)
		at++;
	if (at < s->nin && s->in[at].ino == in->ino)
		return -1;
	memmove(&s->in[at + 1], &s->in[at], (s->nin - at) * sizeof(s->in[0]));
	s->in[at] = *in;
	if (in->size < LC_DATA_MAX)
		memset(s->in[at].data + in->size, 0, LC_DATA_MAX - in->size);
	s->nin++;
	return 0;
}

void lc_inode_remove(struct lc_state *s, uint64_t ino)
{
	int i = in_index(s, ino);

	if (i < 0)
		return;
	memmove(&s->in[i], &s->in[i + 1], (s->nin - (unsigned)i - 1) * sizeof(s->in[0]));
	s->nin--;
}

/* insert_dirent - entry @name -> @ino in @dir. */
int lc_entry_insert(struct lc_state *s, uint64_t dir, uint8_t name, uint64_t ino)
{
	struct lc_inode *d = lc_find_mut(s, dir);
	unsigned at = 0;

	if (s->nde == LC_INODES_MAX) {
		lc_overflow = true;
		return -1;
	}
	if (!d || !d->isdir || lc_entry(s, dir, name) >= 0)
		return -1;
	while (at < s->nde &&
	       (s->de[at].dir < dir || (s->de[at].dir == dir && s->de[at].name < name)))
		at++;
	memmove(&s->de[at + 1], &s->de[at], (s->nde - at) * sizeof(s->de[0]));
	s->de[at] = (struct lc_dirent){.dir = dir, .ino = ino, .name = name};
	s->nde++;
	return 0;
}

void lc_entry_remove(struct lc_state *s, int i)
{
	memmove(&s->de[i], &s->de[i + 1], (s->nde - (unsigned)i - 1) * sizeof(s->de[0]));
	s->nde--;
}

void lc_state_init(struct lc_state *s, uint16_t perm)
{
	memset(s, 0, sizeof(*s));
	s->nin = 1;
	s->in[0] = (struct lc_inode){.ino = LC_ROOT, .isdir = true, .perm = perm, .nlink = 2};
}

/* same_inode - is @a, found again under another name, what @b said it was? */
static bool same_inode(const struct lc_inode *a, const struct lc_inode *b)
{
	return a->isdir == b->isdir && a->islink == b->islink && a->perm == b->perm &&
	       a->size == b->size && memcmp(a->data, b->data, a->size) == 0;
}

int lc_state_add(struct lc_state *s, uint64_t dir, uint8_t name, const struct lc_inode *in)
{
	const struct lc_inode *had = lc_state_find(s, in->ino);
	struct lc_inode c = *in;

	if (name >= LC_NAMES || c.size > LC_DATA_MAX || c.ino == 0 || c.ino >= LC_INO_PENDING ||
	    (c.isdir && c.islink) || !lc_is_dir(s, dir) || lc_entry(s, dir, name) >= 0)
		return -1;
	if (had) /* another name of a file or symbolic link */
		return had->isdir || !same_inode(had, &c) ? -1
							  : lc_entry_insert(s, dir, name, c.ino);
	if (s->nin == LC_INODES_MAX)
		return -1;
	if (lc_inode_insert(s, &c) || lc_entry_insert(s, dir, name, c.ino)) {
		lc_inode_remove(s, c.ino);
		return -1;
	}
	return 0;
}

void lc_attr_of(const struct lc_state *s, const struct lc_inode *in, struct lc_attr *a)
{
	a->ino = in->ino;
	a->mode = (in->isdir ? S_IFDIR : in->islink ? S_IFLNK : S_IFREG) | in->perm;
	a->nlink = in->isdir ? 2 + subdirs(s, in->ino) : lc_entries(s, in->ino);
	a->size = in->size;
}

bool lc_state_check(const struct lc_state *s, char *why, size_t len)
{
	const struct lc_inode *root = lc_state_find(s, LC_ROOT);

	if (!root || !root->isdir) {
		snprintf(why, len, "no root directory");
		return false;
	}
	for (unsigned i = 0; i < s->nin; i++) {
		const struct lc_inode *in = &s->in[i];
		unsigned refs = lc_entries(s, in->ino), depth = 0;
		struct lc_attr a;

		if (in->ino == LC_ROOT ? refs != 0 : in->isdir ? refs != 1 : refs == 0) {
			snprintf(why, len, "%s %" PRIu64 " is named by %u entries",
				 in->isdir ? "directory" : "inode", in->ino, refs);
			return false;
		}
		if (in->isdir && in->islink) {
			snprintf(why, len, "inode %" PRIu64 " is a directory and a link", in->ino);
			return false;
		}
		lc_attr_of(s, in, &a);
		if (in->nlink != a.nlink) {
			snprintf(why, len, "inode %" PRIu64 " has nlink %u, its entries say %u",
				 in->ino, in->nlink, a.nlink);
			return false;
		}
		for (uint64_t p = in->ino; p != LC_ROOT; p = lc_parent(s, p)) {
			if (p == 0 || ++depth > s->nin) {
				snprintf(why, len, "inode %" PRIu64 " is not reached from the root",
					 in->ino);
				return false;
			}
		}
	}
	for (unsigned k = 0; k < s->nde; k++) {
		if (!lc_is_dir(s, s->de[k].dir) || !lc_state_find(s, s->de[k].ino)) {
			snprintf(why, len, "entry %s of %" PRIu64 " is dangling",
				 lc_name(s->de[k].name), s->de[k].dir);
			return false;
		}
	}
	return true;
}

size_t lc_state_key(const struct lc_state *s, uint8_t *buf)
{
	size_t n = 0;

#define PUT(v)                                    \
	do {                                      \
		memcpy(buf + n, &(v), sizeof(v)); \
		n += sizeof(v);                   \
	} while (0)
	PUT(s->nin);
	PUT(s->nde);
	for (unsigned i = 0; i < s->nin; i++) {
		const struct lc_inode *in = &s->in[i];

		PUT(in->ino);
		PUT(in->isdir);
		PUT(in->islink);
		PUT(in->perm);
		PUT(in->size);
		memcpy(buf + n, in->data, in->size);
		n += in->size;
	}
	for (unsigned i = 0; i < s->nde; i++) {
		PUT(s->de[i].dir);
		PUT(s->de[i].ino);
		PUT(s->de[i].name);
	}
#undef PUT
	return n;
}

void lc_state_copy(struct lc_state *to, const struct lc_state *from)
{
	to->nin = from->nin;
	to->nde = from->nde;
	memcpy(to->in, from->in, from->nin * sizeof(from->in[0]));
	memcpy(to->de, from->de, from->nde * sizeof(from->de[0]));
}

/* byte_ok - may byte @pos of inode @ino of the model be @v, knowing that a write in flight
 * could have left its own bytes there? */
static bool byte_ok(uint64_t ino, uint32_t pos, uint8_t want, uint8_t v,
		    const struct lc_op *const *writes, size_t nwrites)
{
	if (want == v)
		return true;
	for (size_t w = 0; w < nwrites; w++) {
		const struct lc_op *op = writes[w];

		if (op->ino == ino && pos >= op->off && pos - op->off < op->len &&
		    op->data[pos - op->off] == v)
			return true;
	}
	return false;
}

/*
 * The inodes of the model made by creates without a reply (numbered from LC_INO_PENDING)
 * and the observed inodes they stand for: one each, both ways, wherever they are named.
 */
struct pend_map {
	const struct lc_state *m, *o;
	const struct lc_op *const *writes;
	size_t nwrites, n;
	uint64_t from[LC_INODES_MAX], to[LC_INODES_MAX];
};

/* same_ino - may the model's inode @mi be the observed @oi (and from now on it is)? */
static bool same_ino(struct pend_map *pm, uint64_t mi, uint64_t oi)
{
	if (mi < LC_INO_PENDING)
		return mi == oi;
	for (size_t i = 0; i < pm->n; i++)
		if (pm->from[i] == mi || pm->to[i] == oi)
			return pm->from[i] == mi && pm->to[i] == oi;
	/* A number the model knows for another inode is not free for this one. */
	if (lc_state_find(pm->m, oi) || pm->n == LC_INODES_MAX)
		return false;
	pm->from[pm->n] = mi;
	pm->to[pm->n++] = oi;
	return true;
}

/* equal_dir - the subtree of @md in the model matches that of @od observed. */
static bool equal_dir(struct pend_map *pm, uint64_t md, uint64_t od, unsigned depth)
{
	const struct lc_state *m = pm->m, *o = pm->o;
	unsigned nm = 0, no = 0;

	if (depth > LC_INODES_MAX)
		return false;
	for (unsigned i = 0; i < o->nde; i++)
		no += o->de[i].dir == od;
	for (unsigned i = 0; i < m->nde; i++) {
		const struct lc_dirent *e = &m->de[i];
		const struct lc_inode *mi, *oi;
		struct lc_attr a;
		int k;

		if (e->dir != md)
			continue;
		nm++;
		k = lc_entry(o, od, e->name);
		if (k < 0)
			return false;
		mi = lc_state_find(m, e->ino);
		oi = lc_state_find(o, o->de[k].ino);
		if (!mi || !oi || !same_ino(pm, mi->ino, oi->ino))
			return false;
		lc_attr_of(m, mi, &a);
		if (mi->isdir != oi->isdir || mi->islink != oi->islink || mi->perm != oi->perm ||
		    mi->size != oi->size || a.nlink != oi->nlink)
			return false;
		for (uint32_t p = 0; p < mi->size; p++)
			if (!byte_ok(mi->ino, p, mi->data[p], oi->data[p], pm->writes, pm->nwrites))
				return false;
		if (mi->isdir && !equal_dir(pm, mi->ino, oi->ino, depth + 1))
			return false;
	}
	return nm == no;
}

bool lc_state_equal(const struct lc_state *m, const struct lc_state *o,
		    const struct lc_op *const *writes, size_t nwrites)
{
	const struct lc_inode *mr = lc_state_find(m, LC_ROOT), *orr = lc_state_find(o, LC_ROOT);
	struct pend_map pm = {.m = m, .o = o, .writes = writes, .nwrites = nwrites};
	struct lc_attr a;

	if (m->nin != o->nin || m->nde != o->nde || !mr || !orr)
		return false;
	lc_attr_of(m, mr, &a);
	if (mr->perm != orr->perm || a.nlink != orr->nlink)
		return false;
	return equal_dir(&pm, LC_ROOT, LC_ROOT, 0);
}

/* ino_str - "#5"; "#new" for the number a create without a reply took in the model. */
static const char *ino_str(uint64_t ino, char *buf, size_t len)
{
	if (ino >= LC_INO_PENDING)
		snprintf(buf, len, "#new");
	else
		snprintf(buf, len, "#%" PRIu64, ino);
	return buf;
}

static const char *type_str(const struct lc_inode *in)
{
	return in->isdir ? "directory" : in->islink ? "symbolic link" : "file";
}

/* name_of - "/a/b" for inode @ino of @s (its first entry, upwards), into @buf. */
static const char *name_of(const struct lc_state *s, uint64_t ino, char *buf, size_t len)
{
	char tmp[64];
	unsigned depth = 0;

	buf[0] = '\0';
	if (ino == LC_ROOT)
		snprintf(buf, len, "/");
	while (ino != LC_ROOT && depth++ <= s->nin) {
		int k = -1;

		for (unsigned i = 0; i < s->nde && k < 0; i++)
			if (s->de[i].ino == ino)
				k = (int)i;
		if (k < 0)
			break;
		snprintf(tmp, sizeof(tmp), "/%s%s", lc_name(s->de[k].name), buf);
		snprintf(buf, len, "%s", tmp);
		ino = s->de[k].dir;
	}
	return buf;
}

void lc_state_diff(FILE *f, const struct lc_state *m, const struct lc_state *o, const char *indent)
{
	char n1[64], n2[64], is[24];

	for (unsigned i = 0; i < m->nin; i++) {
		const struct lc_inode *mi = &m->in[i], *oi = lc_state_find(o, mi->ino);
		struct lc_attr a;

		name_of(m, mi->ino, n1, sizeof(n1));
		if (!oi) {
			fprintf(f, "%s%s %s: in the model, not in the scan\n", indent,
				ino_str(mi->ino, is, sizeof(is)), n1);
			continue;
		}
		name_of(o, oi->ino, n2, sizeof(n2));
		lc_attr_of(m, mi, &a);
		if (strcmp(n1, n2) != 0)
			fprintf(f, "%s%s: %s in the model, %s in the scan\n", indent,
				ino_str(mi->ino, is, sizeof(is)), n1, n2);
		if (mi->isdir != oi->isdir || mi->islink != oi->islink)
			fprintf(f, "%s%s %s: a %s in the model, a %s in the scan\n", indent,
				ino_str(mi->ino, is, sizeof(is)), n1, type_str(mi), type_str(oi));
		if (mi->perm != oi->perm)
			fprintf(f, "%s%s %s: mode %04o in the model, %04o in the scan\n", indent,
				ino_str(mi->ino, is, sizeof(is)), n1, mi->perm, oi->perm);
		if (a.nlink != oi->nlink)
			fprintf(f, "%s%s %s: nlink %u in the model, %u in the scan\n", indent,
				ino_str(mi->ino, is, sizeof(is)), n1, a.nlink, oi->nlink);
		if (mi->size != oi->size)
			fprintf(f, "%s%s %s: size %u in the model, %u in the scan\n", indent,
				ino_str(mi->ino, is, sizeof(is)), n1, mi->size, oi->size);
		else if (memcmp(mi->data, oi->data, mi->size) != 0)
			fprintf(f, "%s%s %s: other bytes in the model than in the scan\n", indent,
				ino_str(mi->ino, is, sizeof(is)), n1);
	}
	for (unsigned i = 0; i < o->nin; i++)
		if (!lc_state_find(m, o->in[i].ino))
			fprintf(f, "%s%s %s: in the scan, not in the model\n", indent,
				ino_str(o->in[i].ino, is, sizeof(is)),
				name_of(o, o->in[i].ino, n1, sizeof(n1)));
}

/* --- printing --- */

const char *lc_path_str(const struct lc_path *p, char *buf, size_t len)
{
	size_t n = 0;

	if (p->depth == 0)
		snprintf(buf, len, "/");
	for (unsigned i = 0; i < p->depth && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "/%s", lc_name(p->name[i]));
	return buf;
}

/* bytes_str - @len bytes as runs: "07x5 00x3". */
void lc_bytes_str(const uint8_t *d, uint32_t len, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < len && n + 12 < size;) {
		uint32_t j = i;

		while (j < len && d[j] == d[i])
			j++;
		n += (size_t)snprintf(buf + n, size - n, "%s%02x", i ? " " : "", d[i]);
		if (j - i > 1)
			n += (size_t)snprintf(buf + n, size - n, "x%u", j - i);
		i = j;
	}
}

static void print_dir(FILE *f, const struct lc_state *s, uint64_t dir, const char *indent,
		      unsigned depth)
{
	if (depth > LC_INODES_MAX)
		return;
	for (unsigned k = 0; k < s->nde; k++) {
		const struct lc_inode *in = lc_state_find(s, s->de[k].ino);
		struct lc_attr a;
		char d[200], is[24];

		if (s->de[k].dir != dir || !in)
			continue;
		lc_attr_of(s, in, &a);
		lc_bytes_str(in->data, in->size, d, sizeof(d));
		fprintf(f, "%s%*s%s%s %s", indent, (int)depth * 2, "", lc_name(s->de[k].name),
			in->isdir ? "/" : "", ino_str(in->ino, is, sizeof(is)));
		if (in->islink)
			fprintf(f, " -> \"%.*s\"", (int)in->size, (const char *)in->data);
		else
			fprintf(f, " %04o", in->perm);
		if (in->isdir || a.nlink != 1)
			fprintf(f, " nlink %u", a.nlink);
		if (!in->isdir && !in->islink)
			fprintf(f, " size %u: %s", in->size, d);
		fprintf(f, "\n");
		if (in->isdir)
			print_dir(f, s, in->ino, indent, depth + 1);
	}
}

void lc_state_print(FILE *f, const struct lc_state *s, const char *indent)
{
	const struct lc_inode *root = lc_state_find(s, LC_ROOT);
	struct lc_attr a;

	if (!root) {
		fprintf(f, "%s(no root)\n", indent);
		return;
	}
	lc_attr_of(s, root, &a);
	fprintf(f, "%s/ #1 %04o nlink %u\n", indent, root->perm, a.nlink);
	print_dir(f, s, LC_ROOT, indent, 1);
}
