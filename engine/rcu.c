// SPDX-License-Identifier: MIT
#include "rcu.h"

#ifdef DAXFS_TSAN
/* The one token that tells TSan a grace period orders finished readers before reclaim. */
char rcu_tsan_token;
/* Orders the end of callbacks before rcu_barrier_all() returns. */
char rcu_tsan_barrier;
#endif
