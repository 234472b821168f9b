/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_ENGINE_LEASE_H
#define DAXFS_ENGINE_LEASE_H

/*
 * lease - grants (who may be touching which pages of a file through a mapping) and the
 * invalidation protocol of DESIGN §6. The server (or a test) registers grant holders with a
 * table of callbacks; the engine calls them for POISON and INVALIDATE and waits for acks.
 *
 * Locking: grants live on their inode, under the namespace's grant lock (a leaf lock: no
 * other lock is taken under it, callbacks are called with it held and must not call back
 * into the engine except ns_grant_ack()).
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct ns;
struct ns_ctx;
struct ns_inode;
struct ns_grant;

#define NS_GRANT_READ 0x1
#define NS_GRANT_WRITE 0x2

struct ns_grant_ops {
	/*
	 * poison - pages [@index, @index + @count) of the file lost data. Called with the
	 * entry lock held (DESIGN §5): push an event, do not wait for anything.
	 */
	void (*poison)(void *holder, struct ns_grant *g, uint64_t ino, uint64_t index,
		       uint64_t count);
	/*
	 * invalidate - stop touching pages [@index, @index + @count); call ns_grant_ack(@g,
	 * @gen) once the range is unmapped (now, or later from any thread).
	 */
	void (*invalidate)(void *holder, struct ns_grant *g, uint64_t ino, uint64_t index,
			   uint64_t count, uint64_t gen);
	/*
	 * expired - the holder did not ack within the lease-break timeout: drop its session.
	 * Blocks it may still touch stay out of use until ns_grant_delete(@g).
	 */
	void (*expired)(void *holder, struct ns_grant *g);
	/*
	 * pid - the holder's process (optional; 0: unknown). With it, blocks held for an
	 * expired holder stay held across a restart until that process has exited.
	 */
	pid_t (*pid)(void *holder);
};

/*
 * ns_grant_new - record that @holder maps pages [@index, @index + @count) of @ino (no
 * permission check: ns_map() is what clients call).
 * Context: thread registered with RCU. Locking: takes the inode lock (so no lease break is
 *          in progress on the file: it parks @c until one ends) and the grant lock.
 * Return: 0 and *@out; -ENOENT; -EISDIR; -EINVAL (count 0, bad mode); -ENOMEM; NS_WAIT.
 */
int ns_grant_new(struct ns *ns, struct ns_ctx *c, uint64_t ino, uint64_t index, uint64_t count,
		 unsigned mode, const struct ns_grant_ops *ops, void *holder,
		 struct ns_grant **out);

/* ns_grant_generation - the inode's lease generation when the grant was made. */
uint64_t ns_grant_generation(const struct ns_grant *g);

/* ns_grant_range - the file and pages the grant covers (fixed when it was made). */
void ns_grant_range(const struct ns_grant *g, uint64_t *ino, uint64_t *index, uint64_t *count);

/*
 * ns_grant_ack - the holder let go of the range of invalidation @gen.
 * Context: any thread. Locking: takes the grant lock.
 */
void ns_grant_ack(struct ns *ns, struct ns_grant *g, uint64_t gen);

/*
 * ns_grant_delete - the holder is gone (unmapped, or its process exited): forget the grant
 * and release the blocks held for it after an expired lease break. Accepts NULL.
 * Context: thread registered with RCU, not in a read section. Locking: takes the grant lock.
 */
void ns_grant_delete(struct ns *ns, struct ns_grant **gp);

/*
 * ns_grant_abandon - forget the grant of a holder that may still run, as the daemon stops:
 * blocks held for it stay recorded (HOLD), and the next mount holds them again until its
 * process has exited (ns_holds_check). Accepts NULL.
 * Context: as ns_grant_delete.
 */
void ns_grant_abandon(struct ns *ns, struct ns_grant **gp);

/*
 * The lease-break timeout of a namespace until ns_set_lease_timeout() says otherwise; the
 * daemon's lease_break_timeout defaults to it (daemon/config.c).
 */
#define NS_LEASE_TIMEOUT_MS_DEFAULT 5000

/* ns_set_lease_timeout - how long an invalidation waits for acks, in milliseconds. */
void ns_set_lease_timeout(struct ns *ns, uint64_t ms);

#endif
