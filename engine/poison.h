/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_POISON_H
#define DAXFS_ENGINE_POISON_H

/*
 * poison - media errors (DESIGN §5). Every source (the device's bad-block list, SIGBUS in
 * the daemon, reports from clients, injection) ends in poison_handle(), which finds the
 * block's owner through the rmap under RCU, revalidates under the owner's xtable lock,
 * takes the entry lock, then persists a BADBLOCK record (the block is quarantined for good,
 * the page reads as EIO until rewritten), tells the page's grant holders, and unlocks.
 * With a replica that holds the block (replica.h), a file page's block is repaired instead:
 * cleared, rewritten from the replica, and its mappers told to map it again.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "namespace.h"

struct ns;

enum poison_source {
	POISON_SRC_BADBLOCKS, /* the device's bad-block list */
	POISON_SRC_SIGBUS,    /* the daemon touched poisoned memory */
	POISON_SRC_CLIENT,    /* a client's library caught SIGBUS */
	POISON_SRC_INJECTED,  /* fault-injection mode, tests */
};

const char *poison_source_name(enum poison_source src);

struct poison_hit {
	uint64_t block; /* region block number */
	bool owned;	/* a file page owned it: */
	uint64_t ino;	/*   that file */
	uint64_t index; /*   that page */
	bool already;	/* it was quarantined before */
	bool metadata;	/* outside the data area (superblocks, log) */
	bool repaired;	/* put back from the replica: no data lost, nothing quarantined */
};

/* Called once per block; for an owned block, with that page's entry lock held. */
typedef void (*poison_report_fn)(void *ctx, const struct poison_hit *hit);

/*
 * poison_handle - handle poison in region bytes [@offset, @offset + @len) (rounded out to
 * whole blocks).
 * Context: a thread registered with RCU, outside a read section, holding no engine lock.
 * Locking: per block: RCU read section -> the owner's xtable lock -> its entry lock (waits
 *          while another thread holds it, then retries from the rmap lookup); the entry lock
 *          is held across the transaction and the notifications.
 * Return: the number of blocks newly quarantined; -EINVAL for a range outside the region.
 */
int64_t poison_handle(struct ns *ns, uint64_t offset, uint64_t len, enum poison_source src,
		      poison_report_fn fn, void *ctx);

/* One bad range as poison_list() reports it. */
#define POISON_BAD_METADATA 0x1 /* outside the data area (superblock, log) */
#define POISON_BAD_REPAIRED 0x2 /* repaired from the replica this run: nothing was lost */
struct poison_bad {
	uint64_t block, count; /* region blocks */
	bool owned;	       /* a file page still sits on them (poisoned, not rewritten): */
	uint64_t ino;	       /*   that file */
	uint64_t index;	       /*   from that page on */
	unsigned flags;
};

/*
 * poison_list - the bad blocks from block @from on, in block order, merged into ranges:
 * the quarantine (persisted; each with the file page on it, if any), the metadata blocks
 * poisoned this run, and the file pages repaired from the replica this run (the first
 * NS_REPAIRED_MAX; POISON_BAD_REPAIRED, owned, with the page they were under). At most @max in @out; *@next is where to go on, UINT64_MAX at the end.
 * Context: thread registered with RCU, outside a read section. Locking: takes the
 *          quarantine walk's allocator lock, RCU per block, meta_bad_lock.
 * Return: the number stored; -EINVAL (@max 0).
 */
int poison_list(struct ns *ns, uint64_t from, struct poison_bad *out, size_t max, uint64_t *next);

struct poison_scrub_result {
	uint64_t blocks_read, blocks_bad, bytes_read, usec;
};
/*
 * poison_scrub - read every block in use SIGBUS-safely; media errors found go through
 * poison_handle() (source SIGBUS) and are counted in blocks_bad.
 * Context: as poison_drain. Locking: the allocator's per block; none across the reads, so
 *          a block freed meanwhile is still read (harmless: its poison is quarantined too).
 * Return: 0; -ENOMEM; -EIO (the region failed under the scrub).
 */
int poison_scrub(struct ns *ns, struct poison_scrub_result *res);

/*
 * poison_scrub_range - poison_scrub() of data-area blocks [@from, @from + @count) only
 * (counted from the start of the data area; @count is cut at its end), without a log
 * line: a client that scrubs range by range shows its progress.
 * Return: as poison_scrub; -EINVAL (@from past the data area).
 */
int poison_scrub_range(struct ns *ns, uint64_t from, uint64_t count,
		       struct poison_scrub_result *res);

/* poison_scrub_blocks - the blocks of the data area, which poison_scrub_range() counts in. */
uint64_t poison_scrub_blocks(struct ns *ns);

#define SCRUB_RUN_BLOCKS 512 /* what a scrub reads at once: 2 MiB */

/*
 * poison_scrub_run - how many blocks from @b on (before @end, at most SCRUB_RUN_BLOCKS) a
 * file or a grace period holds, neither free nor quarantined: what a scrub reads next.
 */
uint64_t poison_scrub_run(struct ns *ns, uint64_t b, uint64_t end);

/*
 * poison_drain - hand the media errors queued on the region (a SIGBUS-safe copy that hit
 * one, or BUS_MCEERR_AO: engine/sigbus.h) to poison_handle() with POISON_SRC_SIGBUS.
 * The copies queue instead of calling poison_handle() themselves because they may run
 * under an inode lock or with entry locks held, which poison_handle() would wait for.
 * Context: a thread registered with RCU, outside a read section, holding no engine lock
 *          (docs/locking.md). Cheap when nothing is queued (one atomic load).
 * Return: the number of blocks newly quarantined, or a negative errno from poison_handle.
 */
int64_t poison_drain(struct ns *ns);

/* What poison_check_file_range() found. */
struct poison_check {
	uint64_t blocks;    /* blocks behind the range (holes have nothing to lose) */
	uint64_t known;	    /* of them, quarantined before they were read */
	uint64_t confirmed; /* faulted when the daemon read them: quarantined now */
	uint64_t clean;	    /* read without error: the report is not believed for them */
};

/*
 * poison_check_file_range - a client says bytes [@off, @off + @len) of file @ino lost data
 * (DESIGN §5 source 3). That is evidence, not a command (DESIGN §7): the media errors the
 * kernel told the daemon of are handled first (poison_drain: BUS_MCEERR_AO, which daxfsd
 * asks for with PR_MCE_KILL_EARLY); then every block behind the range, as the file maps it
 * now, that is not quarantined yet is read with a SIGBUS-safe copy. Only what faults is
 * quarantined (poison_handle, source client); what reads cleanly is left as it is.
 * Context: as poison_drain. Locking: RCU per page; then what poison_handle takes.
 * Return: 0 and *@res; -ENOENT (no such file); -EINVAL (empty or wrapping range); -EIO (the
 *         region failed); a negative errno from poison_handle.
 */
int poison_check_file_range(struct ns *ns, uint64_t ino, uint64_t off, uint64_t len,
			    struct poison_check *res);

/* Why poison_clear() refused, when a block of the range says so. */
struct poison_clear_info {
	uint64_t block; /* the block that was not quarantined, is held, or faulted */
	bool owned;	/* -EBUSY: a file page still sits on it: */
	uint64_t ino;	/*   that file */
	uint64_t index; /*   that page */
};

/*
 * poison_clear - return the quarantined blocks [@block, @block + @count) to use (daxfs
 * badblocks clear). Every block must be quarantined and held by nobody: a poisoned file page
 * that still sits on one (rewrite the page or remove the file first), a free waiting for
 * its grace period (waited for), a dropped client's hold. Then the media errors are cleared
 * (region_badblock_clear: the device's, or the simulated ones; a failure there is logged),
 * the blocks are zeroed and read back SIGBUS-safely: a range that still faults is refused.
 * Last, with every transaction held off, the blocks leave the quarantine in memory and a
 * checkpoint writes a log without their BADBLOCK records (ns_checkpoint_after): no new
 * record type, and a crash before the checkpoint's superblock leaves them quarantined.
 * Context: as poison_drain. Locking: one clear at a time (its own lock, which nothing else
 *          takes); the tx lock exclusively around the change.
 * Return: 0; -EINVAL (outside the data area: metadata cannot be returned to use); -ENOENT
 *         (a block is not quarantined), -EBUSY (held), -EIO (still faults): *@info says
 *         which block and, for a page, which file; -EROFS; -ENOSPC (the log is full).
 */
int poison_clear(struct ns *ns, uint64_t block, uint64_t count, struct poison_clear_info *info);

/*
 * poison_region_failed - the region failed (region_failed(): its file was truncated, or a
 * fault hit metadata): nothing more is written to it, also not at unmount.
 * Context: any thread. Locking: takes the log lock.
 */
void poison_region_failed(struct ns *ns);

/* ns_set_hook - test hooks (namespace.h) at named points of the protocol. */
void ns_set_hook(struct ns *ns, ns_hook_fn fn, void *ctx);

#endif
