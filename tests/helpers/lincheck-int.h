/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_TESTS_LINCHECK_INT_H
#define DAXFS_TESTS_LINCHECK_INT_H

/*
 * Inside lincheck: what the search (lincheck.c) needs of the model (lincheck-model.c) and
 * what both need of the states (lincheck-state.c).
 *
 * A request is a small program of steps (lc_step), each run against one state of the model.
 * Where a request's program stands is a struct lc_pc: which step comes next and what the
 * steps so far found (the directory a walk reached, the inode a lookup found...). A step
 * either only looks (it moves the program on, or ends it with a result) or changes the
 * state (LC_EFFECT). A request has at most one changing step: the one the daemon takes
 * under the engine's locks.
 */

#include <assert.h>

#include "lincheck.h"

/*
 * Where a request's program stands. No padding: it is compared and hashed as bytes.
 *
 * A walk is where it has got to (a), the components it has still to look up (rem, 2 bits
 * each, the next one lowest; nrem of them) and how many symbolic links it may have
 * followed so far (loops: bit n for n links). A link met on the way puts its target's
 * components in front of the rest. Places that differ only in loops are one place with the
 * union of their loops (lc_pc_merge): they go on alike but for ELOOP.
 */
struct lc_pc {
	uint64_t a, b, x;     /* inodes: the directory walked to, the inode found, the old dir */
	uint64_t mask;	      /* read: the bytes of the reply seen; readdir: its entries seen */
	uint64_t v[LC_NAMES]; /* readdir: the inode each name named all along so far, or 0 */
	uint64_t loops;	      /* the walk: links followed, as a set (bit n: n of them) */
	uint32_t rem;	      /* the walk: the components left, the next in bits 0-1 */
	uint8_t nrem;	      /* how many */
	uint8_t pc;	      /* the next step; LC_PC_END: nothing more */
	uint8_t j;	      /* create: the attempt */
	uint8_t pad;
};
static_assert(sizeof(struct lc_pc) == 80, "struct lc_pc has no padding");
#define LC_REM_MAX 16 /* components rem holds */

#define LC_PC_END 255

/* Set when a state or a program outgrows the model's tables (the check then returns -1). */
extern _Thread_local bool lc_overflow;

enum lc_step_res {
	LC_WAIT,   /* nothing this step can do in this state */
	LC_NEXT,   /* a looking step: the program moves on to *next */
	LC_DONE,   /* the request ends here with the reply it got */
	LC_BAD,	   /* it would end here, with another reply than it got */
	LC_EFFECT, /* the changing step: *after is the new state, *next where it goes on */
};

/*
 * lc_step - run the step @e of @op's program in state @s.
 * @pending: @op got no reply (crash histories): any reply goes, a change may happen.
 * @ino_new: for the changing step of a create or mkdir that got no reply, the number the
 *           new inode takes in the model.
 * @after: where the changing step puts the new state; NULL: only say LC_EFFECT (and leave
 *         @next alone), for a caller that wants the other outcomes.
 */
enum lc_step_res lc_step(const struct lc_op *op, bool pending, const struct lc_state *s,
			 const struct lc_pc *e, struct lc_pc *next, struct lc_state *after,
			 uint64_t ino_new);

/* lc_pc_start - where @op's program starts; @static_mask: a read's bytes that a write
 * running at the same time explains. */
void lc_pc_start(const struct lc_op *op, struct lc_pc *e, uint64_t static_mask);

/*
 * lc_absorb - a program that watches a span of time (a read's bytes, a readdir's entries)
 * sees state @s go by: update @e. Every place of a running request sees every state the
 * search passes through while it runs (twice the same state changes nothing).
 * Return: true when @e changed.
 */
bool lc_absorb(const struct lc_op *op, const struct lc_state *s, struct lc_pc *e);

/*
 * lc_pc_merge - can @b be folded into @a, which stands at the same step (a read's bytes:
 * the union of what each saw)? Then @a is updated. Return: true when folded.
 */
bool lc_pc_merge(const struct lc_op *op, struct lc_pc *a, const struct lc_pc *b);

/* lc_attr_of - the attributes the model gives inode @in of @s. */
void lc_attr_of(const struct lc_state *s, const struct lc_inode *in, struct lc_attr *a);

/*
 * lc_state_equal - does the model state @m match the observed state @o? Inode numbers,
 * types, permissions, sizes, bytes, names and nlink. The inodes of @m numbered from
 * LC_INO_PENDING came from creates that got no reply (a crash) and may have any number in
 * @o; a byte of a file may also be the one a write in flight (@writes, @nwrites) put there.
 */
#define LC_INO_PENDING (UINT64_C(1) << 62)
bool lc_state_equal(const struct lc_state *m, const struct lc_state *o,
		    const struct lc_op *const *writes, size_t nwrites);

/* lc_state_diff - print how the model state @m differs from the observed state @o. */
void lc_state_diff(FILE *f, const struct lc_state *m, const struct lc_state *o, const char *indent);

/* lc_state_key - append the bytes that identify @s to @buf (lincheck.c's memo). */
size_t lc_state_key(const struct lc_state *s, uint8_t *buf);
#define LC_STATE_KEY_MAX (8 + LC_INODES_MAX * (16 + LC_DATA_MAX) + LC_INODES_MAX * 17)

/* lc_state_copy - *@to = *@from, copying only what is used. */
void lc_state_copy(struct lc_state *to, const struct lc_state *from);

/* --- the tables of a state (lincheck-state.c), for the programs --- */

struct lc_inode *lc_find_mut(struct lc_state *s, uint64_t ino);
bool lc_is_dir(const struct lc_state *s, uint64_t ino);
/* lc_entry - the index of entry @name of directory @dir in s->de, or -1. */
int lc_entry(const struct lc_state *s, uint64_t dir, uint8_t name);
/* lc_parent - the directory whose entry names @ino, or 0. */
uint64_t lc_parent(const struct lc_state *s, uint64_t ino);
bool lc_has_entries(const struct lc_state *s, uint64_t dir);
/* lc_inode_insert / lc_entry_insert - Return: 0; -1 when taken or full (full sets
 * lc_overflow). */
int lc_inode_insert(struct lc_state *s, const struct lc_inode *in);
void lc_inode_remove(struct lc_state *s, uint64_t ino);
int lc_entry_insert(struct lc_state *s, uint64_t dir, uint8_t name, uint64_t ino);
void lc_entry_remove(struct lc_state *s, int i);
/* lc_entries - how many entries name @ino. */
unsigned lc_entries(const struct lc_state *s, uint64_t ino);
/* lc_bytes_str - @len bytes as runs ("07x5 00x3") into @buf. */
void lc_bytes_str(const uint8_t *d, uint32_t len, char *buf, size_t size);

/* lc_op_is_observer - does @op never change anything, whatever happens? */
bool lc_op_is_observer(const struct lc_op *op);

#endif
