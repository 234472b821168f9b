// SPDX-License-Identifier: MIT
#include "hist.h"

const uint64_t hist_bound_ns[HIST_BOUNDS] = {
	1000,	   2500,      5000,	  10000,      25000,	  50000,       100000,	 250000,
	500000,	   1000000,   2500000,	  5000000,    10000000,	  25000000,    50000000, 100000000,
	250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};

/* The same bounds in seconds, as Prometheus clients print them. */
const char *const hist_bound_le[HIST_BOUNDS] = {
	"1e-06",  "2.5e-06", "5e-06",  "1e-05", "2.5e-05", "5e-05", "0.0001", "0.00025",
	"0.0005", "0.001",   "0.0025", "0.005", "0.01",	   "0.025", "0.05",   "0.1",
	"0.25",	  "0.5",     "1.0",    "2.5",	"5.0",	   "10.0",
};

void hist_observe(struct hist *h, uint64_t ns)
{
	unsigned i = 0;

	while (i < HIST_BOUNDS && ns > hist_bound_ns[i])
		i++;
	__atomic_add_fetch(&h->bucket[i], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&h->sum_ns, ns, __ATOMIC_RELAXED);
}

void hist_read(const struct hist *h, uint64_t cum[HIST_BOUNDS + 1], uint64_t *sum_ns)
{
	uint64_t total = 0;

	for (unsigned i = 0; i <= HIST_BOUNDS; i++) {
		total += __atomic_load_n(&h->bucket[i], __ATOMIC_RELAXED);
		cum[i] = total;
	}
	*sum_ns = __atomic_load_n(&h->sum_ns, __ATOMIC_RELAXED);
}
