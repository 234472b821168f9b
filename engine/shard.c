// SPDX-License-Identifier: MIT
#include "shard.h"

static unsigned next_slot;		     /* atomic: slots handed out, round robin */
static _Thread_local unsigned my_slot = ~0U; /* this thread's slot, once it has one */

unsigned shard_of_thread(void)
{
	if (my_slot == ~0U)
		my_slot = __atomic_fetch_add(&next_slot, 1, __ATOMIC_RELAXED) % SHARD_SLOTS;
	return my_slot;
}
